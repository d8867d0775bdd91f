/* URL elicitation and sampling with tools from the client's side, against
 * the real server core in memory (both sides' messages go through queues
 * that the test pumps): the capabilities the client declares, a URL
 * elicitation reaching the application's handler in both eras,
 * notifications/elicitation/complete reaching its callback, -32042 reaching
 * the caller with its data, and a URL elicitation the client never offered
 * refused without bothering the handler. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 64

typedef struct queue {
    char *items[QUEUE_MAX];
    size_t head, tail;
} queue;

static int queue_write(void *user, const char *message, size_t len)
{
    queue *q = user;
    if (q->tail - q->head >= QUEUE_MAX)
        return MCP_ELIMIT;
    q->items[q->tail++ % QUEUE_MAX] = strndup(message, len);
    return 0;
}

static char *queue_take(queue *q)
{
    return q->head == q->tail ? NULL : q->items[q->head++ % QUEUE_MAX];
}

/* Every message the client sent, for assertions. */
typedef struct sent_log {
    char *messages[QUEUE_MAX];
    size_t count;
} sent_log;

typedef struct link {
    mcp_server *server;
    mcp_session *session;
    mcp_client *client;
    queue to_server, to_client;
    sent_log sent_by_client;
} link;

/* What the application saw. */
typedef struct app {
    int elicitations;
    char mode[16], url[128], elicitation_id[32];
    int completions;
    char completed[32];
    int samplings;
    size_t tools_offered;
} app;

static void on_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    app *s = user;
    (void)method;
    s->elicitations++;
    snprintf(s->mode, sizeof s->mode, "%s", mcp_json_str(mcp_json_get(params, "mode"), "form"));
    snprintf(s->url, sizeof s->url, "%s", mcp_json_str(mcp_json_get(params, "url"), ""));
    snprintf(s->elicitation_id, sizeof s->elicitation_id, "%s",
             mcp_json_str(mcp_json_get(params, "elicitationId"), ""));
    mcp_buf_append_cstr(&a->result, "{\"action\":\"accept\"}");
}

static void on_complete(void *user, const char *elicitation_id)
{
    app *s = user;
    s->completions++;
    snprintf(s->completed, sizeof s->completed, "%s", elicitation_id);
}

static void on_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    app *s = user;
    (void)method;
    s->samplings++;
    s->tools_offered = mcp_json_len(mcp_json_get(params, "tools"));
    mcp_buf_append_cstr(&a->result, "{\"role\":\"assistant\",\"content\":{\"type\":\"tool_use\",\"id\":\"u1\","
                                    "\"name\":\"get_weather\",\"input\":{}},\"model\":\"m-tools\","
                                    "\"stopReason\":\"toolUse\"}");
}

static const char URL[] = "https://auth.example.com/connect?state=abc";

static int sign_in(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "login");
    if (!answer)
        return mcp_call_request_elicitation_url(call, "login", "Sign in to continue", URL, "el-7");
    if (!mcp_protocol_is_modern(mcp_call_protocol_version(call)))
        assert_int_equal(mcp_call_elicitation_complete(call, "el-7"), 0);
    return mcp_call_text(call, "signed in: %s", mcp_json_str(mcp_json_get(answer, "action"), ""));
}

static int needs_auth(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_require_url_elicitation(call, "Authorize access first", URL, "el-9");
}

static int sample(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "s");
    if (answer)
        return mcp_call_text(call, "%s", mcp_json_str(mcp_json_get(answer, "model"), "?"));
    return mcp_call_request_sampling(call, "s", "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
                                                "\"text\":\"weather?\"}}],\"maxTokens\":20,\"tools\":[{\"name\":"
                                                "\"get_weather\",\"inputSchema\":{\"type\":\"object\"}}]}");
}

static int client_write(void *user, const char *message, size_t len)
{
    link *l = user;
    if (l->sent_by_client.count < QUEUE_MAX)
        l->sent_by_client.messages[l->sent_by_client.count++] = strndup(message, len);
    return queue_write(&l->to_server, message, len);
}

/* Deliver until both directions are quiet. */
static void pump(link *l)
{
    for (int rounds = 0; rounds < 100; rounds++) {
        bool moved = false;
        char *m;
        while ((m = queue_take(&l->to_server))) {
            assert_int_equal(mcp_session_handle(l->session, m, strlen(m)), 0);
            free(m);
            moved = true;
        }
        while ((m = queue_take(&l->to_client))) {
            assert_int_equal(mcp_client_handle(l->client, m, strlen(m)), 0);
            free(m);
            moved = true;
        }
        if (!moved)
            return;
    }
    fail_msg("the peers kept talking");
}

static link *link_new(mcp_client_opts opts)
{
    link *l = calloc(1, sizeof *l);
    l->server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_non_null(l->server);
    assert_int_equal(mcp_server_add_tool(l->server, &(mcp_tool){.name = "sign_in", .fn = sign_in}), 0);
    assert_int_equal(mcp_server_add_tool(l->server, &(mcp_tool){.name = "needs_auth", .fn = needs_auth}), 0);
    assert_int_equal(mcp_server_add_tool(l->server, &(mcp_tool){.name = "sample", .fn = sample}), 0);
    mcp_sink sink = {.write = queue_write, .user = &l->to_client};
    l->session = mcp_session_new(l->server, &sink);
    assert_non_null(l->session);
    opts.sink = (mcp_sink){.write = client_write, .user = l};
    l->client = mcp_client_new(&opts);
    assert_non_null(l->client);
    mcp_client_tick(l->client, mcp_now_ns());
    assert_int_equal(mcp_client_start(l->client, NULL, NULL), 0);
    pump(l);
    assert_true(mcp_client_is_ready(l->client));
    return l;
}

static void link_free(link *l)
{
    mcp_client_free(l->client);
    mcp_session_free(l->session);
    mcp_server_free(l->server);
    char *m;
    while ((m = queue_take(&l->to_server)))
        free(m);
    while ((m = queue_take(&l->to_client)))
        free(m);
    for (size_t i = 0; i < l->sent_by_client.count; i++)
        free(l->sent_by_client.messages[i]);
    free(l);
}

typedef struct outcome {
    int calls, status;
    char json[2048];
} outcome;

static void on_done(void *user, int status, const mcp_json *value, int64_t id)
{
    outcome *o = user;
    (void)id;
    o->calls++;
    o->status = status;
    mcp_str raw = mcp_json_raw(value);
    snprintf(o->json, sizeof o->json, "%.*s", (int)raw.len, raw.ptr ? raw.ptr : "");
}

static mcp_json *parse(mcp_arena *arena, const char *text)
{
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(arena, text, strlen(text), NULL, &doc, NULL), 0);
    return doc;
}

static void call_tool(link *l, const char *name, outcome *o)
{
    char params[128];
    snprintf(params, sizeof params, "{\"name\":\"%s\"}", name);
    memset(o, 0, sizeof *o);
    assert_int_equal(mcp_client_request(l->client, "tools/call", params, NULL, on_done, o, NULL), 0);
    pump(l);
    assert_int_equal(o->calls, 1);
}

static mcp_client_opts url_opts(app *s, const char *version)
{
    return (mcp_client_opts){.protocol_version = version, .on_elicitation = on_elicitation,
                             .on_elicitation_complete = on_complete, .elicitation_url = true, .user = s};
}

static void test_handshake_url_elicitation(void **state)
{
    (void)state;
    app s = {0};
    link *l = link_new(url_opts(&s, "2025-11-25"));
    /* The initialize the client sent offered both modes. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const mcp_json *init = parse(&arena, l->sent_by_client.messages[0]);
    assert_string_equal(mcp_json_str(mcp_json_get(init, "method"), ""), "initialize");
    const mcp_json *e = mcp_json_get(mcp_json_get(mcp_json_get(init, "params"), "capabilities"), "elicitation");
    assert_true(mcp_json_is_object(mcp_json_get(e, "url")));
    assert_true(mcp_json_is_object(mcp_json_get(e, "form")));

    outcome o;
    call_tool(l, "sign_in", &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(s.elicitations, 1);
    assert_string_equal(s.mode, "url");
    assert_string_equal(s.url, URL);
    assert_string_equal(s.elicitation_id, "el-7");
    assert_int_equal(s.completions, 1);
    assert_string_equal(s.completed, "el-7");
    const mcp_json *result = parse(&arena, o.json);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(result, "content"), 0), "text"), ""),
                        "signed in: accept");

    /* Later, from the session: the callback hears it too. */
    assert_int_equal(mcp_session_elicitation_complete(l->session, "el-8"), 0);
    pump(l);
    assert_int_equal(s.completions, 2);
    assert_string_equal(s.completed, "el-8");
    mcp_arena_free(&arena);
    link_free(l);
}

static void test_modern_url_elicitation(void **state)
{
    (void)state;
    app s = {0};
    link *l = link_new(url_opts(&s, "2026-07-28"));
    outcome o;
    call_tool(l, "sign_in", &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(s.elicitations, 1);
    assert_string_equal(s.mode, "url");
    assert_string_equal(s.url, URL);
    assert_string_equal(s.elicitation_id, ""); /* the modern schema has none */
    assert_int_equal(s.completions, 0);
    assert_non_null(strstr(o.json, "signed in: accept"));
    /* The request carried the capability in _meta. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const mcp_json *req = parse(&arena, l->sent_by_client.messages[0]);
    const mcp_json *caps = mcp_json_get(mcp_json_get(mcp_json_get(req, "params"), "_meta"),
                                        "io.modelcontextprotocol/clientCapabilities");
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(caps, "elicitation"), "url")));
    mcp_arena_free(&arena);
    link_free(l);
}

static void test_url_elicitation_required_reaches_caller(void **state)
{
    (void)state;
    app s = {0};
    link *l = link_new(url_opts(&s, "2025-11-25"));
    outcome o;
    call_tool(l, "needs_auth", &o);
    assert_int_equal(o.status, MCP_CLIENT_RPC_ERROR);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const mcp_json *error = parse(&arena, o.json);
    assert_int_equal(mcp_json_int(mcp_json_get(error, "code"), 0), MCP_ERROR_URL_ELICITATION_REQUIRED);
    const mcp_json *first = mcp_json_at(mcp_json_get(mcp_json_get(error, "data"), "elicitations"), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(first, "url"), ""), URL);
    assert_string_equal(mcp_json_str(mcp_json_get(first, "elicitationId"), ""), "el-9");
    assert_int_equal(s.elicitations, 0);
    mcp_arena_free(&arena);
    link_free(l);
}

static void test_url_elicitation_not_offered_is_refused(void **state)
{
    (void)state;
    app s = {0};
    mcp_client_opts opts = url_opts(&s, "2025-11-25");
    opts.elicitation_url = false;
    link *l = link_new(opts);
    /* A server that ignores the capabilities: the user is not sent anywhere. */
    static const char REQ[] = "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"elicitation/create\",\"params\":{\"mode\":"
                              "\"url\",\"elicitationId\":\"x\",\"message\":\"go\",\"url\":\"https://evil.example\"}}";
    size_t before = l->sent_by_client.count;
    assert_int_equal(mcp_client_handle(l->client, REQ, strlen(REQ)), 0);
    assert_int_equal(s.elicitations, 0);
    assert_int_equal(l->sent_by_client.count, before + 1);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    const mcp_json *reply = parse(&arena, l->sent_by_client.messages[before]);
    assert_int_equal(mcp_json_int(mcp_json_get(reply, "id"), 0), 41);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(reply, "error"), "code"), 0), MCP_RPC_INVALID_PARAMS);
    /* A form elicitation still reaches the handler. */
    static const char FORM[] = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"elicitation/create\",\"params\":{\"mode\":"
                               "\"form\",\"message\":\"name?\",\"requestedSchema\":{\"type\":\"object\","
                               "\"properties\":{}}}}";
    assert_int_equal(mcp_client_handle(l->client, FORM, strlen(FORM)), 0);
    assert_int_equal(s.elicitations, 1);
    assert_string_equal(s.mode, "form");
    /* Offered, but with nowhere to go: refused as well. */
    link_free(l);
    memset(&s, 0, sizeof s);
    l = link_new(url_opts(&s, "2025-11-25"));
    static const char NO_URL[] = "{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"elicitation/create\",\"params\":"
                                 "{\"mode\":\"url\",\"elicitationId\":\"x\",\"message\":\"go\"}}";
    before = l->sent_by_client.count;
    assert_int_equal(mcp_client_handle(l->client, NO_URL, strlen(NO_URL)), 0);
    assert_int_equal(s.elicitations, 0);
    reply = parse(&arena, l->sent_by_client.messages[before]);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(reply, "error"), "code"), 0), MCP_RPC_INVALID_PARAMS);
    mcp_arena_free(&arena);
    link_free(l);
}

static void test_sampling_tools_declared(void **state)
{
    (void)state;
    for (int modern = 0; modern < 2; modern++) {
        app s = {0};
        link *l = link_new((mcp_client_opts){.protocol_version = modern ? "2026-07-28" : "2025-11-25",
                                             .on_sampling = on_sampling, .sampling_tools = true, .user = &s});
        /* What the client declared: in initialize, or in the _meta of each
         * request (the modern era sends nothing before the first). */
        outcome o;
        call_tool(l, "sample", &o);
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        const mcp_json *params = mcp_json_get(parse(&arena, l->sent_by_client.messages[0]), "params");
        const mcp_json *caps = modern ? mcp_json_get(mcp_json_get(params, "_meta"),
                                                     "io.modelcontextprotocol/clientCapabilities")
                                      : mcp_json_get(params, "capabilities");
        assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(caps, "sampling"), "tools")));
        assert_null(mcp_json_get(caps, "elicitation"));
        mcp_arena_free(&arena);
        assert_int_equal(o.status, 0);
        assert_int_equal(s.samplings, 1);
        assert_int_equal(s.tools_offered, 1);
        assert_non_null(strstr(o.json, "m-tools"));
        link_free(l);

        /* Without sampling.tools the server does not ask: the call fails. */
        memset(&s, 0, sizeof s);
        l = link_new((mcp_client_opts){.protocol_version = modern ? "2026-07-28" : "2025-11-25",
                                       .on_sampling = on_sampling, .user = &s});
        call_tool(l, "sample", &o);
        assert_int_equal(o.status, MCP_CLIENT_RPC_ERROR);
        assert_non_null(strstr(o.json, "-32021"));
        assert_int_equal(s.samplings, 0);
        link_free(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_url_elicitation),
        cmocka_unit_test(test_modern_url_elicitation),
        cmocka_unit_test(test_url_elicitation_required_reaches_caller),
        cmocka_unit_test(test_url_elicitation_not_offered_is_refused),
        cmocka_unit_test(test_sampling_tools_declared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
