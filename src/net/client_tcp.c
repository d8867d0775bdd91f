/*
 * client_tcp.c — the client connectors for newline-delimited JSON over TCP.
 *
 * Plain TCP: connect (net/connect.h), then hand the socket to the
 * descriptor channel of client_stdio.c. TLS: OpenSSL sits between the
 * socket and the lines, so the channel here reads through a client stream
 * (net/client_tls.h) and frames with the same NDJSON framer the server
 * uses (net/ndjson.c): blank lines skipped, "\r\n" accepted, a line over
 * the size limit dropped as it streams in and reported once as MCP_ELIMIT.
 */
#include "mcp/client.h"
#include "net/client_dial.h"
#include "net/connect.h"
#include "net/net_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define SEND_TIMEOUT_MS 30000u /* a server that takes no bytes for this long is given up */
#define READ_CHUNK 65536u

int mcp_connect_tcp(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!host_port || !out)
        return MCP_EINVAL;
    int fd = -1;
    int rc = mcp_net_connect_tcp(host_port, mcp_client_connect_timeout(opts), &fd);
    if (rc != 0)
        return rc;
    /* Back to blocking: the descriptor channel polls before it reads. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    rc = mcp_connect_fds(fd, fd, opts, out);
    if (rc != 0)
        close(fd);
    return rc;
}

/* ---- NDJSON over TLS ---------------------------------------------------------- */

typedef struct tls_channel {
    mcp_client_transport base;
    mcp_client_tls *tls;
    mcp_client_stream *stream;
    mcp_ndjson framer;
    char *chunk;          /* the last read */
    mcp_str unframed;     /* the part of chunk the framer has not seen */
    bool eof;
} tls_channel;

static int tls_channel_send(mcp_client_transport *t, const char *message, size_t len)
{
    tls_channel *ch = (tls_channel *)t;
    /* One buffer, so the message and its newline go out as one record. */
    mcp_buf line;
    mcp_buf_init(&line);
    int rc = mcp_buf_reserve(&line, len + 1);
    if (rc == 0) {
        mcp_buf_append(&line, message, len);
        mcp_buf_append_char(&line, '\n');
        rc = mcp_client_stream_write(ch->stream, line.data, line.len, SEND_TIMEOUT_MS);
    }
    mcp_buf_free(&line);
    return rc;
}

static int tls_channel_recv(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms)
{
    tls_channel *ch = (tls_channel *)t;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        mcp_str line;
        int rc = mcp_ndjson_next(&ch->framer, &ch->unframed, &line);
        if (rc == MCP_NDJSON_LINE) {
            mcp_buf_reset(msg);
            return mcp_buf_append(msg, line.ptr, line.len);
        }
        if (rc == MCP_NDJSON_OVERSIZED)
            return MCP_ELIMIT;
        if (rc != MCP_NDJSON_MORE)
            return rc;
        if (ch->eof)
            return MCP_ECLOSED; /* a final line without its newline is incomplete: dropped */
        int wait = mcp_net_ms_left(deadline);
        size_t got = 0;
        rc = mcp_client_stream_read(ch->stream, ch->chunk, READ_CHUNK, wait, &got);
        if (rc == MCP_ECLOSED) {
            ch->eof = true;
            continue;
        }
        if (rc != 0)
            return rc;
        ch->unframed = (mcp_str){ch->chunk, got};
    }
}

static void tls_channel_close(mcp_client_transport *t)
{
    tls_channel *ch = (tls_channel *)t;
    mcp_client_stream_close(ch->stream);
    mcp_client_tls_free(ch->tls);
    mcp_ndjson_free(&ch->framer);
    free(ch->chunk);
    free(ch);
}

int mcp_connect_tcp_tls(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out,
                        char *why, size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    if (!host_port || !out)
        return MCP_EINVAL;
    *out = NULL;
    char host[256];
    const char *port;
    if (mcp_net_split_host_port(host_port, host, sizeof host, &port) != 0) {
        mcp_client_set_why(why, why_size, "expected HOST:PORT ([::1]:PORT for IPv6)");
        return MCP_EINVAL;
    }
    tls_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return MCP_ENOMEM;
    ch->base.send = tls_channel_send;
    ch->base.recv = tls_channel_recv;
    ch->base.close = tls_channel_close;
    mcp_ndjson_init(&ch->framer, opts && opts->max_message_size ? opts->max_message_size : DEFAULT_MAX_MESSAGE);
    ch->chunk = malloc(READ_CHUNK);
    int rc = ch->chunk ? mcp_client_dial(host, port, true, opts, &ch->tls, &ch->stream, why, why_size) : MCP_ENOMEM;
    if (rc != 0) {
        int saved = errno;
        mcp_ndjson_free(&ch->framer);
        free(ch->chunk);
        free(ch);
        errno = saved;
        return rc;
    }
    *out = &ch->base;
    return 0;
}
