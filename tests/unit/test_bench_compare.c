/* `mcpd bench compare` and `baseline`: verdicts and exit codes on results
 * crafted to sit on either side of each threshold of bench/thresholds.json,
 * including a change beyond the threshold that the repetitions' own noise
 * explains. Runs the real mcpd binary (MCPD_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static const char *bin;
static char thresholds[128];

static int run(const char *cmd, char *out, size_t cap) {
    char full[1536];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct spec {
    double throughput, mad, p99_us, mem_peak_mib, overhead_pct;
} spec;

/* One self-consistent record: three repetitions at the given throughput. */
static void write_record(FILE *f, const char *benchmark, spec s) {
    double d = 1000.0 / s.throughput;
    fprintf(f,
            "{\"schema_version\":1,\"workload_id\":\"core_ops_1k\",\"module\":\"core_ops\",\"benchmark\":\"%s\","
            "\"profile\":\"quick\",\"timestamp\":\"2026-11-28T08:00:00Z\",\"scope\":\"test\",\"operations\":1000,"
            "\"repetitions\":3,\"warmup\":1,\"duration_s\":%.17g,\"throughput_msg_per_s\":%.17g,"
            "\"throughput_mad_msg_per_s\":%.17g,\"latency_p50_us\":%.17g,\"latency_p90_us\":%.17g,"
            "\"latency_p95_us\":%.17g,\"latency_p99_us\":%.17g,\"latency_p999_us\":%.17g,\"latency_max_us\":%.17g,"
            "\"latency_p95_mad_us\":0,\"latency_p99_mad_us\":0,\"memory_start_mib\":10,\"memory_end_mib\":10,"
            "\"memory_delta_mib\":0,\"memory_peak_mib\":%.17g,\"cpu_user_s\":0.001,\"cpu_sys_s\":0,"
            "\"environment\":{\"cpu_model\":\"test cpu\",\"cores\":2,\"kernel\":\"Linux\",\"compiler\":\"GNU 12\","
            "\"build_type\":\"Release\",\"build_flags\":\"-O3\",\"git_commit\":\"unknown\",\"mcpd_version\":\"0.1.0\"},"
            "\"precision\":{\"histogram_relative_error\":0.0078125,\"timer_overhead_ns\":20,\"clock\":\"CLOCK_MONOTONIC\"},"
            "\"repetition_values\":[",
            benchmark, d, s.throughput, s.mad, s.p99_us * 0.3, s.p99_us * 0.5, s.p99_us * 0.6, s.p99_us,
            s.p99_us * 1.5, s.p99_us * 2, s.mem_peak_mib);
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s{\"duration_s\":%.17g,\"throughput_msg_per_s\":%.17g,\"latency_p50_us\":%.17g,"
                   "\"latency_p95_us\":%.17g,\"latency_p99_us\":%.17g}",
                i ? "," : "", d, s.throughput, s.p99_us * 0.3, s.p99_us * 0.6, s.p99_us);
    fprintf(f, "],\"metrics\":{");
    if (s.overhead_pct > 0) fprintf(f, "\"feature_overhead_pct\":%.17g", s.overhead_pct);
    fprintf(f, "}}");
}

static const spec BASE = {1000.0, 5.0, 10.0, 100.0, 0};

/* A result directory holding one record for registry_lookup (given) and one
 * for session_lookup (always equal to the baseline). */
static void write_results(const char *sub, spec s) {
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/core_ops_1k.json", dir, sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"schema_version\":1,\"kind\":\"result\",\"workload_id\":\"core_ops_1k\",\"results\":[", f);
    write_record(f, "registry_lookup", s);
    fputc(',', f);
    write_record(f, "session_lookup", BASE);
    fputs("]}\n", f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        bin = NULL;
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/mcpd-compare-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    /* Pinned thresholds, so the test does not move when the project tunes its own. */
    snprintf(thresholds, sizeof thresholds, "%s/thresholds.json", dir);
    FILE *f = fopen(thresholds, "w");
    if (!f) return -1;
    fputs("{\"throughput_drop_fail_pct\":10,\"latency_p95_rise_fail_pct\":10,\"latency_p99_rise_fail_pct\":10,"
          "\"memory_rise_warn_pct\":20,\"feature_overhead_warn_pct\":5,\"instructions_rise_fail_pct\":3,"
          "\"noise_mad_factor\":2,\"latency_floor_us\":0.05,\"memory_floor_mib\":1}\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

#define NEED_BINARY()                                                       \
    do {                                                                    \
        if (!bin) {                                                         \
            fprintf(stderr, "skipped: MCPD_BIN is not set or not built\n"); \
            skip();                                                         \
        }                                                                   \
    } while (0)

static int compare(const char *sub, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' bench compare --results %s/%s --baselines %s/baselines --thresholds %s", bin,
             dir, sub, dir, thresholds);
    return run(cmd, out, cap);
}

/* Record the baseline once; later tests compare against it. */
static void test_baseline_set_and_list(void **state) {
    (void)state;
    NEED_BINARY();
    write_results("base", BASE);
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' bench baseline set --results %s/base --baselines %s/baselines --no-instructions",
             bin, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2); /* a reason is required */
    assert_non_null(strstr(out, "--reason"));
    snprintf(cmd, sizeof cmd, "'%s' bench baseline set --reason 'test reference' --results %s/base "
             "--baselines %s/baselines --no-instructions", bin, dir, dir);
    if (run(cmd, out, sizeof out) != 0) fail_msg("baseline set failed:\n%s", out);
    snprintf(cmd, sizeof cmd, "'%s' bench baseline list --baselines %s/baselines", bin, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "test reference"));
    assert_non_null(strstr(out, "_0.1.0.json"));
    /* The baseline file itself passes validate. */
    snprintf(cmd, sizeof cmd, "'%s' bench validate %s/baselines/*.json", bin, dir);
    if (run(cmd, out, sizeof out) != 0) fail_msg("baseline does not validate:\n%s", out);
}

static void expect(const char *sub, spec s, int code, const char *mention) {
    write_results(sub, s);
    char out[8192];
    int rc = compare(sub, out, sizeof out);
    if (rc != code || !strstr(out, mention))
        fail_msg("%s: expected exit %d mentioning '%s', got %d:\n%s", sub, code, mention, rc, out);
}

static void test_same_results_pass(void **state) {
    (void)state;
    NEED_BINARY();
    expect("same", BASE, 0, "verdict: PASS");
}

static void test_throughput_drop_fails(void **state) {
    (void)state;
    NEED_BINARY();
    expect("slower", (spec){850, 5, 10, 100, 0}, 2, "verdict: FAIL");
    expect("slightly_slower", (spec){920, 5, 10, 100, 0}, 0, "verdict: PASS");
    expect("faster", (spec){1300, 5, 10, 100, 0}, 0, "verdict: PASS");
}

static void test_drop_inside_noise_is_not_a_regression(void **state) {
    (void)state;
    NEED_BINARY();
    /* -15% but each repetition set spreads by 100 msg/s: 2 x (5 + 100) = 210 > 150. */
    expect("noisy", (spec){850, 100, 10, 100, 0}, 0, "inside the noise");
}

static void test_latency_rise_fails(void **state) {
    (void)state;
    NEED_BINARY();
    expect("p99_up", (spec){1000, 5, 13, 100, 0}, 2, "p95 latency");
    expect("p99_slightly_up", (spec){1000, 5, 10.5, 100, 0}, 0, "verdict: PASS");
}

static void test_memory_and_overhead_warn(void **state) {
    (void)state;
    NEED_BINARY();
    expect("memory_up", (spec){1000, 5, 10, 130, 0}, 1, "peak memory");
    expect("memory_bit_up", (spec){1000, 5, 10, 110, 0}, 0, "verdict: PASS");
    expect("overhead", (spec){1000, 5, 10, 100, 8}, 1, "feature overhead");
}

static void test_bad_thresholds_rejected(void **state) {
    (void)state;
    NEED_BINARY();
    char path[128], cmd[1024], out[4096];
    snprintf(path, sizeof path, "%s/bad_thresholds.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"throughput_drop_pct\":10}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' bench compare --results %s/same --baselines %s/baselines --thresholds %s", bin,
             dir, dir, path);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown threshold"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_set_and_list),
        cmocka_unit_test(test_same_results_pass),
        cmocka_unit_test(test_throughput_drop_fails),
        cmocka_unit_test(test_drop_inside_noise_is_not_a_regression),
        cmocka_unit_test(test_latency_rise_fails),
        cmocka_unit_test(test_memory_and_overhead_warn),
        cmocka_unit_test(test_bad_thresholds_rejected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
