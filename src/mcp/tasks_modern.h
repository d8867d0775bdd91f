/*
 * tasks_modern.h — the tasks extension of the modern era
 * ("io.modelcontextprotocol/tasks", 2026-07-28), private to src/mcp.
 *
 * A client that names the extension in a request's clientCapabilities may
 * get a CreateTaskResult (resultType "task") from tools/call for a tool that
 * declares task support; it then polls tasks/get (the DetailedTask, with the
 * tool's result or error inlined once terminal), answers inputRequests with
 * tasks/update and stops the work with tasks/cancel. There is no
 * tasks/result and no tasks/list in this era.
 *
 * Modern requests carry no session, so tasks belong to the server: any
 * connection that knows a task id (128 random bits, the bearer of the task)
 * may poll it, or watch it on a subscriptions/listen stream (taskIds). Each task runs its tool on a session of its own whose sink
 * feeds the task, so the tool's rounds outlive the request that created it.
 */
#ifndef MCP_TASKS_MODERN_H
#define MCP_TASKS_MODERN_H

#include "internal.h"

#define MCP_TASKS_EXTENSION "io.modelcontextprotocol/tasks"

/* Did this request's clientCapabilities name the tasks extension? */
bool mcp_tasks_client_declared(const mcp_call *call);
/* Is session one that runs a task's tool (so tools/call runs directly)? */
bool mcp_tasks_is_runner(const mcp_session *session);
/* Fail call with -32021 naming the extension in requiredCapabilities. */
int mcp_tasks_require_extension(mcp_call *call);
/* tools/call of a task-supporting tool from a declaring client: answer
 * with CreateTaskResult, then start the tool on the task's own session. */
int mcp_task_modern_begin(mcp_call *call);

/* The methods (dispatch: tasks/get and tasks/cancel reach these through
 * tasks.c in the modern era; tasks/update is modern only). */
int mcp_method_tasks_get_modern(mcp_call *call);
int mcp_method_tasks_cancel_modern(mcp_call *call);
int mcp_method_tasks_update(mcp_call *call);

/* Is there a task with this id (tasks_modern.c)? */
bool mcp_task_exists(mcp_server *server, const char *id);

/* notifications/tasks on subscriptions/listen streams (tasks_watch.c).
 * agree: the ids of task_ids that name tasks, as a JSON array text
 * (malloc'd), or NULL when none do; add: the listen of session with that
 * id hears those tasks from now on; drop: it (or with listen NULL every
 * listen of session) no longer does; notify: a task's DetailedTask object
 * text to those who watch it. */
char *mcp_tasks_watch_agree(mcp_call *call, const mcp_json *task_ids);
int mcp_tasks_watch_add(mcp_session *session, const mcp_rpc_id *listen, const char *agreed);
void mcp_tasks_watch_drop(mcp_session *session, const mcp_rpc_id *listen);
void mcp_tasks_watch_notify(mcp_server *server, const char *task_id, const char *detail, size_t len);

/* server/discover: "extensions": {"io.modelcontextprotocol/tasks": {}}. */
void mcp_tasks_write_extension(mcp_json_writer *w);

/* Drop every task of server, waiting for tools still running on them.
 * mcp_server_free should call it before it frees the server; until then a
 * server's tasks stay reachable (but unused) after it is freed. */
void mcp_server_tasks_free(mcp_server *server);

/* Shared with the handshake tasks (tasks.c). */
#define MCP_TASK_DEFAULT_TTL_MS 300000
#define MCP_TASK_POLL_INTERVAL_MS 500
void mcp_task_time_text(uint64_t ms, char out[32]); /* ISO 8601, UTC, milliseconds */
int mcp_task_id_new(char out[33]);
/* The call's params.taskId, or NULL with the call's -32602 error set. */
const char *mcp_task_id_param(mcp_call *call);
/* The Task members both eras write alike. They differ only in two names:
 * the handshake era says "ttl" and "pollInterval", the modern era "ttlMs"
 * and "pollIntervalMs" (modern). */
typedef struct mcp_task_fields {
    const char *id, *status, *status_message;
    uint64_t created_ms, updated_ms, ttl_ms;
    bool modern;
} mcp_task_fields;
void mcp_task_write_fields(mcp_json_writer *w, const mcp_task_fields *f);

#endif
