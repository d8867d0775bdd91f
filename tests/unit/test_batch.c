/*
 * The request batcher against a real mcpd server on 127.0.0.1 (the TCP
 * runtime, in process): every request gets its own, correct completion
 * under each strategy; groups travel as batch arrays with 2025-03-26 and as
 * pipelined writes otherwise; the adaptive size moves, and holds in a deep
 * pipeline; the strategy changes at run time; a server restarted on the
 * same port is reconnected to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/batch_internal.h"
#include "net/net_internal.h"
#include "test_tcp_runtime.h"

/* ---- Server ------------------------------------------------------------------- */
/* Works 20 us on the server's loop: a server slower than the client can
 * send, so requests pile up in flight. */
static int tool_work_20us(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    uint64_t until = mcp_now_ns() + 20000u;
    while (mcp_now_ns() < until) {
    }
    return mcp_call_text_n(call, "done", 4);
}

static void server_start(server_fixture *f, int port) {
    server_start_with(f, port, "batch-test", &(mcp_tool){.name = "work_20us", .fn = tool_work_20us}, 1);
}

/* ---- Completions ----------------------------------------------------------------- */
#define MAX_ITEMS 4000

typedef struct outcome {
    atomic_int calls; /* must end at exactly 1 */
    int status;
    bool matched;     /* the reply's text names this request's n */
} outcome;

typedef struct run {
    outcome items[MAX_ITEMS];
    int index[MAX_ITEMS];
} run;

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)id;
    int *slot = user;
    run *r = (run *)((char *)(slot - *slot) - offsetof(run, index));
    outcome *o = &r->items[*slot];
    o->status = status;
    if (status == 0) {
        const mcp_json *text = mcp_json_get(mcp_json_first(mcp_json_get(value, "content")), "text");
        char want[32];
        snprintf(want, sizeof want, "n=%d", *slot);
        o->matched = text && strcmp(mcp_json_str(text, ""), want) == 0;
    }
    atomic_fetch_add(&o->calls, 1);
}

static run *run_new(void) {
    run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < MAX_ITEMS; i++) r->index[i] = i;
    return r;
}

static void add_calls(mcp_batcher *b, run *r, int from, int to) {
    char params[96];
    for (int i = from; i < to; i++) {
        snprintf(params, sizeof params, "{\"name\":\"echo_n\",\"arguments\":{\"n\":%d}}", i);
        assert_int_equal(mcp_batcher_add(b, "tools/call", params, on_done, &r->index[i]), 0);
    }
}

static void assert_all_ok(run *r, int from, int to) {
    for (int i = from; i < to; i++) {
        if (atomic_load(&r->items[i].calls) != 1 || r->items[i].status != 0 || !r->items[i].matched)
            fail_msg("request %d: %d completions, status %d, matched %d", i, atomic_load(&r->items[i].calls),
                     r->items[i].status, r->items[i].matched);
    }
}

static mcp_batcher *batcher_new(const server_fixture *f, const char *version, unsigned workers,
                                mcp_batch_strategy s) {
    mcp_batcher *b = NULL;
    int rc = mcp_batcher_new(&(mcp_batcher_opts){.connect = f->addr, .protocol_version = version,
                                                 .workers = workers, .strategy = s, .timeout_ms = 5000},
                             &b);
    assert_int_equal(rc, 0);
    return b;
}

/* A server, a batcher connected to it, and the completions of its calls. */
typedef struct batch_test {
    server_fixture f;
    run *r;
    mcp_batcher *b;
} batch_test;

static void batch_test_start(batch_test *t, const char *version, unsigned workers, mcp_batch_strategy s) {
    *t = (batch_test){0};
    server_start(&t->f, 0);
    t->r = run_new();
    t->b = batcher_new(&t->f, version, workers, s);
}

static void batch_test_stop(batch_test *t) {
    mcp_batcher_free(t->b);
    free(t->r);
    server_free(&t->f);
}

/* Calls 0 to count - 1, flushed within flush_ms: each must complete once,
 * with its own reply. The stats after them. */
static mcp_batcher_stats send_all(batch_test *bt, int count, unsigned flush_ms) {
    add_calls(bt->b, bt->r, 0, count);
    assert_int_equal(mcp_batcher_flush(bt->b, flush_ms), 0);
    assert_all_ok(bt->r, 0, count);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(bt->b, &st);
    return st;
}

/* ---- Tests ------------------------------------------------------------------------- */
static void size_strategy_sends_arrays_with_2025_03_26(void **state) {
    (void)state;
    batch_test bt;
    /* A window of a minute: on a busy machine the adding thread may stall
     * past the default millisecond, and a group would leave short. */
    batch_test_start(&bt, "2025-03-26", 2,
                     (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 50, .window_us = 60000000});
    assert_string_equal(mcp_batcher_protocol_version(bt.b), "2025-03-26");
    mcp_batcher_stats st = send_all(&bt, 2000, 10000);
    assert_int_equal(st.added, 2000);
    assert_int_equal(st.completed, 2000);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.groups, st.arrays);
    assert_int_equal(st.groups, 40); /* 1000 per worker, 50 per group: no window ever fired */
    assert_true(st.mean_group_size == 50.0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.inflight, 0);
    mcp_net_counters c;
    mcp_net_counters_get(bt.f.net, &c);
    /* 40 array texts plus the two handshakes (initialize, initialized) per connection */
    assert_int_equal(c.messages_in, 40 + 4);
    printf("# size(50), 2000 calls: groups %llu, writes %llu, server reads %llu, server writes %llu\n",
           (unsigned long long)st.groups, (unsigned long long)st.writes, (unsigned long long)c.reads,
           (unsigned long long)c.writes);
    batch_test_stop(&bt);
}

static void modern_era_pipelines_groups_in_one_write(void **state) {
    (void)state;
    batch_test bt;
    batch_test_start(&bt, NULL, 1, (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 100, .window_us = 60000000});
    assert_string_equal(mcp_batcher_protocol_version(bt.b), MCP_PROTOCOL_MODERN);
    mcp_batcher_stats st = send_all(&bt, 1000, 10000);
    assert_int_equal(st.groups, 10);
    assert_int_equal(st.arrays, 0);
    /* One write per group (a partial write would add some; loopback takes 100 small requests whole). */
    assert_true(st.writes <= st.groups + 2);
    mcp_net_counters c;
    mcp_net_counters_get(bt.f.net, &c);
    assert_int_equal(c.messages_in, 1000 + 1); /* + server/discover */
    batch_test_stop(&bt);
}

static void handshake_versions_without_arrays_are_pipelined(void **state) {
    (void)state;
    batch_test bt;
    batch_test_start(&bt, "2025-06-18", 1,
                     (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 20, .window_us = 60000000});
    mcp_batcher_stats st = send_all(&bt, 200, 10000);
    assert_int_equal(st.arrays, 0);
    assert_int_equal(st.groups, 10);
    batch_test_stop(&bt);
}

static void time_window_sends_a_trickle_without_flush(void **state) {
    (void)state;
    batch_test bt;
    batch_test_start(&bt, "2025-03-26", 1,
                     (mcp_batch_strategy){.kind = MCP_BATCH_TIME, .window_us = 20000});
    uint64_t t0 = mcp_now_ns();
    add_calls(bt.b, bt.r, 0, 5);
    while (atomic_load(&bt.r->items[4].calls) == 0 && mcp_now_ns() - t0 < 3000000000u) usleep(1000);
    uint64_t waited_us = (mcp_now_ns() - t0) / 1000u;
    assert_all_ok(bt.r, 0, 5);
    assert_true(waited_us >= 20000); /* held for the window ... */
    mcp_batcher_stats st;
    mcp_batcher_get_stats(bt.b, &st);
    assert_int_equal(st.groups, 1); /* ... and sent as one group */
    /* A size strategy with a window does not strand a short group either. */
    assert_int_equal(mcp_batcher_set_strategy(bt.b, &(mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 1000,
                                                                        .window_us = 5000}), 0);
    add_calls(bt.b, bt.r, 5, 8);
    t0 = mcp_now_ns();
    while (atomic_load(&bt.r->items[7].calls) == 0 && mcp_now_ns() - t0 < 3000000000u) usleep(1000);
    assert_all_ok(bt.r, 5, 8);
    batch_test_stop(&bt);
}

static void adaptive_size_grows_while_fast_and_shrinks_on_failure(void **state) {
    (void)state;
    mcp_batch_strategy s = {.kind = MCP_BATCH_ADAPTIVE, .min_size = 4, .max_size = 64, .target_latency_us = 1000};
    assert_int_equal(mcp_batch_strategy_normalize(&s), 0);
    size_t t = 4;
    for (int i = 0; i < 40; i++) t = mcp_batch_adapt(&s, t, true, 100, 0);
    assert_int_equal(t, 64);                                   /* capped at max */
    assert_int_equal(mcp_batch_adapt(&s, 64, false, 100, 0), 64); /* a short group proves nothing */
    assert_int_equal(mcp_batch_adapt(&s, 64, true, 5000, 0), 48); /* slow: a quarter off */
    assert_int_equal(mcp_batch_adapt(&s, 48, true, 100, 3), 24);  /* failures: half */
    assert_int_equal(mcp_batch_adapt(&s, 5, true, 100, 1), 4);     /* never below min */
    /* Service time: from when the server could start on the group. */
    assert_int_equal(mcp_batch_service_us(0, 9000000, 10000000), 1000);       /* waited behind the one ahead */
    assert_int_equal(mcp_batch_service_us(5000000, 1000000, 6000000), 1000);  /* the one ahead was long done */
    assert_int_equal(mcp_batch_service_us(5000000, 0, 7000000), 2000);        /* nothing ahead */
    assert_int_equal(mcp_batch_service_us(5000000, 8000000, 7000000), 0);     /* answered out of order */
    mcp_batch_strategy bad = {.kind = MCP_BATCH_ADAPTIVE, .min_size = 10, .max_size = 5};
    assert_int_equal(mcp_batch_strategy_normalize(&bad), MCP_EINVAL);

    /* Against the server: a fast local server lets the size climb from min. */
    batch_test bt;
    batch_test_start(&bt, "2025-03-26", 1,
                     (mcp_batch_strategy){.kind = MCP_BATCH_ADAPTIVE, .min_size = 2, .max_size = 256,
                                          .target_latency_us = 200000});
    mcp_batcher_stats st = send_all(&bt, 4000, 20000);
    printf("# adaptive 2..256: target now %zu, mean group %.1f, group latency %.0f us\n", st.target_size,
           st.mean_group_size, st.group_latency_us);
    assert_true(st.target_size > 2);
    assert_true(st.group_latency_us > 0);
    batch_test_stop(&bt);
}

static void count_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    if (status != 0) atomic_fetch_add((atomic_int *)user, 1);
}

/* A deep pipeline: a server slower than the client, with up to 16384
 * requests in flight on one connection, so every group waits hundreds of
 * milliseconds behind the ones sent before it.
 * That wait is the pipeline's, not the group's: judged by its round trip,
 * the rule shrank groups, which answered more slowly, which lengthened the
 * wait, down to min_size. Judged by service time, groups stay large. */
static void adaptive_size_holds_in_a_deep_pipeline(void **state) {
    (void)state;
    enum { CALLS = 30000 };
    server_fixture f = {0};
    server_start(&f, 0);
    mcp_batcher *b = NULL;
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = f.addr, .protocol_version = "2025-03-26",
                                                         .strategy = {.kind = MCP_BATCH_ADAPTIVE, .min_size = 8,
                                                                      .max_size = 256,
                                                                      .target_latency_us = 20000},
                                                         .max_inflight = 16384, .max_queued = CALLS,
                                                         .timeout_ms = 60000},
                                     &b),
                     0);
    atomic_int failures = 0;
    for (int i = 0; i < CALLS; i++)
        assert_int_equal(mcp_batcher_add(b, "tools/call", "{\"name\":\"work_20us\",\"arguments\":{}}", count_done,
                                         &failures),
                         0);
    assert_int_equal(mcp_batcher_flush(b, 60000), 0);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(b, &st);
    printf("# deep pipeline, adaptive 8..256 (starts at 64), target 20 ms: target now %zu, mean group %.1f, "
           "group round trip %.0f us\n",
           st.target_size, st.mean_group_size, st.group_latency_us);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(st.completed, CALLS);
    assert_true(st.target_size >= 64);
    assert_true(st.mean_group_size >= 64);
    mcp_batcher_free(b);
    server_free(&f);
}

static void strategy_changes_at_run_time(void **state) {
    (void)state;
    batch_test bt;
    /* A size nothing will reach and a window of a minute: requests wait ... */
    batch_test_start(&bt, "2025-03-26", 1,
                     (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 1000,
                                          .window_us = 60000000});
    add_calls(bt.b, bt.r, 0, 10);
    usleep(50000);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(bt.b, &st);
    assert_int_equal(st.queued, 10);
    assert_int_equal(st.completed, 0);
    /* ... until the strategy says otherwise. */
    assert_int_equal(mcp_batcher_set_strategy(bt.b, &(mcp_batch_strategy){.kind = MCP_BATCH_NONE}), 0);
    uint64_t t0 = mcp_now_ns();
    while (atomic_load(&bt.r->items[9].calls) == 0 && mcp_now_ns() - t0 < 3000000000u) usleep(1000);
    assert_all_ok(bt.r, 0, 10);
    mcp_batcher_get_stats(bt.b, &st);
    assert_int_equal(st.target_size, 1);
    assert_int_equal(mcp_batcher_set_strategy(bt.b, &(mcp_batch_strategy){.kind = 99}), MCP_EINVAL);
    batch_test_stop(&bt);
}

static void server_restart_is_survived(void **state) {
    (void)state;
    batch_test bt;
    batch_test_start(&bt, "2025-03-26", 1, (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 10});
    int port = bt.f.port;
    add_calls(bt.b, bt.r, 0, 100);
    assert_int_equal(mcp_batcher_flush(bt.b, 10000), 0);
    assert_all_ok(bt.r, 0, 100);

    server_stop(&bt.f);
    /* While the server is down, requests wait in the queue (or fail after their timeout). */
    add_calls(bt.b, bt.r, 100, 110);
    usleep(100000);
    server_start(&bt.f, port);
    assert_int_equal(bt.f.port, port);
    add_calls(bt.b, bt.r, 110, 200);
    assert_int_equal(mcp_batcher_flush(bt.b, 10000), 0);
    int ok = 0;
    for (int i = 100; i < 200; i++) {
        assert_int_equal(atomic_load(&bt.r->items[i].calls), 1);
        if (bt.r->items[i].status == 0) {
            assert_true(bt.r->items[i].matched);
            ok++;
        } else {
            /* In flight on the dead link, or queued past its timeout while a
             * reconnection attempt hung in a listener that was going away. */
            printf("# request %d: %s\n", i, mcp_strerror(bt.r->items[i].status));
            assert_true(bt.r->items[i].status == MCP_ECLOSED || (i < 110 && bt.r->items[i].status == MCP_ETIMEDOUT));
        }
    }
    assert_true(ok >= 90);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(bt.b, &st);
    assert_true(st.reconnects >= 1);
    batch_test_stop(&bt);
}

static void free_completes_queued_requests_with_closed(void **state) {
    (void)state;
    batch_test bt;
    batch_test_start(&bt, "2025-03-26", 1,
                     (mcp_batch_strategy){.kind = MCP_BATCH_SIZE, .size = 1000, .window_us = 60000000});
    add_calls(bt.b, bt.r, 0, 7);
    mcp_batcher_free(bt.b);
    bt.b = NULL;
    for (int i = 0; i < 7; i++) {
        assert_int_equal(atomic_load(&bt.r->items[i].calls), 1);
        assert_int_equal(bt.r->items[i].status, MCP_ECLOSED);
    }
    batch_test_stop(&bt);
}

static void bad_arguments_are_refused(void **state) {
    (void)state;
    mcp_batcher *b = NULL;
    assert_int_equal(mcp_batcher_new(NULL, &b), MCP_EINVAL);
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){0}, &b), MCP_EINVAL);
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = "no-port"}, &b), MCP_EINVAL);
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = "127.0.0.1:1", .protocol_version = "1999-01-01"}, &b),
                     MCP_EUNSUPPORTED);
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = "127.0.0.1:1",
                                                         .strategy = {.kind = MCP_BATCH_SIZE, .size = 10, .max_size = 5}},
                                     &b),
                     MCP_EINVAL);
    /* Nobody listens on port 1 of loopback: refused at once. */
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = "127.0.0.1:1"}, &b), MCP_EIO);
    assert_null(b);

    server_fixture f = {0};
    server_start(&f, 0);
    b = batcher_new(&f, "2025-03-26", 1, (mcp_batch_strategy){.kind = MCP_BATCH_NONE});
    assert_int_equal(mcp_batcher_add(b, NULL, NULL, NULL, NULL), MCP_EINVAL);
    /* An unknown method is the server's to refuse: an RPC error, not a failure. */
    run *r = run_new();
    assert_int_equal(mcp_batcher_add(b, "no/such", NULL, on_done, &r->index[0]), 0);
    assert_int_equal(mcp_batcher_flush(b, 5000), 0);
    assert_int_equal(r->items[0].status, MCP_CLIENT_RPC_ERROR);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(b, &st);
    assert_int_equal(st.rpc_errors, 1);
    mcp_batcher_free(b);
    free(r);
    server_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_strategy_sends_arrays_with_2025_03_26),
        cmocka_unit_test(modern_era_pipelines_groups_in_one_write),
        cmocka_unit_test(handshake_versions_without_arrays_are_pipelined),
        cmocka_unit_test(time_window_sends_a_trickle_without_flush),
        cmocka_unit_test(adaptive_size_grows_while_fast_and_shrinks_on_failure),
        cmocka_unit_test(adaptive_size_holds_in_a_deep_pipeline),
        cmocka_unit_test(strategy_changes_at_run_time),
        cmocka_unit_test(server_restart_is_survived),
        cmocka_unit_test(free_completes_queued_requests_with_closed),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
