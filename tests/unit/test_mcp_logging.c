/* Log messages to the client: logging/setLevel per session (handshake era),
 * _meta io.modelcontextprotocol/logLevel per request (modern era), from a
 * handler (mcp_call_log) and server-wide (mcp_server_log). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

/* Logs one message per level, debug to emergency, then answers. */
static int chatty(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    for (int level = MCP_LOG_DEBUG; level <= MCP_LOG_EMERGENCY; level++)
        mcp_call_log(call, (mcp_log_level)level, "chatty", "level %d", level);
    mcp_call_log_json(call, MCP_LOG_ERROR, NULL, "{\"code\":7}");
    assert_int_equal(mcp_call_log_json(call, MCP_LOG_ERROR, NULL, "{oops"), MCP_EINVAL);
    assert_int_equal(mcp_call_log(call, (mcp_log_level)99, NULL, "x"), MCP_EINVAL);
    return mcp_call_text(call, "done");
}

static fixture *with_chatty(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "chatty", .fn = chatty}), 0);
    return f;
}

static size_t count_method(fixture *f, const char *method)
{
    size_t n = 0;
    for (size_t i = 0; i < capture_count(&f->cap); i++)
        n += strcmp(method_of(capture_json(&f->cap, i)), method) == 0;
    return n;
}

static void test_handshake_levels(void **state)
{
    (void)state;
    fixture *f = with_chatty();
    handshake(f, "2025-11-25", "{}");
    /* No level set yet: everything. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\"}}");
    assert_int_equal(count_method(f, "notifications/message"), 9);
    mcp_json *first = capture_json(&f->cap, 0);
    assert_string_equal(str_at(mcp_json_get(first, "params"), "level"), "debug");
    assert_string_equal(str_at(mcp_json_get(first, "params"), "logger"), "chatty");
    assert_string_equal(str_at(mcp_json_get(first, "params"), "data"), "level 0");
    mcp_json *json_data = capture_json(&f->cap, 8);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(mcp_json_get(json_data, "params"), "data"), "code"), 0), 7);
    assert_null(mcp_json_get(mcp_json_get(json_data, "params"), "logger"));

    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"error\"}}"));
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\"}}");
    /* error, critical, alert, emergency, and the JSON one at error. */
    assert_int_equal(count_method(f, "notifications/message"), 5);

    assert_int_equal(mcp_server_log(f->server, MCP_LOG_WARNING, "srv", "too low"), 0);
    assert_int_equal(mcp_server_log(f->server, MCP_LOG_CRITICAL, "srv", "disk %d%% full", 99), 1);
    mcp_json *last = capture_json(&f->cap, capture_count(&f->cap) - 1);
    assert_string_equal(str_at(mcp_json_get(last, "params"), "data"), "disk 99% full");

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"loud\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"logging/setLevel\",\"params\":{}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    fixture_free(f);
}

static void test_server_log_skips_sessions_not_initialized(void **state)
{
    (void)state;
    fixture *f = with_chatty();
    assert_int_equal(mcp_server_log(f->server, MCP_LOG_EMERGENCY, NULL, "nobody hears"), 0);
    assert_int_equal(capture_count(&f->cap), 0);
    assert_int_equal(mcp_server_log(f->server, (mcp_log_level)42, NULL, "x"), MCP_EINVAL);
    fixture_free(f);
}

static void test_modern_level_from_meta(void **state)
{
    (void)state;
    fixture *f = with_chatty();
    /* Without a level: no log messages at all. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\"," MODERN_META "}}");
    assert_int_equal(capture_count(&f->cap), 1);
    result_of(capture_json(&f->cap, 0));

    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\","
                 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                 "\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/logLevel\":\"alert\"}}}");
    assert_int_equal(count_method(f, "notifications/message"), 2);
    assert_int_equal(capture_count(&f->cap), 3);

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\","
                                 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                                 "\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/logLevel\":7}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    /* logging/setLevel does not exist in the modern era. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"," MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_levels),
        cmocka_unit_test(test_server_log_skips_sessions_not_initialized),
        cmocka_unit_test(test_modern_level_from_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
