/*
 * The stdio transport: newline-delimited JSON on a pair of descriptors
 * (stdin/stdout for `mcpd serve --stdio`, pipes in tests).
 *
 * A plain blocking loop, one thread: read, frame with mcp_ndjson, hand each
 * line to the session. It needs no event loop because a stdio server has
 * exactly one peer; the libuv runtime is for the network transports.
 *
 * Output comes from two places: the reading thread (synchronous replies and
 * our own error for oversized lines) and whatever thread completes an
 * asynchronous handler. Every message is written whole, message and '\n'
 * under one mutex, so lines from different threads never interleave. A
 * write blocks until the peer reads; that is the back-pressure a stdio peer
 * gets. Once the output side fails (the peer went away) further messages are
 * dropped and counted, and reading stops at the next line: nobody would
 * see the answers.
 */
#include "net/net_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define STDIO_READ_SIZE (64 * 1024)

typedef struct stdio_out {
    int fd;
    pthread_mutex_t lock;
    bool broken; /* a write failed; everything after is dropped */
    mcp_stdio_counters *counters;
} stdio_out;

/* Wait until fd is ready; used when a descriptor we were given is in
 * non-blocking mode (a shell may hand us one). */
static int wait_ready(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n >= 0) return 0;
        if (errno != EINTR) return MCP_EIO;
    }
}

/* Write all of iov, resuming after partial writes, EINTR and EAGAIN. */
static int write_all(int fd, struct iovec *iov, int iovcnt) {
    while (iovcnt > 0) {
        ssize_t n = writev(fd, iov, iovcnt);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_ready(fd, POLLOUT)) return MCP_EIO;
                continue;
            }
            return errno == EPIPE ? MCP_ECLOSED : MCP_EIO;
        }
        size_t done = (size_t)n;
        while (iovcnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* Write one message followed by '\n' (text may already end with one). */
static int stdio_out_line(stdio_out *out, const char *text, size_t len) {
    struct iovec iov[2] = {{.iov_base = (void *)text, .iov_len = len}, {.iov_base = "\n", .iov_len = 1}};
    int iovcnt = len && text[len - 1] == '\n' ? 1 : 2;
    pthread_mutex_lock(&out->lock);
    int rc = MCP_ECLOSED;
    if (!out->broken) {
        rc = write_all(out->fd, iov, iovcnt);
        if (rc) {
            out->broken = true;
            mcp_log(MCP_LOG_WARNING, "stdio: output closed (%s); dropping further messages",
                    rc == MCP_ECLOSED ? "peer went away" : strerror(errno));
        }
    }
    if (rc == 0) {
        mcp_net_count(&out->counters->messages_out, 1);
        mcp_net_count(&out->counters->bytes_out, len + (iovcnt == 2));
    } else {
        mcp_net_count(&out->counters->output_dropped, 1);
    }
    pthread_mutex_unlock(&out->lock);
    return rc;
}

static int stdio_sink_write(void *user, const char *message, size_t len) {
    return stdio_out_line(user, message, len);
}

static bool stdio_out_broken(stdio_out *out) {
    pthread_mutex_lock(&out->lock);
    bool broken = out->broken;
    pthread_mutex_unlock(&out->lock);
    return broken;
}

/* Answer a line that was too long and count it. The line is never stored:
 * the framer skips the rest of it as it arrives. */
static void stdio_reject_oversized(stdio_out *out, size_t limit) {
    mcp_buf msg;
    mcp_buf_init(&msg);
    if (mcp_ndjson_oversized_error(&msg, limit) == 0) stdio_out_line(out, msg.data, msg.len);
    mcp_buf_free(&msg);
    mcp_log(MCP_LOG_WARNING, "stdio: dropped a message over the %zu byte limit", limit);
}

/* Hand every complete line in *input to the session. Returns 0, or a
 * negative code when serving must stop. */
static int stdio_dispatch(mcp_session *session, mcp_ndjson *framer, stdio_out *out, mcp_str *input,
                          bool at_eof) {
    for (;;) {
        mcp_str line;
        int r = at_eof ? mcp_ndjson_finish(framer, &line) : mcp_ndjson_next(framer, input, &line);
        if (r == MCP_NDJSON_MORE) return 0;
        if (r < 0) return r;
        if (r == MCP_NDJSON_OVERSIZED) {
            mcp_net_count(&out->counters->oversized, 1);
            stdio_reject_oversized(out, framer->max_line);
        } else {
            mcp_net_count(&out->counters->messages_in, 1);
            static const mcp_transport_info info = {.transport = "pipe"};
            int rc = mcp_session_handle_from(session, line.ptr, line.len, &info);
            if (rc < 0) return rc;
        }
        if (at_eof) return 0;
    }
}

/* A peer that closes its end of our output must not kill the process with
 * SIGPIPE; we want EPIPE and a clean shutdown. Only a default disposition is
 * replaced, so an application's own handler stays. */
static void stdio_ignore_sigpipe(void) {
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, NULL);
    }
}

int mcp_serve_stdio_counted(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen,
                            mcp_stdio_counters *counters) {
    if (!server || in_fd < 0 || out_fd < 0) return MCP_EINVAL;
    mcp_stdio_counters local;
    memset(&local, 0, sizeof local);
    stdio_ignore_sigpipe();

    /* The caller's counters are kept live (relaxed atomic stores, one
     * writer at a time) so that a /metrics scrape can read them mid-run. */
    stdio_out out = {.fd = out_fd, .counters = counters ? counters : &local};
    if (counters) memset(counters, 0, sizeof *counters);
    pthread_mutex_init(&out.lock, NULL);
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, listen ? listen->max_message_size : 0);
    char *buf = malloc(STDIO_READ_SIZE);
    mcp_sink sink = {.write = stdio_sink_write, .user = &out};
    mcp_session *session = buf ? mcp_session_new(server, &sink) : NULL;
    int rc = session ? 0 : MCP_ENOMEM;

    while (rc == 0 && !stdio_out_broken(&out)) {
        ssize_t n = read(in_fd, buf, STDIO_READ_SIZE);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rc = wait_ready(in_fd, POLLIN);
                continue;
            }
            mcp_log(MCP_LOG_ERROR, "stdio: read failed: %s", strerror(errno));
            rc = MCP_EIO;
            break;
        }
        if (n == 0) {
            mcp_str none = {buf, 0};
            rc = stdio_dispatch(session, &framer, &out, &none, true);
            break;
        }
        mcp_net_count(&out.counters->bytes_in, (uint64_t)n);
        mcp_str input = {buf, (size_t)n};
        rc = stdio_dispatch(session, &framer, &out, &input, false);
    }

    /* At end of input, calls still running are answered, not cancelled: a
     * client may write its requests and close stdin at once. Their replies
     * go out through the sink, which is alive until here. If the output
     * broke, nobody can read an answer, so free cancels them instead. */
    if (session && rc == 0 && !stdio_out_broken(&out)) mcp_session_drain(session, 0);
    if (session) mcp_session_free(session);
    if (rc == 0 && out.broken) rc = MCP_ECLOSED; /* already logged when it broke */
    else if (rc) mcp_log(MCP_LOG_ERROR, "stdio: serving stopped: %s", mcp_strerror(rc));
    mcp_log(MCP_LOG_DEBUG,
            "stdio: closed after %llu messages in, %llu out, %llu oversized, %llu dropped",
            (unsigned long long)out.counters->messages_in, (unsigned long long)out.counters->messages_out,
            (unsigned long long)out.counters->oversized, (unsigned long long)out.counters->output_dropped);
    mcp_ndjson_free(&framer);
    free(buf);
    pthread_mutex_destroy(&out.lock);
    return rc;
}

int mcp_serve_stdio_fds(mcp_server *server, int in_fd, int out_fd, const mcp_listen *listen) {
    return mcp_serve_stdio_counted(server, in_fd, out_fd, listen, NULL);
}
