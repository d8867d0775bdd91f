/*
 * client_observe.c — the client's side of the observer interface: a
 * request about to be sent is reported (method, the tool or prompt name,
 * the resource, the id), the observer's traceparent is written into its
 * params._meta, and the request's end is reported with its outcome.
 *
 * The same reading serves a report begun before any client has the
 * request (mcp_client_observe_begin: pools and batchers queue calls on the
 * caller's thread and send them from their own), so that both kinds of
 * report carry the same attributes.
 *
 * The client is not on a server's hot path, so reading the target parses
 * params once more; it happens only when an observer is set.
 */
#include "mcp/client_internal.h"

#include <stdio.h>
#include <string.h>

static mcp_str string_of(const mcp_json *v)
{
    return mcp_json_is_string(v) ? (mcp_str){mcp_json_str(v, ""), mcp_json_str_len(v)} : (mcp_str){NULL, 0};
}

/* Complete info from the request's params and begin its report. */
static void *report_begin(const mcp_observer *o, mcp_request_info *info, const char *method,
                          const char *params_json)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    if (params_json && mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) == 0) {
        if (!strcmp(method, "tools/call") || !strcmp(method, "prompts/get"))
            info->target = string_of(mcp_json_get(params, "name"));
        else if (!strncmp(method, "resources/", 10))
            info->resource_uri = string_of(mcp_json_get(params, "uri"));
        /* A context the caller passed on in _meta is the parent. */
        const mcp_json *meta = mcp_json_get(params, "_meta");
        info->traceparent = string_of(mcp_json_get(meta, "traceparent"));
        info->tracestate = string_of(mcp_json_get(meta, "tracestate"));
    }
    void *handle = o->on_request_start(o->user, info);
    mcp_arena_free(&arena);
    /* The request is in flight until its response: not this thread's
     * current work. */
    if (handle && o->on_handler_exit)
        o->on_handler_exit(o->user, handle);
    return handle;
}

static void report_end(const mcp_observer *o, void *handle, int status, const mcp_json *value)
{
    if (!o || !o->on_request_end || !handle)
        return;
    mcp_request_outcome out = {0};
    if (status == MCP_CLIENT_RPC_ERROR) {
        out.rpc_code = (int)mcp_json_int(mcp_json_get(value, "code"), MCP_RPC_INTERNAL_ERROR);
        out.message = mcp_json_str(mcp_json_get(value, "message"), NULL);
    } else if (status < 0) {
        /* No answer (timeout, cancelled, closed): a local failure. */
        out.rpc_code = MCP_RPC_INTERNAL_ERROR;
        out.message = mcp_strerror(status);
    } else {
        out.tool_error = mcp_json_bool(mcp_json_get(value, "isError"), false);
    }
    o->on_request_end(o->user, handle, &out);
}

void *mcp_client_observe_begin(const mcp_observer *observer, const char *method, const char *params_json,
                               const char *protocol_version, const char *transport)
{
    if (!observer || !observer->on_request_start || !method)
        return NULL;
    mcp_request_info info = {
        .method = mcp_str_from(method),
        .protocol_version = protocol_version,
        .transport = transport,
        .client = true,
    };
    return report_begin(observer, &info, method, params_json);
}

void mcp_client_observe_abandon(const mcp_observer *observer, void *handle, int status)
{
    report_end(observer, handle, status, NULL);
}

void *mcp_client_observe_send(mcp_client *client, const char *method, const char *params_json, int64_t id,
                              void *begun)
{
    const mcp_observer *o = client->observer;
    client->traceparent[0] = '\0';
    void *handle = begun;
    if (!handle) {
        if (!o || !o->on_request_start)
            return NULL;
        char id_text[24];
        int id_len = snprintf(id_text, sizeof id_text, "%lld", (long long)id);
        mcp_request_info info = {
            .method = mcp_str_from(method),
            .request_id = {id_text, (size_t)id_len},
            .protocol_version = client->protocol_version,
            .client = true,
        };
        handle = report_begin(o, &info, method, params_json);
        if (!handle)
            return NULL;
    }
    if (o && o->traceparent && o->traceparent(o->user, handle, client->traceparent) != 0)
        client->traceparent[0] = '\0';
    return handle;
}

void mcp_client_observe_end(mcp_client *client, void *handle, int status, const mcp_json *value)
{
    report_end(client->observer, handle, status, value);
}
