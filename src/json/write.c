/*
 * The streaming writer: compact JSON appended to an mcp_buf.
 *
 * The writer tracks just enough state (open containers, whether a comma or a
 * key is due) to put separators in the right places and to refuse misuse (a
 * value in an object without a key, a second top-level value, unbalanced
 * ends) with MCP_EINVAL instead of producing broken JSON. Errors are sticky.
 * Keys and whole members known to need no escaping (the constant keys of
 * the protocol) go out in one append each, without the escaping pass.
 *
 * String escaping copies plain ASCII text 64 bytes a step (with AVX2 where
 * the CPU has it), other clean text 16 bytes at a time, valid two-byte
 * UTF-8 included, and looks byte by byte only at '"', '\\', control
 * characters and longer or invalid UTF-8; only '"', '\\' and control
 * characters are escaped. Bytes that are not valid UTF-8 become
 * U+FFFD, because a handler may write bytes from anywhere (a file, a
 * subprocess) and the peer must still receive valid JSON.
 */
#include "json/json_internal.h"

#include <math.h>

enum { FRAME_OBJECT = 1, FRAME_ARRAY = 2 };

static const char hex_digits[] = "0123456789abcdef";

/* For each byte below 0x80: 0 when it is copied as is, otherwise the
 * character that follows the backslash ('u' for the \u00XX form). A table
 * instead of a switch: escapes in long text are frequent and varied, and a
 * lookup costs no mispredicted branch. */
static const char escape_char[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

/* 1 for the bytes the escaper must look at: '"', '\\', control characters
 * and non-ASCII. One load per byte for short text (keys) and tails. */
static const unsigned char needs_look[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
    [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Output is written straight into the buffer. The invariant is that the
 * room left covers the input left plus SLACK, which pays for the closing
 * quote, the NUL and the 16-byte stores of the copy loop; an escape or a
 * U+FFFD grows the output, so room is checked (and the buffer grown) before
 * one. Clean runs, two-byte UTF-8 sequences included (mcp_json_stop16),
 * cost one 16-byte store per 16 bytes; other non-ASCII sequences go through
 * mcp_json_utf8_seq one at a time. */
#define SLACK 32

int mcp_json_escape_into(mcp_buf *out, const char *s, size_t len) {
    int rc;
    size_t want = len + SLACK + len / 16;
    if ((rc = mcp_buf_room(out, want))) return rc;
    char *d = out->data + out->len;
    /* Only what was reserved: under AddressSanitizer the bytes past it are
     * fenced off (mcp_buf_fence). */
    char *limit = d + want + 1;
    const char *p = s, *end = s + len;
#if defined(__SSE2__)
    unsigned clean_run = 4; /* 16-byte windows clean since the last stop */
#endif
    *d++ = '"';
    for (;;) {
#if defined(__SSE2__)
        /* Plain ASCII, most text, goes 64 bytes a step with one branch
         * once four 16-byte windows in a row were clean (at the start
         * too); text with frequent escapes stays with the 16-byte step,
         * which takes the full mask (two-byte UTF-8 vouched) only when the
         * first byte to look at is non-ASCII. */
        while (end - p >= 16) {
            if (clean_run >= 4) {
                if (end - p >= 64 && mcp_json_have_blocks()) {
                    size_t n = mcp_json_copy_plain_blocks(p, end, d);
                    p += n;
                    d += n;
                } else {
                    while (end - p >= 64 && mcp_json_plain64(p)) {
                        memcpy(d, p, 64);
                        p += 64;
                        d += 64;
                    }
                }
                clean_run = 0;
                if (end - p < 16) break;
            }
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)d, v);
            unsigned m = mcp_json_special16(v);
            if (m && (signed char)p[__builtin_ctz(m)] < 0) m = mcp_json_stop16(v);
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                p += k;
                d += k;
                clean_run = 0;
                goto special;
            }
            p += 16;
            d += 16;
            clean_run++;
        }
#endif
        while (p < end && !needs_look[(unsigned char)*p]) *d++ = *p++;
        if (p >= end) break;
#if defined(__SSE2__)
    special:
#endif
        {
            unsigned char c = (unsigned char)*p;
            if (c >= 0x80) {
                size_t n = mcp_json_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
                if (n) { /* valid: copied as is, one byte out per byte in */
                    memcpy(d, p, n);
                    d += n;
                    p += n;
                    continue;
                }
            }
            size_t left = (size_t)(end - p);
            if (MCP_UNLIKELY((size_t)(limit - d) < left + 6 + SLACK)) {
                size_t used = (size_t)(d - out->data);
                out->len = used;
                size_t more = left + 6 + SLACK + len / 8;
                if ((rc = mcp_buf_reserve(out, more))) return rc;
                d = out->data + used;
                limit = d + more + 1;
            }
            p++;
            if (c >= 0x80) { /* not valid UTF-8: U+FFFD */
                memcpy(d, "\xEF\xBF\xBD", 3);
                d += 3;
                continue;
            }
            char e = escape_char[c];
            d[0] = '\\';
            d[1] = e;
            if (MCP_LIKELY(e != 'u')) {
                d += 2;
                continue;
            }
            d[2] = '0';
            d[3] = '0';
            d[4] = hex_digits[c >> 4];
            d[5] = hex_digits[c & 15];
            d += 6;
        }
    }
    *d++ = '"';
    *d = '\0';
    out->len = (size_t)(d - out->data);
    return MCP_OK;
}

int mcp_json_escape(mcp_buf *out, const char *s, size_t len) {
    if (!out || (!s && len)) return MCP_EINVAL;
    return mcp_json_escape_into(out, s ? s : "", len);
}

void mcp_json_writer_init(mcp_json_writer *w, mcp_buf *out) {
    w->out = out;
    w->status = out ? MCP_OK : MCP_EINVAL;
    w->depth = 0;
    w->need_comma = false;
    w->after_key = false;
}

int mcp_json_writer_status(const mcp_json_writer *w) {
    return w->status;
}

static inline void emit(mcp_json_writer *w, const char *s, size_t len) {
    if (w->status) return;
    int rc = mcp_json_buf_put(w->out, s, len);
    if (rc) w->status = rc;
}

/* One structural character. */
static inline void put_char(mcp_json_writer *w, char c) {
    mcp_buf *out = w->out;
    int rc = mcp_buf_room(out, 1);
    if (rc) {
        w->status = rc;
        return;
    }
    out->data[out->len++] = c;
    out->data[out->len] = '\0';
}

/* Separator before a value; false when the value must not be written. */
static inline bool value_prefix(mcp_json_writer *w) {
    if (w->status) return false;
    if (w->after_key) {
        w->after_key = false;
        return true;
    }
    if (w->depth && w->stack[w->depth - 1] == FRAME_OBJECT) {
        w->status = MCP_EINVAL; /* a member value needs a key first */
        return false;
    }
    if (w->need_comma) {
        if (w->depth == 0) {
            w->status = MCP_EINVAL; /* only one top-level value */
            return false;
        }
        put_char(w, ',');
    }
    return w->status == MCP_OK;
}

static inline void begin(mcp_json_writer *w, unsigned char kind) {
    if (!value_prefix(w)) return;
    if (MCP_UNLIKELY(w->depth >= MCP_JSON_WRITER_MAX_DEPTH)) {
        w->status = MCP_ELIMIT;
        return;
    }
    put_char(w, kind == FRAME_OBJECT ? '{' : '[');
    w->stack[w->depth++] = kind;
    w->need_comma = false;
}

static inline void end(mcp_json_writer *w, unsigned char kind) {
    if (w->status) return;
    if (MCP_UNLIKELY(w->depth == 0 || w->stack[w->depth - 1] != kind || w->after_key)) {
        w->status = MCP_EINVAL;
        return;
    }
    put_char(w, kind == FRAME_OBJECT ? '}' : ']');
    w->depth--;
    w->need_comma = true;
}

void mcp_json_begin_object(mcp_json_writer *w) { begin(w, FRAME_OBJECT); }
void mcp_json_end_object(mcp_json_writer *w) { end(w, FRAME_OBJECT); }
void mcp_json_begin_array(mcp_json_writer *w) { begin(w, FRAME_ARRAY); }
void mcp_json_end_array(mcp_json_writer *w) { end(w, FRAME_ARRAY); }

static inline bool key_allowed(mcp_json_writer *w) {
    if (MCP_UNLIKELY(w->status)) return false;
    if (MCP_UNLIKELY(w->depth == 0 || w->stack[w->depth - 1] != FRAME_OBJECT || w->after_key)) {
        w->status = MCP_EINVAL;
        return false;
    }
    return true;
}

/* The comma, the quoted key and the colon in one append. */
static inline void put_clean_key(mcp_json_writer *w, const char *key, size_t len) {
    mcp_buf *out = w->out;
    int rc = mcp_buf_room(out, len + 4);
    if (rc) {
        w->status = rc;
        return;
    }
    char *d = out->data + out->len;
    if (w->need_comma) *d++ = ',';
    *d++ = '"';
    mcp_json_copy(d, key, len);
    d += len;
    d[0] = '"';
    d[1] = ':';
    d[2] = '\0';
    out->len = (size_t)(d + 2 - out->data);
    w->after_key = true;
    w->need_comma = true;
}

void mcp_json_write_key_n(mcp_json_writer *w, const char *key, size_t len) {
    if (!key_allowed(w)) return;
    if (!key && len) {
        w->status = MCP_EINVAL;
        return;
    }
    if (!key) key = "";
    /* Keys are short and almost always plain: one look per byte decides,
     * and a plain key skips the escaper. */
    size_t i = 0;
    while (i < len && !needs_look[(unsigned char)key[i]]) i++;
    if (MCP_LIKELY(i == len)) {
        put_clean_key(w, key, len);
        return;
    }
    if (w->need_comma) emit(w, ",", 1);
    if (w->status) return;
    int rc = mcp_json_escape_into(w->out, key, len);
    if (rc) {
        w->status = rc;
        return;
    }
    emit(w, ":", 1);
    w->after_key = true;
    w->need_comma = true;
}

/* A key given as needing no escaping: the writer's usual checks, and in
 * debug builds the caller's promise too (a wrong one fails MCP_EINVAL
 * instead of writing broken JSON). */
static inline bool clean_key_allowed(mcp_json_writer *w, const char *key, size_t len) {
    if (!key_allowed(w)) return false;
#ifndef NDEBUG
    for (size_t i = 0; i < len; i++) {
        if (needs_look[(unsigned char)key[i]]) {
            w->status = MCP_EINVAL;
            return false;
        }
    }
#else
    (void)key, (void)len;
#endif
    return true;
}

void mcp_json_write_key_clean(mcp_json_writer *w, const char *key, size_t len) {
    if (clean_key_allowed(w, key, len)) put_clean_key(w, key, len);
}

/* Room for a member whose value is value_len bytes, and its ,"key": head
 * written: where the value goes, or NULL (status set). The two member
 * writers below differ only in how they copy the value. */
static inline char *member_head(mcp_json_writer *w, const char *key, size_t key_len, size_t value_len) {
    mcp_buf *out = w->out;
    size_t need = key_len + value_len + 4;
    int rc = mcp_buf_room(out, need);
    if (rc) {
        w->status = rc;
        return NULL;
    }
    char *d = out->data + out->len;
    if (w->need_comma) *d++ = ',';
    *d++ = '"';
    mcp_json_copy(d, key, key_len);
    d += key_len;
    *d++ = '"';
    *d++ = ':';
    return d;
}

/* The member ends at d. */
static inline void member_done(mcp_json_writer *w, char *d) {
    *d = '\0';
    w->out->len = (size_t)(d - w->out->data);
    w->need_comma = true;
}

void mcp_json_write_member_clean(mcp_json_writer *w, const char *key, size_t key_len, const char *json,
                                 size_t json_len) {
    if (!clean_key_allowed(w, key, key_len)) return;
    if (!json) json_len = 0;
    char *d = member_head(w, key, key_len, json_len);
    if (!d) return;
    mcp_json_copy(d, json, json_len);
    member_done(w, d + json_len);
}

/* Total length of pieces; false (status set) when one is NULL with a length. */
static inline bool pieces_length(mcp_json_writer *w, const mcp_str *pieces, size_t count, size_t *total) {
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (MCP_UNLIKELY(!pieces[i].ptr && pieces[i].len)) {
            w->status = MCP_EINVAL;
            return false;
        }
        n += pieces[i].len;
    }
    *total = n;
    return true;
}

/* Pieces are constant heads and ids, mostly 32 bytes or shorter: those
 * move as overlapping eight-byte words inside the piece, not by memcpy. */
static inline char *put_pieces(char *d, const mcp_str *pieces, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const char *s = pieces[i].ptr;
        size_t n = pieces[i].len;
        if (n > 16 && n <= 32) {
            uint64_t a = mcp_json_load64(s), b = mcp_json_load64(s + 8);
            uint64_t c = mcp_json_load64(s + n - 16), e = mcp_json_load64(s + n - 8);
            memcpy(d, &a, 8);
            memcpy(d + 8, &b, 8);
            memcpy(d + n - 16, &c, 8);
            memcpy(d + n - 8, &e, 8);
        } else {
            mcp_json_copy(d, s, n);
        }
        d += n;
    }
    return d;
}

void mcp_json_write_member_pieces(mcp_json_writer *w, const char *key, size_t key_len, const mcp_str *pieces,
                                  size_t count) {
    size_t total;
    if (!clean_key_allowed(w, key, key_len) || !pieces_length(w, pieces, count, &total)) return;
    char *d = member_head(w, key, key_len, total);
    if (d) member_done(w, put_pieces(d, pieces, count));
}

/* Writes "{" when brace is set, then the pieces, and pushes objects
 * frames: the work of mcp_json_begin_object_with and
 * mcp_json_open_objects. */
static void open_with(mcp_json_writer *w, bool brace, const mcp_str *pieces, size_t count, unsigned objects) {
    size_t total;
    if (!value_prefix(w) || !pieces_length(w, pieces, count, &total)) return;
    if (MCP_UNLIKELY(objects == 0 || (!brace && total == 0))) {
        w->status = MCP_EINVAL;
        return;
    }
    if (MCP_UNLIKELY(objects > MCP_JSON_WRITER_MAX_DEPTH - w->depth)) {
        w->status = MCP_ELIMIT;
        return;
    }
    mcp_buf *out = w->out;
    int rc = mcp_buf_room(out, total + 1);
    if (rc) {
        w->status = rc;
        return;
    }
    char *d = out->data + out->len;
    if (brace) *d++ = '{';
    d = put_pieces(d, pieces, count);
    w->need_comma = d[-1] != '{';
    *d = '\0';
    out->len = (size_t)(d - out->data);
    for (unsigned i = 0; i < objects; i++) w->stack[w->depth++] = FRAME_OBJECT;
}

void mcp_json_begin_object_with(mcp_json_writer *w, const mcp_str *pieces, size_t count) {
    open_with(w, true, pieces, count, 1);
}

void mcp_json_open_objects(mcp_json_writer *w, const mcp_str *pieces, size_t count, unsigned objects) {
    open_with(w, false, pieces, count, objects);
}

void mcp_json_write_key(mcp_json_writer *w, const char *key) {
    if (!key) {
        if (!w->status) w->status = MCP_EINVAL;
        return;
    }
    mcp_json_write_key_n(w, key, strlen(key));
}

/* A complete scalar (or pre-formatted value) at the current position. */
static void scalar(mcp_json_writer *w, const char *text, size_t len) {
    if (!value_prefix(w)) return;
    emit(w, text, len);
    w->need_comma = true;
}

void mcp_json_write_string(mcp_json_writer *w, const char *s, size_t len) {
    if (!value_prefix(w)) return;
    if (!s && len) {
        w->status = MCP_EINVAL;
        return;
    }
    int rc = mcp_json_escape_into(w->out, s ? s : "", len);
    if (rc) w->status = rc;
    w->need_comma = true;
}

void mcp_json_write_cstr(mcp_json_writer *w, const char *s) {
    if (!s) scalar(w, "null", 4);
    else mcp_json_write_string(w, s, strlen(s));
}

void mcp_json_write_int(mcp_json_writer *w, int64_t v) {
    char tmp[21];
    scalar(w, tmp, mcp_json_format_int(v, tmp));
}

void mcp_json_write_uint(mcp_json_writer *w, uint64_t v) {
    char tmp[21];
    scalar(w, tmp, mcp_format_uint(tmp, v));
}

void mcp_json_write_double(mcp_json_writer *w, double v) {
    if (!isfinite(v)) {
        scalar(w, "null", 4);
        return;
    }
    char tmp[32];
    scalar(w, tmp, mcp_json_format_double(v, tmp));
}

void mcp_json_write_bool(mcp_json_writer *w, bool v) {
    if (v) scalar(w, "true", 4);
    else scalar(w, "false", 5);
}

void mcp_json_write_null(mcp_json_writer *w) { scalar(w, "null", 4); }

void mcp_json_write_raw(mcp_json_writer *w, const char *json, size_t len) {
    if (!json) len = 0;
    scalar(w, json, len);
}

/* DOM serialisation bypasses the per-call state machine: the tree is known
 * to be well formed, so only depth needs watching. Numbers, strings and RAW
 * nodes are copied from their source text, which the parser validated: a
 * string keeps the escapes it came with (\u00e9 stays \u00e9), the same
 * value in valid JSON, and a proxy forwards a megabyte of text without
 * decoding or re-escaping it. mcp_json_canonical is the normalising form. */
static void write_node(mcp_json_writer *w, const mcp_json *v, unsigned depth) {
    mcp_buf *out = w->out;
    int rc = 0;
    switch (v->type) {
    case MCP_JSON_NULL: rc = mcp_json_buf_put(out, "null", 4); break;
    case MCP_JSON_TRUE: rc = mcp_json_buf_put(out, "true", 4); break;
    case MCP_JSON_FALSE: rc = mcp_json_buf_put(out, "false", 5); break;
    case MCP_JSON_NUMBER:
    case MCP_JSON_STRING:
    case MCP_JSON_RAW: rc = mcp_json_buf_put(out, v->src, v->src_len); break;
    case MCP_JSON_ARRAY:
    case MCP_JSON_OBJECT: {
        if (depth >= MCP_JSON_WRITER_MAX_DEPTH) {
            w->status = MCP_ELIMIT;
            return;
        }
        bool obj = v->type == MCP_JSON_OBJECT;
        if ((rc = mcp_json_buf_put(out, obj ? "{" : "[", 1))) break;
        for (const mcp_json *c = v->u.c.first; c; c = c->next) {
            if (c != v->u.c.first && (rc = mcp_json_buf_put(out, ",", 1))) break;
            if (obj) {
                if (mcp_json_flags_of(c) & MCP_JSON_F_KEY_CLEAN) rc = mcp_json_buf_put(out, c->key - 1, (size_t)c->key_len + 2);
                else rc = mcp_json_escape_into(out, c->key, c->key_len);
                if (rc || (rc = mcp_json_buf_put(out, ":", 1))) break;
            }
            write_node(w, c, depth + 1);
            if (w->status) return;
        }
        if (!rc) rc = mcp_json_buf_put(out, obj ? "}" : "]", 1);
        break;
    }
    default: rc = MCP_EINVAL; break;
    }
    if (rc && !w->status) w->status = rc;
}

/* The compact form of a parsed value is never longer than its source text:
 * whitespace goes, numbers, strings and RAW nodes are copied, and a key
 * with escapes is written from its decoded form, which the escaper makes no
 * longer than any valid escaped form of it. So after one reservation of
 * src_len bytes the tree is written with plain stores, no capacity check
 * per token. Returns the end of what was written, or NULL when the tree is
 * nested too deeply (the caller then takes the checked path for the
 * error). */
#define TOKEN_SLACK 32

/* Copies a token of n bytes. Keys and short values, most tokens, move as
 * one or two 16-byte loads and stores instead of a call to memcpy: the
 * stores may run past the token into the reserved slack (later output
 * overwrites it), the loads only when src_end, the end of the text being
 * written, leaves room for them. */
static inline char *copy_token(char *d, const char *s, size_t n, const char *src_end) {
    if (n <= 16 && src_end - s >= 16) {
        memcpy(d, s, 16);
    } else if (n <= 32 && src_end - s >= 32) {
        memcpy(d, s, 32);
    } else {
        memcpy(d, s, n);
    }
    return d + n;
}

static char *write_reserved(mcp_buf *out, char *d, const mcp_json *v, unsigned depth, const char *src_end) {
    switch (v->type) {
    case MCP_JSON_NULL: memcpy(d, "null", 4); return d + 4;
    case MCP_JSON_TRUE: memcpy(d, "true", 4); return d + 4;
    case MCP_JSON_FALSE: memcpy(d, "false", 5); return d + 5;
    case MCP_JSON_ARRAY:
    case MCP_JSON_OBJECT: {
        if (depth >= MCP_JSON_WRITER_MAX_DEPTH) return NULL;
        bool obj = v->type == MCP_JSON_OBJECT;
        *d++ = obj ? '{' : '[';
        for (const mcp_json *c = v->u.c.first; c; c = c->next) {
            if (c != v->u.c.first) *d++ = ',';
            if (obj) {
                if (MCP_LIKELY(mcp_json_flags_of(c) & MCP_JSON_F_KEY_CLEAN)) {
                    d = copy_token(d, c->key - 1, (size_t)c->key_len + 2, src_end);
                } else {
                    /* Room is there (see above); the escaper only needs
                     * the buffer's length to know where to start. */
                    out->len = (size_t)(d - out->data);
                    if (mcp_json_escape_into(out, c->key, c->key_len)) return NULL;
                    d = out->data + out->len;
                }
                *d++ = ':';
            }
            /* Scalars in line; only containers cost a call. */
            if (c->type == MCP_JSON_ARRAY || c->type == MCP_JSON_OBJECT) {
                if (!(d = write_reserved(out, d, c, depth + 1, src_end))) return NULL;
            } else if (c->type <= MCP_JSON_TRUE) {
                static const char literal[3][5] = {"null", "false", "true"};
                memcpy(d, literal[c->type], 5); /* the slack takes the spare byte */
                d += c->type == MCP_JSON_FALSE ? 5 : 4;
            } else {
                d = copy_token(d, c->src, c->src_len, src_end);
            }
        }
        *d++ = obj ? '}' : ']';
        return d;
    }
    default: /* numbers, strings, RAW: their source text */
        return copy_token(d, v->src, v->src_len, src_end);
    }
}

void mcp_json_write_value(mcp_json_writer *w, const mcp_json *v) {
    if (!v) {
        scalar(w, "null", 4);
        return;
    }
    if (!value_prefix(w)) return;
    mcp_buf *out = w->out;
    size_t mark = out->len;
    if (mcp_buf_reserve(out, v->src_len + TOKEN_SLACK) == 0) {
        char *d = write_reserved(out, out->data + out->len, v, w->depth, v->src + v->src_len);
        if (d) {
            out->len = (size_t)(d - out->data);
            out->data[out->len] = '\0';
            w->need_comma = true;
            return;
        }
        out->len = mark; /* too deep: the checked path reports it */
        out->data[mark] = '\0';
    }
    write_node(w, v, w->depth);
    w->need_comma = true;
}
