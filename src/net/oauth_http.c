/*
 * oauth_http.c — the plain HTTP(S) requests of the authorization flow:
 * metadata GETs, the registration and token POSTs, and the authorization
 * request whose redirect we read instead of following.
 *
 * One request per connection (Connection: close): the flow makes a handful
 * of requests to servers other than the MCP endpoint, once per
 * authorization, so keeping connections would buy nothing. Authorization
 * servers are https in practice: connections go through the client stream
 * of client_tls.c, verified against the trust store (or the CA file,
 * directory or insecure switch the connector was given). Response framing
 * is the connector's own (client_http_wire.c), so both read HTTP the same
 * way; the raw head is kept because the flow needs headers the connector
 * never looks at (Location, WWW-Authenticate, DPoP-Nonce).
 */
#include "net/client_http_internal.h"
#include "net/client_tls.h"
#include "net/client_url.h"
#include "net/connect.h"
#include "net/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1u << 20)
#define MAX_HEAD (64u * 1024u)

void mcp_oauth_reply_free(mcp_oauth_reply *r)
{
    mcp_buf_free(&r->head);
    mcp_buf_free(&r->body);
}

mcp_json *mcp_oauth_reply_json(const mcp_oauth_reply *r, mcp_arena *arena)
{
    mcp_json *doc = NULL;
    if (mcp_json_parse(arena, r->body.data ? r->body.data : "", r->body.len, NULL, &doc, NULL) != 0)
        return NULL;
    return doc;
}

int mcp_oauth_answer_read(int rc, mcp_oauth_reply *reply, const char *what, const char *url,
                          mcp_oauth_answer *a, char *why, size_t why_size)
{
    if (rc != 0) {
        snprintf(why, why_size, "%s %s could not be reached: %s", what, url, mcp_strerror(rc));
        mcp_oauth_reply_free(reply);
        return rc;
    }
    a->reply = *reply;
    mcp_arena_init(&a->arena, 0);
    a->doc = mcp_oauth_reply_json(&a->reply, &a->arena);
    a->error = mcp_json_str(mcp_json_get(a->doc, "error"), NULL);
    return 0;
}

void mcp_oauth_answer_free(mcp_oauth_answer *a)
{
    mcp_arena_free(&a->arena);
    mcp_oauth_reply_free(&a->reply);
}

void mcp_oauth_net_init(mcp_oauth_net *net, const mcp_connect_opts *opts, unsigned timeout_ms)
{
    memset(net, 0, sizeof *net);
    net->timeout_ms = timeout_ms ? timeout_ms : 10000;
    if (opts) {
        net->ca_file = opts->tls_ca_file ? strdup(opts->tls_ca_file) : NULL;
        net->ca_dir = opts->tls_ca_dir ? strdup(opts->tls_ca_dir) : NULL;
        net->insecure = opts->tls_insecure;
    }
}

void mcp_oauth_net_free(mcp_oauth_net *net)
{
    mcp_client_tls_free(net->tls);
    free(net->ca_file);
    free(net->ca_dir);
    memset(net, 0, sizeof *net);
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

int mcp_oauth_http(mcp_oauth_net *net, const char *method, const char *url, const char *headers,
                   const char *content_type, const char *body, size_t body_len, mcp_oauth_reply *out)
{
    memset(out, 0, sizeof *out);
    mcp_buf_init(&out->head);
    mcp_buf_init(&out->body);
    mcp_http_url t;
    int rc = mcp_client_url_parse(url, NULL, &t);
    if (rc != 0)
        return rc;
    char why[256] = "";
    if (t.tls && !net->tls) {
        mcp_connect_opts tls_opts = {.tls_ca_file = net->ca_file, .tls_ca_dir = net->ca_dir,
                                     .tls_insecure = net->insecure};
        rc = mcp_client_tls_new(&net->tls, &tls_opts, why, sizeof why);
        if (rc != 0)
            return rc;
    }
    uint64_t deadline = mcp_now_ns() + (uint64_t)net->timeout_ms * 1000000u;
    mcp_client_stream *s = NULL;
    rc = mcp_client_stream_dial(&s, t.host, t.port, t.tls ? net->tls : NULL, net->timeout_ms, why, sizeof why);
    if (rc != 0)
        return rc;
    mcp_buf req;
    mcp_buf_init(&req);
    mcp_buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mcpd/" MCP_VERSION_STRING
                          "\r\nAccept: application/json\r\nConnection: close\r\n",
                    method, t.path, t.authority);
    if (headers)
        mcp_buf_append_cstr(&req, headers);
    if (body)
        mcp_buf_appendf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, body_len);
    else if (strcmp(method, "GET") != 0)
        mcp_buf_append_cstr(&req, "Content-Length: 0\r\n");
    mcp_buf_append_cstr(&req, "\r\n");
    if (body)
        mcp_buf_append(&req, body, body_len);
    rc = mcp_client_stream_write(s, req.data, req.len, (unsigned)mcp_net_ms_left(deadline) + 1);
    mcp_buf_free(&req);
    mcp_http_response resp;
    if (rc == 0)
        rc = mcp_http_response_init(&resp, MAX_BODY, ignore_event, NULL);
    if (rc != 0) {
        mcp_client_stream_close(s);
        return rc;
    }
    char chunk[16384];
    for (;;) {
        int wait = mcp_net_ms_left(deadline);
        if (wait == 0) {
            rc = MCP_ETIMEDOUT;
            break;
        }
        size_t n = 0;
        rc = mcp_client_stream_read(s, chunk, sizeof chunk, wait, &n);
        if (rc == MCP_ECLOSED) {
            /* A close-delimited body ends here; anything else was cut. */
            rc = mcp_http_response_feed(&resp, NULL, 0);
            rc = resp.done ? 0 : rc ? rc : MCP_ECLOSED;
            break;
        }
        if (rc != 0)
            break;
        if (!resp.head_done) {
            if (out->head.len + n > MAX_HEAD) {
                rc = MCP_ELIMIT;
                break;
            }
            mcp_buf_append(&out->head, chunk, n);
        }
        rc = mcp_http_response_feed(&resp, chunk, n);
        if (resp.done) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
    }
    mcp_client_stream_close(s);
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
