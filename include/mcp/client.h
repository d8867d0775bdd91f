/*
 * mcp/client.h — the Model Context Protocol client.
 *
 * Two parts. The mcp_client state machine does no I/O: a transport feeds it
 * every complete JSON text that arrives (mcp_client_handle), it emits every
 * outgoing message through an mcp_sink (the same struct the server uses),
 * and a clock tick (mcp_client_tick) drives request timeouts. It speaks both
 * protocol eras: the handshake era (initialize, notifications/initialized,
 * then requests) and the modern stateless era (2026-07-28: optional
 * server/discover, and every request carries _meta with the protocol
 * version, client info and client capabilities).
 *
 *     mcp_client *c = mcp_client_new(&(mcp_client_opts){ .sink = { my_write, conn } });
 *     mcp_client_tick(c, mcp_now_ns());
 *     mcp_client_start(c, on_ready, NULL);            ... feed replies with mcp_client_handle
 *     mcp_client_request(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}",
 *                        NULL, on_done, NULL, &id);
 *
 * On top sits a blocking API for commands and tests: give the client an
 * mcp_client_transport (a spawned child over stdio, a TCP connection, see
 * the connectors at the end) and call mcp_client_connect and
 * mcp_client_call_sync. They run a poll loop on the calling thread.
 *
 * Beyond plain requests the client carries what a full MCP client needs:
 *  - server-to-client requests (sampling/createMessage, elicitation/create,
 *    roots/list) go to a handler per kind; the capabilities sent to the
 *    server are derived from the handlers given unless set explicitly;
 *  - modern-era results with resultType "input_required" are answered by
 *    the same handlers and the request is retried with inputResponses and
 *    the echoed requestState, for a bounded number of rounds;
 *  - results that carry ttlMs (tools/list, resources/list,
 *    resources/templates/list, prompts/list, resources/read) are kept in a
 *    small per-client cache and served from it while fresh; list_changed
 *    and resources/updated notifications drop the entries they concern
 *    (and re-fetch them when opts.refresh_on_change is set);
 *  - tools called as tasks are polled to their end by
 *    mcp_client_call_task_sync (2025-11-25 tasks, and the modern era's
 *    tasks extension).
 *
 * A client is not thread safe: drive one from one thread at a time.
 * Callbacks run inside the call that caused them (handle, tick, cancel,
 * close, free) and may issue new requests or cancel others.
 */
#ifndef MCP_CLIENT_H
#define MCP_CLIENT_H

#include "mcp/base.h"
#include "mcp/json.h"
#include "mcp/mcp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_client mcp_client;
typedef struct mcp_client_transport mcp_client_transport;

/* Outcomes of a request besides 0 (a complete result) and the negative
 * MCP_E* codes (MCP_ETIMEDOUT, MCP_ECANCELED, MCP_ECLOSED, MCP_EPROTO for a
 * reply we cannot use, MCP_EUNSUPPORTED for a failed version negotiation). */
enum {
    MCP_CLIENT_RPC_ERROR = 2,      /* the server answered with a JSON-RPC error object */
    MCP_CLIENT_INPUT_REQUIRED = 3  /* resultType "input_required": the server needs input first */
};

/* Completion of a request. value is the result object (status 0 or
 * MCP_CLIENT_INPUT_REQUIRED), the error object (MCP_CLIENT_RPC_ERROR, with
 * its data: for MCP_ERROR_URL_ELICITATION_REQUIRED, data.elicitations lists
 * the URLs the user must visit before a retry), or NULL (negative status).
 * It lives only until the callback returns. */
typedef void (*mcp_client_done_fn)(void *user, int status, const mcp_json *value, int64_t request_id);

/* A notification from the server (progress, logging message, list_changed,
 * resources/updated, cancelled ...). params may be NULL. */
typedef void (*mcp_client_notify_fn)(void *user, const char *method, const mcp_json *params);

/* The answer to a server-to-client request (handshake era: sampling,
 * elicitation, roots/list). Put a result object's JSON text into result,
 * or set error_code (a JSON-RPC code) and error_message. */
typedef struct mcp_client_answer {
    mcp_buf result;
    int error_code;
    char error_message[128];
} mcp_client_answer;
typedef void (*mcp_client_request_fn)(void *user, const char *method, const mcp_json *params,
                                      mcp_client_answer *answer);

/* timeout_ms for a request that may stay open indefinitely
 * (subscriptions/listen): it ends by its result, cancellation or close. */
#define MCP_CLIENT_NO_TIMEOUT 0xffffffffu

typedef struct mcp_client_opts {
    const char *name;             /* clientInfo.name; NULL means "mcpd" */
    const char *version;          /* clientInfo.version; NULL means MCP_VERSION_STRING */
    /* Client capabilities object (JSON text). NULL: derived from the
     * handlers below (sampling, elicitation {form}, roots; with
     * elicitation_url and sampling_tools, see there), {} without any. */
    const char *capabilities;
    /* Protocol version to speak. NULL: try server/discover and use the modern
     * era when the server lists it, else the handshake with
     * MCP_PROTOCOL_LATEST_HANDSHAKE. A modern version: no discovery. A
     * handshake version: initialize proposing it. */
    const char *protocol_version;
    const char *log_level;        /* modern era: _meta logLevel on every request; NULL: none */
    unsigned timeout_ms;          /* default per-request timeout; 0 means 60000 */
    size_t max_message_size;      /* incoming; 0 means 16 MiB */
    mcp_sink sink;                /* outgoing messages; ignored when transport is set */
    mcp_client_transport *transport; /* for the blocking API; the client owns it and closes it */
    mcp_client_notify_fn on_notification;
    /* Server-to-client requests, by kind; they also answer the inputRequests
     * of an input_required result. A kind without its handler goes to
     * on_request; without that either, it gets -32601 (ping is always
     * answered). */
    mcp_client_request_fn on_sampling;    /* sampling/createMessage */
    mcp_client_request_fn on_elicitation; /* elicitation/create */
    mcp_client_request_fn on_roots;       /* roots/list */
    mcp_client_request_fn on_request;     /* anything else */
    void *user;                   /* passed to on_notification and the request handlers */
    /* input_required results answered and retried automatically before the
     * caller sees one; 0 means 8. */
    unsigned max_input_rounds;
    size_t cache_entries;         /* result cache size; 0 means 128 */
    bool no_cache;                /* never cache results, whatever their ttlMs */
    bool refresh_on_change;       /* re-fetch cached lists/resources a notification made stale */
    /* Tracing hooks (mcp/mcp.h "Observer"): each request sent is reported,
     * and the observer's traceparent goes out in params._meta.traceparent.
     * Kept by pointer: must outlive the client. */
    const mcp_observer *observer;
    /* Derived capabilities (opts.capabilities NULL) declare more than the
     * handlers' defaults: elicitation.url (on_elicitation then also gets
     * params with mode "url": elicitationId, message, url; answer with the
     * user's consent as action, no content) and sampling.tools (on_sampling
     * handles params with tools and toolChoice). A URL elicitation the
     * capabilities do not declare is refused with -32602. */
    bool elicitation_url;
    bool sampling_tools;
    /* notifications/elicitation/complete: the server says the out-of-band
     * interaction it named has finished (also given to on_notification). */
    void (*on_elicitation_complete)(void *user, const char *elicitation_id);
} mcp_client_opts;

typedef struct mcp_client_request_opts {
    /* 0: the client's default; MCP_CLIENT_NO_TIMEOUT: none. The clock
     * restarts on each progress. */
    unsigned timeout_ms;
    bool no_cache;                /* bypass the result cache for this request (the answer is still stored) */
    bool progress;                /* ask for progress (adds _meta.progressToken) */
    void (*on_progress)(void *user, double progress, double total, const char *message);
    void *progress_user;
    /* A report of this request that the caller already began with
     * mcp_client_observe_begin, on the client's observer (a request queued
     * on one thread and sent from another). The client reports the request
     * with it instead of beginning its own and ends it in every case: with
     * the reply, with the failure mcp_client_request returns, or with the
     * cached result that answers it. */
    void *observe_handle;
} mcp_client_request_opts;

/* What the client saw; malformed counts texts that were not JSON or broke
 * the envelope rules, unmatched counts responses whose id we did not send
 * (or already gave up on). */
typedef struct mcp_client_counters {
    uint64_t messages_in;
    uint64_t messages_out;
    uint64_t malformed;
    uint64_t unmatched;
    uint64_t notifications;
    uint64_t server_requests;
    uint64_t timeouts;
    uint64_t cache_hits;          /* requests answered from the cache, sending nothing */
    uint64_t cache_stores;
    uint64_t input_rounds;        /* input_required results answered and retried */
} mcp_client_counters;

mcp_client *mcp_client_new(const mcp_client_opts *opts);
/* Completes every pending request with MCP_ECLOSED, closes the transport
 * if the client owns one, and frees. */
void mcp_client_free(mcp_client *client);

/* Negotiate: server/discover and/or initialize, as opts.protocol_version
 * says. done gets 0 when requests may be sent, or the failure. */
int mcp_client_start(mcp_client *client, mcp_client_done_fn done, void *user);
bool mcp_client_is_ready(const mcp_client *client);
/* Negotiated version, NULL until ready. */
const char *mcp_client_protocol_version(const mcp_client *client);
/* Server facts as JSON text (NULL when the server did not say). */
const char *mcp_client_server_info(const mcp_client *client);
const char *mcp_client_server_capabilities(const mcp_client *client);
const char *mcp_client_instructions(const mcp_client *client);

/* Send a request. params_json is an object's JSON text or NULL; in the
 * modern era the client adds _meta (merged with any _meta given). The id is
 * stored in *id_out when not NULL. MCP_EAGAIN before the client is ready.
 * A fresh cached result completes the request inside this call, with an id
 * that was never sent. After input_required rounds, done receives the id
 * of the last retry. */
int mcp_client_request(mcp_client *client, const char *method, const char *params_json,
                       const mcp_client_request_opts *ropts, mcp_client_done_fn done, void *user,
                       int64_t *id_out);
/* Begin the observer's report of a request that a client will send later,
 * perhaps from another thread (give the handle to mcp_client_request in
 * mcp_client_request_opts.observe_handle). The request is read as the
 * client reads the ones it sends itself: method, tool or prompt name,
 * resource, a parent in params._meta.traceparent, else the thread's
 * current work, which the report then stops being. protocol_version and
 * transport (network.transport) may be NULL. NULL when the observer made
 * no report. */
void *mcp_client_observe_begin(const mcp_observer *observer, const char *method, const char *params_json,
                               const char *protocol_version, const char *transport);
/* End a begun report whose request no client will send: status is the
 * failure, as a mcp_client_done_fn would get it. handle may be NULL. */
void mcp_client_observe_abandon(const mcp_observer *observer, void *handle, int status);
/* Send a notification (params_json may be NULL). */
int mcp_client_notify(mcp_client *client, const char *method, const char *params_json);
/* Give up on a request: sends notifications/cancelled with the id and reason,
 * then completes it with MCP_ECANCELED. MCP_ENOTFOUND if it is not pending. */
int mcp_client_cancel(mcp_client *client, int64_t request_id, const char *reason);
bool mcp_client_is_pending(const mcp_client *client, int64_t request_id);
size_t mcp_client_pending_count(const mcp_client *client);

/* One complete incoming JSON text. Bad input is counted and ignored. */
int mcp_client_handle(mcp_client *client, const char *message, size_t len);
/* Advance the client's clock (CLOCK_MONOTONIC nanoseconds, mcp_now_ns);
 * requests whose deadline has passed complete with MCP_ETIMEDOUT after a
 * notifications/cancelled is sent. Deadlines are measured from the last tick
 * before the request was sent (or its last progress). */
void mcp_client_tick(mcp_client *client, uint64_t now_ns);
/* The transport is gone: pending requests complete with MCP_ECLOSED. */
void mcp_client_close(mcp_client *client);
void mcp_client_get_counters(const mcp_client *client, mcp_client_counters *out);
/* Forget every cached result (e.g. when the authorization context changes:
 * entries with cacheScope "private" must not outlive it). */
void mcp_client_cache_clear(mcp_client *client);

/* ---- Blocking API ------------------------------------------------------------
 * Needs opts.transport. Each call runs a poll loop (receive, handle, tick)
 * on the calling thread until its own outcome is known. */

/* A completed request's outcome, owned by the caller. */
typedef struct mcp_client_result {
    int status;    /* as in mcp_client_done_fn */
    char *json;    /* result or error object text (malloc'd), NULL for negative status */
    size_t len;
    int64_t id;
} mcp_client_result;
void mcp_client_result_free(mcp_client_result *result);

/* mcp_client_start and wait for its outcome (timeout_ms 0: the default).
 * result (may be NULL) receives the discover or initialize result, or the
 * server's error object when it refused; free it with mcp_client_result_free. */
int mcp_client_connect(mcp_client *client, unsigned timeout_ms, mcp_client_result *result);
/* Send one request and wait for its outcome; returns result->status. */
int mcp_client_call_sync(mcp_client *client, const char *method, const char *params_json,
                         const mcp_client_request_opts *ropts, mcp_client_result *result);
/* Call a tool as a task (2025-11-25: params get "task": {"ttl": ttl_ms},
 * ttl_ms 0 leaving the ttl to the server), then poll tasks/get at the
 * server's pollInterval (or on notifications/tasks/status) until the task
 * leaves "working", and fetch tasks/result: result then holds that final
 * result (or error) just as mcp_client_call_sync would. A server that
 * answers tools/call directly (no task) gives that answer. The whole wait
 * is bounded by timeout_ms (0: the client's default).
 * Modern era (2026-07-28): the requests declare the tasks extension
 * ("io.modelcontextprotocol/tasks") and ttl_ms is not used (the server
 * sets ttlMs); a task is polled with tasks/get at its pollIntervalMs until
 * terminal, its inputRequests answered once each by the handlers through
 * tasks/update; completed gives the inlined result (0), failed its error
 * (MCP_CLIENT_RPC_ERROR), cancelled MCP_ECANCELED. A task still running
 * when the wait runs out, or one asking what no handler answers
 * (MCP_EUNSUPPORTED), is cancelled with tasks/cancel. */
int mcp_client_call_task_sync(mcp_client *client, const char *params_json, unsigned ttl_ms,
                              unsigned timeout_ms, mcp_client_result *result);
/* Wait up to timeout_ms for one incoming message, handle it, tick. Returns
 * 0 when a message was handled, MCP_ETIMEDOUT when none came, MCP_ECLOSED
 * when the transport is closed (pending requests are then completed). */
int mcp_client_pump(mcp_client *client, unsigned timeout_ms);

/* ---- Transports --------------------------------------------------------------
 * A message channel for the blocking API. send takes one complete JSON text
 * (framing is the transport's job); recv stores the next complete incoming
 * text in msg (replacing its contents) within timeout_ms and returns 0,
 * MCP_ETIMEDOUT, MCP_ECLOSED at end of stream, MCP_ELIMIT for a message over
 * the size limit (skipped) or MCP_EIO; close shuts down and frees. */
struct mcp_client_transport {
    int (*send)(mcp_client_transport *t, const char *message, size_t len);
    int (*recv)(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms);
    void (*close)(mcp_client_transport *t);
};

/* ---- OAuth 2.1 authorization for HTTP servers (src/net/oauth*.c) ---------
 * Given in mcp_connect_opts.oauth, the Streamable HTTP connector answers a
 * 401 (or a 403 with error="insufficient_scope") by authorizing the way the
 * MCP specification describes: the WWW-Authenticate challenge, protected
 * resource metadata (RFC 9728; its resource must match the server URL),
 * authorization server metadata (RFC 8414 / OpenID, in the spec's order,
 * its issuer checked), the client identity (a pre-registered client_id,
 * else a client ID metadata document URL where the server supports them,
 * else dynamic registration, RFC 7591), the authorization code grant with
 * PKCE S256, the resource parameter (RFC 8707) and the iss check of RFC
 * 9207, then the token request with an authentication method the server
 * lists. Servers of the 2025-03-26 era without that metadata get its
 * fallbacks. The request then goes again with the token; later requests
 * carry it, and a refresh token is used when one was issued.
 *
 * The user-agent step: authorize (when set) gets the authorization URL and
 * puts the URL the browser was sent back to (the redirect_uri with code,
 * state, iss) into redirected_to. Without it the connector requests the
 * authorization URL itself and takes the redirect from the Location
 * header, which works with servers that approve without a person (tests,
 * trusted automation). */
typedef enum mcp_oauth_grant {
    MCP_OAUTH_AUTHORIZATION_CODE = 0,
    MCP_OAUTH_CLIENT_CREDENTIALS,    /* machine to machine: client_id with a secret or a key */
    MCP_OAUTH_JWT_BEARER             /* RFC 7523 JWT bearer grant: a workload identity assertion,
                                        or an ID-JAG from the enterprise identity provider */
} mcp_oauth_grant;

/* A token and the client identity it was issued to, for a store. */
typedef struct mcp_oauth_tokens {
    const char *issuer;
    const char *client_id;
    const char *access_token;
    const char *refresh_token;   /* or NULL */
    const char *scope;           /* as granted (else as requested), or NULL */
    int64_t expires_in;          /* seconds, 0 when not said */
    const char *client_secret;   /* of a registered client, or NULL */
} mcp_oauth_tokens;

typedef struct mcp_oauth_opts {
    mcp_oauth_grant grant;
    const char *client_id;            /* pre-registered client (with client_secret when confidential) */
    const char *client_secret;
    const char *client_metadata_url;  /* an https URL used as client_id where the server supports
                                         client ID metadata documents */
    const char *client_name;          /* for registration; NULL means "mcpd" */
    const char *redirect_uri;         /* NULL means http://127.0.0.1/callback */
    const char *scope;                /* ask for exactly this instead of the challenge's or metadata's */
    const char *private_key_pem;      /* client credentials: private_key_jwt with this key */
    const char *signing_alg;          /* ES256 or RS256; NULL: by the key */
    /* MCP_OAUTH_JWT_BEARER: the assertion to present (workload identity
     * federation), or none and the identity provider's token endpoint,
     * where idp_id_token is exchanged (RFC 8693) for an ID-JAG first
     * (enterprise-managed authorization). Errors of this grant end the
     * attempt: no retry, no other grant. */
    const char *assertion;
    const char *idp_token_endpoint;
    const char *idp_id_token;
    const char *idp_client_id;
    const char *access_token;         /* start with these (from a store) */
    const char *refresh_token;
    /* A client registered earlier (from a store, see mcp_oauth_tokens):
     * used instead of registering again while the authorization server is
     * still registered_issuer, so a stored refresh token can be used. */
    const char *registered_issuer;
    const char *registered_client_id;
    const char *registered_client_secret;
    unsigned max_attempts;            /* authorizations in a row without a successful request; 0 means 3 */
    int (*authorize)(void *user, const char *authorization_url, const char *redirect_uri, mcp_buf *redirected_to);
    void (*on_tokens)(void *user, const mcp_oauth_tokens *tokens); /* each new token */
    void *user;
} mcp_oauth_opts;

/* A loopback redirect receiver (RFC 8252 7.3) for the authorization code
 * flow with a person at a browser: it listens on 127.0.0.1, its URI is
 * the redirect_uri to use, and mcp_oauth_loopback_authorize (an
 * mcp_oauth_opts.authorize callback, user = the loopback) shows the
 * authorization URL through opts.show and waits for the browser to come
 * back with the code:
 *
 *     mcp_oauth_loopback *lb;
 *     mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.show = tell_the_user}, &lb, why, sizeof why);
 *     mcp_oauth_opts oauth = {.redirect_uri = mcp_oauth_loopback_uri(lb),
 *                             .authorize = mcp_oauth_loopback_authorize, .user = lb};
 *     ... connect with .oauth = &oauth, work, close ...
 *     mcp_oauth_loopback_close(lb);
 */
typedef struct mcp_oauth_loopback mcp_oauth_loopback;
typedef struct mcp_oauth_loopback_opts {
    /* "http://127.0.0.1:PORT/PATH" to listen on that port and path; NULL:
     * any free port, path /callback. Other hosts are refused (MCP_EINVAL). */
    const char *redirect_uri;
    unsigned timeout_ms;          /* how long to wait for the browser; 0 means 300000 */
    void (*show)(void *user, const char *authorization_url);
    void *user;
} mcp_oauth_loopback_opts;
int mcp_oauth_loopback_open(const mcp_oauth_loopback_opts *opts, mcp_oauth_loopback **out, char *why,
                            size_t why_size);
const char *mcp_oauth_loopback_uri(const mcp_oauth_loopback *lb);
/* MCP_ETIMEDOUT when no browser came back in time. Requests for other
 * paths get 404 and the wait goes on. */
int mcp_oauth_loopback_authorize(void *user, const char *authorization_url, const char *redirect_uri,
                                 mcp_buf *redirected_to);
void mcp_oauth_loopback_close(mcp_oauth_loopback *lb);

/* ---- Connectors (net layer: src/net/client_stdio.c, client_tcp.c) ---------
 * Newline-delimited JSON transports (Streamable HTTP further below). */
typedef struct mcp_connect_opts {
    size_t max_message_size;   /* 0 means 16 MiB */
    unsigned connect_timeout_ms; /* TCP; 0 means 10000 */
    unsigned grace_ms;         /* stdio shutdown: wait this long after closing the child's stdin,
                                  then again after SIGTERM, before SIGKILL; 0 means 2000.
                                  HTTP: how long closing waits for the session's DELETE. */
    /* Streamable HTTP only. */
    bool http_get_stream;      /* handshake era: open the GET stream for server-initiated
                                  messages once the session is initialized */
    unsigned http_max_resume;  /* attempts to resume a broken SSE stream with Last-Event-ID
                                  before the request fails; 0 means 5 */
    /* TLS: wss://, https:// and mcp_connect_tcp_tls. By default the server's
     * certificate chain is verified against the system's trust store and
     * its name against the host of the URL (an IP address against the
     * certificate's IP entries); TLS 1.2 or later; SNI carries the name.
     * A refused certificate fails the connect with MCP_EPROTO and a reason
     * (why) that names OpenSSL's verdict. */
    const char *tls_ca_file;     /* PEM file of CAs to trust instead of the system store (each
                                    certificate in it is an anchor: a root, an intermediate or
                                    the server's own) */
    const char *tls_ca_dir;      /* directory of hashed CA certificates (openssl rehash), the same */
    const char *tls_server_name; /* name to verify and send as SNI instead of the URL's host */
    bool tls_insecure;           /* accept any certificate and name: encrypted but not
                                    authenticated; for tests and throwaway setups only */
    const mcp_oauth_opts *oauth; /* Streamable HTTP: authorize when the server asks (above);
                                    copied at connect, NULL: never */
} mcp_connect_opts;

/* Spawn argv[0] (searched in PATH) with its stdin and stdout as the channel;
 * its stderr is ours. Closing closes its stdin, waits, then sends SIGTERM
 * and finally SIGKILL. opts may be NULL. */
int mcp_connect_stdio(char *const argv[], const mcp_connect_opts *opts, mcp_client_transport **out);
/* Connect to "HOST:PORT" ("[::1]:PORT" for IPv6). */
int mcp_connect_tcp(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out);
/* A channel over descriptors we already have (a socket: in_fd == out_fd).
 * The transport owns and closes them. */
int mcp_connect_fds(int in_fd, int out_fd, const mcp_connect_opts *opts, mcp_client_transport **out);
/* mcp_connect_tcp over TLS ("tcps://HOST:PORT" in mcpd call, the transport
 * of `mcpd serve --tcp ... --tls-cert`). The handshake and verification
 * finish before this returns: MCP_EPROTO when the server's certificate or
 * the handshake is refused, MCP_EINVAL for a bad address or CA file; why
 * (may be NULL) receives a one-line reason. */
int mcp_connect_tcp_tls(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out,
                        char *why, size_t why_size);

/* ---- WebSocket connector (src/net/client_ws.c) -------------------------------
 * "ws://HOST:PORT/PATH" or "wss://HOST:PORT/PATH" over TLS (verified as the
 * tls_* options say). PATH defaults to /mcp, PORT to 80 or 443; "[::1]:PORT"
 * for IPv6. The TLS handshake and the opening handshake (random
 * Sec-WebSocket-Key, Sec-WebSocket-Accept checked, subprotocol "mcp"
 * offered) are done before this returns, so a refusal is reported here:
 * MCP_ENOTFOUND for a 404 (wrong path), MCP_EPROTO for another status, a
 * bad 101 answer or a refused certificate, MCP_EINVAL for a malformed URL
 * or an unreadable CA file. why
 * (may be NULL) receives a one-line reason, such as the server's status
 * line. Then each message is one masked text frame; incoming fragments are
 * reassembled up to opts.max_message_size (MCP_ELIMIT beyond, the message
 * dropped), pings answered, and a close frame from the server ends the
 * channel (MCP_ECLOSED). Closing sends our close frame and waits briefly
 * for the server's. Both eras work as over TCP. */
int mcp_connect_ws(const char *url, const mcp_connect_opts *opts, mcp_client_transport **out,
                   char *why, size_t why_size);

/* ---- Streamable HTTP connector (src/net/client_http.c) ---------------------
 * "http://HOST:PORT/PATH" (no TLS: MCP_EUNSUPPORTED for https). Each
 * message is POSTed; replies come back as application/json or as an SSE
 * stream that may carry notifications and server requests before the
 * response. The era is read from the messages themselves:
 *  - handshake era: the Mcp-Session-Id of the initialize response is sent
 *    on every later request, MCP-Protocol-Version once negotiated; an SSE
 *    stream that breaks before its response is resumed by GET with
 *    Last-Event-ID (waiting the server's retry: or a backoff); closing
 *    DELETEs the session;
 *  - modern era (2026-07-28): stateless POSTs with MCP-Protocol-Version
 *    (the _meta version), Mcp-Method and Mcp-Name; cancelling a request
 *    closes its response stream instead of sending notifications/cancelled.
 * HTTP failures of a request reach the client as a JSON-RPC error for that
 * request whose message starts "HTTP <status>" (a 404 for a session the
 * server no longer knows says so). Connecting dials once to check that the
 * server is reachable; idle connections are kept for reuse. With
 * opts.oauth, a 401 (or 403 insufficient_scope) is answered inside the
 * transport by authorizing (see "OAuth 2.1 authorization" above) and the
 * request goes again with the token; a failed authorization reaches the
 * caller as "HTTP 401: authorization failed: <reason>". */
int mcp_connect_http(const char *url, const mcp_connect_opts *opts, mcp_client_transport **out);

typedef struct mcp_http_client_stats {
    uint64_t posts;
    uint64_t connections_opened;
    uint64_t connections_reused;
    uint64_t sse_responses;     /* POST answers that came as SSE streams */
    uint64_t resumptions;       /* GETs with Last-Event-ID */
    uint64_t get_streams;       /* standalone GET streams opened */
    uint64_t streams_cancelled; /* response streams closed by a cancellation */
    uint64_t http_errors;       /* responses with a status of 400 or more */
    uint64_t deletes;           /* DELETE of the session answered 2xx */
} mcp_http_client_stats;

/* Stats and session of a transport made by mcp_connect_http (MCP_EINVAL
 * for another kind). session_id is NULL without a session. */
int mcp_http_client_stats_get(const mcp_client_transport *t, mcp_http_client_stats *out);
const char *mcp_http_client_session_id(const mcp_client_transport *t);

#ifdef __cplusplus
}
#endif
#endif
