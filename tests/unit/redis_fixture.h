/*
 * A real redis-server for tests and benchmarks: started on a free loopback
 * port with persistence off, killed (SIGKILL) when done or when this
 * process dies, and restartable on the same port to test reconnection.
 *
 *     redis_fixture r;
 *     if (redis_fixture_start(&r, 0) != 0) fail_msg("%s", r.error);
 *     ... 127.0.0.1:r.port ...
 *     redis_fixture_kill(&r);
 *
 * The server binary is $MCP_REDIS_SERVER, or redis-server on PATH. When it
 * is missing, start fails and r.error says how to install it.
 */
#ifndef MCP_TEST_REDIS_FIXTURE_H
#define MCP_TEST_REDIS_FIXTURE_H

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct redis_fixture {
    pid_t pid;
    int port;
    char binary[512];
    char error[512];
} redis_fixture;

static inline int redis_fixture_find_binary(redis_fixture *r) {
    const char *env = getenv("MCP_REDIS_SERVER");
    if (env && *env) {
        snprintf(r->binary, sizeof r->binary, "%s", env);
        if (access(r->binary, X_OK) == 0) return 0;
    }
    const char *path = getenv("PATH");
    char dirs[2048];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(r->binary, sizeof r->binary, "%s/redis-server", d);
        if (access(r->binary, X_OK) == 0) return 0;
    }
    snprintf(r->error, sizeof r->error,
             "redis-server not found (set MCP_REDIS_SERVER or install it: scripts/install-deps.sh, "
             "or apt-get install redis-server)");
    return -1;
}

/* A port nobody listens on now (the kernel's choice for an ephemeral bind). */
static inline int redis_fixture_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline void redis_fixture_sleep_ms(long ms) {
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* 1 when the server answers PING. */
static inline int redis_fixture_ping(int port) {
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){0, 200000});
    int ok = 0;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
        if (rep) freeReplyObject(rep);
    }
    if (c) redisFree(c);
    return ok;
}

/* Starts the server on port (0: a free one) and waits until it answers. */
static inline int redis_fixture_start(redis_fixture *r, int port) {
    r->error[0] = 0;
    r->pid = 0;
    if (!r->binary[0] && redis_fixture_find_binary(r) != 0) return -1;
    r->port = port ? port : redis_fixture_free_port();
    if (r->port <= 0) {
        snprintf(r->error, sizeof r->error, "no free loopback port: %s", strerror(errno));
        return -1;
    }
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", r->port);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        const char *tmp = getenv("TMPDIR");
        execl(r->binary, "redis-server", "--port", port_text, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", "--dir", tmp && *tmp ? tmp : "/tmp", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 500; i++) {
        if (redis_fixture_ping(r->port)) return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            snprintf(r->error, sizeof r->error, "redis-server (%.300s) exited at start, status %d; port %d",
                     r->binary, status, r->port);
            return -1;
        }
        redis_fixture_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    r->pid = 0;
    snprintf(r->error, sizeof r->error, "redis-server did not answer on 127.0.0.1:%d within 5 s", r->port);
    return -1;
}

static inline void redis_fixture_kill(redis_fixture *r) {
    if (r->pid <= 0) return;
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

/* A synchronous connection for checking what the server holds. */
static inline redisContext *redis_fixture_connect(const redis_fixture *r) {
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, (struct timeval){2, 0});
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

#endif
