/*
 * The OTLP/HTTP exporter against a loopback receiver: what arrives (span
 * names, kinds, parent links, semantic-convention attributes, the OTLP JSON
 * mapping), retries on 503 then success, a refusal that is not retried, and
 * a collector that is down: spans dropped and counted while the request
 * path keeps its speed. Resource attributes of the options, in both
 * encodings.
 */
#include "mcp/obs.h"
#include "mcp/json.h"
#include "obs/otlp_receiver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static const char *TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static mcp_tracer *tracer_to(int port, unsigned retries, unsigned buffer) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", port);
    mcp_tracer *t = NULL;
    int rc = mcp_tracer_new(&(mcp_tracer_opts){.service_name = "obs-test",
                                               .service_instance_id = "node-1",
                                               .buffer_spans = buffer,
                                               .exporter = {.endpoint = url, .timeout_ms = 2000,
                                                            .max_retries = retries, .initial_backoff_ms = 10,
                                                            .max_backoff_ms = 50, .flush_interval_ms = 50}},
                            &t);
    assert_int_equal(rc, 0);
    return t;
}

static const mcp_json *find_span(const mcp_json *spans, const char *name) {
    for (size_t i = 0; i < mcp_json_len(spans); i++) {
        const mcp_json *s = mcp_json_at(spans, i);
        if (strcmp(mcp_json_str(mcp_json_get(s, "name"), ""), name) == 0) return s;
    }
    return NULL;
}

static const mcp_json *attr(const mcp_json *attrs, const char *key) {
    for (size_t i = 0; i < mcp_json_len(attrs); i++) {
        const mcp_json *a = mcp_json_at(attrs, i);
        if (strcmp(mcp_json_str(mcp_json_get(a, "key"), ""), key) == 0) return mcp_json_get(a, "value");
    }
    return NULL;
}

static const char *attr_str(const mcp_json *span, const char *key) {
    return mcp_json_str(mcp_json_get(attr(mcp_json_get(span, "attributes"), key), "stringValue"), NULL);
}

static void test_spans_arrive_with_links_and_attributes(void **state) {
    (void)state;
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    mcp_tracer *t = tracer_to(r.port, 3, 0);
    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    mcp_obs *o;
    assert_int_equal(mcp_obs_new(t, m, &o), 0);

    /* A tools/call whose client put its context in params._meta. */
    void *h = mcp_obs_request_start(o, &(mcp_obs_request){.method = "tools/call", .target = "weather",
                                                          .request_id = "7", .session_id = "abc",
                                                          .protocol_version = "2025-11-25", .transport = "tcp",
                                                          .traceparent = TP, .tracestate = "rojo=1"});
    assert_non_null(h);
    assert_ptr_equal(mcp_span_current(), mcp_obs_request_span(h));
    /* Inside it, we call another server: a client span whose traceparent we propagate. */
    void *c = mcp_obs_request_start(o, &(mcp_obs_request){.method = "tools/call", .target = "geo", .request_id = "1",
                                                          .transport = "pipe", .client = true,
                                                          .traceparent = NULL,
                                                          .http_traceparent = NULL});
    char out_tp[MCP_TRACEPARENT_LEN + 1];
    assert_int_equal(mcp_obs_request_traceparent(o, c, out_tp), 0);
    mcp_obs_request_end(o, c, &(mcp_obs_outcome){0});
    mcp_obs_request_end(o, h, &(mcp_obs_outcome){.tool_error = true});
    assert_null(mcp_span_current());
    /* A bad request that came with only an HTTP traceparent header. */
    h = mcp_obs_request_start(o, &(mcp_obs_request){.method = "prompts/get", .target = "review", .request_id = "\"x\"",
                                                    .http_traceparent = TP, .network_protocol = "http"});
    mcp_obs_request_end(o, h, &(mcp_obs_outcome){.rpc_code = -32602, .message = "missing argument"});
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);

    assert_true(r.body_count >= 1);
    mcp_arena a;
    mcp_arena_init(&a, 0);
    /* Gather the spans of every batch that arrived. */
    const mcp_json *server = NULL, *client = NULL, *prompt = NULL, *resource = NULL;
    for (size_t b = 0; b < r.body_count; b++) {
        mcp_json *doc;
        assert_int_equal(mcp_json_parse(&a, r.bodies[b], strlen(r.bodies[b]), NULL, &doc, NULL), 0);
        const mcp_json *rs = mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0);
        resource = mcp_json_get(rs, "resource");
        const mcp_json *ss = mcp_json_at(mcp_json_get(rs, "scopeSpans"), 0);
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(ss, "scope"), "name"), ""), "libmcp");
        const mcp_json *spans = mcp_json_get(ss, "spans");
        if (find_span(spans, "tools/call weather")) server = find_span(spans, "tools/call weather");
        if (find_span(spans, "tools/call geo")) client = find_span(spans, "tools/call geo");
        if (find_span(spans, "prompts/get review")) prompt = find_span(spans, "prompts/get review");
    }
    assert_string_equal(mcp_json_str(mcp_json_get(attr(mcp_json_get(resource, "attributes"), "service.name"), "stringValue"), ""),
                        "obs-test");
    assert_string_equal(mcp_json_str(mcp_json_get(attr(mcp_json_get(resource, "attributes"), "service.instance.id"), "stringValue"), ""),
                        "node-1");
    assert_non_null(server);
    assert_non_null(client);
    assert_non_null(prompt);
    /* OTLP JSON: hex ids, integer enums, nanosecond strings */
    assert_string_equal(mcp_json_str(mcp_json_get(server, "traceId"), ""), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(mcp_json_str(mcp_json_get(server, "parentSpanId"), ""), "00f067aa0ba902b7");
    assert_string_equal(mcp_json_str(mcp_json_get(server, "traceState"), ""), "rojo=1");
    assert_int_equal(mcp_json_int(mcp_json_get(server, "kind"), 0), 2);
    const char *start = mcp_json_str(mcp_json_get(server, "startTimeUnixNano"), NULL);
    const char *end = mcp_json_str(mcp_json_get(server, "endTimeUnixNano"), NULL);
    assert_non_null(start);
    assert_non_null(end);
    assert_int_equal(strlen(start), 19);
    assert_true(strcmp(start, end) <= 0);
    assert_string_equal(attr_str(server, "mcp.method.name"), "tools/call");
    assert_string_equal(attr_str(server, "gen_ai.tool.name"), "weather");
    assert_string_equal(attr_str(server, "gen_ai.operation.name"), "execute_tool");
    assert_string_equal(attr_str(server, "jsonrpc.request.id"), "7");
    assert_string_equal(attr_str(server, "mcp.session.id"), "abc");
    assert_string_equal(attr_str(server, "mcp.protocol.version"), "2025-11-25");
    assert_string_equal(attr_str(server, "network.transport"), "tcp");
    assert_string_equal(attr_str(server, "error.type"), "tool_error");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(server, "status"), "code"), 0), 2);
    /* the client span is the server span's child, and what we propagated names it */
    assert_int_equal(mcp_json_int(mcp_json_get(client, "kind"), 0), 3);
    assert_string_equal(mcp_json_str(mcp_json_get(client, "traceId"), ""), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(mcp_json_str(mcp_json_get(client, "parentSpanId"), ""), mcp_json_str(mcp_json_get(server, "spanId"), "?"));
    assert_memory_equal(out_tp + 36, mcp_json_str(mcp_json_get(client, "spanId"), ""), 16);
    assert_string_equal(attr_str(client, "network.transport"), "pipe");
    assert_null(attr(mcp_json_get(client, "attributes"), "error.type"));
    /* HTTP header context; a JSON-RPC error */
    assert_string_equal(mcp_json_str(mcp_json_get(prompt, "parentSpanId"), ""), "00f067aa0ba902b7");
    assert_string_equal(attr_str(prompt, "gen_ai.prompt.name"), "review");
    assert_string_equal(attr_str(prompt, "error.type"), "-32602");
    assert_string_equal(attr_str(prompt, "rpc.response.status_code"), "-32602");
    assert_string_equal(attr_str(prompt, "network.protocol.name"), "http");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(prompt, "status"), "message"), ""), "missing argument");
    assert_string_equal(r.last_path, "/v1/traces");

    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_exported, 3);
    assert_int_equal(st.export_retries, 0);
    mcp_arena_free(&a);
    mcp_obs_free(o);
    mcp_metrics_free(m);
    mcp_tracer_free(t);
    receiver_stop(&r);
}

static void end_spans(mcp_tracer *t, int n) {
    for (int i = 0; i < n; i++) {
        mcp_span *s = mcp_span_start(t, "op", MCP_SPAN_INTERNAL, NULL);
        mcp_span_set_int(s, "i", i);
        mcp_span_end(s);
    }
}

static void test_retry_on_503_then_success(void **state) {
    (void)state;
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    r.script[0] = 503;
    r.script[1] = 429;
    r.script_len = 2;
    r.retry_after = "0";
    mcp_tracer *t = tracer_to(r.port, 3, 0);
    /* Let the exporter thread reach its wait first: one that starts while
     * the spans are ending may ship them in two batches. */
    usleep(20000);
    end_spans(t, 10);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    assert_int_equal(receiver_requests(&r), 3);
    assert_int_equal(r.body_count, 1);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_exported, 10);
    assert_int_equal(st.export_retries, 2);
    assert_int_equal(st.dropped_export_failed, 0);
    mcp_tracer_free(t);
    receiver_stop(&r);
}

/* Every retryable gateway answer is retried, and only max_retries times:
 * then the batch is given up, counted, and the spans after it still go. */
static void test_gateway_answers_retried_within_bound(void **state) {
    (void)state;
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    static const int answers[] = {502, 504, 503, 502};
    memcpy(r.script, answers, sizeof answers);
    r.script_len = 4;
    mcp_tracer *t = tracer_to(r.port, 3, 0);
    usleep(20000);
    end_spans(t, 7);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    /* the first attempt and three retries, all refused */
    assert_int_equal(receiver_requests(&r), 4);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.export_requests, 4);
    assert_int_equal(st.export_retries, 3);
    assert_int_equal(st.export_failures, 1);
    assert_int_equal(st.dropped_export_failed, 7);
    assert_int_equal(st.spans_exported, 0);
    /* the collector answers again: the next batch arrives on the first try */
    end_spans(t, 2);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    assert_int_equal(receiver_requests(&r), 5);
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_exported, 2);
    assert_int_equal(st.export_failures, 1);
    mcp_tracer_free(t);
    receiver_stop(&r);
}

static void test_refusal_is_not_retried(void **state) {
    (void)state;
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    r.script[0] = 400;
    r.script_len = 1;
    mcp_tracer *t = tracer_to(r.port, 3, 0);
    end_spans(t, 5);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    assert_int_equal(receiver_requests(&r), 1);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.dropped_export_failed, 5);
    assert_int_equal(st.export_failures, 1);
    assert_int_equal(st.spans_exported, 0);
    mcp_tracer_free(t);
    receiver_stop(&r);
}

static void test_collector_down(void **state) {
    (void)state;
    /* Nothing listens: every export fails after its retries, the small
     * per-thread buffer overflows, and every span is accounted for. */
    mcp_tracer *t = tracer_to(receiver_dead_port(), 2, 64);
    enum { N = 20000 };
    mcp_histogram *lat = mcp_histogram_new();
    for (int i = 0; i < N; i++) {
        uint64_t a = mcp_now_ns();
        mcp_span *s = mcp_span_start(t, "tools/call x", MCP_SPAN_SERVER, NULL);
        mcp_span_set_str(s, "mcp.method.name", "tools/call");
        mcp_span_end(s);
        mcp_histogram_record(lat, mcp_now_ns() - a);
    }
    mcp_tracer_flush(t, 10000);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_started, N);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(st.dropped_buffer_full + st.dropped_export_failed + st.dropped_pool_exhausted, N);
    assert_true(st.dropped_buffer_full > 0);
    assert_true(st.export_requests >= 3);
    /* The request path never waited for the exporter: with the collector
     * down a span still costs microseconds (the bound is loose for
     * sanitizer builds and a shared machine). */
    uint64_t p99 = mcp_histogram_quantile(lat, 0.99);
    print_message("collector down: span start+end p50 %llu ns, p99 %llu ns, max %llu ns\n",
                  (unsigned long long)mcp_histogram_quantile(lat, 0.5), (unsigned long long)p99,
                  (unsigned long long)mcp_histogram_max(lat));
    assert_true(p99 < 200000);
    mcp_histogram_free(lat);
    mcp_tracer_free(t);
}

/* Resource attributes of the options (OTEL_RESOURCE_ATTRIBUTES) reach the
 * collector in either encoding, between the service's and the SDK's; a
 * service.name among them loses to the field. (Byte for byte agreement of
 * the two encodings is test_obs_proto's.) */
static void test_resource_attributes_arrive(void **state) {
    (void)state;
    static const mcp_resource_attribute attrs[] = {
        {"deployment.environment.name", "staging"},
        {"service.name", "loses"},
        {"note", "a,b=c \"d\""},
    };
    for (int proto = 0; proto < 2; proto++) {
        receiver r;
        assert_int_equal(receiver_start(&r), 0);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", r.port);
        mcp_tracer *t;
        assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.service_name = "res-test",
                                                           .resource_attributes = attrs,
                                                           .resource_attribute_count = 3,
                                                           .exporter = {.endpoint = url, .flush_interval_ms = 50,
                                                                        .encoding = proto ? MCP_OTLP_PROTOBUF
                                                                                          : MCP_OTLP_JSON}},
                                        &t),
                         0);
        mcp_span_end(mcp_span_start(t, "tools/call echo", MCP_SPAN_SERVER, NULL));
        assert_int_equal(mcp_tracer_flush(t, 10000), 0);
        pthread_mutex_lock(&r.lock);
        assert_int_equal(r.body_count, 1);
        const char *body = r.bodies[0];
        size_t len = r.body_lens[0];
        if (proto) {
            assert_string_equal(r.content_types[0], "application/x-protobuf");
            const char *env = memmem(body, len, "deployment.environment.name", 27);
            const char *sdk = memmem(body, len, "telemetry.sdk.name", 18);
            const char *svc = memmem(body, len, "res-test", 8);
            assert_true(svc && env && sdk && svc < env && env < sdk);
            assert_non_null(memmem(body, len, "staging", 7));
            assert_non_null(memmem(body, len, attrs[2].value, strlen(attrs[2].value)));
            assert_null(memmem(body, len, "loses", 5));
        } else {
            assert_string_equal(r.content_types[0], "application/json");
            mcp_arena a;
            mcp_arena_init(&a, 0);
            mcp_json *doc;
            assert_int_equal(mcp_json_parse(&a, body, len, NULL, &doc, NULL), 0);
            const mcp_json *list = mcp_json_get(
                mcp_json_get(mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0), "resource"), "attributes");
            static const char *const keys[] = {"service.name", "service.version", "deployment.environment.name",
                                               "note", "telemetry.sdk.name", "telemetry.sdk.language",
                                               "telemetry.sdk.version"};
            assert_int_equal(mcp_json_len(list), 7);
            for (size_t i = 0; i < 7; i++)
                assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(list, i), "key"), ""), keys[i]);
            const mcp_json *v0 = mcp_json_get(mcp_json_at(list, 0), "value");
            const mcp_json *v3 = mcp_json_get(mcp_json_at(list, 3), "value");
            assert_string_equal(mcp_json_str(mcp_json_get(v0, "stringValue"), ""), "res-test");
            assert_string_equal(mcp_json_str(mcp_json_get(v3, "stringValue"), ""), "a,b=c \"d\"");
            mcp_arena_free(&a);
        }
        pthread_mutex_unlock(&r.lock);
        mcp_tracer_free(t);
        receiver_stop(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_arrive_with_links_and_attributes),
        cmocka_unit_test(test_retry_on_503_then_success),
        cmocka_unit_test(test_gateway_answers_retried_within_bound),
        cmocka_unit_test(test_refusal_is_not_retried),
        cmocka_unit_test(test_collector_down),
        cmocka_unit_test(test_resource_attributes_arrive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
