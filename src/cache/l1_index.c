/*
 * L1's tag and dependency indexes and the invalidation walks over them.
 *
 * Each shard indexes only its own entries: name -> list of references, the
 * references living inside the entries, so linking and unlinking an entry
 * never allocates beyond a new name's head and never takes another shard's
 * lock. A tag or a key's dependents are then found by asking every shard;
 * shards where no entry has any dependency are skipped without locking.
 *
 * Invalidating a key removes its entry and adds the keys of the entries
 * that depend on it to the same key set, which is also the worklist: a key
 * already in the set is not added again, so dependency cycles end.
 */
#include "cache/l1_internal.h"

#include <stdlib.h>
#include <string.h>

#define INDEX_INITIAL_BUCKETS 16

static l1_index_head *index_find(l1_index *ix, const char *name, size_t len, uint64_t hash) {
    if (!ix->buckets) return NULL;
    for (l1_index_head *h = ix->buckets[hash & ix->mask]; h; h = h->chain)
        if (h->hash == hash && h->len == len && memcmp(h->name, name, len) == 0) return h;
    return NULL;
}

static int index_grow(l1_index *ix) {
    size_t n = ix->buckets ? (ix->mask + 1) * 2 : INDEX_INITIAL_BUCKETS;
    l1_index_head **b = calloc(n, sizeof *b);
    if (!b) return MCP_ENOMEM;
    if (ix->buckets) {
        for (size_t i = 0; i <= ix->mask; i++) {
            l1_index_head *h = ix->buckets[i];
            while (h) {
                l1_index_head *next = h->chain;
                h->chain = b[h->hash & (n - 1)];
                b[h->hash & (n - 1)] = h;
                h = next;
            }
        }
    }
    free(ix->buckets);
    ix->buckets = b;
    ix->mask = n - 1;
    return MCP_OK;
}

static l1_index_head *index_get_or_add(l1_index *ix, const char *name, size_t len) {
    uint64_t hash = mcp_hash64(name, len, ix->seed);
    l1_index_head *h = index_find(ix, name, len, hash);
    if (h) return h;
    if ((!ix->buckets || ix->count >= ix->mask + 1) && index_grow(ix) != 0 && !ix->buckets) return NULL;
    h = malloc(sizeof *h + len);
    if (!h) return NULL;
    h->hash = hash;
    h->first = NULL;
    h->len = (uint32_t)len;
    memcpy(h->name, name, len);
    h->chain = ix->buckets[hash & ix->mask];
    ix->buckets[hash & ix->mask] = h;
    ix->count++;
    return h;
}

static void index_drop(l1_index *ix, l1_index_head *h) {
    l1_index_head **pp = &ix->buckets[h->hash & ix->mask];
    while (*pp != h) pp = &(*pp)->chain;
    *pp = h->chain;
    ix->count--;
    free(h);
}

void l1_index_free(l1_index *ix) {
    uint64_t seed = ix->seed;
    if (ix->buckets) {
        for (size_t i = 0; i <= ix->mask; i++) {
            l1_index_head *h = ix->buckets[i];
            while (h) {
                l1_index_head *next = h->chain;
                free(h);
                h = next;
            }
        }
    }
    free(ix->buckets);
    memset(ix, 0, sizeof *ix);
    ix->seed = seed;
}

static void ref_unlink(l1_index *ix, l1_ref *r) {
    if (!r->head) return;
    if (r->prev) r->prev->next = r->next;
    else r->head->first = r->next;
    if (r->next) r->next->prev = r->prev;
    if (!r->head->first) index_drop(ix, r->head);
    r->head = NULL;
}

void l1_index_unlink(l1_shard *sh, l1_entry *e) {
    l1_ref *refs = l1_entry_refs(e);
    for (size_t i = 0; i < e->tag_count; i++) ref_unlink(&sh->tags, &refs[i]);
    size_t linked = 0;
    for (size_t i = 0; i < e->dep_count; i++) {
        linked += refs[e->tag_count + i].head != NULL;
        ref_unlink(&sh->deps, &refs[e->tag_count + i]);
    }
    if (linked) atomic_fetch_sub(&sh->dep_refs, linked);
}

int l1_index_link(l1_shard *sh, l1_entry *e) {
    l1_ref *refs = l1_entry_refs(e);
    size_t n = (size_t)e->tag_count + e->dep_count;
    for (size_t i = 0; i < n; i++) refs[i].head = NULL;
    const char *p = l1_entry_meta(e);
    for (size_t i = 0; i < n; i++) {
        uint16_t len;
        memcpy(&len, p, 2);
        l1_index *ix = i < e->tag_count ? &sh->tags : &sh->deps;
        l1_index_head *h = index_get_or_add(ix, p + 2, len);
        p += 2 + len;
        if (!h) {
            l1_index_unlink(sh, e);
            return MCP_ENOMEM;
        }
        l1_ref *r = &refs[i];
        r->owner = e;
        r->head = h;
        r->prev = NULL;
        r->next = h->first;
        if (h->first) h->first->prev = r;
        h->first = r;
        if (i >= e->tag_count) atomic_fetch_add(&sh->dep_refs, 1);
    }
    return MCP_OK;
}

/* ---- invalidation ------------------------------------------------------------------ */

int cache_l1_collect_tag(mcp_cache_l1 *l1, mcp_str tag, cache_keyset *set, size_t *removed) {
    uint64_t hash = mcp_hash64(tag.ptr, tag.len, l1->seed);
    size_t total = 0;
    int rc = MCP_OK;
    for (unsigned i = 0; i < l1->shard_count && rc >= 0; i++) {
        l1_shard *sh = &l1->shards[i];
        l1_entry *garbage = NULL;
        pthread_mutex_lock(&sh->lock);
        l1_index_head *h;
        /* Unlinking the last entry frees the head, so look it up each time. */
        while ((h = index_find(&sh->tags, tag.ptr, tag.len, hash)) != NULL) {
            l1_entry *e = h->first->owner;
            rc = cache_keyset_add(set, (mcp_str){l1_entry_key(e), e->key_len});
            if (rc < 0) break;
            l1_unlink(sh, e, &garbage);
            total++;
        }
        pthread_mutex_unlock(&sh->lock);
        l1_free_garbage(l1, garbage);
    }
    if (total) cache_count(&l1->counters, CACHE_STAT_INVALIDATIONS, total);
    if (removed) *removed += total;
    return rc < 0 ? rc : MCP_OK;
}

static int add_dependents(mcp_cache_l1 *l1, mcp_str key, uint64_t hash, cache_keyset *set) {
    int rc = MCP_OK;
    for (unsigned i = 0; i < l1->shard_count && rc >= 0; i++) {
        l1_shard *sh = &l1->shards[i];
        if (!atomic_load_explicit(&sh->dep_refs, memory_order_relaxed)) continue;
        pthread_mutex_lock(&sh->lock);
        l1_index_head *h = index_find(&sh->deps, key.ptr, key.len, hash);
        for (l1_ref *r = h ? h->first : NULL; r && rc >= 0; r = r->next)
            rc = cache_keyset_add(set, (mcp_str){l1_entry_key(r->owner), r->owner->key_len});
        pthread_mutex_unlock(&sh->lock);
    }
    return rc < 0 ? rc : MCP_OK;
}

int cache_l1_invalidate_set(mcp_cache_l1 *l1, cache_keyset *set, size_t *cursor, size_t *removed) {
    size_t total = 0;
    int rc = MCP_OK;
    while (*cursor < set->count && rc == MCP_OK) {
        mcp_str key = set->keys[*cursor];
        uint64_t hash = set->hashes[*cursor];
        (*cursor)++;
        l1_shard *sh = l1_shard_of(l1, hash);
        l1_entry *garbage = NULL;
        pthread_mutex_lock(&sh->lock);
        l1_entry *e = l1_find(sh, key, hash);
        if (e) {
            l1_unlink(sh, e, &garbage);
            total++;
        }
        pthread_mutex_unlock(&sh->lock);
        l1_free_garbage(l1, garbage);
        rc = add_dependents(l1, key, hash, set);
    }
    if (total) cache_count(&l1->counters, CACHE_STAT_INVALIDATIONS, total);
    if (removed) *removed += total;
    return rc;
}

int mcp_cache_l1_invalidate_tag(mcp_cache_l1 *l1, mcp_str tag, size_t *removed) {
    if (removed) *removed = 0;
    if (!l1 || !tag.ptr || !tag.len || tag.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    cache_keyset set;
    cache_keyset_init(&set);
    size_t cursor = 0;
    int rc = cache_l1_collect_tag(l1, tag, &set, removed);
    if (!rc) rc = cache_l1_invalidate_set(l1, &set, &cursor, removed);
    cache_keyset_free(&set);
    return rc;
}

int mcp_cache_l1_invalidate_key(mcp_cache_l1 *l1, mcp_str key, size_t *removed) {
    if (removed) *removed = 0;
    if (!l1 || !key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    cache_keyset set;
    cache_keyset_init(&set);
    size_t cursor = 0;
    int rc = cache_keyset_add(&set, key);
    if (rc >= 0) rc = cache_l1_invalidate_set(l1, &set, &cursor, removed);
    cache_keyset_free(&set);
    return rc;
}
