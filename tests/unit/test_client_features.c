/*
 * test_client_features.c — the client's protocol features beyond plain
 * requests, against a scripted in-memory peer with a clock the test
 * controls: server requests answered per kind and the capabilities that
 * follow from the handlers, input_required rounds, the ttlMs cache and its
 * invalidation, long-lived listen requests, logging, subscriptions, and
 * content passed through untouched (tasks: test_client_task.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_peer.h"

static const char *str_at(const mcp_json *doc, const char *a, const char *b)
{
    const mcp_json *v = mcp_json_get(doc, a);
    if (b)
        v = mcp_json_get(v, b);
    return mcp_json_str(v, "");
}

/* What the handlers and the notification callback saw. */
typedef struct seen {
    notes notes;       /* first: the same user goes to on_note */
    int sampling, elicitation, roots, other;
    bool refuse_elicitation;
    bool lenient;      /* mutated input: do not judge the params */
} seen;

static void answer_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    seen *s = user;
    s->sampling++;
    assert_string_equal(method, "sampling/createMessage");
    if (!s->lenient)
        assert_true(mcp_json_is_array(mcp_json_get(params, "messages")));
    mcp_buf_append_cstr(&a->result, "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"Paris\"},"
                                    "\"model\":\"m\",\"stopReason\":\"endTurn\"}");
}

static void answer_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    seen *s = user;
    s->elicitation++;
    assert_string_equal(method, "elicitation/create");
    (void)params;
    if (s->refuse_elicitation) {
        a->error_code = -32603;
        snprintf(a->error_message, sizeof a->error_message, "no");
        return;
    }
    mcp_buf_append_cstr(&a->result, "{\"action\":\"accept\",\"content\":{\"name\":\"octocat\"}}");
}

static void answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    seen *s = user;
    s->roots++;
    assert_string_equal(method, "roots/list");
    (void)params;
    mcp_buf_append_cstr(&a->result, "{\"roots\":[{\"uri\":\"file:///work\",\"name\":\"work\"}]}");
}

static void answer_other(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    seen *s = user;
    s->other++;
    (void)method;
    (void)params;
    mcp_buf_append_cstr(&a->result, "{\"other\":true}");
}

typedef struct fixture {
    peer peer;
    seen seen;
    mcp_client *client;
} fixture;

typedef struct fixture_opts {
    const char *version;
    bool handlers;
    unsigned rounds;
    bool refresh;
    const char *log_level;
} fixture_opts;

static fixture *fixture_new(fixture_opts fo)
{
    fixture *f = calloc(1, sizeof *f);
    f->client = peer_client_new(&f->peer, (mcp_client_opts){
                                              .protocol_version = fo.version,
                                              .timeout_ms = 1000,
                                              .on_notification = on_note,
                                              .on_sampling = fo.handlers ? answer_sampling : NULL,
                                              .on_elicitation = fo.handlers ? answer_elicitation : NULL,
                                              .on_roots = fo.handlers ? answer_roots : NULL,
                                              .user = &f->seen,
                                              .max_input_rounds = fo.rounds,
                                              .refresh_on_change = fo.refresh,
                                              .log_level = fo.log_level,
                                          });
    return f;
}

static void fixture_free(fixture *f)
{
    mcp_client_free(f->client);
    peer_free(&f->peer);
    free(f);
}

static fixture *modern_ready(fixture_opts fo)
{
    fo.version = "2026-07-28";
    fixture *f = fixture_new(fo);
    assert_int_equal(mcp_client_start(f->client, NULL, NULL), 0);
    assert_true(mcp_client_is_ready(f->client));
    return f;
}

static fixture *handshake_ready(fixture_opts fo)
{
    fo.version = "2025-11-25";
    fixture *f = fixture_new(fo);
    assert_int_equal(mcp_client_start(f->client, NULL, NULL), 0);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-11-25\","
                    "\"capabilities\":{\"tools\":{\"listChanged\":true},\"logging\":{},"
                    "\"resources\":{\"subscribe\":true}},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}");
    assert_true(mcp_client_is_ready(f->client));
    return f;
}

/* ---- Server requests and capabilities ------------------------------------ */

static void test_capabilities_follow_handlers(void **state)
{
    (void)state;
    fixture *f = fixture_new((fixture_opts){.version = "2025-11-25", .handlers = true});
    assert_int_equal(mcp_client_start(f->client, NULL, NULL), 0);
    const mcp_json *caps = mcp_json_get(mcp_json_get(sent(&f->peer, 0), "params"), "capabilities");
    assert_true(mcp_json_is_object(mcp_json_get(caps, "sampling")));
    assert_true(mcp_json_is_object(mcp_json_get(mcp_json_get(caps, "elicitation"), "form")));
    assert_true(mcp_json_is_object(mcp_json_get(caps, "roots")));
    fixture_free(f);

    /* No handlers: an empty object, and the modern _meta says the same. */
    f = modern_ready((fixture_opts){0});
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    const mcp_json *meta = mcp_json_get(mcp_json_get(last_sent(&f->peer), "params"), "_meta");
    assert_int_equal(mcp_json_len(mcp_json_get(meta, "io.modelcontextprotocol/clientCapabilities")), 0);
    fixture_free(f);

    /* Explicit capabilities win over the derived ones. */
    peer p = {0};
    mcp_arena_init(&p.arena, 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-06-18",
                                                      .capabilities = "{\"experimental\":{\"x\":{}}}",
                                                      .on_sampling = answer_sampling,
                                                      .sink = {peer_write, &p}});
    assert_int_equal(mcp_client_start(c, NULL, NULL), 0);
    caps = mcp_json_get(mcp_json_get(sent(&p, 0), "params"), "capabilities");
    assert_null(mcp_json_get(caps, "sampling"));
    assert_non_null(mcp_json_get(caps, "experimental"));
    mcp_client_free(c);
    for (size_t i = 0; i < p.count; i++)
        free(p.sent[i]);
    mcp_arena_free(&p.arena);
}

static void test_server_requests_by_kind(void **state)
{
    (void)state;
    fixture *f = handshake_ready((fixture_opts){.handlers = true});
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\","
                    "\"params\":{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"?\"}}],"
                    "\"maxTokens\":5}}");
    const mcp_json *r = last_sent(&f->peer);
    assert_string_equal(str_at(r, "id", NULL), "s1");
    assert_string_equal(str_at(r, "result", "model"), "m");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"elicitation/create\","
                    "\"params\":{\"mode\":\"form\",\"message\":\"name?\",\"requestedSchema\":{\"type\":\"object\"}}}");
    r = last_sent(&f->peer);
    assert_int_equal(mcp_json_int(mcp_json_get(r, "id"), 0), 7);
    assert_string_equal(str_at(r, "result", "action"), "accept");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"roots/list\"}");
    r = last_sent(&f->peer);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_first(mcp_json_get(mcp_json_get(r, "result"), "roots")), "uri"), ""),
                        "file:///work");
    /* ping both ways: the server's is answered with {}, ours is a request. */
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}");
    r = last_sent(&f->peer);
    assert_int_equal(mcp_json_len(mcp_json_get(r, "result")), 0);
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "ping", NULL, NULL, on_done, &o, &id), 0);
    assert_string_equal(str_at(last_sent(&f->peer), "method", NULL), "ping");
    char reply[128];
    snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)id);
    feed(f->client, reply);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    /* An unknown kind with no catch-all: -32601 naming the method. */
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"x/unknown\"}");
    r = last_sent(&f->peer);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "error"), "code"), 0), -32601);
    assert_non_null(strstr(str_at(r, "error", "message"), "x/unknown"));
    /* A handler that refuses: its error goes back. */
    f->seen.refuse_elicitation = true;
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"elicitation/create\",\"params\":{}}");
    r = last_sent(&f->peer);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(r, "error"), "code"), 0), -32603);
    assert_int_equal(f->seen.sampling, 1);
    assert_int_equal(f->seen.elicitation, 2);
    assert_int_equal(f->seen.roots, 1);
    fixture_free(f);

    /* Without a kind's handler, on_request gets it. */
    peer p = {0};
    mcp_arena_init(&p.arena, 0);
    seen s = {0};
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2026-07-28",
                                                      .on_request = answer_other, .user = &s,
                                                      .sink = {peer_write, &p}});
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"roots/list\"}");
    assert_int_equal(s.other, 1);
    assert_true(mcp_json_get(mcp_json_get(sent(&p, 0), "result"), "other") != NULL);
    mcp_client_free(c);
    free(p.sent[0]);
    mcp_arena_free(&p.arena);
}

/* ---- input_required ---------------------------------------------------------- */

static const char *INPUT_REQUIRED =
    "\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{"
    "\"github_login\":{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"form\",\"message\":\"user?\","
    "\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}},"
    "\"capital\":{\"method\":\"sampling/createMessage\",\"params\":{\"messages\":[{\"role\":\"user\","
    "\"content\":{\"type\":\"text\",\"text\":\"Capital of France?\"}}],\"maxTokens\":100}},"
    "\"where\":{\"method\":\"roots/list\",\"params\":{}}},"
    "\"requestState\":\"eyJsb2NhdGlvbiI6Ik5ldyBZb3JrIn0\"}";

static void reply_to_last(fixture *f, const char *body)
{
    int64_t id = mcp_json_int(mcp_json_get(last_sent(&f->peer), "id"), -1);
    size_t n = strlen(body) + 64;
    char *text = malloc(n);
    snprintf(text, n, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", (long long)id, body);
    feed(f->client, text);
    free(text);
}

static void test_input_required_answered_and_retried(void **state)
{
    (void)state;
    fixture *f = modern_ready((fixture_opts){.handlers = true});
    outcome o = {0};
    int64_t first;
    assert_int_equal(mcp_client_request(f->client, "tools/call",
                                        "{\"name\":\"book\",\"arguments\":{\"city\":\"Paris\"},"
                                        "\"_meta\":{\"com.example/trace\":\"t\"}}",
                                        NULL, on_done, &o, &first),
                     0);
    size_t before = f->peer.count;
    reply_to_last(f, INPUT_REQUIRED);
    assert_int_equal(o.calls, 0); /* the caller does not see the intermediate round */
    assert_int_equal(f->peer.count, before + 1);
    const mcp_json *retry = last_sent(&f->peer);
    int64_t second = mcp_json_int(mcp_json_get(retry, "id"), -1);
    assert_true(second != first);
    assert_string_equal(str_at(retry, "method", NULL), "tools/call");
    const mcp_json *params = mcp_json_get(retry, "params");
    assert_string_equal(str_at(params, "name", NULL), "book");
    assert_string_equal(str_at(params, "arguments", "city"), "Paris");
    assert_string_equal(str_at(params, "requestState", NULL), "eyJsb2NhdGlvbiI6Ik5ldyBZb3JrIn0");
    assert_string_equal(str_at(params, "_meta", "com.example/trace"), "t");
    assert_string_equal(str_at(params, "_meta", "io.modelcontextprotocol/protocolVersion"), "2026-07-28");
    const mcp_json *responses = mcp_json_get(params, "inputResponses");
    assert_int_equal(mcp_json_len(responses), 3);
    assert_string_equal(str_at(mcp_json_get(responses, "github_login"), "action", NULL), "accept");
    assert_string_equal(str_at(mcp_json_get(responses, "github_login"), "content", "name"), "octocat");
    assert_string_equal(str_at(mcp_json_get(responses, "capital"), "content", "text"), "Paris");
    assert_true(mcp_json_is_array(mcp_json_get(mcp_json_get(responses, "where"), "roots")));
    assert_true(mcp_client_is_pending(f->client, second));
    assert_false(mcp_client_is_pending(f->client, first));

    /* A second round with only a requestState: retried with just that,
     * and the first round's answers are not carried along. */
    reply_to_last(f, "\"result\":{\"resultType\":\"input_required\",\"requestState\":\"s2\"}");
    params = mcp_json_get(last_sent(&f->peer), "params");
    assert_string_equal(str_at(params, "requestState", NULL), "s2");
    assert_null(mcp_json_get(params, "inputResponses"));
    assert_string_equal(str_at(params, "arguments", "city"), "Paris");

    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":\"booked\"}]}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.json, "booked"));
    assert_int_equal(o.id, mcp_json_int(mcp_json_get(last_sent(&f->peer), "id"), -1));
    mcp_client_counters counters;
    mcp_client_get_counters(f->client, &counters);
    assert_int_equal(counters.input_rounds, 2);
    assert_int_equal(f->seen.sampling, 1);
    assert_int_equal(f->seen.elicitation, 1);
    assert_int_equal(f->seen.roots, 1);
    assert_int_equal(mcp_client_pending_count(f->client), 0);
    fixture_free(f);
}

static void test_input_required_bounded(void **state)
{
    (void)state;
    /* A server that keeps asking gets max_input_rounds answers, then the
     * caller sees the input_required result. */
    fixture *f = modern_ready((fixture_opts){.handlers = true, .rounds = 2});
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"loop\"}", NULL, on_done, &o, NULL), 0);
    for (int round = 0; round < 3; round++)
        reply_to_last(f, INPUT_REQUIRED);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_CLIENT_INPUT_REQUIRED);
    assert_non_null(strstr(o.json, "inputRequests"));
    assert_int_equal(f->peer.count, 3); /* the request and two retries */
    fixture_free(f);

    /* No handler for what is asked: no retry, the caller decides. */
    f = modern_ready((fixture_opts){0});
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &o, NULL), 0);
    reply_to_last(f, INPUT_REQUIRED);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_CLIENT_INPUT_REQUIRED);
    assert_int_equal(f->peer.count, 1);
    fixture_free(f);

    /* A handler that refuses: same. A malformed inputRequests: same. */
    f = modern_ready((fixture_opts){.handlers = true});
    f->seen.refuse_elicitation = true;
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &o, NULL), 0);
    reply_to_last(f, INPUT_REQUIRED);
    assert_int_equal(o.status, MCP_CLIENT_INPUT_REQUIRED);
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &o, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"input_required\",\"inputRequests\":[1,2]}");
    assert_int_equal(o.status, MCP_CLIENT_INPUT_REQUIRED);
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"x\"}", NULL, on_done, &o, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{\"a\":{\"params\":{}}}}");
    assert_int_equal(o.status, MCP_CLIENT_INPUT_REQUIRED);
    assert_int_equal(f->peer.count, 3);
    fixture_free(f);
}

/* ---- The ttlMs cache ---------------------------------------------------------- */

static void test_cache_honours_ttl(void **state)
{
    (void)state;
    fixture *f = modern_ready((fixture_opts){0});
    outcome o = {0};
    const char *list = "\"result\":{\"resultType\":\"complete\",\"tools\":[{\"name\":\"a\",\"inputSchema\":{\"type\":\"object\"}}],"
                       "\"ttlMs\":500,\"cacheScope\":\"public\"}";
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, NULL), 0);
    reply_to_last(f, list);
    assert_int_equal(o.status, 0);
    char first[4096];
    snprintf(first, sizeof first, "%s", o.json);
    size_t sent_before = f->peer.count;

    /* Fresh: answered inside the call, nothing sent, same bytes, a new id. */
    int64_t id;
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/list", "{\"_meta\":{\"com.example/x\":1}}", NULL,
                                        on_done, &o, &id), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.id, id);
    assert_string_equal(o.json, first);
    assert_int_equal(f->peer.count, sent_before);
    mcp_client_counters counters;
    mcp_client_get_counters(f->client, &counters);
    assert_int_equal(counters.cache_hits, 1);
    assert_int_equal(counters.cache_stores, 1);

    /* Other params (another page) are another question. */
    assert_int_equal(mcp_client_request(f->client, "tools/list", "{\"cursor\":\"p2\"}", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, sent_before + 1);
    /* A caller may bypass the cache. */
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, &(mcp_client_request_opts){.no_cache = true},
                                        NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, sent_before + 2);

    /* Past ttlMs the request goes out again. */
    mcp_client_tick(f->client, 1000 * MS + 501 * MS);
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, NULL), 0);
    assert_int_equal(o.calls, 0);
    assert_int_equal(f->peer.count, sent_before + 3);
    /* ttlMs 0, a missing or unknown cacheScope, a tool call: never kept. */
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":0,\"cacheScope\":\"public\"}");
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":100}");
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":100,\"cacheScope\":\"everyone\"}");
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"a\"}", NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"content\":[],\"ttlMs\":100,\"cacheScope\":\"public\"}");
    size_t n = f->peer.count;
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"a\"}", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 2);
    /* A private result is kept too: this cache serves one client. */
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":100,\"cacheScope\":\"private\"}");
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 2);
    mcp_client_cache_clear(f->client);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 3);
    fixture_free(f);
}

static void test_cache_dropped_by_notifications(void **state)
{
    (void)state;
    fixture *f = modern_ready((fixture_opts){0});
    const char *read_a = "{\"uri\":\"file:///a\"}";
    const char *read_b = "{\"uri\":\"file:///b\"}";
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":60000,\"cacheScope\":\"public\"}");
    assert_int_equal(mcp_client_request(f->client, "resources/read", read_a, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"contents\":[{\"uri\":\"file:///a\",\"text\":\"1\"}],"
                     "\"ttlMs\":60000,\"cacheScope\":\"private\"}");
    assert_int_equal(mcp_client_request(f->client, "resources/read", read_b, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"contents\":[{\"uri\":\"file:///b\",\"text\":\"2\"}],"
                     "\"ttlMs\":60000,\"cacheScope\":\"private\"}");
    size_t n = f->peer.count;
    assert_int_equal(mcp_client_request(f->client, "resources/read", read_a, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n);

    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"file:///a\"}}");
    assert_int_equal(f->seen.notes.count, 1);
    assert_string_equal(f->seen.notes.methods[0], "notifications/resources/updated");
    assert_int_equal(mcp_client_request(f->client, "resources/read", read_b, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n);
    assert_int_equal(mcp_client_request(f->client, "resources/read", read_a, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 1);
    /* A list_changed for prompts leaves tools alone; tools' own drops it. */
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/prompts/list_changed\"}");
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 1);
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(f->peer.count, n + 2);
    assert_int_equal(f->seen.notes.count, 3);
    fixture_free(f);

    /* refresh_on_change: the notification itself re-fetches, the answer
     * refills the cache and nobody's callback runs for it. */
    f = modern_ready((fixture_opts){.refresh = true});
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, NULL, NULL, NULL), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":60000,\"cacheScope\":\"public\"}");
    n = f->peer.count;
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    assert_int_equal(f->peer.count, n + 1);
    assert_string_equal(str_at(last_sent(&f->peer), "method", NULL), "tools/list");
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"tools\":[{\"name\":\"new\",\"inputSchema\":{}}],"
                     "\"ttlMs\":60000,\"cacheScope\":\"public\"}");
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/list", NULL, NULL, on_done, &o, NULL), 0);
    assert_int_equal(f->peer.count, n + 1);
    assert_non_null(strstr(o.json, "\"new\""));
    fixture_free(f);
}

/* ---- Listening, logging, subscriptions ---------------------------------------- */

static void test_listen_stays_open_until_cancelled(void **state)
{
    (void)state;
    fixture *f = modern_ready((fixture_opts){.log_level = "debug"});
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(f->client, "subscriptions/listen",
                                        "{\"notifications\":{\"toolsListChanged\":true,"
                                        "\"resourceSubscriptions\":[\"file:///a\"]}}",
                                        &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT},
                                        on_done, &o, &id),
                     0);
    const mcp_json *params = mcp_json_get(last_sent(&f->peer), "params");
    assert_string_equal(str_at(params, "_meta", "io.modelcontextprotocol/logLevel"), "debug");
    assert_true(mcp_json_get(mcp_json_get(params, "notifications"), "toolsListChanged") != NULL);
    /* A day later it is still open. */
    mcp_client_tick(f->client, 1000 * MS + 86400000ull * MS);
    assert_true(mcp_client_is_pending(f->client, id));
    assert_int_equal(o.calls, 0);
    char text[512];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"_meta\":"
             "{\"io.modelcontextprotocol/subscriptionId\":%lld},\"notifications\":{\"toolsListChanged\":true}}}",
             (long long)id);
    feed(f->client, text);
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"_meta\":"
             "{\"io.modelcontextprotocol/subscriptionId\":%lld},\"uri\":\"file:///a\"}}",
             (long long)id);
    feed(f->client, text);
    assert_int_equal(f->seen.notes.count, 2);
    assert_string_equal(f->seen.notes.methods[0], "notifications/subscriptions/acknowledged");
    assert_non_null(strstr(f->seen.notes.params[1], "file:///a"));
    assert_int_equal(mcp_client_cancel(f->client, id, "done listening"), 0);
    const mcp_json *cancel = last_sent(&f->peer);
    assert_string_equal(str_at(cancel, "method", NULL), "notifications/cancelled");
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(cancel, "params"), "requestId"), -1), id);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MCP_ECANCELED);

    /* The server may end the stream itself with a result. */
    memset(&o, 0, sizeof o);
    assert_int_equal(mcp_client_request(f->client, "subscriptions/listen", "{\"notifications\":{}}",
                                        &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT},
                                        on_done, &o, &id), 0);
    reply_to_last(f, "\"result\":{\"resultType\":\"complete\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":1}}");
    assert_int_equal(o.status, 0);
    fixture_free(f);
}

static void test_handshake_logging_and_subscriptions(void **state)
{
    (void)state;
    fixture *f = handshake_ready((fixture_opts){.log_level = "info"});
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "logging/setLevel", "{\"level\":\"debug\"}", NULL, on_done, &o, NULL), 0);
    const mcp_json *req = last_sent(&f->peer);
    assert_string_equal(str_at(req, "params", "level"), "debug");
    /* The handshake era has no per-request log level: no _meta at all. */
    assert_null(mcp_json_get(mcp_json_get(req, "params"), "_meta"));
    reply_to_last(f, "\"result\":{}");
    assert_int_equal(o.status, 0);
    assert_int_equal(mcp_client_request(f->client, "resources/subscribe", "{\"uri\":\"file:///a\"}", NULL, on_done, &o, NULL), 0);
    assert_string_equal(str_at(last_sent(&f->peer), "params", "uri"), "file:///a");
    reply_to_last(f, "\"result\":{}");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\","
                    "\"logger\":\"db\",\"data\":{\"msg\":\"slow\"}}}");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"file:///a\"}}");
    feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tasks/status\",\"params\":{\"taskId\":\"t\","
                    "\"status\":\"working\",\"createdAt\":\"x\",\"lastUpdatedAt\":\"x\",\"ttl\":null}}");
    assert_int_equal(f->seen.notes.count, 3);
    assert_string_equal(f->seen.notes.methods[0], "notifications/message");
    assert_string_equal(f->seen.notes.params[0], "{\"level\":\"warning\",\"logger\":\"db\",\"data\":{\"msg\":\"slow\"}}");
    assert_string_equal(f->seen.notes.methods[1], "notifications/resources/updated");
    assert_string_equal(f->seen.notes.methods[2], "notifications/tasks/status");
    assert_int_equal(mcp_client_request(f->client, "resources/unsubscribe", "{\"uri\":\"file:///a\"}", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(str_at(last_sent(&f->peer), "method", NULL), "resources/unsubscribe");
    fixture_free(f);
}

/* ---- Content passes through untouched ------------------------------------------- */

static void test_content_passed_through(void **state)
{
    (void)state;
    static const char RESULT[] =
        "{\"content\":["
        "{\"type\":\"text\",\"text\":\"h\\u00e9llo \\ud83d\\ude00\",\"annotations\":{\"audience\":[\"user\"],"
        "\"priority\":0.5,\"lastModified\":\"2025-01-01T00:00:00Z\"},\"_meta\":{\"k\":1}},"
        "{\"type\":\"image\",\"data\":\"iVBORw0KGgo=\",\"mimeType\":\"image/png\"},"
        "{\"type\":\"audio\",\"data\":\"UklGRg==\",\"mimeType\":\"audio/wav\"},"
        "{\"type\":\"resource_link\",\"uri\":\"file:///x\",\"name\":\"x\",\"title\":\"X\",\"mimeType\":\"text/plain\","
        "\"size\":12,\"icons\":[{\"src\":\"https://example.com/i.png\",\"mimeType\":\"image/png\",\"sizes\":[\"48x48\"],"
        "\"theme\":\"dark\"}]},"
        "{\"type\":\"resource\",\"resource\":{\"uri\":\"file:///y\",\"mimeType\":\"application/octet-stream\","
        "\"blob\":\"AAEC\",\"_meta\":{\"z\":[1,2.5e3,null,true]}}}],"
        "\"structuredContent\":{\"n\":1.0e-7,\"big\":12345678901234567890},"
        "\"isError\":false,\"_meta\":{\"com.example/a\":{}}}";
    fixture *f = handshake_ready((fixture_opts){0});
    outcome o = {0};
    assert_int_equal(mcp_client_request(f->client, "tools/call", "{\"name\":\"all\"}", NULL, on_done, &o, NULL), 0);
    char body[2048];
    snprintf(body, sizeof body, "\"result\":%s", RESULT);
    reply_to_last(f, body);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.json, RESULT);

    /* completion/complete: params go out as given, the result comes back whole. */
    const char *complete_params = "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"review\"},"
                                  "\"argument\":{\"name\":\"language\",\"value\":\"py\"},"
                                  "\"context\":{\"arguments\":{\"code\":\"x\"}}}";
    assert_int_equal(mcp_client_request(f->client, "completion/complete", complete_params, NULL, on_done, &o, NULL), 0);
    assert_non_null(strstr(f->peer.sent[f->peer.count - 1], complete_params));
    reply_to_last(f, "\"result\":{\"completion\":{\"values\":[\"python\",\"pytorch\"],\"total\":2,\"hasMore\":false}}");
    assert_string_equal(o.json, "{\"completion\":{\"values\":[\"python\",\"pytorch\"],\"total\":2,\"hasMore\":false}}");
    fixture_free(f);
}

/* Mutated input_required, cacheable and notification bodies against a
 * client with every handler: whatever the bytes, no crash and no leak (the
 * sanitizer build checks), and every request ends or stays accounted for. */
static void test_mutated_feature_messages(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        NULL, /* INPUT_REQUIRED */
        "\"result\":{\"resultType\":\"complete\",\"tools\":[],\"ttlMs\":5,\"cacheScope\":\"public\"}",
        "\"result\":{\"resultType\":\"input_required\",\"requestState\":\"abc\",\"inputRequests\":{}}",
    };
    static const char *const methods[] = {"tools/call", "tools/list", "resources/read"};
    fixture *f = modern_ready((fixture_opts){.handlers = true, .refresh = true});
    f->seen.lenient = true;
    uint32_t seed = 12345;
    int completed = 0, retried = 0;
    for (int i = 0; i < 3000; i++) {
        const char *body = bodies[i % 3] ? bodies[i % 3] : INPUT_REQUIRED;
        char text[2048];
        snprintf(text, sizeof text, "%s", body);
        size_t len = strlen(text);
        for (int k = 0; k < 1 + i % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            text[at] = (char)(seed >> 16);
            if (!text[at])
                text[at] = '}';
        }
        outcome o = {0};
        int64_t id;
        const char *params = i % 3 == 2 ? "{\"uri\":\"file:///a\"}" : "{\"name\":\"x\"}";
        if (mcp_client_request(f->client, methods[i % 3], params, &(mcp_client_request_opts){.no_cache = true},
                               on_done, &o, &id) != 0)
            continue;
        size_t before = f->peer.count;
        reply_to_last(f, text);
        if (o.calls == 1)
            completed++;
        else if (f->peer.count > before)
            retried++;
        /* Whatever is left pending is cancelled: nothing may dangle. */
        while (mcp_client_pending_count(f->client) > 0) {
            int64_t pid = mcp_json_int(mcp_json_get(last_sent(&f->peer), "id"), -1);
            if (mcp_client_cancel(f->client, pid, NULL) != 0)
                break;
        }
        if (i % 50 == 0)
            feed(f->client, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
        for (size_t k = 0; k < f->peer.count; k++)
            free(f->peer.sent[k]);
        f->peer.count = 0;
        mcp_arena_reset(&f->peer.arena);
    }
    /* Most mutations break the JSON (counted as malformed, the request
     * times out or is cancelled); the rest end or retry. */
    assert_true(completed > 0);
    assert_true(retried > 0);
    mcp_client_tick(f->client, UINT64_MAX / 2);
    assert_int_equal(mcp_client_pending_count(f->client), 0);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capabilities_follow_handlers),
        cmocka_unit_test(test_server_requests_by_kind),
        cmocka_unit_test(test_input_required_answered_and_retried),
        cmocka_unit_test(test_input_required_bounded),
        cmocka_unit_test(test_cache_honours_ttl),
        cmocka_unit_test(test_cache_dropped_by_notifications),
        cmocka_unit_test(test_listen_stays_open_until_cancelled),
        cmocka_unit_test(test_handshake_logging_and_subscriptions),
        cmocka_unit_test(test_content_passed_through),
        cmocka_unit_test(test_mutated_feature_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
