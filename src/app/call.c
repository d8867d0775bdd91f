/*
 * mcpd call: send one request to an MCP server and print the result.
 *
 * Connects (spawning a stdio server or dialling TCP), negotiates the
 * protocol version, sends the request and prints the result object. Exit
 * codes are part of the interface, so scripts can tell a refusal by the
 * server (1) from a failure to reach it at all (2).
 */
#include "app/app.h"
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
    const char *target;
    const char *method;
    const char *params;
    const char *protocol;
    unsigned timeout_ms;
    unsigned connect_timeout_ms;
    bool compact;
    bool progress;
} call_args;

static int parse_args(int argc, char **argv, call_args *a)
{
    const char *positional[3];
    int npos = 0;
    bool options_done = false;
    a->timeout_ms = DEFAULT_TIMEOUT_MS;
    a->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && arg[0] == '-' && arg[1] == '-' && arg[2] == '\0') {
            options_done = true;
        } else if (!options_done && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
            print_usage(stdout);
            return 0;
        } else if (!options_done && !strcmp(arg, "--compact")) {
            a->compact = true;
        } else if (!options_done && !strcmp(arg, "--progress")) {
            a->progress = true;
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
        } else if (!options_done && (!strcmp(arg, "--timeout") || !strcmp(arg, "--connect-timeout"))) {
            char *end = NULL;
            unsigned long ms = ++i < argc ? strtoul(argv[i], &end, 10) : 0;
            if (i >= argc || !end || *end || ms == 0 || ms > 86400000ul || argv[i][0] == '-') {
                fprintf(stderr, "mcpd call: %s needs a number of milliseconds (1 .. 86400000)\n", arg);
                return 2;
            }
            if (!strcmp(arg, "--timeout"))
                a->timeout_ms = (unsigned)ms;
            else
                a->connect_timeout_ms = (unsigned)ms;
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

static int open_target(const char *target, unsigned connect_timeout_ms, mcp_client_transport **t)
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
    if (!strncmp(target, "tcp://", 6)) {
        int rc = mcp_connect_tcp(target + 6, &(mcp_connect_opts){.connect_timeout_ms = connect_timeout_ms}, t);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target + 6,
                    rc == MCP_EINVAL ? "expected tcp://HOST:PORT"
                    : rc == MCP_EIO  ? strerror(errno)
                                     : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    fprintf(stderr, "mcpd call: unknown target '%s' (expected stdio:COMMAND or tcp://HOST:PORT)\n", target);
    return 2;
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

int app_call(int argc, char **argv)
{
    call_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    mcp_client_transport *t = NULL;
    if ((rc = open_target(a.target, a.connect_timeout_ms, &t)) != 0)
        return rc;
    mcp_client *client = mcp_client_new(&(mcp_client_opts){
        .protocol_version = a.protocol,
        .timeout_ms = a.timeout_ms,
        .transport = t,
    });
    if (!client) {
        t->close(t);
        fputs("mcpd call: out of memory\n", stderr);
        return 2;
    }
    mcp_client_result r = {0};
    int status = mcp_client_connect(client, a.connect_timeout_ms, &r);
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
        } else {
            rc = report_failure("negotiating the protocol version", status, &r, a.connect_timeout_ms);
            rc = 2; /* a refused negotiation is a connection failure, not the method's error */
        }
        mcp_client_result_free(&r);
        mcp_client_free(client);
        return rc;
    }
    mcp_client_result_free(&r);

    mcp_client_request_opts ropts = {.timeout_ms = a.timeout_ms};
    if (a.progress) {
        ropts.progress = true;
        ropts.on_progress = show_progress;
    }
    status = mcp_client_call_sync(client, a.method, a.params, &ropts, &r);
    if (status == 0 || status == MCP_CLIENT_INPUT_REQUIRED) {
        print_json(stdout, r.json, r.len, a.compact);
        fflush(stdout);
        if (status == MCP_CLIENT_INPUT_REQUIRED)
            fprintf(stderr, "mcpd call: %s needs input first (resultType input_required)\n", a.method);
        rc = status == 0 ? 0 : 3;
    } else {
        rc = report_failure(a.method, status, &r, a.timeout_ms);
    }
    mcp_client_result_free(&r);
    mcp_client_free(client);
    return rc;
}
