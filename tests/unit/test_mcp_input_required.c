/* Modern-era input: a handler that needs the client ends the call with
 * resultType "input_required", inputRequests and requestState; the
 * client's retry with inputResponses runs the same handler to completion.
 * The same handler serves the handshake era (test_mcp_server_requests.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#include <unistd.h>

#define CAPS_ALL "{\"elicitation\":{\"form\":{}},\"sampling\":{},\"roots\":{}}"

static int confirm(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        mcp_call_set_request_state(call, "step-1");
        int rc = mcp_call_request_elicitation(call, "confirm", "Really?",
                                              "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}");
        if (rc != MCP_INPUT_REQUIRED)
            return rc;
        return mcp_call_request_roots(call, "roots");
    }
    return mcp_call_text(call, "%s after %s", mcp_json_str(mcp_json_get(answer, "action"), "?"),
                         mcp_call_request_state(call) ? mcp_call_request_state(call) : "nothing");
}

/* Carries everything in the request state alone. */
static int state_only(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const char *st = mcp_call_request_state(call);
    if (!st) {
        mcp_call_set_request_state(call, "half");
        return MCP_INPUT_REQUIRED;
    }
    return mcp_call_text(call, "resumed from %s", st);
}

static int forgetful(mcp_call *call, const mcp_json *args, void *user)
{
    (void)call, (void)args, (void)user;
    return MCP_INPUT_REQUIRED; /* asked for nothing: a bug */
}

static fixture *setup_server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "confirm", .fn = confirm}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "state", .fn = state_only}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "forgetful", .fn = forgetful}), 0);
    return f;
}

static void test_input_required_then_retry(void **state)
{
    (void)state;
    fixture *f = setup_server();
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                                 MODERN_META_CAPS(CAPS_ALL) "}}");
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "input_required");
    /* Sealed on the wire: the text is in it, but so is a tag. */
    char state_text[256];
    snprintf(state_text, sizeof state_text, "%s", str_at(r, "requestState"));
    assert_non_null(strchr(state_text, '.'));
    assert_string_not_equal(state_text, "step-1");
    assert_null(mcp_json_get(r, "content"));
    const mcp_json *reqs = mcp_json_get(r, "inputRequests");
    assert_int_equal(mcp_json_len(reqs), 2);
    const mcp_json *elicit = mcp_json_get(reqs, "confirm");
    assert_string_equal(str_at(elicit, "method"), "elicitation/create");
    assert_string_equal(str_at(mcp_json_get(elicit, "params"), "mode"), "form");
    assert_null(mcp_json_get(elicit, "id"));
    assert_string_equal(str_at(mcp_json_get(reqs, "roots"), "method"), "roots/list");
    assert_null(mcp_json_get(mcp_json_get(reqs, "roots"), "params"));
    assert_non_null(mcp_json_get(mcp_json_get(r, "_meta"), "io.modelcontextprotocol/serverInfo"));

    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
             "\"inputResponses\":{\"confirm\":{\"action\":\"decline\"},\"roots\":{\"roots\":[]}},"
             "\"requestState\":\"%s\"," MODERN_META_CAPS(CAPS_ALL) "}}", state_text);
    doc = roundtrip(f, text);
    r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "complete");
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), "decline after step-1");
    fixture_free(f);
}

static void test_state_only_round(void **state)
{
    (void)state;
    fixture *f = setup_server();
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                                 MODERN_META "}}");
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "input_required");
    assert_null(mcp_json_get(r, "inputRequests"));
    char wire[256], text[1024];
    snprintf(wire, sizeof wire, "%s", str_at(r, "requestState"));
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                                "\"requestState\":\"%s\"," MODERN_META "}}", wire);
    doc = roundtrip(f, text);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), "resumed from half");

    /* The same state for another tool, a forged one, an edited one: refused. */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                                "\"requestState\":\"%s\"," MODERN_META "}}", wire);
    assert_int_equal(error_code(roundtrip(f, text)), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                       "\"requestState\":\"half\"," MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    assert_non_null(strstr(str_at(mcp_json_get(doc, "error"), "message"), "verification"));
    wire[0] = wire[0] == 'A' ? 'B' : 'A'; /* the state text changes, the tag does not */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                                "\"requestState\":\"%s\"," MODERN_META "}}", wire);
    assert_int_equal(error_code(roundtrip(f, text)), MCP_RPC_INVALID_PARAMS);
    fixture_free(f);

    /* Servers that share a key accept each other's state; others do not. */
    static const unsigned char KEY[] = "a key shared by the pool of servers";
    fixture *a = fixture_new(&(mcp_server_opts){.name = "a", .version = "1", .request_state_key = KEY, .request_state_key_len = 32});
    fixture *b = fixture_new(&(mcp_server_opts){.name = "b", .version = "1", .request_state_key = KEY, .request_state_key_len = 32});
    fixture *c = fixture_new(&(mcp_server_opts){.name = "c", .version = "1"});
    assert_null(mcp_server_new(&(mcp_server_opts){.name = "d", .version = "1", .request_state_key = KEY, .request_state_key_len = 8}));
    fixture *all[] = {a, b, c};
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcp_server_add_tool(all[i]->server, &(mcp_tool){.name = "state", .fn = state_only}), 0);
    doc = roundtrip(a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"state\"," MODERN_META "}}");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                                "\"requestState\":\"%s\"," MODERN_META "}}", str_at(result_of(doc), "requestState"));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(roundtrip(b, text)), "content"), 0), "text"), "resumed from half");
    assert_int_equal(error_code(roundtrip(c, text)), MCP_RPC_INVALID_PARAMS);
    for (int i = 0; i < 3; i++)
        fixture_free(all[i]);

    /* Expired. */
    f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .request_state_ttl_ms = 1});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "state", .fn = state_only}), 0);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"state\"," MODERN_META "}}");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"state\","
                                "\"requestState\":\"%s\"," MODERN_META "}}", str_at(result_of(doc), "requestState"));
    usleep(5000);
    doc = roundtrip(f, text);
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    assert_non_null(strstr(str_at(mcp_json_get(doc, "error"), "message"), "expired"));
    fixture_free(f);
}

static void test_bad_input_params_and_capabilities(void **state)
{
    (void)state;
    fixture *f = setup_server();
    /* Capabilities are per request: none declared here. */
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                                 MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                       "\"inputResponses\":[1]," MODERN_META_CAPS(CAPS_ALL) "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                       "\"requestState\":5," MODERN_META_CAPS(CAPS_ALL) "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    /* An answer that is not an object is no answer: asked again. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\","
                       "\"inputResponses\":{\"confirm\":\"yes\"}," MODERN_META_CAPS(CAPS_ALL) "}}");
    assert_string_equal(str_at(result_of(doc), "resultType"), "input_required");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"forgetful\","
                       MODERN_META "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INTERNAL_ERROR);
    fixture_free(f);
}

static void test_handshake_forgetful_handler(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", CAPS_ALL);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"forgetful\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INTERNAL_ERROR);
    /* Same handler, handshake era: two requests go out at once. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    assert_int_equal(capture_count(&f->cap), 2);
    assert_string_equal(method_of(capture_json(&f->cap, 0)), "elicitation/create");
    assert_string_equal(method_of(capture_json(&f->cap, 1)), "roots/list");
    int64_t a = mcp_json_int(mcp_json_get(capture_json(&f->cap, 0), "id"), -1);
    int64_t b = mcp_json_int(mcp_json_get(capture_json(&f->cap, 1), "id"), -1);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"roots\":[]}}", (long long)b);
    capture_clear(&f->cap);
    send_text(f, text);
    assert_int_equal(capture_count(&f->cap), 0); /* still waiting for the other */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\"}}", (long long)a);
    doc = roundtrip(f, text);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"), "accept after step-1");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_required_then_retry),
        cmocka_unit_test(test_state_only_round),
        cmocka_unit_test(test_bad_input_params_and_capabilities),
        cmocka_unit_test(test_handshake_forgetful_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
