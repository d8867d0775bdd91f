/*
 * The parser's loop takes short cuts for compact JSON (a key, its colon
 * and the value's first byte in one test; the open container kept in
 * registers; the next node readied with its key where the key is read).
 * Here it is held to a reference written the plain way, a recursive
 * descent over the grammar, on generated documents, every one-byte change
 * of them and their prefixes: the same verdict, error offset and message
 * from the eager parse, the lazy parses and the validator. Accepted
 * documents must build the same tree compact and with whitespace between
 * every token (where the short cuts are not taken), with lists that end
 * and counts that match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_internal.h" /* node flags */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* ---- the reference ------------------------------------------------------------ */

typedef struct ref {
    const char *base, *end;
    unsigned max_depth;
    int rc;
    size_t offset;
    char message[96];
} ref;

static bool ref_fail(ref *r, int rc, const char *at, const char *message) {
    r->rc = rc;
    r->offset = (size_t)(at - r->base);
    snprintf(r->message, sizeof r->message, "%s", message);
    return false;
}

static const char *ref_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* A string or a number alone is judged by the library's own scanner (the
 * short cuts under test are around tokens, not inside them): validated from
 * the token on, it either runs to the end, stops with "unexpected data"
 * where the token ends, or fails inside it. */
static bool ref_token(ref *r, const char **pp) {
    const char *p = *pp;
    mcp_json_error err;
    int rc = mcp_json_validate(p, (size_t)(r->end - p), &(mcp_json_opts){.max_size = SIZE_MAX}, &err);
    if (rc == 0) {
        *pp = r->end;
        return true;
    }
    if (rc == MCP_EPARSE && strcmp(err.message, "unexpected data after the JSON value") == 0) {
        *pp = p + err.offset;
        return true;
    }
    return ref_fail(r, rc, p + err.offset, err.message);
}

static bool ref_value(ref *r, const char **pp, unsigned depth);

static bool ref_container(ref *r, const char **pp, unsigned depth) {
    const char *p = *pp;
    bool obj = *p == '{';
    if (depth + 1 > r->max_depth) return ref_fail(r, MCP_ELIMIT, p, "nesting deeper than max_depth");
    p = ref_ws(p + 1, r->end);
    if (p < r->end && *p == (obj ? '}' : ']')) {
        *pp = p + 1;
        return true;
    }
    for (;;) {
        if (obj) {
            p = ref_ws(p, r->end);
            if (p >= r->end || *p != '"') return ref_fail(r, MCP_EPARSE, p, "expected string key");
            if (!ref_token(r, &p)) return false;
            p = ref_ws(p, r->end);
            if (p >= r->end || *p != ':') return ref_fail(r, MCP_EPARSE, p, "expected ':' after object key");
            p++;
        }
        if (!ref_value(r, &p, depth + 1)) return false;
        p = ref_ws(p, r->end);
        if (p >= r->end) return ref_fail(r, MCP_EPARSE, p, "unexpected end of input");
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == (obj ? '}' : ']')) {
            *pp = p + 1;
            return true;
        }
        return ref_fail(r, MCP_EPARSE, p,
                        obj ? "expected ',' or '}' after object member" : "expected ',' or ']' after array element");
    }
}

static bool ref_value(ref *r, const char **pp, unsigned depth) {
    const char *p = ref_ws(*pp, r->end);
    if (p >= r->end) return ref_fail(r, MCP_EPARSE, p, "unexpected end of input");
    *pp = p;
    switch (*p) {
    case '{':
    case '[':
        return ref_container(r, pp, depth);
    case '"':
        return ref_token(r, pp);
    case 't':
    case 'f':
    case 'n': {
        const char *word = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
        size_t n = strlen(word);
        if ((size_t)(r->end - p) < n || memcmp(p, word, n) != 0) return ref_fail(r, MCP_EPARSE, p, "invalid literal");
        *pp = p + n;
        return true;
    }
    default:
        if (*p != '-' && (*p < '0' || *p > '9')) return ref_fail(r, MCP_EPARSE, p, "unexpected character");
        return ref_token(r, pp);
    }
}

static void ref_run(ref *r, const char *text, size_t len, unsigned max_depth) {
    *r = (ref){.base = text, .end = text + len, .max_depth = max_depth};
    const char *p = text;
    if (!ref_value(r, &p, 0)) return;
    p = ref_ws(p, r->end);
    if (p != r->end) ref_fail(r, MCP_EPARSE, p, "unexpected data after the JSON value");
}

/* ---- the parser against it ------------------------------------------------------ */

/* Every way of running the loop, on text: same answer as the reference. */
static void check_errors(mcp_arena *arena, const char *text, size_t len, unsigned max_depth) {
    ref r;
    ref_run(&r, text, len, max_depth);
    static const unsigned lazy[] = {0, 1, 2};
    for (int k = 0; k < 4; k++) {
        mcp_json_error err;
        mcp_json *v = NULL;
        int rc;
        if (k < 3) {
            mcp_json_opts opts = {.max_depth = max_depth, .lazy_depth = lazy[k]};
            rc = mcp_json_parse(arena, text, len, &opts, &v, &err);
        } else {
            rc = mcp_json_validate(text, len, &(mcp_json_opts){.max_depth = max_depth}, &err);
        }
        if (rc != r.rc || (rc && (err.offset != r.offset || strcmp(err.message, r.message) != 0)))
            fail_msg("run %d on [%.*s]: %d at %zu (%s), reference %d at %zu (%s)", k, (int)len, text, rc,
                     rc ? err.offset : 0, rc ? err.message : "", r.rc, r.offset, r.rc ? r.message : "");
        mcp_arena_reset(arena);
    }
}

/* ---- generated documents ---------------------------------------------------------- */

static const char *const KEYS[] = {
    "", "a", "id", "name", "text", "_meta", "arguments", "0123456789abcde", "0123456789abcdef",
    "io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities",
    "a\\\"b", "line\\nbreak", "caf\xC3\xA9", "\\u00e9t\\u00e9", "k\\\\", "sixty-four bytes of key, which is longer than any window of 16..",
};
static const char *const SCALARS[] = {
    "0", "-0", "1", "-1", "42", "123456789012345678", "1234567890123456789", "3.25", "-0.5e-3", "1E+9", "true",
    "false", "null", "\"\"", "\"echo\"", "\"2026-07-28\"", "\"a\\\\b\\\"c\"", "\"\\ud83d\\ude00\"", "\"\xC3\xA9t\xC3\xA9\"",
};

static void put(mcp_buf *b, const char *s) { assert_int_equal(mcp_buf_append_cstr(b, s), 0); }

static void gen_value(mcp_buf *b, int depth) {
    unsigned pick = depth >= 5 ? 3 + rnd(3) : rnd(6);
    if (pick == 0 || pick == 1) { /* object */
        put(b, "{");
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++) {
            if (i) put(b, ",");
            put(b, "\"");
            put(b, KEYS[rnd(sizeof KEYS / sizeof *KEYS)]);
            put(b, "\":");
            gen_value(b, depth + 1);
        }
        put(b, "}");
    } else if (pick == 2) { /* array */
        put(b, "[");
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++) {
            if (i) put(b, ",");
            gen_value(b, depth + 1);
        }
        put(b, "]");
    } else if (pick == 3) { /* a plain string of any length */
        put(b, "\"");
        unsigned n = rnd(4) == 0 ? rnd(1200) : rnd(40);
        for (unsigned i = 0; i < n; i++) assert_int_equal(mcp_buf_append_char(b, (char)('a' + (i * 7 + n) % 26)), 0);
        put(b, "\"");
    } else {
        put(b, SCALARS[rnd(sizeof SCALARS / sizeof *SCALARS)]);
    }
}

/* The same text with whitespace after every token outside strings. */
static void spaced(const char *text, size_t len, mcp_buf *out) {
    static const char *const WS[] = {" ", "\n", "\t ", "\r\n  "};
    mcp_buf_reset(out);
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        assert_int_equal(mcp_buf_append_char(out, c), 0);
        if (in_string) {
            if (c == '\\') assert_int_equal(mcp_buf_append_char(out, text[++i]), 0);
            else if (c == '"') in_string = false;
            else continue;
            if (c == '\\') continue;
        } else if (c == '"') {
            in_string = true;
            continue;
        } else if (!strchr("{}[],:", c) && i + 1 < len && !strchr("{}[],:", text[i + 1])) {
            continue; /* inside a number or literal */
        }
        put(out, WS[rnd(4)]);
    }
}

/* ---- trees ------------------------------------------------------------------------- */

/* Children are linked and counted right, and the list ends. */
static size_t check_list(const mcp_json *v) {
    size_t n = 0;
    for (const mcp_json *c = mcp_json_first(v); c; c = mcp_json_next(c)) n++;
    assert_int_equal(n, mcp_json_len(v));
    return n;
}

static void same_tree(mcp_arena *arena, mcp_json *a, mcp_json *b) {
    a = mcp_json_expand(arena, a);
    b = mcp_json_expand(arena, b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(mcp_json_type_of(a), mcp_json_type_of(b));
    mcp_str ka = mcp_json_key(a), kb = mcp_json_key(b);
    assert_int_equal(ka.len, kb.len);
    assert_true((ka.ptr == NULL) == (kb.ptr == NULL));
    if (ka.len) assert_memory_equal(ka.ptr, kb.ptr, ka.len);
    assert_int_equal(a->flags & (MCP_JSON_F_KEY_CLEAN | MCP_JSON_F_STR_CLEAN | MCP_JSON_F_INT),
                     b->flags & (MCP_JSON_F_KEY_CLEAN | MCP_JSON_F_STR_CLEAN | MCP_JSON_F_INT));
    switch (mcp_json_type_of(a)) {
    case MCP_JSON_OBJECT:
    case MCP_JSON_ARRAY: {
        assert_int_equal(check_list(a), check_list(b));
        mcp_json *ca = mcp_json_first(a), *cb = mcp_json_first(b);
        for (; ca; ca = mcp_json_next(ca), cb = mcp_json_next(cb)) same_tree(arena, ca, cb);
        break;
    }
    case MCP_JSON_STRING:
        assert_int_equal(mcp_json_str_len(a), mcp_json_str_len(b));
        assert_memory_equal(mcp_json_str(a, ""), mcp_json_str(b, ""), mcp_json_str_len(a));
        /* fall through: the token's text is the same too */
    case MCP_JSON_NUMBER: {
        mcp_str ra = mcp_json_raw(a), rb = mcp_json_raw(b);
        assert_int_equal(ra.len, rb.len);
        assert_memory_equal(ra.ptr, rb.ptr, ra.len);
        assert_true(mcp_json_num(a, 1) == mcp_json_num(b, 1) || mcp_json_num(a, 1) != mcp_json_num(a, 1));
        assert_int_equal(mcp_json_int(a, 7), mcp_json_int(b, 7));
        break;
    }
    default:
        break;
    }
}

static void check_accepted(mcp_arena *arena, const char *text, size_t len, mcp_buf *scratch) {
    mcp_json *compact = NULL, *wide = NULL, *lazy = NULL;
    assert_int_equal(mcp_json_parse(arena, text, len, NULL, &compact, NULL), 0);
    assert_null(mcp_json_next(compact));
    assert_null(mcp_json_key(compact).ptr);
    spaced(text, len, scratch);
    assert_int_equal(mcp_json_parse(arena, scratch->data, scratch->len, NULL, &wide, NULL), 0);
    same_tree(arena, compact, wide);
    assert_int_equal(mcp_json_parse(arena, text, len, &(mcp_json_opts){.lazy_depth = 1}, &lazy, NULL), 0);
    same_tree(arena, compact, lazy);
    /* Followed by more text, as a request's params are: the same value, and
     * where it ends. */
    mcp_buf_reset(scratch);
    assert_int_equal(mcp_buf_append(scratch, text, len), 0);
    put(scratch, "},\"id\":1}");
    mcp_json *prefix = NULL;
    size_t used = 0;
    assert_int_equal(mcp_json_parse_prefix(arena, scratch->data, scratch->len, NULL, &prefix, &used, NULL), 0);
    assert_int_equal(used, len);
    same_tree(arena, compact, prefix);
    mcp_arena_reset(arena);
}

/* Bytes that steer the loop to each of its branches. */
static const char EDITS[] = {'"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\n', 'x', '0', '-', 't', '\x01', (char)0xC3};

static void test_generated_documents(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf doc, scratch, edited;
    mcp_buf_init(&doc);
    mcp_buf_init(&scratch);
    mcp_buf_init(&edited);
    unsigned rejected = 0, total = 0;
    for (int iter = 0; iter < 1500; iter++) {
        mcp_buf_reset(&doc);
        gen_value(&doc, rnd(3) == 0 ? 4 : 0);
        check_accepted(&arena, doc.data, doc.len, &scratch);
        check_errors(&arena, doc.data, doc.len, 128);
        check_errors(&arena, doc.data, doc.len, 1 + rnd(4)); /* the depth limit, at every level */
        for (int e = 0; e < 30; e++) {
            mcp_buf_reset(&edited);
            assert_int_equal(mcp_buf_append(&edited, doc.data, doc.len), 0);
            size_t at = rnd((unsigned)doc.len);
            unsigned how = rnd(4);
            if (how == 0) { /* replace */
                edited.data[at] = EDITS[rnd(sizeof EDITS)];
            } else if (how == 1) { /* delete */
                memmove(edited.data + at, edited.data + at + 1, edited.len - at - 1);
                edited.len--;
            } else if (how == 2) { /* insert */
                assert_int_equal(mcp_buf_append_char(&edited, ' '), 0);
                memmove(edited.data + at + 1, edited.data + at, edited.len - at - 1);
                edited.data[at] = EDITS[rnd(sizeof EDITS)];
            } else { /* cut */
                edited.len = at;
            }
            /* An input that ends where the text does: a read past it is an
             * error the address sanitizer sees. */
            char *exact = malloc(edited.len ? edited.len : 1);
            assert_non_null(exact);
            memcpy(exact, edited.data, edited.len);
            ref r;
            ref_run(&r, exact, edited.len, 128);
            check_errors(&arena, exact, edited.len, 128);
            if (r.rc == 0) check_accepted(&arena, exact, edited.len, &scratch);
            else rejected++;
            total++;
            free(exact);
        }
    }
    /* Most edits break the text, some do not: both kinds were checked. */
    assert_true(rejected > total / 2 && rejected < total);
    mcp_buf_free(&doc);
    mcp_buf_free(&scratch);
    mcp_buf_free(&edited);
    mcp_arena_free(&arena);
}

/* The request of the TCP benchmark's kind, and every prefix of it. */
static void test_request_params_and_prefixes(void **state) {
    (void)state;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf doc, scratch;
    mcp_buf_init(&doc);
    mcp_buf_init(&scratch);
    put(&doc, "{\"name\":\"echo\",\"arguments\":{\"text\":\"");
    for (int i = 0; i < 100; i++) put(&doc, "request ");
    put(&doc, "\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
              "\"io.modelcontextprotocol/clientCapabilities\":{}}}");
    check_accepted(&arena, doc.data, doc.len, &scratch);
    for (size_t len = 0; len <= doc.len; len++) {
        char *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, doc.data, len);
        check_errors(&arena, exact, len, 128);
        free(exact);
    }
    mcp_json *v = NULL;
    assert_int_equal(mcp_json_parse(&arena, doc.data, doc.len, NULL, &v, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(v, "name"), ""), "echo");
    assert_int_equal(mcp_json_str_len(mcp_json_get(mcp_json_get(v, "arguments"), "text")), 800);
    const mcp_json *meta = mcp_json_get(v, "_meta");
    assert_int_equal(mcp_json_len(meta), 2);
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "io.modelcontextprotocol/protocolVersion"), ""), "2026-07-28");
    assert_int_equal(mcp_json_len(mcp_json_get(meta, "io.modelcontextprotocol/clientCapabilities")), 0);
    assert_true(mcp_json_is_object(mcp_json_get(meta, "io.modelcontextprotocol/clientCapabilities")));
    mcp_buf_free(&doc);
    mcp_buf_free(&scratch);
    mcp_arena_free(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_documents),
        cmocka_unit_test(test_request_params_and_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
