/*
 * Bounded MPMC queue of pointers: a ring of cells, each carrying a sequence
 * number that says whose turn the cell is.
 *
 * A cell at index i is free for the producer holding ticket t when its
 * sequence equals t, and full for the consumer holding ticket t when it
 * equals t + 1. Producers and consumers each take tickets from their own
 * counter with one compare-and-swap; after writing (or reading) the slot the
 * owner publishes the next sequence with a release store, which is what the
 * other side acquires. No thread ever waits for another inside push or pop:
 * a full or empty ring is reported as MCP_EAGAIN at once, so a stalled
 * thread can only delay the one cell it holds, never the callers.
 *
 * The two counters live on separate cache lines because producers and
 * consumers hammer them from different cores.
 */
#include "mcp/base.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define CACHE_LINE 64
#define MAX_CAPACITY ((size_t)1 << 30)

typedef struct queue_cell {
    atomic_size_t seq;
    void *item;
} queue_cell;

struct mcp_queue {
    alignas(CACHE_LINE) atomic_size_t push_pos;
    alignas(CACHE_LINE) atomic_size_t pop_pos;
    alignas(CACHE_LINE) size_t mask;
    queue_cell *cells;
};

int mcp_queue_new(size_t capacity, mcp_queue **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    if (capacity == 0 || capacity > MAX_CAPACITY) return MCP_EINVAL;
    size_t cap = 1;
    while (cap < capacity) cap <<= 1;
    /* The ring needs two cells to tell "full" from "empty" by sequence. */
    if (cap < 2) cap = 2;

    mcp_queue *q = aligned_alloc(CACHE_LINE, sizeof *q);
    if (!q) return MCP_ENOMEM;
    q->cells = malloc(cap * sizeof *q->cells);
    if (!q->cells) {
        free(q);
        return MCP_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&q->cells[i].seq, i);
        q->cells[i].item = NULL;
    }
    q->mask = cap - 1;
    atomic_init(&q->push_pos, 0);
    atomic_init(&q->pop_pos, 0);
    *out = q;
    return MCP_OK;
}

void mcp_queue_free(mcp_queue *q) {
    if (!q) return;
    free(q->cells);
    free(q);
}

int mcp_queue_push(mcp_queue *q, void *item) {
    size_t pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
    queue_cell *cell;
    for (;;) {
        cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->push_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
            /* pos was reloaded by the failed CAS; try that ticket. */
        } else if (diff < 0) {
            return MCP_EAGAIN; /* the cell still holds an item from one lap ago: full */
        } else {
            pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
        }
    }
    cell->item = item;
    atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
    return MCP_OK;
}

int mcp_queue_pop(mcp_queue *q, void **item) {
    size_t pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
    queue_cell *cell;
    for (;;) {
        cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->pop_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return MCP_EAGAIN; /* no producer has filled this cell yet: empty */
        } else {
            pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
        }
    }
    *item = cell->item;
    /* Hand the cell to the producer one lap ahead. */
    atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
    return MCP_OK;
}

size_t mcp_queue_capacity(const mcp_queue *q) {
    return q->mask + 1;
}

size_t mcp_queue_size(const mcp_queue *q) {
    size_t pop = atomic_load_explicit(&((mcp_queue *)q)->pop_pos, memory_order_acquire);
    size_t push = atomic_load_explicit(&((mcp_queue *)q)->push_pos, memory_order_acquire);
    if (push < pop) return 0; /* the two loads raced */
    size_t n = push - pop;
    return n > q->mask + 1 ? q->mask + 1 : n;
}
