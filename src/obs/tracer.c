/*
 * The tracer and its exporter thread: the batch span processor.
 *
 * The exporter wakes every flush_interval_ms (or when asked to flush),
 * drains the per-thread rings into batches of at most max_batch spans and
 * posts each batch as OTLP/JSON or OTLP/protobuf (the exporter's
 * encoding). Throttling and gateway answers (429, 502, 503, 504) and
 * connection failures are retried with exponential backoff
 * and full jitter, honouring Retry-After, at most max_retries times; then
 * the batch is dropped and counted. While it waits, the rings keep filling
 * and overflow into the dropped counters: the request path never waits.
 */
#include "obs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic uint64_t next_tracer_id = 1;

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void deadline_after(struct timespec *ts, unsigned ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleep up to ms unless the tracer is stopping; true when it is. Called
 * with t->lock held. */
static bool wait_or_stop(mcp_tracer *t, unsigned ms) {
    struct timespec ts;
    deadline_after(&ts, ms);
    while (!t->stopping) {
        if (pthread_cond_timedwait(&t->wake, &t->lock, &ts) == ETIMEDOUT) break;
    }
    return t->stopping;
}

static bool retryable(int status) {
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static unsigned backoff_ms(mcp_tracer *t, unsigned attempt, long retry_after_ms) {
    unsigned max = t->opts.exporter.max_backoff_ms;
    if (retry_after_ms >= 0) return retry_after_ms > (long)max ? max : (unsigned)retry_after_ms;
    uint64_t base = (uint64_t)t->opts.exporter.initial_backoff_ms << (attempt < 20 ? attempt : 20);
    if (base > max) base = max;
    /* Full jitter: spread retries of many exporters over the whole window. */
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return (unsigned)(base / 2 + t->rng % (base / 2 + 1));
}

/* Post one batch, retrying; returns true when the collector took it. */
static bool export_batch(mcp_tracer *t, obs_http_conn *conn, mcp_span **spans, size_t n, mcp_buf *body) {
    const mcp_exporter_opts *e = &t->opts.exporter;
    bool proto = e->encoding == MCP_OTLP_PROTOBUF;
    mcp_buf_reset(body);
    if ((proto ? obs_otlp_encode_proto : obs_otlp_encode)(body, &t->opts, spans, n) != 0) return false;
    const char *content_type = proto ? "application/x-protobuf" : "application/json";
    for (unsigned attempt = 0;; attempt++) {
        obs_http_response r = {0};
        mcp_buf_init(&r.body);
        atomic_fetch_add_explicit(&t->export_requests, 1, memory_order_relaxed);
        if (attempt) atomic_fetch_add_explicit(&t->export_retries, 1, memory_order_relaxed);
        int rc = obs_http_exchange(conn, &t->url, "POST", t->headers, e->header_count, content_type, body->data,
                                   body->len, e->timeout_ms, &r);
        mcp_buf_free(&r.body);
        if (rc == 0 && r.status >= 200 && r.status < 300) return true;
        bool again = rc != 0 || retryable(r.status);
        if (rc == 0 && !again) {
            mcp_log(MCP_LOG_WARNING, "otlp export: collector answered %d, %zu spans dropped", r.status, n);
            return false;
        }
        if (attempt >= e->max_retries) {
            mcp_log(MCP_LOG_WARNING, "otlp export: %s after %u attempts, %zu spans dropped",
                    rc ? mcp_strerror(rc) : "collector kept refusing", attempt + 1, n);
            return false;
        }
        pthread_mutex_lock(&t->lock);
        bool stop = wait_or_stop(t, backoff_ms(t, attempt, rc == 0 ? r.retry_after_ms : -1));
        pthread_mutex_unlock(&t->lock);
        /* Shutting down: one more attempt was all we promised. */
        if (stop && attempt >= 1) return false;
    }
}

void obs_clock_offset_refresh(mcp_tracer *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
    atomic_store_explicit(&t->unix_offset_ns, wall - (int64_t)mcp_now_ns(), memory_order_relaxed);
}

void obs_exporter_nudge(mcp_tracer *t) {
    /* Only the first producer to see the exporter idle signals; the
     * signal needs no lock (a wake-up lost to a race costs at most one
     * flush interval, and the ring still has room for that). */
    if (atomic_exchange_explicit(&t->exporter_idle, false, memory_order_relaxed)) pthread_cond_signal(&t->wake);
}

static void post(mcp_tracer *t, obs_http_conn *conn, mcp_span **batch, size_t n, mcp_buf *body) {
    if (export_batch(t, conn, batch, n, body)) {
        atomic_fetch_add_explicit(&t->exported, n, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&t->dropped_export, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->export_failures, 1, memory_order_relaxed);
    }
    obs_spans_release(batch, n);
}

/* Batches are posted full (wake_at spans, the count at which a ring
 * wakes the exporter), or with what there is when a flush was asked, the
 * interval passed or the tracer stops. Spans collected short of that are
 * kept for the next round: posting them at once, as they trickled in
 * during the previous post, made posts of a hundred spans under load,
 * each paying the collector's round trip and its context switches. */
static void *exporter_main(void *arg) {
    mcp_tracer *t = arg;
    size_t cap = t->opts.exporter.max_batch, have = 0;
    mcp_span **batch = malloc(cap * sizeof *batch);
    mcp_buf body;
    mcp_buf_init(&body);
    obs_http_conn conn = {.fd = -1, .keep = true};
    bool timed_out = true;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        uint64_t want = t->flush_requested;
        bool stopping = t->stopping, must_post = stopping || timed_out || want > t->flush_done;
        pthread_mutex_unlock(&t->lock);
        while (batch) {
            have += obs_spans_collect(t, batch + have, cap - have);
            if (!have || (have < t->wake_at && !must_post)) break;
            bool full = have == cap;
            post(t, &conn, batch, have, &body);
            have = 0;
            if (!full) break; /* the rings were drained */
        }
        pthread_mutex_lock(&t->lock);
        if (t->flush_done < want) t->flush_done = want;
        pthread_cond_broadcast(&t->flushed);
        if (stopping) break;
        obs_clock_offset_refresh(t);
        timed_out = false;
        if (t->flush_requested == t->flush_done && !t->stopping) {
            struct timespec ts;
            deadline_after(&ts, t->opts.exporter.flush_interval_ms);
            atomic_store_explicit(&t->exporter_idle, true, memory_order_relaxed);
            timed_out = pthread_cond_timedwait(&t->wake, &t->lock, &ts) == ETIMEDOUT;
            atomic_store_explicit(&t->exporter_idle, false, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&t->lock);
    obs_http_conn_close(&conn);
    mcp_buf_free(&body);
    free(batch);
    return NULL;
}

static void resource_attributes_free(mcp_tracer *t) {
    for (size_t i = 0; t->resource_attributes && i < t->opts.resource_attribute_count; i++) {
        free((char *)t->resource_attributes[i].key);
        free((char *)t->resource_attributes[i].value);
    }
    free(t->resource_attributes);
}

/* Copy the extra resource attributes, keeping out the keys the resource
 * carries anyway: the service keys go to from_list (service.name,
 * service.version, service.instance.id) for the fields left NULL, and the
 * telemetry.sdk keys are the library's. opts then points at the copy. */
static bool resource_attributes_copy(mcp_tracer *t, mcp_tracer_opts *opts, const char *from_list[3]) {
    static const char *const service_keys[3] = {"service.name", "service.version", "service.instance.id"};
    size_t n = opts->resource_attribute_count, kept = 0;
    t->resource_attributes = calloc(n, sizeof *t->resource_attributes);
    if (!t->resource_attributes) return false;
    t->opts.resource_attribute_count = 0; /* how many resource_attributes_free frees, should a copy fail */
    for (size_t i = 0; i < n; i++) {
        const mcp_resource_attribute *a = &opts->resource_attributes[i];
        if (!a->key || !a->value || !strncmp(a->key, "telemetry.sdk.", 14)) continue;
        size_t s = 0;
        while (s < 3 && strcmp(a->key, service_keys[s])) s++;
        if (s < 3) {
            from_list[s] = a->value; /* copied with the fields */
            continue;
        }
        mcp_resource_attribute *c = &t->resource_attributes[kept++];
        c->key = strdup(a->key);
        c->value = strdup(a->value);
        t->opts.resource_attribute_count = kept;
        if (!c->key || !c->value) return false;
    }
    opts->resource_attributes = t->resource_attributes;
    opts->resource_attribute_count = kept;
    return true;
}

bool mcp_header_name_valid(const char *name) {
    return name && mcp_str_is_http_token(mcp_str_from(name));
}

bool mcp_header_value_valid(const char *value) {
    if (!value) return false;
    for (const unsigned char *c = (const unsigned char *)value; *c; c++)
        if ((*c < ' ' && *c != '\t') || *c == 0x7f) return false;
    return true;
}

int mcp_tracer_new(const mcp_tracer_opts *opts, mcp_tracer **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_tracer_opts o = opts ? *opts : (mcp_tracer_opts){0};
    if (o.sampler.root > MCP_SAMPLE_RATIO || (o.sampler.root == MCP_SAMPLE_RATIO && !(o.sampler.ratio >= 0.0 && o.sampler.ratio <= 1.0)))
        return MCP_EINVAL;
    if ((unsigned)o.exporter.encoding > MCP_OTLP_PROTOBUF) return MCP_EINVAL;
    mcp_tracer *t = calloc(1, sizeof *t);
    if (!t) return MCP_ENOMEM;
    mcp_exporter_opts *e = &o.exporter;
    if (!e->timeout_ms) e->timeout_ms = 10000;
    if (!e->max_retries) e->max_retries = 5;
    if (!e->initial_backoff_ms) e->initial_backoff_ms = 100;
    if (!e->max_backoff_ms) e->max_backoff_ms = 5000;
    if (!e->flush_interval_ms) e->flush_interval_ms = 500;
    if (!e->max_batch) e->max_batch = 512;
    t->buffer_spans = o.buffer_spans ? o.buffer_spans : 2048;
    if (t->buffer_spans > (1u << 20)) t->buffer_spans = 1u << 20;
    /* In flight (started, not ended) plus waiting in the ring. */
    t->max_live = t->buffer_spans * 2 + 64;
    t->wake_at = e->max_batch < t->buffer_spans / 2 ? e->max_batch : (t->buffer_spans / 2 ? t->buffer_spans / 2 : 1);
    obs_clock_offset_refresh(t);
    const char *endpoint = e->endpoint ? e->endpoint : "http://127.0.0.1:4318/v1/traces";
    t->export_enabled = endpoint[0] != '\0';
    int rc = MCP_OK;
    if (t->export_enabled && (rc = obs_url_parse(endpoint, &t->url)) != 0) {
        mcp_log(MCP_LOG_ERROR, "otlp exporter: endpoint \"%s\" is not an http://host:port/path URL", endpoint);
        free(t);
        return rc;
    }
    const char *from_list[3] = {NULL, NULL, NULL};
    if (o.resource_attribute_count && !o.resource_attributes) rc = MCP_EINVAL;
    else if (o.resource_attribute_count && !resource_attributes_copy(t, &o, from_list)) rc = MCP_ENOMEM;
    if (rc) {
        resource_attributes_free(t);
        free(t);
        return rc;
    }
    if (!o.service_name) o.service_name = from_list[0];
    if (!o.service_version) o.service_version = from_list[1];
    if (!o.service_instance_id) o.service_instance_id = from_list[2];
    t->endpoint = strdup(endpoint);
    t->service_name = strdup(o.service_name ? o.service_name : "mcpd");
    t->service_version = strdup(o.service_version ? o.service_version : MCP_VERSION_STRING);
    t->service_instance_id = dup_or_null(o.service_instance_id);
    bool oom = !t->endpoint || !t->service_name || !t->service_version ||
               (o.service_instance_id && !t->service_instance_id);
    if (e->header_count) {
        t->headers = calloc(e->header_count, sizeof *t->headers);
        oom |= !t->headers;
        for (size_t i = 0; !oom && i < e->header_count; i++) {
            const char *name = e->headers[i].name, *value = e->headers[i].value;
            if (!mcp_header_name_valid(name) || !mcp_header_value_valid(value)) {
                rc = MCP_EINVAL; /* header injection, or a request garbled */
                break;
            }
            t->headers[i].name = strdup(name);
            t->headers[i].value = strdup(value);
            oom |= !t->headers[i].name || !t->headers[i].value;
        }
    }
    o.service_name = t->service_name;
    o.service_version = t->service_version;
    o.service_instance_id = t->service_instance_id;
    e->endpoint = t->endpoint;
    e->headers = t->headers;
    t->opts = o;
    t->id = atomic_fetch_add(&next_tracer_id, 1);
    t->rng = mcp_now_ns() | 1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_cond_init(&t->flushed, &ca);
    pthread_condattr_destroy(&ca);
    if (oom) rc = MCP_ENOMEM;
    if (!rc && t->export_enabled) {
        if (pthread_create(&t->exporter, NULL, exporter_main, t) != 0) rc = MCP_ENOMEM;
        else t->exporter_running = true;
    }
    if (rc) {
        mcp_tracer_free(t);
        return rc;
    }
    *out = t;
    return MCP_OK;
}

void mcp_tracer_free(mcp_tracer *t) {
    if (!t) return;
    if (t->exporter_running) {
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->exporter, NULL);
    }
    obs_threads_free(t);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->flushed);
    if (t->headers) {
        for (size_t i = 0; i < t->opts.exporter.header_count; i++) {
            free((char *)t->headers[i].name);
            free((char *)t->headers[i].value);
        }
        free(t->headers);
    }
    resource_attributes_free(t);
    free(t->endpoint);
    free(t->service_name);
    free(t->service_version);
    free(t->service_instance_id);
    free(t);
}

int mcp_tracer_flush(mcp_tracer *t, unsigned timeout_ms) {
    if (!t) return MCP_EINVAL;
    if (!t->exporter_running) return MCP_OK;
    struct timespec ts;
    deadline_after(&ts, timeout_ms);
    int rc = MCP_OK;
    pthread_mutex_lock(&t->lock);
    uint64_t ticket = ++t->flush_requested;
    pthread_cond_broadcast(&t->wake);
    while (t->flush_done < ticket && !t->stopping) {
        if (!timeout_ms) {
            pthread_cond_wait(&t->flushed, &t->lock);
        } else if (pthread_cond_timedwait(&t->flushed, &t->lock, &ts) == ETIMEDOUT) {
            rc = MCP_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void mcp_tracer_stats_get(mcp_tracer *t, mcp_tracer_stats *out) {
    memset(out, 0, sizeof *out);
    if (!t) return;
    obs_thread_stats_add(t, out);
    out->spans_exported = atomic_load(&t->exported);
    out->dropped_export_failed = atomic_load(&t->dropped_export);
    out->export_requests = atomic_load(&t->export_requests);
    out->export_retries = atomic_load(&t->export_retries);
    out->export_failures = atomic_load(&t->export_failures);
}
