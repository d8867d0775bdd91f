/*
 * net/http_answer.h — the bytes of a whole HTTP answer that carries one
 * message (http_answer.c): the 200 application/json answer and the SSE
 * stream of one event, each written in one piece, and the modern
 * session's lending sink that has the session build such a message in
 * place, behind room kept for the head. Used by http_conn.c.
 */
#ifndef MCP_NET_HTTP_ANSWER_H
#define MCP_NET_HTTP_ANSWER_H

#include "net/http_internal.h"

/* The head fields of every SSE answer after its Content-Type. */
#define MCP_HTTP_SSE_HEAD_FIELDS "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"

/* The hexadecimal digits of v into out (no NUL); their count (decimal:
 * mcp_format_uint). */
size_t mcp_http_format_hex(char *out, uint64_t v);

/* Where the bytes of x go now: the connection's output at the head of the
 * queue, the exchange's own pending buffer behind it. */
mcp_buf *mcp_http_x_target(mcp_http_exchange *x);

/* A whole 200 application/json answer (extra_headers: NULL or lines that
 * end in CRLF). */
void mcp_http_x_respond_json_ok(mcp_http_exchange *x, const char *body, size_t len, const char *extra_headers);
/* A whole SSE answer of one event and the last chunk; false (nothing
 * written) when the message holds a line end, which the general path
 * splits into data lines. */
bool mcp_http_x_respond_sse_once(mcp_http_exchange *x, const char *message, size_t len);

/* The modern session's mcp_sink.lend and .lent (user: the connection). */
mcp_buf *mcp_http_conn_lend(void *user);
int mcp_http_conn_lent(void *user, size_t start);
/* A loan the session took back leaves the room for its head behind: every
 * writer of the connection's output calls this first. */
void mcp_http_loan_settle(void);

/* Is message a result for the request of x (its envelope and id first, as
 * our writer puts them)? Such an answer's status is 200. */
bool mcp_http_is_result_for(const mcp_http_exchange *x, const char *message, size_t len);

#endif
