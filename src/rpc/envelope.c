/*
 * envelope.c — reading JSON-RPC 2.0 envelopes.
 *
 * The text is parsed lazily: only the envelope object (or, for a batch, the
 * array and its member objects) is built; "params", "result" and "error"
 * remain RAW slices that the json layer has already validated. Routing a
 * message therefore costs one validating pass over the text plus a handful
 * of small nodes, whatever the size of its params. mcp_rpc_parse_built,
 * the server core's, builds everything and first offers the text to the
 * one-pass reader of the usual request (envelope_scan.c).
 */
#include "rpc/envelope_built.h"
#include "rpc/envelope_scan.h"

#include <stdint.h>
#include <string.h>

static const char *first_byte(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return text + i;
    }
    return NULL;
}

static bool raw_starts_with(const mcp_json *node, char c)
{
    mcp_str raw = mcp_json_raw(node);
    return raw.len > 0 && raw.ptr[0] == c;
}

/* Exported functions here call static twins, not each other: in the
 * position-independent library a call between exported functions stays a
 * call. */
static inline bool is_kind(const mcp_json *node, mcp_json_type kind, char open)
{
    mcp_json_type type = mcp_json_type_of(node);
    if (type == MCP_JSON_RAW)
        return raw_starts_with(node, open);
    return type == kind;
}

bool mcp_rpc_json_is_object(const mcp_json *node)
{
    return is_kind(node, MCP_JSON_OBJECT, '{');
}

bool mcp_rpc_json_is_array(const mcp_json *node)
{
    return is_kind(node, MCP_JSON_ARRAY, '[');
}

/* mcp_rpc_id_from_json into an id that is already all zero (the message
 * classify clears), with one look at the node's type. */
static int id_read(const mcp_json *node, mcp_rpc_id *out)
{
    mcp_json_type type = mcp_json_type_of(node);
    if (type == MCP_JSON_STRING) {
        out->type = MCP_RPC_ID_STRING;
        out->text = mcp_json_raw(node);
        return 0;
    }
    if (type == MCP_JSON_NUMBER) {
        /* One call answers for every integer but INT64_MIN itself. */
        int64_t num = mcp_json_int(node, INT64_MIN);
        if (num == INT64_MIN && !mcp_json_is_integer(node))
            return MCP_EINVAL;
        out->type = MCP_RPC_ID_INT;
        out->num = num;
        out->text = mcp_json_raw(node);
        return 0;
    }
    return MCP_EINVAL;
}

int mcp_rpc_id_from_json(const mcp_json *node, mcp_rpc_id *out)
{
    memset(out, 0, sizeof *out);
    return id_read(node, out);
}

bool mcp_rpc_id_eq(const mcp_rpc_id *a, const mcp_rpc_id *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == MCP_RPC_ID_INT)
        return a->num == b->num;
    /* Strings compare by source text: peers echo ids byte for byte, and an
     * id spelled with different escapes is rare enough to treat as distinct. */
    return mcp_str_eq(a->text, b->text);
}

int mcp_rpc_id_copy(mcp_arena *arena, const mcp_rpc_id *from, mcp_rpc_id *to)
{
    *to = *from;
    if (from->text.len == 0)
        return 0;
    char *copy = mcp_arena_strndup(arena, from->text.ptr, from->text.len);
    if (!copy)
        return MCP_ENOMEM;
    to->text.ptr = copy;
    return 0;
}

static void set_invalid(mcp_rpc_message *out, const char *message)
{
    out->kind = MCP_RPC_INVALID;
    out->error_code = MCP_RPC_INVALID_REQUEST;
    out->error_message = message;
}

static void classify(const mcp_json *node, mcp_rpc_message *out)
{
    memset(out, 0, sizeof *out);
    if (!mcp_json_is_object(node)) {
        set_invalid(out, "Invalid Request: a message must be a JSON object");
        return;
    }
    /* One pass over the members instead of a lookup per name; as with
     * mcp_json_get, the last of duplicate members wins. */
    const mcp_json *id = NULL, *version = NULL, *method = NULL, *params = NULL, *result = NULL, *error = NULL;
    for (const mcp_json *m = mcp_json_first(node); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (k.len == 2 && memcmp(k.ptr, "id", 2) == 0) id = m;
        else if (k.len == 7 && memcmp(k.ptr, "jsonrpc", 7) == 0) version = m;
        else if (k.len == 6 && memcmp(k.ptr, "method", 6) == 0) method = m;
        else if (k.len == 6 && memcmp(k.ptr, "params", 6) == 0) params = m;
        else if (k.len == 6 && memcmp(k.ptr, "result", 6) == 0) result = m;
        else if (k.len == 5 && memcmp(k.ptr, "error", 5) == 0) error = m;
    }
    bool id_ok = id == NULL || id_read(id, &out->id) == 0;
    /* "2.0" as written, the usual case, is judged on its source text
     * without decoding (only a string's text starts with a quote); only an
     * escaped spelling of it gets decoded. */
    mcp_str version_text = mcp_json_raw(version);
    bool version_ok = (version_text.len == 5 && memcmp(version_text.ptr, "\"2.0\"", 5) == 0) ||
                      (mcp_json_is_string(version) && mcp_json_str_len(version) == 3 &&
                       memcmp(mcp_json_str(version, ""), "2.0", 3) == 0);

    if (method) {
        if (!id_ok) {
            set_invalid(out, "Invalid Request: id must be a string or an integer");
            return;
        }
        if (!version_ok) {
            set_invalid(out, "Invalid Request: jsonrpc must be \"2.0\"");
            return;
        }
        if (!mcp_json_is_string(method)) {
            set_invalid(out, "Invalid Request: method must be a string");
            return;
        }
        if (params && !is_kind(params, MCP_JSON_OBJECT, '{') && !is_kind(params, MCP_JSON_ARRAY, '[')) {
            set_invalid(out, "Invalid Request: params must be an object or an array");
            return;
        }
        out->kind = id ? MCP_RPC_REQUEST : MCP_RPC_NOTIFICATION;
        out->method = mcp_json_str(method, "");
        out->method_len = mcp_json_str_len(method);
        out->params = (mcp_json *)params;
        return;
    }

    /* Error responses about undeterminable ids carry "id": null. */
    bool response_id_ok = id_ok || (error && mcp_json_type_of(id) == MCP_JSON_NULL);
    if (version_ok && response_id_ok && (result != NULL) != (error != NULL)) {
        /* An error response may carry "id": null; keep it as NONE. */
        if (result && id) {
            out->kind = MCP_RPC_RESPONSE;
            out->result = (mcp_json *)result;
            return;
        }
        if (error && is_kind(error, MCP_JSON_OBJECT, '{')) {
            if (!id_ok)
                memset(&out->id, 0, sizeof out->id);
            out->kind = MCP_RPC_ERROR_RESPONSE;
            out->error = (mcp_json *)error;
            return;
        }
    }
    if (!id_ok)
        memset(&out->id, 0, sizeof out->id);
    set_invalid(out, version_ok ? "Invalid Request: missing method"
                                : "Invalid Request: jsonrpc must be \"2.0\"");
}

void mcp_rpc_classify(const mcp_json *node, mcp_rpc_message *out)
{
    classify(node, out);
}

static int rpc_parse(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts, bool lazy,
                     mcp_rpc_batch *out)
{
    memset(out, 0, sizeof *out);
    const char *start = first_byte(text, len);
    bool array = start && *start == '[';

    /* The usual request, read in one pass; the rest comes here. */
    if (!lazy && start && *start == '{') {
        mcp_rpc_message *item = mcp_arena_alloc(arena, sizeof *item);
        if (!item)
            return MCP_ENOMEM;
        int rc = mcp_rpc_scan_request(arena, text, len, opts, item);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            out->items = item;
            out->count = 1;
            return 0;
        }
    }

    mcp_json_opts o = opts ? *opts : (mcp_json_opts){0};
    /* Build the envelope objects only; a batch needs one level more. */
    o.lazy_depth = !lazy ? 0 : array ? 2 : 1;

    mcp_json *doc = NULL;
    int rc = mcp_json_parse(arena, text, len, &o, &doc, NULL);
    if (rc == MCP_ENOMEM)
        return MCP_ENOMEM;
    if (rc == MCP_ELIMIT) {
        out->error_code = MCP_RPC_INVALID_REQUEST;
        out->error_message = "Invalid Request: message exceeds the size or nesting limit";
        return 0;
    }
    if (rc != 0) {
        out->error_code = MCP_RPC_PARSE_ERROR;
        out->error_message = "Parse error: invalid JSON";
        return 0;
    }

    if (!mcp_json_is_array(doc)) {
        out->items = mcp_arena_alloc(arena, sizeof *out->items);
        if (!out->items)
            return MCP_ENOMEM;
        out->count = 1;
        classify(doc, &out->items[0]);
        return 0;
    }

    out->is_batch = true;
    size_t n = mcp_json_len(doc);
    if (n == 0) {
        out->error_code = MCP_RPC_INVALID_REQUEST;
        out->error_message = "Invalid Request: empty batch";
        return 0;
    }
    out->items = mcp_arena_alloc(arena, n * sizeof *out->items);
    if (!out->items)
        return MCP_ENOMEM;
    size_t i = 0;
    for (const mcp_json *item = mcp_json_first(doc); item && i < n; item = mcp_json_next(item))
        classify(item, &out->items[i++]);
    out->count = i;
    return 0;
}

int mcp_rpc_parse(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                  mcp_rpc_batch *out)
{
    return rpc_parse(arena, text, len, opts, true, out);
}

int mcp_rpc_parse_built(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                        mcp_rpc_batch *out)
{
    return rpc_parse(arena, text, len, opts, false, out);
}
