/*
 * `mcpd serve` observability options and their wiring: a tracer exporting
 * to the OTLP endpoint (the options over the OpenTelemetry SDK variables of
 * the environment, so that a deployment configured for OpenTelemetry SDKs
 * configures mcpd too), a metrics registry (with the tracer's own counters
 * and, per scrape, every listener's connection and limit counters), one
 * mcp_obs over both, and the JSON log sink. The server gets the observer;
 * mcp_serve's HTTP transport serves /metrics from it.
 */
#include "app/serve_obs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "mcpd serve" or "mcpd call": both commands take these options. */
static const char *command_of(const app_serve_obs_config *cfg) {
    return cfg && cfg->command ? cfg->command : "mcpd serve";
}

const char app_serve_obs_usage[] =
    "observability:\n"
    "  --otlp-endpoint URL        export a span per request over OTLP/HTTP, e.g.\n"
    "                             http://127.0.0.1:4318/v1/traces\n"
    "  --otlp-header K=V          extra header on every export (repeatable)\n"
    "  --otlp-protocol P          http/json (the default) or http/protobuf (less\n"
    "                             than half the bytes, less CPU per span)\n"
    "  --trace-sample S           always, never, parent (follow the caller's\n"
    "                             sampled flag, sample new traces; the default) or\n"
    "                             a ratio in [0, 1] for new traces\n"
    "  The OpenTelemetry variables OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,\n"
    "  _PROTOCOL, _TIMEOUT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,\n"
    "  OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_*, OTEL_TRACES_EXPORTER and\n"
    "  OTEL_SDK_DISABLED are read first; the config file and these options win\n"
    "  over them. An endpoint in either turns tracing on, unless\n"
    "  OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.\n"
    "  --metrics                  serve Prometheus metrics at /metrics on the\n"
    "                             --http listener, with the counters of every\n"
    "                             listener (label listener=stdio|tcp|http|ws)\n"
    "  --log-format FORMAT        text (default) or json: one JSON object per line\n"
    "                             on stderr, with trace_id and span_id inside a\n"
    "                             request\n"
    "\n";

static int parse_sampler(const char *value, mcp_sampler *out) {
    if (!strcmp(value, "always")) *out = (mcp_sampler){.root = MCP_SAMPLE_ALWAYS_ON};
    else if (!strcmp(value, "never")) *out = (mcp_sampler){.root = MCP_SAMPLE_ALWAYS_OFF};
    else if (!strcmp(value, "parent")) *out = (mcp_sampler){.root = MCP_SAMPLE_ALWAYS_ON, .parent_based = true};
    else {
        errno = 0;
        char *end;
        double r = strtod(value, &end);
        if (errno || end == value || *end || !(r >= 0.0 && r <= 1.0)) return -1;
        *out = (mcp_sampler){.root = MCP_SAMPLE_RATIO, .ratio = r, .parent_based = true};
    }
    return 0;
}

int app_serve_obs_option(app_serve_obs_config *cfg, const char *arg, const char *value) {
    if (!strcmp(arg, "--metrics")) {
        cfg->metrics = true;
        return 1;
    }
    if (strcmp(arg, "--otlp-endpoint") && strcmp(arg, "--otlp-header") && strcmp(arg, "--otlp-protocol") &&
        strcmp(arg, "--trace-sample") && strcmp(arg, "--log-format"))
        return 0;
    if (!value || !*value) {
        fprintf(stderr, "%s: %s needs a value\n", command_of(cfg), arg);
        return -1;
    }
    if (!strcmp(arg, "--otlp-endpoint")) {
        if (strncmp(value, "http://", 7) != 0) {
            fprintf(stderr, "%s: --otlp-endpoint needs an http:// URL, got '%s'\n", command_of(cfg), value);
            return -1;
        }
        cfg->otlp_endpoint = value;
    } else if (!strcmp(arg, "--otlp-header")) {
        const char *eq = strchr(value, '=');
        size_t n = strlen(value);
        char *text = cfg->header_text[cfg->header_count < APP_OBS_MAX_HEADERS ? cfg->header_count : 0];
        bool fits = eq && cfg->header_count < APP_OBS_MAX_HEADERS && n < sizeof cfg->header_text[0];
        if (fits) {
            memcpy(text, value, n + 1);
            text[eq - value] = '\0';
        }
        if (!fits || !mcp_header_name_valid(text) || !mcp_header_value_valid(text + (eq - value) + 1)) {
            fprintf(stderr,
                    "%s: --otlp-header needs NAME=VALUE, NAME an HTTP token, no control characters (at most %d)\n",
                    command_of(cfg), APP_OBS_MAX_HEADERS);
            return -1;
        }
        cfg->headers[cfg->header_count++] = (mcp_header){text, text + (eq - value) + 1};
    } else if (!strcmp(arg, "--otlp-protocol")) {
        /* The names of OTEL_EXPORTER_OTLP_PROTOCOL; grpc is not offered. */
        cfg->otlp_encoding_set = true;
        if (!strcmp(value, "http/protobuf")) {
            cfg->otlp_encoding = MCP_OTLP_PROTOBUF;
        } else if (!strcmp(value, "http/json")) {
            cfg->otlp_encoding = MCP_OTLP_JSON;
        } else {
            fprintf(stderr, "%s: --otlp-protocol needs http/protobuf or http/json, got '%s'\n", command_of(cfg), value);
            return -1;
        }
    } else if (!strcmp(arg, "--trace-sample")) {
        if (parse_sampler(value, &cfg->sampler)) {
            fprintf(stderr, "%s: --trace-sample needs always, never, parent or a ratio from 0 to 1, got '%s'\n",
                    command_of(cfg), value);
            return -1;
        }
        cfg->sampler_set = true;
    } else {
        if (strcmp(value, "json") && strcmp(value, "text")) {
            fprintf(stderr, "%s: --log-format needs json or text, got '%s'\n", command_of(cfg), value);
            return -1;
        }
        cfg->log_json = !strcmp(value, "json");
    }
    return 2;
}

/* The environment's headers, less those the options name again, then the
 * options' own: an option replaces a variable's header of the same name. */
static size_t headers_merge(const mcp_tracer_opts *env, const app_serve_obs_config *cfg, mcp_header *out) {
    size_t n = 0;
    for (size_t i = 0; i < env->exporter.header_count; i++) {
        bool again = false;
        for (size_t j = 0; j < cfg->header_count && !again; j++)
            again = !strcasecmp(env->exporter.headers[i].name, cfg->headers[j].name);
        if (!again) out[n++] = env->exporter.headers[i];
    }
    for (size_t j = 0; j < cfg->header_count; j++) out[n++] = cfg->headers[j];
    return n;
}

typedef struct masked_env {
    const app_serve_obs_config *cfg;
    mcp_getenv_fn get;
    void *user;
} masked_env;

/* The variables a file or command-line setting replaces read as unset, so
 * that a value mcpd could not honour does not stop it when overridden. */
static const char *masked_getenv(void *user, const char *name) {
    const masked_env *m = user;
    if (m->cfg->otlp_endpoint && (!strcmp(name, "OTEL_EXPORTER_OTLP_ENDPOINT") ||
                                  !strcmp(name, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")))
        return NULL;
    if (m->cfg->otlp_encoding_set && (!strcmp(name, "OTEL_EXPORTER_OTLP_PROTOCOL") ||
                                      !strcmp(name, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")))
        return NULL;
    if (m->cfg->sampler_set && (!strcmp(name, "OTEL_TRACES_SAMPLER") || !strcmp(name, "OTEL_TRACES_SAMPLER_ARG")))
        return NULL;
    return m->get ? m->get(m->user, name) : getenv(name);
}

int app_serve_obs_open(const app_serve_obs_config *cfg, app_serve_obs *out) {
    return app_serve_obs_open_env(cfg, NULL, NULL, out);
}

int app_serve_obs_open_env(const app_serve_obs_config *cfg, mcp_getenv_fn getenv_fn, void *user, app_serve_obs *out) {
    memset(out, 0, sizeof *out);
    /* Large (its text and lists) and needed only until mcp_tracer_new copies. */
    mcp_otel_env *env = malloc(sizeof *env);
    if (!env) {
        fprintf(stderr, "%s: out of memory\n", command_of(cfg));
        return 1;
    }
    mcp_tracer_opts opts = {.service_name = "mcpd",
                            .sampler = {.root = MCP_SAMPLE_ALWAYS_ON, .parent_based = true}};
    masked_env masked = {cfg, getenv_fn, user};
    int env_rc = mcp_otel_env_read(env, &opts, masked_getenv, &masked);
    /* The warnings first, also before an error: one may explain it (an
     * unknown traces protocol, then grpc in the generic variable). */
    for (const char *w = env->warnings; *w; w += strlen(w) + 1)
        fprintf(stderr, "%s: warning: %s\n", command_of(cfg), w);
    if (env_rc != 0) {
        fprintf(stderr, "%s: %s\n", command_of(cfg), env->error);
        free(env);
        return 1;
    }
    bool tracing = !env->disabled && (cfg->otlp_endpoint || env->tracing_enabled);
    if (env->disabled && cfg->otlp_endpoint)
        fprintf(stderr, "%s: tracing is off (OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none), "
                        "--otlp-endpoint notwithstanding\n", command_of(cfg));
    if (!tracing && !cfg->metrics && !cfg->log_json) {
        free(env);
        return 0;
    }
    int rc = 0;
    if (tracing) {
        mcp_header headers[MCP_OTEL_ENV_MAX_HEADERS + APP_OBS_MAX_HEADERS];
        if (cfg->otlp_endpoint) opts.exporter.endpoint = cfg->otlp_endpoint;
        opts.exporter.header_count = headers_merge(&opts, cfg, headers);
        opts.exporter.headers = headers;
        if (cfg->otlp_encoding_set) opts.exporter.encoding = cfg->otlp_encoding;
        if (cfg->sampler_set) opts.sampler = cfg->sampler;
        rc = mcp_tracer_new(&opts, &out->tracer);
        if (rc) {
            fprintf(stderr, "%s: could not start the OTLP exporter for '%s': %s\n", command_of(cfg),
                    opts.exporter.endpoint, mcp_strerror(rc));
            free(env);
            return 1;
        }
    }
    free(env);
    if (cfg->metrics) rc = mcp_metrics_new(&out->metrics);
    if (!rc && out->metrics && out->tracer) rc = mcp_metrics_add_collector(out->metrics, mcp_metrics_collect_tracer, out->tracer);
    /* Without a tracer, mcp_obs keeps unsampled spans: they still carry the
     * caller's trace id into the logs. */
    if (!rc) rc = mcp_obs_new(out->tracer, out->metrics, &out->obs);
    if (rc) {
        fprintf(stderr, "%s: could not set up tracing and metrics: %s\n", command_of(cfg), mcp_strerror(rc));
        app_serve_obs_close(out);
        return 1;
    }
    mcp_obs_observer(out->obs, &out->observer_table);
    out->observer = &out->observer_table;
    if (cfg->log_json) mcp_log_set_sink(mcp_obs_log_sink, "mcpd");
    return 0;
}

void app_serve_obs_close(app_serve_obs *so) {
    mcp_log_set_sink(NULL, NULL);
    mcp_obs_free(so->obs);
    mcp_metrics_free(so->metrics);
    mcp_tracer_free(so->tracer);
    memset(so, 0, sizeof *so);
}
