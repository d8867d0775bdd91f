/*
 * pool: client connection pools against a real server in the same process
 * (the TCP runtime on 127.0.0.1, two worker loops) whose tool "sleep_1ms"
 * completes asynchronously 1 ms after it is called, as a tool waiting on
 * I/O would. Caller threads loop: checkout, tools/call, checkin.
 *
 *   pool_static_10 / _100   a static pool of 10 / 100 connections, as many callers
 *   pool_dynamic_burst      dynamic min 2, max 20, overflow 20; 40 callers at once
 *   pool_adaptive           adaptive limit 2..100; 100 callers
 *   pool_overflow_stress    dynamic max 4, overflow 60; 64 callers: overflow
 *                           connections opened and closed all the time
 *   pool_checkout           checkout + checkin alone on a static pool of 10
 *                           (one thread; and two threads contending)
 *
 * Throughput: completed calls over the time from the release of the
 * callers to the last completion. Latency: each call including its wait
 * for a connection (checkout to checkin), or, for pool_checkout, each
 * checkout + checkin pair.
 */
#include "harness.h"
#include "mcp/pool.h"
#include "net/net_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLEEP_PARAMS "{\"name\":\"sleep_1ms\",\"arguments\":{}}"

/* ---- The server's delayed completions ---------------------------------------------------
 * One timer thread finishes calls in the order they arrived, each 1 ms
 * after its handler ran: a FIFO is already sorted by due time. */
typedef struct delayed {
    struct delayed *next;
    mcp_call *call;
    uint64_t due_ns;
} delayed;

typedef struct delay_line {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    delayed *head, *tail;
    bool stop;
    pthread_t thread;
} delay_line;

static void *delay_main(void *p) {
    delay_line *d = p;
    pthread_mutex_lock(&d->lock);
    while (!d->stop || d->head) {
        if (!d->head) {
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        uint64_t now = mcp_now_ns();
        if (d->head->due_ns > now) {
            uint64_t wait = d->head->due_ns - now;
            pthread_mutex_unlock(&d->lock);
            struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&d->lock);
            continue;
        }
        delayed *item = d->head;
        d->head = item->next;
        if (!d->head) d->tail = NULL;
        pthread_mutex_unlock(&d->lock);
        mcp_call_text_n(item->call, "slept", 5);
        mcp_call_finish(item->call);
        free(item);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static int tool_sleep_1ms(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    delay_line *d = user;
    delayed *item = malloc(sizeof *item);
    if (!item) return MCP_ENOMEM;
    item->call = call;
    item->next = NULL;
    item->due_ns = mcp_now_ns() + 1000000u;
    pthread_mutex_lock(&d->lock);
    if (d->tail) d->tail->next = item;
    else d->head = item;
    d->tail = item;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return MCP_PENDING;
}

/* ---- State -------------------------------------------------------------------------------- */
typedef struct pool_state {
    mcp_server *server;
    mcp_net *net;
    delay_line delay;
    bool delay_started;
    char addr[32];
    mcp_pool *pool;
    unsigned callers;
    mcp_pool_stats before, after;
} pool_state;

typedef struct caller_arg {
    pool_state *s;
    atomic_uint_fast64_t *next_op;
    uint64_t ops;
    atomic_bool *go;
    uint64_t *lat_ns;   /* one per operation, indexed by the operation number */
    atomic_int *errors;
    bool pair_only;     /* checkout + checkin without a call */
} caller_arg;

static void *caller_main(void *p) {
    caller_arg *a = p;
    while (!atomic_load_explicit(a->go, memory_order_acquire)) sched_yield();
    for (;;) {
        uint64_t i = atomic_fetch_add_explicit(a->next_op, 1, memory_order_relaxed);
        if (i >= a->ops) break;
        uint64_t t0 = mcp_now_ns();
        mcp_pool_conn *conn;
        int rc = mcp_pool_checkout(a->s->pool, 30000, &conn);
        if (rc == 0 && !a->pair_only) {
            mcp_client_result r;
            rc = mcp_client_call_sync(mcp_pool_client(conn), "tools/call", SLEEP_PARAMS, NULL, &r);
            mcp_client_result_free(&r);
            mcp_pool_checkin(a->s->pool, conn, rc);
        } else if (rc == 0) {
            mcp_pool_checkin(a->s->pool, conn, 0);
        }
        a->lat_ns[i] = mcp_now_ns() - t0;
        if (rc != 0) atomic_fetch_add(a->errors, 1);
    }
    return NULL;
}

static int run_callers(pool_state *s, unsigned callers, bool pair_only, uint64_t ops, mcp_histogram *lat,
                       uint64_t *elapsed_ns) {
    uint64_t *lat_ns = calloc(ops, sizeof *lat_ns);
    pthread_t *th = calloc(callers, sizeof *th);
    if (!lat_ns || !th) {
        free(lat_ns);
        free(th);
        return MCP_ENOMEM;
    }
    atomic_uint_fast64_t next_op = 0;
    atomic_bool go = false;
    atomic_int errors = 0;
    caller_arg a = {s, &next_op, ops, &go, lat_ns, &errors, pair_only};
    unsigned started = 0;
    for (; started < callers; started++)
        if (pthread_create(&th[started], NULL, caller_main, &a) != 0) break;
    mcp_pool_get_stats(s->pool, &s->before);
    uint64_t t0 = mcp_now_ns();
    atomic_store_explicit(&go, true, memory_order_release);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    *elapsed_ns = mcp_now_ns() - t0;
    mcp_pool_get_stats(s->pool, &s->after);
    if (lat)
        for (uint64_t i = 0; i < ops; i++) mcp_histogram_record(lat, lat_ns[i]);
    free(lat_ns);
    free(th);
    if (started < callers) return MCP_ENOMEM;
    return atomic_load(&errors) ? MCP_EPROTO : MCP_OK;
}

static int run_calls(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    pool_state *s = p;
    return run_callers(s, s->callers, false, ops, lat, elapsed_ns);
}

/* One thread, each pair timed on its own: the uncontended fast path. */
static int run_checkout_one(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    pool_state *s = p;
    mcp_pool_conn *conn;
    int rc = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == 0; i++) {
        uint64_t a = mcp_now_ns();
        rc = mcp_pool_checkout(s->pool, 1000, &conn);
        if (rc == 0) mcp_pool_checkin(s->pool, conn, 0);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_checkout_two(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    return run_callers(p, 2, true, ops, lat, elapsed_ns);
}

static void pool_teardown(void *p) {
    pool_state *s = p;
    if (!s) return;
    mcp_pool_free(s->pool);
    if (s->net) {
        mcp_net_stop(s->net);
        mcp_net_wait(s->net);
        mcp_net_free(s->net);
    }
    if (s->delay_started) {
        pthread_mutex_lock(&s->delay.lock);
        s->delay.stop = true;
        pthread_cond_signal(&s->delay.cond);
        pthread_mutex_unlock(&s->delay.lock);
        pthread_join(s->delay.thread, NULL);
    }
    pthread_mutex_destroy(&s->delay.lock);
    pthread_cond_destroy(&s->delay.cond);
    mcp_server_free(s->server);
    free(s);
}

enum { W_STATIC_10, W_STATIC_100, W_DYNAMIC_BURST, W_ADAPTIVE, W_OVERFLOW, W_CHECKOUT };

static int pool_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    pthread_mutex_init(&s->delay.lock, NULL);
    pthread_cond_init(&s->delay.cond, NULL);
    int rc = pthread_create(&s->delay.thread, NULL, delay_main, &s->delay) ? MCP_ENOMEM : 0;
    s->delay_started = rc == 0;
    s->server = rc ? NULL : mcp_server_new(&(mcp_server_opts){.name = "bench-pool", .version = MCP_VERSION_STRING});
    if (!rc) rc = s->server ? mcp_server_add_tool(s->server, &(mcp_tool){.name = "sleep_1ms", .fn = tool_sleep_1ms,
                                                                         .user = &s->delay})
                            : MCP_ENOMEM;
    if (!rc) rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 2}, NULL);
    if (!rc) snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", mcp_net_port(s->net));
    mcp_pool_opts o = {.connect = mcp_pool_connect_tcp, .connect_user = s->addr, .protocol_version = "2025-06-18",
                       .checkout_timeout_ms = 30000};
    const char *name = "calls", *scope = "";
    switch (w->size) {
    case W_STATIC_10:
    case W_STATIC_100:
        o.kind = MCP_POOL_STATIC;
        o.size = w->size == W_STATIC_10 ? 10 : 100;
        s->callers = (unsigned)o.size;
        name = w->size == W_STATIC_10 ? "static_10" : "static_100";
        scope = "static pool, as many caller threads as connections; tools/call of a tool finishing 1 ms later";
        break;
    case W_DYNAMIC_BURST:
        o.kind = MCP_POOL_DYNAMIC;
        o.min = 2, o.max = 20, o.max_overflow = 20;
        s->callers = 40;
        name = "dynamic_burst";
        scope = "dynamic pool min 2 max 20 overflow 20, 40 callers released at once; tool finishing 1 ms later";
        break;
    case W_ADAPTIVE:
        o.kind = MCP_POOL_ADAPTIVE;
        o.min = 2, o.max = 100;
        s->callers = 100;
        name = "adaptive";
        scope = "adaptive pool, limit 2..100 by latency gradient, 100 callers; tool finishing 1 ms later";
        break;
    case W_OVERFLOW:
        o.kind = MCP_POOL_DYNAMIC;
        o.min = 1, o.max = 4, o.max_overflow = 60;
        s->callers = 64;
        name = "overflow_stress";
        scope = "dynamic pool max 4 overflow 60, 64 callers: overflow connections opened and closed per call";
        break;
    default:
        o.kind = MCP_POOL_STATIC;
        o.size = 10;
        break;
    }
    if (!rc) rc = mcp_pool_new(&o, &s->pool);
    if (rc) {
        pool_teardown(s);
        *state = NULL;
        return rc;
    }
    if (w->size == W_CHECKOUT) {
        bench_task t[] = {
            {"checkout_checkin", "mcp_pool_checkout + mcp_pool_checkin of an idle connection, static pool of 10 "
                                 "real TCP connections, one thread; latency includes one clock-read pair",
             true, run_checkout_one, s, false},
            {"checkout_checkin_2threads", "the same pair from two threads contending for the pool's lock",
             true, run_checkout_two, s, false},
        };
        memcpy(tasks, t, sizeof t);
        *count = 2;
        return MCP_OK;
    }
    memset(&tasks[0], 0, sizeof tasks[0]);
    bench_copy_str(tasks[0].name, sizeof tasks[0].name, name);
    bench_copy_str(tasks[0].scope, sizeof tasks[0].scope, scope);
    tasks[0].single_pass = true;
    tasks[0].run = run_calls;
    tasks[0].ctx = s;
    *count = 1;
    return MCP_OK;
}

static void pool_finish(void *p, bench_record *records, size_t count) {
    pool_state *s = p;
    if (count == 0 || s->callers == 0) return;
    bench_record *r = &records[0];
    bench_record_add_metric(r, "connections_opened", (double)(s->after.connects - s->before.connects));
    bench_record_add_metric(r, "overflow_opened", (double)(s->after.overflow_opened - s->before.overflow_opened));
    bench_record_add_metric(r, "open_at_end", (double)s->after.open);
    bench_record_add_metric(r, "limit_at_end", (double)s->after.limit);
    /* Each call holds its connection for at least the tool's 1 ms: the
     * throughput one connection can give is at most 1000 calls/s. */
    bench_record_add_metric(r, "calls_per_s_per_conn",
                            r->throughput / (double)(s->after.open ? s->after.open : 1));
}

static const bench_workload POOL_WORKLOADS[] = {
    {"pool_static_10", "static pool of 10, 10 callers, 1 ms tool", W_STATIC_10, {3000, 10000}, {3, 9}},
    {"pool_static_100", "static pool of 100, 100 callers, 1 ms tool", W_STATIC_100, {20000, 60000}, {3, 9}},
    {"pool_dynamic_burst", "dynamic pool under a burst of 40 callers", W_DYNAMIC_BURST, {6000, 20000}, {3, 9}},
    {"pool_adaptive", "adaptive pool, 100 callers", W_ADAPTIVE, {15000, 50000}, {3, 9}},
    {"pool_overflow_stress", "overflow connections opened and closed per call", W_OVERFLOW, {3000, 10000}, {3, 9}},
    {"pool_checkout", "checkout + checkin latency", W_CHECKOUT, {200000, 1000000}, {5, 15}},
};

const bench_module bench_module_pool = {
    .name = "pool",
    .description = "client connection pools over loopback TCP: static, dynamic, adaptive, overflow; checkout latency",
    .notes = "server, callers and the pool share the two cores; the tool's 1 ms is a timer on the server, "
             "so the scaling from 10 to 100 connections is bounded by CPU, not by the tool",
    .workloads = POOL_WORKLOADS,
    .workload_count = sizeof POOL_WORKLOADS / sizeof POOL_WORKLOADS[0],
    .setup = pool_setup,
    .finish = pool_finish,
    .teardown = pool_teardown,
};
