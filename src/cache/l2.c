/*
 * L2: the on-disk tier, an LMDB environment in one directory.
 *
 * Five named databases:
 *   entries  key -> record: expiry, write sequence, value length, tag and
 *            dependency counts, then the value and the encoded tags/deps
 *   tags     tag -> key of each entry carrying it (dupsort)
 *   deps     key -> key of each entry depending on it (dupsort)
 *   age      write sequence (big-endian) -> key: oldest first, for eviction
 *   expiry   expiry, sequence (both big-endian) -> key: soonest first, for
 *            the sweep and for making room
 * Every write keeps the four indexes in step with entries inside one
 * transaction, so an index never names an entry that is gone (and vice
 * versa) even after a crash.
 *
 * Reads take a read-only transaction (MDB_NOTLS, so any thread may read);
 * writes are serialized by LMDB. By default commits are not fsynced: a
 * crash can lose the last writes, which for a cache only means recomputing
 * them, and LMDB's copy-on-write keeps the file consistent either way.
 *
 * When the map is full, a put deletes the expired entries and then the
 * oldest eighth of the rest, and tries again.
 */
#include "cache/cache_internal.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAP_SIZE ((size_t)256 << 20)
#define RECORD_HEADER 24

struct mcp_cache_l2 {
    MDB_env *env;
    size_t map_pages, page_size;
    MDB_dbi entries, tags, deps, age, expiry;
    uint64_t seq;                  /* next write sequence; guarded by LMDB's writer lock */
    size_t max_entries;
    mcp_cache_clock_fn clock;
    void *clock_user;
    cache_counters counters;
    dev_t dev;
    ino_t ino;
    mcp_cache_l2 *next_open;
};

/* LMDB must not open one environment twice in a process; remember which
 * directories are open to refuse that with a clear error. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static mcp_cache_l2 *open_list;

typedef struct record {
    uint64_t expires_ms, seq;
    uint32_t value_len;
    uint16_t tag_count, dep_count;
} record;

static int map_err(int mdb_rc, const char *what) {
    if (mdb_rc == 0) return MCP_OK;
    if (mdb_rc == MDB_NOTFOUND) return MCP_ENOTFOUND;
    if (mdb_rc == MDB_MAP_FULL) return MCP_ELIMIT;
    if (mdb_rc == ENOMEM) return MCP_ENOMEM;
    mcp_log(MCP_LOG_ERROR, "cache l2: %s: %s", what, mdb_strerror(mdb_rc));
    return MCP_EIO;
}

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void record_read(const MDB_val *v, record *r) {
    const char *p = v->mv_data;
    memcpy(&r->expires_ms, p, 8);
    memcpy(&r->seq, p + 8, 8);
    memcpy(&r->value_len, p + 16, 4);
    memcpy(&r->tag_count, p + 20, 2);
    memcpy(&r->dep_count, p + 22, 2);
}

static uint64_t l2_now(mcp_cache_l2 *l2) {
    return l2->clock(l2->clock_user);
}

/* ---- write primitives (inside a write transaction) ------------------------------- */

/* Cursors a run of deletes reuses: LMDB skips the descent from the root
 * when the next key lies on the page a cursor already holds, and deletes
 * in a run mostly come in key order (a tag's rows are sorted). */
typedef struct del_cursors {
    MDB_cursor *entries, *tags, *deps, *age;
} del_cursors;

static void del_cursors_close(del_cursors *c) {
    MDB_cursor **all[] = {&c->entries, &c->tags, &c->deps, &c->age};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i]) mdb_cursor_close(*all[i]);
        *all[i] = NULL;
    }
}

static int del_cursors_open(mcp_cache_l2 *l2, MDB_txn *txn, del_cursors *c) {
    *c = (del_cursors){0};
    int rc = mdb_cursor_open(txn, l2->entries, &c->entries);
    if (!rc) rc = mdb_cursor_open(txn, l2->tags, &c->tags);
    if (!rc) rc = mdb_cursor_open(txn, l2->deps, &c->deps);
    if (!rc) rc = mdb_cursor_open(txn, l2->age, &c->age);
    if (rc) del_cursors_close(c);
    return map_err(rc, "cursor");
}

/* Deletes the row the cursor finds for key (and data, in a dupsort DB). */
static int cursor_del(MDB_cursor *cur, MDB_val *key, MDB_val *data) {
    int rc = mdb_cursor_get(cur, key, data, data ? MDB_GET_BOTH : MDB_SET);
    return rc ? rc : mdb_cursor_del(cur, 0);
}

/* Removes key and its index rows. MCP_ENOTFOUND if absent. */
static int del_entry_with(mcp_cache_l2 *l2, MDB_txn *txn, del_cursors *c, mcp_str key) {
    MDB_val k = {key.len, (void *)key.ptr}, v;
    int rc = mdb_cursor_get(c->entries, &k, &v, MDB_SET_KEY);
    if (rc) return map_err(rc, "get");
    record r;
    record_read(&v, &r);
    /* The record is in the map and stays valid until this txn writes; copy
     * the metadata out before the deletes below change pages. */
    size_t meta_len = v.mv_size - RECORD_HEADER - r.value_len;
    char stack[2048];
    char *meta = meta_len <= sizeof stack ? stack : malloc(meta_len);
    if (!meta) return MCP_ENOMEM;
    memcpy(meta, (const char *)v.mv_data + RECORD_HEADER + r.value_len, meta_len);
    const char *p = meta;
    for (size_t i = 0; i < (size_t)r.tag_count + r.dep_count && rc == 0; i++) {
        uint16_t len;
        memcpy(&len, p, 2);
        MDB_val name = {len, (void *)(p + 2)}, dup = {key.len, (void *)key.ptr};
        rc = cursor_del(i < r.tag_count ? c->tags : c->deps, &name, &dup);
        if (rc == MDB_NOTFOUND) rc = 0; /* a tag listed twice has one row */
        p += 2 + len;
    }
    if (meta != stack) free(meta);
    unsigned char age_key[8], exp_key[16];
    put_be64(age_key, r.seq);
    MDB_val ak = {8, age_key};
    if (!rc) rc = cursor_del(c->age, &ak, NULL);
    if (!rc && r.expires_ms) {
        put_be64(exp_key, r.expires_ms);
        put_be64(exp_key + 8, r.seq);
        MDB_val ek = {16, exp_key};
        rc = mdb_del(txn, l2->expiry, &ek, NULL);
    }
    /* The entries cursor still sits on key: the deletes above were in
     * other databases. */
    if (!rc) rc = mdb_cursor_del(c->entries, 0);
    return map_err(rc, "delete");
}

/* del_entry_with for a single key. */
static int del_entry(mcp_cache_l2 *l2, MDB_txn *txn, mcp_str key) {
    del_cursors c;
    int rc = del_cursors_open(l2, txn, &c);
    if (rc) return rc;
    rc = del_entry_with(l2, txn, &c, key);
    del_cursors_close(&c);
    return rc;
}

static int put_entry(mcp_cache_l2 *l2, MDB_txn *txn, const mcp_cache_item *it) {
    int rc = del_entry(l2, txn, it->key);
    if (rc && rc != MCP_ENOTFOUND) return rc;
    size_t meta_len = cache_meta_size(it->tags, it->tag_count, it->deps, it->dep_count);
    MDB_val k = {it->key.len, (void *)it->key.ptr};
    MDB_val v = {RECORD_HEADER + it->value.len + meta_len, NULL};
    int mrc = mdb_put(txn, l2->entries, &k, &v, MDB_RESERVE);
    if (mrc) return map_err(mrc, "put");
    uint64_t seq = l2->seq++;
    uint32_t vlen = (uint32_t)it->value.len;
    uint16_t tc = (uint16_t)it->tag_count, dc = (uint16_t)it->dep_count;
    char *p = v.mv_data;
    memcpy(p, &it->expires_ms, 8);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &vlen, 4);
    memcpy(p + 20, &tc, 2);
    memcpy(p + 22, &dc, 2);
    if (vlen) memcpy(p + RECORD_HEADER, it->value.ptr, vlen);
    cache_meta_encode(p + RECORD_HEADER + vlen, it->tags, it->tag_count, it->deps, it->dep_count);
    for (size_t i = 0; i < it->tag_count + it->dep_count && !mrc; i++) {
        const mcp_str *name = i < it->tag_count ? &it->tags[i] : &it->deps[i - it->tag_count];
        MDB_val nk = {name->len, (void *)name->ptr}, dup = {it->key.len, (void *)it->key.ptr};
        mrc = mdb_put(txn, i < it->tag_count ? l2->tags : l2->deps, &nk, &dup, MDB_NODUPDATA);
        if (mrc == MDB_KEYEXIST) mrc = 0;
    }
    unsigned char age_key[8], exp_key[16];
    put_be64(age_key, seq);
    MDB_val ak = {8, age_key}, kv = {it->key.len, (void *)it->key.ptr};
    if (!mrc) mrc = mdb_put(txn, l2->age, &ak, &kv, 0);
    if (!mrc && it->expires_ms) {
        put_be64(exp_key, it->expires_ms);
        put_be64(exp_key + 8, seq);
        MDB_val ek = {16, exp_key};
        mrc = mdb_put(txn, l2->expiry, &ek, &kv, 0);
    }
    return map_err(mrc, "put index");
}

/* Deletes the entries the cursor's database maps to, from its start, while
 * more(key of that row) says so and at most limit of them. */
static int delete_from_front(mcp_cache_l2 *l2, MDB_txn *txn, MDB_dbi dbi, uint64_t expired_before, size_t limit,
                             size_t *deleted) {
    mcp_arena arena;
    mcp_arena_init(&arena, 4096);
    mcp_str *keys = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) {
        mcp_arena_free(&arena);
        return map_err(rc, "cursor");
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (expired_before && get_be64(k.mv_data) > expired_before) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            mcp_str *grown = realloc(keys, cap * sizeof *keys);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            keys = grown;
        }
        char *copy = mcp_arena_alloc(&arena, v.mv_size);
        if (!copy) {
            rc = ENOMEM;
            break;
        }
        memcpy(copy, v.mv_data, v.mv_size);
        keys[n++] = (mcp_str){copy, v.mv_size};
    }
    mdb_cursor_close(cur);
    int out = rc == 0 || rc == MDB_NOTFOUND ? MCP_OK : map_err(rc, "scan");
    del_cursors dc = {0};
    if (out == MCP_OK && n) out = del_cursors_open(l2, txn, &dc);
    for (size_t i = 0; i < n && out == MCP_OK; i++) {
        int d = del_entry_with(l2, txn, &dc, keys[i]);
        if (d == MCP_OK) (*deleted)++;
        else if (d != MCP_ENOTFOUND) out = d;
    }
    del_cursors_close(&dc);
    free(keys);
    mcp_arena_free(&arena);
    return out;
}

static size_t entry_count(mcp_cache_l2 *l2, MDB_txn *txn) {
    MDB_stat st;
    return mdb_stat(txn, l2->entries, &st) == 0 ? st.ms_entries : 0;
}

/* Pages the databases (and LMDB's free list) occupy now. */
static size_t used_pages(mcp_cache_l2 *l2, MDB_txn *txn) {
    MDB_dbi dbis[] = {0 /* the free list */, l2->entries, l2->tags, l2->deps, l2->age, l2->expiry};
    size_t n = 0;
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        MDB_stat st;
        if (mdb_stat(txn, dbis[i], &st) == 0) n += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    return n;
}

/* LMDB copies pages on write, so even a delete needs free pages: a map
 * filled to the brim cannot be emptied. Keeping the occupied pages under
 * three quarters of the map (expired entries first, then the oldest)
 * leaves the room that deleting and the next writes need. */
static int keep_headroom(mcp_cache_l2 *l2, MDB_txn *txn, size_t *expired, size_t *evicted) {
    size_t high = l2->map_pages / 4 * 3;
    if (used_pages(l2, txn) <= high) return MCP_OK;
    int rc = delete_from_front(l2, txn, l2->expiry, l2_now(l2), SIZE_MAX, expired);
    while (rc == MCP_OK && used_pages(l2, txn) > high) {
        size_t count = entry_count(l2, txn), before = *evicted;
        if (!count) break;
        rc = delete_from_front(l2, txn, l2->age, 0, count / 16 + 1, evicted);
        if (*evicted == before) break;
    }
    return rc;
}

/* Frees space: expired entries, then the oldest eighth. */
static int make_room(mcp_cache_l2 *l2) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(l2->env, NULL, 0, &txn);
    if (rc) return map_err(rc, "begin");
    size_t expired = 0, evicted = 0;
    rc = delete_from_front(l2, txn, l2->expiry, l2_now(l2), SIZE_MAX, &expired);
    size_t count = entry_count(l2, txn);
    if (!rc && count) rc = delete_from_front(l2, txn, l2->age, 0, count / 8 + 1, &evicted);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = map_err(mdb_txn_commit(txn), "commit");
    if (!rc) {
        cache_count(&l2->counters, CACHE_STAT_EXPIRATIONS, expired);
        cache_count(&l2->counters, CACHE_STAT_EVICTIONS, evicted);
    }
    return rc;
}

static int check_item(const mcp_cache_item *it) {
    int rc = cache_check_entry(it->key, it->tags, it->tag_count, it->deps, it->dep_count);
    if (rc) return rc;
    if (it->value.len && !it->value.ptr) return MCP_EINVAL;
    return it->value.len > UINT32_MAX / 2 ? MCP_ELIMIT : MCP_OK;
}

int mcp_cache_l2_put_items(mcp_cache_l2 *l2, const mcp_cache_item *items, size_t count) {
    if (!l2 || (count && !items)) return MCP_EINVAL;
    for (size_t i = 0; i < count; i++) {
        int rc = check_item(&items[i]);
        if (rc) return rc;
        /* Hopeless items would only make the retries below evict for nothing. */
        if (items[i].value.len > l2->map_pages * l2->page_size / 4) return MCP_ELIMIT;
    }
    int rc = MCP_OK;
    /* Two chances to make room; a batch that still does not fit is too
     * big for the map. */
    for (int attempt = 0; attempt < 3; attempt++) {
        MDB_txn *txn;
        rc = map_err(mdb_txn_begin(l2->env, NULL, 0, &txn), "begin");
        if (rc) return rc;
        uint64_t seq_before = l2->seq;
        uint64_t now = l2_now(l2);
        size_t stored = 0, evicted = 0, expired = 0;
        for (size_t i = 0; i < count && rc == MCP_OK; i++) {
            if (items[i].expires_ms && items[i].expires_ms <= now) continue;
            rc = put_entry(l2, txn, &items[i]);
            stored += rc == MCP_OK;
        }
        if (rc == MCP_OK && l2->max_entries) {
            size_t n = entry_count(l2, txn);
            if (n > l2->max_entries) rc = delete_from_front(l2, txn, l2->age, 0, n - l2->max_entries, &evicted);
        }
        if (rc == MCP_OK) rc = keep_headroom(l2, txn, &expired, &evicted);
        if (rc == MCP_OK) rc = map_err(mdb_txn_commit(txn), "commit");
        else mdb_txn_abort(txn);
        if (rc == MCP_OK) {
            cache_count(&l2->counters, CACHE_STAT_PUTS, stored);
            if (evicted) cache_count(&l2->counters, CACHE_STAT_EVICTIONS, evicted);
            if (expired) cache_count(&l2->counters, CACHE_STAT_EXPIRATIONS, expired);
            return MCP_OK;
        }
        l2->seq = seq_before;
        if (rc != MCP_ELIMIT || attempt == 2) break;
        int room = make_room(l2);
        if (room) return room;
    }
    return rc;
}

int mcp_cache_l2_put_item(mcp_cache_l2 *l2, const mcp_cache_item *item) {
    return mcp_cache_l2_put_items(l2, item, 1);
}

int mcp_cache_l2_put(mcp_cache_l2 *l2, mcp_str key, mcp_str value, const mcp_cache_entry_opts *opts) {
    if (!l2) return MCP_EINVAL;
    mcp_cache_item it = {.key = key, .value = value};
    uint64_t ttl = opts ? opts->ttl_ms : 0;
    if (ttl && ttl != MCP_CACHE_TTL_NONE) it.expires_ms = l2_now(l2) + ttl;
    if (opts) {
        it.tags = (mcp_str *)opts->tags;
        it.tag_count = opts->tag_count;
        it.deps = (mcp_str *)opts->deps;
        it.dep_count = opts->dep_count;
    }
    return mcp_cache_l2_put_items(l2, &it, 1);
}

/* ---- reads -------------------------------------------------------------------------- */

static void drop_expired(mcp_cache_l2 *l2, mcp_str key) {
    MDB_txn *txn;
    if (mdb_txn_begin(l2->env, NULL, 0, &txn)) return;
    MDB_val k = {key.len, (void *)key.ptr}, v;
    record r;
    /* Check again: another thread may have written a fresh value meanwhile. */
    bool still_expired = false;
    if (mdb_get(txn, l2->entries, &k, &v) == 0) {
        record_read(&v, &r);
        still_expired = r.expires_ms && r.expires_ms <= l2_now(l2);
    }
    if (!still_expired || del_entry(l2, txn, key) != MCP_OK) {
        mdb_txn_abort(txn);
        return;
    }
    if (mdb_txn_commit(txn) == 0) cache_count(&l2->counters, CACHE_STAT_EXPIRATIONS, 1);
}

/* Copies the live record of key out through copy_out; MCP_ENOTFOUND when
 * absent or expired (an expired one is deleted). */
typedef int (*record_sink)(const MDB_val *v, const record *r, void *arg);

static int read_record(mcp_cache_l2 *l2, mcp_str key, record_sink sink, void *arg) {
    if (!l2 || !key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    uint64_t now = l2_now(l2);
    MDB_txn *txn;
    int rc = mdb_txn_begin(l2->env, NULL, MDB_RDONLY, &txn);
    if (rc) return map_err(rc, "begin read");
    MDB_val k = {key.len, (void *)key.ptr}, v;
    bool expired = false;
    rc = mdb_get(txn, l2->entries, &k, &v);
    if (rc == 0) {
        record r;
        record_read(&v, &r);
        if (r.expires_ms && r.expires_ms <= now) {
            expired = true;
            rc = MCP_ENOTFOUND;
        } else {
            rc = sink(&v, &r, arg);
        }
    } else {
        rc = map_err(rc, "get");
    }
    mdb_txn_abort(txn);
    if (expired) drop_expired(l2, key);
    cache_count(&l2->counters, rc == MCP_OK ? CACHE_STAT_HITS : CACHE_STAT_MISSES, 1);
    return rc;
}

static int sink_value(const MDB_val *v, const record *r, void *arg) {
    return mcp_buf_append(arg, (const char *)v->mv_data + RECORD_HEADER, r->value_len);
}

int mcp_cache_l2_get(mcp_cache_l2 *l2, mcp_str key, mcp_buf *out) {
    if (!out) return MCP_EINVAL;
    return read_record(l2, key, sink_value, out);
}

typedef struct item_sink {
    mcp_arena *arena;
    mcp_cache_item *item;
    mcp_str key;
} item_sink;

static int sink_item(const MDB_val *v, const record *r, void *arg) {
    item_sink *s = arg;
    size_t body = v->mv_size - RECORD_HEADER;
    char *copy = mcp_arena_alloc(s->arena, s->key.len + body);
    mcp_str *lists = mcp_arena_alloc(s->arena, ((size_t)r->tag_count + r->dep_count + 1) * sizeof *lists);
    if (!copy || !lists) return MCP_ENOMEM;
    memcpy(copy, s->key.ptr, s->key.len);
    memcpy(copy + s->key.len, (const char *)v->mv_data + RECORD_HEADER, body);
    mcp_cache_item *it = s->item;
    it->key = (mcp_str){copy, s->key.len};
    it->value = (mcp_str){copy + s->key.len, r->value_len};
    it->expires_ms = r->expires_ms;
    it->tags = lists;
    it->tag_count = r->tag_count;
    it->deps = lists + r->tag_count;
    it->dep_count = r->dep_count;
    const char *p = copy + s->key.len + r->value_len;
    cache_meta_decode(&p, it->tags, it->tag_count);
    cache_meta_decode(&p, it->deps, it->dep_count);
    return MCP_OK;
}

int mcp_cache_l2_get_item(mcp_cache_l2 *l2, mcp_str key, mcp_arena *arena, mcp_cache_item *item) {
    if (!arena || !item) return MCP_EINVAL;
    item_sink s = {arena, item, key};
    return read_record(l2, key, sink_item, &s);
}

/* ---- invalidation -------------------------------------------------------------------- */

/* Adds every duplicate of name to set, through an open cursor. */
static int collect_dups(MDB_cursor *cur, mcp_str name, cache_keyset *set) {
    MDB_val k = {name.len, (void *)name.ptr}, v;
    int rc, out = MCP_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        out = cache_keyset_add(set, (mcp_str){v.mv_data, v.mv_size});
        if (out < 0) break;
        out = MCP_OK;
    }
    if (out == MCP_OK && rc != 0 && rc != MDB_NOTFOUND) out = map_err(rc, "scan");
    return out;
}

int cache_l2_collect_tag(mcp_cache_l2 *l2, mcp_str tag, cache_keyset *set, size_t *removed) {
    MDB_txn *txn;
    int rc = map_err(mdb_txn_begin(l2->env, NULL, 0, &txn), "begin");
    if (rc) return rc;
    /* The tag's rows go into a set of this tier's own: keys another tier
     * already put into set are still to be deleted here, in this
     * transaction, where the dependency walk would pay a second pass. */
    cache_keyset rows;
    cache_keyset_init(&rows);
    size_t n = 0;
    MDB_cursor *cur;
    rc = map_err(mdb_cursor_open(txn, l2->tags, &cur), "cursor");
    if (rc == MCP_OK) {
        rc = collect_dups(cur, tag, &rows);
        mdb_cursor_close(cur);
    }
    /* The tag's whole row list goes in one delete; del_entry then finds
     * those rows gone, which it accepts. */
    MDB_val tk = {tag.len, (void *)tag.ptr};
    if (rc == MCP_OK && rows.count) {
        int d = mdb_del(txn, l2->tags, &tk, NULL);
        if (d && d != MDB_NOTFOUND) rc = map_err(d, "delete tag");
    }
    del_cursors dc = {0};
    if (rc == MCP_OK) rc = del_cursors_open(l2, txn, &dc);
    for (size_t i = 0; i < rows.count && rc == MCP_OK; i++) {
        if (cache_keyset_add(set, rows.keys[i]) < 0) rc = MCP_ENOMEM;
        int d = rc ? rc : del_entry_with(l2, txn, &dc, rows.keys[i]);
        if (d == MCP_OK) n++;
        else if (d != MCP_ENOTFOUND) rc = d;
    }
    del_cursors_close(&dc);
    cache_keyset_free(&rows);
    if (rc == MCP_OK) rc = map_err(mdb_txn_commit(txn), "commit");
    else mdb_txn_abort(txn);
    if (rc == MCP_OK) {
        cache_count(&l2->counters, CACHE_STAT_INVALIDATIONS, n);
        if (removed) *removed += n;
    }
    return rc;
}

int cache_l2_invalidate_set(mcp_cache_l2 *l2, cache_keyset *set, size_t *cursor, size_t *removed) {
    if (*cursor >= set->count) return MCP_OK;
    MDB_txn *txn;
    int rc = map_err(mdb_txn_begin(l2->env, NULL, 0, &txn), "begin");
    if (rc) return rc;
    MDB_cursor *deps = NULL;
    del_cursors dc;
    rc = del_cursors_open(l2, txn, &dc);
    if (!rc) rc = map_err(mdb_cursor_open(txn, l2->deps, &deps), "cursor");
    if (rc) {
        del_cursors_close(&dc);
        mdb_txn_abort(txn);
        return rc;
    }
    size_t n = 0;
    while (*cursor < set->count && rc == MCP_OK) {
        mcp_str key = set->keys[(*cursor)++];
        int d = del_entry_with(l2, txn, &dc, key);
        if (d == MCP_OK) n++;
        else if (d != MCP_ENOTFOUND) rc = d;
        /* The cursor stays valid across the deletes: LMDB fixes up open
         * cursors of the same transaction. */
        if (rc == MCP_OK) rc = collect_dups(deps, key, set);
    }
    mdb_cursor_close(deps);
    del_cursors_close(&dc);
    if (rc == MCP_OK) rc = map_err(mdb_txn_commit(txn), "commit");
    else mdb_txn_abort(txn);
    if (rc == MCP_OK) {
        cache_count(&l2->counters, CACHE_STAT_INVALIDATIONS, n);
        if (removed) *removed += n;
    }
    return rc;
}

int mcp_cache_l2_invalidate_tag(mcp_cache_l2 *l2, mcp_str tag, size_t *removed) {
    if (removed) *removed = 0;
    if (!l2 || !tag.ptr || !tag.len || tag.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    cache_keyset set;
    cache_keyset_init(&set);
    size_t cursor = 0;
    int rc = cache_l2_collect_tag(l2, tag, &set, removed);
    if (!rc) rc = cache_l2_invalidate_set(l2, &set, &cursor, removed);
    cache_keyset_free(&set);
    return rc;
}

int mcp_cache_l2_invalidate_key(mcp_cache_l2 *l2, mcp_str key, size_t *removed) {
    if (removed) *removed = 0;
    if (!l2 || !key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX) return MCP_EINVAL;
    cache_keyset set;
    cache_keyset_init(&set);
    size_t cursor = 0;
    int rc = cache_keyset_add(&set, key);
    if (rc >= 0) rc = cache_l2_invalidate_set(l2, &set, &cursor, removed);
    cache_keyset_free(&set);
    return rc;
}

size_t mcp_cache_l2_sweep(mcp_cache_l2 *l2) {
    if (!l2) return 0;
    MDB_txn *txn;
    if (mdb_txn_begin(l2->env, NULL, 0, &txn)) return 0;
    size_t n = 0;
    if (delete_from_front(l2, txn, l2->expiry, l2_now(l2), SIZE_MAX, &n) != MCP_OK) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (mdb_txn_commit(txn)) return 0;
    cache_count(&l2->counters, CACHE_STAT_EXPIRATIONS, n);
    return n;
}

void mcp_cache_l2_stats(mcp_cache_l2 *l2, mcp_cache_stats *out) {
    if (!l2 || !out) return;
    memset(out, 0, sizeof *out);
    cache_counters_sum(&l2->counters, out);
    MDB_txn *txn;
    if (mdb_txn_begin(l2->env, NULL, MDB_RDONLY, &txn) == 0) {
        out->entries = entry_count(l2, txn);
        mdb_txn_abort(txn);
    }
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(l2->env, &info) == 0 && mdb_env_stat(l2->env, &st) == 0)
        out->bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int mcp_cache_l2_default_path(mcp_buf *out) {
    if (!out) return MCP_EINVAL;
    mcp_buf_reset(out);
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    /* The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored. */
    if (xdg && xdg[0] == '/') return mcp_buf_appendf(out, "%s/mcpd/cache", xdg);
    if (home && home[0] == '/') return mcp_buf_appendf(out, "%s/.local/share/mcpd/cache", home);
    mcp_log(MCP_LOG_ERROR, "cache l2: no directory given and neither XDG_DATA_HOME nor HOME is an absolute path");
    return MCP_EINVAL;
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc && errno != EEXIST) return MCP_EIO;
    }
    if (mkdir(path, 0700) && errno != EEXIST) return MCP_EIO;
    return MCP_OK;
}

static int open_dbs(mcp_cache_l2 *l2) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(l2->env, NULL, 0, &txn);
    if (rc) return map_err(rc, "begin");
    if (!rc) rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &l2->entries);
    if (!rc) rc = mdb_dbi_open(txn, "tags", MDB_CREATE | MDB_DUPSORT, &l2->tags);
    if (!rc) rc = mdb_dbi_open(txn, "deps", MDB_CREATE | MDB_DUPSORT, &l2->deps);
    if (!rc) rc = mdb_dbi_open(txn, "age", MDB_CREATE, &l2->age);
    if (!rc) rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &l2->expiry);
    if (!rc) {
        /* Continue the write sequence after the newest stored entry. */
        MDB_cursor *cur;
        MDB_val k, v;
        rc = mdb_cursor_open(txn, l2->age, &cur);
        if (!rc) {
            int last = mdb_cursor_get(cur, &k, &v, MDB_LAST);
            if (last == 0 && k.mv_size == 8) l2->seq = get_be64(k.mv_data) + 1;
            else if (last != MDB_NOTFOUND) rc = last;
            mdb_cursor_close(cur);
        }
    }
    if (rc) {
        mdb_txn_abort(txn);
        return map_err(rc, "open databases");
    }
    return map_err(mdb_txn_commit(txn), "commit");
}

int mcp_cache_l2_open(const mcp_cache_l2_opts *opts, mcp_cache_l2 **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_cache_l2_opts o = opts ? *opts : (mcp_cache_l2_opts){0};
    mcp_buf path;
    mcp_buf_init(&path);
    int rc = o.path ? mcp_buf_append_cstr(&path, o.path) : mcp_cache_l2_default_path(&path);
    if (!rc && !path.len) rc = MCP_EINVAL;
    if (!rc && mkdir_p(path.data) != MCP_OK) {
        mcp_log(MCP_LOG_ERROR, "cache l2: cannot create %s: %s", path.data, strerror(errno));
        rc = MCP_EIO;
    }
    struct stat st;
    if (!rc && stat(path.data, &st) != 0) rc = MCP_EIO;
    if (rc) {
        mcp_buf_free(&path);
        return rc;
    }
    mcp_cache_l2 *l2 = aligned_alloc(64, (sizeof *l2 + 63) / 64 * 64);
    if (!l2) {
        mcp_buf_free(&path);
        return MCP_ENOMEM;
    }
    memset(l2, 0, sizeof *l2);
    l2->max_entries = o.max_entries;
    l2->clock = o.clock ? o.clock : cache_clock_default;
    l2->clock_user = o.clock_user;
    l2->dev = st.st_dev;
    l2->ino = st.st_ino;
    pthread_mutex_lock(&open_lock);
    for (mcp_cache_l2 *p = open_list; p; p = p->next_open) {
        if (p->dev == l2->dev && p->ino == l2->ino) {
            pthread_mutex_unlock(&open_lock);
            mcp_log(MCP_LOG_ERROR, "cache l2: %s is already open in this process", path.data);
            mcp_buf_free(&path);
            free(l2);
            return MCP_EEXIST;
        }
    }
    l2->next_open = open_list;
    open_list = l2;
    pthread_mutex_unlock(&open_lock);

    unsigned flags = MDB_NOTLS | (o.durable ? 0 : MDB_NOSYNC);
    int mrc = mdb_env_create(&l2->env);
    if (!mrc) mrc = mdb_env_set_maxdbs(l2->env, 8);
    if (!mrc) mrc = mdb_env_set_mapsize(l2->env, o.map_size ? o.map_size : DEFAULT_MAP_SIZE);
    if (!mrc) mrc = mdb_env_open(l2->env, path.data, flags, 0600);
    rc = mrc ? map_err(mrc, "open environment") : open_dbs(l2);
    MDB_envinfo info;
    MDB_stat est;
    if (!rc && mdb_env_info(l2->env, &info) == 0 && mdb_env_stat(l2->env, &est) == 0) {
        l2->page_size = est.ms_psize;
        l2->map_pages = info.me_mapsize / est.ms_psize;
    }
    if (rc) mcp_log(MCP_LOG_ERROR, "cache l2: cannot open %s", path.data);
    mcp_buf_free(&path);
    if (rc) {
        mcp_cache_l2_close(l2);
        return rc;
    }
    *out = l2;
    return MCP_OK;
}

void mcp_cache_l2_close(mcp_cache_l2 *l2) {
    if (!l2) return;
    pthread_mutex_lock(&open_lock);
    for (mcp_cache_l2 **pp = &open_list; *pp; pp = &(*pp)->next_open) {
        if (*pp == l2) {
            *pp = l2->next_open;
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
    if (l2->env) {
        /* Without fsync on commit, sync once here so a clean close loses nothing. */
        mdb_env_sync(l2->env, 1);
        mdb_env_close(l2->env);
    }
    free(l2);
}
