/* cJSON behind the json_peer calls: parse with length, print unformatted. */
#include "json_peers.h"

#include <cjson/cJSON.h>

static void *cjson_open(void) {
    return (void *)1; /* cJSON keeps no context */
}

static void cjson_close(void *ctx) {
    (void)ctx;
}

static void *cjson_parse(void *ctx, const char *text, size_t len) {
    (void)ctx;
    return cJSON_ParseWithLength(text, len);
}

static void cjson_release(void *ctx, void *doc) {
    (void)ctx;
    cJSON_Delete(doc);
}

static size_t cjson_serialize(void *ctx, void *doc) {
    (void)ctx;
    char *out = cJSON_PrintUnformatted(doc);
    if (!out) return 0;
    size_t n = 0;
    while (out[n]) n++;
    cJSON_free(out);
    return n;
}

const json_peer bench_json_peer_cjson = {"cjson", cjson_open, cjson_close, cjson_parse, cjson_release,
                                         cjson_serialize};
