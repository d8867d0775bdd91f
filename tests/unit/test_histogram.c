/* Latency histogram: every value reported within 1% over the whole range,
 * quantiles against an exact sort, extremes, merge, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "mcp/base.h"

static double rel_err(uint64_t got, uint64_t want) {
    if (want == 0) return got == 0 ? 0.0 : 1.0;
    return fabs((double)got - (double)want) / (double)want;
}

/* A single recorded value comes back (as p50) within 1% at every magnitude
 * from 1 ns to hours and beyond. */
static void test_single_value_error_wide_range(void **state) {
    (void)state;
    mcp_histogram *h = mcp_histogram_new();
    assert_non_null(h);
    double worst = 0.0;
    uint64_t v = 1;
    while (v < (UINT64_C(1) << 62)) {
        for (uint64_t probe = v; probe < v + 3 * (v / 7 + 1); probe += v / 7 + 1) {
            mcp_histogram_reset(h);
            mcp_histogram_record(h, probe);
            /* Quantile in the middle, not the exact min/max shortcut. */
            mcp_histogram_record(h, probe);
            mcp_histogram_record(h, probe);
            uint64_t got = mcp_histogram_quantile(h, 0.5);
            double e = rel_err(got, probe);
            if (e > worst) worst = e;
            if (e > 0.01) fail_msg("value %llu reported as %llu (%.3f%%)", (unsigned long long)probe,
                                   (unsigned long long)got, e * 100);
        }
        v = v * 3 + 1;
    }
    assert_true(worst <= 0.01);
    mcp_histogram_free(h);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Quantiles of a skewed (log-uniform) sample agree with the exact
 * nearest-rank quantiles of the sorted data within 1%. */
static void test_quantiles_match_sorted(void **state) {
    (void)state;
    enum { N = 100000 };
    uint64_t *vals = malloc(N * sizeof *vals);
    assert_non_null(vals);
    mcp_histogram *h = mcp_histogram_new();
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
        double u = (double)(x >> 11) / 9007199254740992.0;
        vals[i] = (uint64_t)(50.0 * pow(2.0, u * 24.0)); /* 50 ns .. ~800 ms */
        mcp_histogram_record(h, vals[i]);
    }
    qsort(vals, N, sizeof *vals, cmp_u64);
    const double qs[] = {0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t rank = (size_t)ceil(qs[i] * N);
        uint64_t want = vals[rank - 1];
        uint64_t got = mcp_histogram_quantile(h, qs[i]);
        if (rel_err(got, want) > 0.01)
            fail_msg("q%.4f: got %llu want %llu", qs[i], (unsigned long long)got, (unsigned long long)want);
    }
    assert_int_equal(mcp_histogram_count(h), N);
    assert_int_equal(mcp_histogram_min(h), vals[0]);
    assert_int_equal(mcp_histogram_max(h), vals[N - 1]);
    assert_int_equal(mcp_histogram_quantile(h, 0.0), vals[0]);
    assert_int_equal(mcp_histogram_quantile(h, 1.0), vals[N - 1]);
    double sum = 0;
    for (int i = 0; i < N; i++) sum += (double)vals[i];
    assert_true(fabs(mcp_histogram_mean(h) - sum / N) < 1e-6 * sum / N);
    free(vals);
    mcp_histogram_free(h);
}

static void test_small_values_exact(void **state) {
    (void)state;
    mcp_histogram *h = mcp_histogram_new();
    for (uint64_t v = 0; v < 128; v++) mcp_histogram_record(h, v);
    /* Below 128 every value has its own bucket. */
    for (uint64_t r = 1; r <= 128; r++) {
        assert_int_equal(mcp_histogram_quantile(h, (double)r / 128.0 - 1e-9), r - 1);
    }
    mcp_histogram_free(h);
}

static void test_empty_and_reset(void **state) {
    (void)state;
    mcp_histogram *h = mcp_histogram_new();
    assert_int_equal(mcp_histogram_count(h), 0);
    assert_int_equal(mcp_histogram_quantile(h, 0.99), 0);
    assert_int_equal(mcp_histogram_min(h), 0);
    assert_int_equal(mcp_histogram_max(h), 0);
    mcp_histogram_record_n(h, 1000, 10);
    assert_int_equal(mcp_histogram_count(h), 10);
    mcp_histogram_reset(h);
    assert_int_equal(mcp_histogram_count(h), 0);
    assert_int_equal(mcp_histogram_quantile(h, 0.5), 0);
    mcp_histogram_free(h);
}

/* Merging two histograms gives the same quantiles as recording everything
 * into one. */
static void test_merge_equals_combined(void **state) {
    (void)state;
    mcp_histogram *a = mcp_histogram_new(), *b = mcp_histogram_new(), *all = mcp_histogram_new();
    for (uint64_t i = 1; i <= 50000; i++) {
        uint64_t v = i * 37 % 100003 + 10;
        mcp_histogram *half = (i % 3) ? a : b;
        mcp_histogram_record(half, v * (i % 2 ? 1 : 1000));
        mcp_histogram_record(all, v * (i % 2 ? 1 : 1000));
    }
    assert_int_equal(mcp_histogram_merge(a, b), 0);
    assert_int_equal(mcp_histogram_count(a), mcp_histogram_count(all));
    assert_int_equal(mcp_histogram_min(a), mcp_histogram_min(all));
    assert_int_equal(mcp_histogram_max(a), mcp_histogram_max(all));
    for (double q = 0.05; q < 1.0; q += 0.05) assert_int_equal(mcp_histogram_quantile(a, q), mcp_histogram_quantile(all, q));
    assert_int_equal(mcp_histogram_quantile(a, 0.999), mcp_histogram_quantile(all, 0.999));
    /* Merging an empty histogram changes nothing. */
    mcp_histogram *empty = mcp_histogram_new();
    assert_int_equal(mcp_histogram_merge(a, empty), 0);
    assert_int_equal(mcp_histogram_count(a), mcp_histogram_count(all));
    assert_int_equal(mcp_histogram_min(a), mcp_histogram_min(all));
    mcp_histogram_free(a);
    mcp_histogram_free(b);
    mcp_histogram_free(all);
    mcp_histogram_free(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_value_error_wide_range),
        cmocka_unit_test(test_quantiles_match_sorted),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_empty_and_reset),
        cmocka_unit_test(test_merge_equals_combined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
