/*
 * json: parse and serialize real MCP messages with libmcp's codec and with
 * cJSON, jansson and json-c in the same run, so that the ratios compare
 * libraries under the same load on the same machine at the same moment.
 *
 * The corpus is generated here, deterministically, with plain formatted
 * printing (not with the codec under test):
 *   json_small        an initialize request and a tools/call request, alternating
 *   json_tools_list   a tools/list result with 100 tools and their input schemas
 *   json_resource_1mib a resources/read result carrying 1 MiB of text with
 *                     escapes (quotes, backslashes, newlines, tabs, \u sequences)
 *
 * parse:     text -> DOM, then the DOM freed (libmcp: the arena reset)
 * serialize: a DOM parsed once -> compact text, the text dropped
 * mcp_parse_read_all: libmcp's parse plus reading every string value of the
 *            DOM (mcp_json_str and mcp_json_str_len). libmcp validates
 *            strings at parse time and decodes them on first read, while
 *            the other libraries decode every string while parsing; this
 *            task times libmcp doing that same work, and its ratios
 *            (speedup_vs_<library>_parse) compare it with their parse.
 * Every record gets mb_per_s (message bytes / time) and ns_per_msg; the
 * libmcp records also get speedup_vs_<library> for the same operation.
 */
#include "harness.h"
#include "json_peers.h"
#include "mcp/json.h"

#include <stdlib.h>
#include <string.h>

enum { CORPUS_SMALL = 1, CORPUS_TOOLS_LIST = 2, CORPUS_RESOURCE = 3 };
#define RESOURCE_TEXT_BYTES (1024 * 1024)
#define MAX_MESSAGES 2

/* ---- corpus --------------------------------------------------------------------- */

typedef struct corpus {
    mcp_buf msgs[MAX_MESSAGES];
    size_t count;
    double mean_bytes;
} corpus;

static void corpus_free(corpus *c) {
    for (size_t i = 0; i < MAX_MESSAGES; i++) mcp_buf_free(&c->msgs[i]);
}

static int corpus_small(corpus *c) {
    c->count = 2;
    int rc = mcp_buf_append_cstr(&c->msgs[0],
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
        "\"capabilities\":{\"roots\":{\"listChanged\":true},\"sampling\":{},\"elicitation\":{}},"
        "\"clientInfo\":{\"name\":\"bench-client\",\"title\":\"Bench Client\",\"version\":\"1.4.2\"}}}");
    if (!rc)
        rc = mcp_buf_append_cstr(&c->msgs[1],
            "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"search_items\","
            "\"arguments\":{\"query\":\"latency \\\"p99\\\" budget\",\"limit\":25,\"filters\":{\"tags\":[\"fast\","
            "\"cached\"],\"since\":\"2026-01-01T00:00:00Z\"},\"exact\":false,\"score\":0.75},"
            "\"_meta\":{\"progressToken\":\"tok-42\"}}}");
    return rc;
}

static int corpus_tools_list(corpus *c) {
    static const char *const verbs[] = {"get", "list", "search", "create", "update", "delete", "sync"};
    static const char *const nouns[] = {"issue", "file", "record", "ticket", "user", "page", "build"};
    mcp_buf *b = &c->msgs[0];
    c->count = 1;
    int rc = mcp_buf_append_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[");
    for (int i = 0; i < 100 && !rc; i++) {
        const char *verb = verbs[i % 7], *noun = nouns[(i / 7) % 7];
        rc = mcp_buf_appendf(b,
            "%s{\"name\":\"%s_%s_%d\",\"title\":\"%c%s %s #%d\",\"description\":\"%s a %s by id or by query; "
            "returns at most `limit` items, newest first. Use \\\"cursor\\\" to page.\","
            "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\","
            "\"description\":\"free text\"},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":%d},"
            "\"cursor\":{\"type\":\"string\"},\"include_archived\":{\"type\":\"boolean\",\"default\":false}},"
            "\"required\":[\"query\"]},\"annotations\":{\"readOnlyHint\":%s,\"idempotentHint\":true}}",
            i ? "," : "", verb, noun, i, verb[0] - 32, verb + 1, noun, i, verb, noun, 50 + i,
            i % 3 ? "true" : "false");
    }
    if (!rc) rc = mcp_buf_append_cstr(b, "],\"nextCursor\":\"eyJvZmZzZXQiOjEwMH0=\"}}");
    return rc;
}

static int corpus_resource(corpus *c, size_t text_bytes) {
    static const char *const words[] = {"request", "latency", "the", "server", "cache", "of", "tool", "and",
                                        "session", "stream", "p99", "queue", "résumé", "naïve", "budget"};
    mcp_buf *b = &c->msgs[0];
    c->count = 1;
    int rc = mcp_buf_append_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"contents\":[{\"uri\":"
                                    "\"file:///docs/big.txt\",\"mimeType\":\"text/plain\",\"text\":\"");
    size_t start = b->len;
    uint64_t x = 0x2545F4914F6CDD1Dull; /* xorshift: the same text on every run */
    while (!rc && b->len - start < text_bytes) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned pick = (unsigned)(x % 100);
        if (pick < 4) rc = mcp_buf_append_cstr(b, "\\n");
        else if (pick < 6) rc = mcp_buf_append_cstr(b, "\\t");
        else if (pick < 8) rc = mcp_buf_append_cstr(b, " \\\"quoted\\\"");
        else if (pick < 9) rc = mcp_buf_append_cstr(b, " C:\\\\path\\\\x");
        else if (pick < 10) rc = mcp_buf_append_cstr(b, " \\u00e9t\\u00e9");
        else {
            rc = mcp_buf_append_char(b, ' ');
            if (!rc) rc = mcp_buf_append_cstr(b, words[(x >> 20) % (sizeof words / sizeof words[0])]);
        }
    }
    if (!rc) rc = mcp_buf_append_cstr(b, "\"}]}}");
    return rc;
}

static int corpus_build(corpus *c, uint64_t kind, size_t resource_bytes) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < MAX_MESSAGES; i++) mcp_buf_init(&c->msgs[i]);
    int rc = kind == CORPUS_SMALL        ? corpus_small(c)
             : kind == CORPUS_TOOLS_LIST ? corpus_tools_list(c)
                                         : corpus_resource(c, resource_bytes);
    double total = 0;
    for (size_t i = 0; i < c->count; i++) total += (double)c->msgs[i].len;
    c->mean_bytes = c->count ? total / (double)c->count : 0;
    return rc;
}

/* ---- libmcp as a peer -------------------------------------------------------------- */

typedef struct mcp_ctx {
    mcp_arena arena;
    mcp_buf out;
} mcp_ctx;

static void *mcp_open(void) {
    mcp_ctx *c = malloc(sizeof *c);
    if (!c) return NULL;
    mcp_arena_init(&c->arena, 0);
    mcp_buf_init(&c->out);
    return c;
}

static void mcp_close(void *p) {
    mcp_ctx *c = p;
    if (!c) return;
    mcp_arena_free(&c->arena);
    mcp_buf_free(&c->out);
    free(c);
}

static void *mcp_parse_doc(void *p, const char *text, size_t len) {
    mcp_ctx *c = p;
    mcp_json *doc = NULL;
    if (mcp_json_parse(&c->arena, text, len, NULL, &doc, NULL) != 0) return NULL;
    return doc;
}

static void mcp_release(void *p, void *doc) {
    (void)doc;
    mcp_arena_reset(&((mcp_ctx *)p)->arena);
}

static size_t mcp_serialize(void *p, void *doc) {
    mcp_ctx *c = p;
    mcp_buf_reset(&c->out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &c->out);
    mcp_json_write_value(&w, doc);
    return mcp_json_writer_status(&w) == 0 ? c->out.len : 0;
}

/* Reads every string value below v, the way a handler that uses the whole
 * message would; the sum keeps the reads from being optimised away. */
static size_t mcp_read_strings(const mcp_json *v) {
    size_t sum = 0;
    if (mcp_json_is_string(v)) return mcp_json_str_len(v) + (size_t)(unsigned char)mcp_json_str(v, "")[0];
    for (const mcp_json *c = mcp_json_first(v); c; c = mcp_json_next(c)) sum += mcp_read_strings(c);
    return sum;
}

static const json_peer MCP_PEER = {"mcp", mcp_open, mcp_close, mcp_parse_doc, mcp_release, mcp_serialize};

static const json_peer *const PEERS[] = {&MCP_PEER, &bench_json_peer_cjson, &bench_json_peer_jansson,
                                         &bench_json_peer_jsonc};
#define PEER_COUNT (sizeof PEERS / sizeof PEERS[0])

/* ---- tasks --------------------------------------------------------------------------- */

typedef struct peer_task {
    const json_peer *peer;
    const corpus *corpus;
    void *ctx;
    void *docs[MAX_MESSAGES]; /* for serialize: parsed once */
} peer_task;

typedef struct json_state {
    corpus corpus;
    peer_task parse[PEER_COUNT];
    peer_task serialize[PEER_COUNT];
    peer_task read_all; /* libmcp only: parse and read every string */
} json_state;

static int run_parse(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    peer_task *t = p;
    const corpus *c = t->corpus;
    uint64_t failures = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        const mcp_buf *m = &c->msgs[i % c->count];
        uint64_t a = lat ? mcp_now_ns() : 0;
        void *doc = t->peer->parse(t->ctx, m->data, m->len);
        if (doc) t->peer->release(t->ctx, doc);
        else failures++;
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return failures ? MCP_EPARSE : MCP_OK;
}

static int run_parse_read_all(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    peer_task *t = p;
    const corpus *c = t->corpus;
    uint64_t failures = 0;
    volatile size_t sink = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        const mcp_buf *m = &c->msgs[i % c->count];
        uint64_t a = lat ? mcp_now_ns() : 0;
        void *doc = mcp_parse_doc(t->ctx, m->data, m->len);
        if (doc) {
            sink += mcp_read_strings(doc);
            mcp_release(t->ctx, doc);
        } else {
            failures++;
        }
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    (void)sink;
    return failures ? MCP_EPARSE : MCP_OK;
}

static int run_serialize(void *p, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    peer_task *t = p;
    const corpus *c = t->corpus;
    uint64_t failures = 0;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t a = lat ? mcp_now_ns() : 0;
        failures += t->peer->serialize(t->ctx, t->docs[i % c->count]) == 0;
        if (lat) mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return failures ? MCP_EIO : MCP_OK;
}

static void json_teardown(void *p) {
    json_state *s = p;
    if (!s) return;
    for (size_t i = 0; i < PEER_COUNT; i++) {
        peer_task *t = &s->serialize[i];
        for (size_t k = 0; k < MAX_MESSAGES; k++)
            if (t->docs[k] && t->peer) t->peer->release(t->ctx, t->docs[k]);
        if (t->ctx) t->peer->close(t->ctx);
        if (s->parse[i].ctx) s->parse[i].peer->close(s->parse[i].ctx);
    }
    if (s->read_all.ctx) mcp_close(s->read_all.ctx);
    corpus_free(&s->corpus);
    free(s);
}

static int json_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    json_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    int rc = corpus_build(&s->corpus, w->size, RESOURCE_TEXT_BYTES);
    bool big = w->size != CORPUS_SMALL;
    for (size_t i = 0; i < PEER_COUNT && rc == 0; i++) {
        const json_peer *peer = PEERS[i];
        s->parse[i] = (peer_task){peer, &s->corpus, peer->open(), {NULL}};
        s->serialize[i] = (peer_task){peer, &s->corpus, peer->open(), {NULL}};
        if (!s->parse[i].ctx || !s->serialize[i].ctx) {
            rc = MCP_ENOMEM;
            break;
        }
        for (size_t k = 0; k < s->corpus.count; k++) {
            s->serialize[i].docs[k] = peer->parse(s->serialize[i].ctx, s->corpus.msgs[k].data, s->corpus.msgs[k].len);
            if (!s->serialize[i].docs[k]) {
                fprintf(stderr, "bench json: %s rejected corpus message %zu of %s; not timing a failure\n",
                        peer->name, k, w->id);
                rc = MCP_EPARSE;
                break;
            }
        }
        bench_task *p = &tasks[2 * i], *q = &tasks[2 * i + 1];
        snprintf(p->name, sizeof p->name, "%s_parse", peer->name);
        snprintf(q->name, sizeof q->name, "%s_serialize", peer->name);
        snprintf(p->scope, sizeof p->scope, "%s: parse %s (%.0f bytes/msg) into a DOM and free it, one thread",
                 peer->name, w->id, s->corpus.mean_bytes);
        snprintf(q->scope, sizeof q->scope, "%s: serialize the DOM of %s (%.0f bytes/msg) to compact text, "
                 "one thread", peer->name, w->id, s->corpus.mean_bytes);
        p->run = run_parse;
        p->ctx = &s->parse[i];
        q->run = run_serialize;
        q->ctx = &s->serialize[i];
        p->single_pass = q->single_pass = big;
        p->reference = q->reference = peer != &MCP_PEER;
    }
    if (rc == 0) {
        s->read_all = (peer_task){&MCP_PEER, &s->corpus, mcp_open(), {NULL}};
        if (!s->read_all.ctx) rc = MCP_ENOMEM;
    }
    if (rc) {
        json_teardown(s);
        *state = NULL;
        return rc;
    }
    bench_task *r = &tasks[2 * PEER_COUNT];
    snprintf(r->name, sizeof r->name, "mcp_parse_read_all");
    snprintf(r->scope, sizeof r->scope, "mcp: parse %s (%.0f bytes/msg) into a DOM, read every string value "
             "(decoded: mcp_json_str, mcp_json_str_len), free it, one thread", w->id, s->corpus.mean_bytes);
    r->run = run_parse_read_all;
    r->ctx = &s->read_all;
    r->single_pass = big;
    r->reference = false;
    *count = 2 * PEER_COUNT + 1;
    return MCP_OK;
}

static const bench_record *find_record(const bench_record *records, size_t count, const char *benchmark) {
    for (size_t i = 0; i < count; i++)
        if (!strcmp(records[i].benchmark, benchmark)) return &records[i];
    return NULL;
}

static void json_finish(void *p, bench_record *records, size_t count) {
    json_state *s = p;
    for (size_t i = 0; i < count; i++) {
        bench_record *r = &records[i];
        if (r->throughput <= 0) continue;
        bench_record_add_metric(r, "mb_per_s", r->throughput * s->corpus.mean_bytes / 1e6);
        bench_record_add_metric(r, "ns_per_msg", 1e9 / r->throughput);
    }
    /* Ratios from this one run: libmcp's operation against each library's. */
    for (size_t i = 0; i < count; i++) {
        bench_record *ours = &records[i];
        const char *op = strchr(ours->benchmark, '_');
        if (strncmp(ours->benchmark, "mcp_", 4) || !op) continue;
        /* parse_read_all does what the others' parse does (every string
         * decoded), so it is held against their parse, named as such. */
        bool read_all = strcmp(op, "_parse_read_all") == 0;
        const char *want = read_all ? "_parse" : op;
        for (size_t j = 0; j < count; j++) {
            const bench_record *theirs = &records[j];
            const char *their_op = strchr(theirs->benchmark, '_');
            if (i == j || !strncmp(theirs->benchmark, "mcp_", 4) || !their_op || strcmp(want, their_op) ||
                theirs->throughput <= 0)
                continue;
            char name[40];
            snprintf(name, sizeof name, "speedup_vs_%.*s%s", (int)(their_op - theirs->benchmark),
                     theirs->benchmark, read_all ? "_parse" : "");
            bench_record_add_metric(ours, name, ours->throughput / theirs->throughput);
        }
    }
    /* The codec's goal is stated for parse plus serialize of one message:
     * time per message of both steps together, ours against each library's,
     * recorded on our serialize record. */
    const bench_record *our_parse = find_record(records, count, "mcp_parse");
    bench_record *our_serialize = (bench_record *)find_record(records, count, "mcp_serialize");
    if (!our_parse || !our_serialize || our_parse->throughput <= 0 || our_serialize->throughput <= 0) return;
    double ours_ns = 1e9 / our_parse->throughput + 1e9 / our_serialize->throughput;
    for (size_t k = 1; k < PEER_COUNT; k++) {
        char parse_name[48], serialize_name[48], metric[40];
        snprintf(parse_name, sizeof parse_name, "%s_parse", PEERS[k]->name);
        snprintf(serialize_name, sizeof serialize_name, "%s_serialize", PEERS[k]->name);
        const bench_record *tp = find_record(records, count, parse_name);
        const bench_record *ts = find_record(records, count, serialize_name);
        if (!tp || !ts || tp->throughput <= 0 || ts->throughput <= 0) continue;
        double theirs_ns = 1e9 / tp->throughput + 1e9 / ts->throughput;
        snprintf(metric, sizeof metric, "round_trip_speedup_vs_%s", PEERS[k]->name);
        bench_record_add_metric(our_serialize, metric, theirs_ns / ours_ns);
    }
}

/* Fixed work for instruction counting: libmcp's codec only, on every kind
 * of message (the resource cut to 64 KiB to keep callgrind quick): parse
 * and serialize, then parse and read every string. */
static int json_deterministic(void) {
    int rc = MCP_OK;
    void *ctx = mcp_open();
    if (!ctx) return MCP_ENOMEM;
    static const struct {
        uint64_t kind;
        int rounds;
    } plan[] = {{CORPUS_SMALL, 200}, {CORPUS_TOOLS_LIST, 4}, {CORPUS_RESOURCE, 2}};
    for (size_t p = 0; p < sizeof plan / sizeof plan[0] && rc == 0; p++) {
        corpus c;
        rc = corpus_build(&c, plan[p].kind, 64 * 1024);
        for (int r = 0; r < plan[p].rounds && rc == 0; r++) {
            for (size_t k = 0; k < c.count && rc == 0; k++) {
                void *doc = mcp_parse_doc(ctx, c.msgs[k].data, c.msgs[k].len);
                if (!doc || mcp_serialize(ctx, doc) == 0) rc = MCP_EPARSE;
                mcp_release(ctx, doc);
                /* and the decode path, as mcp_parse_read_all runs it */
                doc = mcp_parse_doc(ctx, c.msgs[k].data, c.msgs[k].len);
                if (!doc || mcp_read_strings(doc) == 0) rc = MCP_EPARSE;
                mcp_release(ctx, doc);
            }
        }
        corpus_free(&c);
    }
    mcp_close(ctx);
    return rc;
}

static const bench_workload JSON_WORKLOADS[] = {
    {"json_small", "initialize and tools/call requests (~250 bytes)", CORPUS_SMALL, {20000, 100000}, {5, 15}},
    {"json_tools_list", "tools/list result with 100 tools (~47 KiB)", CORPUS_TOOLS_LIST, {300, 2000}, {5, 15}},
    {"json_resource_1mib", "resources/read result with 1 MiB of escaped text", CORPUS_RESOURCE, {24, 40}, {5, 15}},
};

const bench_module bench_module_json = {
    .name = "json",
    .description = "parse and serialize MCP messages: libmcp vs cJSON, jansson, json-c",
    .workloads = JSON_WORKLOADS,
    .workload_count = sizeof JSON_WORKLOADS / sizeof JSON_WORKLOADS[0],
    .setup = json_setup,
    .finish = json_finish,
    .teardown = json_teardown,
    .deterministic = json_deterministic,
    .interleave = true, /* ratios to cJSON & co need every library under the same load */
};
