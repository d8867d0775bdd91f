/*
 * Liveness pings over Streamable HTTP (mcp_http_opts.ping_interval_ms and
 * ping_timeout_ms), against real sockets: a session with a GET stream gets
 * ping requests on it; answering keeps the session, silence past the
 * timeout deletes it (its stream ends, its id then gets 404). A session
 * the server cannot reach between requests (no GET stream) is left alone.
 */
#include "test_http_harness.h"

/* The id of the n-th ping request seen on a stream (1-based), or -1. */
static long nth_ping_id(const client *c, int n) {
    static const char head[] = "data: {\"jsonrpc\":\"2.0\",\"id\":";
    const char *p = c->buf;
    for (int seen = 0;;) {
        p = strstr(p, head);
        if (!p) return -1;
        p += sizeof head - 1;
        char *end;
        long id = strtol(p, &end, 10);
        if (strncmp(end, ",\"method\":\"ping\"}", 17) == 0 && ++seen == n) return id;
    }
}

static long wait_ping(client *c, int n, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        long id = nth_ping_id(c, n);
        if (id >= 0) return id;
        client_wait_for(c, "\x01", 20); /* reads whatever arrives meanwhile */
    }
    return nth_ping_id(c, n);
}

static int post_status(int port, const char *sid, const char *body) {
    client c;
    client_open(&c, port);
    char *r = client_exchange(&c, sid, body);
    int status = response_status(r);
    free(r);
    client_close(&c);
    return status;
}

static void answer(int port, const char *sid, long id) {
    char body[96];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{}}", id);
    assert_int_equal(post_status(port, sid, body), 202);
}

static void unanswered_ping_drops_the_session(void **state) {
    (void)state;
    fixture f;
    /* The sweep runs every idle_timeout / 4 = 100 ms here. */
    fixture_start(&f, &(mcp_http_opts){.ping_interval_ms = 200, .ping_timeout_ms = 500},
                  &(mcp_listen){.idle_timeout_ms = 400});
    client c, quiet;
    char sid[64], quiet_sid[64];
    client_open(&c, f.port);
    client_initialize(&c, sid);
    client_close(&c);
    client_open(&quiet, f.port);
    client_initialize(&quiet, quiet_sid);
    client_close(&quiet);

    client d;
    client_open(&d, f.port);
    char raw[256];
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n", sid);
    client_send_str(&d, raw);

    /* Answered pings keep coming and keep the session. */
    long first = wait_ping(&d, 1, 3000);
    assert_true(first >= 0);
    answer(f.port, sid, first);
    long second = wait_ping(&d, 2, 3000);
    assert_true(second >= 0);
    assert_true(second != first);
    answer(f.port, sid, second);
    assert_true(http_counters(&f).pings_sent >= 2);
    assert_int_equal(http_counters(&f).sessions_ping_dropped, 0);

    /* Silence: after the timeout the session goes and its stream ends. */
    assert_true(wait_ping(&d, 3, 3000) >= 0);
    assert_true(client_wait_for(&d, "\r\n0\r\n\r\n", 3000));
    assert_int_equal(http_counters(&f).sessions_ping_dropped, 1);
    assert_int_equal(post_status(f.port, sid, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}"), 404);

    /* The session without a GET stream was never pinged, so never dropped. */
    assert_int_equal(post_status(f.port, quiet_sid, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}"), 200);
    client_close(&d);
    fixture_stop(&f);
}

static void no_pings_unless_asked(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, NULL, &(mcp_listen){.idle_timeout_ms = 400});
    client c, d;
    char sid[64];
    client_open(&c, f.port);
    client_initialize(&c, sid);
    client_close(&c);
    client_open(&d, f.port);
    char raw[256];
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n", sid);
    client_send_str(&d, raw);
    assert_int_equal(wait_ping(&d, 1, 600), -1);
    assert_int_equal(http_counters(&f).pings_sent, 0);
    client_close(&d);
    fixture_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unanswered_ping_drops_the_session),
        cmocka_unit_test(no_pings_unless_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
