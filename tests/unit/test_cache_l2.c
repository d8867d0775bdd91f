/*
 * L2 cache (LMDB): values, expiry and indexes survive closing and reopening
 * the environment; invalidation by tag and transitive dependency finds
 * entries through the on-disk indexes; the map and entry bounds evict
 * expired then oldest entries; bad input is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t fake_now = 5000000;

static uint64_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

#define S(lit) MCP_STR_LIT(lit)

typedef struct fixture {
    char dir[256];
    mcp_cache_l2 *l2;
} fixture;

static void remove_dir(const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static mcp_cache_l2 *open_l2(fixture *f, size_t map_size, size_t max_entries) {
    mcp_cache_l2 *l2 = NULL;
    int rc = mcp_cache_l2_open(&(mcp_cache_l2_opts){.path = f->dir, .map_size = map_size, .max_entries = max_entries,
                                                    .clock = fake_clock},
                               &l2);
    assert_int_equal(rc, 0);
    return l2;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/mcp-l2-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) return -1;
    fake_now = 5000000;
    f->l2 = open_l2(f, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_cache_l2_close(f->l2);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture *f) {
    mcp_cache_l2_close(f->l2);
    f->l2 = open_l2(f, 0, 0);
}

static bool has(mcp_cache_l2 *l2, const char *key) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_cache_l2_get(l2, mcp_str_from(key), &b);
    mcp_buf_free(&b);
    assert_true(rc == 0 || rc == MCP_ENOTFOUND);
    return rc == 0;
}

static void put_meta(mcp_cache_l2 *l2, const char *key, const char *tag, const char *dep) {
    mcp_str t = mcp_str_from(tag ? tag : "x"), d = mcp_str_from(dep ? dep : "x");
    mcp_cache_entry_opts o = {.tags = tag ? &t : NULL, .tag_count = tag ? 1 : 0, .deps = dep ? &d : NULL,
                              .dep_count = dep ? 1 : 0};
    assert_int_equal(mcp_cache_l2_put(l2, mcp_str_from(key), S("v"), &o), 0);
}

static void test_persistence_across_reopen(void **state) {
    fixture *f = *state;
    mcp_str tags[] = {S("t1"), S("t2")}, deps[] = {S("src")};
    assert_int_equal(mcp_cache_l2_put(f->l2, S("k"), S("value one"),
                                      &(mcp_cache_entry_opts){.ttl_ms = 60000, .tags = tags, .tag_count = 2,
                                                              .deps = deps, .dep_count = 1}),
                     0);
    put_meta(f->l2, "plain", NULL, NULL);
    reopen(f);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_l2_get(f->l2, S("k"), &b), 0);
    assert_string_equal(b.data, "value one");
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_cache_item it;
    assert_int_equal(mcp_cache_l2_get_item(f->l2, S("k"), &arena, &it), 0);
    assert_int_equal(it.expires_ms, 5000000 + 60000);
    assert_int_equal(it.tag_count, 2);
    assert_true(mcp_str_eq(it.tags[1], S("t2")));
    assert_int_equal(it.dep_count, 1);
    assert_true(mcp_str_eq(it.deps[0], S("src")));
    /* The indexes came back too: invalidation after the restart finds it. */
    size_t removed;
    assert_int_equal(mcp_cache_l2_invalidate_key(f->l2, S("src"), &removed), 0);
    assert_int_equal(removed, 1);
    assert_false(has(f->l2, "k"));
    assert_true(has(f->l2, "plain"));
    /* Writes after a reopen do not collide with older sequence numbers. */
    put_meta(f->l2, "after", NULL, NULL);
    reopen(f);
    assert_true(has(f->l2, "after") && has(f->l2, "plain"));
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 2);
    mcp_arena_free(&arena);
    mcp_buf_free(&b);
}

static void test_expiry_stored(void **state) {
    fixture *f = *state;
    assert_int_equal(mcp_cache_l2_put(f->l2, S("short"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 100}), 0);
    assert_int_equal(mcp_cache_l2_put(f->l2, S("long"), S("v"), &(mcp_cache_entry_opts){.ttl_ms = 10000}), 0);
    put_meta(f->l2, "never", NULL, NULL);
    reopen(f);
    assert_true(has(f->l2, "short"));
    fake_now += 100;
    assert_false(has(f->l2, "short")); /* lazily dropped on read */
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.expirations, 1);
    fake_now += 10000;
    assert_int_equal(mcp_cache_l2_sweep(f->l2), 1);
    assert_true(has(f->l2, "never"));
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 1);
    /* An item already past its time is not stored. */
    mcp_cache_item old = {.key = S("old"), .value = S("v"), .expires_ms = fake_now - 1};
    assert_int_equal(mcp_cache_l2_put_item(f->l2, &old), 0);
    assert_false(has(f->l2, "old"));
}

static void test_tag_and_dependency_invalidation(void **state) {
    fixture *f = *state;
    char key[16], tag[8];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(tag, sizeof tag, "t%d", i % 3);
        put_meta(f->l2, key, tag, NULL);
    }
    /* Dependents of tagged entries go too: d1 <- k0 (tag t0), d2 <- d1. */
    put_meta(f->l2, "d1", NULL, "k0");
    put_meta(f->l2, "d2", NULL, "d1");
    /* A cycle among dependents. */
    put_meta(f->l2, "c1", NULL, "c2");
    put_meta(f->l2, "c2", NULL, "c1");
    size_t removed;
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("t0"), &removed), 0);
    assert_int_equal(removed, 102);
    assert_false(has(f->l2, "d1") || has(f->l2, "d2") || has(f->l2, "k3"));
    assert_true(has(f->l2, "k1") && has(f->l2, "k2"));
    assert_int_equal(mcp_cache_l2_invalidate_key(f->l2, S("c1"), &removed), 0);
    assert_int_equal(removed, 2);
    /* A re-put entry is indexed by its new tags only. */
    put_meta(f->l2, "k1", "fresh", NULL);
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("t1"), &removed), 0);
    assert_int_equal(removed, 99);
    assert_true(has(f->l2, "k1"));
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("fresh"), &removed), 0);
    assert_int_equal(removed, 1);
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 100);
    assert_int_equal(st.invalidations, 204);
}

/* Invalidating a tag shared by a run of entries deletes each entry's other
 * index rows too: a re-put untagged key is not reached by its old tag. */
static void test_tag_run_drops_every_index_row(void **state) {
    fixture *f = *state;
    char key[32], group[8];
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof key, "run:%04d", i);
        snprintf(group, sizeof group, "g%d", i % 4);
        mcp_str tags[2] = {mcp_str_from(group), S("all")}, dep = S("src");
        mcp_cache_entry_opts o = {.tags = tags, .tag_count = 2, .deps = &dep, .dep_count = 1};
        assert_int_equal(mcp_cache_l2_put(f->l2, mcp_str_from(key), S("v"), &o), 0);
    }
    size_t removed;
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("all"), &removed), 0);
    assert_int_equal(removed, 400);
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof key, "run:%04d", i);
        assert_int_equal(mcp_cache_l2_put(f->l2, mcp_str_from(key), S("w"), NULL), 0);
    }
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("g1"), &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(mcp_cache_l2_invalidate_key(f->l2, S("src"), &removed), 0);
    assert_int_equal(removed, 0);
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 400);
}

static void test_max_entries_evicts_oldest(void **state) {
    fixture *f = *state;
    mcp_cache_l2_close(f->l2);
    f->l2 = open_l2(f, 0, 50);
    char key[16];
    for (int i = 0; i < 120; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        put_meta(f->l2, key, "t", NULL);
    }
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_int_equal(st.entries, 50);
    assert_int_equal(st.evictions, 70);
    assert_false(has(f->l2, "k069"));
    assert_true(has(f->l2, "k070") && has(f->l2, "k119"));
    /* Evicted entries left the tag index with them. */
    size_t removed;
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, S("t"), &removed), 0);
    assert_int_equal(removed, 50);
}

static void test_map_full_makes_room(void **state) {
    fixture *f = *state;
    mcp_cache_l2_close(f->l2);
    remove_dir(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    f->l2 = open_l2(f, 1 << 20, 0); /* 1 MiB map */
    char value[4000];
    memset(value, 'v', sizeof value);
    char key[16];
    /* Some expire soon: they are the first to go when room is needed. */
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "exp%d", i);
        assert_int_equal(mcp_cache_l2_put(f->l2, mcp_str_from(key), (mcp_str){value, sizeof value},
                                          &(mcp_cache_entry_opts){.ttl_ms = 10}),
                         0);
    }
    fake_now += 20;
    /* Far more than 1 MiB in total: every put must still succeed. */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        assert_int_equal(mcp_cache_l2_put(f->l2, mcp_str_from(key), (mcp_str){value, sizeof value}, NULL), 0);
    }
    mcp_cache_stats st;
    mcp_cache_l2_stats(f->l2, &st);
    assert_true(st.entries > 50 && st.entries < 1000);
    assert_int_equal(st.expirations, 20);
    assert_true(st.evictions > 0);
    assert_int_equal(st.entries + st.evictions, 1000);
    assert_true(has(f->l2, "k0999"));
    assert_false(has(f->l2, "k0000"));
    /* A value larger than the whole map is refused with ELIMIT, nothing lost. */
    size_t before = st.entries;
    char *huge = calloc(1, 2 << 20);
    assert_int_equal(mcp_cache_l2_put(f->l2, S("huge"), (mcp_str){huge, 2 << 20}, NULL), MCP_ELIMIT);
    free(huge);
    assert_true(has(f->l2, "k0999"));
    mcp_cache_l2_stats(f->l2, &st);
    assert_true(st.entries > 0 && st.entries <= before);
}

static void test_bad_input_and_double_open(void **state) {
    fixture *f = *state;
    mcp_cache_l2 *again = NULL;
    assert_int_equal(mcp_cache_l2_open(&(mcp_cache_l2_opts){.path = f->dir}, &again), MCP_EEXIST);
    assert_null(again);
    assert_int_equal(mcp_cache_l2_open(&(mcp_cache_l2_opts){.path = "/proc/no-such/dir"}, &again), MCP_EIO);
    char big[MCP_CACHE_KEY_MAX + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(mcp_cache_l2_put(f->l2, (mcp_str){big, sizeof big}, S("v"), NULL), MCP_EINVAL);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_cache_l2_get(f->l2, (mcp_str){big, sizeof big}, &b), MCP_EINVAL);
    assert_int_equal(mcp_cache_l2_get(f->l2, S("absent"), &b), MCP_ENOTFOUND);
    mcp_buf_free(&b);
    /* A maximal key and tag work. */
    big[0] = 'm';
    mcp_str tag = {big, MCP_CACHE_KEY_MAX};
    assert_int_equal(mcp_cache_l2_put(f->l2, (mcp_str){big, MCP_CACHE_KEY_MAX}, S("v"),
                                      &(mcp_cache_entry_opts){.tags = &tag, .tag_count = 1}),
                     0);
    size_t removed;
    assert_int_equal(mcp_cache_l2_invalidate_tag(f->l2, tag, &removed), 0);
    assert_int_equal(removed, 1);
}

static void test_default_path(void **state) {
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    char *xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
    setenv("XDG_DATA_HOME", "/srv/data", 1);
    assert_int_equal(mcp_cache_l2_default_path(&b), 0);
    assert_string_equal(b.data, "/srv/data/mcpd/cache");
    setenv("XDG_DATA_HOME", "relative", 1);
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(mcp_cache_l2_default_path(&b), 0);
    assert_string_equal(b.data, "/home/someone/.local/share/mcpd/cache");
    if (xdg) setenv("XDG_DATA_HOME", xdg, 1);
    else unsetenv("XDG_DATA_HOME");
    if (home) setenv("HOME", home, 1);
    free(xdg);
    free(home);
    mcp_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persistence_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_and_dependency_invalidation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_run_drops_every_index_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_entries_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_and_double_open, setup, teardown),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
