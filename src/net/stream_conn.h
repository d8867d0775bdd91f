/*
 * net/stream_conn.h — the libuv side of a server connection, shared by the
 * Streamable HTTP (http_tcp.c) and WebSocket (ws_tcp.c) transports: accept
 * and admission, reads into the loop's buffer, TLS, the output write with
 * its two swapping buffers, back-pressure bookkeeping, FIN after the last
 * word and the careful close that waits for the reaper. The transport
 * keeps the protocol (a sans-I/O connection with an output buffer) and
 * says what to do through mcp_stream_ops. The write alone
 * (mcp_stream_write) is also used by tcp.c and by the null servers of the
 * network bench, so that they all pay the same system calls.
 *
 * A transport connection starts with an mcp_stream_conn (so a pointer to
 * one is a pointer to the other):
 *
 *     typedef struct my_conn { mcp_stream_conn s; my_proto *proto; } my_conn;
 *
 *     mcp_stream_conn *s = mcp_stream_conn_accept(listener, sizeof(my_conn), &OPS, &list_head, BUSY);
 *     if (!s) return;                              // refused, counted, closed
 *     my_conn *c = (my_conn *)s;
 *     c->proto = my_proto_new(...);
 *     if (!c->proto) { mcp_stream_conn_abort(s); return; }
 *     s->out = my_proto_out(c->proto);             // what the protocol produced
 *     mcp_stream_conn_start(s);                    // reading begins
 *
 * Rules kept here: a read is handled whole and what it produced leaves in
 * one write (for write_after_reads transports, made once every read of the
 * loop iteration is handled, so that a client asleep in its poll is woken
 * by the first of the iteration's writes, not by each); that write is
 * tried at once and only what the kernel did not
 * take is queued (mcp_stream_write: libuv answers every queued write with
 * an epoll_ctl, a system call per request for nothing); at most one write
 * is in flight and the two buffers are reused, so a request costs no
 * allocation here. The peer's address is read once at accept and made
 * current (mcp_transport_peer_swap) around each feed, for the spans of the
 * requests the read carries. A connection whose peer is gone is closed at once and
 * its session goes to the reaper; memory is freed when both the handle is
 * closed and the reaper has reported back (RELEASED note). Finishing
 * (mcp_stream_conn_finish) sends close_notify under TLS, then FIN once all
 * is written, then reads and discards until the peer's FIN, so that unread
 * input cannot turn our close into a reset that destroys the answer.
 */
#ifndef MCP_NET_STREAM_CONN_H
#define MCP_NET_STREAM_CONN_H

#include "net/net_internal.h"

#include <stddef.h>
#include <uv.h>

/* ---- One write ------------------------------------------------------------------- */
enum { MCP_STREAM_QUEUED = 0, MCP_STREAM_WRITTEN = 1 };

/* MCP_STREAM_WRITTEN (all of data is in the kernel; cb will not run),
 * MCP_STREAM_QUEUED (the remainder is written by req and cb runs when it is
 * done; data must stay valid until then) or a negative libuv error. At most
 * one write may be in flight: call again only after cb. */
int mcp_stream_write(uv_stream_t *stream, uv_write_t *req, const char *data, size_t len, uv_write_cb cb);

/* ---- The peer ---------------------------------------------------------------------- */
/* Fill peer from the socket's getpeername (numeric; IPv4-mapped IPv6 as
 * IPv4). Left unknown (address_len 0) when the socket cannot say. Once per
 * connection, at accept: spans copy a pointer to it, nothing more. */
void mcp_stream_peer_get(uv_tcp_t *tcp, mcp_transport_peer *peer);

/* ---- Connections ------------------------------------------------------------------ */
typedef struct mcp_stream_conn mcp_stream_conn;

typedef struct mcp_stream_ops {
    /* The plaintext of one read. */
    void (*feed)(mcp_stream_conn *s, const char *data, size_t len);
    /* After a read or a completed write: pause or resume reading, finish. */
    void (*check)(mcp_stream_conn *s);
    /* Retiring: the session to hand to the reaper (NULL if none). */
    mcp_session *(*detach)(mcp_stream_conn *s);
    /* Free what the transport owns; the connection's memory is freed after. */
    void (*free)(mcp_stream_conn *s);
    /* Write after every read of the loop iteration instead of after each
     * read: fewer wake-ups of clients that keep many requests in flight
     * (WebSocket). A transport whose reads bring one small request each
     * (HTTP) keeps the loop's warm output buffer by writing at once. */
    bool write_after_reads;
} mcp_stream_ops;

struct mcp_stream_conn {
    uv_tcp_t tcp; /* first: the handle's memory is the connection's */
    mcp_net_worker *worker;
    const mcp_stream_ops *ops;
    mcp_stream_conn **list; /* head of the live connections this one is on */
    mcp_stream_conn *prev, *next;
    mcp_buf *out;           /* the transport's output, collecting */
    mcp_buf wbuf;           /* being written */
    struct mcp_tls_conn *tls; /* NULL: plaintext */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    mcp_net_note *release;  /* travels to the reaper and back */
    mcp_transport_peer peer; /* read once at accept; current while its input is handled */
    uint64_t last_io_ms;
    uint64_t full_since_ms; /* output over max_output_queue since; 0 if under */
    mcp_net_flush flush;    /* the batch write, after every read of the loop iteration */
    bool writing, reading, retired, released, shutting, lingering, closing, closed, notified;
};

/* Accept one connection from listener into a zeroed allocation of size
 * bytes (an mcp_stream_conn first). NULL when refused (max_connections, no
 * memory, TLS set-up failed): busy, if not NULL, was sent to a plaintext
 * peer, the refusal counted and the socket closed. */
mcp_stream_conn *mcp_stream_conn_accept(uv_stream_t *listener, size_t size, const mcp_stream_ops *ops,
                                        mcp_stream_conn **list, const char *busy);
/* The transport could not set up its part (already freed by it). */
void mcp_stream_conn_abort(mcp_stream_conn *s);
/* Set up: counted, listed, reading. s->out must be set. */
void mcp_stream_conn_start(mcp_stream_conn *s);

void mcp_stream_conn_read_start(mcp_stream_conn *s);
void mcp_stream_conn_read_stop(mcp_stream_conn *s);
/* Write what *out holds (sealed under TLS), unless a write is in flight. */
void mcp_stream_conn_flush(mcp_stream_conn *s);
/* Queued output is over max_output_queue: keeps full_since_ms and counts
 * the pauses; the caller stops reading. */
bool mcp_stream_conn_full(mcp_stream_conn *s);
/* No more traffic for the session: it goes to the reaper. Idempotent. */
void mcp_stream_conn_retire(mcp_stream_conn *s);
/* The last word is said: close_notify and FIN once written (call again
 * from check after each write), then linger until the peer's FIN. */
void mcp_stream_conn_finish(mcp_stream_conn *s);
/* Close now (peer gone, error, limit). Idempotent. */
void mcp_stream_conn_close(mcp_stream_conn *s);
/* The RELEASED note came back from the reaper. */
void mcp_stream_conn_released(mcp_stream_conn *s);

/* ---- What both transports do the same way --------------------------------------- */
/* How long a finished connection may wait for its peer's FIN (or close). */
uint64_t mcp_stream_conn_linger_ms(const mcp_net_limits *limits);
/* The transport's io.flush (user is the mcp_stream_conn): output appeared
 * outside a read (an asynchronous reply); write it, then ops->check. */
void mcp_stream_conn_io_flush(void *user);
/* Drain's deadline passed: close every connection still on the list. */
void mcp_stream_conn_close_all(mcp_stream_conn *list);

#endif
