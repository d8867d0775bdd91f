/*
 * session.c — one conversation with one peer: framing-free message intake,
 * envelope errors, batches, notifications, and serialized output.
 *
 * mcp_session_handle is called by one transport thread at a time; replies
 * of asynchronous handlers may arrive from other threads, so every sink
 * write happens under the session lock, one complete message at a time.
 */
#include "internal.h"
#include "rpc/envelope_built.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

static void staged_drop(mcp_session *s);

mcp_session *mcp_session_new(mcp_server *server, const mcp_sink *sink)
{
    if (!server || !sink || !sink->write)
        return NULL;
    mcp_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->server = server;
    s->sink = *sink;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    mcp_arena_init(&s->arena, 8192);
    mcp_buf_init(&s->scratch);
    s->snap = mcp_server_snapshot_acquire(server);
    s->snap_generation = s->snap->generation;
    s->log_level = -1;
    mcp_arena_init(&s->caps_arena, 512);
    static const char TAIL_HEAD[] = "],\"_meta\":";
    mcp_json_writer w;
    /* Without the tail the session writes each result's end in pieces. */
    bool head_ok = mcp_buf_append(&s->scratch, TAIL_HEAD, sizeof TAIL_HEAD - 1) == 0;
    mcp_json_writer_init(&w, &s->scratch);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "io.modelcontextprotocol/serverInfo");
    mcp_server_write_info(server, MCP_PROTOCOL_MODERN, &w);
    mcp_json_end_object(&w);
    char *tail = NULL;
    if (head_ok && mcp_json_writer_status(&w) == 0 && mcp_buf_append_char(&s->scratch, '}') == 0)
        tail = mcp_arena_strndup(&s->caps_arena, s->scratch.data, s->scratch.len);
    if (tail) {
        s->modern_tail = tail;
        s->modern_tail_len = s->scratch.len;
        s->modern_meta = tail + sizeof TAIL_HEAD - 1;
        s->modern_meta_len = s->scratch.len - (sizeof TAIL_HEAD - 1) - 1;
    }
    mcp_buf_reset(&s->scratch);
    mcp_server_sessions_add(server, s);
    return s;
}

void mcp_session_free(mcp_session *s)
{
    if (!s)
        return;
    mcp_server_sessions_remove(s->server, s);
    pthread_mutex_lock(&s->lock);
    for (mcp_call *c = s->inflight; c; c = c->next)
        atomic_store(&c->cancelled, true);
    /* Calls waiting for the client's input would wait forever: end them. */
    for (;;) {
        mcp_call *waiting = NULL;
        for (mcp_call *c = s->inflight; c && !waiting; c = c->next)
            if (c->state == MCP_CALL_AWAIT_INPUT)
                waiting = c;
        if (!waiting)
            break;
        for (mcp_outbound **p = &s->outbound; *p;) {
            mcp_outbound *o = *p;
            if (o->call == waiting) {
                *p = o->next;
                free(o);
            } else {
                p = &o->next;
            }
        }
        waiting->state = MCP_CALL_ASYNC;
        s->awaiting_input--;
        pthread_mutex_unlock(&s->lock);
        mcp_call_complete(waiting, 0);
        pthread_mutex_lock(&s->lock);
    }
    while (s->pending > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
    staged_drop(s);
    mcp_session_outbound_close(s);
    mcp_session_listens_free(s);
    mcp_session_subscriptions_free(s);
    mcp_session_tasks_free(s);
    mcp_arena_free(&s->caps_arena); /* also modern_meta */
    mcp_call_pool_free(s->pool);
    mcp_registry_snapshot_release(s->snap);
    mcp_arena_free(&s->arena);
    mcp_buf_free(&s->scratch);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int mcp_session_drain(mcp_session *s, unsigned timeout_ms)
{
    if (!s)
        return MCP_EINVAL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_cond_timedwait's clock */
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    /* Calls waiting for the client's input are not ours to finish. */
    while (s->pending > s->awaiting_input && rc == 0) {
        if (timeout_ms == 0)
            pthread_cond_wait(&s->idle, &s->lock);
        else if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT)
            rc = MCP_ETIMEDOUT;
    }
    if (s->pending <= s->awaiting_input)
        rc = 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

size_t mcp_session_pending(const mcp_session *s)
{
    if (!s)
        return 0;
    /* The lock is not const, but reading under it changes nothing visible. */
    mcp_session *m = (mcp_session *)s;
    pthread_mutex_lock(&m->lock);
    size_t n = (size_t)m->pending;
    pthread_mutex_unlock(&m->lock);
    return n;
}

int mcp_session_set_write_for(mcp_session *s, mcp_sink_write_for_fn write_for)
{
    if (!s)
        return MCP_EINVAL;
    pthread_mutex_lock(&s->lock);
    s->write_for = write_for;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

const char *mcp_session_protocol_version(const mcp_session *s)
{
    return s && s->state == MCP_SESSION_READY ? s->version : NULL;
}

void mcp_session_write_locked(mcp_session *s, const mcp_rpc_id *request, const char *text, size_t len)
{
    if (request && request->type != MCP_RPC_ID_NONE && s->write_for)
        s->write_for(s->sink.user, request->text.ptr, request->text.len, text, len);
    else
        s->sink.write(s->sink.user, text, len);
}

void mcp_session_emit(mcp_session *s, mcp_batch_reply *batch, const char *text, size_t len)
{
    mcp_session_emit_for(s, NULL, batch, text, len);
}

void mcp_session_emit_for(mcp_session *s, const mcp_rpc_id *request, mcp_batch_reply *batch, const char *text,
                          size_t len)
{
    pthread_mutex_lock(&s->lock);
    if (!batch) {
        if (len)
            mcp_session_write_locked(s, request, text, len);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (len) {
        mcp_buf_append_char(&batch->buf, batch->written ? ',' : '[');
        mcp_buf_append(&batch->buf, text, len);
        batch->written++;
    }
    if (--batch->outstanding == 0) {
        /* A batch of notifications only gets no reply at all. */
        if (batch->written && mcp_buf_append_char(&batch->buf, ']') == 0)
            s->sink.write(s->sink.user, batch->buf.data, batch->buf.len);
        mcp_buf_free(&batch->buf);
        free(batch);
    }
    pthread_mutex_unlock(&s->lock);
}

void mcp_session_emit_error(mcp_session *s, mcp_batch_reply *batch, const mcp_rpc_id *id, int code,
                            const char *message, const char *data_json)
{
    mcp_buf buf;
    mcp_buf_init(&buf);
    if (mcp_rpc_write_error(&buf, id, code, message, data_json) == 0)
        mcp_session_emit(s, batch, buf.data, buf.len);
    else
        mcp_session_emit(s, batch, NULL, 0);
    mcp_buf_free(&buf);
}

static void handle_one(mcp_session *s, const mcp_rpc_message *msg, mcp_batch_reply *batch, mcp_call *owner)
{
    switch (msg->kind) {
    case MCP_RPC_INVALID:
        mcp_session_emit_error(s, batch, &msg->id, msg->error_code, msg->error_message, NULL);
        return;
    case MCP_RPC_REQUEST:
        mcp_dispatch_request(s, msg, batch, owner);
        return;
    case MCP_RPC_NOTIFICATION:
        mcp_dispatch_notification(s, msg);
        return;
    case MCP_RPC_RESPONSE:
    case MCP_RPC_ERROR_RESPONSE:
        /* The answer to one of our requests; never answered itself. */
        mcp_session_response(s, msg);
        return;
    }
}

static bool batch_allowed(const mcp_session *s)
{
    /* JSON-RPC batches exist only in 2025-03-26 (added then, removed in
     * 2025-06-18), and initialize itself may not be batched. */
    return s->state == MCP_SESSION_READY && strcmp(s->version, "2025-03-26") == 0;
}

static void staged_drop(mcp_session *s)
{
    if (s->staged)
        mcp_call_release(s->staged);
    s->staged = NULL;
    s->staged_ready = false;
}

/* The text is copied into a pooled call's arena and built there whole: a
 * single request then runs in that very call, so its params are parsed once
 * and stay valid however long the call lives (asynchronous handlers). */
int mcp_session_parse(mcp_session *s, const char *message, size_t len, const mcp_rpc_batch **out)
{
    if (!s || (!message && len) || !out)
        return MCP_EINVAL;
    *out = NULL;
    staged_drop(s);
    mcp_arena_reset(&s->arena);

    uint64_t gen = mcp_server_generation(s->server);
    if (gen != s->snap_generation) {
        mcp_registry_snapshot_release(s->snap);
        s->snap = mcp_server_snapshot_acquire(s->server);
        s->snap_generation = s->snap->generation;
    }

    const mcp_server_opts *opts = &s->server->opts;
    mcp_rpc_batch *parsed = &s->staged_batch;
    memset(parsed, 0, sizeof *parsed);
    if (len > opts->max_message_size) {
        parsed->error_code = MCP_RPC_INVALID_REQUEST;
        parsed->error_message = "Invalid Request: message exceeds the size limit";
    } else {
        mcp_call *call = mcp_call_acquire(s);
        if (!call)
            return MCP_ENOMEM;
        s->staged = call;
        char *copy = mcp_arena_strndup(&call->arena, message ? message : "", len);
        if (!copy) {
            staged_drop(s);
            return MCP_ENOMEM;
        }
        mcp_json_opts jopts = {.max_depth = opts->max_json_depth, .max_size = opts->max_message_size};
        int rc = mcp_rpc_parse_built(&call->arena, copy, len, &jopts, parsed);
        if (rc != 0) {
            staged_drop(s);
            return rc;
        }
    }
    s->staged_ready = true;
    *out = parsed;
    return 0;
}

int mcp_session_run(mcp_session *s)
{
    if (!s || !s->staged_ready)
        return MCP_EINVAL;
    s->staged_ready = false;
    mcp_call *owner = s->staged;
    s->staged = NULL;
    /* A copy: a handler whose output comes straight back in (an in-process
     * peer) may parse the next message before this one is done. */
    const mcp_rpc_batch batch_copy = s->staged_batch;
    const mcp_rpc_batch *parsed = &batch_copy;
    int rc = 0;
    if (parsed->error_code) {
        mcp_session_emit_error(s, NULL, NULL, parsed->error_code, parsed->error_message, NULL);
    } else if (!parsed->is_batch) {
        bool runs = parsed->items[0].kind == MCP_RPC_REQUEST;
        handle_one(s, &parsed->items[0], NULL, runs ? owner : NULL);
        if (runs)
            owner = NULL;
    } else if (!batch_allowed(s)) {
        mcp_session_emit_error(s, NULL, NULL, MCP_RPC_INVALID_REQUEST,
                               "Invalid Request: batches are not supported by the negotiated protocol version",
                               NULL);
    } else {
        mcp_batch_reply *batch = calloc(1, sizeof *batch);
        if (!batch) {
            rc = MCP_ENOMEM;
        } else {
            mcp_buf_init(&batch->buf);
            /* One extra count keeps the batch open until every item is dispatched. */
            batch->outstanding = 1;
            for (size_t i = 0; i < parsed->count; i++)
                if (parsed->items[i].kind == MCP_RPC_REQUEST || parsed->items[i].kind == MCP_RPC_INVALID)
                    batch->outstanding++;
            /* Each request of a batch copies its params into a call of its own. */
            for (size_t i = 0; i < parsed->count; i++)
                handle_one(s, &parsed->items[i], batch, NULL);
            mcp_session_emit(s, batch, NULL, 0);
        }
    }
    if (owner)
        mcp_call_release(owner);
    return rc;
}

int mcp_session_handle(mcp_session *s, const char *message, size_t len)
{
    const mcp_rpc_batch *parsed;
    int rc = mcp_session_parse(s, message, len, &parsed);
    return rc != 0 ? rc : mcp_session_run(s);
}
