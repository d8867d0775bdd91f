/*
 * test_client_stdio.c — the client and its stdio connector against the real
 * server: spawns `$MCPD_BIN serve --stdio` and drives the demo catalog in
 * both protocol eras (list, call, read, get prompt, progress, timeouts that
 * progress keeps alive, cancellation, logging, subscriptions, completion,
 * subscriptions/listen, ttlMs), plus the connector's own edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_mcpd.h"

#include "mcp/client.h"
#include "mcp/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mcp_client *spawn_client(const char *version)
{
    char *argv[] = {(char *)mcpd_bin(), "serve", "--stdio", NULL};
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_stdio(argv, NULL, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .protocol_version = version, .timeout_ms = 10000, .transport = t});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 10000, NULL), 0);
    return c;
}

/* Call and parse the result; the caller frees arena. */
static const mcp_json *call_ok(mcp_client *c, mcp_arena *arena, const char *method, const char *params)
{
    mcp_client_result r;
    int status = mcp_client_call_sync(c, method, params, NULL, &r);
    if (status != 0)
        fail_msg("%s %s: status %d %s", method, params ? params : "", status, r.json ? r.json : "");
    mcp_json *doc = NULL;
    char *text = mcp_arena_strndup(arena, r.json, r.len);
    assert_int_equal(mcp_json_parse(arena, text, r.len, NULL, &doc, NULL), 0);
    mcp_client_result_free(&r);
    return doc;
}

static const char *first_text(const mcp_json *result)
{
    return mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(result, "content"), 0), "text"), "");
}

typedef struct progress_count {
    int calls;
    double last;
} progress_count;

static void count_progress(void *user, double progress, double total, const char *message)
{
    (void)total;
    (void)message;
    progress_count *p = user;
    p->calls++;
    p->last = progress;
}

static void drive_catalog(const char *version, const char *expect_version)
{
    if (!mcpd_bin()) {
        skip();
        return;
    }
    mcp_client *c = spawn_client(version);
    assert_string_equal(mcp_client_protocol_version(c), expect_version);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);

    const mcp_json *tools = mcp_json_get(call_ok(c, &arena, "tools/list", NULL), "tools");
    /* From discover, initialize, or (explicit modern) the first result's _meta. */
    assert_non_null(mcp_client_server_info(c));
    assert_non_null(strstr(mcp_client_server_info(c), "\"mcpd\""));
    bool echo = false, add = false, slow = false;
    for (const mcp_json *t = mcp_json_first(tools); t; t = mcp_json_next(t)) {
        const char *name = mcp_json_str(mcp_json_get(t, "name"), "");
        echo |= !strcmp(name, "echo");
        add |= !strcmp(name, "add");
        slow |= !strcmp(name, "slow");
    }
    assert_true(echo && add && slow);

    const mcp_json *r = call_ok(c, &arena, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"h\\u00e9llo\"}}");
    assert_string_equal(first_text(r), "h\xc3\xa9llo");
    r = call_ok(c, &arena, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":40}}");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "structuredContent"), "sum"), 0), 42);

    r = call_ok(c, &arena, "resources/read", "{\"uri\":\"mcpd://demo/readme\"}");
    const mcp_json *contents = mcp_json_at(mcp_json_get(r, "contents"), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(contents, "uri"), ""), "mcpd://demo/readme");
    assert_true(mcp_json_str_len(mcp_json_get(contents, "text")) > 0);
    r = call_ok(c, &arena, "resources/read", "{\"uri\":\"mcpd://demo/greeting/ada\"}");
    assert_non_null(strstr(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "contents"), 0), "text"), ""), "ada"));

    r = call_ok(c, &arena, "prompts/get", "{\"name\":\"review\",\"arguments\":{\"code\":\"x = 1\"}}");
    const mcp_json *msg = mcp_json_at(mcp_json_get(r, "messages"), 0);
    assert_non_null(strstr(mcp_json_str(mcp_json_get(mcp_json_get(msg, "content"), "text"), ""), "x = 1"));

    /* A JSON-RPC error comes back as the error object. */
    mcp_client_result e;
    assert_int_equal(mcp_client_call_sync(c, "tools/call", "{\"name\":\"no-such-tool\"}", NULL, &e),
                     MCP_CLIENT_RPC_ERROR);
    assert_non_null(strstr(e.json, "\"code\":-32602"));
    mcp_client_result_free(&e);

    /* Progress: one notification per step, then the result. */
    progress_count pc = {0};
    mcp_client_result sr;
    mcp_client_request_opts ropts = {.progress = true, .on_progress = count_progress, .progress_user = &pc};
    assert_int_equal(mcp_client_call_sync(c, "tools/call",
                                          "{\"name\":\"slow\",\"arguments\":{\"steps\":3,\"delay_ms\":20}}",
                                          &ropts, &sr),
                     0);
    assert_int_equal(pc.calls, 3);
    assert_true(pc.last == 3);
    assert_non_null(strstr(sr.json, "slow finished 3 steps"));
    mcp_client_result_free(&sr);

    /* 5 steps of 120 ms outlive a 250 ms timeout only because each
     * progress notification restarts the clock. */
    pc = (progress_count){0};
    ropts.timeout_ms = 250;
    assert_int_equal(mcp_client_call_sync(c, "tools/call",
                                          "{\"name\":\"slow\",\"arguments\":{\"steps\":5,\"delay_ms\":120}}",
                                          &ropts, &sr),
                     0);
    assert_int_equal(pc.calls, 5);
    mcp_client_result_free(&sr);
    /* Without progress the same budget runs out. */
    assert_int_equal(mcp_client_call_sync(c, "tools/call",
                                          "{\"name\":\"slow\",\"arguments\":{\"steps\":1,\"delay_ms\":800}}",
                                          &(mcp_client_request_opts){.timeout_ms = 250}, &sr),
                     MCP_ETIMEDOUT);
    mcp_client_result_free(&sr);

    mcp_client_free(c);
    mcp_arena_free(&arena);
}

static void test_catalog_modern(void **state)
{
    (void)state;
    drive_catalog(NULL, "2026-07-28"); /* discovered */
}

static void test_catalog_modern_explicit(void **state)
{
    (void)state;
    drive_catalog("2026-07-28", "2026-07-28");
}

static void test_catalog_handshake(void **state)
{
    (void)state;
    drive_catalog("2025-11-25", "2025-11-25");
}

static void test_catalog_handshake_oldest(void **state)
{
    (void)state;
    drive_catalog("2025-03-26", "2025-03-26");
}

typedef struct async_outcome {
    int calls;
    int status;
} async_outcome;

static void on_done(void *user, int status, const mcp_json *value, int64_t id)
{
    (void)value;
    (void)id;
    async_outcome *o = user;
    o->calls++;
    o->status = status;
}

static void cancel_slow(const char *version)
{
    if (!mcpd_bin()) {
        skip();
        return;
    }
    mcp_client *c = spawn_client(version);
    progress_count pc = {0};
    async_outcome o = {0};
    int64_t id;
    mcp_client_tick(c, mcp_now_ns());
    assert_int_equal(mcp_client_request(c, "tools/call",
                                        "{\"name\":\"slow\",\"arguments\":{\"steps\":50,\"delay_ms\":100}}",
                                        &(mcp_client_request_opts){.progress = true,
                                                                   .on_progress = count_progress,
                                                                   .progress_user = &pc},
                                        on_done, &o, &id),
                     0);
    uint64_t give_up = mcp_now_ns() + 5000000000ull;
    while (pc.calls < 1 && mcp_now_ns() < give_up)
        assert_int_not_equal(mcp_client_pump(c, 100), MCP_ECLOSED);
    assert_true(pc.calls >= 1);
    assert_int_equal(mcp_client_cancel(c, id, "test cancels"), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_ECANCELED);

    /* The server stops the job (no more progress after a short while) and
     * keeps serving. */
    uint64_t settle = mcp_now_ns() + 400000000ull;
    while (mcp_now_ns() < settle)
        mcp_client_pump(c, 50);
    int seen = pc.calls;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const mcp_json *r = call_ok(c, &arena, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"still here\"}}");
    assert_string_equal(first_text(r), "still here");
    assert_int_equal(pc.calls, seen);
    assert_true(seen < 10);
    mcp_arena_free(&arena);
    mcp_client_free(c);
}

static void test_cancel_modern(void **state)
{
    (void)state;
    cancel_slow(NULL);
}

static void test_cancel_handshake(void **state)
{
    (void)state;
    cancel_slow("2025-06-18");
}

/* A child that exits at once: requests fail as closed, not hang. */
static void test_child_exits(void **state)
{
    (void)state;
    char *argv[] = {"true", NULL};
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_stdio(argv, NULL, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.transport = t, .timeout_ms = 5000});
    uint64_t start = mcp_now_ns();
    assert_int_equal(mcp_client_connect(c, 0, NULL), MCP_ECLOSED);
    assert_true(mcp_now_ns() - start < 4000000000ull);
    mcp_client_free(c);

    char *missing[] = {"/nonexistent/mcp-server", NULL};
    assert_int_equal(mcp_connect_stdio(missing, NULL, &t), MCP_ENOTFOUND);
}

/* A child that ignores EOF on stdin and SIGTERM is killed after the grace. */
static void test_stubborn_child_killed(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "trap '' TERM; while :; do sleep 1; done", NULL};
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_stdio(argv, &(mcp_connect_opts){.grace_ms = 150}, &t), 0);
    uint64_t start = mcp_now_ns();
    t->close(t);
    uint64_t took = mcp_now_ns() - start;
    assert_true(took >= 300000000ull);  /* waited twice the grace */
    assert_true(took < 3000000000ull);
}

/* Lines over the limit are skipped whole; the next line still arrives. */
static void test_oversized_line_skipped(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; printf '\\n{\"ok\":1}\\r\\n\\n  \\n{\"ok\":2}\\n'", NULL};
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_stdio(argv, &(mcp_connect_opts){.max_message_size = 100}, &t), 0);
    mcp_buf msg;
    mcp_buf_init(&msg);
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ELIMIT);
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_string_equal(msg.data, "{\"ok\":1}");
    assert_int_equal(t->recv(t, &msg, 5000), 0);
    assert_string_equal(msg.data, "{\"ok\":2}");
    assert_int_equal(t->recv(t, &msg, 5000), MCP_ECLOSED);
    mcp_buf_free(&msg);
    t->close(t);
}

typedef struct notes {
    int count;
    char first_method[64];
    char first_params[512];
} notes;

static void keep_note(void *user, const char *method, const mcp_json *params)
{
    notes *n = user;
    if (n->count++ == 0) {
        snprintf(n->first_method, sizeof n->first_method, "%s", method);
        mcp_str raw = mcp_json_raw(params);
        snprintf(n->first_params, sizeof n->first_params, "%.*s", (int)raw.len, raw.ptr ? raw.ptr : "");
    }
}

static mcp_client *spawn_noted(const char *version, notes *n)
{
    char *argv[] = {(char *)mcpd_bin(), "serve", "--stdio", NULL};
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_stdio(argv, NULL, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = version, .timeout_ms = 10000,
                                                      .transport = t, .on_notification = keep_note, .user = n});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 10000, NULL), 0);
    return c;
}

static void test_surface_handshake(void **state)
{
    (void)state;
    if (!mcpd_bin()) {
        skip();
        return;
    }
    notes n = {0};
    mcp_client *c = spawn_noted("2025-11-25", &n);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    call_ok(c, &arena, "logging/setLevel", "{\"level\":\"debug\"}");
    call_ok(c, &arena, "resources/subscribe", "{\"uri\":\"mcpd://demo/readme\"}");
    call_ok(c, &arena, "resources/unsubscribe", "{\"uri\":\"mcpd://demo/readme\"}");
    const mcp_json *r = call_ok(c, &arena, "completion/complete",
                                "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"review\"},"
                                "\"argument\":{\"name\":\"language\",\"value\":\"p\"}}");
    assert_true(mcp_json_is_array(mcp_json_get(mcp_json_get(r, "completion"), "values")));
    r = call_ok(c, &arena, "ping", NULL);
    assert_int_equal(mcp_json_len(r), 0);
    /* A bad log level is the server's -32602, not a crash of either side. */
    mcp_client_result bad;
    assert_int_equal(mcp_client_call_sync(c, "logging/setLevel", "{\"level\":\"loud\"}", NULL, &bad),
                     MCP_CLIENT_RPC_ERROR);
    assert_non_null(strstr(bad.json, "-32602"));
    mcp_client_result_free(&bad);
    mcp_arena_free(&arena);
    mcp_client_free(c);
}

static void test_surface_modern(void **state)
{
    (void)state;
    if (!mcpd_bin()) {
        skip();
        return;
    }
    notes n = {0};
    mcp_client *c = spawn_noted(NULL, &n);
    assert_string_equal(mcp_client_protocol_version(c), "2026-07-28");
    int64_t id = 0;
    assert_int_equal(mcp_client_request(c, "subscriptions/listen",
                                        "{\"notifications\":{\"toolsListChanged\":true,"
                                        "\"resourceSubscriptions\":[\"mcpd://demo/readme\"]}}",
                                        &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT}, NULL, NULL,
                                        &id),
                     0);
    uint64_t until = mcp_now_ns() + 5000000000ull;
    while (n.count == 0 && mcp_now_ns() < until)
        mcp_client_pump(c, 100);
    assert_string_equal(n.first_method, "notifications/subscriptions/acknowledged");
    char want[96];
    snprintf(want, sizeof want, "\"io.modelcontextprotocol/subscriptionId\":%lld", (long long)id);
    assert_non_null(strstr(n.first_params, want));
    assert_true(mcp_client_is_pending(c, id));
    assert_int_equal(mcp_client_cancel(c, id, "done"), 0);

    /* The demo's lists say ttlMs 0 (stale at once): never served from the cache. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_client_counters before, after;
    call_ok(c, &arena, "tools/list", NULL);
    mcp_client_get_counters(c, &before);
    const mcp_json *r = call_ok(c, &arena, "tools/list", NULL);
    mcp_client_get_counters(c, &after);
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), 0);
    assert_int_equal(after.cache_hits, 0);
    assert_int_equal(after.messages_out, before.messages_out + 1);
    mcp_arena_free(&arena);
    mcp_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_modern),
        cmocka_unit_test(test_catalog_modern_explicit),
        cmocka_unit_test(test_catalog_handshake),
        cmocka_unit_test(test_catalog_handshake_oldest),
        cmocka_unit_test(test_cancel_modern),
        cmocka_unit_test(test_cancel_handshake),
        cmocka_unit_test(test_child_exits),
        cmocka_unit_test(test_stubborn_child_killed),
        cmocka_unit_test(test_oversized_line_skipped),
        cmocka_unit_test(test_surface_handshake),
        cmocka_unit_test(test_surface_modern),
    };
    if (!mcpd_bin())
        fprintf(stderr, "test_client_stdio: MCPD_BIN is not set to an executable; the server tests skip\n");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
