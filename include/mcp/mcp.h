/*
 * mcp/mcp.h — the Model Context Protocol server, sans I/O.
 *
 * An mcp_server holds the registries (tools, resources, resource templates,
 * prompts) and the dispatch table. Transports feed it complete JSON texts
 * through an mcp_session and receive the messages it emits through an
 * mcp_sink; nothing in this layer touches a socket. One server serves both
 * protocol eras: the handshake era (initialize, then a stateful session;
 * 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05) and the modern stateless
 * era (2026-07-28: server/discover, per-request _meta).
 *
 * A server in about ten lines:
 *
 *     static int greet(mcp_call *call, const mcp_json *args, void *user) {
 *         const char *name = mcp_json_str(mcp_json_get(args, "name"), "world");
 *         return mcp_call_text(call, "Hello, %s!", name);
 *     }
 *     mcp_server *s = mcp_server_new(&(mcp_server_opts){ .name = "demo", .version = "1.0" });
 *     mcp_server_add_tool(s, &(mcp_tool){ .name = "greet", .input_schema = GREET_SCHEMA, .fn = greet });
 *     return mcp_serve(s, &(mcp_listen){ .stdio = true });   (see mcp/net.h)
 *
 * Registration copies everything it is given and may happen at any time,
 * also while other threads are serving: readers see an immutable snapshot.
 *
 * Handlers build their reply through the mcp_call handle. A handler that
 * returns 0 has finished; one that returns MCP_PENDING keeps the handle and
 * completes it later, from any thread, with mcp_call_finish (or
 * mcp_call_fail). A negative return becomes a JSON-RPC internal error.
 */
#ifndef MCP_MCP_H
#define MCP_MCP_H

#include "mcp/base.h"
#include "mcp/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_server mcp_server;
typedef struct mcp_session mcp_session;
typedef struct mcp_call mcp_call;

/* Protocol revisions this library speaks, newest first. */
#define MCP_PROTOCOL_MODERN "2026-07-28"
#define MCP_PROTOCOL_LATEST_HANDSHAKE "2025-11-25"
extern const char *const mcp_protocol_versions[]; /* NULL-terminated */
bool mcp_protocol_is_supported(const char *version);
bool mcp_protocol_is_modern(const char *version);

/* MCP-specific JSON-RPC error codes (the standard ones are in mcp/rpc.h). */
enum {
    MCP_ERROR_RESOURCE_NOT_FOUND = -32002,           /* handshake era resources/read */
    MCP_ERROR_HEADER_MISMATCH = -32020,              /* 2026-07-28 */
    MCP_ERROR_MISSING_CLIENT_CAPABILITY = -32021,    /* 2026-07-28 */
    MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION = -32022  /* 2026-07-28 */
};

typedef struct mcp_server_opts {
    const char *name;          /* serverInfo.name, required */
    const char *version;       /* serverInfo.version, required */
    const char *title;         /* optional display name */
    const char *instructions;  /* optional, sent in initialize/discover */
    size_t page_size;          /* list page size; 0 means 50 */
    size_t max_message_size;   /* bytes; 0 means 4 MiB */
    unsigned max_json_depth;   /* 0 means 64 */
} mcp_server_opts;

/* ---- Handlers ------------------------------------------------------------ */
typedef int (*mcp_tool_fn)(mcp_call *call, const mcp_json *args, void *user);
typedef int (*mcp_resource_fn)(mcp_call *call, const char *uri, void *user);
typedef int (*mcp_prompt_fn)(mcp_call *call, const mcp_json *args, void *user);

typedef struct mcp_tool {
    const char *name;          /* required, unique */
    const char *title;
    const char *description;
    const char *input_schema;  /* JSON Schema text; NULL means {"type":"object"} */
    const char *output_schema; /* optional JSON Schema text; results must then carry structuredContent */
    const char *annotations;   /* optional ToolAnnotations JSON text */
    mcp_tool_fn fn;            /* required */
    void *user;
} mcp_tool;

typedef struct mcp_resource {
    const char *uri;           /* required, unique */
    const char *name;          /* required */
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_resource_fn fn;        /* required: writes contents with mcp_call_resource_* */
    void *user;
} mcp_resource;

typedef struct mcp_resource_template {
    const char *uri_template;  /* RFC 6570 level 1, e.g. "file:///{path}" */
    const char *name;
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_resource_fn fn;        /* called with the concrete URI */
    void *user;
} mcp_resource_template;

typedef struct mcp_prompt_argument {
    const char *name;
    const char *description;
    bool required;
} mcp_prompt_argument;

typedef struct mcp_prompt {
    const char *name;          /* required, unique */
    const char *title;
    const char *description;
    const mcp_prompt_argument *arguments;
    size_t argument_count;
    mcp_prompt_fn fn;          /* writes messages with mcp_call_prompt_message */
    void *user;
} mcp_prompt;

/* ---- Server -------------------------------------------------------------- */
mcp_server *mcp_server_new(const mcp_server_opts *opts);
void mcp_server_free(mcp_server *server);

int mcp_server_add_tool(mcp_server *server, const mcp_tool *tool);
int mcp_server_remove_tool(mcp_server *server, const char *name);
int mcp_server_add_resource(mcp_server *server, const mcp_resource *resource);
int mcp_server_remove_resource(mcp_server *server, const char *uri);
int mcp_server_add_resource_template(mcp_server *server, const mcp_resource_template *tmpl);
int mcp_server_add_prompt(mcp_server *server, const mcp_prompt *prompt);
int mcp_server_remove_prompt(mcp_server *server, const char *name);

/* ---- Sessions: how a transport talks to the server -------------------------
 * One session per connection (or per stdio pair). The sink receives each
 * outgoing message as one complete JSON text without a trailing newline;
 * framing is the transport's job. The sink may be called from the thread
 * that completes an asynchronous handler. */
typedef struct mcp_sink {
    int (*write)(void *user, const char *message, size_t len);
    void *user;
} mcp_sink;

mcp_session *mcp_session_new(mcp_server *server, const mcp_sink *sink);
/* Waits for this session's pending asynchronous calls to complete or be
 * cancelled, then frees it. */
void mcp_session_free(mcp_session *session);
/* Waits, without cancelling anything, until the session's asynchronous calls
 * have completed or timeout_ms has passed (0 waits without limit). Their
 * replies reach the sink as usual. Transports call this at end of input and
 * during a graceful shutdown, so that no computed response is lost. Returns 0
 * when idle, MCP_ETIMEDOUT otherwise. */
int mcp_session_drain(mcp_session *session, unsigned timeout_ms);
/* Number of asynchronous calls not yet completed; thread safe. An event loop
 * that must not block polls this instead of calling mcp_session_drain. */
size_t mcp_session_pending(const mcp_session *session);
/* Handle one complete JSON text (a message, or a batch array where the
 * negotiated version allows it). Replies go to the sink before this returns,
 * except for handlers that completed asynchronously. Returns 0, or a negative
 * code only for failures of the session itself (out of memory); protocol
 * errors are answered on the sink, never returned. */
int mcp_session_handle(mcp_session *session, const char *message, size_t len);
/* Negotiated protocol version, or NULL before initialize. */
const char *mcp_session_protocol_version(const mcp_session *session);

/* ---- Inside a handler ------------------------------------------------------ */
/* Tool results: append content blocks. */
int mcp_call_text(mcp_call *call, const char *fmt, ...) MCP_PRINTF(2, 3);
int mcp_call_text_n(mcp_call *call, const char *text, size_t len);
int mcp_call_image(mcp_call *call, const char *base64_data, const char *mime_type);
int mcp_call_audio(mcp_call *call, const char *base64_data, const char *mime_type);
int mcp_call_resource_link(mcp_call *call, const char *uri, const char *name, const char *mime_type);
int mcp_call_content_json(mcp_call *call, const char *content_block_json); /* any ContentBlock, passed through */
/* structuredContent (a JSON object text); required when the tool has an output schema. */
int mcp_call_structured(mcp_call *call, const char *json_object);
/* Mark the tool result as failed (isError: true) with a text explanation. */
int mcp_call_tool_error(mcp_call *call, const char *fmt, ...) MCP_PRINTF(2, 3);

/* Resource contents (resources/read). */
int mcp_call_resource_text(mcp_call *call, const char *uri, const char *mime_type, const char *text, size_t len);
int mcp_call_resource_blob(mcp_call *call, const char *uri, const char *mime_type, const char *base64_data);

/* Prompt messages (prompts/get); role is "user" or "assistant". */
int mcp_call_prompt_message(mcp_call *call, const char *role, const char *text);
int mcp_call_prompt_description(mcp_call *call, const char *description);

/* Progress, sent only when the request carried a progressToken. */
int mcp_call_progress(mcp_call *call, double progress, double total, const char *message);
bool mcp_call_is_cancelled(const mcp_call *call);

/* Fail the request with a JSON-RPC error instead of a result. */
int mcp_call_fail(mcp_call *call, int rpc_code, const char *message);
/* Complete a call whose handler returned MCP_PENDING. Thread safe. */
int mcp_call_finish(mcp_call *call);

/* What the request said about its caller. */
const char *mcp_call_method(const mcp_call *call);
const char *mcp_call_protocol_version(const mcp_call *call);
mcp_arena *mcp_call_arena(mcp_call *call); /* lives until the call completes */

#ifdef __cplusplus
}
#endif
#endif
