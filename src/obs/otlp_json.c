/*
 * OTLP/JSON encoding of a batch of spans: an ExportTraceServiceRequest as
 * the OTLP specification maps protobuf to JSON — trace and span ids as
 * lowercase hex (not base64), enums as integers, 64-bit integers (times in
 * unix nanoseconds, intValue) as decimal strings, field names in lowerCamelCase.
 *
 * Every traced request costs one encoded span on the exporter thread, which
 * shares the machine with the request path; with every request sampled this
 * is most of what tracing costs. So the encoder does not go through the
 * generic writer (comma and nesting state, a call per token): the constant
 * parts of a span are written as the literals they are, through one cursor
 * into room reserved once per span, ids sixteen hex digits a step, numbers
 * eight digits a step; a span whose text needs no escaping (checked once)
 * has its values copied as they are, and only strings that need it take
 * the escaping pass (mcp_json_escape, which also replaces invalid UTF-8),
 * attribute keys once per batch. About 4x fewer instructions per span
 * than the writer at first; about 550 for a request span now (from 1190).
 */
#include "obs_internal.h"

#include "mcp/json.h"

#include <float.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The longest run of unescaped output between two strings: an id pair,
 * parent id, flags, kind, two times and the keys around them. */
#define FIXED_ROOM 320

/* Attribute keys are literals repeated by every span of a batch: each
 * distinct key pointer is escaped once per batch and copied after that. */
#define KEY_SLOTS 64 /* the slot is 6 bits of a hash of the pointer */
#define KEY_TEXT 4096

typedef struct enc {
    mcp_buf *out;
    int status;
    struct {
        const char *key;
        uint16_t off, len;
    } keys[KEY_SLOTS];
    uint32_t key_text_used;
    char key_text[KEY_TEXT];
    /* The span's text when none of it needs escaping (checked once per
     * span): strings inside it are copied as they are. */
    uintptr_t plain_lo, plain_hi; /* 0, 0: none */
} enc;

/* Room for n more bytes of literal text; the writes below assume it. */
static inline bool room(enc *e, size_t n) {
    if (!e->status) e->status = mcp_buf_room(e->out, n);
    return !e->status;
}

static inline void put(enc *e, const char *s, size_t n) {
    memcpy(e->out->data + e->out->len, s, n);
    e->out->len += n;
}
#define PUT(e, literal) put((e), "" literal, sizeof(literal) - 1)

/* The span's fixed parts and its request attributes are written through a
 * local cursor into room reserved once for all of them: a length check and
 * a store of the buffer's length per token were a fifth of a span's cost.
 * at() starts a run of such writes, done() ends it. */
static inline char *at(enc *e) {
    return e->out->data + e->out->len;
}

static inline void done(enc *e, char *d) {
    e->out->len = (size_t)(d - e->out->data);
}

static inline char *lit(char *d, const char *s, size_t n) {
    memcpy(d, s, n);
    return d + n;
}
#define LIT(d, literal) lit((d), "" literal, sizeof(literal) - 1)

/* A string known to need no escaping, quoted. */
static inline char *quoted(char *d, const char *s, size_t n) {
    *d++ = '"';
    obs_copy_small(d, s, n);
    d += n;
    *d++ = '"';
    return d;
}

#if defined(__SSE2__)
/* 8 bytes into 16 lowercase hex digits: the ids are 32 bytes of every
 * span, and a table lookup per digit was an eighth of a span's encoding. */
static inline void hex8(const uint8_t *b, char *d) {
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)b);
    __m128i lo = _mm_and_si128(v, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(15));
    __m128i nib = _mm_unpacklo_epi8(hi, lo); /* high digit first */
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(nib, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
    _mm_storeu_si128((__m128i *)(void *)d, _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')), letter));
}
#endif

static inline char *hex_put(char *d, const uint8_t *b, size_t n) {
    static const char HEX[] = "0123456789abcdef";
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 8 <= n; i += 8) hex8(b + i, d + 2 * i);
#endif
    for (; i < n; i++) {
        d[2 * i] = HEX[b[i] >> 4];
        d[2 * i + 1] = HEX[b[i] & 15];
    }
    return d + 2 * n;
}

static const char PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            "8081828384858687888990919293949596979899";

/* Exactly 8 digits of v < 10^8, zeros in front, without a division
 * left at run time: v is cut into two 4-digit halves, one per 32-bit lane
 * of a word, each lane into two 2-digit quarters (16-bit lanes) and each
 * of those into two digits (bytes), every cut a multiply by a fixed-point
 * reciprocal that is exact over the lane's range (x * 10486 >> 20 is x /
 * 100 for x < 10^4, x * 103 >> 10 is x / 10 for x < 100), and no lane's
 * product reaches the next. Little-endian: the lowest lane is written
 * first, so it holds the leading digits. Every traced span has two
 * 19-digit times; digit pairs from a table took a quarter of its encoding. */
static inline void digits8(uint32_t v, char *d) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w = (uint64_t)(v / 10000) | (uint64_t)(v % 10000) << 32;
    uint64_t hundreds = ((w * 10486u) >> 20) & 0x0000007f0000007full;
    w = hundreds | (w - 100 * hundreds) << 16;
    uint64_t tens = ((w * 103u) >> 10) & 0x000f000f000f000full;
    w = tens | (w - 10 * tens) << 8;
    w += 0x3030303030303030ull;
    memcpy(d, &w, 8);
#else
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(d, PAIRS + 2 * (hi / 100), 2);
    memcpy(d + 2, PAIRS + 2 * (hi % 100), 2);
    memcpy(d + 4, PAIRS + 2 * (lo / 100), 2);
    memcpy(d + 6, PAIRS + 2 * (lo % 100), 2);
#endif
}

static inline char *u64_put(char *d, uint64_t v) {
    /* Cut into 8-digit groups (a 64-bit division each, by a constant) and
     * the rest two digits a step. */
    char tmp[24];
    size_t n = 0;
    while (v >= 100000000u) {
        n += 8;
        digits8((uint32_t)(v % 100000000u), tmp + sizeof tmp - n);
        v /= 100000000u;
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        n += 2;
        memcpy(tmp + sizeof tmp - n, PAIRS + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        n += 2;
        memcpy(tmp + sizeof tmp - n, PAIRS + 2 * w, 2);
    } else {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + w);
    }
    memcpy(d, tmp + sizeof tmp - n, n);
    return d + n;
}

/* Kind, flags and status: one digit, nearly always. */
static inline char *small_put(char *d, uint64_t v) {
    if (MCP_LIKELY(v < 10)) {
        *d = (char)('0' + v);
        return d + 1;
    }
    return u64_put(d, v);
}

/* A time in unix ns: 19 digits from 2001 to 2286, written as 3 + 8 + 8
 * with two divisions by a constant; anything else the general way. */
static inline char *time_put(char *d, uint64_t v) {
    if (MCP_UNLIKELY(v < 1000000000000000000ull || v >= 10000000000000000000ull)) return u64_put(d, v);
    uint64_t high = v / 100000000u, top = high / 100000000u;
    d[0] = (char)('0' + top / 100);
    memcpy(d + 1, PAIRS + 2 * (top % 100), 2);
    digits8((uint32_t)(high - top * 100000000u), d + 3);
    digits8((uint32_t)(v - high * 100000000u), d + 11);
    return d + 19;
}

/* Both times with their keys. A span shorter than 0.1 s most often ends
 * in the same 10^8 ns as it started: then the end's first 11 digits are
 * the start's. */
static inline char *times_put(char *d, uint64_t start, uint64_t end) {
    d = LIT(d, ",\"startTimeUnixNano\":\"");
    char *first = d;
    d = time_put(d, start);
    d = LIT(d, "\",\"endTimeUnixNano\":\"");
    uint64_t high = end / 100000000u;
    if (d - first == 19 + sizeof "\",\"endTimeUnixNano\":\"" - 1 && high == start / 100000000u) {
        memcpy(d, first, 11);
        digits8((uint32_t)(end - high * 100000000u), d + 11);
        d += 19;
    } else {
        d = time_put(d, end);
    }
    *d++ = '"';
    return d;
}

static inline void put_u64(enc *e, uint64_t v) {
    done(e, u64_put(at(e), v));
}

static inline void put_i64(enc *e, int64_t v) {
    if (v < 0) {
        PUT(e, "-");
        put_u64(e, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(e, (uint64_t)v);
    }
}

/* True when none of the 8 bytes needs escaping: no control character,
 * quote, backslash or non-ASCII byte. The zero-byte tests borrow across
 * bytes and may say "needs escaping" wrongly, never the other way; that
 * only sends a string to the general escaper. */
static inline bool plain8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t bad = w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return !(bad & high);
}

static inline bool plain4(uint32_t w) {
    const uint32_t ones = 0x01010101u, high = 0x80808080u;
    uint32_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint32_t bad = w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return !(bad & high);
}

static inline bool plain_byte(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A quoted, escaped string. Most values of a span are short ASCII with
 * nothing to escape (method, tool name, id, version, transport): those are
 * checked and copied here eight bytes a step, at a fraction of the general
 * escaper's set-up for its vector loop; anything else goes through it. The
 * bytes copied are exactly those it copies unchanged. */
#define SHORT_STR 32
static void str(enc *e, const char *s, size_t n) {
    if (e->status) return;
    if ((uintptr_t)s >= e->plain_lo && (uintptr_t)s + n <= e->plain_hi) {
        if (!room(e, n + 2)) return;
        char *d = e->out->data + e->out->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        e->out->len += n + 2;
        return;
    }
    if (n <= SHORT_STR && room(e, SHORT_STR + 2)) {
        char *d = e->out->data + e->out->len + 1;
        bool ok = true;
        if (n >= 8) {
            uint64_t w;
            size_t i = 0;
            for (; ok && i + 8 <= n; i += 8) {
                memcpy(&w, s + i, 8);
                ok = plain8(w);
                memcpy(d + i, &w, 8);
            }
            if (ok && i < n) { /* the tail as the last 8 bytes, overlapping */
                memcpy(&w, s + n - 8, 8);
                ok = plain8(w);
                memcpy(d + n - 8, &w, 8);
            }
        } else if (n >= 4) { /* first 4 and last 4, overlapping */
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            ok = plain4(a) && plain4(b);
            memcpy(d, &a, 4);
            memcpy(d + n - 4, &b, 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                ok &= plain_byte((unsigned char)s[i]);
                d[i] = s[i];
            }
        }
        if (ok) {
            d[-1] = '"';
            d[n] = '"';
            e->out->len += n + 2;
            return;
        }
    }
    if (!e->status) e->status = mcp_json_escape(e->out, s, n);
}

/* The escaped, quoted key, from the batch's cache when this pointer was
 * seen before. */
static void key(enc *e, const char *k) {
    unsigned slot = (unsigned)(((uint64_t)(uintptr_t)k * 0x9e3779b97f4a7c15ull) >> 58); /* 6 bits: KEY_SLOTS */
    if (e->keys[slot].key == k) {
        if (room(e, e->keys[slot].len)) put(e, e->key_text + e->keys[slot].off, e->keys[slot].len);
        return;
    }
    size_t before = e->out->len;
    str(e, k, strlen(k));
    size_t n = e->out->len - before;
    if (!e->status && n <= KEY_TEXT - e->key_text_used) {
        memcpy(e->key_text + e->key_text_used, e->out->data + before, n);
        e->keys[slot].key = k;
        e->keys[slot].off = (uint16_t)e->key_text_used;
        e->keys[slot].len = (uint16_t)n;
        e->key_text_used += (uint32_t)n;
    }
}

static void str_attr(enc *e, const char *k, const char *value, size_t len) {
    if (!room(e, 16)) return;
    PUT(e, "{\"key\":");
    key(e, k);
    if (!room(e, 32)) return;
    PUT(e, ",\"value\":{\"stringValue\":");
    str(e, value, len);
    if (room(e, 2)) PUT(e, "}}");
}

static void attr(enc *e, const mcp_span *s, const obs_attr *a) {
    if (a->type == OBS_ATTR_STR) {
        str_attr(e, a->key, s->text + a->v.off, a->len);
        return;
    }
    if (!room(e, 16)) return;
    PUT(e, "{\"key\":");
    key(e, a->key);
    if (!room(e, 64)) return;
    switch (a->type) {
    case OBS_ATTR_INT:
        PUT(e, ",\"value\":{\"intValue\":\"");
        put_i64(e, a->v.i);
        PUT(e, "\"}}");
        break;
    case OBS_ATTR_DOUBLE: {
        /* JSON has no NaN or infinity; the protobuf JSON mapping, which
         * OTLP/JSON follows, writes them as these strings (a null would be
         * read as 0). The writer owns the shortest round-trip form of the
         * rest. */
        if (a->v.d != a->v.d || a->v.d > DBL_MAX || a->v.d < -DBL_MAX) {
            if (a->v.d != a->v.d) PUT(e, ",\"value\":{\"doubleValue\":\"NaN\"}}");
            else if (a->v.d > 0) PUT(e, ",\"value\":{\"doubleValue\":\"Infinity\"}}");
            else PUT(e, ",\"value\":{\"doubleValue\":\"-Infinity\"}}");
            break;
        }
        PUT(e, ",\"value\":{\"doubleValue\":");
        mcp_json_writer w;
        mcp_json_writer_init(&w, e->out);
        mcp_json_write_double(&w, a->v.d);
        if (!e->status) e->status = mcp_json_writer_status(&w);
        if (room(e, 2)) PUT(e, "}}");
        break;
    }
    default:
        if (a->v.b) PUT(e, ",\"value\":{\"boolValue\":true}}");
        else PUT(e, ",\"value\":{\"boolValue\":false}}");
        break;
    }
}

/* An attribute whose key is a literal: the key and the JSON around it are
 * one constant copy, only the value is written. */
#define STR_HEAD(k) "{\"key\":\"" k "\",\"value\":{\"stringValue\":"
#define INT_HEAD(k) "{\"key\":\"" k "\",\"value\":{\"intValue\":\""

static inline void lit_str_attr(enc *e, const char *head, size_t head_len, const char *v, size_t n) {
    if (!room(e, head_len)) return;
    put(e, head, head_len);
    str(e, v, n);
    if (room(e, 2)) PUT(e, "}}");
}
#define LIT_STR(e, head, v, n) lit_str_attr((e), "" head, sizeof(head) - 1, (v), (n))

static inline void lit_int_attr(enc *e, const char *head, size_t head_len, uint64_t v) {
    if (!room(e, head_len + 24)) return;
    put(e, head, head_len);
    put_u64(e, v);
    PUT(e, "\"}}");
}
#define LIT_INT(e, head, v) lit_int_attr((e), "" head, sizeof(head) - 1, (v))

/* The MCP attributes of a request span (obs_req): the values lie end to
 * end in the text after the name, in field order. */
static void req_attrs(enc *e, const mcp_span *s) {
    const obs_req *r = &s->req;
    const char *t = s->text;
    uint32_t off = s->name_len;
    const char *v[OBS_REQ_FIELDS];
    for (unsigned i = 0; i < OBS_REQ_FIELDS; i++) {
        v[i] = r->present & (1u << i) ? t + off : NULL;
        off += r->present & (1u << i) ? r->len[i] : 0;
    }
    if (r->method_known && room(e, sizeof STR_HEAD("mcp.method.name") + SHORT_STR + 4)) {
        /* One of the observer's method names: nothing to escape. */
        PUT(e, STR_HEAD("mcp.method.name") "\"");
        put(e, t, r->method_len);
        PUT(e, "\"}}");
    } else {
        LIT_STR(e, STR_HEAD("mcp.method.name"), t, r->method_len);
    }
    if (v[OBS_REQ_ID]) LIT_STR(e, "," STR_HEAD("jsonrpc.request.id"), v[OBS_REQ_ID], r->len[OBS_REQ_ID]);
    if (r->target_given) {
        size_t n = s->name_len > r->method_len ? s->name_len - r->method_len - 1u : 0;
        const char *name = t + r->method_len + 1;
        if (r->target == OBS_TARGET_TOOL) {
            LIT_STR(e, "," STR_HEAD("gen_ai.tool.name"), name, n);
            static const char op[] = "," STR_HEAD("gen_ai.operation.name") "\"execute_tool\"}}";
            if (room(e, sizeof op)) put(e, op, sizeof op - 1);
        } else {
            LIT_STR(e, "," STR_HEAD("gen_ai.prompt.name"), name, n);
        }
    }
    if (v[OBS_REQ_RESOURCE_URI])
        LIT_STR(e, "," STR_HEAD("mcp.resource.uri"), v[OBS_REQ_RESOURCE_URI], r->len[OBS_REQ_RESOURCE_URI]);
    if (v[OBS_REQ_SESSION]) LIT_STR(e, "," STR_HEAD("mcp.session.id"), v[OBS_REQ_SESSION], r->len[OBS_REQ_SESSION]);
    if (v[OBS_REQ_VERSION])
        LIT_STR(e, "," STR_HEAD("mcp.protocol.version"), v[OBS_REQ_VERSION], r->len[OBS_REQ_VERSION]);
    if (v[OBS_REQ_TRANSPORT])
        LIT_STR(e, "," STR_HEAD("network.transport"), v[OBS_REQ_TRANSPORT], r->len[OBS_REQ_TRANSPORT]);
    if (v[OBS_REQ_PROTOCOL])
        LIT_STR(e, "," STR_HEAD("network.protocol.name"), v[OBS_REQ_PROTOCOL], r->len[OBS_REQ_PROTOCOL]);
    if (v[OBS_REQ_PEER]) {
        /* On a server span the socket's far end is also the client (the
         * MCP conventions recommend client.* there; we know of no proxy). */
        LIT_STR(e, "," STR_HEAD("network.peer.address"), v[OBS_REQ_PEER], r->len[OBS_REQ_PEER]);
        LIT_INT(e, "," INT_HEAD("network.peer.port"), r->peer_port);
        if (!r->client) {
            LIT_STR(e, "," STR_HEAD("client.address"), v[OBS_REQ_PEER], r->len[OBS_REQ_PEER]);
            LIT_INT(e, "," INT_HEAD("client.port"), r->peer_port);
        }
    }
}

/* True when none of t[0, n) needs escaping, eight bytes a step (the last
 * step overlapping), with the same test as the short-string path of str. */
static bool text_plain(const char *t, size_t n) {
#if defined(__SSE2__)
    /* A request span's text is 50 to 100 bytes: sixteen a step. */
    if (n >= 16) {
        __m128i bad = _mm_setzero_si128();
        for (size_t i = 0;; i += 16) {
            if (i + 16 > n) i = n - 16; /* the last step overlapping */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
            /* Signed: bytes from 0x80 up are below 0x20 with the controls. */
            bad = _mm_or_si128(bad, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
            bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
            if (i + 16 == n) break;
        }
        return !_mm_movemask_epi8(bad);
    }
#endif
    uint64_t w;
    if (n < 8) {
        bool ok = true;
        for (size_t i = 0; i < n; i++) ok &= plain_byte((unsigned char)t[i]);
        return ok;
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, t + i, 8);
        if (!plain8(w)) return false;
    }
    if (i < n) {
        memcpy(&w, t + n - 8, 8);
        if (!plain8(w)) return false;
    }
    return true;
}

/* The request attributes of a span whose text needs no escaping: every
 * value is a quoted copy, written with the keys around it in one run. */
#define REQ_ROOM                                                                                                     \
    (sizeof STR_HEAD("mcp.method.name") + sizeof "," STR_HEAD("jsonrpc.request.id") +                                \
     sizeof "," STR_HEAD("gen_ai.tool.name") + sizeof "," STR_HEAD("gen_ai.prompt.name") + sizeof OPERATION +         \
     sizeof "," STR_HEAD("mcp.resource.uri") + sizeof "," STR_HEAD("mcp.session.id") +                               \
     sizeof "," STR_HEAD("mcp.protocol.version") + sizeof "," STR_HEAD("network.transport") +                        \
     sizeof "," STR_HEAD("network.protocol.name") + sizeof "," STR_HEAD("network.peer.address") +                    \
     sizeof "," INT_HEAD("network.peer.port") + sizeof "," STR_HEAD("client.address") +                              \
     sizeof "," INT_HEAD("client.port") + 12 * 4 + 2 * 24)
#define OPERATION "," STR_HEAD("gen_ai.operation.name") "\"execute_tool\"}}"

static inline char *req_value(char *d, const char *head, size_t head_len, const char *v, size_t n) {
    d = lit(d, head, head_len);
    d = quoted(d, v, n);
    return LIT(d, "}}");
}
#define REQ_VALUE(d, head, v, n) req_value((d), "" head, sizeof(head) - 1, (v), (n))

static void req_attrs_plain(enc *e, const mcp_span *s) {
    const obs_req *r = &s->req;
    unsigned present = r->present;
    size_t peer_len = present & (1u << OBS_REQ_PEER) ? r->len[OBS_REQ_PEER] : 0;
    /* Values: the name's two parts, the packed values, the peer twice. */
    if (!room(e, REQ_ROOM + s->text_used + s->name_len + peer_len)) return;
    char *d = at(e);
    const char *t = s->text, *v = t + s->name_len;
    d = REQ_VALUE(d, STR_HEAD("mcp.method.name"), t, r->method_len);
    if (present & (1u << OBS_REQ_ID)) {
        d = REQ_VALUE(d, "," STR_HEAD("jsonrpc.request.id"), v, r->len[OBS_REQ_ID]);
        v += r->len[OBS_REQ_ID];
    }
    if (r->target_given) {
        size_t n = s->name_len > r->method_len ? s->name_len - r->method_len - 1u : 0;
        const char *name = t + r->method_len + 1;
        if (r->target == OBS_TARGET_TOOL) {
            d = REQ_VALUE(d, "," STR_HEAD("gen_ai.tool.name"), name, n);
            d = LIT(d, OPERATION);
        } else {
            d = REQ_VALUE(d, "," STR_HEAD("gen_ai.prompt.name"), name, n);
        }
    }
    if (present & (1u << OBS_REQ_RESOURCE_URI)) {
        d = REQ_VALUE(d, "," STR_HEAD("mcp.resource.uri"), v, r->len[OBS_REQ_RESOURCE_URI]);
        v += r->len[OBS_REQ_RESOURCE_URI];
    }
    if (present & (1u << OBS_REQ_SESSION)) {
        d = REQ_VALUE(d, "," STR_HEAD("mcp.session.id"), v, r->len[OBS_REQ_SESSION]);
        v += r->len[OBS_REQ_SESSION];
    }
    if (present & (1u << OBS_REQ_VERSION)) {
        d = REQ_VALUE(d, "," STR_HEAD("mcp.protocol.version"), v, r->len[OBS_REQ_VERSION]);
        v += r->len[OBS_REQ_VERSION];
    }
    if (present & (1u << OBS_REQ_TRANSPORT)) {
        d = REQ_VALUE(d, "," STR_HEAD("network.transport"), v, r->len[OBS_REQ_TRANSPORT]);
        v += r->len[OBS_REQ_TRANSPORT];
    }
    if (present & (1u << OBS_REQ_PROTOCOL)) {
        d = REQ_VALUE(d, "," STR_HEAD("network.protocol.name"), v, r->len[OBS_REQ_PROTOCOL]);
        v += r->len[OBS_REQ_PROTOCOL];
    }
    if (present & (1u << OBS_REQ_PEER)) {
        d = REQ_VALUE(d, "," STR_HEAD("network.peer.address"), v, peer_len);
        d = LIT(d, "," INT_HEAD("network.peer.port"));
        d = LIT(u64_put(d, r->peer_port), "\"}}");
        if (!r->client) {
            d = REQ_VALUE(d, "," STR_HEAD("client.address"), v, peer_len);
            d = LIT(d, "," INT_HEAD("client.port"));
            d = LIT(u64_put(d, r->peer_port), "\"}}");
        }
    }
    done(e, d);
}

static void span(enc *e, const mcp_span *s, bool first) {
    bool plain = text_plain(s->text, s->text_used);
    if (plain) {
        e->plain_lo = (uintptr_t)s->text;
        e->plain_hi = (uintptr_t)s->text + s->text_used;
    } else {
        e->plain_lo = e->plain_hi = 0;
    }
    /* The head: ids, flags, name, kind and times (with the name's copy
     * when it needs no escaping). */
    if (!room(e, FIXED_ROOM + s->name_len)) return;
    char *d = at(e);
    if (!first) *d++ = ',';
    d = LIT(d, "{\"traceId\":\"");
    d = hex_put(d, s->ctx.trace_id, 16);
    d = LIT(d, "\",\"spanId\":\"");
    d = hex_put(d, s->ctx.span_id, 8);
    *d++ = '"';
    if (MCP_UNLIKELY(s->ctx.tracestate[0])) {
        d = LIT(d, ",\"traceState\":");
        done(e, d);
        str(e, s->ctx.tracestate, strlen(s->ctx.tracestate));
        if (!room(e, FIXED_ROOM + s->name_len)) return;
        d = at(e);
    }
    if (s->has_parent) {
        d = LIT(d, ",\"parentSpanId\":\"");
        d = hex_put(d, s->parent_span_id, 8);
        *d++ = '"';
    }
    d = LIT(d, ",\"flags\":");
    d = small_put(d, s->ctx.flags);
    d = LIT(d, ",\"name\":");
    if (plain) {
        d = quoted(d, s->text, s->name_len);
    } else {
        done(e, d);
        str(e, s->text, s->name_len);
        if (!room(e, FIXED_ROOM)) return;
        d = at(e);
    }
    d = LIT(d, ",\"kind\":");
    d = small_put(d, s->kind);
    d = times_put(d, s->start_unix_ns, s->end_unix_ns);
    d = LIT(d, ",\"attributes\":[");
    done(e, d);
    if (s->req.on) {
        if (plain) req_attrs_plain(e, s);
        else req_attrs(e, s);
    }
    for (unsigned i = 0; i < s->attr_count; i++) {
        if ((i || s->req.on) && room(e, 1)) PUT(e, ",");
        attr(e, s, &s->attrs[i]);
    }
    /* The tail: dropped count and status. */
    if (!room(e, FIXED_ROOM)) return;
    d = at(e);
    *d++ = ']';
    if (s->dropped_attrs) {
        d = LIT(d, ",\"droppedAttributesCount\":");
        d = u64_put(d, s->dropped_attrs);
    }
    d = LIT(d, ",\"status\":{");
    if (s->status_len) {
        d = LIT(d, "\"message\":");
        done(e, d);
        str(e, s->text + s->status_off, s->status_len);
        if (!room(e, FIXED_ROOM)) return;
        d = at(e);
        *d++ = ',';
    }
    d = LIT(d, "\"code\":");
    d = small_put(d, s->status);
    d = LIT(d, "}}");
    done(e, d);
}

int obs_otlp_encode(mcp_buf *out, const mcp_tracer_opts *opts, mcp_span *const *spans, size_t n) {
    enc e;
    e.out = out;
    e.status = MCP_OK;
    e.key_text_used = 0;
    e.plain_lo = e.plain_hi = 0;
    memset(e.keys, 0, sizeof e.keys);
    if (!room(&e, 64)) return e.status;
    PUT(&e, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    str_attr(&e, "service.name", opts->service_name, strlen(opts->service_name));
    if (room(&e, 1)) PUT(&e, ",");
    str_attr(&e, "service.version", opts->service_version, strlen(opts->service_version));
    if (opts->service_instance_id) {
        if (room(&e, 1)) PUT(&e, ",");
        str_attr(&e, "service.instance.id", opts->service_instance_id, strlen(opts->service_instance_id));
    }
    for (size_t i = 0; i < opts->resource_attribute_count; i++) {
        const mcp_resource_attribute *a = &opts->resource_attributes[i];
        if (room(&e, 1)) PUT(&e, ",");
        str_attr(&e, a->key, a->value, strlen(a->value));
    }
    static const char sdk[] = ",{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"libmcp\"}},"
                              "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}},"
                              "{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"" MCP_VERSION_STRING "\"}}]},"
                              "\"scopeSpans\":[{\"scope\":{\"name\":\"libmcp\",\"version\":\"" MCP_VERSION_STRING
                              "\"},\"spans\":[";
    if (!room(&e, sizeof sdk)) return e.status;
    put(&e, sdk, sizeof sdk - 1);
    for (size_t i = 0; i < n; i++) span(&e, spans[i], i == 0);
    if (room(&e, 16)) PUT(&e, "]}]}]}");
    return e.status;
}
