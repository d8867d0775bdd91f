/*
 * The tiered facade: L1, then L2, then an optional remote L3, then the
 * caller's compute. A value found in a lower tier is copied into the tiers
 * above it with its absolute expiry, tags and dependencies, so that
 * invalidating it still works wherever it lives.
 *
 * get_or_compute runs the whole lower path (L2 and L3 lookups, the compute,
 * the writes below L1) inside L1's single-flight, so concurrent misses on a
 * key read the disk and compute once.
 *
 * Write policies: write-through stores in every tier before returning;
 * write-back stores in L1 and queues a copy, written to the lower tiers in
 * one LMDB transaction when the queue reaches write_back_batch, on
 * mcp_cache_flush and on free. Invalidation flushes the queue first, so a
 * queued write cannot bring back an entry after it was invalidated.
 *
 * L3 calls that return MCP_PENDING are waited for here: the facade's API is
 * synchronous; the L1 and L2 path never waits on anything but their locks.
 * L3 is shared and may be down: a failed L3 read is a miss and a failed L3
 * write leaves the entry in the tiers above (the tier counts both), so
 * serving goes on; a failed L3 invalidation is returned to the caller.
 */
#include "cache/cache_internal.h"
#include "cache/l1_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WRITE_BACK_BATCH 256

typedef struct pending_write {
    mcp_cache_item item; /* slices into the same allocation */
} pending_write;

struct mcp_cache {
    mcp_cache_l1 *l1;
    mcp_cache_l2 *l2;
    mcp_cache_tier *l3;
    mcp_cache_write_policy policy;
    size_t batch;
    pthread_mutex_t pending_lock;
    pending_write **pending;
    size_t pending_count, pending_cap;
    mcp_cache_invalidated_fn listener;
    void *listener_user;
};

/* ---- waiting for an L3 completion ------------------------------------------- */

typedef struct l3_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    mcp_arena *arena;         /* for copying a got item */
    mcp_cache_item *item;
} l3_wait;

static void l3_done(void *user, int rc, const mcp_cache_item *item) {
    l3_wait *w = user;
    pthread_mutex_lock(&w->lock);
    if (rc == MCP_OK && item && w->item) {
        /* The tier's item lives only during this call: copy what we keep. */
        size_t n = item->key.len + item->value.len;
        char *p = mcp_arena_alloc(w->arena, n ? n : 1);
        if (!p) {
            rc = MCP_ENOMEM;
        } else {
            memcpy(p, item->key.ptr, item->key.len);
            if (item->value.len) memcpy(p + item->key.len, item->value.ptr, item->value.len);
            *w->item = *item;
            w->item->key = (mcp_str){p, item->key.len};
            w->item->value = (mcp_str){p + item->key.len, item->value.len};
            mcp_str *lists = mcp_arena_alloc(w->arena, (item->tag_count + item->dep_count + 1) * sizeof *lists);
            if (!lists) {
                rc = MCP_ENOMEM;
            } else {
                for (size_t i = 0; i < item->tag_count; i++)
                    lists[i] = (mcp_str){mcp_arena_strndup(w->arena, item->tags[i].ptr, item->tags[i].len),
                                         item->tags[i].len};
                for (size_t i = 0; i < item->dep_count; i++)
                    lists[item->tag_count + i] = (mcp_str){
                        mcp_arena_strndup(w->arena, item->deps[i].ptr, item->deps[i].len), item->deps[i].len};
                w->item->tags = lists;
                w->item->deps = lists + item->tag_count;
            }
        }
    }
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void l3_wait_init(l3_wait *w, mcp_arena *arena, mcp_cache_item *item) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = false;
    w->rc = MCP_OK;
    w->arena = arena;
    w->item = item;
}

/* Turns a tier call's return into its final result. */
static int l3_finish(l3_wait *w, int rc) {
    if (rc == MCP_PENDING) {
        pthread_mutex_lock(&w->lock);
        while (!w->done) pthread_cond_wait(&w->cond, &w->lock);
        rc = w->rc;
        pthread_mutex_unlock(&w->lock);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    return rc;
}

static int l3_get(mcp_cache *c, mcp_str key, mcp_arena *arena, mcp_cache_item *item) {
    l3_wait w;
    l3_wait_init(&w, arena, item);
    return l3_finish(&w, c->l3->get(c->l3, key, arena, item, l3_done, &w));
}

static int l3_put(mcp_cache *c, const mcp_cache_item *item) {
    l3_wait w;
    l3_wait_init(&w, NULL, NULL);
    return l3_finish(&w, c->l3->put(c->l3, item, l3_done, &w));
}

/* ---- lifecycle --------------------------------------------------------------------- */

int mcp_cache_new(const mcp_cache_opts *opts, mcp_cache **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_cache_opts o = opts ? *opts : (mcp_cache_opts){0};
    if (o.policy == MCP_CACHE_WRITE_DEFAULT) o.policy = MCP_CACHE_WRITE_THROUGH;
    if (o.policy > MCP_CACHE_WRITE_L1_ONLY) return MCP_EINVAL;
    if (o.l3 && (!o.l3->get || !o.l3->put || !o.l3->invalidate_tag || !o.l3->invalidate_key)) return MCP_EINVAL;
    mcp_cache *c = calloc(1, sizeof *c);
    if (!c) return MCP_ENOMEM;
    c->policy = o.policy;
    c->batch = o.write_back_batch ? o.write_back_batch : DEFAULT_WRITE_BACK_BATCH;
    c->l3 = o.l3;
    pthread_mutex_init(&c->pending_lock, NULL);
    int rc = mcp_cache_l1_new(&o.l1, &c->l1);
    if (!rc && o.l2_enabled) {
        /* One clock for both tiers, so that expiries agree. */
        if (!o.l2.clock) {
            o.l2.clock = o.l1.clock;
            o.l2.clock_user = o.l1.clock_user;
        }
        rc = mcp_cache_l2_open(&o.l2, &c->l2);
    }
    if (rc) {
        mcp_cache_free(c);
        return rc;
    }
    *out = c;
    return MCP_OK;
}

void mcp_cache_free(mcp_cache *c) {
    if (!c) return;
    int rc = mcp_cache_flush(c);
    if (rc) mcp_log(MCP_LOG_WARNING, "cache: write-back flush at close failed: %s", mcp_strerror(rc));
    mcp_cache_l2_close(c->l2);
    mcp_cache_l1_free(c->l1);
    pthread_mutex_destroy(&c->pending_lock);
    free(c);
}

mcp_cache_l1 *mcp_cache_get_l1(mcp_cache *c) {
    return c ? c->l1 : NULL;
}

mcp_cache_l2 *mcp_cache_get_l2(mcp_cache *c) {
    return c ? c->l2 : NULL;
}

/* ---- writes below L1 ------------------------------------------------------------------ */

static int pending_add(mcp_cache *c, const mcp_cache_item *it) {
    size_t lists = it->tag_count + it->dep_count;
    size_t bytes = sizeof(pending_write) + lists * sizeof(mcp_str) + it->key.len + it->value.len;
    for (size_t i = 0; i < it->tag_count; i++) bytes += it->tags[i].len;
    for (size_t i = 0; i < it->dep_count; i++) bytes += it->deps[i].len;
    pending_write *pw = malloc(bytes);
    if (!pw) return MCP_ENOMEM;
    mcp_str *strs = (mcp_str *)(pw + 1);
    char *p = (char *)(strs + lists);
#define COPY_SLICE(dst, src)                                  \
    do {                                                      \
        if ((src).len) memcpy(p, (src).ptr, (src).len);       \
        (dst) = (mcp_str){p, (src).len};                      \
        p += (src).len;                                       \
    } while (0)
    COPY_SLICE(pw->item.key, it->key);
    COPY_SLICE(pw->item.value, it->value);
    for (size_t i = 0; i < it->tag_count; i++) COPY_SLICE(strs[i], it->tags[i]);
    for (size_t i = 0; i < it->dep_count; i++) COPY_SLICE(strs[it->tag_count + i], it->deps[i]);
#undef COPY_SLICE
    pw->item.expires_ms = it->expires_ms;
    pw->item.tags = strs;
    pw->item.tag_count = it->tag_count;
    pw->item.deps = strs + it->tag_count;
    pw->item.dep_count = it->dep_count;
    pthread_mutex_lock(&c->pending_lock);
    if (c->pending_count == c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap * 2 : 64;
        pending_write **grown = realloc(c->pending, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&c->pending_lock);
            free(pw);
            return MCP_ENOMEM;
        }
        c->pending = grown;
        c->pending_cap = cap;
    }
    c->pending[c->pending_count++] = pw;
    bool full = c->pending_count >= c->batch;
    pthread_mutex_unlock(&c->pending_lock);
    return full ? mcp_cache_flush(c) : MCP_OK;
}

int mcp_cache_flush(mcp_cache *c) {
    if (!c) return MCP_EINVAL;
    pthread_mutex_lock(&c->pending_lock);
    pending_write **list = c->pending;
    size_t n = c->pending_count;
    c->pending = NULL;
    c->pending_count = c->pending_cap = 0;
    pthread_mutex_unlock(&c->pending_lock);
    if (!n) {
        free(list);
        return MCP_OK;
    }
    int rc = MCP_OK;
    mcp_cache_item *items = malloc(n * sizeof *items);
    if (!items) rc = MCP_ENOMEM;
    for (size_t i = 0; i < n && items; i++) items[i] = list[i]->item;
    if (!rc && c->l2) rc = mcp_cache_l2_put_items(c->l2, items, n);
    for (size_t i = 0; i < n && !rc && c->l3; i++) l3_put(c, &items[i]); /* failures: see the top */
    if (rc) mcp_log(MCP_LOG_WARNING, "cache: %zu write-back entries not stored below L1: %s", n, mcp_strerror(rc));
    free(items);
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    return rc;
}

size_t mcp_cache_pending_writes(mcp_cache *c) {
    if (!c) return 0;
    pthread_mutex_lock(&c->pending_lock);
    size_t n = c->pending_count;
    pthread_mutex_unlock(&c->pending_lock);
    return n;
}

/* Stores item in the tiers below L1 as the policy says. */
static int write_below(mcp_cache *c, const mcp_cache_item *it, mcp_cache_write_policy policy) {
    if (policy == MCP_CACHE_WRITE_DEFAULT) policy = c->policy;
    if (policy == MCP_CACHE_WRITE_L1_ONLY || (!c->l2 && !c->l3)) return MCP_OK;
    if (policy == MCP_CACHE_WRITE_BACK) return pending_add(c, it);
    int rc = c->l2 ? mcp_cache_l2_put_item(c->l2, it) : MCP_OK;
    if (!rc && c->l3) {
        int r3 = l3_put(c, it);
        if (r3) mcp_log(MCP_LOG_DEBUG, "cache: write to %s failed: %s", c->l3->name, mcp_strerror(r3));
    }
    return rc;
}

/* The entry's absolute expiry by the L1 clock and default TTL. */
static uint64_t expiry_of(mcp_cache *c, const mcp_cache_entry_opts *opts) {
    return l1_expiry_for(c->l1, l1_now(c->l1), opts);
}

int mcp_cache_put(mcp_cache *c, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts) {
    if (!c) return MCP_EINVAL;
    mcp_cache_entry_opts o = opts ? *opts : (mcp_cache_entry_opts){0};
    if (o.policy > MCP_CACHE_WRITE_L1_ONLY) return MCP_EINVAL;
    mcp_cache_item it = {.key = key, .value = value, .expires_ms = expiry_of(c, &o),
                         .tags = (mcp_str *)o.tags, .tag_count = o.tag_count,
                         .deps = (mcp_str *)o.deps, .dep_count = o.dep_count};
    int rc = mcp_cache_l1_put_item(c->l1, &it);
    if (rc) return rc;
    return write_below(c, &it, o.policy);
}

/* ---- reads --------------------------------------------------------------------------------- */

/* Looks below L1; on a hit copies the item upward (into L2 when it came
 * from L3) and fills *item from arena. */
static int get_below(mcp_cache *c, mcp_str key, mcp_arena *arena, mcp_cache_item *item) {
    int rc = MCP_ENOTFOUND;
    if (c->l2) {
        rc = mcp_cache_l2_get_item(c->l2, key, arena, item);
        if (rc != MCP_ENOTFOUND) return rc;
    }
    if (c->l3) {
        rc = l3_get(c, key, arena, item);
        if (rc != MCP_OK && rc != MCP_ENOTFOUND) {
            mcp_log(MCP_LOG_DEBUG, "cache: read from %s failed: %s", c->l3->name, mcp_strerror(rc));
            rc = MCP_ENOTFOUND;
        }
        if (rc == MCP_OK && c->l2) {
            int up = mcp_cache_l2_put_item(c->l2, item);
            if (up) mcp_log(MCP_LOG_DEBUG, "cache: promotion into L2 failed: %s", mcp_strerror(up));
        }
    }
    return rc;
}

int mcp_cache_get(mcp_cache *c, mcp_str key, mcp_buf *out) {
    if (!c || !out) return MCP_EINVAL;
    int rc = mcp_cache_l1_get(c->l1, key, out);
    if (rc != MCP_ENOTFOUND || (!c->l2 && !c->l3)) return rc;
    mcp_arena arena;
    mcp_arena_init(&arena, 1024);
    mcp_cache_item item;
    rc = get_below(c, key, &arena, &item);
    if (rc == MCP_OK) {
        rc = mcp_buf_append(out, item.value.ptr, item.value.len);
        int up = mcp_cache_l1_put_item(c->l1, &item);
        if (up) mcp_log(MCP_LOG_DEBUG, "cache: promotion into L1 failed: %s", mcp_strerror(up));
    }
    mcp_arena_free(&arena);
    return rc;
}

typedef struct compute_ctx {
    mcp_cache *c;
    mcp_cache_compute_fn compute;
    void *user;
} compute_ctx;

/* Runs as L1's single-flight leader: what it leaves in fill is stored in L1. */
static int compute_below(mcp_str key, mcp_cache_fill *fill, void *p) {
    compute_ctx *x = p;
    mcp_cache *c = x->c;
    mcp_cache_item item;
    int rc = get_below(c, key, fill->arena, &item);
    if (rc == MCP_OK) {
        rc = mcp_buf_append(fill->value, item.value.ptr, item.value.len);
        uint64_t now = l1_now(c->l1);
        if (item.expires_ms && item.expires_ms <= now) return MCP_ENOTFOUND; /* cannot happen: tiers drop them */
        fill->opts.ttl_ms = item.expires_ms ? item.expires_ms - now : MCP_CACHE_TTL_NONE;
        fill->opts.tags = item.tags;
        fill->opts.tag_count = item.tag_count;
        fill->opts.deps = item.deps;
        fill->opts.dep_count = item.dep_count;
        return rc;
    }
    if (rc != MCP_ENOTFOUND) return rc;
    rc = x->compute(key, fill, x->user);
    if (rc) return rc;
    /* Fix the expiry once so every tier stores the same instant. */
    uint64_t expires = expiry_of(c, &fill->opts);
    fill->opts.ttl_ms = expires ? expires - l1_now(c->l1) : MCP_CACHE_TTL_NONE;
    if (!fill->opts.ttl_ms) fill->opts.ttl_ms = 1;
    mcp_cache_item it = {.key = key, .value = {fill->value->data, fill->value->len}, .expires_ms = expires,
                         .tags = (mcp_str *)fill->opts.tags, .tag_count = fill->opts.tag_count,
                         .deps = (mcp_str *)fill->opts.deps, .dep_count = fill->opts.dep_count};
    int below = cache_check_entry(key, it.tags, it.tag_count, it.deps, it.dep_count);
    if (!below) below = write_below(c, &it, fill->opts.policy);
    if (below) mcp_log(MCP_LOG_WARNING, "cache: computed value not stored below L1: %s", mcp_strerror(below));
    return MCP_OK;
}

int mcp_cache_get_or_compute(mcp_cache *c, mcp_str key, mcp_cache_compute_fn compute, void *user,
                             mcp_buf *out) {
    if (!c || !compute) return MCP_EINVAL;
    compute_ctx x = {c, compute, user};
    return mcp_cache_l1_get_or_compute(c->l1, key, compute_below, &x, out);
}

/* ---- invalidation ------------------------------------------------------------------------------ */

typedef struct l3_set_wait {
    l3_wait w;
    cache_keyset *set;
} l3_set_wait;

static void l3_set_done(void *user, int rc, const mcp_str *reached, size_t count) {
    l3_set_wait *sw = user;
    /* Grows the set from the loop thread while the caller sleeps on w. */
    for (size_t i = 0; i < count && rc == MCP_OK; i++)
        if (cache_keyset_add(sw->set, reached[i]) < 0) rc = MCP_ENOMEM;
    l3_done(&sw->w, rc, NULL);
}

/* Invalidates tag and set[*cursor ..] in L3; the keys L3 reached through
 * its own dependency sets join set, for the tiers above. */
static int l3_invalidate(mcp_cache *c, mcp_str tag, cache_keyset *set, size_t *cursor) {
    size_t from = *cursor, to = set->count;
    *cursor = to;
    if (c->l3->invalidate_set) {
        l3_set_wait sw = {.set = set};
        l3_wait_init(&sw.w, NULL, NULL);
        int rc = l3_finish(&sw.w, c->l3->invalidate_set(c->l3, tag, set->keys + from, to - from, l3_set_done, &sw));
        return rc == MCP_ENOTFOUND ? MCP_OK : rc;
    }
    int rc = MCP_OK;
    if (tag.len) {
        l3_wait w;
        l3_wait_init(&w, NULL, NULL);
        rc = l3_finish(&w, c->l3->invalidate_tag(c->l3, tag, l3_done, &w));
    }
    for (size_t i = from; i < to && (rc == MCP_OK || rc == MCP_ENOTFOUND); i++) {
        l3_wait w;
        l3_wait_init(&w, NULL, NULL);
        rc = l3_finish(&w, c->l3->invalidate_key(c->l3, set->keys[i], l3_done, &w));
    }
    return rc == MCP_ENOTFOUND ? MCP_OK : rc;
}

/* Follows dependencies through L1, L2 and (unless local) L3 until no tier
 * finds a new key; then tells the listener. */
static int invalidate(mcp_cache *c, mcp_str tag, const mcp_str *keys, size_t key_count, bool local,
                      size_t *removed) {
    size_t n = 0;
    int rc = mcp_cache_flush(c);
    if (rc) return rc;
    cache_keyset set;
    cache_keyset_init(&set);
    if (tag.len) {
        rc = cache_l1_collect_tag(c->l1, tag, &set, &n);
        if (!rc && c->l2) rc = cache_l2_collect_tag(c->l2, tag, &set, &n);
    }
    for (size_t i = 0; i < key_count && !rc; i++) rc = cache_keyset_add(&set, keys[i]) < 0 ? MCP_ENOMEM : MCP_OK;
    bool use_l3 = c->l3 && !local;
    int l3_rc = MCP_OK;
    size_t cur1 = 0, cur2 = 0, cur3 = 0;
    for (bool first = true; !rc; first = false) {
        while (!rc && (cur1 < set.count || (c->l2 && cur2 < set.count))) {
            rc = cache_l1_invalidate_set(c->l1, &set, &cur1, &n);
            if (!rc && c->l2) rc = cache_l2_invalidate_set(c->l2, &set, &cur2, &n);
        }
        /* After an L3 failure the local walk still completes. */
        if (rc || !use_l3 || l3_rc || (!first && cur3 == set.count)) break;
        l3_rc = l3_invalidate(c, first ? tag : (mcp_str){NULL, 0}, &set, &cur3);
        if (l3_rc) mcp_log(MCP_LOG_WARNING, "cache: invalidation in %s failed: %s", c->l3->name, mcp_strerror(l3_rc));
    }
    if (!rc && !local && c->listener) c->listener(c->listener_user, tag, set.keys, set.count);
    cache_keyset_free(&set);
    if (removed) *removed = n;
    return rc ? rc : l3_rc;
}

void mcp_cache_set_invalidation_listener(mcp_cache *c, mcp_cache_invalidated_fn fn, void *user) {
    if (!c) return;
    c->listener = fn;
    c->listener_user = user;
}

int mcp_cache_invalidate_local(mcp_cache *c, mcp_str tag, const mcp_str *keys, size_t key_count,
                               size_t *removed) {
    if (removed) *removed = 0;
    if (!c || (tag.len && (!tag.ptr || tag.len > MCP_CACHE_KEY_MAX)) || (key_count && !keys)) return MCP_EINVAL;
    for (size_t i = 0; i < key_count; i++)
        if (!keys[i].ptr || !keys[i].len || keys[i].len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    return invalidate(c, tag, keys, key_count, true, removed);
}

int mcp_cache_invalidate_tag(mcp_cache *c, mcp_str tag, size_t *removed) {
    if (removed) *removed = 0;
    if (!c || !tag.ptr || !tag.len || tag.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    return invalidate(c, tag, NULL, 0, false, removed);
}

int mcp_cache_invalidate_key(mcp_cache *c, mcp_str key, size_t *removed) {
    if (removed) *removed = 0;
    if (!c || !key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    return invalidate(c, (mcp_str){NULL, 0}, &key, 1, false, removed);
}
