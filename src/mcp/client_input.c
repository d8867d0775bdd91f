/*
 * client_input.c — input_required results (2026-07-28).
 *
 * A modern server that needs something from the client before it can
 * finish (a sampling, an elicitation, the roots) does not call back: it
 * answers the request with resultType "input_required", a map of
 * inputRequests and possibly an opaque requestState. The client fulfils
 * each request with the same handlers that answer handshake-era server
 * requests and sends the original request again, with a new id, its
 * params plus "inputResponses" (same keys) and the requestState echoed
 * verbatim. A result with only a requestState is retried with just that.
 *
 * The caller sees the final result. It sees the input_required result
 * itself when a request has no handler, a handler refuses, or the rounds
 * run out (opts.max_input_rounds): a server that keeps asking must not
 * keep the client busy forever.
 */
#include "mcp/client_internal.h"

#include <stdlib.h>
#include <string.h>

/* Fulfil every input request into an object; false if one cannot be. */
static bool answer_all(mcp_client *c, const mcp_json *requests, mcp_json_writer *w)
{
    mcp_json_begin_object(w);
    for (const mcp_json *r = mcp_json_first(requests); r; r = mcp_json_next(r)) {
        const char *method = mcp_json_str(mcp_json_get(r, "method"), NULL);
        if (!method)
            return false;
        mcp_client_answer answer;
        memset(&answer, 0, sizeof answer);
        mcp_buf_init(&answer.result);
        mcp_client_run_handler(c, method, mcp_json_get(r, "params"), &answer);
        bool ok = answer.error_code == 0 && answer.result.len > 0 &&
                  mcp_json_validate(answer.result.data, answer.result.len, NULL, NULL) == 0;
        if (ok) {
            mcp_str key = mcp_json_key(r);
            mcp_json_write_key_n(w, key.ptr, key.len);
            mcp_json_write_raw(w, answer.result.data, answer.result.len);
        }
        mcp_buf_free(&answer.result);
        if (!ok)
            return false;
    }
    mcp_json_end_object(w);
    return true;
}

/* The retry's params: the original members (less any earlier round's
 * answers), then this round's inputResponses and requestState. */
static bool write_retry_params(mcp_client *c, const mcp_client_pending *p, const mcp_json *requests,
                               const mcp_json *state, mcp_buf *out)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *original = NULL;
    if (p->params && (mcp_json_parse(&arena, p->params, strlen(p->params), NULL, &original, NULL) != 0 ||
                      !mcp_json_is_object(original))) {
        mcp_arena_free(&arena);
        return false;
    }
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    for (const mcp_json *m = mcp_json_first(original); m; m = mcp_json_next(m)) {
        mcp_str key = mcp_json_key(m);
        if (mcp_str_eq_cstr(key, "inputResponses") || mcp_str_eq_cstr(key, "requestState"))
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, m);
    }
    bool ok = true;
    if (requests) {
        mcp_json_write_key(&w, "inputResponses");
        ok = answer_all(c, requests, &w);
    }
    if (ok && state) {
        mcp_json_write_key(&w, "requestState");
        mcp_json_write_value(&w, state);
    }
    mcp_json_end_object(&w);
    mcp_arena_free(&arena);
    return ok && mcp_json_writer_status(&w) == 0;
}

bool mcp_client_input_retry(mcp_client *client, mcp_client_pending *p, const mcp_json *result)
{
    if (!p->method || p->rounds >= client->max_input_rounds)
        return false;
    const mcp_json *requests = mcp_json_get(result, "inputRequests");
    const mcp_json *state = mcp_json_get(result, "requestState");
    if (requests && !mcp_json_is_object(requests))
        return false;
    if (state && !mcp_json_is_string(state))
        return false;
    if (!requests && !state)
        return false;
    mcp_buf params;
    mcp_buf_init(&params);
    if (!write_retry_params(client, p, requests, state, &params)) {
        mcp_buf_free(&params);
        return false;
    }
    mcp_client_request_opts ropts = {
        .timeout_ms = p->timeout_ns == UINT64_MAX ? MCP_CLIENT_NO_TIMEOUT
                                                  : (unsigned)(p->timeout_ns / 1000000u),
        .progress = p->progress,
        .on_progress = p->on_progress,
        .progress_user = p->progress_user,
    };
    int64_t id = 0;
    int rc = mcp_client_send_request(client, p->method, params.data, &ropts, MCP_CLIENT_FOR_CALLER,
                                     p->done, p->user, &id);
    mcp_buf_free(&params);
    if (rc != 0)
        return false;
    client->counters.input_rounds++;
    mcp_client_pending *next = mcp_client_find_pending(client, id);
    if (next) {
        /* Later rounds build on the original params, not on this round's. */
        next->rounds = p->rounds + 1;
        free(next->params);
        next->params = p->params;
        p->params = NULL;
    }
    free(p->method);
    free(p->params);
    p->method = p->params = NULL;
    return true;
}
