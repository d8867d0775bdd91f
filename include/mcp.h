/*
 * mcp.h — umbrella header of libmcp, the Model Context Protocol runtime.
 * Include this one file; it pulls in every layer's public header.
 */
#ifndef MCP_H
#define MCP_H

#include "mcp/base.h"
#include "mcp/json.h"
#include "mcp/rpc.h"
#include "mcp/mcp.h"
#include "mcp/client.h"
#include "mcp/net.h"
#include "mcp/cache.h"
#include "mcp/batch.h"
#include "mcp/pool.h"
#include "mcp/obs.h"

#endif
