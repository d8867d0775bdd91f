/*
 * The server core reporting to mcp_obs_observer: every request through
 * mcp_session_handle gets a span (the handler runs under it), parented on
 * params._meta.traceparent or on the transport's header, with the MCP
 * attributes; requests that fail before a handler runs get an error span;
 * the request counters move and /metrics text comes out of the observer.
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
#define HEADER_TRACE "0af7651916cd43dd8448eb211c80319c"
#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{},\"traceparent\":\"00-" TRACE_ID "-" PARENT_ID "-01\"}"

typedef struct fixture {
    receiver r;
    mcp_tracer *tracer;
    mcp_metrics *metrics;
    mcp_obs *obs;
    mcp_observer observer;
    mcp_server *server;
    mcp_session *session;
    size_t replies;
    mcp_buf sent;                /* every message, one per line */
    char handler_trace[33];      /* the trace id current inside the handler */
} fixture;

static int count_reply(void *user, const char *message, size_t len) {
    fixture *f = user;
    f->replies++;
    mcp_buf_append(&f->sent, message, len);
    mcp_buf_append_char(&f->sent, '\n');
    return 0;
}

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    fixture *f = user;
    mcp_trace_context ctx;
    f->handler_trace[0] = '\0';
    if (mcp_span_context(mcp_span_current(), &ctx) == 0) mcp_hex_encode(ctx.trace_id, 16, f->handler_trace);
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

static int chatty(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    mcp_call_log(call, MCP_LOG_INFO, "weather", "looking up %s", "Paris");
    return mcp_call_text(call, "sunny");
}

static int failing(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    return mcp_call_tool_error(call, "no such city");
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    otlp_tracer_start(&f->r, "obs-server-test", &f->tracer);
    assert_int_equal(mcp_metrics_new(&f->metrics), 0);
    assert_int_equal(mcp_obs_new(f->tracer, f->metrics, &f->obs), 0);
    mcp_obs_observer(f->obs, &f->observer);
    f->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .observer = &f->observer});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = echo, .user = f}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "weather", .fn = failing}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "chatty", .fn = chatty}), 0);
    f->session = mcp_session_new(f->server, &(mcp_sink){.write = count_reply, .user = f});
    assert_non_null(f->session);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_session_free(f->session);
    mcp_server_free(f->server);
    mcp_obs_free(f->obs);
    mcp_metrics_free(f->metrics);
    mcp_tracer_free(f->tracer);
    receiver_stop(&f->r);
    mcp_buf_free(&f->sent);
    free(f);
    return 0;
}

static void handle_n(fixture *f, const char *text, const mcp_transport_info *info, size_t messages) {
    size_t before = f->replies;
    assert_int_equal(mcp_session_handle_from(f->session, text, strlen(text), info), 0);
    assert_int_equal(f->replies, before + messages);
}

static void handle(fixture *f, const char *text, const mcp_transport_info *info) {
    handle_n(f, text, info, 1);
}

static void test_requests_become_spans(void **state) {
    fixture *f = *state;
    /* Parented on _meta; the handler runs under the span. */
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
           "\"arguments\":{\"text\":\"hi\"}," META "}}",
           &(mcp_transport_info){.transport = "tcp", .network_protocol = "http", .session_id = MCP_STR_LIT("s-1")});
    assert_string_equal(f->handler_trace, TRACE_ID);
    assert_null(mcp_span_current());
    /* No _meta context: the transport's traceparent header is the parent. */
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":\"w\",\"method\":\"tools/call\",\"params\":{\"name\":\"weather\","
           "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
           &(mcp_transport_info){.traceparent = MCP_STR_LIT("00-" HEADER_TRACE "-b7ad6b7169203331-01")});
    /* Fails before any handler: an unknown method, no transport info. */
    handle(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"nope/x\",\"params\":{" META "}}", NULL);
    assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);

    mcp_arena a;
    mcp_arena_init(&a, 0);
    const mcp_json *ok = receiver_span_named(&f->r, &a, "tools/call echo");
    assert_non_null(ok);
    assert_string_equal(mcp_json_str(mcp_json_get(ok, "traceId"), ""), TRACE_ID);
    assert_string_equal(mcp_json_str(mcp_json_get(ok, "parentSpanId"), ""), PARENT_ID);
    assert_int_equal(mcp_json_int(mcp_json_get(ok, "kind"), 0), 2);
    assert_string_equal(span_attr_str(ok, "mcp.method.name"), "tools/call");
    assert_string_equal(span_attr_str(ok, "gen_ai.tool.name"), "echo");
    assert_string_equal(span_attr_str(ok, "gen_ai.operation.name"), "execute_tool");
    assert_string_equal(span_attr_str(ok, "jsonrpc.request.id"), "7");
    assert_string_equal(span_attr_str(ok, "mcp.session.id"), "s-1");
    assert_string_equal(span_attr_str(ok, "mcp.protocol.version"), "2026-07-28");
    assert_string_equal(span_attr_str(ok, "network.transport"), "tcp");
    assert_string_equal(span_attr_str(ok, "network.protocol.name"), "http");
    assert_null(span_attr(ok, "error.type"));

    const mcp_json *tool_err = receiver_span_named(&f->r, &a, "tools/call weather");
    assert_non_null(tool_err);
    assert_string_equal(mcp_json_str(mcp_json_get(tool_err, "traceId"), ""), HEADER_TRACE);
    assert_string_equal(span_attr_str(tool_err, "error.type"), "tool_error");
    assert_string_equal(span_attr_str(tool_err, "jsonrpc.request.id"), "\"w\"");

    const mcp_json *unknown = receiver_span_named(&f->r, &a, "nope/x");
    assert_non_null(unknown);
    assert_string_equal(span_attr_str(unknown, "error.type"), "-32601");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(unknown, "status"), "code"), 0), 2);
    assert_non_null(strstr(mcp_json_str(mcp_json_get(mcp_json_get(unknown, "status"), "message"), ""),
                           "Method not found"));
    mcp_arena_free(&a);

    /* Counted by method and outcome, and served as Prometheus text. */
    mcp_buf text;
    mcp_buf_init(&text);
    assert_non_null(f->observer.metrics);
    assert_int_equal(f->observer.metrics(f->observer.user, NULL, &text), 0);
    assert_non_null(strstr(text.data, "mcp_server_requests_total{method=\"tools/call\",outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(text.data, "mcp_server_requests_total{method=\"tools/call\",outcome=\"tool_error\"} 1\n"));
    assert_non_null(strstr(text.data, "mcp_server_requests_total{method=\"other\",outcome=\"error\"} 1\n"));
    assert_non_null(strstr(text.data, "mcp_server_request_duration_seconds_count{method=\"tools/call\"} 2\n"));
    mcp_buf_free(&text);
}

/* _meta carries tracestate beside traceparent, in any order; of duplicate
 * members the last counts; a tracestate without a traceparent is ignored. */
static void test_meta_tracestate_and_duplicates(void **state) {
    fixture *f = *state;
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
           "\"arguments\":{\"text\":\"a\"},\"_meta\":{\"tracestate\":\"first=1\","
           "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
           "\"traceparent\":\"00-" HEADER_TRACE "-b7ad6b7169203331-01\","
           "\"io.modelcontextprotocol/clientCapabilities\":{},"
           "\"traceparent\":\"00-" TRACE_ID "-" PARENT_ID "-01\",\"tracestate\":\"vendor=abc\"}}}",
           NULL);
    assert_string_equal(f->handler_trace, TRACE_ID);
    handle(f,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/list\",\"params\":{\"_meta\":{"
           "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
           "\"io.modelcontextprotocol/clientCapabilities\":{},\"tracestate\":\"orphan=1\"}}}",
           NULL);
    assert_int_equal(mcp_tracer_flush(f->tracer, 5000), 0);
    mcp_arena a;
    mcp_arena_init(&a, 0);
    const mcp_json *s = receiver_span_named(&f->r, &a, "tools/call echo");
    assert_non_null(s);
    assert_string_equal(mcp_json_str(mcp_json_get(s, "traceId"), ""), TRACE_ID);
    assert_string_equal(mcp_json_str(mcp_json_get(s, "parentSpanId"), ""), PARENT_ID);
    assert_string_equal(mcp_json_str(mcp_json_get(s, "traceState"), ""), "vendor=abc");
    const mcp_json *root = receiver_span_named(&f->r, &a, "prompts/list");
    assert_non_null(root);
    assert_null(mcp_json_get(root, "parentSpanId"));
    assert_null(mcp_json_get(root, "traceState"));
    mcp_arena_free(&a);
}

/* Log messages to the client carry the structured record, with the
 * request's trace id, as their data. */
static void test_log_messages_carry_the_record(void **state) {
    fixture *f = *state;
    mcp_buf_reset(&f->sent);
    handle_n(f,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\","
             "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
             "\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/logLevel\":\"info\","
             "\"traceparent\":\"00-" TRACE_ID "-" PARENT_ID "-01\"}}}",
             NULL, 2);
    mcp_arena a;
    mcp_arena_init(&a, 0);
    mcp_json *note;
    char *nl = strchr(f->sent.data, '\n');
    assert_non_null(nl);
    assert_int_equal(mcp_json_parse(&a, f->sent.data, (size_t)(nl - f->sent.data), NULL, &note, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(note, "method"), ""), "notifications/message");
    const mcp_json *data = mcp_json_get(mcp_json_get(note, "params"), "data");
    assert_true(mcp_json_is_object(data));
    assert_string_equal(mcp_json_str(mcp_json_get(data, "msg"), ""), "looking up Paris");
    assert_string_equal(mcp_json_str(mcp_json_get(data, "level"), ""), "info");
    assert_string_equal(mcp_json_str(mcp_json_get(data, "logger"), ""), "weather");
    assert_string_equal(mcp_json_str(mcp_json_get(data, "trace_id"), ""), TRACE_ID);
    assert_int_equal(mcp_json_str_len(mcp_json_get(data, "span_id")), 16);
    assert_non_null(mcp_json_get(data, "ts"));
    mcp_arena_free(&a);
}

/* A server without an observer is untouched by all this. */
static void test_no_observer(void **state) {
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    fixture f = {0};
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "echo", .fn = echo, .user = &f}), 0);
    f.session = mcp_session_new(s, &(mcp_sink){.write = count_reply, .user = &f});
    handle(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," META "}}", NULL);
    assert_string_equal(f.handler_trace, "");
    mcp_session_free(f.session);
    mcp_server_free(s);
    mcp_buf_free(&f.sent);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requests_become_spans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_tracestate_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_messages_carry_the_record, setup, teardown),
        cmocka_unit_test(test_no_observer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
