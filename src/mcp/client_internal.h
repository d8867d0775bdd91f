/*
 * client_internal.h — the client state machine's private structures, shared
 * by src/mcp/client.c (requests, routing, timeouts), client_negotiate.c
 * (discover and initialize), client_message.c (writing requests),
 * client_sync.c (the blocking API), client_cache.c (the result cache),
 * client_input.c (input_required rounds) and client_task.c (tasks).
 */
#ifndef MCP_CLIENT_INTERNAL_H
#define MCP_CLIENT_INTERNAL_H

#include "mcp/client.h"
#include "mcp/rpc.h"

/* Who consumes a response: the caller's callback, or the negotiation. */
typedef enum mcp_client_purpose {
    MCP_CLIENT_FOR_CALLER = 0,
    MCP_CLIENT_FOR_DISCOVER,
    MCP_CLIENT_FOR_INITIALIZE,
    MCP_CLIENT_FOR_REFRESH      /* a cache re-fetch: the result only goes to the cache */
} mcp_client_purpose;

typedef struct mcp_client_pending {
    int64_t id;
    mcp_client_purpose purpose;
    uint64_t timeout_ns;
    uint64_t deadline_ns;
    bool progress;
    mcp_client_done_fn done;
    void *user;
    void (*on_progress)(void *user, double progress, double total, const char *message);
    void *progress_user;
    /* Caller and refresh requests keep what they sent (malloc'd), for the
     * cache key and for input_required retries. */
    char *method;
    char *params;
    unsigned rounds;            /* input_required rounds answered so far */
    void *obs_handle;           /* the observer's, ended with the request */
} mcp_client_pending;

/* An entry of the pending index: slot is the array slot + 1, 0 when empty. */
typedef struct mcp_client_index_entry {
    int64_t id;
    uint32_t slot;
} mcp_client_index_entry;

typedef struct mcp_client_cache_entry {
    char *key;                  /* method, '\n', canonical params without _meta */
    char *method;
    char *params;               /* as sent (NULL for none), to re-fetch */
    char *uri;                  /* resources/read: the resource, for resources/updated */
    char *json;                 /* the result object */
    size_t len;
    uint64_t expires_ns;
    uint64_t used_ns;           /* least recently used goes first when full */
    bool public_scope;
} mcp_client_cache_entry;

typedef struct mcp_client_cache {
    mcp_client_cache_entry *items;
    size_t count;
    size_t max;
} mcp_client_cache;

typedef enum mcp_client_state {
    MCP_CLIENT_IDLE = 0,
    MCP_CLIENT_DISCOVERING,
    MCP_CLIENT_INITIALIZING,
    MCP_CLIENT_READY,
    MCP_CLIENT_FAILED
} mcp_client_state;

struct mcp_client {
    /* Copies of the options' strings. */
    char *name;
    char *version;
    char *capabilities;
    char *requested_version;   /* NULL: discover, then fall back to the handshake */
    char *log_level;
    uint64_t default_timeout_ns;
    size_t max_message_size;
    mcp_sink sink;
    mcp_client_transport *transport;
    bool transport_closed;
    mcp_client_notify_fn on_notification;
    mcp_client_request_fn on_sampling;
    mcp_client_request_fn on_elicitation;
    mcp_client_request_fn on_roots;
    mcp_client_request_fn on_request;
    void (*on_elicitation_complete)(void *user, const char *elicitation_id);
    bool elicitation_url;      /* the capabilities sent declare elicitation.url */
    void *user;
    unsigned max_input_rounds;
    bool no_cache;
    bool refresh_on_change;
    mcp_client_cache cache;
    /* mcp_client_call_task_sync: the task being waited for, and whether a
     * notifications/tasks/status for it arrived since the last poll. */
    char *watched_task;
    bool watched_task_changed;

    mcp_client_state state;
    bool modern;               /* requests carry the modern _meta */
    char *protocol_version;    /* negotiated, NULL until ready */
    char *server_info;
    char *server_capabilities;
    char *instructions;
    mcp_client_done_fn start_done;
    void *start_user;

    /* Pending requests: a dense array (walked by tick and close) and an
     * open-addressing index from id to array slot, so a reply finds its
     * request in constant time however many are in flight. */
    mcp_client_pending *pending;
    size_t pending_count;
    size_t pending_cap;
    mcp_client_index_entry *pending_index; /* pending_index_mask + 1 entries */
    size_t pending_index_mask;
    unsigned pending_index_shift;          /* 64 - log2(entries) */
    uint64_t earliest_deadline_ns; /* no pending deadline is earlier (a lower bound) */
    int64_t next_id;
    uint64_t now_ns;
    mcp_client_counters counters;
    mcp_buf inbox;             /* blocking API: the message being handled */
    /* Kept between messages to spare an allocation per request and per
     * reply; taken out while in use, since callbacks may re-enter. */
    mcp_buf out_spare;
    mcp_arena arena_spare;
    bool arena_spare_ready;
    /* The modern _meta members every request carries, as JSON text without
     * the braces, and the protocol version and capabilities they were
     * written for (a task call swaps the capabilities for its requests). */
    char *meta_text;
    size_t meta_len;
    char *meta_version;
    char *meta_capabilities;
    const mcp_observer *observer;
    char traceparent[MCP_TRACEPARENT_TEXT_LEN + 1]; /* for the request being written, or "" */
};

/* client_observe.c: report a request about to be sent, or go on with the
 * report the caller began for it (begun, else NULL), and set
 * client->traceparent for it; and report its end. */
void *mcp_client_observe_send(mcp_client *client, const char *method, const char *params_json, int64_t id,
                              void *begun);
void mcp_client_observe_end(mcp_client *client, void *handle, int status, const mcp_json *value);

/* client.c */
int mcp_client_send_text(mcp_client *client, const char *text, size_t len);
/* Register a pending request and send it. */
int mcp_client_send_request(mcp_client *client, const char *method, const char *params_json,
                            const mcp_client_request_opts *ropts, mcp_client_purpose purpose,
                            mcp_client_done_fn done, void *user, int64_t *id_out);
/* The pending request with this id, or NULL. */
mcp_client_pending *mcp_client_find_pending(mcp_client *client, int64_t id);
/* Answer a server-to-client request with the handler for its kind. */
void mcp_client_run_handler(mcp_client *client, const char *method, const mcp_json *params,
                            mcp_client_answer *answer);
/* Read an id or token that is an integer, or a string holding one. */
bool mcp_client_int_from_json(const mcp_json *node, int64_t *out);

/* client_message.c: a complete request text into out. */
int mcp_client_write_request(mcp_client *client, mcp_buf *out, int64_t id, const char *method,
                             const char *params_json, bool progress);
int mcp_client_write_notification(mcp_buf *out, const char *method, const char *params_json);

/* client_negotiate.c: a response to a negotiation request. */
void mcp_client_negotiate_done(mcp_client *client, mcp_client_purpose purpose, int status,
                               const mcp_json *value);
char *mcp_client_strdup(const char *s);
/* Derive the capabilities object from the handlers (malloc'd). */
char *mcp_client_default_capabilities(const mcp_client_opts *opts);

/* client_cache.c */
void mcp_client_cache_free(mcp_client *client);
/* The cache key of a request into key; false when the method's results
 * are never cached or params are not an object. */
bool mcp_client_cache_key(const char *method, const char *params_json, mcp_buf *key);
/* A fresh entry for key, or NULL. */
const mcp_client_cache_entry *mcp_client_cache_lookup(mcp_client *client, const char *key);
/* Keep a complete result if it says it may be kept (ttlMs > 0). */
void mcp_client_cache_store(mcp_client *client, const char *method, const char *params,
                            const mcp_json *result);
/* A notification that may make entries stale: drop them (and re-fetch them
 * when the client refreshes on change). */
void mcp_client_cache_on_notification(mcp_client *client, const char *method, const mcp_json *params);

/* client_input.c: answer an input_required result and resend the request.
 * True when the request was resent (p's strings now belong to the new
 * pending entry); false leaves p to the caller. */
bool mcp_client_input_retry(mcp_client *client, mcp_client_pending *p, const mcp_json *result);
char *mcp_client_strndup(const char *s, size_t len);

#endif
