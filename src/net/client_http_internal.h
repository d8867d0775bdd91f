/*
 * client_http_internal.h — the pieces of the Streamable HTTP client
 * connector, shared by client_http_wire.c (URLs, sockets, the keep-alive
 * connection set, response framing over llhttp in response mode) and
 * client_http.c (the MCP transport: what to POST with which headers, SSE
 * streams, resumption, sessions).
 *
 * Everything here is blocking-with-poll on the caller's thread, like the
 * other connectors: the client's blocking API waits from one thread.
 */
#ifndef MCP_NET_CLIENT_HTTP_INTERNAL_H
#define MCP_NET_CLIENT_HTTP_INTERNAL_H

#include "mcp/client.h"
#include "net/http.h"

#define MCP_HTTP_CLIENT_MAX_IDLE 4

typedef struct mcp_http_url {
    char host[256];       /* without brackets */
    char port[8];
    char authority[280];  /* the Host header: as written in the URL */
    char path[1024];      /* path and query, "/" when empty */
} mcp_http_url;

/* Parse "http://HOST[:PORT][/PATH]". MCP_EUNSUPPORTED for https. */
int mcp_http_url_parse(const char *url, mcp_http_url *out);

/* Connect with a deadline; a blocking socket with TCP_NODELAY, or
 * MCP_EIO (errno set) / MCP_ETIMEDOUT / MCP_ENOTFOUND. */
int mcp_http_dial(const mcp_http_url *url, unsigned timeout_ms, int *fd_out);
/* Write all bytes within timeout_ms; MCP_ECLOSED when the peer is gone. */
int mcp_http_write_all(int fd, const char *data, size_t len, unsigned timeout_ms);

/* Idle keep-alive connections to one server. */
typedef struct mcp_http_pool {
    int fds[MCP_HTTP_CLIENT_MAX_IDLE];
    size_t count;
} mcp_http_pool;

/* An idle connection that still looks alive, or -1. */
int mcp_http_pool_take(mcp_http_pool *pool);
/* Keep fd for reuse (closed when the set is full). */
void mcp_http_pool_put(mcp_http_pool *pool, int fd);
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

#endif
