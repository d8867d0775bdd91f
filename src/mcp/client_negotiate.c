/*
 * client_negotiate.c — agreeing on a protocol version with the server.
 *
 * Three ways in, chosen by opts.protocol_version:
 *  - NULL (auto): ask server/discover in the modern era; a server that lists
 *    2026-07-28 is spoken to statelessly, anything else (an error, a result
 *    without that version, a timeout) falls back to the handshake proposing
 *    MCP_PROTOCOL_LATEST_HANDSHAKE. Handshake-era servers answer the unknown
 *    method with -32601, which is exactly the signal we need.
 *  - a modern version: no round trip at all; the first real request carries
 *    the version in _meta and the server refuses it (-32022) if it must.
 *  - a handshake version: initialize proposing it. The server may answer
 *    with another version; we accept any handshake version we speak and
 *    fail with MCP_EUNSUPPORTED otherwise, as the spec tells a client to.
 */
#include "mcp/client_internal.h"

#include <stdlib.h>
#include <string.h>

static void finish(mcp_client *c, int status, const mcp_json *value)
{
    c->state = status == 0 ? MCP_CLIENT_READY : MCP_CLIENT_FAILED;
    mcp_client_done_fn done = c->start_done;
    c->start_done = NULL;
    if (done)
        done(c->start_user, status, value, 0);
}

static void keep_json(char **slot, const mcp_json *node)
{
    free(*slot);
    *slot = NULL;
    if (!node)
        return;
    mcp_str raw = mcp_json_raw(node);
    if (raw.len > 0)
        *slot = mcp_client_strndup(raw.ptr, raw.len);
}

static void keep_string(char **slot, const mcp_json *node)
{
    free(*slot);
    *slot = mcp_json_is_string(node) ? mcp_client_strdup(mcp_json_str(node, "")) : NULL;
}

static int send_initialize(mcp_client *c, const char *version)
{
    mcp_buf params;
    mcp_buf_init(&params);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &params);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "protocolVersion");
    mcp_json_write_cstr(&w, version);
    mcp_json_write_key(&w, "capabilities");
    mcp_json_write_raw(&w, c->capabilities, strlen(c->capabilities));
    mcp_json_write_key(&w, "clientInfo");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "name");
    mcp_json_write_cstr(&w, c->name);
    mcp_json_write_key(&w, "version");
    mcp_json_write_cstr(&w, c->version);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    c->modern = false;
    c->state = MCP_CLIENT_INITIALIZING;
    if (rc == 0)
        rc = mcp_client_send_request(c, "initialize", params.data, NULL, MCP_CLIENT_FOR_INITIALIZE,
                                     NULL, NULL, NULL);
    mcp_buf_free(&params);
    return rc;
}

int mcp_client_start(mcp_client *client, mcp_client_done_fn done, void *user)
{
    if (client->state != MCP_CLIENT_IDLE)
        return MCP_EINVAL;
    const char *v = client->requested_version;
    if (v && !mcp_protocol_is_supported(v))
        return MCP_EUNSUPPORTED;
    client->start_done = done;
    client->start_user = user;
    if (v && mcp_protocol_is_modern(v)) {
        client->modern = true;
        client->protocol_version = mcp_client_strdup(v);
        if (!client->protocol_version)
            return MCP_ENOMEM;
        finish(client, 0, NULL);
        return 0;
    }
    int rc;
    if (v) {
        rc = send_initialize(client, v);
    } else {
        client->modern = true;
        client->state = MCP_CLIENT_DISCOVERING;
        rc = mcp_client_send_request(client, "server/discover", NULL, NULL, MCP_CLIENT_FOR_DISCOVER,
                                     NULL, NULL, NULL);
    }
    if (rc != 0) {
        client->state = MCP_CLIENT_FAILED;
        client->start_done = NULL;
    }
    return rc;
}

static bool lists_modern(const mcp_json *versions)
{
    for (const mcp_json *v = mcp_json_first(versions); v; v = mcp_json_next(v))
        if (!strcmp(mcp_json_str(v, ""), MCP_PROTOCOL_MODERN))
            return true;
    return false;
}

static void discovered(mcp_client *c, int status, const mcp_json *result)
{
    if (status == 0 && lists_modern(mcp_json_get(result, "supportedVersions"))) {
        free(c->protocol_version);
        c->protocol_version = mcp_client_strdup(MCP_PROTOCOL_MODERN);
        if (!c->protocol_version) {
            finish(c, MCP_ENOMEM, NULL);
            return;
        }
        keep_json(&c->server_capabilities, mcp_json_get(result, "capabilities"));
        keep_json(&c->server_info,
                  mcp_json_get(mcp_json_get(result, "_meta"), "io.modelcontextprotocol/serverInfo"));
        keep_string(&c->instructions, mcp_json_get(result, "instructions"));
        finish(c, 0, result);
        return;
    }
    if (status == MCP_ECLOSED || status == MCP_ENOMEM) {
        finish(c, status, NULL);
        return;
    }
    int rc = send_initialize(c, MCP_PROTOCOL_LATEST_HANDSHAKE);
    if (rc != 0)
        finish(c, rc, NULL);
}

static void initialized(mcp_client *c, int status, const mcp_json *result)
{
    if (status != 0) {
        finish(c, status == MCP_CLIENT_INPUT_REQUIRED ? MCP_EPROTO : status, result);
        return;
    }
    const mcp_json *version = mcp_json_get(result, "protocolVersion");
    const char *v = mcp_json_str(version, NULL);
    if (!v || strlen(v) != mcp_json_str_len(version) || !mcp_protocol_is_supported(v) ||
        mcp_protocol_is_modern(v)) {
        finish(c, MCP_EUNSUPPORTED, result);
        return;
    }
    free(c->protocol_version);
    c->protocol_version = mcp_client_strdup(v);
    keep_json(&c->server_capabilities, mcp_json_get(result, "capabilities"));
    keep_json(&c->server_info, mcp_json_get(result, "serverInfo"));
    keep_string(&c->instructions, mcp_json_get(result, "instructions"));
    int rc = c->protocol_version ? mcp_client_notify(c, "notifications/initialized", NULL) : MCP_ENOMEM;
    finish(c, rc, rc == 0 ? result : NULL);
}

void mcp_client_negotiate_done(mcp_client *client, mcp_client_purpose purpose, int status,
                               const mcp_json *value)
{
    if (purpose == MCP_CLIENT_FOR_DISCOVER)
        discovered(client, status, value);
    else
        initialized(client, status, value);
}
