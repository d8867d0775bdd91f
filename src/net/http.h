/*
 * net/http.h — the Streamable HTTP server transport, shared by the files of
 * src/net that implement it. Nothing outside src/net (and its tests) uses it.
 *
 * The pieces, bottom up:
 *
 *  - mcp_http_parser (http_parse.c): HTTP/1.1 request framing over llhttp.
 *    Feed it the bytes of each read; it yields one complete request at a
 *    time (the headers MCP cares about, and the body) and enforces the header
 *    and body size limits. Bodies that arrive in one piece are slices of the
 *    caller's input, never copies.
 *  - SSE framing (sse.c): writing events and comments, and a parser for the
 *    client side (tests, fuzzing, a future HTTP client).
 *  - the event store (event_store.c): the bounded in-memory implementation
 *    of mcp_event_store (mcp/net.h), which makes SSE streams resumable.
 *  - mcp_http_server and mcp_http_conn (http_server.c, http_conn.c): the
 *    protocol. A connection is sans I/O: it takes the bytes of a read and
 *    appends the bytes to send to its output buffer; the libuv glue
 *    (http_tcp.c) owns sockets, timers and threads.
 *
 * Serving from a test:
 *
 *     mcp_net *net;
 *     mcp_net_start(&net, server, &(mcp_listen){ .http = "127.0.0.1:0" },
 *                   &(mcp_net_tuning){ .http = true });
 *     ... port = mcp_net_port(net) ...
 *     mcp_net_free(net);
 */
#ifndef MCP_NET_HTTP_H
#define MCP_NET_HTTP_H

#include "mcp/net.h"
#include "mcp/rpc.h"
#include "net/net_internal.h"

/* ---- Defaults (0 in mcp_http_opts means these) -------------------------------- */
#define MCP_HTTP_DEFAULT_PATH "/mcp"
#define MCP_HTTP_DEFAULT_MAX_HEADER (16u * 1024)
#define MCP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 30000u
#define MCP_HTTP_DEFAULT_KEEPALIVE_MS 15000u
#define MCP_HTTP_DEFAULT_SSE_RETRY_MS 1000u
#define MCP_HTTP_DEFAULT_MAX_PIPELINE 32u
#define MCP_HTTP_DEFAULT_STORE_EVENTS 1024u  /* per stream */
#define MCP_HTTP_DEFAULT_STORE_STREAMS 4096u

/* ---- Request parser --------------------------------------------------------------- */
typedef enum mcp_http_method {
    MCP_HTTP_METHOD_OTHER = 0,
    MCP_HTTP_METHOD_GET,
    MCP_HTTP_METHOD_POST,
    MCP_HTTP_METHOD_DELETE,
    MCP_HTTP_METHOD_OPTIONS
} mcp_http_method;

/* The request headers the transport reads; every other header is only
 * counted against the size limit. */
typedef enum mcp_http_header {
    MCP_HTTP_H_HOST = 0,
    MCP_HTTP_H_ORIGIN,
    MCP_HTTP_H_ACCEPT,
    MCP_HTTP_H_CONTENT_TYPE,
    MCP_HTTP_H_SESSION_ID,
    MCP_HTTP_H_PROTOCOL_VERSION,
    MCP_HTTP_H_MCP_METHOD,
    MCP_HTTP_H_MCP_NAME,
    MCP_HTTP_H_LAST_EVENT_ID,
    MCP_HTTP_H_TRACEPARENT,
    MCP_HTTP_H_TRACESTATE,
    MCP_HTTP_H_COUNT
} mcp_http_header;

/* Mcp-Param-* headers kept per request (more is a 400). */
#define MCP_HTTP_MAX_PARAM_HEADERS 16

typedef struct mcp_http_request {
    mcp_http_method method;
    mcp_str target;                      /* request target as sent, query included */
    mcp_str path;                        /* target without the query */
    mcp_str headers[MCP_HTTP_H_COUNT];   /* ptr NULL when absent */
    mcp_str body;
    bool keep_alive;                     /* the connection may carry another request */
    bool duplicate_header;               /* a header that must be single came twice */
    bool too_many_params;                /* more than MCP_HTTP_MAX_PARAM_HEADERS Mcp-Param-* */
    mcp_header_field params[MCP_HTTP_MAX_PARAM_HEADERS]; /* Mcp-Param-* names and values */
    size_t param_count;
} mcp_http_request;

enum { MCP_HTTP_MORE = 0, MCP_HTTP_REQUEST = 1, MCP_HTTP_BAD = 2 };

/* Where a piece of the request (the target, a header value) is: a slice
 * of the input being parsed (ptr set) while it lies whole in one read, else
 * len bytes at off in the parser's head buffer. */
typedef struct mcp_http_span {
    const char *ptr;
    size_t off, len;
} mcp_http_span;

typedef struct mcp_http_parser {
    void *llhttp;          /* llhttp_t, kept opaque so tests need not see llhttp.h */
    mcp_buf head;          /* pieces of the request in progress that a read boundary split */
    mcp_buf body;          /* the body, when it did not arrive as one slice */
    const char *body_ptr;  /* the body as one slice of the input, until a second piece comes */
    size_t body_len;
    size_t header_bytes;
    size_t max_header;
    size_t max_body;
    const char *field_ptr; /* the header name being read, in place while it is in one piece */
    char field[96];        /* else what fits of it here (longer names are not ours) */
    size_t field_len;
    int current;           /* known header whose value is being read, or -1 */
    int current_param;     /* Mcp-Param-* header whose value is being read, or -1 */
    size_t param_count;
    bool too_many_params;
    size_t param_name_off[MCP_HTTP_MAX_PARAM_HEADERS], param_name_len[MCP_HTTP_MAX_PARAM_HEADERS];
    mcp_http_span param_values[MCP_HTTP_MAX_PARAM_HEADERS];
    mcp_http_span values[MCP_HTTP_H_COUNT];
    bool present[MCP_HTTP_H_COUNT];
    mcp_http_span target;
    bool duplicate;
    bool ready;            /* a request completed; llhttp is paused after it */
    bool started;          /* bytes of a request have arrived */
    bool failed;
    int error_status;      /* MCP_HTTP_BAD: 400, 413, 431, 501 ... */
    const char *error_reason;
} mcp_http_parser;

int mcp_http_parser_init(mcp_http_parser *parser, size_t max_header, size_t max_body);
void mcp_http_parser_free(mcp_http_parser *parser);
/* Consume input (advanced past what was used) until a request is complete:
 * MCP_HTTP_REQUEST with *request filled in (valid until the next call, and
 * while input's memory lives), MCP_HTTP_MORE when input ran out, or
 * MCP_HTTP_BAD (parser->error_status says what to answer; the connection
 * must close after the answer). MCP_ENOMEM when memory ran out. */
int mcp_http_parser_next(mcp_http_parser *parser, mcp_str *input, mcp_http_request *request);
/* True while part of a request has arrived (for the read timeout). */
bool mcp_http_parser_busy(const mcp_http_parser *parser);

/* Status line text for a code ("Not Found"). */
const char *mcp_http_reason(int status);

/* ---- SSE ----------------------------------------------------------------------------
 * Writers append one complete event (or comment) to out. An id and data
 * containing newlines are allowed: data becomes several data: lines, and an
 * id's newlines would break framing, so ids with CR or LF are refused. */
int mcp_sse_write_event(mcp_buf *out, const char *id, const char *data, size_t len);
int mcp_sse_write_comment(mcp_buf *out, const char *text);
/* The priming event of a resumable stream: "id: …", "retry: …" (when
 * retry_ms >= 0) and an empty data line. A client dispatches it with empty
 * data, which makes no message but gives it an id to resume from; retry
 * tells it how long to wait before reconnecting after the stream ends
 * early. id NULL writes only the retry field (a resumed stream: the client
 * already has an id, and a new one would sort after the replayed events). */
int mcp_sse_write_priming(mcp_buf *out, const char *id, long retry_ms);

/* Client-side parser. Feed bytes in pieces of any size; each dispatched
 * event calls fn with its fields (id may be NULL when none was ever set;
 * data is joined with "\n"; event is "message" unless named). Comments are
 * counted. Lines over max_line bytes make the parser fail (MCP_ELIMIT). */
typedef void (*mcp_sse_event_fn)(void *user, const char *id, const char *event, const char *data,
                                 size_t data_len);
typedef struct mcp_sse_parser {
    mcp_buf line;
    mcp_buf data;
    mcp_buf event;
    mcp_buf last_id;
    bool has_id;
    bool has_data;
    bool skip_lf;          /* the last line ended with CR; a following LF belongs to it */
    bool bom_checked;
    size_t max_line;
    uint64_t comments;
    uint64_t events;
    long retry_ms;         /* last retry: field, or -1 */
    mcp_sse_event_fn fn;
    void *user;
} mcp_sse_parser;

void mcp_sse_parser_init(mcp_sse_parser *parser, size_t max_line, mcp_sse_event_fn fn, void *user);
void mcp_sse_parser_free(mcp_sse_parser *parser);
int mcp_sse_parser_feed(mcp_sse_parser *parser, const char *data, size_t len);

/* ---- Event store -------------------------------------------------------------------- */
/* The bounded in-memory store: at most events_per_stream events per stream
 * (oldest dropped) and streams streams (least recently appended dropped).
 * Thread safe. 0 means the defaults above. */
mcp_event_store *mcp_event_store_memory_new(size_t events_per_stream, size_t streams);

/* ---- Server and connections ----------------------------------------------------------- */
typedef struct mcp_http_server mcp_http_server;
typedef struct mcp_http_conn mcp_http_conn;
typedef struct mcp_http_exchange mcp_http_exchange;
typedef struct mcp_http_session mcp_http_session;

/* Counters of the HTTP layer; per worker, summed when read. */
typedef struct mcp_http_counters {
    uint64_t requests;          /* complete HTTP requests */
    uint64_t responses_json;    /* application/json responses with a JSON-RPC message */
    uint64_t responses_sse;     /* text/event-stream responses (POST and GET) */
    uint64_t accepted_202;
    uint64_t status_400, status_403, status_404, status_405, status_406, status_408, status_409;
    uint64_t status_413, status_415, status_431, status_other_error;
    uint64_t header_mismatch;   /* modern-era header checks that failed */
    uint64_t sessions_created;
    uint64_t sessions_deleted;
    uint64_t events_replayed;
    uint64_t cancelled_by_close; /* modern requests whose response stream closed first */
    uint64_t keepalives;
    uint64_t request_timeouts;
    uint64_t idle_closed;
    uint64_t output_dropped;    /* messages for a stream that no longer exists */
    uint64_t streams_closed_early; /* POST streams ended before their reply, for the client to poll */
    uint64_t pings_sent;        /* liveness pings to sessions (ping_interval_ms) */
    uint64_t sessions_ping_dropped; /* sessions deleted because a ping went unanswered */
} mcp_http_counters;

/* Create the protocol state for workers worker loops. */
int mcp_http_server_new(mcp_http_server **out, mcp_server *server, const mcp_listen *listen,
                        const mcp_net_limits *limits, unsigned workers);
/* Frees the sessions still open (waiting for their calls) and the store. */
void mcp_http_server_free(mcp_http_server *http);
const mcp_http_opts *mcp_http_server_opts(const mcp_http_server *http);
void mcp_http_counters_get(const mcp_http_server *http, mcp_http_counters *out);
size_t mcp_http_server_session_count(mcp_http_server *http);
/* The HTTP layer of a runtime started with tuning.http, or NULL. */
mcp_http_server *mcp_net_http(const mcp_net *net);

/* How a connection reaches its owner (http_tcp.c, or a test harness). */
typedef struct mcp_http_conn_io {
    /* Output was appended to the connection's out buffer outside a feed:
     * write it soon. */
    void (*flush)(void *user);
    void *user;
    /* The loop the connection lives on: messages produced on other threads
     * are posted to it. NULL: everything runs on one thread (sans-I/O use). */
    mcp_net_worker *worker;
} mcp_http_conn_io;

mcp_http_conn *mcp_http_conn_new(mcp_http_server *http, unsigned worker_index, const mcp_http_conn_io *io);
/* Handle the bytes of one read. Output collects in *mcp_http_conn_out(conn). */
void mcp_http_conn_feed(mcp_http_conn *conn, const char *data, size_t len, uint64_t now_ms);
mcp_buf *mcp_http_conn_out(mcp_http_conn *conn);
/* The connection must be closed once its output is written (an error was
 * answered, Connection: close, or a drain finished). */
bool mcp_http_conn_should_close(const mcp_http_conn *conn);
/* Reading should pause: too many requests queued behind a slow one. */
bool mcp_http_conn_wants_pause(const mcp_http_conn *conn);
/* Requests in flight (waiting for a reply, or open streams). */
size_t mcp_http_conn_inflight(const mcp_http_conn *conn);
/* A message posted to the owning loop (note kind MCP_HTTP_NOTE_EXCHANGE) arrived. */
void mcp_http_conn_deliver(mcp_http_exchange *exchange, const char *message, size_t len);
/* Timers: keep-alive comments, read timeout, idle close. */
void mcp_http_conn_tick(mcp_http_conn *conn, uint64_t now_ms);
/* Stop taking requests: answer what is in flight, end open streams. */
void mcp_http_conn_drain(mcp_http_conn *conn);
/* The peer is gone: cancel modern requests, orphan handshake ones. Returns
 * the connection's modern session (the caller frees it off the loop with
 * mcp_net_reap, or directly in sans-I/O use), or NULL. */
mcp_session *mcp_http_conn_detach(mcp_http_conn *conn);
/* Free after detach (and after the modern session is freed). */
void mcp_http_conn_free(mcp_http_conn *conn);
uint64_t mcp_http_conn_last_active(const mcp_http_conn *conn);

/* Per-worker counters of a server (the worker's own copy). */
mcp_http_counters *mcp_http_worker_counters(mcp_http_server *http, unsigned worker_index);



#endif
