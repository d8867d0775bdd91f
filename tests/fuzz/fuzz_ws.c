/*
 * Fuzz the WebSocket framing path without sockets: a sans-I/O connection
 * gets a valid upgrade request, then the input as frames, in reads of sizes
 * chosen by the input, with a real server and a synchronous tool behind it.
 * The output after the 101 answer must be a sequence of well-formed,
 * unmasked server frames, at most one close frame and nothing after it;
 * nothing may leak or crash.
 *
 * Input layout: byte 0 seeds the read sizes, byte 1 picks the message size
 * limit, the rest is the stream after the handshake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

static mcp_server *server;

static const char UPGRADE[] = "GET /mcp HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n\r\n";

static void check_frames(const unsigned char *p, size_t len) {
    size_t pos = 0;
    bool closed = false;
    while (pos < len) {
        if (closed) abort(); /* nothing after our close frame */
        if (len - pos < 2) abort();
        unsigned opcode = p[pos] & 0x0f;
        if (p[pos] & 0x70) abort();              /* no reserved bits */
        if (p[pos + 1] & 0x80) abort();          /* servers never mask */
        uint64_t n = p[pos + 1] & 0x7f;
        size_t head = 2;
        if (n == 126) {
            if (len - pos < 4) abort();
            n = ((uint64_t)p[pos + 2] << 8) | p[pos + 3];
            head = 4;
        } else if (n == 127) {
            if (len - pos < 10) abort();
            n = 0;
            for (int i = 0; i < 8; i++) n = (n << 8) | p[pos + 2 + i];
            head = 10;
        }
        if (opcode != 1 && opcode != 8 && opcode != 10) abort(); /* text, close, pong */
        if (opcode >= 8 && n > 125) abort();
        if (len - pos - head < n) abort();
        if (opcode == 8) closed = true;
        pos += head + (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if (!server) {
        server = mcp_server_new(&(mcp_server_opts){.name = "fuzz", .version = "1"});
        mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = echo});
    }
    unsigned seed = data[0];
    mcp_listen listen = {.ws = "127.0.0.1:0"};
    mcp_ws_opts opts = {.max_message_size = 64u + (size_t)data[1] * 64u};
    listen.ws_opts = &opts;
    mcp_ws_server *ws;
    if (mcp_ws_server_new(&ws, server, &listen, NULL)) return 0;
    mcp_net_counters counters = {0};
    mcp_ws_conn *c = mcp_ws_conn_new(ws, &(mcp_ws_conn_io){0}, &counters);
    if (!c) {
        mcp_ws_server_free(ws);
        return 0;
    }
    mcp_ws_conn_feed(c, UPGRADE, sizeof UPGRADE - 1);
    mcp_buf *out = mcp_ws_conn_out(c);
    if (!mcp_ws_conn_upgraded(c) || out->len < 12 || memcmp(out->data, "HTTP/1.1 101", 12) != 0) abort();
    mcp_buf frames;
    mcp_buf_init(&frames);
    mcp_buf_reset(out);

    const uint8_t *p = data + 2;
    size_t left = size - 2;
    while (left && !mcp_ws_conn_should_close(c)) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 512;
        if (n > left) n = left;
        mcp_ws_conn_feed(c, (const char *)p, n);
        mcp_buf_append(&frames, out->data, out->len);
        mcp_buf_reset(out);
        p += n;
        left -= n;
    }
    check_frames((const unsigned char *)frames.data, frames.len);
    mcp_session *session = mcp_ws_conn_detach(c);
    if (session) mcp_session_free(session);
    mcp_ws_conn_free(c);
    mcp_ws_server_free(ws);
    mcp_buf_free(&frames);
    return 0;
}
