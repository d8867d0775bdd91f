/*
 * What each transport tells the observer about the requests it carries:
 * network.transport and network.protocol.name reach mcp_request_info for
 * requests over NDJSON TCP ("tcp"), WebSocket ("tcp" + "websocket"),
 * Streamable HTTP ("tcp" + "http") and stdio ("pipe"). Real servers on
 * loopback (or real pipes), a real observer recording what it is given.
 */
#include "mcp/mcp.h"
#include "net/net_internal.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_loopback.h"
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
} seen;

static void *on_start(void *user, const mcp_request_info *info) {
    seen *s = user;
    pthread_mutex_lock(&s->lock);
    if (!s->requests++) {
        snprintf(s->transport, sizeof s->transport, "%s", info->transport ? info->transport : "(null)");
        s->protocol_null = !info->network_protocol;
        snprintf(s->protocol, sizeof s->protocol, "%s", info->network_protocol ? info->network_protocol : "");
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

typedef struct fixture {
    seen seen;
    mcp_observer observer;
    mcp_server *server;
    mcp_net *net;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->seen.lock, NULL);
    f->observer = (mcp_observer){.on_request_start = on_start, .user = &f->seen};
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
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_websocket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
