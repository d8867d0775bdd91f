/*
 * L3 against a real redis-server started here on a free loopback port:
 * the stored layout (PX expiry, tag and dependency sets with expiries),
 * promotion from L3 with expiry, tags and dependencies, expiry in Redis,
 * transitive invalidation of entries that exist only in Redis, a damaged
 * entry, a server killed mid-run (serving goes on, failures counted, no
 * call waits beyond the timeout) and restarted on the same port (the tier
 * reconnects), a stopped server (timeouts, then the connection is dropped),
 * and the tier attached to a caller's libuv loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/cache.h"
#include "unit/redis_fixture.h"

#include <pthread.h>
#include <uv.h>

#define S(lit) MCP_STR_LIT(lit)
#define PREFIX "test:"
#define TIMEOUT_MS 100
/* What one call may take beyond the L3 timeout: scheduling on a loaded
 * two-core machine under the sanitizers. */
#define SLACK_MS 400

typedef struct fixture {
    redis_fixture redis;
    redisContext *check; /* synchronous client for looking at what Redis holds */
    mcp_cache_l3 *l3;
    mcp_cache *c;
    char dir[256];
} fixture;

static mcp_cache_l3 *open_l3(fixture *f) {
    mcp_cache_l3 *l3 = NULL;
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = f->redis.port, .prefix = PREFIX,
                                                           .timeout_ms = TIMEOUT_MS, .backoff_max_ms = 200},
                                      &l3),
                     0);
    assert_int_equal(mcp_cache_l3_wait_connected(l3, 5000), 0);
    return l3;
}

static mcp_cache *open_cache(fixture *f, mcp_cache_l3 *l3, bool l2) {
    mcp_cache *c = NULL;
    if (l2 && !f->dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof f->dir, "%s/mcp-l3-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
    }
    assert_int_equal(mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 10000}, .l2_enabled = l2,
                                                     .l2 = {.path = f->dir}, .l3 = mcp_cache_l3_tier(l3)},
                                   &c),
                     0);
    return c;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (redis_fixture_start(&f->redis, 0) != 0) fail_msg("%s", f->redis.error);
    f->check = redis_fixture_connect(&f->redis);
    assert_non_null(f->check);
    f->l3 = open_l3(f);
    f->c = open_cache(f, f->l3, false);
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_cache_free(f->c);
    mcp_cache_l3_free(f->l3);
    if (f->check) redisFree(f->check);
    redis_fixture_kill(&f->redis);
    if (f->dir[0]) {
        char path[300];
        snprintf(path, sizeof path, "%s/data.mdb", f->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/lock.mdb", f->dir);
        unlink(path);
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* Integer answer of a command on the checking connection. */
static long long redis_int(fixture *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->check, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static bool l1_has(mcp_cache *c, mcp_str key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l1_get(mcp_cache_get_l1(c), key, &b);
    mcp_buf_free(&b);
    return rc == 0;
}

static uint64_t ms_since(uint64_t t0) {
    return (mcp_now_ns() - t0) / 1000000;
}

static void test_layout_and_promotion(void **state) {
    fixture *f = *state;
    mcp_str tags[] = {S("user:1"), S("tools")}, deps[] = {S("db:users")};
    assert_int_equal(mcp_cache_put(f->c, S("k1"), S("value one"),
                                   &(mcp_cache_entry_opts){.ttl_ms = 60000, .tags = tags, .tag_count = 2,
                                                           .deps = deps, .dep_count = 1}),
                     0);
    long long ttl = redis_int(f, "PTTL " PREFIX "v:k1");
    assert_true(ttl > 50000 && ttl <= 60000);
    assert_int_equal(redis_int(f, "SISMEMBER " PREFIX "t:user:1 k1"), 1);
    assert_int_equal(redis_int(f, "SISMEMBER " PREFIX "t:tools k1"), 1);
    assert_int_equal(redis_int(f, "SISMEMBER " PREFIX "d:db:users k1"), 1);
    ttl = redis_int(f, "PTTL " PREFIX "t:tools");
    assert_true(ttl > 50000 && ttl <= 60000);
    /* A longer-lived member extends the set; a shorter one does not shorten it. */
    assert_int_equal(mcp_cache_put(f->c, S("k2"), S("forever"), &(mcp_cache_entry_opts){.tags = tags + 1, .tag_count = 1}), 0);
    assert_int_equal(redis_int(f, "PTTL " PREFIX "v:k2"), -1);
    assert_true(redis_int(f, "PTTL " PREFIX "t:tools") > 100000000LL);
    assert_int_equal(mcp_cache_put(f->c, S("k3"), S("short"), &(mcp_cache_entry_opts){.ttl_ms = 1000, .tags = tags + 1, .tag_count = 1}), 0);
    assert_true(redis_int(f, "PTTL " PREFIX "t:tools") > 100000000LL);

    /* Only in L3 now: a get finds it there and promotes it with its metadata. */
    assert_int_equal(mcp_cache_l1_remove(mcp_cache_get_l1(f->c), S("k1")), 0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("k1"), &b), 0);
    assert_string_equal(b.data, "value one");
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item item;
    assert_int_equal(mcp_cache_l1_get_item(mcp_cache_get_l1(f->c), S("k1"), &arena, &item), 0);
    assert_int_equal(item.tag_count, 2);
    assert_int_equal(item.dep_count, 1);
    assert_true(mcp_str_eq(item.tags[0], S("user:1")) && mcp_str_eq(item.tags[1], S("tools")));
    assert_true(mcp_str_eq(item.deps[0], S("db:users")));
    uint64_t now = mcp_wall_ms();
    assert_true(item.expires_ms > now + 50000 && item.expires_ms <= now + 60000);

    /* Keys are bytes: a tools/call key holds a NUL. */
    mcp_str bin = {"tool\0{\"a\":1}", 12};
    assert_int_equal(mcp_cache_put(f->c, bin, S("binary"), NULL), 0);
    assert_int_equal(mcp_cache_l1_remove(mcp_cache_get_l1(f->c), bin), 0);
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_get(f->c, bin, &b), 0);
    assert_string_equal(b.data, "binary");

    assert_int_equal(mcp_cache_get(f->c, S("absent"), &b), MCP_ENOTFOUND);
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.puts, 4);
    assert_int_equal(st.failures, 0);
    assert_true(st.connected);
    mcp_arena_free(&arena);
    mcp_buf_free(&b);
}

static void test_expiry_in_redis(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_cache_put(f->c, S("brief"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 80}), 0);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:brief"), 1);
    redis_fixture_sleep_ms(200);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:brief"), 0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("brief"), &b), MCP_ENOTFOUND);
    mcp_buf_free(&b);
}

static void test_invalidation_of_l3_only_entries(void **state) {
    fixture *f = *state;
    /* Written by another node: x tagged grp; y from x; z from y; q tagged grp. */
    mcp_cache_l3 *other_l3 = open_l3(f);
    mcp_cache *other = open_cache(f, other_l3, false);
    mcp_str grp = S("grp"), x = S("x"), y = S("y");
    assert_int_equal(mcp_cache_put(other, S("x"), S("1"), &(mcp_cache_entry_opts){.tags = &grp, .tag_count = 1}), 0);
    assert_int_equal(mcp_cache_put(other, S("y"), S("2"), &(mcp_cache_entry_opts){.deps = &x, .dep_count = 1}), 0);
    assert_int_equal(mcp_cache_put(other, S("z"), S("3"), &(mcp_cache_entry_opts){.deps = &y, .dep_count = 1}), 0);
    assert_int_equal(mcp_cache_put(other, S("q"), S("4"), &(mcp_cache_entry_opts){.tags = &grp, .tag_count = 1}), 0);
    /* This node read z (now in its L1) and derived w from z, locally only. */
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("z"), &b), 0);
    mcp_str z = S("z");
    assert_int_equal(mcp_cache_put(f->c, S("w"), S("5"),
                                   &(mcp_cache_entry_opts){.deps = &z, .dep_count = 1, .policy = MCP_CACHE_WRITE_L1_ONLY}),
                     0);
    assert_true(l1_has(f->c, S("z")) && l1_has(f->c, S("w")));
    size_t removed = 0;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("grp"), &removed), 0);
    /* Nothing of grp was in this node's L1 when the walk began: Redis' sets
     * found x, q, y, z; z's copy here and w derived from it went too. */
    assert_int_equal(removed, 2);
    assert_false(l1_has(f->c, S("z")) || l1_has(f->c, S("w")));
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:x " PREFIX "v:y " PREFIX "v:z " PREFIX "v:q"), 0);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "t:grp " PREFIX "d:x " PREFIX "d:y"), 0);
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_int_equal(st.invalidations, 4);

    /* A dependency cycle that lives only in Redis ends. */
    mcp_str a = S("a"), c = S("c");
    assert_int_equal(mcp_cache_put(other, S("c"), S("1"), &(mcp_cache_entry_opts){.deps = &a, .dep_count = 1}), 0);
    assert_int_equal(mcp_cache_put(other, S("a"), S("2"), &(mcp_cache_entry_opts){.deps = &c, .dep_count = 1}), 0);
    assert_int_equal(mcp_cache_invalidate_key(f->c, S("a"), &removed), 0);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:a " PREFIX "v:c"), 0);
    mcp_cache_free(other);
    mcp_cache_l3_free(other_l3);
    mcp_buf_free(&b);
}

static void test_damaged_entry(void **state) {
    fixture *f = *state;
    redisReply *r = redisCommand(f->check, "SET " PREFIX "v:bad %b", "\x01garbage", (size_t)8);
    freeReplyObject(r);
    r = redisCommand(f->check, "SET " PREFIX "v:old %s", "not ours at all");
    freeReplyObject(r);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("bad"), &b), MCP_ENOTFOUND);
    assert_int_equal(mcp_cache_get(f->c, S("old"), &b), MCP_ENOTFOUND);
    assert_int_equal(b.len, 0);
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_int_equal(st.malformed, 2);
    assert_int_equal(st.failures, 2);
    mcp_buf_free(&b);
}

/* Runs gets and puts through the facade while the server is away: every
 * call ends within the timeout; returns the slowest call in ms. */
static uint64_t serve_while_down(fixture *f, int round) {
    uint64_t worst = 0;
    mcp_buf b;
    mcp_buf_init(&b);
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof key, "down:%d:%d", round, i);
        uint64_t t0 = mcp_now_ns();
        assert_int_equal(mcp_cache_put(f->c, mcp_str_from(key), S("kept locally"), NULL), 0);
        uint64_t dt = ms_since(t0);
        worst = dt > worst ? dt : worst;
        t0 = mcp_now_ns();
        mcp_buf_reset(&b);
        assert_int_equal(mcp_cache_get(f->c, mcp_str_from(key), &b), 0); /* L1 */
        assert_string_equal(b.data, "kept locally");
        assert_int_equal(mcp_cache_get(f->c, S("never-stored"), &b), MCP_ENOTFOUND);
        dt = ms_since(t0);
        worst = dt > worst ? dt : worst;
    }
    mcp_buf_free(&b);
    return worst;
}

static void test_outage_and_recovery(void **state) {
    fixture *f = *state;
    mcp_cache_free(f->c);
    f->c = open_cache(f, f->l3, true); /* L1 and L2 carry the node through */
    assert_int_equal(mcp_cache_put(f->c, S("before"), S("b"), NULL), 0);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:before"), 1);
    redisFree(f->check);
    f->check = NULL;

    redis_fixture_kill(&f->redis);
    uint64_t worst = serve_while_down(f, 0);
    print_message("slowest facade call with the server killed: %llu ms (timeout %d ms)\n",
                  (unsigned long long)worst, TIMEOUT_MS);
    assert_true(worst <= TIMEOUT_MS + SLACK_MS);
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_false(st.connected);
    assert_true(st.failures >= 40); /* 20 puts, 20 missing gets */
    assert_true(st.disconnects >= 1);
    /* Invalidation clears this node and reports that Redis was not reached. */
    size_t removed = 0;
    int rc = mcp_cache_invalidate_key(f->c, S("down:0:0"), &removed);
    assert_true(rc == MCP_ECLOSED || rc == MCP_ETIMEDOUT);
    assert_int_equal(removed, 2);

    /* Back on the same port: the tier finds it by itself. */
    assert_int_equal(redis_fixture_start(&f->redis, f->redis.port), 0);
    uint64_t t0 = mcp_now_ns();
    assert_int_equal(mcp_cache_l3_wait_connected(f->l3, 5000), 0);
    print_message("reconnected %llu ms after the restart\n", (unsigned long long)ms_since(t0));
    f->check = redis_fixture_connect(&f->redis);
    assert_non_null(f->check);
    assert_int_equal(mcp_cache_put(f->c, S("after"), S("a"), NULL), 0);
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:after"), 1);
    /* A node with nothing local reads it from Redis. */
    mcp_cache *fresh = open_cache(f, f->l3, false);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(fresh, S("after"), &b), 0);
    assert_string_equal(b.data, "a");
    mcp_cache_l3_stats(f->l3, &st);
    assert_true(st.connected);
    assert_true(st.connects >= 2);
    mcp_cache_free(fresh);
    mcp_buf_free(&b);
}

static void test_stopped_server(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_cache_put(f->c, S("s"), S("v"), NULL), 0);
    kill(f->redis.pid, SIGSTOP);
    uint64_t worst = serve_while_down(f, 1);
    print_message("slowest facade call with the server stopped: %llu ms (timeout %d ms)\n",
                  (unsigned long long)worst, TIMEOUT_MS);
    assert_true(worst <= TIMEOUT_MS + SLACK_MS);
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_true(st.timeouts >= 3);
    /* Three timeouts in a row dropped the connection; later calls failed at once. */
    assert_true(st.disconnects >= 1);
    assert_true(st.unavailable >= 1);
    kill(f->redis.pid, SIGCONT);
    assert_int_equal(mcp_cache_l3_wait_connected(f->l3, 5000), 0);
    assert_int_equal(mcp_cache_l1_remove(mcp_cache_get_l1(f->c), S("s")), 0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("s"), &b), 0);
    assert_string_equal(b.data, "v");
    mcp_buf_free(&b);
}

/* ---- many threads at once -------------------------------------------------------- */

typedef struct worker {
    fixture *f;
    int id, failures;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    mcp_buf b;
    mcp_buf_init(&b);
    for (int i = 0; i < 300; i++) {
        char key[32], value[32];
        snprintf(key, sizeof key, "w%d:%d", w->id, i);
        snprintf(value, sizeof value, "value %d/%d", w->id, i);
        if (mcp_cache_put(w->f->c, mcp_str_from(key), mcp_str_from(value), NULL) != 0) w->failures++;
        mcp_cache_l1_remove(mcp_cache_get_l1(w->f->c), mcp_str_from(key));
        mcp_buf_reset(&b);
        if (mcp_cache_get(w->f->c, mcp_str_from(key), &b) != 0 || strcmp(b.data, value) != 0) w->failures++;
    }
    mcp_buf_free(&b);
    return NULL;
}

static void test_threads_share_the_tier(void **state) {
    fixture *f = *state;
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    mcp_cache_l3_counts st;
    mcp_cache_l3_stats(f->l3, &st);
    assert_int_equal(st.puts, THREADS * 300);
    assert_int_equal(st.hits, THREADS * 300);
    assert_int_equal(st.failures, 0);
    assert_int_equal(redis_int(f, "DBSIZE"), THREADS * 300);
}

/* ---- attached to a caller's loop ------------------------------------------------ */

typedef struct loop_wait {
    int calls, rc;
    char value[64];
    size_t reached;
} loop_wait;

static void loop_done(void *user, int rc, const mcp_cache_item *item) {
    loop_wait *w = user;
    w->calls++;
    w->rc = rc;
    if (item) snprintf(w->value, sizeof w->value, "%.*s", (int)item->value.len, item->value.ptr);
}

static void loop_set_done(void *user, int rc, const mcp_str *keys, size_t count) {
    (void)keys;
    loop_wait *w = user;
    w->calls++;
    w->rc = rc;
    w->reached = count;
}

static void run_until(uv_loop_t *loop, loop_wait *w) {
    uint64_t t0 = mcp_now_ns();
    while (!w->calls && ms_since(t0) < 5000) uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(w->calls, 1);
}

static void test_attached_loop(void **state) {
    fixture *f = *state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    mcp_cache_l3 *l3 = NULL;
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = f->redis.port, .prefix = PREFIX, .loop = &loop}, &l3), 0);
    mcp_cache_l3_counts st;
    uint64_t t0 = mcp_now_ns();
    do {
        uv_run(&loop, UV_RUN_NOWAIT);
        mcp_cache_l3_stats(l3, &st);
    } while (!st.connected && ms_since(t0) < 5000);
    assert_true(st.connected);
    mcp_cache_tier *tier = mcp_cache_l3_tier(l3);
    mcp_str dep = S("src");
    mcp_cache_item item = {.key = S("on-loop"), .value = S("hello"), .deps = &dep, .dep_count = 1};
    loop_wait w = {0};
    assert_int_equal(tier->put(tier, &item, loop_done, &w), MCP_PENDING);
    run_until(&loop, &w);
    assert_int_equal(w.rc, 0);
    w = (loop_wait){0};
    mcp_cache_item got;
    assert_int_equal(tier->get(tier, S("on-loop"), NULL, &got, loop_done, &w), MCP_PENDING);
    run_until(&loop, &w);
    assert_int_equal(w.rc, 0);
    assert_string_equal(w.value, "hello");
    w = (loop_wait){0};
    assert_int_equal(tier->invalidate_set(tier, (mcp_str){NULL, 0}, &dep, 1, loop_set_done, &w), MCP_PENDING);
    run_until(&loop, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.reached, 2); /* src and on-loop */
    assert_int_equal(redis_int(f, "EXISTS " PREFIX "v:on-loop"), 0);
    /* Bad input is refused at once. */
    assert_int_equal(tier->get(tier, (mcp_str){NULL, 0}, NULL, &got, loop_done, &w), MCP_EINVAL);
    mcp_cache_l3_free(l3);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_options(void **state) {
    (void)state;
    mcp_cache_l3 *l3 = (mcp_cache_l3 *)1;
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = 70000}, &l3), MCP_EINVAL);
    assert_null(l3);
    assert_int_equal(mcp_cache_l3_new(NULL, NULL), MCP_EINVAL);
    /* Nobody listens: the tier still starts, and refuses work at once. */
    int port = redis_fixture_free_port();
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = port}, &l3), 0);
    assert_int_equal(mcp_cache_l3_wait_connected(l3, 50), MCP_ETIMEDOUT);
    mcp_cache_tier *tier = mcp_cache_l3_tier(l3);
    loop_wait w = {0};
    mcp_cache_item got;
    assert_int_equal(tier->get(tier, S("k"), NULL, &got, loop_done, &w), MCP_ECLOSED);
    assert_int_equal(w.calls, 0);
    mcp_cache_l3_free(l3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout_and_promotion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_in_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidation_of_l3_only_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outage_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_the_tier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attached_loop, setup, teardown),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
