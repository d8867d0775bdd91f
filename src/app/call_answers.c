/*
 * call_answers.c — `mcpd call` has nobody to ask, so the answers to the
 * server's questions (sampling, elicitation, roots) are given up front on
 * the command line and handed out here, the same to every such request;
 * notifications are printed as they come (log messages on stderr,
 * everything on stdout while listening).
 */
#include "app/call_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void answer_with(const char *json, mcp_client_answer *answer)
{
    mcp_buf_append_cstr(&answer->result, json);
}

void app_call_answer_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    (void)params;
    answer_with(((call_state *)user)->args->sampling_response, answer);
}

/* The form's defaults (requestedSchema.properties.*.default), overridden by
 * the members of --elicit-response's content; its action, else accept. */
static void answer_with_defaults(const char *given, const mcp_json *params, mcp_client_answer *answer)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *response = NULL;
    if (given)
        mcp_json_parse(&arena, given, strlen(given), NULL, &response, NULL);
    const mcp_json *content = mcp_json_get(response, "content");
    const mcp_json *props = mcp_json_get(mcp_json_get(params, "requestedSchema"), "properties");
    mcp_json_writer w;
    mcp_json_writer_init(&w, &answer->result);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "action");
    mcp_json_write_cstr(&w, mcp_json_str(mcp_json_get(response, "action"), "accept"));
    mcp_json_write_key(&w, "content");
    mcp_json_begin_object(&w);
    for (const mcp_json *p = mcp_json_first(props); p; p = mcp_json_next(p)) {
        mcp_str key = mcp_json_key(p);
        const mcp_json *def = mcp_json_get(p, "default");
        if (!def)
            continue;
        bool overridden = false;
        for (const mcp_json *c = mcp_json_first(content); c && !overridden; c = mcp_json_next(c))
            overridden = mcp_str_eq(mcp_json_key(c), key);
        if (overridden)
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, def);
    }
    for (const mcp_json *c = mcp_json_first(content); c; c = mcp_json_next(c)) {
        mcp_str key = mcp_json_key(c);
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, c);
    }
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_arena_free(&arena);
}

void app_call_answer_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    const call_args *a = ((call_state *)user)->args;
    if (a->elicit_defaults)
        answer_with_defaults(a->elicit_response, params, answer);
    else
        answer_with(a->elicit_response, answer);
}

void app_call_answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    (void)params;
    call_state *st = user;
    mcp_buf_append(&answer->result, st->roots.data, st->roots.len);
}

int app_call_build_roots(const char *list, mcp_buf *out)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "roots");
    mcp_json_begin_array(&w);
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return -1;
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "uri");
        mcp_json_write_string(&w, p, len);
        mcp_json_end_object(&w);
        if (!end)
            break;
        p = end + 1;
    }
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

void app_call_on_notification(void *user, const char *method, const mcp_json *params)
{
    call_state *st = user;
    if (st->listening) {
        mcp_buf out;
        mcp_buf_init(&out);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &out);
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "method");
        mcp_json_write_cstr(&w, method);
        if (params) {
            mcp_json_write_key(&w, "params");
            mcp_json_write_value(&w, params);
        }
        mcp_json_end_object(&w);
        if (mcp_json_writer_status(&w) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        mcp_buf_free(&out);
    }
    if (!strcmp(method, "notifications/message")) {
        const mcp_json *data = mcp_json_get(params, "data");
        const char *logger = mcp_json_str(mcp_json_get(params, "logger"), NULL);
        mcp_str raw = mcp_json_raw(data);
        fprintf(stderr, "log %s%s%s: %.*s\n", mcp_json_str(mcp_json_get(params, "level"), "?"),
                logger ? " " : "", logger ? logger : "", mcp_json_is_string(data) ? (int)mcp_json_str_len(data) : (int)raw.len,
                mcp_json_is_string(data) ? mcp_json_str(data, "") : raw.ptr ? raw.ptr : "");
    }
}
