/*
 * net/net_internal.h — the network runtime shared by the files of src/net.
 *
 * Three pieces live here:
 *
 *  - mcp_ndjson: a framer for newline-delimited JSON (TCP and stdio).
 *  - mcp_net: the TCP runtime. N worker threads, each with its own libuv
 *    loop and its own SO_REUSEPORT listening socket; the kernel spreads
 *    connections over the workers and a connection stays on its worker for
 *    its whole life. Output that an asynchronous handler produces on another
 *    thread reaches the owning loop through a per-worker inbox and uv_async.
 *  - the worker and connection structures that worker.c and tcp.c share.
 *
 * Serving from a command (blocks; SIGTERM or SIGINT drains and returns):
 *
 *     return mcp_net_run(server, &(mcp_listen){ .tcp = "127.0.0.1:7000" });
 *
 * Serving from a test (any thread may call stop):
 *
 *     mcp_net *net;
 *     mcp_net_start(&net, server, &(mcp_listen){ .tcp = "127.0.0.1:0" }, NULL);
 *     int port = mcp_net_port(net);
 *     ...
 *     mcp_net_stop(net);   // stop accepting, drain, close
 *     mcp_net_wait(net);   // returns when every worker has finished
 *     mcp_net_free(net);
 */
#ifndef MCP_NET_INTERNAL_H
#define MCP_NET_INTERNAL_H

#include "mcp/net.h"

#include <uv.h>

/* ---- Defaults (0 in mcp_listen means these) ---------------------------------- */
#define MCP_NET_DEFAULT_MAX_MESSAGE (4u * 1024 * 1024) /* the server's own default */
#define MCP_NET_DEFAULT_MAX_CONNECTIONS 10000u
#define MCP_NET_DEFAULT_IDLE_TIMEOUT_MS 300000u
#define MCP_NET_DEFAULT_MAX_OUTPUT_QUEUE (1024u * 1024)
#define MCP_NET_DEFAULT_DRAIN_GRACE_MS 10000u
#define MCP_NET_DEFAULT_STALL_TIMEOUT_MS 30000u

/* ---- NDJSON framer -------------------------------------------------------------
 * Feed the bytes of one read as *input and call mcp_ndjson_next until it
 * returns MCP_NDJSON_MORE; input is advanced past what was consumed. A LINE
 * is one message without its "\n" or "\r\n"; it points into the caller's
 * input or into the framer's carry buffer and stays valid until the next
 * call. Blank lines are skipped. OVERSIZED is returned once per line longer
 * than max_line; the rest of that line is dropped without being stored. */
enum { MCP_NDJSON_MORE = 0, MCP_NDJSON_LINE = 1, MCP_NDJSON_OVERSIZED = 2 };

typedef struct mcp_ndjson {
    mcp_buf carry;      /* start of a line whose end has not arrived */
    size_t max_line;    /* bytes, without the line ending */
    bool discarding;    /* inside an oversized line: skip to the next '\n' */
    bool carry_done;    /* carry holds a line already returned */
    uint64_t oversized; /* lines rejected for size */
} mcp_ndjson;

void mcp_ndjson_init(mcp_ndjson *framer, size_t max_line); /* 0 means 4 MiB */
void mcp_ndjson_free(mcp_ndjson *framer);
/* MCP_NDJSON_MORE, MCP_NDJSON_LINE, MCP_NDJSON_OVERSIZED or MCP_ENOMEM. */
int mcp_ndjson_next(mcp_ndjson *framer, mcp_str *input, mcp_str *line);
/* At end of input: a last line that lacked its newline, if any. */
int mcp_ndjson_finish(mcp_ndjson *framer, mcp_str *line);
/* Append the JSON-RPC error line that answers an oversized message. */
int mcp_ndjson_oversized_error(mcp_buf *out, size_t max_line);

/* ---- Counters --------------------------------------------------------------------
 * Every limit that fires is counted. Each worker owns its copy and is its
 * only writer; mcp_net_counters_get sums the copies (relaxed loads). */
typedef struct mcp_net_counters {
    uint64_t accepted;       /* connections taken on */
    uint64_t refused;        /* connections turned away at max_connections */
    uint64_t closed;         /* connections closed, for any reason */
    uint64_t idle_closed;    /* closed after idle_timeout_ms without traffic */
    uint64_t oversized;      /* messages over max_message_size (answered with an error) */
    uint64_t slow_evicted;   /* closed after the output queue stayed full for stall_timeout_ms */
    uint64_t read_paused;    /* times reading paused because the output queue was full */
    uint64_t drain_forced;   /* connections cut when drain_grace_ms ran out */
    uint64_t output_dropped; /* messages produced for a connection already closed */
    uint64_t messages_in;    /* complete messages handed to sessions */
    uint64_t reads;          /* read callbacks with data */
    uint64_t writes;         /* write requests issued */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t tls_handshakes; /* TLS handshakes completed */
    uint64_t tls_failed;     /* connections closed for a failed TLS handshake or record */
    uint64_t ws_upgraded;    /* WebSocket handshakes answered 101 */
    uint64_t ws_rejected;    /* WebSocket handshakes refused (4xx) */
    uint64_t ws_faults;      /* WebSocket closes we sent for a fault (1002, 1003, 1007, 1011) */
} mcp_net_counters;

/* ---- Runtime ------------------------------------------------------------------------ */
typedef struct mcp_net mcp_net;

/* Knobs that mcp_listen does not carry (yet). */
typedef struct mcp_net_tuning {
    unsigned stall_timeout_ms; /* evict a reader whose queue stays full this long; 0 means 30000 */
    bool http;                 /* serve Streamable HTTP on listen->http instead of NDJSON on listen->tcp */
    bool ws;                   /* serve WebSocket on listen->ws (net/ws.h) */
} mcp_net_tuning;

/* Bind listen->tcp ("HOST:PORT", "[v6]:PORT"; port 0 picks one) once per
 * worker with SO_REUSEPORT, start the workers and return. tuning may be NULL.
 * With tuning->http, listen->http is bound and the connections speak
 * Streamable HTTP (net/http.h); with tuning->ws, listen->ws and WebSocket
 * (net/ws.h). mcp_net_run serves listen->tcp if set, else http, else ws.
 * With listen->tls_cert and tls_key, connections speak TLS (net/tls.h).
 * Ignores SIGPIPE for the process (a peer that vanishes must not kill us). */
int mcp_net_start(mcp_net **out, mcp_server *server, const mcp_listen *listen,
                  const mcp_net_tuning *tuning);
int mcp_net_port(const mcp_net *net);        /* the bound port */
unsigned mcp_net_workers(const mcp_net *net); /* number of worker loops */
/* Begin a graceful drain: stop accepting, stop reading, let in-flight
 * requests finish within drain_grace_ms, flush, close. Thread safe,
 * idempotent, returns at once. */
void mcp_net_stop(mcp_net *net);
/* Block until every worker has finished; returns 0. */
int mcp_net_wait(mcp_net *net);
void mcp_net_free(mcp_net *net); /* stops and waits first if needed */
void mcp_net_counters_get(const mcp_net *net, mcp_net_counters *out);

/* start + wait + free, draining on SIGTERM or SIGINT or mcp_net_interrupt. */
int mcp_net_run(mcp_server *server, const mcp_listen *listen);
/* Ask the runtime inside mcp_net_run (if any) to drain and return. Thread safe. */
void mcp_net_interrupt(void);

/* ---- Shared between worker.c and tcp.c ---------------------------------------------- */
typedef struct mcp_net_worker mcp_net_worker;
typedef struct mcp_net_conn mcp_net_conn;

/* A message travelling to a worker loop from another thread. */
typedef enum mcp_net_note_kind {
    MCP_NET_NOTE_OUTPUT,  /* data: an outgoing line for conn */
    MCP_NET_NOTE_RELEASED /* conn's session has been freed; conn may go */
} mcp_net_note_kind;

typedef struct mcp_net_note {
    struct mcp_net_note *next;
    mcp_net_note_kind kind;
    mcp_net_conn *conn;
    mcp_net_worker *worker;  /* RELEASED: where to send the note back */
    mcp_session *session;    /* RELEASED: what the reaper frees */
    void *target;            /* transports other than TCP: what the note is for */
    size_t len;
    char data[];
} mcp_net_note;

typedef struct mcp_net_limits {
    size_t max_message_size;
    unsigned max_connections;
    unsigned idle_timeout_ms;
    size_t max_output_queue;
    unsigned drain_grace_ms;
    unsigned stall_timeout_ms;
} mcp_net_limits;

/* Output that waits for the end of the loop iteration: a connection embeds
 * an mcp_net_flush and asks its loop's queue to run it once every read of
 * the iteration is handled (a uv_check), so a peer that sleeps in its poll
 * is woken by the first of the iteration's writes instead of by each (on
 * loopback each wake-up is paid on the writer's core). Asked any number of
 * times, it runs once; what a run asks for again waits for the next
 * iteration. Cancel before the connection is freed. mcp_net's workers and
 * the network bench's null servers share it. */
typedef struct mcp_net_flush {
    struct mcp_net_flush *next;
    void (*run)(struct mcp_net_flush *flush);
    bool queued;
} mcp_net_flush;

typedef struct mcp_net_flush_queue {
    uv_check_t check;
    mcp_net_flush *head;
} mcp_net_flush_queue;

void mcp_net_flush_queue_init(uv_loop_t *loop, mcp_net_flush_queue *queue);
/* Close the check handle before the loop closes (cb may be NULL). */
void mcp_net_flush_queue_close(mcp_net_flush_queue *queue, uv_close_cb cb);
void mcp_net_flush_soon(mcp_net_flush_queue *queue, mcp_net_flush *flush);
void mcp_net_flush_cancel(mcp_net_flush_queue *queue, mcp_net_flush *flush);
/* Run it now, and not again at the iteration's end. */
void mcp_net_flush_now(mcp_net_flush_queue *queue, mcp_net_flush *flush);

struct mcp_net_worker {
    mcp_net *net;
    unsigned index;
    uv_loop_t loop;
    uv_thread_t thread;
    int listen_fd;           /* bound and listening; handed to listener */
    uv_tcp_t listener;
    uv_async_t wake;         /* stop requests and inbox deliveries */
    uv_timer_t sweep;        /* idle and stall checks */
    uv_timer_t grace;        /* drain deadline */
    bool stopping;           /* drain has begun on this loop */
    bool handles_closed;
    bool wake_closed;        /* guarded by inbox_lock; see mcp_net_worker_post */
    int stop_requested;      /* atomic */
    char *read_buf;          /* one per loop: reads are handled before the next one */
    size_t read_buf_size;
    uv_mutex_t inbox_lock;
    mcp_net_note *inbox_head;
    mcp_net_note *inbox_tail;
    mcp_net_conn *conns;     /* every live connection of this worker */
    size_t conn_count;
    mcp_net_flush_queue flushes; /* this iteration's batch writes */
    mcp_net_counters counters;
};

/* What the runtime looks like to its workers. */
mcp_server *mcp_net_server(const mcp_net *net);
const mcp_net_limits *mcp_net_limits_of(const mcp_net *net);
bool mcp_net_stopping(const mcp_net *net);
/* Account for a new connection against max_connections: false means refuse. */
bool mcp_net_conn_admit(mcp_net *net);
void mcp_net_conn_release(mcp_net *net);
/* Hand note->session to the reaper thread, which frees it (that waits for
 * the session's asynchronous calls) and then posts the note, kind RELEASED,
 * back to note->worker. Freeing off the loop keeps one slow handler from
 * stalling every other connection of the worker. */
void mcp_net_reap(mcp_net *net, mcp_net_note *note);
/* Queue a note for a worker from any thread and wake its loop. */
void mcp_net_worker_post(mcp_net_worker *worker, mcp_net_note *note);
/* A note carrying a copy of message (NUL-terminated), for conn or target,
 * posted to worker: how a transport hands output made on another thread to
 * its connection's loop. MCP_ENOMEM when it could not be made. */
int mcp_net_worker_post_message(mcp_net_worker *worker, int kind, mcp_net_conn *conn, void *target,
                                const char *message, size_t len);
/* The worker whose loop runs on the calling thread, or NULL. */
mcp_net_worker *mcp_net_worker_current(void);
/* Called by tcp.c when the last connection of a stopping worker is gone. */
void mcp_net_worker_maybe_finish(mcp_net_worker *worker);

/* What a kind of connection provides to the worker loops: TCP NDJSON
 * (tcp.c) or Streamable HTTP (http_tcp.c). state_new makes the transport's
 * shared state once per runtime (may be NULL). */
typedef struct mcp_net_transport {
    const char *name;
    int (*state_new)(void **state, mcp_net *net, mcp_server *server, const mcp_listen *listen,
                     const mcp_net_limits *limits, unsigned workers);
    void (*state_free)(void *state);
    void (*on_connection)(uv_stream_t *listener, int status);
    void (*on_note)(mcp_net_worker *worker, mcp_net_note *note);
    void (*sweep)(mcp_net_worker *worker, uint64_t now_ms);
    void (*drain)(mcp_net_worker *worker);
    void (*drain_force)(mcp_net_worker *worker);
} mcp_net_transport;

extern const mcp_net_transport mcp_http_transport; /* http_tcp.c */
/* The transport's shared state (NULL for TCP). */
void *mcp_net_transport_state(const mcp_net *net);
/* The runtime's TLS context, or NULL when it serves plaintext (net/tls.h). */
struct mcp_tls_ctx *mcp_net_tls(const mcp_net *net);

/* tcp.c: connections. */
void mcp_tcp_on_connection(uv_stream_t *listener, int status);
void mcp_tcp_on_note(mcp_net_worker *worker, mcp_net_note *note); /* frees note if it owns it */
void mcp_tcp_sweep(mcp_net_worker *worker, uint64_t now_ms);
void mcp_tcp_drain(mcp_net_worker *worker);       /* stop reading, retire every connection */
void mcp_tcp_drain_force(mcp_net_worker *worker); /* grace over: close what is left */

static inline void mcp_net_count(uint64_t *counter, uint64_t n) {
    /* Single writer: a relaxed load and store is enough and costs a plain add. */
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* The operator's allow lists (allowed_hosts, allowed_origins), which the
 * HTTP and WebSocket servers keep and net/rebinding.c checks against:
 * a deep copy of a NULL-terminated list (NULL for NULL or no memory) and
 * its free. Defined in rebinding.c. */
char **mcp_net_strings_copy(const char *const *list);
void mcp_net_strings_free(char **list);

#endif
