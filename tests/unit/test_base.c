/* Unit tests for the base layer: arena, buffer, slices, hash, log levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/base.h"
#ifdef MCP_BUF_FENCED
#include <sanitizer/asan_interface.h>
#endif

static void arena_allocations_are_aligned_and_distinct(void **state) {
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 64);
    char *prev = NULL;
    for (int i = 1; i < 200; i++) {
        char *p = mcp_arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xAB, (size_t)i); /* ASan catches overlap or overflow */
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    mcp_arena_free(&a);
}

/* Under AddressSanitizer a buffer's spare bytes are poisoned and each
 * reservation opens what it asked for (mcp_buf_fence): an overrun of a
 * reservation is caught even inside the capacity. */
static void buf_spare_bytes_are_fenced(void **state) {
    (void)state;
#ifdef MCP_BUF_FENCED
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_buf_reserve(&b, 10), 0);
    assert_true(b.cap > 64);
    assert_false(__asan_address_is_poisoned(b.data + 10)); /* the terminator's byte */
    assert_true(__asan_address_is_poisoned(b.data + 11));
    assert_true(__asan_address_is_poisoned(b.data + b.cap - 1));
    assert_int_equal(mcp_buf_append(&b, "0123456789abcdef", 16), 0);
    assert_false(__asan_address_is_poisoned(b.data + 16));
    assert_true(__asan_address_is_poisoned(b.data + 17));
    /* An inner reservation does not close what an outer one opened. */
    assert_int_equal(mcp_buf_room(&b, 40), 0);
    assert_int_equal(mcp_buf_room(&b, 2), 0);
    assert_false(__asan_address_is_poisoned(b.data + 16 + 40));
    assert_true(__asan_address_is_poisoned(b.data + 16 + 41));
    /* A reset closes everything but the terminator. */
    mcp_buf_reset(&b);
    assert_false(__asan_address_is_poisoned(b.data));
    assert_true(__asan_address_is_poisoned(b.data + 1));
    mcp_buf_free(&b);
#else
    skip();
#endif
}

static void arena_reset_keeps_one_block_and_reuses_it(void **state) {
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 1024);
    void *first = mcp_arena_alloc(&a, 100);
    mcp_arena_alloc(&a, 5000); /* forces a bigger block */
    mcp_arena_reset(&a);
    assert_int_equal(a.allocated, 0);
    assert_non_null(a.head);
    void *again = mcp_arena_alloc(&a, 100);
    assert_non_null(again);
    (void)first;
    mcp_arena_free(&a);
    assert_null(a.head);
}

static void arena_strings(void **state) {
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 0);
    char *s = mcp_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    char *f = mcp_arena_sprintf(&a, "%s-%d", "id", 42);
    assert_string_equal(f, "id-42");
    char *big = mcp_arena_calloc(&a, 100000);
    for (int i = 0; i < 100000; i++) assert_int_equal(big[i], 0);
    mcp_arena_free(&a);
}

static void arena_rejects_overflowing_sizes(void **state) {
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 0);
    assert_null(mcp_arena_alloc(&a, SIZE_MAX - 3));
    mcp_arena_free(&a);
}

static void buf_appends_and_stays_terminated(void **state) {
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_buf_append_cstr(&b, "abc"), 0);
    assert_int_equal(mcp_buf_append_char(&b, 'd'), 0);
    assert_int_equal(mcp_buf_appendf(&b, "-%05d", 7), 0);
    assert_string_equal(b.data, "abcd-00007");
    assert_int_equal(b.len, 10);
    /* A formatted string larger than the small stack buffer. */
    char long_text[1000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(mcp_buf_appendf(&b, "%s", long_text), 0);
    assert_int_equal(b.len, 10 + 999);
    assert_int_equal(b.data[b.len], '\0');
    mcp_buf_consume(&b, 4);
    assert_memory_equal(b.data, "-00007x", 7);
    mcp_buf_consume(&b, 100000);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    mcp_buf_free(&b);
}

static void buf_detach_transfers_ownership(void **state) {
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    char *empty = mcp_buf_detach(&b);
    assert_string_equal(empty, "");
    free(empty);
    mcp_buf_append_cstr(&b, "kept");
    char *s = mcp_buf_detach(&b);
    assert_string_equal(s, "kept");
    assert_null(b.data);
    free(s);
}

/* The HTTP token rule header names follow (RFC 9110 tchar). */
static void str_http_tokens(void **state) {
    (void)state;
    static const char *const good[] = {"x-api-key", "Authorization", "a", "!#$%&'*+-.^_`|~09AZaz"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(mcp_str_is_http_token(mcp_str_from(good[i])));
    static const char *const bad[] = {"", "bad name", "a:b", "a\"b", "x(y)", "k=v", "t\tab", "del\x7f", "hi\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(mcp_str_is_http_token(mcp_str_from(bad[i])));
    assert_false(mcp_str_is_http_token((mcp_str){"a\0b", 3}));
    assert_false(mcp_str_is_http_token((mcp_str){NULL, 0}));
}

static void str_comparisons(void **state) {
    (void)state;
    mcp_str s = mcp_str_from("Content-Type");
    assert_true(mcp_str_eq_cstr(s, "Content-Type"));
    assert_false(mcp_str_eq_cstr(s, "content-type"));
    assert_true(mcp_str_case_eq_cstr(s, "content-type"));
    assert_false(mcp_str_case_eq_cstr(s, "content-typ"));
    assert_true(mcp_str_eq(MCP_STR_LIT("ab"), (mcp_str){"abc", 2}));
    assert_true(mcp_str_eq(MCP_STR_LIT(""), (mcp_str){NULL, 0}));
}

static void hash_depends_on_every_byte_and_seed(void **state) {
    (void)state;
    char key[64];
    for (size_t len = 0; len < sizeof key; len++) {
        memset(key, 'k', sizeof key);
        uint64_t h = mcp_hash64(key, len, 1);
        assert_int_equal(h, mcp_hash64(key, len, 1)); /* deterministic */
        assert_int_not_equal(h, mcp_hash64(key, len, 2));
        for (size_t i = 0; i < len; i++) {
            key[i] ^= 1;
            assert_int_not_equal(h, mcp_hash64(key, len, 1));
            key[i] ^= 1;
        }
        if (len) assert_int_not_equal(h, mcp_hash64(key, len - 1, 1));
    }
}

static void hash_spreads_sequential_keys(void **state) {
    (void)state;
    /* 64k sequential keys into 256 buckets: every bucket should be near 256. */
    unsigned counts[256] = {0};
    char key[32];
    for (int i = 0; i < 65536; i++) {
        int n = snprintf(key, sizeof key, "tool_%d", i);
        counts[mcp_hash64(key, (size_t)n, 0) & 255]++;
    }
    for (int b = 0; b < 256; b++) {
        assert_in_range(counts[b], 180, 340);
    }
}

static void time_is_monotonic(void **state) {
    (void)state;
    uint64_t a = mcp_now_ns();
    uint64_t b = mcp_now_ns();
    assert_true(b >= a);
    assert_true(mcp_wall_ms() > 1700000000000ull);
    char iso[32];
    mcp_time_iso8601(iso);
    assert_int_equal(strlen(iso), 20);
    assert_int_equal(iso[10], 'T');
}

static void log_levels_parse_and_name(void **state) {
    (void)state;
    mcp_log_level l;
    assert_int_equal(mcp_log_level_parse("warning", &l), 0);
    assert_int_equal(l, MCP_LOG_WARNING);
    assert_int_equal(mcp_log_level_parse("loud", &l), MCP_EINVAL);
    assert_string_equal(mcp_log_level_name(MCP_LOG_EMERGENCY), "emergency");
    assert_string_equal(mcp_strerror(MCP_ETIMEDOUT), "timed out");
    mcp_log_set_level(MCP_LOG_ERROR);
    assert_int_equal(mcp_log_get_level(), MCP_LOG_ERROR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_allocations_are_aligned_and_distinct),
        cmocka_unit_test(buf_spare_bytes_are_fenced),
        cmocka_unit_test(arena_reset_keeps_one_block_and_reuses_it),
        cmocka_unit_test(arena_strings),
        cmocka_unit_test(arena_rejects_overflowing_sizes),
        cmocka_unit_test(str_http_tokens),
        cmocka_unit_test(buf_appends_and_stays_terminated),
        cmocka_unit_test(buf_detach_transfers_ownership),
        cmocka_unit_test(str_comparisons),
        cmocka_unit_test(hash_depends_on_every_byte_and_seed),
        cmocka_unit_test(hash_spreads_sequential_keys),
        cmocka_unit_test(time_is_monotonic),
        cmocka_unit_test(log_levels_parse_and_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
