/*
 * oauth_flow.c — what the connector does when the server says 401 (or 403
 * insufficient_scope): find the authorization server, know who we are to
 * it, get a token, and say whether to send the request again.
 *
 * The client identity belongs to one authorization server: registered
 * credentials are dropped when the resource moves to another issuer, since
 * a client_id from one server means nothing (or something else) to the
 * next. A pre-registered client or a client ID metadata document URL is
 * the user's and is kept.
 *
 * Scopes follow the MCP specification's choice: the challenge's scope,
 * else everything the resource metadata lists, else none; a step-up (403
 * insufficient_scope) asks for the union of what was asked before and what
 * the challenge wants, so earlier grants are not lost. offline_access is
 * added only where the authorization server lists it.
 *
 * A bounded number of authorizations in a row without one request that
 * succeeds: a server that never accepts what it is given ends the loop.
 * A refusal by a server (a resource for someone else, a foreign issuer, an
 * error from the token endpoint, the bound reached) is final for the
 * client: later challenges get the same answer without asking again, so
 * one refusal is not repeated for every request that follows. A DPoP
 * nonce challenge (RFC 9449 9) only updates the nonce.
 */
#include "net/client_http_internal.h"
#include "net/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_ATTEMPTS 3u
#define DEFAULT_REDIRECT_URI "http://127.0.0.1/callback"

char *mcp_oauth_str_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (c)
        memcpy(c, s, n + 1);
    return c;
}

void mcp_oauth_str_set(char **slot, const char *s)
{
    free(*slot);
    *slot = mcp_oauth_str_dup(s);
}

mcp_oauth *mcp_oauth_new(const mcp_oauth_opts *opts, const char *server_url, const mcp_connect_opts *connect)
{
    mcp_oauth *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->opts = *opts;
    const char **fields[] = {&o->opts.client_id,       &o->opts.client_secret, &o->opts.client_metadata_url,
                             &o->opts.client_name,     &o->opts.redirect_uri,  &o->opts.scope,
                             &o->opts.private_key_pem, &o->opts.signing_alg,   &o->opts.access_token,
                             &o->opts.refresh_token,   &o->opts.assertion,     &o->opts.idp_token_endpoint,
                             &o->opts.idp_id_token,    &o->opts.idp_client_id, &o->opts.registered_issuer,
                             &o->opts.registered_client_id, &o->opts.registered_client_secret};
    _Static_assert(sizeof fields / sizeof fields[0] <= sizeof o->owned / sizeof o->owned[0],
                   "a slot for each option string");
    bool ok = true;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!*fields[i])
            continue;
        o->owned[i] = mcp_oauth_str_dup(*fields[i]);
        ok = ok && o->owned[i];
        *fields[i] = o->owned[i];
    }
    o->server_url = mcp_oauth_str_dup(server_url);
    mcp_oauth_net_init(&o->net, connect, connect ? connect->connect_timeout_ms : 0);
    /* A stored token that would break its header line counts as none. */
    if (opts->access_token && !strpbrk(opts->access_token, "\r\n"))
        o->token = mcp_oauth_str_dup(opts->access_token);
    o->refresh = mcp_oauth_str_dup(opts->refresh_token);
    mcp_buf_init(&o->scope);
    if (!ok || !o->server_url) {
        mcp_oauth_free(o);
        return NULL;
    }
    return o;
}

void mcp_oauth_free(mcp_oauth *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < sizeof o->owned / sizeof o->owned[0]; i++)
        free(o->owned[i]);
    free(o->server_url);
    free(o->token);
    free(o->refresh);
    mcp_buf_free(&o->scope);
    mcp_oauth_server_free(&o->as);
    free(o->resource);
    free(o->client_id);
    free(o->client_secret);
    free(o->nonce_as);
    free(o->nonce_rs);
    mcp_oauth_dpop_free(o->dpop);
    mcp_oauth_net_free(&o->net);
    free(o);
}

const char *mcp_oauth_token(const mcp_oauth *o)
{
    return o ? o->token : NULL;
}

void mcp_oauth_on_success(mcp_oauth *o)
{
    if (o) {
        o->attempts = 0;
        o->nonce_retries = 0;
    }
}

int mcp_oauth_headers_append(mcp_oauth *o, const char *method, mcp_buf *out)
{
    if (!o || !o->token)
        return 0;
    if (!o->token_dpop) {
        mcp_buf_appendf(out, "Authorization: Bearer %s\r\n", o->token);
        return 0;
    }
    mcp_buf_appendf(out, "Authorization: DPoP %s\r\nDPoP: ", o->token);
    int rc = mcp_oauth_dpop_proof(o->dpop, method, o->server_url, o->token, o->nonce_rs, out);
    mcp_buf_append_cstr(out, "\r\n");
    return rc;
}

/* ---- Client identity ------------------------------------------------------------------- */

/* The token endpoint authentication for a client with (or without) a
 * secret, among what the server lists (RFC 8414: client_secret_basic when
 * it lists nothing). */
unsigned mcp_oauth_method_pick(const mcp_oauth_server *as, bool secret)
{
    unsigned listed = as->auth_methods ? as->auth_methods : MCP_OAUTH_AUTH_BASIC;
    if (secret) {
        if (listed & MCP_OAUTH_AUTH_BASIC)
            return MCP_OAUTH_AUTH_BASIC;
        if (listed & MCP_OAUTH_AUTH_POST)
            return MCP_OAUTH_AUTH_POST;
    }
    return listed & MCP_OAUTH_AUTH_NONE ? MCP_OAUTH_AUTH_NONE : 0;
}

unsigned mcp_oauth_method_named(const char *s)
{
    return !s                                   ? 0
           : !strcmp(s, "none")                 ? MCP_OAUTH_AUTH_NONE
           : !strcmp(s, "client_secret_basic")  ? MCP_OAUTH_AUTH_BASIC
           : !strcmp(s, "client_secret_post")   ? MCP_OAUTH_AUTH_POST
           : !strcmp(s, "private_key_jwt")      ? MCP_OAUTH_AUTH_PRIVATE_KEY_JWT
                                                : 0;
}

static const char *method_name(unsigned m)
{
    return m == MCP_OAUTH_AUTH_BASIC ? "client_secret_basic"
           : m == MCP_OAUTH_AUTH_POST ? "client_secret_post"
                                      : "none";
}

/* RFC 7591 dynamic registration as a native public client (PKCE protects
 * its codes), unless the server only takes confidential ones. */

static int register_client(mcp_oauth *o, const char *redirect_uri, char *why, size_t why_size)
{
    unsigned listed = o->as.auth_methods;
    unsigned ask = !listed || (listed & MCP_OAUTH_AUTH_NONE) ? MCP_OAUTH_AUTH_NONE
                   : listed & MCP_OAUTH_AUTH_BASIC          ? MCP_OAUTH_AUTH_BASIC
                                                            : MCP_OAUTH_AUTH_POST;
    mcp_buf body;
    mcp_buf_init(&body);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &body);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "client_name");
    mcp_json_write_cstr(&w, o->opts.client_name ? o->opts.client_name : "mcpd");
    mcp_json_write_key(&w, "redirect_uris");
    mcp_json_begin_array(&w);
    mcp_json_write_cstr(&w, redirect_uri);
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "grant_types");
    mcp_json_begin_array(&w);
    mcp_json_write_cstr(&w, "authorization_code");
    mcp_json_write_cstr(&w, "refresh_token");
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "response_types");
    mcp_json_begin_array(&w);
    mcp_json_write_cstr(&w, "code");
    mcp_json_end_array(&w);
    mcp_json_write_key(&w, "token_endpoint_auth_method");
    mcp_json_write_cstr(&w, method_name(ask));
    mcp_json_write_key(&w, "application_type");
    mcp_json_write_cstr(&w, "native");
    mcp_json_end_object(&w);
    mcp_oauth_reply reply;
    int rc = mcp_oauth_http(&o->net, "POST", o->as.registration_endpoint, NULL, "application/json", body.data,
                            body.len, &reply);
    mcp_buf_free(&body);
    mcp_oauth_answer a;
    rc = mcp_oauth_answer_read(rc, &reply, "the registration endpoint", o->as.registration_endpoint, &a, why,
                               why_size);
    if (rc != 0)
        return rc;
    const mcp_json *doc = a.doc;
    const char *id = mcp_json_str(mcp_json_get(doc, "client_id"), NULL);
    if ((a.reply.status != 200 && a.reply.status != 201) || !id || !*id) {
        snprintf(why, why_size, "dynamic client registration at %s failed: HTTP %d%s%s", o->as.registration_endpoint,
                 a.reply.status, a.error ? ": " : "", a.error ? a.error : "");
        rc = MCP_EPROTO;
    } else {
        const char *secret = mcp_json_str(mcp_json_get(doc, "client_secret"), NULL);
        mcp_oauth_str_set(&o->client_id, id);
        mcp_oauth_str_set(&o->client_secret, secret && *secret ? secret : NULL);
        unsigned got = mcp_oauth_method_named(mcp_json_str(mcp_json_get(doc, "token_endpoint_auth_method"), NULL));
        o->client_method = got && (got == MCP_OAUTH_AUTH_NONE || o->client_secret) ? got
                                                                                  : mcp_oauth_method_pick(&o->as, o->client_secret);
        if (!o->client_method && o->client_secret)
            o->client_method = MCP_OAUTH_AUTH_BASIC;
        if (!o->client_method)
            o->client_method = MCP_OAUTH_AUTH_NONE;
        rc = o->client_id ? 0 : MCP_ENOMEM;
    }
    mcp_oauth_answer_free(&a);
    return rc;
}

/* Who we are to this authorization server: a pre-registered client, a
 * client ID metadata document, or a fresh registration. */
/* A client registered with this very authorization server on an earlier run. */
static bool registered_here(const mcp_oauth *o)
{
    return o->opts.registered_client_id && o->opts.registered_issuer && o->as.issuer &&
           !strcmp(o->opts.registered_issuer, o->as.issuer);
}

static int ensure_client(mcp_oauth *o, const char *redirect_uri, char *why, size_t why_size)
{
    if (o->client_id)
        return 0;
    if (o->opts.client_id) {
        mcp_oauth_str_set(&o->client_id, o->opts.client_id);
        mcp_oauth_str_set(&o->client_secret, o->opts.client_secret);
        o->client_method = mcp_oauth_method_pick(&o->as, o->client_secret != NULL);
        if (!o->client_method) {
            snprintf(why, why_size, "the authorization server takes none of the client authentication methods "
                                    "possible for client %s%s", o->client_id,
                     o->client_secret ? "" : " (it needs a client secret)");
            return MCP_EUNSUPPORTED;
        }
        return o->client_id ? 0 : MCP_ENOMEM;
    }
    if (o->opts.client_metadata_url && o->as.cimd_supported) {
        mcp_oauth_str_set(&o->client_id, o->opts.client_metadata_url);
        o->client_method = MCP_OAUTH_AUTH_NONE;
        return o->client_id ? 0 : MCP_ENOMEM;
    }
    if (registered_here(o)) {
        mcp_oauth_str_set(&o->client_id, o->opts.registered_client_id);
        mcp_oauth_str_set(&o->client_secret, o->opts.registered_client_secret);
        o->client_method = mcp_oauth_method_pick(&o->as, o->client_secret != NULL);
        if (o->client_method)
            return o->client_id ? 0 : MCP_ENOMEM;
        /* The server's methods changed since: register anew. */
        free(o->client_id);
        free(o->client_secret);
        o->client_id = o->client_secret = NULL;
    }
    if (o->as.registration_endpoint)
        return register_client(o, redirect_uri, why, why_size);
    snprintf(why, why_size, "the authorization server offers no dynamic registration%s and no client id was given",
             o->opts.client_metadata_url ? " or client ID metadata documents" : "");
    return MCP_EUNSUPPORTED;
}


/* ---- Authorization code grant ------------------------------------------------------------ */

/* The user-agent step: the URL the authorization server sent us back to. */
static int user_agent(mcp_oauth *o, const char *url, const char *redirect_uri, mcp_buf *back, char *why,
                      size_t why_size)
{
    if (o->opts.authorize) {
        int rc = o->opts.authorize(o->opts.user, url, redirect_uri, back);
        if (rc != 0)
            snprintf(why, why_size, "the authorization step failed: %s", mcp_strerror(rc));
        return rc;
    }
    mcp_oauth_reply reply;
    int rc = mcp_oauth_http(&o->net, "GET", url, NULL, NULL, NULL, 0, &reply);
    if (rc != 0) {
        snprintf(why, why_size, "the authorization endpoint could not be reached: %s", mcp_strerror(rc));
    } else if (reply.status >= 200 && reply.status < 300) {
        /* A page to log in or approve on. */
        snprintf(why, why_size,
                 "the authorization endpoint answered HTTP %d with a page instead of a redirect: it needs a person "
                 "at a browser (an authorize callback; mcpd call --oauth-browser)",
                 reply.status);
        rc = MCP_EUNSUPPORTED;
    } else if (reply.status < 300 || reply.status > 399 ||
               !mcp_oauth_head_value(reply.head.data, reply.head.len, "Location", back)) {
        snprintf(why, why_size, "the authorization endpoint %.200s answered HTTP %d, not a redirect", url,
                 reply.status);
        rc = MCP_EPROTO;
    }
    mcp_oauth_reply_free(&reply);
    return rc;
}

/* Read the redirect: state, iss (RFC 9207), error or code. */
static int read_redirect(mcp_oauth *o, const char *back, const char *redirect_uri, const char *state, mcp_buf *code,
                         char *why, size_t why_size)
{
    size_t base = strcspn(redirect_uri, "?#");
    if (strncmp(back, redirect_uri, base) != 0 || (back[base] != '?' && back[base] != '#' && back[base] != '\0')) {
        snprintf(why, why_size, "the authorization server redirected to '%.200s', not to our redirect URI", back);
        return MCP_EPROTO;
    }
    mcp_buf v;
    mcp_buf_init(&v);
    int rc = 0;
    if (mcp_oauth_query_param(back, "error", &v, NULL)) {
        mcp_buf desc;
        mcp_buf_init(&desc);
        bool has_desc = mcp_oauth_query_param(back, "error_description", &desc, NULL);
        snprintf(why, why_size, "the authorization server refused: %.100s%s%.200s", v.data, has_desc ? " — " : "",
                 has_desc ? desc.data : "");
        mcp_buf_free(&desc);
        rc = MCP_EPROTO;
    } else if (!mcp_oauth_query_param(back, "state", &v, NULL) || strcmp(v.data, state) != 0) {
        snprintf(why, why_size, "the authorization response's state does not match the request's");
        rc = MCP_EPROTO;
    } else if (mcp_oauth_query_param(back, "iss", &v, NULL)) {
        /* RFC 9207 2.4: simple string comparison, whether advertised or not. */
        if (!o->as.issuer || strcmp(v.data, o->as.issuer) != 0) {
            snprintf(why, why_size, "the authorization response comes from issuer '%.200s', not '%.200s' (RFC 9207)",
                     v.data, o->as.issuer ? o->as.issuer : "(unknown)");
            rc = MCP_EPROTO;
        }
    } else if (o->as.iss_supported) {
        snprintf(why, why_size, "the authorization server promised an iss parameter (RFC 9207) and sent none");
        rc = MCP_EPROTO;
    }
    if (rc == 0 && (!mcp_oauth_query_param(back, "code", code, NULL) || !code->len)) {
        snprintf(why, why_size, "the authorization response carries no code");
        rc = MCP_EPROTO;
    }
    mcp_buf_free(&v);
    return rc;
}

static int authorization_code(mcp_oauth *o, char *why, size_t why_size)
{
    const char *redirect_uri = o->opts.redirect_uri ? o->opts.redirect_uri : DEFAULT_REDIRECT_URI;
    if (!o->as.pkce_s256) {
        snprintf(why, why_size, "the authorization server does not list PKCE S256 in code_challenge_methods_supported: "
                                "refusing to authorize without it");
        return MCP_EUNSUPPORTED;
    }
    int rc = ensure_client(o, redirect_uri, why, why_size);
    if (rc != 0)
        return rc;
    mcp_buf verifier, challenge, state, url, back, code;
    mcp_buf_init(&verifier);
    mcp_buf_init(&challenge);
    mcp_buf_init(&state);
    mcp_buf_init(&url);
    mcp_buf_init(&back);
    mcp_buf_init(&code);
    rc = mcp_oauth_random(&verifier, 32);
    if (rc == 0)
        rc = mcp_oauth_pkce_challenge(verifier.data, &challenge);
    if (rc == 0)
        rc = mcp_oauth_random(&state, 16);
    if (rc == 0) {
        mcp_buf_append_cstr(&url, o->as.authorization_endpoint);
        mcp_buf_append_char(&url, strchr(o->as.authorization_endpoint, '?') ? '&' : '?');
        mcp_oauth_form_add(&url, "response_type", "code");
        mcp_oauth_form_add(&url, "client_id", o->client_id);
        mcp_oauth_form_add(&url, "redirect_uri", redirect_uri);
        mcp_oauth_form_add(&url, "code_challenge", challenge.data);
        mcp_oauth_form_add(&url, "code_challenge_method", "S256");
        mcp_oauth_form_add(&url, "state", state.data);
        if (o->scope.len)
            mcp_oauth_form_add(&url, "scope", o->scope.data);
        if (o->resource)
            mcp_oauth_form_add(&url, "resource", o->resource);
        rc = user_agent(o, url.data, redirect_uri, &back, why, why_size);
    }
    if (rc == 0)
        rc = read_redirect(o, back.data ? back.data : "", redirect_uri, state.data, &code, why, why_size);
    if (rc == 0) {
        mcp_buf form;
        mcp_buf_init(&form);
        mcp_oauth_form_add(&form, "grant_type", "authorization_code");
        mcp_oauth_form_add(&form, "code", code.data);
        mcp_oauth_form_add(&form, "redirect_uri", redirect_uri);
        mcp_oauth_form_add(&form, "code_verifier", verifier.data);
        if (o->resource)
            mcp_oauth_form_add(&form, "resource", o->resource);
        rc = mcp_oauth_token_request(o, &form, why, why_size);
        mcp_buf_free(&form);
    }
    mcp_buf_free(&verifier);
    mcp_buf_free(&challenge);
    mcp_buf_free(&state);
    mcp_buf_free(&url);
    mcp_buf_free(&back);
    mcp_buf_free(&code);
    return rc;
}


/* ---- The challenge --------------------------------------------------------------------------- */

/* Resource and authorization server, fresh: either may have changed. */
static int discover(mcp_oauth *o, const mcp_oauth_challenge *ch, mcp_oauth_resource *prm, char *why, size_t why_size)
{
    int rc = mcp_oauth_discover_resource(&o->net, o->server_url, ch->resource_metadata, prm, why, why_size);
    if (rc != 0)
        return rc;
    mcp_oauth_server as;
    rc = prm->resource ? mcp_oauth_discover_server(&o->net, prm->authorization_server, &as, why, why_size)
                       : mcp_oauth_discover_legacy(&o->net, o->server_url, &as, why, why_size);
    if (rc != 0)
        return rc;
    /* The first discovery keeps what the user gave (a stored refresh token). */
    bool moved = o->have_as && (!o->as.issuer != !as.issuer || (as.issuer && strcmp(as.issuer, o->as.issuer) != 0) ||
                                strcmp(as.token_endpoint, o->as.token_endpoint) != 0);
    if (moved) {
        /* Credentials are bound to the server that issued them. */
        free(o->client_id);
        free(o->client_secret);
        free(o->refresh);
        o->client_id = o->client_secret = o->refresh = NULL;
        o->client_method = 0;
    }
    mcp_oauth_server_free(&o->as);
    o->as = as;
    o->have_as = true;
    /* RFC 8707: the resource exactly as the metadata publishes it. */
    mcp_oauth_str_set(&o->resource, prm->resource ? prm->resource : o->server_url);
    if (!prm->resource && o->resource)
        o->resource[strcspn(o->resource, "#")] = '\0';
    return o->resource ? 0 : MCP_ENOMEM;
}

static void choose_scope(mcp_oauth *o, const mcp_oauth_challenge *ch, const mcp_oauth_resource *prm, bool step_up)
{
    mcp_buf previous = o->scope;
    mcp_buf_init(&o->scope);
    if (o->opts.scope) {
        mcp_oauth_scope_union(&o->scope, o->opts.scope);
    } else if (ch->scope[0]) {
        if (step_up)
            mcp_oauth_scope_union(&o->scope, previous.len ? previous.data : NULL);
        mcp_oauth_scope_union(&o->scope, ch->scope);
    } else if (prm->scopes_supported) {
        mcp_oauth_scope_union(&o->scope, prm->scopes_supported);
    } else if (step_up) {
        mcp_oauth_scope_union(&o->scope, previous.len ? previous.data : NULL);
    }
    /* A refresh token where the server offers them (SEP-2207). */
    if (o->opts.grant == MCP_OAUTH_AUTHORIZATION_CODE && o->scope.len &&
        mcp_oauth_scope_has(o->as.scopes_supported, "offline_access"))
        mcp_oauth_scope_union(&o->scope, "offline_access");
    mcp_buf_free(&previous);
}

/* Whether a failure is the servers' answer (asking again would repeat it)
 * rather than a network fault that may pass. */
static bool is_final(int rc)
{
    return rc == MCP_EPROTO || rc == MCP_EUNSUPPORTED || rc == MCP_EINVAL || rc == MCP_ELIMIT;
}

/* One authorization for a challenge whose scheme and step-up were checked. */
static int authorize(mcp_oauth *o, const mcp_oauth_challenge *ch, bool step_up, char *why, size_t why_size)
{
    unsigned max = o->opts.max_attempts ? o->opts.max_attempts : DEFAULT_MAX_ATTEMPTS;
    if (o->attempts >= max) {
        snprintf(why, why_size, "gave up after %u authorizations in a row that the server did not accept", o->attempts);
        return MCP_ELIMIT;
    }
    bool first = o->attempts == 0;
    o->attempts++;
    mcp_oauth_resource prm;
    int rc = discover(o, ch, &prm, why, why_size);
    /* An expired token: a refresh costs one request and no person (and is
     * dropped when the resource moved to another server). */
    if (rc == 0 && first && !step_up && o->refresh && o->opts.grant == MCP_OAUTH_AUTHORIZATION_CODE) {
        /* Only a client we know (registering anew would make another one). */
        if (o->client_id || o->opts.client_id || (o->opts.client_metadata_url && o->as.cimd_supported) ||
            registered_here(o)) {
            if (!o->client_id)
                ensure_client(o, o->opts.redirect_uri ? o->opts.redirect_uri : DEFAULT_REDIRECT_URI, why, why_size);
            if (o->client_id && mcp_oauth_refresh(o, why, why_size) == 0) {
                mcp_oauth_resource_free(&prm);
                return 0;
            }
        }
        free(o->refresh);
        o->refresh = NULL;
    }
    if (rc == 0) {
        choose_scope(o, ch, &prm, step_up);
        rc = o->opts.grant == MCP_OAUTH_CLIENT_CREDENTIALS ? mcp_oauth_client_credentials(o, why, why_size)
             : o->opts.grant == MCP_OAUTH_JWT_BEARER       ? mcp_oauth_jwt_bearer(o, why, why_size)
                                                           : authorization_code(o, why, why_size);
    }
    mcp_oauth_resource_free(&prm);
    return rc;
}

#define MAX_NONCE_RETRIES 2u

int mcp_oauth_on_challenge(mcp_oauth *o, int status, const char *head, size_t head_len, char *why, size_t why_size)
{
    mcp_oauth_challenge ch;
    mcp_buf value;
    mcp_buf_init(&value);
    if (!head || !mcp_oauth_head_value(head, head_len, "WWW-Authenticate", &value) ||
        mcp_oauth_challenge_parse(value.data, value.len, &ch) != 0)
        memset(&ch, 0, sizeof ch);
    mcp_buf_reset(&value);
    bool nonce = head && mcp_oauth_head_value(head, head_len, "DPoP-Nonce", &value) && value.len &&
                 !strpbrk(value.data, "\"\\\r\n");
    if (nonce)
        mcp_oauth_str_set(&o->nonce_rs, value.data);
    mcp_buf_free(&value);
    /* RFC 9449 9: the server wants its nonce in the proof; no new token. */
    if (status == 401 && o->token_dpop && !strcmp(ch.error, "use_dpop_nonce")) {
        if (nonce && o->nonce_retries < MAX_NONCE_RETRIES) {
            o->nonce_retries++;
            return 0;
        }
        snprintf(why, why_size, "the server keeps asking for a DPoP nonce%s", nonce ? "" : " without giving one");
        return MCP_EPROTO;
    }
    bool step_up = status == 403;
    if (step_up && strcmp(ch.error, "insufficient_scope") != 0) {
        /* About this request only: not a failure of the authorization. */
        snprintf(why, why_size, "HTTP 403 without a Bearer insufficient_scope challenge: more authorization will "
                                "not help");
        return MCP_EPROTO;
    }
    if (o->failed) {
        snprintf(why, why_size, "%s", o->failed_why);
        return o->failed;
    }
    int rc = authorize(o, &ch, step_up, why, why_size);
    if (rc != 0 && is_final(rc)) {
        o->failed = rc;
        snprintf(o->failed_why, sizeof o->failed_why, "%s", why);
    }
    return rc;
}

