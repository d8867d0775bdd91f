/*
 * Pieces of the Redis tier that coherence shares: one reconnecting hiredis
 * connection on a libuv loop (l3_link), the RESP writer for commands built
 * off the loop, and a way to run work on the tier's loop thread.
 *
 * Everything named l3_link_* runs on the loop thread only.
 */
#ifndef MCP_CACHE_L3_INTERNAL_H
#define MCP_CACHE_L3_INTERNAL_H

#include "cache/cache_internal.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

/* ---- a connection that comes back by itself ---------------------------------
 * Connects at start; when the connection fails, is lost or is dropped, it
 * waits backoff (doubling from min to max, reset by a connect) and tries
 * again. A connect that has not finished within connect_timeout is given
 * up. on_up runs once the connection is usable (the place to SUBSCRIBE),
 * on_down when it is gone; callbacks of commands still in flight have
 * then been called with a NULL reply. */
typedef struct l3_link l3_link;
typedef void (*l3_link_fn)(l3_link *link, void *user);

typedef struct l3_link_opts {
    uv_loop_t *loop;
    const char *host;
    int port;
    uint64_t connect_timeout_ms, backoff_min_ms, backoff_max_ms;
    l3_link_fn on_up, on_down;
    void *user;
} l3_link_opts;

struct l3_link {
    l3_link_opts o;
    redisAsyncContext *ac;   /* NULL while down */
    bool up;                 /* connected, commands may be sent */
    bool stopping;
    uint64_t backoff_ms;
    uv_timer_t timer;        /* connect timeout and reconnect delay */
    l3_link_fn on_closed;    /* after stop, once the timer handle is closed */
    void *closed_user;
};

void l3_link_start(l3_link *link, const l3_link_opts *opts);
/* Drops a connection that stopped answering; reconnects after backoff. */
void l3_link_drop(l3_link *link);
/* Closes for good; on_closed(link, user) runs from the loop afterwards. */
void l3_link_stop(l3_link *link, l3_link_fn on_closed, void *user);

/* ---- commands ---------------------------------------------------------------
 * RESP arrays of bulk strings, appended to a buffer by any thread and
 * handed to hiredis on the loop as they are. */
typedef struct l3_cmd_writer {
    mcp_buf *buf;
    size_t *ends;            /* end offset of each command */
    size_t count, cap;
    int rc;                  /* first error, sticky */
} l3_cmd_writer;

void l3_cmd_begin(l3_cmd_writer *w, int argc);
void l3_cmd_arg(l3_cmd_writer *w, const void *data, size_t len);
void l3_cmd_arg2(l3_cmd_writer *w, mcp_str a, mcp_str b); /* one argument: a then b */
void l3_cmd_arg_u64(l3_cmd_writer *w, uint64_t v);
void l3_cmd_end(l3_cmd_writer *w);

/* ---- the tier's loop ---------------------------------------------------------
 * l3_run_on_loop queues fn(l3, arg) for the loop thread (or runs it now
 * when called there); returns MCP_ECLOSED once the tier is closing. */
typedef void (*l3_loop_fn)(mcp_cache_l3 *l3, void *arg);
int l3_run_on_loop(mcp_cache_l3 *l3, l3_loop_fn fn, void *arg);
bool l3_on_loop_thread(const mcp_cache_l3 *l3);
void l3_link_defaults(const mcp_cache_l3 *l3, l3_link_opts *opts);
/* PUBLISH channel message on the command connection; done(user, rc) runs
 * on the loop thread, or never when this returns an error. */
int l3_publish(mcp_cache_l3 *l3, mcp_str channel, mcp_str message, void (*done)(void *user, int rc), void *user);

#endif
