/*
 * tasks_store.c — where the modern era's tasks live (the tasks extension,
 * see tasks_modern.c for what they do).
 *
 * Modern requests are stateless and may arrive on any connection, so tasks
 * hang off the server, not a session. The server structure has no slot for
 * them, so stores live in a short list keyed by server (and its seed, so
 * that a new server at a freed one's address is never handed the old
 * tasks). Each store has its own lock; no request holds it for longer than
 * a lookup and a copy. Tasks are dropped lazily, past their ttl, once
 * nothing works on them any more.
 */
#include "tasks_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static mcp_task_store *stores;
/* Stores of servers freed without mcp_server_tasks_free: their runners
 * point at freed memory, so they are set aside and never touched again. */
static mcp_task_store *set_aside;

/* ---- Shared with the handshake tasks ------------------------------------------ */

void mcp_task_time_text(uint64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

void mcp_task_write_fields(mcp_json_writer *w, const mcp_task_fields *f)
{
    char when[32];
    mcp_json_write_key(w, "taskId");
    mcp_json_write_cstr(w, f->id);
    mcp_json_write_key(w, "status");
    mcp_json_write_cstr(w, f->status);
    if (f->status_message) {
        mcp_json_write_key(w, "statusMessage");
        mcp_json_write_cstr(w, f->status_message);
    }
    mcp_task_time_text(f->created_ms, when);
    mcp_json_write_key(w, "createdAt");
    mcp_json_write_cstr(w, when);
    mcp_task_time_text(f->updated_ms, when);
    mcp_json_write_key(w, "lastUpdatedAt");
    mcp_json_write_cstr(w, when);
    mcp_json_write_key(w, f->modern ? "ttlMs" : "ttl");
    mcp_json_write_uint(w, f->ttl_ms);
    mcp_json_write_key(w, f->modern ? "pollIntervalMs" : "pollInterval");
    mcp_json_write_int(w, MCP_TASK_POLL_INTERVAL_MS);
}

const char *mcp_task_id_param(mcp_call *call)
{
    const mcp_json *id = mcp_json_get(call->params, "taskId");
    if (!mcp_json_is_string(id) || strlen(mcp_json_str(id, "")) != mcp_json_str_len(id)) {
        mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS, "Invalid params: taskId must be a string");
        return NULL;
    }
    return mcp_json_str(id, "");
}

int mcp_task_id_new(char out[33])
{
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        return MCP_EIO;
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

/* ---- The store ------------------------------------------------------------------ */

mcp_task_store *mcp_task_store_of(mcp_server *server, bool create)
{
    pthread_mutex_lock(&stores_lock);
    mcp_task_store **p = &stores;
    while (*p) {
        mcp_task_store *st = *p;
        if (st->server == server) {
            if (st->seed == server->seed)
                break;
            *p = st->next;
            st->next = set_aside;
            set_aside = st;
            continue;
        }
        p = &st->next;
    }
    mcp_task_store *st = *p;
    if (!st && create && (st = calloc(1, sizeof *st)) != NULL) {
        st->server = server;
        st->seed = server->seed;
        pthread_mutex_init(&st->lock, NULL);
        st->next = stores;
        stores = st;
    }
    pthread_mutex_unlock(&stores_lock);
    return st;
}

static void task_free(mcp_modern_task *t)
{
    if (t->runner)
        mcp_session_free(t->runner); /* waits for a tool still running */
    pthread_mutex_destroy(&t->runner_lock);
    free(t->status_message);
    free(t->params);
    free(t->outcome);
    free(t->input_requests);
    free(t->request_state);
    mcp_buf_free(&t->responses);
    free(t);
}

/* Past their ttl and idle: terminal, or waiting for input that never came. */
void mcp_task_store_purge(mcp_task_store *st, mcp_modern_task **dropped)
{
    uint64_t now = mcp_wall_ms();
    for (mcp_modern_task **p = &st->tasks; *p;) {
        mcp_modern_task *t = *p;
        bool idle = !t->running && t->holds == 0 && (mcp_task_status_terminal(t->status) || t->status == MCP_TASK_INPUT_REQUIRED);
        if (idle && now - t->created_ms > t->ttl_ms) {
            *p = t->next;
            st->count--;
            t->next = *dropped;
            *dropped = t;
        } else {
            p = &t->next;
        }
    }
}

void mcp_task_list_free(mcp_modern_task *t)
{
    while (t) {
        mcp_modern_task *next = t->next;
        task_free(t);
        t = next;
    }
}

mcp_modern_task *mcp_task_store_find(mcp_task_store *st, const char *id)
{
    for (mcp_modern_task *t = st->tasks; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

void mcp_server_tasks_free(mcp_server *server)
{
    pthread_mutex_lock(&stores_lock);
    mcp_task_store *st = NULL;
    for (mcp_task_store **p = &stores; *p; p = &(*p)->next) {
        if ((*p)->server == server && (*p)->seed == server->seed) {
            st = *p;
            *p = st->next;
            break;
        }
    }
    pthread_mutex_unlock(&stores_lock);
    if (!st)
        return;
    /* Runners may still call the sink (tools finishing): free them first,
     * with the tasks still in place for the sink to find. */
    for (mcp_modern_task *t = st->tasks; t; t = t->next) {
        mcp_session *runner = t->runner;
        pthread_mutex_lock(&t->runner_lock);
        mcp_session_free(runner);
        pthread_mutex_unlock(&t->runner_lock);
        pthread_mutex_lock(&st->lock);
        t->runner = NULL;
        pthread_mutex_unlock(&st->lock);
    }
    mcp_task_list_free(st->tasks);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

bool mcp_task_exists(mcp_server *server, const char *id)
{
    mcp_task_store *st = mcp_task_store_of(server, false);
    if (!st)
        return false;
    pthread_mutex_lock(&st->lock);
    bool found = mcp_task_store_find(st, id) != NULL;
    pthread_mutex_unlock(&st->lock);
    return found;
}
