/*
 * pool: client connection pools against a real server in the same process
 * (the TCP runtime on 127.0.0.1, two worker loops) whose tool "sleep_1ms"
 * completes asynchronously 1 ms after it is called, as a tool waiting on
 * I/O would: the server's loops are never blocked by it. The load comes
 * the way a high-throughput user drives a pool: mcp_pool_call_async, with a
 * fixed number of calls kept outstanding (each completion issues the next),
 * carried by the pool's I/O threads, one per core (two), as a client that
 * wants throughput is configured. Each connection carries one call at a
 * time, so N connections are N calls at the server at once. The server's
 * loops run on one CPU and the pools' threads on another (see Pinning).
 *
 *   pool_static_10          a static pool of 10 connections, 200 calls outstanding
 *   pool_static_100         a static pool of 100, 200 outstanding; and beside it, interleaved
 *                           repetition by repetition, the pool of 10 again under the same load:
 *                           ratio_to_static_10 is the median of their per-repetition throughput
 *                           ratios (ratio_lowest, ratio_highest: the extremes)
 *   pool_dynamic_burst      dynamic min 2, max 20, overflow 20; a burst of 40 outstanding
 *   pool_adaptive           adaptive limit 2..100; 100 outstanding
 *   pool_overflow_stress    dynamic max 4, overflow 60; 64 outstanding: overflow
 *                           connections opened (by the maintenance thread) and closed per call
 *   pool_checkout           blocking checkout + checkin alone on a static pool of 10
 *                           (one thread; and two threads contending)
 *   pool_static_10_traced   pool_static_10 with an observer (mcp_obs, every span recorded, the
 *                           exporter off: the request path's cost, not the exporter's) beside
 *                           the same pool without one, interleaved: ratio_to_untraced as above
 *
 * Throughput: completed calls over the time from the first call issued to
 * the last completion. Latency: each call from mcp_pool_call_async to its
 * completion callback, including its wait for a connection; or, for
 * pool_checkout, each checkout + checkin pair.
 */
#include "harness.h"
#include "pinning.h"
#include "mcp/obs.h"
#include "mcp/pool.h"
#include "net/net_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_PARAMS "{\"name\":\"sleep_1ms\",\"arguments\":{}}"

/* ---- The server's delayed completions ---------------------------------------------------
 * The tool waits the way an I/O-bound tool in an event-loop server waits:
 * on the loop that runs it. Each worker loop keeps a FIFO of its sleeping
 * calls (already in due order: every call sleeps the same 1 ms) and one
 * timerfd armed for the head, watched by that loop; when it fires, every
 * call that is due is finished right there, on the loop that owns its
 * connection, so no other thread and no cross-thread hand-off is involved.
 * (A libuv timer would not do: its clock counts whole milliseconds, so a
 * "1 ms" timer sleeps anywhere from a few microseconds to 2 ms.) Due
 * times are rounded up to the next 50 us, the timer slack Linux gives any
 * sleep by default, so calls that fall asleep close together wake together.
 * The watcher lives only while calls sleep, so it never keeps a stopping
 * loop alive. */
#define SLEEP_NS 1000000u
#define SLACK_NS 50000u

typedef struct delayed {
    struct delayed *next;
    mcp_call *call;
    uint64_t due_ns;
} delayed;

typedef struct sleeper {
    uv_poll_t watcher;
    int timer_fd;
    delayed *head, *tail;
} sleeper;

static _Thread_local sleeper *loop_sleeper; /* of the worker loop running on this thread */

static void arm_timer(sleeper *sl) {
    struct itimerspec due = {.it_value = {(time_t)(sl->head->due_ns / 1000000000u),
                                          (long)(sl->head->due_ns % 1000000000u)}};
    timerfd_settime(sl->timer_fd, TFD_TIMER_ABSTIME, &due, NULL);
}

static void sleeper_closed(uv_handle_t *h) {
    sleeper *sl = h->data;
    close(sl->timer_fd);
    free(sl);
}

static void sleeper_fired(uv_poll_t *w, int status, int events) {
    (void)status;
    (void)events;
    sleeper *sl = w->data;
    /* Not read: setting the timer again (or closing it) clears the expiry. */
    uint64_t now = mcp_now_ns();
    while (sl->head && sl->head->due_ns <= now) {
        delayed *d = sl->head;
        sl->head = d->next;
        /* d lives in the call's arena: read it before the call ends. */
        mcp_call *call = d->call;
        mcp_call_text_n(call, "slept", 5);
        mcp_call_finish(call);
    }
    if (sl->head) {
        arm_timer(sl);
        return;
    }
    sl->tail = NULL;
    loop_sleeper = NULL;
    uv_close((uv_handle_t *)&sl->watcher, sleeper_closed);
}

static sleeper *sleeper_get(void) {
    if (loop_sleeper) return loop_sleeper;
    mcp_net_worker *worker = mcp_net_worker_current();
    if (!worker) return NULL;
    sleeper *sl = calloc(1, sizeof *sl);
    if (!sl) return NULL;
    sl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (sl->timer_fd < 0 || uv_poll_init(&worker->loop, &sl->watcher, sl->timer_fd) != 0) {
        if (sl->timer_fd >= 0) close(sl->timer_fd);
        free(sl);
        return NULL;
    }
    sl->watcher.data = sl;
    uv_poll_start(&sl->watcher, UV_READABLE, sleeper_fired);
    return loop_sleeper = sl;
}

static int tool_sleep_1ms(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    sleeper *sl = sleeper_get();
    if (!sl) return mcp_call_tool_error(call, "sleep_1ms runs only on a worker loop of the TCP runtime");
    delayed *d = mcp_arena_alloc(mcp_call_arena(call), sizeof *d);
    if (!d) return MCP_ENOMEM;
    d->call = call;
    d->next = NULL;
    d->due_ns = (mcp_now_ns() + SLEEP_NS + SLACK_NS - 1) / SLACK_NS * SLACK_NS;
    bool was_empty = !sl->head;
    if (sl->tail) sl->tail->next = d;
    else sl->head = d;
    sl->tail = d;
    if (was_empty) arm_timer(sl);
    return MCP_PENDING;
}

/* ---- State -------------------------------------------------------------------------------- */
enum { MAX_POOLS = 2 };

/* One pool under test and the load it gets. */
typedef struct pool_run {
    mcp_pool *pool;
    unsigned outstanding;  /* async calls kept in flight */
    mcp_pool_stats before, after;
} pool_run;

typedef struct pool_state {
    mcp_server *server;
    mcp_net *net;
    bench_pinning pin; /* servers and pools on two cores, as network.c places its sides */
    char addr[32];
    pool_run runs[MAX_POOLS];
    size_t run_count;
    const char *ratio_name;  /* the metric of runs[0]'s throughput over runs[1]'s, or NULL */
    mcp_tracer *tracer;      /* pool_static_10_traced */
    mcp_obs *obs;
    mcp_observer observer;
} pool_state;

/* ---- Async load: each completion issues the next call -------------------------------------- */
typedef struct async_load async_load;

typedef struct async_op {
    async_load *load;
    uint64_t t0;
} async_op;

struct async_load {
    mcp_pool *pool;
    uint64_t ops;
    async_op *op;         /* one per operation; the index is the operation number */
    uint64_t *lat_ns;
    atomic_uint_fast64_t issued;
    atomic_uint_fast64_t completed;
    atomic_int errors;
    pthread_mutex_t lock;
    pthread_cond_t all_done;
    bool done;
};

static void load_complete_one(async_load *l) {
    if (atomic_fetch_add_explicit(&l->completed, 1, memory_order_acq_rel) + 1 == l->ops) {
        pthread_mutex_lock(&l->lock);
        l->done = true;
        pthread_cond_signal(&l->all_done);
        pthread_mutex_unlock(&l->lock);
    }
}

static void on_call_done(void *user, int status, const mcp_json *value, int64_t id);

/* Issue the next operation, if any remain. */
static void load_issue(async_load *l) {
    uint64_t i = atomic_fetch_add_explicit(&l->issued, 1, memory_order_relaxed);
    if (i >= l->ops) return;
    l->op[i].load = l;
    l->op[i].t0 = mcp_now_ns();
    int rc = mcp_pool_call_async(l->pool, "tools/call", SLEEP_PARAMS, NULL, on_call_done, &l->op[i]);
    if (rc != 0) {
        atomic_fetch_add(&l->errors, 1);
        l->lat_ns[i] = mcp_now_ns() - l->op[i].t0;
        load_complete_one(l);
    }
}

static void on_call_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    async_op *op = user;
    async_load *l = op->load;
    l->lat_ns[op - l->op] = mcp_now_ns() - op->t0;
    if (status != 0) atomic_fetch_add(&l->errors, 1);
    load_issue(l);
    load_complete_one(l);
}

static int run_calls(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    pool_run *pr = p;
    async_load l = {.pool = pr->pool, .ops = ops};
    l.op = calloc(ops, sizeof *l.op);
    l.lat_ns = calloc(ops, sizeof *l.lat_ns);
    if (!l.op || !l.lat_ns) {
        free(l.op);
        free(l.lat_ns);
        return MCP_ENOMEM;
    }
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.all_done, NULL);
    mcp_pool_get_stats(pr->pool, &pr->before);
    uint64_t t0 = mcp_now_ns();
    for (unsigned i = 0; i < pr->outstanding; i++) load_issue(&l);
    pthread_mutex_lock(&l.lock);
    while (!l.done) pthread_cond_wait(&l.all_done, &l.lock);
    pthread_mutex_unlock(&l.lock);
    *elapsed_ns = mcp_now_ns() - t0;
    mcp_pool_get_stats(pr->pool, &pr->after);
    if (lat)
        for (uint64_t i = 0; i < ops; i++) mcp_histogram_record(lat, l.lat_ns[i]);
    pthread_mutex_destroy(&l.lock);
    pthread_cond_destroy(&l.all_done);
    free(l.op);
    free(l.lat_ns);
    return atomic_load(&l.errors) ? MCP_EPROTO : MCP_OK;
}

/* ---- Blocking checkout + checkin ------------------------------------------------------------ */
typedef struct pair_arg {
    mcp_pool *pool;
    atomic_uint_fast64_t *next_op;
    uint64_t ops;
    atomic_bool *go;
    uint64_t *lat_ns;
    atomic_int *errors;
} pair_arg;

static void *pair_main(void *p) {
    pair_arg *a = p;
    while (!atomic_load_explicit(a->go, memory_order_acquire)) sched_yield();
    for (;;) {
        uint64_t i = atomic_fetch_add_explicit(a->next_op, 1, memory_order_relaxed);
        if (i >= a->ops) break;
        uint64_t t0 = mcp_now_ns();
        mcp_pool_conn *conn;
        int rc = mcp_pool_checkout(a->pool, 30000, &conn);
        if (rc == 0) mcp_pool_checkin(a->pool, conn, 0);
        a->lat_ns[i] = mcp_now_ns() - t0;
        if (rc != 0) atomic_fetch_add(a->errors, 1);
    }
    return NULL;
}

/* One thread, each pair timed on its own: the uncontended fast path. */
static int run_checkout_one(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    pool_run *pr = p;
    mcp_pool_conn *conn;
    int rc = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == 0; i++) {
        uint64_t a = mcp_now_ns();
        rc = mcp_pool_checkout(pr->pool, 1000, &conn);
        if (rc == 0) mcp_pool_checkin(pr->pool, conn, 0);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_checkout_two(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    pool_run *pr = p;
    uint64_t *lat_ns = calloc(ops, sizeof *lat_ns);
    if (!lat_ns) return MCP_ENOMEM;
    atomic_uint_fast64_t next_op = 0;
    atomic_bool go = false;
    atomic_int errors = 0;
    pair_arg a = {pr->pool, &next_op, ops, &go, lat_ns, &errors};
    pthread_t th[2];
    unsigned started = 0;
    for (; started < 2; started++)
        if (pthread_create(&th[started], NULL, pair_main, &a) != 0) break;
    uint64_t t0 = mcp_now_ns();
    atomic_store_explicit(&go, true, memory_order_release);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    *elapsed_ns = mcp_now_ns() - t0;
    if (lat)
        for (uint64_t i = 0; i < ops; i++) mcp_histogram_record(lat, lat_ns[i]);
    free(lat_ns);
    if (started < 2) return MCP_ENOMEM;
    return atomic_load(&errors) ? MCP_EPROTO : MCP_OK;
}

/* ---- Setup ---------------------------------------------------------------------------------- */
static void pool_teardown(void *p) {
    pool_state *s = p;
    if (!s) return;
    for (size_t i = 0; i < s->run_count; i++) mcp_pool_free(s->runs[i].pool);
    if (s->net) {
        mcp_net_stop(s->net);
        mcp_net_wait(s->net);
        mcp_net_free(s->net);
    }
    mcp_server_free(s->server);
    mcp_obs_free(s->obs);
    mcp_tracer_free(s->tracer);
    free(s);
}

enum { W_STATIC_10, W_STATIC_100, W_DYNAMIC_BURST, W_ADAPTIVE, W_OVERFLOW, W_CHECKOUT, W_TRACED };

/* Every pool here: one I/O thread per core of the machine the numbers are
 * quoted for. With one, that thread alone carries every send and receive
 * of the client and caps the pool of 100 well below what the server gives. */
#define IO_THREADS 2u

/* Calls kept outstanding against the static pools: the same for 10 and 100
 * connections, and enough to keep 100 busy, so the pool is what differs. */
#define STATIC_OUTSTANDING 200u

static int add_pool(pool_state *s, mcp_pool_opts o, unsigned outstanding, pool_run **out) {
    o.connect = mcp_pool_connect_tcp;
    o.connect_user = s->addr;
    o.protocol_version = "2025-06-18";
    o.checkout_timeout_ms = 30000;
    o.io_threads = IO_THREADS;
    pool_run *pr = &s->runs[s->run_count];
    bench_pin_self(s->pin.client_cpu);
    int rc = mcp_pool_new(&o, &pr->pool);
    bench_pinning_restore(&s->pin);
    if (rc) return rc;
    pr->outstanding = outstanding;
    s->run_count++;
    *out = pr;
    return MCP_OK;
}

static void set_task(bench_task *t, const char *name, const char *scope, pool_run *pr) {
    memset(t, 0, sizeof *t);
    bench_copy_str(t->name, sizeof t->name, name);
    bench_copy_str(t->scope, sizeof t->scope, scope);
    t->single_pass = true;
    t->run = run_calls;
    t->ctx = pr;
}

#define STATIC_SCOPE(n)                                                                                          \
    "mcp_pool_call_async, static pool of " n ", 200 calls outstanding, 2 pool I/O threads; timed: first call "    \
    "issued to last completion callback; tools/call of a tool finishing 1 ms later"

static int pool_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->server = mcp_server_new(&(mcp_server_opts){.name = "bench-pool", .version = MCP_VERSION_STRING});
    int rc = s->server ? mcp_server_add_tool(s->server, &(mcp_tool){.name = "sleep_1ms", .fn = tool_sleep_1ms})
                       : MCP_ENOMEM;
    bench_pinning_choose(&s->pin);
    bench_pin_self(s->pin.server_cpu);
    if (!rc) rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 2}, NULL);
    bench_pinning_restore(&s->pin);
    if (!rc) snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", mcp_net_port(s->net));
    pool_run *pr = NULL, *ref = NULL;
    *count = 1;
    switch (rc ? -1 : (int)w->size) {
    case -1:
        break;
    case W_STATIC_10:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 10}, STATIC_OUTSTANDING, &pr);
        if (!rc) set_task(&tasks[0], "static_10", STATIC_SCOPE("10"), pr);
        break;
    case W_STATIC_100:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 100}, STATIC_OUTSTANDING, &pr);
        if (!rc) rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 10}, STATIC_OUTSTANDING, &ref);
        if (!rc) {
            set_task(&tasks[0], "static_100", STATIC_SCOPE("100"), pr);
            set_task(&tasks[1], "static_10",
                     "the yardstick of ratio_to_static_10: " STATIC_SCOPE("10") ", run in turn with static_100",
                     ref);
            tasks[1].reference = true;
            *count = 2;
            s->ratio_name = "ratio_to_static_10";
        }
        break;
    case W_TRACED:
        /* Spans are made and ended but not exported: what tracing adds to
         * each call's path (span, attributes, traceparent in _meta). */
        rc = mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &s->tracer);
        if (!rc) rc = mcp_obs_new(s->tracer, NULL, &s->obs);
        if (!rc) {
            mcp_obs_observer(s->obs, &s->observer);
            rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 10, .observer = &s->observer},
                          STATIC_OUTSTANDING, &pr);
        }
        if (!rc) rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 10}, STATIC_OUTSTANDING, &ref);
        if (!rc) {
            set_task(&tasks[0], "static_10_traced",
                     "as static_10, with an observer on the pool: a client span per call (begun in "
                     "mcp_pool_call_async, ended at the reply), traceparent in params._meta; exporter off",
                     pr);
            set_task(&tasks[1], "static_10",
                     "the yardstick of ratio_to_untraced: " STATIC_SCOPE("10") ", run in turn with static_10_traced",
                     ref);
            tasks[1].reference = true;
            *count = 2;
            s->ratio_name = "ratio_to_untraced";
        }
        break;
    case W_DYNAMIC_BURST:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_DYNAMIC, .min = 2, .max = 20, .max_overflow = 20}, 40, &pr);
        if (!rc)
            set_task(&tasks[0], "dynamic_burst",
                     "mcp_pool_call_async, dynamic pool min 2 max 20 overflow 20, 40 calls outstanding from the "
                     "start; timed: first call issued to last completion; tool finishing 1 ms later",
                     pr);
        break;
    case W_ADAPTIVE:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_ADAPTIVE, .min = 2, .max = 100}, 100, &pr);
        if (!rc)
            set_task(&tasks[0], "adaptive",
                     "mcp_pool_call_async, adaptive pool, limit 2..100 by latency gradient, 100 calls outstanding; "
                     "timed: first call issued to last completion; tool finishing 1 ms later",
                     pr);
        break;
    case W_OVERFLOW:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_DYNAMIC, .min = 1, .max = 4, .max_overflow = 60}, 64, &pr);
        if (!rc)
            set_task(&tasks[0], "overflow_stress",
                     "mcp_pool_call_async, dynamic pool max 4 overflow 60, 64 calls outstanding: overflow "
                     "connections opened by the maintenance thread and closed after each call; timed: first call "
                     "issued to last completion",
                     pr);
        break;
    default:
        rc = add_pool(s, (mcp_pool_opts){.kind = MCP_POOL_STATIC, .size = 10}, 0, &pr);
        if (!rc) {
            bench_task t[] = {
                {"checkout_checkin", "mcp_pool_checkout + mcp_pool_checkin of an idle connection, static pool of 10 "
                                     "real TCP connections, one thread; latency includes one clock-read pair",
                 true, run_checkout_one, pr, false},
                {"checkout_checkin_2threads", "the same pair from two threads contending for the pool's lock",
                 true, run_checkout_two, pr, false},
            };
            memcpy(tasks, t, sizeof t);
            *count = 2;
        }
        break;
    }
    if (rc) {
        pool_teardown(s);
        *state = NULL;
        return rc;
    }
    return MCP_OK;
}

static void pool_finish(void *p, bench_record *records, size_t count) {
    pool_state *s = p;
    for (size_t i = 0; i < count && i < s->run_count; i++) {
        pool_run *pr = &s->runs[i];
        if (pr->outstanding == 0) continue;
        bench_record *r = &records[i];
        bench_record_add_metric(r, "connections_opened", (double)(pr->after.connects - pr->before.connects));
        bench_record_add_metric(r, "overflow_opened", (double)(pr->after.overflow_opened - pr->before.overflow_opened));
        bench_record_add_metric(r, "open_at_end", (double)pr->after.open);
        /* The traced pair's record gives this slot (10 for any static
         * pool) to spans_per_call: records hold BENCH_MAX_METRICS. */
        if (!(s->tracer && i == 0)) bench_record_add_metric(r, "limit_at_end", (double)pr->after.limit);
        /* Each call holds its connection for at least the tool's 1 ms: the
         * throughput one connection can give is at most 1000 calls/s. */
        bench_record_add_metric(r, "calls_per_s_per_conn",
                                r->throughput / (double)(pr->after.open ? pr->after.open : 1));
    }
    double ratio[3];
    if (s->ratio_name && count == 2 && s->run_count == 2 && s->runs[1].outstanding &&
        bench_paired_ratio(&records[0], &records[1], ratio)) {
        bench_record_add_metric(&records[0], s->ratio_name, ratio[0]);
        bench_record_add_metric(&records[0], "ratio_lowest", ratio[1]);
        bench_record_add_metric(&records[0], "ratio_highest", ratio[2]);
    }
    if (s->tracer && count >= 1 && s->run_count >= 1) {
        /* Spans made over every repetition (warm-up included) against the
         * calls the traced pool carried: 1 when every call got its span and
         * nothing else (handshakes, health pings) did. */
        mcp_tracer_stats ts;
        mcp_pool_stats ps;
        mcp_tracer_stats_get(s->tracer, &ts);
        mcp_pool_get_stats(s->runs[0].pool, &ps);
        if (ps.checkouts)
            bench_record_add_metric(&records[0], "spans_per_call",
                                    (double)(ts.spans_started + ts.spans_unsampled) / (double)ps.checkouts);
    }
}

static const bench_workload POOL_WORKLOADS[] = {
    {"pool_static_10", "static pool of 10, async calls, 1 ms tool", W_STATIC_10, {5000, 20000}, {3, 9}},
    {"pool_static_100", "static pool of 100 beside one of 10, async calls, 1 ms tool", W_STATIC_100, {20000, 60000},
     {5, 9}},
    {"pool_dynamic_burst", "dynamic pool under a burst of 40 async calls", W_DYNAMIC_BURST, {10000, 30000}, {3, 9}},
    {"pool_adaptive", "adaptive pool, 100 async calls outstanding", W_ADAPTIVE, {20000, 60000}, {3, 9}},
    {"pool_overflow_stress", "overflow connections opened and closed per call", W_OVERFLOW, {3000, 10000}, {3, 9}},
    {"pool_checkout", "checkout + checkin latency", W_CHECKOUT, {200000, 1000000}, {5, 15}},
    {"pool_static_10_traced", "static pool of 10 with and without an observer, async calls, 1 ms tool", W_TRACED,
     {5000, 20000}, {5, 9}},
};

const bench_module bench_module_pool = {
    .name = "pool",
    .description = "client connection pools over loopback TCP, driven by async calls: static, dynamic, adaptive, "
                   "overflow; checkout latency",
    .notes = "server (2 loops, the 1 ms sleeps on their own timers) pinned to the first CPU, the pools' threads "
             "(2 I/O threads each) to the second; each connection carries one call at a time, so 10 connections cap "
             "near 10000 calls/s and 100 near 100000",
    .workloads = POOL_WORKLOADS,
    .workload_count = sizeof POOL_WORKLOADS / sizeof POOL_WORKLOADS[0],
    .setup = pool_setup,
    .finish = pool_finish,
    .teardown = pool_teardown,
    .interleave = true, /* ratio_to_static_10 needs both pools under the same machine load */
};
