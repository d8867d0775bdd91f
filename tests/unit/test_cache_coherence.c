/*
 * Two cache nodes in one process, each with its own L1, L2 (LMDB), Redis
 * connections and coherence subscriber, against a real redis-server
 * started here: an invalidation on A is gone from B's L1 and L2 within a
 * bound; tags and dependents B holds only locally; a node ignores its own
 * messages; malformed messages on the channel are counted and dropped;
 * propagation times measured over many rounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/cache.h"
#include "unit/redis_fixture.h"

#define S(lit) MCP_STR_LIT(lit)
/* Generous: the sanitizers and a shared two-core machine. The bench
 * measures the real figure. */
#define BOUND_MS 1000

typedef struct node {
    char dir[256];
    mcp_cache_l3 *l3;
    mcp_cache *c;
    mcp_cache_coherence *coh;
} node;

typedef struct fixture {
    redis_fixture redis;
    node a, b;
} fixture;

static void node_open(fixture *f, node *n, const char *id) {
    const char *tmp = getenv("TMPDIR");
    snprintf(n->dir, sizeof n->dir, "%s/mcp-coherence-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(n->dir));
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = f->redis.port, .timeout_ms = 500}, &n->l3), 0);
    assert_int_equal(mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 10000}, .l2_enabled = true,
                                                     .l2 = {.path = n->dir}, .l3 = mcp_cache_l3_tier(n->l3)},
                                   &n->c),
                     0);
    assert_int_equal(mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = n->c, .l3 = n->l3, .node_id = id},
                                             &n->coh),
                     0);
    assert_int_equal(mcp_cache_l3_wait_connected(n->l3, 5000), 0);
    assert_int_equal(mcp_cache_coherence_wait_subscribed(n->coh, 5000), 0);
}

static void node_close(node *n) {
    mcp_cache_coherence_free(n->coh);
    mcp_cache_free(n->c);
    mcp_cache_l3_free(n->l3);
    if (n->dir[0]) {
        char path[300];
        snprintf(path, sizeof path, "%s/data.mdb", n->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/lock.mdb", n->dir);
        unlink(path);
        rmdir(n->dir);
    }
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (redis_fixture_start(&f->redis, 0) != 0) fail_msg("%s", f->redis.error);
    node_open(f, &f->a, "node-a");
    node_open(f, &f->b, "node-b");
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    node_close(&f->a);
    node_close(&f->b);
    redis_fixture_kill(&f->redis);
    free(f);
    return 0;
}

static bool l1_has(node *n, mcp_str key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l1_get(mcp_cache_get_l1(n->c), key, &b);
    mcp_buf_free(&b);
    return rc == 0;
}

static bool l2_has(node *n, mcp_str key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l2_get(mcp_cache_get_l2(n->c), key, &b);
    mcp_buf_free(&b);
    return rc == 0;
}

/* Waits until n has applied more than `applied` messages; returns the
 * counters then. Fails the test past the bound. */
static mcp_cache_coherence_counts wait_applied(node *n, uint64_t applied) {
    mcp_cache_coherence_counts st;
    uint64_t t0 = mcp_now_ns();
    for (;;) {
        mcp_cache_coherence_stats(n->coh, &st);
        if (st.applied > applied) return st;
        if (mcp_now_ns() - t0 > (uint64_t)BOUND_MS * 1000000) fail_msg("no invalidation applied within %d ms", BOUND_MS);
        redis_fixture_sleep_ms(1);
    }
}

static void test_key_invalidation_reaches_other_node(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_cache_put(f->a.c, S("k"), S("v"), NULL), 0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->b.c, S("k"), &b), 0); /* from Redis, into B's L2 and L1 */
    assert_true(l1_has(&f->b, S("k")) && l2_has(&f->b, S("k")));
    mcp_cache_coherence_counts before;
    mcp_cache_coherence_stats(f->b.coh, &before);
    uint64_t t0 = mcp_now_ns();
    size_t removed = 0;
    assert_int_equal(mcp_cache_invalidate_key(f->a.c, S("k"), &removed), 0);
    assert_int_equal(removed, 2); /* A's L1 and L2 */
    mcp_cache_coherence_counts st = wait_applied(&f->b, before.applied);
    print_message("propagation A -> B: %.3f ms\n", (double)(st.last_applied_ns - t0) / 1e6);
    assert_false(l1_has(&f->b, S("k")));
    assert_false(l2_has(&f->b, S("k")));
    assert_int_equal(mcp_cache_get(f->b.c, S("k"), &b), MCP_ENOTFOUND); /* Redis too */
    /* A heard its own message and ignored it. */
    mcp_cache_coherence_counts sa;
    uint64_t t1 = mcp_now_ns();
    do {
        mcp_cache_coherence_stats(f->a.coh, &sa);
    } while (sa.own_ignored < 1 && mcp_now_ns() - t1 < (uint64_t)BOUND_MS * 1000000);
    assert_int_equal(sa.own_ignored, 1);
    assert_int_equal(sa.applied, 0);
    assert_int_equal(sa.published, 1);
    assert_string_equal(mcp_cache_coherence_node_id(f->a.coh), "node-a");
    mcp_buf_free(&b);
}

static void test_tag_reaches_local_dependents(void **state) {
    fixture *f = *state;
    mcp_str tag = S("users"), src = S("user:1");
    /* A owns the source; B derived two entries from it, in its L1 only. */
    assert_int_equal(mcp_cache_put(f->a.c, src, S("alice"), &(mcp_cache_entry_opts){.tags = &tag, .tag_count = 1}), 0);
    mcp_cache_entry_opts local = {.deps = &src, .dep_count = 1, .policy = MCP_CACHE_WRITE_L1_ONLY};
    assert_int_equal(mcp_cache_put(f->b.c, S("profile:1"), S("p"), &local), 0);
    mcp_str profile = S("profile:1");
    mcp_cache_entry_opts deeper = {.deps = &profile, .dep_count = 1, .policy = MCP_CACHE_WRITE_L1_ONLY};
    assert_int_equal(mcp_cache_put(f->b.c, S("page:1"), S("q"), &deeper), 0);
    assert_int_equal(mcp_cache_put(f->b.c, S("unrelated"), S("u"), NULL), 0);
    mcp_cache_coherence_counts before;
    mcp_cache_coherence_stats(f->b.coh, &before);
    assert_int_equal(mcp_cache_invalidate_tag(f->a.c, tag, NULL), 0);
    wait_applied(&f->b, before.applied);
    assert_false(l1_has(&f->b, S("profile:1")));
    assert_false(l1_has(&f->b, S("page:1")));
    assert_true(l1_has(&f->b, S("unrelated")));
    assert_true(l2_has(&f->b, S("unrelated")));
}

static void test_malformed_messages(void **state) {
    fixture *f = *state;
    redisContext *c = redis_fixture_connect(&f->redis);
    assert_non_null(c);
    static const char *const bad[] = {"hello", "mcpd1 ", "mcpd1 x", "mcpd1 x k", "mcpd1 x k9:short",
                                      "mcpd1 x k0:", "mcpd1 x q1:a", "mcpd1 x k1:a t1:b", "mcpd1 x k99999:a"};
    size_t n = sizeof bad / sizeof bad[0];
    assert_int_equal(mcp_cache_put(f->b.c, S("a"), S("kept"), NULL), 0);
    for (size_t i = 0; i < n; i++) {
        redisReply *r = redisCommand(c, "PUBLISH mcpd:cache:invalidate %s", bad[i]);
        assert_non_null(r);
        assert_int_equal(r->integer, 2); /* both nodes listen */
        freeReplyObject(r);
    }
    mcp_cache_coherence_counts st;
    uint64_t t0 = mcp_now_ns();
    do {
        mcp_cache_coherence_stats(f->b.coh, &st);
    } while (st.malformed < n && mcp_now_ns() - t0 < (uint64_t)BOUND_MS * 1000000);
    assert_int_equal(st.malformed, n);
    assert_int_equal(st.applied, 0);
    assert_true(l1_has(&f->b, S("a")));
    /* A well-formed one from a third node still applies after them. */
    redisReply *r = redisCommand(c, "PUBLISH mcpd:cache:invalidate %b", "mcpd1 node-c k1:a", (size_t)17);
    freeReplyObject(r);
    wait_applied(&f->b, 0);
    assert_false(l1_has(&f->b, S("a")));
    redisFree(c);
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_propagation_times(void **state) {
    fixture *f = *state;
    enum { ROUNDS = 100 };
    uint64_t times[ROUNDS];
    mcp_buf key;
    mcp_buf_init(&key);
    for (int i = 0; i < ROUNDS; i++) {
        mcp_buf_reset(&key);
        mcp_buf_appendf(&key, "round:%d", i);
        mcp_str k = {key.data, key.len};
        assert_int_equal(mcp_cache_l1_put(mcp_cache_get_l1(f->b.c), k, S("v"), NULL), 0);
        mcp_cache_coherence_counts before;
        mcp_cache_coherence_stats(f->b.coh, &before);
        uint64_t t0 = mcp_now_ns();
        assert_int_equal(mcp_cache_invalidate_key(f->a.c, k, NULL), 0);
        mcp_cache_coherence_counts st = wait_applied(&f->b, before.applied);
        times[i] = st.last_applied_ns - t0;
        assert_false(l1_has(&f->b, k));
    }
    qsort(times, ROUNDS, sizeof times[0], cmp_u64);
    print_message("propagation over %d rounds: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n", ROUNDS,
                  (double)times[ROUNDS / 2] / 1e6, (double)times[ROUNDS * 9 / 10] / 1e6,
                  (double)times[ROUNDS * 99 / 100] / 1e6, (double)times[ROUNDS - 1] / 1e6);
    assert_true(times[ROUNDS - 1] < (uint64_t)BOUND_MS * 1000000);
    mcp_buf_free(&key);
}

static void test_resubscribes_after_restart(void **state) {
    fixture *f = *state;
    redis_fixture_kill(&f->redis);
    mcp_cache_coherence_counts st;
    uint64_t t0 = mcp_now_ns();
    do {
        mcp_cache_coherence_stats(f->b.coh, &st);
    } while (st.subscribed && mcp_now_ns() - t0 < 5000000000ull);
    assert_false(st.subscribed);
    /* While Redis is away the invalidation stays local and says so. */
    assert_int_equal(mcp_cache_put(f->a.c, S("gone"), S("v"), NULL), 0);
    assert_int_not_equal(mcp_cache_invalidate_key(f->a.c, S("gone"), NULL), 0);
    mcp_cache_stats cs;
    mcp_cache_l1_stats(mcp_cache_get_l1(f->a.c), &cs);
    assert_int_equal(cs.entries, 0);

    assert_int_equal(redis_fixture_start(&f->redis, f->redis.port), 0);
    assert_int_equal(mcp_cache_l3_wait_connected(f->a.l3, 5000), 0);
    assert_int_equal(mcp_cache_coherence_wait_subscribed(f->b.coh, 5000), 0);
    assert_int_equal(mcp_cache_l1_put(mcp_cache_get_l1(f->b.c), S("back"), S("v"), NULL), 0);
    mcp_cache_coherence_stats(f->b.coh, &st);
    assert_int_equal(mcp_cache_invalidate_key(f->a.c, S("back"), NULL), 0);
    wait_applied(&f->b, st.applied);
    assert_false(l1_has(&f->b, S("back")));
    mcp_cache_coherence_stats(f->a.coh, &st);
    assert_true(st.publish_failures >= 1);
}

static void test_bad_options(void **state) {
    fixture *f = *state;
    mcp_cache_coherence *coh = (mcp_cache_coherence *)1;
    assert_int_equal(mcp_cache_coherence_new(NULL, &coh), MCP_EINVAL);
    assert_null(coh);
    assert_int_equal(mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = f->a.c}, &coh), MCP_EINVAL);
    assert_int_equal(mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = f->a.c, .l3 = f->a.l3,
                                                                         .node_id = "has space"}, &coh),
                     MCP_EINVAL);
    assert_int_equal(mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = f->a.c, .l3 = f->a.l3,
                                                                         .channel = ""}, &coh),
                     MCP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_invalidation_reaches_other_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_reaches_local_dependents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_propagation_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubscribes_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
