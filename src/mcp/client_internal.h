/*
 * client_internal.h — the client state machine's private structures, shared
 * by src/mcp/client.c (requests, routing, timeouts), client_negotiate.c
 * (discover and initialize), client_message.c (writing requests) and
 * client_sync.c (the blocking API).
 */
#ifndef MCP_CLIENT_INTERNAL_H
#define MCP_CLIENT_INTERNAL_H

#include "mcp/client.h"
#include "mcp/rpc.h"

/* Who consumes a response: the caller's callback, or the negotiation. */
typedef enum mcp_client_purpose {
    MCP_CLIENT_FOR_CALLER = 0,
    MCP_CLIENT_FOR_DISCOVER,
    MCP_CLIENT_FOR_INITIALIZE
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
} mcp_client_pending;

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
    mcp_client_request_fn on_request;
    void *user;

    mcp_client_state state;
    bool modern;               /* requests carry the modern _meta */
    char *protocol_version;    /* negotiated, NULL until ready */
    char *server_info;
    char *server_capabilities;
    char *instructions;
    mcp_client_done_fn start_done;
    void *start_user;

    mcp_client_pending *pending;
    size_t pending_count;
    size_t pending_cap;
    int64_t next_id;
    uint64_t now_ns;
    mcp_client_counters counters;
    mcp_buf inbox;             /* blocking API: the message being handled */
};

/* client.c */
int mcp_client_send_text(mcp_client *client, const char *text, size_t len);
/* Register a pending request and send it. */
int mcp_client_send_request(mcp_client *client, const char *method, const char *params_json,
                            const mcp_client_request_opts *ropts, mcp_client_purpose purpose,
                            mcp_client_done_fn done, void *user, int64_t *id_out);
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
char *mcp_client_strndup(const char *s, size_t len);

#endif
