/* jansson behind the json_peer calls: json_loadb, json_dumps(JSON_COMPACT). */
#include "json_peers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void *jansson_open(void) {
    return (void *)1;
}

static void jansson_close(void *ctx) {
    (void)ctx;
}

static void *jansson_parse(void *ctx, const char *text, size_t len) {
    (void)ctx;
    json_error_t err;
    return json_loadb(text, len, 0, &err);
}

static void jansson_release(void *ctx, void *doc) {
    (void)ctx;
    json_decref(doc);
}

static size_t jansson_serialize(void *ctx, void *doc) {
    (void)ctx;
    char *out = json_dumps(doc, JSON_COMPACT);
    if (!out) return 0;
    size_t n = strlen(out);
    free(out);
    return n;
}

const json_peer bench_json_peer_jansson = {"jansson", jansson_open, jansson_close, jansson_parse, jansson_release,
                                           jansson_serialize};
