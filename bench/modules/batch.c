/*
 * batch: the client-side request batcher against a real server in the same
 * process (the TCP runtime on 127.0.0.1, one worker loop), small tool calls.
 *
 *   single          strategy none: each call leaves in its own write (the
 *                   unbatched baseline; calls are still pipelined, not
 *                   one round trip each, so the baseline is a generous one)
 *   size_64         groups of 64 as one batch array (2025-03-26)
 *   time_500us      groups of whatever arrived within 500 us, as arrays
 *   adaptive        group size adjusted between 8 and 512 by latency
 *   size_64_lines   groups of 64 pipelined as lines in one write (modern era)
 *   size_64_traced  size_64 with an observer: a client span per call (begun
 *                   at add, ended at the reply) and its traceparent in
 *                   params._meta; spans recorded, the exporter off, so this
 *                   is the request path's cost (batch_traced runs it beside
 *                   size_64 and single: compare their speedup_vs_single)
 *
 * One producer thread adds N calls as fast as the batcher takes them, then
 * flushes; throughput is N over the time from the first add to the last
 * completion. Latency is per call, from its add to its completion. The
 * strategies run in turn, repetition by repetition, so each repetition of
 * a strategy has one of "single" beside it under the same machine load;
 * speedup_vs_single is the median of those paired ratios (with their
 * lowest and highest), so a busy minute that fell on one side only does
 * not decide it. cpu_speedup_vs_single compares the CPU time the process
 * (client and server) spent per call, which other work on the machine
 * does not change the way it changes throughput. The
 * server's own counters give messages per read and writes per read, which
 * is the "one write per read" property of the TCP transport, measured.
 */
#include "harness.h"
#include "mcp/batch.h"
#include "mcp/obs.h"
#include "net/net_internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_PARAMS "{\"name\":\"small\",\"arguments\":{\"x\":1}}"
#define MAX_BATCH_TASKS 5

typedef struct batch_slot {
    uint64_t added_ns;
    uint64_t done_ns;
    int status;
} batch_slot;

typedef struct batch_ctx {
    mcp_batcher *batcher;
    mcp_net *net;
    batch_slot *slots;
    size_t slot_cap;
    atomic_uint_fast64_t failures;
    /* Of the last repetition. */
    mcp_net_counters server_delta;
    mcp_batcher_stats before, after;
} batch_ctx;

typedef struct batch_state {
    mcp_server *server;
    mcp_net *net;
    char addr[32];
    batch_ctx ctx[MAX_BATCH_TASKS];
    size_t task_count;
    mcp_tracer *tracer;      /* for size_64_traced */
    mcp_obs *obs;
    mcp_observer observer;
} batch_state;

static int tool_small(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    return mcp_call_text_n(call, "ok", 2);
}

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    batch_slot *slot = user;
    slot->status = status;
    slot->done_ns = mcp_now_ns();
}

static int run_batch(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    batch_ctx *c = p;
    if (ops > c->slot_cap) {
        free(c->slots);
        c->slots = calloc(ops, sizeof *c->slots);
        if (!c->slots) return MCP_ENOMEM;
        c->slot_cap = ops;
    }
    memset(c->slots, 0, ops * sizeof *c->slots);
    mcp_net_counters s0, s1;
    mcp_net_counters_get(c->net, &s0);
    mcp_batcher_get_stats(c->batcher, &c->before);
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        c->slots[i].added_ns = mcp_now_ns();
        int rc;
        while ((rc = mcp_batcher_add(c->batcher, "tools/call", CALL_PARAMS, on_done, &c->slots[i])) == MCP_EAGAIN)
            sched_yield();
        if (rc) return rc;
    }
    int rc = mcp_batcher_flush(c->batcher, 120000);
    *elapsed_ns = mcp_now_ns() - t0;
    mcp_net_counters_get(c->net, &s1);
    mcp_batcher_get_stats(c->batcher, &c->after);
    c->server_delta.messages_in = s1.messages_in - s0.messages_in;
    c->server_delta.reads = s1.reads - s0.reads;
    c->server_delta.writes = s1.writes - s0.writes;
    if (rc) return rc;
    for (uint64_t i = 0; i < ops; i++) {
        if (c->slots[i].status != 0) return MCP_EPROTO;
        if (lat) mcp_histogram_record(lat, c->slots[i].done_ns - c->slots[i].added_ns);
    }
    return MCP_OK;
}

static void batch_teardown(void *p) {
    batch_state *s = p;
    if (!s) return;
    for (size_t i = 0; i < MAX_BATCH_TASKS; i++) {
        mcp_batcher_free(s->ctx[i].batcher);
        free(s->ctx[i].slots);
    }
    if (s->net) {
        mcp_net_stop(s->net);
        mcp_net_wait(s->net);
        mcp_net_free(s->net);
    }
    mcp_server_free(s->server);
    mcp_obs_free(s->obs);
    mcp_tracer_free(s->tracer);
    free(s);
}

typedef struct batch_kind {
    const char *name;
    const char *scope;
    const char *version;
    mcp_batch_strategy strategy;
    bool traced;
} batch_kind;

static const batch_kind KINDS[] = {
    {"single", "strategy none: one tools/call per write, pipelined, 2025-03-26; in-process TCP server, 1 loop",
     "2025-03-26", {.kind = MCP_BATCH_NONE}, false},
    {"size_64", "strategy size(64): one JSON-RPC batch array per 64 tools/call, 2025-03-26", "2025-03-26",
     {.kind = MCP_BATCH_SIZE, .size = 64, .window_us = 1000}, false},
    {"time_500us", "strategy time(500 us, at most 1024): batch arrays, 2025-03-26", "2025-03-26",
     {.kind = MCP_BATCH_TIME, .window_us = 500, .max_size = 1024}, false},
    {"adaptive", "strategy adaptive(8..512, target 5 ms, window 1 ms): batch arrays, 2025-03-26", "2025-03-26",
     {.kind = MCP_BATCH_ADAPTIVE, .min_size = 8, .max_size = 512, .target_latency_us = 5000}, false},
    {"size_64_lines", "strategy size(64): 64 pipelined lines per write, modern era (no arrays)", NULL,
     {.kind = MCP_BATCH_SIZE, .size = 64, .window_us = 1000}, false},
    {"size_64_traced",
     "as size_64, with an observer: a client span per call (begun at add, ended at the reply), traceparent in "
     "params._meta; spans recorded, exporter off",
     "2025-03-26", {.kind = MCP_BATCH_SIZE, .size = 64, .window_us = 1000}, true},
};

static int batch_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    batch_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->server = mcp_server_new(&(mcp_server_opts){.name = "bench-batch", .version = MCP_VERSION_STRING});
    int rc = s->server ? mcp_server_add_tool(s->server, &(mcp_tool){.name = "small", .fn = tool_small}) : MCP_ENOMEM;
    if (!rc) rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL);
    if (!rc) snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", mcp_net_port(s->net));
    /* Which strategies a workload runs: its size says (bit i: KINDS[i]). */
    unsigned mask = (unsigned)w->size;
    for (size_t k = 0; !rc && k < sizeof KINDS / sizeof KINDS[0]; k++) {
        if (!(mask & (1u << k))) continue;
        batch_ctx *c = &s->ctx[s->task_count];
        c->net = s->net;
        if (KINDS[k].traced && !s->obs) {
            rc = mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &s->tracer);
            if (!rc) rc = mcp_obs_new(s->tracer, NULL, &s->obs);
            if (rc) break;
            mcp_obs_observer(s->obs, &s->observer);
        }
        rc = mcp_batcher_new(&(mcp_batcher_opts){.connect = s->addr, .protocol_version = KINDS[k].version,
                                                 .workers = 1, .strategy = KINDS[k].strategy,
                                                 .max_queued = 1u << 20, .max_inflight = 1024,
                                                 .observer = KINDS[k].traced ? &s->observer : NULL},
                             &c->batcher);
        if (rc) break;
        bench_task *t = &tasks[s->task_count++];
        memset(t, 0, sizeof *t);
        bench_copy_str(t->name, sizeof t->name, KINDS[k].name);
        bench_copy_str(t->scope, sizeof t->scope, KINDS[k].scope);
        t->single_pass = true;
        t->run = run_batch;
        t->ctx = c;
    }
    if (rc) {
        batch_teardown(s);
        *state = NULL;
        return rc;
    }
    *count = s->task_count;
    return MCP_OK;
}

static void batch_finish(void *p, bench_record *records, size_t count) {
    batch_state *s = p;
    const bench_record *single = NULL;
    for (size_t i = 0; i < count; i++)
        if (!strcmp(records[i].benchmark, "single")) single = &records[i];
    for (size_t i = 0; i < count && i < s->task_count; i++) {
        const batch_ctx *c = &s->ctx[i];
        bench_record *r = &records[i];
        double reads = c->server_delta.reads ? (double)c->server_delta.reads : 1;
        bench_record_add_metric(r, "server_msgs_per_read", (double)c->server_delta.messages_in / reads);
        bench_record_add_metric(r, "server_writes_per_read", (double)c->server_delta.writes / reads);
        uint64_t groups = c->after.groups - c->before.groups;
        uint64_t calls = c->after.completed - c->before.completed;
        if (groups) bench_record_add_metric(r, "calls_per_group", (double)calls / (double)groups);
        if (groups) bench_record_add_metric(r, "client_writes_per_group",
                                            (double)(c->after.writes - c->before.writes) / (double)groups);
        double speedup[3];
        if (single && r != single && bench_paired_ratio(r, single, speedup)) {
            bench_record_add_metric(r, "speedup_vs_single", speedup[0]);
            bench_record_add_metric(r, "speedup_lowest", speedup[1]);
            bench_record_add_metric(r, "speedup_highest", speedup[2]);
        }
        /* What the two cost, client and server together (the process's CPU
         * time per call): unlike throughput, not set by how much of the
         * machine other work left us. */
        double cpu = r->cpu_user_s + r->cpu_sys_s, single_cpu = single ? single->cpu_user_s + single->cpu_sys_s : 0;
        if (single && r != single && cpu > 0 && single_cpu > 0)
            bench_record_add_metric(r, "cpu_speedup_vs_single", single_cpu / cpu);
    }
}

enum { SINGLE = 1, SIZE = 2, TIME = 4, ADAPTIVE = 8, LINES = 16, SIZE_TRACED = 32 };

static const bench_workload BATCH_WORKLOADS[] = {
    {"batch_1k", "1,000 small tool calls: unbatched vs size(64)", SINGLE | SIZE, {1000, 1000}, {5, 15}},
    {"batch_10k", "10,000 small tool calls: unbatched vs size(64)", SINGLE | SIZE, {10000, 10000}, {7, 9}},
    {"batch_100k", "100,000 small tool calls: size(64) and adaptive", SIZE | ADAPTIVE, {100000, 100000}, {1, 5}},
    {"batch_comparison", "50,000 small tool calls under every strategy, side by side",
     SINGLE | SIZE | TIME | ADAPTIVE | LINES, {50000, 100000}, {7, 9}},
    {"batch_traced", "50,000 small tool calls, size(64) with and without an observer, beside unbatched",
     SINGLE | SIZE | SIZE_TRACED, {50000, 100000}, {7, 9}},
};

const bench_module bench_module_batch = {
    .name = "batch",
    .description = "client request batcher over loopback TCP: unbatched vs size, time and adaptive strategies",
    .notes = "server and client share the two cores; the unbatched baseline pipelines (it does not wait for "
             "each reply), so speedups against a one-round-trip-per-call client would be larger",
    .workloads = BATCH_WORKLOADS,
    .workload_count = sizeof BATCH_WORKLOADS / sizeof BATCH_WORKLOADS[0],
    .setup = batch_setup,
    .finish = batch_finish,
    .teardown = batch_teardown,
    .interleave = true, /* speedup_vs_single pairs each repetition with one of single beside it */
};
