/*
 * Exchanges (one per HTTP request) are pooled by the thread whose
 * connections made them, not by each connection (http_conn.c). These
 * cases check, without sockets, that an exchange reused by another
 * connection carries nothing of its last request: a stream with a progress
 * token on one connection, then plain requests on another, each answered
 * as its own; pipelined requests spread over several connections; and the
 * pool goes with the thread's last connection (the sanitizer build sees a
 * leak otherwise).
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

#define MODERN_META_FIELDS                                                                         \
    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                                  \
    "\"io.modelcontextprotocol/clientCapabilities\":{}"

/* A progress notification (the request's token), then the result. */
static int tool_progress(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    mcp_call_progress(call, 1, 2, "half");
    return mcp_call_text(call, "progressed");
}

typedef struct fixture {
    mcp_server *server;
    mcp_http_server *http;
} fixture;

static void fixture_open(fixture *f) {
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "progress", .fn = tool_progress}), 0);
    mcp_net_limits limits = {.max_message_size = 1 << 20, .idle_timeout_ms = 60000};
    assert_int_equal(mcp_http_server_new(&f->http, f->server, &(mcp_listen){.http = "127.0.0.1:0"}, &limits, 1), 0);
}

static void fixture_close(fixture *f) {
    mcp_http_server_free(f->http);
    mcp_server_free(f->server);
}

static mcp_http_conn *conn_open(fixture *f) {
    mcp_http_conn *conn = mcp_http_conn_new(f->http, 0, &(mcp_http_conn_io){0});
    assert_non_null(conn);
    return conn;
}

static void conn_close(mcp_http_conn *conn) {
    mcp_session *modern = mcp_http_conn_detach(conn);
    if (modern) mcp_session_free(modern);
    mcp_http_conn_free(conn);
}

static void append_post(mcp_buf *req, const char *id, const char *tool, const char *text, const char *token) {
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                     "\"arguments\":{\"text\":\"%s\"},\"_meta\":{%s%s%s" MODERN_META_FIELDS "}}}",
                     id, tool, text, token ? "\"progressToken\":" : "", token ? token : "", token ? "," : "");
    assert_true(n > 0 && (size_t)n < sizeof body);
    assert_int_equal(mcp_buf_appendf(req,
                                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                     "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: "
                                     "2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\nContent-Length: "
                                     "%d\r\n\r\n%s",
                                     tool, n, body),
                     0);
}

/* Feed req to conn; what it wrote, NUL-terminated, into out. */
static void feed(mcp_http_conn *conn, const mcp_buf *req, mcp_buf *out) {
    mcp_http_conn_feed(conn, req->data, req->len, 1000);
    mcp_buf *o = mcp_http_conn_out(conn);
    mcp_buf_reset(out);
    assert_int_equal(mcp_buf_append(out, o->data, o->len), 0);
    mcp_buf_reset(o);
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static size_t count(const char *s, const char *what) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

static void reused_exchange_forgets_its_last_request(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    mcp_http_conn *a = conn_open(&f), *b = conn_open(&f);
    mcp_buf req, out;
    mcp_buf_init(&req);
    mcp_buf_init(&out);
    for (int round = 0; round < 3; round++) {
        /* A: a stream (its notification names token 77), then a plain answer. */
        mcp_buf_reset(&req);
        append_post(&req, "\"a-1\"", "progress", "", "77");
        feed(a, &req, &out);
        assert_true(starts(out.data, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"));
        assert_int_equal(count(out.data, "\"progressToken\":77"), 1);
        assert_int_equal(count(out.data, "\"id\":\"a-1\""), 1);
        /* B, on the exchange A gave back: its own id, no token, JSON. */
        mcp_buf_reset(&req);
        append_post(&req, "5", "echo", "bee", NULL);
        feed(b, &req, &out);
        assert_true(starts(out.data, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert_int_equal(count(out.data, "\"id\":5,"), 1);
        assert_int_equal(count(out.data, "\"text\":\"bee\""), 1);
        assert_int_equal(count(out.data, "progress"), 0);
        assert_int_equal(count(out.data, "a-1"), 0);
    }
    assert_int_equal(mcp_http_conn_inflight(a), 0);
    assert_int_equal(mcp_http_conn_inflight(b), 0);
    conn_close(a);
    /* The pool outlives one connection of the thread... */
    mcp_buf_reset(&req);
    append_post(&req, "6", "echo", "still", NULL);
    feed(b, &req, &out);
    assert_int_equal(count(out.data, "\"text\":\"still\""), 1);
    /* ...and goes with the last. */
    conn_close(b);
    mcp_buf_free(&req);
    mcp_buf_free(&out);
    fixture_close(&f);
}

/* Pipelined requests on three connections in turn, more than the pool
 * keeps: each connection's answers are its own, in order. */
static void pipelined_requests_across_connections(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    enum { CONNS = 3, DEPTH = 40 };
    mcp_http_conn *c[CONNS];
    for (int k = 0; k < CONNS; k++) c[k] = conn_open(&f);
    mcp_buf req, out;
    mcp_buf_init(&req);
    mcp_buf_init(&out);
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < CONNS; k++) {
            mcp_buf_reset(&req);
            for (int i = 0; i < DEPTH; i++) {
                char id[16], text[32];
                snprintf(id, sizeof id, "%d", k * 1000 + i);
                snprintf(text, sizeof text, "c%d-r%d-%d", k, round, i);
                append_post(&req, id, "echo", text, NULL);
            }
            feed(c[k], &req, &out);
            const char *p = out.data;
            for (int i = 0; i < DEPTH; i++) {
                char want[64];
                snprintf(want, sizeof want, "\"id\":%d,", k * 1000 + i);
                const char *at = strstr(p, want);
                assert_non_null(at);
                snprintf(want, sizeof want, "\"text\":\"c%d-r%d-%d\"", k, round, i);
                assert_non_null(strstr(at, want));
                p = at + 1;
            }
            assert_int_equal(count(out.data, "HTTP/1.1 200 OK"), DEPTH);
        }
    }
    for (int k = 0; k < CONNS; k++) conn_close(c[k]);
    mcp_buf_free(&req);
    mcp_buf_free(&out);
    fixture_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reused_exchange_forgets_its_last_request),
        cmocka_unit_test(pipelined_requests_across_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
