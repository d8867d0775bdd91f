/* completion/complete: prompt arguments and template variables, in both
 * eras, the 100-value cap, context arguments, and bad references. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

static const char *const LANGUAGES[] = {"python", "pytorch", "pyside", "rust", "ruby"};

static int complete_language(mcp_call *call, const char *argument, const char *value, const mcp_json *context,
                             void *user)
{
    (void)user;
    if (strcmp(argument, "many") == 0) {
        int rc = 0;
        for (int i = 0; i < 150 && rc == 0; i++) {
            char v[16];
            snprintf(v, sizeof v, "v%d", i);
            rc = mcp_call_completion(call, v);
        }
        assert_int_equal(rc, MCP_ELIMIT);
        return mcp_call_completion_total(call, 150, false);
    }
    const char *framework = mcp_json_str(mcp_json_get(context, "framework"), NULL);
    if (framework)
        return mcp_call_completion(call, framework);
    size_t n = 0;
    for (size_t i = 0; i < sizeof LANGUAGES / sizeof LANGUAGES[0]; i++)
        if (strncmp(LANGUAGES[i], value, strlen(value)) == 0 && mcp_call_completion(call, LANGUAGES[i]) == 0)
            n++;
    return mcp_call_completion_total(call, n, false);
}

static int read_it(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, NULL, "", 0);
}

static fixture *setup_server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    static const mcp_prompt_argument args[] = {{.name = "language"}, {.name = "many"}, {.name = "plain"}};
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){
        .name = "review", .arguments = args, .argument_count = 3, .complete = complete_language}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "nocomplete", .arguments = args,
                                                                   .argument_count = 1}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "code://{language}/{file}", .name = "code", .fn = read_it, .complete = complete_language}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://plain", .name = "p", .fn = read_it}), 0);
    return f;
}

static const mcp_json *completion_of(mcp_json *doc)
{
    return mcp_json_get(result_of(doc), "completion");
}

static void test_prompt_and_template(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    const mcp_json *c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\","
        "\"name\":\"review\"},\"argument\":{\"name\":\"language\",\"value\":\"py\"}}}"));
    const mcp_json *values = mcp_json_get(c, "values");
    assert_int_equal(mcp_json_len(values), 3);
    assert_string_equal(mcp_json_str(mcp_json_at(values, 0), ""), "python");
    assert_int_equal(mcp_json_int(mcp_json_get(c, "total"), -1), 3);
    assert_false(mcp_json_bool(mcp_json_get(c, "hasMore"), true));

    c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/resource\","
        "\"uri\":\"code://{language}/{file}\"},\"argument\":{\"name\":\"language\",\"value\":\"ru\"}}}"));
    assert_int_equal(mcp_json_len(mcp_json_get(c, "values")), 2);

    c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\","
        "\"name\":\"review\"},\"argument\":{\"name\":\"language\",\"value\":\"\"},\"context\":{\"arguments\":"
        "{\"framework\":\"flask\"}}}}"));
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(c, "values"), 0), ""), "flask");

    c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\","
        "\"name\":\"review\"},\"argument\":{\"name\":\"many\",\"value\":\"\"}}}"));
    assert_int_equal(mcp_json_len(mcp_json_get(c, "values")), 100);
    assert_true(mcp_json_bool(mcp_json_get(c, "hasMore"), false));
    assert_int_equal(mcp_json_int(mcp_json_get(c, "total"), -1), 150);

    /* Known things without a completer, and a plain resource: nothing to suggest. */
    c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\","
        "\"name\":\"nocomplete\"},\"argument\":{\"name\":\"language\",\"value\":\"p\"}}}"));
    assert_int_equal(mcp_json_len(mcp_json_get(c, "values")), 0);
    c = completion_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/resource\","
        "\"uri\":\"x://plain\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}}"));
    assert_int_equal(mcp_json_len(mcp_json_get(c, "values")), 0);
    fixture_free(f);
}

static void test_modern(void **state)
{
    (void)state;
    fixture *f = setup_server();
    mcp_json *doc = roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\","
        "\"name\":\"review\"},\"argument\":{\"name\":\"language\",\"value\":\"pyt\"}," MODERN_META "}}");
    assert_string_equal(str_at(result_of(doc), "resultType"), "complete");
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(completion_of(doc), "values"), 0), ""), "python");
    fixture_free(f);
}

static void test_bad_references(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    static const char *const bad[] = {
        "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"nope\"},\"argument\":{\"name\":\"language\",\"value\":\"\"}}",
        "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"review\"},\"argument\":{\"name\":\"nope\",\"value\":\"\"}}",
        "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"code://{language}/{file}\"},\"argument\":{\"name\":\"lang\",\"value\":\"\"}}",
        "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"nope://x\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}",
        "{\"ref\":{\"type\":\"ref/tool\",\"name\":\"x\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}",
        "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"review\"},\"argument\":{\"name\":\"language\"}}",
        "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"review\"},\"argument\":{\"name\":\"language\",\"value\":\"\"},\"context\":{\"arguments\":[]}}",
        "{\"ref\":\"review\",\"argument\":{\"name\":\"language\",\"value\":\"\"}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"completion/complete\",\"params\":%s}", i, bad[i]);
        mcp_json *doc = roundtrip(f, text);
        if (error_code(doc) != MCP_RPC_INVALID_PARAMS)
            fail_msg("case %zu: expected -32602", i);
    }
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_and_template),
        cmocka_unit_test(test_modern),
        cmocka_unit_test(test_bad_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
