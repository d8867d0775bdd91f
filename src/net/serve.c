/*
 * mcp_serve: the one call an application makes to put a server on the
 * transports named in an mcp_listen. It checks the combination, then runs
 * each transport; it owns no protocol or framing logic of its own.
 *
 * Each network transport is its own runtime of worker loops (NDJSON on
 * listen->tcp, Streamable HTTP on listen->http). With stdio, serving lasts as
 * long as the parent's pipe: stdin's end drains the network runtimes. Without
 * stdio, one runtime runs in the foreground until SIGTERM or SIGINT
 * (mcp_net_run), and the other, if any, is drained right after it.
 */
#include "net/net_internal.h"

#include <unistd.h>

static int serve_check(const mcp_listen *listen) {
    if (listen->ws) {
        mcp_log(MCP_LOG_ERROR, "serve: the WebSocket transport is not implemented yet");
        return MCP_EUNSUPPORTED;
    }
    if (!listen->stdio && !listen->tcp && !listen->http) {
        mcp_log(MCP_LOG_ERROR, "serve: no transport selected");
        return MCP_EINVAL;
    }
    return 0;
}

static void net_finish(mcp_net *net) {
    if (!net) return;
    mcp_net_stop(net);
    mcp_net_wait(net);
    mcp_net_free(net);
}

int mcp_serve(mcp_server *server, const mcp_listen *listen) {
    if (!server || !listen) return MCP_EINVAL;
    int rc = serve_check(listen);
    if (rc) return rc;
    /* One network transport alone: the runtime handles signals and drain. */
    if (!listen->stdio && !(listen->tcp && listen->http)) return mcp_net_run(server, listen);
    if (listen->stdio && !listen->tcp && !listen->http)
        return mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);

    mcp_net *http = NULL, *tcp = NULL;
    if (listen->http) rc = mcp_net_start(&http, server, listen, &(mcp_net_tuning){.http = true});
    if (!rc && listen->stdio && listen->tcp) rc = mcp_net_start(&tcp, server, listen, NULL);
    if (!rc) {
        if (listen->stdio) {
            rc = mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);
        } else {
            /* TCP and HTTP: TCP in the foreground takes the signal; HTTP's
             * in-flight requests are drained right after. */
            mcp_listen tcp_only = *listen;
            tcp_only.http = NULL;
            rc = mcp_net_run(server, &tcp_only);
        }
    }
    net_finish(tcp);
    net_finish(http);
    return rc;
}
