/*
 * test_otlp.h — a tracer that exports to a loopback OTLP receiver
 * (obs/otlp_receiver.h) every 50 ms, for the tests that read back the
 * spans the server and client made. Include after <cmocka.h>.
 */
#ifndef TEST_OTLP_H
#define TEST_OTLP_H

#include "mcp/obs.h"
#include "obs/otlp_receiver.h"

#include <stdio.h>

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

#endif
