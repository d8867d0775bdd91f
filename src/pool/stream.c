/*
 * stream.c — the pool's own TCP connection: one non-blocking socket that a
 * client can use in two ways, one at a time.
 *
 * Lent out by mcp_pool_checkout, it is an ordinary blocking transport
 * (send waits until the kernel took the message, recv waits for a line).
 * Carrying an mcp_pool_call_async, it is driven by one of the pool's I/O
 * threads: send only buffers and writes what the socket takes now, and the
 * thread feeds whatever arrives to the client. Both ways share the framer
 * and the unread input, so a connection can pass from one to the other
 * between uses without losing a byte. The client's own TCP connector hides
 * its descriptor behind the transport, which is why the pool opens its
 * sockets itself when its connector is mcp_pool_connect_tcp.
 */
#include "pool/pool_internal.h"
#include "net/connect.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (16u * 1024u)
#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return MCP_EIO;
    return n == 0 ? MCP_ETIMEDOUT : 0;
}

/* Write what the socket takes now. 0, or MCP_ECLOSED when the peer is gone. */
int mcp_pool_stream_flush(mcp_pool_stream *s)
{
    while (s->out.len > 0) {
        ssize_t n = send(s->fd, s->out.data, s->out.len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            s->broken = true;
            return MCP_ECLOSED;
        }
        mcp_buf_consume(&s->out, (size_t)n);
    }
    return 0;
}

static int stream_send(mcp_client_transport *t, const char *message, size_t len)
{
    mcp_pool_stream *s = (mcp_pool_stream *)t;
    if (s->broken)
        return MCP_ECLOSED;
    if (mcp_buf_reserve(&s->out, len + 1) != 0)
        return MCP_ENOMEM;
    mcp_buf_append(&s->out, message, len);
    mcp_buf_append_char(&s->out, '\n');
    int rc = mcp_pool_stream_flush(s);
    /* Lent out: the caller's API is blocking, so is the write. Driven: the
     * I/O thread waits for the socket to take the rest. */
    while (rc == 0 && !s->driven && s->out.len > 0) {
        rc = wait_fd(s->fd, POLLOUT, -1);
        if (rc == 0)
            rc = mcp_pool_stream_flush(s);
    }
    return rc;
}

/* Next complete line of the unread input: MCP_NDJSON_LINE, _OVERSIZED, or
 * _MORE when the input is used up. */
static int next_line(mcp_pool_stream *s, mcp_str *line)
{
    mcp_str input = {s->rbuf + s->rpos, s->rlen - s->rpos};
    int rc = mcp_ndjson_next(&s->framer, &input, line);
    s->rpos = s->rlen - input.len;
    return rc;
}

/* One read into the (used up) input buffer: 0, MCP_EAGAIN when nothing is
 * there, MCP_ECLOSED at end of stream or on an error. */
static int read_some(mcp_pool_stream *s)
{
    for (;;) {
        ssize_t n = recv(s->fd, s->rbuf, READ_CHUNK, 0);
        if (n > 0) {
            s->rpos = 0;
            s->rlen = (size_t)n;
            return 0;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return MCP_EAGAIN;
        s->broken = true;
        return MCP_ECLOSED;
    }
}

static int stream_recv(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms)
{
    mcp_pool_stream *s = (mcp_pool_stream *)t;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        mcp_str line;
        int rc = next_line(s, &line);
        if (rc == MCP_NDJSON_LINE) {
            mcp_buf_reset(msg);
            return mcp_buf_append(msg, line.ptr, line.len);
        }
        if (rc == MCP_NDJSON_OVERSIZED)
            return MCP_ELIMIT;
        if (rc < 0)
            return rc;
        if (s->broken)
            return MCP_ECLOSED;
        rc = read_some(s);
        if (rc == 0)
            continue;
        if (rc != MCP_EAGAIN)
            return rc;
        uint64_t now = mcp_now_ns();
        if (now >= deadline)
            return MCP_ETIMEDOUT;
        rc = wait_fd(s->fd, POLLIN, (int)((deadline - now + 999999u) / 1000000u));
        if (rc == MCP_EIO)
            return rc;
    }
}

int mcp_pool_stream_read(mcp_pool_stream *s, mcp_client *client)
{
    bool drained = false;
    for (;;) {
        mcp_str line;
        int rc = next_line(s, &line);
        if (rc == MCP_NDJSON_LINE) {
            mcp_client_handle(client, line.ptr, line.len);
            continue;
        }
        /* An oversized line is dropped; the request it answered, if any,
         * times out. */
        if (rc == MCP_NDJSON_OVERSIZED)
            continue;
        if (rc < 0)
            return rc;
        if (s->broken)
            return MCP_ECLOSED;
        if (drained)
            return 0;
        rc = read_some(s);
        if (rc == MCP_EAGAIN)
            return 0;
        if (rc != 0)
            return rc;
        /* A short read took all there was: skip the read that would only
         * say so. More arriving later fires the (level-triggered) poll. */
        drained = s->rlen < READ_CHUNK;
    }
}

static void stream_close(mcp_client_transport *t)
{
    mcp_pool_stream *s = (mcp_pool_stream *)t;
    if (s->fd >= 0)
        close(s->fd);
    mcp_buf_free(&s->out);
    mcp_ndjson_free(&s->framer);
    free(s->rbuf);
    free(s);
}

int mcp_pool_stream_open(const char *address, unsigned timeout_ms, mcp_pool_stream **out)
{
    mcp_pool_stream *s = calloc(1, sizeof *s);
    char *rbuf = malloc(READ_CHUNK);
    if (!s || !rbuf) {
        free(s);
        free(rbuf);
        return MCP_ENOMEM;
    }
    s->base = (mcp_client_transport){stream_send, stream_recv, stream_close};
    s->fd = -1;
    s->rbuf = rbuf;
    mcp_buf_init(&s->out);
    mcp_ndjson_init(&s->framer, DEFAULT_MAX_MESSAGE);
    int rc = mcp_net_connect_tcp(address, timeout_ms, &s->fd);
    if (rc != 0) {
        stream_close(&s->base);
        return rc;
    }
    *out = s;
    return 0;
}
