/*
 * WebSocket on the worker loops: sockets, TLS, writes, timers and drain
 * around the sans-I/O mcp_ws_conn.
 *
 * The rules of tcp.c and http_tcp.c hold here too: a read is handled whole
 * and what it produced leaves in one uv_write; two output buffers swap so
 * at most one write is in flight; a peer that does not read is paused and,
 * after stall_timeout_ms, evicted; quiet connections close after
 * idle_timeout_ms (a running tool call is not quiet).
 *
 * Endings. The peer's EOF or an error closes at once (the session goes to
 * the reaper, which cancels what still runs). A finished WebSocket (close
 * handshake done, handshake refused, fatal fault) sends its last bytes,
 * then FIN, then discards input until the peer's FIN. Draining waits for
 * in-flight calls, then starts the close handshake with 1001; a peer that
 * does not answer our close within the linger time is cut.
 */
#include "net/stream_conn.h"
#include "net/tls.h"
#include "net/ws.h"

#include <stdlib.h>
#include <string.h>

#define MCP_WS_TCP_KEEP_BYTES (256 * 1024)
#define MCP_WS_LINGER_MS 2000u

typedef struct ws_tcp_conn {
    uv_tcp_t tcp;
    mcp_net_worker *worker;
    struct ws_tcp_conn *prev, *next;
    mcp_ws_conn *conn;
    mcp_tls_conn *tls;          /* NULL: plaintext */
    mcp_buf wbuf;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    mcp_net_note *release;
    uint64_t full_since_ms;
    uint64_t last_io_ms;
    uint64_t close_sent_ms;     /* our close frame left; 0 if not yet */
    bool writing, reading, retired, released, shutting, lingering, closing, closed, draining, notified;
} ws_tcp_conn;

typedef struct ws_state {
    mcp_ws_server *ws;
    ws_tcp_conn **conns; /* per worker */
} ws_state;

static ws_state *state_of(mcp_net_worker *worker) { return mcp_net_transport_state(worker->net); }
static const mcp_net_limits *limits_of(ws_tcp_conn *c) { return mcp_net_limits_of(c->worker->net); }

static void conn_close(ws_tcp_conn *c);
static void conn_flush(ws_tcp_conn *c);
static void conn_check(ws_tcp_conn *c);

/* ---- Lifecycle ------------------------------------------------------------------ */
static void conn_free(ws_tcp_conn *c) {
    mcp_net_worker *worker = c->worker;
    ws_state *st = state_of(worker);
    if (c->prev) c->prev->next = c->next;
    else st->conns[worker->index] = c->next;
    if (c->next) c->next->prev = c->prev;
    worker->conn_count--;
    mcp_ws_conn_free(c->conn);
    mcp_tls_conn_free(c->tls);
    mcp_buf_free(&c->wbuf);
    free(c->release);
    free(c);
    mcp_net_worker_maybe_finish(worker);
}

static void conn_retire(ws_tcp_conn *c) {
    if (c->retired) return;
    c->retired = true;
    c->release->session = mcp_ws_conn_detach(c->conn);
    mcp_net_reap(c->worker->net, c->release);
}

static void on_closed(uv_handle_t *handle) {
    ws_tcp_conn *c = handle->data;
    c->closed = true;
    if (c->released) conn_free(c);
}

static void conn_close(ws_tcp_conn *c) {
    if (c->closing) return;
    c->closing = true;
    c->reading = false;
    mcp_net_count(&c->worker->counters.closed, 1);
    mcp_net_conn_release(c->worker->net);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    conn_retire(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    ws_tcp_conn *c = handle->data;
    (void)suggested;
    /* One buffer per loop: wslay copies what it keeps, and a read is
     * handled whole before the next. */
    buf->base = c->worker->read_buf;
    buf->len = c->worker->read_buf_size;
}

static void read_start(ws_tcp_conn *c) {
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void read_stop(ws_tcp_conn *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    ws_tcp_conn *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    c->last_io_ms = uv_now(&c->worker->loop);
    read_start(c);
}

static bool output_waiting(ws_tcp_conn *c) {
    return mcp_ws_conn_out(c->conn)->len || (c->tls && mcp_tls_conn_pending(c->tls));
}

/* The connection has said its last word: close_notify, then FIN once all
 * is written. */
static void conn_finish(ws_tcp_conn *c) {
    if (c->closing || c->shutting) return;
    conn_retire(c);
    if (c->tls && !c->notified) {
        c->notified = true;
        mcp_tls_conn_close_notify(c->tls);
        conn_flush(c);
    }
    if (c->writing || output_waiting(c)) return; /* on_write comes back here */
    c->shutting = true;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown)) conn_close(c);
}

/* ---- Output ------------------------------------------------------------------------ */
static size_t queued_bytes(ws_tcp_conn *c) { return mcp_ws_conn_out(c->conn)->len + c->wbuf.len; }

static void conn_check(ws_tcp_conn *c) {
    if (c->closing || c->lingering || c->shutting) return;
    if (!c->close_sent_ms && mcp_ws_conn_close_sent(c->conn)) {
        uint64_t now = uv_now(&c->worker->loop);
        c->close_sent_ms = now ? now : 1;
    }
    if (mcp_ws_conn_should_close(c->conn)) {
        read_stop(c);
        conn_finish(c);
        return;
    }
    bool full = queued_bytes(c) > limits_of(c)->max_output_queue;
    if (full && !c->full_since_ms) {
        uint64_t now = uv_now(&c->worker->loop);
        c->full_since_ms = now ? now : 1;
        mcp_net_count(&c->worker->counters.read_paused, 1);
    }
    if (!full) c->full_since_ms = 0;
    if (full && c->reading) read_stop(c);
    else if (!full && !c->reading) read_start(c);
}

/* wbuf has gone out. */
static void wrote(ws_tcp_conn *c) {
    mcp_net_count(&c->worker->counters.bytes_out, c->wbuf.len);
    if (c->wbuf.cap > MCP_WS_TCP_KEEP_BYTES) mcp_buf_free(&c->wbuf);
    else mcp_buf_reset(&c->wbuf);
    c->last_io_ms = uv_now(&c->worker->loop);
}

static void on_write(uv_write_t *req, int status) {
    ws_tcp_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        conn_close(c);
        return;
    }
    wrote(c);
    conn_flush(c);
    if (c->retired && !c->closing) conn_finish(c);
    else conn_check(c);
}

static void conn_flush(ws_tcp_conn *c) {
    if (c->writing || c->closing || !output_waiting(c)) return;
    mcp_buf *out = mcp_ws_conn_out(c->conn);
    if (c->tls) {
        /* wbuf is empty while no write is in flight: seal into it. */
        int rc = mcp_tls_conn_seal(c->tls, out->data, out->len, &c->wbuf);
        mcp_buf_reset(out);
        if (rc) {
            conn_close(c);
            return;
        }
    } else {
        mcp_buf swap = c->wbuf;
        c->wbuf = *out;
        *out = swap;
    }
    if (!c->wbuf.len) return;
    mcp_net_count(&c->worker->counters.writes, 1);
    int rc = mcp_stream_write((uv_stream_t *)&c->tcp, &c->write_req, c->wbuf.data, c->wbuf.len, on_write);
    if (rc < 0) conn_close(c);
    else if (rc == MCP_STREAM_QUEUED) c->writing = true;
    else wrote(c);
}

/* io.flush: output appeared outside a read (an asynchronous reply). */
static void io_flush(void *user) {
    ws_tcp_conn *c = user;
    conn_flush(c);
    conn_check(c);
}

/* ---- Input --------------------------------------------------------------------------- */
static void conn_input(ws_tcp_conn *c, const char *data, size_t len) {
    if (!c->tls) {
        mcp_ws_conn_feed(c->conn, data, len);
        return;
    }
    mcp_str plain;
    int rc = mcp_tls_conn_feed(c->tls, data, len, &plain);
    if (mcp_tls_conn_just_established(c->tls)) mcp_net_count(&c->worker->counters.tls_handshakes, 1);
    if (plain.len) mcp_ws_conn_feed(c->conn, plain.ptr, plain.len);
    if (rc == MCP_EIO) {
        if (!mcp_tls_conn_established(c->tls)) mcp_net_count(&c->worker->counters.tls_failed, 1);
        conn_flush(c); /* the alert, if any, is worth a try */
        conn_close(c);
    } else if (rc == MCP_ECLOSED) {
        conn_close(c); /* close_notify: the peer sends nothing more, as at EOF */
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    ws_tcp_conn *c = stream->data;
    if (nread > 0) {
        c->last_io_ms = uv_now(&c->worker->loop);
        if (c->lingering || c->shutting || c->retired) return; /* after our last word, input is dropped */
        mcp_net_count(&c->worker->counters.reads, 1);
        mcp_net_count(&c->worker->counters.bytes_in, (uint64_t)nread);
        conn_input(c, buf->base, (size_t)nread);
        if (c->closing) return;
        conn_flush(c);
        conn_check(c);
    } else if (nread < 0) {
        conn_close(c);
    }
}

/* ---- Accept -------------------------------------------------------------------------------- */
static void on_refused_closed(uv_handle_t *handle) { free(handle); }

static void ws_on_connection(uv_stream_t *listener, int status) {
    mcp_net_worker *worker = listener->data;
    if (status < 0) {
        mcp_log(MCP_LOG_WARNING, "ws accept: %s", uv_strerror(status));
        return;
    }
    ws_tcp_conn *c = calloc(1, sizeof *c);
    mcp_net_note *release = calloc(1, sizeof *release);
    uv_tcp_t *tcp = c ? &c->tcp : malloc(sizeof *tcp);
    if (!tcp || uv_tcp_init(&worker->loop, tcp)) {
        free(c);
        free(release);
        if (!c) free(tcp);
        return;
    }
    tcp->data = c;
    mcp_tls_ctx *tls = mcp_net_tls(worker->net);
    if (uv_accept(listener, (uv_stream_t *)tcp) || !c || !release || !mcp_net_conn_admit(worker->net)) {
        if (c && release && !tls) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            uv_buf_t chunk = uv_buf_init((char *)busy, sizeof busy - 1);
            uv_try_write((uv_stream_t *)tcp, &chunk, 1);
        }
        mcp_net_count(&worker->counters.refused, 1);
        free(release);
        uv_close((uv_handle_t *)tcp, on_refused_closed); /* c starts with its uv_tcp_t */
        return;
    }
    ws_state *st = state_of(worker);
    mcp_ws_conn_io io = {.flush = io_flush, .user = c, .worker = worker};
    c->conn = mcp_ws_conn_new(st->ws, &io, &worker->counters);
    c->tls = tls ? mcp_tls_conn_new(tls) : NULL;
    if (!c->conn || (tls && !c->tls)) {
        mcp_ws_conn_free(c->conn);
        mcp_tls_conn_free(c->tls);
        mcp_net_conn_release(worker->net);
        mcp_net_count(&worker->counters.refused, 1);
        free(release);
        uv_close((uv_handle_t *)tcp, on_refused_closed);
        return;
    }
    mcp_net_count(&worker->counters.accepted, 1);
    c->worker = worker;
    c->write_req.data = c;
    c->shutdown_req.data = c;
    c->release = release;
    release->kind = MCP_NET_NOTE_RELEASED;
    release->worker = worker;
    release->target = c;
    c->last_io_ms = uv_now(&worker->loop);
    c->next = st->conns[worker->index];
    if (c->next) c->next->prev = c;
    st->conns[worker->index] = c;
    worker->conn_count++;
    uv_tcp_nodelay(tcp, 1);
    read_start(c);
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
        /* The note belongs to c. Still open means FIN was sent and we wait
         * for the peer's (lingering), which closes it. */
        c->released = true;
        if (c->closed) conn_free(c);
        return;
    }
    free(note);
}

/* Draining: once no call is running, say goodbye with 1001. */
static void conn_drain_step(ws_tcp_conn *c) {
    if (c->closing || c->shutting || c->retired) return;
    if (!mcp_ws_conn_upgraded(c->conn)) {
        conn_finish(c);
        return;
    }
    if (mcp_ws_conn_pending(c->conn) > 0) return;
    mcp_ws_conn_close(c->conn, 1001, "server shutting down");
    conn_flush(c);
    conn_check(c);
}

static void ws_sweep(mcp_net_worker *worker, uint64_t now_ms) {
    ws_state *st = state_of(worker);
    const mcp_net_limits *limits = mcp_net_limits_of(worker->net);
    uint64_t linger = limits->idle_timeout_ms < MCP_WS_LINGER_MS ? limits->idle_timeout_ms : MCP_WS_LINGER_MS;
    for (ws_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        if (c->closing) continue;
        if (c->lingering || c->retired) {
            if (now_ms - c->last_io_ms >= linger) conn_close(c);
            continue;
        }
        if (c->full_since_ms && now_ms - c->full_since_ms >= limits->stall_timeout_ms) {
            mcp_net_count(&worker->counters.slow_evicted, 1);
            conn_close(c);
            continue;
        }
        if (c->close_sent_ms && now_ms - c->close_sent_ms >= linger) {
            conn_close(c); /* our close frame went unanswered */
            continue;
        }
        if (c->draining) {
            conn_drain_step(c);
            continue;
        }
        if (!c->full_since_ms && now_ms - c->last_io_ms >= limits->idle_timeout_ms &&
            mcp_ws_conn_pending(c->conn) == 0) {
            mcp_net_count(&worker->counters.idle_closed, 1);
            conn_close(c);
        }
    }
}

static void ws_drain(mcp_net_worker *worker) {
    ws_state *st = state_of(worker);
    for (ws_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        c->draining = true;
        conn_drain_step(c);
    }
}

static void ws_drain_force(mcp_net_worker *worker) {
    ws_state *st = state_of(worker);
    for (ws_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        if (c->closing) continue;
        mcp_net_count(&worker->counters.drain_forced, 1);
        conn_close(c);
    }
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
