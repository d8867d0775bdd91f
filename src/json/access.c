/*
 * Read-only accessors over the DOM. Every function takes NULL and returns
 * the "absent" answer, so lookups chain without checks:
 * mcp_json_str(mcp_json_get(mcp_json_get(msg, "params"), "name"), "").
 * RAW nodes answer as absent here; mcp_json_expand turns them into real ones.
 */
#include "json/json_internal.h"

mcp_json_type mcp_json_type_of(const mcp_json *v) {
    return v ? (mcp_json_type)v->type : MCP_JSON_NULL;
}

bool mcp_json_is_null(const mcp_json *v) { return !v || v->type == MCP_JSON_NULL; }
bool mcp_json_is_bool(const mcp_json *v) { return v && (v->type == MCP_JSON_TRUE || v->type == MCP_JSON_FALSE); }
bool mcp_json_is_number(const mcp_json *v) { return v && v->type == MCP_JSON_NUMBER; }
bool mcp_json_is_integer(const mcp_json *v) {
    return v && v->type == MCP_JSON_NUMBER && (v->flags & MCP_JSON_F_INT);
}
bool mcp_json_is_string(const mcp_json *v) { return v && v->type == MCP_JSON_STRING; }
bool mcp_json_is_array(const mcp_json *v) { return v && v->type == MCP_JSON_ARRAY; }
bool mcp_json_is_object(const mcp_json *v) { return v && v->type == MCP_JSON_OBJECT; }

mcp_str mcp_json_raw(const mcp_json *v) {
    if (!v) return (mcp_str){NULL, 0};
    return (mcp_str){v->src, v->src_len};
}

const char *mcp_json_str(const mcp_json *v, const char *fallback) {
    if (!v || v->type != MCP_JSON_STRING) return fallback;
    return mcp_json_string_ready(v)->u.s.ptr;
}

size_t mcp_json_str_len(const mcp_json *v) {
    if (!v || v->type != MCP_JSON_STRING) return 0;
    /* Without escapes the length is the source body's: no decoding. */
    if (mcp_json_flags_of(v) & MCP_JSON_F_STR_CLEAN) return v->src_len - 2;
    return mcp_json_string_ready(v)->u.s.len;
}

mcp_str mcp_json_str_slice(const mcp_json *v) {
    if (!v || v->type != MCP_JSON_STRING) return (mcp_str){NULL, 0};
    v = mcp_json_string_ready(v);
    return (mcp_str){v->u.s.ptr, v->u.s.len};
}

mcp_str mcp_json_str_view(const mcp_json *v) {
    if (!v || v->type != MCP_JSON_STRING) return (mcp_str){NULL, 0};
    /* Without escapes the value is the source body: read in place. */
    if (mcp_json_flags_of(v) & MCP_JSON_F_STR_CLEAN) return (mcp_str){v->src + 1, v->src_len - 2};
    v = mcp_json_string_ready(v);
    return (mcp_str){v->u.s.ptr, v->u.s.len};
}

double mcp_json_num(const mcp_json *v, double fallback) {
    return v && v->type == MCP_JSON_NUMBER ? v->u.n.d : fallback;
}

/* Accessors repeat each other's tests instead of calling each other: the
 * library is built position-independent, where a call from one exported
 * function to another stays a call. */
int64_t mcp_json_int(const mcp_json *v, int64_t fallback) {
    return v && v->type == MCP_JSON_NUMBER && (v->flags & MCP_JSON_F_INT) ? v->u.n.i : fallback;
}

bool mcp_json_bool(const mcp_json *v, bool fallback) {
    if (!v) return fallback;
    if (v->type == MCP_JSON_TRUE) return true;
    if (v->type == MCP_JSON_FALSE) return false;
    return fallback;
}

static inline mcp_json *get_n(const mcp_json *obj, const char *key, size_t key_len) {
    if (!obj || obj->type != MCP_JSON_OBJECT || (!key && key_len)) return NULL;
    mcp_json *found = NULL;
    /* The last match wins, so the scan cannot stop at the first one. */
    for (mcp_json *m = obj->u.c.first; m; m = m->next)
        if (m->key_len == key_len && mcp_json_bytes_equal(m->key, key, key_len)) found = m;
    return found;
}

mcp_json *mcp_json_get_n(const mcp_json *obj, const char *key, size_t key_len) {
    return get_n(obj, key, key_len);
}

mcp_json *mcp_json_get(const mcp_json *obj, const char *key) {
    if (!key) return NULL;
    return get_n(obj, key, strlen(key));
}

size_t mcp_json_len(const mcp_json *v) {
    if (!v || (v->type != MCP_JSON_ARRAY && v->type != MCP_JSON_OBJECT)) return 0;
    return v->u.c.count;
}

mcp_json *mcp_json_first(const mcp_json *container) {
    if (!container || (container->type != MCP_JSON_ARRAY && container->type != MCP_JSON_OBJECT)) return NULL;
    return container->u.c.first;
}

mcp_json *mcp_json_at(const mcp_json *arr, size_t index) {
    if (!arr || arr->type != MCP_JSON_ARRAY || index >= arr->u.c.count) return NULL;
    mcp_json *e = arr->u.c.first;
    while (index--) e = e->next;
    return e;
}

mcp_json *mcp_json_next(const mcp_json *item) {
    return item ? item->next : NULL;
}

mcp_str mcp_json_key(const mcp_json *member_value) {
    if (!member_value || !member_value->key) return (mcp_str){NULL, 0};
    return (mcp_str){member_value->key, member_value->key_len};
}
