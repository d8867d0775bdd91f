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
 * A response that cannot arrive — an HTTP error status, a stream that ends
 * for good before its response — is turned into a JSON-RPC error response
 * for that request, so the caller sees it where it waits for the answer,
 * with the HTTP status in the message.
 */
#include "net/client_http_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_GRACE_MS 2000u
#define DEFAULT_MAX_RESUME 5u
#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 4000u
#define READ_CHUNK 65536u

typedef enum exchange_kind { X_POST = 0, X_RESUME, X_GET, X_DELETE } exchange_kind;

typedef struct http_transport http_transport;

typedef struct http_exchange {
    struct http_exchange *next;
    http_transport *t;
    exchange_kind kind;
    int fd;
    bool reused;          /* fd came from the idle set: it may have died unseen */
    bool resent;
    bool dead;            /* finished: freed by the next reap */
    bool head_seen;
    bool has_request;     /* a request: the stream owes its response */
    bool is_initialize;
    bool is_tools_list;
    bool got_reply;
    mcp_buf id;           /* JSON text of the request id */
    mcp_buf wire;         /* the HTTP request as sent, for one resend */
    mcp_http_response resp;
    bool resp_live;
    mcp_buf last_event_id;
    long retry_ms;        /* the server's retry: field, or -1 */
    unsigned attempts;    /* reconnections so far */
    uint64_t reconnect_at; /* 0: none scheduled */
} http_exchange;

typedef struct inbox_item {
    struct inbox_item *next;
    size_t len;
    char data[];
} inbox_item;

struct http_transport {
    mcp_client_transport base;
    mcp_http_url url;
    size_t max_message;
    unsigned connect_timeout_ms;
    unsigned grace_ms;
    unsigned max_resume;
    bool want_get_stream;
    mcp_http_pool pool;
    http_exchange *xs;
    inbox_item *in_head, *in_tail;
    char *session_id;
    char *protocol_version;  /* handshake era, once negotiated */
    char *modern_version;    /* the version of the last modern-era request, or NULL */
    bool get_refused;        /* the server answered the GET stream with an error */
    mcp_http_tools *tools;   /* input schemas from tools/list, for Mcp-Param-* */
    mcp_http_client_stats stats;
    struct pollfd *pfds;
    http_exchange **pxs;
    size_t pcap;
};

static int http_send(mcp_client_transport *base, const char *message, size_t len);

/* ---- Inbox ------------------------------------------------------------------------- */

static void inbox_push(http_transport *t, const char *data, size_t len)
{
    inbox_item *it = malloc(sizeof *it + len + 1);
    if (!it)
        return;
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    it->data[len] = '\0';
    if (t->in_tail)
        t->in_tail->next = it;
    else
        t->in_head = it;
    t->in_tail = it;
}

static char *dup_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* ---- Synthesized errors ------------------------------------------------------------------- */

/* A JSON-RPC error response for the request of x. data_json may be NULL. */
static void fail_request(http_exchange *x, int code, const char *message, const mcp_json *data)
{
    if (!x->has_request || x->got_reply)
        return;
    x->got_reply = true;
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "jsonrpc");
    mcp_json_write_cstr(&w, "2.0");
    mcp_json_write_key(&w, "id");
    mcp_json_write_raw(&w, x->id.data, x->id.len);
    mcp_json_write_key(&w, "error");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "code");
    mcp_json_write_int(&w, code);
    mcp_json_write_key(&w, "message");
    mcp_json_write_cstr(&w, message);
    if (data) {
        mcp_json_write_key(&w, "data");
        mcp_json_write_value(&w, data);
    }
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) == 0)
        inbox_push(x->t, out.data, out.len);
    mcp_buf_free(&out);
}

/* An HTTP status of 400 or more on the request of x: keep the server's
 * JSON-RPC error (code, message, data) when the body has one. */
static void fail_with_status(http_exchange *x)
{
    http_transport *t = x->t;
    mcp_http_response *r = &x->resp;
    t->stats.http_errors++;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    const mcp_json *err = NULL;
    if (r->body.len && mcp_json_parse(&arena, r->body.data, r->body.len, NULL, &doc, NULL) == 0)
        err = mcp_json_get(doc, "error");
    int code = -32000;
    const char *what = mcp_http_reason(r->status);
    char text[512];
    if (mcp_json_is_object(err)) {
        code = (int)mcp_json_int(mcp_json_get(err, "code"), -32000);
        what = mcp_json_str(mcp_json_get(err, "message"), what);
    } else if (r->body.len && r->body.len < 200 && !memchr(r->body.data, '\0', r->body.len)) {
        snprintf(text, sizeof text, "%.*s", (int)strcspn(r->body.data, "\r\n"), r->body.data);
        if (text[0])
            what = text;
    }
    char message[768];
    if (r->status == 404 && t->session_id && x->kind == X_POST) {
        snprintf(message, sizeof message,
                 "HTTP 404: %s: the server no longer knows session %s (it ended or expired); a new "
                 "initialize is needed",
                 what, t->session_id);
        /* The next initialize starts a new session. */
        free(t->session_id);
        free(t->protocol_version);
        t->session_id = t->protocol_version = NULL;
    } else {
        snprintf(message, sizeof message, "HTTP %d: %s", r->status, what);
    }
    fail_request(x, code, message, mcp_json_is_object(err) ? mcp_json_get(err, "data") : NULL);
    mcp_arena_free(&arena);
}

/* ---- Incoming messages ---------------------------------------------------------------------- */

static bool same_id(const mcp_json *id, const mcp_buf *want)
{
    mcp_str raw = mcp_json_raw(id);
    return id && raw.len == want->len && want->len && memcmp(raw.ptr, want->data, raw.len) == 0;
}

/* Note what the transport must learn from one message, then queue it. */
static void deliver(http_exchange *x, const char *data, size_t len)
{
    http_transport *t = x->t;
    if (x->has_request) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        if (mcp_json_parse(&arena, data, len, NULL, &doc, NULL) == 0) {
            const mcp_json *items = mcp_json_is_array(doc) ? mcp_json_first(doc) : doc;
            for (const mcp_json *m = items; m; m = mcp_json_is_array(doc) ? mcp_json_next(m) : NULL) {
                if (mcp_json_get(m, "method") || !same_id(mcp_json_get(m, "id"), &x->id))
                    continue;
                x->got_reply = true;
                const mcp_json *v = mcp_json_get(mcp_json_get(m, "result"), "protocolVersion");
                if (x->is_initialize && mcp_json_is_string(v)) {
                    free(t->protocol_version);
                    t->protocol_version = dup_n(mcp_json_str(v, ""), mcp_json_str_len(v));
                }
                if (x->is_tools_list)
                    mcp_http_tools_learn(&t->tools, mcp_json_get(m, "result"));
            }
        }
        mcp_arena_free(&arena);
    }
    inbox_push(t, data, len);
}

static void on_sse_event(void *user, const char *id, const char *event, const char *data, size_t len)
{
    http_exchange *x = user;
    if (id) {
        mcp_buf_reset(&x->last_event_id);
        mcp_buf_append_cstr(&x->last_event_id, id);
    }
    /* Priming events (an id and empty data) only make the stream resumable. */
    size_t blank = 0;
    while (blank < len && (data[blank] == ' ' || data[blank] == '\t' || data[blank] == '\n'))
        blank++;
    if (blank == len || strcmp(event, "message") != 0)
        return;
    deliver(x, data, len);
}

/* ---- Exchanges -------------------------------------------------------------------------------- */

static http_exchange *exchange_new(http_transport *t, exchange_kind kind)
{
    http_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->t = t;
    x->kind = kind;
    x->fd = -1;
    x->retry_ms = -1;
    mcp_buf_init(&x->id);
    mcp_buf_init(&x->wire);
    mcp_buf_init(&x->last_event_id);
    x->next = t->xs;
    t->xs = x;
    return x;
}

static void exchange_drop_fd(http_exchange *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    if (x->resp_live)
        mcp_http_response_free(&x->resp);
    x->resp_live = false;
}

static void exchange_free(http_exchange *x)
{
    exchange_drop_fd(x);
    mcp_buf_free(&x->id);
    mcp_buf_free(&x->wire);
    mcp_buf_free(&x->last_event_id);
    free(x);
}

static void reap(http_transport *t)
{
    http_exchange **pp = &t->xs;
    while (*pp) {
        http_exchange *x = *pp;
        if (x->dead) {
            *pp = x->next;
            exchange_free(x);
        } else {
            pp = &x->next;
        }
    }
}

/* Write x->wire on a connection (an idle one when there is one) and get
 * ready to read the response. */
static int exchange_start(http_exchange *x)
{
    http_transport *t = x->t;
    exchange_drop_fd(x);
    int rc = mcp_http_response_init(&x->resp, t->max_message, on_sse_event, x);
    if (rc != 0)
        return rc;
    x->resp_live = true;
    x->head_seen = false;
    int fd = mcp_http_pool_take(&t->pool);
    x->reused = fd >= 0;
    for (int round = 0; round < 2; round++) {
        if (fd < 0) {
            rc = mcp_http_dial(&t->url, t->connect_timeout_ms, &fd);
            if (rc != 0)
                return rc;
            t->stats.connections_opened++;
            x->reused = false;
        } else {
            t->stats.connections_reused++;
        }
        rc = mcp_http_write_all(fd, x->wire.data, x->wire.len, t->connect_timeout_ms);
        if (rc == 0) {
            x->fd = fd;
            return 0;
        }
        close(fd);
        fd = -1;
        if (!x->reused)
            break;
    }
    return rc;
}

static void append_common_headers(http_transport *t, mcp_buf *w, bool modern)
{
    mcp_buf_appendf(w, "Host: %s\r\nUser-Agent: mcpd/" MCP_VERSION_STRING "\r\n", t->url.authority);
    if (!modern && t->session_id)
        mcp_buf_appendf(w, "Mcp-Session-Id: %s\r\n", t->session_id);
}

/* The handshake era's header: defined from 2025-06-18 on. */
static void append_handshake_version(http_transport *t, mcp_buf *w)
{
    if (t->protocol_version && strcmp(t->protocol_version, "2025-06-18") >= 0)
        mcp_buf_appendf(w, "MCP-Protocol-Version: %s\r\n", t->protocol_version);
}

static int start_get(http_transport *t, http_exchange *x)
{
    mcp_buf_reset(&x->wire);
    mcp_buf_appendf(&x->wire, "GET %s HTTP/1.1\r\n", t->url.path);
    append_common_headers(t, &x->wire, false);
    append_handshake_version(t, &x->wire);
    mcp_buf_append_cstr(&x->wire, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
    if (x->last_event_id.len)
        mcp_buf_appendf(&x->wire, "Last-Event-ID: %s\r\n", x->last_event_id.data);
    mcp_buf_append_cstr(&x->wire, "\r\n");
    if (x->kind == X_RESUME)
        t->stats.resumptions++;
    else
        t->stats.get_streams++;
    return exchange_start(x);
}

/* The stream of x ended, or never started: resume it later, or give up. */
static void stream_over(http_exchange *x, const char *why)
{
    http_transport *t = x->t;
    exchange_drop_fd(x);
    bool owes = x->has_request && !x->got_reply;
    bool resumable = x->last_event_id.len > 0 && t->session_id;
    if ((owes && resumable) || (x->kind == X_GET && !t->get_refused)) {
        if (x->attempts < t->max_resume) {
            unsigned delay = x->retry_ms >= 0 ? (unsigned)x->retry_ms
                                              : BACKOFF_FIRST_MS << (x->attempts < 4 ? x->attempts : 4);
            if (x->retry_ms < 0 && delay > BACKOFF_MAX_MS)
                delay = BACKOFF_MAX_MS;
            x->attempts++;
            if (x->kind == X_POST)
                x->kind = X_RESUME;
            x->reconnect_at = mcp_now_ns() + (uint64_t)delay * 1000000u;
            return;
        }
    }
    if (owes) {
        char message[300];
        snprintf(message, sizeof message, "the response stream ended before the response arrived: %s%s", why,
                 !resumable ? " (not resumable: no event id or no session)"
                            : " (resumption attempts exhausted)");
        fail_request(x, -32000, message, NULL);
    }
    x->dead = true;
}

/* The whole HTTP response of x has arrived. */
static void exchange_complete(http_exchange *x)
{
    http_transport *t = x->t;
    mcp_http_response *r = &x->resp;
    if (r->status >= 400 || (x->kind == X_GET && !r->is_sse)) {
        if (x->kind == X_GET)
            t->get_refused = true;
        else if (x->has_request)
            fail_with_status(x);
        else
            t->stats.http_errors++;
    } else if (x->kind == X_DELETE) {
        t->stats.deletes++;
    } else if (!r->is_sse && r->body.len > 0 && x->kind == X_POST) {
        deliver(x, r->body.data, r->body.len);
    }
    bool keep = r->keep_alive && r->done;
    int fd = x->fd;
    x->fd = -1;
    if (keep && fd >= 0)
        mcp_http_pool_put(&t->pool, fd);
    else if (fd >= 0)
        close(fd);
    if (r->is_sse || x->kind == X_GET) {
        stream_over(x, "the server ended it");
        return;
    }
    if (x->has_request && !x->got_reply) {
        char message[96];
        snprintf(message, sizeof message, "HTTP %d without the response", r->status);
        fail_request(x, -32000, message, NULL);
    }
    x->dead = true;
}

static void exchange_on_head(http_exchange *x)
{
    http_transport *t = x->t;
    mcp_http_response *r = &x->resp;
    x->head_seen = true;
    if (r->is_sse && x->kind == X_POST)
        t->stats.sse_responses++;
    if (x->is_initialize && r->session_id.len && r->status < 300) {
        free(t->session_id);
        t->session_id = dup_n(r->session_id.data, r->session_id.len);
    }
}

/* Read what is there for x. */
static void exchange_read(http_exchange *x)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(x->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    mcp_http_response *r = &x->resp;
    int rc = n > 0 ? mcp_http_response_feed(r, chunk, (size_t)n) : mcp_http_response_feed(r, NULL, 0);
    if (r->sse.retry_ms >= 0)
        x->retry_ms = r->sse.retry_ms;
    if (r->head_done && !x->head_seen)
        exchange_on_head(x);
    if (r->done) {
        exchange_complete(x);
        return;
    }
    if (rc == MCP_ELIMIT) {
        fail_request(x, -32000, "the response is over the message size limit", NULL);
        exchange_drop_fd(x);
        x->dead = true;
        return;
    }
    if (rc == 0 && n > 0)
        return;
    /* The connection ended (or broke) before the response did. */
    if (!r->bytes_seen && x->reused && !x->resent && x->wire.len) {
        /* An idle connection the server had closed: send again, once. */
        x->resent = true;
        if (exchange_start(x) == 0)
            return;
    }
    if (r->head_done && r->is_sse) {
        stream_over(x, "the connection closed");
        return;
    }
    if (x->kind == X_RESUME || x->kind == X_GET) {
        stream_over(x, "the resumption request failed");
        return;
    }
    fail_request(x, -32000,
                 rc == MCP_EPARSE ? "malformed HTTP response" : "the connection closed before the response", NULL);
    exchange_drop_fd(x);
    x->dead = true;
}

/* Reconnections whose time has come. */
static void run_due(http_transport *t, uint64_t now)
{
    for (http_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || !x->reconnect_at || x->reconnect_at > now)
            continue;
        x->reconnect_at = 0;
        if (start_get(t, x) != 0)
            stream_over(x, "reconnecting failed");
    }
}

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
static int append_param_headers(http_transport *t, mcp_buf *w, const mcp_json *name, const mcp_json *arguments)
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
static void cancel_stream(http_transport *t, const mcp_json *params)
{
    const mcp_json *id = mcp_json_get(params, "requestId");
    for (http_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || !x->has_request || !same_id(id, &x->id))
            continue;
        t->stats.streams_cancelled += x->fd >= 0;
        exchange_drop_fd(x);
        x->got_reply = true;
        x->dead = true;
    }
}

static void open_get_stream(http_transport *t)
{
    if (!t->want_get_stream || !t->session_id || t->get_refused)
        return;
    for (http_exchange *x = t->xs; x; x = x->next)
        if (x->kind == X_GET && !x->dead)
            return;
    http_exchange *x = exchange_new(t, X_GET);
    if (x && start_get(t, x) != 0)
        stream_over(x, "opening it failed");
}

static int http_send(mcp_client_transport *base, const char *message, size_t len)
{
    http_transport *t = (http_transport *)base;
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
        t->modern_version = modern ? dup_n(mcp_json_str(pv, ""), mcp_json_str_len(pv)) : NULL;
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
            reap(t);
            mcp_arena_free(&arena);
            return 0;
        }
    }
    reap(t);
    http_exchange *x = exchange_new(t, X_POST);
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
    append_common_headers(t, w, modern);
    mcp_buf_append_cstr(w, "Accept: application/json, text/event-stream\r\n"
                           "Content-Type: application/json\r\n");
    if (modern && version) {
        mcp_buf_appendf(w, "MCP-Protocol-Version: %s\r\n", version);
    } else if (modern) {
        mcp_buf_append_cstr(w, "MCP-Protocol-Version: ");
        mcp_buf_append(w, mcp_json_str(pv, ""), mcp_json_str_len(pv));
        mcp_buf_append_cstr(w, "\r\n");
    } else if (!x->is_initialize) {
        append_handshake_version(t, w);
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
    int rc = exchange_start(x);
    if (rc != 0) {
        x->dead = true;
        return rc;
    }
    if (initialized)
        open_get_stream(t);
    return 0;
}

/* ---- Receiving --------------------------------------------------------------------------------- */

static int inbox_pop(http_transport *t, mcp_buf *msg)
{
    inbox_item *it = t->in_head;
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

static int poll_once(http_transport *t, int wait_ms)
{
    size_t n = 0;
    for (http_exchange *x = t->xs; x; x = x->next)
        n += !x->dead && x->fd >= 0;
    if (n > t->pcap) {
        struct pollfd *p = realloc(t->pfds, n * sizeof *p);
        if (p)
            t->pfds = p;
        http_exchange **q = realloc(t->pxs, n * sizeof *q);
        if (q)
            t->pxs = q;
        if (!p || !q)
            return MCP_ENOMEM;
        t->pcap = n;
    }
    size_t i = 0;
    for (http_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || x->fd < 0)
            continue;
        t->pfds[i] = (struct pollfd){.fd = x->fd, .events = POLLIN};
        t->pxs[i++] = x;
    }
    int got = poll(i ? t->pfds : NULL, (nfds_t)i, wait_ms);
    if (got <= 0)
        return 0;
    for (size_t k = 0; k < i; k++) {
        http_exchange *x = t->pxs[k];
        /* Handling one may have closed another (a resend reuses no fd of theirs). */
        if (!x->dead && x->fd == t->pfds[k].fd && (t->pfds[k].revents & (POLLIN | POLLHUP | POLLERR)))
            exchange_read(x);
    }
    return 0;
}

static int http_recv(mcp_client_transport *base, mcp_buf *msg, unsigned timeout_ms)
{
    http_transport *t = (http_transport *)base;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        if (t->in_head)
            return inbox_pop(t, msg);
        uint64_t now = mcp_now_ns();
        run_due(t, now);
        reap(t);
        if (t->in_head)
            continue;
        uint64_t until = deadline;
        for (http_exchange *x = t->xs; x; x = x->next)
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

static void delete_session(http_transport *t)
{
    http_exchange *x = exchange_new(t, X_DELETE);
    if (!x)
        return;
    mcp_buf_appendf(&x->wire, "DELETE %s HTTP/1.1\r\n", t->url.path);
    append_common_headers(t, &x->wire, false);
    append_handshake_version(t, &x->wire);
    mcp_buf_append_cstr(&x->wire, "Content-Length: 0\r\n\r\n");
    if (exchange_start(x) != 0) {
        x->dead = true;
        return;
    }
    uint64_t deadline = mcp_now_ns() + (uint64_t)t->grace_ms * 1000000u;
    while (!x->dead && x->fd >= 0) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = x->fd, .events = POLLIN};
        if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) > 0)
            exchange_read(x);
    }
    x->dead = true;
}

static void http_close(mcp_client_transport *base)
{
    http_transport *t = (http_transport *)base;
    /* Streams first: a session's DELETE ends them on the server anyway. */
    for (http_exchange *x = t->xs; x; x = x->next) {
        exchange_drop_fd(x);
        x->dead = true;
    }
    reap(t);
    if (t->session_id)
        delete_session(t);
    for (http_exchange *x = t->xs; x; x = x->next)
        x->dead = true;
    reap(t);
    mcp_http_pool_close(&t->pool);
    while (t->in_head) {
        inbox_item *it = t->in_head;
        t->in_head = it->next;
        free(it);
    }
    free(t->session_id);
    free(t->protocol_version);
    free(t->modern_version);
    free(t->pfds);
    free(t->pxs);
    mcp_http_tools_free(t->tools);
    free(t);
}

/* ---- Public ------------------------------------------------------------------------------------- */

int mcp_connect_http(const char *url, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!url || !out)
        return MCP_EINVAL;
    http_transport *t = calloc(1, sizeof *t);
    if (!t)
        return MCP_ENOMEM;
    int rc = mcp_http_url_parse(url, &t->url);
    if (rc != 0) {
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
    /* Reach the server once now, so that a wrong address fails here with
     * its reason rather than as the first request's error. */
    int fd;
    rc = mcp_http_dial(&t->url, t->connect_timeout_ms, &fd);
    if (rc != 0) {
        int saved = errno;
        free(t);
        errno = saved;
        return rc;
    }
    t->stats.connections_opened++;
    mcp_http_pool_put(&t->pool, fd);
    *out = &t->base;
    return 0;
}

int mcp_http_client_stats_get(const mcp_client_transport *t, mcp_http_client_stats *out)
{
    if (!t || t->send != http_send)
        return MCP_EINVAL;
    *out = ((const http_transport *)t)->stats;
    return 0;
}

const char *mcp_http_client_session_id(const mcp_client_transport *t)
{
    if (!t || t->send != http_send)
        return NULL;
    return ((const http_transport *)t)->session_id;
}
