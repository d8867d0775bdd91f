/*
 * Newline-delimited JSON framing, shared by the TCP and stdio transports.
 *
 * The framer is pulled, not pushed: the transport hands it the bytes of one
 * read and asks for lines until it says "more". A line that lies wholly
 * inside the read comes back as a slice of the caller's buffer, so the common
 * case of many small pipelined requests in one read copies nothing. Only the
 * tail of a read that ends mid-line is carried over, in a buffer that is
 * reset (not freed) between lines.
 *
 * An oversized line is reported once, at the moment it is known to be too
 * long, and the rest of it is skipped as it streams in: a peer cannot make us
 * hold more than max_line + 1 bytes (the +1 is a '\r' that may still turn out
 * to belong to a "\r\n").
 */
#include "net/net_internal.h"

#include <stdlib.h>
#include <string.h>

/* A carry buffer that grew for one big message is given back afterwards so
 * that an idle connection costs a known, small amount of memory. */
#define MCP_NDJSON_KEEP_BYTES (64 * 1024)

void mcp_ndjson_init(mcp_ndjson *framer, size_t max_line) {
    mcp_buf_init(&framer->carry);
    framer->max_line = max_line ? max_line : MCP_NET_DEFAULT_MAX_MESSAGE;
    framer->discarding = false;
    framer->carry_done = false;
    framer->oversized = 0;
}

void mcp_ndjson_free(mcp_ndjson *framer) {
    mcp_buf_free(&framer->carry);
}

static void carry_release(mcp_ndjson *framer) {
    if (framer->carry.cap > MCP_NDJSON_KEEP_BYTES) mcp_buf_free(&framer->carry);
    else mcp_buf_reset(&framer->carry);
    framer->carry_done = false;
}

/* JSON text cannot be only whitespace, and a stray blank line between
 * messages is common (editors, "\n\n" separators); skipping it is kinder than
 * answering a parse error. */
static bool line_is_blank(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    }
    return true;
}

static mcp_str strip_cr(mcp_str line) {
    if (line.len && line.ptr[line.len - 1] == '\r') line.len--;
    return line;
}

int mcp_ndjson_next(mcp_ndjson *framer, mcp_str *input, mcp_str *line) {
    if (framer->carry_done) carry_release(framer);
    while (input->len > 0) {
        const char *nl = memchr(input->ptr, '\n', input->len);
        size_t take = nl ? (size_t)(nl - input->ptr) : input->len;
        size_t step = nl ? take + 1 : take;
        const char *start = input->ptr;
        input->ptr += step;
        input->len -= step;

        if (framer->discarding) {
            if (nl) framer->discarding = false;
            continue;
        }
        if (!nl) {
            if (framer->carry.len + take > framer->max_line + 1) {
                carry_release(framer);
                framer->discarding = true;
                framer->oversized++;
                return MCP_NDJSON_OVERSIZED;
            }
            if (mcp_buf_append(&framer->carry, start, take)) return MCP_ENOMEM;
            return MCP_NDJSON_MORE;
        }

        mcp_str found;
        if (framer->carry.len) {
            if (framer->carry.len + take > framer->max_line + 1) {
                carry_release(framer);
                framer->oversized++;
                return MCP_NDJSON_OVERSIZED;
            }
            if (mcp_buf_append(&framer->carry, start, take)) return MCP_ENOMEM;
            found = (mcp_str){framer->carry.data, framer->carry.len};
            framer->carry_done = true; /* the slice lives until the next call */
        } else {
            found = (mcp_str){start, take};
        }
        found = strip_cr(found);
        if (found.len > framer->max_line) {
            if (framer->carry_done) carry_release(framer);
            framer->oversized++;
            return MCP_NDJSON_OVERSIZED;
        }
        if (line_is_blank(found.ptr, found.len)) {
            if (framer->carry_done) carry_release(framer);
            continue;
        }
        *line = found;
        return MCP_NDJSON_LINE;
    }
    return MCP_NDJSON_MORE;
}

int mcp_ndjson_finish(mcp_ndjson *framer, mcp_str *line) {
    if (framer->carry_done) carry_release(framer);
    if (framer->discarding) {
        framer->discarding = false;
        return MCP_NDJSON_MORE;
    }
    if (!framer->carry.len) return MCP_NDJSON_MORE;
    mcp_str found = strip_cr((mcp_str){framer->carry.data, framer->carry.len});
    framer->carry_done = true;
    if (found.len > framer->max_line) {
        carry_release(framer);
        framer->oversized++;
        return MCP_NDJSON_OVERSIZED;
    }
    if (line_is_blank(found.ptr, found.len)) {
        carry_release(framer);
        return MCP_NDJSON_MORE;
    }
    *line = found;
    return MCP_NDJSON_LINE;
}

int mcp_ndjson_oversized_error(mcp_buf *out, size_t max_line) {
    return mcp_buf_appendf(out,
                           "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                           "\"message\":\"message exceeds the limit of %zu bytes\"}}\n",
                           max_line);
}
