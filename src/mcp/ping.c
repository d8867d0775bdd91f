/*
 * ping.c — liveness from the application's side: ping every session of a
 * server, whatever transport carries it (mcp_server_ping_sessions).
 *
 * An application that serves with mcp_serve holds no session handles, so
 * the server's own list of live sessions is walked. A session whose last
 * ping from here is still unanswered is not pinged again: a peer that
 * never answers (or a transport that cannot reach it, like an HTTP session
 * without a GET stream) would otherwise collect one pending request per
 * round. The unanswered ones are kept in a small hash set keyed by the
 * session pointer; an entry leaves when the answer comes or the session
 * ends (mcp_session_request's callback runs exactly once either way), so a
 * freed session's address never lingers in it.
 *
 * Lock order: the server's sessions_lock, then a session's lock (through
 * mcp_session_ping). The set's lock is never held across a call into the
 * session, because the answer callback may run under the session's lock.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

#define PING_BUCKETS 256

typedef struct ping_entry {
    struct ping_entry *next;
    mcp_session *session;
    mcp_ping_fn fn;
    void *user;
} ping_entry;

static ping_entry *outstanding[PING_BUCKETS];
static pthread_mutex_t outstanding_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t bucket_of(const mcp_session *session)
{
    uintptr_t p = (uintptr_t)session;
    return (size_t)((p >> 4) ^ (p >> 12)) % PING_BUCKETS;
}

/* Adds e unless its session already has an entry; true when added. */
static bool outstanding_add(ping_entry *e)
{
    size_t b = bucket_of(e->session);
    pthread_mutex_lock(&outstanding_lock);
    for (ping_entry *o = outstanding[b]; o; o = o->next) {
        if (o->session == e->session) {
            pthread_mutex_unlock(&outstanding_lock);
            return false;
        }
    }
    e->next = outstanding[b];
    outstanding[b] = e;
    pthread_mutex_unlock(&outstanding_lock);
    return true;
}

static void outstanding_remove(ping_entry *e)
{
    pthread_mutex_lock(&outstanding_lock);
    for (ping_entry **p = &outstanding[bucket_of(e->session)]; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    pthread_mutex_unlock(&outstanding_lock);
}

static void on_answer(int status, const mcp_json *result, const mcp_json *error, void *user)
{
    (void)result;
    (void)error; /* an error answer still proves the peer is there */
    ping_entry *e = user;
    outstanding_remove(e);
    if (e->fn)
        e->fn(e->session, status == MCP_OK ? MCP_OK : MCP_ECLOSED, e->user);
    free(e);
}

size_t mcp_server_ping_sessions(mcp_server *server, mcp_ping_fn fn, void *user)
{
    if (!server)
        return 0;
    size_t sent = 0;
    pthread_mutex_lock(&server->sessions_lock);
    for (mcp_session *s = server->sessions; s; s = s->srv_next) {
        const char *version = mcp_session_protocol_version(s);
        if (!version || mcp_protocol_is_modern(version))
            continue; /* not initialized, or stateless: nobody to ask */
        ping_entry *e = malloc(sizeof *e);
        if (!e)
            break;
        *e = (ping_entry){.session = s, .fn = fn, .user = user};
        if (!outstanding_add(e)) {
            free(e);
            continue;
        }
        if (mcp_session_ping(s, on_answer, e) != MCP_OK) {
            outstanding_remove(e);
            free(e);
            continue;
        }
        sent++;
    }
    pthread_mutex_unlock(&server->sessions_lock);
    return sent;
}
