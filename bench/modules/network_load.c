/*
 * The load generator of the network module: one thread, non-blocking
 * sockets, epoll.
 *
 * Why not libmcp's client: it blocks per call and does its own parsing and
 * bookkeeping, which would be timed as if it were the server's. Here a
 * request is a memcpy of a prebuilt template around its id, and a response
 * costs a scan for its id. The send time of every request is kept in a table
 * indexed by id; a response's latency is the clock when the read that
 * carried it returned minus that send time. One clock read per batch sent
 * and one per read, so the clock costs nothing per message.
 *
 * Closed loop: after each read, every connection is topped up to `window`
 * requests in flight. Bursts: a connection gets `window` requests at once
 * and its next burst only when every answer of the last one has arrived.
 *
 * HTTP (the request has an http_head): a request is a POST with its
 * Content-Length written per id; responses go through bench_http_reader
 * (network_http.c). A round trip ends with the read that carried the
 * result (the JSON body, or the SSE event holding it); the request counts
 * as answered, and its connection free for the next one, once the whole
 * HTTP response (an SSE stream's last chunk) is in.
 */
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOAD_READ_SIZE (256 * 1024)
#define LOAD_SILENCE_MS 10000
#define LOAD_MAX_EVENTS 64

typedef struct load_conn {
    int fd;
    bench_net_load *load;
    mcp_buf out;        /* requests not yet accepted by the kernel */
    size_t out_off;
    mcp_buf carry;      /* the start of a response whose newline has not arrived */
    bench_http_reader http; /* HTTP: the responses being read */
    unsigned answered;  /* HTTP: results seen in the response being read */
    unsigned inflight;
    bool want_write;    /* EPOLLOUT is armed */
} load_conn;

struct bench_net_load {
    load_conn *conns;
    size_t conn_count;
    unsigned window;
    bench_net_mode mode;
    const bench_net_request *request;
    int epoll_fd;
    char *read_buf;
    /* One pass: */
    uint64_t *sent_ns; /* by id; 0 once answered */
    uint64_t ops, next_id, received;
    uint64_t now_ns; /* when the read being handled returned */
    mcp_histogram *lat;
};

int bench_net_echo_call_append(mcp_buf *suffix, size_t bytes) {
    static const char *const words[] = {"request", "latency", "server", "cache", "tool",
                                        "session", "stream", "budget", "queue", "echo"};
    int rc = mcp_buf_append_cstr(suffix, ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                                         "\"arguments\":{\"text\":\"");
    size_t start = suffix->len;
    for (unsigned i = 0; !rc && suffix->len - start < bytes; i++) {
        const char *w = words[(i * 7u) % 10];
        size_t room = bytes - (suffix->len - start);
        size_t n = strlen(w) + 1 < room ? strlen(w) : room - 1;
        rc = mcp_buf_append(suffix, w, n);
        if (!rc && suffix->len - start < bytes) rc = mcp_buf_append_char(suffix, ' ');
    }
    return rc;
}

const char *bench_net_find_id(const char *text, size_t len) {
    static const char common[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char key[] = "\"id\":";
    if (len >= sizeof common - 1 && !memcmp(text, common, sizeof common - 1)) return text + sizeof common - 1;
    const char *at = memmem(text, len < 48 ? len : 48, key, sizeof key - 1);
    return at ? at + sizeof key - 1 : NULL;
}

mcp_str bench_net_request_id(const char *request, size_t len) {
    const char *p = bench_net_find_id(request, len), *end = request + len;
    if (!p) return (mcp_str){"null", 4};
    const char *q = p;
    while (q < end && *q != ',' && *q != '}') q++;
    return q > p ? (mcp_str){p, (size_t)(q - p)} : (mcp_str){"null", 4};
}

int bench_net_response_id(const char *line, size_t len, uint64_t *id) {
    const char *p = bench_net_find_id(line, len), *end = line + len;
    if (!p) return MCP_EPROTO;
    uint64_t v = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 19) v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == digits) return MCP_EPROTO;
    static const char result[] = ",\"result\":";
    if ((size_t)(end - p) < sizeof result - 1 || memcmp(p, result, sizeof result - 1)) return MCP_EPROTO;
    *id = v;
    return MCP_OK;
}

static int conn_connect(int port, bool ws, int *out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MCP_EIO;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) {
        close(fd);
        return MCP_EIO;
    }
    if (ws) { /* upgraded while the socket still blocks */
        mcp_buf answer;
        mcp_buf_init(&answer);
        int rc = bench_ws_handshake(fd, &answer);
        mcp_buf_free(&answer);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK)) {
        close(fd);
        return MCP_EIO;
    }
    *out = fd;
    return MCP_OK;
}

static int http_message(void *user, const char *json, size_t len);
static int http_end(void *user);

void bench_net_load_free(bench_net_load *load) {
    if (!load) return;
    for (size_t i = 0; i < load->conn_count; i++) {
        if (load->conns[i].fd >= 0) close(load->conns[i].fd);
        mcp_buf_free(&load->conns[i].out);
        mcp_buf_free(&load->conns[i].carry);
        bench_http_reader_free(&load->conns[i].http);
    }
    if (load->epoll_fd >= 0) close(load->epoll_fd);
    free(load->conns);
    free(load->read_buf);
    free(load);
}

int bench_net_load_new(int port, size_t connections, unsigned window, bench_net_mode mode,
                       const bench_net_request *request, bench_net_load **out) {
    *out = NULL;
    if (!connections || !window) return MCP_EINVAL;
    bench_net_load *load = calloc(1, sizeof *load);
    if (!load) return MCP_ENOMEM;
    load->epoll_fd = -1;
    load->conns = calloc(connections, sizeof *load->conns);
    load->read_buf = malloc(LOAD_READ_SIZE);
    if (!load->conns || !load->read_buf) {
        bench_net_load_free(load);
        return MCP_ENOMEM;
    }
    for (size_t i = 0; i < connections; i++) {
        load_conn *c = &load->conns[i];
        c->fd = -1;
        c->load = load;
        mcp_buf_init(&c->out);
        mcp_buf_init(&c->carry);
        bench_http_reader_init(&c->http, http_message, http_end, c);
    }
    load->conn_count = connections;
    load->window = window;
    load->mode = mode;
    load->request = request;
    load->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int rc = load->epoll_fd < 0 ? MCP_EIO : MCP_OK;
    for (size_t i = 0; i < connections && rc == 0; i++) {
        rc = conn_connect(port, request->ws, &load->conns[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &load->conns[i]};
        if (rc == 0 && epoll_ctl(load->epoll_fd, EPOLL_CTL_ADD, load->conns[i].fd, &ev)) rc = MCP_EIO;
    }
    if (rc) {
        bench_net_load_free(load);
        return rc;
    }
    *out = load;
    return MCP_OK;
}

/* ---- One pass ---------------------------------------------------------------------- */

static int conn_arm(bench_net_load *load, load_conn *c, bool want_write) {
    if (c->want_write == want_write) return MCP_OK;
    struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(load->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev)) return MCP_EIO;
    c->want_write = want_write;
    return MCP_OK;
}

static int conn_flush(bench_net_load *load, load_conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return conn_arm(load, c, true);
        } else {
            return MCP_ECLOSED;
        }
    }
    mcp_buf_reset(&c->out);
    c->out_off = 0;
    return conn_arm(load, c, false);
}

/* Top the connection up (closed loop) or start its next burst, then send. */
static int conn_refill(bench_net_load *load, load_conn *c) {
    if (load->mode == BENCH_NET_BURSTS && c->inflight) return MCP_OK;
    uint64_t room = load->window - c->inflight, left = load->ops - (load->next_id - 1);
    uint64_t n = room < left ? room : left;
    if (!n) return MCP_OK;
    const bench_net_request *rq = load->request;
    static const char length_name[] = "Content-Length: ";
    size_t each = rq->prefix_len + 20 + rq->suffix_len + 1;
    if (rq->http_head) each += rq->http_head_len + sizeof length_name + 20 + 4;
    if (rq->ws) each += 14;
    if (mcp_buf_reserve(&c->out, (size_t)n * each)) return MCP_ENOMEM;
    uint64_t now = mcp_now_ns();
    for (uint64_t k = 0; k < n; k++) {
        uint64_t id = load->next_id++;
        char *w = c->out.data + c->out.len;
        char digits[20];
        size_t id_len = mcp_format_uint(digits, id);
        if (rq->ws) {
            w += bench_ws_frame_header(w, rq->prefix_len + id_len + rq->suffix_len, true);
        } else if (rq->http_head) {
            memcpy(w, rq->http_head, rq->http_head_len);
            w += rq->http_head_len;
            memcpy(w, length_name, sizeof length_name - 1);
            w += sizeof length_name - 1;
            w += mcp_format_uint(w, rq->prefix_len + id_len + rq->suffix_len);
            memcpy(w, "\r\n\r\n", 4);
            w += 4;
        }
        memcpy(w, rq->prefix, rq->prefix_len);
        w += rq->prefix_len;
        memcpy(w, digits, id_len);
        w += id_len;
        memcpy(w, rq->suffix, rq->suffix_len);
        w += rq->suffix_len;
        if (!rq->http_head && !rq->ws) *w++ = '\n';
        c->out.len = (size_t)(w - c->out.data);
        load->sent_ns[id] = now;
    }
    c->inflight += (unsigned)n;
    return conn_flush(load, c);
}

/* A result for an outstanding id: its round trip ends now. */
static int answer(bench_net_load *load, load_conn *c, const char *line, size_t len, uint64_t now) {
    uint64_t id;
    if (bench_net_response_id(line, len, &id) || id == 0 || id >= load->next_id || !load->sent_ns[id] ||
        !c->inflight) {
        fprintf(stderr, "bench network: unexpected response: %.*s\n", (int)(len < 200 ? len : 200), line);
        return MCP_EPROTO;
    }
    if (load->lat) mcp_histogram_record(load->lat, now - load->sent_ns[id]);
    load->sent_ns[id] = 0;
    return MCP_OK;
}

static int take_response(bench_net_load *load, load_conn *c, const char *line, size_t len, uint64_t now) {
    if (len && line[len - 1] == '\r') len--;
    int rc = answer(load, c, line, len, now);
    if (rc) return rc;
    c->inflight--;
    load->received++;
    return MCP_OK;
}

/* HTTP: a message of the response being read. A notification on an SSE
 * stream (no id) is not the answer. */
static int http_message(void *user, const char *json, size_t len) {
    load_conn *c = user;
    if (!bench_net_find_id(json, len)) return MCP_OK;
    c->answered++;
    return answer(c->load, c, json, len, c->load->now_ns);
}

/* HTTP: the response is complete; it must have carried exactly one result. */
static int http_end(void *user) {
    load_conn *c = user;
    if (c->answered != 1 || !c->inflight) {
        fprintf(stderr, "bench network: an HTTP response carried %u results\n", c->answered);
        return MCP_EPROTO;
    }
    c->answered = 0;
    c->inflight--;
    c->load->received++;
    return MCP_OK;
}

/* Frame what one read brought: complete lines are taken where they lie,
 * a partial last line waits in carry. */
static int conn_take(bench_net_load *load, load_conn *c, const char *data, size_t len, uint64_t now) {
    const char *p = data, *end = data + len;
    int rc = MCP_OK;
    if (c->carry.len) {
        const char *nl = memchr(p, '\n', len);
        if (!nl) return mcp_buf_append(&c->carry, p, len);
        if (mcp_buf_append(&c->carry, p, (size_t)(nl - p))) return MCP_ENOMEM;
        rc = take_response(load, c, c->carry.data, c->carry.len, now);
        mcp_buf_reset(&c->carry);
        p = nl + 1;
    }
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return mcp_buf_append(&c->carry, p, (size_t)(end - p));
        rc = take_response(load, c, p, (size_t)(nl - p), now);
        p = nl + 1;
    }
    return rc;
}

/* A server frame must be a whole, unmasked text message: one response. */
static int ws_response(bench_net_load *load, load_conn *c, const bench_ws_frame *f, uint64_t now) {
    if (f->opcode != 1 || !f->fin || f->masked) {
        fprintf(stderr, "bench network: unexpected WebSocket frame (opcode %d, fin %d, masked %d)\n", f->opcode,
                f->fin, f->masked);
        return MCP_EPROTO;
    }
    return take_response(load, c, f->payload, f->payload_len, now);
}

/* WebSocket: whole frames are taken where they lie, a partial last frame
 * waits in carry. */
static int conn_take_ws(bench_net_load *load, load_conn *c, const char *data, size_t len, uint64_t now) {
    bench_ws_frame f;
    int rc = MCP_OK, got = 0;
    if (c->carry.len) {
        if (mcp_buf_append(&c->carry, data, len)) return MCP_ENOMEM;
        size_t off = 0;
        while (rc == 0 && (got = bench_ws_frame_next(c->carry.data + off, c->carry.len - off, &f)) == 1) {
            rc = ws_response(load, c, &f, now);
            off += f.frame_len;
        }
        if (rc == 0 && got < 0) rc = got;
        /* What is left is at most one partial frame: keep it at the front. */
        memmove(c->carry.data, c->carry.data + off, c->carry.len - off);
        c->carry.len -= off;
        return rc;
    }
    const char *p = data, *end = data + len;
    while (rc == 0 && p < end) {
        got = bench_ws_frame_next(p, (size_t)(end - p), &f);
        if (got < 0) return got;
        if (got == 0) return mcp_buf_append(&c->carry, p, (size_t)(end - p));
        rc = ws_response(load, c, &f, now);
        p += f.frame_len;
    }
    return rc;
}

static int conn_read(bench_net_load *load, load_conn *c) {
    for (;;) {
        ssize_t n = recv(c->fd, load->read_buf, LOAD_READ_SIZE, 0);
        if (n > 0) {
            int rc;
            if (load->request->http_head) {
                load->now_ns = mcp_now_ns();
                rc = bench_http_reader_feed(&c->http, load->read_buf, (size_t)n);
            } else if (load->request->ws) {
                rc = conn_take_ws(load, c, load->read_buf, (size_t)n, mcp_now_ns());
            } else {
                rc = conn_take(load, c, load->read_buf, (size_t)n, mcp_now_ns());
            }
            if (rc) return rc;
            if ((size_t)n < LOAD_READ_SIZE) return MCP_OK;
        } else if (n == 0) {
            return MCP_ECLOSED;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return MCP_OK;
        } else {
            return MCP_ECLOSED;
        }
    }
}

int bench_net_load_run(bench_net_load *load, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    *elapsed_ns = 0;
    if (!ops) return MCP_EINVAL;
    load->sent_ns = malloc((ops + 1) * sizeof *load->sent_ns);
    if (!load->sent_ns) return MCP_ENOMEM;
    /* Written here, so its pages fault in before the clock starts. */
    memset(load->sent_ns, 0, (ops + 1) * sizeof *load->sent_ns);
    load->ops = ops;
    load->next_id = 1;
    load->received = 0;
    load->lat = lat;
    for (size_t i = 0; i < load->conn_count; i++) {
        load_conn *c = &load->conns[i];
        c->inflight = c->answered = 0;
        mcp_buf_reset(&c->carry);
        bench_http_reader_reset(&c->http);
        mcp_buf_reset(&c->out);
        c->out_off = 0;
    }
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (size_t i = 0; i < load->conn_count && rc == 0; i++) rc = conn_refill(load, &load->conns[i]);
    struct epoll_event events[LOAD_MAX_EVENTS];
    while (rc == 0 && load->received < ops) {
        int n = epoll_wait(load->epoll_fd, events, LOAD_MAX_EVENTS, LOAD_SILENCE_MS);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n == 0 ? MCP_ETIMEDOUT : MCP_EIO;
            fprintf(stderr, "bench network: %llu of %llu responses, then %s\n", (unsigned long long)load->received,
                    (unsigned long long)ops, n == 0 ? "10 s of silence" : strerror(errno));
            break;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            load_conn *c = events[i].data.ptr;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) rc = conn_read(load, c);
            if (rc == 0 && (events[i].events & EPOLLOUT)) rc = conn_flush(load, c);
            if (rc == 0 && c->out_off >= c->out.len) rc = conn_refill(load, c);
        }
    }
    *elapsed_ns = mcp_now_ns() - t0;
    free(load->sent_ns);
    load->sent_ns = NULL;
    load->lat = NULL;
    return rc;
}
