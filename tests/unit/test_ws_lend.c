/*
 * A WebSocket reply built in place (mcp_sink.lend): the session writes it
 * into the connection's output behind four bytes kept for the frame
 * header, and the header is put in front afterwards. These cases check,
 * without sockets, that every payload length around the header's three
 * sizes (2, 4 and 10 bytes; RFC 6455 wants the shortest) comes out as one
 * frame with the shortest header and nothing before or after it, and that
 * the payload is the same bytes wslay frames when it has the connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/ws.h"
#include "test_ws_client.h"
#include "test_echo_tool.h"
#include "test_ws_sans_io.h"

/* Into the handshake era, whose results carry no _meta: the reply to a
 * short echo is then shorter than 126 bytes. */
static void conn_initialize(sans_io *t) {
    static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                               "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
                               "\"name\":\"t\",\"version\":\"1\"}}}";
    static const char initialized[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    mcp_buf frames;
    mcp_buf_init(&frames);
    wsc_frame_append(&frames, true, 1, init, sizeof init - 1, true);
    wsc_frame_append(&frames, true, 1, initialized, sizeof initialized - 1, true);
    mcp_ws_conn_feed(t->c, frames.data, frames.len);
    mcp_buf *out = mcp_ws_conn_out(t->c);
    static const char agreed[] = "\"protocolVersion\":\"2025-06-18\"";
    assert_non_null(memmem(out->data, out->len, agreed, sizeof agreed - 1));
    mcp_buf_reset(out);
    mcp_buf_free(&frames);
}

/* One read of the client's frames; t->out holds what it produced. */
static void conn_feed(sans_io *t, const mcp_buf *frames) {
    mcp_buf_reset(&t->out);
    sans_io_feed(t, frames->data, frames->len);
}

/* The frame at *pos: its opcode, payload and header length. Fails the test
 * unless it is whole, final, unmasked and its length is in shortest form. */
static int frame_at(const mcp_buf *out, size_t *pos, mcp_str *payload, size_t *head_len) {
    const unsigned char *p = (const unsigned char *)out->data + *pos;
    size_t left = out->len - *pos;
    assert_true(left >= 2);
    assert_int_equal(p[0] & 0xf0, 0x80); /* FIN, no reserved bits */
    assert_int_equal(p[1] & 0x80, 0);    /* a server never masks */
    size_t n = p[1] & 0x7f, head = 2;
    if (n == 126) {
        assert_true(left >= 4);
        n = ((size_t)p[2] << 8) | p[3];
        head = 4;
        assert_true(n >= 126);
    } else if (n == 127) {
        assert_true(left >= 10);
        n = 0;
        for (int i = 0; i < 8; i++) n = (n << 8) | p[2 + i];
        head = 10;
        assert_true(n > 0xffff);
    }
    assert_true(left >= head + n);
    *payload = (mcp_str){(const char *)p + head, n};
    *head_len = head;
    *pos += head + n;
    return p[0] & 0x0f;
}

/* A tools/call of echo with a text of text_len 'x's, as a masked frame;
 * in the modern era unless the connection was initialized. */
static bool handshake_era;

static void append_echo(mcp_buf *frames, int id, size_t text_len) {
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(mcp_buf_appendf(&msg,
                                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                                     "\"echo\",\"arguments\":{\"text\":\"",
                                     id),
                     0);
    assert_int_equal(mcp_buf_reserve(&msg, text_len), 0);
    memset(msg.data + msg.len, 'x', text_len);
    msg.len += text_len;
    assert_int_equal(mcp_buf_append_cstr(&msg, handshake_era ? "\"}}}" : "\"}," MODERN_META "}}"), 0);
    wsc_frame_append(frames, true, 1, msg.data, msg.len, true);
    mcp_buf_free(&msg);
}

/* The reply to one echo, alone in its read: its payload into reply and
 * the length of its header. */
static size_t echo_reply(sans_io *t, int id, size_t text_len, mcp_buf *reply) {
    mcp_buf frames;
    mcp_buf_init(&frames);
    append_echo(&frames, id, text_len);
    conn_feed(t, &frames);
    size_t pos = 0, head;
    mcp_str payload;
    assert_int_equal(frame_at(&t->out, &pos, &payload, &head), 1);
    assert_int_equal(pos, t->out.len); /* one frame and nothing else */
    mcp_buf_reset(reply);
    mcp_buf_append(reply, payload.ptr, payload.len);
    mcp_buf_free(&frames);
    return head;
}

/* Payloads of 125 and 126 bytes, 65,535 and 65,536, and a few between:
 * each gets the header its length calls for. */
static void test_lent_replies_take_the_shortest_header(void **state) {
    (void)state;
    sans_io t;
    sans_io_start(&t, 0);
    conn_initialize(&t);
    handshake_era = true;
    mcp_buf reply;
    mcp_buf_init(&reply);
    /* What the reply adds around the text, measured on an empty one. */
    assert_int_equal(echo_reply(&t, 1, 0, &reply), 2);
    size_t overhead = reply.len;
    assert_true(overhead < 120);
    const size_t payloads[] = {overhead + 1, 125, 126, 127, 1214, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        size_t want = payloads[i];
        size_t head = echo_reply(&t, 1, want - overhead, &reply);
        assert_int_equal(reply.len, want);
        assert_int_equal(head, want < 126 ? 2 : want <= 0xffff ? 4 : 10);
        assert_memory_equal(reply.data, "{\"jsonrpc\":\"2.0\",\"id\":1,", 24);
        assert_int_equal(reply.data[reply.len - 1], '}');
    }
    assert_int_equal(t.counters.output_dropped, 0);
    handshake_era = false;
    mcp_buf_free(&reply);
    sans_io_stop(&t);
}

/* Many replies of mixed sizes from one read sit back to back in the
 * output, each whole, in the order of the requests. */
static void test_lent_replies_of_one_read_follow_each_other(void **state) {
    (void)state;
    sans_io t;
    sans_io_start(&t, 0);
    static const size_t texts[] = {3, 2000, 70000, 0, 90, 500};
    size_t count = sizeof texts / sizeof texts[0];
    mcp_buf frames;
    mcp_buf_init(&frames);
    for (size_t i = 0; i < count; i++) append_echo(&frames, (int)i + 1, texts[i]);
    conn_feed(&t, &frames);
    size_t pos = 0, head;
    mcp_str payload;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(frame_at(&t.out, &pos, &payload, &head), 1);
        char id[32];
        int n = snprintf(id, sizeof id, "\"id\":%zu,", i + 1);
        assert_non_null(memmem(payload.ptr, payload.len, id, (size_t)n));
        /* The text is there whole: its run of 'x's, then its closing quote. */
        static const char key[] = "\"text\":\"";
        const char *x = memmem(payload.ptr, payload.len, key, sizeof key - 1);
        assert_non_null(x);
        x += sizeof key - 1;
        size_t run = 0;
        while (x + run < payload.ptr + payload.len && x[run] == 'x') run++;
        assert_int_equal(run, texts[i]);
        assert_int_equal(x[run], '"');
    }
    assert_int_equal(pos, t.out.len);
    assert_int_equal(t.counters.messages_in, count);
    mcp_buf_free(&frames);
    sans_io_stop(&t);
}

/* The same requests answered in place and, after a ping has handed the
 * connection to wslay, framed by wslay: the same payload bytes. */
static void test_lent_and_wslay_framed_replies_agree(void **state) {
    (void)state;
    static const size_t texts[] = {5, 1000, 66000};
    size_t count = sizeof texts / sizeof texts[0];
    sans_io t;
    sans_io_start(&t, 0);
    mcp_buf lent[3];
    for (size_t i = 0; i < count; i++) {
        mcp_buf_init(&lent[i]);
        echo_reply(&t, 7, texts[i], &lent[i]);
    }
    mcp_buf frames;
    mcp_buf_init(&frames);
    wsc_frame_append(&frames, true, 9, "p", 1, true);
    for (size_t i = 0; i < count; i++) append_echo(&frames, 7, texts[i]);
    conn_feed(&t, &frames);
    size_t pos = 0, head;
    mcp_str payload;
    assert_int_equal(frame_at(&t.out, &pos, &payload, &head), 10); /* the pong first */
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(frame_at(&t.out, &pos, &payload, &head), 1);
        assert_int_equal(payload.len, lent[i].len);
        assert_memory_equal(payload.ptr, lent[i].data, payload.len);
        mcp_buf_free(&lent[i]);
    }
    assert_int_equal(pos, t.out.len);
    mcp_buf_free(&frames);
    sans_io_stop(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lent_replies_take_the_shortest_header),
        cmocka_unit_test(test_lent_replies_of_one_read_follow_each_other),
        cmocka_unit_test(test_lent_and_wslay_framed_replies_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
