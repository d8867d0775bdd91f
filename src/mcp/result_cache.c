/*
 * result_cache.c — answering resources/read and tools/call from stored
 * results (the policy half; the store is the application's, see
 * "Result cache" in mcp/mcp.h).
 *
 * The stored value is the result body as a JSON object and nothing of the
 * request: no id, no resultType, no _meta, no ttlMs. A hit writes the
 * envelope, splices the body's members in and adds the hints, so one entry
 * serves any id, session and era, and the bytes a hit sends are the bytes
 * the miss that stored them sent.
 *
 * The handler runs inside the store's compute, so concurrent misses on one
 * key run it once. What it produced is stored only when it is a complete,
 * successful result; otherwise the call goes on as if there were no cache
 * (call.c assembles the reply or the error, or waits for the asynchronous
 * completion), and callers that waited for that compute run their own.
 */
#include "result_cache.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_TTL_MS 60000
/* A compute whose outcome is not to be stored (handed to waiters too). */
#define NOT_STORABLE MCP_EAGAIN

typedef struct tool_policy {
    const char *name;
    mcp_result_policy policy;     /* strings in the cache's arena */
} tool_policy;

struct mcp_result_cache {
    mcp_result_cache_opts opts;
    mcp_arena arena;
    tool_policy *tools;
    size_t tool_count, tool_cap;
};

int mcp_result_cache_new(const mcp_result_cache_opts *opts, mcp_result_cache **out)
{
    if (!opts || !out || !opts->store.get_or_compute || !opts->store.invalidate_resource ||
        !opts->store.invalidate_tag)
        return MCP_EINVAL;
    mcp_result_cache *c = calloc(1, sizeof *c);
    if (!c)
        return MCP_ENOMEM;
    c->opts = *opts;
    if (!c->opts.default_ttl_ms)
        c->opts.default_ttl_ms = DEFAULT_TTL_MS;
    mcp_arena_init(&c->arena, 0);
    *out = c;
    return 0;
}

void mcp_result_cache_free(mcp_result_cache *cache)
{
    if (!cache)
        return;
    free(cache->tools);
    mcp_arena_free(&cache->arena);
    free(cache);
}

static const char *const *copy_list(mcp_arena *arena, const char *const *items, size_t count, int *rc)
{
    if (!count)
        return NULL;
    const char **copy = mcp_arena_alloc(arena, count * sizeof *copy);
    for (size_t i = 0; copy && i < count; i++) {
        copy[i] = items[i] ? mcp_arena_strdup(arena, items[i]) : NULL;
        if (!copy[i]) {
            *rc = items[i] ? MCP_ENOMEM : MCP_EINVAL;
            return NULL;
        }
    }
    if (!copy)
        *rc = MCP_ENOMEM;
    return copy;
}

int mcp_result_cache_set_tool(mcp_result_cache *cache, const char *tool, const mcp_result_policy *policy)
{
    if (!cache || !tool || !*tool || !policy || (policy->tag_count && !policy->tags) ||
        (policy->dep_count && !policy->deps) ||
        (policy->cache_scope && strcmp(policy->cache_scope, "public") != 0 &&
         strcmp(policy->cache_scope, "private") != 0))
        return MCP_EINVAL;
    int rc = 0;
    mcp_result_policy copy = *policy;
    copy.cache_scope = policy->cache_scope ? mcp_arena_strdup(&cache->arena, policy->cache_scope) : NULL;
    copy.tags = copy_list(&cache->arena, policy->tags, policy->tag_count, &rc);
    copy.deps = copy_list(&cache->arena, policy->deps, policy->dep_count, &rc);
    if (rc)
        return rc;
    for (size_t i = 0; i < cache->tool_count; i++) {
        if (strcmp(cache->tools[i].name, tool) == 0) {
            cache->tools[i].policy = copy;
            return 0;
        }
    }
    if (cache->tool_count == cache->tool_cap) {
        size_t cap = cache->tool_cap ? cache->tool_cap * 2 : 8;
        tool_policy *grown = realloc(cache->tools, cap * sizeof *grown);
        if (!grown)
            return MCP_ENOMEM;
        cache->tools = grown;
        cache->tool_cap = cap;
    }
    const char *name = mcp_arena_strdup(&cache->arena, tool);
    if (!name)
        return MCP_ENOMEM;
    cache->tools[cache->tool_count++] = (tool_policy){.name = name, .policy = copy};
    return 0;
}

/* ---- Policy ----------------------------------------------------------------- */

/* Both hints say that a repeated call with the same arguments reads the
 * same state and changes nothing: then its result may be reused. The tool's
 * list JSON is the only place the annotations are kept; a lazy parse builds
 * its top level only. */
static bool annotated_cacheable(mcp_call *call, const mcp_registry_entry *e)
{
    mcp_json *tool = NULL;
    if (mcp_json_parse(&call->arena, e->json, e->json_len, &(mcp_json_opts){.lazy_depth = 1}, &tool, NULL) != 0)
        return false;
    mcp_json *annotations = mcp_json_get(tool, "annotations");
    if (!annotations || !(annotations = mcp_json_expand(&call->arena, annotations)))
        return false;
    return mcp_json_bool(mcp_json_get(annotations, "readOnlyHint"), false) &&
           mcp_json_bool(mcp_json_get(annotations, "idempotentHint"), false);
}

static bool tool_policy_of(const mcp_result_cache *cache, mcp_call *call, mcp_result_policy *out)
{
    const mcp_registry_entry *e = call->entry;
    for (size_t i = 0; i < cache->tool_count; i++) {
        if (strlen(cache->tools[i].name) == e->key_len && memcmp(cache->tools[i].name, e->key, e->key_len) == 0) {
            *out = cache->tools[i].policy;
            return out->ttl_ms > 0;
        }
    }
    if (cache->opts.ignore_annotations || !annotated_cacheable(call, e))
        return false;
    *out = (mcp_result_policy){.ttl_ms = cache->opts.default_ttl_ms};
    return true;
}

static bool resource_policy_of(const mcp_result_cache *cache, const mcp_call *call, mcp_result_policy *out)
{
    const mcp_registry_entry *e = call->entry;
    const mcp_server_opts *sopts = &call->session->server->opts;
    if (e->ttl_ms < 0)
        return false;
    uint64_t ttl = e->ttl_ms > 0 ? (uint64_t)e->ttl_ms : sopts->ttl_ms ? sopts->ttl_ms : cache->opts.default_ttl_ms;
    *out = (mcp_result_policy){.ttl_ms = ttl, .cache_scope = e->cache_scope};
    return true;
}

/* Requests whose result depends on more than the name and arguments. */
static bool bypasses_cache(const mcp_call *call)
{
    return call->task || call->requests || call->request_state ||
           mcp_json_get(call->params, "inputResponses") != NULL;
}

/* ---- Computing and storing -------------------------------------------------- */

typedef struct serve_ctx {
    mcp_call *call;
    const mcp_json *args;   /* tools */
    const char *uri;        /* resources */
    bool ran;
    int handler_rc;
} serve_ctx;

static int run_handler(serve_ctx *x)
{
    const mcp_registry_entry *e = x->call->entry;
    if (x->call->kind == MCP_CALL_TOOL)
        return e->fn.tool(x->call, x->args, e->user);
    return e->fn.resource(x->call, x->uri, e->user);
}

static void write_items(mcp_json_writer *w, const char *key, const mcp_buf *items)
{
    mcp_json_write_key(w, key);
    mcp_json_begin_array(w);
    if (items->len)
        mcp_json_write_raw(w, items->data, items->len);
    mcp_json_end_array(w);
}

/* A tool result with an output schema is storable only when its
 * structuredContent matches; otherwise call.c turns it into an error. */
static bool structured_ok(mcp_call *call)
{
    const mcp_registry_entry *e = call->entry;
    if (!e->has_output_schema)
        return true;
    mcp_json *doc = NULL;
    if (!call->structured.len ||
        mcp_json_parse(&call->arena, call->structured.data, call->structured.len, NULL, &doc, NULL) != 0)
        return false;
    mcp_buf why;
    mcp_buf_init(&why);
    int rc = mcp_schema_validate(e->output_schema, doc, &why);
    mcp_buf_free(&why);
    return rc == 0;
}

/* The body as call.c would assemble it for this call. */
static int write_body(mcp_call *call, mcp_buf *body)
{
    int rc = mcp_call_items_settle(call);
    if (rc != 0)
        return rc;
    mcp_json_writer w;
    mcp_json_writer_init(&w, body);
    mcp_json_begin_object(&w);
    if (call->kind == MCP_CALL_RESOURCE) {
        write_items(&w, "contents", &call->items);
    } else {
        if (call->items.len == 0 && call->structured.len) {
            /* Older clients read content only: the structured result as text. */
            mcp_json_write_key(&w, "content");
            mcp_json_begin_array(&w);
            mcp_json_begin_object(&w);
            mcp_json_write_key(&w, "type");
            mcp_json_write_cstr(&w, "text");
            mcp_json_write_key(&w, "text");
            mcp_json_write_string(&w, call->structured.data, call->structured.len);
            mcp_json_end_object(&w);
            mcp_json_end_array(&w);
        } else {
            write_items(&w, "content", &call->items);
        }
        if (call->structured.len) {
            mcp_json_write_key(&w, "structuredContent");
            mcp_json_write_raw(&w, call->structured.data, call->structured.len);
        }
    }
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

static int compute(void *user, mcp_buf *body)
{
    serve_ctx *x = user;
    mcp_call *call = x->call;
    x->ran = true;
    x->handler_rc = run_handler(x);
    if (x->handler_rc != 0 || call->fail_code || call->is_error || call->input_required || call->requests ||
        call->next_state || call->result_meta || (call->kind == MCP_CALL_RESOURCE && call->item_count == 0) ||
        (call->kind == MCP_CALL_TOOL && !structured_ok(call)))
        return NOT_STORABLE;
    return write_body(call, body);
}

/* ---- Answering ---------------------------------------------------------------- */

/* The store appended the body ({...}) to call->out after the envelope:
 * turn its braces into the members of the open result object. */
static int splice_body(mcp_call *call, mcp_json_writer *w, size_t body_at)
{
    mcp_buf *out = &call->out;
    size_t len = out->len - body_at;
    if (len < 2 || out->data[body_at] != '{' || out->data[out->len - 1] != '}')
        return MCP_EPARSE;
    out->len--;
    if (len == 2) {
        out->len = body_at;
    } else if (w->need_comma) {
        out->data[body_at] = ',';
    } else {
        memmove(out->data + body_at, out->data + body_at + 1, len - 2);
        out->len -= 1;
    }
    out->data[out->len] = '\0';
    w->need_comma = out->len > body_at;
    return 0;
}

static int serve(mcp_call *call, const char *name, const mcp_json *args, const char *uri,
                 const mcp_result_policy *policy)
{
    mcp_result_store *store = &call->session->server->opts.result_cache->opts.store;
    serve_ctx x = {.call = call, .args = args, .uri = uri};
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    size_t body_at = call->out.len;
    uint64_t ttl_left = 0;
    int rc = store->get_or_compute(store->user, name, args, policy, compute, &x, &call->out, &ttl_left);
    if (rc == 0)
        rc = splice_body(call, &w, body_at);
    if (rc != 0) {
        mcp_buf_reset(&call->out);
        if (rc != NOT_STORABLE)
            mcp_log(MCP_LOG_DEBUG, "result cache: %s not served from the store: %s", name, mcp_strerror(rc));
        /* The handler already ran (its outcome is in the call), or it ran
         * for another caller whose outcome was not storable, or the store
         * failed: in the last two cases run it for this one. */
        return x.ran ? x.handler_rc : run_handler(&x);
    }
    if (call->modern) {
        const mcp_server_opts *sopts = &call->session->server->opts;
        mcp_json_write_key(&w, "ttlMs");
        mcp_json_write_uint(&w, ttl_left);
        mcp_json_write_key(&w, "cacheScope");
        mcp_json_write_cstr(&w, policy->cache_scope ? policy->cache_scope
                                : sopts->cache_scope ? sopts->cache_scope : "private");
    }
    mcp_call_result_end(call, &w);
    if (mcp_json_writer_status(&w) != 0) {
        mcp_buf_reset(&call->out);
        return MCP_ENOMEM;
    }
    call->kind = MCP_CALL_DIRECT;
    return 0;
}

int mcp_result_cache_call_tool(mcp_call *call, const mcp_json *args)
{
    const mcp_result_cache *cache = call->session->server->opts.result_cache;
    mcp_result_policy policy;
    serve_ctx x = {.call = call, .args = args};
    if (!cache || bypasses_cache(call) || !tool_policy_of(cache, call, &policy))
        return run_handler(&x);
    return serve(call, call->entry->key, args, NULL, &policy);
}

int mcp_result_cache_read_resource(mcp_call *call, const char *uri)
{
    const mcp_result_cache *cache = call->session->server->opts.result_cache;
    mcp_result_policy policy;
    serve_ctx x = {.call = call, .uri = uri};
    if (!cache || bypasses_cache(call) || !resource_policy_of(cache, call, &policy))
        return run_handler(&x);
    return serve(call, uri, NULL, uri, &policy);
}

/* ---- Invalidation ------------------------------------------------------------- */

void mcp_result_cache_resource_updated(mcp_server *server, const char *uri)
{
    mcp_result_cache *cache = server ? server->opts.result_cache : NULL;
    if (!cache || !uri)
        return;
    int rc = cache->opts.store.invalidate_resource(cache->opts.store.user, uri, NULL);
    if (rc != 0 && rc != MCP_ENOTFOUND)
        mcp_log(MCP_LOG_WARNING, "result cache: dropping %s failed: %s", uri, mcp_strerror(rc));
}

int mcp_server_invalidate_resource(mcp_server *server, const char *uri)
{
    if (!server || !uri || !*uri)
        return MCP_EINVAL;
    return mcp_server_notify_resource_updated(server, uri); /* drops the cached entry, then tells subscribers */
}

int mcp_server_invalidate_tag(mcp_server *server, const char *tag)
{
    if (!server || !tag || !*tag)
        return MCP_EINVAL;
    mcp_result_cache *cache = server->opts.result_cache;
    if (!cache)
        return 0;
    size_t removed = 0;
    int rc = cache->opts.store.invalidate_tag(cache->opts.store.user, tag, &removed);
    if (rc != 0 && rc != MCP_ENOTFOUND)
        return rc;
    return removed > INT32_MAX ? INT32_MAX : (int)removed;
}
