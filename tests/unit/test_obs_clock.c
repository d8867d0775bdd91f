/*
 * The clock of spans and request durations (src/obs/clock.c): once it
 * reads the time stamp counter it must still tell CLOCK_MONOTONIC's time,
 * and a span's times must still be the wall clock's and its duration the
 * time that passed.
 */
#include "mcp/obs.h"
#include "obs/obs_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <time.h>

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Switch to the counter after a 10 ms measurement and refine its rate
 * after 40 ms (where the kernel keeps time by it; elsewhere the clock is
 * mcp_now_ns and the checks below hold all the more). */
static bool calibrated(void) {
    obs_clock_calibrate(10000000u, 40000000u);
    sleep_ms(15);
    bool on = obs_clock_calibrate(10000000u, 40000000u);
    if (on) assert_true(atomic_load(&obs_clock) != NULL);
    return on;
}

/* Read between two reads of CLOCK_MONOTONIC, the clock must fall between
 * them, give or take a few µs of rate error over the test: a preemption
 * only widens the window. */
static void test_clock_tells_monotonic_time(void **state) {
    (void)state;
    bool tsc = calibrated();
    print_message("clock: %s\n", tsc ? "time stamp counter" : "clock_gettime");
    const uint64_t slack = 20000; /* 20 µs */
    uint64_t t0 = mcp_now_ns();
    unsigned reads = 0;
    const obs_clock_scale *first = atomic_load(&obs_clock);
    bool refined = false;
    while (mcp_now_ns() - t0 < 80000000u) { /* 80 ms: the refined scale takes over half way */
        if (!refined && mcp_now_ns() - t0 > 40000000u) {
            obs_clock_calibrate(10000000u, 40000000u);
            refined = atomic_load(&obs_clock) != first;
        }
        uint64_t before = mcp_now_ns(), now = obs_now_ns(), after = mcp_now_ns();
        if (now + slack < before || now > after + slack)
            fail_msg("obs clock %llu outside [%llu, %llu]", (unsigned long long)now, (unsigned long long)before,
                     (unsigned long long)after);
        reads++;
        if (reads % 1000 == 0) sleep_ms(1);
    }
    assert_true(reads > 1000);
    /* On the counter, the second scale took over and the checks ran on
     * both sides of the change. */
    if (tsc) assert_true(refined);
}

/* A span around a 30 ms sleep: its times are the wall clock's and its
 * duration the sleep's, to within what the scheduler may add. */
static void test_span_times_are_wall_times(void **state) {
    (void)state;
    calibrated();
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &t), 0);
    /* What the exporter does every round: the wall clock's offset from
     * this clock, measured after the switch. */
    obs_clock_offset_refresh(t);
    uint64_t wall_before = wall_ns();
    mcp_span *s = mcp_span_start(t, "sleep", MCP_SPAN_INTERNAL, NULL);
    assert_non_null(s);
    sleep_ms(30);
    mcp_span_end(s);
    uint64_t wall_after = wall_ns();
    /* The record is back in the pool (no exporter) but keeps its times
     * until reused. */
    uint64_t start = s->start_unix_ns, end = s->end_unix_ns;
    assert_true(start + 1000000u >= wall_before && start <= wall_after);
    assert_true(end >= start + 30000000u);
    assert_true(end <= wall_after + 1000000u);
    mcp_tracer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_tells_monotonic_time),
        cmocka_unit_test(test_span_times_are_wall_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
