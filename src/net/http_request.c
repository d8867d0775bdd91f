/*
 * Answering one HTTP request on the MCP endpoint: the checks the transport
 * pages ask for, in the order that gives the most useful error, then the
 * hand-over of the body to an mcp_session.
 *
 *  1. Path (404), Host and Origin (403, DNS-rebinding protection).
 *  2. Method: POST, GET (handshake era only; 405 when disabled), DELETE.
 *  3. POST: Accept (406), Content-Type (415), MCP-Protocol-Version
 *     (400 with UnsupportedProtocolVersion when we do not speak it).
 *  4. The era comes from MCP-Protocol-Version: 2026-07-28 is the modern,
 *     stateless era, where Mcp-Method, Mcp-Name and the body's _meta
 *     version must agree with the headers (400, HeaderMismatch -32020);
 *     anything else is the handshake era, where initialize mints an
 *     Mcp-Session-Id and every later request must carry a live one
 *     (missing 400, unknown 404).
 *
 * A modern-era body is parsed once, by the connection's session
 * (mcp_session_parse): the checks read that parse, and the session runs it.
 * A handshake-era body is parsed here lazily (params stay raw unless a check
 * needs them) before its session is known, and the session parses the text
 * again to run it.
 *
 * A note on HeaderMismatch: the schema of 2026-07-28 gives it -32020 (and
 * mcp.h follows), while one paragraph of the draft transport page still
 * says -32001. We send -32020.
 */
#include "net/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALLOW_ALL "Allow: GET, POST, DELETE\r\n"
#define ALLOW_NO_GET "Allow: POST, DELETE\r\n"

static const mcp_str NO_ID = {NULL, 0};

/* A slice equal to a string literal: the length is known at compile time,
 * so no strlen runs per request. */
#define STR_IS(s, lit) ((s).len == sizeof(lit) - 1 && memcmp((s).ptr, lit, sizeof(lit) - 1) == 0)

/* ---- Header values ----------------------------------------------------------------- */
static bool token_eq(const char *p, size_t len, const char *want) {
    return strlen(want) == len && strncasecmp(p, want, len) == 0;
}

/* Which of our two media types does Accept admit? No header admits both. */
static void accept_types(mcp_str accept, bool *json, bool *sse) {
    *json = *sse = false;
    /* Absent, or what the SDKs send on every POST: both, without a scan. */
    if (!accept.ptr || STR_IS(accept, "application/json, text/event-stream") ||
        STR_IS(accept, "text/event-stream, application/json")) {
        *json = *sse = true;
        return;
    }
    const char *p = accept.ptr, *end = accept.ptr + accept.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *semi = memchr(p, ';', (size_t)(item_end - p));
        const char *type_end = semi ? semi : item_end;
        while (p < type_end && (*p == ' ' || *p == '\t')) p++;
        const char *t = type_end;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t n = (size_t)(t - p);
        bool refused = semi && memmem(semi, (size_t)(item_end - semi), "q=0", 3) &&
                       !memmem(semi, (size_t)(item_end - semi), "q=0.", 4);
        if (!refused) {
            if (token_eq(p, n, "*/*")) *json = *sse = true;
            else if (token_eq(p, n, "application/json") || token_eq(p, n, "application/*")) *json = true;
            else if (token_eq(p, n, "text/event-stream") || token_eq(p, n, "text/*")) *sse = true;
        }
        p = comma ? comma + 1 : end;
    }
}

static bool content_type_is_json(mcp_str ct) {
    static const char want[] = "application/json";
    size_t n = sizeof want - 1;
    if (!ct.ptr || ct.len < n || strncasecmp(ct.ptr, want, n) != 0) return false;
    return ct.len == n || ct.ptr[n] == ';' || ct.ptr[n] == ' ' || ct.ptr[n] == '\t';
}

static bool version_supported(mcp_str v) {
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        if (mcp_str_eq_cstr(v, mcp_protocol_versions[i])) return true;
    return false;
}

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Mcp-Name may carry "=?base64?…?=" for values that are not plain ASCII. */
static bool header_value_decode(mcp_arena *arena, mcp_str in, mcp_str *out) {
    static const char pre[] = "=?base64?", post[] = "?=";
    if (in.len < 11 || memcmp(in.ptr, pre, 9) != 0 || memcmp(in.ptr + in.len - 2, post, 2) != 0) {
        *out = in;
        return true;
    }
    const char *p = in.ptr + 9;
    size_t n = in.len - 11;
    char *dst = mcp_arena_alloc(arena, n + 1);
    if (!dst) return false;
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '=') break;
        int v = base64_value(p[i]);
        if (v < 0) return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    *out = (mcp_str){dst, len};
    return true;
}

static bool json_string_eq(const mcp_json *v, mcp_str s) {
    if (!mcp_json_is_string(v)) return false;
    return mcp_json_str_len(v) == s.len && memcmp(mcp_json_str(v, ""), s.ptr, s.len) == 0;
}

static void copy_json_text(mcp_buf *to, mcp_str text) {
    mcp_buf_reset(to);
    if (text.len) mcp_buf_append(to, text.ptr, text.len);
}

static mcp_json *params_of(mcp_http_conn *conn, const mcp_rpc_message *m) {
    return m->params ? mcp_json_expand(&conn->arena, m->params) : NULL;
}

static void progress_token_of(mcp_http_exchange *x, const mcp_json *params) {
    mcp_json *token = mcp_json_get(mcp_json_get(params, "_meta"), "progressToken");
    if (token) copy_json_text(&x->token, mcp_json_raw(token));
}

/* What the modern checks read of params and params._meta, found in one
 * pass over each (the last of duplicate members wins, as with
 * mcp_json_get): this runs for every request. */
typedef struct modern_fields {
    const mcp_json *meta, *name, *uri, *arguments, *task_id;
    const mcp_json *version, *client_caps, *progress_token;
} modern_fields;

#define KEY_IS(k, lit) ((k).len == sizeof(lit) - 1 && memcmp((k).ptr, lit, sizeof(lit) - 1) == 0)

static void modern_fields_of(const mcp_json *params, modern_fields *f) {
    memset(f, 0, sizeof *f);
    for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (KEY_IS(k, "_meta")) f->meta = m;
        else if (KEY_IS(k, "name")) f->name = m;
        else if (KEY_IS(k, "uri")) f->uri = m;
        else if (KEY_IS(k, "arguments")) f->arguments = m;
        else if (KEY_IS(k, "taskId")) f->task_id = m;
    }
    if (!mcp_json_is_object(f->meta)) return;
    for (const mcp_json *m = mcp_json_first(f->meta); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (KEY_IS(k, "io.modelcontextprotocol/protocolVersion")) f->version = m;
        else if (KEY_IS(k, "io.modelcontextprotocol/clientCapabilities")) f->client_caps = m;
        else if (KEY_IS(k, "progressToken")) f->progress_token = m;
    }
}

static void header_mismatch(mcp_http_conn *conn, mcp_http_exchange *x, mcp_str id, const char *fmt, ...)
    MCP_PRINTF(4, 5);
static void header_mismatch(mcp_http_conn *conn, mcp_http_exchange *x, mcp_str id, const char *fmt, ...) {
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    mcp_net_count(&conn->counters->header_mismatch, 1);
    mcp_http_x_error(x, 400, id, MCP_ERROR_HEADER_MISMATCH, message, NULL, NULL);
}

static void unsupported_version(mcp_http_exchange *x, mcp_str id, mcp_str requested) {
    mcp_buf data;
    mcp_buf_init(&data);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &data);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "supported");
    mcp_json_begin_array(&w);
    for (size_t i = 0; mcp_protocol_versions[i]; i++) mcp_json_write_cstr(&w, mcp_protocol_versions[i]);
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "requested");
    mcp_json_write_string(&w, requested.ptr, requested.len);
    mcp_json_end_object(&w);
    mcp_http_x_error(x, 400, id, MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version",
                     mcp_json_writer_status(&w) == 0 ? data.data : NULL, NULL);
    mcp_buf_free(&data);
}

/* ---- Handing a body to a session ------------------------------------------------------- */
/* body NULL: run the message that mcp_session_parse left in the session. */
static void run_in_session(mcp_http_exchange *x, const mcp_http_request *req, mcp_session *session,
                           pthread_mutex_t *lock, const mcp_str *body) {
    mcp_http_exchange *saved = mcp_http_current();
    mcp_http_set_current(x);
    const mcp_transport_info *saved_info = mcp_transport_info_swap(&(mcp_transport_info){
        .transport = "tcp", .network_protocol = "http",
        .session_id = x && x->hs ? (mcp_str){x->hs->id, MCP_SESSION_ID_LEN} : (mcp_str){NULL, 0},
        .traceparent = req ? req->headers[MCP_HTTP_H_TRACEPARENT] : (mcp_str){NULL, 0},
        .tracestate = req ? req->headers[MCP_HTTP_H_TRACESTATE] : (mcp_str){NULL, 0}});
    if (lock) pthread_mutex_lock(lock);
    int rc = body ? mcp_session_handle(session, body->ptr, body->len) : mcp_session_run(session);
    if (lock) pthread_mutex_unlock(lock);
    mcp_transport_info_swap(saved_info);
    mcp_http_set_current(saved);
    if (rc < 0 && x && x->state == MCP_HTTP_X_WAITING)
        mcp_http_x_error(x, 500, (mcp_str){x->id.data, x->id.len}, MCP_RPC_INTERNAL_ERROR,
                         "Internal error: out of memory", NULL, NULL);
}

static void accept_202(mcp_http_exchange *x) { mcp_http_x_respond(x, 202, NULL, NULL, 0, NULL); }

/* ---- Modern era ---------------------------------------------------------------------------- */
static void post_modern(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req,
                        mcp_session *session, const mcp_rpc_batch *parsed) {
    mcp_str pv = req->headers[MCP_HTTP_H_PROTOCOL_VERSION];
    if (parsed->is_batch) {
        mcp_http_x_error(x, 400, NO_ID, MCP_RPC_INVALID_REQUEST,
                         "Invalid Request: batches are not part of protocol version 2026-07-28", NULL, NULL);
        return;
    }
    const mcp_rpc_message *m = &parsed->items[0];
    if (m->kind == MCP_RPC_INVALID) {
        mcp_http_x_error(x, 400, m->id.text, m->error_code, m->error_message, NULL, NULL);
        return;
    }
    if (m->kind != MCP_RPC_REQUEST && m->kind != MCP_RPC_NOTIFICATION) {
        mcp_http_x_error(x, 400, NO_ID, MCP_RPC_INVALID_REQUEST,
                         "Invalid Request: clients send no responses in protocol version 2026-07-28", NULL, NULL);
        return;
    }
    mcp_str id = m->id.text;
    mcp_str method = {m->method, m->method_len};
    mcp_str hm = req->headers[MCP_HTTP_H_MCP_METHOD];
    if (!hm.ptr) {
        header_mismatch(conn, x, id, "Header mismatch: the Mcp-Method header is required");
        return;
    }
    if (!mcp_str_eq(hm, method)) {
        header_mismatch(conn, x, id, "Header mismatch: Mcp-Method header value '%.*s' does not match body value '%.*s'",
                        (int)(hm.len > 64 ? 64 : hm.len), hm.ptr, (int)(method.len > 64 ? 64 : method.len), method.ptr);
        return;
    }
    mcp_json *params = params_of(conn, m);
    modern_fields f;
    modern_fields_of(mcp_json_is_object(params) ? params : NULL, &f);
    const mcp_json *body_pv = f.version;
    /* A request whose _meta lacks what every modern request must carry is a
     * malformed request (400, -32602), not a disagreement between headers and
     * body: there is nothing in the body to disagree with. */
    if (m->kind == MCP_RPC_REQUEST &&
        (!mcp_json_is_string(body_pv) || !mcp_json_is_object(f.client_caps))) {
        mcp_http_x_error(x, 400, id, MCP_RPC_INVALID_PARAMS,
                         !mcp_json_is_string(body_pv)
                             ? "Invalid params: _meta io.modelcontextprotocol/protocolVersion is required"
                             : "Invalid params: _meta io.modelcontextprotocol/clientCapabilities is required",
                         NULL, NULL);
        return;
    }
    if ((m->kind == MCP_RPC_REQUEST || body_pv) && !json_string_eq(body_pv, pv)) {
        header_mismatch(conn, x, id,
                        "Header mismatch: MCP-Protocol-Version header value '%.*s' does not match the body's "
                        "_meta io.modelcontextprotocol/protocolVersion",
                        (int)pv.len, pv.ptr);
        return;
    }
    const char *name_field = NULL;
    const mcp_json *name_value = NULL;
    bool tools_call = STR_IS(method, "tools/call");
    if (tools_call || STR_IS(method, "prompts/get")) name_field = "name", name_value = f.name;
    else if (STR_IS(method, "resources/read")) name_field = "uri", name_value = f.uri;
    /* The tasks extension names the task a request is about. */
    else if (STR_IS(method, "tasks/get") || STR_IS(method, "tasks/update") || STR_IS(method, "tasks/cancel"))
        name_field = "taskId", name_value = f.task_id;
    if (name_field && m->kind == MCP_RPC_REQUEST) {
        mcp_str hn = req->headers[MCP_HTTP_H_MCP_NAME];
        mcp_str decoded;
        if (!hn.ptr) {
            header_mismatch(conn, x, id, "Header mismatch: the Mcp-Name header is required for %.*s",
                            (int)method.len, method.ptr);
            return;
        }
        if (!header_value_decode(&conn->arena, hn, &decoded)) {
            header_mismatch(conn, x, id, "Header mismatch: the Mcp-Name header has a malformed base64 value");
            return;
        }
        if (!json_string_eq(name_value, decoded)) {
            header_mismatch(conn, x, id, "Header mismatch: Mcp-Name header value '%.*s' does not match body params.%s",
                            (int)(hn.len > 64 ? 64 : hn.len), hn.ptr, name_field);
            return;
        }
    }
    if (m->kind == MCP_RPC_REQUEST && tools_call) {
        const mcp_json *tool = f.name;
        if (mcp_json_is_string(tool)) {
            mcp_buf why;
            mcp_buf_init(&why);
            int rc = mcp_server_check_param_headers(conn->http->server, mcp_json_str(tool, ""),
                                                    f.arguments, req->params,
                                                    req->param_count, &why);
            if (rc != 0) header_mismatch(conn, x, id, "%s", why.len ? why.data : "Header mismatch: Mcp-Param-*");
            mcp_buf_free(&why);
            if (rc != 0) return;
        }
    }
    if (m->kind == MCP_RPC_NOTIFICATION) {
        run_in_session(NULL, req, session, NULL, NULL);
        accept_202(x);
        return;
    }
    x->modern = true;
    copy_json_text(&x->id, id);
    if (f.progress_token) copy_json_text(&x->token, mcp_json_raw(f.progress_token));
    run_in_session(x, req, session, NULL, NULL);
}

/* ---- Handshake era ----------------------------------------------------------------------------- */
static mcp_http_session *session_of(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    mcp_str sid = req->headers[MCP_HTTP_H_SESSION_ID];
    if (!sid.ptr) {
        mcp_http_x_error(x, 400, NO_ID, -32000, "Bad Request: Mcp-Session-Id header is required", NULL, NULL);
        return NULL;
    }
    mcp_http_session *hs = mcp_http_session_find(conn->http, sid);
    if (!hs) mcp_http_x_error(x, 404, NO_ID, -32001, "Session not found", NULL, NULL);
    return hs;
}

static void post_handshake(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req,
                           const mcp_rpc_batch *parsed) {
    size_t requests = 0;
    const mcp_rpc_message *first = NULL;
    for (size_t i = 0; i < parsed->count; i++) {
        if (parsed->items[i].kind != MCP_RPC_REQUEST && parsed->items[i].kind != MCP_RPC_INVALID) continue;
        if (!first) first = &parsed->items[i];
        requests++;
    }
    bool initialize = !parsed->is_batch && first && first->kind == MCP_RPC_REQUEST &&
                      first->method_len == 10 && memcmp(first->method, "initialize", 10) == 0;
    /* What this era needs from params sits under _meta (progress token, a
     * misplaced modern version); without one, params stay unparsed here.
     * A key spelled with escapes ("\u005fmeta") is caught by the second
     * test. */
    bool has_meta = memmem(req->body.ptr, req->body.len, "\"_meta\"", 7) != NULL ||
                    memmem(req->body.ptr, req->body.len, "\\u", 2) != NULL;
    mcp_json *params = has_meta && first && first->kind == MCP_RPC_REQUEST ? params_of(conn, first) : NULL;
    mcp_json *body_pv = mcp_json_get(mcp_json_get(params, "_meta"), "io.modelcontextprotocol/protocolVersion");
    if (body_pv && mcp_protocol_is_modern(mcp_json_str(body_pv, ""))) {
        header_mismatch(conn, x, first->id.text,
                        "Header mismatch: the body speaks 2026-07-28 but MCP-Protocol-Version does not");
        return;
    }
    mcp_http_session *hs;
    if (initialize) {
        hs = mcp_http_session_create(conn->http);
        if (!hs) {
            mcp_http_x_error(x, 503, first->id.text, MCP_RPC_INTERNAL_ERROR, "Internal error: no session", NULL, NULL);
            return;
        }
        mcp_net_count(&conn->counters->sessions_created, 1);
        x->send_session_id = true;
    } else {
        hs = session_of(conn, x, req);
        if (!hs) return;
    }
    if (requests == 0) {
        run_in_session(NULL, req, hs->session, &hs->handle_lock, &req->body);
        mcp_http_session_unref(hs);
        accept_202(x);
        return;
    }
    x->hs = hs; /* the exchange keeps the reference */
    x->batch = parsed->is_batch;
    if (!x->batch) copy_json_text(&x->id, first->id.text);
    progress_token_of(x, params);
    pthread_mutex_lock(&hs->lock);
    x->next = x->next; /* (queue link untouched) */
    x->s_next = hs->waiting;
    if (hs->waiting) hs->waiting->s_prev = x;
    hs->waiting = x;
    x->in_session_list = true;
    mcp_http_exchange_ref(x);
    pthread_mutex_unlock(&hs->lock);
    mcp_http_session_ref(hs); /* held across the call: the reply may end the exchange */
    run_in_session(x, req, hs->session, &hs->handle_lock, &req->body);
    if (initialize && !mcp_session_protocol_version(hs->session)) {
        /* initialize failed: no session was established. */
        mcp_http_session_delete(conn->http, (mcp_str){hs->id, MCP_SESSION_ID_LEN});
    }
    mcp_http_session_unref(hs);
}

static void handle_post(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    accept_types(req->headers[MCP_HTTP_H_ACCEPT], &x->json_ok, &x->sse_ok);
    x->prefer_sse = conn->http->opts.prefer_sse;
    if (!x->json_ok && !x->sse_ok) {
        mcp_http_x_error(x, 406, NO_ID, -32000,
                         "Not Acceptable: the client must accept application/json or text/event-stream", NULL, NULL);
        return;
    }
    if (!content_type_is_json(req->headers[MCP_HTTP_H_CONTENT_TYPE])) {
        mcp_http_x_error(x, 415, NO_ID, -32000, "Unsupported Media Type: Content-Type must be application/json",
                         NULL, NULL);
        return;
    }
    mcp_str pv = req->headers[MCP_HTTP_H_PROTOCOL_VERSION];
    bool modern = pv.ptr && STR_IS(pv, MCP_PROTOCOL_MODERN);
    mcp_arena_reset(&conn->arena);
    mcp_session *session = modern ? mcp_http_conn_modern(conn) : NULL;
    mcp_rpc_batch local;
    const mcp_rpc_batch *parsed = &local;
    int rc = MCP_ENOMEM;
    if (session) {
        rc = mcp_session_parse(session, req->body.ptr, req->body.len, &parsed);
    } else if (!modern) {
        mcp_json_opts jopts = {.max_depth = 128, .max_size = conn->http->opts.max_body_size};
        rc = mcp_rpc_parse(&conn->arena, req->body.ptr, req->body.len, &jopts, &local);
    }
    if (rc != 0) {
        mcp_http_x_error(x, 500, NO_ID, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory", NULL, NULL);
        return;
    }
    if (parsed->error_code) {
        mcp_http_x_error(x, 400, NO_ID, parsed->error_code, parsed->error_message, NULL, NULL);
        return;
    }
    mcp_str first_id = parsed->is_batch ? NO_ID : parsed->items[0].id.text;
    if (pv.ptr && !modern && !version_supported(pv)) {
        unsupported_version(x, first_id, pv);
        return;
    }
    if (modern) post_modern(conn, x, req, session, parsed);
    else post_handshake(conn, x, req, parsed);
}

/* ---- GET: the session's stream, or a resumed one ---------------------------------------------- */
typedef struct replay_state {
    mcp_http_exchange *x;
    mcp_buf events;
    const char *prefix; /* "<session id>/" */
    bool foreign;
    uint64_t count;
} replay_state;

static int replay_event(void *user, const char *id, const char *data, size_t len) {
    replay_state *st = user;
    if (strncmp(id, st->prefix, strlen(st->prefix)) != 0) {
        st->foreign = true;
        return 1;
    }
    if (len == 0) return 0; /* a priming event: it only ever carried its id */
    mcp_buf event;
    mcp_buf_init(&event);
    mcp_sse_write_event(&event, id, data, len);
    mcp_buf_appendf(&st->events, "%zx\r\n", event.len);
    mcp_buf_append(&st->events, event.data, event.len);
    mcp_buf_append(&st->events, "\r\n", 2);
    mcp_buf_free(&event);
    st->count++;
    return 0;
}

static void get_resume(mcp_http_conn *conn, mcp_http_exchange *x, mcp_http_session *hs, mcp_str last) {
    mcp_event_store *store = conn->http->store;
    char last_id[MCP_EVENT_ID_MAX];
    char prefix[MCP_SESSION_ID_LEN + 2];
    snprintf(prefix, sizeof prefix, "%s/", hs->id);
    if (!store || last.len >= sizeof last_id) {
        mcp_http_x_error(x, 400, NO_ID, -32000, "Bad Request: Last-Event-ID is not one of ours", NULL, NULL);
        return;
    }
    memcpy(last_id, last.ptr, last.len);
    last_id[last.len] = '\0';
    char stream[MCP_STREAM_NAME_MAX] = "";
    replay_state st = {.x = x, .prefix = prefix};
    mcp_buf_init(&st.events);
    mcp_http_exchange *replaced = NULL, *adopted = NULL;
    pthread_mutex_lock(&hs->lock);
    int rc = store->replay_after(store, last_id, stream, replay_event, &st);
    bool ours = rc == 0 && !st.foreign && strncmp(stream, prefix, strlen(prefix)) == 0;
    if (ours) {
        snprintf(x->stream, sizeof x->stream, "%s", stream);
        char get_stream[MCP_STREAM_NAME_MAX];
        snprintf(get_stream, sizeof get_stream, "%s0", prefix);
        if (strcmp(stream, get_stream) == 0) {
            /* The GET stream again: this connection takes it over. */
            replaced = hs->get;
            hs->get = x;
            x->is_get = true;
            mcp_http_exchange_ref(x);
        } else {
            /* A POST stream: if its request still runs, the rest of its
             * events and its reply continue here. */
            for (mcp_http_exchange *o = hs->waiting; o; o = o->s_next)
                if (!o->conn && strcmp(o->stream, stream) == 0) adopted = o;
            if (adopted) {
                copy_json_text(&x->id, (mcp_str){adopted->id.data, adopted->id.len});
                copy_json_text(&x->token, (mcp_str){adopted->token.data, adopted->token.len});
                x->batch = adopted->batch;
                if (adopted->s_prev) adopted->s_prev->s_next = adopted->s_next;
                else hs->waiting = adopted->s_next;
                if (adopted->s_next) adopted->s_next->s_prev = adopted->s_prev;
                adopted->s_prev = adopted->s_next = NULL;
                adopted->in_session_list = false;
                x->s_next = hs->waiting;
                if (hs->waiting) hs->waiting->s_prev = x;
                hs->waiting = x;
                x->in_session_list = true;
                mcp_http_exchange_ref(x);
            }
        }
    }
    pthread_mutex_unlock(&hs->lock);
    if (!ours) {
        mcp_buf_free(&st.events);
        mcp_http_x_error(x, 400, NO_ID, -32000,
                         "Bad Request: Last-Event-ID is unknown, or its stream's events are no longer kept", NULL, NULL);
        return;
    }
    x->resumed = true;
    mcp_http_x_start_stream(x, NULL);
    mcp_http_x_prime(x);
    if (st.events.len) mcp_http_x_write(x, st.events.data, st.events.len);
    mcp_net_count(&conn->counters->events_replayed, st.count);
    mcp_buf_free(&st.events);
    if (adopted) mcp_http_exchange_unref(adopted); /* the list's reference */
    if (!x->is_get && !adopted) {
        /* The request had finished: everything was replayed. */
        mcp_http_x_write(x, "0\r\n\r\n", 5);
        mcp_http_x_done(x);
    }
    if (replaced) {
        /* hs->get already points at x; a live old stream ends on its loop
         * (x->conn is read under the lock that guards it). */
        pthread_mutex_lock(&hs->lock);
        bool live = replaced->conn != NULL;
        if (live) mcp_http_exchange_ref(replaced);
        pthread_mutex_unlock(&hs->lock);
        if (live) mcp_http_exchange_route(replaced, NULL, 0);
        mcp_http_exchange_unref(replaced); /* hs->get's reference */
    }
}

static void handle_get(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    const mcp_http_opts *o = &conn->http->opts;
    mcp_str pv = req->headers[MCP_HTTP_H_PROTOCOL_VERSION];
    if (o->disable_get_stream || (pv.ptr && STR_IS(pv, MCP_PROTOCOL_MODERN))) {
        mcp_http_x_error(x, 405, NO_ID, -32000, "Method Not Allowed: no GET stream here", NULL,
                         o->disable_get_stream ? ALLOW_NO_GET : ALLOW_ALL);
        return;
    }
    bool json, sse;
    accept_types(req->headers[MCP_HTTP_H_ACCEPT], &json, &sse);
    if (!sse) {
        mcp_http_x_error(x, 406, NO_ID, -32000, "Not Acceptable: the client must accept text/event-stream", NULL,
                         NULL);
        return;
    }
    if (pv.ptr && !version_supported(pv)) {
        unsupported_version(x, NO_ID, pv);
        return;
    }
    mcp_http_session *hs = session_of(conn, x, req);
    if (!hs) return;
    x->hs = hs;
    x->json_ok = false;
    mcp_str last = req->headers[MCP_HTTP_H_LAST_EVENT_ID];
    if (last.ptr) {
        get_resume(conn, x, hs, last);
        return;
    }
    pthread_mutex_lock(&hs->lock);
    /* A stream whose connection is gone is replaced; a live one is not. */
    mcp_http_exchange *orphan = hs->get && !hs->get->conn ? hs->get : NULL;
    if (orphan) hs->get = NULL;
    bool busy = hs->get != NULL;
    if (!busy) {
        hs->get = x;
        x->is_get = true;
        snprintf(x->stream, sizeof x->stream, "%s/0", hs->id);
        mcp_http_exchange_ref(x);
    }
    pthread_mutex_unlock(&hs->lock);
    if (orphan) mcp_http_exchange_unref(orphan); /* hs->get's reference */
    if (busy) {
        mcp_http_x_error(x, 409, NO_ID, -32000, "Conflict: only one GET stream is allowed per session", NULL, NULL);
        return;
    }
    mcp_http_x_start_stream(x, NULL);
    mcp_http_x_prime(x);
}

static void handle_delete(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    mcp_str sid = req->headers[MCP_HTTP_H_SESSION_ID];
    if (!sid.ptr) {
        mcp_http_x_error(x, 400, NO_ID, -32000, "Bad Request: Mcp-Session-Id header is required", NULL, NULL);
        return;
    }
    if (mcp_http_session_delete(conn->http, sid) != 0) {
        mcp_http_x_error(x, 404, NO_ID, -32001, "Session not found", NULL, NULL);
        return;
    }
    mcp_net_count(&conn->counters->sessions_deleted, 1);
    mcp_http_x_respond(x, 200, NULL, NULL, 0, NULL);
}

/* The Host check, remembered per connection: a keep-alive client names
 * the same host on every request, and the answer for the same bytes under
 * the same options cannot change. */
static bool conn_host_allowed(mcp_http_conn *conn, mcp_str host) {
    if (host.ptr && host.len == conn->host_ok_len && host.len && memcmp(host.ptr, conn->host_ok, host.len) == 0)
        return true;
    if (!mcp_http_host_allowed(conn->http, host)) return false;
    if (host.len <= sizeof conn->host_ok) {
        memcpy(conn->host_ok, host.ptr, host.len);
        conn->host_ok_len = host.len;
    }
    return true;
}

/* GET /metrics: the observer's Prometheus text, when it has one. */
static bool serve_metrics(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    const mcp_observer *o = mcp_server_observer(conn->http->server);
    if (!o || !o->metrics || req->method != MCP_HTTP_METHOD_GET || !STR_IS(req->path, "/metrics")) return false;
    if (!mcp_http_host_allowed(conn->http, req->headers[MCP_HTTP_H_HOST])) {
        mcp_http_x_error(x, 403, NO_ID, -32000, "Forbidden: Host not allowed", NULL, NULL);
        return true;
    }
    mcp_buf text;
    mcp_buf_init(&text);
    if (o->metrics(o->user, conn->http->net, &text) == 0)
        mcp_http_x_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", text.data, text.len, NULL);
    else
        mcp_http_x_respond(x, 500, "text/plain", "metrics unavailable\n", 20, NULL);
    mcp_buf_free(&text);
    return true;
}

void mcp_http_handle_request(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req) {
    mcp_http_server *http = conn->http;
    if (serve_metrics(conn, x, req)) return;
    if (req->too_many_params) {
        mcp_http_x_error(x, 400, NO_ID, MCP_ERROR_HEADER_MISMATCH, "Header mismatch: too many Mcp-Param headers",
                         NULL, NULL);
        return;
    }
    if (req->duplicate_header) {
        mcp_http_x_error(x, 400, NO_ID, -32000, "Bad Request: a header that must appear once came twice", NULL, NULL);
        return;
    }
    if (req->path.len != http->path_len || memcmp(req->path.ptr, http->path, http->path_len) != 0) {
        static const char body[] = "Not Found\n";
        mcp_http_x_respond(x, 404, "text/plain", body, sizeof body - 1, NULL);
        return;
    }
    if (!conn_host_allowed(conn, req->headers[MCP_HTTP_H_HOST]) ||
        !mcp_http_origin_allowed(http, req->headers[MCP_HTTP_H_ORIGIN])) {
        mcp_http_x_error(x, 403, NO_ID, -32000, "Forbidden: Host or Origin not allowed", NULL, NULL);
        return;
    }
    switch (req->method) {
    case MCP_HTTP_METHOD_POST: handle_post(conn, x, req); return;
    case MCP_HTTP_METHOD_GET: handle_get(conn, x, req); return;
    case MCP_HTTP_METHOD_DELETE: handle_delete(conn, x, req); return;
    default:
        mcp_http_x_error(x, 405, NO_ID, -32000, "Method Not Allowed", NULL,
                         http->opts.disable_get_stream ? ALLOW_NO_GET : ALLOW_ALL);
        return;
    }
}
