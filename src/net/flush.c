/*
 * flush.c — the end-of-iteration write queue (mcp_net_flush_queue in
 * net_internal.h): connections ask for their batch write during the reads,
 * and one uv_check runs each of them once the reads are all handled.
 */
#include "net/net_internal.h"

static void on_check(uv_check_t *check) {
    mcp_net_flush_queue *queue = check->data;
    /* Taken whole: what a flush queues anew waits for the next iteration. */
    mcp_net_flush *f = queue->head;
    queue->head = NULL;
    uv_check_stop(check);
    while (f) {
        mcp_net_flush *next = f->next;
        f->next = NULL;
        f->queued = false;
        f->run(f);
        f = next;
    }
}

void mcp_net_flush_queue_init(uv_loop_t *loop, mcp_net_flush_queue *queue) {
    queue->head = NULL;
    uv_check_init(loop, &queue->check);
    queue->check.data = queue;
}

void mcp_net_flush_queue_close(mcp_net_flush_queue *queue, uv_close_cb cb) {
    queue->head = NULL;
    uv_close((uv_handle_t *)&queue->check, cb);
}

void mcp_net_flush_soon(mcp_net_flush_queue *queue, mcp_net_flush *flush) {
    if (flush->queued) return;
    flush->queued = true;
    flush->next = queue->head;
    queue->head = flush;
    if (!uv_is_active((uv_handle_t *)&queue->check)) uv_check_start(&queue->check, on_check);
}

void mcp_net_flush_cancel(mcp_net_flush_queue *queue, mcp_net_flush *flush) {
    if (!flush->queued) return;
    for (mcp_net_flush **p = &queue->head; *p; p = &(*p)->next) {
        if (*p == flush) {
            *p = flush->next;
            break;
        }
    }
    flush->next = NULL;
    flush->queued = false;
}

void mcp_net_flush_now(mcp_net_flush_queue *queue, mcp_net_flush *flush) {
    mcp_net_flush_cancel(queue, flush);
    flush->run(flush);
}
