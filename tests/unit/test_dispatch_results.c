/* The exact bytes of tools/call responses in both eras: the plain text
 * result (assembled in one append, call.c) and the results that take the
 * general path (structured content, tool errors, handler _meta, no
 * content), the error responses dispatch gives for bad calls, and the
 * answer of a request whose handler completes on another thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#include <pthread.h>

static int tool_text(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return mcp_call_text_value(call, mcp_json_get(args, "text"));
}

static int tool_two(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    int rc = mcp_call_text(call, "a\"b");
    return rc ? rc : mcp_call_text(call, "second");
}

static int tool_none(mcp_call *call, const mcp_json *args, void *user)
{
    (void)call, (void)args, (void)user;
    return 0;
}

static int tool_error(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_tool_error(call, "no %s", "luck");
}

static int tool_meta(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    int rc = mcp_call_text(call, "m");
    return rc ? rc : mcp_call_result_meta(call, "{\"k\":1}");
}

static void *finish_later(void *arg)
{
    mcp_call *call = arg;
    mcp_call_text(call, "later");
    mcp_call_finish(call);
    return NULL;
}

static int tool_async(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    pthread_t *thread = user;
    if (pthread_create(thread, NULL, finish_later, call) != 0)
        return MCP_ENOMEM;
    return MCP_PENDING;
}

static pthread_t async_thread;

static fixture *results_fixture(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "srv", .version = "9.1"});
    static const char TEXT_SCHEMA[] =
        "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}";
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "text", .input_schema = TEXT_SCHEMA,
                                                                .fn = tool_text}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "two", .fn = tool_two}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "none", .fn = tool_none}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "error", .fn = tool_error}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "meta", .fn = tool_meta}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "async", .fn = tool_async,
                                                                .user = &async_thread}), 0);
    return f;
}

/* Sends text and expects exactly one message, equal to expected. */
static void expect_bytes(fixture *f, const char *text, const char *expected)
{
    capture_clear(&f->cap);
    send_text(f, text);
    if (capture_count(&f->cap) != 1)
        fail_msg("expected one message for %s, got %zu", text, capture_count(&f->cap));
    assert_string_equal(f->cap.messages[0], expected);
}

#define CALL(id, name, args) \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" name "\",\"arguments\":" args

static void test_handshake_era_results(void **state)
{
    (void)state;
    fixture *f = results_fixture();
    handshake(f, "2025-06-18", "{}");
    expect_bytes(f, CALL("1", "text", "{\"text\":\"h\\u00e9\"}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"h\\u00e9\"}]}}");
    expect_bytes(f, CALL("\"s-2\"", "two", "{}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":\"s-2\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"a\\\"b\"},"
                 "{\"type\":\"text\",\"text\":\"second\"}]}}");
    expect_bytes(f, CALL("3", "none", "{}") "}}", "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[]}}");
    expect_bytes(f, CALL("4", "error", "{}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"no luck\"}],"
                 "\"isError\":true}}");
    expect_bytes(f, CALL("5", "meta", "{}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"m\"}],"
                 "\"_meta\":{\"k\":1}}}");
    /* Bad calls: the error responses, id echoed as sent. */
    expect_bytes(f, CALL("6", "missing", "{}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: missing\"}}");
    expect_bytes(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":5}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32602,\"message\":\"Invalid params: name must be a "
                 "string\"}}");
    expect_bytes(f, CALL("8", "text", "[]") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32602,\"message\":\"Invalid params: arguments must "
                 "be an object\"}}");
    expect_bytes(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/cal\"}",
                 "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32601,\"message\":\"Method not found: tools/cal\"}}");
    expect_bytes(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/calls\"}",
                 "{\"jsonrpc\":\"2.0\",\"id\":10,\"error\":{\"code\":-32601,\"message\":\"Method not found: "
                 "tools/calls\"}}");
    /* An escaped tool name is the same name. */
    expect_bytes(f, CALL("11", "t\\u0065xt", "{\"text\":\"x\"}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":11,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}");
    /* A repeated member counts as its last occurrence, as mcp_json_get
     * reads it, also for the name and arguments that dispatch finds. */
    expect_bytes(f, CALL("12", "missing", "[]") ",\"name\":\"text\",\"arguments\":{\"text\":\"last\"}}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"last\"}]}}");
    expect_bytes(f, CALL("13", "text", "{\"text\":\"first\"}") ",\"name\":\"missing\",\"arguments\":[]}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":13,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: missing\"}}");
    fixture_free(f);
}

static void test_modern_era_results(void **state)
{
    (void)state;
    fixture *f = results_fixture();
    static const char INFO[] = "\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"srv\",\"version\":\"9.1\"}}";
    char expected[512];
    snprintf(expected, sizeof expected,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\","
             "\"text\":\"hi\"}],%s}}",
             INFO);
    expect_bytes(f, CALL("1", "text", "{\"text\":\"hi\"}") "," MODERN_META "}}", expected);
    snprintf(expected, sizeof expected,
             "{\"jsonrpc\":\"2.0\",\"id\":-2,\"result\":{\"resultType\":\"complete\",\"content\":[],%s}}", INFO);
    expect_bytes(f, CALL("-2", "none", "{}") "," MODERN_META "}}", expected);
    snprintf(expected, sizeof expected,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\","
             "\"text\":\"no luck\"}],\"isError\":true,%s}}",
             INFO);
    expect_bytes(f, CALL("3", "error", "{}") "," MODERN_META "}}", expected);
    /* The handler's _meta, with the server's identity added. */
    expect_bytes(f, CALL("4", "meta", "{}") "," MODERN_META "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"m\"}],\"_meta\":{\"k\":1,\"io.modelcontextprotocol/serverInfo\":{\"name\":\"srv\","
                 "\"version\":\"9.1\"}}}}");
    fixture_free(f);
}

/* A handler that finishes on another thread is answered once, with its
 * content, and the call is then reused for the next request. */
static void test_async_result(void **state)
{
    (void)state;
    fixture *f = results_fixture();
    handshake(f, "2025-06-18", "{}");
    capture_clear(&f->cap);
    send_text(f, CALL("1", "async", "{}") "}}");
    pthread_join(async_thread, NULL);
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    assert_string_equal(f->cap.messages[0],
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"later\"}]}}");
    assert_int_equal(mcp_session_pending(f->session), 0);
    expect_bytes(f, CALL("2", "text", "{\"text\":\"next\"}") "}}",
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"next\"}]}}");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_era_results),
        cmocka_unit_test(test_modern_era_results),
        cmocka_unit_test(test_async_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
