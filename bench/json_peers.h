/*
 * bench/json_peers.h — the JSON libraries the json benchmark module runs side
 * by side with libmcp's codec (cJSON, jansson, json-c from Debian), each
 * behind the same four calls so that every library is timed through the same
 * path. Each adapter is its own file because jansson and json-c both define
 * the name json_object and cannot share a translation unit.
 */
#ifndef MCP_BENCH_JSON_PEERS_H
#define MCP_BENCH_JSON_PEERS_H

#include <stddef.h>

typedef struct json_peer {
    const char *name;
    void *(*open)(void);                                 /* per-task context; NULL on OOM */
    void (*close)(void *ctx);
    void *(*parse)(void *ctx, const char *text, size_t len); /* DOM, NULL when rejected */
    void (*release)(void *ctx, void *doc);               /* free the DOM */
    /* Serialize compactly; returns the output length (the text is dropped
     * the way an application would drop it after writing), 0 on failure. */
    size_t (*serialize)(void *ctx, void *doc);
} json_peer;

extern const json_peer bench_json_peer_cjson;
extern const json_peer bench_json_peer_jansson;
extern const json_peer bench_json_peer_jsonc;

#endif
