/*
 * Pieces the cache tiers share but do not publish: a set of keys that
 * invalidation grows while it follows dependencies (it is also the worklist,
 * so a cycle ends the walk instead of looping), the per-thread counter
 * stripes behind mcp_cache_stats, and the entry metadata encoding that L1
 * and L2 both store.
 */
#ifndef MCP_CACHE_INTERNAL_H
#define MCP_CACHE_INTERNAL_H

#include "mcp/cache.h"

#include <stdalign.h>
#include <stdatomic.h>

/* ---- key set -------------------------------------------------------------
 * Insertion-ordered, so a walker can process item i while appending new
 * ones after it. Keys are copied into the set's arena. */
typedef struct cache_keyset {
    mcp_arena arena;
    mcp_str *keys;
    uint64_t *hashes;
    size_t count, cap;
    uint32_t *slots;   /* open addressing: index + 1, 0 = empty */
    size_t slot_mask;
    uint64_t seed;     /* cache_hash_seed(): hashes double as L1 hashes */
} cache_keyset;

void cache_keyset_init(cache_keyset *s);
void cache_keyset_free(cache_keyset *s);
/* 1 if added, 0 if already present, MCP_ENOMEM. */
int cache_keyset_add(cache_keyset *s, mcp_str key);
bool cache_keyset_has(const cache_keyset *s, mcp_str key);

/* Seed of the in-memory tables' hashes: random per process, so that keys
 * chosen by clients cannot be made to collide on purpose (nothing stored
 * on disk depends on it). */
uint64_t cache_hash_seed(void);

/* ---- counters -------------------------------------------------------------
 * Each thread adds into one stripe chosen by a per-thread number, so
 * threads do not bounce one cache line; reads sum the stripes. */
enum {
    CACHE_STAT_HITS,
    CACHE_STAT_MISSES,
    CACHE_STAT_PUTS,
    CACHE_STAT_EVICTIONS,
    CACHE_STAT_EXPIRATIONS,
    CACHE_STAT_INVALIDATIONS,
    CACHE_STAT_COMPUTES,
    CACHE_STAT_COALESCED,
    CACHE_STAT_COUNT
};
#define CACHE_STAT_STRIPES 32

typedef struct cache_stat_stripe {
    alignas(64) atomic_uint_fast64_t v[CACHE_STAT_COUNT];
} cache_stat_stripe;

typedef struct cache_counters {
    cache_stat_stripe stripes[CACHE_STAT_STRIPES];
} cache_counters;

unsigned cache_thread_stripe(void);
static inline void cache_count(cache_counters *c, int which, uint64_t n) {
    atomic_fetch_add_explicit(&c->stripes[cache_thread_stripe()].v[which], n, memory_order_relaxed);
}
void cache_counters_sum(cache_counters *c, mcp_cache_stats *out);

/* ---- metadata encoding ------------------------------------------------------
 * Tags then deps, each a u16 length and the bytes. Both tiers store this
 * after the value so one read returns everything promotion needs. */
size_t cache_meta_size(const mcp_str *tags, size_t tag_count, const mcp_str *deps, size_t dep_count);
void cache_meta_encode(char *out, const mcp_str *tags, size_t tag_count, const mcp_str *deps,
                       size_t dep_count);
/* Decode count strings starting at *p (advanced); slices point into the
 * encoded bytes. */
void cache_meta_decode(const char **p, mcp_str *out, size_t count);
/* Checks an entry's options: key length, tag/dep counts and lengths. */
int cache_check_entry(mcp_str key, const mcp_str *tags, size_t tag_count, const mcp_str *deps,
                      size_t dep_count);

uint64_t cache_clock_default(void *user);

/* ---- invalidation steps the facade drives across tiers ----------------------
 * collect_tag removes the entries tagged tag and adds their keys to set.
 * invalidate_set removes the entries of set[*cursor ..] and adds the keys of
 * their dependents, until the tier adds nothing new; *cursor ends at
 * set->count. Looping over the tiers until no cursor moves reaches a
 * dependent in one tier of a key found in another. */
int cache_l1_collect_tag(mcp_cache_l1 *l1, mcp_str tag, cache_keyset *set, size_t *removed);
int cache_l1_invalidate_set(mcp_cache_l1 *l1, cache_keyset *set, size_t *cursor, size_t *removed);
int cache_l2_collect_tag(mcp_cache_l2 *l2, mcp_str tag, cache_keyset *set, size_t *removed);
int cache_l2_invalidate_set(mcp_cache_l2 *l2, cache_keyset *set, size_t *cursor, size_t *removed);

#endif
