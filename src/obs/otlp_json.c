/*
 * OTLP/JSON encoding of a batch of spans: an ExportTraceServiceRequest as
 * the OTLP specification maps protobuf to JSON — trace and span ids as
 * lowercase hex (not base64), enums as integers, 64-bit integers (times in
 * unix nanoseconds, intValue) as decimal strings, field names in lowerCamelCase.
 */
#include "obs_internal.h"

#include "mcp/json.h"

#include <stdio.h>
#include <string.h>

static void write_u64_string(mcp_json_writer *w, uint64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    mcp_json_write_string(w, tmp, (size_t)n);
}

static void write_hex(mcp_json_writer *w, const uint8_t *b, size_t n) {
    char tmp[33];
    mcp_hex_encode(b, n, tmp);
    mcp_json_write_string(w, tmp, 2 * n);
}

static void write_str_attr(mcp_json_writer *w, const char *key, const char *value, size_t len) {
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "key");
    mcp_json_write_cstr(w, key);
    mcp_json_write_key(w, "value");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "stringValue");
    mcp_json_write_string(w, value, len);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

static void write_attr(mcp_json_writer *w, const mcp_span *s, const obs_attr *a) {
    if (a->type == OBS_ATTR_STR) {
        write_str_attr(w, a->key, s->text + a->v.off, a->len);
        return;
    }
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "key");
    mcp_json_write_cstr(w, a->key);
    mcp_json_write_key(w, "value");
    mcp_json_begin_object(w);
    switch (a->type) {
    case OBS_ATTR_INT: {
        char tmp[24];
        int n = snprintf(tmp, sizeof tmp, "%lld", (long long)a->v.i);
        mcp_json_write_key(w, "intValue");
        mcp_json_write_string(w, tmp, (size_t)n);
        break;
    }
    case OBS_ATTR_DOUBLE:
        mcp_json_write_key(w, "doubleValue");
        mcp_json_write_double(w, a->v.d);
        break;
    default:
        mcp_json_write_key(w, "boolValue");
        mcp_json_write_bool(w, a->v.b);
        break;
    }
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

static void write_span(mcp_json_writer *w, const mcp_span *s) {
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "traceId");
    write_hex(w, s->ctx.trace_id, 16);
    mcp_json_write_key(w, "spanId");
    write_hex(w, s->ctx.span_id, 8);
    if (s->ctx.tracestate[0]) {
        mcp_json_write_key(w, "traceState");
        mcp_json_write_cstr(w, s->ctx.tracestate);
    }
    if (s->has_parent) {
        mcp_json_write_key(w, "parentSpanId");
        write_hex(w, s->parent_span_id, 8);
    }
    mcp_json_write_key(w, "flags");
    mcp_json_write_uint(w, s->ctx.flags);
    mcp_json_write_key(w, "name");
    mcp_json_write_string(w, s->text, s->name_len);
    mcp_json_write_key(w, "kind");
    mcp_json_write_uint(w, s->kind);
    mcp_json_write_key(w, "startTimeUnixNano");
    write_u64_string(w, s->start_unix_ns);
    mcp_json_write_key(w, "endTimeUnixNano");
    write_u64_string(w, s->end_unix_ns);
    mcp_json_write_key(w, "attributes");
    mcp_json_begin_array(w);
    for (unsigned i = 0; i < s->attr_count; i++) write_attr(w, s, &s->attrs[i]);
    mcp_json_end_array(w);
    if (s->dropped_attrs) {
        mcp_json_write_key(w, "droppedAttributesCount");
        mcp_json_write_uint(w, s->dropped_attrs);
    }
    mcp_json_write_key(w, "status");
    mcp_json_begin_object(w);
    if (s->status_len) {
        mcp_json_write_key(w, "message");
        mcp_json_write_string(w, s->text + s->status_off, s->status_len);
    }
    mcp_json_write_key(w, "code");
    mcp_json_write_uint(w, s->status);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

int obs_otlp_encode(mcp_buf *out, const mcp_tracer_opts *opts, mcp_span *const *spans, size_t n) {
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "resourceSpans");
    mcp_json_begin_array(&w);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "resource");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "attributes");
    mcp_json_begin_array(&w);
    write_str_attr(&w, "service.name", opts->service_name, strlen(opts->service_name));
    write_str_attr(&w, "service.version", opts->service_version, strlen(opts->service_version));
    if (opts->service_instance_id)
        write_str_attr(&w, "service.instance.id", opts->service_instance_id, strlen(opts->service_instance_id));
    write_str_attr(&w, "telemetry.sdk.name", "libmcp", 6);
    write_str_attr(&w, "telemetry.sdk.language", "c", 1);
    write_str_attr(&w, "telemetry.sdk.version", MCP_VERSION_STRING, strlen(MCP_VERSION_STRING));
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    mcp_json_write_key(&w, "scopeSpans");
    mcp_json_begin_array(&w);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "scope");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "name");
    mcp_json_write_cstr(&w, "libmcp");
    mcp_json_write_key(&w, "version");
    mcp_json_write_cstr(&w, MCP_VERSION_STRING);
    mcp_json_end_object(&w);
    mcp_json_write_key(&w, "spans");
    mcp_json_begin_array(&w);
    for (size_t i = 0; i < n; i++) write_span(&w, spans[i]);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}
