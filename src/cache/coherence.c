/*
 * Cross-node coherence: invalidations travel between nodes on a Redis
 * pub/sub channel.
 *
 * The cache's invalidation listener publishes, on the L3 command
 * connection, one message per invalidation:
 *
 *     mcpd1 <node-id> [t<len>:<tag>] k<len>:<key> k<len>:<key> ...
 *
 * lengths in decimal bytes, so keys may hold any byte (tool keys hold a
 * NUL). The keys are all those the sending node removed or reached in any
 * tier, Redis' own dependency sets included, so a receiver drops copies of
 * derived entries even when it never held their sources. A second
 * connection, on the L3 loop, subscribes; a message from another node is
 * copied to a helper thread that applies it to L1 and L2, because that
 * takes the cache's locks and an LMDB write and the loop must keep
 * serving L3. Redis pub/sub delivers at most once: while a node is
 * disconnected it misses messages (the entry's TTL bounds the staleness).
 */
#include "cache/l3_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_CHANNEL "mcpd:cache:invalidate"
#define MAGIC "mcpd1 "
#define NODE_ID_MAX 64

typedef struct coh_msg {
    struct coh_msg *next;
    size_t len;
    char data[]; /* the records, after the sender's id */
} coh_msg;

enum { C_PUBLISHED, C_PUBLISH_FAILURES, C_RECEIVED, C_APPLIED, C_OWN, C_MALFORMED, C_COUNT };

struct mcp_cache_coherence {
    mcp_cache *cache;
    mcp_cache_l3 *l3;
    char *channel;
    size_t channel_len;
    char node_id[NODE_ID_MAX + 1];
    size_t node_len;
    l3_link link;              /* the subscriber, on the L3 loop */
    uv_sem_t closed;
    bool free_on_close;

    pthread_t applier;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    coh_msg *head, *tail;
    bool quit;

    atomic_bool subscribed;
    atomic_uint_fast64_t last_applied_ns;
    atomic_uint_fast64_t counts[C_COUNT];
};

static void bump(mcp_cache_coherence *coh, int which) {
    atomic_fetch_add_explicit(&coh->counts[which], 1, memory_order_relaxed);
}

/* ---- publishing --------------------------------------------------------------------- */

static void append_record(mcp_buf *b, char kind, mcp_str s) {
    char head[24];
    int n = snprintf(head, sizeof head, " %c%zu:", kind, s.len);
    mcp_buf_append(b, head, (size_t)n);
    mcp_buf_append(b, s.ptr, s.len);
}

static void published(void *user, int rc) {
    bump(user, rc == MCP_OK ? C_PUBLISHED : C_PUBLISH_FAILURES);
}

static void on_invalidated(void *user, mcp_str tag, const mcp_str *keys, size_t key_count) {
    mcp_cache_coherence *coh = user;
    mcp_buf msg;
    mcp_buf_init(&msg);
    mcp_buf_append(&msg, MAGIC, sizeof MAGIC - 1);
    mcp_buf_append(&msg, coh->node_id, coh->node_len);
    if (tag.len) append_record(&msg, 't', tag);
    for (size_t i = 0; i < key_count; i++) append_record(&msg, 'k', keys[i]);
    /* A failed append leaves a short buffer; do not send half a message. */
    size_t expect = sizeof MAGIC - 1 + coh->node_len;
    if (tag.len) expect += tag.len + 3;
    for (size_t i = 0; i < key_count; i++) expect += keys[i].len + 3;
    int rc = msg.len >= expect ? l3_publish(coh->l3, (mcp_str){coh->channel, coh->channel_len},
                                            (mcp_str){msg.data, msg.len}, published, coh)
                               : MCP_ENOMEM;
    if (rc) {
        bump(coh, C_PUBLISH_FAILURES);
        mcp_log(MCP_LOG_DEBUG, "cache coherence: invalidation not published: %s", mcp_strerror(rc));
    }
    mcp_buf_free(&msg);
}

/* ---- applying ---------------------------------------------------------------------------- */

/* Splits a message after the node id into tag and keys (slices into p). */
static int parse_records(const char *p, const char *end, mcp_str *tag, mcp_str *keys, size_t *count) {
    size_t n = 0;
    *tag = (mcp_str){NULL, 0};
    while (p < end) {
        if (end - p < 4 || p[0] != ' ' || (p[1] != 't' && p[1] != 'k')) return MCP_EPARSE;
        char kind = p[1];
        p += 2;
        size_t len = 0;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9' && p - digits < 4) len = len * 10 + (size_t)(*p++ - '0');
        if (p == digits || p >= end || *p != ':' || !len || len > MCP_CACHE_KEY_MAX) return MCP_EPARSE;
        p++;
        if ((size_t)(end - p) < len) return MCP_EPARSE;
        mcp_str s = {p, len};
        p += len;
        if (kind == 't') {
            if (tag->len || n) return MCP_EPARSE; /* one tag, first */
            *tag = s;
        } else {
            keys[n++] = s;
        }
    }
    *count = n;
    return tag->len || n ? MCP_OK : MCP_EPARSE;
}

static void apply(mcp_cache_coherence *coh, coh_msg *m) {
    const char *body = m->data, *end = m->data + m->len;
    /* Each key record takes at least 4 bytes. */
    size_t cap = (size_t)(end - body) / 4 + 1;
    mcp_str *keys = malloc(cap * sizeof *keys);
    mcp_str tag;
    size_t n = 0;
    if (!keys || parse_records(body, end, &tag, keys, &n) != MCP_OK) {
        bump(coh, C_MALFORMED);
        mcp_log(MCP_LOG_WARNING, "cache coherence: dropped a malformed invalidation message (%zu bytes)", m->len);
        free(keys);
        return;
    }
    size_t removed = 0;
    int rc = mcp_cache_invalidate_local(coh->cache, tag, keys, n, &removed);
    if (rc) mcp_log(MCP_LOG_WARNING, "cache coherence: applying an invalidation failed: %s", mcp_strerror(rc));
    atomic_store(&coh->last_applied_ns, mcp_now_ns());
    bump(coh, C_APPLIED);
    free(keys);
}

static void *applier_main(void *arg) {
    mcp_cache_coherence *coh = arg;
    pthread_mutex_lock(&coh->lock);
    for (;;) {
        while (!coh->head && !coh->quit) pthread_cond_wait(&coh->cond, &coh->lock);
        if (coh->quit) break;
        coh_msg *m = coh->head;
        coh->head = m->next;
        if (!coh->head) coh->tail = NULL;
        pthread_mutex_unlock(&coh->lock);
        apply(coh, m);
        free(m);
        pthread_mutex_lock(&coh->lock);
    }
    pthread_mutex_unlock(&coh->lock);
    return NULL;
}

/* ---- subscribing (loop thread) --------------------------------------------------------- */

static void on_message(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    mcp_cache_coherence *coh = privdata;
    redisReply *r = reply;
    if (!r) {
        atomic_store(&coh->subscribed, false);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING) return;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        atomic_store(&coh->subscribed, true);
        return;
    }
    if (strcmp(kind, "message") || r->element[2]->type != REDIS_REPLY_STRING) return;
    bump(coh, C_RECEIVED);
    const char *p = r->element[2]->str;
    size_t len = r->element[2]->len;
    size_t magic = sizeof MAGIC - 1;
    if (len < magic + 1 || memcmp(p, MAGIC, magic)) {
        bump(coh, C_MALFORMED);
        return;
    }
    const char *id = p + magic, *id_end = memchr(id, ' ', len - magic);
    size_t id_len = id_end ? (size_t)(id_end - id) : len - magic;
    if (id_len == coh->node_len && !memcmp(id, coh->node_id, id_len)) {
        bump(coh, C_OWN);
        return;
    }
    /* The helper thread gets the records after the id. */
    size_t rest = len - magic - id_len;
    coh_msg *m = malloc(sizeof *m + (rest ? rest : 1));
    if (!m) {
        bump(coh, C_MALFORMED);
        return;
    }
    memcpy(m->data, id + id_len, rest);
    m->len = rest;
    m->next = NULL;
    pthread_mutex_lock(&coh->lock);
    if (coh->tail) coh->tail->next = m;
    else coh->head = m;
    coh->tail = m;
    pthread_cond_signal(&coh->cond);
    pthread_mutex_unlock(&coh->lock);
}

static void sub_up(l3_link *link, void *user) {
    mcp_cache_coherence *coh = user;
    const char *argv[2] = {"SUBSCRIBE", coh->channel};
    size_t lens[2] = {9, coh->channel_len};
    if (redisAsyncCommandArgv(link->ac, on_message, coh, 2, argv, lens) != REDIS_OK) l3_link_drop(link);
}

static void sub_down(l3_link *link, void *user) {
    (void)link;
    atomic_store(&((mcp_cache_coherence *)user)->subscribed, false);
}

static void start_on_loop(mcp_cache_l3 *l3, void *arg) {
    mcp_cache_coherence *coh = arg;
    l3_link_opts o;
    l3_link_defaults(l3, &o);
    o.on_up = sub_up;
    o.on_down = sub_down;
    o.user = coh;
    l3_link_start(&coh->link, &o);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void destroy(mcp_cache_coherence *coh) {
    for (coh_msg *m = coh->head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    pthread_cond_destroy(&coh->cond);
    pthread_mutex_destroy(&coh->lock);
    uv_sem_destroy(&coh->closed);
    free(coh->channel);
    free(coh);
}

static void link_closed(l3_link *link, void *user) {
    (void)link;
    mcp_cache_coherence *coh = user;
    if (coh->free_on_close) destroy(coh);
    else uv_sem_post(&coh->closed);
}

static void stop_on_loop(mcp_cache_l3 *l3, void *arg) {
    (void)l3;
    mcp_cache_coherence *coh = arg;
    l3_link_stop(&coh->link, link_closed, coh);
}

static void stop_applier(mcp_cache_coherence *coh) {
    pthread_mutex_lock(&coh->lock);
    coh->quit = true;
    pthread_cond_signal(&coh->cond);
    pthread_mutex_unlock(&coh->lock);
    pthread_join(coh->applier, NULL);
}

int mcp_cache_coherence_new(const mcp_cache_coherence_opts *opts, mcp_cache_coherence **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    if (!opts || !opts->cache || !opts->l3) return MCP_EINVAL;
    const char *channel = opts->channel ? opts->channel : DEFAULT_CHANNEL;
    if (!*channel) return MCP_EINVAL;
    if (opts->node_id) {
        size_t n = strlen(opts->node_id);
        if (!n || n > NODE_ID_MAX || strchr(opts->node_id, ' ')) return MCP_EINVAL;
    }
    mcp_cache_coherence *coh = calloc(1, sizeof *coh);
    if (!coh) return MCP_ENOMEM;
    coh->cache = opts->cache;
    coh->l3 = opts->l3;
    coh->channel_len = strlen(channel);
    coh->channel = malloc(coh->channel_len + 1);
    if (!coh->channel) {
        free(coh);
        return MCP_ENOMEM;
    }
    memcpy(coh->channel, channel, coh->channel_len + 1);
    if (opts->node_id) {
        snprintf(coh->node_id, sizeof coh->node_id, "%s", opts->node_id);
    } else {
        unsigned char r[16];
        if (getrandom(r, sizeof r, 0) != sizeof r) {
            uint64_t t = mcp_now_ns() ^ (uint64_t)(uintptr_t)coh;
            memcpy(r, &t, 8);
            memcpy(r + 8, &t, 8);
        }
        for (int i = 0; i < 16; i++) snprintf(coh->node_id + 2 * i, 3, "%02x", r[i]);
    }
    coh->node_len = strlen(coh->node_id);
    pthread_mutex_init(&coh->lock, NULL);
    pthread_cond_init(&coh->cond, NULL);
    uv_sem_init(&coh->closed, 0);
    if (pthread_create(&coh->applier, NULL, applier_main, coh) != 0) {
        destroy(coh);
        return MCP_EIO;
    }
    int rc = l3_run_on_loop(coh->l3, start_on_loop, coh);
    if (rc) {
        stop_applier(coh);
        destroy(coh);
        return rc;
    }
    mcp_cache_set_invalidation_listener(coh->cache, on_invalidated, coh);
    *out = coh;
    return MCP_OK;
}

void mcp_cache_coherence_free(mcp_cache_coherence *coh) {
    if (!coh) return;
    mcp_cache_set_invalidation_listener(coh->cache, NULL, NULL);
    bool here = l3_on_loop_thread(coh->l3);
    coh->free_on_close = here;
    int rc = l3_run_on_loop(coh->l3, stop_on_loop, coh);
    /* Once the link is stopped no message reaches the queue; then the
     * helper thread can go. */
    if (rc == MCP_OK && !here) uv_sem_wait(&coh->closed);
    stop_applier(coh);
    if (rc != MCP_OK) {
        mcp_log(MCP_LOG_WARNING, "cache coherence: freed after its L3; subscriber not closed cleanly");
        return; /* its handles belong to a loop that is going away */
    }
    if (!here) destroy(coh);
}

const char *mcp_cache_coherence_node_id(const mcp_cache_coherence *coh) {
    return coh ? coh->node_id : NULL;
}

void mcp_cache_coherence_stats(mcp_cache_coherence *coh, mcp_cache_coherence_counts *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!coh) return;
    uint64_t v[C_COUNT];
    for (int i = 0; i < C_COUNT; i++) v[i] = atomic_load_explicit(&coh->counts[i], memory_order_relaxed);
    *out = (mcp_cache_coherence_counts){.published = v[C_PUBLISHED], .publish_failures = v[C_PUBLISH_FAILURES],
                                        .received = v[C_RECEIVED], .applied = v[C_APPLIED], .own_ignored = v[C_OWN],
                                        .malformed = v[C_MALFORMED],
                                        .last_applied_ns = atomic_load(&coh->last_applied_ns),
                                        .subscribed = atomic_load(&coh->subscribed)};
}

int mcp_cache_coherence_wait_subscribed(mcp_cache_coherence *coh, uint64_t timeout_ms) {
    if (!coh) return MCP_EINVAL;
    uint64_t end = mcp_now_ns() + timeout_ms * 1000000;
    while (!atomic_load(&coh->subscribed)) {
        if (mcp_now_ns() >= end) return MCP_ETIMEDOUT;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return MCP_OK;
}
