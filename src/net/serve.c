/*
 * mcp_serve: the one call an application makes to put a server on the
 * transports named in an mcp_listen. It checks the combination, then runs
 * each transport; it owns no protocol or framing logic of its own.
 *
 * Each network transport is its own runtime of worker loops (NDJSON on
 * listen->tcp, Streamable HTTP on listen->http, WebSocket on listen->ws),
 * with TLS on all of them when listen names a certificate and key. With
 * stdio, serving lasts as long as the parent's pipe: stdin's end drains the
 * network runtimes. Without stdio, one runtime runs in the foreground until
 * SIGTERM or SIGINT (mcp_net_run: tcp, else http), and the others are
 * drained right after it.
 */
#include "net/net_internal.h"

#include <unistd.h>

static int serve_check(const mcp_listen *listen) {
    if (!listen->stdio && !listen->tcp && !listen->http && !listen->ws) {
        mcp_log(MCP_LOG_ERROR, "serve: no transport selected");
        return MCP_EINVAL;
    }
    if (!listen->tls_cert != !listen->tls_key) {
        mcp_log(MCP_LOG_ERROR, "serve: TLS needs both a certificate and a key file");
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
    int network = !!listen->tcp + !!listen->http + !!listen->ws;
    /* One network transport alone: the runtime handles signals and drain. */
    if (!listen->stdio && network == 1) return mcp_net_run(server, listen);
    if (listen->stdio && network == 0) return mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);

    /* The foreground: stdio, else tcp, else http. The rest run beside it. */
    const char *front = listen->stdio ? NULL : listen->tcp ? listen->tcp : listen->http;
    mcp_net *tcp = NULL, *http = NULL, *ws = NULL;
    if (listen->http && listen->http != front)
        rc = mcp_net_start(&http, server, listen, &(mcp_net_tuning){.http = true});
    if (!rc && listen->ws) rc = mcp_net_start(&ws, server, listen, &(mcp_net_tuning){.ws = true});
    if (!rc && listen->tcp && listen->tcp != front) rc = mcp_net_start(&tcp, server, listen, NULL);
    if (!rc) {
        if (listen->stdio) {
            rc = mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);
        } else {
            /* The foreground takes the signal; the others' in-flight
             * requests are drained right after. */
            mcp_listen only = *listen;
            only.tcp = listen->tcp == front ? front : NULL;
            only.http = listen->http == front ? front : NULL;
            only.ws = NULL;
            rc = mcp_net_run(server, &only);
        }
    }
    net_finish(tcp);
    net_finish(http);
    net_finish(ws);
    return rc;
}
