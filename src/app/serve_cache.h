/*
 * The result cache of `mcpd serve`: the tiers its options name (L1 always,
 * L2 in a directory, L3 in Redis with cross-node coherence), the store over
 * them (result_store.h) and the mcp_result_cache the server is given.
 *
 *     app_serve_cache sc;
 *     if (app_serve_cache_open(&(app_serve_cache_config){ .l1_entries = 1000 }, &sc)) ...
 *     mcp_server_new(&(mcp_server_opts){ ..., .result_cache = sc.results });
 *     ...
 *     app_serve_cache_close(&sc);   (after mcp_server_free)
 */
#ifndef MCP_APP_SERVE_CACHE_H
#define MCP_APP_SERVE_CACHE_H

#include "mcp/cache.h"

typedef struct app_serve_cache_config {
    size_t l1_entries;        /* 0: 65536 */
    const char *dir;          /* L2 directory; NULL: no L2 */
    const char *redis;        /* HOST:PORT of L3; NULL: no L3 */
    const char *node_id;      /* coherence; NULL: random */
    uint64_t ttl_ms;          /* default TTL of results; 0: 60000 */
} app_serve_cache_config;

typedef struct app_serve_cache {
    mcp_cache *cache;
    mcp_cache_l3 *l3;
    mcp_cache_coherence *coherence;
    mcp_cache_result_store store;
    mcp_result_cache *results;
    char host[256];
} app_serve_cache;

/* Opens every tier (waiting up to 2 s for Redis when one is named, which
 * may still come up later) and builds the result cache. On failure what
 * was opened is closed and why is written to stderr. */
int app_serve_cache_open(const app_serve_cache_config *config, app_serve_cache *out);
void app_serve_cache_close(app_serve_cache *sc);

#endif
