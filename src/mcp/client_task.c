/*
 * client_task.c — calling a tool as a task (2025-11-25) from the blocking
 * API: tools/call with a "task" member answers at once with a task, which
 * we poll with tasks/get until it leaves "working", then fetch its outcome
 * with tasks/result.
 *
 * Polls follow the server's pollInterval, clamped so that a silly value
 * neither spins nor stalls; a notifications/tasks/status for the task cuts
 * the wait short. "input_required" also ends the polling: tasks/result is
 * where the server asks its questions (as server-to-client requests, which
 * the client's handlers answer) before giving the final result.
 *
 * The modern era (2026-07-28) has tasks as an extension and the server
 * decides: we name "io.modelcontextprotocol/tasks" in the clientCapabilities
 * of the tools/call and of every tasks request, and a result with
 * resultType "task" is polled with tasks/get (at pollIntervalMs) until it is
 * terminal; the final result or error is inlined there (no tasks/result).
 * inputRequests of an input_required task are answered once each by the
 * client's handlers and sent with tasks/update. A task that is still running
 * when the wait runs out is cancelled with tasks/cancel.
 */
#include "mcp/client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_POLL_MS 500
#define MIN_POLL_MS 10
#define MAX_POLL_MS 5000

/* The server's suggested poll interval (under the key its protocol
 * version uses), kept within bounds so that neither a busy loop nor a
 * stall follows from it. */
static int64_t poll_interval(const mcp_json *task, const char *key)
{
    int64_t ms = mcp_json_int(mcp_json_get(task, key), DEFAULT_POLL_MS);
    if (ms < MIN_POLL_MS)
        return MIN_POLL_MS;
    return ms > MAX_POLL_MS ? MAX_POLL_MS : ms;
}

/* The members of object (none when NULL) but the one named skip. */
static void write_members_except(mcp_json_writer *w, const mcp_json *object, const char *skip)
{
    for (const mcp_json *m = mcp_json_first(object); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, skip))
            continue;
        mcp_json_write_key_n(w, key.ptr, key.len);
        mcp_json_write_value(w, m);
    }
}

/* Writes the caller's params object without its "task" member, then, when
 * with_task, a fresh "task" object carrying the ttl. Absent params count as
 * an empty object only when allow_absent: the 2025-11-25 call may have none,
 * while a modern call always names its tool. */
static int params_without_task(const char *params_json, bool allow_absent, bool with_task, unsigned ttl_ms,
                               mcp_buf *out)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    bool bad = params_json ? mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) != 0 ||
                                 !mcp_json_is_object(params)
                           : !allow_absent;
    if (bad) {
        mcp_arena_free(&arena);
        return MCP_EINVAL;
    }
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    write_members_except(&w, params, "task");
    if (with_task) {
        mcp_json_write_key(&w, "task");
        mcp_json_begin_object(&w);
        if (ttl_ms) {
            mcp_json_write_key(&w, "ttl");
            mcp_json_write_int(&w, ttl_ms);
        }
        mcp_json_end_object(&w);
    }
    mcp_json_end_object(&w);
    mcp_arena_free(&arena);
    return mcp_json_writer_status(&w);
}

static int task_params(const char *params_json, unsigned ttl_ms, mcp_buf *out)
{
    return params_without_task(params_json, true, true, ttl_ms, out);
}

/* The task object of a CreateTaskResult or a GetTaskResult (whose members
 * are the task's own). */
typedef struct task_state {
    char status[32];
    int64_t poll_ms;
} task_state;

static bool read_task(const mcp_client_result *r, bool nested, char **task_id, task_state *st)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    bool ok = false;
    if (r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0) {
        const mcp_json *task = nested ? mcp_json_get(doc, "task") : doc;
        const char *status = mcp_json_str(mcp_json_get(task, "status"), NULL);
        const char *id = mcp_json_str(mcp_json_get(task, "taskId"), NULL);
        if (mcp_json_is_object(task) && status && id) {
            snprintf(st->status, sizeof st->status, "%s", status);
            st->poll_ms = poll_interval(task, "pollInterval");
            if (task_id)
                *task_id = mcp_client_strdup(id);
            ok = !task_id || *task_id;
        }
    }
    mcp_arena_free(&arena);
    return ok;
}

static bool has_task_member(const mcp_client_result *r)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    bool has = r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0 &&
               mcp_json_get(doc, "task") != NULL;
    mcp_arena_free(&arena);
    return has;
}

static unsigned remaining_ms(uint64_t deadline_ns)
{
    uint64_t now = mcp_now_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now) / 1000000u;
    return ms > 0 ? (unsigned)ms : 1;
}

/* tasks/get, tasks/result, tasks/update or tasks/cancel with the task's id
 * (and extra members, or NULL). */
static int task_request(mcp_client *c, const char *method, const char *task_id, const char *extra,
                        unsigned timeout_ms, mcp_client_result *r)
{
    mcp_buf params;
    mcp_buf_init(&params);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &params);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "taskId");
    mcp_json_write_cstr(&w, task_id);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0 && extra) {
        /* extra: members to add, as JSON text without braces */
        params.len--;
        rc = mcp_buf_appendf(&params, ",%s}", extra);
    }
    if (rc == 0)
        rc = mcp_client_call_sync(c, method, params.data, &(mcp_client_request_opts){.timeout_ms = timeout_ms}, r);
    else
        r->status = rc;
    mcp_buf_free(&params);
    return r->status;
}

/* Wait until the poll interval passes, a status notification for the task
 * arrives, the budget runs out or the connection closes. */
static int wait_poll(mcp_client *c, int64_t poll_ms, uint64_t deadline_ns)
{
    uint64_t until = mcp_now_ns() + (uint64_t)poll_ms * 1000000u;
    if (until > deadline_ns)
        until = deadline_ns;
    c->watched_task_changed = false;
    while (!c->watched_task_changed) {
        uint64_t now = mcp_now_ns();
        if (now >= until)
            break;
        int rc = mcp_client_pump(c, (unsigned)((until - now) / 1000000u) + 1);
        if (rc == MCP_ECLOSED)
            return rc;
    }
    return 0;
}

static int call_task_modern(mcp_client *c, const char *params_json, uint64_t deadline_ns, mcp_client_result *result);

int mcp_client_call_task_sync(mcp_client *client, const char *params_json, unsigned ttl_ms,
                              unsigned timeout_ms, mcp_client_result *result)
{
    memset(result, 0, sizeof *result);
    uint64_t budget_ns = timeout_ms ? (uint64_t)timeout_ms * 1000000u : client->default_timeout_ns;
    uint64_t deadline_ns = mcp_now_ns() + budget_ns;
    if (client->modern)
        return call_task_modern(client, params_json, deadline_ns, result);
    mcp_buf params;
    mcp_buf_init(&params);
    int rc = task_params(params_json, ttl_ms, &params);
    if (rc != 0) {
        mcp_buf_free(&params);
        return result->status = rc;
    }
    rc = mcp_client_call_sync(client, "tools/call", params.data,
                              &(mcp_client_request_opts){.timeout_ms = remaining_ms(deadline_ns)}, result);
    mcp_buf_free(&params);
    if (rc != 0 || !has_task_member(result))
        return rc; /* an error, or a server that ran the tool at once */
    char *task_id = NULL;
    task_state st;
    if (!read_task(result, true, &task_id, &st)) {
        free(task_id);
        return result->status = MCP_EPROTO;
    }
    free(client->watched_task);
    client->watched_task = task_id;
    while (!strcmp(st.status, "working")) {
        if (wait_poll(client, st.poll_ms, deadline_ns) != 0) {
            rc = MCP_ECLOSED;
            break;
        }
        if (mcp_now_ns() >= deadline_ns) {
            rc = MCP_ETIMEDOUT;
            break;
        }
        mcp_client_result_free(result);
        rc = task_request(client, "tasks/get", task_id, NULL, remaining_ms(deadline_ns), result);
        if (rc != 0)
            break;
        if (!read_task(result, false, NULL, &st)) {
            rc = MCP_EPROTO;
            break;
        }
    }
    if (rc == 0) {
        mcp_client_result_free(result);
        rc = task_request(client, "tasks/result", task_id, NULL, remaining_ms(deadline_ns), result);
    } else if (rc != MCP_CLIENT_RPC_ERROR) {
        mcp_client_result_free(result);
        result->status = rc;
    }
    client->watched_task = NULL;
    free(task_id);
    return rc;
}

/* ---- Modern era: the tasks extension ------------------------------------------ */

#define TASKS_EXTENSION "io.modelcontextprotocol/tasks"

/* The client's capabilities with the tasks extension added (malloc'd). */
static char *caps_with_tasks(const char *caps)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    if (mcp_json_parse(&arena, caps, strlen(caps), NULL, &doc, NULL) == 0) {
        write_members_except(&w, doc, "extensions");
    }
    mcp_json_write_key(&w, "extensions");
    mcp_json_begin_object(&w);
    for (const mcp_json *m = mcp_json_first(mcp_json_get(doc, "extensions")); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, TASKS_EXTENSION))
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, m);
    }
    mcp_json_write_key(&w, TASKS_EXTENSION);
    mcp_json_begin_object(&w);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    char *text = mcp_json_writer_status(&w) == 0 ? mcp_client_strndup(out.data, out.len) : NULL;
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
    return text;
}

/* The caller's params without the 2025-11-25 "task" member, which means
 * nothing in this era. */
static int plain_params(const char *params_json, mcp_buf *out)
{
    return params_without_task(params_json, false, false, 0, out);
}

/* What we keep of a task between polls. */
typedef struct modern_poll {
    char *task_id;
    char status[32];
    int64_t poll_ms;
    char **answered;      /* inputRequests keys answered already */
    size_t answered_count;
} modern_poll;

static bool was_answered(const modern_poll *p, mcp_str key)
{
    for (size_t i = 0; i < p->answered_count; i++)
        if (mcp_str_eq_cstr(key, p->answered[i]))
            return true;
    return false;
}

static int remember_answered(modern_poll *p, mcp_str key)
{
    char **grown = realloc(p->answered, (p->answered_count + 1) * sizeof *grown);
    if (!grown)
        return MCP_ENOMEM;
    p->answered = grown;
    if (!(grown[p->answered_count] = mcp_client_strndup(key.ptr, key.len)))
        return MCP_ENOMEM;
    p->answered_count++;
    return 0;
}

/* Read a CreateTaskResult or GetTaskResult into p. *is_task: resultType
 * "task" or a tasks/get answer (expect_task false). */
static int read_modern(const mcp_client_result *r, bool creating, modern_poll *p, bool *is_task)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = MCP_EPROTO;
    *is_task = false;
    if (r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0) {
        const char *type = mcp_json_str(mcp_json_get(doc, "resultType"), "complete");
        if (creating && strcmp(type, "task") != 0) {
            rc = 0; /* the server ran the tool at once */
        } else {
            const char *status = mcp_json_str(mcp_json_get(doc, "status"), NULL);
            const char *id = mcp_json_str(mcp_json_get(doc, "taskId"), NULL);
            if (status && id && (!p->task_id || !strcmp(p->task_id, id))) {
                *is_task = true;
                snprintf(p->status, sizeof p->status, "%s", status);
                p->poll_ms = poll_interval(doc, "pollIntervalMs");
                rc = 0;
                if (!p->task_id && !(p->task_id = mcp_client_strdup(id)))
                    rc = MCP_ENOMEM;
            }
        }
    }
    mcp_arena_free(&arena);
    return rc;
}

/* The inputRequests of an input_required task that we have not answered
 * yet, answered by the client's handlers: the members of inputResponses
 * into out ("" when nothing is new). MCP_EUNSUPPORTED when one cannot be
 * answered (no handler, or it refused). */
static int answer_new_requests(mcp_client *c, const mcp_client_result *r, modern_poll *p, mcp_buf *out)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0 ? 0 : MCP_EPROTO;
    const mcp_json *requests = mcp_json_get(doc, "inputRequests");
    if (rc == 0 && !mcp_json_is_object(requests))
        rc = MCP_EPROTO;
    for (const mcp_json *q = mcp_json_first(requests); rc == 0 && q; q = mcp_json_next(q)) {
        mcp_str key = mcp_json_key(q);
        if (was_answered(p, key))
            continue;
        const char *method = mcp_json_str(mcp_json_get(q, "method"), NULL);
        if (!method) {
            rc = MCP_EPROTO;
            break;
        }
        mcp_client_answer answer;
        memset(&answer, 0, sizeof answer);
        mcp_buf_init(&answer.result);
        mcp_client_run_handler(c, method, mcp_json_get(q, "params"), &answer);
        bool ok = answer.error_code == 0 && answer.result.len > 0 &&
                  mcp_json_validate(answer.result.data, answer.result.len, NULL, NULL) == 0;
        if (!ok)
            rc = MCP_EUNSUPPORTED;
        if (rc == 0 && out->len)
            rc = mcp_buf_append_char(out, ',');
        if (rc == 0)
            rc = mcp_json_escape(out, key.ptr, key.len);
        if (rc == 0)
            rc = mcp_buf_append_char(out, ':');
        if (rc == 0)
            rc = mcp_buf_append(out, answer.result.data, answer.result.len);
        if (rc == 0)
            rc = remember_answered(p, key);
        mcp_buf_free(&answer.result);
    }
    mcp_arena_free(&arena);
    return rc;
}

/* A terminal tasks/get answer into the caller's result: the inlined result
 * (status 0) or error (MCP_CLIENT_RPC_ERROR); a cancelled task is
 * MCP_ECANCELED. */
static int final_outcome(mcp_client_result *r, const char *status)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = MCP_EPROTO;
    const mcp_json *part = NULL;
    if (mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0) {
        if (!strcmp(status, "completed") && mcp_json_is_object(part = mcp_json_get(doc, "result")))
            rc = 0;
        else if (!strcmp(status, "failed") && mcp_json_is_object(part = mcp_json_get(doc, "error")))
            rc = MCP_CLIENT_RPC_ERROR;
        else if (!strcmp(status, "cancelled"))
            rc = MCP_ECANCELED;
    }
    char *text = NULL;
    if (rc >= 0) {
        mcp_str raw = mcp_json_raw(part);
        if (!(text = mcp_client_strndup(raw.ptr, raw.len)))
            rc = MCP_ENOMEM;
    }
    mcp_arena_free(&arena);
    mcp_client_result_free(r);
    r->status = rc;
    if (rc >= 0) {
        r->json = text;
        r->len = strlen(text);
    }
    return rc;
}

static bool modern_terminal(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "failed") || !strcmp(status, "cancelled");
}

static int poll_modern(mcp_client *c, modern_poll *p, uint64_t deadline_ns, mcp_client_result *result)
{
    for (;;) {
        if (modern_terminal(p->status))
            return final_outcome(result, p->status);
        if (!strcmp(p->status, "input_required") && result->json && strstr(result->json, "inputRequests")) {
            mcp_buf answers;
            mcp_buf_init(&answers);
            int rc = answer_new_requests(c, result, p, &answers);
            if (rc == 0 && answers.len) {
                mcp_buf extra;
                mcp_buf_init(&extra);
                rc = mcp_buf_appendf(&extra, "\"inputResponses\":{%.*s}", (int)answers.len, answers.data);
                mcp_client_result ack;
                memset(&ack, 0, sizeof ack);
                if (rc == 0)
                    rc = task_request(c, "tasks/update", p->task_id, extra.data, remaining_ms(deadline_ns), &ack);
                mcp_client_result_free(&ack);
                mcp_buf_free(&extra);
            }
            mcp_buf_free(&answers);
            if (rc != 0)
                return rc;
        }
        if (wait_poll(c, p->poll_ms, deadline_ns) != 0)
            return MCP_ECLOSED;
        if (mcp_now_ns() >= deadline_ns)
            return MCP_ETIMEDOUT;
        mcp_client_result_free(result);
        int rc = task_request(c, "tasks/get", p->task_id, NULL, remaining_ms(deadline_ns), result);
        if (rc != 0)
            return rc;
        bool is_task;
        if (read_modern(result, false, p, &is_task) != 0 || !is_task)
            return MCP_EPROTO;
    }
}

/* The tools/call that may create the task. The client core takes a
 * resultType it does not know for a broken answer (right for any request
 * that did not declare the extension); for this one a "task" is the
 * expected answer, so it is taken from the completion here. */
typedef struct create_wait {
    mcp_client_result *result;
    bool done;
} create_wait;

static void create_done(void *user, int status, const mcp_json *value, int64_t request_id)
{
    create_wait *w = user;
    if (status == MCP_EPROTO && !strcmp(mcp_json_str(mcp_json_get(value, "resultType"), ""), "task"))
        status = 0;
    w->result->status = status;
    w->result->id = request_id;
    mcp_str raw = mcp_json_raw(value);
    if (status >= 0 && raw.len) {
        w->result->json = mcp_client_strndup(raw.ptr, raw.len);
        w->result->len = w->result->json ? raw.len : 0;
        if (!w->result->json)
            w->result->status = MCP_ENOMEM;
    }
    w->done = true;
}

static int create_request(mcp_client *c, const char *params, unsigned timeout_ms, mcp_client_result *result)
{
    create_wait w = {result, false};
    int rc = mcp_client_request(c, "tools/call", params, &(mcp_client_request_opts){.timeout_ms = timeout_ms},
                                create_done, &w, NULL);
    if (rc != 0)
        return result->status = rc;
    /* The request's own deadline guarantees an end. */
    while (!w.done) {
        if (mcp_client_pump(c, 50) == MCP_ECLOSED && !w.done)
            return result->status = MCP_ECLOSED;
    }
    return result->status;
}

static int call_task_modern(mcp_client *c, const char *params_json, uint64_t deadline_ns, mcp_client_result *result)
{
    mcp_buf params;
    mcp_buf_init(&params);
    int rc = plain_params(params_json, &params);
    char *caps = rc == 0 ? caps_with_tasks(c->capabilities) : NULL;
    if (rc == 0 && !caps)
        rc = MCP_ENOMEM;
    if (rc != 0) {
        mcp_buf_free(&params);
        return result->status = rc;
    }
    /* Every request of this task names the extension: it is declared per
     * request in this era. */
    char *saved = c->capabilities;
    c->capabilities = caps;
    modern_poll p = {0};
    rc = create_request(c, params.data, remaining_ms(deadline_ns), result);
    mcp_buf_free(&params);
    bool is_task = false;
    if (rc == 0 && (rc = read_modern(result, true, &p, &is_task)) == 0 && is_task)
        rc = poll_modern(c, &p, deadline_ns, result);
    if (rc < 0 && p.task_id && !modern_terminal(p.status) && rc != MCP_ECLOSED) {
        /* Given up on (time, a question we cannot answer): stop the work. */
        mcp_client_result ack;
        memset(&ack, 0, sizeof ack);
        task_request(c, "tasks/cancel", p.task_id, NULL, 1000, &ack);
        mcp_client_result_free(&ack);
    }
    if (rc < 0) {
        mcp_client_result_free(result);
        result->status = rc;
    }
    c->capabilities = saved;
    free(caps);
    free(p.task_id);
    for (size_t i = 0; i < p.answered_count; i++)
        free(p.answered[i]);
    free(p.answered);
    return rc;
}
