/*
 * call_oauth.c — the --oauth* options of `mcpd call`: they fill the
 * mcp_oauth_opts the HTTP connector authorizes with, load the private key
 * for private_key_jwt, and keep tokens in a file between runs
 * (--oauth-token-file), written with mode 0600 since it holds secrets.
 */
#include "app/call_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILE (64u * 1024u)

static bool is_url_with(const char *s, const char *scheme)
{
    size_t n = strlen(scheme);
    return !strncmp(s, scheme, n) && s[n] && !strpbrk(s, " \t\r\n");
}

int app_call_oauth_option(call_args *a, int argc, char **argv, int i)
{
    const char *arg = argv[i];
    if (strncmp(arg, "--oauth", 7) != 0)
        return 0;
    mcp_oauth_opts *o = &a->oauth;
    if (!strcmp(arg, "--oauth")) {
        a->oauth_on = true;
        return 1;
    }
    if (!strcmp(arg, "--oauth-browser")) {
        a->oauth_on = a->oauth_browser = true;
        return 1;
    }
    if (!strcmp(arg, "--oauth-client-credentials")) {
        a->oauth_on = true;
        o->grant = MCP_OAUTH_CLIENT_CREDENTIALS;
        return 1;
    }
    static const char *const valued[] = {"--oauth-client-id",   "--oauth-client-secret", "--oauth-client-metadata-url",
                                         "--oauth-scope",       "--oauth-redirect-uri",  "--oauth-private-key",
                                         "--oauth-signing-alg", "--oauth-token-file",    "--oauth-jwt-bearer",
                                         "--oauth-idp-token-endpoint", "--oauth-idp-id-token", "--oauth-idp-client-id",
                                         NULL};
    size_t k = 0;
    while (valued[k] && strcmp(valued[k], arg) != 0)
        k++;
    if (!valued[k]) {
        fprintf(stderr, "mcpd call: unknown option '%s' (see mcpd call --help)\n", arg);
        return -1;
    }
    if (i + 1 >= argc || !argv[i + 1][0]) {
        fprintf(stderr, "mcpd call: %s needs a value (see mcpd call --help)\n", arg);
        return -1;
    }
    const char *v = argv[i + 1];
    a->oauth_on = true;
    switch (k) {
    case 0:
        o->client_id = v;
        break;
    case 1:
        o->client_secret = v;
        break;
    case 2:
        if (!is_url_with(v, "https://")) {
            fprintf(stderr, "mcpd call: --oauth-client-metadata-url must be an https:// URL: '%s'\n", v);
            return -1;
        }
        o->client_metadata_url = v;
        break;
    case 3:
        o->scope = v;
        break;
    case 4:
        if (!is_url_with(v, "http://") && !is_url_with(v, "https://")) {
            fprintf(stderr, "mcpd call: --oauth-redirect-uri must be an http:// or https:// URL: '%s'\n", v);
            return -1;
        }
        o->redirect_uri = v;
        break;
    case 5:
        o->private_key_pem = v; /* a file name until app_call_oauth_load reads it */
        break;
    case 6:
        if (strcmp(v, "ES256") != 0 && strcmp(v, "RS256") != 0) {
            fprintf(stderr, "mcpd call: --oauth-signing-alg must be ES256 or RS256, not '%s'\n", v);
            return -1;
        }
        o->signing_alg = v;
        break;
    case 7:
        a->oauth_token_file = v;
        break;
    case 8:
        o->grant = MCP_OAUTH_JWT_BEARER;
        o->assertion = v;
        break;
    case 9:
        if (!is_url_with(v, "http://") && !is_url_with(v, "https://")) {
            fprintf(stderr, "mcpd call: --oauth-idp-token-endpoint must be an http:// or https:// URL: '%s'\n", v);
            return -1;
        }
        o->grant = MCP_OAUTH_JWT_BEARER;
        o->idp_token_endpoint = v;
        break;
    case 10:
        o->idp_id_token = v;
        break;
    default:
        o->idp_client_id = v;
        break;
    }
    return 2;
}

/* The person at the browser is told where to go. */
static void show_url(void *user, const char *url)
{
    (void)user;
    fprintf(stderr, "mcpd call: the server wants authorization. Open this URL in a browser and approve:\n\n  %s\n\n"
                    "mcpd call: waiting for the browser to come back...\n", url);
}

static int authorize_in_browser(void *user, const char *url, const char *redirect_uri, mcp_buf *back)
{
    return mcp_oauth_loopback_authorize(((call_args *)user)->loopback, url, redirect_uri, back);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mcp_buf b;
    mcp_buf_init(&b);
    char chunk[4096];
    size_t n;
    errno = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_FILE)
        mcp_buf_append(&b, chunk, n);
    /* A read error keeps its errno (EISDIR for a directory). */
    int err = ferror(f) ? (errno ? errno : EIO) : b.len > MAX_FILE ? EFBIG : 0;
    fclose(f);
    if (err) {
        mcp_buf_free(&b);
        errno = err;
        return NULL;
    }
    char *text = mcp_buf_detach(&b);
    return text ? text : calloc(1, 1);
}

static void store_tokens(void *user, const mcp_oauth_tokens *tk)
{
    const call_args *a = user;
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "issuer");
    mcp_json_write_cstr(&w, tk->issuer);
    mcp_json_write_key(&w, "client_id");
    mcp_json_write_cstr(&w, tk->client_id);
    mcp_json_write_key(&w, "access_token");
    mcp_json_write_cstr(&w, tk->access_token);
    mcp_json_write_key(&w, "refresh_token");
    mcp_json_write_cstr(&w, tk->refresh_token);
    mcp_json_write_key(&w, "scope");
    mcp_json_write_cstr(&w, tk->scope);
    /* A registered client's secret (the user's own was given, not stored). */
    mcp_json_write_key(&w, "client_secret");
    mcp_json_write_cstr(&w, a->oauth.client_id ? NULL : tk->client_secret);
    mcp_json_end_object(&w);
    mcp_buf_append_char(&out, '\n');
    int fd = open(a->oauth_token_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len)
        fprintf(stderr, "mcpd call: cannot store the token in %s: %s\n", a->oauth_token_file, strerror(errno));
    if (fd >= 0)
        close(fd);
    mcp_buf_free(&out);
}

int app_call_oauth_load(call_args *a)
{
    mcp_oauth_opts *o = &a->oauth;
    if (!a->oauth_on)
        return 0;
    if (strncmp(a->target, "http://", 7) != 0 && strncmp(a->target, "https://", 8) != 0) {
        fputs("mcpd call: --oauth* options apply to http:// and https:// targets only\n", stderr);
        return 2;
    }
    if (o->grant == MCP_OAUTH_CLIENT_CREDENTIALS && (!o->client_id || (!o->client_secret && !o->private_key_pem))) {
        fputs("mcpd call: --oauth-client-credentials needs --oauth-client-id and --oauth-client-secret or "
              "--oauth-private-key\n", stderr);
        return 2;
    }
    if (o->grant == MCP_OAUTH_JWT_BEARER &&
        (!o->client_id || (o->assertion && o->idp_token_endpoint) || (o->idp_token_endpoint && !o->idp_id_token))) {
        fputs("mcpd call: the JWT bearer grant needs --oauth-client-id and either --oauth-jwt-bearer ASSERTION or "
              "--oauth-idp-token-endpoint with --oauth-idp-id-token\n", stderr);
        return 2;
    }
    if ((o->idp_id_token || o->idp_client_id) && !o->idp_token_endpoint) {
        fputs("mcpd call: --oauth-idp-id-token and --oauth-idp-client-id need --oauth-idp-token-endpoint\n", stderr);
        return 2;
    }
    if (o->client_secret && !o->client_id) {
        fputs("mcpd call: --oauth-client-secret needs --oauth-client-id\n", stderr);
        return 2;
    }
    if (o->private_key_pem) {
        const char *path = o->private_key_pem;
        a->oauth_key = read_file(path);
        if (!a->oauth_key || !strstr(a->oauth_key, "PRIVATE KEY-----")) {
            fprintf(stderr, "mcpd call: --oauth-private-key %s: %s\n", path,
                    a->oauth_key ? "not a PEM private key" : strerror(errno));
            return 2;
        }
        o->private_key_pem = a->oauth_key;
    }
    if (a->oauth_browser) {
        if (o->grant != MCP_OAUTH_AUTHORIZATION_CODE) {
            fputs("mcpd call: --oauth-browser is for the authorization code grant (a person approves)\n", stderr);
            return 2;
        }
        char why[256];
        if (mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.redirect_uri = o->redirect_uri, .show = show_url},
                                    &a->loopback, why, sizeof why) != 0) {
            fprintf(stderr, "mcpd call: --oauth-browser: %s\n", why);
            return 2;
        }
        o->redirect_uri = mcp_oauth_loopback_uri(a->loopback);
        o->authorize = authorize_in_browser;
        o->user = a;
    }
    if (a->oauth_token_file) {
        char *text = read_file(a->oauth_token_file);
        if (text) {
            mcp_arena arena;
            mcp_arena_init(&arena, 0);
            mcp_json *doc = NULL;
            if (mcp_json_parse(&arena, text, strlen(text), NULL, &doc, NULL) != 0 || !mcp_json_is_object(doc)) {
                fprintf(stderr, "mcpd call: --oauth-token-file %s is not a JSON object; ignoring it\n",
                        a->oauth_token_file);
            } else {
                const char *keys[5] = {"access_token", "refresh_token", "issuer", "client_id", "client_secret"};
                for (int k = 0; k < 5; k++) {
                    const char *v = mcp_json_str(mcp_json_get(doc, keys[k]), NULL);
                    if (v && *v && !strpbrk(v, "\r\n"))
                        a->oauth_stored[k] = strdup(v);
                }
                o->access_token = a->oauth_stored[0];
                o->refresh_token = a->oauth_stored[1];
                /* The client registered on an earlier run, for the same server. */
                if (!o->client_id) {
                    o->registered_issuer = a->oauth_stored[2];
                    o->registered_client_id = a->oauth_stored[3];
                    o->registered_client_secret = a->oauth_stored[4];
                }
            }
            mcp_arena_free(&arena);
            free(text);
        } else if (errno != ENOENT) {
            fprintf(stderr, "mcpd call: --oauth-token-file %s: %s\n", a->oauth_token_file, strerror(errno));
            return 2;
        }
        o->on_tokens = store_tokens;
        o->user = a;
    }
    return 0;
}

void app_call_oauth_free(call_args *a)
{
    mcp_oauth_loopback_close(a->loopback);
    a->loopback = NULL;
    free(a->oauth_key);
    for (size_t k = 0; k < sizeof a->oauth_stored / sizeof a->oauth_stored[0]; k++) {
        free(a->oauth_stored[k]);
        a->oauth_stored[k] = NULL;
    }
    a->oauth_key = NULL;
}
