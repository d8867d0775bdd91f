/*
 * Placing a loopback benchmark's server and client sides on two cores
 * (pinning.h).
 */
#include "pinning.h"

#include <pthread.h>

void bench_pinning_choose(bench_pinning *p) {
    p->server_cpu = p->client_cpu = -1;
    p->saved_ok = pthread_getaffinity_np(pthread_self(), sizeof p->saved, &p->saved) == 0;
    if (!p->saved_ok) return;
    for (int cpu = 0; cpu < CPU_SETSIZE && p->client_cpu < 0; cpu++) {
        if (!CPU_ISSET(cpu, &p->saved)) continue;
        if (p->server_cpu < 0) p->server_cpu = cpu;
        else p->client_cpu = cpu;
    }
    if (p->client_cpu < 0) p->server_cpu = -1; /* one CPU: nothing to separate */
}

void bench_pin_self(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void bench_pinning_restore(const bench_pinning *p) {
    if (p->saved_ok) pthread_setaffinity_np(pthread_self(), sizeof p->saved, &p->saved);
}
