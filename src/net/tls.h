/*
 * net/tls.h — TLS for the network listeners, with OpenSSL 3 over memory
 * BIOs so that it fits the libuv loops: the loop reads ciphertext from the
 * socket and feeds it here; the plaintext that comes out goes to the
 * transport as if it had been read; the transport's output is sealed into
 * ciphertext that the loop writes. OpenSSL never touches a socket.
 *
 *     mcp_tls_ctx *ctx;                      // once per runtime, shared by workers
 *     mcp_tls_ctx_new(&ctx, "cert.pem", "key.pem");
 *     mcp_tls_conn *t = mcp_tls_conn_new(ctx);
 *     mcp_str plain;
 *     if (mcp_tls_conn_feed(t, bytes, n, &plain) == MCP_OK) transport_input(plain);
 *     mcp_tls_conn_seal(t, out.data, out.len, &wire); // handshake bytes included
 *     mcp_tls_conn_free(t);
 *
 * Servers only: TLS 1.2 or later, the certificate chain and key from PEM
 * files, ALPN not negotiated (each listener speaks one protocol).
 */
#ifndef MCP_NET_TLS_H
#define MCP_NET_TLS_H

#include "mcp/base.h"

#include <stdbool.h>

typedef struct mcp_tls_ctx mcp_tls_ctx;
typedef struct mcp_tls_conn mcp_tls_conn;

/* Loads both files and checks that the key matches the certificate; logs
 * what failed (file, OpenSSL's reason) and returns MCP_EINVAL. */
int mcp_tls_ctx_new(mcp_tls_ctx **out, const char *cert_file, const char *key_file);
void mcp_tls_ctx_free(mcp_tls_ctx *ctx);

mcp_tls_conn *mcp_tls_conn_new(mcp_tls_ctx *ctx);
void mcp_tls_conn_free(mcp_tls_conn *t);
/* Ciphertext from the peer. *plain is what it decrypted to (possibly
 * empty), valid until the next feed. MCP_OK; MCP_EIO when the handshake or
 * a record failed (the connection must close; an alert may be pending to
 * send); MCP_ECLOSED once the peer sent close_notify (plain still holds
 * what came before it). */
int mcp_tls_conn_feed(mcp_tls_conn *t, const char *data, size_t len, mcp_str *plain);
/* Encrypt len bytes (may be 0) and append them, after any handshake bytes
 * waiting, to wire. MCP_EIO if the connection cannot send. */
int mcp_tls_conn_seal(mcp_tls_conn *t, const char *data, size_t len, mcp_buf *wire);
/* Bytes wait to be sealed out (handshake, alert, close_notify). */
bool mcp_tls_conn_pending(const mcp_tls_conn *t);
/* Queue close_notify (sent by the next seal); idempotent. */
void mcp_tls_conn_close_notify(mcp_tls_conn *t);
bool mcp_tls_conn_established(const mcp_tls_conn *t);
/* The handshake completed in the last feed (once per connection). */
bool mcp_tls_conn_just_established(mcp_tls_conn *t);

#endif
