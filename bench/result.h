/*
 * bench/result.h — the one result format, written and read.
 *
 * A result file holds the records of one workload:
 *   {"schema_version":1,"kind":"result","workload_id":"...","results":[record...]}
 * A baseline file holds the records of every workload plus why and where it
 * was taken (bench/baseline.c). Each record is self-contained (it repeats the
 * environment) so that a record copied out of either file still means
 * something. Field by field the format is documented in docs/metrology.md and
 * bench/schema/result.schema.json; the reader below enforces the same rules
 * (types, units in the names, ranges, ordering of quantiles) and is what
 * `mcpd bench validate` runs.
 */
#ifndef MCP_BENCH_RESULT_H
#define MCP_BENCH_RESULT_H

#include "harness.h"
#include "mcp/json.h"

/* Problems found while reading: each is printed to out (if any) prefixed by
 * where it was found; reading goes on to report as many as it can. */
typedef struct bench_errors {
    FILE *out;
    const char *file;
    int count;
} bench_errors;

void bench_error(bench_errors *errs, const char *where, const char *fmt, ...) MCP_PRINTF(3, 4);

void bench_env_write(mcp_json_writer *w, const bench_env *env);
void bench_record_write(mcp_json_writer *w, const bench_record *r);
/* Render a whole result file for records of one workload. */
int bench_result_file_render(const bench_record *records, size_t count, mcp_buf *out);

/* Read one record object; returns the number of problems found (0: valid). */
int bench_record_read(const mcp_json *obj, const char *where, bench_record *r, bench_errors *errs);
int bench_env_read(const mcp_json *obj, const char *where, bench_env *env, bench_errors *errs);

/* A growable list of records. */
typedef struct bench_record_list {
    bench_record *items;
    size_t count, cap;
} bench_record_list;

int bench_record_list_push(bench_record_list *list, const bench_record *r);
void bench_record_list_free(bench_record_list *list);
const bench_record *bench_record_list_find(const bench_record_list *list, const char *workload_id,
                                           const char *benchmark);

/* Parse a file (result or baseline, told apart by "kind") and append its
 * records to list. Returns 0, or the number of problems (> 0), or a
 * negative MCP_E* code when the file cannot be read or parsed. For a
 * baseline, meta (may be NULL) receives its top-level object, allocated
 * in arena. */
int bench_file_load(const char *path, mcp_arena *arena, bench_record_list *list, mcp_json **top,
                    bench_errors *errs);

/* Load every *.json result file of a directory (sorted by name). */
int bench_results_load_dir(const char *dir, bench_record_list *list, bench_errors *errs);

#endif
