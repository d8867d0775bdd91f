/*
 * Ready-made collectors: the tracer's own counters and the TCP runtime's
 * counters, read when /metrics is rendered. Layers below obs keep their
 * counters themselves (per worker, summed when read) and never call obs.
 */
#include "metrics_internal.h"
#include "net/net_internal.h"

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
