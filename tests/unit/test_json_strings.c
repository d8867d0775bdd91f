/*
 * Strings through the parser, the validator and the escaper, checked
 * against a plain byte-by-byte reference written here from RFC 8259 and the
 * Unicode table of well-formed UTF-8. The codec judges 16 bytes at a time
 * and vouches for two-byte sequences with vector masks, so the generated
 * strings put every kind of sequence, escape and invalid byte at every
 * offset of a 16-byte window, including across its edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/json_internal.h" /* mcp_json_use_blocks */
#include "mcp/json.h"

/* ---- reference ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p, or 0, by decoding the code
 * point and checking its range (not by the codec's table of byte ranges). */
static size_t ref_utf8(const unsigned char *p, size_t avail) {
    unsigned c = p[0];
    size_t n;
    unsigned long cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC0 && c < 0xE0) n = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c < 0xF0) n = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c < 0xF8) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static int ref_hex4(const unsigned char *p, size_t avail, unsigned long *out) {
    if (avail < 4) return -1;
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d = c >= '0' && c <= '9' ? (int)c - '0' : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
                : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (unsigned long)d;
    }
    *out = v;
    return 0;
}

static size_t ref_put_utf8(unsigned char *d, unsigned long cp) {
    if (cp < 0x80) return d[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return d[0] = (unsigned char)(0xC0 | cp >> 6), d[1] = (unsigned char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xE0 | cp >> 12);
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | cp >> 18);
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a document that is one string: 0 and the decoded value in dec, or
 * -1 and the offset of the first problem in *at. */
static int ref_parse_string(const unsigned char *t, size_t len, unsigned char *dec, size_t *dec_len, size_t *at) {
    size_t i = 1, o = 0;
    for (;;) {
        if (i >= len) return *at = i, -1;
        unsigned c = t[i];
        if (c == '"') break;
        if (c == '\\') {
            if (i + 1 >= len) return *at = i, -1;
            unsigned e = t[i + 1];
            const char *named = strchr("\"\\/bfnrt", (int)e);
            if (e && named) {
                static const char value[] = "\"\\/\b\f\n\r\t";
                dec[o++] = (unsigned char)value[named - "\"\\/bfnrt"];
                i += 2;
                continue;
            }
            unsigned long cp, lo;
            if (e != 'u' || ref_hex4(t + i + 2, len - i - 2, &cp)) return *at = i, -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return *at = i, -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (len - i < 12 || t[i + 6] != '\\' || t[i + 7] != 'u' || ref_hex4(t + i + 8, 4, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return *at = i, -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 12;
            } else {
                i += 6;
            }
            o += ref_put_utf8(dec + o, cp);
            continue;
        }
        if (c < 0x20) return *at = i, -1;
        size_t n = ref_utf8(t + i, len - i);
        if (!n) return *at = i, -1;
        memcpy(dec + o, t + i, n);
        o += n;
        i += n;
    }
    size_t j = i + 1;
    while (j < len && (t[j] == ' ' || t[j] == '\t' || t[j] == '\n' || t[j] == '\r')) j++;
    if (j != len) return *at = j, -1;
    *dec_len = o;
    return 0;
}

static size_t ref_escape(unsigned char *d, const unsigned char *s, size_t len) {
    size_t o = 0;
    d[o++] = '"';
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t n = ref_utf8(s + i, len - i);
            if (n) memcpy(d + o, s + i, n), o += n, i += n;
            else memcpy(d + o, "\xEF\xBF\xBD", 3), o += 3, i++;
            continue;
        }
        i++;
        const char *named = c ? strchr("\"\\\b\f\n\r\t", (int)c) : NULL;
        if (named) {
            d[o++] = '\\';
            d[o++] = (unsigned char)"\"\\bfnrt"[named - "\"\\\b\f\n\r\t"];
        } else if (c < 0x20) {
            o += (size_t)sprintf((char *)d + o, "\\u%04x", c);
        } else {
            d[o++] = (unsigned char)c;
        }
    }
    d[o++] = '"';
    return o;
}

/* ---- generator ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Pieces of string text: plain ASCII, valid sequences of every length and
 * every special lead, escapes, and the invalid forms the codec must catch. */
static const char *const VALID_PIECES[] = {
    "a", "word ", "0123456789abcdef", "\xC3\xA9", "\xC2\x80", "\xDF\xBF", "\xE2\x82\xAC", "\xE0\xA0\x80",
    "\xED\x9F\xBF", "\xEF\xBF\xBF", "\xE1\x80\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\xF3\xBF\xBF\xBF",
    "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u00e9", "\\u0000", "\\uD83D\\uDE00", "\\u20AC",
};
static const char *const BAD_PIECES[] = {
    "\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xC3", "\xC3\x41", "\xC3\xC3\xA9", "\xE0\x80\x80", "\xE0\x9F\xBF",
    "\xED\xA0\x80", "\xE2\x82", "\xE2\x28\xA1", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
    "\xFF", "\x01", "\x1F", "\\x", "\\u12G4", "\\uDC00", "\\uD800x", "\\uD800\\u0041", "\"",
};

static size_t gen_body(unsigned char *b, size_t max, bool allow_bad) {
    size_t n = 0;
    size_t target = rnd(4) == 0 ? 200 + rnd(200) : rnd(48);
    while (n < target) {
        const char *piece;
        if (allow_bad && rnd(40) == 0) piece = BAD_PIECES[rnd(sizeof BAD_PIECES / sizeof *BAD_PIECES)];
        else if (rnd(3) == 0) piece = VALID_PIECES[3]; /* two-byte sequences, the vector path */
        else piece = VALID_PIECES[rnd(sizeof VALID_PIECES / sizeof *VALID_PIECES)];
        size_t k = strlen(piece);
        if (n + k > max) break;
        memcpy(b + n, piece, k);
        n += k;
    }
    return n;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_parse_matches_reference(void **state) {
    (void)state;
    static unsigned char doc[1024], dec[1024];
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    unsigned accepted = 0, rejected = 0;
    for (int iter = 0; iter < 40000; iter++) {
        /* A prefix of 0..15 plain bytes moves the body across window offsets. */
        size_t lead = rnd(16), len = 0;
        doc[len++] = '"';
        for (size_t i = 0; i < lead; i++) doc[len++] = 'p';
        len += gen_body(doc + len, sizeof doc - len - 2, iter % 2 == 0);
        if (rnd(50) != 0) doc[len++] = '"';
        size_t want_len = 0, want_at = 0;
        int want = ref_parse_string(doc, len, dec, &want_len, &want_at);

        mcp_json *v = NULL;
        mcp_json_error err;
        int got = mcp_json_parse(&arena, (const char *)doc, len, NULL, &v, &err);
        int valid = mcp_json_validate((const char *)doc, len, NULL, NULL);
        if (want == 0) {
            accepted++;
            if (got != 0) fail_msg("iteration %d: rejected at %zu (%s), reference accepts", iter, err.offset, err.message);
            assert_int_equal(valid, 0);
            assert_int_equal(mcp_json_str_len(v), want_len);
            assert_memory_equal(mcp_json_str(v, ""), dec, want_len);
            assert_int_equal(mcp_json_str(v, "")[want_len], '\0');
        } else {
            rejected++;
            if (got == 0) fail_msg("iteration %d: accepted, reference rejects at %zu", iter, want_at);
            assert_int_equal(err.code, MCP_EPARSE);
            assert_true(valid != 0);
            if (err.offset != want_at)
                fail_msg("iteration %d: error at %zu (%s), reference at %zu", iter, err.offset, err.message, want_at);
        }
        mcp_arena_reset(&arena);
    }
    assert_true(accepted > 10000 && rejected > 5000);
    mcp_arena_free(&arena);
}

static void test_escape_matches_reference(void **state) {
    (void)state;
    static unsigned char raw[1024], want[8192];
    mcp_buf out;
    mcp_buf_init(&out);
    for (int iter = 0; iter < 40000; iter++) {
        size_t len = rnd(16);
        memset(raw, 'p', len);
        /* Raw bytes, not JSON text: take the generated pieces as they are,
         * backslashes included, plus arbitrary bytes now and then. */
        len += gen_body(raw + len, sizeof raw - len, true);
        for (unsigned k = rnd(3); k > 0 && len; k--) raw[rnd((unsigned)len)] = (unsigned char)rnd(256);
        size_t want_len = ref_escape(want, raw, len);
        mcp_buf_reset(&out);
        assert_int_equal(mcp_buf_append_cstr(&out, "x"), 0); /* escaping appends */
        assert_int_equal(mcp_json_escape(&out, (const char *)raw, len), 0);
        assert_int_equal(out.len, want_len + 1);
        assert_memory_equal(out.data + 1, want, want_len);
        /* What the escaper writes, the parser reads back. */
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *v = NULL;
        assert_int_equal(mcp_json_parse(&arena, out.data + 1, out.len - 1, NULL, &v, NULL), 0);
        mcp_arena_free(&arena);
    }
    mcp_buf_free(&out);
}

/* A string far longer than any pool piece, with escapes and accents, parsed
 * into a reused arena several times: same value every time. */
static void test_long_string_reuses_arena(void **state) {
    (void)state;
    mcp_buf text, want;
    mcp_buf_init(&text);
    mcp_buf_init(&want);
    assert_int_equal(mcp_buf_append_cstr(&text, "{\"text\":\""), 0);
    for (int i = 0; i < 40000; i++) {
        static const char *const src[] = {"r\xC3\xA9sum\xC3\xA9 ", "\\n", "\\\"q\\\" ", "\\u00e9", "plain words "};
        static const char *const val[] = {"r\xC3\xA9sum\xC3\xA9 ", "\n", "\"q\" ", "\xC3\xA9", "plain words "};
        unsigned k = rnd(5);
        assert_int_equal(mcp_buf_append_cstr(&text, src[k]), 0);
        assert_int_equal(mcp_buf_append_cstr(&want, val[k]), 0);
    }
    assert_int_equal(mcp_buf_append_cstr(&text, "\"}"), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf out;
    mcp_buf_init(&out);
    for (int round = 0; round < 3; round++) {
        mcp_json *doc = NULL;
        assert_int_equal(mcp_json_parse(&arena, text.data, text.len, NULL, &doc, NULL), 0);
        mcp_json *s = mcp_json_get(doc, "text");
        assert_int_equal(mcp_json_str_len(s), want.len);
        assert_memory_equal(mcp_json_str(s, ""), want.data, want.len);
        mcp_buf_reset(&out);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &out);
        mcp_json_write_value(&w, doc);
        assert_int_equal(mcp_json_writer_status(&w), 0);
        /* The writer's form differs from the source only where the source
         * escaped what needs no escape (\u00e9): read it back and compare. */
        mcp_json *again = NULL;
        mcp_arena other;
        mcp_arena_init(&other, 0);
        assert_int_equal(mcp_json_parse(&other, out.data, out.len, NULL, &again, NULL), 0);
        assert_memory_equal(mcp_json_str(mcp_json_get(again, "text"), ""), want.data, want.len);
        mcp_arena_free(&other);
        mcp_arena_reset(&arena);
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_buf_free(&text);
    mcp_buf_free(&want);
}

/* Long plain ASCII runs go 64 bytes a step: one piece (valid or not) at
 * every offset of runs of 60 to 200 bytes, so the step gives up at every
 * position of its block and the tail after it is judged too. Parser and
 * escaper both against the reference. */
static void check_piece_in_long_plain_run(void) {
    static unsigned char doc[512], dec[512], want[4096];
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_buf out;
    mcp_buf_init(&out);
    size_t nvalid = sizeof VALID_PIECES / sizeof *VALID_PIECES, nbad = sizeof BAD_PIECES / sizeof *BAD_PIECES;
    for (size_t run = 60; run <= 200; run += 7) {
        for (size_t at = 0; at <= run; at++) {
            for (size_t k = 0; k < nvalid + nbad; k++) {
                const char *piece = k < nvalid ? VALID_PIECES[k] : BAD_PIECES[k - nvalid];
                size_t plen = strlen(piece), len = 0;
                doc[len++] = '"';
                memset(doc + len, 'q', at);
                len += at;
                memcpy(doc + len, piece, plen);
                len += plen;
                memset(doc + len, 'r', run - at);
                len += run - at;
                doc[len++] = '"';
                size_t want_len = 0, want_at = 0;
                int ref = ref_parse_string(doc, len, dec, &want_len, &want_at);
                mcp_json *v = NULL;
                mcp_json_error err;
                int got = mcp_json_parse(&arena, (const char *)doc, len, NULL, &v, &err);
                if (ref == 0) {
                    if (got != 0) fail_msg("run %zu, piece %zu at %zu: rejected (%s)", run, k, at, err.message);
                    assert_int_equal(mcp_json_str_len(v), want_len);
                    assert_memory_equal(mcp_json_str(v, ""), dec, want_len);
                } else {
                    if (got == 0) fail_msg("run %zu, piece %zu at %zu: accepted", run, k, at);
                    assert_int_equal(err.offset, want_at);
                }
                mcp_arena_reset(&arena);
                /* The body as raw bytes through the escaper. */
                size_t wlen = ref_escape(want, doc + 1, len - 2);
                mcp_buf_reset(&out);
                assert_int_equal(mcp_json_escape(&out, (const char *)doc + 1, len - 2), 0);
                assert_int_equal(out.len, wlen);
                assert_memory_equal(out.data, want, wlen);
            }
        }
    }
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
}

/* With the CPU's wide blocks where it has them (AVX2), then with the
 * portable steps only. */
static void test_piece_in_long_plain_run(void **state) {
    (void)state;
    mcp_json_use_blocks(true);
    check_piece_in_long_plain_run();
    mcp_json_use_blocks(false);
    check_piece_in_long_plain_run();
    mcp_json_use_blocks(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_matches_reference),
        cmocka_unit_test(test_escape_matches_reference),
        cmocka_unit_test(test_long_string_reuses_arena),
        cmocka_unit_test(test_piece_in_long_plain_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
