/*
 * client_tcp.c — the client connector for newline-delimited JSON over TCP:
 * connect (net/connect.h), then hand the socket to the descriptor channel of
 * client_stdio.c.
 */
#include "mcp/client.h"
#include "net/connect.h"

#include <fcntl.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000u

int mcp_connect_tcp(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!host_port || !out)
        return MCP_EINVAL;
    unsigned timeout = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms
                                                        : DEFAULT_CONNECT_TIMEOUT_MS;
    int fd = -1;
    int rc = mcp_net_connect_tcp(host_port, timeout, &fd);
    if (rc != 0)
        return rc;
    /* Back to blocking: the descriptor channel polls before it reads. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    rc = mcp_connect_fds(fd, fd, opts, out);
    if (rc != 0)
        close(fd);
    return rc;
}
