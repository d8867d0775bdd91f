/*
 * The echo tool and the modern-era _meta that the transport tests share:
 * tools/call of "echo" answers its "text" argument as text.
 */
#ifndef TEST_ECHO_TOOL_H
#define TEST_ECHO_TOOL_H

#include "mcp/mcp.h"

#define MODERN_META                                                                                \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                     \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static inline int tool_echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

#endif
