/*
 * /metrics of a real `mcpd serve` with several listeners reports every
 * listener's connection and limit counters, each series labelled
 * listener="stdio"|"tcp"|"http"|"ws", not only those of the HTTP listener
 * that serves the scrape. The tests open connections on each listener,
 * make a limit fire on a listener other than HTTP (a line over
 * --max-message-size), scrape over a plain socket, check the values per
 * listener and hand the text to promtool. Further tests drive the counters
 * of single features to non-zero values on a real scrape: HTTP liveness
 * pings and the session they drop, WebSocket upgrades, refusals and fault
 * closes, and failed TLS handshakes (scraped over TLS).
 */
#include "mcp/base.h"
#include "test_tls_cert.h"

#include <openssl/ssl.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_mcpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT "1024"

/* Read into out (NUL-terminated) until it holds end, up to 5 s. */
static bool recv_until(int fd, char *out, size_t cap, const char *end) {
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = 0;
    out[0] = '\0';
    while (!strstr(out, end)) {
        if (len + 1 >= cap) return false;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0) return false;
        len += (size_t)n;
        out[len] = '\0';
    }
    return true;
}

/* Set while a test scrapes an HTTP listener that serves TLS. */
static SSL_CTX *scrape_tls;

/* The request over TLS: the whole response into b. */
static void tls_exchange(int fd, const char *req, size_t len, mcp_buf *b) {
    SSL *ssl = SSL_new(scrape_tls);
    if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 && SSL_write(ssl, req, (int)len) == (int)len) {
        char chunk[4096];
        int got;
        while ((got = SSL_read(ssl, chunk, sizeof chunk)) > 0) mcp_buf_append(b, chunk, (size_t)got);
    }
    SSL_free(ssl);
}

/* GET /metrics on a fresh connection; the body (caller frees), or NULL. */
static char *scrape(int port) {
    int fd = mcpd_connect(port);
    if (fd < 0) return NULL;
    char req[128];
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                     port);
    mcp_buf b;
    mcp_buf_init(&b);
    if (scrape_tls) {
        tls_exchange(fd, req, (size_t)n, &b);
    } else if (mcpd_send_all(fd, req, (size_t)n)) {
        char chunk[4096];
        ssize_t got;
        while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0) mcp_buf_append(&b, chunk, (size_t)got);
    }
    close(fd);
    mcp_buf_append_char(&b, '\0');
    char *body = strstr(b.data, "\r\n\r\n");
    if (!strstr(b.data, "HTTP/1.1 200") || !body) {
        mcp_buf_free(&b);
        return NULL;
    }
    char *text = strdup(body + 4);
    mcp_buf_free(&b);
    return text;
}

/* The value of the sample written exactly as series, or -1. */
static double sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return atof(p + n + 1);
    return -1;
}

static void assert_sample(const char *text, const char *series, double want) {
    double got = sample(text, series);
    if (got != want) fail_msg("%s: want %g, got %g in\n%s", series, want, got, text);
}

/* A line over the limit: the TCP listener answers -32600 and counts it. */
static void tcp_oversized(int fd) {
    char line[2048];
    memset(line, 'a', sizeof line);
    memcpy(line, "{\"x\":\"", 6);
    memcpy(line + sizeof line - 3, "\"}\n", 3);
    assert_true(mcpd_send_all(fd, line, sizeof line));
    char reply[512];
    assert_true(recv_until(fd, reply, sizeof reply, "\n"));
    assert_non_null(strstr(reply, "-32600"));
}

static int ws_open(int port) {
    int fd = mcpd_connect(port);
    assert_true(fd >= 0);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     port);
    assert_true(mcpd_send_all(fd, req, (size_t)n));
    char reply[1024];
    assert_true(recv_until(fd, reply, sizeof reply, "\r\n\r\n"));
    assert_non_null(strstr(reply, "HTTP/1.1 101"));
    return fd;
}

/* Scrape until series reads want (a close is counted after the peer's FIN
 * is seen), up to 5 s; the last text (caller frees). */
static char *scrape_until(int port, const char *series, double want) {
    char *text = NULL;
    for (int i = 0; i < 100; i++) {
        free(text);
        text = scrape(port);
        assert_non_null(text);
        if (sample(text, series) == want) break;
        usleep(50000);
    }
    return text;
}

static void test_tcp_http_ws_listeners(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    char err_path[64];
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-listeners-%d.err", (int)getpid());
    char *argv[] = {(char *)bin, "serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                    "--metrics", "--workers", "1", "--max-message-size", LIMIT, "--log-level", "info", NULL};
    pid_t server = mcpd_spawn(argv, -1, -1, NULL, err_path);
    assert_true(server > 0);
    int tcp_port = mcpd_logged_port(err_path, "tcp");
    int http_port = mcpd_logged_port(err_path, "http");
    int ws_port = mcpd_logged_port(err_path, "ws");
    assert_true(tcp_port > 0 && http_port > 0 && ws_port > 0);

    int tcp = mcpd_connect(tcp_port);
    assert_true(tcp >= 0);
    tcp_oversized(tcp);
    int ws = ws_open(ws_port);

    /* A body over the limit on HTTP: 413, counted apart from the others. */
    int post = mcpd_connect(http_port);
    assert_true(post >= 0);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\nContent-Length: 4096\r\n\r\n",
                     http_port);
    assert_true(mcpd_send_all(post, head, (size_t)n));
    char reply[1024];
    assert_true(recv_until(post, reply, sizeof reply, "\r\n\r\n"));
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    close(post);

    char *text = scrape_until(http_port, "mcp_net_connections_active{listener=\"http\"}", 1);
    assert_non_null(text);
    /* The scrape's own connection is the HTTP listener's only one. */
    assert_sample(text, "mcp_net_connections_active{listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_connections_active{listener=\"http\"}", 1);
    assert_sample(text, "mcp_net_connections_active{listener=\"ws\"}", 1);
    assert_sample(text, "mcp_net_connections_accepted_total{listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_connections_accepted_total{listener=\"ws\"}", 1);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_message_size\",listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_message_size\",listener=\"http\"}", 0);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_message_size\",listener=\"ws\"}", 0);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_connections\",listener=\"ws\"}", 0);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_body_size\",listener=\"http\"}", 1);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_header_size\",listener=\"http\"}", 0);
    /* HTTP's own limits exist only for the HTTP listener. */
    assert_true(sample(text, "mcp_net_limit_events_total{limit=\"max_body_size\",listener=\"tcp\"}") < 0);
    assert_true(sample(text, "mcp_net_bytes_total{direction=\"in\",listener=\"tcp\"}") >= 2048);
    /* One series per listener, no unlabelled leftover. */
    assert_null(strstr(text, "\nmcp_net_connections_active "));
    assert_true(sample(text, "mcp_net_connections_active{listener=\"stdio\"}") < 0);
    promtool_check(text);
    free(text);

    /* The counters follow the listeners: closing the TCP connection shows. */
    close(tcp);
    text = scrape_until(http_port, "mcp_net_connections_closed_total{listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_connections_closed_total{listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_connections_active{listener=\"tcp\"}", 0);
    assert_sample(text, "mcp_net_connections_active{listener=\"ws\"}", 1);
    free(text);

    close(ws);
    mcpd_stop(server, err_path);
}

static void test_stdio_listener(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    char err_path[64];
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-listeners-stdio-%d.err", (int)getpid());
    int to_server[2], from_server[2];
    assert_int_equal(pipe(to_server), 0);
    assert_int_equal(pipe(from_server), 0);
    /* Our ends must not stay open in the server, or its stdin never ends. */
    for (int i = 0; i < 2; i++) {
        fcntl(to_server[i], F_SETFD, FD_CLOEXEC);
        fcntl(from_server[i], F_SETFD, FD_CLOEXEC);
    }
    char *argv[] = {(char *)bin, "serve", "--stdio", "--http", "127.0.0.1:0", "--metrics", "--workers", "1",
                    "--max-message-size", LIMIT, "--log-level", "info", NULL};
    pid_t server = mcpd_spawn(argv, to_server[0], from_server[1], NULL, err_path);
    assert_true(server > 0);
    close(to_server[0]);
    close(from_server[1]);
    int http_port = mcpd_logged_port(err_path, "http");
    assert_true(http_port > 0);

    /* One line over the limit, one ping: two answers. */
    char line[2048];
    memset(line, 'b', sizeof line);
    memcpy(line, "{\"x\":\"", 6);
    memcpy(line + sizeof line - 3, "\"}\n", 3);
    assert_int_equal(write(to_server[1], line, sizeof line), (ssize_t)sizeof line);
    const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    assert_int_equal(write(to_server[1], ping, sizeof ping - 1), (ssize_t)(sizeof ping - 1));
    char out[1024];
    size_t len = 0;
    out[0] = '\0';
    while (!strstr(out, "\"id\":1")) {
        ssize_t n = read(from_server[0], out + len, sizeof out - 1 - len);
        assert_true(n > 0);
        len += (size_t)n;
        out[len] = '\0';
    }
    assert_non_null(strstr(out, "-32600"));

    char *text = scrape(http_port);
    assert_non_null(text);
    assert_sample(text, "mcp_net_messages_in_total{listener=\"stdio\"}", 1);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_message_size\",listener=\"stdio\"}", 1);
    assert_sample(text, "mcp_net_limit_events_total{limit=\"max_message_size\",listener=\"http\"}", 0);
    assert_sample(text, "mcp_net_bytes_total{direction=\"in\",listener=\"stdio\"}", (double)(sizeof line + sizeof ping - 1));
    assert_sample(text, "mcp_net_output_dropped_total{listener=\"stdio\"}", 0);
    assert_sample(text, "mcp_net_connections_active{listener=\"http\"}", 1);
    /* stdio has one peer and accepts nothing: no connection series for it. */
    assert_true(sample(text, "mcp_net_connections_active{listener=\"stdio\"}") < 0);
    assert_true(sample(text, "mcp_net_connections_active{listener=\"tcp\"}") < 0);
    promtool_check(text);
    free(text);

    /* End of stdin ends serving. */
    close(to_server[1]);
    assert_int_equal(mcpd_wait_exit(server), 0);
    close(from_server[0]);
    unlink(err_path);
}

/* ---- Feature counters: liveness pings, WebSocket, TLS ---------------------------------- */


/* A handshake-era session with a GET stream open on the returned socket. */
static int session_with_get_stream(int port) {
    char sid[33];
    mcpd_open_session(port, sid);
    return mcpd_open_get(port, sid);
}

static void test_ping_and_websocket_counters(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    char err_path[64];
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-listeners-ping-%d.err", (int)getpid());
    char *argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--metrics", "--workers",
                    "1", "--ping-interval", "200", "--ping-timeout", "300", "--log-level", "info", NULL};
    pid_t server = mcpd_spawn(argv, -1, -1, NULL, err_path);
    assert_true(server > 0);
    int http_port = mcpd_logged_port(err_path, "http");
    int ws_port = mcpd_logged_port(err_path, "ws");
    assert_true(http_port > 0 && ws_port > 0);

    /* Before anything happens: the series exist, at zero, on their listener only. */
    char *text = scrape(http_port);
    assert_non_null(text);
    assert_sample(text, "mcp_http_pings_sent_total{listener=\"http\"}", 0);
    assert_sample(text, "mcp_http_sessions_ping_dropped_total{listener=\"http\"}", 0);
    assert_sample(text, "mcp_http_streams_closed_early_total{listener=\"http\"}", 0);
    assert_sample(text, "mcp_ws_upgrades_total{outcome=\"upgraded\",listener=\"ws\"}", 0);
    assert_sample(text, "mcp_ws_upgrades_total{outcome=\"rejected\",listener=\"ws\"}", 0);
    assert_sample(text, "mcp_ws_fault_closes_total{listener=\"ws\"}", 0);
    assert_true(sample(text, "mcp_http_pings_sent_total{listener=\"ws\"}") < 0);
    assert_true(sample(text, "mcp_ws_fault_closes_total{listener=\"http\"}") < 0);
    /* No listener serves TLS: no TLS series. */
    assert_null(strstr(text, "mcp_net_tls_handshakes_total"));
    free(text);

    /* A session that never answers its ping: pinged, then dropped. */
    int get = session_with_get_stream(http_port);
    char stream[4096];
    assert_true(recv_until(get, stream, sizeof stream, "\"method\":\"ping\""));
    text = scrape_until(http_port, "mcp_http_sessions_ping_dropped_total{listener=\"http\"}", 1);
    assert_sample(text, "mcp_http_sessions_ping_dropped_total{listener=\"http\"}", 1);
    assert_sample(text, "mcp_http_pings_sent_total{listener=\"http\"}", 1);
    free(text);
    close(get);

    /* WebSocket: one upgrade, one refusal (a version we do not speak), and a
     * fault: an unmasked client frame, which the protocol forbids (1002). */
    int ws = ws_open(ws_port);
    int bad = mcpd_connect(ws_port);
    assert_true(bad >= 0);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                     ws_port);
    assert_true(mcpd_send_all(bad, req, (size_t)n));
    char reply[1024];
    assert_true(recv_until(bad, reply, sizeof reply, "\r\n\r\n"));
    assert_true(strncmp(reply, "HTTP/1.1 4", 10) == 0);
    close(bad);
    static const char unmasked[] = "\x81\x02hi";
    assert_true(mcpd_send_all(ws, unmasked, sizeof unmasked - 1));
    text = scrape_until(http_port, "mcp_ws_fault_closes_total{listener=\"ws\"}", 1);
    assert_sample(text, "mcp_ws_fault_closes_total{listener=\"ws\"}", 1);
    assert_sample(text, "mcp_ws_upgrades_total{outcome=\"upgraded\",listener=\"ws\"}", 1);
    assert_sample(text, "mcp_ws_upgrades_total{outcome=\"rejected\",listener=\"ws\"}", 1);
    promtool_check(text);
    free(text);
    close(ws);

    mcpd_stop(server, err_path);
}

static void test_tls_handshake_counters(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    test_cert tc;
    if (!test_cert_make(&tc)) skip();
    char err_path[64];
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-listeners-tls-%d.err", (int)getpid());
    char *argv[] = {(char *)bin, "serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--metrics", "--workers",
                    "1", "--tls-cert", tc.cert, "--tls-key", tc.key, "--log-level", "info", NULL};
    pid_t server = mcpd_spawn(argv, -1, -1, NULL, err_path);
    assert_true(server > 0);
    int tcp_port = mcpd_logged_port(err_path, "tcp+tls");
    int http_port = mcpd_logged_port(err_path, "http+tls");
    assert_true(tcp_port > 0 && http_port > 0);
    scrape_tls = SSL_CTX_new(TLS_client_method());
    assert_non_null(scrape_tls);
    SSL_CTX_set_verify(scrape_tls, SSL_VERIFY_NONE, NULL);

    /* Plain text where TLS is expected: the handshake fails and the
     * connection is closed. */
    int plain = mcpd_connect(tcp_port);
    assert_true(plain >= 0);
    static const char line[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    assert_true(mcpd_send_all(plain, line, sizeof line - 1));
    char junk[256];
    struct timeval tv = {.tv_sec = 5};
    setsockopt(plain, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(plain, junk, sizeof junk, 0) > 0) {}
    close(plain);

    char *text = scrape_until(http_port, "mcp_net_tls_handshakes_total{outcome=\"failed\",listener=\"tcp\"}", 1);
    assert_non_null(text);
    assert_sample(text, "mcp_net_tls_handshakes_total{outcome=\"failed\",listener=\"tcp\"}", 1);
    assert_sample(text, "mcp_net_tls_handshakes_total{outcome=\"ok\",listener=\"tcp\"}", 0);
    assert_sample(text, "mcp_net_tls_handshakes_total{outcome=\"failed\",listener=\"http\"}", 0);
    /* Every scrape so far came over its own TLS connection. */
    assert_true(sample(text, "mcp_net_tls_handshakes_total{outcome=\"ok\",listener=\"http\"}") >= 1);
    promtool_check(text);
    free(text);

    SSL_CTX_free(scrape_tls);
    scrape_tls = NULL;
    mcpd_stop(server, err_path);
    test_cert_remove(&tc);
}

int main(void) {
    /* A hang fails the run instead of waiting for the harness's timeout. */
    alarm(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_http_ws_listeners),
        cmocka_unit_test(test_stdio_listener),
        cmocka_unit_test(test_ping_and_websocket_counters),
        cmocka_unit_test(test_tls_handshake_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
