/*
 * Regression detection: the latest results against the newest baseline,
 * metric by metric, with the thresholds of bench/thresholds.json.
 *
 * A change only counts when it is larger than the noise both runs showed:
 * noise_mad_factor x (MAD of the baseline + MAD of the new run), where the
 * MAD is taken across repetitions. On a shared two-core machine a 12%
 * throughput drop with a 9% spread on each side is not evidence of anything,
 * and compare says so instead of failing. Memory has no repetitions, so a
 * fixed floor stands in for its noise; latencies get a floor too, because a
 * 30 ns change in a 100 ns p99 is at the resolution of the clock.
 */
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *bench_verdict_name(bench_verdict v) {
    switch (v) {
    case BENCH_PASS: return "pass";
    case BENCH_NOISE: return "noise";
    case BENCH_NEW: return "new";
    case BENCH_WARN: return "WARN";
    case BENCH_FAIL: return "FAIL";
    }
    return "?";
}

void bench_thresholds_default(bench_thresholds *t) {
    *t = (bench_thresholds){
        .throughput_drop_fail_pct = 10,
        .latency_p95_rise_fail_pct = 10,
        .latency_p99_rise_fail_pct = 10,
        .memory_rise_warn_pct = 20,
        .feature_overhead_warn_pct = 5,
        .instructions_rise_fail_pct = 3,
        .noise_mad_factor = 2,
        .latency_floor_us = 0.05,
        .memory_floor_mib = 1,
    };
}

int bench_thresholds_load(const char *path, bench_thresholds *t, bench_errors *errs) {
    bench_thresholds_default(t);
    mcp_buf text;
    mcp_buf_init(&text);
    if (bench_read_file(path, &text) != 0) {
        mcp_buf_free(&text);
        bench_error(errs, path, "cannot read the thresholds");
        return MCP_EIO;
    }
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    mcp_json_error jerr;
    int rc = mcp_json_parse(&arena, text.data, text.len, NULL, &doc, &jerr);
    if (rc) {
        bench_error(errs, path, "offset %zu: %s", jerr.offset, jerr.message);
    } else {
        static const struct {
            const char *name;
            size_t offset;
        } FIELDS[] = {
#define T(f) {#f, offsetof(bench_thresholds, f)}
            T(throughput_drop_fail_pct), T(latency_p95_rise_fail_pct), T(latency_p99_rise_fail_pct),
            T(memory_rise_warn_pct),     T(feature_overhead_warn_pct), T(instructions_rise_fail_pct),
            T(noise_mad_factor),         T(latency_floor_us),          T(memory_floor_mib),
#undef T
        };
        for (const mcp_json *v = mcp_json_first(doc); v; v = mcp_json_next(v)) {
            mcp_str k = mcp_json_key(v);
            if (mcp_str_eq_cstr(k, "schema_version") || mcp_str_eq_cstr(k, "comment")) continue;
            size_t i = 0;
            while (i < sizeof FIELDS / sizeof FIELDS[0] && !mcp_str_eq_cstr(k, FIELDS[i].name)) i++;
            if (i == sizeof FIELDS / sizeof FIELDS[0]) {
                bench_error(errs, path, "unknown threshold \"%.*s\"", (int)k.len, k.ptr);
                rc = MCP_EINVAL;
            } else if (!mcp_json_is_number(v) || mcp_json_num(v, -1) < 0) {
                bench_error(errs, path, "\"%.*s\" must be a non-negative number", (int)k.len, k.ptr);
                rc = MCP_EINVAL;
            } else {
                *(double *)((char *)t + FIELDS[i].offset) = mcp_json_num(v, 0);
            }
        }
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&text);
    return rc;
}

typedef struct metric_check {
    const char *name;
    double old_value, new_value;
    double noise;         /* absolute */
    double threshold_pct; /* allowed change in the bad direction */
    bool higher_is_worse;
    bench_verdict severity;
} metric_check;

static double pct_change(double old_value, double new_value) {
    if (old_value <= 0) return new_value > 0 ? INFINITY : 0.0;
    return 100.0 * (new_value - old_value) / old_value;
}

bench_verdict bench_compare_record(const bench_thresholds *t, const bench_record *base, const bench_record *cur,
                                   char *detail, size_t cap) {
    if (!base) {
        snprintf(detail, cap, "no baseline result to compare with");
        return BENCH_NEW;
    }
    double f = t->noise_mad_factor;
    metric_check checks[] = {
        {"throughput", base->throughput, cur->throughput, f * (base->throughput_mad + cur->throughput_mad),
         t->throughput_drop_fail_pct, false, BENCH_FAIL},
        {"p95 latency", base->p95_us, cur->p95_us,
         fmax(f * (base->p95_mad_us + cur->p95_mad_us), t->latency_floor_us), t->latency_p95_rise_fail_pct, true,
         BENCH_FAIL},
        {"p99 latency", base->p99_us, cur->p99_us,
         fmax(f * (base->p99_mad_us + cur->p99_mad_us), t->latency_floor_us), t->latency_p99_rise_fail_pct, true,
         BENCH_FAIL},
        {"peak memory", base->mem_peak_mib, cur->mem_peak_mib, t->memory_floor_mib, t->memory_rise_warn_pct, true,
         BENCH_WARN},
    };
    bench_verdict worst = BENCH_PASS;
    detail[0] = '\0';
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        const metric_check *c = &checks[i];
        double change = pct_change(c->old_value, c->new_value);
        double bad = c->higher_is_worse ? change : -change;
        if (bad <= c->threshold_pct) continue;
        bench_verdict v = c->severity;
        double noise_pct = c->old_value > 0 ? 100.0 * c->noise / c->old_value : 0.0;
        if (fabs(c->new_value - c->old_value) <= c->noise) v = BENCH_NOISE;
        if (v > worst || (v == worst && v != BENCH_PASS && !detail[0])) {
            worst = v;
            if (v == BENCH_NOISE)
                snprintf(detail, cap, "%s %+.1f%% is beyond the %.0f%% threshold but inside the noise of the "
                         "repetitions (+-%.1f%%): not called a regression", c->name, change, c->threshold_pct,
                         noise_pct);
            else
                snprintf(detail, cap, "%s %+.1f%% (%.4g -> %.4g) exceeds the %.0f%% threshold, noise +-%.1f%%",
                         c->name, change, c->old_value, c->new_value, c->threshold_pct, noise_pct);
        }
    }
    const bench_metric *overhead = bench_record_metric(cur, "feature_overhead_pct");
    if (overhead && overhead->value > t->feature_overhead_warn_pct && worst < BENCH_WARN) {
        worst = BENCH_WARN;
        snprintf(detail, cap, "feature overhead %.1f%% exceeds %.0f%%", overhead->value, t->feature_overhead_warn_pct);
    }
    if (worst == BENCH_PASS)
        snprintf(detail, cap, "throughput %+.1f%%, p99 %+.1f%%", pct_change(base->throughput, cur->throughput),
                 pct_change(base->p99_us, cur->p99_us));
    return worst;
}

/* ---- deterministic mode --------------------------------------------------------- */

static int compare_instructions(const bench_thresholds *t, const bench_baseline *base) {
    bench_env env;
    bench_env_capture(&env);
    printf("deterministic compare: instruction counts under callgrind vs %s (threshold +%.1f%%)\n",
           base ? base->name : "(no baseline)", t->instructions_rise_fail_pct);
    if (base && strcmp(base->env.build_type, env.build_type)) {
        printf("verdict: FAIL — the baseline was counted on a %s build and this is a %s build; "
               "counts are only comparable between identical builds (use build-release/mcpd)\n",
               base->env.build_type, env.build_type);
        return 2;
    }
    int worst = 0;
    for (size_t i = 0; i < bench_module_count(); i++) {
        const bench_module *m = bench_module_at(i);
        if (!m->deterministic) continue;
        uint64_t count = 0;
        int rc = bench_instructions_measure(m, &count);
        if (rc == MCP_EUNSUPPORTED) {
            printf("verdict: FAIL — valgrind is not installed, so instructions cannot be counted\n");
            return 2;
        }
        if (rc) {
            printf("%-12s measuring failed: %s  FAIL\n", m->name, mcp_strerror(rc));
            worst = 2;
            continue;
        }
        const bench_instr_count *old = NULL;
        for (size_t j = 0; base && j < base->instr_count; j++)
            if (!strcmp(base->instr[j].module, m->name)) old = &base->instr[j];
        if (!old) {
            printf("%-12s %14llu  no baseline count  WARN\n", m->name, (unsigned long long)count);
            if (worst < 1) worst = 1;
            continue;
        }
        double change = pct_change((double)old->count, (double)count);
        const char *v = "pass";
        if (change > t->instructions_rise_fail_pct) {
            v = "FAIL";
            worst = 2;
        }
        printf("%-12s %14llu -> %14llu  %+6.2f%%  %s%s\n", m->name, (unsigned long long)old->count,
               (unsigned long long)count, change, v,
               change < -t->instructions_rise_fail_pct ? " (improved: consider recording a new baseline)" : "");
    }
    printf("verdict: %s\n", worst == 2 ? "FAIL" : worst == 1 ? "WARN" : "PASS");
    return worst;
}

/* ---- command ----------------------------------------------------------------------- */

int bench_cmd_compare(int argc, char **argv) {
    const char *results_dir = BENCH_DEFAULT_RESULTS, *baselines_dir = BENCH_DEFAULT_BASELINES,
               *thresholds_path = BENCH_DEFAULT_THRESHOLDS, *baseline_file = NULL;
    bool deterministic = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--results") && i + 1 < argc) results_dir = argv[++i];
        else if (!strcmp(argv[i], "--baselines") && i + 1 < argc) baselines_dir = argv[++i];
        else if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline_file = argv[++i];
        else if (!strcmp(argv[i], "--thresholds") && i + 1 < argc) thresholds_path = argv[++i];
        else if (!strcmp(argv[i], "--deterministic")) deterministic = true;
        else {
            fprintf(stderr, "mcpd bench compare: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    bench_errors errs = {stderr, NULL, 0};
    bench_thresholds t;
    if (bench_thresholds_load(thresholds_path, &t, &errs) != 0) {
        fprintf(stderr, "mcpd bench compare: bad thresholds file %s\n", thresholds_path);
        return 2;
    }
    bench_baseline *list = NULL, single;
    size_t count = 0;
    const bench_baseline *base = NULL;
    if (baseline_file) {
        errs.file = baseline_file;
        if (bench_baseline_load_file(baseline_file, &single, &errs) != 0) {
            fprintf(stderr, "mcpd bench compare: %s is not a valid baseline\n", baseline_file);
            return 2;
        }
        base = &single;
    } else {
        if (bench_baselines_load(baselines_dir, &list, &count, &errs) < 0) {
            fprintf(stderr, "mcpd bench compare: cannot read %s\n", baselines_dir);
            return 2;
        }
        if (count) base = &list[count - 1];
    }

    int exit_code;
    if (deterministic) {
        exit_code = compare_instructions(&t, base);
    } else {
        bench_record_list cur = {0};
        errs.file = NULL;
        int problems = bench_results_load_dir(results_dir, &cur, &errs);
        if (problems < 0 || cur.count == 0) {
            fprintf(stderr, "mcpd bench compare: no results in %s (run `mcpd bench run` first)\n", results_dir);
            exit_code = 2;
        } else {
            if (base) {
                printf("compare: %s vs baseline %s (%s, commit %.12s, \"%s\")\n", results_dir, base->name,
                       base->created, base->commit, base->reason);
                if (strcmp(base->env.cpu_model, cur.items[0].env.cpu_model) ||
                    strcmp(base->env.build_type, cur.items[0].env.build_type))
                    printf("note: the baseline was measured on %s (%s), these results on %s (%s): "
                           "differences may be the machine, not the code\n",
                           base->env.cpu_model, base->env.build_type, cur.items[0].env.cpu_model,
                           cur.items[0].env.build_type);
            } else {
                printf("compare: no baseline in %s; every result is new\n", baselines_dir);
            }
            printf("%-42s %10s %9s %9s %9s  %s\n", "workload/benchmark", "throughput", "p95", "p99", "memory",
                   "verdict");
            int n[BENCH_FAIL + 1] = {0};
            int n_reference = 0;
            for (size_t i = 0; i < cur.count; i++) {
                const bench_record *r = &cur.items[i];
                const bench_record *b = base ? bench_record_list_find(&base->records, r->workload_id, r->benchmark) : NULL;
                char detail[320];
                if (r->reference) {
                    /* A peer library or a null server: its speed is context for
                     * our ratios, and its changes are not ours to gate on. */
                    char ref_name[sizeof r->workload_id + sizeof r->benchmark + 1];
                    snprintf(ref_name, sizeof ref_name, "%s/%s", r->workload_id, r->benchmark);
                    printf("%-42s %10s %9s %9s %9s  %s\n", ref_name, "-", "-", "-", "-", "reference");
                    n_reference++;
                    continue;
                }
                bench_verdict v = bench_compare_record(&t, b, r, detail, sizeof detail);
                n[v]++;
                char name[sizeof r->workload_id + sizeof r->benchmark + 1];
                snprintf(name, sizeof name, "%s/%s", r->workload_id, r->benchmark);
                if (b)
                    printf("%-42s %+9.1f%% %+8.1f%% %+8.1f%% %+8.1f%%  %s\n", name,
                           pct_change(b->throughput, r->throughput), pct_change(b->p95_us, r->p95_us),
                           pct_change(b->p99_us, r->p99_us), pct_change(b->mem_peak_mib, r->mem_peak_mib),
                           bench_verdict_name(v));
                else
                    printf("%-42s %10s %9s %9s %9s  %s\n", name, "-", "-", "-", "-", bench_verdict_name(v));
                if (v == BENCH_WARN || v == BENCH_FAIL || v == BENCH_NOISE) printf("    %s\n", detail);
            }
            exit_code = n[BENCH_FAIL] ? 2 : n[BENCH_WARN] ? 1 : 0;
            printf("verdict: %s (%d fail, %d warn, %d within noise, %d pass, %d new; %d reference not judged)\n",
                   exit_code == 2 ? "FAIL" : exit_code == 1 ? "WARN" : "PASS", n[BENCH_FAIL], n[BENCH_WARN],
                   n[BENCH_NOISE], n[BENCH_PASS], n[BENCH_NEW], n_reference);
            if (problems > 0) {
                printf("note: %d result file(s) broke the format and were skipped\n", problems);
                if (exit_code < 1) exit_code = 1;
            }
        }
        bench_record_list_free(&cur);
    }
    if (baseline_file) bench_record_list_free(&single.records);
    bench_baselines_free(list, count);
    return exit_code;
}
