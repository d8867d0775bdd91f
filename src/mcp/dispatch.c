/*
 * dispatch.c — from a classified request to a method: era, version and
 * session-state checks, then one dispatch table for both protocol eras.
 *
 * Era selection, per request: params._meta carrying
 * "io.modelcontextprotocol/protocolVersion" = 2026-07-28 makes the request
 * a modern, stateless one (no initialize needed; clientCapabilities must be
 * present). An unknown version there is answered with -32022 and the list
 * of versions we speak. Anything else belongs to the handshake era and
 * needs a completed initialize first.
 *
 * Requests before initialize: the specification says clients SHOULD NOT
 * send requests other than pings before initialization, and names no error
 * code. We answer -32600 (Invalid Request, with the request's id): the
 * request is well formed but not valid in the session's state. We do not
 * use -32002, which MCP already gives to "resource not found", nor the
 * implementation-defined -32000 that the TypeScript SDK's HTTP transport
 * sends with an HTTP 400.
 */
#include "internal.h"
#include "observe.h"
#include "tasks_modern.h"

#include <string.h>

enum {
    ERA_HANDSHAKE = 1,
    ERA_MODERN = 2,
    BEFORE_INIT = 4, /* allowed before initialize */
    TASKS = 8,       /* 2025-11-25 and later handshake versions only */
};

typedef struct method_entry {
    const char *name;
    size_t len;
    unsigned flags;
    int kind; /* for list methods */
    int (*fn)(mcp_call *call);
} method_entry;

static int list_tools(mcp_call *c) { return mcp_method_list(c, MCP_REGISTRY_TOOLS); }
static int list_resources(mcp_call *c) { return mcp_method_list(c, MCP_REGISTRY_RESOURCES); }
static int list_templates(mcp_call *c) { return mcp_method_list(c, MCP_REGISTRY_TEMPLATES); }
static int list_prompts(mcp_call *c) { return mcp_method_list(c, MCP_REGISTRY_PROMPTS); }

/* A name and its length, counted at compile time. */
#define NAME_LEN(name) name, sizeof(name) - 1

static const method_entry METHODS[] = {
    {NAME_LEN("tools/call"), ERA_HANDSHAKE | ERA_MODERN, 0, mcp_method_tools_call},
    {NAME_LEN("tools/list"), ERA_HANDSHAKE | ERA_MODERN, 0, list_tools},
    {NAME_LEN("resources/read"), ERA_HANDSHAKE | ERA_MODERN, 0, mcp_method_resources_read},
    {NAME_LEN("resources/list"), ERA_HANDSHAKE | ERA_MODERN, 0, list_resources},
    {NAME_LEN("resources/templates/list"), ERA_HANDSHAKE | ERA_MODERN, 0, list_templates},
    {NAME_LEN("prompts/get"), ERA_HANDSHAKE | ERA_MODERN, 0, mcp_method_prompts_get},
    {NAME_LEN("prompts/list"), ERA_HANDSHAKE | ERA_MODERN, 0, list_prompts},
    {NAME_LEN("completion/complete"), ERA_HANDSHAKE | ERA_MODERN, 0, mcp_method_complete},
    {NAME_LEN("resources/subscribe"), ERA_HANDSHAKE, 0, mcp_method_subscribe},
    {NAME_LEN("resources/unsubscribe"), ERA_HANDSHAKE, 0, mcp_method_unsubscribe},
    {NAME_LEN("logging/setLevel"), ERA_HANDSHAKE, 0, mcp_method_set_level},
    {NAME_LEN("subscriptions/listen"), ERA_MODERN, 0, mcp_method_listen},
    {NAME_LEN("tasks/get"), ERA_HANDSHAKE | ERA_MODERN | TASKS, 0, mcp_method_tasks_get},
    {NAME_LEN("tasks/result"), ERA_HANDSHAKE | TASKS, 0, mcp_method_tasks_result},
    {NAME_LEN("tasks/list"), ERA_HANDSHAKE | TASKS, 0, mcp_method_tasks_list},
    {NAME_LEN("tasks/cancel"), ERA_HANDSHAKE | ERA_MODERN | TASKS, 0, mcp_method_tasks_cancel},
    /* The modern era's tasks extension answers a task's questions here. */
    {NAME_LEN("tasks/update"), ERA_MODERN | TASKS, 0, mcp_method_tasks_update},
    {NAME_LEN("initialize"), ERA_HANDSHAKE | BEFORE_INIT, 0, mcp_method_initialize},
    {NAME_LEN("ping"), ERA_HANDSHAKE | BEFORE_INIT, 0, mcp_method_ping},
    /* server/discover is modern, but answering it without _meta costs
     * nothing and lets a client probe what we speak. */
    {NAME_LEN("server/discover"), ERA_HANDSHAKE | ERA_MODERN | BEFORE_INIT, 0, mcp_method_discover},
};

/* Lengths mostly differ, so a name is compared with about one entry. */
static const method_entry *method_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (METHODS[i].len == len && memcmp(METHODS[i].name, name, len) == 0)
            return &METHODS[i];
    return NULL;
}

static void fail_now(mcp_call *call, int code, const char *message)
{
    mcp_call_set_error(call, code, message);
    mcp_call_complete(call, 0);
}

static void fail_unsupported_version(mcp_call *call, const char *requested)
{
    mcp_buf data;
    mcp_buf_init(&data);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &data);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "supported");
    mcp_json_begin_array(&w);
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        mcp_json_write_cstr(&w, mcp_protocol_versions[i]);
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "requested");
    mcp_json_write_cstr(&w, requested);
    mcp_json_end_object(&w);
    if (mcp_json_writer_status(&w) == 0)
        call->fail_data = mcp_arena_strndup(&call->arena, data.data, data.len);
    mcp_buf_free(&data);
    fail_now(call, MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version");
}

/* What dispatch reads of params and params._meta, found in one pass over
 * each rather than a lookup per name (the last of duplicate members wins,
 * as with mcp_json_get). */
typedef struct request_fields {
    const mcp_json *meta, *input_responses, *request_state, *name, *uri, *arguments;
    const mcp_json *version, *client_caps, *log_level, *progress_token, *traceparent, *tracestate;
} request_fields;

#define KEY_IS(k, lit) ((k).len == sizeof(lit) - 1 && memcmp((k).ptr, lit, sizeof(lit) - 1) == 0)

static void fields_of_params(const mcp_json *params, request_fields *f)
{
    for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (KEY_IS(k, "_meta")) f->meta = m;
        else if (KEY_IS(k, "inputResponses")) f->input_responses = m;
        else if (KEY_IS(k, "requestState")) f->request_state = m;
        else if (KEY_IS(k, "name")) f->name = m;
        else if (KEY_IS(k, "uri")) f->uri = m;
        else if (KEY_IS(k, "arguments")) f->arguments = m;
    }
}

static void fields_of_meta(const mcp_json *meta, request_fields *f)
{
    for (const mcp_json *m = mcp_json_first(meta); m; m = mcp_json_next(m)) {
        mcp_str k = mcp_json_key(m);
        if (KEY_IS(k, "io.modelcontextprotocol/protocolVersion")) f->version = m;
        else if (KEY_IS(k, "io.modelcontextprotocol/clientCapabilities")) f->client_caps = m;
        else if (KEY_IS(k, "io.modelcontextprotocol/logLevel")) f->log_level = m;
        else if (KEY_IS(k, "progressToken")) f->progress_token = m;
        else if (KEY_IS(k, "traceparent")) f->traceparent = m;
        else if (KEY_IS(k, "tracestate")) f->tracestate = m;
    }
}

/* The modern era's per-request parts: log level, and the answers and
 * state of an input_required round. False when the call has failed. */
static bool modern_params(mcp_call *call, const request_fields *f)
{
    const mcp_json *level = f->log_level;
    if (level && (call->log_level = mcp_log_level_of(level)) < 0) {
        fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: io.modelcontextprotocol/logLevel is not a log level");
        return false;
    }
    const mcp_json *responses = f->input_responses;
    if (responses && !mcp_json_is_object(responses)) {
        fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: inputResponses must be an object");
        return false;
    }
    const mcp_json *state = f->request_state;
    if (state) {
        if (!mcp_json_is_string(state) || strlen(mcp_json_str(state, "")) != mcp_json_str_len(state)) {
            fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: requestState must be a string");
            return false;
        }
        int rc = mcp_request_state_open(call, mcp_json_str(state, ""), mcp_json_str_len(state), &call->request_state);
        if (rc != 0) {
            fail_now(call, rc == MCP_ENOMEM ? MCP_RPC_INTERNAL_ERROR : MCP_RPC_INVALID_PARAMS,
                     rc == MCP_ETIMEDOUT ? "Invalid params: requestState has expired; start the request again"
                     : rc == MCP_ENOMEM  ? "Internal error: out of memory"
                                         : "Invalid params: requestState failed verification");
            return false;
        }
    }
    return true;
}

/* Copy the params text into the call's arena and build it there, so that
 * the call does not depend on the message text (it may outlive it). */
static int load_params(mcp_call *call, const mcp_json *params, unsigned max_depth)
{
    mcp_str raw = mcp_json_raw(params);
    char *copy = mcp_arena_strndup(&call->arena, raw.ptr, raw.len);
    if (!copy)
        return MCP_ENOMEM;
    mcp_json_opts opts = {.max_depth = max_depth, .max_size = raw.len + 1};
    return mcp_json_parse(&call->arena, copy, raw.len, &opts, &call->params, NULL);
}

static void run_and_settle(mcp_call *call);

void mcp_dispatch_request(mcp_session *s, const mcp_rpc_message *msg, mcp_batch_reply *batch, mcp_call *owner)
{
    mcp_call *call = owner ? owner : mcp_call_acquire(s);
    if (!call) {
        mcp_session_emit_error(s, batch, &msg->id, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory", NULL);
        return;
    }
    call->batch = batch;
    if (owner) {
        /* The message already lives in the call's arena. */
        call->method = msg->method;
        call->id = msg->id;
    } else {
        call->method = mcp_arena_strndup(&call->arena, msg->method, msg->method_len);
        if (mcp_rpc_id_copy(&call->arena, &msg->id, &call->id) != 0 || !call->method) {
            call->id = msg->id; /* still valid: the message text lives until we return */
            fail_now(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
            return;
        }
    }

    if (msg->params) {
        if (!mcp_rpc_json_is_object(msg->params)) {
            fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: params must be an object");
            return;
        }
        int rc = 0;
        if (owner)
            rc = (call->params = mcp_json_expand(&call->arena, msg->params)) ? 0 : MCP_ENOMEM;
        else
            rc = load_params(call, msg->params, s->server->opts.max_json_depth);
        if (rc != 0) {
            fail_now(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
            return;
        }
    }
    request_fields f = {0};
    if (mcp_json_is_object(call->params))
        fields_of_params(call->params, &f);
    /* Before any check can fail: a refused call is reported with its target. */
    call->obs_name = f.name;
    call->obs_uri = f.uri;
    call->arguments = (mcp_json *)f.arguments;
    const mcp_json *meta = f.meta;
    if (meta && !mcp_json_is_object(meta)) {
        fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: _meta must be an object");
        return;
    }
    call->meta = (mcp_json *)meta;
    call->log_level = -1;
    fields_of_meta(meta, &f);
    call->obs_traceparent = f.traceparent;
    call->obs_tracestate = f.tracestate;
    const mcp_json *pv = f.version;
    if (pv) {
        if (!mcp_json_is_string(pv)) {
            fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: protocolVersion must be a string");
            return;
        }
        /* The modern version as written, what every modern request
         * carries, is known by its source text; anything else (an older
         * version, an escaped spelling) is decoded and looked up. */
        static const char MODERN_JSON[] = "\"" MCP_PROTOCOL_MODERN "\"";
        mcp_str pv_text = mcp_json_raw(pv);
        bool modern = pv_text.len == sizeof MODERN_JSON - 1 && memcmp(pv_text.ptr, MODERN_JSON, pv_text.len) == 0;
        if (!modern) {
            const char *v = mcp_json_str(pv, "");
            if (!mcp_protocol_is_supported(v) || strlen(v) != mcp_json_str_len(pv)) {
                fail_unsupported_version(call, v);
                return;
            }
            modern = mcp_protocol_is_modern(v);
        }
        if (modern) {
            call->modern = true;
            call->version = MCP_PROTOCOL_MODERN;
            call->client_caps = (mcp_json *)f.client_caps;
            if (!mcp_json_is_object(call->client_caps)) {
                fail_now(call, MCP_RPC_INVALID_PARAMS,
                         "Invalid params: _meta must carry io.modelcontextprotocol/clientCapabilities");
                return;
            }
            if (!modern_params(call, &f))
                return;
        }
    }
    const mcp_json *token = f.progress_token;
    if (token && mcp_rpc_id_from_json(token, &call->progress_token) != 0) {
        fail_now(call, MCP_RPC_INVALID_PARAMS, "Invalid params: progressToken must be a string or an integer");
        return;
    }

    const method_entry *m = method_find(msg->method, msg->method_len);
    if (!m || !(m->flags & (call->modern ? ERA_MODERN : ERA_HANDSHAKE))) {
        char *text = mcp_arena_sprintf(&call->arena, "Method not found: %s", call->method);
        fail_now(call, MCP_RPC_METHOD_NOT_FOUND, text ? text : "Method not found");
        return;
    }
    if (!call->modern) {
        if (s->state == MCP_SESSION_READY) {
            call->version = s->version;
        } else if (!(m->flags & BEFORE_INIT)) {
            fail_now(call, MCP_RPC_INVALID_REQUEST, "Server not initialized: send initialize first");
            return;
        } else {
            call->version = MCP_PROTOCOL_LATEST_HANDSHAKE;
        }
    }
    if ((m->flags & TASKS) && !mcp_tasks_enabled(call)) {
        char *text = mcp_arena_sprintf(&call->arena, "Method not found: %s", call->method);
        fail_now(call, MCP_RPC_METHOD_NOT_FOUND, text ? text : "Method not found");
        return;
    }

    call->run = m->fn;
    /* One locked section makes the call visible and starts its handler. */
    pthread_mutex_lock(&s->lock);
    if (!call->modern)
        call->client_caps = s->client_caps; /* lives as long as the session */
    call->next = s->inflight;
    s->inflight = call;
    call->state = MCP_CALL_IN_HANDLER;
    call->finish_requested = false;
    pthread_mutex_unlock(&s->lock);
    run_and_settle(call);
}

/* A handler answered MCP_INPUT_REQUIRED: settle it for the era. */
static void input_required(mcp_call *call)
{
    mcp_session *s = call->session;
    if (call->fail_code) {
        mcp_call_complete(call, 0);
        return;
    }
    if (call->modern) {
        if (!call->requests && !call->next_state) {
            mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: input required, but none requested");
        } else {
            call->input_required = true;
        }
        mcp_call_complete(call, 0);
        return;
    }
    pthread_mutex_lock(&s->lock);
    int sent = atomic_load(&call->cancelled) ? 0 : mcp_call_send_inputs(call);
    if (sent > 0) {
        call->state = MCP_CALL_AWAIT_INPUT;
        s->pending++;
        s->awaiting_input++;
        pthread_mutex_unlock(&s->lock);
        if (call->task)
            mcp_task_awaiting_input(call, true);
        return;
    }
    mcp_session_outbound_drop_call(s, call);
    pthread_mutex_unlock(&s->lock);
    if (sent == 0 && !atomic_load(&call->cancelled))
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: input required, but none requested");
    mcp_call_complete(call, sent < 0 ? sent : 0);
}

void mcp_dispatch_run(mcp_call *call)
{
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    call->state = MCP_CALL_IN_HANDLER;
    call->finish_requested = false;
    pthread_mutex_unlock(&s->lock);
    run_and_settle(call);
}

/* The call is IN_HANDLER: run it, then complete it or let it go on. */
static void run_and_settle(mcp_call *call)
{
    mcp_session *s = call->session;
    int rc = mcp_observe_run(call);

    if (rc != MCP_PENDING && rc != MCP_INPUT_REQUIRED) {
        /* Answered in the handler, the usual case: nothing else may touch
         * the call now, and completing it takes the lock once, to write
         * and recycle (the call leaves IN_HANDLER there). */
        mcp_call_complete(call, rc);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (rc == MCP_PENDING && !call->finish_requested) {
        call->state = MCP_CALL_ASYNC;
        s->pending++;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    call->state = MCP_CALL_IDLE;
    pthread_mutex_unlock(&s->lock);
    if (rc == MCP_INPUT_REQUIRED)
        input_required(call);
    else
        mcp_call_complete(call, rc == MCP_PENDING ? 0 : rc);
}

void mcp_dispatch_notification(mcp_session *s, const mcp_rpc_message *msg)
{
    /* Notifications are never answered, not even when malformed. */
    if (strcmp(msg->method, "notifications/initialized") == 0) {
        pthread_mutex_lock(&s->lock);
        s->initialized = s->state == MCP_SESSION_READY;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (strcmp(msg->method, "notifications/cancelled") != 0)
        return; /* progress, roots/list_changed: nothing to do */
    mcp_json *params = mcp_json_expand(&s->arena, msg->params);
    mcp_rpc_id id;
    if (mcp_rpc_id_from_json(mcp_json_get(params, "requestId"), &id) != 0)
        return;
    if (mcp_session_listen_cancel(s, &id))
        return;
    mcp_call *waiting = NULL;
    pthread_mutex_lock(&s->lock);
    for (mcp_call *c = s->inflight; c; c = c->next) {
        /* A task-augmented request was answered with its task: it is
         * stopped with tasks/cancel, not by cancelling the request. */
        if (!mcp_rpc_id_eq(&c->id, &id) || c->task)
            continue;
        atomic_store_explicit(&c->cancelled, true, memory_order_release);
        if (c->state == MCP_CALL_AWAIT_INPUT && !waiting) {
            /* Nothing runs for it that could notice: end it here. */
            mcp_session_outbound_drop_call(s, c);
            c->state = MCP_CALL_ASYNC; /* completing it counts it off pending */
            s->awaiting_input--;
            waiting = c;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (waiting)
        mcp_call_complete(waiting, 0);
}
