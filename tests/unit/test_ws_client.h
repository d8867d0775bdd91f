/*
 * test_ws_client.h — a small blocking WebSocket and TLS client for the
 * tests of the WebSocket and TLS transports: connect to 127.0.0.1, speak
 * plaintext or TLS (OpenSSL, certificate not verified: the tests make a
 * self-signed one), send masked frames, read unmasked ones, with deadlines.
 * Written for the tests; every function fails the test on a broken peer.
 */
#ifndef TEST_WS_CLIENT_H
#define TEST_WS_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/base.h"

typedef struct wsc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    mcp_buf in; /* received, not yet consumed */
    bool eof;
} wsc;

static inline uint64_t wsc_now_ms(void) { return mcp_now_ns() / 1000000u; }

/* Retries for a few seconds: a server process may still be starting. */
static inline int wsc_tcp_connect(int port) {
    int fd = -1;
    for (int attempt = 0;; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
        close(fd);
        if (attempt == 200) fail_msg("nothing listens on 127.0.0.1:%d", port);
        usleep(25 * 1000);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Plaintext, or TLS when tls is true (the handshake completes here). */
static inline void wsc_open(wsc *c, int port, bool tls) {
    memset(c, 0, sizeof *c);
    mcp_buf_init(&c->in);
    c->fd = wsc_tcp_connect(port);
    if (!tls) return;
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1) {
        char reason[256] = "";
        ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
        fail_msg("TLS handshake with the server failed: %s", reason);
    }
}

static inline void wsc_close(wsc *c) {
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    mcp_buf_free(&c->in);
    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;
}

static inline void wsc_send(wsc *c, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = c->ssl ? SSL_write(c->ssl, p, (int)len) : send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) fail_msg("send failed: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static inline void wsc_send_cstr(wsc *c, const char *text) { wsc_send(c, text, strlen(text)); }

/* Read more into c->in; false at the deadline. */
static inline bool wsc_fill(wsc *c, uint64_t deadline) {
    if (c->eof) return false;
    if (!(c->ssl && SSL_pending(c->ssl))) {
        uint64_t now = wsc_now_ms();
        if (now >= deadline) return false;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now)) <= 0) return false;
    }
    char chunk[16384];
    ssize_t n = c->ssl ? SSL_read(c->ssl, chunk, sizeof chunk) : recv(c->fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
        c->eof = true;
        return false;
    }
    mcp_buf_append(&c->in, chunk, (size_t)n);
    return true;
}

static inline void wsc_consume(wsc *c, size_t n) {
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
}

/* Send an upgrade request (extra: more header lines, each ending "\r\n")
 * and read the answer's head into head. Returns the status code. */
static inline int wsc_handshake(wsc *c, const char *path, const char *extra, mcp_buf *head) {
    char req[2048];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s\r\n", path,
             extra ? extra : "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
    wsc_send_cstr(c, req);
    uint64_t deadline = wsc_now_ms() + 3000;
    char *end;
    while (!(end = c->in.data ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL))
        if (!wsc_fill(c, deadline)) fail_msg("no handshake answer");
    size_t n = (size_t)(end - c->in.data) + 4;
    mcp_buf_reset(head);
    mcp_buf_append(head, c->in.data, n);
    wsc_consume(c, n);
    int status = 0;
    sscanf(head->data, "HTTP/1.1 %d", &status);
    return status;
}

/* One client frame: masked, as RFC 6455 requires (masked = false breaks it on purpose). */
static inline void wsc_frame_append(mcp_buf *out, bool fin, int opcode, const void *payload, size_t len,
                                    bool masked) {
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    unsigned char mask_bit = masked ? 0x80 : 0;
    if (len < 126) {
        h[n++] = (unsigned char)(mask_bit | len);
    } else if (len < 65536) {
        h[n++] = mask_bit | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--) h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    static const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) {
        memcpy(h + n, key, 4);
        n += 4;
    }
    mcp_buf_append(out, h, n);
    size_t at = out->len;
    mcp_buf_append(out, payload, len);
    if (masked)
        for (size_t i = 0; i < len; i++) out->data[at + i] ^= (char)key[i % 4];
}

static inline void wsc_send_frame(wsc *c, bool fin, int opcode, const void *payload, size_t len) {
    mcp_buf frame;
    mcp_buf_init(&frame);
    wsc_frame_append(&frame, fin, opcode, payload, len, true);
    wsc_send(c, frame.data, frame.len);
    mcp_buf_free(&frame);
}

static inline void wsc_send_text(wsc *c, const char *text) { wsc_send_frame(c, true, 1, text, strlen(text)); }

/* Read one server frame (unmasked). Returns its opcode, or -1 on timeout or EOF. */
static inline int wsc_read_frame(wsc *c, mcp_buf *payload, unsigned timeout_ms, bool *fin) {
    uint64_t deadline = wsc_now_ms() + timeout_ms;
    for (;;) {
        const unsigned char *p = (const unsigned char *)c->in.data;
        size_t have = c->in.len;
        if (have >= 2) {
            size_t need = 2;
            uint64_t len = p[1] & 0x7f;
            if (p[1] & 0x80) fail_msg("server frames must not be masked");
            if (len == 126) need += 2;
            else if (len == 127) need += 8;
            if (have >= need) {
                if (len == 126) len = ((uint64_t)p[2] << 8) | p[3];
                else if (len == 127) {
                    len = 0;
                    for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
                }
                if (have >= need + len) {
                    int opcode = p[0] & 0x0f;
                    if (fin) *fin = (p[0] & 0x80) != 0;
                    mcp_buf_reset(payload);
                    mcp_buf_append(payload, p + need, (size_t)len);
                    wsc_consume(c, need + (size_t)len);
                    return opcode;
                }
            }
        }
        if (!wsc_fill(c, deadline)) return -1;
    }
}

/* Read frames until a text message; control frames are skipped (pings are
 * not answered: the server does not send them). */
static inline void wsc_read_text(wsc *c, mcp_buf *text) {
    for (;;) {
        int op = wsc_read_frame(c, text, 3000, NULL);
        if (op == 1) return;
        if (op < 0) fail_msg("no text message came");
        if (op == 8) fail_msg("the server closed (code %u)", text->len >= 2 ? ((unsigned char)text->data[0] << 8) | (unsigned char)text->data[1] : 0);
    }
}

/* Close code of a close frame's payload. */
static inline unsigned wsc_close_code(const mcp_buf *payload) {
    if (payload->len < 2) return 0;
    return ((unsigned)(unsigned char)payload->data[0] << 8) | (unsigned char)payload->data[1];
}

/* True when the peer closed the TCP connection within timeout_ms. */
static inline bool wsc_wait_eof(wsc *c, unsigned timeout_ms) {
    uint64_t deadline = wsc_now_ms() + timeout_ms;
    while (!c->eof) {
        if (!wsc_fill(c, deadline) && !c->eof) return false;
    }
    return true;
}

#endif
