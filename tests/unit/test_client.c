/*
 * test_client.c — the client state machine against a scripted in-memory
 * peer: the test reads what the client sent from a capturing sink and feeds
 * back the server's side by hand, with a clock it controls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_peer.h"

typedef struct fixture {
    peer peer;
    notes notes;
    mcp_client *client;
} fixture;

static fixture *fixture_new(const char *version)
{
    fixture *f = calloc(1, sizeof *f);
    f->client = peer_client_new(&f->peer, (mcp_client_opts){
                                              .name = "tester",
                                              .version = "9.9",
                                              .protocol_version = version,
                                              .timeout_ms = 1000,
                                              .on_notification = on_note,
                                              .user = &f->notes,
                                          });
    return f;
}

static void fixture_free(fixture *f)
{
    mcp_client_free(f->client);
    peer_free(&f->peer);
    free(f);
}

/* A client made ready in the modern era by a discover round trip. */
static fixture *modern_ready(void)
{
    fixture *f = fixture_new(NULL);
    outcome o = {0};
    assert_int_equal(mcp_client_start(f->client, on_done, &o), 0);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\","
                    "\"supportedVersions\":[\"2026-07-28\",\"2025-11-25\"],\"capabilities\":{\"tools\":{}},"
                    "\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_true(mcp_client_is_ready(f->client));
    return f;
}

static void test_handshake_negotiates(void **state)
{
    (void)state;
    fixture *f = fixture_new("2025-06-18");
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, &id), MCP_EAGAIN);
    assert_int_equal(mcp_client_start(f->client, on_done, &o), 0);
    const mcp_json *init = sent(&f->peer, 0);
    assert_string_equal(mcp_json_str(mcp_json_get(init, "method"), ""), "initialize");
    const mcp_json *params = mcp_json_get(init, "params");
    assert_string_equal(mcp_json_str(mcp_json_get(params, "protocolVersion"), ""), "2025-06-18");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(params, "clientInfo"), "name"), ""), "tester");
    assert_true(mcp_json_is_object(mcp_json_get(params, "capabilities")));
    assert_null(mcp_json_get(params, "_meta"));
    assert_false(mcp_client_is_ready(f->client));

    /* The server picks an older version we also speak: accepted. */
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-03-26\","
                    "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"},"
                    "\"instructions\":\"be nice\"}}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_true(mcp_client_is_ready(f->client));
    assert_string_equal(mcp_client_protocol_version(f->client), "2025-03-26");
    assert_string_equal(mcp_client_instructions(f->client), "be nice");
    assert_string_equal(mcp_client_server_info(f->client), "{\"name\":\"s\",\"version\":\"1\"}");
    const mcp_json *note = sent(&f->peer, 1);
    assert_string_equal(mcp_json_str(mcp_json_get(note, "method"), ""), "notifications/initialized");
    assert_null(mcp_json_get(note, "id"));

    /* Handshake-era requests carry no _meta unless they ask for progress. */
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, &id), 0);
    const mcp_json *req = last_sent(&f->peer);
    assert_null(mcp_json_get(req, "params"));
    assert_int_equal(mcp_json_int(mcp_json_get(req, "id"), 0), id);
    fixture_free(f);
}

static void test_handshake_refuses_unknown_version(void **state)
{
    (void)state;
    fixture *f = fixture_new("2025-11-25");
    outcome o = {0};
    assert_int_equal(mcp_client_start(f->client, on_done, &o), 0);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"1999-01-01\","
                    "\"capabilities\":{},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_EUNSUPPORTED);
    assert_false(mcp_client_is_ready(f->client));
    assert_int_equal(f->peer.count, 1); /* no notifications/initialized */
    fixture_free(f);

    /* A version we do not speak is refused before anything is sent. */
    f = fixture_new("2020-01-01");
    assert_int_equal(mcp_client_start(f->client, on_done, &o), MCP_EUNSUPPORTED);
    assert_int_equal(f->peer.count, 0);
    fixture_free(f);
}

static void test_modern_meta_on_every_request(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    const mcp_json *discover = sent(&f->peer, 0);
    assert_string_equal(mcp_json_str(mcp_json_get(discover, "method"), ""), "server/discover");
    const mcp_json *meta = mcp_json_get(mcp_json_get(discover, "params"), "_meta");
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "io.modelcontextprotocol/protocolVersion"), ""),
                        "2026-07-28");
    assert_string_equal(mcp_client_protocol_version(f->client), "2026-07-28");
    assert_string_equal(mcp_client_server_capabilities(f->client), "{\"tools\":{}}");

    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "tools/call",
                                        "{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"},"
                                        "\"_meta\":{\"com.example/trace\":\"t1\","
                                        "\"io.modelcontextprotocol/protocolVersion\":\"bogus\"}}",
                                        &(mcp_client_request_opts){.progress = true}, on_done, &o, &id),
                     0);
    const mcp_json *req = last_sent(&f->peer);
    const mcp_json *params = mcp_json_get(req, "params");
    assert_string_equal(mcp_json_str(mcp_json_get(params, "name"), ""), "echo");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(params, "arguments"), "text"), ""), "hi");
    meta = mcp_json_get(params, "_meta");
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "io.modelcontextprotocol/protocolVersion"), ""),
                        "2026-07-28");
    assert_string_equal(
        mcp_json_str(mcp_json_get(mcp_json_get(meta, "io.modelcontextprotocol/clientInfo"), "version"), ""),
        "9.9");
    assert_true(mcp_json_is_object(mcp_json_get(meta, "io.modelcontextprotocol/clientCapabilities")));
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "com.example/trace"), ""), "t1");
    assert_int_equal(mcp_json_int(mcp_json_get(meta, "progressToken"), -1), id);
    /* Exactly one protocolVersion key: the caller's clashing one is dropped. */
    size_t versions = 0;
    for (const mcp_json *m = mcp_json_first(meta); m; m = mcp_json_next(m))
        versions += mcp_str_eq_cstr(mcp_json_key(m), "io.modelcontextprotocol/protocolVersion");
    assert_int_equal(versions, 1);

    /* Bad params are refused and nothing is sent. */
    size_t before = f->peer.count;
    assert_int_equal(mcp_client_request(f->client, "tools/call", "[1,2]", NULL, on_done, &o, NULL), MCP_EINVAL);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{oops", NULL, on_done, &o, NULL), MCP_EINVAL);
    assert_int_equal(f->peer.count, before);
    fixture_free(f);
}

static void test_discover_falls_back_to_handshake(void **state)
{
    (void)state;
    fixture *f = fixture_new(NULL);
    outcome o = {0};
    assert_int_equal(mcp_client_start(f->client, on_done, &o), 0);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}");
    assert_int_equal(o.calls, 0);
    const mcp_json *init = last_sent(&f->peer);
    assert_string_equal(mcp_json_str(mcp_json_get(init, "method"), ""), "initialize");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(init, "params"), "protocolVersion"), ""),
                        MCP_PROTOCOL_LATEST_HANDSHAKE);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"protocolVersion\":\"2025-11-25\","
                    "\"capabilities\":{},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_string_equal(mcp_client_protocol_version(f->client), "2025-11-25");
    fixture_free(f);
}

static void test_out_of_order_responses(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome o[3] = {{0}};
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o[i], &ids[i]), 0);
    assert_int_equal(mcp_client_pending_count(f->client), 3);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"n\":3}}", (long long)ids[2]);
    feed(f->client, text);
    /* A server that stringifies our integer id is still matched. */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":\"%lld\",\"result\":{\"n\":1}}", (long long)ids[0]);
    feed(f->client, text);
    snprintf(text, sizeof text, "{\"id\":%lld,\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"bad\"}}",
             (long long)ids[1]);
    feed(f->client, text);
    assert_int_equal(o[0].calls, 1);
    assert_int_equal(o[0].status, 0);
    assert_string_equal(o[0].json, "{\"n\":1}");
    assert_int_equal(o[0].id, ids[0]);
    assert_int_equal(o[1].status, MCP_CLIENT_RPC_ERROR);
    assert_string_equal(o[1].json, "{\"code\":-32602,\"message\":\"bad\"}");
    assert_int_equal(o[2].status, 0);
    assert_string_equal(o[2].json, "{\"n\":3}");
    assert_int_equal(mcp_client_pending_count(f->client), 0);

    /* A second answer to the same id is unmatched, not delivered twice. */
    feed(f->client, text);
    assert_int_equal(o[1].calls, 1);
    mcp_client_counters k;
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.unmatched, 1);
    fixture_free(f);
}

static void test_result_types(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome a = {0}, b = {0}, c = {0};
    int64_t ia, ib, ic;
    mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &a, &ia);
    mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &b, &ib);
    mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &c, &ic);
    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"input_required\",\"inputRequests\":"
             "{\"q\":{\"method\":\"elicitation/create\",\"params\":{}}},\"requestState\":\"s\"}}",
             (long long)ia);
    feed(f->client, text);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"mystery\"}}",
             (long long)ib);
    feed(f->client, text);
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":42}", (long long)ic);
    feed(f->client, text);
    /* This client has no elicitation handler, so it cannot answer: the
     * caller gets the input_required result as it came. */
    assert_int_equal(a.status, MCP_CLIENT_INPUT_REQUIRED);
    assert_non_null(strstr(a.json, "requestState"));
    assert_int_equal(b.status, MCP_EPROTO);
    assert_int_equal(c.status, MCP_EPROTO);
    fixture_free(f);
}

typedef struct progress_seen {
    int calls;
    double progress, total;
    char message[64];
} progress_seen;

static void on_progress(void *user, double progress, double total, const char *message)
{
    progress_seen *p = user;
    p->calls++;
    p->progress = progress;
    p->total = total;
    snprintf(p->message, sizeof p->message, "%s", message ? message : "");
}

static void test_timeout_resets_on_progress(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome o = {0}, plain = {0};
    progress_seen ps = {0};
    int64_t id, plain_id;
    mcp_client_tick(f->client, 2000 * MS);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"slow\"}",
                                        &(mcp_client_request_opts){.timeout_ms = 100, .progress = true,
                                                                   .on_progress = on_progress,
                                                                   .progress_user = &ps},
                                        on_done, &o, &id),
                     0);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL,
                                        &(mcp_client_request_opts){.timeout_ms = 150}, on_done, &plain,
                                        &plain_id),
                     0);
    mcp_client_tick(f->client, 2090 * MS);
    assert_int_equal(o.calls, 0);
    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%lld,"
             "\"progress\":1,\"total\":4,\"message\":\"step 1\"}}",
             (long long)id);
    feed(f->client, text);
    assert_int_equal(ps.calls, 1);
    assert_true(ps.progress == 1 && ps.total == 4);
    assert_string_equal(ps.message, "step 1");
    assert_int_equal(f->notes.count, 1);
    assert_string_equal(f->notes.methods[0], "notifications/progress");

    /* Without the progress the request would have expired at 2100. */
    mcp_client_tick(f->client, 2160 * MS);
    assert_int_equal(o.calls, 0);
    assert_int_equal(plain.calls, 1);
    assert_int_equal(plain.status, MCP_ETIMEDOUT);
    mcp_client_tick(f->client, 2189 * MS);
    assert_int_equal(o.calls, 0);
    size_t before = f->peer.count;
    mcp_client_tick(f->client, 2191 * MS);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_ETIMEDOUT);
    /* Giving up tells the server. */
    assert_int_equal(f->peer.count, before + 1);
    const mcp_json *cancel = last_sent(&f->peer);
    assert_string_equal(mcp_json_str(mcp_json_get(cancel, "method"), ""), "notifications/cancelled");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(cancel, "params"), "requestId"), -1), id);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(cancel, "params"), "reason"), ""), "timeout");
    mcp_client_counters k;
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.timeouts, 2);
    fixture_free(f);
}

static void test_cancel_sends_notification(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"slow\"}", NULL, on_done, &o, &id), 0);
    assert_true(mcp_client_is_pending(f->client, id));
    assert_int_equal(mcp_client_cancel(f->client, id, "user asked"), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_ECANCELED);
    assert_false(mcp_client_is_pending(f->client, id));
    const mcp_json *cancel = last_sent(&f->peer);
    assert_string_equal(mcp_json_str(mcp_json_get(cancel, "method"), ""), "notifications/cancelled");
    const mcp_json *params = mcp_json_get(cancel, "params");
    assert_int_equal(mcp_json_int(mcp_json_get(params, "requestId"), -1), id);
    assert_string_equal(mcp_json_str(mcp_json_get(params, "reason"), ""), "user asked");
    assert_int_equal(mcp_client_cancel(f->client, id, "again"), MCP_ENOTFOUND);

    /* The server's late answer is dropped and counted. */
    char text[128];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)id);
    feed(f->client, text);
    assert_int_equal(o.calls, 1);
    mcp_client_counters k;
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.unmatched, 1);
    fixture_free(f);
}

static void test_notifications_delivered(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":"
                    "{\"level\":\"info\",\"logger\":\"demo\",\"data\":\"hello\"}}");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":"
                    "{\"uri\":\"mcpd://demo/readme\"}}");
    assert_int_equal(f->notes.count, 3);
    assert_string_equal(f->notes.methods[0], "notifications/message");
    assert_string_equal(f->notes.params[0], "{\"level\":\"info\",\"logger\":\"demo\",\"data\":\"hello\"}");
    assert_string_equal(f->notes.methods[1], "notifications/tools/list_changed");
    assert_string_equal(f->notes.params[1], "");
    assert_string_equal(f->notes.methods[2], "notifications/resources/updated");
    assert_string_equal(f->notes.params[2], "{\"uri\":\"mcpd://demo/readme\"}");
    fixture_free(f);
}

static void answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)user;
    (void)params;
    if (!strcmp(method, "roots/list")) {
        mcp_buf_append_cstr(&answer->result, "{\"roots\":[{\"uri\":\"file:///tmp\"}]}");
    } else {
        answer->error_code = -32601;
        snprintf(answer->error_message, sizeof answer->error_message, "no %s here", method);
    }
}

static void test_server_requests(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"method\":\"sampling/createMessage\",\"params\":{}}");
    const mcp_json *reply = last_sent(&f->peer);
    assert_string_equal(mcp_json_str(mcp_json_get(reply, "id"), ""), "s-1");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(reply, "error"), "code"), 0), -32601);
    assert_null(mcp_json_get(reply, "result"));

    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\"}");
    reply = last_sent(&f->peer);
    assert_int_equal(mcp_json_int(mcp_json_get(reply, "id"), 0), 77);
    assert_true(mcp_json_is_object(mcp_json_get(reply, "result")));
    assert_int_equal(mcp_json_len(mcp_json_get(reply, "result")), 0);
    fixture_free(f);

    /* With a handler the client answers what the handler says. */
    peer p = {0};
    mcp_arena_init(&p.arena, 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .protocol_version = "2026-07-28", .sink = {peer_write, &p}, .on_request = answer_roots});
    outcome o = {0};
    assert_int_equal(mcp_client_start(c, on_done, &o), 0);
    assert_int_equal(o.calls, 1); /* a modern version needs no round trip */
    assert_int_equal(p.count, 0);
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"roots/list\"}");
    reply = last_sent(&p);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(mcp_json_get(reply, "result"), "roots"), 0),
                                                  "uri"),
                                     ""),
                        "file:///tmp");
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"elicitation/create\"}");
    reply = last_sent(&p);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(reply, "error"), "message"), ""),
                        "no elicitation/create here");
    mcp_client_free(c);
    peer_free(&p);
}

static void test_malformed_ignored_and_counted(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, &id), 0);
    size_t sent_before = f->peer.count;
    static const char *bad[] = {
        "",
        "garbage",
        "{\"jsonrpc\":\"2.0\",\"id\":1",
        "[]",
        "42",
        "{\"jsonrpc\":\"1.0\",\"id\":2,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":2}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{},\"error\":{\"code\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":7}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}",
        "[1,2,3]",
        "\"\\ud800\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_client_handle(f->client, bad[i], strlen(bad[i])), 0);
    mcp_client_counters k;
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.malformed, 15); /* "[1,2,3]" counts once per element */
    assert_int_equal(o.calls, 0);
    assert_int_equal(f->peer.count, sent_before); /* nothing is answered */
    assert_true(mcp_client_is_pending(f->client, id));

    /* An error about a message the server could not read has id null: unmatched. */
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.unmatched, 1);

    /* Every truncation of a valid response: none may crash or complete
     * the request with garbage. */
    char text[160];
    int n = snprintf(text, sizeof text,
                     "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"a\\u00e9\"}]}}",
                     (long long)id);
    for (int cut = 0; cut < n; cut++)
        mcp_client_handle(f->client, text, (size_t)cut);
    assert_int_equal(o.calls, 0);
    feed(f->client, text);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    fixture_free(f);
}

static void test_close_and_free_complete_pending(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    outcome a = {0}, b = {0};
    mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &a, NULL);
    mcp_client_close(f->client);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, MCP_ECLOSED);
    mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &b, NULL);
    mcp_client_free(f->client);
    f->client = NULL;
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, MCP_ECLOSED);
    peer_free(&f->peer);
    free(f);

    /* A failing sink fails the request instead of leaving it pending. */
    f = modern_ready();
    f->peer.fail_writes = 1;
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &a, NULL), MCP_EIO);
    assert_int_equal(mcp_client_pending_count(f->client), 0);
    fixture_free(f);
}

/* A callback that sends a new request and cancels another from inside. */
typedef struct reentry {
    mcp_client *client;
    int64_t victim;
    outcome next;
    outcome victim_outcome;
} reentry;

static void reentrant_done(void *user, int status, const mcp_json *value, int64_t id)
{
    (void)status;
    (void)value;
    (void)id;
    reentry *r = user;
    mcp_client_cancel(r->client, r->victim, "no longer needed");
    mcp_client_request(r->client, "tools/list", NULL, NULL, on_done, &r->next, NULL);
}

static void test_callbacks_may_reenter(void **state)
{
    (void)state;
    fixture *f = modern_ready();
    reentry r = {.client = f->client};
    int64_t first;
    mcp_client_request(f->client, "tools/list", NULL, NULL, reentrant_done, &r, &first);
    mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &r.victim_outcome, &r.victim);
    char text[128];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)first);
    feed(f->client, text);
    assert_int_equal(r.victim_outcome.status, MCP_ECANCELED);
    assert_int_equal(mcp_client_pending_count(f->client), 1);
    fixture_free(f);
    assert_int_equal(r.next.status, MCP_ECLOSED);
}

/* Mutated server messages (deterministic byte flips of valid ones): the
 * client must neither crash nor leak, and whatever it counts adds up. */
static void test_mutated_messages(void **state)
{
    (void)state;
    static const char *seeds[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":2,\"progress\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"ping\"}",
        "[{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-1,\"message\":\"m\"}},{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]",
    };
    fixture *f = modern_ready();
    outcome o = {0};
    uint32_t rng = 12345;
    char text[256];
    for (int round = 0; round < 4000; round++) {
        if (mcp_client_pending_count(f->client) < 4)
            mcp_client_request(f->client, "tools/list", NULL, &(mcp_client_request_opts){.progress = true},
                               on_done, &o, NULL);
        const char *seed = seeds[round % 4];
        size_t len = strlen(seed);
        memcpy(text, seed, len);
        for (int flips = 0; flips < 1 + round % 3; flips++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % len;
            rng = rng * 1103515245u + 12345u;
            text[at] = (char)(rng >> 16);
        }
        assert_int_equal(mcp_client_handle(f->client, text, len), 0);
        if (round % 500 == 0)
            mcp_client_tick(f->client, (2000 + (uint64_t)round) * MS);
    }
    mcp_client_counters k;
    mcp_client_get_counters(f->client, &k);
    assert_int_equal(k.messages_in, 4001); /* plus the discover answer */
    assert_true(k.malformed > 1000);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_negotiates),
        cmocka_unit_test(test_handshake_refuses_unknown_version),
        cmocka_unit_test(test_modern_meta_on_every_request),
        cmocka_unit_test(test_discover_falls_back_to_handshake),
        cmocka_unit_test(test_out_of_order_responses),
        cmocka_unit_test(test_result_types),
        cmocka_unit_test(test_timeout_resets_on_progress),
        cmocka_unit_test(test_cancel_sends_notification),
        cmocka_unit_test(test_notifications_delivered),
        cmocka_unit_test(test_server_requests),
        cmocka_unit_test(test_malformed_ignored_and_counted),
        cmocka_unit_test(test_close_and_free_complete_pending),
        cmocka_unit_test(test_callbacks_may_reenter),
        cmocka_unit_test(test_mutated_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
