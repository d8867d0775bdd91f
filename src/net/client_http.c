/*
 * client_http.c — the Streamable HTTP client transport: the blocking-API
 * channel (send/recv/close) that maps JSON-RPC messages onto HTTP.
 *
 * send() POSTs one message and returns as soon as the request is written;
 * every response is read later by recv(), which polls all open responses
 * at once. That keeps a slow tool from blocking the next request or a
 * cancellation, and lets one thread drive many requests in flight. Each
 * response is an "exchange": a POST awaiting its JSON or SSE answer, a
 * resumption GET (Last-Event-ID) standing in for a POST whose stream
 * broke, or the standalone GET stream of a session.
 *
 * What the transport must know of MCP it reads from the messages that pass
 * through it, so the client state machine stays transport-agnostic: the era
 * (a request whose _meta carries io.modelcontextprotocol/protocolVersion is
 * modern), the session (Mcp-Session-Id of the initialize response), the
 * negotiated version (the initialize result), which response a stream owes
 * (the request id), and cancellations (notifications/cancelled, which in
 * the modern era become a closed stream instead of a POST).
 *
 * Responses are read by client_http_exchange.c; a server that asks for
 * authorization gets it from the OAuth client (oauth*.c) when the
 * connector was given mcp_connect_opts.oauth.
 */
#include "net/client_http_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_GRACE_MS 2000u
#define DEFAULT_MAX_RESUME 5u
#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 4000u
#define READ_CHUNK 65536u

static int http_send(mcp_client_transport *base, const char *message, size_t len);

/* ---- Sending --------------------------------------------------------------------------------- */

/* A header value must stay on its line; Mcp-Name falls back to base64 for
 * anything beyond printable ASCII. */
static bool header_safe(const char *s, size_t len)
{
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static void append_name_header(mcp_buf *w, const mcp_json *name)
{
    const char *s = mcp_json_str(name, "");
    size_t len = mcp_json_str_len(name);
    if (header_safe(s, len) && !(len >= 2 && s[0] == '=' && s[1] == '?')) {
        mcp_buf_append_cstr(w, "Mcp-Name: ");
        mcp_buf_append(w, s, len);
        mcp_buf_append_cstr(w, "\r\n");
        return;
    }
    mcp_buf_append_cstr(w, "Mcp-Name: =?base64?");
    mcp_http_base64_append(w, (const unsigned char *)s, len);
    mcp_buf_append_cstr(w, "?=\r\n");
}

/* Mcp-Param-* for a tool a tools/list result described (none otherwise). */
static int append_param_headers(mcp_http_client *t, mcp_buf *w, const mcp_json *name, const mcp_json *arguments)
{
    const char *schema = mcp_http_tools_schema(t->tools, mcp_json_str(name, ""), mcp_json_str_len(name));
    if (!schema)
        return 0;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&arena, schema, strlen(schema), NULL, &doc, NULL);
    if (rc == 0)
        rc = mcp_http_param_headers_append(w, doc, arguments);
    mcp_arena_free(&arena);
    return rc;
}

/* notifications/cancelled: stop reading the cancelled request's stream. */
static void cancel_stream(mcp_http_client *t, const mcp_json *params)
{
    const mcp_json *id = mcp_json_get(params, "requestId");
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || !x->has_request || !mcp_http_id_same(id, &x->id))
            continue;
        t->stats.streams_cancelled += x->conn != NULL;
        mcp_http_client_exchange_drop_conn(x);
        x->got_reply = true;
        x->dead = true;
    }
}

static void open_get_stream(mcp_http_client *t)
{
    if (!t->want_get_stream || !t->session_id || t->get_refused)
        return;
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next)
        if (x->kind == MCP_HTTP_X_GET && !x->dead)
            return;
    mcp_http_client_exchange *x = mcp_http_client_exchange_new(t, MCP_HTTP_X_GET);
    if (x && mcp_http_client_exchange_get(t, x) != 0)
        mcp_http_stream_over(x, "opening it failed");
}

static int http_send(mcp_client_transport *base, const char *message, size_t len)
{
    mcp_http_client *t = (mcp_http_client *)base;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    if (mcp_json_parse(&arena, message, len, NULL, &doc, NULL) != 0 || !mcp_json_is_object(doc)) {
        mcp_arena_free(&arena);
        return MCP_EINVAL;
    }
    const mcp_json *method = mcp_json_get(doc, "method");
    const mcp_json *id = mcp_json_get(doc, "id");
    const mcp_json *params = mcp_json_get(doc, "params");
    const char *m = mcp_json_str(method, NULL);
    size_t mlen = mcp_json_str_len(method);
    const mcp_json *pv = mcp_json_get(mcp_json_get(params, "_meta"), "io.modelcontextprotocol/protocolVersion");
    bool modern = mcp_json_is_string(pv);
    bool request = m && id;
    if (request) {
        /* The era of the conversation is that of its latest request. */
        free(t->modern_version);
        t->modern_version = modern ? mcp_http_strndup(mcp_json_str(pv, ""), mcp_json_str_len(pv)) : NULL;
    }
    /* Notifications carry no _meta: they follow the requests' era. */
    const char *version = modern ? NULL : t->modern_version;
    if (version)
        modern = true;
    if (m && !header_safe(m, mlen)) {
        mcp_arena_free(&arena);
        return MCP_EINVAL;
    }
    if (m && !strcmp(m, "notifications/cancelled")) {
        cancel_stream(t, params);
        /* The modern era cancels by closing the stream; the handshake era
         * also tells the server. */
        if (t->modern_version) {
            mcp_http_client_exchanges_reap(t);
            mcp_arena_free(&arena);
            return 0;
        }
    }
    mcp_http_client_exchanges_reap(t);
    mcp_http_client_exchange *x = mcp_http_client_exchange_new(t, MCP_HTTP_X_POST);
    if (!x) {
        mcp_arena_free(&arena);
        return MCP_ENOMEM;
    }
    x->has_request = request;
    x->is_initialize = request && !strcmp(m, "initialize");
    x->is_tools_list = request && !strcmp(m, "tools/list");
    if (request) {
        mcp_str raw = mcp_json_raw(id);
        mcp_buf_append(&x->id, raw.ptr, raw.len);
    }
    mcp_buf *w = &x->wire;
    mcp_buf_appendf(w, "POST %s HTTP/1.1\r\n", t->url.path);
    mcp_http_common_headers_append(t, w, modern);
    mcp_buf_append_cstr(w, "Accept: application/json, text/event-stream\r\n"
                           "Content-Type: application/json\r\n");
    if (modern && version) {
        mcp_buf_appendf(w, "MCP-Protocol-Version: %s\r\n", version);
    } else if (modern) {
        mcp_buf_append_cstr(w, "MCP-Protocol-Version: ");
        mcp_buf_append(w, mcp_json_str(pv, ""), mcp_json_str_len(pv));
        mcp_buf_append_cstr(w, "\r\n");
    } else if (!x->is_initialize) {
        mcp_http_version_header_append(t, w);
    }
    if (modern && m) {
        mcp_buf_append_cstr(w, "Mcp-Method: ");
        mcp_buf_append(w, m, mlen);
        mcp_buf_append_cstr(w, "\r\n");
        const mcp_json *name = NULL;
        if (!strcmp(m, "tools/call") || !strcmp(m, "prompts/get"))
            name = mcp_json_get(params, "name");
        else if (!strcmp(m, "resources/read"))
            name = mcp_json_get(params, "uri");
        else if (!strcmp(m, "tasks/get") || !strcmp(m, "tasks/update") || !strcmp(m, "tasks/cancel"))
            name = mcp_json_get(params, "taskId"); /* the tasks extension names its task */
        if (mcp_json_is_string(name))
            append_name_header(w, name);
        if (!strcmp(m, "tools/call") && mcp_json_is_string(name) &&
            append_param_headers(t, w, name, mcp_json_get(params, "arguments")) != 0) {
            /* A tool whose x-mcp-header annotations break the rules must
             * not be called; neither may arguments that contradict them. */
            mcp_arena_free(&arena);
            x->dead = true;
            return MCP_EINVAL;
        }
    }
    mcp_buf_appendf(w, "Content-Length: %zu\r\n\r\n", len);
    mcp_buf_append(w, message, len);
    bool initialized = m && !strcmp(m, "notifications/initialized");
    mcp_arena_free(&arena);
    t->stats.posts++;
    int rc = mcp_http_client_exchange_start(x);
    if (rc != 0) {
        x->dead = true;
        return rc;
    }
    if (initialized)
        open_get_stream(t);
    return 0;
}

/* ---- Receiving --------------------------------------------------------------------------------- */

static int inbox_pop(mcp_http_client *t, mcp_buf *msg)
{
    mcp_http_inbox_item *it = t->in_head;
    t->in_head = it->next;
    if (!t->in_head)
        t->in_tail = NULL;
    int rc = 0;
    if (it->len > t->max_message) {
        rc = MCP_ELIMIT;
    } else {
        mcp_buf_reset(msg);
        rc = mcp_buf_append(msg, it->data, it->len);
    }
    free(it);
    return rc;
}

static int poll_once(mcp_http_client *t, int wait_ms)
{
    size_t n = 0;
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next)
        n += !x->dead && x->conn;
    if (n > t->pcap) {
        struct pollfd *p = realloc(t->pfds, n * sizeof *p);
        if (p)
            t->pfds = p;
        mcp_http_client_exchange **q = realloc(t->pxs, n * sizeof *q);
        if (q)
            t->pxs = q;
        if (!p || !q)
            return MCP_ENOMEM;
        t->pcap = n;
    }
    size_t i = 0;
    bool buffered = false;
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || !x->conn)
            continue;
        t->pfds[i] = (struct pollfd){.fd = mcp_client_stream_fd(x->conn), .events = POLLIN};
        /* Decrypted bytes a TLS stream holds do not make its socket
         * readable: such an exchange is ready now, the poll only asks
         * about the others. */
        if (mcp_http_client_exchange_buffered(x)) {
            buffered = true;
            t->pfds[i].events = 0;
        }
        t->pxs[i++] = x;
    }
    int got = poll(i ? t->pfds : NULL, (nfds_t)i, buffered ? 0 : wait_ms);
    if (got < 0 || (got == 0 && !buffered))
        return 0;
    for (size_t k = 0; k < i; k++) {
        mcp_http_client_exchange *x = t->pxs[k];
        /* Handling one may have closed another (a resend reuses no connection of theirs). */
        if (x->dead || !x->conn || mcp_client_stream_fd(x->conn) != t->pfds[k].fd)
            continue;
        if (!t->pfds[k].events || (t->pfds[k].revents & (POLLIN | POLLHUP | POLLERR)))
            mcp_http_client_exchange_read(x);
    }
    return 0;
}

static int http_recv(mcp_client_transport *base, mcp_buf *msg, unsigned timeout_ms)
{
    mcp_http_client *t = (mcp_http_client *)base;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        if (t->in_head)
            return inbox_pop(t, msg);
        uint64_t now = mcp_now_ns();
        mcp_http_client_exchanges_run_due(t, now);
        mcp_http_client_exchanges_reap(t);
        if (t->in_head)
            continue;
        uint64_t until = deadline;
        for (mcp_http_client_exchange *x = t->xs; x; x = x->next)
            if (x->reconnect_at && x->reconnect_at < until)
                until = x->reconnect_at;
        int wait_ms = until > now ? (int)((until - now + 999999u) / 1000000u) : 0;
        int rc = poll_once(t, wait_ms);
        if (rc != 0)
            return rc;
        if (!t->in_head && mcp_now_ns() >= deadline)
            return MCP_ETIMEDOUT;
    }
}

/* ---- Closing --------------------------------------------------------------------------------- */

static void delete_session(mcp_http_client *t)
{
    mcp_http_client_exchange *x = mcp_http_client_exchange_new(t, MCP_HTTP_X_DELETE);
    if (!x)
        return;
    mcp_buf_appendf(&x->wire, "DELETE %s HTTP/1.1\r\n", t->url.path);
    mcp_http_common_headers_append(t, &x->wire, false);
    mcp_http_version_header_append(t, &x->wire);
    mcp_buf_append_cstr(&x->wire, "Content-Length: 0\r\n\r\n");
    if (mcp_http_client_exchange_start(x) != 0) {
        x->dead = true;
        return;
    }
    uint64_t deadline = mcp_now_ns() + (uint64_t)t->grace_ms * 1000000u;
    while (!x->dead && x->conn) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = mcp_client_stream_fd(x->conn), .events = POLLIN};
        if (mcp_http_client_exchange_buffered(x) || poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) > 0)
            mcp_http_client_exchange_read(x);
    }
    x->dead = true;
}

static void http_close(mcp_client_transport *base)
{
    mcp_http_client *t = (mcp_http_client *)base;
    /* Streams first: a session's DELETE ends them on the server anyway. */
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next) {
        mcp_http_client_exchange_drop_conn(x);
        x->dead = true;
    }
    mcp_http_client_exchanges_reap(t);
    if (t->session_id)
        delete_session(t);
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next)
        x->dead = true;
    mcp_http_client_exchanges_reap(t);
    mcp_http_pool_close(&t->pool);
    while (t->in_head) {
        mcp_http_inbox_item *it = t->in_head;
        t->in_head = it->next;
        free(it);
    }
    free(t->session_id);
    free(t->protocol_version);
    free(t->modern_version);
    free(t->pfds);
    free(t->pxs);
    mcp_http_tools_free(t->tools);
    mcp_oauth_free(t->oauth);
    mcp_http_url_release(&t->url);
    free(t);
}

/* ---- Public ------------------------------------------------------------------------------------- */

int mcp_connect_http(const char *url, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!url || !out)
        return MCP_EINVAL;
    mcp_http_client *t = calloc(1, sizeof *t);
    if (!t)
        return MCP_ENOMEM;
    int rc = mcp_http_url_parse(url, &t->url);
    if (rc == 0)
        rc = mcp_http_url_tls_init(&t->url, opts);
    if (rc != 0) {
        mcp_http_url_release(&t->url);
        free(t);
        return rc;
    }
    t->base.send = http_send;
    t->base.recv = http_recv;
    t->base.close = http_close;
    t->max_message = opts && opts->max_message_size ? opts->max_message_size : DEFAULT_MAX_MESSAGE;
    t->connect_timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    t->grace_ms = opts && opts->grace_ms ? opts->grace_ms : DEFAULT_GRACE_MS;
    t->max_resume = opts && opts->http_max_resume ? opts->http_max_resume : DEFAULT_MAX_RESUME;
    t->want_get_stream = opts && opts->http_get_stream;
    if (opts && opts->oauth && !(t->oauth = mcp_oauth_new(opts->oauth, url, opts))) {
        mcp_http_url_release(&t->url);
        free(t);
        return MCP_ENOMEM;
    }
    /* Reach the server once now, so that a wrong address fails here with
     * its reason rather than as the first request's error. */
    mcp_client_stream *conn = NULL;
    rc = mcp_http_dial(&t->url, t->connect_timeout_ms, &conn);
    if (rc != 0) {
        int saved = errno;
        mcp_oauth_free(t->oauth);
        mcp_http_url_release(&t->url);
        free(t);
        errno = saved;
        return rc;
    }
    t->stats.connections_opened++;
    mcp_http_pool_put(&t->pool, conn);
    *out = &t->base;
    return 0;
}

int mcp_http_client_stats_get(const mcp_client_transport *t, mcp_http_client_stats *out)
{
    if (!t || t->send != http_send)
        return MCP_EINVAL;
    *out = ((const mcp_http_client *)t)->stats;
    return 0;
}

const char *mcp_http_client_session_id(const mcp_client_transport *t)
{
    if (!t || t->send != http_send)
        return NULL;
    return ((const mcp_http_client *)t)->session_id;
}
