/*
 * Writing and reading the result format. One table of fields drives both
 * directions, so the writer cannot emit a field the reader would reject and
 * the reader cannot accept a field the format does not have: a misspelt or
 * mis-united field ("latency_p99_ms") is an unknown field and fails.
 */
#include "result.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void bench_error(bench_errors *errs, const char *where, const char *fmt, ...) {
    if (!errs) return;
    errs->count++;
    if (!errs->out) return;
    fprintf(errs->out, "%s: %s: ", errs->file ? errs->file : "input", where);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(errs->out, fmt, ap);
    va_end(ap);
    fputc('\n', errs->out);
}

/* ---- field tables ------------------------------------------------------------ */

typedef enum field_kind { F_STR, F_U64, F_UINT, F_INT, F_NUM, F_SIGNED_NUM } field_kind;

typedef struct field_spec {
    const char *name;
    field_kind kind;
    size_t offset;
    size_t cap;        /* strings: buffer size */
    double min;        /* numbers: smallest allowed value */
} field_spec;

#define REC(f) offsetof(bench_record, f)
#define ENV(f) offsetof(bench_env, f)
#define STR(n, base, f, T) {n, F_STR, base(f), sizeof(((T *)0)->f), 0}

static const field_spec RECORD_FIELDS[] = {
    STR("workload_id", REC, workload_id, bench_record),
    STR("module", REC, module, bench_record),
    STR("benchmark", REC, benchmark, bench_record),
    STR("profile", REC, profile, bench_record),
    STR("timestamp", REC, timestamp, bench_record),
    STR("scope", REC, scope, bench_record),
    {"operations", F_U64, REC(operations), 0, 1},
    {"repetitions", F_UINT, REC(repetitions), 0, 1},
    {"warmup", F_UINT, REC(warmup), 0, 0},
    {"duration_s", F_NUM, REC(duration_s), 0, 0},
    {"throughput_msg_per_s", F_NUM, REC(throughput), 0, 0},
    {"throughput_mad_msg_per_s", F_NUM, REC(throughput_mad), 0, 0},
    {"latency_p50_us", F_NUM, REC(p50_us), 0, 0},
    {"latency_p90_us", F_NUM, REC(p90_us), 0, 0},
    {"latency_p95_us", F_NUM, REC(p95_us), 0, 0},
    {"latency_p99_us", F_NUM, REC(p99_us), 0, 0},
    {"latency_p999_us", F_NUM, REC(p999_us), 0, 0},
    {"latency_max_us", F_NUM, REC(max_us), 0, 0},
    {"latency_p95_mad_us", F_NUM, REC(p95_mad_us), 0, 0},
    {"latency_p99_mad_us", F_NUM, REC(p99_mad_us), 0, 0},
    {"memory_start_mib", F_NUM, REC(mem_start_mib), 0, 0},
    {"memory_end_mib", F_NUM, REC(mem_end_mib), 0, 0},
    {"memory_delta_mib", F_SIGNED_NUM, REC(mem_delta_mib), 0, 0},
    {"memory_peak_mib", F_NUM, REC(mem_peak_mib), 0, 0},
    {"cpu_user_s", F_NUM, REC(cpu_user_s), 0, 0},
    {"cpu_sys_s", F_NUM, REC(cpu_sys_s), 0, 0},
};
/* Object-valued members handled by hand. */
static const char *const RECORD_OBJECTS[] = {"schema_version", "environment", "precision",
                                             "repetition_values", "metrics", "reference"};

static const field_spec ENV_FIELDS[] = {
    STR("cpu_model", ENV, cpu_model, bench_env),
    {"cores", F_INT, ENV(cores), 0, 1},
    STR("kernel", ENV, kernel, bench_env),
    STR("compiler", ENV, compiler, bench_env),
    STR("build_type", ENV, build_type, bench_env),
    STR("build_flags", ENV, build_flags, bench_env),
    STR("git_commit", ENV, git_commit, bench_env),
    STR("mcpd_version", ENV, mcpd_version, bench_env),
};

static const field_spec PRECISION_FIELDS[] = {
    {"histogram_relative_error", F_NUM, REC(hist_rel_error), 0, 0},
    {"timer_overhead_ns", F_NUM, REC(timer_overhead_ns), 0, 0},
};

#define REP(f) offsetof(bench_rep, f)
static const field_spec REP_FIELDS[] = {
    {"duration_s", F_NUM, REP(duration_s), 0, 0},
    {"throughput_msg_per_s", F_NUM, REP(throughput), 0, 0},
    {"latency_p50_us", F_NUM, REP(p50_us), 0, 0},
    {"latency_p95_us", F_NUM, REP(p95_us), 0, 0},
    {"latency_p99_us", F_NUM, REP(p99_us), 0, 0},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- writing ------------------------------------------------------------------ */

static void write_fields(mcp_json_writer *w, const field_spec *fields, size_t n, const void *base) {
    const char *p = base;
    for (size_t i = 0; i < n; i++) {
        const field_spec *f = &fields[i];
        mcp_json_write_key(w, f->name);
        switch (f->kind) {
        case F_STR: mcp_json_write_cstr(w, p + f->offset); break;
        case F_U64: mcp_json_write_uint(w, *(const uint64_t *)(p + f->offset)); break;
        case F_UINT: mcp_json_write_uint(w, *(const unsigned *)(p + f->offset)); break;
        case F_INT: mcp_json_write_int(w, *(const int *)(p + f->offset)); break;
        case F_NUM:
        case F_SIGNED_NUM: mcp_json_write_double(w, *(const double *)(p + f->offset)); break;
        }
    }
}

void bench_env_write(mcp_json_writer *w, const bench_env *env) {
    mcp_json_begin_object(w);
    write_fields(w, ENV_FIELDS, COUNT(ENV_FIELDS), env);
    mcp_json_end_object(w);
}

void bench_record_write(mcp_json_writer *w, const bench_record *r) {
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "schema_version");
    mcp_json_write_int(w, BENCH_SCHEMA_VERSION);
    write_fields(w, RECORD_FIELDS, COUNT(RECORD_FIELDS), r);
    mcp_json_write_key(w, "reference");
    mcp_json_write_bool(w, r->reference);
    mcp_json_write_key(w, "environment");
    bench_env_write(w, &r->env);
    mcp_json_write_key(w, "precision");
    mcp_json_begin_object(w);
    write_fields(w, PRECISION_FIELDS, COUNT(PRECISION_FIELDS), r);
    mcp_json_write_key(w, "clock");
    mcp_json_write_cstr(w, "CLOCK_MONOTONIC");
    mcp_json_end_object(w);
    mcp_json_write_key(w, "repetition_values");
    mcp_json_begin_array(w);
    for (unsigned i = 0; i < r->repetitions && i < BENCH_MAX_REPS; i++) {
        mcp_json_begin_object(w);
        write_fields(w, REP_FIELDS, COUNT(REP_FIELDS), &r->reps[i]);
        mcp_json_end_object(w);
    }
    mcp_json_end_array(w);
    mcp_json_write_key(w, "metrics");
    mcp_json_begin_object(w);
    for (size_t i = 0; i < r->metric_count; i++) {
        mcp_json_write_key(w, r->metrics[i].name);
        mcp_json_write_double(w, r->metrics[i].value);
    }
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

int bench_result_file_render(const bench_record *records, size_t count, mcp_buf *out) {
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "schema_version");
    mcp_json_write_int(&w, BENCH_SCHEMA_VERSION);
    mcp_json_write_key(&w, "kind");
    mcp_json_write_cstr(&w, "result");
    mcp_json_write_key(&w, "workload_id");
    mcp_json_write_cstr(&w, count ? records[0].workload_id : "");
    mcp_json_write_key(&w, "results");
    mcp_json_begin_array(&w);
    for (size_t i = 0; i < count; i++) bench_record_write(&w, &records[i]);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) == 0) mcp_buf_append_char(out, '\n');
    return mcp_json_writer_status(&w);
}

/* ---- reading ------------------------------------------------------------------ */

static bool name_in(const char *key, size_t len, const field_spec *fields, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(fields[i].name) == len && !memcmp(fields[i].name, key, len)) return true;
    return false;
}

static bool name_in_list(const char *key, size_t len, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], key, len)) return true;
    return false;
}

/* Every member of obj must be a known field. */
static void check_unknown(const mcp_json *obj, const char *where, const field_spec *fields, size_t n,
                          const char *const *extra, size_t nextra, bench_errors *errs) {
    for (const mcp_json *v = mcp_json_first(obj); v; v = mcp_json_next(v)) {
        mcp_str k = mcp_json_key(v);
        if (name_in(k.ptr, k.len, fields, n) || name_in_list(k.ptr, k.len, extra, nextra)) continue;
        bench_error(errs, where, "unknown field \"%.*s\" (the format names units in field names: "
                    "_us, _s, _mib, _msg_per_s)", (int)k.len, k.ptr);
    }
}

static void read_fields(const mcp_json *obj, const char *where, const field_spec *fields, size_t n,
                        void *base, bench_errors *errs) {
    char *p = base;
    for (size_t i = 0; i < n; i++) {
        const field_spec *f = &fields[i];
        const mcp_json *v = mcp_json_get(obj, f->name);
        if (!v) {
            bench_error(errs, where, "missing field \"%s\"", f->name);
            continue;
        }
        switch (f->kind) {
        case F_STR:
            if (!mcp_json_is_string(v)) bench_error(errs, where, "\"%s\" must be a string", f->name);
            else if (mcp_json_str_len(v) >= f->cap)
                bench_error(errs, where, "\"%s\" is longer than %zu bytes", f->name, f->cap - 1);
            else bench_copy_str(p + f->offset, f->cap, mcp_json_str(v, ""));
            break;
        case F_U64:
        case F_UINT:
        case F_INT: {
            if (!mcp_json_is_integer(v)) {
                bench_error(errs, where, "\"%s\" must be an integer", f->name);
                break;
            }
            int64_t x = mcp_json_int(v, 0);
            if ((double)x < f->min) {
                bench_error(errs, where, "\"%s\" must be at least %g, got %lld", f->name, f->min, (long long)x);
                break;
            }
            if (f->kind == F_U64) *(uint64_t *)(p + f->offset) = (uint64_t)x;
            else if (f->kind == F_UINT) *(unsigned *)(p + f->offset) = (unsigned)x;
            else *(int *)(p + f->offset) = (int)x;
            break;
        }
        case F_NUM:
        case F_SIGNED_NUM: {
            if (!mcp_json_is_number(v)) {
                bench_error(errs, where, "\"%s\" must be a number", f->name);
                break;
            }
            double x = mcp_json_num(v, 0.0);
            if (!isfinite(x)) bench_error(errs, where, "\"%s\" must be finite", f->name);
            else if (f->kind == F_NUM && x < f->min)
                bench_error(errs, where, "\"%s\" must not be negative, got %g", f->name, x);
            *(double *)(p + f->offset) = x;
            break;
        }
        }
    }
}

int bench_env_read(const mcp_json *obj, const char *where, bench_env *env, bench_errors *errs) {
    int before = errs ? errs->count : 0;
    if (!mcp_json_is_object(obj)) {
        bench_error(errs, where, "must be an object");
        return 1;
    }
    check_unknown(obj, where, ENV_FIELDS, COUNT(ENV_FIELDS), NULL, 0, errs);
    read_fields(obj, where, ENV_FIELDS, COUNT(ENV_FIELDS), env, errs);
    return errs ? errs->count - before : 0;
}

static bool close_to(double a, double b, double rel) {
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= rel * scale + 1e-9;
}

/* Rules across fields: what makes a record self-consistent. */
static void check_consistency(const bench_record *r, const char *where, bench_errors *errs) {
    static const char *const qnames[] = {"latency_p50_us", "latency_p90_us", "latency_p95_us",
                                         "latency_p99_us", "latency_p999_us", "latency_max_us"};
    const double q[] = {r->p50_us, r->p90_us, r->p95_us, r->p99_us, r->p999_us, r->max_us};
    for (size_t i = 0; i + 1 < COUNT(q); i++) {
        if (q[i] > q[i + 1])
            bench_error(errs, where, "%s (%g) is greater than %s (%g)", qnames[i], q[i], qnames[i + 1], q[i + 1]);
    }
    if (r->repetitions > BENCH_MAX_REPS)
        bench_error(errs, where, "repetitions must be at most %d", BENCH_MAX_REPS);
    if (!close_to(r->mem_delta_mib, r->mem_end_mib - r->mem_start_mib, 0.01))
        bench_error(errs, where, "memory_delta_mib (%g) is not memory_end_mib - memory_start_mib (%g)",
                    r->mem_delta_mib, r->mem_end_mib - r->mem_start_mib);
    if (r->mem_peak_mib + 0.01 < r->mem_end_mib || r->mem_peak_mib + 0.01 < r->mem_start_mib)
        bench_error(errs, where, "memory_peak_mib (%g) is below the start or end value", r->mem_peak_mib);
    if (r->duration_s > 0 && r->throughput > 0 &&
        !close_to(r->throughput * r->duration_s, (double)r->operations, 0.10))
        bench_error(errs, where, "throughput_msg_per_s x duration_s (%g) does not give operations (%llu): "
                    "wrong unit?", r->throughput * r->duration_s, (unsigned long long)r->operations);
    if (strcmp(r->profile, "quick") && strcmp(r->profile, "full"))
        bench_error(errs, where, "profile must be \"quick\" or \"full\"");
    if (r->hist_rel_error > 0.01)
        bench_error(errs, where, "precision.histogram_relative_error must be at most 0.01");
}

int bench_record_read(const mcp_json *obj, const char *where, bench_record *r, bench_errors *errs) {
    int before = errs ? errs->count : 0;
    memset(r, 0, sizeof *r);
    if (!mcp_json_is_object(obj)) {
        bench_error(errs, where, "a result must be an object");
        return 1;
    }
    check_unknown(obj, where, RECORD_FIELDS, COUNT(RECORD_FIELDS), RECORD_OBJECTS, COUNT(RECORD_OBJECTS), errs);
    const mcp_json *ver = mcp_json_get(obj, "schema_version");
    if (!mcp_json_is_integer(ver) || mcp_json_int(ver, 0) != BENCH_SCHEMA_VERSION)
        bench_error(errs, where, "schema_version must be %d", BENCH_SCHEMA_VERSION);
    read_fields(obj, where, RECORD_FIELDS, COUNT(RECORD_FIELDS), r, errs);
    const mcp_json *reference = mcp_json_get(obj, "reference");
    if (reference && !mcp_json_is_bool(reference)) bench_error(errs, where, "\"reference\" must be a boolean");
    r->reference = mcp_json_bool(reference, false);

    char sub[160];
    snprintf(sub, sizeof sub, "%s.environment", where);
    const mcp_json *env = mcp_json_get(obj, "environment");
    if (!env) bench_error(errs, where, "missing field \"environment\"");
    else bench_env_read(env, sub, &r->env, errs);

    snprintf(sub, sizeof sub, "%s.precision", where);
    const mcp_json *prec = mcp_json_get(obj, "precision");
    if (!mcp_json_is_object(prec)) {
        bench_error(errs, where, "missing object \"precision\"");
    } else {
        static const char *const clock_name[] = {"clock"};
        check_unknown(prec, sub, PRECISION_FIELDS, COUNT(PRECISION_FIELDS), clock_name, 1, errs);
        read_fields(prec, sub, PRECISION_FIELDS, COUNT(PRECISION_FIELDS), r, errs);
        if (!mcp_json_is_string(mcp_json_get(prec, "clock"))) bench_error(errs, sub, "\"clock\" must be a string");
    }

    const mcp_json *reps = mcp_json_get(obj, "repetition_values");
    if (!mcp_json_is_array(reps)) {
        bench_error(errs, where, "missing array \"repetition_values\"");
    } else {
        if (mcp_json_len(reps) != r->repetitions)
            bench_error(errs, where, "repetition_values has %zu entries but repetitions is %u", mcp_json_len(reps),
                        r->repetitions);
        size_t i = 0;
        double thr[BENCH_MAX_REPS];
        for (const mcp_json *v = mcp_json_first(reps); v && i < BENCH_MAX_REPS; v = mcp_json_next(v), i++) {
            snprintf(sub, sizeof sub, "%s.repetition_values[%zu]", where, i);
            if (!mcp_json_is_object(v)) {
                bench_error(errs, sub, "must be an object");
                continue;
            }
            check_unknown(v, sub, REP_FIELDS, COUNT(REP_FIELDS), NULL, 0, errs);
            read_fields(v, sub, REP_FIELDS, COUNT(REP_FIELDS), &r->reps[i], errs);
            thr[i] = r->reps[i].throughput;
            if (r->reps[i].p50_us > r->reps[i].p95_us || r->reps[i].p95_us > r->reps[i].p99_us)
                bench_error(errs, sub, "latency quantiles are not in order (p50 <= p95 <= p99)");
        }
        /* The headline is the median of the repetitions: check it is. */
        if (i > 0 && i == r->repetitions && !close_to(bench_median(thr, i), r->throughput, 1e-6))
            bench_error(errs, where, "throughput_msg_per_s (%g) is not the median of repetition_values (%g)",
                        r->throughput, bench_median(thr, i));
    }

    const mcp_json *metrics = mcp_json_get(obj, "metrics");
    if (metrics) {
        if (!mcp_json_is_object(metrics)) {
            bench_error(errs, where, "\"metrics\" must be an object of numbers");
        } else {
            for (const mcp_json *v = mcp_json_first(metrics); v; v = mcp_json_next(v)) {
                mcp_str k = mcp_json_key(v);
                if (!mcp_json_is_number(v) || !isfinite(mcp_json_num(v, 0))) {
                    bench_error(errs, where, "metrics.%.*s must be a finite number", (int)k.len, k.ptr);
                    continue;
                }
                char name[40];
                snprintf(name, sizeof name, "%.*s", (int)k.len, k.ptr);
                bench_record_add_metric(r, name, mcp_json_num(v, 0));
            }
        }
    }
    int found = errs ? errs->count - before : 0;
    if (found == 0) check_consistency(r, where, errs);
    return errs ? errs->count - before : 0;
}

/* ---- lists and files ------------------------------------------------------------ */

int bench_record_list_push(bench_record_list *list, const bench_record *r) {
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        bench_record *items = realloc(list->items, cap * sizeof *items);
        if (!items) return MCP_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = *r;
    return MCP_OK;
}

void bench_record_list_free(bench_record_list *list) {
    free(list->items);
    memset(list, 0, sizeof *list);
}

const bench_record *bench_record_list_find(const bench_record_list *list, const char *workload_id,
                                           const char *benchmark) {
    for (size_t i = 0; i < list->count; i++) {
        if (!strcmp(list->items[i].workload_id, workload_id) && !strcmp(list->items[i].benchmark, benchmark))
            return &list->items[i];
    }
    return NULL;
}

int bench_file_load(const char *path, mcp_arena *arena, bench_record_list *list, mcp_json **top,
                    bench_errors *errs) {
    mcp_buf text;
    mcp_buf_init(&text);
    int rc = bench_read_file(path, &text);
    if (rc) {
        bench_error(errs, "file", "cannot read");
        mcp_buf_free(&text);
        return rc;
    }
    /* The DOM points into the text, so the text lives in the arena too. */
    char *copy = mcp_arena_strndup(arena, text.data, text.len);
    size_t len = text.len;
    mcp_buf_free(&text);
    if (!copy) return MCP_ENOMEM;
    mcp_json *doc = NULL;
    mcp_json_error jerr;
    rc = mcp_json_parse(arena, copy, len, NULL, &doc, &jerr);
    if (rc) {
        bench_error(errs, "json", "offset %zu: %s", jerr.offset, jerr.message);
        return rc;
    }
    if (top) *top = doc;
    int before = errs ? errs->count : 0;
    if (!mcp_json_is_object(doc)) {
        bench_error(errs, "top level", "must be an object");
        return 1;
    }
    const mcp_json *ver = mcp_json_get(doc, "schema_version");
    if (!mcp_json_is_integer(ver) || mcp_json_int(ver, 0) != BENCH_SCHEMA_VERSION)
        bench_error(errs, "top level", "schema_version must be %d", BENCH_SCHEMA_VERSION);
    const char *kind = mcp_json_str(mcp_json_get(doc, "kind"), "");
    bool is_result = !strcmp(kind, "result"), is_baseline = !strcmp(kind, "baseline");
    if (!is_result && !is_baseline) bench_error(errs, "top level", "\"kind\" must be \"result\" or \"baseline\"");
    const mcp_json *results = mcp_json_get(doc, "results");
    if (!mcp_json_is_array(results) || mcp_json_len(results) == 0) {
        bench_error(errs, "top level", "\"results\" must be a non-empty array");
        return errs ? errs->count - before : 1;
    }
    if (is_result && !mcp_json_is_string(mcp_json_get(doc, "workload_id")))
        bench_error(errs, "top level", "\"workload_id\" must be a string");
    if (is_baseline) {
        static const char *const need[] = {"reason", "commit", "created", "version", "profile"};
        for (size_t i = 0; i < COUNT(need); i++)
            if (!mcp_json_is_string(mcp_json_get(doc, need[i])))
                bench_error(errs, "top level", "baseline field \"%s\" must be a string", need[i]);
        bench_env env;
        const mcp_json *e = mcp_json_get(doc, "environment");
        if (!e) bench_error(errs, "top level", "missing field \"environment\"");
        else bench_env_read(e, "environment", &env, errs);
    }
    const char *file_workload = mcp_json_str(mcp_json_get(doc, "workload_id"), NULL);
    size_t i = 0;
    for (const mcp_json *v = mcp_json_first(results); v; v = mcp_json_next(v), i++) {
        char where[48];
        snprintf(where, sizeof where, "results[%zu]", i);
        bench_record r;
        if (bench_record_read(v, where, &r, errs) != 0) continue;
        if (is_result && file_workload && strcmp(r.workload_id, file_workload))
            bench_error(errs, where, "workload_id \"%s\" differs from the file's \"%s\"", r.workload_id,
                        file_workload);
        if (bench_record_list_find(list, r.workload_id, r.benchmark))
            bench_error(errs, where, "%s/%s appears twice", r.workload_id, r.benchmark);
        else if ((rc = bench_record_list_push(list, &r)) != 0) return rc;
    }
    return errs ? errs->count - before : 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bench_results_load_dir(const char *dir, bench_record_list *list, bench_errors *errs) {
    DIR *d = opendir(dir);
    if (!d) return MCP_EIO;
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < COUNT(names)) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".json") && (names[n] = strdup(de->d_name)) != NULL) n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        const char *saved = errs ? errs->file : NULL;
        if (errs) errs->file = path;
        int rc = bench_file_load(path, &arena, list, NULL, errs);
        if (errs) errs->file = saved;
        if (rc != 0) problems++;
        mcp_arena_free(&arena);
        free(names[i]);
    }
    return problems;
}
