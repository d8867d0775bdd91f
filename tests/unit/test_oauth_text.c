/* The text of the OAuth client: WWW-Authenticate challenges, raw header
 * lookup, well-known URLs, the resource match, form and query encoding,
 * base64url and scope lists — with the broken input a server could send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/oauth.h"

static int parse(const char *text, mcp_oauth_challenge *ch)
{
    return mcp_oauth_challenge_parse(text, strlen(text), ch);
}

static void test_challenge_fields(void **state)
{
    (void)state;
    mcp_oauth_challenge ch;
    assert_int_equal(parse("Bearer resource_metadata=\"http://h:1/.well-known/oauth-protected-resource/mcp\", "
                           "scope=\"a b\", error=\"insufficient_scope\"", &ch), 0);
    assert_true(ch.bearer);
    assert_string_equal(ch.resource_metadata, "http://h:1/.well-known/oauth-protected-resource/mcp");
    assert_string_equal(ch.scope, "a b");
    assert_string_equal(ch.error, "insufficient_scope");

    /* Unknown params are skipped; a bare token is a value too. */
    assert_int_equal(parse("Bearer error=invalid_token, error_description=\"Missing, header\", realm=x", &ch), 0);
    assert_true(ch.bearer);
    assert_string_equal(ch.error, "invalid_token");
    assert_string_equal(ch.scope, "");

    /* Scheme names are case-insensitive, as are parameter names. */
    assert_int_equal(parse("bearer SCOPE=\"s\"", &ch), 0);
    assert_true(ch.bearer);
    assert_string_equal(ch.scope, "s");

    /* Escapes in quoted strings. */
    assert_int_equal(parse("Bearer scope=\"a\\\"b\\\\c\"", &ch), 0);
    assert_string_equal(ch.scope, "a\"b\\c");

    /* A bare scheme. */
    assert_int_equal(parse("Bearer", &ch), 0);
    assert_true(ch.bearer);
}

static void test_challenge_among_others(void **state)
{
    (void)state;
    mcp_oauth_challenge ch;
    assert_int_equal(parse("Basic realm=\"x\", Bearer scope=\"s\", resource_metadata=\"http://h/m\"", &ch), 0);
    assert_true(ch.bearer);
    assert_string_equal(ch.scope, "s");
    assert_string_equal(ch.resource_metadata, "http://h/m");

    /* A token68 challenge before it. */
    assert_int_equal(parse("Negotiate abc+/==, Bearer scope=\"t\"", &ch), 0);
    assert_string_equal(ch.scope, "t");

    /* The parameters of a later challenge do not leak into Bearer's. */
    assert_int_equal(parse("Bearer realm=\"a\", DPoP algs=\"ES256\", scope=\"not-ours\"", &ch), 0);
    assert_true(ch.bearer);
    assert_string_equal(ch.scope, "");

    /* Only the first Bearer challenge counts. */
    assert_int_equal(parse("Bearer scope=\"one\", Bearer scope=\"two\"", &ch), 0);
    assert_string_equal(ch.scope, "one");

    /* DPoP (RFC 9449 7.1) challenges count as Bearer ones do. */
    assert_int_equal(parse("DPoP error=\"use_dpop_nonce\", resource_metadata=\"http://h/m\"", &ch), 0);
    assert_true(ch.dpop);
    assert_false(ch.bearer);
    assert_string_equal(ch.error, "use_dpop_nonce");
    assert_string_equal(ch.resource_metadata, "http://h/m");
    assert_int_equal(parse("DPoP algs=\"ES256\", scope=\"d\", Bearer scope=\"b\"", &ch), 0);
    assert_true(ch.dpop && ch.bearer);
    assert_string_equal(ch.scope, "d");

    /* Other schemes only: parsed, no Bearer. */
    assert_int_equal(parse("Basic realm=\"x\"", &ch), 0);
    assert_false(ch.bearer);
    assert_false(ch.dpop);
}

static void test_challenge_broken(void **state)
{
    (void)state;
    mcp_oauth_challenge ch;
    static const char *const bad[] = {
        "",
        "   ,  ",
        "Bearer scope=\"unterminated",
        "Bearer scope=",
        "Bearer =x",
        "Bearer scope=\"a\"junk",
        "Bearer scope=\"a\" error=\"b\"",
        "Bearer scope=\"tab\tok but \x01 not\"",
        "Bearer scope=\"a\\",
        "\"Bearer\"",
        "Bearer/x scope=a",
        "Negotiate abc def",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &ch), MCP_EPARSE);
        assert_false(ch.bearer);
        assert_string_equal(ch.scope, "");
    }
    assert_int_equal(mcp_oauth_challenge_parse(NULL, 0, &ch), MCP_EPARSE);

    /* Too long for its field: refused, not cut. */
    char text[3000] = "Bearer scope=\"";
    size_t n = strlen(text);
    memset(text + n, 'x', 2000);
    strcpy(text + n + 2000, "\"");
    assert_int_equal(parse(text, &ch), MCP_ELIMIT);
    assert_false(ch.bearer);
    /* ... unless it is a parameter we do not keep. */
    memcpy(text, "Bearer other=\"", 14);
    assert_int_equal(parse(text, &ch), 0);
    assert_true(ch.bearer);

    /* Length-bounded: what follows len is not read. */
    const char *cut = "Bearer scope=\"abc\"garbage";
    assert_int_equal(mcp_oauth_challenge_parse(cut, 18, &ch), 0);
    assert_string_equal(ch.scope, "abc");
}

static void test_head_values(void **state)
{
    (void)state;
    const char *head = "HTTP/1.1 401 Unauthorized\r\n"
                       "Content-Type: application/json\r\n"
                       "www-authenticate:   Basic realm=\"x\"  \r\n"
                       "X-Other: y\r\n"
                       "WWW-Authenticate: Bearer scope=\"s\"\r\n"
                       "\r\n"
                       "Location: http://not/a/header\r\n";
    mcp_buf v;
    mcp_buf_init(&v);
    assert_true(mcp_oauth_head_value(head, strlen(head), "WWW-Authenticate", &v));
    assert_string_equal(v.data, "Basic realm=\"x\", Bearer scope=\"s\"");
    mcp_buf_reset(&v);
    assert_false(mcp_oauth_head_value(head, strlen(head), "Location", &v));
    assert_false(mcp_oauth_head_value(head, strlen(head), "WWW-Authenticat", &v));
    assert_int_equal(v.len, 0);
    /* Bare LF line ends, and a head without any line end. */
    const char *lf = "HTTP/1.1 302 Found\nLocation: http://h/cb?code=1\n\n";
    assert_true(mcp_oauth_head_value(lf, strlen(lf), "location", &v));
    assert_string_equal(v.data, "http://h/cb?code=1");
    mcp_buf_reset(&v);
    assert_false(mcp_oauth_head_value("HTTP/1.1 200 OK", 15, "Location", &v));
    assert_false(mcp_oauth_head_value("", 0, "Location", &v));
    mcp_buf_free(&v);
}

static size_t urls(int (*fn)(const char *, mcp_buf *, size_t *), const char *in, mcp_buf *out, int *rc)
{
    size_t count = 99;
    mcp_buf_reset(out);
    *rc = fn(in, out, &count);
    return count;
}

static void test_well_known_urls(void **state)
{
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    int rc;
    assert_int_equal(urls(mcp_oauth_prm_urls, "http://h:1/mcp", &b, &rc), 2);
    assert_int_equal(rc, 0);
    assert_string_equal(b.data, "http://h:1/.well-known/oauth-protected-resource/mcp");
    assert_string_equal(b.data + strlen(b.data) + 1, "http://h:1/.well-known/oauth-protected-resource");
    assert_int_equal(urls(mcp_oauth_prm_urls, "http://h:1/a/b?x=1#f", &b, &rc), 2);
    assert_string_equal(b.data, "http://h:1/.well-known/oauth-protected-resource/a/b");
    assert_int_equal(urls(mcp_oauth_prm_urls, "http://h:1/", &b, &rc), 1);
    assert_string_equal(b.data, "http://h:1/.well-known/oauth-protected-resource");
    assert_int_equal(urls(mcp_oauth_prm_urls, "http://h:1", &b, &rc), 1);

    assert_int_equal(urls(mcp_oauth_as_urls, "http://as:2/tenant1", &b, &rc), 3);
    const char *u = b.data;
    assert_string_equal(u, "http://as:2/.well-known/oauth-authorization-server/tenant1");
    u += strlen(u) + 1;
    assert_string_equal(u, "http://as:2/.well-known/openid-configuration/tenant1");
    u += strlen(u) + 1;
    assert_string_equal(u, "http://as:2/tenant1/.well-known/openid-configuration");
    assert_int_equal(urls(mcp_oauth_as_urls, "https://as/t/", &b, &rc), 3);
    assert_string_equal(b.data, "https://as/.well-known/oauth-authorization-server/t");
    assert_int_equal(urls(mcp_oauth_as_urls, "http://as:2", &b, &rc), 2);
    assert_string_equal(b.data, "http://as:2/.well-known/oauth-authorization-server");
    assert_string_equal(b.data + strlen(b.data) + 1, "http://as:2/.well-known/openid-configuration");

    static const char *const bad[] = {"ftp://h/x", "http://", "http:///x", "http://u@h/x", "http://h/a b",
                                      "h:1/mcp", "", "http://h/\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(urls(mcp_oauth_prm_urls, bad[i], &b, &rc), 0);
        assert_int_equal(rc, MCP_EINVAL);
        assert_int_equal(urls(mcp_oauth_as_urls, bad[i], &b, &rc), 0);
        assert_int_equal(rc, MCP_EINVAL);
    }
    /* RFC 8414: an issuer has no query or fragment. */
    assert_int_equal(urls(mcp_oauth_as_urls, "http://as/t?x=1", &b, &rc), 0);
    assert_int_equal(rc, MCP_EINVAL);
    assert_int_equal(urls(mcp_oauth_as_urls, "http://as/t#f", &b, &rc), 0);
    assert_int_equal(rc, MCP_EINVAL);
    assert_int_equal(mcp_oauth_as_urls(NULL, &b, &(size_t){0}), MCP_EINVAL);
    mcp_buf_free(&b);
}

static void test_resource_match(void **state)
{
    (void)state;
    assert_true(mcp_oauth_resource_matches("http://h:1/mcp", "http://h:1/mcp"));
    assert_true(mcp_oauth_resource_matches("http://h:1", "http://h:1/mcp"));
    assert_true(mcp_oauth_resource_matches("http://h:1/", "http://h:1/mcp"));
    assert_true(mcp_oauth_resource_matches("HTTP://H:1/mcp", "http://h:1/mcp"));
    assert_true(mcp_oauth_resource_matches("http://h:1/a", "http://h:1/a/mcp"));
    assert_true(mcp_oauth_resource_matches("http://h:1/mcp/", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("https://evil.example.com/mcp", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("http://h:2/mcp", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("https://h:1/mcp", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("http://h:1/mc", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("http://h:1/mcp/x", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("http://h:1/mcp#f", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("http://h:1.evil/mcp", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("urn:x", "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches(NULL, "http://h:1/mcp"));
    assert_false(mcp_oauth_resource_matches("", "http://h:1/mcp"));
}

static void test_form_and_query(void **state)
{
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    mcp_oauth_form_escape(&b, "a b&c=d/\xc3\xa9~-._", 14);
    assert_string_equal(b.data, "a%20b%26c%3Dd%2F%C3%A9~-._");
    mcp_buf_reset(&b);
    mcp_oauth_form_add(&b, "grant_type", "authorization_code");
    mcp_oauth_form_add(&b, "redirect_uri", "http://127.0.0.1/cb?x=1");
    assert_string_equal(b.data, "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb%3Fx%3D1");
    mcp_buf_reset(&b);
    mcp_buf_append_cstr(&b, "http://as/authorize?");
    mcp_oauth_form_add(&b, "scope", "a b");
    assert_string_equal(b.data, "http://as/authorize?scope=a%20b");

    const char *back = "http://127.0.0.1/callback?code=abc&state=x%2By+z&iss=http%3A%2F%2Flocalhost%3A1&codex=no"
                       "&empty=&bad=%zz&nul=%00#frag=1";
    bool bad = true;
    assert_true(mcp_oauth_query_param(back, "code", &b, &bad));
    assert_false(bad);
    assert_string_equal(b.data, "abc");
    assert_true(mcp_oauth_query_param(back, "state", &b, NULL));
    assert_string_equal(b.data, "x+y z");
    assert_true(mcp_oauth_query_param(back, "iss", &b, NULL));
    assert_string_equal(b.data, "http://localhost:1");
    assert_true(mcp_oauth_query_param(back, "empty", &b, NULL));
    assert_int_equal(b.len, 0);
    assert_false(mcp_oauth_query_param(back, "bad", &b, &bad));
    assert_true(bad);
    assert_false(mcp_oauth_query_param(back, "nul", &b, &bad));
    assert_true(bad);
    assert_false(mcp_oauth_query_param(back, "frag", &b, &bad));
    assert_false(bad);
    assert_false(mcp_oauth_query_param(back, "cod", &b, NULL));
    assert_false(mcp_oauth_query_param("http://h/cb", "code", &b, NULL));
    assert_false(mcp_oauth_query_param("http://h/cb?code=%4", "code", &b, NULL));
    assert_false(mcp_oauth_query_param(NULL, "code", &b, NULL));
    mcp_buf_free(&b);
}

static void test_base64url_and_scopes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {{"", 0, ""}, {"f", 1, "Zg"}, {"fo", 2, "Zm8"}, {"foo", 3, "Zm9v"}, {"foob", 4, "Zm9vYg"},
                 {"\xfb\xff", 2, "-_8"}, {"\x00\x00\x00", 3, "AAAA"}};
    mcp_buf b;
    mcp_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_buf_reset(&b);
        mcp_buf_append_cstr(&b, "");
        mcp_oauth_base64url(&b, (const unsigned char *)cases[i].in, cases[i].len);
        assert_string_equal(b.data, cases[i].out);
    }
    mcp_buf_reset(&b);
    mcp_oauth_scope_union(&b, "a b");
    mcp_oauth_scope_union(&b, "  b c  a ");
    mcp_oauth_scope_union(&b, NULL);
    assert_string_equal(b.data, "a b c");
    assert_true(mcp_oauth_scope_has("mcp:basic offline_access", "offline_access"));
    assert_false(mcp_oauth_scope_has("a bc", "b"));
    assert_false(mcp_oauth_scope_has(NULL, "b"));
    assert_false(mcp_oauth_scope_has("a", ""));
    mcp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_fields),   cmocka_unit_test(test_challenge_among_others),
        cmocka_unit_test(test_challenge_broken),   cmocka_unit_test(test_head_values),
        cmocka_unit_test(test_well_known_urls),    cmocka_unit_test(test_resource_match),
        cmocka_unit_test(test_form_and_query),     cmocka_unit_test(test_base64url_and_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
