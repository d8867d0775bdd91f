/*
 * Streamable HTTP on the worker loops: sockets, writes, timers and drain
 * around the sans-I/O mcp_http_conn.
 *
 * Same rules as the NDJSON connections of tcp.c: a read is handled whole
 * and everything it produced leaves in one uv_write; two output buffers
 * swap so that at most one write is in flight and memory is reused; a peer
 * that does not read its responses stops being read from and is evicted
 * after stall_timeout_ms; idle connections close after idle_timeout_ms.
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
#include "net/tls.h"

#include <stdlib.h>
#include <string.h>

#define MCP_HTTP_KEEP_BYTES (256 * 1024)
#define MCP_HTTP_LINGER_MS 2000u

typedef struct http_tcp_conn {
    uv_tcp_t tcp;
    mcp_net_worker *worker;
    struct http_tcp_conn *prev, *next;
    mcp_http_conn *conn;
    mcp_buf wbuf;
    mcp_tls_conn *tls; /* NULL: plaintext */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    mcp_net_note *release;
    uint64_t full_since_ms;
    uint64_t last_io_ms;
    bool writing, reading, paused, retired, released, shutting, lingering, closing, closed, notified;
} http_tcp_conn;

typedef struct http_state {
    mcp_http_server *http;
    http_tcp_conn **conns; /* per worker */
} http_state;

static http_state *state_of(mcp_net_worker *worker) { return mcp_net_transport_state(worker->net); }

mcp_http_server *mcp_net_http(const mcp_net *net) {
    http_state *st = mcp_net_transport_state(net);
    return st ? st->http : NULL;
}

static void conn_close(http_tcp_conn *c);
static void conn_flush(http_tcp_conn *c);

static const mcp_net_limits *limits_of(http_tcp_conn *c) { return mcp_net_limits_of(c->worker->net); }

/* ---- Lifecycle ------------------------------------------------------------------ */
static void conn_free(http_tcp_conn *c) {
    mcp_net_worker *worker = c->worker;
    http_state *st = state_of(worker);
    if (c->prev) c->prev->next = c->next;
    else st->conns[worker->index] = c->next;
    if (c->next) c->next->prev = c->prev;
    worker->conn_count--;
    mcp_http_conn_free(c->conn);
    mcp_tls_conn_free(c->tls);
    mcp_buf_free(&c->wbuf);
    free(c->release);
    free(c);
    mcp_net_worker_maybe_finish(worker);
}

/* No more traffic: cancel or orphan the requests, free the modern session
 * off the loop. */
static void conn_retire(http_tcp_conn *c) {
    if (c->retired) return;
    c->retired = true;
    c->release->session = mcp_http_conn_detach(c->conn);
    mcp_net_reap(c->worker->net, c->release);
}

static void on_closed(uv_handle_t *handle) {
    http_tcp_conn *c = handle->data;
    c->closed = true;
    if (c->released) conn_free(c);
}

static void conn_close(http_tcp_conn *c) {
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
    http_tcp_conn *c = handle->data;
    (void)suggested;
    /* One buffer per loop: a read is handled whole (what must outlive it
     * is copied by the parser) before the next one. */
    buf->base = c->worker->read_buf;
    buf->len = c->worker->read_buf_size;
}

static void read_start(http_tcp_conn *c) {
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void read_stop(http_tcp_conn *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    http_tcp_conn *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    c->last_io_ms = uv_now(&c->worker->loop);
    read_start(c);
}

/* The connection has said its last word: FIN once it is written. */
static void conn_finish(http_tcp_conn *c) {
    if (c->closing || c->shutting || c->writing || mcp_http_conn_out(c->conn)->len) return;
    if (c->tls && !c->notified) {
        c->notified = true;
        mcp_tls_conn_close_notify(c->tls);
        conn_flush(c); /* on_write comes back through conn_check */
        if (c->writing || c->closing) return;
    }
    c->shutting = true;
    conn_retire(c);
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown)) conn_close(c);
}

/* ---- Output --------------------------------------------------------------------------- */
static size_t queued_bytes(http_tcp_conn *c) { return mcp_http_conn_out(c->conn)->len + c->wbuf.len; }

/* Reading pauses for a full output queue or for too many queued requests. */
static void conn_check(http_tcp_conn *c) {
    if (c->closing) return;
    if (mcp_http_conn_should_close(c->conn)) {
        read_stop(c);
        conn_finish(c);
        return;
    }
    if (c->lingering || c->shutting) return;
    bool full = queued_bytes(c) > limits_of(c)->max_output_queue;
    if (full && !c->full_since_ms) {
        uint64_t now = uv_now(&c->worker->loop);
        c->full_since_ms = now ? now : 1;
        mcp_net_count(&c->worker->counters.read_paused, 1);
    }
    if (!full) c->full_since_ms = 0;
    bool pause = full || mcp_http_conn_wants_pause(c->conn);
    if (pause && c->reading) read_stop(c);
    else if (!pause && !c->reading) read_start(c);
}

/* wbuf has gone out. */
static void wrote(http_tcp_conn *c) {
    mcp_net_count(&c->worker->counters.bytes_out, c->wbuf.len);
    if (c->wbuf.cap > MCP_HTTP_KEEP_BYTES) mcp_buf_free(&c->wbuf);
    else mcp_buf_reset(&c->wbuf);
    c->last_io_ms = uv_now(&c->worker->loop);
}

static void on_write(uv_write_t *req, int status) {
    http_tcp_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        conn_close(c);
        return;
    }
    wrote(c);
    conn_flush(c);
    conn_check(c);
}

static void conn_flush(http_tcp_conn *c) {
    mcp_buf *out = mcp_http_conn_out(c->conn);
    if (c->writing || c->closing) return;
    if (c->tls) {
        if (!out->len && !mcp_tls_conn_pending(c->tls)) return;
        /* wbuf is empty while no write is in flight: seal into it. */
        int rc = mcp_tls_conn_seal(c->tls, out->data, out->len, &c->wbuf);
        mcp_buf_reset(out);
        if (rc) {
            conn_close(c);
            return;
        }
        if (!c->wbuf.len) return;
    } else {
        if (!out->len) return;
        mcp_buf swap = c->wbuf;
        c->wbuf = *out;
        *out = swap;
    }
    mcp_net_count(&c->worker->counters.writes, 1);
    int rc = mcp_stream_write((uv_stream_t *)&c->tcp, &c->write_req, c->wbuf.data, c->wbuf.len, on_write);
    if (rc < 0) conn_close(c);
    else if (rc == MCP_STREAM_QUEUED) c->writing = true;
    else wrote(c);
}

/* io.flush: output appeared outside a read (an asynchronous reply). */
static void io_flush(void *user) {
    http_tcp_conn *c = user;
    conn_flush(c);
    conn_check(c);
}

/* ---- Input ------------------------------------------------------------------------------- */
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    http_tcp_conn *c = stream->data;
    if (nread > 0) {
        c->last_io_ms = uv_now(&c->worker->loop);
        if (c->lingering || c->shutting) return; /* after our last word, input is dropped */
        mcp_net_count(&c->worker->counters.reads, 1);
        mcp_net_count(&c->worker->counters.bytes_in, (uint64_t)nread);
        if (c->tls) {
            mcp_str plain;
            int rc = mcp_tls_conn_feed(c->tls, buf->base, (size_t)nread, &plain);
            if (mcp_tls_conn_just_established(c->tls)) mcp_net_count(&c->worker->counters.tls_handshakes, 1);
            if (plain.len) mcp_http_conn_feed(c->conn, plain.ptr, plain.len, c->last_io_ms);
            if (rc) {
                /* A failed handshake or record, or close_notify: either
                 * way the peer sends nothing more we can use. */
                if (rc == MCP_EIO && !mcp_tls_conn_established(c->tls))
                    mcp_net_count(&c->worker->counters.tls_failed, 1);
                conn_close(c);
                return;
            }
        } else {
            mcp_http_conn_feed(c->conn, buf->base, (size_t)nread, c->last_io_ms);
        }
        conn_flush(c);
        conn_check(c);
    } else if (nread < 0) {
        /* EOF or error: the peer has closed its response streams. */
        conn_close(c);
    }
}

/* ---- Accept ------------------------------------------------------------------------------- */
static void on_refused_closed(uv_handle_t *handle) { free(handle); }

static void http_on_connection(uv_stream_t *listener, int status) {
    mcp_net_worker *worker = listener->data;
    if (status < 0) {
        mcp_log(MCP_LOG_WARNING, "http accept: %s", uv_strerror(status));
        return;
    }
    http_tcp_conn *c = calloc(1, sizeof *c);
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
    http_state *st = state_of(worker);
    mcp_http_conn_io io = {.flush = io_flush, .user = c, .worker = worker};
    c->conn = mcp_http_conn_new(st->http, worker->index, &io);
    c->tls = tls ? mcp_tls_conn_new(tls) : NULL;
    if (!c->conn || (tls && !c->tls)) {
        if (c->conn) {
            mcp_session *modern = mcp_http_conn_detach(c->conn);
            if (modern) mcp_session_free(modern);
            mcp_http_conn_free(c->conn);
        }
        mcp_tls_conn_free(c->tls);
        mcp_net_conn_release(worker->net);
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
    release->len = MCP_HTTP_RELEASED_CONN;
    c->last_io_ms = uv_now(&worker->loop);
    c->next = st->conns[worker->index];
    if (c->next) c->next->prev = c;
    st->conns[worker->index] = c;
    worker->conn_count++;
    uv_tcp_nodelay(tcp, 1);
    read_start(c);
}

/* ---- Notes, timers, drain ---------------------------------------------------------------------- */
static void http_on_note(mcp_net_worker *worker, mcp_net_note *note) {
    switch ((int)note->kind) {
    case MCP_HTTP_NOTE_EXCHANGE: {
        mcp_http_exchange *x = note->target;
        mcp_http_exchange_deliver(x, note->len ? note->data : NULL, note->len);
        mcp_http_exchange_unref(x);
        free(note);
        return;
    }
    case MCP_HTTP_NOTE_CONN:
        mcp_http_conn_on_note(note->target, note->data, note->len);
        free(note);
        return;
    case MCP_NET_NOTE_RELEASED:
        if (note->len == MCP_HTTP_RELEASED_SESSION) {
            mcp_http_session_destroy(note->target);
            free(note);
            worker->conn_count--;
            mcp_net_worker_maybe_finish(worker);
            return;
        }
        {
            /* The note belongs to c. Still open means FIN was sent and we
             * wait for the peer's (lingering), which closes it. */
            http_tcp_conn *c = note->target;
            c->released = true;
            if (c->closed) conn_free(c);
        }
        return;
    default:
        free(note);
        return;
    }
}

static void http_sweep(mcp_net_worker *worker, uint64_t now_ms) {
    http_state *st = state_of(worker);
    const mcp_net_limits *limits = mcp_net_limits_of(worker->net);
    for (http_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        if (c->closing) continue;
        if (c->lingering) {
            uint64_t linger = limits->idle_timeout_ms < MCP_HTTP_LINGER_MS ? limits->idle_timeout_ms : MCP_HTTP_LINGER_MS;
            if (now_ms - c->last_io_ms >= linger) conn_close(c);
            continue;
        }
        if (c->full_since_ms && now_ms - c->full_since_ms >= limits->stall_timeout_ms) {
            mcp_net_count(&worker->counters.slow_evicted, 1);
            conn_close(c);
            continue;
        }
        if (c->shutting) continue;
        mcp_http_conn_tick(c->conn, now_ms);
        conn_flush(c);
        conn_check(c);
    }
}

static void http_drain(mcp_net_worker *worker) {
    http_state *st = state_of(worker);
    for (http_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        if (c->closing || c->shutting) continue;
        mcp_http_conn_drain(c->conn);
        conn_flush(c);
        conn_check(c);
    }
}

static void http_drain_force(mcp_net_worker *worker) {
    http_state *st = state_of(worker);
    for (http_tcp_conn *c = st->conns[worker->index], *next; c; c = next) {
        next = c->next;
        if (c->closing) continue;
        mcp_net_count(&worker->counters.drain_forced, 1);
        conn_close(c);
    }
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
