/*
 * call.c — the mcp_call handle: its life between uses (the cache of the
 * thread that takes calls, else its session's pool), the result it
 * assembles around the content a handler added (call_content.c), and how
 * it completes (now, or later from another thread).
 *
 * Each call owns an arena and three buffers and is reused, so a warmed-up
 * server answers requests without calling malloc. A call
 * that goes asynchronous keeps everything it needs (id, params, registry
 * snapshot) in its own memory, independent of the message text.
 */
#include "internal.h"
#include "observe.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MCP_CALL_POOL_MAX 16

/* A member with a constant key and a constant string value, written as the
 * JSON text it is: no escaping pass for what is known to need none. */
#define WRITE_CONST_MEMBER(w, key, s) MCP_JSON_MEMBER((w), key, "\"" s "\"", sizeof(s) + 1)
/* Constant JSON text as a slice, for the writer's pieces. */
#define JSON_TEXT(lit) {"" lit, sizeof(lit) - 1}

/* Calls kept by the thread that takes them: a transport's worker loop
 * serving many sessions reuses the few calls it just recycled, still in
 * cache, instead of each session's own, which go cold one by one at a
 * thousand connections (http_sse_1k). Only a thread that takes calls keeps
 * them: a tool thread finishing calls would otherwise hoard them. A call
 * here keeps its registry snapshot, which owns all it refers to, so the
 * call may outlive its session and server; the thread's exit frees them. */
#define MCP_CALL_THREAD_CACHE 8

typedef struct thread_calls {
    mcp_call *head;
    unsigned count;
} thread_calls;

static _Thread_local thread_calls *this_thread_calls;
static pthread_key_t thread_calls_key;
static pthread_once_t thread_calls_once = PTHREAD_ONCE_INIT;
static bool thread_calls_keyed;

static void thread_calls_free(void *cache)
{
    thread_calls *tc = cache;
    mcp_call_pool_free(tc->head);
    free(tc);
}

static void thread_calls_key_make(void)
{
    thread_calls_keyed = pthread_key_create(&thread_calls_key, thread_calls_free) == 0;
}

/* This thread's cache, made on its first call taken (NULL without memory:
 * the sessions' pools serve then). */
static thread_calls *thread_calls_taker(void)
{
    thread_calls *tc = this_thread_calls;
    if (MCP_LIKELY(tc))
        return tc;
    pthread_once(&thread_calls_once, thread_calls_key_make);
    if (!thread_calls_keyed || !(tc = calloc(1, sizeof *tc)))
        return NULL;
    if (pthread_setspecific(thread_calls_key, tc) != 0) {
        free(tc);
        return NULL;
    }
    return this_thread_calls = tc;
}

mcp_call *mcp_call_acquire(mcp_session *session)
{
    mcp_call *call = NULL;
    thread_calls *tc = thread_calls_taker();
    if (tc && tc->head) {
        call = tc->head;
        tc->head = call->next;
        tc->count--;
    }
    if (!call) {
        pthread_mutex_lock(&session->lock);
        call = session->pool;
        if (call) {
            session->pool = call->next;
            session->pool_size--;
        }
        pthread_mutex_unlock(&session->lock);
    }
    if (!call) {
        call = calloc(1, sizeof *call);
        if (!call)
            return NULL;
        mcp_arena_init(&call->arena, 4096);
        mcp_buf_init(&call->items);
        mcp_buf_init(&call->structured);
        mcp_buf_init(&call->out);
    }
    call->session = session;
    call->next = NULL;
    /* A pooled call keeps the snapshot it last ran with (call_reset): as
     * long as the registry does not change, taking it costs a compare
     * instead of a locked increment and decrement per request, each of
     * which waited for the stores of the reply before it. */
    if (call->snap != session->snap) {
        mcp_registry_snapshot_release(call->snap);
        call->snap = session->snap;
        mcp_registry_snapshot_retain(call->snap);
    }
    /* No other thread can see the call before dispatch links it in under
     * the session lock, which publishes this store too. */
    atomic_store_explicit(&call->cancelled, false, memory_order_relaxed);
    return call;
}

/* Back to the state of a new call, except for its memory and its
 * snapshot reference (see mcp_call_acquire). */
static void call_reset(mcp_call *call)
{
    mcp_arena_reset(&call->arena);
    mcp_buf_reset(&call->items);
    mcp_buf_reset(&call->structured);
    mcp_buf_reset(&call->out);
    mcp_arena arena = call->arena;
    mcp_buf items = call->items, structured = call->structured, out = call->out;
    mcp_registry_snapshot *snap = call->snap;
    memset(call, 0, sizeof *call);
    call->arena = arena;
    call->items = items;
    call->structured = structured;
    call->out = out;
    call->snap = snap;
}

static void call_destroy(mcp_call *call)
{
    mcp_registry_snapshot_release(call->snap);
    mcp_arena_free(&call->arena);
    mcp_buf_free(&call->items);
    mcp_buf_free(&call->structured);
    mcp_buf_free(&call->out);
    free(call);
}

/* Under the session lock: unlink from the in-flight list, back to the pool. */
static void call_recycle_locked(mcp_session *session, mcp_call *call)
{
    for (mcp_call **p = &session->inflight; *p; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            break;
        }
    }
    call_reset(call);
    thread_calls *tc = this_thread_calls;
    if (tc && tc->count < MCP_CALL_THREAD_CACHE) {
        call->next = tc->head;
        tc->head = call;
        tc->count++;
        return;
    }
    if (session->pool_size < MCP_CALL_POOL_MAX) {
        call->next = session->pool;
        session->pool = call;
        session->pool_size++;
    } else {
        call_destroy(call);
    }
}

void mcp_call_release(mcp_call *call)
{
    mcp_session *session = call->session;
    pthread_mutex_lock(&session->lock);
    call_recycle_locked(session, call);
    pthread_mutex_unlock(&session->lock);
}

int mcp_call_set_error(mcp_call *call, int code, const char *message)
{
    if (call->fail_code)
        return 0; /* the first error wins */
    call->fail_code = code;
    call->fail_message = mcp_arena_strdup(&call->arena, message ? message : "");
    return call->fail_message ? 0 : MCP_ENOMEM;
}

/* Begins the response at the end of out. */
static void result_begin_into(mcp_call *call, mcp_json_writer *w, mcp_buf *out)
{
    /* {"jsonrpc":"2.0","id":…,"result":{ in one append; modern results
     * say first that they are complete. */
    static const mcp_str OPEN = JSON_TEXT(",\"result\":{");
    static const mcp_str OPEN_COMPLETE = JSON_TEXT(",\"result\":{\"resultType\":\"complete\"");
    mcp_str pieces[4] = {{"{", 1}};
    mcp_rpc_response_head(&call->id, pieces + 1);
    pieces[3] = call->modern ? OPEN_COMPLETE : OPEN;
    mcp_json_writer_init(w, out);
    mcp_json_open_objects(w, pieces, 4, 2);
}

void mcp_call_result_begin(mcp_call *call, mcp_json_writer *w)
{
    mcp_buf_reset(&call->out);
    result_begin_into(call, w, &call->out);
}

/* The handler's _meta; in the modern era the server's own identity joins
 * it unless the handler named the server itself. */
static void write_result_meta(mcp_call *call, mcp_json_writer *w)
{
    bool add_info = call->modern;
    MCP_JSON_KEY(w, "_meta");
    mcp_json_begin_object(w);
    for (const mcp_json *m = mcp_json_first(call->result_meta); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, "io.modelcontextprotocol/serverInfo"))
            add_info = false;
        mcp_json_write_key_n(w, key.ptr, key.len);
        mcp_json_write_value(w, m);
    }
    if (add_info) {
        MCP_JSON_KEY(w, "io.modelcontextprotocol/serverInfo");
        mcp_server_write_info(call->session->server, call->version, w);
    }
    mcp_json_end_object(w);
}

void mcp_call_result_end(mcp_call *call, mcp_json_writer *w)
{
    if (call->result_meta) {
        write_result_meta(call, w);
    } else if (call->modern) {
        /* Servers SHOULD identify themselves on every modern response. */
        const mcp_session *s = call->session;
        if (s->modern_meta) {
            MCP_JSON_MEMBER(w, "_meta", s->modern_meta, s->modern_meta_len);
        } else {
            MCP_JSON_KEY(w, "_meta");
            mcp_json_begin_object(w);
            MCP_JSON_KEY(w, "io.modelcontextprotocol/serverInfo");
            mcp_server_write_info(s->server, call->version, w);
            mcp_json_end_object(w);
        }
    }
    mcp_json_end_object(w);
    mcp_rpc_end_result(w);
}

void mcp_call_write_cache_hints(mcp_call *call, mcp_json_writer *w)
{
    if (!call->modern)
        return;
    /* By default registries can change at any moment and may be filtered
     * per caller in the future: no freshness promise, no sharing across
     * callers. Servers and resources that know better say so. */
    const mcp_server_opts *opts = &call->session->server->opts;
    const mcp_registry_entry *e = call->kind == MCP_CALL_RESOURCE ? call->entry : NULL;
    MCP_JSON_KEY(w, "ttlMs");
    /* A resource that is never cached here must not be cached by the client
     * on the server's say-so either. */
    mcp_json_write_int(w, e && e->ttl_ms < 0 ? 0 : e && e->ttl_ms > 0 ? e->ttl_ms : (int64_t)opts->ttl_ms);
    MCP_JSON_KEY(w, "cacheScope");
    mcp_json_write_cstr(w, e && e->cache_scope ? e->cache_scope : opts->cache_scope ? opts->cache_scope : "private");
}

/* The member key: [items], the items framed in one append. */
#define WRITE_ITEMS(w, key, items) write_items((w), "" key, sizeof(key) - 1, (items))
static void write_items(mcp_json_writer *w, const char *key, size_t key_len, const mcp_buf *items)
{
    const mcp_str array[3] = {{"[", 1}, {items->data, items->len}, {"]", 1}};
    mcp_json_write_member_pieces(w, key, key_len, array, 3);
}

/* Check structuredContent against the tool's outputSchema. A mismatch is the
 * server's own fault, so it becomes -32603, not a result. */
static int check_structured(mcp_call *call)
{
    const mcp_registry_entry *e = call->entry;
    if (call->is_error || !e || !e->has_output_schema)
        return 0;
    if (call->structured.len == 0)
        return mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR,
                                  "Tool has an output schema but returned no structuredContent");
    mcp_json *doc = NULL;
    if (mcp_json_parse(&call->arena, call->structured.data, call->structured.len, NULL, &doc, NULL) != 0)
        return mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Tool returned invalid structuredContent");
    mcp_buf why;
    mcp_buf_init(&why);
    int rc = mcp_schema_validate(e->output_schema, doc, &why);
    if (rc == MCP_EINVAL) {
        char *msg = mcp_arena_sprintf(&call->arena, "structuredContent does not match the tool's outputSchema: %s",
                                      why.data ? why.data : "");
        rc = mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, msg ? msg : "structuredContent does not match");
    }
    mcp_buf_free(&why);
    return rc;
}

/* Modern era: the handler needs the client first. */
static void assemble_input_required(mcp_call *call, mcp_buf *out)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_rpc_begin_result(&w, &call->id);
    mcp_json_begin_object(&w);
    WRITE_CONST_MEMBER(&w, "resultType", "input_required");
    if (call->requests) {
        MCP_JSON_KEY(&w, "inputRequests");
        mcp_json_begin_object(&w);
        for (const mcp_input_entry *in = call->requests; in; in = in->next) {
            mcp_json_write_key(&w, in->key);
            mcp_json_begin_object(&w);
            MCP_JSON_KEY(&w, "method");
            mcp_json_write_cstr(&w, in->method);
            if (in->params) {
                MCP_JSON_KEY(&w, "params");
                mcp_json_write_raw(&w, in->params, strlen(in->params));
            }
            mcp_json_end_object(&w);
        }
        mcp_json_end_object(&w);
    }
    if (call->next_state) {
        const char *sealed = mcp_request_state_seal(call, call->next_state);
        if (!sealed) {
            mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
            return;
        }
        MCP_JSON_KEY(&w, "requestState");
        mcp_json_write_cstr(&w, sealed);
    }
    mcp_call_result_end(call, &w);
    if (mcp_json_writer_status(&w) != 0)
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
}

/* The usual tool result, text content and nothing else, in one append:
 * the response's members, the whole result object included, go in as
 * pieces of JSON text (a handful of writer calls cost more than the
 * copying). The bytes are those of the general path below. False when the
 * result is not of that kind. */
static bool assemble_plain_tool(mcp_call *call, mcp_buf *out)
{
    const mcp_session *s = call->session;
    if (call->kind != MCP_CALL_TOOL || call->structured.len || call->is_error || call->result_meta ||
        (call->modern && !s->modern_tail))
        return false;
    static const mcp_str MODERN_OPEN = JSON_TEXT(",\"result\":{\"resultType\":\"complete\",\"content\":[");
    static const mcp_str LEGACY_OPEN = JSON_TEXT(",\"result\":{\"content\":[");
    static const mcp_str TEXT_OPEN = JSON_TEXT("{\"type\":\"text\",\"text\":");
    mcp_str pieces[7];
    size_t n = 2;
    mcp_rpc_response_head(&call->id, pieces);
    pieces[n++] = call->modern ? MODERN_OPEN : LEGACY_OPEN;
    if (call->borrowed_text.ptr) {
        /* The one text block, its text straight from the request. */
        pieces[n++] = TEXT_OPEN;
        pieces[n++] = call->borrowed_text;
        pieces[n++] = (mcp_str){"}", 1};
    } else {
        pieces[n++] = (mcp_str){call->items.data, call->items.len};
    }
    pieces[n++] = call->modern ? (mcp_str){s->modern_tail, s->modern_tail_len} : (mcp_str){"]}", 2};
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object_with(&w, pieces, n);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) != 0)
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
    return true;
}

/* Appends the response to out (call->out, or the transport's own buffer). */
static void assemble(mcp_call *call, mcp_buf *out)
{
    if (call->input_required) {
        assemble_input_required(call, out);
        return;
    }
    if (assemble_plain_tool(call, out))
        return;
    if (mcp_call_items_settle(call) != 0) {
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
        return;
    }
    mcp_json_writer w;
    result_begin_into(call, &w, out);
    switch (call->kind) {
    case MCP_CALL_TOOL:
        if (call->items.len == 0 && call->structured.len) {
            /* Older clients read content only: mirror the structured result
             * as text, as the specification recommends. */
            MCP_JSON_KEY(&w, "content");
            mcp_json_begin_array(&w);
            mcp_json_begin_object(&w);
            WRITE_CONST_MEMBER(&w, "type", "text");
            MCP_JSON_KEY(&w, "text");
            mcp_json_write_string(&w, call->structured.data, call->structured.len);
            mcp_json_end_object(&w);
            mcp_json_end_array(&w);
        } else {
            WRITE_ITEMS(&w, "content", &call->items);
        }
        if (call->structured.len) {
            MCP_JSON_KEY(&w, "structuredContent");
            mcp_json_write_raw(&w, call->structured.data, call->structured.len);
        }
        if (call->is_error) {
            MCP_JSON_KEY(&w, "isError");
            mcp_json_write_bool(&w, true);
        }
        break;
    case MCP_CALL_RESOURCE:
        WRITE_ITEMS(&w, "contents", &call->items);
        mcp_call_write_cache_hints(call, &w);
        break;
    case MCP_CALL_PROMPT:
        if (call->description) {
            MCP_JSON_KEY(&w, "description");
            mcp_json_write_cstr(&w, call->description);
        }
        WRITE_ITEMS(&w, "messages", &call->items);
        break;
    case MCP_CALL_COMPLETION:
        MCP_JSON_KEY(&w, "completion");
        mcp_json_begin_object(&w);
        WRITE_ITEMS(&w, "values", &call->items);
        if (call->completion_total_set) {
            MCP_JSON_KEY(&w, "total");
            mcp_json_write_uint(&w, call->completion_total);
        }
        MCP_JSON_KEY(&w, "hasMore");
        mcp_json_write_bool(&w, call->completion_has_more);
        mcp_json_end_object(&w);
        break;
    case MCP_CALL_DIRECT:
        break;
    }
    mcp_call_result_end(call, &w);
    if (mcp_json_writer_status(&w) != 0)
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
}

/* Recycles a completed call; the session lock is held. */
static void complete_locked(mcp_session *session, mcp_call *call)
{
    bool was_async = call->state == MCP_CALL_ASYNC;
    call_recycle_locked(session, call);
    if (was_async && --session->pending == 0)
        pthread_cond_broadcast(&session->idle);
}

/* The usual reply, written in place into the transport's output buffer
 * when its sink lends one (mcp_sink.lend): a 1 KiB tool result is then
 * built once instead of built and copied. Only where the plain locked write
 * would go to sink.write anyway: not for batches, tasks, open listens,
 * cancelled calls or requests routed by write_for, and not under an
 * observer, whose span must end before the reply can leave. False when the
 * caller must take the usual path (nothing was written then). */
static bool complete_in_place(mcp_call *call)
{
    mcp_session *s = call->session;
    const mcp_sink *sink = &s->sink;
    /* Only the call whose handler just returned on this thread: a call
     * finished from inside another request's handling would be built as
     * that request's reply by a transport that answers per request. */
    if (!sink->lend || !sink->lent || call->state != MCP_CALL_IN_HANDLER || call->batch || call->task ||
        call->listen || s->server->opts.observer || atomic_load(&call->cancelled))
        return false;
    pthread_mutex_lock(&s->lock);
    mcp_buf *out = NULL;
    if (!(s->write_for && call->id.type != MCP_RPC_ID_NONE))
        out = sink->lend(sink->user);
    if (!out) {
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    size_t start = out->len;
    assemble(call, out);
    if (call->fail_code) {
        /* Take back the partial reply; the error goes out the usual way. */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    sink->lent(sink->user, start);
    complete_locked(s, call);
    pthread_mutex_unlock(&s->lock);
    return true;
}

void mcp_call_complete(mcp_call *call, int rc)
{
    mcp_session *session = call->session;
    if (rc < 0 && !call->fail_code) {
        char msg[96];
        snprintf(msg, sizeof msg, "Internal error: %s", mcp_strerror(rc));
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, msg);
    }
    if (!call->fail_code && call->kind == MCP_CALL_RESOURCE && call->item_count == 0 && !call->input_required)
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Resource handler produced no contents");
    if (!call->fail_code && call->kind == MCP_CALL_TOOL && !call->input_required)
        check_structured(call);
    if (!call->fail_code && call->kind != MCP_CALL_DIRECT) {
        if (complete_in_place(call))
            return;
        if (!call->fail_code) {
            mcp_buf_reset(&call->out);
            assemble(call, &call->out);
        }
    }
    if (call->fail_code) {
        mcp_buf_reset(&call->out);
        if (mcp_rpc_write_error(&call->out, &call->id, call->fail_code, call->fail_message, call->fail_data) != 0)
            mcp_buf_reset(&call->out);
    }
    if (session->server->opts.observer)
        mcp_observe_end(call);
    /* A cancelled request gets no response (the peer has stopped waiting);
     * a batch still counts it as answered. */
    bool locked = false;
    if (call->task) {
        mcp_task_settle(call); /* answered already: the reply is the task's */
    } else if (atomic_load(&call->cancelled) || (call->listen && !call->fail_code)) {
        /* (An open listen is answered only when it ends: notify.c.) */
        mcp_session_emit(session, call->batch, NULL, 0);
    } else if (!call->batch) {
        /* The usual case: write and recycle in one locked section. */
        pthread_mutex_lock(&session->lock);
        locked = true;
        if (call->out.len)
            mcp_session_write_locked(session, &call->id, call->out.data, call->out.len);
    } else {
        mcp_session_emit_for(session, &call->id, call->batch, call->out.data, call->out.len);
    }

    if (!locked)
        pthread_mutex_lock(&session->lock);
    complete_locked(session, call);
    pthread_mutex_unlock(&session->lock);
}

int mcp_call_finish(mcp_call *call)
{
    if (!call)
        return MCP_EINVAL;
    mcp_session *session = call->session;
    pthread_mutex_lock(&session->lock);
    if (call->state == MCP_CALL_IN_HANDLER) {
        /* Finished before its handler even returned MCP_PENDING: the
         * dispatcher completes it when the handler returns. */
        call->finish_requested = true;
        pthread_mutex_unlock(&session->lock);
        return 0;
    }
    pthread_mutex_unlock(&session->lock);
    mcp_call_complete(call, 0);
    return 0;
}

int mcp_call_fail(mcp_call *call, int rpc_code, const char *message)
{
    if (!call)
        return MCP_EINVAL;
    return mcp_call_set_error(call, rpc_code, message);
}

int mcp_call_fail_data(mcp_call *call, int rpc_code, const char *message, const char *data_json)
{
    if (!call || (data_json && mcp_json_validate(data_json, strlen(data_json), NULL, NULL) != 0))
        return MCP_EINVAL;
    if (call->fail_code)
        return 0; /* the first error wins, data included */
    const char *data = data_json ? mcp_arena_strdup(&call->arena, data_json) : NULL;
    if (data_json && !data)
        return MCP_ENOMEM;
    int rc = mcp_call_set_error(call, rpc_code, message);
    if (rc == 0)
        call->fail_data = data;
    return rc;
}

int mcp_call_result_meta(mcp_call *call, const char *meta_json)
{
    if (!call || !meta_json)
        return MCP_EINVAL;
    size_t len = strlen(meta_json);
    char *copy = mcp_arena_strndup(&call->arena, meta_json, len);
    mcp_json *doc = NULL;
    if (!copy)
        return MCP_ENOMEM;
    if (mcp_json_parse(&call->arena, copy, len, NULL, &doc, NULL) != 0 || !mcp_json_is_object(doc))
        return MCP_EINVAL;
    call->result_meta = doc;
    return 0;
}

int mcp_call_progress(mcp_call *call, double progress, double total, const char *message)
{
    if (!call)
        return MCP_EINVAL;
    if (call->progress_token.type == MCP_RPC_ID_NONE)
        return 0; /* the caller did not ask for progress */
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_rpc_begin_notification(&w, "notifications/progress");
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "progressToken");
    mcp_json_write_raw(&w, call->progress_token.text.ptr, call->progress_token.text.len);
    MCP_JSON_KEY(&w, "progress");
    mcp_json_write_double(&w, progress);
    if (total > 0) {
        MCP_JSON_KEY(&w, "total");
        mcp_json_write_double(&w, total);
    }
    /* ProgressNotification.message appeared in 2025-03-26. */
    if (message && mcp_protocol_compare(call->version, "2025-03-26") >= 0) {
        MCP_JSON_KEY(&w, "message");
        mcp_json_write_cstr(&w, message);
    }
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0)
        mcp_session_emit_for(call->session, &call->id, NULL, buf.data, buf.len);
    mcp_buf_free(&buf);
    return rc;
}

bool mcp_call_is_cancelled(const mcp_call *call)
{
    return call && atomic_load_explicit(&((mcp_call *)call)->cancelled, memory_order_acquire);
}

const char *mcp_call_method(const mcp_call *call)
{
    return call ? call->method : NULL;
}

const char *mcp_call_protocol_version(const mcp_call *call)
{
    return call ? call->version : NULL;
}

mcp_arena *mcp_call_arena(mcp_call *call)
{
    return call ? &call->arena : NULL;
}

void mcp_call_pool_free(mcp_call *pool)
{
    while (pool) {
        mcp_call *next = pool->next;
        call_destroy(pool);
        pool = next;
    }
}
