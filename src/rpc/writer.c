/*
 * writer.c — writing JSON-RPC 2.0 responses, errors and notifications.
 *
 * Everything goes through the json streaming writer so that escaping has one
 * implementation. Ids are echoed from their source text.
 */
#include "mcp/rpc.h"

#include <string.h>

/* A constant goes out as the JSON text it is: nothing to escape. */
static const char VERSION_JSON[] = "\"2.0\"";
/* The members every response opens with, up to the id's value. */
static const char HEAD_JSON[] = "\"jsonrpc\":\"2.0\",\"id\":";

static mcp_str id_json(const mcp_rpc_id *id)
{
    if (!id || id->type == MCP_RPC_ID_NONE || id->text.len == 0)
        return (mcp_str){"null", 4};
    return id->text;
}

void mcp_rpc_write_id(mcp_json_writer *w, const mcp_rpc_id *id)
{
    mcp_str text = id_json(id);
    MCP_JSON_MEMBER(w, "id", text.ptr, text.len);
}

void mcp_rpc_response_head(const mcp_rpc_id *id, mcp_str head[2])
{
    head[0] = (mcp_str){HEAD_JSON, sizeof HEAD_JSON - 1};
    head[1] = id_json(id);
}

/* {"jsonrpc":"2.0","id":…, in one append. */
static void begin_response(mcp_json_writer *w, const mcp_rpc_id *id)
{
    mcp_str head[2];
    mcp_rpc_response_head(id, head);
    mcp_json_begin_object_with(w, head, 2);
}

void mcp_rpc_begin_result(mcp_json_writer *w, const mcp_rpc_id *id)
{
    begin_response(w, id);
    MCP_JSON_KEY(w, "result");
}

void mcp_rpc_end_result(mcp_json_writer *w)
{
    mcp_json_end_object(w);
}

int mcp_rpc_write_result(mcp_buf *out, const mcp_rpc_id *id, const char *result_json, size_t len)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_rpc_begin_result(&w, id);
    mcp_json_write_raw(&w, result_json, len);
    mcp_rpc_end_result(&w);
    return mcp_json_writer_status(&w);
}

int mcp_rpc_write_error(mcp_buf *out, const mcp_rpc_id *id, int code, const char *message,
                        const char *data_json)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    begin_response(&w, id);
    MCP_JSON_KEY(&w, "error");
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "code");
    mcp_json_write_int(&w, code);
    MCP_JSON_KEY(&w, "message");
    mcp_json_write_cstr(&w, message ? message : "");
    if (data_json) {
        MCP_JSON_KEY(&w, "data");
        mcp_json_write_raw(&w, data_json, strlen(data_json));
    }
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

void mcp_rpc_begin_notification(mcp_json_writer *w, const char *method)
{
    mcp_json_begin_object(w);
    MCP_JSON_MEMBER(w, "jsonrpc", VERSION_JSON, sizeof VERSION_JSON - 1);
    MCP_JSON_KEY(w, "method");
    mcp_json_write_cstr(w, method);
    MCP_JSON_KEY(w, "params");
}

void mcp_rpc_end_notification(mcp_json_writer *w)
{
    mcp_json_end_object(w);
}
