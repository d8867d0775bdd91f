/*
 * The server the MCP conformance suite tests (server mode): libmcp over
 * Streamable HTTP with exactly the fixtures the suite's scenarios name
 * (tools test_*, resources test://..., prompts test_*, completion, and the
 * tasks extension's tools in fixture_tasks.c), each
 * written with the public API only, so a failing scenario points at libmcp
 * or the transport, not at a shortcut taken here.
 *
 * Usage: conformance_fixture_server HOST:PORT
 *
 * Runs until SIGTERM or SIGINT. The handlers that wait (logging, progress)
 * sleep on the worker thread: the suite runs one scenario at a time, and
 * a fixture should be as plain as the behaviour it pins.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif
#include "fixture_tasks.h"
#include "mcp.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A 1x1 PNG and a 1 ms silent 8 kHz WAV, made for these fixtures. */
static const char PNG_1X1[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
static const char WAV_SILENT[] = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

static const char NO_ARGS[] = "{\"type\":\"object\",\"properties\":{}}";

static void pause_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The raw JSON text of v ("null" when absent), copied into the call's arena. */
static const char *raw_text(mcp_call *call, const mcp_json *v) {
    mcp_str raw = mcp_json_raw(v);
    if (!v || !raw.len) return "null";
    return mcp_arena_sprintf(mcp_call_arena(call), "%.*s", (int)raw.len, raw.ptr);
}

/* ---- content tools -------------------------------------------------------- */

static int fx_simple_text(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_text(call, "This is a simple text response for testing.");
}

static int fx_image(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_image(call, PNG_1X1, "image/png");
}

static int fx_audio(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_audio(call, WAV_SILENT, "audio/wav");
}

static int fx_embedded(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    static const char text[] = "This is an embedded resource content.";
    return mcp_call_embedded_text(call, "test://embedded-resource", "text/plain", text, sizeof text - 1);
}

static int fx_mixed(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    static const char json[] = "{\"test\":\"data\",\"value\":123}";
    int rc = mcp_call_text(call, "Multiple content types test:");
    if (!rc) rc = mcp_call_image(call, PNG_1X1, "image/png");
    if (!rc)
        rc = mcp_call_embedded_text(call, "test://mixed-content-resource", "application/json", json,
                                    sizeof json - 1);
    return rc;
}

static int fx_logging(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    int rc = mcp_call_log(call, MCP_LOG_INFO, "conformance", "Tool execution started");
    pause_ms(50);
    if (!rc) rc = mcp_call_log(call, MCP_LOG_INFO, "conformance", "Tool processing data");
    pause_ms(50);
    if (!rc) rc = mcp_call_log(call, MCP_LOG_INFO, "conformance", "Tool execution completed");
    return rc ? rc : mcp_call_text(call, "Tool with logging executed successfully");
}

static int fx_progress(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    int rc = mcp_call_progress(call, 0, 100, NULL);
    pause_ms(50);
    if (!rc) rc = mcp_call_progress(call, 50, 100, NULL);
    pause_ms(50);
    if (!rc) rc = mcp_call_progress(call, 100, 100, NULL);
    return rc ? rc : mcp_call_text(call, "Tool with progress executed successfully");
}

/* SSE polling (SEP-1699): the POST stream ends at once, after its priming
 * event; the reply comes later from another thread, into the event store,
 * and reaches the client when it reconnects with Last-Event-ID. */
static void *reconnection_reply(void *arg) {
    mcp_call *call = arg;
    pause_ms(200);
    if (mcp_call_text(call, "Reconnection test completed successfully") != 0)
        mcp_call_fail(call, -32603, "out of memory");
    mcp_call_finish(call);
    return NULL;
}

static int fx_reconnection(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    int rc = mcp_call_close_stream(call);
    /* Where the client cannot come back (JSON only, modern era) the
     * reply simply comes on the open request. */
    if (rc != 0 && rc != MCP_EUNSUPPORTED) return rc;
    pthread_t thread;
    if (pthread_create(&thread, NULL, reconnection_reply, call) != 0) return MCP_ENOMEM;
    pthread_detach(thread);
    return MCP_PENDING;
}

static int fx_error(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_tool_error(call, "This tool intentionally returns an error for testing");
}

/* ---- tools that ask the client ------------------------------------------------ */

static const char PROMPT_ARG[] =
    "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\",\"description\":\"the prompt for the "
    "LLM\"}},\"required\":[\"prompt\"]}";

static int fx_sampling(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const mcp_json *answer = mcp_call_input(call, "llm");
    if (answer) {
        const mcp_json *content = mcp_json_get(answer, "content");
        if (mcp_json_is_array(content)) content = mcp_json_at(content, 0);
        return mcp_call_text(call, "LLM response: %s", mcp_json_str(mcp_json_get(content, "text"), ""));
    }
    mcp_buf params;
    mcp_buf_init(&params);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &params);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "messages");
    mcp_json_begin_array(&w);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "role");
    mcp_json_write_cstr(&w, "user");
    mcp_json_write_key(&w, "content");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "type");
    mcp_json_write_cstr(&w, "text");
    mcp_json_write_key(&w, "text");
    const mcp_json *prompt = mcp_json_get(args, "prompt");
    mcp_json_write_string(&w, mcp_json_str(prompt, ""), mcp_json_str_len(prompt));
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "maxTokens");
    mcp_json_write_int(&w, 100);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    if (!rc) rc = mcp_call_request_sampling(call, "llm", params.data);
    mcp_buf_free(&params);
    return rc;
}

static const char MESSAGE_ARG[] =
    "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\",\"description\":\"what to ask the "
    "user\"}},\"required\":[\"message\"]}";
static const char USER_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
    "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
    "\"required\":[\"username\",\"email\"]}";

static int fx_elicitation(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const mcp_json *answer = mcp_call_input(call, "user");
    if (!answer)
        return mcp_call_request_elicitation(call, "user", mcp_json_str(mcp_json_get(args, "message"), ""),
                                            USER_SCHEMA);
    return mcp_call_text(call, "User response: action=%s, content=%s",
                         mcp_json_str(mcp_json_get(answer, "action"), "?"),
                         raw_text(call, mcp_json_get(answer, "content")));
}

static const char DEFAULTS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"default\":\"John Doe\"},"
    "\"age\":{\"type\":\"integer\",\"default\":30},"
    "\"score\":{\"type\":\"number\",\"default\":95.5},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
    "\"verified\":{\"type\":\"boolean\",\"default\":true}}}";

static const char ENUMS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"untitledSingle\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]},"
    "\"titledSingle\":{\"type\":\"string\",\"oneOf\":["
    "{\"const\":\"value1\",\"title\":\"First Option\"},{\"const\":\"value2\",\"title\":\"Second Option\"},"
    "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
    "\"legacyEnum\":{\"type\":\"string\",\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
    "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
    "\"untitledMulti\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\","
    "\"option3\"]}},"
    "\"titledMulti\":{\"type\":\"array\",\"items\":{\"anyOf\":["
    "{\"const\":\"value1\",\"title\":\"First Choice\"},{\"const\":\"value2\",\"title\":\"Second Choice\"},"
    "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}}}";

/* user: the requested schema of the elicitation. */
static int fx_elicit_schema(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    const mcp_json *answer = mcp_call_input(call, "form");
    if (!answer) return mcp_call_request_elicitation(call, "form", "Please review and update the form fields",
                                                      (const char *)user);
    return mcp_call_text(call, "Elicitation completed: action=%s, content=%s",
                         mcp_json_str(mcp_json_get(answer, "action"), "?"),
                         raw_text(call, mcp_json_get(answer, "content")));
}

/* JSON Schema 2020-12 keywords the server must pass through untouched. */
static const char SCHEMA_2020_12[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"$defs\":{\"address\":{\"$anchor\":\"addressDef\",\"type\":\"object\",\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"},"
    "\"contactMethod\":{\"type\":\"string\",\"enum\":[\"phone\",\"email\"]},"
    "\"phone\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},"
    "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},{\"required\":[\"email\"]}]}],"
    "\"if\":{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}},\"required\":[\"contactMethod\"]},"
    "\"then\":{\"required\":[\"phone\"]},\"else\":{\"required\":[\"email\"]},"
    "\"additionalProperties\":false}";

static int fx_schema_2020_12(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "Received: %s", raw_text(call, args));
}

/* Mirrored into the Mcp-Param-Region header by modern clients. */
static const char HEADER_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"region\":{\"type\":\"string\",\"description\":\"where to run\",\"x-mcp-header\":\"Region\"}},"
    "\"required\":[\"region\"]}";

static int fx_header(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "region=%s", mcp_json_str(mcp_json_get(args, "region"), ""));
}

/* ---- input-required results (2026-07-28 MRTR; handshake-era requests too) ---- */

static const char NAME_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}";

static const char *answered_field(const mcp_json *answer, const char *field) {
    return mcp_json_str(mcp_json_get(mcp_json_get(answer, "content"), field), "");
}

static int fx_ir_elicitation(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "user_name");
    if (!answer) return mcp_call_request_elicitation(call, "user_name", "What is your name?", NAME_SCHEMA);
    return mcp_call_text(call, "Hello, %s!", answered_field(answer, "name"));
}

static const char CAPITAL_QUESTION[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"What is the capital of "
    "France?\"}}],\"maxTokens\":100}";

static const char *sampled_text(const mcp_json *answer) {
    const mcp_json *content = mcp_json_get(answer, "content");
    if (mcp_json_is_array(content)) content = mcp_json_at(content, 0);
    return mcp_json_str(mcp_json_get(content, "text"), "");
}

static int fx_ir_sampling(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "capital_question");
    if (!answer) return mcp_call_request_sampling(call, "capital_question", CAPITAL_QUESTION);
    return mcp_call_text(call, "The model answered: %s", sampled_text(answer));
}

static int fx_ir_roots(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "client_roots");
    if (!answer) return mcp_call_request_roots(call, "client_roots");
    const mcp_json *roots = mcp_json_get(answer, "roots");
    const mcp_json *first = mcp_json_at(roots, 0);
    return mcp_call_text(call, "The client has %zu roots; first: %s", mcp_json_len(roots),
                         mcp_json_str(mcp_json_get(first, "uri"), "(none)"));
}

static const char CONFIRM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}";

static int fx_ir_request_state(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        int rc = mcp_call_set_request_state(call, "round-1:confirm");
        return rc ? rc : mcp_call_request_elicitation(call, "confirm", "Please confirm", CONFIRM_SCHEMA);
    }
    const char *state = mcp_call_request_state(call);
    if (state && strcmp(state, "round-1:confirm") == 0)
        return mcp_call_text(call, "state-ok: confirmed=%s",
                             raw_text(call, mcp_json_get(mcp_json_get(answer, "content"), "ok")));
    /* The handshake era keeps the call open instead of round-tripping a
     * state; there the answer alone completes it. */
    if (!state && !mcp_protocol_is_modern(mcp_call_protocol_version(call)))
        return mcp_call_text(call, "state-ok (session kept the call)");
    return mcp_call_fail(call, -32602, "requestState missing or not the one this server issued");
}

static const char GREETING_REQUEST[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Generate a greeting\"}}],"
    "\"maxTokens\":50}";

static int fx_ir_multiple(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *name = mcp_call_input(call, "user_name");
    const mcp_json *greeting = mcp_call_input(call, "greeting");
    const mcp_json *roots = mcp_call_input(call, "client_roots");
    if (name && greeting && roots)
        return mcp_call_text(call, "%s, %s (%zu roots)", sampled_text(greeting), answered_field(name, "name"),
                             mcp_json_len(mcp_json_get(roots, "roots")));
    int rc = mcp_call_set_request_state(call, "multiple-inputs");
    if (!rc && !name) rc = mcp_call_request_elicitation(call, "user_name", "What is your name?", NAME_SCHEMA);
    if (rc >= 0 && !greeting) rc = mcp_call_request_sampling(call, "greeting", GREETING_REQUEST);
    if (rc >= 0 && !roots) rc = mcp_call_request_roots(call, "client_roots");
    return rc;
}

static const char COLOR_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}},\"required\":[\"color\"]}";

static int fx_ir_multi_round(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *step2 = mcp_call_input(call, "step2");
    if (step2) return mcp_call_text(call, "Favourite color: %s", answered_field(step2, "color"));
    const mcp_json *step1 = mcp_call_input(call, "step1");
    if (step1) {
        /* Round 2: the name travels in the state, as the modern era does
         * not show round 1's answers to round 3. */
        char *state = mcp_arena_sprintf(mcp_call_arena(call), "round-2:%s", answered_field(step1, "name"));
        int rc = state ? mcp_call_set_request_state(call, state) : MCP_ENOMEM;
        return rc ? rc
                  : mcp_call_request_elicitation(call, "step2", "Step 2: What is your favorite color?",
                                                 COLOR_SCHEMA);
    }
    int rc = mcp_call_set_request_state(call, "round-1");
    return rc ? rc : mcp_call_request_elicitation(call, "step1", "Step 1: What is your name?", NAME_SCHEMA);
}

static int fx_ir_tampered(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        int rc = mcp_call_set_request_state(call, "integrity-protected");
        return rc ? rc : mcp_call_request_elicitation(call, "confirm", "Please confirm", CONFIRM_SCHEMA);
    }
    /* A tampered state never reaches here: libmcp refuses it first. */
    return mcp_call_text(call, "state verified");
}

static const char CONTEXT_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"context\":{\"type\":\"string\"}},\"required\":[\"context\"]}";

static int fx_ir_prompt(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "user_context");
    if (!answer)
        return mcp_call_request_elicitation(call, "user_context", "What context should the prompt use?",
                                            CONTEXT_SCHEMA);
    char *text = mcp_arena_sprintf(mcp_call_arena(call), "Use this context: %s", answered_field(answer, "context"));
    return text ? mcp_call_prompt_message(call, "user", text) : MCP_ENOMEM;
}

/* Asks only for what the client declared it can answer. */
static int fx_ir_capabilities(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *sampled = mcp_call_input(call, "capital_question");
    const mcp_json *elicited = mcp_call_input(call, "user_name");
    bool can_sample = mcp_call_client_supports(call, "sampling/createMessage");
    bool can_elicit = mcp_call_client_supports(call, "elicitation/create");
    if ((sampled || !can_sample) && (elicited || !can_elicit))
        return mcp_call_text(call, "done (sampling %s, elicitation %s)", sampled ? "answered" : "skipped",
                             elicited ? "answered" : "skipped");
    int rc = 0;
    if (can_sample && !sampled) rc = mcp_call_request_sampling(call, "capital_question", CAPITAL_QUESTION);
    if (rc >= 0 && can_elicit && !elicited)
        rc = mcp_call_request_elicitation(call, "user_name", "What is your name?", NAME_SCHEMA);
    return rc;
}

/* Needs sampling whatever the client declared: libmcp must refuse with
 * -32021 when the client did not declare it. */
static int fx_missing_capability(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "needs_sampling");
    if (answer) return mcp_call_text(call, "sampled: %s", sampled_text(answer));
    return mcp_call_request_sampling(call, "needs_sampling", CAPITAL_QUESTION);
}

static int fx_streaming_elicitation(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "user_name");
    if (answer) return mcp_call_text(call, "Hello, %s!", answered_field(answer, "name"));
    int rc = mcp_call_progress(call, 1, 2, "asking for the name");
    return rc ? rc : mcp_call_request_elicitation(call, "user_name", "What is your name?", NAME_SCHEMA);
}

static int fx_logging_tool(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    int rc = mcp_call_log(call, MCP_LOG_INFO, "conformance", "test_logging_tool ran");
    return rc ? rc : mcp_call_text(call, "logged at info");
}

/* Diagnostic hooks: each call adds or removes one entry, so that listeners
 * hear a list_changed. user is the server. */
static int fx_unused_tool(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_text(call, "dynamic tool");
}

static int fx_trigger_tool_change(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    mcp_server *server = user;
    int rc = mcp_server_remove_tool(server, "test_dynamic_tool");
    if (rc == MCP_ENOTFOUND)
        rc = mcp_server_add_tool(server, &(mcp_tool){.name = "test_dynamic_tool",
                                                     .description = "Comes and goes with test_trigger_tool_change",
                                                     .input_schema = NO_ARGS,
                                                     .fn = fx_unused_tool});
    return rc ? rc : mcp_call_text(call, "tool list changed");
}

static int fx_unused_prompt(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_prompt_message(call, "user", "dynamic prompt");
}

static int fx_trigger_prompt_change(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    mcp_server *server = user;
    int rc = mcp_server_remove_prompt(server, "test_dynamic_prompt");
    if (rc == MCP_ENOTFOUND)
        rc = mcp_server_add_prompt(server, &(mcp_prompt){.name = "test_dynamic_prompt",
                                                         .description = "Comes and goes with test_trigger_prompt_change",
                                                         .fn = fx_unused_prompt});
    return rc ? rc : mcp_call_text(call, "prompt list changed");
}

/* ---- resources ------------------------------------------------------------------ */

static int fx_static_text(mcp_call *call, const char *uri, void *user) {
    (void)user;
    static const char text[] = "This is the content of the static text resource.";
    return mcp_call_resource_text(call, uri, "text/plain", text, sizeof text - 1);
}

static int fx_static_binary(mcp_call *call, const char *uri, void *user) {
    (void)user;
    return mcp_call_resource_blob(call, uri, "image/png", PNG_1X1);
}

static int fx_watched(mcp_call *call, const char *uri, void *user) {
    (void)user;
    static const char text[] = "Watched resource content";
    return mcp_call_resource_text(call, uri, "text/plain", text, sizeof text - 1);
}

static int fx_template(mcp_call *call, const char *uri, void *user) {
    (void)user;
    static const char prefix[] = "test://template/";
    const char *id = uri + sizeof prefix - 1;
    const char *end = strstr(id, "/data");
    int id_len = end ? (int)(end - id) : (int)strlen(id);
    /* The id is a URI segment, so it holds no quote or backslash to escape
     * unless the client sent one; write it through the JSON writer anyway. */
    mcp_buf body;
    mcp_buf_init(&body);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &body);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "id");
    mcp_json_write_string(&w, id, (size_t)id_len);
    mcp_json_write_key(&w, "templateTest");
    mcp_json_write_bool(&w, true);
    mcp_json_write_key(&w, "data");
    char *data = mcp_arena_sprintf(mcp_call_arena(call), "Data for ID: %.*s", id_len, id);
    mcp_json_write_cstr(&w, data);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    if (!rc) rc = mcp_call_resource_text(call, uri, "application/json", body.data, body.len);
    mcp_buf_free(&body);
    return rc;
}

/* ---- prompts -------------------------------------------------------------------- */

static int fx_simple_prompt(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_prompt_message(call, "user", "This is a simple prompt for testing.");
}

static int fx_prompt_args(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    char *text = mcp_arena_sprintf(mcp_call_arena(call), "Prompt with arguments: arg1='%s', arg2='%s'",
                                   mcp_json_str(mcp_json_get(args, "arg1"), ""),
                                   mcp_json_str(mcp_json_get(args, "arg2"), ""));
    return text ? mcp_call_prompt_message(call, "user", text) : MCP_ENOMEM;
}

static int fx_prompt_args_complete(mcp_call *call, const char *argument, const char *value,
                                   const mcp_json *context, void *user) {
    (void)argument, (void)context, (void)user;
    static const char *const words[] = {"paris", "park", "party", "pasta", "hello", "world"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strncmp(words[i], value, strlen(value)) == 0) {
            int rc = mcp_call_completion(call, words[i]);
            if (rc) return rc;
        }
    return 0;
}

static int fx_prompt_embedded(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    mcp_buf msg;
    mcp_buf_init(&msg);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &msg);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "role");
    mcp_json_write_cstr(&w, "user");
    mcp_json_write_key(&w, "content");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "type");
    mcp_json_write_cstr(&w, "resource");
    mcp_json_write_key(&w, "resource");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "uri");
    const mcp_json *uri = mcp_json_get(args, "resourceUri");
    mcp_json_write_string(&w, mcp_json_str(uri, ""), mcp_json_str_len(uri));
    mcp_json_write_key(&w, "mimeType");
    mcp_json_write_cstr(&w, "text/plain");
    mcp_json_write_key(&w, "text");
    mcp_json_write_cstr(&w, "Embedded resource content for testing.");
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    int rc = mcp_json_writer_status(&w);
    if (!rc) rc = mcp_call_content_json(call, msg.data);
    mcp_buf_free(&msg);
    return rc ? rc : mcp_call_prompt_message(call, "user", "Please process the embedded resource above.");
}

static int fx_prompt_image(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    char *msg = mcp_arena_sprintf(mcp_call_arena(call),
                                  "{\"role\":\"user\",\"content\":{\"type\":\"image\",\"data\":\"%s\","
                                  "\"mimeType\":\"image/png\"}}",
                                  PNG_1X1);
    int rc = msg ? mcp_call_content_json(call, msg) : MCP_ENOMEM;
    return rc ? rc : mcp_call_prompt_message(call, "user", "Please analyze the image above.");
}

/* ---- registration ------------------------------------------------------------------- */

typedef struct fixture_tool {
    const char *name;
    const char *description;
    const char *schema;
    mcp_tool_fn fn;
    const void *user;
} fixture_tool;

/* Placeholder user pointer: registration puts the server there. */
static const char SERVER_SELF[] = "server";

static const fixture_tool TOOLS[] = {
    {"test_simple_text", "Returns simple text content", NO_ARGS, fx_simple_text, NULL},
    {"test_image_content", "Returns a PNG image", NO_ARGS, fx_image, NULL},
    {"test_audio_content", "Returns a WAV clip", NO_ARGS, fx_audio, NULL},
    {"test_embedded_resource", "Returns an embedded text resource", NO_ARGS, fx_embedded, NULL},
    {"test_multiple_content_types", "Returns text, an image and a resource", NO_ARGS, fx_mixed, NULL},
    {"test_tool_with_logging", "Sends three log messages while it runs", NO_ARGS, fx_logging, NULL},
    {"test_tool_with_progress", "Reports progress 0, 50 and 100 of 100", NO_ARGS, fx_progress, NULL},
    {"test_error_handling", "Always fails with a tool error", NO_ARGS, fx_error, NULL},
    {"test_reconnection", "Ends its SSE stream at once and answers 200 ms later, for the client to poll",
     NO_ARGS, fx_reconnection, NULL},
    {"test_sampling", "Asks the client's LLM for a completion", PROMPT_ARG, fx_sampling, NULL},
    {"test_elicitation", "Asks the user for a username and an email", MESSAGE_ARG, fx_elicitation, NULL},
    {"test_elicitation_sep1034_defaults", "Elicits a form whose fields have defaults", NO_ARGS,
     fx_elicit_schema, DEFAULTS_SCHEMA},
    {"test_elicitation_sep1330_enums", "Elicits a form with every enum variant", NO_ARGS, fx_elicit_schema,
     ENUMS_SCHEMA},
    {"json_schema_2020_12_tool", "Takes an input schema with JSON Schema 2020-12 keywords", SCHEMA_2020_12,
     fx_schema_2020_12, NULL},
    {"test_custom_header", "Takes a parameter mirrored into the Mcp-Param-Region header", HEADER_SCHEMA,
     fx_header, NULL},
    {"test_input_required_result_elicitation", "Asks for the user's name", NO_ARGS, fx_ir_elicitation, NULL},
    {"test_input_required_result_sampling", "Asks the client's LLM a question", NO_ARGS, fx_ir_sampling, NULL},
    {"test_input_required_result_list_roots", "Asks for the client's roots", NO_ARGS, fx_ir_roots, NULL},
    {"test_input_required_result_request_state", "Round-trips a request state", NO_ARGS, fx_ir_request_state,
     NULL},
    {"test_input_required_result_multiple_inputs", "Asks for three inputs at once", NO_ARGS, fx_ir_multiple,
     NULL},
    {"test_input_required_result_multi_round", "Asks in two rounds", NO_ARGS, fx_ir_multi_round, NULL},
    {"test_input_required_result_tampered_state", "Refuses a tampered request state", NO_ARGS, fx_ir_tampered,
     NULL},
    {"test_input_required_result_capabilities", "Asks only for what the client declared", NO_ARGS,
     fx_ir_capabilities, NULL},
    {"test_missing_capability", "Needs the sampling capability", NO_ARGS, fx_missing_capability, NULL},
    {"test_streaming_elicitation", "Reports progress, then asks for the user's name", NO_ARGS,
     fx_streaming_elicitation, NULL},
    {"test_logging_tool", "Logs one message at info", NO_ARGS, fx_logging_tool, NULL},
    {"test_trigger_tool_change", "Adds or removes test_dynamic_tool", NO_ARGS, fx_trigger_tool_change, SERVER_SELF},
    {"test_trigger_prompt_change", "Adds or removes test_dynamic_prompt", NO_ARGS, fx_trigger_prompt_change,
     SERVER_SELF},
};

static const mcp_prompt_argument PROMPT_ARGS[] = {
    {.name = "arg1", .description = "First test argument", .required = true},
    {.name = "arg2", .description = "Second test argument", .required = true},
};
static const mcp_prompt_argument EMBED_ARGS[] = {
    {.name = "resourceUri", .description = "URI of the resource to embed", .required = true},
};

static const mcp_resource RESOURCES[] = {
    {.uri = "test://static-text",
     .name = "static-text",
     .description = "A static text resource",
     .mime_type = "text/plain",
     .fn = fx_static_text},
    {.uri = "test://static-binary",
     .name = "static-binary",
     .description = "A static PNG image",
     .mime_type = "image/png",
     .fn = fx_static_binary},
    {.uri = "test://watched-resource",
     .name = "watched-resource",
     .description = "A resource to subscribe to",
     .mime_type = "text/plain",
     .fn = fx_watched},
};

static const mcp_prompt PROMPTS[] = {
    {.name = "test_simple_prompt", .description = "A prompt without arguments", .fn = fx_simple_prompt},
    {.name = "test_prompt_with_arguments",
     .description = "A prompt with two arguments",
     .arguments = PROMPT_ARGS,
     .argument_count = sizeof PROMPT_ARGS / sizeof *PROMPT_ARGS,
     .fn = fx_prompt_args,
     .complete = fx_prompt_args_complete},
    {.name = "test_prompt_with_embedded_resource",
     .description = "A prompt that embeds a resource",
     .arguments = EMBED_ARGS,
     .argument_count = sizeof EMBED_ARGS / sizeof *EMBED_ARGS,
     .fn = fx_prompt_embedded},
    {.name = "test_prompt_with_image", .description = "A prompt with an image", .fn = fx_prompt_image},
    {.name = "test_input_required_result_prompt",
     .description = "A prompt that asks the user for context",
     .fn = fx_ir_prompt},
};

static int fixture_register(mcp_server *s) {
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof TOOLS / sizeof *TOOLS; i++)
        rc = mcp_server_add_tool(s, &(mcp_tool){.name = TOOLS[i].name,
                                                .description = TOOLS[i].description,
                                                .input_schema = TOOLS[i].schema,
                                                .fn = TOOLS[i].fn,
                                                .user = TOOLS[i].user == SERVER_SELF ? (void *)s
                                                                                     : (void *)TOOLS[i].user});
    for (size_t i = 0; !rc && i < sizeof RESOURCES / sizeof *RESOURCES; i++)
        rc = mcp_server_add_resource(s, &RESOURCES[i]);
    if (!rc)
        rc = mcp_server_add_resource_template(s, &(mcp_resource_template){
                                                     .uri_template = "test://template/{id}/data",
                                                     .name = "template",
                                                     .description = "Data for an id",
                                                     .mime_type = "application/json",
                                                     .fn = fx_template});
    for (size_t i = 0; !rc && i < sizeof PROMPTS / sizeof *PROMPTS; i++)
        rc = mcp_server_add_prompt(s, &PROMPTS[i]);
    if (!rc) rc = fixture_tasks_register(s);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2 || !strchr(argv[1], ':')) {
        fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
        return 2;
    }
    mcp_server *server = mcp_server_new(&(mcp_server_opts){
        .name = "mcpd-conformance-fixture", .version = "1.0.0", .title = "mcpd conformance fixtures"});
    if (!server) {
        fputs("conformance fixture: out of memory\n", stderr);
        return 1;
    }
    int rc = fixture_register(server);
    if (rc) {
        fprintf(stderr, "conformance fixture: registration failed: %s\n", mcp_strerror(rc));
        mcp_server_free(server);
        return 1;
    }
    rc = mcp_serve(server, &(mcp_listen){.http = argv[1], .workers = 2});
    fixture_tasks_drain();
    mcp_server_free(server);
    if (rc && rc != MCP_ECLOSED) {
        fprintf(stderr, "conformance fixture: %s\n", mcp_strerror(rc));
        return 1;
    }
    return 0;
}
