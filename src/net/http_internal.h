/*
 * net/http_internal.h — the structures that http_server.c, http_conn.c and
 * http_tcp.c share. See net/http.h for what the pieces are for.
 *
 * Ownership and threads. A connection and its exchanges (one per HTTP
 * request) belong to one worker loop. A handshake-era session
 * (mcp_http_session) is shared: any connection on any worker may carry its
 * requests, and its asynchronous replies may come from any thread. The
 * session's lock guards its list of exchanges waiting for replies, its GET
 * stream and the exchange->conn links of those exchanges; a message for an
 * exchange of another loop is posted to that loop. Exchanges and sessions
 * are reference counted (atomics) because the session list, the
 * connection and notes in flight all hold them.
 *
 * Lock order: mcp_session's own lock (held while it calls the sink), then
 * mcp_http_session.lock, then the event store's lock. handle_lock (one
 * mcp_session_handle at a time) is never taken while holding lock.
 */
#ifndef MCP_NET_HTTP_INTERNAL_H
#define MCP_NET_HTTP_INTERNAL_H

#include "mcp/net.h"
#include "mcp/rpc.h"
#include "mcp/session_table.h"
#include "net/http.h"

#include <pthread.h>

/* Notes of the HTTP transport: kind, and what target points to. */
enum {
    MCP_HTTP_NOTE_EXCHANGE = 100, /* target: an exchange; data: a message for it */
    MCP_HTTP_NOTE_CONN = 101      /* target: a connection; data: a message of its modern session */
};
/* RELEASED notes: len says whose session the reaper freed. */
enum { MCP_HTTP_RELEASED_CONN = 0, MCP_HTTP_RELEASED_SESSION = 1 };

struct mcp_http_server {
    mcp_server *server;
    mcp_http_opts opts;          /* defaults resolved; strings owned below */
    char *path;
    size_t path_len;
    char **allowed_hosts;        /* NULL-terminated copies */
    char **allowed_origins;
    mcp_net_limits limits;
    mcp_session_table *sessions;
    mcp_event_store *store;
    bool own_store;
    unsigned workers;
    mcp_http_counters *counters; /* workers + 1: the last is for sans-I/O use */
    mcp_net *net;                /* set by the runtime; NULL in sans-I/O use */
    pthread_mutex_t all_lock;    /* every session not yet destroyed, for the final free */
    mcp_http_session *all;
};

struct mcp_http_session {
    mcp_http_server *http;
    mcp_session *session;
    char id[MCP_SESSION_ID_LEN + 1];
    pthread_mutex_t lock;
    pthread_mutex_t handle_lock;
    int refs;                    /* atomic: the table, and each exchange */
    mcp_http_exchange *waiting;  /* POST exchanges waiting for replies */
    mcp_http_exchange *get;      /* the GET stream, if open */
    unsigned next_stream;
    bool closed;                 /* deleted: nothing more is routed */
    /* Liveness pings, driven by the tick of the GET stream's connection. */
    uint64_t ping_last_ms;       /* when the last ping went out (or the check began) */
    uint64_t ping_sent_ms;       /* atomic: the unanswered ping's time; 0: none */
    mcp_http_session *all_prev, *all_next;
};

typedef enum mcp_http_xstate {
    MCP_HTTP_X_WAITING = 0,      /* nothing sent yet */
    MCP_HTTP_X_STREAMING,        /* SSE head sent, events flowing */
    /* The stream was ended early (mcp_call_close_stream) while the request
     * still runs: it leaves the connection's queue like a done one, but
     * stays in the session's waiting list, and its events go to the store
     * for the client's return with Last-Event-ID. */
    MCP_HTTP_X_CLOSED,
    MCP_HTTP_X_DONE              /* the whole response is written */
} mcp_http_xstate;

struct mcp_http_exchange {
    mcp_http_exchange *next;         /* the connection's queue, in request order */
    mcp_http_exchange *s_prev, *s_next; /* the session's waiting list (under its lock) */
    mcp_http_exchange *ending_next;  /* a list of exchanges to end, local to one function */
    mcp_http_conn *conn;             /* NULL once orphaned (under the session's lock when hs) */
    mcp_net_worker *worker;          /* the loop of conn */
    mcp_http_session *hs;            /* handshake era */
    int refs;                        /* atomic */
    mcp_http_xstate state;
    bool json_ok, sse_ok, prefer_sse;
    bool modern, is_get, batch, keep_alive, in_session_list;
    bool send_session_id;
    bool resumed;                    /* a GET that resumed a stream: no new priming event */
    bool prime_pending;              /* stream opened, priming event not written yet */
    bool close_requested;            /* atomic: end the stream early when the empty note arrives */
    char stream[MCP_STREAM_NAME_MAX]; /* event-store stream; empty: not resumable */
    mcp_buf id;                      /* JSON text of the request id */
    mcp_buf token;                   /* JSON text of the progress token, if any */
    mcp_buf pending;                 /* output while not at the head of the queue */
    uint64_t last_write_ms;
    /* Reuse: a finished exchange goes back to its worker thread's spares
     * (http_conn.c) when its last reference is dropped on that loop. */
    mcp_net_worker *pool_worker;
};

struct mcp_http_conn {
    mcp_http_server *http;
    unsigned worker_index;
    mcp_http_conn_io io;
    mcp_http_counters *counters;
    mcp_http_parser parser;
    mcp_buf out;                 /* bytes to send, in order */
    mcp_buf scratch;             /* one SSE event being framed */
    mcp_arena arena;             /* per request: the envelope parse of the body */
    mcp_http_exchange *head, *tail;
    size_t queued;               /* exchanges in the queue */
    mcp_session *modern;         /* modern-era requests of this connection */
    mcp_buf stash;               /* input held back while too many requests are queued */
    bool paused;                 /* input is being held back */
    bool no_more_requests;       /* Connection: close seen, an error answered, or draining */
    bool close_after;            /* close once output is written and the queue is empty */
    bool draining;
    bool in_feed;
    bool detached;
    uint64_t now_ms;
    uint64_t last_active_ms;
    uint64_t request_started_ms; /* when the request being received began; 0 if none */
    char host_ok[64];            /* the last Host value that passed the check */
    size_t host_ok_len;          /* 0: none yet */
};

/* http_request.c: one complete request, answered into exchange x. */
void mcp_http_handle_request(mcp_http_conn *conn, mcp_http_exchange *x, const mcp_http_request *req);

/* http_conn.c: writing responses. */
mcp_http_exchange *mcp_http_exchange_new(mcp_http_conn *conn);
void mcp_http_exchange_unref(mcp_http_exchange *x);
void mcp_http_x_write(mcp_http_exchange *x, const char *data, size_t len);
/* Status line and headers. content_length < 0: chunked (SSE). */
void mcp_http_x_head(mcp_http_exchange *x, int status, const char *content_type, long content_length,
                     const char *extra_headers);
/* A complete response, and the exchange is done. */
void mcp_http_x_respond(mcp_http_exchange *x, int status, const char *content_type, const char *body,
                        size_t len, const char *extra_headers);
/* A complete JSON-RPC error response (id: JSON text or NULL for null). */
void mcp_http_x_error(mcp_http_exchange *x, int status, mcp_str id, int code, const char *message,
                      const char *data_json, const char *extra_headers);
/* Start the SSE stream of an exchange (200, text/event-stream, chunked). */
void mcp_http_x_start_stream(mcp_http_exchange *x, const char *extra_headers);
/* Write the priming event of a stream just started, if it has one and no
 * event carried it yet (an event right after the start carries it). */
void mcp_http_x_prime(mcp_http_exchange *x);
/* One event (id from the store when the stream is resumable). */
void mcp_http_x_event(mcp_http_exchange *x, const char *message, size_t len);
void mcp_http_x_done(mcp_http_exchange *x);
/* Count a status in the connection's counters. */
void mcp_http_count_status(mcp_http_conn *conn, int status);
/* The modern-era session of a connection, created on first use. */
mcp_session *mcp_http_conn_modern(mcp_http_conn *conn);

/* http_server.c */
bool mcp_http_host_allowed(const mcp_http_server *http, mcp_str host);
bool mcp_http_origin_allowed(const mcp_http_server *http, mcp_str origin);
mcp_http_counters *mcp_http_counters_of(mcp_http_server *http, unsigned worker_index);
/* A new handshake session (refs: 1 for the table, 1 for the caller). */
mcp_http_session *mcp_http_session_create(mcp_http_server *http);
/* Look up by Mcp-Session-Id; a reference for the caller, or NULL. */
mcp_http_session *mcp_http_session_find(mcp_http_server *http, mcp_str id);
void mcp_http_session_ref(mcp_http_session *hs);
void mcp_http_session_unref(mcp_http_session *hs);
/* DELETE: out of the table, streams ended, reference of the table dropped. */
int mcp_http_session_delete(mcp_http_server *http, mcp_str id);
/* The freeing step the reaper hands back (RELEASED note). */
void mcp_http_session_destroy(mcp_http_session *hs);
/* Liveness, from the tick of the connection whose head is x, the GET
 * stream of x->hs: ping the session every ping_interval_ms, delete it when
 * a ping outlives ping_timeout_ms. True when it was deleted (x may be gone). */
bool mcp_http_session_ping_tick(mcp_http_conn *conn, mcp_http_exchange *x, uint64_t now_ms);

/* Is message the final response for this exchange? */
bool mcp_http_is_final(const mcp_http_exchange *x, const char *message, size_t len);
/* Classify an outgoing message: kind (mcp_rpc_kind), id and progress token
 * JSON texts (slices of message or of arena), method. */
typedef struct mcp_http_route {
    int kind;
    mcp_str id;
    mcp_str token;
    mcp_str subscription;  /* modern listen notifications: the listen request's id */
    mcp_str method;
    int error_code;
} mcp_http_route;
int mcp_http_classify(mcp_arena *arena, const char *message, size_t len, mcp_http_route *route);

/* The exchange a synchronous mcp_session_handle on this thread is serving. */
mcp_http_exchange *mcp_http_current(void);
void mcp_http_set_current(mcp_http_exchange *x);

/* http_conn.c */
void mcp_http_exchange_ref(mcp_http_exchange *x);
/* Deliver on the owning loop (or to the store when orphaned). */
void mcp_http_exchange_deliver(mcp_http_exchange *x, const char *message, size_t len);
/* End an open stream (DELETE, drain): on the owning loop. */
void mcp_http_exchange_end(mcp_http_exchange *x);
/* From a handshake session's sink: the session lock is held. Returns true
 * when handled there (orphaned: stored or dropped). */
bool mcp_http_exchange_orphan_deliver(mcp_http_exchange *x, const char *message, size_t len);
/* Post to the exchange's loop, or deliver now when that is this thread. */
void mcp_http_exchange_route(mcp_http_exchange *x, const char *message, size_t len);
void mcp_http_conn_on_note(mcp_http_conn *conn, const char *message, size_t len);

#endif
