/*
 * test_slow_tool.h — "slow", a tool that answers from another thread
 * after args.ms milliseconds (100 by default) with "slept N ms": the path
 * where a pending call's reply crosses back to the event loop. Include
 * after <cmocka.h>.
 */
#ifndef TEST_SLOW_TOOL_H
#define TEST_SLOW_TOOL_H

#include "mcp/json.h"
#include "mcp/mcp.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct slow_job {
    mcp_call *call;
    unsigned ms;
} slow_job;

static inline void *slow_job_main(void *arg)
{
    slow_job *job = arg;
    struct timespec ts = {job->ms / 1000, (long)(job->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    mcp_call_text(job->call, "slept %u ms", job->ms);
    mcp_call_finish(job->call);
    free(job);
    return NULL;
}

static inline int tool_slow(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    slow_job *job = malloc(sizeof *job);
    if (!job)
        return MCP_ENOMEM;
    job->call = call;
    job->ms = (unsigned)mcp_json_int(mcp_json_get(args, "ms"), 100);
    pthread_t thread;
    if (pthread_create(&thread, NULL, slow_job_main, job)) {
        free(job);
        return MCP_ENOMEM;
    }
    pthread_detach(thread);
    return MCP_PENDING;
}

#endif
