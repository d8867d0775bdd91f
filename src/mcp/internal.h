/*
 * internal.h — the server core's private structures, shared by the files of
 * src/mcp (server, session, dispatch, methods, call). Nothing outside
 * src/mcp includes this.
 */
#ifndef MCP_MCP_INTERNAL_H
#define MCP_MCP_INTERNAL_H

#include "mcp/mcp.h"
#include "mcp/rpc.h"
#include "mcp/registry.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct mcp_task mcp_task;

struct mcp_server {
    mcp_server_opts opts;          /* strings point into arena */
    mcp_arena arena;
    pthread_mutex_t lock;          /* writers, and snapshot acquisition */
    _Atomic(mcp_registry_snapshot *) current;
    atomic_uint_fast64_t generation;
    /* Tools of the current snapshot that declare x-mcp-header params: with
     * none, the HTTP transport's header check has nothing to look up. */
    atomic_size_t param_header_tools;
    uint64_t seed;                 /* hash seed and cursor authentication key */
    /* Live sessions, for notifications that concern all of them
     * (list_changed, resources/updated, server-wide log messages). Lock
     * order: sessions_lock before any session's lock. */
    pthread_mutex_t sessions_lock;
    mcp_session *sessions;
    unsigned char state_key[32];   /* HMAC key of modern-era requestState */
};

/* A batch answered as one array once every request in it has completed
 * (some may complete asynchronously). Guarded by the session lock. */
typedef struct mcp_batch_reply {
    mcp_buf buf;
    size_t outstanding;   /* requests not yet answered, plus one while dispatching */
    size_t written;
} mcp_batch_reply;

typedef enum mcp_call_kind {
    MCP_CALL_DIRECT = 0,  /* the method wrote its whole response into out */
    MCP_CALL_TOOL,
    MCP_CALL_RESOURCE,
    MCP_CALL_PROMPT,
    MCP_CALL_COMPLETION
} mcp_call_kind;

typedef enum mcp_call_state {
    MCP_CALL_IDLE = 0,
    MCP_CALL_IN_HANDLER,
    MCP_CALL_ASYNC,
    MCP_CALL_AWAIT_INPUT          /* handshake era: waiting for the client's answers */
} mcp_call_state;

/* One input a handler asked for (mcp_call_request_input), or one answer the
 * client gave (handshake era: stored in the call; modern era: read from
 * params.inputResponses). Strings live in the call's arena. */
typedef struct mcp_input_entry {
    struct mcp_input_entry *next;
    const char *key;
    const char *method;           /* requests */
    const char *params;           /* requests: JSON text */
    mcp_json *response;           /* answers */
    int64_t request_id;           /* handshake era: id of the request sent */
} mcp_input_entry;

struct mcp_call {
    mcp_session *session;
    mcp_call *next;               /* in-flight list or free pool */
    mcp_arena arena;              /* everything of this request; reset on reuse */
    mcp_buf items;                /* content blocks / contents / messages, comma separated */
    mcp_buf structured;           /* structuredContent JSON text */
    mcp_buf out;                  /* the response being written */
    mcp_rpc_id id;
    const char *method;
    const char *version;          /* protocol version this request speaks */
    bool modern;
    mcp_json *params;             /* fully parsed, in arena; NULL when absent */
    mcp_json *meta;
    /* Found by dispatch in its one pass over params and _meta, so that
     * neither the observer nor the method walks them again:
     * params.name (also the tool that tools/call looks up), params.uri,
     * _meta.traceparent and _meta.tracestate, NULL when absent. */
    const mcp_json *obs_name, *obs_uri, *obs_traceparent, *obs_tracestate;
    /* params.arguments from the same pass (tools/call, prompts/get). */
    mcp_json *arguments;
    mcp_rpc_id progress_token;
    mcp_call_kind kind;
    mcp_call_state state;
    bool finish_requested;        /* mcp_call_finish came while still in the handler */
    bool is_error;
    size_t item_count;
    size_t last_item;             /* offset of the last item in items (mcp_call_annotate) */
    /* A text block whose text the call's arena holds (mcp_call_text_value),
     * kept as a reference while it is the only item: the usual tool result
     * then copies its text once, into the reply, instead of into items and
     * again from there. items is empty while this is set; whatever else
     * reads or extends items writes it there first (mcp_call_items_settle). */
    mcp_str borrowed_text;
    const char *description;      /* prompts */
    int fail_code;
    const char *fail_message;
    const char *fail_data;        /* JSON text for error.data, or NULL */
    mcp_json *result_meta;        /* mcp_call_result_meta: an object (in arena), or NULL */
    const mcp_registry_entry *entry;
    mcp_registry_snapshot *snap;  /* referenced while the call lives, and in the pool */
    mcp_batch_reply *batch;
    atomic_bool cancelled;
    int (*run)(mcp_call *call);   /* the method, run again when input arrives */
    mcp_json *client_caps;        /* what the client can do (modern: per request) */
    int log_level;                /* modern: from _meta; -1 sends no log messages */
    mcp_input_entry *requests;     /* asked for in this invocation */
    size_t awaiting;              /* requests still unanswered */
    const char *request_state;    /* what the handler reads */
    const char *next_state;       /* what it set for the next round */
    bool input_required;          /* modern: answer with an InputRequiredResult */
    bool listen;                  /* an open subscriptions/listen: answered when it ends */
    mcp_task *task;               /* task-augmented: the reply goes into this task */
    size_t completion_total;      /* completion/complete */
    bool completion_has_more, completion_total_set;
    void *obs_handle;             /* the observer's handle (observe.c) */
    bool observed;                /* the observer was told of the start */
};

/* A server-to-client request awaiting its response: either one of
 * mcp_session_request (fn set) or an input of a call (call set). */
typedef struct mcp_outbound {
    struct mcp_outbound *next;
    int64_t id;
    mcp_response_fn fn;
    void *user;
    mcp_call *call;
    mcp_input_entry *input;
} mcp_outbound;

/* An open subscriptions/listen request (modern era). */
typedef struct mcp_listen {
    struct mcp_listen *next;
    mcp_rpc_id id;                /* text malloc'd with the listen */
    bool tools, resources, prompts;
    char **uris;
    size_t uri_count;
} mcp_listen;

typedef enum mcp_session_state {
    MCP_SESSION_NEW = 0,
    MCP_SESSION_READY            /* initialize answered */
} mcp_session_state;

struct mcp_session {
    mcp_server *server;
    mcp_sink sink;
    mcp_sink_write_for_fn write_for; /* optional: messages of one request */
    pthread_mutex_t lock;        /* sink writes, in-flight list, pool, pending */
    pthread_cond_t idle;
    size_t pending;              /* asynchronous calls not yet finished */
    mcp_call *inflight;
    mcp_call *pool;
    size_t pool_size;
    mcp_arena arena;             /* per message; reset at each mcp_session_handle */
    mcp_buf scratch;             /* errors written by the session itself */
    mcp_session_state state;
    char version[16];            /* negotiated by initialize */
    mcp_registry_snapshot *snap;
    uint64_t snap_generation;
    mcp_session *srv_next, *srv_prev; /* the server's list, under its sessions_lock */
    /* The rest is guarded by lock. */
    bool initialized;            /* notifications/initialized received */
    int log_level;               /* logging/setLevel; -1 until set */
    mcp_arena caps_arena;        /* the client's capabilities from initialize */
    mcp_json *client_caps;
    char **subscriptions;        /* resources/subscribe URIs, malloc'd */
    size_t subscription_count;
    mcp_outbound *outbound;
    int64_t next_request_id;
    size_t awaiting_input;       /* calls in MCP_CALL_AWAIT_INPUT (part of pending) */
    mcp_listen *listens;
    mcp_task *tasks;             /* tasks.c */
    /* The message of mcp_session_parse, waiting for mcp_session_run: its
     * text and DOM live in the arena of a call taken from the pool, which
     * runs it when it is a single request (no copy, no second parse). */
    mcp_call *staged;
    mcp_rpc_batch staged_batch;
    bool staged_ready;
    /* {"io.modelcontextprotocol/serverInfo":{…}}, the _meta of every modern
     * result: written once here, copied into each response. It lies inside
     * modern_tail, ],"_meta":{…}}, the end of a modern plain tool result
     * (call.c writes that in one piece). */
    char *modern_meta;
    size_t modern_meta_len;
    const char *modern_tail;
    size_t modern_tail_len;
};

/* Versions. */
int mcp_protocol_compare(const char *a, const char *b); /* by date */

/* Session: write one complete message (to the sink, or into a batch). */
void mcp_session_emit(mcp_session *session, mcp_batch_reply *batch, const char *text, size_t len);
/* The same for a message that belongs to a request (sink.write_for). */
void mcp_session_emit_for(mcp_session *session, const mcp_rpc_id *request, mcp_batch_reply *batch,
                          const char *text, size_t len);
/* Under the session lock: to the sink, for a request or not (request NULL). */
void mcp_session_write_locked(mcp_session *session, const mcp_rpc_id *request, const char *text, size_t len);
/* Error response written and emitted for a request id. */
void mcp_session_emit_error(mcp_session *session, mcp_batch_reply *batch, const mcp_rpc_id *id,
                            int code, const char *message, const char *data_json);

/* Dispatch of one request (dispatch.c). owner: NULL, or the call in whose
 * arena msg lives (the session's staged call), which then runs it. */
void mcp_dispatch_request(mcp_session *session, const mcp_rpc_message *msg, mcp_batch_reply *batch,
                          mcp_call *owner);
void mcp_dispatch_notification(mcp_session *session, const mcp_rpc_message *msg);
/* Run call->run and settle the outcome: complete, go asynchronous, or wait
 * for input (handshake) / answer input_required (modern). */
void mcp_dispatch_run(mcp_call *call);

/* Notifications to sessions (notify.c). */
void mcp_server_sessions_add(mcp_server *server, mcp_session *session);
void mcp_server_sessions_remove(mcp_server *server, mcp_session *session);
void mcp_server_notify_list_changed(mcp_server *server, mcp_registry_kind kind);
void mcp_session_subscriptions_free(mcp_session *session);
int mcp_method_subscribe(mcp_call *call);
int mcp_method_unsubscribe(mcp_call *call);
int mcp_method_listen(mcp_call *call);
/* Cancels the listen with this id, if any; true when one was found. */
bool mcp_session_listen_cancel(mcp_session *session, const mcp_rpc_id *id);
void mcp_session_listens_free(mcp_session *session);

/* Logging (logging.c). */
int mcp_method_set_level(mcp_call *call);
int mcp_log_level_of(const mcp_json *name); /* -1 when not a LoggingLevel */

/* Server-to-client requests and input (outbound.c). */
void mcp_session_response(mcp_session *session, const mcp_rpc_message *msg);
/* Send the call's input requests to the client (handshake era). */
int mcp_call_send_inputs(mcp_call *call);
/* Forget a waiting call's outstanding requests (it was cancelled). */
void mcp_session_outbound_drop_call(mcp_session *session, mcp_call *call);
void mcp_session_outbound_close(mcp_session *session);
bool mcp_caps_allow(const mcp_json *caps, const char *method, const char *mode);

/* Tasks (tasks.c, 2025-11-25 handshake sessions only). */
bool mcp_tasks_enabled(const mcp_call *call);
const char *mcp_task_id(const mcp_task *task);
int mcp_task_begin(mcp_call *call, const mcp_json *task_param);
void mcp_task_settle(mcp_call *call);
void mcp_task_awaiting_input(mcp_call *call, bool waiting);
void mcp_session_tasks_free(mcp_session *session);
int mcp_method_tasks_get(mcp_call *call);
int mcp_method_tasks_result(mcp_call *call);
int mcp_method_tasks_list(mcp_call *call);
int mcp_method_tasks_cancel(mcp_call *call);
void mcp_server_write_task_capability(mcp_json_writer *w);

/* x-mcp-header annotations of a tool's input schema (param_headers.c). */
int mcp_param_headers_compile(mcp_registry_entry *entry, const char *input_schema);

/* requestState on the wire (request_state.c). */
int mcp_server_state_key_init(mcp_server *server, const unsigned char *key, size_t len);
const char *mcp_request_state_seal(mcp_call *call, const char *state);
/* 0 with *state set; MCP_EINVAL when forged or not ours, MCP_ETIMEDOUT when expired. */
int mcp_request_state_open(mcp_call *call, const char *wire, size_t len, const char **state);

/* Completion (completion.c). */
int mcp_method_complete(mcp_call *call);

/* Calls (call.c). */
mcp_call *mcp_call_acquire(mcp_session *session);
/* Writes a borrowed text block (mcp_call.borrowed_text) into items: before
 * anything reads items or adds to them. 0 or MCP_ENOMEM. */
int mcp_call_items_settle_borrowed(mcp_call *call);
static inline int mcp_call_items_settle(mcp_call *call)
{
    return MCP_LIKELY(!call->borrowed_text.ptr) ? 0 : mcp_call_items_settle_borrowed(call);
}
/* Back to the pool without answering: a call that never ran. */
void mcp_call_release(mcp_call *call);
void mcp_call_complete(mcp_call *call, int rc);
void mcp_call_pool_free(mcp_call *pool);
/* Results: begin writes the envelope and opens the result object (with
 * resultType for the modern era); end adds _meta.serverInfo where the
 * version asks for it and closes both. */
void mcp_call_result_begin(mcp_call *call, mcp_json_writer *w);
void mcp_call_result_end(mcp_call *call, mcp_json_writer *w);
/* Modern-era cache hints: ttlMs and cacheScope, required on list and read results. */
void mcp_call_write_cache_hints(mcp_call *call, mcp_json_writer *w);
int mcp_call_set_error(mcp_call *call, int code, const char *message);
void mcp_server_write_info(const mcp_server *server, const char *version, mcp_json_writer *w);
void mcp_server_write_capabilities(const mcp_server *server, const char *version, mcp_json_writer *w);

/* Methods (lifecycle.c, lists.c, tools.c, resources.c, prompts.c). Each
 * returns what a handler returns: 0 done (response in call), MCP_PENDING,
 * or a negative code. Errors to the peer are set with mcp_call_set_error. */
int mcp_method_initialize(mcp_call *call);
int mcp_method_ping(mcp_call *call);
int mcp_method_discover(mcp_call *call);
int mcp_method_list(mcp_call *call, mcp_registry_kind kind);
int mcp_method_tools_call(mcp_call *call);
int mcp_method_resources_read(mcp_call *call);
int mcp_method_prompts_get(mcp_call *call);

/* Cursors (cursor.c): opaque, authenticated page positions. */
#define MCP_CURSOR_LEN 27
void mcp_cursor_encode(const mcp_server *server, uint64_t offset, uint64_t generation,
                       char out[MCP_CURSOR_LEN + 1]);
int mcp_cursor_decode(const mcp_server *server, const char *text, size_t len, uint64_t *offset);

/* RFC 6570 level 1 templates (uri_template.c). */
int mcp_uri_template_check(const char *tmpl);
bool mcp_uri_template_match(const char *tmpl, const char *uri);

#endif
