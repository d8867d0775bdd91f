/*
 * OTLP/protobuf encoding of a batch of spans: the ExportTraceServiceRequest
 * of opentelemetry-proto (collector/trace/v1) in the protobuf wire format,
 * the body of an OTLP/HTTP export with Content-Type application/x-protobuf.
 *
 * It carries what the JSON encoder (otlp_json.c) writes, field for field,
 * from the same span records: ids as raw bytes, times as fixed64, kinds and
 * status codes as varints, doubles as their IEEE bits (so NaN and the
 * infinities need no spelling), and the packed request attributes (obs_req)
 * with their keys as constants of this file. Strings go out as UTF-8 with
 * every byte that is not valid UTF-8 replaced by U+FFFD, as the JSON writer
 * replaces it: protobuf parsers may refuse a string field that is not
 * UTF-8, and the two encodings must tell a collector the same thing. (One
 * difference is deliberate: a double of negative zero keeps its sign here,
 * where the JSON writer writes 0, as JSON readers disagree on -0.)
 *
 * Nothing here is escaped or printed in decimal, which is where the JSON
 * encoder spends its instructions; a request span is mostly its values
 * copied behind a few bytes of tags and lengths. Measured on batches of
 * 512 (callgrind): a tools/call request span is about 440 instructions and
 * 280 bytes here against 600 and 650 in JSON; a span of three generic
 * string attributes about 460 and 160 against 980 and 415.
 */
#include "obs_internal.h"

/* mcp_json_utf8_seq: one judge of what is valid UTF-8 for both encodings. */
#include "mcp/json.h"

#include <stddef.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Tags: field number << 3 | wire type (0 varint, 1 fixed64, 2 length-
 * delimited, 5 fixed32), as opentelemetry-proto numbers the fields. */
enum {
    TAG_REQUEST_RESOURCE_SPANS = 1 << 3 | 2,  /* ExportTraceServiceRequest */
    TAG_RESOURCE_SPANS_RESOURCE = 1 << 3 | 2, /* ResourceSpans */
    TAG_RESOURCE_SPANS_SCOPE_SPANS = 2 << 3 | 2,
    TAG_RESOURCE_ATTRIBUTES = 1 << 3 | 2,     /* Resource */
    TAG_SCOPE_SPANS_SCOPE = 1 << 3 | 2,       /* ScopeSpans */
    TAG_SCOPE_SPANS_SPANS = 2 << 3 | 2,
    TAG_SCOPE_NAME = 1 << 3 | 2,              /* InstrumentationScope */
    TAG_SCOPE_VERSION = 2 << 3 | 2,
    TAG_SPAN_TRACE_ID = 1 << 3 | 2,           /* Span */
    TAG_SPAN_SPAN_ID = 2 << 3 | 2,
    TAG_SPAN_TRACE_STATE = 3 << 3 | 2,
    TAG_SPAN_PARENT_SPAN_ID = 4 << 3 | 2,
    TAG_SPAN_NAME = 5 << 3 | 2,
    TAG_SPAN_KIND = 6 << 3 | 0,
    TAG_SPAN_START_TIME = 7 << 3 | 1,
    TAG_SPAN_END_TIME = 8 << 3 | 1,
    TAG_SPAN_ATTRIBUTES = 9 << 3 | 2,
    TAG_SPAN_DROPPED_ATTRIBUTES = 10 << 3 | 0,
    TAG_SPAN_STATUS = 15 << 3 | 2,
    TAG_SPAN_FLAGS = 16 << 3 | 5,             /* a two-byte varint */
    TAG_STATUS_MESSAGE = 2 << 3 | 2,          /* Status */
    TAG_STATUS_CODE = 3 << 3 | 0,
    TAG_KEY_VALUE_KEY = 1 << 3 | 2,           /* KeyValue */
    TAG_KEY_VALUE_VALUE = 2 << 3 | 2,
    TAG_ANY_STRING = 1 << 3 | 2,              /* AnyValue */
    TAG_ANY_BOOL = 2 << 3 | 0,
    TAG_ANY_INT = 3 << 3 | 0,
    TAG_ANY_DOUBLE = 4 << 3 | 1,
};

/* Every length-delimited field needs its length before its bytes. A
 * KeyValue's and its AnyValue's follow from the key's and the value's
 * lengths, so they are computed first. A span's depends on every one of
 * its attributes: computing it first would walk them twice, measuring
 * every key twice, so the span is written behind a slot of SPAN_SLOT
 * bytes, the varint of a span of 128 to 16383 bytes (request spans and
 * most others), and the rare span of another size is moved by a byte or
 * three once written. The request's two outer messages hold the whole
 * batch: their heads go into a gap left in front of it, sized for a batch
 * of 16 KiB to 2 MiB (a full batch of request spans is a few hundred KiB),
 * and written once the batch's length is known; a batch of another size
 * is moved once to fit its head. */
#define SPAN_SLOT 2
#define BATCH_SLOT 3
#define VARINT_MAX 10

/* Room before a span's attributes: tag and slot, ids, kind, times, and the
 * tags and lengths around the tracestate and the name. */
#define SPAN_HEAD_ROOM (1 + SPAN_SLOT + 18 + 10 + 10 + 2 + 11 + 18 + 2 * (1 + VARINT_MAX))
/* After them: dropped count, status (its message aside), flags. */
#define SPAN_TAIL_ROOM (1 + VARINT_MAX + 1 + VARINT_MAX + 1 + VARINT_MAX + 2 + 2 + 4 + 3)

#define KEY_SLOTS 64 /* the slot is 6 bits of a hash of the key's pointer */

typedef struct enc {
    mcp_buf *out;
    int status;
    /* Attribute keys are literals repeated by every span of a batch: each
     * distinct pointer is measured (strlen and UTF-8) once per batch. */
    struct {
        const char *key;
        uint32_t len, clean;
    } keys[KEY_SLOTS];
} enc;

/* Room for n more bytes; the writes below assume it. */
static inline bool room(enc *e, size_t n) {
    if (!e->status) e->status = mcp_buf_room(e->out, n);
    return !e->status;
}

static inline char *at(enc *e) {
    return e->out->data + e->out->len;
}

static inline void done(enc *e, char *d) {
    e->out->len = (size_t)(d - e->out->data);
}

/* Most lengths of a span are under 128: one compare for those, where the
 * general count (a bit scan and a division) was a fifth of a span's cost. */
static inline size_t varint_len(uint64_t v) {
    if (MCP_LIKELY(v < 0x80)) return 1;
    return 1 + (size_t)(63 - __builtin_clzll(v)) / 7;
}

static inline char *varint_put(char *d, uint64_t v) {
    if (MCP_LIKELY(v < 0x80)) {
        *d = (char)v;
        return d + 1;
    }
    while (v >= 0x80) {
        *d++ = (char)(v | 0x80);
        v >>= 7;
    }
    *d++ = (char)v;
    return d;
}

/* Little-endian whatever the host: the wire's order for fixed fields. */
static inline char *fixed64_put(char *d, uint64_t v) {
    for (int i = 0; i < 8; i++) d[i] = (char)(v >> (8 * i));
    return d + 8;
}

/* True when s[0, n) is ASCII: then every slice of it is valid UTF-8. A
 * slice of text that is valid as a whole need not be (a value may end
 * inside a sequence the next one finishes), so only ASCII vouches for the
 * values of a span at once. */
static bool ascii_only(const char *s, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        __m128i acc = _mm_setzero_si128();
        for (;; i += 16) {
            if (i + 16 > n) i = n - 16; /* the last step overlapping */
            acc = _mm_or_si128(acc, _mm_loadu_si128((const __m128i *)(const void *)(s + i)));
            if (i + 16 == n) break;
        }
        return !_mm_movemask_epi8(acc);
    }
#endif
    unsigned char any = 0;
    for (; i < n; i++) any |= (unsigned char)s[i];
    return any < 0x80;
}

/* The length of s[0, n) once every byte that is not part of a valid UTF-8
 * sequence is replaced by U+FFFD (three bytes): n exactly when s is valid. */
static size_t clean_len(const char *s, size_t n) {
    if (ascii_only(s, n)) return n;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t grown = 0;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = mcp_json_utf8_seq(p, end);
        if (k) {
            p += k;
        } else {
            grown += 2;
            p++;
        }
    }
    return n + grown;
}

/* s[0, n) with the replacements clean_len counted; clean is its result. */
static inline char *text_put(char *d, const char *s, size_t n, size_t clean) {
    if (MCP_LIKELY(clean == n)) {
        obs_copy_small(d, s, n);
        return d + n;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k = *p < 0x80 ? 1 : mcp_json_utf8_seq(p, end);
        if (k) {
            memcpy(d, p, k);
            d += k;
            p += k;
        } else {
            memcpy(d, "\xEF\xBF\xBD", 3);
            d += 3;
            p++;
        }
    }
    return d;
}

/* A string field: tag, length, text. */
static inline char *str_field(char *d, unsigned tag, const char *s, size_t n, size_t clean) {
    *d++ = (char)tag;
    d = varint_put(d, clean);
    return text_put(d, s, n, clean);
}

/* A KeyValue up to its AnyValue's bytes, given their length: the field's
 * tag (resource or span attributes) and every length in front. */
static inline char *kv_head(char *d, unsigned tag, const char *k, size_t kn, size_t kclean, size_t any) {
    size_t kv = 1 + varint_len(kclean) + kclean + 1 + varint_len(any) + any;
    *d++ = (char)tag;
    d = varint_put(d, kv);
    d = str_field(d, TAG_KEY_VALUE_KEY, k, kn, kclean);
    *d++ = (char)TAG_KEY_VALUE_VALUE;
    return varint_put(d, any);
}

/* Room a KeyValue with key and value of these (cleaned) lengths may take. */
#define KV_ROOM(kclean, vclean) (3 + 3 * VARINT_MAX + 1 + (kclean) + (vclean) + 1 + VARINT_MAX)

/* A string KeyValue. When every length of it fits a byte, as nearly every
 * request value's does, it is straight stores around a copy of the key
 * and one of the value. Inlined at every call, so that a literal key's
 * length is a constant and its copy a few moves (a call to memcpy per key
 * was a third of a request span's cost). */
static inline __attribute__((always_inline)) char *kv_str(char *d, unsigned tag, const char *k, size_t kn,
                                                          size_t kclean, const char *v, size_t vn, size_t vclean) {
    if (MCP_LIKELY(kclean == kn && vclean == vn && kn + vn + 6 < 0x80)) {
        d[0] = (char)tag;
        d[1] = (char)(kn + vn + 6); /* key field, value field, the AnyValue's string field */
        d[2] = (char)TAG_KEY_VALUE_KEY;
        d[3] = (char)kn;
        obs_copy_small(d + 4, k, kn);
        d += 4 + kn;
        d[0] = (char)TAG_KEY_VALUE_VALUE;
        d[1] = (char)(vn + 2);
        d[2] = (char)TAG_ANY_STRING;
        d[3] = (char)vn;
        obs_copy_small(d + 4, v, vn);
        return d + 4 + vn;
    }
    d = kv_head(d, tag, k, kn, kclean, 1 + varint_len(vclean) + vclean);
    return str_field(d, TAG_ANY_STRING, v, vn, vclean);
}

static inline char *kv_int(char *d, unsigned tag, const char *k, size_t kn, size_t kclean, int64_t v) {
    d = kv_head(d, tag, k, kn, kclean, 1 + varint_len((uint64_t)v));
    *d++ = (char)TAG_ANY_INT;
    return varint_put(d, (uint64_t)v);
}

/* A span attribute whose key is an ASCII literal. */
#define LIT_STR(d, key, v, n, clean)                                                                                \
    kv_str((d), TAG_SPAN_ATTRIBUTES, "" key, sizeof(key) - 1, sizeof(key) - 1, (v), (n), (clean))
#define LIT_INT(d, key, v) kv_int((d), TAG_SPAN_ATTRIBUTES, "" key, sizeof(key) - 1, sizeof(key) - 1, (v))

/* The request attributes' keys, for the room they need. */
#define REQ_KEYS                                                                                                     \
    (sizeof "mcp.method.name" + sizeof "jsonrpc.request.id" + sizeof "gen_ai.tool.name" +                            \
     sizeof "gen_ai.operation.name" + sizeof "execute_tool" + sizeof "gen_ai.prompt.name" +                           \
     sizeof "mcp.resource.uri" + sizeof "mcp.session.id" + sizeof "mcp.protocol.version" +                           \
     sizeof "network.transport" + sizeof "network.protocol.name" + sizeof "network.peer.address" +                   \
     sizeof "network.peer.port" + sizeof "client.address" + sizeof "client.port")
#define REQ_ROOM (REQ_KEYS + 14 * KV_ROOM(0, 0))

/* The MCP attributes of a request span (obs_req): the values lie end to
 * end in the text after the name, in field order. ascii: the span's whole
 * text is ASCII, so no value needs measuring. */
static void req_attrs(enc *e, const mcp_span *s, bool ascii) {
    const obs_req *r = &s->req;
    const char *t = s->text;
    size_t peer_len = r->present & (1u << OBS_REQ_PEER) ? r->len[OBS_REQ_PEER] : 0;
    /* The name's two parts, the packed values, the peer twice; three
     * bytes out per byte in at worst (U+FFFD for each). */
    size_t values = s->text_used + s->name_len + peer_len;
    if (!room(e, REQ_ROOM + (ascii ? values : 3 * values))) return;
    char *d = at(e);
    d = LIT_STR(d, "mcp.method.name", t, r->method_len, ascii ? r->method_len : clean_len(t, r->method_len));
    const char *v = t + s->name_len;
    if (r->present & (1u << OBS_REQ_ID)) {
        size_t n = r->len[OBS_REQ_ID];
        d = LIT_STR(d, "jsonrpc.request.id", v, n, ascii ? n : clean_len(v, n));
        v += n;
    }
    if (r->target_given) {
        size_t n = s->name_len > r->method_len ? s->name_len - r->method_len - 1u : 0;
        const char *name = t + r->method_len + 1;
        size_t clean = ascii ? n : clean_len(name, n);
        if (r->target == OBS_TARGET_TOOL) {
            d = LIT_STR(d, "gen_ai.tool.name", name, n, clean);
            d = LIT_STR(d, "gen_ai.operation.name", "execute_tool", 12, 12);
        } else {
            d = LIT_STR(d, "gen_ai.prompt.name", name, n, clean);
        }
    }
    /* The packed fields after the id, in obs_req_field order; one line
     * each, so that each key's length is a constant. */
#define PACKED(field, key)                                                                                           \
    if (r->present & (1u << (field))) {                                                                              \
        size_t n = r->len[field];                                                                                    \
        d = LIT_STR(d, key, v, n, ascii ? n : clean_len(v, n));                                                      \
        v += n;                                                                                                      \
    }
    PACKED(OBS_REQ_RESOURCE_URI, "mcp.resource.uri")
    PACKED(OBS_REQ_SESSION, "mcp.session.id")
    PACKED(OBS_REQ_VERSION, "mcp.protocol.version")
    PACKED(OBS_REQ_TRANSPORT, "network.transport")
    PACKED(OBS_REQ_PROTOCOL, "network.protocol.name")
#undef PACKED
    if (r->present & (1u << OBS_REQ_PEER)) {
        /* On a server span the socket's far end is also the client, as
         * the JSON encoder says it. */
        size_t clean = ascii ? peer_len : clean_len(v, peer_len);
        d = LIT_STR(d, "network.peer.address", v, peer_len, clean);
        d = LIT_INT(d, "network.peer.port", r->peer_port);
        if (!r->client) {
            d = LIT_STR(d, "client.address", v, peer_len, clean);
            d = LIT_INT(d, "client.port", r->peer_port);
        }
    }
    done(e, d);
}

/* The key's length and cleaned length, from the batch's cache when this
 * pointer was seen before. */
static void key_measure(enc *e, const char *k, size_t *len, size_t *clean) {
    unsigned slot = (unsigned)(((uint64_t)(uintptr_t)k * 0x9e3779b97f4a7c15ull) >> 58); /* 6 bits: KEY_SLOTS */
    if (e->keys[slot].key == k) {
        *len = e->keys[slot].len;
        *clean = e->keys[slot].clean;
        return;
    }
    *len = strlen(k);
    *clean = clean_len(k, *len);
    if (*clean <= UINT32_MAX) {
        e->keys[slot].key = k;
        e->keys[slot].len = (uint32_t)*len;
        e->keys[slot].clean = (uint32_t)*clean;
    }
}

static void attr(enc *e, const mcp_span *s, const obs_attr *a, bool ascii) {
    size_t kn, kclean;
    key_measure(e, a->key, &kn, &kclean);
    if (a->type == OBS_ATTR_STR) {
        const char *v = s->text + a->v.off;
        size_t clean = ascii ? a->len : clean_len(v, a->len);
        if (!room(e, KV_ROOM(kclean, clean))) return;
        done(e, kv_str(at(e), TAG_SPAN_ATTRIBUTES, a->key, kn, kclean, v, a->len, clean));
        return;
    }
    if (!room(e, KV_ROOM(kclean, 0))) return;
    char *d = at(e);
    switch (a->type) {
    case OBS_ATTR_INT:
        d = kv_int(d, TAG_SPAN_ATTRIBUTES, a->key, kn, kclean, a->v.i);
        break;
    case OBS_ATTR_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &a->v.d, sizeof bits);
        d = kv_head(d, TAG_SPAN_ATTRIBUTES, a->key, kn, kclean, 9);
        *d++ = (char)TAG_ANY_DOUBLE;
        d = fixed64_put(d, bits);
        break;
    }
    default:
        /* A oneof member is written even when it holds its type's zero:
         * that is what says which member is set. */
        d = kv_head(d, TAG_SPAN_ATTRIBUTES, a->key, kn, kclean, 2);
        *d++ = (char)TAG_ANY_BOOL;
        *d++ = (char)a->v.b;
        break;
    }
    done(e, d);
}

/* Close the span whose tag is at start: its length into the slot, the
 * body moved when the length needs another width. */
static void span_close(enc *e, size_t start) {
    size_t body = e->out->len - start - 1 - SPAN_SLOT;
    size_t width = varint_len(body);
    if (MCP_UNLIKELY(width != SPAN_SLOT)) {
        if (width > SPAN_SLOT && !room(e, width - SPAN_SLOT)) return;
        char *from = e->out->data + start + 1 + SPAN_SLOT;
        memmove(from + ((ptrdiff_t)width - SPAN_SLOT), from, body);
        e->out->len = start + 1 + width + body;
        varint_put(e->out->data + start + 1, body);
        return;
    }
    unsigned char *slot = (unsigned char *)e->out->data + start + 1;
    slot[0] = (unsigned char)(body | 0x80);
    slot[1] = (unsigned char)(body >> 7);
}

static void span(enc *e, const mcp_span *s) {
    bool ascii = ascii_only(s->text, s->text_used);
    size_t ts_len = s->ctx.tracestate[0] ? strlen(s->ctx.tracestate) : 0;
    size_t ts_clean = ts_len ? clean_len(s->ctx.tracestate, ts_len) : 0;
    size_t name_clean = ascii ? s->name_len : clean_len(s->text, s->name_len);
    if (!room(e, SPAN_HEAD_ROOM + ts_clean + name_clean)) return;
    size_t start = e->out->len;
    char *d = at(e);
    *d = (char)TAG_SCOPE_SPANS_SPANS;
    d += 1 + SPAN_SLOT;
    *d++ = (char)TAG_SPAN_TRACE_ID;
    *d++ = 16;
    memcpy(d, s->ctx.trace_id, 16);
    d += 16;
    *d++ = (char)TAG_SPAN_SPAN_ID;
    *d++ = 8;
    memcpy(d, s->ctx.span_id, 8);
    d += 8;
    if (MCP_UNLIKELY(ts_len)) d = str_field(d, TAG_SPAN_TRACE_STATE, s->ctx.tracestate, ts_len, ts_clean);
    if (s->has_parent) {
        *d++ = (char)TAG_SPAN_PARENT_SPAN_ID;
        *d++ = 8;
        memcpy(d, s->parent_span_id, 8);
        d += 8;
    }
    d = str_field(d, TAG_SPAN_NAME, s->text, s->name_len, name_clean);
    if (s->kind) {
        *d++ = (char)TAG_SPAN_KIND;
        d = varint_put(d, s->kind);
    }
    *d++ = (char)TAG_SPAN_START_TIME;
    d = fixed64_put(d, s->start_unix_ns);
    *d++ = (char)TAG_SPAN_END_TIME;
    d = fixed64_put(d, s->end_unix_ns);
    done(e, d);
    if (s->req.on) req_attrs(e, s, ascii);
    for (unsigned i = 0; i < s->attr_count; i++) attr(e, s, &s->attrs[i], ascii);
    size_t msg_clean = 0;
    if (s->status_len) {
        const char *m = s->text + s->status_off;
        msg_clean = ascii ? s->status_len : clean_len(m, s->status_len);
    }
    if (!room(e, SPAN_TAIL_ROOM + msg_clean)) return;
    d = at(e);
    if (s->dropped_attrs) {
        *d++ = (char)TAG_SPAN_DROPPED_ATTRIBUTES;
        d = varint_put(d, s->dropped_attrs);
    }
    if (s->status || s->status_len) {
        size_t status = (s->status_len ? 1 + varint_len(msg_clean) + msg_clean : 0) + (s->status ? 2 : 0);
        *d++ = (char)TAG_SPAN_STATUS;
        d = varint_put(d, status);
        if (s->status_len) d = str_field(d, TAG_STATUS_MESSAGE, s->text + s->status_off, s->status_len, msg_clean);
        if (s->status) {
            *d++ = (char)TAG_STATUS_CODE;
            *d++ = (char)s->status;
        }
    }
    if (s->ctx.flags) {
        /* TAG_SPAN_FLAGS as a varint, then the fixed32. */
        *d++ = (char)(TAG_SPAN_FLAGS | 0x80);
        *d++ = (char)(TAG_SPAN_FLAGS >> 7);
        *d++ = (char)s->ctx.flags;
        *d++ = 0;
        *d++ = 0;
        *d++ = 0;
    }
    done(e, d);
    span_close(e, start);
}

/* The resource and the scope: the same attributes as the JSON encoder's,
 * measured before the batch so that the gap in front of it is known. */
typedef struct head {
    const char *text[6];
    size_t len[6], clean[6];
    size_t count;
    size_t resource; /* Resource message length */
    size_t scope;    /* InstrumentationScope message length */
    const mcp_resource_attribute *extra; /* the options' further attributes, after the six */
    size_t extra_count;
} head;

/* Bytes of a string KeyValue in the resource, its tag and length included. */
static size_t head_kv_size(size_t kclean, size_t vclean) {
    size_t any = 1 + varint_len(vclean) + vclean;
    size_t kv = 1 + varint_len(kclean) + kclean + 1 + varint_len(any) + any;
    return 1 + varint_len(kv) + kv;
}

static const char *const HEAD_KEYS[6] = {"service.name", "service.version", "service.instance.id",
                                         "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version"};

static void head_measure(head *h, const mcp_tracer_opts *opts) {
    const char *values[6] = {opts->service_name, opts->service_version, opts->service_instance_id,
                             "libmcp", "c", MCP_VERSION_STRING};
    h->count = 0;
    h->resource = 0;
    for (size_t i = 0; i < 6; i++) {
        if (!values[i]) {
            h->text[i] = NULL;
            continue;
        }
        h->text[i] = values[i];
        h->len[i] = strlen(values[i]);
        h->clean[i] = clean_len(values[i], h->len[i]);
        h->resource += head_kv_size(strlen(HEAD_KEYS[i]), h->clean[i]);
        h->count++;
    }
    /* Cleaned lengths are measured again when written: the resource is
     * once per batch, and this keeps head a fixed size. */
    h->extra = opts->resource_attributes;
    h->extra_count = opts->resource_attribute_count;
    for (size_t i = 0; i < h->extra_count; i++) {
        const mcp_resource_attribute *a = &h->extra[i];
        size_t kn = strlen(a->key), vn = strlen(a->value);
        h->resource += head_kv_size(clean_len(a->key, kn), clean_len(a->value, vn));
    }
    size_t name = sizeof "libmcp" - 1, version = sizeof MCP_VERSION_STRING - 1;
    h->scope = 1 + varint_len(name) + name + 1 + varint_len(version) + version;
}

/* Bytes of the request in front of the spans, for a batch of body bytes. */
static size_t head_size(const head *h, size_t body, size_t *scope_spans, size_t *resource_spans) {
    *scope_spans = 1 + varint_len(h->scope) + h->scope + body;
    *resource_spans = 1 + varint_len(h->resource) + h->resource + 1 + varint_len(*scope_spans) + *scope_spans;
    return 1 + varint_len(*resource_spans) + *resource_spans - body;
}

static void head_put(char *d, const head *h, size_t scope_spans, size_t resource_spans) {
    *d++ = (char)TAG_REQUEST_RESOURCE_SPANS;
    d = varint_put(d, resource_spans);
    *d++ = (char)TAG_RESOURCE_SPANS_RESOURCE;
    d = varint_put(d, h->resource);
    /* The service's keys, the options' further ones, the SDK's: the JSON
     * encoder's order. */
    for (size_t i = 0; i < 6; i++) {
        if (i == 3) {
            for (size_t x = 0; x < h->extra_count; x++) {
                const mcp_resource_attribute *a = &h->extra[x];
                size_t kn = strlen(a->key), vn = strlen(a->value);
                d = kv_str(d, TAG_RESOURCE_ATTRIBUTES, a->key, kn, clean_len(a->key, kn), a->value, vn,
                           clean_len(a->value, vn));
            }
        }
        if (!h->text[i]) continue;
        size_t k = strlen(HEAD_KEYS[i]);
        d = kv_str(d, TAG_RESOURCE_ATTRIBUTES, HEAD_KEYS[i], k, k, h->text[i], h->len[i], h->clean[i]);
    }
    *d++ = (char)TAG_RESOURCE_SPANS_SCOPE_SPANS;
    d = varint_put(d, scope_spans);
    *d++ = (char)TAG_SCOPE_SPANS_SCOPE;
    d = varint_put(d, h->scope);
    d = str_field(d, TAG_SCOPE_NAME, "libmcp", sizeof "libmcp" - 1, sizeof "libmcp" - 1);
    str_field(d, TAG_SCOPE_VERSION, MCP_VERSION_STRING, sizeof MCP_VERSION_STRING - 1, sizeof MCP_VERSION_STRING - 1);
}

int obs_otlp_encode_proto(mcp_buf *out, const mcp_tracer_opts *opts, mcp_span *const *spans, size_t n) {
    enc e;
    e.out = out;
    e.status = MCP_OK;
    memset(e.keys, 0, sizeof e.keys);
    head h;
    head_measure(&h, opts);
    size_t start = out->len, scope_spans, resource_spans;
    /* The gap: the head of a batch whose lengths take BATCH_SLOT bytes. */
    size_t gap = head_size(&h, (size_t)1 << (7 * (BATCH_SLOT - 1)), &scope_spans, &resource_spans);
    if (!room(&e, gap)) return e.status;
    out->len += gap;
    for (size_t i = 0; i < n && !e.status; i++) span(&e, spans[i]);
    if (e.status) {
        out->len = start;
        return e.status;
    }
    size_t body = out->len - start - gap;
    size_t head_len = head_size(&h, body, &scope_spans, &resource_spans);
    if (MCP_UNLIKELY(head_len != gap)) {
        if (head_len > gap && !room(&e, head_len - gap)) {
            out->len = start;
            return e.status;
        }
        memmove(out->data + start + head_len, out->data + start + gap, body);
    }
    head_put(out->data + start, &h, scope_spans, resource_spans);
    out->len = start + head_len + body;
    return MCP_OK;
}
