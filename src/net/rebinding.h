/*
 * rebinding.h — DNS-rebinding protection for every listener that a browser
 * could reach (Streamable HTTP, WebSocket): a Host header must name a
 * loopback host or one the operator allowed, and an Origin, when present,
 * must be http(s) on such a host or one of the allowed origins.
 */
#ifndef MCP_NET_REBINDING_H
#define MCP_NET_REBINDING_H

#include "mcp/base.h"

/* allowed_hosts: NULL-terminated, "name" or "name:port"; may be NULL. */
bool mcp_net_host_allowed(char *const *allowed_hosts, mcp_str host);
/* allowed_origins: NULL-terminated exact origins; may be NULL. A missing
 * Origin (origin.ptr NULL) is allowed: non-browser clients send none. */
bool mcp_net_origin_allowed(char *const *allowed_hosts, char *const *allowed_origins, mcp_str origin);

#endif
