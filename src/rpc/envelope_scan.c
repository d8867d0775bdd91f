/*
 * envelope_scan.c — the one-pass reader of the usual request.
 *
 * Nearly every message a server receives is a request or a notification
 * written the same way: {"jsonrpc":"2.0","id":7,"method":"tools/call",
 * "params":{...}}. Building that envelope as a DOM and then classifying it
 * costs a node and a key comparison per member, twice over. Here the four
 * keys are recognised as they are read (a first letter and one short
 * compare each) and only params goes through the JSON parser, built whole
 * as mcp_rpc_parse_built wants it (mcp_json_parse_prefix stops at its end).
 *
 * The reader takes only what it can judge in full by itself: the members
 * jsonrpc, id, method and params, each at most once, in any order, with
 * any JSON whitespace; jsonrpc written exactly "2.0"; an id that is an
 * integer of up to 18 digits or a string of ASCII without escapes or
 * control characters; a method of the same kind of string; params an object or an
 * array. Anything else — a response, a member it does not know or meets
 * twice (the general path lets the last one win), an escape, a fraction in
 * an id, any malformed token — goes to the general path, which gives every
 * bad message its exact error. For what this reader takes, both give the
 * same message (tests/unit/test_rpc_scan.c compares them).
 */
#include "rpc/envelope_scan.h"

#include <stdint.h>
#include <string.h>

enum { SEEN_VERSION = 1, SEEN_ID = 2, SEEN_METHOD = 4, SEEN_PARAMS = 8 };

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Whether the n bytes (4 to 8) at p are those of lit, as two overlapping
 * four-byte words: a key compare without a call to memcmp. */
static inline bool same_bytes(const char *p, const char *lit, size_t n)
{
    uint32_t a, b, c, d;
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    memcpy(&c, lit, 4);
    memcpy(&d, lit + n - 4, 4);
    return ((a ^ c) | (b ^ d)) == 0;
}

/* Compact JSON, what machines send, has no whitespace: the character
 * expected next is usually right there, and one compare answers. */
static inline const char *expect(const char *p, const char *end, char c)
{
    if (p < end && *p == c)
        return p;
    p = skip_ws(p, end);
    return p < end && *p == c ? p : NULL;
}

/* From just after a key's closing quote: the first byte of its value. */
static inline const char *value_at(const char *p, const char *end)
{
    if (!(p = expect(p, end, ':')))
        return NULL;
    p++;
    if (p < end && (unsigned char)*p > ' ')
        return p;
    p = skip_ws(p, end);
    return p < end ? p : NULL;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* The high bit of each byte of v (eight bytes of text, little-endian
 * order assumed by plain_string_end) that is '"', '\\', a control
 * character or not ASCII; only the lowest flagged byte is exact, as
 * borrows may flag bytes above it. */
static inline uint64_t stop_bytes(uint64_t v)
{
    uint64_t quote = v ^ (ONES * '"'), bslash = v ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) | ((v - ONES * 0x20) & ~v) | v) & HIGHS;
}

/* From an opening quote: the closing quote of a string of ASCII without
 * escapes or control characters, or NULL for anything else (the general
 * path judges escapes, UTF-8 and control characters). Eight bytes a step
 * while eight are left. */
static const char *plain_string_end(const char *p, const char *end)
{
    p++;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t stop = stop_bytes(v);
        if (stop) {
            p += __builtin_ctzll(stop) >> 3;
            return *p == '"' ? p : NULL;
        }
        p += 8;
    }
#endif
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p;
        if (c < 0x20 || c >= 0x80 || c == '\\')
            return NULL;
    }
    return NULL;
}

/* An integer of at most 18 digits (so it cannot overflow), as the JSON
 * grammar writes it: the end of its text, or NULL. A fraction or an
 * exponent is left to the general path, which knows which of those are
 * still integers. */
static const char *integer_end(const char *p, const char *end, int64_t *value)
{
    bool negative = *p == '-';
    const char *d = p + negative;
    if (d >= end)
        return NULL;
    uint64_t v = 0;
    if (*d == '0') {
        d++;
    } else {
        /* Unsigned: a run too long to take may wrap before it is refused. */
        const char *first = d;
        unsigned digit;
        while (d < end && (digit = (unsigned)(unsigned char)*d - '0') < 10) {
            v = v * 10 + digit;
            d++;
        }
        if (d == first || d - first > 18)
            return NULL;
    }
    if (d < end && (*d == '.' || *d == 'e' || *d == 'E' || (*d >= '0' && *d <= '9')))
        return NULL; /* also a leading zero: 01 */
    *value = negative ? -(int64_t)v : (int64_t)v;
    return d;
}

int mcp_rpc_scan_request(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                         mcp_rpc_message *out)
{
    size_t max_size = opts && opts->max_size ? opts->max_size : MCP_JSON_DEFAULT_MAX_SIZE;
    unsigned max_depth = opts && opts->max_depth ? opts->max_depth : MCP_JSON_DEFAULT_MAX_DEPTH;
    /* params sit at depth 2; with a limit of 1 they are the general path's
     * error to give. */
    if (!text || len > max_size || max_depth < 2)
        return 0;
    const char *end = text + len;
    const char *p = expect(text, end, '{');
    if (!p || !(p = expect(p + 1, end, '"')))
        return 0;
    memset(out, 0, sizeof *out);
    const char *method = NULL;
    unsigned seen = 0;
    for (;;) {
        /* p is at the quote that opens a key; one switch reads the key and
         * its value. */
        const char *k = p + 1, *v;
        size_t left = (size_t)(end - k);
        /* A text may end right after the quote; the buffer is not ours
         * to read past. */
        if (left == 0)
            return 0;
        switch (*k) {
        case 'j':
            if (left < 8 || !same_bytes(k, "jsonrpc\"", 8) || (seen & SEEN_VERSION) || !(v = value_at(k + 8, end)))
                return 0;
            if ((size_t)(end - v) < 5 || !same_bytes(v, "\"2.0\"", 5))
                return 0;
            seen |= SEEN_VERSION;
            p = v + 5;
            break;
        case 'i':
            if (left < 3 || k[1] != 'd' || k[2] != '"' || (seen & SEEN_ID) || !(v = value_at(k + 3, end)))
                return 0;
            if (*v == '"') {
                const char *close = plain_string_end(v, end);
                if (!close)
                    return 0;
                p = close + 1;
                out->id.type = MCP_RPC_ID_STRING;
            } else if (*v == '-' || (*v >= '0' && *v <= '9')) {
                if (!(p = integer_end(v, end, &out->id.num)))
                    return 0;
                out->id.type = MCP_RPC_ID_INT;
            } else {
                return 0;
            }
            out->id.text = (mcp_str){v, (size_t)(p - v)};
            seen |= SEEN_ID;
            break;
        case 'm': {
            if (left < 7 || !same_bytes(k, "method\"", 7) || (seen & SEEN_METHOD) || !(v = value_at(k + 7, end)))
                return 0;
            const char *close = *v == '"' ? plain_string_end(v, end) : NULL;
            if (!close)
                return 0;
            method = v + 1;
            out->method_len = (size_t)(close - method);
            seen |= SEEN_METHOD;
            p = close + 1;
            break;
        }
        case 'p': {
            if (left < 7 || !same_bytes(k, "params\"", 7) || (seen & SEEN_PARAMS) || !(v = value_at(k + 7, end)))
                return 0;
            if (*v != '{' && *v != '[')
                return 0;
            mcp_json_opts sub = {.max_depth = max_depth - 1, .max_size = SIZE_MAX};
            size_t used;
            int rc = mcp_json_parse_prefix(arena, v, (size_t)(end - v), &sub, &out->params, &used, NULL);
            if (rc == MCP_ENOMEM)
                return MCP_ENOMEM;
            if (rc != 0)
                return 0;
            seen |= SEEN_PARAMS;
            p = v + used;
            break;
        }
        default:
            return 0;
        }
        /* After a value: another member, or the end of the object. */
        if (p >= end || (*p != ',' && *p != '}')) {
            p = skip_ws(p, end);
            if (p >= end)
                return 0;
        }
        if (*p == '}')
            break;
        if (*p != ',' || !(p = expect(p + 1, end, '"')))
            return 0;
    }
    if (skip_ws(p + 1, end) != end || !(seen & SEEN_VERSION) || !(seen & SEEN_METHOD))
        return 0;
    /* The method is handed on NUL-terminated, as the general path's
     * decoded string is. */
    char *name = mcp_arena_alloc(arena, out->method_len + 1);
    if (!name)
        return MCP_ENOMEM;
    memcpy(name, method, out->method_len);
    name[out->method_len] = '\0';
    out->method = name;
    out->kind = (seen & SEEN_ID) ? MCP_RPC_REQUEST : MCP_RPC_NOTIFICATION;
    return 1;
}
