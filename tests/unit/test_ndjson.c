/* Unit tests for the newline-delimited JSON framer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

/* Collects what the framer yields: each line as its text, each oversized
 * line as "!". */
typedef struct collected {
    char items[64][128];
    size_t count;
} collected;

static void feed(mcp_ndjson *framer, collected *got, const char *data, size_t len) {
    mcp_str input = {data, len};
    mcp_str line;
    for (;;) {
        int kind = mcp_ndjson_next(framer, &input, &line);
        assert_true(kind >= 0);
        if (kind == MCP_NDJSON_MORE) break;
        assert_true(got->count < 64);
        if (kind == MCP_NDJSON_OVERSIZED) {
            strcpy(got->items[got->count++], "!");
        } else {
            assert_true(line.len < 128);
            memcpy(got->items[got->count], line.ptr, line.len);
            got->items[got->count++][line.len] = '\0';
        }
    }
    assert_int_equal(input.len, 0);
}

static void feed_cstr(mcp_ndjson *framer, collected *got, const char *text) {
    feed(framer, got, text, strlen(text));
}

static void whole_lines_come_out_as_slices_of_the_input(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 100);
    const char *text = "{\"a\":1}\n{\"b\":2}\n";
    mcp_str input = {text, strlen(text)};
    mcp_str line;
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_LINE);
    assert_ptr_equal(line.ptr, text); /* no copy */
    assert_int_equal(line.len, 7);
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_LINE);
    assert_ptr_equal(line.ptr, text + 8);
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_MORE);
    assert_int_equal(framer.carry.len, 0);
    mcp_ndjson_free(&framer);
}

static void crlf_and_blank_lines(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 100);
    collected got = {0};
    feed_cstr(&framer, &got, "\n\r\n  \t\r\n{\"a\":1}\r\n\n{\"b\":2}\n\r\n");
    assert_int_equal(got.count, 2);
    assert_string_equal(got.items[0], "{\"a\":1}");
    assert_string_equal(got.items[1], "{\"b\":2}");
    mcp_ndjson_free(&framer);
}

static void a_line_split_byte_by_byte_is_reassembled(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 100);
    collected got = {0};
    const char *text = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n{\"id\":2}\n";
    for (size_t i = 0; text[i]; i++) feed(&framer, &got, text + i, 1);
    assert_int_equal(got.count, 2);
    assert_string_equal(got.items[0], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_string_equal(got.items[1], "{\"id\":2}");
    mcp_ndjson_free(&framer);
}

static void oversized_line_in_one_read_is_reported_and_skipped(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 8);
    collected got = {0};
    feed_cstr(&framer, &got, "12345678\n123456789\n{\"ok\":1}\n");
    assert_int_equal(got.count, 3);
    assert_string_equal(got.items[0], "12345678"); /* exactly the limit is fine */
    assert_string_equal(got.items[1], "!");
    assert_string_equal(got.items[2], "{\"ok\":1}");
    assert_int_equal(framer.oversized, 1);
    mcp_ndjson_free(&framer);
}

static void oversized_line_across_reads_is_not_buffered(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 16);
    collected got = {0};
    char chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    feed(&framer, &got, chunk, 10);
    for (int i = 0; i < 100; i++) {
        feed(&framer, &got, chunk, sizeof chunk);
        assert_true(framer.carry.len <= 17); /* never more than the limit (+ a '\r') */
    }
    feed_cstr(&framer, &got, "xxx\n{\"next\":true}\n");
    assert_int_equal(got.count, 2);
    assert_string_equal(got.items[0], "!");
    assert_string_equal(got.items[1], "{\"next\":true}");
    assert_int_equal(framer.oversized, 1);
    mcp_ndjson_free(&framer);
}

static void limit_counts_the_text_not_the_crlf(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 4);
    collected got = {0};
    /* "abcd\r" is carried across the split: the '\r' may still end the line. */
    feed_cstr(&framer, &got, "abcd\r");
    feed_cstr(&framer, &got, "\nabcde");
    feed_cstr(&framer, &got, "\r\nab\n");
    assert_int_equal(got.count, 3);
    assert_string_equal(got.items[0], "abcd");
    assert_string_equal(got.items[1], "!");
    assert_string_equal(got.items[2], "ab");
    mcp_ndjson_free(&framer);
}

static void finish_yields_an_unterminated_last_line(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 100);
    collected got = {0};
    feed_cstr(&framer, &got, "{\"a\":1}\n{\"b\"");
    feed_cstr(&framer, &got, ":2}\r");
    mcp_str line;
    assert_int_equal(mcp_ndjson_finish(&framer, &line), MCP_NDJSON_LINE);
    assert_int_equal(line.len, 7);
    assert_memory_equal(line.ptr, "{\"b\":2}", 7);
    assert_int_equal(mcp_ndjson_finish(&framer, &line), MCP_NDJSON_MORE);
    mcp_ndjson_free(&framer);

    mcp_ndjson_init(&framer, 100);
    feed_cstr(&framer, &got, "  ");
    assert_int_equal(mcp_ndjson_finish(&framer, &line), MCP_NDJSON_MORE);
    mcp_ndjson_free(&framer);
}

static void big_carry_is_given_back_after_use(void **state) {
    (void)state;
    mcp_ndjson framer;
    mcp_ndjson_init(&framer, 1 << 20);
    size_t big = 300 * 1024;
    char *text = malloc(big + 1);
    memset(text, 'y', big);
    text[big] = '\n';
    mcp_str input = {text, big / 2};
    mcp_str line;
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_MORE);
    input = (mcp_str){text + big / 2, big - big / 2 + 1};
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_LINE);
    assert_int_equal(line.len, big);
    assert_int_equal(mcp_ndjson_next(&framer, &input, &line), MCP_NDJSON_MORE);
    assert_int_equal(framer.carry.cap, 0); /* released, not kept per connection */
    free(text);
    mcp_ndjson_free(&framer);
}

static void oversized_error_is_a_json_rpc_error_line(void **state) {
    (void)state;
    mcp_buf out;
    mcp_buf_init(&out);
    assert_int_equal(mcp_ndjson_oversized_error(&out, 1024), 0);
    assert_string_equal(out.data, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                                  "\"message\":\"message exceeds the limit of 1024 bytes\"}}\n");
    mcp_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_lines_come_out_as_slices_of_the_input),
        cmocka_unit_test(crlf_and_blank_lines),
        cmocka_unit_test(a_line_split_byte_by_byte_is_reassembled),
        cmocka_unit_test(oversized_line_in_one_read_is_reported_and_skipped),
        cmocka_unit_test(oversized_line_across_reads_is_not_buffered),
        cmocka_unit_test(limit_counts_the_text_not_the_crlf),
        cmocka_unit_test(finish_yields_an_unterminated_last_line),
        cmocka_unit_test(big_carry_is_given_back_after_use),
        cmocka_unit_test(oversized_error_is_a_json_rpc_error_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
