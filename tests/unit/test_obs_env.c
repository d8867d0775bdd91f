/*
 * The OpenTelemetry SDK environment variables read into tracer options
 * (mcp_otel_env_read), each test with its own variables handed in through
 * the getenv function, never the process's environment: every variable,
 * which of two wins, the endpoint path rules, header and resource lists
 * with percent-decoding and their malformed forms, every sampler, and the
 * errors and warnings bad values give.
 */
#include "mcp/obs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NULL-terminated name, value pairs. */
typedef struct fake_env {
    const char *const *pairs;
} fake_env;

static const char *fake_getenv(void *user, const char *name) {
    const fake_env *f = user;
    for (const char *const *p = f->pairs; *p; p += 2)
        if (!strcmp(p[0], name)) return p[1];
    return NULL;
}

typedef struct outcome {
    mcp_otel_env env;
    mcp_tracer_opts opts;
    int rc;
} outcome;

/* Read the given pairs over options with the defaults mcpd uses. */
static outcome *read_with(const char *const *pairs) {
    outcome *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->opts = (mcp_tracer_opts){.service_name = "mcpd", .sampler = {.root = MCP_SAMPLE_ALWAYS_ON, .parent_based = true}};
    fake_env f = {pairs};
    o->rc = mcp_otel_env_read(&o->env, &o->opts, fake_getenv, &f);
    return o;
}

#define READ(...) read_with((const char *const[]){__VA_ARGS__, NULL})

static outcome *read_ok(const char *const *pairs) {
    outcome *o = read_with(pairs);
    if (o->rc) fail_msg("unexpected error: %s", o->env.error);
    return o;
}
#define READ_OK(...) read_ok((const char *const[]){__VA_ARGS__, NULL})

/* An error naming the variable, with text in it. */
static void expect_error(const char *const *pairs, const char *variable, const char *text) {
    outcome *o = read_with(pairs);
    assert_int_equal(o->rc, MCP_EINVAL);
    if (!strstr(o->env.error, variable) || !strstr(o->env.error, text))
        fail_msg("error \"%s\" should name %s and say \"%s\"", o->env.error, variable, text);
    free(o);
}
#define EXPECT_ERROR(variable, text, ...) expect_error((const char *const[]){__VA_ARGS__, NULL}, variable, text)

/* Whether one warning holds both strings. */
static bool warned(const outcome *o, const char *a, const char *b) {
    for (const char *w = o->env.warnings; *w; w += strlen(w) + 1)
        if (strstr(w, a) && strstr(w, b)) return true;
    return false;
}

static size_t warning_count(const outcome *o) {
    size_t n = 0;
    for (const char *w = o->env.warnings; *w; w += strlen(w) + 1) n++;
    return n;
}

static const char *resource_value(const mcp_tracer_opts *opts, const char *key) {
    for (size_t i = 0; i < opts->resource_attribute_count; i++)
        if (!strcmp(opts->resource_attributes[i].key, key)) return opts->resource_attributes[i].value;
    return NULL;
}

/* ---- switches -------------------------------------------------------------------- */

static void test_nothing_set_changes_nothing(void **state) {
    (void)state;
    outcome *o = READ_OK("UNRELATED", "x");
    assert_false(o->env.tracing_enabled);
    assert_false(o->env.disabled);
    assert_null(o->opts.exporter.endpoint);
    assert_string_equal(o->opts.service_name, "mcpd");
    assert_true(o->opts.sampler.parent_based);
    assert_int_equal(o->opts.exporter.timeout_ms, 0);
    assert_string_equal(o->env.warnings, "");
    assert_string_equal(o->env.error, "");
    free(o);
    /* Empty is unset, for every variable. */
    o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTEL_SDK_DISABLED", "", "OTEL_TRACES_SAMPLER", "",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "", "OTEL_SERVICE_NAME", "", "OTEL_EXPORTER_OTLP_TIMEOUT", "");
    assert_false(o->env.tracing_enabled);
    assert_string_equal(o->opts.service_name, "mcpd");
    assert_string_equal(o->env.warnings, "");
    free(o);
    /* NULL getenv: the process's own environment, read without harm. */
    mcp_otel_env env;
    mcp_tracer_opts opts = {0};
    (void)mcp_otel_env_read(&env, &opts, NULL, NULL);
    assert_int_equal(mcp_otel_env_read(NULL, &opts, NULL, NULL), MCP_EINVAL);
}

static void test_endpoint_enables_tracing(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
    assert_true(o->env.tracing_enabled);
    assert_false(o->env.disabled);
    assert_string_equal(o->opts.exporter.endpoint, "http://127.0.0.1:4318/v1/traces");
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom");
    assert_true(o->env.tracing_enabled);
    assert_string_equal(o->opts.exporter.endpoint, "http://collector:4318/custom");
    free(o);
    /* Everything else but no endpoint: options set, tracing not turned on. */
    o = READ_OK("OTEL_SERVICE_NAME", "svc", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTEL_TRACES_EXPORTER", "otlp");
    assert_false(o->env.tracing_enabled);
    assert_string_equal(o->opts.service_name, "svc");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_PROTOBUF);
    free(o);
}

static void test_sdk_disabled(void **state) {
    (void)state;
    static const char *const truths[] = {"true", "TRUE", "True"};
    for (size_t i = 0; i < 3; i++) {
        /* Disabled reads nothing else: the bad protocol is no error. */
        outcome *o = READ_OK("OTEL_SDK_DISABLED", truths[i], "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318",
                             "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        assert_true(o->env.disabled);
        assert_false(o->env.tracing_enabled);
        assert_null(o->opts.exporter.endpoint);
        free(o);
    }
    outcome *o = READ_OK("OTEL_SDK_DISABLED", "false", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
    assert_false(o->env.disabled);
    assert_true(o->env.tracing_enabled);
    assert_int_equal(warning_count(o), 0);
    free(o);
    /* Only "true" is true; anything else is false, with a warning. */
    static const char *const others[] = {"1", "yes", "on", "truee"};
    for (size_t i = 0; i < 4; i++) {
        o = READ_OK("OTEL_SDK_DISABLED", others[i], "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
        assert_false(o->env.disabled);
        assert_true(o->env.tracing_enabled);
        assert_true(warned(o, "OTEL_SDK_DISABLED", others[i]));
        free(o);
    }
}

static void test_traces_exporter(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
    assert_true(o->env.disabled);
    assert_false(o->env.tracing_enabled);
    free(o);
    o = READ_OK("OTEL_TRACES_EXPORTER", "NONE");
    assert_true(o->env.disabled);
    free(o);
    o = READ_OK("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
    assert_false(o->env.disabled);
    assert_true(o->env.tracing_enabled);
    free(o);
    /* A list: otlp with none is still otlp. */
    o = READ_OK("OTEL_TRACES_EXPORTER", " otlp , none ", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
    assert_false(o->env.disabled);
    assert_true(o->env.tracing_enabled);
    free(o);
    EXPECT_ERROR("OTEL_TRACES_EXPORTER", "'zipkin' is not supported", "OTEL_TRACES_EXPORTER", "zipkin");
    EXPECT_ERROR("OTEL_TRACES_EXPORTER", "'console' is not supported", "OTEL_TRACES_EXPORTER", "otlp,console");
    EXPECT_ERROR("OTEL_TRACES_EXPORTER", "'bogus' is not supported", "OTEL_TRACES_EXPORTER", "bogus");
}

/* ---- endpoints ------------------------------------------------------------------- */

static void test_endpoint_path_rules(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"http://h:4318", "http://h:4318/v1/traces"},
        {"http://h:4318/", "http://h:4318/v1/traces"},
        {"http://h:4318/base", "http://h:4318/base/v1/traces"},
        {"http://h:4318/base/", "http://h:4318/base/v1/traces"},
        {"http://h:4318/a/b", "http://h:4318/a/b/v1/traces"},
        {"http://h", "http://h/v1/traces"},
        {"http://[::1]:4318", "http://[::1]:4318/v1/traces"},
        {"http://h:4318/base?x=1", "http://h:4318/base/v1/traces?x=1"},
        {"http://h:4318?x=1", "http://h:4318/v1/traces?x=1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome *o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", cases[i][0]);
        if (strcmp(o->opts.exporter.endpoint, cases[i][1]))
            fail_msg("%s gave %s, want %s", cases[i][0], o->opts.exporter.endpoint, cases[i][1]);
        free(o);
    }
    /* The signal's own variable is used as it is, path or none. */
    static const char *const as_is[] = {"http://h:4318", "http://h:4318/", "http://h:4318/v1/traces",
                                        "http://h:4318/elsewhere"};
    for (size_t i = 0; i < 4; i++) {
        outcome *o = READ_OK("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", as_is[i]);
        assert_string_equal(o->opts.exporter.endpoint, as_is[i]);
        free(o);
    }
}

static void test_traces_endpoint_wins(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                         "http://traces:4318/t");
    assert_string_equal(o->opts.exporter.endpoint, "http://traces:4318/t");
    free(o);
    /* An empty signal variable is unset: the generic one counts. */
    o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "");
    assert_string_equal(o->opts.exporter.endpoint, "http://generic:4318/v1/traces");
    free(o);
}

static void test_endpoint_errors(void **state) {
    (void)state;
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_ENDPOINT", "TLS", "OTEL_EXPORTER_OTLP_ENDPOINT", "https://h:4318");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "TLS", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "HTTPS://h:4318/v1/traces");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_ENDPOINT", "not an http://", "OTEL_EXPORTER_OTLP_ENDPOINT", "h:4318");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_ENDPOINT", "not an http://", "OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://h:4317");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_ENDPOINT", "not an http://", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:port");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not an http://", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "http://");
    /* The traces variable is checked, and wins, even over a bad generic one. */
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "https://generic", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                         "http://traces:4318/t");
    assert_string_equal(o->opts.exporter.endpoint, "http://traces:4318/t");
    free(o);
}

/* ---- headers --------------------------------------------------------------------- */

static void test_headers(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_HEADERS",
                         "api-key=secret, authorization = Bearer%20abc%3D%3D ,x-empty=,x-pct=a%2Cb%3Dc%25,,x-plus=a+b");
    assert_int_equal(o->opts.exporter.header_count, 5);
    const mcp_header *h = o->opts.exporter.headers;
    assert_string_equal(h[0].name, "api-key");
    assert_string_equal(h[0].value, "secret");
    assert_string_equal(h[1].name, "authorization");
    assert_string_equal(h[1].value, "Bearer abc==");
    assert_string_equal(h[2].name, "x-empty");
    assert_string_equal(h[2].value, "");
    assert_string_equal(h[3].name, "x-pct");
    assert_string_equal(h[3].value, "a,b=c%");
    assert_string_equal(h[4].name, "x-plus");
    assert_string_equal(h[4].value, "a+b"); /* '+' is not a space here */
    free(o);
    /* A value may hold '='; only the first one splits. */
    o = READ_OK("OTEL_EXPORTER_OTLP_HEADERS", "k=a=b");
    assert_string_equal(o->opts.exporter.headers[0].value, "a=b");
    free(o);
}

static void test_traces_headers_replace_generic(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3");
    assert_int_equal(o->opts.exporter.header_count, 1);
    assert_string_equal(o->opts.exporter.headers[0].name, "c");
    assert_string_equal(o->opts.exporter.headers[0].value, "3");
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_HEADERS", "a=1");
    assert_int_equal(o->opts.exporter.header_count, 1);
    assert_string_equal(o->opts.exporter.headers[0].name, "a");
    free(o);
}

static void test_header_errors(void **state) {
    (void)state;
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "no '='", "OTEL_EXPORTER_OTLP_HEADERS", "a=1,novalue");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "empty key", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=v");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "two hex digits", "OTEL_EXPORTER_OTLP_HEADERS", "a=%zz");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "two hex digits", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%4");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "two hex digits", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "control character", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%0D%0AHost: evil");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "control character", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%01y");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "control character", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%7Fy");
    outcome *tab = READ_OK("OTEL_EXPORTER_OTLP_HEADERS", "a=x%09y"); /* a tab is fine in a field value */
    assert_int_equal(tab->opts.exporter.header_count, 1);
    free(tab);
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "NUL", "OTEL_EXPORTER_OTLP_HEADERS", "a=x%00y");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "not an HTTP token", "OTEL_EXPORTER_OTLP_HEADERS", "bad name=v");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "not an HTTP token", "OTEL_EXPORTER_OTLP_HEADERS", "a:b=v");
    char many[40 * 8] = "";
    for (int i = 0; i < 33; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "h%d=v,", i);
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_HEADERS", "more than 32", "OTEL_EXPORTER_OTLP_HEADERS", many);
}

/* ---- resource -------------------------------------------------------------------- */

static void test_resource_attributes(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_RESOURCE_ATTRIBUTES",
                         "deployment.environment.name=prod, service.namespace = shop ,note=a%2Cb%3Dc%20d,k=1,k=2");
    assert_int_equal(o->opts.resource_attribute_count, 4);
    assert_string_equal(resource_value(&o->opts, "deployment.environment.name"), "prod");
    assert_string_equal(resource_value(&o->opts, "service.namespace"), "shop");
    assert_string_equal(resource_value(&o->opts, "note"), "a,b=c d");
    assert_string_equal(resource_value(&o->opts, "k"), "2"); /* the later one */
    assert_string_equal(o->opts.service_name, "mcpd");
    assert_int_equal(warning_count(o), 0);
    free(o);
    /* service.name in the list names the service; the other service keys
     * stay in it for the tracer to place. */
    o = READ_OK("OTEL_RESOURCE_ATTRIBUTES", "service.name=from%20list,service.version=2.0");
    assert_string_equal(o->opts.service_name, "from list");
    assert_null(resource_value(&o->opts, "service.name"));
    assert_string_equal(resource_value(&o->opts, "service.version"), "2.0");
    free(o);
}

static void test_service_name_wins(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-list,a=b", "OTEL_SERVICE_NAME", "from-var");
    assert_string_equal(o->opts.service_name, "from-var");
    assert_null(resource_value(&o->opts, "service.name"));
    assert_string_equal(resource_value(&o->opts, "a"), "b");
    assert_int_equal(o->opts.resource_attribute_count, 1);
    free(o);
    o = READ_OK("OTEL_SERVICE_NAME", "only-var");
    assert_string_equal(o->opts.service_name, "only-var");
    assert_int_equal(o->opts.resource_attribute_count, 0);
    assert_null(o->opts.resource_attributes);
    free(o);
}

/* The resource specification: a malformed list is discarded whole, with
 * the error reported, and the process goes on. */
static void test_malformed_resource_is_discarded(void **state) {
    (void)state;
    static const char *const bad[][2] = {
        {"a=1,novalue", "no '='"},
        {"a=1,=v", "empty key"},
        {"a=1,b=%G0", "two hex digits"},
        {"service.name=x,b=%", "two hex digits"},
    };
    for (size_t i = 0; i < 4; i++) {
        outcome *o = READ_OK("OTEL_RESOURCE_ATTRIBUTES", bad[i][0], "OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318");
        assert_int_equal(o->opts.resource_attribute_count, 0);
        assert_null(o->opts.resource_attributes);
        assert_string_equal(o->opts.service_name, "mcpd");
        assert_true(warned(o, "OTEL_RESOURCE_ATTRIBUTES", bad[i][1]));
        assert_true(o->env.tracing_enabled);
        free(o);
    }
    char many[70 * 8] = "";
    for (int i = 0; i < 65; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=v,", i);
    outcome *o = READ_OK("OTEL_RESOURCE_ATTRIBUTES", many);
    assert_int_equal(o->opts.resource_attribute_count, 0);
    assert_true(warned(o, "OTEL_RESOURCE_ATTRIBUTES", "more than 64"));
    free(o);
}

/* ---- protocol, timeouts, batch processor ----------------------------------------- */

static void test_protocol(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_PROTOBUF);
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_JSON);
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_PROTOBUF);
    free(o);
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc is not supported", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    EXPECT_ERROR("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc is not supported", "OTEL_EXPORTER_OTLP_PROTOCOL",
                 "http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc");
    /* Unknown: the enum rule, warn and keep what was there. */
    o = READ_OK("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_JSON);
    assert_true(warned(o, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"));
    free(o);
    /* An unknown traces protocol counts as unset: the generic one stands. */
    o = READ_OK("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/xml", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    assert_int_equal(o->opts.exporter.encoding, MCP_OTLP_PROTOBUF);
    assert_true(warned(o, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/xml"));
    free(o);
}

static void test_timeouts(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_TIMEOUT", "2500");
    assert_int_equal(o->opts.exporter.timeout_ms, 2500);
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700");
    assert_int_equal(o->opts.exporter.timeout_ms, 700);
    free(o);
    o = READ_OK("OTEL_BSP_EXPORT_TIMEOUT", "9000");
    assert_int_equal(o->opts.exporter.timeout_ms, 9000);
    free(o);
    o = READ_OK("OTEL_BSP_EXPORT_TIMEOUT", "9000", "OTEL_EXPORTER_OTLP_TIMEOUT", "1200");
    assert_int_equal(o->opts.exporter.timeout_ms, 1200);
    free(o);
    /* 0: no limit, which a day stands for. */
    o = READ_OK("OTEL_EXPORTER_OTLP_TIMEOUT", "0");
    assert_int_equal(o->opts.exporter.timeout_ms, 86400000u);
    free(o);
    o = READ_OK("OTEL_EXPORTER_OTLP_TIMEOUT", "2147483647");
    assert_int_equal(o->opts.exporter.timeout_ms, 2147483647u);
    free(o);
    /* A traces timeout that does not parse counts as unset: the generic one stands. */
    o = READ_OK("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "abc", "OTEL_EXPORTER_OTLP_TIMEOUT", "2000");
    assert_int_equal(o->opts.exporter.timeout_ms, 2000);
    assert_true(warned(o, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "abc"));
    free(o);
    /* Bad numbers: warned about and left alone, as the specification says. */
    static const char *const bad[] = {"-5", "10s", "1.5", "2147483648", "99999999999999999999", " 5", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = READ_OK("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", bad[i]);
        assert_int_equal(o->opts.exporter.timeout_ms, 0);
        assert_true(warned(o, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", bad[i]));
        free(o);
    }
}

/* A resource list too long for the text room is dropped with a warning;
 * it must not take the room the endpoint and headers need. */
static void test_long_resource_list_leaves_room(void **state) {
    (void)state;
    static char big[8200];
    memset(big, 'v', sizeof big - 1);
    memcpy(big, "k=", 2);
    outcome *o = READ_OK("OTEL_RESOURCE_ATTRIBUTES", big, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318",
                         "OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc");
    assert_string_equal(o->opts.exporter.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_int_equal(o->opts.exporter.header_count, 1);
    assert_true(warned(o, "OTEL_RESOURCE_ATTRIBUTES", "ignored"));
    free(o);
    /* A long bad value is cut in its warning: the others still fit. */
    o = READ_OK("OTEL_SDK_DISABLED", big, "OTEL_EXPORTER_OTLP_TIMEOUT", "x", "OTEL_TRACES_SAMPLER", "nonesuch");
    assert_int_equal(warning_count(o), 3);
    free(o);
}

static void test_batch_processor(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_BSP_SCHEDULE_DELAY", "250", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100");
    assert_int_equal(o->opts.exporter.flush_interval_ms, 250);
    assert_int_equal(o->opts.exporter.max_batch, 100);
    assert_int_equal(warning_count(o), 0);
    free(o);
    o = READ_OK("OTEL_BSP_SCHEDULE_DELAY", "0");
    assert_int_equal(o->opts.exporter.flush_interval_ms, 1);
    free(o);
    o = READ_OK("OTEL_BSP_SCHEDULE_DELAY", "-1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0");
    assert_int_equal(o->opts.exporter.flush_interval_ms, 0);
    assert_int_equal(o->opts.exporter.max_batch, 0);
    assert_true(warned(o, "OTEL_BSP_SCHEDULE_DELAY", "-1"));
    assert_true(warned(o, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "'0'"));
    free(o);
    o = READ_OK("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2000000");
    assert_int_equal(o->opts.exporter.max_batch, 0);
    assert_true(warned(o, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2000000"));
    free(o);
}

/* ---- samplers -------------------------------------------------------------------- */

static void test_every_sampler(void **state) {
    (void)state;
    static const struct {
        const char *name;
        mcp_sampler_kind root;
        bool parent_based;
    } cases[] = {
        {"always_on", MCP_SAMPLE_ALWAYS_ON, false},
        {"always_off", MCP_SAMPLE_ALWAYS_OFF, false},
        {"traceidratio", MCP_SAMPLE_RATIO, false},
        {"parentbased_always_on", MCP_SAMPLE_ALWAYS_ON, true},
        {"parentbased_always_off", MCP_SAMPLE_ALWAYS_OFF, true},
        {"parentbased_traceidratio", MCP_SAMPLE_RATIO, true},
        {"ALWAYS_OFF", MCP_SAMPLE_ALWAYS_OFF, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome *o = READ_OK("OTEL_TRACES_SAMPLER", cases[i].name, "OTEL_TRACES_SAMPLER_ARG", "0.25");
        assert_int_equal(o->opts.sampler.root, cases[i].root);
        assert_int_equal(o->opts.sampler.parent_based, cases[i].parent_based);
        if (cases[i].root == MCP_SAMPLE_RATIO) assert_true(o->opts.sampler.ratio == 0.25);
        assert_int_equal(warning_count(o), 0);
        free(o);
    }
    /* A ratio sampler without its argument samples everything. */
    outcome *o = READ_OK("OTEL_TRACES_SAMPLER", "traceidratio");
    assert_int_equal(o->opts.sampler.root, MCP_SAMPLE_RATIO);
    assert_true(o->opts.sampler.ratio == 1.0);
    free(o);
    o = READ_OK("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0");
    assert_true(o->opts.sampler.ratio == 0.0);
    free(o);
}

static void test_sampler_errors(void **state) {
    (void)state;
    /* A bad argument: logged and ignored (a ratio of 1). */
    static const char *const bad_args[] = {"1.5", "-0.1", "half", "0.5x", "nan"};
    for (size_t i = 0; i < sizeof bad_args / sizeof bad_args[0]; i++) {
        outcome *o = READ_OK("OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", bad_args[i]);
        assert_int_equal(o->opts.sampler.root, MCP_SAMPLE_RATIO);
        assert_true(o->opts.sampler.ratio == 1.0);
        assert_true(warned(o, "OTEL_TRACES_SAMPLER_ARG", bad_args[i]));
        free(o);
    }
    /* The argument alone changes nothing. */
    outcome *o = READ_OK("OTEL_TRACES_SAMPLER_ARG", "0.1");
    assert_int_equal(o->opts.sampler.root, MCP_SAMPLE_ALWAYS_ON);
    assert_true(o->opts.sampler.parent_based);
    free(o);
    /* An unknown sampler: warned about, the default kept. */
    o = READ_OK("OTEL_TRACES_SAMPLER", "sometimes");
    assert_int_equal(o->opts.sampler.root, MCP_SAMPLE_ALWAYS_ON);
    assert_true(o->opts.sampler.parent_based);
    assert_true(warned(o, "OTEL_TRACES_SAMPLER", "sometimes"));
    free(o);
    /* Known ones that need a remote service: an error. */
    EXPECT_ERROR("OTEL_TRACES_SAMPLER", "'jaeger_remote' is not supported", "OTEL_TRACES_SAMPLER", "jaeger_remote");
    EXPECT_ERROR("OTEL_TRACES_SAMPLER", "is not supported", "OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote");
    EXPECT_ERROR("OTEL_TRACES_SAMPLER", "is not supported", "OTEL_TRACES_SAMPLER", "xray");
}

/* ---- all together, and into a tracer --------------------------------------------------------- */

static void test_everything_into_a_tracer(void **state) {
    (void)state;
    outcome *o = READ_OK("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_SERVICE_NAME", "shop",
                         "OTEL_RESOURCE_ATTRIBUTES", "service.version=3,deployment.environment.name=test",
                         "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t", "OTEL_EXPORTER_OTLP_PROTOCOL",
                         "http/protobuf", "OTEL_TRACES_SAMPLER", "always_off", "OTEL_BSP_SCHEDULE_DELAY", "100",
                         "OTEL_EXPORTER_OTLP_TIMEOUT", "100");
    assert_true(o->env.tracing_enabled);
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&o->opts, &t), 0);
    /* The tracer copied what it needs: the environment's storage may go. */
    memset(&o->env, 0xee, sizeof o->env);
    mcp_span *s = mcp_span_start(t, "x", MCP_SPAN_SERVER, NULL);
    assert_false(mcp_span_is_recording(s)); /* always_off */
    mcp_span_end(s);
    mcp_tracer_free(t);
    free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_set_changes_nothing),
        cmocka_unit_test(test_endpoint_enables_tracing),
        cmocka_unit_test(test_sdk_disabled),
        cmocka_unit_test(test_traces_exporter),
        cmocka_unit_test(test_endpoint_path_rules),
        cmocka_unit_test(test_traces_endpoint_wins),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_traces_headers_replace_generic),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_resource_attributes),
        cmocka_unit_test(test_service_name_wins),
        cmocka_unit_test(test_malformed_resource_is_discarded),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_long_resource_list_leaves_room),
        cmocka_unit_test(test_batch_processor),
        cmocka_unit_test(test_every_sampler),
        cmocka_unit_test(test_sampler_errors),
        cmocka_unit_test(test_everything_into_a_tracer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
