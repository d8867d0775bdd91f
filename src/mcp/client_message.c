/*
 * client_message.c — writing the client's outgoing requests.
 *
 * The caller gives params as JSON text. In the modern era every request must
 * carry _meta with the protocol version, the client info and the client
 * capabilities, and a request that wants progress carries a progressToken
 * in _meta in both eras; so params are parsed and rewritten with our _meta
 * first, then the caller's own _meta members (ours win on a clash, since the
 * server judges the request by them), then the caller's other members.
 * Params that need no _meta go out byte for byte after a validity check,
 * in an envelope written straight into the buffer: that is every request of
 * a handshake-era pipelining client, so it is kept to one pass over the
 * params and no allocation.
 */
#include "mcp/client_internal.h"

#include <string.h>

static bool is_our_meta_key(mcp_str key)
{
    return mcp_str_eq_cstr(key, "io.modelcontextprotocol/protocolVersion") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/clientInfo") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/clientCapabilities") ||
           mcp_str_eq_cstr(key, "io.modelcontextprotocol/logLevel") ||
           mcp_str_eq_cstr(key, "progressToken");
}

static void write_meta(mcp_client *client, mcp_json_writer *w, int64_t id, bool progress,
                       const mcp_json *given)
{
    mcp_json_write_key(w, "_meta");
    mcp_json_begin_object(w);
    if (client->modern) {
        const char *version = client->protocol_version ? client->protocol_version
                                                       : MCP_PROTOCOL_MODERN;
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

/* {"jsonrpc":"2.0","id":ID,"method":"METHOD"[,"params":PARAMS]} for a
 * method that needs no escaping and params that go out as given. */
static int write_plain_request(mcp_buf *out, int64_t id, const char *method, size_t method_len,
                               const char *params_json)
{
    size_t params_len = params_json ? strlen(params_json) : 0;
    if (params_json && !is_object_text(params_json, params_len))
        return MCP_EINVAL;
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char mid[] = ",\"method\":\"";
    static const char tail[] = "\",\"params\":";
    char digits[24];
    size_t n = 0;
    uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (id < 0)
        digits[sizeof digits - 1 - n++] = '-';
    size_t need = sizeof head - 1 + n + sizeof mid - 1 + method_len + sizeof tail - 1 + params_len + 2;
    if (mcp_buf_reserve(out, need) != 0)
        return MCP_ENOMEM;
    char *at = out->data + out->len;
    at = copy_bytes(at, head, sizeof head - 1);
    at = copy_bytes(at, digits + sizeof digits - n, n);
    at = copy_bytes(at, mid, sizeof mid - 1);
    at = copy_bytes(at, method, method_len);
    if (params_json) {
        at = copy_bytes(at, tail, sizeof tail - 1);
        at = copy_bytes(at, params_json, params_len);
    } else {
        *at++ = '"';
    }
    *at++ = '}';
    *at = '\0';
    out->len = (size_t)(at - out->data);
    return 0;
}

int mcp_client_write_request(mcp_client *client, mcp_buf *out, int64_t id, const char *method,
                             const char *params_json, bool progress)
{
    size_t method_len = strlen(method);
    bool need_meta = client->modern || progress || client->traceparent[0];
    if (!need_meta && is_plain_text(method, method_len))
        return write_plain_request(out, id, method, method_len, params_json);
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "jsonrpc");
    mcp_json_write_cstr(&w, "2.0");
    mcp_json_write_key(&w, "id");
    mcp_json_write_int(&w, id);
    mcp_json_write_key(&w, "method");
    mcp_json_write_cstr(&w, method);
    int rc = write_params(client, &w, id, params_json, progress);
    if (rc != 0)
        return rc;
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

int mcp_client_write_notification(mcp_buf *out, const char *method, const char *params_json)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "jsonrpc");
    mcp_json_write_cstr(&w, "2.0");
    mcp_json_write_key(&w, "method");
    mcp_json_write_cstr(&w, method);
    if (params_json) {
        if (mcp_json_validate(params_json, strlen(params_json), NULL, NULL) != 0)
            return MCP_EINVAL;
        mcp_json_write_key(&w, "params");
        mcp_json_write_raw(&w, params_json, strlen(params_json));
    }
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}
