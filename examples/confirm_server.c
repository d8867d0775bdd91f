/*
 * confirm_server — a tool that asks the user before it acts.
 *
 *     confirm_server             (MCP over stdio)
 *
 * Tool:
 *   delete_note {name}
 *       deletes one of a few in-memory notes, but only after the user has
 *       confirmed through elicitation. The handler is written once and
 *       serves both protocol eras:
 *         - 2025-11-25 and earlier: the server sends elicitation/create to
 *           the client, waits, and runs the handler again with the answer;
 *         - 2026-07-28: the call answers resultType "input_required" with
 *           the elicitation under inputRequests and the note's version in
 *           requestState; the client retries with inputResponses.
 *       A client without the elicitation capability gets a tool error that
 *       says why, not an error response: the model can tell the user.
 *   list_notes {}
 *
 * The request state carries the note's version: if the note changed while
 * the user was deciding, the deletion is refused rather than applied to
 * something the user did not see.
 */
#include "mcp/mcp.h"
#include "mcp/net.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_COUNT 3

typedef struct note {
    char name[32];
    char text[128];
    unsigned version;
    bool deleted;
} note;

typedef struct notes {
    pthread_mutex_t lock;
    note items[NOTE_COUNT];
} notes;

static const char CONFIRM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"confirm\":{\"type\":\"boolean\",\"title\":\"Delete it?\"}},"
    "\"required\":[\"confirm\"]}";

static note *find_note(notes *n, const char *name)
{
    for (size_t i = 0; i < NOTE_COUNT; i++)
        if (!n->items[i].deleted && !strcmp(n->items[i].name, name))
            return &n->items[i];
    return NULL;
}

static int delete_note(mcp_call *call, const mcp_json *args, void *user)
{
    notes *n = user;
    const char *name = mcp_json_str(mcp_json_get(args, "name"), "");
    pthread_mutex_lock(&n->lock);
    note *target = find_note(n, name);
    unsigned version = target ? target->version : 0;
    char preview[160];
    if (target)
        snprintf(preview, sizeof preview, "Delete the note \"%s\" (%.60s)?", target->name, target->text);
    pthread_mutex_unlock(&n->lock);
    if (!target)
        return mcp_call_tool_error(call, "no note named %s", name);

    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        if (!mcp_call_client_supports(call, "elicitation/create"))
            return mcp_call_tool_error(call, "cannot delete %s: this client cannot ask the user to confirm", name);
        char state[32];
        snprintf(state, sizeof state, "v%u", version);
        mcp_call_set_request_state(call, state);
        return mcp_call_request_elicitation(call, "confirm", preview, CONFIRM_SCHEMA);
    }
    const char *action = mcp_json_str(mcp_json_get(answer, "action"), "");
    bool yes = !strcmp(action, "accept") && mcp_json_bool(mcp_json_get(mcp_json_get(answer, "content"), "confirm"), false);
    if (!yes)
        return mcp_call_text(call, "kept %s (the user said %s)", name, !strcmp(action, "accept") ? "no" : action);

    /* The state is the client's echo: only a value we could have made counts. */
    const char *state = mcp_call_request_state(call);
    unsigned seen = 0;
    if (!state || sscanf(state, "v%u", &seen) != 1)
        return mcp_call_tool_error(call, "cannot delete %s: the confirmation carried no note version", name);
    pthread_mutex_lock(&n->lock);
    target = find_note(n, name);
    bool same = target && target->version == seen;
    if (same)
        target->deleted = true;
    pthread_mutex_unlock(&n->lock);
    if (!same)
        return mcp_call_tool_error(call, "not deleted: %s changed while you were deciding", name);
    return mcp_call_text(call, "deleted %s", name);
}

static int list_notes(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args;
    notes *n = user;
    int rc = 0;
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < NOTE_COUNT && rc == 0; i++)
        if (!n->items[i].deleted)
            rc = mcp_call_text(call, "%s: %s", n->items[i].name, n->items[i].text);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

/* Change a note's text (a new version): what another client might do. */
void confirm_server_edit(notes *n, const char *name, const char *text)
{
    pthread_mutex_lock(&n->lock);
    note *target = find_note(n, name);
    if (target) {
        snprintf(target->text, sizeof target->text, "%s", text);
        target->version++;
    }
    pthread_mutex_unlock(&n->lock);
}

notes *confirm_server_register(mcp_server *server)
{
    notes *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    pthread_mutex_init(&n->lock, NULL);
    static const char *const NAMES[NOTE_COUNT] = {"groceries", "ideas", "todo"};
    static const char *const TEXTS[NOTE_COUNT] = {"milk, bread", "a C MCP server", "write the tests"};
    for (size_t i = 0; i < NOTE_COUNT; i++) {
        snprintf(n->items[i].name, sizeof n->items[i].name, "%s", NAMES[i]);
        snprintf(n->items[i].text, sizeof n->items[i].text, "%s", TEXTS[i]);
        n->items[i].version = 1;
    }
    int rc = mcp_server_add_tool(server, &(mcp_tool){
        .name = "delete_note",
        .description = "Deletes a note after the user confirms.",
        .input_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}",
        .annotations = "{\"destructiveHint\":true}",
        .fn = delete_note,
        .user = n});
    if (rc == 0)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "list_notes", .description = "Lists the notes.",
            .annotations = "{\"readOnlyHint\":true}", .fn = list_notes, .user = n});
    if (rc != 0) {
        pthread_mutex_destroy(&n->lock);
        free(n);
        return NULL;
    }
    return n;
}

void confirm_server_free(notes *n)
{
    if (!n)
        return;
    pthread_mutex_destroy(&n->lock);
    free(n);
}

#ifndef EXAMPLE_NO_MAIN
int main(void)
{
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "confirm_server", .version = "1.0"});
    notes *n = server ? confirm_server_register(server) : NULL;
    if (!n) {
        fprintf(stderr, "confirm_server: could not set up the server\n");
        mcp_server_free(server);
        return 1;
    }
    int rc = mcp_serve(server, &(mcp_listen){.stdio = true});
    mcp_server_free(server);
    confirm_server_free(n);
    return rc == 0 || rc == MCP_ECLOSED ? 0 : 1;
}
#endif
