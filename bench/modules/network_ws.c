/*
 * WebSocket on the wire for the network module (RFC 6455): the client's
 * opening handshake, and the frame header both the load generator and the
 * null WebSocket server read and write.
 *
 * Every benchmark connection sends the same Sec-WebSocket-Key, so every
 * server answers with the same 101 response; the null server replays the
 * real server's. Client frames carry a mask key of zero: the server still
 * unmasks every byte (its cost is the same for any key), and the generator
 * need not XOR what it sends. A real client must pick unpredictable keys;
 * that protects proxies from a hostile page, which is not what is measured.
 */
#include "network.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define WS_HANDSHAKE_MAX 4096

const char bench_ws_upgrade[] = "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Protocol: mcp\r\n\r\n";

int bench_ws_handshake(int fd, mcp_buf *response) {
    size_t n = sizeof bench_ws_upgrade - 1;
    if (send(fd, bench_ws_upgrade, n, MSG_NOSIGNAL) != (ssize_t)n) return MCP_EIO;
    /* Byte by byte up to the blank line: nothing of the first frame may be
     * read here (the server sends none before a request, but be exact). */
    while (response->len < WS_HANDSHAKE_MAX) {
        char ch;
        ssize_t got = recv(fd, &ch, 1, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return MCP_ECLOSED;
        if (mcp_buf_append_char(response, ch)) return MCP_ENOMEM;
        if (response->len >= 4 && !memcmp(response->data + response->len - 4, "\r\n\r\n", 4)) {
            if (response->len >= 12 && !memcmp(response->data, "HTTP/1.1 101", 12)) return MCP_OK;
            fprintf(stderr, "bench network: the WebSocket upgrade was refused: %.*s\n", (int)response->len,
                    response->data);
            return MCP_EPROTO;
        }
    }
    return MCP_EPROTO;
}

size_t bench_ws_frame_header(char *out, uint64_t payload_len, bool masked) {
    unsigned char *h = (unsigned char *)out;
    size_t n = 2;
    h[0] = 0x81; /* FIN, text */
    unsigned char mask_bit = masked ? 0x80 : 0;
    if (payload_len < 126) {
        h[1] = (unsigned char)(mask_bit | payload_len);
    } else if (payload_len <= 0xffff) {
        h[1] = mask_bit | 126;
        h[2] = (unsigned char)(payload_len >> 8);
        h[3] = (unsigned char)payload_len;
        n = 4;
    } else {
        h[1] = mask_bit | 127;
        for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(payload_len >> (56 - 8 * i));
        n = 10;
    }
    if (masked) {
        memset(h + n, 0, 4); /* the zero key: see the top of this file */
        n += 4;
    }
    return n;
}

int bench_ws_frame_next(const char *data, size_t len, bench_ws_frame *frame) {
    const unsigned char *p = (const unsigned char *)data;
    if (len < 2) return 0;
    size_t head = 2;
    uint64_t payload = p[1] & 0x7f;
    if (payload == 126) {
        head = 4;
        if (len < head) return 0;
        payload = (uint64_t)p[2] << 8 | p[3];
    } else if (payload == 127) {
        head = 10;
        if (len < head) return 0;
        payload = 0;
        for (int i = 0; i < 8; i++) payload = payload << 8 | p[2 + i];
        if (payload > BENCH_WS_MAX_PAYLOAD) return MCP_EPROTO;
    }
    frame->masked = (p[1] & 0x80) != 0;
    if (frame->masked) {
        if (len < head + 4) return 0;
        memcpy(frame->mask, p + head, 4);
        head += 4;
    }
    if (len - head < payload) return 0;
    frame->fin = (p[0] & 0x80) != 0;
    frame->opcode = p[0] & 0x0f;
    frame->payload = data + head;
    frame->payload_len = (size_t)payload;
    frame->frame_len = head + (size_t)payload;
    return 1;
}
