/*
 * net/client_dial.h — what the connectors that dial a stream themselves
 * (NDJSON over TLS, WebSocket) share before they speak their framing: how
 * long connecting may take, and the stream, plain or TLS with the checks
 * of the connector options.
 */
#ifndef MCP_NET_CLIENT_DIAL_H
#define MCP_NET_CLIENT_DIAL_H

#include "net/client_tls.h"

/* opts' connect_timeout_ms, or 10 s when unset. */
unsigned mcp_client_connect_timeout(const mcp_connect_opts *opts);

/* Connect to host:port within the connect timeout: TLS when tls (its
 * context comes back in *tls_out, to free after the stream), else plain
 * (*tls_out NULL). The codes and why of mcp_client_tls_new and
 * mcp_client_stream_dial; on failure nothing is left open and errno is
 * kept. */
int mcp_client_dial(const char *host, const char *port, bool tls, const mcp_connect_opts *opts,
                    mcp_client_tls **tls_out, mcp_client_stream **out, char *why, size_t why_size);

#endif
