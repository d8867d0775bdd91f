/*
 * mcpd call: send one request to an MCP server and print the result.
 *
 * Connects (spawning a stdio server or dialling TCP), negotiates the
 * protocol version, sends the request and prints the result object. Exit
 * codes are part of the interface, so scripts can tell a refusal by the
 * server (1) from a failure to reach it at all (2).
 *
 * A server may ask the client things (sampling, elicitation, roots) as
 * server requests or, in the modern era, as input_required results; the
 * answers are given up front on the command line, since the command has
 * nobody to ask. Notifications (logging, subscriptions) can be watched for
 * a while after the result with --listen.
 */
#include "app/app.h"
#include "app/serve_obs.h"
#include "mcp/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define MAX_STDIO_ARGS 256

static void print_usage(FILE *out)
{
    fputs("usage: mcpd call [options] TARGET METHOD [PARAMS-JSON]\n"
          "\n"
          "Send one MCP request and print its result object on stdout.\n"
          "\n"
          "TARGET:\n"
          "  stdio:COMMAND [ARGS...]   spawn COMMAND and speak newline-delimited JSON on its\n"
          "                            stdin/stdout (its stderr passes through). The whole\n"
          "                            target is ONE argument, split into words at spaces and\n"
          "                            tabs; '...' keeps text literally, \"...\" keeps spaces\n"
          "                            and honours \\\" and \\\\, a backslash outside quotes\n"
          "                            escapes the next character. No other shell syntax.\n"
          "                            Example: \"stdio:build/mcpd serve --stdio\"\n"
          "  tcp://HOST:PORT           newline-delimited JSON over TCP ([::1]:PORT for IPv6)\n"
          "  http://HOST:PORT/PATH     Streamable HTTP, either era: POST per message, JSON or\n"
          "                            SSE answers, the session kept and DELETEd at the end;\n"
          "                            a GET stream carries what the server sends on its own\n"
          "  ws://HOST:PORT/PATH       WebSocket, either era: one JSON-RPC message per text\n"
          "                            frame, subprotocol \"mcp\" (PATH defaults to /mcp;\n"
          "                            wss:// is not supported yet)\n"
          "\n"
          "METHOD is the JSON-RPC method (tools/list, tools/call, resources/read, ...);\n"
          "PARAMS-JSON is its params object, e.g. '{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}'.\n"
          "\n"
          "options:\n"
          "  --protocol VERSION   protocol version to speak. Default: ask server/discover and\n"
          "                       use 2026-07-28 when the server offers it, else the\n"
          "                       initialize handshake proposing " MCP_PROTOCOL_LATEST_HANDSHAKE ".\n"
          "                       A handshake version (2025-11-25, 2025-06-18, 2025-03-26,\n"
          "                       2024-11-05) forces the handshake; 2026-07-28 skips discovery.\n"
          "  --timeout MS         per-request timeout in milliseconds, restarted by each\n"
          "                       progress notification (default 30000)\n"
          "  --connect-timeout MS budget for starting or reaching the server and agreeing on\n"
          "                       the version, apart from --timeout (default 10000)\n"
          "  --progress           ask for progress and print each notification on stderr\n"
          "  --compact            print the result as one line of compact JSON\n"
          "                       (default: indented with two spaces)\n"
          "\n"
          "answering the server (each also declares the client capability to the server;\n"
          "the same answer is given to every such request, server-to-client requests and\n"
          "2026-07-28 input_required results alike):\n"
          "  --sampling-response JSON  result for sampling/createMessage, e.g.\n"
          "                       '{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"hi\"},\"model\":\"m\"}'\n"
          "  --elicit-response JSON    result for elicitation/create, e.g.\n"
          "                       '{\"action\":\"accept\",\"content\":{\"name\":\"octocat\"}}'\n"
          "  --elicit-defaults    accept elicitation/create with the defaults its form's\n"
          "                       schema gives (members of --elicit-response's content win,\n"
          "                       and its action when given)\n"
          "  --roots URI[,URI...]  the roots to list for roots/list\n"
          "\n"
          "notifications and logging:\n"
          "  --log-level LEVEL    ask for log messages at LEVEL and above (debug, info, notice,\n"
          "                       warning, error, critical, alert, emergency): logging/setLevel\n"
          "                       before the request in the handshake era, _meta logLevel in\n"
          "                       2026-07-28. Log messages are printed on stderr. A server\n"
          "                       that refuses logging/setLevel ends the call (exit 1).\n"
          "  --listen MS          after the result, keep printing every notification from the\n"
          "                       server on stdout, one JSON object {\"method\",\"params\"} a\n"
          "                       line, for MS milliseconds (e.g. after resources/subscribe).\n"
          "                       METHOD subscriptions/listen (2026-07-28) stays open that long\n"
          "                       (default: --timeout) and is then cancelled; exit status 0.\n"
          "  --task               call the tool (METHOD tools/call) as a task (2025-11-25): poll\n"
          "                       tasks/get until it ends and print its tasks/result. --timeout\n"
          "                       bounds the whole wait.\n"
          "  --task-ttl MS        the task's requested ttl (default: the server's choice)\n"
          "\n"
          "tracing:\n"
          "  --otlp-endpoint URL  a client span per request, exported over OTLP/HTTP JSON;\n"
          "                       its traceparent goes to the server in params._meta\n"
          "  --otlp-header K=V    extra header on every export (repeatable)\n"
          "  --trace-sample S     always, never, parent (default) or a ratio in [0, 1]\n"
          "  --log-format FORMAT  text (default) or json (stderr lines with trace ids)\n"
          "  -h, --help           show this help\n"
          "\n"
          "exit status:\n"
          "  0  the server returned a result (a tool result with isError: true included)\n"
          "  1  the server answered with a JSON-RPC error (printed on stderr)\n"
          "  2  usage error, or the server could not be started, reached, negotiated\n"
          "     with, or did not answer in time\n"
          "  3  the server needs input first (resultType input_required; the result is\n"
          "     printed on stdout)\n",
          out);
}

/* Split a stdio target's command line into words (rules in the usage). */
static int split_words(const char *s, char *storage, char **words, size_t max_words, size_t *count)
{
    size_t n = 0;
    char *o = storage;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        if (n + 1 >= max_words)
            return -1;
        words[n++] = o;
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '\'') {
                const char *end = strchr(s + 1, '\'');
                if (!end)
                    return -1;
                memcpy(o, s + 1, (size_t)(end - s - 1));
                o += end - s - 1;
                s = end + 1;
            } else if (*s == '"') {
                s++;
                while (*s && *s != '"') {
                    if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                        s++;
                    *o++ = *s++;
                }
                if (*s != '"')
                    return -1;
                s++;
            } else if (*s == '\\') {
                if (!s[1])
                    return -1;
                *o++ = s[1];
                s += 2;
            } else {
                *o++ = *s++;
            }
        }
        *o++ = '\0';
    }
    words[n] = NULL;
    *count = n;
    return 0;
}

/* ---- Printing -------------------------------------------------------------- */

static void indent(mcp_buf *out, int depth)
{
    mcp_buf_append_char(out, '\n');
    for (int i = 0; i < depth; i++)
        mcp_buf_append(out, "  ", 2);
}

static void pretty(mcp_buf *out, const mcp_json *v, int depth)
{
    mcp_json_type t = mcp_json_type_of(v);
    if ((t == MCP_JSON_OBJECT || t == MCP_JSON_ARRAY) && mcp_json_len(v) > 0) {
        bool obj = t == MCP_JSON_OBJECT;
        mcp_buf_append_char(out, obj ? '{' : '[');
        for (const mcp_json *m = mcp_json_first(v); m; m = mcp_json_next(m)) {
            indent(out, depth + 1);
            if (obj) {
                mcp_str key = mcp_json_key(m);
                mcp_json_escape(out, key.ptr, key.len);
                mcp_buf_append(out, ": ", 2);
            }
            pretty(out, m, depth + 1);
            if (mcp_json_next(m))
                mcp_buf_append_char(out, ',');
        }
        indent(out, depth);
        mcp_buf_append_char(out, obj ? '}' : ']');
        return;
    }
    /* Scalars and empty containers: the compact writer's form. */
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_write_value(&w, v);
}

static int print_json(FILE *to, const char *text, size_t len, bool compact)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&arena, text, len, NULL, &doc, NULL);
    mcp_buf out;
    mcp_buf_init(&out);
    if (rc == 0) {
        if (compact) {
            mcp_json_writer w;
            mcp_json_writer_init(&w, &out);
            mcp_json_write_value(&w, doc);
        } else {
            pretty(&out, doc, 0);
        }
        fwrite(out.data, 1, out.len, to);
        fputc('\n', to);
    }
    mcp_buf_free(&out);
    mcp_arena_free(&arena);
    return rc;
}

static void show_progress(void *user, double progress, double total, const char *message)
{
    (void)user;
    if (total > 0)
        fprintf(stderr, "progress: %g/%g%s%s\n", progress, total, message ? " " : "", message ? message : "");
    else
        fprintf(stderr, "progress: %g%s%s\n", progress, message ? " " : "", message ? message : "");
}

/* ---- The command ----------------------------------------------------------- */

typedef struct call_args {
    app_serve_obs_config obs;     /* --otlp-endpoint, --otlp-header, --trace-sample, --log-format */
    const mcp_observer *observer;
    const char *target;
    const char *method;
    const char *params;
    const char *protocol;
    unsigned timeout_ms;
    unsigned connect_timeout_ms;
    bool compact;
    bool progress;
    const char *sampling_response;
    const char *elicit_response;
    bool elicit_defaults;
    const char *roots;
    const char *log_level;
    unsigned listen_ms;
    bool task;
    unsigned task_ttl_ms;
} call_args;

/* ---- Answers and notifications ---------------------------------------------- */

typedef struct call_state {
    const call_args *args;
    mcp_buf roots;            /* the roots/list result, built once */
    bool listening;           /* print every notification on stdout */
    bool listen_done;         /* the listen request ended */
    bool retried;             /* a refused version was replaced once already */
    char retry_version[24];
    int listen_status;
    char *listen_result;
} call_state;

static void answer_with(const char *json, mcp_client_answer *answer)
{
    mcp_buf_append_cstr(&answer->result, json);
}

static void answer_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    (void)params;
    answer_with(((call_state *)user)->args->sampling_response, answer);
}

/* The form's defaults (requestedSchema.properties.*.default), overridden by
 * the members of --elicit-response's content; its action, else accept. */
static void answer_with_defaults(const char *given, const mcp_json *params, mcp_client_answer *answer)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *response = NULL;
    if (given)
        mcp_json_parse(&arena, given, strlen(given), NULL, &response, NULL);
    const mcp_json *content = mcp_json_get(response, "content");
    const mcp_json *props = mcp_json_get(mcp_json_get(params, "requestedSchema"), "properties");
    mcp_json_writer w;
    mcp_json_writer_init(&w, &answer->result);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "action");
    mcp_json_write_cstr(&w, mcp_json_str(mcp_json_get(response, "action"), "accept"));
    mcp_json_write_key(&w, "content");
    mcp_json_begin_object(&w);
    for (const mcp_json *p = mcp_json_first(props); p; p = mcp_json_next(p)) {
        mcp_str key = mcp_json_key(p);
        const mcp_json *def = mcp_json_get(p, "default");
        if (!def)
            continue;
        bool overridden = false;
        for (const mcp_json *c = mcp_json_first(content); c && !overridden; c = mcp_json_next(c))
            overridden = mcp_str_eq(mcp_json_key(c), key);
        if (overridden)
            continue;
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, def);
    }
    for (const mcp_json *c = mcp_json_first(content); c; c = mcp_json_next(c)) {
        mcp_str key = mcp_json_key(c);
        mcp_json_write_key_n(&w, key.ptr, key.len);
        mcp_json_write_value(&w, c);
    }
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_arena_free(&arena);
}

static void answer_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    const call_args *a = ((call_state *)user)->args;
    if (a->elicit_defaults)
        answer_with_defaults(a->elicit_response, params, answer);
    else
        answer_with(a->elicit_response, answer);
}

static void answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer)
{
    (void)method;
    (void)params;
    call_state *st = user;
    mcp_buf_append(&answer->result, st->roots.data, st->roots.len);
}

static int build_roots(const char *list, mcp_buf *out)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "roots");
    mcp_json_begin_array(&w);
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return -1;
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "uri");
        mcp_json_write_string(&w, p, len);
        mcp_json_end_object(&w);
        if (!end)
            break;
        p = end + 1;
    }
    mcp_json_end_array(&w);
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

static void on_notification(void *user, const char *method, const mcp_json *params)
{
    call_state *st = user;
    if (st->listening) {
        mcp_buf out;
        mcp_buf_init(&out);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &out);
        mcp_json_begin_object(&w);
        mcp_json_write_key(&w, "method");
        mcp_json_write_cstr(&w, method);
        if (params) {
            mcp_json_write_key(&w, "params");
            mcp_json_write_value(&w, params);
        }
        mcp_json_end_object(&w);
        if (mcp_json_writer_status(&w) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        mcp_buf_free(&out);
    }
    if (!strcmp(method, "notifications/message")) {
        const mcp_json *data = mcp_json_get(params, "data");
        const char *logger = mcp_json_str(mcp_json_get(params, "logger"), NULL);
        mcp_str raw = mcp_json_raw(data);
        fprintf(stderr, "log %s%s%s: %.*s\n", mcp_json_str(mcp_json_get(params, "level"), "?"),
                logger ? " " : "", logger ? logger : "", mcp_json_is_string(data) ? (int)mcp_json_str_len(data) : (int)raw.len,
                mcp_json_is_string(data) ? mcp_json_str(data, "") : raw.ptr ? raw.ptr : "");
    }
}

static bool is_log_level(const char *s)
{
    static const char *const levels[] = {"debug", "info", "notice", "warning", "error",
                                         "critical", "alert", "emergency", NULL};
    for (size_t i = 0; levels[i]; i++)
        if (!strcmp(s, levels[i]))
            return true;
    return false;
}

/* An option whose value must be a JSON object. */
static bool check_object(const char *option, const char *text)
{
    mcp_json_error err;
    if (mcp_json_validate(text, strlen(text), NULL, &err) != 0) {
        fprintf(stderr, "mcpd call: %s is not valid JSON at offset %zu: %s\n", option, err.offset, err.message);
        return false;
    }
    if (text[strspn(text, " \t\r\n")] != '{') {
        fprintf(stderr, "mcpd call: %s must be a JSON object\n", option);
        return false;
    }
    return true;
}

static int parse_args(int argc, char **argv, call_args *a)
{
    const char *positional[3];
    int npos = 0;
    bool options_done = false;
    a->timeout_ms = DEFAULT_TIMEOUT_MS;
    a->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int used;
        if (!options_done && arg[0] == '-' && arg[1] == '-' && arg[2] == '\0') {
            options_done = true;
        } else if (!options_done && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
            print_usage(stdout);
            return 0;
        } else if (!options_done && !strcmp(arg, "--compact")) {
            a->compact = true;
        } else if (!options_done && !strcmp(arg, "--progress")) {
            a->progress = true;
        } else if (!options_done && !strcmp(arg, "--task")) {
            a->task = true;
        } else if (!options_done && !strcmp(arg, "--elicit-defaults")) {
            a->elicit_defaults = true;
        } else if (!options_done && (!strcmp(arg, "--sampling-response") || !strcmp(arg, "--elicit-response") ||
                                     !strcmp(arg, "--roots") || !strcmp(arg, "--log-level"))) {
            if (++i == argc) {
                fprintf(stderr, "mcpd call: %s needs a value (see mcpd call --help)\n", arg);
                return 2;
            }
            const char *v = argv[i];
            if (!strcmp(arg, "--sampling-response")) {
                if (!check_object(arg, v))
                    return 2;
                a->sampling_response = v;
            } else if (!strcmp(arg, "--elicit-response")) {
                if (!check_object(arg, v))
                    return 2;
                a->elicit_response = v;
            } else if (!strcmp(arg, "--roots")) {
                mcp_buf probe;
                mcp_buf_init(&probe);
                int bad = build_roots(v, &probe);
                mcp_buf_free(&probe);
                if (bad) {
                    fprintf(stderr, "mcpd call: --roots needs URIs separated by commas, none empty: '%s'\n", v);
                    return 2;
                }
                a->roots = v;
            } else {
                if (!is_log_level(v)) {
                    fprintf(stderr, "mcpd call: unknown log level '%s' (debug, info, notice, warning, error, "
                                    "critical, alert, emergency)\n", v);
                    return 2;
                }
                a->log_level = v;
            }
        } else if (!options_done && !strcmp(arg, "--protocol")) {
            if (++i == argc) {
                fputs("mcpd call: --protocol needs a version\n", stderr);
                return 2;
            }
            a->protocol = argv[i];
            if (!mcp_protocol_is_supported(a->protocol)) {
                fprintf(stderr, "mcpd call: unsupported protocol version '%s' (supported:", a->protocol);
                for (size_t k = 0; mcp_protocol_versions[k]; k++)
                    fprintf(stderr, " %s", mcp_protocol_versions[k]);
                fputs(")\n", stderr);
                return 2;
            }
        } else if (!options_done && (!strcmp(arg, "--timeout") || !strcmp(arg, "--connect-timeout") ||
                                     !strcmp(arg, "--listen") || !strcmp(arg, "--task-ttl"))) {
            char *end = NULL;
            unsigned long ms = ++i < argc ? strtoul(argv[i], &end, 10) : 0;
            if (i >= argc || !end || *end || ms == 0 || ms > 86400000ul || argv[i][0] == '-') {
                fprintf(stderr, "mcpd call: %s needs a number of milliseconds (1 .. 86400000)\n", arg);
                return 2;
            }
            if (!strcmp(arg, "--timeout"))
                a->timeout_ms = (unsigned)ms;
            else if (!strcmp(arg, "--listen"))
                a->listen_ms = (unsigned)ms;
            else if (!strcmp(arg, "--task-ttl"))
                a->task_ttl_ms = (unsigned)ms;
            else
                a->connect_timeout_ms = (unsigned)ms;
        } else if (!options_done && strcmp(arg, "--metrics") &&
                   (used = app_serve_obs_option(&a->obs, arg, i + 1 < argc ? argv[i + 1] : NULL)) != 0) {
            if (used < 0)
                return 2;
            i += used - 1;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "mcpd call: unknown option '%s' (see mcpd call --help)\n", arg);
            return 2;
        } else if (npos < 3) {
            positional[npos++] = arg;
        } else {
            fprintf(stderr, "mcpd call: too many arguments: '%s' (see mcpd call --help)\n", arg);
            return 2;
        }
    }
    if (npos < 2) {
        print_usage(stderr);
        return 2;
    }
    a->target = positional[0];
    a->method = positional[1];
    a->params = npos == 3 ? positional[2] : NULL;
    if ((a->task || a->task_ttl_ms) && strcmp(a->method, "tools/call") != 0) {
        fputs("mcpd call: --task and --task-ttl apply to tools/call only\n", stderr);
        return 2;
    }
    if (a->params) {
        mcp_json_error err;
        size_t len = strlen(a->params);
        if (mcp_json_validate(a->params, len, NULL, &err) != 0) {
            fprintf(stderr, "mcpd call: PARAMS-JSON is not valid JSON at offset %zu: %s\n", err.offset,
                    err.message);
            return 2;
        }
        if (a->params[strspn(a->params, " \t\r\n")] != '{') {
            fputs("mcpd call: PARAMS-JSON must be a JSON object\n", stderr);
            return 2;
        }
    }
    return -1;
}

static int open_target(const char *target, unsigned connect_timeout_ms, bool http_get_stream,
                       mcp_client_transport **t)
{
    if (!strncmp(target, "stdio:", 6)) {
        const char *cmd = target + 6;
        char *storage = malloc(strlen(cmd) + 1 + MAX_STDIO_ARGS);
        char *words[MAX_STDIO_ARGS];
        size_t count = 0;
        if (!storage)
            return 2;
        if (split_words(cmd, storage, words, MAX_STDIO_ARGS, &count) != 0 || count == 0) {
            fprintf(stderr, "mcpd call: cannot split the command of '%s' (empty, an open quote, or over %d words)\n",
                    target, MAX_STDIO_ARGS - 1);
            free(storage);
            return 2;
        }
        int rc = mcp_connect_stdio(words, NULL, t);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot start '%s': %s\n", words[0], mcp_strerror(rc));
        free(storage);
        return rc == 0 ? 0 : 2;
    }
    if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
        int rc = mcp_connect_http(target,
                                  &(mcp_connect_opts){.connect_timeout_ms = connect_timeout_ms,
                                                      .http_get_stream = http_get_stream},
                                  t);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target,
                    rc == MCP_EINVAL         ? "expected http://HOST:PORT/PATH"
                    : rc == MCP_EUNSUPPORTED ? "https is not supported (no TLS in mcpd call yet)"
                    : rc == MCP_EIO          ? strerror(errno)
                                             : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    if (!strncmp(target, "tcp://", 6)) {
        int rc = mcp_connect_tcp(target + 6, &(mcp_connect_opts){.connect_timeout_ms = connect_timeout_ms}, t);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target + 6,
                    rc == MCP_EINVAL ? "expected tcp://HOST:PORT"
                    : rc == MCP_EIO  ? strerror(errno)
                                     : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    if (!strncmp(target, "ws://", 5) || !strncmp(target, "wss://", 6)) {
        char why[256];
        int rc = mcp_connect_ws(target, &(mcp_connect_opts){.connect_timeout_ms = connect_timeout_ms}, t,
                                why, sizeof why);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target,
                    why[0]        ? why
                    : rc == MCP_EIO ? strerror(errno)
                                    : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    fprintf(stderr, "mcpd call: unknown target '%s' (expected stdio:COMMAND, tcp://HOST:PORT, http://HOST:PORT/PATH or ws://HOST:PORT/PATH)\n", target);
    return 2;
}

/* The server refused our version (-32022, UnsupportedProtocolVersion) and
 * listed those it speaks: pick one we speak too (the modern era first) for
 * one more attempt. */
#define CALL_RETRY (-100)
static bool pick_retry_version(call_state *st, int status, const mcp_client_result *r)
{
    if (st->retried || status != MCP_CLIENT_RPC_ERROR || !r->json)
        return false;
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *err = NULL;
    bool found = false;
    if (mcp_json_parse(&arena, r->json, r->len, NULL, &err, NULL) == 0 &&
        mcp_json_int(mcp_json_get(err, "code"), 0) == MCP_ERROR_UNSUPPORTED_PROTOCOL_VERSION) {
        const mcp_json *list = mcp_json_get(mcp_json_get(err, "data"), "supported");
        for (const mcp_json *v = mcp_json_first(list); v; v = mcp_json_next(v)) {
            const char *version = mcp_json_str(v, "");
            if (!mcp_protocol_is_supported(version) || strlen(version) >= sizeof st->retry_version)
                continue;
            if (!found || mcp_protocol_is_modern(version))
                snprintf(st->retry_version, sizeof st->retry_version, "%s", version);
            found = true;
        }
    }
    mcp_arena_free(&arena);
    return found;
}

static int report_failure(const char *what, int status, const mcp_client_result *r, unsigned timeout_ms)
{
    if (status == MCP_CLIENT_RPC_ERROR) {
        fprintf(stderr, "mcpd call: %s: the server answered with an error:\n", what);
        print_json(stderr, r->json, r->len, true);
        return 1;
    }
    if (status == MCP_ETIMEDOUT)
        fprintf(stderr, "mcpd call: %s: no answer within %u ms\n", what, timeout_ms);
    else if (status == MCP_ECLOSED)
        fprintf(stderr, "mcpd call: %s: the server closed the connection\n", what);
    else
        fprintf(stderr, "mcpd call: %s: %s\n", what, mcp_strerror(status));
    return 2;
}

static void listen_done(void *user, int status, const mcp_json *value, int64_t id)
{
    (void)id;
    call_state *st = user;
    st->listen_done = true;
    st->listen_status = status;
    if (value) {
        mcp_str raw = mcp_json_raw(value);
        st->listen_result = malloc(raw.len + 1);
        if (st->listen_result) {
            memcpy(st->listen_result, raw.ptr, raw.len);
            st->listen_result[raw.len] = '\0';
        }
    }
}

/* Pump messages (printing notifications) for ms, or until *stop. */
static int pump_for(mcp_client *client, unsigned ms, const bool *stop)
{
    uint64_t until = mcp_now_ns() + (uint64_t)ms * 1000000u;
    while (!(stop && *stop)) {
        uint64_t now = mcp_now_ns();
        if (now >= until)
            return 0;
        if (mcp_client_pump(client, (unsigned)((until - now) / 1000000u) + 1) == MCP_ECLOSED)
            return MCP_ECLOSED;
    }
    return 0;
}

/* subscriptions/listen: open, print what it carries, cancel at the end. */
static int run_listen(mcp_client *client, const call_args *a, call_state *st)
{
    int64_t id = 0;
    int rc = mcp_client_request(client, a->method, a->params,
                                &(mcp_client_request_opts){.timeout_ms = MCP_CLIENT_NO_TIMEOUT}, listen_done,
                                st, &id);
    if (rc != 0) {
        fprintf(stderr, "mcpd call: %s: %s\n", a->method, mcp_strerror(rc));
        return 2;
    }
    rc = pump_for(client, a->listen_ms ? a->listen_ms : a->timeout_ms, &st->listen_done);
    if (!st->listen_done) {
        if (rc == MCP_ECLOSED) {
            fprintf(stderr, "mcpd call: %s: the server closed the connection\n", a->method);
            return 2;
        }
        mcp_client_cancel(client, id, "mcpd call: listening time is over");
        return 0;
    }
    /* The server ended the stream (or refused it). */
    mcp_client_result r = {.status = st->listen_status, .json = st->listen_result,
                           .len = st->listen_result ? strlen(st->listen_result) : 0};
    if (r.status == 0) {
        print_json(stdout, r.json, r.len, a->compact);
        return 0;
    }
    return report_failure(a->method, r.status, &r, a->timeout_ms);
}

/* Handshake era: ask for log messages before the request itself. */
static int set_log_level(mcp_client *client, const call_args *a)
{
    char params[64];
    snprintf(params, sizeof params, "{\"level\":\"%s\"}", a->log_level);
    mcp_client_result r = {0};
    int status = mcp_client_call_sync(client, "logging/setLevel", params,
                                      &(mcp_client_request_opts){.timeout_ms = a->timeout_ms}, &r);
    int rc = status == 0 ? 0 : report_failure("logging/setLevel", status, &r, a->timeout_ms);
    mcp_client_result_free(&r);
    return rc;
}

/* The connector learns each tool's inputSchema from a listing: it mirrors
 * x-mcp-header arguments into Mcp-Param-* headers and refuses a tool whose
 * annotations are invalid. Every page, up to a bound against a server whose
 * cursors never end. */
static void list_tools(mcp_client *client, unsigned timeout_ms)
{
    char params[512] = "";
    for (int page = 0; page < 64; page++) {
        mcp_client_result listed = {0};
        if (mcp_client_call_sync(client, "tools/list", params[0] ? params : NULL,
                                 &(mcp_client_request_opts){.timeout_ms = timeout_ms}, &listed) != 0) {
            fputs("mcpd call: tools/list before tools/call failed; calling without Mcp-Param-* headers\n", stderr);
            mcp_client_result_free(&listed);
            return;
        }
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        const mcp_json *cursor = NULL;
        if (listed.json && mcp_json_parse(&arena, listed.json, listed.len, NULL, &doc, NULL) == 0)
            cursor = mcp_json_get(doc, "nextCursor");
        bool more = false;
        if (mcp_json_is_string(cursor)) {
            mcp_str raw = mcp_json_raw(cursor);
            more = raw.len + 16 < sizeof params;
            if (more)
                snprintf(params, sizeof params, "{\"cursor\":%.*s}", (int)raw.len, raw.ptr);
        }
        mcp_arena_free(&arena);
        mcp_client_result_free(&listed);
        if (!more)
            return;
    }
}

static int run(mcp_client *client, const call_args *a, call_state *st)
{
    const char *version = mcp_client_protocol_version(client);
    if (a->log_level && !mcp_protocol_is_modern(version)) {
        int rc = set_log_level(client, a);
        if (rc != 0)
            return rc;
    }
    if (!strcmp(a->method, "subscriptions/listen"))
        return run_listen(client, a, st);

    mcp_client_request_opts ropts = {.timeout_ms = a->timeout_ms};
    if (a->progress) {
        ropts.progress = true;
        ropts.on_progress = show_progress;
    }
    if (!strcmp(a->method, "tools/call") && !strncmp(a->target, "http://", 7) && mcp_protocol_is_modern(version))
        list_tools(client, a->timeout_ms);
    mcp_client_result r = {0};
    int status = a->task ? mcp_client_call_task_sync(client, a->params, a->task_ttl_ms, a->timeout_ms, &r)
                         : mcp_client_call_sync(client, a->method, a->params, &ropts, &r);
    int rc;
    if (status == 0 || status == MCP_CLIENT_INPUT_REQUIRED) {
        print_json(stdout, r.json, r.len, a->compact);
        fflush(stdout);
        if (status == MCP_CLIENT_INPUT_REQUIRED)
            fprintf(stderr, "mcpd call: %s needs input first (resultType input_required) that the "
                            "--sampling-response/--elicit-response/--roots given cannot provide\n", a->method);
        rc = status == 0 ? 0 : 3;
    } else if (pick_retry_version(st, status, &r)) {
        rc = CALL_RETRY;
    } else {
        if (status == MCP_EINVAL && !strcmp(a->method, "tools/call") && !strncmp(a->target, "http://", 7))
            fputs("mcpd call: the tool is refused: its x-mcp-header annotations break the rules, or the "
                  "arguments do not fit their types\n", stderr);
        rc = report_failure(a->method, status, &r, a->timeout_ms);
    }
    mcp_client_result_free(&r);
    if (rc == 0 && a->listen_ms && pump_for(client, a->listen_ms, NULL) == MCP_ECLOSED)
        fputs("mcpd call: the server closed the connection while listening\n", stderr);
    return rc;
}

/* Connect with version (NULL: negotiate), run, disconnect. */
static int attempt(const call_args *a, call_state *st, const char *version)
{
    mcp_client_transport *t = NULL;
    int rc = open_target(a->target, a->connect_timeout_ms, true, &t);
    if (rc != 0)
        return rc;
    mcp_client *client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = version,
        .timeout_ms = a->timeout_ms,
        .log_level = a->log_level,
        .transport = t,
        .on_notification = on_notification,
        .on_sampling = a->sampling_response ? answer_sampling : NULL,
        .on_elicitation = a->elicit_response || a->elicit_defaults ? answer_elicitation : NULL,
        .on_roots = a->roots ? answer_roots : NULL,
        .user = st,
        .observer = a->observer,
    });
    if (!client) {
        t->close(t);
        fputs("mcpd call: out of memory\n", stderr);
        return 2;
    }
    mcp_client_result r = {0};
    int status = mcp_client_connect(client, a->connect_timeout_ms, &r);
    if (status != 0) {
        if (status == MCP_EUNSUPPORTED) {
            const char *v = NULL;
            mcp_arena arena;
            mcp_arena_init(&arena, 0);
            mcp_json *doc = NULL;
            if (r.json && mcp_json_parse(&arena, r.json, r.len, NULL, &doc, NULL) == 0)
                v = mcp_json_str(mcp_json_get(doc, "protocolVersion"), NULL);
            fprintf(stderr, "mcpd call: the server chose protocol version '%s', which mcpd does not speak\n",
                    v ? v : "?");
            mcp_arena_free(&arena);
            rc = 2;
        } else if (pick_retry_version(st, status, &r)) {
            rc = CALL_RETRY;
        } else {
            report_failure("negotiating the protocol version", status, &r, a->connect_timeout_ms);
            /* A refused negotiation is a connection failure, not the method's error. */
            rc = 2;
        }
    } else {
        rc = run(client, a, st);
    }
    mcp_client_result_free(&r);
    mcp_client_free(client);
    return rc;
}

int app_call(int argc, char **argv)
{
    call_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    call_state st = {.args = &a};
    mcp_buf_init(&st.roots);
    st.listening = a.listen_ms > 0 || !strcmp(a.method, "subscriptions/listen");
    if (a.roots && build_roots(a.roots, &st.roots) != 0) {
        mcp_buf_free(&st.roots);
        fputs("mcpd call: out of memory\n", stderr);
        return 2;
    }
    app_serve_obs so;
    if (app_serve_obs_open(&a.obs, &so)) {
        mcp_buf_free(&st.roots);
        return 2;
    }
    a.observer = so.observer;
    rc = attempt(&a, &st, a.protocol);
    if (rc == CALL_RETRY) {
        fprintf(stderr, "mcpd call: the server refused protocol version %s; trying %s, which it lists\n",
                a.protocol ? a.protocol : "(negotiated)", st.retry_version);
        st.retried = true;
        free(st.listen_result);
        st.listen_result = NULL;
        rc = attempt(&a, &st, st.retry_version);
        if (rc == CALL_RETRY)
            rc = 2;
    }
    free(st.listen_result);
    mcp_buf_free(&st.roots);
    app_serve_obs_close(&so); /* exports the spans still buffered */
    return rc;
}
