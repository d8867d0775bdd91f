/*
 * String values decoded on first use.
 *
 * The parser only validates a string value and reserves room for its
 * decoded form; most values of a forwarded message are never read one by
 * one (the writer copies their validated source text), so decoding them at
 * parse time would be work thrown away. The first accessor that needs the
 * text decodes it into the reserved room. See json_internal.h for why this
 * is safe when several threads read one DOM.
 */
#include "json/json_internal.h"

#include <sched.h>

static size_t utf8_encode(char *out, unsigned long cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The byte a two-character escape stands for, by the character after the
 * backslash; 0 for 'u'. A lookup, not a switch: in escaped text the kinds
 * alternate unpredictably. */
static const char unescape_char[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

size_t mcp_json_decode_string(char *dst, const char *s, size_t len) {
    char *d = dst;
    const char *end = s + len;
    for (;;) {
#if defined(__SSE2__)
        /* Copy 16 bytes at a time and stop at a backslash; d never runs
         * ahead of s, so the store stays inside dst. */
        while (end - s >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
            _mm_storeu_si128((__m128i *)(void *)d, v);
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                s += k;
                d += k;
                goto escape;
            }
            s += 16;
            d += 16;
        }
#endif
        while (s < end && *s != '\\') *d++ = *s++;
        if (s >= end) break;
#if defined(__SSE2__)
    escape:
#endif
        {
            char e = unescape_char[(unsigned char)s[1]];
            if (MCP_LIKELY(e)) {
                *d++ = e;
                s += 2;
                continue;
            }
            unsigned long cp = (unsigned long)mcp_json_hex4(s + 2);
            s += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)mcp_json_hex4(s + 2);
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            d += utf8_encode(d, cp);
        }
    }
    *d = '\0';
    return (size_t)(d - dst);
}

const mcp_json *mcp_json_string_ready(const mcp_json *v) {
    /* The node lives in a (non-const) arena; const in the API means "the
     * value does not change", and decoding does not change the value. */
    mcp_json *n = (mcp_json *)(uintptr_t)v;
    uint8_t f = __atomic_load_n(&n->flags, __ATOMIC_ACQUIRE);
    if (MCP_LIKELY(f & MCP_JSON_F_STR_READY)) return n;
    if (!(__atomic_fetch_or(&n->flags, MCP_JSON_F_STR_BUSY, __ATOMIC_ACQUIRE) & MCP_JSON_F_STR_BUSY)) {
        const char *body = n->src + 1;
        size_t body_len = n->src_len - 2;
        if (f & MCP_JSON_F_STR_CLEAN) {
            mcp_json_copy(n->u.s.ptr, body, body_len);
            n->u.s.ptr[body_len] = '\0';
            n->u.s.len = body_len;
        } else {
            n->u.s.len = mcp_json_decode_string(n->u.s.ptr, body, body_len);
        }
        __atomic_fetch_or(&n->flags, MCP_JSON_F_STR_READY, __ATOMIC_RELEASE);
        return n;
    }
    /* Another thread is decoding this very string: a short wait. */
    while (!(__atomic_load_n(&n->flags, __ATOMIC_ACQUIRE) & MCP_JSON_F_STR_READY)) sched_yield();
    return n;
}
