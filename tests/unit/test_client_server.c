/*
 * test_client_server.c — the client against mcpd's own server core, end to
 * end: an mcp_server served over a pair of pipes by mcp_serve_stdio_fds on
 * a thread, the client on the other ends through mcp_connect_fds. Its
 * tools ask the client for input, log, change the tool list and touch a
 * resource, so every client feature meets the real counterpart, in both
 * eras.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_call_tools.h"

#include "test_pipe_server.h"

#include "mcp/client.h"
#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/net.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The server ------------------------------------------------------------- */

static int tool_plain(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    return mcp_call_text(call, "plain");
}

static int tool_grow(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    mcp_server *server = user;
    int rc = mcp_server_add_tool(server, &(mcp_tool){.name = "grown", .fn = tool_plain});
    return rc == 0 ? mcp_call_text(call, "grown") : mcp_call_tool_error(call, "grow: %d", rc);
}

static int tool_touch(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    mcp_server_notify_resource_updated(user, "test://doc");
    return mcp_call_text(call, "touched");
}

static int read_doc(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "the doc", 7);
}

static int prompt_fn(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    (void)user;
    return mcp_call_prompt_message(call, "user", "translate");
}

static int prompt_complete(mcp_call *call, const char *argument, const char *value, const mcp_json *context,
                           void *user)
{
    (void)context;
    (void)user;
    static const char *const languages[] = {"english", "esperanto", "estonian", "french", NULL};
    if (strcmp(argument, "language") != 0)
        return 0;
    for (size_t i = 0; languages[i]; i++)
        if (!strncmp(languages[i], value, strlen(value)))
            mcp_call_completion(call, languages[i]);
    return 0;
}

typedef struct served {
    mcp_server *server;
    pipe_server pipe;
    mcp_client *client;
} served;

/* What the client saw. */
typedef struct seen {
    int notes;
    char methods[32][64];
    char params[32][256];
    int requests;
} seen;

static void on_note(void *user, const char *method, const mcp_json *params)
{
    seen *s = user;
    if (s->notes < 32) {
        snprintf(s->methods[s->notes], 64, "%s", method);
        mcp_str raw = mcp_json_raw(params);
        snprintf(s->params[s->notes], 256, "%.*s", (int)raw.len, raw.ptr ? raw.ptr : "");
    }
    s->notes++;
}

static void answer_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    ((seen *)user)->requests++;
    (void)method;
    (void)params;
    mcp_buf_append_cstr(&a->result, "{\"action\":\"accept\",\"content\":{\"name\":\"octocat\"}}");
}

static void answer_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    ((seen *)user)->requests++;
    (void)method;
    (void)params;
    mcp_buf_append_cstr(&a->result, "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"Paris\"},"
                                    "\"model\":\"m\"}");
}

static void answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    ((seen *)user)->requests++;
    (void)method;
    (void)params;
    mcp_buf_append_cstr(&a->result, "{\"roots\":[{\"uri\":\"file:///trips\"}]}");
}

static served *start(const char *version, bool handlers, seen *seen_by_client)
{
    served *s = calloc(1, sizeof *s);
    s->server = mcp_server_new(&(mcp_server_opts){.name = "e2e", .version = "1", .ttl_ms = 60000,
                                                  .cache_scope = "public"});
    assert_non_null(s->server);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "book", .fn = tool_book}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "grow", .fn = tool_grow, .user = s->server}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "touch", .fn = tool_touch, .user = s->server}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "chatter", .fn = tool_chatter}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "content", .fn = tool_content}), 0);
    assert_int_equal(mcp_server_add_resource(s->server, &(mcp_resource){.uri = "test://doc", .name = "doc",
                                                                        .fn = read_doc}), 0);
    static const mcp_prompt_argument args[] = {{.name = "language", .required = true}};
    assert_int_equal(mcp_server_add_prompt(s->server, &(mcp_prompt){.name = "translate", .arguments = args,
                                                                    .argument_count = 1, .fn = prompt_fn,
                                                                    .complete = prompt_complete}), 0);
    mcp_client_transport *t = pipe_server_start(&s->pipe, s->server);
    s->client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = version,
        .timeout_ms = 5000,
        .transport = t,
        .on_notification = on_note,
        .on_elicitation = handlers ? answer_elicitation : NULL,
        .on_sampling = handlers ? answer_sampling : NULL,
        .on_roots = handlers ? answer_roots : NULL,
        .user = seen_by_client,
    });
    assert_non_null(s->client);
    assert_int_equal(mcp_client_connect(s->client, 5000, NULL), 0);
    return s;
}

static void stop(served *s)
{
    mcp_client_free(s->client); /* closes our pipe ends: the server sees the end of input */
    pipe_server_join(&s->pipe);
    mcp_server_free(s->server);
    free(s);
}

static char *call_ok(served *s, const char *method, const char *params)
{
    mcp_client_result r;
    int rc = mcp_client_call_sync(s->client, method, params, NULL, &r);
    if (rc != 0)
        fprintf(stderr, "%s -> %d %s\n", method, rc, r.json ? r.json : "");
    assert_int_equal(rc, 0);
    return r.json;
}

/* Pump until n notifications were seen (or a second passed). */
static void wait_notes(served *s, seen *w, int n)
{
    uint64_t until = mcp_now_ns() + 1000000000ull;
    while (w->notes < n && mcp_now_ns() < until)
        mcp_client_pump(s->client, 50);
}

static int find_note(const seen *w, const char *method)
{
    for (int i = 0; i < w->notes && i < 32; i++)
        if (!strcmp(w->methods[i], method))
            return i;
    return -1;
}

/* ---- Tests -------------------------------------------------------------------- */

static void test_input_answered_in_both_eras(void **state)
{
    (void)state;
    const char *versions[] = {"2026-07-28", "2025-11-25", "2025-06-18"};
    for (size_t i = 0; i < 3; i++) {
        seen w = {0};
        served *s = start(versions[i], true, &w);
        char *json = call_ok(s, "tools/call", "{\"name\":\"book\",\"arguments\":{}}");
        assert_non_null(strstr(json, "booked for octocat in Paris under file:///trips"));
        free(json);
        assert_int_equal(w.requests, 3);
        mcp_client_counters c;
        mcp_client_get_counters(s->client, &c);
        if (i == 0) {
            assert_int_equal(c.input_rounds, 1);     /* one input_required round */
            assert_int_equal(c.server_requests, 0);
        } else {
            assert_int_equal(c.input_rounds, 0);
            assert_int_equal(c.server_requests, 3);  /* requests over the connection */
        }
        stop(s);
    }
    /* A client without the capabilities: the server refuses (-32021). */
    seen w = {0};
    served *s = start("2026-07-28", false, &w);
    mcp_client_result r;
    assert_int_equal(mcp_client_call_sync(s->client, "tools/call", "{\"name\":\"book\",\"arguments\":{}}", NULL, &r),
                     MCP_CLIENT_RPC_ERROR);
    assert_non_null(strstr(r.json, "-32021"));
    mcp_client_result_free(&r);
    stop(s);
}

static void test_cache_and_listen_modern(void **state)
{
    (void)state;
    seen w = {0};
    served *s = start("2026-07-28", false, &w);
    mcp_client_counters c0, c1;
    free(call_ok(s, "tools/list", NULL));
    free(call_ok(s, "resources/read", "{\"uri\":\"test://doc\"}"));
    mcp_client_get_counters(s->client, &c0);
    /* ttlMs 60000 from the server: both answered from the cache. */
    char *tools = call_ok(s, "tools/list", NULL);
    free(call_ok(s, "resources/read", "{\"uri\":\"test://doc\"}"));
    mcp_client_get_counters(s->client, &c1);
    assert_int_equal(c1.cache_hits - c0.cache_hits, 2);
    assert_int_equal(c1.messages_out, c0.messages_out);
    assert_non_null(strstr(tools, "\"ttlMs\":60000"));
    assert_null(strstr(tools, "grown"));
    free(tools);

    /* Listen for tool list changes and the doc; the acknowledgement names
     * our request as the subscription. */
    int64_t listen_id = 0;
    assert_int_equal(mcp_client_request(s->client, "subscriptions/listen",
                                        "{\"notifications\":{\"toolsListChanged\":true,"
                                        "\"resourceSubscriptions\":[\"test://doc\"]}}",
                                        &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT}, NULL, NULL,
                                        &listen_id),
                     0);
    wait_notes(s, &w, 1);
    int ack = find_note(&w, "notifications/subscriptions/acknowledged");
    assert_true(ack >= 0);
    char id_text[64];
    snprintf(id_text, sizeof id_text, "\"io.modelcontextprotocol/subscriptionId\":%lld", (long long)listen_id);
    assert_non_null(strstr(w.params[ack], id_text));

    /* The doc changes: the notification arrives and the cached read is gone. */
    free(call_ok(s, "tools/call", "{\"name\":\"touch\",\"arguments\":{}}"));
    wait_notes(s, &w, 2);
    assert_true(find_note(&w, "notifications/resources/updated") >= 0);
    mcp_client_get_counters(s->client, &c0);
    free(call_ok(s, "resources/read", "{\"uri\":\"test://doc\"}"));
    mcp_client_get_counters(s->client, &c1);
    assert_int_equal(c1.cache_hits, c0.cache_hits);

    /* The tool list grows: list_changed drops the cached list. */
    free(call_ok(s, "tools/call", "{\"name\":\"grow\",\"arguments\":{}}"));
    wait_notes(s, &w, 3);
    assert_true(find_note(&w, "notifications/tools/list_changed") >= 0);
    tools = call_ok(s, "tools/list", NULL);
    assert_non_null(strstr(tools, "\"grown\""));
    free(tools);

    assert_true(mcp_client_is_pending(s->client, listen_id));
    assert_int_equal(mcp_client_cancel(s->client, listen_id, "enough"), 0);
    /* The connection is still good after the cancellation (2026-07-28 has
     * no ping). */
    free(call_ok(s, "tools/call", "{\"name\":\"touch\",\"arguments\":{}}"));
    stop(s);
}

static void test_logging_and_subscriptions_handshake(void **state)
{
    (void)state;
    seen w = {0};
    served *s = start("2025-11-25", false, &w);
    free(call_ok(s, "logging/setLevel", "{\"level\":\"info\"}"));
    free(call_ok(s, "tools/call", "{\"name\":\"chatter\",\"arguments\":{}}"));
    wait_notes(s, &w, 2);
    int logs = 0;
    for (int i = 0; i < w.notes; i++) {
        if (!strcmp(w.methods[i], "notifications/message")) {
            logs++;
            assert_null(strstr(w.params[i], "debug"));
        }
    }
    assert_int_equal(logs, 2);

    free(call_ok(s, "resources/subscribe", "{\"uri\":\"test://doc\"}"));
    free(call_ok(s, "tools/call", "{\"name\":\"touch\",\"arguments\":{}}"));
    int before = w.notes;
    wait_notes(s, &w, before + 1);
    assert_true(find_note(&w, "notifications/resources/updated") >= 0);
    free(call_ok(s, "resources/unsubscribe", "{\"uri\":\"test://doc\"}"));

    free(call_ok(s, "tools/call", "{\"name\":\"grow\",\"arguments\":{}}"));
    wait_notes(s, &w, w.notes + 1);
    assert_true(find_note(&w, "notifications/tools/list_changed") >= 0);

    char *json = call_ok(s, "completion/complete",
                         "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"translate\"},"
                         "\"argument\":{\"name\":\"language\",\"value\":\"es\"}}");
    assert_non_null(strstr(json, "\"values\":[\"esperanto\",\"estonian\"]"));
    free(json);
    free(call_ok(s, "ping", NULL));
    stop(s);
}

static void test_content_passed_through(void **state)
{
    (void)state;
    const char *versions[] = {"2026-07-28", "2025-11-25"};
    for (size_t i = 0; i < 2; i++) {
        seen w = {0};
        served *s = start(versions[i], false, &w);
        char *json = call_ok(s, "tools/call", "{\"name\":\"content\",\"arguments\":{}}");
        assert_non_null(strstr(json, LINK_BLOCK));
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        assert_int_equal(mcp_json_parse(&arena, json, strlen(json), NULL, &doc, NULL), 0);
        const mcp_json *content = mcp_json_get(doc, "content");
        const char *types[] = {"text", "image", "audio", "resource_link", "resource", "resource"};
        size_t n = 0;
        for (const mcp_json *b = mcp_json_first(content); b; b = mcp_json_next(b), n++) {
            assert_true(n < 6);
            assert_string_equal(mcp_json_str(mcp_json_get(b, "type"), ""), types[n]);
        }
        assert_int_equal(n, 6);
        const mcp_json *text = mcp_json_first(content);
        assert_string_equal(mcp_json_str(mcp_json_get(text, "text"), ""), "h\xc3\xa9llo");
        assert_true(mcp_json_num(mcp_json_get(mcp_json_get(text, "annotations"), "priority"), 0) == 0.25);
        assert_non_null(strstr(json, "\"data\":\"iVBORw0KGgo=\""));
        assert_non_null(strstr(json, "\"blob\":\"AAEC\""));
        mcp_arena_free(&arena);
        free(json);
        stop(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_answered_in_both_eras),
        cmocka_unit_test(test_cache_and_listen_modern),
        cmocka_unit_test(test_logging_and_subscriptions_handshake),
        cmocka_unit_test(test_content_passed_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
