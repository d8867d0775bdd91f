/*
 * Trace context, sampling, spans and structured log records (no network).
 */
#include "mcp/obs.h"
#include "mcp/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

static const char *TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void test_traceparent_roundtrip(void **state) {
    (void)state;
    mcp_trace_context c;
    assert_int_equal(mcp_traceparent_parse(TP, strlen(TP), "rojo=00f067aa0ba902b7", &c), 0);
    assert_int_equal(c.trace_id[0], 0x4b);
    assert_int_equal(c.span_id[7], 0xb7);
    assert_int_equal(c.flags, 1);
    assert_string_equal(c.tracestate, "rojo=00f067aa0ba902b7");
    char out[MCP_TRACEPARENT_LEN + 1];
    mcp_traceparent_format(&c, out);
    assert_string_equal(out, TP);
    /* header whitespace is tolerated; a future version's extra field is ignored */
    assert_int_equal(mcp_traceparent_parse("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", 58, NULL, &c), 0);
    assert_int_equal(c.flags, 0);
    const char *future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
    assert_int_equal(mcp_traceparent_parse(future, strlen(future), NULL, &c), 0);
}

static void test_traceparent_rejects(void **state) {
    (void)state;
    const char *bad[] = {
        "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",          /* short */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",          /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          /* zero span id */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          /* version ff */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",        /* 00 with extra */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",          /* not hex */
    };
    mcp_trace_context c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_traceparent_parse(bad[i], strlen(bad[i]), NULL, &c), MCP_EPARSE);
    assert_int_equal(mcp_traceparent_parse(NULL, 0, NULL, &c), MCP_EINVAL);
    /* an over-long tracestate is dropped, the traceparent still holds */
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(mcp_traceparent_parse(TP, strlen(TP), big, &c), 0);
    assert_string_equal(c.tracestate, "");
}

static void test_sampler(void **state) {
    (void)state;
    mcp_sampler on = {MCP_SAMPLE_ALWAYS_ON, 0, false}, off = {MCP_SAMPLE_ALWAYS_OFF, 0, false};
    mcp_sampler half = {MCP_SAMPLE_RATIO, 0.25, false}, parent_off = {MCP_SAMPLE_ALWAYS_ON, 0, true};
    uint8_t id[16] = {0};
    assert_true(mcp_sampler_should_sample(&on, id, NULL));
    assert_false(mcp_sampler_should_sample(&off, id, NULL));
    /* ratio: deterministic per trace id, and close to the ratio over many ids */
    uint64_t x = 88172645463325252ull;
    int yes = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(id + 8, &x, 8);
        bool a = mcp_sampler_should_sample(&half, id, NULL);
        assert_int_equal(a, mcp_sampler_should_sample(&half, id, NULL));
        yes += a;
    }
    assert_in_range(yes, 4500, 5500);
    memset(id + 8, 0, 8);
    assert_true(mcp_sampler_should_sample(&half, id, NULL));
    memset(id + 8, 0xff, 8);
    assert_false(mcp_sampler_should_sample(&half, id, NULL));
    /* parent based: the parent's flag wins over the root sampler */
    mcp_trace_context p;
    assert_int_equal(mcp_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 55, NULL, &p), 0);
    assert_false(mcp_sampler_should_sample(&parent_off, p.trace_id, &p));
    p.flags = 1;
    parent_off.root = MCP_SAMPLE_ALWAYS_OFF;
    assert_true(mcp_sampler_should_sample(&parent_off, p.trace_id, &p));
    assert_false(mcp_sampler_should_sample(&parent_off, p.trace_id, NULL));
}

static void test_span_context_and_children(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &t), 0);
    mcp_span *root = mcp_span_start(t, "root", MCP_SPAN_SERVER, NULL);
    assert_non_null(root);
    assert_true(mcp_span_is_recording(root));
    mcp_trace_context rc, cc;
    assert_int_equal(mcp_span_context(root, &rc), 0);
    mcp_span *child = mcp_span_start(t, "child", MCP_SPAN_CLIENT, &rc);
    assert_int_equal(mcp_span_context(child, &cc), 0);
    assert_memory_equal(rc.trace_id, cc.trace_id, 16);
    assert_memory_not_equal(rc.span_id, cc.span_id, 8);
    char tp[MCP_TRACEPARENT_LEN + 1];
    assert_int_equal(mcp_span_traceparent(child, tp), 0);
    mcp_trace_context back;
    assert_int_equal(mcp_traceparent_parse(tp, strlen(tp), NULL, &back), 0);
    assert_memory_equal(back.span_id, cc.span_id, 8);
    assert_int_equal(back.flags, 1);
    /* more attributes than room: counted, not crashed */
    for (int i = 0; i < MCP_SPAN_MAX_ATTRIBUTES + 5; i++) mcp_span_set_int(child, "k", i);
    char big[MCP_SPAN_TEXT_ROOM + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mcp_span_set_str(root, "big", big);
    mcp_span_end(child);
    mcp_span_end(root);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_started, 2);
    assert_int_equal(st.attributes_dropped, 6);
    /* NULL spans are accepted everywhere */
    mcp_span_set_str(NULL, "a", "b");
    mcp_span_end(NULL);
    assert_int_equal(mcp_span_traceparent(NULL, tp), MCP_EINVAL);
    mcp_tracer_free(t);
}

static void test_unsampled_span_propagates(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.sampler = {MCP_SAMPLE_ALWAYS_OFF, 0, true},
                                                      .exporter = {.endpoint = ""}}, &t), 0);
    mcp_span *s = mcp_span_start(t, "x", MCP_SPAN_SERVER, NULL);
    assert_non_null(s);
    assert_false(mcp_span_is_recording(s));
    char tp[MCP_TRACEPARENT_LEN + 1];
    assert_int_equal(mcp_span_traceparent(s, tp), 0);
    assert_string_equal(tp + 53, "00");
    mcp_span_end(s);
    /* a sampled parent still wins under parent-based sampling */
    mcp_trace_context p;
    mcp_traceparent_parse(TP, strlen(TP), NULL, &p);
    s = mcp_span_start(t, "y", MCP_SPAN_SERVER, &p);
    assert_true(mcp_span_is_recording(s));
    mcp_span_end(s);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_unsampled, 1);
    assert_int_equal(st.spans_started, 1);
    mcp_tracer_free(t);
}

static void test_bad_options(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = "https://127.0.0.1:4318/v1/traces"}}, &t),
                     MCP_EINVAL);
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = "http://127.0.0.1:x/"}}, &t), MCP_EINVAL);
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.sampler = {MCP_SAMPLE_RATIO, 1.5, false}}, &t), MCP_EINVAL);
    /* Headers: an HTTP token for a name, no control characters but tab in a value. */
    static const mcp_header bad[] = {{"x-evil", "a\r\nInjected: 1"}, {"x-ctl", "a\001b"}, {"x-del", "a\177b"},
                                     {"bad name", "v"}, {"a:b", "v"}, {"", "v"}, {"x-null", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = "http://127.0.0.1:9/v1/traces",
                                                                         .headers = &bad[i], .header_count = 1}},
                                        &t),
                         MCP_EINVAL);
    mcp_header tab = {"x-tab", "a\tb"};
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = "http://127.0.0.1:9/v1/traces",
                                                                     .headers = &tab, .header_count = 1}}, &t),
                     0);
    mcp_tracer_free(t);
}

/* Spans started on one thread and ended on another go back to their pool. */
static void *end_on_other_thread(void *arg) {
    mcp_span **spans = arg;
    for (int i = 0; i < 100; i++) mcp_span_end(spans[i]);
    return NULL;
}

static void test_cross_thread_end(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}, .buffer_spans = 64}, &t), 0);
    mcp_span *spans[100];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 100; i++) {
            spans[i] = mcp_span_start(t, "s", MCP_SPAN_SERVER, NULL);
            assert_non_null(spans[i]);
        }
        pthread_t th;
        pthread_create(&th, NULL, end_on_other_thread, spans);
        pthread_join(th, NULL);
    }
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    assert_int_equal(st.spans_started, 2000);
    assert_int_equal(st.dropped_pool_exhausted, 0);
    mcp_tracer_free(t);
}

static void test_log_record(void **state) {
    (void)state;
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = ""}}, &t), 0);
    mcp_span *s = mcp_span_start(t, "x", MCP_SPAN_SERVER, NULL);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(mcp_obs_log_record(&b, MCP_LOG_WARNING, "cache", "disk \"full\"\n", s), 0);
    mcp_arena a;
    mcp_arena_init(&a, 0);
    mcp_json *doc;
    assert_int_equal(mcp_json_parse(&a, b.data, b.len, NULL, &doc, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "level"), ""), "warning");
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "logger"), ""), "cache");
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "msg"), ""), "disk \"full\"\n");
    char tp[MCP_TRACEPARENT_LEN + 1];
    mcp_span_traceparent(s, tp);
    assert_memory_equal(mcp_json_str(mcp_json_get(doc, "trace_id"), ""), tp + 3, 32);
    assert_memory_equal(mcp_json_str(mcp_json_get(doc, "span_id"), ""), tp + 36, 16);
    const char *ts = mcp_json_str(mcp_json_get(doc, "ts"), "");
    assert_int_equal(strlen(ts), 24); /* 2026-11-28T08:00:00.123Z */
    /* no span: no ids */
    mcp_buf_reset(&b);
    assert_int_equal(mcp_obs_log_record(&b, MCP_LOG_INFO, NULL, "m", NULL), 0);
    assert_null(strstr(b.data, "trace_id"));
    mcp_arena_free(&a);
    mcp_buf_free(&b);
    mcp_span_end(s);
    mcp_tracer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent_roundtrip), cmocka_unit_test(test_traceparent_rejects),
        cmocka_unit_test(test_sampler),               cmocka_unit_test(test_span_context_and_children),
        cmocka_unit_test(test_unsampled_span_propagates), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_cross_thread_end),      cmocka_unit_test(test_log_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
