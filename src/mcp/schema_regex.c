/*
 * The regular expressions of JSON Schema "pattern" and "patternProperties":
 * a small backtracking matcher for the part of ECMA-262 syntax that tool
 * schemas use in practice.
 *
 * Supported: literals, ".", "^", "$", character classes with ranges and
 * negation, the escapes \d \D \w \W \s \S \t \n \r \f \v \0 \xHH \uHHHH
 * and escaped punctuation, groups "(...)", "(?:...)" and "(?<name>...)",
 * alternation, and the quantifiers * + ? {n} {n,} {n,m} (lazy forms too:
 * whether a match exists does not depend on greediness). Matching works on
 * code points and, as JSON Schema says, is unanchored unless the pattern
 * anchors itself.
 *
 * Not supported, reported as MCP_EUNSUPPORTED so the caller can ignore the
 * pattern instead of refusing the schema: lookaround, backreferences, word
 * boundaries, \p{...} classes.
 *
 * A backtracking matcher can be made to run for exponential time by a
 * pattern such as (a+)+b. Patterns come from the server, inputs from
 * clients, so every match has a step budget and a recursion limit; running
 * out is MCP_ELIMIT, which the validator reports as a failure.
 */
#include "mcp/schema_internal.h"

#include <string.h>

/* Steps allowed per match: a base plus a few per input byte, so that an
 * unanchored scan of a long string is not mistaken for a runaway. */
#define RX_STEP_BASE 100000
#define RX_STEPS_PER_BYTE 16
#define RX_MAX_RECURSION 1000
#define RX_MAX_NESTING 32
#define RX_INFINITE UINT32_MAX

typedef enum rx_kind { RX_CHAR, RX_ANY, RX_CLASS, RX_BOL, RX_EOL, RX_GROUP } rx_kind;

typedef struct rx_range {
    uint32_t lo, hi;
} rx_range;

typedef struct rx_seq rx_seq;

typedef struct rx_node {
    rx_kind kind;
    uint32_t min, max; /* repetition */
    uint32_t cp;       /* RX_CHAR */
    bool negated;      /* RX_CLASS */
    rx_range *ranges;
    size_t range_count;
    rx_seq *alts; /* RX_GROUP */
    size_t alt_count;
} rx_node;

struct rx_seq {
    rx_node *items;
    size_t count;
};

struct mcp_schema_regex {
    rx_seq *alts; /* the top level is an implicit group */
    size_t alt_count;
};

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Decode one code point at s[*i] (input was validated by the JSON parser;
 * a stray byte reads as itself). */
static uint32_t utf8_next(const char *s, size_t len, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i;
    uint32_t c = p[0];
    size_t n = 1;
    if (c >= 0xF0 && left >= 4) {
        c = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
        n = 4;
    } else if (c >= 0xE0 && left >= 3) {
        c = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        n = 3;
    } else if (c >= 0xC0 && left >= 2) {
        c = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        n = 2;
    }
    *i += n;
    return c;
}

static size_t utf8_prev(const char *s, size_t i) {
    do {
        i--;
    } while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
    return i;
}

/* ---- Parser ---------------------------------------------------------------------- */

typedef struct rx_parser {
    mcp_arena *arena;
    const char *p;
    size_t len, pos;
    unsigned depth;
    int status; /* first error: MCP_EINVAL, MCP_EUNSUPPORTED, MCP_ENOMEM */
} rx_parser;

static bool rx_fail(rx_parser *ps, int code) {
    if (!ps->status) ps->status = code;
    return false;
}

static bool at_end(const rx_parser *ps) {
    return ps->pos >= ps->len;
}

static char peek(const rx_parser *ps) {
    return at_end(ps) ? '\0' : ps->p[ps->pos];
}

/* Growable arrays in the arena: doubled by copying; patterns are short. */
static void *grow(rx_parser *ps, void *items, size_t count, size_t *cap, size_t size) {
    if (count < *cap) return items;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *n = mcp_arena_alloc(ps->arena, ncap * size);
    if (!n) {
        rx_fail(ps, MCP_ENOMEM);
        return NULL;
    }
    if (count) memcpy(n, items, count * size);
    *cap = ncap;
    return n;
}

typedef struct range_list {
    rx_range *items;
    size_t count, cap;
} range_list;

static bool range_add(rx_parser *ps, range_list *l, uint32_t lo, uint32_t hi) {
    rx_range *items = grow(ps, l->items, l->count, &l->cap, sizeof *items);
    if (!items) return false;
    l->items = items;
    l->items[l->count++] = (rx_range){lo, hi};
    return true;
}

static const rx_range DIGIT[] = {{'0', '9'}};
static const rx_range WORD[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const rx_range SPACE[] = {{'\t', '\r'}, {' ', ' '},         {0xA0, 0xA0},     {0x1680, 0x1680},
                                 {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                 {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

static bool ranges_add_set(rx_parser *ps, range_list *l, const rx_range *set, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!range_add(ps, l, set[i].lo, set[i].hi)) return false;
    return true;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool parse_hex(rx_parser *ps, int digits, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int d = hex_digit(peek(ps));
        if (d < 0) return rx_fail(ps, MCP_EINVAL);
        v = v * 16 + (uint32_t)d;
        ps->pos++;
    }
    *out = v;
    return true;
}

/* After a backslash. Either a single code point (*cp) or a shorthand set
 * (*set, *set_n, *negated). */
static bool parse_escape(rx_parser *ps, uint32_t *cp, const rx_range **set, size_t *set_n, bool *negated) {
    if (at_end(ps)) return rx_fail(ps, MCP_EINVAL);
    char c = ps->p[ps->pos++];
    *set = NULL;
    *negated = false;
    switch (c) {
    case 'd': case 'D': *set = DIGIT; *set_n = 1; *negated = c == 'D'; return true;
    case 'w': case 'W': *set = WORD; *set_n = 4; *negated = c == 'W'; return true;
    case 's': case 'S': *set = SPACE; *set_n = sizeof SPACE / sizeof SPACE[0]; *negated = c == 'S'; return true;
    case 't': *cp = '\t'; return true;
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 'f': *cp = '\f'; return true;
    case 'v': *cp = '\v'; return true;
    case '0': *cp = 0; return true;
    case 'x': return parse_hex(ps, 2, cp);
    case 'u': return parse_hex(ps, 4, cp);
    case 'b': case 'B': case 'p': case 'P': case 'k': case 'c': return rx_fail(ps, MCP_EUNSUPPORTED);
    default:
        if (c >= '1' && c <= '9') return rx_fail(ps, MCP_EUNSUPPORTED); /* backreference */
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return rx_fail(ps, MCP_EINVAL);
        ps->pos--;
        *cp = utf8_next(ps->p, ps->len, &ps->pos); /* escaped punctuation is itself */
        return true;
    }
}

static bool parse_class(rx_parser *ps, rx_node *node) {
    range_list l = {0};
    node->kind = RX_CLASS;
    if (peek(ps) == '^') {
        node->negated = true;
        ps->pos++;
    }
    bool first = true;
    while (!at_end(ps) && (peek(ps) != ']' || first)) {
        first = false;
        uint32_t lo;
        if (peek(ps) == '\\' && ps->pos + 1 < ps->len && ps->p[ps->pos + 1] == 'b') {
            ps->pos += 2;
            lo = '\b'; /* inside a class \b is a backspace, not a boundary */
        } else if (peek(ps) == '\\') {
            ps->pos++;
            const rx_range *set;
            size_t set_n = 0;
            bool neg;
            if (!parse_escape(ps, &lo, &set, &set_n, &neg)) return false;
            if (set) {
                if (neg) return rx_fail(ps, MCP_EUNSUPPORTED); /* [\D...] */
                if (!ranges_add_set(ps, &l, set, set_n)) return false;
                continue;
            }
        } else {
            lo = utf8_next(ps->p, ps->len, &ps->pos);
        }
        uint32_t hi = lo;
        if (peek(ps) == '-' && ps->pos + 1 < ps->len && ps->p[ps->pos + 1] != ']') {
            ps->pos++;
            if (peek(ps) == '\\') {
                ps->pos++;
                const rx_range *set;
                size_t set_n;
                bool neg;
                if (!parse_escape(ps, &hi, &set, &set_n, &neg)) return false;
                if (set) return rx_fail(ps, MCP_EINVAL);
            } else {
                hi = utf8_next(ps->p, ps->len, &ps->pos);
            }
            if (hi < lo) return rx_fail(ps, MCP_EINVAL);
        }
        if (!range_add(ps, &l, lo, hi)) return false;
    }
    if (at_end(ps)) return rx_fail(ps, MCP_EINVAL); /* unterminated class */
    ps->pos++;
    node->ranges = l.items;
    node->range_count = l.count;
    return true;
}

static bool parse_alternation(rx_parser *ps, rx_seq **alts, size_t *alt_count);

/* {n}, {n,}, {n,m}; false with no error when the brace is a literal. */
static bool parse_braces(rx_parser *ps, uint32_t *min, uint32_t *max) {
    size_t save = ps->pos;
    ps->pos++;
    uint64_t a = 0, b;
    size_t digits = 0;
    while (peek(ps) >= '0' && peek(ps) <= '9' && a < 100000) a = a * 10 + (uint64_t)(ps->p[ps->pos++] - '0'), digits++;
    if (!digits) goto literal;
    b = a;
    if (peek(ps) == ',') {
        ps->pos++;
        digits = 0;
        b = 0;
        while (peek(ps) >= '0' && peek(ps) <= '9' && b < 100000) b = b * 10 + (uint64_t)(ps->p[ps->pos++] - '0'), digits++;
        if (!digits) b = RX_INFINITE;
    }
    if (peek(ps) != '}') goto literal;
    ps->pos++;
    if (b < a) return rx_fail(ps, MCP_EINVAL);
    *min = (uint32_t)a;
    *max = (uint32_t)b;
    return true;
literal:
    ps->pos = save;
    return false;
}

static bool parse_atom(rx_parser *ps, rx_node *node) {
    memset(node, 0, sizeof *node);
    node->min = node->max = 1;
    char c = peek(ps);
    if (c == '(') {
        ps->pos++;
        if (peek(ps) == '?') {
            ps->pos++;
            if (peek(ps) == ':') {
                ps->pos++;
            } else if (peek(ps) == '<' && ps->pos + 1 < ps->len && ps->p[ps->pos + 1] != '=' &&
                       ps->p[ps->pos + 1] != '!') {
                while (!at_end(ps) && peek(ps) != '>') ps->pos++; /* named group: the name is irrelevant */
                if (at_end(ps)) return rx_fail(ps, MCP_EINVAL);
                ps->pos++;
            } else {
                return rx_fail(ps, MCP_EUNSUPPORTED); /* lookaround */
            }
        }
        if (++ps->depth > RX_MAX_NESTING) return rx_fail(ps, MCP_EUNSUPPORTED);
        node->kind = RX_GROUP;
        if (!parse_alternation(ps, &node->alts, &node->alt_count)) return false;
        ps->depth--;
        if (peek(ps) != ')') return rx_fail(ps, MCP_EINVAL);
        ps->pos++;
        return true;
    }
    ps->pos++;
    switch (c) {
    case '[': return parse_class(ps, node);
    case '.': node->kind = RX_ANY; return true;
    case '^': node->kind = RX_BOL; return true;
    case '$': node->kind = RX_EOL; return true;
    case '\\': {
        const rx_range *set;
        size_t set_n = 0;
        bool neg;
        uint32_t cp = 0;
        if (!parse_escape(ps, &cp, &set, &set_n, &neg)) return false;
        if (!set) {
            node->kind = RX_CHAR;
            node->cp = cp;
            return true;
        }
        range_list l = {0};
        if (!ranges_add_set(ps, &l, set, set_n)) return false;
        node->kind = RX_CLASS;
        node->negated = neg;
        node->ranges = l.items;
        node->range_count = l.count;
        return true;
    }
    case '*': case '+': case '?': case ')': return rx_fail(ps, MCP_EINVAL);
    default:
        ps->pos--;
        node->kind = RX_CHAR;
        node->cp = utf8_next(ps->p, ps->len, &ps->pos);
        return true;
    }
}

static bool parse_quantifier(rx_parser *ps, rx_node *node) {
    char c = peek(ps);
    uint32_t min, max;
    if (c == '*') min = 0, max = RX_INFINITE, ps->pos++;
    else if (c == '+') min = 1, max = RX_INFINITE, ps->pos++;
    else if (c == '?') min = 0, max = 1, ps->pos++;
    else if (c == '{' && parse_braces(ps, &min, &max)) {
    } else {
        return !ps->status;
    }
    if (node->kind == RX_BOL || node->kind == RX_EOL) return rx_fail(ps, MCP_EINVAL);
    node->min = min;
    node->max = max;
    if (peek(ps) == '?') ps->pos++; /* lazy: same answer to "is there a match" */
    c = peek(ps);
    if (c == '*' || c == '+' || c == '?') return rx_fail(ps, MCP_EINVAL);
    return true;
}

static bool parse_sequence(rx_parser *ps, rx_seq *seq) {
    size_t cap = 0;
    seq->items = NULL;
    seq->count = 0;
    while (!at_end(ps) && peek(ps) != '|' && peek(ps) != ')') {
        rx_node *items = grow(ps, seq->items, seq->count, &cap, sizeof *items);
        if (!items) return false;
        seq->items = items;
        if (!parse_atom(ps, &seq->items[seq->count])) return false;
        if (!parse_quantifier(ps, &seq->items[seq->count])) return false;
        seq->count++;
    }
    return true;
}

static bool parse_alternation(rx_parser *ps, rx_seq **alts, size_t *alt_count) {
    size_t cap = 0;
    *alts = NULL;
    *alt_count = 0;
    for (;;) {
        rx_seq *items = grow(ps, *alts, *alt_count, &cap, sizeof *items);
        if (!items) return false;
        *alts = items;
        if (!parse_sequence(ps, &(*alts)[*alt_count])) return false;
        (*alt_count)++;
        if (peek(ps) != '|') return true;
        ps->pos++;
    }
}

int mcp_schema_regex_compile(mcp_arena *arena, const char *pattern, size_t len, mcp_schema_regex **out) {
    rx_parser ps = {.arena = arena, .p = pattern, .len = len};
    mcp_schema_regex *re = mcp_arena_calloc(arena, sizeof *re);
    if (!re) return MCP_ENOMEM;
    if (!parse_alternation(&ps, &re->alts, &re->alt_count)) return ps.status;
    if (!at_end(&ps)) return MCP_EINVAL; /* an unmatched ')' */
    *out = re;
    return 0;
}

/* ---- Matcher ----------------------------------------------------------------------------
 * Continuation passing: matching a node is told what must match after it
 * (a rest of a sequence, or one more round of a repeated group), so
 * backtracking into a group's alternatives and repetitions needs no explicit
 * stack of choices. */

typedef struct rx_cont {
    const rx_seq *seq; /* continue this sequence at index... */
    size_t index;
    const rx_node *group; /* ...or repeat this group, done `count` times */
    uint32_t count;
    size_t start; /* where the current round began: empty rounds stop */
    const struct rx_cont *next;
} rx_cont;

typedef struct rx_matcher {
    const char *s;
    size_t len;
    unsigned long steps;
    unsigned long step_limit;
    unsigned depth;
    bool exhausted;
} rx_matcher;

static bool match_seq(rx_matcher *m, const rx_seq *seq, size_t index, size_t pos, const rx_cont *next);
static bool match_group(rx_matcher *m, const rx_node *g, uint32_t count, size_t pos, size_t start,
                        const rx_cont *next);

static bool run(rx_matcher *m, const rx_cont *c, size_t pos) {
    if (!c) return true;
    if (c->group) return match_group(m, c->group, c->count, pos, c->start, c->next);
    return match_seq(m, c->seq, c->index, pos, c->next);
}

static bool class_has(const rx_node *n, uint32_t cp) {
    bool in = false;
    for (size_t i = 0; i < n->range_count && !in; i++) in = cp >= n->ranges[i].lo && cp <= n->ranges[i].hi;
    return in != n->negated;
}

/* One code point at *pos for a single-width node. */
static bool match_one(const rx_matcher *m, const rx_node *n, size_t *pos) {
    if (*pos >= m->len) return false;
    uint32_t cp = utf8_next(m->s, m->len, pos);
    switch (n->kind) {
    case RX_CHAR: return cp == n->cp;
    case RX_ANY: return cp != '\n' && cp != '\r' && cp != 0x2028 && cp != 0x2029;
    case RX_CLASS: return class_has(n, cp);
    default: return false;
    }
}

static bool budget(rx_matcher *m) {
    if (m->exhausted) return false;
    if (++m->steps > m->step_limit || m->depth > RX_MAX_RECURSION) {
        m->exhausted = true;
        return false;
    }
    return true;
}

static bool match_group(rx_matcher *m, const rx_node *g, uint32_t count, size_t pos, size_t start,
                        const rx_cont *next) {
    if (!budget(m)) return false;
    m->depth++;
    bool ok = false;
    /* A round that consumed nothing would repeat forever; it is allowed
     * only while the minimum is not yet reached. */
    if (count < g->max && (pos != start || count < g->min)) {
        rx_cont again = {.group = g, .count = count + 1, .start = pos, .next = next};
        for (size_t i = 0; i < g->alt_count && !ok; i++) ok = match_seq(m, &g->alts[i], 0, pos, &again);
    }
    if (!ok && count >= g->min && !m->exhausted) ok = run(m, next, pos);
    m->depth--;
    return ok;
}

static bool match_seq(rx_matcher *m, const rx_seq *seq, size_t index, size_t pos, const rx_cont *next) {
    for (;;) {
        if (!budget(m)) return false;
        if (index == seq->count) return run(m, next, pos);
        const rx_node *n = &seq->items[index];
        if (n->kind == RX_BOL) {
            if (pos != 0) return false;
            index++;
            continue;
        }
        if (n->kind == RX_EOL) {
            if (pos != m->len) return false;
            index++;
            continue;
        }
        rx_cont rest = {.seq = seq, .index = index + 1, .next = next};
        if (n->kind == RX_GROUP) {
            m->depth++;
            bool ok = match_group(m, n, 0, pos, (size_t)-1, &rest);
            m->depth--;
            return ok;
        }
        /* A single-width atom: take as many as allowed, then give back one
         * code point at a time. No recursion per repetition. */
        size_t p = pos;
        uint32_t taken = 0;
        while (taken < n->max) {
            size_t q = p;
            if (!match_one(m, n, &q)) break;
            p = q;
            taken++;
        }
        if (taken < n->min) return false;
        if (n->min == n->max) { /* no choice to make: continue in this frame */
            pos = p;
            index++;
            continue;
        }
        m->depth++;
        for (;;) {
            if (match_seq(m, seq, index + 1, p, next)) {
                m->depth--;
                return true;
            }
            if (taken == n->min || m->exhausted) break;
            p = utf8_prev(m->s, p);
            taken--;
        }
        m->depth--;
        return false;
    }
}

int mcp_schema_regex_match(const mcp_schema_regex *re, const char *s, size_t len) {
    rx_matcher m = {.s = s, .len = len, .step_limit = RX_STEP_BASE + RX_STEPS_PER_BYTE * (unsigned long)len};
    rx_node top = {.kind = RX_GROUP, .min = 1, .max = 1, .alts = re->alts, .alt_count = re->alt_count};
    rx_seq root = {.items = &top, .count = 1};
    for (size_t start = 0; start <= len;) {
        if (match_seq(&m, &root, 0, start, NULL)) return 1;
        if (m.exhausted) return MCP_ELIMIT;
        if (start == len) break;
        utf8_next(s, len, &start);
    }
    return 0;
}
