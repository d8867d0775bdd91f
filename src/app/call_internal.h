/*
 * app/call_internal.h — the pieces of `mcpd call`, one concern a file:
 * call.c (connect, negotiate, run the request, retry a refused version),
 * call_args.c (usage and options), call_oauth.c (the --oauth-* options and
 * the token file), call_target.c (stdio:, tcp://, http(s)://, ws://
 * targets), call_answers.c (answers to the server's questions,
 * notifications) and call_print.c (JSON output and failure reports).
 */
#ifndef MCP_APP_CALL_INTERNAL_H
#define MCP_APP_CALL_INTERNAL_H

#include "app/serve_obs.h"
#include "mcp/client.h"

#include <stdio.h>

#define APP_CALL_DEFAULT_TIMEOUT_MS 30000u
#define APP_CALL_DEFAULT_CONNECT_TIMEOUT_MS 10000u

typedef struct call_args {
    app_serve_obs_config obs;     /* --otlp-endpoint, --otlp-header, --trace-sample, --log-format */
    const mcp_observer *observer;
    const char *target;
    const char *method;
    const char *params;
    const char *protocol;
    unsigned timeout_ms;
    unsigned connect_timeout_ms;
    const char *tls_ca_file;      /* --cacert: trust these CAs instead of the system store */
    const char *tls_server_name;  /* --tls-server-name: the name to verify instead of the host */
    bool tls_insecure;            /* --insecure: no certificate or name check */
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
    bool oauth_on;                /* any --oauth* option: authorize when an HTTP server asks */
    mcp_oauth_opts oauth;
    char *oauth_key;              /* --oauth-private-key's PEM text (malloc'd) */
    const char *oauth_token_file; /* read at start, rewritten on each new token */
    char *oauth_stored[5];        /* access and refresh token, issuer, client id and secret read
                                     from that file (malloc'd) */
    bool oauth_browser;           /* --oauth-browser: a person authorizes; the redirect comes back to us */
    mcp_oauth_loopback *loopback;
} call_args;

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

/* call_args.c: -1 to go on, else the exit status (0 after --help). */
void app_call_usage(FILE *out);
int app_call_parse_args(int argc, char **argv, call_args *a);

/* call_oauth.c: an --oauth* option at argv[i]: how many arguments it used
 * (0: not one of them), or -1 after printing why it is wrong. */
int app_call_oauth_option(call_args *a, int argc, char **argv, int i);
/* Load what the options name (key file, token file); 0 or exit status 2. */
int app_call_oauth_load(call_args *a);
void app_call_oauth_free(call_args *a);

/* call_target.c: a transport for a->target, or exit status 2 (said why). */
int app_call_open_target(const call_args *a, bool http_get_stream, mcp_client_transport **t);
/* The target is Streamable HTTP (http:// or https://). */
bool app_call_target_is_http(const call_args *a);

/* call_answers.c */
void app_call_answer_sampling(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer);
void app_call_answer_elicitation(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer);
void app_call_answer_roots(void *user, const char *method, const mcp_json *params, mcp_client_answer *answer);
int app_call_build_roots(const char *list, mcp_buf *out);
void app_call_on_notification(void *user, const char *method, const mcp_json *params);

/* call_print.c */
int app_call_print_json(FILE *to, const char *text, size_t len, bool compact);
void app_call_show_progress(void *user, double progress, double total, const char *message);
/* Say why a request failed; the exit status (1: the server's error, 2: else). */
int app_call_report_failure(const char *what, int status, const mcp_client_result *r, unsigned timeout_ms);

#endif
