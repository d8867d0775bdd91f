/*
 * The server result store over the tiered cache (see mcp/cache.h, "The
 * server's result store").
 */
#include "cache/cache_internal.h"

#include <string.h>

#define TRAILER_LEN 9
#define TRAILER_FORMAT 'R'

static uint64_t now_ms(const mcp_cache_result_store *s) {
    return s->clock ? s->clock(s->clock_user) : mcp_wall_ms();
}

static int resource_key(const char *uri, mcp_buf *key) {
    size_t len = strlen(uri);
    if (!len || len > MCP_CACHE_KEY_MAX) return MCP_ELIMIT;
    mcp_buf_reset(key);
    return mcp_buf_append(key, uri, len);
}

static int key_of(const char *name, const mcp_json *args, mcp_buf *key) {
    return args ? mcp_cache_key_for_call(name, args, key) : resource_key(name, key);
}

typedef struct fill_ctx {
    const mcp_cache_result_store *store;
    const mcp_result_policy *policy;
    mcp_result_compute_fn compute;
    void *compute_user;
    bool computed;
} fill_ctx;

static mcp_str *str_list(mcp_arena *arena, const char *const *items, size_t count) {
    mcp_str *list = count ? mcp_arena_alloc(arena, count * sizeof *list) : NULL;
    for (size_t i = 0; list && i < count; i++) list[i] = (mcp_str){items[i], strlen(items[i])};
    return list;
}

static int fill(mcp_str key, mcp_cache_fill *f, void *user) {
    (void)key;
    fill_ctx *x = user;
    const mcp_result_policy *p = x->policy;
    int rc = x->compute(x->compute_user, f->value);
    if (rc) return rc;
    /* The expiry is taken after the handler ran: the TTL counts from when
     * the result exists, as the tiers count it. */
    uint64_t expires = now_ms(x->store) + p->ttl_ms;
    unsigned char trailer[TRAILER_LEN];
    for (int i = 0; i < 8; i++) trailer[i] = (unsigned char)(expires >> (56 - 8 * i));
    trailer[8] = TRAILER_FORMAT;
    rc = mcp_buf_append(f->value, (const char *)trailer, sizeof trailer);
    if (rc) return rc;
    f->opts.ttl_ms = p->ttl_ms;
    f->opts.tags = str_list(f->arena, p->tags, p->tag_count);
    f->opts.tag_count = f->opts.tags ? p->tag_count : 0;
    f->opts.deps = str_list(f->arena, p->deps, p->dep_count);
    f->opts.dep_count = f->opts.deps ? p->dep_count : 0;
    if ((p->tag_count && !f->opts.tags) || (p->dep_count && !f->opts.deps)) return MCP_ENOMEM;
    x->computed = true;
    return 0;
}

/* Strip the trailer of the value appended at out[at..]. */
static int unwrap(const mcp_cache_result_store *s, mcp_buf *out, size_t at, uint64_t *ttl_left_ms) {
    if (out->len - at < TRAILER_LEN + 2 || (unsigned char)out->data[out->len - 1] != TRAILER_FORMAT)
        return MCP_EPARSE;
    const unsigned char *t = (const unsigned char *)out->data + out->len - TRAILER_LEN;
    uint64_t expires = 0;
    for (int i = 0; i < 8; i++) expires = expires << 8 | t[i];
    out->len -= TRAILER_LEN;
    out->data[out->len] = '\0';
    uint64_t now = now_ms(s);
    *ttl_left_ms = expires > now ? expires - now : 0;
    return 0;
}

static int store_get_or_compute(void *user, const char *name, const mcp_json *args, const mcp_result_policy *policy,
                                mcp_result_compute_fn compute, void *compute_user, mcp_buf *out,
                                uint64_t *ttl_left_ms) {
    mcp_cache_result_store *s = user;
    mcp_buf key;
    mcp_buf_init(&key);
    int rc = key_of(name, args, &key);
    fill_ctx x = {s, policy, compute, compute_user, false};
    size_t at = out->len;
    for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
        rc = mcp_cache_get_or_compute(s->cache, (mcp_str){key.data, key.len}, fill, &x, out);
        if (rc == 0) rc = unwrap(s, out, at, ttl_left_ms);
        /* Computed for this caller: the whole TTL, however long storing
         * it in the lower tiers took. */
        if (rc == 0 && x.computed) *ttl_left_ms = policy->ttl_ms;
        if (rc != MCP_EPARSE) break;
        /* Not a value of ours (another program shares the store, or an
         * older format): drop it and compute once more. */
        out->len = at;
        if (out->data) out->data[at] = '\0';
        mcp_log(MCP_LOG_WARNING, "result store: dropping a malformed entry for %s", name);
        rc = mcp_cache_invalidate_key(s->cache, (mcp_str){key.data, key.len}, NULL);
        if (rc == MCP_ENOTFOUND) rc = 0;
        if (rc == 0 && attempt == 1) rc = MCP_EPARSE;
    }
    mcp_buf_free(&key);
    return rc;
}

static int store_invalidate_resource(void *user, const char *uri, size_t *removed) {
    mcp_cache_result_store *s = user;
    mcp_buf key;
    mcp_buf_init(&key);
    int rc = resource_key(uri, &key);
    if (!rc) rc = mcp_cache_invalidate_key(s->cache, (mcp_str){key.data, key.len}, removed);
    mcp_buf_free(&key);
    return rc;
}

static int store_invalidate_tag(void *user, const char *tag, size_t *removed) {
    mcp_cache_result_store *s = user;
    return mcp_cache_invalidate_tag(s->cache, (mcp_str){tag, strlen(tag)}, removed);
}

mcp_result_store mcp_cache_result_store_ops(mcp_cache_result_store *store) {
    return (mcp_result_store){
        .get_or_compute = store_get_or_compute,
        .invalidate_resource = store_invalidate_resource,
        .invalidate_tag = store_invalidate_tag,
        .user = store,
    };
}
