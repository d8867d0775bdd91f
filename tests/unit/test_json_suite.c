/*
 * Runs every file of JSONTestSuite's test_parsing directory through the
 * parser: y_ files must parse, n_ files must be rejected, i_ files may go
 * either way but must not crash (run this under the sanitizers too). Each
 * accepted document is also written back and re-parsed, and the validator
 * and the lazy parser must agree with the eager parser on every file.
 * Lists every mismatch before failing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"

static char *read_file(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    size_t got;
    while (data && (got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return data;
}

static int name_compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_json_suite_all_files(void **state) {
    (void)state;
    const char *shared = getenv("MCP_SHARED_DATA");
    char dir_path[4096];
    snprintf(dir_path, sizeof dir_path, "%s/JSONTestSuite/test_parsing", shared ? shared : "../shared/data");
    DIR *dir = opendir(dir_path);
    if (!dir) {
        printf("SKIPPED: JSONTestSuite not found at %s (set MCP_SHARED_DATA)\n", dir_path);
        skip();
        return;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strncmp(de->d_name, "y_", 2) && strncmp(de->d_name, "n_", 2) && strncmp(de->d_name, "i_", 2)) continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 512;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[count++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof *names, name_compare);

    size_t mismatches = 0, accepted_i = 0, rejected_i = 0;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    for (size_t k = 0; k < count; k++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir_path, names[k]);
        size_t len;
        char *text = read_file(path, &len);
        assert_non_null(text);

        mcp_json *doc = NULL;
        mcp_json_error err;
        int rc = mcp_json_parse(&arena, text, len, NULL, &doc, &err);
        int vrc = mcp_json_validate(text, len, NULL, NULL);
        mcp_json *lazy = NULL;
        int lrc = mcp_json_parse(&arena, text, len, &(mcp_json_opts){.lazy_depth = 1}, &lazy, NULL);
        char kind = names[k][0];
        if (kind == 'y' && rc != 0) {
            printf("MISMATCH %s: rejected at offset %zu: %s\n", names[k], err.offset, err.message);
            mismatches++;
        } else if (kind == 'n' && rc == 0) {
            printf("MISMATCH %s: accepted\n", names[k]);
            mismatches++;
        }
        if (kind == 'i') rc == 0 ? accepted_i++ : rejected_i++;
        if ((rc == 0) != (vrc == 0) || (rc == 0) != (lrc == 0)) {
            printf("MISMATCH %s: parse %d, validate %d, lazy parse %d disagree\n", names[k], rc, vrc, lrc);
            mismatches++;
        }
        if (rc == 0) {
            /* What we write back must parse again to the same canonical form. */
            mcp_buf out, c1, c2;
            mcp_buf_init(&out);
            mcp_buf_init(&c1);
            mcp_buf_init(&c2);
            mcp_json_writer w;
            mcp_json_writer_init(&w, &out);
            mcp_json_write_value(&w, doc);
            mcp_json *again = NULL;
            int wrc = mcp_json_writer_status(&w);
            int rrc = wrc ? wrc : mcp_json_parse(&arena, out.data, out.len, NULL, &again, NULL);
            if (rrc == 0 && (mcp_json_canonical(doc, &c1) || mcp_json_canonical(again, &c2) ||
                             c1.len != c2.len || memcmp(c1.data, c2.data, c1.len) != 0))
                rrc = -100;
            if (rrc) {
                printf("MISMATCH %s: write/re-parse round trip failed (%d)\n", names[k], rrc);
                mismatches++;
            }
            mcp_buf_free(&out);
            mcp_buf_free(&c1);
            mcp_buf_free(&c2);
        }
        free(text);
        mcp_arena_reset(&arena);
    }
    mcp_arena_free(&arena);
    printf("JSONTestSuite: %zu files, %zu mismatches; i_ files: %zu accepted, %zu rejected\n", count,
           mismatches, accepted_i, rejected_i);
    for (size_t k = 0; k < count; k++) free(names[k]);
    free(names);
    assert_true(count > 0);
    assert_int_equal(mismatches, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_suite_all_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
