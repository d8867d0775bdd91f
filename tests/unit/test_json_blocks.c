/*
 * The 64-byte block scanner for long strings against the byte-by-byte
 * scanner, on the same inputs: same verdict, same error offset and message,
 * same decoded value. The generated bodies are what the block path is made
 * for (escapes of every kind, runs of backslashes, \u pairs, two-byte
 * UTF-8) with, now and then, one thing it must hand back (a longer
 * sequence, an invalid byte, a bad escape, a control character, a missing
 * quote), at every offset of a block and across block edges; and text of
 * other scripts, three- and four-byte sequences, for the full UTF-8 check. On a CPU
 * without AVX2 both runs are byte by byte and the test still checks that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_internal.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static const char *const COMMON[] = {
    "plain text ", "x", "\xC3\xA9", "\xC2\x80", "\xDF\xBF", "\\n", "\\t", "\\\"", "\\\\", "\\\\\\\\", "\\\\\\\"",
    "\\/", "\\b", "\\f", "\\r", "\\u00e9", "\\u0000", "\\uD83D\\uDE00", "\\udbff\\udfff", "\\u20AC", "\\\\\\n",
};
/* Text of other scripts: three- and four-byte sequences at every edge. */
static const char *const WIDE[] = {
    "\xE4\xB8\xAD", "\xE6\x96\x87", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\xE0\xA0\x80",
    "\xED\x9F\xBF", "\xF0\x90\x80\x80", "\xE1\x80\x80", "\xEE\x80\x80", "\xC3\xA9", "x", " ", "\\n", "\\\"",
};
static const char *const RARE[] = {
    "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xC3", "\xC0\x80", "\xFF", "\x01", "\x1F", "\\x", "\\u12G4",
    "\\uDC00", "\\uD800x", "\\uD800\\u0041", "\\", "\xED\xA0\x80", "\xE0\x9F\xBF", "\xF4\x90\x80\x80",
    "\xF0\x8F\xBF\xBF", "\xE2\x82", "\xF0\x9F\x98", "\xC1\xBF", "\xF8\x88\x80\x80\x80", "\xBF\xBF",
    "\xE2\x28\xA1", "\xF5\x80\x80\x80", "\xEF\xBF",
};

typedef struct outcome {
    int rc;
    size_t offset;
    char message[96];
    mcp_buf value;
} outcome;

static void run(mcp_arena *arena, const char *doc, size_t len, outcome *o) {
    mcp_json *v = NULL;
    mcp_json_error err;
    o->rc = mcp_json_parse(arena, doc, len, NULL, &v, &err);
    o->offset = o->rc ? err.offset : 0;
    snprintf(o->message, sizeof o->message, "%s", o->rc ? err.message : "");
    mcp_buf_reset(&o->value);
    if (o->rc == 0) {
        const mcp_json *s = mcp_json_first(v); /* the string inside the array */
        assert_int_equal(mcp_buf_append(&o->value, mcp_json_str(s, ""), mcp_json_str_len(s)), 0);
    }
    /* The validator takes the same path and must say the same. */
    mcp_json_error verr;
    assert_int_equal(mcp_json_validate(doc, len, NULL, &verr), o->rc);
    if (o->rc) assert_int_equal(verr.offset, o->offset);
}

static void test_blocks_match_bytes(void **state) {
    (void)state;
    static char doc[4096];
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    outcome fast = {0}, exact = {0};
    mcp_buf_init(&fast.value);
    mcp_buf_init(&exact.value);
    unsigned accepted = 0, rejected = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        doc[len++] = '[';
        doc[len++] = '"';
        size_t lead = rnd(64);
        for (size_t i = 0; i < lead; i++) doc[len++] = 'p';
        size_t target = 64 + rnd(600);
        bool spoil = iter % 3 == 0;
        size_t spoil_at = spoil ? rnd((unsigned)target) : SIZE_MAX;
        bool wide = iter % 2 == 1;
        while (len < target) {
            const char *piece = wide ? WIDE[rnd(sizeof WIDE / sizeof *WIDE)]
                                     : COMMON[rnd(sizeof COMMON / sizeof *COMMON)];
            if (len >= spoil_at) {
                piece = RARE[rnd(sizeof RARE / sizeof *RARE)];
                spoil_at = SIZE_MAX;
            }
            size_t k = strlen(piece);
            memcpy(doc + len, piece, k);
            len += k;
        }
        if (rnd(40) != 0) doc[len++] = '"';
        /* A short or long tail after the string, so the input ends inside,
         * at, or well after the last block. */
        size_t tail = rnd(3) == 0 ? 100 : rnd(4);
        for (size_t i = 0; i < tail; i++) doc[len++] = ' ';
        doc[len++] = ']';

        mcp_json_use_blocks(true);
        run(&arena, doc, len, &fast);
        mcp_json_use_blocks(false);
        run(&arena, doc, len, &exact);
        mcp_json_use_blocks(true);
        if (fast.rc != exact.rc || fast.offset != exact.offset || strcmp(fast.message, exact.message) != 0)
            fail_msg("iteration %d: blocks say %d at %zu (%s), bytes say %d at %zu (%s)", iter, fast.rc,
                     fast.offset, fast.message, exact.rc, exact.offset, exact.message);
        assert_int_equal(fast.value.len, exact.value.len);
        if (fast.value.len) assert_memory_equal(fast.value.data, exact.value.data, fast.value.len);
        if (fast.rc == 0) accepted++;
        else rejected++;
        mcp_arena_reset(&arena);
    }
    assert_true(accepted > 5000 && rejected > 3000);
    mcp_buf_free(&fast.value);
    mcp_buf_free(&exact.value);
    mcp_arena_free(&arena);
}

/* A megabyte string of the benchmark's kind, spoiled once near its end:
 * the block path must find the one bad byte after thousands of blocks. */
static void test_long_string_spoiled_late(void **state) {
    (void)state;
    size_t cap = (1u << 20) + 64;
    char *doc = malloc(cap);
    assert_non_null(doc);
    size_t len = 0;
    doc[len++] = '"';
    while (len < (1u << 20)) {
        const char *piece = COMMON[rnd(sizeof COMMON / sizeof *COMMON)];
        size_t k = strlen(piece);
        memcpy(doc + len, piece, k);
        len += k;
    }
    doc[len++] = '"';
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *v = NULL;
    assert_int_equal(mcp_json_parse(&arena, doc, len, NULL, &v, NULL), 0);
    /* Inside the last "plain text " piece: no escape or sequence around. */
    size_t bad = len - 12;
    while (memcmp(doc + bad, "plain text ", 11) != 0) bad--;
    bad += 2;
    char saved = doc[bad];
    doc[bad] = '\x01';
    mcp_json_error err;
    assert_int_equal(mcp_json_parse(&arena, doc, len, NULL, &v, &err), MCP_EPARSE);
    assert_int_equal(err.offset, bad);
    assert_string_equal(err.message, "control character in string");
    doc[bad] = saved;
    mcp_arena_free(&arena);
    free(doc);
}

/* The block path itself must vouch for valid text of every script (not
 * just hand it all back to the byte scanner, which would also give the
 * right answers, slowly), and must never vouch for an invalid sequence. */
static void test_blocks_vouch_for_valid_text(void **state) {
    (void)state;
    if (!mcp_json_have_blocks()) {
        fprintf(stderr, "skipped: no AVX2, the block scanner is not used here\n");
        skip();
    }
    static char body[2048];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 0;
        while (len < 1500) {
            const char *piece = WIDE[rnd(sizeof WIDE / sizeof *WIDE)];
            size_t k = strlen(piece);
            memcpy(body + len, piece, k);
            len += k;
        }
        size_t close = len;
        body[len++] = '"';
        while (len < sizeof body) body[len++] = ' ';
        bool esc, closed;
        const char *retry;
        const char *at = mcp_json_scan_blocks(body, body + len, &esc, &closed, &retry);
        assert_true(closed);
        assert_ptr_equal(at, body + close);
        /* One bad sequence: the blocks must hand back, never close. */
        const char *bad = RARE[15 + rnd(11)];
        size_t k = strlen(bad), where = rnd((unsigned)(close - k));
        while (where > 0 && ((unsigned char)body[where] & 0xC0) == 0x80) where--;
        if (body[where] == '\\' || (where > 0 && body[where - 1] == '\\')) continue;
        memcpy(body + where, bad, k);
        /* What it overwrote may join it into something valid again: the
         * byte scanner says which. */
        static char doc[sizeof body + 1];
        doc[0] = '"';
        memcpy(doc + 1, body, len);
        mcp_json_use_blocks(false);
        bool valid = mcp_json_validate(doc, len + 1, NULL, NULL) == 0;
        mcp_json_use_blocks(true);
        at = mcp_json_scan_blocks(body, body + len, &esc, &closed, &retry);
        if (closed != valid)
            fail_msg("iteration %d: blocks %s, bytes %s (bad piece at %zu)", iter, closed ? "close" : "hand back",
                     valid ? "accept" : "reject", where);
        if (!valid) assert_true(at <= body + where);
    }
}

/* Text that leaves something open at every block edge (four-byte
 * sequences one byte out of step with the 64-byte blocks, an escape or a
 * surrogate pair across the last edge), ending less than a block before
 * the input does: the blocks hand back a point within the last block, not
 * the string's start, so the byte scanner does not read it all again. */
static void test_blocks_hand_back_near_the_end(void **state) {
    (void)state;
    if (!mcp_json_have_blocks()) {
        fprintf(stderr, "skipped: no AVX2, the block scanner is not used here\n");
        skip();
    }
    static const char *const TAILS[] = {"", "\\n", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac"};
    for (size_t lead = 1; lead <= 3; lead++) {
        for (size_t t = 0; t < sizeof TAILS / sizeof *TAILS; t++) {
            for (size_t shift = 0; shift < 64; shift++) {
                char *body = malloc(20000);
                assert_non_null(body);
                size_t len = 0;
                memset(body, 'a', lead);
                len += lead;
                while (len < 16000 + shift) {
                    memcpy(body + len, "\xf0\x9f\x98\x80", 4);
                    len += 4;
                }
                size_t k = strlen(TAILS[t]);
                memcpy(body + len, TAILS[t], k);
                len += k;
                body[len++] = '"';
                bool esc, closed;
                const char *retry;
                const char *at = mcp_json_scan_blocks(body, body + len, &esc, &closed, &retry);
                /* Under a block is left, and the open sequence or escape
                 * (at most 7 bytes) in front of it. */
                if (!closed && body + len - at > 64 + 7)
                    fail_msg("lead %zu, tail %zu, shift %zu: handed back %td bytes before the end", lead, t, shift,
                             body + len - at);
                /* Whatever it handed back, the parse as a whole is right. */
                char *doc = malloc(len + 1);
                assert_non_null(doc);
                doc[0] = '"';
                memcpy(doc + 1, body, len);
                assert_int_equal(mcp_json_validate(doc, len + 1, NULL, NULL), 0);
                free(doc);
                free(body);
            }
        }
    }
}

/* The plain-text skip, which the parser trusts to point at the first byte
 * that needs a look: one stop byte of each kind (or none) at every offset
 * of bodies of 16 to 700 bytes, after 16 plain bytes, with the input ending
 * right after the body or well after it. The input is allocated to its
 * exact size, so a read past its end is caught by the address sanitizer. */
static void test_skip_plain_finds_first_stop(void **state) {
    (void)state;
    if (!mcp_json_have_blocks()) {
        fprintf(stderr, "skipped: no AVX2, the plain skip is not used here\n");
        skip();
    }
    static const char stops[] = {'"', '\\', '\x01', '\x1F', '\x00', (char)0x80, (char)0xC3, (char)0xFF};
    unsigned checked = 0;
    for (size_t len = 16; len <= 700; len += (len < 300 ? 1 : 13)) {
        for (size_t tail = 0; tail <= 40; tail += 40) {
            size_t size = 16 + len + tail;
            char *text = malloc(size);
            assert_non_null(text);
            for (size_t at = 0; at <= len; at += (len < 200 ? 1 : 7)) {
                for (size_t k = 0; k <= sizeof stops; k++) {
                    for (size_t i = 0; i < size; i++) text[i] = (char)(0x20 + (i * 7 + len) % 95);
                    for (size_t i = 0; i < size; i++)
                        if (text[i] == '"' || text[i] == '\\') text[i] = 'x';
                    if (k < sizeof stops && at < len) text[16 + at] = stops[k];
                    const char *p = text + 16, *end = text + 16 + len;
                    const char *want = p;
                    while (want < end && !mcp_json_is_special((unsigned char)*want)) want++;
                    const char *got = mcp_json_skip_plain_blocks(p, end);
                    if (got != want)
                        fail_msg("body %zu, stop %zu at %zu: skip stops at %td, first stop is at %td", len, k, at,
                                 got - p, want - p);
                    checked++;
                }
            }
            free(text);
        }
    }
    assert_true(checked > 100000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_match_bytes),
        cmocka_unit_test(test_long_string_spoiled_late),
        cmocka_unit_test(test_blocks_vouch_for_valid_text),
        cmocka_unit_test(test_blocks_hand_back_near_the_end),
        cmocka_unit_test(test_skip_plain_finds_first_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
