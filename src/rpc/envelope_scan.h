/*
 * envelope_scan.h — the one-pass reader of the usual request envelope,
 * private to the rpc layer (envelope.c tries it before the general path).
 */
#ifndef MCP_RPC_ENVELOPE_SCAN_H
#define MCP_RPC_ENVELOPE_SCAN_H

#include "mcp/rpc.h"

/* Reads text as one request or notification of the usual form (see
 * envelope_scan.c) into *out, params fully built in arena. Returns 1 when
 * it did, 0 when the text is for the general path to judge (nothing in
 * *out is meaningful then; what was allocated stays in the arena), or
 * MCP_ENOMEM. */
int mcp_rpc_scan_request(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                         mcp_rpc_message *out);

#endif
