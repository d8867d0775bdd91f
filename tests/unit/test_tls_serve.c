/* `mcpd serve --ws` and `--tcp` with `--tls-cert/--tls-key`, as a user runs
 * it: the binary named by $MCPD_BIN serves WebSocket and NDJSON over TLS at
 * once on loopback ports, answers a tools/call on each, refuses a foreign
 * Origin, and on SIGTERM finishes and exits 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"

#include <signal.h>
#include <sys/wait.h>

#include "test_tls_cert.h"
#include "test_ws_client.h"

#define ECHO_CALL(id, text)                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," \
    "\"arguments\":{\"text\":\"" text "\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":" \
    "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

static void test_ws_and_tcp_over_tls_then_sigterm(void **state) {
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin) {
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
        skip();
    }
    test_cert cert;
    if (!test_cert_make(&cert)) skip();
    int ws_port = free_port(), tcp_port = free_port();
    char ws_addr[32], tcp_addr[32];
    snprintf(ws_addr, sizeof ws_addr, "127.0.0.1:%d", ws_port);
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "serve", "--ws", ws_addr, "--tcp", tcp_addr, "--tls-cert", cert.cert, "--tls-key",
              cert.key, "--workers", "1", (char *)NULL);
        _exit(127);
    }

    wsc ws;
    wsc_open(&ws, ws_port, true);
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(wsc_handshake(&ws, "/mcp", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n",
                                   &text),
                     101);
    assert_non_null(strstr(text.data, "Sec-WebSocket-Protocol: mcp"));
    wsc_send_text(&ws, ECHO_CALL(1, "over wss"));
    wsc_read_text(&ws, &text);
    assert_non_null(strstr(text.data, "\"id\":1"));
    assert_non_null(strstr(text.data, "over wss"));

    wsc tcp;
    wsc_open(&tcp, tcp_port, true);
    wsc_send_cstr(&tcp, ECHO_CALL(2, "over tls tcp") "\n");
    uint64_t deadline = wsc_now_ms() + 3000;
    while (!(tcp.in.data && strchr(tcp.in.data, '\n')))
        if (!wsc_fill(&tcp, deadline)) fail_msg("no reply over TLS TCP");
    assert_non_null(strstr(tcp.in.data, "over tls tcp"));

    /* DNS-rebinding protection is on for WebSocket too. */
    wsc evil;
    wsc_open(&evil, ws_port, true);
    assert_int_equal(wsc_handshake(&evil, "/mcp", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                  "Sec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n",
                                   &text),
                     403);
    wsc_close(&evil);

    /* SIGTERM: the open WebSocket is told 1001, and the process exits 0. */
    assert_int_equal(kill(pid, SIGTERM), 0);
    int op;
    while ((op = wsc_read_frame(&ws, &text, 5000, NULL)) == 1) {
    }
    assert_int_equal(op, 8);
    assert_int_equal(wsc_close_code(&text), 1001);
    wsc_send_frame(&ws, true, 8, "\x03\xe8", 2);
    int status = 0;
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(50 * 1000);
    if (!WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("mcpd serve did not exit within 10 s of SIGTERM");
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    mcp_buf_free(&text);
    wsc_close(&ws);
    wsc_close(&tcp);
    test_cert_remove(&cert);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_and_tcp_over_tls_then_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
