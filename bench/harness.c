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

void bench_spread(const double *values, size_t n, double out[3]) {
    double tmp[BENCH_MAX_REPS];
    if (n > BENCH_MAX_REPS) n = BENCH_MAX_REPS;
    memcpy(tmp, values, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    out[0] = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
    out[1] = tmp[0];
    out[2] = tmp[n - 1];
}

bool bench_paired_ratio(const bench_record *r, const bench_record *ref, double out[3]) {
    double ratio[BENCH_MAX_REPS];
    unsigned n = 0;
    for (unsigned i = 0; i < r->repetitions && i < ref->repetitions && i < BENCH_MAX_REPS; i++)
        if (ref->reps[i].throughput > 0) ratio[n++] = r->reps[i].throughput / ref->reps[i].throughput;
    if (!n) return false;
    bench_spread(ratio, n, out);
    return true;
}

void bench_record_add_metric(bench_record *r, const char *name, double value) {
    for (size_t i = 0; i < r->metric_count; i++) {
        if (!strcmp(r->metrics[i].name, name)) {
            r->metrics[i].value = value;
            return;
        }
    }
    if (r->metric_count >= BENCH_MAX_METRICS) {
        /* A lost metric would read as "not measured" in the JSON: say so
         * where the person running the suite sees it. */
        fprintf(stderr, "bench: %s: no room for metric %s (BENCH_MAX_METRICS %d)\n", r->benchmark, name,
                BENCH_MAX_METRICS);
        return;
    }
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

/* The repetitions of one task as they accumulate, before the summary. */
typedef struct task_run {
    mcp_histogram *rep_hist, *all_hist;
    double thr[BENCH_MAX_REPS], dur[BENCH_MAX_REPS], p50[BENCH_MAX_REPS], p90[BENCH_MAX_REPS],
        p95[BENCH_MAX_REPS], p99[BENCH_MAX_REPS], p999[BENCH_MAX_REPS], cpu_u[BENCH_MAX_REPS],
        cpu_s[BENCH_MAX_REPS];
    unsigned done;
} task_run;

static int task_run_init(task_run *tr) {
    memset(tr, 0, sizeof *tr);
    tr->rep_hist = mcp_histogram_new();
    tr->all_hist = mcp_histogram_new();
    return tr->rep_hist && tr->all_hist ? MCP_OK : MCP_ENOMEM;
}

static void task_run_free(task_run *tr) {
    mcp_histogram_free(tr->rep_hist);
    mcp_histogram_free(tr->all_hist);
}

/* Warm-up: caches, branch predictors, lazily mapped pages, CPU clock. */
static int task_warm_up(const bench_task *task, uint64_t ops, task_run *tr) {
    uint64_t elapsed = 0;
    int rc = task->run(task->ctx, ops, task->single_pass ? tr->rep_hist : NULL, &elapsed);
    mcp_histogram_reset(tr->rep_hist);
    return rc;
}

static int task_repeat_once(const bench_task *task, uint64_t ops, task_run *tr, bench_record *r) {
    unsigned i = tr->done;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    uint64_t untimed_ns = 0, timed_ns = 0;
    int rc = task->single_pass ? 0 : task->run(task->ctx, ops, NULL, &untimed_ns);
    if (rc) return rc;
    mcp_histogram_reset(tr->rep_hist);
    rc = task->run(task->ctx, ops, tr->rep_hist, &timed_ns);
    if (rc) return rc;
    getrusage(RUSAGE_SELF, &after);
    uint64_t ns = task->single_pass ? timed_ns : untimed_ns;
    if (ns == 0) ns = 1;
    tr->dur[i] = (double)ns / 1e9;
    tr->thr[i] = (double)ops / tr->dur[i];
    tr->p50[i] = ns_to_us(mcp_histogram_quantile(tr->rep_hist, 0.50));
    tr->p90[i] = ns_to_us(mcp_histogram_quantile(tr->rep_hist, 0.90));
    tr->p95[i] = ns_to_us(mcp_histogram_quantile(tr->rep_hist, 0.95));
    tr->p99[i] = ns_to_us(mcp_histogram_quantile(tr->rep_hist, 0.99));
    tr->p999[i] = ns_to_us(mcp_histogram_quantile(tr->rep_hist, 0.999));
    tr->cpu_u[i] = timeval_s(after.ru_utime) - timeval_s(before.ru_utime);
    tr->cpu_s[i] = timeval_s(after.ru_stime) - timeval_s(before.ru_stime);
    mcp_histogram_merge(tr->all_hist, tr->rep_hist);
    r->reps[i] = (bench_rep){tr->dur[i], tr->thr[i], tr->p50[i], tr->p95[i], tr->p99[i]};
    tr->done++;
    return MCP_OK;
}

static void task_summarize(const task_run *tr, uint64_t ops, bench_record *r) {
    unsigned done = tr->done;
    r->operations = ops;
    r->repetitions = done;
    r->warmup = 1;
    r->duration_s = bench_median(tr->dur, done);
    r->throughput = bench_median(tr->thr, done);
    r->throughput_mad = bench_mad(tr->thr, done);
    r->p50_us = bench_median(tr->p50, done);
    r->p90_us = bench_median(tr->p90, done);
    r->p95_us = bench_median(tr->p95, done);
    r->p99_us = bench_median(tr->p99, done);
    r->p999_us = bench_median(tr->p999, done);
    r->max_us = ns_to_us(mcp_histogram_max(tr->all_hist));
    r->p95_mad_us = bench_mad(tr->p95, done);
    r->p99_mad_us = bench_mad(tr->p99, done);
    r->cpu_user_s = bench_median(tr->cpu_u, done);
    r->cpu_sys_s = bench_median(tr->cpu_s, done);
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

/* One task on its own: warm-up, repetitions, summary into r. */
static int run_task(const bench_task *task, uint64_t ops, unsigned reps, bench_record *r) {
    task_run tr;
    int rc = task_run_init(&tr);
    if (rc == 0) {
        bench_rss_peak_reset();
        r->mem_start_mib = bench_rss_mib();
        rc = task_warm_up(task, ops, &tr);
    }
    for (unsigned i = 0; rc == 0 && i < reps; i++) rc = task_repeat_once(task, ops, &tr, r);
    if (rc == 0) task_summarize(&tr, ops, r);
    task_run_free(&tr);
    return rc;
}

/* Every task of a workload, repetition by repetition in turn: task A's
 * first, then B's first, then A's second... Two things measured side by
 * side for a ratio (our server and a null server, our codec and cJSON) then
 * see the same machine load, instead of one of them taking the quiet minute
 * and the other the busy one. Memory fields span the whole workload. */
static int run_tasks_interleaved(const bench_task *tasks, size_t ntasks, uint64_t ops, unsigned reps,
                                 bench_record *records) {
    task_run *runs = calloc(ntasks, sizeof *runs);
    if (!runs) return MCP_ENOMEM;
    int rc = MCP_OK;
    size_t ready = 0;
    for (; rc == 0 && ready < ntasks; ready++) rc = task_run_init(&runs[ready]);
    bench_rss_peak_reset();
    double mem_start = bench_rss_mib();
    for (size_t t = 0; rc == 0 && t < ntasks; t++) {
        records[t].mem_start_mib = mem_start;
        rc = task_warm_up(&tasks[t], ops, &runs[t]);
    }
    for (unsigned i = 0; rc == 0 && i < reps; i++)
        for (size_t t = 0; rc == 0 && t < ntasks; t++) rc = task_repeat_once(&tasks[t], ops, &runs[t], &records[t]);
    for (size_t t = 0; rc == 0 && t < ntasks; t++) task_summarize(&runs[t], ops, &records[t]);
    for (size_t t = 0; t < ready; t++) task_run_free(&runs[t]);
    free(runs);
    return rc;
}

static unsigned reps_of(const bench_workload *w, bench_profile profile) {
    return w->reps[profile] > BENCH_MAX_REPS ? BENCH_MAX_REPS : w->reps[profile];
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
        bench_record *r = &records[i];
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
    }
    uint64_t ops = w->ops[profile];
    unsigned reps = reps_of(w, profile);
    if (m->interleave) {
        rc = run_tasks_interleaved(tasks, ntasks, ops, reps, records);
        if (rc && log) fprintf(log, "bench: %s failed: %s\n", w->id, mcp_strerror(rc));
        if (rc == 0) *count = ntasks;
    } else {
        for (size_t i = 0; i < ntasks; i++) {
            rc = run_task(&tasks[i], ops, reps, &records[i]);
            if (rc) {
                if (log) fprintf(log, "bench: %s/%s failed: %s\n", w->id, tasks[i].name, mcp_strerror(rc));
                break;
            }
            (*count)++;
        }
    }
    if (rc == 0 && m->finish) m->finish(state, records, *count);
    if (m->teardown) m->teardown(state);
    return rc;
}
