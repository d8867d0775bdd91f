/* x-mcp-header on the client side: which tools are usable, and the
 * Mcp-Param-* lines written for a call's arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/client_http_internal.h"

static mcp_json *parse(mcp_arena *arena, const char *text)
{
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(arena, text, strlen(text), NULL, &doc, NULL), 0);
    return doc;
}

static int check(const char *schema)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    int rc = mcp_http_tool_headers_check(parse(&arena, schema));
    mcp_arena_free(&arena);
    return rc;
}

static void test_valid_and_invalid_annotations(void **state)
{
    (void)state;
    assert_int_equal(check("{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"}}}"), 0);
    assert_int_equal(check("{\"type\":\"object\",\"properties\":{}}"), 0);
    assert_int_equal(check("{\"type\":\"object\"}"), 0);
    static const char *bad[] = {
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"object\",\"x-mcp-header\":\"Data\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"array\",\"x-mcp-header\":\"Items\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"null\",\"x-mcp-header\":\"Nil\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"number\",\"x-mcp-header\":\"Score\"}}}",
        "{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
        "\"b\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"}}}",
        "{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"MyField\"},"
        "\"b\":{\"type\":\"string\",\"x-mcp-header\":\"myfield\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"My Region\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"Region:Primary\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"R\\u00e9gion\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"Region\\t1\"}}}",
        "{\"properties\":{\"v\":{\"type\":\"string\",\"x-mcp-header\":7}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(check(bad[i]), MCP_EINVAL);
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
    "\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"
    "\"verbose\":{\"type\":\"boolean\",\"x-mcp-header\":\"Verbose\"},"
    "\"debug\":{\"type\":\"boolean\",\"x-mcp-header\":\"Debug\"},"
    "\"empty\":{\"type\":\"string\",\"x-mcp-header\":\"EmptyVal\"},"
    "\"greet\":{\"type\":\"string\",\"x-mcp-header\":\"NonAscii\"},"
    "\"padded\":{\"type\":\"string\",\"x-mcp-header\":\"Whitespace\"},"
    "\"inner\":{\"type\":\"string\",\"x-mcp-header\":\"InternalSpace\"},"
    "\"tab\":{\"type\":\"string\",\"x-mcp-header\":\"Tab\"},"
    "\"float\":{\"type\":\"number\"},"
    "\"query\":{\"type\":\"string\"}}}";

static void test_headers_written_with_encoding(void **state)
{
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf out;
    mcp_buf_init(&out);
    const mcp_json *args = parse(&arena, "{\"region\":\"us-west1\",\"priority\":42,\"verbose\":null,\"debug\":true,"
                                         "\"empty\":\"\",\"greet\":\"Hello, \\u4e16\\u754c\",\"padded\":\" padded \","
                                         "\"inner\":\"us west 1\",\"tab\":\"\\tindented\",\"float\":3.5,"
                                         "\"query\":\"SELECT 1\"}");
    assert_int_equal(mcp_http_param_headers_append(&out, parse(&arena, SCHEMA), args), 0);
    const char *want = "Mcp-Param-Region: us-west1\r\n"
                       "Mcp-Param-Priority: 42\r\n"
                       "Mcp-Param-Debug: true\r\n"
                       "Mcp-Param-EmptyVal: \r\n"
                       "Mcp-Param-NonAscii: =?base64?SGVsbG8sIOS4lueVjA==?=\r\n"
                       "Mcp-Param-Whitespace: =?base64?IHBhZGRlZCA=?=\r\n"
                       "Mcp-Param-InternalSpace: us west 1\r\n"
                       "Mcp-Param-Tab: =?base64?CWluZGVudGVk?=\r\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
}

static void test_wrong_argument_type_writes_nothing(void **state)
{
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_buf_append_cstr(&out, "X: 1\r\n");
    assert_int_equal(mcp_http_param_headers_append(&out, parse(&arena, SCHEMA),
                                                   parse(&arena, "{\"region\":\"eu\",\"priority\":\"high\"}")),
                     MCP_EINVAL);
    assert_int_equal(out.len, 6);
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
}

static void test_tools_learnt_from_listing(void **state)
{
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_http_tools *tools = NULL;
    mcp_http_tools_learn(&tools, parse(&arena, "{\"tools\":[{\"name\":\"a\",\"inputSchema\":{\"type\":\"object\"}},"
                                               "{\"name\":\"b\"},{\"name\":\"c\",\"inputSchema\":{\"x\":1}}]}"));
    mcp_http_tools_learn(&tools, parse(&arena, "{\"tools\":[{\"name\":\"c\",\"inputSchema\":{\"x\":2}}]}"));
    mcp_http_tools_learn(&tools, parse(&arena, "{\"tools\":7}"));
    assert_string_equal(mcp_http_tools_schema(tools, "a", 1), "{\"type\":\"object\"}");
    assert_null(mcp_http_tools_schema(tools, "b", 1));
    assert_string_equal(mcp_http_tools_schema(tools, "c", 1), "{\"x\":2}");
    assert_null(mcp_http_tools_schema(tools, "ab", 2));
    mcp_http_tools_free(tools);
    mcp_arena_free(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_invalid_annotations),
        cmocka_unit_test(test_headers_written_with_encoding),
        cmocka_unit_test(test_wrong_argument_type_writes_nothing),
        cmocka_unit_test(test_tools_learnt_from_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
