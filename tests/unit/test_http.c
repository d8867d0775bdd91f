/*
 * Streamable HTTP against real sockets on 127.0.0.1: keep-alive and
 * pipelining, chunked bodies, the status of every rule, the handshake-era
 * session lifecycle, JSON or SSE answers, the modern era's header checks,
 * DNS-rebinding protection and the size and time limits. Requests are raw
 * bytes and responses are compared byte for byte where the server's output
 * is deterministic.
 */
#include "test_http_session.h"

#define ECHO_CALL(id, text)                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," \
    "\"arguments\":{\"text\":\"" text "\"}}}"

#define ECHO_REPLY(id, text)                                                                      \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"" text "\"}]}}"

static char *json_response(const char *body) {
    char *r = malloc(strlen(body) + 128);
    sprintf(r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
            body);
    return r;
}

static void assert_json_response(char *got, const char *body) {
    char *want = json_response(body);
    assert_string_equal(got, want);
    free(want);
    free(got);
}

static void keep_alive_and_pipelining(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, &(mcp_listen){.workers = 1});

    /* Three requests in one write on the same connection. */
    char raw[4096] = "";
    const char *bodies[] = {ECHO_CALL(2, "a"), ECHO_CALL(3, "b"), ECHO_CALL(4, "c")};
    for (int i = 0; i < 3; i++)
        snprintf(raw + strlen(raw), sizeof raw - strlen(raw),
                 "POST /mcp HTTP/1.1\r\nHost: localhost:1\r\nContent-Type: application/json\r\n"
                 "Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n%s",
                 s.sid, strlen(bodies[i]), bodies[i]);
    mcp_net_counters before;
    mcp_net_counters_get(s.f.net, &before);
    client_send_str(&s.c, raw);
    assert_json_response(client_response(&s.c, 5000), ECHO_REPLY(2, "a"));
    assert_json_response(client_response(&s.c, 5000), ECHO_REPLY(3, "b"));
    assert_json_response(client_response(&s.c, 5000), ECHO_REPLY(4, "c"));
    mcp_net_counters after;
    mcp_net_counters_get(s.f.net, &after);
    /* One write per read: never more writes than reads for the burst. */
    assert_true(after.writes - before.writes <= after.reads - before.reads);
    assert_true(after.writes - before.writes >= 1);

    /* The connection is still good for more. */
    assert_json_response(client_exchange(&s.c, s.sid, ECHO_CALL(5, "d")), ECHO_REPLY(5, "d"));
    mcp_http_counters hc = http_counters(&s.f);
    assert_int_equal(hc.requests, 6);
    assert_int_equal(after.accepted, 1);
    http_session_stop(&s);
}

static void chunked_request_bodies(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, NULL);
    const char *body = ECHO_CALL(7, "chunky");
    size_t len = strlen(body);
    char head[512];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json\r\n%sTransfer-Encoding: chunked\r\n\r\n",
             s.sid);
    client_send_str(&s.c, head);
    /* Three chunks, the second sent byte by byte. */
    size_t cut1 = 10, cut2 = 40;
    char size[16];
    snprintf(size, sizeof size, "%zx\r\n", cut1);
    client_send_str(&s.c, size);
    client_send(&s.c, body, cut1);
    client_send_str(&s.c, "\r\n");
    snprintf(size, sizeof size, "%zx\r\n", cut2 - cut1);
    client_send_str(&s.c, size);
    for (size_t i = cut1; i < cut2; i++) {
        client_send(&s.c, body + i, 1);
        sleep_ms(1);
    }
    client_send_str(&s.c, "\r\n");
    snprintf(size, sizeof size, "%zx\r\n", len - cut2);
    client_send_str(&s.c, size);
    client_send(&s.c, body + cut2, len - cut2);
    client_send_str(&s.c, "\r\n0\r\n\r\n");
    assert_json_response(client_response(&s.c, 5000), ECHO_REPLY(7, "chunky"));
    http_session_stop(&s);
}

/* One request on a fresh connection; returns the whole response. */
static char *one_shot(const fixture *f, const char *raw) {
    client c;
    client_open(&c, f->port);
    client_send_str(&c, raw);
    char *r = client_response(&c, 5000);
    assert_non_null(r);
    client_close(&c);
    return r;
}

static void statuses_for_broken_rules(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, &(mcp_http_opts){.max_body_size = 256, .max_header_size = 512}, NULL);
    char *r;

    r = one_shot(&f, "GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_string_equal(r, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n");
    free(r);

    r = one_shot(&f, "PUT /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(response_status(r), 405);
    assert_non_null(strstr(r, "\r\nAllow: GET, POST, DELETE\r\n"));
    free(r);

    r = one_shot(&f, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Accept: text/html\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(response_status(r), 406);
    free(r);

    r = one_shot(&f, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 2\r\n\r\n{}");
    assert_int_equal(response_status(r), 415);
    free(r);

    /* A request without a session. */
    client c;
    client_open(&c, f.port);
    r = client_exchange(&c, NULL, ECHO_CALL(2, "x"));
    assert_string_equal(response_body(r), "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
                                          "\"message\":\"Bad Request: Mcp-Session-Id header is required\"}}");
    assert_int_equal(response_status(r), 400);
    free(r);
    r = client_exchange(&c, "Mcp-Session-Id: 0123456789abcdef0123456789abcdef\r\n", ECHO_CALL(2, "x"));
    assert_int_equal(response_status(r), 404);
    assert_string_equal(response_body(r), "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
                                          "\"message\":\"Session not found\"}}");
    free(r);
    /* Not JSON: a parse error, and the connection lives on. */
    r = client_exchange(&c, NULL, "{\"jsonrpc\":");
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32700"));
    free(r);
    /* A protocol version we do not speak. */
    r = client_exchange(&c, "MCP-Protocol-Version: 1999-01-01\r\n", INIT_BODY);
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32022"));
    assert_non_null(strstr(response_body(r), "\"requested\":\"1999-01-01\""));
    free(r);
    client_close(&c);

    /* Body over max_body_size: 413 before the body is read, then close. */
    char big[1024];
    snprintf(big, sizeof big, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: 300\r\n\r\n");
    client_open(&c, f.port);
    client_send_str(&c, big);
    r = client_response(&c, 5000);
    assert_non_null(r);
    assert_string_equal(r, "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n"
                           "Connection: close\r\n\r\nrequest body too large\n");
    free(r);
    assert_true(client_wait_eof(&c, 3000));
    client_close(&c);

    /* Headers over max_header_size: 431. */
    char huge[2048];
    snprintf(huge, sizeof huge, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: %0900d\r\n\r\n", 7);
    r = one_shot(&f, huge);
    assert_int_equal(response_status(r), 431);
    free(r);

    /* Not HTTP at all: an unknown method token is 501; a broken header 400. */
    r = one_shot(&f, "HELLO\r\n\r\n");
    assert_int_equal(response_status(r), 501);
    free(r);
    r = one_shot(&f, "GET /mcp HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n");
    assert_int_equal(response_status(r), 400);
    free(r);

    mcp_http_counters hc = http_counters(&f);
    assert_int_equal(hc.status_404, 2);
    assert_int_equal(hc.status_405, 1);
    assert_int_equal(hc.status_406, 1);
    assert_int_equal(hc.status_413, 1);
    assert_int_equal(hc.status_415, 1);
    assert_int_equal(hc.status_431, 1);
    assert_int_equal(hc.status_400, 4);
    assert_int_equal(hc.status_other_error, 1);
    fixture_stop(&f);
}

static void session_lifecycle(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, NULL);
    assert_int_equal(mcp_http_server_session_count(mcp_net_http(s.f.net)), 1);
    /* The id is 32 lowercase hex digits. */
    for (int i = 16; i < 48; i++) assert_non_null(strchr("0123456789abcdef", s.sid[i]));

    char extra[128];
    snprintf(extra, sizeof extra, "%sMCP-Protocol-Version: 2025-11-25\r\n", s.sid);
    assert_json_response(client_exchange(&s.c, extra, ECHO_CALL(2, "hi")), ECHO_REPLY(2, "hi"));

    /* A second connection may use the same session. */
    client d;
    client_open(&d, s.f.port);
    assert_json_response(client_exchange(&d, s.sid, ECHO_CALL(3, "there")), ECHO_REPLY(3, "there"));

    char del[256];
    snprintf(del, sizeof del, "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", s.sid);
    client_send_str(&d, del);
    char *r = client_response(&d, 5000);
    assert_string_equal(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    free(r);
    assert_int_equal(mcp_http_server_session_count(mcp_net_http(s.f.net)), 0);

    r = client_exchange(&s.c, s.sid, ECHO_CALL(4, "gone"));
    assert_int_equal(response_status(r), 404);
    free(r);
    client_send_str(&d, del);
    r = client_response(&d, 5000);
    assert_int_equal(response_status(r), 404);
    free(r);
    mcp_http_counters hc = http_counters(&s.f);
    assert_int_equal(hc.sessions_created, 1);
    assert_int_equal(hc.sessions_deleted, 1);
    client_close(&s.c);
    client_close(&d);
    fixture_stop(&s.f);
}

static void failed_initialize_leaves_no_session(void **state) {
    (void)state;
    http_session s;
    http_connect(&s, NULL, NULL);
    /* initialize without params is answered with an error and no id. */
    char *r = client_exchange(&s.c, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}");
    assert_int_equal(response_status(r), 200);
    assert_null(strstr(r, "Mcp-Session-Id"));
    assert_non_null(strstr(response_body(r), "\"error\""));
    free(r);
    assert_int_equal(mcp_http_server_session_count(mcp_net_http(s.f.net)), 0);
    http_session_stop(&s);
}

static void json_or_sse_by_accept_and_option(void **state) {
    (void)state;
    http_session s;
    http_session_start(&s, NULL, NULL);

    /* Accepts only SSE: one event and the end of the stream. */
    char head[512];
    const char *body = ECHO_CALL(2, "sse");
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
             "%sContent-Length: %zu\r\n\r\n%s",
             s.sid, strlen(body), body);
    client_send_str(&s.c, head);
    char *r = client_response(&s.c, 5000);
    assert_non_null(r);
    const char *prefix = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                         "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n";
    assert_int_equal(strncmp(r, prefix, strlen(prefix)), 0);
    /* One chunk: id, event, data, blank line; then the last chunk. */
    const char *chunk = r + strlen(prefix);
    const char *event = strstr(chunk, "\r\n") + 2;
    assert_int_equal(strncmp(event, "id: ", 4), 0);
    const char *data = strstr(event, "\nevent: message\ndata: " ECHO_REPLY(2, "sse") "\n\n\r\n0\r\n\r\n");
    assert_non_null(data);
    size_t event_len = strtoul(chunk, NULL, 16);
    assert_int_equal(event_len, (size_t)(data - event) + strlen("\nevent: message\ndata: " ECHO_REPLY(2, "sse") "\n\n"));
    free(r);

    /* Accepts both, no notifications: JSON. */
    assert_json_response(client_exchange(&s.c, s.sid, ECHO_CALL(3, "json")), ECHO_REPLY(3, "json"));

    /* Accepts both, but the handler sends progress first: SSE. */
    r = client_exchange(&s.c, s.sid,
                        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\","
                        "\"_meta\":{\"progressToken\":\"tok\"}}}");
    assert_int_equal(strncmp(r, prefix, strlen(prefix)), 0);
    const char *p1 = strstr(r, "\"method\":\"notifications/progress\"");
    assert_non_null(p1);
    const char *p2 = strstr(p1 + 1, "\"method\":\"notifications/progress\"");
    assert_non_null(p2);
    const char *reply = strstr(p2, "data: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\"");
    assert_non_null(reply);
    assert_non_null(strstr(reply, "\r\n0\r\n\r\n"));
    free(r);
    client_close(&s.c);
    mcp_http_counters hc = http_counters(&s.f);
    assert_int_equal(hc.responses_sse, 2);
    fixture_stop(&s.f);

    /* The server option prefers SSE even when JSON would do. */
    fixture_start(&s.f, &(mcp_http_opts){.prefer_sse = true}, NULL);
    client_open(&s.c, s.f.port);
    client_initialize(&s.c, s.sid);
    r = client_exchange(&s.c, s.sid, ECHO_CALL(5, "pref"));
    assert_int_equal(strncmp(r, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(r, "data: " ECHO_REPLY(5, "pref") "\n\n"));
    free(r);
    http_session_stop(&s);
}

#define MODERN_ECHO(id, name)                                                                     \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" name   \
    "\",\"arguments\":{\"text\":\"m\"}," MODERN_META "}}"

#define MODERN_HEADERS(method, name)                                                               \
    "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: " method "\r\nMcp-Name: " name "\r\n"

static void modern_era_headers_are_checked(void **state) {
    (void)state;
    http_session s;
    http_connect(&s, NULL, NULL);

    /* Happy path: stateless, no session id minted (one sent is ignored). */
    char *r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "echo") "Mcp-Session-Id: nonsense\r\n",
                              MODERN_ECHO(1, "echo"));
    assert_int_equal(response_status(r), 200);
    assert_null(strstr(r, "Mcp-Session-Id"));
    assert_non_null(strstr(response_body(r), "\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":\"m\"}]"));
    free(r);

    r = client_exchange(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Name: echo\r\n", MODERN_ECHO(2, "echo"));
    assert_int_equal(response_status(r), 400);
    assert_string_equal(response_body(r), "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32020,"
                                          "\"message\":\"Header mismatch: the Mcp-Method header is required\"}}");
    free(r);

    r = client_exchange(&s.c, MODERN_HEADERS("tools/list", "echo"), MODERN_ECHO(3, "echo"));
    assert_int_equal(response_status(r), 400);
    assert_string_equal(response_body(r),
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32020,\"message\":\"Header mismatch: "
                        "Mcp-Method header value 'tools/list' does not match body value 'tools/call'\"}}");
    free(r);

    r = client_exchange(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n", MODERN_ECHO(4, "echo"));
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "the Mcp-Name header is required for tools/call"));
    free(r);

    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "other"), MODERN_ECHO(5, "echo"));
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32020"));
    free(r);

    /* Base64 form of the name ("echo"). */
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "=?base64?ZWNobw==?="), MODERN_ECHO(6, "echo"));
    assert_int_equal(response_status(r), 200);
    free(r);

    /* A body without the _meta every modern request carries is malformed:
     * 400 with -32602, not a header mismatch (nothing to disagree with). */
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "echo"),
                        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32602"));
    assert_non_null(strstr(response_body(r), "protocolVersion is required"));
    free(r);
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "echo"),
                        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                        "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "clientCapabilities is required"));
    free(r);

    /* The body's _meta version must be the header's. */
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "echo"),
                        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                        "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2025-11-25\","
                        "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "MCP-Protocol-Version header value '2026-07-28' does not match"));
    free(r);

    /* Unknown method: 404 with -32601. */
    r = client_exchange(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: nope/nothing\r\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"nope/nothing\",\"params\":{" MODERN_META "}}");
    assert_int_equal(response_status(r), 404);
    assert_non_null(strstr(response_body(r), "\"code\":-32601"));
    free(r);

    /* A notification: 202. */
    r = client_exchange(&s.c, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: notifications/cancelled\r\n",
                        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":99}}");
    assert_string_equal(r, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    free(r);

    /* No GET stream in this era. */
    client_send_str(&s.c, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                        "MCP-Protocol-Version: 2026-07-28\r\n\r\n");
    r = client_response(&s.c, 5000);
    assert_int_equal(response_status(r), 405);
    free(r);

    /* A modern body behind a handshake-era header is a mismatch. */
    r = client_exchange(&s.c, "MCP-Protocol-Version: 2025-11-25\r\n", MODERN_ECHO(9, "echo"));
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32020"));
    free(r);
    /* Also when the key is spelled with an escape. */
    r = client_exchange(&s.c, "MCP-Protocol-Version: 2025-11-25\r\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                        "\"\\u005fmeta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                        "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32020"));
    free(r);

    /* Mcp-Param-* mirrors of x-mcp-header parameters. */
#define REGIONAL(id)                                                                                          \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"regional\","          \
    "\"arguments\":{\"region\":\"us-west1\",\"text\":\"r\"}," MODERN_META "}}"
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "regional") "mcp-param-region: us-west1\r\n", REGIONAL(10));
    assert_int_equal(response_status(r), 200);
    free(r);
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "regional") "Mcp-Param-Region: eu-west1\r\n", REGIONAL(11));
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "\"code\":-32020"));
    free(r);
    r = client_exchange(&s.c, MODERN_HEADERS("tools/call", "regional"), REGIONAL(12));
    assert_int_equal(response_status(r), 400);
    assert_non_null(strstr(response_body(r), "Mcp-Param-Region header is missing"));
    free(r);

    mcp_http_counters hc = http_counters(&s.f);
    assert_int_equal(hc.header_mismatch, 9);
    http_session_stop(&s);
}

static void origin_and_host_are_validated(void **state) {
    (void)state;
    static const char *const hosts[] = {"mcp.example.test", NULL};
    static const char *const origins[] = {"https://app.example.test", NULL};
    fixture f;
    fixture_start(&f, &(mcp_http_opts){.allowed_hosts = hosts, .allowed_origins = origins}, NULL);
    static const char *const cases[][2] = {
        {"Host: evil.example\r\n", "403"},
        {"Host: 127.0.0.1:9\r\nOrigin: http://evil.example\r\n", "403"},
        {"Host: 127.0.0.1:9\r\nOrigin: null\r\n", "403"},
        {"Host: localhost.evil.example\r\n", "403"},
        {"Host: localhost:8080\r\nOrigin: http://localhost:3000\r\n", "200"},
        {"Host: [::1]:8080\r\nOrigin: http://[::1]\r\n", "200"},
        {"Host: mcp.example.test\r\nOrigin: https://app.example.test\r\n", "200"},
        {"Host: 127.0.0.1\r\nOrigin: https://app.example.test.evil\r\n", "403"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char raw[1024];
        snprintf(raw, sizeof raw,
                 "POST /mcp HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 cases[i][0], strlen(INIT_BODY), INIT_BODY);
        char *r = one_shot(&f, raw);
        if (strncmp(r + 9, cases[i][1], 3) != 0) fail_msg("case %zu: %s", i, r);
        free(r);
    }
    assert_int_equal(http_counters(&f).status_403, 5);
    fixture_stop(&f);
}

static void request_timeout_and_idle_close(void **state) {
    (void)state;
    http_session s;
    http_connect(&s, &(mcp_http_opts){.request_timeout_ms = 150}, &(mcp_listen){.idle_timeout_ms = 300});
    client_send_str(&s.c, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{\"a\"");
    char *r = client_response(&s.c, 3000);
    assert_non_null(r);
    assert_int_equal(response_status(r), 408);
    free(r);
    assert_true(client_wait_eof(&s.c, 3000));
    client_close(&s.c);

    client_open(&s.c, s.f.port);
    assert_true(client_wait_eof(&s.c, 3000)); /* nothing sent: idle, closed */
    client_close(&s.c);
    mcp_http_counters hc = http_counters(&s.f);
    assert_int_equal(hc.request_timeouts, 1);
    assert_int_equal(hc.idle_closed, 1);
    fixture_stop(&s.f);
}

/* A client may open its connection well before its first request (a pool
 * warming up): quiet for several sweeps but within idle_timeout_ms, it is
 * still served. */
static void new_connection_waits_for_idle_timeout(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, NULL, &(mcp_listen){.idle_timeout_ms = 2000}); /* a sweep every 500 ms */
    client c;
    client_open(&c, f.port);
    sleep_ms(1200);
    char *r = client_exchange(&c, NULL, INIT_BODY);
    assert_int_equal(response_status(r), 200);
    free(r);
    client_close(&c);
    assert_int_equal(http_counters(&f).idle_closed, 0);
    fixture_stop(&f);
}

static void connection_close_is_honoured(void **state) {
    (void)state;
    http_session s;
    http_connect(&s, NULL, NULL);
    char raw[1024];
    snprintf(raw, sizeof raw,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(INIT_BODY), INIT_BODY);
    client_send_str(&s.c, raw);
    char *r = client_response(&s.c, 5000);
    assert_int_equal(response_status(r), 200);
    assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
    free(r);
    assert_true(client_wait_eof(&s.c, 3000));
    http_session_stop(&s);
}

/* W3C trace context from the HTTP headers reaches the server's observer,
 * which uses it when params._meta carries none; a repeated traceparent
 * keeps the first and the request is still served. */
typedef struct trace_seen {
    char traceparent[64];
    char tracestate[64];
    int requests;
} trace_seen;

static void *trace_start(void *user, const mcp_request_info *info) {
    trace_seen *seen = user;
    snprintf(seen->traceparent, sizeof seen->traceparent, "%.*s", (int)info->http_traceparent.len,
             info->http_traceparent.ptr ? info->http_traceparent.ptr : "");
    snprintf(seen->tracestate, sizeof seen->tracestate, "%.*s", (int)info->http_tracestate.len,
             info->http_tracestate.ptr ? info->http_tracestate.ptr : "");
    seen->requests++;
    return NULL;
}

static void trace_end(void *user, void *handle, const mcp_request_outcome *outcome) {
    (void)user, (void)handle, (void)outcome;
}

static void trace_headers_reach_the_observer(void **state) {
    (void)state;
    trace_seen seen = {0};
    mcp_observer observer = {.on_request_start = trace_start, .on_request_end = trace_end, .user = &seen};
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .observer = &observer});
    assert_non_null(server);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    mcp_net *net = NULL;
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.http = "127.0.0.1:0", .workers = 1},
                                   &(mcp_net_tuning){.http = true}),
                     0);
    client c;
    client_open(&c, mcp_net_port(net));
    const char *parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    char *r = client_exchange(&c,
                              MODERN_HEADERS("tools/call", "echo")
                              "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                              "traceparent: 00-11111111111111111111111111111111-2222222222222222-01\r\n"
                              "tracestate: a=1\r\ntracestate: b=2\r\n",
                              MODERN_ECHO(1, "echo"));
    assert_int_equal(response_status(r), 200);
    free(r);
    assert_int_equal(seen.requests, 1);
    assert_string_equal(seen.traceparent, parent);
    assert_string_equal(seen.tracestate, "a=1,b=2");
    client_close(&c);
    mcp_net_free(net);
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keep_alive_and_pipelining),
        cmocka_unit_test(chunked_request_bodies),
        cmocka_unit_test(statuses_for_broken_rules),
        cmocka_unit_test(session_lifecycle),
        cmocka_unit_test(failed_initialize_leaves_no_session),
        cmocka_unit_test(json_or_sse_by_accept_and_option),
        cmocka_unit_test(modern_era_headers_are_checked),
        cmocka_unit_test(origin_and_host_are_validated),
        cmocka_unit_test(request_timeout_and_idle_close),
        cmocka_unit_test(new_connection_waits_for_idle_timeout),
        cmocka_unit_test(connection_close_is_honoured),
        cmocka_unit_test(trace_headers_reach_the_observer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
