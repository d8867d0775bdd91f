/*
 * oauth.h — the OAuth 2.1 authorization client behind the Streamable HTTP
 * connector (MCP "Authorization": RFC 9728 protected resource metadata,
 * RFC 8414 / OpenID discovery, RFC 7591 registration or client ID metadata
 * documents, PKCE S256, RFC 8707 resource indicators, RFC 9207 iss).
 *
 * The connector owns one mcp_oauth per transport. It adds the lines of
 * mcp_oauth_headers_append to every request, and hands every 401 (and 403)
 * answer to mcp_oauth_on_challenge with the response's head; 0 from there
 * means a fresh token (or DPoP nonce) is ready and the request should go
 * again. A 2xx answer made with a token
 * calls mcp_oauth_on_success, which resets the retry bound. Everything
 * blocks on the calling thread, like the connector itself.
 *
 * The text helpers below (challenge parsing, header lookup, URL building,
 * form encoding) are separate so the unit tests can feed them bad input.
 */
#ifndef MCP_NET_OAUTH_H
#define MCP_NET_OAUTH_H

#include "mcp/client.h"

typedef struct mcp_oauth mcp_oauth;

/* server_url: the MCP endpoint as the user gave it (the resource);
 * connect: the connector's options (timeout, TLS settings), may be NULL. */
mcp_oauth *mcp_oauth_new(const mcp_oauth_opts *opts, const char *server_url, const mcp_connect_opts *connect);
void mcp_oauth_free(mcp_oauth *o);
/* The access token, or NULL before one was obtained. */
const char *mcp_oauth_token(const mcp_oauth *o);
/* The authorization header lines for a request with this method to the
 * server: nothing before there is a token, "Authorization: Bearer" for a
 * bearer token, "Authorization: DPoP" and a fresh "DPoP" proof for a
 * DPoP-bound one. */
int mcp_oauth_headers_append(mcp_oauth *o, const char *method, mcp_buf *out);
/* A 401 or 403 answer, given its raw head (WWW-Authenticate, DPoP-Nonce):
 * obtain a new token (discovery, registration, authorization, token
 * request; a refresh when one may do), or just take the server's DPoP
 * nonce. 0: send the request again with mcp_oauth_headers_append.
 * Otherwise a negative MCP_E* code and a one-line reason in why
 * (MCP_ELIMIT once max_attempts authorizations in a row did not help;
 * MCP_EPROTO for a 403 that is not insufficient_scope). A refusal by a
 * server is final: later challenges get the same answer at once. */
int mcp_oauth_on_challenge(mcp_oauth *o, int status, const char *head, size_t head_len, char *why, size_t why_size);
/* A request made with the token succeeded. */
void mcp_oauth_on_success(mcp_oauth *o);

/* ---- Text helpers (oauth_text.c) -------------------------------------------- */

/* The Bearer (or DPoP, RFC 9449 7.1) challenge of a WWW-Authenticate value
 * (RFC 9110 11.6.1: one or more challenges, each a scheme and auth-params
 * or a token68); the parameters are those of the first of the two. Values
 * longer than their field are refused rather than cut. */
typedef struct mcp_oauth_challenge {
    bool bearer;                 /* a Bearer challenge was found */
    bool dpop;                   /* a DPoP challenge was found */
    char resource_metadata[1024];
    char scope[1024];
    char error[64];
} mcp_oauth_challenge;
/* 0 (bearer may still be false when only other schemes were offered), or
 * MCP_EPARSE for text that breaks the grammar, MCP_ELIMIT for a Bearer
 * parameter too long for its field. */
int mcp_oauth_challenge_parse(const char *value, size_t len, mcp_oauth_challenge *out);

/* The value of header name in a raw HTTP head ("HTTP/1.1 401 ...\r\nA: b\r\n
 * \r\n"), several occurrences joined by ", " as RFC 9110 allows for lists.
 * Appends to out; false when the header is absent. */
bool mcp_oauth_head_value(const char *head, size_t len, const char *name, mcp_buf *out);

/* "scheme://authority" and the path of an absolute http(s) URL (query and
 * fragment dropped; "" for an empty or "/" path). MCP_EINVAL when url is
 * not one. */
int mcp_oauth_url_split(const char *url, mcp_buf *origin, mcp_buf *path);
/* Well-known URLs in the order a client tries them, each NUL-terminated in
 * out one after the other; count is how many. Protected resource metadata
 * (RFC 9728 3.1, MCP): path-inserted for server_url's path, then the root.
 * Authorization server metadata for an issuer (MCP 2025-11-25): with a path,
 * RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended;
 * without, RFC 8414 then OpenID. */
int mcp_oauth_prm_urls(const char *server_url, mcp_buf *out, size_t *count);
int mcp_oauth_as_urls(const char *issuer, mcp_buf *out, size_t *count);
/* Whether protected resource metadata's resource may stand for server_url:
 * the same scheme and authority (case aside) and a path that is the
 * server's own or a parent of it at a segment boundary. */
bool mcp_oauth_resource_matches(const char *resource, const char *server_url);

/* Percent-encoding of application/x-www-form-urlencoded (and query
 * components): unreserved characters as they are, everything else %XX. */
void mcp_oauth_form_escape(mcp_buf *out, const char *s, size_t len);
/* "&name=value" (no "&" when out is empty or ends in '?'). */
void mcp_oauth_form_add(mcp_buf *out, const char *name, const char *value);
/* The decoded value of a query parameter of url (NUL-terminated in out).
 * false when absent; MCP_EPARSE-worthy encodings (bad %XX) count as absent
 * and set *bad when bad is not NULL. */
bool mcp_oauth_query_param(const char *url, const char *name, mcp_buf *out, bool *bad);
/* Base64url without padding (RFC 7636 / JWS). */
void mcp_oauth_base64url(mcp_buf *out, const unsigned char *data, size_t len);
/* Space-separated scope lists: add each of extra not yet in out. */
void mcp_oauth_scope_union(mcp_buf *out, const char *extra);
bool mcp_oauth_scope_has(const char *scopes, const char *one);

/* ---- Crypto (oauth_crypto.c, OpenSSL) ---------------------------------------- */

/* n random bytes as base64url: PKCE verifiers, state, JWT ids. */
int mcp_oauth_random(mcp_buf *out, size_t n);
/* The S256 challenge of a PKCE verifier. */
int mcp_oauth_pkce_challenge(const char *verifier, mcp_buf *out);
/* A signed JWT client assertion (RFC 7523 2.2): iss and sub client_id, aud
 * audience, a short lifetime and a random jti. alg ES256 (P-256 key) or
 * RS256 (RSA key), NULL meaning "by the key". The key is PEM (PKCS#8 or
 * traditional). MCP_EINVAL for a key that does not load or does not fit alg. */
int mcp_oauth_jwt_assertion(const char *key_pem, const char *alg, const char *client_id, const char *audience,
                            mcp_buf *out, char *why, size_t why_size);

/* A DPoP key (P-256, made here, never leaving the process) and its proofs
 * (RFC 9449 4.2): typ dpop+jwt with the public JWK, jti, htm, htu (query
 * and fragment dropped), iat, and ath for token (when not NULL) and
 * nonce (when not NULL). The proof is appended to out. */
typedef struct mcp_oauth_dpop mcp_oauth_dpop;
int mcp_oauth_dpop_new(mcp_oauth_dpop **out);
void mcp_oauth_dpop_free(mcp_oauth_dpop *d);
int mcp_oauth_dpop_proof(mcp_oauth_dpop *d, const char *htm, const char *htu, const char *token, const char *nonce,
                         mcp_buf *out);

/* ---- Plain HTTP(S) for the flow (oauth_http.c) ------------------------------ */

/* How the flow reaches its servers: a deadline per request, and TLS for
 * https URLs (the connector's CA file/directory and insecure switch; the
 * context is made at the first https request and kept). */
typedef struct mcp_oauth_net {
    unsigned timeout_ms;
    char *ca_file;
    char *ca_dir;
    bool insecure;
    struct mcp_client_tls *tls;
} mcp_oauth_net;
void mcp_oauth_net_init(mcp_oauth_net *net, const mcp_connect_opts *opts, unsigned timeout_ms);
void mcp_oauth_net_free(mcp_oauth_net *net);

typedef struct mcp_oauth_reply {
    int status;
    mcp_buf head;   /* the raw status line and headers */
    mcp_buf body;
} mcp_oauth_reply;
void mcp_oauth_reply_free(mcp_oauth_reply *r);
/* The reply's body as JSON, or NULL when it is not JSON (lookups on NULL
 * find nothing, so callers test only the members they need). The document
 * points into the body: keep r until done with it. */
mcp_json *mcp_oauth_reply_json(const mcp_oauth_reply *r, mcp_arena *arena);
/* The JSON answer of an endpoint (registration, token): the reply, its
 * body as JSON (NULL when it is not JSON) and the body's "error" member
 * (RFC 6749 5.2, RFC 7591 3.2.2), or NULL. */
typedef struct mcp_oauth_answer {
    mcp_oauth_reply reply;
    mcp_arena arena;
    mcp_json *doc;
    const char *error;
} mcp_oauth_answer;
/* Read the reply of an mcp_oauth_http call that returned rc. 0: a holds
 * the reply (free it with mcp_oauth_answer_free). Else rc, with the reply
 * freed and why saying "<what> <url> could not be reached: <reason>". */
int mcp_oauth_answer_read(int rc, mcp_oauth_reply *reply, const char *what, const char *url,
                          mcp_oauth_answer *a, char *why, size_t why_size);
void mcp_oauth_answer_free(mcp_oauth_answer *a);
/* One request on its own connection (Connection: close), bounded by
 * net->timeout_ms over the whole exchange; redirects are not followed.
 * headers: extra header lines, each ending in CRLF, or NULL. body may be
 * NULL (then no Content-Type). 0 with any status, or the failure to talk
 * (MCP_EINVAL for a URL that is not http(s), MCP_EPROTO for a refused
 * certificate, MCP_ELIMIT for an oversized answer). */
int mcp_oauth_http(mcp_oauth_net *net, const char *method, const char *url, const char *headers,
                   const char *content_type, const char *body, size_t body_len, mcp_oauth_reply *out);

/* ---- Discovery (oauth_discovery.c), shared by the oauth_*.c files ---------- */

enum {
    MCP_OAUTH_AUTH_NONE = 1,
    MCP_OAUTH_AUTH_BASIC = 2,         /* client_secret_basic */
    MCP_OAUTH_AUTH_POST = 4,          /* client_secret_post */
    MCP_OAUTH_AUTH_PRIVATE_KEY_JWT = 8
};

/* What the client knows of an authorization server. */
typedef struct mcp_oauth_server {
    char *issuer;                 /* the metadata's issuer (checked), NULL without metadata */
    char *authorization_endpoint;
    char *token_endpoint;
    char *registration_endpoint;  /* NULL: no dynamic registration */
    char *scopes_supported;       /* space separated, NULL when not listed */
    unsigned auth_methods;        /* MCP_OAUTH_AUTH_* listed; 0 when not listed */
    bool pkce_s256;
    bool iss_supported;           /* authorization_response_iss_parameter_supported */
    bool cimd_supported;          /* client_id_metadata_document_supported */
    bool dpop_es256;              /* dpop_signing_alg_values_supported lists ES256 */
    bool legacy;                  /* found by the 2025-03-26 fallbacks (no resource metadata) */
} mcp_oauth_server;
void mcp_oauth_server_free(mcp_oauth_server *as);

/* The protected resource: its metadata (RFC 9728) when the server has it. */
typedef struct mcp_oauth_resource {
    char *resource;               /* NULL: no metadata found (2025-03-26 era) */
    char *authorization_server;   /* authorization_servers[0] */
    char *scopes_supported;       /* space separated, NULL when not listed */
} mcp_oauth_resource;
void mcp_oauth_resource_free(mcp_oauth_resource *r);

/* Protected resource metadata for server_url: hint (the challenge's
 * resource_metadata, may be NULL or "") first, then the well-known URLs.
 * 0 with r->resource NULL when none answered; MCP_EPROTO (why) when one
 * answered with a resource that is not this server, or without
 * authorization servers. */
int mcp_oauth_discover_resource(mcp_oauth_net *net, const char *server_url, const char *hint,
                                mcp_oauth_resource *r, char *why, size_t why_size);
/* Authorization server metadata for issuer, in the spec's order; its
 * issuer must be issuer exactly. MCP_ENOTFOUND or MCP_EPROTO with why. */
int mcp_oauth_discover_server(mcp_oauth_net *net, const char *issuer, mcp_oauth_server *as, char *why,
                              size_t why_size);
/* 2025-03-26: metadata at the MCP server's origin, else the default
 * /authorize, /token and /register there. */
int mcp_oauth_discover_legacy(mcp_oauth_net *net, const char *server_url, mcp_oauth_server *as, char *why,
                              size_t why_size);

/* ---- The client's state, shared by oauth_flow.c and oauth_token.c -------- */

/* One per transport. The client identity (client_id, secret, method)
 * belongs to as.issuer and is dropped when the resource moves. */
struct mcp_oauth {
    mcp_oauth_opts opts;
    char *owned[20];             /* copies of the option strings */
    char *server_url;
    mcp_oauth_net net;
    unsigned attempts;
    char *token;
    char *refresh;
    mcp_buf scope;               /* what the last authorization asked for */
    mcp_oauth_server as;
    bool have_as;
    char *resource;              /* the resource parameter: as published, else the server URL */
    char *client_id;             /* the identity at as.issuer */
    char *client_secret;
    unsigned client_method;      /* MCP_OAUTH_AUTH_* */
    mcp_oauth_dpop *dpop;        /* the DPoP key, once a server supports DPoP */
    bool token_dpop;             /* the token is DPoP-bound */
    char *nonce_as;              /* the last DPoP-Nonce of the authorization server */
    char *nonce_rs;              /* ... and of the MCP server */
    unsigned nonce_retries;      /* use_dpop_nonce answers in a row */
    int failed;                  /* a refusal that asking again would only repeat, or 0 */
    char failed_why[600];
};

char *mcp_oauth_str_dup(const char *s);
void mcp_oauth_str_set(char **slot, const char *s);
/* The token endpoint authentication for a client with (or without) a
 * secret among what the server lists (nothing listed: client_secret_basic,
 * RFC 8414); 0 when none fits. */
unsigned mcp_oauth_method_pick(const mcp_oauth_server *as, bool secret);
unsigned mcp_oauth_method_named(const char *name); /* 0 for an unknown name */
/* POST form, with the client's authentication added, to the token
 * endpoint; keep the Bearer token it answers with (and report it). */
int mcp_oauth_token_request(mcp_oauth *o, mcp_buf *form, char *why, size_t why_size);
int mcp_oauth_refresh(mcp_oauth *o, char *why, size_t why_size);
int mcp_oauth_client_credentials(mcp_oauth *o, char *why, size_t why_size);
int mcp_oauth_jwt_bearer(mcp_oauth *o, char *why, size_t why_size);

#endif
