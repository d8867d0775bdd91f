/* Outgoing TCP connections with a deadline; see connect.h. */
#include "net/connect.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int mcp_net_split_host_port(const char *s, char *host, size_t host_size, const char **port) {
    if (!s) return MCP_EINVAL;
    const char *h = s, *colon;
    size_t hlen;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') return MCP_EINVAL;
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return MCP_EINVAL;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= host_size || colon[1] == '\0') return MCP_EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9') return MCP_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return MCP_OK;
}

/* One address: a non-blocking connect, then wait for it to finish. */
static int connect_address(const struct addrinfo *ai, unsigned timeout_ms, int *fd_out) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) return MCP_EIO;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            int saved = errno;
            close(fd);
            errno = saved;
            return MCP_EIO;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do n = poll(&p, 1, (int)timeout_ms);
        while (n < 0 && errno == EINTR);
        int err = 0;
        socklen_t len = sizeof err;
        if (n == 0) {
            close(fd);
            return MCP_ETIMEDOUT;
        }
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            int saved = err ? err : errno;
            close(fd);
            errno = saved; /* the caller may say why: ECONNREFUSED ... */
            return MCP_EIO;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return MCP_OK;
}

int mcp_net_connect_tcp(const char *host_port, unsigned timeout_ms, int *fd_out) {
    char host[256];
    const char *port;
    if (!fd_out || mcp_net_split_host_port(host_port, host, sizeof host, &port) != 0) return MCP_EINVAL;
    return mcp_net_connect_host(host, port, timeout_ms, fd_out);
}

int mcp_net_connect_host(const char *host, const char *port, unsigned timeout_ms, int *fd_out) {
    if (!host || !port || !fd_out) return MCP_EINVAL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, port, &hints, &list) != 0) return MCP_ENOTFOUND;
    int rc = MCP_EIO;
    int saved = 0;
    for (const struct addrinfo *ai = list; ai && rc != MCP_OK; ai = ai->ai_next) {
        rc = connect_address(ai, timeout_ms, fd_out);
        if (rc != MCP_OK) saved = errno;
    }
    freeaddrinfo(list);
    if (rc != MCP_OK) errno = saved;
    return rc;
}
