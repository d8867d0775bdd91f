/*
 * mcp_session_parse and mcp_session_run: a message is parsed once, can be
 * inspected, and runs from the session's own copy of the text; one that is
 * not run is dropped by the next parse; bad input is described by the
 * parse and answered by the run. Also: an asynchronous call whose message
 * text is long gone still reads its params.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#include <time.h>

static int tool_echo(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    const mcp_json *text = mcp_json_get(args, "text");
    return mcp_call_text_n(call, mcp_json_str(text, ""), mcp_json_str_len(text));
}

/* Finishes from another thread, after the caller's text was overwritten. */
typedef struct later {
    mcp_call *call;
    const mcp_json *args;
} later;

static void *later_main(void *arg)
{
    later *l = arg;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    const mcp_json *text = mcp_json_get(l->args, "text");
    mcp_call_text_n(l->call, mcp_json_str(text, ""), mcp_json_str_len(text));
    mcp_call_finish(l->call);
    free(l);
    return NULL;
}

static int tool_later(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    later *l = malloc(sizeof *l);
    l->call = call;
    l->args = args;
    pthread_t t;
    if (pthread_create(&t, NULL, later_main, l) != 0) {
        free(l);
        return MCP_ENOMEM;
    }
    pthread_detach(t);
    return MCP_PENDING;
}

static fixture *server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "later", .fn = tool_later}), 0);
    return f;
}

#define CALL(id, tool, text)                                                                        \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" tool "\"," \
    "\"arguments\":{\"text\":\"" text "\"}," MODERN_META "}}"

static const char *text_of(const mcp_json *doc)
{
    return mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), NULL);
}

static void parse_inspect_then_run(void **state)
{
    (void)state;
    fixture *f = server();
    char *text = strdup(CALL("7", "echo", "once"));
    const mcp_rpc_batch *parsed = NULL;
    assert_int_equal(mcp_session_parse(f->session, text, strlen(text), &parsed), 0);
    assert_non_null(parsed);
    assert_int_equal(parsed->error_code, 0);
    assert_false(parsed->is_batch);
    assert_int_equal(parsed->items[0].kind, MCP_RPC_REQUEST);
    assert_string_equal(parsed->items[0].method, "tools/call");
    /* params come built: the transport's checks read them directly. */
    const mcp_json *params = parsed->items[0].params;
    assert_true(mcp_json_is_object(params));
    assert_string_equal(mcp_json_str(mcp_json_get(params, "name"), ""), "echo");
    /* The session keeps its own copy: the caller's text may go. */
    memset(text, 'x', strlen(text));
    free(text);
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_run(f->session), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 7);
    assert_string_equal(text_of(doc), "once");
    /* Nothing is left to run. */
    assert_int_equal(mcp_session_run(f->session), MCP_EINVAL);
    fixture_free(f);
}

static void a_parse_not_run_is_dropped(void **state)
{
    (void)state;
    fixture *f = server();
    const mcp_rpc_batch *parsed;
    const char *first = CALL("1", "echo", "first");
    const char *second = CALL("2", "echo", "second");
    assert_int_equal(mcp_session_parse(f->session, first, strlen(first), &parsed), 0);
    assert_int_equal(mcp_session_parse(f->session, second, strlen(second), &parsed), 0);
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_run(f->session), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 2);
    assert_string_equal(text_of(doc), "second");
    /* Parsed and never run: freeing the session releases it (ASan). */
    assert_int_equal(mcp_session_parse(f->session, first, strlen(first), &parsed), 0);
    fixture_free(f);
}

static void bad_input_is_described_then_answered(void **state)
{
    (void)state;
    fixture *f = server();
    const mcp_rpc_batch *parsed;
    const char *broken = "{\"jsonrpc\":\"2.0\",\"id\":3,";
    assert_int_equal(mcp_session_parse(f->session, broken, strlen(broken), &parsed), 0);
    assert_int_equal(parsed->error_code, MCP_RPC_PARSE_ERROR);
    mcp_json *doc = NULL;
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_run(f->session), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    doc = capture_json(&f->cap, 0);
    assert_int_equal(error_code(doc), MCP_RPC_PARSE_ERROR);

    const char *no_version = "{\"id\":4,\"method\":\"ping\"}";
    assert_int_equal(mcp_session_parse(f->session, no_version, strlen(no_version), &parsed), 0);
    assert_int_equal(parsed->error_code, 0);
    assert_int_equal(parsed->items[0].kind, MCP_RPC_INVALID);
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_run(f->session), 0);
    doc = capture_json(&f->cap, 0);
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 4);

    assert_int_equal(mcp_session_parse(NULL, no_version, 3, &parsed), MCP_EINVAL);
    assert_int_equal(mcp_session_parse(f->session, NULL, 3, &parsed), MCP_EINVAL);
    assert_int_equal(mcp_session_run(NULL), MCP_EINVAL);
    fixture_free(f);
}

/* The message is copied once, into the call that runs it: an asynchronous
 * handler reads its arguments after the transport reused its buffer. */
static void async_call_outlives_the_text(void **state)
{
    (void)state;
    fixture *f = server();
    char buf[1024];
    for (int i = 0; i < 8; i++) {
        char id[8], word[16];
        snprintf(id, sizeof id, "%d", 100 + i);
        snprintf(word, sizeof word, "word%d", i);
        int n = snprintf(buf, sizeof buf,
                         "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                         "\"arguments\":{\"text\":\"%s\"}," MODERN_META "}}",
                         id, word);
        assert_int_equal(mcp_session_handle(f->session, buf, (size_t)n), 0);
        memset(buf, '#', sizeof buf); /* the read buffer is reused */
    }
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    assert_int_equal(capture_count(&f->cap), 8);
    int seen = 0;
    for (size_t i = 0; i < 8; i++) {
        mcp_json *doc = capture_json(&f->cap, i);
        int64_t id = mcp_json_int(mcp_json_get(doc, "id"), 0);
        char want[16];
        snprintf(want, sizeof want, "word%d", (int)(id - 100));
        assert_string_equal(text_of(doc), want);
        seen |= 1 << (id - 100);
    }
    assert_int_equal(seen, 0xff);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_inspect_then_run),
        cmocka_unit_test(a_parse_not_run_is_dropped),
        cmocka_unit_test(bad_input_is_described_then_answered),
        cmocka_unit_test(async_call_outlives_the_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
