/*
 * client_message.c — writing the client's outgoing requests.
 *
 * The caller gives params as JSON text. In the modern era every request must
 * carry _meta with the protocol version, the client info and the client
 * capabilities, and a request that wants progress carries a progressToken
 * in _meta in both eras; so params are parsed and rewritten with our _meta
 * first, then the caller's own _meta members (ours win on a clash, since the
 * server judges the request by them), then the caller's other members.
 * Params that need no _meta go out byte for byte after a validity check.
 *
 * The common cases skip the DOM and the writer: the envelope is written
 * straight into the buffer, params without a _meta of their own are checked
 * in one pass and copied as given (after our _meta, whose modern members are
 * written once per negotiated version and then copied). That is every
 * request of a pipelining client, so it is kept to one pass over the params.
 */
#include "mcp/client_internal.h"
#include "mcp/message.h"

#include <stdlib.h>
#include <string.h>

static bool is_our_meta_key(mcp_str key)
{
    return mcp_str_eq_cstr(key, "io.modelcontextprotocol/protocolVersion") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/clientInfo") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/clientCapabilities") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/logLevel") ||
           mcp_str_eq_cstr(key, "progressToken");
}

/* Our modern-era _meta members (inside an open object). */
static void write_modern_members(const mcp_client *client, mcp_json_writer *w)
{
    const char *version = client->protocol_version ? client->protocol_version : MCP_PROTOCOL_MODERN;
    mcp_json_write_key(w, "io.modelcontextprotocol/protocolVersion");
    mcp_json_write_cstr(w, version);
    mcp_json_write_key(w, "io.modelcontextprotocol/clientInfo");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "name");
    mcp_json_write_cstr(w, client->name);
    mcp_json_write_key(w, "version");
    mcp_json_write_cstr(w, client->version);
    mcp_json_end_object(w);
    mcp_json_write_key(w, "io.modelcontextprotocol/clientCapabilities");
    mcp_json_write_raw(w, client->capabilities, strlen(client->capabilities));
    if (client->log_level) {
        mcp_json_write_key(w, "io.modelcontextprotocol/logLevel");
        mcp_json_write_cstr(w, client->log_level);
    }
}

static void write_meta(mcp_client *client, mcp_json_writer *w, int64_t id, bool progress,
                       const mcp_json *given)
{
    mcp_json_write_key(w, "_meta");
    mcp_json_begin_object(w);
    if (client->modern)
        write_modern_members(client, w);
    bool traced = client->traceparent[0] != '\0';
    if (traced) {
        /* Our span is the caller's parent: a traceparent the caller put in
         * _meta itself is replaced (and its tracestate kept). */
        mcp_json_write_key(w, "traceparent");
        mcp_json_write_cstr(w, client->traceparent);
    }
    if (progress) {
        /* The request id doubles as the token: unique while it is pending. */
        mcp_json_write_key(w, "progressToken");
        mcp_json_write_int(w, id);
    }
    for (const mcp_json *m = mcp_json_first(given); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (is_our_meta_key(key) || (traced && mcp_str_eq_cstr(key, "traceparent")))
            continue;
        mcp_json_write_key_n(w, key.ptr, key.len);
        mcp_json_write_value(w, m);
    }
    mcp_json_end_object(w);
}

/* Can s go between quotes as it is: printable ASCII, no quote or backslash? */
static bool is_plain_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
            return false;
    }
    return true;
}

/* Valid JSON whose value is an object (its first byte past whitespace). */
static bool is_object_text(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return i < len && text[i] == '{' && mcp_json_validate(text, len, NULL, NULL) == 0;
}

static int write_params(mcp_client *client, mcp_json_writer *w, int64_t id,
                        const char *params_json, bool progress)
{
    bool need_meta = client->modern || progress || client->traceparent[0];
    if (!params_json && !need_meta)
        return 0;
    if (!need_meta) {
        if (!is_object_text(params_json, strlen(params_json)))
            return MCP_EINVAL;
        mcp_json_write_key(w, "params");
        mcp_json_write_raw(w, params_json, strlen(params_json));
        return 0;
    }
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    if (params_json) {
        if (mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) != 0 ||
            !mcp_json_is_object(params)) {
            mcp_arena_free(&arena);
            return MCP_EINVAL;
        }
    }
    mcp_json_write_key(w, "params");
    mcp_json_begin_object(w);
    write_meta(client, w, id, progress, mcp_json_get(params, "_meta"));
    for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, "_meta"))
            continue;
        mcp_json_write_key_n(w, key.ptr, key.len);
        mcp_json_write_value(w, m);
    }
    mcp_json_end_object(w);
    mcp_arena_free(&arena);
    return 0;
}

static char *copy_bytes(char *to, const char *from, size_t len)
{
    memcpy(to, from, len);
    return to + len;
}

static void forget_meta_text(mcp_client *client)
{
    free(client->meta_text);
    free(client->meta_version);
    free(client->meta_capabilities);
    client->meta_text = client->meta_version = client->meta_capabilities = NULL;
}

/* The modern _meta members as text, written once per negotiated version
 * and capabilities. */
static const char *modern_meta_text(mcp_client *client, size_t *len)
{
    const char *version = client->protocol_version ? client->protocol_version : MCP_PROTOCOL_MODERN;
    if (client->meta_text && !strcmp(client->meta_version, version) &&
        !strcmp(client->meta_capabilities, client->capabilities)) {
        *len = client->meta_len;
        return client->meta_text;
    }
    forget_meta_text(client);
    mcp_buf text;
    mcp_buf_init(&text);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &text);
    mcp_json_begin_object(&w);
    write_modern_members(client, &w);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) == 0 && text.len >= 2) {
        client->meta_text = mcp_client_strndup(text.data + 1, text.len - 2);
        client->meta_version = mcp_client_strdup(version);
        client->meta_capabilities = mcp_client_strdup(client->capabilities);
        client->meta_len = text.len - 2;
        if (!client->meta_text || !client->meta_version || !client->meta_capabilities)
            forget_meta_text(client);
    }
    mcp_buf_free(&text);
    *len = client->meta_text ? client->meta_len : 0;
    return client->meta_text;
}

static size_t int_text(int64_t v, char digits[24])
{
    if (v < 0) {
        digits[0] = '-';
        return 1 + mcp_format_uint(digits + 1, 0 - (uint64_t)v);
    }
    return mcp_format_uint(digits, (uint64_t)v);
}

/* {"jsonrpc":"2.0","id":ID,"method":"METHOD"[,"params":...]} written
 * straight into out, for a method that needs no escaping. Params that need
 * no _meta go out as given; otherwise our _meta members lead and the
 * caller's members follow as given, which takes params without a _meta of
 * their own (those are merged by the general writer: *done stays false).
 * The caller checked that the method is plain. */
static int write_direct_request(mcp_client *client, mcp_buf *out, int64_t id, const char *method,
                                size_t method_len, const char *params_json, bool progress, bool *done)
{
    bool traced = client->traceparent[0] != '\0';
    bool need_meta = client->modern || progress || traced;
    size_t params_len = params_json ? strlen(params_json) : 0;
    mcp_str inner = {NULL, 0};   /* the caller's members, between the braces */
    *done = false;
    if (params_json && !need_meta) {
        if (!is_object_text(params_json, params_len))
            return MCP_EINVAL;
    } else if (params_json) {
        /* One lazy pass: validates all, builds only the top-level members. */
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *params = NULL;
        int rc = mcp_json_parse(&arena, params_json, params_len, &(mcp_json_opts){.lazy_depth = 1}, &params, NULL);
        bool object = rc == 0 && mcp_json_type_of(params) == MCP_JSON_OBJECT;
        bool own_meta = object && mcp_json_get(params, "_meta") != NULL;
        bool members = object && mcp_json_first(params) != NULL;
        mcp_str raw = object ? mcp_json_raw(params) : (mcp_str){NULL, 0};
        mcp_arena_free(&arena);
        if (rc == MCP_ENOMEM)
            return rc;
        if (!object)
            return MCP_EINVAL;
        if (own_meta)
            return 0;
        if (members && raw.len >= 2)
            inner = (mcp_str){raw.ptr + 1, raw.len - 2};
    }
    size_t meta_len = 0;
    const char *meta = client->modern ? modern_meta_text(client, &meta_len) : NULL;
    if (client->modern && !meta)
        return MCP_ENOMEM;
    size_t trace_len = traced ? strlen(client->traceparent) : 0;
    if (traced && !is_plain_text(client->traceparent, trace_len))
        return 0;

    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char mid[] = ",\"method\":\"";
    static const char params_key[] = "\",\"params\":";
    static const char meta_key[] = "{\"_meta\":{";
    static const char trace_key[] = "\"traceparent\":\"";
    static const char token_key[] = "\"progressToken\":";
    char digits[24];
    size_t n = int_text(id, digits);
    size_t need = sizeof head + n + sizeof mid + method_len + sizeof params_key + params_len + sizeof meta_key +
                  meta_len + sizeof trace_key + trace_len + sizeof token_key + n + 16;
    if (mcp_buf_reserve(out, need) != 0)
        return MCP_ENOMEM;
    char *at = out->data + out->len;
    at = copy_bytes(at, head, sizeof head - 1);
    at = copy_bytes(at, digits, n);
    at = copy_bytes(at, mid, sizeof mid - 1);
    at = copy_bytes(at, method, method_len);
    if (!need_meta && params_json) {
        at = copy_bytes(at, params_key, sizeof params_key - 1);
        at = copy_bytes(at, params_json, params_len);
    } else if (!need_meta) {
        *at++ = '"';
    } else {
        at = copy_bytes(at, params_key, sizeof params_key - 1);
        at = copy_bytes(at, meta_key, sizeof meta_key - 1);
        bool first = true;
        if (meta) {
            at = copy_bytes(at, meta, meta_len);
            first = meta_len == 0;
        }
        if (traced) {
            if (!first)
                *at++ = ',';
            at = copy_bytes(at, trace_key, sizeof trace_key - 1);
            at = copy_bytes(at, client->traceparent, trace_len);
            *at++ = '"';
            first = false;
        }
        if (progress) {
            if (!first)
                *at++ = ',';
            at = copy_bytes(at, token_key, sizeof token_key - 1);
            at = copy_bytes(at, digits, n);
        }
        *at++ = '}';
        if (inner.len) {
            *at++ = ',';
            at = copy_bytes(at, inner.ptr, inner.len);
        }
        *at++ = '}';
    }
    *at++ = '}';
    *at = '\0';
    out->len = (size_t)(at - out->data);
    *done = true;
    return 0;
}

int mcp_client_write_request(mcp_client *client, mcp_buf *out, int64_t id, const char *method,
                             const char *params_json, bool progress)
{
    size_t method_len = strlen(method);
    if (is_plain_text(method, method_len)) {
        bool done;
        int rc = write_direct_request(client, out, id, method, method_len, params_json, progress, &done);
        if (rc != 0 || done)
            return rc;
    }
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_message_begin_request(&w, id, method);
    int rc = write_params(client, &w, id, params_json, progress);
    if (rc != 0)
        return rc;
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

int mcp_client_write_notification(mcp_buf *out, const char *method, const char *params_json)
{
    if (params_json && mcp_json_validate(params_json, strlen(params_json), NULL, NULL) != 0)
        return MCP_EINVAL;
    return mcp_message_write(out, NULL, method, params_json);
}
