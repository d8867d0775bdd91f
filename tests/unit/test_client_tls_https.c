/*
 * test_client_tls_https.c — TLS through the Streamable HTTP connector and
 * `mcpd call`, against the mcpd binary as a user runs it ($MCPD_BIN serve
 * --http/--tcp/--ws with --tls-cert/--tls-key, a self-signed certificate
 * for CN=localhost made here): mcp_connect_http("https://...") in both eras
 * with the certificate as the CA (tools/call, the session, keep-alive
 * reuse of the very connection dialled at connect, no thread of its own);
 * an untrusted certificate and a wrong name refused at connect;
 * the insecure switch; and `mcpd call` over https://, wss:// and tcps://
 * with --cacert, refused without it (exit 2, the reason on stderr), and
 * accepted with --insecure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_loopback.h"
#include "test_tls_serve.h"

#include "mcp/client.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int http_port, tcp_port, ws_port;

static int start_server(void **state)
{
    (void)state;
    http_port = free_port();
    tcp_port = free_port();
    ws_port = free_port();
    char http_addr[32], tcp_addr[32], ws_addr[32];
    snprintf(http_addr, sizeof http_addr, "127.0.0.1:%d", http_port);
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    snprintf(ws_addr, sizeof ws_addr, "127.0.0.1:%d", ws_port);
    tls_server_start((const char *const[]){"--http", http_addr, "--tcp", tcp_addr, "--ws", ws_addr, NULL});
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    tls_server_stop();
    return 0;
}

static int dial(const char *host, const mcp_connect_opts *opts, mcp_client_transport **t)
{
    char url[128];
    snprintf(url, sizeof url, "https://%s:%d/mcp", host, http_port);
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        *t = NULL;
        rc = mcp_connect_http(url, opts, t);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    return rc;
}

static void round_trip(const char *host, const mcp_connect_opts *opts, const char *version, const char *want)
{
    int threads = thread_count();
    mcp_client_transport *t = NULL;
    int rc = dial(host, opts, &t);
    if (rc != 0)
        fail_msg("https to %s:%d: %s", host, http_port, mcp_strerror(rc));
    mcp_client *c = client_connected(t, version);
    assert_string_equal(mcp_client_protocol_version(c), want);
    for (int i = 0; i < 3; i++) {
        mcp_client_result r;
        assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":40}}",
                                              NULL, &r),
                         0);
        assert_non_null(strstr(r.json, "\"sum\":42"));
        mcp_client_result_free(&r);
    }
    mcp_http_client_stats stats;
    assert_int_equal(mcp_http_client_stats_get(t, &stats), 0);
    assert_true(stats.connections_reused > 0); /* keep-alive works through TLS */
    /* One request at a time needs one connection: the one dialled at
     * connect is taken for the first request although the server's
     * session tickets arrived on it while it was idle. The handshake era
     * needs a second: its tools/call goes out while the 202 to
     * notifications/initialized is still unread on the first. */
    assert_int_equal(stats.connections_opened, !strcmp(want, "2025-11-25") ? 2 : 1);
    assert_int_equal(thread_count(), threads); /* connections are read on this thread */
    if (!strcmp(want, "2025-11-25"))
        assert_non_null(mcp_http_client_session_id(t));
    mcp_client_free(c);
}

static void https_both_eras(void **state)
{
    (void)state;
    need_server();
    mcp_connect_opts opts = {.tls_ca_file = cert.cert};
    round_trip("localhost", &opts, "2025-11-25", "2025-11-25");
    round_trip("localhost", &opts, NULL, "2026-07-28");
}

static void https_refusals_and_the_insecure_switch(void **state)
{
    (void)state;
    need_server();
    mcp_client_transport *t = NULL;
    assert_int_equal(dial("localhost", NULL, &t), MCP_EPROTO);              /* nobody trusts it */
    assert_int_equal(dial("127.0.0.1", &(mcp_connect_opts){.tls_ca_file = cert.cert}, &t), MCP_EPROTO); /* name */
    assert_int_equal(dial("localhost", &(mcp_connect_opts){.tls_ca_file = "/nonexistent/ca.pem"}, &t), MCP_EINVAL);
    assert_null(t);
    round_trip("127.0.0.1", &(mcp_connect_opts){.tls_insecure = true}, NULL, "2026-07-28");
}

/* Run `mcpd call` with args; its exit status, and stdout+stderr in out. */
static int run_call(const char *args, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" call --compact %s 2>&1", mcpd_bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, size - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void mcpd_call_over_every_tls_target(void **state)
{
    (void)state;
    need_server();
    const char *call = "tools/call '{\"name\":\"add\",\"arguments\":{\"a\":20,\"b\":22}}'";
    char args[512], out[4096];
    const char *targets[3] = {"https://localhost:%d/mcp", "wss://localhost:%d/mcp", "tcps://localhost:%d"};
    int ports[3] = {http_port, ws_port, tcp_port};
    for (int k = 0; k < 3; k++) {
        char target[64];
        snprintf(target, sizeof target, targets[k], ports[k]);
        snprintf(args, sizeof args, "--cacert %s %s %s", cert.cert, target, call);
        int status = run_call(args, out, sizeof out);
        if (status != 0 || !strstr(out, "\"sum\":42"))
            fail_msg("mcpd call %s: exit %d: %s", target, status, out);
        snprintf(args, sizeof args, "%s %s", target, call);
        status = run_call(args, out, sizeof out);
        if (status != 2 || !strstr(out, "self-signed certificate"))
            fail_msg("mcpd call %s without --cacert: exit %d: %s", target, status, out);
        snprintf(args, sizeof args, "--insecure %s %s", target, call);
        status = run_call(args, out, sizeof out);
        if (status != 0 || !strstr(out, "\"sum\":42"))
            fail_msg("mcpd call --insecure %s: exit %d: %s", target, status, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(https_both_eras),
        cmocka_unit_test(https_refusals_and_the_insecure_switch),
        cmocka_unit_test(mcpd_call_over_every_tls_target),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
