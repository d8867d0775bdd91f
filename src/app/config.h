/*
 * The config file of `mcpd serve --config FILE`: a JSON object whose keys
 * mirror the long options, grouped where the options group (tls, http,
 * ws, cache, observability). Loading it checks every key and type and
 * turns the file into the option/value pairs the command line would have
 * given, so that one parser validates both and the command line, applied
 * after, overrides the file.
 *
 *     app_serve_config cfg;
 *     if (app_serve_config_load(&cfg, path)) { fputs(cfg.error, stderr); ... exit 2 }
 *     for (size_t i = 0; i < cfg.count; i++)
 *         apply(cfg.entries[i].option, cfg.entries[i].value);  (name entries[i].key on error)
 *     app_serve_config_free(&cfg);   (after the values are no longer used)
 *
 * Relative file paths in the file (tls.cert, tls.key, cache.dir) are taken
 * relative to the file's own directory.
 */
#ifndef MCP_APP_CONFIG_H
#define MCP_APP_CONFIG_H

#include "mcp/base.h"

typedef struct app_serve_config_entry {
    const char *key;    /* path of the key in the file, e.g. "http.allow_hosts[1]" */
    const char *option; /* the long option it stands for, e.g. "--http-allow-host" */
    const char *value;  /* NULL for a flag */
} app_serve_config_entry;

typedef struct app_serve_config {
    mcp_arena arena; /* owns entries and every string they point at */
    app_serve_config_entry *entries;
    size_t count, capacity;
    char error[512]; /* after a failure: one line naming the file and key */
} app_serve_config;

/* Read and check the file at path. 0, or -1 with cfg->error set; either
 * way app_serve_config_free must be called. */
int app_serve_config_load(app_serve_config *cfg, const char *path);
/* The same on text already in memory; base_dir resolves relative paths
 * and source names the text in error messages. */
int app_serve_config_parse(app_serve_config *cfg, const char *text, size_t len, const char *base_dir,
                           const char *source);
void app_serve_config_free(app_serve_config *cfg);

/* The lines of `mcpd serve --help` about the file. */
extern const char app_serve_config_usage[];

#endif
