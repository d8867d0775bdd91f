/*
 * JSON Schema compiler: schema text -> mcp_schema tree (schema_internal.h).
 *
 * We check every keyword we know at compile time, so that a tool with a
 * broken schema is refused at registration rather than failing every call
 * later. $ref targets are compiled on first use and memoised by DOM node;
 * the memo entry exists before the target's children are compiled, which is
 * what lets recursive schemas (a tree whose children $ref the tree) close
 * into a cycle instead of recursing forever.
 */
#include "mcp/schema_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_MAX_NESTING 128
#define SCHEMA_PATH_MAX 256

typedef struct ref_memo {
    const mcp_json *target;
    mcp_schema *schema;
    struct ref_memo *next;
} ref_memo;

typedef struct compiler {
    mcp_arena *arena;
    const mcp_json *root;
    char *err;
    size_t errlen;
    char path[SCHEMA_PATH_MAX]; /* JSON pointer of the keyword being compiled */
    size_t path_len;
    ref_memo *memo;
    unsigned depth;
} compiler;

static int compile_into(compiler *c, const mcp_json *json, mcp_schema *node);

static int compile_fail(compiler *c, int code, const char *fmt, ...) MCP_PRINTF(3, 4);
static int compile_fail(compiler *c, int code, const char *fmt, ...) {
    if (!c->err || !c->errlen) return code;
    int n = snprintf(c->err, c->errlen, "schema %s: ", c->path_len ? c->path : "(root)");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Path segments are appended escaped as JSON pointer tokens; a path that
 * would not fit is cut, which only shortens an error message. */
static size_t path_push(compiler *c, const char *seg, size_t len) {
    size_t saved = c->path_len;
    if (c->path_len + 1 < sizeof c->path) c->path[c->path_len++] = '/';
    for (size_t i = 0; i < len && c->path_len + 2 < sizeof c->path; i++) {
        if (seg[i] == '~' || seg[i] == '/') {
            c->path[c->path_len++] = '~';
            c->path[c->path_len++] = seg[i] == '~' ? '0' : '1';
        } else {
            c->path[c->path_len++] = seg[i];
        }
    }
    c->path[c->path_len] = '\0';
    return saved;
}

static size_t path_push_index(compiler *c, size_t index) {
    char num[24];
    int n = snprintf(num, sizeof num, "%zu", index);
    return path_push(c, num, (size_t)n);
}

static void path_pop(compiler *c, size_t saved) {
    c->path_len = saved;
    c->path[saved] = '\0';
}

static bool key_is(mcp_str key, const char *name) {
    return mcp_str_eq_cstr(key, name);
}

static mcp_schema *schema_alloc(compiler *c) {
    mcp_schema *s = mcp_arena_calloc(c->arena, sizeof *s);
    if (!s) return NULL;
    s->boolean = -1;
    s->max_props = SIZE_MAX;
    s->max_items = SIZE_MAX;
    s->max_length = SIZE_MAX;
    return s;
}

static int compile_schema(compiler *c, const mcp_json *json, mcp_schema **out) {
    mcp_schema *s = schema_alloc(c);
    if (!s) return compile_fail(c, MCP_ENOMEM, "out of memory");
    *out = s;
    return compile_into(c, json, s);
}

static int compile_list(compiler *c, const mcp_json *arr, mcp_schema_list *list, const char *keyword) {
    if (!mcp_json_is_array(arr) || mcp_json_len(arr) == 0)
        return compile_fail(c, MCP_EINVAL, "%s must be a non-empty array of schemas", keyword);
    list->count = mcp_json_len(arr);
    list->items = mcp_arena_calloc(c->arena, list->count * sizeof *list->items);
    if (!list->items) return compile_fail(c, MCP_ENOMEM, "out of memory");
    size_t i = 0;
    for (const mcp_json *v = mcp_json_first(arr); v; v = mcp_json_next(v), i++) {
        size_t saved = path_push_index(c, i);
        int rc = compile_schema(c, v, &list->items[i]);
        if (rc) return rc;
        path_pop(c, saved);
    }
    return 0;
}

/* A count keyword (minLength, maxItems ...): a non-negative integer. Values
 * too large for size_t mean "no limit" in practice and are clamped. */
static int compile_count(compiler *c, const mcp_json *v, size_t *out, const char *keyword) {
    double d = mcp_json_num(v, -1.0);
    if (!mcp_json_is_number(v) || d < 0 || d != floor(d))
        return compile_fail(c, MCP_EINVAL, "%s must be a non-negative integer", keyword);
    *out = d >= 18446744073709551615.0 ? SIZE_MAX : (size_t)d;
    return 0;
}

static int compile_limit(compiler *c, const mcp_json *v, mcp_schema_limit *out, const char *keyword) {
    if (!mcp_json_is_number(v)) return compile_fail(c, MCP_EINVAL, "%s must be a number", keyword);
    out->set = true;
    out->value = mcp_json_num(v, 0);
    out->text = mcp_json_raw(v);
    return 0;
}

static int type_bit(mcp_str name, unsigned *bit) {
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"null", MCP_SCHEMA_T_NULL},     {"boolean", MCP_SCHEMA_T_BOOLEAN},
        {"object", MCP_SCHEMA_T_OBJECT}, {"array", MCP_SCHEMA_T_ARRAY},
        {"number", MCP_SCHEMA_T_NUMBER}, {"string", MCP_SCHEMA_T_STRING},
        {"integer", MCP_SCHEMA_T_INTEGER},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (mcp_str_eq_cstr(name, names[i].name)) {
            *bit = names[i].bit;
            return 0;
        }
    }
    return MCP_EINVAL;
}

static int compile_type(compiler *c, const mcp_json *v, mcp_schema *s) {
    unsigned bit;
    if (mcp_json_is_string(v)) {
        mcp_str name = mcp_json_str_slice(v);
        if (type_bit(name, &bit))
            return compile_fail(c, MCP_EINVAL, "unknown type \"%.*s\"", (int)name.len, name.ptr);
        s->types = bit;
        return 0;
    }
    if (!mcp_json_is_array(v) || mcp_json_len(v) == 0)
        return compile_fail(c, MCP_EINVAL, "type must be a type name or a non-empty array of them");
    for (const mcp_json *t = mcp_json_first(v); t; t = mcp_json_next(t)) {
        mcp_str name = mcp_json_str_slice(t);
        if (!mcp_json_is_string(t) || type_bit(name, &bit))
            return compile_fail(c, MCP_EINVAL, "type array must hold only type names");
        s->types |= bit;
    }
    return 0;
}

static int compile_properties(compiler *c, const mcp_json *v, mcp_schema *s) {
    if (!mcp_json_is_object(v)) return compile_fail(c, MCP_EINVAL, "properties must be an object");
    s->prop_count = mcp_json_len(v);
    if (!s->prop_count) return 0;
    s->props = mcp_arena_calloc(c->arena, s->prop_count * sizeof *s->props);
    if (!s->props) return compile_fail(c, MCP_ENOMEM, "out of memory");
    size_t i = 0;
    for (const mcp_json *m = mcp_json_first(v); m; m = mcp_json_next(m), i++) {
        mcp_str key = mcp_json_key(m);
        s->props[i].name = key;
        size_t saved = path_push(c, key.ptr, key.len);
        int rc = compile_schema(c, m, &s->props[i].schema);
        if (rc) return rc;
        path_pop(c, saved);
    }
    return 0;
}

static int compile_required(compiler *c, const mcp_json *v, mcp_schema *s) {
    if (!mcp_json_is_array(v)) return compile_fail(c, MCP_EINVAL, "required must be an array of strings");
    s->required_count = mcp_json_len(v);
    if (!s->required_count) return 0;
    s->required = mcp_arena_calloc(c->arena, s->required_count * sizeof *s->required);
    if (!s->required) return compile_fail(c, MCP_ENOMEM, "out of memory");
    size_t i = 0;
    for (const mcp_json *r = mcp_json_first(v); r; r = mcp_json_next(r), i++) {
        if (!mcp_json_is_string(r)) return compile_fail(c, MCP_EINVAL, "required must be an array of strings");
        s->required[i] = mcp_json_str_slice(r);
    }
    return 0;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decode one reference token of a URI fragment: %XX first (it is a URI),
 * then ~1 and ~0 (it is a JSON pointer). Returns the decoded length or -1. */
static long decode_token(const char *p, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == '%') {
            if (i + 2 >= len) return -1;
            int hi = hex_value(p[i + 1]);
            int lo = hex_value(p[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n >= cap) return -1;
        out[n++] = ch;
    }
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (out[r] == '~') {
            if (r + 1 >= n || (out[r + 1] != '0' && out[r + 1] != '1')) return -1;
            out[w++] = out[r + 1] == '0' ? '~' : '/';
            r++;
        } else {
            out[w++] = out[r];
        }
    }
    return (long)w;
}

static const mcp_json *resolve_pointer(const mcp_json *root, mcp_str ref) {
    /* ref starts after '#': "" is the root, otherwise "/a/b". */
    const mcp_json *cur = root;
    size_t i = 0;
    if (ref.len == 0) return root;
    if (ref.ptr[0] != '/') return NULL;
    char token[256];
    while (i < ref.len) {
        i++; /* the '/' */
        size_t start = i;
        while (i < ref.len && ref.ptr[i] != '/') i++;
        long n = decode_token(ref.ptr + start, i - start, token, sizeof token);
        if (n < 0) return NULL;
        if (mcp_json_is_object(cur)) {
            cur = mcp_json_get_n(cur, token, (size_t)n);
        } else if (mcp_json_is_array(cur)) {
            if (n == 0 || (n > 1 && token[0] == '0')) return NULL;
            size_t index = 0;
            for (long k = 0; k < n; k++) {
                if (token[k] < '0' || token[k] > '9' || index > SIZE_MAX / 10 - 1) return NULL;
                index = index * 10 + (size_t)(token[k] - '0');
            }
            cur = mcp_json_at(cur, index);
        } else {
            return NULL;
        }
        if (!cur) return NULL;
    }
    return cur;
}

static int compile_ref(compiler *c, const mcp_json *v, mcp_schema *s) {
    if (!mcp_json_is_string(v)) return compile_fail(c, MCP_EINVAL, "$ref must be a string");
    mcp_str ref = mcp_json_str_slice(v);
    if (ref.len == 0 || ref.ptr[0] != '#')
        return compile_fail(c, MCP_EINVAL, "only local $ref (\"#/...\") is supported, got \"%.*s\"",
                            (int)ref.len, ref.ptr);
    mcp_str fragment = {ref.ptr + 1, ref.len - 1};
    const mcp_json *target = resolve_pointer(c->root, fragment);
    if (!target) return compile_fail(c, MCP_EINVAL, "$ref \"%.*s\" does not resolve", (int)ref.len, ref.ptr);
    for (ref_memo *m = c->memo; m; m = m->next) {
        if (m->target == target) {
            s->ref = m->schema;
            return 0;
        }
    }
    ref_memo *m = mcp_arena_alloc(c->arena, sizeof *m);
    mcp_schema *t = schema_alloc(c);
    if (!m || !t) return compile_fail(c, MCP_ENOMEM, "out of memory");
    m->target = target;
    m->schema = t;
    m->next = c->memo;
    c->memo = m;
    s->ref = t;
    /* Errors inside the target are reported at the target's own location. */
    char saved_path[SCHEMA_PATH_MAX];
    size_t saved_len = c->path_len;
    memcpy(saved_path, c->path, saved_len + 1);
    size_t n = fragment.len < sizeof c->path - 1 ? fragment.len : sizeof c->path - 1;
    memcpy(c->path, fragment.ptr, n);
    c->path[n] = '\0';
    c->path_len = n;
    int rc = compile_into(c, target, t);
    if (rc) return rc;
    memcpy(c->path, saved_path, saved_len + 1);
    c->path_len = saved_len;
    return 0;
}

/* exclusiveMinimum/Maximum: a number (draft 6 and later) or, in draft 4, a
 * boolean that turns minimum/maximum exclusive; *flag records the latter. */
static int compile_exclusive(compiler *c, const mcp_json *v, mcp_schema_limit *limit, bool *flag,
                             const char *keyword) {
    if (mcp_json_is_bool(v)) {
        *flag = mcp_json_bool(v, false);
        return 0;
    }
    return compile_limit(c, v, limit, keyword);
}

/* A pattern our matcher cannot run is dropped (*out stays NULL) rather
 * than refused: the schema is still valid JSON Schema. */
static int compile_regex(compiler *c, const mcp_json *v, mcp_schema_regex **out) {
    if (!mcp_json_is_string(v)) return compile_fail(c, MCP_EINVAL, "a pattern must be a string");
    mcp_str text = mcp_json_str_slice(v);
    int rc = mcp_schema_regex_compile(c->arena, text.ptr, text.len, out);
    if (rc == MCP_EUNSUPPORTED) {
        *out = NULL;
        return 0;
    }
    if (rc == MCP_EINVAL)
        return compile_fail(c, rc, "\"%.*s\" is not a valid regular expression", (int)text.len, text.ptr);
    if (rc) return compile_fail(c, rc, "out of memory");
    return 0;
}

static int compile_pattern(compiler *c, const mcp_json *v, mcp_schema *s) {
    int rc = compile_regex(c, v, &s->pattern);
    if (!rc) s->pattern_text = mcp_json_str_slice(v);
    return rc;
}

static int compile_pattern_properties(compiler *c, const mcp_json *v, mcp_schema *s) {
    if (!mcp_json_is_object(v)) return compile_fail(c, MCP_EINVAL, "patternProperties must be an object");
    size_t n = mcp_json_len(v);
    if (!n) return 0;
    s->pattern_props = mcp_arena_calloc(c->arena, n * sizeof *s->pattern_props);
    if (!s->pattern_props) return compile_fail(c, MCP_ENOMEM, "out of memory");
    for (const mcp_json *m = mcp_json_first(v); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        size_t saved = path_push(c, key.ptr, key.len);
        mcp_schema_pattern_prop *pp = &s->pattern_props[s->pattern_prop_count];
        int rc = mcp_schema_regex_compile(c->arena, key.ptr, key.len, &pp->regex);
        if (rc == MCP_EINVAL)
            return compile_fail(c, rc, "\"%.*s\" is not a valid regular expression", (int)key.len, key.ptr);
        if (rc && rc != MCP_EUNSUPPORTED) return compile_fail(c, rc, "out of memory");
        rc = compile_schema(c, m, &pp->schema); /* checked even when its pattern is not */
        if (rc) return rc;
        path_pop(c, saved);
        if (pp->regex) s->pattern_prop_count++;
        else s->pattern_props_partial = true;
    }
    return 0;
}

static int compile_keyword(compiler *c, mcp_str key, const mcp_json *v, mcp_schema *s, bool *excl_min_flag,
                           bool *excl_max_flag) {
    if (key_is(key, "type")) return compile_type(c, v, s);
    if (key_is(key, "enum")) {
        if (!mcp_json_is_array(v)) return compile_fail(c, MCP_EINVAL, "enum must be an array");
        s->enum_values = v;
        return 0;
    }
    if (key_is(key, "const")) {
        s->const_value = v;
        s->has_const = true;
        return 0;
    }
    if (key_is(key, "properties")) return compile_properties(c, v, s);
    if (key_is(key, "required")) return compile_required(c, v, s);
    if (key_is(key, "additionalProperties")) return compile_schema(c, v, &s->additional);
    if (key_is(key, "minProperties")) return compile_count(c, v, &s->min_props, "minProperties");
    if (key_is(key, "maxProperties")) return compile_count(c, v, &s->max_props, "maxProperties");
    if (key_is(key, "items")) {
        if (mcp_json_is_array(v)) return compile_list(c, v, &s->prefix, "items");
        return compile_schema(c, v, &s->items);
    }
    if (key_is(key, "prefixItems")) return compile_list(c, v, &s->prefix, "prefixItems");
    if (key_is(key, "contains")) return compile_schema(c, v, &s->contains);
    if (key_is(key, "minItems")) return compile_count(c, v, &s->min_items, "minItems");
    if (key_is(key, "maxItems")) return compile_count(c, v, &s->max_items, "maxItems");
    if (key_is(key, "uniqueItems")) {
        if (!mcp_json_is_bool(v)) return compile_fail(c, MCP_EINVAL, "uniqueItems must be a boolean");
        s->unique_items = mcp_json_bool(v, false);
        return 0;
    }
    if (key_is(key, "minimum")) return compile_limit(c, v, &s->minimum, "minimum");
    if (key_is(key, "maximum")) return compile_limit(c, v, &s->maximum, "maximum");
    if (key_is(key, "exclusiveMinimum"))
        return compile_exclusive(c, v, &s->exclusive_minimum, excl_min_flag, "exclusiveMinimum");
    if (key_is(key, "exclusiveMaximum"))
        return compile_exclusive(c, v, &s->exclusive_maximum, excl_max_flag, "exclusiveMaximum");
    if (key_is(key, "multipleOf")) {
        int rc = compile_limit(c, v, &s->multiple_of, "multipleOf");
        if (!rc && !(s->multiple_of.value > 0))
            return compile_fail(c, MCP_EINVAL, "multipleOf must be greater than 0");
        return rc;
    }
    if (key_is(key, "minLength")) return compile_count(c, v, &s->min_length, "minLength");
    if (key_is(key, "maxLength")) return compile_count(c, v, &s->max_length, "maxLength");
    if (key_is(key, "allOf")) return compile_list(c, v, &s->all_of, "allOf");
    if (key_is(key, "anyOf")) return compile_list(c, v, &s->any_of, "anyOf");
    if (key_is(key, "oneOf")) return compile_list(c, v, &s->one_of, "oneOf");
    if (key_is(key, "not")) return compile_schema(c, v, &s->not_schema);
    if (key_is(key, "if")) return compile_schema(c, v, &s->if_schema);
    if (key_is(key, "then")) return compile_schema(c, v, &s->then_schema);
    if (key_is(key, "else")) return compile_schema(c, v, &s->else_schema);
    if (key_is(key, "$ref")) return compile_ref(c, v, s);
    if (key_is(key, "pattern")) return compile_pattern(c, v, s);
    if (key_is(key, "patternProperties")) return compile_pattern_properties(c, v, s);
    /* Recognised but not enforced (see schema.h): still type-checked so that
     * a typo in the schema is caught. */
    if (key_is(key, "format")) {
        if (!mcp_json_is_string(v)) return compile_fail(c, MCP_EINVAL, "format must be a string");
        return 0;
    }
    if (key_is(key, "$defs") || key_is(key, "definitions")) {
        if (!mcp_json_is_object(v)) return compile_fail(c, MCP_EINVAL, "%.*s must be an object", (int)key.len, key.ptr);
        return 0;
    }
    return 0; /* unknown keywords are annotations */
}

/* Sets s->plain (see schema_internal.h) once s and its subschemas are
 * compiled. A plain schema has no $ref, so no cycle reaches one. */
static void mark_plain(mcp_schema *s) {
    s->plain = false;
    s->flat = false;
    if (s->boolean >= 0) {
        s->plain = s->boolean == 1;
        return;
    }
    if (s->enum_values || s->has_const || s->ref || s->all_of.count || s->any_of.count || s->one_of.count ||
        s->not_schema || s->if_schema || s->then_schema || s->else_schema)
        return;
    if (s->minimum.set || s->maximum.set || s->exclusive_minimum.set || s->exclusive_maximum.set ||
        s->multiple_of.set)
        return;
    if (s->min_length != 0 || s->max_length != SIZE_MAX || s->pattern) return;
    if (s->prefix.count || s->items || s->contains || s->min_items != 0 || s->max_items != SIZE_MAX ||
        s->unique_items)
        return;
    if (s->pattern_prop_count || s->pattern_props_partial || s->min_props != 0 || s->max_props != SIZE_MAX) return;
    if (s->additional && s->additional->boolean < 0) return;
    if (s->prop_count > 64) return;
    for (size_t i = 0; i < s->prop_count; i++)
        if (!s->props[i].schema->plain) return;
    uint64_t required = 0;
    for (size_t r = 0; r < s->required_count; r++) {
        size_t i = 0;
        while (i < s->prop_count && !mcp_str_eq(s->props[i].name, s->required[r])) i++;
        if (i == s->prop_count) return; /* a required name with no schema: the full way */
        required |= (uint64_t)1 << i;
    }
    s->required_props = required;
    s->plain = true;
    s->flat = true;
    for (size_t i = 0; i < s->prop_count && s->flat; i++) {
        const mcp_schema *p = s->props[i].schema;
        /* A plain property schema with no properties and no additional
         * schema accepts any members when it accepts an object at all. */
        s->flat = p->boolean == 1 || (p->boolean < 0 && p->prop_count == 0 && !p->additional);
    }
}

static int compile_into(compiler *c, const mcp_json *json, mcp_schema *s) {
    if (mcp_json_type_of(json) == MCP_JSON_TRUE || mcp_json_type_of(json) == MCP_JSON_FALSE) {
        s->boolean = mcp_json_bool(json, true) ? 1 : 0;
        mark_plain(s);
        return 0;
    }
    if (!mcp_json_is_object(json)) return compile_fail(c, MCP_EINVAL, "a schema must be an object or a boolean");
    if (++c->depth > SCHEMA_MAX_NESTING) return compile_fail(c, MCP_ELIMIT, "schema nested too deeply");
    bool excl_min_flag = false, excl_max_flag = false;
    for (const mcp_json *m = mcp_json_first(json); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        size_t saved = path_push(c, key.ptr, key.len);
        int rc = compile_keyword(c, key, m, s, &excl_min_flag, &excl_max_flag);
        if (rc) return rc;
        path_pop(c, saved);
    }
    /* Draft 4: "exclusiveMinimum": true makes "minimum" exclusive. */
    if (excl_min_flag && s->minimum.set) {
        s->exclusive_minimum = s->minimum;
        s->minimum.set = false;
    }
    if (excl_max_flag && s->maximum.set) {
        s->exclusive_maximum = s->maximum;
        s->maximum.set = false;
    }
    mark_plain(s);
    c->depth--;
    return 0;
}

int mcp_schema_compile(mcp_arena *arena, const char *schema_json, size_t len, mcp_schema **out, char *err,
                       size_t errlen) {
    compiler c = {.arena = arena, .err = err, .errlen = errlen};
    if (err && errlen) err[0] = '\0';
    *out = NULL;
    /* The DOM points into its source text, so the text must live as long as
     * the arena does. */
    char *text = mcp_arena_strndup(arena, schema_json, len);
    if (!text) return compile_fail(&c, MCP_ENOMEM, "out of memory");
    mcp_json *root;
    mcp_json_error jerr;
    int rc = mcp_json_parse(arena, text, len, NULL, &root, &jerr);
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "schema is not valid JSON: %s at offset %zu", jerr.message, jerr.offset);
        return rc;
    }
    c.root = root;
    rc = compile_schema(&c, root, out);
    if (rc) *out = NULL;
    return rc;
}
