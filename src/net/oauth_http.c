/*
 * oauth_http.c — the plain HTTP requests of the authorization flow:
 * metadata GETs, the registration and token POSTs, and the authorization
 * request whose redirect we read instead of following.
 *
 * One request per connection (Connection: close): the flow makes a handful
 * of requests to servers other than the MCP endpoint, once per
 * authorization, so keeping connections would buy nothing. Dialling and
 * response framing are the connector's own (client_http_wire.c), so both
 * read HTTP the same way; the raw head is kept because the flow needs
 * headers the connector never looks at (Location, WWW-Authenticate).
 */
#include "net/client_http_internal.h"
#include "net/oauth.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)
#define MAX_HEAD (64u * 1024u)

void mcp_oauth_reply_free(mcp_oauth_reply *r)
{
    mcp_buf_free(&r->head);
    mcp_buf_free(&r->body);
}

/* The flow asks for JSON; an event stream from an authorization server is
 * not something it can use, so its events are dropped. */
static void ignore_event(void *user, const char *id, const char *event, const char *data, size_t len)
{
    (void)user;
    (void)id;
    (void)event;
    (void)data;
    (void)len;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = mcp_now_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
}

int mcp_oauth_http(const char *method, const char *url, const char *headers, const char *content_type,
                   const char *body, size_t body_len, unsigned timeout_ms, mcp_oauth_reply *out)
{
    memset(out, 0, sizeof *out);
    mcp_buf_init(&out->head);
    mcp_buf_init(&out->body);
    mcp_http_url u;
    int rc = mcp_http_url_parse(url, &u);
    if (rc != 0)
        return rc;
    if (strpbrk(u.path, " \r\n"))
        return MCP_EINVAL;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int fd = -1;
    rc = mcp_http_dial(&u, timeout_ms, &fd);
    if (rc != 0)
        return rc;
    mcp_buf req;
    mcp_buf_init(&req);
    mcp_buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mcpd/" MCP_VERSION_STRING
                          "\r\nAccept: application/json\r\nConnection: close\r\n",
                    method, u.path, u.authority);
    if (headers)
        mcp_buf_append_cstr(&req, headers);
    if (body) {
        mcp_buf_appendf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, body_len);
    } else if (strcmp(method, "GET") != 0) {
        mcp_buf_append_cstr(&req, "Content-Length: 0\r\n");
    }
    mcp_buf_append_cstr(&req, "\r\n");
    if (body)
        mcp_buf_append(&req, body, body_len);
    rc = mcp_http_write_all(fd, req.data, req.len, (unsigned)remaining_ms(deadline) + 1);
    mcp_buf_free(&req);
    mcp_http_response resp;
    if (rc == 0)
        rc = mcp_http_response_init(&resp, MAX_BODY, ignore_event, NULL);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    char chunk[16384];
    for (;;) {
        int wait = remaining_ms(deadline);
        if (wait == 0) {
            rc = MCP_ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int got = poll(&p, 1, wait);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got == 0 ? MCP_ETIMEDOUT : MCP_EIO;
            break;
        }
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            rc = MCP_EIO;
            break;
        }
        if (!resp.head_done && n > 0) {
            if (out->head.len + (size_t)n > MAX_HEAD) {
                rc = MCP_ELIMIT;
                break;
            }
            mcp_buf_append(&out->head, chunk, (size_t)n);
        }
        rc = mcp_http_response_feed(&resp, chunk, (size_t)n);
        if (resp.done) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        if (n == 0) {
            rc = MCP_ECLOSED;
            break;
        }
    }
    close(fd);
    if (rc == 0) {
        out->status = resp.status;
        /* The head ends at the blank line; what came with it was body. */
        const char *blank = memmem(out->head.data, out->head.len, "\r\n\r\n", 4);
        if (blank) {
            out->head.len = (size_t)(blank - out->head.data) + 2;
            out->head.data[out->head.len] = '\0';
        }
        mcp_buf_append(&out->body, resp.body.data, resp.body.len);
    }
    mcp_http_response_free(&resp);
    return rc;
}
