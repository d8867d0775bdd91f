/*
 * client_cache.c — the client's own cache of results that say how long
 * they stay fresh (ttlMs, 2026-07-28).
 *
 * Only the methods whose results the schema makes cacheable are kept: the
 * four lists and resources/read. The key is the method and the canonical
 * form of the params without _meta, because _meta (protocol version, client
 * info, progress token) describes the asker, not the question. A result is
 * kept when it is complete, has an integer ttlMs above zero and a
 * cacheScope we understand; "private" entries are fine here because the
 * cache belongs to one client and so to one authorization context, and
 * mcp_client_cache_clear is there for the day that context changes.
 *
 * The cache is a small array searched linearly: a client caches a handful
 * of lists and resources. When full, the least
 * recently used entry goes.
 *
 * Notifications make entries stale before their time: a list_changed drops
 * that list (every page of it), resources/updated drops reads of that URI.
 * With refresh_on_change the dropped requests are sent again and their
 * answers stored, so the next caller finds a fresh copy.
 */
#include "mcp/client_internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_cacheable_method(const char *method)
{
    return !strcmp(method, "tools/list") || !strcmp(method, "resources/list") ||
           !strcmp(method, "resources/templates/list") || !strcmp(method, "prompts/list") ||
           !strcmp(method, "resources/read");
}

static void entry_free(mcp_client_cache_entry *e)
{
    free(e->key);
    free(e->method);
    free(e->params);
    free(e->uri);
    free(e->json);
}

static void entry_remove(mcp_client_cache *cache, size_t i)
{
    entry_free(&cache->items[i]);
    cache->items[i] = cache->items[--cache->count];
}

void mcp_client_cache_clear(mcp_client *client)
{
    while (client->cache.count > 0)
        entry_remove(&client->cache, client->cache.count - 1);
}

void mcp_client_cache_free(mcp_client *client)
{
    mcp_client_cache_clear(client);
    free(client->cache.items);
    client->cache.items = NULL;
}

bool mcp_client_cache_key(const char *method, const char *params_json, mcp_buf *key)
{
    if (!is_cacheable_method(method))
        return false;
    mcp_buf_append_cstr(key, method);
    mcp_buf_append_char(key, '\n');
    if (!params_json) {
        mcp_buf_append_cstr(key, "{}");
        return key->data != NULL;
    }
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *params = NULL;
    bool ok = mcp_json_parse(&arena, params_json, strlen(params_json), NULL, &params, NULL) == 0 &&
              mcp_json_is_object(params);
    if (ok) {
        /* Canonical form of the members other than _meta: write them into a
         * fresh object first, then canonicalise that. */
        mcp_buf plain;
        mcp_buf_init(&plain);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &plain);
        mcp_json_begin_object(&w);
        for (const mcp_json *m = mcp_json_first(params); m; m = mcp_json_next(m)) {
            mcp_str k = mcp_json_key(m);
            if (mcp_str_eq_cstr(k, "_meta"))
                continue;
            mcp_json_write_key_n(&w, k.ptr, k.len);
            mcp_json_write_value(&w, m);
        }
        mcp_json_end_object(&w);
        mcp_json *stripped = NULL;
        ok = mcp_json_writer_status(&w) == 0 &&
             mcp_json_parse(&arena, plain.data, plain.len, NULL, &stripped, NULL) == 0 &&
             mcp_json_canonical(stripped, key) == 0;
        mcp_buf_free(&plain);
    }
    mcp_arena_free(&arena);
    return ok && key->data != NULL;
}

static mcp_client_cache_entry *find(mcp_client_cache *cache, const char *key)
{
    for (size_t i = 0; i < cache->count; i++)
        if (!strcmp(cache->items[i].key, key))
            return &cache->items[i];
    return NULL;
}

const mcp_client_cache_entry *mcp_client_cache_lookup(mcp_client *client, const char *key)
{
    mcp_client_cache_entry *e = find(&client->cache, key);
    if (!e)
        return NULL;
    if (e->expires_ns <= client->now_ns) {
        entry_remove(&client->cache, (size_t)(e - client->cache.items));
        return NULL;
    }
    e->used_ns = client->now_ns;
    return e;
}

static mcp_client_cache_entry *make_room(mcp_client_cache *cache, uint64_t now_ns)
{
    /* Expired entries go first, then the least recently used. */
    for (size_t i = cache->count; i-- > 0;)
        if (cache->items[i].expires_ns <= now_ns)
            entry_remove(cache, i);
    if (cache->count >= cache->max && cache->count > 0) {
        size_t oldest = 0;
        for (size_t i = 1; i < cache->count; i++)
            if (cache->items[i].used_ns < cache->items[oldest].used_ns)
                oldest = i;
        entry_remove(cache, oldest);
    }
    if (cache->count == cache->max)
        return NULL;
    if (!cache->items) {
        cache->items = calloc(cache->max, sizeof *cache->items);
        if (!cache->items)
            return NULL;
    }
    return &cache->items[cache->count];
}

void mcp_client_cache_store(mcp_client *client, const char *method, const char *params,
                            const mcp_json *result)
{
    const mcp_json *ttl = mcp_json_get(result, "ttlMs");
    const char *scope = mcp_json_str(mcp_json_get(result, "cacheScope"), "");
    if (!mcp_json_is_integer(ttl) || mcp_json_int(ttl, 0) <= 0)
        return;
    if (strcmp(scope, "public") != 0 && strcmp(scope, "private") != 0)
        return;
    mcp_buf key;
    mcp_buf_init(&key);
    if (!mcp_client_cache_key(method, params, &key)) {
        mcp_buf_free(&key);
        return;
    }
    mcp_client_cache_entry *old = find(&client->cache, key.data);
    if (old)
        entry_remove(&client->cache, (size_t)(old - client->cache.items));
    mcp_client_cache_entry *slot = make_room(&client->cache, client->now_ns);
    if (!slot) {
        mcp_buf_free(&key);
        return;
    }
    /* ttlMs is capped at a day: a longer promise buys nothing here and the
     * cap keeps the deadline arithmetic far from overflow. */
    int64_t ttl_ms = mcp_json_int(ttl, 0);
    if (ttl_ms > 86400000)
        ttl_ms = 86400000;
    mcp_str raw = mcp_json_raw(result);
    mcp_client_cache_entry e = {
        .key = mcp_client_strndup(key.data, key.len),
        .method = mcp_client_strdup(method),
        .params = mcp_client_strdup(params),
        .json = mcp_client_strndup(raw.ptr, raw.len),
        .len = raw.len,
        .expires_ns = client->now_ns + (uint64_t)ttl_ms * 1000000u,
        .used_ns = client->now_ns,
        .public_scope = !strcmp(scope, "public"),
    };
    mcp_buf_free(&key);
    if (!strcmp(method, "resources/read") && params) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        if (mcp_json_parse(&arena, params, strlen(params), NULL, &doc, NULL) == 0)
            e.uri = mcp_client_strdup(mcp_json_str(mcp_json_get(doc, "uri"), NULL));
        mcp_arena_free(&arena);
    }
    if (!e.key || !e.method || (params && !e.params) || !e.json) {
        entry_free(&e);
        return;
    }
    *slot = e;
    client->cache.count++;
    client->counters.cache_stores++;
}

/* Does a notification make this entry stale? */
static bool made_stale(const mcp_client_cache_entry *e, const char *method, const mcp_json *params)
{
    if (!strcmp(method, "notifications/tools/list_changed"))
        return !strcmp(e->method, "tools/list");
    if (!strcmp(method, "notifications/prompts/list_changed"))
        return !strcmp(e->method, "prompts/list");
    if (!strcmp(method, "notifications/resources/list_changed"))
        return !strcmp(e->method, "resources/list") || !strcmp(e->method, "resources/templates/list");
    if (!strcmp(method, "notifications/resources/updated")) {
        const char *uri = mcp_json_str(mcp_json_get(params, "uri"), NULL);
        return e->uri && uri && !strcmp(e->uri, uri);
    }
    return false;
}

void mcp_client_cache_on_notification(mcp_client *client, const char *method, const mcp_json *params)
{
    mcp_client_cache *cache = &client->cache;
    for (size_t i = cache->count; i-- > 0;) {
        if (i >= cache->count || !made_stale(&cache->items[i], method, params))
            continue;
        char *m = cache->items[i].method;
        char *p = cache->items[i].params;
        cache->items[i].method = cache->items[i].params = NULL;
        entry_remove(cache, i);
        /* Only the first page is worth fetching again: the cursors of
         * later pages may no longer mean anything. */
        if (client->refresh_on_change && client->state == MCP_CLIENT_READY) {
            bool later_page = false;
            if (p) {
                mcp_arena arena;
                mcp_arena_init(&arena, 0);
                mcp_json *doc = NULL;
                later_page = mcp_json_parse(&arena, p, strlen(p), NULL, &doc, NULL) == 0 &&
                             mcp_json_get(doc, "cursor") != NULL;
                mcp_arena_free(&arena);
            }
            if (!later_page)
                mcp_client_send_request(client, m, p, NULL, MCP_CLIENT_FOR_REFRESH, NULL, NULL, NULL);
        }
        free(m);
        free(p);
    }
}
