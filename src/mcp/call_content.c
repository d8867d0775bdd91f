/*
 * call_content.c — what a handler puts in its reply: content blocks of tool
 * results (text, media, links, embedded resources, structured content),
 * resource contents, prompt messages and completions, and annotations on
 * the block just added. Each block is written once, as JSON text, into the
 * call's item buffer; mcp_call_complete (call.c) wraps the items in the
 * result the method needs. The exception: a first text block forwarded
 * from the request's params (mcp_call_text_value) stays a reference until
 * something reads or extends the items, so the usual echo-like result
 * copies its text once, into the reply.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A member with a constant key and a constant string value, written as the
 * JSON text it is: no escaping pass for what is known to need none. */
#define WRITE_CONST_MEMBER(w, key, s) MCP_JSON_MEMBER((w), key, "\"" s "\"", sizeof(s) + 1)

/* ---- Content ---------------------------------------------------------- */

/* Opens the next item, whose first members may be given as JSON text. */
static void item_begin_with(mcp_call *call, mcp_json_writer *w, const mcp_str *members, size_t count)
{
    mcp_json_writer_init(w, &call->items);
    if (mcp_call_items_settle(call) != 0) {
        w->status = MCP_ENOMEM;
        return;
    }
    if (call->items.len)
        mcp_buf_append_char(&call->items, ',');
    call->last_item = call->items.len;
    mcp_json_begin_object_with(w, members, count);
}

static void item_begin(mcp_call *call, mcp_json_writer *w)
{
    item_begin_with(call, w, NULL, 0);
}

/* The head of a text block, up to its text. */
static const char TEXT_HEAD[] = "\"type\":\"text\",\"text\":";

static int item_end(mcp_call *call, mcp_json_writer *w)
{
    mcp_json_end_object(w);
    call->item_count++;
    return mcp_json_writer_status(w);
}

int mcp_call_text_n(mcp_call *call, const char *text, size_t len)
{
    if (!call || (!text && len))
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    WRITE_CONST_MEMBER(&w, "type", "text");
    MCP_JSON_KEY(&w, "text");
    mcp_json_write_string(&w, text ? text : "", len);
    return item_end(call, &w);
}

int mcp_call_items_settle_borrowed(mcp_call *call)
{
    const mcp_str members[2] = {{TEXT_HEAD, sizeof TEXT_HEAD - 1}, call->borrowed_text};
    mcp_json_writer w;
    mcp_json_writer_init(&w, &call->items);
    call->last_item = 0;
    mcp_json_begin_object_with(&w, members, 2);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    /* Out of memory keeps the reference, so the block is not lost. */
    if (rc == 0)
        call->borrowed_text = (mcp_str){NULL, 0};
    else
        mcp_buf_reset(&call->items);
    return rc;
}

/* Whether raw is text of the request's params. The library parsed them into
 * the call's arena and nothing writes there until the call is recycled;
 * other memory of that arena is the handler's (mcp_call_arena), which it
 * may reuse before the reply is written. */
static bool in_request_params(const mcp_call *call, mcp_str raw)
{
    mcp_str params = mcp_json_raw(call->params);
    uintptr_t at = (uintptr_t)raw.ptr, start = (uintptr_t)params.ptr;
    return params.ptr && raw.ptr && at >= start && at - start <= params.len && raw.len <= params.len - (at - start);
}

int mcp_call_text_value(mcp_call *call, const mcp_json *text)
{
    if (!call || !mcp_json_is_string(text))
        return MCP_EINVAL;
    mcp_str raw = mcp_json_raw(text);
    /* A string of the request lives unchanged as long as the call: as the
     * first item it is referred to, and written once, when the reply is. */
    if (call->items.len == 0 && !call->borrowed_text.ptr && in_request_params(call, raw)) {
        call->borrowed_text = raw;
        call->last_item = 0;
        call->item_count++;
        return 0;
    }
    const mcp_str members[2] = {{TEXT_HEAD, sizeof TEXT_HEAD - 1}, raw};
    mcp_json_writer w;
    item_begin_with(call, &w, members, 2);
    return item_end(call, &w);
}

static int text_v(mcp_call *call, const char *fmt, va_list ap)
{
    /* The usual calls, a literal or "%s" of a string, need no formatting:
     * printf into a heap buffer cost more than the rest of an echo tool. */
    if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
        const char *text = va_arg(ap, const char *);
        return mcp_call_text_n(call, text ? text : "(null)", text ? strlen(text) : 6);
    }
    if (!strchr(fmt, '%'))
        return mcp_call_text_n(call, fmt, strlen(fmt));
    mcp_buf tmp;
    mcp_buf_init(&tmp);
    int rc = mcp_buf_vappendf(&tmp, fmt, ap);
    if (rc == 0)
        rc = mcp_call_text_n(call, tmp.data ? tmp.data : "", tmp.len);
    mcp_buf_free(&tmp);
    return rc;
}

int mcp_call_text(mcp_call *call, const char *fmt, ...)
{
    if (!call || !fmt)
        return MCP_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    int rc = text_v(call, fmt, ap);
    va_end(ap);
    return rc;
}

int mcp_call_tool_error(mcp_call *call, const char *fmt, ...)
{
    if (!call || !fmt)
        return MCP_EINVAL;
    call->is_error = true;
    va_list ap;
    va_start(ap, fmt);
    int rc = text_v(call, fmt, ap);
    va_end(ap);
    return rc;
}

static int media(mcp_call *call, const char *type, const char *data, const char *mime)
{
    if (!call || !data || !mime)
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    MCP_JSON_KEY(&w, "type");
    mcp_json_write_cstr(&w, type);
    MCP_JSON_KEY(&w, "data");
    mcp_json_write_cstr(&w, data);
    MCP_JSON_KEY(&w, "mimeType");
    mcp_json_write_cstr(&w, mime);
    return item_end(call, &w);
}

int mcp_call_image(mcp_call *call, const char *base64_data, const char *mime_type)
{
    return media(call, "image", base64_data, mime_type);
}

int mcp_call_audio(mcp_call *call, const char *base64_data, const char *mime_type)
{
    return media(call, "audio", base64_data, mime_type);
}

int mcp_call_resource_link(mcp_call *call, const char *uri, const char *name, const char *mime_type)
{
    if (!call || !uri || !name)
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    MCP_JSON_KEY(&w, "type");
    mcp_json_write_cstr(&w, "resource_link");
    MCP_JSON_KEY(&w, "uri");
    mcp_json_write_cstr(&w, uri);
    MCP_JSON_KEY(&w, "name");
    mcp_json_write_cstr(&w, name);
    if (mime_type) {
        MCP_JSON_KEY(&w, "mimeType");
        mcp_json_write_cstr(&w, mime_type);
    }
    return item_end(call, &w);
}

static bool is_object_text(const char *json, size_t len)
{
    size_t i = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t' || json[i] == '\r'))
        i++;
    return i < len && json[i] == '{' && mcp_json_validate(json, len, NULL, NULL) == 0;
}

int mcp_call_content_json(mcp_call *call, const char *content_block_json)
{
    if (!call || !content_block_json)
        return MCP_EINVAL;
    size_t len = strlen(content_block_json);
    if (!is_object_text(content_block_json, len))
        return MCP_EINVAL;
    if (mcp_call_items_settle(call) != 0)
        return MCP_ENOMEM;
    if (call->items.len && mcp_buf_append_char(&call->items, ',') != 0)
        return MCP_ENOMEM;
    call->last_item = call->items.len;
    call->item_count++;
    return mcp_buf_append(&call->items, content_block_json, len);
}

int mcp_call_structured(mcp_call *call, const char *json_object)
{
    if (!call || !json_object)
        return MCP_EINVAL;
    size_t len = strlen(json_object);
    if (!is_object_text(json_object, len))
        return MCP_EINVAL;
    mcp_buf_reset(&call->structured);
    return mcp_buf_append(&call->structured, json_object, len);
}

/* Resource contents ({uri, mimeType?, text|blob}): as a resource read's
 * item, or (embed) wrapped in a tool result's embedded resource block. */
static int resource_item(mcp_call *call, bool embed, const char *uri, const char *mime, const char *key,
                         const char *value, size_t len)
{
    if (!call || !uri || (!value && len))
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    if (embed) {
        MCP_JSON_KEY(&w, "type");
        mcp_json_write_cstr(&w, "resource");
        MCP_JSON_KEY(&w, "resource");
        mcp_json_begin_object(&w);
    }
    MCP_JSON_KEY(&w, "uri");
    mcp_json_write_cstr(&w, uri);
    if (mime) {
        MCP_JSON_KEY(&w, "mimeType");
        mcp_json_write_cstr(&w, mime);
    }
    mcp_json_write_key(&w, key);
    mcp_json_write_string(&w, value ? value : "", len);
    if (embed)
        mcp_json_end_object(&w);
    return item_end(call, &w);
}

int mcp_call_resource_text(mcp_call *call, const char *uri, const char *mime_type, const char *text, size_t len)
{
    return resource_item(call, false, uri, mime_type, "text", text, len);
}

int mcp_call_resource_blob(mcp_call *call, const char *uri, const char *mime_type, const char *base64_data)
{
    if (!base64_data)
        return MCP_EINVAL;
    return resource_item(call, false, uri, mime_type, "blob", base64_data, strlen(base64_data));
}

int mcp_call_embedded_text(mcp_call *call, const char *uri, const char *mime_type, const char *text, size_t len)
{
    return resource_item(call, true, uri, mime_type, "text", text, len);
}

int mcp_call_embedded_blob(mcp_call *call, const char *uri, const char *mime_type, const char *base64_data)
{
    if (!base64_data)
        return MCP_EINVAL;
    return resource_item(call, true, uri, mime_type, "blob", base64_data, strlen(base64_data));
}

/* Insert "annotations" before the closing brace of the last item: every
 * item is an object that already has members. Resource contents (Text- and
 * BlobResourceContents) have no annotations in any protocol version: the
 * resource's annotations belong to resources/list, so they are refused. */
int mcp_call_annotate(mcp_call *call, const char *annotations_json)
{
    if (!call || !annotations_json || call->item_count == 0 || call->kind == MCP_CALL_COMPLETION ||
        call->kind == MCP_CALL_RESOURCE)
        return MCP_EINVAL;
    size_t len = strlen(annotations_json);
    if (!is_object_text(annotations_json, len))
        return MCP_EINVAL;
    if (mcp_call_items_settle(call) != 0)
        return MCP_ENOMEM;
    mcp_buf *items = &call->items;
    size_t end = items->len;
    while (end > call->last_item && items->data[end - 1] != '}')
        end--;
    /* A prompt message is {"role":…,"content":{…}}: annotate the content. */
    if (call->kind == MCP_CALL_PROMPT && end > call->last_item) {
        end--;
        while (end > call->last_item && items->data[end - 1] != '}')
            end--;
    }
    if (end <= call->last_item + 1)
        return MCP_EINVAL;
    static const char KEY[] = ",\"annotations\":";
    size_t tail = items->len - (end - 1);
    char *moved = malloc(tail);
    if (!moved)
        return MCP_ENOMEM;
    memcpy(moved, items->data + end - 1, tail);
    items->len = end - 1;
    int rc = mcp_buf_append(items, KEY, sizeof KEY - 1);
    if (rc == 0)
        rc = mcp_buf_append(items, annotations_json, len);
    if (rc == 0)
        rc = mcp_buf_append(items, moved, tail);
    free(moved);
    return rc;
}

int mcp_call_completion(mcp_call *call, const char *value)
{
    if (!call || !value || call->kind != MCP_CALL_COMPLETION)
        return MCP_EINVAL;
    /* The protocol caps a completion at 100 values. */
    if (call->item_count >= 100) {
        call->completion_has_more = true;
        return MCP_ELIMIT;
    }
    if (mcp_call_items_settle(call) != 0)
        return MCP_ENOMEM;
    if (call->items.len && mcp_buf_append_char(&call->items, ',') != 0)
        return MCP_ENOMEM;
    mcp_json_writer w;
    mcp_json_writer_init(&w, &call->items);
    mcp_json_write_cstr(&w, value);
    call->item_count++;
    return mcp_json_writer_status(&w);
}

int mcp_call_completion_total(mcp_call *call, size_t total, bool has_more)
{
    if (!call || call->kind != MCP_CALL_COMPLETION)
        return MCP_EINVAL;
    call->completion_total = total;
    call->completion_total_set = true;
    call->completion_has_more = call->completion_has_more || has_more;
    return 0;
}

int mcp_call_prompt_message(mcp_call *call, const char *role, const char *text)
{
    if (!call || !role || !text || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    MCP_JSON_KEY(&w, "role");
    mcp_json_write_cstr(&w, role);
    MCP_JSON_KEY(&w, "content");
    mcp_json_begin_object(&w);
    WRITE_CONST_MEMBER(&w, "type", "text");
    MCP_JSON_KEY(&w, "text");
    mcp_json_write_cstr(&w, text);
    mcp_json_end_object(&w);
    return item_end(call, &w);
}

static bool is_content_type(const char *type)
{
    static const char *const TYPES[] = {"text", "image", "audio", "resource", "resource_link"};
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(type, TYPES[i]))
            return true;
    return false;
}

int mcp_call_prompt_content(mcp_call *call, const char *role, const char *content_block_json)
{
    if (!call || !role || !content_block_json || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
        return MCP_EINVAL;
    size_t len = strlen(content_block_json);
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *doc = NULL;
    bool ok = mcp_json_parse(&scratch, content_block_json, len, NULL, &doc, NULL) == 0 &&
              mcp_json_is_object(doc) && is_content_type(mcp_json_str(mcp_json_get(doc, "type"), ""));
    mcp_arena_free(&scratch);
    if (!ok)
        return MCP_EINVAL;
    mcp_json_writer w;
    item_begin(call, &w);
    MCP_JSON_KEY(&w, "role");
    mcp_json_write_cstr(&w, role);
    MCP_JSON_KEY(&w, "content");
    mcp_json_write_raw(&w, content_block_json, len);
    return item_end(call, &w);
}

int mcp_call_prompt_description(mcp_call *call, const char *description)
{
    if (!call || !description)
        return MCP_EINVAL;
    call->description = mcp_arena_strdup(&call->arena, description);
    return call->description ? 0 : MCP_ENOMEM;
}
