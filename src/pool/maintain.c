/*
 * maintain.c — the pool's maintenance thread: health pings of idle
 * connections, shrinking a dynamic pool, and reopening what the strategy
 * keeps open, with backoff and under the circuit breaker.
 *
 * A connection being pinged is taken out of the idle stack for the
 * duration, so no caller can borrow it meanwhile; pings and connects run
 * without the lock. Any reply to the ping counts as alive, an error object
 * too (a modern-era server answers "ping" with -32601): what is checked is
 * the connection, not the method.
 */
#include "pool/pool_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_TICK_MS 5u
#define MAX_TICK_MS 250u
#define MAX_PING_MS 1000u

static void sleep_until_next_tick(mcp_pool *pool)
{
    unsigned ms = pool->opts.health_interval_ms / 4;
    if (ms < MIN_TICK_MS)
        ms = MIN_TICK_MS;
    if (ms > MAX_TICK_MS)
        ms = MAX_TICK_MS;
    uint64_t now = mcp_now_ns();
    uint64_t until = now + (uint64_t)ms * 1000000u;
    if (pool->next_connect_ns > now && pool->next_connect_ns < until)
        until = pool->next_connect_ns;
    if (pool->breaker == MCP_POOL_BREAKER_OPEN && pool->breaker_until_ns > now && pool->breaker_until_ns < until)
        until = pool->breaker_until_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wait = until - now;
    ts.tv_sec += (time_t)(wait / 1000000000u);
    ts.tv_nsec += (long)(wait % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&pool->maintain_cond, &pool->lock, &ts);
}

static void remove_idle_at(mcp_pool *pool, size_t i)
{
    memmove(&pool->idle[i], &pool->idle[i + 1], (pool->idle_count - i - 1) * sizeof *pool->idle);
    pool->idle_count--;
}

/* Ping idle connections unused for a health interval. Lock held on entry
 * and exit, released around the pings. */
static void check_health(mcp_pool *pool)
{
    uint64_t now = mcp_now_ns();
    uint64_t stale = (uint64_t)pool->opts.health_interval_ms * 1000000u;
    mcp_pool_conn *checking[64];
    size_t n = 0;
    for (size_t i = 0; i < pool->idle_count && n < 64;) {
        if (now - pool->idle[i]->last_checked_ns >= stale) {
            checking[n++] = pool->idle[i];
            remove_idle_at(pool, i);
        } else {
            i++;
        }
    }
    if (n == 0)
        return;
    pthread_mutex_unlock(&pool->lock);
    bool alive[64];
    unsigned ping_ms = pool->opts.health_interval_ms < MAX_PING_MS ? pool->opts.health_interval_ms : MAX_PING_MS;
    bool was_quiet = mcp_pool_observer_quiet(true); /* health pings are the pool's own traffic */
    for (size_t i = 0; i < n; i++) {
        mcp_client_result r;
        int status = mcp_client_call_sync(checking[i]->client, "ping", NULL,
                                          &(mcp_client_request_opts){.timeout_ms = ping_ms}, &r);
        mcp_client_result_free(&r);
        alive[i] = status >= 0;
    }
    mcp_pool_observer_quiet(was_quiet);
    pthread_mutex_lock(&pool->lock);
    now = mcp_now_ns();
    mcp_pool_conn *dead[64];
    size_t dead_count = 0;
    for (size_t i = 0; i < n; i++) {
        pool->stats.health_checks++;
        if (alive[i] && !pool->stopping && pool->breaker != MCP_POOL_BREAKER_OPEN) {
            checking[i]->last_checked_ns = now;
            /* At the bottom: it is the coldest, the first to shrink away. */
            mcp_pool_offer_locked(pool, checking[i], false);
            continue;
        }
        if (!alive[i]) {
            pool->stats.health_failures++;
            pool->stats.closed_broken++;
            mcp_pool_record_failure(pool, now);
        }
        pool->open--;
        dead[dead_count++] = checking[i];
    }
    if (pool->waiting)
        pthread_cond_broadcast(&pool->available);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < dead_count; i++)
        mcp_pool_close_conn(dead[i]);
    pthread_mutex_lock(&pool->lock);
}

/* DYNAMIC: close idle connections above min that sat unused for
 * idle_timeout_ms. Pings do not count as use. */
static void shrink(mcp_pool *pool)
{
    if (pool->opts.kind != MCP_POOL_DYNAMIC)
        return;
    uint64_t now = mcp_now_ns();
    uint64_t limit = (uint64_t)pool->opts.idle_timeout_ms * 1000000u;
    for (size_t i = 0; i < pool->idle_count && pool->open > pool->keep_open;) {
        mcp_pool_conn *conn = pool->idle[i];
        /* The lock is dropped around each close: a connection checked in
         * meanwhile may carry a time later than now. */
        if (conn->last_used_ns > now || now - conn->last_used_ns < limit) {
            i++;
            continue;
        }
        remove_idle_at(pool, i);
        pool->open--;
        pool->stats.closed_idle++;
        pthread_mutex_unlock(&pool->lock);
        mcp_pool_close_conn(conn);
        pthread_mutex_lock(&pool->lock);
        i = 0; /* the stack may have changed meanwhile */
    }
}

/* Reopen up to what the strategy keeps open; when the breaker is
 * half-open, one connection is the probe even if the pool keeps none.
 * Async calls waiting for a connection open one each, up to the limit: a
 * blocking checkout opens its own, an async call cannot. */
static void refill(mcp_pool *pool)
{
    while (!pool->stopping) {
        bool room = pool->open < pool->max_open && pool->open < mcp_pool_current_limit(pool);
        bool wanted = pool->open < pool->keep_open ||
                      (pool->breaker != MCP_POOL_BREAKER_CLOSED && pool->open < pool->max_open) ||
                      (pool->queued > pool->idle_count && room);
        bool probe = false;
        if (!wanted || !mcp_pool_may_connect(pool, mcp_now_ns(), &probe))
            return;
        bool overflow = pool->opts.kind == MCP_POOL_DYNAMIC && pool->open >= pool->max_regular;
        pool->open++;
        pthread_mutex_unlock(&pool->lock);
        mcp_pool_conn *conn = NULL;
        int rc = mcp_pool_open_conn(pool, &conn);
        pthread_mutex_lock(&pool->lock);
        uint64_t now = mcp_now_ns();
        if (probe)
            pool->probe_out = false;
        if (rc != 0) {
            pool->open--;
            pool->stats.connect_failures++;
            mcp_pool_record_failure(pool, now);
            return;
        }
        pool->stats.connects++;
        if (overflow)
            pool->stats.overflow_opened++;
        conn->overflow = overflow;
        mcp_pool_record_success(pool);
        conn->last_used_ns = conn->last_checked_ns = now;
        mcp_pool_offer_locked(pool, conn, true);
    }
}

void *mcp_pool_maintain_main(void *arg)
{
    mcp_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    while (!pool->stopping) {
        sleep_until_next_tick(pool);
        if (pool->stopping)
            break;
        check_health(pool);
        if (pool->stopping)
            break;
        shrink(pool);
        refill(pool);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}
