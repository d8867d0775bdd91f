/*
 * test_task_tools.h — the tools the task tests register on a server: one
 * that works on a thread until a gate opens or it is cancelled, one that
 * finishes on a thread after a moment, one that runs until cancelled, one
 * that answers at once (or with a tool error when asked to), one that
 * fails with a protocol error, and one that asks for a name before it
 * greets. Include after <cmocka.h>; each test is one process, so the
 * shared state below is per test.
 */
#ifndef TEST_TASK_TOOLS_H
#define TEST_TASK_TOOLS_H

#include "mcp/mcp.h"
#include "mcp/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

typedef struct task_gate {
    pthread_mutex_t lock;
    bool open;
    mcp_call *call;
    bool saw_cancel; /* the call was cancelled when the job ended */
    bool done;       /* the job has finished its call */
} task_gate;

static task_gate the_gate;

/* Set by tool_forever once it saw its call cancelled. */
static atomic_bool forever_cancelled;

/* Job threads still on their way out (tool_job detaches them). */
static atomic_int task_jobs_running;

static inline void task_gate_reset(void)
{
    /* A job of the previous case may still be leaving after it finished
     * its call: the gate is not pulled from under it. */
    while (atomic_load(&task_jobs_running) > 0)
        usleep(1000);
    memset(&the_gate, 0, sizeof the_gate);
    pthread_mutex_init(&the_gate.lock, NULL);
}

static inline void task_gate_open(void)
{
    pthread_mutex_lock(&the_gate.lock);
    the_gate.open = true;
    pthread_mutex_unlock(&the_gate.lock);
}

static inline bool task_gate_done(void)
{
    pthread_mutex_lock(&the_gate.lock);
    bool done = the_gate.done;
    pthread_mutex_unlock(&the_gate.lock);
    return done;
}

static inline void *task_job_thread(void *arg)
{
    task_gate *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        bool go = g->open || mcp_call_is_cancelled(g->call);
        pthread_mutex_unlock(&g->lock);
        if (go)
            break;
        usleep(1000);
    }
    mcp_call *call = g->call;
    pthread_mutex_lock(&g->lock);
    g->saw_cancel = mcp_call_is_cancelled(call);
    pthread_mutex_unlock(&g->lock);
    mcp_call_text(call, "job done");
    mcp_call_finish(call);
    pthread_mutex_lock(&g->lock);
    g->done = true;
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_sub(&task_jobs_running, 1);
    return NULL;
}

/* Works on a thread until the gate opens or it is cancelled: "job done". */
static inline int tool_job(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    the_gate.call = call;
    pthread_t t;
    atomic_fetch_add(&task_jobs_running, 1);
    if (pthread_create(&t, NULL, task_job_thread, &the_gate) != 0) {
        atomic_fetch_sub(&task_jobs_running, 1);
        return MCP_EIO;
    }
    pthread_detach(t);
    return MCP_PENDING;
}

static inline void *task_slow_thread(void *arg)
{
    mcp_call *call = arg;
    usleep(150 * 1000); /* long enough to be polled at least once */
    mcp_call_text(call, "slow done");
    mcp_call_finish(call);
    return NULL;
}

/* Finishes on a thread after 150 ms: "slow done". */
static inline int tool_slow(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    pthread_t t;
    if (pthread_create(&t, NULL, task_slow_thread, call) != 0)
        return MCP_EIO;
    pthread_detach(t);
    return MCP_PENDING;
}

static inline void *task_forever_thread(void *arg)
{
    mcp_call *call = arg;
    while (!mcp_call_is_cancelled(call))
        usleep(1000);
    atomic_store(&forever_cancelled, true);
    mcp_call_finish(call);
    return NULL;
}

/* Runs until cancelled, then sets forever_cancelled. */
static inline int tool_forever(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    pthread_t t;
    if (pthread_create(&t, NULL, task_forever_thread, call) != 0)
        return MCP_EIO;
    pthread_detach(t);
    return MCP_PENDING;
}

/* "quick" at once, or the tool error "it broke" when args.fail is true. */
static inline int tool_quick(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    if (mcp_json_bool(mcp_json_get(args, "fail"), false))
        return mcp_call_tool_error(call, "it broke");
    return mcp_call_text(call, "quick");
}

/* A protocol error: -32603 "the backend is down". */
static inline int tool_broken(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_fail(call, MCP_RPC_INTERNAL_ERROR, "the backend is down");
}

/* Asks "who" for a name, then says "hello NAME". */
static inline int tool_ask_name(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *a = mcp_call_input(call, "who");
    if (!a)
        return mcp_call_request_elicitation(call, "who", "Your name?",
                                            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}");
    return mcp_call_text(call, "hello %s", mcp_json_str(mcp_json_get(mcp_json_get(a, "content"), "name"), "?"));
}

#endif
