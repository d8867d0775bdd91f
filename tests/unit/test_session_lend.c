/* A sink that lends its output buffer (mcp_sink.lend) gets byte for byte
 * what a plain sink gets, in the same order: replies built in place,
 * everything else (errors, batches, notifications) written as usual, and
 * what the buffer held before left untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/mcp.h"

#include <string.h>

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* One line per message, as an NDJSON transport frames them. */
typedef struct lines {
    mcp_buf buf;
    bool lends;      /* lend returns the buffer (else NULL: write is used) */
    int lent;        /* replies built in place */
    int written;     /* messages that came through write */
    bool lending;    /* between lend and lent */
} lines;

static int lines_write(void *user, const char *message, size_t len)
{
    lines *l = user;
    assert_false(l->lending);
    l->written++;
    if (mcp_buf_append(&l->buf, message, len) || mcp_buf_append_char(&l->buf, '\n'))
        return MCP_ENOMEM;
    return 0;
}

static mcp_buf *lines_lend(void *user)
{
    lines *l = user;
    assert_false(l->lending);
    if (!l->lends)
        return NULL;
    l->lending = true;
    return &l->buf;
}

static int lines_lent(void *user, size_t start)
{
    lines *l = user;
    assert_true(l->lending);
    assert_true(start <= l->buf.len);
    l->lending = false;
    l->lent++;
    return mcp_buf_append_char(&l->buf, '\n');
}

static int echo(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    const mcp_json *text = mcp_json_get(args, "text");
    return text ? mcp_call_text_value(call, text) : mcp_call_text(call, "none");
}

static int fails(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_tool_error(call, "disk on fire");
}

static int structured(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_structured(call, "{\"t\":22.5}");
}

static int broken(mcp_call *call, const mcp_json *args, void *user)
{
    (void)call, (void)args, (void)user;
    return MCP_EIO;
}

static mcp_server *server_make(void)
{
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "lend", .version = "1"});
    assert_non_null(s);
    static const char SCHEMA[] = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}";
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "echo", .input_schema = SCHEMA, .fn = echo}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "fails", .fn = fails}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "structured", .fn = structured}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "broken", .fn = broken}), 0);
    return s;
}

static const char *const MODERN[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":\"hello \\\"world\\\" \\u00e9\"}," META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"tools/call\",\"params\":{\"name\":\"fails\",\"arguments\":{},"
    META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"structured\",\"arguments\":{},"
    META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"broken\",\"arguments\":{},"
    META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":7}," META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\",\"arguments\":{},"
    META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{" META "}}",
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"server/discover\",\"params\":{" META "}}",
    "not json",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":99}}",
    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":\"again\"}," META "}}",
};

static const char *const LEGACY[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":\"legacy\"}}}",
    "[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":\"in a batch\"}}},{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}]",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"fails\",\"arguments\":{}}}",
};

enum { NO_LEND, LEND_REFUSED, LEND };

/* Runs the messages through a fresh session: a sink without lend, one whose
 * lend says no, or one that lends. */
static void run(const char *const *msgs, size_t n, int mode, const char *before, lines *out)
{
    memset(out, 0, sizeof *out);
    mcp_buf_init(&out->buf);
    if (before)
        assert_int_equal(mcp_buf_append_cstr(&out->buf, before), 0);
    out->lends = mode == LEND;
    mcp_server *server = server_make();
    mcp_sink sink = {.write = lines_write, .user = out};
    if (mode != NO_LEND) {
        sink.lend = lines_lend;
        sink.lent = lines_lent;
    }
    mcp_session *session = mcp_session_new(server, &sink);
    assert_non_null(session);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mcp_session_handle(session, msgs[i], strlen(msgs[i])), 0);
    assert_false(out->lending);
    mcp_session_free(session);
    mcp_server_free(server);
}

static void same_bytes(const char *const *msgs, size_t n, int min_lent, const char *expect)
{
    lines plain, lent, refused;
    run(msgs, n, NO_LEND, NULL, &plain);
    run(msgs, n, LEND, NULL, &lent);
    run(msgs, n, LEND_REFUSED, NULL, &refused);
    assert_non_null(strstr(plain.buf.data, expect));
    assert_int_equal(refused.lent, 0);
    assert_true(lent.lent >= min_lent);
    assert_int_equal(lent.lent + lent.written, plain.written);
    assert_int_equal(lent.buf.len, plain.buf.len);
    assert_memory_equal(lent.buf.data, plain.buf.data, plain.buf.len);
    assert_int_equal(refused.buf.len, plain.buf.len);
    assert_memory_equal(refused.buf.data, plain.buf.data, plain.buf.len);
    mcp_buf_free(&plain.buf);
    mcp_buf_free(&lent.buf);
    mcp_buf_free(&refused.buf);
}

static void modern_replies_are_the_same_lent_or_written(void **state)
{
    (void)state;
    /* echo (twice), fails (a tool error is a result), structured, tools/list... */
    same_bytes(MODERN, sizeof MODERN / sizeof MODERN[0], 4, "hello \\\"world\\\"");
}

static void legacy_replies_and_batches_are_the_same(void **state)
{
    (void)state;
    same_bytes(LEGACY, sizeof LEGACY / sizeof LEGACY[0], 2, "[{\"jsonrpc\":\"2.0\",\"id\":2,");
}

static void what_the_buffer_held_stays(void **state)
{
    (void)state;
    static const char BEFORE[] = "{\"earlier\":true}\n";
    lines plain, lent;
    run(MODERN, 1, NO_LEND, NULL, &plain);
    run(MODERN, 1, LEND, BEFORE, &lent);
    assert_int_equal(lent.lent, 1);
    assert_int_equal(lent.buf.len, sizeof BEFORE - 1 + plain.buf.len);
    assert_memory_equal(lent.buf.data, BEFORE, sizeof BEFORE - 1);
    assert_memory_equal(lent.buf.data + sizeof BEFORE - 1, plain.buf.data, plain.buf.len);
    assert_int_equal(lent.buf.data[lent.buf.len], '\0');
    mcp_buf_free(&plain.buf);
    mcp_buf_free(&lent.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modern_replies_are_the_same_lent_or_written),
        cmocka_unit_test(legacy_replies_and_batches_are_the_same),
        cmocka_unit_test(what_the_buffer_held_stays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
