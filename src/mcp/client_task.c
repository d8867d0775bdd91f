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
 */
#include "mcp/client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_POLL_MS 500
#define MIN_POLL_MS 10
#define MAX_POLL_MS 5000

static int task_params(const char *params_json, unsigned ttl_ms, mcp_buf *out)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    if (params_json && (mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) != 0 ||
                        !mcp_json_is_object(params))) {
        mcp_arena_free(&arena);
        return MCP_EINVAL;
    }
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, "task"))
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, m);
    }
    mcp_json_write_key(&w, "task");
    mcp_json_begin_object(&w);
    if (ttl_ms) {
        mcp_json_write_key(&w, "ttl");
        mcp_json_write_int(&w, ttl_ms);
    }
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_arena_free(&arena);
    return mcp_json_writer_status(&w);
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
            st->poll_ms = mcp_json_int(mcp_json_get(task, "pollInterval"), DEFAULT_POLL_MS);
            if (st->poll_ms < MIN_POLL_MS)
                st->poll_ms = MIN_POLL_MS;
            if (st->poll_ms > MAX_POLL_MS)
                st->poll_ms = MAX_POLL_MS;
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

/* tasks/get or tasks/result with the task's id. */
static int task_request(mcp_client *c, const char *method, const char *task_id, unsigned timeout_ms,
                        mcp_client_result *r)
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
    if (rc == 0)
        rc = mcp_client_call_sync(c, method, params.data,
                                  &(mcp_client_request_opts){.timeout_ms = timeout_ms}, r);
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

int mcp_client_call_task_sync(mcp_client *client, const char *params_json, unsigned ttl_ms,
                              unsigned timeout_ms, mcp_client_result *result)
{
    memset(result, 0, sizeof *result);
    uint64_t budget_ns = timeout_ms ? (uint64_t)timeout_ms * 1000000u : client->default_timeout_ns;
    uint64_t deadline_ns = mcp_now_ns() + budget_ns;
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
        rc = task_request(client, "tasks/get", task_id, remaining_ms(deadline_ns), result);
        if (rc != 0)
            break;
        if (!read_task(result, false, NULL, &st)) {
            rc = MCP_EPROTO;
            break;
        }
    }
    if (rc == 0) {
        mcp_client_result_free(result);
        rc = task_request(client, "tasks/result", task_id, remaining_ms(deadline_ns), result);
    } else if (rc != MCP_CLIENT_RPC_ERROR) {
        mcp_client_result_free(result);
        result->status = rc;
    }
    client->watched_task = NULL;
    free(task_id);
    return rc;
}
