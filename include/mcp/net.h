/*
 * mcp/net.h — transports that carry MCP messages to an mcp_server.
 *
 * mcp_serve runs the listeners named in an mcp_listen and returns when they
 * are all closed (stdin reached EOF, or a shutdown was requested with
 * mcp_serve_stop / SIGTERM). Every transport frames messages and hands each
 * complete JSON text to an mcp_session (see mcp/mcp.h).
 *
 *     return mcp_serve(server, &(mcp_listen){ .stdio = true });
 */
#ifndef MCP_NET_H
#define MCP_NET_H

#include "mcp/mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_listen {
    bool stdio;                /* newline-delimited JSON on stdin/stdout */
    const char *tcp;           /* "HOST:PORT": newline-delimited JSON over TCP */
    const char *http;          /* "HOST:PORT": Streamable HTTP (not yet) */
    const char *ws;            /* "HOST:PORT": WebSocket (not yet) */
    unsigned workers;          /* worker loops for network listeners; 0 means one per core */
    size_t max_message_size;   /* bytes per message; 0 means the server's limit */
    unsigned max_connections;  /* per process; 0 means 10000 */
    unsigned idle_timeout_ms;  /* close a connection idle this long; 0 means 300000 */
    size_t max_output_queue;   /* queued output bytes per connection before reading pauses; 0 means 1 MiB */
    unsigned drain_grace_ms;   /* on SIGTERM, time allowed for in-flight requests; 0 means 10000 */
} mcp_listen;

int mcp_serve(mcp_server *server, const mcp_listen *listen);

/* stdio transport on explicit descriptors (tests use pipes). */
int mcp_serve_stdio_fds(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen);

#ifdef __cplusplus
}
#endif
#endif
