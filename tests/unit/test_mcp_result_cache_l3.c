/*
 * Results shared between two nodes through a real redis-server: each node
 * is a server with its own L1 and the Redis tier (mcpd's store, compiled in
 * here as mcpd compiles it) and cache coherence. A result computed on one
 * node is served by the other from Redis; when the first node's resource
 * changes, the second node's L1 copy is dropped by the invalidation
 * message and its next read runs the handler.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"
#include "unit/redis_fixture.h"

#include "mcp/cache.h"

static int runs;

static int shared_resource(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    runs++;
    char text[32];
    snprintf(text, sizeof text, "version %d", runs);
    return mcp_call_resource_text(call, uri, "text/plain", text, strlen(text));
}

typedef struct node {
    mcp_cache_l3 *l3;
    mcp_cache *cache;
    mcp_cache_coherence *coh;
    mcp_cache_result_store store;
    mcp_result_cache *rc;
    fixture *f;
} node;

typedef struct two_nodes {
    redis_fixture redis;
    node a, b;
} two_nodes;

static void node_open(two_nodes *t, node *n, const char *id)
{
    assert_int_equal(mcp_cache_l3_new(&(mcp_cache_l3_opts){.port = t->redis.port, .timeout_ms = 500}, &n->l3), 0);
    assert_int_equal(mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 100}, .l3 = mcp_cache_l3_tier(n->l3)},
                                   &n->cache),
                     0);
    assert_int_equal(mcp_cache_coherence_new(&(mcp_cache_coherence_opts){.cache = n->cache, .l3 = n->l3, .node_id = id},
                                             &n->coh),
                     0);
    assert_int_equal(mcp_cache_l3_wait_connected(n->l3, 5000), 0);
    assert_int_equal(mcp_cache_coherence_wait_subscribed(n->coh, 5000), 0);
    n->store = (mcp_cache_result_store){.cache = n->cache};
    assert_int_equal(mcp_result_cache_new(&(mcp_result_cache_opts){.store = mcp_cache_result_store_ops(&n->store)}, &n->rc), 0);
    n->f = fixture_new(&(mcp_server_opts){.name = id, .version = "1", .result_cache = n->rc});
    assert_int_equal(mcp_server_add_resource(n->f->server, &(mcp_resource){.uri = "test://shared", .name = "shared",
                                                                           .ttl_ms = 60000, .fn = shared_resource}),
                     0);
    handshake(n->f, "2025-11-25", "{}");
}

static void node_close(node *n)
{
    fixture_free(n->f);
    mcp_result_cache_free(n->rc);
    mcp_cache_coherence_free(n->coh);
    mcp_cache_free(n->cache);
    mcp_cache_l3_free(n->l3);
}

static int setup(void **state)
{
    two_nodes *t = calloc(1, sizeof *t);
    *state = t;
    if (redis_fixture_start(&t->redis, 0) != 0)
        fail_msg("%s", t->redis.error);
    runs = 0;
    node_open(t, &t->a, "node-a");
    node_open(t, &t->b, "node-b");
    return 0;
}

static int teardown(void **state)
{
    two_nodes *t = *state;
    node_close(&t->a);
    node_close(&t->b);
    redis_fixture_kill(&t->redis);
    free(t);
    return 0;
}

static const char *read_text(node *n)
{
    const mcp_json *r = result_of(roundtrip(
        n->f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"test://shared\"}}"));
    return str_at(mcp_json_at(mcp_json_get(r, "contents"), 0), "text");
}

static void computed_once_for_both_nodes_and_dropped_on_both(void **state)
{
    two_nodes *t = *state;
    assert_string_equal(read_text(&t->a), "version 1");
    assert_string_equal(read_text(&t->b), "version 1"); /* from Redis */
    assert_string_equal(read_text(&t->b), "version 1"); /* from b's L1 now */
    assert_int_equal(runs, 1);
    mcp_cache_l3_counts l3;
    mcp_cache_l3_stats(t->b.l3, &l3);
    assert_int_equal(l3.hits, 1);

    mcp_cache_coherence_counts before;
    mcp_cache_coherence_stats(t->b.coh, &before);
    assert_int_equal(mcp_server_invalidate_resource(t->a.f->server, "test://shared"), 0);
    mcp_cache_coherence_counts now = before;
    for (int i = 0; i < 500 && now.applied == before.applied; i++) {
        usleep(10 * 1000);
        mcp_cache_coherence_stats(t->b.coh, &now);
    }
    assert_true(now.applied > before.applied);
    /* Gone from Redis and from b's L1: b computes anew. */
    assert_string_equal(read_text(&t->b), "version 2");
    assert_string_equal(read_text(&t->a), "version 2");
    assert_int_equal(runs, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(computed_once_for_both_nodes_and_dropped_on_both, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
