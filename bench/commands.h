/*
 * bench/commands.h — the `mcpd bench` subcommands beyond list/run/validate,
 * and the baseline store they share.
 *
 * A baseline file (bench/baselines/<date>_<version>.json) is one format:
 *   {"schema_version":1,"kind":"baseline","created":"...","version":"0.1.0",
 *    "reason":"...","commit":"<sha>","profile":"quick","environment":{...},
 *    "instructions":{"core_ops":123,...},"results":[record...]}
 * Files sort by name, and within a day by the suffix, so the newest is last.
 */
#ifndef MCP_BENCH_COMMANDS_H
#define MCP_BENCH_COMMANDS_H

#include "result.h"

#define BENCH_DEFAULT_RESULTS "bench/results"
#define BENCH_DEFAULT_BASELINES "bench/baselines"
#define BENCH_DEFAULT_THRESHOLDS "bench/thresholds.json"
#define BENCH_MAX_INSTR 8

typedef struct bench_instr_count {
    char module[32];
    uint64_t count;
} bench_instr_count;

typedef struct bench_baseline {
    char name[256];      /* file name */
    char created[32];
    char version[16];
    char reason[256];
    char commit[48];
    char profile[8];
    bench_env env;
    bench_record_list records;
    bench_instr_count instr[BENCH_MAX_INSTR];
    size_t instr_count;
} bench_baseline;

/* Load every baseline in dir, oldest first. Files that break the format
 * are reported through errs and skipped. */
int bench_baselines_load(const char *dir, bench_baseline **out, size_t *count, bench_errors *errs);
void bench_baselines_free(bench_baseline *list, size_t count);
int bench_baseline_load_file(const char *path, bench_baseline *b, bench_errors *errs);

/* Count the instructions of a module's fixed deterministic workload under
 * callgrind. MCP_EUNSUPPORTED when valgrind is not installed. */
int bench_instructions_measure(const bench_module *m, uint64_t *count);

/* Regression rules (bench/thresholds.json). */
typedef struct bench_thresholds {
    double throughput_drop_fail_pct;
    double latency_p95_rise_fail_pct;
    double latency_p99_rise_fail_pct;
    double memory_rise_warn_pct;
    double feature_overhead_warn_pct;
    double instructions_rise_fail_pct;
    double noise_mad_factor;   /* a change within factor x (MAD old + MAD new) is noise */
    double latency_floor_us;   /* latency changes smaller than this are noise */
    double memory_floor_mib;   /* memory changes smaller than this are noise */
} bench_thresholds;

typedef enum bench_verdict {
    BENCH_PASS = 0,
    BENCH_NOISE,   /* beyond the threshold, or not, but inside the measured noise */
    BENCH_NEW,     /* nothing to compare with */
    BENCH_WARN,
    BENCH_FAIL
} bench_verdict;

const char *bench_verdict_name(bench_verdict v);
void bench_thresholds_default(bench_thresholds *t);
int bench_thresholds_load(const char *path, bench_thresholds *t, bench_errors *errs);
/* Compare one record with its baseline (base may be NULL). detail gets one
 * line naming the deciding metric and why. */
bench_verdict bench_compare_record(const bench_thresholds *t, const bench_record *base, const bench_record *cur,
                                   char *detail, size_t cap);

int bench_cmd_compare(int argc, char **argv);
int bench_cmd_baseline(int argc, char **argv);
int bench_cmd_report(int argc, char **argv);
int bench_cmd_instructions(int argc, char **argv);
int bench_cmd_deterministic_run(int argc, char **argv);

#endif
