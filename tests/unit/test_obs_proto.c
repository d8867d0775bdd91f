/*
 * The OTLP/protobuf span encoder held to the wire format and to the JSON
 * encoder: its bytes are read back by a small protobuf walker written here
 * (tags, varints, fixed fields, lengths that must land exactly on their
 * message's end), every field of every span checked, and for each span
 * shape the JSON tests cover, the same spans encoded both ways must say
 * the same thing, field by field. Then through the exporter to a loopback
 * receiver: the Content-Type and the span count.
 */
#include "mcp/json.h"
#include "mcp/obs.h"
#include "obs/obs_internal.h"
#include "obs/otlp_receiver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TP "00-0123456789abcdeffedcba9876543210-a0b1c2d3e4f56789-01"

/* ---- a protobuf walker ------------------------------------------------------------------ */

typedef struct field {
    uint32_t number;
    uint8_t wire;          /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t value;        /* varint and fixed */
    const uint8_t *data;   /* length-delimited */
    size_t len;
} field;

static bool varint_read(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The next field of the message [*p, end); false at its end. A malformed
 * message fails the test. */
static bool field_next(const uint8_t **p, const uint8_t *end, field *f) {
    if (*p == end) return false;
    uint64_t tag = 0;
    if (!varint_read(p, end, &tag)) fail_msg("tag cut off");
    f->number = (uint32_t)(tag >> 3);
    f->wire = (uint8_t)(tag & 7);
    if (f->number == 0) fail_msg("field number 0");
    switch (f->wire) {
    case 0:
        if (!varint_read(p, end, &f->value)) fail_msg("varint of field %u cut off", f->number);
        break;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n) fail_msg("fixed field %u cut off", f->number);
        f->value = 0;
        for (size_t i = 0; i < n; i++) f->value |= (uint64_t)(*p)[i] << (8 * i);
        *p += n;
        break;
    }
    case 2: {
        uint64_t n = 0;
        if (!varint_read(p, end, &n) || n > (uint64_t)(end - *p)) fail_msg("length of field %u past its message", f->number);
        f->data = *p;
        f->len = (size_t)n;
        *p += n;
        break;
    }
    default:
        fail_msg("wire type %u of field %u", f->wire, f->number);
    }
    return true;
}

static void expect_wire(const field *f, unsigned wire) {
    if (f->wire != wire) fail_msg("field %u: wire type %u, want %u", f->number, f->wire, wire);
}

/* ---- the request, decoded --------------------------------------------------------------- */

enum { ANY_NONE = 0, ANY_STRING, ANY_BOOL, ANY_INT, ANY_DOUBLE };

typedef struct kv {
    char key[512];
    int type;
    char s[2400];
    size_t s_len;
    int64_t i;
    double d;
    bool b;
} kv;

#define MAX_ATTRS 160

typedef struct pspan {
    uint8_t trace_id[16], span_id[8], parent[8];
    bool has_parent;
    char trace_state[300];
    char name[600];
    uint64_t kind, start, end, dropped;
    uint32_t flags;
    bool has_status;
    char status_message[600];
    uint64_t status_code;
    kv *attrs;
    size_t attr_count, attr_cap;
} pspan;

typedef struct prequest {
    kv resource[16];
    size_t resource_count;
    char scope_name[64], scope_version[64];
    pspan *spans;
    size_t span_count;
} prequest;

static void text_copy(char *dst, size_t cap, const field *f) {
    expect_wire(f, 2);
    if (f->len >= cap) fail_msg("string of field %u too long (%zu)", f->number, f->len);
    memcpy(dst, f->data, f->len);
    dst[f->len] = '\0';
}

static void any_read(const uint8_t *p, const uint8_t *end, kv *out) {
    field f;
    int members = 0;
    while (field_next(&p, end, &f)) {
        members++;
        switch (f.number) {
        case 1:
            text_copy(out->s, sizeof out->s, &f);
            out->s_len = f.len;
            out->type = ANY_STRING;
            break;
        case 2:
            expect_wire(&f, 0);
            out->type = ANY_BOOL;
            out->b = f.value != 0;
            break;
        case 3:
            expect_wire(&f, 0);
            out->type = ANY_INT;
            out->i = (int64_t)f.value;
            break;
        case 4:
            expect_wire(&f, 1);
            out->type = ANY_DOUBLE;
            memcpy(&out->d, &f.value, sizeof out->d);
            break;
        default:
            fail_msg("AnyValue field %u", f.number);
        }
    }
    assert_int_equal(members, 1); /* a oneof: exactly one member, even a zero */
}

static void kv_read(const field *outer, kv *out) {
    expect_wire(outer, 2);
    memset(out, 0, sizeof *out);
    const uint8_t *p = outer->data, *end = p + outer->len;
    field f;
    bool key = false, value = false;
    while (field_next(&p, end, &f)) {
        if (f.number == 1) {
            text_copy(out->key, sizeof out->key, &f);
            key = true;
        } else if (f.number == 2) {
            expect_wire(&f, 2);
            any_read(f.data, f.data + f.len, out);
            value = true;
        } else {
            fail_msg("KeyValue field %u", f.number);
        }
    }
    assert_true(key && value);
}

static void bytes_copy(uint8_t *dst, size_t n, const field *f) {
    expect_wire(f, 2);
    if (f->len != n) fail_msg("field %u: %zu bytes, want %zu", f->number, f->len, n);
    memcpy(dst, f->data, n);
}

static void span_read(const field *outer, pspan *s) {
    expect_wire(outer, 2);
    memset(s, 0, sizeof *s);
    const uint8_t *p = outer->data, *end = p + outer->len;
    field f;
    uint32_t last = 0;
    while (field_next(&p, end, &f)) {
        /* Written in field order, repeated fields together. */
        if (f.number < last) fail_msg("span field %u after %u", f.number, last);
        last = f.number;
        switch (f.number) {
        case 1: bytes_copy(s->trace_id, 16, &f); break;
        case 2: bytes_copy(s->span_id, 8, &f); break;
        case 3: text_copy(s->trace_state, sizeof s->trace_state, &f); break;
        case 4:
            bytes_copy(s->parent, 8, &f);
            s->has_parent = true;
            break;
        case 5: text_copy(s->name, sizeof s->name, &f); break;
        case 6: expect_wire(&f, 0); s->kind = f.value; break;
        case 7: expect_wire(&f, 1); s->start = f.value; break;
        case 8: expect_wire(&f, 1); s->end = f.value; break;
        case 9:
            assert_true(s->attr_count < MAX_ATTRS);
            if (s->attr_count == s->attr_cap) {
                s->attr_cap = s->attr_cap ? 2 * s->attr_cap : 4;
                s->attrs = realloc(s->attrs, s->attr_cap * sizeof *s->attrs);
            }
            kv_read(&f, &s->attrs[s->attr_count++]);
            break;
        case 10: expect_wire(&f, 0); s->dropped = f.value; break;
        case 15: {
            expect_wire(&f, 2);
            s->has_status = true;
            const uint8_t *q = f.data, *qe = q + f.len;
            field g;
            while (field_next(&q, qe, &g)) {
                if (g.number == 2) text_copy(s->status_message, sizeof s->status_message, &g);
                else if (g.number == 3) {
                    expect_wire(&g, 0);
                    s->status_code = g.value;
                } else fail_msg("Status field %u", g.number);
            }
            break;
        }
        case 16: expect_wire(&f, 5); s->flags = (uint32_t)f.value; break;
        default: fail_msg("Span field %u", f.number);
        }
    }
}

static void request_read(const mcp_buf *body, prequest *r) {
    memset(r, 0, sizeof *r);
    const uint8_t *p = (const uint8_t *)body->data, *end = p + body->len;
    field f;
    size_t resource_spans = 0;
    size_t cap = 0;
    while (field_next(&p, end, &f)) {
        assert_int_equal(f.number, 1);
        expect_wire(&f, 2);
        resource_spans++;
        const uint8_t *q = f.data, *qe = q + f.len;
        field g;
        size_t scope_spans = 0;
        while (field_next(&q, qe, &g)) {
            expect_wire(&g, 2);
            const uint8_t *x = g.data, *xe = x + g.len;
            field h;
            if (g.number == 1) { /* Resource */
                while (field_next(&x, xe, &h)) {
                    assert_int_equal(h.number, 1);
                    assert_true(r->resource_count < 16);
                    kv_read(&h, &r->resource[r->resource_count++]);
                }
            } else if (g.number == 2) { /* ScopeSpans */
                scope_spans++;
                while (field_next(&x, xe, &h)) {
                    expect_wire(&h, 2);
                    if (h.number == 1) {
                        const uint8_t *y = h.data, *ye = y + h.len;
                        field k;
                        while (field_next(&y, ye, &k)) {
                            if (k.number == 1) text_copy(r->scope_name, sizeof r->scope_name, &k);
                            else if (k.number == 2) text_copy(r->scope_version, sizeof r->scope_version, &k);
                            else fail_msg("InstrumentationScope field %u", k.number);
                        }
                    } else if (h.number == 2) {
                        if (r->span_count == cap) {
                            cap = cap ? 2 * cap : 16;
                            r->spans = realloc(r->spans, cap * sizeof *r->spans);
                        }
                        span_read(&h, &r->spans[r->span_count++]);
                    } else {
                        fail_msg("ScopeSpans field %u", h.number);
                    }
                }
            } else {
                fail_msg("ResourceSpans field %u", g.number);
            }
        }
        assert_int_equal(scope_spans, 1);
    }
    assert_int_equal(resource_spans, 1);
}

static void request_free(prequest *r) {
    for (size_t i = 0; i < r->span_count; i++) free(r->spans[i].attrs);
    free(r->spans);
}

static const kv *attr_of(const pspan *s, const char *key) {
    for (size_t i = 0; i < s->attr_count; i++)
        if (!strcmp(s->attrs[i].key, key)) return &s->attrs[i];
    return NULL;
}

static const char *str_of(const pspan *s, const char *key) {
    const kv *a = attr_of(s, key);
    return a && a->type == ANY_STRING ? a->s : NULL;
}

static mcp_tracer *tracer_quiet(const char *service) {
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = service, .service_instance_id = "node-1",
                                                       .exporter = {.endpoint = ""}},
                                    &t),
                     0);
    return t;
}

/* ---- the JSON encoder's reading of the same spans ---------------------------------------- */

static void hex_of(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void expect_json_str(const mcp_json *j, const char *key, const char *want, const char *what) {
    const char *got = mcp_json_str(mcp_json_get(j, key), NULL);
    if (!got || strcmp(got, want)) fail_msg("%s: JSON %s \"%s\", protobuf \"%s\"", what, key, got ? got : "(none)", want);
}

static void expect_same_value(const mcp_json *jv, const kv *a) {
    char num[32];
    switch (a->type) {
    case ANY_STRING: {
        const mcp_json *s = mcp_json_get(jv, "stringValue");
        mcp_str v = mcp_json_str_slice(s);
        if (!s || v.len != a->s_len || memcmp(v.ptr, a->s, v.len)) fail_msg("%s: string values differ", a->key);
        break;
    }
    case ANY_INT:
        snprintf(num, sizeof num, "%" PRId64, a->i);
        expect_json_str(jv, "intValue", num, a->key);
        break;
    case ANY_BOOL:
        assert_true(mcp_json_is_bool(mcp_json_get(jv, "boolValue")));
        assert_int_equal(mcp_json_bool(mcp_json_get(jv, "boolValue"), !a->b), a->b);
        break;
    case ANY_DOUBLE:
        if (isnan(a->d)) expect_json_str(jv, "doubleValue", "NaN", a->key);
        else if (isinf(a->d)) expect_json_str(jv, "doubleValue", a->d > 0 ? "Infinity" : "-Infinity", a->key);
        else if (mcp_json_num(mcp_json_get(jv, "doubleValue"), NAN) != a->d) fail_msg("%s: doubles differ", a->key);
        break;
    default:
        fail_msg("%s: no value", a->key);
    }
}

static void expect_same_attrs(const mcp_json *list, const kv *attrs, size_t n) {
    assert_int_equal(mcp_json_len(list), n);
    for (size_t i = 0; i < n; i++) {
        const mcp_json *ja = mcp_json_at(list, i);
        expect_json_str(ja, "key", attrs[i].key, "attribute");
        expect_same_value(mcp_json_get(ja, "value"), &attrs[i]);
    }
}

/* Encode spans both ways; every field of the JSON must be in the protobuf
 * with the same value, and nothing more. */
static void expect_encodings_agree(mcp_tracer *t, mcp_span *const *spans, size_t n) {
    mcp_buf json, proto;
    mcp_buf_init(&json);
    mcp_buf_init(&proto);
    assert_int_equal(obs_otlp_encode(&json, &t->opts, spans, n), 0);
    assert_int_equal(obs_otlp_encode_proto(&proto, &t->opts, spans, n), 0);
    prequest r;
    request_read(&proto, &r);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc;
    assert_int_equal(mcp_json_parse(&arena, json.data, json.len, NULL, &doc, NULL), 0);
    const mcp_json *rs = mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0);
    expect_same_attrs(mcp_json_get(mcp_json_get(rs, "resource"), "attributes"), r.resource, r.resource_count);
    const mcp_json *ss = mcp_json_at(mcp_json_get(rs, "scopeSpans"), 0);
    expect_json_str(mcp_json_get(ss, "scope"), "name", r.scope_name, "scope");
    expect_json_str(mcp_json_get(ss, "scope"), "version", r.scope_version, "scope");
    const mcp_json *list = mcp_json_get(ss, "spans");
    assert_int_equal(mcp_json_len(list), r.span_count);
    assert_int_equal(r.span_count, n);
    for (size_t i = 0; i < n; i++) {
        const mcp_json *js = mcp_json_at(list, i);
        const pspan *ps = &r.spans[i];
        char hex[40], num[32];
        hex_of(ps->trace_id, 16, hex);
        expect_json_str(js, "traceId", hex, "span");
        hex_of(ps->span_id, 8, hex);
        expect_json_str(js, "spanId", hex, "span");
        if (ps->has_parent) {
            hex_of(ps->parent, 8, hex);
            expect_json_str(js, "parentSpanId", hex, "span");
        } else {
            assert_null(mcp_json_get(js, "parentSpanId"));
        }
        if (ps->trace_state[0]) expect_json_str(js, "traceState", ps->trace_state, "span");
        else assert_null(mcp_json_get(js, "traceState"));
        expect_json_str(js, "name", ps->name, "span");
        assert_int_equal(mcp_json_int(mcp_json_get(js, "kind"), -1), ps->kind);
        assert_int_equal(mcp_json_int(mcp_json_get(js, "flags"), -1), ps->flags);
        snprintf(num, sizeof num, "%" PRIu64, ps->start);
        expect_json_str(js, "startTimeUnixNano", num, "span");
        snprintf(num, sizeof num, "%" PRIu64, ps->end);
        expect_json_str(js, "endTimeUnixNano", num, "span");
        expect_same_attrs(mcp_json_get(js, "attributes"), ps->attrs, ps->attr_count);
        assert_int_equal(mcp_json_int(mcp_json_get(js, "droppedAttributesCount"), 0), ps->dropped);
        const mcp_json *st = mcp_json_get(js, "status");
        assert_int_equal(mcp_json_int(mcp_json_get(st, "code"), -1), ps->status_code);
        if (ps->status_message[0]) expect_json_str(st, "message", ps->status_message, "status");
        else assert_null(mcp_json_get(st, "message"));
    }
    mcp_arena_free(&arena);
    request_free(&r);
    mcp_buf_free(&json);
    mcp_buf_free(&proto);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_fields_read_back(void **state) {
    (void)state;
    mcp_tracer *t = tracer_quiet("svc \"q\"");
    mcp_trace_context parent;
    assert_int_equal(mcp_traceparent_parse(TP, strlen(TP), "vendor=x", &parent), 0);
    mcp_span *a = mcp_span_start(t, "tools/call \"odd\"\nname", MCP_SPAN_SERVER, &parent);
    mcp_span *b = mcp_span_start(t, "plain", MCP_SPAN_CLIENT, NULL);
    assert_non_null(a);
    assert_non_null(b);
    mcp_span_set_str(a, "quote\"key", "va\"l\\ue\n");
    mcp_span_set_strn(a, "bad.utf8", "x\xff" "y", 3);
    mcp_span_set_int(a, "neg", INT64_MIN);
    mcp_span_set_int(a, "zero", 0);
    mcp_span_set_int(a, "pos", 1234567890123LL);
    mcp_span_set_double(a, "dbl", 0.25);
    mcp_span_set_double(a, "dbl.zero", 0.0);
    mcp_span_set_double(a, "dbl.nan", NAN);
    mcp_span_set_double(a, "dbl.inf", INFINITY);
    mcp_span_set_double(a, "dbl.neg.inf", -INFINITY);
    mcp_span_set_bool(a, "yes", true);
    mcp_span_set_bool(a, "no", false);
    mcp_span_set_str(a, "empty", "");
    mcp_span_set_error(a, "-32602", "bad \"params\"");
    for (int i = 0; i < MCP_SPAN_MAX_ATTRIBUTES; i++) mcp_span_set_int(b, "many", i);
    mcp_span_set_int(b, "one.too.many", 1);
    mcp_span *spans[] = {a, b};
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, spans, 2), 0);
    prequest r;
    request_read(&out, &r);
    assert_int_equal(r.resource_count, 6);
    assert_string_equal(r.resource[0].key, "service.name");
    assert_string_equal(r.resource[0].s, "svc \"q\"");
    assert_string_equal(r.resource[1].key, "service.version");
    assert_string_equal(r.resource[1].s, MCP_VERSION_STRING);
    assert_string_equal(r.resource[2].key, "service.instance.id");
    assert_string_equal(r.resource[2].s, "node-1");
    assert_string_equal(r.resource[3].s, "libmcp");
    assert_string_equal(r.scope_name, "libmcp");
    assert_string_equal(r.scope_version, MCP_VERSION_STRING);
    assert_int_equal(r.span_count, 2);
    const pspan *pa = &r.spans[0], *pb = &r.spans[1];
    assert_memory_equal(pa->trace_id, parent.trace_id, 16);
    assert_memory_equal(pa->span_id, a->ctx.span_id, 8);
    assert_true(pa->has_parent);
    assert_memory_equal(pa->parent, parent.span_id, 8);
    assert_string_equal(pa->trace_state, "vendor=x");
    assert_string_equal(pa->name, "tools/call \"odd\"\nname");
    assert_int_equal(pa->kind, 2);
    assert_int_equal(pa->flags, 1);
    assert_int_equal(pa->start, a->start_unix_ns);
    assert_int_equal(pa->end, a->end_unix_ns);
    assert_string_equal(str_of(pa, "quote\"key"), "va\"l\\ue\n");
    assert_string_equal(str_of(pa, "bad.utf8"), "x\xef\xbf\xbdy");
    assert_int_equal(attr_of(pa, "neg")->type, ANY_INT);
    assert_true(attr_of(pa, "neg")->i == INT64_MIN);
    assert_int_equal(attr_of(pa, "zero")->type, ANY_INT);
    assert_int_equal(attr_of(pa, "zero")->i, 0);
    assert_true(attr_of(pa, "pos")->i == 1234567890123LL);
    assert_true(attr_of(pa, "dbl")->d == 0.25);
    assert_int_equal(attr_of(pa, "dbl.zero")->type, ANY_DOUBLE);
    assert_true(attr_of(pa, "dbl.zero")->d == 0.0);
    assert_true(isnan(attr_of(pa, "dbl.nan")->d));
    assert_true(isinf(attr_of(pa, "dbl.inf")->d) && attr_of(pa, "dbl.inf")->d > 0);
    assert_true(isinf(attr_of(pa, "dbl.neg.inf")->d) && attr_of(pa, "dbl.neg.inf")->d < 0);
    assert_int_equal(attr_of(pa, "yes")->type, ANY_BOOL);
    assert_true(attr_of(pa, "yes")->b);
    assert_int_equal(attr_of(pa, "no")->type, ANY_BOOL);
    assert_false(attr_of(pa, "no")->b);
    assert_int_equal(attr_of(pa, "empty")->type, ANY_STRING);
    assert_string_equal(str_of(pa, "empty"), "");
    assert_string_equal(str_of(pa, "error.type"), "-32602");
    assert_true(pa->has_status);
    assert_int_equal(pa->status_code, 2);
    assert_string_equal(pa->status_message, "bad \"params\"");
    assert_int_equal(pa->dropped, 0);
    /* the root span: no parent, no tracestate, attributes full and one dropped */
    assert_false(pb->has_parent);
    assert_string_equal(pb->trace_state, "");
    assert_int_equal(pb->kind, 3);
    assert_int_equal(pb->attr_count, MCP_SPAN_MAX_ATTRIBUTES);
    assert_int_equal(pb->attrs[127].i, 127);
    assert_int_equal(pb->dropped, 1);
    assert_false(pb->has_status);
    request_free(&r);
    expect_encodings_agree(t, spans, 2);
    /* an empty batch is still a valid request */
    mcp_buf_reset(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, spans, 0), 0);
    request_read(&out, &r);
    assert_int_equal(r.span_count, 0);
    assert_string_equal(r.scope_name, "libmcp");
    request_free(&r);
    mcp_buf_free(&out);
    mcp_span_end(a);
    mcp_span_end(b);
    mcp_tracer_free(t);
}

/* Strings that are not valid UTF-8 are repaired as the JSON writer repairs
 * them, byte for byte: a sequence cut in two by a value's end (the text of
 * the span is valid as a whole), overlong forms, surrogates, a bad key;
 * valid sequences of every length pass unchanged. */
static void test_utf8_as_the_json_writer(void **state) {
    (void)state;
    mcp_tracer *t = tracer_quiet("svc\xc3");
    static const char *const values[] = {"\xc3", "\xa9", "caf\xc3\xa9", "\xe2\x82\xac \xf0\x9f\x98\x80", "\xc0\xaf",
                                         "\xed\xa0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82", "\xff\xfe"};
    mcp_span *s = mcp_span_start(t, "n\xc3\xa9 \xe9", MCP_SPAN_INTERNAL, NULL);
    assert_non_null(s);
    static char keys[9][8];
    for (int i = 0; i < 9; i++) {
        snprintf(keys[i], sizeof keys[i], "v%d", i);
        mcp_span_set_str(s, keys[i], values[i]);
    }
    mcp_span_set_str(s, "key\xff", "x");
    mcp_span_set_error(s, "e", "m\xc3");
    mcp_span *plain = mcp_span_start(t, "ascii", MCP_SPAN_INTERNAL, NULL);
    mcp_span_set_str(plain, "k", "v");
    mcp_span *spans[] = {s, plain};
    expect_encodings_agree(t, spans, 2);
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, spans, 2), 0);
    prequest r;
    request_read(&out, &r);
    assert_string_equal(r.resource[0].s, "svc\xef\xbf\xbd");
    assert_string_equal(r.spans[0].name, "n\xc3\xa9 \xef\xbf\xbd");
    assert_string_equal(str_of(&r.spans[0], "v0"), "\xef\xbf\xbd");
    assert_string_equal(str_of(&r.spans[0], "v2"), "caf\xc3\xa9");
    assert_string_equal(str_of(&r.spans[0], "v3"), "\xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(str_of(&r.spans[0], "key\xef\xbf\xbd"), "x");
    assert_string_equal(r.spans[0].status_message, "m\xef\xbf\xbd");
    request_free(&r);
    mcp_buf_free(&out);
    mcp_span_end(s);
    mcp_span_end(plain);
    mcp_tracer_free(t);
}

/* Request spans in one batch, every shape of test_obs_encode's: each must
 * carry exactly its own request's attributes, as in the JSON. */
static void test_request_shapes_agree(void **state) {
    (void)state;
    static const mcp_obs_request reqs[] = {
        {.method = "tools/call", .target = "echo", .request_id = "1", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "echo", .request_id = "22", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "ecko", .request_id = "5", .session_id = "s2",
         .protocol_version = "2026-07-28", .transport = "tcph", .network_protocol = "ttp"},
        {.method = "tools/call", .target = "ecko", .session_id = "s2", .protocol_version = "2026-07-28",
         .transport = "tcp", .network_protocol = "http"},
        {.method = "prompts/get", .target = "ecko", .request_id = "8", .session_id = "s2",
         .protocol_version = "2026-07-28", .transport = "tcph", .network_protocol = "ttp"},
        {.method = "resources/read", .resource_uri = "file:///a", .request_id = "9", .protocol_version = "2026-07-28"},
        {.method = "resources/read", .resource_uri = "file:///b\xc3", .request_id = "12",
         .protocol_version = "2026-07-28", .client = true},
        {.method = "tools/call", .target = "t\xe9", .request_id = "13", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http", .traceparent = TP,
         .tracestate = "a=b"},
        {.method = "custom/method", .request_id = "14"},
        {.method = "ping"},
    };
    enum { N = sizeof reqs / sizeof reqs[0] };
    mcp_tracer *t = tracer_quiet("svc");
    mcp_obs *o;
    assert_int_equal(mcp_obs_new(t, NULL, &o), 0);
    mcp_span *spans[N];
    for (int i = 0; i < N; i++) {
        spans[i] = mcp_obs_request_start(o, &reqs[i]);
        assert_non_null(spans[i]);
    }
    mcp_span_set_error(spans[2], "tool_error", NULL);
    expect_encodings_agree(t, spans, N);
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, spans, N), 0);
    prequest r;
    request_read(&out, &r);
    assert_string_equal(str_of(&r.spans[0], "mcp.method.name"), "tools/call");
    assert_string_equal(str_of(&r.spans[0], "gen_ai.tool.name"), "echo");
    assert_string_equal(str_of(&r.spans[0], "gen_ai.operation.name"), "execute_tool");
    assert_string_equal(str_of(&r.spans[0], "jsonrpc.request.id"), "1");
    assert_string_equal(str_of(&r.spans[0], "mcp.session.id"), "s1");
    assert_string_equal(str_of(&r.spans[0], "network.protocol.name"), "http");
    assert_string_equal(str_of(&r.spans[4], "gen_ai.prompt.name"), "ecko");
    assert_null(str_of(&r.spans[3], "jsonrpc.request.id"));
    assert_string_equal(str_of(&r.spans[6], "mcp.resource.uri"), "file:///b\xef\xbf\xbd");
    assert_int_equal(r.spans[6].kind, 3);
    assert_string_equal(r.spans[7].trace_state, "a=b");
    assert_true(r.spans[7].has_parent);
    request_free(&r);
    mcp_buf_free(&out);
    for (int i = N - 1; i >= 0; i--) mcp_obs_request_end(o, spans[i], NULL);
    mcp_obs_free(o);
    mcp_tracer_free(t);
}

/* Lengths take the width their value needs, whatever was reserved for
 * them: spans under 128 bytes and over 16 KiB, batches under 16 KiB and
 * over 2 MiB must all read back, every length landing on its end. */
static void test_lengths_of_every_width(void **state) {
    (void)state;
    mcp_tracer *t = tracer_quiet("svc");
    static char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    static char big_value[2000];
    memset(big_value, 'v', sizeof big_value);
    /* a tiny span, a span over 16 KiB (128 long keys), a plain one */
    mcp_span *tiny = mcp_span_start(t, "", MCP_SPAN_INTERNAL, NULL);
    mcp_span *wide = mcp_span_start(t, "wide", MCP_SPAN_INTERNAL, NULL);
    for (int i = 0; i < MCP_SPAN_MAX_ATTRIBUTES; i++) mcp_span_set_int(wide, long_key, i);
    mcp_span *mid = mcp_span_start(t, "mid", MCP_SPAN_SERVER, NULL);
    mcp_span_set_str(mid, "k", "v");
    mcp_span *three[] = {tiny, wide, mid};
    expect_encodings_agree(t, three, 3);
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, three, 3), 0);
    prequest r;
    request_read(&out, &r);
    assert_int_equal(r.span_count, 3);
    assert_string_equal(r.spans[0].name, "");
    assert_int_equal(r.spans[1].attr_count, MCP_SPAN_MAX_ATTRIBUTES);
    assert_string_equal(r.spans[1].attrs[5].key, long_key);
    assert_string_equal(r.spans[2].name, "mid");
    request_free(&r);
    /* a batch over 2 MiB: its head needs a wider length than reserved */
    enum { BIG = 1100 };
    mcp_span **many = calloc(BIG, sizeof *many);
    for (int i = 0; i < BIG; i++) {
        many[i] = mcp_span_start(t, "big", MCP_SPAN_INTERNAL, NULL);
        assert_non_null(many[i]);
        mcp_span_set_strn(many[i], "payload", big_value, sizeof big_value);
        mcp_span_set_int(many[i], "i", i);
    }
    /* ten of them: a batch of 20 KiB, whose head fits the gap as reserved */
    mcp_buf_reset(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, many, 10), 0);
    assert_true(out.len > (16u << 10) && out.len < (2u << 20));
    request_read(&out, &r);
    assert_int_equal(r.span_count, 10);
    assert_int_equal(attr_of(&r.spans[9], "i")->i, 9);
    request_free(&r);
    mcp_buf_reset(&out);
    /* all: appended after what the buffer holds */
    assert_int_equal(mcp_buf_append(&out, "prefix", 6), 0);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, many, BIG), 0);
    assert_true(out.len > (2u << 20));
    assert_memory_equal(out.data, "prefix", 6);
    mcp_buf_consume(&out, 6);
    request_read(&out, &r);
    assert_int_equal(r.span_count, BIG);
    for (int i = 0; i < BIG; i++) {
        assert_int_equal(attr_of(&r.spans[i], "payload")->s_len, sizeof big_value);
        assert_int_equal(attr_of(&r.spans[i], "i")->i, i);
    }
    request_free(&r);
    for (int i = 0; i < BIG; i++) mcp_span_end(many[i]);
    free(many);
    mcp_buf_free(&out);
    mcp_span_end(tiny);
    mcp_span_end(wide);
    mcp_span_end(mid);
    mcp_tracer_free(t);
}

/* Through the exporter: a tracer set to protobuf posts
 * application/x-protobuf bodies that hold every span; the default stays
 * JSON; an encoding that does not exist is refused. */
static void test_exporter_posts_protobuf(void **state) {
    (void)state;
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", r.port);
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "proto-test",
                                                       .exporter = {.endpoint = url, .flush_interval_ms = 50,
                                                                    .max_batch = 64,
                                                                    .encoding = MCP_OTLP_PROTOBUF}},
                                    &t),
                     0);
    enum { SPANS = 150 };
    for (int i = 0; i < SPANS; i++) {
        mcp_span *s = mcp_span_start(t, "tools/call echo", MCP_SPAN_SERVER, NULL);
        mcp_span_set_int(s, "i", i);
        mcp_span_end(s);
    }
    assert_int_equal(mcp_tracer_flush(t, 10000), 0);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_exported, SPANS);
    pthread_mutex_lock(&r.lock);
    size_t spans = 0;
    bool seen[SPANS] = {0};
    assert_true(r.body_count >= 3); /* batches of at most 64 */
    for (size_t b = 0; b < r.body_count; b++) {
        assert_string_equal(r.content_types[b], "application/x-protobuf");
        mcp_buf body = {.data = r.bodies[b], .len = r.body_lens[b], .cap = r.body_lens[b] + 1};
        prequest q;
        request_read(&body, &q);
        assert_true(q.span_count <= 64);
        assert_string_equal(q.resource[0].s, "proto-test");
        for (size_t i = 0; i < q.span_count; i++) {
            assert_string_equal(q.spans[i].name, "tools/call echo");
            int64_t v = attr_of(&q.spans[i], "i")->i;
            assert_true(v >= 0 && v < SPANS && !seen[v]);
            seen[v] = true;
        }
        spans += q.span_count;
        request_free(&q);
    }
    assert_int_equal(spans, SPANS);
    assert_string_equal(r.last_path, "/v1/traces");
    pthread_mutex_unlock(&r.lock);
    mcp_tracer_free(t);
    receiver_stop(&r);

    /* the default: JSON */
    assert_int_equal(receiver_start(&r), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", r.port);
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = url, .flush_interval_ms = 50}}, &t), 0);
    mcp_span_end(mcp_span_start(t, "json", MCP_SPAN_SERVER, NULL));
    assert_int_equal(mcp_tracer_flush(t, 10000), 0);
    pthread_mutex_lock(&r.lock);
    assert_int_equal(r.body_count, 1);
    assert_string_equal(r.content_types[0], "application/json");
    assert_non_null(strstr(r.bodies[0], "\"name\":\"json\""));
    pthread_mutex_unlock(&r.lock);
    mcp_tracer_free(t);
    receiver_stop(&r);

    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = "", .encoding = (mcp_otlp_encoding)7}}, &t),
                     MCP_EINVAL);
}

/* Resource attributes beyond the service's (OTEL_RESOURCE_ATTRIBUTES):
 * both encodings carry them between the service's and the SDK's, with the
 * same bytes, repaired UTF-8 and a value whose length takes two varint
 * bytes included; the service keys stand in for NULL fields and are
 * otherwise dropped like telemetry.sdk.*, so that no key comes twice. */
static char long_value[300];

static const mcp_resource_attribute extra_attributes[] = {
    {"deployment.environment.name", "staging"},
    {"service.version", "from-the-list"},   /* the field is NULL: stands in */
    {"service.name", "not-used"},           /* the field is set: dropped */
    {"telemetry.sdk.name", "impostor"},     /* the library's own: dropped */
    {"quote\"key", "va\"l,u=e"},
    {"bad.utf8", "x\xff" "y"},
    {"long", long_value},
};

static mcp_tracer *tracer_with_resource(void) {
    memset(long_value, 'v', sizeof long_value - 1);
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "res-test",
                                                       .resource_attributes = extra_attributes,
                                                       .resource_attribute_count = 7,
                                                       .exporter = {.endpoint = ""}},
                                    &t),
                     0);
    return t;
}

static void expect_resource(const prequest *r) {
    static const char *const keys[] = {"service.name", "service.version", "deployment.environment.name",
                                       "quote\"key", "bad.utf8", "long", "telemetry.sdk.name",
                                       "telemetry.sdk.language", "telemetry.sdk.version"};
    assert_int_equal(r->resource_count, sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < r->resource_count; i++) assert_string_equal(r->resource[i].key, keys[i]);
    assert_string_equal(r->resource[0].s, "res-test");
    assert_string_equal(r->resource[1].s, "from-the-list");
    assert_string_equal(r->resource[2].s, "staging");
    assert_string_equal(r->resource[3].s, "va\"l,u=e");
    assert_string_equal(r->resource[4].s, "x\xef\xbf\xbdy");
    assert_string_equal(r->resource[5].s, long_value);
    assert_string_equal(r->resource[6].s, "libmcp");
}

static void test_resource_attributes_agree(void **state) {
    (void)state;
    mcp_tracer *t = tracer_with_resource();
    mcp_span *s = mcp_span_start(t, "tools/call echo", MCP_SPAN_SERVER, NULL);
    mcp_span_set_str(s, "k", "v");
    expect_encodings_agree(t, &s, 1);
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode_proto(&out, &t->opts, &s, 1), 0);
    prequest r;
    request_read(&out, &r);
    expect_resource(&r);
    request_free(&r);
    mcp_buf_free(&out);
    mcp_span_end(s);
    mcp_tracer_free(t);
    /* A count without a list is refused. */
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.resource_attribute_count = 1, .exporter = {.endpoint = ""}}, &t),
                     MCP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_read_back),
        cmocka_unit_test(test_utf8_as_the_json_writer),
        cmocka_unit_test(test_request_shapes_agree),
        cmocka_unit_test(test_lengths_of_every_width),
        cmocka_unit_test(test_exporter_posts_protobuf),
        cmocka_unit_test(test_resource_attributes_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
