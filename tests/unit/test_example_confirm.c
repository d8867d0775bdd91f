/* The confirm example server (examples/confirm_server.c): one handler, an
 * elicitation round in each era, declines, a client without elicitation,
 * and a note that changed while the user decided. Through a session, then
 * the real binary in the modern era over stdio. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define EXAMPLE_NO_MAIN
#include "../../examples/confirm_server.c"

#include "test_mcp_util.h"
#include "test_spawn.h"

#define ELICIT_CAPS "{\"elicitation\":{\"form\":{}}}"

static const char *first_text(const mcp_json *doc)
{
    return str_at(mcp_json_at(mcp_json_get(result_of(doc), "content"), 0), "text");
}

static void test_handshake_era(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "c", .version = "1"});
    notes *n = confirm_server_register(f->server);
    assert_non_null(n);
    handshake(f, "2025-11-25", ELICIT_CAPS);
    mcp_json *req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\",\"arguments\":{\"name\":\"ideas\"}}}");
    assert_string_equal(method_of(req), "elicitation/create");
    assert_non_null(strstr(str_at(mcp_json_get(req, "params"), "message"), "a C MCP server"));
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{\"confirm\":true}}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    assert_string_equal(first_text(roundtrip(f, text)), "deleted ideas");

    /* Declined. */
    req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\",\"arguments\":{\"name\":\"todo\"}}}");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"decline\"}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    assert_string_equal(first_text(roundtrip(f, text)), "kept todo (the user said decline)");

    /* Changed while the user decided. */
    req = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\",\"arguments\":{\"name\":\"todo\"}}}");
    confirm_server_edit(n, "todo", "write more tests");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{\"confirm\":true}}}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1));
    mcp_json *doc = roundtrip(f, text);
    assert_true(mcp_json_bool(mcp_json_get(result_of(doc), "isError"), false));
    assert_non_null(strstr(first_text(doc), "changed while"));

    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"list_notes\"}}");
    assert_int_equal(mcp_json_len(mcp_json_get(result_of(doc), "content")), 2);
    fixture_free(f);
    confirm_server_free(n);
}

static void test_modern_era_and_incapable_client(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "c", .version = "1"});
    notes *n = confirm_server_register(f->server);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
                                 "\"arguments\":{\"name\":\"groceries\"}," MODERN_META_CAPS(ELICIT_CAPS) "}}");
    const mcp_json *r = result_of(doc);
    assert_string_equal(str_at(r, "resultType"), "input_required");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(r, "inputRequests"), "confirm"), "method"), "elicitation/create");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
             "\"arguments\":{\"name\":\"groceries\"},\"requestState\":\"%s\",\"inputResponses\":{\"confirm\":"
             "{\"action\":\"accept\",\"content\":{\"confirm\":true}}}," MODERN_META_CAPS(ELICIT_CAPS) "}}",
             str_at(r, "requestState"));
    assert_string_equal(first_text(roundtrip(f, text)), "deleted groceries");
    /* A state the server never sealed does not reach the handler. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
                       "\"arguments\":{\"name\":\"todo\"},\"requestState\":\"v1\",\"inputResponses\":{\"confirm\":"
                       "{\"action\":\"accept\",\"content\":{\"confirm\":true}}}," MODERN_META_CAPS(ELICIT_CAPS) "}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    /* A retry whose state we never issued is refused. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
                       "\"arguments\":{\"name\":\"todo\"},\"inputResponses\":{\"confirm\":"
                       "{\"action\":\"accept\",\"content\":{\"confirm\":true}}}," MODERN_META_CAPS(ELICIT_CAPS) "}}");
    assert_true(mcp_json_bool(mcp_json_get(result_of(doc), "isError"), false));
    /* No elicitation capability: a tool error saying why. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
                       "\"arguments\":{\"name\":\"todo\"}," MODERN_META "}}");
    assert_non_null(strstr(first_text(doc), "cannot ask the user"));
    fixture_free(f);
    confirm_server_free(n);
}

static void test_binary_modern_round_trip(void **state)
{
    (void)state;
    char bin[1024];
    if (!example_path("confirm_server", bin, sizeof bin))
        skip();
    child c;
    char *argv[] = {bin, NULL};
    assert_int_equal(child_start(&c, argv), 0);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
                   "\"arguments\":{\"name\":\"ideas\"}," MODERN_META_CAPS(ELICIT_CAPS) "}}");
    char *line = child_wait_for(&c, "\"id\":1", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "\"resultType\":\"input_required\""));
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, line, strlen(line), NULL, &doc, NULL), 0);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\","
             "\"arguments\":{\"name\":\"ideas\"},\"requestState\":\"%s\",\"inputResponses\":{\"confirm\":"
             "{\"action\":\"accept\",\"content\":{\"confirm\":true}}}," MODERN_META_CAPS(ELICIT_CAPS) "}}",
             str_at(mcp_json_get(doc, "result"), "requestState"));
    mcp_arena_free(&arena);
    free(line);
    child_send(&c, text);
    line = child_wait_for(&c, "\"id\":2", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "deleted ideas"));
    free(line);
    assert_int_equal(child_finish(&c, 5000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_era),
        cmocka_unit_test(test_modern_era_and_incapable_client),
        cmocka_unit_test(test_binary_modern_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
