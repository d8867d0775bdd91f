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

#endif
