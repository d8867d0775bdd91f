/*
 * A WebSocket connection driven without sockets: a server with the echo
 * tool, one mcp_ws_conn already upgraded, bytes fed as if read, and what
 * it writes after the 101 gathered in out. Include after cmocka.h,
 * net/ws.h and test_echo_tool.h.
 */
#ifndef TEST_WS_SANS_IO_H
#define TEST_WS_SANS_IO_H

typedef struct sans_io {
    mcp_server *server;
    mcp_ws_server *ws;
    mcp_ws_conn *c;
    mcp_net_counters counters;
    mcp_buf out; /* the frames written after the 101 */
} sans_io;

/* max_message_size 0: the default. */
static inline void sans_io_start(sans_io *t, size_t max_message_size) {
    memset(t, 0, sizeof *t);
    t->server = mcp_server_new(&(mcp_server_opts){.name = "ws-test", .version = "1.0"});
    assert_non_null(t->server);
    assert_int_equal(mcp_server_add_tool(t->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    mcp_ws_opts opts = {.max_message_size = max_message_size};
    assert_int_equal(mcp_ws_server_new(&t->ws, t->server, &(mcp_listen){.ws = "127.0.0.1:0", .ws_opts = &opts}, NULL),
                     0);
    t->c = mcp_ws_conn_new(t->ws, &(mcp_ws_conn_io){0}, &t->counters);
    assert_non_null(t->c);
    static const char upgrade[] = "GET /mcp HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";
    mcp_ws_conn_feed(t->c, upgrade, sizeof upgrade - 1);
    assert_true(mcp_ws_conn_upgraded(t->c));
    mcp_buf_reset(mcp_ws_conn_out(t->c));
    mcp_buf_init(&t->out);
}

/* One read; what it produced is appended to t->out. */
static inline void sans_io_feed(sans_io *t, const char *data, size_t len) {
    mcp_ws_conn_feed(t->c, data, len);
    mcp_buf *out = mcp_ws_conn_out(t->c);
    mcp_buf_append(&t->out, out->data, out->len);
    mcp_buf_reset(out);
}

static inline void sans_io_stop(sans_io *t) {
    mcp_session *session = mcp_ws_conn_detach(t->c);
    if (session) mcp_session_free(session);
    mcp_ws_conn_free(t->c);
    mcp_ws_server_free(t->ws);
    mcp_server_free(t->server);
    mcp_buf_free(&t->out);
}

#endif
