/*
 * call_args.c — the command line of `mcpd call`: usage, options and their
 * checks (a value that is wrong is refused here, with the option named,
 * before anything is connected).
 */
#include "app/call_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void app_call_usage(FILE *out)
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
          "  tcps://HOST:PORT          the same over TLS (mcpd serve --tcp with --tls-cert)\n"
          "  http[s]://HOST:PORT/PATH  Streamable HTTP, either era: POST per message, JSON or\n"
          "                            SSE answers, the session kept and DELETEd at the end;\n"
          "                            a GET stream carries what the server sends on its own\n"
          "  ws[s]://HOST:PORT/PATH    WebSocket, either era: one JSON-RPC message per text\n"
          "                            frame, subprotocol \"mcp\" (PATH defaults to /mcp)\n"
          "  TLS targets (tcps, https, wss) verify the server's certificate against the\n"
          "  system's trust store and its name against HOST unless told otherwise below.\n"
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
          "  --cacert FILE        TLS: trust the CA certificates in this PEM file instead of\n"
          "                       the system's store (e.g. a server's self-signed certificate)\n"
          "  --tls-server-name NAME  TLS: verify (and send as SNI) NAME instead of HOST\n"
          "  --insecure           TLS: accept any certificate for any name. The connection\n"
          "                       is encrypted but the server is not authenticated\n"
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
          "  --task               call the tool (METHOD tools/call) as a task: poll tasks/get\n"
          "                       until it ends and print its result (2025-11-25: tasks/result;\n"
          "                       2026-07-28: the tasks extension, questions answered with\n"
          "                       tasks/update). --timeout bounds the whole wait.\n"
          "  --task-ttl MS        the task's requested ttl, 2025-11-25 only (default: the\n"
          "                       server's choice)\n"
          "\n"
          "authorization (HTTP targets; OAuth 2.1 as the MCP specification describes):\n"
          "  --oauth              when the server answers 401, discover its authorization\n"
          "                       server, register (or use the client below), authorize with\n"
          "                       PKCE and retry with the token (any --oauth-* option implies it).\n"
          "                       The authorization URL is requested by mcpd itself and the\n"
          "                       redirect read from its answer: for servers that approve\n"
          "                       without a person at a browser\n"
          "  --oauth-browser      a person approves: mcpd call prints the authorization URL\n"
          "                       and waits (up to 5 minutes) for the browser's redirect on\n"
          "                       127.0.0.1 (the port of --oauth-redirect-uri, else any free one)\n"
          "  --oauth-client-id ID, --oauth-client-secret SECRET\n"
          "                       a pre-registered client (no dynamic registration)\n"
          "  --oauth-client-metadata-url URL\n"
          "                       an https URL of our client ID metadata document, used as\n"
          "                       client_id where the server supports them\n"
          "  --oauth-scope SCOPES ask for these (space separated) instead of the server's choice\n"
          "  --oauth-redirect-uri URI  (default http://127.0.0.1/callback)\n"
          "  --oauth-client-credentials  the client credentials grant (machine to machine) with\n"
          "                       --oauth-client-id and a secret or --oauth-private-key\n"
          "  --oauth-private-key FILE  PEM key for private_key_jwt client assertions\n"
          "  --oauth-signing-alg ALG   ES256 or RS256 (default: by the key)\n"
          "  --oauth-jwt-bearer JWT    the JWT bearer grant (RFC 7523) with this assertion, e.g. a\n"
          "                       workload identity token, for --oauth-client-id\n"
          "  --oauth-idp-token-endpoint URL, --oauth-idp-id-token TOKEN, --oauth-idp-client-id ID\n"
          "                       enterprise-managed authorization: exchange the ID token at\n"
          "                       the identity provider for an ID-JAG (RFC 8693), then present\n"
          "                       it with the JWT bearer grant\n"
          "  --oauth-token-file FILE   start with the tokens stored there; store each new one\n"
          "\n"
          "tracing:\n"
          "  --otlp-endpoint URL  a client span per request, exported over OTLP/HTTP;\n"
          "                       its traceparent goes to the server in params._meta\n"
          "  --otlp-header K=V    extra header on every export (repeatable)\n"
          "  --otlp-protocol P    http/json (default) or http/protobuf\n"
          "  --trace-sample S     always, never, parent (default) or a ratio in [0, 1]\n"
          "  --log-format FORMAT  text (default) or json (stderr lines with trace ids)\n"
          "  OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _PROTOCOL, _TIMEOUT,\n"
          "  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG],\n"
          "  OTEL_BSP_*: read first, the options win; an endpoint turns tracing on\n"
          "  unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none\n"
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

int app_call_parse_args(int argc, char **argv, call_args *a)
{
    const char *positional[3];
    int npos = 0;
    bool options_done = false;
    a->timeout_ms = APP_CALL_DEFAULT_TIMEOUT_MS;
    a->connect_timeout_ms = APP_CALL_DEFAULT_CONNECT_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int used;
        if (!options_done && arg[0] == '-' && arg[1] == '-' && arg[2] == '\0') {
            options_done = true;
        } else if (!options_done && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
            app_call_usage(stdout);
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
                int bad = app_call_build_roots(v, &probe);
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
        } else if (!options_done && !strcmp(arg, "--insecure")) {
            a->tls_insecure = true;
        } else if (!options_done && (!strcmp(arg, "--cacert") || !strcmp(arg, "--tls-server-name"))) {
            if (++i == argc || !argv[i][0]) {
                fprintf(stderr, "mcpd call: %s needs a value\n", arg);
                return 2;
            }
            if (!strcmp(arg, "--cacert"))
                a->tls_ca_file = argv[i];
            else
                a->tls_server_name = argv[i];
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
        } else if (!options_done && (used = app_call_oauth_option(a, argc, argv, i)) != 0) {
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
        app_call_usage(stderr);
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
