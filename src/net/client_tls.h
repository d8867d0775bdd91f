/*
 * net/client_tls.h — the byte stream under every client connector that
 * dials (TCP NDJSON, WebSocket, Streamable HTTP): a connected socket, plain
 * or TLS (OpenSSL 3), read and written from one thread with deadlines.
 *
 * TLS verifies by default: the certificate chain against the system's
 * trust store (or the CA file / directory of mcp_connect_opts), the name of
 * the URL's host against the certificate (an IP literal against its IP
 * entries), TLS 1.2 at least, SNI for names (never for IP literals, RFC
 * 6066). opts.tls_insecure is the only way to skip verification.
 *
 *     mcp_client_tls *tls;                       // once per transport
 *     mcp_client_tls_new(&tls, opts, why, sizeof why);
 *     mcp_client_stream *s;
 *     mcp_client_stream_dial(&s, "localhost", "8443", tls, 10000, why, sizeof why);
 *     mcp_client_stream_write(s, req, len, 10000);
 *     mcp_client_stream_read(s, buf, sizeof buf, 1000, &got);
 *     mcp_client_stream_close(s);
 *     mcp_client_tls_free(tls);                  // after its streams
 *
 * A TLS stream may hold decrypted bytes the socket no longer shows as
 * readable: callers that poll the descriptor themselves must ask
 * mcp_client_stream_buffered first.
 */
#ifndef MCP_NET_CLIENT_TLS_H
#define MCP_NET_CLIENT_TLS_H

#include "mcp/base.h"
#include "mcp/client.h"

#include <stdbool.h>

typedef struct mcp_client_tls mcp_client_tls;
typedef struct mcp_client_stream mcp_client_stream;

/* The TLS settings of opts (NULL: defaults) as one reusable context.
 * MCP_EINVAL, with why, when a CA file or directory cannot be loaded. */
int mcp_client_tls_new(mcp_client_tls **out, const mcp_connect_opts *opts, char *why, size_t why_size);
void mcp_client_tls_free(mcp_client_tls *tls);

/* Write the reason for a failure into why (a caller's buffer, which may be
 * NULL or empty), as every client connector reports it. */
void mcp_client_set_why(char *why, size_t why_size, const char *fmt, ...) MCP_PRINTF(3, 4);

/* Connect to host:port within timeout_ms and, when tls is not NULL,
 * complete the handshake and verification within the same deadline.
 * Returns 0; the codes of mcp_net_connect_host (errno set for MCP_EIO);
 * MCP_EPROTO for a refused certificate or handshake (why says which). */
int mcp_client_stream_dial(mcp_client_stream **out, const char *host, const char *port, mcp_client_tls *tls,
                           unsigned timeout_ms, char *why, size_t why_size);
/* Read what is there, waiting up to wait_ms for something (0: don't
 * wait). 0 with *got > 0; MCP_ETIMEDOUT; MCP_ECLOSED at the end of the
 * stream (close_notify, or the peer closed the socket); MCP_EIO. */
int mcp_client_stream_read(mcp_client_stream *s, char *buf, size_t cap, int wait_ms, size_t *got);
/* Write all of data within timeout_ms: 0, MCP_ETIMEDOUT, MCP_ECLOSED when
 * the peer is gone, MCP_EIO. */
int mcp_client_stream_write(mcp_client_stream *s, const char *data, size_t len, unsigned timeout_ms);
/* Write what the stream takes now, without waiting: 0 with *written
 * (possibly 0, then *want says POLLIN or POLLOUT to wait for before the
 * retry, which must offer the same bytes); MCP_ECLOSED; MCP_EIO. */
int mcp_client_stream_write_some(mcp_client_stream *s, const char *data, size_t len, size_t *written,
                                 short *want);
/* Decrypted bytes wait inside the stream: a read returns them at once. */
bool mcp_client_stream_buffered(const mcp_client_stream *s);
int mcp_client_stream_fd(const mcp_client_stream *s);
bool mcp_client_stream_is_tls(const mcp_client_stream *s);
/* The handshake resumed a session of an earlier connection to the same
 * name through the same context (no certificate exchanged this time). */
bool mcp_client_stream_resumed(const mcp_client_stream *s);
/* Send close_notify (TLS, best effort, no waiting), close, free. */
void mcp_client_stream_close(mcp_client_stream *s);

#endif
