/*
 * Pool and batch stats on a real server's /metrics, the way an application
 * gets them: `mcpd serve` owns no pool and no batcher, so the program that
 * owns them (here a front server whose tool relays to an upstream through a
 * pool, and which also sends work through a batcher) adds the ready-made
 * collectors to the same mcp_metrics its observer renders. The test makes
 * real calls over loopback, scrapes GET /metrics from the front server's
 * HTTP listener, finds the pool's and the batcher's counters at the values
 * their own stats report, and hands the text to promtool when installed.
 */
#include "mcp/batch.h"
#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/obs.h"
#include "mcp/pool.h"
#include "net/net_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/test_loopback.h"
#include "unit/test_mcpd.h"

static int echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(args, "text"), ""));
}

/* The front server's tool: ask the upstream through the pool. */
static int relay(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    mcp_client_result r = {0};
    int rc = mcp_pool_call(user, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"relayed\"}}", &r);
    bool ok = rc == 0 && r.json && strstr(r.json, "relayed");
    mcp_client_result_free(&r);
    return ok ? mcp_call_text(call, "upstream said relayed") : mcp_call_tool_error(call, "upstream failed");
}

typedef struct done_state {
    pthread_mutex_t lock;
    unsigned done, ok;
} done_state;

static void on_done(void *user, int status, const mcp_json *value, int64_t id) {
    (void)value;
    (void)id;
    done_state *d = user;
    pthread_mutex_lock(&d->lock);
    d->done++;
    d->ok += status == 0;
    pthread_mutex_unlock(&d->lock);
}

/* One request on a fresh connection; the whole response. */
static char *http_exchange(int port, const char *request) {
    int fd = connect_port(port);
    send_all(fd, request);
    return mcpd_recv_to_close(fd);
}

static void assert_has(const char *text, const char *line) {
    if (!strstr(text, line)) fail_msg("missing in /metrics: %s", line);
}

static void test_pool_and_batch_stats_on_served_metrics(void **state) {
    (void)state;
    /* The upstream: plain NDJSON over TCP. */
    mcp_server *upstream = mcp_server_new(&(mcp_server_opts){.name = "upstream", .version = "1"});
    assert_int_equal(mcp_server_add_tool(upstream, &(mcp_tool){.name = "echo", .fn = echo}), 0);
    mcp_net *up_net;
    assert_int_equal(mcp_net_start(&up_net, upstream, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL), 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", mcp_net_port(up_net));

    /* What the application owns: a pool, a batcher, and one registry that
     * its observer serves and its collectors fill. */
    mcp_pool *pool;
    assert_int_equal(mcp_pool_new(&(mcp_pool_opts){.connect = mcp_pool_connect_tcp, .connect_user = addr}, &pool), 0);
    mcp_batcher *batcher;
    assert_int_equal(mcp_batcher_new(&(mcp_batcher_opts){.connect = addr}, &batcher), 0);
    mcp_metrics *metrics;
    assert_int_equal(mcp_metrics_new(&metrics), 0);
    mcp_obs *obs;
    assert_int_equal(mcp_obs_new(NULL, metrics, &obs), 0);
    assert_int_equal(mcp_metrics_add_collector(metrics, mcp_metrics_collect_pool, pool), 0);
    assert_int_equal(mcp_metrics_add_collector(metrics, mcp_metrics_collect_batcher, batcher), 0);
    mcp_observer observer;
    mcp_obs_observer(obs, &observer);
    mcp_server *front = mcp_server_new(&(mcp_server_opts){.name = "front", .version = "1", .observer = &observer});
    assert_int_equal(mcp_server_add_tool(front, &(mcp_tool){.name = "relay", .fn = relay, .user = pool}), 0);
    mcp_net *front_net;
    assert_int_equal(mcp_net_start(&front_net, front, &(mcp_listen){.http = "127.0.0.1:0", .workers = 1},
                                   &(mcp_net_tuning){.http = true}),
                     0);
    int port = mcp_net_port(front_net);

    /* Two relayed calls over HTTP: two pool checkouts. */
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"relay\","
                               "\"arguments\":{},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" MCP_PROTOCOL_MODERN
                               "\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    char request[1024];
    snprintf(request, sizeof request,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: " MCP_PROTOCOL_MODERN "\r\n"
             "Mcp-Method: tools/call\r\nMcp-Name: relay\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof body - 1, body);
    for (int i = 0; i < 2; i++) {
        char *resp = http_exchange(port, request);
        if (!strstr(resp, "upstream said relayed")) fail_msg("relay answered: %s", resp);
        free(resp);
    }

    /* Three requests through the batcher. */
    done_state d = {.lock = PTHREAD_MUTEX_INITIALIZER};
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcp_batcher_add(batcher, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"b\"}}",
                                         on_done, &d),
                         0);
    assert_int_equal(mcp_batcher_flush(batcher, 5000), 0);
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&d.lock);
        unsigned done = d.done;
        pthread_mutex_unlock(&d.lock);
        if (done == 3) break;
        usleep(10000);
    }
    assert_int_equal(d.done, 3);
    assert_int_equal(d.ok, 3);

    /* The scrape, as Prometheus makes it. */
    char get[128];
    snprintf(get, sizeof get, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
    char *resp = http_exchange(port, get);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, MCP_METRICS_CONTENT_TYPE));
    char *text = strstr(resp, "\r\n\r\n");
    assert_non_null(text);
    text += 4;
    mcp_pool_stats ps;
    mcp_pool_get_stats(pool, &ps);
    mcp_batcher_stats bs;
    mcp_batcher_get_stats(batcher, &bs);
    char line[128];
    assert_int_equal(ps.checkouts, 2);
    assert_has(text, "mcp_pool_checkouts_total 2\n");
    snprintf(line, sizeof line, "mcp_pool_connects_total %llu\n", (unsigned long long)ps.connects);
    assert_has(text, line);
    assert_true(ps.connects >= 1);
    assert_has(text, "mcp_pool_connections{state=\"busy\"} 0\n");
    assert_has(text, "mcp_pool_failures_total{kind=\"connect\"} 0\n");
    assert_has(text, "mcp_pool_breaker_open 0\n");
    assert_has(text, "mcp_batch_requests_total 3\n");
    assert_has(text, "mcp_batch_completed_total{outcome=\"ok\"} 3\n");
    snprintf(line, sizeof line, "mcp_batch_groups_total %llu\n", (unsigned long long)bs.groups);
    assert_has(text, line);
    assert_true(bs.groups >= 1);
    assert_has(text, "mcp_batch_queued 0\n");
    /* Beside them, what the observer and the listener report. */
    assert_has(text, "mcp_server_requests_total{method=\"tools/call\",outcome=\"ok\"} 2\n");
    assert_has(text, "mcp_net_connections_accepted_total ");
    assert_has(text, "mcp_metrics_render_errors_total 0\n");

    promtool_check(text);
    free(resp);

    mcp_net_free(front_net);
    mcp_server_free(front);
    mcp_batcher_free(batcher);
    mcp_pool_free(pool);
    mcp_obs_free(obs);
    mcp_metrics_free(metrics);
    mcp_net_free(up_net);
    mcp_server_free(upstream);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_and_batch_stats_on_served_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
