/*
 * test_oauth_answer.c — how the OAuth client reads an endpoint's answer:
 * a failure to talk is said with the endpoint and the reason, and the
 * reply is freed; a reply is kept with its body as JSON and the body's
 * "error" member, or no document when the body is not JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/oauth.h"

#include <stdio.h>
#include <string.h>

static mcp_oauth_reply reply_of(int status, const char *body)
{
    mcp_oauth_reply r = {.status = status};
    mcp_buf_init(&r.head);
    mcp_buf_init(&r.body);
    mcp_buf_append_cstr(&r.head, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n");
    mcp_buf_append_cstr(&r.body, body);
    return r;
}

static void test_failure_to_talk(void **state)
{
    (void)state;
    /* What a failed mcp_oauth_http may leave: the reply is freed here. */
    mcp_oauth_reply r = reply_of(0, "partial");
    mcp_oauth_answer a;
    char why[256] = "";
    assert_int_equal(mcp_oauth_answer_read(MCP_ETIMEDOUT, &r, "the token endpoint", "https://as.example/token", &a,
                                           why, sizeof why),
                     MCP_ETIMEDOUT);
    char want[256];
    snprintf(want, sizeof want, "the token endpoint https://as.example/token could not be reached: %s",
             mcp_strerror(MCP_ETIMEDOUT));
    assert_string_equal(why, want);
}

static void test_json_answer(void **state)
{
    (void)state;
    mcp_oauth_reply r = reply_of(400, "{\"error\":\"invalid_grant\",\"error_description\":\"expired\"}");
    mcp_oauth_answer a;
    char why[64] = "";
    assert_int_equal(mcp_oauth_answer_read(0, &r, "the token endpoint", "https://as.example/token", &a, why, sizeof why),
                     0);
    assert_string_equal(why, "");
    assert_int_equal(a.reply.status, 400);
    assert_string_equal(a.error, "invalid_grant");
    assert_string_equal(mcp_json_str(mcp_json_get(a.doc, "error_description"), ""), "expired");
    mcp_oauth_answer_free(&a);

    /* Not JSON: no document and no error, but the reply is there. */
    r = reply_of(502, "<html>bad gateway</html>");
    assert_int_equal(mcp_oauth_answer_read(0, &r, "the registration endpoint", "https://as.example/reg", &a, why,
                                           sizeof why),
                     0);
    assert_null(a.doc);
    assert_null(a.error);
    assert_int_equal(a.reply.status, 502);
    assert_true(a.reply.body.len > 0);
    mcp_oauth_answer_free(&a);

    /* An "error" that is not a string is no error text. */
    r = reply_of(400, "{\"error\":7}");
    assert_int_equal(mcp_oauth_answer_read(0, &r, "the token endpoint", "https://as.example/token", &a, why, sizeof why),
                     0);
    assert_non_null(a.doc);
    assert_null(a.error);
    mcp_oauth_answer_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_to_talk),
        cmocka_unit_test(test_json_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
