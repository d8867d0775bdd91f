/*
 * call_print.c — what `mcpd call` writes: the result object (indented, or
 * compact on one line), progress on stderr, and a failure as one line
 * that says which of the exit statuses it is.
 */
#include "app/call_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void indent(mcp_buf *out, int depth)
{
    mcp_buf_append_char(out, '\n');
    for (int i = 0; i < depth; i++)
        mcp_buf_append(out, "  ", 2);
}

static void pretty(mcp_buf *out, const mcp_json *v, int depth)
{
    mcp_json_type t = mcp_json_type_of(v);
    if ((t == MCP_JSON_OBJECT || t == MCP_JSON_ARRAY) && mcp_json_len(v) > 0) {
        bool obj = t == MCP_JSON_OBJECT;
        mcp_buf_append_char(out, obj ? '{' : '[');
        for (const mcp_json *m = mcp_json_first(v); m; m = mcp_json_next(m)) {
            indent(out, depth + 1);
            if (obj) {
                mcp_str key = mcp_json_key(m);
                mcp_json_escape(out, key.ptr, key.len);
                mcp_buf_append(out, ": ", 2);
            }
            pretty(out, m, depth + 1);
            if (mcp_json_next(m))
                mcp_buf_append_char(out, ',');
        }
        indent(out, depth);
        mcp_buf_append_char(out, obj ? '}' : ']');
        return;
    }
    /* Scalars and empty containers: the compact writer's form. */
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_write_value(&w, v);
}

int app_call_print_json(FILE *to, const char *text, size_t len, bool compact)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&arena, text, len, NULL, &doc, NULL);
    mcp_buf out;
    mcp_buf_init(&out);
    if (rc == 0) {
        if (compact) {
            mcp_json_writer w;
            mcp_json_writer_init(&w, &out);
            mcp_json_write_value(&w, doc);
        } else {
            pretty(&out, doc, 0);
        }
        fwrite(out.data, 1, out.len, to);
        fputc('\n', to);
    }
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
    return rc;
}

void app_call_show_progress(void *user, double progress, double total, const char *message)
{
    (void)user;
    if (total > 0)
        fprintf(stderr, "progress: %g/%g%s%s\n", progress, total, message ? " " : "", message ? message : "");
    else
        fprintf(stderr, "progress: %g%s%s\n", progress, message ? " " : "", message ? message : "");
}

int app_call_report_failure(const char *what, int status, const mcp_client_result *r, unsigned timeout_ms)
{
    if (status == MCP_CLIENT_RPC_ERROR) {
        fprintf(stderr, "mcpd call: %s: the server answered with an error:\n", what);
        app_call_print_json(stderr, r->json, r->len, true);
        return 1;
    }
    if (status == MCP_ETIMEDOUT)
        fprintf(stderr, "mcpd call: %s: no answer within %u ms\n", what, timeout_ms);
    else if (status == MCP_ECLOSED)
        fprintf(stderr, "mcpd call: %s: the server closed the connection\n", what);
    else
        fprintf(stderr, "mcpd call: %s: %s\n", what, mcp_strerror(status));
    return 2;
}
