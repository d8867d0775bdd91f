/*
 * The store behind mcpd's result cache: mcp_result_store (mcp/mcp.h) over
 * the tiered cache of mcp/cache.h, so that results served from the cache
 * live in L1, L2 (LMDB) and L3 (Redis) as the cache is configured.
 *
 *     app_result_store rs = { .cache = cache };      (clock: that of the cache)
 *     mcp_result_cache *rc;
 *     mcp_result_cache_new(&(mcp_result_cache_opts){ .store = app_result_store_ops(&rs) }, &rc);
 *     mcp_server_new(&(mcp_server_opts){ ..., .result_cache = rc });
 *
 * Keys: a tool call's is mcp_cache_key_for_call (name, NUL, canonical
 * arguments); a resource's is its URI, which has no NUL, so the two never
 * meet, and a tool that declares a resource URI as a dependency is dropped
 * with it. The stored value is the result body followed by a 9-byte
 * trailer: the absolute expiry (milliseconds of the cache's clock, big
 * endian) and a format byte, so that a hit from any tier, or from another
 * node through Redis, knows the time it has left.
 */
#ifndef MCP_APP_RESULT_STORE_H
#define MCP_APP_RESULT_STORE_H

#include "mcp/cache.h"
#include "mcp/mcp.h"

typedef struct app_result_store {
    mcp_cache *cache;              /* required, not owned */
    mcp_cache_clock_fn clock;      /* the cache's clock; NULL: mcp_wall_ms */
    void *clock_user;
} app_result_store;

/* The functions to put in mcp_result_cache_opts.store; user is store. */
mcp_result_store app_result_store_ops(app_result_store *store);

#endif
