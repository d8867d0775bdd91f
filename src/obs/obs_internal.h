/*
 * obs_internal.h — what the files of the obs layer share: the span record,
 * the per-thread state of a tracer, the exporter's HTTP client and the OTLP
 * JSON encoder.
 */
#ifndef MCP_OBS_INTERNAL_H
#define MCP_OBS_INTERNAL_H

#include "mcp/obs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef enum obs_attr_type { OBS_ATTR_STR = 0, OBS_ATTR_INT, OBS_ATTR_DOUBLE, OBS_ATTR_BOOL } obs_attr_type;

typedef struct obs_attr {
    const char *key;
    uint16_t type;
    uint16_t len;        /* string length */
    union {
        int64_t i;
        double d;
        bool b;
        uint32_t off;    /* string offset into mcp_span.text */
    } v;
} obs_attr;

typedef struct obs_thread obs_thread;

/* The MCP attributes of a request span (observer.c), as lengths of values
 * laid end to end in the span's text right after the name. The request
 * thread copies the values in one pass and the exporter writes the keys
 * and JSON around them (otlp_json.c): a request pays for no per-attribute
 * bookkeeping, and the key text is a constant in the encoder. */
typedef enum obs_req_field {
    OBS_REQ_ID = 0,         /* jsonrpc.request.id */
    OBS_REQ_RESOURCE_URI,   /* mcp.resource.uri */
    OBS_REQ_SESSION,        /* mcp.session.id */
    OBS_REQ_VERSION,        /* mcp.protocol.version */
    OBS_REQ_TRANSPORT,      /* network.transport */
    OBS_REQ_PROTOCOL,       /* network.protocol.name */
    OBS_REQ_PEER,           /* network.peer.address (+ .port), client.* on a server span */
    OBS_REQ_FIELDS
} obs_req_field;

typedef enum obs_req_target { OBS_TARGET_NONE = 0, OBS_TARGET_TOOL, OBS_TARGET_PROMPT } obs_req_target;

typedef struct obs_req {
    uint16_t len[OBS_REQ_FIELDS];
    uint16_t present;            /* bit per field that has a value (maybe empty) */
    uint16_t method_len;         /* mcp.method.name is text[0, method_len) */
    uint16_t peer_port;
    uint8_t target;              /* obs_req_target: name is "{method} {target}" */
    bool target_given;           /* gen_ai.*.name present (maybe empty) */
    bool client;                 /* a client span: no client.* copies of the peer */
    bool method_known;           /* the method is one of the observer's list: plain ASCII, no escaping */
    bool on;                     /* this span carries these attributes */
} obs_req;

struct mcp_span {
    mcp_span *next;              /* free list, return stack */
    obs_thread *owner;           /* whose pool it came from */
    mcp_tracer *tracer;
    mcp_trace_context ctx;       /* trace id, span id, flags, tracestate */
    uint8_t parent_span_id[8];
    bool has_parent;
    bool recording;
    uint8_t kind;
    uint8_t status;              /* 0 unset, 1 ok, 2 error */
    uint16_t attr_count;
    /* How many attrs[] may hold: MCP_SPAN_MAX_ATTRIBUTES less the packed
     * request attributes, which count against the same limit. */
    uint16_t attr_room;
    uint16_t name_len;
    uint32_t status_off, status_len;
    uint32_t text_used;
    uint32_t dropped_attrs;
    uint64_t start_unix_ns, end_unix_ns;
    uint64_t start_mono_ns;      /* for latency metrics */
    void *user;                  /* the request hooks keep their handle data here */
    uint32_t user_index;
    obs_req req;
    /* The text right after the fields a request span writes, the 3 KiB of
     * generic attributes (which request spans rarely use) after it: a
     * span's start and its export touch a few adjacent cache lines. */
    char text[MCP_SPAN_TEXT_ROOM]; /* name first, then string values */
    obs_attr attrs[MCP_SPAN_MAX_ATTRIBUTES];
};

/* Single-producer (the thread that ends spans), single-consumer (the
 * exporter) ring of ended spans. */
struct obs_thread {
    obs_thread *next_thread;
    const void *token;           /* the owning thread's identity */
    mcp_tracer *tracer;
    /* pool of span records: free list used only by the owner, and a stack
     * on which other threads (the exporter) give records back */
    mcp_span *free_list;
    _Atomic(mcp_span *) returned;
    unsigned live;               /* records allocated by this thread */
    void *chunks;                /* the allocations behind them, freed with the tracer */
    uint64_t rng[2];             /* id generator state */
    /* ring */
    _Atomic uint64_t head;       /* written by the producer */
    _Atomic uint64_t tail;       /* written by the consumer */
    uint32_t mask;
    mcp_span **ring;
    /* counters written by this thread only, summed when read */
    _Atomic uint64_t started, unsampled, dropped_full, dropped_pool, attrs_dropped;
};

typedef struct obs_url {
    char host[256];
    char port[8];
    char path[512];
} obs_url;

int obs_url_parse(const char *url, obs_url *out);

/* Minimal HTTP/1.1 client for the exporter (blocking sockets with a
 * deadline, responses parsed by llhttp). It is the seam behind which a
 * shared client of the net layer can later take its place. status is the
 * HTTP status, retry_after_ms the Retry-After header in ms (or -1). */
typedef struct obs_http_response {
    int status;
    long retry_after_ms;
    mcp_buf body;                /* caller frees */
} obs_http_response;

int obs_http_request(const obs_url *url, const char *method, const mcp_header *headers, size_t header_count,
                     const char *content_type, const char *body, size_t body_len, unsigned timeout_ms,
                     obs_http_response *out);

/* A connection kept from one exchange to the next (HTTP/1.1 keep-alive),
 * owned by one thread. keep false: every exchange asks the server to close
 * (Connection: close), as obs_http_request does. */
typedef struct obs_http_conn {
    int fd;                      /* -1: none open */
    bool keep;
} obs_http_conn;

/* obs_http_request over c: reuses its connection when the last answer
 * allowed, opens one otherwise; a kept connection found closed by the
 * server before any answer is replaced once, transparently. */
int obs_http_exchange(obs_http_conn *c, const obs_url *url, const char *method, const mcp_header *headers,
                      size_t header_count, const char *content_type, const char *body, size_t body_len,
                      unsigned timeout_ms, obs_http_response *out);
void obs_http_conn_close(obs_http_conn *c);

/* Append the OTLP/JSON ExportTraceServiceRequest for spans. */
int obs_otlp_encode(mcp_buf *out, const mcp_tracer_opts *opts, mcp_span *const *spans, size_t n);
/* The same request in the protobuf encoding (otlp_proto.c): the same
 * information, with strings that are not valid UTF-8 repaired the same way. */
int obs_otlp_encode_proto(mcp_buf *out, const mcp_tracer_opts *opts, mcp_span *const *spans, size_t n);

/* The tracer: options, the registered thread states, and the exporter
 * thread with its counters. */
struct mcp_tracer {
    mcp_tracer_opts opts;
    char *endpoint;              /* owned copies of the option strings */
    char *service_name, *service_version, *service_instance_id;
    mcp_header *headers;
    mcp_resource_attribute *resource_attributes; /* owned, reserved keys taken out */
    obs_url url;
    bool export_enabled;
    uint64_t id;                 /* distinguishes tracers for the thread-local cache */
    unsigned buffer_spans;
    unsigned max_live;
    pthread_mutex_t lock;        /* thread list, exporter wake-ups */
    pthread_cond_t wake, flushed;
    obs_thread *threads;
    pthread_t exporter;
    bool exporter_running, stopping;
    uint64_t flush_requested, flush_done;
    uint64_t rng;                /* jitter, exporter thread only */
    _Atomic uint64_t exported, dropped_export, export_requests, export_retries, export_failures;
    /* Wall clock minus monotonic clock, refreshed by the exporter: a span
     * reads one clock at start instead of two. */
    _Atomic int64_t unix_offset_ns;
    /* The exporter waits for its interval; a ring that fills to wake_at
     * spans wakes it (one signal per batch, not per span). */
    atomic_bool exporter_idle;
    unsigned wake_at;
};

/* tracer.c: wake the exporter because a ring has a batch waiting. */
void obs_exporter_nudge(mcp_tracer *t);
/* tracer.c: measure the offset of the wall clock from mcp_now_ns. */
void obs_clock_offset_refresh(mcp_tracer *t);

/* trace_context.c: mcp_traceparent_parse with a tracestate slice. */
int obs_traceparent_parse(const char *tp, size_t len, const char *tracestate, size_t ts_len, mcp_trace_context *out);
/* span.c: mcp_span_start with the name given as two slices joined by a
 * space (the second may be empty). */
mcp_span *obs_span_start2(mcp_tracer *t, mcp_str a, mcp_str b, mcp_span_kind kind, const mcp_trace_context *parent);
/* span.c: a span with an empty name and no text yet; the caller writes
 * them when the span is recording (obs_span_name_set, or its own layout). */
mcp_span *obs_span_begin(mcp_tracer *t, mcp_span_kind kind, const mcp_trace_context *parent);
/* obs_span_begin, and the span made current on this thread; the one it
 * replaced is kept in s->user, for obs_span_leave to put back. */
mcp_span *obs_span_begin_current(mcp_tracer *t, mcp_span_kind kind, const mcp_trace_context *parent);
/* When s is current on this thread, make s->user current again. */
void obs_span_leave(mcp_span *s);
/* The longest span name: a quarter of the text room. */
#define OBS_SPAN_NAME_ROOM (MCP_SPAN_TEXT_ROOM / 4)
/* Name a recording span with no text yet "{a} {b}" (just a when b is
 * empty), cut to OBS_SPAN_NAME_ROOM. */
void obs_span_name_set(mcp_span *s, mcp_str a, mcp_str b);
/* Copy n bytes, n small as span values are: overlapping word moves inline
 * instead of a call per value (the request hooks copy half a dozen values
 * per request, the encoder writes them again per span). */
static inline void obs_copy_small(char *d, const char *src, size_t n) {
    if (n >= 8) {
        if (n > 16) {
            memcpy(d, src, n);
            return;
        }
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) { /* 1 to 3 bytes: first, middle, last */
        d[0] = src[0];
        d[n / 2] = src[n / 2];
        d[n - 1] = src[n - 1];
    }
}

/* A string attribute on a recording span from code that knows key is a
 * literal: the checks of mcp_span_set_strn minus those the caller has
 * already made (span not NULL and recording). Inline because the request
 * hooks set half a dozen per request. */
static inline void obs_span_put_str(mcp_span *s, const char *key, const char *value, size_t len) {
    if (MCP_UNLIKELY(!value || len > MCP_SPAN_TEXT_ROOM - s->text_used || s->attr_count >= s->attr_room)) {
        s->dropped_attrs += value != NULL;
        return;
    }
    obs_attr *a = &s->attrs[s->attr_count++];
    a->key = key;
    a->type = OBS_ATTR_STR;
    a->len = (uint16_t)len;
    a->v.off = s->text_used;
    memcpy(s->text + s->text_used, value, len);
    s->text_used += (uint32_t)len;
}

/* A string attribute whose value is already in the span's text at off
 * (the span name holds the method and the target): no second copy. */
static inline void obs_span_put_ref(mcp_span *s, const char *key, uint32_t off, size_t len) {
    if (MCP_UNLIKELY(s->attr_count >= s->attr_room)) {
        s->dropped_attrs++;
        return;
    }
    obs_attr *a = &s->attrs[s->attr_count++];
    a->key = key;
    a->type = OBS_ATTR_STR;
    a->len = (uint16_t)len;
    a->v.off = off;
}

/* metrics.c: a counter and a duration histogram resolved once to their
 * slots, so that a request's count and duration are one call: no type
 * checks, one look-up of the thread's shard, the duration in whole ns
 * against the bounds (no division). */
typedef struct obs_metrics_timer {
    uint32_t counter_slot, histogram_slot, bound_count;
    const uint64_t *bounds_ns;
} obs_metrics_timer;
/* MCP_EINVAL unless counter is a counter and histogram a histogram whose
 * bounds are all >= 0 (a duration's). */
int obs_metrics_timer_resolve(mcp_metrics *m, mcp_metric_id counter, mcp_metric_id histogram, obs_metrics_timer *out);
/* 1 on the counter, ns into the histogram. */
void obs_metrics_timer_record(mcp_metrics *m, const obs_metrics_timer *tm, uint64_t ns);

/* span.c: give a record back to its owner's pool (any thread). */
void obs_span_release(mcp_span *s);
/* The same for a batch (the exporter's), one exchange per run of spans
 * that share an owner. */
void obs_spans_release(mcp_span **spans, size_t n);
/* mcp_span_end with the monotonic time already read by the caller. */
void obs_span_end_at(mcp_span *s, uint64_t now_mono_ns);
/* Move up to max ended spans from the per-thread rings into out. */
size_t obs_spans_collect(mcp_tracer *t, mcp_span **out, size_t max);
/* Free every thread state and span record (tracer teardown). */
void obs_threads_free(mcp_tracer *t);
void obs_thread_stats_add(mcp_tracer *t, mcp_tracer_stats *out);

#endif
