/*
 * bench/modules/network.h — the pieces of the network benchmark module.
 *
 * The module (network.c) puts libmcp's transports under load and puts a
 * null server beside each one: a responder that frames input the same way
 * and answers every request with a fixed, valid JSON-RPC response carrying
 * the request's id, but does no MCP work. Both are driven by one load
 * generator, so the ratio of their throughputs is the price of the protocol
 * layer on that transport.
 *
 *   network_load.c   the load generator: non-blocking sockets and epoll,
 *                    pipelined windows, a timestamp per request, round trips
 *                    measured at the client by matching response ids
 *   network_null.c   the null TCP server (one libuv loop on its own thread,
 *                    like one mcp_net worker) and the null stdio server (a
 *                    forked process with a blocking loop, like mcpd serve)
 *   network_stdio.c  the stdio peers and the sequential round-trip driver
 *   network_http.c   HTTP/1.1 on the wire: the load generator's response
 *                    reader (JSON bodies, chunked SSE streams) and the
 *                    captured HTTP response the null HTTP server replays
 *   network_ws.c     WebSocket on the wire: the opening handshake and frames
 *
 * A request line is prefix + decimal id + suffix + "\n"; ids run from 1 to
 * the number of operations of one pass. A response matches when its first
 * "id": member is such an id not yet answered and it carries a result.
 * Over HTTP the JSON text is the body of a POST (the request's head, then
 * Content-Length, then prefix + id + suffix) and the response is the body of
 * the HTTP response or the data of one of its SSE events. Over WebSocket it
 * is one text frame each way.
 */
#ifndef MCP_BENCH_NETWORK_H
#define MCP_BENCH_NETWORK_H

#include "harness.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What one request looks like on the wire, around its id. */
typedef struct bench_net_request {
    const char *prefix;
    size_t prefix_len;
    const char *suffix;
    size_t suffix_len;
    /* HTTP: the request line and headers, each ending in CRLF, without
     * Content-Length (the generator adds it and the blank line). NULL for
     * NDJSON. */
    const char *http_head;
    size_t http_head_len;
    bool ws; /* WebSocket: upgraded at connect, one text frame per message */
} bench_net_request;

/* ---- Load generator (network_load.c) ------------------------------------------ */
typedef enum bench_net_mode {
    BENCH_NET_CLOSED_LOOP, /* keep `window` requests in flight on every connection */
    BENCH_NET_BURSTS       /* send `window` requests at once, wait for every answer, repeat */
} bench_net_mode;

typedef struct bench_net_load bench_net_load;

/* Connect `connections` sockets to 127.0.0.1:port (made non-blocking,
 * TCP_NODELAY). The connections live until bench_net_load_free. With
 * request->http_head they speak HTTP/1.1 keep-alive: `window` requests in
 * flight means that many pipelined POSTs, and a request is answered when
 * its whole HTTP response has arrived (its latency ends with the read that
 * carried its result: the body, or the SSE event). */
int bench_net_load_new(int port, size_t connections, unsigned window, bench_net_mode mode,
                       const bench_net_request *request, bench_net_load **out);
void bench_net_load_free(bench_net_load *load);
/* ops round trips. Each response's latency (its arrival minus its request's
 * send, both read on this thread) goes to lat when lat is non-NULL;
 * *elapsed_ns runs from the first send to the last response. Fails with
 * MCP_EPROTO on a response that is not a result for an outstanding id,
 * MCP_ECLOSED when the server closes, MCP_ETIMEDOUT after 10 s of silence. */
int bench_net_load_run(bench_net_load *load, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns);
/* The start of a request suffix that calls the echo tool: appends
 * ,"method":"tools/call","params":{"name":"echo","arguments":{"text":"
 * and `bytes` of plain words (a realistic small tool argument), leaving the
 * string open for the caller to close along with its _meta. */
int bench_net_echo_call_append(mcp_buf *suffix, size_t bytes);

/* Where the value of the envelope's "id" member starts, or NULL: the
 * common shape {"jsonrpc":"2.0","id":... is checked first, then the first
 * 48 bytes are searched (far enough for any envelope that puts the id near
 * the front, short enough that a payload saying "id": is never taken). */
const char *bench_net_find_id(const char *text, size_t len);
/* The raw id token of a request: what follows its first "id": near the
 * start, up to the next ',' or '}'; "null" when there is none. */
mcp_str bench_net_request_id(const char *request, size_t len);
/* The id of a response line, when it is a result: 0 and *id, or MCP_EPROTO. */
int bench_net_response_id(const char *line, size_t len, uint64_t *id);

/* ---- HTTP on the wire (network_http.c) ------------------------------------------ */
/* Incremental reader of HTTP/1.1 responses on one connection: status 200,
 * a Content-Length body or a chunked one; a text/event-stream body is split
 * into events. Every JSON-RPC message (a JSON body, or the data of an event)
 * goes to on_message; the end of each response to on_end. Bytes are taken
 * where they lie in the caller's buffer whenever a piece arrived whole. */
typedef struct bench_http_reader {
    int state;
    bool chunked, sse;
    size_t remaining;  /* body or chunk bytes still to come */
    mcp_buf head;      /* a head split across reads */
    mcp_buf body;      /* a JSON body split across reads; SSE: an event split across reads */
    char line[32];     /* a chunk-size or trailer line split across reads */
    size_t line_len;
    int (*on_message)(void *user, const char *json, size_t len);
    int (*on_end)(void *user);
    void *user;
} bench_http_reader;

void bench_http_reader_init(bench_http_reader *r, int (*on_message)(void *, const char *, size_t),
                            int (*on_end)(void *), void *user);
void bench_http_reader_reset(bench_http_reader *r); /* between passes: drop a partial response */
void bench_http_reader_free(bench_http_reader *r);
/* 0, MCP_EPROTO for anything but a 200 response we can frame (the head is
 * printed to stderr), or the first nonzero result of a callback. */
int bench_http_reader_feed(bench_http_reader *r, const char *data, size_t len);

/* A captured HTTP response to replay with another id: the bytes before and
 * after the id, and the one length field (Content-Length, or the size of
 * the chunk holding the id) that covers it, rewritten per reply. */
typedef struct bench_http_reply {
    mcp_buf before_length; /* up to the length digits */
    mcp_buf before_id;     /* after the length digits, through "id": */
    mcp_buf after_id;      /* the rest of the response */
    size_t covered;        /* bytes under the length field, the id excluded */
    bool hex;              /* a chunk size (hex) rather than Content-Length (decimal) */
} bench_http_reply;

/* Split a whole response (raw bytes) around the JSON-RPC id `id`. */
int bench_http_reply_from(const char *raw, size_t len, uint64_t id, bench_http_reply *out);
void bench_http_reply_free(bench_http_reply *reply);
/* Append the reply for a request body (its raw id spliced in). */
int bench_http_reply_append(const bench_http_reply *reply, const char *body, size_t len, mcp_buf *out);

/* ---- WebSocket on the wire (network_ws.c) ---------------------------------------- */
#define BENCH_WS_MAX_PAYLOAD (16u * 1024 * 1024)

/* The upgrade request every benchmark connection sends (one fixed key). */
extern const char bench_ws_upgrade[];
/* Send the upgrade on a blocking socket and read the answer through its
 * blank line into response: 0 on 101, MCP_EPROTO otherwise. */
int bench_ws_handshake(int fd, mcp_buf *response);
/* Write the header of a final text frame of payload_len bytes (at most 14
 * bytes); masked frames get the zero mask key. Returns its length. */
size_t bench_ws_frame_header(char *out, uint64_t payload_len, bool masked);

typedef struct bench_ws_frame {
    bool fin, masked;
    int opcode;
    unsigned char mask[4];
    const char *payload; /* still masked when masked */
    size_t payload_len;
    size_t frame_len;    /* header and payload */
} bench_ws_frame;
/* The frame at the start of data: 1 when whole, 0 when more bytes are
 * needed, MCP_EPROTO for a payload over BENCH_WS_MAX_PAYLOAD. */
int bench_ws_frame_next(const char *data, size_t len, bench_ws_frame *frame);

/* ---- Null servers (network_null.c) --------------------------------------------- */
/* The null response: a real response line split around its id, so that the
 * null server sends exactly as many bytes as the server it stands beside. */
typedef struct bench_net_reply {
    char *prefix;
    size_t prefix_len;
    char *suffix; /* without the newline */
    size_t suffix_len;
} bench_net_reply;

/* Split line (without its newline) around the decimal id `id`. */
int bench_net_reply_from(const char *line, size_t len, uint64_t id, bench_net_reply *out);
void bench_net_reply_free(bench_net_reply *reply);
/* Append the reply to one request line (prefix, the request's raw id,
 * suffix, newline). A request without an id is answered with id null. */
int bench_net_reply_append(const bench_net_reply *reply, const char *request, size_t len, mcp_buf *out);

typedef struct bench_null_tcp bench_null_tcp;
/* Listen on 127.0.0.1 (port picked by the kernel) on a new thread that
 * inherits the caller's CPU affinity. reply is borrowed until stop. */
int bench_null_tcp_start(const bench_net_reply *reply, bench_null_tcp **out);
/* The same loop speaking HTTP/1.1: requests framed by libmcp's HTTP parser
 * (llhttp, as the real server frames them), each answered with reply. */
int bench_null_http_start(const bench_http_reply *reply, bench_null_tcp **out);
/* The same loop speaking WebSocket: the upgrade answered with upgrade_reply
 * (the real server's 101, captured; borrowed until stop), then each text
 * frame unmasked and answered with reply in one unmasked text frame. */
int bench_null_ws_start(const bench_net_reply *reply, const mcp_buf *upgrade_reply, bench_null_tcp **out);
int bench_null_tcp_port(const bench_null_tcp *server);
void bench_null_tcp_stop(bench_null_tcp *server); /* closes everything, joins, frees */

/* Fork a process that answers NDJSON on its stdin with reply on its stdout
 * until end of input; *in_fd writes to it, *out_fd reads from it. */
int bench_null_stdio_spawn(const bench_net_reply *reply, pid_t *pid, int *in_fd, int *out_fd);

/* ---- stdio (network_stdio.c) ------------------------------------------------------ */
/* Start `exe serve --stdio` with pipes; stderr is inherited. */
int bench_stdio_spawn_mcpd(const char *exe, pid_t *pid, int *in_fd, int *out_fd);
/* Close the pipes, wait for the child (killed after 5 s); 0 when it exited 0. */
int bench_stdio_reap(pid_t pid, int in_fd, int out_fd);
/* Pin a child process to one CPU (best effort: it is a measurement aid). */
void bench_net_pin_pid(pid_t pid, int cpu);

/* Sequential round trips over a pair of pipes: write one request, read its
 * response, next. The carry buffer keeps bytes past a response's newline. */
typedef struct bench_stdio_peer {
    int in_fd, out_fd;
    mcp_buf carry;
    const bench_net_request *request;
    mcp_buf line; /* scratch: the request being sent */
} bench_stdio_peer;

/* One round trip with the given id; its response line (without the
 * newline) is copied into response when that is non-NULL. */
int bench_stdio_round_trip(bench_stdio_peer *peer, uint64_t id, mcp_buf *response);
int bench_stdio_run(bench_stdio_peer *peer, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns);

#endif
