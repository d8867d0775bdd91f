/*
 * bench/harness.h — the benchmark harness behind `mcpd bench`.
 *
 * A module (bench/modules/<name>.c) offers workloads: an id, a size
 * parameter and the operation and repetition counts of the quick and full
 * profiles. For one workload the module builds its state and a list of
 * tasks; each task is one named benchmark (e.g. "session_lookup") whose run
 * function performs N operations of the real libmcp code path, timing only
 * the operations themselves. The harness warms each task up, repeats it,
 * and turns the repetitions into one bench_record: medians and their spread,
 * latency quantiles from an mcp_histogram, CPU time, RSS and the machine it
 * ran on. Records are what result files, baselines, compare and the report
 * all speak (bench/result.c writes and reads them; the format is described
 * in docs/metrology.md and bench/schema/result.schema.json).
 *
 * Adding a module: write bench/modules/<name>.c defining one
 * `const bench_module bench_module_<name>` and add one line to
 * bench/modules/modules.h.
 */
#ifndef MCP_BENCH_HARNESS_H
#define MCP_BENCH_HARNESS_H

#include "mcp/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_SCHEMA_VERSION 1
#define BENCH_MAX_REPS 64
#define BENCH_MAX_TASKS 16
#define BENCH_MAX_METRICS 16

typedef enum bench_profile { BENCH_QUICK = 0, BENCH_FULL = 1 } bench_profile;

typedef struct bench_env {
    char cpu_model[128];
    int cores;
    char kernel[128];
    char compiler[64];
    char build_type[32];
    char build_flags[256];
    char git_commit[48];
    char mcpd_version[16];
} bench_env;

typedef struct bench_rep {
    double duration_s;
    double throughput;  /* operations per second */
    double p50_us, p95_us, p99_us;
} bench_rep;

typedef struct bench_metric {
    char name[40];
    double value;
} bench_metric;

/* One measured benchmark of one workload: the unit of every result file. */
typedef struct bench_record {
    char workload_id[64];
    char module[32];
    char benchmark[48];
    char profile[8];
    char timestamp[32];
    char scope[256];
    bool reference;              /* see bench_task.reference */
    bench_env env;
    uint64_t operations;         /* per repetition */
    unsigned repetitions, warmup;
    double duration_s;           /* median over repetitions */
    double throughput, throughput_mad;
    double p50_us, p90_us, p95_us, p99_us, p999_us, max_us;
    double p95_mad_us, p99_mad_us;
    double mem_start_mib, mem_end_mib, mem_delta_mib, mem_peak_mib;
    double cpu_user_s, cpu_sys_s; /* median per repetition */
    double hist_rel_error;        /* precision: histogram bucket error bound */
    double timer_overhead_ns;     /* precision: cost of one clock read pair */
    bench_rep reps[BENCH_MAX_REPS];
    bench_metric metrics[BENCH_MAX_METRICS];
    size_t metric_count;
} bench_record;

/* One benchmark inside a workload. run performs ops operations; when lat is
 * non-NULL it times each one and records nanoseconds there. It stores in
 * *elapsed_ns the wall time of the operations alone (setup it needs between
 * repetitions is excluded). Returns 0 or a negative MCP_E* code. */
typedef struct bench_task {
    char name[48];
    char scope[256];
    /* The latency pass also gives the throughput (the clock reads are
     * negligible next to one operation), so the untimed pass is skipped. */
    bool single_pass;
    int (*run)(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns);
    void *ctx;
    /* A measurement of something that is not libmcp (a peer library, a null
     * server) kept for ratios: reported, never judged as a regression. */
    bool reference;
} bench_task;

typedef struct bench_workload {
    const char *id;
    const char *description;
    uint64_t size;                 /* module-defined: table size, corpus kind ... */
    uint64_t ops[2];               /* operations per repetition: quick, full */
    unsigned reps[2];              /* repetitions: quick, full */
} bench_workload;

typedef struct bench_module {
    const char *name;
    const char *description;
    const char *notes;             /* printed by list and run: what is not measured, and why */
    const bench_workload *workloads;
    size_t workload_count;
    /* Build state for workload w and fill tasks (at most BENCH_MAX_TASKS). */
    int (*setup)(const bench_workload *w, void **state, bench_task *tasks, size_t *task_count);
    /* Optional: derive metrics across the records of one run (ratios). */
    void (*finish)(void *state, bench_record *records, size_t count);
    void (*teardown)(void *state);
    /* Optional: a small fixed piece of work for instruction counting. */
    int (*deterministic)(void);
    /* Run the tasks of a workload repetition by repetition in turn, so that
     * tasks compared by a ratio see the same machine load. */
    bool interleave;
} bench_module;

/* Registered modules (bench/registry.c). */
size_t bench_module_count(void);
const bench_module *bench_module_at(size_t i);
const bench_module *bench_module_find(const char *name);
/* Find a workload by id across modules; module_out may be NULL. */
const bench_workload *bench_workload_find(const char *id, const bench_module **module_out);

/* Environment (bench/env.c). */
void bench_env_capture(bench_env *env);
double bench_rss_mib(void);       /* VmRSS */
double bench_rss_peak_mib(void);  /* VmHWM */
void bench_rss_peak_reset(void);  /* best effort */
double bench_timer_overhead_ns(void);

/* Run every task of workload w of module m; records get one entry per
 * task. Progress lines go to log (may be NULL). */
int bench_workload_run(const bench_module *m, const bench_workload *w, bench_profile profile,
                       const bench_env *env, bench_record *records, size_t *count, FILE *log);

/* Statistics helpers (bench/harness.c). */
double bench_median(const double *values, size_t n);
double bench_mad(const double *values, size_t n); /* median absolute deviation */
/* Median, lowest and highest of n (1..BENCH_MAX_REPS) values, into out. */
void bench_spread(const double *values, size_t n, double out[3]);
/* The throughput of r over that of ref, repetition by repetition (for tasks
 * that ran back to back in each repetition), as bench_spread gives it.
 * False when no repetition of ref has a throughput. */
bool bench_paired_ratio(const bench_record *r, const bench_record *ref, double out[3]);
void bench_record_add_metric(bench_record *r, const char *name, double value);
const bench_metric *bench_record_metric(const bench_record *r, const char *name);

/* Small utilities shared by the subcommands (bench/util.c). */
int bench_read_file(const char *path, mcp_buf *out);      /* 0 or MCP_EIO */
int bench_write_file(const char *path, const char *data, size_t len);
int bench_mkdir_p(const char *path);
void bench_copy_str(char *dst, size_t cap, const char *src);

#endif
