/*
 * param_headers.c — tool parameters mirrored into HTTP headers (2026-07-28,
 * Streamable HTTP: a property schema in a tool's inputSchema carries
 * "x-mcp-header": "Region" and clients send the argument's value again as
 * "Mcp-Param-Region"). Gateways route on the header; the server, which
 * executes on the body, must check that both say the same thing.
 *
 * At registration we find every annotated property (at any depth under
 * "properties"), check the annotation the way clients will (an HTTP token,
 * unique ignoring case, only on string, integer or boolean properties: a
 * client drops a tool that breaks these rules, so we refuse to publish one)
 * and keep the path to each. The HTTP transport then calls
 * mcp_server_check_param_headers with the request's headers and arguments.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define PARAM_PATH_MAX 8

struct mcp_param_header {
    const char *name;                 /* the x-mcp-header value */
    const char *path[PARAM_PATH_MAX]; /* property names from arguments down */
    size_t depth;
    char type;                        /* 's'tring, 'i'nteger, 'b'oolean */
};

static bool case_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

typedef struct collect {
    mcp_registry_entry *entry;
    mcp_param_header items[MCP_PARAM_HEADERS_MAX];
    size_t count;
    const char *path[PARAM_PATH_MAX];
} collect;

static int walk(collect *c, const mcp_json *schema, size_t depth)
{
    const mcp_json *props = mcp_json_get(schema, "properties");
    if (!mcp_json_is_object(props))
        return 0;
    for (const mcp_json *p = mcp_json_first(props); p; p = mcp_json_next(p)) {
        mcp_str key = mcp_json_key(p);
        if (depth >= PARAM_PATH_MAX)
            return MCP_EINVAL;
        c->path[depth] = mcp_arena_strndup(&c->entry->arena, key.ptr, key.len);
        if (!c->path[depth])
            return MCP_ENOMEM;
        const mcp_json *annotation = mcp_json_get(p, "x-mcp-header");
        if (annotation) {
            if (!mcp_json_is_string(annotation))
                return MCP_EINVAL;
            const char *name = mcp_json_str(annotation, "");
            size_t len = mcp_json_str_len(annotation);
            if (!mcp_str_is_http_token((mcp_str){name, len}) || strlen(name) != len)
                return MCP_EINVAL;
            for (size_t i = 0; i < c->count; i++)
                if (case_eq(c->items[i].name, strlen(c->items[i].name), name, len))
                    return MCP_EINVAL;
            const char *type = mcp_json_str(mcp_json_get(p, "type"), "");
            char t = strcmp(type, "string") == 0    ? 's'
                     : strcmp(type, "integer") == 0 ? 'i'
                     : strcmp(type, "boolean") == 0 ? 'b'
                                                    : 0;
            if (!t || c->count == MCP_PARAM_HEADERS_MAX)
                return MCP_EINVAL;
            mcp_param_header *h = &c->items[c->count++];
            h->name = mcp_arena_strndup(&c->entry->arena, name, len);
            if (!h->name)
                return MCP_ENOMEM;
            h->type = t;
            h->depth = depth + 1;
            memcpy(h->path, c->path, h->depth * sizeof h->path[0]);
        }
        int rc = walk(c, p, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int mcp_param_headers_compile(mcp_registry_entry *e, const char *input_schema)
{
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&scratch, input_schema, strlen(input_schema), NULL, &doc, NULL);
    collect *c = rc == 0 ? calloc(1, sizeof *c) : NULL;
    if (rc == 0 && !c)
        rc = MCP_ENOMEM;
    if (rc == 0) {
        c->entry = e;
        rc = walk(c, doc, 0);
    }
    if (rc == 0 && c->count) {
        e->param_headers = mcp_arena_calloc(&e->arena, c->count * sizeof *e->param_headers);
        if (!e->param_headers) {
            rc = MCP_ENOMEM;
        } else {
            memcpy(e->param_headers, c->items, c->count * sizeof *e->param_headers);
            e->param_header_count = c->count;
        }
    }
    free(c);
    mcp_arena_free(&scratch);
    return rc;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with padding into out (at least len bytes); length or -1. */
static long b64_decode(const char *in, size_t len, char *out)
{
    if (len % 4)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)in[i + k];
            v[k] = ch == '=' && i + 4 == len && k >= 2 ? -2 : b64_value(ch);
            if (v[k] == -1)
                return -1;
        }
        if (v[2] == -2 && v[3] != -2)
            return -1;
        out[n++] = (char)(v[0] << 2 | v[1] >> 4);
        if (v[2] != -2)
            out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (v[3] != -2)
            out[n++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    return (long)n;
}

static const mcp_json *value_at(const mcp_json *args, const mcp_param_header *h)
{
    const mcp_json *v = args;
    for (size_t i = 0; i < h->depth && v; i++)
        v = mcp_json_get(v, h->path[i]);
    return v;
}

static int mismatch(mcp_buf *why, const char *fmt, const char *name)
{
    if (why) {
        mcp_buf_reset(why);
        mcp_buf_appendf(why, fmt, name);
    }
    return MCP_EINVAL;
}

/* Does the (decoded) header text say what the body value says? */
static bool same_value(const mcp_param_header *h, const mcp_json *v, const char *text, size_t len)
{
    switch (h->type) {
    case 's':
        return mcp_json_is_string(v) && mcp_json_str_len(v) == len && memcmp(mcp_json_str(v, ""), text, len) == 0;
    case 'b':
        return mcp_json_is_bool(v) && len == (mcp_json_bool(v, false) ? 4u : 5u) &&
               memcmp(text, mcp_json_bool(v, false) ? "true" : "false", len) == 0;
    case 'i': {
        /* Compared as numbers: "42.0" is 42. */
        char buf[64];
        if (!mcp_json_is_number(v) || len == 0 || len >= sizeof buf)
            return false;
        memcpy(buf, text, len);
        buf[len] = '\0';
        mcp_arena scratch;
        mcp_arena_init(&scratch, 256);
        mcp_json *num = NULL;
        bool ok = mcp_json_parse(&scratch, buf, len, NULL, &num, NULL) == 0 && mcp_json_is_number(num) &&
                  mcp_json_num(num, 0) == mcp_json_num(v, 1);
        mcp_arena_free(&scratch);
        return ok;
    }
    default:
        return false;
    }
}

int mcp_server_check_param_headers(mcp_server *server, const char *tool, const mcp_json *arguments,
                                   const mcp_header_field *headers, size_t count, mcp_buf *why)
{
    if (!server || !tool || (count && !headers))
        return MCP_EINVAL;
    /* The usual server declares none: no snapshot, no lookup. */
    if (!atomic_load_explicit(&server->param_header_tools, memory_order_relaxed))
        return 0;
    mcp_registry_snapshot *snap = mcp_server_snapshot_acquire(server);
    const mcp_registry_entry *e = mcp_registry_find_tool(snap, tool, strlen(tool));
    int rc = 0;
    for (size_t i = 0; e && rc == 0 && i < e->param_header_count; i++) {
        const mcp_param_header *h = &e->param_headers[i];
        const mcp_header_field *found = NULL;
        for (size_t k = 0; k < count && !found; k++) {
            const mcp_header_field *hd = &headers[k];
            size_t nlen = hd->name_len;
            if (nlen == strlen(h->name) + 10 && case_eq(hd->name, 10, "Mcp-Param-", 10) &&
                case_eq(hd->name + 10, nlen - 10, h->name, strlen(h->name)))
                found = hd;
        }
        const mcp_json *v = value_at(arguments, h);
        bool has_value = v && !mcp_json_is_null(v);
        if (!found) {
            if (has_value)
                rc = mismatch(why, "Header mismatch: Mcp-Param-%s header is missing", h->name);
            continue;
        }
        if (!has_value) {
            rc = mismatch(why, "Header mismatch: Mcp-Param-%s header has no value in the body", h->name);
            continue;
        }
        for (size_t k = 0; k < found->value_len; k++) {
            unsigned char ch = (unsigned char)found->value[k];
            if (!(ch == '\t' || (ch >= 0x20 && ch <= 0x7e))) {
                rc = mismatch(why, "Header mismatch: Mcp-Param-%s header contains invalid characters", h->name);
                break;
            }
        }
        if (rc != 0)
            break;
        const char *text = found->value;
        size_t len = found->value_len;
        char *decoded = NULL;
        if (len >= 11 && memcmp(text, "=?base64?", 9) == 0 && memcmp(text + len - 2, "?=", 2) == 0) {
            decoded = malloc(len);
            long n = decoded ? b64_decode(text + 9, len - 11, decoded) : -1;
            if (n < 0) {
                free(decoded);
                rc = mismatch(why, "Header mismatch: Mcp-Param-%s header is not valid base64", h->name);
                break;
            }
            text = decoded;
            len = (size_t)n;
        }
        if (!same_value(h, v, text, len))
            rc = mismatch(why, "Header mismatch: Mcp-Param-%s header value does not match the body", h->name);
        free(decoded);
    }
    mcp_registry_snapshot_release(snap);
    return rc;
}
