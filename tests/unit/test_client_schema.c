/*
 * test_client_schema.c — what the client sends, judged by the protocol's own
 * JSON schemas (../shared/data/mcp-schema/<version>/schema.json): the
 * handshake-era initialize with capabilities derived from the handlers,
 * logging, subscriptions, completion, task calls and polls; the modern
 * era's _meta on every request, the input_required retry with
 * inputResponses and requestState, subscriptions/listen and cancellation.
 * Skips, saying so, when the schemas are not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "mcp/json.h"
#include "test_mcp_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENT 32

typedef struct peer {
    char *sent[MAX_SENT];
    size_t count;
} peer;

static int peer_write(void *user, const char *message, size_t len)
{
    peer *p = user;
    if (p->count < MAX_SENT)
        p->sent[p->count++] = strndup(message, len);
    return 0;
}

static void peer_free(peer *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->sent[i]);
    p->count = 0;
}

/* One version's schema file, parsed. */
typedef struct schema_doc {
    mcp_arena arena;
    char *text;
    mcp_str defs;       /* raw text of $defs */
} schema_doc;

static bool schema_open(schema_doc *d, const char *version)
{
    const char *shared = getenv("MCP_SHARED_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/mcp-schema/%s/schema.json", shared ? shared : "../shared/data", version);
    d->text = schema_slurp(path);
    if (!d->text) {
        printf("SKIPPED: MCP schema not found at %s (set MCP_SHARED_DATA)\n", path);
        return false;
    }
    size_t len = strlen(d->text);
    mcp_arena_init(&d->arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&d->arena, d->text, len, NULL, &doc, NULL), 0);
    d->defs = mcp_json_raw(mcp_json_get(doc, "$defs"));
    assert_true(d->defs.len > 0);
    return true;
}

static void schema_close(schema_doc *d)
{
    mcp_arena_free(&d->arena);
    free(d->text);
}

/* Validate message against the definition named def. */
static int validate(schema_doc *d, const char *def, const char *message, mcp_buf *why)
{
    mcp_buf text;
    mcp_buf_init(&text);
    mcp_buf_append_cstr(&text, "{\"$ref\":\"#/$defs/");
    mcp_buf_append_cstr(&text, def);
    mcp_buf_append_cstr(&text, "\",\"$defs\":");
    mcp_buf_append(&text, d->defs.ptr, d->defs.len);
    mcp_buf_append_char(&text, '}');
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_schema *schema = NULL;
    char err[256];
    assert_int_equal(mcp_schema_compile(&arena, text.data, text.len, &schema, err, sizeof err), 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, message, strlen(message), NULL, &doc, NULL), 0);
    int rc = mcp_schema_validate(schema, doc, why);
    mcp_arena_free(&arena);
    mcp_buf_free(&text);
    return rc;
}

static void assert_valid(schema_doc *d, const char *def, const char *message)
{
    mcp_buf why;
    mcp_buf_init(&why);
    if (validate(d, def, message, &why) != 0)
        fail_msg("%s does not match %s: %.*s", message, def, (int)why.len, why.data ? why.data : "");
    mcp_buf_free(&why);
}

/* The check has teeth: a message that breaks the schema is refused. */
static void assert_invalid(schema_doc *d, const char *def, const char *message)
{
    mcp_buf why;
    mcp_buf_init(&why);
    assert_int_equal(validate(d, def, message, &why), MCP_EINVAL);
    mcp_buf_free(&why);
}

static void answer_any(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    (void)user;
    (void)params;
    if (!strcmp(method, "sampling/createMessage"))
        mcp_buf_append_cstr(&a->result, "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"x\"},"
                                        "\"model\":\"m\"}");
    else if (!strcmp(method, "elicitation/create"))
        mcp_buf_append_cstr(&a->result, "{\"action\":\"accept\",\"content\":{\"name\":\"n\"}}");
    else
        mcp_buf_append_cstr(&a->result, "{\"roots\":[{\"uri\":\"file:///r\"}]}");
}

static void feed(mcp_client *c, const char *text)
{
    assert_int_equal(mcp_client_handle(c, text, strlen(text)), 0);
}

static mcp_client *client_new(const char *version, peer *p)
{
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .protocol_version = version, .log_level = "info", .sink = {peer_write, p},
        .on_sampling = answer_any, .on_elicitation = answer_any, .on_roots = answer_any});
    assert_non_null(c);
    mcp_client_tick(c, 1);
    assert_int_equal(mcp_client_start(c, NULL, NULL), 0);
    return c;
}

static void test_handshake_messages(void **state)
{
    (void)state;
    schema_doc d;
    if (!schema_open(&d, "2025-11-25")) {
        skip();
        return;
    }
    peer p = {0};
    mcp_client *c = client_new("2025-11-25", &p);
    assert_valid(&d, "InitializeRequest", p.sent[0]);
    assert_invalid(&d, "InitializeRequest", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
            "\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}");
    assert_valid(&d, "InitializedNotification", p.sent[1]);
    struct {
        const char *method, *params, *def;
    } requests[] = {
        {"logging/setLevel", "{\"level\":\"debug\"}", "SetLevelRequest"},
        {"resources/subscribe", "{\"uri\":\"file:///a\"}", "SubscribeRequest"},
        {"completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"p\"},\"argument\":{\"name\":\"a\",\"value\":\"v\"}}",
         "CompleteRequest"},
        {"tools/call", "{\"name\":\"t\",\"arguments\":{},\"task\":{\"ttl\":1000}}", "CallToolRequest"},
        {"tasks/get", "{\"taskId\":\"t-1\"}", "GetTaskRequest"},
        {"tasks/result", "{\"taskId\":\"t-1\"}", "GetTaskPayloadRequest"},
        {"tasks/cancel", "{\"taskId\":\"t-1\"}", "CancelTaskRequest"},
        {"tasks/list", NULL, "ListTasksRequest"},
        {"ping", NULL, "PingRequest"},
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        int64_t id;
        assert_int_equal(mcp_client_request(c, requests[i].method, requests[i].params,
                                            &(mcp_client_request_opts){.progress = i == 3}, NULL, NULL, &id), 0);
        assert_valid(&d, requests[i].def, p.sent[p.count - 1]);
        if (i == 3) {
            assert_int_equal(mcp_client_cancel(c, id, "changed my mind"), 0);
            assert_valid(&d, "CancelledNotification", p.sent[p.count - 1]);
        }
    }
    /* Answers to the server's requests are well-formed responses. */
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"roots/list\"}");
    assert_valid(&d, "JSONRPCResultResponse", p.sent[p.count - 1]);
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":\"u\",\"method\":\"no/such\"}");
    assert_valid(&d, "JSONRPCErrorResponse", p.sent[p.count - 1]);
    mcp_client_free(c);
    peer_free(&p);
    schema_close(&d);
}

static void test_modern_messages(void **state)
{
    (void)state;
    schema_doc d;
    if (!schema_open(&d, "2026-07-28")) {
        skip();
        return;
    }
    peer p = {0};
    mcp_client *c = client_new(NULL, &p);
    assert_valid(&d, "DiscoverRequest", p.sent[0]);
    assert_invalid(&d, "CallToolRequest", "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"t\"}}");
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"supportedVersions\":[\"2026-07-28\"],"
            "\"capabilities\":{}}}");
    assert_true(mcp_client_is_ready(c));

    int64_t id;
    assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"t\",\"arguments\":{\"a\":1}}", NULL, NULL, NULL, &id), 0);
    assert_valid(&d, "CallToolRequest", p.sent[p.count - 1]);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{"
             "\"a\":{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"form\",\"message\":\"?\","
             "\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}},"
             "\"b\":{\"method\":\"sampling/createMessage\",\"params\":{\"messages\":[],\"maxTokens\":1}},"
             "\"c\":{\"method\":\"roots/list\"}},\"requestState\":\"st\"}}",
             (long long)id);
    feed(c, text);
    const char *retry = p.sent[p.count - 1];
    assert_non_null(strstr(retry, "\"inputResponses\""));
    assert_valid(&d, "CallToolRequest", retry);

    assert_int_equal(mcp_client_request(c, "subscriptions/listen",
                                        "{\"notifications\":{\"toolsListChanged\":true,\"resourceSubscriptions\":[\"file:///a\"]}}",
                                        &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT}, NULL, NULL, &id), 0);
    assert_valid(&d, "SubscriptionsListenRequest", p.sent[p.count - 1]);
    assert_int_equal(mcp_client_cancel(c, id, NULL), 0);
    assert_valid(&d, "CancelledNotification", p.sent[p.count - 1]);
    struct {
        const char *method, *params, *def;
    } requests[] = {
        {"tools/list", NULL, "ListToolsRequest"},
        {"resources/read", "{\"uri\":\"file:///a\"}", "ReadResourceRequest"},
        {"prompts/get", "{\"name\":\"p\",\"arguments\":{\"x\":\"y\"}}", "GetPromptRequest"},
        {"completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"p\"},\"argument\":{\"name\":\"a\",\"value\":\"v\"}}",
         "CompleteRequest"},
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        assert_int_equal(mcp_client_request(c, requests[i].method, requests[i].params,
                                            &(mcp_client_request_opts){.progress = true}, NULL, NULL, NULL), 0);
        assert_valid(&d, requests[i].def, p.sent[p.count - 1]);
    }
    mcp_client_free(c);
    peer_free(&p);
    schema_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_messages),
        cmocka_unit_test(test_modern_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
