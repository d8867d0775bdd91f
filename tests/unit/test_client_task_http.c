/*
 * test_client_task_http.c — mcp_client_call_task_sync in the modern era
 * (tasks extension) over Streamable HTTP against mcpd's HTTP server on
 * 127.0.0.1. Over HTTP the server holds tasks/get, tasks/update and
 * tasks/cancel to an Mcp-Name header equal to params.taskId (checked here
 * first with a bare request that lacks it), so each call below that polls,
 * answers or cancels a task to its end also shows that the client sends
 * the task's id in Mcp-Name: a task polled to completion, one whose
 * question is answered through tasks/update, one that gathers its input in
 * ordinary input_required rounds before it becomes a task, one that fails,
 * and one cancelled when the wait runs out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_loopback.h"
#include "test_task_tools.h"

#include "mcp/client.h"
#include "mcp/mcp.h"
#include "net/http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The server ------------------------------------------------------------- */

typedef struct served {
    mcp_server *server;
    mcp_net *net;
    int port;
    mcp_client *client;
    int elicitations;
} served;

static int setup(void **state)
{
    atomic_store(&forever_cancelled, false);
    served *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->server = mcp_server_new(&(mcp_server_opts){.name = "tasks-http", .version = "1"});
    assert_non_null(s->server);
    mcp_server *v = s->server;
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "crunch", .fn = tool_slow, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "forever", .fn = tool_forever, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "ask", .fn = tool_ask_name, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "gather", .fn = tool_ask_name, .task_support = "required",
                                                        .task_after_input = true}),
                     0);
    assert_int_equal(mcp_server_add_tool(v, &(mcp_tool){.name = "broken", .fn = tool_broken, .task_support = "optional"}), 0);
    assert_int_equal(mcp_net_start(&s->net, s->server, &(mcp_listen){.http = "127.0.0.1:0", .workers = 2},
                                   &(mcp_net_tuning){.http = true}),
                     0);
    s->port = mcp_net_port(s->net);
    assert_true(s->port > 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", s->port);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_http(url, NULL, &t), 0);
    s->client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = MCP_PROTOCOL_MODERN,
        .timeout_ms = 5000,
        .transport = t,
        .no_cache = true,
        .on_elicitation = answer_with_name,
        .user = &s->elicitations,
    });
    assert_non_null(s->client);
    assert_int_equal(mcp_client_connect(s->client, 5000, NULL), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    served *s = *state;
    mcp_client_free(s->client);
    mcp_net_free(s->net);
    mcp_server_free(s->server);
    free(s);
    return 0;
}

/* ---- Tests ------------------------------------------------------------------ */

/* The control: this server refuses tasks/get without Mcp-Name over HTTP. */
static void server_requires_mcp_name(void **state)
{
    served *s = *state;
    static const char body[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"0123456789abcdef\","
        "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
        "\"io.modelcontextprotocol/clientCapabilities\":{\"extensions\":{\"io.modelcontextprotocol/tasks\":{}}}}}}";
    char request[1024];
    snprintf(request, sizeof request,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
             "Mcp-Method: tasks/get\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             sizeof body - 1, body);
    int fd = connect_port(s->port);
    send_all(fd, request);
    mcp_buf got;
    mcp_buf_init(&got);
    read_until(fd, &got, "\"error\"");
    close(fd);
    assert_non_null(got.data);
    assert_true(strncmp(got.data, "HTTP/1.1 400", 12) == 0);
    mcp_buf_free(&got);
}

static void task_polled_to_completion(void **state)
{
    served *s = *state;
    mcp_client_result r;
    char text[64];
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"crunch\"}", 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "slow done");
    mcp_client_result_free(&r);
}

/* The call of params asks for a name once, the handler answers, the task
 * greets. */
static void name_asked_once(served *s, const char *params)
{
    mcp_client_result r;
    char text[64];
    s->elicitations = 0;
    assert_int_equal(mcp_client_call_task_sync(s->client, params, 0, 5000, &r), 0);
    assert_string_equal(text_of(&r, text, sizeof text), "hello octocat");
    assert_int_equal(s->elicitations, 1);
    mcp_client_result_free(&r);
}

static void task_input_through_update(void **state)
{
    name_asked_once(*state, "{\"name\":\"ask\"}");
}

static void input_rounds_then_task(void **state)
{
    name_asked_once(*state, "{\"name\":\"gather\"}");
}

static void failed_task_gives_its_error(void **state)
{
    served *s = *state;
    mcp_client_result r;
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"broken\"}", 0, 5000, &r), MCP_CLIENT_RPC_ERROR);
    assert_non_null(r.json);
    assert_non_null(strstr(r.json, "the backend is down"));
    mcp_client_result_free(&r);
}

static void wait_runs_out_cancels(void **state)
{
    served *s = *state;
    mcp_client_result r;
    assert_int_equal(mcp_client_call_task_sync(s->client, "{\"name\":\"forever\"}", 0, 300, &r), MCP_ETIMEDOUT);
    mcp_client_result_free(&r);
    for (int i = 0; i < 500 && !atomic_load(&forever_cancelled); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&forever_cancelled));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(server_requires_mcp_name, setup, teardown),
        cmocka_unit_test_setup_teardown(task_polled_to_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(task_input_through_update, setup, teardown),
        cmocka_unit_test_setup_teardown(input_rounds_then_task, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_task_gives_its_error, setup, teardown),
        cmocka_unit_test_setup_teardown(wait_runs_out_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
