/*
 * test_book_tool.h — "book", a tool that needs all three kinds of input
 * from the client before it answers: an elicited name, a sampled city and
 * the client's roots, asked for together in one input_required round.
 * It answers "booked for NAME in CITY under ROOT-URI".
 */
#ifndef TEST_BOOK_TOOL_H
#define TEST_BOOK_TOOL_H

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

#endif
