/*
 * pool/pool_internal.h — the pool's structures, shared by pool.c (checkout,
 * checkin, breaker), maintain.c (the maintenance thread: health pings,
 * reopening, shrinking), limit.c (the adaptive concurrency limit),
 * stream.c (the pool's own TCP connection) and async.c (the I/O threads
 * behind mcp_pool_call_async).
 */
#ifndef MCP_POOL_INTERNAL_H
#define MCP_POOL_INTERNAL_H

#include "mcp/pool.h"
#include "net/net_internal.h"
#include "pool/pool_observe.h"

#include <pthread.h>

/* The pool's TCP connection (stream.c): a transport for the blocking API
 * that an I/O thread can also drive. base must stay first. */
typedef struct mcp_pool_stream {
    mcp_client_transport base;
    int fd;
    bool driven;          /* carrying an async call: send never blocks */
    bool broken;
    mcp_buf out;          /* bytes the socket has not taken yet */
    mcp_ndjson framer;
    char *rbuf;           /* the last read; rbuf[rpos..rlen) not yet framed */
    size_t rpos, rlen;
} mcp_pool_stream;

int mcp_pool_stream_open(const char *address, unsigned timeout_ms, mcp_pool_stream **out);
/* Driven: write what the socket takes now. 0 or MCP_ECLOSED. */
int mcp_pool_stream_flush(mcp_pool_stream *s);
/* Driven: hand every complete line that has arrived to client, reading
 * until the socket has no more. 0, or MCP_ECLOSED when the peer is gone. */
int mcp_pool_stream_read(mcp_pool_stream *s, mcp_client *client);

typedef struct mcp_pool_io mcp_pool_io;

/* One mcp_pool_call_async from acceptance to completion (async.c). */
typedef struct mcp_pool_async {
    struct mcp_pool_async *next;
    mcp_pool_conn *conn;       /* set once a connection carries it */
    mcp_client_done_fn done;
    void *user;
    mcp_client_request_opts ropts; /* observe_handle: the call's span until a client takes it */
    uint64_t deadline_ns;      /* of the wait for a connection */
    int status;
    bool finished;
    const char *params;        /* in the same allocation, after method; NULL when none */
    char method[];
} mcp_pool_async;

struct mcp_pool_conn {
    mcp_pool *pool;
    mcp_client *client;
    uint64_t last_used_ns;   /* checked in by a caller: what idle time counts from */
    uint64_t last_checked_ns; /* last proof of life: a use or a ping */
    uint64_t checkout_ns;
    bool overflow;           /* DYNAMIC: beyond max, closed at checkin */
    bool probe;              /* the half-open breaker's trial */
    mcp_pool_stream *stream; /* the pool opened the socket: async calls can use it */
    mcp_pool_io *io;         /* the I/O thread that drives it for async calls */
    mcp_pool_async *call;    /* the async call it carries now (I/O thread only) */
    size_t active_index;     /* position in io's active list (I/O thread only) */
    bool registered;         /* its socket is in io's epoll set (I/O thread only) */
    uint32_t watched;        /* ... for these events */
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

    /* Async calls (async.c). Waiting ones form a FIFO under lock. */
    const char *tcp_address;   /* the pool opens its sockets itself; NULL: a user connector */
    mcp_pool_io *io;
    size_t io_count;
    mcp_pool_async *queue_head, *queue_tail;
    size_t queued;
    unsigned next_io;          /* round robin over io for new connections */

    mcp_pool_observer observer; /* the relay the clients report to (observe.c) */
};

/* pool.c, called with the lock held. */
size_t mcp_pool_current_limit(const mcp_pool *pool);
/* The breaker's verdict on a new use: false while open; half-open lets one
 * probe through and marks it in *probe. */
bool mcp_pool_breaker_admits(mcp_pool *pool, uint64_t now, bool *probe);
void mcp_pool_record_failure(mcp_pool *pool, uint64_t now);
void mcp_pool_record_success(mcp_pool *pool);
/* Whether a new connection may be attempted now (breaker, backoff); moves
 * an open breaker whose cool-down passed to half-open and marks the probe. */
bool mcp_pool_may_connect(mcp_pool *pool, uint64_t now, bool *probe);
/* Open and handshake one connection (no lock held). */
int mcp_pool_open_conn(mcp_pool *pool, mcp_pool_conn **out);
void mcp_pool_close_conn(mcp_pool_conn *conn);

/* Give a connection back after a use with the given outcome (no lock
 * held). When it stays open and an async call waits, it goes straight to
 * that call (the connection stays busy): direct returns the call for the
 * caller, conn's own I/O thread, to start; otherwise it is dispatched to
 * that thread and NULL is returned. With direct, a connection that leaves
 * the I/O thread is first taken out of its epoll set. */
mcp_pool_async *mcp_pool_release(mcp_pool *pool, mcp_pool_conn *conn, int status, bool direct);
/* Lock held: an open connection is free (new, or back from a health
 * check): give it to the first waiting async call, or put it on the idle
 * stack. */
void mcp_pool_offer_locked(mcp_pool *pool, mcp_pool_conn *conn, bool on_top);

/* async.c */
int mcp_pool_io_start(mcp_pool *pool, unsigned count);
/* The I/O thread for a new connection, round robin; NULL without any. */
mcp_pool_io *mcp_pool_io_pick(mcp_pool *pool);
/* End every async call still waiting or in flight with MCP_ECLOSED and
 * join the I/O threads. The pool is already stopping. */
void mcp_pool_io_stop(mcp_pool *pool);
/* Lock held, on conn's I/O thread: conn is about to leave the thread (go
 * idle, or be closed): take its socket out of the thread's epoll set. */
void mcp_pool_io_forget_locked(mcp_pool_conn *conn);
/* Lock held: conn (busy) carries call; hands both to conn's I/O thread. */
void mcp_pool_async_dispatch_locked(mcp_pool_conn *conn, mcp_pool_async *call);

/* maintain.c */
void *mcp_pool_maintain_main(void *arg);

#endif
