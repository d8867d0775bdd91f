/* The progress example server (examples/progress_server.c): progress
 * notifications, cancellation that stops the work (measured: the run is
 * counted as cancelled and the process exits promptly at end of input),
 * and primes as a task. Through a session, then the real binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define EXAMPLE_NO_MAIN
#include "../../examples/progress_server.c"

#include "test_mcp_util.h"
#include "test_spawn.h"

static fixture *server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "p", .version = "1"});
    assert_int_equal(progress_server_register(f->server), 0);
    handshake(f, "2025-11-25", "{}");
    return f;
}

static void wait_for_count(fixture *f, size_t n)
{
    for (int i = 0; i < 2000 && capture_count(&f->cap) < n; i++)
        usleep(1000);
}

static void test_progress_then_result(void **state)
{
    (void)state;
    fixture *f = server();
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"countdown\","
                 "\"arguments\":{\"from\":3,\"delay_ms\":1},\"_meta\":{\"progressToken\":\"tok\"}}}");
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    assert_int_equal(capture_count(&f->cap), 4);
    for (size_t i = 0; i < 3; i++) {
        mcp_json *p = capture_json(&f->cap, i);
        assert_string_equal(method_of(p), "notifications/progress");
        assert_string_equal(str_at(mcp_json_get(p, "params"), "progressToken"), "tok");
        assert_int_equal((int)mcp_json_num(mcp_json_get(mcp_json_get(p, "params"), "progress"), 0), (int)i + 1);
    }
    const mcp_json *r = result_of(capture_json(&f->cap, 3));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), "liftoff after 3 steps");

    /* Without a token: no progress, only the result. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"primes\",\"arguments\":{\"below\":100}}}");
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    assert_int_equal(capture_count(&f->cap), 1);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(result_of(capture_json(&f->cap, 0)), "structuredContent"), "count"), 0), 25);
    fixture_free(f);
}

static void test_cancellation_stops_the_work(void **state)
{
    (void)state;
    fixture *f = server();
    int before = atomic_load(&progress_cancelled_runs);
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"countdown\","
                 "\"arguments\":{\"from\":1000,\"delay_ms\":10},\"_meta\":{\"progressToken\":1}}}");
    wait_for_count(f, 2);
    long long t0 = now_ms();
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":7,\"reason\":\"enough\"}}");
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    assert_true(now_ms() - t0 < 1000); /* not the remaining ~10 s */
    assert_int_equal(atomic_load(&progress_cancelled_runs), before + 1);
    for (size_t i = 0; i < capture_count(&f->cap); i++)
        assert_null(mcp_json_get(capture_json(&f->cap, i), "id")); /* no response for 7 */
    fixture_free(f);
}

static void test_primes_as_task(void **state)
{
    (void)state;
    fixture *f = server();
    /* The task runs on its own thread and may already report its status
     * (notifications/tasks/status) beside the response: find the response. */
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"primes\","
                 "\"arguments\":{\"below\":1000},\"task\":{\"ttl\":1000}}}");
    long at = find_message(f, "", 0);
    assert_true(at >= 0);
    mcp_json *doc = capture_json(&f->cap, (size_t)at);
    char id[64];
    snprintf(id, sizeof id, "%s", str_at(mcp_json_get(result_of(doc), "task"), "taskId"));
    assert_int_equal(mcp_session_drain(f->session, 5000), 0);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"%s\"}}", id);
    const mcp_json *r = result_of(roundtrip(f, text));
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "structuredContent"), "count"), 0), 168);
    fixture_free(f);
}

static void test_binary(void **state)
{
    (void)state;
    char bin[1024];
    if (!example_path("progress_server", bin, sizeof bin))
        skip();
    child c;
    char *argv[] = {bin, NULL};
    assert_int_equal(child_start(&c, argv), 0);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                   "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    free(child_wait_for(&c, "\"id\":1", 5000));
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"countdown\","
                   "\"arguments\":{\"from\":1000,\"delay_ms\":10},\"_meta\":{\"progressToken\":\"p\"}}}");
    char *line = child_wait_for(&c, "notifications/progress", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "to go"));
    free(line);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":2}}");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"countdown\","
                   "\"arguments\":{\"from\":1,\"delay_ms\":0}}}");
    /* Request 3 is answered; request 2 never is. */
    for (;;) {
        line = child_line(&c, 5000);
        assert_non_null(line);
        assert_null(strstr(line, "\"id\":2,"));
        bool done = strstr(line, "\"id\":3") != NULL;
        free(line);
        if (done)
            break;
    }
    /* End of input: a cancelled countdown would otherwise hold the exit ~10 s. */
    long long t0 = now_ms();
    assert_int_equal(child_finish(&c, 5000), 0);
    assert_true(now_ms() - t0 < 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_then_result),
        cmocka_unit_test(test_cancellation_stops_the_work),
        cmocka_unit_test(test_primes_as_task),
        cmocka_unit_test(test_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
