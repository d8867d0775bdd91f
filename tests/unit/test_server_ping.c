/*
 * mcp_server_ping_sessions over a real transport (newline-delimited JSON
 * on TCP): every initialized session is pinged, answers and session ends
 * reach the callback once each, a session that has not answered is not
 * pinged again, and uninitialized sessions are left alone.
 */
#include "mcp/mcp.h"
#include "net/net_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_loopback.h"

typedef struct record {
    int answered; /* atomic */
    int closed;   /* atomic */
} record;

static void on_ping(mcp_session *session, int status, void *user) {
    record *r = user;
    assert_non_null(session);
    __atomic_add_fetch(status == 0 ? &r->answered : &r->closed, 1, __ATOMIC_ACQ_REL);
}

static bool wait_count(int *counter, int want) {
    for (int i = 0; i < 400; i++) {
        if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) >= want) return true;
        usleep(5000);
    }
    return false;
}

static int open_session(int port, bool initialize) {
    int fd = connect_port(port);
    if (!initialize) return fd;
    send_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                 "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n");
    mcp_buf got;
    mcp_buf_init(&got);
    read_until(fd, &got, "\n");
    assert_non_null(strstr(got.data, "\"protocolVersion\":\"2025-11-25\""));
    /* A request after the notification: its reply means both were handled. */
    send_all(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    mcp_buf_reset(&got);
    read_until(fd, &got, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
    mcp_buf_free(&got);
    return fd;
}

/* Reads the next ping request and returns its id. */
static long read_ping(int fd) {
    mcp_buf got;
    mcp_buf_init(&got);
    read_until(fd, &got, "\"method\":\"ping\"}\n");
    const char *p = strstr(got.data, "{\"jsonrpc\":\"2.0\",\"id\":");
    assert_non_null(p);
    long id = strtol(p + 22, NULL, 10);
    mcp_buf_free(&got);
    return id;
}

static void every_session_is_pinged_once_at_a_time(void **state) {
    (void)state;
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "ping", .version = "1"});
    mcp_net *net;
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL), 0);
    int port = mcp_net_port(net);
    int a = open_session(port, true);
    int b = open_session(port, true);
    int fresh = open_session(port, false); /* never initialized */

    record rec = {0};
    assert_int_equal(mcp_server_ping_sessions(server, on_ping, &rec), 2);
    long id = read_ping(a);
    char answer[96];
    snprintf(answer, sizeof answer, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{}}\n", id);
    send_all(a, answer);
    assert_true(wait_count(&rec.answered, 1));
    assert_int_equal(__atomic_load_n(&rec.closed, __ATOMIC_ACQUIRE), 0);

    /* b has not answered: only a is pinged again. */
    assert_int_equal(mcp_server_ping_sessions(server, on_ping, &rec), 1);
    long again = read_ping(a);
    assert_true(again != id);

    /* b goes away: its ping ends as closed. */
    close(b);
    assert_true(wait_count(&rec.closed, 1));
    assert_int_equal(__atomic_load_n(&rec.answered, __ATOMIC_ACQUIRE), 1);

    /* An error answer still proves the peer is there. */
    snprintf(answer, sizeof answer,
             "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"error\":{\"code\":-32601,\"message\":\"no\"}}\n", again);
    send_all(a, answer);
    assert_true(wait_count(&rec.answered, 2));

    /* A ping outstanding when serving stops ends as closed. */
    assert_int_equal(mcp_server_ping_sessions(server, on_ping, &rec), 1);
    read_ping(a);
    close(a);
    close(fresh);
    mcp_net_free(net);
    assert_true(wait_count(&rec.closed, 2));
    assert_int_equal(__atomic_load_n(&rec.answered, __ATOMIC_ACQUIRE), 2);
    assert_int_equal(mcp_server_ping_sessions(server, on_ping, &rec), 0);
    assert_int_equal(mcp_server_ping_sessions(NULL, on_ping, &rec), 0);
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_session_is_pinged_once_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
