/*
 * mcp/rpc.h — JSON-RPC 2.0 envelopes.
 *
 * mcp_rpc_parse classifies one JSON text as a request, a notification, a
 * response, or a batch array of those, and checks the envelope rules (the
 * "jsonrpc" member is exactly "2.0"; an id is a string or an integer, never
 * null; a method is a string; params, when present, are an object or an
 * array). It parses lazily: "params", "result" and "error" stay MCP_JSON_RAW
 * nodes, validated but not built, until a handler expands them.
 *
 * The writers build responses, errors and notifications with the json
 * streaming writer; ids are copied back byte for byte as the peer sent them.
 *
 *     mcp_rpc_batch batch;
 *     mcp_rpc_parse(&arena, text, len, &opts, &batch);
 *     if (batch.error_code) -> mcp_rpc_write_error(&out, NULL, batch.error_code, batch.error_message, NULL)
 *     for each batch.items[i]: kind MCP_RPC_INVALID -> answer items[i].error_code with items[i].id
 */
#ifndef MCP_RPC_H
#define MCP_RPC_H

#include "mcp/base.h"
#include "mcp/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Standard JSON-RPC 2.0 error codes. */
enum {
    MCP_RPC_PARSE_ERROR = -32700,
    MCP_RPC_INVALID_REQUEST = -32600,
    MCP_RPC_METHOD_NOT_FOUND = -32601,
    MCP_RPC_INVALID_PARAMS = -32602,
    MCP_RPC_INTERNAL_ERROR = -32603
};

/* A request id. text is the id's JSON source (a quoted string with its
 * escapes as received, or an integer), so that echoing it back is a copy.
 * MCP_RPC_ID_NONE is written as null: the id of errors about messages whose
 * id could not be determined. */
typedef enum mcp_rpc_id_type {
    MCP_RPC_ID_NONE = 0,
    MCP_RPC_ID_INT,
    MCP_RPC_ID_STRING
} mcp_rpc_id_type;

typedef struct mcp_rpc_id {
    mcp_rpc_id_type type;
    int64_t num;   /* for MCP_RPC_ID_INT */
    mcp_str text;  /* JSON text of the id; empty for NONE */
} mcp_rpc_id;

bool mcp_rpc_id_eq(const mcp_rpc_id *a, const mcp_rpc_id *b);
/* Read an id from a JSON node; MCP_EINVAL unless it is a string or an integer. */
int mcp_rpc_id_from_json(const mcp_json *node, mcp_rpc_id *out);
/* Copy id text into arena so the id outlives the message text. */
int mcp_rpc_id_copy(mcp_arena *arena, const mcp_rpc_id *from, mcp_rpc_id *to);

typedef enum mcp_rpc_kind {
    MCP_RPC_INVALID = 0,  /* breaks the envelope rules; answer error_code with id */
    MCP_RPC_REQUEST,
    MCP_RPC_NOTIFICATION,
    MCP_RPC_RESPONSE,       /* carries result */
    MCP_RPC_ERROR_RESPONSE  /* carries error */
} mcp_rpc_kind;

typedef struct mcp_rpc_message {
    mcp_rpc_kind kind;
    mcp_rpc_id id;            /* NONE for notifications and undeterminable ids */
    const char *method;       /* NUL-terminated; NULL unless request/notification */
    size_t method_len;
    mcp_json *params;         /* NULL when absent; usually MCP_JSON_RAW */
    mcp_json *result;         /* responses */
    mcp_json *error;          /* error responses */
    int error_code;           /* MCP_RPC_INVALID: the code to answer with */
    const char *error_message;
} mcp_rpc_message;

typedef struct mcp_rpc_batch {
    mcp_rpc_message *items;
    size_t count;
    bool is_batch;            /* the text was an array */
    int error_code;           /* nonzero: the whole text failed (parse error, limit, empty batch) */
    const char *error_message;
} mcp_rpc_batch;

/* Parse one JSON text. Returns 0 with out filled in, even when the text is
 * bad: then out->error_code (whole text) or an item's kind MCP_RPC_INVALID
 * says what to answer. Returns MCP_ENOMEM only when memory ran out. Size and
 * depth limits come from opts; exceeding one answers -32600 (the text may be
 * fine JSON, we refuse to take it), malformed JSON -32700. */
int mcp_rpc_parse(mcp_arena *arena, const char *text, size_t len, const mcp_json_opts *opts,
                  mcp_rpc_batch *out);

/* Classify one already-parsed envelope (an element of a batch, say). */
void mcp_rpc_classify(const mcp_json *node, mcp_rpc_message *out);

/* True when a (possibly RAW) node is an object / an array. */
bool mcp_rpc_json_is_object(const mcp_json *node);
bool mcp_rpc_json_is_array(const mcp_json *node);

/* ---- Writing ----------------------------------------------------------------
 * Result responses are written in two halves around the caller's result
 * value: begin writes {"jsonrpc":"2.0","id":…,"result": and end closes it. */
void mcp_rpc_write_id(mcp_json_writer *w, const mcp_rpc_id *id);
/* The members every response opens with, "jsonrpc":"2.0","id":<id>, as
 * JSON text in two pieces (constant, and the id's text or null), for a
 * writer that frames the rest itself (mcp_json_begin_object_with). */
void mcp_rpc_response_head(const mcp_rpc_id *id, mcp_str head[2]);
void mcp_rpc_begin_result(mcp_json_writer *w, const mcp_rpc_id *id);
void mcp_rpc_end_result(mcp_json_writer *w);
/* A complete result response whose result is already JSON text. */
int mcp_rpc_write_result(mcp_buf *out, const mcp_rpc_id *id, const char *result_json, size_t len);
/* A complete error response; id NULL or NONE writes "id":null. data_json is
 * optional JSON text for error.data. */
int mcp_rpc_write_error(mcp_buf *out, const mcp_rpc_id *id, int code, const char *message,
                        const char *data_json);
/* Notifications: begin writes {"jsonrpc":"2.0","method":…,"params": and the
 * caller writes the params object; end closes. */
void mcp_rpc_begin_notification(mcp_json_writer *w, const char *method);
void mcp_rpc_end_notification(mcp_json_writer *w);

#ifdef __cplusplus
}
#endif
#endif
