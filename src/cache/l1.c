/*
 * L1: the in-memory tier. The key's hash picks a shard by its top bits and
 * a home slot by its low bits; each shard has its own mutex, open-addressing
 * table, exact LRU list, share of the bounds and timer wheel. A hit moves
 * the entry to the front of its shard's list, so even reads take the lock:
 * a mutex held for a few dozen nanoseconds costs less than the atomics a
 * lock-free LRU would need, and shards keep threads apart.
 *
 * A hit is bounded by cache misses, not instructions: with 100k entries the
 * entries are far outside the CPU's caches. So a lookup reads one table
 * slot (hash beside pointer, linear probing), then the entry itself, and
 * the LRU links it rewrites live in a small dense array (see l1_node)
 * rather than in the neighbouring entries.
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
#define INITIAL_SLOTS 16
#define INITIAL_NODES 16
#define L1_PREFETCH_LINES 5

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

/* Key's slot, or the empty slot where its probe ends.
 * prefetch: the caller will read the value, not only compare the key. */
static inline l1_slot *probe(l1_shard *sh, mcp_str key, uint64_t hash, bool prefetch) {
    uint32_t low = (uint32_t)hash;
    l1_slot *slots = sh->slots;
    size_t mask = sh->slot_mask;
    for (size_t i = low & mask;; i = (i + 1) & mask) {
        l1_slot *s = &slots[i];
        l1_entry *e = s->entry;
        if (!e) return s;
        if (s->hash_low != low) continue;
        /* The entry is most likely not in the CPU's cache: ask for its first
         * lines (header, key, the start of the value) together rather than
         * one after another as the comparison and the copy reach them. */
        if (prefetch)
            for (int line = 0; line < L1_PREFETCH_LINES; line++) __builtin_prefetch((const char *)e + 64 * line);
        if (e->hash == hash && e->key_len == key.len && memcmp(l1_entry_key(e), key.ptr, key.len) == 0) return s;
    }
}

static inline l1_slot *find_slot(l1_shard *sh, mcp_str key, uint64_t hash, bool prefetch) {
    l1_slot *s = probe(sh, key, hash, prefetch);
    return s->entry ? s : NULL;
}

l1_entry *l1_find(l1_shard *sh, mcp_str key, uint64_t hash) {
    l1_slot *s = find_slot(sh, key, hash, false);
    return s ? s->entry : NULL;
}

/* Linear probing deletes by moving later entries of the run back into the
 * hole when the hole lies between their home and where they are, so that
 * no probe ever stops early at an empty slot. */
static void slot_delete(l1_shard *sh, size_t hole) {
    size_t mask = sh->slot_mask;
    for (size_t j = (hole + 1) & mask; sh->slots[j].entry; j = (j + 1) & mask) {
        size_t home = sh->slots[j].hash_low & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            sh->slots[hole] = sh->slots[j];
            hole = j;
        }
    }
    sh->slots[hole].entry = NULL;
}

static void slot_place(l1_slot *slots, size_t mask, l1_slot s) {
    size_t i = s.hash_low & mask;
    while (slots[i].entry) i = (i + 1) & mask;
    slots[i] = s;
}

/* Tables of a page or more come from the slab's huge-page regions: they
 * are read at random like the entries. Smaller ones stay in the CPU's
 * caches anyway. The size decides, so freeing needs only the size. */
static void *table_alloc(mcp_cache_l1 *l1, size_t bytes) {
    return bytes >= L1_SLAB_PAGE_BYTES ? l1_slab_alloc_run(&l1->slab, bytes) : malloc(bytes);
}

static void table_free(mcp_cache_l1 *l1, void *p, size_t bytes) {
    if (bytes >= L1_SLAB_PAGE_BYTES) l1_slab_free_run(&l1->slab, p, bytes);
    else free(p);
}

/* The table stays at most 3/4 full, so probes are short and always end.
 * 1 if the table was rebuilt (slot positions changed). */
static int reserve_slot(mcp_cache_l1 *l1, l1_shard *sh) {
    size_t n = sh->slot_mask + 1;
    if ((sh->count + 1) * 4 <= n * 3) return MCP_OK;
    /* hash_low must still name a home slot. */
    l1_slot *slots = n < ((size_t)1 << 31) ? table_alloc(l1, n * 2 * sizeof *slots) : NULL;
    if (!slots) return sh->count + 1 < n ? MCP_OK : MCP_ENOMEM;
    memset(slots, 0, n * 2 * sizeof *slots);
    for (size_t i = 0; i < n; i++)
        if (sh->slots[i].entry) slot_place(slots, n * 2 - 1, sh->slots[i]);
    table_free(l1, sh->slots, n * sizeof *slots);
    sh->slots = slots;
    sh->slot_mask = n * 2 - 1;
    return 1;
}

static uint32_t node_alloc(mcp_cache_l1 *l1, l1_shard *sh) {
    if (sh->free_node) {
        uint32_t id = sh->free_node;
        sh->free_node = sh->nodes[id].next;
        return id;
    }
    if (sh->node_used == sh->node_cap) {
        if (sh->node_cap >= UINT32_MAX / 2) return 0;
        size_t bytes = (size_t)sh->node_cap * sizeof(l1_node);
        l1_node *nodes = table_alloc(l1, bytes * 2);
        if (!nodes) return 0;
        memcpy(nodes, sh->nodes, bytes);
        table_free(l1, sh->nodes, bytes);
        sh->nodes = nodes;
        sh->node_cap *= 2;
    }
    return sh->node_used++;
}

static void node_free(l1_shard *sh, uint32_t id) {
    sh->nodes[id].entry = NULL;
    sh->nodes[id].next = sh->free_node;
    sh->free_node = id;
}

static void lru_remove(l1_node *nodes, uint32_t id) {
    l1_node *n = &nodes[id];
    nodes[n->prev].next = n->next;
    nodes[n->next].prev = n->prev;
}

static void lru_push_front(l1_node *nodes, uint32_t id) {
    l1_node *n = &nodes[id];
    n->prev = 0;
    n->next = nodes[0].next;
    nodes[n->next].prev = id;
    nodes[0].next = id;
}

void l1_unlink(l1_shard *sh, l1_entry *e, l1_entry **garbage) {
    size_t i = (uint32_t)e->hash & sh->slot_mask;
    while (sh->slots[i].entry != e) i = (i + 1) & sh->slot_mask;
    slot_delete(sh, i);
    lru_remove(sh->nodes, e->node);
    node_free(sh, e->node);
    wheel_remove(e);
    l1_index_unlink(sh, e);
    sh->count--;
    sh->bytes -= l1_entry_size(e);
    e->wheel_next = *garbage;
    *garbage = e;
}

void l1_free_garbage(mcp_cache_l1 *l1, l1_entry *garbage) {
    while (garbage) {
        l1_entry *next = garbage->wheel_next;
        l1_slab_free(garbage, l1_entry_alloc_size(garbage));
        garbage = next;
    }
}

int l1_insert(mcp_cache_l1 *l1, l1_shard *sh, l1_entry *e, l1_entry **garbage) {
    size_t size = l1_entry_size(e);
    if (size > sh->max_bytes) return MCP_ELIMIT;
    mcp_str key = {l1_entry_key(e), e->key_len};
    /* The probe that finds no old entry also finds the new one's slot,
     * unless a removal or a rebuild moves slots in between. */
    l1_slot *at = probe(sh, key, e->hash, false);
    if (at->entry) {
        l1_unlink(sh, at->entry, garbage);
        at = NULL;
    }
    int grown = reserve_slot(l1, sh);
    if (grown < 0) return MCP_ENOMEM;
    if (grown) at = NULL;
    uint32_t id = node_alloc(l1, sh);
    if (!id) return MCP_ENOMEM;
    int rc = l1_index_link(sh, e);
    if (rc) {
        node_free(sh, id);
        return rc;
    }
    e->node = id;
    sh->nodes[id].entry = e;
    lru_push_front(sh->nodes, id);
    l1_slot slot = {.entry = e, .hash_low = (uint32_t)e->hash, .node = id};
    if (at) *at = slot;
    else slot_place(sh->slots, sh->slot_mask, slot);
    wheel_add(l1, sh, e);
    sh->count++;
    sh->bytes += size;
    size_t evicted = 0;
    while (sh->count > sh->max_entries || sh->bytes > sh->max_bytes) {
        uint32_t tail = sh->nodes[0].prev;
        if (tail == id) break;
        l1_unlink(sh, sh->nodes[tail].entry, garbage);
        evicted++;
    }
    if (evicted) cache_count(&l1->counters, CACHE_STAT_EVICTIONS, evicted);
    return MCP_OK;
}

/* Looks key up; drops it when expired. The clock is read only for entries
 * that can expire: a hit on one that cannot skips it. */
static inline l1_entry *lookup_live(mcp_cache_l1 *l1, l1_shard *sh, mcp_str key, uint64_t hash,
                                    l1_entry **garbage) {
    l1_slot *s = find_slot(sh, key, hash, true);
    if (!s) return NULL;
    l1_entry *e = s->entry;
    if (e->expires_ms && l1_expired(e, l1_now(l1))) {
        l1_unlink(sh, e, garbage);
        cache_count(&l1->counters, CACHE_STAT_EXPIRATIONS, 1);
        return NULL;
    }
    if (sh->nodes[0].next != s->node) {
        lru_remove(sh->nodes, s->node);
        lru_push_front(sh->nodes, s->node);
    }
    return e;
}

l1_entry *l1_lookup_live(mcp_cache_l1 *l1, l1_shard *sh, mcp_str key, uint64_t hash, l1_entry **garbage) {
    return lookup_live(l1, sh, key, hash, garbage);
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
    uint64_t hash = l1_hash(l1, key);
    l1_entry *e = l1_slab_alloc(&l1_shard_of(l1, hash)->slab, size);
    if (!e) return NULL;
    e->hash = hash;
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
    l1_slab_init(&l1->slab);
    l1->shards = aligned_alloc(64, o.shards * sizeof(l1_shard));
    if (!l1->shards) {
        l1_slab_destroy(&l1->slab);
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
        l1_slab_classes_init(&sh->slab, &l1->slab);
        /* Remainders go to the first shards so the totals are exact. */
        sh->max_entries = o.max_entries / o.shards + (i < o.max_entries % o.shards);
        sh->max_bytes = o.max_bytes / o.shards;
        sh->wheel_tick = now / l1->tick_ms;
        sh->tags.seed = sh->deps.seed = l1->seed;
        sh->slots = calloc(INITIAL_SLOTS, sizeof *sh->slots);
        sh->slot_mask = INITIAL_SLOTS - 1;
        sh->nodes = calloc(INITIAL_NODES, sizeof *sh->nodes);
        sh->node_cap = INITIAL_NODES;
        sh->node_used = 1; /* the sentinel, linked to itself */
        if (!sh->slots || !sh->nodes) {
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
        if (sh->slots)
            for (size_t s = 0; s <= sh->slot_mask; s++) {
                l1_entry *e = sh->slots[s].entry;
                if (e) l1_slab_free(e, l1_entry_alloc_size(e));
            }
        if (sh->slots) table_free(l1, sh->slots, (sh->slot_mask + 1) * sizeof *sh->slots);
        if (sh->nodes) table_free(l1, sh->nodes, (size_t)sh->node_cap * sizeof *sh->nodes);
        l1_index_free(&sh->tags);
        l1_index_free(&sh->deps);
        l1_flights_free(sh);
        pthread_cond_destroy(&sh->flight_done);
        pthread_mutex_destroy(&sh->lock);
    }
    free(l1->shards);
    l1_slab_destroy(&l1->slab);
    free(l1);
}

/* ---- get and put -------------------------------------------------------------------- */

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
    l1_free_garbage(l1, garbage);
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
    l1_free_garbage(l1, garbage);
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
    l1_free_garbage(l1, garbage);
    if (rc) {
        l1_slab_free(e, l1_entry_alloc_size(e));
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
    l1_free_garbage(l1, garbage);
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
        l1_free_garbage(l1, garbage);
        total += n;
    }
    if (total) cache_count(&l1->counters, CACHE_STAT_EXPIRATIONS, total);
    return total;
}

void mcp_cache_l1_stats(mcp_cache_l1 *l1, mcp_cache_stats *out) {
    if (!l1 || !out) return;
    memset(out, 0, sizeof *out);
    cache_counters_sum(&l1->counters, out);
    out->mapped_bytes = atomic_load_explicit(&l1->slab.mapped, memory_order_relaxed);
    for (unsigned i = 0; i < l1->shard_count; i++) {
        l1_shard *sh = &l1->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->entries += sh->count;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->lock);
    }
}
