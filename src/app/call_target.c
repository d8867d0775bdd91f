/*
 * call_target.c — the TARGET of `mcpd call` as a transport: a spawned
 * stdio server (its command line split into words by the rules in the
 * usage), TCP, Streamable HTTP (with the OAuth client when --oauth* was
 * given) or WebSocket; the network ones plain or over TLS (tcps://,
 * https://, wss://) with --cacert, --tls-server-name and --insecure.
 */
#include "app/call_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STDIO_ARGS 256

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

bool app_call_target_is_http(const call_args *a)
{
    return !strncmp(a->target, "http://", 7) || !strncmp(a->target, "https://", 8);
}

int app_call_open_target(const call_args *a, bool http_get_stream, mcp_client_transport **t)
{
    const char *target = a->target;
    /* Every network target gets the same timeout and TLS settings. */
    mcp_connect_opts opts = {.connect_timeout_ms = a->connect_timeout_ms,
                             .tls_ca_file = a->tls_ca_file,
                             .tls_server_name = a->tls_server_name,
                             .tls_insecure = a->tls_insecure};
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
    if (app_call_target_is_http(a)) {
        opts.http_get_stream = http_get_stream;
        opts.oauth = a->oauth_on ? &a->oauth : NULL;
        int rc = mcp_connect_http(target, &opts, t);
        /* A refused certificate or CA file was logged with its reason. */
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target,
                    rc == MCP_EINVAL  ? "expected http://HOST:PORT/PATH or https://HOST:PORT/PATH (or an unusable --cacert)"
                    : rc == MCP_EPROTO ? "the TLS handshake failed (see above)"
                    : rc == MCP_EIO    ? strerror(errno)
                                       : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    if (!strncmp(target, "tcp://", 6)) {
        int rc = mcp_connect_tcp(target + 6, &opts, t);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target + 6,
                    rc == MCP_EINVAL ? "expected tcp://HOST:PORT"
                    : rc == MCP_EIO  ? strerror(errno)
                                     : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    if (!strncmp(target, "tcps://", 7) || !strncmp(target, "ws://", 5) || !strncmp(target, "wss://", 6)) {
        char why[256] = "";
        int rc = target[0] == 't' ? mcp_connect_tcp_tls(target + 7, &opts, t, why, sizeof why)
                                  : mcp_connect_ws(target, &opts, t, why, sizeof why);
        if (rc != 0)
            fprintf(stderr, "mcpd call: cannot connect to %s: %s\n", target,
                    why[0]          ? why
                    : rc == MCP_EIO ? strerror(errno)
                                    : mcp_strerror(rc));
        return rc == 0 ? 0 : 2;
    }
    fprintf(stderr, "mcpd call: unknown target '%s' (expected stdio:COMMAND, tcp[s]://HOST:PORT, "
                    "http[s]://HOST:PORT/PATH or ws[s]://HOST:PORT/PATH)\n", target);
    return 2;
}
