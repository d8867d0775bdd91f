/*
 * methods.c — the feature methods: the four paginated lists, tools/call,
 * resources/read and prompts/get. Each checks its params, finds its entry
 * in the call's registry snapshot and hands over to the user's handler
 * (through the result cache, result_cache.c, when the server has one);
 * call.c assembles the result when the handler is done.
 */
#include "internal.h"
#include "result_cache.h"
#include "tasks_modern.h"
#include "schema.h"

#include <string.h>

static int invalid_params(mcp_call *call, const char *message)
{
    return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, message);
}

static int invalid_paramsf(mcp_call *call, const char *fmt, const char *arg)
{
    char *text = mcp_arena_sprintf(&call->arena, fmt, arg);
    return invalid_params(call, text ? text : "Invalid params");
}

static const char *const LIST_KEYS[MCP_REGISTRY_KINDS] = {
    [MCP_REGISTRY_TOOLS] = "tools",
    [MCP_REGISTRY_RESOURCES] = "resources",
    [MCP_REGISTRY_TEMPLATES] = "resourceTemplates",
    [MCP_REGISTRY_PROMPTS] = "prompts",
};

int mcp_method_list(mcp_call *call, mcp_registry_kind kind)
{
    const mcp_server *server = call->session->server;
    const mcp_registry_list *list = &call->snap->lists[kind];
    uint64_t offset = 0;
    const mcp_json *cursor = mcp_json_get(call->params, "cursor");
    if (cursor) {
        if (!mcp_json_is_string(cursor) ||
            mcp_cursor_decode(server, mcp_json_str(cursor, ""), mcp_json_str_len(cursor), &offset) != 0 ||
            offset > list->count)
            return invalid_params(call, "Invalid cursor");
    }
    size_t end = list->count;
    if (end - offset > server->opts.page_size)
        end = (size_t)offset + server->opts.page_size;

    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_json_write_key(&w, LIST_KEYS[kind]);
    mcp_json_begin_array(&w);
    for (size_t i = (size_t)offset; i < end; i++)
        mcp_json_write_raw(&w, list->items[i]->json, list->items[i]->json_len);
    mcp_json_end_array(&w);
    if (end < list->count) {
        char next[MCP_CURSOR_LEN + 1];
        mcp_cursor_encode(server, end, call->snap->generation, next);
        mcp_json_write_key(&w, "nextCursor");
        mcp_json_write_cstr(&w, next);
    }
    mcp_call_write_cache_hints(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

/* A required string member; NULL (and the error set) when it is not one. */
static const mcp_json *required_string(mcp_call *call, const char *key)
{
    const mcp_json *v = mcp_json_get(call->params, key);
    if (!mcp_json_is_string(v)) {
        invalid_paramsf(call, "Invalid params: %s must be a string", key);
        return NULL;
    }
    return v;
}

static mcp_json *arguments_of(mcp_call *call)
{
    /* Dispatch found params.arguments (the last one, as mcp_json_get). */
    if (call->arguments)
        return call->arguments;
    mcp_json *empty = NULL;
    mcp_json_parse(&call->arena, "{}", 2, NULL, &empty, NULL);
    return empty;
}

int mcp_method_tools_call(mcp_call *call)
{
    const mcp_json *name = call->obs_name; /* params.name, found by dispatch */
    if (!mcp_json_is_string(name))
        return invalid_params(call, "Invalid params: name must be a string");
    /* A name without escapes is looked up in place, not decoded first. */
    mcp_str wanted = mcp_json_str_view(name);
    const mcp_registry_entry *e = mcp_registry_find_tool(call->snap, wanted.ptr, wanted.len);
    if (!e)
        return invalid_paramsf(call, "Unknown tool: %s", mcp_json_str(name, ""));
    mcp_json *args = arguments_of(call);
    if (!args)
        return MCP_ENOMEM;
    if (!mcp_json_is_object(args))
        return invalid_params(call, "Invalid params: arguments must be an object");
    call->kind = MCP_CALL_TOOL;
    call->entry = e;
    /* Modern era: the server decides. A tool that declares task support
     * runs as a task for a client that declared the extension on this
     * request (after its arguments passed validation, so that a bad call
     * is answered at once); one that requires it refuses other clients.
     * A legacy "task" param is tolerated and changes nothing. The runner
     * session of a task calls the tool directly. A tool that gathers its
     * input first becomes a task only with the answers. */
    bool as_task = false;
    if (call->modern && e->task_support > 0 && !mcp_tasks_is_runner(call->session)) {
        bool declared = mcp_tasks_client_declared(call);
        if (!declared && e->task_support == 2)
            return mcp_tasks_require_extension(call);
        as_task = declared && (!e->task_after_input || mcp_json_get(call->params, "inputResponses"));
    }
    if (!call->modern && mcp_tasks_enabled(call) && !call->task) {
        const mcp_json *task = mcp_json_get(call->params, "task");
        if (task && e->task_support == 0)
            return mcp_call_set_error(call, MCP_RPC_METHOD_NOT_FOUND, "Tool does not support task-augmented execution");
        if (!task && e->task_support == 2)
            return mcp_call_set_error(call, MCP_RPC_METHOD_NOT_FOUND, "Tool requires task-augmented execution");
        if (task) {
            int rc = mcp_task_begin(call, task);
            if (rc != 0 || call->fail_code)
                return rc;
        }
    }

    mcp_buf why;
    mcp_buf_init(&why);
    int rc = e->input_schema ? mcp_schema_validate(e->input_schema, args, &why) : 0;
    if (rc == MCP_EINVAL) {
        const char *detail = why.data ? why.data : "invalid";
        /* 2025-11-25 made input validation failures tool execution errors,
         * so that the model sees them and can correct itself; earlier
         * revisions list them among the protocol errors (-32602). */
        if (mcp_protocol_compare(call->version, "2025-11-25") >= 0) {
            call->is_error = true;
            rc = mcp_call_text(call, "Invalid arguments for tool %s: %s", e->key, detail);
        } else {
            char *text = mcp_arena_sprintf(&call->arena, "Invalid arguments for tool %s: %s", e->key, detail);
            rc = invalid_params(call, text ? text : "Invalid arguments");
        }
        mcp_buf_free(&why);
        return rc;
    }
    mcp_buf_free(&why);
    if (rc != 0)
        return rc;
    if (as_task)
        return mcp_task_modern_begin(call);
    return mcp_result_cache_call_tool(call, args);
}

int mcp_method_resources_read(mcp_call *call)
{
    const mcp_json *uri = required_string(call, "uri");
    if (!uri)
        return 0;
    const char *text = mcp_json_str(uri, "");
    size_t len = mcp_json_str_len(uri);
    const mcp_registry_entry *e = mcp_registry_find(call->snap, MCP_REGISTRY_RESOURCES, text, len);
    if (!e && strlen(text) == len) {
        const mcp_registry_list *templates = &call->snap->lists[MCP_REGISTRY_TEMPLATES];
        for (size_t i = 0; i < templates->count && !e; i++)
            if (mcp_uri_template_match(templates->items[i]->key, text))
                e = templates->items[i];
    }
    if (!e) {
        mcp_buf data;
        mcp_buf_init(&data);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &data);
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "uri");
        mcp_json_write_string(&w, text, len);
        mcp_json_end_object(&w);
        if (mcp_json_writer_status(&w) == 0)
            call->fail_data = mcp_arena_strndup(&call->arena, data.data, data.len);
        mcp_buf_free(&data);
        /* Handshake revisions name -32002; the modern revision settles on
         * -32602 (Invalid Params), the JSON-RPC code for a bad argument. */
        if (call->modern)
            return invalid_paramsf(call, "Resource not found: %s", text);
        return mcp_call_set_error(call, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found");
    }
    call->kind = MCP_CALL_RESOURCE;
    call->entry = e;
    return mcp_result_cache_read_resource(call, text);
}

int mcp_method_prompts_get(mcp_call *call)
{
    const mcp_json *name = required_string(call, "name");
    if (!name)
        return 0;
    const mcp_registry_entry *e =
        mcp_registry_find(call->snap, MCP_REGISTRY_PROMPTS, mcp_json_str(name, ""), mcp_json_str_len(name));
    if (!e)
        return invalid_paramsf(call, "Unknown prompt: %s", mcp_json_str(name, ""));
    mcp_json *args = arguments_of(call);
    if (!args)
        return MCP_ENOMEM;
    if (!mcp_json_is_object(args))
        return invalid_params(call, "Invalid params: arguments must be an object");
    for (const mcp_json *v = mcp_json_first(args); v; v = mcp_json_next(v))
        if (!mcp_json_is_string(v))
            return invalid_params(call, "Invalid params: prompt arguments must be strings");
    for (size_t i = 0; i < e->argument_count; i++)
        if (e->arguments[i].required && !mcp_json_get(args, e->arguments[i].name))
            return invalid_paramsf(call, "Invalid params: missing required argument %s", e->arguments[i].name);
    call->kind = MCP_CALL_PROMPT;
    call->entry = e;
    if (!e->fn.prompt)
        return 0;
    return e->fn.prompt(call, args, e->user);
}
