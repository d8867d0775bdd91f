/*
 * pool/observe.c — the relay between the clients of pools and batchers and
 * the caller's observer (see pool_observe.h for what it adds and why).
 *
 * The quiet setting is per thread: the client reports a request on the
 * thread that sends it, inside the call that sends it, so a thread-local
 * flag set around the pool's own calls reaches exactly those requests.
 * Reading a request into a report is the client's (client_observe.c).
 */
#include "pool/pool_observe.h"

#include "mcp/client.h"

static _Thread_local bool tls_quiet;

static void *relay_start(void *user, const mcp_request_info *info)
{
    const mcp_pool_observer *po = user;
    if (tls_quiet || !po->inner->on_request_start)
        return NULL;
    mcp_request_info tagged = *info;
    if (!tagged.transport)
        tagged.transport = po->transport;
    return po->inner->on_request_start(po->inner->user, &tagged);
}

static void relay_end(void *user, void *handle, const mcp_request_outcome *outcome)
{
    const mcp_pool_observer *po = user;
    if (handle && po->inner->on_request_end)
        po->inner->on_request_end(po->inner->user, handle, outcome);
}

static int relay_traceparent(void *user, void *handle, char out[MCP_TRACEPARENT_TEXT_LEN + 1])
{
    const mcp_pool_observer *po = user;
    if (!handle || !po->inner->traceparent)
        return MCP_EUNSUPPORTED;
    return po->inner->traceparent(po->inner->user, handle, out);
}

static void relay_handler_exit(void *user, void *handle)
{
    const mcp_pool_observer *po = user;
    if (handle && po->inner->on_handler_exit)
        po->inner->on_handler_exit(po->inner->user, handle);
}

void mcp_pool_observer_init(mcp_pool_observer *po, const mcp_observer *inner, const char *transport)
{
    *po = (mcp_pool_observer){
        .relay = {.on_request_start = relay_start,
                  .on_request_end = relay_end,
                  .traceparent = relay_traceparent,
                  .on_handler_exit = relay_handler_exit,
                  .user = po},
        .inner = inner,
        .transport = transport,
    };
}

const mcp_observer *mcp_pool_observer_for_clients(const mcp_pool_observer *po)
{
    return po->inner ? &po->relay : NULL;
}

bool mcp_pool_observer_quiet(bool quiet)
{
    bool was = tls_quiet;
    tls_quiet = quiet;
    return was;
}

void *mcp_pool_observer_begin(const mcp_pool_observer *po, const char *method, const char *params_json)
{
    if (tls_quiet)
        return NULL;
    return mcp_client_observe_begin(po->inner, method, params_json, po->protocol_version, po->transport);
}

void mcp_pool_observer_end(const mcp_pool_observer *po, void *handle, int status)
{
    mcp_client_observe_abandon(po->inner, handle, status);
}
