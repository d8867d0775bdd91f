/*
 * String values are validated at parse time and decoded on first read.
 * These tests hold the promises that come with that: reading decodes into
 * room the parser reserved (no allocation after the parse), every accessor
 * gives the decoded value whether it is the first to ask or not, the writer
 * forwards the source text, and several threads may read one DOM at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"

static void test_reading_allocates_nothing(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const char *text = "{\"a\":\"plain\",\"b\":\"tab\\there \\u00e9 \\ud83d\\ude00\",\"c\":[\"\\\"q\\\"\",\"\"]}";
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), NULL, &doc, NULL), 0);
    size_t after_parse = arena.allocated;

    mcp_json *b = mcp_json_get(doc, "b");
    /* Length first: it must decode by itself, not read a stale value. */
    assert_int_equal(mcp_json_str_len(b), strlen("tab\there \xc3\xa9 \xf0\x9f\x98\x80"));
    assert_string_equal(mcp_json_str(b, NULL), "tab\there \xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "a"), NULL), "plain");
    assert_int_equal(mcp_json_str_len(mcp_json_get(doc, "a")), 5);
    mcp_str q = mcp_json_str_slice(mcp_json_at(mcp_json_get(doc, "c"), 0));
    assert_int_equal(q.len, 3);
    assert_memory_equal(q.ptr, "\"q\"", 4); /* NUL-terminated too */
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(doc, "c"), 1), "x"), "");
    /* Second reads give the same pointer: decoded once. */
    assert_ptr_equal(mcp_json_str(b, NULL), mcp_json_str(b, NULL));
    assert_int_equal(arena.allocated, after_parse);
    mcp_arena_free(&arena);
}

static void test_writer_forwards_source_text(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf out;
    mcp_buf_init(&out);
    const char *text = "[\"\\u0041\\/b\",\"\\u00e9\",\"x\"]";
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), NULL, &doc, NULL), 0);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, doc);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, text);
    /* The canonical form still normalises. */
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_canonical(doc, &out), 0);
    assert_string_equal(out.data, "[\"A/b\",\"\xc3\xa9\",\"x\"]");
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
}

/* A lazy parse of a big message builds its envelope only; its memory must
 * not grow with the params it leaves unbuilt. */
static void test_lazy_parse_reserves_for_built_strings_only(void **state) {
    (void)state;
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(mcp_buf_append_cstr(&text, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"a\":\""), 0);
    while (text.len < (1u << 20)) assert_int_equal(mcp_buf_append_cstr(&text, "text \\n more text "), 0);
    assert_int_equal(mcp_buf_append_cstr(&text, "\"}}"), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text.data, text.len, &(mcp_json_opts){.lazy_depth = 1}, &doc, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "method"), NULL), "tools/call");
    assert_true(arena.allocated < 64 * 1024);
    /* Expanding params builds (and reserves for) its megabyte, as it must. */
    mcp_json *params = mcp_json_expand(&arena, mcp_json_get(doc, "params"));
    assert_non_null(params);
    assert_true(mcp_json_str_len(mcp_json_get(params, "a")) > 0);
    mcp_arena_free(&arena);
    mcp_buf_free(&text);
}

#define SHARED_STRINGS 4000
#define READERS 4

typedef struct shared_doc {
    const mcp_json *doc;
    int mismatches;
} shared_doc;

static void *read_all(void *p) {
    shared_doc *s = p;
    int bad = 0;
    size_t i = 0;
    for (const mcp_json *v = mcp_json_first(s->doc); v; v = mcp_json_next(v), i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "item\t%zu \"%zu\" \xc3\xa9", i, i);
        const char *got = mcp_json_str(v, NULL);
        if (!got || mcp_json_str_len(v) != (size_t)n || strcmp(got, want) != 0) bad++;
    }
    s->mismatches = bad;
    return NULL;
}

static void test_concurrent_first_reads(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(mcp_buf_append_char(&text, '['), 0);
    for (size_t i = 0; i < SHARED_STRINGS; i++)
        assert_int_equal(mcp_buf_appendf(&text, "%s\"item\\t%zu \\\"%zu\\\" \\u00e9\"", i ? "," : "", i, i), 0);
    assert_int_equal(mcp_buf_append_char(&text, ']'), 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text.data, text.len, NULL, &doc, NULL), 0);
    assert_int_equal(mcp_json_len(doc), SHARED_STRINGS);

    pthread_t threads[READERS];
    shared_doc shared[READERS];
    for (int t = 0; t < READERS; t++) {
        shared[t] = (shared_doc){doc, -1};
        assert_int_equal(pthread_create(&threads[t], NULL, read_all, &shared[t]), 0);
    }
    for (int t = 0; t < READERS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(shared[t].mismatches, 0);
    }
    mcp_buf_free(&text);
    mcp_arena_free(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reading_allocates_nothing),
        cmocka_unit_test(test_writer_forwards_source_text),
        cmocka_unit_test(test_lazy_parse_reserves_for_built_strings_only),
        cmocka_unit_test(test_concurrent_first_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
