/*
 * L1: the in-memory tier. The key's hash picks a shard by its top bits and
 * a bucket by its low bits; each shard has its own mutex, chained hash
 * table, exact LRU list, share of the bounds and timer wheel. A hit moves
 * the entry to the front of its shard's list, so even reads take the lock:
 * a mutex held for a few dozen nanoseconds costs less than the atomics a
 * lock-free LRU would need, and shards keep threads apart.
 *
 * Per-shard bounds make the whole an approximate LRU: the victim is the
 * oldest of its shard, not necessarily of the cache. With hashed keys the
 * shards fill evenly and the bench measures the difference from an exact
 * LRU over the same trace.
 *
 * Expiry: an entry past its time is dropped when a get touches it. The
 * timer wheel (one slot per tick_ms, L1_WHEEL_SLOTS slots, an entry in the
 * slot of its expiry tick modulo the wheel) lets the sweep visit only the
 * slots whose time has come instead of every entry.
 */
#include "cache/l1_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_ENTRIES 65536
#define DEFAULT_MAX_BYTES (256u << 20)
#define DEFAULT_SHARDS 16
#define DEFAULT_TICK_MS 1000
#define INITIAL_BUCKETS 16

/* ---- timer wheel ------------------------------------------------------------ */

static size_t wheel_slot(mcp_cache_l1 *l1, l1_shard *sh, uint64_t expires_ms) {
    uint64_t tick = expires_ms / l1->tick_ms;
    /* Never behind the sweep's position, or the entry would wait a whole turn. */
    if (tick < sh->wheel_tick) tick = sh->wheel_tick;
    return (size_t)(tick % L1_WHEEL_SLOTS);
}

/* Lists hang off the slots through pprev (the address of the pointer that
 * points at the entry), so removal needs neither the slot nor a search. */
static void wheel_add(mcp_cache_l1 *l1, l1_shard *sh, l1_entry *e) {
    e->wheel_pprev = NULL;
    e->wheel_next = NULL;
    if (!e->expires_ms) return;
    l1_entry **slot = &sh->wheel[wheel_slot(l1, sh, e->expires_ms)];
    e->wheel_next = *slot;
    if (e->wheel_next) e->wheel_next->wheel_pprev = &e->wheel_next;
    e->wheel_pprev = slot;
    *slot = e;
}

static void wheel_remove(l1_entry *e) {
    if (!e->wheel_pprev) return;
    *e->wheel_pprev = e->wheel_next;
    if (e->wheel_next) e->wheel_next->wheel_pprev = e->wheel_pprev;
    e->wheel_pprev = NULL;
}

/* ---- table ----------------------------------------------------------------------- */

l1_entry *l1_find(l1_shard *sh, mcp_str key, uint64_t hash) {
    for (l1_entry *e = sh->buckets[hash & sh->mask]; e; e = e->chain)
        if (e->hash == hash && e->key_len == key.len && memcmp(l1_entry_key(e), key.ptr, key.len) == 0) return e;
    return NULL;
}

static void lru_remove(l1_shard *sh, l1_entry *e) {
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else sh->lru_head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else sh->lru_tail = e->lru_prev;
}

static void lru_push_front(l1_shard *sh, l1_entry *e) {
    e->lru_prev = NULL;
    e->lru_next = sh->lru_head;
    if (sh->lru_head) sh->lru_head->lru_prev = e;
    sh->lru_head = e;
    if (!sh->lru_tail) sh->lru_tail = e;
}

void l1_unlink(l1_shard *sh, l1_entry *e, l1_entry **garbage) {
    l1_entry **pp = &sh->buckets[e->hash & sh->mask];
    while (*pp != e) pp = &(*pp)->chain;
    *pp = e->chain;
    lru_remove(sh, e);
    wheel_remove(e);
    l1_index_unlink(sh, e);
    sh->count--;
    sh->bytes -= l1_entry_size(e);
    e->chain = *garbage;
    *garbage = e;
}

void l1_free_garbage(l1_entry *garbage) {
    while (garbage) {
        l1_entry *next = garbage->chain;
        free(garbage);
        garbage = next;
    }
}

static int grow_buckets(l1_shard *sh) {
    size_t n = (sh->mask + 1) * 2;
    l1_entry **b = calloc(n, sizeof *b);
    if (!b) return MCP_ENOMEM;
    for (size_t i = 0; i <= sh->mask; i++) {
        l1_entry *e = sh->buckets[i];
        while (e) {
            l1_entry *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->mask = n - 1;
    return MCP_OK;
}

int l1_insert(mcp_cache_l1 *l1, l1_shard *sh, l1_entry *e, l1_entry **garbage) {
    size_t size = l1_entry_size(e);
    if (size > sh->max_bytes) return MCP_ELIMIT;
    mcp_str key = {l1_entry_key(e), e->key_len};
    l1_entry *old = l1_find(sh, key, e->hash);
    if (old) l1_unlink(sh, old, garbage);
    /* A failed grow only lengthens chains; the insert still succeeds. */
    if (sh->count >= sh->mask + 1) (void)grow_buckets(sh);
    int rc = l1_index_link(sh, e);
    if (rc) return rc;
    l1_entry **b = &sh->buckets[e->hash & sh->mask];
    e->chain = *b;
    *b = e;
    lru_push_front(sh, e);
    wheel_add(l1, sh, e);
    sh->count++;
    sh->bytes += size;
    size_t evicted = 0;
    while ((sh->count > sh->max_entries || sh->bytes > sh->max_bytes) && sh->lru_tail != e) {
        l1_unlink(sh, sh->lru_tail, garbage);
        evicted++;
    }
    if (evicted) cache_count(&l1->counters, CACHE_STAT_EVICTIONS, evicted);
    return MCP_OK;
}

uint64_t l1_expiry_for(mcp_cache_l1 *l1, uint64_t now, const mcp_cache_entry_opts *opts) {
    uint64_t ttl = opts && opts->ttl_ms ? opts->ttl_ms : l1->default_ttl_ms;
    if (!ttl || ttl == MCP_CACHE_TTL_NONE) return 0;
    return ttl > UINT64_MAX - now ? 0 : now + ttl;
}

l1_entry *l1_entry_build(mcp_cache_l1 *l1, mcp_str key, mcp_str value, uint64_t expires_ms, const mcp_str *tags,
                         size_t tag_count, const mcp_str *deps, size_t dep_count) {
    if (value.len > UINT32_MAX / 2) return NULL;
    size_t meta = cache_meta_size(tags, tag_count, deps, dep_count);
    size_t size = sizeof(l1_entry) + (tag_count + dep_count) * sizeof(l1_ref) + key.len + value.len + meta;
    l1_entry *e = malloc(size);
    if (!e) return NULL;
    e->hash = l1_hash(l1, key);
    e->expires_ms = expires_ms;
    e->key_len = (uint32_t)key.len;
    e->value_len = (uint32_t)value.len;
    e->meta_len = (uint32_t)meta;
    e->tag_count = (uint16_t)tag_count;
    e->dep_count = (uint16_t)dep_count;
    memcpy(l1_entry_key(e), key.ptr, key.len);
    if (value.len) memcpy(l1_entry_value(e), value.ptr, value.len);
    cache_meta_encode(l1_entry_meta(e), tags, tag_count, deps, dep_count);
    return e;
}

/* ---- sweeper thread ------------------------------------------------------------------ */

static void *sweeper_main(void *p) {
    mcp_cache_l1 *l1 = p;
    pthread_mutex_lock(&l1->sweeper_lock);
    while (!l1->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + l1->sweep_interval_ms % 1000 * 1000000u;
        ts.tv_sec += (time_t)(l1->sweep_interval_ms / 1000 + ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        int rc = pthread_cond_timedwait(&l1->sweeper_wake, &l1->sweeper_lock, &ts);
        if (l1->stopping) break;
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&l1->sweeper_lock);
            mcp_cache_l1_sweep(l1);
            pthread_mutex_lock(&l1->sweeper_lock);
        }
    }
    pthread_mutex_unlock(&l1->sweeper_lock);
    return NULL;
}

static int start_sweeper(mcp_cache_l1 *l1) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr)) return MCP_ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&l1->sweeper_wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc) return MCP_ENOMEM;
    pthread_mutex_init(&l1->sweeper_lock, NULL);
    if (pthread_create(&l1->sweeper, NULL, sweeper_main, l1)) {
        pthread_cond_destroy(&l1->sweeper_wake);
        pthread_mutex_destroy(&l1->sweeper_lock);
        return MCP_ENOMEM;
    }
    l1->sweeper_running = true;
    return MCP_OK;
}

/* ---- lifecycle -------------------------------------------------------------------- */

int mcp_cache_l1_new(const mcp_cache_l1_opts *opts, mcp_cache_l1 **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_cache_l1_opts o = opts ? *opts : (mcp_cache_l1_opts){0};
    if (!o.shards) o.shards = DEFAULT_SHARDS;
    if (o.shards & (o.shards - 1) || o.shards > 4096) return MCP_EINVAL;
    if (!o.max_entries) o.max_entries = DEFAULT_MAX_ENTRIES;
    if (!o.max_bytes) o.max_bytes = DEFAULT_MAX_BYTES;
    if (!o.wheel_tick_ms) o.wheel_tick_ms = DEFAULT_TICK_MS;
    /* Fewer entries than shards would leave shards with no room at all. */
    while (o.shards > 1 && o.max_entries < o.shards) o.shards /= 2;
    mcp_cache_l1 *l1 = aligned_alloc(64, (sizeof *l1 + 63) / 64 * 64);
    if (!l1) return MCP_ENOMEM;
    memset(l1, 0, sizeof *l1);
    l1->shards = aligned_alloc(64, o.shards * sizeof(l1_shard));
    if (!l1->shards) {
        free(l1);
        return MCP_ENOMEM;
    }
    memset(l1->shards, 0, o.shards * sizeof(l1_shard));
    l1->shard_count = o.shards;
    unsigned bits = 0;
    while ((1u << bits) < o.shards) bits++;
    l1->shard_shift = 64 - bits;
    l1->seed = cache_hash_seed();
    l1->default_ttl_ms = o.default_ttl_ms;
    l1->tick_ms = o.wheel_tick_ms;
    l1->clock = o.clock ? o.clock : cache_clock_default;
    l1->clock_user = o.clock_user;
    l1->sweep_interval_ms = o.sweep_interval_ms;
    uint64_t now = l1_now(l1);
    for (unsigned i = 0; i < o.shards; i++) {
        l1_shard *sh = &l1->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->flight_done, NULL);
        /* Remainders go to the first shards so the totals are exact. */
        sh->max_entries = o.max_entries / o.shards + (i < o.max_entries % o.shards);
        sh->max_bytes = o.max_bytes / o.shards;
        sh->wheel_tick = now / l1->tick_ms;
        sh->tags.seed = sh->deps.seed = l1->seed;
        sh->buckets = calloc(INITIAL_BUCKETS, sizeof *sh->buckets);
        sh->mask = INITIAL_BUCKETS - 1;
        if (!sh->buckets) {
            l1->shard_count = i + 1;
            mcp_cache_l1_free(l1);
            return MCP_ENOMEM;
        }
    }
    if (o.sweep_interval_ms && start_sweeper(l1) != 0) {
        mcp_cache_l1_free(l1);
        return MCP_ENOMEM;
    }
    *out = l1;
    return MCP_OK;
}

void mcp_cache_l1_free(mcp_cache_l1 *l1) {
    if (!l1) return;
    if (l1->sweeper_running) {
        pthread_mutex_lock(&l1->sweeper_lock);
        l1->stopping = true;
        pthread_cond_signal(&l1->sweeper_wake);
        pthread_mutex_unlock(&l1->sweeper_lock);
        pthread_join(l1->sweeper, NULL);
        pthread_cond_destroy(&l1->sweeper_wake);
        pthread_mutex_destroy(&l1->sweeper_lock);
    }
    for (unsigned i = 0; i < l1->shard_count; i++) {
        l1_shard *sh = &l1->shards[i];
        if (sh->buckets) {
            for (size_t b = 0; b <= sh->mask; b++) {
                l1_entry *e = sh->buckets[b];
                while (e) {
                    l1_entry *next = e->chain;
                    free(e);
                    e = next;
                }
            }
        }
        free(sh->buckets);
        l1_index_free(&sh->tags);
        l1_index_free(&sh->deps);
        l1_flights_free(sh);
        pthread_cond_destroy(&sh->flight_done);
        pthread_mutex_destroy(&sh->lock);
    }
    free(l1->shards);
    free(l1);
}

/* ---- get and put -------------------------------------------------------------------- */

/* Looks key up with the shard locked; drops it when expired. The clock is
 * read only for entries that can expire: a hit on one that cannot skips it. */
static l1_entry *lookup_live(mcp_cache_l1 *l1, l1_shard *sh, mcp_str key, uint64_t hash, l1_entry **garbage) {
    l1_entry *e = l1_find(sh, key, hash);
    if (!e) return NULL;
    if (e->expires_ms && l1_expired(e, l1_now(l1))) {
        l1_unlink(sh, e, garbage);
        cache_count(&l1->counters, CACHE_STAT_EXPIRATIONS, 1);
        return NULL;
    }
    if (sh->lru_head != e) {
        lru_remove(sh, e);
        lru_push_front(sh, e);
    }
    return e;
}

int mcp_cache_l1_get(mcp_cache_l1 *l1, mcp_str key, mcp_buf *out) {
    if (!l1 || !out || !key.ptr || !key.len) return MCP_EINVAL;
    uint64_t hash = l1_hash(l1, key);
    l1_shard *sh = l1_shard_of(l1, hash);
    l1_entry *garbage = NULL;
    int rc = MCP_ENOTFOUND;
    pthread_mutex_lock(&sh->lock);
    l1_entry *e = lookup_live(l1, sh, key, hash, &garbage);
    if (e) rc = mcp_buf_append(out, l1_entry_value(e), e->value_len);
    pthread_mutex_unlock(&sh->lock);
    l1_free_garbage(garbage);
    cache_count(&l1->counters, e ? CACHE_STAT_HITS : CACHE_STAT_MISSES, 1);
    return rc;
}

int mcp_cache_l1_get_item(mcp_cache_l1 *l1, mcp_str key, mcp_arena *arena, mcp_cache_item *item) {
    if (!l1 || !arena || !item || !key.ptr || !key.len) return MCP_EINVAL;
    uint64_t hash = l1_hash(l1, key);
    l1_shard *sh = l1_shard_of(l1, hash);
    l1_entry *garbage = NULL;
    int rc = MCP_ENOTFOUND;
    pthread_mutex_lock(&sh->lock);
    l1_entry *e = lookup_live(l1, sh, key, hash, &garbage);
    if (e) {
        size_t bytes = e->key_len + e->value_len + e->meta_len;
        char *copy = mcp_arena_alloc(arena, bytes ? bytes : 1);
        mcp_str *lists = mcp_arena_alloc(arena, (e->tag_count + e->dep_count + 1u) * sizeof *lists);
        if (!copy || !lists) {
            rc = MCP_ENOMEM;
        } else {
            memcpy(copy, l1_entry_key(e), bytes);
            item->key = (mcp_str){copy, e->key_len};
            item->value = (mcp_str){copy + e->key_len, e->value_len};
            item->expires_ms = e->expires_ms;
            item->tags = lists;
            item->tag_count = e->tag_count;
            item->deps = lists + e->tag_count;
            item->dep_count = e->dep_count;
            const char *p = copy + e->key_len + e->value_len;
            cache_meta_decode(&p, item->tags, item->tag_count);
            cache_meta_decode(&p, item->deps, item->dep_count);
            rc = MCP_OK;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    l1_free_garbage(garbage);
    cache_count(&l1->counters, e ? CACHE_STAT_HITS : CACHE_STAT_MISSES, 1);
    return rc;
}

static int put_entry(mcp_cache_l1 *l1, mcp_str key, mcp_str value, uint64_t expires_ms, const mcp_str *tags,
                     size_t tag_count, const mcp_str *deps, size_t dep_count) {
    int rc = cache_check_entry(key, tags, tag_count, deps, dep_count);
    if (rc) return rc;
    if (value.len && !value.ptr) return MCP_EINVAL;
    l1_entry *e = l1_entry_build(l1, key, value, expires_ms, tags, tag_count, deps, dep_count);
    if (!e) return value.len > UINT32_MAX / 2 ? MCP_ELIMIT : MCP_ENOMEM;
    l1_shard *sh = l1_shard_of(l1, e->hash);
    l1_entry *garbage = NULL;
    pthread_mutex_lock(&sh->lock);
    rc = l1_insert(l1, sh, e, &garbage);
    pthread_mutex_unlock(&sh->lock);
    l1_free_garbage(garbage);
    if (rc) {
        free(e);
        return rc;
    }
    cache_count(&l1->counters, CACHE_STAT_PUTS, 1);
    return MCP_OK;
}

int mcp_cache_l1_put(mcp_cache_l1 *l1, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts) {
    if (!l1) return MCP_EINVAL;
    uint64_t expires = l1_expiry_for(l1, l1_now(l1), opts);
    return put_entry(l1, key, value, expires, opts ? opts->tags : NULL, opts ? opts->tag_count : 0,
                     opts ? opts->deps : NULL, opts ? opts->dep_count : 0);
}

int mcp_cache_l1_put_item(mcp_cache_l1 *l1, const mcp_cache_item *item) {
    if (!l1 || !item) return MCP_EINVAL;
    /* Already past its time elsewhere: storing it would only serve stale data. */
    if (item->expires_ms && item->expires_ms <= l1_now(l1)) return MCP_OK;
    return put_entry(l1, item->key, item->value, item->expires_ms, item->tags, item->tag_count, item->deps,
                     item->dep_count);
}

int mcp_cache_l1_remove(mcp_cache_l1 *l1, mcp_str key) {
    if (!l1 || !key.ptr || !key.len) return MCP_EINVAL;
    uint64_t hash = l1_hash(l1, key);
    l1_shard *sh = l1_shard_of(l1, hash);
    l1_entry *garbage = NULL;
    pthread_mutex_lock(&sh->lock);
    l1_entry *e = l1_find(sh, key, hash);
    if (e) l1_unlink(sh, e, &garbage);
    pthread_mutex_unlock(&sh->lock);
    l1_free_garbage(garbage);
    return e ? MCP_OK : MCP_ENOTFOUND;
}

/* ---- sweep and stats ------------------------------------------------------------------ */

size_t mcp_cache_l1_sweep(mcp_cache_l1 *l1) {
    if (!l1) return 0;
    uint64_t now = l1_now(l1);
    uint64_t now_tick = now / l1->tick_ms;
    size_t total = 0;
    for (unsigned i = 0; i < l1->shard_count; i++) {
        l1_shard *sh = &l1->shards[i];
        l1_entry *garbage = NULL;
        size_t n = 0;
        pthread_mutex_lock(&sh->lock);
        if (now_tick >= sh->wheel_tick) {
            uint64_t span = now_tick - sh->wheel_tick + 1;
            if (span > L1_WHEEL_SLOTS) span = L1_WHEEL_SLOTS;
            for (uint64_t t = 0; t < span; t++) {
                size_t s = (size_t)((sh->wheel_tick + t) % L1_WHEEL_SLOTS);
                l1_entry *e = sh->wheel[s];
                while (e) {
                    l1_entry *next = e->wheel_next;
                    if (l1_expired(e, now)) {
                        l1_unlink(sh, e, &garbage);
                        n++;
                    }
                    e = next;
                }
            }
            /* The current tick's slot may still hold entries due later in
             * this tick, so the next sweep starts there again. */
            sh->wheel_tick = now_tick;
        }
        pthread_mutex_unlock(&sh->lock);
        l1_free_garbage(garbage);
        total += n;
    }
    if (total) cache_count(&l1->counters, CACHE_STAT_EXPIRATIONS, total);
    return total;
}

void mcp_cache_l1_stats(mcp_cache_l1 *l1, mcp_cache_stats *out) {
    if (!l1 || !out) return;
    memset(out, 0, sizeof *out);
    cache_counters_sum(&l1->counters, out);
    for (unsigned i = 0; i < l1->shard_count; i++) {
        l1_shard *sh = &l1->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->entries += sh->count;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->lock);
    }
}
