/*
 * pool/observe.c — the relay between the clients of pools and batchers and
 * the caller's observer (see pool_observe.h for what it adds and why).
 *
 * The state that travels with a request from the sending code into the
 * client's report is per thread: the client reports a request on the
 * thread that sends it, inside mcp_client_request, so a thread-local slot
 * set just before that call reaches exactly that request.
 */
#include "pool/pool_observe.h"

#include "mcp/json.h"
#include "mcp/rpc.h"

#include <string.h>

static _Thread_local bool tls_quiet;
static _Thread_local void *tls_handed;

static mcp_str string_of(const mcp_json *v)
{
    return mcp_json_is_string(v) ? (mcp_str){mcp_json_str(v, ""), mcp_json_str_len(v)} : (mcp_str){NULL, 0};
}

static void *relay_start(void *user, const mcp_request_info *info)
{
    const mcp_pool_observer *po = user;
    if (tls_handed) {
        void *handle = tls_handed;
        tls_handed = NULL;
        return handle;
    }
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

/* The same reading of a request as the client's own report: method, the
 * tool or prompt name, the resource, a parent the caller put in _meta. It
 * parses params once more, which only happens with an observer. */
void *mcp_pool_observer_begin(const mcp_pool_observer *po, const char *method, const char *params_json)
{
    const mcp_observer *o = po->inner;
    if (!o || !o->on_request_start || tls_quiet)
        return NULL;
    mcp_request_info info = {
        .method = mcp_str_from(method),
        .protocol_version = po->protocol_version,
        .transport = po->transport,
        .client = true,
    };
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    if (params_json && mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) == 0) {
        if (!strcmp(method, "tools/call") || !strcmp(method, "prompts/get"))
            info.target = string_of(mcp_json_get(params, "name"));
        else if (!strncmp(method, "resources/", 10))
            info.resource_uri = string_of(mcp_json_get(params, "uri"));
        const mcp_json *meta = mcp_json_get(params, "_meta");
        info.traceparent = string_of(mcp_json_get(meta, "traceparent"));
        info.tracestate = string_of(mcp_json_get(meta, "tracestate"));
    }
    void *handle = o->on_request_start(o->user, &info);
    mcp_arena_free(&arena);
    /* The call waits and travels on other threads: it is not this
     * thread's current work. */
    if (handle && o->on_handler_exit)
        o->on_handler_exit(o->user, handle);
    return handle;
}

void mcp_pool_observer_hand(void *handle)
{
    tls_handed = handle;
}

void *mcp_pool_observer_unhand(void)
{
    void *left = tls_handed;
    tls_handed = NULL;
    return left;
}

void mcp_pool_observer_end(const mcp_pool_observer *po, void *handle, int status)
{
    if (!handle || !po->inner || !po->inner->on_request_end)
        return;
    /* As the client reports a request that got no answer: a local failure. */
    mcp_request_outcome out = {0};
    if (status < 0)
        out = (mcp_request_outcome){.rpc_code = MCP_RPC_INTERNAL_ERROR, .message = mcp_strerror(status)};
    po->inner->on_request_end(po->inner->user, handle, &out);
}
