/*
 * client_http_internal.h — the pieces of the Streamable HTTP client
 * connector, shared by client_http_wire.c (URLs, dialling, the keep-alive
 * connection set, response framing over llhttp in response mode),
 * client_http.c (the MCP transport: what to POST with which headers,
 * sessions, polling), client_http_exchange.c (each request's response: SSE
 * streams, resumption, errors, authorization challenges) and the OAuth
 * client (oauth*.c).
 *
 * Everything here is blocking-with-poll on the caller's thread, like the
 * other connectors: the client's blocking API waits from one thread.
 */
#ifndef MCP_NET_CLIENT_HTTP_INTERNAL_H
#define MCP_NET_CLIENT_HTTP_INTERNAL_H

#include "mcp/client.h"
#include "net/client_tls.h"
#include "net/http.h"
#include "net/oauth.h"

#include <poll.h>

#define MCP_HTTP_CLIENT_MAX_IDLE 4

typedef struct mcp_http_url {
    char host[256];       /* without brackets */
    char port[8];
    char authority[280];  /* the Host header: as written in the URL */
    char path[2048];      /* path and query, "/" when empty */
    bool tls;             /* https: every connection is TLS (net/client_tls.h) */
    mcp_client_tls *tls_config; /* CAs and checks (mcp_http_url_tls_init); NULL: the system store */
} mcp_http_url;

/* Parse "http://HOST[:PORT][/PATH]" or "https://..." (port 443 by default);
 * MCP_EINVAL for anything else, or a URL holding a space or control character. */
int mcp_http_url_parse(const char *url, mcp_http_url *out);
/* https: the TLS options of opts (CA file, server name, insecure) for
 * every connection to url; logs why and returns MCP_EINVAL when a CA file
 * cannot be used. Nothing to do for http. mcp_http_url_release frees it. */
int mcp_http_url_tls_init(mcp_http_url *url, const mcp_connect_opts *opts);
void mcp_http_url_release(mcp_http_url *url);

/* Connect with a deadline: a connection (plain, or TLS for https) with
 * TCP_NODELAY, or MCP_EIO (errno set) / MCP_ETIMEDOUT / MCP_ENOTFOUND;
 * https: the TLS handshake and verification too (MCP_EPROTO, the reason
 * logged). Plain and TLS connections are the same kind of object
 * (net/client_tls.h), read, written and closed alike. */
int mcp_http_dial(const mcp_http_url *url, unsigned timeout_ms, mcp_client_stream **out);

/* Idle keep-alive connections to one server. */
typedef struct mcp_http_pool {
    mcp_client_stream *conns[MCP_HTTP_CLIENT_MAX_IDLE];
    size_t count;
} mcp_http_pool;

/* An idle connection that still looks alive, or NULL. */
mcp_client_stream *mcp_http_pool_take(mcp_http_pool *pool);
/* Keep conn for reuse (closed when the set is full). */
void mcp_http_pool_put(mcp_http_pool *pool, mcp_client_stream *conn);
void mcp_http_pool_close(mcp_http_pool *pool);

/* One HTTP response being read. Header values the transport needs are
 * kept; the body goes to the SSE parser (text/event-stream) or collects in
 * body (anything else, up to max_body). */
typedef struct mcp_http_response {
    void *llhttp;         /* llhttp_t */
    int status;
    bool head_done;
    bool done;            /* the whole message arrived */
    bool failed;          /* unparseable, or the body is over the limit */
    bool keep_alive;
    bool is_sse;
    bool bytes_seen;
    size_t max_body;
    char field[32];
    size_t field_len;
    int current;          /* header whose value is being read */
    mcp_buf content_type;
    mcp_buf session_id;
    mcp_buf body;
    mcp_sse_parser sse;
} mcp_http_response;

int mcp_http_response_init(mcp_http_response *r, size_t max_body, mcp_sse_event_fn on_event, void *user);
void mcp_http_response_free(mcp_http_response *r);
/* Feed received bytes; len 0 means end of stream. 0; MCP_ECLOSED when
 * the stream ended before the message did (an SSE stream cut short keeps
 * what it delivered; anything else is also marked failed); MCP_EPARSE or
 * MCP_ELIMIT for a broken or oversized response (failed is set). */
int mcp_http_response_feed(mcp_http_response *r, const char *data, size_t len);

/* Base64 (standard alphabet, padded) of len bytes, appended to out. */
int mcp_http_base64_append(mcp_buf *out, const unsigned char *data, size_t len);
/* Either alphabet: url, the URL-safe one without padding (RFC 4648 section
 * 5), which JWTs and PKCE use (mcp_oauth_base64url); else as above. */
int mcp_http_base64_encode(mcp_buf *out, const unsigned char *data, size_t len, bool url);

/* x-mcp-header (client_http_params.c). check: 0 when the tool's annotations
 * are usable, MCP_EINVAL when the tool must not be called. append: the
 * Mcp-Param-* header lines for arguments (nothing for null or absent ones;
 * base64 form for strings a header cannot carry); MCP_EINVAL, with out
 * unchanged, for a bad schema or an argument of the wrong type. */
int mcp_http_tool_headers_check(const mcp_json *input_schema);
int mcp_http_param_headers_append(mcp_buf *out, const mcp_json *input_schema, const mcp_json *arguments);

/* Input schemas of the tools a tools/list result named, by tool name, so a
 * later tools/call can be checked and given its Mcp-Param-* headers. */
typedef struct mcp_http_tools mcp_http_tools;
void mcp_http_tools_learn(mcp_http_tools **list, const mcp_json *result);
const char *mcp_http_tools_schema(const mcp_http_tools *list, const char *name, size_t len); /* or NULL */
void mcp_http_tools_free(mcp_http_tools *list);

/* ---- The transport (client_http.c) and its exchanges (client_http_exchange.c) ----
 * An exchange is one HTTP request and the response it is waiting for: a
 * POST of a message, a resumption GET (Last-Event-ID) standing in for a
 * POST whose stream broke, the standalone GET stream, or the DELETE. */
typedef enum mcp_http_client_exchange_kind {
    MCP_HTTP_X_POST = 0,
    MCP_HTTP_X_RESUME,
    MCP_HTTP_X_GET,
    MCP_HTTP_X_DELETE
} mcp_http_client_exchange_kind;

typedef struct mcp_http_client mcp_http_client;

typedef struct mcp_http_client_exchange {
    struct mcp_http_client_exchange *next;
    mcp_http_client *t;
    mcp_http_client_exchange_kind kind;
    mcp_client_stream *conn; /* NULL: no connection */
    bool reused;          /* conn came from the idle set: it may have died unseen */
    bool resent;
    bool dead;            /* finished: freed by the next reap */
    bool head_seen;
    bool has_request;     /* a request: the stream owes its response */
    bool is_initialize;
    bool is_tools_list;
    bool got_reply;
    mcp_buf id;           /* JSON text of the request id */
    mcp_buf wire;         /* the HTTP request as sent (without Authorization), for resending */
    mcp_buf head;         /* the raw response head, for headers the framing does not keep */
    bool authed;          /* sent with a bearer token */
    mcp_http_response resp;
    bool resp_live;
    mcp_buf last_event_id;
    long retry_ms;        /* the server's retry: field, or -1 */
    unsigned attempts;    /* reconnections so far */
    uint64_t reconnect_at; /* 0: none scheduled */
} mcp_http_client_exchange;

typedef struct mcp_http_inbox_item {
    struct mcp_http_inbox_item *next;
    size_t len;
    char data[];
} mcp_http_inbox_item;

struct mcp_http_client {
    mcp_client_transport base;
    mcp_http_url url;
    size_t max_message;
    unsigned connect_timeout_ms;
    unsigned grace_ms;
    unsigned max_resume;
    bool want_get_stream;
    mcp_http_pool pool;
    mcp_http_client_exchange *xs;
    mcp_http_inbox_item *in_head, *in_tail;
    char *session_id;
    char *protocol_version;  /* handshake era, once negotiated */
    char *modern_version;    /* the version of the last modern-era request, or NULL */
    bool get_refused;        /* the server answered the GET stream with an error */
    mcp_http_tools *tools;   /* input schemas from tools/list, for Mcp-Param-* */
    mcp_oauth *oauth;        /* authorization when the server asks for it, or NULL */
    mcp_http_client_stats stats;
    struct pollfd *pfds;
    mcp_http_client_exchange **pxs;
    size_t pcap;
};

mcp_http_client_exchange *mcp_http_client_exchange_new(mcp_http_client *t, mcp_http_client_exchange_kind kind);
/* Close the exchange's connection and forget its response. */
void mcp_http_client_exchange_drop_conn(mcp_http_client_exchange *x);
/* Free the exchanges marked dead. */
void mcp_http_client_exchanges_reap(mcp_http_client *t);
/* Write x->wire (with the bearer token, when there is one) on a connection,
 * an idle one when there is one, and get ready to read the response. */
int mcp_http_client_exchange_start(mcp_http_client_exchange *x);
/* (Re)open a GET stream: the standalone one, or a resumption. */
int mcp_http_client_exchange_get(mcp_http_client *t, mcp_http_client_exchange *x);
/* The stream of x ended, or never started: resume it later, or give up. */
void mcp_http_stream_over(mcp_http_client_exchange *x, const char *why);
/* Read what is there for x (without waiting). */
void mcp_http_client_exchange_read(mcp_http_client_exchange *x);
/* x's connection holds bytes already: read without polling first. */
bool mcp_http_client_exchange_buffered(const mcp_http_client_exchange *x);
/* Reconnections whose time has come. */
void mcp_http_client_exchanges_run_due(mcp_http_client *t, uint64_t now);
void mcp_http_common_headers_append(mcp_http_client *t, mcp_buf *w, bool modern);
/* The handshake era's MCP-Protocol-Version header, from 2025-06-18 on. */
void mcp_http_version_header_append(mcp_http_client *t, mcp_buf *w);
bool mcp_http_id_same(const mcp_json *id, const mcp_buf *want);
char *mcp_http_strndup(const char *s, size_t n);

#endif
