/*
 * network: libmcp's transports under load, each beside a null server.
 *
 *   tcp_burst_100_1kib     one connection; bursts of 100 pipelined tools/call
 *                          (echo, 1 KiB of text), the next burst once every
 *                          answer of the last one is in
 *   tcp_sustained_1k_1kib  10 connections x 100 in flight = 1,000 tools/call
 *                          in flight, closed loop
 *   tcp_keepalive_50       50 connections, one tools/call (1 KiB echo) at a
 *                          time on each: the load of http_keepalive_50 over
 *                          NDJSON, a client that waits for each answer
 *   tcp_pipelined_ping     8 connections x 512 pipelined pings: the NDJSON
 *                          message rate of the runtime
 *   stdio_sequential_1k    1,000 sequential tools/call round trips over the
 *                          pipes of `mcpd serve --stdio` (this binary)
 *   http_keepalive_50      tools/call (echo, 1 KiB) as stateless modern-era
 *                          POSTs over 50 keep-alive HTTP/1.1 connections, one
 *                          request at a time on each; JSON responses
 *   http_sse_1k            the same over 1,000 connections, each response an
 *                          SSE stream (the server prefers SSE), timed to the
 *                          event that carries the result
 *   ws_1k                  10 WebSocket connections x 100 tools/call in
 *                          flight, one text frame per message
 *
 * The MCP server is the demo catalog of `mcpd serve`. Over TCP it runs in
 * this process on one mcp_net worker; over stdio it is a child process. The
 * null server beside it (network_null.c) frames the same way on the same
 * threading model and answers with a response captured from the real server
 * for the same request, so both put the same bytes on the wire. Both run in
 * the same workload, under the same load generator (network_load.c).
 *
 * The ratio is measured so that a busy machine moves it as little as it
 * can, and never in our favour:
 *   - pinned: with two CPUs or more, the servers run on the first CPU this
 *     process may use and the load generator (this thread) on the second
 *     (pinning.h), so neither side queues behind the other; the records say
 *     which (metrics server_cpu, loadgen_cpu);
 *   - interleaved: the harness runs a repetition of the MCP server, then
 *     one of the null server, then the next pair (module.interleave), after
 *     one warm-up of each, so a pair sees the same neighbours' load;
 *   - paired: ratio_to_null_baseline is the median over repetitions of
 *     (MCP throughput / null throughput) of the same pair, with
 *     ratio_lowest and ratio_highest the extremes of those per-pair ratios;
 *   - a fair yardstick: the null server frames, unmasks and writes the way
 *     the real transport does (network_null.c), no slower, so a ratio above
 *     1 would point at the null server, not at a fast MCP layer.
 * p50_ratio_to_null_baseline pairs the median round trips the same way.
 * Beside them, cpu_ratio_to_null_baseline divides, pair by pair, the null
 * server's CPU time per operation by ours (server_cpu_ns_per_op on each
 * record: the process's CPU time less the load generator's, over a pass):
 * it reads what the ratio would be with the server side as the limit, and
 * a neighbour taking turns on the cores moves it far less than the
 * throughput. It stands beside the throughput ratio, never in its place.
 * added_cpu_ns_per_op is the median of the same pairs' differences: the
 * server CPU the MCP layer adds per operation.
 *
 * Tools/call requests use the modern era (2026-07-28: per-request _meta, no
 * initialize), so a connection needs no handshake; ping needs none either.
 * Over HTTP they carry the headers that era requires (MCP-Protocol-Version,
 * Mcp-Method, Mcp-Name) and the server checks them against the body.
 */
#include "app/demo.h"
#include "net/net_internal.h"
#include "net/http.h"
#include "network.h"
#include "pinning.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    NET_TCP_BURST = 1,
    NET_TCP_SUSTAINED = 2,
    NET_TCP_PING = 3,
    NET_STDIO_SEQUENTIAL = 4,
    NET_HTTP_KEEPALIVE = 5,
    NET_HTTP_SSE = 6,
    NET_WS = 7,
    NET_TCP_KEEPALIVE = 8
};

#define NET_TEXT_BYTES 1024
/* An id no pass uses (they run from 1 to ops): the probe that captures the
 * real server's response for the null server. */
#define NET_PROBE_ID 987654321u

typedef struct net_plan {
    uint64_t kind;
    size_t connections;
    unsigned window;
    bench_net_mode mode;
    bool ping;
    bool http, sse; /* Streamable HTTP; answers as SSE streams */
    bool ws;
} net_plan;

static const net_plan PLANS[] = {
    {NET_TCP_BURST, 1, 100, BENCH_NET_BURSTS, false, false, false, false},
    {NET_TCP_SUSTAINED, 10, 100, BENCH_NET_CLOSED_LOOP, false, false, false, false},
    {NET_TCP_PING, 8, 512, BENCH_NET_CLOSED_LOOP, true, false, false, false},
    {NET_STDIO_SEQUENTIAL, 1, 1, BENCH_NET_CLOSED_LOOP, false, false, false, false},
    {NET_HTTP_KEEPALIVE, 50, 1, BENCH_NET_CLOSED_LOOP, false, true, false, false},
    {NET_HTTP_SSE, 1000, 1, BENCH_NET_CLOSED_LOOP, false, true, true, false},
    {NET_WS, 10, 100, BENCH_NET_CLOSED_LOOP, false, false, false, true},
    {NET_TCP_KEEPALIVE, 50, 1, BENCH_NET_CLOSED_LOOP, false, false, false, false},
};

/* The head of every HTTP request: a client of the stateless era that
 * accepts both answer types (as the specification asks); Content-Length
 * follows per request. */
static const char HTTP_HEAD[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Accept: application/json, text/event-stream\r\n"
                                "MCP-Protocol-Version: " MCP_PROTOCOL_MODERN "\r\n"
                                "Mcp-Method: tools/call\r\nMcp-Name: echo\r\n";

typedef struct net_state {
    const net_plan *plan;
    mcp_buf prefix, suffix;
    bench_net_request request;
    bench_net_reply reply;
    bench_http_reply http_reply;
    mcp_buf ws_upgrade; /* the real server's 101, for the null server */
    size_t response_bytes;
    /* TCP */
    mcp_server *server;
    mcp_net *net;
    bench_null_tcp *null_tcp;
    bench_net_load *mcp_load, *null_load;
    /* stdio */
    pid_t mcp_pid, null_pid;
    bench_stdio_peer mcp_stdio, null_stdio;
    /* pinning */
    bench_pinning pin; /* client_cpu: the load generator's */
    /* In-process servers: CPU time the server side spent per operation,
     * one sample per pass (the warm-up first); [0] ours, [1] the null's. */
    struct net_side {
        struct net_state *state;
        bench_net_load *load;
        double cpu_ns_per_op[BENCH_MAX_REPS + 1];
        unsigned passes;
    } side[2];
} net_state;

/* ---- Requests -------------------------------------------------------------------- */

static int build_request(net_state *s) {
    int rc = mcp_buf_append_cstr(&s->prefix, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (s->plan->ping) {
        if (!rc) rc = mcp_buf_append_cstr(&s->suffix, ",\"method\":\"ping\"}");
    } else {
        if (!rc) rc = bench_net_echo_call_append(&s->suffix, NET_TEXT_BYTES);
        if (!rc)
            rc = mcp_buf_append_cstr(&s->suffix, "\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\""
                                     MCP_PROTOCOL_MODERN "\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    }
    s->request = (bench_net_request){.prefix = s->prefix.data, .prefix_len = s->prefix.len,
                                     .suffix = s->suffix.data, .suffix_len = s->suffix.len};
    if (s->plan->http) {
        s->request.http_head = HTTP_HEAD;
        s->request.http_head_len = sizeof HTTP_HEAD - 1;
    }
    s->request.ws = s->plan->ws;
    return rc;
}

/* A tool that failed still answers with a result; the benchmark would time
 * the error path. Refuse to. */
static int check_response(const net_state *s, const mcp_buf *line) {
    uint64_t id;
    if (bench_net_response_id(line->data, line->len, &id) || id != NET_PROBE_ID ||
        (!s->plan->ping && !memmem(line->data, line->len, "\"text\":\"request", 15)) ||
        memmem(line->data, line->len, "\"isError\":true", 14)) {
        fprintf(stderr, "bench network: the server's answer to the probe is not the expected result: %.*s\n",
                (int)(line->len < 300 ? line->len : 300), line->data);
        return MCP_EPROTO;
    }
    return MCP_OK;
}

/* One blocking round trip on a fresh connection: the real server's
 * response to the workload's request, for the null server to repeat. */
static int probe_tcp(const net_state *s, int port, mcp_buf *line) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MCP_EIO;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    mcp_buf req;
    mcp_buf_init(&req);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr) ? MCP_EIO : MCP_OK;
    if (!rc) rc = mcp_buf_append(&req, s->request.prefix, s->request.prefix_len);
    if (!rc) rc = mcp_buf_appendf(&req, "%u", NET_PROBE_ID);
    if (!rc) rc = mcp_buf_append(&req, s->request.suffix, s->request.suffix_len);
    if (!rc) rc = mcp_buf_append_char(&req, '\n');
    if (!rc && send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) rc = MCP_EIO;
    while (!rc) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = MCP_ECLOSED;
            break;
        }
        const char *nl = memchr(chunk, '\n', (size_t)n);
        rc = mcp_buf_append(line, chunk, nl ? (size_t)(nl - chunk) : (size_t)n);
        if (nl) break;
    }
    mcp_buf_free(&req);
    close(fd);
    return rc;
}

/* The HTTP probe: every message of the one response, and its end. */
typedef struct http_probe {
    mcp_buf *message;
    unsigned messages;
    bool ended;
} http_probe;

static int probe_on_message(void *user, const char *json, size_t len) {
    http_probe *p = user;
    p->messages++;
    mcp_buf_reset(p->message);
    return mcp_buf_append(p->message, json, len);
}

static int probe_on_end(void *user) {
    ((http_probe *)user)->ended = true;
    return MCP_OK;
}

/* One blocking HTTP exchange on a fresh connection: the whole response as
 * sent (raw) and the JSON-RPC message it carried (line). */
static int probe_http(const net_state *s, int port, mcp_buf *raw, mcp_buf *line) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MCP_EIO;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    http_probe probe = {.message = line};
    bench_http_reader reader;
    bench_http_reader_init(&reader, probe_on_message, probe_on_end, &probe);
    mcp_buf req;
    mcp_buf_init(&req);
    const bench_net_request *rq = &s->request;
    char id[16];
    int id_len = snprintf(id, sizeof id, "%u", NET_PROBE_ID);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr) ? MCP_EIO : MCP_OK;
    if (!rc) rc = mcp_buf_append(&req, rq->http_head, rq->http_head_len);
    if (!rc) rc = mcp_buf_appendf(&req, "Content-Length: %zu\r\n\r\n", rq->prefix_len + (size_t)id_len + rq->suffix_len);
    if (!rc) rc = mcp_buf_append(&req, rq->prefix, rq->prefix_len);
    if (!rc) rc = mcp_buf_append(&req, id, (size_t)id_len);
    if (!rc) rc = mcp_buf_append(&req, rq->suffix, rq->suffix_len);
    if (!rc && send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) rc = MCP_EIO;
    while (!rc && !probe.ended) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = MCP_ECLOSED;
            break;
        }
        rc = mcp_buf_append(raw, chunk, (size_t)n);
        if (!rc) rc = bench_http_reader_feed(&reader, chunk, (size_t)n);
    }
    /* The null server must replay exactly one response carrying one message. */
    if (!rc && probe.messages != 1) rc = MCP_EPROTO;
    bench_http_reader_free(&reader);
    mcp_buf_free(&req);
    close(fd);
    return rc;
}

/* One WebSocket exchange on a fresh connection: the 101 answer to the
 * upgrade (upgrade) and the text of the answer to the request (line). */
static int probe_ws(const net_state *s, int port, mcp_buf *upgrade, mcp_buf *line) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MCP_EIO;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bench_net_request *rq = &s->request;
    char id[16];
    int id_len = snprintf(id, sizeof id, "%u", NET_PROBE_ID);
    mcp_buf req, in;
    mcp_buf_init(&req);
    mcp_buf_init(&in);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr) ? MCP_EIO : MCP_OK;
    if (!rc) rc = bench_ws_handshake(fd, upgrade);
    if (!rc) rc = mcp_buf_reserve(&req, 14 + rq->prefix_len + (size_t)id_len + rq->suffix_len);
    if (!rc) {
        req.len = bench_ws_frame_header(req.data, rq->prefix_len + (size_t)id_len + rq->suffix_len, true);
        rc = mcp_buf_append(&req, rq->prefix, rq->prefix_len);
    }
    if (!rc) rc = mcp_buf_append(&req, id, (size_t)id_len);
    if (!rc) rc = mcp_buf_append(&req, rq->suffix, rq->suffix_len);
    if (!rc && send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) rc = MCP_EIO;
    bench_ws_frame f;
    int got = 0;
    while (!rc && (got = bench_ws_frame_next(in.data, in.len, &f)) == 0) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = MCP_ECLOSED;
        else rc = mcp_buf_append(&in, chunk, (size_t)n);
    }
    if (!rc && (got < 0 || f.opcode != 1 || !f.fin || f.masked)) rc = MCP_EPROTO;
    if (!rc) rc = mcp_buf_append(line, f.payload, f.payload_len);
    mcp_buf_free(&req);
    mcp_buf_free(&in);
    close(fd);
    return rc;
}

/* ---- Tasks --------------------------------------------------------------------------- */

static uint64_t cpu_ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts)) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One pass, and the CPU time the server side used for it: the process's
 * CPU time less this thread's (the load generator's). While one server is
 * timed the other waits in epoll and costs nothing, so the rest is the
 * server's thread, kernel work done on its behalf included. Unlike the
 * throughput, it hardly moves when neighbours take turns on the cores. */
static int run_tcp(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    struct net_side *side = ctx;
    uint64_t process = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), self = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    int rc = bench_net_load_run(side->load, ops, lat, elapsed_ns);
    uint64_t server = (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - process) - (cpu_ns(CLOCK_THREAD_CPUTIME_ID) - self);
    if (!rc && ops && side->passes < BENCH_MAX_REPS + 1)
        side->cpu_ns_per_op[side->passes++] = (double)server / (double)ops;
    return rc;
}

static int run_stdio(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    return bench_stdio_run(ctx, ops, lat, elapsed_ns);
}

/* A limit that fired while we measured means the numbers describe the
 * limit, not the path: say so next to them. */
static void check_counters(const net_state *s) {
    mcp_net_counters c;
    mcp_net_counters_get(s->net, &c);
    if (c.refused || c.oversized || c.slow_evicted || c.idle_closed || c.output_dropped)
        fprintf(stderr, "bench network: server limits fired during the run (refused %llu, oversized %llu, "
                "evicted %llu, idle-closed %llu, output dropped %llu): treat these numbers with care\n",
                (unsigned long long)c.refused, (unsigned long long)c.oversized, (unsigned long long)c.slow_evicted,
                (unsigned long long)c.idle_closed, (unsigned long long)c.output_dropped);
    /* mcp_net_http reads the transport's state as HTTP's: ask only then. */
    mcp_http_server *http = s->plan->http ? mcp_net_http(s->net) : NULL;
    if (!http) return;
    mcp_http_counters h;
    mcp_http_counters_get(http, &h);
    uint64_t errors = h.status_400 + h.status_403 + h.status_404 + h.status_405 + h.status_406 + h.status_408 +
                      h.status_409 + h.status_413 + h.status_415 + h.status_431 + h.status_other_error;
    if (errors || h.request_timeouts || h.idle_closed || h.output_dropped)
        fprintf(stderr, "bench network: the HTTP server answered %llu requests with an error status (request "
                "timeouts %llu, idle-closed %llu, output dropped %llu): treat these numbers with care\n",
                (unsigned long long)errors, (unsigned long long)h.request_timeouts, (unsigned long long)h.idle_closed,
                (unsigned long long)h.output_dropped);
}

static void net_teardown(void *p) {
    net_state *s = p;
    if (!s) return;
    if (s->net) check_counters(s);
    /* Clients go first, so the server's drain finds every peer gone. */
    bench_net_load_free(s->mcp_load);
    bench_net_load_free(s->null_load);
    if (s->net) mcp_net_free(s->net);
    bench_null_tcp_stop(s->null_tcp);
    mcp_server_free(s->server);
    if (s->mcp_pid > 0 && bench_stdio_reap(s->mcp_pid, s->mcp_stdio.in_fd, s->mcp_stdio.out_fd))
        fprintf(stderr, "bench network: mcpd serve --stdio did not exit cleanly\n");
    if (s->null_pid > 0) bench_stdio_reap(s->null_pid, s->null_stdio.in_fd, s->null_stdio.out_fd);
    mcp_buf_free(&s->mcp_stdio.carry);
    mcp_buf_free(&s->mcp_stdio.line);
    mcp_buf_free(&s->null_stdio.carry);
    mcp_buf_free(&s->null_stdio.line);
    bench_net_reply_free(&s->reply);
    bench_http_reply_free(&s->http_reply);
    mcp_buf_free(&s->ws_upgrade);
    mcp_buf_free(&s->prefix);
    mcp_buf_free(&s->suffix);
    bench_pinning_restore(&s->pin);
    free(s);
}

static int setup_tcp(net_state *s) {
    const net_plan *plan = s->plan;
    /* Threads inherit the affinity of the thread that creates them: the
     * server's worker (and reaper) and the null server's loop are started
     * while this thread sits on the server CPU. */
    bench_pin_self(s->pin.server_cpu);
    s->server = mcp_server_new(&(mcp_server_opts){.name = "mcpd", .version = MCP_VERSION_STRING});
    if (!s->server) return MCP_ENOMEM;
    int rc = app_demo_register(s->server, 0);
    if (!rc && plan->http) {
        /* Limits far above the load, so that none of them is what gets timed. */
        mcp_http_opts opts = {.prefer_sse = plan->sse};
        mcp_listen listen = {.http = "127.0.0.1:0", .workers = 1, .http_opts = &opts};
        rc = mcp_net_start(&s->net, s->server, &listen, &(mcp_net_tuning){.http = true});
    } else if (!rc && plan->ws) {
        rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.ws = "127.0.0.1:0", .workers = 1},
                           &(mcp_net_tuning){.ws = true});
    } else if (!rc) {
        rc = mcp_net_start(&s->net, s->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL);
    }
    mcp_buf line, raw;
    mcp_buf_init(&line);
    mcp_buf_init(&raw);
    if (!rc) rc = plan->http ? probe_http(s, mcp_net_port(s->net), &raw, &line)
                  : plan->ws ? probe_ws(s, mcp_net_port(s->net), &s->ws_upgrade, &line)
                             : probe_tcp(s, mcp_net_port(s->net), &line);
    if (!rc) rc = check_response(s, &line);
    if (!rc && plan->http) {
        /* The answer type is what the workload is named after: make sure. */
        const char *type = plan->sse ? "\r\nContent-Type: text/event-stream\r\n" : "\r\nContent-Type: application/json\r\n";
        const char *head_end = memmem(raw.data, raw.len, "\r\n\r\n", 4);
        if (!head_end || !memmem(raw.data, (size_t)(head_end + 2 - raw.data), type, strlen(type))) {
            fprintf(stderr, "bench network: the server's HTTP answer to the probe is not of the expected type: %.*s\n",
                    (int)(raw.len < 200 ? raw.len : 200), raw.data);
            rc = MCP_EPROTO;
        }
    }
    if (!rc && plan->http) rc = bench_http_reply_from(raw.data, raw.len, NET_PROBE_ID, &s->http_reply);
    else if (!rc) rc = bench_net_reply_from(line.data, line.len, NET_PROBE_ID, &s->reply);
    /* As sent: with the newline, the HTTP head, or the frame header. */
    s->response_bytes = plan->http ? raw.len : plan->ws ? line.len + (line.len < 126 ? 2 : line.len <= 0xffff ? 4 : 10)
                                                        : line.len + 1;
    mcp_buf_free(&line);
    mcp_buf_free(&raw);
    if (!rc) rc = plan->http ? bench_null_http_start(&s->http_reply, &s->null_tcp)
                  : plan->ws ? bench_null_ws_start(&s->reply, &s->ws_upgrade, &s->null_tcp)
                             : bench_null_tcp_start(&s->reply, &s->null_tcp);
    bench_pin_self(s->pin.client_cpu);
    if (!rc) rc = bench_net_load_new(mcp_net_port(s->net), plan->connections, plan->window, plan->mode,
                                     &s->request, &s->mcp_load);
    if (!rc) rc = bench_net_load_new(bench_null_tcp_port(s->null_tcp), plan->connections, plan->window,
                                     plan->mode, &s->request, &s->null_load);
    return rc;
}

static void peer_init(bench_stdio_peer *peer, const bench_net_request *request, int in_fd, int out_fd) {
    peer->in_fd = in_fd;
    peer->out_fd = out_fd;
    peer->request = request;
    mcp_buf_init(&peer->carry);
    mcp_buf_init(&peer->line);
}

static int setup_stdio(net_state *s) {
    /* A server that went away must be an error of the run, not a SIGPIPE
     * that ends mcpd. */
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
        sigaction(SIGPIPE, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
    bench_pin_self(s->pin.client_cpu);
    int in_fd, out_fd;
    int rc = bench_stdio_spawn_mcpd("/proc/self/exe", &s->mcp_pid, &in_fd, &out_fd);
    if (rc) return rc;
    peer_init(&s->mcp_stdio, &s->request, in_fd, out_fd);
    bench_net_pin_pid(s->mcp_pid, s->pin.server_cpu);
    mcp_buf line;
    mcp_buf_init(&line);
    rc = bench_stdio_round_trip(&s->mcp_stdio, NET_PROBE_ID, &line);
    if (!rc) rc = check_response(s, &line);
    if (!rc) rc = bench_net_reply_from(line.data, line.len, NET_PROBE_ID, &s->reply);
    s->response_bytes = line.len + 1;
    mcp_buf_free(&line);
    if (!rc) rc = bench_null_stdio_spawn(&s->reply, &s->null_pid, &in_fd, &out_fd);
    if (rc) return rc;
    peer_init(&s->null_stdio, &s->request, in_fd, out_fd);
    bench_net_pin_pid(s->null_pid, s->pin.server_cpu);
    return MCP_OK;
}

static void describe(const net_state *s, bench_task *t, const char *who, const char *what) {
    char pinning[64] = "not pinned (one CPU)";
    if (s->pin.server_cpu >= 0)
        snprintf(pinning, sizeof pinning, "server on CPU %d, load generator on CPU %d", s->pin.server_cpu,
                 s->pin.client_cpu);
    const net_plan *p = s->plan;
    if (p->kind == NET_STDIO_SEQUENTIAL)
        snprintf(t->scope, sizeof t->scope, "%s: %s, one in flight, pipes; round trip from write to response "
                 "read; %s", who, what, pinning);
    else if (p->http)
        snprintf(t->scope, sizeof t->scope, "%s: %s, %zu keep-alive conn x %u in flight, 127.0.0.1; round "
                 "trip at the client from send to the read with the result %s; %s", who, what, p->connections,
                 p->window, p->sse ? "event" : "body", pinning);
    else
        snprintf(t->scope, sizeof t->scope, "%s: %s, %zu conn x %u %s, 127.0.0.1; round trip at the client "
                 "from send to response (by id); %s", who, what, p->connections, p->window,
                 p->mode == BENCH_NET_BURSTS ? "per burst" : "in flight", pinning);
}

static int net_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    net_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    for (size_t i = 0; i < sizeof PLANS / sizeof PLANS[0]; i++)
        if (PLANS[i].kind == w->size) s->plan = &PLANS[i];
    s->mcp_pid = s->null_pid = -1;
    mcp_buf_init(&s->prefix);
    mcp_buf_init(&s->suffix);
    mcp_buf_init(&s->ws_upgrade);
    bench_pinning_choose(&s->pin);
    int rc = s->plan ? build_request(s) : MCP_EINVAL;
    bool stdio = s->plan && s->plan->kind == NET_STDIO_SEQUENTIAL;
    if (!rc) rc = stdio ? setup_stdio(s) : setup_tcp(s);
    if (rc) {
        fprintf(stderr, "bench network: %s: setup failed: %s\n", w->id, mcp_strerror(rc));
        net_teardown(s);
        *state = NULL;
        return rc;
    }
    const char *op = s->plan->ping ? "ping" : "tools_call";
    const char *what = s->plan->ping ? "ping"
                       : s->plan->ws ? "tools/call echo (1 KiB text), one text frame each way"
                       : !s->plan->http ? "tools/call echo (1 KiB text)"
                       : s->plan->sse ? "modern POST tools/call echo (1 KiB), SSE answer (prefer_sse)"
                                      : "modern POST tools/call echo (1 KiB), JSON answer";
    const char *ours = stdio ? "mcpd serve --stdio" : s->plan->http ? "mcp_net HTTP, 1 worker"
                       : s->plan->ws ? "mcp_net WebSocket, 1 worker" : "mcp_net, 1 worker";
    const char *null = stdio ? "null stdio server" : s->plan->http ? "null HTTP (llhttp) loop"
                       : s->plan->ws ? "null WebSocket loop" : "null libuv server, 1 loop";
    bench_task *m = &tasks[0], *n = &tasks[1];
    snprintf(m->name, sizeof m->name, "mcp_%s", op);
    snprintf(n->name, sizeof n->name, "null_%s", op);
    describe(s, m, ours, what);
    describe(s, n, null, what);
    m->single_pass = n->single_pass = true; /* a clock read per batch, not per message */
    n->reference = true;                    /* the null server is the yardstick, not ours to gate on */
    m->run = n->run = stdio ? run_stdio : run_tcp;
    s->side[0] = (struct net_side){.state = s, .load = s->mcp_load};
    s->side[1] = (struct net_side){.state = s, .load = s->null_load};
    m->ctx = stdio ? (void *)&s->mcp_stdio : (void *)&s->side[0];
    n->ctx = stdio ? (void *)&s->null_stdio : (void *)&s->side[1];
    *count = 2;
    return MCP_OK;
}

/* The CPU samples behind a record (in-process servers only), or NULL. */
static const struct net_side *side_of(const net_state *s, const bench_record *r) {
    if (s->plan->kind == NET_STDIO_SEQUENTIAL) return NULL;
    return !strncmp(r->benchmark, "mcp_", 4) ? &s->side[0] : !strncmp(r->benchmark, "null_", 5) ? &s->side[1] : NULL;
}

static void net_finish(void *p, bench_record *records, size_t count) {
    net_state *s = p;
    for (size_t i = 0; i < count; i++) {
        bench_record *r = &records[i];
        bench_record_add_metric(r, "connections", (double)s->plan->connections);
        bench_record_add_metric(r, "in_flight_per_connection", (double)s->plan->window);
        /* With the id of the middle operation and the newline, or over
         * HTTP with the head and its Content-Length. */
        char id[24];
        int id_len = snprintf(id, sizeof id, "%llu", (unsigned long long)(r->operations / 2 + 1));
        size_t body = s->request.prefix_len + (size_t)id_len + s->request.suffix_len;
        size_t bytes = body + 1;
        if (s->request.ws) bytes = body + (body < 126 ? 2 : body <= 0xffff ? 4 : 10) + 4;
        if (s->request.http_head) {
            char length[48];
            bytes = s->request.http_head_len + (size_t)snprintf(length, sizeof length, "Content-Length: %zu\r\n\r\n", body) + body;
        }
        bench_record_add_metric(r, "request_bytes", (double)bytes);
        bench_record_add_metric(r, "response_bytes", (double)s->response_bytes);
        if (s->pin.server_cpu >= 0) {
            bench_record_add_metric(r, "server_cpu", s->pin.server_cpu);
            bench_record_add_metric(r, "loadgen_cpu", s->pin.client_cpu);
        }
        const struct net_side *side = side_of(s, r);
        double spread[3];
        if (side && side->passes > 1) {
            bench_spread(side->cpu_ns_per_op + 1, side->passes - 1, spread); /* the warm-up left out */
            bench_record_add_metric(r, "server_cpu_ns_per_op", spread[0]);
        }
    }
    for (size_t i = 0; i < count; i++) {
        bench_record *ours = &records[i];
        if (strncmp(ours->benchmark, "mcp_", 4)) continue;
        for (size_t j = 0; j < count; j++) {
            const bench_record *null = &records[j];
            if (strncmp(null->benchmark, "null_", 5) || strcmp(null->benchmark + 5, ours->benchmark + 4)) continue;
            /* Pair by pair: a repetition of ours and the null one right
             * after it saw the same machine; the median of those ratios
             * stands when a neighbour's load comes and goes, a ratio of
             * the two medians does not. */
            double ratio[3];
            if (!bench_paired_ratio(ours, null, ratio)) continue;
            bench_record_add_metric(ours, "ratio_to_null_baseline", ratio[0]);
            bench_record_add_metric(ours, "ratio_lowest", ratio[1]);
            bench_record_add_metric(ours, "ratio_highest", ratio[2]);
            /* The median round trip, paired the same way. */
            double p50[BENCH_MAX_REPS];
            unsigned n = 0;
            for (unsigned k = 0; k < ours->repetitions && k < null->repetitions && k < BENCH_MAX_REPS; k++)
                if (null->reps[k].p50_us > 0) p50[n++] = ours->reps[k].p50_us / null->reps[k].p50_us;
            if (n) {
                bench_spread(p50, n, ratio);
                bench_record_add_metric(ours, "p50_ratio_to_null_baseline", ratio[0]);
            }
            /* Server CPU per operation, pair by pair, as a throughput-like
             * ratio (null's cost over ours): what the MCP layer leaves of
             * the transport's capacity when the server side is the limit,
             * measured in a way a busy machine moves far less. */
            const struct net_side *a = side_of(s, ours), *b = side_of(s, null);
            if (a && b && a->passes == b->passes && a->passes > 1) {
                double cpu[BENCH_MAX_REPS], added[BENCH_MAX_REPS];
                n = 0;
                for (unsigned k = 1; k < a->passes; k++)
                    if (a->cpu_ns_per_op[k] > 0) {
                        cpu[n] = b->cpu_ns_per_op[k] / a->cpu_ns_per_op[k];
                        added[n++] = a->cpu_ns_per_op[k] - b->cpu_ns_per_op[k];
                    }
                if (n) {
                    bench_spread(cpu, n, ratio);
                    bench_record_add_metric(ours, "cpu_ratio_to_null_baseline", ratio[0]);
                    /* What the MCP layer adds to the transport, in server CPU
                     * per operation: a ratio r leaves it (1/r - 1) times the
                     * null server's cost, a quarter of it for 0.8. */
                    bench_spread(added, n, ratio);
                    bench_record_add_metric(ours, "added_cpu_ns_per_op", ratio[0]);
                }
            }
        }
    }
}

static const bench_workload NET_WORKLOADS[] = {
    {"tcp_burst_100_1kib", "bursts of 100 pipelined tools/call (1 KiB echo) on one TCP connection", NET_TCP_BURST,
     {50000, 200000}, {5, 15}},
    {"tcp_sustained_1k_1kib", "1,000 tools/call (1 KiB echo) in flight over 10 TCP connections", NET_TCP_SUSTAINED,
     {100000, 1000000}, {5, 9}},
    {"tcp_keepalive_50", "tools/call (1 KiB echo) on 50 TCP connections, one at a time on each", NET_TCP_KEEPALIVE,
     {5000, 50000}, {41, 41}},
    {"tcp_pipelined_ping", "pings pipelined 512 deep on 8 TCP connections: NDJSON message rate", NET_TCP_PING,
     {500000, 5000000}, {5, 9}},
    {"stdio_sequential_1k", "1,000 sequential tools/call (1 KiB echo) over mcpd serve --stdio", NET_STDIO_SEQUENTIAL,
     {1000, 1000}, {11, 25}},
    /* The three workloads of the ratio target take more pairs (see the top
     * of this file). Keep-alive HTTP takes many short ones: on a loaded
     * two-core machine, four runs of 41 pairs of 2,000 calls put their
     * medians within 0.015 of each other, four of 11 pairs of 10,000
     * within 0.07. The SSE and WebSocket loads keep 1,000 calls in flight,
     * so a pass must stay long against its ramp up and down: 11 and 15
     * pairs of the old length (41 pairs of 10,000 WebSocket calls spread
     * over 0.28). */
    {"http_keepalive_50", "tools/call (1 KiB echo) as modern-era POSTs on 50 keep-alive HTTP/1.1 connections, JSON "
     "answers", NET_HTTP_KEEPALIVE, {2000, 20000}, {41, 41}},
    {"http_sse_1k", "tools/call (1 KiB echo) on 1,000 HTTP/1.1 connections, each answered as an SSE stream",
     NET_HTTP_SSE, {10000, 200000}, {11, 11}},
    {"ws_1k", "1,000 tools/call (1 KiB echo) in flight over 10 WebSocket connections", NET_WS, {50000, 1000000},
     {15, 15}},
};

const bench_module bench_module_network = {
    .name = "network",
    .description = "TCP, stdio, Streamable HTTP and WebSocket transports under load, each against a null server in "
                   "the same run",
    .notes = "TLS and connection set-up are not measured; timings are not instruction-counted (sockets, threads "
             "and the scheduler are not deterministic)",
    .workloads = NET_WORKLOADS,
    .workload_count = sizeof NET_WORKLOADS / sizeof NET_WORKLOADS[0],
    .setup = net_setup,
    .finish = net_finish,
    .teardown = net_teardown,
    .interleave = true, /* the ratio to the null server needs both under the same load */
};
