/* Shared by the tests that run a real server on loopback: a free port, a
 * connect that waits for the server to come up, whole sends and reads until
 * a marker, and the mcpd binary under test ($MCPD_BIN). Include after
 * cmocka.h. */
#ifndef MCP_TEST_LOOPBACK_H
#define MCP_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/base.h"

/* The mcpd binary to spawn, or NULL when $MCPD_BIN names none (also in
 * test_mcpd.h, hence the guard). */
#ifndef TEST_MCPD_BIN_DEFINED
#define TEST_MCPD_BIN_DEFINED
static inline const char *mcpd_bin(void) {
    const char *bin = getenv("MCPD_BIN");
    return bin && *bin && access(bin, X_OK) == 0 ? bin : NULL;
}
#endif

/* A loopback port that was free a moment ago. */
static inline int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Connect to 127.0.0.1:port, retrying for 5 s while the server starts. */
static inline int connect_port(int port) {
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        close(fd);
        usleep(25 * 1000);
    }
    fail_msg("nothing listens on 127.0.0.1:%d", port);
    return -1;
}

static inline void send_all(int fd, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
}

/* Read until `until` appears in what was read, or the peer closes. */
static inline void read_until(int fd, mcp_buf *got, const char *until) {
    while (!got->data || !strstr(got->data, until)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        mcp_buf_append(got, buf, (size_t)r);
    }
}

/* Over a served TCP connection and an HTTP one to http_port, the same
 * echo tool answers: tcp_line is the call with id 1 of "over tcp" (newline
 * framed), http_body the one with id 2 of "over http", POSTed to path.
 * got holds the HTTP reply afterwards. */
static inline void echo_over_tcp_and_http(int tcp, int http, int http_port, const char *path, const char *tcp_line,
                                          const char *http_body, mcp_buf *got) {
    send_all(tcp, tcp_line);
    mcp_buf_reset(got);
    read_until(tcp, got, "\n");
    assert_non_null(strstr(got->data, "\"id\":1"));
    assert_non_null(strstr(got->data, "\"text\":\"over tcp\""));

    char request[1024];
    snprintf(request, sizeof request,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
             "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %zu\r\n\r\n%s",
             path, http_port, strlen(http_body), http_body);
    send_all(http, request);
    mcp_buf_reset(got);
    read_until(http, got, "over http");
    assert_non_null(strstr(got->data, "HTTP/1.1 200"));
    assert_non_null(strstr(got->data, "\"id\":2"));
}

#endif
