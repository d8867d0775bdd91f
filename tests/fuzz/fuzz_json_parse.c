/*
 * libFuzzer target for the json layer, with real oracles:
 *  - the eager parser, the validator and the lazy parser agree on accept or
 *    reject, and on the error code; parser and validator on its offset;
 *  - an accepted document written back with mcp_json_write_value parses
 *    again to the same canonical form;
 *  - the lazy DOM, fully expanded, has the same canonical form as the eager
 *    one, and so does the lazy DOM left unexpanded;
 *  - mcp_json_raw of the root is the input without surrounding whitespace;
 *  - escaping the input bytes as a string always yields valid JSON;
 *  - the 64-byte block scanner for long strings and the byte-by-byte one
 *    give the same verdict, offset, message and value, on the input and on
 *    the input as the body of a string followed by room for whole blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_internal.h"
#include "mcp/json.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_json_parse: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void expand_all(mcp_arena *arena, mcp_json *v) {
    if (mcp_json_type_of(v) == MCP_JSON_RAW) CHECK(mcp_json_expand(arena, v) == v);
    for (mcp_json *c = mcp_json_first(v); c; c = mcp_json_next(c)) expand_all(arena, c);
}

static void canonical_of(const mcp_json *v, mcp_buf *out) {
    mcp_buf_reset(out);
    CHECK(mcp_json_canonical(v, out) == 0);
}

static bool same(const mcp_buf *a, const mcp_buf *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

typedef struct verdict {
    int rc;
    size_t offset;
    char message[96];
} verdict;

static verdict parse_with(mcp_arena *arena, const char *text, size_t size, bool blocks, mcp_buf *canon) {
    mcp_json_use_blocks(blocks);
    verdict v = {0, 0, ""};
    mcp_json *doc = NULL;
    mcp_json_error err;
    v.rc = mcp_json_parse(arena, text, size, &(mcp_json_opts){.max_size = SIZE_MAX}, &doc, &err);
    if (v.rc) {
        v.offset = err.offset;
        memcpy(v.message, err.message, sizeof v.message);
    } else {
        canonical_of(doc, canon);
    }
    mcp_json_use_blocks(true);
    return v;
}

static void blocks_agree(mcp_arena *arena, const char *text, size_t size, mcp_buf *a, mcp_buf *b) {
    verdict fast = parse_with(arena, text, size, true, a);
    verdict exact = parse_with(arena, text, size, false, b);
    CHECK(fast.rc == exact.rc);
    CHECK(fast.offset == exact.offset);
    CHECK(strcmp(fast.message, exact.message) == 0);
    if (fast.rc == 0) CHECK(same(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf a, b, out;
    mcp_buf_init(&a);
    mcp_buf_init(&b);
    mcp_buf_init(&out);

    mcp_json *eager = NULL, *lazy = NULL;
    mcp_json_error err;
    int rc = mcp_json_parse(&arena, text, size, NULL, &eager, &err);
    CHECK(rc == 0 || rc == err.code);
    CHECK(rc == 0 || err.offset <= size);
    /* The builder decodes strings with its own scanner; both must stop at
     * the same byte. */
    mcp_json_error verr;
    CHECK(mcp_json_validate(text, size, NULL, &verr) == rc);
    CHECK(rc == 0 || verr.offset == err.offset);
    mcp_json_opts lazy_opts = {.lazy_depth = 1 + (unsigned)(size % 3)};
    CHECK(mcp_json_parse(&arena, text, size, &lazy_opts, &lazy, NULL) == rc);

    if (rc == 0) {
        size_t lead = 0, trail = size;
        while (lead < size && strchr(" \t\r\n", text[lead]) && text[lead]) lead++;
        while (trail > lead && strchr(" \t\r\n", text[trail - 1]) && text[trail - 1]) trail--;
        mcp_str raw = mcp_json_raw(eager);
        CHECK(raw.ptr == text + lead && raw.len == trail - lead);

        canonical_of(eager, &a);
        canonical_of(lazy, &b); /* RAW nodes included */
        CHECK(same(&a, &b));
        expand_all(&arena, lazy);
        canonical_of(lazy, &b);
        CHECK(same(&a, &b));

        mcp_json_writer w;
        mcp_json_writer_init(&w, &out);
        mcp_json_write_value(&w, eager);
        CHECK(mcp_json_writer_status(&w) == 0);
        /* The writer reserves the source length once and relies on this. */
        CHECK(out.len <= raw.len);
        mcp_json *again = NULL;
        CHECK(mcp_json_parse(&arena, out.data, out.len, NULL, &again, &err) == 0);
        canonical_of(again, &b);
        CHECK(same(&a, &b));

        /* The canonical form is itself valid JSON and a fixed point. */
        CHECK(mcp_json_parse(&arena, a.data, a.len, &(mcp_json_opts){.max_depth = 2048}, &again, NULL) == 0);
        canonical_of(again, &b);
        CHECK(same(&a, &b));
    }

    blocks_agree(&arena, text, size, &a, &b);
    /* ["<input>"  ...] : the input as a long string body, blocks to spare */
    mcp_buf_reset(&out);
    CHECK(mcp_buf_append(&out, "[\"", 2) == 0 && mcp_buf_append(&out, text, size) == 0);
    static const char tail[] = "\"                                                                "
                               "                                                                ]";
    CHECK(mcp_buf_append(&out, tail, sizeof tail - 1) == 0);
    blocks_agree(&arena, out.data, out.len, &a, &b);

    mcp_buf_reset(&out);
    CHECK(mcp_json_escape(&out, text, size) == 0);
    mcp_json *str = NULL;
    CHECK(mcp_json_parse(&arena, out.data, out.len, &(mcp_json_opts){.max_size = SIZE_MAX}, &str, NULL) == 0);
    CHECK(mcp_json_is_string(str));

    mcp_buf_free(&a);
    mcp_buf_free(&b);
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
    return 0;
}
