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
 *
 * A request line is prefix + decimal id + suffix + "\n"; ids run from 1 to
 * the number of operations of one pass. A response matches when its first
 * "id": member is such an id not yet answered and it carries a result.
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
} bench_net_request;

/* ---- Load generator (network_load.c) ------------------------------------------ */
typedef enum bench_net_mode {
    BENCH_NET_CLOSED_LOOP, /* keep `window` requests in flight on every connection */
    BENCH_NET_BURSTS       /* send `window` requests at once, wait for every answer, repeat */
} bench_net_mode;

typedef struct bench_net_load bench_net_load;

/* Connect `connections` sockets to 127.0.0.1:port (made non-blocking,
 * TCP_NODELAY). The connections live until bench_net_load_free. */
int bench_net_load_new(int port, size_t connections, unsigned window, bench_net_mode mode,
                       const bench_net_request *request, bench_net_load **out);
void bench_net_load_free(bench_net_load *load);
/* ops round trips. Each response's latency (its arrival minus its request's
 * send, both read on this thread) goes to lat when lat is non-NULL;
 * *elapsed_ns runs from the first send to the last response. Fails with
 * MCP_EPROTO on a response that is not a result for an outstanding id,
 * MCP_ECLOSED when the server closes, MCP_ETIMEDOUT after 10 s of silence. */
int bench_net_load_run(bench_net_load *load, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns);

/* Where the value of the envelope's "id" member starts, or NULL: the
 * common shape {"jsonrpc":"2.0","id":... is checked first, then the first
 * 48 bytes are searched (far enough for any envelope that puts the id near
 * the front, short enough that a payload saying "id": is never taken). */
const char *bench_net_find_id(const char *text, size_t len);
/* The id of a response line, when it is a result: 0 and *id, or MCP_EPROTO. */
int bench_net_response_id(const char *line, size_t len, uint64_t *id);

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
