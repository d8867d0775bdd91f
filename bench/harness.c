/*
 * The measuring loop: warm-up, then N repetitions of each task, each
 * repetition made of an untimed pass (throughput, no clock reads between
 * operations) and a timed pass (one histogram sample per operation). The
 * record keeps the median of the repetitions and their median absolute
 * deviation, because on a shared two-core machine a mean is dragged around
 * by whichever repetition the scheduler interrupted, and the MAD is what
 * compare uses to tell noise from a regression.
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *values, size_t n) {
    if (n == 0) return 0.0;
    double tmp[BENCH_MAX_REPS];
    if (n > BENCH_MAX_REPS) n = BENCH_MAX_REPS;
    memcpy(tmp, values, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
}

double bench_mad(const double *values, size_t n) {
    if (n == 0) return 0.0;
    if (n > BENCH_MAX_REPS) n = BENCH_MAX_REPS;
    double med = bench_median(values, n);
    double dev[BENCH_MAX_REPS];
    for (size_t i = 0; i < n; i++) dev[i] = fabs(values[i] - med);
    return bench_median(dev, n);
}

void bench_record_add_metric(bench_record *r, const char *name, double value) {
    for (size_t i = 0; i < r->metric_count; i++) {
        if (!strcmp(r->metrics[i].name, name)) {
            r->metrics[i].value = value;
            return;
        }
    }
    if (r->metric_count >= BENCH_MAX_METRICS) return;
    bench_copy_str(r->metrics[r->metric_count].name, sizeof r->metrics[0].name, name);
    r->metrics[r->metric_count].value = value;
    r->metric_count++;
}

const bench_metric *bench_record_metric(const bench_record *r, const char *name) {
    for (size_t i = 0; i < r->metric_count; i++)
        if (!strcmp(r->metrics[i].name, name)) return &r->metrics[i];
    return NULL;
}

static double timeval_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double ns_to_us(uint64_t ns) {
    return (double)ns / 1000.0;
}

/* One task: warm-up, repetitions, summary into r. */
static int run_task(const bench_task *task, uint64_t ops, unsigned reps, bench_record *r) {
    mcp_histogram *rep_hist = mcp_histogram_new();
    mcp_histogram *all_hist = mcp_histogram_new();
    if (!rep_hist || !all_hist) {
        mcp_histogram_free(rep_hist);
        mcp_histogram_free(all_hist);
        return MCP_ENOMEM;
    }
    bench_rss_peak_reset();
    r->mem_start_mib = bench_rss_mib();

    /* Warm-up: caches, branch predictors, lazily mapped pages, CPU clock. */
    uint64_t elapsed = 0;
    int rc = task->run(task->ctx, ops, task->single_pass ? rep_hist : NULL, &elapsed);
    mcp_histogram_reset(rep_hist);

    double thr[BENCH_MAX_REPS], dur[BENCH_MAX_REPS], p50[BENCH_MAX_REPS], p90[BENCH_MAX_REPS],
        p95[BENCH_MAX_REPS], p99[BENCH_MAX_REPS], p999[BENCH_MAX_REPS], cpu_u[BENCH_MAX_REPS],
        cpu_s[BENCH_MAX_REPS];
    if (reps > BENCH_MAX_REPS) reps = BENCH_MAX_REPS;
    unsigned done = 0;
    for (unsigned i = 0; rc == 0 && i < reps; i++) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        uint64_t untimed_ns = 0, timed_ns = 0;
        if (!task->single_pass) rc = task->run(task->ctx, ops, NULL, &untimed_ns);
        if (rc) break;
        mcp_histogram_reset(rep_hist);
        rc = task->run(task->ctx, ops, rep_hist, &timed_ns);
        if (rc) break;
        getrusage(RUSAGE_SELF, &after);
        uint64_t ns = task->single_pass ? timed_ns : untimed_ns;
        if (ns == 0) ns = 1;
        dur[i] = (double)ns / 1e9;
        thr[i] = (double)ops / dur[i];
        p50[i] = ns_to_us(mcp_histogram_quantile(rep_hist, 0.50));
        p90[i] = ns_to_us(mcp_histogram_quantile(rep_hist, 0.90));
        p95[i] = ns_to_us(mcp_histogram_quantile(rep_hist, 0.95));
        p99[i] = ns_to_us(mcp_histogram_quantile(rep_hist, 0.99));
        p999[i] = ns_to_us(mcp_histogram_quantile(rep_hist, 0.999));
        cpu_u[i] = timeval_s(after.ru_utime) - timeval_s(before.ru_utime);
        cpu_s[i] = timeval_s(after.ru_stime) - timeval_s(before.ru_stime);
        mcp_histogram_merge(all_hist, rep_hist);
        r->reps[i] = (bench_rep){dur[i], thr[i], p50[i], p95[i], p99[i]};
        done++;
    }
    if (rc == 0) {
        r->operations = ops;
        r->repetitions = done;
        r->warmup = 1;
        r->duration_s = bench_median(dur, done);
        r->throughput = bench_median(thr, done);
        r->throughput_mad = bench_mad(thr, done);
        r->p50_us = bench_median(p50, done);
        r->p90_us = bench_median(p90, done);
        r->p95_us = bench_median(p95, done);
        r->p99_us = bench_median(p99, done);
        r->p999_us = bench_median(p999, done);
        r->max_us = ns_to_us(mcp_histogram_max(all_hist));
        r->p95_mad_us = bench_mad(p95, done);
        r->p99_mad_us = bench_mad(p99, done);
        r->cpu_user_s = bench_median(cpu_u, done);
        r->cpu_sys_s = bench_median(cpu_s, done);
        r->mem_end_mib = bench_rss_mib();
        r->mem_delta_mib = r->mem_end_mib - r->mem_start_mib;
        r->mem_peak_mib = bench_rss_peak_mib();
        if (r->mem_peak_mib < r->mem_end_mib) r->mem_peak_mib = r->mem_end_mib;
        if (r->mem_peak_mib < r->mem_start_mib) r->mem_peak_mib = r->mem_start_mib;
        /* Quantiles are medians of per-repetition quantiles, while max is
         * over everything: keep the reported set ordered as it must be. */
        if (r->p90_us < r->p50_us) r->p90_us = r->p50_us;
        if (r->p95_us < r->p90_us) r->p95_us = r->p90_us;
        if (r->p99_us < r->p95_us) r->p99_us = r->p95_us;
        if (r->p999_us < r->p99_us) r->p999_us = r->p99_us;
        if (r->max_us < r->p999_us) r->max_us = r->p999_us;
    }
    mcp_histogram_free(rep_hist);
    mcp_histogram_free(all_hist);
    return rc;
}

int bench_workload_run(const bench_module *m, const bench_workload *w, bench_profile profile,
                       const bench_env *env, bench_record *records, size_t *count, FILE *log) {
    *count = 0;
    void *state = NULL;
    bench_task tasks[BENCH_MAX_TASKS];
    size_t ntasks = 0;
    memset(tasks, 0, sizeof tasks);
    int rc = m->setup(w, &state, tasks, &ntasks);
    if (rc) {
        if (log) fprintf(log, "bench: %s: setup failed: %s\n", w->id, mcp_strerror(rc));
        return rc;
    }
    char timestamp[32];
    mcp_time_iso8601(timestamp);
    double timer_ns = bench_timer_overhead_ns();
    for (size_t i = 0; i < ntasks; i++) {
        bench_record *r = &records[*count];
        memset(r, 0, sizeof *r);
        bench_copy_str(r->workload_id, sizeof r->workload_id, w->id);
        bench_copy_str(r->module, sizeof r->module, m->name);
        bench_copy_str(r->benchmark, sizeof r->benchmark, tasks[i].name);
        bench_copy_str(r->profile, sizeof r->profile, profile == BENCH_FULL ? "full" : "quick");
        bench_copy_str(r->timestamp, sizeof r->timestamp, timestamp);
        bench_copy_str(r->scope, sizeof r->scope, tasks[i].scope);
        r->reference = tasks[i].reference;
        r->env = *env;
        r->hist_rel_error = 1.0 / MCP_HISTOGRAM_SUB_BUCKETS;
        r->timer_overhead_ns = timer_ns;
        rc = run_task(&tasks[i], w->ops[profile], w->reps[profile], r);
        if (rc) {
            if (log) fprintf(log, "bench: %s/%s failed: %s\n", w->id, tasks[i].name, mcp_strerror(rc));
            break;
        }
        (*count)++;
    }
    if (rc == 0 && m->finish) m->finish(state, records, *count);
    if (m->teardown) m->teardown(state);
    return rc;
}
