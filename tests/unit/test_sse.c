/*
 * SSE framing: what the writer produces byte for byte, and the parser's
 * handling of the format's corners (line endings of all three kinds split
 * across feeds, comments, multi-line data, ids that persist, retry, BOM,
 * the line limit). Writer and parser must agree on any data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "net/http.h"

typedef struct seen {
    char text[4096]; /* "id|event|data;" per event */
    size_t len;
    int count;
} seen;

static void on_event(void *user, const char *id, const char *event, const char *data, size_t len) {
    seen *s = user;
    s->len += (size_t)snprintf(s->text + s->len, sizeof s->text - s->len, "%s|%s|%.*s;", id ? id : "-", event,
                               (int)len, data);
    s->count++;
}

static void writer_output_is_exact(void **state) {
    (void)state;
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(mcp_sse_write_event(&out, "s/1#3", "{\"a\":1}", 7), 0);
    assert_string_equal(out.data, "id: s/1#3\nevent: message\ndata: {\"a\":1}\n\n");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_sse_write_event(&out, NULL, "one\ntwo\r\nthree", 14), 0);
    assert_string_equal(out.data, "event: message\ndata: one\ndata: two\ndata: three\n\n");
    mcp_buf_reset(&out);
    /* Every line end counts, an empty line included, and so does one at the very end. */
    assert_int_equal(mcp_sse_write_event(&out, NULL, "x\n\ry\r", 5), 0);
    assert_string_equal(out.data, "event: message\ndata: x\ndata: \ndata: y\ndata: \n\n");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_sse_write_comment(&out, "keep-alive"), 0);
    assert_string_equal(out.data, ": keep-alive\n\n");
    assert_int_equal(mcp_sse_write_event(&out, "bad\nid", "x", 1), MCP_EINVAL);
    assert_int_equal(mcp_sse_write_comment(&out, "two\nlines"), MCP_EINVAL);
    mcp_buf_free(&out);
}

static void parse_all(const char *text, size_t step, seen *s, mcp_sse_parser *p) {
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        assert_int_equal(mcp_sse_parser_feed(p, text + i, n), 0);
    }
    (void)s;
}

static void parser_handles_the_corners(void **state) {
    (void)state;
    const char *stream = "\xEF\xBB\xBF: hello\r\n"
                         "id: 1\r"
                         "data: a\r\n"
                         "data:b\n"
                         "\n"
                         "event: custom\n"
                         "data\n"
                         "\r\n"
                         "retry: 1500\n"
                         "data: no id change\n\n"
                         "id\n"
                         "data: cleared\n\n"
                         "data: undispatched";
    for (size_t step = 1; step <= 7; step++) {
        seen s = {0};
        mcp_sse_parser p;
        mcp_sse_parser_init(&p, 0, on_event, &s);
        parse_all(stream, step, &s, &p);
        assert_string_equal(s.text, "1|message|a\nb;1|custom|;1|message|no id change;|message|cleared;");
        assert_int_equal(p.comments, 1);
        assert_int_equal(p.retry_ms, 1500);
        assert_int_equal(s.count, 4);
        mcp_sse_parser_free(&p);
    }
}

static void parser_limits_lines(void **state) {
    (void)state;
    seen s = {0};
    mcp_sse_parser p;
    mcp_sse_parser_init(&p, 8, on_event, &s);
    assert_int_equal(mcp_sse_parser_feed(&p, "data: 1\n", 8), 0);
    assert_int_equal(mcp_sse_parser_feed(&p, "data: 123456789\n", 16), MCP_ELIMIT);
    mcp_sse_parser_free(&p);
}

static void writer_and_parser_agree(void **state) {
    (void)state;
    /* Data with every kind of line break comes back with "\n" joins. */
    const char *data[] = {"{}", "a\nb", "a\r\nb", "a\rb", "", "  spaced  ", ": not a comment"};
    const char *want[] = {"{}", "a\nb", "a\nb", "a\nb", "", "  spaced  ", ": not a comment"};
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) {
        mcp_buf out;
        mcp_buf_init(&out);
        assert_int_equal(mcp_sse_write_event(&out, "x#1", data[i], strlen(data[i])), 0);
        seen s = {0};
        mcp_sse_parser p;
        mcp_sse_parser_init(&p, 0, on_event, &s);
        assert_int_equal(mcp_sse_parser_feed(&p, out.data, out.len), 0);
        char expect[128];
        snprintf(expect, sizeof expect, "x#1|message|%s;", want[i]);
        assert_string_equal(s.text, expect);
        mcp_sse_parser_free(&p);
        mcp_buf_free(&out);
    }
}

/* The priming event dispatches with empty data (a message parser skips
 * it) and leaves its id and retry behind; the retry-only form of a resumed
 * stream dispatches nothing. */
static void priming_event_primes_the_parser(void **state) {
    (void)state;
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(mcp_sse_write_priming(&out, "s/2#1", 1500), 0);
    assert_string_equal(out.data, "id: s/2#1\nretry: 1500\ndata: \n\n");
    assert_int_equal(mcp_sse_write_priming(&out, NULL, 250), 0);
    assert_string_equal(out.data, "id: s/2#1\nretry: 1500\ndata: \n\nretry: 250\n\n");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_sse_write_priming(&out, "bad\nid", 10), MCP_EINVAL);

    seen s = {0};
    mcp_sse_parser p;
    mcp_sse_parser_init(&p, 0, on_event, &s);
    const char *wire = "id: s/2#1\nretry: 1500\ndata: \n\nretry: 250\n\n";
    assert_int_equal(mcp_sse_parser_feed(&p, wire, strlen(wire)), 0);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.text, "s/2#1|message|;");
    assert_int_equal(p.retry_ms, 250);
    assert_string_equal(p.last_id.data, "s/2#1");
    mcp_sse_parser_free(&p);
    mcp_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_output_is_exact),
        cmocka_unit_test(parser_handles_the_corners),
        cmocka_unit_test(parser_limits_lines),
        cmocka_unit_test(writer_and_parser_agree),
        cmocka_unit_test(priming_event_primes_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
