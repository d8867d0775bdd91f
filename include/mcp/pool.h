/*
 * mcp/pool.h — a pool of client connections to one MCP server.
 *
 * Opening a connection costs a connect and a protocol handshake; a pool
 * keeps ready mcp_client connections and lends them out. A connector
 * callback opens a transport (TCP and stdio connectors are provided), so a
 * pool works over any transport the client speaks. Borrow a connection,
 * use it with the client's blocking API, give it back with the outcome:
 *
 *     mcp_pool *p;
 *     mcp_pool_new(&(mcp_pool_opts){ .connect = mcp_pool_connect_tcp, .connect_user = "127.0.0.1:7000",
 *                                     .kind = MCP_POOL_DYNAMIC, .min = 2, .max = 16, .max_overflow = 8 }, &p);
 *     mcp_pool_conn *c;
 *     if (mcp_pool_checkout(p, 0, &c) == 0) {
 *         mcp_client_result r;
 *         int status = mcp_client_call_sync(mcp_pool_client(c), "tools/call", params, NULL, &r);
 *         mcp_pool_checkin(p, c, status);    // a broken connection is closed, not reused
 *         mcp_client_result_free(&r);
 *     }
 *     mcp_pool_free(p);
 *
 * A caller with many requests in flight does not need a thread per
 * connection: mcp_pool_call_async queues the request, and the pool's I/O
 * thread(s) take a free connection for it, send it, wait for the reply
 * with epoll over every busy connection, call back, and give the
 * connection to the next queued request. Each connection still carries one
 * request at a time, so a pool of N connections means N requests at the
 * server at once, exactly as with checkout:
 *
 *     static void on_done(void *user, int status, const mcp_json *value, int64_t id) { ... }
 *     mcp_pool_call_async(p, "tools/call", params, NULL, on_done, ctx);
 *
 * The async path needs sockets the pool opens itself: a pool whose
 * connector is mcp_pool_connect_tcp has it (its connections serve checkout
 * and async calls alike); other connectors get MCP_EUNSUPPORTED. An async
 * call never connects on the caller's thread: while calls wait and the
 * strategy allows more connections (DYNAMIC up to max + max_overflow,
 * ADAPTIVE up to the current limit), the maintenance thread opens them,
 * one at a time, and each goes straight to a waiting call.
 *
 * Sizing strategies:
 *  - MCP_POOL_STATIC: `size` connections, opened at creation and kept.
 *  - MCP_POOL_DYNAMIC: `min` kept open; up to `max` opened on demand and
 *    closed again after idle_timeout_ms without use; beyond max, up to
 *    max_overflow extra connections are opened for a burst and closed as
 *    soon as they are checked in.
 *  - MCP_POOL_ADAPTIVE: up to `max` connections, but checkouts beyond a
 *    concurrency limit wait; the limit moves between min and max with the
 *    hold time of the connections (a latency gradient: it shrinks when hold
 *    times rise above the best seen, which is queueing at the server, and
 *    grows while they do not).
 *
 * Checkout waits in a queue (FIFO wake-ups on a condition variable) until a
 * connection is free or the timeout passes. The maintenance thread pings
 * connections idle for health_interval_ms, closes the dead, and reopens
 * what the strategy keeps open, backing off exponentially between failed
 * attempts. A circuit breaker counts consecutive failures (failed connects,
 * broken or failed uses, failed pings); at breaker_threshold it opens:
 * idle connections are closed and checkouts fail at once with MCP_EAGAIN.
 * After breaker_cooldown_ms it half-opens: one probe (a reconnect by the
 * maintenance thread, or one checkout) is let through, and its success
 * closes the breaker, its failure opens it again.
 *
 * Thread safe: any thread may check out and in. The fast path (a free
 * connection is there) is one short critical section each way.
 */
#ifndef MCP_POOL_H
#define MCP_POOL_H

#include "mcp/base.h"
#include "mcp/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_pool mcp_pool;
typedef struct mcp_pool_conn mcp_pool_conn;

/* Open one transport to the server (the pool then runs the handshake). */
typedef int (*mcp_pool_connect_fn)(void *user, mcp_client_transport **out);
/* Connectors: user is a "HOST:PORT" string, or a NULL-terminated argv
 * (char *const[]) of a server to spawn speaking MCP on stdio. */
int mcp_pool_connect_tcp(void *host_port, mcp_client_transport **out);
int mcp_pool_connect_stdio(void *argv, mcp_client_transport **out);

typedef enum mcp_pool_kind {
    MCP_POOL_STATIC = 0,
    MCP_POOL_DYNAMIC,
    MCP_POOL_ADAPTIVE
} mcp_pool_kind;

typedef enum mcp_pool_breaker {
    MCP_POOL_BREAKER_CLOSED = 0,
    MCP_POOL_BREAKER_OPEN,
    MCP_POOL_BREAKER_HALF_OPEN
} mcp_pool_breaker;

typedef struct mcp_pool_opts {
    mcp_pool_connect_fn connect;    /* required */
    void *connect_user;
    const char *protocol_version;   /* as mcp_client_opts; NULL negotiates */
    unsigned request_timeout_ms;    /* clients' default per-request timeout; 0 means 60000 */
    unsigned handshake_timeout_ms;  /* 0 means 5000 */
    mcp_pool_kind kind;
    size_t size;                    /* STATIC; 0 means 8 */
    size_t min;                     /* DYNAMIC, ADAPTIVE; may be 0 */
    size_t max;                     /* DYNAMIC, ADAPTIVE; 0 means 8 */
    size_t max_overflow;            /* DYNAMIC */
    unsigned idle_timeout_ms;       /* DYNAMIC: close connections above min idle this long; 0 means 30000 */
    unsigned checkout_timeout_ms;   /* default wait of mcp_pool_checkout; 0 means 5000 */
    unsigned health_interval_ms;    /* ping connections idle this long; 0 means 1000 */
    unsigned backoff_min_ms;        /* first wait after a failed connect; 0 means 10 */
    unsigned backoff_max_ms;        /* 0 means 2000 */
    unsigned breaker_threshold;     /* consecutive failures that open the breaker; 0 means 5 */
    unsigned breaker_cooldown_ms;   /* open this long before half-opening; 0 means 1000 */
    unsigned io_threads;            /* threads driving async calls (TCP connector only); 0 means 1 */
    /* Tracing hooks (mcp/mcp.h "Observer"; mcp_obs_observer makes spans):
     * every call a caller makes on a pooled connection gets a client span
     * (network.transport "tcp" or "pipe" for the provided connectors) and
     * sends its traceparent in params._meta; the pool's handshakes and
     * health pings are not reported. A blocking call is parented like any
     * client request (params._meta.traceparent, else the thread's current
     * span); an async call's span begins in mcp_pool_call_async, on the
     * caller's thread and parented the same way, so it covers the wait for
     * a connection too, and ends with the reply or the failure (a call
     * refused at once ends it with that error; one answered from the
     * client's result cache, as a success). NULL: no hooks and no cost.
     * Kept by pointer: must outlive the pool. */
    const mcp_observer *observer;
} mcp_pool_opts;

typedef struct mcp_pool_stats {
    size_t open;                    /* connections open (or being opened) */
    size_t idle;
    size_t busy;                    /* checked out */
    size_t waiting;                 /* checkouts waiting now */
    size_t limit;                   /* concurrency limit (ADAPTIVE) or the most connections allowed */
    uint64_t checkouts;
    uint64_t checkout_timeouts;
    uint64_t rejected;              /* checkouts refused by the open breaker */
    uint64_t connects;              /* connections opened */
    uint64_t connect_failures;
    uint64_t closed_broken;         /* closed after a failed use or a failed ping */
    uint64_t closed_idle;           /* closed by shrinking (DYNAMIC) */
    uint64_t overflow_opened;       /* DYNAMIC: opened beyond max */
    uint64_t health_checks;
    uint64_t health_failures;
    uint64_t breaker_opens;
    mcp_pool_breaker breaker;
    double hold_us;                 /* smoothed checkout-to-checkin time */
    size_t queued;                  /* async calls waiting for a connection now */
} mcp_pool_stats;

/* Create the pool and open what the strategy keeps open (a failed initial
 * connection is not fatal: the maintenance thread keeps trying). */
int mcp_pool_new(const mcp_pool_opts *opts, mcp_pool **out);
/* Borrow a ready connection, waiting up to timeout_ms (0: the pool's
 * checkout_timeout_ms). MCP_ETIMEDOUT, MCP_EAGAIN (breaker open),
 * MCP_ECLOSED (pool closing), or a connect error when this checkout had
 * to open a connection and failed. */
int mcp_pool_checkout(mcp_pool *pool, unsigned timeout_ms, mcp_pool_conn **out);
mcp_client *mcp_pool_client(mcp_pool_conn *conn);
/* Give the connection back with the outcome of its use: 0 or a positive
 * client status is a success; MCP_ECLOSED, MCP_EIO and MCP_EPROTO mean the
 * connection is broken (it is closed); any other negative code is a failure
 * of the call that leaves the connection usable. */
void mcp_pool_checkin(mcp_pool *pool, mcp_pool_conn *conn, int status);
/* Checkout, mcp_client_call_sync, checkin. Returns the call's status (or
 * the checkout's error, with result->status set to it). */
int mcp_pool_call(mcp_pool *pool, const char *method, const char *params_json, mcp_client_result *result);
/* Call method on a pooled connection without waiting: 0 when the call is
 * accepted, and then done runs exactly once, with the reply (as
 * mcp_client_request's callback: value lives only until done returns) or
 * the failure: MCP_ETIMEDOUT when no connection came within the pool's
 * checkout_timeout_ms or the reply not within the request's timeout
 * (ropts->timeout_ms, else the pool's request_timeout_ms), MCP_EAGAIN when
 * the breaker opened while it waited, MCP_ECLOSED when its connection broke
 * or the pool was freed. Calls wait in FIFO order and are served before
 * blocking checkouts that wait at the same time. Refusals at once, with done
 * not called: MCP_EAGAIN (breaker open), MCP_ECLOSED (pool closing),
 * MCP_EUNSUPPORTED (not a TCP pool), MCP_EINVAL, MCP_ENOMEM. done runs on an
 * I/O thread (or in mcp_pool_free for calls it ends); it may call
 * mcp_pool_call_async again but must not block or free the pool. ropts may
 * be NULL; its progress callback too runs on an I/O thread. */
int mcp_pool_call_async(mcp_pool *pool, const char *method, const char *params_json,
                        const mcp_client_request_opts *ropts, mcp_client_done_fn done, void *user);
void mcp_pool_get_stats(mcp_pool *pool, mcp_pool_stats *out);
/* Close every connection; connections still checked out are closed when
 * they come back, and free waits for them. Async calls still waiting or in
 * flight complete with MCP_ECLOSED before it returns. */
void mcp_pool_free(mcp_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
