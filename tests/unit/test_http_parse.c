/*
 * The request parser without sockets: pipelined requests come out one at a
 * time whatever the read sizes, bodies that arrive whole stay in place (no
 * copy), split and chunked bodies are gathered, the known headers are
 * found case-insensitively, and every limit answers its status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

static const char TWO[] = "POST /mcp?x=1 HTTP/1.1\r\nHOST: a\r\nmcp-session-id: abc\r\nAccept: text/event-stream\r\n"
                          "Accept: application/json\r\nContent-Length: 5\r\n\r\nhello"
                          "DELETE /mcp HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";

static void requests_come_out_whole_whatever_the_reads(void **state) {
    (void)state;
    size_t total = strlen(TWO);
    for (size_t step = 1; step <= total; step++) {
        mcp_http_parser p;
        assert_int_equal(mcp_http_parser_init(&p, 0, 0), 0);
        int seen = 0;
        for (size_t at = 0; at < total; at += step) {
            mcp_str in = {TWO + at, total - at < step ? total - at : step};
            mcp_http_request req;
            int rc;
            while ((rc = mcp_http_parser_next(&p, &in, &req)) == MCP_HTTP_REQUEST) {
                if (seen == 0) {
                    assert_int_equal(req.method, MCP_HTTP_METHOD_POST);
                    assert_true(mcp_str_eq_cstr(req.target, "/mcp?x=1"));
                    assert_true(mcp_str_eq_cstr(req.path, "/mcp"));
                    assert_true(mcp_str_eq_cstr(req.headers[MCP_HTTP_H_HOST], "a"));
                    assert_true(mcp_str_eq_cstr(req.headers[MCP_HTTP_H_SESSION_ID], "abc"));
                    assert_true(mcp_str_eq_cstr(req.headers[MCP_HTTP_H_ACCEPT], "text/event-stream,application/json"));
                    assert_null(req.headers[MCP_HTTP_H_ORIGIN].ptr);
                    assert_true(mcp_str_eq_cstr(req.body, "hello"));
                    assert_true(req.keep_alive);
                    if (step == total) {
                        /* One read held the whole body: it was not copied. */
                        assert_ptr_equal(req.body.ptr, strstr(TWO, "hello"));
                    }
                } else {
                    assert_int_equal(req.method, MCP_HTTP_METHOD_DELETE);
                    assert_true(mcp_str_eq_cstr(req.headers[MCP_HTTP_H_HOST], "b"));
                    assert_int_equal(req.body.len, 0);
                    assert_false(req.keep_alive);
                }
                seen++;
            }
            assert_int_equal(rc, MCP_HTTP_MORE);
        }
        assert_int_equal(seen, 2);
        mcp_http_parser_free(&p);
    }
}

static void chunked_bodies_are_gathered(void **state) {
    (void)state;
    const char *raw = "POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n";
    mcp_http_parser p;
    mcp_http_parser_init(&p, 0, 0);
    mcp_str in = mcp_str_from(raw);
    mcp_http_request req;
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    assert_true(mcp_str_eq_cstr(req.body, "{\"a\":1}"));
    assert_int_equal(in.len, 0);
    mcp_http_parser_free(&p);
}

static int parse_one(const char *raw, size_t max_header, size_t max_body, mcp_http_parser *p) {
    mcp_http_parser_init(p, max_header, max_body);
    mcp_str in = mcp_str_from(raw);
    mcp_http_request req;
    return mcp_http_parser_next(p, &in, &req);
}

static void limits_and_errors_have_their_status(void **state) {
    (void)state;
    mcp_http_parser p;
    char big[600];
    snprintf(big, sizeof big, "GET /mcp HTTP/1.1\r\nX: %0500d\r\n\r\n", 1);
    assert_int_equal(parse_one(big, 256, 0, &p), MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 431);
    mcp_http_parser_free(&p);

    assert_int_equal(parse_one("POST /mcp HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 0, 10, &p), MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 413);
    mcp_http_parser_free(&p);

    /* A chunked body that grows past the limit. */
    assert_int_equal(parse_one("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n", 0,
                               10, &p),
                     MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 413);
    mcp_http_parser_free(&p);

    assert_int_equal(parse_one("GET /mcp HTTP/1.1\r\nBad Header\r\n\r\n", 0, 0, &p), MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 400);
    mcp_http_parser_free(&p);

    /* Both Content-Length and chunked: a smuggling attempt. */
    assert_int_equal(parse_one("POST /mcp HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0, &p),
                     MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 400);
    mcp_http_parser_free(&p);

    assert_int_equal(parse_one("BREW /pot HTTP/1.1\r\n\r\n", 0, 0, &p), MCP_HTTP_BAD);
    assert_int_equal(p.error_status, 501);
    mcp_http_parser_free(&p);

    /* Two session ids are refused, not merged. */
    mcp_http_parser_init(&p, 0, 0);
    mcp_str in = mcp_str_from("GET /mcp HTTP/1.1\r\nMcp-Session-Id: a\r\nMcp-Session-Id: b\r\n\r\n");
    mcp_http_request req;
    assert_int_equal(mcp_http_parser_next(&p, &in, &req), MCP_HTTP_REQUEST);
    assert_true(req.duplicate_header);
    mcp_http_parser_free(&p);
}

/* A header name longer than the parser keeps, arriving in pieces, must not
 * write past the name buffer (found by fuzz_http). */
static void long_header_names_split_across_reads(void **state) {
    (void)state;
    char raw[1024];
    snprintf(raw, sizeof raw, "GET /mcp HTTP/1.1\r\nHost: a\r\nX-%0300d: 1\r\nMcp-Param-%0200d: v\r\n\r\n", 0, 0);
    mcp_http_parser p;
    mcp_http_parser_init(&p, 0, 0);
    mcp_http_request req;
    int rc = MCP_HTTP_MORE;
    for (size_t at = 0, len = strlen(raw); at < len && rc == MCP_HTTP_MORE; at += 7) {
        mcp_str in = {raw + at, len - at < 7 ? len - at : 7};
        rc = mcp_http_parser_next(&p, &in, &req);
    }
    assert_int_equal(rc, MCP_HTTP_REQUEST);
    assert_true(mcp_str_eq_cstr(req.headers[MCP_HTTP_H_HOST], "a"));
    assert_int_equal(req.param_count, 0); /* too long to be a parameter we know */
    assert_int_equal(p.current, -1);
    mcp_http_parser_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_come_out_whole_whatever_the_reads),
        cmocka_unit_test(chunked_bodies_are_gathered),
        cmocka_unit_test(limits_and_errors_have_their_status),
        cmocka_unit_test(long_header_names_split_across_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
