/* Task-augmented tools/call (2025-11-25): CreateTaskResult at once, the
 * reply kept for tasks/result (which waits while the task works),
 * tasks/get, tasks/list, tasks/cancel reaching the handler,
 * notifications/tasks/status, taskSupport rules, input for a task, and
 * the versions and eras where tasks do not exist. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"
#include "test_task_tools.h"

#include <unistd.h>

static int ask(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *a = mcp_call_input(call, "ok");
    if (!a)
        return mcp_call_request_elicitation(call, "ok", "Go?", "{\"type\":\"object\",\"properties\":{}}");
    return mcp_call_text(call, "answer: %s", mcp_json_str(mcp_json_get(a, "action"), ""));
}

static fixture *setup_server(const char *version)
{
    task_gate_reset();
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .page_size = 2});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "job", .fn = tool_job, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "must", .fn = tool_quick, .task_support = "required"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "plain", .fn = tool_quick}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "ask", .fn = ask, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "bad", .fn = tool_quick, .task_support = "sometimes"}),
                     MCP_EINVAL);
    handshake(f, version, "{\"elicitation\":{}}");
    return f;
}

static void open_gate(void)
{
    task_gate_open();
}

static void wait_idle(fixture *f)
{
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
}

static char *task_id_of(const mcp_json *doc)
{
    const mcp_json *task = mcp_json_get(result_of(doc), "task");
    assert_non_null(task);
    assert_string_equal(str_at(task, "status"), "working");
    assert_non_null(mcp_json_get(task, "createdAt"));
    assert_non_null(mcp_json_get(task, "lastUpdatedAt"));
    return strdup(str_at(task, "taskId"));
}

static void test_task_lifecycle(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-11-25");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    const mcp_json *tools = mcp_json_get(result_of(doc), "tools");
    assert_string_equal(str_at(mcp_json_get(mcp_json_at(tools, 0), "execution"), "taskSupport"), "optional");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"job\",\"task\":{\"ttl\":60000}}}");
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), -1), 2);
    char *id = task_id_of(doc);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(result_of(doc), "task"), "ttl"), -1), 60000);

    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"%s\"}}", id);
    doc = roundtrip(f, text);
    assert_string_equal(str_at(result_of(doc), "status"), "working");
    assert_string_equal(str_at(result_of(doc), "taskId"), id);

    /* tasks/result waits while the task works. */
    capture_clear(&f->cap);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    send_text(f, text);
    assert_int_equal(capture_count(&f->cap), 0);
    open_gate();
    wait_idle(f);
    /* The status notification, then the result with related-task. */
    long n = find_message(f, "notifications/tasks/status", 0);
    assert_true(n >= 0);
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, (size_t)n), "params"), "status"), "completed");
    long r = find_message(f, "", 0);
    assert_true(r >= 0);
    doc = capture_json(&f->cap, (size_t)r);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), -1), 4);
    const mcp_json *result = result_of(doc);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result, "content"), 0), "text"), "job done");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(result, "_meta"), "io.modelcontextprotocol/related-task"), "taskId"), id);
    assert_int_equal(capture_count(&f->cap), 2);

    /* Terminal: answered at once, again; cancelling it is refused. */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    result_of(roundtrip(f, text));
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tasks/cancel\",\"params\":{\"taskId\":\"%s\"}}", id);
    assert_int_equal(error_code(roundtrip(f, text)), MCP_RPC_INVALID_PARAMS);
    free(id);
    fixture_free(f);
}

static void test_cancel_reaches_handler(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-11-25");
    char *id = task_id_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"job\",\"task\":{}}}"));
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    capture_clear(&f->cap);
    send_text(f, text);
    /* notifications/cancelled for the original request does not stop a task. */
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}");
    usleep(5000);
    assert_false(mcp_call_is_cancelled(the_gate.call));
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tasks/cancel\",\"params\":{\"taskId\":\"%s\"}}", id);
    send_text(f, text);
    wait_idle(f);
    assert_true(the_gate.saw_cancel);
    /* Status notification, the waiting tasks/result (an error: nothing was
     * produced), the cancel answer; the late reply of the handler is dropped. */
    long c = find_message(f, "", 0);
    assert_true(c >= 0);
    bool saw_result_error = false, saw_cancel_answer = false;
    for (size_t i = 0; i < capture_count(&f->cap); i++) {
        mcp_json *m = capture_json(&f->cap, i);
        if (mcp_json_int(mcp_json_get(m, "id"), -1) == 2)
            saw_result_error = error_code(m) == MCP_RPC_INTERNAL_ERROR;
        if (mcp_json_int(mcp_json_get(m, "id"), -1) == 3)
            saw_cancel_answer = strcmp(str_at(result_of(m), "status"), "cancelled") == 0;
        assert_int_not_equal(mcp_json_int(mcp_json_get(m, "id"), -1), 1);
    }
    assert_true(saw_result_error);
    assert_true(saw_cancel_answer);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"%s\"}}", id);
    assert_string_equal(str_at(result_of(roundtrip(f, text)), "status"), "cancelled");
    free(id);
    fixture_free(f);
}

static void test_support_rules_list_and_failures(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-11-25");
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"must\"}}")),
                     MCP_RPC_METHOD_NOT_FOUND);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"plain\",\"task\":{}}}")),
                     MCP_RPC_METHOD_NOT_FOUND);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":5}}")),
                     MCP_RPC_INVALID_PARAMS);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{\"ttl\":-1}}}")),
                     MCP_RPC_INVALID_PARAMS);

    /* A synchronous task: CreateTaskResult, then its status change. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{},\"arguments\":{\"fail\":true}}}");
    assert_int_equal(capture_count(&f->cap), 2);
    char *failed = task_id_of(capture_json(&f->cap, 0));
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, 1), "params"), "status"), "failed");
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", failed);
    const mcp_json *r = result_of(roundtrip(f, text));
    assert_true(mcp_json_bool(mcp_json_get(r, "isError"), false));
    roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"plain\"}}");
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{}}}");
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{}}}");

    /* Three tasks, pages of two. */
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tasks/list\"}");
    r = result_of(doc);
    assert_int_equal(mcp_json_len(mcp_json_get(r, "tasks")), 2);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tasks/list\",\"params\":{\"cursor\":\"%s\"}}",
             str_at(r, "nextCursor"));
    r = result_of(roundtrip(f, text));
    assert_int_equal(mcp_json_len(mcp_json_get(r, "tasks")), 1);
    assert_null(mcp_json_get(r, "nextCursor"));
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tasks/list\",\"params\":{\"cursor\":\"zz\"}}")),
                     MCP_RPC_INVALID_PARAMS);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"nope\"}}")),
                     MCP_RPC_INVALID_PARAMS);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tasks/get\",\"params\":{}}")),
                     MCP_RPC_INVALID_PARAMS);
    free(failed);
    fixture_free(f);
}

static void test_task_needing_input(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-11-25");
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\",\"task\":{}}}");
    char *id = task_id_of(capture_json(&f->cap, 0));
    long e = find_message(f, "elicitation/create", 0);
    assert_true(e >= 0);
    mcp_json *req = capture_json(&f->cap, (size_t)e);
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(mcp_json_get(req, "params"), "_meta"),
                                            "io.modelcontextprotocol/related-task"), "taskId"), id);
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(req, "params"), "requestedSchema"), "type"), "object");
    long st = find_message(f, "notifications/tasks/status", 0);
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, (size_t)st), "params"), "status"), "input_required");
    answer_request(f, req, "{\"action\":\"accept\"}");
    /* working again, then completed; no response for request 1. */
    assert_int_equal(capture_count(&f->cap), 2);
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, 0), "params"), "status"), "working");
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, 1), "params"), "status"), "completed");
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(roundtrip(f, text)), "content"), 0), "text"), "answer: accept");
    free(id);

    /* Cancelled while it waits for the client: ends at once, our request
     * is withdrawn, and a late answer changes nothing. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\",\"task\":{}}}");
    id = task_id_of(capture_json(&f->cap, 0));
    e = find_message(f, "elicitation/create", 0);
    int64_t asked = mcp_json_int(mcp_json_get(capture_json(&f->cap, (size_t)e), "id"), -1);
    capture_clear(&f->cap);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tasks/cancel\",\"params\":{\"taskId\":\"%s\"}}", id);
    send_text(f, text);
    assert_true(find_message(f, "notifications/cancelled", 0) >= 0);
    assert_int_equal(mcp_session_drain(f->session, 1000), 0);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\"}}", (long long)asked);
    capture_clear(&f->cap);
    send_text(f, text);
    assert_int_equal(capture_count(&f->cap), 0);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"%s\"}}", id);
    assert_string_equal(str_at(result_of(roundtrip(f, text)), "status"), "cancelled");
    free(id);
    fixture_free(f);
}

static void test_no_tasks_before_2025_11_25_or_modern(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-06-18");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/list\"}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);
    /* The task param is ignored: a plain result, even for a "required" tool. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{}}}");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), "quick");
    fixture_free(f);

    f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "must", .fn = tool_quick, .task_support = "required"}), 0);
    /* The modern era has tasks as an extension (test_mcp_tasks_modern.c):
     * the 2025-11-25 task param means nothing there, a required tool needs
     * the extension declared, and tasks/list is gone. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"must\",\"task\":{}," MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"server/discover\",\"params\":{" MODERN_META "}}");
    assert_null(mcp_json_get(mcp_json_get(result_of(doc), "capabilities"), "tasks"));
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tasks/list\",\"params\":{" MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_METHOD_NOT_FOUND);
    fixture_free(f);
}

static void test_session_end_with_running_task(void **state)
{
    (void)state;
    fixture *f = setup_server("2025-11-25");
    char *id = task_id_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"job\",\"task\":{}}}"));
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    send_text(f, text);
    free(id);
    /* The handler sees the cancellation; nothing hangs or leaks. */
    fixture_free(f);
    assert_true(the_gate.saw_cancel);
}

static void test_task_limit(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .max_tasks = 2});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "q", .fn = tool_quick, .task_support = "optional"}), 0);
    handshake(f, "2025-11-25", "{}");
    for (int i = 0; i < 2; i++) {
        capture_clear(&f->cap);
        send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"q\",\"task\":{}}}");
        free(task_id_of(capture_json(&f->cap, 0)));
    }
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"q\",\"task\":{}}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_limit),
        cmocka_unit_test(test_task_lifecycle),
        cmocka_unit_test(test_cancel_reaches_handler),
        cmocka_unit_test(test_support_rules_list_and_failures),
        cmocka_unit_test(test_task_needing_input),
        cmocka_unit_test(test_no_tasks_before_2025_11_25_or_modern),
        cmocka_unit_test(test_session_end_with_running_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
