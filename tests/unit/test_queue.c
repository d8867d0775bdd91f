/* Request queue: ordering, full/empty signalling, capacity rounding, and
 * concurrent producers and consumers losing or duplicating nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "mcp/base.h"

static void test_rejects_bad_capacity(void **state) {
    (void)state;
    mcp_queue *q = (mcp_queue *)1;
    assert_int_equal(mcp_queue_new(0, &q), MCP_EINVAL);
    assert_null(q);
    assert_int_equal(mcp_queue_new(((size_t)1 << 30) + 1, &q), MCP_EINVAL);
    assert_int_equal(mcp_queue_new(4, NULL), MCP_EINVAL);
}

static void test_capacity_rounds_up(void **state) {
    (void)state;
    mcp_queue *q;
    assert_int_equal(mcp_queue_new(1000, &q), 0);
    assert_int_equal(mcp_queue_capacity(q), 1024);
    mcp_queue_free(q);
    assert_int_equal(mcp_queue_new(1, &q), 0);
    assert_int_equal(mcp_queue_capacity(q), 2);
    mcp_queue_free(q);
}

static void test_fifo_full_and_empty(void **state) {
    (void)state;
    mcp_queue *q;
    assert_int_equal(mcp_queue_new(8, &q), 0);
    void *item = NULL;
    assert_int_equal(mcp_queue_pop(q, &item), MCP_EAGAIN);
    /* Several laps round the ring, to exercise the sequence arithmetic. */
    for (uintptr_t lap = 0; lap < 5; lap++) {
        for (uintptr_t i = 1; i <= 8; i++) assert_int_equal(mcp_queue_push(q, (void *)(lap * 100 + i)), 0);
        assert_int_equal(mcp_queue_size(q), 8);
        assert_int_equal(mcp_queue_push(q, (void *)999), MCP_EAGAIN);
        for (uintptr_t i = 1; i <= 8; i++) {
            assert_int_equal(mcp_queue_pop(q, &item), 0);
            assert_int_equal((uintptr_t)item, lap * 100 + i);
        }
        assert_int_equal(mcp_queue_pop(q, &item), MCP_EAGAIN);
        assert_int_equal(mcp_queue_size(q), 0);
    }
    /* Interleaved: the queue never holds more than 3. */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 1000; round++) {
        for (int k = 0; k < 3; k++) assert_int_equal(mcp_queue_push(q, (void *)next_in++), 0);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(mcp_queue_pop(q, &item), 0);
            assert_int_equal((uintptr_t)item, next_out++);
        }
    }
    mcp_queue_free(q);
}

#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 200000

typedef struct shared {
    mcp_queue *q;
    atomic_uint_fast64_t popped;
    unsigned char *seen; /* one flag per item value */
    atomic_int duplicates;
    int producer_index;
} shared;

typedef struct producer_arg {
    shared *sh;
    uintptr_t base;
} producer_arg;

static void *producer(void *arg) {
    producer_arg *pa = arg;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
        /* Values start at 1: NULL is a legal item but makes bugs harder to see. */
        while (mcp_queue_push(pa->sh->q, (void *)(pa->base + i + 1)) == MCP_EAGAIN) sched_yield();
    }
    return NULL;
}

static void *consumer(void *arg) {
    shared *sh = arg;
    const uint64_t total = (uint64_t)PRODUCERS * PER_PRODUCER;
    uintptr_t last_from[PRODUCERS] = {0};
    while (atomic_load(&sh->popped) < total) {
        void *item;
        if (mcp_queue_pop(sh->q, &item) != 0) {
            sched_yield();
            continue;
        }
        uintptr_t v = (uintptr_t)item - 1;
        /* Per producer, one consumer must see values in increasing order. */
        unsigned p = (unsigned)(v / PER_PRODUCER);
        if (p >= PRODUCERS || (last_from[p] && v + 1 <= last_from[p])) atomic_fetch_add(&sh->duplicates, 1);
        else last_from[p] = v + 1;
        if (sh->seen[v]) atomic_fetch_add(&sh->duplicates, 1);
        sh->seen[v] = 1;
        atomic_fetch_add(&sh->popped, 1);
    }
    return NULL;
}

static void test_concurrent_no_loss_no_duplicate(void **state) {
    (void)state;
    shared sh = {0};
    assert_int_equal(mcp_queue_new(64, &sh.q), 0); /* small, so it fills often */
    sh.seen = calloc((size_t)PRODUCERS * PER_PRODUCER, 1);
    assert_non_null(sh.seen);
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    producer_arg pa[PRODUCERS];
    for (int i = 0; i < CONSUMERS; i++) assert_int_equal(pthread_create(&ct[i], NULL, consumer, &sh), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i] = (producer_arg){&sh, (uintptr_t)i * PER_PRODUCER};
        assert_int_equal(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(pt[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) pthread_join(ct[i], NULL);
    assert_int_equal(atomic_load(&sh.duplicates), 0);
    for (size_t i = 0; i < (size_t)PRODUCERS * PER_PRODUCER; i++) {
        if (!sh.seen[i]) fail_msg("item %zu was lost", i);
    }
    void *item;
    assert_int_equal(mcp_queue_pop(sh.q, &item), MCP_EAGAIN);
    free(sh.seen);
    mcp_queue_free(sh.q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_capacity),
        cmocka_unit_test(test_capacity_rounds_up),
        cmocka_unit_test(test_fifo_full_and_empty),
        cmocka_unit_test(test_concurrent_no_loss_no_duplicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
