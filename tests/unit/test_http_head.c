/*
 * test_http_head.c — the fields of a raw HTTP response head as the
 * hand-written HTTP clients read them (WebSocket upgrade, OAuth): any case,
 * trimmed, repeats one after the other, CRLF or bare LF lines, nothing
 * after the blank line, nothing from the status line, nothing past len.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http_head.h"

#include <string.h>

static void assert_field(const char *head, size_t len, const char *name, size_t *at, const char *want)
{
    mcp_str v = {0};
    assert_true(mcp_http_head_field(head, len, name, at, &v));
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

static void test_fields_by_name(void **state)
{
    (void)state;
    const char *head = "HTTP/1.1 101 Switching Protocols\r\n"
                       "upgrade:websocket\r\n"
                       "Sec-WebSocket-Accept: \t s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \t\r\n"
                       "Empty:\r\n"
                       "\r\n"
                       "Late: after the head\r\n";
    size_t len = strlen(head);
    size_t at = 0;
    assert_field(head, len, "Upgrade", &at, "websocket");
    at = 0;
    assert_field(head, len, "sec-websocket-accept", &at, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    at = 0;
    assert_field(head, len, "Empty", &at, "");
    mcp_str v;
    at = 0;
    assert_false(mcp_http_head_field(head, len, "Late", &at, &v));
    /* A name is matched whole, not as a prefix of another. */
    at = 0;
    assert_false(mcp_http_head_field(head, len, "Upgrad", &at, &v));
    at = 0;
    assert_false(mcp_http_head_field(head, len, "Sec-WebSocket", &at, &v));
    /* The status line is no field, however it looks. */
    const char *odd = "Location: x\r\nA: b\r\n\r\n";
    at = 0;
    assert_false(mcp_http_head_field(odd, strlen(odd), "Location", &at, &v));
}

static void test_repeats_in_order(void **state)
{
    (void)state;
    const char *head = "HTTP/1.1 401 Unauthorized\n"
                       "WWW-Authenticate: Bearer realm=\"a\"\n"
                       "Other: x\r\n"
                       "www-authenticate: DPoP algs=\"ES256\"\n"
                       "\n";
    size_t len = strlen(head);
    size_t at = 0;
    assert_field(head, len, "WWW-Authenticate", &at, "Bearer realm=\"a\"");
    assert_field(head, len, "WWW-Authenticate", &at, "DPoP algs=\"ES256\"");
    mcp_str v;
    assert_false(mcp_http_head_field(head, len, "WWW-Authenticate", &at, &v));
    assert_false(mcp_http_head_field(head, len, "WWW-Authenticate", &at, &v));
}

static void test_bounded_by_len(void **state)
{
    (void)state;
    mcp_str v;
    size_t at = 0;
    assert_false(mcp_http_head_field("", 0, "A", &at, &v));
    at = 0;
    assert_false(mcp_http_head_field("HTTP/1.1 200 OK", 15, "A", &at, &v));
    /* A head cut short: the last line ends at len, and what lies beyond
     * len is never read. */
    const char *head = "HTTP/1.1 200 OK\r\nA: one\r\nB: two, three";
    at = 0;
    assert_field(head, strlen(head), "B", &at, "two, three");
    at = 0;
    assert_field(head, strlen(head) - 7, "B", &at, "two");
    at = 0;
    assert_false(mcp_http_head_field(head, 18, "A", &at, &v)); /* "A" with no colon yet */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_by_name),
        cmocka_unit_test(test_repeats_in_order),
        cmocka_unit_test(test_bounded_by_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
