/*
 * net/ws.h — the WebSocket server transport, shared by ws_handshake.c,
 * ws_conn.c and ws_tcp.c (and the tests and fuzz target of src/net).
 *
 * A WebSocket connection starts as an HTTP/1.1 GET with Upgrade: websocket
 * (RFC 6455 section 4). The handshake (ws_handshake.c) is parsed by llhttp
 * and checked: path, Host and Origin (the same DNS-rebinding rules as
 * Streamable HTTP), Upgrade and Connection tokens, Sec-WebSocket-Version 13,
 * a Sec-WebSocket-Key of 16 bytes. The MCP SDKs offer the subprotocol "mcp";
 * when offered it is selected.
 *
 * After the 101 answer comes the framing (ws_conn.c): each text message is
 * one JSON-RPC message (or batch) for the connection's mcp_session; binary
 * messages close with 1003, messages over the size limit with 1009, text
 * that is not UTF-8 with 1007. Whole, final text frames are read and
 * answered by ws_conn.c itself (the common case, and wslay's per-byte work
 * would cost more than the MCP request behind it); from the first other
 * frame on, wslay reads: ping, pong, fragments, faults and the close
 * handshake are wslay's. The connection is sans I/O: bytes in, bytes to
 * send collect in an output buffer; ws_tcp.c is the libuv glue.
 *
 * Sans-I/O use (tests, fuzzing):
 *
 *     mcp_ws_server *ws;
 *     mcp_ws_server_new(&ws, server, &listen, NULL);
 *     mcp_ws_conn *c = mcp_ws_conn_new(ws, &(mcp_ws_conn_io){0}, &counters);
 *     mcp_ws_conn_feed(c, bytes, len);      // answers collect in mcp_ws_conn_out(c)
 *     mcp_session_free(mcp_ws_conn_detach(c));
 *     mcp_ws_conn_free(c);
 *     mcp_ws_server_free(ws);
 */
#ifndef MCP_NET_WS_H
#define MCP_NET_WS_H

#include "mcp/net.h"
#include "net/net_internal.h"

#define MCP_WS_DEFAULT_PATH "/mcp"
#define MCP_WS_MAX_HANDSHAKE (16u * 1024) /* request line and headers; 431 beyond */
#define MCP_WS_SUBPROTOCOL "mcp"

/* Notes of the WebSocket transport (kind; target is the ws_tcp connection). */
enum { MCP_WS_NOTE_OUTPUT = 200 };

/* ---- Handshake ------------------------------------------------------------------ */
typedef struct mcp_ws_server mcp_ws_server;

enum { MCP_WS_HS_MORE = 0, MCP_WS_HS_DONE = 1, MCP_WS_HS_REFUSED = 2 };

typedef struct mcp_ws_handshake {
    void *llhttp;        /* llhttp_t, opaque here */
    mcp_buf target;      /* the request target */
    mcp_buf values[7];   /* the headers the handshake reads (repeats joined with ",") */
    bool present[7];
    size_t bytes;        /* of the request so far, against MCP_WS_MAX_HANDSHAKE */
    char field[32];      /* header name being read (longer names are not ours) */
    size_t field_len;
    int current;         /* header whose value is being read, or -1 */
    bool duplicate;      /* a header that must be single came twice */
    bool complete;
    int status;          /* refused: the status sent */
} mcp_ws_handshake;

void mcp_ws_handshake_init(mcp_ws_handshake *hs);
void mcp_ws_handshake_free(mcp_ws_handshake *hs);
/* Consume input (advanced past what was used). MCP_WS_HS_DONE: the 101
 * answer is appended to out and what is left of input is WebSocket data.
 * MCP_WS_HS_REFUSED: an HTTP error answer is appended to out and the
 * connection must close after writing it. MCP_WS_HS_MORE: send more. */
int mcp_ws_handshake_feed(mcp_ws_handshake *hs, const mcp_ws_server *ws, mcp_str *input, mcp_buf *out);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 chars + NUL. */
int mcp_ws_accept_key(mcp_str key, char out[29]);

/* ---- Server and connections ------------------------------------------------------ */
struct mcp_ws_server {
    mcp_server *server;
    char *path;
    char **allowed_hosts;   /* NULL-terminated copies */
    char **allowed_origins;
    bool disable_host_check;
    size_t max_message_size;
};

int mcp_ws_server_new(mcp_ws_server **out, mcp_server *server, const mcp_listen *listen,
                      const mcp_net_limits *limits);
void mcp_ws_server_free(mcp_ws_server *ws);
bool mcp_ws_host_allowed(const mcp_ws_server *ws, mcp_str host);
bool mcp_ws_origin_allowed(const mcp_ws_server *ws, mcp_str origin);

typedef struct mcp_ws_conn mcp_ws_conn;

typedef struct mcp_ws_conn_io {
    /* Output appeared outside a feed (an asynchronous reply): write it soon. */
    void (*flush)(void *user);
    void *user;
    /* The loop of the connection: session output from other threads is
     * posted there as an MCP_WS_NOTE_OUTPUT note with target = user.
     * NULL: single-threaded sans-I/O use, output is framed at once. */
    mcp_net_worker *worker;
} mcp_ws_conn_io;

/* counters: where limits and errors are counted (a worker's own copy). */
mcp_ws_conn *mcp_ws_conn_new(mcp_ws_server *ws, const mcp_ws_conn_io *io, mcp_net_counters *counters);
/* The bytes of one read; what they produce is in mcp_ws_conn_out, framed
 * in one go at the end (one write per read). */
void mcp_ws_conn_feed(mcp_ws_conn *c, const char *data, size_t len);
mcp_buf *mcp_ws_conn_out(mcp_ws_conn *c);
/* A message of the session, on the connection's loop (from a note). */
void mcp_ws_conn_deliver(mcp_ws_conn *c, const char *message, size_t len);
/* Start the closing handshake with code (1001 when draining); idempotent. */
void mcp_ws_conn_close(mcp_ws_conn *c, uint16_t code, const char *reason);
/* The connection is finished once its output is written: handshake
 * refused, close handshake done (or ours sent after a fatal error). */
bool mcp_ws_conn_should_close(const mcp_ws_conn *c);
bool mcp_ws_conn_upgraded(const mcp_ws_conn *c);
/* Asynchronous calls still running. */
size_t mcp_ws_conn_pending(const mcp_ws_conn *c);
/* The peer is gone or we are done: returns the session for the caller to
 * free (off the loop with mcp_net_reap, or directly in sans-I/O use); no
 * more output is taken. */
mcp_session *mcp_ws_conn_detach(mcp_ws_conn *c);
void mcp_ws_conn_free(mcp_ws_conn *c);
bool mcp_ws_conn_close_sent(const mcp_ws_conn *c);
/* Status code of the close frame we sent, 0 if none. */
uint16_t mcp_ws_conn_close_code(const mcp_ws_conn *c);

/* Unmask a client frame's payload into out (len bytes; out may be payload):
 * true when every byte is below 0x80. Also the null WebSocket server of the
 * network bench unmasks with it, so that the yardstick pays what we pay. */
bool mcp_ws_unmask(unsigned char *out, const unsigned char *payload, size_t len, const unsigned char key[4]);

extern const mcp_net_transport mcp_ws_transport; /* ws_tcp.c */

#endif
