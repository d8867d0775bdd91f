/* The fast path of mcp_schema_validate against the general validator, on
 * many generated instances: whenever the fast path accepts, the general
 * validator does too; on flat schemas (an object of simple typed
 * properties, schema_internal.h) with fully built instances it accepts
 * exactly what the general one accepts; and mcp_schema_validate answers
 * with the general validator's verdict and message every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mcp/json.h"
#include "mcp/schema.h"
#include "mcp/schema_internal.h"

typedef struct kase {
    const char *schema;
    bool flat;
} kase;

static const kase CASES[] = {
    {"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}", true},
    {"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}", true},
    {"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"],"
     "\"additionalProperties\":false}",
     true},
    {"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"description\":\"d\"},"
     "\"n\":{\"type\":\"integer\"},\"x\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
     "\"z\":{\"type\":\"null\"},\"a\":{\"type\":\"array\"},\"o\":{\"type\":\"object\"},"
     "\"sn\":{\"type\":[\"string\",\"null\"]},\"t\":true,\"e\":{}},\"required\":[\"n\",\"b\"],"
     "\"additionalProperties\":true}",
     true},
    {"{\"properties\":{\"n\":{\"type\":[\"integer\",\"string\"]},\"o\":{\"type\":\"object\"}}}", true},
    {"{\"type\":[\"object\",\"string\"],\"properties\":{\"text\":{\"type\":\"string\"}},"
     "\"additionalProperties\":false}",
     true},
    /* Not flat: a property with properties of its own, a false property,
     * and content keywords (not plain at all). */
    {"{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}},"
     "\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}",
     false},
    {"{\"type\":\"object\",\"properties\":{\"text\":false,\"n\":{\"type\":\"integer\"}}}", false},
    {"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"minLength\":2}}}", false},
};

static const char *const KEYS[] = {"text", "n", "x", "b", "z", "a", "o", "sn", "t", "e", "tex", "texts", "", "extra"};
static const char *const VALUES[] = {"\"s\"", "\"\"", "1", "1.5", "-0", "1e2", "2.0", "true", "false", "null",
                                     "[]", "[1,\"x\"]", "{}", "{\"a\":1}", "{\"a\":\"no\"}"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t next_random(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* An object of distinct keys, or now and then a value that is no object. */
static void make_instance(uint32_t *rnd, char *out, size_t cap) {
    if (next_random(rnd) % 10 == 0) {
        snprintf(out, cap, "%s", VALUES[next_random(rnd) % COUNT(VALUES)]);
        return;
    }
    size_t len = (size_t)snprintf(out, cap, "{");
    unsigned members = next_random(rnd) % 6;
    bool used[COUNT(KEYS)] = {false};
    /* Often the members the required lists ask for, so that valid
     * instances are common too. */
    if (next_random(rnd) % 2) {
        len += (size_t)snprintf(out + len, cap - len, "\"text\":\"s\"");
        used[0] = true;
    }
    if (next_random(rnd) % 3 == 0) {
        len += (size_t)snprintf(out + len, cap - len, "%s\"n\":1,\"b\":false", len > 1 ? "," : "");
        used[1] = used[3] = true;
    }
    for (unsigned m = 0; m < members; m++) {
        size_t k = next_random(rnd) % COUNT(KEYS);
        if (used[k]) continue;
        used[k] = true;
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":%s", len > 1 ? "," : "", KEYS[k],
                                VALUES[next_random(rnd) % COUNT(VALUES)]);
    }
    snprintf(out + len, cap - len, "}");
}

static void run_case(const kase *k, unsigned lazy_depth, int *accepted, int *rejected) {
    mcp_arena arena;
    mcp_arena_init(&arena, 4096);
    mcp_schema *schema = NULL;
    char err[160];
    assert_int_equal(mcp_schema_compile(&arena, k->schema, strlen(k->schema), &schema, err, sizeof err), 0);
    assert_int_equal(schema->flat, k->flat);
    mcp_buf general_why, why;
    mcp_buf_init(&general_why);
    mcp_buf_init(&why);
    uint32_t rnd = 12345;
    char text[512];
    for (int n = 0; n < 3000; n++) {
        make_instance(&rnd, text, sizeof text);
        mcp_arena inst_arena;
        mcp_arena_init(&inst_arena, 1024);
        mcp_json *inst = NULL;
        mcp_json_opts opts = {.lazy_depth = lazy_depth};
        assert_int_equal(mcp_json_parse(&inst_arena, text, strlen(text), &opts, &inst, NULL), 0);
        int general = mcp_schema_validate_general(schema, inst, &general_why);
        bool fast = mcp_schema_fast_accepts(schema, inst);
        int rc = mcp_schema_validate(schema, inst, &why);
        if (fast && general != 0) fail_msg("fast path accepts %s against %s; general: %s", text, k->schema,
                                           general_why.data);
        if (k->flat && lazy_depth == 0 && general == 0 && !fast)
            fail_msg("fast path refuses valid %s against %s", text, k->schema);
        assert_int_equal(rc, general);
        if (rc) {
            assert_true(general == MCP_EINVAL);
            assert_int_equal(why.len, general_why.len);
            assert_memory_equal(why.data, general_why.data, why.len);
            (*rejected)++;
        } else {
            (*accepted)++;
        }
        mcp_arena_free(&inst_arena);
    }
    mcp_buf_free(&general_why);
    mcp_buf_free(&why);
    mcp_arena_free(&arena);
}

static void fast_and_general_paths_agree(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(CASES); i++) {
        int accepted = 0, rejected = 0;
        run_case(&CASES[i], 0, &accepted, &rejected);
        /* Both verdicts occur, or the case compares nothing. */
        assert_true(accepted > 50);
        assert_true(rejected > 50);
    }
}

/* Members that are objects or arrays left unparsed (RAW), as tool
 * arguments may be: the fast path may step aside, never disagree. */
static void lazily_parsed_instances_agree(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(CASES); i++) {
        int accepted = 0, rejected = 0;
        run_case(&CASES[i], 1, &accepted, &rejected);
        assert_true(accepted > 50);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_and_general_paths_agree),
        cmocka_unit_test(lazily_parsed_instances_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
