/*
 * The result cache of `mcpd serve` (see serve_cache.h).
 */
#include "app/serve_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_WAIT_MS 2000

static int split_host_port(const char *text, char *host, size_t cap, int *port) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= cap) return MCP_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535) return MCP_EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    *port = (int)p;
    return 0;
}

int app_serve_cache_open(const app_serve_cache_config *config, app_serve_cache *sc) {
    memset(sc, 0, sizeof *sc);
    int port = 0, rc = 0;
    if (config->redis) {
        rc = split_host_port(config->redis, sc->host, sizeof sc->host, &port);
        if (rc) {
            fprintf(stderr, "mcpd serve: --cache-redis needs HOST:PORT, got '%s'\n", config->redis);
            return rc;
        }
        rc = mcp_cache_l3_new(&(mcp_cache_l3_opts){.host = sc->host, .port = port}, &sc->l3);
        if (rc) {
            fprintf(stderr, "mcpd serve: could not start the Redis tier: %s\n", mcp_strerror(rc));
            return rc;
        }
        /* A Redis that is not up yet is not fatal: the tier reconnects by
         * itself, and until then results live in L1 and L2 only. */
        if (mcp_cache_l3_wait_connected(sc->l3, REDIS_WAIT_MS) != 0)
            mcp_log(MCP_LOG_WARNING, "serve: Redis at %s not reachable yet; serving from L1/L2 until it is",
                    config->redis);
    }
    mcp_cache_opts opts = {.l1 = {.max_entries = config->l1_entries},
                           .l2_enabled = config->dir != NULL,
                           .l2 = {.path = config->dir},
                           .l3 = sc->l3 ? mcp_cache_l3_tier(sc->l3) : NULL};
    rc = mcp_cache_new(&opts, &sc->cache);
    if (rc) {
        fprintf(stderr, "mcpd serve: could not open the cache%s%s: %s\n", config->dir ? " in " : "",
                config->dir ? config->dir : "", mcp_strerror(rc));
        app_serve_cache_close(sc);
        return rc;
    }
    if (sc->l3) {
        rc = mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = sc->cache, .l3 = sc->l3,
                                                                 .node_id = config->node_id},
                                     &sc->coherence);
        if (rc) {
            fprintf(stderr, "mcpd serve: could not start cache coherence: %s\n", mcp_strerror(rc));
            app_serve_cache_close(sc);
            return rc;
        }
    }
    sc->store = (mcp_cache_result_store){.cache = sc->cache};
    rc = mcp_result_cache_new(&(mcp_result_cache_opts){.store = mcp_cache_result_store_ops(&sc->store),
                                                       .default_ttl_ms = config->ttl_ms},
                              &sc->results);
    if (rc) {
        fprintf(stderr, "mcpd serve: could not create the result cache: %s\n", mcp_strerror(rc));
        app_serve_cache_close(sc);
        return rc;
    }
    return 0;
}

void app_serve_cache_close(app_serve_cache *sc) {
    /* Coherence before its cache and its L3; the cache (which flushes into
     * L3) before L3. */
    mcp_result_cache_free(sc->results);
    mcp_cache_coherence_free(sc->coherence);
    mcp_cache_free(sc->cache);
    mcp_cache_l3_free(sc->l3);
    memset(sc, 0, sizeof *sc);
}
