/* End-to-end tests of the server core through a session: both protocol
 * eras, every method, pagination, validation, progress, async completion,
 * cancellation and batches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_sink.h"

#include <stdio.h>
#include <unistd.h>

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}," \
             "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}"

typedef struct fixture {
    mcp_server *server;
    mcp_session *session;
    capture cap;
} fixture;

static int greet(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return mcp_call_text(call, "Hello, %s!", mcp_json_str(mcp_json_get(args, "name"), "world"));
}

static int fails(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_tool_error(call, "disk on fire");
}

static int weather(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    if (mcp_json_bool(mcp_json_get(args, "broken"), false))
        return mcp_call_structured(call, "{\"temperature\":\"warm\"}");
    return mcp_call_structured(call, "{\"temperature\":22.5}");
}

static int slow(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    mcp_call_progress(call, 1, 2, "half way");
    return mcp_call_text(call, "done");
}

static void *finish_later(void *arg)
{
    mcp_call *call = arg;
    for (int i = 0; i < 200 && !mcp_call_is_cancelled(call); i++)
        usleep(1000);
    if (mcp_call_is_cancelled(call))
        mcp_call_text(call, "cancelled");
    else
        mcp_call_text(call, "async done");
    mcp_call_finish(call);
    return NULL;
}

static int async_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    pthread_t t;
    if (pthread_create(&t, NULL, finish_later, call) != 0)
        return MCP_EIO;
    pthread_detach(t);
    return MCP_PENDING;
}

static int read_note(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "note body", 9);
}

static int review(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    mcp_call_prompt_description(call, "Code review");
    char text[128];
    snprintf(text, sizeof text, "Review %s", mcp_json_str(mcp_json_get(args, "code"), ""));
    return mcp_call_prompt_message(call, "user", text);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->server = mcp_server_new(&(mcp_server_opts){.name = "test", .version = "1.0", .title = "Test",
                                                  .instructions = "be nice", .page_size = 2});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){
        .name = "greet", .description = "Say hello",
        .input_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}",
        .fn = greet}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "fails", .fn = fails}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){
        .name = "weather", .fn = weather,
        .output_schema = "{\"type\":\"object\",\"properties\":{\"temperature\":{\"type\":\"number\"}},\"required\":[\"temperature\"]}"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "slow", .fn = slow}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "async", .fn = async_tool}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "greet", .fn = greet}), MCP_EEXIST);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "bad", .input_schema = "[", .fn = greet}),
                     MCP_EINVAL);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){
        .uri = "note://a", .name = "a", .mime_type = "text/plain", .fn = read_note}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "file:///{path}", .name = "files", .fn = read_note}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "file:///{+path}", .name = "bad", .fn = read_note}), MCP_EINVAL);
    static const mcp_prompt_argument args[] = {{.name = "code", .required = true}};
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){
        .name = "review", .arguments = args, .argument_count = 1, .fn = review}), 0);
    capture_init(&f->cap);
    mcp_sink sink = capture_sink(&f->cap);
    f->session = mcp_session_new(f->server, &sink);
    assert_non_null(f->session);
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

/* Send one text and return the single reply, parsed. */
static mcp_json *roundtrip(fixture *f, const char *text)
{
    capture_clear(&f->cap);
    assert_int_equal(session_send(f->session, text), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_non_null(doc);
    return doc;
}

static const mcp_json *result_of(mcp_json *doc)
{
    const mcp_json *r = mcp_json_get(doc, "result");
    if (!r)
        fail_msg("expected a result: %s", mcp_json_str(mcp_json_get(mcp_json_get(doc, "error"), "message"), "?"));
    return r;
}

static int64_t error_code(mcp_json *doc)
{
    return mcp_json_int(mcp_json_get(mcp_json_get(doc, "error"), "code"), 0);
}

static void initialize(fixture *f, const char *version)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}", version);
    const mcp_json *r = result_of(roundtrip(f, text));
    assert_string_equal(mcp_json_str(mcp_json_get(r, "protocolVersion"), ""), version);
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(capture_count(&f->cap), 0);
}

static void test_initialize_flow(void **state)
{
    fixture *f = *state;
    assert_null(mcp_session_protocol_version(f->session));
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), -1), 1);
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"));

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"1999-01-01\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    const mcp_json *r = result_of(doc);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "id"), ""), "i");
    assert_string_equal(mcp_json_str(mcp_json_get(r, "protocolVersion"), ""), MCP_PROTOCOL_LATEST_HANDSHAKE);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(r, "serverInfo"), "name"), ""), "test");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(r, "serverInfo"), "title"), ""), "Test");
    assert_string_equal(mcp_json_str(mcp_json_get(r, "instructions"), ""), "be nice");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(r, "capabilities"), "tools")));
    assert_null(mcp_json_get(r, "resultType"));
    assert_string_equal(mcp_session_protocol_version(f->session), MCP_PROTOCOL_LATEST_HANDSHAKE);

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}"));
    assert_int_equal(mcp_json_len(mcp_json_get(r, "tools")), 2);
}

static void test_initialize_echoes_supported_version(void **state)
{
    fixture *f = *state;
    initialize(f, "2024-11-05");
    /* serverInfo.title did not exist in 2024-11-05 */
    assert_string_equal(mcp_session_protocol_version(f->session), "2024-11-05");
}

static void test_discover_flow(void **state)
{
    fixture *f = *state;
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"server/discover\",\"params\":{" META "}}");
    const mcp_json *r = result_of(doc);
    assert_string_equal(mcp_json_str(mcp_json_get(r, "resultType"), ""), "complete");
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(r, "supportedVersions"), 0), ""), MCP_PROTOCOL_MODERN);
    assert_true(mcp_json_is_integer(mcp_json_get(r, "ttlMs")));
    assert_true(mcp_json_is_string(mcp_json_get(r, "cacheScope")));
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_get(r, "_meta"),
                                                                "io.modelcontextprotocol/serverInfo"), "name"), ""), "test");

    /* Modern requests need no initialize. */
    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{" META
                               ",\"name\":\"greet\",\"arguments\":{\"name\":\"Ada\"}}}"));
    assert_string_equal(mcp_json_str(mcp_json_get(r, "resultType"), ""), "complete");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), ""),
                        "Hello, Ada!");
    assert_null(mcp_session_protocol_version(f->session));

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                       "\"io.modelcontextprotocol/protocolVersion\":\"1900-01-01\","
                       "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_int_equal(error_code(doc), MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 3);
    const mcp_json *data = mcp_json_get(mcp_json_get(doc, "error"), "data");
    assert_string_equal(mcp_json_str(mcp_json_get(data, "requested"), ""), "1900-01-01");
    assert_true(mcp_json_len(mcp_json_get(data, "supported")) >= 4);

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                       "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\",\"params\":{" META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);
}

static void test_pagination(void **state)
{
    fixture *f = *state;
    static const char *expected[] = {"greet", "fails", "weather", "slow", "async"};
    char text[512];
    char cursor[64] = "";
    size_t seen = 0;
    for (int page = 0; page < 10; page++) {
        if (cursor[0])
            snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\",\"params\":{" META
                     ",\"cursor\":\"%s\"}}", page, cursor);
        else
            snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\",\"params\":{" META "}}", page);
        const mcp_json *r = result_of(roundtrip(f, text));
        const mcp_json *tools = mcp_json_get(r, "tools");
        assert_true(mcp_json_len(tools) <= 2);
        for (const mcp_json *t = mcp_json_first(tools); t; t = mcp_json_next(t))
            assert_string_equal(mcp_json_str(mcp_json_get(t, "name"), ""), expected[seen++]);
        const mcp_json *next = mcp_json_get(r, "nextCursor");
        if (!next)
            break;
        snprintf(cursor, sizeof cursor, "%s", mcp_json_str(next, ""));
    }
    assert_int_equal(seen, 5);

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\",\"params\":{" META
                                 ",\"cursor\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"prompts/list\",\"params\":{" META ",\"cursor\":7}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);

    const mcp_json *r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"resources/templates/list\",\"params\":{" META "}}"));
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "resourceTemplates"), 0), "uriTemplate"), ""),
                        "file:///{path}");
    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"prompts/list\",\"params\":{" META "}}"));
    assert_int_equal(mcp_json_len(mcp_json_get(r, "prompts")), 1);
}

static void test_tool_results(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-11-25");
    /* schema-invalid input: a tool execution error from 2025-11-25 on */
    const mcp_json *r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                                               "{\"name\":\"greet\",\"arguments\":{\"name\":5}}}"));
    assert_true(mcp_json_bool(mcp_json_get(r, "isError"), false));
    assert_non_null(strstr(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), ""), "greet"));

    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"fails\"}}"));
    assert_true(mcp_json_bool(mcp_json_get(r, "isError"), false));
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), ""), "disk on fire");

    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"weather\"}}"));
    assert_true(mcp_json_num(mcp_json_get(mcp_json_get(r, "structuredContent"), "temperature"), 0) == 22.5);
    assert_int_equal(mcp_json_len(mcp_json_get(r, "content")), 1);
    assert_null(mcp_json_get(r, "isError"));

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"weather\","
                                 "\"arguments\":{\"broken\":true}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INTERNAL_ERROR);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 4);

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
}

static void test_tool_input_error_before_2025_11_25(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-06-18");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                                 "{\"name\":\"greet\",\"arguments\":{}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
}

static void test_resources_and_prompts(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-06-18");
    const mcp_json *r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"note://a\"}}"));
    const mcp_json *c = mcp_json_at(mcp_json_get(r, "contents"), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(c, "text"), ""), "note body");
    assert_string_equal(mcp_json_str(mcp_json_get(c, "uri"), ""), "note://a");

    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///x.txt\"}}"));
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "contents"), 0), "uri"), ""), "file:///x.txt");

    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///a/b\"}}");
    assert_int_equal(error_code(doc), MCP_ERROR_RESOURCE_NOT_FOUND);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":{" META ",\"uri\":\"x:y\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);

    r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":{\"name\":\"review\","
                               "\"arguments\":{\"code\":\"x=1\"}}}"));
    assert_string_equal(mcp_json_str(mcp_json_get(r, "description"), ""), "Code review");
    const mcp_json *m = mcp_json_at(mcp_json_get(r, "messages"), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(m, "role"), ""), "user");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(m, "content"), "text"), ""), "Review x=1");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"prompts/get\",\"params\":{\"name\":\"review\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"prompts/get\",\"params\":{\"name\":\"review\",\"arguments\":{\"code\":1}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"prompts/get\",\"params\":{\"name\":\"nope\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
}

static void test_progress(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-11-25");
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                             "\"_meta\":{\"progressToken\":\"tok\"}}}");
    assert_int_equal(capture_count(&f->cap), 2);
    mcp_json *n = capture_json(&f->cap, 0);
    assert_string_equal(mcp_json_str(mcp_json_get(n, "method"), ""), "notifications/progress");
    const mcp_json *p = mcp_json_get(n, "params");
    assert_string_equal(mcp_json_str(mcp_json_get(p, "progressToken"), ""), "tok");
    assert_true(mcp_json_num(mcp_json_get(p, "progress"), 0) == 1);
    assert_true(mcp_json_num(mcp_json_get(p, "total"), 0) == 2);
    assert_string_equal(mcp_json_str(mcp_json_get(p, "message"), ""), "half way");
    assert_non_null(mcp_json_get(capture_json(&f->cap, 1), "result"));

    /* no token, no notification */
    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\"}}"));
}

static void wait_for(capture *c, size_t n)
{
    for (int i = 0; i < 2000 && capture_count(c) < n; i++)
        usleep(1000);
}

static void test_async_completion(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-11-25");
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":\"a1\",\"method\":\"tools/call\",\"params\":{\"name\":\"async\"}}");
    /* the session stays usable while the call is pending */
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    wait_for(&f->cap, 2);
    assert_int_equal(capture_count(&f->cap), 2);
    mcp_json *first = capture_json(&f->cap, 0);
    assert_string_equal(mcp_json_str(mcp_json_get(first, "id"), ""), "p");
    mcp_json *second = capture_json(&f->cap, 1);
    assert_string_equal(mcp_json_str(mcp_json_get(second, "id"), ""), "a1");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(mcp_json_get(second, "result"), "content"), 0), "text"), ""),
                        "async done");
}

static void test_cancellation(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-11-25");
    capture_clear(&f->cap);
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"async\"}}");
    session_send(f->session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":7}}");
    /* freeing waits for the pending call, which sees the cancellation */
    mcp_session_free(f->session);
    assert_int_equal(capture_count(&f->cap), 0);
    mcp_sink sink = capture_sink(&f->cap);
    f->session = mcp_session_new(f->server, &sink);
}

static void test_batches(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-03-26");
    capture_clear(&f->cap);
    session_send(f->session, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"async\"}},"
                             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}]");
    /* the async item holds the whole batch reply back until it finishes */
    assert_int_equal(capture_count(&f->cap), 0);
    wait_for(&f->cap, 1);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_true(mcp_json_is_array(doc));
    assert_int_equal(mcp_json_len(doc), 3);
    capture_clear(&f->cap);
    session_send(f->session, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]");
    assert_int_equal(capture_count(&f->cap), 0);
}

static void test_batch_refused_after_2025_03_26(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-06-18");
    mcp_json *doc = roundtrip(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    assert_true(mcp_json_is_null(mcp_json_get(doc, "id")));
    assert_non_null(mcp_json_get(doc, "id"));
}

static void test_registry_changes_while_serving(void **state)
{
    fixture *f = *state;
    initialize(f, "2025-11-25");
    assert_int_equal(mcp_server_remove_tool(f->server, "greet"), 0);
    assert_int_equal(mcp_server_remove_tool(f->server, "greet"), MCP_ENOTFOUND);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"greet\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "greet", .fn = greet}), 0);
    const mcp_json *r = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"greet\"}}"));
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), ""), "Hello, world!");
}

/* The modern version is known by its text as written; an escaped spelling
 * of it and "2.0" spelled with an escape are the same values and must be
 * treated the same; a near miss is refused. */
static void test_versions_however_spelled(void **state)
{
    fixture *f = *state;
    static const char *const meta_versions[] = {"2026-07-28", "2026\\u002d07-28", "\\u0032026-07-28"};
    for (size_t i = 0; i < sizeof meta_versions / sizeof *meta_versions; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2\\u002e0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":{\"name\":\"greet\","
                 "\"arguments\":{\"name\":\"v\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"%s\","
                 "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
                 i, meta_versions[i]);
        const mcp_json *r = result_of(roundtrip(f, text));
        /* Modern results say so. */
        assert_string_equal(mcp_json_str(mcp_json_get(r, "resultType"), ""), "complete");
    }
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"greet\",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-29\","
                                 "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_true(error_code(doc) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initialize_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initialize_echoes_supported_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discover_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_however_spelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_input_error_before_2025_11_25, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources_and_prompts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancellation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused_after_2025_03_26, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_changes_while_serving, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
