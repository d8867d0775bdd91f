/*
 * SSE polling (2025-11-25 Streamable HTTP, SEP-1699) against real sockets:
 * a handler ends its request's SSE stream early with mcp_call_close_stream,
 * the client sees the priming event (id, retry, empty data) and the end of
 * the stream, the connection goes on with the next request, and a GET with
 * Last-Event-ID delivers the reply produced meanwhile. Where the client
 * could not come back (JSON only, the modern era, no HTTP at all) the call
 * says so and the reply comes the ordinary way. The mcpd client follows an
 * early close by itself.
 */
#include "mcp/client.h"
#include "test_http_harness.h"

static int close_rc; /* atomic: what the last mcp_call_close_stream returned */

typedef struct later {
    mcp_call *call;
    unsigned ms;
} later;

static void *later_main(void *arg) {
    later *l = arg;
    sleep_ms(l->ms);
    mcp_call_text(l->call, "polled");
    mcp_call_finish(l->call);
    free(l);
    return NULL;
}

/* Ends its stream, then answers after "ms" (0: at once, in the handler). */
static int tool_poll(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    __atomic_store_n(&close_rc, mcp_call_close_stream(call), __ATOMIC_RELEASE);
    unsigned ms = (unsigned)mcp_json_int(mcp_json_get(args, "ms"), 0);
    if (!ms) return mcp_call_text(call, "polled");
    later *l = malloc(sizeof *l);
    if (!l) return MCP_ENOMEM;
    *l = (later){call, ms};
    pthread_t thread;
    if (pthread_create(&thread, NULL, later_main, l)) {
        free(l);
        return MCP_ENOMEM;
    }
    pthread_detach(thread);
    return MCP_PENDING;
}

static void start(fixture *f, const mcp_http_opts *opts) {
    fixture_start(f, opts, NULL);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "poll", .fn = tool_poll}), 0);
    __atomic_store_n(&close_rc, 1, __ATOMIC_RELEASE);
}

/* A server with the poll tool and a client with an initialized session:
 * sid holds its Mcp-Session-Id header line. */
static void start_session(fixture *f, const mcp_http_opts *opts, client *c, char sid[64]) {
    start(f, opts);
    client_open(c, f->port);
    client_initialize(c, sid);
}

static void get_resume(client *c, const char *sid, const char *last) {
    char raw[512];
    snprintf(raw, sizeof raw,
             "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%sLast-Event-ID: %s\r\n\r\n", sid,
             last);
    client_send_str(c, raw);
}

static void closed_stream_is_polled_for_the_reply(void **state) {
    (void)state;
    fixture f;
    client c;
    char sid[64];
    start_session(&f, &(mcp_http_opts){.sse_retry_ms = 250}, &c, sid);
    char id[40];
    snprintf(id, sizeof id, "%.32s", sid + 16);

    /* The stream ends before the reply: priming event, then the last chunk. */
    char *r = client_exchange(&c, sid,
                              "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"poll\","
                              "\"arguments\":{\"ms\":300}}}");
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), 0);
    assert_int_equal(strncmp(r, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", 50), 0);
    char want[256];
    snprintf(want, sizeof want, "\r\n\r\n3c\r\nid: %s/1#1\nretry: 250\ndata: \n\n\r\n0\r\n\r\n", id);
    assert_non_null(strstr(r, want));
    assert_null(strstr(r, "result"));
    free(r);
    assert_int_equal(http_counters(&f).streams_closed_early, 1);

    /* The connection is free for the next request meanwhile. */
    r = client_exchange(&c, sid, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}");
    assert_string_equal(response_body(r), "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}");
    free(r);

    /* The client comes back (before the reply exists): the GET takes the
     * request over, gets its reply when it comes, and ends. */
    client d;
    client_open(&d, f.port);
    char last[64];
    snprintf(last, sizeof last, "%s/1#1", id);
    get_resume(&d, sid, last);
    r = client_response(&d, 5000);
    assert_non_null(r);
    snprintf(want, sizeof want,
             "id: %s/1#2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[{\"type\":"
             "\"text\",\"text\":\"polled\"}]",
             id);
    assert_non_null(strstr(r, want));
    assert_non_null(strstr(r, "retry: 250\n\n"));
    free(r);

    /* Coming back once more after the reply: it is replayed from the store. */
    get_resume(&d, sid, last);
    r = client_response(&d, 5000);
    assert_non_null(r);
    assert_non_null(strstr(r, want));
    free(r);
    client_close(&d);
    client_close(&c);
    fixture_stop(&f);
}

static void reply_ready_before_the_client_returns(void **state) {
    (void)state;
    fixture f;
    client c;
    char sid[64];
    start_session(&f, NULL, &c, sid);
    char id[40];
    snprintf(id, sizeof id, "%.32s", sid + 16);

    /* Answered in the handler right after the close: the reply waits in the
     * store, not on the closed stream. */
    char *r = client_exchange(&c, sid,
                              "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"poll\","
                              "\"arguments\":{}}}");
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), 0);
    char want[256];
    snprintf(want, sizeof want, "id: %s/1#1\nretry: 1000\ndata: \n\n\r\n0\r\n\r\n", id);
    assert_non_null(strstr(r, want));
    assert_null(strstr(r, "polled"));
    free(r);

    char last[64];
    snprintf(last, sizeof last, "%s/1#1", id);
    get_resume(&c, sid, last);
    r = client_response(&c, 5000);
    assert_non_null(r);
    snprintf(want, sizeof want, "id: %s/1#2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\"", id);
    assert_non_null(strstr(r, want));
    assert_non_null(strstr(r, "\r\n0\r\n\r\n"));
    free(r);
    client_close(&c);
    fixture_stop(&f);
}

static int drop_message(void *user, const char *message, size_t len) {
    (void)message;
    *(size_t *)user += len;
    return 0;
}

static void no_polling_where_the_client_cannot_return(void **state) {
    (void)state;
    fixture f;
    client c;
    char sid[64];
    start_session(&f, NULL, &c, sid);

    /* A client that accepts only JSON has no stream to come back to. */
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"poll\","
                       "\"arguments\":{\"ms\":20}}}";
    char head[512];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
             "%sContent-Length: %zu\r\n\r\n%s",
             sid, strlen(body), body);
    client_send_str(&c, head);
    char *r = client_response(&c, 5000);
    assert_non_null(r);
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), MCP_EUNSUPPORTED);
    assert_non_null(strstr(r, "Content-Type: application/json"));
    assert_non_null(strstr(response_body(r), "\"id\":4,\"result\""));
    free(r);

    /* The modern era has no event store and no resumption. */
    client m;
    client_open(&m, f.port);
    r = client_exchange(&m, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: poll\r\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"poll\","
                        "\"arguments\":{}," MODERN_META "}}");
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), MCP_EUNSUPPORTED);
    assert_non_null(strstr(response_body(r), "\"id\":6,\"result\":{\"resultType\":\"complete\""));
    free(r);
    assert_int_equal(http_counters(&f).streams_closed_early, 0);
    client_close(&m);
    client_close(&c);
    fixture_stop(&f);

    /* A session on a transport without streams (here: a plain sink). */
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "poll", .fn = tool_poll}), 0);
    size_t written = 0;
    mcp_session *session = mcp_session_new(s, &(mcp_sink){.write = drop_message, .user = &written});
    assert_int_equal(mcp_session_handle(session, INIT_BODY, strlen(INIT_BODY)), 0);
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"poll\"}}";
    assert_int_equal(mcp_session_handle(session, call, strlen(call)), 0);
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), MCP_EUNSUPPORTED);
    assert_true(written > 0);
    mcp_session_free(session);
    mcp_server_free(s);
    assert_int_equal(mcp_call_close_stream(NULL), MCP_EINVAL);
}

/* The mcpd client: the stream ends, it waits the retry time, resumes with
 * Last-Event-ID and returns the reply as if nothing happened. */
static void mcpd_client_polls_by_itself(void **state) {
    (void)state;
    fixture f;
    start(&f, &(mcp_http_opts){.sse_retry_ms = 100});
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", f.port);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_http(url, NULL, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .protocol_version = "2025-11-25", .transport = t, .timeout_ms = 10000, .no_cache = true});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    for (int round = 0; round < 2; round++) {
        mcp_client_result r;
        uint64_t started = mcp_now_ns();
        int status = mcp_client_call_sync(c, "tools/call", round ? "{\"name\":\"poll\",\"arguments\":{}}"
                                                                 : "{\"name\":\"poll\",\"arguments\":{\"ms\":300}}",
                                          NULL, &r);
        assert_int_equal(status, 0);
        assert_non_null(strstr(r.json, "\"text\":\"polled\""));
        mcp_client_result_free(&r);
        /* It came back no sooner than the stream's retry time said. */
        assert_true(mcp_now_ns() - started >= 100u * 1000000u);
    }
    assert_int_equal(__atomic_load_n(&close_rc, __ATOMIC_ACQUIRE), 0);
    mcp_http_counters hc = http_counters(&f);
    assert_int_equal(hc.streams_closed_early, 2);
    assert_true(hc.events_replayed >= 1); /* the second reply was waiting in the store */
    mcp_client_free(c);
    fixture_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_stream_is_polled_for_the_reply),
        cmocka_unit_test(reply_ready_before_the_client_returns),
        cmocka_unit_test(no_polling_where_the_client_cannot_return),
        cmocka_unit_test(mcpd_client_polls_by_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
