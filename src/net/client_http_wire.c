/*
 * client_http_wire.c — the HTTP/1.1 client underneath the Streamable HTTP
 * connector: URL parsing, dialling, a small set of idle keep-alive
 * connections, and response framing.
 *
 * Responses are framed by llhttp in response mode, the same parser the
 * server side uses for requests, so Content-Length, chunked and
 * close-delimited bodies all follow one grammar. A text/event-stream body
 * is handed straight to the SSE parser of sse.c piece by piece; any other
 * body is collected (bounded by the message size limit).
 *
 * Connections are net/client_tls.h streams, plain for http and verified
 * TLS for https, so everything above reads, writes and closes one kind of
 * object; only a poll of the descriptor must first ask whether a TLS
 * stream already holds decrypted bytes.
 */
#include "net/client_http_internal.h"

#include <errno.h>
#include <llhttp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- URLs ------------------------------------------------------------------------ */

int mcp_http_url_parse(const char *url, mcp_http_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return MCP_EINVAL;
    /* Every client copies the path into a request line it writes itself:
     * a space or a line break would end that line or add headers. */
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
            return MCP_EINVAL;
    size_t scheme = 0;
    if (!strncasecmp(url, "http://", 7))
        scheme = 7;
    else if (!strncasecmp(url, "https://", 8))
        scheme = 8, out->tls = true;
    else
        return MCP_EINVAL;
    const char *auth = url + scheme;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0 || auth_len >= sizeof out->authority || memchr(auth, '@', auth_len))
        return MCP_EINVAL;
    memcpy(out->authority, auth, auth_len);
    const char *host = auth, *port = NULL;
    size_t host_len;
    if (*auth == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close)
            return MCP_EINVAL;
        host = auth + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < auth + auth_len) {
            if (close[1] != ':')
                return MCP_EINVAL;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', auth_len);
        host_len = colon ? (size_t)(colon - auth) : auth_len;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0 || host_len >= sizeof out->host)
        return MCP_EINVAL;
    memcpy(out->host, host, host_len);
    if (port) {
        size_t port_len = (size_t)(auth + auth_len - port);
        if (port_len == 0 || port_len >= sizeof out->port)
            return MCP_EINVAL;
        for (size_t i = 0; i < port_len; i++)
            if (port[i] < '0' || port[i] > '9')
                return MCP_EINVAL;
        memcpy(out->port, port, port_len);
    } else {
        strcpy(out->port, out->tls ? "443" : "80");
    }
    const char *path = auth + auth_len;
    size_t path_len = strcspn(path, "#");
    if (path_len + 2 > sizeof out->path)
        return MCP_EINVAL;
    if (path_len == 0 || path[0] != '/') {
        out->path[0] = '/';
        memcpy(out->path + 1, path, path_len);
    } else {
        memcpy(out->path, path, path_len);
    }
    return 0;
}

int mcp_http_url_tls_init(mcp_http_url *url, const mcp_connect_opts *opts)
{
    if (!url->tls || url->tls_config)
        return 0;
    char why[256] = "";
    int rc = mcp_client_tls_new(&url->tls_config, opts, why, sizeof why);
    if (rc != 0)
        mcp_log(MCP_LOG_ERROR, "https://%s: %s", url->authority, why);
    return rc;
}

void mcp_http_url_release(mcp_http_url *url)
{
    mcp_client_tls_free(url->tls_config);
    url->tls_config = NULL;
}

/* ---- Connections ------------------------------------------------------------------ */

int mcp_http_dial(const mcp_http_url *url, unsigned timeout_ms, mcp_client_stream **out)
{
    char why[256] = "";
    mcp_client_tls *config = url->tls_config;
    int rc = 0;
    if (url->tls && !config)
        rc = mcp_client_tls_new(&config, NULL, why, sizeof why); /* the system store */
    if (rc == 0)
        rc = mcp_client_stream_dial(out, url->host, url->port, url->tls ? config : NULL, timeout_ms, why, sizeof why);
    if (config != url->tls_config)
        mcp_client_tls_free(config); /* the connection keeps what it needs */
    if (rc != 0 && why[0]) {
        int saved = errno;
        mcp_log(MCP_LOG_ERROR, "%s://%s: %s", url->tls ? "https" : "http", url->authority, why);
        errno = saved;
    }
    return rc;
}

/* ---- Idle connections ------------------------------------------------------------------ */

/* An idle connection has nothing to say, so a readable one was closed by
 * the server (or broke the protocol), with one exception: a TLS 1.3 server
 * sends its session tickets after the handshake, and a connection dialled
 * but not yet used still has them unread. A read that finds no data takes
 * them in and shows the connection alive. */
static bool idle_alive(mcp_client_stream *conn)
{
    if (mcp_client_stream_buffered(conn))
        return false;
    struct pollfd p = {.fd = mcp_client_stream_fd(conn), .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        return true;
    char c;
    size_t got = 0;
    return mcp_client_stream_is_tls(conn) && mcp_client_stream_read(conn, &c, 1, 0, &got) == MCP_ETIMEDOUT;
}

mcp_client_stream *mcp_http_pool_take(mcp_http_pool *pool)
{
    while (pool->count > 0) {
        mcp_client_stream *conn = pool->conns[--pool->count];
        if (idle_alive(conn))
            return conn;
        mcp_client_stream_close(conn);
    }
    return NULL;
}

void mcp_http_pool_put(mcp_http_pool *pool, mcp_client_stream *conn)
{
    if (pool->count < MCP_HTTP_CLIENT_MAX_IDLE)
        pool->conns[pool->count++] = conn;
    else
        mcp_client_stream_close(conn);
}

void mcp_http_pool_close(mcp_http_pool *pool)
{
    while (pool->count > 0)
        mcp_client_stream_close(pool->conns[--pool->count]);
}

/* ---- Responses --------------------------------------------------------------------------- */

enum { H_NONE = 0, H_CONTENT_TYPE, H_SESSION_ID };

static mcp_http_response *response_of(llhttp_t *p) { return p->data; }

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    mcp_http_response *r = response_of(p);
    size_t room = r->field_len < sizeof r->field ? sizeof r->field - r->field_len : 0;
    memcpy(r->field + r->field_len, at, len < room ? len : room);
    r->field_len += len;
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    mcp_http_response *r = response_of(p);
    r->current = H_NONE;
    if (r->field_len == 12 && !strncasecmp(r->field, "content-type", 12)) {
        r->current = H_CONTENT_TYPE;
        mcp_buf_reset(&r->content_type);
    } else if (r->field_len == 14 && !strncasecmp(r->field, "mcp-session-id", 14)) {
        r->current = H_SESSION_ID;
        mcp_buf_reset(&r->session_id);
    }
    r->field_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    mcp_http_response *r = response_of(p);
    mcp_buf *to = r->current == H_CONTENT_TYPE ? &r->content_type
                  : r->current == H_SESSION_ID ? &r->session_id
                                               : NULL;
    if (to && (to->len + len > 1024 || mcp_buf_append(to, at, len) != 0))
        return HPE_USER;
    return 0;
}

static bool media_type_is(const mcp_buf *ct, const char *want)
{
    size_t n = strlen(want);
    if (ct->len < n || strncasecmp(ct->data, want, n) != 0)
        return false;
    return ct->len == n || ct->data[n] == ';' || ct->data[n] == ' ' || ct->data[n] == '\t';
}

static int on_headers_complete(llhttp_t *p)
{
    mcp_http_response *r = response_of(p);
    r->status = llhttp_get_status_code(p);
    r->head_done = true;
    r->is_sse = r->status >= 200 && r->status < 300 && media_type_is(&r->content_type, "text/event-stream");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    mcp_http_response *r = response_of(p);
    if (r->is_sse)
        return mcp_sse_parser_feed(&r->sse, at, len) == 0 ? 0 : HPE_USER;
    if (r->body.len + len > r->max_body || mcp_buf_append(&r->body, at, len) != 0)
        return HPE_USER;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    mcp_http_response *r = response_of(p);
    r->done = true;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    if (r->is_sse)
        mcp_sse_parser_feed(&r->sse, "\n\n", 2); /* an event cut short by the end is not dispatched twice */
    return HPE_PAUSED;
}

static llhttp_settings_t response_settings(void)
{
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_header_field = on_header_field;
    s.on_header_field_complete = on_header_field_complete;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
}

int mcp_http_response_init(mcp_http_response *r, size_t max_body, mcp_sse_event_fn on_event, void *user)
{
    memset(r, 0, sizeof *r);
    /* llhttp keeps a pointer to its settings: give each parser its own copy,
     * stored right after it. */
    char *mem = calloc(1, sizeof(llhttp_t) + sizeof(llhttp_settings_t));
    if (!mem)
        return MCP_ENOMEM;
    llhttp_t *p = (llhttp_t *)mem;
    llhttp_settings_t *s = (llhttp_settings_t *)(mem + sizeof(llhttp_t));
    *s = response_settings();
    llhttp_init(p, HTTP_RESPONSE, s);
    p->data = r;
    r->llhttp = p;
    r->max_body = max_body;
    mcp_buf_init(&r->content_type);
    mcp_buf_init(&r->session_id);
    mcp_buf_init(&r->body);
    mcp_sse_parser_init(&r->sse, max_body, on_event, user);
    return 0;
}

void mcp_http_response_free(mcp_http_response *r)
{
    free(r->llhttp);
    r->llhttp = NULL;
    mcp_buf_free(&r->content_type);
    mcp_buf_free(&r->session_id);
    mcp_buf_free(&r->body);
    mcp_sse_parser_free(&r->sse);
}

int mcp_http_response_feed(mcp_http_response *r, const char *data, size_t len)
{
    llhttp_t *p = r->llhttp;
    if (r->done || r->failed)
        return r->failed ? MCP_EPARSE : 0;
    llhttp_errno_t err;
    if (len == 0) {
        /* A close-delimited body ends here (llhttp completes it); anything
         * else still open was cut short. */
        err = llhttp_finish(p);
        if (r->done)
            return 0;
        if (r->head_done && r->is_sse)
            return MCP_ECLOSED;
        r->failed = true;
        return err == HPE_OK ? MCP_ECLOSED : MCP_EPARSE;
    }
    r->bytes_seen = true;
    err = llhttp_execute(p, data, len);
    if (err == HPE_OK || err == HPE_PAUSED)
        return 0;
    r->failed = true;
    return err == HPE_USER ? MCP_ELIMIT : MCP_EPARSE;
}

/* ---- Base64 ------------------------------------------------------------------------------- */

int mcp_http_base64_encode(mcp_buf *out, const unsigned char *data, size_t len, bool url)
{
    const char *alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                     i + 1 < len ? alphabet[(v >> 6) & 63] : '=', i + 2 < len ? alphabet[v & 63] : '='};
        /* Unpadded, the last group keeps only the characters it has. */
        rc |= mcp_buf_append(out, q, !url || i + 2 < len ? 4 : i + 1 < len ? 3 : 2);
    }
    return rc ? MCP_ENOMEM : 0;
}

int mcp_http_base64_append(mcp_buf *out, const unsigned char *data, size_t len)
{
    return mcp_http_base64_encode(out, data, len, false);
}
