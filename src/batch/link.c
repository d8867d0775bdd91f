/*
 * link.c — one pipelining connection for the batcher: a non-blocking TCP
 * socket, the newline-delimited JSON framer of the net layer, and the
 * sans-I/O mcp_client, which may have any number of requests in flight.
 *
 * The blocking transports of the client API write each message as it is
 * produced; here the client's sink only appends to an output buffer, so a
 * whole group of requests leaves in one write (as one batch array when the
 * negotiated version has them). The socket never blocks: a write the kernel
 * takes only in part leaves the rest buffered for the next pump, and the
 * pump keeps reading meanwhile, so a server that answers while we are still
 * sending can never deadlock us against its own output limit.
 */
#include "batch/batch_internal.h"
#include "net/connect.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024u)
#define MAX_MESSAGE (16u * 1024u * 1024u)

static int link_sink(void *user, const char *message, size_t len)
{
    mcp_batch_link *link = user;
    if (link->closed)
        return MCP_ECLOSED;
    int rc;
    if (link->collecting && link->arrays) {
        rc = mcp_buf_append_char(&link->out, link->collected ? ',' : '[');
        if (rc == 0)
            rc = mcp_buf_append(&link->out, message, len);
    } else {
        rc = mcp_buf_append(&link->out, message, len);
        if (rc == 0)
            rc = mcp_buf_append_char(&link->out, '\n');
    }
    if (rc == 0 && link->collecting)
        link->collected++;
    return rc;
}

void mcp_batch_link_begin(mcp_batch_link *link)
{
    link->collecting = true;
    link->collected = 0;
}

void mcp_batch_link_end(mcp_batch_link *link)
{
    if (link->collecting && link->arrays && link->collected > 0)
        mcp_buf_append(&link->out, "]\n", 2);
    link->collecting = false;
    link->collected = 0;
}

typedef struct start_wait {
    bool done;
    int status;
} start_wait;

static void on_started(void *user, int status, const mcp_json *value, int64_t id)
{
    (void)value;
    (void)id;
    start_wait *w = user;
    w->done = true;
    w->status = status;
}

int mcp_batch_link_open(mcp_batch_link *link, const char *host_port, const mcp_client_opts *copts,
                        unsigned timeout_ms)
{
    memset(link, 0, sizeof *link);
    link->fd = -1;
    mcp_buf_init(&link->out);
    mcp_ndjson_init(&link->framer, MAX_MESSAGE);
    link->read_buf = malloc(READ_CHUNK);
    if (!link->read_buf) {
        mcp_batch_link_close(link);
        return MCP_ENOMEM;
    }
    int rc = mcp_net_connect_tcp(host_port, timeout_ms, &link->fd);
    if (rc != 0) {
        mcp_batch_link_close(link);
        return rc;
    }
    mcp_client_opts o = *copts;
    o.transport = NULL;
    o.sink = (mcp_sink){.write = link_sink, .user = link};
    if (!o.timeout_ms)
        o.timeout_ms = timeout_ms;
    link->client = mcp_client_new(&o);
    if (!link->client) {
        mcp_batch_link_close(link);
        return MCP_ENOMEM;
    }
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    mcp_client_tick(link->client, mcp_now_ns());
    start_wait w = {false, 0};
    rc = mcp_client_start(link->client, on_started, &w);
    while (rc == 0 && !w.done) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline) {
            rc = MCP_ETIMEDOUT;
            break;
        }
        rc = mcp_batch_link_pump(link, (int)((deadline - now) / 1000000u) + 1, -1);
    }
    if (rc == 0)
        rc = w.status;
    if (rc != 0) {
        mcp_batch_link_close(link);
        return rc;
    }
    const char *v = mcp_client_protocol_version(link->client);
    link->arrays = v && strcmp(v, "2025-03-26") == 0;
    return 0;
}

void mcp_batch_link_close(mcp_batch_link *link)
{
    link->closed = true;
    if (link->client) {
        mcp_client_free(link->client); /* completes pending requests with MCP_ECLOSED */
        link->client = NULL;
    }
    if (link->fd >= 0)
        close(link->fd);
    link->fd = -1;
    mcp_buf_free(&link->out);
    mcp_ndjson_free(&link->framer);
    free(link->read_buf);
    link->read_buf = NULL;
}

int mcp_batch_link_write(mcp_batch_link *link)
{
    while (link->out.len > 0 && !link->closed) {
        ssize_t n = send(link->fd, link->out.data, link->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            link->closed = true;
            return MCP_ECLOSED;
        }
        link->writes++;
        mcp_buf_consume(&link->out, (size_t)n);
    }
    return link->closed ? MCP_ECLOSED : 0;
}

static void handle_bytes(mcp_batch_link *link, const char *data, size_t len)
{
    mcp_str input = {data, len};
    mcp_str line;
    int rc;
    while ((rc = mcp_ndjson_next(&link->framer, &input, &line)) != MCP_NDJSON_MORE) {
        if (rc == MCP_NDJSON_LINE)
            mcp_client_handle(link->client, line.ptr, line.len);
        else if (rc < 0)
            break;
        /* OVERSIZED: the client would drop it as malformed; the request it
         * answered, if any, times out. */
    }
}

/* Read what is there without blocking; MCP_ECLOSED at end of stream. */
static int read_ready(mcp_batch_link *link)
{
    for (;;) {
        ssize_t n = recv(link->fd, link->read_buf, READ_CHUNK, 0);
        if (n > 0) {
            handle_bytes(link, link->read_buf, (size_t)n);
            if ((size_t)n < READ_CHUNK)
                return 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return MCP_ECLOSED;
    }
}

int mcp_batch_link_pump(mcp_batch_link *link, int timeout_ms, int wake_fd)
{
    if (link->closed)
        return MCP_ECLOSED;
    int rc = mcp_batch_link_write(link);
    struct pollfd p[2] = {
        {.fd = link->fd, .events = (short)(POLLIN | (link->out.len ? POLLOUT : 0))},
        {.fd = wake_fd, .events = POLLIN},
    };
    int n = rc == 0 ? poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms) : 0;
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        rc = read_ready(link);
    if (n > 0 && wake_fd >= 0 && (p[1].revents & POLLIN)) {
        uint64_t v;
        while (read(wake_fd, &v, sizeof v) < 0 && errno == EINTR) {
        }
    }
    if (rc == 0)
        rc = mcp_batch_link_write(link);
    if (link->client)
        mcp_client_tick(link->client, mcp_now_ns());
    if (rc != 0) {
        link->closed = true;
        if (link->client)
            mcp_client_close(link->client);
    }
    return rc;
}
