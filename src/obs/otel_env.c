/*
 * The OpenTelemetry SDK environment variables, read into tracer options.
 *
 * Users of OpenTelemetry SDKs configure tracing by OTEL_* variables; this
 * reads the ones the tracer has a knob for, with the specification's rules:
 * empty means unset, a signal-specific variable (OTEL_EXPORTER_OTLP_TRACES_*)
 * replaces its generic one, OTEL_EXPORTER_OTLP_ENDPOINT is a base URL that
 * gets /v1/traces, header and resource lists are key=value pairs with
 * percent-encoded values. Where the specification says a bad value is to be
 * ignored with a warning, it is; everything else that cannot be honoured is
 * an error naming the variable, so that nobody exports somewhere, or in a
 * way, they did not ask for.
 */
#include "obs_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGNAL_PATH "v1/traces"

/* 0 ms means "no limit" for a timeout variable; the exporter's 0 means
 * its default, so a day stands in for indefinite (the specification
 * allows "a very long time"). */
#define TIMEOUT_INDEFINITE_MS 86400000u
#define BATCH_MAX (1u << 20)

static const char *process_getenv(void *user, const char *name) {
    (void)user;
    return getenv(name);
}

typedef struct reader {
    mcp_otel_env *env;
    mcp_getenv_fn get;
    void *user;
} reader;

/* The value, or NULL when unset or empty: the specification treats both alike. */
static const char *value_of(const reader *r, const char *name) {
    const char *v = r->get(r->user, name);
    return v && *v ? v : NULL;
}

/* The signal-specific variable when set, else the generic one; *which
 * names the one used, for messages. */
static const char *value_pair(const reader *r, const char *traces, const char *generic, const char **which) {
    const char *v = value_of(r, traces);
    *which = traces;
    if (!v) {
        v = value_of(r, generic);
        *which = generic;
    }
    return v;
}

static int fail(reader *r, const char *fmt, ...) MCP_PRINTF(2, 3);
static int fail(reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->env->error, sizeof r->env->error, fmt, ap);
    va_end(ap);
    return MCP_EINVAL;
}

static void warn(reader *r, const char *fmt, ...) MCP_PRINTF(2, 3);
static void warn(reader *r, const char *fmt, ...) {
    mcp_otel_env *e = r->env;
    size_t room = sizeof e->warnings - e->warnings_used;
    if (room < 2) return; /* the list keeps its closing empty message */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->warnings + e->warnings_used, room - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t used = (size_t)n < room - 2 ? (size_t)n : room - 2;
    e->warnings_used += used + 1;
    e->warnings[e->warnings_used] = '\0';
}

/* Room for n bytes in env->text, or NULL. */
static char *text_take(reader *r, size_t n) {
    mcp_otel_env *e = r->env;
    if (n > sizeof e->text - e->text_used) return NULL;
    char *p = e->text + e->text_used;
    e->text_used += n;
    return p;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t';
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copy [p, p + n) trimmed and percent-decoded into env->text; NULL with
 * *why set when an escape is broken or the text is full. */
static const char *decode(reader *r, const char *p, size_t n, const char **why) {
    while (n && is_space(*p)) p++, n--;
    while (n && is_space(p[n - 1])) n--;
    char *out = text_take(r, n + 1);
    if (!out) {
        *why = "the values are too long";
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        int hi = i + 1 < n ? hex_digit(p[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            *why = "a '%' is not followed by two hex digits";
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    if (memchr(out, '\0', o)) {
        *why = "a value decodes to a NUL byte";
        return NULL;
    }
    return out;
}

/* One key=value list (W3C baggage without properties): members split at
 * ',', blanks around keys and values trimmed, both percent-decoded; empty
 * members are skipped. Calls take(key, value) per pair; false on error
 * with *why set. */
typedef bool (*pair_fn)(reader *r, const char *key, const char *value, const char **why);

static bool list_parse(reader *r, const char *list, pair_fn take, const char **why) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        size_t blank = 0;
        while (blank < n && is_space(p[blank])) blank++;
        if (blank < n) {
            if (!eq) {
                *why = "a member has no '='";
                return false;
            }
            const char *key = decode(r, p, (size_t)(eq - p), why);
            if (!key) return false;
            if (!*key) {
                *why = "a member has an empty key";
                return false;
            }
            const char *value = decode(r, eq + 1, (size_t)(p + n - eq - 1), why);
            if (!value || !take(r, key, value, why)) return false;
        }
        p += n;
        if (*p == ',') p++;
    }
    return true;
}

/* ---- headers ---------------------------------------------------------------- */

static bool header_take(reader *r, const char *key, const char *value, const char **why) {
    mcp_otel_env *e = r->env;
    if (!mcp_header_name_valid(key)) {
        *why = "a header name is not an HTTP token";
        return false;
    }
    if (!mcp_header_value_valid(value)) {
        *why = "a header value holds a control character";
        return false;
    }
    size_t i = 0;
    while (i < MCP_OTEL_ENV_MAX_HEADERS && e->headers[i].name) i++;
    if (i == MCP_OTEL_ENV_MAX_HEADERS) {
        *why = "there are more than 32 headers";
        return false;
    }
    e->headers[i] = (mcp_header){key, value};
    return true;
}

/* ---- resource attributes ------------------------------------------------------ */

static bool attribute_take(reader *r, const char *key, const char *value, const char **why) {
    mcp_otel_env *e = r->env;
    size_t i = 0;
    /* A key given twice: the later one wins, as a later assignment would. */
    while (i < MCP_OTEL_ENV_MAX_ATTRIBUTES && e->attributes[i].key && strcmp(e->attributes[i].key, key)) i++;
    if (i == MCP_OTEL_ENV_MAX_ATTRIBUTES) {
        *why = "there are more than 64 attributes";
        return false;
    }
    e->attributes[i] = (mcp_resource_attribute){key, value};
    return true;
}

static size_t attribute_count(const mcp_otel_env *e) {
    size_t n = 0;
    while (n < MCP_OTEL_ENV_MAX_ATTRIBUTES && e->attributes[n].key) n++;
    return n;
}

static void resource_read(reader *r, mcp_tracer_opts *opts) {
    mcp_otel_env *e = r->env;
    const char *list = value_of(r, "OTEL_RESOURCE_ATTRIBUTES"), *why = NULL;
    size_t mark = e->text_used;
    if (list && !list_parse(r, list, attribute_take, &why)) {
        /* The resource specification: on any error the whole value is
         * discarded and the error reported; the process goes on. */
        memset(e->attributes, 0, sizeof e->attributes);
        e->text_used = mark;
        warn(r, "OTEL_RESOURCE_ATTRIBUTES ignored: %s", why);
    }
    size_t n = attribute_count(e);
    /* service.name moves to its own field, where OTEL_SERVICE_NAME wins. */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e->attributes[i].key, "service.name")) continue;
        opts->service_name = e->attributes[i].value;
        memmove(&e->attributes[i], &e->attributes[i + 1], (n - i - 1) * sizeof e->attributes[0]);
        e->attributes[--n] = (mcp_resource_attribute){0};
        break;
    }
    const char *service = value_of(r, "OTEL_SERVICE_NAME");
    if (service) opts->service_name = service;
    if (n) {
        opts->resource_attributes = e->attributes;
        opts->resource_attribute_count = n;
    }
}

/* ---- numbers ------------------------------------------------------------------ */

/* A non-negative integer up to 2^31 - 1 in *out; false after a warning
 * otherwise (the specification: warn and treat as unset). */
static bool number_read(reader *r, const char *name, const char *v, unsigned *out) {
    uint64_t n = 0; /* 64 bits wherever long has 32: ten digits never wrap */
    const char *p = v;
    while (*p >= '0' && *p <= '9' && n <= 0x7fffffffu) n = n * 10 + (uint64_t)(*p++ - '0');
    if (p == v || *p || n > 0x7fffffffu) {
        warn(r, "%s ignored: '%.128s' is not a whole number of 0 to 2147483647", name, v);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static void timeout_read(reader *r, mcp_tracer_opts *opts) {
    /* The exporter's own timeout is per POST, as ours is; the processor's
     * export timeout counts only when the exporter has none. A value that
     * does not parse counts as unset (the specification): the next in line
     * is read. */
    static const char *const names[] = {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
                                        "OTEL_BSP_EXPORT_TIMEOUT"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = value_of(r, names[i]);
        unsigned ms;
        if (v && number_read(r, names[i], v, &ms)) {
            opts->exporter.timeout_ms = ms ? ms : TIMEOUT_INDEFINITE_MS;
            return;
        }
    }
}

static void processor_read(reader *r, mcp_tracer_opts *opts) {
    const char *v = value_of(r, "OTEL_BSP_SCHEDULE_DELAY");
    unsigned n;
    /* A delay of 0 asks for exports as soon as possible; the exporter's 0
     * means its default, so the shortest real wait stands in. */
    if (v && number_read(r, "OTEL_BSP_SCHEDULE_DELAY", v, &n)) opts->exporter.flush_interval_ms = n ? n : 1;
    v = value_of(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
    if (v && number_read(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", v, &n)) {
        /* The specification's valid values are positive. */
        if (n == 0 || n > BATCH_MAX)
            warn(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE ignored: '%.128s' is not from 1 to %u", v, BATCH_MAX);
        else opts->exporter.max_batch = n;
    }
}

/* ---- sampler ------------------------------------------------------------------ */

static int sampler_read(reader *r, mcp_tracer_opts *opts) {
    const char *name = value_of(r, "OTEL_TRACES_SAMPLER");
    if (!name) return MCP_OK; /* the argument counts only with a sampler */
    static const struct {
        const char *name;
        mcp_sampler_kind root;
        bool parent_based;
    } known[] = {
        {"always_on", MCP_SAMPLE_ALWAYS_ON, false},
        {"always_off", MCP_SAMPLE_ALWAYS_OFF, false},
        {"traceidratio", MCP_SAMPLE_RATIO, false},
        {"parentbased_always_on", MCP_SAMPLE_ALWAYS_ON, true},
        {"parentbased_always_off", MCP_SAMPLE_ALWAYS_OFF, true},
        {"parentbased_traceidratio", MCP_SAMPLE_RATIO, true},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcasecmp(name, known[i].name)) continue;
        mcp_sampler s = {.root = known[i].root, .parent_based = known[i].parent_based, .ratio = 1.0};
        const char *arg = value_of(r, "OTEL_TRACES_SAMPLER_ARG");
        if (s.root == MCP_SAMPLE_RATIO && arg) {
            char *end;
            double ratio = strtod(arg, &end);
            /* The specification: a bad argument is logged and otherwise
             * ignored, as if it were unset (a ratio of 1). */
            if (end == arg || *end || !(ratio >= 0.0 && ratio <= 1.0))
                warn(r, "OTEL_TRACES_SAMPLER_ARG ignored: '%.128s' is not a ratio from 0 to 1", arg);
            else s.ratio = ratio;
        }
        opts->sampler = s;
        return MCP_OK;
    }
    /* Samplers the specification names that need what mcpd has not (a
     * remote sampling service) cannot be stood in for by another. */
    if (!strcasecmp(name, "jaeger_remote") || !strcasecmp(name, "parentbased_jaeger_remote") ||
        !strcasecmp(name, "xray"))
        return fail(r, "OTEL_TRACES_SAMPLER: '%.128s' is not supported (use always_on, always_off, traceidratio or their "
                       "parentbased_ forms)", name);
    /* An unknown enum value: the specification says warn and ignore. */
    warn(r, "OTEL_TRACES_SAMPLER ignored: unknown sampler '%.128s'", name);
    return MCP_OK;
}

/* ---- exporter ----------------------------------------------------------------- */

/* url is what the variable says; final, what the exporter will use. */
static int url_check(reader *r, const char *name, const char *url, const char *final) {
    if (!strncasecmp(url, "https://", 8))
        return fail(r, "%s: '%.128s' needs TLS, which the OTLP exporter does not speak; use an http:// endpoint "
                       "(a local collector can forward over TLS)", name, url);
    obs_url parsed;
    if (strncmp(url, "http://", 7) || (final && obs_url_parse(final, &parsed)))
        return fail(r, "%s: '%.128s' is not an http://host[:port][/path] URL", name, url);
    return MCP_OK;
}

/* The base URL with /v1/traces appended to its path, a '/' between them
 * only when the path does not already end with one. */
static int endpoint_join(reader *r, const char *base, const char **out) {
    /* The path ends at a query or fragment, which stay at the end. */
    const char *path = base + 7 + strcspn(base + 7, "/?#");
    size_t head = (size_t)(path - base) + strcspn(path, "?#");
    bool slash = *path == '/' && base[head - 1] == '/';
    size_t n = head + !slash + sizeof SIGNAL_PATH - 1 + strlen(base + head);
    char *url = text_take(r, n + 1);
    if (!url) return fail(r, "OTEL_EXPORTER_OTLP_ENDPOINT: '%.128s' is too long", base);
    snprintf(url, n + 1, "%.*s%s" SIGNAL_PATH "%s", (int)head, base, slash ? "" : "/", base + head);
    *out = url;
    return MCP_OK;
}

static int endpoint_read(reader *r, mcp_tracer_opts *opts, bool *set) {
    const char *v = value_of(r, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    int rc;
    *set = false;
    if (v) {
        /* The signal's own URL is used as given. */
        if ((rc = url_check(r, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v, v))) return rc;
        opts->exporter.endpoint = v;
        *set = true;
    } else if ((v = value_of(r, "OTEL_EXPORTER_OTLP_ENDPOINT"))) {
        if ((rc = url_check(r, "OTEL_EXPORTER_OTLP_ENDPOINT", v, NULL)) ||
            (rc = endpoint_join(r, v, &opts->exporter.endpoint)) ||
            (rc = url_check(r, "OTEL_EXPORTER_OTLP_ENDPOINT", v, opts->exporter.endpoint)))
            return rc;
        *set = true;
    }
    return MCP_OK;
}

static int headers_read(reader *r, mcp_tracer_opts *opts) {
    const char *name, *v = value_pair(r, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &name);
    if (!v) return MCP_OK;
    const char *why = NULL;
    if (!list_parse(r, v, header_take, &why))
        return fail(r, "%s: %s (want name=value,name=value with %%-encoded values)", name, why);
    size_t n = 0;
    while (n < MCP_OTEL_ENV_MAX_HEADERS && r->env->headers[n].name) n++;
    opts->exporter.headers = n ? r->env->headers : NULL;
    opts->exporter.header_count = n;
    return MCP_OK;
}

static int protocol_read(reader *r, mcp_tracer_opts *opts) {
    /* An unknown name counts as unset (the specification's rule for
     * enumerations): the generic variable is read next. */
    static const char *const names[] = {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"};
    for (size_t i = 0; i < 2; i++) {
        const char *name = names[i], *v = value_of(r, name);
        if (!v) continue;
        if (!strcmp(v, "http/protobuf")) opts->exporter.encoding = MCP_OTLP_PROTOBUF;
        else if (!strcmp(v, "http/json")) opts->exporter.encoding = MCP_OTLP_JSON;
        else if (!strcmp(v, "grpc"))
            return fail(r, "%s: grpc is not supported; use http/protobuf or http/json (port 4318 on a collector)", name);
        else {
            warn(r, "%s ignored: unknown protocol '%.128s' (http/protobuf or http/json)", name, v);
            continue;
        }
        return MCP_OK;
    }
    return MCP_OK;
}

/* ---- the whole -------------------------------------------------------------------- */

/* Whether tracing is off altogether; an error for an exporter we lack. */
static int switches_read(reader *r, bool *off) {
    const char *v = value_of(r, "OTEL_SDK_DISABLED");
    *off = false;
    if (v && !strcasecmp(v, "true")) {
        *off = true;
        return MCP_OK;
    }
    /* Only "true" is true; the specification wants a warning for
     * anything but "false" before it is taken as false. */
    if (v && strcasecmp(v, "false")) warn(r, "OTEL_SDK_DISABLED: '%.128s' is neither true nor false, taken as false", v);
    v = value_of(r, "OTEL_TRACES_EXPORTER");
    if (!v) return MCP_OK;
    bool otlp = false, none = false;
    /* The specification allows a comma-separated list of exporters. */
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ","), s = 0;
        while (s < n && is_space(p[s])) s++;
        while (n > s && is_space(p[n - 1])) n--;
        if (n - s == 4 && !strncasecmp(p + s, "otlp", 4)) otlp = true;
        else if (n - s == 4 && !strncasecmp(p + s, "none", 4)) none = true;
        else if (n > s)
            /* Unlike the enum rule's "warn and ignore": ignoring an
             * exporter someone chose would send their spans elsewhere, or
             * to the default collector, without their knowing. */
            return fail(r, "OTEL_TRACES_EXPORTER: '%.*s' is not supported (otlp or none)", (int)(n - s), p + s);
        p += strcspn(p, ",");
        if (*p == ',') p++;
    }
    *off = none && !otlp;
    return MCP_OK;
}

int mcp_otel_env_read(mcp_otel_env *env, mcp_tracer_opts *opts, mcp_getenv_fn getenv_fn, void *user) {
    if (!env || !opts) return MCP_EINVAL;
    memset(env, 0, sizeof *env);
    reader r = {env, getenv_fn ? getenv_fn : process_getenv, user};
    mcp_tracer_opts o = *opts;
    bool off, endpoint = false;
    int rc = switches_read(&r, &off);
    if (rc) return rc;
    if (off) {
        /* A disabled SDK reads nothing else: stray values must not stop a
         * process that was told not to trace. */
        env->disabled = true;
        return MCP_OK;
    }
    timeout_read(&r, &o);
    processor_read(&r, &o);
    if ((rc = sampler_read(&r, &o)) || (rc = endpoint_read(&r, &o, &endpoint)) || (rc = headers_read(&r, &o)) ||
        (rc = protocol_read(&r, &o)))
        return rc;
    /* Last: what the endpoint and headers need of env->text comes first. */
    resource_read(&r, &o);
    env->tracing_enabled = endpoint;
    *opts = o;
    return MCP_OK;
}
