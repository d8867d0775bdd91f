/*
 * test_client_observe.c — the client's reports to an observer: a request
 * it sends is reported with its target and id and carries the report's
 * traceparent; a report begun before any client has the request
 * (mcp_client_observe_begin, what pools and batchers do on the caller's
 * thread) is read the same way, and the client that is given it ends it
 * whatever becomes of the request: a reply, a failure to send, an answer
 * from the cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_peer.h"

#define PARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* One report as the observer saw it. */
typedef struct report {
    char method[32];
    char target[32];
    char transport[16];
    char version[16];
    char parent[64];
    bool has_id;
    int exits;
    int ends;
    mcp_request_outcome outcome;
} report;

typedef struct reports {
    report items[8];
    int count;
} reports;

static void copy_str(char *out, size_t size, mcp_str s)
{
    snprintf(out, size, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

static void *on_start(void *user, const mcp_request_info *info)
{
    reports *r = user;
    assert_true(r->count < 8);
    assert_true(info->client);
    report *it = &r->items[r->count++];
    copy_str(it->method, sizeof it->method, info->method);
    copy_str(it->target, sizeof it->target, info->target);
    copy_str(it->parent, sizeof it->parent, info->traceparent);
    snprintf(it->transport, sizeof it->transport, "%s", info->transport ? info->transport : "");
    snprintf(it->version, sizeof it->version, "%s", info->protocol_version ? info->protocol_version : "");
    it->has_id = info->request_id.len > 0;
    return it;
}

static void on_end(void *user, void *handle, const mcp_request_outcome *seen)
{
    (void)user;
    report *it = handle;
    it->ends++;
    it->outcome = *seen;
}

static void on_handler_exit(void *user, void *handle)
{
    (void)user;
    ((report *)handle)->exits++;
}

/* Each report's traceparent names it by its place in the list. */
static int traceparent_of(void *user, void *handle, char out[MCP_TRACEPARENT_TEXT_LEN + 1])
{
    reports *r = user;
    int n = (int)((report *)handle - r->items);
    snprintf(out, MCP_TRACEPARENT_TEXT_LEN + 1, "00-%032d-%016d-01", n, n);
    return 0;
}

typedef struct fixture {
    peer peer;
    reports reports;
    mcp_observer observer;
    mcp_client *client;
} fixture;

static fixture *fixture_new(bool ready)
{
    fixture *f = calloc(1, sizeof *f);
    f->observer = (mcp_observer){.on_request_start = on_start,
                                 .on_request_end = on_end,
                                 .on_handler_exit = on_handler_exit,
                                 .traceparent = traceparent_of,
                                 .user = &f->reports};
    f->client = peer_client_new(&f->peer, (mcp_client_opts){.protocol_version = "2026-07-28",
                                                            .observer = &f->observer});
    if (ready) {
        assert_int_equal(mcp_client_start(f->client, NULL, NULL), 0);
        assert_true(mcp_client_is_ready(f->client));
    }
    return f;
}

static void fixture_free(fixture *f)
{
    mcp_client_free(f->client);
    peer_free(&f->peer);
    free(f);
}

static const char *sent_traceparent(fixture *f)
{
    return mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_get(last_sent(&f->peer), "params"), "_meta"),
                                     "traceparent"),
                        "");
}

static void reply_to_last(fixture *f, const char *result)
{
    char text[512];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}",
             (long long)mcp_json_int(mcp_json_get(last_sent(&f->peer), "id"), 0), result);
    feed(f->client, text);
}

static void test_sent_request_is_reported(void **state)
{
    (void)state;
    fixture *f = fixture_new(true);
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"echo\",\"_meta\":{\"traceparent\":\"" PARENT "\"}}",
                                        NULL, on_done, &o, NULL),
                     0);
    assert_int_equal(f->reports.count, 1);
    report *it = &f->reports.items[0];
    assert_string_equal(it->method, "tools/call");
    assert_string_equal(it->target, "echo");
    assert_string_equal(it->parent, PARENT);
    assert_string_equal(it->version, "2026-07-28");
    assert_true(it->has_id);
    assert_int_equal(it->exits, 1);
    assert_int_equal(it->ends, 0);
    assert_string_equal(sent_traceparent(f), "00-00000000000000000000000000000000-0000000000000000-01");

    reply_to_last(f, "{\"resultType\":\"complete\",\"content\":[],\"isError\":true}");
    assert_int_equal(o.status, 0);
    assert_int_equal(it->ends, 1);
    assert_true(it->outcome.tool_error);
    assert_int_equal(it->outcome.rpc_code, 0);
    fixture_free(f);
}

static void test_begun_report_is_carried_and_ended(void **state)
{
    (void)state;
    fixture *f = fixture_new(true);
    void *handle = mcp_client_observe_begin(&f->observer, "tools/call",
                                            "{\"name\":\"add\",\"_meta\":{\"traceparent\":\"" PARENT "\"}}",
                                            "2025-11-25", "tcp");
    assert_ptr_equal(handle, &f->reports.items[0]);
    report *it = handle;
    assert_string_equal(it->method, "tools/call");
    assert_string_equal(it->target, "add");
    assert_string_equal(it->parent, PARENT);
    assert_string_equal(it->transport, "tcp");
    assert_string_equal(it->version, "2025-11-25");
    assert_false(it->has_id); /* no client has numbered it yet */
    assert_int_equal(it->exits, 1);

    /* Sending it begins no second report and sends the begun one's context. */
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"add\"}",
                                        &(mcp_client_request_opts){.observe_handle = handle}, on_done, &o, NULL),
                     0);
    assert_int_equal(f->reports.count, 1);
    assert_int_equal(it->exits, 1);
    assert_string_equal(sent_traceparent(f), "00-00000000000000000000000000000000-0000000000000000-01");

    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,\"message\":\"bad args\"}}");
    assert_int_equal(o.status, MCP_CLIENT_RPC_ERROR);
    assert_int_equal(it->ends, 1);
    assert_int_equal(it->outcome.rpc_code, -32602);
    assert_string_equal(it->outcome.message, "bad args");
    fixture_free(f);
}

static void test_begun_report_ends_when_not_sent(void **state)
{
    (void)state;
    /* Not ready yet: refused, and the report ends with that failure. */
    fixture *f = fixture_new(false);
    void *handle = mcp_client_observe_begin(&f->observer, "tools/list", NULL, NULL, NULL);
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL,
                                        &(mcp_client_request_opts){.observe_handle = handle}, on_done, &o, NULL),
                     MCP_EAGAIN);
    report *it = handle;
    assert_int_equal(it->ends, 1);
    assert_int_equal(it->outcome.rpc_code, -32603);
    assert_string_equal(it->outcome.message, mcp_strerror(MCP_EAGAIN));
    assert_int_equal(o.calls, 0);
    /* Not being ready comes first, whatever else is wrong. */
    assert_int_equal(mcp_client_request(f->client, NULL, NULL, NULL, on_done, &o, NULL), MCP_EAGAIN);
    fixture_free(f);

    /* Ready, but no method. */
    f = fixture_new(true);
    handle = mcp_client_observe_begin(&f->observer, "tools/list", NULL, NULL, NULL);
    assert_int_equal(mcp_client_request(f->client, NULL, NULL, &(mcp_client_request_opts){.observe_handle = handle},
                                        on_done, &o, NULL),
                     MCP_EINVAL);
    assert_int_equal(((report *)handle)->ends, 1);
    assert_string_equal(((report *)handle)->outcome.message, mcp_strerror(MCP_EINVAL));
    fixture_free(f);

    /* Ready, but the write fails. */
    f = fixture_new(true);
    handle = mcp_client_observe_begin(&f->observer, "tools/list", NULL, NULL, NULL);
    f->peer.fail_writes = 1;
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL,
                                        &(mcp_client_request_opts){.observe_handle = handle}, on_done, &o, NULL),
                     MCP_EIO);
    it = handle;
    assert_int_equal(it->ends, 1);
    assert_string_equal(it->outcome.message, mcp_strerror(MCP_EIO));
    assert_int_equal(f->reports.count, 1);
    fixture_free(f);
}

static void test_begun_report_ends_on_cached_answer(void **state)
{
    (void)state;
    fixture *f = fixture_new(true);
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, NULL), 0);
    reply_to_last(f, "{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":60000,\"cacheScope\":\"public\"}");
    assert_int_equal(o.status, 0);
    size_t sent_before = f->peer.count;

    void *handle = mcp_client_observe_begin(&f->observer, "tools/list", NULL, NULL, "pipe");
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL,
                                        &(mcp_client_request_opts){.observe_handle = handle}, on_done, &o, NULL),
                     0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(f->peer.count, sent_before); /* answered from the cache */
    report *it = handle;
    assert_int_equal(it->ends, 1);
    assert_int_equal(it->outcome.rpc_code, 0);
    assert_false(it->outcome.tool_error);
    assert_int_equal(f->reports.count, 2); /* the first request's and the begun one */
    fixture_free(f);
}

static void test_abandoned_report_ends_with_failure(void **state)
{
    (void)state;
    fixture *f = fixture_new(false);
    mcp_client_observe_abandon(&f->observer, NULL, MCP_ETIMEDOUT); /* nothing begun: nothing to end */
    mcp_client_observe_abandon(NULL, NULL, MCP_ETIMEDOUT);
    report *it = mcp_client_observe_begin(&f->observer, "ping", NULL, NULL, NULL);
    assert_non_null(it);
    mcp_client_observe_abandon(&f->observer, it, MCP_ETIMEDOUT);
    assert_int_equal(it->ends, 1);
    assert_int_equal(it->outcome.rpc_code, -32603);
    assert_string_equal(it->outcome.message, mcp_strerror(MCP_ETIMEDOUT));
    /* Without an observer there is no report to begin. */
    assert_null(mcp_client_observe_begin(NULL, "ping", NULL, NULL, NULL));
    assert_int_equal(f->reports.count, 1);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_request_is_reported),
        cmocka_unit_test(test_begun_report_is_carried_and_ended),
        cmocka_unit_test(test_begun_report_ends_when_not_sent),
        cmocka_unit_test(test_begun_report_ends_on_cached_answer),
        cmocka_unit_test(test_abandoned_report_ends_with_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
