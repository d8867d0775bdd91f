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
 * mcp_call_fail). A negative return becomes a JSON-RPC internal error; a
 * handler that needs the client (elicitation, sampling, roots) returns
 * MCP_INPUT_REQUIRED and runs again with the answers, in either era.
 *
 * Beyond requests and replies the server also speaks first: registry
 * changes become list_changed notifications, mcp_server_notify_resource_updated
 * reaches subscribers (resources/subscribe, or a modern subscriptions/listen
 * stream), mcp_call_log and mcp_server_log send log messages at the level
 * the client chose, mcp_session_request and mcp_session_ping send requests
 * to the client, and tools that declare task support run as tasks: in the
 * handshake era when the client asks (2025-11-25 tasks), in the modern era
 * whenever the request declares the "io.modelcontextprotocol/tasks"
 * extension (the server decides; tasks/get, tasks/update, tasks/cancel).
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
    MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION = -32022, /* 2026-07-28 */
    MCP_ERROR_URL_ELICITATION_REQUIRED = -32042      /* 2025-11-25: error.data.elicitations */
};

typedef struct mcp_server_opts {
    const char *name;          /* serverInfo.name, required */
    const char *version;       /* serverInfo.version, required */
    const char *title;         /* optional display name */
    const char *instructions;  /* optional, sent in initialize/discover */
    size_t page_size;          /* list page size; 0 means 50 */
    size_t max_message_size;   /* bytes; 0 means 4 MiB */
    unsigned max_json_depth;   /* 0 means 64 */
    /* Modern-era cache hints on list results, server/discover and (unless
     * the resource says otherwise) resources/read: ttlMs and cacheScope.
     * Defaults: 0 (immediately stale) and "private". */
    uint32_t ttl_ms;
    const char *cache_scope;   /* "private" or "public" */
    /* Serve resources/read and cacheable tools/call from a cache (see
     * "Result cache" below); NULL: every request runs its handler. Kept by
     * pointer: it must outlive the server. */
    struct mcp_result_cache *result_cache;
    const char *icons;         /* optional Icon array JSON text for serverInfo */
    const char *website_url;   /* optional serverInfo.websiteUrl */
    /* How long a modern-era requestState stays valid; 0 means 10 minutes. */
    uint32_t request_state_ttl_ms;
    /* The key that seals requestState (at least 16 bytes). NULL: a random
     * key per server object; servers behind one load balancer share a key
     * so that a retry may land on any of them. */
    const unsigned char *request_state_key;
    size_t request_state_key_len;
    /* Limits on what clients can make the server keep: live tasks (0
     * means 1024; per session in the handshake era, per server for the
     * modern era's tasks, which any connection may poll), and resource
     * subscriptions plus open listens per session (0 means 4096). Beyond
     * them requests fail with -32600. */
    unsigned max_tasks;
    unsigned max_subscriptions;
    /* Tracing and metrics hooks (see "Observer" below); zero: none. */
    const struct mcp_observer *observer; /* kept by pointer: must outlive the server */
} mcp_server_opts;

/* Returned by a handler that asked for input (see "Input from the client"
 * below); like MCP_PENDING it is not an error. */
#define MCP_INPUT_REQUIRED 2

/* ---- Handlers ------------------------------------------------------------ */
typedef int (*mcp_tool_fn)(mcp_call *call, const mcp_json *args, void *user);
typedef int (*mcp_resource_fn)(mcp_call *call, const char *uri, void *user);
typedef int (*mcp_prompt_fn)(mcp_call *call, const mcp_json *args, void *user);
/* completion/complete for a prompt argument or a template variable: append
 * up to 100 suggestions for value with mcp_call_completion. context holds
 * the other arguments already resolved (an object, or NULL). */
typedef int (*mcp_complete_fn)(mcp_call *call, const char *argument, const char *value,
                               const mcp_json *context, void *user);

typedef struct mcp_tool {
    const char *name;          /* required, unique */
    const char *title;
    const char *description;
    const char *input_schema;  /* JSON Schema text; NULL means {"type":"object"} */
    const char *output_schema; /* optional JSON Schema text; results must then carry structuredContent */
    const char *annotations;   /* optional ToolAnnotations JSON text */
    mcp_tool_fn fn;            /* required */
    void *user;
    const char *icons;         /* optional Icon array JSON text */
    const char *meta;          /* optional _meta object JSON text, passed through */
    /* Task-augmented execution: NULL or "forbidden", "optional",
     * "required". A task runs the same handler and cancellation arrives as
     * mcp_call_is_cancelled. Handshake era (2025-11-25): when the client
     * adds a task param; the reply is kept for tasks/result. Modern era
     * (tasks extension): always when the request declares the extension,
     * the reply inlined by tasks/get, input asked for by the handler
     * surfaced as the task's inputRequests and answered with tasks/update;
     * "required" refuses a request without the extension with -32021. */
    const char *task_support;
    /* Modern era, with task support: where the task begins. false: at the
     * first round, and what the handler asks the client goes through the
     * task (input_required on tasks/get, answers by tasks/update). true:
     * a round without inputResponses runs inline, so the handler's
     * questions go back as an ordinary input_required result (with its
     * requestState), and the round that brings the answers becomes the
     * task: gather input first, then work long. A first round that asks
     * nothing is then answered inline as well. */
    bool task_after_input;
} mcp_tool;

typedef struct mcp_resource {
    const char *uri;           /* required, unique */
    const char *name;          /* required */
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_resource_fn fn;        /* required: writes contents with mcp_call_resource_* */
    void *user;
    const char *icons;         /* optional Icon array JSON text */
    const char *annotations;   /* optional Annotations JSON text */
    const char *meta;          /* optional _meta object JSON text */
    int64_t size;              /* bytes, when known; 0 leaves it out */
    /* Modern-era cache hints of resources/read; ttl_ms 0 or cache_scope
     * NULL take the server's (mcp_server_opts); a negative ttl_ms (never
     * cached) tells clients ttlMs 0. */
    int64_t ttl_ms;
    const char *cache_scope;
} mcp_resource;

typedef struct mcp_resource_template {
    const char *uri_template;  /* RFC 6570 level 1, e.g. "file:///{path}" */
    const char *name;
    const char *title;
    const char *description;
    const char *mime_type;
    mcp_resource_fn fn;        /* called with the concrete URI */
    void *user;
    mcp_complete_fn complete;  /* optional: completes the template's variables */
    const char *icons;
    const char *annotations;
    const char *meta;
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
    mcp_complete_fn complete;  /* optional: completes argument values */
    const char *icons;
    const char *meta;
} mcp_prompt;

/* ---- Server -------------------------------------------------------------- */
mcp_server *mcp_server_new(const mcp_server_opts *opts);
void mcp_server_free(mcp_server *server);

int mcp_server_add_tool(mcp_server *server, const mcp_tool *tool);
int mcp_server_remove_tool(mcp_server *server, const char *name);
int mcp_server_add_resource(mcp_server *server, const mcp_resource *resource);
int mcp_server_remove_resource(mcp_server *server, const char *uri);
int mcp_server_add_resource_template(mcp_server *server, const mcp_resource_template *tmpl);
int mcp_server_remove_resource_template(mcp_server *server, const char *uri_template);
int mcp_server_add_prompt(mcp_server *server, const mcp_prompt *prompt);
int mcp_server_remove_prompt(mcp_server *server, const char *name);
/* Every change above sends notifications/{tools,resources,prompts}/list_changed
 * to each initialized handshake-era session and to each modern listen that
 * asked for it. */

/* Tell every session subscribed to uri (resources/subscribe, or a modern
 * subscriptions/listen naming it) that the resource changed. A subscription
 * to "a/b" also hears of "a/b/c". Returns how many sessions were told. */
int mcp_server_notify_resource_updated(mcp_server *server, const char *uri);
/* A log message to every handshake-era session whose level (logging/setLevel)
 * admits it; sessions that set no level get every message. */
int mcp_server_log(mcp_server *server, mcp_log_level level, const char *logger, const char *fmt, ...)
    MCP_PRINTF(4, 5);

/* Mcp-Param-* headers (2026-07-28 Streamable HTTP). A property of a tool's
 * inputSchema that carries "x-mcp-header": "Name" (string, integer or
 * boolean; an HTTP token unique in the schema, else registration fails with
 * MCP_EINVAL) is mirrored by clients into the header Mcp-Param-Name. The
 * HTTP transport passes the request's headers (any of them; names compare
 * ignoring case) and the tools/call arguments: 0 when every mirrored value
 * matches the body (base64 "=?base64?…?=" values decoded, integers compared
 * as numbers), MCP_EINVAL otherwise with why set; answer that with HTTP 400
 * and JSON-RPC error MCP_ERROR_HEADER_MISMATCH. An unknown tool passes (the
 * call itself will fail). */
typedef struct mcp_header_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} mcp_header_field;
int mcp_server_check_param_headers(mcp_server *server, const char *tool, const mcp_json *arguments,
                                   const mcp_header_field *headers, size_t count, mcp_buf *why);

/* ---- Observer: tracing and metrics hooks -------------------------------------
 * The server core reports every request it answers (all transports, also
 * those that fail before a handler runs) to an observer, and the client
 * every request it sends. mcp/obs.h provides one (mcp_obs_observer) that
 * makes OpenTelemetry spans and Prometheus metrics; this layer knows
 * nothing of them. on_request_start runs on the thread that handles the
 * message, before the handler (so the handler runs under its span), and
 * returns a handle (NULL: nothing to end); on_request_end runs once per
 * started request, on the thread that completes it. Slices in
 * mcp_request_info are valid only during on_request_start. */
typedef struct mcp_request_info {
    mcp_str method;
    mcp_str target;               /* tools/call, prompts/get: the name */
    mcp_str resource_uri;         /* resources/read, subscribe, unsubscribe */
    mcp_str request_id;           /* the id as JSON text (7 or "abc") */
    mcp_str session_id;           /* the transport's session (Mcp-Session-Id), if any */
    const char *protocol_version; /* the version the request speaks, or NULL */
    const char *transport;        /* network.transport: "pipe", "tcp", or NULL */
    const char *network_protocol; /* network.protocol.name: "http", "websocket", or NULL */
    mcp_str traceparent;          /* params._meta.traceparent */
    mcp_str tracestate;
    mcp_str http_traceparent;     /* the transport's traceparent header (used when _meta has none) */
    mcp_str http_tracestate;
    bool client;                  /* a request we send */
    /* The connection's far end (network.peer.*, and client.* on server
     * spans), or NULL (stdio, client requests). Valid during on_request_start. */
    const struct mcp_transport_peer *peer;
} mcp_request_info;

typedef struct mcp_request_outcome {
    int rpc_code;                 /* the JSON-RPC error code; 0 for a result */
    bool tool_error;              /* a tools/call result with isError: true */
    const char *message;          /* the error message, or NULL */
} mcp_request_outcome;

#define MCP_TRACEPARENT_TEXT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

typedef struct mcp_observer {
    void *(*on_request_start)(void *user, const mcp_request_info *info);
    void (*on_request_end)(void *user, void *handle, const mcp_request_outcome *outcome);
    /* Client side: the traceparent to send with the request of handle
     * (written with its NUL); 0, or nonzero to send none. Optional. */
    int (*traceparent)(void *user, void *handle, char out[MCP_TRACEPARENT_TEXT_LEN + 1]);
    /* Optional: the handler of handle returned (the request may still go
     * on asynchronously); whatever start made current on this thread stops
     * being current. */
    void (*on_handler_exit)(void *user, void *handle);
    /* Optional: append the text served at GET /metrics on the HTTP
     * listener (Prometheus text format). net is that listener's runtime (an
     * mcp_net of mcp/net.h), for its counters. NULL: /metrics is 404. */
    int (*metrics)(void *user, void *net, mcp_buf *out);
    /* Optional: the structured record (a JSON object) that log messages to
     * the client (mcp_call_log, mcp_server_log) carry as their data, the
     * same the operator's JSON logs show. handle is the request's, or NULL
     * outside one. Without it data is the message text. */
    int (*log_record)(void *user, void *handle, mcp_log_level level, const char *logger, const char *msg,
                      mcp_buf *out);
    void *user;
} mcp_observer;

/* What a transport knows of a message that the session does not: which
 * transport it came by, the transport's session id, the W3C trace headers.
 * Slices need to live only during the call. */
typedef struct mcp_transport_info {
    const char *transport;        /* "pipe", "tcp" */
    const char *network_protocol; /* "http", "websocket", or NULL */
    mcp_str session_id;
    mcp_str traceparent;
    mcp_str tracestate;
} mcp_transport_info;

/* The far end of a network connection as its socket reported it once, at
 * accept (numeric, no name lookup; an IPv4-mapped IPv6 address is given as
 * IPv4). A transport keeps one per connection and makes it current while
 * it handles that connection's input (mcp_transport_peer_swap), so a
 * request costs one pointer copy, not a getpeername. */
typedef struct mcp_transport_peer {
    char address[46];             /* "127.0.0.1", "::1"; NUL-terminated */
    uint8_t address_len;          /* 0: unknown (no attributes are set) */
    uint16_t port;
} mcp_transport_peer;

/* ---- Sessions: how a transport talks to the server -------------------------
 * One session per connection (or per stdio pair). The sink receives each
 * outgoing message as one complete JSON text without a trailing newline;
 * framing is the transport's job. The sink may be called from the thread
 * that completes an asynchronous handler. */
/* A transport that can end one request's response stream early, leaving
 * the request running, so that the client comes back for the rest
 * (mcp_call_close_stream), gives its sinks a close_stream; request_id is the
 * JSON text of the request's id. NULL: the transport cannot. */
typedef int (*mcp_sink_close_stream_fn)(void *user, const char *request_id, size_t len);
/* A transport whose output collects in a buffer of its own may lend that
 * buffer (lend and lent, both or neither), so that a response is built in
 * place instead of built elsewhere and copied in. lend returns the buffer
 * to append one message to, or NULL when it cannot lend now (not on the
 * connection's own thread, closing): the message then goes to write as
 * usual. Once the message is appended whole, lent is called with the length
 * the buffer had before it, and frames and accounts for those bytes just as
 * write would have for the same text; a message that could not be finished
 * is taken back instead and lent is not called. Both run under the
 * session's lock. Batch replies and everything but a request's own reply
 * keep going to write. */
typedef mcp_buf *(*mcp_sink_lend_fn)(void *user);
typedef int (*mcp_sink_lent_fn)(void *user, size_t start);
typedef struct mcp_sink {
    int (*write)(void *user, const char *message, size_t len);
    void *user;
    mcp_sink_close_stream_fn close_stream;
    mcp_sink_lend_fn lend; /* NULL: the transport does not lend */
    mcp_sink_lent_fn lent;
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
/* mcp_session_handle, telling the observer what the transport knows (info
 * may be NULL). */
int mcp_session_handle_from(mcp_session *session, const char *message, size_t len,
                            const mcp_transport_info *info);
/* The same for any way of handing messages over: make info (may be NULL)
 * the transport info of the messages this thread handles from now on, and
 * return the previous one, to be put back after. */
const mcp_transport_info *mcp_transport_info_swap(const mcp_transport_info *info);
/* Likewise for the peer of the connection whose input this thread handles
 * (NULL: none). Requests started under a transport info carry it. */
const mcp_transport_peer *mcp_transport_peer_swap(const mcp_transport_peer *peer);
/* The server's observer (mcp_server_opts.observer), or NULL. */
const mcp_observer *mcp_server_observer(const mcp_server *server);
/* Negotiated protocol version, or NULL before initialize. */
const char *mcp_session_protocol_version(const mcp_session *session);
/* Optional, set before the first message. Messages that belong to one
 * request — its response, its progress and log notifications, the requests
 * sent to the client on its behalf, and everything a subscriptions/listen
 * stream carries — then go to write_for (with the sink's user) along with
 * that request's id as JSON text (7 or "abc"), instead of to sink.write, so
 * that an HTTP transport can put them on that request's stream (or on its
 * general stream once that one is gone). Batch replies still go to write. */
typedef int (*mcp_sink_write_for_fn)(void *user, const char *request_id, size_t id_len, const char *message,
                                     size_t len);
int mcp_session_set_write_for(mcp_session *session, mcp_sink_write_for_fn write_for);
/* mcp_session_handle in two steps, for a transport that must look at a
 * message before it runs (HTTP checks its headers against the body), so
 * that the text is parsed once: mcp_session_parse copies the text into
 * memory of the session and parses it there (params fully built, see
 * mcp/rpc.h for what *out holds; the text may go away at once), and
 * mcp_session_run then handles exactly that message. *out stays valid until
 * mcp_session_run returns. A parsed message that is not run is dropped by
 * the next mcp_session_parse or mcp_session_handle, or by mcp_session_free.
 * Bad input is not an error of the call: *out describes it and run answers
 * it. Both return 0, MCP_EINVAL (run: nothing parsed) or MCP_ENOMEM. */
struct mcp_rpc_batch;
int mcp_session_parse(mcp_session *session, const char *message, size_t len, const struct mcp_rpc_batch **out);
int mcp_session_run(mcp_session *session);

/* Server-to-client requests (handshake era). The callback runs once: with
 * status 0 and the response's result or error (the other NULL), or with
 * MCP_ECLOSED and both NULL when the session ends first. It runs on the
 * thread that handles the response message (inside mcp_session_handle) or
 * frees the session. */
typedef void (*mcp_response_fn)(int status, const mcp_json *result, const mcp_json *error, void *user);
/* Send method with params (a JSON object text, or NULL). sampling/createMessage,
 * roots/list and elicitation/create are refused with MCP_EUNSUPPORTED unless
 * the client declared the capability; MCP_EINVAL before initialize or on a
 * modern-era session, which has no server-to-client requests. */
int mcp_session_request(mcp_session *session, const char *method, const char *params_json,
                        mcp_response_fn fn, void *user);
int mcp_session_ping(mcp_session *session, mcp_response_fn fn, void *user);
/* Liveness for an application that serves with mcp_serve and so holds no
 * session: ping every initialized handshake-era session of the server, on
 * any transport. fn runs once per ping sent, on the thread that handles the
 * answer: status 0 when the client answered (an error answer counts: the
 * peer is there), MCP_ECLOSED when the session ended first; session is
 * valid only during the call. A session whose previous ping from here is
 * unanswered is skipped, so calling this every interval never piles up
 * requests; one still skipped a timeout later is not answering. Returns
 * how many pings were sent. Streamable HTTP can also do this itself and
 * delete silent sessions (mcp_http_opts.ping_interval_ms). */
typedef void (*mcp_ping_fn)(mcp_session *session, int status, void *user);
size_t mcp_server_ping_sessions(mcp_server *server, mcp_ping_fn fn, void *user);
/* End every open subscriptions/listen with its final (empty) result, as a
 * graceful shutdown should. Returns how many were ended. */
int mcp_session_end_listens(mcp_session *session);

/* ---- Inside a handler ------------------------------------------------------ */
/* Tool results: append content blocks. */
int mcp_call_text(mcp_call *call, const char *fmt, ...) MCP_PRINTF(2, 3);
int mcp_call_text_n(mcp_call *call, const char *text, size_t len);
/* A text block whose text is a string of the request (an argument, say):
 * its validated JSON text is forwarded as it is, neither decoded nor escaped
 * again. A string of the request's own params, which the library keeps
 * unchanged until the call completes, is referred to rather than copied;
 * any other string is copied now. MCP_EINVAL when text is not a string. */
int mcp_call_text_value(mcp_call *call, const mcp_json *text);
int mcp_call_image(mcp_call *call, const char *base64_data, const char *mime_type);
int mcp_call_audio(mcp_call *call, const char *base64_data, const char *mime_type);
int mcp_call_resource_link(mcp_call *call, const char *uri, const char *name, const char *mime_type);
int mcp_call_content_json(mcp_call *call, const char *content_block_json); /* any ContentBlock, passed through */
/* structuredContent (a JSON object text); required when the tool has an output schema. */
int mcp_call_structured(mcp_call *call, const char *json_object);
/* Mark the tool result as failed (isError: true) with a text explanation. */
int mcp_call_tool_error(mcp_call *call, const char *fmt, ...) MCP_PRINTF(2, 3);

/* Embedded resources (EmbeddedResource content blocks). */
int mcp_call_embedded_text(mcp_call *call, const char *uri, const char *mime_type, const char *text, size_t len);
int mcp_call_embedded_blob(mcp_call *call, const char *uri, const char *mime_type, const char *base64_data);
/* Attach annotations (an Annotations object JSON text) to the content block
 * appended last (tool content or prompt message). Resource contents have
 * no annotations in any protocol version: MCP_EINVAL there. */
int mcp_call_annotate(mcp_call *call, const char *annotations_json);

/* Resource contents (resources/read). */
int mcp_call_resource_text(mcp_call *call, const char *uri, const char *mime_type, const char *text, size_t len);
int mcp_call_resource_blob(mcp_call *call, const char *uri, const char *mime_type, const char *base64_data);

/* Prompt messages (prompts/get); role is "user" or "assistant". */
int mcp_call_prompt_message(mcp_call *call, const char *role, const char *text);
int mcp_call_prompt_description(mcp_call *call, const char *description);
/* A prompt message with any ContentBlock (image, audio, resource,
 * resource_link, text) as JSON text, written through unchanged. MCP_EINVAL
 * unless it is an object whose "type" is one of those. */
int mcp_call_prompt_content(mcp_call *call, const char *role, const char *content_block_json);

/* The result's own _meta (tool, resource and prompt results alike): a JSON
 * object text, MCP_EINVAL otherwise; the last call wins. In the modern era
 * the server's io.modelcontextprotocol/serverInfo is added unless the
 * object names it. */
int mcp_call_result_meta(mcp_call *call, const char *meta_json);

/* Progress, sent only when the request carried a progressToken. */
int mcp_call_progress(mcp_call *call, double progress, double total, const char *message);
bool mcp_call_is_cancelled(const mcp_call *call);

/* SSE polling (handshake era over Streamable HTTP, 2025-11-25): end the
 * SSE stream that carries this request's messages now, while the handler
 * goes on. The client reconnects after the stream's retry interval with
 * Last-Event-ID and gets what was sent meanwhile, the reply included, from
 * the event store. A long call can so hold no connection open. A request
 * that has sent nothing yet gets its stream opened (with its priming event)
 * and ended. MCP_EUNSUPPORTED where the client could not come back: the
 * modern era, a transport other than Streamable HTTP, a client that
 * accepts only JSON, a batch; MCP_EINVAL once the reply was sent. */
int mcp_call_close_stream(mcp_call *call);

/* Log messages (notifications/message) about this request. Sent when the
 * client asked for the level: logging/setLevel for the session (handshake
 * era; until then every level is sent), or _meta
 * "io.modelcontextprotocol/logLevel" on this request (modern era; absent
 * means none). logger may be NULL. */
int mcp_call_log(mcp_call *call, mcp_log_level level, const char *logger, const char *fmt, ...) MCP_PRINTF(4, 5);
int mcp_call_log_json(mcp_call *call, mcp_log_level level, const char *logger, const char *data_json);

/* completion/complete, inside an mcp_complete_fn. */
int mcp_call_completion(mcp_call *call, const char *value);
int mcp_call_completion_total(mcp_call *call, size_t total, bool has_more);

/* ---- Input from the client ---------------------------------------------------
 * A handler that needs the client (sampling, elicitation, roots) asks and
 * returns; it runs again, with the same arguments, once the answers are in:
 *
 *     const mcp_json *ok = mcp_call_input(call, "confirm");
 *     if (!ok)
 *         return mcp_call_request_elicitation(call, "confirm", "Delete it?", SCHEMA);
 *     if (strcmp(mcp_json_str(mcp_json_get(ok, "action"), ""), "accept") != 0) ...
 *
 * Handshake era: each request goes to the client as a JSON-RPC request with
 * an id of ours; the call waits, and runs again when every answer arrived.
 * Modern era: the call ends with resultType "input_required" and the
 * requests under inputRequests; the client retries with inputResponses, and
 * that retry runs the handler. Answers of earlier rounds stay visible in the
 * handshake era only; in the modern era keep what a later round needs in
 * the request state. On the wire the state is sealed (HMAC-SHA256 under a
 * per-server key, bound to the method and tool/prompt/resource, with an
 * expiry): a forged, stale or transplanted state is refused with -32602
 * before the handler runs. It is readable by the client: no secrets in it.
 *
 * Requests return MCP_INPUT_REQUIRED (return it from the handler), or a
 * negative code, with the call failed with -32021, when the client did not
 * declare the capability. Only while the handler runs (not after
 * MCP_PENDING). key: a short name of the handler's choosing. */
int mcp_call_request_input(mcp_call *call, const char *key, const char *method, const char *params_json);
int mcp_call_request_elicitation(mcp_call *call, const char *key, const char *message,
                                 const char *requested_schema_json);
int mcp_call_request_sampling(mcp_call *call, const char *key, const char *params_json);
int mcp_call_request_roots(mcp_call *call, const char *key);
/* URL elicitation (2025-11-25 and later; the client must declare
 * elicitation.url): the user visits url out of band (a sign-in, a payment)
 * and the answer only says whether they agreed to go (action). Handshake
 * era: elicitation_id is required, unique within the server, and names the
 * interaction in notifications/elicitation/complete. Modern era: the
 * schema has no id (it is ignored, may be NULL); the client's retry after
 * the visit is the completion. */
int mcp_call_request_elicitation_url(mcp_call *call, const char *key, const char *message, const char *url,
                                     const char *elicitation_id);
/* Fail the request with URLElicitationRequiredError (-32042) whose data
 * lists this one URL elicitation: for a request that cannot go on until the
 * user has visited url. For several, use mcp_call_fail_data. The error is
 * defined by 2025-11-25; the modern era has input requests instead (the
 * error is still sent there, as a plain JSON-RPC error). */
int mcp_call_require_url_elicitation(mcp_call *call, const char *message, const char *url,
                                     const char *elicitation_id);
/* notifications/elicitation/complete: the out-of-band interaction named
 * elicitation_id has finished. Handshake era only, 2025-11-25 and later,
 * for a client that declared elicitation.url (MCP_EUNSUPPORTED otherwise).
 * The call form ties it to the request (while the call lives); the session
 * form is for later. */
int mcp_call_elicitation_complete(mcp_call *call, const char *elicitation_id);
int mcp_session_elicitation_complete(mcp_session *session, const char *elicitation_id);
/* The client's answer (a result object) for key, or NULL. */
const mcp_json *mcp_call_input(const mcp_call *call, const char *key);
/* Does the client take this server-to-client request? method is
 * "sampling/createMessage", "roots/list" or "elicitation/create". A
 * sampling request whose params carry tools or toolChoice also needs the
 * client's sampling.tools (2025-11-25 and later), a URL elicitation its
 * elicitation.url; without them the request fails the call with -32021. */
bool mcp_call_client_supports(const mcp_call *call, const char *method);
/* The same for a mode of the request: "form" or "url" for
 * elicitation/create, "tools" for sampling/createMessage with tools. Ask
 * before requesting: a refused request fails the call, and the first error
 * is the one the client sees. */
bool mcp_call_client_supports_mode(const mcp_call *call, const char *method, const char *mode);
/* State carried across rounds: set it for the next round, read the last. */
int mcp_call_set_request_state(mcp_call *call, const char *state);
const char *mcp_call_request_state(const mcp_call *call);

/* Fail the request with a JSON-RPC error instead of a result. */
int mcp_call_fail(mcp_call *call, int rpc_code, const char *message);
/* The same with error.data (any JSON text, or NULL); MCP_EINVAL when
 * data_json is not JSON. */
int mcp_call_fail_data(mcp_call *call, int rpc_code, const char *message, const char *data_json);
/* Complete a call whose handler returned MCP_PENDING. Thread safe. */
int mcp_call_finish(mcp_call *call);

/* What the request said about its caller. */
const char *mcp_call_method(const mcp_call *call);
const char *mcp_call_protocol_version(const mcp_call *call);
mcp_arena *mcp_call_arena(mcp_call *call); /* lives until the call completes */

/* ---- Result cache: answering from stored results ------------------------------
 * With opts.result_cache set, the server answers resources/read and the
 * tools/call of cacheable tools from a store, and runs the handler only on
 * a miss (once per key, however many sessions ask at the same moment).
 * What is stored is the result body alone ({"contents":[...]} or
 * {"content":[...],"structuredContent":...}); the id, resultType, _meta and
 * cache hints are written around it for each request, so one entry serves
 * every request id, session and protocol era.
 *
 * What is cached, and for how long:
 *   resources  every resource and template match, for the resource's
 *              ttl_ms, else the server's ttl_ms, else default_ttl_ms;
 *              a resource with a negative ttl_ms is never cached
 *   tools      those given a policy with mcp_result_cache_set_tool
 *              (ttl_ms 0 there opts a tool out), and those whose annotations
 *              say both readOnlyHint and idempotentHint (default_ttl_ms, the
 *              server's scope, no tags); keyed by name and the canonical
 *              JSON of the arguments, so member order does not matter
 * Only complete results are stored: not isError, not errors, not a handler
 * that went asynchronous (MCP_PENDING), asked the client for input, or ran
 * as a task. In the modern era such results carry ttlMs (the time the entry
 * has left) and cacheScope (the policy's, else the resource's or server's).
 *
 * The store is the application's (mcpd wires the tiered cache of
 * mcp/cache.h, whose key helper it uses); this layer only decides what may
 * be stored. Configure the cache before serving starts. */
typedef struct mcp_result_cache mcp_result_cache;

typedef struct mcp_result_policy {
    uint64_t ttl_ms;              /* 0 (set_tool): never cache this tool */
    const char *cache_scope;      /* "public" or "private"; NULL: the server's */
    const char *const *tags;      /* dropped together by mcp_server_invalidate_tag */
    size_t tag_count;
    const char *const *deps;      /* resource URIs the result is derived from: */
    size_t dep_count;             /* invalidating one of them drops it too */
} mcp_result_policy;

/* Runs the handler: appends the body to body and returns 0 when it may be
 * stored, or a negative code (nothing is stored). */
typedef int (*mcp_result_compute_fn)(void *compute_user, mcp_buf *body);

typedef struct mcp_result_store {
    /* name is a resource URI (arguments NULL) or a tool name with its
     * arguments object; the store derives its key from both. On a hit
     * append the stored body to out and set *ttl_left_ms to the time the
     * entry has left; on a miss run compute (once for concurrent callers of
     * one key), store its body under policy, append it to out and set
     * *ttl_left_ms to policy->ttl_ms. Return 0, or compute's error (every
     * caller that waited for that compute gets it too), or the store's. */
    int (*get_or_compute)(void *user, const char *name, const mcp_json *arguments,
                          const mcp_result_policy *policy, mcp_result_compute_fn compute,
                          void *compute_user, mcp_buf *out, uint64_t *ttl_left_ms);
    /* Drop the stored result of a resource, or every result tagged tag,
     * with whatever was derived from them. *removed (may be NULL) counts. */
    int (*invalidate_resource)(void *user, const char *uri, size_t *removed);
    int (*invalidate_tag)(void *user, const char *tag, size_t *removed);
    void *user;
} mcp_result_store;

typedef struct mcp_result_cache_opts {
    mcp_result_store store;       /* required: all three functions */
    uint64_t default_ttl_ms;      /* 0 means 60000 */
    bool ignore_annotations;      /* cache only tools given a policy */
} mcp_result_cache_opts;

int mcp_result_cache_new(const mcp_result_cache_opts *opts, mcp_result_cache **out);
void mcp_result_cache_free(mcp_result_cache *cache);
/* Cache tool's results under policy (copied), replacing any earlier one. */
int mcp_result_cache_set_tool(mcp_result_cache *cache, const char *tool, const mcp_result_policy *policy);

/* A resource changed: drop its stored result (and those derived from it),
 * then tell subscribers as mcp_server_notify_resource_updated does.
 * Returns how many sessions were told. */
int mcp_server_invalidate_resource(mcp_server *server, const char *uri);
/* Drop every stored result tagged tag. Returns how many stored copies
 * were dropped (a tiered store counts each tier's), or a negative code. */
int mcp_server_invalidate_tag(mcp_server *server, const char *tag);

#ifdef __cplusplus
}
#endif
#endif
