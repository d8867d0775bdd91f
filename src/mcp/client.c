/*
 * client.c — the MCP client state machine, sans I/O: pending requests,
 * correlation of responses, timeouts, cancellation and the routing of what
 * the server sends (responses, notifications, server-to-client requests).
 *
 * Pending requests sit in a dense array with an id index beside it: a
 * pipelining client (the batcher) keeps a thousand in flight, and a reply
 * must find its request without walking them. A request is taken out of the
 * array before its callback runs, so callbacks may send, cancel or complete
 * other requests freely.
 */
#include "mcp/client_internal.h"
#include "mcp/message.h"
#include "rpc/envelope_built.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define DEFAULT_INPUT_ROUNDS 8u
#define DEFAULT_CACHE_ENTRIES 128u
/* A spare output buffer larger than this is not kept between requests. */
#define SPARE_BUF_MAX (64u * 1024u)

char *mcp_client_strndup(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *mcp_client_strdup(const char *s)
{
    return s ? mcp_client_strndup(s, strlen(s)) : NULL;
}

char *mcp_client_default_capabilities(const mcp_client_opts *opts)
{
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_buf_append_char(&out, '{');
    bool first = true;
    if (opts->on_sampling) {
        mcp_buf_append_cstr(&out, opts->sampling_tools ? "\"sampling\":{\"tools\":{}}" : "\"sampling\":{}");
        first = false;
    }
    if (opts->on_elicitation) {
        mcp_buf_append_cstr(&out, first ? "" : ",");
        mcp_buf_append_cstr(&out, opts->elicitation_url ? "\"elicitation\":{\"form\":{},\"url\":{}}"
                                                        : "\"elicitation\":{\"form\":{}}");
        first = false;
    }
    if (opts->on_roots)
        mcp_buf_append_cstr(&out, first ? "\"roots\":{}" : ",\"roots\":{}");
    mcp_buf_append_char(&out, '}');
    char *caps = out.data ? mcp_client_strndup(out.data, out.len) : NULL;
    mcp_buf_free(&out);
    return caps;
}

/* Do these capabilities (valid JSON text) declare elicitation.url? */
static bool declares_url_elicitation(const char *caps)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    bool yes = mcp_json_parse(&arena, caps, strlen(caps), NULL, &doc, NULL) == 0 &&
               mcp_json_is_object(mcp_json_get(mcp_json_get(doc, "elicitation"), "url"));
    mcp_arena_free(&arena);
    return yes;
}

static int transport_write(void *user, const char *message, size_t len)
{
    mcp_client_transport *t = user;
    return t->send(t, message, len);
}

mcp_client *mcp_client_new(const mcp_client_opts *opts)
{
    mcp_client_opts o = opts ? *opts : (mcp_client_opts){0};
    if (!o.transport && !o.sink.write)
        return NULL;
    if (o.capabilities && (mcp_json_validate(o.capabilities, strlen(o.capabilities), NULL, NULL) != 0 ||
                           o.capabilities[strspn(o.capabilities, " \t\r\n")] != '{'))
        return NULL;
    mcp_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = mcp_client_strdup(o.name ? o.name : "mcpd");
    c->version = mcp_client_strdup(o.version ? o.version : MCP_VERSION_STRING);
    c->capabilities = o.capabilities ? mcp_client_strdup(o.capabilities) : mcp_client_default_capabilities(&o);
    c->requested_version = mcp_client_strdup(o.protocol_version);
    c->log_level = mcp_client_strdup(o.log_level);
    if (!c->name || !c->version || !c->capabilities || (o.protocol_version && !c->requested_version) ||
        (o.log_level && !c->log_level)) {
        mcp_client_free(c);
        return NULL;
    }
    c->default_timeout_ns = (uint64_t)(o.timeout_ms ? o.timeout_ms : DEFAULT_TIMEOUT_MS) * 1000000u;
    c->max_message_size = o.max_message_size ? o.max_message_size : DEFAULT_MAX_MESSAGE;
    c->transport = o.transport;
    c->sink = o.transport ? (mcp_sink){.write = transport_write, .user = o.transport} : o.sink;
    c->on_notification = o.on_notification;
    c->on_sampling = o.on_sampling;
    c->on_elicitation = o.on_elicitation;
    c->on_roots = o.on_roots;
    c->on_request = o.on_request;
    c->on_elicitation_complete = o.on_elicitation_complete;
    c->elicitation_url = declares_url_elicitation(c->capabilities);
    c->user = o.user;
    c->max_input_rounds = o.max_input_rounds ? o.max_input_rounds : DEFAULT_INPUT_ROUNDS;
    c->no_cache = o.no_cache;
    c->refresh_on_change = o.refresh_on_change;
    c->observer = o.observer;
    c->cache.max = o.cache_entries ? o.cache_entries : DEFAULT_CACHE_ENTRIES;
    c->next_id = 1;
    c->earliest_deadline_ns = UINT64_MAX;
    mcp_buf_init(&c->inbox);
    mcp_buf_init(&c->out_spare);
    return c;
}

/* ---- The pending index ------------------------------------------------------
 * Open addressing with linear probing. Ids are handed out in sequence, so
 * they are scattered by a multiplicative hash: taken as they are they would
 * fill one long run, and every removal would walk it. Removal shifts later
 * members of the run back, so a lookup can stop at the first empty entry. */

static size_t index_home(const mcp_client *c, int64_t id)
{
    return (size_t)(((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15)) >> c->pending_index_shift);
}

/* The index entry holding id, or the empty entry where it would go. */
static size_t index_slot(const mcp_client *c, int64_t id)
{
    size_t i = index_home(c, id);
    while (c->pending_index[i].slot && c->pending_index[i].id != id)
        i = (i + 1) & c->pending_index_mask;
    return i;
}

/* The array slot of the request with this id. */
static bool index_find(const mcp_client *c, int64_t id, size_t *k)
{
    if (!c->pending_index)
        return false;
    uint32_t v = c->pending_index[index_slot(c, id)].slot;
    *k = (size_t)v - 1;
    return v != 0;
}

static void index_remove_slot(mcp_client *c, size_t hole)
{
    size_t mask = c->pending_index_mask;
    mcp_client_index_entry *e = c->pending_index;
    e[hole].slot = 0;
    for (size_t i = (hole + 1) & mask; e[i].slot; i = (i + 1) & mask) {
        size_t home = index_home(c, e[i].id);
        /* It stays unless the hole lies cyclically in [home, i). */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            e[hole] = e[i];
            e[i].slot = 0;
            hole = i;
        }
    }
}

/* Room for one more pending request, in the array and in the index (kept at
 * most half full). */
static int pending_reserve(mcp_client *c)
{
    if (c->pending_count < c->pending_cap)
        return 0;
    size_t cap = c->pending_cap ? c->pending_cap * 2 : 8;
    if (cap > UINT32_MAX / 2)
        return MCP_ENOMEM;
    mcp_client_pending *grown = realloc(c->pending, cap * sizeof *grown);
    if (!grown)
        return MCP_ENOMEM;
    c->pending = grown;
    mcp_client_index_entry *index = calloc(cap * 2, sizeof *index);
    if (!index)
        return MCP_ENOMEM;
    unsigned bits = 0;
    while (((size_t)1 << bits) < cap * 2)
        bits++;
    free(c->pending_index);
    c->pending_index = index;
    c->pending_index_mask = cap * 2 - 1;
    c->pending_index_shift = 64 - bits;
    c->pending_cap = cap;
    for (size_t k = 0; k < c->pending_count; k++) {
        size_t i = index_slot(c, c->pending[k].id);
        c->pending_index[i] = (mcp_client_index_entry){c->pending[k].id, (uint32_t)k + 1};
    }
    return 0;
}

/* Append p (room reserved) to the array and the index. */
static void pending_add(mcp_client *c, const mcp_client_pending *p)
{
    size_t k = c->pending_count++;
    c->pending[k] = *p;
    c->pending_index[index_slot(c, p->id)] = (mcp_client_index_entry){p->id, (uint32_t)k + 1};
    if (p->deadline_ns < c->earliest_deadline_ns)
        c->earliest_deadline_ns = p->deadline_ns;
}

/* Take the request at array slot k out into *out. */
static void pending_remove_at(mcp_client *c, size_t k, mcp_client_pending *out)
{
    *out = c->pending[k];
    index_remove_slot(c, index_slot(c, out->id));
    size_t last = --c->pending_count;
    if (k != last) {
        c->pending[k] = c->pending[last];
        c->pending_index[index_slot(c, c->pending[k].id)].slot = (uint32_t)k + 1;
    }
}

static bool take_pending(mcp_client *c, int64_t id, mcp_client_pending *out)
{
    size_t k;
    if (!index_find(c, id, &k))
        return false;
    pending_remove_at(c, k, out);
    return true;
}

mcp_client_pending *mcp_client_find_pending(mcp_client *client, int64_t id)
{
    size_t k;
    return index_find(client, id, &k) ? &client->pending[k] : NULL;
}

/* p is a copy already out of the array; its strings die here. */
static void complete(mcp_client *c, mcp_client_pending *p, int status, const mcp_json *value)
{
    if (p->obs_handle)
        mcp_client_observe_end(c, p->obs_handle, status, value);
    if (p->purpose == MCP_CLIENT_FOR_DISCOVER || p->purpose == MCP_CLIENT_FOR_INITIALIZE)
        mcp_client_negotiate_done(c, p->purpose, status, value);
    else if (p->purpose == MCP_CLIENT_FOR_CALLER && p->done)
        p->done(p->user, status, value, p->id);
    free(p->method);
    free(p->params);
    p->method = p->params = NULL;
}

/* Fail every pending request, one at a time, because each callback may
 * change the array. */
static void fail_all(mcp_client *c, int status)
{
    mcp_client_pending p;
    while (c->pending_count > 0) {
        pending_remove_at(c, c->pending_count - 1, &p);
        complete(c, &p, status, NULL);
    }
}

void mcp_client_free(mcp_client *client)
{
    if (!client)
        return;
    fail_all(client, MCP_ECLOSED);
    if (client->transport)
        client->transport->close(client->transport);
    free(client->pending);
    free(client->pending_index);
    free(client->meta_text);
    free(client->meta_version);
    free(client->meta_capabilities);
    mcp_buf_free(&client->out_spare);
    if (client->arena_spare_ready)
        mcp_arena_free(&client->arena_spare);
    free(client->name);
    free(client->version);
    free(client->capabilities);
    free(client->requested_version);
    free(client->log_level);
    free(client->protocol_version);
    free(client->server_info);
    free(client->server_capabilities);
    free(client->instructions);
    free(client->watched_task);
    mcp_client_cache_free(client);
    mcp_buf_free(&client->inbox);
    free(client);
}

void mcp_client_close(mcp_client *client)
{
    if (client->state != MCP_CLIENT_READY && client->state != MCP_CLIENT_IDLE)
        client->state = MCP_CLIENT_FAILED;
    fail_all(client, MCP_ECLOSED);
}

bool mcp_client_is_ready(const mcp_client *client)
{
    return client->state == MCP_CLIENT_READY;
}

const char *mcp_client_protocol_version(const mcp_client *client)
{
    return client->state == MCP_CLIENT_READY ? client->protocol_version : NULL;
}

const char *mcp_client_server_info(const mcp_client *client) { return client->server_info; }
const char *mcp_client_server_capabilities(const mcp_client *client) { return client->server_capabilities; }
const char *mcp_client_instructions(const mcp_client *client) { return client->instructions; }

void mcp_client_get_counters(const mcp_client *client, mcp_client_counters *out)
{
    *out = client->counters;
}

int mcp_client_send_text(mcp_client *client, const char *text, size_t len)
{
    int rc = client->sink.write(client->sink.user, text, len);
    if (rc == 0)
        client->counters.messages_out++;
    return rc < 0 ? rc : (rc > 0 ? MCP_EIO : 0);
}

int mcp_client_send_request(mcp_client *client, const char *method, const char *params_json,
                            const mcp_client_request_opts *ropts, mcp_client_purpose purpose,
                            mcp_client_done_fn done, void *user, int64_t *id_out)
{
    if (!method)
        return MCP_EINVAL;
    mcp_client_request_opts r = ropts ? *ropts : (mcp_client_request_opts){0};
    if (pending_reserve(client) != 0) {
        mcp_client_observe_end(client, r.observe_handle, MCP_ENOMEM, NULL);
        return MCP_ENOMEM;
    }
    /* Keep what was sent when a retry (input_required, modern era only) or
     * the cache will need it again; a client that caches nothing in the
     * handshake era needs neither, and spares two copies per request. */
    char *kept_method = NULL, *kept_params = NULL;
    if ((purpose == MCP_CLIENT_FOR_CALLER || purpose == MCP_CLIENT_FOR_REFRESH) &&
        (!client->no_cache || client->modern)) {
        kept_method = mcp_client_strdup(method);
        kept_params = mcp_client_strdup(params_json);
        if (!kept_method || (params_json && !kept_params)) {
            free(kept_method);
            free(kept_params);
            mcp_client_observe_end(client, r.observe_handle, MCP_ENOMEM, NULL);
            return MCP_ENOMEM;
        }
    }
    int64_t id = client->next_id++;
    void *obs = mcp_client_observe_send(client, method, params_json, id, r.observe_handle);
    mcp_buf out = client->out_spare;
    mcp_buf_init(&client->out_spare);
    int rc = mcp_client_write_request(client, &out, id, method, params_json, r.progress);
    client->traceparent[0] = '\0';
    if (rc == 0)
        rc = mcp_client_send_text(client, out.data, out.len);
    if (client->out_spare.data || out.cap > SPARE_BUF_MAX) {
        mcp_buf_free(&out);
    } else {
        mcp_buf_reset(&out);
        client->out_spare = out;
    }
    if (rc != 0 && obs)
        mcp_client_observe_end(client, obs, rc, NULL);
    if (rc != 0) {
        free(kept_method);
        free(kept_params);
        return rc;
    }
    uint64_t timeout_ns = r.timeout_ms == MCP_CLIENT_NO_TIMEOUT ? UINT64_MAX
                          : r.timeout_ms                        ? (uint64_t)r.timeout_ms * 1000000u
                                                                : client->default_timeout_ns;
    /* The sink may have re-entered the client; make sure of the room. */
    if (pending_reserve(client) != 0) {
        if (obs)
            mcp_client_observe_end(client, obs, MCP_ENOMEM, NULL);
        free(kept_method);
        free(kept_params);
        return MCP_ENOMEM;
    }
    pending_add(client, &(mcp_client_pending){
        .id = id,
        .purpose = purpose,
        .timeout_ns = timeout_ns,
        .deadline_ns = timeout_ns == UINT64_MAX ? UINT64_MAX : client->now_ns + timeout_ns,
        .progress = r.progress,
        .done = done,
        .user = user,
        .on_progress = r.on_progress,
        .progress_user = r.progress_user,
        .method = kept_method,
        .params = kept_params,
        .obs_handle = obs,
    });
    if (id_out)
        *id_out = id;
    return 0;
}

int mcp_client_request(mcp_client *client, const char *method, const char *params_json,
                       const mcp_client_request_opts *ropts, mcp_client_done_fn done, void *user,
                       int64_t *id_out)
{
    void *begun = ropts ? ropts->observe_handle : NULL;
    if (client->state != MCP_CLIENT_READY || !method) {
        int rc = client->state != MCP_CLIENT_READY ? MCP_EAGAIN : MCP_EINVAL;
        mcp_client_observe_end(client, begun, rc, NULL);
        return rc;
    }
    bool bypass = client->no_cache || (ropts && ropts->no_cache);
    mcp_buf key;
    mcp_buf_init(&key);
    const mcp_client_cache_entry *hit = NULL;
    if (!bypass && mcp_client_cache_key(method, params_json, &key))
        hit = mcp_client_cache_lookup(client, key.data);
    mcp_buf_free(&key);
    if (hit) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *value = NULL;
        if (mcp_json_parse(&arena, hit->json, hit->len, NULL, &value, NULL) == 0) {
            int64_t id = client->next_id++;
            client->counters.cache_hits++;
            if (id_out)
                *id_out = id;
            mcp_client_observe_end(client, begun, 0, value);
            if (done)
                done(user, 0, value, id);
            mcp_arena_free(&arena);
            return 0;
        }
        mcp_arena_free(&arena);
    }
    return mcp_client_send_request(client, method, params_json, ropts, MCP_CLIENT_FOR_CALLER, done,
                                   user, id_out);
}

int mcp_client_notify(mcp_client *client, const char *method, const char *params_json)
{
    if (!method)
        return MCP_EINVAL;
    mcp_buf out;
    mcp_buf_init(&out);
    int rc = mcp_client_write_notification(&out, method, params_json);
    if (rc == 0)
        rc = mcp_client_send_text(client, out.data, out.len);
    mcp_buf_free(&out);
    return rc;
}

static int send_cancelled(mcp_client *client, int64_t id, const char *reason)
{
    mcp_buf params;
    mcp_buf_init(&params);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &params);
    mcp_message_write_cancelled(&w, id, reason);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0)
        rc = mcp_client_notify(client, "notifications/cancelled", params.data);
    mcp_buf_free(&params);
    return rc;
}

int mcp_client_cancel(mcp_client *client, int64_t request_id, const char *reason)
{
    mcp_client_pending p;
    if (!take_pending(client, request_id, &p))
        return MCP_ENOTFOUND;
    /* The spec forbids cancelling initialize; the request is dropped all the same. */
    int rc = p.purpose == MCP_CLIENT_FOR_INITIALIZE ? 0 : send_cancelled(client, request_id, reason);
    complete(client, &p, MCP_ECANCELED, NULL);
    return rc;
}

bool mcp_client_is_pending(const mcp_client *client, int64_t request_id)
{
    size_t k;
    return index_find(client, request_id, &k);
}

size_t mcp_client_pending_count(const mcp_client *client)
{
    return client->pending_count;
}

void mcp_client_tick(mcp_client *client, uint64_t now_ns)
{
    if (now_ns > client->now_ns)
        client->now_ns = now_ns;
    /* Ticks come once per read: most find nothing due, without a walk. */
    if (client->earliest_deadline_ns > client->now_ns)
        return;
    for (;;) {
        size_t i = 0;
        uint64_t earliest = UINT64_MAX;
        while (i < client->pending_count && client->pending[i].deadline_ns > client->now_ns) {
            if (client->pending[i].deadline_ns < earliest)
                earliest = client->pending[i].deadline_ns;
            i++;
        }
        if (i == client->pending_count) {
            client->earliest_deadline_ns = earliest;
            return;
        }
        mcp_client_pending p;
        pending_remove_at(client, i, &p);
        client->counters.timeouts++;
        if (p.purpose != MCP_CLIENT_FOR_INITIALIZE)
            send_cancelled(client, p.id, "timeout");
        complete(client, &p, MCP_ETIMEDOUT, NULL);
    }
}

bool mcp_client_int_from_json(const mcp_json *node, int64_t *out)
{
    if (mcp_json_is_integer(node)) {
        *out = mcp_json_int(node, 0);
        return true;
    }
    /* Some servers stringify ids and tokens; accept a plain decimal. */
    if (!mcp_json_is_string(node))
        return false;
    const char *s = mcp_json_str(node, "");
    size_t len = mcp_json_str_len(node);
    if (len == 0 || len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ---- Incoming ------------------------------------------------------------- */

static void on_response(mcp_client *c, mcp_arena *arena, const mcp_rpc_message *m)
{
    int64_t id = 0;
    bool have_id = false;
    if (m->id.type == MCP_RPC_ID_INT) {
        id = m->id.num;
        have_id = true;
    } else if (m->id.type == MCP_RPC_ID_STRING) {
        mcp_json *node = NULL;
        if (mcp_json_parse(arena, m->id.text.ptr, m->id.text.len, NULL, &node, NULL) == 0)
            have_id = mcp_client_int_from_json(node, &id);
    }
    mcp_client_pending p;
    if (!have_id || !take_pending(c, id, &p)) {
        c->counters.unmatched++;
        return;
    }
    if (m->kind == MCP_RPC_ERROR_RESPONSE) {
        mcp_json *error = mcp_json_expand(arena, m->error);
        complete(c, &p, error ? MCP_CLIENT_RPC_ERROR : MCP_ENOMEM, error);
        return;
    }
    mcp_json *result = mcp_json_expand(arena, m->result);
    if (!result) {
        complete(c, &p, MCP_ENOMEM, NULL);
        return;
    }
    if (!mcp_json_is_object(result)) {
        c->counters.malformed++;
        complete(c, &p, MCP_EPROTO, NULL);
        return;
    }
    /* Without discovery, the server introduces itself in results' _meta. */
    if (c->modern && !c->server_info) {
        const mcp_json *info = mcp_json_get(mcp_json_get(result, "_meta"), "io.modelcontextprotocol/serverInfo");
        mcp_str raw = mcp_json_raw(info);
        if (mcp_json_is_object(info) && raw.len > 0)
            c->server_info = mcp_client_strndup(raw.ptr, raw.len);
    }
    /* An absent resultType means "complete": earlier versions lack it. */
    const mcp_json *type = mcp_json_get(result, "resultType");
    const char *t = mcp_json_str(type, "complete");
    int status = 0;
    if (!strcmp(t, "input_required"))
        status = MCP_CLIENT_INPUT_REQUIRED;
    else if (strcmp(t, "complete") != 0)
        status = MCP_EPROTO;
    if (status == 0 && p.method && !c->no_cache)
        mcp_client_cache_store(c, p.method, p.params, result);
    if (status == MCP_CLIENT_INPUT_REQUIRED && p.purpose == MCP_CLIENT_FOR_CALLER &&
        mcp_client_input_retry(c, &p, result))
        return;
    complete(c, &p, status, result);
}

static void on_progress(mcp_client *c, const mcp_json *params)
{
    int64_t token;
    if (!mcp_client_int_from_json(mcp_json_get(params, "progressToken"), &token))
        return;
    mcp_client_pending *p = mcp_client_find_pending(c, token);
    if (p && p->progress) {
        /* Progress proves the server is working: restart the clock. */
        if (p->timeout_ns != UINT64_MAX)
            p->deadline_ns = c->now_ns + p->timeout_ns;
        if (p->on_progress) {
            const mcp_json *msg = mcp_json_get(params, "message");
            p->on_progress(p->progress_user, mcp_json_num(mcp_json_get(params, "progress"), 0),
                           mcp_json_num(mcp_json_get(params, "total"), 0),
                           mcp_json_str(msg, NULL));
        }
    }
}

static void on_notification(mcp_client *c, mcp_arena *arena, const mcp_rpc_message *m)
{
    c->counters.notifications++;
    mcp_json *params = m->params ? mcp_json_expand(arena, m->params) : NULL;
    if (m->params && !params)
        return;
    if (!strcmp(m->method, "notifications/progress"))
        on_progress(c, params);
    else if (!strcmp(m->method, "notifications/tasks/status") && c->watched_task &&
             !strcmp(mcp_json_str(mcp_json_get(params, "taskId"), ""), c->watched_task))
        c->watched_task_changed = true;
    else if (!strcmp(m->method, "notifications/elicitation/complete") && c->on_elicitation_complete &&
             mcp_json_is_string(mcp_json_get(params, "elicitationId")))
        c->on_elicitation_complete(c->user, mcp_json_str(mcp_json_get(params, "elicitationId"), ""));
    else
        mcp_client_cache_on_notification(c, m->method, params);
    if (c->on_notification)
        c->on_notification(c->user, m->method, params);
}

void mcp_client_run_handler(mcp_client *client, const char *method, const mcp_json *params,
                            mcp_client_answer *answer)
{
    mcp_client_request_fn fn = NULL;
    if (!strcmp(method, "elicitation/create") && !strcmp(mcp_json_str(mcp_json_get(params, "mode"), "form"), "url")) {
        /* Never offered, or nowhere to go: the user is not sent anywhere. */
        const char *why = !client->elicitation_url                                 ? "URL elicitation is not supported"
                          : !mcp_json_is_string(mcp_json_get(params, "url"))       ? "URL elicitation without a url"
                          : !mcp_json_is_string(mcp_json_get(params, "message"))   ? "URL elicitation without a message"
                                                                                   : NULL;
        if (why) {
            answer->error_code = MCP_RPC_INVALID_PARAMS;
            snprintf(answer->error_message, sizeof answer->error_message, "%s", why);
            return;
        }
    }
    if (!strcmp(method, "sampling/createMessage"))
        fn = client->on_sampling;
    else if (!strcmp(method, "elicitation/create"))
        fn = client->on_elicitation;
    else if (!strcmp(method, "roots/list"))
        fn = client->on_roots;
    if (!fn)
        fn = client->on_request;
    if (fn) {
        fn(client->user, method, params, answer);
        return;
    }
    answer->error_code = MCP_RPC_METHOD_NOT_FOUND;
    snprintf(answer->error_message, sizeof answer->error_message, "Method not found: %s", method);
}

static void answer_request(mcp_client *c, mcp_arena *arena, const mcp_rpc_message *m)
{
    c->counters.server_requests++;
    mcp_client_answer answer;
    memset(&answer, 0, sizeof answer);
    mcp_buf_init(&answer.result);
    mcp_json *params = m->params ? mcp_json_expand(arena, m->params) : NULL;
    if (!strcmp(m->method, "ping"))
        mcp_buf_append_cstr(&answer.result, "{}");
    else
        mcp_client_run_handler(c, m->method, params, &answer);
    mcp_buf out;
    mcp_buf_init(&out);
    int rc;
    if (answer.error_code != 0) {
        rc = mcp_rpc_write_error(&out, &m->id, answer.error_code, answer.error_message, NULL);
    } else if (answer.result.len == 0 ||
               mcp_json_validate(answer.result.data, answer.result.len, NULL, NULL) != 0) {
        rc = mcp_rpc_write_error(&out, &m->id, MCP_RPC_INTERNAL_ERROR,
                                 "client produced no valid result", NULL);
    } else {
        rc = mcp_rpc_write_result(&out, &m->id, answer.result.data, answer.result.len);
    }
    if (rc == 0)
        mcp_client_send_text(c, out.data, out.len);
    mcp_buf_free(&out);
    mcp_buf_free(&answer.result);
}

static void arena_release(mcp_client *c, mcp_arena *arena)
{
    if (c->arena_spare_ready) {
        mcp_arena_free(arena);
        return;
    }
    mcp_arena_reset(arena);
    c->arena_spare = *arena;
    c->arena_spare_ready = true;
}

int mcp_client_handle(mcp_client *client, const char *message, size_t len)
{
    client->counters.messages_in++;
    if (len > client->max_message_size) {
        client->counters.malformed++;
        return 0;
    }
    /* The spare arena, or a fresh one when a callback re-entered us. */
    mcp_arena arena;
    if (client->arena_spare_ready) {
        arena = client->arena_spare;
        client->arena_spare_ready = false;
    } else {
        mcp_arena_init(&arena, 0);
    }
    /* Every part of a message gets read (results go to callbacks as built
     * DOMs), so build it all in one pass rather than validate now and
     * build later. */
    mcp_rpc_batch batch;
    int rc = mcp_rpc_parse_built(&arena, message, len, NULL, &batch);
    if (rc == 0 && batch.error_code)
        client->counters.malformed++;
    if (rc != 0 || batch.error_code) {
        arena_release(client, &arena);
        return rc;
    }
    for (size_t i = 0; i < batch.count; i++) {
        const mcp_rpc_message *m = &batch.items[i];
        switch (m->kind) {
        case MCP_RPC_RESPONSE:
        case MCP_RPC_ERROR_RESPONSE:
            on_response(client, &arena, m);
            break;
        case MCP_RPC_NOTIFICATION:
            on_notification(client, &arena, m);
            break;
        case MCP_RPC_REQUEST:
            answer_request(client, &arena, m);
            break;
        default:
            client->counters.malformed++;
            break;
        }
    }
    arena_release(client, &arena);
    return 0;
}
