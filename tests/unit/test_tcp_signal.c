/*
 * mcp_net_run under SIGTERM: the blocking form drains and returns 0, the
 * replies already computed reach the client, and an asynchronous call in
 * flight is finished and delivered before the connection closes. A program
 * of its own because it signals its own process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net_internal.h"

static uint64_t now_ms(void) { return mcp_now_ns() / 1000000u; }

static void *slow_job_main(void *arg) {
    mcp_call *call = arg;
    usleep(300 * 1000);
    mcp_call_text(call, "finished after SIGTERM");
    mcp_call_finish(call);
    return NULL;
}

static int tool_slow(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    pthread_t thread;
    if (pthread_create(&thread, NULL, slow_job_main, call)) return MCP_ENOMEM;
    pthread_detach(thread);
    return MCP_PENDING;
}

typedef struct run_args {
    mcp_server *server;
    char address[64];
    int rc;
} run_args;

static void *run_main(void *arg) {
    run_args *run = arg;
    run->rc = mcp_net_run(run->server, &(mcp_listen){.tcp = run->address, .workers = 2, .drain_grace_ms = 5000});
    return NULL;
}

/* A port that was free a moment ago: mcp_net_run does not report the port
 * it bound, so the test picks one. */
static int connect_retry(int port, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
        close(fd);
        if (now_ms() >= deadline) fail_msg("server did not come up on port %d", port);
        usleep(5000);
    }
}

/* Reads until EOF or the deadline; returns what arrived. */
static void read_to_eof(int fd, mcp_buf *out, unsigned timeout_ms, bool *eof) {
    uint64_t deadline = now_ms() + timeout_ms;
    *eof = false;
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            *eof = true;
            return;
        }
        assert_int_equal(mcp_buf_append(out, chunk, (size_t)n), 0);
    }
}

static void sigterm_drains_and_returns(void **state) {
    (void)state;
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "signal-test", .version = "1.0"});
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "slow", .fn = tool_slow}), 0);
    run_args run = {.server = server, .rc = -100};
    snprintf(run.address, sizeof run.address, "127.0.0.1:%d", free_port());
    int port = atoi(strchr(run.address, ':') + 1);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, run_main, &run), 0);

    int fd = connect_retry(port, 5000);
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    assert_int_equal(send(fd, ping, strlen(ping), 0), (ssize_t)strlen(ping));
    {
        const char *slow = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                           "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}\n";
        assert_int_equal(send(fd, slow, strlen(slow), 0), (ssize_t)strlen(slow));
    }
    usleep(50 * 1000); /* both requests received */
    assert_int_equal(kill(getpid(), SIGTERM), 0);

    mcp_buf got;
    mcp_buf_init(&got);
    bool eof;
    read_to_eof(fd, &got, 5000, &eof);
    assert_true(eof);
    close(fd); /* as a client does on EOF; the server waits for this FIN */
    assert_non_null(got.data);
    assert_non_null(strstr(got.data, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"));
    assert_non_null(strstr(got.data, "finished after SIGTERM"));
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(run.rc, 0);

    mcp_buf_free(&got);
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigterm_drains_and_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
