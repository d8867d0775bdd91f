/*
 * otel: what tracing and metrics cost on the request path, timed on the
 * real code.
 *
 *   otel_baseline_1k / otel_overhead_1k   mcp_session_handle of a modern-era
 *       tools/call of an echo tool (about 1 µs of work in all), on a server
 *       without an observer and on one with mcp_obs_observer installed
 *       (mcp_server_opts.observer: the server core starts and ends a span
 *       with the MCP semantic-convention attributes, parented on the _meta
 *       traceparent, and counts and times the request), every request
 *       sampled and exported to a loopback OTLP receiver running in this
 *       process. The tasks run interleaved, repetition by repetition; the
 *       overhead record gets overhead_pct (throughput lost, same run).
 *   otel_baseline_work_1k / otel_overhead_work_1k   the same with a tool
 *       that does about 15 µs of work (hashing 16 KiB), a more realistic
 *       handler than echo.
 *   otel_span_creation                   mcp_span_start + mcp_span_end, no attributes
 *   otel_attribute_overhead_{1,10,100}   a span with that many attributes
 *   otel_exporter_batch_{100,1k,10k}     N spans ended, then a flush: each
 *       sample is the time from a span's end to the collector's 200;
 *       body_bytes_per_span is what the collector received per span
 *   otel_exporter_batch_{100,1k,10k}_proto   the same with the exporter's
 *       protobuf encoding (application/x-protobuf) instead of JSON
 *   otel_collector_up / otel_collector_down   traced tools/call with the
 *       collector answering and with nothing listening (exports failing and
 *       retrying): down_vs_up_p99 and down_vs_up_throughput
 *   otel_served_{tcp,http}_{baseline,traced}   what the tracing target is
 *       about: the throughput a server keeps. Two mcp_net servers (one
 *       worker each) in this process, one without an observer and one with
 *       mcp_obs_observer, every request sampled and exported to the loopback
 *       receiver; the network module's load generator drives the same
 *       tools/call (echo of 1 KiB, the network module's request, plus a
 *       _meta traceparent) over TCP NDJSON (10 connections, 100 in flight
 *       each: the server never waits for the client, so what tracing costs
 *       it shows as throughput; bursts on one connection instead made the
 *       slower traced server look faster, by batching more replies per
 *       write) or keep-alive HTTP (50 connections, 1 in flight each).
 *       Server threads and the tracer's exporter thread (the server's own
 *       work) on one CPU, the load generator and the receiver (a collector
 *       runs elsewhere) on another when there are two. The traced record gets
 *       overhead_pct: the median over repetitions of the throughput lost in
 *       each interleaved pair, with its range (overhead_pct_min/max).
 *   otel_served_tcp_proto_{baseline,traced}   the TCP pair with the
 *       exporter's protobuf encoding.
 *
 * The in-process echo pair (otel_request_1k) stays as the stress number:
 * there the whole request is well under a microsecond, so every nanosecond
 * of the hooks shows.
 */
#include "harness.h"
#include "network.h"
#include "pinning.h"
#include "otel_sink.h"
#include "net/net_internal.h"
#include "mcp/mcp.h"
#include "mcp/obs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}," \
             "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}," \
             "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}"
static const char REQUEST[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                              "\"arguments\":{\"text\":\"hello\"}," META "}}";
static const char REQUEST_WORK[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"work\","
                                   "\"arguments\":{\"text\":\"hello\"}," META "}}";

enum { W_REQUEST = 1, W_SPAN, W_BATCH, W_RESILIENCE, W_WORK, W_SERVED_TCP, W_SERVED_HTTP, W_BATCH_PROTO,
       W_SERVED_TCP_PROTO };

/* ---- state ------------------------------------------------------------------------------ */

/* A server and one session on it, with or without an observer. */
typedef struct otel_target {
    mcp_observer observer;
    mcp_server *server;
    mcp_session *session;
} otel_target;

/* An mcp_net server on loopback and the load generator's connections to it. */
typedef struct served_target {
    mcp_observer observer;
    mcp_server *server;
    mcp_net *net;
    bench_net_load *load;
} served_target;

typedef struct otel_state {
    uint64_t size;
    served_target served_plain, served_traced;
    mcp_buf net_prefix, net_suffix;
    bench_net_request net_request;
    bench_pinning pin; /* client_cpu: the load generator's */
    sink_server sink;
    mcp_otlp_encoding encoding; /* of every tracer of the workload */
    mcp_tracer *tracer, *tracer_down;
    mcp_metrics *metrics;
    mcp_obs *obs, *obs_down;
    otel_target plain, traced, traced_down;
    const char *request;
    size_t request_len;
    uint64_t replies;
    uint64_t work_sink;
    unsigned attrs[3];
} otel_state;

static int echo_tool(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

#define ROUNDS_OF_WORK 10
/* About 15 µs of work: hash 16 KiB, a stand-in for a handler that does
 * something (parses a file, looks up an index). */
static int work_tool(mcp_call *call, const mcp_json *args, void *user) {
    static uint8_t block[16384];
    otel_state *s = user;
    uint64_t h = 0;
    for (int round = 0; round < ROUNDS_OF_WORK; round++) h ^= mcp_hash64(block, sizeof block, s->work_sink + (uint64_t)round);
    s->work_sink += h & 1;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

static int count_reply(void *user, const char *message, size_t len) {
    (void)message;
    (void)len;
    ((otel_state *)user)->replies++;
    return 0;
}

static int tracer_at(int port, mcp_otlp_encoding encoding, mcp_tracer **out) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", port);
    return mcp_tracer_new(&(mcp_tracer_opts){.service_name = "mcpd-bench",
                                             .buffer_spans = 16384,
                                             .exporter = {.endpoint = url, .flush_interval_ms = 100,
                                                          .timeout_ms = 1000, .max_retries = 2,
                                                          .initial_backoff_ms = 50, .max_backoff_ms = 200,
                                                          .encoding = encoding}},
                         out);
}

/* ---- request path ------------------------------------------------------------------------- */

static int run_requests(otel_state *s, otel_target *t, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    uint64_t before = s->replies;
    int rc = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops && rc == 0; i++) {
        if (lat) {
            uint64_t a = mcp_now_ns();
            rc = mcp_session_handle(t->session, s->request, s->request_len);
            mcp_histogram_record(lat, mcp_now_ns() - a);
        } else {
            rc = mcp_session_handle(t->session, s->request, s->request_len);
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    if (!rc && s->replies - before != ops) rc = MCP_EPROTO;
    return rc;
}

static int run_baseline(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    return run_requests(s, &s->plain, ops, lat, ns);
}

static int run_traced(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    return run_requests(s, &s->traced, ops, lat, ns);
}

/* The exporter ships a pass's spans while the next pass runs, and in an
 * interleaved pair that next pass is the baseline's: without this, the
 * export work of the traced pass is timed against the untraced one. So a
 * traced pass ends when the collector has every span it made. */
static int flush_into(otel_state *s, int rc, uint64_t *ns) {
    uint64_t t0 = mcp_now_ns();
    if (!rc) rc = mcp_tracer_flush(s->tracer, 30000);
    *ns += mcp_now_ns() - t0;
    return rc;
}

static int run_traced_exported(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    return flush_into(s, run_requests(s, &s->traced, ops, lat, ns), ns);
}

static int run_traced_down(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    return run_requests(s, &s->traced_down, ops, lat, ns);
}

/* ---- spans ------------------------------------------------------------------------------- */

static int run_spans(otel_state *s, unsigned attrs, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"};
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t a = lat ? mcp_now_ns() : 0;
        mcp_span *sp = mcp_span_start(s->tracer, "tools/call echo", MCP_SPAN_SERVER, NULL);
        for (unsigned k = 0; k < attrs; k++) {
            if (k & 1) mcp_span_set_int(sp, keys[k % 10], (int64_t)k);
            else mcp_span_set_str(sp, keys[k % 10], "value");
        }
        mcp_span_end(sp);
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    /* Let the exporter keep up between repetitions instead of measuring drops. */
    return mcp_tracer_flush(s->tracer, 30000);
}

static int run_span_creation(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    return run_spans(ctx, 0, ops, lat, ns);
}
static int run_attr_1(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    return run_spans(ctx, 1, ops, lat, ns);
}
static int run_attr_10(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    return run_spans(ctx, 10, ops, lat, ns);
}
static int run_attr_100(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    return run_spans(ctx, 100, ops, lat, ns);
}

/* ---- exporter batch -------------------------------------------------------------------------- */

static int run_batch(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    otel_state *s = ctx;
    uint64_t received = atomic_load(&s->sink.spans);
    uint64_t *ended = lat ? malloc(ops * sizeof *ended) : NULL;
    if (lat && !ended) return MCP_ENOMEM;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        mcp_span *sp = mcp_span_start(s->tracer, "tools/call echo", MCP_SPAN_SERVER, NULL);
        mcp_span_set_str(sp, "mcp.method.name", "tools/call");
        mcp_span_set_str(sp, "gen_ai.tool.name", "echo");
        mcp_span_set_str(sp, "jsonrpc.request.id", "1");
        mcp_span_end(sp);
        if (ended) ended[i] = mcp_now_ns();
    }
    int rc = mcp_tracer_flush(s->tracer, 60000);
    uint64_t done = mcp_now_ns();
    *elapsed_ns = done - t0;
    if (ended)
        for (uint64_t i = 0; i < ops; i++) mcp_histogram_record(lat, done - ended[i]);
    free(ended);
    if (!rc && atomic_load(&s->sink.spans) - received != ops) rc = MCP_EIO;
    return rc;
}

/* ---- served throughput ------------------------------------------------------------------ */

/* The network module's stateless-era HTTP head, for the same request. */
static const char SERVED_HTTP_HEAD[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                       "Accept: application/json, text/event-stream\r\n"
                                       "MCP-Protocol-Version: " MCP_PROTOCOL_MODERN "\r\n"
                                       "Mcp-Method: tools/call\r\nMcp-Name: echo\r\n";
#define SERVED_TEXT_BYTES 1024

/* prefix + id + suffix: tools/call of echo with 1 KiB of words, the
 * modern-era _meta, and a traceparent the server's span is parented on. */
static int served_request_build(otel_state *s, bool http) {
    int rc = mcp_buf_append_cstr(&s->net_prefix, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (!rc) rc = bench_net_echo_call_append(&s->net_suffix, SERVED_TEXT_BYTES);
    if (!rc) rc = mcp_buf_append_cstr(&s->net_suffix, "\"}," META "}}");
    s->net_request = (bench_net_request){.prefix = s->net_prefix.data, .prefix_len = s->net_prefix.len,
                                         .suffix = s->net_suffix.data, .suffix_len = s->net_suffix.len};
    if (http) {
        s->net_request.http_head = SERVED_HTTP_HEAD;
        s->net_request.http_head_len = sizeof SERVED_HTTP_HEAD - 1;
    }
    return rc;
}

static int served_start(otel_state *s, served_target *t, mcp_obs *obs, bool http) {
    if (obs) mcp_obs_observer(obs, &t->observer);
    t->server = mcp_server_new(&(mcp_server_opts){.name = "bench", .version = MCP_VERSION_STRING,
                                                  .observer = obs ? &t->observer : NULL});
    if (!t->server) return MCP_ENOMEM;
    int rc = mcp_server_add_tool(t->server, &(mcp_tool){.name = "echo", .fn = echo_tool});
    /* The worker thread inherits this thread's CPU. */
    bench_pin_self(s->pin.server_cpu);
    if (!rc && http)
        rc = mcp_net_start(&t->net, t->server, &(mcp_listen){.http = "127.0.0.1:0", .workers = 1},
                           &(mcp_net_tuning){.http = true});
    else if (!rc)
        rc = mcp_net_start(&t->net, t->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL);
    bench_pin_self(s->pin.client_cpu);
    if (!rc)
        rc = bench_net_load_new(mcp_net_port(t->net), http ? 50 : 10, http ? 1 : 100, BENCH_NET_CLOSED_LOOP,
                                &s->net_request, &t->load);
    /* One request on every connection at once: the HTTP server counts a
     * connection's idleness from its last input, and one that has sent
     * nothing yet is closed at its next sweep as if idle since the clock's
     * start, which would end the pass of whichever server waits its turn. */
    uint64_t ns;
    if (!rc) rc = bench_net_load_run(t->load, 2000, NULL, &ns);
    return rc;
}

static void served_stop(served_target *t) {
    /* Clients first, so that the server's drain finds every peer gone. */
    bench_net_load_free(t->load);
    if (t->net) mcp_net_free(t->net);
    mcp_server_free(t->server);
    *t = (served_target){0};
}

/* A failed pass says what the server saw, so that a limit or a close on
 * its side is not mistaken for a bench problem. */
static int served_check(const served_target *t, const char *which, int rc) {
    if (!rc) return rc;
    mcp_net_counters c;
    mcp_net_counters_get(t->net, &c);
    fprintf(stderr, "bench otel: %s server: %s; accepted %llu, refused %llu, closed %llu, idle closed %llu, "
                    "oversized %llu, slow evicted %llu, messages in %llu\n",
            which, mcp_strerror(rc), (unsigned long long)c.accepted, (unsigned long long)c.refused,
            (unsigned long long)c.closed, (unsigned long long)c.idle_closed, (unsigned long long)c.oversized,
            (unsigned long long)c.slow_evicted, (unsigned long long)c.messages_in);
    return rc;
}

static int run_served_plain(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    return served_check(&s->served_plain, "untraced", bench_net_load_run(s->served_plain.load, ops, lat, ns));
}

static int run_served_traced(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *ns) {
    otel_state *s = ctx;
    int rc = served_check(&s->served_traced, "traced", bench_net_load_run(s->served_traced.load, ops, lat, ns));
    return flush_into(s, rc, ns);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static void otel_teardown(void *p) {
    otel_state *s = p;
    if (!s) return;
    served_stop(&s->served_plain);
    served_stop(&s->served_traced);
    mcp_buf_free(&s->net_prefix);
    mcp_buf_free(&s->net_suffix);
    bench_pinning_restore(&s->pin);
    otel_target *targets[] = {&s->plain, &s->traced, &s->traced_down};
    for (size_t i = 0; i < 3; i++) {
        mcp_session_free(targets[i]->session);
        mcp_server_free(targets[i]->server);
    }
    mcp_obs_free(s->obs);
    mcp_obs_free(s->obs_down);
    mcp_metrics_free(s->metrics);
    mcp_tracer_free(s->tracer);
    mcp_tracer_free(s->tracer_down);
    bench_otel_sink_stop(&s->sink);
    free(s);
}

static int target_new(otel_state *s, otel_target *t, mcp_obs *obs) {
    if (obs) mcp_obs_observer(obs, &t->observer);
    t->server = mcp_server_new(&(mcp_server_opts){.name = "bench", .version = MCP_VERSION_STRING,
                                                  .observer = obs ? &t->observer : NULL});
    if (!t->server) return MCP_ENOMEM;
    int rc = mcp_server_add_tool(t->server, &(mcp_tool){.name = "echo", .fn = echo_tool});
    if (!rc) rc = mcp_server_add_tool(t->server, &(mcp_tool){.name = "work", .fn = work_tool, .user = s});
    if (!rc) t->session = mcp_session_new(t->server, &(mcp_sink){.write = count_reply, .user = s});
    if (!rc && !t->session) rc = MCP_ENOMEM;
    return rc;
}

static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void add_task(bench_task *tasks, size_t *n, const char *name, const char *scope, bool single_pass,
                     int (*run)(void *, uint64_t, mcp_histogram *, uint64_t *), void *ctx) {
    bench_task *t = &tasks[(*n)++];
    memset(t, 0, sizeof *t);
    bench_copy_str(t->name, sizeof t->name, name);
    bench_copy_str(t->scope, sizeof t->scope, scope);
    t->single_pass = single_pass;
    t->run = run;
    t->ctx = ctx;
}

static int otel_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    otel_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->size = w->size;
    s->pin.server_cpu = s->pin.client_cpu = -1;
    mcp_buf_init(&s->net_prefix);
    mcp_buf_init(&s->net_suffix);
    unsigned kind = (unsigned)(w->size / 1000000);
    /* The protobuf variants are the JSON workloads with the other encoding. */
    s->encoding = kind == W_BATCH_PROTO || kind == W_SERVED_TCP_PROTO ? MCP_OTLP_PROTOBUF : MCP_OTLP_JSON;
    bool proto = s->encoding == MCP_OTLP_PROTOBUF;
    if (kind == W_BATCH_PROTO) kind = W_BATCH;
    if (kind == W_SERVED_TCP_PROTO) kind = W_SERVED_TCP;
    bool served = kind == W_SERVED_TCP || kind == W_SERVED_HTTP;
    /* Served: the receiver stands for a collector on another machine, so
     * it runs beside the load generator; the exporter thread is the
     * server's own work and runs on the server's CPU, where every cost of
     * tracing counts against the throughput it keeps. Threads take the
     * CPU of the thread that starts them. */
    if (served) bench_pinning_choose(&s->pin);
    bench_pin_self(s->pin.client_cpu);
    int rc = bench_otel_sink_start(&s->sink);
    bench_pin_self(s->pin.server_cpu);
    if (!rc) rc = tracer_at(s->sink.port, s->encoding, &s->tracer);
    bench_pin_self(s->pin.client_cpu);
    if (!rc) rc = mcp_metrics_new(&s->metrics);
    if (!rc) rc = mcp_obs_new(s->tracer, s->metrics, &s->obs);
    if (!rc && kind == W_RESILIENCE) rc = tracer_at(dead_port(), s->encoding, &s->tracer_down);
    if (!rc && kind == W_RESILIENCE) rc = mcp_obs_new(s->tracer_down, NULL, &s->obs_down);
    s->request = kind == W_WORK ? REQUEST_WORK : REQUEST;
    s->request_len = strlen(s->request);
    if (!rc && (kind == W_REQUEST || kind == W_WORK)) {
        rc = target_new(s, &s->plain, NULL);
        if (!rc) rc = target_new(s, &s->traced, s->obs);
    }
    if (!rc && served) {
        bool http = kind == W_SERVED_HTTP;
        rc = served_request_build(s, http);
        if (!rc) rc = served_start(s, &s->served_plain, NULL, http);
        if (!rc) rc = served_start(s, &s->served_traced, s->obs, http);
    }
    if (!rc && kind == W_RESILIENCE) {
        rc = target_new(s, &s->traced, s->obs);
        if (!rc) rc = target_new(s, &s->traced_down, s->obs_down);
    }
    if (rc) {
        otel_teardown(s);
        *state = NULL;
        return rc;
    }
    size_t n = 0;
    switch (kind) {
    case W_REQUEST:
        add_task(tasks, &n, "otel_baseline_1k", "mcp_session_handle of a modern tools/call of an echo tool (~1 us of "
                                  "work in all), server without an observer", false, run_baseline, s);
        add_task(tasks, &n, "otel_overhead_1k", "the same on a server with mcp_obs_observer: span (8 attributes, _meta "
                                  "parent), counter, histogram; every request sampled and exported to a loopback receiver "
                                  "(the pass ends when the collector has every span)",
                 false, run_traced_exported, s);
        break;
    case W_WORK:
        add_task(tasks, &n, "otel_baseline_work_1k", "mcp_session_handle of a modern tools/call of a tool that hashes 16 KiB "
                                  "(~15 us of work), server without an observer", false, run_baseline, s);
        add_task(tasks, &n, "otel_overhead_work_1k", "the same on a server with mcp_obs_observer, every request sampled "
                                  "and exported to a loopback receiver (the pass ends when the collector has every span)", false,
                 run_traced_exported, s);
        break;
    case W_SERVED_TCP:
        add_task(tasks, &n, proto ? "otel_served_tcp_proto_baseline" : "otel_served_tcp_baseline",
                 "tools/call (echo, 1 KiB) over TCP NDJSON to an mcp_net server "
                                  "without an observer; 10 connections x 100 in flight, closed loop", false, run_served_plain, s);
        add_task(tasks, &n, proto ? "otel_served_tcp_proto_traced" : "otel_served_tcp_traced",
                 "the same against a server with mcp_obs_observer, every request sampled and exported to a loopback "
                 "OTLP receiver (the workload's encoding); the pass ends when the collector has every span",
                 false, run_served_traced, s);
        break;
    case W_SERVED_HTTP:
        add_task(tasks, &n, "otel_served_http_baseline", "tools/call (echo, 1 KiB) over keep-alive HTTP/1.1 to an mcp_net "
                                  "server without an observer; 50 connections, 1 in flight each", false, run_served_plain, s);
        add_task(tasks, &n, "otel_served_http_traced", "the same against a server with mcp_obs_observer, every request "
                                  "sampled and exported to a loopback OTLP receiver; the pass ends when the collector has every span",
                 false, run_served_traced, s);
        break;
    case W_SPAN:
        add_task(tasks, &n, "otel_span_creation", "mcp_span_start + mcp_span_end, root span, exported", false, run_span_creation, s);
        add_task(tasks, &n, "otel_attribute_overhead_1", "span with 1 attribute", false, run_attr_1, s);
        add_task(tasks, &n, "otel_attribute_overhead_10", "span with 10 attributes (string and int)", false, run_attr_10, s);
        add_task(tasks, &n, "otel_attribute_overhead_100", "span with 100 attributes (string and int)", false, run_attr_100, s);
        break;
    case W_BATCH:
        add_task(tasks, &n, proto ? "otel_exporter_batch_proto" : "otel_exporter_batch",
                 "N spans ended then flushed to a loopback OTLP receiver (the workload's encoding); "
                 "latency: span end -> collector 200", true, run_batch, s);
        break;
    default:
        add_task(tasks, &n, "otel_collector_up", "traced tools/call, collector answering", false, run_traced, s);
        add_task(tasks, &n, "otel_collector_down", "traced tools/call, nothing listening on the OTLP port "
                                  "(exports fail, retry, spans dropped)", false, run_traced_down, s);
        break;
    }
    *count = n;
    return MCP_OK;
}

static bench_record *find(bench_record *r, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].benchmark, name) == 0) return &r[i];
    return NULL;
}

/* Throughput lost by traced against base, repetition by repetition (the
 * two ran back to back in each pair): the median, and the range. */
static void add_overhead(bench_record *base, bench_record *traced) {
    double pct[BENCH_MAX_REPS];
    unsigned n = 0;
    for (unsigned i = 0; i < base->repetitions && i < traced->repetitions && i < BENCH_MAX_REPS; i++)
        if (base->reps[i].throughput > 0 && traced->reps[i].throughput > 0)
            pct[n++] = (base->reps[i].throughput - traced->reps[i].throughput) / base->reps[i].throughput * 100;
    if (!n) return;
    double spread[3];
    bench_spread(pct, n, spread);
    bench_record_add_metric(traced, "overhead_pct", spread[0]);
    bench_record_add_metric(traced, "overhead_pct_min", spread[1]);
    bench_record_add_metric(traced, "overhead_pct_max", spread[2]);
    if (base->throughput > 0 && traced->throughput > 0)
        bench_record_add_metric(traced, "added_ns_per_request", 1e9 / traced->throughput - 1e9 / base->throughput);
    /* CPU time of the whole process (server, load generator, exporter and
     * receiver threads) per request, over both passes of a repetition:
     * less at the mercy of other load on the machine than throughput. */
    uint64_t ops = base->operations;
    double cpu_base = base->cpu_user_s + base->cpu_sys_s, cpu_traced = traced->cpu_user_s + traced->cpu_sys_s;
    if (ops && cpu_base > 0 && cpu_traced > 0) {
        bench_record_add_metric(base, "cpu_ns_per_request", cpu_base * 1e9 / (2.0 * (double)ops));
        bench_record_add_metric(traced, "cpu_ns_per_request", cpu_traced * 1e9 / (2.0 * (double)ops));
        bench_record_add_metric(traced, "added_cpu_ns_per_request", (cpu_traced - cpu_base) * 1e9 / (2.0 * (double)ops));
        bench_record_add_metric(traced, "cpu_overhead_pct", (cpu_traced - cpu_base) / cpu_base * 100);
    }
}

static void otel_finish(void *state, bench_record *records, size_t count) {
    otel_state *st = state;
    static const char *const pairs[][2] = {{"otel_baseline_1k", "otel_overhead_1k"},
                                           {"otel_baseline_work_1k", "otel_overhead_work_1k"},
                                           {"otel_served_tcp_baseline", "otel_served_tcp_traced"},
                                           {"otel_served_tcp_proto_baseline", "otel_served_tcp_proto_traced"},
                                           {"otel_served_http_baseline", "otel_served_http_traced"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        bench_record *base = find(records, count, pairs[i][0]), *traced = find(records, count, pairs[i][1]);
        if (!base || !traced) continue;
        add_overhead(base, traced);
        /* Whether the exporter kept up: spans it shipped and spans it lost. */
        if (st && st->tracer) {
            mcp_tracer_stats ts;
            mcp_tracer_flush(st->tracer, 10000);
            mcp_tracer_stats_get(st->tracer, &ts);
            /* What the receiver counted in the bodies, not what the
             * tracer believes it sent. */
            bench_record_add_metric(traced, "spans_exported", (double)atomic_load(&st->sink.spans));
            if (atomic_load(&st->sink.spans))
                bench_record_add_metric(traced, "body_bytes_per_span",
                                        (double)atomic_load(&st->sink.bytes) / (double)atomic_load(&st->sink.spans));
            uint64_t dropped = ts.dropped_buffer_full + ts.dropped_pool_exhausted + ts.dropped_export_failed;
            bench_record_add_metric(traced, "spans_dropped", (double)dropped);
            /* The record holds a handful of metrics and this one may not
             * fit: a loss must still be seen. */
            uint64_t received = atomic_load(&st->sink.spans);
            if (dropped || received != ts.spans_exported)
                fprintf(stderr, "bench otel: %s: %llu spans dropped (buffer full %llu, pool %llu, export %llu); "
                                "%llu acknowledged, %llu received\n",
                        pairs[i][1], (unsigned long long)dropped, (unsigned long long)ts.dropped_buffer_full,
                        (unsigned long long)ts.dropped_pool_exhausted, (unsigned long long)ts.dropped_export_failed,
                        (unsigned long long)ts.spans_exported, (unsigned long long)received);
        }
    }
    bench_record *up = find(records, count, "otel_collector_up"), *down = find(records, count, "otel_collector_down");
    if (up && down && up->p99_us > 0 && up->throughput > 0) {
        bench_record_add_metric(down, "down_vs_up_p99", down->p99_us / up->p99_us);
        bench_record_add_metric(down, "down_vs_up_throughput", down->throughput / up->throughput);
    }
    for (size_t i = 0; i < count; i++)
        if (records[i].throughput > 0) bench_record_add_metric(&records[i], "ns_per_op", 1e9 / records[i].throughput);
    /* What an export costs the network, by encoding. */
    for (size_t i = 0; st && i < count; i++)
        if (!strncmp(records[i].benchmark, "otel_exporter_batch", 19) && atomic_load(&st->sink.spans))
            bench_record_add_metric(&records[i], "body_bytes_per_span",
                                    (double)atomic_load(&st->sink.bytes) / (double)atomic_load(&st->sink.spans));
}

/* size: kind * 1e6 + parameter */
static const bench_workload OTEL_WORKLOADS[] = {
    {"otel_request_1k", "1,000 tools/call requests, untraced and traced", W_REQUEST * 1000000 + 1000, {1000, 1000}, {31, 101}},
    {"otel_request_work_1k", "1,000 tools/call requests of a ~15 us tool, untraced and traced",
     W_WORK * 1000000 + 1000, {1000, 1000}, {31, 101}},
    {"otel_served_tcp", "tools/call over TCP NDJSON to an mcp_net server, untraced and traced",
     W_SERVED_TCP * 1000000 + 20000, {20000, 100000}, {15, 31}},
    {"otel_served_http", "tools/call over keep-alive HTTP to an mcp_net server, untraced and traced",
     W_SERVED_HTTP * 1000000 + 10000, {10000, 50000}, {15, 31}},
    {"otel_span", "span start/end with 0, 1, 10, 100 attributes", W_SPAN * 1000000 + 10000, {10000, 10000}, {11, 31}},
    {"otel_exporter_batch_100", "100 spans exported", W_BATCH * 1000000 + 100, {100, 100}, {11, 31}},
    {"otel_exporter_batch_1k", "1,000 spans exported", W_BATCH * 1000000 + 1000, {1000, 1000}, {11, 31}},
    {"otel_exporter_batch_10k", "10,000 spans exported", W_BATCH * 1000000 + 10000, {10000, 10000}, {5, 15}},
    {"otel_exporter_batch_100_proto", "100 spans exported as protobuf", W_BATCH_PROTO * 1000000 + 100, {100, 100},
     {11, 31}},
    {"otel_exporter_batch_1k_proto", "1,000 spans exported as protobuf", W_BATCH_PROTO * 1000000 + 1000, {1000, 1000},
     {11, 31}},
    {"otel_exporter_batch_10k_proto", "10,000 spans exported as protobuf", W_BATCH_PROTO * 1000000 + 10000,
     {10000, 10000}, {5, 15}},
    {"otel_served_tcp_proto", "tools/call over TCP NDJSON to an mcp_net server, untraced and traced, exported as "
     "protobuf", W_SERVED_TCP_PROTO * 1000000 + 20000, {20000, 100000}, {15, 31}},
    {"otel_failure_resilience_1k", "traced requests with the collector up and down", W_RESILIENCE * 1000000 + 1000,
     {1000, 1000}, {31, 101}},
};

const bench_module bench_module_otel = {
    .name = "otel",
    .description = "tracing and metrics overhead on the request path, span cost, OTLP export, collector outage",
    .notes = "the server core calls the observer (mcp_server_opts.observer) inside mcp_session_handle; the loopback "
             "receiver and the exporter thread run in this process and share the machine's cores, so the CPU "
             "metrics of the traced records include the receiver's reading of every body (its recv copies in the "
             "kernel and a count of the spans: a marker search in JSON, a walk of the outer messages in protobuf; no "
             "parsing), which a remote collector would not cost "
             "this server; on a loaded machine overhead_pct swings widely, cpu_overhead_pct much less",
    .workloads = OTEL_WORKLOADS,
    .workload_count = sizeof OTEL_WORKLOADS / sizeof OTEL_WORKLOADS[0],
    .setup = otel_setup,
    .finish = otel_finish,
    .teardown = otel_teardown,
    .interleave = true,
};
