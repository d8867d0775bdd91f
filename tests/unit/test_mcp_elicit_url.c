/* URL elicitation on the server side, both eras: the request a handler asks
 * for (handshake era: elicitation/create with mode "url" and an
 * elicitationId; modern era: an inputRequests entry without id),
 * notifications/elicitation/complete, the URLElicitationRequiredError
 * (-32042) with its data, and the capability and version checks. Beside it
 * the result-level _meta, prompt messages with any content, annotations
 * refused on resource contents, and sampling with tools. Every message is
 * checked against the published schema of its protocol version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"
#include "test_mcp_schema.h"

/* Validate value against one definition of the version's schema. */
static void check(const char *version, const char *def, const mcp_json *value)
{
    mcp_schema *schema = schema_for(version, def);
    mcp_buf why;
    mcp_buf_init(&why);
    if (mcp_schema_validate(schema, value, &why) != 0) {
        mcp_str raw = mcp_json_raw(value);
        fail_msg("%s %s: %s\n  in %.*s", version, def, why.data ? why.data : "?", (int)raw.len, raw.ptr);
    }
    mcp_buf_free(&why);
}

static const char URL[] = "https://auth.example.com/connect?state=abc";

/* Asks the user to sign in at URL; once they agreed, says the interaction
 * is complete and answers. */
static int sign_in(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "login");
    if (!answer) {
        /* Not URLs: refused before anything is recorded. */
        assert_int_equal(mcp_call_request_elicitation_url(call, "login", "m", "auth.example.com/x", "el-7"), MCP_EINVAL);
        assert_int_equal(mcp_call_request_elicitation_url(call, "login", "m", "https:", "el-7"), MCP_EINVAL);
        assert_int_equal(mcp_call_request_elicitation_url(call, "login", "m", "", "el-7"), MCP_EINVAL);
        assert_int_equal(mcp_call_request_elicitation_url(call, "login", "m", NULL, "el-7"), MCP_EINVAL);
        return mcp_call_request_elicitation_url(call, "login", "Sign in to continue", URL, "el-7");
    }
    const char *action = mcp_json_str(mcp_json_get(answer, "action"), "");
    if (!mcp_call_protocol_version(call) || strcmp(mcp_call_protocol_version(call), "2026-07-28") != 0)
        assert_int_equal(mcp_call_elicitation_complete(call, "el-7"), 0);
    else
        assert_int_equal(mcp_call_elicitation_complete(call, "el-7"), MCP_EUNSUPPORTED);
    return mcp_call_text(call, "signed in: %s", action);
}

/* Cannot go on without the visit: -32042. */
static int needs_auth(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    assert_int_equal(mcp_call_fail_data(call, -32000, "x", "{not json"), MCP_EINVAL);
    return mcp_call_require_url_elicitation(call, "Authorize access first", URL, "el-9");
}

static int with_meta(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    assert_int_equal(mcp_call_result_meta(call, "[1]"), MCP_EINVAL);
    assert_int_equal(mcp_call_result_meta(call, "{\"x\":"), MCP_EINVAL);
    assert_int_equal(mcp_call_result_meta(call, "{\"example.com/trace\":\"t-1\",\"n\":{\"k\":[1,2]}}"), 0);
    return mcp_call_text(call, "ok");
}

static int read_doc(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    assert_int_equal(mcp_call_resource_text(call, uri, "text/plain", "hello", 5), 0);
    /* TextResourceContents has no annotations in any version. */
    assert_int_equal(mcp_call_annotate(call, "{\"priority\":0.5}"), MCP_EINVAL);
    return mcp_call_result_meta(call, "{\"example.com/etag\":\"e1\"}");
}

static int rich_prompt(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    assert_int_equal(mcp_call_prompt_content(call, "user", "{\"type\":\"video\",\"data\":\"AA==\"}"), MCP_EINVAL);
    assert_int_equal(mcp_call_prompt_content(call, "system", "{\"type\":\"text\",\"text\":\"x\"}"), MCP_EINVAL);
    assert_int_equal(mcp_call_prompt_content(call, "user", "[]"), MCP_EINVAL);
    assert_int_equal(mcp_call_prompt_content(call, "user", "{\"type\":\"image\",\"data\":\"iVBORw0KGgo=\","
                                                           "\"mimeType\":\"image/png\"}"), 0);
    assert_int_equal(mcp_call_annotate(call, "{\"audience\":[\"user\"]}"), 0);
    assert_int_equal(mcp_call_prompt_content(call, "assistant", "{\"type\":\"audio\",\"data\":\"UklGRg==\","
                                                                "\"mimeType\":\"audio/wav\"}"), 0);
    assert_int_equal(mcp_call_prompt_content(call, "user", "{\"type\":\"resource\",\"resource\":{\"uri\":"
                                                           "\"file:///a.txt\",\"text\":\"A\"}}"), 0);
    assert_int_equal(mcp_call_prompt_content(call, "user", "{\"type\":\"resource_link\",\"uri\":\"file:///b\","
                                                           "\"name\":\"b\"}"), 0);
    assert_int_equal(mcp_call_prompt_message(call, "user", "plain"), 0);
    return mcp_call_result_meta(call, "{\"example.com/source\":\"test\"}");
}

static const char TOOL_PARAMS[] =
    "\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"weather?\"}}],\"maxTokens\":20,"
    "\"tools\":[{\"name\":\"get_weather\",\"inputSchema\":{\"type\":\"object\"}}],\"toolChoice\":{\"mode\":\"auto\"}";

static int sample_with_tools(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "s");
    if (answer)
        return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(answer, "model"), "?"));
    char params[512];
    snprintf(params, sizeof params, "{%s}", TOOL_PARAMS);
    return mcp_call_request_sampling(call, "s", params);
}

/* What the client takes, by mode, as the handler sees it. */
static int probe(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    assert_false(mcp_call_client_supports_mode(call, "elicitation/create", NULL));
    return mcp_call_text(call, "url=%d form=%d tools=%d",
                         mcp_call_client_supports_mode(call, "elicitation/create", "url"),
                         mcp_call_client_supports_mode(call, "elicitation/create", "form"),
                         mcp_call_client_supports_mode(call, "sampling/createMessage", "tools"));
}

static fixture *server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "sign_in", .fn = sign_in}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "needs_auth", .fn = needs_auth}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "with_meta", .fn = with_meta}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "sample", .fn = sample_with_tools}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "probe", .fn = probe}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "file:///doc.txt", .name = "doc",
                                                                          .fn = read_doc}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "rich", .fn = rich_prompt}), 0);
    return f;
}

static const char CALL_SIGN_IN[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sign_in\"}}";

static void test_url_elicitation_handshake(void **state)
{
    (void)state;
    fixture *f = server();
    handshake(f, "2025-11-25", "{\"elicitation\":{\"form\":{},\"url\":{}}}");
    mcp_json *req = roundtrip(f, CALL_SIGN_IN);
    check("2025-11-25", "ElicitRequest", req);
    const mcp_json *params = mcp_json_get(req, "params");
    assert_string_equal(str_at(params, "mode"), "url");
    assert_string_equal(str_at(params, "elicitationId"), "el-7");
    assert_string_equal(str_at(params, "url"), URL);
    assert_string_equal(str_at(params, "message"), "Sign in to continue");
    assert_null(mcp_json_get(params, "requestedSchema"));

    answer_request(f, req, "{\"action\":\"accept\"}");
    assert_int_equal(capture_count(&f->cap), 2);
    mcp_json *note = capture_json(&f->cap, 0);
    assert_string_equal(method_of(note), "notifications/elicitation/complete");
    assert_string_equal(str_at(mcp_json_get(note, "params"), "elicitationId"), "el-7");
    check("2025-11-25", "ElicitationCompleteNotification", note);
    mcp_json *done = capture_json(&f->cap, 1);
    check("2025-11-25", "CallToolResult", result_of(done));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(done), "content"), 0), "text"),
                        "signed in: accept");

    /* Later, outside any call: the session form. */
    capture_clear(&f->cap);
    assert_int_equal(mcp_session_elicitation_complete(f->session, "el-8"), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    check("2025-11-25", "ElicitationCompleteNotification", capture_json(&f->cap, 0));
    assert_int_equal(mcp_session_elicitation_complete(f->session, ""), MCP_EINVAL);
    fixture_free(f);
}

static void test_url_elicitation_needs_capability_and_version(void **state)
{
    (void)state;
    /* Form only: the call fails naming elicitation.url, nothing is sent. */
    fixture *f = server();
    handshake(f, "2025-11-25", "{\"elicitation\":{}}");
    mcp_json *doc = roundtrip(f, CALL_SIGN_IN);
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    const mcp_json *need = mcp_json_get(mcp_json_get(mcp_json_get(doc, "error"), "data"), "requiredCapabilities");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(need, "elicitation"), "url")));
    assert_int_equal(mcp_session_elicitation_complete(f->session, "el-1"), MCP_EUNSUPPORTED);
    fixture_free(f);

    /* 2025-06-18 has no URL mode, whatever the client declares. */
    f = server();
    handshake(f, "2025-06-18", "{\"elicitation\":{\"url\":{}}}");
    doc = roundtrip(f, CALL_SIGN_IN);
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    assert_int_equal(mcp_session_elicitation_complete(f->session, "el-1"), MCP_EUNSUPPORTED);
    fixture_free(f);

    /* Before initialize there is no one to tell. */
    f = server();
    assert_int_equal(mcp_session_elicitation_complete(f->session, "el-1"), MCP_EUNSUPPORTED);
    fixture_free(f);
}

static void test_url_elicitation_modern(void **state)
{
    (void)state;
    fixture *f = server();
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"sign_in\"," MODERN_META_CAPS("{\"elicitation\":{\"url\":{}}}") "}}");
    check("2026-07-28", "CallToolResultResponse", doc);
    const mcp_json *result = result_of(doc);
    assert_string_equal(str_at(result, "resultType"), "input_required");
    const mcp_json *login = mcp_json_get(mcp_json_get(result, "inputRequests"), "login");
    check("2026-07-28", "ElicitRequest", login);
    const mcp_json *params = mcp_json_get(login, "params");
    assert_string_equal(str_at(params, "mode"), "url");
    assert_string_equal(str_at(params, "url"), URL);
    assert_null(mcp_json_get(params, "elicitationId"));

    /* The retry with the user's consent completes the call. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"sign_in\","
                       "\"inputResponses\":{\"login\":{\"action\":\"accept\"}}," MODERN_META_CAPS(
                           "{\"elicitation\":{\"url\":{}}}") "}}");
    check("2026-07-28", "CallToolResultResponse", doc);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text"),
                        "signed in: accept");

    /* A modern client with form elicitation only is refused. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"sign_in\","
                       MODERN_META_CAPS("{\"elicitation\":{\"form\":{}}}") "}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    fixture_free(f);
}

static void test_url_elicitation_required_error(void **state)
{
    (void)state;
    fixture *f = server();
    handshake(f, "2025-11-25", "{\"elicitation\":{\"url\":{}}}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"needs_auth\"}}");
    check("2025-11-25", "URLElicitationRequiredError", doc);
    const mcp_json *error = mcp_json_get(doc, "error");
    assert_int_equal(error_code(doc), MCP_ERROR_URL_ELICITATION_REQUIRED);
    assert_string_equal(str_at(error, "message"), "Authorize access first");
    const mcp_json *list = mcp_json_get(mcp_json_get(error, "data"), "elicitations");
    assert_int_equal(mcp_json_len(list), 1);
    assert_string_equal(str_at(mcp_json_at(list, 0), "elicitationId"), "el-9");
    assert_string_equal(str_at(mcp_json_at(list, 0), "url"), URL);
    fixture_free(f);

    /* The modern schema has no such error: it goes out as a plain one. */
    f = server();
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                       "\"needs_auth\"," MODERN_META "}}");
    check("2026-07-28", "JSONRPCErrorResponse", doc);
    assert_int_equal(error_code(doc), MCP_ERROR_URL_ELICITATION_REQUIRED);
    assert_int_equal(mcp_json_len(mcp_json_get(mcp_json_get(mcp_json_get(doc, "error"), "data"), "elicitations")), 1);
    fixture_free(f);
}

static void test_result_meta_both_eras(void **state)
{
    (void)state;
    fixture *f = server();
    handshake(f, "2025-11-25", "{}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"with_meta\"}}");
    const mcp_json *meta = mcp_json_get(result_of(doc), "_meta");
    check("2025-11-25", "CallToolResult", result_of(doc));
    assert_string_equal(str_at(meta, "example.com/trace"), "t-1");
    assert_int_equal(mcp_json_len(mcp_json_get(mcp_json_get(meta, "n"), "k")), 2);
    assert_int_equal(mcp_json_len(meta), 2);

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":"
                       "\"file:///doc.txt\"}}");
    check("2025-11-25", "ReadResourceResult", result_of(doc));
    assert_string_equal(str_at(mcp_json_get(result_of(doc), "_meta"), "example.com/etag"), "e1");
    assert_null(mcp_json_get(mcp_json_at(mcp_json_get(result_of(doc), "contents"), 0), "annotations"));
    fixture_free(f);

    /* Modern: the handler's members and the server's identity together. */
    f = server();
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"with_meta\","
                       MODERN_META "}}");
    check("2026-07-28", "CallToolResultResponse", doc);
    meta = mcp_json_get(result_of(doc), "_meta");
    assert_string_equal(str_at(meta, "example.com/trace"), "t-1");
    assert_string_equal(str_at(mcp_json_get(meta, "io.modelcontextprotocol/serverInfo"), "name"), "t");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":{\"uri\":"
                       "\"file:///doc.txt\"," MODERN_META "}}");
    check("2026-07-28", "ReadResourceResultResponse", doc);
    meta = mcp_json_get(result_of(doc), "_meta");
    assert_string_equal(str_at(meta, "example.com/etag"), "e1");
    assert_true(mcp_json_is_object(mcp_json_get(meta, "io.modelcontextprotocol/serverInfo")));
    fixture_free(f);
}

static void test_prompt_content_blocks(void **state)
{
    (void)state;
    for (int era = 0; era < 2; era++) {
        fixture *f = server();
        mcp_json *doc;
        if (era == 0) {
            handshake(f, "2025-11-25", "{}");
            doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"rich\"}}");
            check("2025-11-25", "GetPromptResult", result_of(doc));
        } else {
            doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"rich\","
                               MODERN_META "}}");
            check("2026-07-28", "GetPromptResultResponse", doc);
        }
        const mcp_json *messages = mcp_json_get(result_of(doc), "messages");
        assert_int_equal(mcp_json_len(messages), 5);
        const mcp_json *image = mcp_json_get(mcp_json_at(messages, 0), "content");
        assert_string_equal(str_at(image, "type"), "image");
        assert_string_equal(str_at(image, "mimeType"), "image/png");
        assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(mcp_json_get(image, "annotations"), "audience"), 0), ""),
                            "user");
        assert_string_equal(str_at(mcp_json_at(messages, 1), "role"), "assistant");
        assert_string_equal(str_at(mcp_json_get(mcp_json_at(messages, 1), "content"), "type"), "audio");
        assert_string_equal(str_at(mcp_json_get(mcp_json_get(mcp_json_at(messages, 2), "content"), "resource"), "uri"),
                            "file:///a.txt");
        assert_string_equal(str_at(mcp_json_get(mcp_json_at(messages, 3), "content"), "type"), "resource_link");
        assert_string_equal(str_at(mcp_json_get(mcp_json_at(messages, 4), "content"), "text"), "plain");
        assert_string_equal(str_at(mcp_json_get(result_of(doc), "_meta"), "example.com/source"), "test");
        fixture_free(f);
    }
}

static void test_sampling_with_tools_needs_capability(void **state)
{
    (void)state;
    static const char CALL[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sample\"}}";
    fixture *f = server();
    handshake(f, "2025-11-25", "{\"sampling\":{}}");
    mcp_json *doc = roundtrip(f, CALL);
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    const mcp_json *need = mcp_json_get(mcp_json_get(mcp_json_get(doc, "error"), "data"), "requiredCapabilities");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(need, "sampling"), "tools")));
    fixture_free(f);

    f = server();
    handshake(f, "2025-11-25", "{\"sampling\":{\"tools\":{}}}");
    doc = roundtrip(f, CALL);
    check("2025-11-25", "CreateMessageRequest", doc);
    assert_int_equal(mcp_json_len(mcp_json_get(mcp_json_get(doc, "params"), "tools")), 1);
    fixture_free(f);

    /* Modern era: the same check on the request's own capabilities. */
    f = server();
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"sample\","
                       MODERN_META_CAPS("{\"sampling\":{\"tools\":{}}}") "}}");
    check("2026-07-28", "CallToolResultResponse", doc);
    const mcp_json *s = mcp_json_get(mcp_json_get(result_of(doc), "inputRequests"), "s");
    assert_string_equal(str_at(s, "method"), "sampling/createMessage");
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"sample\","
                       MODERN_META_CAPS("{\"sampling\":{}}") "}}");
    assert_int_equal(error_code(doc), MCP_ERROR_MISSING_CLIENT_CAPABILITY);
    fixture_free(f);
}

static const char *probe_text(fixture *f, const char *request)
{
    return str_at(mcp_json_at(mcp_json_get(result_of(roundtrip(f, request)), "content"), 0), "text");
}

static void test_client_supports_mode(void **state)
{
    (void)state;
    static const char CALL[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"probe\"}}";
    static const struct {
        const char *version, *caps, *expect;
    } CASES[] = {
        {"2025-11-25", "{\"elicitation\":{\"url\":{}},\"sampling\":{\"tools\":{}}}", "url=1 form=0 tools=1"},
        {"2025-11-25", "{\"elicitation\":{},\"sampling\":{}}", "url=0 form=1 tools=0"},
        {"2025-06-18", "{\"elicitation\":{\"url\":{}},\"sampling\":{\"tools\":{}}}", "url=0 form=0 tools=0"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        fixture *f = server();
        handshake(f, CASES[i].version, CASES[i].caps);
        assert_string_equal(probe_text(f, CALL), CASES[i].expect);
        fixture_free(f);
    }
    fixture *f = server();
    assert_string_equal(probe_text(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                                      "\"probe\"," MODERN_META_CAPS("{\"elicitation\":{\"form\":{},\"url\":{}}}") "}}"),
                        "url=1 form=1 tools=0");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_elicitation_handshake),
        cmocka_unit_test(test_url_elicitation_needs_capability_and_version),
        cmocka_unit_test(test_url_elicitation_modern),
        cmocka_unit_test(test_url_elicitation_required_error),
        cmocka_unit_test(test_result_meta_both_eras),
        cmocka_unit_test(test_prompt_content_blocks),
        cmocka_unit_test(test_sampling_with_tools_needs_capability),
        cmocka_unit_test(test_client_supports_mode),
    };
    return cmocka_run_group_tests(tests, schema_docs_load, schema_docs_free);
}
