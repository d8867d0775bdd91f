/*
 * net/stream_conn.h — writing a connection's output to its libuv stream,
 * shared by the TCP (tcp.c), Streamable HTTP (http_tcp.c) and WebSocket
 * (ws_tcp.c) transports.
 *
 * A transport collects what one read produced and hands it over in one go:
 *
 *     int rc = mcp_stream_write((uv_stream_t *)&tcp, &write_req, buf, len, on_write);
 *     if (rc < 0) close;                  // the socket failed
 *     else if (rc == MCP_STREAM_WRITTEN)  // all of it is in the kernel: buf is free now,
 *         recycle;                        // on_write will not be called
 *     else writing = true;                // the rest is queued: buf stays untouched until on_write
 *
 * Why not plain uv_write: libuv answers every completed write request by
 * re-arming the socket in epoll (an epoll_ctl system call per write), even
 * when the bytes went out at once, as they nearly always do on a socket
 * whose peer reads. Trying the write first costs nothing extra and leaves
 * the request, the callback and the epoll_ctl to the rare write the kernel
 * cannot take whole.
 */
#ifndef MCP_NET_STREAM_CONN_H
#define MCP_NET_STREAM_CONN_H

#include <stddef.h>
#include <uv.h>

enum { MCP_STREAM_QUEUED = 0, MCP_STREAM_WRITTEN = 1 };

/* MCP_STREAM_WRITTEN (done, cb will not run), MCP_STREAM_QUEUED (the
 * remainder is written by req and cb runs when it is done; data must stay
 * valid until then) or a negative libuv error. At most one write may be in
 * flight: call again only after cb. */
int mcp_stream_write(uv_stream_t *stream, uv_write_t *req, const char *data, size_t len, uv_write_cb cb);

#endif
