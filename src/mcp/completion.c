/*
 * completion.c — completion/complete: suggestions for a prompt argument or
 * a resource template variable, from the completion callback registered
 * with the prompt or template. A reference to something that exists but
 * has no callback gets an empty list (the client asked a fair question);
 * a reference to nothing gets -32602.
 */
#include "internal.h"

#include <string.h>

static int invalid(mcp_call *call, const char *message)
{
    return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, message);
}

static const char *string_member(const mcp_json *obj, const char *key)
{
    const mcp_json *v = mcp_json_get(obj, key);
    if (!mcp_json_is_string(v) || strlen(mcp_json_str(v, "")) != mcp_json_str_len(v))
        return NULL;
    return mcp_json_str(v, "");
}

/* Is name one of the template's variables? ({name} in level 1) */
static bool template_has_variable(const char *tmpl, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{'))
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '}')
            return true;
    return false;
}

int mcp_method_complete(mcp_call *call)
{
    const mcp_json *ref = mcp_json_get(call->params, "ref");
    const mcp_json *argument = mcp_json_get(call->params, "argument");
    const char *type = string_member(ref, "type");
    const char *name = string_member(argument, "name");
    const char *value = string_member(argument, "value");
    if (!mcp_json_is_object(ref) || !type)
        return invalid(call, "Invalid params: ref must be an object with a type");
    if (!mcp_json_is_object(argument) || !name || !value)
        return invalid(call, "Invalid params: argument must have string name and value");
    const mcp_json *context = mcp_json_get(mcp_json_get(call->params, "context"), "arguments");
    if (context && !mcp_json_is_object(context))
        return invalid(call, "Invalid params: context.arguments must be an object");

    const mcp_registry_entry *e = NULL;
    if (strcmp(type, "ref/prompt") == 0) {
        const char *prompt = string_member(ref, "name");
        if (!prompt)
            return invalid(call, "Invalid params: ref/prompt needs a name");
        e = mcp_registry_find(call->snap, MCP_REGISTRY_PROMPTS, prompt, strlen(prompt));
        if (!e)
            return invalid(call, "Invalid params: unknown prompt");
        bool known = false;
        for (size_t i = 0; i < e->argument_count && !known; i++)
            known = strcmp(e->arguments[i].name, name) == 0;
        if (!known)
            return invalid(call, "Invalid params: the prompt has no such argument");
    } else if (strcmp(type, "ref/resource") == 0) {
        const char *uri = string_member(ref, "uri");
        if (!uri)
            return invalid(call, "Invalid params: ref/resource needs a uri");
        e = mcp_registry_find(call->snap, MCP_REGISTRY_TEMPLATES, uri, strlen(uri));
        if (!e) {
            /* A plain resource has nothing to complete. */
            if (mcp_registry_find(call->snap, MCP_REGISTRY_RESOURCES, uri, strlen(uri)))
                e = NULL;
            else
                return invalid(call, "Invalid params: unknown resource template");
        } else if (!template_has_variable(e->key, name)) {
            return invalid(call, "Invalid params: the template has no such variable");
        }
    } else {
        return invalid(call, "Invalid params: ref.type must be ref/prompt or ref/resource");
    }
    call->kind = MCP_CALL_COMPLETION;
    call->entry = e;
    if (!e || !e->complete)
        return 0;
    int rc = e->complete(call, name, value, context, e->user);
    return rc == MCP_ELIMIT ? 0 : rc;
}
