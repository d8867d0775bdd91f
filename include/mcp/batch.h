/*
 * mcp/batch.h — the client-side request batcher.
 *
 * Many small requests to one server cost far less when they travel
 * together: one write and one read on each side instead of one per message.
 * An mcp_batcher takes requests one at a time from any thread, groups them
 * by a strategy and sends each group over a real connection to the server:
 * as one JSON-RPC batch array when the negotiated protocol version allows
 * arrays (2025-03-26), otherwise as pipelined messages in one write. Every
 * request still gets its own completion.
 *
 *     mcp_batcher *b;
 *     mcp_batcher_new(&(mcp_batcher_opts){
 *         .connect = "127.0.0.1:7000", .protocol_version = "2025-03-26", .workers = 2,
 *         .strategy = { .kind = MCP_BATCH_ADAPTIVE, .min_size = 8, .max_size = 256 } }, &b);
 *     mcp_batcher_add(b, "tools/call", "{\"name\":\"echo\",\"arguments\":{}}", on_done, ctx);
 *     ...
 *     mcp_batcher_flush(b, 5000);   // send what is queued, wait for every completion
 *     mcp_batcher_free(b);
 *
 * Strategies:
 *  - MCP_BATCH_NONE: every request leaves at once in a write of its own
 *    (the unbatched baseline).
 *  - MCP_BATCH_SIZE: a group leaves when `size` requests are queued, or
 *    when the oldest has waited `window_us` (so a trickle is not stranded).
 *  - MCP_BATCH_TIME: a group leaves `window_us` after its first request
 *    arrived, whatever its size (at most max_size).
 *  - MCP_BATCH_ADAPTIVE: a target size between min_size and max_size that
 *    grows while full groups are served within target_latency_us and
 *    shrinks when they are slower or fail; window_us bounds the wait as
 *    above. A group's time counts from when the server could start on it
 *    (it was sent, or the group ahead of it on the connection was
 *    answered) to its last reply: the wait behind earlier groups is the
 *    pipeline's depth, not the group's size.
 *
 * Each worker is a thread with one connection of its own; requests are
 * spread over the workers round robin. Completions run on the worker
 * threads: keep them short, and do not call mcp_batcher_free from one.
 */
#ifndef MCP_BATCH_H
#define MCP_BATCH_H

#include "mcp/base.h"
#include "mcp/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_batcher mcp_batcher;

typedef enum mcp_batch_kind {
    MCP_BATCH_NONE = 0,
    MCP_BATCH_SIZE,
    MCP_BATCH_TIME,
    MCP_BATCH_ADAPTIVE
} mcp_batch_kind;

typedef struct mcp_batch_strategy {
    mcp_batch_kind kind;
    size_t size;                  /* SIZE: requests per group; 0 means 64 */
    unsigned window_us;           /* longest wait of a queued request; 0 means 1000 */
    size_t min_size;              /* ADAPTIVE; 0 means 1 */
    size_t max_size;              /* ADAPTIVE and TIME: largest group; 0 means 1024 */
    unsigned target_latency_us;   /* ADAPTIVE: service time of a full group; 0 means 5000 */
} mcp_batch_strategy;

typedef struct mcp_batcher_opts {
    const char *connect;          /* "HOST:PORT" of the server (TCP, newline-delimited JSON); required */
    /* As mcp_client_opts.protocol_version: NULL negotiates (modern era when
     * the server offers it). Only "2025-03-26" allows batch arrays. */
    const char *protocol_version;
    unsigned workers;             /* connections, one thread each; 0 means 1 */
    mcp_batch_strategy strategy;
    unsigned timeout_ms;          /* per request, from when it is sent (and for waiting in the queue); 0 means 60000 */
    unsigned connect_timeout_ms;  /* 0 means 5000 */
    size_t max_queued;            /* per worker; add fails with MCP_EAGAIN beyond it; 0 means 65536 */
    /* Per connection, requests sent and not answered; 0 means 1024. More
     * buys nothing once the pipe is full, and the client matches replies
     * by a linear search of its pending requests. */
    size_t max_inflight;
    /* Tracing hooks (mcp/mcp.h "Observer"; mcp_obs_observer makes spans):
     * each request gets a client span (network.transport "tcp"), begun in
     * mcp_batcher_add on the caller's thread, parented on the request's
     * params._meta.traceparent, else on that thread's current span; it
     * covers the wait in the queue and ends with the reply or the failure
     * (error.type set; also when add refuses it). Its traceparent goes out
     * in params._meta. The workers' handshakes are not reported. NULL: no
     * hooks and no cost. Kept by pointer: must outlive the batcher. */
    const mcp_observer *observer;
} mcp_batcher_opts;

typedef struct mcp_batcher_stats {
    uint64_t added;               /* requests accepted by mcp_batcher_add */
    uint64_t completed;           /* completions delivered (any status) */
    uint64_t failed;              /* of those, with a negative status */
    uint64_t rpc_errors;          /* of those, answered with a JSON-RPC error */
    uint64_t groups;              /* groups sent */
    uint64_t arrays;              /* of those, as one batch array */
    uint64_t writes;              /* write calls on the sockets */
    uint64_t reconnects;          /* connections re-opened after a loss */
    size_t queued;                /* waiting to be sent, now */
    size_t inflight;              /* sent and not answered, now */
    size_t target_size;           /* the strategy's current group size */
    double mean_group_size;       /* requests per group so far */
    double group_latency_us;      /* smoothed round trip of a group (send to last reply) */
} mcp_batcher_stats;

/* Connect every worker (negotiating the protocol version) and start them.
 * Fails with the first connection's error; nothing is left running then. */
int mcp_batcher_new(const mcp_batcher_opts *opts, mcp_batcher **out);
/* Queue one request (params_json: an object's JSON text, or NULL). done runs
 * exactly once, on a worker thread, as mcp_client_done_fn says; not at all
 * when add fails. Thread safe. MCP_EAGAIN when the queue is full,
 * MCP_ECLOSED after free began. */
int mcp_batcher_add(mcp_batcher *b, const char *method, const char *params_json,
                    mcp_client_done_fn done, void *user);
/* Send everything queued now, whatever the strategy, and wait until as
 * many requests have completed as had been added before this call (when
 * other threads keep adding meanwhile, their completions count too).
 * 0, or MCP_ETIMEDOUT. */
int mcp_batcher_flush(mcp_batcher *b, unsigned timeout_ms);
/* Change the strategy while running; groups already sent are unaffected. */
int mcp_batcher_set_strategy(mcp_batcher *b, const mcp_batch_strategy *strategy);
void mcp_batcher_get_stats(mcp_batcher *b, mcp_batcher_stats *out);
/* The version the workers negotiated ("2025-03-26" means arrays). */
const char *mcp_batcher_protocol_version(const mcp_batcher *b);
/* Stop the workers; queued and in-flight requests complete with MCP_ECLOSED. */
void mcp_batcher_free(mcp_batcher *b);

#ifdef __cplusplus
}
#endif
#endif
