/*
 * mcp/message.h — the requests and notifications this layer writes with
 * the JSON writer, in both directions: the client's to a server
 * (client_message.c) and the server's own requests to a client
 * (outbound.c: sampling, elicitation, roots, ping). Responses are the rpc
 * layer's (mcp/rpc.h).
 */
#ifndef MCP_MESSAGE_H
#define MCP_MESSAGE_H

#include "mcp/json.h"

#include <stdint.h>

/* Open a request: {"jsonrpc":"2.0","id":id,"method":method. The caller
 * writes "params" if any and closes the object. */
void mcp_message_begin_request(mcp_json_writer *w, int64_t id, const char *method);
/* A whole request, or a notification when id is NULL. params_json (JSON
 * text the caller has checked, or NULL for none) goes in as it is. */
int mcp_message_write(mcp_buf *out, const int64_t *id, const char *method, const char *params_json);

/* The params object of notifications/cancelled, either way:
 * {"requestId":id,"reason":reason}, without reason when it is NULL. */
void mcp_message_write_cancelled(mcp_json_writer *w, int64_t id, const char *reason);

#endif
