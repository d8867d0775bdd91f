/*
 * notify.c — notifications that start on the server side rather than in a
 * request: list_changed when a registry changes, resources/updated for
 * subscribers, and the modern era's subscriptions/listen streams that carry
 * them.
 *
 * The server keeps a list of its live sessions for this. A notification is
 * written while holding the server's sessions lock and then each session's
 * own lock, so that a session cannot be freed under it and the sink sees
 * whole messages; a slow sink therefore delays registration changes, which
 * is acceptable for something that happens rarely.
 */
#include "internal.h"
#include "result_cache.h"
#include "tasks_modern.h"

#include <stdlib.h>
#include <string.h>

void mcp_server_sessions_add(mcp_server *server, mcp_session *s)
{
    pthread_mutex_lock(&server->sessions_lock);
    s->srv_prev = NULL;
    s->srv_next = server->sessions;
    if (server->sessions)
        server->sessions->srv_prev = s;
    server->sessions = s;
    pthread_mutex_unlock(&server->sessions_lock);
}

void mcp_server_sessions_remove(mcp_server *server, mcp_session *s)
{
    pthread_mutex_lock(&server->sessions_lock);
    if (s->srv_prev)
        s->srv_prev->srv_next = s->srv_next;
    else if (server->sessions == s)
        server->sessions = s->srv_next;
    if (s->srv_next)
        s->srv_next->srv_prev = s->srv_prev;
    s->srv_next = s->srv_prev = NULL;
    pthread_mutex_unlock(&server->sessions_lock);
}

/* An id as a value (mcp_rpc_write_id writes the "id" key too). */
static void write_id_value(mcp_json_writer *w, const mcp_rpc_id *id)
{
    mcp_json_write_raw(w, id->text.ptr, id->text.len);
}

/* {"jsonrpc":"2.0","method":M,"params":{["_meta":{subscriptionId}],[uri]}} */
static int write_notification(mcp_buf *buf, const char *method, const mcp_rpc_id *subscription,
                              const char *uri)
{
    mcp_buf_reset(buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, buf);
    mcp_rpc_begin_notification(&w, method);
    mcp_json_begin_object(&w);
    if (subscription) {
        mcp_json_write_key(&w, "_meta");
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "io.modelcontextprotocol/subscriptionId");
        write_id_value(&w, subscription);
        mcp_json_end_object(&w);
    }
    if (uri) {
        mcp_json_write_key(&w, "uri");
        mcp_json_write_cstr(&w, uri);
    }
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    return mcp_json_writer_status(&w);
}

static void sink_write(mcp_session *s, const mcp_rpc_id *request, const mcp_buf *buf)
{
    mcp_session_write_locked(s, request, buf->data, buf->len);
}

static bool listen_wants_kind(const mcp_listen *l, mcp_registry_kind kind)
{
    switch (kind) {
    case MCP_REGISTRY_TOOLS:
        return l->tools;
    case MCP_REGISTRY_RESOURCES:
    case MCP_REGISTRY_TEMPLATES:
        return l->resources;
    case MCP_REGISTRY_PROMPTS:
        return l->prompts;
    default:
        return false;
    }
}

void mcp_server_notify_list_changed(mcp_server *server, mcp_registry_kind kind)
{
    static const char *const METHODS[MCP_REGISTRY_KINDS] = {
        [MCP_REGISTRY_TOOLS] = "notifications/tools/list_changed",
        [MCP_REGISTRY_RESOURCES] = "notifications/resources/list_changed",
        [MCP_REGISTRY_TEMPLATES] = "notifications/resources/list_changed",
        [MCP_REGISTRY_PROMPTS] = "notifications/prompts/list_changed",
    };
    mcp_buf buf;
    mcp_buf_init(&buf);
    pthread_mutex_lock(&server->sessions_lock);
    for (mcp_session *s = server->sessions; s; s = s->srv_next) {
        pthread_mutex_lock(&s->lock);
        /* Before notifications/initialized the client may not be ready for
         * anything but pings and log messages. */
        if (s->state == MCP_SESSION_READY && s->initialized &&
            write_notification(&buf, METHODS[kind], NULL, NULL) == 0)
            sink_write(s, NULL, &buf);
        for (mcp_listen *l = s->listens; l; l = l->next)
            if (listen_wants_kind(l, kind) && write_notification(&buf, METHODS[kind], &l->id, NULL) == 0)
                sink_write(s, &l->id, &buf);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&server->sessions_lock);
    mcp_buf_free(&buf);
}

/* The updated resource may be a sub-resource of the subscribed one. */
static bool uri_covers(const char *subscribed, const char *uri)
{
    size_t n = strlen(subscribed);
    if (strncmp(subscribed, uri, n) != 0)
        return false;
    return uri[n] == '\0' || uri[n] == '/' || (n && subscribed[n - 1] == '/');
}

int mcp_server_notify_resource_updated(mcp_server *server, const char *uri)
{
    if (!server || !uri || !*uri)
        return MCP_EINVAL;
    /* What changed must not be served stale from the result cache. */
    mcp_result_cache_resource_updated(server, uri);
    int told = 0;
    mcp_buf buf;
    mcp_buf_init(&buf);
    pthread_mutex_lock(&server->sessions_lock);
    for (mcp_session *s = server->sessions; s; s = s->srv_next) {
        bool any = false;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->subscription_count; i++) {
            if (uri_covers(s->subscriptions[i], uri)) {
                if (write_notification(&buf, "notifications/resources/updated", NULL, uri) == 0)
                    sink_write(s, NULL, &buf);
                any = true;
                break;
            }
        }
        for (mcp_listen *l = s->listens; l; l = l->next) {
            for (size_t i = 0; i < l->uri_count; i++) {
                if (uri_covers(l->uris[i], uri)) {
                    if (write_notification(&buf, "notifications/resources/updated", &l->id, uri) == 0)
                        sink_write(s, &l->id, &buf);
                    any = true;
                    break;
                }
            }
        }
        pthread_mutex_unlock(&s->lock);
        told += any;
    }
    pthread_mutex_unlock(&server->sessions_lock);
    mcp_buf_free(&buf);
    return told;
}

/* ---- resources/subscribe and resources/unsubscribe (handshake era) ---------- */

static const char *uri_param(mcp_call *call)
{
    const mcp_json *uri = mcp_json_get(call->params, "uri");
    if (!mcp_json_is_string(uri) || mcp_json_str_len(uri) == 0 ||
        strlen(mcp_json_str(uri, "")) != mcp_json_str_len(uri)) {
        mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: uri must be a non-empty string");
        return NULL;
    }
    return mcp_json_str(uri, "");
}

static int empty_result(mcp_call *call)
{
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

/* Subscribing to a URI that no resource or template serves yet is allowed:
 * a watched file may appear later. */
int mcp_method_subscribe(mcp_call *call)
{
    const char *uri = uri_param(call);
    if (!uri)
        return 0;
    mcp_session *s = call->session;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    bool have = false;
    for (size_t i = 0; i < s->subscription_count && !have; i++)
        have = strcmp(s->subscriptions[i], uri) == 0;
    if (!have && s->subscription_count >= s->server->opts.max_subscriptions) {
        pthread_mutex_unlock(&s->lock);
        return mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Too many subscriptions on this session");
    }
    if (!have) {
        char **grown = realloc(s->subscriptions, (s->subscription_count + 1) * sizeof *grown);
        char *copy = strdup(uri);
        if (!grown || !copy) {
            free(copy);
            rc = MCP_ENOMEM;
        } else {
            grown[s->subscription_count++] = copy;
        }
        if (grown)
            s->subscriptions = grown;
    }
    pthread_mutex_unlock(&s->lock);
    return rc ? rc : empty_result(call);
}

int mcp_method_unsubscribe(mcp_call *call)
{
    const char *uri = uri_param(call);
    if (!uri)
        return 0;
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->subscription_count; i++) {
        if (strcmp(s->subscriptions[i], uri) == 0) {
            free(s->subscriptions[i]);
            s->subscriptions[i] = s->subscriptions[--s->subscription_count];
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return empty_result(call);
}

void mcp_session_subscriptions_free(mcp_session *s)
{
    for (size_t i = 0; i < s->subscription_count; i++)
        free(s->subscriptions[i]);
    free(s->subscriptions);
    s->subscriptions = NULL;
    s->subscription_count = 0;
}

/* ---- subscriptions/listen (modern era) ----------------------------------------
 * The request stays open for the life of the stream: the session keeps its
 * id, acknowledges it, and writes every matching notification with the id
 * in _meta. It ends when the client cancels it (no response then) or when
 * the server ends it (mcp_session_end_listens: an empty result). */

static void listen_free(mcp_listen *l)
{
    for (size_t i = 0; i < l->uri_count; i++)
        free(l->uris[i]);
    free(l->uris);
    free((char *)l->id.text.ptr);
    free(l);
}

static void write_filter(mcp_json_writer *w, const mcp_listen *l, const char *task_ids)
{
    mcp_json_begin_object(w);
    if (task_ids) {
        mcp_json_write_key(w, "taskIds");
        mcp_json_write_raw(w, task_ids, strlen(task_ids));
    }
    if (l->tools) {
        mcp_json_write_key(w, "toolsListChanged");
        mcp_json_write_bool(w, true);
    }
    if (l->resources) {
        mcp_json_write_key(w, "resourcesListChanged");
        mcp_json_write_bool(w, true);
    }
    if (l->prompts) {
        mcp_json_write_key(w, "promptsListChanged");
        mcp_json_write_bool(w, true);
    }
    if (l->uri_count) {
        mcp_json_write_key(w, "resourceSubscriptions");
        mcp_json_begin_array(w);
        for (size_t i = 0; i < l->uri_count; i++)
            mcp_json_write_cstr(w, l->uris[i]);
        mcp_json_end_array(w);
    }
    mcp_json_end_object(w);
}

/* 0 when the filter is good, 1 when it is not (the call's error is set),
 * or a negative code. */
static int filter_error(mcp_call *call, const char *message)
{
    int rc = mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, message);
    return rc < 0 ? rc : 1;
}

static int listen_parse(mcp_call *call, const mcp_json *filter, mcp_listen *l)
{
    static const char *const FLAGS[] = {"toolsListChanged", "resourcesListChanged", "promptsListChanged"};
    bool *dest[] = {&l->tools, &l->resources, &l->prompts};
    for (size_t i = 0; i < 3; i++) {
        const mcp_json *v = mcp_json_get(filter, FLAGS[i]);
        if (v && !mcp_json_is_bool(v))
            return filter_error(call, "Invalid params: notification flags must be booleans");
        *dest[i] = mcp_json_bool(v, false);
    }
    /* Task status notifications (tasks extension) are for clients that
     * declared it (tasks_watch.c). */
    const mcp_json *task_ids = mcp_json_get(filter, "taskIds");
    if (task_ids) {
        if (!mcp_tasks_client_declared(call)) {
            int rc = mcp_tasks_require_extension(call);
            return rc < 0 ? rc : 1;
        }
        if (!mcp_json_is_array(task_ids))
            return filter_error(call, "Invalid params: taskIds must be an array of strings");
        for (const mcp_json *t = mcp_json_first(task_ids); t; t = mcp_json_next(t))
            if (!mcp_json_is_string(t))
                return filter_error(call, "Invalid params: taskIds must be an array of strings");
    }
    const mcp_json *uris = mcp_json_get(filter, "resourceSubscriptions");
    if (!uris)
        return 0;
    if (!mcp_json_is_array(uris))
        return filter_error(call, "Invalid params: resourceSubscriptions must be an array of strings");
    size_t n = mcp_json_len(uris);
    if (n == 0)
        return 0;
    l->uris = calloc(n, sizeof *l->uris);
    if (!l->uris)
        return MCP_ENOMEM;
    for (const mcp_json *u = mcp_json_first(uris); u; u = mcp_json_next(u)) {
        if (!mcp_json_is_string(u) || mcp_json_str_len(u) == 0 ||
            strlen(mcp_json_str(u, "")) != mcp_json_str_len(u))
            return filter_error(call, "Invalid params: resourceSubscriptions must be an array of non-empty strings");
        if (!(l->uris[l->uri_count] = strdup(mcp_json_str(u, ""))))
            return MCP_ENOMEM;
        l->uri_count++;
    }
    return 0;
}

int mcp_method_listen(mcp_call *call)
{
    const mcp_json *filter = mcp_json_get(call->params, "notifications");
    if (!mcp_json_is_object(filter))
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: notifications must be an object");
    mcp_listen *l = calloc(1, sizeof *l);
    if (!l)
        return MCP_ENOMEM;
    int rc = listen_parse(call, filter, l);
    char *id_text = NULL;
    if (rc == 0) {
        l->id = call->id;
        id_text = malloc(call->id.text.len + 1);
        if (!id_text) {
            rc = MCP_ENOMEM;
        } else {
            memcpy(id_text, call->id.text.ptr, call->id.text.len);
            id_text[call->id.text.len] = '\0';
            l->id.text.ptr = id_text;
        }
    }
    if (rc != 0) {
        listen_free(l);
        return rc < 0 ? rc : 0;
    }

    /* The tasks it may watch: those that exist. */
    const mcp_json *task_ids = mcp_json_get(filter, "taskIds");
    char *agreed = task_ids ? mcp_tasks_watch_agree(call, task_ids) : NULL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_rpc_begin_notification(&w, "notifications/subscriptions/acknowledged");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "_meta");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "io.modelcontextprotocol/subscriptionId");
    write_id_value(&w, &l->id);
    mcp_json_end_object(&w);
    mcp_json_write_key(&w, "notifications");
    write_filter(&w, l, agreed);
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    rc = mcp_json_writer_status(&w);
    mcp_session *s = call->session;
    if (rc == 0) {
        /* Acknowledge and register under one lock hold, so that no
         * notification of this stream can precede its acknowledgement. */
        pthread_mutex_lock(&s->lock);
        size_t held = 0;
        for (const mcp_listen *k = s->listens; k; k = k->next)
            held += 1 + k->uri_count;
        if (held + 1 + l->uri_count > s->server->opts.max_subscriptions) {
            pthread_mutex_unlock(&s->lock);
            listen_free(l);
            free(agreed);
            mcp_buf_free(&buf);
            return mcp_call_set_error(call, MCP_RPC_INVALID_REQUEST, "Too many subscriptions on this session");
        }
        mcp_session_write_locked(s, &l->id, buf.data, buf.len);
        l->next = s->listens;
        s->listens = l;
        pthread_mutex_unlock(&s->lock);
        call->listen = true;
        /* A status change between the acknowledgement and here is not
         * heard; tasks/get still tells it. */
        if (mcp_tasks_watch_add(s, &l->id, agreed) != 0)
            mcp_log(MCP_LOG_WARNING, "subscriptions/listen: out of memory watching tasks");
    } else {
        listen_free(l);
    }
    free(agreed);
    mcp_buf_free(&buf);
    return rc;
}

bool mcp_session_listen_cancel(mcp_session *s, const mcp_rpc_id *id)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (mcp_listen **p = &s->listens; *p; p = &(*p)->next) {
        if (mcp_rpc_id_eq(&(*p)->id, id)) {
            mcp_listen *l = *p;
            *p = l->next;
            listen_free(l);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (found)
        mcp_tasks_watch_drop(s, id);
    return found;
}

int mcp_session_end_listens(mcp_session *s)
{
    if (!s)
        return MCP_EINVAL;
    pthread_mutex_lock(&s->lock);
    mcp_listen *list = s->listens;
    s->listens = NULL;
    int n = 0;
    mcp_buf buf;
    mcp_buf_init(&buf);
    while (list) {
        mcp_listen *l = list;
        list = l->next;
        mcp_buf_reset(&buf);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &buf);
        mcp_rpc_begin_result(&w, &l->id);
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "resultType");
        mcp_json_write_cstr(&w, "complete");
        mcp_json_write_key(&w, "_meta");
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "io.modelcontextprotocol/subscriptionId");
        write_id_value(&w, &l->id);
        mcp_json_write_key(&w, "io.modelcontextprotocol/serverInfo");
        mcp_server_write_info(s->server, MCP_PROTOCOL_MODERN, &w);
        mcp_json_end_object(&w);
        mcp_json_end_object(&w);
        mcp_rpc_end_result(&w);
        if (mcp_json_writer_status(&w) == 0) {
            mcp_session_write_locked(s, &l->id, buf.data, buf.len);
            n++;
        }
        listen_free(l);
    }
    pthread_mutex_unlock(&s->lock);
    mcp_tasks_watch_drop(s, NULL);
    mcp_buf_free(&buf);
    return n;
}

void mcp_session_listens_free(mcp_session *s)
{
    mcp_tasks_watch_drop(s, NULL);
    while (s->listens) {
        mcp_listen *l = s->listens;
        s->listens = l->next;
        listen_free(l);
    }
}
