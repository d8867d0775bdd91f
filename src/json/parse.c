/*
 * The strict RFC 8259 parser, the validator and lazy RAW nodes.
 *
 * One iterative pass with an explicit stack, so nesting depth is bounded by
 * max_depth and never by the C stack. The same loop validates without
 * building: mcp_json_validate runs it with no arena, and in lazy mode the
 * builder switches building off when it enters a container deeper than
 * lazy_depth and on again when that container closes, leaving one RAW node
 * that holds the container's source slice. Everything the builder rejects,
 * the skipping mode rejects too, so a RAW node can later be expanded without
 * any further checks.
 *
 * Strings are scanned 16 bytes at a time (eight without SSE2) for the bytes
 * that need a look ('"', '\\', control characters, and non-ASCII bytes
 * other than whole two-byte sequences). String values are only validated
 * here: the node keeps its source slice and room reserved for the decoded
 * text, which string.c fills on first read. Keys without escapes point
 * straight into the source; keys with escapes (rare) are decoded at once,
 * because lookups compare keys all the time.
 */
#include "json/json_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_MAX_DEPTH MCP_JSON_DEFAULT_MAX_DEPTH
#define DEFAULT_MAX_SIZE MCP_JSON_DEFAULT_MAX_SIZE
#define LOCAL_FRAMES 32

/* A container that is open while one inside it is parsed; the innermost
 * one lives in run's locals instead (see there). */
typedef struct frame {
    mcp_json *node; /* NULL while skipping */
    char closer;    /* '}' or ']'; 0 at the top level */
} frame;

typedef struct parser {
    const char *base;
    const char *end;
    mcp_arena *arena; /* NULL: validate only */
    size_t max_depth;
    size_t lazy_depth;
    mcp_json_error *err;
    int code; /* of the first failure, also when err is NULL */
    frame *stack;
    size_t stack_cap;
    char *room;                  /* room for decoded strings: see string_room */
    const char *room_from;       /* the source byte that room[0] stands for */
    bool blocks; /* mcp_json_scan_blocks is available */
    const char *value_end; /* set when a whole value is followed by more text */
    mcp_json *value;       /* that value (mcp_json_parse_prefix takes it) */
    frame local[LOCAL_FRAMES];
} parser;

static int fail(parser *ps, int code, const char *at, const char *message) {
    ps->code = code;
    if (ps->err) {
        ps->err->code = code;
        ps->err->offset = (size_t)(at - ps->base);
        snprintf(ps->err->message, sizeof ps->err->message, "%s", message);
    }
    return code;
}

/* Compact JSON, what machines send each other, has no whitespace at all:
 * one compare answers for it, in the parser's loop; this is called only
 * when that compare finds whitespace (or the end), so it stays out of line
 * and its constants out of the loop's registers. */
static __attribute__((noinline)) const char *skip_ws(const char *p, const char *end) {
    while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* The end of a string body: its closing quote, or NULL after the error is
 * recorded, and whether a backslash was seen (so the value needs
 * decoding). Returned by value, in two registers: a flag passed by address
 * would keep the parser's copy in memory. */
typedef struct string_end {
    const char *close;
    bool escaped;
} string_end;

/* Scans a string body starting just after the opening quote. */
static __attribute__((noinline)) string_end scan_string_rest(parser *ps, const char *p) {
    const char *end = ps->end;
    /* Blocks pay off for long strings only: a short one with an escape or
     * an accent is done byte by byte before a block would be set up. */
    const char *blocks_from = ps->blocks && end - p > 48 ? p + 48 : end;
    unsigned give_ups = 0;
    bool esc = false;
    for (;;) {
        p = mcp_json_find_special(p, end);
        if (p >= end) {
            fail(ps, MCP_EPARSE, p, "unterminated string");
            return (string_end){NULL, false};
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            return (string_end){p, esc};
        }
        /* Not the end of a short string: a long one goes block by block. */
        if (p >= blocks_from && end - p >= 64) {
            bool closed, block_esc;
            p = mcp_json_scan_blocks(p, end, &block_esc, &closed, &blocks_from);
            esc |= block_esc;
            if (closed) {
                return (string_end){p, esc};
            }
            /* Text the blocks keep handing back (CJK, emoji) is tried again
             * at growing distances, so it costs little more than bytes. */
            size_t wait = ((size_t)64 << (give_ups < 8 ? give_ups : 8)) - 64;
            give_ups++;
            blocks_from = (size_t)(end - blocks_from) > wait ? blocks_from + wait : end;
            continue;
        }
        if (c == '\\') {
            esc = true;
            if (end - p < 2) {
                fail(ps, MCP_EPARSE, p, "unterminated string");
                return (string_end){NULL, false};
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u': break;
            default:
                fail(ps, MCP_EPARSE, p, "invalid escape in string");
                return (string_end){NULL, false};
            }
            long cp = end - p >= 6 ? mcp_json_hex4(p + 2) : -1;
            if (cp < 0) {
                fail(ps, MCP_EPARSE, p, "invalid \\u escape in string");
                return (string_end){NULL, false};
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, MCP_EPARSE, p, "unpaired low surrogate in \\u escape");
                return (string_end){NULL, false};
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long lo = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? mcp_json_hex4(p + 8) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, MCP_EPARSE, p, "unpaired high surrogate in \\u escape");
                    return (string_end){NULL, false};
                }
                p += 12;
            } else {
                p += 6;
            }
            continue;
        }
        if (c < 0x20) {
            fail(ps, MCP_EPARSE, p, "control character in string");
            return (string_end){NULL, false};
        }
        size_t n = mcp_json_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
        if (!n) {
            fail(ps, MCP_EPARSE, p, "invalid UTF-8 in string");
            return (string_end){NULL, false};
        }
        p += n;
    }
}

#if defined(__SSE2__)
/* The first byte to look at in a string body that began with a clean
 * window, from p on, without AVX2: further windows, and from the fourth on,
 * plain text 64 bytes a step (a description or a document, not a key).
 * Out of line, so that the scan of keys, in line in the parser's loop,
 * stays small. When fewer than 16 bytes are left, returns the first of
 * them, unjudged (every byte before it is plain). */
static __attribute__((noinline)) const char *skip_plain(const char *p, const char *end) {
    for (unsigned clean = 1; end - p >= 16; clean++) {
        unsigned m = mcp_json_special16(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (m) return p + __builtin_ctz(m);
        p += 16;
        if (clean == 3)
            while (end - p >= 64 && mcp_json_plain64(p)) p += 64;
    }
    return p;
}
#endif

/* Most strings are keys and short values of plain ASCII: the first 16
 * bytes are judged here, in line; a longer clean body goes on in
 * mcp_json_skip_plain_blocks (AVX2) or skip_plain; anything else (an
 * escape, non-ASCII, a control character, the input's last 15 bytes) goes
 * to scan_string_rest from the byte that needs a look, with nothing open
 * before it. */
static inline string_end scan_string(parser *ps, const char *p, const char *end) {
#if defined(__SSE2__)
    if (MCP_LIKELY(end - p >= 16)) {
        unsigned m = mcp_json_special16(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (MCP_LIKELY(m)) { /* the stop lies in the window: inside the input */
            p += __builtin_ctz(m);
            if (MCP_LIKELY(*p == '"')) return (string_end){p, false};
            return scan_string_rest(ps, p);
        }
        p = ps->blocks ? mcp_json_skip_plain_blocks(p + 16, end) : skip_plain(p + 16, end);
        if (p < end && *p == '"') return (string_end){p, false};
    }
#else
    (void)end;
#endif
    return scan_string_rest(ps, p);
}

/* Checks the number grammar at p; returns its end or NULL. For plain
 * integers of up to 18 digits also computes the value, the common case. */
static inline const char *scan_number(const char *p, const char *end, bool *simple, int64_t *value) {
    const char *start = p;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        if (++p >= end) return NULL;
    }
    uint64_t v = 0;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        const char *d0 = p;
        while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
        if (p - d0 > 18) start = NULL; /* may have overflowed: not simple */
    } else {
        return NULL;
    }
    bool plain = true;
    if (p < end && *p == '.') {
        plain = false;
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        plain = false;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    *simple = plain && start != NULL;
    if (*simple) *value = neg ? -(int64_t)v : (int64_t)v;
    return p;
}

/* The modes of run: it is compiled once per mode, so that the eager parse
 * (the common one) and the validator carry no test of a mode they are not. */
enum { RUN_VALIDATE, RUN_EAGER, RUN_LAZY };

/* Nodes come in chunks, one arena call each, sized from the input left.
 * An eager parse asks for one chunk big enough for typical JSON (a node per
 * BYTES_PER_NODE bytes) together with the room for its decoded strings:
 * an arena reset per message keeps its largest block, so from the second
 * message of a size on, parsing calls malloc not at all, where a chain of
 * small chunks would be freed and allocated again on every message (and,
 * next to the heap's top, trimmed and faulted in again). A lazy parse
 * builds a few nodes near the top only: small chunks. */
#define BYTES_PER_NODE 10
#define NODE_CHUNK_MAX 16384
#define NODE_CHUNK_LAZY 64

static mcp_json *node_chunk(parser *ps, const char *p, mcp_json **chunk_end, const int mode) {
    size_t left = (size_t)(ps->end - p);
    size_t n = mode == RUN_EAGER ? left / BYTES_PER_NODE + 8 : left / 8 + 2;
    size_t cap = mode == RUN_EAGER ? NODE_CHUNK_MAX : NODE_CHUNK_LAZY;
    if (n > cap) n = cap;
    size_t room = mode == RUN_EAGER && !ps->room ? left + 1 : 0;
    mcp_json *chunk = mcp_arena_alloc(ps->arena, n * sizeof *chunk + room);
    if (!chunk) return NULL;
    *chunk_end = chunk + n;
    if (room) { /* see string_room: p is before every string still to come */
        ps->room = (char *)(chunk + n);
        ps->room_from = p;
    }
    return chunk;
}

/* The free nodes of the current chunk live in run's locals, not in the
 * parser: stores into nodes could alias parser fields, which would make
 * the compiler reload them after every node. */
typedef struct node_stock {
    mcp_json *next, *end;
} node_stock;

/* Readies the next node of the stock for the value that comes next and
 * gives it that value's key (none in an array and at the top level), with
 * the key's KEY_CLEAN flag. Done where the key is read, the pending key
 * waits in that node, not in registers across the value's parse; the
 * stock is refilled here too, so taking the node costs no test. An
 * allocation that fails is reported here, before the value is read. */
static inline bool node_ready(parser *ps, node_stock *stock, const char *key, size_t key_len, uint8_t key_flag,
                              const char *at, const int mode) {
    mcp_json *n = stock->next;
    if (MCP_UNLIKELY(n == stock->end) && !(n = stock->next = node_chunk(ps, at, &stock->end, mode))) return false;
    n->key = key;
    n->key_len = (uint32_t)key_len;
    n->flags = key_flag;
    return true;
}

/* Takes the node node_ready readied. src_len is set when the value ends,
 * next by the next sibling or when the container closes; flags of the
 * value are added to the key's. */
static inline mcp_json *node_take(node_stock *stock, uint8_t type, const char *src) {
    mcp_json *n = stock->next++;
    n->type = type;
    n->src = src;
    return n;
}

/* Where the decoded text of the string whose body (len bytes) starts at
 * body goes. Decoded text is never longer than its source, and the bodies
 * of two strings never overlap in the source, so when everything is built
 * one block as long as the input holds every string at the offset of its
 * body: one allocation per document (with the first chunk of nodes), none
 * per string. A lazy parse builds only the few strings near the top (the
 * envelope of a large message): those get their own room, so that a
 * megabyte of unbuilt params does not reserve a megabyte. */
static inline char *string_room(parser *ps, const char *body, size_t len, const int mode) {
    if (mode == RUN_LAZY) return mcp_arena_alloc(ps->arena, len + 1);
    /* Set by the first chunk, which run takes before its first value. */
    return ps->room + (body - ps->room_from);
}

/* Links node after the open container's last child (or as the root). */
static inline void link_node(mcp_json *node, mcp_json ***tail, mcp_json *container) {
    **tail = node;
    *tail = &node->next;
    container->u.c.count++;
}

/* The four-byte words of the literals, for one compare each. */
static inline uint32_t load32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static bool stack_grow(parser *ps) {
    size_t cap = ps->stack_cap * 2;
    frame *s;
    if (ps->stack == ps->local) {
        s = malloc(cap * sizeof *s);
        if (s) memcpy(s, ps->local, sizeof ps->local);
    } else {
        s = realloc(ps->stack, cap * sizeof *s);
    }
    if (!s) return false;
    ps->stack = s;
    ps->stack_cap = cap;
    return true;
}


static inline __attribute__((always_inline)) int run(parser *ps, const char *text, mcp_json **out, const int mode) {
    const char *p = text, *end = ps->end;
    /* The next free frame, and the first past the lower of the two limits
     * (max_depth, the stack's room): one compare per container opened, and
     * the cold path tells which limit it was. */
    frame *frame_next = ps->stack;
    frame *frame_limit = ps->stack + (ps->max_depth < ps->stack_cap ? ps->max_depth : ps->stack_cap);
    bool building = mode != RUN_VALIDATE;
    size_t raw_depth = 0; /* depth of the container a RAW node is skipping */
    mcp_json *raw_node = NULL;
    mcp_json *root = NULL;
    /* The open container lives in these locals, not in its frame: its node
     * (NULL while skipping), which counts its children as they come, where
     * its next child is linked, and the byte that closes it. The top level
     * is a container of its own, whose one value is the root. */
    mcp_json top_level;
    top_level.u.c.count = 0;
    mcp_json *cur = &top_level;
    mcp_json **tail = &top_level.u.c.first;
    char closer = 0;
    node_stock stock = {NULL, NULL};
    if (building && !node_ready(ps, &stock, NULL, 0, 0, p, mode)) return fail(ps, MCP_ENOMEM, p, "out of memory");

value:
    if (MCP_UNLIKELY(p >= end || (unsigned char)*p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end) return fail(ps, MCP_EPARSE, p, "unexpected end of input");
    }
value_here: /* p < end, at a byte that is not whitespace */
    {
        const char *start = p;
        mcp_json *node = NULL;
        if (*p == '"') {
            string_end str = scan_string(ps, p + 1, end);
            const char *close = str.close;
            bool escaped = str.escaped;
            if (!close) return ps->code;
            if (building) {
                /* Validated now, decoded when read: reserve its room. */
                char *room = string_room(ps, p + 1, (size_t)(close - (p + 1)), mode);
                if (!room) return fail(ps, MCP_ENOMEM, p, "out of memory");
                node = node_take(&stock, MCP_JSON_STRING, start);
                if (!escaped) node->flags |= MCP_JSON_F_STR_CLEAN;
                node->u.s.ptr = room;
            }
            p = close + 1;
        } else if ((*p | 0x20) == '{') { /* '{' or '[': one compare, ahead of the literals */
            goto open;
        } else if (*p == 't' || *p == 'f' || *p == 'n') {
            static const char *const words[] = {"true", "false", "null"};
            static const uint8_t types[] = {MCP_JSON_TRUE, MCP_JSON_FALSE, MCP_JSON_NULL};
            int w = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
            size_t n = w == 1 ? 5 : 4;
            /* "false" is checked as its last four letters. */
            if ((size_t)(end - p) < n || load32(p + n - 4) != load32(words[w] + n - 4))
                return fail(ps, MCP_EPARSE, p, "invalid literal");
            if (building) node = node_take(&stock, types[w], start);
            p += n;
        } else {
            if (*p != '-' && (*p < '0' || *p > '9')) return fail(ps, MCP_EPARSE, p, "unexpected character");
            bool simple;
            int64_t value;
            const char *num_end = scan_number(p, end, &simple, &value);
            if (!num_end) return fail(ps, MCP_EPARSE, p, "invalid number");
            if (building) {
                node = node_take(&stock, MCP_JSON_NUMBER, start);
                if (simple) {
                    node->flags |= MCP_JSON_F_INT;
                    node->u.n.i = value;
                    node->u.n.d = (double)value;
                    if (value == 0 && *p == '-') node->u.n.d = -0.0;
                } else {
                    bool is_int;
                    node->u.n.d = mcp_json_number_value(p, (size_t)(num_end - p), &is_int, &node->u.n.i);
                    if (is_int) node->flags |= MCP_JSON_F_INT;
                }
            }
            p = num_end;
        }
        if (building) {
            node->src_len = (size_t)(p - start);
            link_node(node, &tail, cur);
        }
    }

after_value:
    if (MCP_UNLIKELY(!closer)) goto done; /* the top level */
    if (MCP_UNLIKELY(p >= end || (unsigned char)*p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end) return fail(ps, MCP_EPARSE, p, "unexpected end of input");
    }
    if (*p == ',') {
        p++;
        if (closer == '}') goto key;
        if (building && !node_ready(ps, &stock, NULL, 0, 0, p, mode))
            return fail(ps, MCP_ENOMEM, p, "out of memory");
        goto value;
    }
    if (*p == closer) goto close;
    return fail(ps, MCP_EPARSE, p,
                closer == '}' ? "expected ',' or '}' after object member" : "expected ',' or ']' after array element");

open: { /* p is at '{' or '[' */
    bool is_obj = *p == '{';
    if (MCP_UNLIKELY(frame_next == frame_limit)) {
        size_t depth = (size_t)(frame_next - ps->stack);
        if (depth + 1 > ps->max_depth) return fail(ps, MCP_ELIMIT, p, "nesting deeper than max_depth");
        if (!stack_grow(ps)) return fail(ps, MCP_ENOMEM, p, "out of memory");
        frame_next = ps->stack + depth;
        frame_limit = ps->stack + (ps->max_depth < ps->stack_cap ? ps->max_depth : ps->stack_cap);
    }
    mcp_json *container = NULL;
    if (building) {
        mcp_json *node;
        if (mode == RUN_LAZY && (size_t)(frame_next - ps->stack) + 1 > ps->lazy_depth) {
            node = node_take(&stock, MCP_JSON_RAW, p);
            raw_node = node;
            raw_depth = (size_t)(frame_next - ps->stack) + 1;
            building = false;
        } else {
            node = container = node_take(&stock, is_obj ? MCP_JSON_OBJECT : MCP_JSON_ARRAY, p);
            container->u.c.count = 0;
        }
        link_node(node, &tail, cur);
    }
    frame *f = frame_next++;
    f->node = cur;
    f->closer = closer;
    cur = container;
    if (container) tail = &container->u.c.first;
    closer = is_obj ? '}' : ']';
    p++;
    if (is_obj && MCP_LIKELY(p < end && *p == '"')) goto key_body;
    if (building && !is_obj && !node_ready(ps, &stock, NULL, 0, 0, p, mode))
        return fail(ps, MCP_ENOMEM, p, "out of memory");
    if (MCP_UNLIKELY(p >= end || (unsigned char)*p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end)
            return fail(ps, MCP_EPARSE, p, is_obj ? "expected string key" : "unexpected end of input");
    }
    if (*p == closer) goto close;
    if (is_obj) goto key_here;
    goto value_here;
}

close: /* p is at the byte that closes cur */
    p++;
    if (mode != RUN_VALIDATE && cur) {
        *tail = NULL; /* ends the list: nodes are linked, never cleared, as they are made */
        cur->src_len = (size_t)(p - cur->src);
        tail = &cur->next; /* the enclosing container's last child is this one */
    }
    if (mode == RUN_LAZY && raw_depth == (size_t)(frame_next - ps->stack)) {
        raw_node->src_len = (size_t)(p - raw_node->src);
        tail = &raw_node->next;
        raw_depth = 0;
        building = true;
    }
    {
        const frame *f = --frame_next;
        cur = f->node;
        closer = f->closer;
    }
    goto after_value;

key:
    if (MCP_UNLIKELY(p >= end || (unsigned char)*p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end) return fail(ps, MCP_EPARSE, p, "expected string key");
    }
key_here: /* p < end, at a byte that is not whitespace */
    if (MCP_UNLIKELY(*p != '"')) return fail(ps, MCP_EPARSE, p, "expected string key");
key_body: /* p is at the key's opening quote */
    {
        string_end str = scan_string(ps, p + 1, end);
        const char *close = str.close;
        bool escaped = str.escaped;
        if (!close) return ps->code;
        if (building) {
            size_t key_len = (size_t)(close - (p + 1));
            if (key_len > UINT32_MAX) return fail(ps, MCP_ELIMIT, p, "object key too long");
            const char *key = p + 1;
            if (escaped) {
                char *dst = string_room(ps, p + 1, key_len, mode);
                if (!dst) return fail(ps, MCP_ENOMEM, p, "out of memory");
                key_len = mcp_json_decode_string(dst, p + 1, key_len);
                key = dst;
            }
            if (!node_ready(ps, &stock, key, key_len, escaped ? 0 : MCP_JSON_F_KEY_CLEAN, p, mode))
                return fail(ps, MCP_ENOMEM, p, "out of memory");
        }
        p = close + 1;
        /* Compact JSON: the colon, then the value's first byte, both
         * inside the input; one test for the three. */
        if (MCP_LIKELY(end - p >= 2 && *p == ':' && (unsigned char)p[1] > ' ')) {
            p++;
            goto value_here;
        }
        if (MCP_UNLIKELY(p >= end || *p != ':')) {
            p = skip_ws(p, end);
            if (p >= end || *p != ':') return fail(ps, MCP_EPARSE, p, "expected ':' after object key");
        }
        p++;
    }
    goto value;

done:
    if (mode != RUN_VALIDATE) {
        *tail = NULL; /* the root's next */
        root = top_level.u.c.first;
    }
    if (MCP_UNLIKELY(p < end && (unsigned char)*p <= ' ')) p = skip_ws(p, end);
    if (p != end) {
        /* An error for a whole text; mcp_json_parse_prefix takes the value
         * from here instead (a test on this cold path only: one in the
         * common path costs more than it looks, in how the loop compiles). */
        ps->value_end = p;
        ps->value = root;
        return fail(ps, MCP_EPARSE, p, "unexpected data after the JSON value");
    }
    if (out) *out = root;
    return MCP_OK;
}

/* used: NULL for a whole text; for a prefix, where its value ends. */
static int run_with(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                    mcp_json **out, size_t *used, mcp_json_error *err) {
    parser ps;
    ps.base = text;
    ps.end = text + len;
    ps.arena = arena;
    ps.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
    ps.lazy_depth = opts ? opts->lazy_depth : 0;
    ps.err = err;
    ps.stack = ps.local;
    ps.stack_cap = LOCAL_FRAMES;
    ps.room = NULL;
    ps.room_from = NULL;
    ps.blocks = mcp_json_have_blocks();
    ps.value_end = NULL; /* ps.value and ps.code are read only once set */
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->message[0] = '\0';
    }
    size_t max_size = opts && opts->max_size ? opts->max_size : DEFAULT_MAX_SIZE;
    if (len > max_size) {
        ps.end = text + max_size;
        return fail(&ps, MCP_ELIMIT, text + max_size, "input larger than max_size");
    }
    if (!text) {
        ps.base = ps.end = "";
        text = ps.base;
    }
    int rc = !arena ? run(&ps, text, out, RUN_VALIDATE)
             : ps.lazy_depth ? run(&ps, text, out, RUN_LAZY)
                             : run(&ps, text, out, RUN_EAGER);
    if (used) {
        if (rc == MCP_OK) {
            *used = (size_t)(ps.end - text); /* the value and its whitespace were all of it */
        } else if (ps.value_end) {
            rc = MCP_OK;
            *used = (size_t)(ps.value_end - text);
            *out = ps.value;
            if (err) memset(err, 0, sizeof *err);
        }
    }
    if (ps.stack != ps.local) free(ps.stack);
    return rc;
}

int mcp_json_parse(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                   mcp_json **out, mcp_json_error *err) {
    if (out) *out = NULL;
    if (!arena || !out) return MCP_EINVAL;
    return run_with(arena, text, len, opts, out, NULL, err);
}

int mcp_json_parse_prefix(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                          mcp_json **out, size_t *used, mcp_json_error *err) {
    if (out) *out = NULL;
    if (used) *used = 0;
    if (!arena || !out || !used) return MCP_EINVAL;
    return run_with(arena, text, len, opts, out, used, err);
}

int mcp_json_validate(const char *text, size_t len, const mcp_json_opts *opts, mcp_json_error *err) {
    return run_with(NULL, text, len, opts, NULL, NULL, err);
}

mcp_json *mcp_json_parse_validated(mcp_arena *arena, const char *text, size_t len) {
    mcp_json *out = NULL;
    mcp_json_opts opts = {.max_depth = UINT_MAX, .max_size = SIZE_MAX};
    if (run_with(arena, text, len, &opts, &out, NULL, NULL) != 0) return NULL;
    return out;
}

mcp_json *mcp_json_expand(mcp_arena *arena, mcp_json *node) {
    if (!node || node->type != MCP_JSON_RAW) return node;
    mcp_json *built = mcp_json_parse_validated(arena, node->src, node->src_len);
    if (!built) return NULL;
    /* Keep the node's identity (key, sibling link) and take the content. */
    node->type = built->type;
    node->flags = (uint8_t)((built->flags & ~MCP_JSON_F_KEY_CLEAN) | (node->flags & MCP_JSON_F_KEY_CLEAN));
    node->u = built->u;
    return node;
}
