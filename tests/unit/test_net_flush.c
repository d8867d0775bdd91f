/* The end-of-iteration flush queue (mcp_net_flush_soon): a
 * connection asked to flush any number of times during the reads of one
 * loop iteration writes once, after every read callback of that iteration
 * has run; a cancelled one (a connection being freed) does not run; and a
 * flush asked for from inside a flush waits for the next iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/net_internal.h"

typedef struct probe {
    mcp_net_flush flush; /* first: the flush is the probe */
    mcp_net_flush_queue *queue;
    int runs;
    bool again;          /* ask for another flush from inside the run */
} probe;

static void probe_run(mcp_net_flush *flush) {
    probe *p = (probe *)flush;
    p->runs++;
    if (p->again) {
        p->again = false;
        mcp_net_flush_soon(p->queue, &p->flush);
    }
}

/* A read of this iteration, as the transports have it: an idle handle's
 * callback runs in the same iteration before the check phase. */
typedef struct reads {
    uv_idle_t idle;
    probe *probes;
    int reads_done;
} reads;

static void on_reads(uv_idle_t *idle) {
    reads *r = idle->data;
    probe *p = r->probes;
    mcp_net_flush_soon(p[0].queue, &p[0].flush);
    mcp_net_flush_soon(p[0].queue, &p[0].flush); /* a second read of the same connection */
    mcp_net_flush_soon(p[1].queue, &p[1].flush);
    mcp_net_flush_soon(p[2].queue, &p[2].flush);
    mcp_net_flush_cancel(p[2].queue, &p[2].flush); /* freed before the iteration ends */
    mcp_net_flush_cancel(p[2].queue, &p[2].flush); /* harmless twice */
    /* Nothing is written while reads are still being handled. */
    assert_int_equal(p[0].runs + p[1].runs + p[2].runs, 0);
    r->reads_done++;
    uv_idle_stop(idle);
}

static void test_flush_once_after_the_reads(void **state) {
    (void)state;
    uv_loop_t loop;
    mcp_net_flush_queue queue;
    assert_int_equal(uv_loop_init(&loop), 0);
    mcp_net_flush_queue_init(&loop, &queue);

    probe p[3];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++) {
        p[i].flush.run = probe_run;
        p[i].queue = &queue;
    }
    p[1].again = true;
    reads r = {.probes = p};
    uv_idle_init(&loop, &r.idle);
    r.idle.data = &r;
    uv_idle_start(&r.idle, on_reads);

    uv_run(&loop, UV_RUN_NOWAIT); /* one iteration */
    assert_int_equal(r.reads_done, 1);
    assert_int_equal(p[0].runs, 1);
    assert_int_equal(p[1].runs, 1);
    assert_int_equal(p[2].runs, 0);
    assert_false(p[0].flush.queued);
    assert_true(p[1].flush.queued); /* asked again from inside its run */

    uv_run(&loop, UV_RUN_NOWAIT); /* the next iteration takes it */
    assert_int_equal(p[1].runs, 2);
    assert_int_equal(p[0].runs, 1);
    assert_false(uv_is_active((uv_handle_t *)&queue.check)); /* stopped when nothing waits */

    mcp_net_flush_queue_close(&queue, NULL);
    uv_close((uv_handle_t *)&r.idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_once_after_the_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
