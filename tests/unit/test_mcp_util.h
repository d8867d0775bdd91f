/*
 * test_mcp_util.h — a server, a session with a capturing sink, and helpers
 * to drive both protocol eras, for the feature tests of the server core.
 */
#ifndef TEST_MCP_UTIL_H
#define TEST_MCP_UTIL_H

#include "test_mcp_sink.h"

#include <stdio.h>

#define MODERN_META_CAPS(caps) \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
    "\"io.modelcontextprotocol/clientCapabilities\":" caps "," \
    "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}"
#define MODERN_META MODERN_META_CAPS("{}")

typedef struct fixture {
    mcp_server *server;
    mcp_session *session;
    capture cap;
} fixture;

static inline fixture *fixture_new(const mcp_server_opts *opts)
{
    fixture *f = calloc(1, sizeof *f);
    f->server = mcp_server_new(opts);
    if (!f->server)
        fail_msg("mcp_server_new failed");
    capture_init(&f->cap);
    mcp_sink sink = capture_sink(&f->cap);
    f->session = mcp_session_new(f->server, &sink);
    if (!f->session)
        fail_msg("mcp_session_new failed");
    return f;
}

static inline void fixture_free(fixture *f)
{
    mcp_session_free(f->session);
    mcp_server_free(f->server);
    capture_free(&f->cap);
    free(f);
}

static inline void send_text(fixture *f, const char *text)
{
    assert_int_equal(session_send(f->session, text), 0);
}

/* Answer the server's request req with result (a JSON value), capturing
 * afresh what follows. */
static inline void answer_request(fixture *f, const mcp_json *req, const char *result)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}",
             (long long)mcp_json_int(mcp_json_get(req, "id"), -1), result);
    capture_clear(&f->cap);
    send_text(f, text);
}

/* Send and expect exactly one message back. */
static inline mcp_json *roundtrip(fixture *f, const char *text)
{
    capture_clear(&f->cap);
    send_text(f, text);
    if (capture_count(&f->cap) != 1)
        fail_msg("expected one message, got %zu (first: %s)", capture_count(&f->cap),
                 capture_count(&f->cap) ? f->cap.messages[0] : "-");
    mcp_json *doc = capture_json(&f->cap, 0);
    assert_non_null(doc);
    return doc;
}

static inline const mcp_json *result_of(const mcp_json *doc)
{
    const mcp_json *r = mcp_json_get(doc, "result");
    if (!r)
        fail_msg("expected a result: %s", mcp_json_str(mcp_json_get(mcp_json_get(doc, "error"), "message"), "?"));
    return r;
}

static inline int64_t error_code(const mcp_json *doc)
{
    return mcp_json_int(mcp_json_get(mcp_json_get(doc, "error"), "code"), 0);
}

static inline const char *method_of(const mcp_json *doc)
{
    return mcp_json_str(mcp_json_get(doc, "method"), "");
}

static inline const char *str_at(const mcp_json *obj, const char *key)
{
    return mcp_json_str(mcp_json_get(obj, key), "");
}

/* initialize with these client capabilities, then notifications/initialized. */
static inline void handshake(fixture *f, const char *version, const char *caps)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":%s,\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
             version, caps);
    result_of(roundtrip(f, text));
    capture_clear(&f->cap);
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(capture_count(&f->cap), 0);
}

/* Index of the first captured message with this method (or "" for
 * responses) from start, or -1. */
static inline long find_message(fixture *f, const char *method, size_t start)
{
    for (size_t i = start; i < capture_count(&f->cap); i++) {
        mcp_json *doc = capture_json(&f->cap, i);
        if (doc && strcmp(method_of(doc), method) == 0)
            return (long)i;
    }
    return -1;
}

#endif
