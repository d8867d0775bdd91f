/*
 * Streamable HTTP streams against real sockets: the GET stream receiving
 * notifications not tied to a request, Last-Event-ID resumption of a GET
 * stream and of a POST stream whose request outlived its connection,
 * DELETE ending a stream, keep-alive comments, cancellation by closing a
 * modern response stream, asynchronous replies crossing threads, and a
 * graceful stop with a call in flight.
 */
#include "test_http_session.h"

static uint64_t net_closed(const fixture *f) {
    mcp_net_counters c;
    mcp_net_counters_get(f->net, &c);
    return c.closed;
}

static bool wait_closed(const fixture *f, uint64_t want) {
    for (int i = 0; i < 400; i++) {
        if (net_closed(f) >= want) return true;
        sleep_ms(5);
    }
    return false;
}

static void open_get(client *c, const char *sid, const char *last_event_id) {
    char raw[512];
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s%s\r\n", sid,
             last_event_id ? "Last-Event-ID: " : "", last_event_id ? last_event_id : "", last_event_id ? "\r\n" : "");
    client_send_str(c, raw);
    assert_true(client_wait_for(c, "\r\n\r\n", 5000));
    assert_int_equal(strncmp(c->buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n", 78), 0);
}

static void add_tool(const fixture *f, const char *name) {
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = name, .fn = tool_echo}), 0);
}

static void get_stream_gets_notifications_and_resumes(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, NULL, NULL);
    client c, d;
    client_open(&c, f.port);
    char sid[64];
    client_initialize(&c, sid);
    char id[40];
    snprintf(id, sizeof id, "%.32s", sid + 16);

    client_open(&d, f.port);
    open_get(&d, sid, NULL);
    /* The stream opens with its priming event: an id, the retry time, no data. */
    char want[256];
    snprintf(want, sizeof want, "\r\nid: %s/0#1\nretry: 1000\ndata: \n\n\r\n", id);
    assert_true(client_wait_for(&d, want, 5000));
    /* A second live GET stream for the same session is refused. */
    client e;
    client_open(&e, f.port);
    char raw[512];
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n", sid);
    client_send_str(&e, raw);
    char *r = client_response(&e, 5000);
    assert_int_equal(response_status(r), 409);
    free(r);
    client_close(&e);

    /* A registry change reaches the session on its GET stream. */
    add_tool(&f, "extra1");
    snprintf(want, sizeof want,
             "id: %s/0#2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"", id);
    assert_true(client_wait_for(&d, want, 5000));

    /* The client goes away; what happens meanwhile is kept. */
    uint64_t closed = net_closed(&f);
    client_close(&d);
    assert_true(wait_closed(&f, closed + 1));
    add_tool(&f, "extra2");

    char last[64];
    snprintf(last, sizeof last, "%s/0#2", id);
    client_open(&e, f.port);
    open_get(&e, sid, last);
    /* A resumed stream gets the retry time again but no new id: one would
     * sort after the events replayed behind it. */
    assert_true(client_wait_for(&e, "\r\nretry: 1000\n\n\r\n", 5000));
    snprintf(want, sizeof want, "id: %s/0#3\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"",
             id);
    assert_true(client_wait_for(&e, want, 5000));
    /* And the resumed stream is live again. */
    add_tool(&f, "extra3");
    snprintf(want, sizeof want, "id: %s/0#4\n", id);
    assert_true(client_wait_for(&e, want, 5000));
    assert_true(http_counters(&f).events_replayed >= 1);

    /* A Last-Event-ID we never issued. */
    client g;
    client_open(&g, f.port);
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%sLast-Event-ID: %s/0#99\r\n\r\n",
             sid, id);
    client_send_str(&g, raw);
    r = client_response(&g, 5000);
    assert_int_equal(response_status(r), 400);
    free(r);
    client_close(&g);

    /* DELETE ends the session's stream: the last chunk arrives. */
    char del[256];
    snprintf(del, sizeof del, "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", sid);
    client_send_str(&c, del);
    r = client_response(&c, 5000);
    assert_string_equal(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    free(r);
    assert_true(client_wait_for(&e, "\r\n0\r\n\r\n", 5000));
    client_close(&e);
    client_close(&c);
    fixture_stop(&f);
}

static void post_stream_resumes_after_its_connection_died(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, NULL);
    char id[40];
    snprintf(id, sizeof id, "%.32s", s.sid + 16);

    /* A slow call with a progress token: progress opens an SSE stream. */
    client_post(&s.c, s.sid,
                "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                "\"arguments\":{\"ms\":300},\"_meta\":{\"progressToken\":7}}}");
    char want[128];
    snprintf(want, sizeof want, "id: %s/1#2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"", id);
    assert_true(client_wait_for(&s.c, want, 5000));
    uint64_t closed = net_closed(&s.f);
    client_close(&s.c); /* handshake era: not a cancellation */
    assert_true(wait_closed(&s.f, closed + 1));
    sleep_ms(400);    /* the reply is produced while nobody listens */

    client d;
    client_open(&d, s.f.port);
    char last[64];
    snprintf(last, sizeof last, "%s/1#2", id);
    open_get(&d, s.sid, last);
    snprintf(want, sizeof want, "id: %s/1#3\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\"", id);
    assert_true(client_wait_for(&d, want, 5000));
    assert_true(client_wait_for(&d, "\r\n0\r\n\r\n", 5000));
    client_close(&d);
    fixture_stop(&s.f);
}

static void async_replies_cross_threads(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, &(mcp_listen){.workers = 2});
    /* JSON: the reply comes from the tool's thread. */
    char *r = client_exchange(&s.c, s.sid,
                              "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                              "\"arguments\":{\"ms\":50}}}");
    assert_string_equal(response_body(r),
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"slept\"}]}}");
    free(r);
    /* SSE: progress and reply both from the tool's thread, routed by token. */
    r = client_exchange(&s.c, s.sid,
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                        "\"arguments\":{\"ms\":50},\"_meta\":{\"progressToken\":\"p3\"}}}");
    assert_non_null(strstr(r, "\"progressToken\":\"p3\""));
    assert_non_null(strstr(r, "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\""));
    free(r);
    /* A request pipelined behind a slow one waits for it: order holds. */
    client_post(&s.c, s.sid,
                "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                "\"arguments\":{\"ms\":100}}}");
    client_post(&s.c, s.sid,
                "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                "\"arguments\":{\"text\":\"fast\"}}}");
    r = client_response(&s.c, 5000);
    assert_non_null(strstr(response_body(r), "\"id\":4"));
    free(r);
    r = client_response(&s.c, 5000);
    assert_non_null(strstr(response_body(r), "\"id\":5"));
    free(r);

    /* Modern era, asynchronous. */
    client m;
    client_open(&m, s.f.port);
    r = client_exchange(&m, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: slow\r\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                        "\"arguments\":{\"ms\":30}," MODERN_META "}}");
    assert_int_equal(response_status(r), 200);
    assert_non_null(strstr(response_body(r), "\"id\":6,\"result\":{\"resultType\":\"complete\""));
    free(r);
    client_close(&m);
    http_session_stop(&s);
}

/* More pipelined requests than max_pipeline behind a slow one: reading
 * pauses, the rest waits unparsed, and every answer comes, in order. */
static void pipeline_limit_holds_input_back(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, &(mcp_http_opts){.max_pipeline = 2}, NULL);
    char raw[8192] = "";
    for (int i = 0; i < 6; i++) {
        char body[256];
        if (i == 0)
            snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
                                        "{\"name\":\"slow\",\"arguments\":{\"ms\":100}}}", 10 + i);
        else
            snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
                                        "{\"name\":\"echo\",\"arguments\":{\"text\":\"n%d\"}}}", 10 + i, i);
        snprintf(raw + strlen(raw), sizeof raw - strlen(raw),
                 "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
                 s.sid, strlen(body), body);
    }
    client_send_str(&s.c, raw);
    for (int i = 0; i < 6; i++) {
        char *r = client_response(&s.c, 5000);
        assert_non_null(r);
        char want[32];
        snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%d,", 10 + i);
        assert_int_equal(strncmp(response_body(r), want, strlen(want)), 0);
        free(r);
    }
    http_session_stop(&s);
}

static void closing_a_modern_stream_cancels_the_call(void **state) {
    (void)state;
    __atomic_store_n(&cancel_observed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&cancel_started, 0, __ATOMIC_RELEASE);
    http_session s;
    http_connect(&s, NULL, NULL);
    client_post(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: cancellable\r\n",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"cancellable\","
                "\"arguments\":{\"ms\":10000}," MODERN_META "}}");
    for (int i = 0; i < 400 && !__atomic_load_n(&cancel_started, __ATOMIC_ACQUIRE); i++) sleep_ms(5);
    assert_true(__atomic_load_n(&cancel_started, __ATOMIC_ACQUIRE));
    uint64_t t0 = mcp_now_ns();
    client_close(&s.c);
    while (!__atomic_load_n(&cancel_observed, __ATOMIC_ACQUIRE) && mcp_now_ns() - t0 < 3000000000ull) sleep_ms(5);
    assert_true(__atomic_load_n(&cancel_observed, __ATOMIC_ACQUIRE));
    assert_int_equal(http_counters(&s.f).cancelled_by_close, 1);
    fixture_stop(&s.f);
}

/* Modern era: subscriptions/listen answers with a stream that stays open
 * and carries the change notifications it asked for. */
static void modern_listen_stream_carries_changes(void **state) {
    (void)state;
    http_session s;
    http_connect(&s, NULL, NULL);
    client_post(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: subscriptions/listen\r\n",
                "{\"jsonrpc\":\"2.0\",\"id\":\"L1\",\"method\":\"subscriptions/listen\",\"params\":{"
                "\"notifications\":{\"toolsListChanged\":true}," MODERN_META "}}");
    assert_true(client_wait_for(&s.c, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\"", 5000));
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";
    assert_int_equal(strncmp(s.c.buf, head, sizeof head - 1), 0);
    add_tool(&s.f, "listened");
    assert_true(client_wait_for(&s.c, "\"method\":\"notifications/tools/list_changed\"", 5000));
    assert_non_null(memmem(s.c.buf, s.c.len, "\"io.modelcontextprotocol/subscriptionId\":\"L1\"", 42));
    /* Modern streams are not resumable: no event ids. */
    assert_null(memmem(s.c.buf, s.c.len, "\nid: ", 5));
    /* A graceful stop ends the listen with its final result, then closes. */
    mcp_net_stop(s.f.net);
    assert_true(client_wait_for(&s.c, "data: {\"jsonrpc\":\"2.0\",\"id\":\"L1\",\"result\"", 5000));
    assert_true(client_wait_for(&s.c, "\r\n0\r\n\r\n", 5000));
    assert_true(client_wait_eof(&s.c, 5000));
    mcp_net_counters nc;
    mcp_net_counters_get(s.f.net, &nc);
    assert_int_equal(nc.drain_forced, 0);
    http_session_stop(&s);
}

static void quiet_streams_get_keep_alive_comments(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, &(mcp_http_opts){.keepalive_ms = 100}, NULL);
    client d;
    client_open(&d, s.f.port);
    open_get(&d, s.sid, NULL);
    /* The comment is its own chunk: "e\r\n: keep-alive\n\n\r\n". */
    assert_true(client_wait_for(&d, "\r\ne\r\n: keep-alive\n\n\r\n", 4000));
    assert_true(http_counters(&s.f).keepalives >= 1);
    client_close(&d);
    http_session_stop(&s);
}

typedef struct stopper {
    mcp_net *net;
    unsigned delay_ms;
} stopper;

static void *stop_main(void *p) {
    stopper *s = p;
    sleep_ms(s->delay_ms);
    mcp_net_stop(s->net);
    return NULL;
}

static void graceful_stop_answers_the_call_in_flight(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, NULL);
    client d;
    client_open(&d, s.f.port);
    open_get(&d, s.sid, NULL);
    client_post(&s.c, s.sid,
                "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                "\"arguments\":{\"ms\":300}}}");
    stopper stop = {s.f.net, 50};
    pthread_t t;
    pthread_create(&t, NULL, stop_main, &stop);
    char *r = client_response(&s.c, 5000);
    assert_non_null(r);
    assert_string_equal(response_body(r),
                        "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"slept\"}]}}");
    free(r);
    assert_true(client_wait_eof(&s.c, 5000));
    /* The GET stream was ended properly, then closed. */
    assert_true(client_wait_for(&d, "\r\n0\r\n\r\n", 5000));
    assert_true(client_wait_eof(&d, 5000));
    pthread_join(t, NULL);
    assert_int_equal(mcp_net_wait(s.f.net), 0);
    mcp_net_counters nc;
    mcp_net_counters_get(s.f.net, &nc);
    assert_int_equal(nc.drain_forced, 0);
    client_close(&s.c);
    client_close(&d);
    fixture_stop(&s.f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_stream_gets_notifications_and_resumes),
        cmocka_unit_test(post_stream_resumes_after_its_connection_died),
        cmocka_unit_test(async_replies_cross_threads),
        cmocka_unit_test(pipeline_limit_holds_input_back),
        cmocka_unit_test(closing_a_modern_stream_cancels_the_call),
        cmocka_unit_test(modern_listen_stream_carries_changes),
        cmocka_unit_test(quiet_streams_get_keep_alive_comments),
        cmocka_unit_test(graceful_stop_answers_the_call_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
