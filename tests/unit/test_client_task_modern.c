/*
 * test_client_task_modern.c — mcp_client_call_task_sync in the modern era
 * (2026-07-28, tasks extension) against mcpd's own server core over a pair
 * of pipes: the client declares the extension on its requests, a
 * task-supporting tool answers with a task, the client polls tasks/get,
 * answers the task's inputRequests with its handlers through tasks/update,
 * and ends with the inlined result or error; a wait that runs out cancels
 * the task on the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_pipe_server.h"
#include "test_task_tools.h"

#include "mcp/client.h"
#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/net.h"
#include "mcp/rpc.h"

/* src/mcp/tasks_modern.h, whose internal.h cannot sit beside mcp/net.h. */
void mcp_server_tasks_free(mcp_server *server);

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The server ------------------------------------------------------------- */

typedef struct served {
    mcp_server *server;
    pipe_server pipe;
    mcp_client *client;
    int elicitations;
} served;

static served *start(bool handlers)
{
    atomic_store(&forever_cancelled, false);
    served *s = calloc(1, sizeof *s);
    s->server = mcp_server_new(&(mcp_server_opts){.name = "tasks", .version = "1"});
    assert_non_null(s->server);
    mcp_server *v = s->server;
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "slow", .fn = tool_slow, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "forever", .fn = tool_forever, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "ask", .fn = tool_ask_name, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "broken", .fn = tool_broken, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "must", .fn = tool_quick, .task_support = "required"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "plain", .fn = tool_quick}), 0);
    mcp_client_transport *t = pipe_server_start(&s->pipe, s->server);
    s->client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = MCP_PROTOCOL_MODERN,
        .timeout_ms = 5000,
        .transport = t,
        /* Without handlers the client still says it takes elicitations,
         * so that the server asks and finds nobody to answer. */
        .capabilities = handlers ? NULL : "{\"elicitation\":{}}",
        .on_elicitation = handlers ? answer_with_name : NULL,
        .user = &s->elicitations,
    });
    assert_non_null(s->client);
    assert_int_equal(mcp_client_connect(s->client, 5000, NULL), 0);
    return s;
}

static void stop(served *s)
{
    mcp_client_free(s->client);
    pipe_server_join(&s->pipe);
    /* What mcp_server_free does once it drops the server's tasks itself
     * (a second call finds nothing). */
    mcp_server_tasks_free(s->server);
    mcp_server_free(s->server);
    free(s);
}

/* A required-task tool: refused without the extension, a task with it. */
static void required_tool(served *s)
{
    mcp_client_result r;
    int rc = mcp_client_call_sync(s->client, "tools/call", "{\"name\":\"must\"}", NULL, &r);
    assert_int_equal(rc, MCP_CLIENT_RPC_ERROR);
    assert_int_equal(error_code_of(&r), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    mcp_client_result_free(&r);
    char text[64];
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"must\"}", 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "quick");
    mcp_client_result_free(&r);
}

static void test_polled_to_result(void **state)
{
    (void)state;
    served *s = start(true);
    required_tool(s);
    mcp_client_result r;
    char text[64];
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"slow\",\"task\":{\"ttl\":1000}}", 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "slow done");
    mcp_client_result_free(&r);
    /* A tool without task support answers at once, the same way. */
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"plain\"}", 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "quick");
    mcp_client_result_free(&r);
    stop(s);
}

static void test_input_answered_through_update(void **state)
{
    (void)state;
    served *s = start(true);
    required_tool(s);
    mcp_client_result r;
    char text[64];
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"ask\"}", 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "hello octocat");
    assert_int_equal(s->elicitations, 1); /* asked once, however often polled */
    mcp_client_result_free(&r);
    stop(s);
}

static void test_failures_and_giving_up(void **state)
{
    (void)state;
    served *s = start(false);
    required_tool(s);
    mcp_client_result r;
    /* A protocol error of the tool: the task failed, its error is ours. */
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"broken\"}", 0, 5000, &r), MCP_CLIENT_RPC_ERROR);
    assert_int_equal(error_code_of(&r), MCP_RPC_INTERNAL_ERROR);
    mcp_client_result_free(&r);
    /* A question without a handler: the task is cancelled, nothing hangs. */
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"ask\"}", 0, 5000, &r), MCP_EUNSUPPORTED);
    assert_null(r.json);
    mcp_client_result_free(&r);
    /* Out of time: the task is cancelled on the server, the tool sees it. */
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"forever\"}", 0, 300, &r), MCP_ETIMEDOUT);
    assert_null(r.json);
    mcp_client_result_free(&r);
    for (int i = 0; i < 2000 && !atomic_load(&forever_cancelled); i++)
        usleep(1000);
    assert_true(atomic_load(&forever_cancelled));
    /* Bad params are refused before anything is sent. */
    assert_int_equal(mcp_client_call_task_sync(s->client, "[1]", 0, 1000, &r), MCP_EINVAL);
    stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polled_to_result),
        cmocka_unit_test(test_input_answered_through_update),
        cmocka_unit_test(test_failures_and_giving_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
