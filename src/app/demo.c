/*
 * The demo catalog of `mcpd serve` (see demo.h for what it holds).
 *
 * Each entry is kept as small as the protocol feature it demonstrates. The
 * one with moving parts is `slow`: it returns MCP_PENDING and finishes on a
 * thread of its own, because that is the path (progress from another thread,
 * cancellation, completion through mcp_call_finish) that synchronous tools
 * never exercise.
 */
#include "app/demo.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- echo ------------------------------------------------------------------- */

static const char ECHO_INPUT[] =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"description\":\"what to echo\"}},"
    "\"required\":[\"text\"],\"additionalProperties\":false}";

static int demo_echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    /* The schema made text a string; it goes back as the request wrote it. */
    return mcp_call_text_value(call, mcp_json_get(args, "text"));
}

/* ---- add --------------------------------------------------------------------- */

static const char ADD_INPUT[] =
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
    "\"required\":[\"a\",\"b\"],\"additionalProperties\":false}";
static const char ADD_OUTPUT[] =
    "{\"type\":\"object\",\"properties\":{\"sum\":{\"type\":\"number\"}},\"required\":[\"sum\"]}";

static int demo_add(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const mcp_json *a = mcp_json_get(args, "a"), *b = mcp_json_get(args, "b");
    double sum = mcp_json_num(a, 0) + mcp_json_num(b, 0);
    /* JSON has no infinity: a sum beyond the double range is the caller's
     * problem to see (a tool error), not a malformed result. */
    if (!isfinite(sum)) return mcp_call_tool_error(call, "the sum is out of range for a JSON number");
    /* The JSON writer gives the shortest text that reads back as the same
     * double: 5.5, not 5.5000000000000000. */
    mcp_buf num;
    mcp_buf_init(&num);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &num);
    mcp_json_write_double(&w, sum);
    int rc = mcp_json_writer_status(&w);
    if (rc == 0) {
        mcp_str ra = mcp_json_raw(a), rb = mcp_json_raw(b);
        rc = mcp_call_text(call, "%.*s + %.*s = %s", (int)ra.len, ra.ptr, (int)rb.len, rb.ptr, num.data);
    }
    if (rc == 0) {
        char *structured = mcp_arena_sprintf(mcp_call_arena(call), "{\"sum\":%s}", num.data);
        rc = structured ? mcp_call_structured(call, structured) : MCP_ENOMEM;
    }
    mcp_buf_free(&num);
    return rc;
}

/* ---- slow ---------------------------------------------------------------------- */

static const char SLOW_INPUT[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"steps\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
    "\"delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000,\"default\":100}},"
    "\"required\":[\"steps\"],\"additionalProperties\":false}";

typedef struct slow_job {
    mcp_call *call;
    int steps;
    int delay_ms;
} slow_job;

/* Sleeps ms milliseconds in short slices; returns false as soon as the call
 * is cancelled, so a cancelled job stops within a slice, not a whole step. */
static bool slow_sleep(mcp_call *call, int ms) {
    const int slice = 10;
    while (ms > 0) {
        if (mcp_call_is_cancelled(call)) return false;
        int now = ms < slice ? ms : slice;
        struct timespec ts = {0, (long)now * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ms -= now;
    }
    return !mcp_call_is_cancelled(call);
}

static void *slow_main(void *arg) {
    slow_job job = *(slow_job *)arg;
    free(arg);
    int done = 0;
    while (done < job.steps && slow_sleep(job.call, job.delay_ms)) {
        done++;
        char message[48];
        snprintf(message, sizeof message, "step %d of %d", done, job.steps);
        mcp_call_progress(job.call, done, job.steps, message);
    }
    /* A cancelled call is still finished: that releases it, and the session
     * sends no response for it. */
    if (done == job.steps) mcp_call_text(job.call, "slow finished %d steps", done);
    else mcp_call_tool_error(job.call, "slow cancelled after %d of %d steps", done, job.steps);
    mcp_call_finish(job.call);
    return NULL;
}

static int demo_slow(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    slow_job *job = malloc(sizeof *job);
    if (!job) return MCP_ENOMEM;
    job->call = call;
    job->steps = (int)mcp_json_num(mcp_json_get(args, "steps"), 1);
    job->delay_ms = (int)mcp_json_num(mcp_json_get(args, "delay_ms"), 100);
    pthread_t thread;
    if (pthread_create(&thread, NULL, slow_main, job) != 0) {
        free(job);
        return mcp_call_tool_error(call, "slow: could not start a worker thread");
    }
    pthread_detach(thread);
    return MCP_PENDING;
}

/* ---- extra tools (pagination filler) ----------------------------------------------- */

static int demo_extra(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    return mcp_call_text(call, "extra tool %zu", (size_t)(uintptr_t)user);
}

/* ---- resources ---------------------------------------------------------------------- */

static const char README_TEXT[] =
    "# mcpd demo server\n"
    "\n"
    "This server is the demo catalog of `mcpd serve`.\n"
    "\n"
    "- tools: `echo` (returns its text), `add` (sums two numbers, with structured output),\n"
    "  `slow` (reports progress for each step and stops when cancelled)\n"
    "- resources: this readme, and `mcpd://demo/greeting/{name}`\n"
    "- prompts: `review` (asks for a code review of its `code` argument)\n";

static int demo_readme(mcp_call *call, const char *uri, void *user) {
    (void)user;
    return mcp_call_resource_text(call, uri, "text/markdown", README_TEXT, sizeof README_TEXT - 1);
}

static int demo_greeting(mcp_call *call, const char *uri, void *user) {
    (void)user;
    static const char prefix[] = "mcpd://demo/greeting/";
    const char *name = strncmp(uri, prefix, sizeof prefix - 1) == 0 ? uri + sizeof prefix - 1 : uri;
    char *text = mcp_arena_sprintf(mcp_call_arena(call), "Hello, %s!", name);
    if (!text) return MCP_ENOMEM;
    return mcp_call_resource_text(call, uri, "text/plain", text, strlen(text));
}

/* ---- prompts ------------------------------------------------------------------------- */

static const mcp_prompt_argument REVIEW_ARGS[] = {
    {.name = "code", .description = "the code to review", .required = true},
    {.name = "language", .description = "its programming language", .required = false},
};

static int demo_review(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const mcp_json *code = mcp_json_get(args, "code");
    if (!mcp_json_is_string(code)) return mcp_call_fail(call, -32602, "Invalid params: code must be a string");
    const char *language = mcp_json_str(mcp_json_get(args, "language"), "");
    char *text = mcp_arena_sprintf(mcp_call_arena(call),
                                   "Please review this %s%scode. Point out bugs first, then style.\n\n```%s\n%s\n```",
                                   language, *language ? " " : "", language, mcp_json_str(code, ""));
    if (!text) return MCP_ENOMEM;
    int rc = mcp_call_prompt_description(call, "Code review request");
    return rc ? rc : mcp_call_prompt_message(call, "user", text);
}

/* ---- completion -------------------------------------------------------------------------- */

static const char *const LANGUAGES[] = {"bash", "c", "cpp", "go", "java", "javascript", "python", "ruby", "rust", "typescript"};
static const char *const NAMES[] = {"Ada", "Alan", "Barbara", "Dennis", "Grace", "Ken", "Linus", "Margaret"};

/* Prefix matches from a fixed list: review's language, greeting's name. */
static int demo_complete(mcp_call *call, const char *argument, const char *value, const mcp_json *context,
                         void *user) {
    (void)context, (void)user;
    const char *const *list = NULL;
    size_t count = 0;
    if (!strcmp(argument, "language")) list = LANGUAGES, count = sizeof LANGUAGES / sizeof LANGUAGES[0];
    else if (!strcmp(argument, "name")) list = NAMES, count = sizeof NAMES / sizeof NAMES[0];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (strncmp(list[i], value, strlen(value)) != 0) continue;
        int rc = mcp_call_completion(call, list[i]);
        if (rc) return rc;
        n++;
    }
    return mcp_call_completion_total(call, n, false);
}

/* ---- features (--all-features) --------------------------------------------------------------
 * Tools that need a capable client, kept out of the default catalog so
 * that its shape stays fixed for the tests and benchmarks that count it. */

static const char CONFIRM_INPUT[] =
    "{\"type\":\"object\",\"properties\":{\"action\":{\"type\":\"string\"}},\"required\":[\"action\"]}";
static const char CONFIRM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"confirm\":{\"type\":\"boolean\",\"title\":\"Go ahead?\"}},"
    "\"required\":[\"confirm\"]}";

/* Asks the user through elicitation; the same code serves both eras. */
static int demo_confirm(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const char *action = mcp_json_str(mcp_json_get(args, "action"), "");
    const mcp_json *answer = mcp_call_input(call, "confirm");
    if (!answer) {
        char *message = mcp_arena_sprintf(mcp_call_arena(call), "Do you want to %s?", action);
        if (!message) return MCP_ENOMEM;
        return mcp_call_request_elicitation(call, "confirm", message, CONFIRM_SCHEMA);
    }
    const char *what = mcp_json_str(mcp_json_get(answer, "action"), "");
    bool yes = !strcmp(what, "accept") && mcp_json_bool(mcp_json_get(mcp_json_get(answer, "content"), "confirm"), false);
    return yes ? mcp_call_text(call, "confirmed: %s", action) : mcp_call_text(call, "not confirmed (%s)", what);
}

static int demo_log(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const char *text = mcp_json_str(mcp_json_get(args, "text"), "");
    mcp_log_level level = MCP_LOG_INFO;
    mcp_log_level_parse(mcp_json_str(mcp_json_get(args, "level"), "info"), &level);
    int rc = mcp_call_log(call, level, "demo", "%s", text);
    return rc ? rc : mcp_call_text(call, "logged at %s", mcp_log_level_name(level));
}

static const char LOG_INPUT[] =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
    "\"level\":{\"enum\":[\"debug\",\"info\",\"notice\",\"warning\",\"error\",\"critical\",\"alert\",\"emergency\"]}},"
    "\"required\":[\"text\"]}";

int app_demo_register_features(mcp_server *server) {
    int rc = mcp_server_add_tool(server, &(mcp_tool){
        .name = "confirm",
        .title = "Confirm",
        .description = "Asks the user to confirm an action (elicitation) and reports the answer.",
        .input_schema = CONFIRM_INPUT,
        .fn = demo_confirm,
    });
    if (!rc)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "job",
            .title = "Job",
            .description = "Like slow, but may also run as a task (tasks/get, tasks/result, tasks/cancel).",
            .input_schema = SLOW_INPUT,
            .task_support = "optional",
            .fn = demo_slow,
        });
    if (!rc)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "log",
            .title = "Log",
            .description = "Sends its text to the client as a log message at the given level.",
            .input_schema = LOG_INPUT,
            .fn = demo_log,
        });
    return rc;
}

/* ---- registration ---------------------------------------------------------------------- */

int app_demo_register(mcp_server *server, size_t extra_tools) {
    int rc = mcp_server_add_tool(server, &(mcp_tool){
        .name = "echo",
        .title = "Echo",
        .description = "Returns the text it is given.",
        .input_schema = ECHO_INPUT,
        .annotations = "{\"readOnlyHint\":true,\"idempotentHint\":true,\"openWorldHint\":false}",
        .fn = demo_echo,
    });
    if (!rc)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "add",
            .title = "Add",
            .description = "Adds two numbers; the sum is also returned as structured content.",
            .input_schema = ADD_INPUT,
            .output_schema = ADD_OUTPUT,
            .annotations = "{\"readOnlyHint\":true,\"idempotentHint\":true,\"openWorldHint\":false}",
            .fn = demo_add,
        });
    if (!rc)
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = "slow",
            .title = "Slow",
            .description = "Works for steps x delay_ms milliseconds, reporting progress after each step; "
                           "stops when cancelled.",
            .input_schema = SLOW_INPUT,
            .annotations = "{\"readOnlyHint\":true,\"openWorldHint\":false}",
            .fn = demo_slow,
        });
    for (size_t i = 1; !rc && i <= extra_tools; i++) {
        char name[32];
        snprintf(name, sizeof name, "extra_%04zu", i);
        rc = mcp_server_add_tool(server, &(mcp_tool){
            .name = name,
            .description = "Filler tool that makes the catalog long enough to need pagination.",
            .fn = demo_extra,
            .user = (void *)(uintptr_t)i,
        });
    }
    if (!rc)
        rc = mcp_server_add_resource(server, &(mcp_resource){
            .uri = APP_DEMO_README_URI,
            .name = "readme",
            .title = "About this demo server",
            .mime_type = "text/markdown",
            .fn = demo_readme,
        });
    if (!rc)
        rc = mcp_server_add_resource_template(server, &(mcp_resource_template){
            .uri_template = APP_DEMO_GREETING_TEMPLATE,
            .name = "greeting",
            .title = "Greeting",
            .description = "A greeting for {name}.",
            .mime_type = "text/plain",
            .fn = demo_greeting,
            .complete = demo_complete,
        });
    if (!rc)
        rc = mcp_server_add_prompt(server, &(mcp_prompt){
            .name = "review",
            .title = "Code review",
            .description = "Asks the model to review a piece of code.",
            .arguments = REVIEW_ARGS,
            .argument_count = sizeof REVIEW_ARGS / sizeof REVIEW_ARGS[0],
            .fn = demo_review,
            .complete = demo_complete,
        });
    return rc;
}
