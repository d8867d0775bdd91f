/*
 * Server-Sent Events framing (the WHATWG "text/event-stream" format).
 *
 * Writing: an event is "id: …" (when given), "data: …" per line of the data,
 * and a blank line; a comment is ": text" and a blank line. The priming
 * event that opens a resumable stream is an id, a "retry: …" field and an
 * empty data line: a client dispatches it with empty data (no message) and
 * keeps its id to resume from. JSON from our
 * writer has no raw newlines, so a message is one data line; the split is
 * there so that no caller can break the framing.
 *
 * Parsing follows the standard's algorithm: lines end in CR, LF or CRLF
 * (a CR at the end of one read may be followed by the LF in the next), a
 * leading BOM is dropped, "field: value" loses one space after the colon,
 * lines starting with a colon are comments, and a blank line dispatches the
 * event if it has data. The last id persists across events as the standard
 * says (it is what a client would send as Last-Event-ID).
 */
#include "net/http.h"

#include <stdlib.h>
#include <string.h>

/* The "id:" line of an event that has one (its line ends refused already). */
static int write_id(mcp_buf *out, const char *id) {
    if (!id) return 0;
    int rc = mcp_buf_append(out, "id: ", 4);
    rc |= mcp_buf_append_cstr(out, id);
    rc |= mcp_buf_append_char(out, '\n');
    return rc;
}

int mcp_sse_write_event(mcp_buf *out, const char *id, const char *data, size_t len) {
    if (id && strpbrk(id, "\r\n")) return MCP_EINVAL;
    int rc = write_id(out, id);
    rc |= mcp_buf_append(out, "event: message\ndata: ", 21);
    /* Line ends are looked for with memchr (a JSON message has none, so
     * that is two scans and one copy), not byte by byte: that loop cost
     * more than the rest of an SSE answer. */
    const char *p = data, *end = data + len;
    const char *lf = memchr(p, '\n', len), *cr = memchr(p, '\r', len);
    for (;;) {
        const char *stop = lf && (!cr || lf < cr) ? lf : cr;
        rc |= mcp_buf_append(out, p, (size_t)((stop ? stop : end) - p));
        if (!stop) break;
        p = stop + 1;
        if (*stop == '\r' && p < end && *p == '\n') p++;
        rc |= mcp_buf_append(out, "\ndata: ", 7);
        if (lf && lf < p) lf = memchr(p, '\n', (size_t)(end - p));
        if (cr && cr < p) cr = memchr(p, '\r', (size_t)(end - p));
    }
    rc |= mcp_buf_append(out, "\n\n", 2);
    return rc ? MCP_ENOMEM : MCP_OK;
}

int mcp_sse_write_comment(mcp_buf *out, const char *text) {
    if (strpbrk(text, "\r\n")) return MCP_EINVAL;
    int rc = mcp_buf_append(out, ": ", 2);
    rc |= mcp_buf_append_cstr(out, text);
    rc |= mcp_buf_append(out, "\n\n", 2);
    return rc ? MCP_ENOMEM : MCP_OK;
}

int mcp_sse_write_priming(mcp_buf *out, const char *id, long retry_ms) {
    if (id && strpbrk(id, "\r\n")) return MCP_EINVAL;
    int rc = write_id(out, id);
    if (retry_ms >= 0) rc |= mcp_buf_appendf(out, "retry: %ld\n", retry_ms);
    /* Without an id there is no event to dispatch: the retry field alone. */
    rc |= mcp_buf_append(out, id ? "data: \n\n" : "\n", id ? 8 : 1);
    return rc ? MCP_ENOMEM : MCP_OK;
}

void mcp_sse_parser_init(mcp_sse_parser *parser, size_t max_line, mcp_sse_event_fn fn, void *user) {
    memset(parser, 0, sizeof *parser);
    mcp_buf_init(&parser->line);
    mcp_buf_init(&parser->data);
    mcp_buf_init(&parser->event);
    mcp_buf_init(&parser->last_id);
    parser->max_line = max_line ? max_line : MCP_NET_DEFAULT_MAX_MESSAGE;
    parser->retry_ms = -1;
    parser->fn = fn;
    parser->user = user;
}

void mcp_sse_parser_free(mcp_sse_parser *parser) {
    mcp_buf_free(&parser->line);
    mcp_buf_free(&parser->data);
    mcp_buf_free(&parser->event);
    mcp_buf_free(&parser->last_id);
}

static void dispatch(mcp_sse_parser *parser) {
    if (parser->has_data) {
        parser->events++;
        if (parser->fn)
            parser->fn(parser->user, parser->has_id ? parser->last_id.data : NULL,
                       parser->event.len ? parser->event.data : "message", parser->data.data, parser->data.len);
    }
    parser->has_data = false;
    mcp_buf_reset(&parser->data);
    mcp_buf_reset(&parser->event);
}

static int process_line(mcp_sse_parser *parser, const char *line, size_t len) {
    if (len == 0) {
        dispatch(parser);
        return 0;
    }
    if (line[0] == ':') {
        parser->comments++;
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = colon ? len - name_len - 1 : 0;
    if (value_len && value[0] == ' ') value++, value_len--;
    int rc = 0;
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (parser->has_data) rc |= mcp_buf_append_char(&parser->data, '\n');
        rc |= mcp_buf_append(&parser->data, value, value_len);
        parser->has_data = true;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        mcp_buf_reset(&parser->event);
        rc |= mcp_buf_append(&parser->event, value, value_len);
    } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        if (!memchr(value, '\0', value_len)) {
            mcp_buf_reset(&parser->last_id);
            rc |= mcp_buf_append(&parser->last_id, value, value_len);
            parser->has_id = true;
        }
    } else if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
        long ms = 0;
        size_t i = 0;
        for (; i < value_len && value[i] >= '0' && value[i] <= '9' && ms < 100000000; i++)
            ms = ms * 10 + (value[i] - '0');
        if (i == value_len && value_len) parser->retry_ms = ms;
    }
    return rc ? MCP_ENOMEM : 0;
}

int mcp_sse_parser_feed(mcp_sse_parser *parser, const char *data, size_t len) {
    size_t i = 0;
    if (!parser->bom_checked && len) {
        /* The BOM may only be split if the feed is byte by byte; keep it
         * simple and look at whole prefixes, holding partial ones. */
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = parser->line.len;
        while (i < len && have + i < 3 && (unsigned char)data[i] == (unsigned char)bom[have + i]) i++;
        if (have + i == 3) {
            mcp_buf_reset(&parser->line);
            parser->bom_checked = true;
        } else if (i == len) {
            return mcp_buf_append(&parser->line, data, len) ? MCP_ENOMEM : 0; /* still a possible BOM */
        } else {
            parser->bom_checked = true;
            i = 0; /* not a BOM: what was held is ordinary text */
        }
    }
    for (; i < len; i++) {
        char c = data[i];
        if (parser->skip_lf) {
            parser->skip_lf = false;
            if (c == '\n') continue;
        }
        if (c == '\r' || c == '\n') {
            parser->skip_lf = c == '\r';
            int rc = process_line(parser, parser->line.data ? parser->line.data : "", parser->line.len);
            mcp_buf_reset(&parser->line);
            if (rc) return rc;
            continue;
        }
        if (parser->line.len >= parser->max_line) return MCP_ELIMIT;
        if (mcp_buf_append_char(&parser->line, c)) return MCP_ENOMEM;
    }
    return 0;
}
