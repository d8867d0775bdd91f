/*
 * strategy.c — defaults of the batching strategies and the adaptive rule.
 *
 * The adaptive rule is additive-increase, multiplicative-decrease on the
 * group size, as TCP does with its window: a full group that came back
 * within the target latency earns a step up of an eighth (at least one);
 * a slow group costs a quarter, a group with failures half. Only full
 * groups count as evidence for growing: a group cut short by the time
 * window says nothing about whether a larger one would have been fast.
 */
#include "batch/batch_internal.h"

#define DEFAULT_SIZE 64u
#define DEFAULT_WINDOW_US 1000u
#define DEFAULT_MAX_SIZE 1024u
#define DEFAULT_TARGET_US 5000u

int mcp_batch_strategy_normalize(mcp_batch_strategy *s)
{
    if (s->kind < MCP_BATCH_NONE || s->kind > MCP_BATCH_ADAPTIVE)
        return MCP_EINVAL;
    if (!s->size)
        s->size = DEFAULT_SIZE;
    if (!s->window_us)
        s->window_us = DEFAULT_WINDOW_US;
    if (!s->min_size)
        s->min_size = 1;
    if (!s->max_size)
        s->max_size = DEFAULT_MAX_SIZE;
    if (!s->target_latency_us)
        s->target_latency_us = DEFAULT_TARGET_US;
    if (s->min_size > s->max_size || (s->kind == MCP_BATCH_SIZE && s->size > s->max_size))
        return MCP_EINVAL;
    return 0;
}

size_t mcp_batch_adapt(const mcp_batch_strategy *s, size_t target, size_t sent, uint64_t latency_us,
                       size_t failures)
{
    size_t next = target;
    if (failures > 0)
        next = target / 2;
    else if (latency_us > s->target_latency_us)
        next = target - target / 4;
    else if (sent >= target)
        next = target + (target / 8 ? target / 8 : 1);
    if (next < s->min_size)
        next = s->min_size;
    if (next > s->max_size)
        next = s->max_size;
    return next;
}
