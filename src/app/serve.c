/*
 * mcpd serve: the demo catalog (demo.c) on the transports the options name:
 * stdio, NDJSON over TCP, Streamable HTTP and WebSocket, the network ones
 * optionally over TLS. Every bad option is refused by name with exit code
 * 2 before anything listens. Options may also come from a JSON file
 * (--config, config.c): its keys are turned into options and go through
 * serve_option like argv, before argv, so the command line wins.
 */
#include "app/app.h"
#include "app/config.h"
#include "app/demo.h"
#include "app/serve_obs.h"
#include "app/serve_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_usage(FILE *out) {
    fputs("usage: mcpd serve (--stdio | --tcp HOST:PORT | --http HOST:PORT | --ws HOST:PORT)... [options]\n"
          "       mcpd serve --config FILE [options]\n"
          "\n"
          "Serve the demo catalog over MCP: tools echo, add and slow, the resource\n"
          "mcpd://demo/readme, the template mcpd://demo/greeting/{name} and the prompt\n"
          "review. stdout carries only protocol messages; logs go to stderr.\n"
          "\n"
          "transports:\n"
          "  --stdio                    newline-delimited JSON on stdin/stdout; serving\n"
          "                             ends at end of input\n"
          "  --tcp HOST:PORT            newline-delimited JSON over TCP, e.g. 127.0.0.1:7700\n"
          "  --http HOST:PORT           Streamable HTTP (both eras) at /mcp, e.g.\n"
          "                             127.0.0.1:7800; only localhost Host and Origin\n"
          "                             headers are accepted unless allowed below\n"
          "  --ws HOST:PORT             WebSocket (one JSON-RPC message per text\n"
          "                             message) at /mcp, subprotocol \"mcp\", e.g.\n"
          "                             127.0.0.1:7900; Host and Origin checked as for\n"
          "                             --http (the --http-allow-* lists apply)\n"
          "  Network transports run until SIGTERM or SIGINT, then finish the\n"
          "  requests in flight; with --stdio too, serving ends with stdin.\n"
          "\n"
          "network options:\n"
          "  --workers N                worker loops (default: one per core)\n"
          "  --max-connections N        connections accepted at once (default 10000)\n"
          "  --idle-timeout-ms MS       close idle connections (default 300000)\n"
          "  --http-path PATH           the MCP endpoint (default /mcp)\n"
          "  --http-prefer-sse          answer POSTs as SSE streams when the client\n"
          "                             accepts both JSON and SSE\n"
          "  --http-no-get              refuse GET streams (405)\n"
          "  --http-allow-host HOST     accept this Host header too (repeatable)\n"
          "  --http-allow-origin ORIGIN accept this Origin too (repeatable)\n"
          "  --sse-retry-ms MS          the retry: time resumable SSE streams tell\n"
          "                             clients to wait before reconnecting (default\n"
          "                             1000)\n"
          "  --ping-interval MS         ping each session that holds a GET stream this\n"
          "                             often (default 0: never)\n"
          "  --ping-timeout MS          drop a session whose ping stays unanswered this\n"
          "                             long (default: the interval); needs\n"
          "                             --ping-interval. Both are checked once a second\n"
          "  --ws-path PATH             the WebSocket endpoint (default /mcp)\n"
          "  --tls-cert FILE            serve --tcp, --http and --ws over TLS (1.2 or\n"
          "  --tls-key FILE             later) with this PEM certificate chain and key\n"
          "\n"
          "result cache (resources/read, and tools/call of tools annotated readOnlyHint\n"
          "and idempotentHint, answered from the cache while fresh):\n"
          "  --cache-l1-entries N       turn it on, with N results in memory\n"
          "  --cache-dir DIR            also keep results on disk (LMDB) in DIR\n"
          "  --cache-redis HOST:PORT    also share results through Redis, and drop\n"
          "                             them on every node when one invalidates\n"
          "  --cache-ttl-ms MS          freshness of results that name none (default\n"
          "                             60000)\n"
          "  --node-id ID               this node's name on the invalidation channel\n"
          "                             (default: random)\n"
          "  Any of the --cache-* options turns the cache on.\n"
          "\n"
          "options:\n"
          "  --all-features             also register the tools confirm (elicitation),\n"
          "                             job (may run as a task) and log (log messages)\n"
          "  --extra-tools N            also register N filler tools (extra_0001 ...), to\n"
          "                             exercise pagination (default 0)\n"
          "  --page-size N              items per list page (default 50)\n"
          "  --max-message-size BYTES   largest accepted message (default 4194304)\n"
          "  --log-level LEVEL          debug, info, notice, warning or error (default\n"
          "                             from MCPD_LOG, else info)\n"
          "  -h, --help                 show this help\n",
          out);
    fputs(app_serve_obs_usage, out);
    fputs(app_serve_config_usage, out);
}

/* Strict unsigned parse: digits only, within [min, max]. */
static int parse_size(const char *option, const char *text, size_t min, size_t max, size_t *out) {
    if (!text || !*text || text[0] == '-' || text[0] == '+') {
        fprintf(stderr, "mcpd serve: %s needs a number\n", option);
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "mcpd serve: %s must be a whole number from %zu to %zu, got '%s'\n", option, min, max,
                text);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

#define SERVE_MAX_ALLOWED 16

typedef struct serve_options {
    bool stdio;
    const char *tcp;
    const char *http;
    const char *ws;
    const char *tls_cert;
    const char *tls_key;
    mcp_ws_opts ws_opts;
    size_t workers;
    size_t max_connections;
    size_t idle_timeout_ms;
    mcp_http_opts http_opts;
    size_t sse_retry_ms, ping_interval_ms, ping_timeout_ms; /* 0: not given */
    bool ping_interval_given;
    const char *allowed_hosts[SERVE_MAX_ALLOWED + 1];
    const char *allowed_origins[SERVE_MAX_ALLOWED + 1];
    size_t allowed_host_count, allowed_origin_count;
    bool all_features;
    size_t extra_tools;
    size_t page_size;
    size_t max_message_size;
    app_serve_obs_config obs;
    bool cache;
    app_serve_cache_config cache_config;
    const char *config_path;
    /* The lists still hold only the config file's items. */
    bool hosts_from_config, origins_from_config, headers_from_config;
} serve_options;

/* One option, from the command line or the config file. Returns how many
 * arguments it used (1 or 2), 0 when arg is no option of ours, or -1 after
 * writing why to stderr. */
static int serve_option(serve_options *opts, const char *arg, const char *value) {
    int used;
    if (!strcmp(arg, "--config")) {
        if (!value || !*value) {
            fputs("mcpd serve: --config needs a file\n", stderr);
            return -1;
        }
        if (opts->config_path && strcmp(opts->config_path, value)) {
            fputs("mcpd serve: --config given twice\n", stderr);
            return -1;
        }
        opts->config_path = value;
        return 2;
    } else if (!strcmp(arg, "--stdio")) {
        opts->stdio = true;
    } else if (!strcmp(arg, "--tcp") || !strcmp(arg, "--http") || !strcmp(arg, "--ws")) {
        if (!value || !*value || !strchr(value, ':')) {
            fprintf(stderr, "mcpd serve: %s needs HOST:PORT, e.g. 127.0.0.1:7700\n", arg);
            return -1;
        }
        if (arg[2] == 't') opts->tcp = value;
        else if (arg[2] == 'h') opts->http = value;
        else opts->ws = value;
        return 2;
    } else if (!strcmp(arg, "--tls-cert") || !strcmp(arg, "--tls-key")) {
        if (!value || !*value) {
            fprintf(stderr, "mcpd serve: %s needs a file\n", arg);
            return -1;
        }
        if (!strcmp(arg, "--tls-cert")) opts->tls_cert = value;
        else opts->tls_key = value;
        return 2;
    } else if (!strcmp(arg, "--ws-path") || !strcmp(arg, "--http-path")) {
        if (!value || value[0] != '/') {
            fprintf(stderr, "mcpd serve: %s needs a path starting with '/'\n", arg);
            return -1;
        }
        if (!strcmp(arg, "--ws-path")) opts->ws_opts.path = value;
        else opts->http_opts.path = value;
        return 2;
    } else if (!strcmp(arg, "--workers")) {
        if (parse_size(arg, value, 1, 256, &opts->workers)) return -1;
        return 2;
    } else if (!strcmp(arg, "--max-connections")) {
        if (parse_size(arg, value, 1, 1000000, &opts->max_connections)) return -1;
        return 2;
    } else if (!strcmp(arg, "--idle-timeout-ms")) {
        if (parse_size(arg, value, 1, 86400000, &opts->idle_timeout_ms)) return -1;
        return 2;
    } else if (!strcmp(arg, "--sse-retry-ms")) {
        if (parse_size(arg, value, 1, 3600000, &opts->sse_retry_ms)) return -1;
        return 2;
    } else if (!strcmp(arg, "--ping-interval")) {
        /* 0 is allowed so that the command line can turn off a file's pings. */
        if (parse_size(arg, value, 0, 86400000, &opts->ping_interval_ms)) return -1;
        opts->ping_interval_given = true;
        return 2;
    } else if (!strcmp(arg, "--ping-timeout")) {
        if (parse_size(arg, value, 1, 86400000, &opts->ping_timeout_ms)) return -1;
        return 2;
    } else if (!strcmp(arg, "--http-prefer-sse")) {
        opts->http_opts.prefer_sse = true;
    } else if (!strcmp(arg, "--http-no-get")) {
        opts->http_opts.disable_get_stream = true;
    } else if (!strcmp(arg, "--http-allow-host") || !strcmp(arg, "--http-allow-origin")) {
        bool host = !strcmp(arg, "--http-allow-host");
        size_t *n = host ? &opts->allowed_host_count : &opts->allowed_origin_count;
        bool *from_config = host ? &opts->hosts_from_config : &opts->origins_from_config;
        if (*from_config) {
            /* A list on the command line replaces the file's list. */
            *n = 0;
            *from_config = false;
        }
        if (!value || !*value || *n == SERVE_MAX_ALLOWED) {
            fprintf(stderr, "mcpd serve: %s needs a value (at most %d of them)\n", arg, SERVE_MAX_ALLOWED);
            return -1;
        }
        (host ? opts->allowed_hosts : opts->allowed_origins)[(*n)++] = value;
        return 2;
    } else if (!strcmp(arg, "--all-features")) {
        opts->all_features = true;
    } else if (!strcmp(arg, "--extra-tools")) {
        if (parse_size(arg, value, 0, 100000, &opts->extra_tools)) return -1;
        return 2;
    } else if (!strcmp(arg, "--page-size")) {
        if (parse_size(arg, value, 1, 10000, &opts->page_size)) return -1;
        return 2;
    } else if (!strcmp(arg, "--max-message-size")) {
        if (parse_size(arg, value, 1024, (size_t)1 << 30, &opts->max_message_size)) return -1;
        return 2;
    } else if (!strcmp(arg, "--cache-l1-entries")) {
        if (parse_size(arg, value, 1, (size_t)1 << 30, &opts->cache_config.l1_entries)) return -1;
        opts->cache = true;
        return 2;
    } else if (!strcmp(arg, "--cache-ttl-ms")) {
        size_t ttl;
        if (parse_size(arg, value, 1, (size_t)7 * 86400000, &ttl)) return -1;
        opts->cache_config.ttl_ms = ttl;
        opts->cache = true;
        return 2;
    } else if (!strcmp(arg, "--cache-dir") || !strcmp(arg, "--node-id")) {
        if (!value || !*value) {
            fprintf(stderr, "mcpd serve: %s needs a value\n", arg);
            return -1;
        }
        if (arg[2] == 'c') {
            opts->cache_config.dir = value;
            opts->cache = true;
        } else if (strlen(value) > 64 || strpbrk(value, " \t\r\n")) {
            fputs("mcpd serve: --node-id takes up to 64 bytes without spaces\n", stderr);
            return -1;
        } else {
            opts->cache_config.node_id = value;
        }
        return 2;
    } else if (!strcmp(arg, "--cache-redis")) {
        if (!value || !*value || !strchr(value, ':')) {
            fputs("mcpd serve: --cache-redis needs HOST:PORT, e.g. 127.0.0.1:6379\n", stderr);
            return -1;
        }
        opts->cache_config.redis = value;
        opts->cache = true;
        return 2;
    } else if (!strcmp(arg, "--otlp-header") && opts->headers_from_config) {
        /* A list on the command line replaces the file's list. */
        opts->obs.header_count = 0;
        opts->headers_from_config = false;
        return serve_option(opts, arg, value);
    } else if ((used = app_serve_obs_option(&opts->obs, arg, value)) != 0) {
        return used;
    } else if (!strcmp(arg, "--log-level")) {
        mcp_log_level level;
        if (!value || mcp_log_level_parse(value, &level)) {
            fprintf(stderr, "mcpd serve: --log-level needs one of debug, info, notice, warning, error\n");
            return -1;
        }
        mcp_log_set_level(level);
        return 2;
    } else {
        return 0;
    }
    return 1;
}

/* Every argument in order; stops at the first bad one. */
static int serve_parse_args(int argc, char **argv, serve_options *opts) {
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int used = serve_option(opts, argv[i], value);
        if (used < 0) return 2;
        if (used == 0) {
            fprintf(stderr, "mcpd serve: unknown option '%s'\n\n", argv[i]);
            serve_usage(stderr);
            return 2;
        }
        i += used - 1;
    }
    return -1;
}

/* The file's options first, then the command line's over them. The
 * command line is read twice: once to find --config (and refuse a bad
 * argument before the file is opened), once to override the file. */
static int serve_parse(int argc, char **argv, serve_options *opts, app_serve_config *config) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            serve_usage(stdout);
            return 0;
        }
    }
    serve_options first = {0};
    int code = serve_parse_args(argc, argv, &first);
    if (code >= 0) return code;
    if (first.config_path) {
        if (app_serve_config_load(config, first.config_path)) {
            fputs(config->error, stderr);
            return 2;
        }
        for (size_t i = 0; i < config->count; i++) {
            const app_serve_config_entry *e = &config->entries[i];
            if (serve_option(opts, e->option, e->value) <= 0) {
                fprintf(stderr, "mcpd serve: %s: key '%s' has a bad value\n", first.config_path, e->key);
                return 2;
            }
        }
        opts->hosts_from_config = opts->allowed_host_count > 0;
        opts->origins_from_config = opts->allowed_origin_count > 0;
        opts->headers_from_config = opts->obs.header_count > 0;
    }
    code = serve_parse_args(argc, argv, opts);
    if (code >= 0) return code;
    if (!opts->stdio && !opts->tcp && !opts->http && !opts->ws) {
        fputs("mcpd serve: choose a transport (--stdio, --tcp, --http or --ws)\n\n", stderr);
        serve_usage(stderr);
        return 2;
    }
    if (!opts->tls_cert != !opts->tls_key) {
        fputs("mcpd serve: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    if (opts->cache_config.node_id && !opts->cache_config.redis) {
        fputs("mcpd serve: --node-id names this node to other nodes: it needs --cache-redis\n", stderr);
        return 2;
    }
    if (opts->obs.metrics && !opts->http) {
        fputs("mcpd serve: --metrics serves /metrics on the --http listener; give --http\n", stderr);
        return 2;
    }
    if ((opts->sse_retry_ms || opts->ping_interval_given || opts->ping_timeout_ms) && !opts->http) {
        fputs("mcpd serve: --sse-retry-ms, --ping-interval and --ping-timeout apply to --http; give --http\n",
              stderr);
        return 2;
    }
    if (opts->ping_timeout_ms && !opts->ping_interval_ms) {
        fputs("mcpd serve: --ping-timeout needs --ping-interval above 0 (no pings, nothing to time out)\n", stderr);
        return 2;
    }
    if (opts->ping_interval_ms && opts->http_opts.disable_get_stream) {
        fputs("mcpd serve: --ping-interval pings sessions over their GET stream, which --http-no-get refuses\n",
              stderr);
        return 2;
    }
    if (opts->tls_cert && !opts->tcp && !opts->http && !opts->ws) {
        fputs("mcpd serve: --tls-cert applies to --tcp, --http or --ws; none was given\n", stderr);
        return 2;
    }
    return -1;
}

static int serve_run(serve_options opts) {
    app_serve_obs so;
    if (app_serve_obs_open(&opts.obs, &so)) return 1;

    app_serve_cache cache = {0};
    if (opts.cache && app_serve_cache_open(&opts.cache_config, &cache)) {
        app_serve_obs_close(&so);
        return 1;
    }
    if (so.metrics && cache.cache) mcp_metrics_add_collector(so.metrics, mcp_metrics_collect_cache, cache.cache);
    if (so.metrics && cache.l3) mcp_metrics_add_collector(so.metrics, mcp_metrics_collect_cache_l3, cache.l3);
    mcp_server *server = mcp_server_new(&(mcp_server_opts){
        .name = "mcpd",
        .observer = so.observer,
        .version = MCP_VERSION_STRING,
        .title = "mcpd demo server",
        .instructions = "A demo catalog: echo, add and slow tools, a readme resource, a greeting "
                        "template and a review prompt.",
        .page_size = opts.page_size,
        .max_message_size = opts.max_message_size,
        .result_cache = cache.results,
    });
    if (!server) {
        fputs("mcpd serve: could not create the server (out of memory)\n", stderr);
        app_serve_cache_close(&cache);
        app_serve_obs_close(&so);
        return 1;
    }
    int rc = app_demo_register(server, opts.extra_tools);
    if (!rc && opts.all_features) rc = app_demo_register_features(server);
    if (rc) {
        fprintf(stderr, "mcpd serve: could not register the demo catalog: %s\n", mcp_strerror(rc));
        mcp_server_free(server);
        app_serve_cache_close(&cache);
        app_serve_obs_close(&so);
        return 1;
    }
    if (opts.cache)
        mcp_log(MCP_LOG_INFO, "serve: result cache on: L1 %zu entries%s%s%s%s", opts.cache_config.l1_entries
                ? opts.cache_config.l1_entries : 65536, opts.cache_config.dir ? ", L2 in " : "",
                opts.cache_config.dir ? opts.cache_config.dir : "", opts.cache_config.redis ? ", L3 at " : "",
                opts.cache_config.redis ? opts.cache_config.redis : "");
    mcp_log(MCP_LOG_INFO, "serve: mcpd %s on%s%s%s%s%s%s%s%s (%zu tools)", MCP_VERSION_STRING,
            opts.stdio ? " stdio" : "", opts.tcp ? " tcp " : "", opts.tcp ? opts.tcp : "",
            opts.http ? " http " : "", opts.http ? opts.http : "", opts.ws ? " ws " : "", opts.ws ? opts.ws : "",
            opts.tls_cert ? " with TLS" : "", 3 + opts.extra_tools + (opts.all_features ? 3 : 0));
    opts.http_opts.sse_retry_ms = (unsigned)opts.sse_retry_ms;
    opts.http_opts.ping_interval_ms = (unsigned)opts.ping_interval_ms;
    opts.http_opts.ping_timeout_ms = (unsigned)opts.ping_timeout_ms;
    if (opts.allowed_host_count) opts.http_opts.allowed_hosts = opts.ws_opts.allowed_hosts = opts.allowed_hosts;
    if (opts.allowed_origin_count)
        opts.http_opts.allowed_origins = opts.ws_opts.allowed_origins = opts.allowed_origins;
    rc = mcp_serve(server, &(mcp_listen){
                               .stdio = opts.stdio,
                               .tcp = opts.tcp,
                               .http = opts.http,
                               .ws = opts.ws,
                               .tls_cert = opts.tls_cert,
                               .tls_key = opts.tls_key,
                               .ws_opts = &opts.ws_opts,
                               .workers = (unsigned)opts.workers,
                               .max_connections = (unsigned)opts.max_connections,
                               .idle_timeout_ms = (unsigned)opts.idle_timeout_ms,
                               .max_message_size = opts.max_message_size,
                               .http_opts = &opts.http_opts,
                           });
    mcp_server_free(server);
    app_serve_cache_close(&cache);
    app_serve_obs_close(&so);
    if (rc && rc != MCP_ECLOSED) {
        fprintf(stderr, "mcpd serve: %s\n", mcp_strerror(rc));
        return 1;
    }
    return 0;
}

int app_serve(int argc, char **argv) {
    serve_options opts = {0};
    app_serve_config config = {0};
    int code = serve_parse(argc, argv, &opts, &config);
    if (code < 0) code = serve_run(opts);
    app_serve_config_free(&config);
    return code;
}
