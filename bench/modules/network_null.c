/*
 * The null servers of the network module: what a transport costs when the
 * MCP layer costs nothing.
 *
 * Each answers every request line with a response captured from the real
 * server for the same workload, the request's id spliced in, so both send
 * the same bytes. The TCP one mirrors one mcp_net worker: a libuv loop on
 * its own thread, a 64 KiB read buffer shared by the loop, the same NDJSON
 * framer (mcp_ndjson), and every response produced by one read leaving in
 * one write, with a second buffer collecting while a write is in flight.
 * Like mcp_net's TCP and WebSocket transports, the NDJSON and WebSocket
 * ones write the replies of a loop iteration's reads after all of them (a
 * uv_check), one write per connection; the HTTP one writes after each
 * read, as http_tcp.c does. The stdio one mirrors `mcpd serve --stdio`: a process with
 * one blocking loop that reads, frames and writes. The HTTP one is the TCP one with
 * libmcp's HTTP request parser (llhttp) as its framer, as http_tcp.c frames:
 * each request's body gives the id, the captured HTTP response (JSON or an
 * SSE stream) goes back with that id and its length fields rewritten. The
 * WebSocket one answers the upgrade with the real server's captured 101,
 * then unmasks each text frame (mcp_ws_unmask, as ws_conn.c does) and
 * answers it in one text frame.
 */
#include "network.h"
#include "net/http.h"
#include "net/net_internal.h"
#include "net/stream_conn.h"
#include "net/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NULL_READ_SIZE (64 * 1024)       /* as MCP_NET_READ_BUF_SIZE and stdio's read size */
#define NULL_STDIO_OUT_SIZE (512 * 1024)
#define NULL_STDIO_LINE_MAX (64 * 1024)

/* ---- The reply ---------------------------------------------------------------- */

int bench_net_reply_from(const char *line, size_t len, uint64_t id, bench_net_reply *out) {
    memset(out, 0, sizeof *out);
    char digits[24];
    int dl = snprintf(digits, sizeof digits, "\"id\":%llu", (unsigned long long)id);
    const char *at = memmem(line, len, digits, (size_t)dl);
    if (!at) return MCP_EPROTO;
    size_t head = (size_t)(at - line) + 5; /* through "id": */
    size_t tail_off = (size_t)(at - line) + (size_t)dl;
    out->prefix = malloc(head + 1);
    out->suffix = malloc(len - tail_off + 1);
    if (!out->prefix || !out->suffix) {
        bench_net_reply_free(out);
        return MCP_ENOMEM;
    }
    memcpy(out->prefix, line, head);
    out->prefix[head] = '\0';
    out->prefix_len = head;
    memcpy(out->suffix, line + tail_off, len - tail_off);
    out->suffix[len - tail_off] = '\0';
    out->suffix_len = len - tail_off;
    return MCP_OK;
}

void bench_net_reply_free(bench_net_reply *reply) {
    free(reply->prefix);
    free(reply->suffix);
    memset(reply, 0, sizeof *reply);
}

int bench_net_reply_append(const bench_net_reply *reply, const char *request, size_t len, mcp_buf *out) {
    mcp_str id = bench_net_request_id(request, len);
    if (mcp_buf_reserve(out, reply->prefix_len + id.len + reply->suffix_len + 1)) return MCP_ENOMEM;
    char *w = out->data + out->len;
    memcpy(w, reply->prefix, reply->prefix_len);
    w += reply->prefix_len;
    memcpy(w, id.ptr, id.len);
    w += id.len;
    memcpy(w, reply->suffix, reply->suffix_len);
    w += reply->suffix_len;
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
    return MCP_OK;
}

/* ---- Null TCP server ---------------------------------------------------------------- */

typedef struct null_conn {
    uv_tcp_t tcp;
    bench_null_tcp *server;
    struct null_conn *prev, *next;
    mcp_ndjson framer;
    mcp_http_parser http; /* the framer of an HTTP server */
    mcp_buf pending;      /* WebSocket: an upgrade request or a frame split across reads */
    bool upgraded;
    mcp_buf out;  /* collecting */
    mcp_buf wbuf; /* being written */
    uv_write_t write_req;
    mcp_net_flush flush; /* the iteration's batch write */
    bool writing;
    bool closing;
} null_conn;

struct bench_null_tcp {
    const bench_net_reply *reply;
    const bench_http_reply *http_reply; /* non-NULL: speak HTTP */
    const mcp_buf *ws_upgrade;          /* non-NULL: speak WebSocket */
    mcp_buf unmasked;                   /* WebSocket: scratch of the loop thread */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop;
    mcp_net_flush_queue flushes;
    uv_thread_t thread;
    char *read_buf;
    null_conn *conns;
    int port;
};

static void null_conn_freed(uv_handle_t *handle) {
    null_conn *c = handle->data;
    mcp_ndjson_free(&c->framer);
    if (c->server->http_reply) mcp_http_parser_free(&c->http);
    mcp_buf_free(&c->pending);
    mcp_buf_free(&c->out);
    mcp_buf_free(&c->wbuf);
    free(c);
}

static void null_conn_close(null_conn *c) {
    if (c->closing) return;
    c->closing = true;
    bench_null_tcp *s = c->server;
    mcp_net_flush_cancel(&s->flushes, &c->flush);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, null_conn_freed);
}

static void null_on_write(uv_write_t *req, int status);

static void null_flush(null_conn *c) {
    if (c->writing || !c->out.len || c->closing) return;
    mcp_buf swap = c->wbuf;
    c->wbuf = c->out;
    c->out = swap;
    /* Written the way the real transports write (net/stream_conn.h), so
     * that the yardstick pays no system call they avoid. */
    int rc = mcp_stream_write((uv_stream_t *)&c->tcp, &c->write_req, c->wbuf.data, c->wbuf.len, null_on_write);
    if (rc < 0) null_conn_close(c);
    else if (rc == MCP_STREAM_QUEUED) c->writing = true;
    else mcp_buf_reset(&c->wbuf);
}

static void null_on_write(uv_write_t *req, int status) {
    null_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        null_conn_close(c);
        return;
    }
    mcp_buf_reset(&c->wbuf);
    null_flush(c);
}

static void null_flush_batch(mcp_net_flush *flush) {
    null_flush((null_conn *)((char *)flush - offsetof(null_conn, flush)));
}

static void null_flush_soon(null_conn *c) {
    mcp_net_flush_soon(&c->server->flushes, &c->flush);
}

static void null_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    null_conn *c = handle->data;
    (void)suggested;
    *buf = uv_buf_init(c->server->read_buf, NULL_READ_SIZE);
}

/* One client frame: a text message gets the reply in one frame; a close
 * (or anything else) ends the connection: 1 to say so. */
static int null_ws_frame(null_conn *c, const bench_ws_frame *f) {
    bench_null_tcp *s = c->server;
    if (f->opcode != 1 || !f->fin || !f->masked) return 1;
    /* Unmask as every server must, then find the id in the text. */
    mcp_buf_reset(&s->unmasked);
    if (mcp_buf_reserve(&s->unmasked, f->payload_len)) return 1;
    /* With the transport's own unmasking: a slower one here (a byte loop
     * made the null server slower than the MCP server, and ws_1k read
     * 1.2-1.4) would flatter the ratio. */
    mcp_ws_unmask((unsigned char *)s->unmasked.data, (const unsigned char *)f->payload, f->payload_len, f->mask);
    mcp_str id = bench_net_request_id(s->unmasked.data, f->payload_len);
    const bench_net_reply *r = s->reply;
    size_t len = r->prefix_len + id.len + r->suffix_len;
    if (mcp_buf_reserve(&c->out, 14 + len)) return 1;
    char *w = c->out.data + c->out.len;
    w += bench_ws_frame_header(w, len, false);
    memcpy(w, r->prefix, r->prefix_len);
    w += r->prefix_len;
    memcpy(w, id.ptr, id.len);
    w += id.len;
    memcpy(w, r->suffix, r->suffix_len);
    w += r->suffix_len;
    c->out.len = (size_t)(w - c->out.data);
    return 0;
}

/* The bytes of one read on a WebSocket connection: the upgrade first, then
 * frames, taken where they lie unless a read boundary split one. */
static int null_ws_read(null_conn *c, const char *data, size_t len) {
    const mcp_buf *upgrade = c->server->ws_upgrade;
    if (c->pending.len || !c->upgraded) {
        if (mcp_buf_append(&c->pending, data, len)) return 1;
        data = c->pending.data;
        len = c->pending.len;
    }
    size_t off = 0;
    if (!c->upgraded) {
        const char *blank = memmem(data, len, "\r\n\r\n", 4);
        if (!blank) return len > 16384;
        if (mcp_buf_append(&c->out, upgrade->data, upgrade->len)) return 1;
        c->upgraded = true;
        off = (size_t)(blank + 4 - data);
    }
    bench_ws_frame f;
    int got;
    while ((got = bench_ws_frame_next(data + off, len - off, &f)) == 1) {
        if (null_ws_frame(c, &f)) return 1;
        off += f.frame_len;
    }
    if (got < 0) return 1;
    if (data == c->pending.data) {
        memmove(c->pending.data, c->pending.data + off, len - off);
        c->pending.len = len - off;
    } else if (off < len && mcp_buf_append(&c->pending, data + off, len - off)) {
        return 1;
    }
    return 0;
}

static void null_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    null_conn *c = stream->data;
    if (nread < 0) {
        null_conn_close(c);
        return;
    }
    if (c->server->ws_upgrade) {
        if (null_ws_read(c, buf->base, (size_t)nread)) null_conn_close(c);
        else null_flush_soon(c);
        return;
    }
    mcp_str input = {buf->base, (size_t)nread}, line;
    while (c->server->http_reply) {
        mcp_http_request request;
        int kind = mcp_http_parser_next(&c->http, &input, &request);
        if (kind == MCP_HTTP_MORE) {
            null_flush(c);
            return;
        }
        if (kind != MCP_HTTP_REQUEST ||
            bench_http_reply_append(c->server->http_reply, request.body.ptr, request.body.len, &c->out)) {
            null_conn_close(c);
            return;
        }
    }
    for (;;) {
        int kind = mcp_ndjson_next(&c->framer, &input, &line);
        if (kind == MCP_NDJSON_MORE) break;
        if (kind != MCP_NDJSON_LINE || bench_net_reply_append(c->server->reply, line.ptr, line.len, &c->out)) {
            null_conn_close(c);
            return;
        }
    }
    null_flush_soon(c);
}

static void null_on_connection(uv_stream_t *listener, int status) {
    bench_null_tcp *s = listener->data;
    if (status < 0) return;
    null_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->write_req.data = c;
    c->flush.run = null_flush_batch;
    c->server = s;
    mcp_ndjson_init(&c->framer, 0);
    /* A failed parser start leaves it zeroed, which the close frees safely. */
    bool framer_ok = !s->http_reply || mcp_http_parser_init(&c->http, 0, 0) == 0;
    mcp_buf_init(&c->out);
    mcp_buf_init(&c->wbuf);
    mcp_buf_init(&c->pending);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    /* As mcp_net does: responses must not wait for Nagle. */
    if (!framer_ok || uv_accept(listener, (uv_stream_t *)&c->tcp) || uv_tcp_nodelay(&c->tcp, 1) ||
        uv_read_start((uv_stream_t *)&c->tcp, null_on_alloc, null_on_read))
        null_conn_close(c);
}

static void null_on_stop(uv_async_t *async) {
    bench_null_tcp *s = async->data;
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
    while (s->conns) null_conn_close(s->conns);
    mcp_net_flush_queue_close(&s->flushes, NULL);
}

static void null_thread(void *arg) {
    bench_null_tcp *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

static int null_start(const bench_net_reply *reply, const bench_http_reply *http_reply, const mcp_buf *ws_upgrade,
                      bench_null_tcp **out) {
    *out = NULL;
    bench_null_tcp *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    s->reply = reply;
    s->http_reply = http_reply;
    s->ws_upgrade = ws_upgrade;
    mcp_buf_init(&s->unmasked);
    s->read_buf = malloc(NULL_READ_SIZE);
    if (!s->read_buf || uv_loop_init(&s->loop)) {
        free(s->read_buf);
        free(s);
        return MCP_ENOMEM;
    }
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&s->loop, &s->listener);
    uv_async_init(&s->loop, &s->stop, null_on_stop);
    mcp_net_flush_queue_init(&s->loop, &s->flushes);
    s->listener.data = s;
    s->stop.data = s;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&s->listener, 1024, null_on_connection);
    if (!rc) rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bound_len);
    if (!rc) s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    if (!rc) rc = uv_thread_create(&s->thread, null_thread, s);
    if (rc) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_close((uv_handle_t *)&s->stop, NULL);
        mcp_net_flush_queue_close(&s->flushes, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        free(s->read_buf);
        free(s);
        return MCP_EIO;
    }
    *out = s;
    return MCP_OK;
}

int bench_null_tcp_start(const bench_net_reply *reply, bench_null_tcp **out) {
    return null_start(reply, NULL, NULL, out);
}

int bench_null_http_start(const bench_http_reply *reply, bench_null_tcp **out) {
    return null_start(NULL, reply, NULL, out);
}

int bench_null_ws_start(const bench_net_reply *reply, const mcp_buf *upgrade_reply, bench_null_tcp **out) {
    return null_start(reply, NULL, upgrade_reply, out);
}

int bench_null_tcp_port(const bench_null_tcp *server) {
    return server->port;
}

void bench_null_tcp_stop(bench_null_tcp *s) {
    if (!s) return;
    uv_async_send(&s->stop);
    uv_thread_join(&s->thread);
    uv_loop_close(&s->loop);
    mcp_buf_free(&s->unmasked);
    free(s->read_buf);
    free(s);
}

/* ---- Null stdio server ------------------------------------------------------------------ */

/* The forked child's memory is allocated before the fork: a child of a
 * threaded process must not call malloc (another thread may have held its
 * lock at the moment of the fork). */
typedef struct null_stdio_mem {
    char in[NULL_READ_SIZE];
    char line[NULL_STDIO_LINE_MAX];
    char out[NULL_STDIO_OUT_SIZE];
} null_stdio_mem;

static bool write_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Answer one line into out; flush first when it would not fit. */
static bool null_stdio_answer(const bench_net_reply *reply, null_stdio_mem *m, size_t *out_len, const char *line,
                              size_t len) {
    if (len && line[len - 1] == '\r') len--;
    if (!len) return true; /* blank lines are skipped, as mcp_ndjson does */
    mcp_str id = bench_net_request_id(line, len);
    size_t need = reply->prefix_len + id.len + reply->suffix_len + 1;
    if (need > sizeof m->out) return false;
    if (*out_len + need > sizeof m->out) {
        if (!write_all(1, m->out, *out_len)) return false;
        *out_len = 0;
    }
    char *w = m->out + *out_len;
    memcpy(w, reply->prefix, reply->prefix_len);
    w += reply->prefix_len;
    memcpy(w, id.ptr, id.len);
    w += id.len;
    memcpy(w, reply->suffix, reply->suffix_len);
    w += reply->suffix_len;
    *w++ = '\n';
    *out_len = (size_t)(w - m->out);
    return true;
}

static void null_stdio_main(const bench_net_reply *reply, null_stdio_mem *m) {
    size_t carry = 0;
    bool discarding = false; /* inside a line longer than the line buffer */
    for (;;) {
        ssize_t n = read(0, m->in, sizeof m->in);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        const char *p = m->in, *end = m->in + n;
        size_t out_len = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t part = (size_t)((nl ? nl : end) - p);
            if (!discarding && carry + part > sizeof m->line) {
                discarding = true;
                carry = 0;
            }
            if (!discarding) {
                memcpy(m->line + carry, p, part);
                carry += part;
            }
            if (!nl) break;
            if (!discarding && !null_stdio_answer(reply, m, &out_len, m->line, carry)) return;
            discarding = false;
            carry = 0;
            p = nl + 1;
        }
        if (out_len && !write_all(1, m->out, out_len)) return;
    }
}

int bench_null_stdio_spawn(const bench_net_reply *reply, pid_t *pid, int *in_fd, int *out_fd) {
    int to_child[2], from_child[2];
    null_stdio_mem *mem = malloc(sizeof *mem);
    if (!mem) return MCP_ENOMEM;
    if (pipe2(to_child, O_CLOEXEC)) {
        free(mem);
        return MCP_EIO;
    }
    if (pipe2(from_child, O_CLOEXEC)) {
        close(to_child[0]);
        close(to_child[1]);
        free(mem);
        return MCP_EIO;
    }
    pid_t child = fork();
    if (child == 0) {
        /* Only the two pipe ends survive: an inherited descriptor (another
         * child's pipe) would keep that child from seeing end of input. */
        if (dup2(to_child[0], 0) < 0 || dup2(from_child[1], 1) < 0) _exit(1);
        close_range(3, ~0u, 0);
        null_stdio_main(reply, mem);
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    free(mem);
    if (child < 0) {
        close(to_child[1]);
        close(from_child[0]);
        return MCP_EIO;
    }
    *pid = child;
    *in_fd = to_child[1];
    *out_fd = from_child[0];
    return MCP_OK;
}
