/*
 * A modern-era reply built in place (mcp_sink.lend, net/http_answer.c):
 * the session writes it into the connection's output behind room kept for
 * the answer's head, sized for a reply as long as the last one, and the
 * head is written in front when the reply is done. These cases check,
 * without sockets, that
 *  - JSON answers whose Content-Length has more or fewer digits than the
 *    last one's (the reply moves) come out whole with the exact head, one
 *    by one and pipelined in one read (then all but the first are built in
 *    their exchange's pending buffer);
 *  - SSE answers of one event do the same across the chunk size's hex
 *    digits, with Connection: close when the client asked for it;
 *  - a reply with a raw line end, which one SSE data line cannot carry,
 *    still goes out as the general stream path writes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "test_echo_tool.h"

/* A content block whose JSON text keeps a raw line feed between members. */
static int tool_lines(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    return mcp_call_content_json(call, "{\"type\":\"text\",\n\"text\":\"two lines\"}");
}

typedef struct fixture {
    mcp_server *server;
    mcp_http_server *http;
    mcp_http_conn *conn;
    mcp_buf out; /* what the last feed wrote */
} fixture;

static void fixture_open(fixture *f, bool prefer_sse) {
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "lines", .fn = tool_lines}), 0);
    mcp_net_limits limits = {.max_message_size = 1 << 20, .idle_timeout_ms = 60000};
    mcp_http_opts opts = {.prefer_sse = prefer_sse, .max_body_size = 1 << 20};
    assert_int_equal(mcp_http_server_new(&f->http, f->server, &(mcp_listen){.http = "127.0.0.1:0", .http_opts = &opts},
                                         &limits, 1),
                     0);
    f->conn = mcp_http_conn_new(f->http, 0, &(mcp_http_conn_io){0});
    assert_non_null(f->conn);
    mcp_buf_init(&f->out);
}

static void fixture_close(fixture *f) {
    mcp_session *modern = mcp_http_conn_detach(f->conn);
    if (modern) mcp_session_free(modern);
    mcp_http_conn_free(f->conn);
    mcp_http_server_free(f->http);
    mcp_server_free(f->server);
    mcp_buf_free(&f->out);
}

/* A POST of tools/call (tool echo: a text of text_len 'x's) appended to req. */
static void append_post(mcp_buf *req, int id, const char *tool, size_t text_len, bool last) {
    mcp_buf body;
    mcp_buf_init(&body);
    assert_int_equal(mcp_buf_appendf(&body,
                                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                                     "\"%s\",\"arguments\":{\"text\":\"",
                                     id, tool),
                     0);
    assert_int_equal(mcp_buf_reserve(&body, text_len), 0);
    memset(body.data + body.len, 'x', text_len);
    body.len += text_len;
    assert_int_equal(mcp_buf_append_cstr(&body, "\"}," MODERN_META "}}"), 0);
    assert_int_equal(mcp_buf_appendf(req,
                                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                     "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: "
                                     "2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\n%sContent-Length: "
                                     "%zu\r\n\r\n",
                                     tool, last ? "Connection: close\r\n" : "", body.len),
                     0);
    assert_int_equal(mcp_buf_append(req, body.data, body.len), 0);
    mcp_buf_free(&body);
}

static void feed(fixture *f, const mcp_buf *req) {
    mcp_http_conn_feed(f->conn, req->data, req->len, 1000);
    mcp_buf *o = mcp_http_conn_out(f->conn);
    mcp_buf_reset(&f->out);
    assert_int_equal(mcp_buf_append(&f->out, o->data, o->len), 0);
    mcp_buf_reset(o);
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The echoed text of a reply is there whole: text_len 'x's and a quote. */
static void expect_text(const char *reply, size_t len, int id, size_t text_len) {
    char want[64];
    int n = snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\"", id);
    assert_true(len > (size_t)n);
    assert_memory_equal(reply, want, (size_t)n);
    static const char key[] = "\"text\":\"";
    const char *x = memmem(reply, len, key, sizeof key - 1);
    assert_non_null(x);
    x += sizeof key - 1;
    size_t run = 0;
    while (x + run < reply + len && x[run] == 'x') run++;
    assert_int_equal(run, text_len);
    assert_int_equal(x[run], '"');
    assert_int_equal(reply[len - 1], '}');
}

/* The JSON answer at *pos: exact head, body of its Content-Length. */
static void expect_json_answer(const mcp_buf *out, size_t *pos, int id, size_t text_len, bool closing) {
    const char *p = out->data + *pos;
    static const char start[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
    assert_true(starts(p, start));
    char *after;
    unsigned long length = strtoul(p + sizeof start - 1, &after, 10);
    assert_true(p[sizeof start - 1] != '0'); /* no leading zeros */
    const char *rest = closing ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
    assert_true(starts(after, rest));
    const char *body = after + strlen(rest);
    assert_true((size_t)(body - out->data) + length <= out->len);
    expect_text(body, length, id, text_len);
    *pos = (size_t)(body - out->data) + length;
}

/* The SSE answer of one event at *pos, as the general stream path writes
 * it: head, one chunk holding one event, the last chunk. */
static void expect_sse_answer(const mcp_buf *out, size_t *pos, int id, size_t text_len, bool closing) {
    const char *p = out->data + *pos;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    assert_true(starts(p, head));
    p += sizeof head - 1;
    if (closing) {
        assert_true(starts(p, "Connection: close\r\n"));
        p += strlen("Connection: close\r\n");
    }
    assert_true(starts(p, "\r\n"));
    p += 2;
    assert_true(*p != '0'); /* no leading zeros */
    char *after;
    unsigned long size = strtoul(p, &after, 16);
    assert_true(starts(after, "\r\nevent: message\ndata: "));
    const char *event = after + 2;
    assert_true((size_t)(event - out->data) + size + 7 <= out->len);
    const char *data = event + strlen("event: message\ndata: ");
    size_t data_len = size - strlen("event: message\ndata: ") - 2;
    assert_true(starts(data + data_len, "\n\n\r\n0\r\n\r\n"));
    expect_text(data, data_len, id, text_len);
    *pos = (size_t)(data + data_len + 9 - out->data);
}

/* Texts whose replies cross the decimal and the hexadecimal digit counts
 * of their lengths, upwards and downwards. */
static const size_t TEXTS[] = {1000, 10, 5, 200, 9000, 40, 70000, 100, 300000, 3, 1000};
#define TEXT_COUNT (sizeof TEXTS / sizeof TEXTS[0])

static void run_one_by_one(bool sse) {
    fixture f;
    fixture_open(&f, sse);
    mcp_buf req;
    mcp_buf_init(&req);
    for (size_t i = 0; i < TEXT_COUNT; i++) {
        bool last = i + 1 == TEXT_COUNT;
        mcp_buf_reset(&req);
        append_post(&req, (int)i + 1, "echo", TEXTS[i], last);
        feed(&f, &req);
        size_t pos = 0;
        if (sse) expect_sse_answer(&f.out, &pos, (int)i + 1, TEXTS[i], last);
        else expect_json_answer(&f.out, &pos, (int)i + 1, TEXTS[i], last);
        assert_int_equal(pos, f.out.len);
    }
    assert_true(mcp_http_conn_should_close(f.conn));
    mcp_buf_free(&req);
    fixture_close(&f);
}

static void run_pipelined(bool sse) {
    fixture f;
    fixture_open(&f, sse);
    mcp_buf req;
    mcp_buf_init(&req);
    for (size_t i = 0; i < TEXT_COUNT; i++) append_post(&req, (int)i + 1, "echo", TEXTS[i], false);
    feed(&f, &req);
    size_t pos = 0;
    for (size_t i = 0; i < TEXT_COUNT; i++) {
        if (sse) expect_sse_answer(&f.out, &pos, (int)i + 1, TEXTS[i], false);
        else expect_json_answer(&f.out, &pos, (int)i + 1, TEXTS[i], false);
    }
    assert_int_equal(pos, f.out.len);
    assert_false(mcp_http_conn_should_close(f.conn));
    mcp_buf_free(&req);
    fixture_close(&f);
}

static void json_answers_across_digit_counts(void **state) {
    (void)state;
    run_one_by_one(false);
}

static void json_answers_pipelined(void **state) {
    (void)state;
    run_pipelined(false);
}

static void sse_answers_across_digit_counts(void **state) {
    (void)state;
    run_one_by_one(true);
}

static void sse_answers_pipelined(void **state) {
    (void)state;
    run_pipelined(true);
}

/* A raw line feed in the reply: the general path splits it into two data
 * lines of one event in a stream of its own; the echo after it is lent
 * again. */
static void sse_reply_with_a_line_end_takes_the_general_path(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, true);
    mcp_buf req;
    mcp_buf_init(&req);
    append_post(&req, 1, "lines", 0, false);
    append_post(&req, 2, "echo", 500, false);
    feed(&f, &req);
    const char *second = strstr(f.out.data, "\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n");
    assert_non_null(second);
    size_t first_len = (size_t)(second - f.out.data) + 7;
    assert_true(starts(f.out.data, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"));
    const char *event = strstr(f.out.data, "event: message\ndata: ");
    assert_non_null(event);
    const char *data2 = strstr(event, "\ndata: \"text\":\"two lines\"}");
    assert_non_null(data2);
    assert_true(data2 < second);
    assert_non_null(strstr(event, "\"type\":\"text\","));
    size_t pos = first_len;
    expect_sse_answer(&f.out, &pos, 2, 500, false);
    assert_int_equal(pos, f.out.len);
    mcp_buf_free(&req);
    fixture_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_answers_across_digit_counts),
        cmocka_unit_test(json_answers_pipelined),
        cmocka_unit_test(sse_answers_across_digit_counts),
        cmocka_unit_test(sse_answers_pipelined),
        cmocka_unit_test(sse_reply_with_a_line_end_takes_the_general_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
