/*
 * The HTTP server's per-request fast paths keep their meaning:
 *  - a request that lies whole in one read is not copied (target, header
 *    values and body are slices of the input), and one split across reads
 *    at any byte parses to the same fields even when each read's buffer is
 *    overwritten before the next one arrives (nothing dangles);
 *  - a repeated Accept is joined even with other headers between its
 *    lines;
 *  - the JSON answer written in place has the exact head it always had,
 *    with Connection: close when the client asked for it, and an SSE
 *    answer of just the reply has the bytes of the general stream path;
 *  - a Host remembered as allowed on a connection does not let another
 *    Host through on the same connection.
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

/* ---- Parser ----------------------------------------------------------------------- */
static const char RAW[] = "POST /mcp?q=1 HTTP/1.1\r\n"
                          "Host:  127.0.0.1:8080 \r\n"
                          "Accept: application/json\r\n"
                          "X-Other: 1\r\n"
                          "accept: text/event-stream\r\n"
                          "Content-Type: application/json\r\n"
                          "MCP-Protocol-Version: 2026-07-28\r\n"
                          "Mcp-Method: tools/call\r\n"
                          "MCP-NAME: echo\r\n"
                          "Mcp-Param-Region: eu-west\r\n"
                          "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                          "tracestate: a=1\r\n"
                          "Tracestate: b=2\r\n"
                          "Content-Length: 11\r\n\r\n"
                          "{\"id\":1234}";

/* What a parsed request says, copied out so it can be compared after the
 * input is gone. */
typedef struct seen {
    char target[64], path[64], body[64];
    char headers[MCP_HTTP_H_COUNT][128];
    bool present[MCP_HTTP_H_COUNT];
    char param_name[32], param_value[32];
    size_t param_count;
} seen;

static void copy_str(char *to, size_t cap, mcp_str s) {
    assert_true(s.len < cap);
    memcpy(to, s.ptr, s.len);
    to[s.len] = '\0';
}

static void record(const mcp_http_request *req, seen *out) {
    memset(out, 0, sizeof *out);
    copy_str(out->target, sizeof out->target, req->target);
    copy_str(out->path, sizeof out->path, req->path);
    copy_str(out->body, sizeof out->body, req->body);
    for (int h = 0; h < MCP_HTTP_H_COUNT; h++) {
        out->present[h] = req->headers[h].ptr != NULL;
        if (out->present[h]) copy_str(out->headers[h], sizeof out->headers[h], req->headers[h]);
    }
    out->param_count = req->param_count;
    if (req->param_count) {
        copy_str(out->param_name, sizeof out->param_name, (mcp_str){req->params[0].name, req->params[0].name_len});
        copy_str(out->param_value, sizeof out->param_value,
                 (mcp_str){req->params[0].value, req->params[0].value_len});
    }
}

static void check_fields(const seen *s) {
    assert_string_equal(s->target, "/mcp?q=1");
    assert_string_equal(s->path, "/mcp");
    assert_string_equal(s->body, "{\"id\":1234}");
    assert_string_equal(s->headers[MCP_HTTP_H_HOST], "127.0.0.1:8080");
    assert_string_equal(s->headers[MCP_HTTP_H_ACCEPT], "application/json,text/event-stream");
    assert_string_equal(s->headers[MCP_HTTP_H_CONTENT_TYPE], "application/json");
    assert_string_equal(s->headers[MCP_HTTP_H_PROTOCOL_VERSION], "2026-07-28");
    assert_string_equal(s->headers[MCP_HTTP_H_MCP_METHOD], "tools/call");
    assert_string_equal(s->headers[MCP_HTTP_H_MCP_NAME], "echo");
    assert_string_equal(s->headers[MCP_HTTP_H_TRACEPARENT], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert_string_equal(s->headers[MCP_HTTP_H_TRACESTATE], "a=1,b=2");
    assert_false(s->present[MCP_HTTP_H_ORIGIN]);
    assert_false(s->present[MCP_HTTP_H_SESSION_ID]);
    assert_false(s->present[MCP_HTTP_H_LAST_EVENT_ID]);
    assert_int_equal(s->param_count, 1);
    assert_string_equal(s->param_name, "Mcp-Param-Region");
    assert_string_equal(s->param_value, "eu-west");
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static bool inside(const char *p, const char *buf, size_t len) { return p >= buf && p < buf + len; }

static void whole_request_is_not_copied(void **state) {
    (void)state;
    size_t len = sizeof RAW - 1;
    /* The one-line headers only: repeated ones are joined, hence copied. */
    static const char one[] = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Method: ping\r\n"
                              "MCP-Protocol-Version: 2026-07-28\r\nContent-Length: 2\r\n\r\n{}";
    mcp_http_parser p;
    assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
    mcp_str in = {one, sizeof one - 1};
    mcp_http_request req;
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    assert_true(inside(req.target.ptr, one, sizeof one));
    assert_true(inside(req.headers[MCP_HTTP_H_HOST].ptr, one, sizeof one));
    assert_true(inside(req.headers[MCP_HTTP_H_MCP_METHOD].ptr, one, sizeof one));
    assert_true(inside(req.headers[MCP_HTTP_H_PROTOCOL_VERSION].ptr, one, sizeof one));
    assert_true(inside(req.body.ptr, one, sizeof one));
    assert_int_equal(p.head.len, 0); /* nothing was gathered */
    mcp_http_parser_free(&p);

    /* The full request in one read has every field right. */
    assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
    in = (mcp_str){RAW, len};
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    seen s;
    record(&req, &s);
    check_fields(&s);
    assert_true(inside(req.headers[MCP_HTTP_H_MCP_NAME].ptr, RAW, len));
    mcp_http_parser_free(&p);
}

/* Lines of the two joined headers in turn (Accept, tracestate, Accept, ...)
 * used to move each gathered value to the end of the parser's buffer on
 * every line, leaving the old copy: a request within the header limit
 * grew it to megabytes, kept for the connection's life. Now the request
 * is refused once the copies pass twice the limit, and a connection's
 * next request starts from a small buffer. */
static void alternating_joined_headers_stay_bounded(void **state) {
    (void)state;
    mcp_buf raw;
    mcp_buf_init(&raw);
    assert_int_equal(mcp_buf_append_cstr(&raw, "POST /mcp HTTP/1.1\r\nHost: localhost\r\n"), 0);
    for (int i = 0; i < 1200; i++)
        assert_int_equal(mcp_buf_append_cstr(&raw, i % 2 ? "tracestate:b\r\n" : "Accept:a\r\n"), 0);
    assert_int_equal(mcp_buf_append_cstr(&raw, "Content-Length: 2\r\n\r\n{}"), 0);
    mcp_http_parser p;
    assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
    mcp_str in = {raw.data, raw.len};
    mcp_http_request req;
    /* Under the header limit as counted (names and values): it used to pass. */
    assert_true(raw.len < 2 * MCP_HTTP_DEFAULT_MAX_HEADER);
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 431);
    assert_true(p.head.cap <= 4 * MCP_HTTP_DEFAULT_MAX_HEADER);
    mcp_http_parser_free(&p);

    /* A few such lines are an honest request: joined, and answered. */
    static const char few[] = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                              "tracestate: a=1\r\nAccept: text/event-stream\r\ntracestate: b=2\r\n"
                              "Content-Length: 2\r\n\r\n{}";
    assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
    in = (mcp_str){few, sizeof few - 1};
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    mcp_str accept = req.headers[MCP_HTTP_H_ACCEPT], ts = req.headers[MCP_HTTP_H_TRACESTATE];
    assert_int_equal(accept.len, strlen("application/json,text/event-stream"));
    assert_memory_equal(accept.ptr, "application/json,text/event-stream", accept.len);
    assert_int_equal(ts.len, strlen("a=1,b=2"));
    assert_memory_equal(ts.ptr, "a=1,b=2", ts.len);
    mcp_http_parser_free(&p);
    mcp_buf_free(&raw);
}

/* A request that needed a large gathering buffer does not leave it held
 * by the connection: the next request starts from a small one. */
static void a_large_head_is_not_kept(void **state) {
    (void)state;
    mcp_buf raw;
    mcp_buf_init(&raw);
    /* 200 KiB of one Accept value in 1 KiB pieces, each a read of its own. */
    assert_int_equal(mcp_buf_append_cstr(&raw, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: "), 0);
    size_t value_at = raw.len;
    for (int i = 0; i < 200 * 1024; i++)
        assert_int_equal(mcp_buf_append(&raw, "a", 1), 0);
    assert_int_equal(mcp_buf_append_cstr(&raw, "\r\nContent-Length: 2\r\n\r\n{}"
                                              "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}"),
                     0);
    mcp_http_parser p;
    assert_int_equal(mcp_http_parser_init(&p, 1024 * 1024, 0), 0);
    mcp_http_request req;
    size_t at = 0;
    int rc = MCP_HTTP_MORE;
    while (rc == MCP_HTTP_MORE && at < raw.len) {
        size_t n = at < value_at ? value_at - at : 1024;
        if (n > raw.len - at) n = raw.len - at;
        mcp_str in = {raw.data + at, n};
        rc = mcp_http_parser_next(&p, &in, &req);
        at += n - in.len;
    }
    assert_int_equal(rc, MCP_HTTP_REQUEST);
    assert_int_equal(req.headers[MCP_HTTP_H_ACCEPT].len, 200 * 1024);
    assert_true(p.head.cap >= 200 * 1024);
    mcp_str in = {raw.data + at, raw.len - at};
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    assert_true(p.head.cap <= 64 * 1024);
    mcp_http_parser_free(&p);
    mcp_buf_free(&raw);
}

/* Feed RAW in reads cut at the given points, each read from a buffer that
 * is overwritten as soon as the parser returns. */
static void parse_in_pieces(const size_t *cuts, size_t ncuts, seen *out) {
    size_t len = sizeof RAW - 1;
    mcp_http_parser p;
    assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
    char *scratch = malloc(len);
    assert_non_null(scratch);
    size_t at = 0;
    int got = 0;
    for (size_t i = 0; i <= ncuts && !got; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end <= at) continue;
        memcpy(scratch, RAW + at, end - at);
        mcp_str in = {scratch, end - at};
        mcp_http_request req;
        int rc = mcp_http_parser_next(&p, &in, &req);
        if (rc == MCP_HTTP_REQUEST) {
            assert_int_equal(end, len); /* not before the last byte */
            record(&req, out);
            got = 1;
        } else {
            assert_int_equal(rc, MCP_HTTP_MORE);
        }
        memset(scratch, 'Z', len); /* the read buffer is reused */
        at = end;
    }
    assert_int_equal(got, 1);
    free(scratch);
    mcp_http_parser_free(&p);
}

static void split_requests_parse_the_same(void **state) {
    (void)state;
    size_t len = sizeof RAW - 1;
    seen s;
    for (size_t cut = 1; cut < len; cut++) {
        parse_in_pieces(&cut, 1, &s);
        check_fields(&s);
    }
    /* Three reads, cut at every pair of points seven bytes apart. */
    for (size_t cut = 1; cut + 7 < len; cut++) {
        size_t cuts[2] = {cut, cut + 7};
        parse_in_pieces(cuts, 2, &s);
        check_fields(&s);
    }
    /* Byte by byte. */
    size_t *every = malloc(len * sizeof *every);
    assert_non_null(every);
    for (size_t i = 0; i < len; i++) every[i] = i + 1;
    parse_in_pieces(every, len, &s);
    check_fields(&s);
    free(every);
}

/* ---- Connection: the JSON answer and the Host check ------------------------------- */
#define BODY                                                                                            \
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":" \
    "{\"text\":\"hi\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","          \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

typedef struct fixture {
    mcp_server *server;
    mcp_http_server *http;
    mcp_http_conn *conn;
} fixture;

/* Two progress notifications before the result: a stream of three events. */
static int tool_progress(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    mcp_call_progress(call, 1, 2, "half");
    mcp_call_progress(call, 2, 2, "done");
    return mcp_call_text(call, "progressed");
}

static void fixture_open_with(fixture *f, bool prefer_sse) {
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "progress", .fn = tool_progress}), 0);
    mcp_net_limits limits = {.max_message_size = 1 << 20, .idle_timeout_ms = 60000};
    mcp_http_opts opts = {.prefer_sse = prefer_sse};
    assert_int_equal(mcp_http_server_new(&f->http, f->server, &(mcp_listen){.http = "127.0.0.1:0", .http_opts = &opts},
                                         &limits, 1),
                     0);
    f->conn = mcp_http_conn_new(f->http, 0, &(mcp_http_conn_io){0});
    assert_non_null(f->conn);
}

static void fixture_open(fixture *f) { fixture_open_with(f, false); }

static void fixture_close(fixture *f) {
    mcp_session *modern = mcp_http_conn_detach(f->conn);
    if (modern) mcp_session_free(modern);
    mcp_http_conn_free(f->conn);
    mcp_http_server_free(f->http);
    mcp_server_free(f->server);
}

#define PROGRESS_BODY                                                                                    \
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\",\"arguments\":{}," \
    "\"_meta\":{\"progressToken\":5,\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                 \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

/* One POST of a tools/call with the given Host and extra header lines; the
 * answer's bytes are left in out (a NUL-terminated copy). */
static void post_body(fixture *f, const char *host, const char *extra, const char *tool, const char *body, char *out,
                      size_t cap) {
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                     "Mcp-Method: tools/call\r\nMcp-Name: %s\r\n%sContent-Length: %zu\r\n\r\n%s",
                     host, tool, extra, strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof req);
    mcp_http_conn_feed(f->conn, req, (size_t)n, 1000);
    mcp_buf *o = mcp_http_conn_out(f->conn);
    assert_true(o->len < cap);
    memcpy(out, o->data, o->len);
    out[o->len] = '\0';
    mcp_buf_reset(o);
}

static void post(fixture *f, const char *host, const char *extra, char *out, size_t cap) {
    post_body(f, host, extra, "echo", BODY, out, cap);
}

static void json_answer_head_is_exact(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    char out[4096];
    post(&f, "127.0.0.1", "", out, sizeof out);
    const char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    char head[256];
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             strlen(body));
    assert_int_equal(strncmp(out, head, strlen(head)), 0);
    assert_non_null(strstr(body, "\"id\":7,\"result\""));
    assert_non_null(strstr(body, "\"text\":\"hi\""));
    assert_false(mcp_http_conn_should_close(f.conn));

    /* The client's last request: the answer says the connection ends. */
    post(&f, "127.0.0.1", "Connection: close\r\n", out, sizeof out);
    body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             strlen(body));
    assert_int_equal(strncmp(out, head, strlen(head)), 0);
    assert_true(mcp_http_conn_should_close(f.conn));
    fixture_close(&f);
}

/* The SSE answer that carries only the reply, written at once, has the
 * bytes of the general stream path: head, one chunk holding one event,
 * the last chunk. A reply after notifications goes the general way. */
static void sse_answer_of_one_event_is_exact(void **state) {
    (void)state;
    fixture f;
    fixture_open_with(&f, true);
    char out[4096];
    post(&f, "127.0.0.1", "", out, sizeof out);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n";
    assert_int_equal(strncmp(out, head, sizeof head - 1), 0);
    const char *chunk = out + sizeof head - 1;
    char *after;
    unsigned long size = strtoul(chunk, &after, 16);
    assert_true(starts(after, "\r\nevent: message\ndata: {"));
    const char *event = after + 2;
    assert_true(starts(event + size - 2, "\n\n\r\n0\r\n\r\n"));
    assert_int_equal(strlen(event + size), 7); /* "\r\n0\r\n\r\n": nothing after the last chunk */
    assert_non_null(strstr(event, "\"id\":7,\"result\""));
    assert_null(memchr(event + 21, '\n', size - 23)); /* one data line */

    /* Notifications first: the stream opens, then three events follow. */
    post_body(&f, "127.0.0.1", "", "progress", PROGRESS_BODY, out, sizeof out);
    assert_int_equal(strncmp(out, head, sizeof head - 1), 0);
    int events = 0;
    for (const char *p = out; (p = strstr(p, "event: message\n")) != NULL; p++) events++;
    assert_int_equal(events, 3);
    assert_non_null(strstr(out, "notifications/progress"));
    assert_non_null(strstr(out, "\"text\":\"progressed\""));
    assert_non_null(strstr(out, "\r\n0\r\n\r\n"));
    fixture_close(&f);
}

static void remembered_host_lets_no_other_through(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    char out[4096];
    post(&f, "127.0.0.1", "", out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    /* Same length as the allowed one, differing in one byte. */
    post(&f, "127.0.0.2", "", out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 403 ", 13), 0);
    post(&f, "evil.example", "", out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 403 ", 13), 0);
    post(&f, "localhost:3000", "", out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    post(&f, "127.0.0.1", "", out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    fixture_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_request_is_not_copied),
        cmocka_unit_test(split_requests_parse_the_same),
        cmocka_unit_test(json_answer_head_is_exact),
        cmocka_unit_test(sse_answer_of_one_event_is_exact),
        cmocka_unit_test(remembered_host_lets_no_other_through),
        cmocka_unit_test(alternating_joined_headers_stay_bounded),
        cmocka_unit_test(a_large_head_is_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
