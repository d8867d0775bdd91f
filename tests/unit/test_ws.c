/*
 * The WebSocket transport against real sockets on 127.0.0.1: the opening
 * handshake (accepted and refused), messages of both protocol eras, one
 * write per read, fragments, the size limit, ping, close, binary and
 * protocol faults, asynchronous replies from another thread, and drain.
 * Without sockets (mcp_ws_conn alone): frames split at every byte, UTF-8
 * checks, and the hand-over from our reader of plain text frames to wslay
 * in the middle of a stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "net/ws.h"
#include "test_ws_client.h"
#include "test_slow_tool.h"
#include "test_echo_tool.h"
#include "test_ws_sans_io.h"

#define INITIALIZE                                                                                 \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"      \
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"
#define MODERN_ECHO(id)                                                                            \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","  \
    "\"arguments\":{\"text\":\"hi " #id "\"}," MODERN_META "}}"

/* ---- A server with a few tools --------------------------------------------------- */
typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
} fixture;

static void fixture_start(fixture *f, const mcp_ws_opts *opts) {
    f->server = mcp_server_new(&(mcp_server_opts){.name = "ws-test", .version = "1.0"});
    assert_non_null(f->server);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "slow", .fn = tool_slow}), 0);
    mcp_listen listen = {.ws = "127.0.0.1:0", .workers = 2, .ws_opts = opts};
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

static mcp_net_counters counters(const fixture *f) {
    mcp_net_counters c;
    mcp_net_counters_get(f->net, &c);
    return c;
}

/* Open and upgrade; fails the test unless 101. */
static void ws_open(wsc *c, const fixture *f) {
    wsc_open(c, f->port, false);
    mcp_buf head;
    mcp_buf_init(&head);
    assert_int_equal(wsc_handshake(c, "/mcp", NULL, &head), 101);
    mcp_buf_free(&head);
}

/* A server (opts may be NULL), one client upgraded to it, and a buffer
 * for the texts it reads. */
typedef struct ws_session {
    fixture f;
    wsc c;
    mcp_buf text;
} ws_session;

static void session_start(ws_session *s, const mcp_ws_opts *opts) {
    fixture_start(&s->f, opts);
    ws_open(&s->c, &s->f);
    mcp_buf_init(&s->text);
}

static void session_stop(ws_session *s) {
    mcp_buf_free(&s->text);
    wsc_close(&s->c);
    fixture_stop(&s->f);
}

/* ---- Handshake ----------------------------------------------------------------------- */
static void test_accept_key_matches_rfc_example(void **state) {
    (void)state;
    char accept[29];
    assert_int_equal(mcp_ws_accept_key((mcp_str){"dGhlIHNhbXBsZSBub25jZQ==", 24}, accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_handshake_accepts_and_selects_mcp(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, NULL);
    wsc c;
    wsc_open(&c, f.port, false);
    mcp_buf head;
    mcp_buf_init(&head);
    int status = wsc_handshake(&c, "/mcp",
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                               "Sec-WebSocket-Protocol: chat, mcp\r\nOrigin: http://localhost:3000\r\n",
                               &head);
    assert_int_equal(status, 101);
    assert_non_null(strstr(head.data, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(head.data, "Sec-WebSocket-Protocol: mcp\r\n"));
    wsc_close(&c);

    /* Without the subprotocol offered, none is named. */
    wsc_open(&c, f.port, false);
    assert_int_equal(wsc_handshake(&c, "/mcp", NULL, &head), 101);
    assert_null(strstr(head.data, "Sec-WebSocket-Protocol"));
    wsc_close(&c);
    mcp_buf_free(&head);
    assert_int_equal(counters(&f).ws_upgraded, 2);
    fixture_stop(&f);
}

static void test_handshake_refusals(void **state) {
    (void)state;
    static const char *const allowed[] = {"https://app.example", NULL};
    mcp_ws_opts opts = {.allowed_origins = allowed};
    fixture f;
    fixture_start(&f, &opts);
    static const struct {
        const char *path;
        const char *extra;
        int status;
        const char *header; /* must be in the answer */
    } cases[] = {
        {"/mcp", "Sec-WebSocket-Version: 13\r\n", 400, NULL}, /* no key */
        {"/mcp", "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n", 400, NULL}, /* 5 bytes */
        {"/mcp", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n", 426,
         "Sec-WebSocket-Version: 13\r\n"},
        {"/mcp", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 426, "Sec-WebSocket-Version: 13\r\n"},
        {"/other", NULL, 404, NULL},
        {"/mcp",
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n",
         403, NULL},
        {"/mcp",
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: null\r\n", 403,
         NULL},
    };
    mcp_buf head;
    mcp_buf_init(&head);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsc c;
        wsc_open(&c, f.port, false);
        int status = wsc_handshake(&c, cases[i].path, cases[i].extra, &head);
        if (status != cases[i].status) fail_msg("case %zu: status %d, want %d: %s", i, status, cases[i].status, head.data);
        if (cases[i].header) assert_non_null(strstr(head.data, cases[i].header));
        assert_true(wsc_wait_eof(&c, 3000)); /* a refusal closes */
        wsc_close(&c);
    }
    /* Not an upgrade at all, a foreign Host, and a POST. */
    const char *raw[] = {
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /mcp HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}",
        "NOT HTTP AT ALL\r\n\r\n",
    };
    const int want[] = {426, 403, 405, 400};
    for (size_t i = 0; i < 4; i++) {
        wsc c;
        wsc_open(&c, f.port, false);
        wsc_send_cstr(&c, raw[i]);
        uint64_t deadline = wsc_now_ms() + 3000;
        while (!c.eof && wsc_fill(&c, deadline)) {
        }
        int status = 0;
        assert_true(c.in.len > 0);
        sscanf(c.in.data, "HTTP/1.1 %d", &status);
        if (status != want[i]) fail_msg("raw case %zu: status %d, want %d", i, status, want[i]);
        assert_true(c.eof);
        wsc_close(&c);
    }
    /* A listed Origin is welcome. */
    wsc c;
    wsc_open(&c, f.port, false);
    assert_int_equal(wsc_handshake(&c, "/mcp",
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                                   "Origin: https://app.example\r\n",
                                   &head),
                     101);
    wsc_close(&c);
    mcp_buf_free(&head);
    mcp_net_counters n = counters(&f);
    assert_int_equal(n.ws_rejected, 11);
    assert_int_equal(n.ws_upgraded, 1);
    fixture_stop(&f);
}

/* ---- Messages ---------------------------------------------------------------------------- */
static void test_handshake_era_round_trip(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    wsc_send_text(&s.c, INITIALIZE);
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "\"id\":1"));
    assert_non_null(strstr(s.text.data, "\"protocolVersion\":\"2025-06-18\""));
    wsc_send_text(&s.c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    wsc_send_text(&s.c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                      "\"arguments\":{\"text\":\"over ws\"}}}");
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "\"id\":2"));
    assert_non_null(strstr(s.text.data, "over ws"));
    /* Bad JSON is answered, not fatal. */
    wsc_send_text(&s.c, "{not json");
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "-32700"));
    session_stop(&s);
}

static void test_modern_era_and_one_write_per_read(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    wsc_send_text(&s.c, MODERN_ECHO(1));
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "hi 1"));

    /* Ten requests in one send: ten replies, in order, in one write. */
    mcp_buf burst;
    mcp_buf_init(&burst);
    const char *const msgs[] = {MODERN_ECHO(10), MODERN_ECHO(11), MODERN_ECHO(12), MODERN_ECHO(13),
                                MODERN_ECHO(14), MODERN_ECHO(15), MODERN_ECHO(16), MODERN_ECHO(17),
                                MODERN_ECHO(18), MODERN_ECHO(19)};
    for (int i = 0; i < 10; i++) wsc_frame_append(&burst, true, 1, msgs[i], strlen(msgs[i]), true);
    uint64_t writes_before = counters(&s.f).writes, reads_before = counters(&s.f).reads;
    wsc_send(&s.c, burst.data, burst.len);
    for (int i = 0; i < 10; i++) {
        wsc_read_text(&s.c, &s.text);
        char want[32];
        snprintf(want, sizeof want, "\"id\":%d", 10 + i);
        assert_non_null(strstr(s.text.data, want));
    }
    mcp_net_counters n = counters(&s.f);
    assert_true(n.writes - writes_before <= n.reads - reads_before); /* never more writes than reads */
    mcp_buf_free(&burst);
    session_stop(&s);
}

static void test_fragments_and_ping(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    const char *msg = MODERN_ECHO(7);
    size_t len = strlen(msg), third = len / 3;
    /* Three fragments with a ping between them: pong first, then the reply. */
    wsc_send_frame(&s.c, false, 1, msg, third);
    wsc_send_frame(&s.c, false, 0, msg + third, third);
    wsc_send_frame(&s.c, true, 9, "are you there", 13);
    wsc_send_frame(&s.c, true, 0, msg + 2 * third, len - 2 * third);
    bool fin = false;
    assert_int_equal(wsc_read_frame(&s.c, &s.text, 3000, &fin), 10);
    assert_int_equal(s.text.len, 13);
    assert_memory_equal(s.text.data, "are you there", 13);
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "hi 7"));
    assert_int_equal(counters(&s.f).messages_in, 1);
    session_stop(&s);
}

static void expect_close(wsc *c, unsigned code) {
    mcp_buf payload;
    mcp_buf_init(&payload);
    int op;
    while ((op = wsc_read_frame(c, &payload, 3000, NULL)) == 1) {
    }
    assert_int_equal(op, 8);
    assert_int_equal(wsc_close_code(&payload), code);
    mcp_buf_free(&payload);
}

/* The server's close with code, and then the end of the connection. */
static void expect_close_and_eof(wsc *c, unsigned code) {
    expect_close(c, code);
    assert_true(wsc_wait_eof(c, 3000));
}

static void test_oversized_message_closes_1009(void **state) {
    (void)state;
    mcp_ws_opts opts = {.max_message_size = 1024};
    ws_session s;
    session_start(&s, &opts);
    char big[1500];
    memset(big, ' ', sizeof big);
    /* Fragmented, so only the sum is over the limit. */
    wsc_send_frame(&s.c, false, 1, big, 800);
    wsc_send_frame(&s.c, true, 0, big, 700);
    expect_close_and_eof(&s.c, 1009);
    assert_int_equal(counters(&s.f).oversized, 1);
    assert_int_equal(counters(&s.f).messages_in, 0);
    session_stop(&s);
}

static void test_close_handshake(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    wsc_send_frame(&s.c, true, 8, "\x03\xe8" "bye", 5);
    expect_close_and_eof(&s.c, 1000);
    wsc_close(&s.c);
    assert_int_equal(counters(&s.f).ws_faults, 0);
    fixture_stop(&s.f);
}

static void test_binary_and_unmasked_frames_are_faults(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    wsc_send_frame(&s.c, true, 2, "\x01\x02", 2);
    expect_close_and_eof(&s.c, 1003);
    wsc_close(&s.c);

    ws_open(&s.c, &s.f);
    mcp_buf frame;
    mcp_buf_init(&frame);
    wsc_frame_append(&frame, true, 1, MODERN_ECHO(1), strlen(MODERN_ECHO(1)), false);
    wsc_send(&s.c, frame.data, frame.len);
    expect_close_and_eof(&s.c, 1002);
    mcp_buf_free(&frame);
    wsc_close(&s.c);
    assert_int_equal(counters(&s.f).ws_faults, 2);
    assert_int_equal(counters(&s.f).messages_in, 0);
    fixture_stop(&s.f);
}

static void test_async_reply_and_drain(void **state) {
    (void)state;
    ws_session s;
    session_start(&s, NULL);
    wsc_send_text(&s.c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                      "\"arguments\":{\"ms\":50}," MODERN_META "}}");
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "slept 50 ms"));

    /* A call in flight when the drain starts is answered, then 1001. */
    wsc_send_text(&s.c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                      "\"arguments\":{\"ms\":200}," MODERN_META "}}");
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    mcp_net_stop(s.f.net);
    wsc_read_text(&s.c, &s.text);
    assert_non_null(strstr(s.text.data, "slept 200 ms"));
    expect_close(&s.c, 1001);
    wsc_send_frame(&s.c, true, 8, "\x03\xe8", 2);
    assert_true(wsc_wait_eof(&s.c, 3000));
    session_stop(&s);
}

/* ---- Sans I/O: our reader of plain text frames, and the hand-over to wslay ---------- */
/* One masked text frame of data, fed in two reads: the first `first`
 * bytes of the frame, then the rest (first 0: all in one read). */
static void sans_io_feed_text(sans_io *t, const char *data, size_t len, size_t first) {
    mcp_buf frame;
    mcp_buf_init(&frame);
    wsc_frame_append(&frame, true, 1, data, len, true);
    if (first == 0 || first > frame.len) first = frame.len;
    sans_io_feed(t, frame.data, first);
    if (first < frame.len) sans_io_feed(t, frame.data + first, frame.len - first);
    mcp_buf_free(&frame);
}

/* The next server frame in out from *pos: its opcode, or -1 when none is whole. */
static int next_frame(const mcp_buf *out, size_t *pos, mcp_str *payload) {
    const unsigned char *p = (const unsigned char *)out->data + *pos;
    size_t left = out->len - *pos;
    if (left < 2) return -1;
    assert_int_equal(p[0] & 0x70, 0);
    assert_int_equal(p[1] & 0x80, 0); /* servers never mask */
    size_t n = p[1] & 0x7f, head = 2;
    if (n == 126) {
        n = ((size_t)p[2] << 8) | p[3];
        head = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++) n = (n << 8) | p[2 + i];
        head = 10;
    }
    if (left < head + n) return -1;
    *payload = (mcp_str){(const char *)p + head, n};
    *pos += head + n;
    return p[0] & 0x0f;
}

/* The first frame the server wrote to out is a close with code. */
static void expect_first_frame_closes(const mcp_buf *out, unsigned code) {
    size_t pos = 0;
    mcp_str payload;
    assert_int_equal(next_frame(out, &pos, &payload), 8);
    assert_true(payload.len >= 2);
    assert_int_equal(((unsigned char)payload.ptr[0] << 8) | (unsigned char)payload.ptr[1], code);
}

static void test_frames_split_at_every_byte(void **state) {
    (void)state;
    sans_io t;
    sans_io_start(&t, 0);
    /* Short, 16-bit length, and non-ASCII (valid) text. */
    char long_text[400];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    char msgs[3][800];
    snprintf(msgs[0], sizeof msgs[0], "%s", MODERN_ECHO(1));
    snprintf(msgs[1], sizeof msgs[1],
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"text\":\"%s\"}," MODERN_META "}}", long_text);
    snprintf(msgs[2], sizeof msgs[2],
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"text\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}," MODERN_META "}}");
    mcp_buf stream;
    mcp_buf_init(&stream);
    for (int i = 0; i < 3; i++) wsc_frame_append(&stream, true, 1, msgs[i], strlen(msgs[i]), true);
    for (size_t i = 0; i < stream.len; i++) sans_io_feed(&t, stream.data + i, 1);
    assert_int_equal(t.counters.messages_in, 3);
    size_t pos = 0;
    mcp_str payload;
    const char *const want[] = {"hi 1", long_text, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(next_frame(&t.out, &pos, &payload), 1);
        assert_non_null(memmem(payload.ptr, payload.len, want[i], strlen(want[i])));
    }
    assert_int_equal(pos, t.out.len);
    assert_false(mcp_ws_conn_should_close(t.c));
    mcp_buf_free(&stream);
    sans_io_stop(&t);
}

/* Overlong, surrogate, past U+10FFFF, truncated: each closes with 1007
 * and reaches no handler. */
static void test_invalid_utf8_closes_1007(void **state) {
    (void)state;
    static const char *const bad[] = {"{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
                                      "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sans_io t;
        sans_io_start(&t, 0);
        sans_io_feed_text(&t, bad[i], strlen(bad[i]), 0);
        expect_first_frame_closes(&t.out, 1007);
        assert_int_equal(t.counters.messages_in, 0);
        sans_io_stop(&t);
    }
}

/* Plain text, then a ping (from which wslay reads), then more text, all in
 * one read: replies and the pong come out in the order of the input. */
static void test_hand_over_to_wslay_keeps_order(void **state) {
    (void)state;
    sans_io t;
    sans_io_start(&t, 0);
    mcp_buf stream;
    mcp_buf_init(&stream);
    wsc_frame_append(&stream, true, 1, MODERN_ECHO(1), strlen(MODERN_ECHO(1)), true);
    wsc_frame_append(&stream, true, 9, "ping!", 5, true);
    wsc_frame_append(&stream, true, 1, MODERN_ECHO(2), strlen(MODERN_ECHO(2)), true);
    /* The third frame arrives split: wslay must put it together. */
    sans_io_feed(&t, stream.data, stream.len - 7);
    sans_io_feed(&t, stream.data + stream.len - 7, 7);
    size_t pos = 0;
    mcp_str payload;
    assert_int_equal(next_frame(&t.out, &pos, &payload), 1);
    assert_non_null(memmem(payload.ptr, payload.len, "hi 1", 4));
    assert_int_equal(next_frame(&t.out, &pos, &payload), 10);
    assert_int_equal(payload.len, 5);
    assert_memory_equal(payload.ptr, "ping!", 5);
    assert_int_equal(next_frame(&t.out, &pos, &payload), 1);
    assert_non_null(memmem(payload.ptr, payload.len, "hi 2", 4));
    assert_int_equal(pos, t.out.len);
    assert_int_equal(t.counters.messages_in, 2);
    mcp_buf_free(&stream);
    sans_io_stop(&t);
}

/* One frame over the limit, announced in its header and sent in two
 * reads: 1009, and no handler sees it. */
static void test_oversized_single_frame_closes_1009(void **state) {
    (void)state;
    sans_io t;
    sans_io_start(&t, 1024);
    char big[2000];
    memset(big, ' ', sizeof big);
    sans_io_feed_text(&t, big, sizeof big, 8); /* the header and a little, then the rest */
    expect_first_frame_closes(&t.out, 1009);
    assert_int_equal(t.counters.oversized, 1);
    assert_int_equal(t.counters.messages_in, 0);
    sans_io_stop(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_matches_rfc_example),
        cmocka_unit_test(test_handshake_accepts_and_selects_mcp),
        cmocka_unit_test(test_handshake_refusals),
        cmocka_unit_test(test_handshake_era_round_trip),
        cmocka_unit_test(test_modern_era_and_one_write_per_read),
        cmocka_unit_test(test_fragments_and_ping),
        cmocka_unit_test(test_oversized_message_closes_1009),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_binary_and_unmasked_frames_are_faults),
        cmocka_unit_test(test_async_reply_and_drain),
        cmocka_unit_test(test_frames_split_at_every_byte),
        cmocka_unit_test(test_invalid_utf8_closes_1007),
        cmocka_unit_test(test_hand_over_to_wslay_keeps_order),
        cmocka_unit_test(test_oversized_single_frame_closes_1009),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
