/*
 * Fixtures of the tasks-extension scenarios (see fixture_tasks.h), each as
 * the scenario's description of it asks:
 *
 *   greet               sync only: "Hello, NAME!"
 *   slow_compute        task support optional; sleeps `seconds` (stops
 *                       early when cancelled), then "LABEL: done after Ns"
 *   failing_job         task support required; ends with a tool error, so
 *                       its task completes with result.isError
 *   protocol_error_job  task support optional; fails with a JSON-RPC error,
 *                       so its task ends failed with an inlined error
 *   confirm_delete      task support optional; one elicitation (confirm),
 *                       asked from the task's first round
 *   multi_input         task support optional; two elicitations at once
 *                       (the partial-fulfillment check answers one first)
 *   test_tool_with_task task support required; asks for user_name as an
 *                       ordinary input_required result and becomes a task
 *                       only with the answer (tasks-mrtr-composition)
 *
 * slow_compute sleeps on a thread of its own and answers MCP_PENDING: the
 * suite polls tasks/get on the same keep-alive connection while the job
 * runs, so a job must not hold the connection's worker.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif
#include "fixture_tasks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char GREET_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"who to greet\"}},"
    "\"required\":[\"name\"]}";
static const char SLOW_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"seconds\":{\"type\":\"number\",\"minimum\":0,\"maximum\":600,\"description\":\"how long to work\"},"
    "\"label\":{\"type\":\"string\",\"description\":\"echoed in the result\"}},"
    "\"required\":[\"seconds\"]}";
static const char FILE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"filename\":{\"type\":\"string\"}},\"required\":[\"filename\"]}";
static const char NO_ARGS[] = "{\"type\":\"object\",\"properties\":{}}";
static const char CONFIRM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"confirm\":{\"type\":\"boolean\"}},\"required\":[\"confirm\"]}";
static const char NAME_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}";

static int fx_greet(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "Hello, %s!", mcp_json_str(mcp_json_get(args, "name"), "world"));
}

/* ---- slow_compute ---------------------------------------------------------- */

/* Jobs still sleeping, and the flag that wakes them at shutdown. */
static atomic_int jobs_running;
static atomic_bool jobs_stop;

typedef struct slow_job {
    mcp_call *call;
    long ms;
    const char *label; /* in the call's arena */
} slow_job;

static void *slow_thread(void *arg) {
    slow_job *job = arg;
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
    for (long waited = 0; waited < job->ms && !mcp_call_is_cancelled(job->call) && !atomic_load(&jobs_stop);
         waited += 5)
        nanosleep(&tick, NULL);
    if (mcp_call_is_cancelled(job->call) || atomic_load(&jobs_stop))
        mcp_call_fail(job->call, MCP_RPC_INTERNAL_ERROR, "slow_compute stopped before it finished");
    else
        mcp_call_text(job->call, "%s: done after %ld ms", job->label, job->ms);
    mcp_call_finish(job->call);
    free(job);
    atomic_fetch_sub(&jobs_running, 1);
    return NULL;
}

static int fx_slow_compute(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    long ms = (long)(mcp_json_num(mcp_json_get(args, "seconds"), 0) * 1000);
    const char *label = mcp_json_str(mcp_json_get(args, "label"), "slow_compute");
    if (ms <= 0)
        return mcp_call_text(call, "%s: done at once", label);
    slow_job *job = malloc(sizeof *job);
    if (!job)
        return MCP_ENOMEM;
    *job = (slow_job){.call = call, .ms = ms, .label = label};
    atomic_fetch_add(&jobs_running, 1);
    pthread_t thread;
    if (pthread_create(&thread, NULL, slow_thread, job) != 0) {
        atomic_fetch_sub(&jobs_running, 1);
        free(job);
        return MCP_EIO;
    }
    pthread_detach(thread);
    return MCP_PENDING;
}

void fixture_tasks_drain(void) {
    atomic_store(&jobs_stop, true);
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
    while (atomic_load(&jobs_running) > 0)
        nanosleep(&tick, NULL);
}

/* ---- outcomes -------------------------------------------------------------- */

static int fx_failing_job(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_tool_error(call, "failing_job failed on purpose");
}

static int fx_protocol_error_job(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_fail(call, MCP_RPC_INTERNAL_ERROR, "protocol_error_job fails with a JSON-RPC error on purpose");
}

/* ---- input ------------------------------------------------------------------- */

static bool accepted(const mcp_json *answer) {
    return strcmp(mcp_json_str(mcp_json_get(answer, "action"), ""), "accept") == 0;
}

static int fx_confirm_delete(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const char *file = mcp_json_str(mcp_json_get(args, "filename"), "");
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        char *question = mcp_arena_sprintf(mcp_call_arena(call), "Delete %s?", file);
        return question ? mcp_call_request_elicitation(call, "confirm", question, CONFIRM_SCHEMA) : MCP_ENOMEM;
    }
    bool yes = accepted(answer) && mcp_json_bool(mcp_json_get(mcp_json_get(answer, "content"), "confirm"), false);
    return mcp_call_text(call, yes ? "Deleted %s" : "Kept %s", file);
}

static int fx_multi_input(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *name = mcp_call_input(call, "name");
    const mcp_json *confirm = mcp_call_input(call, "confirm");
    if (!name || !confirm) {
        int rc = mcp_call_request_elicitation(call, "name", "What is your name?", NAME_SCHEMA);
        if (rc == MCP_INPUT_REQUIRED)
            rc = mcp_call_request_elicitation(call, "confirm", "Go ahead?", CONFIRM_SCHEMA);
        return rc;
    }
    return mcp_call_text(call, "name %s, %s", accepted(name) ? "given" : "declined",
                         accepted(confirm) ? "confirmed" : "not confirmed");
}

static int fx_tool_with_task(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "user_name");
    if (!answer)
        return mcp_call_request_elicitation(call, "user_name", "What is your name?", NAME_SCHEMA);
    return mcp_call_text(call, "Hello, %s!",
                         mcp_json_str(mcp_json_get(mcp_json_get(answer, "content"), "name"), "stranger"));
}

int fixture_tasks_register(mcp_server *s) {
    static const mcp_tool TOOLS[] = {
        {.name = "greet", .description = "Greets by name, at once", .input_schema = GREET_SCHEMA, .fn = fx_greet},
        {.name = "slow_compute",
         .description = "Works for the given seconds (a task when the client takes tasks)",
         .input_schema = SLOW_SCHEMA,
         .fn = fx_slow_compute,
         .task_support = "optional"},
        {.name = "failing_job",
         .description = "A task that ends with a tool error",
         .input_schema = NO_ARGS,
         .fn = fx_failing_job,
         .task_support = "required"},
        {.name = "protocol_error_job",
         .description = "A task that fails with a JSON-RPC error",
         .input_schema = NO_ARGS,
         .fn = fx_protocol_error_job,
         .task_support = "optional"},
        {.name = "confirm_delete",
         .description = "Asks for confirmation before deleting a file",
         .input_schema = FILE_SCHEMA,
         .fn = fx_confirm_delete,
         .task_support = "optional"},
        {.name = "multi_input",
         .description = "Asks two questions at once",
         .input_schema = NO_ARGS,
         .fn = fx_multi_input,
         .task_support = "optional"},
        {.name = "test_tool_with_task",
         .description = "Asks for a name, then greets it from a task",
         .input_schema = NO_ARGS,
         .fn = fx_tool_with_task,
         .task_support = "required",
         .task_after_input = true},
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof TOOLS / sizeof *TOOLS; i++)
        rc = mcp_server_add_tool(s, &TOOLS[i]);
    return rc;
}
