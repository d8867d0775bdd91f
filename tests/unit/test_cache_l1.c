/*
 * L1 cache: expiry (lazy and by the timer wheel, with an injected clock),
 * LRU order and both bounds, tag and transitive dependency invalidation
 * (cycles included), single-flight under many threads, stats, bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/cache.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_uint_fast64_t fake_now;

static uint64_t fake_clock(void *user) {
    (void)user;
    return atomic_load(&fake_now);
}

#define S(lit) MCP_STR_LIT(lit)

static mcp_str str_of(const char *s) {
    return mcp_str_from(s);
}

static mcp_cache_l1 *new_l1(mcp_cache_l1_opts o) {
    atomic_store(&fake_now, 1000000);
    o.clock = fake_clock;
    mcp_cache_l1 *l1 = NULL;
    assert_int_equal(mcp_cache_l1_new(&o, &l1), 0);
    return l1;
}

static bool has(mcp_cache_l1 *l1, const char *key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l1_get(l1, str_of(key), &b);
    mcp_buf_free(&b);
    assert_true(rc == 0 || rc == MCP_ENOTFOUND);
    return rc == 0;
}

static void put(mcp_cache_l1 *l1, const char *key, const char *value) {
    assert_int_equal(mcp_cache_l1_put(l1, str_of(key), str_of(value), NULL), 0);
}

static void test_get_put_replace(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){0});
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_l1_get(l1, S("k"), &b), MCP_ENOTFOUND);
    put(l1, "k", "one");
    assert_int_equal(mcp_cache_l1_get(l1, S("k"), &b), 0);
    assert_string_equal(b.data, "one");
    put(l1, "k", "two");
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_l1_get(l1, S("k"), &b), 0);
    assert_string_equal(b.data, "two");
    /* Binary keys and empty values are fine. */
    assert_int_equal(mcp_cache_l1_put(l1, (mcp_str){"a\0b", 3}, (mcp_str){"", 0}, NULL), 0);
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_l1_get(l1, (mcp_str){"a\0b", 3}, &b), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(mcp_cache_l1_get(l1, (mcp_str){"a\0c", 3}, &b), MCP_ENOTFOUND);
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.puts, 3);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 2);
    assert_int_equal(mcp_cache_l1_remove(l1, S("k")), 0);
    assert_int_equal(mcp_cache_l1_remove(l1, S("k")), MCP_ENOTFOUND);
    mcp_buf_free(&b);
    mcp_cache_l1_free(l1);
}

static void test_bad_input(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = NULL;
    assert_int_equal(mcp_cache_l1_new(&(mcp_cache_l1_opts){.shards = 3}, &l1), MCP_EINVAL);
    assert_null(l1);
    l1 = new_l1((mcp_cache_l1_opts){0});
    mcp_buf b;
    mcp_buf_init(&b);
    char big[MCP_CACHE_KEY_MAX + 2];
    memset(big, 'x', sizeof big);
    assert_int_equal(mcp_cache_l1_put(l1, (mcp_str){big, sizeof big}, S("v"), NULL), MCP_EINVAL);
    assert_int_equal(mcp_cache_l1_put(l1, (mcp_str){"", 0}, S("v"), NULL), MCP_EINVAL);
    assert_int_equal(mcp_cache_l1_get(l1, (mcp_str){NULL, 0}, &b), MCP_EINVAL);
    mcp_str empty_tag = {"", 0};
    assert_int_equal(mcp_cache_l1_put(l1, S("k"), S("v"), &(mcp_cache_entry_opts){.tags = &empty_tag, .tag_count = 1}),
                     MCP_EINVAL);
    assert_int_equal(mcp_cache_l1_put(l1, S("k"), S("v"), &(mcp_cache_entry_opts){.tags = NULL, .tag_count = 2}),
                     MCP_EINVAL);
    mcp_str tags[65];
    for (int i = 0; i < 65; i++) tags[i] = S("t");
    assert_int_equal(mcp_cache_l1_put(l1, S("k"), S("v"), &(mcp_cache_entry_opts){.tags = tags, .tag_count = 65}),
                     MCP_EINVAL);
    /* Nothing was stored by the refused puts. */
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(mcp_cache_l1_invalidate_tag(l1, (mcp_str){"", 0}, NULL), MCP_EINVAL);
    mcp_buf_free(&b);
    mcp_cache_l1_free(l1);
}

static void test_ttl_lazy(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.default_ttl_ms = 500});
    assert_int_equal(mcp_cache_l1_put(l1, S("short"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 100}), 0);
    put(l1, "default", "v");
    assert_int_equal(mcp_cache_l1_put(l1, S("forever"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = MCP_CACHE_TTL_NONE}), 0);
    atomic_fetch_add(&fake_now, 99);
    assert_true(has(l1, "short"));
    atomic_fetch_add(&fake_now, 1); /* exactly at the expiry: gone */
    assert_false(has(l1, "short"));
    assert_true(has(l1, "default"));
    atomic_fetch_add(&fake_now, 400);
    assert_false(has(l1, "default"));
    atomic_fetch_add(&fake_now, 1000000000);
    assert_true(has(l1, "forever"));
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.expirations, 2);
    assert_int_equal(st.entries, 1);
    mcp_cache_l1_free(l1);
}

static void test_ttl_wheel_sweep(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.wheel_tick_ms = 10, .shards = 4});
    char key[32];
    /* Expiries spread over more than one turn of the wheel (512 ticks of
     * 10 ms), so some slots hold entries due in a later turn. */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(mcp_cache_l1_put(l1, str_of(key), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 10 + (uint64_t)i * 7}), 0);
    }
    put(l1, "no-ttl", "v");
    assert_int_equal(mcp_cache_l1_sweep(l1), 0);
    /* After t ms, exactly the entries with 10 + 7i <= t are due. */
    uint64_t t0 = atomic_load(&fake_now);
    size_t swept = 0;
    for (uint64_t t = 0; t <= 7250; t += 250) {
        atomic_store(&fake_now, t0 + t);
        swept += mcp_cache_l1_sweep(l1);
        size_t due = t < 10 ? 0 : (size_t)((t - 10) / 7 + 1);
        if (due > 1000) due = 1000;
        assert_int_equal(swept, due);
        mcp_cache_stats st;
        mcp_cache_l1_stats(l1, &st);
        assert_int_equal(st.entries, 1001 - due);
    }
    assert_true(has(l1, "no-ttl"));
    /* A jump of many turns at once still finds everything. */
    assert_int_equal(mcp_cache_l1_put(l1, S("late"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 50}), 0);
    atomic_fetch_add(&fake_now, 1000000);
    assert_int_equal(mcp_cache_l1_sweep(l1), 1);
    mcp_cache_l1_free(l1);
}

static void test_ttl_background_sweeper(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.wheel_tick_ms = 10, .sweep_interval_ms = 5});
    assert_int_equal(mcp_cache_l1_put(l1, S("a"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 20}), 0);
    atomic_fetch_add(&fake_now, 30);
    /* No get touches it: only the background thread can remove it. */
    mcp_cache_stats st;
    for (int i = 0; i < 400; i++) {
        mcp_cache_l1_stats(l1, &st);
        if (st.entries == 0 && st.expirations == 1) break; /* counted just after the unlink */
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.expirations, 1);
    mcp_cache_l1_free(l1);
}

static void test_lru_order_entries(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.max_entries = 3, .shards = 1});
    put(l1, "a", "1");
    put(l1, "b", "2");
    put(l1, "c", "3");
    assert_true(has(l1, "a")); /* a is now the most recent: b is the oldest */
    put(l1, "d", "4");
    assert_false(has(l1, "b"));
    assert_true(has(l1, "a"));
    assert_true(has(l1, "c"));
    assert_true(has(l1, "d"));
    /* Order now (old -> new): a, c, d after the gets above. */
    put(l1, "e", "5");
    assert_false(has(l1, "a"));
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 2);
    /* Replacing an entry does not evict another. */
    put(l1, "e", "55");
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.evictions, 2);
    mcp_cache_l1_free(l1);
}

static void test_lru_bytes_bound(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.max_bytes = 4096, .shards = 1});
    char value[1000];
    memset(value, 'v', sizeof value);
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        assert_int_equal(mcp_cache_l1_put(l1, str_of(key), (mcp_str){value, sizeof value}, NULL), 0);
        mcp_cache_stats st;
        mcp_cache_l1_stats(l1, &st);
        assert_true(st.bytes <= 4096);
    }
    /* Each entry charges 1000 bytes plus its key and header: three fit. */
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 3);
    assert_true(has(l1, "k19") && has(l1, "k18") && has(l1, "k17"));
    assert_false(has(l1, "k16"));
    /* A value bigger than the whole budget is refused, and evicts nothing. */
    char huge[5000];
    memset(huge, 'h', sizeof huge);
    assert_int_equal(mcp_cache_l1_put(l1, S("huge"), (mcp_str){huge, sizeof huge}, NULL), MCP_ELIMIT);
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.entries, 3);
    mcp_cache_l1_free(l1);
}

static void test_sharded_bounds(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.max_entries = 1000, .shards = 16});
    char key[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        put(l1, key, "v");
    }
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_true(st.entries <= 1000);
    assert_true(st.entries >= 900); /* hashing spreads keys: shards fill nearly evenly */
    assert_int_equal(st.evictions, 5000 - st.entries);
    /* The most recent keys are all there. */
    for (int i = 4990; i < 5000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        assert_true(has(l1, key));
    }
    mcp_cache_l1_free(l1);
}

static void put_meta(mcp_cache_l1 *l1, const char *key, const char *tag, const char *dep) {
    mcp_str t = str_of(tag ? tag : "x"), d = str_of(dep ? dep : "x");
    mcp_cache_entry_opts o = {.tags = tag ? &t : NULL, .tag_count = tag ? 1 : 0, .deps = dep ? &d : NULL,
                              .dep_count = dep ? 1 : 0};
    assert_int_equal(mcp_cache_l1_put(l1, str_of(key), S("v"), &o), 0);
}

static void test_tag_invalidation(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){0});
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        char tag[8];
        snprintf(tag, sizeof tag, "t%d", i % 10);
        put_meta(l1, key, tag, NULL);
    }
    size_t removed = 0;
    assert_int_equal(mcp_cache_l1_invalidate_tag(l1, S("t3"), &removed), 0);
    assert_int_equal(removed, 100);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(has(l1, key), i % 10 != 3);
    }
    assert_int_equal(mcp_cache_l1_invalidate_tag(l1, S("t3"), &removed), 0);
    assert_int_equal(removed, 0);
    /* An entry re-put without the tag is not hit by the tag any more. */
    put_meta(l1, "k1", "other", NULL);
    assert_int_equal(mcp_cache_l1_invalidate_tag(l1, S("t1"), &removed), 0);
    assert_int_equal(removed, 99);
    assert_true(has(l1, "k1"));
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    assert_int_equal(st.invalidations, 199);
    mcp_cache_l1_free(l1);
}

static void test_dependency_transitive_and_cycles(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.shards = 8});
    /* Chain: src <- a <- b <- c; d depends on an unrelated key. */
    put_meta(l1, "a", NULL, "src");
    put_meta(l1, "b", NULL, "a");
    put_meta(l1, "c", "tc", "b");
    put_meta(l1, "d", NULL, "elsewhere");
    size_t removed = 0;
    assert_int_equal(mcp_cache_l1_invalidate_key(l1, S("src"), &removed), 0);
    assert_int_equal(removed, 3);
    assert_false(has(l1, "a") || has(l1, "b") || has(l1, "c"));
    assert_true(has(l1, "d"));

    /* A cycle: x <- y <- z <- x. Invalidating any one ends, removing all three. */
    put_meta(l1, "x", NULL, "z");
    put_meta(l1, "y", NULL, "x");
    put_meta(l1, "z", NULL, "y");
    put_meta(l1, "self", NULL, "self");
    assert_int_equal(mcp_cache_l1_invalidate_key(l1, S("y"), &removed), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(mcp_cache_l1_invalidate_key(l1, S("self"), &removed), 0);
    assert_int_equal(removed, 1);

    /* Tag invalidation cascades to dependents too. */
    put_meta(l1, "p", "tp", NULL);
    put_meta(l1, "q", NULL, "p");
    assert_int_equal(mcp_cache_l1_invalidate_tag(l1, S("tp"), &removed), 0);
    assert_int_equal(removed, 2);
    /* Eviction does not cascade. */
    assert_true(has(l1, "d"));
    mcp_cache_l1_free(l1);
}

static void test_get_item_keeps_meta(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){0});
    mcp_str tags[] = {S("t1"), S("t2")}, deps[] = {S("d1")};
    assert_int_equal(mcp_cache_l1_put(l1, S("k"), S("value"), &(mcp_cache_entry_opts){
                                          .ttl_ms = 100, .tags = tags, .tag_count = 2, .deps = deps, .dep_count = 1}),
                     0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    assert_int_equal(mcp_cache_l1_get_item(l1, S("k"), &arena, &it), 0);
    assert_true(mcp_str_eq(it.key, S("k")));
    assert_true(mcp_str_eq(it.value, S("value")));
    assert_int_equal(it.expires_ms, atomic_load(&fake_now) + 100);
    assert_int_equal(it.tag_count, 2);
    assert_true(mcp_str_eq(it.tags[0], S("t1")) && mcp_str_eq(it.tags[1], S("t2")));
    assert_int_equal(it.dep_count, 1);
    assert_true(mcp_str_eq(it.deps[0], S("d1")));
    mcp_arena_free(&arena);
    mcp_cache_l1_free(l1);
}

/* ---- single-flight ------------------------------------------------------------ */

#define FLIGHT_THREADS 16

typedef struct flight_test {
    mcp_cache_l1 *l1;
    atomic_int computes;
    atomic_int started;
    atomic_bool release;
    int fail;
    int results[FLIGHT_THREADS];
    char values[FLIGHT_THREADS][32];
} flight_test;

static int slow_compute(mcp_str key, mcp_cache_fill *fill, void *user) {
    flight_test *t = user;
    atomic_fetch_add(&t->computes, 1);
    /* Hold the flight open until every thread has asked. */
    while (!atomic_load(&t->release)) sched_yield();
    if (t->fail) return MCP_EIO;
    mcp_str tag = {mcp_arena_strdup(fill->arena, "computed"), 8};
    mcp_str *tags = mcp_arena_alloc(fill->arena, sizeof *tags);
    tags[0] = tag;
    fill->opts.tags = tags;
    fill->opts.tag_count = 1;
    return mcp_buf_appendf(fill->value, "value-of-%.*s", (int)key.len, key.ptr);
}

typedef struct flight_arg {
    flight_test *t;
    int index;
} flight_arg;

static void *flight_thread(void *p) {
    flight_arg *a = p;
    mcp_buf out;
    mcp_buf_init(&out);
    atomic_fetch_add(&a->t->started, 1);
    a->t->results[a->index] = mcp_cache_l1_get_or_compute(a->t->l1, S("hot"), slow_compute, a->t, &out);
    snprintf(a->t->values[a->index], sizeof a->t->values[0], "%s", out.data ? out.data : "");
    mcp_buf_free(&out);
    return NULL;
}

static void run_flight(flight_test *t) {
    pthread_t th[FLIGHT_THREADS];
    flight_arg args[FLIGHT_THREADS];
    for (int i = 0; i < FLIGHT_THREADS; i++) {
        args[i] = (flight_arg){t, i};
        assert_int_equal(pthread_create(&th[i], NULL, flight_thread, &args[i]), 0);
    }
    while (atomic_load(&t->started) < FLIGHT_THREADS || atomic_load(&t->computes) < 1) sched_yield();
    /* Give the late threads time to reach the flight and wait on it. */
    for (int i = 0; i < 20; i++) {
        mcp_cache_stats st;
        mcp_cache_l1_stats(t->l1, &st);
        if (st.coalesced == FLIGHT_THREADS - 1) break;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    atomic_store(&t->release, true);
    for (int i = 0; i < FLIGHT_THREADS; i++) pthread_join(th[i], NULL);
}

static void test_single_flight(void **state) {
    (void)state;
    flight_test *t = calloc(1, sizeof *t);
    t->l1 = new_l1((mcp_cache_l1_opts){0});
    run_flight(t);
    assert_int_equal(atomic_load(&t->computes), 1);
    for (int i = 0; i < FLIGHT_THREADS; i++) {
        assert_int_equal(t->results[i], 0);
        assert_string_equal(t->values[i], "value-of-hot");
    }
    mcp_cache_stats st;
    mcp_cache_l1_stats(t->l1, &st);
    assert_int_equal(st.computes, 1);
    assert_int_equal(st.coalesced, FLIGHT_THREADS - 1);
    assert_int_equal(st.misses, FLIGHT_THREADS);
    /* Stored with the tag the compute gave it. */
    size_t removed;
    assert_int_equal(mcp_cache_l1_invalidate_tag(t->l1, S("computed"), &removed), 0);
    assert_int_equal(removed, 1);
    mcp_cache_l1_free(t->l1);

    /* A failing compute: every caller gets the error, nothing is stored. */
    memset(t, 0, sizeof *t);
    t->fail = 1;
    t->l1 = new_l1((mcp_cache_l1_opts){0});
    run_flight(t);
    assert_int_equal(atomic_load(&t->computes), 1);
    for (int i = 0; i < FLIGHT_THREADS; i++) assert_int_equal(t->results[i], MCP_EIO);
    assert_false(has(t->l1, "hot"));
    mcp_cache_l1_free(t->l1);
    free(t);
}

/* Many threads hammering overlapping keys: counters add up, nothing leaks. */
typedef struct churn_arg {
    mcp_cache_l1 *l1;
    int seed;
} churn_arg;

static void *churn_thread(void *p) {
    churn_arg *a = p;
    mcp_buf out;
    mcp_buf_init(&out);
    char key[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%d", (i * 7 + a->seed * 13) % 500);
        mcp_str t = S("tag");
        if (i % 3 == 0) mcp_cache_l1_put(a->l1, str_of(key), S("v"), &(mcp_cache_entry_opts){.tags = &t, .tag_count = 1});
        else mcp_cache_l1_get(a->l1, str_of(key), &out);
        if (i % 5000 == 4999) mcp_cache_l1_invalidate_tag(a->l1, S("tag"), NULL);
        mcp_buf_reset(&out);
    }
    mcp_buf_free(&out);
    return NULL;
}

static void test_concurrent_stats(void **state) {
    (void)state;
    mcp_cache_l1 *l1 = new_l1((mcp_cache_l1_opts){.max_entries = 200});
    pthread_t th[4];
    churn_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (churn_arg){l1, i};
        assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    mcp_cache_stats st;
    mcp_cache_l1_stats(l1, &st);
    uint64_t gets = 4 * (20000 - 6667), puts = 4 * 6667;
    assert_int_equal(st.hits + st.misses, gets);
    assert_int_equal(st.puts, puts);
    assert_true(st.entries <= 200);
    mcp_cache_l1_free(l1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_replace),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_ttl_lazy),
        cmocka_unit_test(test_ttl_wheel_sweep),
        cmocka_unit_test(test_ttl_background_sweeper),
        cmocka_unit_test(test_lru_order_entries),
        cmocka_unit_test(test_lru_bytes_bound),
        cmocka_unit_test(test_sharded_bounds),
        cmocka_unit_test(test_tag_invalidation),
        cmocka_unit_test(test_dependency_transitive_and_cycles),
        cmocka_unit_test(test_get_item_keeps_meta),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_concurrent_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
