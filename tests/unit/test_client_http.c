/*
 * test_client_http.c — the Streamable HTTP connector against our own
 * HTTP server in this process (so that its counters can witness sessions,
 * deletes and cancellations), both eras: list/call/read/get, progress over
 * SSE, cancellation (a closed stream in 2026-07-28, notifications/cancelled
 * in the handshake era), session reuse and DELETE, a 404 for a session the
 * server no longer knows, server notifications on the GET stream, and URL
 * errors. Resumption after a dropped stream is in test_client_http_resume.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "net/http_internal.h"
#include "test_http_harness.h"

static int read_note(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "a note", 6);
}

static int get_hello(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return mcp_call_prompt_message(call, "user", mcp_json_str(mcp_json_get(args, "who"), "nobody"));
}

static void start(fixture *f)
{
    fixture_start(f, NULL, NULL);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "test://note", .name = "note",
                                                                        .fn = read_note}),
                     0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "hello", .fn = get_hello}), 0);
}

/* The transport of the client connect_to made last (the client owns it). */
static mcp_client_transport *transport;

static mcp_client *connect_to(const fixture *f, const char *version, const mcp_connect_opts *copts,
                              mcp_client_notify_fn on_note, void *user)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", f->port);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_http(url, copts, &t), 0);
    transport = t;
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = version, .transport = t,
                                                      .timeout_ms = 10000, .on_notification = on_note,
                                                      .user = user, .no_cache = true});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    return c;
}

static void expect_call(mcp_client *c, const char *method, const char *params, const char *needle)
{
    mcp_client_result r;
    int status = mcp_client_call_sync(c, method, params, NULL, &r);
    if (status != 0)
        fail_msg("%s: status %d %s", method, status, r.json ? r.json : "");
    if (!strstr(r.json, needle))
        fail_msg("%s: '%s' not in %s", method, needle, r.json);
    mcp_client_result_free(&r);
}

static void exercise(mcp_client *c)
{
    expect_call(c, "tools/list", NULL, "\"cancellable\"");
    expect_call(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi there\"}}", "hi there");
    expect_call(c, "resources/read", "{\"uri\":\"test://note\"}", "a note");
    expect_call(c, "prompts/get", "{\"name\":\"hello\",\"arguments\":{\"who\":\"Ada\"}}", "Ada");
}

static mcp_http_counters server_counters(const fixture *f)
{
    mcp_http_counters c;
    mcp_http_counters_get(mcp_net_http(f->net), &c);
    return c;
}

static void handshake_session_reused_then_deleted(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    mcp_client *c = connect_to(&f, "2025-11-25", NULL, NULL, NULL);
    assert_string_equal(mcp_client_protocol_version(c), "2025-11-25");
    mcp_client_transport *t = transport;
    const char *sid = mcp_http_client_session_id(t);
    assert_non_null(sid);
    char first[128];
    snprintf(first, sizeof first, "%s", sid);
    exercise(c);
    assert_string_equal(mcp_http_client_session_id(t), first);
    mcp_http_client_stats s;
    assert_int_equal(mcp_http_client_stats_get(t, &s), 0);
    assert_true(s.posts >= 6);           /* initialize, initialized, four requests */
    assert_true(s.connections_reused > 0);
    assert_true(s.connections_opened < s.posts);
    mcp_http_counters before = server_counters(&f);
    assert_int_equal(before.sessions_created, 1);
    assert_int_equal(before.sessions_deleted, 0);
    assert_int_equal(mcp_http_server_session_count(mcp_net_http(f.net)), 1);
    mcp_client_free(c);
    mcp_http_counters after = server_counters(&f);
    assert_int_equal(after.sessions_deleted, 1);
    assert_int_equal(mcp_http_server_session_count(mcp_net_http(f.net)), 0);
    fixture_stop(&f);
}

static void modern_era_is_stateless(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    /* Auto negotiation finds 2026-07-28 through server/discover. */
    mcp_client *c = connect_to(&f, NULL, NULL, NULL, NULL);
    assert_string_equal(mcp_client_protocol_version(c), "2026-07-28");
    exercise(c);
    assert_null(mcp_http_client_session_id(transport));
    mcp_http_counters hc = server_counters(&f);
    assert_int_equal(hc.sessions_created, 0);
    assert_int_equal(hc.header_mismatch, 0);
    mcp_client_free(c);
    fixture_stop(&f);
}

typedef struct progress_seen {
    int count;
    double last;
} progress_seen;

static void on_progress(void *user, double progress, double total, const char *message)
{
    (void)total;
    (void)message;
    progress_seen *p = user;
    p->count++;
    p->last = progress;
}

static void progress_in_era(const char *version)
{
    fixture f;
    fixture_start(&f, &(mcp_http_opts){.prefer_sse = true}, NULL);
    mcp_client *c = connect_to(&f, version, NULL, NULL, NULL);
    progress_seen seen = {0};
    mcp_client_result r;
    int status = mcp_client_call_sync(c, "tools/call", "{\"name\":\"progress\",\"arguments\":{}}",
                                      &(mcp_client_request_opts){.progress = true, .on_progress = on_progress,
                                                                 .progress_user = &seen},
                                      &r);
    assert_int_equal(status, 0);
    assert_non_null(strstr(r.json, "progressed"));
    mcp_client_result_free(&r);
    assert_int_equal(seen.count, 2);
    assert_true(seen.last == 2);
    mcp_http_client_stats s;
    mcp_http_client_stats_get(transport, &s);
    assert_true(s.sse_responses >= 1);
    mcp_client_free(c);
    fixture_stop(&f);
}

static void progress_handshake(void **state)
{
    (void)state;
    progress_in_era("2025-11-25");
}

static void progress_modern(void **state)
{
    (void)state;
    progress_in_era("2026-07-28");
}

static void cancel_in_era(const char *version)
{
    fixture f;
    start(&f);
    __atomic_store_n(&cancel_observed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&cancel_started, 0, __ATOMIC_RELEASE);
    mcp_client *c = connect_to(&f, version, NULL, NULL, NULL);
    int64_t id = 0;
    assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"cancellable\",\"arguments\":{\"ms\":8000}}",
                                        NULL, NULL, NULL, &id),
                     0);
    for (int i = 0; i < 400 && !__atomic_load_n(&cancel_started, __ATOMIC_ACQUIRE); i++)
        mcp_client_pump(c, 5);
    assert_true(__atomic_load_n(&cancel_started, __ATOMIC_ACQUIRE));
    uint64_t t0 = mcp_now_ns();
    assert_int_equal(mcp_client_cancel(c, id, "test"), 0);
    for (int i = 0; i < 400 && !__atomic_load_n(&cancel_observed, __ATOMIC_ACQUIRE); i++) {
        mcp_client_pump(c, 5);
    }
    assert_true(__atomic_load_n(&cancel_observed, __ATOMIC_ACQUIRE));
    assert_true(mcp_now_ns() - t0 < 3000000000ull); /* long before the tool's 8 s */
    mcp_http_client_stats s;
    mcp_http_client_stats_get(transport, &s);
    assert_int_equal(s.streams_cancelled, 1);
    if (!strcmp(version, "2026-07-28")) {
        mcp_http_counters hc = server_counters(&f);
        assert_int_equal(hc.cancelled_by_close, 1);
    }
    /* The client goes on working after a cancellation. */
    expect_call(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"after\"}}", "after");
    mcp_client_free(c);
    fixture_stop(&f);
}

static void cancel_handshake(void **state)
{
    (void)state;
    cancel_in_era("2025-11-25");
}

static void cancel_modern(void **state)
{
    (void)state;
    cancel_in_era("2026-07-28");
}

/* DELETE the session behind the client's back: the next request fails with
 * a clear 404. */
static void unknown_session_is_reported(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    mcp_client *c = connect_to(&f, "2025-11-25", NULL, NULL, NULL);
    const char *sid = mcp_http_client_session_id(transport);
    assert_non_null(sid);
    assert_int_equal(mcp_http_session_delete(mcp_net_http(f.net), (mcp_str){sid, strlen(sid)}), 0);
    mcp_client_result r;
    int status = mcp_client_call_sync(c, "tools/list", NULL, NULL, &r);
    assert_int_equal(status, MCP_CLIENT_RPC_ERROR);
    assert_non_null(strstr(r.json, "HTTP 404"));
    assert_non_null(strstr(r.json, "no longer knows session"));
    mcp_client_result_free(&r);
    /* The dead session id is forgotten: nothing to DELETE at the end. */
    assert_null(mcp_http_client_session_id(transport));
    mcp_client_free(c);
    fixture_stop(&f);
}

typedef struct notes {
    int list_changed;
} notes;

static void on_note(void *user, const char *method, const mcp_json *params)
{
    (void)params;
    notes *n = user;
    if (!strcmp(method, "notifications/tools/list_changed"))
        n->list_changed++;
}

static void get_stream_carries_server_notifications(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    notes n = {0};
    mcp_client *c = connect_to(&f, "2025-11-25", &(mcp_connect_opts){.http_get_stream = true}, on_note, &n);
    mcp_http_client_stats s;
    mcp_http_client_stats_get(transport, &s);
    assert_int_equal(s.get_streams, 1);
    expect_call(c, "tools/list", NULL, "echo");
    /* The client opened its GET stream; a change is only announced on it
     * once the server has taken it (it registers the stream, then answers
     * with the event-stream head, the only SSE answer here), and only to a
     * session whose notifications/initialized it has: the client posts that
     * without waiting for its 202, so it may still be on its way. The
     * client is pumped meanwhile, or a post still in progress would stay
     * where it is. */
    mcp_http_counters hc = {0};
    for (int i = 0; i < 500 && (hc.responses_sse == 0 || hc.accepted_202 == 0); i++) {
        mcp_http_counters_get(mcp_net_http(f.net), &hc);
        if (hc.responses_sse == 0 || hc.accepted_202 == 0)
            mcp_client_pump(c, 10);
    }
    assert_int_equal(hc.responses_sse, 1);
    assert_int_equal(hc.accepted_202, 1);
    assert_int_equal(mcp_server_add_tool(f.server, &(mcp_tool){.name = "late", .fn = tool_echo}), 0);
    for (int i = 0; i < 500 && n.list_changed == 0; i++)
        mcp_client_pump(c, 10);
    assert_int_equal(n.list_changed, 1);
    mcp_client_free(c);
    fixture_stop(&f);
}

static void bad_targets(void **state)
{
    (void)state;
    mcp_client_transport *t = NULL;
    /* https is dialled (TLS itself: test_client_tls_https.c); nothing listens on port 1. */
    assert_int_equal(mcp_connect_http("https://127.0.0.1:1/mcp", NULL, &t), MCP_EIO);
    assert_int_equal(mcp_connect_http("ftp://127.0.0.1/", NULL, &t), MCP_EINVAL);
    assert_int_equal(mcp_connect_http("http://", NULL, &t), MCP_EINVAL);
    assert_int_equal(mcp_connect_http("http://127.0.0.1:80x/mcp", NULL, &t), MCP_EINVAL);
    assert_int_equal(mcp_connect_http("http://[::1/mcp", NULL, &t), MCP_EINVAL);
    /* The path goes into the request line as written: a space, a line
     * break or another control character would end it or inject headers. */
    assert_int_equal(mcp_connect_http("http://127.0.0.1:1/a b", NULL, &t), MCP_EINVAL);
    assert_int_equal(mcp_connect_http("http://127.0.0.1:1/mcp\r\nX-Injected: 1", NULL, &t), MCP_EINVAL);
    assert_int_equal(mcp_connect_http("http://127.0.0.1:1/mcp\t", NULL, &t), MCP_EINVAL);
    assert_null(t);
    /* Nothing listens on a port we just had and closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", ntohs(a.sin_port));
    assert_int_equal(mcp_connect_http(url, NULL, &t), MCP_EIO);
    assert_null(mcp_http_client_session_id(NULL));
}

/* The server checks Mcp-Param-Region against the body and refuses a call
 * without it; once the client has listed tools, it sends the header (base64
 * for a non-ASCII value) and the call goes through. */
static void param_headers_follow_listing(void **state)
{
    (void)state;
    fixture f;
    start(&f);
    mcp_client *c = connect_to(&f, "2026-07-28", NULL, NULL, NULL);
    const char *call = "{\"name\":\"regional\",\"arguments\":{\"text\":\"routed\",\"region\":\"Z\u00fcrich\"}}";
    mcp_client_result r;
    assert_int_not_equal(mcp_client_call_sync(c, "tools/call", call, NULL, &r), 0);
    mcp_client_result_free(&r);
    expect_call(c, "tools/list", NULL, "\"regional\"");
    expect_call(c, "tools/call", call, "routed");
    /* An argument that contradicts its annotated type is not sent. */
    assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"regional\",\"arguments\":{\"region\":5}}",
                                          NULL, &r),
                     MCP_EINVAL);
    mcp_client_result_free(&r);
    expect_call(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"still fine\"}}", "still fine");
    mcp_client_free(c);
    fixture_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_session_reused_then_deleted),
        cmocka_unit_test(modern_era_is_stateless),
        cmocka_unit_test(progress_handshake),
        cmocka_unit_test(progress_modern),
        cmocka_unit_test(cancel_handshake),
        cmocka_unit_test(cancel_modern),
        cmocka_unit_test(unknown_session_is_reported),
        cmocka_unit_test(get_stream_carries_server_notifications),
        cmocka_unit_test(bad_targets),
        cmocka_unit_test(param_headers_follow_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
