/*
 * Ready-made collectors: the tracer's own counters, the network listeners'
 * (every listener of an mcp_serve run, by listener), the cache tiers',
 * pools' and batchers', read when /metrics is rendered. Layers below obs
 * keep their counters themselves (per worker, summed when read) and never
 * call obs.
 */
#include "metrics_internal.h"
#include "mcp/batch.h"
#include "mcp/cache.h"
#include "mcp/pool.h"
#include "net/http.h"
#include "net/net_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

void mcp_metrics_collect_tracer(mcp_metrics_writer *w, void *user) {
    mcp_tracer_stats s;
    mcp_tracer_stats_get(user, &s);
    mcp_metrics_write(w, "mcp_otel_spans_started_total", "Recording spans started.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)s.spans_started);
    mcp_metrics_write(w, "mcp_otel_spans_unsampled_total", "Spans the sampler did not record.", MCP_METRIC_COUNTER,
                      NULL, 0, (double)s.spans_unsampled);
    mcp_metrics_write(w, "mcp_otel_spans_exported_total", "Spans the collector accepted.", MCP_METRIC_COUNTER, NULL,
                      0, (double)s.spans_exported);
    static const char *const help = "Spans lost, by reason.";
    mcp_metrics_write(w, "mcp_otel_spans_dropped_total", help, MCP_METRIC_COUNTER,
                      (mcp_label[]){{"reason", "buffer_full"}}, 1, (double)s.dropped_buffer_full);
    mcp_metrics_write(w, "mcp_otel_spans_dropped_total", help, MCP_METRIC_COUNTER,
                      (mcp_label[]){{"reason", "pool_exhausted"}}, 1, (double)s.dropped_pool_exhausted);
    mcp_metrics_write(w, "mcp_otel_spans_dropped_total", help, MCP_METRIC_COUNTER,
                      (mcp_label[]){{"reason", "export_failed"}}, 1, (double)s.dropped_export_failed);
    mcp_metrics_write(w, "mcp_otel_export_requests_total", "OTLP POST attempts.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)s.export_requests);
    mcp_metrics_write(w, "mcp_otel_export_retries_total", "OTLP POST attempts after the first of a batch.",
                      MCP_METRIC_COUNTER, NULL, 0, (double)s.export_retries);
    mcp_metrics_write(w, "mcp_otel_export_failures_total", "Batches given up after the last retry.",
                      MCP_METRIC_COUNTER, NULL, 0, (double)s.export_failures);
    mcp_metrics_write(w, "mcp_otel_attributes_dropped_total", "Span attributes over the per-span room.",
                      MCP_METRIC_COUNTER, NULL, 0, (double)s.attributes_dropped);
}

/* One listener's counters as the scrape sees them. stdio has one peer and no
 * accept: its connection series are written only for network listeners.
 * The HTTP layer counts its own limits (headers, body, request time, idle)
 * and its session liveness apart from the runtime's. TLS series exist only
 * for listeners serving TLS, WebSocket ones only for the ws listener: a
 * series that can never move would only suggest a feature is running. */
typedef struct net_snapshot {
    const char *listener; /* NULL: unlabelled (a runtime alone) */
    bool network, http, ws, tls;
    mcp_net_counters c;
    uint64_t header_too_large, body_too_large, request_timeouts;
    uint64_t pings_sent, sessions_ping_dropped, streams_closed_early;
} net_snapshot;

typedef struct net_snapshots {
    net_snapshot all[4];
    size_t count;
} net_snapshots;

static uint64_t stdio_load(const uint64_t *v) { return __atomic_load_n(v, __ATOMIC_RELAXED); }

static void snapshot_listener(void *user, const char *listener, const mcp_net *net, const mcp_stdio_counters *stdio) {
    net_snapshots *s = user;
    if (s->count == sizeof s->all / sizeof s->all[0]) return;
    net_snapshot *one = &s->all[s->count++];
    memset(one, 0, sizeof *one);
    one->listener = listener;
    one->network = net != NULL;
    if (net) {
        mcp_net_counters_get(net, &one->c);
        one->tls = mcp_net_tls(net) != NULL;
        one->ws = strcmp(listener, "ws") == 0;
        /* Only a runtime known to be HTTP may be asked for its HTTP layer. */
        mcp_http_server *http = strcmp(listener, "http") == 0 ? mcp_net_http(net) : NULL;
        if (http) {
            mcp_http_counters h;
            mcp_http_counters_get(http, &h);
            one->http = true;
            one->c.idle_closed += h.idle_closed;
            one->c.output_dropped += h.output_dropped;
            one->header_too_large = h.status_431;
            one->body_too_large = h.status_413;
            one->request_timeouts = h.request_timeouts;
            one->pings_sent = h.pings_sent;
            one->sessions_ping_dropped = h.sessions_ping_dropped;
            one->streams_closed_early = h.streams_closed_early;
        }
    } else if (stdio) {
        one->c.messages_in = stdio_load(&stdio->messages_in);
        one->c.oversized = stdio_load(&stdio->oversized);
        one->c.output_dropped = stdio_load(&stdio->output_dropped);
        one->c.bytes_in = stdio_load(&stdio->bytes_in);
        one->c.bytes_out = stdio_load(&stdio->bytes_out);
    }
}

/* Which listeners a series applies to. */
enum { FOR_ALL, FOR_NETWORK, FOR_HTTP, FOR_WS, FOR_TLS };
#define ACTIVE_GAUGE SIZE_MAX /* offset standing for accepted - closed */

/* Write name once per snapshot (adjacent, as the format wants), each with
 * the extra label, if any, and the listener label when there is one. */
static void write_each(mcp_metrics_writer *w, const net_snapshots *s, const char *name, const char *help,
                       mcp_metric_type type, const mcp_label *extra, int applies, size_t offset) {
    for (size_t i = 0; i < s->count; i++) {
        const net_snapshot *one = &s->all[i];
        if ((applies == FOR_NETWORK && !one->network) || (applies == FOR_HTTP && !one->http) ||
            (applies == FOR_WS && !one->ws) || (applies == FOR_TLS && !one->tls))
            continue;
        mcp_label labels[2];
        size_t n = 0;
        if (extra) labels[n++] = *extra;
        if (one->listener) labels[n++] = (mcp_label){"listener", one->listener};
        double value;
        if (offset == ACTIVE_GAUGE) {
            value = (double)(one->c.accepted >= one->c.closed ? one->c.accepted - one->c.closed : 0);
        } else {
            uint64_t v;
            memcpy(&v, (const char *)one + offset, sizeof v);
            value = (double)v;
        }
        mcp_metrics_write(w, name, help, type, n ? labels : NULL, n, value);
    }
}

#define NET(field) offsetof(net_snapshot, c) + offsetof(mcp_net_counters, field)

void mcp_metrics_collect_net(mcp_metrics_writer *w, void *user) {
    /* Every listener of the mcp_serve run this runtime serves in, labelled
     * by listener when there are several; a runtime alone keeps the
     * unlabelled series. */
    net_snapshots s = {.count = 0};
    size_t listeners = mcp_serve_listeners(user, snapshot_listener, &s);
    if (listeners == 0) {
        s.count = 1;
        s.all[0] = (net_snapshot){.listener = NULL, .network = true, .tls = mcp_net_tls(user) != NULL};
        mcp_net_counters_get(user, &s.all[0].c);
    } else if (listeners == 1) {
        s.all[0].listener = NULL;
    }
    write_each(w, &s, "mcp_net_connections_active", "Open connections.", MCP_METRIC_GAUGE, NULL, FOR_NETWORK,
               ACTIVE_GAUGE);
    write_each(w, &s, "mcp_net_connections_accepted_total", "Connections taken on.", MCP_METRIC_COUNTER, NULL,
               FOR_NETWORK, NET(accepted));
    write_each(w, &s, "mcp_net_connections_closed_total", "Connections closed, for any reason.", MCP_METRIC_COUNTER,
               NULL, FOR_NETWORK, NET(closed));
    static const struct {
        const char *limit;
        size_t offset;
        int applies;
    } limits[] = {{"max_connections", NET(refused), FOR_NETWORK},
                  {"idle_timeout", NET(idle_closed), FOR_NETWORK},
                  {"max_message_size", NET(oversized), FOR_ALL},
                  {"slow_reader", NET(slow_evicted), FOR_NETWORK},
                  {"output_queue", NET(read_paused), FOR_NETWORK},
                  {"drain_grace", NET(drain_forced), FOR_NETWORK},
                  {"max_header_size", offsetof(net_snapshot, header_too_large), FOR_HTTP},
                  {"max_body_size", offsetof(net_snapshot, body_too_large), FOR_HTTP},
                  {"request_timeout", offsetof(net_snapshot, request_timeouts), FOR_HTTP}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        write_each(w, &s, "mcp_net_limit_events_total", "Limits that fired, by limit.", MCP_METRIC_COUNTER,
                   &(mcp_label){"limit", limits[i].limit}, limits[i].applies, limits[i].offset);
    write_each(w, &s, "mcp_net_messages_in_total", "Complete messages handed to sessions.", MCP_METRIC_COUNTER,
               NULL, FOR_ALL, NET(messages_in));
    write_each(w, &s, "mcp_net_output_dropped_total", "Messages produced for a connection already closed.",
               MCP_METRIC_COUNTER, NULL, FOR_ALL, NET(output_dropped));
    write_each(w, &s, "mcp_net_bytes_total", "Bytes read and written.", MCP_METRIC_COUNTER,
               &(mcp_label){"direction", "in"}, FOR_ALL, NET(bytes_in));
    write_each(w, &s, "mcp_net_bytes_total", "Bytes read and written.", MCP_METRIC_COUNTER,
               &(mcp_label){"direction", "out"}, FOR_ALL, NET(bytes_out));

    static const char *const tls_help = "TLS handshakes, by outcome (failed: the connection was closed for a bad "
                                        "handshake or record).";
    write_each(w, &s, "mcp_net_tls_handshakes_total", tls_help, MCP_METRIC_COUNTER, &(mcp_label){"outcome", "ok"},
               FOR_TLS, NET(tls_handshakes));
    write_each(w, &s, "mcp_net_tls_handshakes_total", tls_help, MCP_METRIC_COUNTER,
               &(mcp_label){"outcome", "failed"}, FOR_TLS, NET(tls_failed));

    static const char *const ws_help = "WebSocket upgrade requests, by outcome (rejected: answered 4xx).";
    write_each(w, &s, "mcp_ws_upgrades_total", ws_help, MCP_METRIC_COUNTER, &(mcp_label){"outcome", "upgraded"},
               FOR_WS, NET(ws_upgraded));
    write_each(w, &s, "mcp_ws_upgrades_total", ws_help, MCP_METRIC_COUNTER, &(mcp_label){"outcome", "rejected"},
               FOR_WS, NET(ws_rejected));
    write_each(w, &s, "mcp_ws_fault_closes_total",
               "WebSocket connections we closed for a fault of the peer or ours (1002, 1003, 1007, 1011).",
               MCP_METRIC_COUNTER, NULL, FOR_WS, NET(ws_faults));

    write_each(w, &s, "mcp_http_pings_sent_total", "Liveness pings sent to sessions over their GET stream.",
               MCP_METRIC_COUNTER, NULL, FOR_HTTP, offsetof(net_snapshot, pings_sent));
    write_each(w, &s, "mcp_http_sessions_ping_dropped_total", "Sessions deleted because a ping went unanswered.",
               MCP_METRIC_COUNTER, NULL, FOR_HTTP, offsetof(net_snapshot, sessions_ping_dropped));
    write_each(w, &s, "mcp_http_streams_closed_early_total",
               "POST streams the server ended before their reply, for the client to poll (SSE polling).",
               MCP_METRIC_COUNTER, NULL, FOR_HTTP, offsetof(net_snapshot, streams_closed_early));
}

#undef NET

/* ---- cache, pool, batcher --------------------------------------------------------------- */

void mcp_metrics_collect_cache(mcp_metrics_writer *w, void *cache) {
    /* Samples of one name must be adjacent: read every tier first, then
     * write name by name. */
    mcp_cache_stats tiers[2];
    const char *names[2];
    size_t n = 0;
    mcp_cache_l1 *l1 = mcp_cache_get_l1(cache);
    mcp_cache_l2 *l2 = mcp_cache_get_l2(cache);
    if (l1) {
        mcp_cache_l1_stats(l1, &tiers[n]);
        names[n++] = "l1";
    }
    if (l2) {
        mcp_cache_l2_stats(l2, &tiers[n]);
        names[n++] = "l2";
    }
    static const struct {
        const char *name, *help;
        mcp_metric_type type;
        size_t offset;
    } fields[] = {
        {"mcp_cache_hits_total", "Cache lookups answered, by tier.", MCP_METRIC_COUNTER, offsetof(mcp_cache_stats, hits)},
        {"mcp_cache_misses_total", "Cache lookups not answered, by tier.", MCP_METRIC_COUNTER,
         offsetof(mcp_cache_stats, misses)},
        {"mcp_cache_puts_total", "Values stored, by tier.", MCP_METRIC_COUNTER, offsetof(mcp_cache_stats, puts)},
        {"mcp_cache_evictions_total", "Entries removed for room, by tier.", MCP_METRIC_COUNTER,
         offsetof(mcp_cache_stats, evictions)},
        {"mcp_cache_expirations_total", "Entries removed when their TTL passed, by tier.", MCP_METRIC_COUNTER,
         offsetof(mcp_cache_stats, expirations)},
        {"mcp_cache_invalidations_total", "Entries removed by tag or dependency, by tier.", MCP_METRIC_COUNTER,
         offsetof(mcp_cache_stats, invalidations)},
        {"mcp_cache_entries", "Entries held now, by tier.", MCP_METRIC_GAUGE, offsetof(mcp_cache_stats, entries)},
        {"mcp_cache_bytes", "Bytes held now, by tier.", MCP_METRIC_GAUGE, offsetof(mcp_cache_stats, bytes)},
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
        for (size_t t = 0; t < n; t++) {
            uint64_t v;
            memcpy(&v, (const char *)&tiers[t] + fields[f].offset, sizeof v);
            mcp_metrics_write(w, fields[f].name, fields[f].help, fields[f].type, (mcp_label[]){{"tier", names[t]}}, 1,
                              (double)v);
        }
}

void mcp_metrics_collect_cache_l3(mcp_metrics_writer *w, void *l3) {
    mcp_cache_l3_counts c;
    mcp_cache_l3_stats(l3, &c);
    mcp_metrics_write(w, "mcp_cache_l3_hits_total", "Redis tier lookups answered.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)c.hits);
    mcp_metrics_write(w, "mcp_cache_l3_misses_total", "Redis tier lookups not answered.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)c.misses);
    mcp_metrics_write(w, "mcp_cache_l3_failures_total", "Redis tier operations that failed.", MCP_METRIC_COUNTER,
                      NULL, 0, (double)c.failures);
    mcp_metrics_write(w, "mcp_cache_l3_connected", "1 while connected to Redis.", MCP_METRIC_GAUGE, NULL, 0,
                      c.connected ? 1 : 0);
}

void mcp_metrics_collect_pool(mcp_metrics_writer *w, void *pool) {
    mcp_pool_stats s;
    mcp_pool_get_stats(pool, &s);
    static const char *const help = "Pooled connections now, by state.";
    mcp_metrics_write(w, "mcp_pool_connections", help, MCP_METRIC_GAUGE, (mcp_label[]){{"state", "idle"}}, 1,
                      (double)s.idle);
    mcp_metrics_write(w, "mcp_pool_connections", help, MCP_METRIC_GAUGE, (mcp_label[]){{"state", "busy"}}, 1,
                      (double)s.busy);
    mcp_metrics_write(w, "mcp_pool_waiting", "Checkouts and async calls waiting for a connection now.",
                      MCP_METRIC_GAUGE, NULL, 0, (double)(s.waiting + s.queued));
    mcp_metrics_write(w, "mcp_pool_checkouts_total", "Connections checked out.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)s.checkouts);
    static const char *const fhelp = "Pool failures, by kind.";
    const struct {
        const char *kind;
        uint64_t v;
    } failures[] = {{"checkout_timeout", s.checkout_timeouts}, {"breaker_rejected", s.rejected},
                    {"connect", s.connect_failures},          {"health_check", s.health_failures}};
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++)
        mcp_metrics_write(w, "mcp_pool_failures_total", fhelp, MCP_METRIC_COUNTER,
                          (mcp_label[]){{"kind", failures[i].kind}}, 1, (double)failures[i].v);
    mcp_metrics_write(w, "mcp_pool_connects_total", "Connections opened.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)s.connects);
    mcp_metrics_write(w, "mcp_pool_breaker_open", "1 while the circuit breaker is open or half open.",
                      MCP_METRIC_GAUGE, NULL, 0, s.breaker != MCP_POOL_BREAKER_CLOSED ? 1 : 0);
    mcp_metrics_write(w, "mcp_pool_hold_seconds", "Smoothed time a connection stays checked out.", MCP_METRIC_GAUGE,
                      NULL, 0, s.hold_us / 1e6);
}

void mcp_metrics_collect_batcher(mcp_metrics_writer *w, void *batcher) {
    mcp_batcher_stats s;
    mcp_batcher_get_stats(batcher, &s);
    mcp_metrics_write(w, "mcp_batch_requests_total", "Requests accepted by the batcher.", MCP_METRIC_COUNTER, NULL,
                      0, (double)s.added);
    mcp_metrics_write(w, "mcp_batch_completed_total", "Batched requests completed, by outcome.", MCP_METRIC_COUNTER,
                      (mcp_label[]){{"outcome", "ok"}}, 1,
                      (double)(s.completed >= s.failed + s.rpc_errors ? s.completed - s.failed - s.rpc_errors : 0));
    mcp_metrics_write(w, "mcp_batch_completed_total", "Batched requests completed, by outcome.", MCP_METRIC_COUNTER,
                      (mcp_label[]){{"outcome", "error"}}, 1, (double)s.rpc_errors);
    mcp_metrics_write(w, "mcp_batch_completed_total", "Batched requests completed, by outcome.", MCP_METRIC_COUNTER,
                      (mcp_label[]){{"outcome", "failed"}}, 1, (double)s.failed);
    mcp_metrics_write(w, "mcp_batch_groups_total", "Groups sent.", MCP_METRIC_COUNTER, NULL, 0, (double)s.groups);
    mcp_metrics_write(w, "mcp_batch_queued", "Requests waiting to be sent now.", MCP_METRIC_GAUGE, NULL, 0,
                      (double)s.queued);
    mcp_metrics_write(w, "mcp_batch_inflight", "Requests sent and not answered now.", MCP_METRIC_GAUGE, NULL, 0,
                      (double)s.inflight);
    mcp_metrics_write(w, "mcp_batch_group_size_mean", "Requests per group so far.", MCP_METRIC_GAUGE, NULL, 0,
                      s.mean_group_size);
    mcp_metrics_write(w, "mcp_batch_group_latency_seconds", "Smoothed round trip of a group.", MCP_METRIC_GAUGE,
                      NULL, 0, s.group_latency_us / 1e6);
}
