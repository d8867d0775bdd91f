/*
 * tasks_modern.c — the tasks extension of 2026-07-28
 * ("io.modelcontextprotocol/tasks"): server-directed task creation for
 * tools/call, tasks/get, tasks/update and tasks/cancel (see tasks_modern.h).
 *
 * Tasks live in the server's store (tasks_store.c).
 *
 * The runner. A task's tool runs on a session of its own (the runner),
 * fed the tools/call request as the client sent it; the runner's sink is
 * this file, which turns the response into the task's state: a result
 * with resultType "input_required" parks the task in input_required with
 * its inputRequests, any other result completes it, an error fails it.
 * tasks/update gathers the answers and, once every outstanding key is
 * answered, feeds the runner the next round (the same params plus
 * inputResponses and the sealed requestState), exactly as a client would
 * retry a multi-round-trip request. The tool thus cannot tell whether it
 * runs inline or as a task, and the requestState stays verified.
 *
 * Locks: a runner's session lock may be held when its sink calls us, and
 * we then take the store lock; so nothing here calls into a runner while
 * holding the store lock. Calls into a runner (mcp_session_handle) are
 * serialised by the task's runner lock, and "holds" keeps a task (and its
 * runner) from being purged while a thread uses it outside the store lock.
 */
#include "tasks_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static mcp_buf detail_locked(const mcp_modern_task *t);
static void notify_detail(mcp_server *server, const char *task_id, mcp_buf *detail);

/* ---- Capability ------------------------------------------------------------ */

bool mcp_tasks_client_declared(const mcp_call *call)
{
    const mcp_json *ext = mcp_json_get(call->client_caps, "extensions");
    return mcp_json_is_object(mcp_json_get(ext, MCP_TASKS_EXTENSION));
}

int mcp_tasks_require_extension(mcp_call *call)
{
    int rc = mcp_call_set_error(call, MCP_ERROR_MISSING_CLIENT_CAPABILITY,
                                "Missing required client capability: extension " MCP_TASKS_EXTENSION);
    call->fail_data = "{\"requiredCapabilities\":{\"extensions\":{\"" MCP_TASKS_EXTENSION "\":{}}}}";
    return rc;
}

void mcp_tasks_write_extension(mcp_json_writer *w)
{
    mcp_json_write_key(w, "extensions");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, MCP_TASKS_EXTENSION);
    mcp_json_begin_object(w);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

/* ---- State changes ----------------------------------------------------------- */

static void set_status(mcp_modern_task *t, mcp_task_status status, const char *message)
{
    t->status = status;
    t->updated_ms = mcp_wall_ms();
    free(t->status_message);
    t->status_message = message ? strdup(message) : NULL;
}

static char *copy_raw(const mcp_json *v)
{
    mcp_str raw = mcp_json_raw(v);
    return raw.len ? strndup(raw.ptr, raw.len) : NULL;
}

/* A tool may use one key in several rounds, but a key must name one
 * request over the task's whole life: on the wire each key carries its
 * round ("2.confirm"), taken off again when the answers go to the tool. */
static char *round_keys(int64_t round, const mcp_json *requests)
{
    if (!mcp_json_is_object(requests))
        return NULL;
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    char prefix[24];
    int n = snprintf(prefix, sizeof prefix, "%lld.", (long long)round);
    mcp_buf key;
    mcp_buf_init(&key);
    for (const mcp_json *m = mcp_json_first(requests); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        mcp_buf_reset(&key);
        mcp_buf_append(&key, prefix, (size_t)n);
        mcp_buf_append(&key, k.ptr, k.len);
        mcp_json_write_key_n(&w, key.data, key.len);
        mcp_json_write_value(&w, m);
    }
    mcp_json_end_object(&w);
    char *text = mcp_json_writer_status(&w) == 0 ? strndup(out.data, out.len) : NULL;
    mcp_buf_free(&key);
    mcp_buf_free(&out);
    return text;
}

/* The tool's own key of a wire key (round_keys). */
static mcp_str tool_key(mcp_str wire)
{
    const char *dot = memchr(wire.ptr, '.', wire.len);
    if (!dot)
        return wire;
    return (mcp_str){dot + 1, wire.len - (size_t)(dot + 1 - wire.ptr)};
}

/* Under the store lock: the runner answered this round. */
static void settle_locked(mcp_modern_task *t, const mcp_json *doc)
{
    t->running = false;
    if (t->status == MCP_TASK_CANCELLED)
        return; /* whatever the tool still produced is dropped */
    const mcp_json *result = mcp_json_get(doc, "result");
    const mcp_json *error = mcp_json_get(doc, "error");
    free(t->outcome);
    t->outcome = NULL;
    if (result && !strcmp(mcp_json_str(mcp_json_get(result, "resultType"), ""), "input_required")) {
        free(t->input_requests);
        free(t->request_state);
        t->input_requests = round_keys(t->round, mcp_json_get(result, "inputRequests"));
        const mcp_json *state = mcp_json_get(result, "requestState");
        t->request_state = mcp_json_is_string(state) ? strdup(mcp_json_str(state, "")) : NULL;
        mcp_buf_reset(&t->responses);
        if (!t->input_requests || !mcp_json_is_object(mcp_json_get(result, "inputRequests")) || !strcmp(t->input_requests, "{}")) {
            /* A round that asks nothing would need a retry with its state
             * alone, which only a client drives; a task has no client in
             * between, so such a tool cannot run as a task. */
            free(t->outcome);
            t->outcome = strdup("{\"code\":-32603,\"message\":\"Internal error: the tool asked for no input but did not finish\"}");
            set_status(t, MCP_TASK_FAILED, "The tool asked for no input but did not finish");
            return;
        }
        set_status(t, MCP_TASK_INPUT_REQUIRED, "The task is waiting for input from the client.");
        return;
    }
    if (result) {
        t->outcome = copy_raw(result);
        set_status(t, t->outcome ? MCP_TASK_COMPLETED : MCP_TASK_FAILED, NULL);
        return;
    }
    t->outcome = copy_raw(error);
    set_status(t, MCP_TASK_FAILED, mcp_json_str(mcp_json_get(error, "message"), "The task failed"));
}

/* The runner's sink: responses of its rounds; everything else (progress,
 * log messages) is not carried by tasks and is dropped. */
static int runner_write(void *user, const char *message, size_t len)
{
    mcp_modern_task *t = user;
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *doc = NULL;
    if (mcp_json_parse(&scratch, message, len, NULL, &doc, NULL) == 0 && !mcp_json_get(doc, "method")) {
        int64_t id = mcp_json_int(mcp_json_get(doc, "id"), -1);
        mcp_buf detail;
        mcp_buf_init(&detail);
        pthread_mutex_lock(&t->store->lock);
        if (id == t->round && t->running) {
            mcp_task_status before = t->status;
            settle_locked(t, doc);
            if (t->status != before)
                detail = detail_locked(t);
        }
        pthread_mutex_unlock(&t->store->lock);
        notify_detail(t->store->server, t->id, &detail);
    }
    mcp_arena_free(&scratch);
    return 0;
}

/* The request text of a round: the stored params plus this round's
 * answers and state. */
static int round_text(const mcp_modern_task *t, mcp_buf *out)
{
    mcp_buf_reset(out);
    int rc = mcp_buf_appendf(out, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/call\",\"params\":",
                             (long long)t->round);
    size_t plen = strlen(t->params);
    /* params is an object text: reopen it to add members. */
    if (rc == 0)
        rc = mcp_buf_append(out, t->params, plen - 1);
    bool empty = plen == 2;
    if (rc == 0 && t->responses.len)
        rc = mcp_buf_appendf(out, "%s\"inputResponses\":{%.*s}", empty ? "" : ",", (int)t->responses.len,
                             t->responses.data);
    empty = empty && !t->responses.len;
    if (rc == 0 && t->request_state) {
        mcp_buf tmp;
        mcp_buf_init(&tmp);
        rc = mcp_json_escape(&tmp, t->request_state, strlen(t->request_state));
        if (rc == 0)
            rc = mcp_buf_appendf(out, "%s\"requestState\":%.*s", empty ? "" : ",", (int)tmp.len, tmp.data);
        mcp_buf_free(&tmp);
    }
    if (rc == 0)
        rc = mcp_buf_append(out, "}}", 2);
    return rc;
}

/* Feed the runner one request (a round), then let the task go. */
static void run_round(mcp_modern_task *t, const char *text, size_t len)
{
    pthread_mutex_lock(&t->runner_lock);
    int rc = mcp_session_handle(t->runner, text, len);
    pthread_mutex_unlock(&t->runner_lock);
    mcp_buf detail;
    mcp_buf_init(&detail);
    pthread_mutex_lock(&t->store->lock);
    if (rc != 0 && t->running) {
        t->running = false;
        free(t->outcome);
        t->outcome = strdup("{\"code\":-32603,\"message\":\"Internal error: the task could not run\"}");
        set_status(t, MCP_TASK_FAILED, "The task could not run");
        detail = detail_locked(t);
    }
    char id[sizeof t->id];
    memcpy(id, t->id, sizeof id);
    mcp_task_store *st = t->store;
    t->holds--; /* t may go from here on */
    pthread_mutex_unlock(&st->lock);
    notify_detail(st->server, id, &detail);
}

/* ---- Writing tasks ------------------------------------------------------------ */

static void write_task(mcp_json_writer *w, const mcp_modern_task *t, bool detailed)
{
    mcp_task_write_fields(w, &(mcp_task_fields){.id = t->id,
                                                 .status = mcp_task_status_name(t->status),
                                                 .status_message = t->status_message,
                                                 .created_ms = t->created_ms,
                                                 .updated_ms = t->updated_ms,
                                                 .ttl_ms = t->ttl_ms,
                                                 .modern = true});
    if (!detailed)
        return;
    if (t->status == MCP_TASK_INPUT_REQUIRED && t->input_requests) {
        mcp_json_write_key(w, "inputRequests");
        mcp_json_write_raw(w, t->input_requests, strlen(t->input_requests));
    } else if (t->status == MCP_TASK_COMPLETED && t->outcome) {
        mcp_json_write_key(w, "result");
        mcp_json_write_raw(w, t->outcome, strlen(t->outcome));
    } else if (t->status == MCP_TASK_FAILED && t->outcome) {
        mcp_json_write_key(w, "error");
        mcp_json_write_raw(w, t->outcome, strlen(t->outcome));
    }
}

/* Under the store lock: the task as tasks/get would show it, for the
 * notifications/tasks of its watchers (delivered once the lock is gone). */
static mcp_buf detail_locked(const mcp_modern_task *t)
{
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    write_task(&w, t, true);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) != 0)
        mcp_buf_reset(&out);
    return out;
}

static void notify_detail(mcp_server *server, const char *task_id, mcp_buf *detail)
{
    if (detail->len)
        mcp_tasks_watch_notify(server, task_id, detail->data, detail->len);
    mcp_buf_free(detail);
}

/* Send what call->out holds now, so that the tool's first round (or the
 * next one) runs after the client has its answer; the call then completes
 * with nothing left to write. Modern requests never come in batches. */
static void answer_now(mcp_call *call)
{
    if (call->batch || !call->out.len)
        return;
    mcp_session_emit_for(call->session, &call->id, NULL, call->out.data, call->out.len);
    mcp_buf_reset(&call->out);
}

/* ---- tools/call ------------------------------------------------------------- */

bool mcp_tasks_is_runner(const mcp_session *session)
{
    return session->sink.write == runner_write;
}

/* params without inputResponses and requestState (those of the creating
 * request belong to its first round only). */
static char *params_text(const mcp_json *params)
{
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, "inputResponses") || mcp_str_eq_cstr(key, "requestState"))
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, m);
    }
    mcp_json_end_object(&w);
    char *text = mcp_json_writer_status(&w) == 0 ? strndup(out.data, out.len) : NULL;
    mcp_buf_free(&out);
    return text;
}

static int write_create_result(mcp_call *call, const mcp_modern_task *t)
{
    /* CreateTaskResult is the one result whose resultType is "task". */
    mcp_buf_reset(&call->out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &call->out);
    mcp_rpc_begin_result(&w, &call->id);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "resultType");
    mcp_json_write_cstr(&w, "task");
    write_task(&w, t, false);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

int mcp_task_modern_begin(mcp_call *call)
{
    mcp_server *server = call->session->server;
    mcp_task_store *st = mcp_task_store_of(server, true);
    mcp_modern_task *t = st ? calloc(1, sizeof *t) : NULL;
    if (!t)
        return MCP_ENOMEM;
    t->store = st;
    pthread_mutex_init(&t->runner_lock, NULL);
    mcp_buf_init(&t->responses);
    int rc = mcp_task_id_new(t->id);
    t->created_ms = t->updated_ms = mcp_wall_ms();
    t->ttl_ms = MCP_TASK_DEFAULT_TTL_MS;
    t->round = 1;
    t->running = true;
    t->holds = 1;
    t->params = params_text(call->params);
    if (rc == 0 && !t->params)
        rc = MCP_ENOMEM;
    if (rc == 0 && !(t->runner = mcp_session_new(server, &(mcp_sink){.write = runner_write, .user = t})))
        rc = MCP_ENOMEM;
    if (rc == 0)
        rc = write_create_result(call, t);
    /* The first round is the request exactly as the client sent it (it
     * may carry the answers of input rounds that came before the task). */
    mcp_buf first;
    mcp_buf_init(&first);
    mcp_str raw = mcp_json_raw(call->params);
    if (rc == 0)
        rc = mcp_buf_appendf(&first, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":%.*s}",
                             (int)raw.len, raw.ptr);
    if (rc != 0) {
        mcp_buf_free(&first);
        mcp_buf_reset(&call->out);
        mcp_task_list_free(t);
        return rc;
    }
    mcp_modern_task *dropped = NULL;
    pthread_mutex_lock(&st->lock);
    mcp_task_store_purge(st, &dropped);
    bool full = st->count >= server->opts.max_tasks;
    if (!full) {
        t->next = st->tasks;
        st->tasks = t;
        st->count++;
    }
    pthread_mutex_unlock(&st->lock);
    mcp_task_list_free(dropped);
    if (full) {
        mcp_buf_free(&first);
        mcp_buf_reset(&call->out);
        mcp_task_list_free(t);
        return mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Too many tasks: wait for some to finish or expire");
    }
    call->kind = MCP_CALL_DIRECT;
    answer_now(call);
    run_round(t, first.data, first.len);
    mcp_buf_free(&first);
    return 0;
}

/* ---- tasks/get, tasks/update, tasks/cancel ----------------------------------- */

/* The common start: the extension declared, a taskId, the store locked
 * and the task found. NULL with the error set (and nothing locked). */
static mcp_modern_task *task_for(mcp_call *call, mcp_task_store **store)
{
    if (!mcp_tasks_client_declared(call)) {
        mcp_tasks_require_extension(call);
        return NULL;
    }
    const char *id = mcp_task_id_param(call);
    if (!id)
        return NULL;
    mcp_task_store *st = mcp_task_store_of(call->session->server, false);
    mcp_modern_task *t = NULL, *dropped = NULL;
    if (st) {
        pthread_mutex_lock(&st->lock);
        mcp_task_store_purge(st, &dropped);
        t = mcp_task_store_find(st, id);
        if (!t)
            pthread_mutex_unlock(&st->lock);
    }
    mcp_task_list_free(dropped);
    if (!t)
        mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Failed to retrieve task: Task not found");
    *store = st;
    return t;
}

static int write_ack(mcp_call *call)
{
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

int mcp_method_tasks_get_modern(mcp_call *call)
{
    mcp_task_store *st;
    mcp_modern_task *t = task_for(call, &st);
    if (!t)
        return 0;
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    write_task(&w, t, true);
    mcp_call_result_end(call, &w);
    pthread_mutex_unlock(&st->lock);
    return mcp_json_writer_status(&w);
}

int mcp_method_tasks_cancel_modern(mcp_call *call)
{
    mcp_task_store *st;
    mcp_modern_task *t = task_for(call, &st);
    if (!t)
        return 0;
    /* Terminal already: the same empty acknowledgement (cancel is
     * idempotent; -32602 is for unknown tasks only). */
    bool stop = !mcp_task_status_terminal(t->status);
    mcp_buf detail;
    mcp_buf_init(&detail);
    if (stop) {
        set_status(t, MCP_TASK_CANCELLED, "The task was cancelled by request.");
        t->holds++;
        detail = detail_locked(t);
    }
    pthread_mutex_unlock(&st->lock);
    if (stop)
        notify_detail(st->server, t->id, &detail); /* held: t stays */
    if (stop) {
        /* The tool sees mcp_call_is_cancelled; its late reply is dropped. */
        mcp_session *r = t->runner;
        pthread_mutex_lock(&r->lock);
        for (mcp_call *c = r->inflight; c; c = c->next)
            atomic_store_explicit(&c->cancelled, true, memory_order_release);
        pthread_mutex_unlock(&r->lock);
        pthread_mutex_lock(&st->lock);
        t->holds--;
        pthread_mutex_unlock(&st->lock);
    }
    return write_ack(call);
}

/* Is key one of the requests still outstanding? */
static bool outstanding(const mcp_json *requests, mcp_str key)
{
    return mcp_json_get_n(requests, key.ptr, key.len) != NULL;
}

int mcp_method_tasks_update(mcp_call *call)
{
    const mcp_json *responses = mcp_json_get(call->params, "inputResponses");
    if (mcp_tasks_client_declared(call) && mcp_json_is_string(mcp_json_get(call->params, "taskId")) &&
        !mcp_json_is_object(responses))
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: inputResponses must be an object");
    mcp_task_store *st;
    mcp_modern_task *t = task_for(call, &st);
    if (!t)
        return 0;
    mcp_buf next, detail;
    mcp_buf_init(&next);
    mcp_buf_init(&detail);
    int rc = 0;
    bool go = false;
    if (t->status == MCP_TASK_INPUT_REQUIRED) {
        /* Answers to keys not outstanding (never asked, already answered)
         * are ignored; a partial set leaves the rest outstanding. */
        mcp_arena scratch;
        mcp_arena_init(&scratch, 0);
        mcp_json *requests = NULL;
        rc = mcp_json_parse(&scratch, t->input_requests, strlen(t->input_requests), NULL, &requests, NULL);
        for (const mcp_json *m = mcp_json_first(responses); rc == 0 && m; m = mcp_json_next(m)) {
            mcp_str key = mcp_json_key(m);
            if (!outstanding(requests, key) || !mcp_json_is_object(m))
                continue;
            /* Members of an object still open: "key":answer,... */
            if (t->responses.len)
                rc = mcp_buf_append_char(&t->responses, ',');
            mcp_str own = tool_key(key);
            if (rc == 0)
                rc = mcp_json_escape(&t->responses, own.ptr, own.len);
            if (rc == 0)
                rc = mcp_buf_append_char(&t->responses, ':');
            mcp_json_writer w;
            mcp_json_writer_init(&w, &t->responses);
            mcp_json_write_value(&w, m);
            if (rc == 0)
                rc = mcp_json_writer_status(&w);
        }
        mcp_buf left;
        mcp_buf_init(&left);
        if (rc == 0) {
            mcp_json_writer w;
            mcp_json_writer_init(&w, &left);
            mcp_json_begin_object(&w);
            for (const mcp_json *m = mcp_json_first(requests); m; m = mcp_json_next(m)) {
                mcp_str key = mcp_json_key(m);
                const mcp_json *answer = mcp_json_get_n(responses, key.ptr, key.len);
                if (mcp_json_is_object(answer))
                    continue;
                mcp_json_write_key_n(&w, key.ptr, key.len);
                mcp_json_write_value(&w, m);
            }
            mcp_json_end_object(&w);
            rc = mcp_json_writer_status(&w);
        }
        char *rest = rc == 0 ? strndup(left.data, left.len) : NULL;
        mcp_buf_free(&left);
        mcp_arena_free(&scratch);
        if (rc == 0 && !rest)
            rc = MCP_ENOMEM;
        if (rc == 0) {
            free(t->input_requests);
            t->input_requests = rest;
            if (!strcmp(rest, "{}")) {
                /* Every request answered: the next round runs. */
                t->round++;
                rc = round_text(t, &next);
                if (rc == 0) {
                    mcp_buf_reset(&t->responses);
                    free(t->request_state);
                    t->request_state = NULL;
                    t->running = true;
                    t->holds++;
                    set_status(t, MCP_TASK_WORKING, NULL);
                    detail = detail_locked(t);
                    go = true;
                }
            }
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (rc == 0)
        rc = write_ack(call);
    if (go) {
        notify_detail(st->server, t->id, &detail);
        answer_now(call);
        run_round(t, next.data, next.len);
    }
    mcp_buf_free(&next);
    return rc;
}
