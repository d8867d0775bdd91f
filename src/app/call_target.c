/*
 * call_target.c — the TARGET of `mcpd call` as a transport: a spawned
 * stdio server (its command line split into words by the rules in the
 * usage), TCP, Streamable HTTP (with the OAuth client when --oauth* was
 * given) or WebSocket.
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

int app_call_open_target(const call_args *a, bool http_get_stream, mcp_client_transport **t)
{
    const char *target = a->target;
    unsigned connect_timeout_ms = a->connect_timeout_ms;
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
                                                      .http_get_stream = http_get_stream,
                                                      .oauth = a->oauth_on ? &a->oauth : NULL},
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
