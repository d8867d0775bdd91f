/*
 * connectors.c — the pool's ready-made connector callbacks: they adapt the
 * client's TCP and stdio connectors to the mcp_pool_connect_fn shape.
 */
#include "mcp/pool.h"

int mcp_pool_connect_tcp(void *host_port, mcp_client_transport **out)
{
    return mcp_connect_tcp(host_port, NULL, out);
}

int mcp_pool_connect_stdio(void *argv, mcp_client_transport **out)
{
    return mcp_connect_stdio(argv, NULL, out);
}
