/*
 * L1's table and LRU against a model: long random traces of get, put and
 * remove, each outcome compared with what a plain exact LRU (one shard) or
 * a plain set (many shards, no eviction) says. Open addressing moves
 * entries when one is deleted and LRU nodes are reused, so a table bug
 * shows up here as a key found or lost against the model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS 3000
#define OPS 60000

/* The model: key ids with a recency stamp; 0 means absent. */
typedef struct model {
    uint64_t stamp[KEYS];
    uint64_t clock;
    size_t count, capacity;
} model;

static void model_touch(model *m, int k) {
    m->stamp[k] = ++m->clock;
}

static void model_put(model *m, int k) {
    if (!m->stamp[k]) {
        if (m->count == m->capacity) {
            int oldest = -1;
            for (int i = 0; i < KEYS; i++)
                if (m->stamp[i] && (oldest < 0 || m->stamp[i] < m->stamp[oldest])) oldest = i;
            m->stamp[oldest] = 0;
            m->count--;
        }
        m->count++;
    }
    model_touch(m, k);
}

static uint64_t next_random(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static mcp_str key_of(char *buf, int k) {
    /* Keys of different lengths, sharing prefixes, so comparisons matter. */
    int n = snprintf(buf, 32, "key:%d%s", k, k % 3 ? "" : ":long-tail");
    return (mcp_str){buf, (size_t)n};
}

/* Runs the trace; capacity 0 means the cache never evicts. */
static void run_trace(unsigned shards, size_t capacity) {
    mcp_cache_l1 *l1 = NULL;
    assert_int_equal(mcp_cache_l1_new(&(mcp_cache_l1_opts){.shards = shards,
                                                           .max_entries = capacity ? capacity : KEYS * 2},
                                      &l1),
                     0);
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->capacity = capacity ? capacity : KEYS * 2;
    mcp_buf out;
    mcp_buf_init(&out);
    char kb[32], vb[48];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t hits = 0;
    for (int i = 0; i < OPS; i++) {
        uint64_t r = next_random(&x);
        /* A hot third of the keys gets most operations, so entries both stay and go. */
        int k = (int)(r % 4 ? (r >> 8) % (KEYS / 3) : (r >> 8) % KEYS);
        mcp_str key = key_of(kb, k);
        int vn = snprintf(vb, sizeof vb, "value of %d", k);
        switch ((r >> 40) % 8) {
        case 0:
        case 1:
        case 2: {
            assert_int_equal(mcp_cache_l1_put(l1, key, (mcp_str){vb, (size_t)vn}, NULL), 0);
            model_put(m, k);
            break;
        }
        case 3: {
            int rc = mcp_cache_l1_remove(l1, key);
            assert_int_equal(rc, m->stamp[k] ? 0 : MCP_ENOTFOUND);
            if (m->stamp[k]) {
                m->stamp[k] = 0;
                m->count--;
            }
            break;
        }
        default: {
            mcp_buf_reset(&out);
            int rc = mcp_cache_l1_get(l1, key, &out);
            if (m->stamp[k]) {
                assert_int_equal(rc, 0);
                assert_int_equal(out.len, (size_t)vn);
                assert_memory_equal(out.data, vb, (size_t)vn);
                model_touch(m, k);
                hits++;
            } else {
                assert_int_equal(rc, MCP_ENOTFOUND);
            }
        }
        }
    }
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, m->count);
    /* Both outcomes occurred, so the trace tested something. */
    assert_true(hits > OPS / 10);
    assert_true(hits < OPS / 2);
    /* Every key the model holds is there, with its value. */
    for (int k = 0; k < KEYS; k++) {
        mcp_buf_reset(&out);
        int rc = mcp_cache_l1_get(l1, key_of(kb, k), &out);
        assert_int_equal(rc, m->stamp[k] ? 0 : MCP_ENOTFOUND);
    }
    mcp_buf_free(&out);
    free(m);
    mcp_cache_l1_free(l1);
}

static void test_one_shard_is_exact_lru(void **state) {
    (void)state;
    run_trace(1, 500);
}

static void test_many_shards_no_eviction(void **state) {
    (void)state;
    run_trace(16, 0);
}

/* Growth from the smallest table to thousands of entries and back to
 * empty by removal, then reuse: every key stays findable throughout. */
static void test_grow_and_drain(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = NULL;
    assert_int_equal(mcp_cache_l1_new(&(mcp_cache_l1_opts){.shards = 2, .max_entries = 100000}, &l1), 0);
    char kb[32];
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 20000; k++) assert_int_equal(mcp_cache_l1_put(l1, key_of(kb, k), key_of(kb, k), NULL), 0);
        mcp_buf out;
        mcp_buf_init(&out);
        for (int k = 0; k < 20000; k++) {
            mcp_buf_reset(&out);
            assert_int_equal(mcp_cache_l1_get(l1, key_of(kb, k), &out), 0);
            assert_memory_equal(out.data, kb, out.len);
        }
        mcp_buf_free(&out);
        /* Remove in an order unrelated to insertion. */
        for (int i = 0; i < 20000; i++) assert_int_equal(mcp_cache_l1_remove(l1, key_of(kb, (i * 7919) % 20000)), 0);
        mcp_cache_stats st;
        mcp_cache_l1_stats(l1, &st);
        assert_int_equal(st.entries, 0);
        assert_int_equal(st.bytes, 0);
    }
    mcp_cache_l1_free(l1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shard_is_exact_lru),
        cmocka_unit_test(test_many_shards_no_eviction),
        cmocka_unit_test(test_grow_and_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
