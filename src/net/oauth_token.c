/*
 * oauth_token.c — the token endpoint: client authentication (none,
 * client_secret_basic, client_secret_post, private_key_jwt), the token
 * answer, and the grants that need nothing but the token endpoint: refresh,
 * client credentials, and the JWT bearer grant (RFC 7523) with a workload
 * identity assertion or with an ID-JAG the enterprise identity provider
 * issues by token exchange (RFC 8693).
 */
#include "net/client_http_internal.h"
#include "net/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Token endpoint ------------------------------------------------------------------- */

/* Client authentication of a token request: into the form, or a header. */
static int add_client_auth(mcp_oauth *o, mcp_buf *form, mcp_buf *headers, char *why, size_t why_size)
{
    if (!o->client_id ||
        ((o->client_method == MCP_OAUTH_AUTH_BASIC || o->client_method == MCP_OAUTH_AUTH_POST) && !o->client_secret)) {
        snprintf(why, why_size, "no client credentials for the token endpoint's authentication");
        return MCP_EINVAL;
    }
    switch (o->client_method) {
    case MCP_OAUTH_AUTH_BASIC: {
        /* RFC 6749 2.3.1: both parts form-encoded before base64. */
        mcp_buf pair;
        mcp_buf_init(&pair);
        mcp_oauth_form_escape(&pair, o->client_id, strlen(o->client_id));
        mcp_buf_append_char(&pair, ':');
        mcp_oauth_form_escape(&pair, o->client_secret, strlen(o->client_secret));
        mcp_buf_append_cstr(headers, "Authorization: Basic ");
        mcp_http_base64_append(headers, (const unsigned char *)pair.data, pair.len);
        mcp_buf_append_cstr(headers, "\r\n");
        mcp_buf_free(&pair);
        return 0;
    }
    case MCP_OAUTH_AUTH_POST:
        mcp_oauth_form_add(form, "client_id", o->client_id);
        mcp_oauth_form_add(form, "client_secret", o->client_secret);
        return 0;
    case MCP_OAUTH_AUTH_PRIVATE_KEY_JWT: {
        mcp_buf jwt;
        mcp_buf_init(&jwt);
        const char *aud = o->as.issuer ? o->as.issuer : o->as.token_endpoint;
        int rc = mcp_oauth_jwt_assertion(o->opts.private_key_pem, o->opts.signing_alg, o->client_id, aud, &jwt, why,
                                         why_size);
        if (rc == 0) {
            mcp_oauth_form_add(form, "client_id", o->client_id);
            mcp_oauth_form_add(form, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            mcp_oauth_form_add(form, "client_assertion", jwt.data);
        }
        mcp_buf_free(&jwt);
        return rc;
    }
    default:
        mcp_oauth_form_add(form, "client_id", o->client_id);
        return 0;
    }
}

static void report_tokens(mcp_oauth *o, int64_t expires_in, const char *granted)
{
    if (!o->opts.on_tokens)
        return;
    o->opts.on_tokens(o->opts.user, &(mcp_oauth_tokens){
                                        .issuer = o->as.issuer,
                                        .client_id = o->client_id,
                                        .access_token = o->token,
                                        .refresh_token = o->refresh,
                                        .scope = granted ? granted : o->scope.len ? o->scope.data : NULL,
                                        .expires_in = expires_in,
                                        .client_secret = o->client_secret,
                                    });
}

/* The authorization server asked for a DPoP nonce (RFC 9449 8): keep it. */
static bool wants_nonce(mcp_oauth *o, const mcp_oauth_reply *reply)
{
    if (reply->status != 400 || !o->dpop || !strstr(reply->body.data ? reply->body.data : "", "use_dpop_nonce"))
        return false;
    mcp_buf nonce;
    mcp_buf_init(&nonce);
    bool got = mcp_oauth_head_value(reply->head.data, reply->head.len, "DPoP-Nonce", &nonce) && nonce.len &&
               !strpbrk(nonce.data, "\"\\\r\n");
    if (got)
        mcp_oauth_str_set(&o->nonce_as, nonce.data);
    mcp_buf_free(&nonce);
    return got;
}

/* One POST to the token endpoint; a DPoP proof goes with it when the
 * authorization server supports DPoP. */
static int post_token(mcp_oauth *o, const mcp_buf *form, const mcp_buf *auth_headers, mcp_oauth_reply *reply)
{
    mcp_buf headers;
    mcp_buf_init(&headers);
    mcp_buf_append(&headers, auth_headers->data, auth_headers->len);
    int rc = 0;
    if (o->as.dpop_es256 && !o->dpop)
        rc = mcp_oauth_dpop_new(&o->dpop);
    if (rc == 0 && o->as.dpop_es256) {
        mcp_buf_append_cstr(&headers, "DPoP: ");
        rc = mcp_oauth_dpop_proof(o->dpop, "POST", o->as.token_endpoint, NULL, o->nonce_as, &headers);
        mcp_buf_append_cstr(&headers, "\r\n");
    }
    if (rc == 0)
        rc = mcp_oauth_http(&o->net, "POST", o->as.token_endpoint, headers.len ? headers.data : NULL,
                            "application/x-www-form-urlencoded", form->data ? form->data : "", form->len, reply);
    else
        memset(reply, 0, sizeof *reply);
    mcp_buf_free(&headers);
    return rc;
}

/* POST form (client authentication added) to the token endpoint and keep
 * the token it answers with. */
int mcp_oauth_token_request(mcp_oauth *o, mcp_buf *form, char *why, size_t why_size)
{
    mcp_buf headers;
    mcp_buf_init(&headers);
    int rc = add_client_auth(o, form, &headers, why, why_size);
    if (rc != 0) {
        mcp_buf_free(&headers);
        return rc;
    }
    mcp_oauth_reply reply;
    rc = post_token(o, form, &headers, &reply);
    if (rc == 0 && wants_nonce(o, &reply)) {
        mcp_oauth_reply_free(&reply);
        rc = post_token(o, form, &headers, &reply);
    }
    mcp_buf_free(&headers);
    mcp_oauth_answer a;
    rc = mcp_oauth_answer_read(rc, &reply, "the token endpoint", o->as.token_endpoint, &a, why, why_size);
    if (rc != 0)
        return rc;
    const mcp_json *doc = a.doc;
    const char *token = mcp_json_str(mcp_json_get(doc, "access_token"), NULL);
    const char *type = mcp_json_str(mcp_json_get(doc, "token_type"), "Bearer");
    if (a.reply.status != 200 || !token || !*token) {
        const char *desc = mcp_json_str(mcp_json_get(doc, "error_description"), NULL);
        snprintf(why, why_size, "the token endpoint answered HTTP %d%s%s%s%s", a.reply.status, a.error ? ": " : "",
                 a.error ? a.error : "", desc ? " — " : "", desc ? desc : "");
        rc = MCP_EPROTO;
    } else if (strcasecmp(type, "Bearer") != 0 && !(o->as.dpop_es256 && !strcasecmp(type, "DPoP"))) {
        snprintf(why, why_size, "the token endpoint issued a '%s' token; Bearer%s tokens are supported", type,
                 o->as.dpop_es256 ? " and DPoP" : "");
        rc = MCP_EUNSUPPORTED;
    } else if (strpbrk(token, "\r\n")) {
        snprintf(why, why_size, "the token endpoint issued a token that cannot go in a header");
        rc = MCP_EPROTO;
    } else {
        mcp_oauth_str_set(&o->token, token);
        o->token_dpop = !strcasecmp(type, "DPoP");
        o->nonce_retries = 0;
        const char *refresh = mcp_json_str(mcp_json_get(doc, "refresh_token"), NULL);
        if (refresh)
            mcp_oauth_str_set(&o->refresh, refresh);
        report_tokens(o, mcp_json_int(mcp_json_get(doc, "expires_in"), 0),
                      mcp_json_str(mcp_json_get(doc, "scope"), NULL));
        rc = o->token ? 0 : MCP_ENOMEM;
    }
    mcp_oauth_answer_free(&a);
    return rc;
}

int mcp_oauth_refresh(mcp_oauth *o, char *why, size_t why_size)
{
    mcp_buf form;
    mcp_buf_init(&form);
    mcp_oauth_form_add(&form, "grant_type", "refresh_token");
    mcp_oauth_form_add(&form, "refresh_token", o->refresh);
    if (o->resource)
        mcp_oauth_form_add(&form, "resource", o->resource);
    int rc = mcp_oauth_token_request(o, &form, why, why_size);
    mcp_buf_free(&form);
    return rc;
}


/* ---- Client credentials grant -------------------------------------------------------------- */

int mcp_oauth_client_credentials(mcp_oauth *o, char *why, size_t why_size)
{
    if (!o->opts.client_id) {
        snprintf(why, why_size, "the client credentials grant needs a client id");
        return MCP_EINVAL;
    }
    mcp_oauth_str_set(&o->client_id, o->opts.client_id);
    mcp_oauth_str_set(&o->client_secret, o->opts.client_secret);
    if (o->opts.private_key_pem) {
        o->client_method = MCP_OAUTH_AUTH_PRIVATE_KEY_JWT;
    } else {
        o->client_method = mcp_oauth_method_pick(&o->as, o->client_secret != NULL);
        if (!o->client_secret || o->client_method == MCP_OAUTH_AUTH_NONE || !o->client_method) {
            snprintf(why, why_size, "the client credentials grant needs a client secret or a private key the "
                                    "authorization server accepts");
            return MCP_EINVAL;
        }
    }
    mcp_buf form;
    mcp_buf_init(&form);
    mcp_oauth_form_add(&form, "grant_type", "client_credentials");
    if (o->scope.len)
        mcp_oauth_form_add(&form, "scope", o->scope.data);
    if (o->resource)
        mcp_oauth_form_add(&form, "resource", o->resource);
    int rc = mcp_oauth_token_request(o, &form, why, why_size);
    mcp_buf_free(&form);
    return rc;
}


/* ---- JWT bearer grant (workload identity, enterprise-managed) --------------------------------- */

#define GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TOKEN_TYPE_ID_JAG "urn:ietf:params:oauth:token-type:id-jag"
#define TOKEN_TYPE_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"

/* RFC 8693 at the enterprise identity provider: our ID token for an
 * identity assertion grant (ID-JAG) meant for this authorization server
 * and resource. */
static int token_exchange(mcp_oauth *o, mcp_buf *jag, char *why, size_t why_size)
{
    if (!o->opts.idp_id_token || !o->as.issuer) {
        snprintf(why, why_size, "the token exchange needs an ID token and an authorization server issuer");
        return MCP_EINVAL;
    }
    mcp_buf form;
    mcp_buf_init(&form);
    mcp_oauth_form_add(&form, "grant_type", GRANT_TOKEN_EXCHANGE);
    mcp_oauth_form_add(&form, "requested_token_type", TOKEN_TYPE_ID_JAG);
    mcp_oauth_form_add(&form, "audience", o->as.issuer);
    mcp_oauth_form_add(&form, "resource", o->resource);
    mcp_oauth_form_add(&form, "subject_token", o->opts.idp_id_token);
    mcp_oauth_form_add(&form, "subject_token_type", TOKEN_TYPE_ID_TOKEN);
    if (o->scope.len)
        mcp_oauth_form_add(&form, "scope", o->scope.data);
    if (o->opts.idp_client_id)
        mcp_oauth_form_add(&form, "client_id", o->opts.idp_client_id);
    mcp_oauth_reply reply;
    int rc = mcp_oauth_http(&o->net, "POST", o->opts.idp_token_endpoint, NULL, "application/x-www-form-urlencoded",
                            form.data, form.len, &reply);
    mcp_buf_free(&form);
    mcp_oauth_answer a;
    rc = mcp_oauth_answer_read(rc, &reply, "the identity provider's token endpoint", o->opts.idp_token_endpoint, &a,
                               why, why_size);
    if (rc != 0)
        return rc;
    const char *token = mcp_json_str(mcp_json_get(a.doc, "access_token"), NULL);
    const char *type = mcp_json_str(mcp_json_get(a.doc, "issued_token_type"), TOKEN_TYPE_ID_JAG);
    if (a.reply.status != 200 || !token || !*token || strcmp(type, TOKEN_TYPE_ID_JAG) != 0) {
        snprintf(why, why_size, "the token exchange at the identity provider gave no ID-JAG: HTTP %d%s%s",
                 a.reply.status, a.error ? ": " : "", a.error ? a.error : "");
        rc = MCP_EPROTO;
    } else {
        mcp_buf_append_cstr(jag, token);
    }
    mcp_oauth_answer_free(&a);
    return rc;
}

int mcp_oauth_jwt_bearer(mcp_oauth *o, char *why, size_t why_size)
{
    if (!o->opts.client_id || (!o->opts.assertion && !o->opts.idp_token_endpoint)) {
        snprintf(why, why_size, "the JWT bearer grant needs a client id and an assertion or an identity provider");
        return MCP_EINVAL;
    }
    mcp_oauth_str_set(&o->client_id, o->opts.client_id);
    mcp_oauth_str_set(&o->client_secret, o->opts.client_secret);
    o->client_method = o->client_secret ? mcp_oauth_method_pick(&o->as, true) : MCP_OAUTH_AUTH_NONE;
    if (!o->client_method) {
        snprintf(why, why_size, "the authorization server takes no client authentication method possible with a "
                                "client secret");
        return MCP_EUNSUPPORTED;
    }
    mcp_buf assertion;
    mcp_buf_init(&assertion);
    int rc = 0;
    if (o->opts.assertion)
        mcp_buf_append_cstr(&assertion, o->opts.assertion);
    else
        rc = token_exchange(o, &assertion, why, why_size);
    if (rc == 0) {
        mcp_buf form;
        mcp_buf_init(&form);
        mcp_oauth_form_add(&form, "grant_type", GRANT_JWT_BEARER);
        mcp_oauth_form_add(&form, "assertion", assertion.data);
        if (o->scope.len)
            mcp_oauth_form_add(&form, "scope", o->scope.data);
        mcp_oauth_form_add(&form, "resource", o->resource);
        rc = mcp_oauth_token_request(o, &form, why, why_size);
        mcp_buf_free(&form);
    }
    mcp_buf_free(&assertion);
    return rc;
}

