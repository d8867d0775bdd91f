/*
 * client_stdio.c — client connectors over descriptors: a spawned child
 * process speaking MCP on its stdin/stdout, and the newline-delimited JSON
 * channel over any descriptor pair that it and the TCP connector share.
 *
 * Blocking I/O with poll(): the client's blocking API waits on one channel
 * from one thread, so an event loop buys nothing here yet. Writes to a pipe
 * whose reader died would raise SIGPIPE and kill a process that did not ask
 * for it, so each write blocks SIGPIPE for the calling thread and swallows
 * the pending signal afterwards; EPIPE then reads as a closed channel.
 */
#include "mcp/client.h"
#include "net/connect.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
#define DEFAULT_GRACE_MS 2000u
#define READ_CHUNK 65536u

typedef struct fd_channel {
    mcp_client_transport base;
    int in_fd;
    int out_fd;
    bool is_socket;
    bool eof;
    bool skipping;        /* inside a line over the limit: drop bytes to its end */
    size_t max_message;
    size_t scanned;       /* bytes of rbuf already searched for a newline */
    mcp_buf rbuf;
    /* stdio child */
    pid_t pid;
    unsigned grace_ms;
} fd_channel;

static int write_all(fd_channel *ch, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (ch->is_socket)
            n = send(ch->out_fd, data, len, MSG_NOSIGNAL);
        else
            n = write(ch->out_fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE ? MCP_ECLOSED : MCP_EIO;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int channel_send(mcp_client_transport *t, const char *message, size_t len)
{
    fd_channel *ch = (fd_channel *)t;
    if (ch->out_fd < 0)
        return MCP_ECLOSED;
    sigset_t block, old;
    if (!ch->is_socket) {
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &block, &old);
    }
    /* One buffer so that the message and its newline leave in one write. */
    mcp_buf line;
    mcp_buf_init(&line);
    int rc = mcp_buf_reserve(&line, len + 1);
    if (rc == 0) {
        mcp_buf_append(&line, message, len);
        mcp_buf_append_char(&line, '\n');
        rc = write_all(ch, line.data, line.len);
    }
    mcp_buf_free(&line);
    if (!ch->is_socket) {
        if (rc == MCP_ECLOSED) {
            struct timespec zero = {0, 0};
            sigtimedwait(&block, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return rc;
}

/* Take one complete line out of rbuf into msg. Returns 0, MCP_ELIMIT for a
 * dropped oversized line, or MCP_EAGAIN when no full line is buffered. */
static int take_line(fd_channel *ch, mcp_buf *msg)
{
    for (;;) {
        char *start = ch->rbuf.data;
        char *nl = ch->rbuf.len > ch->scanned
                       ? memchr(start + ch->scanned, '\n', ch->rbuf.len - ch->scanned)
                       : NULL;
        if (!nl) {
            ch->scanned = ch->rbuf.len;
            if (ch->rbuf.len > ch->max_message) {
                /* Too long already: forget it and drop bytes up to its newline. */
                ch->skipping = true;
                mcp_buf_reset(&ch->rbuf);
                ch->scanned = 0;
            }
            return MCP_EAGAIN;
        }
        size_t line_len = (size_t)(nl - start);
        size_t consumed = line_len + 1;
        if (line_len > 0 && start[line_len - 1] == '\r')
            line_len--;
        if (ch->skipping) {
            ch->skipping = false;
            mcp_buf_consume(&ch->rbuf, consumed);
            ch->scanned = 0;
            return MCP_ELIMIT;
        }
        if (line_len > ch->max_message) {
            mcp_buf_consume(&ch->rbuf, consumed);
            ch->scanned = 0;
            return MCP_ELIMIT;
        }
        size_t blank = 0;
        while (blank < line_len && (start[blank] == ' ' || start[blank] == '\t'))
            blank++;
        if (blank == line_len) {
            mcp_buf_consume(&ch->rbuf, consumed);
            ch->scanned = 0;
            continue;
        }
        mcp_buf_reset(msg);
        int rc = mcp_buf_append(msg, start, line_len);
        mcp_buf_consume(&ch->rbuf, consumed);
        ch->scanned = 0;
        return rc;
    }
}

static int channel_recv(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms)
{
    fd_channel *ch = (fd_channel *)t;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int rc = take_line(ch, msg);
        if (rc != MCP_EAGAIN)
            return rc;
        if (ch->eof || ch->in_fd < 0)
            return MCP_ECLOSED;   /* a final line without a newline is incomplete: dropped */
        int wait = mcp_net_ms_left(deadline);
        struct pollfd p = {.fd = ch->in_fd, .events = POLLIN};
        int n = poll(&p, 1, wait);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MCP_EIO;
        }
        if (n == 0)
            return MCP_ETIMEDOUT;
        if (mcp_buf_reserve(&ch->rbuf, READ_CHUNK) != 0)
            return MCP_ENOMEM;
        ssize_t got = read(ch->in_fd, ch->rbuf.data + ch->rbuf.len, READ_CHUNK);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == ECONNRESET) {
                ch->eof = true;
                continue;
            }
            return MCP_EIO;
        }
        if (got == 0) {
            ch->eof = true;
            continue;
        }
        ch->rbuf.len += (size_t)got;
        ch->rbuf.data[ch->rbuf.len] = '\0';
    }
}

/* Wait up to ms for the child to exit; true when it has been reaped. */
static bool reap_within(pid_t pid, unsigned ms)
{
    uint64_t deadline = mcp_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        if (mcp_now_ns() >= deadline)
            return false;
        struct timespec nap = {0, 10 * 1000000};
        nanosleep(&nap, NULL);
    }
}

static void channel_close(mcp_client_transport *t)
{
    fd_channel *ch = (fd_channel *)t;
    /* Closing the child's stdin is the polite stop: a stdio server exits at EOF. */
    if (ch->out_fd >= 0 && ch->out_fd != ch->in_fd)
        close(ch->out_fd);
    if (ch->pid > 0) {
        if (!reap_within(ch->pid, ch->grace_ms)) {
            kill(ch->pid, SIGTERM);
            if (!reap_within(ch->pid, ch->grace_ms)) {
                kill(ch->pid, SIGKILL);
                waitpid(ch->pid, NULL, 0);
            }
        }
    }
    if (ch->in_fd >= 0)
        close(ch->in_fd);
    mcp_buf_free(&ch->rbuf);
    free(ch);
}

static fd_channel *channel_new(int in_fd, int out_fd, const mcp_connect_opts *opts)
{
    fd_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->base.send = channel_send;
    ch->base.recv = channel_recv;
    ch->base.close = channel_close;
    ch->in_fd = in_fd;
    ch->out_fd = out_fd;
    ch->max_message = opts && opts->max_message_size ? opts->max_message_size : DEFAULT_MAX_MESSAGE;
    ch->grace_ms = opts && opts->grace_ms ? opts->grace_ms : DEFAULT_GRACE_MS;
    int type = 0;
    socklen_t type_len = sizeof type;
    ch->is_socket = getsockopt(out_fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0;
    mcp_buf_init(&ch->rbuf);
    return ch;
}

int mcp_connect_fds(int in_fd, int out_fd, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (in_fd < 0 || out_fd < 0 || !out)
        return MCP_EINVAL;
    fd_channel *ch = channel_new(in_fd, out_fd, opts);
    if (!ch)
        return MCP_ENOMEM;
    *out = &ch->base;
    return 0;
}

int mcp_connect_stdio(char *const argv[], const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!argv || !argv[0] || !out)
        return MCP_EINVAL;
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0)
        return MCP_EIO;
    if (pipe2(from_child, O_CLOEXEC) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return MCP_EIO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], STDOUT_FILENO);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(to_child[0]);
    close(from_child[1]);
    if (err != 0) {
        close(to_child[1]);
        close(from_child[0]);
        errno = err;
        return err == ENOENT || err == EACCES ? MCP_ENOTFOUND : MCP_EIO;
    }
    fd_channel *ch = channel_new(from_child[0], to_child[1], opts);
    if (!ch) {
        close(to_child[1]);
        close(from_child[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return MCP_ENOMEM;
    }
    ch->pid = pid;
    *out = &ch->base;
    return 0;
}
