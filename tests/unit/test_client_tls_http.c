/*
 * test_client_tls_http.c — HTTPS underneath the HTTP client's wire: a
 * verified TLS stream (net/client_tls.h) moved behind a plain descriptor by
 * the relay, then spoken to with nothing but write, poll and read, the way
 * the Streamable HTTP client speaks to its connections. Against the mcpd
 * binary ($MCPD_BIN serve --http --tls-cert/--tls-key, a self-signed
 * certificate for CN=localhost made here): a modern-era tools/call and a
 * handshake-era session (initialize, tools/call with the session id) over
 * one keep-alive connection; the relay hands over the server's last bytes
 * and then reads as end of stream when the server closes; a large answer
 * crosses intact; each connection's relay thread ends when its descriptor
 * is closed (idle, mid-answer) or the server leaves; the certificate is
 * refused for a wrong name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"
#include "test_tls_cert.h"

#include "net/client_tls.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static test_cert cert;
static bool have_cert;
static pid_t server_pid;
static int http_port;
static char port_text[16];

static int start_server(void **state)
{
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin)
        return 0;
    have_cert = test_cert_make(&cert);
    if (!have_cert)
        return 0;
    http_port = free_port();
    snprintf(port_text, sizeof port_text, "%d", http_port);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", http_port);
    server_pid = fork();
    if (server_pid == 0) {
        execl(bin, bin, "serve", "--http", addr, "--tls-cert", cert.cert, "--tls-key", cert.key, "--workers", "1",
              "--log-level", "error", (char *)NULL);
        _exit(127);
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    if (have_cert)
        test_cert_remove(&cert);
    return 0;
}

/* A verified TLS connection to the server, behind a plain descriptor. */
static int open_https(const mcp_connect_opts *opts, const char *host, char *why, size_t why_size, int *fd)
{
    mcp_client_tls *tls = NULL;
    int rc = mcp_client_tls_new(&tls, opts, why, why_size);
    assert_int_equal(rc, 0);
    mcp_client_stream *s = NULL;
    rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        rc = mcp_client_stream_dial(&s, host, port_text, tls, 5000, why, why_size);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    /* The context may go: each connection keeps what it needs. */
    mcp_client_tls_free(tls);
    if (rc != 0)
        return rc;
    return mcp_client_stream_relay(s, fd);
}

static int open_trusted(void)
{
    if (server_pid <= 0) {
        printf("SKIPPED: needs $MCPD_BIN and the openssl command\n");
        skip();
    }
    char why[256] = "";
    int fd = -1;
    int rc = open_https(&(mcp_connect_opts){.tls_ca_file = cert.cert}, "localhost", why, sizeof why, &fd);
    if (rc != 0)
        fail_msg("https to localhost:%d: %s: %s", http_port, mcp_strerror(rc), why);
    return fd;
}

/* One whole response: its head, then Content-Length bytes of body. */
static void read_response(int fd, mcp_buf *got)
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
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            fail_msg("the connection ended before the response did: %.*s", (int)got->len, got->data ? got->data : "");
        mcp_buf_append(got, buf, (size_t)n);
    }
}

static void post(int fd, const char *headers, const char *body, mcp_buf *got)
{
    char head[1024];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n",
             http_port, headers, strlen(body));
    send_all(fd, head);
    send_all(fd, body);
    read_response(fd, got);
}

#define MODERN_META                                                                                  \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                        \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static void modern_and_handshake_era_over_one_connection(void **state)
{
    (void)state;
    int fd = open_trusted();
    mcp_buf got;
    mcp_buf_init(&got);
    post(fd, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: add\r\n",
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
         "\"arguments\":{\"a\":2,\"b\":40}," MODERN_META "}}",
         &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_non_null(strstr(got.data, "\"sum\":42"));

    post(fd, "",
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
    send_all(fd, head);
    mcp_buf_reset(&got);
    read_until(fd, &got, "\r\n\r\n");
    assert_non_null(strstr(got.data, "HTTP/1.1 202"));
    post(fd, headers,
         "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
         "\"arguments\":{\"text\":\"over https\"}}}",
         &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_non_null(strstr(got.data, "over https"));
    mcp_buf_free(&got);
    close(fd);
}

static void large_answer_then_the_server_closes(void **state)
{
    (void)state;
    int fd = open_trusted();
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
     * and the descriptor must give every byte before it reads as the end. */
    post(fd, "Connection: close\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n",
         body.data, &got);
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    assert_true(got.len > big);
    assert_non_null(strstr(got.data, "xyzabcdefghijklmnopqrstuvwxyzabc"));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    mcp_buf_free(&got);
    mcp_buf_free(&body);
    close(fd);
}

/* Threads of this process, from /proc. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void wait_threads(int want)
{
    for (int i = 0; i < 200 && thread_count() != want; i++)
        usleep(10 * 1000);
    assert_int_equal(thread_count(), want);
}

/* Each connection has its relay thread, and closing the descriptor ends
 * it: idle, in the middle of a large answer, or after the server left. */
static void closing_the_descriptor_ends_the_relay(void **state)
{
    (void)state;
    int fd = open_trusted();
    close(fd);
    int base = 1; /* this test runs on one thread: every earlier relay must end */
    wait_threads(base);
    fd = open_trusted();
    assert_int_equal(thread_count(), base + 1);
    close(fd);
    wait_threads(base);

    fd = open_trusted();
    int fd2 = open_trusted();
    assert_int_equal(thread_count(), base + 2);
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
    send_all(fd, head);
    send_all(fd, body.data);
    /* Wait for the first bytes of the answer, then walk away from the rest. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    close(fd);
    wait_threads(base + 1);

    /* The server closes (Connection: close); we read the end, then close. */
    mcp_buf got;
    mcp_buf_init(&got);
    post(fd2, "Connection: close\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: add\r\n",
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
         "\"arguments\":{\"a\":1,\"b\":1}," MODERN_META "}}",
         &got);
    assert_non_null(strstr(got.data, "\"sum\":2"));
    char c;
    assert_int_equal(read(fd2, &c, 1), 0);
    wait_threads(base);
    close(fd2);
    mcp_buf_free(&got);
    mcp_buf_free(&body);
}

static void wrong_name_is_refused_before_any_descriptor(void **state)
{
    (void)state;
    if (server_pid <= 0)
        skip();
    char why[256] = "";
    int fd = -1;
    int rc = open_https(&(mcp_connect_opts){.tls_ca_file = cert.cert}, "127.0.0.1", why, sizeof why, &fd);
    assert_int_equal(rc, MCP_EPROTO);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(why, "IP address mismatch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modern_and_handshake_era_over_one_connection),
        cmocka_unit_test(large_answer_then_the_server_closes),
        cmocka_unit_test(closing_the_descriptor_ends_the_relay),
        cmocka_unit_test(wrong_name_is_refused_before_any_descriptor),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
