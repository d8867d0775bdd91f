/*
 * test_client_tcp.c — the TCP connector: a real server session on an
 * accepted loopback socket (served by the stdio transport on that socket's
 * descriptor) and the client dialling it; plus address parsing and a
 * refused connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "mcp/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int shout(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    const char *text = mcp_json_str(mcp_json_get(args, "text"), "");
    char upper[128];
    size_t i = 0;
    for (; text[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
    upper[i] = '\0';
    return mcp_call_text(call, "%s", upper);
}

typedef struct tcp_peer {
    int listen_fd;
    int port;
    mcp_server *server;
    int serve_rc;
} tcp_peer;

static void *serve_one(void *arg)
{
    tcp_peer *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) {
        p->serve_rc = -100;
        return NULL;
    }
    p->serve_rc = mcp_serve_stdio_fds(p->server, fd, fd, &(mcp_listen){0});
    close(fd);
    return NULL;
}

static int listen_loopback(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void round_trip(int family, const char *host_fmt, const char *version)
{
    tcp_peer p = {0};
    p.listen_fd = listen_loopback(family, &p.port);
    if (p.listen_fd < 0) {
        fprintf(stderr, "test_client_tcp: no %s loopback here; skipped\n", family == AF_INET ? "IPv4" : "IPv6");
        skip();
        return;
    }
    p.server = mcp_server_new(&(mcp_server_opts){.name = "tcp-test", .version = "1"});
    assert_non_null(p.server);
    assert_int_equal(mcp_server_add_tool(p.server, &(mcp_tool){.name = "shout", .fn = shout}), 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, serve_one, &p), 0);

    char addr[64];
    snprintf(addr, sizeof addr, host_fmt, p.port);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_tcp(addr, NULL, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.transport = t, .protocol_version = version});
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"shout\",\"arguments\":{\"text\":\"quiet\"}}",
                                          NULL, &r),
                     0);
    assert_non_null(strstr(r.json, "\"text\":\"QUIET\""));
    mcp_client_result_free(&r);
    mcp_client_free(c); /* closes the socket: the server sees end of input */
    pthread_join(thread, NULL);
    assert_int_equal(p.serve_rc, 0);
    close(p.listen_fd);
    mcp_server_free(p.server);
}

static void test_tcp_ipv4_modern(void **state)
{
    (void)state;
    round_trip(AF_INET, "127.0.0.1:%d", NULL);
}

static void test_tcp_ipv4_handshake(void **state)
{
    (void)state;
    round_trip(AF_INET, "localhost:%d", "2025-06-18");
}

static void test_tcp_ipv6(void **state)
{
    (void)state;
    round_trip(AF_INET6, "[::1]:%d", NULL);
}

static void test_tcp_bad_addresses(void **state)
{
    (void)state;
    mcp_client_transport *t = NULL;
    static const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:http", "[::1]80", "[::1", "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_connect_tcp(bad[i], NULL, &t), MCP_EINVAL);

    /* A port nobody listens on: bind one, learn it, close it, then dial. */
    int port;
    int fd = listen_loopback(AF_INET, &port);
    assert_true(fd >= 0);
    close(fd);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(mcp_connect_tcp(addr, NULL, &t), MCP_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_ipv4_modern),
        cmocka_unit_test(test_tcp_ipv4_handshake),
        cmocka_unit_test(test_tcp_ipv6),
        cmocka_unit_test(test_tcp_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
