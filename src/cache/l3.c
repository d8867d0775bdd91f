/*
 * L3: the response cache in Redis, through hiredis' asynchronous client.
 *
 * Redis layout, under a prefix (default "mcpd:cache:"):
 *   v:<key>  the entry: version byte, absolute expiry (u64), tag and dep
 *            counts (u16 each), tags and deps as the other tiers encode
 *            them, then the value; written with PX so Redis drops it
 *   t:<tag>  set of keys carrying the tag
 *   d:<key>  set of keys derived from key
 * A set's expiry is only ever extended (PEXPIRE NX, then GT), so it lives
 * as long as its longest-lived member; entries that never expire give
 * their sets ten years. Stale members (entries gone by TTL) are harmless:
 * invalidation deletes what is there.
 *
 * A put is one MULTI/EXEC so that a concurrent invalidation never sees the
 * value without its set memberships. Invalidation is one script that walks
 * the tag set and the dependency sets breadth-first inside Redis, deletes
 * what it reaches and returns the keys, so the facade can drop them above
 * and other nodes hear of them: one round trip however deep the graph.
 *
 * Threads: callers build the commands (RESP) on their own thread and queue
 * them; the loop thread hands them to hiredis, which writes everything
 * queued in one go (pipelining) and calls back in order. Each operation
 * carries a deadline from the moment it was started; one timer fails the
 * overdue ones, and a run of timeouts drops the connection (a stopped
 * server keeps the socket open; only a reconnect can tell).
 */
#include "cache/l3_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PREFIX "mcpd:cache:"
#define ENTRY_VERSION 1
#define ENTRY_HEADER (1 + 8 + 2 + 2)
#define MAX_LIST 64                                  /* tags or deps per entry, as the other tiers */
#define SET_TTL_NEVER_MS (10ull * 365 * 24 * 3600 * 1000) /* sets of entries that never expire */

/* Breadth-first over the tag set and the dependency sets; ARGV: prefix,
 * tag ('' for none), keys... Returns {entries deleted, keys reached...}. */
static const char INVALIDATE_SCRIPT[] =
    "local p = ARGV[1]\n"
    "local seen, queue, removed = {}, {}, 0\n"
    "local function add(k) if not seen[k] then seen[k] = true; queue[#queue + 1] = k end end\n"
    "if ARGV[2] ~= '' then\n"
    "  local t = p .. 't:' .. ARGV[2]\n"
    "  for _, k in ipairs(redis.call('SMEMBERS', t)) do add(k) end\n"
    "  redis.call('DEL', t)\n"
    "end\n"
    "for i = 3, #ARGV do add(ARGV[i]) end\n"
    "local i = 1\n"
    "while i <= #queue do\n"
    "  local k = queue[i]\n"
    "  i = i + 1\n"
    "  removed = removed + redis.call('DEL', p .. 'v:' .. k)\n"
    "  local d = p .. 'd:' .. k\n"
    "  for _, m in ipairs(redis.call('SMEMBERS', d)) do add(m) end\n"
    "  redis.call('DEL', d)\n"
    "end\n"
    "table.insert(queue, 1, removed)\n"
    "return queue\n";

typedef struct l3_job {
    struct l3_job *next;
    l3_loop_fn fn;
    void *arg;
} l3_job;

typedef enum op_kind { OP_GET, OP_PUT, OP_INVALIDATE, OP_PUBLISH } op_kind;

typedef struct l3_op {
    l3_job job;
    op_kind kind;
    struct l3_op *prev, *next; /* outstanding, in issue order (loop thread) */
    bool linked, finished, hiredis_holds;
    uint64_t deadline_ns;
    mcp_cache_done_fn done;
    void (*set_done)(void *user, int rc, const mcp_str *reached, size_t count);
    void (*pub_done)(void *user, int rc);
    void *user;
    mcp_buf cmds;
    size_t *ends;
    size_t count;
    size_t key_at, key_len; /* a get's key, inside cmds */
} l3_op;

enum { ST_GETS, ST_HITS, ST_MISSES, ST_PUTS, ST_INVALIDATIONS, ST_FAILURES, ST_TIMEOUTS, ST_UNAVAILABLE,
       ST_MALFORMED, ST_CONNECTS, ST_DISCONNECTS, ST_COUNT };

struct mcp_cache_l3 {
    mcp_cache_tier tier;       /* first: the tier callbacks get it back */
    char *host;
    int port;
    mcp_str prefix, pv, pt, pd; /* prefix, and prefix with "v:", "t:", "d:" */
    char *names;
    uint64_t timeout_ms, connect_timeout_ms, backoff_min_ms, backoff_max_ms;
    unsigned timeouts_to_drop;
    size_t max_queued;
    mcp_cache_clock_fn clock;
    void *clock_user;

    uv_loop_t own_loop;
    uv_loop_t *loop;
    bool own;
    uv_thread_t thread, loop_thread;
    uv_sem_t started;
    uv_async_t wake;
    uv_timer_t deadline;
    int open_handles;          /* wake, deadline, link: freed when the last closes */

    pthread_mutex_t lock;
    l3_job *head, *tail;
    bool closing;              /* under lock: no new jobs */
    bool shut;                 /* loop thread: shutdown ran */

    l3_link link;
    l3_op *out_head, *out_tail;
    unsigned timeouts_in_row;
    atomic_bool connected;
    atomic_size_t in_flight;
    atomic_uint_fast64_t stats[ST_COUNT];
};

static void count(mcp_cache_l3 *l3, int which) {
    atomic_fetch_add_explicit(&l3->stats[which], 1, memory_order_relaxed);
}

/* ---- the loop ------------------------------------------------------------------ */

bool l3_on_loop_thread(const mcp_cache_l3 *l3) {
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &l3->loop_thread);
}

void l3_link_defaults(const mcp_cache_l3 *l3, l3_link_opts *o) {
    *o = (l3_link_opts){.loop = l3->loop, .host = l3->host, .port = l3->port,
                        .connect_timeout_ms = l3->connect_timeout_ms, .backoff_min_ms = l3->backoff_min_ms,
                        .backoff_max_ms = l3->backoff_max_ms};
}

static int push_job(mcp_cache_l3 *l3, l3_job *job) {
    job->next = NULL;
    pthread_mutex_lock(&l3->lock);
    if (l3->closing) {
        pthread_mutex_unlock(&l3->lock);
        return MCP_ECLOSED;
    }
    if (l3->tail) l3->tail->next = job;
    else l3->head = job;
    l3->tail = job;
    pthread_mutex_unlock(&l3->lock);
    uv_async_send(&l3->wake);
    return MCP_OK;
}

int l3_run_on_loop(mcp_cache_l3 *l3, l3_loop_fn fn, void *arg) {
    if (l3_on_loop_thread(l3)) {
        if (l3->shut) return MCP_ECLOSED;
        fn(l3, arg);
        return MCP_OK;
    }
    l3_job *job = malloc(sizeof *job);
    if (!job) return MCP_ENOMEM;
    job->fn = fn;
    job->arg = arg;
    /* The job struct itself is freed by the drain after fn ran. */
    int rc = push_job(l3, job);
    if (rc) free(job);
    return rc;
}

/* ---- operations ------------------------------------------------------------------- */

static void op_release(l3_op *op) {
    if (!op->finished || op->hiredis_holds) return;
    mcp_buf_free(&op->cmds);
    free(op->ends);
    free(op);
}

static void out_unlink(mcp_cache_l3 *l3, l3_op *op) {
    if (!op->linked) return;
    if (op->prev) op->prev->next = op->next;
    else l3->out_head = op->next;
    if (op->next) op->next->prev = op->prev;
    else l3->out_tail = op->prev;
    op->linked = false;
}

/* Ends the operation once: tells the caller, who may free what it passed. */
static void op_finish(mcp_cache_l3 *l3, l3_op *op, int rc, const mcp_cache_item *item, const mcp_str *keys,
                      size_t key_count) {
    if (op->finished) return;
    op->finished = true;
    out_unlink(l3, op);
    if (rc != MCP_OK && rc != MCP_ENOTFOUND) count(l3, ST_FAILURES);
    if (rc == MCP_ETIMEDOUT) count(l3, ST_TIMEOUTS);
    atomic_fetch_sub(&l3->in_flight, 1);
    switch (op->kind) {
    case OP_GET:
    case OP_PUT: op->done(op->user, rc, item); break;
    case OP_INVALIDATE: op->set_done(op->user, rc, keys, key_count); break;
    case OP_PUBLISH: op->pub_done(op->user, rc); break;
    }
    op_release(op);
}

static uint64_t ms_until(uint64_t deadline_ns) {
    uint64_t now = mcp_now_ns();
    return deadline_ns > now ? (deadline_ns - now + 999999) / 1000000 : 0;
}

static void deadline_cb(uv_timer_t *t);

static void arm_deadline(mcp_cache_l3 *l3) {
    if (l3->out_head) uv_timer_start(&l3->deadline, deadline_cb, ms_until(l3->out_head->deadline_ns), 0);
    else uv_timer_stop(&l3->deadline);
}

static void deadline_cb(uv_timer_t *t) {
    mcp_cache_l3 *l3 = t->data;
    uint64_t now = mcp_now_ns();
    while (l3->out_head && l3->out_head->deadline_ns <= now) {
        l3->timeouts_in_row++;
        op_finish(l3, l3->out_head, MCP_ETIMEDOUT, NULL, NULL, 0);
    }
    if (l3->timeouts_in_row >= l3->timeouts_to_drop && l3->link.ac) {
        mcp_log(MCP_LOG_WARNING, "cache l3: %u operations in a row timed out; reconnecting to %s:%d",
                l3->timeouts_in_row, l3->host, l3->port);
        l3->timeouts_in_row = 0;
        l3_link_drop(&l3->link);
    }
    arm_deadline(l3);
}

/* Decodes an entry; slices point into data. */
static int decode_entry(mcp_cache_l3 *l3, mcp_str key, const char *data, size_t len, mcp_str *lists,
                        mcp_cache_item *item) {
    if (len < ENTRY_HEADER || data[0] != ENTRY_VERSION) return MCP_EPROTO;
    uint64_t expires;
    uint16_t tags, deps;
    memcpy(&expires, data + 1, 8);
    memcpy(&tags, data + 9, 2);
    memcpy(&deps, data + 11, 2);
    if (tags > MAX_LIST || deps > MAX_LIST) return MCP_EPROTO;
    const char *p = data + ENTRY_HEADER, *end = data + len;
    for (size_t i = 0; i < (size_t)tags + deps; i++) {
        uint16_t n;
        if (end - p < 2) return MCP_EPROTO;
        memcpy(&n, p, 2);
        if (!n || n > MCP_CACHE_KEY_MAX || (size_t)(end - p - 2) < n) return MCP_EPROTO;
        lists[i] = (mcp_str){p + 2, n};
        p += 2 + n;
    }
    if (expires && expires <= l3->clock(l3->clock_user)) return MCP_ENOTFOUND;
    *item = (mcp_cache_item){.key = key, .value = {p, (size_t)(end - p)}, .expires_ms = expires,
                             .tags = lists, .tag_count = tags, .deps = lists + tags, .dep_count = deps};
    return MCP_OK;
}

static void reply_get(mcp_cache_l3 *l3, l3_op *op, redisReply *r) {
    if (r->type == REDIS_REPLY_NIL) {
        count(l3, ST_MISSES);
        op_finish(l3, op, MCP_ENOTFOUND, NULL, NULL, 0);
        return;
    }
    if (r->type != REDIS_REPLY_STRING) {
        op_finish(l3, op, MCP_EPROTO, NULL, NULL, 0);
        return;
    }
    mcp_str key = {op->cmds.data + op->key_at, op->key_len};
    mcp_str lists[2 * MAX_LIST];
    mcp_cache_item item;
    int rc = decode_entry(l3, key, r->str, r->len, lists, &item);
    if (rc == MCP_EPROTO) {
        count(l3, ST_MALFORMED);
        mcp_log(MCP_LOG_WARNING, "cache l3: entry under %.*s is not ours or damaged", (int)l3->prefix.len,
                l3->prefix.ptr);
    }
    count(l3, rc == MCP_OK ? ST_HITS : ST_MISSES);
    op_finish(l3, op, rc, rc == MCP_OK ? &item : NULL, NULL, 0);
}

static void reply_invalidate(mcp_cache_l3 *l3, l3_op *op, redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        if (r->type == REDIS_REPLY_ERROR) mcp_log(MCP_LOG_WARNING, "cache l3: invalidation script: %s", r->str);
        op_finish(l3, op, MCP_EPROTO, NULL, NULL, 0);
        return;
    }
    size_t n = r->elements - 1;
    mcp_str *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) {
        op_finish(l3, op, MCP_ENOMEM, NULL, NULL, 0);
        return;
    }
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *e = r->element[i + 1];
        if (e->type == REDIS_REPLY_STRING && e->len && e->len <= MCP_CACHE_KEY_MAX)
            keys[got++] = (mcp_str){e->str, e->len};
    }
    atomic_fetch_add_explicit(&l3->stats[ST_INVALIDATIONS], (uint64_t)r->element[0]->integer, memory_order_relaxed);
    op_finish(l3, op, MCP_OK, NULL, keys, got);
    free(keys);
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *privdata) {
    l3_op *op = privdata;
    mcp_cache_l3 *l3 = ((l3_link *)ac->data)->o.user;
    redisReply *r = reply;
    op->hiredis_holds = false;
    if (r) l3->timeouts_in_row = 0;
    if (op->finished) {
        op_release(op);
        return;
    }
    if (!r) {
        op_finish(l3, op, l3->shut ? MCP_ECANCELED : MCP_ECLOSED, NULL, NULL, 0);
        return;
    }
    switch (op->kind) {
    case OP_GET: reply_get(l3, op, r); break;
    case OP_PUT:
        /* EXEC: an array of the commands' replies; nil if aborted. */
        op_finish(l3, op, r->type == REDIS_REPLY_ARRAY ? MCP_OK : MCP_EIO, NULL, NULL, 0);
        break;
    case OP_INVALIDATE: reply_invalidate(l3, op, r); break;
    case OP_PUBLISH: op_finish(l3, op, r->type == REDIS_REPLY_INTEGER ? MCP_OK : MCP_EIO, NULL, NULL, 0); break;
    }
}

/* Loop thread: hand the operation's commands to hiredis. */
static void op_issue(mcp_cache_l3 *l3, void *arg) {
    l3_op *op = arg;
    if (l3->shut) {
        op_finish(l3, op, MCP_ECANCELED, NULL, NULL, 0);
        return;
    }
    if (!l3->link.up) {
        count(l3, ST_UNAVAILABLE);
        op_finish(l3, op, MCP_ECLOSED, NULL, NULL, 0);
        return;
    }
    if (mcp_now_ns() >= op->deadline_ns) {
        op_finish(l3, op, MCP_ETIMEDOUT, NULL, NULL, 0);
        return;
    }
    size_t from = 0;
    for (size_t i = 0; i < op->count; i++) {
        bool last = i + 1 == op->count;
        int r = redisAsyncFormattedCommand(l3->link.ac, last ? reply_cb : NULL, last ? op : NULL,
                                           op->cmds.data + from, op->ends[i] - from);
        if (r != REDIS_OK) {
            /* A MULTI may be open on the connection: it cannot be trusted. */
            op_finish(l3, op, MCP_EIO, NULL, NULL, 0);
            if (i) l3_link_drop(&l3->link);
            return;
        }
        from = op->ends[i];
    }
    op->hiredis_holds = true;
    op->prev = l3->out_tail;
    op->next = NULL;
    if (l3->out_tail) l3->out_tail->next = op;
    else l3->out_head = op;
    l3->out_tail = op;
    op->linked = true;
    if (l3->out_head == op) arm_deadline(l3);
}

static l3_op *op_new(op_kind kind) {
    l3_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->kind = kind;
    mcp_buf_init(&op->cmds);
    return op;
}

/* Queues op for the loop: MCP_PENDING, or an error (counted) and op freed. */
static int op_submit(mcp_cache_l3 *l3, l3_op *op, l3_cmd_writer *w) {
    int rc = w->rc;
    op->ends = w->ends;
    op->count = w->count;
    if (!rc && !atomic_load(&l3->connected)) {
        count(l3, ST_UNAVAILABLE);
        rc = MCP_ECLOSED;
    }
    if (!rc && atomic_fetch_add(&l3->in_flight, 1) >= l3->max_queued) {
        atomic_fetch_sub(&l3->in_flight, 1);
        rc = MCP_EAGAIN;
    }
    if (!rc) {
        op->deadline_ns = mcp_now_ns() + l3->timeout_ms * 1000000;
        op->job.fn = op_issue;
        op->job.arg = op;
        rc = push_job(l3, &op->job);
        if (rc) atomic_fetch_sub(&l3->in_flight, 1);
    }
    if (rc) {
        count(l3, ST_FAILURES);
        mcp_buf_free(&op->cmds);
        free(op->ends);
        free(op);
        return rc;
    }
    return MCP_PENDING;
}

static mcp_cache_l3 *tier_l3(mcp_cache_tier *tier) {
    return (mcp_cache_l3 *)tier; /* tier is the first member */
}

static int tier_get(mcp_cache_tier *tier, mcp_str key, mcp_arena *arena, mcp_cache_item *item,
                    mcp_cache_done_fn done, void *done_user) {
    (void)arena;
    (void)item;
    mcp_cache_l3 *l3 = tier_l3(tier);
    if (!key.ptr || !key.len || key.len > MCP_CACHE_KEY_MAX || !done) return MCP_EINVAL;
    count(l3, ST_GETS);
    l3_op *op = op_new(OP_GET);
    if (!op) return MCP_ENOMEM;
    op->done = done;
    op->user = done_user;
    l3_cmd_writer w = {.buf = &op->cmds};
    l3_cmd_begin(&w, 2);
    l3_cmd_arg(&w, "GET", 3);
    l3_cmd_arg2(&w, l3->pv, key);
    op->key_at = op->cmds.len - 2 - key.len;
    op->key_len = key.len;
    l3_cmd_end(&w);
    return op_submit(l3, op, &w);
}

static void add_membership(l3_cmd_writer *w, mcp_str set_prefix, mcp_str set, mcp_str key, uint64_t set_ttl) {
    l3_cmd_begin(w, 3);
    l3_cmd_arg(w, "SADD", 4);
    l3_cmd_arg2(w, set_prefix, set);
    l3_cmd_arg(w, key.ptr, key.len);
    l3_cmd_end(w);
    /* NX gives a new set its first expiry; GT only ever extends it. */
    static const char *const modes[2] = {"NX", "GT"};
    for (int m = 0; m < 2; m++) {
        l3_cmd_begin(w, 4);
        l3_cmd_arg(w, "PEXPIRE", 7);
        l3_cmd_arg2(w, set_prefix, set);
        l3_cmd_arg_u64(w, set_ttl);
        l3_cmd_arg(w, modes[m], 2);
        l3_cmd_end(w);
    }
}

static int tier_put(mcp_cache_tier *tier, const mcp_cache_item *it, mcp_cache_done_fn done, void *done_user) {
    mcp_cache_l3 *l3 = tier_l3(tier);
    if (!it || !done) return MCP_EINVAL;
    int rc = cache_check_entry(it->key, it->tags, it->tag_count, it->deps, it->dep_count);
    if (rc) return rc;
    uint64_t ttl = 0;
    if (it->expires_ms) {
        uint64_t now = l3->clock(l3->clock_user);
        if (it->expires_ms <= now) return MCP_OK; /* nothing left to keep */
        ttl = it->expires_ms - now;
    }
    count(l3, ST_PUTS);
    l3_op *op = op_new(OP_PUT);
    if (!op) return MCP_ENOMEM;
    op->done = done;
    op->user = done_user;
    size_t meta = cache_meta_size(it->tags, it->tag_count, it->deps, it->dep_count);
    char *entry = malloc(ENTRY_HEADER + meta + it->value.len);
    if (!entry) {
        free(op);
        return MCP_ENOMEM;
    }
    entry[0] = ENTRY_VERSION;
    uint16_t tags = (uint16_t)it->tag_count, deps = (uint16_t)it->dep_count;
    memcpy(entry + 1, &it->expires_ms, 8);
    memcpy(entry + 9, &tags, 2);
    memcpy(entry + 11, &deps, 2);
    cache_meta_encode(entry + ENTRY_HEADER, it->tags, it->tag_count, it->deps, it->dep_count);
    if (it->value.len) memcpy(entry + ENTRY_HEADER + meta, it->value.ptr, it->value.len);

    l3_cmd_writer w = {.buf = &op->cmds};
    l3_cmd_begin(&w, 1);
    l3_cmd_arg(&w, "MULTI", 5);
    l3_cmd_end(&w);
    l3_cmd_begin(&w, ttl ? 5 : 3);
    l3_cmd_arg(&w, "SET", 3);
    l3_cmd_arg2(&w, l3->pv, it->key);
    l3_cmd_arg(&w, entry, ENTRY_HEADER + meta + it->value.len);
    if (ttl) {
        l3_cmd_arg(&w, "PX", 2);
        l3_cmd_arg_u64(&w, ttl);
    }
    l3_cmd_end(&w);
    free(entry);
    uint64_t set_ttl = ttl ? ttl : SET_TTL_NEVER_MS;
    for (size_t i = 0; i < it->tag_count; i++) add_membership(&w, l3->pt, it->tags[i], it->key, set_ttl);
    for (size_t i = 0; i < it->dep_count; i++) add_membership(&w, l3->pd, it->deps[i], it->key, set_ttl);
    l3_cmd_begin(&w, 1);
    l3_cmd_arg(&w, "EXEC", 4);
    l3_cmd_end(&w);
    return op_submit(l3, op, &w);
}

static int tier_invalidate_set(mcp_cache_tier *tier, mcp_str tag, const mcp_str *keys, size_t key_count,
                               void (*done)(void *, int, const mcp_str *, size_t), void *done_user) {
    mcp_cache_l3 *l3 = tier_l3(tier);
    if (!done || (key_count && !keys) || tag.len > MCP_CACHE_KEY_MAX || (tag.len && !tag.ptr)) return MCP_EINVAL;
    if (!tag.len && !key_count) return MCP_OK;
    l3_op *op = op_new(OP_INVALIDATE);
    if (!op) return MCP_ENOMEM;
    op->set_done = done;
    op->user = done_user;
    l3_cmd_writer w = {.buf = &op->cmds};
    l3_cmd_begin(&w, (int)(5 + key_count));
    l3_cmd_arg(&w, "EVAL", 4);
    l3_cmd_arg(&w, INVALIDATE_SCRIPT, sizeof INVALIDATE_SCRIPT - 1);
    l3_cmd_arg(&w, "0", 1);
    l3_cmd_arg(&w, l3->prefix.ptr, l3->prefix.len);
    l3_cmd_arg(&w, tag.ptr, tag.len);
    for (size_t i = 0; i < key_count; i++) l3_cmd_arg(&w, keys[i].ptr, keys[i].len);
    l3_cmd_end(&w);
    return op_submit(l3, op, &w);
}

/* The single-key forms, for callers of the basic slot interface. */
typedef struct single_wait {
    mcp_cache_done_fn done;
    void *user;
} single_wait;

static void single_done(void *user, int rc, const mcp_str *keys, size_t count) {
    (void)keys;
    (void)count;
    single_wait *s = user;
    s->done(s->user, rc, NULL);
    free(s);
}

static int invalidate_one(mcp_cache_tier *tier, mcp_str tag, mcp_str key, mcp_cache_done_fn done, void *user) {
    single_wait *s = malloc(sizeof *s);
    if (!s) return MCP_ENOMEM;
    *s = (single_wait){done, user};
    int rc = tier_invalidate_set(tier, tag, key.len ? &key : NULL, key.len ? 1 : 0, single_done, s);
    if (rc != MCP_PENDING) free(s);
    return rc;
}

static int tier_invalidate_tag(mcp_cache_tier *tier, mcp_str tag, mcp_cache_done_fn done, void *user) {
    if (!tag.len || !done) return MCP_EINVAL;
    return invalidate_one(tier, tag, (mcp_str){NULL, 0}, done, user);
}

static int tier_invalidate_key(mcp_cache_tier *tier, mcp_str key, mcp_cache_done_fn done, void *user) {
    if (!key.len || !done) return MCP_EINVAL;
    return invalidate_one(tier, (mcp_str){NULL, 0}, key, done, user);
}

int l3_publish(mcp_cache_l3 *l3, mcp_str channel, mcp_str message, void (*done)(void *user, int rc), void *user) {
    l3_op *op = op_new(OP_PUBLISH);
    if (!op) return MCP_ENOMEM;
    op->pub_done = done;
    op->user = user;
    l3_cmd_writer w = {.buf = &op->cmds};
    l3_cmd_begin(&w, 3);
    l3_cmd_arg(&w, "PUBLISH", 7);
    l3_cmd_arg(&w, channel.ptr, channel.len);
    l3_cmd_arg(&w, message.ptr, message.len);
    l3_cmd_end(&w);
    int rc = op_submit(l3, op, &w);
    return rc == MCP_PENDING ? MCP_OK : rc;
}

/* ---- connection events ---------------------------------------------------------------- */

static void link_up(l3_link *link, void *user) {
    mcp_cache_l3 *l3 = user;
    (void)link;
    l3->timeouts_in_row = 0;
    count(l3, ST_CONNECTS);
    atomic_store(&l3->connected, true);
    mcp_log(MCP_LOG_INFO, "cache l3: connected to %s:%d", l3->host, l3->port);
}

static void link_down(l3_link *link, void *user) {
    mcp_cache_l3 *l3 = user;
    (void)link;
    count(l3, ST_DISCONNECTS);
    atomic_store(&l3->connected, false);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void l3_destroy(mcp_cache_l3 *l3) {
    pthread_mutex_destroy(&l3->lock);
    free(l3->host);
    free(l3->names);
    free(l3);
}

static void one_closed(mcp_cache_l3 *l3) {
    /* An attached tier is freed here; an own loop's thread frees it after the loop ends. */
    if (--l3->open_handles == 0 && !l3->own) l3_destroy(l3);
}

static void handle_closed(uv_handle_t *h) {
    one_closed(h->data);
}

static void link_closed(l3_link *link, void *user) {
    (void)link;
    one_closed(user);
}

static void drain(mcp_cache_l3 *l3);

/* Loop thread: fail everything, close the connection and the handles. */
static void shutdown_on_loop(mcp_cache_l3 *l3) {
    l3->shut = true;
    drain(l3); /* queued operations end with MCP_ECANCELED */
    while (l3->out_head) op_finish(l3, l3->out_head, MCP_ECANCELED, NULL, NULL, 0);
    atomic_store(&l3->connected, false);
    l3_link_stop(&l3->link, link_closed, l3);
    uv_close((uv_handle_t *)&l3->wake, handle_closed);
    uv_close((uv_handle_t *)&l3->deadline, handle_closed);
}

static void drain(mcp_cache_l3 *l3) {
    for (;;) {
        pthread_mutex_lock(&l3->lock);
        l3_job *job = l3->head;
        l3->head = l3->tail = NULL;
        bool closing = l3->closing;
        pthread_mutex_unlock(&l3->lock);
        if (!job) {
            if (closing && !l3->shut) shutdown_on_loop(l3);
            return;
        }
        while (job) {
            l3_job *next = job->next;
            bool is_op = job->fn == op_issue;
            l3_loop_fn fn = job->fn;
            void *arg = job->arg;
            if (!is_op) free(job); /* l3_run_on_loop's allocation */
            fn(l3, arg);
            job = next;
        }
    }
}

static void wake_cb(uv_async_t *a) {
    drain(a->data);
}

static void loop_thread(void *arg) {
    mcp_cache_l3 *l3 = arg;
    l3->loop_thread = uv_thread_self();
    uv_sem_post(&l3->started);
    uv_run(l3->loop, UV_RUN_DEFAULT);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int mcp_cache_l3_new(const mcp_cache_l3_opts *opts, mcp_cache_l3 **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_cache_l3_opts o = opts ? *opts : (mcp_cache_l3_opts){0};
    const char *prefix = o.prefix ? o.prefix : DEFAULT_PREFIX;
    size_t plen = strlen(prefix);
    if (o.port < 0 || o.port > 65535 || plen > 200) return MCP_EINVAL;
    mcp_cache_l3 *l3 = calloc(1, sizeof *l3);
    if (!l3) return MCP_ENOMEM;
    l3->tier = (mcp_cache_tier){.name = "redis", .get = tier_get, .put = tier_put,
                                .invalidate_tag = tier_invalidate_tag, .invalidate_key = tier_invalidate_key,
                                .invalidate_set = tier_invalidate_set};
    l3->host = dup_str(o.host ? o.host : "127.0.0.1");
    l3->names = malloc(4 * plen + 6);
    pthread_mutex_init(&l3->lock, NULL);
    if (!l3->host || !l3->names) {
        l3_destroy(l3);
        return MCP_ENOMEM;
    }
    char *p = l3->names;
    const char *suffix[4] = {"", "v:", "t:", "d:"};
    mcp_str *names[4] = {&l3->prefix, &l3->pv, &l3->pt, &l3->pd};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(suffix[i]);
        memcpy(p, prefix, plen);
        memcpy(p + plen, suffix[i], n);
        *names[i] = (mcp_str){p, plen + n};
        p += plen + n;
    }
    l3->port = o.port ? o.port : 6379;
    l3->timeout_ms = o.timeout_ms ? o.timeout_ms : 100;
    l3->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 500;
    l3->backoff_min_ms = o.backoff_min_ms ? o.backoff_min_ms : 25;
    l3->backoff_max_ms = o.backoff_max_ms ? o.backoff_max_ms : 2000;
    if (l3->backoff_max_ms < l3->backoff_min_ms) l3->backoff_max_ms = l3->backoff_min_ms;
    l3->timeouts_to_drop = o.timeouts_to_drop ? o.timeouts_to_drop : 3;
    l3->max_queued = o.max_queued ? o.max_queued : 65536;
    l3->clock = o.clock ? o.clock : cache_clock_default;
    l3->clock_user = o.clock_user;
    l3->own = !o.loop;
    if (l3->own) {
        if (uv_loop_init(&l3->own_loop) != 0) {
            l3_destroy(l3);
            return MCP_EIO;
        }
        l3->loop = &l3->own_loop;
    } else {
        l3->loop = o.loop;
        l3->loop_thread = uv_thread_self();
    }
    uv_async_init(l3->loop, &l3->wake, wake_cb);
    l3->wake.data = l3;
    uv_timer_init(l3->loop, &l3->deadline);
    l3->deadline.data = l3;
    l3->open_handles = 3;
    l3_link_opts lo;
    l3_link_defaults(l3, &lo);
    lo.on_up = link_up;
    lo.on_down = link_down;
    lo.user = l3;
    l3_link_start(&l3->link, &lo);
    if (l3->own) {
        uv_sem_init(&l3->started, 0);
        if (uv_thread_create(&l3->thread, loop_thread, l3) != 0) {
            uv_sem_destroy(&l3->started);
            l3->own = false; /* close on this thread instead */
            l3->loop_thread = uv_thread_self();
            pthread_mutex_lock(&l3->lock);
            l3->closing = true;
            pthread_mutex_unlock(&l3->lock);
            shutdown_on_loop(l3);
            uv_run(&l3->own_loop, UV_RUN_DEFAULT);
            uv_loop_close(&l3->own_loop);
            return MCP_EIO;
        }
        uv_sem_wait(&l3->started);
        uv_sem_destroy(&l3->started);
    }
    *out = l3;
    return MCP_OK;
}

void mcp_cache_l3_free(mcp_cache_l3 *l3) {
    if (!l3) return;
    pthread_mutex_lock(&l3->lock);
    l3->closing = true;
    pthread_mutex_unlock(&l3->lock);
    if (!l3->own) {
        drain(l3); /* on the caller's loop thread, as documented */
        return;
    }
    uv_async_send(&l3->wake);
    uv_thread_join(&l3->thread);
    if (uv_loop_close(&l3->own_loop) != 0) mcp_log(MCP_LOG_WARNING, "cache l3: loop closed with handles open");
    l3_destroy(l3);
}

mcp_cache_tier *mcp_cache_l3_tier(mcp_cache_l3 *l3) {
    return l3 ? &l3->tier : NULL;
}

void mcp_cache_l3_stats(mcp_cache_l3 *l3, mcp_cache_l3_counts *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!l3) return;
    uint64_t v[ST_COUNT];
    for (int i = 0; i < ST_COUNT; i++) v[i] = atomic_load_explicit(&l3->stats[i], memory_order_relaxed);
    *out = (mcp_cache_l3_counts){.gets = v[ST_GETS], .hits = v[ST_HITS], .misses = v[ST_MISSES], .puts = v[ST_PUTS],
                                .invalidations = v[ST_INVALIDATIONS], .failures = v[ST_FAILURES],
                                .timeouts = v[ST_TIMEOUTS], .unavailable = v[ST_UNAVAILABLE],
                                .malformed = v[ST_MALFORMED], .connects = v[ST_CONNECTS],
                                .disconnects = v[ST_DISCONNECTS], .connected = atomic_load(&l3->connected)};
}

int mcp_cache_l3_wait_connected(mcp_cache_l3 *l3, uint64_t timeout_ms) {
    if (!l3) return MCP_EINVAL;
    uint64_t end = mcp_now_ns() + timeout_ms * 1000000;
    while (!atomic_load(&l3->connected)) {
        if (mcp_now_ns() >= end) return MCP_ETIMEDOUT;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return MCP_OK;
}
