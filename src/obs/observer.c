/*
 * The request hooks: one span and one count per MCP request.
 *
 * Attributes follow the OpenTelemetry semantic conventions for MCP
 * (gen-ai/mcp): span name "{mcp.method.name} {target}" with the tool or
 * prompt name as target, kind SERVER (or CLIENT), mcp.method.name,
 * jsonrpc.request.id, gen_ai.tool.name / gen_ai.prompt.name,
 * gen_ai.operation.name = execute_tool for tools/call, mcp.resource.uri,
 * mcp.session.id, mcp.protocol.version, network.transport,
 * network.protocol.name; on failure error.type (the JSON-RPC code, or
 * tool_error for isError results), rpc.response.status_code and status
 * ERROR with the error message. The parent comes from params._meta
 * (traceparent, tracestate), else from the transport's traceparent header;
 * a client request without either is a child of the thread's current span.
 *
 * Metrics are labelled by method from a fixed list (anything else counts as
 * "other"): method names come from the peer, and a label per distinct name
 * would let a client grow the registry without bound.
 */
#include "obs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With their lengths: the lookup runs once per request. */
#define M(name) {name, sizeof(name) - 1}
static const struct {
    const char *name;
    size_t len;
} METHODS[] = {
    M("tools/call"), M("tools/list"), M("resources/read"), M("resources/list"), M("resources/templates/list"),
    M("prompts/get"), M("prompts/list"), M("initialize"), M("ping"), M("server/discover"),
    M("subscriptions/listen"), M("completion/complete"), M("logging/setLevel"), M("resources/subscribe"),
    M("resources/unsubscribe"), M("sampling/createMessage"), M("roots/list"), M("elicitation/create"),
    M("notifications/initialized"), M("notifications/cancelled"), M("notifications/progress"),
    M("notifications/message"), M("notifications/roots/list_changed"), M("other")};
#undef M
#define METHOD_COUNT (sizeof METHODS / sizeof METHODS[0])
static const char *const OUTCOMES[] = {"ok", "error", "tool_error"};

struct mcp_obs {
    mcp_tracer *tracer;
    mcp_tracer *own_tracer;      /* made when none was given: spans carry the timing */
    mcp_metrics *metrics;
    /* [side][method][outcome]: the request counter and its method's
     * duration histogram, resolved to their slots */
    obs_metrics_timer timers[2][METHOD_COUNT][3];
};

/* Equal bytes, for 4 <= n <= 32 (every name in METHODS): overlapping
 * word loads instead of a memcmp call. */
static inline bool same_name(const char *a, const char *b, size_t n) {
    uint64_t x, y, diff = 0;
    if (n < 8) {
        uint32_t p, q;
        memcpy(&p, a, 4), memcpy(&q, b, 4), diff |= p ^ q;
        memcpy(&p, a + n - 4, 4), memcpy(&q, b + n - 4, 4), diff |= p ^ q;
        return !diff;
    }
    memcpy(&x, a, 8), memcpy(&y, b, 8), diff |= x ^ y;
    memcpy(&x, a + n - 8, 8), memcpy(&y, b + n - 8, 8), diff |= x ^ y;
    if (n > 16) {
        memcpy(&x, a + 8, 8), memcpy(&y, b + 8, 8), diff |= x ^ y;
        memcpy(&x, a + n - 16, 8), memcpy(&y, b + n - 16, 8), diff |= x ^ y;
    }
    return !diff;
}

/* The METHODS entry of a method name: the length and one character pick
 * the only candidate, which is then compared whole. Once per request. */
static unsigned method_index(mcp_str method) {
    const char *p = method.ptr;
    unsigned i = METHOD_COUNT - 1;
    if (!p || method.len < 4 || method.len > 32) return i;
    switch (method.len) {
    case 4: i = 8; break;                                            /* ping */
    case 10: i = p[0] == 'i' ? 7 : p[0] == 'r' ? 16 : p[6] == 'c' ? 0 : 1; break; /* initialize, roots/list, tools/call, tools/list */
    case 11: i = 5; break;                                           /* prompts/get */
    case 12: i = 6; break;                                           /* prompts/list */
    case 14: i = p[10] == 'r' ? 2 : 3; break;                        /* resources/read, resources/list */
    case 15: i = 9; break;                                           /* server/discover */
    case 16: i = 12; break;                                          /* logging/setLevel */
    case 18: i = 17; break;                                          /* elicitation/create */
    case 19: i = p[0] == 'c' ? 11 : 13; break;                       /* completion/complete, resources/subscribe */
    case 20: i = 10; break;                                          /* subscriptions/listen */
    case 21: i = p[0] == 'r' ? 14 : 21; break;                       /* resources/unsubscribe, notifications/message */
    case 22: i = p[0] == 's' ? 15 : 20; break;                       /* sampling/createMessage, notifications/progress */
    case 23: i = 19; break;                                          /* notifications/cancelled */
    case 24: i = 4; break;                                           /* resources/templates/list */
    case 25: i = 18; break;                                          /* notifications/initialized */
    case 32: i = 22; break;                                          /* notifications/roots/list_changed */
    default: return i;
    }
    return METHODS[i].len == method.len && same_name(p, METHODS[i].name, method.len) ? i : METHOD_COUNT - 1;
}

static int register_metrics(mcp_obs *o) {
    static const char *const names[2][2] = {
        {"mcp_server_requests_total", "mcp_server_request_duration_seconds"},
        {"mcp_client_requests_total", "mcp_client_request_duration_seconds"}};
    static const char *const helps[2][2] = {
        {"MCP requests and notifications received, by method and outcome.",
         "Time from receiving an MCP request to its response, by method."},
        {"MCP requests sent, by method and outcome.", "Time from sending an MCP request to its response, by method."}};
    int rc = MCP_OK;
    for (int side = 0; side < 2 && !rc; side++) {
        for (unsigned mi = 0; mi < METHOD_COUNT && !rc; mi++) {
            mcp_metric_id requests[3], duration;
            for (int oi = 0; oi < 3 && !rc; oi++) {
                mcp_label l[] = {{"method", METHODS[mi].name}, {"outcome", OUTCOMES[oi]}};
                rc = mcp_metrics_counter(o->metrics, names[side][0], helps[side][0], l, 2, &requests[oi]);
            }
            mcp_label l[] = {{"method", METHODS[mi].name}};
            if (!rc)
                rc = mcp_metrics_histogram(o->metrics, names[side][1], helps[side][1], l, 1, NULL, 0, &duration);
            for (int oi = 0; oi < 3 && !rc; oi++)
                rc = obs_metrics_timer_resolve(o->metrics, requests[oi], duration, &o->timers[side][mi][oi]);
        }
    }
    return rc;
}

static void collect_scrape_net(mcp_metrics_writer *w, void *user);

int mcp_obs_new(mcp_tracer *tracer, mcp_metrics *metrics, mcp_obs **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    mcp_obs *o = calloc(1, sizeof *o);
    if (!o) return MCP_ENOMEM;
    o->tracer = tracer;
    o->metrics = metrics;
    int rc = MCP_OK;
    if (!tracer) {
        rc = mcp_tracer_new(&(mcp_tracer_opts){.sampler = {.root = MCP_SAMPLE_ALWAYS_OFF},
                                               .exporter = {.endpoint = ""}},
                            &o->own_tracer);
        o->tracer = o->own_tracer;
    }
    if (!rc && metrics) rc = register_metrics(o);
    if (!rc && metrics) rc = mcp_metrics_add_collector(metrics, collect_scrape_net, NULL);
    if (rc) {
        mcp_obs_free(o);
        return rc;
    }
    *out = o;
    return MCP_OK;
}

void mcp_obs_free(mcp_obs *o) {
    if (!o) return;
    mcp_tracer_free(o->own_tracer);
    free(o);
}

static bool parent_from(mcp_str tp, mcp_str ts, mcp_trace_context *ctx) {
    return tp.ptr && obs_traceparent_parse(tp.ptr, tp.len, ts.ptr, ts.len, ctx) == 0;
}

static inline mcp_str slice(const char *s) {
    return (mcp_str){s, s ? strlen(s) : 0};
}

static inline void set_slice(mcp_span *s, const char *key, mcp_str v) {
    if (v.ptr) obs_span_put_str(s, key, v.ptr, v.len);
}

static inline void set_cstr(mcp_span *s, const char *key, const char *v) {
    if (v) obs_span_put_str(s, key, v, strlen(v));
}

/* An integer attribute with the same shortcut as obs_span_put_str. */
static inline void put_int(mcp_span *s, const char *key, int64_t v) {
    if (MCP_UNLIKELY(s->attr_count >= s->attr_room)) {
        s->dropped_attrs++;
        return;
    }
    obs_attr *a = &s->attrs[s->attr_count++];
    a->key = key;
    a->type = OBS_ATTR_INT;
    a->v.i = v;
}

/* The socket's far end is network.peer.*; on a server span it is also the
 * client (client.*, which the MCP conventions recommend there), as we know
 * of no proxy in between. */
static void set_peer(mcp_span *s, const mcp_transport_peer *p, bool client) {
    uint32_t at = s->attr_count;
    obs_span_put_str(s, "network.peer.address", p->address, p->address_len);
    bool stored = s->attr_count != at;
    put_int(s, "network.peer.port", p->port);
    if (client) return;
    /* The same text: client.address points at the copy just made (the
     * encoder reads values by offset) instead of copying it again. */
    if (stored && s->attr_count < s->attr_room) {
        obs_attr *a = &s->attrs[s->attr_count++];
        *a = s->attrs[at];
        a->key = "client.address";
    } else {
        obs_span_put_str(s, "client.address", p->address, p->address_len);
    }
    put_int(s, "client.port", p->port);
}

/* Bits set in v: __builtin_popcount is a library call on a target without
 * the popcnt instruction (the default x86-64), for a word of seven bits. */
static inline unsigned bits_set(unsigned v) {
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

/* One value of the packed form: present when v is not NULL. */
static inline char *pack_field(obs_req *r, obs_req_field f, char *d, const char *v, size_t n) {
    if (!v) return d;
    r->present |= (uint16_t)(1u << f);
    r->len[f] = (uint16_t)n;
    obs_copy_small(d, v, n);
    return d + n;
}

/* The MCP attributes in the packed form (obs_req): the name, then each
 * value given, copied end to end into the span's text. False, with
 * nothing written, when they do not all fit (a name over its room, values
 * over the text room): the caller then sets them one by one, cutting and
 * dropping as the generic attributes do. */
static bool request_attrs_pack(mcp_span *s, const mcp_request_info *req, obs_req_target kind, mcp_str target,
                               bool known_method) {
    const mcp_transport_peer *peer = req->peer && req->peer->address_len ? req->peer : NULL;
    /* A slice without a pointer is absent, whatever its length says. */
    size_t id_len = req->request_id.ptr ? req->request_id.len : 0;
    size_t uri_len = req->resource_uri.ptr ? req->resource_uri.len : 0;
    size_t session_len = req->session_id.ptr ? req->session_id.len : 0;
    size_t version_len = req->protocol_version ? strlen(req->protocol_version) : 0;
    size_t transport_len = req->transport ? strlen(req->transport) : 0;
    size_t protocol_len = req->network_protocol ? strlen(req->network_protocol) : 0;
    size_t peer_len = peer ? peer->address_len : 0;
    size_t name = req->method.len + (target.len ? 1 + target.len : 0);
    if (MCP_UNLIKELY(name > OBS_SPAN_NAME_ROOM)) return false;
    size_t total = name + id_len + uri_len + session_len + version_len + transport_len + protocol_len + peer_len;
    if (MCP_UNLIKELY(total > MCP_SPAN_TEXT_ROOM)) return false;
    char *d = s->text;
    obs_copy_small(d, req->method.ptr, req->method.len);
    d += req->method.len;
    if (target.len) {
        *d++ = ' ';
        obs_copy_small(d, target.ptr, target.len);
        d += target.len;
    }
    obs_req *r = &s->req;
    r->present = 0;
    d = pack_field(r, OBS_REQ_ID, d, req->request_id.ptr, id_len);
    d = pack_field(r, OBS_REQ_RESOURCE_URI, d, req->resource_uri.ptr, uri_len);
    d = pack_field(r, OBS_REQ_SESSION, d, req->session_id.ptr, session_len);
    d = pack_field(r, OBS_REQ_VERSION, d, req->protocol_version, version_len);
    d = pack_field(r, OBS_REQ_TRANSPORT, d, req->transport, transport_len);
    d = pack_field(r, OBS_REQ_PROTOCOL, d, req->network_protocol, protocol_len);
    pack_field(r, OBS_REQ_PEER, d, peer ? peer->address : NULL, peer_len);
    s->name_len = (uint16_t)name;
    s->text_used = (uint32_t)total;
    r->method_len = (uint16_t)req->method.len;
    r->peer_port = peer ? peer->port : 0;
    r->target = (uint8_t)kind;
    r->target_given = kind != OBS_TARGET_NONE && target.ptr;
    r->client = req->client;
    r->method_known = known_method;
    r->on = true;
    /* What the encoder will write for them: the method, each field given,
     * the target (with the operation for a tool), the peer's two or four. */
    unsigned packed = 1u + bits_set(r->present & ~(1u << OBS_REQ_PEER)) +
                      (r->target_given ? (kind == OBS_TARGET_TOOL ? 2u : 1u) : 0u) +
                      (peer ? (req->client ? 2u : 4u) : 0u);
    s->attr_room = (uint16_t)(MCP_SPAN_MAX_ATTRIBUTES - packed);
    return true;
}

/* The same attributes one by one, for what does not fit the packed form. */
static void request_attrs_put(mcp_span *s, const mcp_request_info *req, obs_req_target kind, mcp_str target) {
    obs_span_name_set(s, req->method, target);
    /* The name is "{method} {target}": when neither was cut short, the
     * attributes that repeat them point into it. */
    size_t ml = req->method.len;
    if (s->name_len >= ml) obs_span_put_ref(s, "mcp.method.name", 0, ml);
    else obs_span_put_str(s, "mcp.method.name", req->method.ptr, ml);
    set_slice(s, "jsonrpc.request.id", req->request_id);
    if (kind != OBS_TARGET_NONE && target.ptr) {
        const char *key = kind == OBS_TARGET_TOOL ? "gen_ai.tool.name" : "gen_ai.prompt.name";
        if (target.len && s->name_len == ml + 1 + target.len)
            obs_span_put_ref(s, key, (uint32_t)ml + 1, target.len);
        else
            obs_span_put_str(s, key, target.ptr, target.len);
        if (kind == OBS_TARGET_TOOL) obs_span_put_str(s, "gen_ai.operation.name", "execute_tool", 12);
    }
    set_slice(s, "mcp.resource.uri", req->resource_uri);
    set_slice(s, "mcp.session.id", req->session_id);
    set_cstr(s, "mcp.protocol.version", req->protocol_version);
    set_cstr(s, "network.transport", req->transport);
    set_cstr(s, "network.protocol.name", req->network_protocol);
    if (req->peer && req->peer->address_len) set_peer(s, req->peer, req->client);
}

/* The hot path of every request: one parse of the parent, one span from
 * the thread's pool, the attribute values copied once into the span's
 * text, no allocation and no lock. */
static void *request_start(void *obs, const mcp_request_info *req) {
    mcp_obs *o = obs;
    if (!o || !req || !req->method.ptr) return NULL;
    mcp_trace_context parent;
    bool has_parent = parent_from(req->traceparent, req->tracestate, &parent) ||
                      parent_from(req->http_traceparent, req->http_tracestate, &parent);
    /* A request we send from inside the handling of another is its child. */
    if (!has_parent && req->client && mcp_span_current()) has_parent = mcp_span_context(mcp_span_current(), &parent) == 0;
    unsigned mi = method_index(req->method);
    obs_req_target kind = mi == 0 ? OBS_TARGET_TOOL : mi == 5 ? OBS_TARGET_PROMPT : OBS_TARGET_NONE;
    /* A slice without a pointer is absent, whatever its length says. */
    mcp_str target = kind != OBS_TARGET_NONE && req->target.ptr ? req->target : (mcp_str){NULL, 0};
    mcp_span *s = obs_span_begin_current(o->tracer, req->client ? MCP_SPAN_CLIENT : MCP_SPAN_SERVER,
                                         has_parent ? &parent : NULL);
    if (!s) return NULL;
    s->user_index = mi | (req->client ? 0x100u : 0);
    if (s->recording && !request_attrs_pack(s, req, kind, target, mi != METHOD_COUNT - 1))
        request_attrs_put(s, req, kind, target);
    return s;
}

void *mcp_obs_request_start(void *obs, const mcp_obs_request *req) {
    if (!req) return NULL;
    return request_start(obs, &(mcp_request_info){
                                  .method = slice(req->method),
                                  .target = slice(req->target),
                                  .resource_uri = slice(req->resource_uri),
                                  .request_id = slice(req->request_id),
                                  .session_id = slice(req->session_id),
                                  .protocol_version = req->protocol_version,
                                  .transport = req->transport,
                                  .network_protocol = req->network_protocol,
                                  .traceparent = slice(req->traceparent),
                                  .tracestate = slice(req->tracestate),
                                  .http_traceparent = slice(req->http_traceparent),
                                  .http_tracestate = slice(req->http_tracestate),
                                  .client = req->client,
                              });
}

void mcp_obs_request_end(void *obs, void *handle, const mcp_obs_outcome *outcome) {
    mcp_obs *o = obs;
    mcp_span *s = handle;
    if (!o || !s) return;
    int code = outcome ? outcome->rpc_code : 0;
    bool tool_error = outcome && outcome->tool_error;
    unsigned mi = s->user_index & 0xff, side = s->user_index >> 8 ? 1 : 0;
    uint64_t now = mcp_now_ns();
    if (o->metrics) {
        int oi = code ? 1 : tool_error ? 2 : 0;
        obs_metrics_timer_record(o->metrics, &o->timers[side][mi][oi], now - s->start_mono_ns);
    }
    if (s->recording && (code || tool_error)) {
        char tmp[16];
        if (code) {
            snprintf(tmp, sizeof tmp, "%d", code);
            mcp_span_set_str(s, "rpc.response.status_code", tmp);
        }
        mcp_span_set_error(s, code ? tmp : "tool_error", outcome->message);
    }
    /* An access line at debug level, under the request's span so that a
     * JSON log sink gives it the trace and span ids. */
    if (MCP_UNLIKELY(mcp_log_get_level() <= MCP_LOG_DEBUG)) {
        mcp_span *prev = mcp_span_make_current(s);
        mcp_log(MCP_LOG_DEBUG, "%s %s: %s in %.1f us", side ? "sent" : "served", METHODS[mi].name,
                code ? "error" : tool_error ? "tool error" : "ok", (double)(now - s->start_mono_ns) / 1e3);
        mcp_span_make_current(prev == s ? s->user : prev);
    }
    obs_span_leave(s);
    obs_span_end_at(s, now);
}

static void handler_exit(void *obs, void *handle) {
    (void)obs;
    mcp_span *s = handle;
    if (s) obs_span_leave(s);
}

/* The listener's runtime for the scrape being rendered on this thread. */
static _Thread_local void *tls_scrape_net;

static void collect_scrape_net(mcp_metrics_writer *w, void *user) {
    (void)user;
    if (tls_scrape_net) mcp_metrics_collect_net(w, tls_scrape_net);
}

static int render_metrics(void *obs, void *net, mcp_buf *out) {
    mcp_obs *o = obs;
    if (!o->metrics) return MCP_EUNSUPPORTED;
    tls_scrape_net = net;
    int rc = mcp_metrics_render(o->metrics, out);
    tls_scrape_net = NULL;
    return rc;
}

static int log_record(void *obs, void *handle, mcp_log_level level, const char *logger, const char *msg,
                      mcp_buf *out) {
    (void)obs;
    return mcp_obs_log_record(out, level, logger, msg, handle ? handle : mcp_span_current());
}

void mcp_obs_observer(mcp_obs *o, mcp_observer *out) {
    *out = (mcp_observer){
        .on_request_start = request_start,
        .on_request_end = mcp_obs_request_end,
        .traceparent = mcp_obs_request_traceparent,
        .on_handler_exit = handler_exit,
        .log_record = log_record,
        .metrics = o && o->metrics ? render_metrics : NULL,
        .user = o,
    };
}

int mcp_obs_request_traceparent(void *obs, void *handle, char out[MCP_TRACEPARENT_LEN + 1]) {
    (void)obs;
    return mcp_span_traceparent(handle, out);
}

mcp_span *mcp_obs_request_span(void *handle) {
    return handle;
}
