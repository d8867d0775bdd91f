/*
 * JSON Schema validator: walks an instance against a compiled mcp_schema
 * (schema_internal.h) and reports the first error with the JSON pointer of
 * the offending value.
 *
 * The instance path is kept as a stack of (key or index) segments and only
 * rendered when an error is reported, so a valid instance costs no string
 * work. Branches that are allowed to fail (anyOf, oneOf, not, if, contains)
 * run "quiet": failures return MCP_EINVAL without formatting anything.
 */
#include "mcp/schema_internal.h"

#include <math.h>
#include <string.h>

/* Bounds recursion through $ref cycles that consume no instance depth,
 * e.g. {"$ref":"#"} at the root. */
#define VALIDATE_MAX_DEPTH 512
/* Instances nested deeper than this are refused; the JSON parser's own
 * default limit (128) is lower. Keeps the validator on the stack (~6 KiB). */
#define VALIDATE_MAX_PATH 256

typedef struct path_seg {
    mcp_str key; /* key.ptr == NULL: an array index */
    size_t index;
} path_seg;

typedef struct validator {
    mcp_buf *out;
    unsigned quiet;
    unsigned depth;
    size_t path_len;
    path_seg path[VALIDATE_MAX_PATH];
    mcp_arena scratch; /* RAW instance nodes parsed on demand */
    bool scratch_used;
} validator;

static int check(validator *v, const mcp_schema *s, const mcp_json *inst);

/* ---- Error reporting --------------------------------------------------------- */

static void render_path(validator *v) {
    if (v->path_len == 0) {
        mcp_buf_append_cstr(v->out, "(root)");
        return;
    }
    for (size_t i = 0; i < v->path_len; i++) {
        const path_seg *seg = &v->path[i];
        mcp_buf_append_char(v->out, '/');
        if (!seg->key.ptr) {
            mcp_buf_appendf(v->out, "%zu", seg->index);
            continue;
        }
        for (size_t k = 0; k < seg->key.len; k++) {
            char ch = seg->key.ptr[k];
            if (ch == '~') mcp_buf_append_cstr(v->out, "~0");
            else if (ch == '/') mcp_buf_append_cstr(v->out, "~1");
            else mcp_buf_append_char(v->out, ch);
        }
    }
}

/* Starts an error message; NULL when nothing should be written. */
static mcp_buf *error_begin(validator *v) {
    if (v->quiet || !v->out) return NULL;
    mcp_buf_reset(v->out);
    render_path(v);
    mcp_buf_append_cstr(v->out, ": ");
    return v->out;
}

static int fail(validator *v, const char *fmt, ...) MCP_PRINTF(2, 3);
static int fail(validator *v, const char *fmt, ...) {
    mcp_buf *out = error_begin(v);
    if (out) {
        va_list ap;
        va_start(ap, fmt);
        mcp_buf_vappendf(out, fmt, ap);
        va_end(ap);
    }
    return MCP_EINVAL;
}

/* An error that names an object member: the key is quoted and escaped as
 * JSON, because keys may hold anything. */
static int fail_key(validator *v, const char *before, mcp_str key, const char *after) {
    mcp_buf *out = error_begin(v);
    if (out) {
        mcp_buf_append_cstr(out, before);
        mcp_json_escape(out, key.ptr, key.len);
        mcp_buf_append_cstr(out, after);
    }
    return MCP_EINVAL;
}

static bool push_key(validator *v, mcp_str key) {
    if (v->path_len >= VALIDATE_MAX_PATH) return false;
    v->path[v->path_len++] = (path_seg){.key = key};
    return true;
}

static bool push_index(validator *v, size_t index) {
    if (v->path_len >= VALIDATE_MAX_PATH) return false;
    v->path[v->path_len++] = (path_seg){.index = index};
    return true;
}

/* ---- Instance helpers ------------------------------------------------------------ */

/* A lazily parsed node is parsed for real into the scratch arena. The
 * instance is const, so we build a fresh DOM rather than expanding in place. */
static const mcp_json *resolve(validator *v, const mcp_json *inst) {
    if (mcp_json_type_of(inst) != MCP_JSON_RAW) return inst;
    if (!v->scratch_used) {
        mcp_arena_init(&v->scratch, 0);
        v->scratch_used = true;
    }
    mcp_str raw = mcp_json_raw(inst);
    mcp_json *doc = NULL;
    if (mcp_json_parse(&v->scratch, raw.ptr, raw.len, NULL, &doc, NULL) != 0) return NULL;
    return doc;
}

static bool is_integral(const mcp_json *inst) {
    if (!mcp_json_is_number(inst)) return false;
    double d = mcp_json_num(inst, NAN);
    return isfinite(d) && d == floor(d);
}

static const char *type_name(const mcp_json *inst) {
    switch (mcp_json_type_of(inst)) {
    case MCP_JSON_NULL: return "null";
    case MCP_JSON_FALSE:
    case MCP_JSON_TRUE: return "boolean";
    case MCP_JSON_NUMBER: return is_integral(inst) ? "integer" : "number";
    case MCP_JSON_STRING: return "string";
    case MCP_JSON_ARRAY: return "array";
    case MCP_JSON_OBJECT: return "object";
    default: return "value";
    }
}

static bool type_matches(unsigned types, const mcp_json *inst) {
    switch (mcp_json_type_of(inst)) {
    case MCP_JSON_NULL: return types & MCP_SCHEMA_T_NULL;
    case MCP_JSON_FALSE:
    case MCP_JSON_TRUE: return types & MCP_SCHEMA_T_BOOLEAN;
    case MCP_JSON_NUMBER:
        return (types & MCP_SCHEMA_T_NUMBER) || ((types & MCP_SCHEMA_T_INTEGER) && is_integral(inst));
    case MCP_JSON_STRING: return types & MCP_SCHEMA_T_STRING;
    case MCP_JSON_ARRAY: return types & MCP_SCHEMA_T_ARRAY;
    case MCP_JSON_OBJECT: return types & MCP_SCHEMA_T_OBJECT;
    default: return false;
    }
}

static int fail_type(validator *v, unsigned types, const mcp_json *inst) {
    static const char *const names[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
    mcp_buf *out = error_begin(v);
    if (!out) return MCP_EINVAL;
    mcp_buf_append_cstr(out, "expected ");
    bool first = true;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(types & (1u << i))) continue;
        if (!first) mcp_buf_append_cstr(out, " or ");
        mcp_buf_append_cstr(out, names[i]);
        first = false;
    }
    mcp_buf_appendf(out, ", got %s", type_name(inst));
    return MCP_EINVAL;
}

/* JSON equality as JSON Schema defines it: numbers by value (1 == 1.0),
 * objects regardless of member order. */
static bool json_equal(validator *v, const mcp_json *a, const mcp_json *b) {
    a = resolve(v, a);
    b = resolve(v, b);
    if (!a || !b) return false;
    mcp_json_type ta = mcp_json_type_of(a), tb = mcp_json_type_of(b);
    if (ta != tb) return false;
    switch (ta) {
    case MCP_JSON_NUMBER: {
        mcp_str ra = mcp_json_raw(a), rb = mcp_json_raw(b);
        return mcp_str_eq(ra, rb) || mcp_json_num(a, 0) == mcp_json_num(b, 1);
    }
    case MCP_JSON_STRING: return mcp_str_eq(mcp_json_str_slice(a), mcp_json_str_slice(b));
    case MCP_JSON_ARRAY: {
        if (mcp_json_len(a) != mcp_json_len(b)) return false;
        const mcp_json *x = mcp_json_first(a), *y = mcp_json_first(b);
        for (; x && y; x = mcp_json_next(x), y = mcp_json_next(y))
            if (!json_equal(v, x, y)) return false;
        return true;
    }
    case MCP_JSON_OBJECT: {
        if (mcp_json_len(a) != mcp_json_len(b)) return false;
        for (const mcp_json *m = mcp_json_first(a); m; m = mcp_json_next(m)) {
            mcp_str key = mcp_json_key(m);
            const mcp_json *other = mcp_json_get_n(b, key.ptr, key.len);
            if (!other || !json_equal(v, m, other)) return false;
        }
        return true;
    }
    default: return true; /* null, true, false */
    }
}

/* ---- Keyword groups -------------------------------------------------------------- */

static int check_number(validator *v, const mcp_schema *s, const mcp_json *inst) {
    double x = mcp_json_num(inst, 0);
    mcp_str text = mcp_json_raw(inst);
    if (s->minimum.set && x < s->minimum.value)
        return fail(v, "%.*s is less than the minimum %.*s", (int)text.len, text.ptr, (int)s->minimum.text.len,
                    s->minimum.text.ptr);
    if (s->maximum.set && x > s->maximum.value)
        return fail(v, "%.*s is greater than the maximum %.*s", (int)text.len, text.ptr,
                    (int)s->maximum.text.len, s->maximum.text.ptr);
    if (s->exclusive_minimum.set && x <= s->exclusive_minimum.value)
        return fail(v, "%.*s must be greater than %.*s", (int)text.len, text.ptr,
                    (int)s->exclusive_minimum.text.len, s->exclusive_minimum.text.ptr);
    if (s->exclusive_maximum.set && x >= s->exclusive_maximum.value)
        return fail(v, "%.*s must be less than %.*s", (int)text.len, text.ptr,
                    (int)s->exclusive_maximum.text.len, s->exclusive_maximum.text.ptr);
    if (s->multiple_of.set) {
        /* Decimal multiples such as 0.1 are not exact in binary; accept a
         * quotient within a relative 1e-9 of an integer. */
        double q = x / s->multiple_of.value;
        if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
            return fail(v, "%.*s is not a multiple of %.*s", (int)text.len, text.ptr,
                        (int)s->multiple_of.text.len, s->multiple_of.text.ptr);
    }
    return 0;
}

static size_t utf8_code_points(mcp_str s) {
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        if (((unsigned char)s.ptr[i] & 0xC0) != 0x80) n++;
    return n;
}

static int check_string(validator *v, const mcp_schema *s, const mcp_json *inst) {
    /* A string checked for its type only (most tool arguments) is not
     * read, so not decoded here: the handler that reads it pays once. */
    if (s->min_length == 0 && s->max_length == SIZE_MAX && !s->pattern) return 0;
    mcp_str text = mcp_json_str_slice(inst);
    if (s->min_length != 0 || s->max_length != SIZE_MAX) {
        size_t n = utf8_code_points(text);
        if (n < s->min_length)
            return fail(v, "string is shorter than %zu characters (has %zu)", s->min_length, n);
        if (n > s->max_length) return fail(v, "string is longer than %zu characters (has %zu)", s->max_length, n);
    }
    if (s->pattern) {
        int m = mcp_schema_regex_match(s->pattern, text.ptr, text.len);
        if (m == 0)
            return fail(v, "string does not match the pattern \"%.*s\"", (int)s->pattern_text.len, s->pattern_text.ptr);
        if (m < 0)
            return fail(v, "string is too long to check against the pattern \"%.*s\"", (int)s->pattern_text.len,
                        s->pattern_text.ptr);
    }
    return 0;
}

static int check_array(validator *v, const mcp_schema *s, const mcp_json *inst) {
    size_t n = mcp_json_len(inst);
    if (n < s->min_items) return fail(v, "expected at least %zu items, got %zu", s->min_items, n);
    if (n > s->max_items) return fail(v, "expected at most %zu items, got %zu", s->max_items, n);
    size_t i = 0;
    bool contained = s->contains == NULL;
    for (const mcp_json *item = mcp_json_first(inst); item; item = mcp_json_next(item), i++) {
        const mcp_schema *sub = i < s->prefix.count ? s->prefix.items[i] : s->items;
        if (sub) {
            if (!push_index(v, i)) return fail(v, "value is nested too deeply");
            int rc = check(v, sub, item);
            v->path_len--;
            if (rc) return rc;
        }
        if (!contained) {
            v->quiet++;
            int rc = check(v, s->contains, item);
            v->quiet--;
            if (rc == MCP_ENOMEM) return rc;
            contained = rc == 0;
        }
    }
    if (!contained) return fail(v, "no item matches the \"contains\" schema");
    if (s->unique_items) {
        size_t a = 0;
        for (const mcp_json *x = mcp_json_first(inst); x; x = mcp_json_next(x), a++) {
            size_t b = a + 1;
            for (const mcp_json *y = mcp_json_next(x); y; y = mcp_json_next(y), b++)
                if (json_equal(v, x, y)) return fail(v, "items %zu and %zu are equal, expected unique items", a, b);
        }
    }
    return 0;
}

/* The index of the property named key, or prop_count: the validator and
 * the fast path below look properties up the same way. */
static inline size_t prop_index(const mcp_schema *s, mcp_str key) {
    size_t i = 0;
    while (i < s->prop_count &&
           !(s->props[i].name.len == key.len && memcmp(s->props[i].name.ptr, key.ptr, key.len) == 0))
        i++;
    return i;
}

static const mcp_schema *find_property(const mcp_schema *s, mcp_str key) {
    size_t i = prop_index(s, key);
    return i < s->prop_count ? s->props[i].schema : NULL;
}

static int check_member(validator *v, const mcp_schema *sub, mcp_str key, const mcp_json *value) {
    if (!push_key(v, key)) return fail(v, "value is nested too deeply");
    int rc = check(v, sub, value);
    v->path_len--;
    return rc;
}

static int check_object(validator *v, const mcp_schema *s, const mcp_json *inst) {
    size_t n = mcp_json_len(inst);
    if (n < s->min_props) return fail(v, "expected at least %zu properties, got %zu", s->min_props, n);
    if (n > s->max_props) return fail(v, "expected at most %zu properties, got %zu", s->max_props, n);
    for (size_t i = 0; i < s->required_count; i++) {
        mcp_str name = s->required[i];
        if (!mcp_json_get_n(inst, name.ptr, name.len))
            return fail_key(v, "missing required property ", name, "");
    }
    if (!s->prop_count && !s->pattern_prop_count && !s->additional) return 0;
    for (const mcp_json *m = mcp_json_first(inst); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        const mcp_schema *sub = find_property(s, key);
        bool matched = sub != NULL;
        if (sub) {
            int rc = check_member(v, sub, key, m);
            if (rc) return rc;
        }
        for (size_t i = 0; i < s->pattern_prop_count; i++) {
            int hit = mcp_schema_regex_match(s->pattern_props[i].regex, key.ptr, key.len);
            if (hit < 0) return fail_key(v, "property name ", key, " is too long to check against patternProperties");
            if (!hit) continue;
            matched = true;
            int rc = check_member(v, s->pattern_props[i].schema, key, m);
            if (rc) return rc;
        }
        /* With a pattern we could not run, we cannot tell which properties
         * are "additional", so we do not guess. */
        if (matched || !s->additional || s->pattern_props_partial) continue;
        if (s->additional->boolean == 0) return fail_key(v, "property ", key, " is not allowed");
        int rc = check_member(v, s->additional, key, m);
        if (rc) return rc;
    }
    return 0;
}

/* Runs a subschema whose failure is an answer, not an error. Returns 1 when
 * it matched, 0 when not, MCP_ENOMEM on failure. */
static int matches(validator *v, const mcp_schema *s, const mcp_json *inst) {
    v->quiet++;
    int rc = check(v, s, inst);
    v->quiet--;
    if (rc == MCP_ENOMEM) return rc;
    return rc == 0;
}

static int check_combinators(validator *v, const mcp_schema *s, const mcp_json *inst) {
    for (size_t i = 0; i < s->all_of.count; i++) {
        int rc = check(v, s->all_of.items[i], inst);
        if (rc) return rc;
    }
    if (s->any_of.count) {
        bool any = false;
        for (size_t i = 0; i < s->any_of.count && !any; i++) {
            int m = matches(v, s->any_of.items[i], inst);
            if (m < 0) return m;
            any = m;
        }
        if (!any) return fail(v, "%s does not match any of the anyOf schemas", type_name(inst));
    }
    if (s->one_of.count) {
        size_t hits = 0;
        for (size_t i = 0; i < s->one_of.count; i++) {
            int m = matches(v, s->one_of.items[i], inst);
            if (m < 0) return m;
            hits += (size_t)m;
        }
        if (hits == 0) return fail(v, "%s does not match any of the oneOf schemas", type_name(inst));
        if (hits > 1) return fail(v, "%s matches %zu of the oneOf schemas, expected exactly one", type_name(inst), hits);
    }
    if (s->not_schema) {
        int m = matches(v, s->not_schema, inst);
        if (m < 0) return m;
        if (m) return fail(v, "%s matches the \"not\" schema", type_name(inst));
    }
    if (s->if_schema) {
        int m = matches(v, s->if_schema, inst);
        if (m < 0) return m;
        const mcp_schema *branch = m ? s->then_schema : s->else_schema;
        if (branch) return check(v, branch, inst);
    }
    return 0;
}

static int check_node(validator *v, const mcp_schema *s, const mcp_json *inst) {
    if (s->boolean >= 0) return s->boolean ? 0 : fail(v, "no value is allowed here");
    if (s->ref) {
        int rc = check(v, s->ref, inst);
        if (rc) return rc;
    }
    if (s->types && !type_matches(s->types, inst)) return fail_type(v, s->types, inst);
    if (s->enum_values) {
        bool found = false;
        for (const mcp_json *e = mcp_json_first(s->enum_values); e && !found; e = mcp_json_next(e))
            found = json_equal(v, inst, e);
        if (!found) return fail(v, "%s is not one of the allowed values", type_name(inst));
    }
    if (s->has_const && !json_equal(v, inst, s->const_value))
        return fail(v, "%s does not equal the expected constant", type_name(inst));
    int rc = 0;
    switch (mcp_json_type_of(inst)) {
    case MCP_JSON_NUMBER: rc = check_number(v, s, inst); break;
    case MCP_JSON_STRING: rc = check_string(v, s, inst); break;
    case MCP_JSON_ARRAY: rc = check_array(v, s, inst); break;
    case MCP_JSON_OBJECT: rc = check_object(v, s, inst); break;
    default: break;
    }
    if (rc) return rc;
    return check_combinators(v, s, inst);
}

static int check(validator *v, const mcp_schema *s, const mcp_json *inst) {
    const mcp_json *value = resolve(v, inst);
    if (!value) return fail(v, "value could not be parsed");
    if (v->depth >= VALIDATE_MAX_DEPTH) return fail(v, "schema recursion too deep");
    v->depth++;
    int rc = check_node(v, s, value);
    v->depth--;
    return rc;
}

/* The fast path for plain schemas (schema_internal.h): true only when the
 * instance is certainly valid. Types, then for objects each member against
 * its property's schema and the required names as a bit set; a member with
 * no property under additionalProperties: false, a lazily parsed value, or
 * any mismatch answers false and the full validator takes over. */
static bool plain_accepts(const mcp_schema *s, const mcp_json *inst) {
    if (s->boolean >= 0) return s->boolean == 1;
    if (s->types && !type_matches(s->types, inst)) return false;
    if (mcp_json_type_of(inst) != MCP_JSON_OBJECT) return mcp_json_type_of(inst) != MCP_JSON_RAW;
    uint64_t seen = 0;
    for (const mcp_json *m = mcp_json_first(inst); m; m = mcp_json_next(m)) {
        size_t i = prop_index(s, mcp_json_key(m));
        if (i == s->prop_count) {
            if (s->additional && s->additional->boolean == 0) return false;
            continue;
        }
        if (!plain_accepts(s->props[i].schema, m)) return false;
        seen |= (uint64_t)1 << i;
    }
    return (seen & s->required_props) == s->required_props;
}

/* plain_accepts for a flat schema (schema_internal.h), in one loop: a
 * member's property is a leaf, so checking it is its type alone. The
 * answers are plain_accepts' (the tests compare them): a true property
 * takes anything, a lazily parsed value fails any other. */
static bool flat_type_ok(unsigned types, mcp_json_type t, const mcp_json *inst) {
    /* type_matches with the type already known; "integer" alone still
     * needs the number's value. RAW has no bit: it matches nothing. */
    static const unsigned bit[] = {
        [MCP_JSON_NULL] = MCP_SCHEMA_T_NULL,     [MCP_JSON_FALSE] = MCP_SCHEMA_T_BOOLEAN,
        [MCP_JSON_TRUE] = MCP_SCHEMA_T_BOOLEAN,  [MCP_JSON_NUMBER] = MCP_SCHEMA_T_NUMBER,
        [MCP_JSON_STRING] = MCP_SCHEMA_T_STRING, [MCP_JSON_ARRAY] = MCP_SCHEMA_T_ARRAY,
        [MCP_JSON_OBJECT] = MCP_SCHEMA_T_OBJECT, [MCP_JSON_RAW] = 0,
    };
    if ((unsigned)t < sizeof bit / sizeof bit[0] && (types & bit[t])) return true;
    return t == MCP_JSON_NUMBER && (types & MCP_SCHEMA_T_INTEGER) && type_matches(types, inst);
}

static bool flat_accepts(const mcp_schema *s, const mcp_json *inst) {
    mcp_json_type t = mcp_json_type_of(inst);
    if (s->types && !flat_type_ok(s->types, t, inst)) return false;
    if (t != MCP_JSON_OBJECT) return t != MCP_JSON_RAW;
    uint64_t seen = 0;
    const bool closed = s->additional && s->additional->boolean == 0;
    for (const mcp_json *m = mcp_json_first(inst); m; m = mcp_json_next(m)) {
        size_t i = prop_index(s, mcp_json_key(m));
        if (i == s->prop_count) {
            if (closed) return false;
            continue;
        }
        const mcp_schema *p = s->props[i].schema;
        if (p->boolean != 1) {
            mcp_json_type mt = mcp_json_type_of(m);
            if (p->types ? !flat_type_ok(p->types, mt, m) : mt == MCP_JSON_RAW) return false;
        }
        seen |= (uint64_t)1 << i;
    }
    return (seen & s->required_props) == s->required_props;
}

bool mcp_schema_fast_accepts(const mcp_schema *schema, const mcp_json *instance) {
    if (!schema || !schema->plain) return false;
    return schema->flat ? flat_accepts(schema, instance) : plain_accepts(schema, instance);
}

int mcp_schema_validate(const mcp_schema *schema, const mcp_json *instance, mcp_buf *error_out) {
    if (error_out) mcp_buf_reset(error_out);
    if (!schema) return MCP_EINVAL;
    if (schema->flat ? flat_accepts(schema, instance) : schema->plain && plain_accepts(schema, instance)) return 0;
    return mcp_schema_validate_general(schema, instance, error_out);
}

int mcp_schema_validate_general(const mcp_schema *schema, const mcp_json *instance, mcp_buf *error_out) {
    if (error_out) mcp_buf_reset(error_out);
    if (!schema) return MCP_EINVAL;
    validator v;
    v.out = error_out;
    v.quiet = 0;
    v.depth = 0;
    v.path_len = 0;
    v.scratch_used = false;
    int rc = check(&v, schema, instance);
    if (v.scratch_used) mcp_arena_free(&v.scratch);
    return rc;
}
