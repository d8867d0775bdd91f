/*
 * strategy.c — defaults of the batching strategies and the adaptive rule.
 *
 * The adaptive rule is additive-increase, multiplicative-decrease on the
 * group size, as TCP does with its window: a full group that came back
 * within the target latency earns a step up of an eighth (at least one);
 * a slow group costs a quarter, a group with failures half. Only full
 * groups count as evidence for growing: a group cut short by the time
 * window says nothing about whether a larger one would have been fast.
 * "Full" means the size the strategy asked for when the group left, not
 * the target now: with many groups in flight the target moves while they
 * travel, and comparing with today's target would make every group in
 * flight look short after each step up, so growth would stall for a whole
 * pipeline's worth of groups per step.
 *
 * The latency it is fed is a group's service time, not its round trip:
 * with requests pipelined, a group also waits for the groups sent before
 * it on the same connection, and that wait is set by how many requests
 * are in flight over how fast they are answered. Smaller groups are
 * answered more slowly, so a rule that shrank on round trips would push
 * the wait up, and shrink again, all the way to min_size, worst of all on
 * a busy machine.
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

size_t mcp_batch_adapt(const mcp_batch_strategy *s, size_t target, bool full, uint64_t latency_us, size_t failures)
{
    size_t next = target;
    if (failures > 0)
        next = target / 2;
    else if (latency_us > s->target_latency_us)
        next = target - target / 4;
    else if (full)
        next = target + (target / 8 ? target / 8 : 1);
    if (next < s->min_size)
        next = s->min_size;
    if (next > s->max_size)
        next = s->max_size;
    return next;
}

uint64_t mcp_batch_service_us(uint64_t sent_ns, uint64_t ahead_done_ns, uint64_t done_ns)
{
    uint64_t start = ahead_done_ns > sent_ns ? ahead_done_ns : sent_ns;
    return done_ns > start ? (done_ns - start) / 1000u : 0;
}
