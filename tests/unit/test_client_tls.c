/*
 * test_client_tls.c — the client's TLS (net/client_tls.h) through its
 * connectors, against the mcpd binary as a user runs it ($MCPD_BIN serve
 * --tcp/--ws with --tls-cert/--tls-key, a self-signed certificate for
 * CN=localhost made here): tools/call round trips over wss:// and TLS TCP in
 * both eras with the certificate as the CA; the certificate refused when
 * nobody trusts it, when the name is wrong (an IP address, another name), a
 * plaintext server, a CA file that does not exist; and the insecure switch.
 * Against a scripted TLS peer: NDJSON framing across one-byte records (the
 * size limit, blank and CRLF lines, a cut last line), close_notify, a send
 * after the peer left, and SNI sent for a name but not for an IP address;
 * a CA-signed certificate (made here) accepted through its CA or pinned by
 * itself, refused under another CA or for a name it does not carry.
 * Through the stream API (net/client_tls.h): sessions resumed on later
 * connections of one context, for the name they were verified for only.
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
#include "net/client_tls.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int tcp_port, ws_port;

static void remove_chain(void);

static int start_server(void **state)
{
    (void)state;
    tcp_port = free_port();
    ws_port = free_port();
    char tcp_addr[32], ws_addr[32];
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    snprintf(ws_addr, sizeof ws_addr, "127.0.0.1:%d", ws_port);
    tls_server_start((const char *const[]){"--tcp", tcp_addr, "--ws", ws_addr, NULL});
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (have_cert)
        remove_chain(); /* left behind when chains_and_pinning failed half way */
    tls_server_stop();
    return 0;
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
    mcp_client *c = client_connected(t, version);
    assert_string_equal(mcp_client_protocol_version(c), want_version);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":40}}",
                                          NULL, &r),
                     0);
    assert_non_null(strstr(r.json, "\"sum\":42"));
    mcp_client_result_free(&r);
    /* Bigger than one TLS record (16 KiB) and than one read chunk. */
    size_t big = 100 * 1024;
    char *params = big_echo_params(big, 'y');
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

/* A hashed CA directory (openssl rehash) is searched like a CA file. */
static void ca_directory_is_searched(void **state)
{
    (void)state;
    need_server();
    char dir[96], cmd[1024];
    snprintf(dir, sizeof dir, "%s/cadir", cert.dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/ && openssl rehash %s >/dev/null 2>&1", dir, cert.cert, dir,
             dir);
    if (system(cmd) != 0)
        fail_msg("could not make a hashed CA directory with the openssl command");
    mcp_connect_opts opts = {.tls_ca_dir = dir};
    round_trip(false, "localhost", &opts, NULL, "2026-07-28");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
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
    mcp_connect_opts dir_opts = {.tls_ca_dir = "/nonexistent/certs"};
    assert_int_equal(mcp_connect_tcp_tls("127.0.0.1:1", &dir_opts, &t, why, sizeof why), MCP_EINVAL);
    assert_non_null(strstr(why, "CA directory /nonexistent/certs"));
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

/* Dial the TLS TCP port through tls, send one request and read its answer
 * (a TLS 1.3 server's session ticket is read on the way); whether the
 * handshake resumed a session. */
static bool dial_and_call(mcp_client_tls *tls, const char *host)
{
    char port[16], why[256] = "";
    snprintf(port, sizeof port, "%d", tcp_port);
    mcp_client_stream *s = NULL;
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++)
        if ((rc = mcp_client_stream_dial(&s, host, port, tls, 5000, why, sizeof why)) == MCP_EIO)
            usleep(25 * 1000);
    if (rc != 0)
        fail_msg("dial %s: %s: %s", host, mcp_strerror(rc), why);
    bool resumed = mcp_client_stream_resumed(s);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    assert_int_equal(mcp_client_stream_write(s, req, strlen(req), 5000), 0);
    char buf[4096];
    size_t have = 0, got = 0;
    while (!memchr(buf, '\n', have)) {
        assert_true(have < sizeof buf);
        assert_int_equal(mcp_client_stream_read(s, buf + have, sizeof buf - have, 5000, &got), 0);
        have += got;
    }
    assert_non_null(memmem(buf, have, "\"id\":1", 6));
    mcp_client_stream_close(s);
    return resumed;
}

static void sessions_resume_for_the_same_name_only(void **state)
{
    (void)state;
    need_server();
    char why[256] = "";
    mcp_client_tls *tls = NULL;
    assert_int_equal(mcp_client_tls_new(&tls, &(mcp_connect_opts){.tls_ca_file = cert.cert}, why, sizeof why), 0);
    assert_false(dial_and_call(tls, "localhost"));
    assert_true(dial_and_call(tls, "localhost"));
    assert_true(dial_and_call(tls, "localhost"));
    mcp_client_tls_free(tls);
    /* One context, two names: a session is offered only to the name it was
     * verified for. */
    assert_int_equal(mcp_client_tls_new(&tls, &(mcp_connect_opts){.tls_insecure = true}, why, sizeof why), 0);
    assert_false(dial_and_call(tls, "localhost"));
    assert_false(dial_and_call(tls, "127.0.0.1"));
    assert_true(dial_and_call(tls, "127.0.0.1"));
    mcp_client_tls_free(tls);
    /* A fresh context knows no session. */
    assert_int_equal(mcp_client_tls_new(&tls, &(mcp_connect_opts){.tls_ca_file = cert.cert}, why, sizeof why), 0);
    assert_false(dial_and_call(tls, "localhost"));
    mcp_client_tls_free(tls);
}

/* ---- A scripted TLS peer ------------------------------------------------------
 * One connection on a loopback socket: the TLS handshake with the test
 * certificate, then lines written one byte per TLS record (so that every
 * message crosses record and read boundaries), then close_notify. It notes
 * the server name the client sent (SNI). */
typedef struct tls_peer {
    int listen_fd;
    int port;
    const char *cert_file;  /* NULL: the test certificate */
    const char *key_file;
    const char *script;
    char sni[128];
    bool got_sni;
    bool handshake_ok;
} tls_peer;

static void *tls_peer_main(void *arg)
{
    tls_peer *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx, p->cert_file ? p->cert_file : cert.cert);
    SSL_CTX_use_PrivateKey_file(ctx, p->key_file ? p->key_file : cert.key, SSL_FILETYPE_PEM);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        p->handshake_ok = true;
        const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        p->got_sni = name != NULL;
        snprintf(p->sni, sizeof p->sni, "%s", name ? name : "");
        for (const char *c = p->script; *c; c++)
            SSL_write(ssl, c, 1);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return NULL;
}

static void tls_peer_start(tls_peer *p, pthread_t *thread, const char *script)
{
    const char *cert_file = p->cert_file, *key_file = p->key_file;
    memset(p, 0, sizeof *p);
    p->cert_file = cert_file;
    p->key_file = key_file;
    p->script = script;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->listen_fd, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(thread, NULL, tls_peer_main, p), 0);
}

static void tls_tcp_framing_across_records(void **state)
{
    (void)state;
    if (!have_cert)
        skip();
    tls_peer peer = {0}; /* the test certificate */
    pthread_t thread;
    /* A line over the 64-byte limit, a blank line, a CRLF line, then a
     * last line without its newline (incomplete: never delivered). */
    tls_peer_start(&peer, &thread,
                   "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"pad\":\"0123456789012345678901234567890123456789\"}}\n"
                   "\n"
                   "{\"jsonrpc\":\"2.0\",\"method\":\"ok\"}\r\n"
                   "{\"cut\":");
    char target[64], why[256] = "";
    snprintf(target, sizeof target, "localhost:%d", peer.port);
    mcp_client_transport *t = NULL;
    int rc = mcp_connect_tcp_tls(target, &(mcp_connect_opts){.tls_ca_file = cert.cert, .max_message_size = 64}, &t,
                                 why, sizeof why);
    if (rc != 0)
        fail_msg("connect: %s: %s", mcp_strerror(rc), why);
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ELIMIT);
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_int_equal(msg.len, strlen("{\"jsonrpc\":\"2.0\",\"method\":\"ok\"}"));
    assert_memory_equal(msg.data, "{\"jsonrpc\":\"2.0\",\"method\":\"ok\"}", msg.len);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ECLOSED);
    assert_int_equal(t->recv(t, &msg, 100), MCP_ECLOSED);
    /* The peer is gone: sending reports it rather than raising SIGPIPE. */
    int sent = 0;
    for (int i = 0; i < 50 && sent == 0; i++) {
        sent = t->send(t, "{}", 2);
        usleep(10 * 1000);
    }
    assert_true(sent == MCP_ECLOSED || sent == MCP_EIO);
    t->close(t);
    mcp_buf_free(&msg);
    pthread_join(thread, NULL);
    close(peer.listen_fd);
    assert_true(peer.handshake_ok);
    assert_true(peer.got_sni);
    assert_string_equal(peer.sni, "localhost");
}

static void no_server_name_for_an_ip_address(void **state)
{
    (void)state;
    if (!have_cert)
        skip();
    tls_peer peer = {0}; /* the test certificate */
    pthread_t thread;
    tls_peer_start(&peer, &thread, "{\"jsonrpc\":\"2.0\",\"method\":\"hi\"}\n");
    char target[64], why[256] = "";
    snprintf(target, sizeof target, "127.0.0.1:%d", peer.port);
    mcp_client_transport *t = NULL;
    /* RFC 6066: SNI carries host names only; the name checked is another matter. */
    int rc = mcp_connect_tcp_tls(target, &(mcp_connect_opts){.tls_insecure = true}, &t, why, sizeof why);
    if (rc != 0)
        fail_msg("connect: %s: %s", mcp_strerror(rc), why);
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_non_null(strstr(msg.data, "\"hi\""));
    t->close(t);
    mcp_buf_free(&msg);
    pthread_join(thread, NULL);
    close(peer.listen_fd);
    assert_true(peer.handshake_ok);
    assert_false(peer.got_sni);
}

/* A CA and a server certificate it signed (for 127.0.0.1 and
 * mcp.test), made with the openssl command next to the test certificate. */
static bool make_chain(char *ca, char *leaf, char *leaf_key, size_t size)
{
    snprintf(ca, size, "%s/ca.pem", cert.dir);
    snprintf(leaf, size, "%s/leaf.pem", cert.dir);
    snprintf(leaf_key, size, "%s/leaf-key.pem", cert.dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout ca-key.pem "
             "-out ca.pem -subj /CN=mcpd-test-ca -days 1 -nodes >/dev/null 2>&1 && "
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout leaf-key.pem "
             "-out leaf.csr -subj /CN=mcp.test -nodes >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:mcp.test,IP:127.0.0.1\\n' > leaf.ext && "
             "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 "
             "-extfile leaf.ext -out leaf.pem >/dev/null 2>&1",
             cert.dir);
    return system(cmd) == 0;
}

static void remove_chain(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf ca.pem ca-key.pem ca.srl leaf.pem leaf-key.pem leaf.csr leaf.ext cadir", cert.dir);
    if (system(cmd) != 0)
        printf("could not remove the chain files in %s\n", cert.dir);
}

/* One connection to a scripted peer serving leaf; the connect's outcome. */
static int connect_to_leaf(const char *leaf, const char *leaf_key, const char *host, const char *ca_file,
                           char *why, size_t why_size)
{
    tls_peer peer = {.cert_file = leaf, .key_file = leaf_key};
    pthread_t thread;
    tls_peer_start(&peer, &thread, "{\"jsonrpc\":\"2.0\",\"method\":\"hi\"}\n");
    char target[64];
    snprintf(target, sizeof target, "%s:%d", host, peer.port);
    mcp_client_transport *t = NULL;
    int rc = mcp_connect_tcp_tls(target, &(mcp_connect_opts){.tls_ca_file = ca_file}, &t, why, why_size);
    if (rc == 0) {
        mcp_buf msg;
        mcp_buf_init(&msg);
        assert_int_equal(t->recv(t, &msg, 5000), 0);
        assert_non_null(strstr(msg.data, "\"hi\""));
        mcp_buf_free(&msg);
        t->close(t);
    }
    pthread_join(thread, NULL);
    close(peer.listen_fd);
    return rc;
}

static void chains_and_pinning(void **state)
{
    (void)state;
    if (!have_cert)
        skip();
    char ca[128], leaf[128], leaf_key[128], why[256] = "";
    if (!make_chain(ca, leaf, leaf_key, sizeof ca))
        fail_msg("the openssl command could not make a CA and a certificate");
    /* The CA vouches for the server's certificate; its IP entry matches. */
    assert_int_equal(connect_to_leaf(leaf, leaf_key, "127.0.0.1", ca, why, sizeof why), 0);
    /* Pinned by the server's own certificate, without its CA. */
    assert_int_equal(connect_to_leaf(leaf, leaf_key, "127.0.0.1", leaf, why, sizeof why), 0);
    /* Another CA does not vouch for it. */
    assert_int_equal(connect_to_leaf(leaf, leaf_key, "127.0.0.1", cert.cert, why, sizeof why), MCP_EPROTO);
    assert_non_null(strstr(why, "unable to get local issuer certificate"));
    /* Its DNS entry is mcp.test, not localhost. */
    assert_int_equal(connect_to_leaf(leaf, leaf_key, "localhost", ca, why, sizeof why), MCP_EPROTO);
    assert_non_null(strstr(why, "hostname mismatch"));
    remove_chain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wss_round_trip_both_eras),
        cmocka_unit_test(tls_tcp_round_trip_both_eras),
        cmocka_unit_test(server_name_apart_from_the_address),
        cmocka_unit_test(untrusted_certificate_is_refused),
        cmocka_unit_test(wrong_name_is_refused),
        cmocka_unit_test(ca_directory_is_searched),
        cmocka_unit_test(insecure_switch_skips_verification),
        cmocka_unit_test(missing_ca_file_is_an_error),
        cmocka_unit_test(plaintext_server_is_reported),
        cmocka_unit_test(tls_tcp_framing_across_records),
        cmocka_unit_test(no_server_name_for_an_ip_address),
        cmocka_unit_test(sessions_resume_for_the_same_name_only),
        cmocka_unit_test(chains_and_pinning),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
