/*
 * The Streamable HTTP server's shared state: options, DNS-rebinding checks,
 * handshake-era sessions and the routing of what a session emits.
 *
 * Routing. An mcp_session hands us whole JSON texts and nothing else, so
 * the transport decides where each one goes:
 *  - the reply to the request being handled on this thread (the common,
 *    synchronous case) is recognised from its first bytes, which our writer
 *    lays out as {"jsonrpc":"2.0","id":<id>,"result"|"error"…, and goes
 *    straight to that request's exchange without parsing;
 *  - anything else is classified (a lazy envelope parse): replies go to the
 *    exchange waiting for their id, progress to the exchange whose request
 *    carried the token, other notifications and server requests to the
 *    request being handled on this thread if any, else to the GET stream.
 * What has nowhere to go is counted and dropped, as the specification
 * allows for a session without a GET stream.
 *
 * A session can also be asked to end one request's stream early (SSE
 * polling, mcp_call_close_stream: hs_close_stream), and, with
 * ping_interval_ms, is pinged over its GET stream and deleted when it stops
 * answering (liveness, at the end of this file).
 */
#include "net/http_internal.h"
#include "net/rebinding.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Thread_local mcp_http_exchange *mcp_http_tls_current;

mcp_http_exchange *mcp_http_current(void) { return mcp_http_tls_current; }
void mcp_http_set_current(mcp_http_exchange *x) { mcp_http_tls_current = x; }

/* ---- Server ---------------------------------------------------------------------- */
static int hs_sink_write(void *user, const char *message, size_t len);
static int hs_close_stream(void *user, const char *request_id, size_t len);

int mcp_http_server_new(mcp_http_server **out, mcp_server *server, const mcp_listen *listen,
                        const mcp_net_limits *limits, unsigned workers) {
    *out = NULL;
    mcp_http_server *http = calloc(1, sizeof *http);
    if (!http) return MCP_ENOMEM;
    http->server = server;
    http->limits = *limits;
    http->workers = workers;
    pthread_mutex_init(&http->all_lock, NULL);
    if (listen->http_opts) http->opts = *listen->http_opts;
    mcp_http_opts *o = &http->opts;
    if (!o->keepalive_ms) o->keepalive_ms = MCP_HTTP_DEFAULT_KEEPALIVE_MS;
    if (!o->sse_retry_ms) o->sse_retry_ms = MCP_HTTP_DEFAULT_SSE_RETRY_MS;
    if (!o->ping_timeout_ms) o->ping_timeout_ms = o->ping_interval_ms;
    if (!o->max_header_size) o->max_header_size = MCP_HTTP_DEFAULT_MAX_HEADER;
    if (!o->max_body_size) o->max_body_size = limits->max_message_size;
    if (!o->request_timeout_ms) o->request_timeout_ms = MCP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    if (!o->max_pipeline) o->max_pipeline = MCP_HTTP_DEFAULT_MAX_PIPELINE;
    http->path = strdup(o->path ? o->path : MCP_HTTP_DEFAULT_PATH);
    http->path_len = http->path ? strlen(http->path) : 0;
    http->allowed_hosts = mcp_net_strings_copy(o->allowed_hosts);
    http->allowed_origins = mcp_net_strings_copy(o->allowed_origins);
    http->counters = calloc(workers + 1, sizeof *http->counters);
    int rc = http->path && http->allowed_hosts && http->allowed_origins && http->counters ? 0 : MCP_ENOMEM;
    o->path = http->path;
    o->allowed_hosts = (const char *const *)http->allowed_hosts;
    o->allowed_origins = (const char *const *)http->allowed_origins;
    if (!rc) rc = mcp_session_table_new(NULL, &http->sessions);
    if (!rc) {
        http->store = o->event_store;
        if (!http->store) {
            http->store = mcp_event_store_memory_new(0, 0);
            http->own_store = true;
            if (!http->store) rc = MCP_ENOMEM;
        }
    }
    if (rc) {
        mcp_http_server_free(http);
        return rc;
    }
    *out = http;
    return MCP_OK;
}

/* Sessions still open at the end (no connection is left): each waits for
 * its calls as it is freed; replies of those calls reach orphaned
 * exchanges or nothing. Then the orphans go, whatever their counts say. */
static void free_remaining_sessions(mcp_http_server *http) {
    for (mcp_http_session *hs = http->all; hs; hs = hs->all_next) {
        mcp_session_free(hs->session);
        hs->session = NULL;
    }
    while (http->all) {
        mcp_http_session *hs = http->all;
        http->all = hs->all_next;
        /* An orphaned GET stream is held by hs->get alone. */
        if (hs->get) {
            hs->get->s_next = hs->waiting;
            hs->waiting = hs->get;
        }
        for (mcp_http_exchange *x = hs->waiting, *next; x; x = next) {
            next = x->s_next;
            mcp_buf_free(&x->id);
            mcp_buf_free(&x->token);
            mcp_buf_free(&x->pending);
            free(x);
        }
        pthread_mutex_destroy(&hs->lock);
        pthread_mutex_destroy(&hs->handle_lock);
        free(hs);
    }
}

void mcp_http_server_free(mcp_http_server *http) {
    if (!http) return;
    free_remaining_sessions(http);
    pthread_mutex_destroy(&http->all_lock);
    if (http->sessions) mcp_session_table_free(http->sessions);
    if (http->own_store && http->store) http->store->free(http->store);
    mcp_net_strings_free(http->allowed_hosts);
    mcp_net_strings_free(http->allowed_origins);
    free(http->path);
    free(http->counters);
    free(http);
}

const mcp_http_opts *mcp_http_server_opts(const mcp_http_server *http) { return &http->opts; }

mcp_http_counters *mcp_http_counters_of(mcp_http_server *http, unsigned worker_index) {
    return &http->counters[worker_index < http->workers ? worker_index : http->workers];
}

mcp_http_counters *mcp_http_worker_counters(mcp_http_server *http, unsigned worker_index) {
    return mcp_http_counters_of(http, worker_index);
}

void mcp_http_counters_get(const mcp_http_server *http, mcp_http_counters *out) {
    memset(out, 0, sizeof *out);
    uint64_t *sum = (uint64_t *)out;
    size_t n = sizeof *out / sizeof(uint64_t);
    for (unsigned w = 0; w <= http->workers; w++) {
        const uint64_t *c = (const uint64_t *)&http->counters[w];
        for (size_t k = 0; k < n; k++) sum[k] += __atomic_load_n(&c[k], __ATOMIC_RELAXED);
    }
}

size_t mcp_http_server_session_count(mcp_http_server *http) { return mcp_session_table_count(http->sessions); }

/* ---- DNS-rebinding protection (net/rebinding.c) ------------------------------------- */
bool mcp_http_host_allowed(const mcp_http_server *http, mcp_str host) {
    return http->opts.disable_host_check || mcp_net_host_allowed(http->allowed_hosts, host);
}

bool mcp_http_origin_allowed(const mcp_http_server *http, mcp_str origin) {
    return http->opts.disable_host_check ||
           mcp_net_origin_allowed(http->allowed_hosts, http->allowed_origins, origin);
}

/* ---- Classification of outgoing messages ---------------------------------------------- */
int mcp_http_classify(mcp_arena *arena, const char *message, size_t len, mcp_http_route *route) {
    memset(route, 0, sizeof *route);
    mcp_json_opts opts = {.max_depth = 256, .max_size = len + 1};
    mcp_rpc_batch parsed;
    int rc = mcp_rpc_parse(arena, message, len, &opts, &parsed);
    if (rc) return rc;
    if (parsed.error_code || parsed.count == 0) return MCP_EPARSE;
    if (parsed.is_batch) {
        route->kind = MCP_RPC_RESPONSE; /* our only arrays are batch replies */
        return MCP_OK;
    }
    const mcp_rpc_message *m = &parsed.items[0];
    route->kind = m->kind;
    route->id = m->id.text;
    if (m->method) route->method = (mcp_str){m->method, m->method_len};
    if (m->kind == MCP_RPC_ERROR_RESPONSE) {
        mcp_json *error = mcp_json_expand(arena, m->error);
        route->error_code = (int)mcp_json_int(mcp_json_get(error, "code"), 0);
    }
    if (m->kind == MCP_RPC_NOTIFICATION && m->params) {
        mcp_json *params = mcp_json_expand(arena, m->params);
        mcp_json *meta = mcp_json_get(params, "_meta");
        mcp_json *token = mcp_json_get(params, "progressToken");
        if (!token) token = mcp_json_get(meta, "progressToken");
        if (token) route->token = mcp_json_raw(token);
        mcp_json *subscription = mcp_json_get(meta, "io.modelcontextprotocol/subscriptionId");
        if (subscription) route->subscription = mcp_json_raw(subscription);
    }
    return MCP_OK;
}

/* Our writer's layout of a reply; false when the text is laid out otherwise
 * (then the caller parses). */
static bool reply_prefix_matches(const char *message, size_t len, mcp_str id) {
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    size_t h = sizeof head - 1;
    if (len < h + id.len + 8 || memcmp(message, head, h) != 0) return false;
    if (memcmp(message + h, id.ptr, id.len) != 0) return false;
    const char *rest = message + h + id.len;
    return memcmp(rest, ",\"result\"", 9) == 0 || memcmp(rest, ",\"error\"", 8) == 0;
}

bool mcp_http_is_final(const mcp_http_exchange *x, const char *message, size_t len) {
    if (x->is_get) return false;
    if (x->batch) return len && message[0] == '[';
    if (!x->id.len) return false;
    mcp_str id = {x->id.data, x->id.len};
    if (reply_prefix_matches(message, len, id)) return true;
    if (len >= 2 && message[0] == '{' && message[1] == '"' &&
        memcmp(message, "{\"jsonrpc\":\"2.0\",\"method\"", 25) == 0)
        return false; /* a notification or request in our layout */
    mcp_arena arena;
    mcp_arena_init(&arena, 1024);
    mcp_http_route route;
    bool final = mcp_http_classify(&arena, message, len, &route) == 0 &&
                 (route.kind == MCP_RPC_RESPONSE || route.kind == MCP_RPC_ERROR_RESPONSE) &&
                 route.id.len == id.len && memcmp(route.id.ptr, id.ptr, id.len) == 0;
    mcp_arena_free(&arena);
    return final;
}

/* ---- Handshake-era sessions ------------------------------------------------------------- */
static bool slice_eq(mcp_str a, const mcp_buf *b) {
    return a.len == b->len && a.len && memcmp(a.ptr, b->data, a.len) == 0;
}

/* Under hs->lock: where does this message go? */
static mcp_http_exchange *route_locked(mcp_http_session *hs, const mcp_http_route *r, mcp_http_exchange *cur) {
    if (r->kind == MCP_RPC_RESPONSE || r->kind == MCP_RPC_ERROR_RESPONSE) {
        for (mcp_http_exchange *x = hs->waiting; x; x = x->s_next)
            if (slice_eq(r->id, &x->id) || (x->batch && !r->id.len)) return x;
        return NULL;
    }
    if (r->token.len) {
        for (mcp_http_exchange *x = hs->waiting; x; x = x->s_next)
            if (slice_eq(r->token, &x->token)) return x;
    }
    if (cur && cur->hs == hs) return cur;
    return hs->get;
}

static int hs_sink_write(void *user, const char *message, size_t len) {
    mcp_http_session *hs = user;
    mcp_http_exchange *cur = mcp_http_current();
    if (cur && cur->hs == hs && mcp_http_is_final(cur, message, len)) {
        mcp_http_exchange_ref(cur);
        mcp_http_exchange_route(cur, message, len);
        return MCP_OK;
    }
    mcp_arena arena;
    mcp_arena_init(&arena, 2048);
    mcp_http_route r;
    int rc = mcp_http_classify(&arena, message, len, &r);
    mcp_http_exchange *direct = NULL;
    bool handled = false;
    pthread_mutex_lock(&hs->lock);
    mcp_http_exchange *x = rc == 0 && !hs->closed ? route_locked(hs, &r, cur) : NULL;
    if (x) {
        if (!x->conn) {
            handled = mcp_http_exchange_orphan_deliver(x, message, len);
        } else if (x->worker == NULL || x->worker == mcp_net_worker_current()) {
            mcp_http_exchange_ref(x);
            direct = x;
        } else {
            /* Posted under the lock: the connection cannot be detached (and
             * its loop cannot end) before the note is queued. */
            mcp_http_exchange_ref(x);
            mcp_http_exchange_route(x, message, len);
            handled = true;
        }
    }
    pthread_mutex_unlock(&hs->lock);
    mcp_arena_free(&arena);
    if (direct) {
        mcp_http_exchange_route(direct, message, len);
        return MCP_OK;
    }
    if (!handled) {
        mcp_net_worker *w = mcp_net_worker_current();
        mcp_net_count(&mcp_http_counters_of(hs->http, w ? w->index : hs->http->workers)->output_dropped, 1);
    }
    return MCP_OK;
}

/* The session's close_stream: the exchange of that request ends its stream
 * early on its own loop (an empty note with close_requested set). */
static int hs_close_stream(void *user, const char *request_id, size_t len) {
    mcp_http_session *hs = user;
    if (!hs->http->store) return MCP_EUNSUPPORTED;
    int rc = MCP_ENOTFOUND;
    mcp_http_exchange *direct = NULL;
    mcp_str id = {request_id, len};
    pthread_mutex_lock(&hs->lock);
    for (mcp_http_exchange *x = hs->waiting; x && !hs->closed; x = x->s_next) {
        if (x->is_get || !slice_eq(id, &x->id)) continue;
        if (x->batch || !x->sse_ok) {
            rc = MCP_EUNSUPPORTED;
        } else if (!x->conn || x->state == MCP_HTTP_X_CLOSED) {
            rc = MCP_OK; /* its stream has ended already */
        } else {
            rc = MCP_OK;
            __atomic_store_n(&x->close_requested, true, __ATOMIC_RELEASE);
            mcp_http_exchange_ref(x);
            if (x->worker == NULL || x->worker == mcp_net_worker_current()) direct = x;
            else mcp_http_exchange_route(x, NULL, 0); /* posted under the lock, as in the sink */
        }
        break;
    }
    pthread_mutex_unlock(&hs->lock);
    if (direct) mcp_http_exchange_route(direct, NULL, 0);
    return rc;
}

mcp_http_session *mcp_http_session_create(mcp_http_server *http) {
    mcp_http_session *hs = calloc(1, sizeof *hs);
    if (!hs) return NULL;
    hs->http = http;
    hs->refs = 2;
    hs->next_stream = 1;
    pthread_mutex_init(&hs->lock, NULL);
    pthread_mutex_init(&hs->handle_lock, NULL);
    hs->session = mcp_session_new(http->server, &(mcp_sink){.write = hs_sink_write, .user = hs, .close_stream = hs_close_stream});
    if (!hs->session || mcp_session_table_create(http->sessions, hs, hs->id) != 0) {
        if (hs->session) mcp_session_free(hs->session);
        pthread_mutex_destroy(&hs->lock);
        pthread_mutex_destroy(&hs->handle_lock);
        free(hs);
        return NULL;
    }
    pthread_mutex_lock(&http->all_lock);
    hs->all_next = http->all;
    if (http->all) http->all->all_prev = hs;
    http->all = hs;
    pthread_mutex_unlock(&http->all_lock);
    return hs;
}

mcp_http_session *mcp_http_session_find(mcp_http_server *http, mcp_str id) {
    void *data = NULL;
    /* The table's shard lock is held during lookup only; the reference is
     * taken under the session's lock so that a concurrent delete either
     * happened before (closed) or waits for us. */
    if (mcp_session_table_lookup(http->sessions, id.ptr, id.len, &data) != 0) return NULL;
    mcp_http_session *hs = data;
    pthread_mutex_lock(&hs->lock);
    bool closed = hs->closed;
    if (!closed) mcp_http_session_ref(hs);
    pthread_mutex_unlock(&hs->lock);
    return closed ? NULL : hs;
}

void mcp_http_session_ref(mcp_http_session *hs) { __atomic_add_fetch(&hs->refs, 1, __ATOMIC_RELAXED); }

void mcp_http_session_destroy(mcp_http_session *hs) {
    mcp_http_server *http = hs->http;
    pthread_mutex_lock(&http->all_lock);
    if (hs->all_prev) hs->all_prev->all_next = hs->all_next;
    else http->all = hs->all_next;
    if (hs->all_next) hs->all_next->all_prev = hs->all_prev;
    pthread_mutex_unlock(&http->all_lock);
    pthread_mutex_destroy(&hs->lock);
    pthread_mutex_destroy(&hs->handle_lock);
    free(hs);
}

void mcp_http_session_unref(mcp_http_session *hs) {
    if (__atomic_sub_fetch(&hs->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    mcp_net_worker *worker = mcp_net_worker_current();
    mcp_net *net = hs->http->net;
    if (worker && net) {
        /* Freeing waits for the session's calls: off the loop, on the
         * reaper, which hands the struct back to this loop to free. The
         * pending note counts as a connection so the loop stays up. */
        mcp_net_note *note = calloc(1, sizeof *note);
        if (note) {
            note->kind = MCP_NET_NOTE_RELEASED;
            note->worker = worker;
            note->session = hs->session;
            note->target = hs;
            note->len = MCP_HTTP_RELEASED_SESSION;
            worker->conn_count++;
            mcp_net_reap(net, note);
            return;
        }
    }
    mcp_session_free(hs->session);
    mcp_http_session_destroy(hs);
}

/* Under hs->lock: sort one exchange of a deleted session. */
static void end_locked(mcp_http_exchange *x, mcp_net_worker *self, mcp_http_exchange **local,
                       mcp_http_exchange **orphans) {
    if (!x->conn) {
        x->ending_next = *orphans;
        *orphans = x;
    } else if (!x->worker || x->worker == self) {
        mcp_http_exchange_ref(x);
        x->ending_next = *local;
        *local = x;
    } else {
        mcp_http_exchange_ref(x);
        mcp_http_exchange_route(x, NULL, 0);
    }
}

int mcp_http_session_delete(mcp_http_server *http, mcp_str id) {
    void *data = NULL;
    if (mcp_session_table_remove(http->sessions, id.ptr, id.len, &data) != 0) return MCP_ENOTFOUND;
    mcp_http_session *hs = data;
    /* Every stream and every request still waiting ends now: live ones on
     * their own loops (posted under the lock, as in the sink; those of this
     * loop after it, since ending one takes the lock), orphans at once. */
    mcp_http_exchange *local = NULL, *orphans = NULL;
    mcp_net_worker *self = mcp_net_worker_current();
    pthread_mutex_lock(&hs->lock);
    hs->closed = true;
    for (mcp_http_exchange *x = hs->waiting; x; x = x->s_next) end_locked(x, self, &local, &orphans);
    if (hs->get) end_locked(hs->get, self, &local, &orphans);
    for (mcp_http_exchange *e = orphans; e; e = e->ending_next) {
        if (e->in_session_list) {
            if (e->s_prev) e->s_prev->s_next = e->s_next;
            else hs->waiting = e->s_next;
            if (e->s_next) e->s_next->s_prev = e->s_prev;
            e->s_prev = e->s_next = NULL;
            e->in_session_list = false;
        }
        if (hs->get == e) hs->get = NULL;
    }
    pthread_mutex_unlock(&hs->lock);
    for (mcp_http_exchange *e = orphans, *next; e; e = next) {
        next = e->ending_next;
        mcp_http_exchange_unref(e);
    }
    for (mcp_http_exchange *e = local, *next; e; e = next) {
        next = e->ending_next;
        mcp_http_exchange_route(e, NULL, 0);
    }
    if (http->store) {
        char stream[MCP_STREAM_NAME_MAX];
        for (unsigned n = 0; n < hs->next_stream; n++) {
            snprintf(stream, sizeof stream, "%s/%u", hs->id, n);
            http->store->forget(http->store, stream);
        }
    }
    mcp_http_session_unref(hs);
    return MCP_OK;
}

/* ---- Liveness pings (ping_interval_ms) ------------------------------------------------- */
/* The answer (or the session's end) clears the outstanding ping; hs lives
 * until its session is freed, which runs this callback last. */
static void on_pong(int status, const mcp_json *result, const mcp_json *error, void *user) {
    (void)status, (void)result, (void)error;
    mcp_http_session *hs = user;
    __atomic_store_n(&hs->ping_sent_ms, 0, __ATOMIC_RELEASE);
}

bool mcp_http_session_ping_tick(mcp_http_conn *conn, mcp_http_exchange *x, uint64_t now_ms) {
    const mcp_http_opts *o = &conn->http->opts;
    mcp_http_session *hs = x->hs;
    uint64_t sent = __atomic_load_n(&hs->ping_sent_ms, __ATOMIC_ACQUIRE);
    if (sent) {
        if (now_ms - sent < o->ping_timeout_ms) return false;
        mcp_net_count(&conn->counters->sessions_ping_dropped, 1);
        mcp_http_session_ref(hs);
        mcp_http_session_delete(conn->http, (mcp_str){hs->id, strlen(hs->id)});
        mcp_http_session_unref(hs);
        return true;
    }
    if (!hs->ping_last_ms) hs->ping_last_ms = now_ms; /* the interval starts with the stream */
    if (now_ms - hs->ping_last_ms < o->ping_interval_ms) return false;
    hs->ping_last_ms = now_ms;
    __atomic_store_n(&hs->ping_sent_ms, now_ms ? now_ms : 1, __ATOMIC_RELEASE);
    if (mcp_session_ping(hs->session, on_pong, hs) != 0) {
        __atomic_store_n(&hs->ping_sent_ms, 0, __ATOMIC_RELEASE); /* not initialized yet */
        return false;
    }
    mcp_net_count(&conn->counters->pings_sent, 1);
    return false;
}
