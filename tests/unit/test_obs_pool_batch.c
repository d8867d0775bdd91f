/*
 * Client spans for the requests of connection pools and request batchers,
 * against an mcpd TCP runtime on 127.0.0.1 that traces its own side with
 * the same tracer: every pooled (blocking and async) and batched call
 * gives one CLIENT span with the MCP attributes, its traceparent reaches
 * the server in params._meta (the server span is its child), a call made
 * under a span or with a traceparent of its own is parented on it, and a
 * call that times out ends its span with error.type. The spans are read
 * back from a loopback OTLP receiver.
 */
#include "mcp/batch.h"
#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/net.h"
#include "mcp/obs.h"
#include "mcp/pool.h"
#include "net/net_internal.h"
#include "obs/otlp_receiver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_otlp.h"

#define CALLER_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define CALLER_SPAN "00f067aa0ba902b7"
#define ECHO_CALL "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}"
#define MARK_CALL "{\"name\":\"mark\",\"arguments\":{}}"
#define MARK_WITH_PARENT \
    "{\"name\":\"mark\",\"arguments\":{},\"_meta\":{\"traceparent\":\"00-" CALLER_TRACE "-" CALLER_SPAN "-01\"}}"
#define SLOW_CALL "{\"name\":\"slow\",\"arguments\":{}}"

static int tool_text(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    return mcp_call_text(call, "ok");
}

/* Outlasts the callers' 100 ms timeouts. */
static int tool_slow(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    usleep(400 * 1000);
    return mcp_call_text(call, "late");
}

typedef struct fixture {
    receiver r;
    mcp_tracer *tracer;
    mcp_obs *obs;
    mcp_observer observer;
    mcp_server *server;
    mcp_net *net;
    char addr[32];
    mcp_arena arena;             /* parsed exports */
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    otlp_tracer_start(&f->r, "obs-pool-batch-test", &f->tracer);
    assert_int_equal(mcp_obs_new(f->tracer, NULL, &f->obs), 0);
    mcp_obs_observer(f->obs, &f->observer);
    /* ttl_ms: list results may be served from the client's cache. */
    f->server = mcp_server_new(
        &(mcp_server_opts){.name = "obs-pool-batch", .version = "1", .ttl_ms = 60000, .observer = &f->observer});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_text}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "mark", .fn = tool_text}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "slow", .fn = tool_slow}), 0);
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 2}, NULL), 0);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", mcp_net_port(f->net));
    mcp_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mcp_net_stop(f->net);
    mcp_net_wait(f->net);
    mcp_net_free(f->net);
    mcp_server_free(f->server);
    mcp_obs_free(f->obs);
    mcp_tracer_free(f->tracer);
    receiver_stop(&f->r);
    mcp_arena_free(&f->arena);
    free(f);
    return 0;
}

/* ---- Reading the export ---------------------------------------------------------- */

enum { MAX_SPANS = 256 };
typedef struct spans {
    const mcp_json *at[MAX_SPANS];
    size_t count;
} spans;

static const char *field(const mcp_json *span, const char *key) {
    return mcp_json_str(mcp_json_get(span, key), "");
}

static int kind(const mcp_json *span) {
    return (int)mcp_json_int(mcp_json_get(span, "kind"), 0);
}

static void read_spans(fixture *f, spans *out) {
    out->count = 0;
    pthread_mutex_lock(&f->r.lock);
    for (size_t b = 0; b < f->r.body_count; b++) {
        mcp_json *doc;
        assert_int_equal(mcp_json_parse(&f->arena, f->r.bodies[b], strlen(f->r.bodies[b]), NULL, &doc, NULL), 0);
        const mcp_json *rs = mcp_json_get(doc, "resourceSpans");
        for (size_t i = 0; i < mcp_json_len(rs); i++) {
            const mcp_json *ss = mcp_json_get(mcp_json_at(rs, i), "scopeSpans");
            for (size_t j = 0; j < mcp_json_len(ss); j++) {
                const mcp_json *list = mcp_json_get(mcp_json_at(ss, j), "spans");
                for (size_t k = 0; k < mcp_json_len(list) && out->count < MAX_SPANS; k++)
                    out->at[out->count++] = mcp_json_at(list, k);
            }
        }
    }
    pthread_mutex_unlock(&f->r.lock);
}

static size_t count_named(const spans *s, const char *name, int k) {
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(field(s->at[i], "name"), name) == 0 && kind(s->at[i]) == k) n++;
    return n;
}

/* Flush until `want` spans of that name and kind arrived (the server ends
 * its spans on its own threads, just after the reply left). */
static void wait_spans(fixture *f, spans *s, const char *name, int k, size_t want) {
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mcp_tracer_flush(f->tracer, 2000), 0);
        read_spans(f, s);
        if (count_named(s, name, k) >= want) return;
        usleep(20 * 1000);
    }
    fail_msg("%zu %s spans of kind %d expected, %zu arrived", want, name, k, count_named(s, name, k));
}

/* Every client span of name: tagged as a tools/call over TCP, and the
 * parent of exactly one server span of the same trace. */
static void check_client_spans(const spans *s, const char *name, const char *tool, size_t want) {
    size_t clients = 0;
    for (size_t i = 0; i < s->count; i++) {
        const mcp_json *c = s->at[i];
        if (strcmp(field(c, "name"), name) != 0 || kind(c) != MCP_SPAN_CLIENT) continue;
        clients++;
        assert_string_equal(span_attr_str(c, "mcp.method.name"), "tools/call");
        assert_string_equal(span_attr_str(c, "gen_ai.tool.name"), tool);
        assert_string_equal(span_attr_str(c, "network.transport"), "tcp");
        assert_null(span_attr_str(c, "error.type"));
        size_t children = 0;
        for (size_t j = 0; j < s->count; j++) {
            const mcp_json *sv = s->at[j];
            if (kind(sv) != MCP_SPAN_SERVER || strcmp(field(sv, "parentSpanId"), field(c, "spanId")) != 0) continue;
            children++;
            assert_string_equal(field(sv, "traceId"), field(c, "traceId"));
            assert_string_equal(field(sv, "name"), name);
        }
        assert_int_equal(children, 1);
    }
    assert_int_equal(clients, want);
}

static void no_own_traffic(const spans *s) {
    assert_int_equal(count_named(s, "initialize", MCP_SPAN_CLIENT), 0);
    assert_int_equal(count_named(s, "ping", MCP_SPAN_CLIENT), 0);
    assert_int_equal(count_named(s, "server/discover", MCP_SPAN_CLIENT), 0);
}

/* ---- Completions --------------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int failed;
    int last_status;
} waiter;

static void waiter_init(waiter *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    waiter *w = user;
    pthread_mutex_lock(&w->lock);
    w->done++;
    if (status < 0) w->failed++;
    w->last_status = status;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void waiter_wait(waiter *w, int n) {
    pthread_mutex_lock(&w->lock);
    uint64_t deadline = mcp_now_ns() + 5000000000ull;
    while (w->done < n && mcp_now_ns() < deadline) {
        pthread_mutex_unlock(&w->lock);
        usleep(2000);
        pthread_mutex_lock(&w->lock);
    }
    int done = w->done;
    pthread_mutex_unlock(&w->lock);
    assert_int_equal(done, n);
}

/* ---- Pool ------------------------------------------------------------------------------ */

static mcp_pool *pool_for(fixture *f, const mcp_observer *observer) {
    mcp_pool *p = NULL;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f->addr,
                                                    .kind = MCP_POOL_STATIC, .size = 2, .health_interval_ms = 50,
                                                    .observer = observer},
                                  &p),
                     0);
    return p;
}

static void test_pool_calls(void **state) {
    fixture *f = *state;
    mcp_pool *p = pool_for(f, &f->observer);
    for (int i = 0; i < 3; i++) {
        mcp_client_result r;
        assert_int_equal(mcp_pool_call(p, "tools/call", ECHO_CALL, &r), 0);
        mcp_client_result_free(&r);
    }
    waiter w;
    waiter_init(&w);
    for (int i = 0; i < 3; i++) assert_int_equal(mcp_pool_call_async(p, "tools/call", ECHO_CALL, NULL, on_done, &w), 0);
    /* Under a span of the caller's: the async call's span is its child
     * although an I/O thread sends it. */
    mcp_span *caller = mcp_span_start(f->tracer, "caller", MCP_SPAN_INTERNAL, NULL);
    assert_non_null(caller);
    mcp_span *prev = mcp_span_make_current(caller);
    assert_int_equal(mcp_pool_call_async(p, "tools/call", MARK_CALL, NULL, on_done, &w), 0);
    mcp_span_make_current(prev);
    char caller_id[17], caller_trace[33];
    mcp_trace_context ctx;
    assert_int_equal(mcp_span_context(caller, &ctx), 0);
    mcp_hex_encode(ctx.span_id, 8, caller_id);
    mcp_hex_encode(ctx.trace_id, 16, caller_trace);
    waiter_wait(&w, 4);
    assert_int_equal(w.failed, 0);
    mcp_span_end(caller);
    usleep(150 * 1000); /* a few health pings go by: none is reported */
    mcp_pool_free(p);

    spans s;
    wait_spans(f, &s, "tools/call echo", MCP_SPAN_SERVER, 6);
    wait_spans(f, &s, "tools/call mark", MCP_SPAN_SERVER, 1);
    check_client_spans(&s, "tools/call echo", "echo", 6);
    check_client_spans(&s, "tools/call mark", "mark", 1);
    for (size_t i = 0; i < s.count; i++) {
        if (strcmp(field(s.at[i], "name"), "tools/call mark") || kind(s.at[i]) != MCP_SPAN_CLIENT) continue;
        assert_string_equal(field(s.at[i], "traceId"), caller_trace);
        assert_string_equal(field(s.at[i], "parentSpanId"), caller_id);
    }
    no_own_traffic(&s);
    waiter_wait(&w, 4);
}

static void test_pool_timeout_sets_error_type(void **state) {
    fixture *f = *state;
    mcp_pool *p = pool_for(f, &f->observer);
    waiter w;
    waiter_init(&w);
    assert_int_equal(mcp_pool_call_async(p, "tools/call", SLOW_CALL, &(mcp_client_request_opts){.timeout_ms = 100},
                                         on_done, &w),
                     0);
    waiter_wait(&w, 1);
    assert_int_equal(w.last_status, MCP_ETIMEDOUT);
    mcp_pool_free(p);
    spans s;
    wait_spans(f, &s, "tools/call slow", MCP_SPAN_CLIENT, 1);
    const mcp_json *c = NULL;
    for (size_t i = 0; i < s.count; i++)
        if (!strcmp(field(s.at[i], "name"), "tools/call slow") && kind(s.at[i]) == MCP_SPAN_CLIENT) c = s.at[i];
    assert_string_equal(span_attr_str(c, "error.type"), "-32603");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(c, "status"), "code"), 0), 2);
    /* The server got its traceparent all the same. */
    wait_spans(f, &s, "tools/call slow", MCP_SPAN_SERVER, 1);
    const mcp_json *sv = NULL;
    for (size_t i = 0; i < s.count; i++)
        if (!strcmp(field(s.at[i], "name"), "tools/call slow") && kind(s.at[i]) == MCP_SPAN_SERVER) sv = s.at[i];
    assert_string_equal(field(sv, "parentSpanId"), field(c, "spanId"));
}

/* A call the client answers from its result cache still gets its span,
 * ended as a success; only the first one reaches the server. */
static void test_pool_cached_answer(void **state) {
    fixture *f = *state;
    mcp_pool *p = NULL;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = f->addr,
                                                    .kind = MCP_POOL_STATIC, .size = 1, .observer = &f->observer},
                                  &p),
                     0);
    waiter w;
    waiter_init(&w);
    assert_int_equal(mcp_pool_call_async(p, "tools/list", NULL, NULL, on_done, &w), 0);
    waiter_wait(&w, 1);
    assert_int_equal(mcp_pool_call_async(p, "tools/list", NULL, NULL, on_done, &w), 0);
    waiter_wait(&w, 2);
    assert_int_equal(w.failed, 0);
    mcp_pool_free(p);
    spans s;
    wait_spans(f, &s, "tools/list", MCP_SPAN_CLIENT, 2);
    assert_int_equal(count_named(&s, "tools/list", MCP_SPAN_CLIENT), 2);
    assert_int_equal(count_named(&s, "tools/list", MCP_SPAN_SERVER), 1);
    for (size_t i = 0; i < s.count; i++)
        if (!strcmp(field(s.at[i], "name"), "tools/list")) assert_null(span_attr_str(s.at[i], "error.type"));
}

/* The mcpd command as the server, spawned on stdio by the pool's stdio
 * connector and exporting its own spans to the same receiver: its server
 * spans are the children of the pool's client spans across the process
 * boundary, and the client spans say "pipe". */
static void test_pool_stdio_mcpd(void **state) {
    fixture *f = *state;
    const char *bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("skipped: MCPD_BIN is not set or not built\n");
        skip();
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", f->r.port);
    char *argv[] = {(char *)bin, "serve", "--stdio", "--otlp-endpoint", url, NULL};
    mcp_pool *p = NULL;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_stdio, .connect_user = argv,
                                                    .kind = MCP_POOL_STATIC, .size = 1, .observer = &f->observer},
                                  &p),
                     0);
    for (int i = 0; i < 3; i++) {
        mcp_client_result r;
        assert_int_equal(mcp_pool_call(p, "tools/call", ECHO_CALL, &r), 0);
        mcp_client_result_free(&r);
    }
    mcp_pool_free(p); /* the server exits at the end of its input, exporting what it has */
    spans s;
    wait_spans(f, &s, "tools/call echo", MCP_SPAN_SERVER, 3);
    size_t clients = 0;
    for (size_t i = 0; i < s.count; i++) {
        const mcp_json *c = s.at[i];
        if (strcmp(field(c, "name"), "tools/call echo") || kind(c) != MCP_SPAN_CLIENT) continue;
        clients++;
        assert_string_equal(span_attr_str(c, "network.transport"), "pipe");
        size_t children = 0;
        for (size_t j = 0; j < s.count; j++)
            if (kind(s.at[j]) == MCP_SPAN_SERVER && !strcmp(field(s.at[j], "parentSpanId"), field(c, "spanId")) &&
                !strcmp(field(s.at[j], "traceId"), field(c, "traceId")))
                children++;
        assert_int_equal(children, 1);
    }
    assert_int_equal(clients, 3);
    no_own_traffic(&s);
}

/* Without an observer nothing is traced on the client side and no
 * traceparent travels: the server's spans are roots. */
static void test_pool_without_observer(void **state) {
    fixture *f = *state;
    mcp_pool *p = pool_for(f, NULL);
    mcp_client_result r;
    assert_int_equal(mcp_pool_call(p, "tools/call", ECHO_CALL, &r), 0);
    mcp_client_result_free(&r);
    waiter w;
    waiter_init(&w);
    assert_int_equal(mcp_pool_call_async(p, "tools/call", ECHO_CALL, NULL, on_done, &w), 0);
    waiter_wait(&w, 1);
    mcp_pool_free(p);
    spans s;
    wait_spans(f, &s, "tools/call echo", MCP_SPAN_SERVER, 2);
    assert_int_equal(count_named(&s, "tools/call echo", MCP_SPAN_CLIENT), 0);
    for (size_t i = 0; i < s.count; i++) assert_null(mcp_json_get(s.at[i], "parentSpanId"));
}

/* ---- Batcher --------------------------------------------------------------------------- */

static void run_batcher(fixture *f, const char *version, bool arrays) {
    mcp_batcher *b = NULL;
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = f->addr, .protocol_version = version,
                                                         .workers = 2,
                                                         .strategy = {.kind = MCP_BATCH_SIZE, .size = 4},
                                                         .observer = &f->observer},
                                     &b),
                     0);
    assert_int_equal(strcmp(mcp_batcher_protocol_version(b), "2025-03-26") == 0, arrays);
    waiter w;
    waiter_init(&w);
    for (int i = 0; i < 8; i++) assert_int_equal(mcp_batcher_add(b, "tools/call", ECHO_CALL, on_done, &w), 0);
    /* A traceparent of the caller's own in _meta is the parent. */
    assert_int_equal(mcp_batcher_add(b, "tools/call", MARK_WITH_PARENT, on_done, &w), 0);
    assert_int_equal(mcp_batcher_flush(b, 5000), 0);
    waiter_wait(&w, 9);
    assert_int_equal(w.failed, 0);
    mcp_batcher_stats st;
    mcp_batcher_get_stats(b, &st);
    assert_true(st.groups >= 2);
    if (arrays) assert_true(st.arrays >= 1);
    char negotiated[32];
    snprintf(negotiated, sizeof negotiated, "%s", mcp_batcher_protocol_version(b));
    mcp_batcher_free(b);

    spans s;
    wait_spans(f, &s, "tools/call echo", MCP_SPAN_SERVER, 8);
    wait_spans(f, &s, "tools/call mark", MCP_SPAN_SERVER, 1);
    check_client_spans(&s, "tools/call echo", "echo", 8);
    check_client_spans(&s, "tools/call mark", "mark", 1);
    for (size_t i = 0; i < s.count; i++) {
        if (strcmp(field(s.at[i], "name"), "tools/call mark") || kind(s.at[i]) != MCP_SPAN_CLIENT) continue;
        assert_string_equal(field(s.at[i], "traceId"), CALLER_TRACE);
        assert_string_equal(field(s.at[i], "parentSpanId"), CALLER_SPAN);
        assert_string_equal(span_attr_str(s.at[i], "mcp.protocol.version"), negotiated);
    }
    no_own_traffic(&s);
}

static void test_batcher_arrays(void **state) {
    run_batcher(*state, "2025-03-26", true);
}

static void test_batcher_pipelined(void **state) {
    run_batcher(*state, NULL, false);
}

static void test_batcher_timeout_sets_error_type(void **state) {
    fixture *f = *state;
    mcp_batcher *b = NULL;
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = f->addr, .timeout_ms = 100,
                                                         .observer = &f->observer},
                                     &b),
                     0);
    waiter w;
    waiter_init(&w);
    assert_int_equal(mcp_batcher_add(b, "tools/call", SLOW_CALL, on_done, &w), 0);
    waiter_wait(&w, 1);
    assert_int_equal(w.last_status, MCP_ETIMEDOUT);
    mcp_batcher_free(b);
    spans s;
    wait_spans(f, &s, "tools/call slow", MCP_SPAN_CLIENT, 1);
    for (size_t i = 0; i < s.count; i++)
        if (!strcmp(field(s.at[i], "name"), "tools/call slow") && kind(s.at[i]) == MCP_SPAN_CLIENT)
            assert_string_equal(span_attr_str(s.at[i], "error.type"), "-32603");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_timeout_sets_error_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_cached_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_stdio_mcpd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_without_observer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batcher_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batcher_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batcher_timeout_sets_error_type, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
