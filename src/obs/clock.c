/*
 * clock.c — the monotonic clock of spans and request durations.
 *
 * A traced request reads the clock twice (start and end). Through the
 * vDSO, clock_gettime(CLOCK_MONOTONIC) costs about 21 ns a read on our
 * machines; the time stamp counter it is computed from costs about 9 ns.
 * So where the kernel itself keeps time by the TSC (its clocksource is
 * "tsc": it found the counter invariant and in step across CPUs) and the
 * CPU says the counter is invariant, obs reads the TSC and scales it to
 * nanoseconds with a rate measured against CLOCK_MONOTONIC, anchored so
 * that both clocks agree at the moment of the switch. The exporter thread
 * makes the measurement: over 10 ms when it starts (so that a process
 * switches within its first requests), then once more over 10 s, the
 * clock going on from where it is with the better rate. Until the switch,
 * and everywhere else, the clock is mcp_now_ns.
 *
 * What a span reports stays honest: the resolution is a nanosecond or
 * better; the rate is CLOCK_MONOTONIC's to within a few ppm over the first
 * 10 s (each end of the measurement is known to some 20 ns, over 10^7 ns)
 * and a few parts in 10^9 after; wall times still come from CLOCK_REALTIME
 * through the offset the exporter keeps against this clock. It does not
 * follow NTP's later slewing of CLOCK_MONOTONIC (at most 500 ppm): a
 * duration is then what the counter's crystal says. Each of the two
 * scales is written before the pointer that publishes it, and never after.
 */
#include "obs_internal.h"

#include <stdio.h>
#include <string.h>

#if OBS_CLOCK_TSC
#include <cpuid.h>
#endif

_Atomic(const obs_clock_scale *) obs_clock;

#if OBS_CLOCK_TSC
static pthread_mutex_t calibrate_lock = PTHREAD_MUTEX_INITIALIZER;
static int trusted = -1; /* not asked yet */
static uint64_t first_ticks, first_ns;
/* The first scale and the refined one: each written once, before it is
 * published, so a reader never sees one change. */
static obs_clock_scale scales[2];

/* The kernel keeps time by the TSC, and the CPU says it runs at a constant
 * rate through power states (invariant TSC, CPUID 0x80000007 EDX bit 8). */
static bool tsc_trusted(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007u, &a, &b, &c, &d) || !(d & (1u << 8))) return false;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f) return false;
    char name[32] = "";
    bool tsc = fgets(name, sizeof name, f) && strcmp(name, "tsc\n") == 0;
    fclose(f);
    return tsc;
}

/* A (ticks, ns) pair read together: the counter between two reads of
 * CLOCK_MONOTONIC, the pair whose reads were closest of a few tries (a
 * preemption between them would skew the rate). */
static void pair_read(uint64_t *ticks, uint64_t *ns) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        uint64_t a = mcp_now_ns(), t = __rdtsc(), b = mcp_now_ns();
        if (b - a < best) {
            best = b - a;
            *ticks = t;
            *ns = a + (b - a) / 2;
        }
    }
}

/* ns per tick since the first pair, in 32.32 fixed point; 0 when it
 * cannot be had (a counter under 1 GHz, none we know, could overflow the
 * scaling in obs_now_ns). A double holds the ratio to 1e-16, far below
 * what the reads can tell. */
static uint64_t rate_since_first(uint64_t ticks, uint64_t ns) {
    if (ticks <= first_ticks || ns <= first_ns) return 0;
    double rate = (double)(ns - first_ns) / (double)(ticks - first_ticks);
    return rate > 0 && rate < 1.0 ? (uint64_t)(rate * 4294967296.0) : 0;
}
#endif

bool obs_clock_calibrate(uint64_t switch_after_ns, uint64_t refine_after_ns) {
#if OBS_CLOCK_TSC
    const obs_clock_scale *now_scale = atomic_load_explicit(&obs_clock, memory_order_acquire);
    if (now_scale == &scales[1]) return true;
    pthread_mutex_lock(&calibrate_lock);
    if (trusted < 0) trusted = tsc_trusted();
    now_scale = atomic_load_explicit(&obs_clock, memory_order_relaxed);
    if (trusted && now_scale != &scales[1]) {
        uint64_t ticks = 0, ns = 0, mult;
        pair_read(&ticks, &ns);
        if (!first_ticks) {
            first_ticks = ticks;
            first_ns = ns;
        } else if (!now_scale && ns - first_ns >= switch_after_ns && (mult = rate_since_first(ticks, ns)) != 0) {
            /* Anchored where both clocks read the same. */
            scales[0] = (obs_clock_scale){.ticks0 = ticks, .ns0 = ns, .mult = mult};
            atomic_store_explicit(&obs_clock, &scales[0], memory_order_release);
        } else if (now_scale && ns - first_ns >= refine_after_ns && (mult = rate_since_first(ticks, ns)) != 0) {
            /* The rate over the longer time, anchored where the first
             * scale reads now: the clock goes on without a step. */
            scales[1] = (obs_clock_scale){.ticks0 = ticks, .ns0 = obs_clock_at(now_scale, ticks), .mult = mult};
            atomic_store_explicit(&obs_clock, &scales[1], memory_order_release);
        }
    }
    pthread_mutex_unlock(&calibrate_lock);
    return atomic_load_explicit(&obs_clock, memory_order_acquire) != NULL;
#else
    (void)switch_after_ns;
    (void)refine_after_ns;
    return false;
#endif
}

bool obs_clock_switch_pending(void) {
#if OBS_CLOCK_TSC
    if (atomic_load_explicit(&obs_clock, memory_order_acquire)) return false;
    pthread_mutex_lock(&calibrate_lock);
    if (trusted < 0) trusted = tsc_trusted();
    bool pending = trusted && first_ticks;
    pthread_mutex_unlock(&calibrate_lock);
    return pending;
#else
    return false;
#endif
}
