/*
 * cache: the response cache's tiers, timed on the real code.
 *
 *   cache_l1_hits_100k        mcp_cache_l1_get hits on 100k entries, scrambled order;
 *                             mcp_cache_l1_put replacing existing entries
 *   cache_l2_hits_10k         mcp_cache_l2_get hits on 10k LMDB entries; a put
 *                             (one write transaction); a facade get that misses
 *                             L1, hits L2 and promotes
 *   cache_mixed_10k           mcp_cache_get_or_compute over L1+L2 (write-through),
 *                             70% of keys present, 30% new (computed, stored in both)
 *   cache_ttl_expiration_1k   expiry of 1k entries under an injected clock: lazily
 *                             (a get of an expired entry) and by the timer-wheel sweep
 *   cache_lru_eviction_10k    a skewed get-or-put trace of 10k operations over 5k keys
 *                             into an L1 of 1,000 entries; hit/miss decisions compared
 *                             with an exact LRU simulated over the same trace
 *   cache_tag_invalidation    1k entries, 10 group tags (100 entries each) plus one
 *                             tag on all 1k: invalidate a group, invalidate all
 *   cache_dependency_invalidation 1k entries depending on one source as a binary
 *                             tree and as a chain: invalidate the source
 *   cache_memory_per_entry    100k puts into an empty L1; memory growth per entry
 *                             beyond key and value (glibc mallinfo2 heap and mmap'd
 *                             chunks, plus the regions of L1's entry slab)
 *   cache_l3_hits_10k,        L3 in Redis and coherence across two nodes: see
 *   cache_cluster_coherence   modules/cache_redis.c (each starts a redis-server)
 *
 * Latencies are per operation and include one clock-read pair. The L2
 * environment lives in a fresh temporary directory (TMPDIR or /tmp) with
 * commits not fsynced, the tier's default.
 */
#include "harness.h"
#include "mcp/cache.h"
#include "modules/cache_redis.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRAMBLE 2654435761u
#define VALUE_BYTES 200
#define LRU_CAPACITY 1000
#define LRU_KEYS 5000
#define TAG_ENTRIES 1000
#define TAG_GROUPS 10
#define DEP_ENTRIES 1000
#define MEM_KEY_BYTES 32
#define MEM_VALUE_BYTES 100

enum kind { K_L1_HITS = 1, K_L2_HITS, K_MIXED, K_TTL, K_LRU, K_TAGS, K_DEPS, K_MEMORY, K_L3_HITS, K_COHERENCE };

typedef struct cache_state {
    enum kind kind;
    uint64_t size;
    char dir[256];
    mcp_cache *cache;       /* facade; its L1 and L2 serve the tier tasks too */
    mcp_cache_l1 *l1;       /* a standalone L1 when the workload needs one */
    char (*keys)[48];
    char value[VALUE_BYTES];
    uint64_t now_ms;        /* injected clock of the TTL workload */
    uint64_t run_counter;   /* makes the mixed workload's misses new in every run */
    cache_redis *redis;     /* the Redis workloads' own state */
    mcp_buf out;
    /* Derived in the timed runs, attached by finish. */
    double mixed_hit_ratio;
    double lru_agreement[2], lru_hit_ratio[2], exact_hit_ratio;
    double overhead_per_entry, charged_per_entry;
} cache_state;

static uint64_t state_clock(void *user) {
    return ((cache_state *)user)->now_ms;
}

static inline size_t scrambled(uint64_t i, uint64_t n) {
    return (size_t)((i * SCRAMBLE) % n);
}

static mcp_str key_at(cache_state *s, size_t i) {
    return mcp_str_from(s->keys[i]);
}

static int make_keys(cache_state *s, size_t n, const char *prefix) {
    s->keys = malloc(n * sizeof *s->keys);
    if (!s->keys) return MCP_ENOMEM;
    for (size_t i = 0; i < n; i++) snprintf(s->keys[i], sizeof s->keys[i], "%.30s:%08u", prefix, (unsigned)(i % 100000000u));
    return MCP_OK;
}

static void remove_dir(const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static int open_facade(cache_state *s, size_t l1_entries) {
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/mcpd-bench-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        s->dir[0] = 0;
        return MCP_EIO;
    }
    return mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = l1_entries},
                                           .l2_enabled = true,
                                           .l2 = {.path = s->dir, .map_size = (size_t)1 << 30}},
                         &s->cache);
}

/* Times one call; used by every task below. */
#define TIMED(lat, expr)                                          \
    do {                                                          \
        if (lat) {                                                \
            uint64_t t_ = mcp_now_ns();                           \
            rc = (expr);                                          \
            mcp_histogram_record((lat), mcp_now_ns() - t_);       \
        } else {                                                  \
            rc = (expr);                                          \
        }                                                         \
    } while (0)

/* ---- L1 hits ------------------------------------------------------------------------ */

static int run_l1_get(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, scrambled(i, s->size));
        mcp_buf_reset(&s->out);
        TIMED(lat, mcp_cache_l1_get(s->l1, key, &s->out));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_l1_put(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    int rc = MCP_OK;
    mcp_str v = {s->value, VALUE_BYTES};
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, scrambled(i, s->size));
        TIMED(lat, mcp_cache_l1_put(s->l1, key, v, NULL));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

/* ---- L2 hits ----------------------------------------------------------------------- */

static int run_l2_get(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    mcp_cache_l2 *l2 = mcp_cache_get_l2(s->cache);
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, scrambled(i, s->size));
        mcp_buf_reset(&s->out);
        TIMED(lat, mcp_cache_l2_get(l2, key, &s->out));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_l2_put(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    mcp_cache_l2 *l2 = mcp_cache_get_l2(s->cache);
    mcp_str v = {s->value, VALUE_BYTES};
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, scrambled(i, s->size));
        TIMED(lat, mcp_cache_l2_put(l2, key, v, NULL));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}

static int run_tiered_promote(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    mcp_cache_l1 *l1 = mcp_cache_get_l1(s->cache);
    /* Empty L1 first (not timed) so that every get misses it. */
    for (uint64_t i = 0; i < s->size; i++) mcp_cache_l1_remove(l1, key_at(s, i));
    int rc = MCP_OK;
    uint64_t elapsed = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        size_t k = scrambled(i, s->size);
        if (i && k == scrambled(0, s->size)) { /* wrapped around: empty L1 again, untimed */
            elapsed += mcp_now_ns() - t0;
            for (uint64_t j = 0; j < s->size; j++) mcp_cache_l1_remove(l1, key_at(s, j));
            t0 = mcp_now_ns();
        }
        mcp_str key = key_at(s, k);
        mcp_buf_reset(&s->out);
        TIMED(lat, mcp_cache_get(s->cache, key, &s->out));
    }
    *elapsed_ns = elapsed + mcp_now_ns() - t0;
    return rc;
}

/* ---- mixed ---------------------------------------------------------------------------- */

static int compute_value(mcp_str key, mcp_cache_fill *fill, void *user) {
    cache_state *s = user;
    (void)key;
    return mcp_buf_append(fill->value, s->value, VALUE_BYTES);
}

static int run_mixed(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    mcp_cache_l1 *l1 = mcp_cache_get_l1(s->cache);
    mcp_cache_stats before, after;
    mcp_cache_l1_stats(l1, &before);
    uint64_t run = ++s->run_counter;
    size_t present = s->size * 7 / 10;
    char miss_key[48];
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key;
        /* Three in every ten operations ask for a key never seen before. */
        if (scrambled(i, 10) < 7) {
            key = key_at(s, scrambled(i, present));
        } else {
            int n = snprintf(miss_key, sizeof miss_key, "new:%llu:%llu", (unsigned long long)run, (unsigned long long)i);
            key = (mcp_str){miss_key, (size_t)n};
        }
        mcp_buf_reset(&s->out);
        TIMED(lat, mcp_cache_get_or_compute(s->cache, key, compute_value, s, &s->out));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    mcp_cache_l1_stats(l1, &after);
    uint64_t hits = after.hits - before.hits, misses = after.misses - before.misses;
    if (lat && hits + misses) s->mixed_hit_ratio = (double)hits / (double)(hits + misses);
    return rc;
}

/* ---- TTL ---------------------------------------------------------------------------------- */

static int fill_ttl(cache_state *s) {
    mcp_str v = {s->value, 16};
    for (uint64_t i = 0; i < s->size; i++) {
        int rc = mcp_cache_l1_put(s->l1, key_at(s, i), v, &(mcp_cache_entry_opts){.ttl_ms = 10 + i % 100});
        if (rc) return rc;
    }
    s->now_ms += 200; /* every entry is now past its time */
    return MCP_OK;
}

static int run_ttl_lazy(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    uint64_t elapsed = 0;
    int rc = MCP_OK;
    for (uint64_t done = 0; done < ops;) {
        rc = fill_ttl(s);
        if (rc) return rc;
        uint64_t t0 = mcp_now_ns();
        for (uint64_t i = 0; i < s->size && done < ops; i++, done++) {
            mcp_str key = key_at(s, scrambled(i, s->size));
            mcp_buf_reset(&s->out);
            TIMED(lat, mcp_cache_l1_get(s->l1, key, &s->out));
            /* Every entry is past its time: anything but a miss is wrong. */
            if (rc != MCP_ENOTFOUND) return rc == MCP_OK ? MCP_EPROTO : rc;
        }
        elapsed += mcp_now_ns() - t0;
    }
    *elapsed_ns = elapsed;
    return MCP_OK;
}

/* One operation: a sweep that removes the 1k expired entries. */
static int run_ttl_sweep(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    uint64_t elapsed = 0;
    for (uint64_t i = 0; i < ops; i++) {
        int rc = fill_ttl(s);
        if (rc) return rc;
        uint64_t t0 = mcp_now_ns();
        size_t n = mcp_cache_l1_sweep(s->l1);
        uint64_t dt = mcp_now_ns() - t0;
        elapsed += dt;
        if (lat) mcp_histogram_record(lat, dt);
        if (n != s->size) return MCP_EPROTO;
    }
    *elapsed_ns = elapsed;
    return MCP_OK;
}

/* ---- LRU compliance ------------------------------------------------------------------- */

/* The trace: 80% of operations on a hot fifth of the keys, from a fixed
 * xorshift sequence, so every run replays the same keys. */
static uint32_t trace_key(uint64_t i) {
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    uint32_t r = (uint32_t)x;
    return (r % 10 < 8) ? (r >> 4) % (LRU_KEYS / 5) : (r >> 4) % LRU_KEYS;
}

/* An exact LRU of LRU_CAPACITY over key ids: arrays as a linked list. */
static double exact_lru_hits(uint64_t ops, bool *hit_out) {
    static int32_t prev[LRU_KEYS], next[LRU_KEYS];
    static bool present[LRU_KEYS];
    memset(present, 0, sizeof present);
    int32_t head = -1, tail = -1;
    size_t count = 0, hits = 0;
    for (uint64_t i = 0; i < ops; i++) {
        int32_t k = (int32_t)trace_key(i);
        bool hit = present[k];
        hit_out[i] = hit;
        if (hit) {
            hits++;
            if (head == k) continue;
            next[prev[k]] = next[k]; /* unlink (k is not the head) */
            if (next[k] >= 0) prev[next[k]] = prev[k];
            else tail = prev[k];
        } else {
            if (count == LRU_CAPACITY) {
                present[tail] = false;
                int32_t t = tail;
                tail = prev[t];
                if (tail >= 0) next[tail] = -1;
                else head = -1;
                count--;
            }
            present[k] = true;
            count++;
        }
        prev[k] = -1;
        next[k] = head;
        if (head >= 0) prev[head] = k;
        head = k;
        if (tail < 0) tail = k;
    }
    return ops ? (double)hits / (double)ops : 0;
}

static int run_lru(cache_state *s, unsigned shards, int slot, uint64_t ops, mcp_histogram *lat,
                   uint64_t *elapsed_ns) {
    mcp_cache_l1 *l1;
    int rc = mcp_cache_l1_new(&(mcp_cache_l1_opts){.max_entries = LRU_CAPACITY, .shards = shards}, &l1);
    if (rc) return rc;
    bool *exact = malloc(ops * sizeof *exact);
    if (!exact) {
        mcp_cache_l1_free(l1);
        return MCP_ENOMEM;
    }
    mcp_str v = {s->value, 64};
    size_t hits = 0, agree = 0;
    bool *ours = exact; /* this run's hit decisions; the exact LRU's come after timing */
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, trace_key(i));
        mcp_buf_reset(&s->out);
        uint64_t a = lat ? mcp_now_ns() : 0;
        rc = mcp_cache_l1_get(l1, key, &s->out);
        ours[i] = rc == MCP_OK;
        if (rc == MCP_ENOTFOUND) rc = mcp_cache_l1_put(l1, key, v, NULL);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
        hits += ours[i];
    }
    *elapsed_ns = mcp_now_ns() - t0;
    if (lat && rc == MCP_OK) {
        bool *reference = malloc(ops * sizeof *reference);
        if (!reference) {
            rc = MCP_ENOMEM;
        } else {
            s->exact_hit_ratio = exact_lru_hits(ops, reference);
            for (uint64_t i = 0; i < ops; i++) agree += ours[i] == reference[i];
            s->lru_agreement[slot] = (double)agree / (double)ops;
            s->lru_hit_ratio[slot] = (double)hits / (double)ops;
            free(reference);
        }
    }
    free(exact);
    mcp_cache_l1_free(l1);
    return rc;
}

static int run_lru_sharded(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    return run_lru(ctx, 16, 0, ops, lat, elapsed_ns);
}

static int run_lru_one_shard(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    return run_lru(ctx, 1, 1, ops, lat, elapsed_ns);
}

/* ---- tag and dependency invalidation ------------------------------------------------- */

static int fill_tagged(cache_state *s, bool l1_only) {
    static const char *const groups[TAG_GROUPS] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"};
    mcp_str v = {s->value, 64};
    for (size_t i = 0; i < TAG_ENTRIES; i++) {
        mcp_str tags[2] = {mcp_str_from(groups[i % TAG_GROUPS]), MCP_STR_LIT("all")};
        mcp_cache_entry_opts o = {.tags = tags, .tag_count = 2};
        int rc = l1_only ? mcp_cache_l1_put(mcp_cache_get_l1(s->cache), key_at(s, i), v, &o)
                         : mcp_cache_put(s->cache, key_at(s, i), v, &o);
        if (rc) return rc;
    }
    return MCP_OK;
}

typedef enum inval_kind { INV_L1_GROUP, INV_L1_ALL, INV_TIERED_ALL, INV_DEP_TREE, INV_DEP_CHAIN, INV_TIERED_TREE } inval_kind;

static int fill_deps(cache_state *s, bool chain, bool l1_only) {
    mcp_str v = {s->value, 64};
    for (size_t i = 0; i < DEP_ENTRIES; i++) {
        /* Tree: entry i derives from entry (i-1)/2; chain: from entry i-1. */
        mcp_str dep = i == 0 ? MCP_STR_LIT("source") : key_at(s, chain ? i - 1 : (i - 1) / 2);
        mcp_cache_entry_opts o = {.deps = &dep, .dep_count = 1};
        int rc = l1_only ? mcp_cache_l1_put(mcp_cache_get_l1(s->cache), key_at(s, i), v, &o)
                         : mcp_cache_put(s->cache, key_at(s, i), v, &o);
        if (rc) return rc;
    }
    return MCP_OK;
}

static int run_invalidation(cache_state *s, inval_kind kind, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    uint64_t elapsed = 0;
    size_t expect = kind == INV_L1_GROUP ? TAG_ENTRIES / TAG_GROUPS : kind == INV_TIERED_ALL || kind == INV_TIERED_TREE ? 2000 : 1000;
    for (uint64_t i = 0; i < ops; i++) {
        bool l1_only = kind != INV_TIERED_ALL && kind != INV_TIERED_TREE;
        int rc = kind <= INV_TIERED_ALL ? fill_tagged(s, l1_only) : fill_deps(s, kind == INV_DEP_CHAIN, l1_only);
        if (rc) return rc;
        size_t removed = 0;
        uint64_t t0 = mcp_now_ns();
        switch (kind) {
        case INV_L1_GROUP: rc = mcp_cache_l1_invalidate_tag(mcp_cache_get_l1(s->cache), MCP_STR_LIT("g3"), &removed); break;
        case INV_L1_ALL: rc = mcp_cache_l1_invalidate_tag(mcp_cache_get_l1(s->cache), MCP_STR_LIT("all"), &removed); break;
        case INV_TIERED_ALL: rc = mcp_cache_invalidate_tag(s->cache, MCP_STR_LIT("all"), &removed); break;
        case INV_DEP_TREE:
        case INV_DEP_CHAIN: rc = mcp_cache_l1_invalidate_key(mcp_cache_get_l1(s->cache), MCP_STR_LIT("source"), &removed); break;
        case INV_TIERED_TREE: rc = mcp_cache_invalidate_key(s->cache, MCP_STR_LIT("source"), &removed); break;
        }
        uint64_t dt = mcp_now_ns() - t0;
        elapsed += dt;
        if (lat) mcp_histogram_record(lat, dt);
        if (rc) return rc;
        if (removed != expect) return MCP_EPROTO; /* measured work must be the named work */
    }
    *elapsed_ns = elapsed;
    return MCP_OK;
}

#define INVALIDATION_TASK(fn, kind)                                                         \
    static int fn(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {      \
        return run_invalidation(ctx, kind, ops, lat, elapsed_ns);                           \
    }
INVALIDATION_TASK(run_l1_tag_group, INV_L1_GROUP)
INVALIDATION_TASK(run_l1_tag_all, INV_L1_ALL)
INVALIDATION_TASK(run_tiered_tag_all, INV_TIERED_ALL)
INVALIDATION_TASK(run_l1_dep_tree, INV_DEP_TREE)
INVALIDATION_TASK(run_l1_dep_chain, INV_DEP_CHAIN)
INVALIDATION_TASK(run_tiered_dep_tree, INV_TIERED_TREE)

/* ---- memory per entry ------------------------------------------------------------------ */

static int run_memory(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    cache_state *s = ctx;
    mcp_cache_l1 *l1;
    malloc_trim(0);
    struct mallinfo2 before = mallinfo2();
    int rc = mcp_cache_l1_new(&(mcp_cache_l1_opts){.max_entries = ops * 2, .max_bytes = (size_t)1 << 34}, &l1);
    if (rc) return rc;
    mcp_str v = {s->value, MEM_VALUE_BYTES};
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == MCP_OK; i++) {
        mcp_str key = key_at(s, i);
        if (key.len != MEM_KEY_BYTES) return MCP_EPROTO;
        TIMED(lat, mcp_cache_l1_put(l1, key, v, NULL));
    }
    *elapsed_ns = mcp_now_ns() - t0;
    if (lat && rc == MCP_OK) {
        struct mallinfo2 after = mallinfo2();
        mcp_cache_stats st;
        mcp_cache_l1_stats(l1, &st);
        /* Heap in use, glibc's own mmap'd chunks (large tables) and the
         * L1's slab regions, counted whole as mapped. */
        double heap = (double)(after.uordblks + after.hblkhd) - (double)(before.uordblks + before.hblkhd) +
                      (double)st.mapped_bytes;
        s->overhead_per_entry = heap / (double)ops - MEM_KEY_BYTES - MEM_VALUE_BYTES;
        s->charged_per_entry = (double)st.bytes / (double)st.entries - MEM_KEY_BYTES - MEM_VALUE_BYTES;
        if (st.entries != ops) rc = MCP_EPROTO;
    }
    mcp_cache_l1_free(l1);
    return rc;
}

/* ---- setup ------------------------------------------------------------------------------ */

static void cache_teardown(void *p) {
    cache_state *s = p;
    if (!s) return;
    cache_redis_teardown(s->redis);
    mcp_cache_free(s->cache);
    mcp_cache_l1_free(s->l1);
    if (s->dir[0]) remove_dir(s->dir);
    free(s->keys);
    mcp_buf_free(&s->out);
    free(s);
}

static const struct {
    const char *id;
    enum kind kind;
} KINDS[] = {
    {"cache_l1_hits_100k", K_L1_HITS}, {"cache_l2_hits_10k", K_L2_HITS}, {"cache_mixed_10k", K_MIXED},
    {"cache_ttl_expiration_1k", K_TTL}, {"cache_lru_eviction_10k", K_LRU}, {"cache_tag_invalidation", K_TAGS},
    {"cache_dependency_invalidation", K_DEPS}, {"cache_memory_per_entry", K_MEMORY},
    {"cache_l3_hits_10k", K_L3_HITS}, {"cache_cluster_coherence", K_COHERENCE},
};

static int add_task(cache_state *s, bench_task *tasks, size_t *count, const char *name, const char *scope,
                    int (*run)(void *, uint64_t, mcp_histogram *, uint64_t *), bool single_pass) {
    bench_task *t = &tasks[(*count)++];
    bench_copy_str(t->name, sizeof t->name, name);
    bench_copy_str(t->scope, sizeof t->scope, scope);
    t->run = run;
    t->ctx = s;
    t->single_pass = single_pass;
    return MCP_OK;
}

static int setup_kind(cache_state *s, bench_task *tasks, size_t *n) {
    mcp_str v = {s->value, VALUE_BYTES};
    int rc = MCP_OK;
    switch (s->kind) {
    case K_L1_HITS:
        rc = make_keys(s, s->size, "tool\x01{\"q\":\"k");
        /* Bounds per shard: room for twice the keys so no shard evicts. */
        if (!rc) rc = mcp_cache_l1_new(&(mcp_cache_l1_opts){.max_entries = s->size * 2}, &s->l1);
        for (uint64_t i = 0; i < s->size && !rc; i++) rc = mcp_cache_l1_put(s->l1, key_at(s, i), v, NULL);
        add_task(s, tasks, n, "l1_get_hit", "mcp_cache_l1_get hit, 100k entries of 200 B, 16 shards, scrambled order, "
                 "one thread; value copied out", run_l1_get, false);
        add_task(s, tasks, n, "l1_put_replace", "mcp_cache_l1_put replacing an existing 200 B entry, 100k entries",
                 run_l1_put, false);
        break;
    case K_L2_HITS:
        rc = make_keys(s, s->size, "tool\x01{\"q\":\"k");
        if (!rc) rc = open_facade(s, s->size);
        for (uint64_t i = 0; i < s->size && !rc; i++)
            rc = mcp_cache_l2_put(mcp_cache_get_l2(s->cache), key_at(s, i), v, NULL);
        add_task(s, tasks, n, "l2_get_hit", "mcp_cache_l2_get hit, 10k LMDB entries of 200 B, one read txn each",
                 run_l2_get, false);
        add_task(s, tasks, n, "tiered_get_promote", "mcp_cache_get: L1 miss, L2 hit, promotion into L1 with "
                 "expiry/tags/deps", run_tiered_promote, true);
        add_task(s, tasks, n, "l2_put", "mcp_cache_l2_put of 200 B replacing an entry: one write txn, no fsync",
                 run_l2_put, true);
        break;
    case K_MIXED:
        rc = make_keys(s, s->size, "tool\x01{\"q\":\"k");
        if (!rc) rc = open_facade(s, 1000000);
        for (uint64_t i = 0; i < s->size * 7 / 10 && !rc; i++) rc = mcp_cache_put(s->cache, key_at(s, i), v, NULL);
        add_task(s, tasks, n, "mixed_get_or_compute", "mcp_cache_get_or_compute, L1+L2 write-through: 70% L1 hits, "
                 "30% new keys computed (200 B) and written to both tiers", run_mixed, true);
        break;
    case K_TTL:
        rc = make_keys(s, s->size, "ttl");
        s->now_ms = 1000000;
        if (!rc) rc = mcp_cache_l1_new(&(mcp_cache_l1_opts){.clock = state_clock, .clock_user = s,
                                                            .wheel_tick_ms = 10}, &s->l1);
        add_task(s, tasks, n, "ttl_lazy_expire", "mcp_cache_l1_get of an expired entry: found, dropped, a miss "
                 "(1k entries, injected clock)", run_ttl_lazy, true);
        add_task(s, tasks, n, "ttl_wheel_sweep", "one operation = mcp_cache_l1_sweep removing 1k expired entries "
                 "(10 ms wheel ticks)", run_ttl_sweep, true);
        break;
    case K_LRU:
        rc = make_keys(s, LRU_KEYS, "lru");
        add_task(s, tasks, n, "lru_trace_16_shards", "get, put on miss: skewed trace over 5k keys into L1 of 1,000 "
                 "entries, 16 shards; metrics compare with an exact LRU", run_lru_sharded, true);
        add_task(s, tasks, n, "lru_trace_1_shard", "the same trace into one shard (an exact LRU by construction)",
                 run_lru_one_shard, true);
        break;
    case K_TAGS:
        rc = make_keys(s, TAG_ENTRIES, "tagged");
        if (!rc) rc = open_facade(s, 100000);
        add_task(s, tasks, n, "l1_tag_invalidate_100", "mcp_cache_l1_invalidate_tag removing 100 of 1k entries "
                 "(10 group tags + 1 shared tag each)", run_l1_tag_group, true);
        add_task(s, tasks, n, "l1_tag_invalidate_1k", "mcp_cache_l1_invalidate_tag removing all 1k entries "
                 "(2 tags each)", run_l1_tag_all, true);
        add_task(s, tasks, n, "tiered_tag_invalidate_1k", "mcp_cache_invalidate_tag: 1k entries in L1 and in L2 "
                 "(one LMDB txn for the tag, one for dependents)", run_tiered_tag_all, true);
        break;
    case K_DEPS:
        rc = make_keys(s, DEP_ENTRIES, "derived");
        if (!rc) rc = open_facade(s, 100000);
        add_task(s, tasks, n, "l1_dep_tree_1k", "mcp_cache_l1_invalidate_key of a source 1k entries derive from, "
                 "binary tree of dependencies (depth 10)", run_l1_dep_tree, true);
        add_task(s, tasks, n, "l1_dep_chain_1k", "the same, as a chain of 1k dependencies", run_l1_dep_chain, true);
        add_task(s, tasks, n, "tiered_dep_tree_1k", "mcp_cache_invalidate_key: the tree in L1 and in L2",
                 run_tiered_dep_tree, true);
        break;
    case K_L3_HITS:
    case K_COHERENCE: rc = cache_redis_setup(s->kind == K_COHERENCE, s->size, tasks, n, &s->redis); break;
    case K_MEMORY:
        rc = make_keys(s, s->size, "memory-key-of-32-bytes-");
        add_task(s, tasks, n, "l1_fill_100k", "mcp_cache_l1_put of 100k new entries (32 B key, 100 B value) "
                 "into an empty L1; growth of malloc's heap and mmap'd chunks (mallinfo2) plus L1's slab regions", run_memory, true);
        break;
    }
    return rc;
}

static int cache_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    cache_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->size = w->size;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].id, w->id) == 0) s->kind = KINDS[i].kind;
    for (size_t i = 0; i < VALUE_BYTES; i++) s->value[i] = (char)('a' + i % 26);
    mcp_buf_init(&s->out);
    *count = 0;
    int rc = s->kind ? setup_kind(s, tasks, count) : MCP_EINVAL;
    if (rc) {
        cache_teardown(s);
        *state = NULL;
    }
    return rc;
}

static void cache_finish(void *p, bench_record *records, size_t count) {
    cache_state *s = p;
    cache_redis_finish(s->redis, records, count);
    for (size_t i = 0; i < count; i++) {
        bench_record *r = &records[i];
        if (!strcmp(r->benchmark, "mixed_get_or_compute")) bench_record_add_metric(r, "hit_ratio", s->mixed_hit_ratio);
        if (!strncmp(r->benchmark, "lru_trace_", 10)) {
            int slot = strcmp(r->benchmark, "lru_trace_16_shards") ? 1 : 0;
            bench_record_add_metric(r, "lru_agreement", s->lru_agreement[slot]);
            bench_record_add_metric(r, "hit_ratio", s->lru_hit_ratio[slot]);
            bench_record_add_metric(r, "exact_lru_hit_ratio", s->exact_hit_ratio);
        }
        if (!strcmp(r->benchmark, "l1_fill_100k")) {
            bench_record_add_metric(r, "overhead_bytes_per_entry", s->overhead_per_entry);
            bench_record_add_metric(r, "charged_bytes_per_entry", s->charged_per_entry);
        }
        /* Operations that each remove many entries: the cost per entry. */
        static const struct {
            const char *name;
            double entries;
        } per_op[] = {{"ttl_wheel_sweep", 1000},         {"l1_tag_invalidate_100", 100},
                      {"l1_tag_invalidate_1k", 1000},    {"tiered_tag_invalidate_1k", 2000},
                      {"l1_dep_tree_1k", 1000},          {"l1_dep_chain_1k", 1000},
                      {"tiered_dep_tree_1k", 2000}};
        for (size_t k = 0; k < sizeof per_op / sizeof per_op[0]; k++)
            if (!strcmp(r->benchmark, per_op[k].name) && r->throughput > 0)
                bench_record_add_metric(r, "ns_per_entry", 1e9 / r->throughput / per_op[k].entries);
    }
}

/* Fixed work for instruction counting: L1 only, no threads, no disk,
 * injected clock. */
static int cache_deterministic(void) {
    cache_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    s->size = 2000;
    s->now_ms = 1000000;
    mcp_buf_init(&s->out);
    int rc = make_keys(s, s->size, "det");
    if (!rc) rc = mcp_cache_l1_new(&(mcp_cache_l1_opts){.max_entries = 1000, .clock = state_clock, .clock_user = s,
                                                        .wheel_tick_ms = 10}, &s->l1);
    mcp_str tag = MCP_STR_LIT("t");
    for (uint64_t i = 0; i < 20000 && !rc; i++) {
        mcp_str key = key_at(s, scrambled(i, s->size));
        mcp_buf_reset(&s->out);
        if (mcp_cache_l1_get(s->l1, key, &s->out) == MCP_ENOTFOUND)
            rc = mcp_cache_l1_put(s->l1, key, (mcp_str){s->value, 64},
                                  &(mcp_cache_entry_opts){.ttl_ms = 50, .tags = &tag, .tag_count = i % 2});
        if (i % 1000 == 999) {
            s->now_ms += 20;
            mcp_cache_l1_sweep(s->l1);
        }
    }
    if (!rc) rc = mcp_cache_l1_invalidate_tag(s->l1, tag, NULL);
    cache_teardown(s);
    return rc;
}

static const bench_workload CACHE_WORKLOADS[] = {
    {"cache_l1_hits_100k", "L1 hits and replacing puts on 100k entries", 100000, {100000, 100000}, {5, 15}},
    {"cache_l2_hits_10k", "L2 (LMDB) hits, puts, and L1-miss/L2-hit promotion on 10k entries", 10000, {10000, 10000}, {5, 15}},
    {"cache_mixed_10k", "get_or_compute over L1+L2, 70% hits", 10000, {10000, 10000}, {5, 15}},
    {"cache_ttl_expiration_1k", "1k expired entries: lazy expiry and wheel sweep", 1000, {1000, 1000}, {5, 15}},
    {"cache_lru_eviction_10k", "10k-operation trace into L1 of 1,000; LRU agreement with an exact LRU", 10000, {10000, 10000}, {5, 15}},
    {"cache_tag_invalidation", "invalidate 100 or 1k of 1k tagged entries (10 group tags)", 1000, {20, 50}, {5, 15}},
    {"cache_dependency_invalidation", "invalidate a source 1k entries derive from (tree, chain)", 1000, {20, 50}, {5, 15}},
    {"cache_memory_per_entry", "heap per L1 entry beyond key and value, 100k entries", 100000, {100000, 100000}, {3, 9}},
    {"cache_l3_hits_10k", "L3 (Redis) hits through the facade, pipelined tier gets, write-through puts on 10k entries", 10000, {5000, 10000}, {3, 9}},
    {"cache_cluster_coherence", "two nodes through Redis: invalidation on A until B's L1 and L2 dropped the key", 10000, {300, 1000}, {3, 9}},
};

const bench_module bench_module_cache = {
    .name = "cache",
    .description = "response cache: L1 memory tier, L2 LMDB tier, L3 Redis tier, tiered facade, cross-node coherence",
    .notes = "the L3 and coherence workloads start a redis-server on loopback and fail, saying so, without one; "
             "multi-thread L1 contention is not measured",
    .workloads = CACHE_WORKLOADS,
    .workload_count = sizeof CACHE_WORKLOADS / sizeof CACHE_WORKLOADS[0],
    .setup = cache_setup,
    .finish = cache_finish,
    .teardown = cache_teardown,
    .deterministic = cache_deterministic,
};
