/* Growable byte buffer. Capacity doubles so appends are amortised O(1). */
#include "mcp/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mcp_buf_init(mcp_buf *buf) {
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

int mcp_buf_reserve(mcp_buf *buf, size_t extra) {
    /* +1 keeps room for the NUL terminator we always maintain. */
    if (extra > SIZE_MAX - buf->len - 1) return MCP_ENOMEM;
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap) return MCP_OK;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(buf->data, cap);
    if (!p) return MCP_ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return MCP_OK;
}

int mcp_buf_append(mcp_buf *buf, const void *data, size_t len) {
    if (MCP_UNLIKELY(buf->cap - buf->len <= len)) {
        int rc = mcp_buf_reserve(buf, len);
        if (rc) return rc;
    }
    if (len) memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return MCP_OK;
}

int mcp_buf_append_cstr(mcp_buf *buf, const char *s) {
    return mcp_buf_append(buf, s, strlen(s));
}

int mcp_buf_append_char(mcp_buf *buf, char c) {
    return mcp_buf_append(buf, &c, 1);
}

int mcp_buf_vappendf(mcp_buf *buf, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return MCP_EINVAL;
    }
    int rc;
    if ((size_t)n < sizeof small) {
        rc = mcp_buf_append(buf, small, (size_t)n);
    } else {
        rc = mcp_buf_reserve(buf, (size_t)n);
        if (!rc) {
            vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap2);
            buf->len += (size_t)n;
        }
    }
    va_end(ap2);
    return rc;
}

int mcp_buf_appendf(mcp_buf *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = mcp_buf_vappendf(buf, fmt, ap);
    va_end(ap);
    return rc;
}

void mcp_buf_consume(mcp_buf *buf, size_t n) {
    if (n >= buf->len) {
        buf->len = 0;
    } else {
        memmove(buf->data, buf->data + n, buf->len - n);
        buf->len -= n;
    }
    if (buf->data) buf->data[buf->len] = '\0';
}

void mcp_buf_reset(mcp_buf *buf) {
    buf->len = 0;
    if (buf->data) buf->data[0] = '\0';
}

void mcp_buf_free(mcp_buf *buf) {
    free(buf->data);
    mcp_buf_init(buf);
}

char *mcp_buf_detach(mcp_buf *buf) {
    char *p = buf->data;
    if (!p) p = calloc(1, 1);
    mcp_buf_init(buf);
    return p;
}
