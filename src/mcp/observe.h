/*
 * observe.h — how the server core reports requests to its observer
 * (mcp_server_opts.observer, see mcp/mcp.h). Private to src/mcp.
 */
#ifndef MCP_MCP_OBSERVE_H
#define MCP_MCP_OBSERVE_H

#include "internal.h"

/* Run call->run under the observer's request start (once per call; a
 * call run again after input keeps its first start). */
int mcp_observe_run(mcp_call *call);
/* Report the outcome of the call (starting it first if it failed before
 * running). Called by mcp_call_complete when the server has an observer. */
void mcp_observe_end(mcp_call *call);

#endif
