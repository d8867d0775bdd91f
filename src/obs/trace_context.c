/*
 * W3C trace context (traceparent / tracestate) and the samplers.
 *
 * The ratio sampler looks at the low 8 bytes of the trace id, as the
 * OpenTelemetry TraceIdRatioBased sampler does, so every service that
 * samples one trace at the same ratio makes the same decision without
 * talking to the others.
 */
#include "obs_internal.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const char HEX[] = "0123456789abcdef";

void mcp_hex_encode(const uint8_t *bytes, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[bytes[i] >> 4];
        out[2 * i + 1] = HEX[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Digit value plus one, 0 for anything else. Lowercase hex only: the spec
 * forbids upper case in traceparent. A table and no branch per digit: every
 * traced request parses 50 of them. */
static const uint8_t HEX_VALUE[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static bool hex_decode(const char *s, size_t n_bytes, uint8_t *out) {
    unsigned bad = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        unsigned hi = HEX_VALUE[(uint8_t)s[2 * i]], lo = HEX_VALUE[(uint8_t)s[2 * i + 1]];
        bad |= (hi == 0) | (lo == 0);
        out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return !bad;
}

#if defined(__SSE2__)
/* 16 hex digits into 8 bytes, checked, in a dozen vector instructions: the
 * 48 digits of trace and span id were a third of what a traced request's
 * hooks executed when decoded a byte at a time. */
static bool hex_decode16(const char *s, uint8_t out[8]) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i l = _mm_sub_epi8(v, _mm_set1_epi8('a'));
    /* Unsigned x <= k as min(x, k) == x. */
    __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
    if (_mm_movemask_epi8(_mm_or_si128(is_digit, is_letter)) != 0xffff) return false;
    __m128i nibbles = _mm_or_si128(_mm_and_si128(is_digit, d),
                                   _mm_and_si128(is_letter, _mm_add_epi8(l, _mm_set1_epi8(10))));
    /* Each 16-bit lane holds a digit pair, the first in its low byte. */
    __m128i high = _mm_slli_epi16(_mm_and_si128(nibbles, _mm_set1_epi16(0x00ff)), 4);
    __m128i bytes = _mm_or_si128(high, _mm_srli_epi16(nibbles, 8));
    _mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(bytes, bytes));
    return true;
}
#else
static bool hex_decode16(const char *s, uint8_t out[8]) {
    return hex_decode(s, 8, out);
}
#endif

/* The spec forbids an all-zero trace or span id. */
static inline bool ids_valid(const mcp_trace_context *c) {
    uint64_t a, b, d;
    memcpy(&a, c->trace_id, 8);
    memcpy(&b, c->trace_id + 8, 8);
    memcpy(&d, c->span_id, 8);
    return (a | b) && d;
}

static inline int tracestate_copy(mcp_trace_context *out, const char *tracestate, size_t ts_len) {
    if (tracestate && ts_len <= MCP_TRACESTATE_MAX) {
        memcpy(out->tracestate, tracestate, ts_len);
        out->tracestate[ts_len] = '\0';
    }
    return MCP_OK;
}

int mcp_traceparent_parse(const char *tp, size_t len, const char *tracestate, mcp_trace_context *out) {
    return obs_traceparent_parse(tp, len, tracestate, tracestate ? strlen(tracestate) : 0, out);
}

int obs_traceparent_parse(const char *tp, size_t len, const char *tracestate, size_t ts_len, mcp_trace_context *out) {
    if (!tp || !out) return MCP_EINVAL;
    /* Not a memset of the whole context: the request path parses one per
     * request and the tracestate room is most of it. */
    out->flags = 0;
    out->tracestate[0] = '\0';
    /* What nearly every request carries: version 00, exactly 55
     * characters, no padding. Checked here in one go; anything else takes
     * the general path below, which accepts the same 00 form. */
    if (MCP_LIKELY(len == MCP_TRACEPARENT_LEN && tp[0] == '0' && tp[1] == '0' && tp[2] == '-' && tp[35] == '-' &&
                   tp[52] == '-')) {
        if (!hex_decode16(tp + 3, out->trace_id) || !hex_decode16(tp + 19, out->trace_id + 8) ||
            !hex_decode16(tp + 36, out->span_id) || !hex_decode(tp + 53, 1, &out->flags))
            return MCP_EPARSE;
        return ids_valid(out) ? tracestate_copy(out, tracestate, ts_len) : MCP_EPARSE;
    }
    /* Trim the optional whitespace a header value may carry. */
    while (len && (*tp == ' ' || *tp == '\t')) tp++, len--;
    while (len && (tp[len - 1] == ' ' || tp[len - 1] == '\t')) len--;
    if (len < MCP_TRACEPARENT_LEN) return MCP_EPARSE;
    uint8_t version;
    if (!hex_decode(tp, 1, &version) || version == 0xff) return MCP_EPARSE;
    /* Version 00 is exactly 55 characters; a later version may append
     * fields after a dash, which we ignore. */
    if (version == 0 && len != MCP_TRACEPARENT_LEN) return MCP_EPARSE;
    if (len > MCP_TRACEPARENT_LEN && tp[MCP_TRACEPARENT_LEN] != '-') return MCP_EPARSE;
    if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return MCP_EPARSE;
    if (!hex_decode16(tp + 3, out->trace_id) || !hex_decode16(tp + 19, out->trace_id + 8) ||
        !hex_decode16(tp + 36, out->span_id) || !hex_decode(tp + 53, 1, &out->flags))
        return MCP_EPARSE;
    return ids_valid(out) ? tracestate_copy(out, tracestate, ts_len) : MCP_EPARSE;
}

void mcp_traceparent_format(const mcp_trace_context *ctx, char out[MCP_TRACEPARENT_LEN + 1]) {
    memcpy(out, "00-", 3);
    mcp_hex_encode(ctx->trace_id, 16, out + 3);
    out[35] = '-';
    mcp_hex_encode(ctx->span_id, 8, out + 36);
    out[52] = '-';
    mcp_hex_encode(&ctx->flags, 1, out + 53);
}

bool mcp_sampler_should_sample(const mcp_sampler *s, const uint8_t trace_id[16], const mcp_trace_context *parent) {
    if (parent && s->parent_based) return (parent->flags & 1) != 0;
    switch (s->root) {
    case MCP_SAMPLE_ALWAYS_ON:
        return true;
    case MCP_SAMPLE_ALWAYS_OFF:
        return false;
    case MCP_SAMPLE_RATIO: {
        if (s->ratio >= 1.0) return true;
        if (!(s->ratio > 0.0)) return false;
        uint64_t low = 0;
        for (int i = 8; i < 16; i++) low = low << 8 | trace_id[i];
        /* Compare in 63 bits so the bound fits a double exactly enough. */
        uint64_t bound = (uint64_t)(s->ratio * 9223372036854775808.0);
        return (low >> 1) < bound;
    }
    }
    return false;
}
