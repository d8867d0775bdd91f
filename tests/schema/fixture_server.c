/*
 * schema_fixture_server: a stdio MCP server for the schema suite that makes
 * libmcp write what the demo catalog of `mcpd serve` never does: requests
 * to the client (sampling/createMessage, roots/list, ping), list_changed
 * after registry changes, resources/updated, server-wide log messages, and
 * the final result of a subscriptions/listen stream that the server ends.
 *
 * It holds one session and feeds it one line of stdin at a time, because
 * pinging the client and ending listens need the session itself, which
 * mcp_serve keeps to itself. Tools that change the registry or ping only
 * raise a flag; the loop acts on it after mcp_session_handle returns, so
 * nothing re-enters the server from inside a handler.
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <mcp/mcp.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_URI "fixture://doc"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool want_ping, want_change;
static int changes;

/* Async replies come from other threads: one whole line at a time. */
static int write_line(void *user, const char *message, size_t len) {
    (void)user;
    pthread_mutex_lock(&out_lock);
    fwrite(message, 1, len, stdout);
    fputc('\n', stdout);
    int rc = fflush(stdout) == 0 ? 0 : MCP_EIO;
    pthread_mutex_unlock(&out_lock);
    return rc;
}

static const char SAMPLING_PARAMS[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Say something.\"}}],"
    "\"maxTokens\":16}";

/* Asks the client's model, then reports what it said. */
static int fixture_sample(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "sample");
    if (!answer) return mcp_call_request_sampling(call, "sample", SAMPLING_PARAMS);
    const char *text = mcp_json_str(mcp_json_get(mcp_json_get(answer, "content"), "text"), "");
    return mcp_call_text(call, "the model said: %s", text);
}

/* Asks the client for its roots, then counts them. */
static int fixture_roots(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    const mcp_json *answer = mcp_call_input(call, "roots");
    if (!answer) return mcp_call_request_roots(call, "roots");
    return mcp_call_text(call, "%zu roots", mcp_json_len(mcp_json_get(answer, "roots")));
}

static int fixture_ping(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    atomic_store(&want_ping, true);
    return mcp_call_text(call, "the client will be pinged");
}

static int fixture_change(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    atomic_store(&want_change, true);
    return mcp_call_text(call, "the catalog will change");
}

static int fixture_added(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_text(call, "added later");
}

static int fixture_doc(mcp_call *call, const char *uri, void *user) {
    (void)user;
    char *text = mcp_arena_sprintf(mcp_call_arena(call), "version %d", changes);
    if (!text) return MCP_ENOMEM;
    return mcp_call_resource_text(call, uri, "text/plain", text, strlen(text));
}

static int fixture_prompt(mcp_call *call, const mcp_json *args, void *user) {
    (void)args, (void)user;
    return mcp_call_prompt_message(call, "user", "added later");
}

static void on_pong(int status, const mcp_json *result, const mcp_json *error, void *user) {
    (void)result, (void)user;
    if (status != 0 || error) fprintf(stderr, "schema fixture: ping answered with an error (%d)\n", status);
}

/* One change of each registry, the document updated, and a log line. */
static int apply_change(mcp_server *server) {
    char name[32], uri[48];
    changes++;
    snprintf(name, sizeof name, "added_%d", changes);
    snprintf(uri, sizeof uri, "fixture://added/%d", changes);
    int rc = mcp_server_add_tool(server, &(mcp_tool){.name = name, .fn = fixture_added});
    if (!rc) rc = mcp_server_add_prompt(server, &(mcp_prompt){.name = name, .fn = fixture_prompt});
    if (!rc) rc = mcp_server_add_resource(server, &(mcp_resource){.uri = uri, .name = name, .fn = fixture_doc});
    if (!rc && mcp_server_notify_resource_updated(server, DOC_URI) < 0) rc = MCP_EINVAL;
    if (!rc) rc = mcp_server_log(server, MCP_LOG_WARNING, "fixture", "catalog change %d", changes);
    return rc < 0 ? rc : 0;
}

static int add_catalog(mcp_server *server) {
    static const struct {
        const char *name, *description;
        mcp_tool_fn fn;
    } tools[] = {
        {"sample", "Asks the client's model for a line (sampling/createMessage).", fixture_sample},
        {"roots", "Counts the client's roots (roots/list).", fixture_roots},
        {"ping_client", "Has the server ping the client.", fixture_ping},
        {"change", "Adds a tool, a prompt and a resource and updates " DOC_URI ".", fixture_change},
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof tools / sizeof tools[0]; i++)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = tools[i].name, .description = tools[i].description, .fn = tools[i].fn});
    if (!rc)
        rc = mcp_server_add_resource(server, &(mcp_resource){
            .uri = DOC_URI, .name = "doc", .mime_type = "text/plain", .fn = fixture_doc});
    return rc;
}

int main(void) {
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "schema-fixture", .version = "1.0.0"});
    if (!server || add_catalog(server) != 0) {
        fprintf(stderr, "schema fixture: could not build the catalog\n");
        return 1;
    }
    mcp_session *session = mcp_session_new(server, &(mcp_sink){.write = write_line});
    if (!session) {
        fprintf(stderr, "schema fixture: out of memory\n");
        return 1;
    }
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        rc = mcp_session_handle(session, line, (size_t)len);
        if (rc == 0 && atomic_exchange(&want_ping, false) && mcp_session_ping(session, on_pong, NULL) != 0)
            fprintf(stderr, "schema fixture: could not ping the client\n");
        if (rc == 0 && atomic_exchange(&want_change, false)) rc = apply_change(server);
    }
    free(line);
    /* End of input is the server's shutdown: open listens get their result. */
    mcp_session_end_listens(session);
    mcp_session_drain(session, 5000);
    mcp_session_free(session);
    mcp_server_free(server);
    if (rc != 0) fprintf(stderr, "schema fixture: stopped with error %d\n", rc);
    return rc == 0 ? 0 : 1;
}
