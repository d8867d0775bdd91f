/*
 * The TCP runtime: worker loops, listeners, the cross-thread inbox, the
 * session reaper and graceful stop.
 *
 * Each worker thread runs its own libuv loop and owns one listening socket.
 * All sockets are bound to the same address with SO_REUSEPORT, so the kernel
 * balances new connections over the workers and no accept lock is shared.
 * Nothing a worker touches per request is shared with another worker; the
 * only cross-thread traffic is the inbox (output of handlers that finished on
 * another thread, and sessions the reaper has freed), which is a mutex-guarded
 * list per worker plus a uv_async wake-up.
 *
 * Stopping is a drain, never a cut: stop accepting, stop reading, let the
 * requests already received finish within drain_grace_ms, write what they
 * produced, then close. Freeing a session waits for its pending calls, so
 * sessions are freed on a reaper thread and their connections are closed once
 * the reaper reports back; the loops keep serving output meanwhile.
 */
#include "net/net_internal.h"
#include "net/tls.h"
#include "net/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MCP_NET_READ_BUF_SIZE (64 * 1024)
#define MCP_NET_BACKLOG 1024
#define MCP_NET_DRAIN_POLL_MS 5

struct mcp_net {
    mcp_server *server;
    const mcp_net_transport *transport;
    void *transport_state;
    mcp_tls_ctx *tls;      /* NULL: plaintext */
    mcp_net_limits limits;
    mcp_net_worker *workers;
    unsigned worker_count;
    int port;
    int stopping;          /* atomic */
    unsigned live_conns;   /* atomic: open connections across workers */
    unsigned workers_done; /* atomic */
    bool waited;
    uv_async_t *done;      /* mcp_net_run's main loop, told when all workers end; set before threads start */
    uv_thread_t reaper;
    uv_mutex_t reap_lock;
    uv_cond_t reap_cond;
    mcp_net_note *reap_head;
    mcp_net_note *reap_tail;
    bool reaper_quit;
};

static _Thread_local mcp_net_worker *mcp_net_tls_worker;

static const mcp_net_transport mcp_tcp_transport = {
    .name = "tcp",
    .on_connection = mcp_tcp_on_connection,
    .on_note = mcp_tcp_on_note,
    .sweep = mcp_tcp_sweep,
    .drain = mcp_tcp_drain,
    .drain_force = mcp_tcp_drain_force,
};

_Static_assert(sizeof(mcp_net_counters) % sizeof(uint64_t) == 0, "counters are summed as an array of uint64_t");

/* ---- Accessors used by tcp.c ---------------------------------------------------- */
mcp_server *mcp_net_server(const mcp_net *net) { return net->server; }
const mcp_net_limits *mcp_net_limits_of(const mcp_net *net) { return &net->limits; }
bool mcp_net_stopping(const mcp_net *net) { return __atomic_load_n(&net->stopping, __ATOMIC_ACQUIRE); }
mcp_net_worker *mcp_net_worker_current(void) { return mcp_net_tls_worker; }
int mcp_net_port(const mcp_net *net) { return net->port; }
unsigned mcp_net_workers(const mcp_net *net) { return net->worker_count; }
void *mcp_net_transport_state(const mcp_net *net) { return net->transport_state; }
mcp_tls_ctx *mcp_net_tls(const mcp_net *net) { return net->tls; }

bool mcp_net_conn_admit(mcp_net *net) {
    unsigned now = __atomic_add_fetch(&net->live_conns, 1, __ATOMIC_RELAXED);
    if (now <= net->limits.max_connections) return true;
    __atomic_sub_fetch(&net->live_conns, 1, __ATOMIC_RELAXED);
    return false;
}

void mcp_net_conn_release(mcp_net *net) {
    __atomic_sub_fetch(&net->live_conns, 1, __ATOMIC_RELAXED);
}

void mcp_net_counters_get(const mcp_net *net, mcp_net_counters *out) {
    memset(out, 0, sizeof *out);
    uint64_t *sum = (uint64_t *)out;
    size_t n = sizeof *out / sizeof(uint64_t);
    for (unsigned i = 0; i < net->worker_count; i++) {
        const uint64_t *c = (const uint64_t *)&net->workers[i].counters;
        for (size_t k = 0; k < n; k++) sum[k] += __atomic_load_n(&c[k], __ATOMIC_RELAXED);
    }
}

/* ---- Inbox -------------------------------------------------------------------------- */
int mcp_net_worker_post_message(mcp_net_worker *worker, int kind, mcp_net_conn *conn, void *target,
                                const char *message, size_t len) {
    mcp_net_note *note = malloc(sizeof *note + len + 1);
    if (!note) return MCP_ENOMEM;
    memset(note, 0, sizeof *note);
    note->kind = (mcp_net_note_kind)kind;
    note->conn = conn;
    note->worker = worker;
    note->target = target;
    note->len = len;
    if (len) memcpy(note->data, message, len);
    note->data[len] = '\0';
    mcp_net_worker_post(worker, note);
    return MCP_OK;
}

void mcp_net_worker_post(mcp_net_worker *worker, mcp_net_note *note) {
    note->next = NULL;
    uv_mutex_lock(&worker->inbox_lock);
    if (worker->inbox_tail) worker->inbox_tail->next = note;
    else worker->inbox_head = note;
    worker->inbox_tail = note;
    /* Sent under the lock: the worker closes its wake handle under the same
     * lock, and only after the note that lets it finish has been handled, so
     * a send can never reach a closed handle. */
    uv_async_send(&worker->wake);
    uv_mutex_unlock(&worker->inbox_lock);
}

static void worker_inbox_drain(mcp_net_worker *worker) {
    uv_mutex_lock(&worker->inbox_lock);
    mcp_net_note *note = worker->inbox_head;
    worker->inbox_head = worker->inbox_tail = NULL;
    uv_mutex_unlock(&worker->inbox_lock);
    while (note) {
        mcp_net_note *next = note->next;
        worker->net->transport->on_note(worker, note);
        note = next;
    }
}

/* ---- Reaper ----------------------------------------------------------------------------- */
void mcp_net_reap(mcp_net *net, mcp_net_note *note) {
    note->next = NULL;
    uv_mutex_lock(&net->reap_lock);
    if (net->reap_tail) net->reap_tail->next = note;
    else net->reap_head = note;
    net->reap_tail = note;
    uv_cond_signal(&net->reap_cond);
    uv_mutex_unlock(&net->reap_lock);
}

static void reaper_main(void *arg) {
    mcp_net *net = arg;
    uv_mutex_lock(&net->reap_lock);
    for (;;) {
        while (!net->reap_head && !net->reaper_quit) uv_cond_wait(&net->reap_cond, &net->reap_lock);
        mcp_net_note *note = net->reap_head;
        if (!note) break;
        net->reap_head = note->next;
        if (!net->reap_head) net->reap_tail = NULL;
        uv_mutex_unlock(&net->reap_lock);
        if (note->session) mcp_session_free(note->session);
        note->session = NULL;
        note->kind = MCP_NET_NOTE_RELEASED;
        mcp_net_worker_post(note->worker, note);
        uv_mutex_lock(&net->reap_lock);
    }
    uv_mutex_unlock(&net->reap_lock);
}

/* ---- Worker loop ------------------------------------------------------------------------- */
static void on_handle_closed(uv_handle_t *handle) { (void)handle; }

void mcp_net_worker_maybe_finish(mcp_net_worker *worker) {
    if (!worker->stopping || worker->conn_count || worker->handles_closed) return;
    worker->handles_closed = true;
    mcp_net_flush_queue_close(&worker->flushes, on_handle_closed);
    uv_close((uv_handle_t *)&worker->sweep, on_handle_closed);
    uv_close((uv_handle_t *)&worker->grace, on_handle_closed);
    uv_mutex_lock(&worker->inbox_lock);
    worker->wake_closed = true;
    uv_close((uv_handle_t *)&worker->wake, on_handle_closed);
    uv_mutex_unlock(&worker->inbox_lock);
}

static void on_sweep(uv_timer_t *timer) {
    mcp_net_worker *worker = timer->data;
    worker->net->transport->sweep(worker, uv_now(&worker->loop));
}

static void on_grace_over(uv_timer_t *timer) {
    mcp_net_worker *worker = timer->data;
    worker->net->transport->drain_force(worker);
}

static void worker_begin_drain(mcp_net_worker *worker) {
    worker->stopping = true;
    uv_close((uv_handle_t *)&worker->listener, on_handle_closed);
    /* Check often for connections whose last calls have finished: a call's
     * reply reaches us a moment before the session counts it as done. */
    uv_timer_start(&worker->sweep, on_sweep, MCP_NET_DRAIN_POLL_MS, MCP_NET_DRAIN_POLL_MS);
    worker->net->transport->drain(worker);
    uv_timer_start(&worker->grace, on_grace_over, worker->net->limits.drain_grace_ms, 0);
    mcp_net_worker_maybe_finish(worker);
}

static void on_wake(uv_async_t *async) {
    mcp_net_worker *worker = async->data;
    worker_inbox_drain(worker);
    if (!worker->stopping && __atomic_load_n(&worker->stop_requested, __ATOMIC_ACQUIRE))
        worker_begin_drain(worker);
}

static void worker_main(void *arg) {
    mcp_net_worker *worker = arg;
    mcp_net_tls_worker = worker;
    uv_run(&worker->loop, UV_RUN_DEFAULT);
    /* The inbox is empty here: every note concerns a connection, and the loop
     * ends only after the last connection's final note was handled. */
    uv_loop_close(&worker->loop);
    mcp_net *net = worker->net;
    unsigned done = __atomic_add_fetch(&net->workers_done, 1, __ATOMIC_ACQ_REL);
    if (done == net->worker_count && net->done) uv_async_send(net->done);
}

/* ---- Listening sockets ------------------------------------------------------------------ */
/* "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces) into a socket address. */
static int parse_address(const char *spec, struct sockaddr_storage *addr, socklen_t *addr_len) {
    if (!spec) return MCP_EINVAL;
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1]) return MCP_EINVAL;
    char host[256];
    size_t host_len = (size_t)(colon - spec);
    const char *host_start = spec;
    if (host_len >= 2 && spec[0] == '[' && spec[host_len - 1] == ']') {
        host_start++;
        host_len -= 2;
    }
    if (host_len >= sizeof host) return MCP_EINVAL;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    const char *port = colon + 1;
    char *end;
    long port_num = strtol(port, &end, 10);
    if (*end || port_num < 0 || port_num > 65535) return MCP_EINVAL;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host_len ? host : NULL, port, &hints, &res);
    if (rc || !res) {
        mcp_log(MCP_LOG_ERROR, "tcp listen %s: %s", spec, gai_strerror(rc));
        return MCP_EINVAL;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return MCP_OK;
}

static int sockaddr_port(const struct sockaddr_storage *addr) {
    if (addr->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

static void sockaddr_set_port(struct sockaddr_storage *addr, int port) {
    if (addr->ss_family == AF_INET6) ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
}

static int open_listener(const char *spec, struct sockaddr_storage *addr, socklen_t addr_len, int *out_fd) {
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
        goto fail;
    if (bind(fd, (struct sockaddr *)addr, addr_len) || listen(fd, MCP_NET_BACKLOG)) goto fail;
    if (sockaddr_port(addr) == 0) {
        /* Port 0: the first socket learns the kernel's pick and the others
         * join it, so all workers share one port. */
        struct sockaddr_storage bound;
        socklen_t bound_len = sizeof bound;
        if (getsockname(fd, (struct sockaddr *)&bound, &bound_len)) goto fail;
        sockaddr_set_port(addr, sockaddr_port(&bound));
    }
    *out_fd = fd;
    return MCP_OK;
fail:
    mcp_log(MCP_LOG_ERROR, "tcp listen %s: %s", spec, strerror(errno));
    if (fd >= 0) close(fd);
    return MCP_EIO;
}

/* ---- Start, stop, wait ------------------------------------------------------------------------ */
static void limits_from(mcp_net_limits *limits, const mcp_listen *listen, const mcp_net_tuning *tuning) {
    limits->max_message_size = listen->max_message_size ? listen->max_message_size : MCP_NET_DEFAULT_MAX_MESSAGE;
    limits->max_connections = listen->max_connections ? listen->max_connections : MCP_NET_DEFAULT_MAX_CONNECTIONS;
    limits->idle_timeout_ms = listen->idle_timeout_ms ? listen->idle_timeout_ms : MCP_NET_DEFAULT_IDLE_TIMEOUT_MS;
    limits->max_output_queue = listen->max_output_queue ? listen->max_output_queue : MCP_NET_DEFAULT_MAX_OUTPUT_QUEUE;
    limits->drain_grace_ms = listen->drain_grace_ms ? listen->drain_grace_ms : MCP_NET_DEFAULT_DRAIN_GRACE_MS;
    limits->stall_timeout_ms = tuning && tuning->stall_timeout_ms ? tuning->stall_timeout_ms
                                                                   : MCP_NET_DEFAULT_STALL_TIMEOUT_MS;
}

static unsigned sweep_interval_ms(const mcp_net_limits *limits) {
    unsigned shortest = limits->idle_timeout_ms < limits->stall_timeout_ms ? limits->idle_timeout_ms
                                                                          : limits->stall_timeout_ms;
    unsigned interval = shortest / 4;
    if (interval < 5) interval = 5;
    if (interval > 1000) interval = 1000;
    return interval;
}

static void ignore_sigpipe(void) {
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL) {
        struct sigaction ignore = {.sa_handler = SIG_IGN};
        sigaction(SIGPIPE, &ignore, NULL);
    }
}

static int worker_init(mcp_net *net, mcp_net_worker *worker, unsigned index) {
    worker->net = net;
    worker->index = index;
    worker->read_buf_size = MCP_NET_READ_BUF_SIZE;
    worker->read_buf = malloc(worker->read_buf_size);
    if (!worker->read_buf) return MCP_ENOMEM;
    if (uv_loop_init(&worker->loop)) return MCP_ENOMEM;
    worker->loop.data = worker; /* marks a loop with handles to close on failure */
    uv_mutex_init(&worker->inbox_lock);
    uv_async_init(&worker->loop, &worker->wake, on_wake);
    worker->wake.data = worker;
    uv_timer_init(&worker->loop, &worker->sweep);
    worker->sweep.data = worker;
    uv_timer_init(&worker->loop, &worker->grace);
    worker->grace.data = worker;
    mcp_net_flush_queue_init(&worker->loop, &worker->flushes);
    unsigned interval = sweep_interval_ms(&net->limits);
    uv_timer_start(&worker->sweep, on_sweep, interval, interval);
    uv_tcp_init(&worker->loop, &worker->listener);
    worker->listener.data = worker;
    int rc = uv_tcp_open(&worker->listener, worker->listen_fd);
    if (rc == 0) {
        worker->listen_fd = -1; /* the handle owns it now */
        rc = uv_listen((uv_stream_t *)&worker->listener, MCP_NET_BACKLOG, net->transport->on_connection);
    }
    if (rc) {
        mcp_log(MCP_LOG_ERROR, "tcp worker %u: %s", index, uv_strerror(rc));
        return MCP_EIO;
    }
    return MCP_OK;
}

/* Undo worker_init for a runtime that never started its threads. */
static void worker_abandon(mcp_net_worker *worker) {
    if (worker->loop.data == worker) {
        uv_close((uv_handle_t *)&worker->wake, NULL);
        uv_close((uv_handle_t *)&worker->sweep, NULL);
        uv_close((uv_handle_t *)&worker->grace, NULL);
        mcp_net_flush_queue_close(&worker->flushes, NULL);
        uv_close((uv_handle_t *)&worker->listener, NULL);
        uv_run(&worker->loop, UV_RUN_DEFAULT);
        uv_loop_close(&worker->loop);
        uv_mutex_destroy(&worker->inbox_lock);
    }
    if (worker->listen_fd >= 0) close(worker->listen_fd);
    free(worker->read_buf);
}

static int net_start(mcp_net **out, mcp_server *server, const mcp_listen *listen,
                     const mcp_net_tuning *tuning, uv_async_t *done) {
    *out = NULL;
    bool http = tuning && tuning->http;
    bool ws = tuning && tuning->ws && !http;
    const char *address = listen ? (http ? listen->http : ws ? listen->ws : listen->tcp) : NULL;
    if (!server || !address) return MCP_EINVAL;
    const mcp_net_transport *transport = http ? &mcp_http_transport : ws ? &mcp_ws_transport : &mcp_tcp_transport;
    if (!listen->tls_cert != !listen->tls_key) {
        mcp_log(MCP_LOG_ERROR, "%s listen: TLS needs both a certificate and a key file", transport->name);
        return MCP_EINVAL;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int rc = parse_address(address, &addr, &addr_len);
    if (rc) {
        mcp_log(MCP_LOG_ERROR, "%s listen: bad address \"%s\" (want HOST:PORT)", transport->name, address);
        return rc;
    }
    mcp_net *net = calloc(1, sizeof *net);
    if (!net) return MCP_ENOMEM;
    net->server = server;
    net->transport = transport;
    net->done = done;
    if (listen->tls_cert) {
        rc = mcp_tls_ctx_new(&net->tls, listen->tls_cert, listen->tls_key);
        if (rc) {
            free(net);
            return rc;
        }
    }
    limits_from(&net->limits, listen, tuning);
    net->worker_count = listen->workers ? listen->workers : uv_available_parallelism();
    if (net->worker_count == 0) net->worker_count = 1;
    net->workers = calloc(net->worker_count, sizeof *net->workers);
    if (!net->workers) {
        mcp_tls_ctx_free(net->tls);
        free(net);
        return MCP_ENOMEM;
    }
    for (unsigned i = 0; i < net->worker_count; i++) net->workers[i].listen_fd = -1;
    if (transport->state_new) {
        rc = transport->state_new(&net->transport_state, net, server, listen, &net->limits, net->worker_count);
        if (rc) {
            mcp_tls_ctx_free(net->tls);
            free(net->workers);
            free(net);
            return rc;
        }
    }

    /* All sockets first: a bad address or a port in use fails before any
     * thread exists. */
    for (unsigned i = 0; i < net->worker_count && !rc; i++)
        rc = open_listener(address, &addr, addr_len, &net->workers[i].listen_fd);
    for (unsigned i = 0; i < net->worker_count && !rc; i++) rc = worker_init(net, &net->workers[i], i);
    if (rc) {
        for (unsigned i = 0; i < net->worker_count; i++) worker_abandon(&net->workers[i]);
        if (transport->state_free) transport->state_free(net->transport_state);
        mcp_tls_ctx_free(net->tls);
        free(net->workers);
        free(net);
        return rc;
    }
    net->port = sockaddr_port(&addr);
    ignore_sigpipe();
    uv_mutex_init(&net->reap_lock);
    uv_cond_init(&net->reap_cond);
    uv_thread_create(&net->reaper, reaper_main, net);
    for (unsigned i = 0; i < net->worker_count; i++)
        uv_thread_create(&net->workers[i].thread, worker_main, &net->workers[i]);
    mcp_log(MCP_LOG_INFO, "%s%s listening on %s (port %d, %u workers)", transport->name, net->tls ? "+tls" : "",
            address, net->port, net->worker_count);
    *out = net;
    return MCP_OK;
}

int mcp_net_start(mcp_net **out, mcp_server *server, const mcp_listen *listen,
                  const mcp_net_tuning *tuning) {
    return net_start(out, server, listen, tuning, NULL);
}

void mcp_net_stop(mcp_net *net) {
    if (__atomic_exchange_n(&net->stopping, 1, __ATOMIC_ACQ_REL)) return;
    for (unsigned i = 0; i < net->worker_count; i++) {
        mcp_net_worker *worker = &net->workers[i];
        /* Under the inbox lock, for the reason given in mcp_net_worker_post. */
        uv_mutex_lock(&worker->inbox_lock);
        __atomic_store_n(&worker->stop_requested, 1, __ATOMIC_RELEASE);
        if (!worker->wake_closed) uv_async_send(&worker->wake);
        uv_mutex_unlock(&worker->inbox_lock);
    }
}

int mcp_net_wait(mcp_net *net) {
    if (net->waited) return MCP_OK;
    for (unsigned i = 0; i < net->worker_count; i++) uv_thread_join(&net->workers[i].thread);
    uv_mutex_lock(&net->reap_lock);
    net->reaper_quit = true;
    uv_cond_signal(&net->reap_cond);
    uv_mutex_unlock(&net->reap_lock);
    uv_thread_join(&net->reaper);
    net->waited = true;
    return MCP_OK;
}

void mcp_net_free(mcp_net *net) {
    if (!net) return;
    mcp_net_stop(net);
    mcp_net_wait(net);
    for (unsigned i = 0; i < net->worker_count; i++) {
        uv_mutex_destroy(&net->workers[i].inbox_lock);
        free(net->workers[i].read_buf);
    }
    uv_cond_destroy(&net->reap_cond);
    uv_mutex_destroy(&net->reap_lock);
    if (net->transport->state_free) net->transport->state_free(net->transport_state);
    mcp_tls_ctx_free(net->tls);
    free(net->workers);
    free(net);
}

/* ---- Blocking form with signals ---------------------------------------------------------------- */
static pthread_mutex_t mcp_net_running_lock = PTHREAD_MUTEX_INITIALIZER;
static mcp_net *mcp_net_running;

void mcp_net_interrupt(void) {
    pthread_mutex_lock(&mcp_net_running_lock);
    if (mcp_net_running) mcp_net_stop(mcp_net_running);
    pthread_mutex_unlock(&mcp_net_running_lock);
}

typedef struct run_state {
    mcp_net *net;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_async_t done;
} run_state;

static void on_stop_signal(uv_signal_t *handle, int signum) {
    run_state *state = handle->data;
    mcp_log(MCP_LOG_INFO, "tcp: signal %d, draining", signum);
    mcp_net_stop(state->net);
}

static void on_workers_done(uv_async_t *async) {
    run_state *state = async->data;
    uv_close((uv_handle_t *)&state->sigterm, NULL);
    uv_close((uv_handle_t *)&state->sigint, NULL);
    uv_close((uv_handle_t *)&state->done, NULL);
}

int mcp_net_run(mcp_server *server, const mcp_listen *listen) {
    uv_loop_t loop;
    if (uv_loop_init(&loop)) return MCP_ENOMEM;
    run_state state = {0};
    uv_async_init(&loop, &state.done, on_workers_done);
    state.done.data = &state;
    uv_signal_init(&loop, &state.sigterm);
    uv_signal_init(&loop, &state.sigint);
    state.sigterm.data = state.sigint.data = &state;
    /* Signals are watched before the workers exist so that none is missed. */
    uv_signal_start(&state.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&state.sigint, on_stop_signal, SIGINT);

    /* One transport runs here: tcp if named, else http, else ws. Callers
     * that want several start the others beside us with mcp_net_start. */
    mcp_net_tuning tuning = {.http = listen && !listen->tcp && listen->http,
                             .ws = listen && !listen->tcp && !listen->http && listen->ws};
    int rc = net_start(&state.net, server, listen, &tuning, &state.done);
    if (rc) {
        on_workers_done(&state.done);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return rc;
    }
    pthread_mutex_lock(&mcp_net_running_lock);
    mcp_net_running = state.net;
    pthread_mutex_unlock(&mcp_net_running_lock);

    uv_run(&loop, UV_RUN_DEFAULT);

    pthread_mutex_lock(&mcp_net_running_lock);
    mcp_net_running = NULL;
    pthread_mutex_unlock(&mcp_net_running_lock);
    mcp_net_free(state.net);
    uv_loop_close(&loop);
    return MCP_OK;
}
