/*
 * What each transport tells the observer about the requests it carries:
 * network.transport and network.protocol.name reach mcp_request_info for
 * requests over NDJSON TCP ("tcp"), WebSocket ("tcp" + "websocket"),
 * Streamable HTTP ("tcp" + "http") and stdio ("pipe"); over the network
 * transports (plaintext and TLS, IPv4 and, where the machine has it,
 * IPv6) the client's address and port reach it too, and the spans that
 * mcp_obs makes of them carry network.peer.address/port and
 * client.address/port, as an OTLP receiver on loopback sees them. Real
 * servers on loopback (or real pipes), a real observer.
 */
#include "mcp/mcp.h"
#include "mcp/obs.h"
#include "net/net_internal.h"
#include "obs/otlp_receiver.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_otlp.h"

#include "test_loopback.h"
#include "test_tls_cert.h"
#include "test_ws_client.h"

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}}"
#define CALL "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," \
             "\"arguments\":{\"text\":\"hi\"}," META "}}"

/* What the observer saw of the first tools/call. */
typedef struct seen {
    pthread_mutex_t lock;
    unsigned requests;
    char transport[16];
    char protocol[16]; /* "" when NULL */
    bool protocol_null;
    bool peer_null;
    char peer_address[64];
    unsigned peer_port;
    mcp_observer obs; /* mcp_obs's observer, which every call is passed on to */
} seen;

static void *on_start(void *user, const mcp_request_info *info) {
    seen *s = user;
    pthread_mutex_lock(&s->lock);
    if (!s->requests++) {
        snprintf(s->transport, sizeof s->transport, "%s", info->transport ? info->transport : "(null)");
        s->protocol_null = !info->network_protocol;
        snprintf(s->protocol, sizeof s->protocol, "%s", info->network_protocol ? info->network_protocol : "");
        s->peer_null = !info->peer;
        if (info->peer) {
            snprintf(s->peer_address, sizeof s->peer_address, "%.*s", (int)info->peer->address_len,
                     info->peer->address);
            s->peer_port = info->peer->port;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return s->obs.on_request_start(s->obs.user, info);
}

static void on_end(void *user, void *handle, const mcp_request_outcome *outcome) {
    seen *s = user;
    s->obs.on_request_end(s->obs.user, handle, outcome);
}

static void on_handler_exit(void *user, void *handle) {
    seen *s = user;
    s->obs.on_handler_exit(s->obs.user, handle);
}

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

typedef struct fixture {
    seen seen;
    receiver r;
    mcp_tracer *tracer;
    mcp_obs *obs;
    mcp_observer observer;
    mcp_server *server;
    mcp_net *net;
    test_cert cert;
    bool have_cert;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->seen.lock, NULL);
    otlp_tracer_start(&f->r, "transport-info-test", &f->tracer);
    assert_int_equal(mcp_obs_new(f->tracer, NULL, &f->obs), 0);
    mcp_obs_observer(f->obs, &f->seen.obs);
    f->observer = (mcp_observer){
        .on_request_start = on_start, .on_request_end = on_end, .on_handler_exit = on_handler_exit, .user = &f->seen};
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .observer = &f->observer});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = echo}), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->net) mcp_net_free(f->net);
    mcp_server_free(f->server);
    mcp_obs_free(f->obs);
    mcp_tracer_free(f->tracer);
    receiver_stop(&f->r);
    if (f->have_cert) test_cert_remove(&f->cert);
    pthread_mutex_destroy(&f->seen.lock);
    free(f);
    return 0;
}

/* The observer runs on the worker thread: wait for it, at most 5 s. */
static void wait_for_request(fixture *f) {
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->seen.lock);
        unsigned n = f->seen.requests;
        pthread_mutex_unlock(&f->seen.lock);
        if (n) return;
        usleep(10 * 1000);
    }
    fail_msg("the observer saw no request");
}

static void test_tcp(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL), 0);
    int fd = connect_port(mcp_net_port(f->net));
    send_all(fd, CALL "\n");
    mcp_buf got;
    mcp_buf_init(&got);
    read_until(fd, &got, "\n");
    assert_non_null(strstr(got.data, "\"result\""));
    wait_for_request(f);
    assert_string_equal(f->seen.transport, "tcp");
    assert_true(f->seen.protocol_null);
    mcp_buf_free(&got);
    close(fd);
}

static void test_websocket(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.ws = "127.0.0.1:0", .workers = 1},
                                   &(mcp_net_tuning){.ws = true}),
                     0);
    wsc c;
    wsc_open(&c, mcp_net_port(f->net), false);
    mcp_buf head;
    mcp_buf_init(&head);
    assert_int_equal(wsc_handshake(&c, "/mcp", NULL, &head), 101);
    wsc_send_frame(&c, true, 1, CALL, strlen(CALL));
    uint64_t deadline = wsc_now_ms() + 5000;
    while (!(c.in.data && memmem(c.in.data, c.in.len, "\"result\"", 8)))
        if (!wsc_fill(&c, deadline)) fail_msg("no answer over WebSocket");
    wait_for_request(f);
    assert_string_equal(f->seen.transport, "tcp");
    assert_string_equal(f->seen.protocol, "websocket");
    mcp_buf_free(&head);
    wsc_close(&c);
}

static void test_http(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.http = "127.0.0.1:0", .workers = 1},
                                   &(mcp_net_tuning){.http = true}),
                     0);
    int fd = connect_port(mcp_net_port(f->net));
    char req[1024];
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
             "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(CALL), CALL);
    send_all(fd, req);
    mcp_buf got;
    mcp_buf_init(&got);
    read_until(fd, &got, "\"result\"");
    assert_non_null(strstr(got.data, "HTTP/1.1 200"));
    wait_for_request(f);
    assert_string_equal(f->seen.transport, "tcp");
    assert_string_equal(f->seen.protocol, "http");
    mcp_buf_free(&got);
    close(fd);
}

static void test_stdio(void **state) {
    fixture *f = *state;
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    /* The whole input is in the pipe before serving starts, and the answer
     * fits in the output pipe: one thread is enough. */
    const char line[] = CALL "\n";
    assert_int_equal(write(in[1], line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    close(in[1]);
    assert_int_equal(mcp_serve_stdio_fds(f->server, in[0], out[1], NULL), 0);
    close(in[0]);
    close(out[1]);
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"result\""));
    assert_int_equal(f->seen.requests, 1);
    assert_string_equal(f->seen.transport, "pipe");
    assert_true(f->seen.protocol_null);
    assert_true(f->seen.peer_null); /* a pipe has no address */
}

/* ---- The peer's address, from the socket to the exported span ---------------------------- */
typedef enum { OVER_TCP, OVER_WS, OVER_HTTP } over;

/* The exported span of the tools/call; OTLP JSON gives 64-bit integers as strings. */
static const mcp_json *echo_span(fixture *f, mcp_arena *a) {
    assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);
    const mcp_json *found = receiver_span_named(&f->r, a, "tools/call echo");
    assert_non_null(found);
    return found;
}

/* Connect to host:port (IPv4 or IPv6 literal) as a wsc, TLS or not. */
static void client_open(wsc *c, const char *host, int port, bool tls) {
    if (strcmp(host, "127.0.0.1") == 0) {
        wsc_open(c, port, tls);
        return;
    }
    assert_false(tls); /* IPv6 is run in plaintext: TLS does not change where the address comes from */
    memset(c, 0, sizeof *c);
    mcp_buf_init(&c->in);
    c->fd = socket(AF_INET6, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET6, host, &a.sin6_addr), 1);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

/* The client's own end, which the server must report as its peer. */
static unsigned local_port(int fd) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                         : ((struct sockaddr_in *)&a)->sin_port);
}

static bool have_ipv6_loopback(void) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* One tools/call over the transport, then what the observer and the span saw. */
static void check_peer(fixture *f, over how, const char *host, bool tls) {
    if (tls) {
        if (!test_cert_make(&f->cert)) skip();
        f->have_cert = true;
    }
    char address[64];
    snprintf(address, sizeof address, strchr(host, ':') ? "[%s]:0" : "%s:0", host);
    mcp_listen listen = {.workers = 1,
                         .tls_cert = tls ? f->cert.cert : NULL,
                         .tls_key = tls ? f->cert.key : NULL,
                         .tcp = how == OVER_TCP ? address : NULL,
                         .ws = how == OVER_WS ? address : NULL,
                         .http = how == OVER_HTTP ? address : NULL};
    assert_int_equal(mcp_net_start(&f->net, f->server, &listen,
                                   &(mcp_net_tuning){.ws = how == OVER_WS, .http = how == OVER_HTTP}),
                     0);
    wsc c;
    client_open(&c, host, mcp_net_port(f->net), tls);
    unsigned port = local_port(c.fd);
    mcp_buf head;
    mcp_buf_init(&head);
    if (how == OVER_TCP) {
        wsc_send_cstr(&c, CALL "\n");
    } else if (how == OVER_WS) {
        assert_int_equal(wsc_handshake(&c, "/mcp", NULL, &head), 101);
        wsc_send_frame(&c, true, 1, CALL, strlen(CALL));
    } else {
        char req[1024];
        snprintf(req, sizeof req,
                 "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                 "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(CALL), CALL);
        wsc_send_cstr(&c, req);
    }
    uint64_t deadline = wsc_now_ms() + 5000;
    while (!(c.in.data && memmem(c.in.data, c.in.len, "\"result\"", 8)))
        if (!wsc_fill(&c, deadline)) fail_msg("no answer");
    wait_for_request(f);
    assert_false(f->seen.peer_null);
    assert_string_equal(f->seen.peer_address, host);
    assert_int_equal(f->seen.peer_port, port);

    mcp_arena a;
    mcp_arena_init(&a, 0);
    const mcp_json *span = echo_span(f, &a);
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "network.peer.address"), "stringValue"), ""), host);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "network.peer.port"), "intValue"), ""), port_text);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "client.address"), "stringValue"), ""), host);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "client.port"), "intValue"), ""), port_text);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "network.transport"), "stringValue"), ""), "tcp");
    mcp_arena_free(&a);
    mcp_buf_free(&head);
    wsc_close(&c);
}

static void test_peer_tcp(void **state) { check_peer(*state, OVER_TCP, "127.0.0.1", false); }
static void test_peer_ws(void **state) { check_peer(*state, OVER_WS, "127.0.0.1", false); }
static void test_peer_http(void **state) { check_peer(*state, OVER_HTTP, "127.0.0.1", false); }
static void test_peer_tcp_tls(void **state) { check_peer(*state, OVER_TCP, "127.0.0.1", true); }
static void test_peer_ws_tls(void **state) { check_peer(*state, OVER_WS, "127.0.0.1", true); }
static void test_peer_http_tls(void **state) { check_peer(*state, OVER_HTTP, "127.0.0.1", true); }

static void check_peer_ipv6(fixture *f, over how) {
    if (!have_ipv6_loopback()) {
        printf("SKIPPED: this machine has no IPv6 loopback (::1)\n");
        skip();
    }
    check_peer(f, how, "::1", false);
}

static void test_peer_tcp_ipv6(void **state) { check_peer_ipv6(*state, OVER_TCP); }
static void test_peer_ws_ipv6(void **state) { check_peer_ipv6(*state, OVER_WS); }
static void test_peer_http_ipv6(void **state) { check_peer_ipv6(*state, OVER_HTTP); }

/* The span of a request over stdio has no address to carry. */
static void test_no_peer_on_stdio_span(void **state) {
    fixture *f = *state;
    test_stdio(state);
    mcp_arena a;
    mcp_arena_init(&a, 0);
    const mcp_json *span = echo_span(f, &a);
    assert_string_equal(mcp_json_str(mcp_json_get(span_attr(span, "network.transport"), "stringValue"), ""), "pipe");
    assert_null(span_attr(span, "network.peer.address"));
    assert_null(span_attr(span, "network.peer.port"));
    assert_null(span_attr(span, "client.address"));
    assert_null(span_attr(span, "client.port"));
    mcp_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_websocket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_ws, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_tcp_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_ws_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_http_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_tcp_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_ws_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_http_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_peer_on_stdio_span, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
