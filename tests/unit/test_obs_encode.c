/*
 * The two pieces of tracing that were rewritten for speed, held to what
 * they must produce: the traceparent id decoder (every digit position, every
 * near-miss byte) and the OTLP/JSON span encoder (parsed back with our own
 * strict parser; escapes, invalid UTF-8, every attribute type, status,
 * dropped counts, tracestate, parent).
 */
#include "mcp/json.h"
#include "mcp/obs.h"
#include "obs/obs_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

static const char *TP = "00-0123456789abcdeffedcba9876543210-a0b1c2d3e4f56789-01";

static void test_id_digits_decode(void **state) {
    (void)state;
    mcp_trace_context c;
    assert_int_equal(mcp_traceparent_parse(TP, strlen(TP), NULL, &c), 0);
    static const uint8_t trace[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                      0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    static const uint8_t span[8] = {0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x67, 0x89};
    assert_memory_equal(c.trace_id, trace, 16);
    assert_memory_equal(c.span_id, span, 8);
    char out[MCP_TRACEPARENT_LEN + 1];
    mcp_traceparent_format(&c, out);
    assert_string_equal(out, TP);
}

static void test_every_bad_digit_is_refused(void **state) {
    (void)state;
    /* The bytes on each side of the accepted ranges, upper case, space,
     * NUL and bytes with the high bit set (signed-char traps). */
    static const char near[] = {'/', ':', '`', 'g', 'A', 'F', 'G', ' ', '\0', (char)0x80, (char)0xb0, (char)0xe1,
                                (char)0xff};
    char tp[MCP_TRACEPARENT_LEN + 1];
    mcp_trace_context c;
    size_t refused = 0, tried = 0;
    for (size_t pos = 0; pos < MCP_TRACEPARENT_LEN; pos++) {
        bool digit = pos != 2 && pos != 35 && pos != 52;
        if (!digit) continue;
        for (size_t k = 0; k < sizeof near; k++) {
            memcpy(tp, TP, sizeof tp);
            tp[pos] = near[k];
            tried++;
            int rc = mcp_traceparent_parse(tp, MCP_TRACEPARENT_LEN, NULL, &c);
            if (rc == MCP_EPARSE) refused++;
            else fail_msg("digit %zu set to 0x%02x was accepted", pos, (unsigned)(uint8_t)near[k]);
        }
    }
    assert_int_equal(refused, tried);
}

static mcp_json *spans_of(mcp_arena *arena, const mcp_buf *out) {
    mcp_json *doc = NULL;
    mcp_json_error err;
    assert_int_equal(mcp_json_parse(arena, out->data, out->len, NULL, &doc, &err), 0);
    mcp_json *rs = mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0);
    assert_non_null(rs);
    mcp_json *res_attrs = mcp_json_get(mcp_json_get(rs, "resource"), "attributes");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(res_attrs, 0), "key"), ""), "service.name");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_at(res_attrs, 0), "value"), "stringValue"), ""),
                        "svc \"q\"");
    return mcp_json_get(mcp_json_at(mcp_json_get(rs, "scopeSpans"), 0), "spans");
}

static mcp_json *attr_value(const mcp_json *span, const char *key) {
    mcp_json *attrs = mcp_json_get(span, "attributes");
    for (size_t i = 0; i < mcp_json_len(attrs); i++) {
        mcp_json *a = mcp_json_at(attrs, i);
        if (!strcmp(mcp_json_str(mcp_json_get(a, "key"), ""), key)) return mcp_json_get(a, "value");
    }
    return NULL;
}

static void test_otlp_encoding_reads_back(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    mcp_trace_context parent;
    assert_int_equal(mcp_traceparent_parse(TP, strlen(TP), "vendor=x", &parent), 0);
    mcp_span *a = mcp_span_start(t, "tools/call \"odd\"\nname", MCP_SPAN_SERVER, &parent);
    mcp_span *b = mcp_span_start(t, "plain", MCP_SPAN_CLIENT, NULL);
    assert_non_null(a);
    assert_non_null(b);
    mcp_span_set_str(a, "quote\"key", "va\"l\\ue\n");
    mcp_span_set_strn(a, "bad.utf8", "x\xff" "y", 3);
    mcp_span_set_int(a, "neg", INT64_MIN);
    mcp_span_set_int(a, "pos", 1234567890123LL);
    mcp_span_set_double(a, "dbl", 0.25);
    mcp_span_set_double(a, "dbl.nan", NAN);
    mcp_span_set_double(a, "dbl.inf", INFINITY);
    mcp_span_set_double(a, "dbl.neg.inf", -INFINITY);
    mcp_span_set_bool(a, "yes", true);
    mcp_span_set_bool(a, "no", false);
    mcp_span_set_error(a, "-32602", "bad \"params\"");
    for (int i = 0; i < MCP_SPAN_MAX_ATTRIBUTES; i++) mcp_span_set_int(b, "many", i);
    mcp_span_set_int(b, "one.too.many", 1);
    mcp_span *spans[] = {a, b};
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode(&out, &t->opts, spans, 2), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *list = spans_of(&arena, &out);
    assert_int_equal(mcp_json_len(list), 2);
    mcp_json *ja = mcp_json_at(list, 0), *jb = mcp_json_at(list, 1);
    assert_string_equal(mcp_json_str(mcp_json_get(ja, "traceId"), ""), "0123456789abcdeffedcba9876543210");
    assert_string_equal(mcp_json_str(mcp_json_get(ja, "parentSpanId"), ""), "a0b1c2d3e4f56789");
    assert_string_equal(mcp_json_str(mcp_json_get(ja, "traceState"), ""), "vendor=x");
    assert_string_equal(mcp_json_str(mcp_json_get(ja, "name"), ""), "tools/call \"odd\"\nname");
    assert_int_equal(mcp_json_int(mcp_json_get(ja, "kind"), 0), 2);
    assert_int_equal(mcp_json_int(mcp_json_get(ja, "flags"), 0), 1);
    char start[32];
    snprintf(start, sizeof start, "%llu", (unsigned long long)a->start_unix_ns);
    assert_string_equal(mcp_json_str(mcp_json_get(ja, "startTimeUnixNano"), ""), start);
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "quote\"key"), "stringValue"), ""), "va\"l\\ue\n");
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "bad.utf8"), "stringValue"), ""), "x\xef\xbf\xbdy");
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "neg"), "intValue"), ""), "-9223372036854775808");
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "pos"), "intValue"), ""), "1234567890123");
    assert_true(mcp_json_num(mcp_json_get(attr_value(ja, "dbl"), "doubleValue"), 0) == 0.25);
    /* The protobuf JSON mapping's spelling of what JSON numbers cannot say. */
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "dbl.nan"), "doubleValue"), ""), "NaN");
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "dbl.inf"), "doubleValue"), ""), "Infinity");
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "dbl.neg.inf"), "doubleValue"), ""), "-Infinity");
    assert_true(mcp_json_bool(mcp_json_get(attr_value(ja, "yes"), "boolValue"), false));
    assert_false(mcp_json_bool(mcp_json_get(attr_value(ja, "no"), "boolValue"), true));
    assert_string_equal(mcp_json_str(mcp_json_get(attr_value(ja, "error.type"), "stringValue"), ""), "-32602");
    mcp_json *status = mcp_json_get(ja, "status");
    assert_int_equal(mcp_json_int(mcp_json_get(status, "code"), 0), 2);
    assert_string_equal(mcp_json_str(mcp_json_get(status, "message"), ""), "bad \"params\"");
    assert_null(mcp_json_get(ja, "droppedAttributesCount"));
    /* the root span: no parent, no tracestate, attributes full and one dropped */
    assert_null(mcp_json_get(jb, "parentSpanId"));
    assert_null(mcp_json_get(jb, "traceState"));
    assert_int_equal(mcp_json_len(mcp_json_get(jb, "attributes")), MCP_SPAN_MAX_ATTRIBUTES);
    assert_int_equal(mcp_json_int(mcp_json_get(jb, "droppedAttributesCount"), 0), 1);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(jb, "status"), "code"), 9), 0);
    assert_int_equal(mcp_json_int(mcp_json_get(jb, "kind"), 0), 3);
    /* an empty batch is still a valid request */
    mcp_buf_reset(&out);
    assert_int_equal(obs_otlp_encode(&out, &t->opts, spans, 0), 0);
    assert_int_equal(mcp_json_len(spans_of(&arena, &out)), 0);
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_span_end(a);
    mcp_span_end(b);
    mcp_tracer_free(t);
}

/* Keys are escaped once per batch by pointer: many distinct keys (more
 * than the cache holds, some colliding), keys that need escaping, and the
 * same pointers across spans must all read back as they were set. */
static void test_many_keys_read_back(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    enum { KEYS = 120, SPANS = 3 };
    static char keys[KEYS][24];
    for (int i = 0; i < KEYS; i++) snprintf(keys[i], sizeof keys[i], i % 7 ? "key.%d" : "k\"%d\\", i);
    mcp_span *spans[SPANS];
    for (int s = 0; s < SPANS; s++) {
        spans[s] = mcp_span_start(t, "many", MCP_SPAN_INTERNAL, NULL);
        assert_non_null(spans[s]);
        for (int i = 0; i < KEYS; i++) mcp_span_set_int(spans[s], keys[(i + s * 13) % KEYS], i);
    }
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode(&out, &t->opts, spans, SPANS), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *list = spans_of(&arena, &out);
    assert_int_equal(mcp_json_len(list), SPANS);
    for (int s = 0; s < SPANS; s++) {
        mcp_json *attrs = mcp_json_get(mcp_json_at(list, (size_t)s), "attributes");
        assert_int_equal(mcp_json_len(attrs), KEYS);
        for (int i = 0; i < KEYS; i++) {
            mcp_json *a = mcp_json_at(attrs, (size_t)i);
            assert_string_equal(mcp_json_str(mcp_json_get(a, "key"), ""), keys[(i + s * 13) % KEYS]);
            char v[16];
            snprintf(v, sizeof v, "%d", i);
            assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(a, "value"), "intValue"), ""), v);
        }
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    for (int s = 0; s < SPANS; s++) mcp_span_end(spans[s]);
    mcp_tracer_free(t);
}

/* Short values take the encoder's own copy when nothing needs escaping:
 * for every length around its word sizes and limit, with each kind of byte
 * that needs care at each position, the value must come out byte for byte
 * as the general escaper writes it. */
static void test_short_values_escape_as_the_writer(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &t), 0);
    static const char *const odd[] = {"\"", "\\", "\n", "\x1f", "\x7f", "\xff", "\xc3\xa9", "/", " ", "~"};
    mcp_buf out, want;
    mcp_buf_init(&out);
    mcp_buf_init(&want);
    unsigned checked = 0;
    for (size_t len = 0; len <= 40; len++) {
        for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
            for (size_t at = 0; at <= len; at++) {
                char value[64];
                for (size_t i = 0; i < len; i++) value[i] = (char)('a' + i % 26);
                size_t n = len, olen = strlen(odd[k]);
                if (at < len) { /* the odd byte(s) at position at */
                    memcpy(value + at, odd[k], olen);
                    n = at + olen > len ? at + olen : len;
                }
                mcp_span *s = mcp_span_start(t, "v", MCP_SPAN_INTERNAL, NULL);
                assert_non_null(s);
                mcp_span_set_strn(s, "k", value, n);
                mcp_buf_reset(&out);
                assert_int_equal(obs_otlp_encode(&out, &t->opts, &s, 1), 0);
                mcp_span_end(s);
                mcp_buf_reset(&want);
                assert_int_equal(mcp_buf_append(&want, "{\"key\":\"k\",\"value\":{\"stringValue\":", 34), 0);
                assert_int_equal(mcp_json_escape(&want, value, n), 0);
                assert_int_equal(mcp_buf_append(&want, "}}", 2), 0);
                mcp_buf_append(&out, "", 1); /* NUL for strstr */
                mcp_buf_append(&want, "", 1);
                if (!strstr(out.data, want.data)) fail_msg("value of length %zu, odd byte %zu at %zu: not as escaped", n, k, at);
                checked++;
            }
        }
    }
    assert_true(checked > 4000);
    mcp_buf_free(&out);
    mcp_buf_free(&want);
    mcp_tracer_free(t);
}

/* Integers are written in 8-digit groups: every group boundary, zeros
 * inside a group, and both ends of the range must read back as printf
 * writes them. */
static void test_integers_read_back(void **state) {
    (void)state;
    static const int64_t values[] = {0, 7, 10, 99, 100, 9999, 10000, 99999999, 100000000, 100000001,
                                     1000000000000000LL, 9999999999999999LL, 10000000000000000LL,
                                     1000000000000000000LL, -100000000, INT64_MAX, INT64_MIN};
    enum { N = sizeof values / sizeof values[0] };
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    mcp_span *s = mcp_span_start(t, "ints", MCP_SPAN_INTERNAL, NULL);
    assert_non_null(s);
    static char keys[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "i%d", i);
        mcp_span_set_int(s, keys[i], values[i]);
    }
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode(&out, &t->opts, &s, 1), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *js = mcp_json_at(spans_of(&arena, &out), 0);
    for (int i = 0; i < N; i++) {
        char want[24];
        snprintf(want, sizeof want, "%lld", (long long)values[i]);
        assert_string_equal(mcp_json_str(mcp_json_get(attr_value(js, keys[i]), "intValue"), ""), want);
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_span_end(s);
    mcp_tracer_free(t);
}

/* Eight digits at a time by multiply and mask: every digit value at every
 * position of an 8-digit group (d * 10^k and d * 111...1), and a spread of
 * others, must read back as printf writes them. */
static void test_digit_groups_read_back(void **state) {
    (void)state;
    enum { PER_SPAN = 100 };
    int64_t values[1000];
    size_t n = 0;
    uint64_t ones = 0;
    for (int k = 0; k < 18; k++) {
        ones = ones * 10 + 1;
        int64_t p = 1;
        for (int i = 0; i < k; i++) p *= 10;
        for (int d = 1; d <= 9; d++) {
            values[n++] = d * p;
            values[n++] = (int64_t)(ones * (uint64_t)d);
        }
    }
    uint64_t x = 0x243f6a8885a308d3ull;
    while (n < sizeof values / sizeof values[0]) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        values[n++] = (int64_t)(x >> (x % 50)); /* spread over the lengths */
    }
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    static char keys[PER_SPAN][8];
    for (int i = 0; i < PER_SPAN; i++) snprintf(keys[i], sizeof keys[i], "i%d", i);
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    for (size_t first = 0; first < n; first += PER_SPAN) {
        mcp_span *s = mcp_span_start(t, "digits", MCP_SPAN_INTERNAL, NULL);
        assert_non_null(s);
        for (int i = 0; i < PER_SPAN; i++) mcp_span_set_int(s, keys[i], values[first + (size_t)i]);
        mcp_buf_reset(&out);
        assert_int_equal(obs_otlp_encode(&out, &t->opts, &s, 1), 0);
        mcp_span_end(s);
        mcp_json *js = mcp_json_at(spans_of(&arena, &out), 0);
        for (int i = 0; i < PER_SPAN; i++) {
            char want[24];
            snprintf(want, sizeof want, "%lld", (long long)values[first + (size_t)i]);
            assert_string_equal(mcp_json_str(mcp_json_get(attr_value(js, keys[i]), "intValue"), ""), want);
        }
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_tracer_free(t);
}

/* The string attribute key of span js, or NULL. */
static const char *str_attr_of(const mcp_json *js, const char *key) {
    return mcp_json_str(mcp_json_get(attr_value(js, key), "stringValue"), NULL);
}

static void expect_attr(const mcp_json *js, const char *key, const char *want, size_t *count) {
    const char *got = str_attr_of(js, key);
    if (!want) {
        if (got) fail_msg("%s: unexpected \"%s\"", key, got);
        return;
    }
    if (!got || strcmp(got, want) != 0) fail_msg("%s: \"%s\", want \"%s\"", key, got ? got : "(none)", want);
    (*count)++;
}

/* Request spans in one batch: runs of one request shape with other ids,
 * and neighbours that differ from it by one byte, one length, one field's
 * split between two values, a missing id, the target kind or the side
 * (an encoder that reused what it wrote for the span before, as one
 * tried, must tell them apart): every span must carry exactly its own
 * request's attributes. */
static void test_request_shapes_in_one_batch(void **state) {
    (void)state;
    static const mcp_obs_request reqs[] = {
        {.method = "tools/call", .target = "echo", .request_id = "1", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "echo", .request_id = "22", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "echo", .request_id = "3", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "ecko", .request_id = "4", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "ecko", .request_id = "5", .session_id = "s2",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
        {.method = "tools/call", .target = "ecko", .request_id = "6", .session_id = "s2",
         .protocol_version = "2026-07-28", .transport = "tcph", .network_protocol = "ttp"},
        {.method = "tools/call", .target = "ecko", .session_id = "s2", .protocol_version = "2026-07-28",
         .transport = "tcp", .network_protocol = "http"},
        {.method = "prompts/get", .target = "ecko", .request_id = "8", .session_id = "s2",
         .protocol_version = "2026-07-28", .transport = "tcph", .network_protocol = "ttp"},
        {.method = "resources/read", .resource_uri = "file:///a", .request_id = "9", .protocol_version = "2026-07-28"},
        {.method = "resources/read", .resource_uri = "file:///b", .request_id = "10", .protocol_version = "2026-07-28"},
        {.method = "resources/read", .resource_uri = "file:///b", .request_id = "11", .protocol_version = "2026-07-28"},
        {.method = "resources/read", .resource_uri = "file:///b", .request_id = "12", .protocol_version = "2026-07-28",
         .client = true},
        {.method = "tools/call", .target = "echo", .request_id = "13", .session_id = "s1",
         .protocol_version = "2026-07-28", .transport = "tcp", .network_protocol = "http"},
    };
    enum { N = sizeof reqs / sizeof reqs[0] };
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    mcp_obs *o;
    assert_int_equal(mcp_obs_new(t, NULL, &o), 0);
    mcp_span *spans[N];
    for (int i = 0; i < N; i++) {
        spans[i] = mcp_obs_request_start(o, &reqs[i]);
        assert_non_null(spans[i]);
    }
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(obs_otlp_encode(&out, &t->opts, spans, N), 0);
    for (int i = N - 1; i >= 0; i--) mcp_obs_request_end(o, spans[i], NULL);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *list = spans_of(&arena, &out);
    assert_int_equal(mcp_json_len(list), N);
    for (int i = 0; i < N; i++) {
        const mcp_obs_request *q = &reqs[i];
        const mcp_json *js = mcp_json_at(list, (size_t)i);
        bool tool = !strcmp(q->method, "tools/call"), prompt = !strcmp(q->method, "prompts/get");
        size_t count = 0;
        expect_attr(js, "mcp.method.name", q->method, &count);
        expect_attr(js, "jsonrpc.request.id", q->request_id, &count);
        expect_attr(js, "gen_ai.tool.name", tool ? q->target : NULL, &count);
        expect_attr(js, "gen_ai.operation.name", tool ? "execute_tool" : NULL, &count);
        expect_attr(js, "gen_ai.prompt.name", prompt ? q->target : NULL, &count);
        expect_attr(js, "mcp.resource.uri", q->resource_uri, &count);
        expect_attr(js, "mcp.session.id", q->session_id, &count);
        expect_attr(js, "mcp.protocol.version", q->protocol_version, &count);
        expect_attr(js, "network.transport", q->transport, &count);
        expect_attr(js, "network.protocol.name", q->network_protocol, &count);
        assert_int_equal(mcp_json_len(mcp_json_get(js, "attributes")), count);
        assert_int_equal(mcp_json_int(mcp_json_get(js, "kind"), 0), q->client ? 3 : 2);
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_obs_free(o);
    mcp_tracer_free(t);
}

/* Times are written as 3 + 8 + 8 digits when they have 19, the general
 * way otherwise: both sides of each boundary, zeros inside the groups,
 * and the end time (written separately) must read back as printf writes
 * them. */
static void test_times_read_back(void **state) {
    (void)state;
    static const uint64_t times[][2] = {
        {1000000000000000000ull, 999999999999999999ull},
        {9999999999999999999ull, 10000000000000000000ull},
        {1780000000000000000ull, 1780000000000000001ull},
        {1700000000100000000ull, 1700000001000000009ull},
        {1700000000100000000ull, 1700000000199999999ull},
        {1234567890123456789ull, UINT64_MAX},
        {0, 1},
    };
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "svc \"q\"", .exporter = {.endpoint = ""}}, &t), 0);
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        mcp_span *s = mcp_span_start(t, "times", MCP_SPAN_INTERNAL, NULL);
        assert_non_null(s);
        s->start_unix_ns = times[i][0];
        s->end_unix_ns = times[i][1];
        mcp_buf_reset(&out);
        assert_int_equal(obs_otlp_encode(&out, &t->opts, &s, 1), 0);
        mcp_span_end(s);
        mcp_json *js = mcp_json_at(spans_of(&arena, &out), 0);
        char want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)times[i][0]);
        assert_string_equal(mcp_json_str(mcp_json_get(js, "startTimeUnixNano"), ""), want);
        snprintf(want, sizeof want, "%llu", (unsigned long long)times[i][1]);
        assert_string_equal(mcp_json_str(mcp_json_get(js, "endTimeUnixNano"), ""), want);
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    mcp_tracer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_digits_decode),
        cmocka_unit_test(test_every_bad_digit_is_refused),
        cmocka_unit_test(test_otlp_encoding_reads_back),
        cmocka_unit_test(test_many_keys_read_back),
        cmocka_unit_test(test_short_values_escape_as_the_writer),
        cmocka_unit_test(test_integers_read_back),
        cmocka_unit_test(test_digit_groups_read_back),
        cmocka_unit_test(test_request_shapes_in_one_batch),
        cmocka_unit_test(test_times_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
