/* `mcpd bench validate`: a file written by `mcpd bench run` is valid, and
 * files that break the result format in each way it forbids are rejected,
 * naming the problem. Runs the real mcpd binary (MCPD_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static char *good; /* text of a valid result file */

/* Run a shell command, capture stdout+stderr into out, return its exit code. */
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

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) return 0; /* tests skip */
    snprintf(dir, sizeof dir, "/tmp/mcpd-validate-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' bench run core_ops_1k --quick --out %s", bin, dir);
    if (run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bench run failed:\n%s\n", out);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/core_ops_1k.json", dir);
    good = slurp(path);
    return good ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    free(good);
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

/* Write text to a file in dir and validate it; returns the exit code. */
static int validate_text(const char *name, const char *text, char *out, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' bench validate %s", getenv("MCPD_BIN"), path);
    return run(cmd, out, cap);
}

/* Copy of good with the first occurrence of from replaced by to. */
static char *replace_first(const char *from, const char *to) {
    const char *at = strstr(good, from);
    assert_non_null(at);
    size_t head = (size_t)(at - good), flen = strlen(from), tlen = strlen(to);
    char *s = malloc(strlen(good) - flen + tlen + 1);
    memcpy(s, good, head);
    memcpy(s + head, to, tlen);
    strcpy(s + head + tlen, at + flen);
    return s;
}

/* Copy of good with the value after the first "key": replaced by value. */
static char *replace_value(const char *key, const char *value) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(good, pat);
    assert_non_null(at);
    const char *v = at + strlen(pat);
    size_t vlen = strcspn(v, ",}");
    char old[128];
    assert_true(vlen < sizeof old - strlen(pat));
    snprintf(old, sizeof old, "%s%.*s", pat, (int)vlen, v);
    char repl[128];
    snprintf(repl, sizeof repl, "%s%s", pat, value);
    return replace_first(old, repl);
}

#define NEED_BINARY()                                                             \
    do {                                                                          \
        if (!good) {                                                              \
            fprintf(stderr, "skipped: MCPD_BIN is not set or not built\n");       \
            skip();                                                               \
        }                                                                         \
    } while (0)

static void test_run_output_is_valid(void **state) {
    (void)state;
    NEED_BINARY();
    char out[8192];
    assert_int_equal(validate_text("good.json", good, out, sizeof out), 0);
    /* Every benchmark of the workload is a record, and validate counts them all. */
    int records = 0;
    for (const char *p = good; (p = strstr(p, "\"benchmark\":")); p++) records++;
    assert_true(records >= 4);
    char expected[64];
    snprintf(expected, sizeof expected, "valid (%d result(s))", records);
    assert_non_null(strstr(out, expected));
}

static void expect_invalid(const char *what, char *text, const char *must_mention) {
    char out[16384];
    int rc = validate_text("bad.json", text, out, sizeof out);
    free(text);
    if (rc != 1 || !strstr(out, must_mention))
        fail_msg("%s: expected exit 1 naming '%s', got %d:\n%s", what, must_mention, rc, out);
    assert_non_null(strstr(out, "INVALID"));
}

static void test_wrong_unit_in_field_name(void **state) {
    (void)state;
    NEED_BINARY();
    expect_invalid("p99 in ms", replace_first("\"latency_p99_us\"", "\"latency_p99_ms\""), "latency_p99_ms");
}

static void test_latency_as_string(void **state) {
    (void)state;
    NEED_BINARY();
    expect_invalid("string latency", replace_value("latency_p95_us", "\"0.05\""), "must be a number");
}

static void test_negative_value(void **state) {
    (void)state;
    NEED_BINARY();
    expect_invalid("negative cpu", replace_value("cpu_user_s", "-0.5"), "must not be negative");
}

static void test_p50_above_p99(void **state) {
    (void)state;
    NEED_BINARY();
    expect_invalid("p50 > p99", replace_value("latency_p50_us", "5000"), "is greater than");
}

static void test_missing_field(void **state) {
    (void)state;
    NEED_BINARY();
    char pat[64];
    const char *at = strstr(good, "\"operations\":");
    assert_non_null(at);
    snprintf(pat, sizeof pat, "%.*s", (int)(strcspn(at, ",") + 1), at);
    expect_invalid("no operations", replace_first(pat, ""), "missing field \"operations\"");
}

static void test_throughput_in_wrong_unit(void **state) {
    (void)state;
    NEED_BINARY();
    /* msg/ms instead of msg/s: the value no longer matches the repetitions
     * nor operations / duration. */
    const char *at = strstr(good, "\"throughput_msg_per_s\":");
    assert_non_null(at);
    double v = strtod(at + strlen("\"throughput_msg_per_s\":"), NULL);
    char value[64];
    snprintf(value, sizeof value, "%.17g", v / 1000.0);
    expect_invalid("msg/ms", replace_value("throughput_msg_per_s", value), "throughput_msg_per_s");
}

static void test_repetition_count_mismatch(void **state) {
    (void)state;
    NEED_BINARY();
    expect_invalid("reps", replace_value("repetitions", "2"), "repetition_values has");
}

static void test_not_json_and_wrong_version(void **state) {
    (void)state;
    NEED_BINARY();
    char *cut = strdup(good);
    cut[strlen(cut) / 2] = '\0';
    expect_invalid("truncated", cut, "json");
    expect_invalid("version", replace_first("\"schema_version\":1", "\"schema_version\":2"), "schema_version");
    expect_invalid("unknown environment field", replace_first("\"cores\":", "\"cpus\":"), "unknown field \"cpus\"");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_output_is_valid),
        cmocka_unit_test(test_wrong_unit_in_field_name),
        cmocka_unit_test(test_latency_as_string),
        cmocka_unit_test(test_negative_value),
        cmocka_unit_test(test_p50_above_p99),
        cmocka_unit_test(test_missing_field),
        cmocka_unit_test(test_throughput_in_wrong_unit),
        cmocka_unit_test(test_repetition_count_mismatch),
        cmocka_unit_test(test_not_json_and_wrong_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
