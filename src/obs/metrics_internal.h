/*
 * metrics_internal.h — the registry's layout, shared by the hot path
 * (metrics.c) and the text exposition (metrics_render.c).
 */
#ifndef MCP_OBS_METRICS_INTERNAL_H
#define MCP_OBS_METRICS_INTERNAL_H

#include "mcp/obs.h"

#include <pthread.h>
#include <stdatomic.h>

#define METRICS_MAX_SERIES 2048
#define METRICS_MAX_FAMILIES 512
#define METRICS_MAX_COLLECTORS 32

typedef struct metric_family {
    char *name;
    char *help;
    mcp_metric_type type;
    int first, last;             /* series of this family, chained by next */
    double bounds[MCP_METRICS_MAX_BOUNDS];
    uint64_t bounds_ns[MCP_METRICS_MAX_BOUNDS]; /* the same in whole ns, for obs_metrics_timer_record */
    uint32_t bound_count;
    bool negative_bound;         /* a bound below zero: not a duration histogram */
} metric_family;

typedef struct metric_series {
    uint32_t family;
    uint32_t slot;               /* first shard slot (counters, histograms) */
    int next;                    /* next series of the family, -1 at the end */
    char *labels;                /* rendered: name="value",... (escaped), "" for none */
    _Atomic uint64_t gauge_bits; /* gauges: the double's bits */
} metric_series;

/* One thread's copy of every counter and histogram slot. Only that thread
 * writes it; readers sum relaxed loads. */
typedef struct metric_shard {
    struct metric_shard *next;
    const void *token;
    _Atomic uint64_t slots[MCP_METRICS_MAX_SLOTS];
} metric_shard;

typedef struct metric_collector {
    mcp_metrics_collect_fn fn;
    void *user;
} metric_collector;

struct mcp_metrics {
    pthread_mutex_t lock;        /* registration, shard list, rendering */
    uint64_t id;
    metric_family families[METRICS_MAX_FAMILIES];
    uint32_t family_count;
    metric_series series[METRICS_MAX_SERIES];
    _Atomic uint32_t series_count;
    uint32_t slots_used;
    _Atomic(metric_shard *) shards;
    metric_collector collectors[METRICS_MAX_COLLECTORS];
    uint32_t collector_count;
    _Atomic uint64_t render_errors;
};

uint64_t obs_metrics_slot_sum(mcp_metrics *m, uint32_t slot);
double obs_metrics_slot_sum_double(mcp_metrics *m, uint32_t slot);
bool obs_metric_name_valid(const char *name);

#endif
