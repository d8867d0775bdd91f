/*
 * mcp/net.h — transports that carry MCP messages to an mcp_server.
 *
 * mcp_serve runs the listeners named in an mcp_listen and returns when they
 * are all closed: with stdio, when stdin reaches end of input (network
 * listeners started beside it are then drained); with TCP alone, on SIGTERM
 * or SIGINT, after a graceful drain. Every transport frames messages and
 * hands each complete JSON text to an mcp_session (see mcp/mcp.h).
 *
 *     return mcp_serve(server, &(mcp_listen){ .stdio = true });
 *
 * Streamable HTTP (listen.http, options in listen.http_opts) serves both
 * protocol eras on one endpoint: the handshake era with Mcp-Session-Id,
 * GET streams and Last-Event-ID resumption, and the stateless 2026-07-28
 * era (POST only, request metadata headers checked against the body).
 *
 * WebSocket (listen.ws, options in listen.ws_opts) upgrades a GET on its
 * path (RFC 6455); each text message is one JSON-RPC message, and the
 * session decides the era by message, as on TCP. The subprotocol "mcp" is
 * selected when the client offers it.
 *
 * TLS: with tls_cert and tls_key (PEM files) every network listener (tcp,
 * http, ws) speaks TLS 1.2 or later; stdio is unaffected.
 */
#ifndef MCP_NET_H
#define MCP_NET_H

#include "mcp/mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SSE event store --------------------------------------------------------
 * Keeps the events sent on SSE streams so that a client that lost its
 * connection can resume with Last-Event-ID (handshake era). A stream is
 * named by the transport (unique per session and stream); the store makes
 * the event ids and must be able to find the stream from an id alone.
 * Implementations must be thread safe: every worker loop calls them. The
 * transport uses a bounded in-memory store unless given another one. */
#define MCP_EVENT_ID_MAX 96    /* bytes of an event id, NUL included */
#define MCP_STREAM_NAME_MAX 64 /* bytes of a stream name, NUL included */

typedef struct mcp_event_store mcp_event_store;
/* One stored event: return nonzero to stop the replay. */
typedef int (*mcp_event_replay_fn)(void *user, const char *id, const char *data, size_t len);

struct mcp_event_store {
    /* Store data as the next event of stream; write its id. */
    int (*append)(mcp_event_store *store, const char *stream, const char *data, size_t len,
                  char id[MCP_EVENT_ID_MAX]);
    /* Find the stream of event last_id, write its name to stream, and call
     * fn for each of its events after last_id, oldest first. MCP_ENOTFOUND
     * when the id is unknown or its event no longer stored (then nothing is
     * replayed: the client cannot be told what it missed). */
    int (*replay_after)(mcp_event_store *store, const char *last_id, char stream[MCP_STREAM_NAME_MAX],
                        mcp_event_replay_fn fn, void *user);
    /* The stream ended for good (its session was deleted): forget it. */
    void (*forget)(mcp_event_store *store, const char *stream);
    void (*free)(mcp_event_store *store);
};

/* ---- Streamable HTTP options ------------------------------------------------ */
typedef struct mcp_http_opts {
    const char *path;             /* the MCP endpoint; NULL means "/mcp" */
    /* Answer requests with an SSE stream even when the client also accepts
     * JSON. Otherwise JSON is chosen, and a request whose handler sends
     * notifications (progress, logs) before its reply switches to SSE. */
    bool prefer_sse;
    bool disable_get_stream;      /* GET answers 405 */
    unsigned keepalive_ms;        /* ": keep-alive" comment on quiet SSE streams; 0 means 15000 */
    size_t max_header_size;       /* request line and headers; 0 means 16 KiB (431 beyond) */
    size_t max_body_size;         /* 0 means the message size limit (413 beyond) */
    unsigned request_timeout_ms;  /* a started request must arrive within; 0 means 30000 (408) */
    unsigned max_pipeline;        /* requests queued per connection before reading pauses; 0 means 32 */
    /* DNS-rebinding protection: Host must be localhost, 127.0.0.1 or [::1]
     * (any port) or one of allowed_hosts ("name" or "name:port"), and an
     * Origin, when present, must be http(s)://one of those or one of
     * allowed_origins (exact). Both lists are NULL-terminated; 403 otherwise. */
    const char *const *allowed_hosts;
    const char *const *allowed_origins;
    bool disable_host_check;      /* only behind a proxy that checks for us */
    mcp_event_store *event_store; /* NULL means a bounded in-memory store; not freed by us */
    /* Resumable (handshake-era) SSE streams open with a priming event: an
     * event id and empty data, and this "retry:" value, the milliseconds a
     * client waits before reconnecting with Last-Event-ID once the server
     * ends a stream early (mcp_call_close_stream). 0 means 1000. */
    unsigned sse_retry_ms;
    /* Liveness (handshake era): a session with an open GET stream is sent a
     * ping every ping_interval_ms (0: never), and is deleted, as if by
     * DELETE, when a ping stays unanswered for ping_timeout_ms (0 means
     * ping_interval_ms): its streams end and its client, if still there,
     * gets 404 and initializes again. Checked on the listener's sweep, so
     * times are rounded up to it (at most one second). A session without a
     * GET stream cannot be reached between requests and is not pinged. */
    unsigned ping_interval_ms;
    unsigned ping_timeout_ms;
} mcp_http_opts;

/* ---- WebSocket options ------------------------------------------------------------ */
typedef struct mcp_ws_opts {
    const char *path;             /* where the upgrade is accepted; NULL means "/mcp" */
    size_t max_message_size;      /* bytes of a reassembled message; 0 means listen.max_message_size (1009 beyond) */
    /* DNS-rebinding protection, as for HTTP: Host must be a loopback name or
     * listed, an Origin (when sent) http(s)://such a host or listed; 403. */
    const char *const *allowed_hosts;
    const char *const *allowed_origins;
    bool disable_host_check;
} mcp_ws_opts;

typedef struct mcp_listen {
    bool stdio;                /* newline-delimited JSON on stdin/stdout */
    const char *tcp;           /* "HOST:PORT": newline-delimited JSON over TCP */
    const char *http;          /* "HOST:PORT": Streamable HTTP (bind 127.0.0.1 unless exposed on purpose) */
    const char *ws;            /* "HOST:PORT": WebSocket */
    unsigned workers;          /* worker loops for network listeners; 0 means one per core */
    size_t max_message_size;   /* bytes per message; 0 means the server's limit */
    unsigned max_connections;  /* per process; 0 means 10000 */
    unsigned idle_timeout_ms;  /* close a connection idle this long; 0 means 300000 */
    size_t max_output_queue;   /* queued output bytes per connection before reading pauses; 0 means 1 MiB */
    unsigned drain_grace_ms;   /* on SIGTERM, time allowed for in-flight requests; 0 means 10000 */
    const mcp_http_opts *http_opts; /* NULL means the defaults */
    const mcp_ws_opts *ws_opts;     /* NULL means the defaults */
    /* TLS for tcp, http and ws: PEM certificate (chain) and private key
     * files, both or neither. A file that cannot be loaded fails the start. */
    const char *tls_cert;
    const char *tls_key;
} mcp_listen;

int mcp_serve(mcp_server *server, const mcp_listen *listen);

/* stdio transport on explicit descriptors (tests use pipes). Reads
 * newline-delimited JSON from in_fd ("\r\n" accepted, blank lines skipped)
 * and writes one message per line to out_fd; a line over the size limit is
 * answered with a -32600 error (id null) and skipped without being buffered.
 * Returns 0 at end of input once in-flight asynchronous calls have
 * completed, MCP_ECLOSED if the output side was closed by the peer (serving
 * stops), MCP_EIO if reading failed. If SIGPIPE has its default
 * disposition it is set to ignored, so a vanished peer is an EPIPE, not a
 * dead process. Logs go to stderr only. */
int mcp_serve_stdio_fds(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen);

/* What one stdio serving run saw, for tests and for the command's exit log. */
typedef struct mcp_stdio_counters {
    uint64_t messages_in;    /* lines handed to the session */
    uint64_t oversized;      /* lines over max_message_size, answered with an error */
    uint64_t messages_out;   /* messages written */
    uint64_t output_dropped; /* messages not written because the output had failed */
    uint64_t bytes_in;
    uint64_t bytes_out;
} mcp_stdio_counters;

/* mcp_serve_stdio_fds that also reports its counters (counters may be NULL).
 * They are zeroed at the start and kept current while serving (relaxed
 * atomic stores), so another thread may read them with relaxed loads. */
int mcp_serve_stdio_counted(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen,
                            mcp_stdio_counters *counters);

/* ---- Listeners of one mcp_serve run, for metrics ------------------------------
 * mcp_serve records the listeners it runs together, so that the /metrics
 * scrape (served by the HTTP listener only) can report every listener's
 * counters. Given the runtime of one of them (an mcp_net, the `net` an
 * observer's metrics hook receives), fn is called once per listener of that
 * run, in the order stdio, tcp, http, ws, with the listener's name ("stdio",
 * "tcp", "http", "ws", as the options of `mcpd serve`) and either its
 * runtime or, for stdio, its live counters (read them with relaxed atomic
 * loads). Returns how many listeners were reported (1 when net serves
 * alone), 0 when net runs outside mcp_serve. fn runs under a
 * lock that mcp_serve takes before it stops any listener: read counters
 * and return. */
typedef struct mcp_net mcp_net;
typedef void (*mcp_serve_listener_fn)(void *user, const char *listener, const mcp_net *net,
                                      const mcp_stdio_counters *stdio);
size_t mcp_serve_listeners(const mcp_net *net, mcp_serve_listener_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
