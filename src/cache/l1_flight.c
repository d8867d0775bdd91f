/*
 * Single-flight: when several threads miss the same key at once, the first
 * one (the leader) computes and the others wait for its result instead of
 * computing it again. A flight is registered in the key's shard under the
 * shard lock, so a miss and the check for a flight are one atomic step;
 * the leader computes with no lock held, stores the value, then hands the
 * same bytes (or error) to every waiter. The flight is freed by whichever
 * of the leader and the waiters leaves last.
 *
 * A compute callback must not ask the cache for its own key: it would wait
 * for itself.
 */
#include "cache/l1_internal.h"

#include <stdlib.h>
#include <string.h>

struct l1_flight {
    l1_flight *next;
    uint64_t hash;
    unsigned refs;
    bool done;
    int rc;
    mcp_buf value;
    size_t key_len;
    char key[];
};

void l1_flights_free(l1_shard *sh) {
    /* Only reached when no thread is inside the cache: flights are gone. */
    while (sh->flights) {
        l1_flight *f = sh->flights;
        sh->flights = f->next;
        mcp_buf_free(&f->value);
        free(f);
    }
}

static l1_flight *flight_find(l1_shard *sh, mcp_str key, uint64_t hash) {
    for (l1_flight *f = sh->flights; f; f = f->next)
        if (f->hash == hash && f->key_len == key.len && memcmp(f->key, key.ptr, key.len) == 0) return f;
    return NULL;
}

static void flight_remove(l1_shard *sh, l1_flight *f) {
    l1_flight **pp = &sh->flights;
    while (*pp != f) pp = &(*pp)->next;
    *pp = f->next;
}

static void flight_release(l1_flight *f) {
    if (--f->refs == 0) {
        mcp_buf_free(&f->value);
        free(f);
    }
}

/* Runs the callback and stores what it made; returns its result. */
static int lead(mcp_cache_l1 *l1, mcp_str key, mcp_cache_compute_fn compute, void *user, mcp_buf *value) {
    mcp_arena arena;
    mcp_arena_init(&arena, 1024);
    mcp_cache_fill fill = {.value = value, .arena = &arena};
    cache_count(&l1->counters, CACHE_STAT_COMPUTES, 1);
    int rc = compute(key, &fill, user);
    if (rc == MCP_OK) {
        /* A value that cannot be stored (too big, bad tags) is still the
         * answer for the callers waiting now; it is just not kept. */
        int put_rc = mcp_cache_l1_put(l1, key, (mcp_str){value->data, value->len}, &fill.opts);
        if (put_rc) mcp_log(MCP_LOG_DEBUG, "cache: computed value not stored: %s", mcp_strerror(put_rc));
    }
    mcp_arena_free(&arena);
    return rc;
}

int mcp_cache_l1_get_or_compute(mcp_cache_l1 *l1, mcp_str key, mcp_cache_compute_fn compute, void *user,
                                mcp_buf *out) {
    if (!l1 || !compute || !out || !key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    uint64_t hash = l1_hash(l1, key);
    l1_shard *sh = l1_shard_of(l1, hash);
    l1_entry *garbage = NULL;
    int rc;
    pthread_mutex_lock(&sh->lock);
    l1_entry *e = l1_lookup_live(l1, sh, key, hash, &garbage);
    if (e) {
        rc = mcp_buf_append(out, l1_entry_value(e), e->value_len);
        pthread_mutex_unlock(&sh->lock);
        cache_count(&l1->counters, CACHE_STAT_HITS, 1);
        return rc;
    }
    cache_count(&l1->counters, CACHE_STAT_MISSES, 1);
    l1_flight *f = flight_find(sh, key, hash);
    if (f) {
        f->refs++;
        cache_count(&l1->counters, CACHE_STAT_COALESCED, 1);
        while (!f->done) pthread_cond_wait(&sh->flight_done, &sh->lock);
        rc = f->rc == MCP_OK ? mcp_buf_append(out, f->value.data, f->value.len) : f->rc;
        flight_release(f);
        pthread_mutex_unlock(&sh->lock);
        l1_free_garbage(l1, garbage);
        return rc;
    }
    f = malloc(sizeof *f + key.len);
    if (!f) {
        pthread_mutex_unlock(&sh->lock);
        l1_free_garbage(l1, garbage);
        return MCP_ENOMEM;
    }
    f->hash = hash;
    f->refs = 1;
    f->done = false;
    f->rc = MCP_OK;
    mcp_buf_init(&f->value);
    f->key_len = key.len;
    memcpy(f->key, key.ptr, key.len);
    f->next = sh->flights;
    sh->flights = f;
    pthread_mutex_unlock(&sh->lock);
    l1_free_garbage(l1, garbage);

    mcp_buf value;
    mcp_buf_init(&value);
    rc = lead(l1, key, compute, user, &value);
    int out_rc = rc == MCP_OK ? mcp_buf_append(out, value.data, value.len) : rc;

    pthread_mutex_lock(&sh->lock);
    f->rc = rc;
    f->value = value; /* the waiters' copy; freed with the flight */
    f->done = true;
    flight_remove(sh, f);
    pthread_cond_broadcast(&sh->flight_done);
    flight_release(f);
    pthread_mutex_unlock(&sh->lock);
    return out_rc;
}
