/* Session table: id format, create/lookup/remove, malformed ids, growth and
 * deletion across many sessions, and concurrent use from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/session_table.h"

static void test_create_lookup_remove(void **state) {
    (void)state;
    mcp_session_table *t;
    assert_int_equal(mcp_session_table_new(NULL, &t), 0);
    char id[MCP_SESSION_ID_LEN + 1];
    int payload = 42;
    assert_int_equal(mcp_session_table_create(t, &payload, id), 0);
    assert_int_equal(strlen(id), MCP_SESSION_ID_LEN);
    for (size_t i = 0; i < MCP_SESSION_ID_LEN; i++) assert_non_null(strchr("0123456789abcdef", id[i]));
    void *got = NULL;
    assert_int_equal(mcp_session_table_lookup(t, id, MCP_SESSION_ID_LEN, &got), 0);
    assert_ptr_equal(got, &payload);
    assert_int_equal(mcp_session_table_count(t), 1);
    got = NULL;
    assert_int_equal(mcp_session_table_remove(t, id, MCP_SESSION_ID_LEN, &got), 0);
    assert_ptr_equal(got, &payload);
    assert_int_equal(mcp_session_table_lookup(t, id, MCP_SESSION_ID_LEN, &got), MCP_ENOTFOUND);
    assert_int_equal(mcp_session_table_remove(t, id, MCP_SESSION_ID_LEN, NULL), MCP_ENOTFOUND);
    assert_int_equal(mcp_session_table_count(t), 0);
    mcp_session_table_free(t);
}

static void test_malformed_ids(void **state) {
    (void)state;
    mcp_session_table *t;
    assert_int_equal(mcp_session_table_new(NULL, &t), 0);
    char id[MCP_SESSION_ID_LEN + 1];
    assert_int_equal(mcp_session_table_create(t, NULL, id), 0);
    assert_int_equal(mcp_session_table_lookup(t, id, MCP_SESSION_ID_LEN - 1, NULL), MCP_EINVAL);
    assert_int_equal(mcp_session_table_lookup(t, "", 0, NULL), MCP_EINVAL);
    assert_int_equal(mcp_session_table_lookup(t, NULL, 32, NULL), MCP_EINVAL);
    char bad[MCP_SESSION_ID_LEN + 1];
    memcpy(bad, id, sizeof bad);
    bad[5] = 'g';
    assert_int_equal(mcp_session_table_lookup(t, bad, MCP_SESSION_ID_LEN, NULL), MCP_EINVAL);
    bad[5] = '\0';
    assert_int_equal(mcp_session_table_lookup(t, bad, MCP_SESSION_ID_LEN, NULL), MCP_EINVAL);
    /* Upper case is not the form we hand out. */
    memcpy(bad, "ABCDEF0123456789ABCDEF0123456789", sizeof bad);
    assert_int_equal(mcp_session_table_lookup(t, bad, MCP_SESSION_ID_LEN, NULL), MCP_EINVAL);
    /* Well formed but unknown. */
    memcpy(bad, "00000000000000000000000000000001", sizeof bad);
    assert_int_equal(mcp_session_table_lookup(t, bad, MCP_SESSION_ID_LEN, NULL), MCP_ENOTFOUND);
    assert_int_equal(mcp_session_table_count(t), 1);
    mcp_session_table_free(t);
}

static void test_bad_options(void **state) {
    (void)state;
    mcp_session_table *t = (mcp_session_table *)1;
    assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.shards = 3}, &t), MCP_EINVAL);
    assert_null(t);
    assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.shards = 8192}, &t), MCP_EINVAL);
}

/* Many sessions in few shards: forces growth and long probe runs, then
 * removes every other one (backward-shift deletion) and checks the rest. */
static void test_many_sessions_with_removal(void **state) {
    (void)state;
    enum { N = 20000 };
    for (int predictable = 0; predictable < 2; predictable++) {
        mcp_session_table *t;
        assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.shards = 2,
                             .predictable_ids_seed = predictable ? 7 : 0}, &t), 0);
        char(*ids)[MCP_SESSION_ID_LEN + 1] = malloc(sizeof *ids * N);
        assert_non_null(ids);
        for (uintptr_t i = 0; i < N; i++) assert_int_equal(mcp_session_table_create(t, (void *)(i + 1), ids[i]), 0);
        assert_int_equal(mcp_session_table_count(t), N);
        for (uintptr_t i = 0; i < N; i += 2) {
            void *got;
            assert_int_equal(mcp_session_table_remove(t, ids[i], MCP_SESSION_ID_LEN, &got), 0);
            assert_int_equal((uintptr_t)got, i + 1);
        }
        for (uintptr_t i = 0; i < N; i++) {
            void *got = NULL;
            int rc = mcp_session_table_lookup(t, ids[i], MCP_SESSION_ID_LEN, &got);
            if (i % 2 == 0) {
                assert_int_equal(rc, MCP_ENOTFOUND);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal((uintptr_t)got, i + 1);
            }
        }
        assert_int_equal(mcp_session_table_count(t), N / 2);
        free(ids);
        mcp_session_table_free(t);
    }
}

static void test_predictable_ids_repeat(void **state) {
    (void)state;
    char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], c[MCP_SESSION_ID_LEN + 1];
    mcp_session_table *t1, *t2, *t3;
    assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.predictable_ids_seed = 99}, &t1), 0);
    assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.predictable_ids_seed = 99}, &t2), 0);
    assert_int_equal(mcp_session_table_new(NULL, &t3), 0);
    assert_int_equal(mcp_session_table_create(t1, NULL, a), 0);
    assert_int_equal(mcp_session_table_create(t2, NULL, b), 0);
    assert_int_equal(mcp_session_table_create(t3, NULL, c), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    mcp_session_table_free(t1);
    mcp_session_table_free(t2);
    mcp_session_table_free(t3);
}

typedef struct worker_arg {
    mcp_session_table *t;
    int failures;
} worker_arg;

static void *worker(void *arg) {
    worker_arg *w = arg;
    enum { ROUNDS = 5000 };
    char id[MCP_SESSION_ID_LEN + 1];
    for (uintptr_t i = 0; i < ROUNDS; i++) {
        void *mine = (void *)(uintptr_t)(i * 4 + 1);
        void *got = NULL;
        if (mcp_session_table_create(w->t, mine, id) != 0) w->failures++;
        if (mcp_session_table_lookup(w->t, id, MCP_SESSION_ID_LEN, &got) != 0 || got != mine) w->failures++;
        if (i % 2 && mcp_session_table_remove(w->t, id, MCP_SESSION_ID_LEN, NULL) != 0) w->failures++;
    }
    return NULL;
}

static void test_concurrent_threads(void **state) {
    (void)state;
    mcp_session_table *t;
    assert_int_equal(mcp_session_table_new(&(mcp_session_table_opts){.shards = 4}, &t), 0);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(mcp_session_table_count(t), THREADS * 2500);
    mcp_session_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_lookup_remove),
        cmocka_unit_test(test_malformed_ids),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_many_sessions_with_removal),
        cmocka_unit_test(test_predictable_ids_repeat),
        cmocka_unit_test(test_concurrent_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
