/*
 * Fuzz the NDJSON framer against a plain reference: split the whole input
 * at '\n', drop one trailing '\r', skip blank lines, flag lines over the
 * limit. The framer must yield the same sequence whatever the read sizes,
 * and must never hold more than limit + 1 bytes.
 *
 * Input layout: byte 0 picks the limit, byte 1 seeds the read sizes, the
 * rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

typedef struct expected_line {
    const char *ptr; /* NULL: an oversized line */
    size_t len;
} expected_line;

static bool is_blank(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

/* The reference; the unterminated tail counts as a line (as after finish). */
static size_t reference(const char *data, size_t len, size_t limit, expected_line *out) {
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n') continue;
        size_t n = i - start;
        const char *p = data + start;
        start = i + 1;
        if (i == len && n == 0) break;
        if (n && p[n - 1] == '\r') n--;
        if (n > limit) {
            /* An unterminated tail that is too long may be reported as soon
             * as it passes limit + 1; either way it is one report. */
            out[count++] = (expected_line){NULL, 0};
        } else if (!is_blank(p, n)) {
            out[count++] = (expected_line){p, n};
        }
    }
    return count;
}

static void check(const expected_line *want, size_t want_count, size_t *seen, int kind, mcp_str line) {
    if (*seen >= want_count) abort();
    const expected_line *w = &want[(*seen)++];
    if (kind == MCP_NDJSON_OVERSIZED) {
        if (w->ptr) abort();
        return;
    }
    if (!w->ptr || w->len != line.len || memcmp(w->ptr, line.ptr, line.len) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t limit = 1 + data[0] % 64;
    unsigned seed = data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;

    expected_line *want = malloc((len + 1) * sizeof *want);
    if (!want) return 0;
    size_t want_count = reference(text, len, limit, want);

    mcp_ndjson framer;
    mcp_ndjson_init(&framer, limit);
    size_t seen = 0, off = 0;
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 17;
        if (chunk > len - off) chunk = len - off;
        mcp_str input = {text + off, chunk};
        mcp_str line;
        int kind;
        while ((kind = mcp_ndjson_next(&framer, &input, &line)) != MCP_NDJSON_MORE) {
            if (kind < 0) abort();
            check(want, want_count, &seen, kind, line);
        }
        if (input.len != 0 || framer.carry.len > limit + 1) abort();
        off += chunk;
    }
    mcp_str line;
    int kind = mcp_ndjson_finish(&framer, &line);
    if (kind != MCP_NDJSON_MORE) check(want, want_count, &seen, kind, line);
    if (seen != want_count) abort();
    mcp_ndjson_free(&framer);
    free(want);
    return 0;
}
