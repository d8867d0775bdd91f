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

/* The next value of name from *at on: want, or none when want is NULL. */
static void assert_field(const char *head, size_t len, const char *name, size_t *at, const char *want)
{
    mcp_str v = {0};
    bool found = mcp_http_head_field(head, len, name, at, &v);
    if (!want) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

/* The first value of name in the whole of head. */
static void assert_first(const char *head, const char *name, const char *want)
{
    size_t at = 0;
    assert_field(head, strlen(head), name, &at, want);
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
    assert_first(head, "Upgrade", "websocket");
    assert_first(head, "sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_first(head, "Empty", "");
    assert_first(head, "Late", NULL);
    /* A name is matched whole, not as a prefix of another. */
    assert_first(head, "Upgrad", NULL);
    assert_first(head, "Sec-WebSocket", NULL);
    /* The status line is no field, however it looks. */
    assert_first("Location: x\r\nA: b\r\n\r\n", "Location", NULL);
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
    assert_field(head, len, "WWW-Authenticate", &at, NULL);
    assert_field(head, len, "WWW-Authenticate", &at, NULL);
}

static void test_bounded_by_len(void **state)
{
    (void)state;
    assert_first("", "A", NULL);
    assert_first("HTTP/1.1 200 OK", "A", NULL);
    /* A head cut short: the last line ends at len, and what lies beyond
     * len is never read. */
    const char *head = "HTTP/1.1 200 OK\r\nA: one\r\nB: two, three";
    assert_first(head, "B", "two, three");
    size_t at = 0;
    assert_field(head, strlen(head) - 7, "B", &at, "two");
    at = 0;
    assert_field(head, 18, "A", &at, NULL); /* "A" with no colon yet */
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
