/*
 * Results served from the real tiered cache (L1, and L2 in a temporary
 * directory) through mcp_session, with mcpd's own store (app/result_store.c,
 * compiled in here as the mcpd binary compiles it): a second read is a hit
 * (handler counts and L1 stats), TTL expiry recomputes, an update drops the
 * entry and notifies, isError and errors are not stored, canonical argument
 * keys, tags and resource dependencies, modern ttlMs/cacheScope, and a
 * fresh L1 answered from L2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#include "mcp/cache.h"

#include <unistd.h>

static uint64_t fake_now = 5000000;

static uint64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

static int echo_runs;
static int resource_runs, tool_runs, flaky_runs, tagged_runs, derived_runs, add_runs, slow_runs, meta_runs;

static int counter_resource(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    resource_runs++;
    char text[64];
    snprintf(text, sizeof text, "render %d", resource_runs);
    return mcp_call_resource_text(call, uri, "text/plain", text, strlen(text));
}

static int lookup_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    tool_runs++;
    mcp_str raw = mcp_json_raw(args);
    return mcp_call_text(call, "run %d of %.*s", tool_runs, (int)raw.len, raw.ptr);
}

/* Its text straight from the request (kept by reference until the reply). */
static int echo_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    echo_runs++;
    return mcp_call_text_value(call, mcp_json_get(args, "text"));
}

static int flaky_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    flaky_runs++;
    if (flaky_runs <= 2)
        return mcp_call_tool_error(call, "backend unavailable (%d)", flaky_runs);
    return mcp_call_text(call, "ok");
}

static int tagged_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    tagged_runs++;
    return mcp_call_text(call, "tagged %d", tagged_runs);
}

static int derived_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    derived_runs++;
    return mcp_call_text(call, "derived %d", derived_runs);
}

static int add_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    add_runs++;
    char obj[64];
    snprintf(obj, sizeof obj, "{\"sum\":%g}", mcp_json_num(mcp_json_get(args, "a"), 0) + mcp_json_num(mcp_json_get(args, "b"), 0));
    return mcp_call_structured(call, obj);
}

static int slow_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    slow_runs++;
    return mcp_call_text(call, "not idempotent %d", slow_runs);
}

/* A result with its own _meta: the cache keeps bodies only, so it is not stored. */
static int meta_tool(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    meta_runs++;
    assert_int_equal(mcp_call_result_meta(call, "{\"vendor/run\":1}"), 0);
    return mcp_call_text(call, "with meta");
}

#define SAFE "{\"readOnlyHint\":true,\"idempotentHint\":true}"
#define TTL 10000

typedef struct rc_fixture {
    char dir[256];
    mcp_cache *cache;
    mcp_cache_result_store store;
    mcp_result_cache *rc;
    fixture *f;
} rc_fixture;

static void remove_dir(const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static mcp_cache *open_cache(const char *dir)
{
    mcp_cache *c = NULL;
    assert_int_equal(mcp_cache_new(&(mcp_cache_opts){.l1 = {.clock = fake_clock, .max_entries = 1000},
                                                     .l2_enabled = true,
                                                     .l2 = {.path = dir, .clock = fake_clock}},
                                   &c),
                     0);
    return c;
}

static void register_catalog(mcp_server *s)
{
    assert_int_equal(mcp_server_add_resource(s, &(mcp_resource){.uri = "test://counter", .name = "counter",
                                                                .ttl_ms = TTL, .cache_scope = "public",
                                                                .fn = counter_resource}),
                     0);
    assert_int_equal(mcp_server_add_resource(s, &(mcp_resource){.uri = "test://live", .name = "live", .ttl_ms = -1,
                                                                .fn = counter_resource}),
                     0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "lookup", .annotations = SAFE, .fn = lookup_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "flaky", .annotations = SAFE, .fn = flaky_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "echo", .annotations = SAFE, .fn = echo_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "meta", .annotations = SAFE, .fn = meta_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "tagged", .fn = tagged_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "derived", .fn = derived_tool}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "slow", .annotations = "{\"readOnlyHint\":true}",
                                                        .fn = slow_tool}),
                     0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "add", .annotations = SAFE,
                                                        .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":"
                                                                         "{\"type\":\"number\"}},\"required\":[\"sum\"]}",
                                                        .fn = add_tool}),
                     0);
}

static void open_server(rc_fixture *t)
{
    t->store = (mcp_cache_result_store){.cache = t->cache, .clock = fake_clock};
    assert_int_equal(mcp_result_cache_new(&(mcp_result_cache_opts){.store = mcp_cache_result_store_ops(&t->store),
                                                                   .default_ttl_ms = 3000},
                                          &t->rc),
                     0);
    static const char *const tags[] = {"weather"};
    static const char *const deps[] = {"test://counter"};
    assert_int_equal(mcp_result_cache_set_tool(t->rc, "tagged", &(mcp_result_policy){.ttl_ms = 20000, .cache_scope = "public",
                                                                                    .tags = tags, .tag_count = 1}),
                     0);
    assert_int_equal(mcp_result_cache_set_tool(t->rc, "derived", &(mcp_result_policy){.ttl_ms = 20000, .deps = deps,
                                                                                     .dep_count = 1}),
                     0);
    t->f = fixture_new(&(mcp_server_opts){.name = "rc", .version = "1", .result_cache = t->rc});
    register_catalog(t->f->server);
}

static void close_server(rc_fixture *t)
{
    fixture_free(t->f);
    mcp_result_cache_free(t->rc);
    t->f = NULL;
    t->rc = NULL;
}

static int setup(void **state)
{
    rc_fixture *t = calloc(1, sizeof *t);
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/mcp-result-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    fake_now = 5000000;
    resource_runs = tool_runs = flaky_runs = tagged_runs = derived_runs = add_runs = slow_runs = meta_runs = 0;
    t->cache = open_cache(t->dir);
    open_server(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    rc_fixture *t = *state;
    close_server(t);
    mcp_cache_free(t->cache);
    remove_dir(t->dir);
    free(t);
    return 0;
}

static mcp_cache_stats l1_stats(rc_fixture *t)
{
    mcp_cache_stats s;
    mcp_cache_l1_stats(mcp_cache_get_l1(t->cache), &s);
    return s;
}

/* The message with its id member removed, for comparing responses. */
static char *without_id(const char *message, const char *id_member)
{
    const char *at = strstr(message, id_member);
    assert_non_null(at);
    size_t n = strlen(id_member);
    char *copy = malloc(strlen(message) + 1);
    memcpy(copy, message, (size_t)(at - message));
    strcpy(copy + (at - message), at + n);
    return copy;
}

static char *read_legacy(rc_fixture *t, const char *uri, int id)
{
    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"resources/read\",\"params\":{\"uri\":\"%s\"}}", id, uri);
    mcp_json *doc = roundtrip(t->f, text);
    result_of(doc);
    char member[32];
    snprintf(member, sizeof member, "\"id\":%d", id);
    return without_id(t->f->cap.messages[0], member);
}

static const mcp_json *call_tool(rc_fixture *t, const char *name, const char *args)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}", name,
             args);
    return result_of(roundtrip(t->f, text));
}

static const char *first_text(const mcp_json *result)
{
    return str_at(mcp_json_at(mcp_json_get(result, "content"), 0), "text");
}

static void second_read_is_a_hit(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    char *first = read_legacy(t, "test://counter", 1);
    mcp_cache_stats before = l1_stats(t);
    char *second = read_legacy(t, "test://counter", 2);
    mcp_cache_stats after = l1_stats(t);
    assert_int_equal(resource_runs, 1);
    assert_int_equal(after.hits, before.hits + 1);
    assert_int_equal(after.computes, before.computes);
    /* Same bytes, whatever the id: the body is stored, not the envelope. */
    assert_string_equal(first, second);
    assert_non_null(strstr(first, "\"text\":\"render 1\""));
    assert_null(strstr(first, "ttlMs")); /* handshake era: no hints */
    free(first);
    free(second);

    /* Opted out (negative ttl_ms): every read runs the handler. */
    free(read_legacy(t, "test://live", 3));
    free(read_legacy(t, "test://live", 4));
    assert_int_equal(resource_runs, 3);
}

static void ttl_expiry_recomputes(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-06-18", "{}");
    free(read_legacy(t, "test://counter", 1));
    fake_now += TTL - 1;
    free(read_legacy(t, "test://counter", 2));
    assert_int_equal(resource_runs, 1);
    fake_now += 2;
    char *third = read_legacy(t, "test://counter", 3);
    assert_int_equal(resource_runs, 2);
    assert_non_null(strstr(third, "render 2"));
    free(third);
}

static void update_invalidates_and_notifies(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    result_of(roundtrip(t->f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
                              "\"test://counter\"}}"));
    free(read_legacy(t, "test://counter", 2));
    free(read_legacy(t, "test://counter", 3));
    assert_int_equal(resource_runs, 1);
    const mcp_json *derived = call_tool(t, "derived", "{}");
    assert_string_equal(first_text(derived), "derived 1");
    call_tool(t, "derived", "{}");
    assert_int_equal(derived_runs, 1);

    capture_clear(&t->f->cap);
    mcp_cache_stats before = l1_stats(t);
    assert_int_equal(mcp_server_invalidate_resource(t->f->server, "test://counter"), 1);
    assert_int_equal(l1_stats(t).invalidations, before.invalidations + 2); /* the read and the tool derived from it */
    assert_true(find_message(t->f, "notifications/resources/updated", 0) >= 0);

    char *after = read_legacy(t, "test://counter", 4);
    assert_int_equal(resource_runs, 2);
    assert_non_null(strstr(after, "render 2"));
    free(after);
    assert_string_equal(first_text(call_tool(t, "derived", "{}")), "derived 2");

    /* The plain notification, as a server announces a change it made itself,
     * drops the cached copy too: nobody reads the old render afterwards. */
    before = l1_stats(t);
    assert_int_equal(mcp_server_notify_resource_updated(t->f->server, "test://counter"), 1);
    assert_true(l1_stats(t).invalidations > before.invalidations);
    char *third = read_legacy(t, "test://counter", 5);
    assert_int_equal(resource_runs, 3);
    assert_non_null(strstr(third, "render 3"));
    free(third);
}

static void errors_are_not_stored(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    const mcp_json *r = call_tool(t, "flaky", "{}");
    assert_true(mcp_json_bool(mcp_json_get(r, "isError"), false));
    r = call_tool(t, "flaky", "{}");
    assert_true(mcp_json_bool(mcp_json_get(r, "isError"), false));
    assert_int_equal(l1_stats(t).entries, 0);
    r = call_tool(t, "flaky", "{}");
    assert_false(mcp_json_bool(mcp_json_get(r, "isError"), false));
    call_tool(t, "flaky", "{}");
    assert_int_equal(flaky_runs, 3);
    assert_int_equal(l1_stats(t).entries, 1);

    /* A protocol error (unknown resource) stores nothing either. */
    mcp_json *doc = roundtrip(t->f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":"
                                    "\"test://missing\"}}");
    assert_int_equal(error_code(doc), MCP_ERROR_RESOURCE_NOT_FOUND);
    /* Neither does a tool without both hints. */
    call_tool(t, "slow", "{}");
    call_tool(t, "slow", "{}");
    assert_int_equal(slow_runs, 2);
    assert_int_equal(l1_stats(t).entries, 1);
    /* Nor a result with its own _meta, which a hit would lose. */
    for (int i = 0; i < 2; i++) {
        r = call_tool(t, "meta", "{}");
        assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "_meta"), "vendor/run"), 0), 1);
    }
    assert_int_equal(meta_runs, 2);
    assert_int_equal(l1_stats(t).entries, 1);
}

static void arguments_make_the_key(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    assert_string_equal(first_text(call_tool(t, "lookup", "{\"a\":1,\"b\":[true,\"x\"]}")),
                        "run 1 of {\"a\":1,\"b\":[true,\"x\"]}");
    /* Member order and number spelling do not matter: canonical JSON. */
    assert_string_equal(first_text(call_tool(t, "lookup", "{\"b\":[true,\"x\"],\"a\":1.0}")),
                        "run 1 of {\"a\":1,\"b\":[true,\"x\"]}");
    assert_string_equal(first_text(call_tool(t, "lookup", "{ \"b\" : [true, \"x\"], \"a\" : 10e-1 }")),
                        "run 1 of {\"a\":1,\"b\":[true,\"x\"]}");
    assert_int_equal(tool_runs, 1);
    /* Other arguments, other entry. */
    assert_string_equal(first_text(call_tool(t, "lookup", "{\"a\":2,\"b\":[true,\"x\"]}")),
                        "run 2 of {\"a\":2,\"b\":[true,\"x\"]}");
    call_tool(t, "lookup", "{\"a\":2,\"b\":[true,\"x\"]}");
    assert_int_equal(tool_runs, 2);
    assert_int_equal(l1_stats(t).entries, 2);

    /* A text taken from the request by reference is stored as written. */
    echo_runs = 0;
    assert_string_equal(first_text(call_tool(t, "echo", "{\"text\":\"kept \\u00e9\"}")), "kept \xc3\xa9");
    assert_string_equal(first_text(call_tool(t, "echo", "{\"text\":\"kept \\u00e9\"}")), "kept \xc3\xa9");
    assert_int_equal(echo_runs, 1);

    /* Structured results, stored once, checked against the output schema. */
    char *text1 = strdup(first_text(call_tool(t, "add", "{\"a\":2,\"b\":3}")));
    const mcp_json *r2 = call_tool(t, "add", "{\"b\":3,\"a\":2}");
    assert_int_equal(add_runs, 1);
    assert_int_equal(mcp_json_num(mcp_json_get(mcp_json_get(r2, "structuredContent"), "sum"), 0), 5);
    assert_string_equal(text1, first_text(r2));
    assert_string_equal(text1, "{\"sum\":5}");
    free(text1);
}

static void tags_drop_together(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    call_tool(t, "tagged", "{\"city\":\"Oslo\"}");
    call_tool(t, "tagged", "{\"city\":\"Rome\"}");
    call_tool(t, "tagged", "{\"city\":\"Oslo\"}");
    assert_int_equal(tagged_runs, 2);
    /* Two results, each held in L1 and in L2: four copies dropped. */
    assert_int_equal(mcp_server_invalidate_tag(t->f->server, "weather"), 4);
    assert_int_equal(mcp_server_invalidate_tag(t->f->server, "weather"), 0);
    assert_string_equal(first_text(call_tool(t, "tagged", "{\"city\":\"Oslo\"}")), "tagged 3");
    assert_int_equal(mcp_server_invalidate_tag(t->f->server, ""), MCP_EINVAL);
}

static const mcp_json *modern(rc_fixture *t, const char *method, const char *params)
{
    char text[768];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"%s\",\"params\":{%s," MODERN_META "}}",
             method, params);
    return result_of(roundtrip(t->f, text));
}

static void modern_hints_follow_the_entry(void **state)
{
    rc_fixture *t = *state;
    const mcp_json *r = modern(t, "resources/read", "\"uri\":\"test://counter\"");
    assert_string_equal(str_at(r, "resultType"), "complete");
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), TTL);
    assert_string_equal(str_at(r, "cacheScope"), "public");
    assert_non_null(mcp_json_get(mcp_json_get(r, "_meta"), "io.modelcontextprotocol/serverInfo"));

    fake_now += 400;
    r = modern(t, "resources/read", "\"uri\":\"test://counter\"");
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), TTL - 400);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(r, "contents"), 0), "text"), "render 1");
    assert_int_equal(resource_runs, 1);

    /* Annotated tool: the cache's default TTL and the server's scope. */
    r = modern(t, "tools/call", "\"name\":\"lookup\",\"arguments\":{}");
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), 3000);
    assert_string_equal(str_at(r, "cacheScope"), "private");
    fake_now += 1000;
    r = modern(t, "tools/call", "\"name\":\"lookup\",\"arguments\":{}");
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), 2000);
    assert_int_equal(tool_runs, 1);
    /* A policy given by name: its TTL and scope. */
    r = modern(t, "tools/call", "\"name\":\"tagged\",\"arguments\":{}");
    assert_int_equal(mcp_json_int(mcp_json_get(r, "ttlMs"), -1), 20000);
    assert_string_equal(str_at(r, "cacheScope"), "public");

    /* An entry stored by a handshake-era request serves the modern era. */
    handshake(t->f, "2025-11-25", "{}");
    assert_string_equal(first_text(call_tool(t, "tagged", "{}")), "tagged 1");
    assert_int_equal(tagged_runs, 1);
}

static void fresh_l1_is_served_from_l2(void **state)
{
    rc_fixture *t = *state;
    handshake(t->f, "2025-11-25", "{}");
    free(read_legacy(t, "test://counter", 1));
    call_tool(t, "lookup", "{\"q\":1}");
    close_server(t);
    mcp_cache_free(t->cache);

    t->cache = open_cache(t->dir);
    open_server(t);
    handshake(t->f, "2025-11-25", "{}");
    char *again = read_legacy(t, "test://counter", 2);
    assert_non_null(strstr(again, "render 1"));
    free(again);
    assert_string_equal(first_text(call_tool(t, "lookup", "{\"q\":1}")), "run 1 of {\"q\":1}");
    assert_int_equal(resource_runs, 1);
    assert_int_equal(tool_runs, 1);
    mcp_cache_stats l2;
    mcp_cache_l2_stats(mcp_cache_get_l2(t->cache), &l2);
    assert_int_equal(l2.hits, 2);
}

static void bad_configuration_is_refused(void **state)
{
    (void)state;
    mcp_result_cache *rc = NULL;
    assert_int_equal(mcp_result_cache_new(&(mcp_result_cache_opts){0}, &rc), MCP_EINVAL);
    mcp_cache_result_store s = {0};
    assert_int_equal(mcp_result_cache_new(&(mcp_result_cache_opts){.store = mcp_cache_result_store_ops(&s)}, &rc), 0);
    assert_int_equal(mcp_result_cache_set_tool(rc, "t", &(mcp_result_policy){.ttl_ms = 1, .cache_scope = "shared"}),
                     MCP_EINVAL);
    assert_int_equal(mcp_result_cache_set_tool(rc, "t", &(mcp_result_policy){.ttl_ms = 1, .tag_count = 1}), MCP_EINVAL);
    assert_int_equal(mcp_result_cache_set_tool(rc, "", &(mcp_result_policy){.ttl_ms = 1}), MCP_EINVAL);
    mcp_result_cache_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(second_read_is_a_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(ttl_expiry_recomputes, setup, teardown),
        cmocka_unit_test_setup_teardown(update_invalidates_and_notifies, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_are_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(arguments_make_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(tags_drop_together, setup, teardown),
        cmocka_unit_test_setup_teardown(modern_hints_follow_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(fresh_l1_is_served_from_l2, setup, teardown),
        cmocka_unit_test(bad_configuration_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
