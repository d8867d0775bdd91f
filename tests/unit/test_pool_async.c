/*
 * mcp_pool_call_async against a real mcpd server (the TCP runtime in
 * process on 127.0.0.1): many calls over few connections, each completed
 * exactly once with its own reply, blocking checkouts mixed in; request and
 * checkout timeouts; a server stopped and restarted under a running load
 * (failures, then recovery); the pool freed with calls in flight and
 * queued (each ends with MCP_ECLOSED); refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "pool/pool_internal.h"
#include "test_tcp_runtime.h"

/* ---- Server ---------------------------------------------------------------------- */
/* "hang" calls stay pending until the test finishes them. */
enum { MAX_HUNG = 64 };
typedef struct hung_calls {
    pthread_mutex_t lock;
    mcp_call *calls[MAX_HUNG];
    int count;
} hung_calls;

static hung_calls g_hung = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int tool_hang(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    pthread_mutex_lock(&g_hung.lock);
    int ok = g_hung.count < MAX_HUNG;
    if (ok) g_hung.calls[g_hung.count++] = call;
    pthread_mutex_unlock(&g_hung.lock);
    return ok ? MCP_PENDING : MCP_ENOMEM;
}

static int hung_count(void) {
    pthread_mutex_lock(&g_hung.lock);
    int n = g_hung.count;
    pthread_mutex_unlock(&g_hung.lock);
    return n;
}

static void finish_hung(void) {
    pthread_mutex_lock(&g_hung.lock);
    for (int i = 0; i < g_hung.count; i++) {
        mcp_call_text(g_hung.calls[i], "late");
        mcp_call_finish(g_hung.calls[i]);
    }
    g_hung.count = 0;
    pthread_mutex_unlock(&g_hung.lock);
}

static void server_start(server_fixture *f, int port) {
    server_start_with(f, port, "pool-async-test", &(mcp_tool){.name = "hang", .fn = tool_hang}, 1);
}

/* Hung calls first: a stopping server lets in-flight requests finish
 * within its drain grace, and these would not. */
static void server_end(server_fixture *f) {
    finish_hung();
    server_free(f);
}

static mcp_pool_stats stats_of(mcp_pool *p) {
    mcp_pool_stats s;
    mcp_pool_get_stats(p, &s);
    return s;
}

static void sleep_ms(unsigned ms) {
    usleep(ms * 1000u);
}

/* ---- Completions ---------------------------------------------------------------------- */
/* One slot per call: how often it completed, its status, whether the reply
 * was its own. */
typedef struct slot {
    struct tracker *t;
    int n;
    atomic_int completions;
    int status;
    bool own_reply;
} slot;

typedef struct tracker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    slot *slots;
    int count;
} tracker;

static void tracker_init(tracker *t, int count) {
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->done = 0;
    t->count = count;
    t->slots = calloc((size_t)count, sizeof *t->slots);
    assert_non_null(t->slots);
    for (int i = 0; i < count; i++) {
        t->slots[i].t = t;
        t->slots[i].n = i;
    }
}

static void tracker_free(tracker *t) {
    free(t->slots);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

/* Text of the first content block of a tools/call result, or "". */
static const char *result_text(const mcp_json *value) {
    return mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(value, "content"), 0), "text"), "");
}

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)id;
    slot *s = user;
    char want[32];
    snprintf(want, sizeof want, "n=%d", s->n);
    s->status = status;
    s->own_reply = status == 0 && strcmp(result_text(value), want) == 0;
    atomic_fetch_add(&s->completions, 1);
    pthread_mutex_lock(&s->t->lock);
    s->t->done++;
    pthread_cond_broadcast(&s->t->cond);
    pthread_mutex_unlock(&s->t->lock);
}

/* Wait up to ms for `want` completions; returns how many there were. */
static int tracker_wait(tracker *t, int want, unsigned ms) {
    uint64_t deadline = mcp_now_ns() + (uint64_t)ms * 1000000u;
    pthread_mutex_lock(&t->lock);
    while (t->done < want && mcp_now_ns() < deadline) {
        pthread_mutex_unlock(&t->lock);
        sleep_ms(2);
        pthread_mutex_lock(&t->lock);
    }
    int done = t->done;
    pthread_mutex_unlock(&t->lock);
    return done;
}

static int call_echo_async(mcp_pool *p, slot *s, const mcp_client_request_opts *ropts) {
    char params[96];
    snprintf(params, sizeof params, "{\"name\":\"echo_n\",\"arguments\":{\"n\":%d}}", s->n);
    return mcp_pool_call_async(p, "tools/call", params, ropts, on_done, s);
}

static mcp_pool *tcp_pool(const char *addr, mcp_pool_opts o) {
    o.connect = mcp_pool_connect_tcp;
    o.connect_user = (void *)addr;
    o.protocol_version = "2025-06-18";
    mcp_pool *p = NULL;
    assert_int_equal(mcp_pool_new(&o, &p), 0);
    return p;
}

/* ---- Tests ------------------------------------------------------------------------- */
typedef struct sync_caller {
    mcp_pool *pool;
    int failures;
} sync_caller;

static void *sync_caller_main(void *arg) {
    sync_caller *c = arg;
    for (int i = 0; i < 100; i++) {
        mcp_client_result r;
        char params[96];
        snprintf(params, sizeof params, "{\"name\":\"echo_n\",\"arguments\":{\"n\":%d}}", 100000 + i);
        int rc = mcp_pool_call(c->pool, "tools/call", params, &r);
        char want[32];
        snprintf(want, sizeof want, "\"text\":\"n=%d\"", 100000 + i);
        if (rc != 0 || !strstr(r.json, want)) c->failures++;
        mcp_client_result_free(&r);
    }
    return NULL;
}

static void many_calls_share_few_connections(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p = tcp_pool(f.addr, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 3, .io_threads = 2});
    enum { N = 2000 };
    tracker t;
    tracker_init(&t, N);
    /* Blocking callers borrow the same connections meanwhile. */
    pthread_t th;
    sync_caller sc = {p, 0};
    assert_int_equal(pthread_create(&th, NULL, sync_caller_main, &sc), 0);
    for (int i = 0; i < N; i++) assert_int_equal(call_echo_async(p, &t.slots[i], NULL), 0);
    assert_int_equal(tracker_wait(&t, N, 20000), N);
    pthread_join(th, NULL);
    assert_int_equal(sc.failures, 0);
    sleep_ms(20); /* a second completion, were there one, would have come by now */
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&t.slots[i].completions), 1);
        assert_int_equal(t.slots[i].status, 0);
        assert_true(t.slots[i].own_reply);
    }
    mcp_pool_stats s = stats_of(p);
    assert_int_equal(s.connects, 3); /* 2100 calls, never more than three connections */
    assert_int_equal(s.checkouts, N + 100);
    assert_int_equal(s.busy, 0);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.idle, 3);
    mcp_pool_free(p);
    tracker_free(&t);
    server_end(&f);
}

static void calls_time_out_waiting_and_in_flight(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p = tcp_pool(f.addr, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 1, .checkout_timeout_ms = 100});
    tracker t;
    tracker_init(&t, 3);

    /* The reply does not come within the request's timeout. */
    uint64_t t0 = mcp_now_ns();
    assert_int_equal(mcp_pool_call_async(p, "tools/call", "{\"name\":\"hang\",\"arguments\":{}}",
                                         &(mcp_client_request_opts){.timeout_ms = 50}, on_done, &t.slots[0]),
                     0);
    assert_int_equal(tracker_wait(&t, 1, 5000), 1);
    assert_int_equal(t.slots[0].status, MCP_ETIMEDOUT);
    assert_true(mcp_now_ns() - t0 >= 50000000u);

    /* No connection comes within checkout_timeout_ms: the only one is lent out. */
    mcp_pool_conn *c;
    assert_int_equal(mcp_pool_checkout(p, 0, &c), 0);
    t0 = mcp_now_ns();
    assert_int_equal(call_echo_async(p, &t.slots[1], NULL), 0);
    assert_int_equal(stats_of(p).queued, 1);
    assert_int_equal(tracker_wait(&t, 2, 5000), 2);
    assert_int_equal(t.slots[1].status, MCP_ETIMEDOUT);
    assert_true(mcp_now_ns() - t0 >= 100000000u);
    assert_int_equal(stats_of(p).checkout_timeouts, 1);
    assert_int_equal(stats_of(p).queued, 0);

    /* Given back, the connection serves the next call (a timeout is not a
     * broken connection). */
    mcp_pool_checkin(p, c, 0);
    assert_int_equal(call_echo_async(p, &t.slots[2], NULL), 0);
    assert_int_equal(tracker_wait(&t, 3, 5000), 3);
    assert_int_equal(t.slots[2].status, 0);
    assert_true(t.slots[2].own_reply);
    for (int i = 0; i < 3; i++) assert_int_equal(atomic_load(&t.slots[i].completions), 1);
    mcp_pool_free(p);
    tracker_free(&t);
    server_end(&f);
}

/* A load that keeps `outstanding` calls going until told to stop, and
 * counts outcomes. */
typedef struct load {
    mcp_pool *pool;
    atomic_bool stop;
    atomic_int in_flight;
    atomic_int ok, failed, issued;
    atomic_int wrong_reply;
} load;

typedef struct load_call {
    load *l;
    int n;
} load_call;

static void load_issue(load *l);

static void on_load_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)id;
    load_call *c = user;
    load *l = c->l;
    char want[32];
    snprintf(want, sizeof want, "n=%d", c->n);
    if (status == 0) {
        atomic_fetch_add(&l->ok, 1);
        if (strcmp(result_text(value), want) != 0) atomic_fetch_add(&l->wrong_reply, 1);
    } else {
        atomic_fetch_add(&l->failed, 1);
    }
    free(c);
    if (!atomic_load(&l->stop)) load_issue(l);
    atomic_fetch_sub(&l->in_flight, 1);
}

static void load_issue(load *l) {
    load_call *c = malloc(sizeof *c);
    assert_non_null(c);
    c->l = l;
    c->n = atomic_fetch_add(&l->issued, 1);
    char params[96];
    snprintf(params, sizeof params, "{\"name\":\"echo_n\",\"arguments\":{\"n\":%d}}", c->n);
    atomic_fetch_add(&l->in_flight, 1);
    int rc = mcp_pool_call_async(l->pool, "tools/call", params, &(mcp_client_request_opts){.timeout_ms = 500},
                                 on_load_done, c);
    if (rc != 0) {
        /* Refused at once (breaker open): counted, and retried a little later
         * by the test's own loop, not from here. */
        atomic_fetch_add(&l->failed, 1);
        atomic_fetch_sub(&l->in_flight, 1);
        free(c);
    }
}

static void wait_for(atomic_int *counter, int at_least, unsigned ms) {
    uint64_t deadline = mcp_now_ns() + (uint64_t)ms * 1000000u;
    while (atomic_load(counter) < at_least && mcp_now_ns() < deadline) sleep_ms(2);
}

static void server_restart_fails_calls_then_recovers(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    int port = f.port;
    mcp_pool *p = tcp_pool(f.addr, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 4, .health_interval_ms = 50,
                                                  .breaker_threshold = 3, .breaker_cooldown_ms = 50,
                                                  .backoff_min_ms = 5, .backoff_max_ms = 50,
                                                  .checkout_timeout_ms = 300});
    load l = {.pool = p};
    for (int i = 0; i < 8; i++) load_issue(&l);
    wait_for(&l.ok, 200, 5000);
    assert_true(atomic_load(&l.ok) >= 200);
    assert_int_equal(atomic_load(&l.failed), 0);

    server_stop(&f);
    /* Keep offering work while it is down (refusals end the chains). */
    uint64_t down_until = mcp_now_ns() + 300000000u;
    while (mcp_now_ns() < down_until) {
        if (atomic_load(&l.in_flight) < 8) load_issue(&l);
        sleep_ms(5);
    }
    int failed_while_down = atomic_load(&l.failed);
    assert_true(failed_while_down > 0);

    server_start(&f, port);
    int ok_before = atomic_load(&l.ok);
    uint64_t deadline = mcp_now_ns() + 10000000000u;
    while (atomic_load(&l.ok) < ok_before + 200 && mcp_now_ns() < deadline) {
        if (atomic_load(&l.in_flight) < 8) load_issue(&l);
        sleep_ms(5);
    }
    assert_true(atomic_load(&l.ok) >= ok_before + 200);
    assert_int_equal(stats_of(p).breaker, MCP_POOL_BREAKER_CLOSED);
    atomic_store(&l.stop, true);
    while (atomic_load(&l.in_flight) > 0 && mcp_now_ns() < deadline) sleep_ms(2);
    assert_int_equal(atomic_load(&l.in_flight), 0);
    assert_int_equal(atomic_load(&l.wrong_reply), 0);
    /* Every issued call ended once: as a success or as a failure. */
    assert_int_equal(atomic_load(&l.ok) + atomic_load(&l.failed), atomic_load(&l.issued));
    mcp_pool_free(p);
    server_end(&f);
}

static void free_ends_calls_in_flight_and_queued(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p = tcp_pool(f.addr, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 2});
    enum { N = 10 };
    tracker t;
    tracker_init(&t, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(mcp_pool_call_async(p, "tools/call", "{\"name\":\"hang\",\"arguments\":{}}", NULL,
                                             on_done, &t.slots[i]),
                         0);
    uint64_t deadline = mcp_now_ns() + 5000000000u;
    while (hung_count() < 2 && mcp_now_ns() < deadline) sleep_ms(2);
    assert_int_equal(hung_count(), 2); /* two in flight at the server, eight waiting here */
    assert_int_equal(stats_of(p).queued, N - 2);
    assert_int_equal(t.done, 0);
    mcp_pool_free(p);
    /* Every call has completed by the time free returns. */
    assert_int_equal(t.done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&t.slots[i].completions), 1);
        assert_int_equal(t.slots[i].status, MCP_ECLOSED);
    }
    tracker_free(&t);
    server_end(&f);
}

static int refusing_connector(void *user, mcp_client_transport **out) {
    (void)user;
    (void)out;
    return MCP_EIO;
}

static void bad_calls_are_refused(void **state) {
    (void)state;
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_pool *p = tcp_pool(f.addr, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 1});
    tracker t;
    tracker_init(&t, 1);
    assert_int_equal(mcp_pool_call_async(p, "tools/call", NULL, NULL, NULL, NULL), MCP_EINVAL);
    assert_int_equal(mcp_pool_call_async(p, NULL, NULL, NULL, on_done, &t.slots[0]), MCP_EINVAL);
    assert_int_equal(mcp_pool_call_async(p, "", NULL, NULL, on_done, &t.slots[0]), MCP_EINVAL);
    assert_int_equal(mcp_pool_call_async(NULL, "ping", NULL, NULL, on_done, &t.slots[0]), MCP_EINVAL);
    /* An unknown tool is the server's answer, delivered as such. */
    assert_int_equal(mcp_pool_call_async(p, "tools/call", "{\"name\":\"nope\",\"arguments\":{}}", NULL, on_done,
                                         &t.slots[0]),
                     0);
    assert_int_equal(tracker_wait(&t, 1, 5000), 1);
    assert_true(t.slots[0].status == MCP_CLIENT_RPC_ERROR || t.slots[0].status == 0);
    assert_false(t.slots[0].own_reply);
    mcp_pool_free(p);
    tracker_free(&t);

    /* A pool over a user connector has no sockets of its own to drive. */
    mcp_pool *q = NULL;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = refusing_connector, .kind = MCP_POOL_DYNAMIC,
                                                   .min = 0, .max = 2},
                                  &q),
                     0);
    slot s = {0};
    assert_int_equal(mcp_pool_call_async(q, "ping", NULL, NULL, on_done, &s), MCP_EUNSUPPORTED);
    mcp_pool_free(q);
    server_end(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_calls_share_few_connections),
        cmocka_unit_test(calls_time_out_waiting_and_in_flight),
        cmocka_unit_test(server_restart_fails_calls_then_recovers),
        cmocka_unit_test(free_ends_calls_in_flight_and_queued),
        cmocka_unit_test(bad_calls_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
