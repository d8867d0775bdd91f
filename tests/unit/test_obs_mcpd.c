/*
 * Tracing, metrics and JSON logs of the real `mcpd` processes: `mcpd serve
 * --http --metrics --otlp-endpoint --log-format json` driven by `mcpd call
 * --otlp-endpoint`, both exporting to one loopback OTLP receiver. The
 * client's span and the server's span must form one trace (the server's
 * parent is the client's span, carried in params._meta.traceparent); the
 * server's debug log line for the request carries that trace id; /metrics
 * counts the request and passes promtool when it is installed. The same
 * commands configured by OpenTelemetry SDK variables alone.
 */
#include "mcp/obs.h"
#include "mcp/json.h"
#include "obs/otlp_receiver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_mcpd.h"

/* GET path over a raw socket; returns the whole response (caller frees). */
static char *http_get(int port, const char *path) {
    int fd = mcpd_connect(port);
    if (fd < 0) return NULL;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
    if (!mcpd_send_all(fd, req, (size_t)n)) {
        close(fd);
        return NULL;
    }
    return mcpd_recv_to_close(fd);
}

static const mcp_json *find_span(mcp_arena *a, receiver *r, const char *name, int kind) {
    const mcp_json *found = NULL;
    /* The receiver's thread may still be taking a late batch. */
    pthread_mutex_lock(&r->lock);
    for (size_t b = 0; b < r->body_count; b++) {
        mcp_json *doc;
        if (mcp_json_parse(a, r->bodies[b], strlen(r->bodies[b]), NULL, &doc, NULL) != 0) continue;
        const mcp_json *spans = mcp_json_get(
            mcp_json_at(mcp_json_get(mcp_json_at(mcp_json_get(doc, "resourceSpans"), 0), "scopeSpans"), 0), "spans");
        for (size_t i = 0; i < mcp_json_len(spans); i++) {
            const mcp_json *s = mcp_json_at(spans, i);
            if (!strcmp(mcp_json_str(mcp_json_get(s, "name"), ""), name) && mcp_json_int(mcp_json_get(s, "kind"), 0) == kind)
                found = s;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

static void test_one_trace_from_client_to_server(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char otlp[64], err_path[64], out_path[64];
    snprintf(otlp, sizeof otlp, "http://127.0.0.1:%d/v1/traces", r.port);
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-obs-serve-%d.err", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/mcpd-obs-call-%d.out", (int)getpid());

    char *serve_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--metrics",
                          "--otlp-endpoint", otlp, "--log-format", "json", "--log-level", "debug", NULL};
    pid_t server = mcpd_spawn(serve_argv, -1, -1, NULL, err_path);
    assert_true(server > 0);
    int port = mcpd_logged_port(err_path, NULL);
    assert_true(port > 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    char *call_argv[] = {(char *)bin, "call", "--otlp-endpoint", otlp, url, "tools/call",
                         "{\"name\":\"echo\",\"arguments\":{\"text\":\"traced\"}}", NULL};
    assert_int_equal(mcpd_wait_exit(mcpd_spawn(call_argv, -1, -1, out_path, NULL)), 0);
    char *out = mcpd_read_text(out_path);
    assert_non_null(out);
    assert_non_null(strstr(out, "traced"));
    free(out);

    /* Metrics of the real listener. */
    char *resp = http_get(port, "/metrics");
    assert_non_null(resp);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, "text/plain; version=0.0.4"));
    char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_non_null(strstr(body, "mcp_server_requests_total{method=\"tools/call\",outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(body, "mcp_server_request_duration_seconds_count{method=\"tools/call\"} 1\n"));
    assert_non_null(strstr(body, "mcp_net_connections_accepted_total "));
    assert_non_null(strstr(body, "mcp_net_limit_events_total{limit=\"max_connections\"} 0\n"));
    assert_non_null(strstr(body, "mcp_otel_spans_started_total "));
    promtool_check(body);
    free(resp);

    /* SIGTERM: the server drains, then exports what its tracer holds. */
    kill(server, SIGTERM);
    assert_int_equal(mcpd_wait_exit(server), 0);

    mcp_arena a;
    mcp_arena_init(&a, 0);
    const mcp_json *client = find_span(&a, &r, "tools/call echo", 3);
    const mcp_json *srv = find_span(&a, &r, "tools/call echo", 2);
    assert_non_null(client);
    assert_non_null(srv);
    const char *trace = mcp_json_str(mcp_json_get(client, "traceId"), "");
    assert_int_equal(strlen(trace), 32);
    assert_string_equal(mcp_json_str(mcp_json_get(srv, "traceId"), ""), trace);
    assert_string_equal(mcp_json_str(mcp_json_get(srv, "parentSpanId"), ""),
                        mcp_json_str(mcp_json_get(client, "spanId"), "?"));

    /* The server's access line for that request, as JSON with the trace id. */
    char *log = mcpd_read_text(err_path);
    assert_non_null(log);
    bool found = false;
    for (char *line = strtok(log, "\n"); line && !found; line = strtok(NULL, "\n")) {
        mcp_json *rec;
        assert_int_equal(mcp_json_parse(&a, line, strlen(line), NULL, &rec, NULL), 0); /* every line is JSON */
        if (strstr(mcp_json_str(mcp_json_get(rec, "msg"), ""), "served tools/call") &&
            !strcmp(mcp_json_str(mcp_json_get(rec, "trace_id"), ""), trace))
            found = true;
    }
    assert_true(found);
    free(log);
    mcp_arena_free(&a);
    unlink(err_path);
    unlink(out_path);
    receiver_stop(&r);
}

/* --otlp-protocol http/protobuf on both commands: every export is
 * protobuf and carries the request's span, server and client. (What the
 * bytes say, field by field, is test_obs_proto's and the interop test's.) */
static void test_protobuf_export_from_both_commands(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char otlp[64], err_path[64], out_path[64];
    snprintf(otlp, sizeof otlp, "http://127.0.0.1:%d/v1/traces", r.port);
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-obs-proto-%d.err", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/mcpd-obs-proto-%d.out", (int)getpid());

    /* A protocol it does not speak is refused before anything starts. */
    char *bad_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--otlp-endpoint", otlp,
                        "--otlp-protocol", "grpc", NULL};
    assert_int_not_equal(mcpd_wait_exit(mcpd_spawn(bad_argv, -1, -1, NULL, err_path)), 0);
    char *why = mcpd_read_text(err_path);
    assert_non_null(why);
    assert_non_null(strstr(why, "--otlp-protocol needs http/protobuf or http/json, got 'grpc'"));
    free(why);
    unlink(err_path);

    char *serve_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1",
                          "--otlp-endpoint", otlp, "--otlp-protocol", "http/protobuf", "--log-level", "info", NULL};
    pid_t server = mcpd_spawn(serve_argv, -1, -1, NULL, err_path);
    assert_true(server > 0);
    int port = mcpd_logged_port(err_path, NULL);
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    char *call_argv[] = {(char *)bin, "call", "--otlp-endpoint", otlp, "--otlp-protocol", "http/protobuf", url,
                         "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"traced\"}}", NULL};
    assert_int_equal(mcpd_wait_exit(mcpd_spawn(call_argv, -1, -1, out_path, NULL)), 0);
    kill(server, SIGTERM);
    assert_int_equal(mcpd_wait_exit(server), 0);

    static const char name[] = "tools/call echo";
    size_t with_span = 0;
    pthread_mutex_lock(&r.lock);
    assert_true(r.body_count >= 2);
    for (size_t b = 0; b < r.body_count; b++) {
        assert_string_equal(r.content_types[b], "application/x-protobuf");
        /* A protobuf body opens with resource_spans, field 1, length-delimited. */
        assert_true(r.body_lens[b] > 0 && (unsigned char)r.bodies[b][0] == 0x0a);
        if (memmem(r.bodies[b], r.body_lens[b], name, sizeof name - 1)) with_span++;
    }
    pthread_mutex_unlock(&r.lock);
    assert_true(with_span >= 1);
    unlink(err_path);
    unlink(out_path);
    receiver_stop(&r);
}

/* As mcpd_spawn, with the child's environment exactly envp plus the
 * sanitizer settings of ours (so that a sanitized build reports the same
 * way): nothing else of the test's environment leaks in. */
static pid_t spawn_with_env(char *const argv[], const char *const *envp, const char *out_path, const char *err_path) {
    static const char *const passed[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"};
    char *env[32];
    char pass_text[4][512];
    size_t n = 0;
    for (; envp[n] && n < 24; n++) env[n] = (char *)envp[n];
    for (size_t i = 0; i < 4; i++) {
        const char *v = getenv(passed[i]);
        if (!v) continue;
        snprintf(pass_text[i], sizeof pass_text[i], "%s=%s", passed[i], v);
        env[n++] = pass_text[i];
    }
    env[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    return pid;
}

/* Whether any received body of this content type holds text. */
static bool received(receiver *r, const char *content_type, const char *text) {
    bool found = false;
    pthread_mutex_lock(&r->lock);
    for (size_t b = 0; b < r->body_count && !found; b++)
        found = !strcmp(r->content_types[b], content_type) && memmem(r->bodies[b], r->body_lens[b], text, strlen(text));
    pthread_mutex_unlock(&r->lock);
    return found;
}

/* Only OpenTelemetry variables, no --otlp option: `mcpd serve` exports to
 * the base URL plus /v1/traces, as protobuf, under the service name and
 * with the resource attributes and headers of the environment (an
 * --otlp-header replacing the variable's of its name); `mcpd call` uses
 * its own variables, and its --otlp-protocol option wins over them. */
static void test_serve_and_call_from_the_environment(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char base[64], traces[64], err_path[64], out_path[64];
    snprintf(base, sizeof base, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", r.port);
    snprintf(traces, sizeof traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:%d/v1/traces", r.port);
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-obs-env-%d.err", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/mcpd-obs-env-%d.out", (int)getpid());

    const char *serve_env[] = {base, "OTEL_SERVICE_NAME=env-server", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                               "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=e2e%20test,service.name=loses",
                               "OTEL_EXPORTER_OTLP_HEADERS=x-api-key=s%20cret,x-both=from-env",
                               /* no export before it exits, so that its post comes after the client's */
                               "OTEL_BSP_SCHEDULE_DELAY=600000", NULL};
    char *serve_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--otlp-header",
                          "x-both=from-option", "--log-level", "info", NULL};
    pid_t server = spawn_with_env(serve_argv, serve_env, NULL, err_path);
    assert_true(server > 0);
    int port = mcpd_logged_port(err_path, NULL);
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    const char *call_env[] = {traces, "OTEL_SERVICE_NAME=env-client", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                              NULL};
    char *call_argv[] = {(char *)bin, "call", "--otlp-protocol", "http/json", url, "tools/call",
                         "{\"name\":\"echo\",\"arguments\":{\"text\":\"traced\"}}", NULL};
    assert_int_equal(mcpd_wait_exit(spawn_with_env(call_argv, call_env, out_path, NULL)), 0);
    kill(server, SIGTERM);
    assert_int_equal(mcpd_wait_exit(server), 0);
    /* The server exported last, at its exit: the variable's header, decoded,
     * and the option's in place of the variable's of the same name. */
    pthread_mutex_lock(&r.lock);
    assert_non_null(strstr(r.last_headers, "\r\nx-api-key: s cret\r\n"));
    assert_non_null(strstr(r.last_headers, "\r\nx-both: from-option\r\n"));
    assert_null(strstr(r.last_headers, "from-env"));
    pthread_mutex_unlock(&r.lock);

    /* The server: protobuf, its service name and attribute, the request's span. */
    assert_true(received(&r, "application/x-protobuf", "env-server"));
    assert_true(received(&r, "application/x-protobuf", "deployment.environment.name"));
    assert_true(received(&r, "application/x-protobuf", "e2e test"));
    assert_true(received(&r, "application/x-protobuf", "tools/call echo"));
    assert_false(received(&r, "application/x-protobuf", "loses"));
    assert_false(received(&r, "application/x-protobuf", "env-client"));
    /* The client: JSON (the option over the variable), its own name. */
    assert_true(received(&r, "application/json", "\"stringValue\":\"env-client\""));
    assert_false(received(&r, "application/json", "env-server"));
    pthread_mutex_lock(&r.lock);
    assert_string_equal(r.last_path, "/v1/traces");
    pthread_mutex_unlock(&r.lock);
    unlink(err_path);
    unlink(out_path);
    receiver_stop(&r);
}

/* Variables it cannot honour stop `mcpd serve` before it serves, naming
 * the variable; OTEL_SDK_DISABLED=true keeps even --otlp-endpoint from
 * exporting. */
static void test_environment_refused_or_disabled(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char base[64], err_path[64], otlp[64];
    snprintf(base, sizeof base, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", r.port);
    snprintf(otlp, sizeof otlp, "http://127.0.0.1:%d/v1/traces", r.port);
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-obs-env-bad-%d.err", (int)getpid());
    static const char *const refused[][2] = {
        {"OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://127.0.0.1:4318/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "},
        {"OTEL_TRACES_EXPORTER=zipkin", "OTEL_TRACES_EXPORTER: 'zipkin' is not supported"},
    };
    char *serve_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--log-level", "info", NULL};
    for (size_t i = 0; i < 3; i++) {
        const char *env[] = {base, refused[i][0], NULL};
        assert_int_not_equal(mcpd_wait_exit(spawn_with_env(serve_argv, env, NULL, err_path)), 0);
        char *why = mcpd_read_text(err_path);
        assert_non_null(why);
        if (!strstr(why, refused[i][1])) fail_msg("%s: stderr was \"%s\"", refused[i][0], why);
        free(why);
    }

    const char *off_env[] = {base, "OTEL_SDK_DISABLED=true", NULL};
    char *off_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--otlp-endpoint", otlp,
                        "--log-level", "info", NULL};
    pid_t server = spawn_with_env(off_argv, off_env, NULL, err_path);
    int port = mcpd_logged_port(err_path, NULL);
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    char *call_argv[] = {(char *)bin, "call", url, "tools/call",
                         "{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}", NULL};
    const char *no_env[] = {NULL};
    assert_int_equal(mcpd_wait_exit(spawn_with_env(call_argv, no_env, NULL, NULL)), 0);
    kill(server, SIGTERM);
    assert_int_equal(mcpd_wait_exit(server), 0);
    assert_int_equal(receiver_requests(&r), 0);
    unlink(err_path);
    receiver_stop(&r);
}

/* A variable that a flag overrides is not read: a value mcpd could not
 * honour there must not stop it. mcpd call signs its own messages. */
static void test_overridden_variables_are_not_read(void **state) {
    (void)state;
    const char *bin = need_mcpd();
    if (!bin) skip();
    receiver r;
    assert_int_equal(receiver_start(&r), 0);
    char otlp[64], err_path[64];
    snprintf(otlp, sizeof otlp, "http://127.0.0.1:%d/v1/traces", r.port);
    snprintf(err_path, sizeof err_path, "/tmp/mcpd-obs-env-over-%d.err", (int)getpid());
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example:4318",
                         "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_TRACES_SAMPLER=jaeger_remote", NULL};
    char *serve_argv[] = {(char *)bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--otlp-endpoint", otlp,
                          "--otlp-protocol", "http/protobuf", "--trace-sample", "always", "--log-level", "info", NULL};
    pid_t server = spawn_with_env(serve_argv, env, NULL, err_path);
    int port = mcpd_logged_port(err_path, NULL);
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    char *call_argv[] = {(char *)bin, "call", url, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}",
                         NULL};
    const char *no_env[] = {NULL};
    assert_int_equal(mcpd_wait_exit(spawn_with_env(call_argv, no_env, NULL, NULL)), 0);
    kill(server, SIGTERM);
    assert_int_equal(mcpd_wait_exit(server), 0);
    assert_true(receiver_requests(&r) > 0);
    pthread_mutex_lock(&r.lock);
    for (size_t b = 0; b < r.body_count; b++) assert_string_equal(r.content_types[b], "application/x-protobuf");
    pthread_mutex_unlock(&r.lock);

    const char *zipkin[] = {"OTEL_TRACES_EXPORTER=zipkin", NULL};
    assert_int_not_equal(mcpd_wait_exit(spawn_with_env(call_argv, zipkin, NULL, err_path)), 0);
    char *why = mcpd_read_text(err_path);
    assert_non_null(why);
    if (strncmp(why, "mcpd call: OTEL_TRACES_EXPORTER", 31)) fail_msg("stderr was \"%s\"", why);
    free(why);
    unlink(err_path);
    receiver_stop(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_trace_from_client_to_server),
        cmocka_unit_test(test_protobuf_export_from_both_commands),
        cmocka_unit_test(test_serve_and_call_from_the_environment),
        cmocka_unit_test(test_environment_refused_or_disabled),
        cmocka_unit_test(test_overridden_variables_are_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
