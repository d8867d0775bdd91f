/*
 * core_ops: the per-request operations of the server core, timed on the
 * real libmcp code.
 *
 *   registry_lookup  mcp_registry_find_tool on the snapshot of a server with
 *                    100 registered tools, names in a scrambled order
 *   queue_push_pop   the request queue handing N items from this thread to a
 *                    consumer thread (latency: each successful push and pop)
 *   session_create   N sessions into an empty session table
 *   session_lookup   N lookups by id in a table of N sessions, scrambled order
 *   pool_checkout    mcp_pool_checkout + mcp_pool_checkin of an idle connection
 *                    from a static pool of 10 real TCP connections to this
 *                    process's own server (the pool module measures the
 *                    pools under load)
 */
#include "harness.h"
#include "mcp/registry.h"
#include "mcp/pool.h"
#include "mcp/session_table.h"
#include "net/net_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_COUNT 100
#define QUEUE_CAPACITY 1024
/* Odd and not a multiple of 5: coprime with every workload size (powers of
 * ten), so i * SCRAMBLE mod n visits every index once per n steps. */
#define SCRAMBLE 2654435761u

typedef struct core_state {
    uint64_t size;
    mcp_server *server;
    mcp_registry_snapshot *snap;
    char names[TOOL_COUNT][16];
    size_t name_len[TOOL_COUNT];
    mcp_queue *queue;
    mcp_session_table *lookup_table;
    char (*ids)[MCP_SESSION_ID_LEN + 1];
    mcp_session_table *create_table;
    mcp_net *net;
    char addr[32];
    mcp_pool *pool;
} core_state;

static int noop_tool(mcp_call *call, const mcp_json *args, void *user) {
    (void)call;
    (void)args;
    (void)user;
    return 0;
}

static inline size_t scrambled(uint64_t i, uint64_t n) {
    return (size_t)((i * SCRAMBLE) % n);
}

/* ---- registry_lookup ----------------------------------------------------------- */

static int run_registry_lookup(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    core_state *s = ctx;
    uint64_t misses = 0;
    uint64_t t0 = mcp_now_ns();
    if (!lat) {
        for (uint64_t i = 0; i < ops; i++) {
            size_t k = scrambled(i, TOOL_COUNT);
            misses += mcp_registry_find_tool(s->snap, s->names[k], s->name_len[k]) == NULL;
        }
    } else {
        for (uint64_t i = 0; i < ops; i++) {
            size_t k = scrambled(i, TOOL_COUNT);
            uint64_t a = mcp_now_ns();
            const mcp_registry_entry *e = mcp_registry_find_tool(s->snap, s->names[k], s->name_len[k]);
            mcp_histogram_record(lat, mcp_now_ns() - a);
            misses += e == NULL;
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return misses ? MCP_ENOTFOUND : MCP_OK;
}

/* ---- queue_push_pop --------------------------------------------------------------- */

typedef struct consumer_arg {
    mcp_queue *q;
    uint64_t ops;
    mcp_histogram *lat;
    uint64_t sum; /* checked: every item arrives exactly once */
    atomic_bool ready;
} consumer_arg;

static void *queue_consumer(void *p) {
    consumer_arg *c = p;
    uint64_t got = 0, sum = 0;
    void *item;
    atomic_store(&c->ready, true);
    while (got < c->ops) {
        if (c->lat) {
            uint64_t a = mcp_now_ns();
            if (mcp_queue_pop(c->q, &item) != 0) {
                sched_yield();
                continue;
            }
            mcp_histogram_record(c->lat, mcp_now_ns() - a);
        } else if (mcp_queue_pop(c->q, &item) != 0) {
            sched_yield(); /* two cores shared with other work: let the producer run */
            continue;
        }
        sum += (uintptr_t)item;
        got++;
    }
    c->sum = sum;
    return NULL;
}

static int run_queue_push_pop(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    core_state *s = ctx;
    mcp_histogram *pop_lat = lat ? mcp_histogram_new() : NULL;
    if (lat && !pop_lat) return MCP_ENOMEM;
    consumer_arg c = {s->queue, ops, pop_lat, 0, false};
    pthread_t th;
    if (pthread_create(&th, NULL, queue_consumer, &c) != 0) {
        mcp_histogram_free(pop_lat);
        return MCP_ENOMEM;
    }
    /* Thread start-up is not the queue's cost: start the clock once the
     * consumer is polling. */
    while (!atomic_load(&c.ready)) sched_yield();
    uint64_t t0 = mcp_now_ns();
    uint64_t expect = 0;
    for (uint64_t i = 1; i <= ops; i++) {
        void *item = (void *)(uintptr_t)i;
        if (lat) {
            for (;;) {
                uint64_t a = mcp_now_ns();
                if (mcp_queue_push(s->queue, item) == 0) {
                    mcp_histogram_record(lat, mcp_now_ns() - a);
                    break;
                }
                sched_yield();
            }
        } else {
            while (mcp_queue_push(s->queue, item) != 0) sched_yield();
        }
        expect += i;
    }
    pthread_join(th, NULL);
    *elapsed_ns = mcp_now_ns() - t0;
    if (pop_lat) {
        mcp_histogram_merge(lat, pop_lat);
        mcp_histogram_free(pop_lat);
    }
    return c.sum == expect ? MCP_OK : MCP_EPROTO;
}

/* ---- sessions ------------------------------------------------------------------------- */

static int run_session_create(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    core_state *s = ctx;
    /* A fresh table each time, outside the timed part, so every repetition
     * grows the table from empty to ops sessions. */
    mcp_session_table_free(s->create_table);
    s->create_table = NULL;
    int rc = mcp_session_table_new(NULL, &s->create_table);
    if (rc) return rc;
    char id[MCP_SESSION_ID_LEN + 1];
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == 0; i++) {
        if (lat) {
            uint64_t a = mcp_now_ns();
            rc = mcp_session_table_create(s->create_table, s, id);
            mcp_histogram_record(lat, mcp_now_ns() - a);
        } else {
            rc = mcp_session_table_create(s->create_table, s, id);
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_session_lookup(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    core_state *s = ctx;
    uint64_t misses = 0;
    void *data;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        const char *id = s->ids[scrambled(i, s->size)];
        if (lat) {
            uint64_t a = mcp_now_ns();
            int rc = mcp_session_table_lookup(s->lookup_table, id, MCP_SESSION_ID_LEN, &data);
            mcp_histogram_record(lat, mcp_now_ns() - a);
            misses += rc != 0;
        } else {
            misses += mcp_session_table_lookup(s->lookup_table, id, MCP_SESSION_ID_LEN, &data) != 0;
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return misses ? MCP_ENOTFOUND : MCP_OK;
}

/* ---- pool_checkout --------------------------------------------------------------------- */

static int run_pool_checkout(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    core_state *s = ctx;
    mcp_pool_conn *conn;
    int rc = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == 0; i++) {
        if (lat) {
            uint64_t a = mcp_now_ns();
            rc = mcp_pool_checkout(s->pool, 1000, &conn);
            if (rc == 0) mcp_pool_checkin(s->pool, conn, 0);
            mcp_histogram_record(lat, mcp_now_ns() - a);
        } else {
            rc = mcp_pool_checkout(s->pool, 1000, &conn);
            if (rc == 0) mcp_pool_checkin(s->pool, conn, 0);
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

/* The pool needs a server to hold connections to: this process's own, on
 * loopback, serving the registry's tools. */
static int start_pool(core_state *s) {
    int rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL);
    if (rc) return rc;
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", mcp_net_port(s->net));
    rc = mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = s->addr,
                                       .protocol_version = "2025-06-18", .kind = MCP_POOL_STATIC, .size = 10},
                      &s->pool);
    if (rc) return rc;
    mcp_pool_stats st;
    mcp_pool_get_stats(s->pool, &st);
    return st.idle == 10 ? MCP_OK : MCP_EIO;
}

/* ---- setup ----------------------------------------------------------------------------- */

static void core_teardown(void *p) {
    core_state *s = p;
    if (!s) return;
    if (s->snap) mcp_registry_snapshot_release(s->snap);
    mcp_pool_free(s->pool);
    if (s->net) {
        mcp_net_stop(s->net);
        mcp_net_wait(s->net);
        mcp_net_free(s->net);
    }
    mcp_server_free(s->server);
    mcp_queue_free(s->queue);
    mcp_session_table_free(s->lookup_table);
    mcp_session_table_free(s->create_table);
    free(s->ids);
    free(s);
}

static int build_registry(core_state *s) {
    s->server = mcp_server_new(&(mcp_server_opts){.name = "bench", .version = MCP_VERSION_STRING});
    if (!s->server) return MCP_ENOMEM;
    for (int i = 0; i < TOOL_COUNT; i++) {
        /* Names shaped like real ones: verbs and nouns of varying length. */
        static const char *const verbs[] = {"get", "list", "search", "create", "update"};
        snprintf(s->names[i], sizeof s->names[i], "%s_item_%02d", verbs[i % 5], i);
        s->name_len[i] = strlen(s->names[i]);
        int rc = mcp_server_add_tool(s->server, &(mcp_tool){.name = s->names[i], .fn = noop_tool});
        if (rc) return rc;
    }
    s->snap = mcp_server_snapshot_acquire(s->server);
    return s->snap ? MCP_OK : MCP_ENOMEM;
}

static int fill_lookup_table(core_state *s, uint64_t n, uint64_t seed) {
    int rc = mcp_session_table_new(&(mcp_session_table_opts){.predictable_ids_seed = seed}, &s->lookup_table);
    if (rc) return rc;
    s->ids = malloc(n * sizeof *s->ids);
    if (!s->ids) return MCP_ENOMEM;
    for (uint64_t i = 0; i < n && rc == 0; i++) rc = mcp_session_table_create(s->lookup_table, s, s->ids[i]);
    return rc;
}

static int core_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    core_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->size = w->size;
    int rc = build_registry(s);
    if (!rc) rc = mcp_queue_new(QUEUE_CAPACITY, &s->queue);
    if (!rc) rc = fill_lookup_table(s, s->size, 0);
    if (!rc) rc = start_pool(s);
    if (rc) {
        core_teardown(s);
        *state = NULL;
        return rc;
    }
    bench_task t[] = {
        {.name = "registry_lookup", .scope = "mcp_registry_find_tool by name on a snapshot of 100 tools, one thread; "
                            "latency includes one clock-read pair", .run = run_registry_lookup, .ctx = s},
        {.name = "queue_push_pop", .scope = "mcp_queue handoff of N items, this thread -> one consumer thread, capacity 1024; "
                           "latency: each successful push and pop call", .run = run_queue_push_pop, .ctx = s},
        {.name = "session_create", .scope = "mcp_session_table_create of N sessions into an empty 64-shard table "
                           "(kernel-random 128-bit ids)", .run = run_session_create, .ctx = s},
        {.name = "session_lookup", .scope = "mcp_session_table_lookup by 32-hex id in a table of N sessions, scrambled order, "
                           "one thread", .run = run_session_lookup, .ctx = s},
        {.name = "pool_checkout", .scope = "mcp_pool_checkout + mcp_pool_checkin of an idle connection, static pool "
                                           "of 10 loopback TCP connections, one thread; latency includes one "
                                           "clock-read pair", .run = run_pool_checkout, .ctx = s},
    };
    *count = sizeof t / sizeof t[0];
    memcpy(tasks, t, sizeof t);
    return MCP_OK;
}

/* Fixed work for instruction counting: no threads, no kernel randomness,
 * so the count is the same on every run of the same binary. */
static int core_deterministic(void) {
    core_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    enum { SESSIONS = 2000, LOOKUPS = 20000, HANDOFFS = 20000 };
    s->size = SESSIONS;
    int rc = build_registry(s);
    if (!rc) rc = mcp_queue_new(QUEUE_CAPACITY, &s->queue);
    if (!rc) rc = fill_lookup_table(s, SESSIONS, 0x5eed);
    uint64_t ns;
    if (!rc) rc = run_registry_lookup(s, LOOKUPS, NULL, &ns);
    if (!rc) rc = run_session_lookup(s, LOOKUPS, NULL, &ns);
    for (uint64_t i = 0; !rc && i < HANDOFFS; i += 64) {
        void *item;
        for (uintptr_t k = 1; !rc && k <= 64; k++) rc = mcp_queue_push(s->queue, (void *)k);
        for (int k = 0; !rc && k < 64; k++) rc = mcp_queue_pop(s->queue, &item);
    }
    core_teardown(s);
    return rc;
}

static const bench_workload CORE_WORKLOADS[] = {
    {"core_ops_1k", "1,000 operations of each kind", 1000, {1000, 1000}, {7, 25}},
    {"core_ops_10k", "10,000 operations of each kind", 10000, {10000, 10000}, {7, 25}},
    {"core_ops_100k", "100,000 operations of each kind", 100000, {100000, 100000}, {5, 15}},
    {"core_ops_1m", "1,000,000 operations of each kind", 1000000, {1000000, 1000000}, {3, 9}},
};

const bench_module bench_module_core_ops = {
    .name = "core_ops",
    .description = "registry lookup, request queue handoff, session create and lookup, pool checkout and checkin",
    .workloads = CORE_WORKLOADS,
    .workload_count = sizeof CORE_WORKLOADS / sizeof CORE_WORKLOADS[0],
    .setup = core_setup,
    .teardown = core_teardown,
    .deterministic = core_deterministic,
};
