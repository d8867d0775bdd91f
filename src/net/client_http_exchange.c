/*
 * client_http_exchange.c — the responses of the Streamable HTTP client
 * transport: each exchange (a POST awaiting its JSON or SSE answer, a
 * resumption GET standing in for a POST whose stream broke, the session's
 * GET stream, the DELETE) is written, read as bytes arrive, and finished.
 *
 * A response that cannot arrive — an HTTP error status, a stream that ends
 * for good before its response — is turned into a JSON-RPC error response
 * for that request, so the caller sees it where it waits for the answer,
 * with the HTTP status in the message.
 *
 * A 401, or a 403 whose challenge says insufficient_scope, goes to the
 * OAuth client first when the transport has one: when it comes back with a
 * token the same request is written again, with the token, and the caller
 * never sees the refusal.
 */
#include "net/client_http_internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS 250u
#define BACKOFF_MAX_MS 4000u
#define READ_CHUNK 65536u
#define MAX_HEAD (64u * 1024u)

/* ---- Inbox ------------------------------------------------------------------------- */

static void inbox_push(mcp_http_client *t, const char *data, size_t len)
{
    mcp_http_inbox_item *it = malloc(sizeof *it + len + 1);
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

char *mcp_http_strndup(const char *s, size_t n)
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
static void fail_request(mcp_http_client_exchange *x, int code, const char *message, const mcp_json *data)
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
static void fail_with_status(mcp_http_client_exchange *x)
{
    mcp_http_client *t = x->t;
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
    if (r->status == 404 && t->session_id && x->kind == MCP_HTTP_X_POST) {
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

bool mcp_http_id_same(const mcp_json *id, const mcp_buf *want)
{
    mcp_str raw = mcp_json_raw(id);
    return id && raw.len == want->len && want->len && memcmp(raw.ptr, want->data, raw.len) == 0;
}

/* Note what the transport must learn from one message, then queue it. */
static void deliver(mcp_http_client_exchange *x, const char *data, size_t len)
{
    mcp_http_client *t = x->t;
    if (x->has_request) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        if (mcp_json_parse(&arena, data, len, NULL, &doc, NULL) == 0) {
            const mcp_json *items = mcp_json_is_array(doc) ? mcp_json_first(doc) : doc;
            for (const mcp_json *m = items; m; m = mcp_json_is_array(doc) ? mcp_json_next(m) : NULL) {
                if (mcp_json_get(m, "method") || !mcp_http_id_same(mcp_json_get(m, "id"), &x->id))
                    continue;
                x->got_reply = true;
                const mcp_json *v = mcp_json_get(mcp_json_get(m, "result"), "protocolVersion");
                if (x->is_initialize && mcp_json_is_string(v)) {
                    free(t->protocol_version);
                    t->protocol_version = mcp_http_strndup(mcp_json_str(v, ""), mcp_json_str_len(v));
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
    mcp_http_client_exchange *x = user;
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

mcp_http_client_exchange *mcp_http_client_exchange_new(mcp_http_client *t, mcp_http_client_exchange_kind kind)
{
    mcp_http_client_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->t = t;
    x->kind = kind;
    x->retry_ms = -1;
    mcp_buf_init(&x->id);
    mcp_buf_init(&x->wire);
    mcp_buf_init(&x->head);
    mcp_buf_init(&x->last_event_id);
    x->next = t->xs;
    t->xs = x;
    return x;
}

void mcp_http_client_exchange_drop_conn(mcp_http_client_exchange *x)
{
    mcp_client_stream_close(x->conn);
    x->conn = NULL;
    if (x->resp_live)
        mcp_http_response_free(&x->resp);
    x->resp_live = false;
}

static void exchange_free(mcp_http_client_exchange *x)
{
    mcp_http_client_exchange_drop_conn(x);
    mcp_buf_free(&x->id);
    mcp_buf_free(&x->wire);
    mcp_buf_free(&x->head);
    mcp_buf_free(&x->last_event_id);
    free(x);
}

void mcp_http_client_exchanges_reap(mcp_http_client *t)
{
    mcp_http_client_exchange **pp = &t->xs;
    while (*pp) {
        mcp_http_client_exchange *x = *pp;
        if (x->dead) {
            *pp = x->next;
            exchange_free(x);
        } else {
            pp = &x->next;
        }
    }
}

/* x->wire with the authorization lines (a token, a DPoP proof made for
 * this very write) after the request line. */
static int wire_with_token(mcp_http_client *t, const mcp_buf *wire, mcp_buf *out)
{
    const char *eol = memchr(wire->data, '\n', wire->len);
    size_t line = eol ? (size_t)(eol - wire->data) + 1 : wire->len;
    char method[16];
    size_t mlen = strcspn(wire->data, " ");
    snprintf(method, sizeof method, "%.*s", (int)(mlen < sizeof method ? mlen : sizeof method - 1), wire->data);
    mcp_buf_append(out, wire->data, line);
    int rc = mcp_oauth_headers_append(t->oauth, method, out);
    mcp_buf_append(out, wire->data + line, wire->len - line);
    return rc;
}

int mcp_http_client_exchange_start(mcp_http_client_exchange *x)
{
    mcp_http_client *t = x->t;
    mcp_http_client_exchange_drop_conn(x);
    int rc = mcp_http_response_init(&x->resp, t->max_message, on_sse_event, x);
    if (rc != 0)
        return rc;
    x->resp_live = true;
    x->head_seen = false;
    mcp_buf_reset(&x->head);
    bool token = mcp_oauth_token(t->oauth) != NULL;
    x->authed = token;
    mcp_buf authed;
    mcp_buf_init(&authed);
    if (token && (rc = wire_with_token(t, &x->wire, &authed)) != 0) {
        mcp_buf_free(&authed);
        return rc;
    }
    const mcp_buf *wire = token ? &authed : &x->wire;
    mcp_client_stream *conn = mcp_http_pool_take(&t->pool);
    x->reused = conn != NULL;
    for (int round = 0; round < 2; round++) {
        if (!conn) {
            rc = mcp_http_dial(&t->url, t->connect_timeout_ms, &conn);
            if (rc != 0)
                break;
            t->stats.connections_opened++;
            x->reused = false;
        } else {
            t->stats.connections_reused++;
        }
        rc = mcp_client_stream_write(conn, wire->data, wire->len, t->connect_timeout_ms);
        if (rc == 0) {
            x->conn = conn;
            break;
        }
        mcp_client_stream_close(conn);
        conn = NULL;
        if (!x->reused)
            break;
    }
    mcp_buf_free(&authed);
    return rc;
}

void mcp_http_common_headers_append(mcp_http_client *t, mcp_buf *w, bool modern)
{
    mcp_buf_appendf(w, "Host: %s\r\nUser-Agent: mcpd/" MCP_VERSION_STRING "\r\n", t->url.authority);
    if (!modern && t->session_id)
        mcp_buf_appendf(w, "Mcp-Session-Id: %s\r\n", t->session_id);
}

void mcp_http_version_header_append(mcp_http_client *t, mcp_buf *w)
{
    if (t->protocol_version && strcmp(t->protocol_version, "2025-06-18") >= 0)
        mcp_buf_appendf(w, "MCP-Protocol-Version: %s\r\n", t->protocol_version);
}

int mcp_http_client_exchange_get(mcp_http_client *t, mcp_http_client_exchange *x)
{
    mcp_buf_reset(&x->wire);
    mcp_buf_appendf(&x->wire, "GET %s HTTP/1.1\r\n", t->url.path);
    mcp_http_common_headers_append(t, &x->wire, false);
    mcp_http_version_header_append(t, &x->wire);
    mcp_buf_append_cstr(&x->wire, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
    if (x->last_event_id.len)
        mcp_buf_appendf(&x->wire, "Last-Event-ID: %s\r\n", x->last_event_id.data);
    mcp_buf_append_cstr(&x->wire, "\r\n");
    if (x->kind == MCP_HTTP_X_RESUME)
        t->stats.resumptions++;
    else
        t->stats.get_streams++;
    return mcp_http_client_exchange_start(x);
}

void mcp_http_stream_over(mcp_http_client_exchange *x, const char *why)
{
    mcp_http_client *t = x->t;
    mcp_http_client_exchange_drop_conn(x);
    bool owes = x->has_request && !x->got_reply;
    bool resumable = x->last_event_id.len > 0 && t->session_id;
    if ((owes && resumable) || (x->kind == MCP_HTTP_X_GET && !t->get_refused)) {
        if (x->attempts < t->max_resume) {
            unsigned delay = x->retry_ms >= 0 ? (unsigned)x->retry_ms
                                              : BACKOFF_FIRST_MS << (x->attempts < 4 ? x->attempts : 4);
            if (x->retry_ms < 0 && delay > BACKOFF_MAX_MS)
                delay = BACKOFF_MAX_MS;
            x->attempts++;
            if (x->kind == MCP_HTTP_X_POST)
                x->kind = MCP_HTTP_X_RESUME;
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

/* Hand the connection of a finished response back (or close it). */
static void release_conn(mcp_http_client_exchange *x)
{
    mcp_http_response *r = &x->resp;
    mcp_client_stream *conn = x->conn;
    x->conn = NULL;
    if (conn && r->keep_alive && r->done)
        mcp_http_pool_put(&x->t->pool, conn);
    else
        mcp_client_stream_close(conn);
}

/* A 401 or 403 on a POST or a GET (a token that expired while a stream
 * was resumed): authorize and send the same request again. false when the
 * transport does not authorize (the status then fails the request). */
static bool answer_challenge(mcp_http_client_exchange *x)
{
    mcp_http_client *t = x->t;
    mcp_http_response *r = &x->resp;
    if (!t->oauth || x->kind == MCP_HTTP_X_DELETE || (r->status != 401 && r->status != 403))
        return false;
    int status = r->status;
    release_conn(x);
    char why[600];
    int rc = mcp_oauth_on_challenge(t->oauth, status, x->head.data ? x->head.data : "", x->head.len, why, sizeof why);
    if (rc == 0) {
        x->resent = false;
        if (mcp_http_client_exchange_start(x) == 0)
            return true;
        snprintf(why, sizeof why, "sending the request again with the new token failed");
    }
    t->stats.http_errors++;
    char message[768];
    snprintf(message, sizeof message, "HTTP %d: authorization failed: %s", status, why);
    fail_request(x, -32000, message, NULL);
    if (x->kind == MCP_HTTP_X_GET)
        t->get_refused = true;
    mcp_http_client_exchange_drop_conn(x);
    x->dead = true;
    return true;
}

/* The whole HTTP response of x has arrived. */
static void exchange_complete(mcp_http_client_exchange *x)
{
    mcp_http_client *t = x->t;
    mcp_http_response *r = &x->resp;
    if (answer_challenge(x))
        return;
    if (x->authed && r->status < 300)
        mcp_oauth_on_success(t->oauth);
    if (r->status >= 400 || (x->kind == MCP_HTTP_X_GET && !r->is_sse)) {
        if (x->kind == MCP_HTTP_X_GET)
            t->get_refused = true;
        else if (x->has_request)
            fail_with_status(x);
        else
            t->stats.http_errors++;
    } else if (x->kind == MCP_HTTP_X_DELETE) {
        t->stats.deletes++;
    } else if (!r->is_sse && r->body.len > 0 && x->kind == MCP_HTTP_X_POST) {
        deliver(x, r->body.data, r->body.len);
    }
    release_conn(x);
    if (r->is_sse || x->kind == MCP_HTTP_X_GET) {
        mcp_http_stream_over(x, "the server ended it");
        return;
    }
    if (x->has_request && !x->got_reply) {
        char message[96];
        snprintf(message, sizeof message, "HTTP %d without the response", r->status);
        fail_request(x, -32000, message, NULL);
    }
    x->dead = true;
}

static void exchange_on_head(mcp_http_client_exchange *x)
{
    mcp_http_client *t = x->t;
    mcp_http_response *r = &x->resp;
    x->head_seen = true;
    if (r->is_sse && x->kind == MCP_HTTP_X_POST)
        t->stats.sse_responses++;
    if (x->is_initialize && r->session_id.len && r->status < 300) {
        free(t->session_id);
        t->session_id = mcp_http_strndup(r->session_id.data, r->session_id.len);
    }
}

bool mcp_http_client_exchange_buffered(const mcp_http_client_exchange *x)
{
    return x->conn && mcp_client_stream_buffered(x->conn);
}

void mcp_http_client_exchange_read(mcp_http_client_exchange *x)
{
    char chunk[READ_CHUNK];
    size_t got = 0;
    /* Without waiting: the caller polled. A wake-up with nothing whole to
     * read (part of a TLS record) leaves it to the next poll. */
    int read_rc = mcp_client_stream_read(x->conn, chunk, sizeof chunk, 0, &got);
    if (read_rc == MCP_ETIMEDOUT)
        return;
    /* MCP_ECLOSED or MCP_EIO: the end of the connection, fed as such. */
    ssize_t n = read_rc == 0 ? (ssize_t)got : 0;
    mcp_http_response *r = &x->resp;
    /* Keep the raw head while it arrives: the framing keeps only the
     * headers the transport reads, not an authorization challenge. */
    if (n > 0 && !r->head_done && x->head.len < MAX_HEAD)
        mcp_buf_append(&x->head, chunk, (size_t)n < MAX_HEAD - x->head.len ? (size_t)n : MAX_HEAD - x->head.len);
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
        mcp_http_client_exchange_drop_conn(x);
        x->dead = true;
        return;
    }
    if (rc == 0 && n > 0)
        return;
    /* The connection ended (or broke) before the response did. */
    if (!r->bytes_seen && x->reused && !x->resent && x->wire.len) {
        /* An idle connection the server had closed: send again, once. */
        x->resent = true;
        if (mcp_http_client_exchange_start(x) == 0)
            return;
    }
    if (r->head_done && r->is_sse) {
        mcp_http_stream_over(x, "the connection closed");
        return;
    }
    if (x->kind == MCP_HTTP_X_RESUME || x->kind == MCP_HTTP_X_GET) {
        mcp_http_stream_over(x, "the resumption request failed");
        return;
    }
    fail_request(x, -32000,
                 rc == MCP_EPARSE ? "malformed HTTP response" : "the connection closed before the response", NULL);
    mcp_http_client_exchange_drop_conn(x);
    x->dead = true;
}

void mcp_http_client_exchanges_run_due(mcp_http_client *t, uint64_t now)
{
    for (mcp_http_client_exchange *x = t->xs; x; x = x->next) {
        if (x->dead || !x->reconnect_at || x->reconnect_at > now)
            continue;
        x->reconnect_at = 0;
        if (mcp_http_client_exchange_get(t, x) != 0)
            mcp_http_stream_over(x, "reconnecting failed");
    }
}
