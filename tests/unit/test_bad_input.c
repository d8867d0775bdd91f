/* Bad input through a whole session: every malformed or misdirected message
 * gets the error JSON-RPC and MCP specify (code and id), and the session
 * answers the next valid request as if nothing happened. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_sink.h"

#include <stdio.h>

typedef struct bad_case {
    const char *name;
    const char *text;      /* NULL: built by the test (oversized, deep) */
    int code;              /* expected error code; 0 = a tool result with isError */
    const char *id;        /* expected id, as JSON text */
} bad_case;

static const bad_case CASES[] = {
    {"truncated object", "{", MCP_RPC_PARSE_ERROR, "null"},
    {"unterminated request", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", MCP_RPC_PARSE_ERROR, "null"},
    {"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\"}", MCP_RPC_PARSE_ERROR, "null"},
    {"overlong UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}", MCP_RPC_PARSE_ERROR, "null"},
    {"empty text", "", MCP_RPC_PARSE_ERROR, "null"},
    {"trailing garbage", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", MCP_RPC_PARSE_ERROR, "null"},
    {"missing jsonrpc", "{\"id\":2,\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "2"},
    {"wrong jsonrpc version", "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "3"},
    {"method not a string", "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":4}", MCP_RPC_INVALID_REQUEST, "4"},
    {"no method", "{\"jsonrpc\":\"2.0\",\"id\":\"m\"}", MCP_RPC_INVALID_REQUEST, "\"m\""},
    {"id null", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "null"},
    {"id float", "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "null"},
    {"id object", "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "null"},
    {"id bool", "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "null"},
    {"id array", "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", MCP_RPC_INVALID_REQUEST, "null"},
    {"top-level number", "42", MCP_RPC_INVALID_REQUEST, "null"},
    {"top-level null", "null", MCP_RPC_INVALID_REQUEST, "null"},
    {"empty batch", "[]", MCP_RPC_INVALID_REQUEST, "null"},
    {"batch outside 2025-03-26", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", MCP_RPC_INVALID_REQUEST, "null"},
    {"unknown method", "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/destroy\"}", MCP_RPC_METHOD_NOT_FOUND, "5"},
    {"unknown method, string id", "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"x\"}", MCP_RPC_METHOD_NOT_FOUND, "\"abc\""},
    {"params scalar", "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":3}", MCP_RPC_INVALID_REQUEST, "6"},
    {"params array", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":[1]}", MCP_RPC_INVALID_PARAMS, "7"},
    {"_meta not an object", "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":{\"_meta\":1}}",
     MCP_RPC_INVALID_PARAMS, "8"},
    {"tool name not a string", "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":1}}",
     MCP_RPC_INVALID_PARAMS, "9"},
    {"tool arguments an array",
     "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":[1,2]}}",
     MCP_RPC_INVALID_PARAMS, "10"},
    {"tool argument of the wrong type",
     "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":\"1\",\"b\":2}}}",
     0, "11"},
    {"unknown tool", "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}",
     MCP_RPC_INVALID_PARAMS, "12"},
    {"resource uri missing", "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"resources/read\",\"params\":{}}",
     MCP_RPC_INVALID_PARAMS, "13"},
    {"cursor garbage", "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/list\",\"params\":{\"cursor\":\"!!\"}}",
     MCP_RPC_INVALID_PARAMS, "14"},
    {"unsupported modern version",
     "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"tools/list\",\"params\":{\"_meta\":"
     "{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\"}}}",
     MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION, "15"},
    {"initialize twice",
     "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
     "\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
     MCP_RPC_INVALID_REQUEST, "16"},
    {"oversized message", NULL, MCP_RPC_INVALID_REQUEST, "null"},
    {"deeply nested params", NULL, MCP_RPC_INVALID_REQUEST, "null"},
};

#define MAX_SIZE 4096

static int add(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return mcp_call_text(call, "%lld", (long long)(mcp_json_int(mcp_json_get(args, "a"), 0) +
                                                   mcp_json_int(mcp_json_get(args, "b"), 0)));
}

typedef struct fixture {
    mcp_server *server;
    mcp_session *session;
    capture cap;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->server = mcp_server_new(&(mcp_server_opts){.name = "bad", .version = "1", .max_message_size = MAX_SIZE,
                                                  .max_json_depth = 32});
    mcp_server_add_tool(f->server, &(mcp_tool){
        .name = "add", .fn = add,
        .input_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}},"
                        "\"required\":[\"a\",\"b\"]}"});
    capture_init(&f->cap);
    mcp_sink sink = capture_sink(&f->cap);
    f->session = mcp_session_new(f->server, &sink);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mcp_session_free(f->session);
    mcp_server_free(f->server);
    capture_free(&f->cap);
    free(f);
    return 0;
}

static void expect_ping_works(fixture *f, int n)
{
    char text[96];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":\"after-%d\",\"method\":\"ping\"}", n);
    capture_clear(&f->cap);
    assert_int_equal(session_send(f->session, text), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_non_null(mcp_json_get(doc, "result"));
}

static char *build_text(const bad_case *c)
{
    mcp_buf b;
    mcp_buf_init(&b);
    if (strcmp(c->name, "oversized message") == 0) {
        mcp_buf_append_cstr(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"");
        for (int i = 0; i < MAX_SIZE; i++)
            mcp_buf_append_char(&b, 'x');
        mcp_buf_append_cstr(&b, "\"}}");
    } else {
        mcp_buf_append_cstr(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"deep\":");
        for (int i = 0; i < 200; i++)
            mcp_buf_append_char(&b, '[');
        for (int i = 0; i < 200; i++)
            mcp_buf_append_char(&b, ']');
        mcp_buf_append_cstr(&b, "}}");
    }
    return mcp_buf_detach(&b);
}

static void test_table(void **state)
{
    fixture *f = *state;
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                             "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    assert_non_null(mcp_json_get(capture_json(&f->cap, 0), "result"));

    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const bad_case *c = &CASES[i];
        char *built = c->text ? NULL : build_text(c);
        const char *text = c->text ? c->text : built;
        capture_clear(&f->cap);
        assert_int_equal(mcp_session_handle(f->session, text, strlen(text)), 0);
        free(built);
        if (capture_count(&f->cap) != 1)
            fail_msg("%s: %zu replies", c->name, capture_count(&f->cap));
        mcp_json *doc = capture_json(&f->cap, 0);
        if (!doc)
            fail_msg("%s: reply is not JSON: %s", c->name, f->cap.messages[0]);
        const mcp_json *id = mcp_json_get(doc, "id");
        mcp_str raw = mcp_json_raw(id);
        if (!id || raw.len != strlen(c->id) || memcmp(raw.ptr, c->id, raw.len) != 0)
            fail_msg("%s: id %.*s, expected %s", c->name, (int)raw.len, raw.ptr, c->id);
        if (c->code == 0) {
            const mcp_json *result = mcp_json_get(doc, "result");
            if (!mcp_json_bool(mcp_json_get(result, "isError"), false))
                fail_msg("%s: expected an isError result: %s", c->name, f->cap.messages[0]);
        } else {
            const mcp_json *error = mcp_json_get(doc, "error");
            int64_t code = mcp_json_int(mcp_json_get(error, "code"), 0);
            if (code != c->code)
                fail_msg("%s: code %lld, expected %d: %s", c->name, (long long)code, c->code, f->cap.messages[0]);
            if (!mcp_json_is_string(mcp_json_get(error, "message")))
                fail_msg("%s: error without a message", c->name);
        }
        expect_ping_works(f, (int)i);
    }
}

static void test_request_before_initialize(void **state)
{
    fixture *f = *state;
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}");
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(doc, "error"), "code"), 0), MCP_RPC_INVALID_REQUEST);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 9);
    expect_ping_works(f, -1);
    /* notifications are never answered, even unknown or malformed ones */
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":null}}");
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"method\":\"whatever\"}");
    assert_int_equal(capture_count(&f->cap), 0);
    /* and initialize still works afterwards */
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                             "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    assert_non_null(mcp_json_get(capture_json(&f->cap, 0), "result"));
}

static void test_initialize_with_bad_params(void **state)
{
    fixture *f = *state;
    static const char *texts[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":5,\"capabilities\":{},"
        "\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        capture_clear(&f->cap);
        session_send(f->session, texts[i]);
        mcp_json *doc = capture_json(&f->cap, 0);
        assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(doc, "error"), "code"), 0), MCP_RPC_INVALID_PARAMS);
        assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 1);
    }
    assert_null(mcp_session_protocol_version(f->session));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_before_initialize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initialize_with_bad_params, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
