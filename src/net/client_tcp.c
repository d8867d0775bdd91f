/*
 * client_tcp.c — the client connector for newline-delimited JSON over TCP:
 * resolve HOST:PORT, connect with a deadline, then hand the socket to the
 * descriptor channel of client_stdio.c.
 */
#include "mcp/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000u

/* Split "host:port" or "[v6]:port" into its parts. */
static int split_host_port(const char *s, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return MCP_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return MCP_EINVAL;
        hlen = (size_t)(colon - s);
    }
    size_t plen = strlen(colon + 1);
    if (hlen == 0 || hlen >= host_size || plen == 0 || plen >= port_size)
        return MCP_EINVAL;
    for (size_t i = 0; i < plen; i++)
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return MCP_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    return 0;
}

static int connect_one(const struct addrinfo *ai, unsigned timeout_ms, int *out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return MCP_EIO;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do
            n = poll(&p, 1, (int)timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            close(fd);
            return MCP_ETIMEDOUT;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            close(fd);
            errno = err ? err : errno; /* callers may report why */
            return MCP_EIO;
        }
    } else if (rc != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return MCP_EIO;
    }
    /* Back to blocking: the channel polls before it reads. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *out = fd;
    return 0;
}

int mcp_connect_tcp(const char *host_port, const mcp_connect_opts *opts, mcp_client_transport **out)
{
    if (!host_port || !out)
        return MCP_EINVAL;
    char host[256], port[16];
    if (split_host_port(host_port, host, sizeof host, port, sizeof port) != 0)
        return MCP_EINVAL;
    unsigned timeout = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms
                                                        : DEFAULT_CONNECT_TIMEOUT_MS;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, port, &hints, &list) != 0)
        return MCP_ENOTFOUND;
    int rc = MCP_EIO;
    int fd = -1;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        rc = connect_one(ai, timeout, &fd);
        if (rc == 0)
            break;
    }
    freeaddrinfo(list);
    if (rc != 0)
        return rc;
    rc = mcp_connect_fds(fd, fd, opts, out);
    if (rc != 0)
        close(fd);
    return rc;
}
