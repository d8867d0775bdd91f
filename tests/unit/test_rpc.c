/* Tests of the JSON-RPC envelope layer: classification, id rules, batches,
 * limits and the writers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/rpc.h"
#include <stdint.h>
#include <string.h>

static mcp_arena arena;

static int setup(void **state)
{
    (void)state;
    mcp_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mcp_arena_free(&arena);
    return 0;
}

static mcp_rpc_batch parse(const char *text)
{
    mcp_rpc_batch b;
    assert_int_equal(mcp_rpc_parse(&arena, text, strlen(text), NULL, &b), 0);
    return b;
}

static void test_request_and_lazy_params(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"arguments\":{\"a\":[1,2]}}}");
    assert_int_equal(b.error_code, 0);
    assert_false(b.is_batch);
    assert_int_equal(b.count, 1);
    mcp_rpc_message *m = &b.items[0];
    assert_int_equal(m->kind, MCP_RPC_REQUEST);
    assert_int_equal(m->id.type, MCP_RPC_ID_INT);
    assert_int_equal(m->id.num, 7);
    assert_string_equal(m->method, "tools/call");
    /* params stays unbuilt until asked for */
    assert_int_equal(mcp_json_type_of(m->params), MCP_JSON_RAW);
    mcp_json *p = mcp_json_expand(&arena, m->params);
    assert_string_equal(mcp_json_str(mcp_json_get(p, "name"), ""), "x");
}

static void test_string_id_and_notification(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"ping\"}");
    assert_int_equal(b.items[0].kind, MCP_RPC_REQUEST);
    assert_int_equal(b.items[0].id.type, MCP_RPC_ID_STRING);
    assert_int_equal(b.items[0].id.text.len, 6);
    assert_memory_equal(b.items[0].id.text.ptr, "\"a\\\"b\"", 6);

    b = parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(b.items[0].kind, MCP_RPC_NOTIFICATION);
    assert_int_equal(b.items[0].id.type, MCP_RPC_ID_NONE);
}

static void test_invalid_envelopes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        mcp_rpc_id_type id;
    } cases[] = {
        {"{\"id\":1,\"method\":\"ping\"}", MCP_RPC_ID_INT},                       /* no jsonrpc */
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", MCP_RPC_ID_INT},   /* wrong version */
        {"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", MCP_RPC_ID_INT},       /* version not a string */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", MCP_RPC_ID_INT},          /* method not a string */
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", MCP_RPC_ID_NONE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", MCP_RPC_ID_NONE},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", MCP_RPC_ID_NONE},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", MCP_RPC_ID_NONE},
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":5}", MCP_RPC_ID_INT},
        {"{\"jsonrpc\":\"2.0\",\"id\":3}", MCP_RPC_ID_INT},                       /* no method, no result */
        {"42", MCP_RPC_ID_NONE},
        {"\"text\"", MCP_RPC_ID_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_rpc_batch b = parse(cases[i].text);
        assert_int_equal(b.error_code, 0);
        assert_int_equal(b.items[0].kind, MCP_RPC_INVALID);
        assert_int_equal(b.items[0].error_code, MCP_RPC_INVALID_REQUEST);
        assert_int_equal(b.items[0].id.type, cases[i].id);
    }
}

static void test_responses(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    assert_int_equal(b.items[0].kind, MCP_RPC_RESPONSE);
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-1,\"message\":\"x\"}}");
    assert_int_equal(b.items[0].kind, MCP_RPC_ERROR_RESPONSE);
    assert_int_equal(b.items[0].id.type, MCP_RPC_ID_NONE);
}

static void test_parse_errors_and_limits(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",");
    assert_int_equal(b.error_code, MCP_RPC_PARSE_ERROR);
    b = parse("{\"a\":\"\xff\"}");
    assert_int_equal(b.error_code, MCP_RPC_PARSE_ERROR);
    b = parse("");
    assert_int_equal(b.error_code, MCP_RPC_PARSE_ERROR);

    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    mcp_json_opts opts = {.max_depth = 16};
    assert_int_equal(mcp_rpc_parse(&arena, deep, sizeof deep, &opts, &b), 0);
    assert_int_equal(b.error_code, MCP_RPC_INVALID_REQUEST);

    const char *big = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    opts = (mcp_json_opts){.max_size = 10};
    assert_int_equal(mcp_rpc_parse(&arena, big, strlen(big), &opts, &b), 0);
    assert_int_equal(b.error_code, MCP_RPC_INVALID_REQUEST);
}

static void test_batches(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("[]");
    assert_true(b.is_batch);
    assert_int_equal(b.error_code, MCP_RPC_INVALID_REQUEST);

    b = parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"x\":[1]}},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}, 5]");
    assert_true(b.is_batch);
    assert_int_equal(b.count, 3);
    assert_int_equal(b.items[0].kind, MCP_RPC_REQUEST);
    assert_true(mcp_rpc_json_is_object(b.items[0].params));
    assert_int_equal(b.items[1].kind, MCP_RPC_NOTIFICATION);
    assert_int_equal(b.items[2].kind, MCP_RPC_INVALID);
}

static void test_writers(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"method\":\"ping\"}");
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(mcp_rpc_write_result(&out, &b.items[0].id, "{}", 2), 0);
    assert_string_equal(out.data, "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"result\":{}}");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_rpc_write_error(&out, NULL, MCP_RPC_PARSE_ERROR, "Parse \"error\"", NULL), 0);
    assert_string_equal(out.data,
                        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse \\\"error\\\"\"}}");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_rpc_write_error(&out, &b.items[0].id, -32602, "bad", "{\"k\":1}"), 0);
    assert_string_equal(out.data,
                        "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"error\":{\"code\":-32602,\"message\":\"bad\",\"data\":{\"k\":1}}}");
    mcp_buf_reset(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_rpc_begin_notification(&w, "notifications/progress");
    mcp_json_begin_object(&w);
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    assert_string_equal(out.data, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}");
    mcp_buf_free(&out);
}

static void test_id_equality(void **state)
{
    (void)state;
    mcp_rpc_batch a = parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"x\"}");
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":\"5\",\"method\":\"x\"}");
    mcp_rpc_batch c = parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"y\"}");
    assert_false(mcp_rpc_id_eq(&a.items[0].id, &b.items[0].id));
    assert_true(mcp_rpc_id_eq(&a.items[0].id, &c.items[0].id));
    mcp_rpc_id copy;
    assert_int_equal(mcp_rpc_id_copy(&arena, &b.items[0].id, &copy), 0);
    assert_true(mcp_rpc_id_eq(&copy, &b.items[0].id));
}

/* Integer ids at both ends of int64 are ids; a fraction or an integer
 * beyond int64 is not. */
static void test_extreme_integer_ids(void **state)
{
    (void)state;
    mcp_rpc_batch b = parse("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"x\"}");
    assert_int_equal(b.items[0].kind, MCP_RPC_REQUEST);
    assert_int_equal(b.items[0].id.type, MCP_RPC_ID_INT);
    assert_true(b.items[0].id.num == INT64_MIN);
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"x\"}");
    assert_int_equal(b.items[0].id.type, MCP_RPC_ID_INT);
    assert_true(b.items[0].id.num == INT64_MAX);
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775808,\"method\":\"x\"}");
    assert_int_equal(b.items[0].kind, MCP_RPC_INVALID);
    b = parse("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808.5,\"method\":\"x\"}");
    assert_int_equal(b.items[0].kind, MCP_RPC_INVALID);
    mcp_rpc_id id;
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, "-9223372036854775808", 20, NULL, &doc, NULL), 0);
    assert_int_equal(mcp_rpc_id_from_json(doc, &id), 0);
    assert_true(id.num == INT64_MIN);
    assert_int_equal(mcp_json_parse(&arena, "2.5", 3, NULL, &doc, NULL), 0);
    assert_int_equal(mcp_rpc_id_from_json(doc, &id), MCP_EINVAL);
    assert_int_equal(id.type, MCP_RPC_ID_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_and_lazy_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_id_and_notification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_envelopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_equality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extreme_integer_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
