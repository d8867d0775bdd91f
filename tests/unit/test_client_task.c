/*
 * test_client_task.c — tools called as tasks (2025-11-25) through the
 * blocking API, against a scripted transport whose far end answers each
 * message as a task-capable server would: tools/call gives a working task,
 * tasks/get reports it working a set number of times, tasks/result gives
 * the outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "mcp/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000ull

/* A transport whose far end is a function: each message sent is answered
 * at once into a queue the client then receives from. */
typedef struct scripted {
    mcp_client_transport base;
    char *queue[32];
    size_t head, tail;
    int gets;          /* tasks/get calls seen */
    int gets_to_finish;
    bool no_task;      /* answer tools/call directly */
    char call_params[1024];
} scripted;

static void push(scripted *s, const char *text)
{
    assert_true(s->tail < 32);
    s->queue[s->tail++] = strdup(text);
}

static int scripted_send(mcp_client_transport *t, const char *message, size_t len)
{
    scripted *s = (scripted *)t;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, message, len, NULL, &doc, NULL), 0);
    const char *method = mcp_json_str(mcp_json_get(doc, "method"), "");
    long long id = (long long)mcp_json_int(mcp_json_get(doc, "id"), -1);
    char reply[1024];
    reply[0] = '\0';
    const char *task = "\"taskId\":\"t-1\",\"createdAt\":\"2025-01-01T00:00:00Z\","
                       "\"lastUpdatedAt\":\"2025-01-01T00:00:00Z\",\"ttl\":60000,\"pollInterval\":20";
    if (!strcmp(method, "initialize")) {
        snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion\":\"2025-11-25\","
                 "\"capabilities\":{\"tasks\":{\"requests\":{\"tools\":{\"call\":{}}}}},"
                 "\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}", id);
    } else if (!strcmp(method, "tools/call")) {
        mcp_str raw = mcp_json_raw(mcp_json_get(doc, "params"));
        snprintf(s->call_params, sizeof s->call_params, "%.*s", (int)raw.len, raw.ptr);
        if (s->no_task)
            snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[]}}", id);
        else
            snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"task\":{%s,\"status\":\"working\"}}}",
                     id, task);
    } else if (!strcmp(method, "tasks/get")) {
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(doc, "params"), "taskId"), ""), "t-1");
        s->gets++;
        const char *status = s->gets >= s->gets_to_finish ? "completed" : "working";
        snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{%s,\"status\":\"%s\"}}", id, task,
                 status);
    } else if (!strcmp(method, "tasks/result")) {
        snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[{\"type\":\"text\","
                 "\"text\":\"done after %d polls\"}],\"_meta\":{\"io.modelcontextprotocol/related-task\":"
                 "{\"taskId\":\"t-1\"}}}}", id, s->gets);
    }
    mcp_arena_free(&arena);
    if (reply[0])
        push(s, reply);
    return 0;
}

static int scripted_recv(mcp_client_transport *t, mcp_buf *msg, unsigned timeout_ms)
{
    scripted *s = (scripted *)t;
    if (s->head == s->tail) {
        struct timespec ts = {0, (long)(timeout_ms < 5 ? timeout_ms : 5) * 1000000L};
        nanosleep(&ts, NULL);
        return MCP_ETIMEDOUT;
    }
    char *text = s->queue[s->head++];
    mcp_buf_reset(msg);
    mcp_buf_append_cstr(msg, text);
    free(text);
    return 0;
}

static void scripted_close(mcp_client_transport *t)
{
    scripted *s = (scripted *)t;
    while (s->head < s->tail)
        free(s->queue[s->head++]);
}

static void test_task_polled_to_result(void **state)
{
    (void)state;
    scripted s = {.base = {scripted_send, scripted_recv, scripted_close}, .gets_to_finish = 3};
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = &s.base});
    assert_int_equal(mcp_client_connect(c, 1000, NULL), 0);
    mcp_client_result r;
    uint64_t t0 = mcp_now_ns();
    assert_int_equal(mcp_client_call_task_sync(c, "{\"name\":\"slow\",\"arguments\":{\"ms\":1}}", 30000, 5000, &r), 0);
    uint64_t took_ms = (mcp_now_ns() - t0) / MS;
    assert_non_null(strstr(r.json, "done after 3 polls"));
    assert_int_equal(s.gets, 3);
    /* Three waits of the server's 20 ms pollInterval. */
    assert_true(took_ms >= 55);
    assert_non_null(strstr(s.call_params, "\"task\":{\"ttl\":30000}"));
    assert_non_null(strstr(s.call_params, "\"arguments\":{\"ms\":1}"));
    mcp_client_result_free(&r);
    mcp_client_free(c);

    /* A server that runs the tool at once: that answer is the result. */
    scripted d = {.base = {scripted_send, scripted_recv, scripted_close}, .no_task = true};
    c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = &d.base});
    assert_int_equal(mcp_client_connect(c, 1000, NULL), 0);
    assert_int_equal(mcp_client_call_task_sync(c, "{\"name\":\"fast\"}", 0, 5000, &r), 0);
    assert_string_equal(r.json, "{\"content\":[]}");
    assert_non_null(strstr(d.call_params, "\"task\":{}"));
    assert_int_equal(d.gets, 0);
    mcp_client_result_free(&r);
    /* Bad params are refused before anything is sent. */
    assert_int_equal(mcp_client_call_task_sync(c, "[1]", 0, 5000, &r), MCP_EINVAL);
    mcp_client_free(c);

    /* A task that never finishes: the budget ends the wait. */
    scripted w = {.base = {scripted_send, scripted_recv, scripted_close}, .gets_to_finish = 1000000};
    c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = &w.base});
    assert_int_equal(mcp_client_connect(c, 1000, NULL), 0);
    assert_int_equal(mcp_client_call_task_sync(c, "{\"name\":\"stuck\"}", 0, 150, &r), MCP_ETIMEDOUT);
    assert_true(w.gets >= 3);
    assert_null(r.json);
    mcp_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_polled_to_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
