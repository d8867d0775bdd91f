/*
 * L1 internals shared by its files: l1.c (table, LRU, timer wheel, get and
 * put), l1_index.c (tag and dependency indexes, invalidation) and
 * l1_flight.c (single-flight compute).
 *
 * An entry is one allocation (from l1_slab.c): the header, then one index reference per tag
 * and per dependency, then the key, value and encoded metadata bytes. The
 * header, with the entry's table slot and LRU node, is what the cache costs
 * beyond the caller's bytes, so its fields are packed and counted (see the
 * bench's memory-per-entry workload).
 */
#ifndef MCP_CACHE_L1_INTERNAL_H
#define MCP_CACHE_L1_INTERNAL_H

#include "cache/cache_internal.h"

#include <pthread.h>

#define L1_WHEEL_SLOTS 512

typedef struct l1_entry l1_entry;
typedef struct l1_index_head l1_index_head;

/* Membership of an entry in one tag's or one dependency's list. */
typedef struct l1_ref {
    struct l1_ref *prev, *next;
    l1_entry *owner;
    l1_index_head *head;
} l1_ref;

struct l1_entry {
    l1_entry **wheel_pprev;
    l1_entry *wheel_next;            /* after unlinking: next entry to free */
    uint64_t hash;
    uint64_t expires_ms;             /* 0: never */
    uint32_t node;                   /* its LRU node in the shard */
    uint32_t key_len, value_len, meta_len;
    uint16_t tag_count, dep_count;
    /* l1_ref refs[tag_count + dep_count]; then key, value, meta bytes */
};

/* A slot of a shard's open-addressing table. The low half of the hash sits
 * beside the pointer, so a probe passes over other keys, and a deletion
 * finds where a displaced entry belongs, without touching the entries:
 * they are scattered over the heap and each one read is a cache miss. */
typedef struct l1_slot {
    l1_entry *entry;                 /* NULL: empty */
    uint32_t hash_low;
    uint32_t node;
} l1_slot;

/* LRU links live in a dense array per shard, by node number, instead of in
 * the entries: moving a hit to the front then writes three small records
 * that stay in the CPU's cache rather than two neighbouring entries that
 * are not there. Node 0 is the list's sentinel (next: most recent, prev:
 * least recent); free nodes are chained through next. */
typedef struct l1_node {
    l1_entry *entry;
    uint32_t prev, next;             /* prev toward more recent */
} l1_node;

/* What the table keeps per entry outside it: a node and, as the table is
 * between 3/8 and 3/4 full, about two slots. Charged against max_bytes. */
#define L1_TABLE_BYTES_PER_ENTRY (sizeof(l1_node) + 2 * sizeof(l1_slot))

static inline l1_ref *l1_entry_refs(l1_entry *e) {
    return (l1_ref *)(e + 1);
}
static inline char *l1_entry_key(l1_entry *e) {
    return (char *)(l1_entry_refs(e) + e->tag_count + e->dep_count);
}
static inline char *l1_entry_value(l1_entry *e) {
    return l1_entry_key(e) + e->key_len;
}
static inline char *l1_entry_meta(l1_entry *e) {
    return l1_entry_value(e) + e->value_len;
}
/* The entry's own allocation. */
static inline size_t l1_entry_alloc_size(const l1_entry *e) {
    return sizeof *e + (size_t)(e->tag_count + e->dep_count) * sizeof(l1_ref) + e->key_len + e->value_len +
           e->meta_len;
}
/* What the entry is charged against max_bytes. */
static inline size_t l1_entry_size(const l1_entry *e) {
    return l1_entry_alloc_size(e) + L1_TABLE_BYTES_PER_ENTRY;
}

/* A tag, or a key that entries depend on, and the list of its entries. */
struct l1_index_head {
    l1_index_head *chain;
    uint64_t hash;
    l1_ref *first;
    uint32_t len;
    char name[];
};

typedef struct l1_index {
    l1_index_head **buckets;
    size_t mask;
    size_t count;
    uint64_t seed;
} l1_index;

typedef struct l1_flight l1_flight;

/* Entry memory (l1_slab.c): size classes of L1_SLAB_GRAIN bytes up to
 * L1_SLAB_MAX on pages of huge-page regions; larger sizes come from
 * malloc. The regions and free pages (l1_slab) are shared; each shard
 * allocates from its own class lists (l1_slab_classes). Free takes the
 * size the allocation asked for. */
#define L1_SLAB_GRAIN 32
#define L1_SLAB_MAX 2048
#define L1_SLAB_CLASSES (L1_SLAB_MAX / L1_SLAB_GRAIN)
#define L1_SLAB_PAGE_BYTES (64u << 10)

typedef struct l1_slab_page l1_slab_page;
typedef struct l1_slab {
    atomic_bool locked;
    l1_slab_page *free_pages;
    struct l1_slab_region *regions;
    size_t empty_regions;                    /* regions whose pages are all free */
    atomic_size_t mapped;
} l1_slab;

typedef struct l1_slab_classes {
    atomic_bool locked;
    l1_slab *slab;
    l1_slab_page *partial[L1_SLAB_CLASSES];  /* pages of each class with room */
} l1_slab_classes;

void l1_slab_init(l1_slab *s);
/* Unmaps every region: whatever was allocated from it is gone. */
void l1_slab_destroy(l1_slab *s);
void l1_slab_classes_init(l1_slab_classes *c, l1_slab *slab);
void *l1_slab_alloc(l1_slab_classes *c, size_t size);
void l1_slab_free(void *obj, size_t size);
/* Whole pages for a table of at least L1_SLAB_PAGE_BYTES; not zeroed. */
void *l1_slab_alloc_run(l1_slab *s, size_t bytes);
void l1_slab_free_run(l1_slab *s, void *ptr, size_t bytes);

typedef struct l1_shard {
    alignas(64) pthread_mutex_t lock;
    l1_slot *slots;
    l1_node *nodes;                  /* nodes[0]: the LRU sentinel */
    size_t slot_mask;
    pthread_cond_t flight_done;      /* broadcast when any flight of the shard lands */
    uint32_t node_cap, node_used, free_node;
    size_t count, bytes;
    size_t max_entries, max_bytes;
    l1_entry *wheel[L1_WHEEL_SLOTS];
    uint64_t wheel_tick;             /* first tick the next sweep looks at */
    l1_index tags, deps;
    atomic_size_t dep_refs;          /* read without the lock to skip shards nobody depends on */
    l1_flight *flights;
    l1_slab_classes slab;            /* where its entries come from */
} l1_shard;

struct mcp_cache_l1 {
    l1_shard *shards;
    unsigned shard_count;
    unsigned shard_shift;
    uint64_t seed;                   /* cache_hash_seed() */
    uint64_t default_ttl_ms;
    uint64_t tick_ms;
    mcp_cache_clock_fn clock;
    void *clock_user;
    cache_counters counters;
    l1_slab slab;
    pthread_t sweeper;
    bool sweeper_running;
    uint64_t sweep_interval_ms;
    pthread_mutex_t sweeper_lock;
    pthread_cond_t sweeper_wake;
    bool stopping;
};

static inline uint64_t l1_now(mcp_cache_l1 *l1) {
    return l1->clock(l1->clock_user);
}
static inline uint64_t l1_hash(const mcp_cache_l1 *l1, mcp_str key) {
    return mcp_hash64(key.ptr, key.len, l1->seed);
}
static inline l1_shard *l1_shard_of(mcp_cache_l1 *l1, uint64_t hash) {
    return &l1->shards[l1->shard_count == 1 ? 0 : hash >> l1->shard_shift];
}
static inline bool l1_expired(const l1_entry *e, uint64_t now) {
    return e->expires_ms && e->expires_ms <= now;
}

/* Table primitives; the shard lock is held. Unlinked entries are put on
 * *garbage (through wheel_next) and freed after unlocking. */
l1_entry *l1_find(l1_shard *sh, mcp_str key, uint64_t hash);
/* As l1_find for a read: drops the entry if expired (NULL then), else
 * makes it the shard's most recently used. */
l1_entry *l1_lookup_live(mcp_cache_l1 *l1, l1_shard *sh, mcp_str key, uint64_t hash, l1_entry **garbage);
void l1_unlink(l1_shard *sh, l1_entry *e, l1_entry **garbage);
void l1_free_garbage(mcp_cache_l1 *l1, l1_entry *garbage);
/* Stores a prepared entry, replacing one with the same key and evicting
 * least recently used ones beyond the bounds. */
int l1_insert(mcp_cache_l1 *l1, l1_shard *sh, l1_entry *e, l1_entry **garbage);
l1_entry *l1_entry_build(mcp_cache_l1 *l1, mcp_str key, mcp_str value, uint64_t expires_ms, const mcp_str *tags,
                         size_t tag_count, const mcp_str *deps, size_t dep_count);
uint64_t l1_expiry_for(mcp_cache_l1 *l1, uint64_t now, const mcp_cache_entry_opts *opts);

/* Indexes (l1_index.c); the shard lock is held. */
int l1_index_link(l1_shard *sh, l1_entry *e);
void l1_index_unlink(l1_shard *sh, l1_entry *e);
void l1_index_free(l1_index *ix);

/* Single-flight (l1_flight.c). */
void l1_flights_free(l1_shard *sh);

#endif
