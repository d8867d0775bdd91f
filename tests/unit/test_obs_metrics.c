/*
 * The metrics registry and its Prometheus text: sums over threads,
 * histogram buckets, label escaping, refused names, collectors, and the
 * whole output checked by promtool when it is installed.
 */
#include "mcp/obs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct worker_arg {
    mcp_metrics *m;
    mcp_metric_id counter, hist;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    for (int i = 0; i < 100000; i++) {
        mcp_metrics_add(w->m, w->counter, 1);
        if (i % 1000 == 0) mcp_metrics_observe(w->m, w->hist, 0.003);
    }
    return NULL;
}

static void test_counters_sum_over_threads(void **state) {
    (void)state;
    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    worker_arg w = {.m = m};
    assert_int_equal(mcp_metrics_counter(m, "jobs_total", "Jobs.", NULL, 0, &w.counter), 0);
    assert_int_equal(mcp_metrics_histogram(m, "job_seconds", "Job time.", NULL, 0, NULL, 0, &w.hist), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, &w);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    assert_int_equal((uint64_t)mcp_metrics_value(m, w.counter), 400000);
    assert_int_equal((uint64_t)mcp_metrics_value(m, w.hist), 400);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_metrics_render(m, &b), 0);
    assert_non_null(strstr(b.data, "# TYPE jobs_total counter\njobs_total 400000\n"));
    assert_non_null(strstr(b.data, "job_seconds_bucket{le=\"0.0025000000000000001\"} 0\n"));
    assert_non_null(strstr(b.data, "job_seconds_bucket{le=\"0.0050000000000000001\"} 400\n"));
    assert_non_null(strstr(b.data, "job_seconds_bucket{le=\"+Inf\"} 400\n"));
    assert_non_null(strstr(b.data, "job_seconds_count 400\n"));
    assert_non_null(strstr(b.data, "job_seconds_sum 1.2"));
    mcp_buf_free(&b);
    mcp_metrics_free(m);
}

static void test_registration_rules(void **state) {
    (void)state;
    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    mcp_metric_id id;
    assert_int_equal(mcp_metrics_counter(m, "9bad", "", NULL, 0, &id), MCP_EINVAL);
    assert_int_equal(mcp_metrics_counter(m, "a-b", "", NULL, 0, &id), MCP_EINVAL);
    assert_int_equal(mcp_metrics_counter(m, "ok_total", "", (mcp_label[]){{"__x", "v"}}, 1, &id), MCP_EINVAL);
    assert_int_equal(mcp_metrics_counter(m, "ok_total", "", (mcp_label[]){{"le", "v"}}, 1, &id), MCP_EINVAL);
    assert_int_equal(mcp_metrics_counter(m, "ok_total", "", (mcp_label[]){{"a", "1"}, {"a", "2"}}, 2, &id), MCP_EINVAL);
    assert_int_equal(mcp_metrics_counter(m, "ok_total", "", (mcp_label[]){{"a", "1"}}, 1, &id), 0);
    assert_int_equal(mcp_metrics_counter(m, "ok_total", "", (mcp_label[]){{"a", "1"}}, 1, &id), MCP_EEXIST);
    assert_int_equal(mcp_metrics_gauge(m, "ok_total", "", NULL, 0, &id), MCP_EINVAL); /* type clash */
    double unsorted[] = {1, 0.5};
    assert_int_equal(mcp_metrics_histogram(m, "h", "", NULL, 0, unsorted, 2, &id), MCP_EINVAL);
    /* wrong-type updates are ignored, not misapplied */
    mcp_metric_id g;
    assert_int_equal(mcp_metrics_gauge(m, "temp", "T.", NULL, 0, &g), 0);
    mcp_metrics_add(m, g, 5);
    mcp_metrics_gauge_set(m, g, 2.5);
    mcp_metrics_gauge_add(m, g, -1);
    assert_true(mcp_metrics_value(m, g) == 1.5);
    mcp_metrics_add(m, 9999, 1);
    /* slots run out: a clear error */
    char name[32];
    int rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++) {
        snprintf(name, sizeof name, "h%d", i);
        rc = mcp_metrics_histogram(m, name, "", NULL, 0, NULL, 0, &id);
    }
    assert_int_equal(rc, MCP_ELIMIT);
    mcp_metrics_free(m);
}

static void bad_collector(mcp_metrics_writer *w, void *user) {
    (void)user;
    mcp_metrics_write(w, "mcp_demo_up", "Up.", MCP_METRIC_GAUGE, NULL, 0, 1);
    mcp_metrics_write(w, "dup_total", "Already there.", MCP_METRIC_COUNTER, NULL, 0, 1); /* refused */
    mcp_metrics_write(w, "bad name", "x", MCP_METRIC_COUNTER, NULL, 0, 1);              /* refused */
    mcp_metrics_write(w, "mcp_demo_info", "Label escaping.", MCP_METRIC_GAUGE,
                      (mcp_label[]){{"path", "C:\\dir \"q\"\nnext"}}, 1, 1);
}

static void test_collectors_and_escaping(void **state) {
    (void)state;
    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    mcp_metric_id id;
    assert_int_equal(mcp_metrics_counter(m, "dup_total", "Help with \\ and\nnewline.", NULL, 0, &id), 0);
    assert_int_equal(mcp_metrics_add_collector(m, bad_collector, NULL), 0);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_metrics_render(m, &b), 0);
    assert_non_null(strstr(b.data, "# HELP dup_total Help with \\\\ and\\nnewline.\n"));
    assert_non_null(strstr(b.data, "mcp_demo_up 1\n"));
    assert_non_null(strstr(b.data, "mcp_demo_info{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n"));
    assert_null(strstr(b.data, "bad name"));
    assert_non_null(strstr(b.data, "mcp_metrics_render_errors_total 2\n"));
    /* dup_total appears once, with the registry's value */
    const char *first = strstr(b.data, "dup_total 0");
    assert_non_null(first);
    assert_null(strstr(first + 1, "dup_total 1"));
    mcp_buf_free(&b);
    mcp_metrics_free(m);
}

/* The full set a server exposes: request metrics from the hooks, the
 * tracer's counters, and promtool's verdict on the text. */
static void test_promtool_accepts_output(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &t), 0);
    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    mcp_obs *o;
    assert_int_equal(mcp_obs_new(t, m, &o), 0);
    assert_int_equal(mcp_metrics_add_collector(m, mcp_metrics_collect_tracer, t), 0);
    const char *methods[] = {"tools/call", "tools/list", "made/up"};
    for (int i = 0; i < 30; i++) {
        void *h = mcp_obs_request_start(o, &(mcp_obs_request){.method = methods[i % 3], .target = "x"});
        mcp_obs_request_end(o, h, &(mcp_obs_outcome){.rpc_code = i % 5 == 0 ? -32602 : 0, .tool_error = i % 7 == 0});
    }
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_metrics_render(m, &b), 0);
    assert_non_null(strstr(b.data, "mcp_server_requests_total{method=\"other\",outcome=\"ok\"} "));
    assert_non_null(strstr(b.data, "mcp_server_request_duration_seconds_count{method=\"tools/call\"} 10\n"));
    assert_non_null(strstr(b.data, "mcp_otel_spans_started_total 30\n"));
    assert_null(strstr(b.data, "made/up"));
    if (access("/usr/bin/promtool", X_OK) != 0) {
        mcp_buf_free(&b);
        mcp_obs_free(o);
        mcp_metrics_free(m);
        mcp_tracer_free(t);
        print_message("promtool not installed: skipping its check\n");
        skip();
    }
    char path[] = "/tmp/mcp_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char verdict[4096] = "";
    size_t n = fread(verdict, 1, sizeof verdict - 1, p);
    verdict[n] = '\0';
    int status = pclose(p);
    unlink(path);
    if (status != 0 || n) print_message("promtool: %s\n", verdict);
    assert_int_equal(status, 0);
    assert_int_equal(n, 0); /* not even a lint warning */
    mcp_buf_free(&b);
    mcp_obs_free(o);
    mcp_metrics_free(m);
    mcp_tracer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_sum_over_threads),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_collectors_and_escaping),
        cmocka_unit_test(test_promtool_accepts_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
