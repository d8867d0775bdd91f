/*
 * stream_conn.c — output of the stream transports: try the write at once,
 * queue only what the kernel did not take (see net/stream_conn.h for why).
 */
#include "net/stream_conn.h"

#include <limits.h>

int mcp_stream_write(uv_stream_t *stream, uv_write_t *req, const char *data, size_t len, uv_write_cb cb) {
    uv_buf_t chunk = uv_buf_init((char *)data, 0);
    chunk.len = len;
    /* uv_try_write reports a count as int: a larger batch goes the long way. */
    if (len <= INT_MAX) {
        int n = uv_try_write(stream, &chunk, 1);
        if (n >= 0 && (size_t)n == len) return MCP_STREAM_WRITTEN;
        if (n < 0 && n != UV_EAGAIN) return n;
        if (n > 0) {
            chunk.base += n;
            chunk.len -= (size_t)n;
        }
    }
    int rc = uv_write(req, stream, &chunk, 1, cb);
    return rc < 0 ? rc : MCP_STREAM_QUEUED;
}
