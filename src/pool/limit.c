/*
 * limit.c — the adaptive pool's concurrency limit, a latency gradient.
 *
 * The best hold time seen (min_rtt) stands for an unloaded server; the
 * smoothed recent one (short_rtt) for now. Their ratio, the gradient, is 1
 * while the server keeps up and falls below 1 as requests start to queue
 * there. Each sample moves the limit toward limit * gradient + sqrt(limit):
 * the square root is headroom that lets the limit grow while the gradient
 * stays at 1, and shrinks in proportion as it falls. The change is smoothed
 * (a fifth per sample) so one slow call does not halve the pool. Because a
 * server can get slower for good (a new deployment), min_rtt is re-learned
 * every RELEARN samples from the recent value, else the limit would stay
 * pinned low forever. A failed use counts as a strong "slow down".
 */
#include "pool/pool_internal.h"

#include <math.h>

#define SHORT_ALPHA 0.2
#define SMOOTHING 0.2
#define RELEARN 5000u
#define FAILURE_BACKOFF 0.9

void mcp_pool_limit_init(mcp_pool_limit *l, double min_limit, double max_limit)
{
    l->min_limit = min_limit < 1 ? 1 : min_limit;
    l->max_limit = max_limit < l->min_limit ? l->min_limit : max_limit;
    l->limit = l->min_limit;
    l->min_rtt_us = 0;
    l->short_rtt_us = 0;
    l->samples = 0;
}

static double clamp(const mcp_pool_limit *l, double v)
{
    return v < l->min_limit ? l->min_limit : v > l->max_limit ? l->max_limit : v;
}

void mcp_pool_limit_sample(mcp_pool_limit *l, double rtt_us, bool failed)
{
    if (failed) {
        l->limit = clamp(l, l->limit * FAILURE_BACKOFF);
        return;
    }
    if (rtt_us <= 0)
        rtt_us = 0.001;
    l->samples++;
    l->short_rtt_us = l->short_rtt_us == 0 ? rtt_us : l->short_rtt_us + SHORT_ALPHA * (rtt_us - l->short_rtt_us);
    if (l->min_rtt_us == 0 || rtt_us < l->min_rtt_us)
        l->min_rtt_us = rtt_us;
    if (l->samples % RELEARN == 0)
        l->min_rtt_us = l->short_rtt_us;
    double gradient = l->min_rtt_us / l->short_rtt_us;
    if (gradient < 0.5)
        gradient = 0.5;
    if (gradient > 1.0)
        gradient = 1.0;
    double target = l->limit * gradient + sqrt(l->limit);
    l->limit = clamp(l, l->limit + SMOOTHING * (target - l->limit));
}
