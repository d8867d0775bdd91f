/*
 * String bodies judged 64 bytes at a time with AVX2, for long strings.
 *
 * The byte-at-a-time scanner in parse.c stops at every escape and at every
 * non-ASCII byte it cannot vouch for; in prose with an escape every few
 * dozen bytes that is a stop, a branch and often a mispredict per escape.
 * Here a 64-byte block becomes bitmasks (quote, backslash, control,
 * non-ASCII) and the rules become arithmetic on them:
 *
 *  - which bytes a backslash escapes: a run of backslashes escapes the byte
 *    after it when the run is odd. Adding the run's first bit to the run
 *    carries to the bit just past it; runs that start on even and on odd
 *    positions are added separately, so the parity of the run is the parity
 *    of where the carry lands. A carry out of bit 63 hands an escape to the
 *    next block.
 *  - the string ends at the first quote that is not escaped;
 *  - before it there must be no control character, every escaped byte must
 *    be one of "\/bfnrtu (a nibble lookup with two byte shuffles), each \u
 *    is checked on its own (they are rare);
 *  - non-ASCII bytes must be valid UTF-8. First a cheap test with masks
 *    for the common case, the accents of Latin-script text: two-byte
 *    sequences only, a lead C2..DF followed by a continuation 80..BF, every
 *    continuation right after a lead. A block with anything else (CJK,
 *    emoji, or invalid bytes) gets the full check by table lookups
 *    (utf8_errors), which also sees sequences that cross block edges.
 *
 * Plain ASCII text, the bulk of most documents, needs none of that: for it
 * mcp_json_skip_plain_blocks and mcp_json_copy_plain_blocks judge 32 bytes
 * with two compares and a mask.
 *
 * The block path only ever says "valid up to this quote" or "look here
 * byte by byte": whenever a block holds anything it does not vouch for, it
 * returns the last point where the state between bytes was plain (no
 * escape or sequence open across it) and parse.c's exact scanner takes over
 * from there, so error messages and offsets are the exact scanner's.
 */
#include "base/cpu.h"
#include "json/json_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define EVEN_BITS 0x5555555555555555ull

__attribute__((target("avx2"))) static inline uint64_t mask64(__m256i lo, __m256i hi) {
    return (uint32_t)_mm256_movemask_epi8(lo) | ((uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32);
}

/* Bytes that may follow a backslash: '"' 22, '/' 2F, '\\' 5C, 'b' 62,
 * 'f' 66, 'n' 6E, 'r' 72, 't' 74, 'u' 75. One bit per high nibble (2, 5,
 * 6, 7); a byte is allowed when the bit of its high nibble is among those
 * its low nibble allows. Bytes >= 0x80 look up high nibbles 8..F: zero. */
__attribute__((target("avx2"))) static inline __m256i escape_ok(__m256i v) {
    const __m256i by_low = _mm256_setr_epi8(0, 0, 1 | 4 | 8, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1,
                                            0, 0, 1 | 4 | 8, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1);
    const __m256i by_high = _mm256_setr_epi8(0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_shuffle_epi8(by_low, _mm256_and_si256(v, nibble));
    __m256i hi = _mm256_shuffle_epi8(by_high, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
    return _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256()); /* 0xFF where NOT allowed */
}

/* UTF-8 validation of 32 bytes by table lookups, after the method of
 * Keiser and Lemire ("Validating UTF-8 in less than one instruction per
 * byte", 2021). Each byte is judged with the byte before it: the high
 * nibble of the previous byte, its low nibble and the high nibble of this
 * byte each look up a set of error kinds that are possible for them, and
 * an error is real when all three agree. One bit per kind:
 *   TOO_SHORT   a lead byte not followed by a continuation
 *   TOO_LONG    an ASCII byte followed by a continuation
 *   OVERLONG_3  E0 followed by 80..9F
 *   TOO_LARGE   F4 followed by 90..BF, F5..FF followed by 90..BF
 *   SURROGATE   ED followed by A0..BF
 *   OVERLONG_2  C0 or C1 (followed by a continuation)
 *   LARGE_LOW   F0 followed by 80..8F (overlong), F5..FF followed by 80..8F
 *   TWO_CONTS   a continuation followed by a continuation
 * TWO_CONTS is right exactly where the byte is the third or fourth of a
 * sequence (the byte two back is E0..FF, or three back F0..FF): those
 * positions flip it. What is left non-zero is an error at that byte; an
 * error always shows at or before the first byte after the bad sequence. */
enum {
    TOO_SHORT = 1,
    TOO_LONG = 2,
    OVERLONG_3 = 4,
    TOO_LARGE = 8,
    SURROGATE = 16,
    OVERLONG_2 = 32,
    LARGE_LOW = 64,
    TWO_CONTS = 128,
};

#define TABLE16(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)
#define K(bits) ((char)(bits)) /* table entries are bit sets; TWO_CONTS is the sign bit */
#define LOW_ANY (TOO_SHORT | TOO_LONG | TWO_CONTS)

__attribute__((target("avx2"))) static inline __m256i utf8_errors(__m256i input, __m256i before) {
    /* by the high nibble of the byte before */
    const __m256i by_prev_high = TABLE16(
        K(TOO_LONG), K(TOO_LONG), K(TOO_LONG), K(TOO_LONG), K(TOO_LONG), K(TOO_LONG), K(TOO_LONG), K(TOO_LONG),
        K(TWO_CONTS), K(TWO_CONTS), K(TWO_CONTS), K(TWO_CONTS),
        K(TOO_SHORT | OVERLONG_2), K(TOO_SHORT), K(TOO_SHORT | OVERLONG_3 | SURROGATE),
        K(TOO_SHORT | TOO_LARGE | LARGE_LOW));
    /* by the low nibble of the byte before */
    const __m256i by_prev_low = TABLE16(
        K(LOW_ANY | OVERLONG_3 | OVERLONG_2 | LARGE_LOW), K(LOW_ANY | OVERLONG_2), K(LOW_ANY), K(LOW_ANY),
        K(LOW_ANY | TOO_LARGE), K(LOW_ANY | TOO_LARGE | LARGE_LOW), K(LOW_ANY | TOO_LARGE | LARGE_LOW),
        K(LOW_ANY | TOO_LARGE | LARGE_LOW), K(LOW_ANY | TOO_LARGE | LARGE_LOW), K(LOW_ANY | TOO_LARGE | LARGE_LOW),
        K(LOW_ANY | TOO_LARGE | LARGE_LOW), K(LOW_ANY | TOO_LARGE | LARGE_LOW), K(LOW_ANY | TOO_LARGE | LARGE_LOW),
        K(LOW_ANY | TOO_LARGE | LARGE_LOW | SURROGATE), K(LOW_ANY | TOO_LARGE | LARGE_LOW),
        K(LOW_ANY | TOO_LARGE | LARGE_LOW));
    /* by the high nibble of the byte itself */
    const __m256i by_high = TABLE16(
        K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT),
        K(TOO_LONG | OVERLONG_3 | OVERLONG_2 | LARGE_LOW | TWO_CONTS),
        K(TOO_LONG | OVERLONG_3 | TOO_LARGE | OVERLONG_2 | TWO_CONTS),
        K(TOO_LONG | SURROGATE | TOO_LARGE | OVERLONG_2 | TWO_CONTS),
        K(TOO_LONG | SURROGATE | TOO_LARGE | OVERLONG_2 | TWO_CONTS),
        K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT), K(TOO_SHORT));
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    /* The input moved right by 1, 2 and 3 bytes, the bytes before it
     * coming in from the left. */
    __m256i joined = _mm256_permute2x128_si256(before, input, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(input, joined, 15);
    __m256i prev2 = _mm256_alignr_epi8(input, joined, 14);
    __m256i prev3 = _mm256_alignr_epi8(input, joined, 13);
    __m256i kinds = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(by_prev_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble)),
                         _mm256_shuffle_epi8(by_prev_low, _mm256_and_si256(prev1, nibble))),
        _mm256_shuffle_epi8(by_high, _mm256_and_si256(_mm256_srli_epi16(input, 4), nibble)));
    /* Third or fourth byte of a sequence: unsigned prev2 >= E0, prev3 >= F0. */
    __m256i later = _mm256_or_si256(_mm256_subs_epu8(prev2, _mm256_set1_epi8((char)0xDF)),
                                    _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)0xEF)));
    __m256i expected = _mm256_and_si256(_mm256_cmpgt_epi8(later, _mm256_setzero_si256()),
                                        _mm256_set1_epi8((char)TWO_CONTS));
    return _mm256_xor_si256(kinds, expected);
}

/* Checks the \u escape whose 'u' is at q (inside [.., end)). Sets *pair_u
 * to the 'u' of the low surrogate a high one pairs with, which is then not
 * judged on its own. */
static bool u_escape_ok(const char *q, const char *end, const char **pair_u) {
    if (end - q < 5) return false;
    long cp = mcp_json_hex4(q + 1);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - q < 11 || q[5] != '\\' || q[6] != 'u') return false;
        long lo = mcp_json_hex4(q + 7);
        if (lo < 0xDC00 || lo > 0xDFFF) return false;
        *pair_u = q + 6;
    }
    return true;
}

__attribute__((target("avx2"))) const char *mcp_json_scan_blocks(const char *p, const char *end, bool *escaped,
                                                                   bool *closed, const char **retry_after) {
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\'), space = _mm256_set1_epi8(0x20);
    const __m256i cont_top = _mm256_set1_epi8((char)0xC0), lead_low = _mm256_set1_epi8((char)0xC1),
                  lead_top = _mm256_set1_epi8((char)0xE0), letter_u = _mm256_set1_epi8('u');
    uint64_t esc_carry = 0;  /* 1: the first byte of this block is escaped */
    uint64_t lead_carry = 0; /* 1: the first byte of this block must be a continuation */
    const char *resume = p;  /* last block start with nothing open across it */
    const char *pair_u = NULL;
    bool open_tail = false; /* a three- or four-byte sequence open across the block edge */
    __m256i prev = _mm256_setzero_si256(); /* the 32 bytes before v0; zero (ASCII) at the start */
    bool esc = false;
    *closed = false;
    while (end - p >= 64) {
        /* Plain between bytes: no escape, sequence or surrogate pair open. */
        if (!esc_carry && !lead_carry && !open_tail && pair_u < p) resume = p;
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        uint64_t q = mask64(_mm256_cmpeq_epi8(v0, quote), _mm256_cmpeq_epi8(v1, quote));
        uint64_t b = mask64(_mm256_cmpeq_epi8(v0, bslash), _mm256_cmpeq_epi8(v1, bslash));
        uint64_t high = mask64(v0, v1);
        /* Signed: "below 0x20" is the controls and every byte >= 0x80. */
        uint64_t ctrl = mask64(_mm256_cmpgt_epi8(space, v0), _mm256_cmpgt_epi8(space, v1)) & ~high;

        /* Escaped bytes. A backslash escaped from the previous block
         * starts no run. */
        uint64_t runs = b & ~esc_carry;
        uint64_t starts = runs & ~(runs << 1);
        uint64_t even_starts = starts & EVEN_BITS, odd_starts = starts & ~EVEN_BITS;
        uint64_t after_even = (runs + even_starts) & ~runs;
        uint64_t sum_odd;
        bool carry_out = __builtin_add_overflow(runs, odd_starts, &sum_odd);
        uint64_t after_odd = sum_odd & ~runs;
        uint64_t escd = (after_even & ~EVEN_BITS) | (after_odd & EVEN_BITS) | esc_carry;

        uint64_t live = q & ~escd; /* quotes that end the string */
        uint64_t end_bit = live & (0 - live);
        uint64_t in = live ? end_bit - 1 : ~0ull; /* bytes of the body in this block */

        uint64_t judged = in | end_bit; /* the body and the quote that closes it */
        uint64_t bad = ctrl & in;
        bad |= escd & in & mask64(escape_ok(v0), escape_ok(v1));
        bool full_check = open_tail;
        if (!full_check && (high & judged)) {
            /* Signed compares again: 80..BF are the bytes below (char)0xC0,
             * C2..DF those above (char)0xC1 and below (char)0xE0. */
            uint64_t cont = mask64(_mm256_cmpgt_epi8(cont_top, v0), _mm256_cmpgt_epi8(cont_top, v1));
            uint64_t lead = mask64(_mm256_and_si256(_mm256_cmpgt_epi8(v0, lead_low), _mm256_cmpgt_epi8(lead_top, v0)),
                                   _mm256_and_si256(_mm256_cmpgt_epi8(v1, lead_low), _mm256_cmpgt_epi8(lead_top, v1)));
            if (((high & in) & ~(lead | cont)) | ((cont ^ ((lead << 1) | lead_carry)) & judged))
                full_check = true; /* not only two-byte sequences, or invalid */
            else
                lead_carry = live ? 0 : lead >> 63;
        } else if (!full_check) {
            bad |= lead_carry & judged; /* a lead at the end of the last block */
            lead_carry = 0;
        }
        if (full_check) {
            uint64_t fine = mask64(_mm256_cmpeq_epi8(utf8_errors(v0, prev), _mm256_setzero_si256()),
                                   _mm256_cmpeq_epi8(utf8_errors(v1, v0), _mm256_setzero_si256()));
            bad |= ~fine & judged;
            lead_carry = 0;
            /* A sequence still open at the block's end: the next block
             * needs the full check to see its continuations. */
            open_tail = !live && ((unsigned char)p[63] >= 0xC0 || (unsigned char)p[62] >= 0xE0 ||
                                  (unsigned char)p[61] >= 0xF0);
        }
        prev = v1;
        if (MCP_UNLIKELY(bad)) goto give_up;

        uint64_t us = escd & in & mask64(_mm256_cmpeq_epi8(v0, letter_u), _mm256_cmpeq_epi8(v1, letter_u));
        while (us) {
            const char *u = p + __builtin_ctzll(us);
            us &= us - 1;
            if (u == pair_u) continue;
            if (!u_escape_ok(u, end, &pair_u)) goto give_up;
        }
        esc |= (b & in) != 0;
        if (live) {
            *escaped = esc;
            *closed = true;
            return p + __builtin_ctzll(live);
        }
        esc_carry = carry_out;
        p += 64;
    }
    *escaped = esc;
    *retry_after = p;
    if (!esc_carry && !lead_carry && !open_tail && pair_u < p) return p;
    /* Something is open across the last edge: hand back where it began,
     * everything before it being judged valid. The last block start with
     * nothing open may be the very first: four-byte sequences one byte
     * out of step with the blocks cross every edge, and all the work would
     * then be done again byte by byte. */
    if (pair_u >= p) return pair_u - 7; /* the high surrogate's backslash */
    if (esc_carry) return p - 1;        /* the backslash that escapes p[0] */
    if ((unsigned char)p[-3] >= 0xF0) return p - 3;
    if ((unsigned char)p[-2] >= 0xE0) return p - 2;
    return p - 1; /* a lead byte */
give_up:
    *escaped = esc;
    *retry_after = p + 64;
    return resume;
}


/* Plain ASCII string text (not '"', '\\', control or >= 0x80): the
 * 32-byte twin of mcp_json_plain16. */
__attribute__((target("avx2"))) static inline __m256i plain32(__m256i v) {
    __m256i above = _mm256_cmpgt_epi8(_mm256_xor_si256(v, _mm256_set1_epi8(2)), _mm256_set1_epi8(0x20));
    return _mm256_andnot_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')), above);
}

__attribute__((target("avx2"))) static inline __m256i load32(const char *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Positions in the 32 bytes at p that are not plain string text. */
__attribute__((target("avx2"))) static inline unsigned special32(const char *p) {
    return ~(unsigned)_mm256_movemask_epi8(plain32(load32(p)));
}

/* A key or a short value ends within the first 32 bytes: one window and
 * out. Longer text goes 128 bytes a step, four windows ANDed and one test,
 * and the step that holds the stop finds it with two 64-bit masks. Fewer
 * than 32 bytes before the end are judged with a window that ends at the
 * end: it starts inside the 16 bytes before p at the latest, all plain, so
 * its first stop is the first stop from p. */
__attribute__((target("avx2"))) const char *mcp_json_skip_plain_blocks(const char *p, const char *end) {
    if (end - p < 16) return p;
    if (end - p >= 32) {
        unsigned m = special32(p);
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    for (size_t steps = (size_t)(end - p) / 128; steps; steps--, p += 128) {
        __m256i a = plain32(load32(p)), b = plain32(load32(p + 32));
        __m256i c = plain32(load32(p + 64)), d = plain32(load32(p + 96));
        __m256i all = _mm256_and_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, d));
        if (MCP_UNLIKELY(!_mm256_testc_si256(all, _mm256_set1_epi8(-1)))) {
            uint64_t m = ~mask64(a, b);
            if (m) return p + __builtin_ctzll(m);
            return p + 64 + __builtin_ctzll(~mask64(c, d));
        }
    }
    while (end - p >= 32) {
        unsigned m = special32(p);
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    if (p == end) return p;
    unsigned m = special32(end - 32);
    return m ? end - 32 + __builtin_ctz(m) : end;
}

__attribute__((target("avx2"))) size_t mcp_json_copy_plain_blocks(const char *p, const char *end, char *d) {
    const char *start = p;
    while (end - p >= 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        _mm256_storeu_si256((__m256i *)(void *)d, a);
        _mm256_storeu_si256((__m256i *)(void *)(d + 32), b);
        if (_mm256_movemask_epi8(_mm256_and_si256(plain32(a), plain32(b))) != -1) break;
        p += 64;
        d += 64;
    }
    return (size_t)(p - start);
}

bool mcp_json_blocks_probe(void) {
    int on = mcp_cpu_has_avx2() ? 1 : 0;
    __atomic_store_n(&mcp_json_blocks_state, on, __ATOMIC_RELAXED);
    return on == 1;
}

#else

const char *mcp_json_scan_blocks(const char *p, const char *end, bool *escaped, bool *closed,
                                 const char **retry_after) {
    *escaped = false;
    *closed = false;
    *retry_after = end;
    return p;
}

const char *mcp_json_skip_plain_blocks(const char *p, const char *end) {
    (void)end;
    return p;
}

size_t mcp_json_copy_plain_blocks(const char *p, const char *end, char *d) {
    (void)p, (void)end, (void)d;
    return 0;
}

bool mcp_json_blocks_probe(void) {
    __atomic_store_n(&mcp_json_blocks_state, 0, __ATOMIC_RELAXED);
    return false;
}

#endif

/* -1: not asked yet, or asked to follow the CPU again; then 1 or 0. */
int mcp_json_blocks_state = -1;

void mcp_json_use_blocks(bool on) {
    __atomic_store_n(&mcp_json_blocks_state, on ? -1 : 0, __ATOMIC_RELAXED);
}
