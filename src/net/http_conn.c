/*
 * One HTTP connection, sans I/O: bytes in, bytes out, in request order.
 *
 * Every request becomes an exchange in the connection's queue. HTTP/1.1
 * answers pipelined requests in order, so only the exchange at the head
 * writes to the connection's output; the others collect their bytes and
 * hand them over when they reach the head. An exchange that waits for a
 * slow call therefore holds back the answers behind it, as HTTP/1.1
 * demands; after max_pipeline queued requests we stop parsing and keep the
 * unread input until the queue shrinks.
 *
 * A response is chosen when its first message arrives: the final reply
 * alone goes out as application/json (unless the client accepts only SSE
 * or the server prefers SSE); a notification first opens an SSE stream
 * (chunked), which the final reply ends. GET streams open at once and stay
 * open. Events of handshake-era streams go through the event store first,
 * which gives them their ids and makes them replayable; such a stream opens
 * with a priming event (an id, the retry time, no data; SEP-1699), carried
 * in the same chunk as the event that opened it.
 *
 * SSE polling: a handler may end its request's stream early
 * (mcp_call_close_stream). The exchange then leaves the connection's queue
 * (the connection goes on with the next request) but stays in the
 * session's waiting list like an exchange whose connection died, so its
 * later messages go to the store, and the client's GET with Last-Event-ID
 * replays them or takes the still running request over.
 *
 * The answer of one message in one piece (JSON, or an SSE stream of one
 * event), and the modern session building its reply in place, are in
 * http_answer.c.
 *
 * Liveness: when ping_interval_ms is set, the tick of the connection that
 * carries a session's GET stream pings the session and deletes it once a
 * ping outlives ping_timeout_ms (mcp_http_session_ping_tick, http_server.c).
 */
#include "net/http_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conn_advance(mcp_http_conn *conn);
static void conn_process(mcp_http_conn *conn, mcp_str input);

void mcp_http_count_status(mcp_http_conn *conn, int status) {
    mcp_http_counters *c = conn->counters;
    uint64_t *slot;
    switch (status) {
    case 202: slot = &c->accepted_202; break;
    case 400: slot = &c->status_400; break;
    case 403: slot = &c->status_403; break;
    case 404: slot = &c->status_404; break;
    case 405: slot = &c->status_405; break;
    case 406: slot = &c->status_406; break;
    case 408: slot = &c->status_408; break;
    case 409: slot = &c->status_409; break;
    case 413: slot = &c->status_413; break;
    case 415: slot = &c->status_415; break;
    case 431: slot = &c->status_431; break;
    default: slot = status >= 400 ? &c->status_other_error : NULL; break;
    }
    if (slot) mcp_net_count(slot, 1);
}

/* ---- Exchanges ----------------------------------------------------------------------- */
/* Finished exchanges, buffers included, are kept for reuse by the loop
 * (thread) whose connections made them, not by each connection: at 1,000
 * connections a request then takes the exchange the last one gave back,
 * still in cache, where one kept by its own connection was cold (~5 cache
 * lines a request). The pool lives while the thread has connections. */
#define MCP_HTTP_MAX_SPARES 32

static _Thread_local mcp_http_exchange *loop_spares;
static _Thread_local size_t loop_spare_count;
static _Thread_local size_t loop_conns; /* connections made and not yet freed on this thread */

static void exchange_free(mcp_http_exchange *x) {
    mcp_buf_free(&x->id);
    mcp_buf_free(&x->token);
    mcp_buf_free(&x->pending);
    free(x);
}

mcp_http_exchange *mcp_http_exchange_new(mcp_http_conn *conn) {
    mcp_http_exchange *x = loop_spares;
    if (x) {
        /* Keep the buffers' memory, forget everything else. */
        loop_spares = x->next;
        loop_spare_count--;
        mcp_buf id = x->id, token = x->token, pending = x->pending;
        memset(x, 0, sizeof *x);
        x->id = id;
        x->token = token;
        x->pending = pending;
        mcp_buf_reset(&x->id);
        mcp_buf_reset(&x->token);
        mcp_buf_reset(&x->pending);
    } else {
        x = calloc(1, sizeof *x);
        if (!x) return NULL;
        mcp_buf_init(&x->id);
        mcp_buf_init(&x->token);
        mcp_buf_init(&x->pending);
    }
    x->pool_worker = conn->io.worker;
    x->conn = conn;
    x->worker = conn->io.worker;
    x->refs = 1; /* the connection's queue */
    x->json_ok = x->sse_ok = true;
    x->keep_alive = true;
    if (conn->tail) conn->tail->next = x;
    else conn->head = x;
    conn->tail = x;
    conn->queued++;
    return x;
}

void mcp_http_exchange_ref(mcp_http_exchange *x) { __atomic_add_fetch(&x->refs, 1, __ATOMIC_RELAXED); }

void mcp_http_exchange_unref(mcp_http_exchange *x) {
    if (__atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (x->hs) mcp_http_session_unref(x->hs);
    x->hs = NULL;
    /* Back to the pool on the loop that made it, while that loop has
     * connections (the last one's free empties the pool). Not with a
     * large id or progress token, or the pool would keep that memory long
     * after the client that sent it has gone. */
    if (loop_conns && x->pool_worker == mcp_net_worker_current() && loop_spare_count < MCP_HTTP_MAX_SPARES &&
        x->pending.cap <= 64 * 1024 && x->id.cap <= 1024 && x->token.cap <= 1024) {
        x->next = loop_spares;
        loop_spares = x;
        loop_spare_count++;
        return;
    }
    exchange_free(x);
}

/* Out of the session's waiting list (it has its answer, or never will). */
static void exchange_leave_session(mcp_http_exchange *x) {
    mcp_http_session *hs = x->hs;
    if (!hs) return;
    bool dropped = false;
    pthread_mutex_lock(&hs->lock);
    if (x->in_session_list) {
        if (x->s_prev) x->s_prev->s_next = x->s_next;
        else hs->waiting = x->s_next;
        if (x->s_next) x->s_next->s_prev = x->s_prev;
        x->s_prev = x->s_next = NULL;
        x->in_session_list = false;
        dropped = true;
    }
    if (hs->get == x) {
        hs->get = NULL;
        dropped = true;
    }
    pthread_mutex_unlock(&hs->lock);
    if (dropped) mcp_http_exchange_unref(x);
}

void mcp_http_x_write(mcp_http_exchange *x, const char *data, size_t len) {
    mcp_http_conn *conn = x->conn;
    if (!conn) return;
    mcp_http_loan_settle();
    mcp_buf *to = mcp_http_x_target(x);
    if (mcp_buf_append(to, data, len)) conn->close_after = true; /* out of memory: give up on the peer */
    x->last_write_ms = conn->now_ms;
}

void mcp_http_x_head(mcp_http_exchange *x, int status, const char *content_type, long content_length,
                     const char *extra_headers) {
    mcp_http_conn *conn = x->conn;
    if (!conn) return;
    /* Built by hand: this runs once per response and printf showed up in
     * profiles. */
    char head[512];
    size_t n = 0;
#define HEAD_PUT(s, len) (memcpy(head + n, (s), (len)), n += (len))
#define HEAD_LIT(s) HEAD_PUT(s, sizeof(s) - 1)
    char num[24];
    HEAD_LIT("HTTP/1.1 ");
    HEAD_PUT(num, mcp_format_uint(num, (uint64_t)status));
    head[n++] = ' ';
    const char *reason = mcp_http_reason(status);
    HEAD_PUT(reason, strlen(reason));
    HEAD_LIT("\r\n");
    if (content_type) {
        HEAD_LIT("Content-Type: ");
        HEAD_PUT(content_type, strlen(content_type));
        HEAD_LIT("\r\n");
    }
    if (content_length >= 0) {
        HEAD_LIT("Content-Length: ");
        HEAD_PUT(num, mcp_format_uint(num, (uint64_t)content_length));
        HEAD_LIT("\r\n");
    } else {
        HEAD_LIT(MCP_HTTP_SSE_HEAD_FIELDS);
    }
    if (!x->keep_alive) HEAD_LIT("Connection: close\r\n");
    size_t extra = extra_headers ? strlen(extra_headers) : 0;
    if (extra < sizeof head - n - 2) {
        if (extra) HEAD_PUT(extra_headers, extra);
        HEAD_LIT("\r\n");
        mcp_http_x_write(x, head, n);
    } else {
        mcp_http_x_write(x, head, n);
        mcp_http_x_write(x, extra_headers, extra);
        mcp_http_x_write(x, "\r\n", 2);
    }
#undef HEAD_PUT
#undef HEAD_LIT
    mcp_http_count_status(conn, status);
}

void mcp_http_x_done(mcp_http_exchange *x) {
    x->state = MCP_HTTP_X_DONE;
    exchange_leave_session(x);
    if (x->conn && !x->conn->in_feed) conn_advance(x->conn);
}

void mcp_http_x_respond(mcp_http_exchange *x, int status, const char *content_type, const char *body,
                        size_t len, const char *extra_headers) {
    mcp_http_x_head(x, status, content_type, (long)len, extra_headers);
    if (len) mcp_http_x_write(x, body, len);
    mcp_http_x_done(x);
}

void mcp_http_x_error(mcp_http_exchange *x, int status, mcp_str id, int code, const char *message,
                      const char *data_json, const char *extra_headers) {
    mcp_buf body;
    mcp_buf_init(&body);
    mcp_rpc_id rid = {.type = id.len ? MCP_RPC_ID_INT : MCP_RPC_ID_NONE, .text = id};
    if (mcp_rpc_write_error(&body, &rid, code, message, data_json) != 0) {
        mcp_buf_reset(&body);
        mcp_buf_append_cstr(&body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Internal error\"}}");
    }
    mcp_http_x_respond(x, status, "application/json", body.data, body.len, extra_headers);
    mcp_buf_free(&body);
}

static void x_chunk(mcp_http_exchange *x, const char *data, size_t len) {
    char size[24];
    size_t n = mcp_http_format_hex(size, len);
    size[n++] = '\r';
    size[n++] = '\n';
    mcp_http_x_write(x, size, n);
    mcp_http_x_write(x, data, len);
    mcp_http_x_write(x, "\r\n", 2);
}

void mcp_http_x_start_stream(mcp_http_exchange *x, const char *extra_headers) {
    mcp_http_x_head(x, 200, "text/event-stream", -1, extra_headers);
    x->state = MCP_HTTP_X_STREAMING;
    if (!x->conn) return;
    mcp_net_count(&x->conn->counters->responses_sse, 1);
    x->prime_pending = x->stream[0] && x->conn->http->store && !x->modern;
}

/* A resumable stream primes the client at once (SEP-1699): an id to come
 * back with, even if the stream ends before its first message, and how
 * long to wait before coming back. The id is an empty event in the store,
 * so "after the priming event" means "everything". Appended to into. */
static void x_priming(mcp_http_exchange *x, mcp_buf *into) {
    x->prime_pending = false;
    mcp_event_store *store = x->conn->http->store;
    char id[MCP_EVENT_ID_MAX];
    bool has_id = !x->resumed && store->append(store, x->stream, "", 0, id) == 0;
    if (x->resumed || has_id) mcp_sse_write_priming(into, has_id ? id : NULL, (long)x->conn->http->opts.sse_retry_ms);
}

void mcp_http_x_prime(mcp_http_exchange *x) {
    mcp_http_conn *conn = x->conn;
    if (!conn || !x->prime_pending) return;
    mcp_buf_reset(&conn->scratch);
    x_priming(x, &conn->scratch);
    if (conn->scratch.len) x_chunk(x, conn->scratch.data, conn->scratch.len);
}

void mcp_http_x_event(mcp_http_exchange *x, const char *message, size_t len) {
    mcp_http_conn *conn = x->conn;
    if (!conn) return;
    mcp_event_store *store = conn->http->store;
    char id[MCP_EVENT_ID_MAX];
    mcp_buf_reset(&conn->scratch);
    /* A stream opened for this event carries its priming event in the
     * same chunk: one write, and the client sees both at once. */
    if (x->prime_pending) x_priming(x, &conn->scratch);
    bool has_id = x->stream[0] && store && store->append(store, x->stream, message, len, id) == 0;
    if (mcp_sse_write_event(&conn->scratch, has_id ? id : NULL, message, len) == 0)
        x_chunk(x, conn->scratch.data, conn->scratch.len);
}

static void x_end_stream(mcp_http_exchange *x) {
    mcp_http_x_write(x, "0\r\n\r\n", 5);
    mcp_http_x_done(x);
}

/* The session id header for the reply to initialize, once it succeeded. */
static const char *session_header(mcp_http_exchange *x, char *buf, size_t size) {
    if (!x->send_session_id || !x->hs || !mcp_session_protocol_version(x->hs->session)) return NULL;
    snprintf(buf, size, "Mcp-Session-Id: %s\r\n", x->hs->id);
    return buf;
}

/* The HTTP status of a modern-era reply (the transport page names them).
 * Our own writer starts every result with the envelope and the id the
 * exchange already holds, so a result is known by its first bytes; only
 * what does not look like one is searched and classified. */
static int modern_status(const mcp_http_exchange *x, const char *message, size_t len) {
    if (mcp_http_is_result_for(x, message, len)) return 200;
    if (!memmem(message, len, "\"error\"", 7)) return 200;
    mcp_arena arena;
    mcp_arena_init(&arena, 1024);
    mcp_http_route r;
    int status = 200;
    if (mcp_http_classify(&arena, message, len, &r) == 0 && r.kind == MCP_RPC_ERROR_RESPONSE) {
        if (r.error_code == MCP_RPC_METHOD_NOT_FOUND) status = 404;
        else if (r.error_code == MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION ||
                 r.error_code == MCP_ERROR_MISSING_CLIENT_CAPABILITY || r.error_code == MCP_ERROR_HEADER_MISMATCH)
            status = 400;
    }
    mcp_arena_free(&arena);
    return status;
}

/* Open the SSE stream of a handshake or modern POST: a handshake-era one
 * gets the session's next stream name, which makes it resumable. */
static void x_open_stream(mcp_http_exchange *x) {
    if (x->hs && !x->modern) {
        pthread_mutex_lock(&x->hs->lock);
        snprintf(x->stream, sizeof x->stream, "%s/%u", x->hs->id, x->hs->next_stream++);
        pthread_mutex_unlock(&x->hs->lock);
    }
    char extra[96];
    mcp_http_x_start_stream(x, session_header(x, extra, sizeof extra));
}

/* End the stream now; the request goes on, and what it sends next waits
 * in the store for the client's GET with Last-Event-ID. A request that has
 * sent nothing yet opens its stream first, so the client has an id. */
static void x_close_early(mcp_http_exchange *x) {
    if (!x->hs || x->modern || x->is_get || !x->in_session_list) return;
    if (x->state == MCP_HTTP_X_WAITING) {
        if (!x->sse_ok) return;
        x_open_stream(x);
    }
    if (x->state != MCP_HTTP_X_STREAMING || !x->stream[0]) return;
    mcp_http_x_prime(x);
    mcp_http_x_write(x, "0\r\n\r\n", 5);
    x->state = MCP_HTTP_X_CLOSED;
    mcp_net_count(&x->conn->counters->streams_closed_early, 1);
}

/* A message for an exchange, on its loop. NULL message: end the stream
 * (or, when close_requested, end it early). */
void mcp_http_exchange_deliver(mcp_http_exchange *x, const char *message, size_t len) {
    mcp_http_conn *conn = x->conn;
    if (!conn || (x->state == MCP_HTTP_X_CLOSED && message)) {
        if (!message) return;
        if (x->hs) {
            pthread_mutex_lock(&x->hs->lock);
            mcp_http_exchange_orphan_deliver(x, message, len);
            pthread_mutex_unlock(&x->hs->lock);
        }
        if (conn && !conn->in_feed) conn_advance(conn);
        return;
    }
    if (x->state == MCP_HTTP_X_DONE) {
        if (message) mcp_net_count(&conn->counters->output_dropped, 1);
        return;
    }
    if (!message && __atomic_exchange_n(&x->close_requested, false, __ATOMIC_ACQ_REL) && x->hs) {
        /* The same empty note also means "the session was deleted": then
         * the stream ends for good (nobody could resume it). */
        pthread_mutex_lock(&x->hs->lock);
        bool deleted = x->hs->closed;
        pthread_mutex_unlock(&x->hs->lock);
        if (!deleted) {
            x_close_early(x);
            goto out;
        }
    }
    if (!message && x->state == MCP_HTTP_X_CLOSED) {
        /* The session ended: nobody will resume this stream. */
        mcp_http_x_done(x);
        goto out;
    }
    if (!message) {
        /* The session ended (DELETE) or the server drains. */
        if (x->state == MCP_HTTP_X_STREAMING) x_end_stream(x);
        else mcp_http_x_error(x, 404, (mcp_str){x->id.data, x->id.len}, -32001, "Session not found", NULL, NULL);
        goto out;
    }
    bool final = mcp_http_is_final(x, message, len);
    if (x->state == MCP_HTTP_X_WAITING) {
        bool use_json = final && x->json_ok && (!x->sse_ok || !x->prefer_sse);
        if (use_json) {
            char extra[96];
            int status = x->modern ? modern_status(x, message, len) : 200;
            if (status == 200) {
                mcp_http_x_respond_json_ok(x, message, len, session_header(x, extra, sizeof extra));
            } else {
                mcp_http_x_head(x, status, "application/json", (long)len, session_header(x, extra, sizeof extra));
                mcp_http_x_write(x, message, len);
            }
            mcp_net_count(&conn->counters->responses_json, 1);
            mcp_http_x_done(x);
            goto out;
        }
        if (!x->sse_ok) {
            /* A JSON-only client gets no notifications before its reply. */
            mcp_net_count(&conn->counters->output_dropped, 1);
            return;
        }
        /* A stream that is not resumable (no name, no priming, no store)
         * and carries only its reply: all of it at once. */
        if (final && !(x->hs && !x->modern) && mcp_http_x_respond_sse_once(x, message, len)) {
            mcp_net_count(&conn->counters->responses_sse, 1);
            mcp_http_x_done(x);
            goto out;
        }
        x_open_stream(x);
    }
    mcp_http_x_event(x, message, len);
    if (final) x_end_stream(x);
out:
    if (!conn->in_feed) conn_advance(conn);
}

void mcp_http_exchange_end(mcp_http_exchange *x) { mcp_http_exchange_deliver(x, NULL, 0); }

/* An orphaned GET stream keeps collecting events for the client's return
 * (Last-Event-ID), like an orphaned POST stream. */
bool mcp_http_exchange_orphan_deliver(mcp_http_exchange *x, const char *message, size_t len) {
    mcp_http_session *hs = x->hs;
    mcp_event_store *store = hs->http->store;
    if (x->stream[0] && store) {
        char id[MCP_EVENT_ID_MAX];
        store->append(store, x->stream, message, len, id);
    }
    if (mcp_http_is_final(x, message, len) && x->in_session_list) {
        /* Answered: nobody will resume it past this point. The list's
         * reference goes; the session's own reference keeps hs alive. */
        if (x->s_prev) x->s_prev->s_next = x->s_next;
        else hs->waiting = x->s_next;
        if (x->s_next) x->s_next->s_prev = x->s_prev;
        x->s_prev = x->s_next = NULL;
        x->in_session_list = false;
        x->state = MCP_HTTP_X_DONE;
        mcp_http_exchange_unref(x);
    }
    return true;
}

void mcp_http_exchange_route(mcp_http_exchange *x, const char *message, size_t len) {
    if (!x->worker || x->worker == mcp_net_worker_current()) {
        mcp_http_exchange_deliver(x, message, len);
        mcp_http_exchange_unref(x);
        return;
    }
    /* The reference travels with the note; a NULL message is an empty note. */
    mcp_net_worker_post_message(x->worker, MCP_HTTP_NOTE_EXCHANGE, NULL, x, message, message ? len : 0);
}

/* ---- The modern session's sink ------------------------------------------------------------ */
static mcp_http_exchange *conn_find(mcp_http_conn *conn, const mcp_http_route *r) {
    for (mcp_http_exchange *x = conn->head; x; x = x->next) {
        if (!x->modern || x->state == MCP_HTTP_X_DONE) continue;
        if ((r->kind == MCP_RPC_RESPONSE || r->kind == MCP_RPC_ERROR_RESPONSE) && r->id.len == x->id.len &&
            memcmp(r->id.ptr, x->id.data, x->id.len) == 0)
            return x;
        if (r->token.len && r->token.len == x->token.len && memcmp(r->token.ptr, x->token.data, x->token.len) == 0)
            return x;
        /* A subscriptions/listen stream: its notifications name its id. */
        if (r->subscription.len && r->subscription.len == x->id.len &&
            memcmp(r->subscription.ptr, x->id.data, x->id.len) == 0)
            return x;
    }
    return NULL;
}

void mcp_http_conn_on_note(mcp_http_conn *conn, const char *message, size_t len) {
    mcp_arena arena;
    mcp_arena_init(&arena, 2048);
    mcp_http_route r;
    mcp_http_exchange *x = NULL;
    if (mcp_http_classify(&arena, message, len, &r) == 0) x = conn_find(conn, &r);
    mcp_arena_free(&arena);
    if (x) mcp_http_exchange_deliver(x, message, len);
    else mcp_net_count(&conn->counters->output_dropped, 1);
}

static int conn_sink_write(void *user, const char *message, size_t len) {
    mcp_http_conn *conn = user;
    mcp_http_loan_settle();
    mcp_http_exchange *cur = mcp_http_current();
    /* Inside the synchronous handling of cur: its reply or its
     * notifications. A reply to another request (a call that cur's handler
     * finished) goes by its id, below, like one from another thread. */
    static const char REPLY_HEAD[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    if (cur && cur->conn == conn &&
        !(len > sizeof REPLY_HEAD - 1 && memcmp(message, REPLY_HEAD, sizeof REPLY_HEAD - 1) == 0 &&
          !mcp_http_is_final(cur, message, len))) {
        mcp_http_exchange_deliver(cur, message, len);
        return MCP_OK;
    }
    if (!conn->io.worker || conn->io.worker == mcp_net_worker_current()) {
        mcp_http_conn_on_note(conn, message, len);
        return MCP_OK;
    }
    mcp_net_worker_post_message(conn->io.worker, MCP_HTTP_NOTE_CONN, NULL, conn, message, len);
    return MCP_OK;
}

mcp_session *mcp_http_conn_modern(mcp_http_conn *conn) {
    if (!conn->modern)
        conn->modern = mcp_session_new(conn->http->server, &(mcp_sink){.write = conn_sink_write,
                                                                        .user = conn,
                                                                        .lend = mcp_http_conn_lend,
                                                                        .lent = mcp_http_conn_lent});
    return conn->modern;
}

/* ---- Connection ----------------------------------------------------------------------------- */
mcp_http_conn *mcp_http_conn_new(mcp_http_server *http, unsigned worker_index, const mcp_http_conn_io *io) {
    mcp_http_conn *conn = calloc(1, sizeof *conn);
    if (!conn) return NULL;
    conn->http = http;
    conn->worker_index = worker_index;
    conn->io = *io;
    conn->counters = mcp_http_counters_of(http, io->worker ? worker_index : http->workers);
    if (mcp_http_parser_init(&conn->parser, http->opts.max_header_size, http->opts.max_body_size)) {
        free(conn);
        return NULL;
    }
    mcp_buf_init(&conn->out);
    mcp_buf_init(&conn->scratch);
    mcp_buf_init(&conn->stash);
    mcp_arena_init(&conn->arena, 4096);
    loop_conns++;
    return conn;
}

mcp_buf *mcp_http_conn_out(mcp_http_conn *conn) { return &conn->out; }
uint64_t mcp_http_conn_last_active(const mcp_http_conn *conn) { return conn->last_active_ms; }
size_t mcp_http_conn_inflight(const mcp_http_conn *conn) { return conn->queued; }
bool mcp_http_conn_wants_pause(const mcp_http_conn *conn) { return conn->paused; }

bool mcp_http_conn_should_close(const mcp_http_conn *conn) {
    return conn->close_after && conn->queued == 0;
}

/* Pop finished exchanges off the head; hand the next its collected bytes. */
static void conn_advance(mcp_http_conn *conn) {
    mcp_http_loan_settle();
    bool popped = false;
    while (conn->head && (conn->head->state == MCP_HTTP_X_DONE || conn->head->state == MCP_HTTP_X_CLOSED)) {
        mcp_http_exchange *x = conn->head;
        conn->head = x->next;
        if (!conn->head) conn->tail = NULL;
        conn->queued--;
        x->next = NULL;
        if (x->state == MCP_HTTP_X_CLOSED && x->hs) {
            /* Still in the session's list: from now on its messages are
             * routed as an orphan's (under the lock that guards conn). */
            pthread_mutex_lock(&x->hs->lock);
            x->conn = NULL;
            x->worker = NULL;
            pthread_mutex_unlock(&x->hs->lock);
        } else {
            x->conn = NULL;
        }
        if (!x->keep_alive) {
            conn->close_after = true;
            conn->no_more_requests = true;
        }
        mcp_http_exchange_unref(x);
        popped = true;
        if (conn->head && conn->head->pending.len) {
            mcp_http_exchange *next = conn->head;
            if (mcp_buf_append(&conn->out, next->pending.data, next->pending.len)) conn->close_after = true;
            mcp_buf_free(&next->pending);
        }
    }
    if (conn->draining && conn->queued == 0) conn->close_after = true;
    if (popped && conn->paused && conn->queued < conn->http->opts.max_pipeline && !conn->in_feed) {
        conn->paused = false;
        mcp_buf input = conn->stash;
        mcp_buf_init(&conn->stash);
        conn->in_feed = true;
        conn_process(conn, (mcp_str){input.data ? input.data : "", input.len});
        conn->in_feed = false;
        mcp_buf_free(&input);
        conn_advance(conn);
    }
    if (!conn->in_feed && conn->io.flush) conn->io.flush(conn->io.user);
}

static void conn_bad_request(mcp_http_conn *conn, int status, const char *reason) {
    mcp_http_exchange *x = mcp_http_exchange_new(conn);
    conn->no_more_requests = true;
    conn->close_after = true;
    if (!x) return;
    x->keep_alive = false;
    char body[160];
    int n = snprintf(body, sizeof body, "%s\n", reason ? reason : mcp_http_reason(status));
    mcp_http_x_respond(x, status, "text/plain", body, (size_t)n, NULL);
}

static void conn_process(mcp_http_conn *conn, mcp_str input) {
    while (!conn->no_more_requests) {
        if (conn->queued >= conn->http->opts.max_pipeline) {
            /* Too many answers owed: keep the rest for later. */
            if (input.len && mcp_buf_append(&conn->stash, input.ptr, input.len)) conn->close_after = true;
            conn->paused = true;
            return;
        }
        mcp_http_request req;
        int rc = mcp_http_parser_next(&conn->parser, &input, &req);
        if (rc == MCP_HTTP_MORE) break;
        if (rc == MCP_HTTP_REQUEST) {
            mcp_net_count(&conn->counters->requests, 1);
            conn->request_started_ms = 0;
            mcp_http_exchange *x = mcp_http_exchange_new(conn);
            if (!x) {
                conn->no_more_requests = conn->close_after = true;
                break;
            }
            x->keep_alive = req.keep_alive;
            if (!req.keep_alive) conn->no_more_requests = true;
            mcp_http_handle_request(conn, x, &req);
            continue;
        }
        if (rc == MCP_HTTP_BAD) conn_bad_request(conn, conn->parser.error_status, conn->parser.error_reason);
        else conn->no_more_requests = conn->close_after = true;
        break;
    }
    if (mcp_http_parser_busy(&conn->parser)) {
        if (!conn->request_started_ms) conn->request_started_ms = conn->now_ms ? conn->now_ms : 1;
    } else {
        conn->request_started_ms = 0;
    }
}

void mcp_http_conn_feed(mcp_http_conn *conn, const char *data, size_t len, uint64_t now_ms) {
    conn->now_ms = now_ms;
    conn->last_active_ms = now_ms;
    if (conn->detached || conn->no_more_requests) return; /* input after the end is dropped */
    if (conn->paused) {
        if (mcp_buf_append(&conn->stash, data, len)) conn->close_after = true;
        return;
    }
    conn->in_feed = true;
    conn_process(conn, (mcp_str){data, len});
    conn->in_feed = false;
    conn_advance(conn);
}

void mcp_http_conn_tick(mcp_http_conn *conn, uint64_t now_ms) {
    conn->now_ms = now_ms;
    if (conn->detached) return;
    /* A connection that has sent nothing yet is idle from its first tick
     * (at most one sweep after accept), not since the clock's epoch. */
    if (!conn->last_active_ms) conn->last_active_ms = now_ms;
    const mcp_http_opts *o = &conn->http->opts;
    mcp_http_exchange *x = conn->head;
    if (x && x->is_get && x->hs && x->state == MCP_HTTP_X_STREAMING && o->ping_interval_ms &&
        mcp_http_session_ping_tick(conn, x, now_ms)) {
        if (conn->io.flush) conn->io.flush(conn->io.user);
        return;
    }
    x = conn->head; /* a ping goes out through x; the queue is unchanged, but read it again */
    if (x && x->state == MCP_HTTP_X_STREAMING && now_ms - x->last_write_ms >= o->keepalive_ms) {
        static const char comment[] = ": keep-alive\n\n";
        x_chunk(x, comment, sizeof comment - 1);
        mcp_net_count(&conn->counters->keepalives, 1);
        if (conn->io.flush) conn->io.flush(conn->io.user);
    }
    if (conn->request_started_ms && !conn->no_more_requests &&
        now_ms - conn->request_started_ms >= o->request_timeout_ms) {
        mcp_net_count(&conn->counters->request_timeouts, 1);
        conn->request_started_ms = 0;
        conn_bad_request(conn, 408, "request not received in time");
        conn_advance(conn);
        return;
    }
    if (conn->queued == 0 && !conn->request_started_ms && !conn->close_after &&
        now_ms - conn->last_active_ms >= conn->http->limits.idle_timeout_ms) {
        mcp_net_count(&conn->counters->idle_closed, 1);
        conn->close_after = true;
    }
}

void mcp_http_conn_drain(mcp_http_conn *conn) {
    conn->draining = true;
    conn->no_more_requests = true;
    mcp_buf_free(&conn->stash);
    conn->paused = false;
    /* Ending a stream may pop it off the queue: advance after the walk. */
    bool was_in_feed = conn->in_feed;
    conn->in_feed = true;
    for (mcp_http_exchange *x = conn->head; x; x = x->next)
        if (x->is_get && x->state == MCP_HTTP_X_STREAMING) {
            exchange_leave_session(x);
            x_end_stream(x);
        }
    /* Open subscriptions/listen streams end with their final result. */
    if (conn->modern) mcp_session_end_listens(conn->modern);
    conn->in_feed = was_in_feed;
    if (!conn->in_feed) conn_advance(conn);
}

mcp_session *mcp_http_conn_detach(mcp_http_conn *conn) {
    if (conn->detached) return NULL;
    conn->detached = true;
    mcp_http_exchange *x = conn->head;
    conn->head = conn->tail = NULL;
    conn->queued = 0;
    while (x) {
        mcp_http_exchange *next = x->next;
        x->next = NULL;
        if (x->modern && x->state != MCP_HTTP_X_DONE) mcp_net_count(&conn->counters->cancelled_by_close, 1);
        if (x->hs) {
            /* Handshake era: disconnection is not cancellation. A request
             * on a resumable stream keeps running and its events keep
             * going to the store; one answered as JSON has nowhere to go. */
            bool keep = x->stream[0] && (x->state == MCP_HTTP_X_STREAMING || x->state == MCP_HTTP_X_CLOSED) &&
                        (x->in_session_list || x->hs->get == x);
            pthread_mutex_lock(&x->hs->lock);
            x->conn = NULL;
            x->worker = NULL;
            pthread_mutex_unlock(&x->hs->lock);
            if (!keep) exchange_leave_session(x);
        } else {
            x->conn = NULL;
        }
        mcp_http_exchange_unref(x);
        x = next;
    }
    mcp_session *modern = conn->modern;
    conn->modern = NULL;
    return modern;
}

void mcp_http_conn_free(mcp_http_conn *conn) {
    if (!conn) return;
    mcp_session *modern = mcp_http_conn_detach(conn);
    if (modern) mcp_session_free(modern);
    if (--loop_conns == 0) {
        while (loop_spares) {
            mcp_http_exchange *x = loop_spares;
            loop_spares = x->next;
            exchange_free(x);
        }
        loop_spare_count = 0;
    }
    mcp_http_parser_free(&conn->parser);
    mcp_buf_free(&conn->out);
    mcp_buf_free(&conn->scratch);
    mcp_buf_free(&conn->stash);
    mcp_arena_free(&conn->arena);
    free(conn);
}
