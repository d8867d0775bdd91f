/*
 * Ready-made collectors: the tracer's own counters, the TCP runtime's
 * counters, the cache tiers', pools' and batchers', read when /metrics is
 * rendered. Layers below obs keep their
 * counters themselves (per worker, summed when read) and never call obs.
 */
#include "metrics_internal.h"
#include "mcp/batch.h"
#include "mcp/cache.h"
#include "mcp/pool.h"
#include "net/net_internal.h"

#include <stddef.h>
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

void mcp_metrics_collect_net(mcp_metrics_writer *w, void *user) {
    mcp_net_counters c;
    mcp_net_counters_get(user, &c);
    mcp_metrics_write(w, "mcp_net_connections_active", "Open connections.", MCP_METRIC_GAUGE, NULL, 0,
                      (double)(c.accepted >= c.closed ? c.accepted - c.closed : 0));
    mcp_metrics_write(w, "mcp_net_connections_accepted_total", "Connections taken on.", MCP_METRIC_COUNTER, NULL, 0,
                      (double)c.accepted);
    mcp_metrics_write(w, "mcp_net_connections_closed_total", "Connections closed, for any reason.",
                      MCP_METRIC_COUNTER, NULL, 0, (double)c.closed);
    static const char *const help = "Limits that fired, by limit.";
    const struct {
        const char *limit;
        uint64_t value;
    } limits[] = {{"max_connections", c.refused},  {"idle_timeout", c.idle_closed},
                  {"max_message_size", c.oversized}, {"slow_reader", c.slow_evicted},
                  {"output_queue", c.read_paused}, {"drain_grace", c.drain_forced}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        mcp_metrics_write(w, "mcp_net_limit_events_total", help, MCP_METRIC_COUNTER,
                          (mcp_label[]){{"limit", limits[i].limit}}, 1, (double)limits[i].value);
    mcp_metrics_write(w, "mcp_net_messages_in_total", "Complete messages handed to sessions.", MCP_METRIC_COUNTER,
                      NULL, 0, (double)c.messages_in);
    mcp_metrics_write(w, "mcp_net_output_dropped_total", "Messages produced for a connection already closed.",
                      MCP_METRIC_COUNTER, NULL, 0, (double)c.output_dropped);
    mcp_metrics_write(w, "mcp_net_bytes_total", "Bytes read and written.", MCP_METRIC_COUNTER,
                      (mcp_label[]){{"direction", "in"}}, 1, (double)c.bytes_in);
    mcp_metrics_write(w, "mcp_net_bytes_total", "Bytes read and written.", MCP_METRIC_COUNTER,
                      (mcp_label[]){{"direction", "out"}}, 1, (double)c.bytes_out);
}

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
