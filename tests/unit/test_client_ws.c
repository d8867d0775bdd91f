/*
 * test_client_ws.c — the WebSocket connector. Against the mcpd binary as a
 * user runs it ($MCPD_BIN serve --ws on a loopback port): both eras with
 * tools/list, tools/call, progress and cancellation, a wrong path refused
 * with 404, `mcpd call ws://...`, a server draining on SIGTERM, and IPv6. Against a scripted peer on a loopback
 * socket (frames written byte by byte here): masking of what we send, ping
 * answered with pong, a fragmented message with a ping between its
 * fragments, a message over the size limit dropped, the server's close
 * frame echoed, and a 101 whose Sec-WebSocket-Accept is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_mcpd_server.h"

#include "mcp/client.h"
#include "net/ws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int start_server(void **state)
{
    (void)state;
    mcpd_server_start(&server, "--ws");
    return 0;
}

/* Dial the mcpd server at path; retries while it may still be starting. */
static int dial(const char *path, mcp_client_transport **t, char *why, size_t why_size)
{
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", server.port, path);
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        rc = mcp_connect_ws(url, NULL, t, why, why_size);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    return rc;
}

static mcp_client *connect_era(const char *version)
{
    if (server.pid <= 0) {
        skip();
        return NULL;
    }
    mcp_client_transport *t = NULL;
    char why[256];
    int rc = dial("/mcp", &t, why, sizeof why);
    if (rc != 0)
        fail_msg("connect: %d %s", rc, why);
    mcp_client *c = client_connected(t, version);
    return c;
}

static void run_era(const char *version, const char *want_version)
{
    mcp_client *c = connect_era(version);
    mcpd_expect_basics(c, want_version);
    mcp_client_result r;
    /* A large message crosses in one frame each way (over 64 KiB). */
    size_t big = 100 * 1024;
    char *params = big_echo_params(big, 'x');
    assert_int_equal(mcp_client_call_sync(c, "tools/call", params, NULL, &r), 0);
    assert_non_null(strstr(r.json, "xxxxxxxxxxxxxxxx"));
    assert_true(r.len > big);
    mcp_client_result_free(&r);
    free(params);
    client_expect(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"still here\"}}", "still here");
    mcp_client_free(c);
}

static void handshake_era(void **state)
{
    (void)state;
    run_era("2025-11-25", "2025-11-25");
}

static void modern_era_by_discovery(void **state)
{
    (void)state;
    run_era(NULL, "2026-07-28");
}

/* The server answers on /mcp only: another path is refused with 404, and
 * a URL without a path means /mcp. */
static void path_selects_the_endpoint(void **state)
{
    (void)state;
    if (server.pid <= 0)
        skip();
    mcp_client_transport *t = NULL;
    char why[256];
    assert_int_equal(dial("/nope", &t, why, sizeof why), MCP_ENOTFOUND);
    assert_null(t);
    assert_non_null(strstr(why, "404"));
    int rc = dial("", &t, why, sizeof why);
    if (rc != 0)
        fail_msg("connect: %d %s", rc, why);
    mcp_client *c = client_connected(t, "2025-11-25");
    client_expect(c, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}", "\"sum\":3");
    mcp_client_free(c);
}

static void bad_urls(void **state)
{
    (void)state;
    mcp_client_transport *t = NULL;
    char why[256];
    assert_int_equal(mcp_connect_ws("http://127.0.0.1:1/mcp", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_non_null(strstr(why, "wss://"));
    assert_int_equal(mcp_connect_ws("ws://127.0.0.1:/mcp", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_int_equal(mcp_connect_ws("ws://127.0.0.1:8x/mcp", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_int_equal(mcp_connect_ws("wss://[::1/mcp", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_int_equal(mcp_connect_ws("ws://user@127.0.0.1:1/mcp", NULL, &t, why, sizeof why), MCP_EINVAL);
    assert_int_equal(mcp_connect_ws("ws://", NULL, &t, NULL, 0), MCP_EINVAL);
    /* What would break the request line of the upgrade. */
    assert_int_equal(mcp_connect_ws("ws://127.0.0.1:1/a b", NULL, &t, NULL, 0), MCP_EINVAL);
    assert_int_equal(mcp_connect_ws("ws://127.0.0.1:1/mcp\r\nX: y", NULL, &t, NULL, 0), MCP_EINVAL);
    /* wss:// is dialled (TLS lives in test_client_tls.c): nothing listens on port 1. */
    assert_int_equal(mcp_connect_ws("wss://127.0.0.1:1/mcp", NULL, &t, why, sizeof why), MCP_EIO);
    assert_null(t);
}

static void mcpd_call_over_ws(void **state)
{
    (void)state;
    if (server.pid <= 0)
        skip();
    /* The server is up: the era tests connected before this one. */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "\"%s\" call --compact ws://127.0.0.1:%d/mcp tools/call "
             "'{\"name\":\"add\",\"arguments\":{\"a\":20,\"b\":22}}' 2>&1",
             getenv("MCPD_BIN"), server.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "\"sum\":42"));

    snprintf(cmd, sizeof cmd, "\"%s\" call ws://127.0.0.1:%d/elsewhere tools/list 2>&1", getenv("MCPD_BIN"),
             server.port);
    p = popen(cmd, "r");
    assert_non_null(p);
    got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    assert_non_null(strstr(out, "404"));
}

/* A second server of our own, on addr, stopped by SIGTERM while a client
 * is connected: its drain closes the WebSocket and the client sees the end. */
static pid_t spawn_server(const char *addr)
{
    const char *bin = getenv("MCPD_BIN");
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "serve", "--ws", addr, "--workers", "1", "--log-level", "error", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static mcp_client *connect_url(const char *url)
{
    mcp_client_transport *t = NULL;
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc == MCP_EIO; i++) {
        rc = mcp_connect_ws(url, NULL, &t, NULL, 0);
        if (rc == MCP_EIO)
            usleep(25 * 1000);
    }
    assert_int_equal(rc, 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.transport = t, .timeout_ms = 10000, .no_cache = true});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    return c;
}

static void server_drain_closes_the_client(void **state)
{
    (void)state;
    if (server.pid <= 0)
        skip();
    int port = free_port();
    char addr[64], url[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(url, sizeof url, "ws://%s/mcp", addr);
    pid_t pid = spawn_server(addr);
    assert_true(pid > 0);
    mcp_client *c = connect_url(url);
    client_expect(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"before\"}}", "before");
    kill(pid, SIGTERM);
    int rc = MCP_ETIMEDOUT;
    for (int i = 0; i < 100 && rc != MCP_ECLOSED; i++)
        rc = mcp_client_pump(c, 100);
    assert_int_equal(rc, MCP_ECLOSED);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(c, "tools/list", NULL, NULL, &r), MCP_ECLOSED);
    mcp_client_result_free(&r);
    mcp_client_free(c);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
}

/* IPv6 loopback, when the machine has it. */
static void ipv6_loopback(void **state)
{
    (void)state;
    if (server.pid <= 0)
        skip();
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (probe < 0 || bind(probe, (struct sockaddr *)&a, sizeof a) != 0) {
        if (probe >= 0)
            close(probe);
        fprintf(stderr, "skipped: no IPv6 loopback\n");
        skip();
    }
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &len), 0);
    close(probe);
    char addr[64], url[96];
    snprintf(addr, sizeof addr, "[::1]:%d", ntohs(a.sin6_port));
    snprintf(url, sizeof url, "ws://%s/mcp", addr);
    pid_t pid = spawn_server(addr);
    assert_true(pid > 0);
    mcp_client *c = connect_url(url);
    client_expect(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"over v6\"}}", "over v6");
    mcp_client_free(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* ---- A scripted peer ----------------------------------------------------------------- */
typedef struct peer {
    int listen_fd;
    int port;
    bool bad_accept;
    /* what the peer saw from the client */
    char text[64];        /* the client's text message, unmasked */
    bool text_masked;
    char pongs[2][8];
    int pong_count;
    int close_code;       /* of the client's close frame; -1: none */
    int failures;
} peer;

static int read_exact(int fd, void *buf, size_t len)
{
    size_t have = 0;
    while (have < len) {
        ssize_t n = recv(fd, (char *)buf + have, len - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return 0;
}

/* One client frame (payload under 1 KiB here), unmasked into out. */
static int read_frame(int fd, int *opcode, bool *masked, char *out, size_t *len)
{
    unsigned char h[2], mask[4];
    if (read_exact(fd, h, 2) != 0)
        return -1;
    *opcode = h[0] & 0x0f;
    *masked = h[1] & 0x80;
    *len = h[1] & 0x7f;
    if (*len == 126) {
        unsigned char ext[2];
        if (read_exact(fd, ext, 2) != 0)
            return -1;
        *len = ((size_t)ext[0] << 8) | ext[1];
    }
    if (*len >= 1024 || !*masked || read_exact(fd, mask, 4) != 0 || read_exact(fd, out, *len) != 0)
        return -1;
    for (size_t i = 0; i < *len; i++)
        out[i] = (char)(out[i] ^ mask[i & 3]);
    out[*len] = '\0';
    return 0;
}

static void put_frame(mcp_buf *b, int first, const char *payload, size_t len)
{
    unsigned char h[10] = {(unsigned char)first};
    if (len < 126) {
        h[1] = (unsigned char)len;
        mcp_buf_append(b, h, 2);
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        mcp_buf_append(b, h, 4);
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        mcp_buf_append(b, h, 10);
    }
    mcp_buf_append(b, payload, len);
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    p->close_code = -1;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) {
        p->failures++;
        return NULL;
    }
    char req[4096];
    size_t have = 0;
    while (have < sizeof req - 1) {
        ssize_t n = recv(fd, req + have, sizeof req - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        req[have] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    char accept[29] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    if (!k || !strstr(req, "Sec-WebSocket-Protocol: mcp\r\n") || !strstr(req, "GET /mcp HTTP/1.1\r\n")) {
        p->failures++;
    } else if (!p->bad_accept) {
        mcp_ws_accept_key((mcp_str){k + 19, 24}, accept);
    }
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_buf_appendf(&out,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mcp\r\n\r\n",
                    accept);
    if (p->bad_accept) {
        send(fd, out.data, out.len, MSG_NOSIGNAL);
        mcp_buf_free(&out);
        char sink[64];
        while (recv(fd, sink, sizeof sink, 0) > 0)
            ;
        close(fd);
        return NULL;
    }
    /* Right after the 101, in the same write: a ping. */
    put_frame(&out, 0x89, "p1", 2);
    send(fd, out.data, out.len, MSG_NOSIGNAL);
    mcp_buf_reset(&out);

    int opcode;
    bool masked;
    char payload[1100];
    size_t len;
    /* The client sends its text, then answers the ping when it reads. */
    if (read_frame(fd, &opcode, &masked, payload, &len) != 0 || opcode != 1) {
        p->failures++;
    } else {
        snprintf(p->text, sizeof p->text, "%.60s", payload);
        p->text_masked = masked;
    }
    /* A message in three fragments with a ping between them; one over the
     * client's 64-byte limit (two fragments); a small one; close 1001. */
    put_frame(&out, 0x01, "{\"jsonrpc\":", 11);
    put_frame(&out, 0x00, "\"2.0\",", 6);
    put_frame(&out, 0x89, "p2", 2);
    put_frame(&out, 0x80, "\"id\":7}", 7);
    char fill[200];
    memset(fill, 'y', sizeof fill);
    put_frame(&out, 0x01, fill, 40);
    put_frame(&out, 0x80, fill, 200);
    /* Over the limit in one frame larger than a read: dropped as it streams. */
    size_t huge_len = 300 * 1024;
    char *huge = malloc(huge_len);
    if (huge) {
        memset(huge, 'z', huge_len);
        put_frame(&out, 0x81, huge, huge_len);
        free(huge);
    }
    put_frame(&out, 0x81, "{\"small\":1}", 11);
    put_frame(&out, 0x88, "\x03\xe9" "bye", 5);
    send(fd, out.data, out.len, MSG_NOSIGNAL);
    mcp_buf_free(&out);
    while (read_frame(fd, &opcode, &masked, payload, &len) == 0) {
        if (!masked)
            p->failures++;
        if (opcode == 10 && p->pong_count < 2)
            snprintf(p->pongs[p->pong_count++], sizeof p->pongs[0], "%.7s", payload);
        else if (opcode == 8 && len >= 2)
            p->close_code = ((unsigned char)payload[0] << 8) | (unsigned char)payload[1];
        else
            p->failures++;
    }
    close(fd);
    return NULL;
}

static void peer_listen(peer *p)
{
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->listen_fd, 1), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&a, &alen), 0);
    p->port = ntohs(a.sin_port);
}

/* The scripted peer listening and answering on its thread; url gets its
 * ws:// address. */
static void peer_start(peer *p, pthread_t *thread, char url[64])
{
    peer_listen(p);
    assert_int_equal(pthread_create(thread, NULL, peer_main, p), 0);
    snprintf(url, 64, "ws://127.0.0.1:%d/mcp", p->port);
}

/* A transport to the scripted peer, taking messages of up to 64 bytes. */
static mcp_client_transport *peer_connect(peer *p, pthread_t *thread)
{
    char url[64];
    peer_start(p, thread, url);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_ws(url, &(mcp_connect_opts){.max_message_size = 64}, &t, NULL, 0), 0);
    return t;
}

/* The peer's thread is done: its listener closes, and it saw nothing wrong. */
static void peer_finish(peer *p, pthread_t thread)
{
    pthread_join(thread, NULL);
    close(p->listen_fd);
    assert_int_equal(p->failures, 0);
}

static void frames_ping_fragments_limit_close(void **state)
{
    (void)state;
    peer p = {0};
    pthread_t thread;
    mcp_client_transport *t = peer_connect(&p, &thread);
    assert_int_equal(t->send(t, "{\"hello\":true}", 14), 0);
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_int_equal(msg.len, 24);
    assert_memory_equal(msg.data, "{\"jsonrpc\":\"2.0\",\"id\":7}", 24);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ELIMIT);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ELIMIT);
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_int_equal(msg.len, 11);
    assert_memory_equal(msg.data, "{\"small\":1}", 11);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ECLOSED);
    assert_int_equal(t->send(t, "{}", 2), MCP_ECLOSED);
    t->close(t);
    mcp_buf_free(&msg);
    peer_finish(&p, thread);
    assert_string_equal(p.text, "{\"hello\":true}");
    assert_true(p.text_masked);
    assert_int_equal(p.pong_count, 2);
    assert_string_equal(p.pongs[0], "p1");
    assert_string_equal(p.pongs[1], "p2");
    assert_int_equal(p.close_code, 1001);
}

static void wrong_accept_is_refused(void **state)
{
    (void)state;
    peer p = {.bad_accept = true};
    pthread_t thread;
    char url[64];
    char why[256];
    peer_start(&p, &thread, url);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_ws(url, NULL, &t, why, sizeof why), MCP_EPROTO);
    assert_null(t);
    assert_non_null(strstr(why, "Sec-WebSocket-Accept"));
    peer_finish(&p, thread);
}

/* The server going away under a pending request completes it with MCP_ECLOSED. */
static void server_close_ends_pending_requests(void **state)
{
    (void)state;
    peer p = {0};
    pthread_t thread;
    mcp_client_transport *t = peer_connect(&p, &thread);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2026-07-28", .transport = t,
                                                      .timeout_ms = 5000});
    assert_non_null(c);
    /* The modern era needs no handshake: the request goes out at once (the
     * peer takes it as its text) and the peer's close ends it. */
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(c, "tools/list", NULL, NULL, &r), MCP_ECLOSED);
    mcp_client_result_free(&r);
    mcp_client_counters counters;
    mcp_client_get_counters(c, &counters);
    /* Every data message of the peer reached the client, the two over the
     * limit as dropped ones: none was lost in the framing. */
    assert_int_equal(counters.messages_in, 4);
    mcp_client_free(c);
    peer_finish(&p, thread);
    assert_non_null(strstr(p.text, "tools/list"));
    assert_int_equal(p.close_code, 1001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_era),
        cmocka_unit_test(modern_era_by_discovery),
        cmocka_unit_test(path_selects_the_endpoint),
        cmocka_unit_test(mcpd_call_over_ws),
        cmocka_unit_test(bad_urls),
        cmocka_unit_test(server_drain_closes_the_client),
        cmocka_unit_test(ipv6_loopback),
        cmocka_unit_test(frames_ping_fragments_limit_close),
        cmocka_unit_test(wrong_accept_is_refused),
        cmocka_unit_test(server_close_ends_pending_requests),
    };
    if (!getenv("MCPD_BIN"))
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
