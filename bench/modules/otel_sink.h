/*
 * otel_sink: the otel module's loopback OTLP receiver. It reads each POST,
 * counts its spans and answers 200.
 *
 * It stands in for a collector on another machine, so it does only what
 * the benchmark needs from one: it reads every byte (the sender's side of
 * the loopback pays for that as it would for a real network) and counts
 * the spans that arrived, by the one "spanId" member each span has
 * (about 20 ns a span) in a JSON body and by walking the outer messages of
 * a protobuf one, and answers 200. It does not parse or
 * validate the JSON: a remote collector's parsing is CPU this server never
 * pays, and here it would share the machine with the server being timed.
 * The unit tests keep the receiver that parses and checks every body
 * (tests/obs/otlp_receiver.h). spans_exported is this count.
 */

#ifndef BENCH_OTEL_SINK_H
#define BENCH_OTEL_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct sink_server {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    _Atomic uint64_t spans; /* counted in the bodies that arrived */
    _Atomic uint64_t bytes; /* of those bodies */
} sink_server;

/* Listens on a loopback port (s->port) and serves in its own thread: 0, or
 * MCP_EIO / MCP_ENOMEM. */
int bench_otel_sink_start(sink_server *s);
void bench_otel_sink_stop(sink_server *s);

#endif
