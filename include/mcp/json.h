/*
 * mcp/json.h — libmcp's own JSON codec.
 *
 * A strict RFC 8259 parser that builds a read-only DOM in an mcp_arena, a
 * lazy mode that leaves nested values unparsed (only validated) until asked
 * for, a streaming writer into an mcp_buf, and a canonical form used for
 * cache keys.
 *
 * Parse, read, write:
 *
 *     mcp_arena arena; mcp_arena_init(&arena, 0);
 *     mcp_json *doc; mcp_json_error err;
 *     if (mcp_json_parse(&arena, text, len, NULL, &doc, &err) != 0)
 *         fprintf(stderr, "offset %zu: %s\n", err.offset, err.message);
 *     const char *name = mcp_json_str(mcp_json_get(doc, "name"), "world");
 *
 *     mcp_buf out; mcp_buf_init(&out);
 *     mcp_json_writer w; mcp_json_writer_init(&w, &out);
 *     mcp_json_begin_object(&w);
 *     mcp_json_write_key(&w, "greeting");
 *     mcp_json_write_cstr(&w, name);
 *     mcp_json_end_object(&w);
 *
 * Lazy parsing: with opts.lazy_depth = 1 only the top-level object is built;
 * every member value that is an object or array becomes an MCP_JSON_RAW node
 * whose text has been fully validated. mcp_json_raw() returns its exact
 * source text without building anything; mcp_json_expand() builds its DOM on
 * demand. The JSON-RPC layer uses this so that "params" costs nothing until a
 * handler reads it. Every accessor accepts NULL and RAW nodes gracefully
 * (accessors on a RAW node expand it first when given an arena via
 * mcp_json_expand; plain accessors treat it as absent).
 *
 * Nodes point into the source text where they can (unescaped keys, raw
 * slices, the text of every string value), so the text must outlive the DOM.
 *
 * String values are validated when parsed and decoded when first read
 * (mcp_json_str, mcp_json_str_slice, mcp_json_str_len of a string with
 * escapes, mcp_json_canonical), into room the parser reserved in the arena:
 * reading allocates nothing. A DOM is read-only to its users, and several
 * threads may read one DOM at the same time (the first reader of a string
 * decodes it under an atomic flag, the others wait for it); nothing may
 * write to the arena while they do.
 */
#ifndef MCP_JSON_H
#define MCP_JSON_H

#include "mcp/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mcp_json_type {
    MCP_JSON_NULL = 0,
    MCP_JSON_FALSE,
    MCP_JSON_TRUE,
    MCP_JSON_NUMBER,
    MCP_JSON_STRING,
    MCP_JSON_ARRAY,
    MCP_JSON_OBJECT,
    MCP_JSON_RAW /* validated but not yet built; see mcp_json_expand */
} mcp_json_type;

typedef struct mcp_json mcp_json;

/* The limits that a zero in mcp_json_opts stands for. */
#define MCP_JSON_DEFAULT_MAX_DEPTH 128u
#define MCP_JSON_DEFAULT_MAX_SIZE ((size_t)64 << 20)

typedef struct mcp_json_opts {
    unsigned max_depth;   /* nesting limit; 0 means the default, 128 */
    size_t max_size;      /* input size limit in bytes; 0 means the default, 64 MiB */
    unsigned lazy_depth;  /* 0: build everything; N: containers deeper than N stay RAW */
} mcp_json_opts;

typedef struct mcp_json_error {
    int code;            /* MCP_EPARSE or MCP_ELIMIT (depth or size) or MCP_ENOMEM */
    size_t offset;       /* byte offset of the problem in the input */
    char message[96];    /* e.g. "invalid escape in string" */
} mcp_json_error;

/* Parse len bytes of text into a DOM allocated from arena. The whole input
 * must be exactly one JSON value with optional surrounding whitespace.
 * Invalid UTF-8, unpaired surrogate escapes, control characters in strings,
 * leading zeros, trailing commas, NaN/Infinity and a byte order mark are all
 * rejected (MCP_EPARSE); nesting past max_depth or input past max_size give
 * MCP_ELIMIT. err may be NULL; *out is NULL on failure. The top-level value
 * is at depth 1: with lazy_depth = 1 the members of a top-level object are
 * built and every object or array inside them is RAW. */
int mcp_json_parse(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                   mcp_json **out, mcp_json_error *err);

/* As mcp_json_parse, but the value may be followed by anything: parsing
 * stops after it and the whitespace that follows it, and *used is the
 * number of bytes it took. For readers that frame a value themselves, as
 * the JSON-RPC envelope reader does with params. The limits apply as to a
 * whole text: the value is at depth 1, and len (all of the text, not just
 * the value) is held to max_size. */
int mcp_json_parse_prefix(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                          mcp_json **out, size_t *used, mcp_json_error *err);

/* Check that text is valid JSON without building anything. */
int mcp_json_validate(const char *text, size_t len, const mcp_json_opts *opts, mcp_json_error *err);

/* Build the DOM of a RAW node in place (the node becomes its real type,
 * fully built, keeping its key and its place among its siblings). A non-RAW
 * node is returned unchanged. Returns the node, NULL on OOM. */
mcp_json *mcp_json_expand(mcp_arena *arena, mcp_json *node);

/* ---- Reading ------------------------------------------------------------
 * All accessors take NULL and return the "absent" answer. */
mcp_json_type mcp_json_type_of(const mcp_json *v); /* NULL -> MCP_JSON_NULL */
bool mcp_json_is_null(const mcp_json *v);          /* true for NULL too */
bool mcp_json_is_bool(const mcp_json *v);
bool mcp_json_is_number(const mcp_json *v);
bool mcp_json_is_integer(const mcp_json *v);       /* a number with no fraction or exponent that fits int64 */
bool mcp_json_is_string(const mcp_json *v);
bool mcp_json_is_array(const mcp_json *v);
bool mcp_json_is_object(const mcp_json *v);

/* Source text of any node (for RAW nodes: without building). Whitespace
 * around the value is excluded. */
mcp_str mcp_json_raw(const mcp_json *v);

/* String value (decoded, NUL-terminated) or fallback if v is not a string.
 * Strings may contain U+0000; use mcp_json_str_len for the true length. */
const char *mcp_json_str(const mcp_json *v, const char *fallback);
size_t mcp_json_str_len(const mcp_json *v);
mcp_str mcp_json_str_slice(const mcp_json *v);
/* The value as a slice that is not NUL-terminated: a string without
 * escapes is its source text between the quotes, read in place without
 * decoding (no copy, no atomic update); one with escapes is decoded as by
 * mcp_json_str_slice. For readers that copy what they keep. */
mcp_str mcp_json_str_view(const mcp_json *v);

double mcp_json_num(const mcp_json *v, double fallback);
int64_t mcp_json_int(const mcp_json *v, int64_t fallback); /* fallback unless is_integer */
bool mcp_json_bool(const mcp_json *v, bool fallback);

/* Objects: member lookup by key (linear scan; objects in MCP are small).
 * When a key repeats, the last one wins, as most parsers do. */
mcp_json *mcp_json_get(const mcp_json *obj, const char *key);
mcp_json *mcp_json_get_n(const mcp_json *obj, const char *key, size_t key_len);

/* Arrays and objects: number of elements or members, and iteration. */
size_t mcp_json_len(const mcp_json *v);
mcp_json *mcp_json_at(const mcp_json *arr, size_t index); /* O(index) */
mcp_json *mcp_json_first(const mcp_json *container);      /* first element or member value */
mcp_json *mcp_json_next(const mcp_json *item);            /* next sibling or NULL */
/* For a member value of an object: its key (decoded). */
mcp_str mcp_json_key(const mcp_json *member_value);

/* ---- Writing ------------------------------------------------------------
 * A streaming writer that appends compact JSON to an mcp_buf, inserting
 * commas and colons itself. Strings are escaped per RFC 8259 (control
 * characters as \u00XX, '"' and '\\' escaped, '/' left alone, valid UTF-8
 * passed through, each byte that is not valid UTF-8 replaced by U+FFFD so the
 * output is always valid JSON). Errors are sticky: after the first failure
 * every call is a no-op and mcp_json_writer_status returns the error. Misuse
 * (a value in an object without a key, a key outside an object, a wrong or
 * missing end, a second top-level value) fails with MCP_EINVAL; nesting past
 * MCP_JSON_WRITER_MAX_DEPTH with MCP_ELIMIT. To write several documents into
 * one buffer, init the writer again for each. */
#define MCP_JSON_WRITER_MAX_DEPTH 256

/* The one judge of valid UTF-8 the writer uses, for other encoders that
 * must repair text exactly as it does (the OTLP protobuf encoder): the
 * length (2-4) of the valid sequence at p, whose first byte is >= 0x80, or
 * 0 when it is invalid (overlong forms, UTF-16 surrogates and code points
 * above U+10FFFF included). */
size_t mcp_json_utf8_seq(const unsigned char *p, const unsigned char *end);

typedef struct mcp_json_writer {
    mcp_buf *out;
    int status;
    unsigned depth;
    bool need_comma;
    bool after_key;
    unsigned char stack[MCP_JSON_WRITER_MAX_DEPTH]; /* 1 object, 2 array */
} mcp_json_writer;

void mcp_json_writer_init(mcp_json_writer *w, mcp_buf *out);
int mcp_json_writer_status(const mcp_json_writer *w);
void mcp_json_begin_object(mcp_json_writer *w);
void mcp_json_end_object(mcp_json_writer *w);
void mcp_json_begin_array(mcp_json_writer *w);
void mcp_json_end_array(mcp_json_writer *w);
void mcp_json_write_key(mcp_json_writer *w, const char *key);
void mcp_json_write_key_n(mcp_json_writer *w, const char *key, size_t len);
/* A key the caller knows needs no escaping (printable ASCII without '"' or
 * '\\'), written between quotes as it is: the constant keys of a protocol
 * skip the escaping pass. Debug builds check the promise (MCP_EINVAL).
 * MCP_JSON_KEY takes a string literal and counts it at compile time. */
void mcp_json_write_key_clean(mcp_json_writer *w, const char *key, size_t len);
#define MCP_JSON_KEY(w, literal) mcp_json_write_key_clean((w), "" literal, sizeof(literal) - 1)
/* A whole member in one step: a key as for mcp_json_write_key_clean and a
 * value that is already valid JSON text (as for mcp_json_write_raw, not
 * checked). MCP_JSON_MEMBER takes the key as a string literal. */
void mcp_json_write_member_clean(mcp_json_writer *w, const char *key, size_t key_len, const char *json,
                                 size_t json_len);
#define MCP_JSON_MEMBER(w, literal, json, json_len) \
    mcp_json_write_member_clean((w), "" literal, sizeof(literal) - 1, (json), (json_len))
/* The same with a value given in pieces, written one after the other
 * (together valid JSON text, not checked): a value framed around text the
 * caller holds, such as an array around items already written, costs one
 * append instead of one per piece. */
void mcp_json_write_member_pieces(mcp_json_writer *w, const char *key, size_t key_len, const mcp_str *pieces,
                                  size_t count);
/* Begins an object whose first members are already JSON text, given in
 * pieces (not checked; count 0 begins an empty object): the constant heads
 * of protocol messages, such as "jsonrpc":"2.0","id":7, in one append.
 * Members written next follow them; end it with mcp_json_end_object. */
void mcp_json_begin_object_with(mcp_json_writer *w, const mcp_str *pieces, size_t count);
/* Text that opens objects one inside another and leaves them open, such as
 * {"jsonrpc":"2.0","id":7,"result":{ (two), given in pieces (valid JSON up
 * to there, not checked); objects (at least 1) says how many it opens.
 * Members written next go into the innermost one, after a comma unless the
 * text ends with that object's '{'. Each is ended with
 * mcp_json_end_object. */
void mcp_json_open_objects(mcp_json_writer *w, const mcp_str *pieces, size_t count, unsigned objects);
void mcp_json_write_string(mcp_json_writer *w, const char *s, size_t len);
void mcp_json_write_cstr(mcp_json_writer *w, const char *s); /* NULL writes null */
void mcp_json_write_int(mcp_json_writer *w, int64_t v);
void mcp_json_write_uint(mcp_json_writer *w, uint64_t v);
void mcp_json_write_double(mcp_json_writer *w, double v); /* shortest round-trip form; NaN/Inf become null */
void mcp_json_write_bool(mcp_json_writer *w, bool v);
void mcp_json_write_null(mcp_json_writer *w);
/* Insert text that is already valid JSON (not checked). */
void mcp_json_write_raw(mcp_json_writer *w, const char *json, size_t len);
/* Serialize a DOM node compactly. Numbers, strings and RAW nodes are copied
 * as their validated source text: a string keeps the escapes it was written
 * with (the same value, valid JSON), so a large text is forwarded without
 * being decoded. Use mcp_json_canonical for a normalised form. */
void mcp_json_write_value(mcp_json_writer *w, const mcp_json *v);

/* Append the escaped form of s, with quotes, to out. */
int mcp_json_escape(mcp_buf *out, const char *s, size_t len);

/* ---- Canonical form -------------------------------------------------------
 * Compact output with object keys sorted by their UTF-16 code units (as JCS,
 * RFC 8785, does) and numbers normalised, so that equal values give equal
 * bytes: the cache key of a tool call's arguments. */
int mcp_json_canonical(const mcp_json *v, mcp_buf *out);

#ifdef __cplusplus
}
#endif
#endif
