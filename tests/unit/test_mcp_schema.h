/*
 * test_mcp_schema.h — the published MCP JSON schemas of the two protocol
 * versions whose messages the tests check (2025-11-25 and 2026-07-28),
 * read from the shared test data ($MCP_SHARED_DATA, else ../shared/data)
 * by the group set-up, and one compiled validator per definition, kept
 * for the rest of the test. Include after <cmocka.h>; use
 * schema_docs_load and schema_docs_free as the group set-up and teardown.
 */
#ifndef TEST_MCP_SCHEMA_H
#define TEST_MCP_SCHEMA_H

#include "mcp/base.h"
#include "mcp/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct schema_compiled {
    char key[96];
    mcp_schema *schema;
} schema_compiled;

/* The schema documents of SCHEMA_VERSIONS[0] and [1]; NULL when absent. */
static char *schema_text[2];
static const char *const SCHEMA_VERSIONS[2] = {"2025-11-25", "2026-07-28"};
static mcp_arena schema_arena;
static schema_compiled schema_cache[64];
static size_t schema_cached;

static inline char *schema_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    if (text)
        text[n] = '\0';
    fclose(f);
    return text;
}

static inline int schema_docs_load(void **state)
{
    (void)state;
    const char *shared = getenv("MCP_SHARED_DATA");
    char path[1024];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/mcp-schema/%s/schema.json", shared ? shared : "../shared/data",
                 SCHEMA_VERSIONS[i]);
        schema_text[i] = schema_slurp(path);
    }
    mcp_arena_init(&schema_arena, 0);
    schema_cached = 0;
    return 0;
}

static inline int schema_docs_free(void **state)
{
    (void)state;
    free(schema_text[0]);
    free(schema_text[1]);
    mcp_arena_free(&schema_arena);
    return 0;
}

/* The whole schema document of version with a root "$ref" to def, compiled
 * once; skips the test when that version's document is absent. */
static inline mcp_schema *schema_for(const char *version, const char *def)
{
    char key[96];
    snprintf(key, sizeof key, "%s/%s", version, def);
    for (size_t i = 0; i < schema_cached; i++)
        if (!strcmp(schema_cache[i].key, key))
            return schema_cache[i].schema;
    const char *doc = schema_text[strcmp(version, "2026-07-28") == 0];
    if (!doc) {
        print_message("schema data for %s absent (MCP_SHARED_DATA): skipped\n", version);
        skip();
    }
    mcp_buf text;
    mcp_buf_init(&text);
    mcp_buf_appendf(&text, "{\"$ref\":\"#/$defs/%s\",%s", def, strchr(doc, '{') + 1);
    mcp_schema *schema = NULL;
    char err[200];
    if (mcp_schema_compile(&schema_arena, text.data, text.len, &schema, err, sizeof err) != 0)
        fail_msg("schema %s: %s", key, err);
    mcp_buf_free(&text);
    assert_true(schema_cached < sizeof schema_cache / sizeof schema_cache[0]);
    snprintf(schema_cache[schema_cached].key, sizeof schema_cache[schema_cached].key, "%s", key);
    schema_cache[schema_cached++].schema = schema;
    return schema;
}

#endif
