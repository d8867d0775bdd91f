/*
 * test_call_tools.h — tools for the tests that call mcpd's server core
 * end to end. "book" needs all three kinds of input from the client
 * before it answers: an elicited name, a sampled city and the client's
 * roots, asked for together in one input_required round; it answers
 * "booked for NAME in CITY under ROOT-URI". "content" answers with one
 * block of every kind, annotated; "chatter" logs at three levels.
 */
#ifndef TEST_CALL_TOOLS_H
#define TEST_CALL_TOOLS_H

#include "mcp/json.h"
#include "mcp/mcp.h"

static inline int tool_book(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    const mcp_json *who = mcp_call_input(call, "who");
    const mcp_json *model = mcp_call_input(call, "model");
    const mcp_json *roots = mcp_call_input(call, "roots");
    if (!who || !model || !roots) {
        int rc = 0;
        if (!who)
            rc = mcp_call_request_elicitation(call, "who", "Who is booking?",
                                              "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}");
        if (rc >= 0 && !model)
            rc = mcp_call_request_sampling(call, "model",
                                           "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
                                           "\"text\":\"Which city?\"}}],\"maxTokens\":10}");
        if (rc >= 0 && !roots)
            rc = mcp_call_request_roots(call, "roots");
        return rc < 0 ? rc : MCP_INPUT_REQUIRED;
    }
    return mcp_call_text(call, "booked for %s in %s under %s",
                         mcp_json_str(mcp_json_get(mcp_json_get(who, "content"), "name"), "?"),
                         mcp_json_str(mcp_json_get(mcp_json_get(model, "content"), "text"), "?"),
                         mcp_json_str(mcp_json_get(mcp_json_first(mcp_json_get(roots, "roots")), "uri"), "?"));
}

/* Written by the server byte for byte; the client must hand it on as is. */
static const char LINK_BLOCK[] =
    "{\"type\":\"resource_link\",\"uri\":\"test://doc\",\"name\":\"doc\",\"icons\":[{\"src\":"
    "\"https://example.com/i.png\",\"mimeType\":\"image/png\",\"sizes\":[\"48x48\"]}],\"_meta\":{\"k\":[1,2.5,null]}}";

/* Text, image, audio, LINK_BLOCK, an embedded blob and an embedded text;
 * user, when not NULL, is one more annotation for the last of them. */
static inline int tool_content(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    int rc = mcp_call_text(call, "h\xc3\xa9llo");
    if (rc == 0)
        rc = mcp_call_annotate(call, "{\"audience\":[\"user\"],\"priority\":0.25}");
    if (rc == 0)
        rc = mcp_call_image(call, "iVBORw0KGgo=", "image/png");
    if (rc == 0)
        rc = mcp_call_audio(call, "UklGRg==", "audio/wav");
    if (rc == 0)
        rc = mcp_call_content_json(call, LINK_BLOCK);
    if (rc == 0)
        rc = mcp_call_embedded_blob(call, "test://bin", "application/octet-stream", "AAEC");
    if (rc == 0)
        rc = mcp_call_embedded_text(call, "test://txt", "text/plain", "inner", 5);
    if (rc == 0 && user)
        rc = mcp_call_annotate(call, user);
    return rc;
}

/* Logs at debug, info and warning, then answers "logged". */
static inline int tool_chatter(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    mcp_call_log(call, MCP_LOG_DEBUG, "chatter", "a debug message");
    mcp_call_log(call, MCP_LOG_INFO, "chatter", "an info message");
    mcp_call_log(call, MCP_LOG_WARNING, "chatter", "a warning message");
    return mcp_call_text(call, "logged");
}

#endif
