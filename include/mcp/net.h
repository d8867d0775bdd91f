/*
 * mcp/net.h — transports that carry MCP messages to an mcp_server.
 *
 * mcp_serve runs the listeners named in an mcp_listen and returns when they
 * are all closed: with stdio, when stdin reaches end of input (network
 * listeners started beside it are then drained); with TCP alone, on SIGTERM
 * or SIGINT, after a graceful drain. HTTP and WebSocket are not implemented
 * yet and give MCP_EUNSUPPORTED. Every transport frames messages and hands
 * each complete JSON text to an mcp_session (see mcp/mcp.h).
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

/* stdio transport on explicit descriptors (tests use pipes). Reads
 * newline-delimited JSON from in_fd ("\r\n" accepted, blank lines skipped)
 * and writes one message per line to out_fd; a line over the size limit is
 * answered with a -32600 error (id null) and skipped without being buffered.
 * Returns 0 at end of input once in-flight asynchronous calls have
 * completed, MCP_ECLOSED if the output side was closed by the peer (serving
 * stops), MCP_EIO if reading failed. If SIGPIPE has its default
 * disposition it is set to ignored, so a vanished peer is an EPIPE, not a
 * dead process. Logs go to stderr only. */
int mcp_serve_stdio_fds(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen);

/* What one stdio serving run saw, for tests and for the command's exit log. */
typedef struct mcp_stdio_counters {
    uint64_t messages_in;    /* lines handed to the session */
    uint64_t oversized;      /* lines over max_message_size, answered with an error */
    uint64_t messages_out;   /* messages written */
    uint64_t output_dropped; /* messages not written because the output had failed */
    uint64_t bytes_in;
    uint64_t bytes_out;
} mcp_stdio_counters;

/* mcp_serve_stdio_fds that also reports its counters (counters may be NULL). */
int mcp_serve_stdio_counted(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen,
                            mcp_stdio_counters *counters);

#ifdef __cplusplus
}
#endif
#endif
