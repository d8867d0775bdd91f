/*
 * Private to the json layer: the node layout and the helpers that the
 * parser, the writer and the canonical form share.
 *
 * A node is 56 bytes (64 once the arena rounds it up). Every node keeps the
 * slice of source text it came from, so mcp_json_raw and mcp_json_write_value
 * can copy numbers, strings and RAW nodes verbatim instead of re-formatting
 * them.
 *
 * String values are validated by the parser but decoded only when a reader
 * asks for them (mcp_json_string_ready). The parser reserves the room for
 * the decoded text (never longer than the source body, plus the NUL) in the
 * document's arena, so decoding later allocates nothing: that is what lets
 * a DOM that several threads only read (a compiled schema's enum values)
 * stay safe to read concurrently. The first reader claims the node with an
 * atomic flag, decodes, and publishes READY; a concurrent reader waits for
 * it. The parser's own writes to a node happen before the DOM is handed to
 * anyone, so only flags needs atomic access afterwards.
 */
#ifndef MCP_JSON_INTERNAL_H
#define MCP_JSON_INTERNAL_H

#include "mcp/json.h"

#include <string.h>

enum {
    /* Number: no fraction or exponent and the value fits int64, so n.i is exact. */
    MCP_JSON_F_INT = 1u << 0,
    /* String had no escapes: its source text is already its escaped form. */
    MCP_JSON_F_STR_CLEAN = 1u << 1,
    /* Member key had no escapes: it points into the source, between quotes,
     * so key - 1 .. key + key_len + 1 is its escaped form. */
    MCP_JSON_F_KEY_CLEAN = 1u << 2,
    /* String value decoded: u.s.ptr holds it, NUL-terminated, u.s.len long.
     * Set (with release order) only after the text is in place. */
    MCP_JSON_F_STR_READY = 1u << 3,
    /* String value being decoded by one reader; others wait for READY. */
    MCP_JSON_F_STR_BUSY = 1u << 4,
};

struct mcp_json {
    uint8_t type;      /* mcp_json_type */
    uint8_t flags;     /* MCP_JSON_F_* */
    uint32_t key_len;  /* member values: decoded key length */
    const char *key;   /* member values: decoded key (into source when it had no escapes) */
    mcp_json *next;    /* next element or member */
    const char *src;   /* source text of the value, no surrounding whitespace */
    size_t src_len;
    union {
        struct {
            char *ptr;  /* room for the decoded text, in the arena; valid once READY */
            size_t len; /* decoded length, valid once READY (STR_CLEAN: src_len - 2) */
        } s;
        struct {
            mcp_json *first;
            size_t count;
        } c;
        struct {
            double d;
            int64_t i; /* valid when MCP_JSON_F_INT */
        } n;
    } u;
};

/* A node's flags as readers outside the decoder see them. A string's first
 * reader sets READY and BUSY in the same byte while other threads may be
 * reading its CLEAN bits; every such read goes through here, an atomic
 * load that costs no more than a plain one. */
static inline uint8_t mcp_json_flags_of(const mcp_json *v) {
    return __atomic_load_n(&v->flags, __ATOMIC_RELAXED);
}

/* The decoded text of a string node, decoding it on first use. */
const mcp_json *mcp_json_string_ready(const mcp_json *v);

/* Decodes a validated string body (the text between the quotes) into dst,
 * which has room for len + 1 bytes; returns the decoded length. */
size_t mcp_json_decode_string(char *dst, const char *s, size_t len);

static inline int mcp_json_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (the caller checked that they are there), or -1. */
static inline long mcp_json_hex4(const char *p) {
    int a = mcp_json_hex_value(p[0]), b = mcp_json_hex_value(p[1]), c = mcp_json_hex_value(p[2]),
        d = mcp_json_hex_value(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

/* Loads 8 bytes without alignment requirements; compilers turn this into
 * one load. */
static inline uint64_t mcp_json_load64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define MCP_JSON_ONES 0x0101010101010101ull
#define MCP_JSON_HIGHS 0x8080808080808080ull

/* Sets the high bit of every byte of v that is zero. Borrows can flag bytes
 * above a true hit, never below, so the lowest flagged byte is exact. */
static inline uint64_t mcp_json_zero_bytes(uint64_t v) {
    return (v - MCP_JSON_ONES) & ~v & MCP_JSON_HIGHS;
}

/* High bit set in each byte that is '"', '\\', a control character (< 0x20)
 * or non-ASCII (>= 0x80): the bytes a string scanner or escaper must stop at.
 * Only the lowest flagged byte is guaranteed exact. */
static inline uint64_t mcp_json_special_bytes(uint64_t v) {
    uint64_t quote = mcp_json_zero_bytes(v ^ (MCP_JSON_ONES * '"'));
    uint64_t bslash = mcp_json_zero_bytes(v ^ (MCP_JSON_ONES * '\\'));
    uint64_t ctrl = (v - MCP_JSON_ONES * 0x20) & ~v & MCP_JSON_HIGHS;
    return quote | bslash | ctrl | (v & MCP_JSON_HIGHS);
}

/* Index (0-7) of the lowest flagged byte of a non-zero mask (little endian). */
static inline unsigned mcp_json_first_byte(uint64_t mask) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (unsigned)__builtin_clzll(mask) >> 3;
#else
    return (unsigned)__builtin_ctzll(mask) >> 3;
#endif
}

/* First byte in [p, end) that a string scanner or escaper must look at
 * ('"', '\\', control, non-ASCII), or end. With SSE2 (always there on
 * x86-64) 16 bytes per step, passing over two-byte UTF-8 sequences that
 * mcp_json_stop16 vouches for; elsewhere the portable eight-byte SWAR test
 * stops at every non-ASCII byte. Either way the caller judges what it stops
 * at, so both give the same answers. */
static inline bool mcp_json_is_special(unsigned char c) {
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* 0xFF in each byte of v that is plain ASCII string text: not '"', not
 * '\\', not a control character, not >= 0x80. One compare does for all but
 * the backslash: flipping bit 1 maps '"' (0x22) to 0x20 and keeps 00..1F
 * among themselves (space goes up to 0x22), and a signed compare counts
 * bytes >= 0x80 as below anything. */
static inline __m128i mcp_json_plain16(__m128i v) {
    __m128i above = _mm_cmpgt_epi8(_mm_xor_si128(v, _mm_set1_epi8(2)), _mm_set1_epi8(0x20));
    return _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), above);
}

/* Positions in the 16 bytes v of '"', '\\', control characters and every
 * non-ASCII byte: cheaper than mcp_json_stop16, enough for ASCII text. */
static inline unsigned mcp_json_special16(__m128i v) {
    return (unsigned)_mm_movemask_epi8(mcp_json_plain16(v)) ^ 0xFFFFu;
}

/* True when all 64 bytes at p are plain ASCII string text: long text is
 * judged a cache line per step with a single branch. */
static inline bool mcp_json_plain64(const char *p) {
    __m128i a = mcp_json_plain16(_mm_loadu_si128((const __m128i *)(const void *)p));
    __m128i b = mcp_json_plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
    __m128i c = mcp_json_plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
    __m128i e = mcp_json_plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    return _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(a, b), _mm_and_si128(c, e))) == 0xFFFF;
}

/* Positions in the 16 bytes v where a clean run of string text ends: '"',
 * '\\', control characters, and every non-ASCII byte except those of a
 * two-byte UTF-8 sequence (lead C2..DF, then a continuation 80..BF) that
 * lies wholly inside the window. Such pairs, the accents of Latin scripts,
 * are vouched for here with a few vector operations instead of a stop and a
 * call each; longer sequences, sequences cut by the window's end and
 * invalid bytes stop the run, and mcp_json_utf8_seq judges them one at a
 * time. A window starts on a sequence boundary (callers only advance past
 * whole sequences), so a continuation byte at position 0 is rightly a stop.
 * Every byte before the first stop is valid: a vouched lead is followed by
 * a continuation, which is vouched too, and a continuation is vouched only
 * right after a lead, never as the first byte after a whole sequence. */
static inline unsigned mcp_json_stop16(__m128i v) {
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    /* Signed compares: bytes >= 0x80 are negative. "Below 0x20" is thus the
     * control characters and every non-ASCII byte; "below 0xC0" is exactly
     * the continuation bytes 80..BF. */
    __m128i low_or_high = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    __m128i cont = _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0));
    __m128i lead = _mm_andnot_si128(_mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC2)),
                                    _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xE0)));
    __m128i vouched = _mm_or_si128(_mm_and_si128(lead, _mm_srli_si128(cont, 1)),
                                   _mm_and_si128(cont, _mm_slli_si128(lead, 1)));
    __m128i stop = _mm_or_si128(_mm_or_si128(quote, bslash), _mm_andnot_si128(vouched, low_or_high));
    return (unsigned)_mm_movemask_epi8(stop);
}
#endif

static inline const char *mcp_json_find_special(const char *p, const char *end) {
#if defined(__SSE2__)
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = mcp_json_special16(v);
        /* The full mask only where text has non-ASCII: keys rarely do. */
        if (m && (signed char)p[__builtin_ctz(m)] < 0) m = mcp_json_stop16(v);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t mask = mcp_json_special_bytes(mcp_json_load64(p));
        if (mask) return p + mcp_json_first_byte(mask);
        p += 8;
    }
    while (p < end && !mcp_json_is_special((unsigned char)*p)) p++;
    return p;
}

/* Copies n bytes; tokens of up to 16 bytes (keys, ids, literals), the
 * writer's usual pieces, move as two overlapping loads and stores each
 * inside [s, s + n) instead of a call to memcpy. */
static inline void mcp_json_copy(char *d, const char *s, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a = mcp_json_load64(s), b = mcp_json_load64(s + n - 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

/* Whether n bytes at a and b are equal; keys (up to 16 bytes) compared in
 * line the way mcp_json_copy moves them, longer ones by memcmp. */
static inline bool mcp_json_bytes_equal(const char *a, const char *b, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t head = mcp_json_load64(a) ^ mcp_json_load64(b);
        uint64_t tail = mcp_json_load64(a + n - 8) ^ mcp_json_load64(b + n - 8);
        return (head | tail) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b0, b, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) return false;
        return true;
    }
    return memcmp(a, b, n) == 0;
}

/* Appends n bytes; the inline twin of mcp_buf_append for hot paths. */
static inline int mcp_json_buf_put(mcp_buf *b, const void *s, size_t n) {
    int rc = mcp_buf_room(b, n);
    if (rc) return rc;
    mcp_json_copy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MCP_OK;
}

/* mcp_json_utf8_seq (mcp/json.h) judges one sequence of UTF-8. */

/* Long string bodies, 64 bytes at a time (scan_blocks.c), when the CPU has
 * AVX2 (mcp_json_have_blocks). From p, a point inside a body where nothing
 * is open (no escape, UTF-8 sequence or surrogate pair), judges whole
 * blocks while 64 bytes of input are left. Sets *closed and returns the
 * closing quote when the body is valid up to it. Otherwise returns a point
 * at or after p, with nothing open there, up to which the body is valid,
 * and the exact scanner goes on from it; it should not call again before
 * *retry_after (where a block was given up, or the input's last 63 bytes).
 * *escaped tells whether a backslash was seen. */
const char *mcp_json_scan_blocks(const char *p, const char *end, bool *escaped, bool *closed,
                                 const char **retry_after);
/* Whether the block paths are on: a relaxed load in line, since every
 * parse asks; the CPU is asked on first use (mcp_json_blocks_probe). */
extern int mcp_json_blocks_state __attribute__((visibility("hidden")));
bool mcp_json_blocks_probe(void);
static inline bool mcp_json_have_blocks(void) {
    int state = __atomic_load_n(&mcp_json_blocks_state, __ATOMIC_RELAXED);
    return state >= 0 ? state == 1 : mcp_json_blocks_probe();
}
/* Also with AVX2 only. skip: the first byte from p that is not plain
 * ASCII string text (see mcp_json_plain16), or end when there is none; p
 * itself, unjudged, when fewer than 16 bytes are left. The 16 bytes before
 * p must be plain string text of the same input (the caller judged them).
 * copy: passes 64-byte blocks while they are all plain, storing each block
 * it judges to d, the one it stops at too (d needs 64 bytes of room past
 * the bytes it passes), and returns how many bytes it passed. */
const char *mcp_json_skip_plain_blocks(const char *p, const char *end);
size_t mcp_json_copy_plain_blocks(const char *p, const char *end, char *d);
/* For tests: false makes every scan byte by byte, true goes back to what
 * the CPU offers, so the two paths can be compared on the same input. */
void mcp_json_use_blocks(bool on);

/* Number text -> value, independent of the C locale. Sets *is_int and *i when
 * the text is an integer that fits int64. text must be a valid JSON number. */
double mcp_json_number_value(const char *text, size_t len, bool *is_int, int64_t *i);

/* Shortest text that reads back as exactly d (d finite). Returns the length
 * written to out, which needs 32 bytes. */
size_t mcp_json_format_double(double d, char out[32]);

/* Decimal text of v into out (needs 21 bytes); returns the length. */
size_t mcp_json_format_int(int64_t v, char *out);

/* Appends the escaped, quoted form of s to out. Invalid UTF-8 becomes U+FFFD
 * so the output is always valid JSON. */
int mcp_json_escape_into(mcp_buf *out, const char *s, size_t len);

/* Parses text as a full DOM with no depth limit (used by expand and the
 * canonical form on RAW nodes, whose text was validated already). */
mcp_json *mcp_json_parse_validated(mcp_arena *arena, const char *text, size_t len);

#endif
