/*
 * bench/modules/pinning.h — the two sides of a loopback benchmark on two
 * cores. The server side goes on the first CPU this thread may use and
 * the client side (load generator, pools) on the second, so each stays on
 * its core and they run side by side instead of both queueing on whichever
 * core is free. Threads inherit the affinity of the thread that creates
 * them, so the setup thread moves to a side's core while it starts that
 * side, and back at the end:
 *
 *     bench_pinning pin;
 *     bench_pinning_choose(&pin);
 *     bench_pin_self(pin.server_cpu);  // start the server's threads
 *     bench_pin_self(pin.client_cpu);  // start the clients' threads
 *     ...
 *     bench_pinning_restore(&pin);
 *
 * On a machine (or cgroup) with one CPU nothing is pinned.
 */
#ifndef MCP_BENCH_PINNING_H
#define MCP_BENCH_PINNING_H

#include <sched.h>
#include <stdbool.h>

typedef struct bench_pinning {
    cpu_set_t saved;
    bool saved_ok;
    int server_cpu, client_cpu; /* -1: not pinned (one CPU) */
} bench_pinning;

void bench_pinning_choose(bench_pinning *p);
void bench_pin_self(int cpu); /* the calling thread onto cpu; -1: no-op */
void bench_pinning_restore(const bench_pinning *p);

#endif
