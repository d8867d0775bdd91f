/*
 * pool/pool_observe.h — client spans for the requests of connection pools
 * and request batchers.
 *
 * Pools and batchers send through mcp_client, which already reports each
 * request to an mcp_observer and writes the observer's traceparent into
 * params._meta. What they add sits in front of the caller's observer (a
 * relay that the clients are given instead):
 *  - network.transport, which the client does not know;
 *  - silence for their own traffic (handshakes, health pings), which is
 *    not a caller's request;
 *  - a span begun on the caller's thread for a call that is sent later
 *    from an I/O or worker thread (mcp_pool_call_async, mcp_batcher_add),
 *    so that it is parented on the caller's current span and covers the
 *    wait in the queue. It is begun by the client's own reading of a
 *    request (mcp_client_observe_begin); the sending thread gives it to the
 *    client (mcp_client_request_opts.observe_handle), which ends it on the
 *    reply like any other.
 *
 * Without an observer nothing here runs: the clients get none, and the
 * callers test `inner` before anything else.
 */
#ifndef MCP_POOL_OBSERVE_H
#define MCP_POOL_OBSERVE_H

#include "mcp/mcp.h"

typedef struct mcp_pool_observer {
    mcp_observer relay;            /* given to the clients; user is this struct */
    const mcp_observer *inner;     /* the caller's, or NULL */
    const char *transport;         /* network.transport: "tcp", "pipe", or NULL */
    const char *protocol_version;  /* for spans begun before a client is chosen, or NULL */
} mcp_pool_observer;

/* po must stay where it is while clients use it. inner may be NULL. */
void mcp_pool_observer_init(mcp_pool_observer *po, const mcp_observer *inner, const char *transport);
/* What mcp_client_opts.observer should be: NULL without an inner observer. */
const mcp_observer *mcp_pool_observer_for_clients(const mcp_pool_observer *po);
/* While true, requests the clients report on this thread are not observed
 * (the pool's and batcher's own traffic). Returns the previous setting. */
bool mcp_pool_observer_quiet(bool quiet);
/* Begin the client span of a call on the caller's thread: parented on the
 * call's params._meta.traceparent, else on the thread's current span.
 * NULL when there is no observer or it made none. */
void *mcp_pool_observer_begin(const mcp_pool_observer *po, const char *method, const char *params_json);
/* End a begun span no client took: status < 0, the call failed without a
 * reply; otherwise a success. */
void mcp_pool_observer_end(const mcp_pool_observer *po, void *handle, int status);

#endif
