/*
 * Fuzz SSE framing both ways. The parser must give the same events and
 * counts whatever the feed sizes; and any data the writer frames must come
 * back from the parser as one event with the same lines (CR, LF and CRLF
 * all read as one line break).
 *
 * Input layout: byte 0 seeds the feed sizes, the rest is the stream (and,
 * for the round trip, the data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

typedef struct record {
    mcp_buf log;
    int events;
} record;

static void on_event(void *user, const char *id, const char *event, const char *data, size_t len) {
    record *r = user;
    mcp_buf_appendf(&r->log, "%s|%s|", id ? id : "-", event);
    mcp_buf_append(&r->log, data, len);
    mcp_buf_append_char(&r->log, 0);
    r->events++;
}

static int parse(const char *text, size_t len, unsigned seed, record *r, uint64_t *comments) {
    mcp_sse_parser p;
    mcp_sse_parser_init(&p, 1 << 16, on_event, r);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        size_t n = len - at;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t step = 1 + (seed >> 16) % 13;
            if (step < n) n = step;
        }
        rc = mcp_sse_parser_feed(&p, text + at, n);
        at += n;
    }
    *comments = p.comments;
    mcp_sse_parser_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    record whole = {0}, pieces = {0};
    mcp_buf_init(&whole.log);
    mcp_buf_init(&pieces.log);
    uint64_t c1, c2;
    int rc1 = parse(text, len, 0, &whole, &c1);
    int rc2 = parse(text, len, data[0] | 1u, &pieces, &c2);
    if (rc1 != rc2 || whole.events != pieces.events || c1 != c2 || whole.log.len != pieces.log.len ||
        (whole.log.len && memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0))
        abort();
    mcp_buf_free(&whole.log);
    mcp_buf_free(&pieces.log);

    /* Round trip: the writer's framing of text as data. NULs cannot be in
     * a C-string id but may be in data. */
    mcp_buf framed;
    mcp_buf_init(&framed);
    if (mcp_sse_write_event(&framed, "r#1", text, len) == 0) {
        record back = {0};
        mcp_buf_init(&back.log);
        uint64_t comments;
        if (parse(framed.data, framed.len, data[0], &back, &comments) != 0 || back.events != 1) abort();
        /* Expected data: text with CRLF, CR and LF all turned into LF. */
        mcp_buf want;
        mcp_buf_init(&want);
        mcp_buf_append(&want, "r#1|message|", 12);
        for (size_t i = 0; i < len; i++) {
            if (text[i] == '\r') {
                mcp_buf_append_char(&want, '\n');
                if (i + 1 < len && text[i + 1] == '\n') i++;
            } else {
                mcp_buf_append_char(&want, text[i]);
            }
        }
        mcp_buf_append_char(&want, 0);
        if (want.len != back.log.len || memcmp(want.data, back.log.data, want.len) != 0) abort();
        mcp_buf_free(&want);
        mcp_buf_free(&back.log);
    }
    mcp_buf_free(&framed);
    return 0;
}
