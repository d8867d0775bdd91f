/*
 * test_call_thread_cache.c — calls are reused by the thread that takes
 * them, across sessions and servers (call.c's per-thread cache). A call
 * taken by another session must carry nothing of the last one: not its
 * tools (its registry snapshot), not its reply. A thread that ends gives
 * its calls back (the sanitizer build would report a leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#include <pthread.h>
#include <string.h>

static int tool_named(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    return mcp_call_text(call, "%s", (const char *)user);
}

static fixture *server_with(const char *tool)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = tool, .fn = tool_named, .user = (void *)tool}),
                     0);
    return f;
}

/* tools/call of tool; the text it answered, or the error's message. */
static void expect_call(fixture *f, const char *tool, const char *text)
{
    char req[512];
    snprintf(req, sizeof req,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":{},"
             MODERN_META "}}",
             tool);
    mcp_json *doc = roundtrip(f, req);
    const mcp_json *result = mcp_json_get(doc, "result");
    const char *got = result ? mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(result, "content"), 0), "text"), "")
                             : mcp_json_str(mcp_json_get(mcp_json_get(doc, "error"), "message"), "");
    assert_string_equal(got, text);
}

static void calls_cross_sessions_and_servers_clean(void **state)
{
    (void)state;
    fixture *a = server_with("only_a"), *b = server_with("only_b");
    for (int round = 0; round < 20; round++) {
        expect_call(a, "only_a", "only_a");
        expect_call(b, "only_a", "Unknown tool: only_a");
        expect_call(b, "only_b", "only_b");
        expect_call(a, "only_b", "Unknown tool: only_b");
    }
    /* A server gone while calls it used wait in this thread's cache: the
     * next session's calls still answer from their own registry. */
    fixture_free(a);
    expect_call(b, "only_b", "only_b");
    fixture *c = server_with("only_c");
    expect_call(c, "only_c", "only_c");
    expect_call(c, "only_b", "Unknown tool: only_b");
    fixture_free(b);
    fixture_free(c);
}

static void *serve_and_leave(void *arg)
{
    (void)arg;
    fixture *f = server_with("t");
    for (int i = 0; i < 20; i++)
        expect_call(f, "t", "t");
    fixture_free(f);
    return NULL;
}

static void a_thread_that_ends_gives_its_calls_back(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, serve_and_leave, NULL), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_cross_sessions_and_servers_clean),
        cmocka_unit_test(a_thread_that_ends_gives_its_calls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
