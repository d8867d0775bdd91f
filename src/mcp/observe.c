/*
 * observe.c — the server core's side of the observer interface: what it
 * tells the observer about each request, and when.
 *
 * A request is started right before its handler runs (dispatch has then
 * learnt method, params and version), so the handler runs under the
 * observer's span; one that fails earlier (bad params, unknown method) is
 * started and ended together when it completes. Everything passed is a
 * slice of what the call already holds: nothing is copied, parsed or
 * looked up here (dispatch notes the members the observer reports as it
 * reads params and _meta).
 *
 * Transports that know more than the message (which transport, the HTTP
 * session, the traceparent header) pass it through mcp_session_handle_from,
 * which keeps it in a thread-local for the duration of the call: the
 * request starts on that thread, inside mcp_session_handle. The peer's
 * address comes the same way, from mcp_transport_peer_swap.
 */
#include "observe.h"

#include <string.h>

static _Thread_local const mcp_transport_info *tls_transport;
/* Set by the network transports per read, not per message: the peer is the
 * connection's, and some transports (HTTP) build their info per request
 * in code that does not know the socket. */
static _Thread_local const mcp_transport_peer *tls_peer;

const mcp_transport_info *mcp_transport_info_swap(const mcp_transport_info *info)
{
    const mcp_transport_info *saved = tls_transport;
    tls_transport = info;
    return saved;
}

const mcp_transport_peer *mcp_transport_peer_swap(const mcp_transport_peer *peer)
{
    const mcp_transport_peer *saved = tls_peer;
    tls_peer = peer;
    return saved;
}

const mcp_observer *mcp_server_observer(const mcp_server *server)
{
    return server ? server->opts.observer : NULL;
}

int mcp_session_handle_from(mcp_session *session, const char *message, size_t len, const mcp_transport_info *info)
{
    const mcp_transport_info *saved = tls_transport;
    tls_transport = info;
    int rc = mcp_session_handle(session, message, len);
    tls_transport = saved;
    return rc;
}

static void start(mcp_call *call, const mcp_observer *o)
{
    call->observed = true;
    if (!call->method)
        return;
    const char *m = call->method;
    size_t len = strlen(m);
    mcp_request_info info = {
        .method = {m, len},
        .request_id = call->id.text,
        .protocol_version = call->version,
    };
    /* Dispatch found these in its own pass over params and _meta. */
    if ((len == 10 && !memcmp(m, "tools/call", 10)) || (len == 11 && !memcmp(m, "prompts/get", 11)))
        info.target = mcp_json_str_view(call->obs_name);
    else if (len > 10 && !memcmp(m, "resources/", 10))
        info.resource_uri = mcp_json_str_view(call->obs_uri);
    info.traceparent = mcp_json_str_view(call->obs_traceparent);
    if (info.traceparent.ptr)
        info.tracestate = mcp_json_str_view(call->obs_tracestate);
    const mcp_transport_info *t = tls_transport;
    if (t) {
        info.transport = t->transport;
        info.network_protocol = t->network_protocol;
        info.session_id = t->session_id;
        info.http_traceparent = t->traceparent;
        info.http_tracestate = t->tracestate;
        /* Only under a transport info: a session driven directly (a test,
         * an in-process peer) is not the connection being read. */
        info.peer = tls_peer;
    }
    call->obs_handle = o->on_request_start(o->user, &info);
}

int mcp_observe_run(mcp_call *call)
{
    const mcp_observer *o = call->session->server->opts.observer;
    if (!o || !o->on_request_start || call->observed)
        return call->run(call);
    start(call, o);
    int rc = call->run(call);
    /* Still ours: a call finished from another thread while its handler
     * runs is completed by the dispatcher, after this returns. */
    if (o->on_handler_exit && call->obs_handle)
        o->on_handler_exit(o->user, call->obs_handle);
    return rc;
}

void mcp_observe_end(mcp_call *call)
{
    const mcp_observer *o = call->session->server->opts.observer;
    if (!o->on_request_start)
        return;
    if (!call->observed)
        start(call, o);
    if (!call->obs_handle || !o->on_request_end)
        return;
    mcp_request_outcome out = {
        .rpc_code = call->fail_code,
        .tool_error = call->kind == MCP_CALL_TOOL && call->is_error,
        .message = call->fail_code ? call->fail_message : NULL,
    };
    o->on_request_end(o->user, call->obs_handle, &out);
    call->obs_handle = NULL;
}
