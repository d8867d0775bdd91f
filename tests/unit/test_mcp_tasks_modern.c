/* The tasks extension of 2026-07-28 ("io.modelcontextprotocol/tasks"):
 * discovery advertises it; tools/call of a task-supporting tool from a
 * client that declared it answers with a flat CreateTaskResult; tasks/get
 * gives the DetailedTask (result or error inlined once terminal,
 * inputRequests while waiting); tasks/update answers input, partly or
 * wholly; tasks/cancel reaches the tool and is idempotent; tool errors
 * complete, protocol errors fail; bad input gets -32602, a client without
 * the extension -32021, the removed tasks/result and tasks/list -32601;
 * tasks outlive the connection that created them; listens hear their
 * status changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"
#include "test_task_tools.h"
#include "mcp/tasks_modern.h"

#include <unistd.h>

#define EXT_CAPS "{\"extensions\":{\"io.modelcontextprotocol/tasks\":{}},\"elicitation\":{}}"
#define META_EXT MODERN_META_CAPS(EXT_CAPS)
#define META_PLAIN MODERN_META_CAPS("{\"elicitation\":{}}")

#define OBJECT_SCHEMA "{\"type\":\"object\",\"properties\":{}}"

static int ask(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *a = mcp_call_input(call, "ok");
    if (!a)
        return mcp_call_request_elicitation(call, "ok", "Go?", OBJECT_SCHEMA);
    return mcp_call_text(call, "answer: %s", mcp_json_str(mcp_json_get(a, "action"), ""));
}

/* Asks two questions at once. */
static int two(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *a = mcp_call_input(call, "a"), *b = mcp_call_input(call, "b");
    if (!a || !b) {
        int rc = mcp_call_request_elicitation(call, "a", "First?", OBJECT_SCHEMA);
        if (rc == MCP_INPUT_REQUIRED)
            rc = mcp_call_request_elicitation(call, "b", "Second?", OBJECT_SCHEMA);
        return rc;
    }
    return mcp_call_text(call, "%s+%s", mcp_json_str(mcp_json_get(a, "action"), ""),
                         mcp_json_str(mcp_json_get(b, "action"), ""));
}

/* Asks "q" in two rounds, keeping which round it is in the request state. */
static int again(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const char *st = mcp_call_request_state(call);
    if (!mcp_call_input(call, "q"))
        return mcp_call_request_elicitation(call, "q", "One?", OBJECT_SCHEMA);
    if (!st) {
        int rc = mcp_call_set_request_state(call, "second");
        return rc ? rc : mcp_call_request_elicitation(call, "q", "Two?", OBJECT_SCHEMA);
    }
    return mcp_call_text(call, "two rounds, %s", st);
}

static fixture *setup(unsigned max_tasks)
{
    task_gate_reset();
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .max_tasks = max_tasks});
    mcp_server *s = f->server;
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "job", .fn = tool_job, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "must", .fn = tool_quick, .task_support = "required"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "opt", .fn = tool_quick, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "plain", .fn = tool_quick}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "broken", .fn = tool_broken, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "ask", .fn = ask, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "two", .fn = two, .task_support = "optional"}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "again", .fn = again, .task_support = "optional"}), 0);
    return f;
}

/* The server's tasks go before the server (what mcp_server_free does once
 * it calls mcp_server_tasks_free itself; a second call finds nothing). */
static void teardown(fixture *f)
{
    mcp_session_free(f->session);
    mcp_server_tasks_free(f->server);
    mcp_server_free(f->server);
    capture_free(&f->cap);
    free(f);
}

static mcp_json *call_tool(fixture *f, int id, const char *name, const char *args, const char *meta)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s,%s}}",
             id, name, args, meta);
    return roundtrip(f, text);
}

static mcp_json *task_request(fixture *f, int id, const char *method, const char *task_id, const char *extra,
                              const char *meta)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":{\"taskId\":\"%s\"%s%s,%s}}", id, method,
             task_id, extra ? "," : "", extra ? extra : "", meta);
    return roundtrip(f, text);
}

static mcp_json *get_task(fixture *f, int id, const char *task_id)
{
    return task_request(f, id, "tasks/get", task_id, NULL, META_EXT);
}

/* A CreateTaskResult: flat, resultType "task", integer ttlMs and
 * pollIntervalMs, none of the 2025-11-25 names, no requestState. */
static char *created_task(const mcp_json *doc)
{
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "task");
    assert_string_equal(str_at(r, "status"), "working");
    assert_int_equal(strlen(str_at(r, "taskId")), 32);
    assert_non_null(mcp_json_get(r, "createdAt"));
    assert_non_null(mcp_json_get(r, "lastUpdatedAt"));
    assert_true(mcp_json_is_integer(mcp_json_get(r, "ttlMs")));
    assert_true(mcp_json_int(mcp_json_get(r, "ttlMs"), 0) > 0);
    assert_true(mcp_json_is_integer(mcp_json_get(r, "pollIntervalMs")));
    assert_null(mcp_json_get(r, "task"));
    assert_null(mcp_json_get(r, "ttl"));
    assert_null(mcp_json_get(r, "pollInterval"));
    assert_null(mcp_json_get(r, "requestState"));
    assert_null(mcp_json_get(r, "content"));
    return strdup(str_at(r, "taskId"));
}

static void open_gate(void)
{
    task_gate_open();
}

static void wait_job_done(void)
{
    for (int i = 0; i < 5000; i++) {
        if (task_gate_done())
            return;
        usleep(1000);
    }
    fail_msg("the job did not finish");
}

static void test_discover_advertises_extension(void **state)
{
    (void)state;
    fixture *f = setup(0);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" META_PLAIN "}}");
    const mcp_json *caps = mcp_json_get(result_of(doc), "capabilities");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(caps, "extensions"), "io.modelcontextprotocol/tasks")));
    assert_null(mcp_json_get(caps, "tasks")); /* no 2025-11-25 slot */
    assert_non_null(mcp_json_get(caps, "tools"));
    /* The handshake era keeps its core tasks capability and no extensions. */
    handshake(f, "2025-11-25", "{}");
    teardown(f);
}

static void test_creation_is_server_directed(void **state)
{
    (void)state;
    fixture *f = setup(0);
    /* Declared, task-supporting: a task, even without any hint. */
    char *id = created_task(call_tool(f, 1, "opt", "{}", META_EXT));
    free(id);
    /* Not declared: an optional tool just runs; a required one is refused. */
    mcp_json *doc = call_tool(f, 2, "opt", "{}", META_PLAIN);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_null(mcp_json_get(result_of(doc), "taskId"));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), "quick");
    doc = call_tool(f, 3, "must", "{}", META_PLAIN);
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    const mcp_json *need = mcp_json_get(mcp_json_get(mcp_json_get(doc, "error"), "data"), "requiredCapabilities");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(need, "extensions"), "io.modelcontextprotocol/tasks")));
    /* A tool without task support never becomes a task; a legacy task
     * param neither errors nor promotes it. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"plain\","
                       "\"task\":{\"ttl\":1000}," META_EXT "}}");
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_null(mcp_json_get(result_of(doc), "taskId"));
    /* Bad arguments are answered at once, as without tasks. */
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "typed", .fn = tool_quick, .task_support = "optional",
                                                                .input_schema = "{\"type\":\"object\",\"properties\":"
                                                                                "{\"n\":{\"type\":\"integer\"}}}"}),
                     0);
    doc = call_tool(f, 5, "typed", "{\"n\":\"x\"}", META_EXT);
    assert_true(mcp_json_bool(mcp_json_get(result_of(doc), "isError"), false));
    assert_null(mcp_json_get(result_of(doc), "taskId"));
    teardown(f);
}

static void test_lifecycle_get_and_result(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "job", "{}", META_EXT));
    /* Durable at once: tasks/get finds it, working, nothing inlined. */
    mcp_json *doc = get_task(f, 2, id);
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "complete");
    assert_string_equal(str_at(r, "status"), "working");
    assert_string_equal(str_at(r, "taskId"), id);
    assert_null(mcp_json_get(r, "result"));
    assert_null(mcp_json_get(r, "error"));
    open_gate();
    wait_job_done();
    doc = get_task(f, 3, id);
    r = result_of(doc);
    assert_string_equal(str_at(r, "status"), "completed");
    const mcp_json *inlined = mcp_json_get(r, "result");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(inlined, "content"), 0), "text"), "job done");
    assert_null(mcp_json_get(mcp_json_get(inlined, "_meta"), "io.modelcontextprotocol/related-task"));
    assert_null(mcp_json_get(r, "requestState"));
    /* Cancelling a finished task: the same empty acknowledgement. */
    doc = task_request(f, 4, "tasks/cancel", id, NULL, META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_null(mcp_json_get(result_of(doc), "taskId"));
    assert_string_equal(str_at(result_of(get_task(f, 5, id)), "status"), "completed");
    free(id);
    teardown(f);
}

static void test_cancel_reaches_tool(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "job", "{}", META_EXT));
    mcp_json *doc = task_request(f, 2, "tasks/cancel", id, NULL, META_EXT);
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "complete");
    assert_null(mcp_json_get(r, "taskId"));
    assert_null(mcp_json_get(r, "status"));
    wait_job_done();
    assert_true(the_gate.saw_cancel);
    /* The tool's late reply is dropped: the task stays cancelled. */
    r = result_of(get_task(f, 3, id));
    assert_string_equal(str_at(r, "status"), "cancelled");
    assert_null(mcp_json_get(r, "result"));
    doc = task_request(f, 4, "tasks/cancel", id, NULL, META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    free(id);
    teardown(f);
}

static void test_tool_error_completes_protocol_error_fails(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "opt", "{\"fail\":true}", META_EXT));
    const mcp_json *r = result_of(get_task(f, 2, id));
    assert_string_equal(str_at(r, "status"), "completed");
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(r, "result"), "isError"), false));
    free(id);
    id = created_task(call_tool(f, 3, "broken", "{}", META_EXT));
    r = result_of(get_task(f, 4, id));
    assert_string_equal(str_at(r, "status"), "failed");
    assert_null(mcp_json_get(r, "result"));
    const mcp_json *err = mcp_json_get(r, "error");
    assert_int_equal(mcp_json_int(mcp_json_get(err, "code"), 0), MCP_RPC_INTERNAL_ERROR);
    assert_string_equal(str_at(err, "message"), "the backend is down");
    assert_string_equal(str_at(r, "statusMessage"), "the backend is down");
    free(id);
    teardown(f);
}

static void test_input_through_update(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "ask", "{}", META_EXT));
    const mcp_json *r = result_of(get_task(f, 2, id));
    assert_string_equal(str_at(r, "status"), "input_required");
    /* Keys carry their round on the wire, so that none names two requests. */
    const mcp_json *req = mcp_json_get(mcp_json_get(r, "inputRequests"), "1.ok");
    assert_string_equal(str_at(req, "method"), "elicitation/create");
    assert_string_equal(str_at(mcp_json_get(req, "params"), "message"), "Go?");
    assert_null(mcp_json_get(r, "requestState"));
    /* An answer to a key never asked is ignored. */
    mcp_json *doc = task_request(f, 3, "tasks/update", id, "\"inputResponses\":{\"nope\":{\"action\":\"accept\"}}", META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_null(mcp_json_get(result_of(doc), "taskId"));
    assert_string_equal(str_at(result_of(get_task(f, 4, id)), "status"), "input_required");
    doc = task_request(f, 5, "tasks/update", id, "\"inputResponses\":{\"1.ok\":{\"action\":\"accept\",\"content\":{}}}",
                       META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    r = result_of(get_task(f, 6, id));
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(mcp_json_get(r, "result"), "content"), 0), "text"),
                        "answer: accept");
    /* Updating a finished task changes nothing. */
    doc = task_request(f, 7, "tasks/update", id, "\"inputResponses\":{\"1.ok\":{\"action\":\"decline\"}}", META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_string_equal(str_at(result_of(get_task(f, 8, id)), "status"), "completed");
    free(id);
    teardown(f);
}

/* task_after_input: a round without answers is an ordinary input_required
 * result (no task); the round that brings answers becomes the task, which
 * goes on asking through tasks/get and tasks/update, carries the tool's
 * request state from round to round without showing it, and ends with what
 * every round gathered. */
static void test_input_first_then_task(void **state)
{
    (void)state;
    fixture *f = setup(0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "gather", .fn = again, .task_support = "required",
                                                                .task_after_input = true}),
                     0);
    const mcp_json *r = result_of(call_tool(f, 1, "gather", "{}", META_EXT));
    assert_string_equal(str_at(r, "resultType"), "input_required");
    assert_null(mcp_json_get(r, "taskId"));
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(r, "inputRequests"), "q"), "method"), "elicitation/create");
    /* The answer: this round is the task (again asks once more in it). */
    char *id = created_task(call_tool(f, 2, "gather", "{}",
                                      "\"inputResponses\":{\"q\":{\"action\":\"accept\",\"content\":{}}}," META_EXT));
    r = result_of(get_task(f, 3, id));
    assert_string_equal(str_at(r, "status"), "input_required");
    assert_null(mcp_json_get(r, "requestState"));
    const mcp_json *asked = mcp_json_first(mcp_json_get(r, "inputRequests"));
    assert_non_null(asked);
    assert_string_equal(str_at(asked, "method"), "elicitation/create");
    char update[256];
    snprintf(update, sizeof update, "\"inputResponses\":{\"%.*s\":{\"action\":\"accept\",\"content\":{}}}",
             (int)mcp_json_key(asked).len, mcp_json_key(asked).ptr);
    mcp_json *doc = task_request(f, 4, "tasks/update", id, update, META_EXT);
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    r = result_of(get_task(f, 5, id));
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(mcp_json_get(r, "result"), "content"), 0), "text"),
                        "two rounds, second");
    /* Without the extension a required tool is still refused at once. */
    assert_int_equal(error_code(call_tool(f, 6, "gather", "{}", META_PLAIN)), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    free(id);
    teardown(f);
}

static void test_partial_update(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "two", "{}", META_EXT));
    const mcp_json *requests = mcp_json_get(result_of(get_task(f, 2, id)), "inputRequests");
    assert_int_equal(mcp_json_len(requests), 2);
    task_request(f, 3, "tasks/update", id, "\"inputResponses\":{\"1.a\":{\"action\":\"accept\"}}", META_EXT);
    const mcp_json *r = result_of(get_task(f, 4, id));
    assert_string_equal(str_at(r, "status"), "input_required");
    requests = mcp_json_get(r, "inputRequests");
    assert_int_equal(mcp_json_len(requests), 1);
    assert_non_null(mcp_json_get(requests, "1.b"));
    task_request(f, 5, "tasks/update", id, "\"inputResponses\":{\"1.b\":{\"action\":\"decline\"}}", META_EXT);
    r = result_of(get_task(f, 6, id));
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(mcp_json_get(r, "result"), "content"), 0), "text"),
                        "accept+decline");
    free(id);
    teardown(f);
}

static void test_bad_input(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "opt", "{}", META_EXT));
    /* Without the extension on the request: -32021 for every method. */
    static const char *const methods[] = {"tasks/get", "tasks/cancel", "tasks/update"};
    for (size_t i = 0; i < 3; i++) {
        mcp_json *doc = task_request(f, 2, methods[i], id, "\"inputResponses\":{}", META_PLAIN);
        assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    }
    /* Unknown ids, and ids that are not strings: -32602. */
    for (size_t i = 0; i < 3; i++) {
        mcp_json *doc = task_request(f, 3, methods[i], "ffffffffffffffffffffffffffffffff", "\"inputResponses\":{}", META_EXT);
        assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
        char text[512];
        snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"%s\",\"params\":{\"taskId\":7,"
                 "\"inputResponses\":{}," META_EXT "}}", methods[i]);
        assert_int_equal(error_code(roundtrip(f, text)), MCP_RPC_INVALID_PARAMS);
    }
    /* tasks/update needs inputResponses as an object. */
    assert_int_equal(error_code(task_request(f, 5, "tasks/update", id, NULL, META_EXT)), MCP_RPC_INVALID_PARAMS);
    assert_int_equal(error_code(task_request(f, 6, "tasks/update", id, "\"inputResponses\":[1]", META_EXT)),
                     MCP_RPC_INVALID_PARAMS);
    /* tasks/result and tasks/list are gone in this era. */
    assert_int_equal(error_code(task_request(f, 7, "tasks/result", id, NULL, META_EXT)), MCP_RPC_METHOD_NOT_FOUND);
    assert_int_equal(error_code(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tasks/list\",\"params\":{" META_EXT "}}")),
                     MCP_RPC_METHOD_NOT_FOUND);
    /* Nothing was lost: the task is still there and complete. */
    assert_string_equal(str_at(result_of(get_task(f, 9, id)), "status"), "completed");
    free(id);
    teardown(f);
}

/* Tasks belong to the server: another connection polls them; a limit on
 * live tasks is kept. */
static void test_tasks_outlive_connection_and_limit(void **state)
{
    (void)state;
    fixture *f = setup(2);
    char *id = created_task(call_tool(f, 1, "opt", "{}", META_EXT));
    char *id2 = created_task(call_tool(f, 2, "opt", "{}", META_EXT));
    mcp_json *doc = call_tool(f, 3, "opt", "{}", META_EXT);
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_REQUEST);
    mcp_session_free(f->session);
    capture_clear(&f->cap);
    mcp_sink sink = capture_sink(&f->cap);
    f->session = mcp_session_new(f->server, &sink);
    assert_string_equal(str_at(result_of(get_task(f, 4, id)), "status"), "completed");
    assert_string_equal(str_at(result_of(get_task(f, 5, id2)), "status"), "completed");
    free(id);
    free(id2);
    teardown(f);
}

/* One key in two rounds of the tool: two distinct keys on the wire; an
 * answer to the first round's key is not taken for the second. */
static void test_keys_unique_across_rounds(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "again", "{}", META_EXT));
    const mcp_json *requests = mcp_json_get(result_of(get_task(f, 2, id)), "inputRequests");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(requests, "1.q"), "params"), "message"), "One?");
    task_request(f, 3, "tasks/update", id, "\"inputResponses\":{\"1.q\":{\"action\":\"accept\"}}", META_EXT);
    const mcp_json *r = result_of(get_task(f, 4, id));
    assert_string_equal(str_at(r, "status"), "input_required");
    requests = mcp_json_get(r, "inputRequests");
    assert_null(mcp_json_get(requests, "1.q"));
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(requests, "2.q"), "params"), "message"), "Two?");
    assert_null(mcp_json_get(r, "requestState"));
    task_request(f, 5, "tasks/update", id, "\"inputResponses\":{\"1.q\":{\"action\":\"accept\"}}", META_EXT);
    assert_string_equal(str_at(result_of(get_task(f, 6, id)), "status"), "input_required");
    task_request(f, 7, "tasks/update", id, "\"inputResponses\":{\"2.q\":{\"action\":\"accept\"}}", META_EXT);
    r = result_of(get_task(f, 8, id));
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(mcp_json_get(r, "result"), "content"), 0), "text"),
                        "two rounds, second");
    free(id);
    teardown(f);
}

/* subscriptions/listen: taskIds need the extension; only ids of tasks that
 * exist are agreed to (none here). */
static void test_listen_task_ids(void **state)
{
    (void)state;
    fixture *f = setup(0);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscriptions/listen\",\"params\":{"
                                 "\"notifications\":{\"taskIds\":[\"abc\"]}," META_PLAIN "}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    assert_non_null(mcp_json_get(mcp_json_get(mcp_json_get(mcp_json_get(doc, "error"), "data"), "requiredCapabilities"),
                                 "extensions"));
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscriptions/listen\",\"params\":{"
                       "\"notifications\":{\"taskIds\":\"abc\"}," META_EXT "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{"
                       "\"notifications\":{\"taskIds\":[\"abc\"],\"toolsListChanged\":true}," META_EXT "}}");
    assert_string_equal(method_of(doc), "notifications/subscriptions/acknowledged");
    const mcp_json *agreed = mcp_json_get(mcp_json_get(doc, "params"), "notifications");
    assert_true(mcp_json_bool(mcp_json_get(agreed, "toolsListChanged"), false));
    assert_null(mcp_json_get(agreed, "taskIds"));
    teardown(f);
}

/* A listen watching a task hears its status changes: the whole
 * DetailedTask, on the listen's stream; ids of no task are not agreed to. */
static void test_listen_hears_task_status(void **state)
{
    (void)state;
    fixture *f = setup(0);
    char *id = created_task(call_tool(f, 1, "job", "{}", META_EXT));
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":\"watch\",\"method\":\"subscriptions/listen\",\"params\":{"
             "\"notifications\":{\"taskIds\":[\"%s\",\"ffffffffffffffffffffffffffffffff\"]}," META_EXT "}}", id);
    mcp_json *doc = roundtrip(f, text);
    assert_string_equal(method_of(doc), "notifications/subscriptions/acknowledged");
    const mcp_json *agreed = mcp_json_get(mcp_json_get(mcp_json_get(doc, "params"), "notifications"), "taskIds");
    assert_int_equal(mcp_json_len(agreed), 1);
    assert_string_equal(mcp_json_str(mcp_json_at(agreed, 0), ""), id);
    capture_clear(&f->cap);
    open_gate();
    wait_job_done();
    long n = find_message(f, "notifications/tasks", 0);
    assert_true(n >= 0);
    const mcp_json *params = mcp_json_get(capture_json(&f->cap, (size_t)n), "params");
    assert_string_equal(str_at(params, "taskId"), id);
    assert_string_equal(str_at(params, "status"), "completed");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(mcp_json_get(params, "result"), "content"), 0), "text"),
                        "job done");
    assert_string_equal(str_at(mcp_json_get(params, "_meta"), "io.modelcontextprotocol/subscriptionId"), "watch");
    assert_int_equal(find_message(f, "notifications/tasks", (size_t)n + 1), -1);
    /* Once the listen is cancelled, nothing more is heard. */
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"watch\"}}");
    capture_clear(&f->cap);
    char *id2 = created_task(call_tool(f, 2, "opt", "{}", META_EXT));
    assert_int_equal(capture_count(&f->cap), 1);
    free(id2);
    free(id);
    teardown(f);
}

/* ---- Many clients at once ----------------------------------------------------- */

typedef struct nap_job {
    mcp_call *call;
    int64_t ms;
} nap_job;

/* Sleeps args.ms milliseconds, or until cancelled. */
static void *nap_thread(void *arg)
{
    nap_job *job = arg;
    for (int64_t i = 0; i < job->ms && !mcp_call_is_cancelled(job->call); i++)
        usleep(1000);
    mcp_call_text(job->call, "rested");
    mcp_call_finish(job->call);
    free(job);
    return NULL;
}

static int nap(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    nap_job *job = malloc(sizeof *job);
    if (!job)
        return MCP_ENOMEM;
    *job = (nap_job){call, mcp_json_int(mcp_json_get(args, "ms"), 1)};
    pthread_t t;
    if (pthread_create(&t, NULL, nap_thread, job) != 0) {
        free(job);
        return MCP_EIO;
    }
    pthread_detach(t);
    return MCP_PENDING;
}

typedef struct racer {
    mcp_server *server;
    int wrong;        /* answers that were not what they should be */
    int completed, cancelled;
} racer;

static const mcp_json *only_reply(capture *c, size_t *count)
{
    *count = capture_count(c);
    return *count == 1 ? capture_json(c, 0) : NULL;
}

/* One connection: create tasks, cancel every other one at once, poll each
 * to its end. Asserts are counted here and checked by the main thread. */
static void *race(void *arg)
{
    racer *r = arg;
    capture cap;
    capture_init(&cap);
    mcp_sink sink = capture_sink(&cap);
    mcp_session *s = mcp_session_new(r->server, &sink);
    char text[1024];
    for (int i = 0; i < 25; i++) {
        /* The tasks to cancel sleep long enough not to finish first. */
        bool cancel = i % 2 == 0;
        capture_clear(&cap);
        snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"nap\","
                 "\"arguments\":{\"ms\":%d}," META_EXT "}}", i, cancel ? 10000 : 2);
        session_send(s, text);
        size_t n;
        const mcp_json *doc = only_reply(&cap, &n);
        const char *id = mcp_json_str(mcp_json_get(mcp_json_get(doc, "result"), "taskId"), NULL);
        if (!id) {
            r->wrong++;
            continue;
        }
        char task_id[33];
        snprintf(task_id, sizeof task_id, "%s", id);
        if (cancel) {
            capture_clear(&cap);
            snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":\"c%d\",\"method\":\"tasks/cancel\",\"params\":"
                     "{\"taskId\":\"%s\"," META_EXT "}}", i, task_id);
            session_send(s, text);
            doc = only_reply(&cap, &n);
            if (strcmp(mcp_json_str(mcp_json_get(mcp_json_get(doc, "result"), "resultType"), ""), "complete") != 0)
                r->wrong++;
        }
        const char *status = "";
        for (int poll = 0; poll < 2000; poll++) {
            capture_clear(&cap);
            snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":\"g%d\",\"method\":\"tasks/get\",\"params\":"
                     "{\"taskId\":\"%s\"," META_EXT "}}", i, task_id);
            session_send(s, text);
            doc = only_reply(&cap, &n);
            status = mcp_json_str(mcp_json_get(mcp_json_get(doc, "result"), "status"), "");
            if (strcmp(status, "working") != 0)
                break;
            usleep(500);
        }
        if (cancel && !strcmp(status, "cancelled"))
            r->cancelled++;
        else if (!cancel && !strcmp(status, "completed"))
            r->completed++;
        else
            r->wrong++;
    }
    mcp_session_free(s);
    capture_free(&cap);
    return NULL;
}

static void test_many_clients_at_once(void **state)
{
    (void)state;
    fixture *f = setup(0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "nap", .fn = nap, .task_support = "optional"}), 0);
    racer racers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        racers[i] = (racer){.server = f->server};
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(racers[i].wrong, 0);
        assert_int_equal(racers[i].completed, 12);
        assert_int_equal(racers[i].cancelled, 13);
    }
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discover_advertises_extension),
        cmocka_unit_test(test_creation_is_server_directed),
        cmocka_unit_test(test_lifecycle_get_and_result),
        cmocka_unit_test(test_cancel_reaches_tool),
        cmocka_unit_test(test_tool_error_completes_protocol_error_fails),
        cmocka_unit_test(test_input_through_update),
        cmocka_unit_test(test_partial_update),
        cmocka_unit_test(test_input_first_then_task),
        cmocka_unit_test(test_keys_unique_across_rounds),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_tasks_outlive_connection_and_limit),
        cmocka_unit_test(test_listen_task_ids),
        cmocka_unit_test(test_listen_hears_task_status),
        cmocka_unit_test(test_many_clients_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
