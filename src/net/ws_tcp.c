/*
 * WebSocket on the worker loops: the sans-I/O mcp_ws_conn on an
 * mcp_stream_conn (net/stream_conn.h: accept, reads, TLS, the one write
 * per read, FIN and close), plus what is WebSocket's own: pausing, the
 * close handshake's timing, notes, timers and drain. A peer that does not
 * read is paused and, after stall_timeout_ms, evicted; quiet connections
 * close after idle_timeout_ms (a running tool call is not quiet).
 *
 * Endings. The peer's EOF or an error closes at once (the session goes to
 * the reaper, which cancels what still runs). A finished WebSocket (close
 * handshake done, handshake refused, fatal fault) sends its last bytes,
 * then FIN, then discards input until the peer's FIN. Draining waits for
 * in-flight calls, then starts the close handshake with 1001; a peer that
 * does not answer our close within the linger time is cut.
 */
#include "net/stream_conn.h"
#include "net/ws.h"

#include <stdlib.h>
#include <string.h>

typedef struct ws_tcp_conn {
    mcp_stream_conn s; /* first */
    mcp_ws_conn *conn;
    uint64_t close_sent_ms; /* our close frame left; 0 if not yet */
    bool draining;
} ws_tcp_conn;

typedef struct ws_state {
    mcp_ws_server *ws;
    mcp_stream_conn **conns; /* per worker */
} ws_state;

static ws_state *state_of(mcp_net_worker *worker) { return mcp_net_transport_state(worker->net); }

/* ---- The stream's callbacks ---------------------------------------------------------- */
static void ws_feed(mcp_stream_conn *s, const char *data, size_t len) {
    mcp_ws_conn_feed(((ws_tcp_conn *)s)->conn, data, len);
}

/* The last word is said: no more input or session, then FIN once written. */
static void ws_finish(mcp_stream_conn *s) {
    mcp_stream_conn_retire(s);
    mcp_stream_conn_finish(s);
}

static void ws_check(mcp_stream_conn *s) {
    ws_tcp_conn *c = (ws_tcp_conn *)s;
    if (s->closing) return;
    if (s->retired) {
        mcp_stream_conn_finish(s); /* after a write that was holding FIN back */
        return;
    }
    if (s->lingering || s->shutting) return;
    if (!c->close_sent_ms && mcp_ws_conn_close_sent(c->conn)) {
        uint64_t now = uv_now(&s->worker->loop);
        c->close_sent_ms = now ? now : 1;
    }
    if (mcp_ws_conn_should_close(c->conn)) {
        mcp_stream_conn_read_stop(s);
        ws_finish(s);
        return;
    }
    if (mcp_stream_conn_full(s)) mcp_stream_conn_read_stop(s);
    else mcp_stream_conn_read_start(s);
}

static mcp_session *ws_detach(mcp_stream_conn *s) { return mcp_ws_conn_detach(((ws_tcp_conn *)s)->conn); }

static void ws_free(mcp_stream_conn *s) { mcp_ws_conn_free(((ws_tcp_conn *)s)->conn); }

static const mcp_stream_ops WS_OPS = {
    .feed = ws_feed, .check = ws_check, .detach = ws_detach, .free = ws_free, .write_after_reads = true};

/* ---- Accept -------------------------------------------------------------------------------- */
static void ws_on_connection(uv_stream_t *listener, int status) {
    mcp_net_worker *worker = listener->data;
    if (status < 0) {
        mcp_log(MCP_LOG_WARNING, "ws accept: %s", uv_strerror(status));
        return;
    }
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ws_state *st = state_of(worker);
    mcp_stream_conn *s = mcp_stream_conn_accept(listener, sizeof(ws_tcp_conn), &WS_OPS, &st->conns[worker->index], busy);
    if (!s) return;
    ws_tcp_conn *c = (ws_tcp_conn *)s;
    mcp_ws_conn_io io = {.flush = mcp_stream_conn_io_flush, .user = s, .worker = worker};
    c->conn = mcp_ws_conn_new(st->ws, &io, &worker->counters);
    if (!c->conn) {
        mcp_stream_conn_abort(s);
        return;
    }
    s->out = mcp_ws_conn_out(c->conn);
    mcp_stream_conn_start(s);
}

/* ---- Notes, timers, drain -------------------------------------------------------------------- */
static void ws_on_note(mcp_net_worker *worker, mcp_net_note *note) {
    (void)worker;
    ws_tcp_conn *c = note->target;
    if ((int)note->kind == MCP_WS_NOTE_OUTPUT) {
        mcp_ws_conn_deliver(c->conn, note->data, note->len);
        free(note);
        return;
    }
    if (note->kind == MCP_NET_NOTE_RELEASED) {
        mcp_stream_conn_released(&c->s); /* the note belongs to the connection */
        return;
    }
    free(note);
}

/* Draining: once no call is running, say goodbye with 1001. */
static void conn_drain_step(ws_tcp_conn *c) {
    mcp_stream_conn *s = &c->s;
    if (s->closing || s->shutting || s->retired) return;
    if (!mcp_ws_conn_upgraded(c->conn)) {
        ws_finish(s);
        return;
    }
    if (mcp_ws_conn_pending(c->conn) > 0) return;
    mcp_ws_conn_close(c->conn, 1001, "server shutting down");
    mcp_stream_conn_flush(s);
    ws_check(s);
}

static void ws_sweep(mcp_net_worker *worker, uint64_t now_ms) {
    ws_state *st = state_of(worker);
    const mcp_net_limits *limits = mcp_net_limits_of(worker->net);
    uint64_t linger = mcp_stream_conn_linger_ms(limits);
    for (mcp_stream_conn *s = st->conns[worker->index], *next; s; s = next) {
        next = s->next;
        ws_tcp_conn *c = (ws_tcp_conn *)s;
        if (s->closing) continue;
        if (s->lingering || s->retired) {
            if (now_ms - s->last_io_ms >= linger) mcp_stream_conn_close(s);
            continue;
        }
        if (s->full_since_ms && now_ms - s->full_since_ms >= limits->stall_timeout_ms) {
            mcp_net_count(&worker->counters.slow_evicted, 1);
            mcp_stream_conn_close(s);
            continue;
        }
        if (c->close_sent_ms && now_ms - c->close_sent_ms >= linger) {
            mcp_stream_conn_close(s); /* our close frame went unanswered */
            continue;
        }
        if (c->draining) {
            conn_drain_step(c);
            continue;
        }
        if (!s->full_since_ms && now_ms - s->last_io_ms >= limits->idle_timeout_ms &&
            mcp_ws_conn_pending(c->conn) == 0) {
            mcp_net_count(&worker->counters.idle_closed, 1);
            mcp_stream_conn_close(s);
        }
    }
}

static void ws_drain(mcp_net_worker *worker) {
    ws_state *st = state_of(worker);
    for (mcp_stream_conn *s = st->conns[worker->index], *next; s; s = next) {
        next = s->next;
        ((ws_tcp_conn *)s)->draining = true;
        conn_drain_step((ws_tcp_conn *)s);
    }
}

static void ws_drain_force(mcp_net_worker *worker) {
    mcp_stream_conn_close_all(state_of(worker)->conns[worker->index]);
}

static int ws_state_new(void **out, mcp_net *net, mcp_server *server, const mcp_listen *listen,
                        const mcp_net_limits *limits, unsigned workers) {
    (void)net;
    ws_state *st = calloc(1, sizeof *st);
    if (!st) return MCP_ENOMEM;
    st->conns = calloc(workers, sizeof *st->conns);
    int rc = st->conns ? mcp_ws_server_new(&st->ws, server, listen, limits) : MCP_ENOMEM;
    if (rc) {
        free(st->conns);
        free(st);
        return rc;
    }
    *out = st;
    return MCP_OK;
}

static void ws_state_free(void *state) {
    ws_state *st = state;
    if (!st) return;
    mcp_ws_server_free(st->ws);
    free(st->conns);
    free(st);
}

const mcp_net_transport mcp_ws_transport = {
    .name = "ws",
    .state_new = ws_state_new,
    .state_free = ws_state_free,
    .on_connection = ws_on_connection,
    .on_note = ws_on_note,
    .sweep = ws_sweep,
    .drain = ws_drain,
    .drain_force = ws_drain_force,
};
