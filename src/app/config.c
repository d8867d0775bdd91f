/*
 * `mcpd serve --config FILE`: the file is checked against a table of keys
 * and becomes a list of (option, value) pairs. Values are not range-checked
 * here: serve.c runs them through the same code as the command line, so a
 * file can never accept what the command line refuses, and it names the
 * key when it refuses one.
 */
#include "app/config.h"
#include "mcp/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_SIZE ((size_t)1 << 20)

typedef enum config_kind {
    CONFIG_FLAG,    /* true adds the option, false leaves it out */
    CONFIG_STRING,
    CONFIG_PATH,    /* a string; relative to the file's directory */
    CONFIG_SIZE,    /* a whole number >= 0 */
    CONFIG_STRINGS, /* an array of strings: the option once per element */
    CONFIG_HEADERS, /* an object of strings: the option once per NAME=VALUE */
    CONFIG_SAMPLE,  /* a number or a string */
    CONFIG_GROUP,
} config_kind;

typedef struct config_key {
    const char *name;
    config_kind kind;
    const char *option;
    const struct config_key *members; /* CONFIG_GROUP: ends with a NULL name */
} config_key;

static const config_key tls_keys[] = {
    {"cert", CONFIG_PATH, "--tls-cert", NULL},
    {"key", CONFIG_PATH, "--tls-key", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

static const config_key http_keys[] = {
    {"path", CONFIG_STRING, "--http-path", NULL},
    {"prefer_sse", CONFIG_FLAG, "--http-prefer-sse", NULL},
    {"no_get", CONFIG_FLAG, "--http-no-get", NULL},
    {"allow_hosts", CONFIG_STRINGS, "--http-allow-host", NULL},
    {"allow_origins", CONFIG_STRINGS, "--http-allow-origin", NULL},
    {"sse_retry_ms", CONFIG_SIZE, "--sse-retry-ms", NULL},
    {"ping_interval_ms", CONFIG_SIZE, "--ping-interval", NULL},
    {"ping_timeout_ms", CONFIG_SIZE, "--ping-timeout", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

static const config_key ws_keys[] = {
    {"path", CONFIG_STRING, "--ws-path", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

static const config_key cache_keys[] = {
    {"l1_entries", CONFIG_SIZE, "--cache-l1-entries", NULL},
    {"dir", CONFIG_PATH, "--cache-dir", NULL},
    {"redis", CONFIG_STRING, "--cache-redis", NULL},
    {"ttl_ms", CONFIG_SIZE, "--cache-ttl-ms", NULL},
    {"node_id", CONFIG_STRING, "--node-id", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

static const config_key observability_keys[] = {
    {"otlp_endpoint", CONFIG_STRING, "--otlp-endpoint", NULL},
    {"otlp_headers", CONFIG_HEADERS, "--otlp-header", NULL},
    {"otlp_protocol", CONFIG_STRING, "--otlp-protocol", NULL},
    {"trace_sample", CONFIG_SAMPLE, "--trace-sample", NULL},
    {"metrics", CONFIG_FLAG, "--metrics", NULL},
    {"log_format", CONFIG_STRING, "--log-format", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

static const config_key top_keys[] = {
    {"stdio", CONFIG_FLAG, "--stdio", NULL},
    {"tcp", CONFIG_STRING, "--tcp", NULL},
    {"http", CONFIG_STRING, "--http", NULL},
    {"ws", CONFIG_STRING, "--ws", NULL},
    {"tls", CONFIG_GROUP, NULL, tls_keys},
    {"workers", CONFIG_SIZE, "--workers", NULL},
    {"max_connections", CONFIG_SIZE, "--max-connections", NULL},
    {"idle_timeout_ms", CONFIG_SIZE, "--idle-timeout-ms", NULL},
    {"http_options", CONFIG_GROUP, NULL, http_keys},
    {"ws_options", CONFIG_GROUP, NULL, ws_keys},
    {"cache", CONFIG_GROUP, NULL, cache_keys},
    {"observability", CONFIG_GROUP, NULL, observability_keys},
    {"all_features", CONFIG_FLAG, "--all-features", NULL},
    {"extra_tools", CONFIG_SIZE, "--extra-tools", NULL},
    {"page_size", CONFIG_SIZE, "--page-size", NULL},
    {"max_message_size", CONFIG_SIZE, "--max-message-size", NULL},
    {"log_level", CONFIG_STRING, "--log-level", NULL},
    {NULL, CONFIG_GROUP, NULL, NULL},
};

const char app_serve_config_usage[] =
    "\n"
    "config file:\n"
    "  --config FILE              read options from a JSON file: keys mirror the\n"
    "                             long options (\"tcp\", \"workers\", ...), grouped as\n"
    "                             \"tls\" {cert, key}, \"http_options\" {path,\n"
    "                             prefer_sse, no_get, allow_hosts, allow_origins,\n"
    "                             sse_retry_ms, ping_interval_ms,\n"
    "                             ping_timeout_ms},\n"
    "                             \"ws_options\" {path}, \"cache\" {l1_entries, dir,\n"
    "                             redis, ttl_ms, node_id} and \"observability\"\n"
    "                             {otlp_endpoint, otlp_headers, otlp_protocol,\n"
    "                             trace_sample, metrics, log_format}. Unknown keys\n"
    "                             are errors; relative paths are relative to the\n"
    "                             file; options on the command line override the\n"
    "                             file (a list given there replaces the file's\n"
    "                             list). The OTEL_* variables of the environment\n"
    "                             sit under both: environment, file, command line.\n";

typedef struct config_parser {
    app_serve_config *cfg;
    const char *base_dir;
    const char *source;
} config_parser;

static int config_fail(config_parser *p, const char *key, const char *fmt, ...) MCP_PRINTF(3, 4);

static int config_fail(config_parser *p, const char *key, const char *fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (key)
        snprintf(p->cfg->error, sizeof p->cfg->error, "mcpd serve: %s: key '%s': %s\n", p->source, key, why);
    else
        snprintf(p->cfg->error, sizeof p->cfg->error, "mcpd serve: %s: %s\n", p->source, why);
    return -1;
}

/* value NULL: a flag. */
static int config_append(config_parser *p, const char *key, const char *option, const char *value) {
    app_serve_config *cfg = p->cfg;
    if (!key) return config_fail(p, NULL, "out of memory");
    if (cfg->count == cfg->capacity) {
        size_t capacity = cfg->capacity ? cfg->capacity * 2 : 16;
        app_serve_config_entry *grown = mcp_arena_alloc(&cfg->arena, capacity * sizeof *grown);
        if (!grown) return config_fail(p, NULL, "out of memory");
        if (cfg->count) memcpy(grown, cfg->entries, cfg->count * sizeof *grown);
        cfg->entries = grown;
        cfg->capacity = capacity;
    }
    cfg->entries[cfg->count++] = (app_serve_config_entry){key, option, value};
    return 0;
}

/* A NULL value here is an allocation that failed. */
static int config_add(config_parser *p, const char *key, const char *option, const char *value) {
    return value ? config_append(p, key, option, value) : config_fail(p, key, "out of memory");
}

/* A string value as a C string: embedded NULs would cut it short unseen. */
static const char *config_string(config_parser *p, const mcp_json *v, const char *key) {
    if (!mcp_json_is_string(v)) {
        config_fail(p, key, "expected a string");
        return NULL;
    }
    const char *s = mcp_json_str(v, "");
    if (strlen(s) != mcp_json_str_len(v)) {
        config_fail(p, key, "the string contains a NUL character");
        return NULL;
    }
    return s;
}

static const char *config_type_name(const mcp_json *v) {
    switch (mcp_json_type_of(v)) {
    case MCP_JSON_NULL: return "null";
    case MCP_JSON_FALSE:
    case MCP_JSON_TRUE: return "a boolean";
    case MCP_JSON_NUMBER: return "a number";
    case MCP_JSON_STRING: return "a string";
    case MCP_JSON_ARRAY: return "an array";
    default: return "an object";
    }
}

static int config_value(config_parser *p, const config_key *spec, const mcp_json *v, const char *key) {
    mcp_arena *arena = &p->cfg->arena;
    switch (spec->kind) {
    case CONFIG_FLAG:
        if (!mcp_json_is_bool(v)) return config_fail(p, key, "expected true or false, got %s", config_type_name(v));
        return mcp_json_bool(v, false) ? config_append(p, key, spec->option, NULL) : 0;
    case CONFIG_STRING: {
        const char *s = config_string(p, v, key);
        return s ? config_add(p, key, spec->option, mcp_arena_strdup(arena, s)) : -1;
    }
    case CONFIG_PATH: {
        const char *s = config_string(p, v, key);
        if (!s) return -1;
        if (!*s) return config_fail(p, key, "expected a file path, got an empty string");
        const char *path = s[0] == '/' || !p->base_dir ? mcp_arena_strdup(arena, s)
                                                       : mcp_arena_sprintf(arena, "%s/%s", p->base_dir, s);
        return config_add(p, key, spec->option, path);
    }
    case CONFIG_SIZE:
        if (!mcp_json_is_integer(v) || mcp_json_int(v, -1) < 0)
            return config_fail(p, key, "expected a whole number from 0 up, got %s", config_type_name(v));
        return config_add(p, key, spec->option, mcp_arena_sprintf(arena, "%lld", (long long)mcp_json_int(v, 0)));
    case CONFIG_SAMPLE:
        if (mcp_json_is_number(v)) {
            mcp_str raw = mcp_json_raw(v);
            return config_add(p, key, spec->option, mcp_arena_strndup(arena, raw.ptr, raw.len));
        }
        const char *text = config_string(p, v, key);
        return text ? config_add(p, key, spec->option, mcp_arena_strdup(arena, text)) : -1;
    case CONFIG_STRINGS: {
        if (!mcp_json_is_array(v)) return config_fail(p, key, "expected an array of strings");
        size_t i = 0;
        for (const mcp_json *item = mcp_json_first(v); item; item = mcp_json_next(item), i++) {
            const char *item_key = mcp_arena_sprintf(arena, "%s[%zu]", key, i);
            const char *s = config_string(p, item, item_key ? item_key : key);
            if (!s || config_add(p, item_key, spec->option, mcp_arena_strdup(arena, s))) return -1;
        }
        return 0;
    }
    case CONFIG_HEADERS: {
        if (!mcp_json_is_object(v)) return config_fail(p, key, "expected an object of NAME: VALUE strings");
        for (const mcp_json *item = mcp_json_first(v); item; item = mcp_json_next(item)) {
            mcp_str name = mcp_json_key(item);
            const char *item_key = mcp_arena_sprintf(arena, "%s.%.*s", key, (int)name.len, name.ptr);
            const char *s = config_string(p, item, item_key ? item_key : key);
            if (!s) return -1;
            if (!name.len || memchr(name.ptr, '=', name.len) || memchr(name.ptr, '\0', name.len))
                return config_fail(p, item_key, "a header name must be non-empty, without '=' or NUL");
            const char *pair = mcp_arena_sprintf(arena, "%.*s=%s", (int)name.len, name.ptr, s);
            if (config_add(p, item_key, spec->option, pair)) return -1;
        }
        return 0;
    }
    case CONFIG_GROUP: break;
    }
    return config_fail(p, key, "internal error: no handler for this key");
}

static int config_object(config_parser *p, const config_key *keys, const mcp_json *obj, const char *prefix) {
    mcp_arena *arena = &p->cfg->arena;
    if (!mcp_json_is_object(obj))
        return prefix ? config_fail(p, prefix, "expected an object, got %s", config_type_name(obj))
                      : config_fail(p, NULL, "the file must hold a JSON object, it holds %s", config_type_name(obj));
    for (const mcp_json *member = mcp_json_first(obj); member; member = mcp_json_next(member)) {
        mcp_str name = mcp_json_key(member);
        const char *key = prefix ? mcp_arena_sprintf(arena, "%s.%.*s", prefix, (int)name.len, name.ptr)
                                 : mcp_arena_strndup(arena, name.ptr, name.len);
        if (!key) return config_fail(p, NULL, "out of memory");
        /* A key given twice would let one silently win over the other. */
        for (const mcp_json *earlier = mcp_json_first(obj); earlier != member; earlier = mcp_json_next(earlier)) {
            mcp_str other = mcp_json_key(earlier);
            if (other.len == name.len && !memcmp(other.ptr, name.ptr, name.len))
                return config_fail(p, key, "given twice");
        }
        const config_key *spec = keys;
        while (spec->name && (strlen(spec->name) != name.len || memcmp(spec->name, name.ptr, name.len))) spec++;
        if (!spec->name) return config_fail(p, key, "unknown key");
        int rc = spec->kind == CONFIG_GROUP ? config_object(p, spec->members, member, key)
                                            : config_value(p, spec, member, key);
        if (rc) return rc;
    }
    return 0;
}

int app_serve_config_parse(app_serve_config *cfg, const char *text, size_t len, const char *base_dir,
                           const char *source) {
    memset(cfg, 0, sizeof *cfg);
    mcp_arena_init(&cfg->arena, 4096);
    config_parser p = {cfg, base_dir, source ? source : "config"};
    mcp_json *root = NULL;
    mcp_json_error err = {0};
    if (mcp_json_parse(&cfg->arena, text, len, &(mcp_json_opts){.max_depth = 16, .max_size = CONFIG_MAX_SIZE},
                       &root, &err))
        return config_fail(&p, NULL, "not valid JSON at byte %zu: %s", err.offset, err.message);
    return config_object(&p, top_keys, root, NULL);
}

int app_serve_config_load(app_serve_config *cfg, const char *path) {
    char *dir = NULL, *text = NULL;
    size_t len = 0;
    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (f) {
        text = malloc(CONFIG_MAX_SIZE + 1);
        if (text) len = fread(text, 1, CONFIG_MAX_SIZE + 1, f);
    }
    const char *slash = strrchr(path, '/');
    if (slash) {
        dir = malloc((size_t)(slash - path) + 2);
        if (dir) {
            size_t n = slash == path ? 1 : (size_t)(slash - path);
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!f || !text || ferror(f) || len > CONFIG_MAX_SIZE || (slash && !dir)) {
        memset(cfg, 0, sizeof *cfg);
        mcp_arena_init(&cfg->arena, 4096);
        snprintf(cfg->error, sizeof cfg->error, "mcpd serve: --config %s: %s\n", path,
                 !f ? strerror(errno) : len > CONFIG_MAX_SIZE ? "larger than 1 MiB" : "could not read it");
    } else {
        rc = app_serve_config_parse(cfg, text, len, dir, path);
    }
    if (f) fclose(f);
    free(text);
    free(dir);
    return rc;
}

void app_serve_config_free(app_serve_config *cfg) {
    mcp_arena_free(&cfg->arena);
    cfg->entries = NULL;
    cfg->count = cfg->capacity = 0;
}
