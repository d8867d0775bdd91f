/*
 * oauth_discovery.c — finding who authorizes for an MCP server.
 *
 * First the protected resource metadata (RFC 9728): at the URL the 401's
 * challenge named, else at the well-known URL for the endpoint's path, then
 * at the root. Its resource must stand for the server we talk to, or a
 * server could send us to authorize for another one (and collect a token
 * meant for it). Then the authorization server's metadata (RFC 8414 and
 * OpenID Connect discovery, in the order the MCP specification gives), whose
 * issuer must be the one we looked up: a document that names another
 * issuer could route our codes and credentials anywhere. Servers of the
 * 2025-03-26 era have no resource metadata; for them the MCP server's
 * origin is the authorization server, with default endpoints when it
 * publishes no metadata either.
 */
#include "net/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mcp_oauth_server_free(mcp_oauth_server *as)
{
    free(as->issuer);
    free(as->authorization_endpoint);
    free(as->token_endpoint);
    free(as->registration_endpoint);
    free(as->scopes_supported);
    memset(as, 0, sizeof *as);
}

void mcp_oauth_resource_free(mcp_oauth_resource *r)
{
    free(r->resource);
    free(r->authorization_server);
    free(r->scopes_supported);
    memset(r, 0, sizeof *r);
}

/* GET url and parse a JSON object out of a 200 answer. */
static mcp_json *fetch_json(mcp_oauth_net *net, const char *url, mcp_arena *arena, int *status)
{
    mcp_oauth_reply reply;
    *status = 0;
    mcp_json *doc = NULL;
    if (mcp_oauth_http(net, "GET", url, NULL, NULL, NULL, 0, &reply) == 0) {
        *status = reply.status;
        /* The document points into its text: the text lives in the arena. */
        char *text = mcp_arena_strndup(arena, reply.body.data ? reply.body.data : "", reply.body.len);
        if (reply.status != 200 || !text || mcp_json_parse(arena, text, reply.body.len, NULL, &doc, NULL) != 0 ||
            !mcp_json_is_object(doc))
            doc = NULL;
    }
    mcp_oauth_reply_free(&reply);
    return doc;
}

/* A string array as one space-separated string (NULL when absent or not
 * an array of strings without spaces). */
static char *join_strings(const mcp_json *arr)
{
    if (!mcp_json_is_array(arr))
        return NULL;
    mcp_buf b;
    mcp_buf_init(&b);
    for (const mcp_json *v = mcp_json_first(arr); v; v = mcp_json_next(v)) {
        const char *s = mcp_json_str(v, NULL);
        if (!s || !*s || strchr(s, ' ')) {
            mcp_buf_free(&b);
            return NULL;
        }
        if (b.len)
            mcp_buf_append_char(&b, ' ');
        mcp_buf_append_cstr(&b, s);
    }
    char *joined = mcp_buf_detach(&b);
    return joined ? joined : calloc(1, 1); /* listed, but empty */
}

static bool is_url(const char *s)
{
    return s && mcp_oauth_url_split(s, NULL, NULL) == 0;
}

int mcp_oauth_discover_resource(mcp_oauth_net *net, const char *server_url, const char *hint,
                                mcp_oauth_resource *r, char *why, size_t why_size)
{
    memset(r, 0, sizeof *r);
    mcp_buf urls;
    mcp_buf_init(&urls);
    size_t count = 0;
    if (hint && *hint && is_url(hint)) {
        mcp_buf_append_cstr(&urls, hint);
        mcp_buf_append_char(&urls, '\0');
        count++;
    }
    size_t more = 0;
    int rc = mcp_oauth_prm_urls(server_url, &urls, &more);
    count += more;
    const char *url = urls.data;
    for (size_t i = 0; rc == 0 && i < count; i++, url += strlen(url) + 1) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        int status;
        mcp_json *doc = fetch_json(net, url, &arena, &status);
        if (!doc) {
            mcp_arena_free(&arena);
            continue;
        }
        const char *resource = mcp_json_str(mcp_json_get(doc, "resource"), NULL);
        const mcp_json *servers = mcp_json_get(doc, "authorization_servers");
        const char *first = mcp_json_str(mcp_json_first(servers), NULL);
        if (!resource || !mcp_oauth_resource_matches(resource, server_url)) {
            snprintf(why, why_size,
                     "the protected resource metadata at %s names resource '%s', which is not %s: refusing to "
                     "authorize for it",
                     url, resource ? resource : "(none)", server_url);
            rc = MCP_EPROTO;
        } else if (!mcp_json_is_array(servers) || !is_url(first)) {
            snprintf(why, why_size, "the protected resource metadata at %s lists no authorization server URL", url);
            rc = MCP_EPROTO;
        } else {
            r->resource = mcp_oauth_str_dup(resource);
            r->authorization_server = mcp_oauth_str_dup(first);
            r->scopes_supported = join_strings(mcp_json_get(doc, "scopes_supported"));
            if (!r->resource || !r->authorization_server)
                rc = MCP_ENOMEM;
        }
        mcp_arena_free(&arena);
        break;
    }
    mcp_buf_free(&urls);
    if (rc != 0)
        mcp_oauth_resource_free(r);
    return rc;
}

static unsigned auth_methods_of(const mcp_json *arr)
{
    unsigned bits = 0;
    for (const mcp_json *v = mcp_json_first(arr); v; v = mcp_json_next(v)) {
        const char *s = mcp_json_str(v, "");
        bits |= !strcmp(s, "none")                  ? MCP_OAUTH_AUTH_NONE
                : !strcmp(s, "client_secret_basic") ? MCP_OAUTH_AUTH_BASIC
                : !strcmp(s, "client_secret_post")  ? MCP_OAUTH_AUTH_POST
                : !strcmp(s, "private_key_jwt")     ? MCP_OAUTH_AUTH_PRIVATE_KEY_JWT
                                                    : 0u;
    }
    return bits;
}

static bool lists(const mcp_json *arr, const char *want)
{
    for (const mcp_json *v = mcp_json_first(arr); v; v = mcp_json_next(v))
        if (!strcmp(mcp_json_str(v, ""), want))
            return true;
    return false;
}

/* Fill as from a metadata document; the endpoints must be URLs. */
static int read_metadata(const mcp_json *doc, const char *url, mcp_oauth_server *as, char *why, size_t why_size)
{
    const char *authz = mcp_json_str(mcp_json_get(doc, "authorization_endpoint"), NULL);
    const char *token = mcp_json_str(mcp_json_get(doc, "token_endpoint"), NULL);
    const char *reg = mcp_json_str(mcp_json_get(doc, "registration_endpoint"), NULL);
    if (!is_url(token) || (authz && !is_url(authz)) || (reg && !is_url(reg))) {
        snprintf(why, why_size, "the authorization server metadata at %s has no usable token endpoint, or an endpoint "
                                "that is not an http(s) URL", url);
        return MCP_EPROTO;
    }
    as->authorization_endpoint = mcp_oauth_str_dup(authz);
    as->token_endpoint = mcp_oauth_str_dup(token);
    as->registration_endpoint = mcp_oauth_str_dup(reg);
    as->scopes_supported = join_strings(mcp_json_get(doc, "scopes_supported"));
    as->auth_methods = auth_methods_of(mcp_json_get(doc, "token_endpoint_auth_methods_supported"));
    as->pkce_s256 = lists(mcp_json_get(doc, "code_challenge_methods_supported"), "S256");
    as->iss_supported = mcp_json_bool(mcp_json_get(doc, "authorization_response_iss_parameter_supported"), false);
    as->cimd_supported = mcp_json_bool(mcp_json_get(doc, "client_id_metadata_document_supported"), false);
    as->dpop_es256 = lists(mcp_json_get(doc, "dpop_signing_alg_values_supported"), "ES256");
    return 0;
}

int mcp_oauth_discover_server(mcp_oauth_net *net, const char *issuer, mcp_oauth_server *as, char *why,
                              size_t why_size)
{
    memset(as, 0, sizeof *as);
    mcp_buf urls;
    mcp_buf_init(&urls);
    size_t count = 0;
    int rc = mcp_oauth_as_urls(issuer, &urls, &count);
    if (rc != 0) {
        snprintf(why, why_size, "the authorization server '%s' is not an http(s) URL without query or fragment",
                 issuer);
        mcp_buf_free(&urls);
        return MCP_EPROTO;
    }
    rc = MCP_ENOTFOUND;
    const char *url = urls.data;
    for (size_t i = 0; i < count; i++, url += strlen(url) + 1) {
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        int status;
        mcp_json *doc = fetch_json(net, url, &arena, &status);
        if (!doc) {
            mcp_arena_free(&arena);
            continue;
        }
        /* RFC 8414 3.3: identical, no normalization. */
        const char *named = mcp_json_str(mcp_json_get(doc, "issuer"), NULL);
        if (!named || strcmp(named, issuer) != 0) {
            snprintf(why, why_size,
                     "the authorization server metadata at %s names issuer '%s', not '%s': refusing to use it", url,
                     named ? named : "(none)", issuer);
            rc = MCP_EPROTO;
        } else {
            rc = read_metadata(doc, url, as, why, why_size);
            if (rc == 0 && !as->authorization_endpoint) {
                snprintf(why, why_size, "the authorization server metadata at %s has no authorization endpoint", url);
                rc = MCP_EPROTO;
            }
            if (rc == 0 && !(as->issuer = mcp_oauth_str_dup(issuer)))
                rc = MCP_ENOMEM;
        }
        mcp_arena_free(&arena);
        break;
    }
    if (rc == MCP_ENOTFOUND)
        snprintf(why, why_size, "no authorization server metadata for '%s' at any well-known URL (%zu tried)", issuer,
                 count);
    mcp_buf_free(&urls);
    if (rc != 0)
        mcp_oauth_server_free(as);
    return rc;
}

int mcp_oauth_discover_legacy(mcp_oauth_net *net, const char *server_url, mcp_oauth_server *as, char *why,
                              size_t why_size)
{
    memset(as, 0, sizeof *as);
    as->legacy = true;
    mcp_buf origin;
    mcp_buf_init(&origin);
    if (mcp_oauth_url_split(server_url, &origin, NULL) != 0) {
        mcp_buf_free(&origin);
        snprintf(why, why_size, "'%s' is not an http(s) URL", server_url);
        return MCP_EINVAL;
    }
    size_t base = origin.len;
    mcp_buf_append_cstr(&origin, "/.well-known/oauth-authorization-server");
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    int status;
    mcp_json *doc = fetch_json(net, origin.data, &arena, &status);
    int rc = 0;
    if (doc) {
        /* The 2025-03-26 era derived this URL from the MCP server, not
         * from an issuer: there is no issuer to hold the document to, so
         * it is recorded as the document says (for the iss check). */
        rc = read_metadata(doc, origin.data, as, why, why_size);
        const char *named = mcp_json_str(mcp_json_get(doc, "issuer"), NULL);
        if (rc == 0 && named && !(as->issuer = mcp_oauth_str_dup(named)))
            rc = MCP_ENOMEM;
        if (rc == 0 && !as->authorization_endpoint) {
            snprintf(why, why_size, "the authorization server metadata at %s has no authorization endpoint",
                     origin.data);
            rc = MCP_EPROTO;
        }
    } else {
        origin.len = base;
        origin.data[base] = '\0';
        mcp_buf ep;
        mcp_buf_init(&ep);
        static const char *const names[] = {"/authorize", "/token", "/register"};
        char **slots[] = {&as->authorization_endpoint, &as->token_endpoint, &as->registration_endpoint};
        for (size_t i = 0; i < 3; i++) {
            mcp_buf_reset(&ep);
            mcp_buf_appendf(&ep, "%s%s", origin.data, names[i]);
            *slots[i] = mcp_oauth_str_dup(ep.data);
            if (!*slots[i])
                rc = MCP_ENOMEM;
        }
        mcp_buf_free(&ep);
        as->pkce_s256 = true; /* PKCE is mandatory in that era */
    }
    mcp_arena_free(&arena);
    mcp_buf_free(&origin);
    if (rc != 0)
        mcp_oauth_server_free(as);
    else
        as->legacy = true;
    return rc;
}
