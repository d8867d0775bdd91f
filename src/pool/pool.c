/*
 * pool.c — checkout, checkin and the circuit breaker of the connection pool.
 *
 * One mutex guards the pool. The fast path of a checkout is: lock, pop the
 * top of the idle stack, unlock; a checkin pushes it back and signals a
 * waiter only if there is one. A stack (not a queue) keeps the hot
 * connections hot and lets the cold ones at the bottom age into the idle
 * timeout, which is what lets a dynamic pool shrink after a burst.
 *
 * Connects and handshakes never run under the lock: a checkout that must
 * open a connection reserves its place (open and busy are counted before
 * the connect), unlocks, connects, and accounts for the outcome after.
 */
#include "pool/pool_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_SIZE 8u
#define DEFAULT_MAX 8u
#define DEFAULT_IDLE_TIMEOUT_MS 30000u
#define DEFAULT_CHECKOUT_TIMEOUT_MS 5000u
#define DEFAULT_HEALTH_INTERVAL_MS 1000u
#define DEFAULT_BACKOFF_MIN_MS 10u
#define DEFAULT_BACKOFF_MAX_MS 2000u
#define DEFAULT_BREAKER_THRESHOLD 5u
#define DEFAULT_BREAKER_COOLDOWN_MS 1000u
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 5000u
#define HOLD_ALPHA 0.1

/* ---- Connections ------------------------------------------------------------------ */

int mcp_pool_open_conn(mcp_pool *pool, mcp_pool_conn **out)
{
    mcp_client_transport *t = NULL;
    mcp_pool_stream *stream = NULL;
    int rc;
    if (pool->tcp_address) {
        rc = mcp_pool_stream_open(pool->tcp_address, pool->opts.handshake_timeout_ms, &stream);
        t = stream ? &stream->base : NULL;
    } else {
        rc = pool->opts.connect(pool->opts.connect_user, &t);
    }
    if (rc != 0)
        return rc;
    if (!t)
        return MCP_EIO;
    mcp_pool_conn *conn = calloc(1, sizeof *conn);
    mcp_client *client = conn ? mcp_client_new(&(mcp_client_opts){
                                    .name = "mcpd-pool",
                                    .protocol_version = pool->protocol_version,
                                    .timeout_ms = pool->opts.request_timeout_ms,
                                    .transport = t,
                                    .observer = mcp_pool_observer_for_clients(&pool->observer),
                                })
                              : NULL;
    if (!client) {
        free(conn);
        t->close(t);
        return MCP_ENOMEM;
    }
    bool was_quiet = mcp_pool_observer_quiet(true); /* the handshake is the pool's, not a caller's */
    rc = mcp_client_connect(client, pool->opts.handshake_timeout_ms, NULL);
    mcp_pool_observer_quiet(was_quiet);
    if (rc != 0) {
        mcp_client_free(client);
        free(conn);
        /* A refusal of the handshake is the server's answer, not ours. */
        return rc > 0 ? MCP_EPROTO : rc;
    }
    conn->pool = pool;
    conn->client = client;
    conn->stream = stream;
    if (stream)
        conn->io = mcp_pool_io_pick(pool);
    *out = conn;
    return 0;
}

void mcp_pool_close_conn(mcp_pool_conn *conn)
{
    if (!conn)
        return;
    mcp_client_free(conn->client);
    free(conn);
}

mcp_client *mcp_pool_client(mcp_pool_conn *conn)
{
    return conn ? conn->client : NULL;
}

/* ---- Breaker and backoff (lock held) --------------------------------------------------- */

/* Close the idle connections: after the breaker opened they are suspect,
 * and lending them out would only spend the callers' time on failures. */
static size_t take_idle(mcp_pool *pool, mcp_pool_conn ***out)
{
    size_t n = pool->idle_count;
    *out = NULL;
    if (n == 0)
        return 0;
    mcp_pool_conn **list = malloc(n * sizeof *list);
    if (!list)
        return 0;
    memcpy(list, pool->idle, n * sizeof *list);
    pool->idle_count = 0;
    pool->open -= n;
    *out = list;
    return n;
}

void mcp_pool_record_failure(mcp_pool *pool, uint64_t now)
{
    pool->consecutive_failures++;
    pool->backoff_ms = pool->backoff_ms ? pool->backoff_ms * 2 : pool->opts.backoff_min_ms;
    if (pool->backoff_ms > pool->opts.backoff_max_ms)
        pool->backoff_ms = pool->opts.backoff_max_ms;
    pool->next_connect_ns = now + (uint64_t)pool->backoff_ms * 1000000u;
    if (pool->breaker == MCP_POOL_BREAKER_HALF_OPEN ||
        (pool->breaker == MCP_POOL_BREAKER_CLOSED && pool->consecutive_failures >= pool->opts.breaker_threshold)) {
        pool->breaker = MCP_POOL_BREAKER_OPEN;
        pool->breaker_until_ns = now + (uint64_t)pool->opts.breaker_cooldown_ms * 1000000u;
        pool->stats.breaker_opens++;
        pool->probe_out = false;
        /* Waiters learn at once that they will not be served. */
        pthread_cond_broadcast(&pool->available);
    }
}

void mcp_pool_record_success(mcp_pool *pool)
{
    pool->consecutive_failures = 0;
    pool->backoff_ms = 0;
    pool->next_connect_ns = 0;
    if (pool->breaker != MCP_POOL_BREAKER_CLOSED) {
        pool->breaker = MCP_POOL_BREAKER_CLOSED;
        pool->probe_out = false;
        pthread_cond_broadcast(&pool->available);
    }
}

/* Open breaker: refuse. Cool-down over: half-open, and the caller becomes
 * the single probe. */
bool mcp_pool_breaker_admits(mcp_pool *pool, uint64_t now, bool *probe)
{
    *probe = false;
    if (pool->breaker == MCP_POOL_BREAKER_OPEN) {
        if (now < pool->breaker_until_ns)
            return false;
        pool->breaker = MCP_POOL_BREAKER_HALF_OPEN;
        pool->probe_out = false;
    }
    if (pool->breaker == MCP_POOL_BREAKER_HALF_OPEN) {
        if (pool->probe_out)
            return false;
        pool->probe_out = true;
        *probe = true;
    }
    return true;
}

bool mcp_pool_may_connect(mcp_pool *pool, uint64_t now, bool *probe)
{
    *probe = false;
    if (now < pool->next_connect_ns && pool->breaker == MCP_POOL_BREAKER_CLOSED)
        return false;
    return mcp_pool_breaker_admits(pool, now, probe);
}

/* ---- Checkout and checkin ----------------------------------------------------------- */

size_t mcp_pool_current_limit(const mcp_pool *pool)
{
    if (pool->opts.kind != MCP_POOL_ADAPTIVE)
        return pool->max_open;
    size_t l = (size_t)pool->limit.limit;
    return l ? l : 1;
}

static void deadline_to_timespec(uint64_t deadline_ns, struct timespec *ts)
{
    uint64_t now = mcp_now_ns();
    uint64_t wait = deadline_ns > now ? deadline_ns - now : 0;
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(wait / 1000000000u);
    ts->tv_nsec += (long)(wait % 1000000000u);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int mcp_pool_checkout(mcp_pool *pool, unsigned timeout_ms, mcp_pool_conn **out)
{
    if (!pool || !out)
        return MCP_EINVAL;
    *out = NULL;
    uint64_t deadline = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        if (MCP_UNLIKELY(pool->stopping)) {
            pthread_cond_broadcast(&pool->available); /* free may be waiting for us to leave */
            pthread_mutex_unlock(&pool->lock);
            return MCP_ECLOSED;
        }
        uint64_t now = mcp_now_ns();
        bool probe = false;
        if (MCP_UNLIKELY(pool->breaker != MCP_POOL_BREAKER_CLOSED) && !mcp_pool_breaker_admits(pool, now, &probe)) {
            pool->stats.rejected++;
            pthread_mutex_unlock(&pool->lock);
            return MCP_EAGAIN;
        }
        if (MCP_LIKELY(pool->busy < mcp_pool_current_limit(pool))) {
            if (MCP_LIKELY(pool->idle_count > 0)) {
                mcp_pool_conn *conn = pool->idle[--pool->idle_count];
                pool->busy++;
                pool->stats.checkouts++;
                conn->probe = probe;
                conn->checkout_ns = now;
                pthread_mutex_unlock(&pool->lock);
                *out = conn;
                return 0;
            }
            if (pool->open < pool->max_open && (probe || now >= pool->next_connect_ns)) {
                bool overflow = pool->opts.kind == MCP_POOL_DYNAMIC && pool->open >= pool->max_regular;
                pool->open++;
                pool->busy++;
                pthread_mutex_unlock(&pool->lock);
                mcp_pool_conn *conn = NULL;
                int rc = mcp_pool_open_conn(pool, &conn);
                pthread_mutex_lock(&pool->lock);
                now = mcp_now_ns();
                if (rc != 0) {
                    pool->open--;
                    pool->busy--;
                    pool->stats.connect_failures++;
                    if (probe)
                        pool->probe_out = false;
                    mcp_pool_record_failure(pool, now);
                    pthread_cond_signal(&pool->available);
                    pthread_mutex_unlock(&pool->lock);
                    return rc;
                }
                pool->stats.connects++;
                pool->stats.checkouts++;
                if (overflow)
                    pool->stats.overflow_opened++;
                conn->overflow = overflow;
                conn->probe = probe;
                conn->checkout_ns = now;
                pthread_mutex_unlock(&pool->lock);
                *out = conn;
                return 0;
            }
        }
        if (probe)
            pool->probe_out = false; /* not used: let the next one try */
        if (!deadline) {
            unsigned ms = timeout_ms ? timeout_ms : pool->opts.checkout_timeout_ms;
            deadline = now + (uint64_t)ms * 1000000u;
        }
        if (now >= deadline) {
            pool->stats.checkout_timeouts++;
            pthread_mutex_unlock(&pool->lock);
            return MCP_ETIMEDOUT;
        }
        /* Wake at the end of the backoff too: a connect may then be tried. */
        uint64_t until = deadline;
        if (pool->next_connect_ns > now && pool->next_connect_ns < until && pool->open < pool->max_open)
            until = pool->next_connect_ns;
        struct timespec ts;
        deadline_to_timespec(until, &ts);
        pool->waiting++;
        pthread_cond_timedwait(&pool->available, &pool->lock, &ts);
        pool->waiting--;
    }
}

static bool status_breaks(int status)
{
    return status == MCP_ECLOSED || status == MCP_EIO || status == MCP_EPROTO;
}

static mcp_pool_async *queue_pop(mcp_pool *pool)
{
    mcp_pool_async *call = pool->queue_head;
    pool->queue_head = call->next;
    if (!pool->queue_head)
        pool->queue_tail = NULL;
    pool->queued--;
    return call;
}

/* Lend idle connections to waiting async calls while the limit allows: an
 * adaptive limit that grew leaves idle connections that only this puts to
 * work. */
static void serve_queue_locked(mcp_pool *pool)
{
    while (pool->queue_head && pool->idle_count > 0 && !pool->stopping &&
           pool->busy < mcp_pool_current_limit(pool)) {
        mcp_pool_conn *conn = pool->idle[--pool->idle_count];
        pool->busy++;
        pool->stats.checkouts++;
        conn->checkout_ns = mcp_now_ns();
        mcp_pool_async_dispatch_locked(conn, queue_pop(pool));
    }
}

void mcp_pool_offer_locked(mcp_pool *pool, mcp_pool_conn *conn, bool on_top)
{
    if (pool->queue_head && conn->io && !pool->stopping && pool->busy < mcp_pool_current_limit(pool)) {
        pool->busy++;
        pool->stats.checkouts++;
        conn->checkout_ns = mcp_now_ns();
        mcp_pool_async_dispatch_locked(conn, queue_pop(pool));
        return;
    }
    if (on_top) {
        pool->idle[pool->idle_count++] = conn;
    } else {
        memmove(&pool->idle[1], &pool->idle[0], pool->idle_count * sizeof *pool->idle);
        pool->idle[0] = conn;
        pool->idle_count++;
    }
    if (pool->waiting)
        pthread_cond_signal(&pool->available);
}

mcp_pool_async *mcp_pool_release(mcp_pool *pool, mcp_pool_conn *conn, int status, bool direct)
{
    uint64_t now = mcp_now_ns();
    double hold_us = (double)(now - conn->checkout_ns) / 1000.0;
    bool broken = status_breaks(status);
    mcp_pool_conn **suspects = NULL;
    size_t suspect_count = 0;
    mcp_pool_async *next = NULL;
    bool close_it;
    pthread_mutex_lock(&pool->lock);
    pool->busy--;
    if (conn->probe)
        pool->probe_out = false;
    conn->probe = false;
    if (MCP_UNLIKELY(status < 0)) {
        mcp_pool_breaker before = pool->breaker;
        mcp_pool_record_failure(pool, now);
        if (before != MCP_POOL_BREAKER_OPEN && pool->breaker == MCP_POOL_BREAKER_OPEN)
            suspect_count = take_idle(pool, &suspects);
    } else if (MCP_UNLIKELY(pool->consecutive_failures || pool->breaker != MCP_POOL_BREAKER_CLOSED)) {
        mcp_pool_record_success(pool);
    }
    if (pool->opts.kind == MCP_POOL_ADAPTIVE)
        mcp_pool_limit_sample(&pool->limit, hold_us, status < 0);
    pool->hold_us = pool->hold_us == 0 ? hold_us : pool->hold_us + HOLD_ALPHA * (hold_us - pool->hold_us);
    close_it = broken || conn->overflow || pool->stopping;
    if (close_it) {
        if (direct)
            mcp_pool_io_forget_locked(conn);
        pool->open--;
        if (broken)
            pool->stats.closed_broken++;
        if (pool->waiting)
            pthread_cond_signal(&pool->available);
        /* A place to open a connection in: the maintenance thread serves
         * the waiting async calls. */
        if (pool->queue_head)
            pthread_cond_signal(&pool->maintain_cond);
    } else {
        conn->last_used_ns = conn->last_checked_ns = now;
        if (direct && pool->queue_head && pool->busy < mcp_pool_current_limit(pool)) {
            /* Straight to the next waiting call, on this very thread: no
             * trip through the idle stack or the thread's queue. */
            next = queue_pop(pool);
            pool->busy++;
            pool->stats.checkouts++;
            conn->checkout_ns = now;
            next->conn = conn;
        } else {
            /* Leaving its I/O thread, where it stays watched only while it
             * goes from call to call. */
            if (direct)
                mcp_pool_io_forget_locked(conn);
            mcp_pool_offer_locked(pool, conn, true);
        }
    }
    if (MCP_UNLIKELY(pool->queue_head != NULL))
        serve_queue_locked(pool);
    if (pool->stopping)
        pthread_cond_broadcast(&pool->available);
    pthread_mutex_unlock(&pool->lock);
    if (close_it)
        mcp_pool_close_conn(conn);
    for (size_t i = 0; i < suspect_count; i++)
        mcp_pool_close_conn(suspects[i]);
    free(suspects);
    return next;
}

void mcp_pool_checkin(mcp_pool *pool, mcp_pool_conn *conn, int status)
{
    if (!pool || !conn)
        return;
    mcp_pool_release(pool, conn, status, false);
}

int mcp_pool_call(mcp_pool *pool, const char *method, const char *params_json, mcp_client_result *result)
{
    memset(result, 0, sizeof *result);
    mcp_pool_conn *conn;
    int rc = mcp_pool_checkout(pool, 0, &conn);
    if (rc != 0)
        return result->status = rc;
    rc = mcp_client_call_sync(conn->client, method, params_json, NULL, result);
    mcp_pool_checkin(pool, conn, rc);
    return rc;
}

void mcp_pool_get_stats(mcp_pool *pool, mcp_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = pool->stats;
    out->open = pool->open;
    out->idle = pool->idle_count;
    out->busy = pool->busy;
    out->waiting = pool->waiting;
    out->queued = pool->queued;
    out->limit = mcp_pool_current_limit(pool);
    out->breaker = pool->breaker;
    out->hold_us = pool->hold_us;
    pthread_mutex_unlock(&pool->lock);
}

/* ---- Life cycle ------------------------------------------------------------------------ */

static int normalize(mcp_pool_opts *o, size_t *keep_open, size_t *max_open, size_t *max_regular)
{
    if (!o->connect || o->kind < MCP_POOL_STATIC || o->kind > MCP_POOL_ADAPTIVE)
        return MCP_EINVAL;
    if (!o->size)
        o->size = DEFAULT_SIZE;
    if (!o->max)
        o->max = DEFAULT_MAX;
    if (o->min > o->max)
        return MCP_EINVAL;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    if (!o->checkout_timeout_ms)
        o->checkout_timeout_ms = DEFAULT_CHECKOUT_TIMEOUT_MS;
    if (!o->health_interval_ms)
        o->health_interval_ms = DEFAULT_HEALTH_INTERVAL_MS;
    if (!o->backoff_min_ms)
        o->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    if (!o->backoff_max_ms)
        o->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms;
    if (!o->breaker_threshold)
        o->breaker_threshold = DEFAULT_BREAKER_THRESHOLD;
    if (!o->breaker_cooldown_ms)
        o->breaker_cooldown_ms = DEFAULT_BREAKER_COOLDOWN_MS;
    if (!o->handshake_timeout_ms)
        o->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
    switch (o->kind) {
    case MCP_POOL_STATIC:
        *keep_open = *max_open = *max_regular = o->size;
        break;
    case MCP_POOL_DYNAMIC:
        *keep_open = o->min;
        *max_regular = o->max;
        *max_open = o->max + o->max_overflow;
        break;
    case MCP_POOL_ADAPTIVE:
        *keep_open = o->min;
        *max_open = *max_regular = o->max;
        break;
    }
    return 0;
}

int mcp_pool_new(const mcp_pool_opts *opts, mcp_pool **out)
{
    if (!opts || !out)
        return MCP_EINVAL;
    *out = NULL;
    mcp_pool_opts o = *opts;
    size_t keep_open = 0, max_open = 0, max_regular = 0;
    int rc = normalize(&o, &keep_open, &max_open, &max_regular);
    if (rc != 0)
        return rc;
    if (o.protocol_version && !mcp_protocol_is_supported(o.protocol_version))
        return MCP_EUNSUPPORTED;
    mcp_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return MCP_ENOMEM;
    pool->opts = o;
    pool->keep_open = keep_open;
    pool->max_open = max_open;
    pool->max_regular = max_regular;
    pool->idle = calloc(max_open, sizeof *pool->idle);
    pool->protocol_version = o.protocol_version ? strdup(o.protocol_version) : NULL;
    if (!pool->idle || (o.protocol_version && !pool->protocol_version)) {
        free(pool->idle);
        free(pool->protocol_version);
        free(pool);
        return MCP_ENOMEM;
    }
    pool->opts.protocol_version = pool->protocol_version;
    mcp_pool_observer_init(&pool->observer, o.observer,
                           o.connect == mcp_pool_connect_tcp     ? "tcp"
                           : o.connect == mcp_pool_connect_stdio ? "pipe"
                                                                 : NULL);
    pool->observer.protocol_version = pool->protocol_version;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->available, NULL);
    pthread_cond_init(&pool->maintain_cond, NULL);
    mcp_pool_limit_init(&pool->limit, o.min ? (double)o.min : 1.0, (double)o.max);
    /* Sockets the pool opens itself can also carry async calls. */
    if (o.connect == mcp_pool_connect_tcp && o.connect_user) {
        pool->tcp_address = o.connect_user;
        if (mcp_pool_io_start(pool, o.io_threads ? o.io_threads : 1) != 0) {
            mcp_pool_free(pool);
            return MCP_ENOMEM;
        }
    }
    /* Open what the strategy keeps open now, so the first callers find it. */
    for (size_t i = 0; i < keep_open; i++) {
        mcp_pool_conn *conn = NULL;
        rc = mcp_pool_open_conn(pool, &conn);
        uint64_t now = mcp_now_ns();
        if (rc != 0) {
            pool->stats.connect_failures++;
            mcp_pool_record_failure(pool, now);
            break; /* the maintenance thread retries with backoff */
        }
        conn->last_used_ns = conn->last_checked_ns = now;
        pool->idle[pool->idle_count++] = conn;
        pool->open++;
        pool->stats.connects++;
    }
    if (pthread_create(&pool->maintainer, NULL, mcp_pool_maintain_main, pool) != 0) {
        mcp_pool_free(pool);
        return MCP_ENOMEM;
    }
    pool->maintainer_started = true;
    *out = pool;
    return 0;
}

void mcp_pool_free(mcp_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->available);
    pthread_cond_broadcast(&pool->maintain_cond);
    pthread_mutex_unlock(&pool->lock);
    if (pool->maintainer_started)
        pthread_join(pool->maintainer, NULL);
    mcp_pool_io_stop(pool);
    pthread_mutex_lock(&pool->lock);
    /* Borrowed connections are closed by their checkin. */
    while (pool->busy > 0 || pool->waiting > 0)
        pthread_cond_wait(&pool->available, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->idle_count; i++)
        mcp_pool_close_conn(pool->idle[i]);
    free(pool->idle);
    free(pool->protocol_version);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->available);
    pthread_cond_destroy(&pool->maintain_cond);
    free(pool);
}
