/*
 * mcp/cache.h — the response cache: an in-memory tier (L1), an on-disk
 * LMDB tier (L2), a slot for a remote tier (L3) with its Redis
 * implementation, the tiered facade that walks them, and cross-node
 * coherence of invalidations through Redis pub/sub.
 *
 * An entry is a key, a value (bytes), an expiry, tags and dependencies.
 * Tags name groups ("user:42", "tools") that are dropped together;
 * a dependency says "this entry was derived from key K": invalidating K also
 * invalidates the entry, and whatever depends on the entry, transitively
 * (cycles are fine). Eviction (LRU, size bounds) and expiry do not cascade:
 * they remove data, they do not say that its sources changed.
 *
 * Times are milliseconds of a clock the cache is given (default: the wall
 * clock, so that expiries stored on disk stay meaningful after a restart);
 * tests inject their own.
 *
 * Typical use, one cache per process shared by the worker threads:
 *
 *     mcp_cache *c;
 *     mcp_cache_new(&(mcp_cache_opts){ .l1 = { .max_entries = 100000 },
 *                                      .l2_enabled = true }, &c);
 *     mcp_buf key; mcp_buf_init(&key);
 *     mcp_cache_key_for_call("search", args, &key);
 *     rc = mcp_cache_get_or_compute(c, (mcp_str){key.data, key.len}, run_tool, call, &out);
 *
 * where run_tool appends the result to fill->value and may set a TTL, tags
 * and dependencies in fill->opts. Concurrent misses on one key run it once.
 * Every function returns 0 or a negative MCP_E* code; a miss is
 * MCP_ENOTFOUND.
 *
 * Known limit: a compute that read its sources before an invalidation and
 * stores its value after it leaves that value cached (there is no
 * generation check between invalidation and a compute in flight yet).
 */
#ifndef MCP_CACHE_H
#define MCP_CACHE_H

#include "mcp/base.h"
#include "mcp/json.h"
#include "mcp/mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest key every tier accepts (LMDB's key limit, less a margin). */
#define MCP_CACHE_KEY_MAX 480
/* ttl_ms value meaning "never expires" (0 means "the cache's default"). */
#define MCP_CACHE_TTL_NONE UINT64_MAX

typedef uint64_t (*mcp_cache_clock_fn)(void *user); /* milliseconds */

typedef enum mcp_cache_write_policy {
    MCP_CACHE_WRITE_DEFAULT = 0, /* the facade's policy */
    MCP_CACHE_WRITE_THROUGH,     /* put stores in every tier before returning */
    MCP_CACHE_WRITE_BACK,        /* put stores in L1; lower tiers on flush */
    MCP_CACHE_WRITE_L1_ONLY      /* never leaves this process */
} mcp_cache_write_policy;

/* What to store with a value. Strings are copied by put. */
typedef struct mcp_cache_entry_opts {
    uint64_t ttl_ms;          /* 0: the cache's default; MCP_CACHE_TTL_NONE: never */
    const mcp_str *tags;
    size_t tag_count;
    const mcp_str *deps;      /* keys this entry was derived from */
    size_t dep_count;
    mcp_cache_write_policy policy; /* facade only */
} mcp_cache_entry_opts;

/* An entry as a tier hands it out: every slice points into memory the
 * reader supplied (an arena) and stays valid as long as it does. */
typedef struct mcp_cache_item {
    mcp_str key;
    mcp_str value;
    uint64_t expires_ms;      /* absolute; 0 = never */
    mcp_str *tags;
    size_t tag_count;
    mcp_str *deps;
    size_t dep_count;
} mcp_cache_item;

/* Given to a compute callback: append the value to *value and, if wanted,
 * set opts (strings may be allocated from arena, which lives until the
 * value is stored). Return 0 to store it, or an error, which is handed to
 * every caller waiting for this key and nothing is stored. */
typedef struct mcp_cache_fill {
    mcp_buf *value;
    mcp_cache_entry_opts opts;
    mcp_arena *arena;
} mcp_cache_fill;
typedef int (*mcp_cache_compute_fn)(mcp_str key, mcp_cache_fill *fill, void *user);

/* Counters, summed over threads when read. */
typedef struct mcp_cache_stats {
    uint64_t hits, misses;
    uint64_t puts;
    uint64_t evictions;        /* removed to respect max_entries / max_bytes / map size */
    uint64_t expirations;      /* removed because their TTL passed (lazily or by the sweep) */
    uint64_t invalidations;    /* removed by tag or dependency */
    uint64_t computes;         /* compute callbacks run */
    uint64_t coalesced;        /* callers that waited for another's compute */
    uint64_t entries, bytes;   /* current; bytes as charged against max_bytes */
    uint64_t mapped_bytes;     /* L1: memory it maps itself (entries, large tables), beside malloc */
} mcp_cache_stats;

/* ---- L1: sharded in-memory table -------------------------------------------
 * Each shard is a hash table with an exact LRU list and its share of the
 * bounds (max / shards), so the whole is an approximate LRU; the bench
 * measures how close. Expired entries are dropped when touched and by
 * mcp_cache_l1_sweep, which a background thread runs every
 * sweep_interval_ms when that is non-zero. Safe to use from any thread. */
typedef struct mcp_cache_l1 mcp_cache_l1;

typedef struct mcp_cache_l1_opts {
    size_t max_entries;        /* 0: 65536 */
    size_t max_bytes;          /* keys, values, tags, deps and bookkeeping; 0: 256 MiB */
    unsigned shards;           /* power of two; 0: 16 */
    uint64_t default_ttl_ms;   /* 0: entries never expire unless given a TTL */
    uint64_t sweep_interval_ms;/* background sweep period; 0: no thread */
    uint64_t wheel_tick_ms;    /* timer wheel slot width; 0: 1000 */
    mcp_cache_clock_fn clock;  /* NULL: mcp_wall_ms */
    void *clock_user;
} mcp_cache_l1_opts;

int mcp_cache_l1_new(const mcp_cache_l1_opts *opts, mcp_cache_l1 **out);
void mcp_cache_l1_free(mcp_cache_l1 *l1);
/* Appends the value to out. MCP_ENOTFOUND on a miss or an expired entry. */
int mcp_cache_l1_get(mcp_cache_l1 *l1, mcp_str key, mcp_buf *out);
/* As get, also filling item (key, value, expiry, tags, deps) from arena. */
int mcp_cache_l1_get_item(mcp_cache_l1 *l1, mcp_str key, mcp_arena *arena, mcp_cache_item *item);
int mcp_cache_l1_put(mcp_cache_l1 *l1, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts);
/* Stores an item read from another tier, keeping its absolute expiry. */
int mcp_cache_l1_put_item(mcp_cache_l1 *l1, const mcp_cache_item *item);
/* Hit: append to out. Miss: run compute once however many threads ask,
 * store its value, hand it to all of them. */
int mcp_cache_l1_get_or_compute(mcp_cache_l1 *l1, mcp_str key, mcp_cache_compute_fn compute,
                                void *user, mcp_buf *out);
/* Remove one entry, no cascade. MCP_ENOTFOUND if absent. */
int mcp_cache_l1_remove(mcp_cache_l1 *l1, mcp_str key);
/* Invalidate every entry tagged tag, or key itself, and everything that
 * depends on them, transitively. *removed (may be NULL) counts entries. */
int mcp_cache_l1_invalidate_tag(mcp_cache_l1 *l1, mcp_str tag, size_t *removed);
int mcp_cache_l1_invalidate_key(mcp_cache_l1 *l1, mcp_str key, size_t *removed);
/* Drop entries whose TTL passed, as the background sweep does; returns how many. */
size_t mcp_cache_l1_sweep(mcp_cache_l1 *l1);
void mcp_cache_l1_stats(mcp_cache_l1 *l1, mcp_cache_stats *out);

/* ---- L2: LMDB on disk -------------------------------------------------------
 * Values survive restarts. Expiry is stored with each value; tags and
 * dependencies are indexed (dupsort DBs), so invalidation reaches entries
 * that exist only here. When the map is full, expired entries go first,
 * then the oldest written. One L2 per directory per process. */
typedef struct mcp_cache_l2 mcp_cache_l2;

typedef struct mcp_cache_l2_opts {
    const char *path;          /* directory; NULL: $XDG_DATA_HOME/mcpd/cache or ~/.local/share/mcpd/cache */
    size_t map_size;           /* bytes; 0: 256 MiB */
    size_t max_entries;        /* 0: bounded by map_size only */
    bool durable;              /* fsync each write (off: a crash may lose recent writes, never integrity) */
    mcp_cache_clock_fn clock;  /* NULL: mcp_wall_ms */
    void *clock_user;
} mcp_cache_l2_opts;

/* Resolve the default directory into out (NUL-terminated). */
int mcp_cache_l2_default_path(mcp_buf *out);
int mcp_cache_l2_open(const mcp_cache_l2_opts *opts, mcp_cache_l2 **out);
void mcp_cache_l2_close(mcp_cache_l2 *l2);
int mcp_cache_l2_get(mcp_cache_l2 *l2, mcp_str key, mcp_buf *out);
int mcp_cache_l2_get_item(mcp_cache_l2 *l2, mcp_str key, mcp_arena *arena, mcp_cache_item *item);
int mcp_cache_l2_put(mcp_cache_l2 *l2, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts);
int mcp_cache_l2_put_item(mcp_cache_l2 *l2, const mcp_cache_item *item);
/* Several items in one transaction (the write-back flush). */
int mcp_cache_l2_put_items(mcp_cache_l2 *l2, const mcp_cache_item *items, size_t count);
int mcp_cache_l2_invalidate_tag(mcp_cache_l2 *l2, mcp_str tag, size_t *removed);
int mcp_cache_l2_invalidate_key(mcp_cache_l2 *l2, mcp_str key, size_t *removed);
size_t mcp_cache_l2_sweep(mcp_cache_l2 *l2);
void mcp_cache_l2_stats(mcp_cache_l2 *l2, mcp_cache_stats *out);

/* ---- L3 slot: a remote tier ---------------------------------------------------
 * A tier the facade reaches after L2, such as Redis. Each operation either
 * completes before returning (returns 0, MCP_ENOTFOUND or an error, and
 * does not call done) or returns MCP_PENDING and later calls done exactly
 * once, from any thread. For get, the item handed to done is valid only
 * during the call. */
typedef struct mcp_cache_tier mcp_cache_tier;
typedef void (*mcp_cache_done_fn)(void *done_user, int rc, const mcp_cache_item *item);

struct mcp_cache_tier {
    const char *name;
    int (*get)(mcp_cache_tier *tier, mcp_str key, mcp_arena *arena, mcp_cache_item *item,
               mcp_cache_done_fn done, void *done_user);
    int (*put)(mcp_cache_tier *tier, const mcp_cache_item *item, mcp_cache_done_fn done, void *done_user);
    int (*invalidate_tag)(mcp_cache_tier *tier, mcp_str tag, mcp_cache_done_fn done, void *done_user);
    int (*invalidate_key)(mcp_cache_tier *tier, mcp_str key, mcp_cache_done_fn done, void *done_user);
    /* Optional; when set the facade uses it instead of the two above.
     * Invalidates tag (when its len is non-zero) and keys, following the
     * dependencies the tier holds itself, and hands done every key it
     * reached (valid only during the call), so that the facade can drop
     * them from the tiers above and tell other nodes. Same completion rule
     * as the others; returning at once means no key beyond those given. */
    int (*invalidate_set)(mcp_cache_tier *tier, mcp_str tag, const mcp_str *keys, size_t key_count,
                          void (*done)(void *done_user, int rc, const mcp_str *reached, size_t reached_count),
                          void *done_user);
};

/* ---- The tiered facade -------------------------------------------------------
 * get walks L1, L2, L3 and (get_or_compute) the compute callback, copying a
 * value found below into the tiers above it with its expiry, tags and
 * dependencies. Invalidation reaches every tier and follows dependencies
 * across tiers. */
typedef struct mcp_cache mcp_cache;

typedef struct mcp_cache_opts {
    mcp_cache_l1_opts l1;
    bool l2_enabled;
    mcp_cache_l2_opts l2;
    mcp_cache_tier *l3;               /* optional, not owned */
    mcp_cache_write_policy policy;    /* DEFAULT means WRITE_THROUGH */
    size_t write_back_batch;          /* flush when this many writes wait; 0: 256 */
} mcp_cache_opts;

int mcp_cache_new(const mcp_cache_opts *opts, mcp_cache **out);
void mcp_cache_free(mcp_cache *c); /* flushes pending write-back first */
int mcp_cache_get(mcp_cache *c, mcp_str key, mcp_buf *out);
int mcp_cache_put(mcp_cache *c, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts);
int mcp_cache_get_or_compute(mcp_cache *c, mcp_str key, mcp_cache_compute_fn compute, void *user,
                             mcp_buf *out);
int mcp_cache_invalidate_tag(mcp_cache *c, mcp_str tag, size_t *removed);
int mcp_cache_invalidate_key(mcp_cache *c, mcp_str key, size_t *removed);
/* Write pending write-back entries to the lower tiers now. */
int mcp_cache_flush(mcp_cache *c);
size_t mcp_cache_pending_writes(mcp_cache *c);
mcp_cache_l1 *mcp_cache_get_l1(mcp_cache *c);
mcp_cache_l2 *mcp_cache_get_l2(mcp_cache *c); /* NULL when disabled */

/* L3 is a shared tier: when it fails or is slower than its timeout, get
 * falls back to a miss below L2 and put stores in L1 and L2 only; the tier
 * counts the failures. Invalidation still clears L1 and L2 and then returns
 * the L3 error, since other nodes may keep the stale copy.
 *
 * Cross-node coherence hooks (mcp_cache_coherence uses them):
 * the listener is told, after every invalidation made through this facade,
 * the tag (len 0 if none) and every key removed or reached in any tier;
 * invalidate_local applies another node's invalidation to L1 and L2 only
 * (it flushes write-back first), without calling L3 or the listener. Set
 * the listener before other threads use the cache. */
typedef void (*mcp_cache_invalidated_fn)(void *user, mcp_str tag, const mcp_str *keys, size_t key_count);
void mcp_cache_set_invalidation_listener(mcp_cache *c, mcp_cache_invalidated_fn fn, void *user);
int mcp_cache_invalidate_local(mcp_cache *c, mcp_str tag, const mcp_str *keys, size_t key_count,
                               size_t *removed);

/* ---- L3: Redis --------------------------------------------------------------
 * The remote tier, shared by every node, through hiredis' asynchronous
 * client on a libuv loop. An entry is one Redis string (expiry, tags, deps
 * and value) written with PX; tag and dependency sets (SADD, expiry only
 * ever extended) let invalidation reach entries that exist only in Redis:
 * a server-side script walks them transitively in one round trip.
 * Writes go out as one MULTI/EXEC, pipelined with whatever else is queued.
 *
 * Operations may be started from any thread; they complete on the loop
 * thread. The tier either runs its own loop thread (opts.loop NULL) or
 * attaches to a caller's loop (one per network worker): then create and
 * free it on that loop's thread, and never block that thread waiting for
 * one of its operations (the synchronous facade must run elsewhere).
 *
 * Each operation ends within timeout_ms: on timeout, on a lost connection
 * and at once while disconnected it fails (counted). The connection comes
 * back by itself, retrying with doubling delays; several timeouts in a row
 * drop a connection that stopped answering. */
typedef struct mcp_cache_l3 mcp_cache_l3;
struct uv_loop_s;

typedef struct mcp_cache_l3_opts {
    const char *host;              /* NULL: "127.0.0.1" */
    int port;                      /* 0: 6379 */
    const char *prefix;            /* before every Redis key; NULL: "mcpd:cache:" */
    uint64_t timeout_ms;           /* per operation; 0: 100 */
    uint64_t connect_timeout_ms;   /* 0: 500 */
    uint64_t backoff_min_ms;       /* first reconnect delay; 0: 25 */
    uint64_t backoff_max_ms;       /* 0: 2000 */
    unsigned timeouts_to_drop;     /* consecutive timeouts that drop the connection; 0: 3 */
    size_t max_queued;             /* operations started but not finished; 0: 65536 */
    struct uv_loop_s *loop;        /* NULL: run an own loop thread */
    mcp_cache_clock_fn clock;      /* turns absolute expiries into PX; NULL: mcp_wall_ms */
    void *clock_user;
} mcp_cache_l3_opts;

typedef struct mcp_cache_l3_counts {
    uint64_t gets, hits, misses, puts, invalidations;
    uint64_t failures;             /* operations that ended in an error, all causes */
    uint64_t timeouts;             /* of which: no answer within timeout_ms */
    uint64_t unavailable;          /* of which: refused at once, not connected */
    uint64_t malformed;            /* of which: a stored value we could not decode */
    uint64_t connects, disconnects;
    bool connected;
} mcp_cache_l3_counts;

/* Starts connecting at once; a server that is not up yet is fine. */
int mcp_cache_l3_new(const mcp_cache_l3_opts *opts, mcp_cache_l3 **out);
/* Fails what is still in flight (MCP_ECANCELED) and closes. */
void mcp_cache_l3_free(mcp_cache_l3 *l3);
/* The tier to put in mcp_cache_opts.l3; lives as long as l3. */
mcp_cache_tier *mcp_cache_l3_tier(mcp_cache_l3 *l3);
void mcp_cache_l3_stats(mcp_cache_l3 *l3, mcp_cache_l3_counts *out);
/* Waits up to timeout_ms for a live connection: 0 or MCP_ETIMEDOUT. */
int mcp_cache_l3_wait_connected(mcp_cache_l3 *l3, uint64_t timeout_ms);

/* ---- Cross-node coherence -------------------------------------------------------
 * Every invalidation made through cache is published on a Redis channel
 * (the L3 connection) as this node's id and the tag and keys removed;
 * every other node, subscribed on its own connection, drops them from its
 * L1 and L2 (from a helper thread, so the loop never waits on the cache).
 * A node ignores its own messages. Delivery is at most once: a message sent
 * while a node is disconnected is lost to it (its L1 may keep a stale
 * copy until the entry's TTL); stats count what was sent and applied.
 * Known limit: a node that read an entry from Redis just before another
 * node invalidated it, and stores it in L1 just after the message was
 * applied, keeps that copy (no generation check yet, as for computes).
 * Free the coherence before its cache and its L3. */
typedef struct mcp_cache_coherence mcp_cache_coherence;

typedef struct mcp_cache_coherence_opts {
    mcp_cache *cache;              /* required */
    mcp_cache_l3 *l3;              /* required: its loop, its connection publishes */
    const char *channel;           /* NULL: "mcpd:cache:invalidate" */
    const char *node_id;           /* up to 64 bytes, no spaces; NULL: random */
} mcp_cache_coherence_opts;

typedef struct mcp_cache_coherence_counts {
    uint64_t published, publish_failures;
    uint64_t received, applied, own_ignored, malformed;
    uint64_t last_applied_ns;      /* mcp_now_ns() right after the last foreign message was applied */
    bool subscribed;
} mcp_cache_coherence_counts;

int mcp_cache_coherence_new(const mcp_cache_coherence_opts *opts, mcp_cache_coherence **out);
void mcp_cache_coherence_free(mcp_cache_coherence *coh);
const char *mcp_cache_coherence_node_id(const mcp_cache_coherence *coh);
void mcp_cache_coherence_stats(mcp_cache_coherence *coh, mcp_cache_coherence_counts *out);
/* Waits up to timeout_ms until subscribed: 0 or MCP_ETIMEDOUT. */
int mcp_cache_coherence_wait_subscribed(mcp_cache_coherence *coh, uint64_t timeout_ms);

/* ---- Keys -------------------------------------------------------------------
 * The key of a tools/call: the tool name, a NUL byte, then the canonical
 * JSON of the arguments, so that argument order and number spelling do not
 * matter. When that would exceed MCP_CACHE_KEY_MAX the arguments part is
 * replaced by "#" and a 128-bit hash of it (not cryptographic). Replaces the
 * contents of key. MCP_EINVAL for an empty or over-long tool name. */
int mcp_cache_key_for_call(const char *tool_name, const mcp_json *args, mcp_buf *key);


/* ---- The server's result store ----------------------------------------------
 * mcp_result_store (mcp/mcp.h) over
 * the tiered cache of mcp/cache.h, so that results served from the cache
 * live in L1, L2 (LMDB) and L3 (Redis) as the cache is configured.
 *
 *     mcp_cache_result_store rs = { .cache = cache };      (clock: that of the cache)
 *     mcp_result_cache *rc;
 *     mcp_result_cache_new(&(mcp_result_cache_opts){ .store = mcp_cache_result_store_ops(&rs) }, &rc);
 *     mcp_server_new(&(mcp_server_opts){ ..., .result_cache = rc });
 *
 * Keys: a tool call's is mcp_cache_key_for_call (name, NUL, canonical
 * arguments); a resource's is its URI, which has no NUL, so the two never
 * meet, and a tool that declares a resource URI as a dependency is dropped
 * with it. The stored value is the result body followed by a 9-byte
 * trailer: the absolute expiry (milliseconds of the cache's clock, big
 * endian) and a format byte, so that a hit from any tier, or from another
 * node through Redis, knows the time it has left.
 */
typedef struct mcp_cache_result_store {
    mcp_cache *cache;              /* required, not owned */
    mcp_cache_clock_fn clock;      /* the cache's clock; NULL: mcp_wall_ms */
    void *clock_user;
} mcp_cache_result_store;

/* The functions to put in mcp_result_cache_opts.store; user is store. */
mcp_result_store mcp_cache_result_store_ops(mcp_cache_result_store *store);

#ifdef __cplusplus
}
#endif
#endif
