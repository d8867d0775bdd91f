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
    mcp_metric_id requests[2][METHOD_COUNT][3];
    mcp_metric_id duration[2][METHOD_COUNT];
};

static unsigned method_index(mcp_str method) {
    if (method.ptr)
        for (unsigned i = 0; i + 1 < METHOD_COUNT; i++)
            if (METHODS[i].len == method.len && method.ptr[0] == METHODS[i].name[0] &&
                memcmp(method.ptr, METHODS[i].name, method.len) == 0)
                return i;
    return METHOD_COUNT - 1;
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
            for (int oi = 0; oi < 3 && !rc; oi++) {
                mcp_label l[] = {{"method", METHODS[mi].name}, {"outcome", OUTCOMES[oi]}};
                rc = mcp_metrics_counter(o->metrics, names[side][0], helps[side][0], l, 2, &o->requests[side][mi][oi]);
            }
            mcp_label l[] = {{"method", METHODS[mi].name}};
            if (!rc)
                rc = mcp_metrics_histogram(o->metrics, names[side][1], helps[side][1], l, 1, NULL, 0,
                                           &o->duration[side][mi]);
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
    if (MCP_UNLIKELY(s->attr_count == MCP_SPAN_MAX_ATTRIBUTES)) {
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
    if (stored && s->attr_count < MCP_SPAN_MAX_ATTRIBUTES) {
        obs_attr *a = &s->attrs[s->attr_count++];
        *a = s->attrs[at];
        a->key = "client.address";
    } else {
        obs_span_put_str(s, "client.address", p->address, p->address_len);
    }
    put_int(s, "client.port", p->port);
}

/* The hot path of every request: one parse of the parent, one span from
 * the thread's pool, attributes as slices copied once into the span's
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
    bool is_tool = mi == 0, is_prompt = mi == 5;
    mcp_str target = (is_tool || is_prompt) ? req->target : (mcp_str){NULL, 0};
    mcp_span *s = obs_span_start2(o->tracer, req->method, target, req->client ? MCP_SPAN_CLIENT : MCP_SPAN_SERVER,
                                  has_parent ? &parent : NULL);
    if (!s) return NULL;
    s->user_index = mi | (req->client ? 0x100u : 0);
    if (s->recording) {
        /* The name is "{method} {target}": when neither was cut short,
         * the attributes that repeat them point into it. */
        size_t ml = req->method.len;
        if (s->name_len >= ml) obs_span_put_ref(s, "mcp.method.name", 0, ml);
        else obs_span_put_str(s, "mcp.method.name", req->method.ptr, ml);
        set_slice(s, "jsonrpc.request.id", req->request_id);
        if ((is_tool || is_prompt) && target.ptr) {
            const char *key = is_tool ? "gen_ai.tool.name" : "gen_ai.prompt.name";
            if (target.len && s->name_len == ml + 1 + target.len)
                obs_span_put_ref(s, key, (uint32_t)ml + 1, target.len);
            else
                obs_span_put_str(s, key, target.ptr, target.len);
            if (is_tool) obs_span_put_str(s, "gen_ai.operation.name", "execute_tool", 12);
        }
        set_slice(s, "mcp.resource.uri", req->resource_uri);
        set_slice(s, "mcp.session.id", req->session_id);
        set_cstr(s, "mcp.protocol.version", req->protocol_version);
        set_cstr(s, "network.transport", req->transport);
        set_cstr(s, "network.protocol.name", req->network_protocol);
        if (req->peer && req->peer->address_len) set_peer(s, req->peer, req->client);
    }
    s->user = mcp_span_make_current(s);
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
        mcp_metrics_add(o->metrics, o->requests[side][mi][oi], 1);
        mcp_metrics_observe(o->metrics, o->duration[side][mi], (double)(now - s->start_mono_ns) / 1e9);
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
    if (mcp_span_current() == s) mcp_span_make_current(s->user);
    obs_span_end_at(s, now);
}

static void handler_exit(void *obs, void *handle) {
    (void)obs;
    mcp_span *s = handle;
    if (s && mcp_span_current() == s) mcp_span_make_current(s->user);
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
