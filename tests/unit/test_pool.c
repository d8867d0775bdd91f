/*
 * The connection pool against a real mcpd server: the TCP runtime in
 * process on 127.0.0.1, and the mcpd binary spawned over stdio. Static,
 * dynamic (overflow, shrinking) and adaptive sizing; the checkout wait
 * queue and its timeout; health checks; a server stopped and restarted on
 * the same port in the middle of a run, with the breaker opening,
 * half-opening and closing again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "pool/pool_internal.h"
#include "test_tcp_runtime.h"

/* ---- Server ---------------------------------------------------------------------- */
static void server_start(server_fixture *f, int port) {
    server_start_with(f, port, "pool-test", NULL, 0);
}

static int call_echo(mcp_pool *p, int n) {
    char params[96];
    snprintf(params, sizeof params, "{\"name\":\"echo_n\",\"arguments\":{\"n\":%d}}", n);
    mcp_client_result r;
    int rc = mcp_pool_call(p, "tools/call", params, &r);
    if (rc == 0) {
        char want[32];
        snprintf(want, sizeof want, "\"text\":\"n=%d\"", n);
        if (!strstr(r.json, want)) rc = MCP_EPROTO;
    }
    mcp_client_result_free(&r);
    return rc;
}

static mcp_pool_stats stats_of(mcp_pool *p) {
    mcp_pool_stats s;
    mcp_pool_get_stats(p, &s);
    return s;
}

/* ---- Tests ------------------------------------------------------------------------- */
typedef struct caller {
    mcp_pool *pool;
    int base;
    int failures;
} caller;

static void *caller_main(void *arg) {
    caller *c = arg;
    for (int i = 0; i < 200; i++)
        if (call_echo(c->pool, c->base + i) != 0) c->failures++;
    return NULL;
}

static void static_pool_serves_threads_over_tcp(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f.addr,
                                                   .protocol_version = "2025-06-18",
                                                   .kind = MCP_POOL_STATIC, .size = 3},
                                  &p), 0);
    mcp_pool_stats s = stats_of(p);
    assert_int_equal(s.open, 3);
    assert_int_equal(s.idle, 3);
    pthread_t th[6];
    caller c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = (caller){p, i * 1000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &c[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].failures, 0);
    }
    s = stats_of(p);
    assert_int_equal(s.checkouts, 1200);
    assert_int_equal(s.connects, 3); /* six threads, never more than three connections */
    assert_int_equal(s.open, 3);
    assert_int_equal(s.busy, 0);
    assert_int_equal(s.breaker, MCP_POOL_BREAKER_CLOSED);
    mcp_net_counters nc;
    mcp_net_counters_get(f.net, &nc);
    assert_int_equal(nc.accepted, 3);
    mcp_pool_free(p);
    server_free(&f);
}

typedef struct waiter {
    mcp_pool *pool;
    int rc;
    uint64_t waited_ms;
} waiter;

static void *waiter_main(void *arg) {
    waiter *w = arg;
    uint64_t t0 = mcp_now_ns();
    mcp_pool_conn *c;
    w->rc = mcp_pool_checkout(w->pool, 2000, &c);
    w->waited_ms = (mcp_now_ns() - t0) / 1000000u;
    if (w->rc == 0) mcp_pool_checkin(w->pool, c, 0);
    return NULL;
}

static void checkout_waits_and_times_out(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f.addr,
                                                   .kind = MCP_POOL_STATIC, .size = 1},
                                  &p), 0);
    mcp_pool_conn *c;
    assert_int_equal(mcp_pool_checkout(p, 0, &c), 0);
    assert_non_null(mcp_pool_client(c));
    uint64_t t0 = mcp_now_ns();
    mcp_pool_conn *c2;
    assert_int_equal(mcp_pool_checkout(p, 60, &c2), MCP_ETIMEDOUT);
    assert_true((mcp_now_ns() - t0) / 1000000u >= 59);
    assert_int_equal(stats_of(p).checkout_timeouts, 1);
    /* A waiter is woken by the checkin, long before its timeout. */
    waiter w = {p, -99, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
    usleep(30000);
    assert_int_equal(stats_of(p).waiting, 1);
    mcp_pool_checkin(p, c, 0);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(w.waited_ms >= 25 && w.waited_ms < 1000);
    /* A connection checked in as broken is closed, and the next checkout opens a new one. */
    assert_int_equal(mcp_pool_checkout(p, 0, &c), 0);
    mcp_pool_checkin(p, c, MCP_ECLOSED);
    mcp_pool_stats s = stats_of(p);
    assert_int_equal(s.open, 0);
    assert_int_equal(s.closed_broken, 1);
    assert_int_equal(call_echo(p, 5), 0);
    assert_int_equal(stats_of(p).connects, 2);
    mcp_pool_free(p);
    server_free(&f);
}

static void dynamic_pool_overflows_and_shrinks(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f.addr,
                                                   .kind = MCP_POOL_DYNAMIC, .min = 1, .max = 2, .max_overflow = 2,
                                                   .idle_timeout_ms = 100, .health_interval_ms = 20},
                                  &p), 0);
    assert_int_equal(stats_of(p).open, 1);
    mcp_pool_conn *c[5];
    for (int i = 0; i < 4; i++) assert_int_equal(mcp_pool_checkout(p, 0, &c[i]), 0);
    mcp_pool_stats s = stats_of(p);
    assert_int_equal(s.open, 4);
    assert_int_equal(s.overflow_opened, 2);
    assert_int_equal(mcp_pool_checkout(p, 30, &c[4]), MCP_ETIMEDOUT); /* max + max_overflow reached */
    for (int i = 0; i < 4; i++) mcp_pool_checkin(p, c[i], 0);
    s = stats_of(p);
    assert_int_equal(s.open, 2); /* the overflow closed at checkin */
    uint64_t t0 = mcp_now_ns();
    while (stats_of(p).open > 1 && mcp_now_ns() - t0 < 3000000000u) usleep(10000);
    s = stats_of(p);
    assert_int_equal(s.open, 1); /* shrunk back to min after the idle timeout */
    assert_true(s.closed_idle >= 1);
    assert_true(s.health_checks >= 1); /* idle connections were pinged meanwhile */
    assert_int_equal(s.health_failures, 0);
    assert_int_equal(call_echo(p, 1), 0);
    mcp_pool_free(p);
    server_free(&f);
}

static void adaptive_limit_follows_latency(void **state) {
    (void)state;
    mcp_pool_limit l;
    mcp_pool_limit_init(&l, 2, 50);
    assert_true(l.limit == 2);
    for (int i = 0; i < 500; i++) mcp_pool_limit_sample(&l, 100, false);
    assert_true(l.limit > 49); /* flat latency: grows to the max */
    for (int i = 0; i < 200; i++) mcp_pool_limit_sample(&l, 400, false);
    assert_true(l.limit < 20); /* latency four times the best: queueing, back off */
    double before = l.limit;
    mcp_pool_limit_sample(&l, 0, true);
    assert_true(l.limit < before);

    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f.addr,
                                                   .kind = MCP_POOL_ADAPTIVE, .min = 1, .max = 4},
                                  &p), 0);
    assert_int_equal(stats_of(p).limit, 1);
    mcp_pool_conn *a, *b;
    assert_int_equal(mcp_pool_checkout(p, 0, &a), 0);
    assert_int_equal(mcp_pool_checkout(p, 20, &b), MCP_ETIMEDOUT); /* beyond the limit: waits */
    mcp_pool_checkin(p, a, 0);
    for (int i = 0; i < 100; i++) assert_int_equal(call_echo(p, i), 0);
    assert_int_equal(stats_of(p).limit, 4);
    mcp_pool_free(p);
    server_free(&f);
}

static void server_restart_trips_and_resets_the_breaker(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    int port = f.port;
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f.addr,
                                                   .kind = MCP_POOL_STATIC, .size = 2, .health_interval_ms = 40,
                                                   .breaker_threshold = 3, .breaker_cooldown_ms = 150,
                                                   .backoff_min_ms = 5, .backoff_max_ms = 50,
                                                   .checkout_timeout_ms = 200, .request_timeout_ms = 2000},
                                  &p), 0);
    for (int i = 0; i < 20; i++) assert_int_equal(call_echo(p, i), 0);

    server_stop(&f);
    /* Calls now fail: on dead connections (closed), then on refused connects. */
    int failures = 0, rejected = 0;
    uint64_t t0 = mcp_now_ns();
    while (rejected == 0 && mcp_now_ns() - t0 < 3000000000u) {
        int rc = call_echo(p, 1);
        assert_true(rc != 0);
        if (rc == MCP_EAGAIN) rejected++;
        else failures++;
    }
    mcp_pool_stats s = stats_of(p);
    printf("# server down: %d failed calls, %llu failed pings, %llu failed connects, then the breaker opened\n",
           failures, (unsigned long long)s.health_failures, (unsigned long long)s.connect_failures);
    assert_int_equal(rejected, 1);
    /* The threshold is 3 consecutive failures, whoever met them: callers or the health checks. */
    assert_true((uint64_t)failures + s.health_failures + s.connect_failures >= 3);
    assert_true(s.breaker == MCP_POOL_BREAKER_OPEN);
    assert_true(s.breaker_opens >= 1);
    /* Open: refused at once, without waiting for the checkout timeout. */
    uint64_t t1 = mcp_now_ns();
    mcp_pool_conn *c;
    int rc = mcp_pool_checkout(p, 1000, &c);
    if (rc == 0) mcp_pool_checkin(p, c, MCP_ECLOSED);
    assert_true(rc == MCP_EAGAIN || rc == MCP_EIO);
    assert_true(mcp_now_ns() - t1 < 100000000u);

    /* While the server stays down, half-open probes fail and reopen the breaker. */
    usleep(400000);
    s = stats_of(p);
    assert_true(s.breaker_opens >= 2);

    server_start(&f, port);
    assert_int_equal(f.port, port);
    t0 = mcp_now_ns();
    while (stats_of(p).breaker != MCP_POOL_BREAKER_CLOSED && mcp_now_ns() - t0 < 5000000000u) usleep(10000);
    s = stats_of(p);
    assert_int_equal(s.breaker, MCP_POOL_BREAKER_CLOSED);
    /* Reconnected: the pool refills to its size and calls succeed again. */
    t0 = mcp_now_ns();
    while (stats_of(p).open < 2 && mcp_now_ns() - t0 < 3000000000u) usleep(10000);
    assert_int_equal(stats_of(p).open, 2);
    for (int i = 0; i < 20; i++) assert_int_equal(call_echo(p, 100 + i), 0);
    mcp_pool_free(p);
    server_free(&f);
}

static void stdio_connector_spawns_the_server(void **state) {
    (void)state;
    const char *bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("skipped: MCPD_BIN is not set or not built\n");
        skip();
    }
    char *argv[] = {(char *)bin, "serve", "--stdio", NULL};
    mcp_pool *p;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_stdio, .connect_user = argv,
                                                   .kind = MCP_POOL_STATIC, .size = 2},
                                  &p), 0);
    assert_int_equal(stats_of(p).open, 2);
    mcp_client_result r;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mcp_pool_call(p, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}", &r), 0);
        assert_non_null(strstr(r.json, "hi"));
        mcp_client_result_free(&r);
    }
    mcp_pool_free(p);
}

static void bad_options_are_refused(void **state) {
    (void)state;
    mcp_pool *p = NULL;
    assert_int_equal(mcp_pool_new(NULL, &p), MCP_EINVAL);
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){0}, &p), MCP_EINVAL);
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = "127.0.0.1:1",
                                                   .kind = MCP_POOL_DYNAMIC, .min = 5, .max = 2},
                                  &p), MCP_EINVAL);
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = "127.0.0.1:1",
                                                   .protocol_version = "nope"},
                                  &p), MCP_EUNSUPPORTED);
    /* Nobody listens: the pool exists, and checkouts report the connect failure. */
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = "127.0.0.1:1",
                                                   .kind = MCP_POOL_DYNAMIC, .min = 0, .max = 2,
                                                   .breaker_threshold = 100},
                                  &p), 0);
    mcp_pool_conn *c;
    assert_int_equal(mcp_pool_checkout(p, 50, &c), MCP_EIO);
    assert_int_equal(stats_of(p).connect_failures, 1);
    assert_int_equal(mcp_pool_checkout(NULL, 0, &c), MCP_EINVAL);
    mcp_pool_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(static_pool_serves_threads_over_tcp),
        cmocka_unit_test(checkout_waits_and_times_out),
        cmocka_unit_test(dynamic_pool_overflows_and_shrinks),
        cmocka_unit_test(adaptive_limit_follows_latency),
        cmocka_unit_test(server_restart_trips_and_resets_the_breaker),
        cmocka_unit_test(stdio_connector_spawns_the_server),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
