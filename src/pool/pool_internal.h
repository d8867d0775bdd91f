/*
 * pool/pool_internal.h — the pool's structures, shared by pool.c (checkout,
 * checkin, breaker), maintain.c (the maintenance thread: health pings,
 * reopening, shrinking) and limit.c (the adaptive concurrency limit).
 */
#ifndef MCP_POOL_INTERNAL_H
#define MCP_POOL_INTERNAL_H

#include "mcp/pool.h"

#include <pthread.h>

struct mcp_pool_conn {
    mcp_pool *pool;
    mcp_client *client;
    uint64_t last_used_ns;   /* checked in by a caller: what idle time counts from */
    uint64_t last_checked_ns; /* last proof of life: a use or a ping */
    uint64_t checkout_ns;
    bool overflow;           /* DYNAMIC: beyond max, closed at checkin */
    bool probe;              /* the half-open breaker's trial */
};

/* The adaptive limit (limit.c). */
typedef struct mcp_pool_limit {
    double limit;
    double min_limit, max_limit;
    double min_rtt_us;       /* best hold time seen since the last re-probe */
    double short_rtt_us;     /* smoothed recent hold time */
    uint64_t samples;
} mcp_pool_limit;

void mcp_pool_limit_init(mcp_pool_limit *l, double min_limit, double max_limit);
void mcp_pool_limit_sample(mcp_pool_limit *l, double rtt_us, bool failed);

struct mcp_pool {
    mcp_pool_opts opts;
    char *protocol_version;
    size_t keep_open;        /* opened at start and reopened by maintenance */
    size_t max_open;         /* hard cap on open connections */
    size_t max_regular;      /* DYNAMIC: beyond this, connections are overflow */

    pthread_mutex_t lock;
    pthread_cond_t available;  /* a connection came back, or the pool changed */
    pthread_cond_t maintain_cond;
    mcp_pool_conn **idle;      /* stack: the most recently used on top */
    size_t idle_count;
    size_t open;
    size_t busy;
    size_t waiting;
    bool stopping;
    pthread_t maintainer;
    bool maintainer_started;

    mcp_pool_breaker breaker;
    unsigned consecutive_failures;
    uint64_t breaker_until_ns;
    bool probe_out;
    unsigned backoff_ms;
    uint64_t next_connect_ns;

    mcp_pool_limit limit;
    double hold_us;
    mcp_pool_stats stats;      /* counters only; the gauges are computed */
};

/* pool.c, called with the lock held. */
void mcp_pool_record_failure(mcp_pool *pool, uint64_t now);
void mcp_pool_record_success(mcp_pool *pool);
/* Whether a new connection may be attempted now (breaker, backoff); moves
 * an open breaker whose cool-down passed to half-open and marks the probe. */
bool mcp_pool_may_connect(mcp_pool *pool, uint64_t now, bool *probe);
/* Open and handshake one connection (no lock held). */
int mcp_pool_open_conn(mcp_pool *pool, mcp_pool_conn **out);
void mcp_pool_close_conn(mcp_pool_conn *conn);

/* maintain.c */
void *mcp_pool_maintain_main(void *arg);

#endif
