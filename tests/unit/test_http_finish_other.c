/*
 * test_http_finish_other.c — a handler that finishes another request's
 * call: two modern-era POSTs pipelined on one HTTP connection, the first
 * ("hold") left pending, the second ("release") finishing the first's call
 * on the loop thread before it answers itself. Each request must get its
 * own answer, in order, whatever answer type the client accepts. The
 * connection is driven without sockets (mcp_http_conn_feed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http_internal.h"

#include <stdio.h>
#include <string.h>

#define META                                                                                                   \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                                  \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static mcp_call *held;

static int tool_hold(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    held = call;
    return MCP_PENDING;
}

static int tool_release(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    if (held) {
        mcp_call_text(held, "HELD-REPLY");
        mcp_call_finish(held);
        held = NULL;
    }
    return mcp_call_text(call, "RELEASE-REPLY");
}

static void post(mcp_buf *req, int id, const char *tool, const char *accept)
{
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                     "\"arguments\":{}," META "}}",
                     id, tool);
    assert_int_equal(mcp_buf_appendf(req,
                                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                     "Accept: %s\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
                                     "Mcp-Name: %s\r\nContent-Length: %d\r\n\r\n%s",
                                     accept, tool, n, body),
                     0);
}

static void each_request_gets_its_own_answer(const char *accept)
{
    held = NULL;
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_non_null(s);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "hold", .fn = tool_hold}), 0);
    assert_int_equal(mcp_server_add_tool(s, &(mcp_tool){.name = "release", .fn = tool_release}), 0);
    mcp_net_limits limits = {.max_message_size = 1 << 20, .idle_timeout_ms = 60000};
    mcp_http_opts opts = {.max_body_size = 1 << 20};
    mcp_http_server *http;
    assert_int_equal(
        mcp_http_server_new(&http, s, &(mcp_listen){.http = "127.0.0.1:0", .http_opts = &opts}, &limits, 1), 0);
    mcp_http_conn *conn = mcp_http_conn_new(http, 0, &(mcp_http_conn_io){0});
    assert_non_null(conn);
    mcp_buf req;
    mcp_buf_init(&req);
    post(&req, 1, "hold", accept);
    post(&req, 2, "release", accept);
    mcp_http_conn_feed(conn, req.data, req.len, 1000);

    mcp_buf *out = mcp_http_conn_out(conn);
    const char *held_reply = out->data ? memmem(out->data, out->len, "HELD-REPLY", 10) : NULL;
    const char *release_reply = out->data ? memmem(out->data, out->len, "RELEASE-REPLY", 13) : NULL;
    if (!held_reply || !release_reply)
        fail_msg("Accept %s: answers missing:\n%.*s", accept, (int)out->len, out->data ? out->data : "");
    /* HTTP/1.1 answers in order: the held request's answer first, each
     * carrying its own id. */
    assert_true(held_reply < release_reply);
    const char *second = strstr(out->data, "HTTP/1.1 200");
    assert_non_null(second);
    second = strstr(second + 1, "HTTP/1.1 200");
    assert_non_null(second);
    assert_true(held_reply < second && release_reply > second);
    assert_non_null(memmem(out->data, (size_t)(second - out->data), "\"id\":1,", 7));
    assert_non_null(memmem(second, out->len - (size_t)(second - out->data), "\"id\":2,", 7));
    assert_int_equal(mcp_http_conn_inflight(conn), 0);

    mcp_session *m = mcp_http_conn_detach(conn);
    if (m)
        mcp_session_free(m);
    mcp_http_conn_free(conn);
    mcp_http_server_free(http);
    mcp_server_free(s);
    mcp_buf_free(&req);
}

static void json_answers(void **state)
{
    (void)state;
    each_request_gets_its_own_answer("application/json");
}

static void sse_answers(void **state)
{
    (void)state;
    each_request_gets_its_own_answer("text/event-stream");
}

static void either_answer(void **state)
{
    (void)state;
    each_request_gets_its_own_answer("application/json, text/event-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_answers),
        cmocka_unit_test(sse_answers),
        cmocka_unit_test(either_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
