/*
 * net/client_url.h — the target of a request that a client writes by hand
 * rather than through the HTTP client (the WebSocket upgrade, the OAuth
 * requests). The URL is read by the HTTP client's parser, so that every
 * client reads a URL the same way (and refuses the spaces and control
 * characters that would break a request line); what is added is a default
 * path for a URL that names none.
 */
#ifndef MCP_NET_CLIENT_URL_H
#define MCP_NET_CLIENT_URL_H

#include "net/client_http_internal.h"

/* An http:// or https:// URL (ws:// and wss:// are the caller's to map to
 * the scheme they upgrade from), as mcp_http_url_parse reads it, with
 * default_path when it names no path at all (NULL: "/"). MCP_EINVAL when it
 * is not one. */
int mcp_client_url_parse(const char *url, const char *default_path, mcp_http_url *out);

#endif
