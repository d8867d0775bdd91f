/*
 * mcpd call: send one request to an MCP server and print the result.
 *
 * Connects (spawning a stdio server or dialling TCP), negotiates the
 * protocol version, sends the request and prints the result object. Exit
 * codes are part of the interface, so scripts can tell a refusal by the
 * server (1) from a failure to reach it at all (2).
 *
 * A server may ask the client things (sampling, elicitation, roots) as
 * server requests or, in the modern era, as input_required results; the
 * answers are given up front on the command line, since the command has
 * nobody to ask. Notifications (logging, subscriptions) can be watched for
 * a while after the result with --listen.
 */
#include "app/app.h"
#include "app/call_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server refused our version (-32022, UnsupportedProtocolVersion) and
 * listed those it speaks: pick one we speak too (the modern era first) for
 * one more attempt. */
#define CALL_RETRY (-100)
static bool pick_retry_version(call_state *st, int status, const mcp_client_result *r)
{
    if (st->retried || status != MCP_CLIENT_RPC_ERROR || !r->json)
        return false;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *err = NULL;
    bool found = false;
    if (mcp_json_parse(&arena, r->json, r->len, NULL, &err, NULL) == 0 &&
        mcp_json_int(mcp_json_get(err, "code"), 0) == MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION) {
        const mcp_json *list = mcp_json_get(mcp_json_get(err, "data"), "supported");
        for (const mcp_json *v = mcp_json_first(list); v; v = mcp_json_next(v)) {
            const char *version = mcp_json_str(v, "");
            if (!mcp_protocol_is_supported(version) || strlen(version) >= sizeof st->retry_version)
                continue;
            if (!found || mcp_protocol_is_modern(version))
                snprintf(st->retry_version, sizeof st->retry_version, "%s", version);
            found = true;
        }
    }
    mcp_arena_free(&arena);
    return found;
}


static void listen_done(void *user, int status, const mcp_json *value, int64_t id)
{
    (void)id;
    call_state *st = user;
    st->listen_done = true;
    st->listen_status = status;
    if (value) {
        mcp_str raw = mcp_json_raw(value);
        st->listen_result = malloc(raw.len + 1);
        if (st->listen_result) {
            memcpy(st->listen_result, raw.ptr, raw.len);
            st->listen_result[raw.len] = '\0';
        }
    }
}

/* Pump messages (printing notifications) for ms, or until *stop. */
static int pump_for(mcp_client *client, unsigned ms, const bool *stop)
{
    uint64_t until = mcp_now_ns() + (uint64_t)ms * 1000000u;
    while (!(stop && *stop)) {
        uint64_t now = mcp_now_ns();
        if (now >= until)
            return 0;
        if (mcp_client_pump(client, (unsigned)((until - now) / 1000000u) + 1) == MCP_ECLOSED)
            return MCP_ECLOSED;
    }
    return 0;
}

/* subscriptions/listen: open, print what it carries, cancel at the end. */
static int run_listen(mcp_client *client, const call_args *a, call_state *st)
{
    int64_t id = 0;
    int rc = mcp_client_request(client, a->method, a->params,
                                &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT}, listen_done,
                                st, &id);
    if (rc != 0) {
        fprintf(stderr, "mcpd call: %s: %s\n", a->method, mcp_strerror(rc));
        return 2;
    }
    rc = pump_for(client, a->listen_ms ? a->listen_ms : a->timeout_ms, &st->listen_done);
    if (!st->listen_done) {
        if (rc == MCP_ECLOSED) {
            fprintf(stderr, "mcpd call: %s: the server closed the connection\n", a->method);
            return 2;
        }
        mcp_client_cancel(client, id, "mcpd call: listening time is over");
        return 0;
    }
    /* The server ended the stream (or refused it). */
    mcp_client_result r = {.status = st->listen_status, .json = st->listen_result,
                           .len = st->listen_result ? strlen(st->listen_result) : 0};
    if (r.status == 0) {
        app_call_print_json(stdout, r.json, r.len, a->compact);
        return 0;
    }
    return app_call_report_failure(a->method, r.status, &r, a->timeout_ms);
}

/* Handshake era: ask for log messages before the request itself. */
static int set_log_level(mcp_client *client, const call_args *a)
{
    char params[64];
    snprintf(params, sizeof params, "{\"level\":\"%s\"}", a->log_level);
    mcp_client_result r = {0};
    int status = mcp_client_call_sync(client, "logging/setLevel", params,
                                      &(mcp_client_request_opts){.timeout_ms = a->timeout_ms}, &r);
    int rc = status == 0 ? 0 : app_call_report_failure("logging/setLevel", status, &r, a->timeout_ms);
    mcp_client_result_free(&r);
    return rc;
}

/* The connector learns each tool's inputSchema from a listing: it mirrors
 * x-mcp-header arguments into Mcp-Param-* headers and refuses a tool whose
 * annotations are invalid. Every page, up to a bound against a server whose
 * cursors never end. */
static void list_tools(mcp_client *client, unsigned timeout_ms)
{
    char params[512] = "";
    for (int page = 0; page < 64; page++) {
        mcp_client_result listed = {0};
        if (mcp_client_call_sync(client, "tools/list", params[0] ? params : NULL,
                                 &(mcp_client_request_opts){.timeout_ms = timeout_ms}, &listed) != 0) {
            fputs("mcpd call: tools/list before tools/call failed; calling without Mcp-Param-* headers\n", stderr);
            mcp_client_result_free(&listed);
            return;
        }
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        const mcp_json *cursor = NULL;
        if (listed.json && mcp_json_parse(&arena, listed.json, listed.len, NULL, &doc, NULL) == 0)
            cursor = mcp_json_get(doc, "nextCursor");
        bool more = false;
        if (mcp_json_is_string(cursor)) {
            mcp_str raw = mcp_json_raw(cursor);
            more = raw.len + 16 < sizeof params;
            if (more)
                snprintf(params, sizeof params, "{\"cursor\":%.*s}", (int)raw.len, raw.ptr);
        }
        mcp_arena_free(&arena);
        mcp_client_result_free(&listed);
        if (!more)
            return;
    }
}

static int run(mcp_client *client, const call_args *a, call_state *st)
{
    const char *version = mcp_client_protocol_version(client);
    if (a->log_level && !mcp_protocol_is_modern(version)) {
        int rc = set_log_level(client, a);
        if (rc != 0)
            return rc;
    }
    if (!strcmp(a->method, "subscriptions/listen"))
        return run_listen(client, a, st);

    mcp_client_request_opts ropts = {.timeout_ms = a->timeout_ms};
    if (a->progress) {
        ropts.progress = true;
        ropts.on_progress = app_call_show_progress;
    }
    if (!strcmp(a->method, "tools/call") && app_call_target_is_http(a) && mcp_protocol_is_modern(version))
        list_tools(client, a->timeout_ms);
    mcp_client_result r = {0};
    int status = a->task ? mcp_client_call_task_sync(client, a->params, a->task_ttl_ms, a->timeout_ms, &r)
                         : mcp_client_call_sync(client, a->method, a->params, &ropts, &r);
    int rc;
    if (status == 0 || status == MCP_CLIENT_INPUT_REQUIRED) {
        app_call_print_json(stdout, r.json, r.len, a->compact);
        fflush(stdout);
        if (status == MCP_CLIENT_INPUT_REQUIRED)
            fprintf(stderr, "mcpd call: %s needs input first (resultType input_required) that the "
                            "--sampling-response/--elicit-response/--roots given cannot provide\n", a->method);
        rc = status == 0 ? 0 : 3;
    } else if (pick_retry_version(st, status, &r)) {
        rc = CALL_RETRY;
    } else {
        if (status == MCP_EINVAL && !strcmp(a->method, "tools/call") && app_call_target_is_http(a))
            fputs("mcpd call: the tool is refused: its x-mcp-header annotations break the rules, or the "
                  "arguments do not fit their types\n", stderr);
        rc = app_call_report_failure(a->method, status, &r, a->timeout_ms);
    }
    mcp_client_result_free(&r);
    if (rc == 0 && a->listen_ms && pump_for(client, a->listen_ms, NULL) == MCP_ECLOSED)
        fputs("mcpd call: the server closed the connection while listening\n", stderr);
    return rc;
}

/* Connect with version (NULL: negotiate), run, disconnect. */
static int attempt(const call_args *a, call_state *st, const char *version)
{
    mcp_client_transport *t = NULL;
    int rc = app_call_open_target(a, true, &t);
    if (rc != 0)
        return rc;
    mcp_client *client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = version,
        .timeout_ms = a->timeout_ms,
        .log_level = a->log_level,
        .transport = t,
        .on_notification = app_call_on_notification,
        .on_sampling = a->sampling_response ? app_call_answer_sampling : NULL,
        .on_elicitation = a->elicit_response || a->elicit_defaults ? app_call_answer_elicitation : NULL,
        .on_roots = a->roots ? app_call_answer_roots : NULL,
        .user = st,
        .observer = a->observer,
    });
    if (!client) {
        t->close(t);
        fputs("mcpd call: out of memory\n", stderr);
        return 2;
    }
    mcp_client_result r = {0};
    int status = mcp_client_connect(client, a->connect_timeout_ms, &r);
    if (status != 0) {
        if (status == MCP_EUNSUPPORTED) {
            const char *v = NULL;
            mcp_arena arena;
            mcp_arena_init(&arena, 0);
            mcp_json *doc = NULL;
            if (r.json && mcp_json_parse(&arena, r.json, r.len, NULL, &doc, NULL) == 0)
                v = mcp_json_str(mcp_json_get(doc, "protocolVersion"), NULL);
            fprintf(stderr, "mcpd call: the server chose protocol version '%s', which mcpd does not speak\n",
                    v ? v : "?");
            mcp_arena_free(&arena);
            rc = 2;
        } else if (pick_retry_version(st, status, &r)) {
            rc = CALL_RETRY;
        } else {
            app_call_report_failure("negotiating the protocol version", status, &r, a->connect_timeout_ms);
            /* A refused negotiation is a connection failure, not the method's error. */
            rc = 2;
        }
    } else {
        rc = run(client, a, st);
    }
    mcp_client_result_free(&r);
    mcp_client_free(client);
    return rc;
}

int app_call(int argc, char **argv)
{
    call_args a = {0};
    a.obs.command = "mcpd call";
    int rc = app_call_parse_args(argc, argv, &a);
    if (rc >= 0) {
        app_call_oauth_free(&a);
        return rc;
    }
    if (app_call_oauth_load(&a) != 0) {
        app_call_oauth_free(&a);
        return 2;
    }
    call_state st = {.args = &a};
    mcp_buf_init(&st.roots);
    st.listening = a.listen_ms > 0 || !strcmp(a.method, "subscriptions/listen");
    if (a.roots && app_call_build_roots(a.roots, &st.roots) != 0) {
        mcp_buf_free(&st.roots);
        app_call_oauth_free(&a);
        fputs("mcpd call: out of memory\n", stderr);
        return 2;
    }
    app_serve_obs so;
    if (app_serve_obs_open(&a.obs, &so)) {
        mcp_buf_free(&st.roots);
        app_call_oauth_free(&a);
        return 2;
    }
    a.observer = so.observer;
    rc = attempt(&a, &st, a.protocol);
    if (rc == CALL_RETRY) {
        fprintf(stderr, "mcpd call: the server refused protocol version %s; trying %s, which it lists\n",
                a.protocol ? a.protocol : "(negotiated)", st.retry_version);
        st.retried = true;
        free(st.listen_result);
        st.listen_result = NULL;
        rc = attempt(&a, &st, st.retry_version);
        if (rc == CALL_RETRY)
            rc = 2;
    }
    free(st.listen_result);
    mcp_buf_free(&st.roots);
    app_serve_obs_close(&so); /* exports the spans still buffered */
    app_call_oauth_free(&a);
    return rc;
}

