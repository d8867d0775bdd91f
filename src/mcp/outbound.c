/*
 * outbound.c — requests from the server to the client, and the input a
 * handler asks for (sampling, elicitation, roots) in both protocol eras.
 *
 * Handshake era: a request goes to the client with an integer id of ours
 * and waits in the session's outbound list until a response with that id
 * comes back. Ids count up per session; client request ids live in another
 * namespace (the other direction), so they cannot collide.
 *
 * Input for a call: the handler records what it needs and returns
 * MCP_INPUT_REQUIRED. In the handshake era the requests are sent and the
 * call waits; when the last answer arrives the method runs again and the
 * handler finds the answers. In the modern era the call answers with an
 * InputRequiredResult (call.c) and the client's retry is a new call that
 * carries inputResponses. Either way the handler is written once.
 */
#include "internal.h"
#include "mcp/message.h"

#include <stdlib.h>
#include <string.h>

bool mcp_caps_allow(const mcp_json *caps, const char *method, const char *mode)
{
    if (strcmp(method, "sampling/createMessage") == 0) {
        const mcp_json *s = mcp_json_get(caps, "sampling");
        if (mode && strcmp(mode, "tools") == 0)
            return mcp_json_is_object(mcp_json_get(s, "tools"));
        return mcp_json_is_object(s);
    }
    if (strcmp(method, "roots/list") == 0)
        return mcp_json_is_object(mcp_json_get(caps, "roots"));
    if (strcmp(method, "elicitation/create") == 0) {
        const mcp_json *e = mcp_json_get(caps, "elicitation");
        if (!mcp_json_is_object(e))
            return false;
        if (mode && strcmp(mode, "url") == 0)
            return mcp_json_is_object(mcp_json_get(e, "url"));
        /* An empty elicitation object means form support (2025-06-18). */
        return mcp_json_len(e) == 0 || mcp_json_is_object(mcp_json_get(e, "form"));
    }
    return true;
}

/* The capability check plus what the negotiated version allows: a client
 * of 2025-03-26 may declare elicitation, but that revision has no
 * elicitation/create to send it. */
static bool client_can(const char *version, const mcp_json *caps, const char *method, const char *mode)
{
    if (strcmp(method, "elicitation/create") == 0 && version && version[0] &&
        mcp_protocol_compare(version, "2025-06-18") < 0)
        return false;
    /* URL elicitation and sampling with tools arrived in 2025-11-25. */
    if (mode && strcmp(mode, "form") != 0 && version && version[0] &&
        mcp_protocol_compare(version, "2025-11-25") < 0)
        return false;
    return mcp_caps_allow(caps, method, mode);
}

static bool params_ok(const char *params)
{
    if (!params)
        return true;
    size_t len = strlen(params), i = 0;
    while (i < len && (params[i] == ' ' || params[i] == '\n' || params[i] == '\t' || params[i] == '\r'))
        i++;
    return i < len && params[i] == '{' && mcp_json_validate(params, len, NULL, NULL) == 0;
}

/* Under the session lock: register and send. */
static int send_locked(mcp_session *s, mcp_outbound *o, const char *method, const char *params)
{
    o->id = ++s->next_request_id;
    mcp_buf buf;
    mcp_buf_init(&buf);
    int rc = mcp_message_write(&buf, &o->id, method, params);
    if (rc == 0) {
        o->next = s->outbound;
        s->outbound = o;
        mcp_session_write_locked(s, o->call ? &o->call->id : NULL, buf.data, buf.len);
    }
    mcp_buf_free(&buf);
    return rc;
}

int mcp_session_request(mcp_session *s, const char *method, const char *params_json, mcp_response_fn fn,
                        void *user)
{
    if (!s || !method || !fn || !params_ok(params_json))
        return MCP_EINVAL;
    bool is_ping = strcmp(method, "ping") == 0;
    mcp_outbound *o = calloc(1, sizeof *o);
    if (!o)
        return MCP_ENOMEM;
    o->fn = fn;
    o->user = user;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    /* Every server request, ping included, needs a session that negotiated a
     * handshake version: modern sessions have no channel for server requests
     * (they use input_required results), and the 2026-07-28 schema has no
     * server-to-client request at all. */
    if (s->state != MCP_SESSION_READY)
        rc = MCP_EINVAL;
    else if (!is_ping && !client_can(s->version, s->client_caps, method, NULL))
        rc = MCP_EUNSUPPORTED;
    else
        rc = send_locked(s, o, method, params_json);
    pthread_mutex_unlock(&s->lock);
    if (rc != 0)
        free(o);
    return rc;
}

int mcp_session_ping(mcp_session *s, mcp_response_fn fn, void *user)
{
    return mcp_session_request(s, "ping", NULL, fn, user);
}

/* ---- Input of a call ------------------------------------------------------------ */

static mcp_input_entry *input_find(const mcp_call *call, const char *key)
{
    for (mcp_input_entry *in = call->requests; in; in = in->next)
        if (strcmp(in->key, key) == 0)
            return in;
    return NULL;
}

int mcp_call_request_input(mcp_call *call, const char *key, const char *method, const char *params_json)
{
    if (!call || !key || !*key || !method || !params_ok(params_json))
        return MCP_EINVAL;
    if (call->state != MCP_CALL_IN_HANDLER)
        return MCP_EINVAL;
    if (strcmp(method, "sampling/createMessage") != 0 && strcmp(method, "roots/list") != 0 &&
        strcmp(method, "elicitation/create") != 0)
        return MCP_EINVAL;
    const char *mode = NULL;
    mcp_json *params = NULL;
    if (params_json) {
        if (mcp_json_parse(&call->arena, params_json, strlen(params_json), NULL, &params, NULL) != 0)
            return MCP_EINVAL;
        mode = mcp_json_str(mcp_json_get(params, "mode"), NULL);
        /* Tool use in sampling needs the client's sampling.tools. */
        if (strcmp(method, "sampling/createMessage") == 0 &&
            (mcp_json_get(params, "tools") || mcp_json_get(params, "toolChoice")))
            mode = "tools";
        else if (strcmp(method, "elicitation/create") != 0)
            mode = NULL;
    }
    if (!client_can(call->version, call->client_caps, method, mode)) {
        char *msg = mcp_arena_sprintf(&call->arena, "Client does not support %s", method);
        mcp_call_set_error(call, MCP_ERROR_MISSING_CLIENT_CAPABILITY, msg ? msg : "Missing client capability");
        /* The error names what would have been needed. */
        const char *need = mode && strcmp(mode, "tools") == 0               ? "{\"sampling\":{\"tools\":{}}}"
                           : strcmp(method, "sampling/createMessage") == 0 ? "{\"sampling\":{}}"
                           : strcmp(method, "roots/list") == 0           ? "{\"roots\":{}}"
                           : mode && strcmp(mode, "url") == 0            ? "{\"elicitation\":{\"url\":{}}}"
                                                                         : "{\"elicitation\":{\"form\":{}}}";
        call->fail_data = mcp_arena_sprintf(&call->arena, "{\"requiredCapabilities\":%s}", need);
        return MCP_EUNSUPPORTED;
    }
    mcp_input_entry *in = input_find(call, key);
    if (!in) {
        in = mcp_arena_calloc(&call->arena, sizeof *in);
        if (!in || !(in->key = mcp_arena_strdup(&call->arena, key)))
            return MCP_ENOMEM;
        mcp_input_entry **tail = &call->requests;
        while (*tail)
            tail = &(*tail)->next;
        *tail = in;
    }
    in->method = mcp_arena_strdup(&call->arena, method);
    in->params = params_json ? mcp_arena_strdup(&call->arena, params_json) : NULL;
    in->response = NULL;
    in->request_id = 0;
    if (!in->method || (params_json && !in->params))
        return MCP_ENOMEM;
    return MCP_INPUT_REQUIRED;
}

/* Ask for the elicitation/create whose params w wrote into buf (freed). */
static int elicit(mcp_call *call, const char *key, mcp_json_writer *w, mcp_buf *buf)
{
    int rc = mcp_json_writer_status(w);
    if (rc == 0)
        rc = mcp_call_request_input(call, key, "elicitation/create", buf->data);
    mcp_buf_free(buf);
    return rc;
}

int mcp_call_request_elicitation(mcp_call *call, const char *key, const char *message,
                                 const char *requested_schema_json)
{
    if (!call || !message || !requested_schema_json || !params_ok(requested_schema_json))
        return MCP_EINVAL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_json_begin_object(&w);
    /* mode appeared in 2025-11-25, with URL elicitation. */
    if (mcp_protocol_compare(call->version, "2025-11-25") >= 0) {
        mcp_json_write_key(&w, "mode");
        mcp_json_write_cstr(&w, "form");
    }
    mcp_json_write_key(&w, "message");
    mcp_json_write_cstr(&w, message);
    mcp_json_write_key(&w, "requestedSchema");
    mcp_json_write_raw(&w, requested_schema_json, strlen(requested_schema_json));
    mcp_json_end_object(&w);
    return elicit(call, key, &w, &buf);
}

/* An absolute URI: a scheme (RFC 3986: a letter, then letters, digits,
 * "+", "-" or ".") and a colon. The schemas say format "uri". */
static bool is_absolute_uri(const char *url)
{
    if (!url || !((*url >= 'a' && *url <= 'z') || (*url >= 'A' && *url <= 'Z')))
        return false;
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return url[n] == ':' && url[n + 1] != '\0';
}

/* A URL mode elicitation: the params of its elicitation/create, and an item
 * of a URLElicitationRequiredError. elicitation_id NULL leaves it out. */
static void write_url_elicitation(mcp_json_writer *w, const char *message, const char *url,
                                  const char *elicitation_id)
{
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "mode");
    mcp_json_write_cstr(w, "url");
    if (elicitation_id) {
        mcp_json_write_key(w, "elicitationId");
        mcp_json_write_cstr(w, elicitation_id);
    }
    mcp_json_write_key(w, "message");
    mcp_json_write_cstr(w, message);
    mcp_json_write_key(w, "url");
    mcp_json_write_cstr(w, url);
    mcp_json_end_object(w);
}

int mcp_call_request_elicitation_url(mcp_call *call, const char *key, const char *message, const char *url,
                                     const char *elicitation_id)
{
    if (!call || !message || !is_absolute_uri(url))
        return MCP_EINVAL;
    /* The handshake era names each elicitation so that its completion can
     * be announced; the modern era's retry is the completion, and its
     * schema has no id. */
    if (!call->modern && (!elicitation_id || !*elicitation_id))
        return MCP_EINVAL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    write_url_elicitation(&w, message, url, call->modern ? NULL : elicitation_id);
    return elicit(call, key, &w, &buf);
}

int mcp_call_require_url_elicitation(mcp_call *call, const char *message, const char *url,
                                     const char *elicitation_id)
{
    if (!call || !message || !is_absolute_uri(url) || !elicitation_id || !*elicitation_id)
        return MCP_EINVAL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "elicitations");
    mcp_json_begin_array(&w);
    write_url_elicitation(&w, message, url, elicitation_id);
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0)
        rc = mcp_call_fail_data(call, MCP_ERROR_URL_ELICITATION_REQUIRED, message, buf.data);
    mcp_buf_free(&buf);
    return rc;
}

/* notifications/elicitation/complete exists from 2025-11-25, and only for a
 * client that takes URL elicitations. */
static int write_elicitation_complete(const char *version, const mcp_json *caps, const char *elicitation_id,
                                      mcp_buf *buf)
{
    if (!elicitation_id || !*elicitation_id)
        return MCP_EINVAL;
    if (!version || !version[0] || mcp_protocol_is_modern(version) ||
        mcp_protocol_compare(version, "2025-11-25") < 0 || !mcp_caps_allow(caps, "elicitation/create", "url"))
        return MCP_EUNSUPPORTED;
    mcp_json_writer w;
    mcp_json_writer_init(&w, buf);
    mcp_rpc_begin_notification(&w, "notifications/elicitation/complete");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "elicitationId");
    mcp_json_write_cstr(&w, elicitation_id);
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    return mcp_json_writer_status(&w);
}

int mcp_session_elicitation_complete(mcp_session *s, const char *elicitation_id)
{
    if (!s)
        return MCP_EINVAL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    pthread_mutex_lock(&s->lock);
    int rc = s->state != MCP_SESSION_READY
                 ? MCP_EUNSUPPORTED
                 : write_elicitation_complete(s->version, s->client_caps, elicitation_id, &buf);
    if (rc == 0)
        mcp_session_write_locked(s, NULL, buf.data, buf.len);
    pthread_mutex_unlock(&s->lock);
    mcp_buf_free(&buf);
    return rc;
}

int mcp_call_elicitation_complete(mcp_call *call, const char *elicitation_id)
{
    if (!call)
        return MCP_EINVAL;
    if (call->modern)
        return MCP_EUNSUPPORTED;
    mcp_buf buf;
    mcp_buf_init(&buf);
    int rc = write_elicitation_complete(call->version, call->client_caps, elicitation_id, &buf);
    if (rc == 0)
        mcp_session_emit_for(call->session, &call->id, NULL, buf.data, buf.len);
    mcp_buf_free(&buf);
    return rc;
}

int mcp_call_request_sampling(mcp_call *call, const char *key, const char *params_json)
{
    if (!params_json)
        return MCP_EINVAL;
    return mcp_call_request_input(call, key, "sampling/createMessage", params_json);
}

int mcp_call_request_roots(mcp_call *call, const char *key)
{
    return mcp_call_request_input(call, key, "roots/list", NULL);
}

const mcp_json *mcp_call_input(const mcp_call *call, const char *key)
{
    if (!call || !key)
        return NULL;
    if (call->modern) {
        const mcp_json *v = mcp_json_get(mcp_json_get(call->params, "inputResponses"), key);
        return mcp_json_is_object(v) ? v : NULL;
    }
    const mcp_input_entry *in = input_find(call, key);
    return in ? in->response : NULL;
}

bool mcp_call_client_supports(const mcp_call *call, const char *method)
{
    return call && method && client_can(call->version, call->client_caps, method, NULL);
}

bool mcp_call_client_supports_mode(const mcp_call *call, const char *method, const char *mode)
{
    return call && method && mode && client_can(call->version, call->client_caps, method, mode);
}

int mcp_call_set_request_state(mcp_call *call, const char *state)
{
    if (!call || !state)
        return MCP_EINVAL;
    call->next_state = mcp_arena_strdup(&call->arena, state);
    return call->next_state ? 0 : MCP_ENOMEM;
}

const char *mcp_call_request_state(const mcp_call *call)
{
    return call ? call->request_state : NULL;
}

/* Requests made for a task carry its id in _meta (related-task). */
static const char *task_params(mcp_call *call, const char *params)
{
    if (!call->task)
        return params;
    const char *body = "}";
    if (params) {
        mcp_json *doc = NULL;
        if (mcp_json_parse(&call->arena, params, strlen(params), NULL, &doc, NULL) != 0 || mcp_json_get(doc, "_meta"))
            return params; /* the handler wrote its own _meta: leave it */
        body = strchr(params, '{') + 1;
        while (*body == ' ' || *body == '\n' || *body == '\t' || *body == '\r')
            body++;
    }
    char *text = mcp_arena_sprintf(&call->arena, "{\"_meta\":{\"io.modelcontextprotocol/related-task\":{\"taskId\":\"%s\"}}%s%s",
                                   mcp_task_id(call->task), *body == '}' ? "" : ",", body);
    return text ? text : params;
}

/* Handshake era, under the session lock: send every unanswered request of
 * the call. Returns how many went out, or a negative code. */
int mcp_call_send_inputs(mcp_call *call)
{
    mcp_session *s = call->session;
    int sent = 0;
    for (mcp_input_entry *in = call->requests; in; in = in->next) {
        if (in->response || in->request_id)
            continue;
        mcp_outbound *o = calloc(1, sizeof *o);
        if (!o)
            return MCP_ENOMEM;
        o->call = call;
        o->input = in;
        int rc = send_locked(s, o, in->method, task_params(call, in->params));
        if (rc != 0) {
            free(o);
            return rc;
        }
        in->request_id = o->id;
        sent++;
    }
    call->awaiting = (size_t)sent;
    return sent;
}

/* Under the session lock: tell the client to stop working on requests
 * nobody waits for any more. */
static void send_cancel_locked(mcp_session *s, int64_t id, const char *reason)
{
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_rpc_begin_notification(&w, "notifications/cancelled");
    mcp_message_write_cancelled(&w, id, reason);
    mcp_rpc_end_notification(&w);
    if (mcp_json_writer_status(&w) == 0)
        s->sink.write(s->sink.user, buf.data, buf.len);
    mcp_buf_free(&buf);
}

void mcp_session_outbound_drop_call(mcp_session *s, mcp_call *call)
{
    for (mcp_outbound **p = &s->outbound; *p;) {
        mcp_outbound *o = *p;
        if (o->call == call) {
            *p = o->next;
            send_cancel_locked(s, o->id, "The request that needed this input was cancelled");
            free(o);
        } else {
            p = &o->next;
        }
    }
}

/* Store the client's answer in the call (its arena: the message text is
 * gone when the call runs again). An error answer fails the call. */
static void answer(mcp_call *call, mcp_input_entry *in, const mcp_rpc_message *msg)
{
    if (msg->kind == MCP_RPC_ERROR_RESPONSE || !mcp_rpc_json_is_object(msg->result)) {
        const mcp_json *err = mcp_json_expand(&call->session->arena, msg->error);
        const char *text = mcp_json_str(mcp_json_get(err, "message"), "no result");
        char *why = mcp_arena_sprintf(&call->arena, "The client did not answer %s: %s", in->method, text);
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, why ? why : "The client refused a request");
        return;
    }
    mcp_str raw = mcp_json_raw(msg->result);
    char *copy = mcp_arena_strndup(&call->arena, raw.ptr, raw.len);
    mcp_json_opts opts = {.max_depth = call->session->server->opts.max_json_depth, .max_size = raw.len + 1};
    if (!copy || mcp_json_parse(&call->arena, copy, raw.len, &opts, &in->response, NULL) != 0)
        mcp_call_set_error(call, MCP_RPC_INTERNAL_ERROR, "Internal error: out of memory");
}

void mcp_session_response(mcp_session *s, const mcp_rpc_message *msg)
{
    if (msg->id.type != MCP_RPC_ID_INT)
        return; /* not one of ours: we only use integer ids */
    pthread_mutex_lock(&s->lock);
    mcp_outbound *o = NULL;
    for (mcp_outbound **p = &s->outbound; *p; p = &(*p)->next) {
        if ((*p)->id == msg->id.num) {
            o = *p;
            *p = o->next;
            break;
        }
    }
    if (!o) {
        /* Unknown or already answered: JSON-RPC forbids replying. */
        pthread_mutex_unlock(&s->lock);
        return;
    }
    mcp_call *call = o->call;
    bool resume = false;
    if (call) {
        answer(call, o->input, msg);
        if (--call->awaiting == 0 || call->fail_code) {
            /* Done waiting: the method runs again (or fails) now. */
            mcp_session_outbound_drop_call(s, call);
            call->state = MCP_CALL_IDLE;
            s->awaiting_input--;
            if (--s->pending == 0)
                pthread_cond_broadcast(&s->idle);
            resume = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (!call) {
        mcp_json *result = mcp_json_expand(&s->arena, msg->result);
        mcp_json *error = mcp_json_expand(&s->arena, msg->error);
        o->fn(0, msg->kind == MCP_RPC_RESPONSE ? result : NULL,
              msg->kind == MCP_RPC_ERROR_RESPONSE ? error : NULL, o->user);
    } else if (resume) {
        if (call->fail_code) {
            mcp_call_complete(call, 0);
        } else {
            /* The previous round's output is discarded: the handler
             * writes its reply again, now with the answers. */
            mcp_buf_reset(&call->items);
            call->borrowed_text = (mcp_str){NULL, 0};
            mcp_buf_reset(&call->structured);
            call->item_count = 0;
            call->is_error = false;
            call->result_meta = NULL;
            call->request_state = call->next_state;
            if (call->task)
                mcp_task_awaiting_input(call, false);
            mcp_dispatch_run(call);
        }
    }
    free(o);
}

/* Session end: requests of our own hear MCP_ECLOSED. Calls waiting for
 * input have been completed by the caller already. */
void mcp_session_outbound_close(mcp_session *s)
{
    pthread_mutex_lock(&s->lock);
    mcp_outbound *list = s->outbound;
    s->outbound = NULL;
    pthread_mutex_unlock(&s->lock);
    while (list) {
        mcp_outbound *o = list;
        list = o->next;
        if (o->fn)
            o->fn(MCP_ECLOSED, NULL, NULL, o->user);
        free(o);
    }
}
