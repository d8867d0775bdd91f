/* JSON Schema compiler and validator (src/mcp/schema.c): every keyword on
 * valid and invalid instances, the error path and message, $ref cycles,
 * lazily parsed instances and malformed schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"
#include "mcp/schema.h"
#include "mcp/schema_internal.h" /* the plain flag */

typedef struct fixture {
    mcp_arena arena;
    mcp_buf err;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    mcp_arena_init(&f->arena, 0);
    mcp_buf_init(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_arena_free(&f->arena);
    mcp_buf_free(&f->err);
    free(f);
    return 0;
}

static mcp_schema *compile_ok(fixture *f, const char *schema) {
    mcp_schema *s = NULL;
    char err[256];
    int rc = mcp_schema_compile(&f->arena, schema, strlen(schema), &s, err, sizeof err);
    if (rc != 0) fail_msg("schema %s did not compile: %s", schema, err);
    assert_non_null(s);
    return s;
}

/* Validate instance text against a compiled schema; returns the result code,
 * leaving the message in f->err. */
static int run(fixture *f, const mcp_schema *s, const char *instance) {
    mcp_json *doc = NULL;
    mcp_json_error jerr;
    if (mcp_json_parse(&f->arena, instance, strlen(instance), NULL, &doc, &jerr) != 0)
        fail_msg("test instance %s is not JSON: %s", instance, jerr.message);
    return mcp_schema_validate(s, doc, &f->err);
}

#define ACCEPTS(f, s, inst)                                                                                  \
    do {                                                                                                     \
        int rc_ = run((f), (s), (inst));                                                                     \
        if (rc_ != 0) fail_msg("expected %s to be valid, got %d: %s", (inst), rc_, (f)->err.data);          \
    } while (0)

#define REJECTS(f, s, inst, message)                                                                         \
    do {                                                                                                     \
        int rc_ = run((f), (s), (inst));                                                                     \
        if (rc_ != MCP_EINVAL) fail_msg("expected %s to be invalid, got %d", (inst), rc_);                  \
        if (strcmp((f)->err.data ? (f)->err.data : "", (message)) != 0)                                      \
            fail_msg("instance %s: expected message \"%s\", got \"%s\"", (inst), (message), (f)->err.data); \
    } while (0)

/* What a schema makes of an instance: message NULL when it is valid, else
 * the whole error message. Tables end with {NULL, NULL}. */
typedef struct verdict {
    const char *instance;
    const char *message;
} verdict;

/* Compile schema and check each instance's verdict, in order. */
static void judge(fixture *f, const char *schema, const verdict *cases) {
    mcp_schema *s = compile_ok(f, schema);
    for (const verdict *v = cases; v->instance; v++) {
        if (v->message)
            REJECTS(f, s, v->instance, v->message);
        else
            ACCEPTS(f, s, v->instance);
    }
}

static void test_type_single(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":\"string\"}", (const verdict[]){
        {"\"hi\"", NULL},
        {"5", "(root): expected string, got integer"},
        {"5.5", "(root): expected string, got number"},
        {"null", "(root): expected string, got null"},
        {"true", "(root): expected string, got boolean"},
        {"[]", "(root): expected string, got array"},
        {"{}", "(root): expected string, got object"},
        {NULL, NULL}});

    judge(f, "{\"type\":\"number\"}", (const verdict[]){
        {"1", NULL},
        {"-1.5e3", NULL},
        {"\"1\"", "(root): expected number, got string"},
        {NULL, NULL}});

    judge(f, "{\"type\":\"null\"}", (const verdict[]){
        {"null", NULL},
        {"false", "(root): expected null, got boolean"},
        {NULL, NULL}});

    judge(f, "{\"type\":\"boolean\"}", (const verdict[]){
        {"false", NULL},
        {"true", NULL},
        {"0", "(root): expected boolean, got integer"},
        {NULL, NULL}});
}

static void test_type_integer(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":\"integer\"}", (const verdict[]){
        {"0", NULL},
        {"-42", NULL},
        {"1.0", NULL}, /* zero fraction is an integer */
        {"1e3", NULL},
        {"12345678901234567890", NULL}, /* beyond int64, still integral */
        {"1.5", "(root): expected integer, got number"},
        {"1e-3", "(root): expected integer, got number"},
        {"\"3\"", "(root): expected integer, got string"},
        {NULL, NULL}});
}

static void test_type_array_of_types(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":[\"string\",\"null\"]}", (const verdict[]){
        {"\"x\"", NULL},
        {"null", NULL},
        {"3", "(root): expected null or string, got integer"},
        {NULL, NULL}});

    judge(f, "{\"type\":[\"integer\",\"boolean\"]}", (const verdict[]){
        {"7", NULL},
        {"true", NULL},
        {"7.25", "(root): expected boolean or integer, got number"},
        {NULL, NULL}});
}

static void test_properties_required_nested(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":\"object\",\"required\":[\"name\",\"items\"],"
             "\"properties\":{\"name\":{\"type\":\"string\"},"
             "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
             "\"owner\":{\"type\":\"object\",\"required\":[\"id\"],"
             "  \"properties\":{\"id\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}",
          (const verdict[]){
        {"{\"name\":\"a\",\"items\":[1,2,3]}", NULL},
        {"{\"name\":\"a\",\"items\":[],\"extra\":{\"anything\":true}}", NULL},
        {"{\"name\":\"a\",\"items\":[1,2,\"x\"]}", "/items/2: expected integer, got string"},
        {"{\"items\":[]}", "(root): missing required property \"name\""},
        {"{\"name\":\"a\"}", "(root): missing required property \"items\""},
        {"{\"name\":5,\"items\":[]}", "/name: expected string, got integer"},
        {"{\"name\":\"a\",\"items\":[],\"owner\":{}}", "/owner: missing required property \"id\""},
        {"{\"name\":\"a\",\"items\":[],\"owner\":{\"id\":1,\"tags\":[\"ok\",false]}}",
         "/owner/tags/1: expected string, got boolean"},
        {"[]", "(root): expected object, got array"},
        {NULL, NULL}});
}

static void test_path_escaping(void **state) {
    fixture *f = *state;
    judge(f, "{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":{\"type\":\"string\"}}}}}", (const verdict[]){
        {"{\"a/b\":{\"c~d\":1}}", "/a~1b/c~0d: expected string, got integer"},
        {NULL, NULL}});
}

static void test_additional_properties(void **state) {
    fixture *f = *state;
    judge(f, "{\"properties\":{\"a\":{}},\"additionalProperties\":false}", (const verdict[]){
        {"{}", NULL},
        {"{\"a\":[1]}", NULL},
        {"{\"a\":1,\"b\":2}", "(root): property \"b\" is not allowed"},
        {"{\"q\\\"x\":2}", "(root): property \"q\\\"x\" is not allowed"},
        {NULL, NULL}});

    judge(f, "{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"number\"}}", (const verdict[]){
        {"{\"a\":\"s\",\"b\":2,\"c\":3.5}", NULL},
        {"{\"a\":\"s\",\"b\":\"2\"}", "/b: expected number, got string"},
        {NULL, NULL}});

    judge(f, "{\"additionalProperties\":true}", (const verdict[]){
        {"{\"x\":1}", NULL},
        {NULL, NULL}});

    judge(f, "{\"minProperties\":1,\"maxProperties\":2}", (const verdict[]){
        {"{}", "(root): expected at least 1 properties, got 0"},
        {"{\"a\":1,\"b\":2}", NULL},
        {"{\"a\":1,\"b\":2,\"c\":3}", "(root): expected at most 2 properties, got 3"},
        {NULL, NULL}});
}

static void test_enum_const(void **state) {
    fixture *f = *state;
    judge(f, "{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1,2]},[true]]}", (const verdict[]){
        {"\"red\"", NULL},
        {"1.0", NULL}, /* numbers compare by value */
        {"null", NULL},
        {"{\"a\":[1,2]}", NULL},
        {"[true]", NULL},
        {"\"blue\"", "(root): string is not one of the allowed values"},
        {"{\"a\":[2,1]}", "(root): object is not one of the allowed values"},
        {"[true,true]", "(root): array is not one of the allowed values"},
        {"2", "(root): integer is not one of the allowed values"},
        {NULL, NULL}});

    judge(f, "{\"const\":{\"x\":1,\"y\":\"z\"}}", (const verdict[]){
        {"{\"y\":\"z\",\"x\":1}", NULL}, /* member order does not matter */
        {"{\"x\":1}", "(root): object does not equal the expected constant"},
        {"{\"x\":1,\"y\":\"z\",\"w\":0}", "(root): object does not equal the expected constant"},
        {NULL, NULL}});

    judge(f, "{\"const\":null}", (const verdict[]){
        {"null", NULL},
        {"false", "(root): boolean does not equal the expected constant"},
        {NULL, NULL}});
}

static void test_array_keywords(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":\"array\",\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"string\"}}", (const verdict[]){
        {"[\"a\"]", NULL},
        {"[\"a\",\"b\",\"c\"]", NULL},
        {"[]", "(root): expected at least 1 items, got 0"},
        {"[\"a\",\"b\",\"c\",\"d\"]", "(root): expected at most 3 items, got 4"},
        {NULL, NULL}});

    judge(f, "{\"prefixItems\":[{\"type\":\"integer\"},{\"type\":\"string\"}],\"items\":false}", (const verdict[]){
        {"[1,\"a\"]", NULL},
        {"[1]", NULL},
        {"[\"a\"]", "/0: expected integer, got string"},
        {"[1,\"a\",null]", "/2: no value is allowed here"},
        {NULL, NULL}});

    /* draft-04 tuple form */
    judge(f, "{\"items\":[{\"type\":\"integer\"}]}", (const verdict[]){
        {"[1,\"anything\"]", NULL},
        {"[true]", "/0: expected integer, got boolean"},
        {NULL, NULL}});

    judge(f, "{\"contains\":{\"type\":\"integer\",\"minimum\":10}}", (const verdict[]){
        {"[1,\"a\",12]", NULL},
        {"[1,2,3]", "(root): no item matches the \"contains\" schema"},
        {NULL, NULL}});

    judge(f, "{\"uniqueItems\":true}", (const verdict[]){
        {"[1,2,{\"a\":1},{\"a\":2}]", NULL},
        {"[1,{\"a\":1},2,{\"a\":1}]", "(root): items 1 and 3 are equal, expected unique items"},
        {"[1,1.0]", "(root): items 0 and 1 are equal, expected unique items"},
        {NULL, NULL}});
}

static void test_numeric_limits(void **state) {
    fixture *f = *state;
    judge(f, "{\"minimum\":1,\"maximum\":100}", (const verdict[]){
        {"1", NULL},
        {"100", NULL},
        {"\"not a number\"", NULL}, /* limits only apply to numbers */
        {"0.5", "(root): 0.5 is less than the minimum 1"},
        {"101", "(root): 101 is greater than the maximum 100"},
        {NULL, NULL}});

    judge(f, "{\"exclusiveMinimum\":0,\"exclusiveMaximum\":1.5}", (const verdict[]){
        {"0.001", NULL},
        {"1.4999", NULL},
        {"0", "(root): 0 must be greater than 0"},
        {"1.5", "(root): 1.5 must be less than 1.5"},
        {NULL, NULL}});

    /* draft-04 boolean form */
    judge(f, "{\"minimum\":5,\"exclusiveMinimum\":true,\"maximum\":9,\"exclusiveMaximum\":false}", (const verdict[]){
        {"9", NULL},
        {"5", "(root): 5 must be greater than 5"},
        {NULL, NULL}});

    judge(f, "{\"multipleOf\":0.1}", (const verdict[]){
        {"0.3", NULL},
        {"12", NULL},
        {"0.35", "(root): 0.35 is not a multiple of 0.1"},
        {NULL, NULL}});
}

static void test_string_length_code_points(void **state) {
    fixture *f = *state;
    judge(f, "{\"minLength\":2,\"maxLength\":3}", (const verdict[]){
        {"\"ab\"", NULL},
        {"\"\xc3\xa9\xc3\xa9\xc3\xa9\"", NULL}, /* 3 code points, 6 bytes */
        {"\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", NULL}, /* 2 emoji, 8 bytes */
        {"\"\\ud83d\\ude00x\"", NULL}, /* escaped surrogate pair counts once */
        {"\"\xc3\xa9\"", "(root): string is shorter than 2 characters (has 1)"},
        {"\"abcd\"", "(root): string is longer than 3 characters (has 4)"},
        {"7", NULL}, /* length only applies to strings */
        {NULL, NULL}});
}

static void test_combinators(void **state) {
    fixture *f = *state;
    judge(f, "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\",\"minimum\":0}]}", (const verdict[]){
        {"\"x\"", NULL},
        {"3", NULL},
        {"-3", "(root): integer does not match any of the anyOf schemas"},
        {"null", "(root): null does not match any of the anyOf schemas"},
        {NULL, NULL}});

    judge(f, "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", (const verdict[]){
        {"1", NULL}, /* integer only */
        {"2.5", NULL}, /* minimum only */
        {"3", "(root): integer matches 2 of the oneOf schemas, expected exactly one"},
        {"0.5", "(root): number does not match any of the oneOf schemas"},
        {NULL, NULL}});

    judge(f, "{\"allOf\":[{\"type\":\"object\"},{\"required\":[\"a\"]},"
             "{\"properties\":{\"a\":{\"type\":\"boolean\"}}}]}", (const verdict[]){
        {"{\"a\":true}", NULL},
        {"{}", "(root): missing required property \"a\""},
        {"{\"a\":1}", "/a: expected boolean, got integer"},
        {NULL, NULL}});

    judge(f, "{\"not\":{\"type\":\"string\"}}", (const verdict[]){
        {"1", NULL},
        {"\"s\"", "(root): string matches the \"not\" schema"},
        {NULL, NULL}});

    judge(f, "{\"if\":{\"properties\":{\"kind\":{\"const\":\"num\"}}},"
             "\"then\":{\"properties\":{\"v\":{\"type\":\"number\"}}},"
             "\"else\":{\"properties\":{\"v\":{\"type\":\"string\"}}}}", (const verdict[]){
        {"{\"kind\":\"num\",\"v\":1}", NULL},
        {"{\"kind\":\"str\",\"v\":\"1\"}", NULL},
        {"{\"kind\":\"num\",\"v\":\"1\"}", "/v: expected number, got string"},
        {"{\"kind\":\"str\",\"v\":1}", "/v: expected string, got integer"},
        {NULL, NULL}});

    /* A quiet branch must not leave its message behind. */
    judge(f, "{\"properties\":{\"x\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},"
             "\"y\":{\"type\":\"integer\"}}}", (const verdict[]){
        {"{\"x\":null,\"y\":\"no\"}", "/y: expected integer, got string"},
        {NULL, NULL}});
}

static void test_boolean_schemas(void **state) {
    fixture *f = *state;
    judge(f, "true", (const verdict[]){
        {"{\"anything\":[1,2]}", NULL},
        {NULL, NULL}});
    judge(f, "false", (const verdict[]){
        {"1", "(root): no value is allowed here"},
        {NULL, NULL}});
    judge(f, "{}", (const verdict[]){
        {"null", NULL},
        {NULL, NULL}});
    judge(f, "{\"properties\":{\"gone\":false}}", (const verdict[]){
        {"{}", NULL},
        {"{\"gone\":1}", "/gone: no value is allowed here"},
        {NULL, NULL}});
}

static void test_refs(void **state) {
    fixture *f = *state;
    judge(f, "{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},"
             "\"definitions\":{\"name\":{\"type\":\"string\",\"minLength\":1}},"
             "\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"},\"s\":{\"$ref\":\"#/definitions/name\"}}}",
          (const verdict[]){
        {"{\"n\":3,\"s\":\"x\"}", NULL},
        {"{\"n\":0}", "/n: 0 is less than the minimum 1"},
        {"{\"s\":\"\"}", "/s: string is shorter than 1 characters (has 0)"},
        {NULL, NULL}});

    /* Recursive: a tree whose children are trees. */
    judge(f, "{\"$defs\":{\"node\":{\"type\":\"object\",\"required\":[\"v\"],"
             "\"properties\":{\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}}}},"
             "\"$ref\":\"#/$defs/node\"}", (const verdict[]){
        {"{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4}]}]}", NULL},
        {"{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":\"4\"}]}]}",
         "/kids/1/kids/0/v: expected integer, got string"},
        {NULL, NULL}});

    /* Root reference and escaped pointer tokens. */
    judge(f, "{\"properties\":{\"next\":{\"$ref\":\"#\"},\"v\":{\"type\":\"string\"}}}", (const verdict[]){
        {"{\"next\":{\"next\":{\"v\":1}}}", "/next/next/v: expected string, got integer"},
        {NULL, NULL}});
    judge(f, "{\"$defs\":{\"a/b\":{\"type\":\"null\"},\"c d\":{\"type\":\"boolean\"}},"
             "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a~1b\"},\"y\":{\"$ref\":\"#/$defs/c%20d\"}}}",
          (const verdict[]){
        {"{\"x\":null,\"y\":true}", NULL},
        {"{\"y\":null}", "/y: expected boolean, got null"},
        {NULL, NULL}});

    /* A reference cycle that never consumes the instance ends, with an error. */
    mcp_schema *s = compile_ok(f, "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}");
    assert_int_equal(run(f, s, "1"), MCP_EINVAL);
    assert_non_null(strstr(f->err.data, "too deep"));
}

static void test_unknown_keywords_and_ignored(void **state) {
    fixture *f = *state;
    judge(f, "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
             "\"title\":\"t\",\"description\":\"d\",\"x-vendor\":{\"type\":5},"
             "\"format\":\"email\",\"pattern\":\"^(?!x)\",\"default\":3,\"type\":\"string\"}", (const verdict[]){
        {"\"not-an-email\"", NULL}, /* format is not enforced */
        {"\"x\"", NULL}, /* a lookahead pattern is beyond our matcher: skipped */
        {"1", "(root): expected string, got integer"},
        {NULL, NULL}});
}

static void test_compile_errors(void **state) {
    fixture *f = *state;
    static const struct {
        const char *schema;
        int code;
        const char *message;
    } cases[] = {
        {"{\"type\":", MCP_EPARSE, "schema is not valid JSON"},
        {"[1]", MCP_EINVAL, "schema (root): a schema must be an object or a boolean"},
        {"{\"type\":\"str\"}", MCP_EINVAL, "schema /type: unknown type \"str\""},
        {"{\"type\":5}", MCP_EINVAL, "schema /type: type must be a type name"},
        {"{\"type\":[]}", MCP_EINVAL, "schema /type: type must be"},
        {"{\"type\":[\"string\",1]}", MCP_EINVAL, "schema /type: type array must hold only type names"},
        {"{\"properties\":[]}", MCP_EINVAL, "schema /properties: properties must be an object"},
        {"{\"properties\":{\"a\":{\"type\":\"x\"}}}", MCP_EINVAL, "schema /properties/a/type: unknown type"},
        {"{\"properties\":{\"a\":3}}", MCP_EINVAL, "schema /properties/a: a schema must be"},
        {"{\"required\":\"a\"}", MCP_EINVAL, "schema /required: required must be an array of strings"},
        {"{\"required\":[1]}", MCP_EINVAL, "schema /required: required must be an array of strings"},
        {"{\"minLength\":-1}", MCP_EINVAL, "schema /minLength: minLength must be a non-negative integer"},
        {"{\"maxItems\":1.5}", MCP_EINVAL, "schema /maxItems: maxItems must be a non-negative integer"},
        {"{\"minimum\":\"1\"}", MCP_EINVAL, "schema /minimum: minimum must be a number"},
        {"{\"multipleOf\":0}", MCP_EINVAL, "schema /multipleOf: multipleOf must be greater than 0"},
        {"{\"enum\":1}", MCP_EINVAL, "schema /enum: enum must be an array"},
        {"{\"anyOf\":[]}", MCP_EINVAL, "schema /anyOf: anyOf must be a non-empty array of schemas"},
        {"{\"oneOf\":{}}", MCP_EINVAL, "schema /oneOf: oneOf must be a non-empty array"},
        {"{\"allOf\":[{\"type\":1}]}", MCP_EINVAL, "schema /allOf/0/type:"},
        {"{\"not\":1}", MCP_EINVAL, "schema /not: a schema must be"},
        {"{\"uniqueItems\":1}", MCP_EINVAL, "schema /uniqueItems: uniqueItems must be a boolean"},
        {"{\"pattern\":1}", MCP_EINVAL, "schema /pattern: a pattern must be a string"},
        {"{\"pattern\":\"(ab\"}", MCP_EINVAL, "schema /pattern: \"(ab\" is not a valid regular expression"},
        {"{\"pattern\":\"ab)\"}", MCP_EINVAL, "schema /pattern: \"ab)\" is not a valid"},
        {"{\"pattern\":\"[a-\"}", MCP_EINVAL, "schema /pattern: \"[a-\" is not a valid"},
        {"{\"pattern\":\"[z-a]\"}", MCP_EINVAL, "schema /pattern: \"[z-a]\" is not a valid"},
        {"{\"pattern\":\"*a\"}", MCP_EINVAL, "schema /pattern: \"*a\" is not a valid"},
        {"{\"pattern\":\"a**\"}", MCP_EINVAL, "schema /pattern: \"a**\" is not a valid"},
        {"{\"pattern\":\"a{3,1}\"}", MCP_EINVAL, "schema /pattern: \"a{3,1}\" is not a valid"},
        {"{\"patternProperties\":{\"(\":{}}}", MCP_EINVAL, "schema /patternProperties/(: \"(\" is not a valid"},
        {"{\"patternProperties\":{\"^a\":{\"type\":0}}}", MCP_EINVAL, "schema /patternProperties/^a/type:"},
        {"{\"$ref\":\"#/$defs/missing\"}", MCP_EINVAL, "schema /$ref: $ref \"#/$defs/missing\" does not resolve"},
        {"{\"$ref\":\"other.json#/a\"}", MCP_EINVAL, "schema /$ref: only local $ref"},
        {"{\"$ref\":\"#/$defs/a~2\",\"$defs\":{}}", MCP_EINVAL, "schema /$ref: $ref \"#/$defs/a~2\" does not resolve"},
        {"{\"$ref\":\"#/$defs/x\",\"$defs\":{\"x\":{\"minItems\":\"1\"}}}", MCP_EINVAL,
         "schema /$defs/x/minItems: minItems must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_schema *s = (mcp_schema *)1;
        char err[256];
        int rc = mcp_schema_compile(&f->arena, cases[i].schema, strlen(cases[i].schema), &s, err, sizeof err);
        if (rc != cases[i].code) fail_msg("%s: expected %d, got %d (%s)", cases[i].schema, cases[i].code, rc, err);
        assert_null(s);
        if (strncmp(err, cases[i].message, strlen(cases[i].message)) != 0)
            fail_msg("%s: expected message starting \"%s\", got \"%s\"", cases[i].schema, cases[i].message, err);
    }
    /* Nesting beyond the compiler's limit is refused, not overflowed. */
    mcp_buf deep;
    mcp_buf_init(&deep);
    for (int i = 0; i < 120; i++) mcp_buf_append_cstr(&deep, "{\"not\":{\"items\":");
    mcp_buf_append_cstr(&deep, "{}");
    for (int i = 0; i < 120; i++) mcp_buf_append_cstr(&deep, "}}");
    mcp_schema *s = NULL;
    char err[256];
    int rc = mcp_schema_compile(&f->arena, deep.data, deep.len, &s, err, sizeof err);
    assert_true(rc != 0);
    assert_null(s);
    mcp_buf_free(&deep);
}

static void test_lazy_instance(void **state) {
    fixture *f = *state;
    mcp_schema *s = compile_ok(f, "{\"properties\":{\"args\":{\"properties\":{\"n\":{\"type\":\"integer\"}},"
                                  "\"required\":[\"n\"]},\"list\":{\"items\":{\"enum\":[[1],[2]]}}}}");
    const char *text = "{\"args\":{\"n\":\"seven\"},\"list\":[[1],[2]]}";
    mcp_json *doc = NULL;
    mcp_json_opts opts = {.lazy_depth = 1};
    assert_int_equal(mcp_json_parse(&f->arena, text, strlen(text), &opts, &doc, NULL), 0);
    assert_int_equal(mcp_json_type_of(mcp_json_get(doc, "args")), MCP_JSON_RAW);
    assert_int_equal(mcp_schema_validate(s, doc, &f->err), MCP_EINVAL);
    assert_string_equal(f->err.data, "/args/n: expected integer, got string");

    const char *good = "{\"args\":{\"n\":7},\"list\":[[2],[1]]}";
    assert_int_equal(mcp_json_parse(&f->arena, good, strlen(good), &opts, &doc, NULL), 0);
    assert_int_equal(mcp_schema_validate(s, doc, &f->err), 0);
}

static void test_error_buffer_reuse_and_null(void **state) {
    fixture *f = *state;
    mcp_schema *s = compile_ok(f, "{\"type\":\"object\"}");
    REJECTS(f, s, "1", "(root): expected object, got integer");
    ACCEPTS(f, s, "{}");
    assert_int_equal(f->err.len, 0); /* cleared on success too */
    REJECTS(f, s, "[]", "(root): expected object, got array");

    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&f->arena, "2", 1, NULL, &doc, NULL), 0);
    assert_int_equal(mcp_schema_validate(s, doc, NULL), MCP_EINVAL);
}

/* The MCP tool shape the server core validates against: a realistic case. */
static void test_tool_input_schema(void **state) {
    fixture *f = *state;
    judge(f, "{\"type\":\"object\",\"properties\":{"
             "\"steps\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
             "\"delay_ms\":{\"type\":\"integer\",\"minimum\":0},"
             "\"mode\":{\"type\":\"string\",\"enum\":[\"fast\",\"slow\"]}},"
             "\"required\":[\"steps\"],\"additionalProperties\":false}", (const verdict[]){
        {"{\"steps\":3}", NULL},
        {"{\"steps\":3,\"delay_ms\":0,\"mode\":\"fast\"}", NULL},
        {"{\"steps\":0}", "/steps: 0 is less than the minimum 1"},
        {"{\"steps\":1000}", "/steps: 1000 is greater than the maximum 100"},
        {"{\"steps\":2.5}", "/steps: expected integer, got number"},
        {"{\"steps\":2,\"mode\":\"medium\"}", "/mode: string is not one of the allowed values"},
        {"{\"steps\":2,\"verbose\":true}", "(root): property \"verbose\" is not allowed"},
        {NULL, NULL}});
}

static void test_pattern(void **state) {
    fixture *f = *state;
    static const struct {
        const char *pattern; /* as JSON string content */
        const char *yes[4];
        const char *no[4];
    } cases[] = {
        {"^[a-z][a-z0-9_-]{2,15}$", {"abc", "a_b-9", "abcdefghijklmnop"}, {"ab", "Abc", "abcdefghijklmnopq", "a c"}},
        {"b+c", {"aabbbcx", "bc"}, {"ac", "cb", ""}},
        {"^(foo|bar)+$", {"foobarfoo", "bar"}, {"foobaz", "", "foo bar"}},
        {"^\\\\d{3}-\\\\d{4}$", {"555-1234"}, {"5555-123", "555-12345", "abc-defg"}},
        {"^[^\\\\s]+$", {"no-spaces"}, {"has space", "tab\\there", ""}},
        {"^.$", {"\xc3\xa9", "\xf0\x9f\x98\x80", "a"}, {"ab", ""}},
        {"^\\\\u00e9+$", {"\xc3\xa9\xc3\xa9"}, {"e"}},
        {"^a{2,}$", {"aa", "aaaaa"}, {"a", "aab"}},
        {"^(a*){2}$", {"", "aaa"}, {"b"}},
        {"^[\\\\w.+-]+@[\\\\w-]+\\\\.[\\\\w.]+$", {"a.b+c@x-y.org"}, {"a@b", "@x.org"}},
        {"colou?r", {"color", "my colour"}, {"colr"}},
        {"^a+?b$", {"aaab"}, {"b", "aaa"}},
        {"(?:ab|cd)e", {"xcde", "abe"}, {"ace"}},
        {"[.]", {"a.b"}, {"ab"}},
        {"x{", {"x{"}, {"x"}},
        {"^(?<year>\\\\d{4})-(0[1-9]|1[0-2])$", {"2026-11"}, {"2026-13", "26-11"}},
        {"^[\\\\x41-\\\\x43]$", {"A", "C"}, {"D"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char schema[256];
        snprintf(schema, sizeof schema, "{\"pattern\":\"%s\"}", cases[i].pattern);
        mcp_schema *s = compile_ok(f, schema);
        char inst[128];
        for (size_t k = 0; k < 4 && cases[i].yes[k]; k++) {
            snprintf(inst, sizeof inst, "\"%s\"", cases[i].yes[k]);
            ACCEPTS(f, s, inst);
        }
        for (size_t k = 0; k < 4 && cases[i].no[k]; k++) {
            snprintf(inst, sizeof inst, "\"%s\"", cases[i].no[k]);
            if (run(f, s, inst) != MCP_EINVAL) fail_msg("pattern %s should reject %s", cases[i].pattern, inst);
            assert_non_null(strstr(f->err.data, "does not match the pattern"));
        }
    }
    mcp_schema *s = compile_ok(f, "{\"properties\":{\"id\":{\"pattern\":\"^a+$\"}}}");
    REJECTS(f, s, "{\"id\":\"aab\"}", "/id: string does not match the pattern \"^a+$\"");
    ACCEPTS(f, s, "{\"id\":7}"); /* pattern applies to strings only */
}

static void test_pattern_limits(void **state) {
    fixture *f = *state;
    /* Exponential backtracking is cut off by the step budget, quickly. */
    mcp_schema *s = compile_ok(f, "{\"pattern\":\"^(a+)+$\"}");
    uint64_t t0 = mcp_now_ns();
    REJECTS(f, s, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"",
            "(root): string is too long to check against the pattern \"^(a+)+$\"");
    assert_true(mcp_now_ns() - t0 < 2000000000ull);
    ACCEPTS(f, s, "\"aaaa\"");

    /* Long strings with simple patterns are matched without recursion. */
    mcp_buf big;
    mcp_buf_init(&big);
    mcp_buf_append_char(&big, '"');
    for (int i = 0; i < 1000000; i++) mcp_buf_append_char(&big, 'a');
    mcp_buf_append_char(&big, '"');
    s = compile_ok(f, "{\"pattern\":\"^[a-z]+$\"}");
    ACCEPTS(f, s, big.data);
    s = compile_ok(f, "{\"pattern\":\"b\"}");
    assert_int_equal(run(f, s, big.data), MCP_EINVAL);
    assert_non_null(strstr(f->err.data, "does not match"));
    mcp_buf_free(&big);
}

static void test_pattern_properties(void **state) {
    fixture *f = *state;
    judge(f, "{\"properties\":{\"id\":{}},\"patternProperties\":{\"^x-\":{\"type\":\"string\"},"
             "\"^n_\":{\"type\":\"integer\"},\"_\":{\"minimum\":0}},\"additionalProperties\":false}", (const verdict[]){
        {"{\"id\":1,\"x-a\":\"s\",\"n_1\":2}", NULL},
        {"{\"x-a\":1}", "/x-a: expected string, got integer"},
        {"{\"n_1\":-1}", "/n_1: -1 is less than the minimum 0"}, /* both patterns apply */
        {"{\"other\":1}", "(root): property \"other\" is not allowed"},
        {NULL, NULL}});

    /* A pattern beyond our matcher: additionalProperties is not applied. */
    judge(f, "{\"patternProperties\":{\"^(?=a)\":{\"type\":\"string\"}},\"additionalProperties\":false}",
          (const verdict[]){
        {"{\"anything\":1}", NULL},
        {NULL, NULL}});
}

/* Plain schemas (types, properties, required, additionalProperties as a
 * boolean) are judged first on a fast path that may only say "valid". The
 * same schema under allOf is never plain, so it always takes the full way:
 * both must agree on every instance, and a rejection must read the same. */
static void test_plain_fast_path_agrees(void **state) {
    fixture *f = *state;
    static const char *const schemas[] = {
        "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"],"
        "\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"integer\"},"
        "\"c\":{\"type\":[\"string\",\"null\"]},\"d\":{\"type\":\"object\",\"properties\":{\"e\":"
        "{\"type\":\"boolean\"}},\"required\":[\"e\"]},\"f\":{\"type\":\"array\"},\"g\":true},"
        "\"required\":[\"a\",\"b\"]}",
        "{\"properties\":{\"x\":{}},\"additionalProperties\":true}",
        "{\"type\":\"object\",\"required\":[\"missing_from_properties\"]}",
        "{\"properties\":{\"h\":false}}",
        "true",
    };
    /* Which of them are plain: not the one with a required name that has no
     * property schema, nor the one with a property that nothing matches. */
    static const bool is_plain[] = {true, true, true, false, false, true};
    static const char *const instances[] = {
        "{\"text\":\"hi\"}", "{\"text\":1}", "{}", "{\"text\":\"hi\",\"extra\":1}", "{\"text\":\"a\",\"text\":2}",
        "{\"a\":1.5,\"b\":2}", "{\"a\":1,\"b\":2.5}", "{\"a\":1,\"b\":2.0}", "{\"a\":1}",
        "{\"a\":1,\"b\":2,\"c\":null,\"d\":{\"e\":true},\"f\":[1,\"x\"],\"g\":{\"any\":1}}",
        "{\"a\":1,\"b\":2,\"c\":3}", "{\"a\":1,\"b\":2,\"d\":{}}", "{\"a\":1,\"b\":2,\"d\":{\"e\":1}}",
        "{\"a\":1,\"b\":2,\"f\":{}}", "{\"h\":0}", "{\"x\":[],\"y\":{}}",
        "{\"missing_from_properties\":0}", "[]", "\"text\"", "null", "7",
    };
    mcp_buf full_err;
    mcp_buf_init(&full_err);
    for (size_t i = 0; i < sizeof schemas / sizeof *schemas; i++) {
        mcp_schema *plain = compile_ok(f, schemas[i]);
        char wrapped[1024];
        snprintf(wrapped, sizeof wrapped, "{\"allOf\":[%s]}", schemas[i]);
        mcp_schema *full = compile_ok(f, wrapped);
        assert_int_equal(plain->plain, is_plain[i]);
        assert_false(full->plain);
        for (size_t k = 0; k < sizeof instances / sizeof *instances; k++) {
            int want = run(f, full, instances[k]);
            mcp_buf_reset(&full_err);
            if (f->err.len) mcp_buf_append(&full_err, f->err.data, f->err.len);
            int got = run(f, plain, instances[k]);
            if (got != want)
                fail_msg("schema %zu, instance %s: %d, the full way says %d", i, instances[k], got, want);
            if (got != 0 && strstr(full_err.data ? full_err.data : "", f->err.data ? f->err.data : "") == NULL)
                fail_msg("schema %zu, instance %s: \"%s\" is not in \"%s\"", i, instances[k], f->err.data,
                         full_err.data);
        }
    }
    mcp_buf_free(&full_err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_type_single, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_integer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_array_of_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_properties_required_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_additional_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum_const, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_keywords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_length_code_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_combinators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boolean_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keywords_and_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_buffer_reuse_and_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_input_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_fast_path_agrees, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
