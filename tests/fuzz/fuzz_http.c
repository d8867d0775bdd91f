/*
 * Fuzz HTTP request handling end to end, without sockets: bytes go through
 * a sans-I/O connection (llhttp framing, the MCP endpoint's rules, sessions
 * of both eras, a real server with a synchronous tool) in reads of sizes
 * chosen by the input. Whatever arrives, the output must be a sequence of
 * well-formed HTTP/1.1 responses, never more of them than requests, and
 * nothing may leak or crash.
 *
 * Input layout: byte 0 seeds the read sizes, byte 1 picks options, the
 * rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_internal.h"

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    mcp_call_progress(call, 1, 2, "half");
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

static mcp_server *server;

/* Every response starts with a status line and ends where its framing says. */
static void check_output(const char *out, size_t len, uint64_t requests) {
    size_t pos = 0;
    uint64_t responses = 0;
    while (pos < len) {
        if (len - pos < 12 || memcmp(out + pos, "HTTP/1.1 ", 9) != 0) abort();
        const char *end = memmem(out + pos, len - pos, "\r\n\r\n", 4);
        if (!end) abort();
        size_t head = (size_t)(end - (out + pos)) + 4;
        const char *cl = memmem(out + pos, head, "Content-Length: ", 16);
        responses++;
        if (cl) {
            pos += head + strtoul(cl + 16, NULL, 10);
            continue;
        }
        if (!memmem(out + pos, head, "Transfer-Encoding: chunked", 26)) abort();
        pos += head;
        for (;;) {
            if (pos >= len) return; /* a stream still open at the end */
            char *after;
            size_t size = strtoul(out + pos, &after, 16);
            if (after == out + pos || memcmp(after, "\r\n", 2) != 0) abort();
            pos = (size_t)(after - out) + 2 + size;
            if (pos + 2 > len || memcmp(out + pos, "\r\n", 2) != 0) abort();
            pos += 2;
            if (size == 0) break;
        }
    }
    if (pos != len || responses > requests + 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if (!server) {
        server = mcp_server_new(&(mcp_server_opts){.name = "fuzz", .version = "1"});
        mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = echo});
    }
    unsigned seed = data[0];
    mcp_http_opts opts = {.prefer_sse = data[1] & 1, .max_body_size = (data[1] & 2) ? 64 : 0,
                          .max_header_size = (data[1] & 4) ? 128 : 0, .max_pipeline = 1 + (data[1] >> 4)};
    mcp_listen listen = {.http_opts = &opts};
    mcp_net_limits limits = {.max_message_size = 1 << 20, .max_connections = 1, .idle_timeout_ms = 1000,
                             .max_output_queue = 1 << 20, .drain_grace_ms = 10, .stall_timeout_ms = 1000};
    mcp_http_server *http;
    if (mcp_http_server_new(&http, server, &listen, &limits, 1)) return 0;
    mcp_http_conn *conn = mcp_http_conn_new(http, 0, &(mcp_http_conn_io){0});
    const char *p = (const char *)data + 2;
    size_t left = size - 2;
    uint64_t now = 1;
    while (left) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 97;
        if (n > left) n = left;
        /* The loop's read buffer is reused: hand over a copy that dies. */
        char *chunk = malloc(n);
        memcpy(chunk, p, n);
        mcp_http_conn_feed(conn, chunk, n, now++);
        free(chunk);
        p += n;
        left -= n;
        if (mcp_http_conn_should_close(conn)) break;
    }
    mcp_http_conn_tick(conn, now + 100000);
    mcp_http_conn_drain(conn);
    mcp_http_counters c;
    mcp_http_counters_get(http, &c);
    mcp_buf *out = mcp_http_conn_out(conn);
    check_output(out->data, out->len, c.requests);
    mcp_http_conn_free(conn);
    mcp_http_server_free(http);
    return 0;
}
