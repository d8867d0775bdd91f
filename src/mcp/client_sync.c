/*
 * client_sync.c — the blocking API: a poll loop on the calling thread over
 * an mcp_client_transport. Each wait is cut at the nearest request deadline
 * so that timeouts fire on time without a timer thread.
 */
#include "mcp/client_internal.h"

#include <stdlib.h>
#include <string.h>

/* Longest single wait: bounds how late a deadline set by a progress
 * notification handled elsewhere can be noticed. */
#define MAX_WAIT_MS 1000u

typedef struct sync_wait {
    mcp_client_result *result;
    bool done;
} sync_wait;

static void sync_done(void *user, int status, const mcp_json *value, int64_t id)
{
    sync_wait *w = user;
    w->done = true;
    if (!w->result)
        return;
    w->result->status = status;
    w->result->id = id;
    if (value) {
        mcp_str raw = mcp_json_raw(value);
        w->result->json = mcp_client_strndup(raw.ptr, raw.len);
        w->result->len = w->result->json ? raw.len : 0;
        if (!w->result->json)
            w->result->status = MCP_ENOMEM;
    }
}

void mcp_client_result_free(mcp_client_result *result)
{
    if (!result)
        return;
    free(result->json);
    memset(result, 0, sizeof *result);
}

static unsigned wait_budget(const mcp_client *c)
{
    uint64_t nearest = UINT64_MAX;
    for (size_t i = 0; i < c->pending_count; i++)
        if (c->pending[i].deadline_ns < nearest)
            nearest = c->pending[i].deadline_ns;
    if (nearest == UINT64_MAX)
        return MAX_WAIT_MS;
    if (nearest <= c->now_ns)
        return 0;
    uint64_t ms = (nearest - c->now_ns) / 1000000u + 1;
    return ms < MAX_WAIT_MS ? (unsigned)ms : MAX_WAIT_MS;
}

int mcp_client_pump(mcp_client *client, unsigned timeout_ms)
{
    if (!client->transport)
        return MCP_EINVAL;
    if (client->transport_closed)
        return MCP_ECLOSED;
    mcp_client_tick(client, mcp_now_ns());
    int rc = client->transport->recv(client->transport, &client->inbox, timeout_ms);
    mcp_client_tick(client, mcp_now_ns());
    if (rc == 0) {
        rc = mcp_client_handle(client, client->inbox.data, client->inbox.len);
        mcp_client_tick(client, mcp_now_ns());
        return rc;
    }
    if (rc == MCP_ELIMIT) {
        client->counters.messages_in++;
        client->counters.malformed++;
        return 0;
    }
    if (rc == MCP_ETIMEDOUT)
        return rc;
    client->transport_closed = true;
    mcp_client_close(client);
    return MCP_ECLOSED;
}

/* Pump until w->done; the request's own deadline guarantees an end. */
static void pump_until(mcp_client *client, sync_wait *w)
{
    while (!w->done) {
        int rc = mcp_client_pump(client, wait_budget(client));
        if (rc == MCP_ECLOSED && !w->done) {
            /* Closed before the request was even registered as pending. */
            sync_done(w, MCP_ECLOSED, NULL, 0);
        }
    }
}

int mcp_client_connect(mcp_client *client, unsigned timeout_ms, mcp_client_result *result)
{
    if (!client->transport)
        return MCP_EINVAL;
    if (result)
        memset(result, 0, sizeof *result);
    uint64_t saved = client->default_timeout_ns;
    if (timeout_ms)
        client->default_timeout_ns = (uint64_t)timeout_ms * 1000000u;
    mcp_client_tick(client, mcp_now_ns());
    mcp_client_result local = {0};
    sync_wait w = {result ? result : &local, false};
    int rc = mcp_client_start(client, sync_done, &w);
    if (rc == 0)
        pump_until(client, &w);
    else
        w.result->status = rc;
    client->default_timeout_ns = saved;
    rc = w.result->status;
    mcp_client_result_free(&local);
    return rc;
}

int mcp_client_call_sync(mcp_client *client, const char *method, const char *params_json,
                         const mcp_client_request_opts *ropts, mcp_client_result *result)
{
    memset(result, 0, sizeof *result);
    if (!client->transport)
        return result->status = MCP_EINVAL;
    if (client->transport_closed)
        return result->status = MCP_ECLOSED;
    mcp_client_tick(client, mcp_now_ns());
    sync_wait w = {result, false};
    int rc = mcp_client_request(client, method, params_json, ropts, sync_done, &w, &result->id);
    if (rc != 0)
        return result->status = rc;
    pump_until(client, &w);
    return result->status;
}
