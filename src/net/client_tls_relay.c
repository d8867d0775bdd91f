/*
 * client_tls_relay.c — a TLS client stream behind a plain descriptor (see
 * mcp_client_stream_relay in net/client_tls.h).
 *
 * Why: the Streamable HTTP client and its OAuth requests keep their
 * connections as descriptors (read, poll over many, close, an idle set),
 * spread over several files. A socket pair puts TLS underneath all of that
 * unchanged: the client end behaves like the TCP socket it replaces,
 * including "readable while idle means the server closed it".
 *
 * One thread per connection moves bytes both ways through two fixed
 * buffers, never blocking on one direction while the other could move (a
 * server may answer before it has read the whole request). Bytes are
 * never dropped: what the server sent before it closed is handed over
 * before our end closes. The thread runs with every signal blocked, so
 * signals keep going to the threads that expect them.
 */
#include "net/client_tls.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_CHUNK (64u * 1024u)

typedef struct relay {
    mcp_client_stream *stream;
    int local;            /* our end of the pair */
    char down[RELAY_CHUNK]; /* decrypted, for the local side */
    size_t down_len, down_off;
    char up[RELAY_CHUNK];   /* from the local side, to encrypt */
    size_t up_len, up_off;
    short up_want;        /* what the last TLS write waits for */
    bool remote_open;
} relay;

/* One pass over both directions; true when any byte moved (or an end was
 * reached), false when only waiting can help. *stop is set when the relay
 * is over. */
static bool relay_step(relay *r, bool *stop)
{
    bool moved = false;
    if (r->down_off == r->down_len && r->remote_open) {
        size_t got = 0;
        r->down_len = r->down_off = 0;
        int rc = mcp_client_stream_read(r->stream, r->down, sizeof r->down, 0, &got);
        if (rc == MCP_OK) {
            r->down_len = got;
            moved = true;
        } else if (rc != MCP_ETIMEDOUT) {
            r->remote_open = false; /* end of stream or failure: the local side sees its end */
            moved = true;
        }
    }
    if (r->down_off < r->down_len) {
        ssize_t n = send(r->local, r->down + r->down_off, r->down_len - r->down_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            r->down_off += (size_t)n;
            moved = true;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            *stop = true; /* the local side is gone */
            return true;
        }
    }
    if (!r->remote_open && r->down_off == r->down_len) {
        *stop = true;
        return true;
    }
    if (r->up_off == r->up_len) {
        r->up_len = r->up_off = 0;
        ssize_t n = recv(r->local, r->up, sizeof r->up, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            *stop = true; /* closed by its owner */
            return true;
        }
        if (n > 0) {
            r->up_len = (size_t)n;
            moved = true;
        }
    }
    if (r->up_off < r->up_len) {
        size_t written = 0;
        int rc = mcp_client_stream_write_some(r->stream, r->up + r->up_off, r->up_len - r->up_off, &written,
                                              &r->up_want);
        if (rc != MCP_OK) {
            /* The server cannot take more: drop what waits, and let the
             * local side read whatever came back before it ends. */
            r->up_len = r->up_off = 0;
            r->remote_open = false;
            return true;
        }
        r->up_off += written;
        moved |= written > 0;
    }
    return moved;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int sock = mcp_client_stream_fd(r->stream);
    for (;;) {
        bool stop = false;
        if (relay_step(r, &stop)) {
            if (stop)
                break;
            continue;
        }
        if (mcp_client_stream_buffered(r->stream) && r->down_off == r->down_len)
            continue;
        /* Nothing moved: wait for whichever side can make progress. The
         * local end is always watched, so its close is seen even while a
         * write to the server is stuck. */
        short sock_events = 0;
        if (r->remote_open && r->down_off == r->down_len)
            sock_events |= POLLIN;
        if (r->up_off < r->up_len)
            sock_events |= r->up_want;
        short local_events = 0;
        if (r->down_off < r->down_len)
            local_events |= POLLOUT;
        if (r->up_off == r->up_len)
            local_events |= POLLIN;
        struct pollfd p[2] = {{.fd = r->local, .events = local_events}, {.fd = sock, .events = sock_events}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN) && r->down_off == r->down_len)
            break;
    }
    close(r->local);
    mcp_client_stream_close(r->stream);
    free(r);
    return NULL;
}

int mcp_client_stream_relay(mcp_client_stream *s, int *fd_out)
{
    *fd_out = -1;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        int saved = errno;
        mcp_client_stream_close(s);
        errno = saved;
        return MCP_EIO;
    }
    relay *r = calloc(1, sizeof *r);
    if (!r) {
        close(pair[0]);
        close(pair[1]);
        mcp_client_stream_close(s);
        return MCP_ENOMEM;
    }
    r->stream = s;
    r->local = pair[1];
    r->remote_open = true;
    r->up_want = POLLOUT;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
    pthread_t thread;
    int err = pthread_create(&thread, &attr, relay_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        close(pair[0]);
        close(pair[1]);
        mcp_client_stream_close(s);
        free(r);
        errno = err;
        return MCP_EIO;
    }
    *fd_out = pair[0];
    return MCP_OK;
}
