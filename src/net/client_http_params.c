/*
 * client_http_params.c — the client side of x-mcp-header (2026-07-28
 * Streamable HTTP): a tool whose inputSchema marks a property with
 * "x-mcp-header": "Region" gets that argument sent again as an
 * "Mcp-Param-Region" header, so gateways can route without the body.
 * A client must not use a tool whose annotations break the rules (empty or
 * non-token name, duplicate ignoring case, on anything but a string,
 * integer or boolean property): mcp_http_tool_headers_check says so before
 * a call, and mcp_http_param_headers_append writes the headers.
 */
#include "net/client_http_internal.h"

#include <stdlib.h>
#include <string.h>

#define PARAM_DEPTH_MAX 8
#define PARAM_COUNT_MAX 32

typedef struct param_walk {
    mcp_buf *out;               /* NULL: only check */
    const mcp_json *args[PARAM_DEPTH_MAX + 1];
    mcp_str names[PARAM_COUNT_MAX];
    size_t count;
} param_walk;

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool same_ignoring_case(mcp_str a, mcp_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        unsigned char x = (unsigned char)a.ptr[i], y = (unsigned char)b.ptr[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* Plain text only when a header can carry it unchanged: printable ASCII,
 * no surrounding whitespace, not mistakable for the base64 form. */
static bool plain_safe(const char *s, size_t len)
{
    if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
        return false;
    if (len >= 2 && s[0] == '=' && s[1] == '?')
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static int append_value(mcp_buf *w, mcp_str name, char type, const mcp_json *v)
{
    if (!v || mcp_json_is_null(v))
        return 0; /* null or absent: no header */
    bool ok = type == 's' ? mcp_json_is_string(v) : type == 'i' ? mcp_json_is_integer(v) : mcp_json_is_bool(v);
    if (!ok)
        return MCP_EINVAL; /* the body would not match the schema */
    mcp_buf_append_cstr(w, "Mcp-Param-");
    mcp_buf_append(w, name.ptr, name.len);
    mcp_buf_append_cstr(w, ": ");
    if (type == 's') {
        const char *s = mcp_json_str(v, "");
        size_t len = mcp_json_str_len(v);
        if (plain_safe(s, len)) {
            mcp_buf_append(w, s, len);
        } else {
            mcp_buf_append_cstr(w, "=?base64?");
            mcp_http_base64_append(w, (const unsigned char *)s, len);
            mcp_buf_append_cstr(w, "?=");
        }
    } else if (type == 'i') {
        mcp_str raw = mcp_json_raw(v);
        mcp_buf_append(w, raw.ptr, raw.len);
    } else {
        mcp_buf_append_cstr(w, mcp_json_bool(v, false) ? "true" : "false");
    }
    mcp_buf_append_cstr(w, "\r\n");
    return 0;
}

static const mcp_json *member(const mcp_json *obj, mcp_str key)
{
    if (!mcp_json_is_object(obj))
        return NULL;
    for (const mcp_json *m = mcp_json_first(obj); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (k.len == key.len && !memcmp(k.ptr, key.ptr, key.len))
            return m;
    }
    return NULL;
}

static int walk(param_walk *pw, const mcp_json *schema, size_t depth)
{
    const mcp_json *props = mcp_json_get(schema, "properties");
    if (!mcp_json_is_object(props))
        return 0;
    if (depth >= PARAM_DEPTH_MAX)
        return MCP_EINVAL;
    for (const mcp_json *p = mcp_json_first(props); p; p = mcp_json_next(p)) {
        mcp_str key = mcp_json_key(p);
        pw->args[depth + 1] = member(pw->args[depth], key);
        const mcp_json *annotation = mcp_json_get(p, "x-mcp-header");
        if (annotation) {
            if (!mcp_json_is_string(annotation))
                return MCP_EINVAL;
            mcp_str name = {mcp_json_str(annotation, ""), mcp_json_str_len(annotation)};
            if (name.len == 0 || pw->count == PARAM_COUNT_MAX)
                return MCP_EINVAL;
            for (size_t i = 0; i < name.len; i++)
                if (!is_tchar((unsigned char)name.ptr[i]))
                    return MCP_EINVAL;
            for (size_t i = 0; i < pw->count; i++)
                if (same_ignoring_case(pw->names[i], name))
                    return MCP_EINVAL;
            pw->names[pw->count++] = name;
            const char *type = mcp_json_str(mcp_json_get(p, "type"), "");
            char t = !strcmp(type, "string") ? 's' : !strcmp(type, "integer") ? 'i' : !strcmp(type, "boolean") ? 'b' : 0;
            if (!t)
                return MCP_EINVAL;
            if (pw->out) {
                int rc = append_value(pw->out, name, t, pw->args[depth + 1]);
                if (rc != 0)
                    return rc;
            }
        }
        int rc = walk(pw, p, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int mcp_http_tool_headers_check(const mcp_json *input_schema)
{
    param_walk pw = {0};
    return walk(&pw, input_schema, 0);
}

int mcp_http_param_headers_append(mcp_buf *out, const mcp_json *input_schema, const mcp_json *arguments)
{
    param_walk pw = {.out = out};
    pw.args[0] = arguments;
    size_t mark = out->len;
    int rc = walk(&pw, input_schema, 0);
    if (rc != 0)
        out->len = mark; /* nothing half-written */
    return rc;
}

/* ---- Tools learnt from tools/list results ---------------------------------------------------- */

struct mcp_http_tools {
    struct mcp_http_tools *next;
    size_t name_len;
    char *schema;  /* inputSchema as JSON text */
    char name[];
};

void mcp_http_tools_learn(mcp_http_tools **list, const mcp_json *result)
{
    const mcp_json *tools = mcp_json_get(result, "tools");
    if (!mcp_json_is_array(tools))
        return;
    for (const mcp_json *tool = mcp_json_first(tools); tool; tool = mcp_json_next(tool)) {
        const mcp_json *name = mcp_json_get(tool, "name");
        const mcp_json *schema = mcp_json_get(tool, "inputSchema");
        if (!mcp_json_is_string(name) || !mcp_json_is_object(schema))
            continue;
        size_t len = mcp_json_str_len(name);
        mcp_str raw = mcp_json_raw(schema);
        mcp_http_tools *it = malloc(sizeof *it + len + 1);
        char *text = malloc(raw.len + 1);
        if (!it || !text) {
            free(it);
            free(text);
            return;
        }
        memcpy(it->name, mcp_json_str(name, ""), len);
        it->name[len] = '\0';
        it->name_len = len;
        memcpy(text, raw.ptr, raw.len);
        text[raw.len] = '\0';
        it->schema = text;
        /* A later listing replaces what an earlier one said. */
        for (mcp_http_tools **p = list; *p; p = &(*p)->next) {
            if ((*p)->name_len == len && !memcmp((*p)->name, it->name, len)) {
                mcp_http_tools *old = *p;
                *p = old->next;
                free(old->schema);
                free(old);
                break;
            }
        }
        it->next = *list;
        *list = it;
    }
}

const char *mcp_http_tools_schema(const mcp_http_tools *list, const char *name, size_t len)
{
    for (; list; list = list->next)
        if (list->name_len == len && !memcmp(list->name, name, len))
            return list->schema;
    return NULL;
}

void mcp_http_tools_free(mcp_http_tools *list)
{
    while (list) {
        mcp_http_tools *next = list->next;
        free(list->schema);
        free(list);
        list = next;
    }
}
