/*
 * TLS over memory BIOs (see net/tls.h).
 *
 * Each connection has an SSL object between two memory BIOs: "in" takes the
 * ciphertext the loop read, "out" collects what OpenSSL wants sent
 * (handshake messages, records, alerts). Nothing here blocks and nothing
 * touches a socket; the loop decides when to read and write, so TLS
 * inherits the transports' one-write-per-read batching and back-pressure.
 *
 * Costs: one copy in (socket buffer to BIO), one out (BIO to the write
 * buffer), besides the cipher itself. SSL_MODE_RELEASE_BUFFERS returns
 * OpenSSL's record buffers while a connection is idle, which matters at
 * ten thousand mostly quiet connections.
 *
 * OpenSSL's error queue is per thread and shared by every connection of a
 * worker, so it is emptied after each failure: one client's bad handshake
 * must not surface as another client's error.
 */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#define MCP_TLS_READ_CHUNK (16 * 1024)
#define MCP_TLS_KEEP_BYTES (256 * 1024)

struct mcp_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct mcp_tls_conn {
    SSL *ssl;
    BIO *in;
    BIO *out;
    mcp_buf plain;
    bool established;
    bool just_established;
    bool failed;
    bool notified;
};

static void log_openssl(const char *what, const char *file) {
    unsigned long err = ERR_get_error();
    char reason[256] = "unknown error";
    if (err) ERR_error_string_n(err, reason, sizeof reason);
    mcp_log(MCP_LOG_ERROR, "tls: %s%s%s: %s", what, file ? " " : "", file ? file : "", reason);
    ERR_clear_error();
}

int mcp_tls_ctx_new(mcp_tls_ctx **out, const char *cert_file, const char *key_file) {
    *out = NULL;
    if (!cert_file || !key_file) {
        mcp_log(MCP_LOG_ERROR, "tls: both a certificate and a key file are needed");
        return MCP_EINVAL;
    }
    mcp_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return MCP_ENOMEM;
    ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx->ssl_ctx) {
        log_openssl("cannot create a context", NULL);
        free(ctx);
        return MCP_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    int rc = MCP_OK;
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert_file) != 1) {
        log_openssl("cannot load the certificate", cert_file);
        rc = MCP_EINVAL;
    } else if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        log_openssl("cannot load the private key", key_file);
        rc = MCP_EINVAL;
    } else if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        log_openssl("the private key does not match the certificate", key_file);
        rc = MCP_EINVAL;
    }
    if (rc) {
        mcp_tls_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return MCP_OK;
}

void mcp_tls_ctx_free(mcp_tls_ctx *ctx) {
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

mcp_tls_conn *mcp_tls_conn_new(mcp_tls_ctx *ctx) {
    mcp_tls_conn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    /* An empty input BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(t->in, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
    SSL_set_accept_state(t->ssl);
    mcp_buf_init(&t->plain);
    return t;
}

void mcp_tls_conn_free(mcp_tls_conn *t) {
    if (!t) return;
    SSL_free(t->ssl);
    mcp_buf_free(&t->plain);
    free(t);
}

static int conn_fail(mcp_tls_conn *t) {
    t->failed = true;
    ERR_clear_error();
    return MCP_EIO;
}

int mcp_tls_conn_feed(mcp_tls_conn *t, const char *data, size_t len, mcp_str *plain) {
    *plain = (mcp_str){"", 0};
    if (t->failed) return MCP_EIO;
    if (t->plain.cap > MCP_TLS_KEEP_BYTES) mcp_buf_free(&t->plain);
    else mcp_buf_reset(&t->plain);
    if (len && BIO_write(t->in, data, (int)len) != (int)len) return conn_fail(t);
    if (!t->established) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int err = SSL_get_error(t->ssl, r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return MCP_OK;
            return conn_fail(t);
        }
        t->established = true;
        t->just_established = true;
    }
    for (;;) {
        if (mcp_buf_reserve(&t->plain, MCP_TLS_READ_CHUNK)) return conn_fail(t);
        /* The read may fill all the spare capacity, not just the chunk. */
        size_t room = t->plain.cap - t->plain.len - 1, n = 0;
        mcp_buf_fence(&t->plain, room);
        int r = SSL_read_ex(t->ssl, t->plain.data + t->plain.len, room, &n);
        if (r == 1) {
            t->plain.len += n;
            continue;
        }
        int err = SSL_get_error(t->ssl, r);
        t->plain.data[t->plain.len] = '\0';
        *plain = (mcp_str){t->plain.data, t->plain.len};
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return MCP_OK;
        if (err == SSL_ERROR_ZERO_RETURN) return MCP_ECLOSED;
        return conn_fail(t);
    }
}

int mcp_tls_conn_seal(mcp_tls_conn *t, const char *data, size_t len, mcp_buf *wire) {
    if (len) {
        size_t written = 0;
        if (t->failed || !t->established || t->notified || SSL_write_ex(t->ssl, data, len, &written) != 1 ||
            written != len)
            return conn_fail(t);
    }
    size_t pending = BIO_ctrl_pending(t->out);
    if (!pending) return MCP_OK;
    if (mcp_buf_reserve(wire, pending)) return MCP_ENOMEM;
    int n = BIO_read(t->out, wire->data + wire->len, (int)pending);
    if (n > 0) wire->len += (size_t)n;
    wire->data[wire->len] = '\0';
    return MCP_OK;
}

bool mcp_tls_conn_pending(const mcp_tls_conn *t) { return BIO_ctrl_pending(t->out) > 0; }

void mcp_tls_conn_close_notify(mcp_tls_conn *t) {
    if (t->notified) return;
    t->notified = true;
    if (t->established && !t->failed) SSL_shutdown(t->ssl);
    ERR_clear_error();
}

bool mcp_tls_conn_established(const mcp_tls_conn *t) { return t->established; }

bool mcp_tls_conn_just_established(mcp_tls_conn *t) {
    bool just = t->just_established;
    t->just_established = false;
    return just;
}
