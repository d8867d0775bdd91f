/*
 * Log-linear latency histogram in the spirit of HdrHistogram.
 *
 * Values below 128 are counted exactly. Each range [2^k, 2^(k+1)) above
 * that is cut into 64 equal slices of width 2^(k-6); a value is reported as
 * the middle of its slice, so the error is at most 2^(k-7) / 2^k = 1/128,
 * under 1%, at every magnitude up to 2^64.
 * The bucket index is computed with one count-leading-zeros, no loop.
 */
#include "mcp/base.h"

#include <stdlib.h>
#include <string.h>

#define SUB MCP_HISTOGRAM_SUB_BUCKETS /* 128 */
#define SUB_BITS 7                    /* log2(SUB) */
#define HALF (SUB / 2)
/* Exact region: [0, SUB). Then for every k in [7, 63]: HALF slices. */
#define BUCKETS (SUB + (64 - SUB_BITS) * HALF)

struct mcp_histogram {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t counts[BUCKETS];
};

static inline size_t bucket_of(uint64_t v) {
    if (v < SUB) return (size_t)v;
    int k = 63 - __builtin_clzll(v);            /* v in [2^k, 2^(k+1)), k >= 7 */
    uint64_t slice = (v >> (k - (SUB_BITS - 1))) - HALF; /* top 7 bits minus the leading 1 */
    return SUB + (size_t)(k - SUB_BITS) * HALF + (size_t)slice;
}

/* Representative value of a bucket: the middle of its range. */
static inline uint64_t bucket_value(size_t b) {
    if (b < SUB) return b;
    size_t rel = b - SUB;
    int k = (int)(rel / HALF) + SUB_BITS;
    uint64_t slice = rel % HALF;
    int shift = k - (SUB_BITS - 1);
    uint64_t lo = (slice + HALF) << shift;
    uint64_t width = 1ull << shift;
    return lo + width / 2;
}

mcp_histogram *mcp_histogram_new(void) {
    mcp_histogram *h = calloc(1, sizeof *h);
    if (h) h->min = UINT64_MAX;
    return h;
}

void mcp_histogram_free(mcp_histogram *h) {
    free(h);
}

void mcp_histogram_record_n(mcp_histogram *h, uint64_t value, uint64_t n) {
    if (!n) return;
    h->counts[bucket_of(value)] += n;
    h->count += n;
    h->sum += (double)value * (double)n;
    if (value < h->min) h->min = value;
    if (value > h->max) h->max = value;
}

void mcp_histogram_record(mcp_histogram *h, uint64_t value) {
    mcp_histogram_record_n(h, value, 1);
}

void mcp_histogram_reset(mcp_histogram *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

int mcp_histogram_merge(mcp_histogram *into, const mcp_histogram *from) {
    if (!from->count) return MCP_OK;
    for (size_t i = 0; i < BUCKETS; i++) into->counts[i] += from->counts[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
    return MCP_OK;
}

uint64_t mcp_histogram_count(const mcp_histogram *h) { return h->count; }
uint64_t mcp_histogram_min(const mcp_histogram *h) { return h->count ? h->min : 0; }
uint64_t mcp_histogram_max(const mcp_histogram *h) { return h->max; }
double mcp_histogram_mean(const mcp_histogram *h) { return h->count ? h->sum / (double)h->count : 0.0; }

uint64_t mcp_histogram_quantile(const mcp_histogram *h, double q) {
    if (!h->count) return 0;
    if (q <= 0.0) return h->min;
    if (q >= 1.0) return h->max;
    /* Rank of the sample at quantile q, 1-based, rounded up (nearest rank). */
    double exact = q * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t v = bucket_value(b);
            /* Never report beyond the observed extremes. */
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}
