/*
 * L1's entry allocator: objects do not overlap and keep their bytes, pages
 * emptied by one size class serve another (so memory follows the
 * workload), large sizes go to malloc, tables get runs of pages, and through the public API the
 * mapped memory stays proportional to the live entries while their sizes
 * change, and goes back to the system when they are gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cache/l1_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBJECTS 20000

static size_t mapped(l1_slab *s) {
    return atomic_load(&s->mapped);
}

static void test_objects_keep_their_bytes(void **state) {
    (void)state;
    l1_slab s;
    l1_slab_init(&s);
    l1_slab_classes c;
    l1_slab_classes_init(&c, &s);
    char **objs = calloc(OBJECTS, sizeof *objs);
    size_t *sizes = calloc(OBJECTS, sizeof *sizes);
    assert_non_null(objs);
    assert_non_null(sizes);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < OBJECTS; i++) {
            if (objs[i] && (i + (size_t)round) % 3 != 0) continue;
            if (objs[i]) l1_slab_free(objs[i], sizes[i]);
            sizes[i] = 1 + (i * 7919 + (size_t)round * 104729) % 3000; /* both sides of L1_SLAB_MAX */
            objs[i] = l1_slab_alloc(&c, sizes[i]);
            assert_non_null(objs[i]);
            assert_int_equal((uintptr_t)objs[i] % 16, 0);
            memset(objs[i], (int)(i % 251), sizes[i]);
        }
        /* Every object still holds its own pattern: nothing overlapped. */
        for (size_t i = 0; i < OBJECTS; i++)
            for (size_t b = 0; b < sizes[i]; b++) assert_int_equal((unsigned char)objs[i][b], i % 251);
    }
    for (size_t i = 0; i < OBJECTS; i++) l1_slab_free(objs[i], sizes[i]);
    free(objs);
    free(sizes);
    l1_slab_destroy(&s);
}

static void test_pages_move_between_classes(void **state) {
    (void)state;
    l1_slab s;
    l1_slab_init(&s);
    l1_slab_classes c;
    l1_slab_classes_init(&c, &s);
    enum { N = 30000 };
    void **objs = calloc(N, sizeof *objs);
    assert_non_null(objs);
    for (size_t i = 0; i < N; i++) assert_non_null(objs[i] = l1_slab_alloc(&c, 96));
    size_t after_small = mapped(&s);
    assert_true(after_small >= (size_t)N * 96);
    for (size_t i = 0; i < N; i++) l1_slab_free(objs[i], 96);
    /* The same bytes in a size class never used before fit in the freed pages. */
    for (size_t i = 0; i < N / 4; i++) assert_non_null(objs[i] = l1_slab_alloc(&c, 380));
    assert_int_equal(mapped(&s), after_small);
    for (size_t i = 0; i < N / 4; i++) l1_slab_free(objs[i], 380);
    free(objs);
    l1_slab_destroy(&s);
}

static void test_large_sizes_use_malloc(void **state) {
    (void)state;
    l1_slab s;
    l1_slab_init(&s);
    l1_slab_classes c;
    l1_slab_classes_init(&c, &s);
    void *big = l1_slab_alloc(&c, L1_SLAB_MAX + 1);
    assert_non_null(big);
    memset(big, 1, L1_SLAB_MAX + 1);
    assert_int_equal(mapped(&s), 0);
    l1_slab_free(big, L1_SLAB_MAX + 1);
    l1_slab_destroy(&s);
}

/* Runs of whole pages for tables: they do not overlap each other or the
 * objects, their pages serve objects once freed, and a run larger than a
 * region is a mapping of its own that goes away when freed. */
static void test_page_runs(void **state) {
    (void)state;
    l1_slab s;
    l1_slab_init(&s);
    l1_slab_classes c;
    l1_slab_classes_init(&c, &s);
    static const size_t sizes[] = {L1_SLAB_PAGE_BYTES, 5 * L1_SLAB_PAGE_BYTES - 100, 31 * L1_SLAB_PAGE_BYTES,
                                   3 * L1_SLAB_PAGE_BYTES};
    enum { RUNS = sizeof sizes / sizeof sizes[0] };
    char *runs[RUNS];
    char *obj = l1_slab_alloc(&c, 200);
    memset(obj, 0x5a, 200);
    for (size_t i = 0; i < RUNS; i++) {
        runs[i] = l1_slab_alloc_run(&s, sizes[i]);
        assert_non_null(runs[i]);
        assert_int_equal((uintptr_t)runs[i] % L1_SLAB_PAGE_BYTES, 0);
        memset(runs[i], (int)i + 1, sizes[i]);
    }
    for (size_t i = 0; i < RUNS; i++)
        for (size_t b = 0; b < sizes[i]; b += 4093) assert_int_equal(runs[i][b], (char)(i + 1));
    for (size_t b = 0; b < 200; b++) assert_int_equal(obj[b], 0x5a);
    size_t before = mapped(&s);
    for (size_t i = 0; i < RUNS; i++) l1_slab_free_run(&s, runs[i], sizes[i]);
    /* Freed run pages take objects without mapping more. */
    void *objs[300];
    for (size_t i = 0; i < 300; i++) assert_non_null(objs[i] = l1_slab_alloc(&c, 1000));
    assert_int_equal(mapped(&s), before);
    for (size_t i = 0; i < 300; i++) l1_slab_free(objs[i], 1000);
    l1_slab_free(obj, 200);
    /* Nothing in use: one spare region stays mapped. */
    size_t settled = mapped(&s);
    assert_int_equal(settled, (size_t)2 << 20);

    size_t huge = 40 * L1_SLAB_PAGE_BYTES + 1;
    char *own = l1_slab_alloc_run(&s, huge);
    assert_non_null(own);
    memset(own, 7, huge);
    assert_true(mapped(&s) >= settled + huge);
    l1_slab_free_run(&s, own, huge);
    assert_int_equal(mapped(&s), settled);
    l1_slab_destroy(&s);
}

/* Threads allocating from two shards' class lists of one slab and freeing
 * at once: each object keeps its owner's pattern until that owner frees it. */
typedef struct churn {
    l1_slab_classes *shards; /* two, as two L1 shards */
    unsigned seed;
} churn;

static void *churn_main(void *p) {
    churn *c = p;
    enum { LIVE = 500 };
    unsigned char *objs[LIVE] = {0};
    size_t sizes[LIVE] = {0};
    unsigned x = c->seed;
    for (int i = 0; i < 40000; i++) {
        x = x * 1103515245u + 12345u;
        size_t k = (x >> 8) % LIVE;
        if (objs[k]) {
            for (size_t b = 0; b < sizes[k]; b++)
                if (objs[k][b] != (unsigned char)c->seed) return (void *)1;
            l1_slab_free(objs[k], sizes[k]);
            objs[k] = NULL;
        } else {
            sizes[k] = 40 + (x >> 16) % 1200;
            objs[k] = l1_slab_alloc(&c->shards[(x >> 4) & 1], sizes[k]);
            if (!objs[k]) return (void *)1;
            memset(objs[k], (unsigned char)c->seed, sizes[k]);
        }
    }
    for (size_t k = 0; k < LIVE; k++)
        if (objs[k]) l1_slab_free(objs[k], sizes[k]);
    return NULL;
}

static void test_threads_share_a_slab(void **state) {
    (void)state;
    l1_slab s;
    l1_slab_init(&s);
    l1_slab_classes shards[2];
    l1_slab_classes_init(&shards[0], &s);
    l1_slab_classes_init(&shards[1], &s);
    pthread_t th[4];
    churn args[4];
    for (unsigned i = 0; i < 4; i++) {
        args[i] = (churn){shards, 0x31 + i};
        assert_int_equal(pthread_create(&th[i], NULL, churn_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        assert_null(bad);
    }
    /* All freed: at most the one spare region is left. */
    assert_true(mapped(&s) <= (size_t)2 << 20);
    l1_slab_destroy(&s);
}

/* Values whose size changes from round to round: the mapped memory
 * follows what is stored instead of adding up every size ever seen. */
static void test_mapped_follows_live_entries(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = NULL;
    assert_int_equal(mcp_cache_l1_new(&(mcp_cache_l1_opts){.max_entries = 100000}, &l1), 0);
    static char value[1500];
    memset(value, 'v', sizeof value);
    char key[32];
    size_t peak = 0;
    for (int round = 0; round < 8; round++) {
        size_t len = 100 + (size_t)round * 180;
        for (int k = 0; k < 5000; k++) {
            int n = snprintf(key, sizeof key, "key:%d", k);
            assert_int_equal(mcp_cache_l1_put(l1, (mcp_str){key, (size_t)n}, (mcp_str){value, len}, NULL), 0);
        }
        mcp_cache_stats st;
        mcp_cache_l1_stats(l1, &st);
        assert_int_equal(st.entries, 5000);
        if (st.mapped_bytes > peak) peak = st.mapped_bytes;
    }
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    /* The last round's entries (about 1.4 KiB each, 7 MiB in all) with
     * room for the pages a changing size leaves partly used; adding up
     * all eight rounds would take more than 30 MiB. */
    assert_true(st.mapped_bytes > 5000u * 1300);
    assert_true(peak < (size_t)16 << 20);
    /* Emptied, the cache gives its regions back but one spare. */
    for (int k = 0; k < 5000; k++) {
        int n = snprintf(key, sizeof key, "key:%d", k);
        assert_int_equal(mcp_cache_l1_remove(l1, (mcp_str){key, (size_t)n}), 0);
    }
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 0);
    assert_true(st.mapped_bytes <= (size_t)2 << 20);
    mcp_cache_l1_free(l1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_keep_their_bytes),
        cmocka_unit_test(test_pages_move_between_classes),
        cmocka_unit_test(test_large_sizes_use_malloc),
        cmocka_unit_test(test_page_runs),
        cmocka_unit_test(test_threads_share_a_slab),
        cmocka_unit_test(test_mapped_follows_live_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
