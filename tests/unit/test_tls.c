/*
 * TLS on the network listeners, against an OpenSSL client over loopback:
 * NDJSON, Streamable HTTP and WebSocket each over TLS; plaintext sent to a
 * TLS port is counted and closed while an established TLS connection beside
 * it keeps working; certificate files that cannot be used fail the start.
 * The certificate is made at run time (test_tls_cert.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http.h"
#include "net/ws.h"
#include "test_tls_cert.h"
#include "test_ws_client.h"
#include "test_echo_tool.h"

#define MODERN_ECHO(id, text)                                                                      \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","  \
    "\"arguments\":{\"text\":\"" text "\"}," MODERN_META "}}"
#define INITIALIZE                                                                                 \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"      \
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"

static test_cert cert;
static bool have_cert;
#define REQUIRE_CERT()                                                                             \
    do {                                                                                           \
        if (!have_cert) skip();                                                                    \
    } while (0)

typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
} fixture;

typedef enum { KIND_TCP, KIND_HTTP, KIND_WS } kind;

static void fixture_start(fixture *f, kind k) {
    f->server = mcp_server_new(&(mcp_server_opts){.name = "tls-test", .version = "1.0"});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    mcp_listen listen = {.workers = 2, .tls_cert = cert.cert, .tls_key = cert.key};
    mcp_net_tuning tuning = {0};
    if (k == KIND_TCP) listen.tcp = "127.0.0.1:0";
    if (k == KIND_HTTP) listen.http = "127.0.0.1:0", tuning.http = true;
    if (k == KIND_WS) listen.ws = "127.0.0.1:0", tuning.ws = true;
    assert_int_equal(mcp_net_start(&f->net, f->server, &listen, &tuning), 0);
    f->port = mcp_net_port(f->net);
}

static void fixture_stop(fixture *f) {
    mcp_net_free(f->net);
    mcp_server_free(f->server);
}

static mcp_net_counters counters(const fixture *f) {
    mcp_net_counters c;
    mcp_net_counters_get(f->net, &c);
    return c;
}

static int setup(void **state) {
    (void)state;
    have_cert = test_cert_make(&cert);
    if (!have_cert) printf("SKIPPED: no certificate could be made\n");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (have_cert) test_cert_remove(&cert);
    return 0;
}

/* Read until text appears in c->in. */
static void read_until(wsc *c, const char *text) {
    uint64_t deadline = wsc_now_ms() + 3000;
    while (!(c->in.data && strstr(c->in.data, text)))
        if (!wsc_fill(c, deadline)) fail_msg("\"%s\" never came; got: %s", text, c->in.data ? c->in.data : "");
}

static void ndjson_round_trip(wsc *c, int id) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"text\":\"secret %d\"}," MODERN_META "}}\n",
             id, id);
    wsc_send_cstr(c, line);
    char want[32];
    snprintf(want, sizeof want, "secret %d", id);
    read_until(c, want);
    mcp_buf_reset(&c->in);
}

static void test_ndjson_over_tls(void **state) {
    (void)state;
    REQUIRE_CERT();
    fixture f;
    fixture_start(&f, KIND_TCP);
    wsc c;
    wsc_open(&c, f.port, true);
    ndjson_round_trip(&c, 1);
    /* Pipelined: both replies come back. */
    wsc_send_cstr(&c, MODERN_ECHO(2, "two") "\n" MODERN_ECHO(3, "three") "\n");
    read_until(&c, "three");
    assert_non_null(strstr(c.in.data, "two"));
    wsc_close(&c);
    mcp_net_counters n = counters(&f);
    assert_int_equal(n.tls_handshakes, 1);
    assert_int_equal(n.tls_failed, 0);
    assert_int_equal(n.messages_in, 3);
    fixture_stop(&f);
}

static void test_http_over_tls(void **state) {
    (void)state;
    REQUIRE_CERT();
    fixture f;
    fixture_start(&f, KIND_HTTP);
    wsc c;
    wsc_open(&c, f.port, true);
    char req[1024];
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(INITIALIZE), INITIALIZE);
    wsc_send_cstr(&c, req);
    read_until(&c, "\"protocolVersion\":\"2025-06-18\"");
    assert_true(strncmp(c.in.data, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strcasestr(c.in.data, "Mcp-Session-Id:"));
    wsc_close(&c);
    assert_int_equal(counters(&f).tls_handshakes, 1);
    fixture_stop(&f);
}

static void test_ws_over_tls(void **state) {
    (void)state;
    REQUIRE_CERT();
    fixture f;
    fixture_start(&f, KIND_WS);
    wsc c;
    wsc_open(&c, f.port, true);
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(wsc_handshake(&c, "/mcp", NULL, &text), 101);
    wsc_send_text(&c, MODERN_ECHO(4, "wss works"));
    wsc_read_text(&c, &text);
    assert_non_null(strstr(text.data, "wss works"));
    /* The close handshake ends in close_notify and FIN. */
    wsc_send_frame(&c, true, 8, "\x03\xe8", 2);
    assert_int_equal(wsc_read_frame(&c, &text, 3000, NULL), 8);
    assert_true(wsc_wait_eof(&c, 3000));
    mcp_buf_free(&text);
    wsc_close(&c);
    assert_int_equal(counters(&f).tls_handshakes, 1);
    fixture_stop(&f);
}

static void test_plaintext_to_tls_port_is_counted_and_closed(void **state) {
    (void)state;
    REQUIRE_CERT();
    fixture f;
    fixture_start(&f, KIND_TCP);
    wsc good;
    wsc_open(&good, f.port, true);
    ndjson_round_trip(&good, 1);

    wsc bad;
    wsc_open(&bad, f.port, false);
    wsc_send_cstr(&bad, MODERN_ECHO(9, "in the clear") "\n");
    assert_true(wsc_wait_eof(&bad, 3000));
    assert_null(bad.in.data ? strstr(bad.in.data, "in the clear") : NULL);
    wsc_close(&bad);
    /* A peer that opens and says nothing TLS-like at all, then leaves. */
    wsc_open(&bad, f.port, false);
    wsc_send_cstr(&bad, "GET / HTTP/1.1\r\n\r\n");
    assert_true(wsc_wait_eof(&bad, 3000));
    wsc_close(&bad);

    ndjson_round_trip(&good, 2); /* unaffected */
    wsc_close(&good);
    mcp_net_counters n = counters(&f);
    assert_int_equal(n.tls_failed, 2);
    assert_int_equal(n.tls_handshakes, 1);
    assert_int_equal(n.messages_in, 2);
    fixture_stop(&f);
}

static void test_unusable_certificate_files_fail_the_start(void **state) {
    (void)state;
    REQUIRE_CERT();
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "tls-test", .version = "1.0"});
    mcp_net *net = NULL;
    /* Missing file, swapped files, key without certificate. */
    mcp_listen cases[] = {
        {.tcp = "127.0.0.1:0", .workers = 1, .tls_cert = "/nonexistent/cert.pem", .tls_key = cert.key},
        {.tcp = "127.0.0.1:0", .workers = 1, .tls_cert = cert.key, .tls_key = cert.cert},
        {.tcp = "127.0.0.1:0", .workers = 1, .tls_key = cert.key},
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mcp_net_start(&net, server, &cases[i], NULL), MCP_EINVAL);
        assert_null(net);
    }
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_over_tls),
        cmocka_unit_test(test_http_over_tls),
        cmocka_unit_test(test_ws_over_tls),
        cmocka_unit_test(test_plaintext_to_tls_port_is_counted_and_closed),
        cmocka_unit_test(test_unusable_certificate_files_fail_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
