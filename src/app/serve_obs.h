/*
 * Observability of `mcpd serve`: the options that turn on tracing (OTLP),
 * Prometheus metrics at /metrics on the HTTP listener and JSON logs, and
 * the observer, tracer and registry they make.
 *
 *     app_serve_obs_config cfg = {0};
 *     ... per argument: n = app_serve_obs_option(&cfg, arg, value); (1 or 2 used, 0 not ours, -1 bad)
 *     app_serve_obs so;
 *     if (app_serve_obs_open(&cfg, &so)) ...
 *     mcp_server_new(&(mcp_server_opts){ ..., .observer = so.observer });
 *     ...
 *     app_serve_obs_close(&so);   (after mcp_server_free)
 */
#ifndef MCP_APP_SERVE_OBS_H
#define MCP_APP_SERVE_OBS_H

#include "mcp/obs.h"

#define APP_OBS_MAX_HEADERS 16

typedef struct app_serve_obs_config {
    const char *command;         /* what messages are signed with; NULL: "mcpd serve" */
    const char *otlp_endpoint;   /* NULL: no tracing export */
    mcp_otlp_encoding otlp_encoding; /* --otlp-protocol; zero value: JSON */
    bool otlp_encoding_set;      /* given, so it wins over OTEL_EXPORTER_OTLP_PROTOCOL */
    mcp_header headers[APP_OBS_MAX_HEADERS];
    char header_text[APP_OBS_MAX_HEADERS][512];
    size_t header_count;
    mcp_sampler sampler;
    bool sampler_set;
    bool metrics;                /* serve /metrics on the HTTP listener */
    bool log_json;
} app_serve_obs_config;

typedef struct app_serve_obs {
    mcp_tracer *tracer;
    mcp_metrics *metrics;
    mcp_obs *obs;
    mcp_observer observer_table;
    const mcp_observer *observer; /* NULL when nothing is on */
} app_serve_obs;

/* Options: --otlp-endpoint URL, --otlp-header K=V, --otlp-protocol
 * http/json|http/protobuf, --trace-sample
 * RATIO|always|never|parent, --metrics, --log-format json|text. Returns how
 * many arguments it used (1 or 2), 0 when arg is not one of them, -1 after
 * writing why value is bad to stderr. */
int app_serve_obs_option(app_serve_obs_config *cfg, const char *arg, const char *value);
/* The lines of `mcpd serve --help` for these options. */
extern const char app_serve_obs_usage[];
/* The OpenTelemetry SDK variables (mcp_otel_env_read with getenv_fn and
 * user; NULL: the process's environment) come first, the config file and
 * the options in cfg over them: tracing is on when cfg has an endpoint or
 * the environment names one, and off whatever asks for it when
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 * 0, or 1 after writing why to stderr. */
int app_serve_obs_open_env(const app_serve_obs_config *cfg, mcp_getenv_fn getenv_fn, void *user, app_serve_obs *out);
/* The same with the process's environment. */
int app_serve_obs_open(const app_serve_obs_config *cfg, app_serve_obs *out);
void app_serve_obs_close(app_serve_obs *so);

#endif
