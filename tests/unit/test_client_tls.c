/*
 * test_client_tls.c — the client's TLS (net/client_tls.h) through its
 * connectors, against the mcpd binary as a user runs it ($MCPD_BIN serve
 * --tcp/--ws with --tls-cert/--tls-key, a self-signed certificate for
 * CN=localhost made here): tools/call round trips over wss:// and TLS TCP in
 * both eras with the certificate as the CA; the certificate refused when
 * nobody trusts it, when the name is wrong (an IP address, another name), a
 * plaintext server, a CA file that does not exist; and the insecure switch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"
#include "test_tls_cert.h"

#include "mcp/client.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static test_cert cert;
static bool have_cert;
static pid_t server_pid;
static int tcp_port, ws_port;

static int start_server(void **state)
{
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin)
        return 0;
    have_cert = test_cert_make(&cert);
    if (!have_cert)
        return 0;
    tcp_port = free_port();
    ws_port = free_port();
    char tcp_addr[32], ws_addr[32];
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    snprintf(ws_addr, sizeof ws_addr, "127.0.0.1:%d", ws_port);
    server_pid = fork();
    if (server_pid == 0) {
        execl(bin, bin, "serve", "--tcp", tcp_addr, "--ws", ws_addr, "--tls-cert", cert.cert, "--tls-key",
              cert.key, "--workers", "1", "--log-level", "error", (char *)NULL);
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

static void need_server(void)
{
    if (server_pid <= 0) {
        printf("SKIPPED: needs $MCPD_BIN and the openssl command\n");
        skip();
    }
}

/* Connect, retrying while the server may still be starting (refused). */
static int dial(bool ws, const char *host, const mcp_connect_opts *opts, mcp_client_transport **t, char *why,
                size_t why_size)
{
    char target[128];
    if (ws)
        snprintf(target, sizeof target, "wss://%s:%d/mcp", host, ws_port);
    else
        snprintf(target, sizeof target, "%s:%d", host, tcp_port);
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        *t = NULL;
        rc = ws ? mcp_connect_ws(target, opts, t, why, why_size)
                : mcp_connect_tcp_tls(target, opts, t, why, why_size);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    return rc;
}

static void round_trip(bool ws, const char *host, const mcp_connect_opts *opts, const char *version,
                       const char *want_version)
{
    mcp_client_transport *t = NULL;
    char why[256] = "";
    int rc = dial(ws, host, opts, &t, why, sizeof why);
    if (rc != 0)
        fail_msg("connect over %s: %s: %s", ws ? "wss" : "TLS TCP", mcp_strerror(rc), why);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = version, .transport = t,
                                                      .timeout_ms = 10000, .no_cache = true});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    assert_string_equal(mcp_client_protocol_version(c), want_version);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":40}}",
                                          NULL, &r),
                     0);
    assert_non_null(strstr(r.json, "\"sum\":42"));
    mcp_client_result_free(&r);
    /* Bigger than one TLS record (16 KiB) and than one read chunk. */
    size_t big = 100 * 1024;
    char *params = malloc(big + 64);
    assert_non_null(params);
    int n = snprintf(params, 64, "{\"name\":\"echo\",\"arguments\":{\"text\":\"");
    memset(params + n, 'y', big);
    strcpy(params + n + big, "\"}}");
    assert_int_equal(mcp_client_call_sync(c, "tools/call", params, NULL, &r), 0);
    assert_true(r.len > big);
    assert_non_null(strstr(r.json, "yyyyyyyyyyyyyyyy"));
    mcp_client_result_free(&r);
    free(params);
    mcp_client_free(c);
}

static void wss_round_trip_both_eras(void **state)
{
    (void)state;
    need_server();
    mcp_connect_opts opts = {.tls_ca_file = cert.cert};
    round_trip(true, "localhost", &opts, "2025-11-25", "2025-11-25");
    round_trip(true, "localhost", &opts, NULL, "2026-07-28");
}

static void tls_tcp_round_trip_both_eras(void **state)
{
    (void)state;
    need_server();
    mcp_connect_opts opts = {.tls_ca_file = cert.cert};
    round_trip(false, "localhost", &opts, "2025-11-25", "2025-11-25");
    round_trip(false, "localhost", &opts, NULL, "2026-07-28");
}

/* 127.0.0.1 is not in a certificate made for the name localhost, but the
 * name to check can be given apart from the address dialled. */
static void server_name_apart_from_the_address(void **state)
{
    (void)state;
    need_server();
    mcp_connect_opts opts = {.tls_ca_file = cert.cert, .tls_server_name = "localhost"};
    round_trip(false, "127.0.0.1", &opts, NULL, "2026-07-28");
    round_trip(true, "127.0.0.1", &opts, NULL, "2026-07-28");
}

static void refused(bool ws, const char *host, const mcp_connect_opts *opts, int want_rc, const char *needle)
{
    mcp_client_transport *t = NULL;
    char why[256] = "";
    int rc = dial(ws, host, opts, &t, why, sizeof why);
    if (rc != want_rc || !strstr(why, needle))
        fail_msg("over %s to %s: wanted %s with '%s', got %s: '%s'", ws ? "wss" : "TLS TCP", host,
                 mcp_strerror(want_rc), needle, mcp_strerror(rc), why);
    assert_null(t);
}

static void untrusted_certificate_is_refused(void **state)
{
    (void)state;
    need_server();
    /* No CA named: the system store does not know our self-signed certificate. */
    refused(false, "localhost", NULL, MCP_EPROTO, "self-signed certificate");
    refused(true, "localhost", NULL, MCP_EPROTO, "self-signed certificate");
    refused(true, "localhost", NULL, MCP_EPROTO, "not trusted");
}

static void wrong_name_is_refused(void **state)
{
    (void)state;
    need_server();
    mcp_connect_opts opts = {.tls_ca_file = cert.cert};
    refused(false, "127.0.0.1", &opts, MCP_EPROTO, "IP address mismatch");
    refused(true, "127.0.0.1", &opts, MCP_EPROTO, "IP address mismatch");
    opts.tls_server_name = "mcp.example.org";
    refused(false, "localhost", &opts, MCP_EPROTO, "hostname mismatch");
    refused(true, "localhost", &opts, MCP_EPROTO, "mcp.example.org");
}

static void insecure_switch_skips_verification(void **state)
{
    (void)state;
    need_server();
    /* Neither trusted nor the right name: accepted only because we said so. */
    mcp_connect_opts opts = {.tls_insecure = true};
    round_trip(false, "127.0.0.1", &opts, NULL, "2026-07-28");
    round_trip(true, "127.0.0.1", &opts, "2025-11-25", "2025-11-25");
    opts.tls_server_name = "mcp.example.org";
    round_trip(false, "localhost", &opts, NULL, "2026-07-28");
}

static void missing_ca_file_is_an_error(void **state)
{
    (void)state;
    mcp_client_transport *t = NULL;
    char why[256] = "";
    mcp_connect_opts opts = {.tls_ca_file = "/nonexistent/ca.pem"};
    assert_int_equal(mcp_connect_tcp_tls("127.0.0.1:1", &opts, &t, why, sizeof why), MCP_EINVAL);
    assert_non_null(strstr(why, "/nonexistent/ca.pem"));
    assert_int_equal(mcp_connect_ws("wss://127.0.0.1:1/mcp", &opts, &t, why, sizeof why), MCP_EINVAL);
    assert_non_null(strstr(why, "CA file"));
    assert_int_equal(mcp_connect_tcp_tls("127.0.0.1", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_null(t);
}

/* A server that answers in plaintext: a line of JSON, then it closes. */
static void *plaintext_peer(void *arg)
{
    int listen_fd = *(int *)arg;
    int fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0) {
        char buf[512];
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        (void)got;
        send_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}\n");
        close(fd);
    }
    return NULL;
}

static void plaintext_server_is_reported(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    pthread_t peer;
    assert_int_equal(pthread_create(&peer, NULL, plaintext_peer, &fd), 0);
    char target[64], why[256] = "";
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(a.sin_port));
    mcp_client_transport *t = NULL;
    int rc = mcp_connect_tcp_tls(target, &(mcp_connect_opts){.tls_insecure = true, .connect_timeout_ms = 5000},
                                 &t, why, sizeof why);
    pthread_join(peer, NULL);
    close(fd);
    assert_int_equal(rc, MCP_EPROTO);
    assert_null(t);
    if (!strstr(why, "is it speaking TLS?"))
        fail_msg("why: %s", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wss_round_trip_both_eras),
        cmocka_unit_test(tls_tcp_round_trip_both_eras),
        cmocka_unit_test(server_name_apart_from_the_address),
        cmocka_unit_test(untrusted_certificate_is_refused),
        cmocka_unit_test(wrong_name_is_refused),
        cmocka_unit_test(insecure_switch_skips_verification),
        cmocka_unit_test(missing_ca_file_is_an_error),
        cmocka_unit_test(plaintext_server_is_reported),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
