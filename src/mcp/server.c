/*
 * server.c — the server object, protocol versions and registration.
 *
 * Registration copies what it is given into a fresh registry entry (its own
 * arena), compiles the tool's schemas once, renders the entry's list JSON
 * once, and publishes a new snapshot; see registry.h for how readers see it.
 */
#include "internal.h"
#include "schema.h"
#include "tasks_modern.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *const mcp_protocol_versions[] = {
    MCP_PROTOCOL_MODERN, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL,
};

bool mcp_protocol_is_supported(const char *version)
{
    if (!version)
        return false;
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        if (strcmp(version, mcp_protocol_versions[i]) == 0)
            return true;
    return false;
}

bool mcp_protocol_is_modern(const char *version)
{
    return version && strcmp(version, MCP_PROTOCOL_MODERN) == 0;
}

int mcp_protocol_compare(const char *a, const char *b)
{
    /* Revisions are ISO dates, so byte order is time order. */
    return strcmp(a ? a : "", b ? b : "");
}

static bool json_kind_ok(const char *text, char open);
static void write_raw_opt(mcp_json_writer *w, const char *key, const char *json);

static const char *copy_opt(mcp_arena *arena, const char *s)
{
    return s ? mcp_arena_strdup(arena, s) : NULL;
}

mcp_server *mcp_server_new(const mcp_server_opts *opts)
{
    if (!opts || !opts->name || !opts->version)
        return NULL;
    mcp_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    mcp_arena_init(&s->arena, 0);
    s->opts = *opts;
    s->opts.name = copy_opt(&s->arena, opts->name);
    s->opts.version = copy_opt(&s->arena, opts->version);
    s->opts.title = copy_opt(&s->arena, opts->title);
    s->opts.instructions = copy_opt(&s->arena, opts->instructions);
    s->opts.icons = copy_opt(&s->arena, opts->icons);
    s->opts.website_url = copy_opt(&s->arena, opts->website_url);
    s->opts.cache_scope = opts->cache_scope && strcmp(opts->cache_scope, "public") == 0 ? "public" : "private";
    s->opts.request_state_key = NULL; /* not kept: the key is copied (hashed) below */
    if ((opts->cache_scope && strcmp(opts->cache_scope, "public") != 0 && strcmp(opts->cache_scope, "private") != 0) ||
        !json_kind_ok(opts->icons, '[') || (opts->request_state_key && opts->request_state_key_len < 16)) {
        mcp_arena_free(&s->arena);
        free(s);
        return NULL;
    }
    if (!s->opts.page_size)
        s->opts.page_size = 50;
    if (!s->opts.max_message_size)
        s->opts.max_message_size = 4u << 20;
    if (!s->opts.max_json_depth)
        s->opts.max_json_depth = 64;
    if (!s->opts.max_tasks)
        s->opts.max_tasks = 1024;
    if (!s->opts.max_subscriptions)
        s->opts.max_subscriptions = 4096;
    s->seed = mcp_hash64(&s, sizeof s, mcp_now_ns() ^ (uint64_t)mcp_wall_ms() << 20);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->sessions_lock, NULL);
    atomic_init(&s->generation, 1);
    mcp_registry_snapshot *snap = mcp_registry_snapshot_new(s->seed, 1);
    if (!s->opts.name || !s->opts.version || !snap ||
        mcp_server_state_key_init(s, opts->request_state_key, opts->request_state_key_len) != 0) {
        mcp_registry_snapshot_release(snap);
        mcp_arena_free(&s->arena);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->sessions_lock);
        free(s);
        return NULL;
    }
    atomic_init(&s->current, snap);
    return s;
}

void mcp_server_free(mcp_server *server)
{
    if (!server)
        return;
    /* Tasks of the modern era outlive their connections but not the server. */
    mcp_server_tasks_free(server);
    mcp_registry_snapshot_release(atomic_load(&server->current));
    pthread_mutex_destroy(&server->lock);
    pthread_mutex_destroy(&server->sessions_lock);
    mcp_arena_free(&server->arena);
    free(server);
}

mcp_registry_snapshot *mcp_server_snapshot_acquire(mcp_server *server)
{
    pthread_mutex_lock(&server->lock);
    mcp_registry_snapshot *snap = atomic_load_explicit(&server->current, memory_order_acquire);
    mcp_registry_snapshot_retain(snap);
    pthread_mutex_unlock(&server->lock);
    return snap;
}

uint64_t mcp_server_generation(const mcp_server *server)
{
    return atomic_load_explicit(&((mcp_server *)server)->generation, memory_order_acquire);
}

/* Publish a change: derive a snapshot from the current one and swap it in. */
static int publish(mcp_server *server, mcp_registry_kind kind, mcp_registry_entry *add,
                   const char *remove_key)
{
    pthread_mutex_lock(&server->lock);
    mcp_registry_snapshot *old = atomic_load(&server->current);
    uint64_t gen = old->generation + 1;
    mcp_registry_snapshot *next = NULL;
    int rc = mcp_registry_snapshot_derive(old, kind, add, remove_key, gen, &next);
    if (rc == 0) {
        atomic_store_explicit(&server->current, next, memory_order_release);
        atomic_store_explicit(&server->generation, gen, memory_order_release);
        atomic_store_explicit(&server->param_header_tools, next->param_header_tools, memory_order_relaxed);
    }
    pthread_mutex_unlock(&server->lock);
    if (rc == 0) {
        mcp_registry_snapshot_release(old);
        mcp_server_notify_list_changed(server, kind);
    }
    /* The snapshot took its own reference to the entry. */
    mcp_registry_entry_release(add);
    return rc;
}

static mcp_registry_entry *entry_new(mcp_server *server, mcp_registry_kind kind, const char *key)
{
    mcp_registry_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->kind = kind;
    mcp_arena_init(&e->arena, 1024);
    e->key_len = strlen(key);
    e->key = mcp_arena_strndup(&e->arena, key, e->key_len);
    e->hash = mcp_hash64(key, e->key_len, server->seed);
    if (!e->key) {
        mcp_registry_entry_release(e);
        return NULL;
    }
    return e;
}

static int entry_set_json(mcp_registry_entry *e, mcp_buf *buf, mcp_json_writer *w)
{
    int rc = mcp_json_writer_status(w);
    if (rc == 0) {
        e->json = mcp_arena_strndup(&e->arena, buf->data, buf->len);
        e->json_len = buf->len;
        if (!e->json)
            rc = MCP_ENOMEM;
    }
    mcp_buf_free(buf);
    return rc;
}

static void write_opt(mcp_json_writer *w, const char *key, const char *value)
{
    if (value) {
        mcp_json_write_key(w, key);
        mcp_json_write_cstr(w, value);
    }
}

/* A tool schema must be a JSON object whose "type" is "object" (MCP says so
 * for both inputSchema and outputSchema); compile it for validation. */
static int tool_schema(mcp_registry_entry *e, const char *text, const mcp_schema **out)
{
    size_t len = strlen(text);
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&scratch, text, len, NULL, &doc, NULL);
    if (rc == 0 && (!mcp_json_is_object(doc) ||
                    strcmp(mcp_json_str(mcp_json_get(doc, "type"), ""), "object") != 0))
        rc = MCP_EINVAL;
    mcp_arena_free(&scratch);
    if (rc != 0)
        return rc == MCP_ENOMEM ? rc : MCP_EINVAL;
    mcp_schema *schema = NULL;
    char err[160];
    rc = mcp_schema_compile(&e->arena, text, len, &schema, err, sizeof err);
    if (rc != 0) {
        mcp_log(MCP_LOG_WARNING, "tool %s: schema rejected: %s", e->key, err);
        return rc == MCP_ENOMEM ? rc : MCP_EINVAL;
    }
    *out = schema;
    return 0;
}

static bool is_json(const char *text)
{
    return text && mcp_json_validate(text, strlen(text), NULL, NULL) == 0;
}

/* NULL, or valid JSON text that is an array ('[') or an object ('{'). */
static bool json_kind_ok(const char *text, char open)
{
    if (!text)
        return true;
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return *p == open && is_json(text);
}

static void write_raw_opt(mcp_json_writer *w, const char *key, const char *json)
{
    if (json) {
        mcp_json_write_key(w, key);
        mcp_json_write_raw(w, json, strlen(json));
    }
}

int mcp_server_add_tool(mcp_server *server, const mcp_tool *tool)
{
    if (!server || !tool || !tool->name || !*tool->name || !tool->fn)
        return MCP_EINVAL;
    if ((tool->annotations && !is_json(tool->annotations)) || !json_kind_ok(tool->icons, '[') ||
        !json_kind_ok(tool->meta, '{'))
        return MCP_EINVAL;
    static const char *const SUPPORT[] = {"forbidden", "optional", "required"};
    int task_support = -1;
    for (int i = 0; i < 3; i++)
        if (tool->task_support && strcmp(tool->task_support, SUPPORT[i]) == 0)
            task_support = i;
    if (tool->task_support && task_support < 0)
        return MCP_EINVAL;
    const char *input = tool->input_schema ? tool->input_schema : "{\"type\":\"object\"}";
    mcp_registry_entry *e = entry_new(server, MCP_REGISTRY_TOOLS, tool->name);
    if (!e)
        return MCP_ENOMEM;
    int rc = tool_schema(e, input, &e->input_schema);
    if (rc == 0)
        rc = mcp_param_headers_compile(e, input);
    if (rc == 0 && tool->output_schema) {
        rc = tool_schema(e, tool->output_schema, &e->output_schema);
        e->has_output_schema = true;
    }
    if (rc != 0) {
        mcp_registry_entry_release(e);
        return rc;
    }
    e->fn.tool = tool->fn;
    e->user = tool->user;
    e->task_support = task_support < 0 ? 0 : task_support;
    e->task_after_input = tool->task_after_input;

    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_json_begin_object(&w);
    write_opt(&w, "name", tool->name);
    write_opt(&w, "title", tool->title);
    write_opt(&w, "description", tool->description);
    mcp_json_write_key(&w, "inputSchema");
    mcp_json_write_raw(&w, input, strlen(input));
    if (tool->output_schema) {
        mcp_json_write_key(&w, "outputSchema");
        mcp_json_write_raw(&w, tool->output_schema, strlen(tool->output_schema));
    }
    write_raw_opt(&w, "annotations", tool->annotations);
    if (task_support > 0) {
        mcp_json_write_key(&w, "execution");
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "taskSupport");
        mcp_json_write_cstr(&w, SUPPORT[task_support]);
        mcp_json_end_object(&w);
    }
    write_raw_opt(&w, "icons", tool->icons);
    write_raw_opt(&w, "_meta", tool->meta);
    mcp_json_end_object(&w);
    rc = entry_set_json(e, &buf, &w);
    if (rc != 0) {
        mcp_registry_entry_release(e);
        return rc;
    }
    return publish(server, MCP_REGISTRY_TOOLS, e, NULL);
}

int mcp_server_remove_tool(mcp_server *server, const char *name)
{
    if (!server || !name)
        return MCP_EINVAL;
    return publish(server, MCP_REGISTRY_TOOLS, NULL, name);
}

typedef struct resource_like {
    mcp_registry_kind kind;
    const char *key, *name, *title, *description, *mime_type;
    const char *icons, *annotations, *meta, *cache_scope;
    int64_t size, ttl_ms;
    mcp_resource_fn fn;
    mcp_complete_fn complete;
    void *user;
} resource_like;

static int add_resource_like(mcp_server *server, const resource_like *r)
{
    if (!json_kind_ok(r->icons, '[') || !json_kind_ok(r->annotations, '{') || !json_kind_ok(r->meta, '{') ||
        (r->cache_scope && strcmp(r->cache_scope, "private") != 0 && strcmp(r->cache_scope, "public") != 0) ||
        r->size < 0)
        return MCP_EINVAL;
    mcp_registry_kind kind = r->kind;
    const char *key = r->key;
    mcp_registry_entry *e = entry_new(server, kind, key);
    if (!e)
        return MCP_ENOMEM;
    e->fn.resource = r->fn;
    e->user = r->user;
    e->complete = r->complete;
    e->ttl_ms = r->ttl_ms;
    e->cache_scope = r->cache_scope ? (strcmp(r->cache_scope, "public") == 0 ? "public" : "private") : NULL;
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_json_begin_object(&w);
    write_opt(&w, kind == MCP_REGISTRY_TEMPLATES ? "uriTemplate" : "uri", key);
    write_opt(&w, "name", r->name);
    write_opt(&w, "title", r->title);
    write_opt(&w, "description", r->description);
    write_opt(&w, "mimeType", r->mime_type);
    if (r->size > 0) {
        mcp_json_write_key(&w, "size");
        mcp_json_write_int(&w, r->size);
    }
    write_raw_opt(&w, "annotations", r->annotations);
    write_raw_opt(&w, "icons", r->icons);
    write_raw_opt(&w, "_meta", r->meta);
    mcp_json_end_object(&w);
    int rc = entry_set_json(e, &buf, &w);
    if (rc != 0) {
        mcp_registry_entry_release(e);
        return rc;
    }
    return publish(server, kind, e, NULL);
}

int mcp_server_add_resource(mcp_server *server, const mcp_resource *r)
{
    if (!server || !r || !r->uri || !*r->uri || !r->name || !r->fn)
        return MCP_EINVAL;
    return add_resource_like(server, &(resource_like){
        .kind = MCP_REGISTRY_RESOURCES, .key = r->uri, .name = r->name, .title = r->title,
        .description = r->description, .mime_type = r->mime_type, .icons = r->icons,
        .annotations = r->annotations, .meta = r->meta, .size = r->size, .ttl_ms = r->ttl_ms,
        .cache_scope = r->cache_scope, .fn = r->fn, .user = r->user});
}

int mcp_server_remove_resource(mcp_server *server, const char *uri)
{
    if (!server || !uri)
        return MCP_EINVAL;
    return publish(server, MCP_REGISTRY_RESOURCES, NULL, uri);
}

int mcp_server_add_resource_template(mcp_server *server, const mcp_resource_template *t)
{
    if (!server || !t || !t->uri_template || !t->name || !t->fn)
        return MCP_EINVAL;
    if (mcp_uri_template_check(t->uri_template) != 0)
        return MCP_EINVAL;
    return add_resource_like(server, &(resource_like){
        .kind = MCP_REGISTRY_TEMPLATES, .key = t->uri_template, .name = t->name, .title = t->title,
        .description = t->description, .mime_type = t->mime_type, .icons = t->icons,
        .annotations = t->annotations, .meta = t->meta, .fn = t->fn,
        .complete = t->complete, .user = t->user});
}

int mcp_server_remove_resource_template(mcp_server *server, const char *uri_template)
{
    if (!server || !uri_template)
        return MCP_EINVAL;
    return publish(server, MCP_REGISTRY_TEMPLATES, NULL, uri_template);
}

int mcp_server_add_prompt(mcp_server *server, const mcp_prompt *p)
{
    if (!server || !p || !p->name || !*p->name || (p->argument_count && !p->arguments) ||
        !json_kind_ok(p->icons, '[') || !json_kind_ok(p->meta, '{'))
        return MCP_EINVAL;
    for (size_t i = 0; i < p->argument_count; i++)
        if (!p->arguments[i].name)
            return MCP_EINVAL;
    mcp_registry_entry *e = entry_new(server, MCP_REGISTRY_PROMPTS, p->name);
    if (!e)
        return MCP_ENOMEM;
    e->fn.prompt = p->fn;
    e->user = p->user;
    e->complete = p->complete;
    int rc = 0;
    if (p->argument_count) {
        e->arguments = mcp_arena_calloc(&e->arena, p->argument_count * sizeof *e->arguments);
        if (!e->arguments)
            rc = MCP_ENOMEM;
        for (size_t i = 0; rc == 0 && i < p->argument_count; i++) {
            e->arguments[i].name = mcp_arena_strdup(&e->arena, p->arguments[i].name);
            e->arguments[i].description = copy_opt(&e->arena, p->arguments[i].description);
            e->arguments[i].required = p->arguments[i].required;
            if (!e->arguments[i].name)
                rc = MCP_ENOMEM;
        }
        e->argument_count = p->argument_count;
    }
    mcp_buf buf;
    mcp_buf_init(&buf);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &buf);
    mcp_json_begin_object(&w);
    write_opt(&w, "name", p->name);
    write_opt(&w, "title", p->title);
    write_opt(&w, "description", p->description);
    if (p->argument_count) {
        mcp_json_write_key(&w, "arguments");
        mcp_json_begin_array(&w);
        for (size_t i = 0; i < p->argument_count; i++) {
            mcp_json_begin_object(&w);
            write_opt(&w, "name", p->arguments[i].name);
            write_opt(&w, "description", p->arguments[i].description);
            mcp_json_write_key(&w, "required");
            mcp_json_write_bool(&w, p->arguments[i].required);
            mcp_json_end_object(&w);
        }
        mcp_json_end_array(&w);
    }
    write_raw_opt(&w, "icons", p->icons);
    write_raw_opt(&w, "_meta", p->meta);
    mcp_json_end_object(&w);
    if (rc == 0)
        rc = entry_set_json(e, &buf, &w);
    else
        mcp_buf_free(&buf);
    if (rc != 0) {
        mcp_registry_entry_release(e);
        return rc;
    }
    return publish(server, MCP_REGISTRY_PROMPTS, e, NULL);
}

int mcp_server_remove_prompt(mcp_server *server, const char *name)
{
    if (!server || !name)
        return MCP_EINVAL;
    return publish(server, MCP_REGISTRY_PROMPTS, NULL, name);
}

void mcp_server_write_info(const mcp_server *server, const char *version, mcp_json_writer *w)
{
    mcp_json_begin_object(w);
    write_opt(w, "name", server->opts.name);
    write_opt(w, "version", server->opts.version);
    /* Implementation.title appeared in 2025-06-18. */
    if (server->opts.title && mcp_protocol_compare(version, "2025-06-18") >= 0)
        write_opt(w, "title", server->opts.title);
    /* icons and websiteUrl appeared in 2025-11-25. */
    if (mcp_protocol_compare(version, "2025-11-25") >= 0) {
        write_raw_opt(w, "icons", server->opts.icons);
        write_opt(w, "websiteUrl", server->opts.website_url);
    }
    mcp_json_end_object(w);
}

void mcp_server_write_capabilities(const mcp_server *server, const char *version, mcp_json_writer *w)
{
    (void)server;
    /* Registration may happen at any time, so every feature is declared
     * even while its registry is empty, and every registry change is
     * announced (list_changed). */
    mcp_json_begin_object(w);
    /* completions appeared in 2025-03-26; logging is in every revision. */
    if (mcp_protocol_compare(version, "2025-03-26") >= 0) {
        mcp_json_write_key(w, "completions");
        mcp_json_begin_object(w);
        mcp_json_end_object(w);
    }
    mcp_json_write_key(w, "logging");
    mcp_json_begin_object(w);
    mcp_json_end_object(w);
    /* Tasks are a 2025-11-25 feature (an extension in the modern era). */
    if (mcp_protocol_compare(version, "2025-11-25") >= 0 && !mcp_protocol_is_modern(version))
        mcp_server_write_task_capability(w);
    mcp_json_write_key(w, "tools");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "listChanged");
    mcp_json_write_bool(w, true);
    mcp_json_end_object(w);
    mcp_json_write_key(w, "resources");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "subscribe");
    mcp_json_write_bool(w, true);
    mcp_json_write_key(w, "listChanged");
    mcp_json_write_bool(w, true);
    mcp_json_end_object(w);
    mcp_json_write_key(w, "prompts");
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "listChanged");
    mcp_json_write_bool(w, true);
    mcp_json_end_object(w);
    mcp_json_end_object(w);
}

/* ---- SSE polling ------------------------------------------------------------------ */

int mcp_call_close_stream(mcp_call *call)
{
    if (!call)
        return MCP_EINVAL;
    if (call->state == MCP_CALL_IDLE || call->task || call->id.type == MCP_RPC_ID_NONE)
        return MCP_EINVAL; /* answered already, or answered elsewhere (a task) */
    const mcp_sink *sink = &call->session->sink;
    mcp_sink_close_stream_fn fn = call->modern || call->batch ? NULL : sink->close_stream;
    if (!fn)
        return MCP_EUNSUPPORTED;
    int rc = fn(sink->user, call->id.text.ptr, call->id.text.len);
    return rc == MCP_ENOTFOUND ? MCP_EINVAL : rc;
}
