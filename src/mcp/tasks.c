/*
 * tasks.c — task-augmented tools/call (2025-11-25): the client adds a
 * "task" param, we answer at once with a CreateTaskResult and run the tool
 * as usual, but its reply goes into the task instead of onto the wire. The
 * client polls with tasks/get, lists with tasks/list, stops with
 * tasks/cancel, and fetches the reply with tasks/result, which waits (as a
 * pending call) until the task is terminal. Status changes are announced
 * with notifications/tasks/status.
 *
 * Tasks belong to the session that created them (the requestor), live in a
 * list under the session lock, and are dropped lazily once terminal and
 * past their ttl. A task id is 128 bits from getrandom(), as hex.
 *
 * The modern era's tasks extension lives in tasks_modern.c; tasks/get and
 * tasks/cancel of a modern request are handed over to it from here.
 */
#include "tasks_modern.h"
#include "tasks_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_DEFAULT_TTL_MS MCP_TASK_DEFAULT_TTL_MS /* when the client asks for none */
#define TASK_MAX_TTL_MS 86400000     /* a day: longer requests are shortened */
#define TASK_WAITERS_MAX 8

struct mcp_task {
    mcp_task *next;
    char id[33];
    mcp_task_status status;
    char *status_message;
    uint64_t created_ms, updated_ms, ttl_ms;
    char *result;          /* JSON text: the result object, or the error object */
    bool result_is_error;
    mcp_call *call;        /* running, or NULL once settled */
    mcp_call *waiters[TASK_WAITERS_MAX]; /* tasks/result calls, pending */
    size_t waiter_count;
};

static void task_free(mcp_task *t)
{
    free(t->status_message);
    free(t->result);
    free(t);
}

void mcp_session_tasks_free(mcp_session *s)
{
    while (s->tasks) {
        mcp_task *t = s->tasks;
        s->tasks = t->next;
        task_free(t);
    }
}

static void write_task(mcp_json_writer *w, const mcp_task *t)
{
    mcp_task_write_fields(w, &(mcp_task_fields){.id = t->id,
                                                 .status = mcp_task_status_name(t->status),
                                                 .status_message = t->status_message,
                                                 .created_ms = t->created_ms,
                                                 .updated_ms = t->updated_ms,
                                                 .ttl_ms = t->ttl_ms,
                                                 .modern = false});
}

/* Under the session lock: a status change, announced. */
static void set_status(mcp_session *s, mcp_task *t, mcp_task_status status, const char *message)
{
    if (t->status == status && !message)
        return;
    t->status = status;
    t->updated_ms = mcp_wall_ms();
    if (message) {
        free(t->status_message);
        t->status_message = strdup(message);
    }
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_rpc_begin_notification(&w, "notifications/tasks/status");
    mcp_json_begin_object(&w);
    write_task(&w, t);
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    if (mcp_json_writer_status(&w) == 0)
        s->sink.write(s->sink.user, buf.data, buf.len);
    mcp_buf_free(&buf);
}

/* Under the session lock: drop terminal tasks whose ttl has passed. */
static void purge_locked(mcp_session *s)
{
    uint64_t now = mcp_wall_ms();
    for (mcp_task **p = &s->tasks; *p;) {
        mcp_task *t = *p;
        if (mcp_task_status_terminal(t->status) && !t->call && t->waiter_count == 0 && now - t->created_ms > t->ttl_ms) {
            *p = t->next;
            task_free(t);
        } else {
            p = &t->next;
        }
    }
}

static mcp_task *find_locked(mcp_session *s, const char *id)
{
    for (mcp_task *t = s->tasks; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

const char *mcp_task_id(const mcp_task *task)
{
    return task->id;
}

/* Handshake sessions from 2025-11-25 have tasks in the core protocol; the
 * modern era has them as an extension (tasks_modern.c), whose methods
 * check per request that the client declared it. */
bool mcp_tasks_enabled(const mcp_call *call)
{
    return call->modern || mcp_protocol_compare(call->version, "2025-11-25") >= 0;
}

/* tools/call with a task param: answer with CreateTaskResult now; the
 * call then runs with its reply diverted into the task. */
int mcp_task_begin(mcp_call *call, const mcp_json *task_param)
{
    mcp_session *s = call->session;
    if (!mcp_json_is_object(task_param))
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: task must be an object");
    const mcp_json *ttl = mcp_json_get(task_param, "ttl");
    if (ttl && (!mcp_json_is_integer(ttl) || mcp_json_int(ttl, -1) < 0))
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: task.ttl must be a non-negative integer");
    mcp_task *t = calloc(1, sizeof *t);
    if (!t)
        return MCP_ENOMEM;
    if (mcp_task_id_new(t->id) != 0) {
        free(t);
        return MCP_EIO;
    }
    t->created_ms = t->updated_ms = mcp_wall_ms();
    int64_t asked = mcp_json_int(ttl, TASK_DEFAULT_TTL_MS);
    t->ttl_ms = asked > TASK_MAX_TTL_MS ? TASK_MAX_TTL_MS : (uint64_t)asked;
    t->call = call;

    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_json_write_key(&w, "task");
    mcp_json_begin_object(&w);
    write_task(&w, t);
    mcp_json_end_object(&w);
    mcp_call_result_end(call, &w);
    int rc = mcp_json_writer_status(&w);
    if (rc != 0) {
        task_free(t);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    purge_locked(s);
    size_t live = 0;
    for (const mcp_task *k = s->tasks; k; k = k->next)
        live++;
    if (live >= s->server->opts.max_tasks) {
        pthread_mutex_unlock(&s->lock);
        task_free(t);
        mcp_buf_reset(&call->out);
        return mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Too many tasks: wait for some to finish or expire");
    }
    t->next = s->tasks;
    s->tasks = t;
    call->task = t;
    mcp_session_write_locked(s, &call->id, call->out.data, call->out.len);
    pthread_mutex_unlock(&s->lock);
    mcp_buf_reset(&call->out);
    /* Tasks exist only from 2025-11-25, which has no batches. */
    call->batch = NULL;
    return 0;
}

/* Input requests of a task's call: the task waits for the client. */
void mcp_task_awaiting_input(mcp_call *call, bool waiting)
{
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    mcp_task *t = call->task;
    if (t && !mcp_task_status_terminal(t->status))
        set_status(s, t, waiting ? MCP_TASK_INPUT_REQUIRED : MCP_TASK_WORKING, NULL);
    pthread_mutex_unlock(&s->lock);
}

/* A response text {"jsonrpc":"2.0","id":…,"result":R} or {…"error":E}:
 * keep R or E for tasks/result. */
static int keep_reply(mcp_task *t, const char *text, size_t len)
{
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&scratch, text, len, NULL, &doc, NULL);
    if (rc == 0) {
        const mcp_json *part = mcp_json_get(doc, "result");
        t->result_is_error = part == NULL;
        if (!part)
            part = mcp_json_get(doc, "error");
        mcp_str raw = mcp_json_raw(part);
        t->result = raw.len ? strndup(raw.ptr, raw.len) : NULL;
        rc = t->result ? 0 : MCP_ENOMEM;
    }
    mcp_arena_free(&scratch);
    return rc;
}

/* Write the tasks/result answer for a terminal task into call->out. */
static int write_result(mcp_call *call, const mcp_task *t)
{
    mcp_buf_reset(&call->out);
    if (t->result_is_error || !t->result) {
        /* Exactly the error the request would have had; a task that was
         * cancelled before it produced anything says so. */
        mcp_json_writer w;
        mcp_json_writer_init(&w, &call->out);
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "jsonrpc");
        mcp_json_write_cstr(&w, "2.0");
        mcp_rpc_write_id(&w, &call->id);
        mcp_json_write_key(&w, "error");
        if (t->result) {
            mcp_json_write_raw(&w, t->result, strlen(t->result));
        } else {
            mcp_json_begin_object(&w);
            mcp_json_write_key(&w, "code");
            mcp_json_write_int(&w, MCP_RPC_INTERNAL_ERROR);
            mcp_json_write_key(&w, "message");
            mcp_json_write_cstr(&w, "The task was cancelled before it produced a result");
            mcp_json_end_object(&w);
        }
        mcp_json_end_object(&w);
        return mcp_json_writer_status(&w);
    }
    /* The stored result object with _meta.related-task added first. */
    const char *body = strchr(t->result, '{');
    if (!body)
        return MCP_EINVAL;
    body++;
    while (*body == ' ' || *body == '\n' || *body == '\t' || *body == '\r')
        body++;
    mcp_json_writer w;
    mcp_json_writer_init(&w, &call->out);
    mcp_rpc_begin_result(&w, &call->id);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0)
        rc = mcp_buf_appendf(&call->out, "{\"_meta\":{\"io.modelcontextprotocol/related-task\":{\"taskId\":\"%s\"}}%s%s}",
                             t->id, *body == '}' ? "" : ",", body);
    return rc;
}

/* Under the lock: answer the tasks/result calls waiting for t, which has
 * settled, and hand them over in ready (room for TASK_WAITERS_MAX) to be
 * finished once the lock is released. How many. */
static size_t answer_waiters_locked(mcp_task *t, mcp_call **ready)
{
    size_t n = t->waiter_count;
    memcpy(ready, t->waiters, n * sizeof *ready);
    t->waiter_count = 0;
    for (size_t i = 0; i < n; i++)
        write_result(ready[i], t);
    return n;
}

static void finish_waiters(mcp_call **ready, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mcp_call_finish(ready[i]);
}

/* The task's call completed (call.c): keep its reply instead of sending
 * it, settle the task, answer the tasks/result calls that waited. */
void mcp_task_settle(mcp_call *call)
{
    mcp_session *s = call->session;
    mcp_call *ready[TASK_WAITERS_MAX];
    pthread_mutex_lock(&s->lock);
    mcp_task *t = call->task;
    t->call = NULL;
    if (!mcp_task_status_terminal(t->status)) {
        /* A tool result with isError counts as failed. */
        bool failed = call->fail_code != 0 || call->is_error;
        if (keep_reply(t, call->out.data ? call->out.data : "", call->out.len) != 0)
            failed = true;
        set_status(s, t, failed ? MCP_TASK_FAILED : MCP_TASK_COMPLETED, NULL);
    }
    size_t n = answer_waiters_locked(t, ready);
    pthread_mutex_unlock(&s->lock);
    finish_waiters(ready, n);
}

static int not_found(mcp_call *call)
{
    return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Failed to retrieve task: Task not found");
}

/* Lock the session and find the task the request names (expired ones
 * gone first). False when it names none: its error is set, nothing is
 * locked. Else the session is locked for the caller to unlock, and *t is
 * the task, or NULL with the not-found error set in *rc. */
static bool lock_named_task(mcp_call *call, mcp_task **t, int *rc)
{
    const char *id = mcp_task_id_param(call);
    if (!id)
        return false;
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    purge_locked(s);
    *t = find_locked(s, id);
    *rc = *t ? 0 : not_found(call);
    return true;
}

static int answer_task(mcp_call *call, const mcp_task *t)
{
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    write_task(&w, t);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

int mcp_method_tasks_get(mcp_call *call)
{
    if (call->modern)
        return mcp_method_tasks_get_modern(call);
    mcp_task *t;
    int rc = 0;
    if (!lock_named_task(call, &t, &rc))
        return 0;
    if (t)
        rc = answer_task(call, t);
    pthread_mutex_unlock(&call->session->lock);
    return rc;
}

int mcp_method_tasks_result(mcp_call *call)
{
    mcp_task *t;
    int rc = 0;
    if (!lock_named_task(call, &t, &rc))
        return 0;
    if (!t) {
        /* answered: not found */
    } else if (mcp_task_status_terminal(t->status)) {
        rc = write_result(call, t);
    } else if (t->waiter_count == TASK_WAITERS_MAX) {
        rc = mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Too many tasks/result requests wait for this task");
    } else {
        t->waiters[t->waiter_count++] = call;
        rc = MCP_PENDING;
    }
    pthread_mutex_unlock(&call->session->lock);
    return rc;
}

int mcp_method_tasks_list(mcp_call *call)
{
    mcp_session *s = call->session;
    const mcp_server *server = s->server;
    uint64_t offset = 0;
    const mcp_json *cursor = mcp_json_get(call->params, "cursor");
    if (cursor && (!mcp_json_is_string(cursor) ||
                   mcp_cursor_decode(server, mcp_json_str(cursor, ""), mcp_json_str_len(cursor), &offset) != 0))
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: invalid cursor");
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_json_write_key(&w, "tasks");
    mcp_json_begin_array(&w);
    pthread_mutex_lock(&s->lock);
    purge_locked(s);
    size_t i = 0, end = (size_t)offset + server->opts.page_size;
    bool more = false;
    for (mcp_task *t = s->tasks; t; t = t->next, i++) {
        if (i < offset)
            continue;
        if (i >= end) {
            more = true;
            break;
        }
        mcp_json_begin_object(&w);
        write_task(&w, t);
        mcp_json_end_object(&w);
    }
    pthread_mutex_unlock(&s->lock);
    mcp_json_end_array(&w);
    if (more) {
        char next[MCP_CURSOR_LEN + 1];
        mcp_cursor_encode(server, end, 0, next);
        mcp_json_write_key(&w, "nextCursor");
        mcp_json_write_cstr(&w, next);
    }
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

int mcp_method_tasks_cancel(mcp_call *call)
{
    if (call->modern)
        return mcp_method_tasks_cancel_modern(call);
    mcp_session *s = call->session;
    mcp_call *ready[TASK_WAITERS_MAX];
    mcp_call *waiting = NULL;
    size_t n = 0;
    mcp_task *t;
    int rc = 0;
    if (!lock_named_task(call, &t, &rc))
        return 0;
    if (!t) {
        /* answered: not found */
    } else if (mcp_task_status_terminal(t->status)) {
        rc = mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Cannot cancel a task in a terminal status");
    } else {
        /* The handler sees mcp_call_is_cancelled; whatever it still
         * produces is dropped, the task stays cancelled. A call that waits
         * for the client's input has nothing running: it ends here. */
        if (t->call)
            atomic_store_explicit(&t->call->cancelled, true, memory_order_release);
        if (t->call && t->call->state == MCP_CALL_AWAIT_INPUT) {
            waiting = t->call;
            mcp_session_outbound_drop_call(s, waiting);
            waiting->state = MCP_CALL_ASYNC; /* completing it counts it off pending */
            s->awaiting_input--;
        }
        set_status(s, t, MCP_TASK_CANCELLED, "The task was cancelled by request.");
        n = answer_waiters_locked(t, ready);
        rc = answer_task(call, t);
    }
    pthread_mutex_unlock(&s->lock);
    finish_waiters(ready, n);
    if (waiting)
        mcp_call_complete(waiting, 0);
    return rc;
}

void mcp_server_write_task_capability(mcp_json_writer *w)
{
    mcp_json_write_key(w, "tasks");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "list");
    mcp_json_begin_object(w);
    mcp_json_end_object(w);
    mcp_json_write_key(w, "cancel");
    mcp_json_begin_object(w);
    mcp_json_end_object(w);
    mcp_json_write_key(w, "requests");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "tools");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "call");
    mcp_json_begin_object(w);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}
