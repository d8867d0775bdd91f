/* Server-to-client requests in the handshake era: ping and arbitrary
 * requests from the session (mcp_session_request), and the input a handler
 * asks for (elicitation, sampling, roots) sent as requests with ids of
 * ours, the handler running again once the answers are in; capability
 * checks, error answers, cancellation and session end while waiting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

static const char CONFIRM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}";

static int runs;

/* Asks for confirmation, then answers with what the user said. */
static int confirm(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    runs++;
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        mcp_call_text(call, "this first-round text is discarded");
        return mcp_call_request_elicitation(call, "confirm", "Really?", CONFIRM_SCHEMA);
    }
    const char *action = mcp_json_str(mcp_json_get(answer, "action"), "");
    if (strcmp(action, "accept") != 0)
        return mcp_call_text(call, "not confirmed (%s)", action);
    return mcp_call_text(call, "confirmed: %s",
                         mcp_json_bool(mcp_json_get(mcp_json_get(answer, "content"), "ok"), false) ? "yes" : "no");
}

/* Two rounds: roots first, then a sampling request that names them. */
static int two_rounds(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *roots = mcp_call_input(call, "roots");
    if (!roots) {
        mcp_call_set_request_state(call, "round-1");
        return mcp_call_request_roots(call, "roots");
    }
    const mcp_json *sample = mcp_call_input(call, "sample");
    if (!sample) {
        assert_string_equal(mcp_call_request_state(call), "round-1");
        const char *uri = mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(roots, "roots"), 0), "uri"), "?");
        char params[256];
        snprintf(params, sizeof params,
                 "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Summarise %s\"}}],"
                 "\"maxTokens\":50}", uri);
        return mcp_call_request_sampling(call, "sample", params);
    }
    return mcp_call_text(call, "%s",
                         mcp_json_str(mcp_json_get(mcp_json_get(sample, "content"), "text"), ""));
}

static fixture *server_with_tools(const char *version, const char *caps)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "confirm", .fn = confirm}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "two", .fn = two_rounds}), 0);
    handshake(f, version, caps);
    runs = 0;
    return f;
}

static void test_elicitation_round_trip(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"elicitation\":{}}");
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    assert_string_equal(method_of(req), "elicitation/create");
    int64_t id = mcp_json_int(mcp_json_get(req, "id"), -1);
    assert_true(id > 0);
    const mcp_json *params = mcp_json_get(req, "params");
    assert_string_equal(str_at(params, "mode"), "form");
    assert_string_equal(str_at(params, "message"), "Really?");
    assert_true(mcp_json_is_object(mcp_json_get(params, "requestedSchema")));
    assert_int_equal(runs, 1);
    /* The call is waiting for the client, not for us: drain returns. */
    assert_int_equal(mcp_session_drain(f->session, 50), 0);

    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{\"ok\":true}}}",
             (long long)id);
    mcp_json *doc = roundtrip(f, text);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), -1), 1);
    const mcp_json *content = mcp_json_get(result_of(doc), "content");
    assert_int_equal(mcp_json_len(content), 1);
    assert_string_equal(str_at(mcp_json_at(content, 0), "text"), "confirmed: yes");
    assert_int_equal(runs, 2);

    /* The same answer again matches nothing and gets no reply. */
    capture_clear(&f->cap);
    send_text(f, text);
    assert_int_equal(capture_count(&f->cap), 0);
    fixture_free(f);
}

static void test_elicitation_mode_absent_before_2025_11_25(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-06-18", "{\"elicitation\":{}}");
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    assert_string_equal(method_of(req), "elicitation/create");
    assert_null(mcp_json_get(mcp_json_get(req, "params"), "mode"));
    fixture_free(f);
}

static void test_missing_capability_fails_the_call(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"sampling\":{}}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    assert_non_null(strstr(str_at(mcp_json_get(doc, "error"), "message"), "elicitation/create"));
    fixture_free(f);
}

static void test_two_rounds_and_request_state(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"roots\":{},\"sampling\":{}}");
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{\"name\":\"two\"}}");
    assert_string_equal(method_of(req), "roots/list");
    assert_null(mcp_json_get(req, "params"));
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"roots\":[{\"uri\":\"file:///src\",\"name\":\"src\"}]}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    req = roundtrip(f, text);
    assert_string_equal(method_of(req), "sampling/createMessage");
    const mcp_json *msg = mcp_json_at(mcp_json_get(mcp_json_get(req, "params"), "messages"), 0);
    assert_string_equal(str_at(mcp_json_get(msg, "content"), "text"), "Summarise file:///src");
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"role\":\"assistant\",\"content\":{\"type\":\"text\","
             "\"text\":\"It is code.\"},\"model\":\"m\"}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    mcp_json *doc = roundtrip(f, text);
    assert_string_equal(str_at(doc, "id"), "c");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), "It is code.");
    fixture_free(f);
}

static void test_error_answer_fails_the_call(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"elicitation\":{}}");
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-1,\"message\":\"user went home\"}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    mcp_json *doc = roundtrip(f, text);
    assert_int_equal(error_code(doc), MCP_RPC_INTERNAL_ERROR);
    assert_non_null(strstr(str_at(mcp_json_get(doc, "error"), "message"), "user went home"));
    assert_int_equal(runs, 1);
    fixture_free(f);
}

static void test_cancel_while_waiting(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"elicitation\":{}}");
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    int64_t id = mcp_json_int(mcp_json_get(req, "id"), -1);
    /* Our request is withdrawn; the cancelled call gets no response. */
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":9}}");
    assert_string_equal(method_of(doc), "notifications/cancelled");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(doc, "params"), "requestId"), -1), id);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\"}}", (long long)id);
    capture_clear(&f->cap);
    send_text(f, text);
    assert_int_equal(capture_count(&f->cap), 0);
    assert_int_equal(runs, 1);
    fixture_free(f);
}

static void test_session_end_while_waiting(void **state)
{
    (void)state;
    fixture *f = server_with_tools("2025-11-25", "{\"elicitation\":{}}");
    roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    /* Must neither hang nor leak. */
    fixture_free(f);
}

typedef struct answer {
    int calls, status;
    char result[128];
} answer;

static void on_answer(int status, const mcp_json *result, const mcp_json *error, void *user)
{
    answer *a = user;
    a->calls++;
    a->status = status;
    mcp_str raw = mcp_json_raw(result ? result : error);
    snprintf(a->result, sizeof a->result, "%s%.*s", error ? "error:" : "", (int)raw.len, raw.ptr ? raw.ptr : "");
}

static void test_no_elicitation_before_2025_06_18(void **state)
{
    (void)state;
    /* A 2025-03-26 client that declares elicitation anyway: that revision
     * has no elicitation/create, so none may be sent. */
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    answer early = {0};
    handshake(f, "2025-03-26", "{\"elicitation\":{}}");
    assert_int_equal(mcp_session_request(f->session, "elicitation/create",
                                         "{\"message\":\"m\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}",
                                         on_answer, &early),
                     MCP_EUNSUPPORTED);
    assert_int_equal(capture_count(&f->cap), 0);
    fixture_free(f);
    assert_int_equal(early.calls, 0);
}

static void test_session_requests_and_ping(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    answer pong = {0}, roots = {0}, early = {0}, closed = {0};
    /* Before initialize nothing may go out, not even a ping: the client may
     * speak 2026-07-28, which has no server-to-client requests at all. */
    assert_int_equal(mcp_session_request(f->session, "roots/list", NULL, on_answer, &early), MCP_EINVAL);
    assert_int_equal(mcp_session_ping(f->session, on_answer, &early), MCP_EINVAL);
    assert_int_equal(capture_count(&f->cap), 0);

    handshake(f, "2025-11-25", "{\"roots\":{\"listChanged\":true}}");
    assert_int_equal(mcp_session_ping(f->session, on_answer, &pong), 0);
    mcp_json *ping = capture_json(&f->cap, 0);
    assert_string_equal(method_of(ping), "ping");
    int64_t ping_id = mcp_json_int(mcp_json_get(ping, "id"), -1);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)ping_id);
    send_text(f, text);
    assert_int_equal(pong.calls, 1);
    assert_int_equal(pong.status, 0);
    assert_string_equal(pong.result, "{}");
    capture_clear(&f->cap);

    assert_int_equal(mcp_session_request(f->session, "sampling/createMessage", "{\"messages\":[],\"maxTokens\":1}",
                                         on_answer, &early), MCP_EUNSUPPORTED);
    assert_int_equal(mcp_session_request(f->session, "roots/list", "[1]", on_answer, &early), MCP_EINVAL);
    assert_int_equal(mcp_session_request(f->session, "roots/list", NULL, on_answer, &roots), 0);
    mcp_json *req = capture_json(&f->cap, 0);
    assert_string_equal(method_of(req), "roots/list");
    int64_t id = mcp_json_int(mcp_json_get(req, "id"), -1);
    assert_true(id > ping_id); /* ids never repeat */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
             (long long)id);
    send_text(f, text);
    assert_int_equal(roots.calls, 1);
    assert_non_null(strstr(roots.result, "error:"));
    /* A string id is never one of ours. */
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}");
    assert_int_equal(mcp_session_ping(f->session, on_answer, &closed), 0);
    fixture_free(f);
    assert_int_equal(closed.calls, 1);
    assert_int_equal(closed.status, MCP_ECLOSED);
    assert_int_equal(early.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elicitation_round_trip),
        cmocka_unit_test(test_elicitation_mode_absent_before_2025_11_25),
        cmocka_unit_test(test_missing_capability_fails_the_call),
        cmocka_unit_test(test_two_rounds_and_request_state),
        cmocka_unit_test(test_error_answer_fails_the_call),
        cmocka_unit_test(test_cancel_while_waiting),
        cmocka_unit_test(test_session_end_while_waiting),
        cmocka_unit_test(test_session_requests_and_ping),
        cmocka_unit_test(test_no_elicitation_before_2025_06_18),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
