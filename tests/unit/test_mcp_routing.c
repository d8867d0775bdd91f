/* mcp_session_set_write_for: messages that belong to a request reach the
 * transport with that request's id (so HTTP can put them on its stream);
 * the rest go through sink.write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

typedef struct routed {
    capture all;      /* every message, in order */
    char ids[CAPTURE_MAX][32]; /* the request id each went with, "" for none */
} routed;

static routed r;

static int plain_write(void *user, const char *message, size_t len)
{
    (void)user;
    pthread_mutex_lock(&r.all.lock);
    if (r.all.count < CAPTURE_MAX)
        r.ids[r.all.count][0] = '\0';
    pthread_mutex_unlock(&r.all.lock);
    return capture_write(&r.all, message, len);
}

static int write_for(void *user, const char *id, size_t id_len, const char *message, size_t len)
{
    (void)user;
    pthread_mutex_lock(&r.all.lock);
    if (r.all.count < CAPTURE_MAX)
        snprintf(r.ids[r.all.count], sizeof r.ids[0], "%.*s", (int)id_len, id);
    pthread_mutex_unlock(&r.all.lock);
    return capture_write(&r.all, message, len);
}

static int chatty(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    if (!mcp_call_input(call, "ok")) {
        mcp_call_progress(call, 1, 2, NULL);
        mcp_call_log(call, MCP_LOG_INFO, NULL, "asking");
        return mcp_call_request_elicitation(call, "ok", "Go?", "{\"type\":\"object\",\"properties\":{}}");
    }
    return mcp_call_text(call, "went");
}

static void ignore(int status, const mcp_json *result, const mcp_json *error, void *user)
{
    (void)status, (void)result, (void)error, (void)user;
}

static void send_msg(mcp_session *s, const char *text)
{
    assert_int_equal(mcp_session_handle(s, text, strlen(text)), 0);
}

static void test_routing(void **state)
{
    (void)state;
    memset(&r, 0, sizeof r);
    capture_init(&r.all);
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "chatty", .fn = chatty}), 0);
    mcp_session *s = mcp_session_new(server, &(mcp_sink){.write = plain_write});
    assert_int_equal(mcp_session_set_write_for(s, write_for), 0);
    assert_int_equal(mcp_session_set_write_for(NULL, write_for), MCP_EINVAL);

    send_msg(s, "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
            "\"capabilities\":{\"elicitation\":{}},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    send_msg(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_msg(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\",\"_meta\":{\"progressToken\":1}}}");
    /* init response, progress, log, elicitation request: all for their request. */
    assert_int_equal(capture_count(&r.all), 4);
    assert_string_equal(r.ids[0], "\"init\"");
    for (int i = 1; i < 4; i++)
        assert_string_equal(r.ids[i], "5");
    int64_t ask = mcp_json_int(mcp_json_get(capture_json(&r.all, 3), "id"), -1);
    char text[128];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\"}}", (long long)ask);
    send_msg(s, text);
    assert_int_equal(capture_count(&r.all), 5);
    assert_string_equal(r.ids[4], "5");

    /* Not about any request: plain write. */
    mcp_server_add_tool(server, &(mcp_tool){.name = "other", .fn = chatty});
    mcp_session_ping(s, ignore, NULL);
    mcp_server_log(server, MCP_LOG_ERROR, NULL, "server-wide");
    assert_int_equal(capture_count(&r.all), 8);
    for (int i = 5; i < 8; i++)
        assert_string_equal(r.ids[i], "");

    /* A modern listen: its acknowledgement and notifications carry its id. */
    send_msg(s, "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{"
            "\"toolsListChanged\":true}," MODERN_META "}}");
    mcp_server_remove_tool(server, "other");
    assert_int_equal(capture_count(&r.all), 11); /* ack, handshake list_changed, listen list_changed */
    assert_string_equal(r.ids[8], "\"L\"");
    assert_string_equal(r.ids[9], "");
    assert_string_equal(r.ids[10], "\"L\"");
    mcp_session_free(s);
    mcp_server_free(server);
    capture_free(&r.all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
