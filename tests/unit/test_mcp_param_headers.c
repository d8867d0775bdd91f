/* x-mcp-header: annotations checked at registration, and the check the
 * HTTP transport runs on Mcp-Param-* headers against the arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

static int noop(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_text(call, "ok");
}

static const char SQL_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
    "\"limit\":{\"type\":\"integer\",\"x-mcp-header\":\"Limit\"},"
    "\"dry\":{\"type\":\"boolean\",\"x-mcp-header\":\"Dry-Run\"},"
    "\"opts\":{\"type\":\"object\",\"properties\":{\"tenant\":{\"type\":\"string\",\"x-mcp-header\":\"Tenant\"}}},"
    "\"query\":{\"type\":\"string\"}}}";

static mcp_json *args_of(mcp_arena *arena, const char *text)
{
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(arena, text, strlen(text), NULL, &doc, NULL), 0);
    return doc;
}

static mcp_header_field field(const char *name, const char *value)
{
    return (mcp_header_field){.name = name, .name_len = strlen(name), .value = value, .value_len = strlen(value)};
}

static int check(mcp_server *s, const char *args, const mcp_header_field *h, size_t n, mcp_buf *why)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    int rc = mcp_server_check_param_headers(s, "sql", args_of(&arena, args), h, n, why);
    mcp_arena_free(&arena);
    return rc;
}

static void test_registration_rules(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "sql", .fn = noop, .input_schema = SQL_SCHEMA}), 0);
    static const char *const bad[] = {
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\",\"x-mcp-header\":\"A\"}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"\"}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"Bad Name\"}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"X\\r\\nY\"}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"Same\"},"
        "\"b\":{\"type\":\"string\",\"x-mcp-header\":\"sAME\"}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":7}}}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"x-mcp-header\":\"A\"}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mcp_server_add_tool(s, &(mcp_tool){.name = "bad", .fn = noop, .input_schema = bad[i]}) != MCP_EINVAL)
            fail_msg("schema %zu accepted", i);
    mcp_server_free(s);
}

static void test_header_checks(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "sql", .fn = noop, .input_schema = SQL_SCHEMA}), 0);
    mcp_buf why;
    mcp_buf_init(&why);

    mcp_header_field good[] = {field("mcp-param-region", "us-west1"), field("Mcp-Param-Limit", "42.0"),
                               field("MCP-PARAM-DRY-RUN", "false"), field("Mcp-Param-Tenant", "=?base64?SGVsbG8sIOS4lueVjA==?="),
                               field("Content-Type", "application/json")};
    assert_int_equal(check(s, "{\"region\":\"us-west1\",\"limit\":42,\"dry\":false,\"opts\":{\"tenant\":\"Hello, 世界\"},\"query\":\"q\"}",
                           good, 5, &why), 0);
    /* Absent or null values expect no header. */
    assert_int_equal(check(s, "{\"query\":\"q\",\"region\":null}", NULL, 0, &why), 0);

    mcp_header_field one[1];
    one[0] = field("Mcp-Param-Region", "eu-west1");
    assert_int_equal(check(s, "{\"region\":\"us-west1\"}", one, 1, &why), MCP_EINVAL);
    assert_non_null(strstr(why.data, "Region"));
    assert_int_equal(check(s, "{\"region\":\"us-west1\"}", NULL, 0, &why), MCP_EINVAL);
    assert_non_null(strstr(why.data, "missing"));
    assert_int_equal(check(s, "{}", one, 1, &why), MCP_EINVAL);
    one[0] = field("Mcp-Param-Region", "us\x01west");
    assert_int_equal(check(s, "{\"region\":\"us\\u0001west\"}", one, 1, &why), MCP_EINVAL);
    assert_non_null(strstr(why.data, "invalid characters"));
    one[0] = field("Mcp-Param-Region", "=?base64?!!!?=");
    assert_int_equal(check(s, "{\"region\":\"x\"}", one, 1, &why), MCP_EINVAL);
    one[0] = field("Mcp-Param-Limit", "43");
    assert_int_equal(check(s, "{\"limit\":42}", one, 1, &why), MCP_EINVAL);
    one[0] = field("Mcp-Param-Limit", "forty");
    assert_int_equal(check(s, "{\"limit\":42}", one, 1, &why), MCP_EINVAL);
    one[0] = field("Mcp-Param-Dry-Run", "True");
    assert_int_equal(check(s, "{\"dry\":true}", one, 1, &why), MCP_EINVAL);
    one[0] = field("Mcp-Param-Dry-Run", "true");
    assert_int_equal(check(s, "{\"dry\":true}", one, 1, &why), 0);
    /* A sentinel-looking literal must arrive base64-encoded. */
    one[0] = field("Mcp-Param-Region", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
    assert_int_equal(check(s, "{\"region\":\"=?base64?literal?=\"}", one, 1, &why), 0);
    /* Unknown tools pass: the call fails on its own. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    assert_int_equal(mcp_server_check_param_headers(s, "nope", args_of(&arena, "{}"), NULL, 0, &why), 0);
    mcp_arena_free(&arena);

    /* The annotation is listed as registered. */
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "sql", .fn = noop, .input_schema = SQL_SCHEMA}), 0);
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}");
    const mcp_json *schema = mcp_json_get(mcp_json_at(mcp_json_get(result_of(doc), "tools"), 0), "inputSchema");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(schema, "properties"), "region"), "x-mcp-header"), "Region");
    fixture_free(f);
    mcp_buf_free(&why);
    mcp_server_free(s);
}

/* The check is skipped while no tool declares header params, and enforced
 * again as soon as one does: a tool removed and added back, beside tools
 * without any. */
static void test_check_follows_the_registry(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "plain", .fn = noop}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "sql", .fn = noop, .input_schema = SQL_SCHEMA}), 0);
    mcp_buf why;
    mcp_buf_init(&why);
    const char *args = "{\"region\":\"us-west1\",\"query\":\"q\"}";
    /* Missing Mcp-Param-Region. */
    assert_int_not_equal(check(s, args, NULL, 0, &why), 0);
    assert_int_equal(mcp_server_remove_tool(s, "plain"), 0);
    assert_int_not_equal(check(s, args, NULL, 0, &why), 0);
    assert_int_equal(mcp_server_remove_tool(s, "sql"), 0);
    assert_int_equal(check(s, args, NULL, 0, &why), 0); /* no such tool: nothing to check */
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "sql", .fn = noop, .input_schema = SQL_SCHEMA}), 0);
    assert_int_not_equal(check(s, args, NULL, 0, &why), 0);
    mcp_buf_free(&why);
    mcp_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_check_follows_the_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
