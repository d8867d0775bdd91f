/* subscriptions/listen (modern era): the acknowledgement, the notifications
 * the filter asked for (and no others) carrying the subscription id, the
 * end by cancellation (no response) and by the server (an empty result). */
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

static void test_listen_flow(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    mcp_json *ack = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":\"listen-1\",\"method\":\"subscriptions/listen\",\"params\":{"
                                 "\"notifications\":{\"toolsListChanged\":true,\"resourceSubscriptions\":[\"file:///p/a.json\"]},"
                                 MODERN_META "}}");
    assert_string_equal(method_of(ack), "notifications/subscriptions/acknowledged");
    const mcp_json *params = mcp_json_get(ack, "params");
    assert_string_equal(str_at(mcp_json_get(params, "_meta"), "io.modelcontextprotocol/subscriptionId"), "listen-1");
    const mcp_json *agreed = mcp_json_get(params, "notifications");
    assert_true(mcp_json_bool(mcp_json_get(agreed, "toolsListChanged"), false));
    assert_null(mcp_json_get(agreed, "promptsListChanged"));
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(agreed, "resourceSubscriptions"), 0), ""), "file:///p/a.json");

    /* A second listen with an integer id and only prompts. */
    mcp_json *ack2 = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"subscriptions/listen\",\"params\":{"
                                  "\"notifications\":{\"promptsListChanged\":true}," MODERN_META "}}");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(mcp_json_get(ack2, "params"), "_meta"),
                                               "io.modelcontextprotocol/subscriptionId"), -1), 7);

    capture_clear(&f->cap);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "a", .fn = echo}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p"}), 0);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///p/a.json"), 1);
    assert_int_equal(mcp_server_notify_resource_updated(f->server, "file:///p/b.json"), 0);
    assert_int_equal(capture_count(&f->cap), 3);
    mcp_json *n = capture_json(&f->cap, 0);
    assert_string_equal(method_of(n), "notifications/tools/list_changed");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(n, "params"), "_meta"), "io.modelcontextprotocol/subscriptionId"),
                        "listen-1");
    n = capture_json(&f->cap, 1);
    assert_string_equal(method_of(n), "notifications/prompts/list_changed");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(mcp_json_get(n, "params"), "_meta"),
                                               "io.modelcontextprotocol/subscriptionId"), -1), 7);
    n = capture_json(&f->cap, 2);
    assert_string_equal(method_of(n), "notifications/resources/updated");
    assert_string_equal(str_at(mcp_json_get(n, "params"), "uri"), "file:///p/a.json");

    /* Cancelled: gone, and no response. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"listen-1\"}}");
    assert_int_equal(capture_count(&f->cap), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "b", .fn = echo}), 0);
    assert_int_equal(capture_count(&f->cap), 0);

    /* The server ends the other: a complete result naming it. */
    assert_int_equal(mcp_session_end_listens(f->session), 1);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *end = capture_json(&f->cap, 0);
    assert_int_equal(mcp_json_int(mcp_json_get(end, "id"), -1), 7);
    const mcp_json *r = result_of(end);
    assert_string_equal(str_at(r, "resultType"), "complete");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "_meta"), "io.modelcontextprotocol/subscriptionId"), -1), 7);
    assert_int_equal(mcp_session_end_listens(f->session), 0);
    fixture_free(f);
}

static void test_listen_bad_params(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    static const char *const bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscriptions/listen\",\"params\":{" MODERN_META "}}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":[]," MODERN_META "}}",
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"toolsListChanged\":1}," MODERN_META "}}",
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"resourceSubscriptions\":\"x\"}," MODERN_META "}}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"resourceSubscriptions\":[\"a\",2]}," MODERN_META "}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcp_json *doc = roundtrip(f, bad[i]);
        assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    }
    /* Not a handshake-era method. */
    handshake(f, "2025-11-25", "{}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{}}}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);
    /* Nothing was registered by the failures; an open listen is freed with the session. */
    roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                 "{\"resourceSubscriptions\":[\"x://1\"]}," MODERN_META "}}");
    fixture_free(f);
}

static void test_listen_limit(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .max_subscriptions = 3});
    /* One listen with two URIs holds three. */
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                                 "{\"resourceSubscriptions\":[\"a://1\",\"a://2\"]}," MODERN_META "}}");
    assert_string_equal(method_of(doc), "notifications/subscriptions/acknowledged");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                       "{\"toolsListChanged\":true}," MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                       "{\"toolsListChanged\":true}," MODERN_META "}}");
    assert_string_equal(method_of(doc), "notifications/subscriptions/acknowledged");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_limit),
        cmocka_unit_test(test_listen_flow),
        cmocka_unit_test(test_listen_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
