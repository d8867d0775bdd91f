/*
 * test_otlp.h — a tracer that exports to a loopback OTLP receiver
 * (obs/otlp_receiver.h) every 50 ms, for the tests that read back the
 * spans the server and client made, and the attributes of an exported
 * span (OTLP JSON). Include after <cmocka.h>.
 */
#ifndef TEST_OTLP_H
#define TEST_OTLP_H

#include "mcp/json.h"
#include "mcp/obs.h"
#include "obs/otlp_receiver.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Start r and a tracer of service exporting to it into *tracer. */
static inline void otlp_tracer_start(receiver *r, const char *service, mcp_tracer **tracer)
{
    assert_int_equal(receiver_start(r), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", r->port);
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = service,
                                                       .exporter = {.endpoint = url, .flush_interval_ms = 50}},
                                    tracer),
                     0);
}

/* The value object of the span's attribute key, or NULL. */
static inline const mcp_json *span_attr(const mcp_json *span, const char *key)
{
    const mcp_json *attrs = mcp_json_get(span, "attributes");
    for (size_t i = 0; i < mcp_json_len(attrs); i++) {
        const mcp_json *a = mcp_json_at(attrs, i);
        if (strcmp(mcp_json_str(mcp_json_get(a, "key"), ""), key) == 0)
            return mcp_json_get(a, "value");
    }
    return NULL;
}

/* Its string value, or NULL. */
static inline const char *span_attr_str(const mcp_json *span, const char *key)
{
    return mcp_json_str(mcp_json_get(span_attr(span, key), "stringValue"), NULL);
}

/* The last span named name among all that r received, parsed into a, or
 * NULL. */
static inline const mcp_json *receiver_span_named(receiver *r, mcp_arena *a, const char *name)
{
    const mcp_json *found = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t b = 0; b < r->body_count; b++) {
        mcp_json *doc;
        assert_int_equal(mcp_json_parse(a, r->bodies[b], strlen(r->bodies[b]), NULL, &doc, NULL), 0);
        const mcp_json *spans = mcp_json_get(
            mcp_json_at(mcp_json_get(mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0), "scopeSpans"), 0), "spans");
        for (size_t i = 0; i < mcp_json_len(spans); i++)
            if (strcmp(mcp_json_str(mcp_json_get(mcp_json_at(spans, i), "name"), ""), name) == 0)
                found = mcp_json_at(spans, i);
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

#endif
