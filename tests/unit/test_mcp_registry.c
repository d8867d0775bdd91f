/* Registry snapshots, cursors and URI templates: the internal pieces the
 * server core stands on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/internal.h"
#include "test_mcp_sink.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int noop(mcp_call *call, const mcp_json *args, void *user)
{
    (void)call, (void)args, (void)user;
    return 0;
}

static void test_snapshot_lookup_and_isolation(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "r", .version = "1"});
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "tool-%d", i);
        assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = name, .fn = noop}), 0);
    }
    mcp_registry_snapshot *old = mcp_server_snapshot_acquire(s);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "tool-%d", i);
        const mcp_registry_entry *e = mcp_registry_find_tool(old, name, strlen(name));
        assert_non_null(e);
        assert_string_equal(e->key, name);
    }
    assert_null(mcp_registry_find_tool(old, "tool-1000", 9));
    assert_null(mcp_registry_find_tool(old, "tool-1", 5)); /* prefix of a name */

    assert_int_equal(mcp_server_remove_tool(s, "tool-5"), 0);
    /* the old snapshot is immutable: it still has the tool */
    assert_non_null(mcp_registry_find_tool(old, "tool-5", 6));
    mcp_registry_snapshot *now = mcp_server_snapshot_acquire(s);
    assert_null(mcp_registry_find_tool(now, "tool-5", 6));
    assert_true(now->generation > old->generation);
    assert_int_equal(now->lists[MCP_REGISTRY_TOOLS].count, 999);
    mcp_registry_snapshot_release(old);
    mcp_registry_snapshot_release(now);
    mcp_server_free(s);
}

/* Small lists are searched by comparing keys, larger ones through the hash
 * table: across the switch every name is found and no near miss is. */
static void test_small_and_large_lookup_agree(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "r", .version = "1"});
    static const char *const names[] = {"a", "b", "ab", "ba", "echo", "echo2", "ech", "Echo",
                                        "x-tool", "y-tool", "z-tool", "a-rather-long-tool-name-over-16"};
    const size_t n = sizeof names / sizeof names[0];
    for (size_t added = 0; added < n; added++) {
        assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = names[added], .fn = noop}), 0);
        mcp_registry_snapshot *snap = mcp_server_snapshot_acquire(s);
        assert_int_equal(snap->lists[MCP_REGISTRY_TOOLS].count, added + 1);
        for (size_t i = 0; i < n; i++) {
            const mcp_registry_entry *e = mcp_registry_find_tool(snap, names[i], strlen(names[i]));
            if (i <= added) {
                assert_non_null(e);
                assert_string_equal(e->key, names[i]);
            } else {
                assert_null(e);
            }
        }
        assert_null(mcp_registry_find_tool(snap, "", 0));
        /* A prefix of a registered name is that name only once "ech" is in. */
        assert_true((mcp_registry_find_tool(snap, "echo", 3) != NULL) == (added >= 6));
        mcp_registry_snapshot_release(snap);
    }
    for (size_t removed = 0; removed < n; removed++) {
        assert_int_equal(mcp_server_remove_tool(s, names[removed]), 0);
        mcp_registry_snapshot *snap = mcp_server_snapshot_acquire(s);
        for (size_t i = 0; i < n; i++) {
            const mcp_registry_entry *e = mcp_registry_find_tool(snap, names[i], strlen(names[i]));
            if (i <= removed)
                assert_null(e);
            else
                assert_non_null(e);
        }
        mcp_registry_snapshot_release(snap);
    }
    mcp_server_free(s);
}

typedef struct reader_arg {
    mcp_server *server;
    atomic_bool stop;
    atomic_long found;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    mcp_registry_snapshot *snap = mcp_server_snapshot_acquire(a->server);
    uint64_t gen = snap->generation;
    while (!atomic_load(&a->stop)) {
        if (mcp_server_generation(a->server) != gen) {
            mcp_registry_snapshot_release(snap);
            snap = mcp_server_snapshot_acquire(a->server);
            gen = snap->generation;
        }
        if (mcp_registry_find_tool(snap, "stable", 6))
            a->found++;
    }
    mcp_registry_snapshot_release(snap);
    return NULL;
}

static void test_registration_while_reading(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "r", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "stable", .fn = noop}), 0);
    reader_arg a = {.server = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader, &a), 0);
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "churn-%d", i);
        assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = name, .fn = noop}), 0);
        if (i % 2)
            assert_int_equal(mcp_server_remove_tool(s, name), 0);
    }
    /* On a loaded machine the reader may not have run yet: give it time to
     * look at least once, so the assertion below tests the reader, not the
     * scheduler. */
    for (int spins = 0; atomic_load(&a.found) == 0 && spins < 10000; spins++)
        usleep(1000);
    atomic_store(&a.stop, true);
    pthread_join(t, NULL);
    assert_true(atomic_load(&a.found) > 0);
    mcp_server_free(s);
}

static int answer_one(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_text(call, "one");
}

static int answer_two(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_text(call, "two");
}

/* Text of the first content block of reply i, or "" when there is none. */
static const char *reply_text(capture *cap, size_t i)
{
    const mcp_json *content = mcp_json_get(mcp_json_get(capture_json(cap, i), "result"), "content");
    return mcp_json_str(mcp_json_get(mcp_json_at(content, 0), "text"), "");
}

/* A call taken from the session's pool keeps the registry snapshot it last
 * ran with; the next request after a change must still see the change, and
 * the snapshot it held must stay usable until then and be freed after
 * (ASan tells both). */
static void test_pooled_call_follows_registry(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "r", .version = "1"});
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "t", .fn = answer_one}), 0);
    capture cap;
    capture_init(&cap);
    mcp_sink sink = capture_sink(&cap);
    mcp_session *session = mcp_session_new(s, &sink);
    static const char CALL[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t\",\"arguments\":{},"
        "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
        "\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    assert_int_equal(session_send(session, CALL), 0);
    assert_int_equal(session_send(session, CALL), 0);
    /* The same name, another handler: only a new snapshot knows it. */
    assert_int_equal(mcp_server_remove_tool(s, "t"), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "t", .fn = answer_two}), 0);
    assert_int_equal(session_send(session, CALL), 0);
    assert_int_equal(mcp_server_remove_tool(s, "t"), 0);
    assert_int_equal(session_send(session, CALL), 0);
    assert_int_equal(capture_count(&cap), 4);
    assert_string_equal(reply_text(&cap, 0), "one");
    assert_string_equal(reply_text(&cap, 1), "one");
    assert_string_equal(reply_text(&cap, 2), "two");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(capture_json(&cap, 3), "error"), "code"), 0),
                     MCP_RPC_INVALID_PARAMS);
    mcp_session_free(session);
    mcp_server_free(s);
    capture_free(&cap);
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "r", .version = "1"});
    char c[MCP_CURSOR_LEN + 1];
    uint64_t offset = 0;
    mcp_cursor_encode(s, 12345, 7, c);
    assert_int_equal(strlen(c), MCP_CURSOR_LEN);
    assert_int_equal(mcp_cursor_decode(s, c, strlen(c), &offset), 0);
    assert_int_equal(offset, 12345);
    c[3] = c[3] == 'A' ? 'B' : 'A'; /* tampered */
    assert_int_equal(mcp_cursor_decode(s, c, strlen(c), &offset), MCP_EINVAL);
    assert_int_equal(mcp_cursor_decode(s, "short", 5, &offset), MCP_EINVAL);
    assert_int_equal(mcp_cursor_decode(s, "***************************", MCP_CURSOR_LEN, &offset), MCP_EINVAL);
    /* another server's cursor is refused */
    mcp_server *other = mcp_server_new(&(mcp_server_opts){.name = "o", .version = "1"});
    mcp_cursor_encode(other, 2, 1, c);
    assert_int_equal(mcp_cursor_decode(s, c, strlen(c), &offset), MCP_EINVAL);
    mcp_server_free(other);
    mcp_server_free(s);
}

static void test_uri_templates(void **state)
{
    (void)state;
    assert_int_equal(mcp_uri_template_check("file:///{path}"), 0);
    assert_int_equal(mcp_uri_template_check("db://{table}/{id}"), 0);
    assert_int_equal(mcp_uri_template_check("x://{+path}"), MCP_EINVAL);
    assert_int_equal(mcp_uri_template_check("x://{a,b}"), MCP_EINVAL);
    assert_int_equal(mcp_uri_template_check("x://{}"), MCP_EINVAL);
    assert_int_equal(mcp_uri_template_check("x://{a"), MCP_EINVAL);
    assert_int_equal(mcp_uri_template_check("x://a}"), MCP_EINVAL);

    assert_true(mcp_uri_template_match("file:///{path}", "file:///notes.txt"));
    assert_true(mcp_uri_template_match("file:///{path}", "file:///a%2Fb"));
    assert_false(mcp_uri_template_match("file:///{path}", "file:///a/b"));
    assert_false(mcp_uri_template_match("file:///{path}", "file:///"));
    assert_true(mcp_uri_template_match("db://{table}/{id}", "db://users/42"));
    assert_false(mcp_uri_template_match("db://{table}/{id}", "db://users/42/x"));
    assert_true(mcp_uri_template_match("v{a}-{b}.json", "vx-y-z.json"));
    assert_false(mcp_uri_template_match("a{x}b", "ab"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_lookup_and_isolation),
        cmocka_unit_test(test_small_and_large_lookup_agree),
        cmocka_unit_test(test_registration_while_reading),
        cmocka_unit_test(test_pooled_call_follows_registry),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_uri_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
