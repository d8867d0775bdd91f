/*
 * async.c — mcp_pool_call_async and the I/O threads that carry it.
 *
 * A call takes a free connection at once when there is one, else it waits
 * in the pool's FIFO. Either way a (connection, call) pair ends up on the
 * queue of the connection's I/O thread, which sends the request through
 * the sans-I/O client and waits for its socket with epoll. When the reply
 * has been handed to the caller's callback, the thread gives the
 * connection back; if a call is waiting, the connection goes straight to
 * it and the thread sends again without any other thread being involved.
 * That is the whole point: under load one thread moves many requests per
 * wake-up, where a caller thread per connection costs a context switch per
 * request on each side.
 *
 * A connection is in its thread's epoll set (level-triggered) only while
 * the thread owns it: from the start of a call until the connection leaves
 * the thread, idle or lent to a blocking caller, when it is removed before
 * any other thread can see it (mcp_pool_release calls
 * mcp_pool_io_forget_locked at that moment), so no event can name a
 * connection given away. A connection that goes straight from one call to
 * the next stays in the set: under load a call costs no epoll_ctl at all.
 *
 * Thread 0 also ends waiting calls whose checkout deadline passed, and all
 * of them when the breaker opens, at each tick (TICK_MS).
 */
#include "pool/pool_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TICK_MS 5
#define MAX_EVENTS 128

struct mcp_pool_io {
    mcp_pool *pool;
    unsigned index;
    pthread_t thread;
    bool started;
    int epfd;
    int wake_fd;
    pthread_mutex_t lock;       /* guards head, tail, stop */
    mcp_pool_async *head, *tail; /* calls with their connection, to start */
    bool stop;
    /* I/O thread only: the connections carrying a call. */
    mcp_pool_conn **active;
    size_t active_count;
};

/* ---- Completion --------------------------------------------------------------------- */

static void fail_call(mcp_pool *pool, mcp_pool_async *call, int status)
{
    /* A span no client took ends here, with the failure. */
    if (MCP_UNLIKELY(call->ropts.observe_handle)) {
        mcp_pool_observer_end(&pool->observer, call->ropts.observe_handle, status);
        call->ropts.observe_handle = NULL;
    }
    call->finished = true;
    call->status = status;
    call->done(call->user, status, NULL, 0);
}

static void fail_list(mcp_pool *pool, mcp_pool_async *list, int status)
{
    while (list) {
        mcp_pool_async *next = list->next;
        fail_call(pool, list, status);
        free(list);
        list = next;
    }
}

static void on_reply(void *user, int status, const mcp_json *value, int64_t id)
{
    mcp_pool_conn *conn = user;
    mcp_pool_async *call = conn->call;
    if (!call || call->finished)
        return;
    call->finished = true;
    call->status = status;
    call->done(call->user, status, value, id);
}

/* ---- Arming ------------------------------------------------------------------------- */

/* Make the set watch what conn needs now: input always, and room to write
 * while output is pending. A no-op when it already does. */
static int arm(mcp_pool_io *io, mcp_pool_conn *conn)
{
    uint32_t want = EPOLLIN | EPOLLRDHUP;
    if (conn->stream->out.len)
        want |= EPOLLOUT;
    if (conn->registered && conn->watched == want)
        return 0;
    struct epoll_event ev = {.events = want, .data.ptr = conn};
    int op = conn->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(io->epfd, op, conn->stream->fd, &ev) != 0)
        return MCP_EIO;
    conn->registered = true;
    conn->watched = want;
    return 0;
}

/* Out of the set altogether: even hang-ups, which epoll reports whatever
 * the mask, cannot name it any more. */
static void disarm(mcp_pool_io *io, mcp_pool_conn *conn)
{
    if (!conn->registered)
        return;
    conn->registered = false;
    conn->watched = 0;
    epoll_ctl(io->epfd, EPOLL_CTL_DEL, conn->stream->fd, NULL);
}

void mcp_pool_io_forget_locked(mcp_pool_conn *conn)
{
    if (conn->io)
        disarm(conn->io, conn);
}

static void active_add(mcp_pool_io *io, mcp_pool_conn *conn)
{
    conn->active_index = io->active_count;
    io->active[io->active_count++] = conn;
}

static void active_remove(mcp_pool_io *io, mcp_pool_conn *conn)
{
    size_t i = conn->active_index;
    if (i >= io->active_count || io->active[i] != conn)
        return;
    io->active[i] = io->active[--io->active_count];
    io->active[i]->active_index = i;
}

/* ---- Carrying a call -------------------------------------------------------------------- */

static mcp_pool_async *start(mcp_pool_io *io, mcp_pool_async *call);

/* conn's call has finished: give the connection back and return the call
 * it was handed to next, if any. */
static mcp_pool_async *finish(mcp_pool_io *io, mcp_pool_conn *conn, bool was_active)
{
    mcp_pool_async *call = conn->call;
    if (was_active)
        active_remove(io, conn);
    conn->call = NULL;
    conn->stream->driven = false;
    int status = call->status;
    /* A connection whose client can no longer send is broken, whatever the
     * call's own outcome (a timeout, say). */
    if (conn->stream->broken || !mcp_client_is_ready(conn->client))
        status = MCP_ECLOSED;
    free(call);
    /* Still in the epoll set: release takes it out if the connection
     * leaves this thread, and leaves it in when a waiting call gets it. */
    return mcp_pool_release(io->pool, conn, status, true);
}

/* Send call on its connection; return the next call to start (this one
 * finished at once and its connection went to another waiting call). */
static mcp_pool_async *start_one(mcp_pool_io *io, mcp_pool_async *call)
{
    mcp_pool_conn *conn = call->conn;
    conn->call = call;
    conn->stream->driven = true;
    mcp_client_tick(conn->client, mcp_now_ns());
    int rc = mcp_client_request(conn->client, call->method, call->params, &call->ropts, on_reply, conn, NULL);
    call->ropts.observe_handle = NULL; /* the client ends the span now, whatever became of the call */
    if (rc != 0 && !call->finished)
        fail_call(io->pool, call, rc);
    if (!call->finished && (mcp_pool_stream_flush(conn->stream) != 0 || arm(io, conn) != 0))
        mcp_client_close(conn->client); /* completes the call with MCP_ECLOSED */
    if (call->finished)
        return finish(io, conn, false);
    active_add(io, conn);
    return NULL;
}

static mcp_pool_async *start(mcp_pool_io *io, mcp_pool_async *call)
{
    while (call)
        call = start_one(io, call);
    return NULL;
}

static void service(mcp_pool_io *io, mcp_pool_conn *conn, uint32_t events)
{
    if (!conn->call)
        return;
    int rc = 0;
    if (events & EPOLLOUT)
        rc = mcp_pool_stream_flush(conn->stream);
    if (rc == 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        rc = mcp_pool_stream_read(conn->stream, conn->client);
    if (rc == 0 && !conn->call->finished)
        rc = mcp_pool_stream_flush(conn->stream); /* what handling the input made the client send */
    if (rc != 0)
        mcp_client_close(conn->client);
    if (conn->call->finished) {
        start(io, finish(io, conn, true));
        return;
    }
    if (arm(io, conn) != 0) {
        mcp_client_close(conn->client);
        start(io, finish(io, conn, true));
    }
}

/* Request timeouts run on the client's clock. Backwards, because finishing
 * moves the last active connection into the finished one's place. */
static void tick(mcp_pool_io *io, uint64_t now)
{
    for (size_t i = io->active_count; i-- > 0;) {
        if (i >= io->active_count)
            continue;
        mcp_pool_conn *conn = io->active[i];
        mcp_client_tick(conn->client, now);
        if (conn->call->finished) {
            start(io, finish(io, conn, true));
        } else if (conn->stream->out.len && arm(io, conn) != 0) {
            mcp_client_close(conn->client);
            start(io, finish(io, conn, true));
        }
    }
}

/* Thread 0: end waiting calls past their deadline, or all of them while the
 * breaker is open. The FIFO is in deadline order: every call waits the
 * pool's checkout_timeout_ms. */
static void sweep_queue(mcp_pool *pool, uint64_t now)
{
    mcp_pool_async *expired = NULL, **tail = &expired;
    int status = MCP_ETIMEDOUT;
    pthread_mutex_lock(&pool->lock);
    if (pool->breaker == MCP_POOL_BREAKER_OPEN && pool->queue_head) {
        expired = pool->queue_head;
        pool->stats.rejected += pool->queued;
        pool->queue_head = pool->queue_tail = NULL;
        pool->queued = 0;
        status = MCP_EAGAIN;
    } else {
        while (pool->queue_head && pool->queue_head->deadline_ns <= now) {
            mcp_pool_async *call = pool->queue_head;
            pool->queue_head = call->next;
            pool->queued--;
            pool->stats.checkout_timeouts++;
            call->next = NULL;
            *tail = call;
            tail = &call->next;
        }
        if (!pool->queue_head)
            pool->queue_tail = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    fail_list(pool, expired, status);
}

/* Stopping: calls handed to us but not sent end unsent; calls in flight end
 * as their connection closes. The pool is stopping, so every connection
 * given back now is closed, and nothing is handed on. */
static void shut_down(mcp_pool_io *io, mcp_pool_async *unsent)
{
    while (unsent) {
        mcp_pool_async *next = unsent->next;
        mcp_pool_conn *conn = unsent->conn;
        conn->call = unsent;
        fail_call(io->pool, unsent, MCP_ECLOSED);
        start(io, finish(io, conn, false));
        unsent = next;
    }
    while (io->active_count > 0) {
        mcp_pool_conn *conn = io->active[io->active_count - 1];
        mcp_client_close(conn->client);
        if (!conn->call->finished)
            fail_call(io->pool, conn->call, MCP_ECLOSED);
        start(io, finish(io, conn, true));
    }
}

static void *io_main(void *arg)
{
    mcp_pool_io *io = arg;
    struct epoll_event events[MAX_EVENTS];
    uint64_t next_tick = mcp_now_ns();
    for (;;) {
        uint64_t now = mcp_now_ns();
        int wait_ms = next_tick > now ? (int)((next_tick - now + 999999u) / 1000000u) : 0;
        int n = epoll_wait(io->epfd, events, MAX_EVENTS, wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                uint64_t v;
                while (read(io->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {
                }
                continue;
            }
            service(io, events[i].data.ptr, events[i].events);
        }
        pthread_mutex_lock(&io->lock);
        mcp_pool_async *list = io->head;
        io->head = io->tail = NULL;
        bool stop = io->stop;
        pthread_mutex_unlock(&io->lock);
        if (stop) {
            shut_down(io, list);
            break;
        }
        while (list) {
            mcp_pool_async *next = list->next;
            list->next = NULL;
            start(io, list);
            list = next;
        }
        now = mcp_now_ns();
        if (now >= next_tick) {
            tick(io, now);
            if (io->index == 0)
                sweep_queue(io->pool, now);
            next_tick = now + TICK_MS * 1000000u;
        }
    }
    return NULL;
}

/* ---- Dispatch and the public call ----------------------------------------------------- */

void mcp_pool_async_dispatch_locked(mcp_pool_conn *conn, mcp_pool_async *call)
{
    mcp_pool_io *io = conn->io;
    call->conn = conn;
    call->next = NULL;
    pthread_mutex_lock(&io->lock);
    bool was_empty = io->head == NULL;
    if (io->tail)
        io->tail->next = call;
    else
        io->head = call;
    io->tail = call;
    pthread_mutex_unlock(&io->lock);
    /* The thread takes the whole queue at each turn: one wake-up is enough
     * for everything added before it looks. */
    if (was_empty) {
        uint64_t one = 1;
        while (write(io->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
}

int mcp_pool_call_async(mcp_pool *pool, const char *method, const char *params_json,
                        const mcp_client_request_opts *ropts, mcp_client_done_fn done, void *user)
{
    if (!pool || !method || !*method || !done)
        return MCP_EINVAL;
    if (!pool->io_count)
        return MCP_EUNSUPPORTED;
    size_t mlen = strlen(method) + 1;
    size_t plen = params_json ? strlen(params_json) + 1 : 0;
    mcp_pool_async *call = malloc(sizeof *call + mlen + plen);
    if (!call)
        return MCP_ENOMEM;
    memset(call, 0, sizeof *call);
    memcpy(call->method, method, mlen);
    if (params_json) {
        memcpy(call->method + mlen, params_json, plen);
        call->params = call->method + mlen;
    }
    call->done = done;
    call->user = user;
    if (ropts)
        call->ropts = *ropts;
    /* Begun here, on the caller's thread, to be parented on its work; the
     * client that sends the call reports it with this span. */
    if (MCP_UNLIKELY(pool->observer.inner != NULL))
        call->ropts.observe_handle = mcp_pool_observer_begin(&pool->observer, method, params_json);
    pthread_mutex_lock(&pool->lock);
    uint64_t now = mcp_now_ns();
    bool probe = false;
    int rc = 0;
    if (MCP_UNLIKELY(pool->stopping)) {
        rc = MCP_ECLOSED;
    } else if (MCP_UNLIKELY(pool->breaker != MCP_POOL_BREAKER_CLOSED) &&
               !mcp_pool_breaker_admits(pool, now, &probe)) {
        pool->stats.rejected++;
        rc = MCP_EAGAIN;
    } else if (pool->idle_count > 0 && !pool->queue_head && pool->busy < mcp_pool_current_limit(pool)) {
        mcp_pool_conn *conn = pool->idle[--pool->idle_count];
        pool->busy++;
        pool->stats.checkouts++;
        conn->probe = probe;
        conn->checkout_ns = now;
        mcp_pool_async_dispatch_locked(conn, call);
    } else {
        if (probe)
            pool->probe_out = false; /* not used: let the next one try */
        call->deadline_ns = now + (uint64_t)pool->opts.checkout_timeout_ms * 1000000u;
        if (pool->queue_tail)
            pool->queue_tail->next = call;
        else
            pool->queue_head = call;
        pool->queue_tail = call;
        pool->queued++;
        /* Room for another connection: the maintenance thread opens it. */
        if (pool->open < pool->max_open && pool->open < mcp_pool_current_limit(pool))
            pthread_cond_signal(&pool->maintain_cond);
    }
    pthread_mutex_unlock(&pool->lock);
    if (rc != 0) {
        mcp_pool_observer_end(&pool->observer, call->ropts.observe_handle, rc);
        free(call);
    }
    return rc;
}

/* ---- Life cycle ------------------------------------------------------------------------- */

int mcp_pool_io_start(mcp_pool *pool, unsigned count)
{
    pool->io = calloc(count, sizeof *pool->io);
    if (!pool->io)
        return MCP_ENOMEM;
    for (unsigned i = 0; i < count; i++) {
        mcp_pool_io *io = &pool->io[i];
        io->pool = pool;
        io->index = i;
        io->epfd = epoll_create1(EPOLL_CLOEXEC);
        io->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        io->active = calloc(pool->max_open, sizeof *io->active);
        pthread_mutex_init(&io->lock, NULL);
        pool->io_count++;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (io->epfd < 0 || io->wake_fd < 0 || !io->active ||
            epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->wake_fd, &ev) != 0 ||
            pthread_create(&io->thread, NULL, io_main, io) != 0)
            return MCP_ENOMEM;
        io->started = true;
    }
    return 0;
}

mcp_pool_io *mcp_pool_io_pick(mcp_pool *pool)
{
    if (!pool->io_count)
        return NULL;
    unsigned i = __atomic_fetch_add(&pool->next_io, 1u, __ATOMIC_RELAXED);
    return &pool->io[i % pool->io_count];
}

void mcp_pool_io_stop(mcp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    mcp_pool_async *waiting = pool->queue_head;
    pool->queue_head = pool->queue_tail = NULL;
    pool->queued = 0;
    pthread_mutex_unlock(&pool->lock);
    fail_list(pool, waiting, MCP_ECLOSED);
    for (size_t i = 0; i < pool->io_count; i++) {
        mcp_pool_io *io = &pool->io[i];
        if (!io->started)
            continue;
        pthread_mutex_lock(&io->lock);
        io->stop = true;
        pthread_mutex_unlock(&io->lock);
        uint64_t one = 1;
        while (write(io->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
        pthread_join(io->thread, NULL);
    }
    for (size_t i = 0; i < pool->io_count; i++) {
        mcp_pool_io *io = &pool->io[i];
        if (io->epfd >= 0)
            close(io->epfd);
        if (io->wake_fd >= 0)
            close(io->wake_fd);
        free(io->active);
        pthread_mutex_destroy(&io->lock);
    }
    free(pool->io);
    pool->io = NULL;
    pool->io_count = 0;
}
