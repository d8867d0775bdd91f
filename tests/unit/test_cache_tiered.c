/*
 * The tiered facade over a real L1 and a real L2 (LMDB in a temporary
 * directory): promotion keeps expiry, tags and dependencies; write-through
 * and write-back (batch, explicit flush, flush at close, flush before
 * invalidation); invalidation that follows dependencies from one tier into
 * the other; get_or_compute through L2; an L3 slot served by a second L2
 * that completes on another thread; tools/call keys.
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
#include <unistd.h>

#define S(lit) MCP_STR_LIT(lit)

static uint64_t fake_now = 7000000;

static uint64_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

typedef struct fixture {
    char dir[256];
    char dir3[256];
    mcp_cache *c;
} fixture;

static void remove_dir(const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static void make_dir(char *dir, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/mcp-tiered-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static mcp_cache *open_cache(fixture *f, mcp_cache_write_policy policy, size_t batch, mcp_cache_tier *l3) {
    mcp_cache *c = NULL;
    mcp_cache_opts o = {.l1 = {.clock = fake_clock, .max_entries = 1000},
                        .l2_enabled = true,
                        .l2 = {.path = f->dir},
                        .l3 = l3,
                        .policy = policy,
                        .write_back_batch = batch};
    assert_int_equal(mcp_cache_new(&o, &c), 0);
    return c;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    make_dir(f->dir, sizeof f->dir);
    fake_now = 7000000;
    f->c = open_cache(f, MCP_CACHE_WRITE_DEFAULT, 0, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_cache_free(f->c);
    remove_dir(f->dir);
    if (f->dir3[0]) remove_dir(f->dir3);
    free(f);
    return 0;
}

static bool l1_has(mcp_cache *c, const char *key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l1_get(mcp_cache_get_l1(c), mcp_str_from(key), &b);
    mcp_buf_free(&b);
    return rc == 0;
}

static bool l2_has(mcp_cache *c, const char *key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l2_get(mcp_cache_get_l2(c), mcp_str_from(key), &b);
    mcp_buf_free(&b);
    return rc == 0;
}

static void test_promotion_keeps_meta(void **state) {
    fixture *f = *state;
    mcp_str tags[] = {S("user:1")}, deps[] = {S("db:users")};
    assert_int_equal(mcp_cache_l2_put(mcp_cache_get_l2(f->c), S("k"), S("from disk"),
                                      &(mcp_cache_entry_opts){.ttl_ms = 5000, .tags = tags, .tag_count = 1,
                                                              .deps = deps, .dep_count = 1}),
                     0);
    assert_false(l1_has(f->c, "k"));
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("k"), &b), 0);
    assert_string_equal(b.data, "from disk");
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    assert_int_equal(mcp_cache_l1_get_item(mcp_cache_get_l1(f->c), S("k"), &arena, &it), 0);
    assert_int_equal(it.expires_ms, 7000000 + 5000); /* the same instant, not a fresh TTL */
    assert_int_equal(it.tag_count, 1);
    assert_true(mcp_str_eq(it.tags[0], S("user:1")));
    assert_int_equal(it.dep_count, 1);
    assert_true(mcp_str_eq(it.deps[0], S("db:users")));
    /* The promoted copy answers to its tag and its dependency in L1 alone. */
    size_t removed;
    assert_int_equal(mcp_cache_l1_invalidate_tag(mcp_cache_get_l1(f->c), S("user:1"), &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(mcp_cache_get(f->c, S("k"), &b), 0);
    assert_int_equal(mcp_cache_l1_invalidate_key(mcp_cache_get_l1(f->c), S("db:users"), &removed), 0);
    assert_int_equal(removed, 1);
    /* Expired in L2: not promoted, a miss. */
    fake_now += 5000;
    assert_int_equal(mcp_cache_get(f->c, S("k"), &b), MCP_ENOTFOUND);
    assert_false(l1_has(f->c, "k"));
    mcp_arena_free(&arena);
    mcp_buf_free(&b);
}

static void test_write_through(void **state) {
    fixture *f = *state;
    mcp_str tag = S("t");
    assert_int_equal(mcp_cache_put(f->c, S("a"), S("1"), &(mcp_cache_entry_opts){.tags = &tag, .tag_count = 1}), 0);
    assert_true(l1_has(f->c, "a") && l2_has(f->c, "a"));
    assert_int_equal(mcp_cache_pending_writes(f->c), 0);
    assert_int_equal(mcp_cache_put(f->c, S("b"), S("2"), &(mcp_cache_entry_opts){.policy = MCP_CACHE_WRITE_L1_ONLY}),
                     0);
    assert_true(l1_has(f->c, "b"));
    assert_false(l2_has(f->c, "b"));
    size_t removed;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("t"), &removed), 0);
    assert_int_equal(removed, 2); /* one copy in each tier */
    assert_false(l1_has(f->c, "a") || l2_has(f->c, "a"));
    assert_int_equal(mcp_cache_put(f->c, S("c"), S("3"), &(mcp_cache_entry_opts){.policy = 99}), MCP_EINVAL);
}

static void test_write_back(void **state) {
    fixture *f = *state;
    mcp_cache_free(f->c);
    f->c = open_cache(f, MCP_CACHE_WRITE_BACK, 4, NULL);
    mcp_str tag = S("wb");
    mcp_cache_entry_opts o = {.ttl_ms = 60000, .tags = &tag, .tag_count = 1};
    assert_int_equal(mcp_cache_put(f->c, S("k1"), S("v1"), &o), 0);
    assert_int_equal(mcp_cache_put(f->c, S("k2"), S("v2"), &o), 0);
    assert_true(l1_has(f->c, "k1"));
    assert_false(l2_has(f->c, "k1"));
    assert_int_equal(mcp_cache_pending_writes(f->c), 2);
    assert_int_equal(mcp_cache_flush(f->c), 0);
    assert_int_equal(mcp_cache_pending_writes(f->c), 0);
    assert_true(l2_has(f->c, "k1") && l2_has(f->c, "k2"));
    /* The batch size triggers a flush by itself. */
    for (int i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof key, "b%d", i);
        assert_int_equal(mcp_cache_put(f->c, mcp_str_from(key), S("v"), &o), 0);
    }
    assert_int_equal(mcp_cache_pending_writes(f->c), 0);
    assert_true(l2_has(f->c, "b3"));
    /* Flushed entries keep their tags and expiry on disk. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    assert_int_equal(mcp_cache_l2_get_item(mcp_cache_get_l2(f->c), S("b0"), &arena, &it), 0);
    assert_int_equal(it.expires_ms, fake_now + 60000);
    assert_int_equal(it.tag_count, 1);
    mcp_arena_free(&arena);
    /* Invalidation flushes first: a queued write cannot resurrect the entry. */
    assert_int_equal(mcp_cache_put(f->c, S("late"), S("v"), &o), 0);
    size_t removed;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("wb"), &removed), 0);
    assert_int_equal(removed, 7 + 7); /* seven entries, each in L1 and (late once flushed) on disk */
    assert_int_equal(mcp_cache_flush(f->c), 0);
    assert_false(l2_has(f->c, "late"));
    /* Closing flushes what is pending. */
    assert_int_equal(mcp_cache_put(f->c, S("at-close"), S("v"), NULL), 0);
    assert_int_equal(mcp_cache_pending_writes(f->c), 1);
    mcp_cache_free(f->c);
    f->c = open_cache(f, MCP_CACHE_WRITE_BACK, 4, NULL);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("at-close"), &b), 0);
    assert_string_equal(b.data, "v");
    mcp_buf_free(&b);
}

static void put_dep(mcp_cache *c, bool in_l1, const char *key, const char *tag, const char *dep) {
    mcp_str t = mcp_str_from(tag ? tag : "x"), d = mcp_str_from(dep ? dep : "x");
    mcp_cache_entry_opts o = {.tags = tag ? &t : NULL, .tag_count = tag ? 1 : 0, .deps = dep ? &d : NULL,
                              .dep_count = dep ? 1 : 0};
    if (in_l1) assert_int_equal(mcp_cache_l1_put(mcp_cache_get_l1(c), mcp_str_from(key), S("v"), &o), 0);
    else assert_int_equal(mcp_cache_l2_put(mcp_cache_get_l2(c), mcp_str_from(key), S("v"), &o), 0);
}

static void test_dependencies_across_tiers(void **state) {
    fixture *f = *state;
    /* a (L2 only, tagged) <- b (L1 only) <- c (L2 only) <- d (L1 only). */
    put_dep(f->c, false, "a", "root", NULL);
    put_dep(f->c, true, "b", NULL, "a");
    put_dep(f->c, false, "c", NULL, "b");
    put_dep(f->c, true, "d", NULL, "c");
    put_dep(f->c, true, "other", NULL, "z");
    size_t removed;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("root"), &removed), 0);
    assert_int_equal(removed, 4);
    assert_false(l2_has(f->c, "a") || l1_has(f->c, "b") || l2_has(f->c, "c") || l1_has(f->c, "d"));
    assert_true(l1_has(f->c, "other"));
    /* A cycle spanning the tiers ends. */
    put_dep(f->c, true, "x", NULL, "y");
    put_dep(f->c, false, "y", NULL, "x");
    assert_int_equal(mcp_cache_invalidate_key(f->c, S("x"), &removed), 0);
    assert_int_equal(removed, 2);
}

static int compute_count;

static int compute_value(mcp_str key, mcp_cache_fill *fill, void *user) {
    (void)user;
    compute_count++;
    mcp_str *tags = mcp_arena_alloc(fill->arena, sizeof *tags);
    tags[0] = S("computed");
    fill->opts.tags = tags;
    fill->opts.tag_count = 1;
    fill->opts.ttl_ms = 1000;
    return mcp_buf_appendf(fill->value, "computed %.*s", (int)key.len, key.ptr);
}

static void test_get_or_compute(void **state) {
    fixture *f = *state;
    compute_count = 0;
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get_or_compute(f->c, S("q"), compute_value, NULL, &b), 0);
    assert_string_equal(b.data, "computed q");
    assert_int_equal(compute_count, 1);
    assert_true(l1_has(f->c, "q") && l2_has(f->c, "q")); /* write-through */
    /* From L2 after L1 lost it: no compute, promoted with its tag and expiry. */
    mcp_cache_l1_remove(mcp_cache_get_l1(f->c), S("q"));
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_get_or_compute(f->c, S("q"), compute_value, NULL, &b), 0);
    assert_string_equal(b.data, "computed q");
    assert_int_equal(compute_count, 1);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    assert_int_equal(mcp_cache_l1_get_item(mcp_cache_get_l1(f->c), S("q"), &arena, &it), 0);
    assert_int_equal(it.expires_ms, fake_now + 1000);
    assert_int_equal(it.tag_count, 1);
    mcp_arena_free(&arena);
    size_t removed;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("computed"), &removed), 0);
    assert_int_equal(removed, 2);
    fake_now += 1;
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_get_or_compute(f->c, S("q"), compute_value, NULL, &b), 0);
    assert_int_equal(compute_count, 2);
    mcp_buf_free(&b);
}

/* Many threads miss one key through the facade: one compute, one disk write. */
typedef struct flight_ctx {
    mcp_cache *c;
    atomic_int computes;
    atomic_int arrived;
    int rc[8];
    char value[8][32];
} flight_ctx;

static int slow_compute(mcp_str key, mcp_cache_fill *fill, void *user) {
    flight_ctx *x = user;
    atomic_fetch_add(&x->computes, 1);
    /* Wait (bounded) until every thread has asked, so they overlap. */
    for (int i = 0; i < 2000 && atomic_load(&x->arrived) < 8; i++) usleep(1000);
    usleep(20000);
    return mcp_buf_appendf(fill->value, "shared %.*s", (int)key.len, key.ptr);
}

typedef struct flight_arg {
    flight_ctx *x;
    int i;
} flight_arg;

static void *flight_thread(void *p) {
    flight_arg *a = p;
    mcp_buf b;
    mcp_buf_init(&b);
    atomic_fetch_add(&a->x->arrived, 1);
    a->x->rc[a->i] = mcp_cache_get_or_compute(a->x->c, S("hot"), slow_compute, a->x, &b);
    snprintf(a->x->value[a->i], sizeof a->x->value[0], "%s", b.data ? b.data : "");
    mcp_buf_free(&b);
    return NULL;
}

static void test_single_flight_through_tiers(void **state) {
    fixture *f = *state;
    flight_ctx *x = calloc(1, sizeof *x);
    x->c = f->c;
    pthread_t th[8];
    flight_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (flight_arg){x, i};
        assert_int_equal(pthread_create(&th[i], NULL, flight_thread, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&x->computes), 1);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(x->rc[i], 0);
        assert_string_equal(x->value[i], "shared hot");
    }
    mcp_cache_stats st;
    mcp_cache_l2_stats(mcp_cache_get_l2(f->c), &st);
    assert_int_equal(st.puts, 1);
    assert_int_equal(st.misses, 1); /* only the leader looked on disk */
    assert_true(l2_has(f->c, "hot"));
    /* The other seven waited for the leader or, arriving after it, hit L1. */
    mcp_cache_l1_stats(mcp_cache_get_l1(f->c), &st);
    assert_int_equal(st.computes, 1);
    assert_int_equal(st.coalesced + st.hits, 7);
    free(x);
}

/* ---- L3 slot: a second real L2 that answers from another thread ---------- */

typedef struct async_tier {
    mcp_cache_tier tier;
    mcp_cache_l2 *store;
    atomic_int gets, puts, invalidations;
} async_tier;

typedef struct async_job {
    async_tier *t;
    int op;
    char key[MCP_CACHE_KEY_MAX];
    size_t key_len;
    mcp_cache_item item;
    mcp_cache_done_fn done;
    void *done_user;
} async_job;

static void *async_run(void *p) {
    async_job *j = p;
    mcp_str key = {j->key, j->key_len};
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    int rc;
    switch (j->op) {
    case 0:
        rc = mcp_cache_l2_get_item(j->t->store, key, &arena, &it);
        j->done(j->done_user, rc, rc == 0 ? &it : NULL);
        break;
    case 1:
        rc = mcp_cache_l2_invalidate_tag(j->t->store, key, NULL);
        j->done(j->done_user, rc, NULL);
        break;
    default:
        rc = mcp_cache_l2_invalidate_key(j->t->store, key, NULL);
        j->done(j->done_user, rc, NULL);
        break;
    }
    mcp_arena_free(&arena);
    free(j);
    return NULL;
}

static int async_start(async_tier *t, int op, mcp_str key, mcp_cache_done_fn done, void *done_user) {
    async_job *j = calloc(1, sizeof *j);
    j->t = t;
    j->op = op;
    memcpy(j->key, key.ptr, key.len);
    j->key_len = key.len;
    j->done = done;
    j->done_user = done_user;
    pthread_t th;
    if (pthread_create(&th, NULL, async_run, j)) return MCP_ENOMEM;
    pthread_detach(th);
    return MCP_PENDING;
}

static int tier_get(mcp_cache_tier *tier, mcp_str key, mcp_arena *arena, mcp_cache_item *item,
                    mcp_cache_done_fn done, void *done_user) {
    (void)arena;
    (void)item;
    async_tier *t = (async_tier *)tier;
    atomic_fetch_add(&t->gets, 1);
    return async_start(t, 0, key, done, done_user);
}

static int tier_put(mcp_cache_tier *tier, const mcp_cache_item *item, mcp_cache_done_fn done, void *done_user) {
    (void)done;
    (void)done_user;
    async_tier *t = (async_tier *)tier;
    atomic_fetch_add(&t->puts, 1);
    return mcp_cache_l2_put_item(t->store, item); /* completes at once: the other path */
}

static int tier_invalidate_tag(mcp_cache_tier *tier, mcp_str tag, mcp_cache_done_fn done, void *done_user) {
    async_tier *t = (async_tier *)tier;
    atomic_fetch_add(&t->invalidations, 1);
    return async_start(t, 1, tag, done, done_user);
}

static int tier_invalidate_key(mcp_cache_tier *tier, mcp_str key, mcp_cache_done_fn done, void *done_user) {
    async_tier *t = (async_tier *)tier;
    atomic_fetch_add(&t->invalidations, 1);
    return async_start(t, 2, key, done, done_user);
}

static void test_l3_slot(void **state) {
    fixture *f = *state;
    make_dir(f->dir3, sizeof f->dir3);
    async_tier t = {.tier = {"test-l3", tier_get, tier_put, tier_invalidate_tag, tier_invalidate_key}};
    assert_int_equal(mcp_cache_l2_open(&(mcp_cache_l2_opts){.path = f->dir3, .clock = fake_clock}, &t.store), 0);
    mcp_cache_free(f->c);
    f->c = open_cache(f, MCP_CACHE_WRITE_THROUGH, 0, &t.tier);
    /* Only in L3: found through the asynchronous get, promoted to L2 and L1. */
    mcp_str tag = S("remote");
    assert_int_equal(mcp_cache_l2_put(t.store, S("r"), S("remote value"),
                                      &(mcp_cache_entry_opts){.ttl_ms = 900, .tags = &tag, .tag_count = 1}),
                     0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_get(f->c, S("r"), &b), 0);
    assert_string_equal(b.data, "remote value");
    assert_int_equal(atomic_load(&t.gets), 1);
    assert_true(l1_has(f->c, "r") && l2_has(f->c, "r"));
    mcp_buf_reset(&b);
    assert_int_equal(mcp_cache_get(f->c, S("r"), &b), 0);
    assert_int_equal(atomic_load(&t.gets), 1); /* served by L1 now */
    assert_int_equal(mcp_cache_get(f->c, S("absent"), &b), MCP_ENOTFOUND);
    assert_int_equal(atomic_load(&t.gets), 2);
    /* Writes go through to L3; invalidation reaches it. */
    assert_int_equal(mcp_cache_put(f->c, S("w"), S("v"), &(mcp_cache_entry_opts){.tags = &tag, .tag_count = 1}), 0);
    assert_int_equal(atomic_load(&t.puts), 1);
    size_t removed;
    assert_int_equal(mcp_cache_invalidate_tag(f->c, S("remote"), &removed), 0);
    assert_int_equal(removed, 4); /* r and w, each in L1 and L2 */
    mcp_cache_stats st;
    mcp_cache_l2_stats(t.store, &st);
    assert_int_equal(st.entries, 0);
    mcp_cache_free(f->c);
    f->c = NULL;
    mcp_cache_l2_close(t.store);
    mcp_buf_free(&b);
}

static void test_key_for_call(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *a, *b, *c;
    mcp_json_error err;
    const char *ta = "{\"b\": [1, 2], \"a\": {\"y\": 1, \"x\": \"s\"}}";
    const char *tb = "{\"a\":{\"x\":\"s\",\"y\":1},\"b\":[1,2]}";
    const char *tc = "{\"a\":{\"x\":\"s\",\"y\":2},\"b\":[1,2]}";
    assert_int_equal(mcp_json_parse(&arena, ta, strlen(ta), NULL, &a, &err), 0);
    assert_int_equal(mcp_json_parse(&arena, tb, strlen(tb), NULL, &b, &err), 0);
    assert_int_equal(mcp_json_parse(&arena, tc, strlen(tc), NULL, &c, &err), 0);
    mcp_buf ka, kb, kc;
    mcp_buf_init(&ka);
    mcp_buf_init(&kb);
    mcp_buf_init(&kc);
    assert_int_equal(mcp_cache_key_for_call("search", a, &ka), 0);
    assert_int_equal(mcp_cache_key_for_call("search", b, &kb), 0);
    assert_int_equal(mcp_cache_key_for_call("search", c, &kc), 0);
    assert_int_equal(ka.len, kb.len);
    assert_memory_equal(ka.data, kb.data, ka.len);
    assert_memory_equal(ka.data, "search\0{\"a\":", 12);
    assert_false(ka.len == kc.len && memcmp(ka.data, kc.data, ka.len) == 0);
    assert_int_equal(mcp_cache_key_for_call("searc", a, &kc), 0);
    assert_false(ka.len == kc.len && memcmp(ka.data, kc.data, ka.len) == 0);
    /* Long arguments: hashed, within the key limit, still deterministic. */
    mcp_buf big;
    mcp_buf_init(&big);
    mcp_buf_append_cstr(&big, "{\"q\":\"");
    for (int i = 0; i < 2000; i++) mcp_buf_append_char(&big, 'a' + i % 26);
    mcp_buf_append_cstr(&big, "\"}");
    mcp_json *l;
    assert_int_equal(mcp_json_parse(&arena, big.data, big.len, NULL, &l, &err), 0);
    assert_int_equal(mcp_cache_key_for_call("t", l, &ka), 0);
    assert_true(ka.len <= MCP_CACHE_KEY_MAX);
    assert_memory_equal(ka.data, "t\0#", 3);
    assert_int_equal(mcp_cache_key_for_call("t", l, &kb), 0);
    assert_memory_equal(ka.data, kb.data, ka.len);
    big.data[100] = big.data[100] == 'x' ? 'y' : 'x';
    assert_int_equal(mcp_json_parse(&arena, big.data, big.len, NULL, &l, &err), 0);
    assert_int_equal(mcp_cache_key_for_call("t", l, &kb), 0);
    assert_false(memcmp(ka.data, kb.data, ka.len) == 0);
    /* Bad input. */
    assert_int_equal(mcp_cache_key_for_call("", a, &ka), MCP_EINVAL);
    assert_int_equal(mcp_cache_key_for_call(NULL, a, &ka), MCP_EINVAL);
    char long_name[MCP_CACHE_KEY_MAX];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_int_equal(mcp_cache_key_for_call(long_name, a, &ka), MCP_EINVAL);
    assert_int_equal(mcp_cache_key_for_call("t", NULL, &ka), 0);
    assert_memory_equal(ka.data, "t\0null", 6);
    mcp_buf_free(&big);
    mcp_buf_free(&ka);
    mcp_buf_free(&kb);
    mcp_buf_free(&kc);
    mcp_arena_free(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_promotion_keeps_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dependencies_across_tiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_or_compute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_flight_through_tiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l3_slot, setup, teardown),
        cmocka_unit_test(test_key_for_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
