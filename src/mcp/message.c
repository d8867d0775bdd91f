/*
 * message.c — requests and notifications written with the JSON writer
 * (see message.h).
 */
#include "mcp/message.h"

#include <string.h>

static void begin(mcp_json_writer *w, const int64_t *id, const char *method)
{
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "jsonrpc");
    mcp_json_write_cstr(w, "2.0");
    if (id) {
        mcp_json_write_key(w, "id");
        mcp_json_write_int(w, *id);
    }
    mcp_json_write_key(w, "method");
    mcp_json_write_cstr(w, method);
}

void mcp_message_begin_request(mcp_json_writer *w, int64_t id, const char *method)
{
    begin(w, &id, method);
}

int mcp_message_write(mcp_buf *out, const int64_t *id, const char *method, const char *params_json)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    begin(&w, id, method);
    if (params_json) {
        mcp_json_write_key(&w, "params");
        mcp_json_write_raw(&w, params_json, strlen(params_json));
    }
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

void mcp_message_write_cancelled(mcp_json_writer *w, int64_t id, const char *reason)
{
    mcp_json_begin_object(w);
    mcp_json_write_key(w, "requestId");
    mcp_json_write_int(w, id);
    if (reason) {
        mcp_json_write_key(w, "reason");
        mcp_json_write_cstr(w, reason);
    }
    mcp_json_end_object(w);
}
