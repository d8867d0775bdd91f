/*
 * The answer to nearly every request, in one piece: a 200 application/json
 * answer with its body, or an SSE stream that carries only its reply (the
 * head, one chunk with the event, the last chunk). Each is written straight
 * into the buffer it goes to, with one reserve and no head assembled on the
 * side and copied again.
 *
 * Lending (mcp_sink.lend). A modern-era request answered while it is being
 * handled has its reply built by the session straight into that buffer,
 * behind room kept for the head, so the reply is written once (instead of
 * built in the call's buffer and copied here) and the call's own output
 * buffer, 2 KB per connection, is never touched. That memory is what it
 * saves: ~40 instructions a request, but at 1,000 connections (SSE) the
 * throughput against the null server went from 0.77 to 0.81, interleaved
 * runs; at 50 it is unchanged. The head's size depends
 * on the number of digits of the reply's length, unknown until the reply
 * is built: the room kept is the head of a reply as long as the last one
 * of its kind on this thread, so a steady load never moves a byte, and a
 * reply of another size moves by the few bytes of difference.
 *
 * The loan is this thread's (lend and lent run on the connection's loop,
 * within one completion of the session): the record of it lives in a
 * thread-local, and the session either finishes the reply (lent) or takes
 * it back, leaving the room for the head behind; every writer of the
 * output settles such a loan first (mcp_http_loan_settle).
 */
#include "net/http_answer.h"

#include <stdlib.h>
#include <string.h>

/* By hand: snprintf cost ~700 instructions per event. */
size_t mcp_http_format_hex(char *out, uint64_t v) {
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

mcp_buf *mcp_http_x_target(mcp_http_exchange *x) { return x->conn->head == x ? &x->conn->out : &x->pending; }

bool mcp_http_is_result_for(const mcp_http_exchange *x, const char *message, size_t len) {
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char result[] = ",\"result\"";
    size_t h = sizeof head - 1, id = x->id.len, n = sizeof result - 1;
    return id && len > h + id + n && memcmp(message, head, h) == 0 && memcmp(message + h, x->id.data, id) == 0 &&
           memcmp(message + h + id, result, n) == 0;
}

/* ---- The heads ----------------------------------------------------------------------- */
/* The longest head below, with room for the extra headers given. */
#define JSON_HEAD_MAX 160
#define SSE_HEAD_MAX 200

static const char JSON_START[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
static const char SSE_START[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" MCP_HTTP_SSE_HEAD_FIELDS;
static const char SSE_EVENT[] = "event: message\ndata: ";
/* The event's blank line, the chunk's end, the last chunk. */
static const char SSE_END[] = "\n\n\r\n0\r\n\r\n";

/* Everything before the body of a 200 JSON answer with a body of len
 * bytes, into w (room: JSON_HEAD_MAX + extra); its length. */
static size_t json_head(char *w, size_t len, bool keep_alive, const char *extra, size_t extra_len) {
    static const char closing[] = "\r\nConnection: close";
    char *p = w;
    memcpy(p, JSON_START, sizeof JSON_START - 1);
    p += sizeof JSON_START - 1;
    p += mcp_format_uint(p, len);
    if (!keep_alive) {
        memcpy(p, closing, sizeof closing - 1);
        p += sizeof closing - 1;
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    if (extra_len) {
        memcpy(p, extra, extra_len);
        p += extra_len;
    }
    memcpy(p, "\r\n", 2);
    return (size_t)(p + 2 - w);
}

/* Everything before the message of a one-event SSE answer, up to and with
 * "data: ", into w (room: SSE_HEAD_MAX); its length. */
static size_t sse_head(char *w, size_t len, bool keep_alive) {
    static const char closing[] = "Connection: close\r\n";
    char *p = w;
    memcpy(p, SSE_START, sizeof SSE_START - 1);
    p += sizeof SSE_START - 1;
    if (!keep_alive) {
        memcpy(p, closing, sizeof closing - 1);
        p += sizeof closing - 1;
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    p += mcp_http_format_hex(p, sizeof SSE_EVENT - 1 + len + 2); /* the chunk: the event and its blank line */
    memcpy(p, "\r\n", 2);
    p += 2;
    memcpy(p, SSE_EVENT, sizeof SSE_EVENT - 1);
    return (size_t)(p + sizeof SSE_EVENT - 1 - w);
}

static bool has_line_end(const char *message, size_t len) {
    return memchr(message, '\n', len) || memchr(message, '\r', len);
}

/* ---- Whole answers ---------------------------------------------------------------------- */
void mcp_http_x_respond_json_ok(mcp_http_exchange *x, const char *body, size_t len, const char *extra_headers) {
    mcp_http_conn *conn = x->conn;
    if (!conn) return;
    mcp_http_loan_settle();
    size_t extra = extra_headers ? strlen(extra_headers) : 0;
    mcp_buf *to = mcp_http_x_target(x);
    if (mcp_buf_reserve(to, JSON_HEAD_MAX + extra + len)) {
        conn->close_after = true; /* out of memory: give up on the peer */
        return;
    }
    char *w = to->data + to->len;
    w += json_head(w, len, x->keep_alive, extra_headers, extra);
    memcpy(w, body, len);
    to->len = (size_t)(w + len - to->data);
    x->last_write_ms = conn->now_ms;
}

bool mcp_http_x_respond_sse_once(mcp_http_exchange *x, const char *message, size_t len) {
    mcp_http_conn *conn = x->conn;
    if (!conn || has_line_end(message, len)) return false;
    mcp_http_loan_settle();
    mcp_buf *to = mcp_http_x_target(x);
    if (mcp_buf_reserve(to, SSE_HEAD_MAX + len + sizeof SSE_END)) {
        conn->close_after = true; /* out of memory: give up on the peer */
        return true;
    }
    char *w = to->data + to->len;
    w += sse_head(w, len, x->keep_alive);
    memcpy(w, message, len);
    w += len;
    memcpy(w, SSE_END, sizeof SSE_END - 1);
    to->len = (size_t)(w + sizeof SSE_END - 1 - to->data);
    x->last_write_ms = conn->now_ms;
    return true;
}

/* ---- Lending ------------------------------------------------------------------------------ */
typedef struct http_loan {
    mcp_http_exchange *x; /* NULL: no loan open */
    mcp_buf *buf;
    size_t at;            /* where the answer begins */
    size_t start;         /* where the message begins (after the room for the head) */
    bool sse;
} http_loan;

static _Thread_local http_loan loan;
/* The length of the last lent message of each kind (JSON, SSE) on this
 * thread: the room kept for the next head is that of a message this long. */
static _Thread_local size_t last_len[2] = {1000, 1000};

void mcp_http_loan_settle(void) {
    if (MCP_UNLIKELY(loan.x != NULL)) {
        loan.buf->len = loan.at;
        loan.buf->data[loan.at] = '\0';
        loan.x = NULL;
    }
}

mcp_buf *mcp_http_conn_lend(void *user) {
    mcp_http_conn *conn = user;
    if (conn->io.worker && mcp_net_worker_current() != conn->io.worker) return NULL;
    mcp_http_loan_settle();
    /* Only the reply of the request being handled in a read, so that the
     * end of the read (conn_advance) settles whatever became of the loan
     * before the output is written. */
    mcp_http_exchange *x = mcp_http_current();
    if (!x || x->conn != conn || !conn->in_feed || !x->modern || x->hs || x->state != MCP_HTTP_X_WAITING) return NULL;
    bool sse = !x->json_ok || (x->sse_ok && x->prefer_sse);
    if (sse && !x->sse_ok) return NULL;
    char head[SSE_HEAD_MAX];
    size_t room = sse ? sse_head(head, last_len[1], x->keep_alive) : json_head(head, last_len[0], x->keep_alive, NULL, 0);
    mcp_buf *buf = mcp_http_x_target(x);
    if (mcp_buf_reserve(buf, room)) return NULL;
    loan = (http_loan){.x = x, .buf = buf, .at = buf->len, .start = buf->len + room, .sse = sse};
    buf->len += room;
    return buf;
}

/* The lent message could not be answered in one piece (a line end in it
 * for SSE, not a result for JSON): it goes the usual way, from a copy. */
static void lent_fallback(http_loan *l, size_t start) {
    mcp_buf copy;
    mcp_buf_init(&copy);
    int rc = mcp_buf_append(&copy, l->buf->data + start, l->buf->len - start);
    l->buf->len = l->at;
    l->buf->data[l->at] = '\0';
    if (rc == 0) mcp_http_exchange_deliver(l->x, copy.data, copy.len);
    else l->x->conn->close_after = true; /* out of memory: give up on the peer */
    mcp_buf_free(&copy);
}

int mcp_http_conn_lent(void *user, size_t start) {
    mcp_http_conn *conn = user;
    http_loan l = loan;
    loan.x = NULL;
    mcp_buf *buf = l.buf;
    size_t len = buf->len - start;
    const char *message = buf->data + start;
    if (l.sse ? has_line_end(message, len) : !mcp_http_is_result_for(l.x, message, len)) {
        lent_fallback(&l, start);
        return MCP_OK;
    }
    char head[SSE_HEAD_MAX];
    size_t n = l.sse ? sse_head(head, len, l.x->keep_alive) : json_head(head, len, l.x->keep_alive, NULL, 0);
    size_t tail = l.sse ? sizeof SSE_END - 1 : 0;
    size_t room = start - l.at;
    if ((n > room || tail) && mcp_buf_reserve(buf, n - (n > room ? room : n) + tail)) {
        buf->len = l.at;
        buf->data[l.at] = '\0';
        conn->close_after = true; /* out of memory: give up on the peer */
        return MCP_ENOMEM;
    }
    if (n != room) {
        /* Another number of digits than the last reply's: the message moves. */
        memmove(buf->data + l.at + n, buf->data + start, len);
        buf->len = l.at + n + len;
    }
    memcpy(buf->data + l.at, head, n);
    if (tail) {
        memcpy(buf->data + buf->len, SSE_END, tail);
        buf->len += tail;
    }
    buf->data[buf->len] = '\0';
    last_len[l.sse] = len;
    l.x->last_write_ms = conn->now_ms;
    mcp_net_count(l.sse ? &conn->counters->responses_sse : &conn->counters->responses_json, 1);
    mcp_http_x_done(l.x);
    return MCP_OK;
}
