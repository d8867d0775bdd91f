/* `mcpd serve` on its network transports, as a user runs it: the binary
 * named by $MCPD_BIN serves TCP and Streamable HTTP at once on loopback
 * ports, answers a tools/call on each, and on SIGTERM finishes and exits 0. */
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcp/base.h"

#define MODERN_META                                                             \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","    \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"
#define ECHO_CALL(id, text)                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," \
    "\"arguments\":{\"text\":\"" text "\"}," MODERN_META "}}"

static void test_tcp_and_http_at_once_then_sigterm(void **state) {
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin) {
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
        skip();
    }
    int tcp_port = free_port(), http_port = free_port();
    char tcp_addr[32], http_addr[32];
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    snprintf(http_addr, sizeof http_addr, "127.0.0.1:%d", http_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "serve", "--tcp", tcp_addr, "--http", http_addr, "--workers", "1", (char *)NULL);
        _exit(127);
    }

    int tcp = connect_port(tcp_port);
    int http = connect_port(http_port);
    const char *body = ECHO_CALL(2, "over http");
    mcp_buf got;
    mcp_buf_init(&got);
    echo_over_tcp_and_http(tcp, http, http_port, "/mcp", ECHO_CALL(1, "over tcp") "\n", body, &got);
    char request[1024];

    /* A Host that is not loopback is refused: DNS-rebinding protection is on. */
    snprintf(request, sizeof request,
             "POST /mcp HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
             "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    send_all(http, request);
    mcp_buf_reset(&got);
    read_until(http, &got, "\r\n\r\n");
    assert_non_null(strstr(got.data, "HTTP/1.1 403"));

    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(50 * 1000);
    if (!WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("mcpd serve did not exit within 10 s of SIGTERM");
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    close(tcp);
    close(http);
    mcp_buf_free(&got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_and_http_at_once_then_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
