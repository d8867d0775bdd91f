/*
 * connect.h — outgoing TCP for every client in libmcp (the MCP client's
 * connectors, the batcher's links, the pool's streams): one place that
 * splits "HOST:PORT" / "[v6]:PORT", resolves it and connects with a deadline.
 */
#ifndef MCP_NET_CONNECT_H
#define MCP_NET_CONNECT_H

#include "mcp/base.h"

/* Split "host:port" or "[v6]:port". host gets a NUL-terminated copy; *port
 * points into s. MCP_EINVAL when the form is wrong or host does not fit. */
int mcp_net_split_host_port(const char *s, char *host, size_t host_size, const char **port);

/* Resolve host_port and connect to the first address that answers within
 * timeout_ms (per address). The socket comes back non-blocking, close-on-exec,
 * with TCP_NODELAY. Returns 0, MCP_EINVAL (bad address), MCP_ENOTFOUND (name
 * does not resolve), MCP_ETIMEDOUT, or MCP_EIO with errno saying why (for
 * example ECONNREFUSED). */
int mcp_net_connect_tcp(const char *host_port, unsigned timeout_ms, int *fd_out);
/* The same with host and port already apart (a URL's parts). */
int mcp_net_connect_host(const char *host, const char *port, unsigned timeout_ms, int *fd_out);

/* Milliseconds left until deadline (mcp_now_ns time), rounded up so that a
 * wait never ends just before it; 0 once it has passed. Every client's
 * poll with a deadline uses this. */
static inline int mcp_net_ms_left(uint64_t deadline)
{
    uint64_t now = mcp_now_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
}

#endif
