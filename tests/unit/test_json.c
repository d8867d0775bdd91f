/*
 * Parser, accessors, lazy RAW nodes, limits and error offsets of the json
 * layer. Writer and canonical form are in test_json_write.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"

static mcp_arena arena;

static int setup(void **state) {
    (void)state;
    mcp_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mcp_arena_free(&arena);
    return 0;
}

static mcp_json *parse_ok(const char *text) {
    mcp_json *doc = NULL;
    mcp_json_error err;
    int rc = mcp_json_parse(&arena, text, strlen(text), NULL, &doc, &err);
    if (rc) fprintf(stderr, "unexpected failure on %s: %s at %zu\n", text, err.message, err.offset);
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    return doc;
}

static mcp_json_error parse_fail(const char *text, size_t len, const mcp_json_opts *opts) {
    mcp_json *doc = (mcp_json *)&arena; /* must be reset to NULL */
    mcp_json_error err;
    memset(&err, 0, sizeof err);
    int rc = mcp_json_parse(&arena, text, len, opts, &doc, &err);
    assert_int_not_equal(rc, 0);
    assert_int_equal(rc, err.code);
    assert_null(doc);
    assert_true(err.message[0] != '\0');
    assert_int_equal(mcp_json_validate(text, len, opts, NULL), rc);
    return err;
}

static void test_scalars(void **state) {
    (void)state;
    assert_int_equal(mcp_json_type_of(parse_ok("null")), MCP_JSON_NULL);
    assert_true(mcp_json_bool(parse_ok(" true "), false));
    assert_false(mcp_json_bool(parse_ok("false"), true));
    assert_true(mcp_json_is_bool(parse_ok("false")));

    mcp_json *n = parse_ok("42");
    assert_true(mcp_json_is_integer(n));
    assert_int_equal(mcp_json_int(n, 0), 42);
    assert_true(mcp_json_num(n, 0) == 42.0);

    n = parse_ok("-9223372036854775808");
    assert_true(mcp_json_is_integer(n));
    assert_true(mcp_json_int(n, 0) == INT64_MIN);
    n = parse_ok("9223372036854775808"); /* one past int64 */
    assert_true(mcp_json_is_number(n));
    assert_false(mcp_json_is_integer(n));
    assert_int_equal(mcp_json_int(n, 7), 7);
    assert_true(mcp_json_num(n, 0) == 9223372036854775808.0);

    n = parse_ok("1.5");
    assert_false(mcp_json_is_integer(n));
    assert_true(mcp_json_num(n, 0) == 1.5);
    assert_true(mcp_json_num(parse_ok("-2.5e-3"), 0) == -2.5e-3);
    assert_true(mcp_json_num(parse_ok("1E+2"), 0) == 100.0);
    assert_true(mcp_json_num(parse_ok("0.1"), 0) == 0.1);
    assert_true(mcp_json_num(parse_ok("123456789.123456789e-5"), 0) == 123456789.123456789e-5);
    assert_true(mcp_json_num(parse_ok("1.7976931348623157e308"), 0) == 1.7976931348623157e308);
    assert_true(mcp_json_num(parse_ok("4.9406564584124654e-324"), 0) == 4.9406564584124654e-324);
    assert_true(mcp_json_num(parse_ok("0.30000000000000004441"), 0) == 0.30000000000000004441);
    double negzero = mcp_json_num(parse_ok("-0"), 1);
    assert_true(negzero == 0 && signbit(negzero));
    assert_true(isinf(mcp_json_num(parse_ok("1e400"), 0)));

    mcp_json *s = parse_ok("\"h\\u00e9llo\\n\\ud83d\\ude00\"");
    assert_string_equal(mcp_json_str(s, NULL), "h\xc3\xa9llo\n\xf0\x9f\x98\x80");
    assert_int_equal(mcp_json_str_len(s), strlen("h\xc3\xa9llo\n\xf0\x9f\x98\x80"));

    s = parse_ok("\"a\\u0000b\"");
    assert_int_equal(mcp_json_str_len(s), 3);
    assert_memory_equal(mcp_json_str_slice(s).ptr, "a\0b", 3);

    /* Fallbacks for the wrong type or absence. */
    assert_string_equal(mcp_json_str(n, "fb"), "fb");
    assert_string_equal(mcp_json_str(NULL, "fb"), "fb");
    assert_true(mcp_json_num(s, 3.0) == 3.0);
    assert_true(mcp_json_is_null(NULL));
    assert_int_equal(mcp_json_type_of(NULL), MCP_JSON_NULL);
}

static void test_strings_point_at_source_or_arena(void **state) {
    (void)state;
    const char *text = "{\"plain\":\"abc\",\"esc\\\"aped\":\"x\\ty\"}";
    mcp_json *doc = parse_ok(text);
    mcp_json *plain = mcp_json_get(doc, "plain");
    /* Unescaped keys are slices of the source; values are NUL-terminated copies. */
    assert_ptr_equal(mcp_json_key(plain).ptr, text + 2);
    assert_string_equal(mcp_json_str(plain, NULL), "abc");
    mcp_json *esc = mcp_json_get(doc, "esc\"aped");
    assert_non_null(esc);
    assert_string_equal(mcp_json_str(esc, NULL), "x\ty");
    assert_int_equal(mcp_json_key(esc).len, 8);
}

static void test_objects_and_arrays(void **state) {
    (void)state;
    mcp_json *doc = parse_ok(" {\"a\": [1, 2, {\"b\": null}], \"c\": {}, \"d\": [], \"a2\": \"x\", \"a\": true} ");
    assert_true(mcp_json_is_object(doc));
    assert_int_equal(mcp_json_len(doc), 5);
    /* Repeated key: the last wins. */
    assert_true(mcp_json_bool(mcp_json_get(doc, "a"), false));
    mcp_json *first = mcp_json_first(doc);
    assert_true(mcp_json_is_array(first));
    assert_int_equal(mcp_json_len(first), 3);
    assert_int_equal(mcp_json_int(mcp_json_at(first, 1), 0), 2);
    assert_null(mcp_json_at(first, 3));
    assert_true(mcp_json_is_null(mcp_json_get(mcp_json_at(first, 2), "b")));
    assert_non_null(mcp_json_get(mcp_json_at(first, 2), "b"));
    assert_null(mcp_json_get(mcp_json_at(first, 2), "zz"));
    assert_int_equal(mcp_json_len(mcp_json_get(doc, "c")), 0);
    assert_null(mcp_json_first(mcp_json_get(doc, "d")));
    assert_null(mcp_json_get(doc, "a3"));
    assert_non_null(mcp_json_get_n(doc, "a2xyz", 2));

    size_t k = 0;
    const char *keys[] = {"a", "c", "d", "a2", "a"};
    for (mcp_json *m = mcp_json_first(doc); m; m = mcp_json_next(m), k++)
        assert_true(mcp_str_eq_cstr(mcp_json_key(m), keys[k]));
    assert_int_equal(k, 5);
    /* Elements have no key; accessors on the wrong type answer "absent". */
    assert_null(mcp_json_key(mcp_json_at(first, 0)).ptr);
    assert_null(mcp_json_get(first, "a"));
    assert_null(mcp_json_at(doc, 0));

    mcp_str raw = mcp_json_raw(mcp_json_get(doc, "a2"));
    assert_int_equal(raw.len, 3);
    assert_memory_equal(raw.ptr, "\"x\"", 3);
    raw = mcp_json_raw(first);
    assert_int_equal(raw.len, strlen("[1, 2, {\"b\": null}]"));
    assert_memory_equal(raw.ptr, "[1, 2, {\"b\": null}]", raw.len);
    raw = mcp_json_raw(doc); /* surrounding whitespace excluded */
    assert_int_equal(raw.ptr[0], '{');
    assert_int_equal(raw.ptr[raw.len - 1], '}');
}

static void test_rejections_with_offsets(void **state) {
    (void)state;
    struct {
        const char *text;
        size_t offset;
        const char *message_part;
    } cases[] = {
        {"", 0, "end of input"},
        {"   ", 3, "end of input"},
        {"[1,]", 3, "unexpected character"},
        {"{\"a\":1,}", 7, "expected string key"},
        {"[1 2]", 3, "expected ','"},
        {"{\"a\" 1}", 5, "expected ':'"},
        {"01", 1, "after the JSON value"},
        {"-", 0, "invalid number"},
        {"1.", 0, "invalid number"},
        {"1e", 0, "invalid number"},
        {".5", 0, "unexpected character"},
        {"+1", 0, "unexpected character"},
        {"NaN", 0, "unexpected character"},
        {"Infinity", 0, "unexpected character"},
        {"tru", 0, "invalid literal"},
        {"nul", 0, "invalid literal"},
        {"[1] x", 4, "after the JSON value"},
        {"\"abc", 4, "unterminated"},
        {"\"a\tb\"", 2, "control character"},
        {"\"\\x\"", 1, "invalid escape"},
        {"\"\\u12G4\"", 1, "\\u escape"},
        {"\"\\ud800\"", 1, "unpaired high surrogate"},
        {"\"\\ud800\\u0041\"", 1, "unpaired high surrogate"},
        {"\"\\udc00\"", 1, "unpaired low surrogate"},
        {"\"\xc0\xaf\"", 1, "UTF-8"},         /* overlong '/' */
        {"\"\xed\xa0\x80\"", 1, "UTF-8"},     /* surrogate encoded in UTF-8 */
        {"\"\xf4\x90\x80\x80\"", 1, "UTF-8"}, /* above U+10FFFF */
        {"\"ab\xe2\x82\"", 3, "UTF-8"},       /* truncated sequence */
        {"\xef\xbb\xbf{}", 0, "unexpected character"}, /* BOM */
        {"{'a':1}", 1, "expected string key"},
        {"[1}", 2, "expected ','"},
        {"{\"a\":1]", 6, "expected ','"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_json_error err = parse_fail(cases[i].text, strlen(cases[i].text), NULL);
        if (err.offset != cases[i].offset || !strstr(err.message, cases[i].message_part))
            fail_msg("case %zu (%s): offset %zu message '%s'", i, cases[i].text, err.offset, err.message);
        assert_int_equal(err.code, MCP_EPARSE);
    }
    /* A NUL byte inside the given length is just an invalid character. */
    mcp_json_error err = parse_fail("[1,\0]", 5, NULL);
    assert_int_equal(err.offset, 3);
}

static void test_depth_and_size_limits(void **state) {
    (void)state;
    char deep[300];
    for (int i = 0; i < 150; i++) {
        deep[i] = '[';
        deep[299 - i] = ']';
    }
    mcp_json_error err = parse_fail(deep, 300, NULL); /* default limit 128 */
    assert_int_equal(err.code, MCP_ELIMIT);
    assert_int_equal(err.offset, 128);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, deep, 300, &(mcp_json_opts){.max_depth = 150}, &doc, NULL), 0);
    assert_int_equal(mcp_json_len(doc), 1);
    err = parse_fail(deep, 300, &(mcp_json_opts){.max_depth = 149});
    assert_int_equal(err.code, MCP_ELIMIT);
    assert_int_equal(err.offset, 149);
    err = parse_fail("{\"a\":[[1]]}", 11, &(mcp_json_opts){.max_depth = 2});
    assert_int_equal(err.offset, 6);

    /* Deep enough to need the stack to grow past its built-in frames. */
    size_t n = 5000;
    char *big = malloc(2 * n);
    memset(big, '[', n);
    memset(big + n, ']', n);
    assert_int_equal(mcp_json_parse(&arena, big, 2 * n, &(mcp_json_opts){.max_depth = 5000}, &doc, NULL), 0);
    assert_int_equal(mcp_json_validate(big, 2 * n, &(mcp_json_opts){.max_depth = 5000}, NULL), 0);
    assert_int_equal(mcp_json_validate(big, 2 * n, NULL, NULL), MCP_ELIMIT);
    free(big);

    err = parse_fail("[1,2,3]", 7, &(mcp_json_opts){.max_size = 6});
    assert_int_equal(err.code, MCP_ELIMIT);
    assert_int_equal(err.offset, 6);
    assert_int_equal(mcp_json_parse(&arena, "[1,2,3]", 7, &(mcp_json_opts){.max_size = 7}, &doc, NULL), 0);
}

static void test_lazy_raw_and_expand(void **state) {
    (void)state;
    const char *text = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                       "\"params\": {\"name\":\"greet\",\"arguments\":{\"who\":[1, \"x\\n\"]}} ,\"list\":[]}";
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), &(mcp_json_opts){.lazy_depth = 1}, &doc, NULL), 0);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "id"), 0), 7);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "method"), ""), "tools/call");
    mcp_json *params = mcp_json_get(doc, "params");
    assert_int_equal(mcp_json_type_of(params), MCP_JSON_RAW);
    assert_false(mcp_json_is_object(params));
    assert_null(mcp_json_get(params, "name")); /* RAW answers as absent */
    assert_int_equal(mcp_json_len(params), 0);
    mcp_str raw = mcp_json_raw(params);
    const char *want = "{\"name\":\"greet\",\"arguments\":{\"who\":[1, \"x\\n\"]}}";
    assert_int_equal(raw.len, strlen(want));
    assert_memory_equal(raw.ptr, want, raw.len);
    assert_int_equal(mcp_json_type_of(mcp_json_get(doc, "list")), MCP_JSON_RAW);

    assert_ptr_equal(mcp_json_expand(&arena, params), params);
    assert_true(mcp_json_is_object(params));
    assert_true(mcp_str_eq_cstr(mcp_json_key(params), "params"));
    assert_string_equal(mcp_json_str(mcp_json_get(params, "name"), ""), "greet");
    mcp_json *who = mcp_json_get(mcp_json_get(params, "arguments"), "who");
    assert_string_equal(mcp_json_str(mcp_json_at(who, 1), ""), "x\n");
    /* Siblings survive the expansion. */
    assert_true(mcp_str_eq_cstr(mcp_json_key(mcp_json_next(params)), "list"));
    assert_ptr_equal(mcp_json_expand(&arena, who), who); /* non-RAW unchanged */
    assert_null(mcp_json_expand(&arena, NULL));

    /* Deeper lazy levels and a RAW top level. */
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), &(mcp_json_opts){.lazy_depth = 2}, &doc, NULL), 0);
    params = mcp_json_get(doc, "params");
    assert_true(mcp_json_is_object(params));
    assert_int_equal(mcp_json_type_of(mcp_json_get(params, "arguments")), MCP_JSON_RAW);
    mcp_json *top = NULL;
    assert_int_equal(mcp_json_parse(&arena, " [1,[2]] ", 9, &(mcp_json_opts){.lazy_depth = 0}, &top, NULL), 0);
    assert_int_equal(mcp_json_len(top), 2);

    /* Lazy mode still validates everything it skips, with the same offsets. */
    const char *bad = "{\"params\":{\"a\":[1,2,]}}";
    mcp_json_error err = parse_fail(bad, strlen(bad), &(mcp_json_opts){.lazy_depth = 1});
    assert_int_equal(err.offset, 20);
    bad = "{\"params\":{\"a\":\"\xff\"}}";
    err = parse_fail(bad, strlen(bad), &(mcp_json_opts){.lazy_depth = 1});
    assert_int_equal(err.offset, 16);
    bad = "{\"p\":[[[[1]]]]}";
    err = parse_fail(bad, strlen(bad), &(mcp_json_opts){.lazy_depth = 1, .max_depth = 4});
    assert_int_equal(err.code, MCP_ELIMIT);
    assert_int_equal(err.offset, 8);
}

/* Long strings and many strings: the one-pass decoder grows its pool and
 * must give back exactly the bytes that were escaped. */
static void test_long_and_many_strings(void **state) {
    (void)state;
    size_t n = 100000;
    char *orig = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        unsigned r = (x >> 16) % 64;
        orig[i] = r == 0 ? '\n' : r == 1 ? '"' : r == 2 ? '\\' : r == 3 ? '\x01' : (char)('a' + r % 26);
    }
    memcpy(orig + 500, "\xf0\x9f\x98\x80\xc3\xa9", 6);
    mcp_buf text;
    mcp_buf_init(&text);
    mcp_buf_append_char(&text, '[');
    for (size_t len = 0; len < 3000; len += 7) { /* many strings of growing size */
        mcp_json_escape(&text, orig, len);
        mcp_buf_append_char(&text, ',');
    }
    mcp_json_escape(&text, orig, n);
    mcp_buf_append_char(&text, ']');
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text.data, text.len, NULL, &doc, NULL), 0);
    size_t len = 0;
    mcp_json *e = mcp_json_first(doc);
    for (; mcp_json_next(e); e = mcp_json_next(e), len += 7) {
        assert_int_equal(mcp_json_str_len(e), len);
        assert_memory_equal(mcp_json_str(e, NULL), orig, len);
    }
    assert_int_equal(mcp_json_str_len(e), n);
    assert_memory_equal(mcp_json_str(e, NULL), orig, n);
    assert_int_equal(mcp_json_str(e, NULL)[n], '\0');

    /* Written back, the document is byte for byte what was parsed. */
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, doc);
    assert_int_equal(out.len, text.len);
    assert_memory_equal(out.data, text.data, text.len);
    mcp_buf_free(&out);
    mcp_buf_free(&text);
    free(orig);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(NULL, "1", 1, NULL, &doc, NULL), MCP_EINVAL);
    assert_int_equal(mcp_json_parse(&arena, "1", 1, NULL, NULL, NULL), MCP_EINVAL);
    assert_int_equal(mcp_json_parse(&arena, NULL, 0, NULL, &doc, NULL), MCP_EPARSE);
    assert_int_equal(mcp_json_validate("[]", 2, NULL, NULL), 0);
}

static void test_numbers_ignore_locale(void **state) {
    (void)state;
    /* A host program may switch to a locale whose decimal point is ','. */
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (!loc) loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    assert_true(mcp_json_num(parse_ok("3.14159265358979323846"), 0) == 3.14159265358979323846);
    assert_true(mcp_json_num(parse_ok("1.5e300"), 0) == 1.5e300);
    setlocale(LC_NUMERIC, "C");
    if (!loc) printf("note: no comma-decimal locale installed; tested under C only\n");
}

/* Member lookup compares keys of up to 16 bytes as words: every key length
 * from 0 to 24 is found, and a key one byte off anywhere is not. */
/* mcp_json_str_view: a string without escapes is read in place (a slice of
 * the source text), one with escapes is decoded; anything else is empty. */
static void test_str_view(void **state) {
    (void)state;
    static const char text[] = "{\"plain\":\"abc\",\"escaped\":\"a\\nb\",\"n\":1}";
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, sizeof text - 1, NULL, &doc, NULL), 0);
    mcp_str plain = mcp_json_str_view(mcp_json_get(doc, "plain"));
    assert_int_equal(plain.len, 3);
    assert_ptr_equal(plain.ptr, strstr(text, "abc"));
    mcp_str escaped = mcp_json_str_view(mcp_json_get(doc, "escaped"));
    assert_int_equal(escaped.len, 3);
    assert_memory_equal(escaped.ptr, "a\nb", 3);
    assert_int_equal(mcp_json_str_view(mcp_json_get(doc, "n")).len, 0);
    assert_int_equal(mcp_json_str_view(NULL).len, 0);
}

static void test_get_every_key_length(void **state) {
    (void)state;
    char keys[25][25], text[2048];
    size_t len = 0;
    text[len++] = '{';
    for (int n = 0; n <= 24; n++) {
        for (int i = 0; i < n; i++) keys[n][i] = (char)('a' + (n + i) % 26);
        keys[n][n] = '\0';
        len += (size_t)snprintf(text + len, sizeof text - len, "%s\"%s\":%d", n ? "," : "", keys[n], n);
    }
    text[len++] = '}';
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, len, NULL, &doc, NULL), 0);
    for (int n = 0; n <= 24; n++) {
        assert_int_equal(mcp_json_int(mcp_json_get_n(doc, keys[n], (size_t)n), -1), n);
        char off[25];
        for (int i = 0; i < n; i++) {
            memcpy(off, keys[n], (size_t)n);
            off[i] ^= 1;
            assert_null(mcp_json_get_n(doc, off, (size_t)n));
        }
    }
}

/* Elements of an array have no key, also right after an object inside the
 * array closes (its last key must not leak onto the next element), and a
 * member after a closed container gets its own key and clean flag. */
static void test_element_keys_after_nested_containers(void **state) {
    (void)state;
    mcp_json *doc = parse_ok("{\"a\":[{\"k\":1},2,[3,{\"m\":[]}],\"s\"],\"b\":{\"c\":[]},\"d\\u0065\":4,\"e\":[[]]}");
    mcp_json *a = mcp_json_get(doc, "a");
    assert_int_equal(mcp_json_len(a), 4);
    for (mcp_json *e = mcp_json_first(a); e; e = mcp_json_next(e)) {
        assert_null(mcp_json_key(e).ptr);
        assert_int_equal(mcp_json_key(e).len, 0);
    }
    mcp_json *inner = mcp_json_at(a, 2);
    assert_null(mcp_json_key(mcp_json_at(inner, 0)).ptr);
    assert_null(mcp_json_key(mcp_json_at(inner, 1)).ptr);
    assert_int_equal(mcp_json_len(mcp_json_get(mcp_json_at(inner, 1), "m")), 0);
    assert_null(mcp_json_key(mcp_json_first(mcp_json_get(doc, "e"))).ptr);
    assert_int_equal(mcp_json_int(mcp_json_get(doc, "de"), 0), 4);
    mcp_json *m = mcp_json_first(doc);
    const char *keys[] = {"a", "b", "de", "e"};
    for (size_t i = 0; i < 4; i++, m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        assert_int_equal(k.len, strlen(keys[i]));
        assert_memory_equal(k.ptr, keys[i], k.len);
    }
    /* The writer copies clean keys from the source and escapes the decoded one. */
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, doc);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"a\":[{\"k\":1},2,[3,{\"m\":[]}],\"s\"],\"b\":{\"c\":[]},\"de\":4,\"e\":[[]]}");
    mcp_buf_free(&out);
}

/* A value followed by more text: parsing stops after it (and the
 * whitespace after it), and the value is the same as parsed alone. */
static void test_parse_prefix(void **state) {
    (void)state;
    static const struct {
        const char *text;
        size_t used;
        const char *canonical;
    } ok[] = {
        {"{}x", 2, "{}"},
        {"[1,{\"a\":\"b\"}] ,rest", 14, "[1,{\"a\":\"b\"}]"},
        {" {\"k\":true}  ", 13, "{\"k\":true}"},
        {"1 2", 2, "1"},
        {"\"s\"}", 3, "\"s\""},
        {"{\"a\":{}}}}", 8, "{\"a\":{}}"},
    };
    mcp_buf canon;
    mcp_buf_init(&canon);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mcp_json *v = NULL;
        size_t used = 99;
        mcp_json_error err;
        assert_int_equal(mcp_json_parse_prefix(&arena, ok[i].text, strlen(ok[i].text), NULL, &v, &used, &err), 0);
        assert_int_equal(used, ok[i].used);
        assert_int_equal(err.code, 0);
        mcp_buf_reset(&canon);
        assert_int_equal(mcp_json_canonical(v, &canon), 0);
        assert_string_equal(canon.data, ok[i].canonical);
    }
    mcp_buf_free(&canon);
    /* What is wrong inside the value is still an error, with its offset;
     * limits hold as for a whole text. */
    static const char *const bad[] = {"{x", "[1,]x", "", "  ", "{\"a\":1", "\"\\q\" x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcp_json *v = (mcp_json *)1;
        size_t used = 99;
        assert_int_equal(mcp_json_parse_prefix(&arena, bad[i], strlen(bad[i]), NULL, &v, &used, NULL), MCP_EPARSE);
        assert_null(v);
        assert_int_equal(used, 0);
    }
    mcp_json *v = NULL;
    size_t used = 0;
    mcp_json_error err;
    assert_int_equal(mcp_json_parse_prefix(&arena, "[[[1]]] x", 9, &(mcp_json_opts){.max_depth = 2}, &v, &used, &err),
                     MCP_ELIMIT);
    assert_int_equal(err.offset, 2);
    assert_int_equal(mcp_json_parse_prefix(&arena, "[[1]] x", 7, &(mcp_json_opts){.max_size = 6}, &v, &used, NULL),
                     MCP_ELIMIT);
    assert_int_equal(mcp_json_parse_prefix(&arena, "[[1]] x", 7, NULL, NULL, &used, NULL), MCP_EINVAL);
    assert_int_equal(mcp_json_parse_prefix(&arena, "[[1]] x", 7, NULL, &v, NULL, NULL), MCP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_point_at_source_or_arena, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects_and_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_element_keys_after_nested_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections_with_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_and_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_raw_and_expand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_and_many_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_ignore_locale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_every_key_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_str_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_prefix, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
