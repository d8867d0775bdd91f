/*
 * The ready-made collectors against real parts: a cache whose L1 and L2
 * answered and missed, a pool and a batcher that called a real TCP server
 * (mcp_net) — each renders its counters in the Prometheus text, with the
 * values the part's own stats give.
 */
#include "mcp/obs.h"
#include "mcp/batch.h"
#include "mcp/cache.h"
#include "mcp/pool.h"
#include "net/net_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *render(mcp_metrics *m) {
    mcp_buf text;
    mcp_buf_init(&text);
    assert_int_equal(mcp_metrics_render(m, &text), 0);
    return text.data;
}

static void assert_has(const char *text, const char *line) {
    if (!strstr(text, line)) fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void test_cache_by_tier(void **state) {
    (void)state;
    char dir[] = "/tmp/mcp-obs-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mcp_cache *c;
    assert_int_equal(mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 100}, .l2_enabled = true, .l2 = {.path = dir}},
                                   &c),
                     0);
    assert_int_equal(mcp_cache_put(c, MCP_STR_LIT("k"), MCP_STR_LIT("v"), NULL), 0);
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(mcp_cache_get(c, MCP_STR_LIT("k"), &out), 0);
    assert_int_not_equal(mcp_cache_get(c, MCP_STR_LIT("absent"), &out), 0);
    mcp_buf_free(&out);

    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    assert_int_equal(mcp_metrics_add_collector(m, mcp_metrics_collect_cache, c), 0);
    char *text = render(m);
    assert_has(text, "mcp_cache_hits_total{tier=\"l1\"} 1\n");
    assert_has(text, "mcp_cache_misses_total{tier=\"l1\"} 1\n");
    assert_has(text, "mcp_cache_misses_total{tier=\"l2\"} 1\n"); /* the miss went down to L2 */
    assert_has(text, "mcp_cache_entries{tier=\"l1\"} 1\n");
    assert_has(text, "mcp_cache_entries{tier=\"l2\"} 1\n");
    assert_has(text, "# TYPE mcp_cache_hits_total counter\n");
    assert_has(text, "mcp_metrics_render_errors_total 0\n");
    free(text);
    mcp_metrics_free(m);
    mcp_cache_free(c);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

typedef struct done_state {
    pthread_mutex_t lock;
    int status;
    bool done;
} done_state;

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    done_state *d = user;
    pthread_mutex_lock(&d->lock);
    d->status = status;
    d->done = true;
    pthread_mutex_unlock(&d->lock);
}

static void test_pool_and_batcher_after_real_calls(void **state) {
    (void)state;
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = echo}), 0);
    mcp_net *net;
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL), 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", mcp_net_port(net));

    mcp_pool *pool;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = addr}, &pool), 0);
    mcp_client_result r = {0};
    assert_int_equal(mcp_pool_call(pool, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"a\"}}", &r), 0);
    mcp_client_result_free(&r);

    mcp_batcher *b;
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = addr}, &b), 0);
    done_state d = {.lock = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(mcp_batcher_add(b, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"b\"}}", on_done, &d), 0);
    assert_int_equal(mcp_batcher_flush(b, 5000), 0);
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&d.lock);
        bool done = d.done;
        pthread_mutex_unlock(&d.lock);
        if (done) break;
        usleep(10000);
    }
    assert_true(d.done);
    assert_int_equal(d.status, 0);

    mcp_metrics *m;
    assert_int_equal(mcp_metrics_new(&m), 0);
    assert_int_equal(mcp_metrics_add_collector(m, mcp_metrics_collect_pool, pool), 0);
    assert_int_equal(mcp_metrics_add_collector(m, mcp_metrics_collect_batcher, b), 0);
    assert_int_equal(mcp_metrics_add_collector(m, mcp_metrics_collect_net, net), 0);
    char *text = render(m);
    mcp_pool_stats ps;
    mcp_pool_get_stats(pool, &ps);
    char line[128];
    snprintf(line, sizeof line, "mcp_pool_connects_total %llu\n", (unsigned long long)ps.connects);
    assert_has(text, line);
    assert_true(ps.connects >= 1);
    assert_has(text, "mcp_pool_checkouts_total 1\n");
    assert_has(text, "mcp_pool_connections{state=\"busy\"} 0\n");
    assert_has(text, "mcp_pool_failures_total{kind=\"connect\"} 0\n");
    assert_has(text, "mcp_batch_requests_total 1\n");
    assert_has(text, "mcp_batch_completed_total{outcome=\"ok\"} 1\n");
    assert_has(text, "mcp_batch_queued 0\n");
    /* The server saw the pool's and the batcher's connections. */
    const char *acc = strstr(text, "\nmcp_net_connections_accepted_total ");
    assert_non_null(acc);
    assert_true(atoll(acc + strlen("\nmcp_net_connections_accepted_total ")) >= 2);
    assert_has(text, "mcp_metrics_render_errors_total 0\n");
    free(text);
    mcp_metrics_free(m);
    mcp_batcher_free(b);
    mcp_pool_free(pool);
    mcp_net_stop(net);
    mcp_net_wait(net);
    mcp_net_free(net);
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_by_tier),
        cmocka_unit_test(test_pool_and_batcher_after_real_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
