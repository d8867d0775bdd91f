/*
 * The request hooks keep a span's MCP attributes packed (values end to end
 * in the span's text, keys written by the exporter): what arrives at the
 * collector must be what the request said, for the packed form and for
 * the one-by-one form that takes over when values do not fit; a
 * malformed traceparent leaves a root span; every known method is counted
 * under its own label.
 */
#include "mcp/mcp.h"
#include "mcp/obs.h"
#include "mcp/json.h"
#include "obs/otlp_receiver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_otlp.h"

#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT_ID "00f067aa0ba902b7"

typedef struct fixture {
    receiver r;
    mcp_tracer *tracer;
    mcp_metrics *metrics;
    mcp_obs *obs;
    mcp_observer observer;
    mcp_server *server;
    mcp_session *session;
    mcp_arena arena;
} fixture;

static int discard(void *user, const char *message, size_t len) {
    (void)user;
    (void)message;
    (void)len;
    return 0;
}

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    return mcp_call_text(call, "ok");
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    otlp_tracer_start(&f->r, "obs-attrs-test", &f->tracer);
    assert_int_equal(mcp_metrics_new(&f->metrics), 0);
    assert_int_equal(mcp_obs_new(f->tracer, f->metrics, &f->obs), 0);
    mcp_obs_observer(f->obs, &f->observer);
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .observer = &f->observer});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = echo}), 0);
    f->session = mcp_session_new(f->server, &(mcp_sink){.write = discard});
    assert_non_null(f->session);
    mcp_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_arena_free(&f->arena);
    mcp_session_free(f->session);
    mcp_server_free(f->server);
    mcp_obs_free(f->obs);
    mcp_metrics_free(f->metrics);
    mcp_tracer_free(f->tracer);
    receiver_stop(&f->r);
    free(f);
    return 0;
}

static void handle(fixture *f, const char *text, const mcp_transport_info *info) {
    assert_int_equal(mcp_session_handle_from(f->session, text, strlen(text), info), 0);
}

static const mcp_json *exported(fixture *f, const char *name) {
    assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);
    const mcp_json *s = receiver_span_named(&f->r, &f->arena, name);
    assert_non_null(s);
    return s;
}

static int64_t int_attr(const mcp_json *span, const char *key) {
    /* OTLP JSON: 64-bit integers travel as decimal strings. */
    const char *text = mcp_json_str(mcp_json_get(span_attr(span, key), "intValue"), NULL);
    assert_non_null(text);
    return strtoll(text, NULL, 10);
}

/* Every attribute of a request that sets them all, with a peer, a
 * session and a protocol name; the id given as its JSON text (id_json)
 * and what the span must carry for it (id_attr). The encoder copies a
 * span whose text needs no escaping in one run and escapes the others
 * value by value: both must give the same attributes. */
static void check_packed_attributes(fixture *f, const char *id_json, const char *id_attr) {
    mcp_transport_peer peer = {.address = "::1", .address_len = 3, .port = 54321};
    const mcp_transport_peer *saved = mcp_transport_peer_swap(&peer);
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
             "\"io.modelcontextprotocol/clientCapabilities\":{},"
             "\"traceparent\":\"00-" TRACE_ID "-" PARENT_ID "-01\"}}}",
             id_json);
    handle(f, msg,
           &(mcp_transport_info){.transport = "tcp", .network_protocol = "http", .session_id = MCP_STR_LIT("sess-42")});
    mcp_transport_peer_swap(saved);
    const mcp_json *s = exported(f, "tools/call echo");
    assert_string_equal(mcp_json_str(mcp_json_get(s, "parentSpanId"), ""), PARENT_ID);
    assert_string_equal(span_attr_str(s, "mcp.method.name"), "tools/call");
    assert_string_equal(span_attr_str(s, "jsonrpc.request.id"), id_attr);
    assert_string_equal(span_attr_str(s, "gen_ai.tool.name"), "echo");
    assert_string_equal(span_attr_str(s, "gen_ai.operation.name"), "execute_tool");
    assert_string_equal(span_attr_str(s, "mcp.session.id"), "sess-42");
    assert_string_equal(span_attr_str(s, "mcp.protocol.version"), "2026-07-28");
    assert_string_equal(span_attr_str(s, "network.transport"), "tcp");
    assert_string_equal(span_attr_str(s, "network.protocol.name"), "http");
    assert_string_equal(span_attr_str(s, "network.peer.address"), "::1");
    assert_int_equal(int_attr(s, "network.peer.port"), 54321);
    assert_string_equal(span_attr_str(s, "client.address"), "::1");
    assert_int_equal(int_attr(s, "client.port"), 54321);
    assert_int_equal(mcp_json_len(mcp_json_get(s, "attributes")), 12);
    assert_null(span_attr(s, "mcp.resource.uri"));
    assert_null(span_attr(s, "gen_ai.prompt.name"));
    assert_null(span_attr(s, "error.type"));
}

static void test_packed_attributes_arrive_intact(void **state) {
    fixture *f = *state;
    /* The id as its JSON text, quotes and escapes included. */
    check_packed_attributes(f, "\"q\\\"\\u00e9\"", "\"q\\\"\\u00e9\"");
    /* The last span of that name is the one checked. */
    check_packed_attributes(f, "5", "5");
}

/* A handler that adds more attributes than a span may hold: the span
 * exports exactly MCP_SPAN_MAX_ATTRIBUTES, the request's own among them,
 * and counts the rest as dropped. */
static char many_keys[200][12];

static int many(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    for (int i = 0; i < 200; i++) mcp_span_set_int(mcp_span_current(), many_keys[i], i);
    return mcp_call_text(call, "ok");
}

static void test_attribute_limit_counts_request_attributes(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 200; i++) snprintf(many_keys[i], sizeof many_keys[i], "k%d", i);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "many", .fn = many}), 0);
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"many\","
           "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
           &(mcp_transport_info){.transport = "tcp"});
    const mcp_json *s = exported(f, "tools/call many");
    size_t n = mcp_json_len(mcp_json_get(s, "attributes"));
    assert_int_equal(n, MCP_SPAN_MAX_ATTRIBUTES);
    /* The request's own come first and are all there. */
    assert_string_equal(span_attr_str(s, "mcp.method.name"), "tools/call");
    assert_string_equal(span_attr_str(s, "gen_ai.tool.name"), "many");
    assert_string_equal(span_attr_str(s, "network.transport"), "tcp");
    /* The handler's were cut, not the request's: what it lost is counted. */
    size_t own = 0;
    for (const mcp_json *a = mcp_json_first(mcp_json_get(s, "attributes")); a; a = mcp_json_next(a)) {
        const char *key = mcp_json_str(mcp_json_get(a, "key"), "");
        if (!(key[0] == 'k' && key[1] >= '0' && key[1] <= '9')) own++;
    }
    assert_true(own >= 6);
    assert_int_equal(mcp_json_int(mcp_json_get(s, "droppedAttributesCount"), -1),
                     200 - (int64_t)(MCP_SPAN_MAX_ATTRIBUTES - own));
}

/* resources/read carries its URI; a prompt its name; values of every
 * length from 1 to 40 bytes (the copy takes a different path by length)
 * arrive byte for byte. */
static void test_values_of_every_length(void **state) {
    fixture *f = *state;
    char uri[64], msg[256], name[80];
    for (int n = 1; n <= 40; n++) {
        memset(uri, 'a' + n % 26, (size_t)n);
        uri[n] = '\0';
        uri[0] = 'u';
        uri[n - 1] = n < 10 ? (char)('0' + n) : 'z';
        snprintf(msg, sizeof msg,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"resources/read\",\"params\":{\"uri\":\"%s\"}}", n, uri);
        handle(f, msg, NULL);
        assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);
        const mcp_json *s = receiver_span_named(&f->r, &f->arena, "resources/read");
        assert_non_null(s);
        assert_string_equal(span_attr_str(s, "mcp.resource.uri"), uri);
        char id[8];
        snprintf(id, sizeof id, "%d", n);
        assert_string_equal(span_attr_str(s, "jsonrpc.request.id"), id);
    }
    memset(name, 'p', 33);
    name[33] = '\0';
    snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"%s\"}}", name);
    handle(f, msg, NULL);
    char span_name[128];
    snprintf(span_name, sizeof span_name, "prompts/get %s", name);
    const mcp_json *s = exported(f, span_name);
    assert_string_equal(span_attr_str(s, "gen_ai.prompt.name"), name);
    assert_null(span_attr(s, "gen_ai.tool.name"));
    assert_null(span_attr(s, "gen_ai.operation.name"));
}

/* A tool name longer than the span name's room: the name is cut, the
 * attribute is whole (the one-by-one form). */
static void test_long_target_is_kept_whole(void **state) {
    fixture *f = *state;
    size_t n = 700;
    char *tool = malloc(n + 1), *msg = malloc(n + 200);
    assert_non_null(tool);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++) tool[i] = (char)('a' + i % 26);
    tool[n] = '\0';
    sprintf(msg, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}", tool);
    handle(f, msg, NULL);
    assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);
    const mcp_json *found = NULL;
    pthread_mutex_lock(&f->r.lock);
    for (size_t b = 0; b < f->r.body_count && !found; b++) {
        mcp_json *doc;
        assert_int_equal(mcp_json_parse(&f->arena, f->r.bodies[b], strlen(f->r.bodies[b]), NULL, &doc, NULL), 0);
        const mcp_json *spans = mcp_json_get(
            mcp_json_at(mcp_json_get(mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0), "scopeSpans"), 0), "spans");
        for (size_t i = 0; i < mcp_json_len(spans); i++)
            if (strncmp(mcp_json_str(mcp_json_get(mcp_json_at(spans, i), "name"), ""), "tools/call abc", 14) == 0)
                found = mcp_json_at(spans, i);
    }
    pthread_mutex_unlock(&f->r.lock);
    assert_non_null(found);
    const char *name = mcp_json_str(mcp_json_get(found, "name"), "");
    assert_int_equal(strlen(name), MCP_SPAN_TEXT_ROOM / 4);
    assert_memory_equal(name + 11, tool, strlen(name) - 11);
    assert_string_equal(span_attr_str(found, "gen_ai.tool.name"), tool);
    assert_string_equal(span_attr_str(found, "mcp.method.name"), "tools/call");
    assert_string_equal(span_attr_str(found, "jsonrpc.request.id"), "5");
    free(tool);
    free(msg);
}

/* A malformed traceparent (bad digit, wrong length, upper case, all-zero
 * ids, padding-only) is ignored: the request gets a root span. */
static void test_malformed_traceparent_gives_root(void **state) {
    fixture *f = *state;
    static const char *const bad[] = {
        "00-" TRACE_ID "-" PARENT_ID "-0g",
        "00-" TRACE_ID "-" PARENT_ID "-1",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT_ID "-01",
        "00-00000000000000000000000000000000-" PARENT_ID "-01",
        "00-" TRACE_ID "-0000000000000000-01",
        "00_" TRACE_ID "-" PARENT_ID "-01",
        "ff-" TRACE_ID "-" PARENT_ID "-01",
        "                                                       ",
    };
    char msg[512], name[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* One method per case, to find each span by name. */
        snprintf(name, sizeof name, "tools/call t%zu", i);
        snprintf(msg, sizeof msg,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t%zu\","
                 "\"_meta\":{\"traceparent\":\"%s\"}}}",
                 i, bad[i]);
        handle(f, msg, NULL);
        const mcp_json *s = exported(f, name);
        assert_null(mcp_json_get(s, "parentSpanId"));
        assert_string_not_equal(mcp_json_str(mcp_json_get(s, "traceId"), ""), TRACE_ID);
        assert_int_equal(mcp_json_str_len(mcp_json_get(s, "traceId")), 32);
    }
    /* Padded with blanks, as a header value may be, it is still a parent. */
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"padded\","
           "\"_meta\":{\"traceparent\":\" 00-" TRACE_ID "-" PARENT_ID "-01\\t\"}}}",
           NULL);
    const mcp_json *s = exported(f, "tools/call padded");
    assert_string_equal(mcp_json_str(mcp_json_get(s, "parentSpanId"), ""), PARENT_ID);
}

/* Each method the metrics know is counted under its own label; anything
 * else (a near miss too) under "other". */
/* mcp_request_info is public: a caller's slice without a pointer is
 * absent, whatever its length, for the target as for every other field. */
static void test_target_without_pointer_is_absent(void **state) {
    fixture *f = *state;
    static const char method[] = "tools/call";
    void *h = f->observer.on_request_start(
        f->observer.user, &(mcp_request_info){.method = {method, sizeof method - 1}, .target = {NULL, 4},
                                              .request_id = {NULL, 3}, .session_id = {NULL, 9}});
    assert_non_null(h);
    f->observer.on_request_end(f->observer.user, h, &(mcp_request_outcome){0});
}

static void test_every_method_has_its_label(void **state) {
    fixture *f = *state;
    static const char *const methods[] = {
        "tools/call", "tools/list", "resources/read", "resources/list", "resources/templates/list",
        "prompts/get", "prompts/list", "initialize", "ping", "server/discover", "subscriptions/listen",
        "completion/complete", "logging/setLevel", "resources/subscribe", "resources/unsubscribe",
        "sampling/createMessage", "roots/list", "elicitation/create", "notifications/initialized",
        "notifications/cancelled", "notifications/progress", "notifications/message",
        "notifications/roots/list_changed"};
    static const char *const others[] = {"tools/cal", "tools/calm", "Tools/call", "pong", "x",
                                         "resources/reap", "notifications/roots/list_changes"};
    size_t n = sizeof methods / sizeof methods[0];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k <= i % 3; k++) /* 1, 2 or 3 times: a count that tells methods apart */
            mcp_obs_request_end(f->obs, mcp_obs_request_start(f->obs, &(mcp_obs_request){.method = methods[i]}),
                                &(mcp_obs_outcome){0});
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        mcp_obs_request_end(f->obs, mcp_obs_request_start(f->obs, &(mcp_obs_request){.method = others[i]}),
                            &(mcp_obs_outcome){0});
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(mcp_metrics_render(f->metrics, &text), 0);
    char line[160];
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "mcp_server_requests_total{method=\"%s\",outcome=\"ok\"} %zu\n", methods[i],
                 i % 3 + 1);
        assert_non_null(strstr(text.data, line));
    }
    snprintf(line, sizeof line, "mcp_server_requests_total{method=\"other\",outcome=\"ok\"} %zu\n",
             sizeof others / sizeof others[0]);
    assert_non_null(strstr(text.data, line));
    mcp_buf_free(&text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_packed_attributes_arrive_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_of_every_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_target_is_kept_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_traceparent_gives_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_without_pointer_is_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_method_has_its_label, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attribute_limit_counts_request_attributes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
