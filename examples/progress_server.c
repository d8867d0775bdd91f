/*
 * progress_server — long-running tools that report progress and stop when
 * cancelled.
 *
 *     progress_server            (MCP over stdio)
 *
 * Tools:
 *   countdown {from 1..1000, delay_ms 0..10000}
 *       counts down on a thread of its own, one notifications/progress per
 *       step (when the request carried a progressToken), and stops within
 *       a few milliseconds of notifications/cancelled.
 *   primes {below 2..50000000}
 *       counts primes on a thread, reporting progress every percent and
 *       checking for cancellation as it goes; may also run as a task
 *       (tasks/get, tasks/result, tasks/cancel).
 *
 * Both return MCP_PENDING and finish from their thread with mcp_call_finish,
 * the pattern for any handler that should not hold up the session.
 */
#include "mcp/mcp.h"
#include "mcp/net.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How many runs ended early because they were cancelled (for tests). */
static atomic_int progress_cancelled_runs;

typedef struct job {
    mcp_call *call;
    long n;
    long delay_ms;
} job;

static bool nap(mcp_call *call, long ms)
{
    while (ms > 0) {
        if (mcp_call_is_cancelled(call))
            return false;
        long now = ms < 5 ? ms : 5;
        struct timespec ts = {0, now * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ms -= now;
    }
    return !mcp_call_is_cancelled(call);
}

static void *countdown_main(void *arg)
{
    job j = *(job *)arg;
    free(arg);
    long left = j.n;
    while (left > 0 && nap(j.call, j.delay_ms)) {
        left--;
        char message[64];
        snprintf(message, sizeof message, "%ld to go", left);
        mcp_call_progress(j.call, (double)(j.n - left), (double)j.n, message);
    }
    if (left == 0) {
        mcp_call_text(j.call, "liftoff after %ld steps", j.n);
    } else {
        atomic_fetch_add(&progress_cancelled_runs, 1);
        mcp_call_tool_error(j.call, "countdown cancelled with %ld to go", left);
    }
    mcp_call_finish(j.call); /* a cancelled call gets no response, but must be finished */
    return NULL;
}

static void *primes_main(void *arg)
{
    job j = *(job *)arg;
    free(arg);
    long count = 0, next_report = j.n / 100 + 1;
    bool cancelled = false;
    for (long k = 2; k < j.n; k++) {
        bool prime = true;
        for (long d = 2; d * d <= k; d++)
            if (k % d == 0) {
                prime = false;
                break;
            }
        count += prime;
        if (k >= next_report) {
            next_report += j.n / 100 + 1;
            if (mcp_call_is_cancelled(j.call)) {
                cancelled = true;
                break;
            }
            mcp_call_progress(j.call, (double)k, (double)j.n, NULL);
        }
    }
    if (cancelled) {
        atomic_fetch_add(&progress_cancelled_runs, 1);
        mcp_call_tool_error(j.call, "primes cancelled");
    } else {
        char structured[64];
        snprintf(structured, sizeof structured, "{\"count\":%ld}", count);
        mcp_call_text(j.call, "%ld primes below %ld", count, j.n);
        mcp_call_structured(j.call, structured);
    }
    mcp_call_finish(j.call);
    return NULL;
}

static int start(mcp_call *call, long n, long delay_ms, void *(*fn)(void *))
{
    job *j = malloc(sizeof *j);
    if (!j)
        return MCP_ENOMEM;
    *j = (job){.call = call, .n = n, .delay_ms = delay_ms};
    pthread_t t;
    if (pthread_create(&t, NULL, fn, j) != 0) {
        free(j);
        return mcp_call_tool_error(call, "could not start a worker thread");
    }
    pthread_detach(t);
    return MCP_PENDING;
}

static int countdown(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return start(call, (long)mcp_json_int(mcp_json_get(args, "from"), 10),
                 (long)mcp_json_int(mcp_json_get(args, "delay_ms"), 100), countdown_main);
}

static int primes(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return start(call, (long)mcp_json_int(mcp_json_get(args, "below"), 1000), 0, primes_main);
}

int progress_server_register(mcp_server *server)
{
    int rc = mcp_server_add_tool(server, &(mcp_tool){
        .name = "countdown",
        .description = "Counts down from `from`, one step every delay_ms, reporting progress.",
        .input_schema = "{\"type\":\"object\",\"properties\":{"
                        "\"from\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},"
                        "\"delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000}},"
                        "\"required\":[\"from\"],\"additionalProperties\":false}",
        .annotations = "{\"readOnlyHint\":true}",
        .fn = countdown});
    if (rc == 0)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "primes",
            .description = "Counts the primes below `below`, reporting progress every percent.",
            .input_schema = "{\"type\":\"object\",\"properties\":{"
                            "\"below\":{\"type\":\"integer\",\"minimum\":2,\"maximum\":50000000}},"
                            "\"required\":[\"below\"],\"additionalProperties\":false}",
            .output_schema = "{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"}},"
                             "\"required\":[\"count\"]}",
            .annotations = "{\"readOnlyHint\":true}",
            .task_support = "optional",
            .fn = primes});
    return rc;
}

#ifndef EXAMPLE_NO_MAIN
int main(void)
{
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "progress_server", .version = "1.0"});
    if (!server || progress_server_register(server) != 0) {
        fprintf(stderr, "progress_server: could not set up the server\n");
        mcp_server_free(server);
        return 1;
    }
    int rc = mcp_serve(server, &(mcp_listen){.stdio = true});
    mcp_server_free(server);
    return rc == 0 || rc == MCP_ECLOSED ? 0 : 1;
}
#endif
