/*
 * `mcpd bench`: routes the subcommands and implements list, run and
 * validate. compare, baseline, report and the instruction counts live in
 * their own files (bench/commands.h).
 */
#include "app/app.h"
#include "commands.h"
#include "result.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fputs("usage: mcpd bench <command> [options]\n"
          "\n"
          "  list                                 modules and workloads\n"
          "  run [WORKLOAD|MODULE ...] [--quick|--full] [--out DIR]\n"
          "                                       measure; one JSON file per workload in DIR\n"
          "                                       (default " BENCH_DEFAULT_RESULTS ")\n"
          "  compare [--results DIR] [--baseline FILE] [--thresholds FILE]\n"
          "                                       latest results against the newest baseline;\n"
          "                                       exit 0 pass, 1 warn, 2 fail\n"
          "  compare --deterministic              instruction counts under callgrind against\n"
          "                                       the newest baseline (the CI gate)\n"
          "  instructions [MODULE ...]            print instruction counts of the fixed workloads\n"
          "  baseline set --reason TEXT [--results DIR] [--no-instructions]\n"
          "  baseline list\n"
          "  report [--out FILE] [--results DIR]  self-contained HTML page with charts\n"
          "  validate FILE ...                    check files against the result format\n"
          "\n"
          "common: --baselines DIR (default " BENCH_DEFAULT_BASELINES ")\n",
          out);
}

static int cmd_list(void) {
    for (size_t i = 0; i < bench_module_count(); i++) {
        const bench_module *m = bench_module_at(i);
        printf("%s — %s\n", m->name, m->description);
        if (m->notes) printf("  note: %s\n", m->notes);
        for (size_t j = 0; j < m->workload_count; j++) {
            const bench_workload *w = &m->workloads[j];
            printf("  %-22s %s (quick: %llu ops x %u, full: %llu ops x %u)\n", w->id, w->description,
                   (unsigned long long)w->ops[BENCH_QUICK], w->reps[BENCH_QUICK],
                   (unsigned long long)w->ops[BENCH_FULL], w->reps[BENCH_FULL]);
        }
    }
    return 0;
}

static void print_table_header(void) {
    printf("%-20s %-22s %9s %14s %7s %10s %10s %10s %10s %8s\n", "workload", "benchmark", "ops", "msg/s",
           "+-%", "p50 us", "p99 us", "p99.9 us", "max us", "mem MiB");
}

static void print_table_row(const bench_record *r) {
    double spread = r->throughput > 0 ? 100.0 * r->throughput_mad / r->throughput : 0.0;
    printf("%-20s %-22s %9llu %14.0f %7.1f %10.3f %10.3f %10.3f %10.1f %8.1f\n", r->workload_id, r->benchmark,
           (unsigned long long)r->operations, r->throughput, spread, r->p50_us, r->p99_us, r->p999_us, r->max_us,
           r->mem_delta_mib);
    if (r->metric_count) {
        printf("%-20s  ", "");
        for (size_t i = 0; i < r->metric_count; i++) printf(" %s=%.4g", r->metrics[i].name, r->metrics[i].value);
        putchar('\n');
    }
}

typedef struct run_item {
    const bench_module *module;
    const bench_workload *workload;
} run_item;

static int add_item(run_item *items, size_t *n, size_t cap, const bench_module *m, const bench_workload *w) {
    for (size_t i = 0; i < *n; i++)
        if (items[i].workload == w) return 0;
    if (*n >= cap) return MCP_ELIMIT;
    items[(*n)++] = (run_item){m, w};
    return 0;
}

static int cmd_run(int argc, char **argv) {
    bench_profile profile = BENCH_QUICK;
    const char *out_dir = BENCH_DEFAULT_RESULTS;
    run_item items[128];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) profile = BENCH_QUICK;
        else if (!strcmp(a, "--full")) profile = BENCH_FULL;
        else if (!strcmp(a, "--out") && i + 1 < argc) out_dir = argv[++i];
        else if (a[0] == '-') {
            fprintf(stderr, "mcpd bench run: unknown option '%s'\n", a);
            return 2;
        } else {
            const bench_module *m = bench_module_find(a);
            const bench_workload *w = NULL;
            if (m) {
                for (size_t j = 0; j < m->workload_count; j++) add_item(items, &n, 128, m, &m->workloads[j]);
            } else if ((w = bench_workload_find(a, &m)) != NULL) {
                add_item(items, &n, 128, m, w);
            } else {
                fprintf(stderr, "mcpd bench run: no workload or module named '%s' (see mcpd bench list)\n", a);
                return 2;
            }
        }
    }
    if (n == 0) {
        for (size_t i = 0; i < bench_module_count(); i++) {
            const bench_module *m = bench_module_at(i);
            for (size_t j = 0; j < m->workload_count; j++) add_item(items, &n, 128, m, &m->workloads[j]);
        }
    }
    if (bench_mkdir_p(out_dir) != 0) {
        fprintf(stderr, "mcpd bench run: cannot create %s\n", out_dir);
        return 2;
    }
    bench_env env;
    bench_env_capture(&env);
    printf("mcpd bench run: %s profile, %zu workload(s); %s, %d cores, %s, commit %.12s\n",
           profile == BENCH_FULL ? "full" : "quick", n, env.cpu_model, env.cores, env.build_type, env.git_commit);
    if (strcmp(env.build_type, "Release"))
        printf("note: this is a %s build; publishable numbers come from `make bench` (Release)\n", env.build_type);
    const bench_module *noted = NULL;
    print_table_header();
    int failures = 0;
    uint64_t started = mcp_now_ns();
    for (size_t i = 0; i < n; i++) {
        if (items[i].module->notes && items[i].module != noted) {
            printf("note (%s): %s\n", items[i].module->name, items[i].module->notes);
            noted = items[i].module;
        }
        bench_record *records = calloc(BENCH_MAX_TASKS, sizeof *records);
        if (!records) return 2;
        size_t count = 0;
        int rc = bench_workload_run(items[i].module, items[i].workload, profile, &env, records, &count, stderr);
        for (size_t j = 0; j < count; j++) print_table_row(&records[j]);
        fflush(stdout);
        if (rc != 0 || count == 0) {
            failures++;
            free(records);
            continue;
        }
        mcp_buf out;
        mcp_buf_init(&out);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.json", out_dir, items[i].workload->id);
        if (bench_result_file_render(records, count, &out) != 0 || bench_write_file(path, out.data, out.len) != 0) {
            fprintf(stderr, "mcpd bench run: cannot write %s\n", path);
            failures++;
        }
        mcp_buf_free(&out);
        free(records);
    }
    printf("mcpd bench run: %zu workload(s) in %.1f s, results in %s/%s\n", n,
           (double)(mcp_now_ns() - started) / 1e9, out_dir, failures ? " (with failures)" : "");
    return failures ? 2 : 0;
}

static int cmd_validate(int argc, char **argv) {
    if (argc < 2) {
        fputs("usage: mcpd bench validate FILE ...\n", stderr);
        return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        bench_record_list list = {0};
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        bench_errors errs = {stderr, argv[i], 0};
        int rc = bench_file_load(argv[i], &arena, &list, NULL, &errs);
        if (rc == 0 && errs.count == 0) {
            printf("%s: valid (%zu result(s))\n", argv[i], list.count);
        } else {
            printf("%s: INVALID (%d problem(s))\n", argv[i], errs.count ? errs.count : 1);
            bad++;
        }
        bench_record_list_free(&list);
        mcp_arena_free(&arena);
    }
    return bad ? 1 : 0;
}

int app_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (!strcmp(cmd, "list")) return cmd_list();
    if (!strcmp(cmd, "run")) return cmd_run(argc, argv);
    if (!strcmp(cmd, "validate")) return cmd_validate(argc, argv);
    if (!strcmp(cmd, "compare")) return bench_cmd_compare(argc, argv);
    if (!strcmp(cmd, "baseline")) return bench_cmd_baseline(argc, argv);
    if (!strcmp(cmd, "report")) return bench_cmd_report(argc, argv);
    if (!strcmp(cmd, "instructions")) return bench_cmd_instructions(argc, argv);
    if (!strcmp(cmd, "deterministic-run")) return bench_cmd_deterministic_run(argc, argv);
    fprintf(stderr, "mcpd bench: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
