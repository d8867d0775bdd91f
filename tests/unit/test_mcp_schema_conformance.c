/* Every message the server core emits for the features of this layer —
 * notifications, server-to-client requests, results and errors — checked
 * against the published JSON Schema of its protocol version (2025-11-25
 * and 2026-07-28, from the shared test data), with our own validator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"
#include "test_mcp_schema.h"

#include <unistd.h>

static void check(const char *version, const char *def, const mcp_json *value, const char *text)
{
    mcp_buf why;
    mcp_buf_init(&why);
    if (mcp_schema_validate(schema_for(version, def), value, &why) != 0)
        fail_msg("%s %s: %s\n  in %s", version, def, why.data ? why.data : "?", text);
    mcp_buf_free(&why);
}

static const char *notification_def(const char *method)
{
    static const char *const MAP[][2] = {
        {"notifications/message", "LoggingMessageNotification"},
        {"notifications/resources/updated", "ResourceUpdatedNotification"},
        {"notifications/resources/list_changed", "ResourceListChangedNotification"},
        {"notifications/tools/list_changed", "ToolListChangedNotification"},
        {"notifications/prompts/list_changed", "PromptListChangedNotification"},
        {"notifications/progress", "ProgressNotification"},
        {"notifications/cancelled", "CancelledNotification"},
        {"notifications/tasks/status", "TaskStatusNotification"},
        {"notifications/subscriptions/acknowledged", "SubscriptionsAcknowledgedNotification"},
        {"elicitation/create", "ElicitRequest"},
        {"sampling/createMessage", "CreateMessageRequest"},
        {"roots/list", "ListRootsRequest"},
        {"ping", "PingRequest"},
    };
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (!strcmp(MAP[i][0], method))
            return MAP[i][1];
    return NULL;
}

/* Validate everything captured so far; responses with id expect_id must
 * carry a result of result_def (NULL: an error response). */
static size_t check_all(fixture *f, const char *version, const char *expect_id, const char *result_def)
{
    size_t responses = 0;
    for (size_t i = 0; i < capture_count(&f->cap); i++) {
        mcp_json *doc = capture_json(&f->cap, i);
        assert_non_null(doc);
        const char *text = f->cap.messages[i];
        const char *method = method_of(doc);
        if (*method) {
            const char *def = notification_def(method);
            if (!def)
                fail_msg("no schema mapped for %s", method);
            check(version, def, doc, text);
            continue;
        }
        mcp_str id = mcp_json_raw(mcp_json_get(doc, "id"));
        if (expect_id && (id.len != strlen(expect_id) || memcmp(id.ptr, expect_id, id.len) != 0))
            continue;
        responses++;
        if (mcp_json_get(doc, "error")) {
            check(version, "JSONRPCErrorResponse", doc, text);
            if (result_def)
                fail_msg("expected %s, got an error: %s", result_def, text);
        } else {
            check(version, "JSONRPCResultResponse", doc, text);
            if (!result_def)
                fail_msg("expected an error: %s", text);
            check(version, result_def, mcp_json_get(doc, "result"), text);
        }
    }
    return responses;
}

/* Send one request; validate what came back. */
static void exchange(fixture *f, const char *version, const char *text, const char *id, const char *result_def)
{
    capture_clear(&f->cap);
    send_text(f, text);
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    if (check_all(f, version, id, result_def) != 1)
        fail_msg("expected one response to %s", text);
}

/* ---- a server with every feature ----------------------------------------------------- */

static int logs(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    mcp_call_log(call, MCP_LOG_WARNING, "t", "careful");
    mcp_call_progress(call, 1, 2, "half");
    mcp_call_text(call, "x");
    mcp_call_annotate(call, "{\"audience\":[\"user\"],\"priority\":0.5}");
    mcp_call_embedded_text(call, "file:///a", "text/plain", "a", 1);
    mcp_call_resource_link(call, "file:///b", "b", NULL);
    mcp_call_image(call, "aGk=", "image/png");
    return mcp_call_audio(call, "aGk=", "audio/wav");
}

static int asks(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    if (!mcp_call_input(call, "e")) {
        mcp_call_request_elicitation(call, "e", "Sure?", "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}");
        mcp_call_request_sampling(call, "s", "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"hi\"}}],\"maxTokens\":5}");
        mcp_call_set_request_state(call, "st");
        return mcp_call_request_roots(call, "r");
    }
    return mcp_call_text(call, "done");
}

static int read_it(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "x", 1);
}

static int complete(mcp_call *call, const char *argument, const char *value, const mcp_json *context, void *user)
{
    (void)argument, (void)value, (void)context, (void)user;
    mcp_call_completion(call, "one");
    return mcp_call_completion_total(call, 1, false);
}

static void ignore_answer(int status, const mcp_json *result, const mcp_json *error, void *user)
{
    (void)status, (void)result, (void)error, (void)user;
}

static fixture *full_server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "s", .version = "1", .icons = "[{\"src\":\"https://x/i.png\"}]",
                                                .website_url = "https://x"});
    static const mcp_prompt_argument args[] = {{.name = "lang"}};
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "logs", .fn = logs, .task_support = "optional",
                                                                 .icons = "[{\"src\":\"https://x/t.png\",\"sizes\":[\"16x16\"]}]"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "asks", .fn = asks}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "file:///r", .name = "r", .fn = read_it,
                                                                         .annotations = "{\"priority\":1}", .size = 1}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "file:///t/{x}", .name = "t", .fn = read_it, .complete = complete}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p", .arguments = args, .argument_count = 1,
                                                                     .complete = complete}), 0);
    return f;
}

#define SKIP_WITHOUT_SCHEMAS()                                                                   \
    do {                                                                                         \
        if (!schema_text[0] || !schema_text[1]) {                                                \
            printf("SKIPPED: MCP schemas not found under $MCP_SHARED_DATA/mcp-schema\n");       \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

static void test_handshake_messages(void **state)
{
    (void)state;
    SKIP_WITHOUT_SCHEMAS();
    const char *v = "2025-11-25";
    fixture *f = full_server();
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                   "\"capabilities\":{\"elicitation\":{},\"sampling\":{},\"roots\":{}},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
             "1", "InitializeResult");
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", "2", "ListToolsResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}", "3", "ListResourcesResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///r\"}}", "4", "EmptyResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"info\"}}", "5", "EmptyResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"logs\",\"_meta\":{\"progressToken\":9}}}",
             "6", "CallToolResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"p\"},"
                   "\"argument\":{\"name\":\"lang\",\"value\":\"\"}}}", "7", "CompleteResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"file:///t/{x}\"},"
                   "\"argument\":{\"name\":\"x\",\"value\":\"\"}}}", "8", "CompleteResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"completion/complete\",\"params\":{}}", "9", NULL);

    /* Notifications from the server side. */
    capture_clear(&f->cap);
    mcp_server_notify_resource_updated(f->server, "file:///r");
    mcp_server_log(f->server, MCP_LOG_ERROR, "srv", "boom");
    mcp_server_remove_tool(f->server, "asks");
    mcp_server_add_tool(f->server, &(mcp_tool){.name = "asks", .fn = asks});
    mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "q"});
    mcp_server_remove_resource(f->server, "file:///r");
    assert_int_equal(capture_count(&f->cap), 6);
    check_all(f, v, NULL, NULL);

    /* Server-to-client requests and the call that waits for them. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"asks\"}}");
    assert_int_equal(capture_count(&f->cap), 3);
    check_all(f, v, NULL, NULL);
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = mcp_json_int(mcp_json_get(capture_json(&f->cap, (size_t)i), "id"), -1);
    char text[512];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{\"ok\":true}}}", (long long)ids[0]);
    send_text(f, text);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"yo\"},\"model\":\"m\"}}", (long long)ids[1]);
    send_text(f, text);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"roots\":[]}}", (long long)ids[2]);
    exchange(f, v, text, "10", "CallToolResult");
    /* A call cancelled while it waits: our requests are withdrawn. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"tools/call\",\"params\":{\"name\":\"asks\"}}");
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":16}}");
    assert_true(find_message(f, "notifications/cancelled", 0) >= 0);
    assert_int_equal(check_all(f, v, "16", NULL), 0);
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_ping(f->session, ignore_answer, NULL), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    check_all(f, v, NULL, NULL);

    /* Tasks. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"logs\",\"task\":{}}}");
    assert_int_equal(check_all(f, v, "11", "CreateTaskResult"), 1);
    char task[64];
    snprintf(task, sizeof task, "%s", str_at(mcp_json_get(result_of(capture_json(&f->cap, 0)), "task"), "taskId"));
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"%s\"}}", task);
    exchange(f, v, text, "12", "GetTaskResult");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", task);
    exchange(f, v, text, "13", "CallToolResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tasks/list\"}", "14", "ListTasksResult");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"tasks/cancel\",\"params\":{\"taskId\":\"%s\"}}", task);
    exchange(f, v, text, "15", NULL);
    fixture_free(f);
}

static void test_modern_messages(void **state)
{
    (void)state;
    SKIP_WITHOUT_SCHEMAS();
    const char *v = "2026-07-28";
    fixture *f = full_server();
#define CAPS MODERN_META_CAPS("{\"elicitation\":{\"form\":{}},\"sampling\":{},\"roots\":{}}")
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" CAPS "}}", "1", "DiscoverResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{" CAPS "}}", "2", "ListToolsResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///r\"," CAPS "}}", "3", "ReadResourceResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"logs\",\"_meta\":{"
                   "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},"
                   "\"io.modelcontextprotocol/logLevel\":\"debug\",\"progressToken\":\"p\"}}}", "4", "CallToolResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"asks\"," CAPS "}}", "5", "InputRequiredResult");
    char text[2048];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"asks\",\"requestState\":\"%s\","
             "\"inputResponses\":{\"e\":{\"action\":\"decline\"},\"r\":{\"roots\":[]},\"s\":{\"role\":\"assistant\","
             "\"content\":{\"type\":\"text\",\"text\":\"x\"},\"model\":\"m\"}}," CAPS "}}",
             str_at(mcp_json_get(capture_json(&f->cap, 0), "result"), "requestState"));
    exchange(f, v, text, "6", "CallToolResult");
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"asks\"," MODERN_META "}}", "7", NULL);
    check(v, "MissingRequiredClientCapabilityError", capture_json(&f->cap, 0), f->cap.messages[0]);
    exchange(f, v, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"p\"},"
                   "\"argument\":{\"name\":\"lang\",\"value\":\"\"}," CAPS "}}", "8", "CompleteResult");

    /* A listen stream: acknowledgement, its notifications, and its end. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{"
                 "\"toolsListChanged\":true,\"resourcesListChanged\":true,\"promptsListChanged\":true,"
                 "\"resourceSubscriptions\":[\"file:///r\"]}," CAPS "}}");
    mcp_server_notify_resource_updated(f->server, "file:///r");
    mcp_server_remove_tool(f->server, "asks");
    mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "q"});
    mcp_server_remove_resource(f->server, "file:///r");
    assert_int_equal(mcp_session_end_listens(f->session), 1);
    assert_int_equal(capture_count(&f->cap), 6);
    assert_int_equal(check_all(f, v, "\"L\"", "SubscriptionsListenResult"), 1);
#undef CAPS
    fixture_free(f);
}

/* The checks above can fail: wrong messages are caught. */
static void test_bad_messages_are_caught(void **state)
{
    (void)state;
    SKIP_WITHOUT_SCHEMAS();
    static const char *const bad[][3] = {
        {"2025-11-25", "LoggingMessageNotification", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"data\":1}}"},
        {"2025-11-25", "Task", "{\"taskId\":\"x\",\"status\":\"done\",\"createdAt\":\"a\",\"lastUpdatedAt\":\"b\",\"ttl\":1}"},
        {"2026-07-28", "InputRequiredResult", "{\"inputRequests\":{}}"},
        {"2026-07-28", "CompleteResult", "{\"resultType\":\"complete\",\"completion\":{\"values\":[1]}}"},
        {"2026-07-28", "SubscriptionsListenResult", "{\"resultType\":\"complete\",\"_meta\":{}}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        assert_int_equal(mcp_json_parse(&arena, bad[i][2], strlen(bad[i][2]), NULL, &doc, NULL), 0);
        mcp_buf why;
        mcp_buf_init(&why);
        if (mcp_schema_validate(schema_for(bad[i][0], bad[i][1]), doc, &why) != MCP_EINVAL)
            fail_msg("%s accepted %s", bad[i][1], bad[i][2]);
        mcp_buf_free(&why);
        mcp_arena_free(&arena);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_messages_are_caught),
        cmocka_unit_test(test_handshake_messages),
        cmocka_unit_test(test_modern_messages),
    };
    return cmocka_run_group_tests(tests, schema_docs_load, schema_docs_free);
}
