/*
 * mcp_arena_reset: after a round that needed several blocks, the arena
 * keeps one block big enough for such a round, so the same round again
 * allocates no block (the head block stays the same throughout); a round
 * of more than a megabyte gives its memory back; data stays 16-byte
 * aligned and usable across resets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/base.h"

#include <stdio.h>
#include <string.h>

/* One "request": n allocations of size bytes, each written in full. */
static void round_of(mcp_arena *a, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = mcp_arena_alloc(a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, (int)i, size);
    }
}

static void steady_state_allocates_no_block(void **state)
{
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 1024);
    round_of(&a, 10, 300); /* ~3 KiB: several 1 KiB blocks */
    mcp_arena_reset(&a);
    const void *kept = a.head;
    assert_non_null(kept);
    for (int r = 0; r < 5; r++) {
        round_of(&a, 10, 300);
        /* A new block would have become the head. */
        assert_ptr_equal(a.head, kept);
        assert_int_equal(a.allocated, 10 * 304);
        mcp_arena_reset(&a);
        assert_ptr_equal(a.head, kept);
        assert_int_equal(a.allocated, 0);
    }
    mcp_arena_free(&a);
    assert_null(a.head);
}

static void a_round_that_fits_keeps_its_block(void **state)
{
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 4096);
    round_of(&a, 4, 100);
    const void *first = a.head;
    mcp_arena_reset(&a);
    assert_ptr_equal(a.head, first);
    round_of(&a, 4, 100);
    assert_ptr_equal(a.head, first);
    mcp_arena_free(&a);
}

static void a_huge_round_gives_memory_back(void **state)
{
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 4096);
    round_of(&a, 3, 1 << 20); /* 3 MiB */
    mcp_arena_reset(&a);
    assert_null(a.head);
    assert_int_equal(a.allocated, 0);
    /* And the arena works as new. */
    round_of(&a, 4, 100);
    assert_non_null(a.head);
    mcp_arena_reset(&a);
    mcp_arena_free(&a);
}

static void strings_survive_until_reset(void **state)
{
    (void)state;
    mcp_arena a;
    mcp_arena_init(&a, 64);
    char *s[40];
    for (int i = 0; i < 40; i++) {
        s[i] = mcp_arena_sprintf(&a, "string number %d", i);
        assert_non_null(s[i]);
    }
    for (int i = 0; i < 40; i++) {
        char want[32];
        snprintf(want, sizeof want, "string number %d", i);
        assert_string_equal(s[i], want);
    }
    mcp_arena_reset(&a);
    char *again = mcp_arena_strdup(&a, "after reset");
    assert_string_equal(again, "after reset");
    mcp_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_state_allocates_no_block),
        cmocka_unit_test(a_round_that_fits_keeps_its_block),
        cmocka_unit_test(a_huge_round_gives_memory_back),
        cmocka_unit_test(strings_survive_until_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
