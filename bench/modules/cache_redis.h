/*
 * The cache module's Redis workloads (L3 hits, cross-node coherence),
 * kept apart from modules/cache.c, which routes to them. Each workload
 * starts its own redis-server on a free loopback port and kills it at
 * teardown; without redis-server, setup says so and fails with
 * MCP_EUNSUPPORTED rather than measuring anything else.
 */
#ifndef MCP_BENCH_CACHE_REDIS_H
#define MCP_BENCH_CACHE_REDIS_H

#include "harness.h"

typedef struct cache_redis cache_redis;

/* coherence false: cache_l3_hits_*; true: cache_cluster_coherence. */
int cache_redis_setup(bool coherence, uint64_t size, bench_task *tasks, size_t *count, cache_redis **out);
void cache_redis_finish(cache_redis *r, bench_record *records, size_t count);
void cache_redis_teardown(cache_redis *r);

#endif
