/*
 * Canonical form: equal JSON values give equal bytes, so the result can be
 * hashed into a cache key.
 *
 * Compact output, object members sorted by key as sequences of UTF-16 code
 * units (the order RFC 8785 prescribes, so keys compare the way JavaScript
 * peers compare them), a repeated key reduced to its last occurrence (the one
 * mcp_json_get returns), and numbers normalised: integers that fit int64 are
 * printed exactly, everything else as the shortest round-trip double, so
 * 1, 1.0 and 1e0 are the same key. RAW nodes are expanded into a scratch
 * arena that lives only for the call.
 */
#include "json/json_internal.h"

#include <math.h>
#include <stdlib.h>

#define CANONICAL_MAX_DEPTH 1024

typedef struct member {
    const mcp_json *node;
    size_t order; /* position in the source, to keep the last duplicate */
} member;

/* Code point of the (valid) UTF-8 sequence at p. */
static uint32_t utf8_decode(const unsigned char *p, const unsigned char *end) {
    uint32_t c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0x80) return c;
    if (c < 0xE0 && avail >= 2) return ((c & 0x1F) << 6) | (p[1] & 0x3F);
    if (c < 0xF0 && avail >= 3) return ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (avail >= 4)
        return ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
               (p[3] & 0x3F);
    return c;
}

/* UTF-8 byte order is code point order; UTF-16 order differs only where a
 * supplementary character (a surrogate pair, D800..DBFF first) meets one in
 * E000..FFFF. So compare bytes, and at the first difference compare the two
 * characters by their first UTF-16 unit. */
static int utf16_compare(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen, i = 0;
    while (i < n && a[i] == b[i]) i++;
    if (i == n) return alen < blen ? -1 : alen > blen ? 1 : 0;
    while (i > 0 && ((unsigned char)a[i] & 0xC0) == 0x80) i--; /* back to the character start */
    uint32_t ca = utf8_decode((const unsigned char *)a + i, (const unsigned char *)a + alen);
    uint32_t cb = utf8_decode((const unsigned char *)b + i, (const unsigned char *)b + blen);
    uint32_t ua = ca >= 0x10000 ? 0xD800 + ((ca - 0x10000) >> 10) : ca;
    uint32_t ub = cb >= 0x10000 ? 0xD800 + ((cb - 0x10000) >> 10) : cb;
    if (ua != ub) return ua < ub ? -1 : 1;
    return ca < cb ? -1 : ca > cb ? 1 : 0;
}

static int member_compare(const void *x, const void *y) {
    const member *a = x, *b = y;
    int c = utf16_compare(a->node->key, a->node->key_len, b->node->key, b->node->key_len);
    if (c) return c;
    return a->order < b->order ? -1 : a->order > b->order ? 1 : 0;
}

static int write_number(const mcp_json *v, mcp_buf *out) {
    char tmp[32];
    if (v->flags & MCP_JSON_F_INT) return mcp_buf_append(out, tmp, mcp_json_format_int(v->u.n.i, tmp));
    /* Beyond double range there is no normal form to give; the source text
     * is still valid JSON and deterministic. */
    if (!isfinite(v->u.n.d)) return mcp_buf_append(out, v->src, v->src_len);
    return mcp_buf_append(out, tmp, mcp_json_format_double(v->u.n.d, tmp));
}

static int canon(mcp_arena *scratch, const mcp_json *v, mcp_buf *out, unsigned depth) {
    if (depth > CANONICAL_MAX_DEPTH) return MCP_ELIMIT;
    int rc;
    switch (v->type) {
    case MCP_JSON_NULL: return mcp_buf_append(out, "null", 4);
    case MCP_JSON_TRUE: return mcp_buf_append(out, "true", 4);
    case MCP_JSON_FALSE: return mcp_buf_append(out, "false", 5);
    case MCP_JSON_NUMBER: return write_number(v, out);
    case MCP_JSON_STRING:
        /* Source text without escapes is byte for byte what the escaper makes. */
        if (mcp_json_flags_of(v) & MCP_JSON_F_STR_CLEAN) return mcp_buf_append(out, v->src, v->src_len);
        v = mcp_json_string_ready(v);
        return mcp_json_escape_into(out, v->u.s.ptr, v->u.s.len);
    case MCP_JSON_RAW: {
        const mcp_json *built = mcp_json_parse_validated(scratch, v->src, v->src_len);
        if (!built) return MCP_ENOMEM;
        return canon(scratch, built, out, depth);
    }
    case MCP_JSON_ARRAY:
        if ((rc = mcp_buf_append_char(out, '['))) return rc;
        for (const mcp_json *c = v->u.c.first; c; c = c->next) {
            if (c != v->u.c.first && (rc = mcp_buf_append_char(out, ','))) return rc;
            if ((rc = canon(scratch, c, out, depth + 1))) return rc;
        }
        return mcp_buf_append_char(out, ']');
    case MCP_JSON_OBJECT: {
        size_t n = v->u.c.count;
        member *m = n ? mcp_arena_alloc(scratch, n * sizeof *m) : NULL;
        if (n && !m) return MCP_ENOMEM;
        size_t k = 0;
        for (const mcp_json *c = v->u.c.first; c; c = c->next, k++) m[k] = (member){c, k};
        if (n > 1) qsort(m, n, sizeof *m, member_compare);
        if ((rc = mcp_buf_append_char(out, '{'))) return rc;
        bool first = true;
        for (size_t i = 0; i < n; i++) {
            /* Equal keys sort by source order; only the last one counts. */
            if (i + 1 < n && m[i].node->key_len == m[i + 1].node->key_len &&
                memcmp(m[i].node->key, m[i + 1].node->key, m[i].node->key_len) == 0)
                continue;
            if (!first && (rc = mcp_buf_append_char(out, ','))) return rc;
            first = false;
            if ((rc = mcp_json_escape_into(out, m[i].node->key, m[i].node->key_len))) return rc;
            if ((rc = mcp_buf_append_char(out, ':'))) return rc;
            if ((rc = canon(scratch, m[i].node, out, depth + 1))) return rc;
        }
        return mcp_buf_append_char(out, '}');
    }
    default: return MCP_EINVAL;
    }
}

int mcp_json_canonical(const mcp_json *v, mcp_buf *out) {
    if (!out) return MCP_EINVAL;
    if (!v) return mcp_buf_append(out, "null", 4);
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    size_t mark = out->len;
    int rc = canon(&scratch, v, out, 0);
    mcp_arena_free(&scratch);
    if (rc) {
        out->len = mark; /* no half-written key */
        if (out->data) out->data[mark] = '\0';
    }
    return rc;
}
