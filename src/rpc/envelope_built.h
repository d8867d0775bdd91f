/*
 * envelope_built.h — mcp_rpc_parse for a reader that will use every part of
 * the message anyway: the server core, which runs a request's params right
 * after routing it. Building the whole text in one pass costs about what
 * the lazy envelope pass alone costs, and saves expanding params afterwards
 * (a second pass over most of the text). Private to libmcp; a candidate for
 * mcp/rpc.h.
 */
#ifndef MCP_RPC_ENVELOPE_BUILT_H
#define MCP_RPC_ENVELOPE_BUILT_H

#include "mcp/rpc.h"

/* As mcp_rpc_parse, but params, result and error come fully built (never
 * MCP_JSON_RAW). opts->lazy_depth is ignored. */
int mcp_rpc_parse_built(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                        mcp_rpc_batch *out);

#endif
