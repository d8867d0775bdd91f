/*
 * mcp/obs.h — tracing, metrics and structured logs for libmcp.
 *
 * Three parts that work alone or together:
 *
 *   Tracing. An mcp_tracer makes spans (W3C trace context, OpenTelemetry
 *   semantic conventions for MCP) and ships them over OTLP/HTTP, encoded
 *   as JSON (the default) or protobuf (mcp_exporter_opts.encoding).
 *   Ending a span only moves it into a bounded per-thread buffer;
 *   one exporter thread drains the buffers, batches, posts and retries. The
 *   request path never waits for the network and never takes a lock: when a
 *   buffer is full the span is dropped and counted.
 *
 *   Metrics. An mcp_metrics registry holds counters, gauges and histograms
 *   whose hot-path updates go to per-thread shards (summed when read), plus
 *   collector callbacks that report counters kept elsewhere (net, cache,
 *   pools). mcp_metrics_render writes the Prometheus text format 0.0.4.
 *
 *   Logs. mcp_obs_log_record formats one JSON log record carrying the
 *   current span's trace and span ids; the stderr sink and MCP logging
 *   notifications use the same record.
 *
 * An mcp_obs ties them to the request path: its request hooks start a span
 * per request (parented on params._meta traceparent, else the transport's
 * traceparent header), count requests by method and outcome and time them.
 *
 *     mcp_tracer *t; mcp_tracer_new(&(mcp_tracer_opts){ .service_name = "mcpd",
 *         .exporter = { .endpoint = "http://127.0.0.1:4318/v1/traces" } }, &t);
 *     mcp_metrics *m; mcp_metrics_new(&m);
 *     mcp_obs *o; mcp_obs_new(t, m, &o);
 *     void *h = mcp_obs_request_start(o, &(mcp_obs_request){ .method = "tools/call",
 *                                     .target = "greet", .request_id = "1", .transport = "tcp" });
 *     ... handle the request ...
 *     mcp_obs_request_end(o, h, &(mcp_obs_outcome){ .rpc_code = 0 });
 *     mcp_buf text; mcp_buf_init(&text); mcp_metrics_render(m, &text);
 *
 * Free in reverse order: mcp_obs_free, mcp_metrics_free, mcp_tracer_free
 * (which exports what is still buffered, within the exporter timeout).
 */
#ifndef MCP_OBS_H
#define MCP_OBS_H

#include "mcp/base.h"
#include "mcp/mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Trace context (W3C) ---------------------------------------------------- */
#define MCP_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define MCP_TRACESTATE_MAX 256

typedef struct mcp_trace_context {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;            /* bit 0: sampled */
    char tracestate[MCP_TRACESTATE_MAX + 1]; /* passed through, "" when none */
} mcp_trace_context;

/* Parse a traceparent header value (version 00, or a later version read as
 * 00 per the spec). MCP_EPARSE for anything malformed, an all-zero trace or
 * span id, or version ff. tracestate may be NULL; over-long ones are dropped. */
int mcp_traceparent_parse(const char *traceparent, size_t len, const char *tracestate,
                          mcp_trace_context *out);
/* Write the 55-character traceparent of ctx plus a NUL. */
void mcp_traceparent_format(const mcp_trace_context *ctx, char out[MCP_TRACEPARENT_LEN + 1]);
void mcp_hex_encode(const uint8_t *bytes, size_t n, char *out); /* 2n lowercase hex digits, then NUL */

/* ---- Sampling -------------------------------------------------------------------- */
typedef enum mcp_sampler_kind {
    MCP_SAMPLE_ALWAYS_ON = 0,
    MCP_SAMPLE_ALWAYS_OFF,
    MCP_SAMPLE_RATIO,          /* trace-id based: the same trace gives the same answer everywhere */
} mcp_sampler_kind;

typedef struct mcp_sampler {
    mcp_sampler_kind root;     /* decision for spans without a parent */
    double ratio;              /* for MCP_SAMPLE_RATIO, in [0, 1] */
    /* When true (the usual choice), a span with a parent follows the
     * parent's sampled flag and the root sampler decides only for roots. */
    bool parent_based;
} mcp_sampler;

/* The decision the sampler makes for a new span in trace trace_id. */
bool mcp_sampler_should_sample(const mcp_sampler *s, const uint8_t trace_id[16], const mcp_trace_context *parent);

/* ---- Tracer and exporter ------------------------------------------------------------ */
typedef struct mcp_tracer mcp_tracer;
typedef struct mcp_span mcp_span;

typedef struct mcp_header {
    const char *name;
    const char *value;
} mcp_header;
/* The one rule for export headers, whichever way they come (options, mcpd
 * flags and config, OTEL variables): the name an HTTP token, the value
 * without control characters but tab. A line break would split the
 * request; the others garble it. mcp_tracer_new refuses anything else. */
bool mcp_header_name_valid(const char *name);
bool mcp_header_value_valid(const char *value);

/* The body of an export: OTLP/HTTP has two encodings, and collectors take
 * both. JSON (Content-Type application/json) is the default, readable in a
 * capture; protobuf (application/x-protobuf) is less than half the bytes
 * and costs the exporter thread fewer instructions per span. */
typedef enum mcp_otlp_encoding {
    MCP_OTLP_JSON = 0,
    MCP_OTLP_PROTOBUF,
} mcp_otlp_encoding;

typedef struct mcp_exporter_opts {
    /* OTLP/HTTP traces URL, http:// only; NULL means the default
     * http://127.0.0.1:4318/v1/traces. An empty string disables exporting
     * (spans are still made, for context propagation and logs). */
    const char *endpoint;
    const mcp_header *headers; /* extra request headers, e.g. authorization */
    size_t header_count;
    unsigned timeout_ms;       /* per POST attempt; 0 means 10000 */
    unsigned max_retries;      /* on 429/502/503/504 and connection errors; 0 means 5 */
    unsigned initial_backoff_ms; /* 0 means 100; doubles per retry, with jitter */
    unsigned max_backoff_ms;   /* 0 means 5000; also caps Retry-After */
    unsigned flush_interval_ms;/* export at least this often; 0 means 500 */
    unsigned max_batch;        /* spans per POST; 0 means 512 */
    mcp_otlp_encoding encoding;/* zero value: JSON; another value than the two: MCP_EINVAL */
} mcp_exporter_opts;

/* A resource attribute with a string value (OTEL_RESOURCE_ATTRIBUTES). */
typedef struct mcp_resource_attribute {
    const char *key;
    const char *value;
} mcp_resource_attribute;

typedef struct mcp_tracer_opts {
    const char *service_name;  /* resource service.name; NULL means "mcpd" */
    const char *service_version; /* NULL means the library version */
    const char *service_instance_id; /* optional */
    /* More resource attributes, e.g. deployment.environment.name, sent
     * after the ones above by both encodings; copied by mcp_tracer_new.
     * A service.name, service.version or service.instance.id among them
     * stands in for the field above when that is NULL and is otherwise
     * dropped, as are telemetry.sdk.* (the library's own): a resource
     * never carries one key twice. Keys should be distinct. */
    const mcp_resource_attribute *resource_attributes;
    size_t resource_attribute_count;
    mcp_sampler sampler;       /* zero value: always on */
    mcp_exporter_opts exporter;
    unsigned buffer_spans;     /* per-thread buffer of ended spans; 0 means 2048 */
} mcp_tracer_opts;

int mcp_tracer_new(const mcp_tracer_opts *opts, mcp_tracer **out);

/* ---- OpenTelemetry SDK environment variables -------------------------------------------
 * mcp_otel_env_read fills tracer options from the variables OpenTelemetry
 * SDKs read (OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_*
 * and OTEL_EXPORTER_OTLP_TRACES_* ENDPOINT, HEADERS, PROTOCOL, TIMEOUT, and
 * OTEL_BSP_SCHEDULE_DELAY, _MAX_EXPORT_BATCH_SIZE, _EXPORT_TIMEOUT). Only
 * the fields a variable sets are written, so set your defaults first and
 * your own overrides after:
 *
 *     mcp_otel_env env;
 *     mcp_tracer_opts o = { .service_name = "mine" };
 *     if (mcp_otel_env_read(&env, &o, NULL, NULL) != 0) die(env.error);
 *     for (p = env.warnings; *p; p += strlen(p) + 1) warn(p);
 *     if (env.tracing_enabled) mcp_tracer_new(&o, &t);
 *
 * The strings o points at live in env, which must outlive the use of o.
 * getenv_fn(user, name) looks variables up (NULL: the process's getenv),
 * so that tests need not touch the real environment. A value an SDK must
 * not use (an https:// or malformed endpoint, grpc, an exporter other than
 * otlp or none, a malformed header list) gives MCP_EINVAL and env->error
 * naming the variable; a value the specification says to ignore (a bad
 * number, boolean or sampler argument, an unknown sampler, a malformed
 * OTEL_RESOURCE_ATTRIBUTES) leaves the option alone and adds a warning. */
#define MCP_OTEL_ENV_MAX_HEADERS 32
#define MCP_OTEL_ENV_MAX_ATTRIBUTES 64
#define MCP_OTEL_ENV_TEXT 8192

typedef const char *(*mcp_getenv_fn)(void *user, const char *name);

typedef struct mcp_otel_env {
    /* An endpoint is set, OTEL_SDK_DISABLED is not true and
     * OTEL_TRACES_EXPORTER is not none. */
    bool tracing_enabled;
    /* OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: no tracing,
     * whatever else asks for it. */
    bool disabled;
    char error[256];           /* why mcp_otel_env_read failed, "" otherwise */
    /* NUL-separated messages ending with an empty one ("" when none). */
    char warnings[1024];
    /* Storage behind the options; private. */
    mcp_header headers[MCP_OTEL_ENV_MAX_HEADERS];
    mcp_resource_attribute attributes[MCP_OTEL_ENV_MAX_ATTRIBUTES];
    char text[MCP_OTEL_ENV_TEXT];
    size_t text_used, warnings_used;
} mcp_otel_env;

/* 0 or MCP_EINVAL (see env->error). */
int mcp_otel_env_read(mcp_otel_env *env, mcp_tracer_opts *opts, mcp_getenv_fn getenv_fn, void *user);
/* Stops the exporter after one last export of what is buffered. Every span
 * must have ended before. */
void mcp_tracer_free(mcp_tracer *t);
/* Ask the exporter to drain the buffers now and wait until it has (or
 * timeout_ms passed; 0 waits without limit). MCP_ETIMEDOUT otherwise. */
int mcp_tracer_flush(mcp_tracer *t, unsigned timeout_ms);

typedef struct mcp_tracer_stats {
    uint64_t spans_started;    /* recording spans */
    uint64_t spans_unsampled;  /* non-recording spans (sampler said no) */
    uint64_t spans_exported;   /* accepted by the collector */
    uint64_t dropped_buffer_full;  /* ended while the thread's buffer was full */
    uint64_t dropped_pool_exhausted; /* could not start: too many spans in flight on a thread */
    uint64_t dropped_export_failed;  /* in batches the collector refused or never got */
    uint64_t export_requests;  /* POST attempts */
    uint64_t export_retries;   /* attempts after the first of a batch */
    uint64_t export_failures;  /* batches given up */
    uint64_t attributes_dropped; /* over the per-span attribute or text room */
} mcp_tracer_stats;

void mcp_tracer_stats_get(mcp_tracer *t, mcp_tracer_stats *out);

/* ---- Spans ------------------------------------------------------------------------------
 * mcp_span_start never blocks and never allocates once a thread is warm.
 * It returns NULL only when the thread has too many spans in flight
 * (counted); every span function accepts NULL and does nothing. A span the
 * sampler rejected is non-recording: it carries context (its traceparent
 * has the sampled flag off) but keeps no attributes and is not exported.
 * Attribute keys must be string literals or otherwise outlive the export
 * unchanged; string values are copied. A span may end on another thread than the one
 * that started it. */
#define MCP_SPAN_MAX_ATTRIBUTES 128
#define MCP_SPAN_TEXT_ROOM 2048 /* bytes for name, string values and status message */

typedef enum mcp_span_kind {
    MCP_SPAN_INTERNAL = 1,
    MCP_SPAN_SERVER = 2,
    MCP_SPAN_CLIENT = 3,
    MCP_SPAN_PRODUCER = 4,
    MCP_SPAN_CONSUMER = 5
} mcp_span_kind;

/* parent NULL: a root span (a new trace). */
mcp_span *mcp_span_start(mcp_tracer *t, const char *name, mcp_span_kind kind, const mcp_trace_context *parent);
void mcp_span_set_str(mcp_span *s, const char *key, const char *value);
void mcp_span_set_strn(mcp_span *s, const char *key, const char *value, size_t len);
void mcp_span_set_int(mcp_span *s, const char *key, int64_t value);
void mcp_span_set_double(mcp_span *s, const char *key, double value);
void mcp_span_set_bool(mcp_span *s, const char *key, bool value);
/* Status ERROR with error.type = error_type and an optional description. */
void mcp_span_set_error(mcp_span *s, const char *error_type, const char *message);
void mcp_span_end(mcp_span *s);
bool mcp_span_is_recording(const mcp_span *s);
/* The span's context, to parent children or to propagate. 0 or MCP_EINVAL for NULL. */
int mcp_span_context(const mcp_span *s, mcp_trace_context *out);
/* The traceparent to put in an outgoing request (params._meta.traceparent
 * or the HTTP traceparent header). 0 or MCP_EINVAL for NULL. */
int mcp_span_traceparent(const mcp_span *s, char out[MCP_TRACEPARENT_LEN + 1]);

/* The span this thread works under (set by the request hooks), or NULL. */
mcp_span *mcp_span_current(void);
/* Make s current on this thread; returns the previous one to restore. */
mcp_span *mcp_span_make_current(mcp_span *s);

/* ---- Metrics ----------------------------------------------------------------------------- */
typedef struct mcp_metrics mcp_metrics;
typedef uint32_t mcp_metric_id;

typedef enum mcp_metric_type { MCP_METRIC_COUNTER = 0, MCP_METRIC_GAUGE, MCP_METRIC_HISTOGRAM } mcp_metric_type;

typedef struct mcp_label {
    const char *name;          /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with __ */
    const char *value;         /* any UTF-8; escaped on output */
} mcp_label;

int mcp_metrics_new(mcp_metrics **out);
void mcp_metrics_free(mcp_metrics *m);

/* Register one series (a name plus label values); series of one name must
 * share type, help and (histograms) bounds. Names follow the Prometheus
 * rules ([a-zA-Z_:][a-zA-Z0-9_:]*); counters should end in _total.
 * Registration takes a lock; updates never do. MCP_EINVAL for a bad name or
 * label, MCP_EEXIST for a series already registered, MCP_ELIMIT when the
 * registry is full (MCP_METRICS_MAX_SLOTS slots: one per counter or gauge,
 * bounds + 2 per histogram). */
#define MCP_METRICS_MAX_SLOTS 8192
#define MCP_METRICS_MAX_BOUNDS 32
int mcp_metrics_counter(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                        size_t label_count, mcp_metric_id *out);
int mcp_metrics_gauge(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                      size_t label_count, mcp_metric_id *out);
/* bounds: strictly increasing upper bounds (le), without +Inf. NULL means
 * the latency buckets from 50 µs to 10 s in seconds. */
int mcp_metrics_histogram(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                          size_t label_count, const double *bounds, size_t bound_count, mcp_metric_id *out);

/* Hot path: per-thread, lock-free, no allocation once the thread is warm. */
void mcp_metrics_add(mcp_metrics *m, mcp_metric_id counter, uint64_t n);
void mcp_metrics_observe(mcp_metrics *m, mcp_metric_id histogram, double value);
/* Gauges are one shared value: set or add atomically. */
void mcp_metrics_gauge_set(mcp_metrics *m, mcp_metric_id gauge, double value);
void mcp_metrics_gauge_add(mcp_metrics *m, mcp_metric_id gauge, double delta);
/* The current value, summed over threads (counter: total; gauge: value;
 * histogram: count). */
double mcp_metrics_value(mcp_metrics *m, mcp_metric_id id);

/* Collectors report values kept elsewhere at render time. Within one
 * collector, the samples of one metric name must be written one after the
 * other; a name already written by the registry or another collector is
 * refused (and counted in mcp_metrics_render_errors_total). */
typedef struct mcp_metrics_writer mcp_metrics_writer;
typedef void (*mcp_metrics_collect_fn)(mcp_metrics_writer *w, void *user);
int mcp_metrics_add_collector(mcp_metrics *m, mcp_metrics_collect_fn fn, void *user);
void mcp_metrics_write(mcp_metrics_writer *w, const char *name, const char *help, mcp_metric_type type,
                       const mcp_label *labels, size_t label_count, double value);

/* Append the whole registry and every collector's samples to out in the
 * Prometheus text exposition format 0.0.4 (Content-Type:
 * MCP_METRICS_CONTENT_TYPE). 0 or MCP_ENOMEM. */
#define MCP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
int mcp_metrics_render(mcp_metrics *m, mcp_buf *out);

/* Ready-made collectors. */
void mcp_metrics_collect_tracer(mcp_metrics_writer *w, void *tracer); /* user: an mcp_tracer */
typedef struct mcp_net mcp_net;
/* user: a running mcp_net. When it serves in an mcp_serve run with other
 * listeners, every listener of the run is reported, each series with a
 * listener="stdio"|"tcp"|"http"|"ws" label (mcp_serve_listeners in mcp/net.h);
 * a runtime on its own gives the same series without that label. */
void mcp_metrics_collect_net(mcp_metrics_writer *w, void *net);
/* One of each per registry (the metric names carry no instance label). */
void mcp_metrics_collect_cache(mcp_metrics_writer *w, void *cache);   /* user: an mcp_cache (L1, L2 by tier) */
void mcp_metrics_collect_cache_l3(mcp_metrics_writer *w, void *l3);   /* user: an mcp_cache_l3 */
void mcp_metrics_collect_pool(mcp_metrics_writer *w, void *pool);     /* user: an mcp_pool */
void mcp_metrics_collect_batcher(mcp_metrics_writer *w, void *batcher); /* user: an mcp_batcher */

/* ---- Request hooks ---------------------------------------------------------------------------
 * What the server core (and the client) report about each request; the
 * strings need to live only during the call. */
typedef struct mcp_obs_request {
    const char *method;          /* required: the JSON-RPC method */
    const char *target;          /* tools/call: tool name; prompts/get: prompt name */
    const char *resource_uri;    /* resources/read, subscribe, unsubscribe */
    const char *request_id;      /* the id as text; NULL for notifications */
    const char *session_id;      /* handshake-era session, or NULL */
    const char *protocol_version;/* negotiated MCP version, or NULL */
    const char *transport;       /* network.transport: "pipe" (stdio), "tcp", "quic"; or NULL */
    const char *network_protocol;/* network.protocol.name: "http", "websocket", or NULL */
    const char *traceparent;     /* params._meta.traceparent, or NULL */
    const char *tracestate;      /* params._meta.tracestate, or NULL */
    const char *http_traceparent;/* the transport's traceparent header, used when _meta has none */
    const char *http_tracestate;
    bool client;                 /* true when we are the client sending the request */
} mcp_obs_request;

/* rpc_code (0 for a result), tool_error (isError: true), message. */
typedef mcp_request_outcome mcp_obs_outcome;

typedef struct mcp_obs mcp_obs;

/* tracer and metrics may each be NULL; the hooks then skip that part. */
int mcp_obs_new(mcp_tracer *tracer, mcp_metrics *metrics, mcp_obs **out);
void mcp_obs_free(mcp_obs *o);

/* Start of a request: returns the handle to pass to mcp_obs_request_end
 * (NULL when nothing is recorded; end accepts NULL). The span becomes
 * current on this thread. Signatures take void * so that they plug into
 * callback tables directly. */
void *mcp_obs_request_start(void *obs, const mcp_obs_request *req);
/* End of a request (on any thread): records outcome and latency, ends the span. */
void mcp_obs_request_end(void *obs, void *handle, const mcp_obs_outcome *outcome);
/* The traceparent for the outgoing request of a client handle. */
int mcp_obs_request_traceparent(void *obs, void *handle, char out[MCP_TRACEPARENT_LEN + 1]);
/* The span behind a handle, to add attributes. */
mcp_span *mcp_obs_request_span(void *handle);

/* The same hooks as an mcp_observer (mcp/mcp.h) for mcp_server_opts and
 * mcp_client_opts: spans per request, and (when o has metrics) the
 * Prometheus text for GET /metrics, with the serving listener's net
 * counters. o must outlive the server and clients it is given to. */
void mcp_obs_observer(mcp_obs *o, mcp_observer *out);

/* ---- Structured logs --------------------------------------------------------------------------
 * One JSON object per record: {"ts":"2026-...Z","level":"info","logger":..,
 * "msg":..,"trace_id":..,"span_id":..} (logger, trace_id and span_id only
 * when known). mcp_obs_log_record appends it to out without a newline;
 * MCP logging notifications put the same object in params.data. */
int mcp_obs_log_record(mcp_buf *out, mcp_log_level level, const char *logger, const char *msg,
                       const mcp_span *span);
/* Write a record for the current span to stderr, one line, when level
 * passes mcp_log_get_level(). */
void mcp_obs_log(mcp_log_level level, const char *logger, const char *fmt, ...) MCP_PRINTF(3, 4);
/* An mcp_log sink (mcp_log_set_sink(mcp_obs_log_sink, "mcpd")): every
 * mcp_log line becomes such a record; user is the logger name or NULL. */
void mcp_obs_log_sink(void *user, mcp_log_level level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
