/*
 * stdio for the network module: start `mcpd serve --stdio` as a child on a
 * pair of pipes, and drive sequential round trips over them.
 *
 * Sequential means one request in flight: write it, read until its
 * response's newline, next. That is how an editor talks to a local tool
 * server, and its latency is mostly the two pipe wake-ups, so it is what a
 * stdio benchmark should show. The round trip is timed around the write and
 * the read, on this thread.
 */
#include "network.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STDIO_READ_SIZE (64 * 1024)
#define STDIO_REAP_WAIT_MS 5000
#define STDIO_SILENCE_MS 10000

int bench_stdio_spawn_mcpd(const char *exe, pid_t *pid, int *in_fd, int *out_fd) {
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC)) return MCP_EIO;
    if (pipe2(from_child, O_CLOEXEC)) {
        close(to_child[0]);
        close(to_child[1]);
        return MCP_EIO;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    /* Warnings and errors only: the benchmark's own output stays readable,
     * and a failure of the child still shows. */
    char *argv[] = {(char *)exe, "serve", "--stdio", "--log-level", "warning", NULL};
    pid_t child;
    int rc = posix_spawn(&child, exe, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    if (rc) {
        fprintf(stderr, "bench network: cannot start %s serve --stdio: %s\n", exe, strerror(rc));
        close(to_child[1]);
        close(from_child[0]);
        return MCP_EIO;
    }
    *pid = child;
    *in_fd = to_child[1];
    *out_fd = from_child[0];
    return MCP_OK;
}

int bench_stdio_reap(pid_t pid, int in_fd, int out_fd) {
    if (in_fd >= 0) close(in_fd); /* end of input: the server drains and exits */
    int status = 0;
    pid_t got = 0;
    for (int waited = 0; waited < STDIO_REAP_WAIT_MS; waited++) {
        got = waitpid(pid, &status, WNOHANG);
        if (got != 0) break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        got = waitpid(pid, &status, 0);
    }
    if (out_fd >= 0) close(out_fd);
    return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? MCP_OK : MCP_EIO;
}

void bench_net_pin_pid(pid_t pid, int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof set, &set);
}

static int write_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return MCP_ECLOSED;
        p += n;
        len -= (size_t)n;
    }
    return MCP_OK;
}

/* Read until carry holds a complete line; its length (without "\n") goes
 * to *line_len. */
static int read_line(bench_stdio_peer *peer, size_t *line_len) {
    size_t scanned = 0;
    for (;;) {
        const char *nl = peer->carry.len > scanned
                             ? memchr(peer->carry.data + scanned, '\n', peer->carry.len - scanned)
                             : NULL;
        if (nl) {
            *line_len = (size_t)(nl - peer->carry.data);
            return MCP_OK;
        }
        scanned = peer->carry.len;
        if (mcp_buf_reserve(&peer->carry, STDIO_READ_SIZE)) return MCP_ENOMEM;
        /* A server that stops answering fails the run instead of hanging it. */
        struct pollfd p = {.fd = peer->out_fd, .events = POLLIN};
        int ready = poll(&p, 1, STDIO_SILENCE_MS);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            fprintf(stderr, "bench network: no stdio response within %d ms\n", STDIO_SILENCE_MS);
            return MCP_ETIMEDOUT;
        }
        ssize_t n = read(peer->out_fd, peer->carry.data + peer->carry.len, STDIO_READ_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return MCP_ECLOSED;
        peer->carry.len += (size_t)n;
    }
}

static int build_request(bench_stdio_peer *peer, uint64_t id) {
    const bench_net_request *rq = peer->request;
    mcp_buf_reset(&peer->line);
    int rc = mcp_buf_append(&peer->line, rq->prefix, rq->prefix_len);
    if (!rc) rc = mcp_buf_appendf(&peer->line, "%llu", (unsigned long long)id);
    if (!rc) rc = mcp_buf_append(&peer->line, rq->suffix, rq->suffix_len);
    if (!rc) rc = mcp_buf_append_char(&peer->line, '\n');
    return rc;
}

/* Check the response in carry against id, then drop it from carry. */
static int take_response(bench_stdio_peer *peer, size_t len, uint64_t id, mcp_buf *response) {
    uint64_t got;
    size_t n = len && peer->carry.data[len - 1] == '\r' ? len - 1 : len;
    int rc = bench_net_response_id(peer->carry.data, n, &got);
    if (rc || got != id) {
        fprintf(stderr, "bench network: stdio response does not answer id %llu: %.*s\n", (unsigned long long)id,
                (int)(n < 200 ? n : 200), peer->carry.data);
        rc = MCP_EPROTO;
    }
    if (!rc && response) {
        mcp_buf_reset(response);
        rc = mcp_buf_append(response, peer->carry.data, n);
    }
    mcp_buf_consume(&peer->carry, len + 1);
    return rc;
}

int bench_stdio_round_trip(bench_stdio_peer *peer, uint64_t id, mcp_buf *response) {
    size_t len;
    int rc = build_request(peer, id);
    if (!rc) rc = write_all(peer->in_fd, peer->line.data, peer->line.len);
    if (!rc) rc = read_line(peer, &len);
    if (!rc) rc = take_response(peer, len, id, response);
    return rc;
}

int bench_stdio_run(bench_stdio_peer *peer, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    int rc = MCP_OK;
    uint64_t t0 = mcp_now_ns();
    for (uint64_t id = 1; id <= ops && rc == 0; id++) {
        size_t len;
        rc = build_request(peer, id);
        uint64_t a = mcp_now_ns();
        if (!rc) rc = write_all(peer->in_fd, peer->line.data, peer->line.len);
        if (!rc) rc = read_line(peer, &len);
        uint64_t b = mcp_now_ns();
        if (!rc) rc = take_response(peer, len, id, NULL);
        if (!rc && lat) mcp_histogram_record(lat, b - a);
    }
    *elapsed_ns = mcp_now_ns() - t0;
    return rc;
}
