/*
 * mcpd serve: the demo catalog (demo.c) on the transports the options name.
 * Only stdio exists so far; the network transports are refused by name with
 * exit code 2 rather than silently ignored, so a script that asks for one
 * learns at once that it did not get it.
 */
#include "app/app.h"
#include "app/demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_usage(FILE *out) {
    fputs("usage: mcpd serve --stdio [options]\n"
          "\n"
          "Serve the demo catalog over MCP: tools echo, add and slow, the resource\n"
          "mcpd://demo/readme, the template mcpd://demo/greeting/{name} and the prompt\n"
          "review. stdout carries only protocol messages; logs go to stderr.\n"
          "\n"
          "transports:\n"
          "  --stdio                    newline-delimited JSON on stdin/stdout; serving\n"
          "                             ends at end of input\n"
          "  --tcp HOST:PORT            (not implemented yet)\n"
          "  --http HOST:PORT           (not implemented yet)\n"
          "  --ws HOST:PORT             (not implemented yet)\n"
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

typedef struct serve_options {
    bool stdio;
    bool all_features;
    size_t extra_tools;
    size_t page_size;
    size_t max_message_size;
} serve_options;

/* Returns -1 to continue serving, or the exit code to stop with. */
static int serve_parse(int argc, char **argv, serve_options *opts) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            serve_usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--stdio")) {
            opts->stdio = true;
        } else if (!strcmp(arg, "--tcp") || !strcmp(arg, "--http") || !strcmp(arg, "--ws")) {
            fprintf(stderr, "mcpd serve: the %s transport is not implemented yet; use --stdio\n", arg + 2);
            return 2;
        } else if (!strcmp(arg, "--all-features")) {
            opts->all_features = true;
        } else if (!strcmp(arg, "--extra-tools")) {
            if (parse_size(arg, value, 0, 100000, &opts->extra_tools)) return 2;
            i++;
        } else if (!strcmp(arg, "--page-size")) {
            if (parse_size(arg, value, 1, 10000, &opts->page_size)) return 2;
            i++;
        } else if (!strcmp(arg, "--max-message-size")) {
            if (parse_size(arg, value, 1024, (size_t)1 << 30, &opts->max_message_size)) return 2;
            i++;
        } else if (!strcmp(arg, "--log-level")) {
            mcp_log_level level;
            if (!value || mcp_log_level_parse(value, &level)) {
                fprintf(stderr, "mcpd serve: --log-level needs one of debug, info, notice, warning, error\n");
                return 2;
            }
            mcp_log_set_level(level);
            i++;
        } else {
            fprintf(stderr, "mcpd serve: unknown option '%s'\n\n", arg);
            serve_usage(stderr);
            return 2;
        }
    }
    if (!opts->stdio) {
        fputs("mcpd serve: choose a transport (--stdio)\n\n", stderr);
        serve_usage(stderr);
        return 2;
    }
    return -1;
}

int app_serve(int argc, char **argv) {
    serve_options opts = {0};
    int code = serve_parse(argc, argv, &opts);
    if (code >= 0) return code;

    mcp_server *server = mcp_server_new(&(mcp_server_opts){
        .name = "mcpd",
        .version = MCP_VERSION_STRING,
        .title = "mcpd demo server",
        .instructions = "A demo catalog: echo, add and slow tools, a readme resource, a greeting "
                        "template and a review prompt.",
        .page_size = opts.page_size,
        .max_message_size = opts.max_message_size,
    });
    if (!server) {
        fputs("mcpd serve: could not create the server (out of memory)\n", stderr);
        return 1;
    }
    int rc = app_demo_register(server, opts.extra_tools);
    if (!rc && opts.all_features) rc = app_demo_register_features(server);
    if (rc) {
        fprintf(stderr, "mcpd serve: could not register the demo catalog: %s\n", mcp_strerror(rc));
        mcp_server_free(server);
        return 1;
    }
    mcp_log(MCP_LOG_INFO, "serve: mcpd %s on stdio (%zu tools)", MCP_VERSION_STRING,
            3 + opts.extra_tools + (opts.all_features ? 3 : 0));
    rc = mcp_serve(server, &(mcp_listen){.stdio = true, .max_message_size = opts.max_message_size});
    mcp_server_free(server);
    if (rc && rc != MCP_ECLOSED) {
        fprintf(stderr, "mcpd serve: %s\n", mcp_strerror(rc));
        return 1;
    }
    return 0;
}
