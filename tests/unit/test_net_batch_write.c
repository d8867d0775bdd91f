/*
 * The batch write of TCP and WebSocket connections, which waits for the
 * end of the loop iteration (mcp_net_flush_soon), seen from real
 * clients over loopback:
 *   - replies of a read that filled the loop's 64 KiB buffer still go out
 *     when the peer's FIN comes in the same read pass (libuv reads again
 *     after a full buffer, and the EOF closes the connection at once);
 *   - replies over max_output_queue that the kernel takes at once do not
 *     pause reading, nor count as an output_queue limit event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "net/net_internal.h"
#include "net/ws.h"
#include "test_ws_client.h"
#include "test_echo_tool.h"

static int tool_block(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    struct timespec ts = {0, 300 * 1000000L}; /* hold the worker's loop */
    nanosleep(&ts, NULL);
    return mcp_call_text(call, "blocked");
}

static void run(bool ws) {
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "batch", .version = "1.0"});
    assert_non_null(server);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "block", .fn = tool_block}), 0);
    mcp_listen listen = {.workers = 1};
    if (ws) listen.ws = "127.0.0.1:0";
    else listen.tcp = "127.0.0.1:0";
    mcp_net *net;
    assert_int_equal(mcp_net_start(&net, server, &listen, &(mcp_net_tuning){.ws = ws}), 0);
    int port = mcp_net_port(net);

    wsc a, b;
    mcp_buf head;
    mcp_buf_init(&head);
    wsc_open(&a, port, false);
    wsc_open(&b, port, false);
    if (ws) {
        assert_int_equal(wsc_handshake(&a, "/mcp", NULL, &head), 101);
        assert_int_equal(wsc_handshake(&b, "/mcp", NULL, &head), 101);
    }

    /* One request whose bytes on the wire are exactly 65536. */
    const char *pre = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                      "\"arguments\":{\"text\":\"";
    const char *post = "\"}," MODERN_META "}}";
    size_t payload = ws ? 65536 - 8 : 65536 - 1; /* frame header 2+2+4 / newline */
    size_t fill = payload - strlen(pre) - strlen(post);
    mcp_buf msg, wire;
    mcp_buf_init(&msg);
    mcp_buf_init(&wire);
    mcp_buf_append_cstr(&msg, pre);
    mcp_buf_reserve(&msg, fill);
    memset(msg.data + msg.len, 'x', fill);
    msg.len += fill;
    mcp_buf_append_cstr(&msg, post);
    assert_int_equal(msg.len, payload);
    if (ws) wsc_frame_append(&wire, true, 1, msg.data, msg.len, true);
    else {
        mcp_buf_append(&wire, msg.data, msg.len);
        mcp_buf_append_cstr(&wire, "\n");
    }
    assert_int_equal(wire.len, 65536);

    /* b holds the loop; meanwhile a's whole request and its FIN arrive, to be
     * read in one pass after it. */
    char block[512];
    snprintf(block, sizeof block,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"block\",\"arguments\":{},"
             MODERN_META "}}");
    if (ws) wsc_send_text(&b, block);
    else {
        wsc_send_cstr(&b, block);
        wsc_send_cstr(&b, "\n");
    }
    usleep(100 * 1000);
    wsc_send(&a, wire.data, wire.len);
    shutdown(a.fd, SHUT_WR);

    /* a's reply: its id and the echoed text. */
    uint64_t deadline = wsc_now_ms() + 3000;
    while (wsc_fill(&a, deadline)) {
    }
    bool got = a.in.len > 60000 && memmem(a.in.data, a.in.len, "\"id\":7", 6);

    wsc_close(&a);
    wsc_close(&b);
    mcp_buf_free(&msg);
    mcp_buf_free(&wire);
    mcp_buf_free(&head);
    mcp_net_stop(net);
    mcp_net_wait(net);
    mcp_net_free(net);
    mcp_server_free(server);
    assert_true(got);
}

static void test_tcp_reply_before_eof(void **state) {
    (void)state;
    run(false);
}

static void test_ws_reply_before_eof(void **state) {
    (void)state;
    run(true);
}

static void test_big_replies_do_not_pause_reading(void **state) {
    (void)state;
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "batch", .version = "1.0"});
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    mcp_listen listen = {.tcp = "127.0.0.1:0", .workers = 1, .max_output_queue = 4096};
    mcp_net *net;
    assert_int_equal(mcp_net_start(&net, server, &listen, NULL), 0);
    wsc a;
    wsc_open(&a, mcp_net_port(net), false);
    for (int i = 0; i < 5; i++) {
        mcp_buf msg;
        mcp_buf_init(&msg);
        mcp_buf_appendf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                              "\"arguments\":{\"text\":\"", i);
        mcp_buf_reserve(&msg, 8000);
        memset(msg.data + msg.len, 'x', 8000);
        msg.len += 8000;
        mcp_buf_append_cstr(&msg, "\"}," MODERN_META "}}\n");
        wsc_send(&a, msg.data, msg.len);
        mcp_buf_free(&msg);
        uint64_t deadline = wsc_now_ms() + 3000;
        while (!memchr(a.in.data ? a.in.data : "", '\n', a.in.len)) assert_true(wsc_fill(&a, deadline));
        a.in.len = 0;
    }
    mcp_net_counters c;
    mcp_net_counters_get(net, &c);
    wsc_close(&a);
    mcp_net_free(net);
    mcp_server_free(server);
    assert_int_equal(c.read_paused, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_reply_before_eof),
        cmocka_unit_test(test_ws_reply_before_eof),
        cmocka_unit_test(test_big_replies_do_not_pause_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
