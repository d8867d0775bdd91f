/* json-c behind the json_peer calls: one reused tokener per task, plain
 * output without escaping '/', as the other libraries write it. */
#include "json_peers.h"

#include <json-c/json.h>

static void *jsonc_open(void) {
    return json_tokener_new();
}

static void jsonc_close(void *ctx) {
    if (ctx) json_tokener_free(ctx);
}

static void *jsonc_parse(void *ctx, const char *text, size_t len) {
    json_tokener *tok = ctx;
    json_tokener_reset(tok);
    json_object *doc = json_tokener_parse_ex(tok, text, (int)len);
    if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
        if (doc) json_object_put(doc);
        return NULL;
    }
    return doc;
}

static void jsonc_release(void *ctx, void *doc) {
    (void)ctx;
    json_object_put(doc);
}

static size_t jsonc_serialize(void *ctx, void *doc) {
    (void)ctx;
    size_t n = 0;
    /* json-c keeps the text inside the object and rebuilds it on every call. */
    const char *out = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    return out ? n : 0;
}

const json_peer bench_json_peer_jsonc = {"jsonc", jsonc_open, jsonc_close, jsonc_parse, jsonc_release,
                                         jsonc_serialize};
