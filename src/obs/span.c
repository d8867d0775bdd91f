/*
 * Spans: start, attributes, end — the part that runs on the request path.
 *
 * Each thread that touches a tracer gets an obs_thread (registered once
 * under the tracer's lock, then found through a thread-local cache). It owns
 * a pool of span records and a single-producer ring of ended spans that the
 * exporter thread drains. Start takes a record from the pool, end puts it in
 * the ring of the ending thread; neither locks, neither allocates once the
 * pool is warm, and a full ring drops the span (counted) instead of waiting.
 * The exporter gives records back to their owner through a lock-free stack
 * that only the owner empties, in one exchange, so there is no ABA problem.
 */
#include "obs_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CHUNK_SPANS 16

typedef struct span_chunk {
    struct span_chunk *next;
    mcp_span spans[CHUNK_SPANS];
} span_chunk;

static _Thread_local char tls_token;   /* its address identifies the thread */
static _Thread_local struct {
    uint64_t tracer_id;
    obs_thread *state;
} tls_cache;
static _Thread_local mcp_span *tls_current;

static inline void counter_inc(_Atomic uint64_t *c, uint64_t n) {
    /* One writer per counter: a plain load and store, no locked add. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static uint64_t rng_next(uint64_t s[2]) {
    /* xorshift128+: ids must be unique, not unpredictable. */
    uint64_t a = s[0], b = s[1];
    s[0] = b;
    a ^= a << 23;
    s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return s[1] + b;
}

static obs_thread *thread_register(mcp_tracer *t) {
    pthread_mutex_lock(&t->lock);
    obs_thread *th = t->threads;
    while (th && th->token != &tls_token) th = th->next_thread;
    if (!th && (th = calloc(1, sizeof *th)) != NULL) {
        unsigned cap = 1;
        while (cap < t->buffer_spans) cap <<= 1;
        th->ring = calloc(cap, sizeof *th->ring);
        if (!th->ring) {
            free(th);
            th = NULL;
        } else {
            th->mask = cap - 1;
            th->token = &tls_token;
            th->tracer = t;
            if (getrandom(th->rng, sizeof th->rng, 0) != (ssize_t)sizeof th->rng || !(th->rng[0] | th->rng[1])) {
                th->rng[0] = mcp_now_ns() ^ (uint64_t)(uintptr_t)th;
                th->rng[1] = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&tls_token;
            }
            th->next_thread = t->threads;
            t->threads = th;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (th) {
        tls_cache.tracer_id = t->id;
        tls_cache.state = th;
    }
    return th;
}

static inline obs_thread *thread_state(mcp_tracer *t) {
    if (MCP_LIKELY(tls_cache.tracer_id == t->id)) return tls_cache.state;
    return thread_register(t);
}

static mcp_span *pool_take(mcp_tracer *t, obs_thread *th) {
    mcp_span *s = th->free_list;
    if (!s) s = atomic_exchange_explicit(&th->returned, NULL, memory_order_acquire);
    if (!s) {
        if (th->live + CHUNK_SPANS > t->max_live) return NULL;
        span_chunk *c = malloc(sizeof *c);
        if (!c) return NULL;
        c->next = th->chunks;
        th->chunks = c;
        th->live += CHUNK_SPANS;
        for (int i = 0; i < CHUNK_SPANS; i++) {
            c->spans[i].owner = th;
            c->spans[i].next = i + 1 < CHUNK_SPANS ? &c->spans[i + 1] : NULL;
        }
        s = &c->spans[0];
    }
    th->free_list = s->next;
    return s;
}

void obs_span_release(mcp_span *s) {
    obs_thread *owner = s->owner;
    if (owner->token == &tls_token) {
        s->next = owner->free_list;
        owner->free_list = s;
        return;
    }
    mcp_span *head = atomic_load_explicit(&owner->returned, memory_order_relaxed);
    do {
        s->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->returned, &head, s, memory_order_release,
                                                    memory_order_relaxed));
}

void obs_spans_release(mcp_span **spans, size_t n) {
    /* A batch holds runs of spans from one thread: each run goes back as
     * one chain in one exchange instead of one per span, so the exporter
     * and the owning thread fight over the owner's stack once per run. The
     * chain runs from the run's last span to its first: the records the
     * exporter touched last, still in cache, are the first reused (a
     * chain in batch order made a 10k-span pass about 1.5x slower per span). */
    for (size_t i = 0; i < n;) {
        obs_thread *owner = spans[i]->owner;
        size_t j = i + 1;
        while (j < n && spans[j]->owner == owner) {
            spans[j]->next = spans[j - 1];
            j++;
        }
        mcp_span *first = spans[j - 1], *last = spans[i];
        if (owner->token == &tls_token) {
            last->next = owner->free_list;
            owner->free_list = first;
        } else {
            mcp_span *head = atomic_load_explicit(&owner->returned, memory_order_relaxed);
            do {
                last->next = head;
            } while (!atomic_compare_exchange_weak_explicit(&owner->returned, &head, first, memory_order_release,
                                                            memory_order_relaxed));
        }
        i = j;
    }
}

mcp_span *mcp_span_start(mcp_tracer *t, const char *name, mcp_span_kind kind, const mcp_trace_context *parent) {
    return obs_span_start2(t, (mcp_str){name, name ? strlen(name) : 0}, (mcp_str){NULL, 0}, kind, parent);
}

mcp_span *obs_span_start2(mcp_tracer *t, mcp_str first, mcp_str second, mcp_span_kind kind,
                          const mcp_trace_context *parent) {
    mcp_span *s = obs_span_begin(t, kind, parent);
    if (s && s->recording) obs_span_name_set(s, first, second);
    return s;
}

void obs_span_name_set(mcp_span *s, mcp_str first, mcp_str second) {
    /* "{first} {second}", within a quarter of the text room. */
    size_t room = OBS_SPAN_NAME_ROOM, n = first.len < room ? first.len : room;
    if (n) memcpy(s->text, first.ptr, n);
    if (second.len && n + 1 < room) {
        size_t m = second.len < room - n - 1 ? second.len : room - n - 1;
        s->text[n] = ' ';
        memcpy(s->text + n + 1, second.ptr, m);
        n += 1 + m;
    }
    s->name_len = (uint16_t)n;
    s->text_used = (uint32_t)n;
}

mcp_span *obs_span_begin(mcp_tracer *t, mcp_span_kind kind, const mcp_trace_context *parent) {
    if (!t) return NULL;
    obs_thread *th = thread_state(t);
    if (MCP_UNLIKELY(!th)) return NULL;
    mcp_span *s = pool_take(t, th);
    if (MCP_UNLIKELY(!s)) {
        counter_inc(&th->dropped_pool, 1);
        return NULL;
    }
    s->tracer = t;
    s->kind = (uint8_t)kind;
    s->status = 0;
    s->attr_count = 0;
    s->attr_room = MCP_SPAN_MAX_ATTRIBUTES;
    s->dropped_attrs = 0;
    s->status_len = 0;
    s->user = NULL;
    s->user_index = 0;
    s->req.on = false;
    s->name_len = 0;
    s->text_used = 0;
    if (parent) {
        memcpy(s->ctx.trace_id, parent->trace_id, 16);
        memcpy(s->parent_span_id, parent->span_id, 8);
        s->has_parent = true;
        /* Most parents carry no tracestate: no copy call for nothing. */
        if (parent->tracestate[0]) {
            size_t n = strnlen(parent->tracestate, MCP_TRACESTATE_MAX);
            memcpy(s->ctx.tracestate, parent->tracestate, n);
            s->ctx.tracestate[n] = '\0';
        } else {
            s->ctx.tracestate[0] = '\0';
        }
    } else {
        uint64_t a, b;
        do {
            a = rng_next(th->rng);
            b = rng_next(th->rng);
        } while (!(a | b));
        memcpy(s->ctx.trace_id, &a, 8);
        memcpy(s->ctx.trace_id + 8, &b, 8);
        s->has_parent = false;
        s->ctx.tracestate[0] = '\0';
    }
    uint64_t id;
    do id = rng_next(th->rng);
    while (!id);
    memcpy(s->ctx.span_id, &id, 8);
    /* The usual samplers decided here, the ratio one by its function. */
    const mcp_sampler *sm = &t->opts.sampler;
    if (parent && sm->parent_based) s->recording = parent->flags & 1;
    else if (sm->root == MCP_SAMPLE_ALWAYS_ON) s->recording = true;
    else s->recording = mcp_sampler_should_sample(sm, s->ctx.trace_id, parent);
    s->ctx.flags = s->recording ? 1 : 0;
    s->start_mono_ns = mcp_now_ns();
    if (s->recording) {
        counter_inc(&th->started, 1);
        s->start_unix_ns = s->start_mono_ns + (uint64_t)atomic_load_explicit(&t->unix_offset_ns, memory_order_relaxed);
    } else {
        counter_inc(&th->unsampled, 1);
    }
    return s;
}

static obs_attr *attr_add(mcp_span *s, const char *key, obs_attr_type type) {
    if (!s || !s->recording || !key) return NULL;
    if (s->attr_count >= s->attr_room) {
        s->dropped_attrs++;
        return NULL;
    }
    obs_attr *a = &s->attrs[s->attr_count++];
    a->key = key;
    a->type = (uint16_t)type;
    return a;
}

void mcp_span_set_strn(mcp_span *s, const char *key, const char *value, size_t len) {
    if (!s || !s->recording || !key) return;
    if (len > UINT16_MAX) {
        s->dropped_attrs += value != NULL;
        return;
    }
    obs_span_put_str(s, key, value, len);
}

void mcp_span_set_str(mcp_span *s, const char *key, const char *value) {
    if (value) mcp_span_set_strn(s, key, value, strlen(value));
}

void mcp_span_set_int(mcp_span *s, const char *key, int64_t value) {
    obs_attr *a = attr_add(s, key, OBS_ATTR_INT);
    if (a) a->v.i = value;
}

void mcp_span_set_double(mcp_span *s, const char *key, double value) {
    obs_attr *a = attr_add(s, key, OBS_ATTR_DOUBLE);
    if (a) a->v.d = value;
}

void mcp_span_set_bool(mcp_span *s, const char *key, bool value) {
    obs_attr *a = attr_add(s, key, OBS_ATTR_BOOL);
    if (a) a->v.b = value;
}

void mcp_span_set_error(mcp_span *s, const char *error_type, const char *message) {
    if (!s || !s->recording) return;
    s->status = 2;
    if (error_type) mcp_span_set_str(s, "error.type", error_type);
    if (message) {
        size_t n = strlen(message);
        if (n > MCP_SPAN_TEXT_ROOM - s->text_used) n = MCP_SPAN_TEXT_ROOM - s->text_used;
        memcpy(s->text + s->text_used, message, n);
        s->status_off = s->text_used;
        s->status_len = (uint32_t)n;
        s->text_used += (uint32_t)n;
    }
}

bool mcp_span_is_recording(const mcp_span *s) {
    return s && s->recording;
}

int mcp_span_context(const mcp_span *s, mcp_trace_context *out) {
    if (!s || !out) return MCP_EINVAL;
    *out = s->ctx;
    return MCP_OK;
}

int mcp_span_traceparent(const mcp_span *s, char out[MCP_TRACEPARENT_LEN + 1]) {
    if (!s || !out) return MCP_EINVAL;
    mcp_traceparent_format(&s->ctx, out);
    return MCP_OK;
}

mcp_span *mcp_span_current(void) {
    return tls_current;
}

mcp_span *mcp_span_make_current(mcp_span *s) {
    mcp_span *prev = tls_current;
    tls_current = s;
    return prev;
}

mcp_span *obs_span_begin_current(mcp_tracer *t, mcp_span_kind kind, const mcp_trace_context *parent) {
    mcp_span *s = obs_span_begin(t, kind, parent);
    if (s) {
        s->user = tls_current;
        tls_current = s;
    }
    return s;
}

void obs_span_leave(mcp_span *s) {
    if (tls_current == s) tls_current = s->user;
}

void mcp_span_end(mcp_span *s) {
    if (s) obs_span_end_at(s, mcp_now_ns());
}

void obs_span_end_at(mcp_span *s, uint64_t now_mono_ns) {
    if (tls_current == s) tls_current = NULL;
    if (!s->recording) {
        obs_span_release(s);
        return;
    }
    mcp_tracer *t = s->tracer;
    s->end_unix_ns = s->start_unix_ns + (now_mono_ns - s->start_mono_ns);
    obs_thread *th = thread_state(t);
    if (MCP_UNLIKELY(!th)) {
        obs_span_release(s);
        return;
    }
    if (s->dropped_attrs) counter_inc(&th->attrs_dropped, s->dropped_attrs);
    if (!t->export_enabled) {
        obs_span_release(s);
        return;
    }
    uint64_t head = atomic_load_explicit(&th->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&th->tail, memory_order_acquire);
    if (head - tail > th->mask) {
        counter_inc(&th->dropped_full, 1);
        obs_span_release(s);
        return;
    }
    th->ring[head & th->mask] = s;
    atomic_store_explicit(&th->head, head + 1, memory_order_release);
    if (MCP_UNLIKELY(head + 1 - tail >= t->wake_at) && atomic_load_explicit(&t->exporter_idle, memory_order_relaxed))
        obs_exporter_nudge(t);
}

size_t obs_spans_collect(mcp_tracer *t, mcp_span **out, size_t max) {
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    obs_thread *first = t->threads;
    pthread_mutex_unlock(&t->lock);
    /* New threads are pushed at the head, so the list from first on never
     * changes under us. */
    for (obs_thread *th = first; th && n < max; th = th->next_thread) {
        uint64_t tail = atomic_load_explicit(&th->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&th->head, memory_order_acquire);
        while (tail != head && n < max) out[n++] = th->ring[tail++ & th->mask];
        atomic_store_explicit(&th->tail, tail, memory_order_release);
    }
    return n;
}

void obs_threads_free(mcp_tracer *t) {
    obs_thread *th = t->threads;
    while (th) {
        obs_thread *next = th->next_thread;
        span_chunk *c = th->chunks;
        while (c) {
            span_chunk *cn = c->next;
            free(c);
            c = cn;
        }
        free(th->ring);
        free(th);
        th = next;
    }
    t->threads = NULL;
}

void obs_thread_stats_add(mcp_tracer *t, mcp_tracer_stats *out) {
    pthread_mutex_lock(&t->lock);
    for (obs_thread *th = t->threads; th; th = th->next_thread) {
        out->spans_started += atomic_load_explicit(&th->started, memory_order_relaxed);
        out->spans_unsampled += atomic_load_explicit(&th->unsampled, memory_order_relaxed);
        out->dropped_buffer_full += atomic_load_explicit(&th->dropped_full, memory_order_relaxed);
        out->dropped_pool_exhausted += atomic_load_explicit(&th->dropped_pool, memory_order_relaxed);
        out->attributes_dropped += atomic_load_explicit(&th->attrs_dropped, memory_order_relaxed);
    }
    pthread_mutex_unlock(&t->lock);
}
