/*
 * lifecycle.c — initialize and ping (handshake era), server/discover
 * (modern era): how a peer learns which versions and features we offer.
 */
#include "internal.h"
#include "tasks_modern.h"

#include <stdio.h>
#include <string.h>

static int invalid_params(mcp_call *call, const char *message)
{
    return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, message);
}

int mcp_method_initialize(mcp_call *call)
{
    mcp_session *s = call->session;
    const mcp_json *params = call->params;
    const mcp_json *requested = mcp_json_get(params, "protocolVersion");
    if (!mcp_json_is_string(requested))
        return invalid_params(call, "Invalid params: protocolVersion must be a string");
    if (!mcp_json_is_object(mcp_json_get(params, "capabilities")))
        return invalid_params(call, "Invalid params: capabilities must be an object");
    if (!mcp_json_is_object(mcp_json_get(params, "clientInfo")))
        return invalid_params(call, "Invalid params: clientInfo must be an object");
    if (s->state == MCP_SESSION_READY)
        return mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Invalid Request: session already initialized");

    /* A version we speak is echoed; otherwise we offer our latest and the
     * client decides whether it can live with it. 2026-07-28 has no
     * initialize, so asking for it through initialize gets the latest
     * handshake version too. */
    const char *v = mcp_json_str(requested, "");
    const char *chosen = MCP_PROTOCOL_LATEST_HANDSHAKE;
    if (mcp_protocol_is_supported(v) && !mcp_protocol_is_modern(v) && strlen(v) == mcp_json_str_len(requested))
        chosen = v;
    /* Keep what the client can do for the life of the session: it decides
     * which server-to-client requests we may send. */
    mcp_str raw = mcp_json_raw(mcp_json_get(params, "capabilities"));
    char *caps_text = mcp_arena_strndup(&s->caps_arena, raw.ptr, raw.len);
    mcp_json *caps = NULL;
    if (!caps_text || mcp_json_parse(&s->caps_arena, caps_text, raw.len, NULL, &caps, NULL) != 0)
        return MCP_ENOMEM;
    pthread_mutex_lock(&s->lock);
    s->client_caps = caps;
    snprintf(s->version, sizeof s->version, "%s", chosen);
    s->state = MCP_SESSION_READY;
    pthread_mutex_unlock(&s->lock);
    call->version = s->version;

    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_json_write_key(&w, "protocolVersion");
    mcp_json_write_cstr(&w, chosen);
    mcp_json_write_key(&w, "capabilities");
    mcp_server_write_capabilities(s->server, chosen, &w);
    mcp_json_write_key(&w, "serverInfo");
    mcp_server_write_info(s->server, chosen, &w);
    if (s->server->opts.instructions) {
        mcp_json_write_key(&w, "instructions");
        mcp_json_write_cstr(&w, s->server->opts.instructions);
    }
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

int mcp_method_ping(mcp_call *call)
{
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

/* The modern capabilities: the core ones, which every era shares, plus
 * the extensions only this era has (tasks moved into one). */
static void write_modern_capabilities(const mcp_server *server, mcp_json_writer *w)
{
    mcp_buf core, ext;
    mcp_buf_init(&core);
    mcp_buf_init(&ext);
    mcp_json_writer cw, ew;
    mcp_json_writer_init(&cw, &core);
    mcp_server_write_capabilities(server, MCP_PROTOCOL_MODERN, &cw);
    mcp_json_writer_init(&ew, &ext);
    mcp_json_begin_object(&ew);
    mcp_tasks_write_extension(&ew);
    mcp_json_end_object(&ew);
    /* The core object (never empty: logging is always there) with the
     * extension members added before its closing brace. */
    if (mcp_json_writer_status(&cw) == 0 && mcp_json_writer_status(&ew) == 0 && core.len > 2 && ext.len > 2) {
        core.len--;
        if (mcp_buf_append_char(&core, ',') == 0 && mcp_buf_append(&core, ext.data + 1, ext.len - 1) == 0)
            mcp_json_write_raw(w, core.data, core.len);
        else
            mcp_server_write_capabilities(server, MCP_PROTOCOL_MODERN, w);
    } else {
        mcp_server_write_capabilities(server, MCP_PROTOCOL_MODERN, w);
    }
    mcp_buf_free(&core);
    mcp_buf_free(&ext);
}

int mcp_method_discover(mcp_call *call)
{
    /* The answer is always a modern DiscoverResult, even to a probe that
     * carried no _meta. */
    call->modern = true;
    call->version = MCP_PROTOCOL_MODERN;
    const mcp_server *server = call->session->server;
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_json_write_key(&w, "supportedVersions");
    mcp_json_begin_array(&w);
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        mcp_json_write_cstr(&w, mcp_protocol_versions[i]);
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "capabilities");
    write_modern_capabilities(server, &w);
    if (server->opts.instructions) {
        mcp_json_write_key(&w, "instructions");
        mcp_json_write_cstr(&w, server->opts.instructions);
    }
    mcp_call_write_cache_hints(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}
