/*
 * test_spawn.h — run a server binary as a child over stdin/stdout pipes
 * and talk newline-delimited JSON to it, with deadlines, for the tests of
 * the example servers.
 */
#ifndef TEST_SPAWN_H
#define TEST_SPAWN_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct child {
    pid_t pid;
    int in;            /* its stdin */
    int out;           /* its stdout */
    char buf[1 << 16];
    size_t len;
} child;

/* The path of an example binary: $MCPD_EXAMPLES_DIR/name, else the
 * examples/ folder beside $MCPD_BIN. Returns false (and says so) if absent. */
static inline bool example_path(const char *name, char *out, size_t size)
{
    const char *dir = getenv("MCPD_EXAMPLES_DIR");
    char tmp[1024];
    if (dir && *dir) {
        snprintf(out, size, "%s/%s", dir, name);
    } else {
        const char *bin = getenv("MCPD_BIN");
        if (!bin) {
            printf("SKIPPED: neither MCPD_EXAMPLES_DIR nor MCPD_BIN is set\n");
            return false;
        }
        snprintf(tmp, sizeof tmp, "%s", bin);
        snprintf(out, size, "%s/examples/%s", dirname(tmp), name);
    }
    if (access(out, X_OK) != 0) {
        printf("SKIPPED: example binary %s not built (include examples/examples.cmake)\n", out);
        return false;
    }
    return true;
}

static inline int child_start(child *c, char *const argv[])
{
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0)
        return -1;
    memset(c, 0, sizeof *c);
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    c->in = to[1];
    c->out = from[0];
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static inline int child_send(child *c, const char *line)
{
    size_t len = strlen(line);
    if (write(c->in, line, len) != (ssize_t)len || write(c->in, "\n", 1) != 1)
        return -1;
    return 0;
}

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next line (malloc'd, no newline) within timeout_ms, or NULL. */
static inline char *child_line(child *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            char *line = strndup(c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return line;
        }
        long long left = deadline - now_ms();
        if (left <= 0 || c->len == sizeof c->buf)
            return NULL;
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t got = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
        if (got <= 0)
            return NULL;
        c->len += (size_t)got;
    }
}

/* The first line that contains needle, within timeout_ms (others dropped). */
static inline char *child_wait_for(child *c, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        char *line = child_line(c, (int)left);
        if (!line)
            return NULL;
        if (strstr(line, needle))
            return line;
        free(line);
    }
}

/* Close its stdin and wait up to timeout_ms for it to exit; the exit status,
 * or -1 (and the child killed) on timeout. */
static inline int child_finish(child *c, int timeout_ms)
{
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    long long deadline = now_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid)
            break;
        if (now_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            close(c->out);
            return -1;
        }
        usleep(5000);
    }
    close(c->out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
