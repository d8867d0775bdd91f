/*
 * Streamable HTTP on the worker loops: the sans-I/O mcp_http_conn on an
 * mcp_stream_conn (net/stream_conn.h: accept, reads, TLS, the one write
 * per read, FIN and close), plus what is HTTP's own: pausing, notes,
 * timers and drain. A peer that does not read its responses stops being
 * read from and is evicted after stall_timeout_ms; idle connections close
 * after idle_timeout_ms.
 *
 * A connection whose peer is gone is detached at once: its modern-era
 * requests are cancelled (closing a response stream is cancellation in
 * 2026-07-28) by freeing its session on the reaper thread, and the
 * connection itself is freed when the reaper reports back. That round trip
 * also orders things: every note posted for the connection before it was
 * detached sits ahead of the RELEASED note in the worker's inbox.
 *
 * Closing after a final answer (an error, Connection: close, drain) sends
 * FIN, then reads and discards until the peer's FIN, so that unread input
 * (a rejected body) cannot turn our close into a reset that destroys the
 * answer.
 *
 * With TLS (net/tls.h) reads are decrypted before the HTTP layer sees them,
 * output is sealed into wbuf, and close_notify precedes FIN.
 */
#include "net/http_internal.h"
#include "net/stream_conn.h"

#include <stdlib.h>
#include <string.h>

typedef struct http_tcp_conn {
    mcp_stream_conn s; /* first */
    mcp_http_conn *conn;
} http_tcp_conn;

typedef struct http_state {
    mcp_http_server *http;
    mcp_stream_conn **conns; /* per worker */
} http_state;

static http_state *state_of(mcp_net_worker *worker) { return mcp_net_transport_state(worker->net); }

mcp_http_server *mcp_net_http(const mcp_net *net) {
    http_state *st = mcp_net_transport_state(net);
    return st ? st->http : NULL;
}

/* ---- The stream's callbacks ---------------------------------------------------------- */
static void http_feed(mcp_stream_conn *s, const char *data, size_t len) {
    mcp_http_conn_feed(((http_tcp_conn *)s)->conn, data, len, s->last_io_ms);
}

/* Reading pauses for a full output queue or for too many queued requests;
 * a connection that said its last word finishes. */
static void http_check(mcp_stream_conn *s) {
    mcp_http_conn *conn = ((http_tcp_conn *)s)->conn;
    /* After FIN, reading is the finish's: it waits for the peer's FIN, and
     * a check that comes later (the batch write at the iteration's end)
     * must not stop it. */
    if (s->closing || s->lingering || s->shutting) return;
    if (mcp_http_conn_should_close(conn)) {
        mcp_stream_conn_read_stop(s);
        mcp_stream_conn_finish(s);
        return;
    }
    bool pause = mcp_stream_conn_full(s) || mcp_http_conn_wants_pause(conn);
    if (pause) mcp_stream_conn_read_stop(s);
    else mcp_stream_conn_read_start(s);
}

/* No more traffic: the modern requests are cancelled or orphaned and their
 * session freed off the loop. */
static mcp_session *http_detach(mcp_stream_conn *s) { return mcp_http_conn_detach(((http_tcp_conn *)s)->conn); }

static void http_free(mcp_stream_conn *s) { mcp_http_conn_free(((http_tcp_conn *)s)->conn); }

static const mcp_stream_ops HTTP_OPS = {
    .feed = http_feed, .check = http_check, .detach = http_detach, .free = http_free};

/* ---- Accept ------------------------------------------------------------------------------- */
static void http_on_connection(uv_stream_t *listener, int status) {
    mcp_net_worker *worker = listener->data;
    if (status < 0) {
        mcp_log(MCP_LOG_WARNING, "http accept: %s", uv_strerror(status));
        return;
    }
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    http_state *st = state_of(worker);
    mcp_stream_conn *s =
        mcp_stream_conn_accept(listener, sizeof(http_tcp_conn), &HTTP_OPS, &st->conns[worker->index], busy);
    if (!s) return;
    http_tcp_conn *c = (http_tcp_conn *)s;
    mcp_http_conn_io io = {.flush = mcp_stream_conn_io_flush, .user = s, .worker = worker};
    c->conn = mcp_http_conn_new(st->http, worker->index, &io);
    if (!c->conn) {
        mcp_stream_conn_abort(s);
        return;
    }
    s->release->len = MCP_HTTP_RELEASED_CONN;
    s->out = mcp_http_conn_out(c->conn);
    mcp_stream_conn_start(s);
}

/* ---- Notes, timers, drain ---------------------------------------------------------------------- */
/* Outside a read, an answer that completes an exchange can let a paused
 * connection go on with the pipelined requests it had put aside (and a
 * timeout can too): those are its peer's requests as well. */
static const mcp_transport_peer *peer_of(const mcp_http_conn *conn) {
    return conn && conn->io.user ? &((const mcp_stream_conn *)conn->io.user)->peer : NULL;
}

static void http_on_note(mcp_net_worker *worker, mcp_net_note *note) {
    switch ((int)note->kind) {
    case MCP_HTTP_NOTE_EXCHANGE: {
        mcp_http_exchange *x = note->target;
        const mcp_transport_peer *saved = mcp_transport_peer_swap(peer_of(x->conn));
        mcp_http_exchange_deliver(x, note->len ? note->data : NULL, note->len);
        mcp_transport_peer_swap(saved);
        mcp_http_exchange_unref(x);
        free(note);
        return;
    }
    case MCP_HTTP_NOTE_CONN: {
        const mcp_transport_peer *saved = mcp_transport_peer_swap(peer_of(note->target));
        mcp_http_conn_on_note(note->target, note->data, note->len);
        mcp_transport_peer_swap(saved);
        free(note);
        return;
    }
    case MCP_NET_NOTE_RELEASED:
        if (note->len == MCP_HTTP_RELEASED_SESSION) {
            mcp_http_session_destroy(note->target);
            free(note);
            worker->conn_count--;
            mcp_net_worker_maybe_finish(worker);
            return;
        }
        mcp_stream_conn_released(note->target); /* the note belongs to the connection */
        return;
    default:
        free(note);
        return;
    }
}

static void http_sweep(mcp_net_worker *worker, uint64_t now_ms) {
    http_state *st = state_of(worker);
    const mcp_net_limits *limits = mcp_net_limits_of(worker->net);
    for (mcp_stream_conn *s = st->conns[worker->index], *next; s; s = next) {
        next = s->next;
        if (s->closing) continue;
        if (s->lingering) {
            if (now_ms - s->last_io_ms >= mcp_stream_conn_linger_ms(limits)) mcp_stream_conn_close(s);
            continue;
        }
        if (s->full_since_ms && now_ms - s->full_since_ms >= limits->stall_timeout_ms) {
            mcp_net_count(&worker->counters.slow_evicted, 1);
            mcp_stream_conn_close(s);
            continue;
        }
        if (s->shutting) continue;
        const mcp_transport_peer *saved = mcp_transport_peer_swap(&s->peer);
        mcp_http_conn_tick(((http_tcp_conn *)s)->conn, now_ms);
        mcp_transport_peer_swap(saved);
        mcp_stream_conn_flush(s);
        http_check(s);
    }
}

static void http_drain(mcp_net_worker *worker) {
    http_state *st = state_of(worker);
    for (mcp_stream_conn *s = st->conns[worker->index], *next; s; s = next) {
        next = s->next;
        if (s->closing || s->shutting) continue;
        mcp_http_conn_drain(((http_tcp_conn *)s)->conn);
        mcp_stream_conn_flush(s);
        http_check(s);
    }
}

static void http_drain_force(mcp_net_worker *worker) {
    mcp_stream_conn_close_all(state_of(worker)->conns[worker->index]);
}

static int http_state_new(void **out, mcp_net *net, mcp_server *server, const mcp_listen *listen,
                          const mcp_net_limits *limits, unsigned workers) {
    http_state *st = calloc(1, sizeof *st);
    if (!st) return MCP_ENOMEM;
    st->conns = calloc(workers, sizeof *st->conns);
    int rc = st->conns ? mcp_http_server_new(&st->http, server, listen, limits, workers) : MCP_ENOMEM;
    if (rc) {
        free(st->conns);
        free(st);
        return rc;
    }
    st->http->net = net;
    *out = st;
    return MCP_OK;
}

static void http_state_free(void *state) {
    http_state *st = state;
    if (!st) return;
    mcp_http_server_free(st->http);
    free(st->conns);
    free(st);
}

const mcp_net_transport mcp_http_transport = {
    .name = "http",
    .state_new = http_state_new,
    .state_free = http_state_free,
    .on_connection = http_on_connection,
    .on_note = http_on_note,
    .sweep = http_sweep,
    .drain = http_drain,
    .drain_force = http_drain_force,
};
