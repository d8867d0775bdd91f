/*
 * mcp_serve: the one call an application makes to put a server on the
 * transports named in an mcp_listen. It checks the combination, then runs
 * each transport; it owns no protocol or framing logic of its own.
 *
 * TCP alone runs the libuv runtime until SIGTERM/SIGINT (mcp_net_run).
 * stdio together with TCP serves stdio in the foreground with the network
 * workers beside it, and drains them when stdin ends: a stdio server's life
 * is its parent's pipe.
 */
#include "net/net_internal.h"

#include <unistd.h>

static int serve_check(const mcp_listen *listen) {
    if (listen->http) {
        mcp_log(MCP_LOG_ERROR, "serve: the Streamable HTTP transport is not implemented yet");
        return MCP_EUNSUPPORTED;
    }
    if (listen->ws) {
        mcp_log(MCP_LOG_ERROR, "serve: the WebSocket transport is not implemented yet");
        return MCP_EUNSUPPORTED;
    }
    if (!listen->stdio && !listen->tcp) {
        mcp_log(MCP_LOG_ERROR, "serve: no transport selected");
        return MCP_EINVAL;
    }
    return 0;
}

int mcp_serve(mcp_server *server, const mcp_listen *listen) {
    if (!server || !listen) return MCP_EINVAL;
    int rc = serve_check(listen);
    if (rc) return rc;
    if (!listen->stdio) return mcp_net_run(server, listen);
    if (!listen->tcp) return mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);

    mcp_net *net = NULL;
    rc = mcp_net_start(&net, server, listen, NULL);
    if (rc) return rc;
    rc = mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);
    mcp_net_stop(net);
    mcp_net_wait(net);
    mcp_net_free(net);
    return rc;
}
