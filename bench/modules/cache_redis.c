/*
 * cache (Redis): L3 and cross-node coherence, timed against a real
 * redis-server this process starts on a loopback port.
 *
 *   cache_l3_hits_10k        mcp_cache_get missing L1 and hitting L3 (one
 *                            round trip through the tier's loop thread, then
 *                            promotion into L1); the L3 tier's get with 64
 *                            requests in flight (pipelined on one connection);
 *                            mcp_cache_put write-through into L1 and L3 (one
 *                            MULTI/EXEC with a tag set)
 *   cache_cluster_coherence  two nodes (own L1, L2, Redis connections and
 *                            subscriber each): the time from the start of
 *                            mcp_cache_invalidate_key on A until B has dropped
 *                            the key from its L1 and L2
 *
 * Every L3 round trip crosses two threads (caller -> loop -> caller) and
 * the loopback TCP stack to a server that shares the two cores.
 */
#include "modules/cache_redis.h"

#include "mcp/cache.h"
#include "../../tests/unit/redis_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_BYTES 200
#define WINDOW 64
#define COHERENCE_TARGET_NS 10000000ull /* < 10 ms across nodes */

typedef struct bench_node {
    char dir[256];
    mcp_cache_l3 *l3;
    mcp_cache *cache;
    mcp_cache_coherence *coh;
} bench_node;

struct cache_redis {
    redis_fixture redis;
    bool coherence;
    uint64_t size;
    char (*keys)[32];
    char value[VALUE_BYTES];
    bench_node a, b;
    mcp_buf out;
    uint64_t rounds, within_target; /* coherence, timed passes */
    uint64_t l3_failures_at_start;
};

static mcp_str key_at(cache_redis *r, uint64_t i) {
    return mcp_str_from(r->keys[i % r->size]);
}

static size_t scrambled(uint64_t i, uint64_t n) {
    return (size_t)((i * 2654435761u) % n);
}

static int node_open(cache_redis *r, bench_node *n, bool l2, bool coherence) {
    int rc = mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = r->redis.port, .timeout_ms = 1000}, &n->l3);
    if (!rc) rc = mcp_cache_l3_wait_connected(n->l3, 5000);
    if (!rc && l2) {
        const char *tmp = getenv("TMPDIR");
        snprintf(n->dir, sizeof n->dir, "%s/mcpd-bench-l3-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(n->dir)) {
            n->dir[0] = 0;
            rc = MCP_EIO;
        }
    }
    if (!rc)
        rc = mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 1000000}, .l2_enabled = l2,
                                             .l2 = {.path = n->dir, .map_size = (size_t)1 << 28},
                                             .l3 = mcp_cache_l3_tier(n->l3)},
                           &n->cache);
    if (!rc && coherence) rc = mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = n->cache, .l3 = n->l3}, &n->coh);
    if (!rc && coherence) rc = mcp_cache_coherence_wait_subscribed(n->coh, 5000);
    return rc;
}

static void node_close(bench_node *n) {
    mcp_cache_coherence_free(n->coh);
    mcp_cache_free(n->cache);
    mcp_cache_l3_free(n->l3);
    if (n->dir[0]) {
        char path[300];
        snprintf(path, sizeof path, "%s/data.mdb", n->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/lock.mdb", n->dir);
        unlink(path);
        rmdir(n->dir);
    }
}

/* A failed L3 operation falls back silently in the facade: a run that
 * saw one measured something else, so it fails. */
static int check_no_l3_failures(cache_redis *r) {
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(r->a.l3, &st);
    if (st.failures != r->l3_failures_at_start) {
        fprintf(stderr, "bench cache: %llu L3 operations failed during the run\n",
                (unsigned long long)(st.failures - r->l3_failures_at_start));
        return MCP_EIO;
    }
    return MCP_OK;
}

/* ---- L3 hits --------------------------------------------------------------------------- */

static void empty_l1(cache_redis *r) {
    mcp_cache_l1 *l1 = mcp_cache_get_l1(r->a.cache);
    for (uint64_t i = 0; i < r->size; i++) mcp_cache_l1_remove(l1, key_at(r, i));
}

static int run_l3_get(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_redis *r = ctx;
    empty_l1(r);
    int rc = MCP_OK;
    uint64_t elapsed = 0, t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        size_t k = scrambled(i, r->size);
        if (i && i % r->size == 0) { /* every key was promoted: empty L1 again, untimed */
            elapsed += mcp_now_ns() - t0;
            empty_l1(r);
            t0 = mcp_now_ns();
        }
        mcp_buf_reset(&r->out);
        uint64_t a = mcp_now_ns();
        rc = mcp_cache_get(r->a.cache, key_at(r, k), &r->out);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
        if (rc == MCP_OK && r->out.len != VALUE_BYTES) rc = MCP_EPROTO;
    }
    *elapsed_ns = elapsed + mcp_now_ns() - t0;
    return rc ? rc : check_no_l3_failures(r);
}

typedef struct window {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned in_flight;
    uint64_t done, failed;
    uint64_t started_ns[WINDOW];
    mcp_histogram *lat;
} window;

typedef struct window_slot {
    window *w;
    unsigned slot;
} window_slot;

static void window_done(void *user, int rc, const mcp_cache_item *item) {
    window_slot *s = user;
    window *w = s->w;
    uint64_t now = mcp_now_ns();
    pthread_mutex_lock(&w->lock);
    if (rc != MCP_OK || !item || item->value.len != VALUE_BYTES) w->failed++;
    if (w->lat) mcp_histogram_record(w->lat, now - w->started_ns[s->slot]);
    w->in_flight--;
    w->done++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* WINDOW gets in flight at all times on the tier: hiredis writes what is
 * queued together and Redis answers in order. */
static int run_l3_pipelined(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_redis *r = ctx;
    mcp_cache_tier *tier = mcp_cache_l3_tier(r->a.l3);
    window w = {.lat = lat};
    window_slot slots[WINDOW];
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    pthread_mutex_lock(&w.lock);
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        while (w.in_flight == WINDOW) pthread_cond_wait(&w.cond, &w.lock);
        /* One connection answers in order, so with fewer than WINDOW in
         * flight the request WINDOW back has finished and its slot is free. */
        unsigned slot = (unsigned)(i % WINDOW);
        slots[slot] = (window_slot){&w, slot};
        w.started_ns[slot] = mcp_now_ns();
        w.in_flight++;
        pthread_mutex_unlock(&w.lock);
        mcp_cache_item item;
        int sub = tier->get(tier, key_at(r, scrambled(i, r->size)), NULL, &item, window_done, &slots[slot]);
        pthread_mutex_lock(&w.lock);
        if (sub != MCP_PENDING) {
            w.in_flight--;
            rc = sub == MCP_OK ? MCP_EPROTO : sub;
        }
    }
    while (w.in_flight) pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    *elapsed_ns = mcp_now_ns() - t0;
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    if (!rc && w.failed) rc = MCP_EIO;
    return rc;
}

static int run_l3_put(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_redis *r = ctx;
    mcp_str tag = MCP_STR_LIT("bench:tools");
    mcp_cache_entry_opts o = {.ttl_ms = 600000, .tags = &tag, .tag_count = 1};
    mcp_str v = {r->value, VALUE_BYTES};
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        uint64_t a = mcp_now_ns();
        rc = mcp_cache_put(r->a.cache, key_at(r, scrambled(i, r->size)), v, &o);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc ? rc : check_no_l3_failures(r);
}

/* ---- coherence ------------------------------------------------------------------------------ */

static int run_coherence(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_redis *r = ctx;
    mcp_cache_l1 *b_l1 = mcp_cache_get_l1(r->b.cache);
    mcp_str v = {r->value, 64};
    uint64_t elapsed = 0;
    for (uint64_t i = 0; i < ops; i++) {
        mcp_str key = key_at(r, i);
        int rc = mcp_cache_l1_put(b_l1, key, v, NULL); /* B holds a copy (untimed) */
        if (rc) return rc;
        mcp_cache_coherence_counts before, after;
        mcp_cache_coherence_stats(r->b.coh, &before);
        uint64_t t0 = mcp_now_ns();
        rc = mcp_cache_invalidate_key(r->a.cache, key, NULL);
        if (rc) return rc;
        /* B stamps the moment it finished dropping the key; this thread
         * only waits for it, so how it waits does not enter the number. */
        for (;;) {
            mcp_cache_coherence_stats(r->b.coh, &after);
            if (after.applied > before.applied) break;
            if (mcp_now_ns() - t0 > 2000000000ull) {
                fprintf(stderr, "bench cache: node B applied nothing within 2 s\n");
                return MCP_ETIMEDOUT;
            }
            sched_yield();
        }
        uint64_t dt = after.last_applied_ns - t0;
        elapsed += dt;
        if (lat) {
            mcp_histogram_record(lat, dt);
            r->rounds++;
            r->within_target += dt < COHERENCE_TARGET_NS;
        }
        mcp_buf_reset(&r->out);
        if (mcp_cache_l1_get(b_l1, key, &r->out) != MCP_ENOTFOUND) return MCP_EPROTO; /* the named work happened */
    }
    *elapsed_ns = elapsed;
    return MCP_OK;
}

/* ---- setup --------------------------------------------------------------------------------- */

static void add_task(cache_redis *r, bench_task *tasks, size_t *n, const char *name, const char *scope,
                     int (*run)(void *, uint64_t, mcp_histogram *, uint64_t *)) {
    bench_task *t = &tasks[(*n)++];
    memset(t, 0, sizeof *t);
    bench_copy_str(t->name, sizeof t->name, name);
    bench_copy_str(t->scope, sizeof t->scope, scope);
    t->run = run;
    t->ctx = r;
    t->single_pass = true;
}

int cache_redis_setup(bool coherence, uint64_t size, bench_task *tasks, size_t *count, cache_redis **out) {
    *out = NULL;
    *count = 0;
    cache_redis *r = calloc(1, sizeof *r);
    if (!r) return MCP_ENOMEM;
    r->coherence = coherence;
    r->size = size ? size : 1;
    mcp_buf_init(&r->out);
    for (size_t i = 0; i < VALUE_BYTES; i++) r->value[i] = (char)('a' + i % 26);
    if (redis_fixture_start(&r->redis, 0) != 0) {
        fprintf(stderr, "bench cache: %s; the Redis workloads are skipped, nothing was measured\n", r->redis.error);
        cache_redis_teardown(r);
        return MCP_EUNSUPPORTED;
    }
    r->keys = malloc(r->size * sizeof *r->keys);
    int rc = r->keys ? MCP_OK : MCP_ENOMEM;
    for (uint64_t i = 0; i < r->size && !rc; i++) snprintf(r->keys[i], sizeof r->keys[i], "l3:key:%08llu", (unsigned long long)i);
    if (!rc) rc = node_open(r, &r->a, coherence, coherence);
    if (!rc && coherence) rc = node_open(r, &r->b, true, true);
    if (!rc && !coherence) {
        /* Every key in Redis (and in L1, emptied by the get task). */
        mcp_str v = {r->value, VALUE_BYTES};
        for (uint64_t i = 0; i < r->size && !rc; i++) rc = mcp_cache_put(r->a.cache, key_at(r, i), v, NULL);
        if (!rc) rc = check_no_l3_failures(r);
        add_task(r, tasks, count, "l3_get_hit", "mcp_cache_get: L1 miss, Redis hit (round trip via the tier's loop "
                 "thread), promotion into L1; 200 B values", run_l3_get);
        add_task(r, tasks, count, "l3_get_pipelined_64", "L3 tier get with 64 requests in flight on one connection; "
                 "latency from start to completion", run_l3_pipelined);
        add_task(r, tasks, count, "l3_put", "mcp_cache_put write-through L1 + Redis: MULTI, SET PX, SADD and two "
                 "PEXPIRE on a tag set, EXEC", run_l3_put);
    }
    if (!rc && coherence)
        add_task(r, tasks, count, "coherence_propagation", "from the start of mcp_cache_invalidate_key on node A "
                 "(local tiers, Redis script, PUBLISH) until node B dropped the key from its L1 and L2", run_coherence);
    if (!rc) {
        mcp_cache_l3_counts st;
        mcp_cache_l3_stats(r->a.l3, &st);
        r->l3_failures_at_start = st.failures;
    }
    if (rc) {
        fprintf(stderr, "bench cache: Redis workload setup failed: %s\n", mcp_strerror(rc));
        cache_redis_teardown(r);
        *count = 0;
        return rc;
    }
    *out = r;
    return MCP_OK;
}

void cache_redis_finish(cache_redis *r, bench_record *records, size_t count) {
    if (!r) return;
    for (size_t i = 0; i < count; i++) {
        bench_record *rec = &records[i];
        if (!strcmp(rec->benchmark, "coherence_propagation") && r->rounds) {
            bench_record_add_metric(rec, "target_ms", COHERENCE_TARGET_NS / 1e6);
            bench_record_add_metric(rec, "within_target_ratio", (double)r->within_target / (double)r->rounds);
        }
    }
}

void cache_redis_teardown(cache_redis *r) {
    if (!r) return;
    node_close(&r->a);
    node_close(&r->b);
    redis_fixture_kill(&r->redis);
    free(r->keys);
    mcp_buf_free(&r->out);
    free(r);
}
