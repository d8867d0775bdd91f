/*
 * client_ws.c — the client connector for WebSocket (RFC 6455): one
 * JSON-RPC message per text frame, both ways, over TCP (ws://) or TLS
 * (wss://, net/client_tls.h: verified by default).
 *
 * The opening handshake is done at connect time so that a refusal (a wrong
 * path answered 404, a missing subprotocol) is reported by the connector,
 * not later as a closed channel. Frames are our own small framer rather
 * than wslay: the blocking transport reads with poll() on one thread, and a
 * client needs only a handful of cases (masked text out; text, fragments,
 * ping, pong and close in). Every frame we send is masked with a fresh key
 * from the OpenSSL generator, as the RFC requires of clients.
 */
#include "mcp/client.h"
#include "net/client_dial.h"
#include "net/client_url.h"
#include "net/connect.h"
#include "net/http_head.h"
#include "net/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define CLOSE_WAIT_MS 1000u   /* how long closing waits for the server's close frame */
#define SEND_TIMEOUT_MS 30000u /* a server that takes no bytes for this long is given up */
#define READ_CHUNK 65536u

enum { OP_CONTINUATION = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

typedef struct ws_channel {
    mcp_client_transport base;
    mcp_client_stream *stream;   /* NULL once closed */
    mcp_client_tls *tls;         /* wss:// only */
    bool eof;            /* the stream ended or the close handshake is over */
    bool close_sent;
    bool close_received;
    bool in_message;     /* a fragmented text message is being assembled */
    bool skipping;       /* the message being assembled went over the limit */
    bool limit_pending;  /* MCP_ELIMIT once the dropped message's last frame is gone */
    uint64_t discard_left; /* bytes of an over-limit frame still to drop */
    uint16_t close_code; /* of the server's close frame */
    size_t max_message;
    mcp_buf rbuf;        /* raw bytes not yet parsed */
    mcp_buf partial;     /* fragments of the current message */
} ws_channel;

/* ---- Output ---------------------------------------------------------------------- */
/* One final, masked frame. */
static int send_frame(ws_channel *ch, int opcode, const char *payload, size_t len)
{
    if (!ch->stream)
        return MCP_ECLOSED;
    unsigned char head[14];
    size_t n = 0;
    head[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        head[n++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        head[n++] = 0x80 | 126;
        head[n++] = (unsigned char)(len >> 8);
        head[n++] = (unsigned char)len;
    } else {
        head[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            head[n++] = (unsigned char)((uint64_t)len >> shift);
    }
    unsigned char *mask = head + n;
    if (RAND_bytes(mask, 4) != 1)
        return MCP_EIO;
    n += 4;
    mcp_buf frame;
    mcp_buf_init(&frame);
    int rc = mcp_buf_reserve(&frame, n + len);
    if (rc == 0) {
        mcp_buf_append(&frame, head, n);
        unsigned char *out = (unsigned char *)frame.data + n;
        for (size_t i = 0; i < len; i++)
            out[i] = (unsigned char)payload[i] ^ mask[i & 3];
        frame.len = n + len;
        rc = mcp_client_stream_write(ch->stream, frame.data, frame.len, SEND_TIMEOUT_MS);
    }
    mcp_buf_free(&frame);
    return rc;
}

static void send_close(ws_channel *ch, uint16_t code)
{
    if (ch->close_sent)
        return;
    ch->close_sent = true;
    char body[2] = {(char)(code >> 8), (char)(code & 0xff)};
    send_frame(ch, OP_CLOSE, body, sizeof body);
}

static int channel_send(mcp_client_transport *t, const char *message, size_t len)
{
    ws_channel *ch = (ws_channel *)t;
    if (ch->close_sent || ch->close_received)
        return MCP_ECLOSED;
    return send_frame(ch, OP_TEXT, message, len);
}

/* ---- Input ----------------------------------------------------------------------- */
/* A peer that broke the framing rules: say so with code and stop reading. */
static int fail(ws_channel *ch, uint16_t code)
{
    send_close(ch, code);
    ch->eof = true;
    return MCP_EPROTO;
}

#define FRAME_HANDLED 1   /* take_frame: a frame was used up, look for the next */

/* Take one frame out of rbuf and act on it. Returns 0 when msg holds a
 * complete text message, FRAME_HANDLED, MCP_EAGAIN when more bytes are
 * needed, or an outcome for recv (MCP_ELIMIT, MCP_ECLOSED, MCP_EPROTO). */
static int take_frame(ws_channel *ch, mcp_buf *msg)
{
    if (ch->discard_left > 0) {
        /* The rest of a frame of a message over the limit: never buffered. */
        size_t n = ch->rbuf.len < ch->discard_left ? ch->rbuf.len : (size_t)ch->discard_left;
        mcp_buf_consume(&ch->rbuf, n);
        ch->discard_left -= n;
        if (ch->discard_left > 0)
            return MCP_EAGAIN;
        if (ch->limit_pending) {
            ch->limit_pending = false;
            return MCP_ELIMIT;
        }
        return FRAME_HANDLED;
    }
    const unsigned char *p = (const unsigned char *)ch->rbuf.data;
    size_t have = ch->rbuf.len;
    if (have < 2)
        return MCP_EAGAIN;
    bool fin = p[0] & 0x80;
    int opcode = p[0] & 0x0f;
    if (p[0] & 0x70)
        return fail(ch, 1002);   /* no extension was negotiated */
    if (p[1] & 0x80)
        return fail(ch, 1002);   /* a server never masks */
    uint64_t len = p[1] & 0x7f;
    size_t head = 2;
    if (len == 126) {
        if (have < 4)
            return MCP_EAGAIN;
        len = ((uint64_t)p[2] << 8) | p[3];
        head = 4;
    } else if (len == 127) {
        if (have < 10)
            return MCP_EAGAIN;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        head = 10;
    }
    if (len >> 63)
        return fail(ch, 1002);   /* the most significant bit must be 0 */
    bool control = opcode >= 8;
    if (control && (!fin || len > 125))
        return fail(ch, 1002);
    if (opcode == OP_BINARY)
        return fail(ch, 1003);   /* MCP over WebSocket is text */
    if (opcode > OP_BINARY && !control)
        return fail(ch, 1002);
    if (opcode > OP_PONG)
        return fail(ch, 1002);
    if (!control && (opcode == OP_TEXT) == ch->in_message)
        return fail(ch, 1002);   /* a new message inside one, or a stray continuation */
    if (!control && (ch->skipping || len > ch->max_message - ch->partial.len)) {
        /* Over the limit: drop this message's frames as they come. */
        mcp_buf_consume(&ch->rbuf, head);
        mcp_buf_reset(&ch->partial);
        ch->discard_left = len;
        ch->in_message = !fin;
        ch->skipping = !fin;
        ch->limit_pending = fin;
        return take_frame(ch, msg);
    }
    if (have - head < len)
        return MCP_EAGAIN;
    const char *payload = (const char *)p + head;
    size_t plen = (size_t)len;
    int rc = FRAME_HANDLED;
    switch (opcode) {
    case OP_TEXT:
    case OP_CONTINUATION:
        if (mcp_buf_append(&ch->partial, payload, plen) != 0) {
            rc = MCP_ENOMEM;
            break;
        }
        ch->in_message = !fin;
        if (fin) {
            mcp_buf_reset(msg);
            rc = mcp_buf_append(msg, ch->partial.data ? ch->partial.data : "", ch->partial.len);
            mcp_buf_reset(&ch->partial);
        }
        break;
    case OP_PING:
        send_frame(ch, OP_PONG, payload, plen);
        break;
    case OP_PONG:
        break;
    default: { /* OP_CLOSE */
        ch->close_received = true;
        uint16_t code = plen >= 2 ? (uint16_t)(((unsigned char)payload[0] << 8) | (unsigned char)payload[1])
                                  : 1000;
        ch->close_code = code;
        send_close(ch, code == 1005 || code == 1006 || code == 1015 ? 1000 : code);
        ch->eof = true;
        rc = MCP_ECLOSED;
        break;
    }
    }
    mcp_buf_consume(&ch->rbuf, head + plen);
    return rc;
}

static int fill(ws_channel *ch, int wait_ms)
{
    if (mcp_buf_reserve(&ch->rbuf, READ_CHUNK) != 0)
        return MCP_ENOMEM;
    size_t got = 0;
    int rc = mcp_client_stream_read(ch->stream, ch->rbuf.data + ch->rbuf.len, READ_CHUNK, wait_ms, &got);
    if (rc == MCP_ECLOSED) {
        ch->eof = true;
        return 0;
    }
    if (rc == MCP_EIO)
        ch->eof = true;
    ch->rbuf.len += got;
    return rc;
}

static int channel_recv(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms)
{
    ws_channel *ch = (ws_channel *)t;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        if (ch->close_received || !ch->stream)
            return MCP_ECLOSED;
        int rc;
        while ((rc = take_frame(ch, msg)) == FRAME_HANDLED && !ch->eof)
            ;
        if (rc != MCP_EAGAIN && rc != FRAME_HANDLED)
            return rc;
        if (ch->eof)
            return MCP_ECLOSED;
        int wait = mcp_net_ms_left(deadline);
        rc = fill(ch, wait);
        if (rc != 0)
            return rc;
    }
}

static void channel_close(mcp_client_transport *t)
{
    ws_channel *ch = (ws_channel *)t;
    if (ch->stream) {
        if (!ch->close_received && !ch->eof) {
            /* Our close, then the server's answer (bounded), so that the
             * server sees a clean close handshake rather than a reset. */
            send_close(ch, 1000);
            mcp_buf scratch;
            mcp_buf_init(&scratch);
            uint64_t deadline = mcp_now_ns() + (uint64_t)CLOSE_WAIT_MS * 1000000u;
            while (!ch->close_received && !ch->eof && mcp_now_ns() < deadline) {
                int rc = channel_recv(t, &scratch, CLOSE_WAIT_MS);
                if (rc == MCP_ECLOSED || rc == MCP_ETIMEDOUT || rc == MCP_EIO || rc == MCP_EPROTO)
                    break;
            }
            mcp_buf_free(&scratch);
        }
        mcp_client_stream_close(ch->stream);
    }
    mcp_client_tls_free(ch->tls);
    mcp_buf_free(&ch->rbuf);
    mcp_buf_free(&ch->partial);
    free(ch);
}

/* ---- Opening handshake ----------------------------------------------------------- */
/* "ws[s]://HOST[:PORT][/PATH]" is the http(s) URL it upgrades from, with
 * the path /mcp when it names none. */
static int parse_url(const char *url, mcp_http_url *u)
{
    memset(u, 0, sizeof *u);
    bool tls = !strncasecmp(url, "wss://", 6);
    if (!tls && strncasecmp(url, "ws://", 5) != 0)
        return MCP_EINVAL;
    char as_http[2048 + 300];
    const char *rest = url + (tls ? 6 : 5);
    if (snprintf(as_http, sizeof as_http, "%s://%s", tls ? "https" : "http", rest) >= (int)sizeof as_http)
        return MCP_EINVAL;
    return mcp_client_url_parse(as_http, MCP_WS_DEFAULT_PATH, u);
}

/* The first value of field name in the response head, or NULL. */
static const char *header_value(const char *head, size_t head_len, const char *name, size_t *len)
{
    size_t at = 0;
    mcp_str v;
    if (!mcp_http_head_field(head, head_len, name, &at, &v))
        return NULL;
    *len = v.len;
    return v.ptr;
}

static bool value_is(const char *v, size_t len, const char *want)
{
    return v && len == strlen(want) && strncasecmp(v, want, len) == 0;
}

static int handshake(ws_channel *ch, const char *host_port, const char *path, unsigned timeout_ms,
                     char *why, size_t why_size)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return MCP_EIO;
    char key[25];
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    mcp_buf req;
    mcp_buf_init(&req);
    int rc = mcp_buf_appendf(&req,
                             "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: " MCP_WS_SUBPROTOCOL "\r\n\r\n",
                             path, host_port, key);
    if (rc == 0)
        rc = mcp_client_stream_write(ch->stream, req.data, req.len, timeout_ms);
    mcp_buf_free(&req);
    if (rc != 0)
        return rc;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    char *end = NULL;
    while (!(end = ch->rbuf.len ? strstr(ch->rbuf.data, "\r\n\r\n") : NULL)) {
        if (ch->rbuf.len > MCP_WS_MAX_HANDSHAKE) {
            mcp_client_set_why(why, why_size, "the server's answer to the upgrade is too long");
            return MCP_EPROTO;
        }
        if (ch->eof) {
            mcp_client_set_why(why, why_size, "the server closed the connection during the upgrade");
            return MCP_ECLOSED;
        }
        uint64_t now = mcp_now_ns();
        if (now >= deadline)
            return MCP_ETIMEDOUT;
        rc = fill(ch, (int)((deadline - now + 999999u) / 1000000u));
        if (rc != 0)
            return rc;
        if (ch->rbuf.data)
            ch->rbuf.data[ch->rbuf.len] = '\0';
    }
    size_t head_len = (size_t)(end - ch->rbuf.data) + 4;
    char saved = ch->rbuf.data[head_len - 2];
    ch->rbuf.data[head_len - 2] = '\0';   /* the status line is read as a string */
    const char *head = ch->rbuf.data;
    rc = 0;
    int status = 0;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        mcp_client_set_why(why, why_size, "not an HTTP answer to the upgrade");
        rc = MCP_EPROTO;
    } else if (status != 101) {
        const char *eol = strstr(head, "\r\n");
        char line[128];
        size_t n = eol ? (size_t)(eol - head) : strlen(head);
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, head, n);
        line[n] = '\0';
        mcp_client_set_why(why, why_size, "the server refused the WebSocket upgrade: %s%s", line,
                status == 404 ? " (wrong path?)" : "");
        rc = status == 404 ? MCP_ENOTFOUND : MCP_EPROTO;
    } else {
        size_t len = 0;
        const char *v;
        char expect[29];
        mcp_ws_accept_key((mcp_str){key, 24}, expect);
        v = header_value(head, head_len - 2, "Upgrade", &len);
        if (!value_is(v, len, "websocket")) {
            mcp_client_set_why(why, why_size, "101 answer without Upgrade: websocket");
            rc = MCP_EPROTO;
        } else if (!(v = header_value(head, head_len - 2, "Sec-WebSocket-Accept", &len)) || len != 28 ||
                   memcmp(v, expect, 28) != 0) {
            mcp_client_set_why(why, why_size, "Sec-WebSocket-Accept does not match our key");
            rc = MCP_EPROTO;
        } else if ((v = header_value(head, head_len - 2, "Sec-WebSocket-Protocol", &len)) &&
                   !value_is(v, len, MCP_WS_SUBPROTOCOL)) {
            mcp_client_set_why(why, why_size, "the server chose a subprotocol we did not offer");
            rc = MCP_EPROTO;
        }
    }
    ch->rbuf.data[head_len - 2] = saved;
    if (rc == 0)
        mcp_buf_consume(&ch->rbuf, head_len);   /* frames may follow at once */
    return rc;
}

int mcp_connect_ws(const char *url, const mcp_connect_opts *opts, mcp_client_transport **out,
                   char *why, size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    if (!url || !out)
        return MCP_EINVAL;
    *out = NULL;
    mcp_http_url u;
    if (parse_url(url, &u) != 0) {
        mcp_client_set_why(why, why_size, "expected ws://HOST:PORT/PATH or wss://HOST:PORT/PATH");
        return MCP_EINVAL;
    }
    ws_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return MCP_ENOMEM;
    ch->base.send = channel_send;
    ch->base.recv = channel_recv;
    ch->base.close = channel_close;
    ch->max_message = opts && opts->max_message_size ? opts->max_message_size : DEFAULT_MAX_MESSAGE;
    mcp_buf_init(&ch->rbuf);
    mcp_buf_init(&ch->partial);
    int rc = mcp_client_dial(u.host, u.port, u.tls, opts, &ch->tls, &ch->stream, why, why_size);
    if (rc == 0)
        rc = handshake(ch, u.authority, u.path, mcp_client_connect_timeout(opts), why, why_size);
    if (rc != 0) {
        int saved = errno;
        mcp_client_stream_close(ch->stream);
        mcp_client_tls_free(ch->tls);
        mcp_buf_free(&ch->rbuf);
        mcp_buf_free(&ch->partial);
        free(ch);
        errno = saved;
        return rc;
    }
    *out = &ch->base;
    return 0;
}
