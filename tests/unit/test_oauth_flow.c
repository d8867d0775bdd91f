/* The OAuth client's flow against a scripted authorization server and
 * protected resource on loopback: the happy path with every parameter the
 * specification asks for, then each way a server can make the client stop
 * (a resource for another server, a foreign issuer, no PKCE, no redirect,
 * a wrong state or iss, a refused token), the retry bound, step-up scopes,
 * an answer that never comes, and a refusal staying final. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/oauth.h"

/* ---- A scripted HTTP server ------------------------------------------------------- */

enum { PLAIN = 0, AUTHORIZE, HANG, PROTECTED };
enum { ISS_NONE = 0, ISS_RIGHT, ISS_WRONG };

typedef struct route {
    const char *method;
    const char *path;     /* matched without the query */
    int status;
    const char *headers;  /* extra lines, "{BASE}" replaced */
    const char *body;     /* "{BASE}" replaced */
    int kind;
    int iss;              /* AUTHORIZE: what iss the redirect carries */
} route;

#define MAX_ROUTES 16
#define MAX_SEEN 64

static struct {
    int fd;
    char base[64];
    route routes[MAX_ROUTES];
    size_t nroutes;
    char *seen[MAX_SEEN];  /* each request as received */
    size_t nseen;
    pthread_mutex_t lock;
    pthread_t thread;
    atomic_int stop; /* written by the test, read by the server thread */
} srv;

static void expand(mcp_buf *out, const char *text)
{
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, "{BASE}");
        if (!hit) {
            mcp_buf_append_cstr(out, p);
            break;
        }
        mcp_buf_append(out, p, (size_t)(hit - p));
        mcp_buf_append_cstr(out, srv.base);
        p = hit + 6;
    }
}

static void respond(int fd, const char *request)
{
    char method[16] = "", target[2048] = "";
    sscanf(request, "%15s %2047s", method, target);
    size_t path_len = strcspn(target, "?");
    const route *r = NULL;
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < srv.nroutes && !r; i++)
        if (!strcmp(srv.routes[i].method, method) && strlen(srv.routes[i].path) == path_len &&
            !strncmp(srv.routes[i].path, target, path_len))
            r = &srv.routes[i];
    route copy = r ? *r : (route){.status = 404, .body = "{\"error\":\"not_found\"}"};
    pthread_mutex_unlock(&srv.lock);
    if (copy.kind == PROTECTED) {
        /* The MCP endpoint: 401 without the token, else a result for the
         * request's id (202 for a notification). */
        const char *id = strstr(request, "\"id\":");
        char reply_body[512];
        int status = 200;
        if (!strstr(request, "\r\nAuthorization: Bearer tok-1\r\n")) {
            status = 401;
            snprintf(reply_body, sizeof reply_body, "{\"error\":\"invalid_token\"}");
        } else if (!id) {
            status = 202;
            reply_body[0] = '\0';
        } else {
            snprintf(reply_body, sizeof reply_body, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":%s}",
                     strtol(id + 5, NULL, 10), copy.body);
        }
        char out[1024];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nConnection: close\r\n%s"
                         "Content-Length: %zu\r\n\r\n%s",
                         status, status == 401 ? "WWW-Authenticate: Bearer scope=\"s1\"\r\n" : "",
                         strlen(reply_body), reply_body);
        (void)!write(fd, out, (size_t)n);
        return;
    }
    if (copy.kind == HANG) {
        while (!srv.stop)
            usleep(10000);
        return;
    }
    mcp_buf head, body;
    mcp_buf_init(&head);
    mcp_buf_init(&body);
    if (copy.body)
        expand(&body, copy.body);
    if (copy.kind == AUTHORIZE) {
        /* Approve at once: back to redirect_uri with the request's state. */
        mcp_buf redirect, state;
        mcp_buf_init(&redirect);
        mcp_buf_init(&state);
        char url[2100];
        snprintf(url, sizeof url, "http://x%s", target);
        assert_true(mcp_oauth_query_param(url, "redirect_uri", &redirect, NULL));
        mcp_oauth_query_param(url, "state", &state, NULL);
        mcp_buf_appendf(&head, "Location: %s?code=the-code&state=", redirect.data);
        mcp_oauth_form_escape(&head, state.data ? state.data : "", state.len);
        if (copy.iss == ISS_RIGHT)
            mcp_buf_appendf(&head, "&iss=%s", srv.base);
        else if (copy.iss == ISS_WRONG)
            mcp_buf_append_cstr(&head, "&iss=https%3A%2F%2Fevil.example");
        mcp_buf_append_cstr(&head, "\r\n");
        mcp_buf_free(&redirect);
        mcp_buf_free(&state);
    }
    if (copy.headers)
        expand(&head, copy.headers);
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_buf_appendf(&out, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nConnection: close\r\n%s"
                          "Content-Length: %zu\r\n\r\n",
                    copy.status, head.data ? head.data : "", body.len);
    mcp_buf_append(&out, body.data, body.len);
    (void)!write(fd, out.data, out.len);
    mcp_buf_free(&out);
    mcp_buf_free(&head);
    mcp_buf_free(&body);
}

static void serve_one(int fd)
{
    mcp_buf req;
    mcp_buf_init(&req);
    char chunk[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        mcp_buf_append(&req, chunk, (size_t)n);
        const char *end = strstr(req.data, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(req.data, "Content-Length:");
        size_t want = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
        if (req.len >= (size_t)(end + 4 - req.data) + want)
            break;
    }
    if (req.len) {
        pthread_mutex_lock(&srv.lock);
        if (srv.nseen < MAX_SEEN)
            srv.seen[srv.nseen++] = strdup(req.data);
        pthread_mutex_unlock(&srv.lock);
        respond(fd, req.data);
    }
    mcp_buf_free(&req);
    close(fd);
}

static void *serve(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        struct pollfd p = {.fd = srv.fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(srv.fd, NULL, NULL);
        if (fd >= 0)
            serve_one(fd);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.lock, NULL);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(srv.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.fd, 16), 0);
    getsockname(srv.fd, (struct sockaddr *)&a, &len);
    snprintf(srv.base, sizeof srv.base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_create(&srv.thread, NULL, serve, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv.stop = 1;
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    for (size_t i = 0; i < srv.nseen; i++)
        free(srv.seen[i]);
    pthread_mutex_destroy(&srv.lock);
    return 0;
}

static void add(route r)
{
    pthread_mutex_lock(&srv.lock);
    /* A later route for the same request replaces the earlier one. */
    size_t i = 0;
    while (i < srv.nroutes && !(!strcmp(srv.routes[i].method, r.method) && !strcmp(srv.routes[i].path, r.path)))
        i++;
    srv.routes[i] = r;
    if (i == srv.nroutes)
        srv.nroutes++;
    pthread_mutex_unlock(&srv.lock);
}

/* The request whose first line starts with prefix (the n-th such, from 0). */
static const char *seen(const char *prefix, size_t nth)
{
    const char *found = NULL;
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < srv.nseen && !found; i++)
        if (!strncmp(srv.seen[i], prefix, strlen(prefix)) && nth-- == 0)
            found = srv.seen[i];
    pthread_mutex_unlock(&srv.lock);
    return found;
}

static size_t count(const char *prefix)
{
    size_t n = 0;
    while (seen(prefix, n))
        n++;
    return n;
}

/* ---- The scripted servers --------------------------------------------------------- */

#define PRM_BODY "{\"resource\":\"{BASE}/mcp\",\"authorization_servers\":[\"{BASE}\"],\"scopes_supported\":[\"s1\",\"s2\"]}"
#define AS_BODY                                                                                                        \
    "{\"issuer\":\"{BASE}\",\"authorization_endpoint\":\"{BASE}/authorize\",\"token_endpoint\":\"{BASE}/token\","      \
    "\"registration_endpoint\":\"{BASE}/register\",\"code_challenge_methods_supported\":[\"S256\"],"                   \
    "\"token_endpoint_auth_methods_supported\":[\"none\"],\"authorization_response_iss_parameter_supported\":true}"

static void script_good(void)
{
    add((route){"GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL, PRM_BODY, PLAIN, 0});
    add((route){"GET", "/.well-known/oauth-authorization-server", 200, NULL, AS_BODY, PLAIN, 0});
    add((route){"POST", "/register", 201, NULL, "{\"client_id\":\"cid-1\"}", PLAIN, 0});
    add((route){"GET", "/authorize", 302, NULL, "", AUTHORIZE, ISS_RIGHT});
    add((route){"POST", "/token", 200, NULL,
                "{\"access_token\":\"tok-1\",\"token_type\":\"Bearer\",\"expires_in\":60,\"refresh_token\":\"r-1\"}",
                PLAIN, 0});
}

static mcp_oauth *client(const mcp_oauth_opts *opts)
{
    char url[96];
    snprintf(url, sizeof url, "%s/mcp", srv.base);
    mcp_oauth *o = mcp_oauth_new(opts ? opts : &(mcp_oauth_opts){0}, url,
                                 &(mcp_connect_opts){.connect_timeout_ms = 2000});
    assert_non_null(o);
    return o;
}

static int challenge(mcp_oauth *o, int status, const char *www, char *why)
{
    char head[1024];
    snprintf(head, sizeof head, "HTTP/1.1 %d X\r\n%s%s%s\r\n", status, www ? "WWW-Authenticate: " : "",
             www ? www : "", www ? "\r\n" : "");
    return mcp_oauth_on_challenge(o, status, head, strlen(head), why, 600);
}

/* A form or query parameter of a recorded request's target or body. */
static bool param(const char *request, const char *name, mcp_buf *out)
{
    char url[4096];
    const char *body = strstr(request, "\r\n\r\n");
    if (!strncmp(request, "GET ", 4))
        snprintf(url, sizeof url, "http://x%.*s", (int)strcspn(request + 4, " "), request + 4);
    else
        snprintf(url, sizeof url, "http://x/?%s", body ? body + 4 : "");
    return mcp_oauth_query_param(url, name, out, NULL);
}

/* ---- Tests ------------------------------------------------------------------------------ */

static void test_authorization_code_flow(void **state)
{
    (void)state;
    script_good();
    mcp_oauth *o = client(NULL);
    char why[600] = "";
    char www[256];
    snprintf(www, sizeof www, "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource/mcp\"", srv.base);
    assert_null(mcp_oauth_token(o));
    assert_int_equal(challenge(o, 401, www, why), 0);
    assert_string_equal(mcp_oauth_token(o), "tok-1");

    const char *reg = seen("POST /register", 0);
    assert_non_null(reg);
    assert_non_null(strstr(reg, "\"application_type\":\"native\""));
    assert_non_null(strstr(reg, "\"refresh_token\""));
    const char *authz = seen("GET /authorize", 0);
    assert_non_null(authz);
    mcp_buf v, challenge_sent;
    mcp_buf_init(&v);
    mcp_buf_init(&challenge_sent);
    assert_true(param(authz, "client_id", &v));
    assert_string_equal(v.data, "cid-1");
    assert_true(param(authz, "code_challenge_method", &v));
    assert_string_equal(v.data, "S256");
    assert_true(param(authz, "code_challenge", &challenge_sent));
    assert_true(param(authz, "resource", &v));
    char resource[96];
    snprintf(resource, sizeof resource, "%s/mcp", srv.base);
    assert_string_equal(v.data, resource);
    /* No scope in the challenge: all of scopes_supported. */
    assert_true(param(authz, "scope", &v));
    assert_string_equal(v.data, "s1 s2");

    const char *token = seen("POST /token", 0);
    assert_non_null(token);
    assert_true(param(token, "grant_type", &v));
    assert_string_equal(v.data, "authorization_code");
    assert_true(param(token, "code", &v));
    assert_string_equal(v.data, "the-code");
    assert_true(param(token, "resource", &v));
    assert_string_equal(v.data, resource);
    assert_true(param(token, "client_id", &v));
    assert_string_equal(v.data, "cid-1");
    /* The verifier sent matches the challenge sent before it. */
    assert_true(param(token, "code_verifier", &v));
    mcp_buf computed;
    mcp_buf_init(&computed);
    assert_int_equal(mcp_oauth_pkce_challenge(v.data, &computed), 0);
    assert_string_equal(computed.data, challenge_sent.data);
    assert_null(strstr(token, "Authorization: Basic"));

    /* A stored token that would break its header line counts as none. */
    mcp_oauth *bad = client(&(mcp_oauth_opts){.access_token = "t\r\nX-Evil: 1"});
    assert_null(mcp_oauth_token(bad));
    mcp_oauth_free(bad);

    /* The token goes out as a Bearer header. */
    mcp_buf headers;
    mcp_buf_init(&headers);
    assert_int_equal(mcp_oauth_headers_append(o, "POST", &headers), 0);
    assert_string_equal(headers.data, "Authorization: Bearer tok-1\r\n");

    /* An expired token: the refresh token first, no new authorization. */
    add((route){"POST", "/token", 200, NULL, "{\"access_token\":\"tok-2\",\"token_type\":\"bearer\"}", PLAIN, 0});
    mcp_oauth_on_success(o);
    assert_int_equal(challenge(o, 401, www, why), 0);
    assert_string_equal(mcp_oauth_token(o), "tok-2");
    assert_int_equal(count("GET /authorize"), 1);
    assert_true(param(seen("POST /token", 1), "grant_type", &v));
    assert_string_equal(v.data, "refresh_token");
    assert_true(param(seen("POST /token", 1), "refresh_token", &v));
    assert_string_equal(v.data, "r-1");

    mcp_buf_free(&headers);
    mcp_buf_free(&computed);
    mcp_buf_free(&v);
    mcp_buf_free(&challenge_sent);
    mcp_oauth_free(o);
}

/* Each setup the client must refuse, and the request it must not make.
 * A server's refusal is final: asked again, the client answers the same
 * without a request. Only what may pass (nothing found, nothing reached)
 * is tried again. */
static void expect_refusal_of(int rc_want, const char *why_has, const char *never, bool final)
{
    mcp_oauth *o = client(NULL);
    char why[600] = "";
    int rc = challenge(o, 401, "Bearer", why);
    if (rc != rc_want || !strstr(why, why_has))
        fail_msg("rc %d (want %d), why: %s", rc, rc_want, why);
    assert_null(mcp_oauth_token(o));
    if (never)
        assert_null(seen(never, 0));
    /* Final: asked again, the same answer without a request. */
    size_t before = srv.nseen;
    char again[600] = "";
    assert_int_equal(challenge(o, 401, "Bearer", again), rc_want);
    assert_string_equal(again, why);
    if (final)
        assert_int_equal(srv.nseen, before);
    else
        assert_true(srv.nseen > before);
    mcp_oauth_free(o);
}

static void expect_refusal(int rc_want, const char *why_has, const char *never)
{
    expect_refusal_of(rc_want, why_has, never, true);
}

static void test_resource_for_another_server(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL,
                "{\"resource\":\"https://evil.example/mcp\",\"authorization_servers\":[\"{BASE}\"]}", PLAIN, 0});
    expect_refusal(MCP_EPROTO, "https://evil.example/mcp", "GET /.well-known/oauth-authorization-server");
}

static void test_broken_resource_metadata(void **state)
{
    (void)state;
    script_good();
    static const struct {
        const char *body;
        const char *why;
    } cases[] = {
        {"{\"authorization_servers\":[\"{BASE}\"]}", "(none)"},
        {"{\"resource\":7,\"authorization_servers\":[\"{BASE}\"]}", "(none)"},
        {"{\"resource\":\"{BASE}/mcp\"}", "no authorization server"},
        {"{\"resource\":\"{BASE}/mcp\",\"authorization_servers\":\"{BASE}\"}", "no authorization server"},
        {"{\"resource\":\"{BASE}/mcp\",\"authorization_servers\":[\"ftp://as\"]}", "no authorization server"},
        {"{\"resource\":\"{BASE}/mcp\",\"authorization_servers\":[]}", "no authorization server"},
        {"{\"resource\":\"{BASE}/other\",\"authorization_servers\":[\"{BASE}\"]}", "/other"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        add((route){"GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL, cases[i].body, PLAIN, 0});
        expect_refusal(MCP_EPROTO, cases[i].why, "GET /.well-known/oauth-authorization-server");
    }
    /* Not JSON, or not an object: as if there were none (then the root). */
    add((route){"GET", "/.well-known/oauth-protected-resource/mcp", 200, NULL, "[1,2]", PLAIN, 0});
    add((route){"GET", "/.well-known/oauth-protected-resource", 200, NULL, PRM_BODY, PLAIN, 0});
    mcp_oauth *o = client(NULL);
    char why[600];
    assert_int_equal(challenge(o, 401, "Bearer", why), 0);
    mcp_oauth_free(o);
}

static void test_foreign_issuer(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-authorization-server", 200, NULL,
                "{\"issuer\":\"https://attacker.example\",\"authorization_endpoint\":\"{BASE}/authorize\","
                "\"token_endpoint\":\"{BASE}/token\",\"code_challenge_methods_supported\":[\"S256\"]}",
                PLAIN, 0});
    expect_refusal(MCP_EPROTO, "attacker.example", "POST /register");
}

static void test_no_pkce(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-authorization-server", 200, NULL,
                "{\"issuer\":\"{BASE}\",\"authorization_endpoint\":\"{BASE}/authorize\",\"token_endpoint\":\"{BASE}/token\","
                "\"registration_endpoint\":\"{BASE}/register\",\"code_challenge_methods_supported\":[\"plain\"]}",
                PLAIN, 0});
    expect_refusal(MCP_EUNSUPPORTED, "PKCE", "GET /authorize");
}

static void test_bad_metadata(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-authorization-server", 200, NULL,
                "{\"issuer\":\"{BASE}\",\"authorization_endpoint\":\"javascript:x\",\"token_endpoint\":\"{BASE}/token\"}",
                PLAIN, 0});
    expect_refusal(MCP_EPROTO, "not an http(s) URL", "GET /authorize");
}

static void test_no_metadata_anywhere(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-authorization-server", 404, NULL, "", PLAIN, 0});
    add((route){"GET", "/.well-known/openid-configuration", 200, NULL, "not json", PLAIN, 0});
    expect_refusal_of(MCP_ENOTFOUND, "no authorization server metadata", "POST /register", false);
}

static void test_authorization_needs_a_person(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/authorize", 200, NULL, "<html>log in</html>", PLAIN, 0});
    expect_refusal(MCP_EUNSUPPORTED, "browser", "POST /token");
}

static void test_authorization_endpoint_missing(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/authorize", 404, NULL, "", PLAIN, 0});
    expect_refusal(MCP_EPROTO, "answered HTTP 404, not a redirect", "POST /token");
}

static void test_wrong_iss(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/authorize", 302, NULL, "", AUTHORIZE, ISS_WRONG});
    expect_refusal(MCP_EPROTO, "evil.example", "POST /token");
}

static void test_missing_iss(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/authorize", 302, NULL, "", AUTHORIZE, ISS_NONE});
    expect_refusal(MCP_EPROTO, "iss", "POST /token");
}

static void test_token_refused(void **state)
{
    (void)state;
    script_good();
    add((route){"POST", "/token", 400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"code used\"}",
                PLAIN, 0});
    expect_refusal(MCP_EPROTO, "invalid_grant", NULL);
}

static void test_registration_refused(void **state)
{
    (void)state;
    script_good();
    add((route){"POST", "/register", 400, NULL, "{\"error\":\"invalid_client_metadata\"}", PLAIN, 0});
    expect_refusal(MCP_EPROTO, "invalid_client_metadata", "GET /authorize");
}

static void test_token_unfit_for_a_header(void **state)
{
    (void)state;
    script_good();
    add((route){"POST", "/token", 200, NULL, "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\"}",
                PLAIN, 0});
    expect_refusal(MCP_EPROTO, "header", NULL);
}

static void test_step_up_and_retry_bound(void **state)
{
    (void)state;
    script_good();
    mcp_oauth *o = client(NULL);
    char why[600];
    assert_int_equal(challenge(o, 401, "Bearer scope=\"a\"", why), 0);
    mcp_buf v;
    mcp_buf_init(&v);
    assert_true(param(seen("GET /authorize", 0), "scope", &v));
    assert_string_equal(v.data, "a");
    /* 403 insufficient_scope: what was asked before and what is wanted now. */
    assert_int_equal(challenge(o, 403, "Bearer error=\"insufficient_scope\", scope=\"b\"", why), 0);
    assert_true(param(seen("GET /authorize", 1), "scope", &v));
    assert_string_equal(v.data, "a b");
    /* A 403 that is not about scope fails that request only. */
    assert_int_equal(challenge(o, 403, "Bearer error=\"invalid_token\"", why), MCP_EPROTO);
    assert_int_equal(challenge(o, 403, "Bearer error=\"insufficient_scope\", scope=\"c\"", why), 0);
    assert_int_equal(count("GET /authorize"), 3);
    /* Three authorizations in a row and no success: the fourth is refused. */
    assert_int_equal(challenge(o, 403, "Bearer error=\"insufficient_scope\", scope=\"d\"", why), MCP_ELIMIT);
    assert_non_null(strstr(why, "3 authorizations"));
    assert_int_equal(count("GET /authorize"), 3);
    mcp_buf_free(&v);
    mcp_oauth_free(o);

    /* A success in between resets the bound. */
    o = client(NULL);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(challenge(o, 403, "Bearer error=\"insufficient_scope\", scope=\"x\"", why), 0);
        mcp_oauth_on_success(o);
    }
    mcp_oauth_free(o);
}

static void test_offline_access_and_preregistered(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-authorization-server", 200, NULL,
                "{\"issuer\":\"{BASE}\",\"authorization_endpoint\":\"{BASE}/authorize\",\"token_endpoint\":\"{BASE}/token\","
                "\"code_challenge_methods_supported\":[\"S256\"],\"scopes_supported\":[\"s1\",\"offline_access\"],"
                "\"token_endpoint_auth_methods_supported\":[\"client_secret_post\",\"client_secret_basic\"]}",
                PLAIN, 0});
    add((route){"GET", "/authorize", 302, NULL, "", AUTHORIZE, ISS_NONE});
    mcp_oauth *o = client(&(mcp_oauth_opts){.client_id = "pre", .client_secret = "s3cret"});
    char why[600];
    assert_int_equal(challenge(o, 401, "Bearer scope=\"s1\"", why), 0);
    mcp_buf v;
    mcp_buf_init(&v);
    assert_true(param(seen("GET /authorize", 0), "scope", &v));
    assert_string_equal(v.data, "s1 offline_access");
    assert_null(seen("POST /register", 0));
    /* client_secret_basic preferred among those listed; pre:s3cret. */
    assert_non_null(strstr(seen("POST /token", 0), "Authorization: Basic cHJlOnMzY3JldA=="));
    assert_false(param(seen("POST /token", 0), "client_secret", &v));
    mcp_buf_free(&v);
    mcp_oauth_free(o);
}

static void test_stored_refresh_token(void **state)
{
    (void)state;
    script_good();
    /* A refresh token from an earlier run, for a client we know. */
    mcp_oauth *o = client(&(mcp_oauth_opts){.client_id = "pre", .refresh_token = "stored-r"});
    char why[600];
    assert_int_equal(challenge(o, 401, "Bearer", why), 0);
    assert_string_equal(mcp_oauth_token(o), "tok-1");
    assert_null(seen("GET /authorize", 0));
    mcp_buf v;
    mcp_buf_init(&v);
    assert_true(param(seen("POST /token", 0), "refresh_token", &v));
    assert_string_equal(v.data, "stored-r");
    mcp_oauth_free(o);
    /* A client registered on an earlier run with this server: refreshed, no
     * registration; with another server it counts for nothing. */
    o = client(&(mcp_oauth_opts){.refresh_token = "stored-r", .registered_issuer = srv.base,
                                 .registered_client_id = "reg-0", .registered_client_secret = "sec-0"});
    assert_int_equal(challenge(o, 401, "Bearer", why), 0);
    assert_null(seen("POST /register", 0));
    assert_null(seen("GET /authorize", 0));
    assert_true(param(seen("POST /token", 1), "refresh_token", &v));
    assert_true(param(seen("POST /token", 1), "client_id", &v));
    assert_string_equal(v.data, "reg-0");
    mcp_oauth_free(o);
    o = client(&(mcp_oauth_opts){.refresh_token = "stored-r", .registered_issuer = "https://other.example",
                                 .registered_client_id = "reg-0"});
    assert_int_equal(challenge(o, 401, "Bearer", why), 0);
    assert_non_null(seen("POST /register", 0));
    assert_int_equal(count("GET /authorize"), 1);
    assert_true(param(seen("GET /authorize", 0), "client_id", &v));
    assert_string_equal(v.data, "cid-1");
    mcp_oauth_free(o);
    /* For a client that would have to register anew: no refresh. */
    o = client(&(mcp_oauth_opts){.refresh_token = "stored-r"});
    assert_int_equal(challenge(o, 401, "Bearer", why), 0);
    assert_int_equal(count("GET /authorize"), 2);
    assert_true(param(seen("POST /token", 3), "grant_type", &v));
    assert_string_equal(v.data, "authorization_code");
    mcp_buf_free(&v);
    mcp_oauth_free(o);
}

static void test_server_that_never_answers(void **state)
{
    (void)state;
    script_good();
    add((route){"GET", "/.well-known/oauth-protected-resource/mcp", 0, NULL, NULL, HANG, 0});
    add((route){"GET", "/.well-known/oauth-protected-resource", 0, NULL, NULL, HANG, 0});
    char url[96];
    snprintf(url, sizeof url, "%s/mcp", srv.base);
    mcp_oauth *o = mcp_oauth_new(&(mcp_oauth_opts){0}, url, &(mcp_connect_opts){.connect_timeout_ms = 150});
    char why[600] = "";
    uint64_t t0 = mcp_now_ns();
    int rc = challenge(o, 401, "Bearer", why);
    uint64_t ms = (mcp_now_ns() - t0) / 1000000u;
    /* The metadata requests time out (one at a time, the server serves one
     * connection at a time), then the 2025-03-26 fallback finds nothing
     * either: the flow ends, bounded, with a reason. */
    assert_int_not_equal(rc, 0);
    assert_true(why[0] != '\0');
    assert_true(ms < 3000);
    mcp_oauth_free(o);
}

/* Through the Streamable HTTP connector: the 401 is answered inside the
 * transport, the request goes again with the token, and the client only
 * ever sees results. */
static void test_connector_authorizes(void **state)
{
    (void)state;
    script_good();
    add((route){"POST", "/mcp", 0, NULL,
                "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"},"
                "\"tools\":[]}",
                PROTECTED, 0});
    char url[96];
    snprintf(url, sizeof url, "%s/mcp", srv.base);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_http(url, &(mcp_connect_opts){.oauth = &(mcp_oauth_opts){0}}, &t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = t});
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    mcp_client_result r = {0};
    assert_int_equal(mcp_client_call_sync(c, "tools/list", NULL, NULL, &r), 0);
    assert_non_null(strstr(r.json, "\"tools\":[]"));
    mcp_client_result_free(&r);
    /* One authorization: the first POST met the 401, every later one had the token. */
    assert_int_equal(count("GET /authorize"), 1);
    assert_int_equal(count("POST /mcp"), 4); /* initialize twice, notifications/initialized, tools/list */
    assert_null(strstr(seen("POST /mcp", 0), "Authorization:"));
    for (size_t i = 1; i < 4; i++)
        assert_non_null(strstr(seen("POST /mcp", i), "Authorization: Bearer tok-1"));
    mcp_client_free(c);

    /* Without OAuth the 401 reaches the caller, with its status. */
    assert_int_equal(mcp_connect_http(url, NULL, &t), 0);
    c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = t});
    assert_int_equal(mcp_client_connect(c, 5000, &r), MCP_CLIENT_RPC_ERROR);
    assert_non_null(strstr(r.json, "HTTP 401"));
    mcp_client_result_free(&r);
    mcp_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_authorization_code_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_for_another_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_resource_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_pkce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_metadata_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorization_needs_a_person, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorization_endpoint_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_iss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_iss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_unfit_for_a_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_up_and_retry_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_access_and_preregistered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_refresh_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_that_never_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_authorizes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
