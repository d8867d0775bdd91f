/*
 * test_mcpd.h — run the real `mcpd` binary ($MCPD_BIN) as a child for the
 * tests that drive it from outside: find it (or say the test skipped),
 * spawn it with its standard streams on files or descriptors, learn the
 * ports it logged, wait for its exit, and hand a metrics text it served to
 * promtool when that is installed. Include after <cmocka.h>.
 */
#ifndef TEST_MCPD_H
#define TEST_MCPD_H

#include "mcp/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* $MCPD_BIN when it names an executable, else NULL (also in
 * test_loopback.h, hence the guard). */
#ifndef TEST_MCPD_BIN_DEFINED
#define TEST_MCPD_BIN_DEFINED
static inline const char *mcpd_bin(void)
{
    const char *bin = getenv("MCPD_BIN");
    return bin && *bin && access(bin, X_OK) == 0 ? bin : NULL;
}
#endif

/* As mcpd_bin, saying plainly that the test skipped when there is none. */
static inline const char *need_mcpd(void)
{
    const char *bin = mcpd_bin();
    if (!bin)
        printf("SKIPPED: MCPD_BIN is not set to an executable mcpd\n");
    return bin;
}

/* Start argv with stdin from in_fd (or /dev/null), stdout to out_fd, else
 * to the file out_path, else /dev/null, and stderr to the file err_path
 * (or /dev/null). */
static inline pid_t mcpd_spawn(char *const argv[], int in_fd, int out_fd, const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
        int out = out_fd >= 0 ? out_fd : open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* `BIN serve ARGS...` (args NULL-terminated) with the test's own stdout and
 * stderr, for a server a group set-up starts; its pid. */
static inline pid_t mcpd_serve_spawn(const char *bin, const char *const *args)
{
    const char *argv[40] = {bin, "serve"};
    size_t n = 2;
    while (*args && n < sizeof argv / sizeof argv[0] - 1)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* SIGTERM to a server mcpd_serve_spawn started, if it did, and reap it. */
static inline void mcpd_serve_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* Its exit code, or 128 + the signal that ended it. */
static inline int mcpd_wait_exit(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* SIGTERM to a server the test started: it must exit 0; its log goes. */
static inline void mcpd_stop(pid_t pid, const char *err_path)
{
    kill(pid, SIGTERM);
    assert_int_equal(mcpd_wait_exit(pid), 0);
    unlink(err_path);
}

/* A whole file, NUL-terminated (caller frees), or NULL. */
static inline char *mcpd_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mcp_buf b;
    mcp_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mcp_buf_append(&b, chunk, n);
    fclose(f);
    mcp_buf_append_char(&b, '\0');
    return b.data;
}

/* The port mcpd logged to err_path for one listener ("NAME listening on ...
 * (port N"), or for the first one it logged when name is NULL; waits up to
 * 5 s, then 0. */
static inline int mcpd_logged_port(const char *err_path, const char *name)
{
    char needle[32];
    if (name)
        snprintf(needle, sizeof needle, "%s listening on ", name);
    for (int i = 0; i < 100; i++) {
        char *text = mcpd_read_text(err_path);
        char *p = text && name ? strstr(text, needle) : text;
        char *q = p ? strstr(p, "(port ") : NULL;
        int port = q ? atoi(q + 6) : 0;
        free(text);
        if (port > 0)
            return port;
        usleep(50000);
    }
    return 0;
}

/* A connection to 127.0.0.1:port whose reads give up after 5 s, or -1. */
static inline int mcpd_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

/* All of data, or false. */
static inline bool mcpd_send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Everything the peer sends until it closes (or a read times out), NUL-
 * terminated (caller frees); closes fd. */
static inline char *mcpd_recv_to_close(int fd)
{
    mcp_buf b;
    mcp_buf_init(&b);
    char chunk[4096];
    ssize_t got;
    while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0)
        mcp_buf_append(&b, chunk, (size_t)got);
    close(fd);
    mcp_buf_append_char(&b, '\0');
    return b.data;
}

/* A POST /mcp on its own connection (Connection: close): the whole
 * response, headers and body (caller frees). sid may be NULL. */
static inline char *mcpd_post(int port, const char *sid, const char *body)
{
    int fd = mcpd_connect(port);
    assert_true(fd >= 0);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\nConnection: close\r\n"
                     "%s%s%sContent-Length: %zu\r\n\r\n",
                     port, sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "", strlen(body));
    assert_true(mcpd_send_all(fd, head, (size_t)n) && mcpd_send_all(fd, body, strlen(body)));
    return mcpd_recv_to_close(fd);
}

#define MCPD_INIT_BODY                                                                                             \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"                     \
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"raw\",\"version\":\"1\"}}}"

/* The status code of an HTTP/1.1 response, or -1. */
static inline int mcpd_status_of(const char *response)
{
    return strncmp(response, "HTTP/1.1 ", 9) == 0 ? atoi(response + 9) : -1;
}

/* A handshake-era session over HTTP: initialize (200) and
 * notifications/initialized (202); the session id into sid. */
static inline void mcpd_open_session(int port, char sid[33])
{
    char *r = mcpd_post(port, NULL, MCPD_INIT_BODY);
    assert_int_equal(mcpd_status_of(r), 200);
    const char *h = strstr(r, "Mcp-Session-Id: ");
    assert_non_null(h);
    snprintf(sid, 33, "%.32s", h + 16);
    free(r);
    r = mcpd_post(port, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(mcpd_status_of(r), 202);
    free(r);
}

/* A GET stream for the session, left open; the socket. */
static inline int mcpd_open_get(int port, const char *sid)
{
    int fd = mcpd_connect(port);
    assert_true(fd >= 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n"
                     "Mcp-Session-Id: %s\r\n\r\n",
                     port, sid);
    assert_true(mcpd_send_all(fd, req, (size_t)n));
    return fd;
}

/* promtool's verdict on a metrics text, which must be clean; when promtool
 * is absent, says the text was checked by content only. */
static inline void promtool_check(const char *text)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        printf("promtool not installed: metrics text checked by content only\n");
        return;
    }
    char path[] = "/tmp/mcpd-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
}

#endif
