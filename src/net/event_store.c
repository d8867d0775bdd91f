/*
 * The bounded in-memory SSE event store.
 *
 * Each stream keeps its last events_per_stream events in a ring; the event
 * id is "<stream>#<sequence>", so the stream is found from an id alone and
 * "what came after" is a sequence comparison. Streams are kept in a chained
 * hash table and an LRU list: when more than max_streams exist, the stream
 * appended to least recently is dropped whole. A resumption that asks for
 * events the ring no longer holds gets MCP_ENOTFOUND rather than a replay
 * with a silent hole in it.
 *
 * One mutex guards everything: appends are a memcpy and a few pointer
 * moves, and replays are rare. The replay callback runs under the lock, so
 * it must not call back into the store.
 */
#include "net/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stored_event {
    uint64_t seq;
    char *data;
    size_t len;
} stored_event;

typedef struct stream {
    struct stream *hash_next;
    struct stream *lru_prev, *lru_next; /* most recent at the head */
    char name[MCP_STREAM_NAME_MAX];
    uint64_t next_seq;                  /* sequence of the next append; the first is 1 */
    stored_event *ring;
    size_t start, count;
} stream;

typedef struct memory_store {
    mcp_event_store base;
    pthread_mutex_t lock;
    size_t per_stream;
    size_t max_streams;
    size_t stream_count;
    stream **buckets;
    size_t bucket_count;
    stream *lru_head, *lru_tail;
} memory_store;

static size_t bucket_of(const memory_store *m, const char *name, size_t len) {
    return (size_t)(mcp_hash64(name, len, 0x6d6370) & (m->bucket_count - 1));
}

static stream *stream_find(memory_store *m, const char *name, size_t len) {
    for (stream *s = m->buckets[bucket_of(m, name, len)]; s; s = s->hash_next)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0) return s;
    return NULL;
}

static void lru_unlink(memory_store *m, stream *s) {
    if (s->lru_prev) s->lru_prev->lru_next = s->lru_next;
    else m->lru_head = s->lru_next;
    if (s->lru_next) s->lru_next->lru_prev = s->lru_prev;
    else m->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push(memory_store *m, stream *s) {
    s->lru_next = m->lru_head;
    if (m->lru_head) m->lru_head->lru_prev = s;
    m->lru_head = s;
    if (!m->lru_tail) m->lru_tail = s;
}

static void stream_destroy(memory_store *m, stream *s) {
    stream **link = &m->buckets[bucket_of(m, s->name, strlen(s->name))];
    while (*link != s) link = &(*link)->hash_next;
    *link = s->hash_next;
    lru_unlink(m, s);
    for (size_t i = 0; i < s->count; i++) free(s->ring[(s->start + i) % m->per_stream].data);
    free(s->ring);
    free(s);
    m->stream_count--;
}

static int store_append(mcp_event_store *base, const char *name, const char *data, size_t len,
                        char id[MCP_EVENT_ID_MAX]) {
    memory_store *m = (memory_store *)base;
    size_t name_len = strlen(name);
    if (name_len >= MCP_STREAM_NAME_MAX || strchr(name, '#')) return MCP_EINVAL;
    char *copy = malloc(len + 1);
    if (!copy) return MCP_ENOMEM;
    memcpy(copy, data, len);
    copy[len] = '\0';
    pthread_mutex_lock(&m->lock);
    stream *s = stream_find(m, name, name_len);
    if (!s) {
        if (m->stream_count >= m->max_streams && m->lru_tail) stream_destroy(m, m->lru_tail);
        s = calloc(1, sizeof *s);
        if (s) s->ring = calloc(m->per_stream, sizeof *s->ring);
        if (!s || !s->ring) {
            pthread_mutex_unlock(&m->lock);
            if (s) free(s);
            free(copy);
            return MCP_ENOMEM;
        }
        memcpy(s->name, name, name_len + 1);
        s->next_seq = 1;
        size_t b = bucket_of(m, name, name_len);
        s->hash_next = m->buckets[b];
        m->buckets[b] = s;
        m->stream_count++;
    } else {
        lru_unlink(m, s);
    }
    lru_push(m, s);
    if (s->count == m->per_stream) {
        free(s->ring[s->start].data);
        s->start = (s->start + 1) % m->per_stream;
        s->count--;
    }
    stored_event *e = &s->ring[(s->start + s->count) % m->per_stream];
    e->seq = s->next_seq++;
    e->data = copy;
    e->len = len;
    s->count++;
    snprintf(id, MCP_EVENT_ID_MAX, "%s#%llu", name, (unsigned long long)e->seq);
    pthread_mutex_unlock(&m->lock);
    return MCP_OK;
}

static int store_replay_after(mcp_event_store *base, const char *last_id, char name_out[MCP_STREAM_NAME_MAX],
                              mcp_event_replay_fn fn, void *user) {
    memory_store *m = (memory_store *)base;
    const char *hash = strrchr(last_id, '#');
    if (!hash || hash == last_id || (size_t)(hash - last_id) >= MCP_STREAM_NAME_MAX) return MCP_ENOTFOUND;
    char *end;
    unsigned long long seq = strtoull(hash + 1, &end, 10);
    if (*end || end == hash + 1) return MCP_ENOTFOUND;
    pthread_mutex_lock(&m->lock);
    stream *s = stream_find(m, last_id, (size_t)(hash - last_id));
    int rc = MCP_ENOTFOUND;
    if (s && seq < s->next_seq) {
        uint64_t first = s->count ? s->ring[s->start].seq : s->next_seq;
        /* The client saw seq; it needs seq+1 onwards, all of them. */
        if (seq + 1 >= first) {
            rc = MCP_OK;
            memcpy(name_out, s->name, strlen(s->name) + 1);
            for (size_t i = 0; i < s->count; i++) {
                stored_event *e = &s->ring[(s->start + i) % m->per_stream];
                if (e->seq <= seq) continue;
                char id[MCP_EVENT_ID_MAX];
                snprintf(id, sizeof id, "%s#%llu", s->name, (unsigned long long)e->seq);
                if (fn(user, id, e->data, e->len)) break;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void store_forget(mcp_event_store *base, const char *name) {
    memory_store *m = (memory_store *)base;
    pthread_mutex_lock(&m->lock);
    stream *s = stream_find(m, name, strlen(name));
    if (s) stream_destroy(m, s);
    pthread_mutex_unlock(&m->lock);
}

static void store_free(mcp_event_store *base) {
    memory_store *m = (memory_store *)base;
    if (!m) return;
    while (m->lru_head) stream_destroy(m, m->lru_head);
    free(m->buckets);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

mcp_event_store *mcp_event_store_memory_new(size_t events_per_stream, size_t streams) {
    memory_store *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->per_stream = events_per_stream ? events_per_stream : MCP_HTTP_DEFAULT_STORE_EVENTS;
    m->max_streams = streams ? streams : MCP_HTTP_DEFAULT_STORE_STREAMS;
    m->bucket_count = 64;
    while (m->bucket_count < m->max_streams) m->bucket_count <<= 1;
    m->buckets = calloc(m->bucket_count, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->base = (mcp_event_store){.append = store_append, .replay_after = store_replay_after,
                                .forget = store_forget, .free = store_free};
    return &m->base;
}
