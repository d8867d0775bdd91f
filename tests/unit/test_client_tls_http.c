/*
 * test_client_tls_http.c — HTTPS underneath the HTTP client's wire: a
 * verified TLS stream (net/client_tls.h) spoken to the way the Streamable
 * HTTP client speaks to its connections (write, poll the descriptor unless
 * the stream holds decrypted bytes, read without waiting). Against the
 * mcpd binary ($MCPD_BIN serve --http --tls-cert/--tls-key, a self-signed
 * certificate for CN=localhost made here): a modern-era tools/call and a
 * handshake-era session (initialize, tools/call with the session id) over
 * one keep-alive connection; a large answer crosses intact and the
 * server's close then reads as the end of the stream; bytes left in a TLS
 * record are reported as buffered, and a poll of the socket would not
 * show them; connections cost no thread, also when closed mid-answer; the
 * certificate is refused for a wrong name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_loopback.h"
#include "test_tls_serve.h"

#include "net/client_tls.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int http_port;
static char port_text[16];

static int start_server(void **state)
{
    (void)state;
    http_port = free_port();
    snprintf(port_text, sizeof port_text, "%d", http_port);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", http_port);
    tls_server_start((const char *const[]){"--http", addr, NULL});
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    tls_server_stop();
    return 0;
}

/* A verified TLS connection to the server. */
static int open_https(const mcp_connect_opts *opts, const char *host, char *why, size_t why_size,
                      mcp_client_stream **s)
{
    mcp_client_tls *tls = NULL;
    int rc = mcp_client_tls_new(&tls, opts, why, why_size);
    assert_int_equal(rc, 0);
    rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        rc = mcp_client_stream_dial(s, host, port_text, tls, 5000, why, why_size);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    /* The context may go: each connection keeps what it needs. */
    mcp_client_tls_free(tls);
    return rc;
}

static mcp_client_stream *open_trusted(void)
{
    need_server();
    char why[256] = "";
    mcp_client_stream *s = NULL;
    int rc = open_https(&(mcp_connect_opts){.tls_ca_file = cert.cert}, "localhost", why, sizeof why, &s);
    if (rc != 0)
        fail_msg("https to localhost:%d: %s: %s", http_port, mcp_strerror(rc), why);
    return s;
}

static void write_text(mcp_client_stream *s, const char *text)
{
    assert_int_equal(mcp_client_stream_write(s, text, strlen(text), 10000), 0);
}

/* What arrives next, the way the HTTP client reads it: poll the socket
 * unless the stream already holds decrypted bytes, then read without
 * waiting (a wake-up for part of a record reads nothing). 0 or
 * MCP_ECLOSED. */
static int read_some(mcp_client_stream *s, char *buf, size_t cap, size_t *got)
{
    for (;;) {
        if (!mcp_client_stream_buffered(s)) {
            struct pollfd p = {.fd = mcp_client_stream_fd(s), .events = POLLIN};
            assert_int_equal(poll(&p, 1, 10000), 1);
        }
        int rc = mcp_client_stream_read(s, buf, cap, 0, got);
        if (rc != MCP_ETIMEDOUT) {
            assert_true(rc == 0 || rc == MCP_ECLOSED);
            return rc;
        }
    }
}

static void read_until_text(mcp_client_stream *s, mcp_buf *got, const char *until)
{
    while (!got->data || !strstr(got->data, until)) {
        char buf[4096];
        size_t n = 0;
        if (read_some(s, buf, sizeof buf, &n) != 0)
            fail_msg("the connection ended before \"%s\"", until);
        mcp_buf_append(got, buf, n);
    }
}

/* One whole response: its head, then Content-Length bytes of body. */
static void read_response(mcp_client_stream *s, mcp_buf *got)
{
    mcp_buf_reset(got);
    size_t need = 0;
    for (;;) {
        char *end = got->data ? strstr(got->data, "\r\n\r\n") : NULL;
        if (end && !need) {
            const char *cl = strcasestr(got->data, "Content-Length:");
            assert_non_null(cl);
            need = (size_t)(end - got->data) + 4 + strtoul(cl + 15, NULL, 10);
        }
        if (need && got->len >= need)
            return;
        char buf[16384];
        size_t n = 0;
        if (read_some(s, buf, sizeof buf, &n) != 0)
            fail_msg("the connection ended before the response did: %.*s", (int)got->len, got->data ? got->data : "");
        mcp_buf_append(got, buf, n);
    }
}

static void post(mcp_client_stream *s, const char *headers, const char *body, mcp_buf *got)
{
    char head[1024];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n",
             http_port, headers, strlen(body));
    write_text(s, head);
    write_text(s, body);
    read_response(s, got);
}

#define MODERN_META                                                                                  \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                        \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static void modern_and_handshake_era_over_one_connection(void **state)
{
    (void)state;
    mcp_client_stream *s = open_trusted();
    mcp_buf got;
    mcp_buf_init(&got);
    post(s, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: add\r\n",
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
         "\"arguments\":{\"a\":2,\"b\":40}," MODERN_META "}}",
         &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_non_null(strstr(got.data, "\"sum\":42"));

    post(s, "",
         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
         "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
         &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    const char *sid = strcasestr(got.data, "Mcp-Session-Id:");
    assert_non_null(sid);
    sid += 15;
    while (*sid == ' ')
        sid++;
    char session[128];
    size_t n = strcspn(sid, "\r\n");
    assert_true(n > 0 && n < sizeof session);
    memcpy(session, sid, n);
    session[n] = '\0';
    char headers[256];
    snprintf(headers, sizeof headers, "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-11-25\r\n", session);
    char head[1024];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n%s",
             http_port, headers, strlen("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    write_text(s, head);
    mcp_buf_reset(&got);
    read_until_text(s, &got, "\r\n\r\n");
    assert_non_null(strstr(got.data, "HTTP/1.1 202"));
    post(s, headers,
         "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
         "\"arguments\":{\"text\":\"over https\"}}}",
         &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_non_null(strstr(got.data, "over https"));
    mcp_buf_free(&got);
    mcp_client_stream_close(s);
}

static void large_answer_then_the_server_closes(void **state)
{
    (void)state;
    mcp_client_stream *s = open_trusted();
    size_t big = 300 * 1024;
    mcp_buf body;
    mcp_buf_init(&body);
    mcp_buf_append_cstr(&body, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                               "\"arguments\":{\"text\":\"");
    for (size_t i = 0; i < big; i++)
        mcp_buf_append_char(&body, (char)('a' + i % 26));
    mcp_buf_append_cstr(&body, "\"}," MODERN_META "}}");
    mcp_buf got;
    mcp_buf_init(&got);
    /* Connection: close: the server ends the connection after its answer,
     * and the stream must give every byte before it reads as the end. */
    post(s, "Connection: close\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n",
         body.data, &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_true(got.len > big);
    assert_non_null(strstr(got.data, "xyzabcdefghijklmnopqrstuvwxyzabc"));
    char c;
    size_t n = 0;
    assert_int_equal(read_some(s, &c, 1, &n), MCP_ECLOSED);
    assert_int_equal(n, 0);
    mcp_buf_free(&got);
    mcp_buf_free(&body);
    mcp_client_stream_close(s);
}

/* A TLS record read in part leaves the rest decrypted inside the stream,
 * where a poll of the socket cannot see it: buffered says so, and a read
 * that does not wait returns it, for as long as buffered says so. */
static void a_record_read_in_part_is_buffered(void **state)
{
    (void)state;
    mcp_client_stream *s = open_trusted();
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
                       "\"arguments\":{\"a\":3,\"b\":4}," MODERN_META "}}";
    char head[512];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
             "Mcp-Name: add\r\nContent-Length: %zu\r\n\r\n",
             http_port, strlen(body));
    write_text(s, head);
    write_text(s, body);
    char first[8];
    size_t n = 0;
    assert_int_equal(read_some(s, first, sizeof first, &n), 0);
    assert_int_equal(n, sizeof first);
    assert_memory_equal(first, "HTTP/1.1", 8);
    assert_true(mcp_client_stream_buffered(s));
    mcp_buf got;
    mcp_buf_init(&got);
    while (mcp_client_stream_buffered(s)) {
        char part[16];
        assert_int_equal(mcp_client_stream_read(s, part, sizeof part, 0, &n), 0);
        assert_true(n > 0);
        mcp_buf_append(&got, part, n);
    }
    if (!strstr(got.data, "\"sum\":7"))
        read_until_text(s, &got, "\"sum\":7");
    mcp_buf_free(&got);
    mcp_client_stream_close(s);
}

/* Connections are read on the caller's thread: opening them, walking
 * away from one in the middle of a large answer and reading the end of
 * another that the server closed start and leave no thread. */
static void connections_need_no_thread(void **state)
{
    (void)state;
    int base = thread_count();
    mcp_client_stream *s = open_trusted();
    mcp_client_stream *s2 = open_trusted();
    assert_int_equal(thread_count(), base);
    size_t big = 2 * 1024 * 1024;
    mcp_buf body;
    mcp_buf_init(&body);
    mcp_buf_append_cstr(&body, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                               "\"arguments\":{\"text\":\"");
    for (size_t i = 0; i < big; i++)
        mcp_buf_append_char(&body, 'z');
    mcp_buf_append_cstr(&body, "\"}," MODERN_META "}}");
    char head[512];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
             "Mcp-Name: echo\r\nContent-Length: %zu\r\n\r\n",
             http_port, body.len);
    write_text(s, head);
    write_text(s, body.data);
    /* The first bytes of the answer, then walk away from the rest. */
    char buf[4096];
    size_t n = 0;
    assert_int_equal(read_some(s, buf, sizeof buf, &n), 0);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    mcp_client_stream_close(s);

    /* The server closes (Connection: close); we read the end, then close. */
    mcp_buf got;
    mcp_buf_init(&got);
    post(s2, "Connection: close\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: add\r\n",
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
         "\"arguments\":{\"a\":1,\"b\":1}," MODERN_META "}}",
         &got);
    assert_non_null(strstr(got.data, "\"sum\":2"));
    assert_int_equal(read_some(s2, buf, sizeof buf, &n), MCP_ECLOSED);
    mcp_client_stream_close(s2);
    assert_int_equal(thread_count(), base);
    mcp_buf_free(&got);
    mcp_buf_free(&body);
}

static void wrong_name_is_refused_before_any_connection(void **state)
{
    (void)state;
    need_server();
    char why[256] = "";
    mcp_client_stream *s = NULL;
    int rc = open_https(&(mcp_connect_opts){.tls_ca_file = cert.cert}, "127.0.0.1", why, sizeof why, &s);
    assert_int_equal(rc, MCP_EPROTO);
    assert_null(s);
    assert_non_null(strstr(why, "IP address mismatch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modern_and_handshake_era_over_one_connection),
        cmocka_unit_test(large_answer_then_the_server_closes),
        cmocka_unit_test(a_record_read_in_part_is_buffered),
        cmocka_unit_test(connections_need_no_thread),
        cmocka_unit_test(wrong_name_is_refused_before_any_connection),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
