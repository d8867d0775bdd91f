/*
 * Baselines: the committed reference results that compare and the report
 * read. `baseline set` freezes the latest results directory into one file
 * with the reason and commit, plus the instruction counts of the
 * deterministic workloads when valgrind is there.
 */
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void copy_json_str(char *dst, size_t cap, const mcp_json *v) {
    bench_copy_str(dst, cap, mcp_json_str(v, ""));
}

int bench_baseline_load_file(const char *path, bench_baseline *b, bench_errors *errs) {
    memset(b, 0, sizeof *b);
    const char *slash = strrchr(path, '/');
    bench_copy_str(b->name, sizeof b->name, slash ? slash + 1 : path);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *top = NULL;
    int rc = bench_file_load(path, &arena, &b->records, &top, errs);
    if (rc == 0 && strcmp(mcp_json_str(mcp_json_get(top, "kind"), ""), "baseline")) {
        bench_error(errs, "top level", "not a baseline (kind is not \"baseline\")");
        rc = 1;
    }
    if (rc == 0) {
        copy_json_str(b->created, sizeof b->created, mcp_json_get(top, "created"));
        copy_json_str(b->version, sizeof b->version, mcp_json_get(top, "version"));
        copy_json_str(b->reason, sizeof b->reason, mcp_json_get(top, "reason"));
        copy_json_str(b->commit, sizeof b->commit, mcp_json_get(top, "commit"));
        copy_json_str(b->profile, sizeof b->profile, mcp_json_get(top, "profile"));
        bench_env_read(mcp_json_get(top, "environment"), "environment", &b->env, NULL);
        const mcp_json *instr = mcp_json_get(top, "instructions");
        for (const mcp_json *v = mcp_json_first(instr); v && b->instr_count < BENCH_MAX_INSTR; v = mcp_json_next(v)) {
            mcp_str k = mcp_json_key(v);
            if (!mcp_json_is_integer(v) || mcp_json_int(v, 0) <= 0) {
                bench_error(errs, "instructions", "\"%.*s\" must be a positive integer", (int)k.len, k.ptr);
                rc = 1;
                continue;
            }
            bench_instr_count *ic = &b->instr[b->instr_count++];
            snprintf(ic->module, sizeof ic->module, "%.*s", (int)k.len, k.ptr);
            ic->count = (uint64_t)mcp_json_int(v, 0);
        }
    }
    mcp_arena_free(&arena);
    if (rc != 0) bench_record_list_free(&b->records);
    return rc;
}

static int cmp_baseline(const void *a, const void *b) {
    const bench_baseline *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->name, y->name);
}

int bench_baselines_load(const char *dir, bench_baseline **out, size_t *count, bench_errors *errs) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : MCP_EIO; /* no baselines yet */
    size_t cap = 0;
    bench_baseline *list = NULL;
    struct dirent *de;
    int problems = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json")) continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            bench_baseline *grown = realloc(list, cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                bench_baselines_free(list, *count);
                return MCP_ENOMEM;
            }
            list = grown;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        const char *saved = errs ? errs->file : NULL;
        if (errs) errs->file = path;
        int rc = bench_baseline_load_file(path, &list[*count], errs);
        if (errs) errs->file = saved;
        if (rc == 0) (*count)++;
        else problems++;
    }
    closedir(d);
    qsort(list, *count, sizeof *list, cmp_baseline);
    *out = list;
    return problems;
}

void bench_baselines_free(bench_baseline *list, size_t count) {
    for (size_t i = 0; i < count; i++) bench_record_list_free(&list[i].records);
    free(list);
}

/* ---- baseline set ------------------------------------------------------------ */

static int baseline_set(const char *reason, const char *results_dir, const char *dir, bool instructions) {
    bench_record_list list = {0};
    bench_errors errs = {stderr, NULL, 0};
    int problems = bench_results_load_dir(results_dir, &list, &errs);
    if (problems < 0 || list.count == 0) {
        fprintf(stderr, "mcpd bench baseline set: no results in %s (run `mcpd bench run` first)\n", results_dir);
        bench_record_list_free(&list);
        return 2;
    }
    if (problems > 0) {
        fprintf(stderr, "mcpd bench baseline set: %d result file(s) in %s break the format; fix or rerun first\n",
                problems, results_dir);
        bench_record_list_free(&list);
        return 2;
    }
    /* A baseline is one profile measured on one tree. */
    for (size_t i = 1; i < list.count; i++) {
        if (strcmp(list.items[i].profile, list.items[0].profile) ||
            strcmp(list.items[i].env.git_commit, list.items[0].env.git_commit)) {
            fprintf(stderr, "mcpd bench baseline set: results in %s mix profiles or commits (%s %s vs %s %s); "
                    "rerun them together\n", results_dir, list.items[0].profile, list.items[0].env.git_commit,
                    list.items[i].profile, list.items[i].env.git_commit);
            bench_record_list_free(&list);
            return 2;
        }
    }
    const bench_env *env = &list.items[0].env;
    bench_env now;
    bench_env_capture(&now);
    const char *commit = strcmp(env->git_commit, "unknown") ? env->git_commit : now.git_commit;

    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    char created[32];
    mcp_time_iso8601(created);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "schema_version");
    mcp_json_write_int(&w, BENCH_SCHEMA_VERSION);
    mcp_json_write_key(&w, "kind");
    mcp_json_write_cstr(&w, "baseline");
    mcp_json_write_key(&w, "created");
    mcp_json_write_cstr(&w, created);
    mcp_json_write_key(&w, "version");
    mcp_json_write_cstr(&w, MCP_VERSION_STRING);
    mcp_json_write_key(&w, "reason");
    mcp_json_write_cstr(&w, reason);
    mcp_json_write_key(&w, "commit");
    mcp_json_write_cstr(&w, commit);
    mcp_json_write_key(&w, "profile");
    mcp_json_write_cstr(&w, list.items[0].profile);
    mcp_json_write_key(&w, "environment");
    bench_env_write(&w, env);
    mcp_json_write_key(&w, "instructions");
    mcp_json_begin_object(&w);
    if (instructions) {
        for (size_t i = 0; i < bench_module_count(); i++) {
            const bench_module *m = bench_module_at(i);
            if (!m->deterministic) continue;
            uint64_t count = 0;
            int rc = bench_instructions_measure(m, &count);
            if (rc == MCP_EUNSUPPORTED) {
                fprintf(stderr, "mcpd bench baseline set: valgrind not found; no instruction counts recorded\n");
                break;
            }
            if (rc) {
                fprintf(stderr, "mcpd bench baseline set: counting instructions of %s failed: %s\n", m->name,
                        mcp_strerror(rc));
                continue;
            }
            printf("instructions %-10s %llu\n", m->name, (unsigned long long)count);
            mcp_json_write_key(&w, m->name);
            mcp_json_write_uint(&w, count);
        }
    }
    mcp_json_end_object(&w);
    mcp_json_write_key(&w, "results");
    mcp_json_begin_array(&w);
    for (size_t i = 0; i < list.count; i++) bench_record_write(&w, &list.items[i]);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    mcp_buf_append_char(&out, '\n');

    int rc = 2;
    if (mcp_json_writer_status(&w) == 0 && bench_mkdir_p(dir) == 0) {
        char date[11];
        memcpy(date, created, 10);
        date[10] = '\0';
        char path[4096];
        for (int n = 1; n < 100; n++) {
            if (n == 1) snprintf(path, sizeof path, "%s/%s_%s.json", dir, date, MCP_VERSION_STRING);
            else snprintf(path, sizeof path, "%s/%s_%s-%d.json", dir, date, MCP_VERSION_STRING, n);
            FILE *f = fopen(path, "r");
            if (!f) break;
            fclose(f);
        }
        if (bench_write_file(path, out.data, out.len) == 0) {
            printf("baseline written: %s (%zu results, commit %.12s, reason: %s)\n", path, list.count, commit, reason);
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "mcpd bench baseline set: cannot write the baseline\n");
    mcp_buf_free(&out);
    bench_record_list_free(&list);
    return rc;
}

static int baseline_list(const char *dir) {
    bench_baseline *list;
    size_t count;
    bench_errors errs = {stderr, NULL, 0};
    int rc = bench_baselines_load(dir, &list, &count, &errs);
    if (rc < 0) {
        fprintf(stderr, "mcpd bench baseline list: cannot read %s\n", dir);
        return 2;
    }
    if (count == 0) printf("no baselines in %s\n", dir);
    else printf("%-32s %-21s %-8s %-6s %7s  %s\n", "file", "created", "commit", "prof", "results", "reason");
    for (size_t i = 0; i < count; i++) {
        printf("%-32s %-21s %-8.8s %-6s %7zu  %s\n", list[i].name, list[i].created, list[i].commit, list[i].profile,
               list[i].records.count, list[i].reason);
    }
    bench_baselines_free(list, count);
    return rc > 0 ? 1 : 0;
}

int bench_cmd_baseline(int argc, char **argv) {
    const char *dir = BENCH_DEFAULT_BASELINES, *results = BENCH_DEFAULT_RESULTS, *reason = NULL;
    bool instructions = true;
    if (argc < 2) {
        fputs("usage: mcpd bench baseline set --reason TEXT [--results DIR] [--baselines DIR] [--no-instructions]\n"
              "       mcpd bench baseline list [--baselines DIR]\n",
              stderr);
        return 2;
    }
    const char *sub = argv[1];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reason") && i + 1 < argc) reason = argv[++i];
        else if (!strcmp(argv[i], "--results") && i + 1 < argc) results = argv[++i];
        else if (!strcmp(argv[i], "--baselines") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--no-instructions")) instructions = false;
        else {
            fprintf(stderr, "mcpd bench baseline: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!strcmp(sub, "list")) return baseline_list(dir);
    if (!strcmp(sub, "set")) {
        if (!reason || !reason[0]) {
            fputs("mcpd bench baseline set: --reason TEXT is required (why is this the new reference?)\n", stderr);
            return 2;
        }
        return baseline_set(reason, results, dir, instructions);
    }
    fprintf(stderr, "mcpd bench baseline: unknown subcommand '%s' (set, list)\n", sub);
    return 2;
}
