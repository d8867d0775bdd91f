/*
 * The loop's output buffer (stream_conn.c): a read's answers are written
 * into one buffer of the worker loop's, lent to the connection for the
 * read and taken back once written. These cases, over real sockets on
 * 127.0.0.1 with one worker, check that buffers only change hands:
 *  - a connection whose answer the kernel could not take at once (its
 *    client does not read) keeps the buffer with that answer, while other
 *    connections on the loop go on being answered, and then gets every
 *    byte of it and of the answer after it, in order;
 *  - one that goes on reading while such a write is in flight keeps the
 *    answers it collects meanwhile, behind the write;
 *  - connections answered in turn each get their own answers, whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/ws.h"
#include "test_ws_client.h"
#include "test_echo_tool.h"

typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
} fixture;

#define BIG_TEXT ((size_t)12 << 20)

static void fixture_start(fixture *f, size_t max_output_queue) {
    f->server = mcp_server_new(
        &(mcp_server_opts){.name = "loop-buffer", .version = "1.0", .max_message_size = BIG_TEXT + 4096});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    /* One worker: every connection shares its loop and its buffer. */
    mcp_listen listen = {.ws = "127.0.0.1:0",
                         .workers = 1,
                         .max_message_size = BIG_TEXT + 4096,
                         .max_output_queue = max_output_queue};
    assert_int_equal(mcp_net_start(&f->net, f->server, &listen, &(mcp_net_tuning){.ws = true}), 0);
    f->port = mcp_net_port(f->net);
    assert_true(f->port > 0);
}

static void fixture_stop(fixture *f) {
    mcp_net_stop(f->net);
    assert_int_equal(mcp_net_wait(f->net), 0);
    mcp_net_free(f->net);
    mcp_server_free(f->server);
}

static void ws_open(wsc *c, const fixture *f) {
    wsc_open(c, f->port, false);
    mcp_buf head;
    mcp_buf_init(&head);
    assert_int_equal(wsc_handshake(c, "/mcp", NULL, &head), 101);
    mcp_buf_free(&head);
}

/* An echo of text_len copies of fill, as one masked text frame. */
static void send_echo(wsc *c, int id, char fill, size_t text_len) {
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(mcp_buf_appendf(&msg,
                                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                                     "\"echo\",\"arguments\":{\"text\":\"",
                                     id),
                     0);
    assert_int_equal(mcp_buf_reserve(&msg, text_len), 0);
    memset(msg.data + msg.len, fill, text_len);
    msg.len += text_len;
    assert_int_equal(mcp_buf_append_cstr(&msg, "\"}," MODERN_META "}}"), 0);
    wsc_send_frame(c, true, 1, msg.data, msg.len);
    mcp_buf_free(&msg);
}

/* The next text message is the reply to id and echoes text_len fills. */
static void expect_echo(wsc *c, mcp_buf *text, int id, char fill, size_t text_len) {
    wsc_read_text(c, text);
    char want[64];
    int n = snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\"", id);
    assert_true(text->len > (size_t)n);
    assert_memory_equal(text->data, want, (size_t)n);
    static const char key[] = "\"text\":\"";
    const char *p = memmem(text->data, text->len, key, sizeof key - 1);
    assert_non_null(p);
    p += sizeof key - 1;
    size_t run = 0;
    while (p + run < text->data + text->len && p[run] == fill) run++;
    assert_int_equal(run, text_len);
    assert_int_equal(p[run], '"');
}

static mcp_net_counters counters(const fixture *f) {
    mcp_net_counters c;
    mcp_net_counters_get(f->net, &c);
    return c;
}

static void test_a_queued_answer_stays_with_its_connection(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, 0);
    wsc slow, busy;
    ws_open(&slow, &f);
    ws_open(&busy, &f);
    int small = 64 * 1024;
    assert_int_equal(setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    mcp_buf text;
    mcp_buf_init(&text);
    /* 12 MB back to a client that does not read: more than the kernel
     * holds, so the rest waits in the connection's buffer (and reading
     * from it pauses, which the counters show). */
    send_echo(&slow, 1, 'y', BIG_TEXT);
    for (int i = 0; i < 200 && counters(&f).read_paused == 0; i++) {
        send_echo(&busy, 1000 + i, 'b', 100 + (size_t)i);
        expect_echo(&busy, &text, 1000 + i, 'b', 100 + (size_t)i);
    }
    assert_true(counters(&f).read_paused >= 1);
    send_echo(&slow, 2, 'z', 3000);
    for (int i = 0; i < 50; i++) {
        send_echo(&busy, 2000 + i, 'c', 2000 + (size_t)i * 7);
        expect_echo(&busy, &text, 2000 + i, 'c', 2000 + (size_t)i * 7);
    }
    expect_echo(&slow, &text, 1, 'y', BIG_TEXT);
    expect_echo(&slow, &text, 2, 'z', 3000);
    /* And the slow one is an ordinary connection again. */
    send_echo(&slow, 3, 'w', 10);
    expect_echo(&slow, &text, 3, 'w', 10);
    assert_int_equal(counters(&f).output_dropped, 0);
    mcp_buf_free(&text);
    wsc_close(&slow);
    wsc_close(&busy);
    fixture_stop(&f);
}

/* Under a queue limit the answer does not reach: the connection goes on
 * reading while its write is in flight, and the answers it collects
 * meanwhile stay in its own buffer, behind the write, not in the loop's
 * (where the next connection's read would send them to its client). */
static void test_answers_behind_a_write_in_flight_stay_with_its_connection(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, 64u << 20);
    wsc slow, busy;
    ws_open(&slow, &f);
    ws_open(&busy, &f);
    int small = 64 * 1024;
    assert_int_equal(setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    mcp_buf text;
    mcp_buf_init(&text);
    send_echo(&slow, 1, 'y', BIG_TEXT);
    send_echo(&busy, 100, 'b', 10);
    expect_echo(&busy, &text, 100, 'b', 10); /* the big one has been handled by now: one loop, in order */
    for (int i = 0; i < 5; i++) {
        send_echo(&slow, 2 + i, 'z', 3000 + (size_t)i);
        for (int j = 0; j < 20; j++) {
            send_echo(&busy, 1000 + i * 100 + j, 'c', 500 + (size_t)j);
            expect_echo(&busy, &text, 1000 + i * 100 + j, 'c', 500 + (size_t)j);
        }
    }
    mcp_net_counters n = counters(&f);
    assert_true(n.bytes_out < BIG_TEXT); /* the big answer is still on its way */
    assert_int_equal(n.read_paused, 0);
    expect_echo(&slow, &text, 1, 'y', BIG_TEXT);
    for (int i = 0; i < 5; i++) expect_echo(&slow, &text, 2 + i, 'z', 3000 + (size_t)i);
    assert_int_equal(counters(&f).output_dropped, 0);
    mcp_buf_free(&text);
    wsc_close(&slow);
    wsc_close(&busy);
    fixture_stop(&f);
}

/* Four connections, requests of different sizes in turn and some in
 * bursts: each reads exactly its own answers. */
static void test_connections_in_turn_get_their_own_answers(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, 0);
    enum { CONNS = 4 };
    wsc c[CONNS];
    for (int k = 0; k < CONNS; k++) ws_open(&c[k], &f);
    mcp_buf text;
    mcp_buf_init(&text);
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < CONNS; k++) {
            int burst = 1 + (round + k) % 3;
            for (int j = 0; j < burst; j++)
                send_echo(&c[k], round * 100 + k * 10 + j, (char)('a' + k), (size_t)(round * 997 + k * 13 + j) % 70000);
        }
        for (int k = 0; k < CONNS; k++) {
            int burst = 1 + (round + k) % 3;
            for (int j = 0; j < burst; j++)
                expect_echo(&c[k], &text, round * 100 + k * 10 + j, (char)('a' + k),
                            (size_t)(round * 997 + k * 13 + j) % 70000);
        }
    }
    mcp_buf_free(&text);
    for (int k = 0; k < CONNS; k++) wsc_close(&c[k]);
    fixture_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_queued_answer_stays_with_its_connection),
        cmocka_unit_test(test_answers_behind_a_write_in_flight_stay_with_its_connection),
        cmocka_unit_test(test_connections_in_turn_get_their_own_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
