/*
 * TCP connections carrying newline-delimited JSON, one mcp_session each.
 *
 * A read is framed into lines and every line goes to the session in order of
 * arrival. What the session emits while a read is being handled collects in
 * the connection's output buffer, and the whole batch leaves in one write
 * when the read is done: a client that pipelines a hundred requests gets its
 * hundred responses in one write, not a hundred. The write is tried at once
 * and only what the kernel did not take is queued (mcp_stream_write in
 * net/stream_conn.h: no epoll_ctl per batch). The HTTP and WebSocket
 * transports share the rest of their connection's life in stream_conn.c;
 * this one keeps its own because it winds down before it retires (calls
 * still running finish and are delivered after the peer's EOF).
 *
 * Output has two buffers: "out" collects, "wbuf" is being written. When a
 * write completes they swap, so at most one write is in flight and both
 * buffers are reused; after warm-up a request costs no allocation here.
 *
 * Limits, each counted when it fires: max_connections (refuse at accept),
 * max_message_size (error line, skip the line), idle_timeout_ms (close),
 * max_output_queue (pause reading until writes drain) and stall_timeout_ms
 * (a reader whose queue stays full that long is evicted).
 *
 * Closing is careful about in-flight work. A connection that is retired
 * (peer sent EOF, or the runtime drains) stops reading and gives its session
 * to the reaper; the responses of calls still running keep flowing out, and
 * only when the reaper says the session is gone and the output is written do
 * we send FIN. We then read and discard until the peer's FIN so that unread
 * input cannot turn our close into a reset that destroys delivered output.
 *
 * With TLS (net/tls.h) a read is decrypted before framing and the batch is
 * sealed into wbuf instead of swapped into it; close_notify precedes FIN.
 */
#include "net/net_internal.h"
#include "net/stream_conn.h"
#include "net/tls.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* Buffers that grew beyond this for one burst are returned afterwards. */
#define MCP_TCP_KEEP_BYTES (256 * 1024)
/* Longest wait for the peer's FIN after ours. */
#define MCP_TCP_LINGER_MS 2000u

struct mcp_net_conn {
    uv_tcp_t tcp;
    mcp_net_worker *worker;
    mcp_net_conn *prev;
    mcp_net_conn *next;
    mcp_session *session;   /* NULL once handed to the reaper */
    mcp_sink sink;
    mcp_ndjson framer;
    mcp_buf out;            /* output collecting */
    mcp_buf wbuf;           /* output being written */
    mcp_tls_conn *tls;      /* NULL: plaintext */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    mcp_net_note *release;  /* travels to the reaper and back */
    mcp_transport_peer peer; /* read once at accept; current while its input is handled */
    uint64_t last_active_ms;
    uint64_t full_since_ms; /* when the output queue went over the limit; 0 if under */
    /* Replies posted from other threads and not yet taken by this loop. A
     * call lowers the session's pending count after posting its reply, so
     * between the two the connection has no pending call and no output:
     * the idle sweep must not take that for idleness and close it, dropping
     * the reply on its way. */
    atomic_uint replies_posted;
    mcp_net_flush flush;    /* the batch write, after every read of the loop iteration */
    bool writing;           /* a write of wbuf is in flight */
    bool in_batch;          /* reads handled, batch write not yet made: session output waits for it */
    bool reading;
    bool paused;            /* reading stopped for back-pressure */
    bool winding_down;      /* no more input; waiting for pending calls before retiring */
    bool retired;           /* session handed to the reaper */
    bool released;          /* the reaper has freed the session */
    bool peer_eof;
    bool shutting;
    bool lingering;         /* FIN sent; discarding input until the peer's FIN */
    bool closing;
    bool closed;
    bool tls_notified;      /* close_notify queued */
};

static void conn_close(mcp_net_conn *conn);
static void conn_progress(mcp_net_conn *conn);

static const mcp_net_limits *conn_limits(const mcp_net_conn *conn) {
    return mcp_net_limits_of(conn->worker->net);
}

static uint64_t conn_now(const mcp_net_conn *conn) {
    return uv_now(&conn->worker->loop);
}

static void buf_recycle(mcp_buf *buf) {
    if (buf->cap > MCP_TCP_KEEP_BYTES) mcp_buf_free(buf);
    else mcp_buf_reset(buf);
}

static size_t conn_queued(const mcp_net_conn *conn) {
    return conn->out.len + conn->wbuf.len;
}

/* ---- Output ----------------------------------------------------------------------- */
static void on_write(uv_write_t *req, int status);

/* wbuf has gone out. */
static void conn_wrote(mcp_net_conn *conn) {
    mcp_net_count(&conn->worker->counters.bytes_out, conn->wbuf.len);
    buf_recycle(&conn->wbuf);
    conn->last_active_ms = conn_now(conn);
}

static void conn_flush(mcp_net_conn *conn) {
    if (conn->writing || conn->closing) return;
    if (conn->tls) {
        if (!conn->out.len && !mcp_tls_conn_pending(conn->tls)) return;
        /* wbuf is empty while no write is in flight: seal into it. */
        int rc = mcp_tls_conn_seal(conn->tls, conn->out.data, conn->out.len, &conn->wbuf);
        buf_recycle(&conn->out);
        if (rc) {
            conn_close(conn);
            return;
        }
        if (!conn->wbuf.len) return;
    } else {
        if (!conn->out.len) return;
        mcp_buf swap = conn->wbuf;
        conn->wbuf = conn->out;
        conn->out = swap;
    }
    mcp_net_count(&conn->worker->counters.writes, 1);
    int rc = mcp_stream_write((uv_stream_t *)&conn->tcp, &conn->write_req, conn->wbuf.data, conn->wbuf.len, on_write);
    if (rc < 0) conn_close(conn);
    else if (rc == MCP_STREAM_QUEUED) conn->writing = true;
    else conn_wrote(conn);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);

static void conn_read_start(mcp_net_conn *conn) {
    if (conn->reading || conn->closing) return;
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read)) {
        conn_close(conn);
        return;
    }
    conn->reading = true;
}

static void conn_read_stop(mcp_net_conn *conn) {
    if (!conn->reading) return;
    uv_read_stop((uv_stream_t *)&conn->tcp);
    conn->reading = false;
}

/* Back-pressure: a client that does not read its responses stops being read
 * from, so it cannot make us buffer without bound. */
static void conn_check_queue(mcp_net_conn *conn) {
    if (conn->closing) return;
    if (conn_queued(conn) > conn_limits(conn)->max_output_queue) {
        if (!conn->full_since_ms) conn->full_since_ms = conn_now(conn) ? conn_now(conn) : 1;
        if (!conn->paused && conn->reading && !conn->lingering) {
            conn_read_stop(conn);
            conn->paused = true;
            mcp_net_count(&conn->worker->counters.read_paused, 1);
        }
        return;
    }
    conn->full_since_ms = 0;
    if (conn->paused) {
        conn->paused = false;
        if (!conn->winding_down) conn_read_start(conn);
    }
}

static void on_write(uv_write_t *req, int status) {
    mcp_net_conn *conn = req->data;
    conn->writing = false;
    if (status < 0) {
        conn_close(conn);
        return;
    }
    conn_wrote(conn);
    conn_flush(conn);
    conn_check_queue(conn);
    conn_progress(conn);
}

/* Appends one message and its newline. Called on the owning loop. */
static int conn_emit(mcp_net_conn *conn, const char *message, size_t len) {
    if (conn->closing) {
        mcp_net_count(&conn->worker->counters.output_dropped, 1);
        return MCP_ECLOSED;
    }
    if (mcp_buf_reserve(&conn->out, len + 1)) {
        mcp_net_count(&conn->worker->counters.output_dropped, 1);
        return MCP_ENOMEM;
    }
    memcpy(conn->out.data + conn->out.len, message, len);
    conn->out.len += len;
    conn->out.data[conn->out.len++] = '\n';
    conn->out.data[conn->out.len] = '\0';
    if (!conn->in_batch) {
        conn_flush(conn);
        conn_check_queue(conn);
    }
    return MCP_OK;
}

/* The session's lending sink (mcp_sink.lend): on the owning loop a reply is
 * built straight into the collecting buffer, saving its copy; conn_lent
 * then does what conn_emit does after the copy. Any other thread gets
 * NULL and goes through conn_sink_write's note. */
static mcp_buf *conn_sink_lend(void *user) {
    mcp_net_conn *conn = user;
    /* The thread first: closing belongs to the loop and is read only there. */
    if (mcp_net_worker_current() != conn->worker || conn->closing) return NULL;
    return &conn->out;
}

static int conn_sink_lent(void *user, size_t start) {
    mcp_net_conn *conn = user;
    mcp_buf *out = &conn->out;
    /* The newline and the NUL after it; a reply's last byte rarely falls
     * at the end of the buffer, so the call is mostly skipped. */
    if (mcp_buf_room(out, 1)) {
        out->len = start;
        out->data[start] = '\0';
        mcp_net_count(&conn->worker->counters.output_dropped, 1);
        return MCP_ENOMEM;
    }
    out->data[out->len++] = '\n';
    out->data[out->len] = '\0';
    if (!conn->in_batch) {
        conn_flush(conn);
        conn_check_queue(conn);
    }
    return MCP_OK;
}

/* The session's sink. On the owning loop the message joins the current
 * batch; from any other thread (an asynchronous handler finishing) it is
 * copied into a note and posted to the owning loop. */
static int conn_sink_write(void *user, const char *message, size_t len) {
    mcp_net_conn *conn = user;
    if (mcp_net_worker_current() == conn->worker) return conn_emit(conn, message, len);
    atomic_fetch_add_explicit(&conn->replies_posted, 1, memory_order_relaxed);
    int rc = mcp_net_worker_post_message(conn->worker, MCP_NET_NOTE_OUTPUT, conn, NULL, message, len);
    if (rc) atomic_fetch_sub_explicit(&conn->replies_posted, 1, memory_order_relaxed);
    return rc;
}

/* ---- Lifecycle ------------------------------------------------------------------------ */
static void conn_free(mcp_net_conn *conn) {
    mcp_net_worker *worker = conn->worker;
    mcp_net_flush_cancel(&worker->flushes, &conn->flush);
    if (conn->prev) conn->prev->next = conn->next;
    else worker->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    worker->conn_count--;
    mcp_ndjson_free(&conn->framer);
    mcp_buf_free(&conn->out);
    mcp_buf_free(&conn->wbuf);
    mcp_tls_conn_free(conn->tls);
    free(conn->release);
    free(conn);
    mcp_net_worker_maybe_finish(worker);
}

/* No more input will be handled: the session goes to the reaper, which
 * waits for its pending calls without blocking this loop. */
static void conn_retire(mcp_net_conn *conn) {
    if (conn->retired) return;
    conn->retired = true;
    if (!conn->lingering) conn_read_stop(conn);
    conn->release->session = conn->session;
    conn->session = NULL;
    mcp_net_reap(conn->worker->net, conn->release);
}

/* Retire once no asynchronous call is left, so that draining delivers
 * their replies instead of cancelling them. */
static void conn_try_retire(mcp_net_conn *conn) {
    if (conn->retired) return;
    if (conn->session && mcp_session_pending(conn->session) > 0) return;
    conn_retire(conn);
}

/* Stop taking input and let what was received finish. */
static void conn_wind_down(mcp_net_conn *conn) {
    conn->winding_down = true;
    conn->paused = false;
    conn_read_stop(conn);
    conn_try_retire(conn);
}

static void on_closed(uv_handle_t *handle) {
    mcp_net_conn *conn = handle->data;
    conn->closed = true;
    if (conn->released) conn_free(conn);
}

static void conn_close(mcp_net_conn *conn) {
    if (conn->closing) return;
    conn->closing = true;
    conn->reading = false;
    /* The slot first: whoever sees the close counted may connect again
     * at once and must not meet the connection limit still held. */
    mcp_net_conn_release(conn->worker->net);
    mcp_net_count(&conn->worker->counters.closed, 1);
    uv_close((uv_handle_t *)&conn->tcp, on_closed);
    conn_retire(conn);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    mcp_net_conn *conn = req->data;
    if (conn->closing) return;
    if (status < 0 || conn->peer_eof) {
        conn_close(conn);
        return;
    }
    conn->lingering = true;
    conn->last_active_ms = conn_now(conn);
    conn_read_start(conn);
}

/* After retirement: once the session is gone and its output written, FIN. */
static void conn_progress(mcp_net_conn *conn) {
    if (conn->closing || !conn->released || conn->writing || conn->out.len || conn->shutting) return;
    if (conn->tls && !conn->tls_notified) {
        conn->tls_notified = true;
        mcp_tls_conn_close_notify(conn->tls);
        conn_flush(conn); /* on_write comes back here */
        if (conn->writing || conn->closing) return;
    }
    conn->shutting = true;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown)) conn_close(conn);
}

/* ---- Input ------------------------------------------------------------------------------ */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    mcp_net_conn *conn = handle->data;
    (void)suggested;
    /* One buffer per loop is enough: each read is fully handled (complete
     * lines consumed, a partial tail copied into the framer) before the
     * loop asks for the next. */
    buf->base = conn->worker->read_buf;
    buf->len = conn->worker->read_buf_size;
}

/* What spans and metrics learn of a message that came this way. */
static const mcp_transport_info TRANSPORT_INFO = {.transport = "tcp"};

static void conn_handle_line(mcp_net_conn *conn, mcp_str line) {
    mcp_net_count(&conn->worker->counters.messages_in, 1);
    if (mcp_session_handle_from(conn->session, line.ptr, line.len, &TRANSPORT_INFO) < 0) {
        mcp_log(MCP_LOG_ERROR, "tcp: session failed, closing the connection");
        conn_close(conn);
    }
}

static void conn_handle_oversized(mcp_net_conn *conn) {
    mcp_net_count(&conn->worker->counters.oversized, 1);
    if (mcp_ndjson_oversized_error(&conn->out, conn_limits(conn)->max_message_size)) conn_close(conn);
}

/* The replies of this iteration's reads, in one write per connection. */
static void conn_flush_batch(mcp_net_flush *flush) {
    mcp_net_conn *conn = (mcp_net_conn *)((char *)flush - offsetof(mcp_net_conn, flush));
    conn->in_batch = false;
    conn_flush(conn);
    /* A write that went out at once brings no on_write to resume reading,
     * nor to send FIN for a connection the reaper has already released. */
    conn_check_queue(conn);
    conn_progress(conn);
}

static void conn_handle_input(mcp_net_conn *conn, const char *data, size_t len) {
    mcp_str input = {data, len};
    mcp_str line;
    conn->in_batch = true;
    while (!conn->closing) {
        int kind = mcp_ndjson_next(&conn->framer, &input, &line);
        if (kind == MCP_NDJSON_MORE) break;
        if (kind == MCP_NDJSON_LINE) conn_handle_line(conn, line);
        else if (kind == MCP_NDJSON_OVERSIZED) conn_handle_oversized(conn);
        else conn_close(conn);
    }
    /* The replies go out once every connection's reads of this loop
     * iteration are handled: with many connections ready together, a
     * client asleep in its poll is woken by the first write, not by each
     * (on loopback the wake-up is paid on this core). */
    if (conn_queued(conn) > conn_limits(conn)->max_output_queue) {
        /* Over the limit already: write now, and only what the kernel does
         * not take pauses reading (as before the batch write was deferred). */
        mcp_net_flush_now(&conn->worker->flushes, &conn->flush);
        return;
    }
    mcp_net_flush_soon(&conn->worker->flushes, &conn->flush);
    conn_check_queue(conn);
}

static void conn_handle_eof(mcp_net_conn *conn) {
    conn->peer_eof = true;
    conn_read_stop(conn);
    /* A last message without its newline is still a message. */
    mcp_str line;
    conn->in_batch = true;
    int kind = mcp_ndjson_finish(&conn->framer, &line);
    if (kind == MCP_NDJSON_LINE) conn_handle_line(conn, line);
    else if (kind == MCP_NDJSON_OVERSIZED) conn_handle_oversized(conn);
    conn->in_batch = false;
    conn_flush(conn);
    conn_wind_down(conn);
}

/* Ciphertext in: what it decrypts to is framed as a plaintext read would be. */
static void conn_handle_tls(mcp_net_conn *conn, const char *data, size_t len) {
    mcp_str plain;
    int rc = mcp_tls_conn_feed(conn->tls, data, len, &plain);
    if (mcp_tls_conn_just_established(conn->tls)) mcp_net_count(&conn->worker->counters.tls_handshakes, 1);
    if (plain.len) conn_handle_input(conn, plain.ptr, plain.len);
    else conn_flush(conn); /* handshake bytes */
    if (conn->closing) return;
    if (rc == MCP_EIO) {
        if (!mcp_tls_conn_established(conn->tls)) mcp_net_count(&conn->worker->counters.tls_failed, 1);
        conn_close(conn);
    } else if (rc == MCP_ECLOSED) {
        conn_handle_eof(conn); /* close_notify: the peer's end of input */
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    mcp_net_conn *conn = stream->data;
    /* The requests of this read (the EOF may complete a last one) are the peer's. */
    const mcp_transport_peer *saved = mcp_transport_peer_swap(&conn->peer);
    if (nread > 0) {
        conn->last_active_ms = conn_now(conn);
        if (conn->lingering || conn->winding_down) {
            mcp_transport_peer_swap(saved);
            return; /* input after the end is dropped */
        }
        mcp_net_count(&conn->worker->counters.reads, 1);
        mcp_net_count(&conn->worker->counters.bytes_in, (uint64_t)nread);
        if (conn->tls) conn_handle_tls(conn, buf->base, (size_t)nread);
        else conn_handle_input(conn, buf->base, (size_t)nread);
    } else if (nread == UV_EOF && !conn->lingering && !conn->winding_down) {
        conn_handle_eof(conn);
    } else if (nread < 0) {
        conn_close(conn);
    }
    mcp_transport_peer_swap(saved);
}

/* ---- Accept ------------------------------------------------------------------------------ */
static void on_refused_closed(uv_handle_t *handle) {
    free(handle);
}

static void conn_refuse(mcp_net_worker *worker, uv_tcp_t *tcp) {
    static const char busy[] =
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"server is at its connection limit\"}}\n";
    mcp_net_count(&worker->counters.refused, 1);
    uv_buf_t chunk = uv_buf_init((char *)busy, sizeof busy - 1);
    /* Best effort: the answer is the close. A TLS client could not read it. */
    if (!mcp_net_tls(worker->net)) uv_try_write((uv_stream_t *)tcp, &chunk, 1);
    uv_close((uv_handle_t *)tcp, on_refused_closed);
}

void mcp_tcp_on_connection(uv_stream_t *listener, int status) {
    mcp_net_worker *worker = listener->data;
    if (status < 0) {
        mcp_log(MCP_LOG_WARNING, "tcp accept: %s", uv_strerror(status));
        return;
    }
    mcp_net_conn *conn = calloc(1, sizeof *conn);
    mcp_net_note *release = calloc(1, sizeof *release);
    if (!conn || !release) {
        free(conn);
        free(release);
        /* Take the connection off the queue anyway, or it would be offered
         * again at once; closing it is the only answer we can afford. */
        uv_tcp_t *tcp = malloc(sizeof *tcp);
        if (tcp && uv_tcp_init(&worker->loop, tcp) == 0) {
            if (uv_accept(listener, (uv_stream_t *)tcp) == 0) mcp_net_count(&worker->counters.refused, 1);
            uv_close((uv_handle_t *)tcp, on_refused_closed);
        } else {
            free(tcp);
        }
        return;
    }
    uv_tcp_init(&worker->loop, &conn->tcp);
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp)) {
        free(release);
        conn->tcp.data = conn;
        uv_close((uv_handle_t *)&conn->tcp, on_refused_closed);
        return;
    }
    if (!mcp_net_conn_admit(worker->net)) {
        free(release);
        conn_refuse(worker, &conn->tcp); /* conn starts with its uv_tcp_t, freed on close */
        return;
    }
    mcp_net_count(&worker->counters.accepted, 1);
    mcp_stream_peer_get(&conn->tcp, &conn->peer);
    conn->tcp.data = conn;
    conn->write_req.data = conn;
    conn->shutdown_req.data = conn;
    conn->worker = worker;
    conn->flush.run = conn_flush_batch;
    conn->release = release;
    release->kind = MCP_NET_NOTE_RELEASED;
    release->conn = conn;
    release->worker = worker;
    mcp_ndjson_init(&conn->framer, mcp_net_limits_of(worker->net)->max_message_size);
    mcp_tls_ctx *tls = mcp_net_tls(worker->net);
    if (tls) conn->tls = mcp_tls_conn_new(tls);
    mcp_buf_init(&conn->out);
    mcp_buf_init(&conn->wbuf);
    conn->last_active_ms = uv_now(&worker->loop);
    conn->next = worker->conns;
    if (worker->conns) worker->conns->prev = conn;
    worker->conns = conn;
    worker->conn_count++;

    conn->sink = (mcp_sink){.write = conn_sink_write, .user = conn, .lend = conn_sink_lend, .lent = conn_sink_lent};
    conn->session = mcp_session_new(mcp_net_server(worker->net), &conn->sink);
    if (!conn->session || (tls && !conn->tls)) {
        mcp_log(MCP_LOG_ERROR, "tcp: no memory for a session");
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    conn_read_start(conn);
}

/* ---- Notes from other threads ------------------------------------------------------------- */
void mcp_tcp_on_note(mcp_net_worker *worker, mcp_net_note *note) {
    (void)worker;
    mcp_net_conn *conn = note->conn;
    if (note->kind == MCP_NET_NOTE_RELEASED) {
        conn->released = true; /* the note belongs to conn and goes with it */
        if (conn->closed) conn_free(conn);
        else conn_progress(conn);
        return;
    }
    atomic_fetch_sub_explicit(&conn->replies_posted, 1, memory_order_relaxed);
    conn_emit(conn, note->data, note->len);
    free(note);
    if (conn->winding_down) conn_try_retire(conn);
}

/* ---- Timers and drain ----------------------------------------------------------------------- */
void mcp_tcp_sweep(mcp_net_worker *worker, uint64_t now_ms) {
    const mcp_net_limits *limits = mcp_net_limits_of(worker->net);
    for (mcp_net_conn *conn = worker->conns; conn; conn = conn->next) {
        if (conn->closing) continue;
        if (conn->winding_down) conn_try_retire(conn);
        uint64_t quiet = now_ms - conn->last_active_ms;
        if (conn->full_since_ms && now_ms - conn->full_since_ms >= limits->stall_timeout_ms) {
            mcp_net_count(&worker->counters.slow_evicted, 1);
            conn_close(conn);
        } else if (conn->lingering) {
            uint64_t linger = limits->idle_timeout_ms < MCP_TCP_LINGER_MS ? limits->idle_timeout_ms
                                                                          : MCP_TCP_LINGER_MS;
            if (quiet >= linger) conn_close(conn);
        } else if (!conn->full_since_ms && !conn->winding_down && quiet >= limits->idle_timeout_ms) {
            /* A long tool call is silence, not idleness, and so is its
             * reply on its way here. Pending first: the call posts before
             * it stops being pending, and the session lock orders the two,
             * so a call seen finished has its reply counted. */
            if (conn->session && mcp_session_pending(conn->session) > 0) continue;
            if (atomic_load_explicit(&conn->replies_posted, memory_order_relaxed)) continue;
            mcp_net_count(&worker->counters.idle_closed, 1);
            conn_close(conn);
        }
    }
}

void mcp_tcp_drain(mcp_net_worker *worker) {
    for (mcp_net_conn *conn = worker->conns; conn; conn = conn->next) {
        if (!conn->closing) conn_wind_down(conn);
    }
}

void mcp_tcp_drain_force(mcp_net_worker *worker) {
    for (mcp_net_conn *conn = worker->conns; conn; conn = conn->next) {
        if (conn->closing) continue;
        mcp_net_count(&worker->counters.drain_forced, 1);
        conn_close(conn);
    }
}
