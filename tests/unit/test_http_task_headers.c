/*
 * The tasks extension of the 2026-07-28 era over Streamable HTTP: tasks/get,
 * tasks/update and tasks/cancel name their task in the Mcp-Name header, and
 * the server holds the header to the body's params.taskId as it does a
 * tool's name, before the request reaches the tasks code.
 */
#include "test_http_harness.h"

#define TASKS_META                                                                                 \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                     \
    "\"io.modelcontextprotocol/clientCapabilities\":{\"extensions\":"                            \
    "{\"io.modelcontextprotocol/tasks\":{}}}}"

#define TASK_REQUEST(id, method, task)                                                             \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"" method "\",\"params\":{\"taskId\":\"" task \
    "\"," TASKS_META "}}"

#define TASK_HEADERS(method, name)                                                                 \
    "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: " method "\r\nMcp-Name: " name "\r\n"

static void task_methods_check_mcp_name(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, NULL, NULL);
    client c;
    client_open(&c, f.port);

    static const char *const methods[] = {"tasks/get", "tasks/cancel"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char headers[256], body[512];
        /* The header names another task: a header mismatch, never the task code. */
        snprintf(headers, sizeof headers, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: %s\r\nMcp-Name: t-2\r\n",
                 methods[i]);
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{\"taskId\":\"t-1\"," TASKS_META "}}",
                 methods[i]);
        char *r = client_exchange(&c, headers, body);
        assert_int_equal(response_status(r), 400);
        assert_non_null(strstr(response_body(r), "\"code\":-32020"));
        assert_non_null(strstr(response_body(r), "does not match body params.taskId"));
        free(r);

        /* No header at all. */
        snprintf(headers, sizeof headers, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: %s\r\n", methods[i]);
        r = client_exchange(&c, headers, body);
        assert_int_equal(response_status(r), 400);
        assert_non_null(strstr(response_body(r), "the Mcp-Name header is required for"));
        free(r);
    }

    /* A matching header lets the request through to the tasks code, which
     * knows no such task: a JSON-RPC error, not a header problem. */
    char *r = client_exchange(&c, TASK_HEADERS("tasks/get", "t-1"), TASK_REQUEST(3, "tasks/get", "t-1"));
    assert_int_equal(response_status(r), 200);
    assert_non_null(strstr(response_body(r), "\"code\":-32602"));
    free(r);

    /* The base64 form of the header value ("t-1") matches too. */
    r = client_exchange(&c, TASK_HEADERS("tasks/get", "=?base64?dC0x?="), TASK_REQUEST(4, "tasks/get", "t-1"));
    assert_int_equal(response_status(r), 200);
    assert_non_null(strstr(response_body(r), "\"code\":-32602"));
    free(r);

    client_close(&c);
    fixture_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(task_methods_check_mcp_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
