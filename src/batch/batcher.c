/*
 * batcher.c — the request batcher: per-worker queues, the strategies'
 * decision of when a group leaves, per-request completions, statistics and
 * reconnection.
 *
 * Each worker owns one queue (a list under its own mutex), one connection
 * and one thread; mcp_batcher_add spreads requests round robin, so adders
 * on different threads rarely meet on a lock. An adder wakes its worker
 * (an eventfd) only when the worker has a reason to act: the queue went
 * from empty to non-empty (the time window starts) or reached the group
 * size. Everything else happens on the worker thread: the decision, the
 * send, the replies and the completions, so the client state machine is
 * only ever touched by its own thread.
 */
#include "batch/batch_internal.h"
#include "pool/pool_observe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define DEFAULT_MAX_QUEUED 65536u
#define DEFAULT_MAX_INFLIGHT 1024u
#define MAX_POLL_MS 100
#define BACKOFF_MIN_MS 10u
#define BACKOFF_MAX_MS 1000u
/* Weight of the newest group in the smoothed latency. */
#define EWMA_ALPHA 0.125

typedef struct batch_group {
    size_t size;
    size_t target;      /* the group size the strategy asked for when it left */
    size_t remaining;
    size_t failures;
    uint64_t sent_ns;
} batch_group;

typedef struct batch_worker batch_worker;

typedef struct batch_item {
    struct batch_item *next;
    batch_worker *worker;
    batch_group *group;
    mcp_client_done_fn done;
    void *user;
    uint64_t added_ns;
    void *span;         /* begun in mcp_batcher_add, until the client takes it; or NULL */
    const char *params; /* in the same allocation, after method; NULL when none */
    char method[];
} batch_item;

struct batch_worker {
    mcp_batcher *b;
    pthread_t thread;
    bool started;
    int wake_fd;
    pthread_mutex_t lock;   /* guards the queue, flush and dead */
    batch_item *head;
    batch_item *tail;
    size_t queued;
    bool flush;
    bool dead;              /* finished: adds are refused */
    /* Worker thread only. */
    mcp_batch_link link;
    bool connected;
    size_t inflight;
    uint64_t next_connect_ns;
    unsigned backoff_ms;
    uint64_t writes_seen;
    uint64_t last_group_done_ns; /* the last reply of the latest group answered on this link */
    mcp_batch_strategy strategy;
    unsigned strategy_gen;
};

struct mcp_batcher {
    char *connect;
    mcp_client_opts client_opts;
    mcp_pool_observer observer; /* the relay the clients report to */
    char *protocol_version;   /* requested, may be NULL */
    char negotiated[32];
    unsigned timeout_ms;
    unsigned connect_timeout_ms;
    size_t max_queued;
    size_t max_inflight;
    batch_worker *workers;
    unsigned worker_count;
    atomic_uint next_worker;
    atomic_bool stopping;

    pthread_mutex_t lock;     /* the strategy, group statistics and flush waits */
    pthread_cond_t completed_cond;
    mcp_batch_strategy strategy;
    atomic_uint strategy_gen;
    atomic_size_t target;     /* current group size */
    double latency_ewma_us;
    uint64_t window_us;       /* the adaptive rule's window (see adapt_locked) */
    size_t window_requests;
    size_t window_full;       /* of those, in groups of the size asked for */
    atomic_uint_fast64_t grouped_items;
    atomic_int flush_waiters;

    atomic_uint_fast64_t added;
    atomic_uint_fast64_t completed;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t rpc_errors;
    atomic_uint_fast64_t groups;
    atomic_uint_fast64_t arrays;
    atomic_uint_fast64_t writes;
    atomic_uint_fast64_t reconnects;
    atomic_size_t queued;
    atomic_size_t inflight;
};

static size_t initial_target(const mcp_batch_strategy *s)
{
    switch (s->kind) {
    case MCP_BATCH_NONE:
        return 1;
    case MCP_BATCH_SIZE:
        return s->size;
    case MCP_BATCH_TIME:
        return s->max_size;
    case MCP_BATCH_ADAPTIVE:
        return s->min_size > s->size ? s->min_size : (s->size < s->max_size ? s->size : s->max_size);
    }
    return 1;
}

static void wake(batch_worker *w)
{
    uint64_t one = 1;
    while (write(w->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

/* ---- Completions ------------------------------------------------------------ */

/* Service times come in lumps: a server answers what one read brought in
 * one write, and the client reads what piled up while it was sending, so
 * the first group of a lump carries the time of all of them and the rest
 * none. The rule therefore looks at a window of at least two target sizes
 * of requests: their total service time over their number is the cost per
 * request, and that times the target is what a full group costs now.
 * Failures act at once. */
static void adapt_locked(mcp_batcher *b, const batch_group *g, uint64_t service_us)
{
    size_t target = atomic_load(&b->target);
    b->window_us += service_us;
    b->window_requests += g->size;
    if (g->size >= g->target)
        b->window_full += g->size;
    if (g->failures == 0 && b->window_requests < 2 * target)
        return;
    uint64_t cost_us = (uint64_t)((double)b->window_us / (double)b->window_requests * (double)target);
    bool full = b->window_full * 2 >= b->window_requests;
    atomic_store(&b->target, mcp_batch_adapt(&b->strategy, target, full, cost_us, g->failures));
    b->window_us = 0;
    b->window_requests = b->window_full = 0;
}

static void group_done(batch_worker *w, batch_group *g)
{
    mcp_batcher *b = w->b;
    uint64_t now = mcp_now_ns();
    uint64_t us = (now - g->sent_ns) / 1000u;
    /* The adaptive rule judges the group by its own service time: the wait
     * behind the groups ahead of it grows as groups shrink (fewer calls per
     * second with the same number in flight), so judging by the round trip
     * would shrink them further, down to min_size. */
    uint64_t service_us = mcp_batch_service_us(g->sent_ns, w->last_group_done_ns, now);
    w->last_group_done_ns = now;
    pthread_mutex_lock(&b->lock);
    b->latency_ewma_us = b->latency_ewma_us == 0 ? (double)us
                                                 : b->latency_ewma_us + EWMA_ALPHA * ((double)us - b->latency_ewma_us);
    if (w->strategy.kind == MCP_BATCH_ADAPTIVE && b->strategy.kind == MCP_BATCH_ADAPTIVE)
        adapt_locked(b, g, service_us);
    pthread_mutex_unlock(&b->lock);
    free(g);
}

static void count_completion(mcp_batcher *b, int status)
{
    if (status < 0)
        atomic_fetch_add_explicit(&b->failed, 1, memory_order_relaxed);
    else if (status == MCP_CLIENT_RPC_ERROR)
        atomic_fetch_add_explicit(&b->rpc_errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->completed, 1, memory_order_release);
    if (atomic_load(&b->flush_waiters) > 0) {
        pthread_mutex_lock(&b->lock);
        pthread_cond_broadcast(&b->completed_cond);
        pthread_mutex_unlock(&b->lock);
    }
}

/* Completion of a request that was sent (the client calls this). */
static void item_done(void *user, int status, const mcp_json *value, int64_t id)
{
    batch_item *it = user;
    batch_worker *w = it->worker;
    mcp_batcher *b = w->b;
    w->inflight--;
    atomic_fetch_sub_explicit(&b->inflight, 1, memory_order_relaxed);
    if (it->done)
        it->done(it->user, status, value, id);
    count_completion(b, status);
    batch_group *g = it->group;
    if (g) {
        if (status < 0)
            g->failures++;
        if (--g->remaining == 0)
            group_done(w, g);
    }
    free(it);
}

/* Completion of a request that never left the queue. */
static void item_fail(batch_item *it, int status)
{
    mcp_batcher *b = it->worker->b;
    if (MCP_UNLIKELY(it->span))
        mcp_pool_observer_end(&b->observer, it->span, status);
    if (it->done)
        it->done(it->user, status, NULL, 0);
    count_completion(b, status);
    free(it);
}

/* ---- Sending ------------------------------------------------------------------- */

static void send_group(batch_worker *w, batch_item *list, size_t n, size_t target)
{
    mcp_batcher *b = w->b;
    batch_group *g = calloc(1, sizeof *g);
    if (g) {
        g->target = target;
        g->size = n;
        g->remaining = n;
        g->sent_ns = mcp_now_ns();
    }
    mcp_batch_link_begin(&w->link);
    size_t sent = 0;
    while (list) {
        batch_item *it = list;
        list = it->next;
        it->group = g;
        int rc;
        /* The client reports the request with the span begun for it and
         * ends that span in every case, a failed send included. */
        rc = mcp_client_request(w->link.client, it->method, it->params,
                                &(mcp_client_request_opts){.observe_handle = it->span}, item_done, it, NULL);
        it->span = NULL;
        if (rc != 0) {
            it->group = NULL;
            item_fail(it, rc);
            continue;
        }
        w->inflight++;
        atomic_fetch_add_explicit(&b->inflight, 1, memory_order_relaxed);
        sent++;
    }
    mcp_batch_link_end(&w->link);
    if (g) {
        /* Requests that failed to go out are not part of the group. */
        g->size = sent;
        g->remaining = sent;
        if (sent == 0)
            free(g);
    }
    if (sent == 0)
        return;
    atomic_fetch_add_explicit(&b->groups, 1, memory_order_relaxed);
    if (w->link.arrays)
        atomic_fetch_add_explicit(&b->arrays, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->grouped_items, sent, memory_order_relaxed);
    mcp_batch_link_write(&w->link);
}

/* How many queued requests leave now (0: none yet), and otherwise how long
 * until the oldest one's window closes. Called with w->lock held. */
static size_t decide(batch_worker *w, size_t target, uint64_t now, int *wait_ms)
{
    const mcp_batch_strategy *s = &w->strategy;
    *wait_ms = MAX_POLL_MS;
    if (w->queued == 0)
        return 0;
    size_t cap = s->kind == MCP_BATCH_NONE ? 1 : s->kind == MCP_BATCH_TIME ? s->max_size : target;
    if (w->flush || w->queued >= cap || s->kind == MCP_BATCH_NONE)
        return w->queued < cap ? w->queued : cap;
    uint64_t age_us = (now - w->head->added_ns) / 1000u;
    if (age_us >= s->window_us)
        return w->queued < cap ? w->queued : cap;
    *wait_ms = (int)((s->window_us - age_us + 999u) / 1000u);
    return 0;
}

/* Queued requests older than the timeout fail: a worker that cannot reach
 * the server must not keep them forever. Called with w->lock held; the
 * failed ones are moved to *expired. */
static void expire_queued(batch_worker *w, uint64_t now, batch_item **expired)
{
    uint64_t limit = (uint64_t)w->b->timeout_ms * 1000000u;
    while (w->head && now - w->head->added_ns >= limit) {
        batch_item *it = w->head;
        w->head = it->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        atomic_fetch_sub_explicit(&w->b->queued, 1, memory_order_relaxed);
        it->next = *expired;
        *expired = it;
    }
}

static int link_connect(batch_worker *w)
{
    mcp_batcher *b = w->b;
    bool was_quiet = mcp_pool_observer_quiet(true); /* the handshake is ours, not a caller's */
    int rc = mcp_batch_link_open(&w->link, b->connect, &b->client_opts, b->connect_timeout_ms);
    mcp_pool_observer_quiet(was_quiet);
    w->connected = rc == 0;
    w->last_group_done_ns = 0;
    return rc;
}

static void try_reconnect(batch_worker *w, uint64_t now)
{
    if (now < w->next_connect_ns)
        return;
    if (link_connect(w) == 0) {
        w->backoff_ms = 0;
        w->writes_seen = 0;
        atomic_fetch_add_explicit(&w->b->reconnects, 1, memory_order_relaxed);
        return;
    }
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (w->backoff_ms > BACKOFF_MAX_MS)
        w->backoff_ms = BACKOFF_MAX_MS;
    w->next_connect_ns = now + (uint64_t)w->backoff_ms * 1000000u;
}

static void worker_finish(batch_worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->dead = true;
    batch_item *list = w->head;
    w->head = w->tail = NULL;
    atomic_fetch_sub_explicit(&w->b->queued, w->queued, memory_order_relaxed);
    w->queued = 0;
    pthread_mutex_unlock(&w->lock);
    while (list) {
        batch_item *it = list;
        list = it->next;
        item_fail(it, MCP_ECLOSED);
    }
    if (w->connected || w->link.client)
        mcp_batch_link_close(&w->link);
    w->connected = false;
}

static void *worker_main(void *arg)
{
    batch_worker *w = arg;
    mcp_batcher *b = w->b;
    while (!atomic_load(&b->stopping)) {
        uint64_t now = mcp_now_ns();
        unsigned gen = atomic_load(&b->strategy_gen);
        if (gen != w->strategy_gen) {
            pthread_mutex_lock(&b->lock);
            w->strategy = b->strategy;
            w->strategy_gen = atomic_load(&b->strategy_gen);
            pthread_mutex_unlock(&b->lock);
        }
        if (!w->connected)
            try_reconnect(w, now);
        size_t room = w->inflight < b->max_inflight ? b->max_inflight - w->inflight : 0;
        int wait_ms = MAX_POLL_MS;
        size_t take = 0;
        batch_item *list = NULL, *expired = NULL;
        pthread_mutex_lock(&w->lock);
        /* Read the clock under the lock: a request added after an earlier
         * reading would look older than time itself (unsigned underflow)
         * and be expired at once. */
        now = mcp_now_ns();
        if (w->head && now - w->head->added_ns >= (uint64_t)b->timeout_ms * 1000000u)
            expire_queued(w, now, &expired);
        size_t target = atomic_load(&b->target);
        if (w->connected) {
            take = decide(w, target, now, &wait_ms);
            if (take > room)
                take = room;
        }
        if (take > 0) {
            list = w->head;
            batch_item *last = list;
            for (size_t i = 1; i < take; i++)
                last = last->next;
            w->head = last->next;
            last->next = NULL;
            if (!w->head)
                w->tail = NULL;
            w->queued -= take;
            atomic_fetch_sub_explicit(&b->queued, take, memory_order_relaxed);
            if (w->queued == 0)
                w->flush = false;
        }
        bool more = w->queued > 0 && take > 0;
        pthread_mutex_unlock(&w->lock);
        while (expired) {
            batch_item *it = expired;
            expired = it->next;
            item_fail(it, MCP_ETIMEDOUT);
        }
        if (!w->connected) {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (take > 0)
            send_group(w, list, take, target);
        int rc = mcp_batch_link_pump(&w->link, more ? 0 : wait_ms, w->wake_fd);
        atomic_fetch_add_explicit(&b->writes, w->link.writes - w->writes_seen, memory_order_relaxed);
        w->writes_seen = w->link.writes;
        if (rc != 0) {
            /* Lost: in-flight requests complete with MCP_ECLOSED; queued
             * ones wait for the reconnection (or their timeout). */
            mcp_batch_link_close(&w->link);
            w->connected = false;
            w->next_connect_ns = 0;
        }
    }
    worker_finish(w);
    return NULL;
}

/* ---- Public API ------------------------------------------------------------------ */

int mcp_batcher_add(mcp_batcher *b, const char *method, const char *params_json,
                    mcp_client_done_fn done, void *user)
{
    if (!b || !method)
        return MCP_EINVAL;
    if (atomic_load(&b->stopping))
        return MCP_ECLOSED;
    size_t mlen = strlen(method);
    size_t plen = params_json ? strlen(params_json) : 0;
    batch_item *it = malloc(sizeof *it + mlen + 1 + (params_json ? plen + 1 : 0));
    if (!it)
        return MCP_ENOMEM;
    memcpy(it->method, method, mlen + 1);
    it->params = NULL;
    if (params_json) {
        char *p = it->method + mlen + 1;
        memcpy(p, params_json, plen + 1);
        it->params = p;
    }
    it->next = NULL;
    it->group = NULL;
    it->done = done;
    it->user = user;
    it->added_ns = mcp_now_ns();
    it->span = NULL;
    /* Begun here, on the caller's thread, to be parented on its work. */
    if (MCP_UNLIKELY(b->observer.inner != NULL))
        it->span = mcp_pool_observer_begin(&b->observer, method, params_json);
    unsigned i = atomic_fetch_add_explicit(&b->next_worker, 1, memory_order_relaxed) % b->worker_count;
    batch_worker *w = &b->workers[i];
    it->worker = w;
    size_t target = atomic_load_explicit(&b->target, memory_order_relaxed);
    pthread_mutex_lock(&w->lock);
    if (w->dead || w->queued >= b->max_queued) {
        int rc = w->dead ? MCP_ECLOSED : MCP_EAGAIN;
        pthread_mutex_unlock(&w->lock);
        mcp_pool_observer_end(&b->observer, it->span, rc);
        free(it);
        return rc;
    }
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    size_t n = ++w->queued;
    pthread_mutex_unlock(&w->lock);
    atomic_fetch_add_explicit(&b->added, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->queued, 1, memory_order_relaxed);
    if (n == 1 || n == target)
        wake(w);
    return 0;
}

int mcp_batcher_flush(mcp_batcher *b, unsigned timeout_ms)
{
    uint64_t want = atomic_load(&b->added);
    for (unsigned i = 0; i < b->worker_count; i++) {
        batch_worker *w = &b->workers[i];
        pthread_mutex_lock(&w->lock);
        w->flush = w->queued > 0;
        pthread_mutex_unlock(&w->lock);
        wake(w);
    }
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc = 0;
    atomic_fetch_add(&b->flush_waiters, 1);
    pthread_mutex_lock(&b->lock);
    while (atomic_load_explicit(&b->completed, memory_order_acquire) < want) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline) {
            rc = MCP_ETIMEDOUT;
            break;
        }
        /* Short waits: a completion that lands between the check and the
         * wait is noticed within a millisecond even without its signal. */
        uint64_t until = now + 1000000u < deadline ? now + 1000000u : deadline;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t add = until - now;
        ts.tv_sec += (time_t)(add / 1000000000u);
        ts.tv_nsec += (long)(add % 1000000000u);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->completed_cond, &b->lock, &ts);
    }
    pthread_mutex_unlock(&b->lock);
    atomic_fetch_sub(&b->flush_waiters, 1);
    return rc;
}

int mcp_batcher_set_strategy(mcp_batcher *b, const mcp_batch_strategy *strategy)
{
    if (!b || !strategy)
        return MCP_EINVAL;
    mcp_batch_strategy s = *strategy;
    int rc = mcp_batch_strategy_normalize(&s);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&b->lock);
    b->strategy = s;
    atomic_store(&b->target, initial_target(&s));
    b->window_us = 0;
    b->window_requests = b->window_full = 0;
    atomic_fetch_add(&b->strategy_gen, 1);
    pthread_mutex_unlock(&b->lock);
    for (unsigned i = 0; i < b->worker_count; i++)
        wake(&b->workers[i]);
    return 0;
}

void mcp_batcher_get_stats(mcp_batcher *b, mcp_batcher_stats *out)
{
    memset(out, 0, sizeof *out);
    out->added = atomic_load(&b->added);
    out->completed = atomic_load(&b->completed);
    out->failed = atomic_load(&b->failed);
    out->rpc_errors = atomic_load(&b->rpc_errors);
    out->groups = atomic_load(&b->groups);
    out->arrays = atomic_load(&b->arrays);
    out->writes = atomic_load(&b->writes);
    out->reconnects = atomic_load(&b->reconnects);
    out->queued = atomic_load(&b->queued);
    out->inflight = atomic_load(&b->inflight);
    out->target_size = atomic_load(&b->target);
    pthread_mutex_lock(&b->lock);
    out->mean_group_size = out->groups ? (double)atomic_load(&b->grouped_items) / (double)out->groups : 0;
    out->group_latency_us = b->latency_ewma_us;
    pthread_mutex_unlock(&b->lock);
}

const char *mcp_batcher_protocol_version(const mcp_batcher *b)
{
    return b->negotiated;
}

void mcp_batcher_free(mcp_batcher *b)
{
    if (!b)
        return;
    atomic_store(&b->stopping, true);
    for (unsigned i = 0; i < b->worker_count; i++) {
        batch_worker *w = &b->workers[i];
        if (w->started) {
            wake(w);
            pthread_join(w->thread, NULL);
        } else {
            worker_finish(w);
        }
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        pthread_mutex_destroy(&w->lock);
    }
    free(b->workers);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->completed_cond);
    free(b->connect);
    free(b->protocol_version);
    free(b);
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

int mcp_batcher_new(const mcp_batcher_opts *opts, mcp_batcher **out)
{
    if (!opts || !opts->connect || !out)
        return MCP_EINVAL;
    mcp_batch_strategy s = opts->strategy;
    int rc = mcp_batch_strategy_normalize(&s);
    if (rc != 0)
        return rc;
    if (opts->protocol_version && !mcp_protocol_is_supported(opts->protocol_version))
        return MCP_EUNSUPPORTED;
    mcp_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return MCP_ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->completed_cond, NULL);
    bool failed = false;
    b->connect = dup_or_null(opts->connect, &failed);
    b->protocol_version = dup_or_null(opts->protocol_version, &failed);
    b->worker_count = opts->workers ? opts->workers : 1;
    b->workers = calloc(b->worker_count, sizeof *b->workers);
    if (failed || !b->workers) {
        b->worker_count = 0;
        mcp_batcher_free(b);
        return MCP_ENOMEM;
    }
    b->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    b->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    b->max_queued = opts->max_queued ? opts->max_queued : DEFAULT_MAX_QUEUED;
    b->max_inflight = opts->max_inflight ? opts->max_inflight : DEFAULT_MAX_INFLIGHT;
    mcp_pool_observer_init(&b->observer, opts->observer, "tcp");
    b->client_opts = (mcp_client_opts){.name = "mcpd-batch",
                                       .protocol_version = b->protocol_version,
                                       .timeout_ms = b->timeout_ms,
                                       /* Every request goes to the server: an answer
                                        * from a cache would complete it inside
                                        * mcp_client_request, before it is counted
                                        * in its group. */
                                       .no_cache = true,
                                       .observer = mcp_pool_observer_for_clients(&b->observer)};
    b->strategy = s;
    atomic_store(&b->target, initial_target(&s));
    for (unsigned i = 0; i < b->worker_count; i++) {
        batch_worker *w = &b->workers[i];
        w->b = b;
        w->link.fd = -1;
        pthread_mutex_init(&w->lock, NULL);
        w->strategy = s;
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->wake_fd < 0 && rc == 0)
            rc = MCP_EIO;
    }
    for (unsigned i = 0; i < b->worker_count && rc == 0; i++)
        rc = link_connect(&b->workers[i]);
    if (rc == 0) {
        const char *v = mcp_client_protocol_version(b->workers[0].link.client);
        snprintf(b->negotiated, sizeof b->negotiated, "%s", v ? v : "");
        b->observer.protocol_version = b->negotiated;
    }
    for (unsigned i = 0; i < b->worker_count && rc == 0; i++) {
        batch_worker *w = &b->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            rc = MCP_ENOMEM;
        else
            w->started = true;
    }
    if (rc != 0) {
        mcp_batcher_free(b);
        return rc;
    }
    *out = b;
    return 0;
}
