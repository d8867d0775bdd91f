/*
 * stream_conn.c — the libuv life of an HTTP or WebSocket server connection
 * (see net/stream_conn.h): accept, read, TLS, write, finish, close.
 */
#include "net/stream_conn.h"
#include "net/tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Buffers that grew beyond this for one burst are returned afterwards. */
#define MCP_STREAM_KEEP_BYTES (256 * 1024)
/* A finished connection waits at most this long for its peer's FIN. */
#define MCP_STREAM_LINGER_MS 2000u

/* ---- One write ------------------------------------------------------------------- */
int mcp_stream_write(uv_stream_t *stream, uv_write_t *req, const char *data, size_t len, uv_write_cb cb) {
    uv_buf_t chunk = uv_buf_init((char *)data, 0);
    chunk.len = len;
    /* uv_try_write reports a count as int: a larger batch goes the long way. */
    if (len <= INT_MAX) {
        int n = uv_try_write(stream, &chunk, 1);
        if (n >= 0 && (size_t)n == len) return MCP_STREAM_WRITTEN;
        if (n < 0 && n != UV_EAGAIN) return n;
        if (n > 0) {
            chunk.base += n;
            chunk.len -= (size_t)n;
        }
    }
    int rc = uv_write(req, stream, &chunk, 1, cb);
    return rc < 0 ? rc : MCP_STREAM_QUEUED;
}

/* ---- The peer -------------------------------------------------------------------- */
void mcp_stream_peer_get(uv_tcp_t *tcp, mcp_transport_peer *peer) {
    memset(peer, 0, sizeof *peer);
    struct sockaddr_storage sa;
    int len = sizeof sa;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len)) return;
    int rc = -1;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        rc = uv_inet_ntop(AF_INET, &in->sin_addr, peer->address, sizeof peer->address);
        peer->port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; the
         * client's own address is the IPv4 one. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            rc = uv_inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], peer->address, sizeof peer->address);
        else
            rc = uv_inet_ntop(AF_INET6, &in6->sin6_addr, peer->address, sizeof peer->address);
        peer->port = ntohs(in6->sin6_port);
    }
    if (rc) {
        memset(peer, 0, sizeof *peer);
        return;
    }
    peer->address_len = (uint8_t)strlen(peer->address);
}

/* ---- The loop's output buffer ---------------------------------------------------- */
/* A read's answers are written into one buffer of the loop's, lent to the
 * connection for the read and taken back once they are written, which
 * they nearly always are at once: the memory stays in cache from one
 * connection's read to the next. With a buffer of its own, each of 1,000
 * connections touched ~1.4 KB of cold memory per 1 KiB request. The
 * buffers only change hands: one that still holds output stays with its
 * connection, and the loop takes that connection's own instead. */
static _Thread_local mcp_buf loop_out;
static _Thread_local size_t loop_conns; /* started and not yet freed on this loop */

static void out_swap(mcp_stream_conn *s) {
    mcp_buf own = *s->out;
    *s->out = loop_out;
    loop_out = own;
}

/* ---- Lifecycle ------------------------------------------------------------------- */
static void conn_free(mcp_stream_conn *s) {
    mcp_net_worker *worker = s->worker;
    mcp_net_flush_cancel(&worker->flushes, &s->flush);
    if (s->prev) s->prev->next = s->next;
    else *s->list = s->next;
    if (s->next) s->next->prev = s->prev;
    worker->conn_count--;
    if (--loop_conns == 0) mcp_buf_free(&loop_out);
    s->ops->free(s);
    mcp_tls_conn_free(s->tls);
    mcp_buf_free(&s->wbuf);
    free(s->release);
    free(s);
    mcp_net_worker_maybe_finish(worker);
}

void mcp_stream_conn_retire(mcp_stream_conn *s) {
    if (s->retired) return;
    s->retired = true;
    s->release->session = s->ops->detach(s);
    mcp_net_reap(s->worker->net, s->release);
}

static void on_closed(uv_handle_t *handle) {
    mcp_stream_conn *s = handle->data;
    s->closed = true;
    if (s->released) conn_free(s);
}

void mcp_stream_conn_close(mcp_stream_conn *s) {
    if (s->closing) return;
    s->closing = true;
    s->reading = false;
    /* The slot first: whoever sees the close counted may connect again
     * at once and must not meet the connection limit still held. */
    mcp_net_conn_release(s->worker->net);
    mcp_net_count(&s->worker->counters.closed, 1);
    uv_close((uv_handle_t *)&s->tcp, on_closed);
    mcp_stream_conn_retire(s);
}

/* Still open means FIN was sent and we wait for the peer's (lingering),
 * which closes it. */
void mcp_stream_conn_released(mcp_stream_conn *s) {
    s->released = true;
    if (s->closed) conn_free(s);
}

/* ---- Input ------------------------------------------------------------------------ */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    mcp_stream_conn *s = handle->data;
    (void)suggested;
    /* One buffer per loop: a read is handled whole (what must outlive it
     * is copied by the protocol) before the next one. */
    buf->base = s->worker->read_buf;
    buf->len = s->worker->read_buf_size;
}

/* The requests a read carries are this connection's peer's. */
static void feed(mcp_stream_conn *s, const char *data, size_t len) {
    const mcp_transport_peer *saved = mcp_transport_peer_swap(&s->peer);
    s->ops->feed(s, data, len);
    mcp_transport_peer_swap(saved);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    mcp_stream_conn *s = stream->data;
    if (nread < 0) {
        /* EOF or error: the peer is gone, and so are its response streams. */
        if (s->flush.queued) {
            /* What earlier reads of this pass produced goes out first, as it
             * did when each read wrote at once. */
            mcp_net_flush_cancel(&s->worker->flushes, &s->flush);
            mcp_stream_conn_flush(s);
        }
        mcp_stream_conn_close(s);
        return;
    }
    if (nread == 0) return;
    s->last_io_ms = uv_now(&s->worker->loop);
    if (s->lingering || s->shutting || s->retired) return; /* after our last word, input is dropped */
    mcp_net_count(&s->worker->counters.reads, 1);
    mcp_net_count(&s->worker->counters.bytes_in, (uint64_t)nread);
    if (!s->out->len) out_swap(s);
    if (!s->tls) {
        feed(s, buf->base, (size_t)nread);
    } else {
        mcp_str plain;
        int rc = mcp_tls_conn_feed(s->tls, buf->base, (size_t)nread, &plain);
        if (mcp_tls_conn_just_established(s->tls)) mcp_net_count(&s->worker->counters.tls_handshakes, 1);
        if (plain.len) feed(s, plain.ptr, plain.len);
        if (rc) {
            /* A failed handshake or record (the alert is worth a try), or
             * close_notify: either way the peer sends nothing more we can use. */
            if (rc == MCP_EIO && !mcp_tls_conn_established(s->tls)) mcp_net_count(&s->worker->counters.tls_failed, 1);
            mcp_stream_conn_flush(s);
            mcp_stream_conn_close(s);
            return;
        }
    }
    if (s->closing) return;
    /* Over the output limit already: write now, so that only what the
     * kernel does not take pauses reading, as after each read before. */
    if (s->ops->write_after_reads &&
        s->out->len + s->wbuf.len <= mcp_net_limits_of(s->worker->net)->max_output_queue)
        mcp_net_flush_soon(&s->worker->flushes, &s->flush);
    else
        mcp_net_flush_now(&s->worker->flushes, &s->flush);
}

/* What the reads produced, in one write; the loop's buffer goes back to
 * the loop once it is empty. */
static void flush_batch(mcp_net_flush *flush) {
    mcp_stream_conn *s = (mcp_stream_conn *)((char *)flush - offsetof(mcp_stream_conn, flush));
    if (s->closing) return;
    mcp_stream_conn_flush(s);
    if (!s->out->len) {
        out_swap(s);
        if (loop_out.cap > MCP_STREAM_KEEP_BYTES) mcp_buf_free(&loop_out);
    }
    s->ops->check(s);
}

void mcp_stream_conn_read_start(mcp_stream_conn *s) {
    if (s->reading || s->closing) return;
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read)) {
        mcp_stream_conn_close(s);
        return;
    }
    s->reading = true;
}

void mcp_stream_conn_read_stop(mcp_stream_conn *s) {
    if (!s->reading) return;
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = false;
}

/* ---- Output ----------------------------------------------------------------------- */
/* wbuf has gone out. */
static void wrote(mcp_stream_conn *s) {
    mcp_net_count(&s->worker->counters.bytes_out, s->wbuf.len);
    if (s->wbuf.cap > MCP_STREAM_KEEP_BYTES) mcp_buf_free(&s->wbuf);
    else mcp_buf_reset(&s->wbuf);
    s->last_io_ms = uv_now(&s->worker->loop);
}

static void on_write(uv_write_t *req, int status) {
    mcp_stream_conn *s = req->data;
    s->writing = false;
    if (status < 0) {
        mcp_stream_conn_close(s);
        return;
    }
    wrote(s);
    mcp_stream_conn_flush(s);
    s->ops->check(s);
}

void mcp_stream_conn_flush(mcp_stream_conn *s) {
    if (s->writing || s->closing) return;
    mcp_buf *out = s->out;
    if (s->tls) {
        if (!out->len && !mcp_tls_conn_pending(s->tls)) return;
        /* wbuf is empty while no write is in flight: seal into it. */
        int rc = mcp_tls_conn_seal(s->tls, out->data, out->len, &s->wbuf);
        mcp_buf_reset(out);
        if (rc) {
            mcp_stream_conn_close(s);
            return;
        }
        if (!s->wbuf.len) return;
    } else {
        if (!out->len) return;
        mcp_buf swap = s->wbuf;
        s->wbuf = *out;
        *out = swap;
    }
    mcp_net_count(&s->worker->counters.writes, 1);
    int rc = mcp_stream_write((uv_stream_t *)&s->tcp, &s->write_req, s->wbuf.data, s->wbuf.len, on_write);
    if (rc < 0) {
        mcp_stream_conn_close(s);
    } else if (rc == MCP_STREAM_QUEUED) {
        s->writing = true;
    } else {
        wrote(s);
        if (!s->tls) {
            /* Written at once, as nearly every write is: the buffer goes
             * back to collecting, so a connection keeps one output buffer
             * warm instead of alternating two (at 1,000 connections that
             * was 4 MB more memory touched per round of requests). */
            mcp_buf swap = s->wbuf;
            s->wbuf = *out;
            *out = swap;
        }
    }
}

bool mcp_stream_conn_full(mcp_stream_conn *s) {
    bool full = s->out->len + s->wbuf.len > mcp_net_limits_of(s->worker->net)->max_output_queue;
    if (full && !s->full_since_ms) {
        uint64_t now = uv_now(&s->worker->loop);
        s->full_since_ms = now ? now : 1;
        mcp_net_count(&s->worker->counters.read_paused, 1);
    }
    if (!full) s->full_since_ms = 0;
    return full;
}

/* ---- Finishing -------------------------------------------------------------------- */
static void on_shutdown(uv_shutdown_t *req, int status) {
    mcp_stream_conn *s = req->data;
    if (s->closing) return;
    if (status < 0) {
        mcp_stream_conn_close(s);
        return;
    }
    s->lingering = true;
    s->last_io_ms = uv_now(&s->worker->loop);
    mcp_stream_conn_read_start(s);
}

void mcp_stream_conn_finish(mcp_stream_conn *s) {
    if (s->closing || s->shutting || s->writing || s->out->len) return;
    if (s->tls && !s->notified) {
        s->notified = true;
        mcp_tls_conn_close_notify(s->tls);
        mcp_stream_conn_flush(s); /* a queued write comes back through check */
        if (s->writing || s->closing) return;
    }
    s->shutting = true;
    mcp_stream_conn_retire(s);
    if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown)) mcp_stream_conn_close(s);
}

/* ---- Accept ----------------------------------------------------------------------- */
static void on_refused_closed(uv_handle_t *handle) { free(handle); }

mcp_stream_conn *mcp_stream_conn_accept(uv_stream_t *listener, size_t size, const mcp_stream_ops *ops,
                                        mcp_stream_conn **list, const char *busy) {
    mcp_net_worker *worker = listener->data;
    mcp_stream_conn *s = calloc(1, size);
    mcp_net_note *release = calloc(1, sizeof *release);
    /* Without memory the connection is still taken off the queue, or it
     * would be offered again at once; closing it is the only answer. */
    uv_tcp_t *tcp = s ? &s->tcp : malloc(sizeof *tcp);
    if (!tcp || uv_tcp_init(&worker->loop, tcp)) {
        free(s);
        free(release);
        if (!s) free(tcp);
        return NULL;
    }
    tcp->data = s;
    mcp_tls_ctx *tls = mcp_net_tls(worker->net);
    if (uv_accept(listener, (uv_stream_t *)tcp) || !s || !release || !mcp_net_conn_admit(worker->net)) {
        if (s && release && busy && !tls) {
            uv_buf_t chunk = uv_buf_init((char *)busy, 0);
            chunk.len = strlen(busy);
            uv_try_write((uv_stream_t *)tcp, &chunk, 1);
        }
        mcp_net_count(&worker->counters.refused, 1);
        free(release);
        uv_close((uv_handle_t *)tcp, on_refused_closed); /* s starts with its uv_tcp_t */
        return NULL;
    }
    s->worker = worker;
    s->ops = ops;
    s->flush.run = flush_batch;
    s->list = list;
    s->release = release;
    s->write_req.data = s;
    s->shutdown_req.data = s;
    release->kind = MCP_NET_NOTE_RELEASED;
    release->worker = worker;
    release->target = s;
    mcp_stream_peer_get(&s->tcp, &s->peer);
    if (tls && !(s->tls = mcp_tls_conn_new(tls))) {
        mcp_stream_conn_abort(s);
        return NULL;
    }
    return s;
}

void mcp_stream_conn_abort(mcp_stream_conn *s) {
    mcp_net_worker *worker = s->worker;
    mcp_tls_conn_free(s->tls);
    free(s->release);
    mcp_net_conn_release(worker->net);
    mcp_net_count(&worker->counters.refused, 1);
    uv_close((uv_handle_t *)&s->tcp, on_refused_closed);
}

void mcp_stream_conn_start(mcp_stream_conn *s) {
    mcp_net_worker *worker = s->worker;
    mcp_net_count(&worker->counters.accepted, 1);
    s->last_io_ms = uv_now(&worker->loop);
    s->next = *s->list;
    if (s->next) s->next->prev = s;
    *s->list = s;
    worker->conn_count++;
    loop_conns++;
    uv_tcp_nodelay(&s->tcp, 1);
    mcp_stream_conn_read_start(s);
}

/* ---- What both transports do the same way --------------------------------------- */
uint64_t mcp_stream_conn_linger_ms(const mcp_net_limits *limits) {
    return limits->idle_timeout_ms < MCP_STREAM_LINGER_MS ? limits->idle_timeout_ms : MCP_STREAM_LINGER_MS;
}

void mcp_stream_conn_io_flush(void *user) {
    mcp_stream_conn *s = user;
    mcp_stream_conn_flush(s);
    s->ops->check(s);
}

void mcp_stream_conn_close_all(mcp_stream_conn *list) {
    for (mcp_stream_conn *s = list, *next; s; s = next) {
        next = s->next;
        if (s->closing) continue;
        mcp_net_count(&s->worker->counters.drain_forced, 1);
        mcp_stream_conn_close(s);
    }
}
