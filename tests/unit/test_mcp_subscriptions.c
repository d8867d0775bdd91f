/* Handshake-era notifications: list_changed on every registry change (only
 * to initialized sessions), resources/subscribe and unsubscribe with
 * notifications/resources/updated, and the capabilities that announce them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

static int echo(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_text(call, "ok");
}

static int read_it(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "x", 1);
}

static void test_capabilities_declare_notifications(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                                 "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    const mcp_json *caps = mcp_json_get(result_of(doc), "capabilities");
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(caps, "tools"), "listChanged"), false));
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(caps, "prompts"), "listChanged"), false));
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(caps, "resources"), "listChanged"), false));
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(caps, "resources"), "subscribe"), false));
    assert_true(mcp_json_is_object(mcp_json_get(caps, "logging")));
    assert_true(mcp_json_is_object(mcp_json_get(caps, "completions")));
    fixture_free(f);

    /* completions did not exist in 2024-11-05. */
    f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"2024-11-05\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    caps = mcp_json_get(result_of(doc), "capabilities");
    assert_null(mcp_json_get(caps, "completions"));
    fixture_free(f);
}

static void test_list_changed_reaches_initialized_sessions_only(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    /* A second session on the same server that never initializes. */
    capture other;
    capture_init(&other);
    mcp_sink sink = capture_sink(&other);
    mcp_session *idle = mcp_session_new(f->server, &sink);

    /* Before notifications/initialized: nothing. */
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                           "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}"));
    capture_clear(&f->cap);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "a", .fn = echo}), 0);
    assert_int_equal(capture_count(&f->cap), 0);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "b", .fn = echo}), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    assert_string_equal(method_of(capture_json(&f->cap, 0)), "notifications/tools/list_changed");
    assert_int_equal(mcp_server_remove_tool(f->server, "a"), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://1", .name = "one", .fn = read_it}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "x://t/{id}", .name = "t", .fn = read_it}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p"}), 0);
    assert_int_equal(capture_count(&f->cap), 5);
    assert_string_equal(method_of(capture_json(&f->cap, 1)), "notifications/tools/list_changed");
    assert_string_equal(method_of(capture_json(&f->cap, 2)), "notifications/resources/list_changed");
    assert_string_equal(method_of(capture_json(&f->cap, 3)), "notifications/resources/list_changed");
    assert_string_equal(method_of(capture_json(&f->cap, 4)), "notifications/prompts/list_changed");
    assert_int_equal(mcp_server_remove_resource_template(f->server, "x://t/{id}"), 0);
    assert_int_equal(mcp_server_remove_resource_template(f->server, "x://t/{id}"), MCP_ENOTFOUND);
    assert_int_equal(capture_count(&f->cap), 6);
    assert_string_equal(method_of(capture_json(&f->cap, 5)), "notifications/resources/list_changed");
    capture_clear(&f->cap);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "x://t/{id}", .name = "t", .fn = read_it}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p2"}), 0);
    assert_int_equal(capture_count(&f->cap), 2);
    capture_clear(&f->cap);
    assert_int_equal(mcp_server_remove_prompt(f->server, "p2"), 0);
    assert_string_equal(method_of(capture_json(&f->cap, 0)), "notifications/prompts/list_changed");
    capture_clear(&f->cap);
    /* A failed change changes nothing and says nothing. */
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "b", .fn = echo}), MCP_EEXIST);
    assert_int_equal(mcp_server_remove_prompt(f->server, "nope"), MCP_ENOTFOUND);
    assert_int_equal(capture_count(&f->cap), 0);
    assert_int_equal(capture_count(&other), 0);

    mcp_session_free(idle);
    capture_free(&other);
    fixture_free(f);
}

static void test_subscribe_and_updated(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    handshake(f, "2025-11-25", "{}");
    capture other;
    capture_init(&other);
    mcp_sink sink = capture_sink(&other);
    mcp_session *second = mcp_session_new(f->server, &sink);
    session_send(second, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                         "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    session_send(second, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///a\"}}");
    assert_int_equal(capture_count(&other), 2);
    result_of(capture_json(&other, 1));

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///a\"}}");
    result_of(doc);
    /* Subscribing twice is one subscription. */
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///a\"}}"));
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///dir\"}}"));
    capture_clear(&f->cap);
    capture_clear(&other);

    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///a"), 2);
    assert_int_equal(capture_count(&f->cap), 1);
    doc = capture_json(&f->cap, 0);
    assert_string_equal(method_of(doc), "notifications/resources/updated");
    assert_string_equal(str_at(mcp_json_get(doc, "params"), "uri"), "file:///a");
    assert_int_equal(capture_count(&other), 1);

    /* A sub-resource of a subscription, and a mere prefix that is not one. */
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///dir/x.txt"), 1);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///directory"), 0);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///b"), 0);
    assert_int_equal(capture_count(&f->cap), 2);
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, 1), "params"), "uri"), "file:///dir/x.txt");

    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"file:///a\"}}"));
    capture_clear(&f->cap);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///a"), 1);
    assert_int_equal(capture_count(&f->cap), 0);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, ""), MCP_EINVAL);

    /* Bad params; and unknown in the modern era (replaced by listen). */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/subscribe\",\"params\":{\"uri\":5}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/subscribe\"}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"a\"," MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);

    mcp_session_free(second);
    capture_free(&other);
    /* A freed session is no longer told anything. */
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///dir/y"), 1);
    fixture_free(f);
}

static void test_subscription_limit(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .max_subscriptions = 2});
    handshake(f, "2025-11-25", "{}");
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x://1\"}}"));
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x://2\"}}"));
    /* Again the same: not a new one. */
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x://2\"}}"));
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x://3\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"x://1\"}}"));
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"x://3\"}}"));
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscription_limit),
        cmocka_unit_test(test_capabilities_declare_notifications),
        cmocka_unit_test(test_list_changed_reaches_initialized_sessions_only),
        cmocka_unit_test(test_subscribe_and_updated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
