/*
 * result_cache.h — how the feature methods reach the result cache
 * (result_cache.c; the public part is in mcp/mcp.h). Internal to src/mcp.
 */
#ifndef MCP_RESULT_CACHE_H
#define MCP_RESULT_CACHE_H

#include "internal.h"

/* Run the handler of call->entry, from the server's result cache when the
 * tool or resource is cacheable, else directly. Returns what a method
 * returns; on a cached answer the whole response is in call->out (kind
 * MCP_CALL_DIRECT). call->kind and call->entry must be set. */
int mcp_result_cache_call_tool(mcp_call *call, const mcp_json *args);
int mcp_result_cache_read_resource(mcp_call *call, const char *uri);

/* Drop the stored result of uri; no notification. For
 * mcp_server_notify_resource_updated, so that every update drops it. */
void mcp_result_cache_resource_updated(mcp_server *server, const char *uri);

#endif
