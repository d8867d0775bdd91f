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

/* Compact JSON, what machines send, has no whitespace: one compare
 * answers for it. */
static inline const char *skip_ws(const char *p, const char *end)
{
    if (p < end && (unsigned char)*p > ' ')
        return p;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
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
    const char *p = skip_ws(text, text + len), *end = text + len;
    if (p >= end || *p != '{')
        return 0;
    memset(out, 0, sizeof *out);
    const char *method = NULL;
    unsigned seen = 0;
    p = skip_ws(p + 1, end);
    for (;;) {
        if (p >= end || *p != '"')
            return 0;
        const char *k = p + 1;
        size_t left = (size_t)(end - k);
        unsigned member;
        switch (*k) {
        case 'i':
            member = left >= 3 && k[1] == 'd' && k[2] == '"' ? SEEN_ID : 0;
            p = k + 3;
            break;
        case 'j':
            member = left >= 8 && memcmp(k, "jsonrpc\"", 8) == 0 ? SEEN_VERSION : 0;
            p = k + 8;
            break;
        case 'm':
            member = left >= 7 && memcmp(k, "method\"", 7) == 0 ? SEEN_METHOD : 0;
            p = k + 7;
            break;
        case 'p':
            member = left >= 7 && memcmp(k, "params\"", 7) == 0 ? SEEN_PARAMS : 0;
            p = k + 7;
            break;
        default:
            member = 0;
            break;
        }
        if (!member || (seen & member))
            return 0;
        seen |= member;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return 0;
        p = skip_ws(p + 1, end);
        if (p >= end)
            return 0;
        const char *value_end;
        switch (member) {
        case SEEN_VERSION:
            if ((size_t)(end - p) < 5 || memcmp(p, "\"2.0\"", 5) != 0)
                return 0;
            value_end = p + 5;
            break;
        case SEEN_ID:
            if (*p == '"') {
                const char *close = plain_string_end(p, end);
                if (!close)
                    return 0;
                value_end = close + 1;
                out->id.type = MCP_RPC_ID_STRING;
            } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
                if (!(value_end = integer_end(p, end, &out->id.num)))
                    return 0;
                out->id.type = MCP_RPC_ID_INT;
            } else {
                return 0;
            }
            out->id.text = (mcp_str){p, (size_t)(value_end - p)};
            break;
        case SEEN_METHOD: {
            const char *close = *p == '"' ? plain_string_end(p, end) : NULL;
            if (!close)
                return 0;
            method = p + 1;
            out->method_len = (size_t)(close - method);
            value_end = close + 1;
            break;
        }
        default: { /* SEEN_PARAMS */
            if (*p != '{' && *p != '[')
                return 0;
            mcp_json_opts sub = {.max_depth = max_depth - 1, .max_size = SIZE_MAX};
            size_t used;
            int rc = mcp_json_parse_prefix(arena, p, (size_t)(end - p), &sub, &out->params, &used, NULL);
            if (rc == MCP_ENOMEM)
                return MCP_ENOMEM;
            if (rc != 0)
                return 0;
            value_end = p + used;
            break;
        }
        }
        p = skip_ws(value_end, end);
        if (p >= end)
            return 0;
        if (*p == '}')
            break;
        if (*p != ',')
            return 0;
        p = skip_ws(p + 1, end);
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
