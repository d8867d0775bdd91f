/*
 * Helpers shared by the cache tiers: the key set that invalidation walks,
 * striped counters, the tags/deps encoding and entry checks.
 */
#include "cache/cache_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MAX_TAGS 64
#define MAX_DEPS 64

uint64_t cache_clock_default(void *user) {
    (void)user;
    return mcp_wall_ms();
}

static uint64_t process_seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void) {
    if (getrandom(&process_seed, sizeof process_seed, 0) != sizeof process_seed)
        process_seed = mcp_now_ns() ^ (uint64_t)(uintptr_t)&process_seed;
}

uint64_t cache_hash_seed(void) {
    pthread_once(&seed_once, seed_init);
    return process_seed;
}

/* ---- key set ----------------------------------------------------------------- */

void cache_keyset_init(cache_keyset *s) {
    memset(s, 0, sizeof *s);
    mcp_arena_init(&s->arena, 4096);
    s->seed = cache_hash_seed();
}

void cache_keyset_free(cache_keyset *s) {
    mcp_arena_free(&s->arena);
    free(s->keys);
    free(s->hashes);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static size_t keyset_find(const cache_keyset *s, mcp_str key, uint64_t h) {
    for (size_t i = h & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        uint32_t v = s->slots[i];
        if (!v) return i;
        size_t k = v - 1;
        if (s->hashes[k] == h && mcp_str_eq(s->keys[k], key)) return i;
    }
}

static int keyset_grow(cache_keyset *s) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    mcp_str *keys = realloc(s->keys, cap * sizeof *keys);
    if (!keys) return MCP_ENOMEM;
    s->keys = keys;
    uint64_t *hashes = realloc(s->hashes, cap * sizeof *hashes);
    if (!hashes) return MCP_ENOMEM;
    s->hashes = hashes;
    /* Slots at twice the capacity keep the probe table at most half full. */
    size_t nslots = cap * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return MCP_ENOMEM;
    free(s->slots);
    s->slots = slots;
    s->slot_mask = nslots - 1;
    s->cap = cap;
    for (size_t k = 0; k < s->count; k++) s->slots[keyset_find(s, s->keys[k], s->hashes[k])] = (uint32_t)(k + 1);
    return MCP_OK;
}

int cache_keyset_add(cache_keyset *s, mcp_str key) {
    if (s->count == s->cap && keyset_grow(s) != 0) return MCP_ENOMEM;
    uint64_t h = mcp_hash64(key.ptr, key.len, s->seed);
    size_t i = keyset_find(s, key, h);
    if (s->slots[i]) return 0;
    char *copy = mcp_arena_alloc(&s->arena, key.len ? key.len : 1);
    if (!copy) return MCP_ENOMEM;
    if (key.len) memcpy(copy, key.ptr, key.len);
    s->keys[s->count] = (mcp_str){copy, key.len};
    s->hashes[s->count] = h;
    s->slots[i] = (uint32_t)(++s->count);
    return 1;
}

bool cache_keyset_has(const cache_keyset *s, mcp_str key) {
    if (!s->count) return false;
    uint64_t h = mcp_hash64(key.ptr, key.len, s->seed);
    return s->slots[keyset_find(s, key, h)] != 0;
}

/* ---- counters ------------------------------------------------------------------- */

static atomic_uint next_stripe;
static _Thread_local unsigned thread_stripe_plus_one;

unsigned cache_thread_stripe(void) {
    if (MCP_UNLIKELY(!thread_stripe_plus_one))
        thread_stripe_plus_one = atomic_fetch_add(&next_stripe, 1) % CACHE_STAT_STRIPES + 1;
    return thread_stripe_plus_one - 1;
}

void cache_counters_sum(cache_counters *c, mcp_cache_stats *out) {
    uint64_t v[CACHE_STAT_COUNT] = {0};
    for (int s = 0; s < CACHE_STAT_STRIPES; s++)
        for (int k = 0; k < CACHE_STAT_COUNT; k++)
            v[k] += atomic_load_explicit(&c->stripes[s].v[k], memory_order_relaxed);
    out->hits = v[CACHE_STAT_HITS];
    out->misses = v[CACHE_STAT_MISSES];
    out->puts = v[CACHE_STAT_PUTS];
    out->evictions = v[CACHE_STAT_EVICTIONS];
    out->expirations = v[CACHE_STAT_EXPIRATIONS];
    out->invalidations = v[CACHE_STAT_INVALIDATIONS];
    out->computes = v[CACHE_STAT_COMPUTES];
    out->coalesced = v[CACHE_STAT_COALESCED];
}

/* ---- metadata ----------------------------------------------------------------------- */

size_t cache_meta_size(const mcp_str *tags, size_t tag_count, const mcp_str *deps, size_t dep_count) {
    size_t n = 0;
    for (size_t i = 0; i < tag_count; i++) n += 2 + tags[i].len;
    for (size_t i = 0; i < dep_count; i++) n += 2 + deps[i].len;
    return n;
}

static char *encode_list(char *out, const mcp_str *list, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint16_t len = (uint16_t)list[i].len;
        memcpy(out, &len, 2);
        if (len) memcpy(out + 2, list[i].ptr, len);
        out += 2 + len;
    }
    return out;
}

void cache_meta_encode(char *out, const mcp_str *tags, size_t tag_count, const mcp_str *deps,
                       size_t dep_count) {
    out = encode_list(out, tags, tag_count);
    encode_list(out, deps, dep_count);
}

void cache_meta_decode(const char **p, mcp_str *out, size_t count) {
    const char *q = *p;
    for (size_t i = 0; i < count; i++) {
        uint16_t len;
        memcpy(&len, q, 2);
        out[i] = (mcp_str){q + 2, len};
        q += 2 + len;
    }
    *p = q;
}

static int check_list(const mcp_str *list, size_t count, size_t max_count) {
    if (count > max_count || (count && !list)) return MCP_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!list[i].len || list[i].len > MCP_CACHE_KEY_MAX || !list[i].ptr) return MCP_EINVAL;
    return MCP_OK;
}

int cache_check_entry(mcp_str key, const mcp_str *tags, size_t tag_count, const mcp_str *deps,
                      size_t dep_count) {
    if (!key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    if (check_list(tags, tag_count, MAX_TAGS) || check_list(deps, dep_count, MAX_DEPS)) return MCP_EINVAL;
    return MCP_OK;
}
