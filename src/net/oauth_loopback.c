/*
 * oauth_loopback.c — where the browser comes back to: a listener on
 * 127.0.0.1 for the redirect of the authorization code flow (RFC 8252
 * 7.3, loopback interface redirection).
 *
 * Only the loopback address is ever bound, so nothing off the machine can
 * deliver a code. The wait is bounded (a person may take minutes, not
 * forever); each connection gets its own short deadline, so a client that
 * connects and says nothing cannot hold the receiver. Requests for any
 * other path (a browser asking for /favicon.ico) get 404 and the wait goes
 * on. The code itself is checked by the flow (state, iss), not here.
 */
#include "net/oauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_WAIT_MS 300000u
#define REQUEST_MS 5000
#define MAX_REQUEST 8192

struct mcp_oauth_loopback {
    int fd;
    unsigned timeout_ms;
    void (*show)(void *user, const char *authorization_url);
    void *user;
    char path[256];
    char uri[320];
};

static void say(char *why, size_t size, const char *fmt, const char *arg)
{
    if (why && size)
        snprintf(why, size, fmt, arg);
}

int mcp_oauth_loopback_open(const mcp_oauth_loopback_opts *opts, mcp_oauth_loopback **out, char *why,
                            size_t why_size)
{
    *out = NULL;
    unsigned port = 0;
    const char *path = "/callback";
    const char *given = opts ? opts->redirect_uri : NULL;
    if (given) {
        const char *prefix = "http://127.0.0.1:";
        char *end = NULL;
        if (strncmp(given, prefix, strlen(prefix)) != 0 ||
            (port = (unsigned)strtoul(given + strlen(prefix), &end, 10)) == 0 || port > 65535 ||
            (*end != '/' && *end != '\0') || strlen(end) >= 256 || strpbrk(end, "?# \t\r\n")) {
            say(why, why_size, "the loopback redirect URI must be http://127.0.0.1:PORT/PATH, not '%s'", given);
            return MCP_EINVAL;
        }
        path = *end ? end : "/";
    }
    mcp_oauth_loopback *lb = calloc(1, sizeof *lb);
    if (!lb)
        return MCP_ENOMEM;
    lb->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_WAIT_MS;
    lb->show = opts ? opts->show : NULL;
    lb->user = opts ? opts->user : NULL;
    snprintf(lb->path, sizeof lb->path, "%s", path);
    lb->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1;
    /* A fixed port can be taken again at once after a run (TIME_WAIT). */
    if (lb->fd >= 0)
        setsockopt(lb->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lb->fd < 0 || bind(lb->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lb->fd, 8) != 0 ||
        getsockname(lb->fd, (struct sockaddr *)&a, &len) != 0) {
        say(why, why_size, "cannot listen on 127.0.0.1 for the redirect: %s", strerror(errno));
        mcp_oauth_loopback_close(lb);
        return MCP_EIO;
    }
    snprintf(lb->uri, sizeof lb->uri, "http://127.0.0.1:%u%s", (unsigned)ntohs(a.sin_port), lb->path);
    *out = lb;
    return 0;
}

const char *mcp_oauth_loopback_uri(const mcp_oauth_loopback *lb)
{
    return lb ? lb->uri : NULL;
}

void mcp_oauth_loopback_close(mcp_oauth_loopback *lb)
{
    if (!lb)
        return;
    if (lb->fd >= 0)
        close(lb->fd);
    free(lb);
}

static void reply(int fd, const char *status, const char *text)
{
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\nCache-Control: no-store\r\n\r\n%s",
                     status, strlen(text), text);
    (void)!send(fd, out, (size_t)n, MSG_NOSIGNAL);
}

/* Read one request head; true when it is a GET of our path (its target
 * then in target). */
static bool read_redirect(mcp_oauth_loopback *lb, int fd, mcp_buf *target)
{
    char req[MAX_REQUEST + 1];
    size_t len = 0;
    uint64_t deadline = mcp_now_ns() + (uint64_t)REQUEST_MS * 1000000u;
    while (len < MAX_REQUEST && !memmem(req, len, "\r\n\r\n", 4)) {
        uint64_t now = mcp_now_ns();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) <= 0)
            return false;
        ssize_t n = recv(fd, req + len, MAX_REQUEST - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    req[len] = '\0';
    if (strncmp(req, "GET ", 4) != 0) {
        reply(fd, "405 Method Not Allowed", "Only the authorization redirect is served here.\n");
        return false;
    }
    const char *t = req + 4;
    size_t tlen = strcspn(t, " \r\n");
    size_t plen = strcspn(t, "?# \r\n");
    if (plen != strlen(lb->path) || strncmp(t, lb->path, plen) != 0) {
        reply(fd, "404 Not Found", "Not found.\n");
        return false;
    }
    mcp_buf_append(target, t, tlen);
    reply(fd, "200 OK", "mcpd received the authorization response. You may close this window.\n");
    return true;
}

int mcp_oauth_loopback_authorize(void *user, const char *authorization_url, const char *redirect_uri,
                                 mcp_buf *redirected_to)
{
    mcp_oauth_loopback *lb = user;
    (void)redirect_uri;
    if (!lb || lb->fd < 0)
        return MCP_EINVAL;
    if (lb->show)
        lb->show(lb->user, authorization_url);
    uint64_t deadline = mcp_now_ns() + (uint64_t)lb->timeout_ms * 1000000u;
    mcp_buf target;
    mcp_buf_init(&target);
    int rc = MCP_ETIMEDOUT;
    for (;;) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = lb->fd, .events = POLLIN};
        int got = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
        if (got < 0 && errno != EINTR) {
            rc = MCP_EIO;
            break;
        }
        if (got <= 0)
            continue;
        int fd = accept4(lb->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        mcp_buf_reset(&target);
        bool done = read_redirect(lb, fd, &target);
        close(fd);
        if (done) {
            /* The URL the browser was sent to, as the flow reads it. */
            char base[64];
            size_t host_end = strlen(lb->uri) - strlen(lb->path);
            snprintf(base, sizeof base, "%.*s", (int)host_end, lb->uri);
            mcp_buf_append_cstr(redirected_to, base);
            mcp_buf_append(redirected_to, target.data, target.len);
            rc = 0;
            break;
        }
    }
    mcp_buf_free(&target);
    return rc;
}
