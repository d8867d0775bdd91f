/*
 * One hiredis connection on a libuv loop that comes back by itself, and
 * the RESP command writer.
 *
 * We hook hiredis to libuv ourselves rather than through the adapter that
 * hiredis ships: libuv reports a socket error (a refused connect, a reset
 * by a killed server) as a poll status and stops the handle, and that
 * adapter ignores the status, so hiredis would never learn that the
 * connection is gone and every command would wait for its timeout. Here a
 * poll error is turned into the read or write that lets hiredis see it.
 *
 * hiredis offers no connect timeout in this version; the link's timer
 * gives up a connect that has not finished in time, and the same timer
 * then waits out the backoff before the next attempt.
 */
#include "cache/l3_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- hiredis event hooks on libuv ----------------------------------------------- */

typedef struct link_events {
    redisAsyncContext *ac; /* NULL once hiredis cleaned up */
    uv_poll_t poll;
    int events;
} link_events;

static void events_poll_cb(uv_poll_t *handle, int status, int events) {
    link_events *e = handle->data;
    if (!e->ac) return;
    if (status < 0) events = (e->ac->c.flags & REDIS_CONNECTED) ? UV_READABLE : UV_WRITABLE;
    if (events & UV_READABLE) redisAsyncHandleRead(e->ac);
    /* The read may have freed the context, which clears e->ac. */
    if (e->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(e->ac);
}

static void events_update(link_events *e, int add, int del) {
    e->events = (e->events | add) & ~del;
    if (e->events) uv_poll_start(&e->poll, e->events, events_poll_cb);
    else uv_poll_stop(&e->poll);
}

static void events_add_read(void *p) {
    events_update(p, UV_READABLE, 0);
}
static void events_del_read(void *p) {
    events_update(p, 0, UV_READABLE);
}
static void events_add_write(void *p) {
    events_update(p, UV_WRITABLE, 0);
}
static void events_del_write(void *p) {
    events_update(p, 0, UV_WRITABLE);
}

static void events_closed(uv_handle_t *handle) {
    free(handle->data);
}

static void events_cleanup(void *p) {
    link_events *e = p;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, events_closed);
}

static int events_attach(redisAsyncContext *ac, uv_loop_t *loop) {
    link_events *e = calloc(1, sizeof *e);
    if (!e) return MCP_ENOMEM;
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return MCP_EIO;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = events_add_read;
    ac->ev.delRead = events_del_read;
    ac->ev.addWrite = events_add_write;
    ac->ev.delWrite = events_del_write;
    ac->ev.cleanup = events_cleanup;
    return MCP_OK;
}

/* ---- the link ---------------------------------------------------------------------- */

static void link_connect(l3_link *link);

static void retry_cb(uv_timer_t *t) {
    link_connect(t->data);
}

static void schedule_retry(l3_link *link) {
    if (link->stopping) return;
    uv_timer_start(&link->timer, retry_cb, link->backoff_ms, 0);
    link->backoff_ms = link->backoff_ms * 2 > link->o.backoff_max_ms ? link->o.backoff_max_ms : link->backoff_ms * 2;
}

static void connect_timeout_cb(uv_timer_t *t) {
    l3_link *link = t->data;
    if (link->up || !link->ac) return;
    mcp_log(MCP_LOG_DEBUG, "cache l3: connect to %s:%d timed out", link->o.host, link->o.port);
    redisAsyncContext *ac = link->ac;
    link->ac = NULL;
    redisAsyncFree(ac); /* not connected: no disconnect callback */
    schedule_retry(link);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    l3_link *link = ac->data;
    uv_timer_stop(&link->timer);
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns. */
        mcp_log(MCP_LOG_DEBUG, "cache l3: connect to %s:%d failed: %s", link->o.host, link->o.port,
                ac->errstr ? ac->errstr : "?");
        link->ac = NULL;
        schedule_retry(link);
        return;
    }
    link->up = true;
    link->backoff_ms = link->o.backoff_min_ms;
    if (link->o.on_up) link->o.on_up(link, link->o.user);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    l3_link *link = ac->data;
    bool was_up = link->up;
    link->ac = NULL;
    link->up = false;
    if (status != REDIS_OK)
        mcp_log(MCP_LOG_INFO, "cache l3: connection to %s:%d lost: %s", link->o.host, link->o.port,
                ac->errstr ? ac->errstr : "?");
    if (was_up && link->o.on_down) link->o.on_down(link, link->o.user);
    schedule_retry(link);
}

static void link_connect(l3_link *link) {
    if (link->stopping || link->ac) return;
    redisAsyncContext *ac = redisAsyncConnect(link->o.host, link->o.port);
    if (!ac || ac->err || events_attach(ac, link->o.loop) != MCP_OK) {
        if (ac) {
            mcp_log(MCP_LOG_DEBUG, "cache l3: connect to %s:%d: %s", link->o.host, link->o.port,
                    ac->err ? ac->errstr : "cannot poll");
            redisAsyncFree(ac);
        }
        schedule_retry(link);
        return;
    }
    ac->data = link;
    link->ac = ac;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect);
    uv_timer_start(&link->timer, connect_timeout_cb, link->o.connect_timeout_ms, 0);
}

void l3_link_start(l3_link *link, const l3_link_opts *opts) {
    memset(link, 0, sizeof *link);
    link->o = *opts;
    link->backoff_ms = opts->backoff_min_ms;
    uv_timer_init(opts->loop, &link->timer);
    link->timer.data = link;
    link_connect(link);
}

void l3_link_drop(l3_link *link) {
    redisAsyncContext *ac = link->ac;
    if (!ac) return;
    uv_timer_stop(&link->timer);
    redisAsyncFree(ac); /* runs on_disconnect when it was connected */
    if (link->ac == ac) { /* it was still connecting */
        link->ac = NULL;
        schedule_retry(link);
    }
}

static void link_timer_closed(uv_handle_t *h) {
    l3_link *link = h->data;
    if (link->on_closed) link->on_closed(link, link->closed_user);
}

void l3_link_stop(l3_link *link, l3_link_fn on_closed, void *user) {
    link->stopping = true;
    link->on_closed = on_closed;
    link->closed_user = user;
    uv_timer_stop(&link->timer);
    if (link->ac) {
        redisAsyncContext *ac = link->ac;
        redisAsyncFree(ac);
        link->ac = NULL;
        link->up = false;
    }
    uv_close((uv_handle_t *)&link->timer, link_timer_closed);
}

/* ---- RESP -------------------------------------------------------------------------------- */

static void put_header(l3_cmd_writer *w, char type, uint64_t n) {
    char tmp[24];
    int len = snprintf(tmp, sizeof tmp, "%c%llu\r\n", type, (unsigned long long)n);
    if (!w->rc) w->rc = mcp_buf_append(w->buf, tmp, (size_t)len);
}

void l3_cmd_begin(l3_cmd_writer *w, int argc) {
    put_header(w, '*', (uint64_t)argc);
}

void l3_cmd_arg(l3_cmd_writer *w, const void *data, size_t len) {
    put_header(w, '$', len);
    if (!w->rc && len) w->rc = mcp_buf_append(w->buf, data, len);
    if (!w->rc) w->rc = mcp_buf_append(w->buf, "\r\n", 2);
}

void l3_cmd_arg2(l3_cmd_writer *w, mcp_str a, mcp_str b) {
    put_header(w, '$', a.len + b.len);
    if (!w->rc && a.len) w->rc = mcp_buf_append(w->buf, a.ptr, a.len);
    if (!w->rc && b.len) w->rc = mcp_buf_append(w->buf, b.ptr, b.len);
    if (!w->rc) w->rc = mcp_buf_append(w->buf, "\r\n", 2);
}

void l3_cmd_arg_u64(l3_cmd_writer *w, uint64_t v) {
    char tmp[24];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    l3_cmd_arg(w, tmp, (size_t)len);
}

void l3_cmd_end(l3_cmd_writer *w) {
    if (w->rc) return;
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        size_t *grown = realloc(w->ends, cap * sizeof *grown);
        if (!grown) {
            w->rc = MCP_ENOMEM;
            return;
        }
        w->ends = grown;
        w->cap = cap;
    }
    w->ends[w->count++] = w->buf->len;
}
