/*
 * The one-pass request reader (src/rpc/envelope_scan.c) against the general
 * envelope path, as tests/unit/test_rpc_scan.c compares them on chosen
 * texts: mcp_rpc_parse_built offers every object to the reader first,
 * mcp_rpc_parse never does, so on any input both must give the same
 * message — verdict, error code and message, kind, id, method, and params
 * (result, error) with the same source text and the same value.
 *
 * The whole input is the text, so that the seeds are plain JSON-RPC. It is
 * read twice: with the default limits, and with a depth and size limit
 * taken from its last byte, so that the reader's own limit checks (params
 * at depth 2, the size of the whole text) meet the general path's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"
#include "mcp/rpc.h"
#include "rpc/envelope_built.h"

static const uint8_t *g_data;
static size_t g_size;

/* libFuzzer saves the input, but the field that differed is what one
 * needs first when reading the report. */
static void differ(const char *what) {
    fprintf(stderr, "fuzz_rpc_envelope: paths differ on %s; input (%zu bytes):", what, g_size);
    for (size_t i = 0; i < g_size; i++) fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", g_data[i]);
    fputc('\n', stderr);
    abort();
}

static bool str_same(mcp_str a, mcp_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool cstr_same(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Canonical form of a node, expanding a RAW one; false only when memory
 * ran out. */
static bool canonical_of(mcp_arena *arena, mcp_json *v, mcp_buf *out, int *rc) {
    mcp_buf_reset(out);
    v = mcp_json_expand(arena, v);
    if (!v) return false;
    *rc = mcp_json_canonical(v, out);
    return true;
}

/* Two nodes of the same member: both absent, or the same text and value.
 * The built path must really have built its node. */
static void same_node(mcp_arena *arena, mcp_json *built, mcp_json *general, const char *what) {
    if ((built == NULL) != (general == NULL)) differ(what);
    if (!built) return;
    if (mcp_json_type_of(built) == MCP_JSON_RAW) differ(what);
    if (!str_same(mcp_json_raw(built), mcp_json_raw(general))) differ(what);
    mcp_buf a, b;
    mcp_buf_init(&a);
    mcp_buf_init(&b);
    int rc_a = 0, rc_b = 0;
    if (canonical_of(arena, built, &a, &rc_a) && canonical_of(arena, general, &b, &rc_b)) {
        if (rc_a != rc_b || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) differ(what);
    }
    mcp_buf_free(&a);
    mcp_buf_free(&b);
}

static void same_message(mcp_arena *arena, const mcp_rpc_message *f, const mcp_rpc_message *g) {
    if (f->kind != g->kind) differ("kind");
    if (f->error_code != g->error_code) differ("item error code");
    if (!cstr_same(f->error_message, g->error_message)) differ("item error message");
    if (f->id.type != g->id.type || f->id.num != g->id.num || !str_same(f->id.text, g->id.text)) differ("id");
    if ((f->method == NULL) != (g->method == NULL) || f->method_len != g->method_len) differ("method");
    /* The method is handed on NUL-terminated; the terminator is compared
     * too, since routing may use it as a C string. */
    if (f->method && memcmp(f->method, g->method, f->method_len + 1) != 0) differ("method");
    same_node(arena, f->params, g->params, "params");
    same_node(arena, f->result, g->result, "result");
    same_node(arena, f->error, g->error, "error");
}

static void agree(const char *text, size_t len, const mcp_json_opts *opts) {
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_rpc_batch fast, general;
    int rc_fast = mcp_rpc_parse_built(&arena, text, len, opts, &fast);
    int rc_general = mcp_rpc_parse(&arena, text, len, opts, &general);
    if (rc_fast != rc_general) differ("return code");
    if (rc_fast == 0) {
        if (fast.error_code != general.error_code) differ("whole-text error code");
        if (!cstr_same(fast.error_message, general.error_message)) differ("whole-text error message");
        if (fast.is_batch != general.is_batch || fast.count != general.count) differ("batch shape");
        for (size_t i = 0; i < fast.count; i++) same_message(&arena, &fast.items[i], &general.items[i]);
    }
    mcp_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    g_data = data;
    g_size = size;
    const char *text = (const char *)data;
    agree(text, size, NULL);
    if (size) {
        unsigned knob = data[size - 1];
        /* Depth 1..6 covers refusing params (depth 2) and what they nest;
         * a size limit at or just under the length covers the reader's
         * whole-text check. Zero would mean the default, so keep it >= 1. */
        size_t shrink = (knob >> 3) % 3;
        mcp_json_opts opts = {.max_depth = 1 + knob % 6, .max_size = size > shrink ? size - shrink : 1};
        agree(text, size, &opts);
    }
    return 0;
}
