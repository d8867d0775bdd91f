/* The network benchmark module, through the real mcpd binary (MCPD_BIN):
 * a quick run of a TCP, a stdio and an HTTP workload writes result files that
 * `mcpd bench validate` accepts; each holds the MCP server's record and the
 * null server's; the ratio to the null baseline is the median of the
 * per-repetition quotients of the two throughputs, between their extremes; every operation's round trip was sampled;
 * the payload is really 1 KiB; with two CPUs the server and the load
 * generator were pinned apart, and the record says so; in-process servers
 * record their CPU time per operation and its paired ratio. Over HTTP the
 * request counts its head, and the 50 keep-alive connections are recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/json.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static bool have_bin;

static int run(const char *cmd, char *out, size_t cap) {
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) return 0;
    have_bin = true;
    snprintf(dir, sizeof dir, "/tmp/mcpd-bench-net-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[512], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' bench run tcp_burst_100_1kib stdio_sequential_1k http_keepalive_50 --quick --out %s", bin, dir);
    if (run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bench run failed:\n%s\n", out);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

static mcp_json *load(mcp_arena *arena, const char *workload) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s.json", dir, workload);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof text);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(arena, text, n, NULL, &doc, NULL), 0);
    return doc;
}

static const mcp_json *record(const mcp_json *doc, const char *benchmark) {
    const mcp_json *results = mcp_json_get(doc, "results");
    for (const mcp_json *r = mcp_json_first(results); r; r = mcp_json_next(r))
        if (!strcmp(mcp_json_str(mcp_json_get(r, "benchmark"), ""), benchmark)) return r;
    return NULL;
}

static double metric(const mcp_json *r, const char *name) {
    const mcp_json *v = mcp_json_get(mcp_json_get(r, "metrics"), name);
    assert_true(mcp_json_is_number(v));
    return mcp_json_num(v, 0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool two_cpus(void) {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2;
}

static void check_workload(const char *workload, const char *mcp_name, const char *null_name, double ops) {
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = load(&arena, workload);
    assert_int_equal(mcp_json_len(mcp_json_get(doc, "results")), 2);
    const mcp_json *ours = record(doc, mcp_name), *null = record(doc, null_name);
    assert_non_null(ours);
    assert_non_null(null);
    const mcp_json *pair[] = {ours, null};
    for (int i = 0; i < 2; i++) {
        const mcp_json *r = pair[i];
        assert_true(mcp_json_num(mcp_json_get(r, "operations"), 0) == ops);
        assert_true(mcp_json_num(mcp_json_get(r, "throughput_msg_per_s"), 0) > 0);
        double p50 = mcp_json_num(mcp_json_get(r, "latency_p50_us"), 0);
        double p99 = mcp_json_num(mcp_json_get(r, "latency_p99_us"), 0);
        /* A loopback round trip takes microseconds, not nanoseconds: a
         * latency below 1 us would mean something other than the round
         * trip was timed. */
        assert_true(p50 >= 1.0 && p50 <= p99);
        assert_true(metric(r, "request_bytes") > 1024);
        assert_true(metric(r, "response_bytes") > 1024);
        const char *scope = mcp_json_str(mcp_json_get(r, "scope"), "");
        if (two_cpus()) {
            assert_true(metric(r, "server_cpu") != metric(r, "loadgen_cpu"));
            assert_non_null(strstr(scope, "load generator on CPU"));
        } else {
            assert_non_null(strstr(scope, "not pinned"));
        }
    }
    /* The ratio is the median of the per-repetition ratios (each MCP
     * repetition over the null one run right after it), between the
     * lowest and highest of them, recomputed here from the file. */
    const mcp_json *ours_reps = mcp_json_get(ours, "repetition_values");
    const mcp_json *null_reps = mcp_json_get(null, "repetition_values");
    size_t n = mcp_json_len(ours_reps);
    assert_true(n >= 1 && n == mcp_json_len(null_reps) && n <= 64);
    double ratios[64];
    const mcp_json *a = mcp_json_first(ours_reps), *b = mcp_json_first(null_reps);
    for (size_t i = 0; i < n; i++, a = mcp_json_next(a), b = mcp_json_next(b))
        ratios[i] = mcp_json_num(mcp_json_get(a, "throughput_msg_per_s"), 0) /
                    mcp_json_num(mcp_json_get(b, "throughput_msg_per_s"), 1);
    qsort(ratios, n, sizeof ratios[0], cmp_double);
    double expect = n % 2 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
    double ratio = metric(ours, "ratio_to_null_baseline");
    assert_true(fabs(ratio - expect) <= 1e-6 * expect);
    assert_true(fabs(metric(ours, "ratio_lowest") - ratios[0]) <= 1e-6 * ratios[0]);
    assert_true(fabs(metric(ours, "ratio_highest") - ratios[n - 1]) <= 1e-6 * ratios[n - 1]);
    assert_null(mcp_json_get(mcp_json_get(null, "metrics"), "ratio_to_null_baseline"));
    assert_true(metric(ours, "p50_ratio_to_null_baseline") > 0);
    /* In-process servers: their CPU time per operation, and its paired
     * ratio; a server that answers a loopback request spends more than
     * 100 ns and less than 1 ms of CPU on it. The stdio server is another
     * process: no such numbers. */
    const mcp_json *cpu = mcp_json_get(mcp_json_get(ours, "metrics"), "server_cpu_ns_per_op");
    if (strcmp(workload, "stdio_sequential_1k") == 0) {
        assert_null(cpu);
        assert_null(mcp_json_get(mcp_json_get(ours, "metrics"), "cpu_ratio_to_null_baseline"));
    } else {
        for (int i = 0; i < 2; i++) {
            double ns = metric(pair[i], "server_cpu_ns_per_op");
            assert_true(ns > 100 && ns < 1e6);
        }
        double cpu_ratio = metric(ours, "cpu_ratio_to_null_baseline");
        assert_true(cpu_ratio > 0 && cpu_ratio < 10);
        /* What the MCP layer adds: a paired difference, so it may even be
         * below zero on a noisy pair, but never beyond either side's cost. */
        double added = metric(ours, "added_cpu_ns_per_op");
        assert_true(fabs(added) < metric(ours, "server_cpu_ns_per_op") + metric(null, "server_cpu_ns_per_op"));
        assert_null(mcp_json_get(mcp_json_get(null, "metrics"), "added_cpu_ns_per_op"));
        assert_null(mcp_json_get(mcp_json_get(null, "metrics"), "cpu_ratio_to_null_baseline"));
    }
    mcp_arena_free(&arena);
}

static void test_results_validate(void **state) {
    (void)state;
    if (!have_bin) skip();
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' bench validate %s/tcp_burst_100_1kib.json %s/stdio_sequential_1k.json %s/http_keepalive_50.json",
             getenv("MCPD_BIN"), dir, dir, dir);
    int code = run(cmd, out, sizeof out);
    if (code != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(code, 0);
}

static void test_tcp_burst_records(void **state) {
    (void)state;
    if (!have_bin) skip();
    check_workload("tcp_burst_100_1kib", "mcp_tools_call", "null_tools_call", 50000);
}

static void test_stdio_records(void **state) {
    (void)state;
    if (!have_bin) skip();
    check_workload("stdio_sequential_1k", "mcp_tools_call", "null_tools_call", 1000);
}

/* HTTP/1.1 keep-alive: 50 connections, one request in flight on each; the
 * request's bytes include its head (the body alone is ~1.2 KiB), and the
 * scope names what the round trip ends with. */
static void test_http_keepalive_records(void **state) {
    (void)state;
    if (!have_bin) skip();
    check_workload("http_keepalive_50", "mcp_tools_call", "null_tools_call", 2000);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = load(&arena, "http_keepalive_50");
    const mcp_json *ours = record(doc, "mcp_tools_call"), *null = record(doc, "null_tools_call");
    assert_true(metric(ours, "connections") == 50 && metric(ours, "in_flight_per_connection") == 1);
    assert_non_null(strstr(mcp_json_str(mcp_json_get(ours, "scope"), ""), "50 keep-alive conn x 1 in flight"));
    assert_true(metric(ours, "request_bytes") > 1024 + 200);
    /* Same bytes on the wire from both servers: the null one replays ours. */
    assert_true(metric(ours, "response_bytes") == metric(null, "response_bytes"));
    assert_non_null(strstr(mcp_json_str(mcp_json_get(ours, "scope"), ""), "keep-alive"));
    assert_non_null(strstr(mcp_json_str(mcp_json_get(ours, "scope"), ""), "JSON answer"));
    assert_true(mcp_json_bool(mcp_json_get(null, "reference"), false));
    assert_false(mcp_json_bool(mcp_json_get(ours, "reference"), false));
    mcp_arena_free(&arena);
}

/* The network module lists a workload per transport and says what it does
 * not measure. */
static void test_list_names_transports_and_gaps(void **state) {
    (void)state;
    if (!have_bin) skip();
    char cmd[512], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' bench list", getenv("MCPD_BIN"));
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "tcp_pipelined_ping"));
    assert_non_null(strstr(out, "http_sse_1k"));
    assert_non_null(strstr(out, "ws_1k"));
    assert_non_null(strstr(out, "TLS and connection set-up are not measured"));
}

int main(void) {
    if (!getenv("MCPD_BIN")) printf("skipping: MCPD_BIN is not set (run through ctest)\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results_validate),
        cmocka_unit_test(test_tcp_burst_records),
        cmocka_unit_test(test_stdio_records),
        cmocka_unit_test(test_http_keepalive_records),
        cmocka_unit_test(test_list_names_transports_and_gaps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
