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

#ifdef MCP_BUF_FENCED
#include <sanitizer/asan_interface.h>

/* Opening never closes what an earlier reservation opened: a writer may
 * reserve for a whole value and call helpers that reserve again for a
 * part of it. Only growth, reset and consume close the spare bytes. */
void mcp_buf_fence(mcp_buf *buf, size_t extra) {
    if (buf->data) ASAN_UNPOISON_MEMORY_REGION(buf->data + buf->len, extra + 1);
}

static void buf_close_spare(mcp_buf *buf, size_t from) {
    if (buf->data && from < buf->cap) ASAN_POISON_MEMORY_REGION(buf->data + from, buf->cap - from);
}
#else
#define buf_close_spare(buf, from) ((void)0)
#endif

int mcp_buf_reserve(mcp_buf *buf, size_t extra) {
    /* +1 keeps room for the NUL terminator we always maintain. */
    if (extra > SIZE_MAX - buf->len - 1) return MCP_ENOMEM;
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap) {
        mcp_buf_fence(buf, extra);
        return MCP_OK;
    }
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
    buf_close_spare(buf, need);
    return MCP_OK;
}

int mcp_buf_append(mcp_buf *buf, const void *data, size_t len) {
    int rc = mcp_buf_room(buf, len);
    if (rc) return rc;
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
    buf_close_spare(buf, buf->len + 1);
}

void mcp_buf_reset(mcp_buf *buf) {
    buf->len = 0;
    if (buf->data) buf->data[0] = '\0';
    buf_close_spare(buf, 1);
}

void mcp_buf_free(mcp_buf *buf) {
    free(buf->data);
    mcp_buf_init(buf);
}

char *mcp_buf_detach(mcp_buf *buf) {
    char *p = buf->data;
#ifdef MCP_BUF_FENCED
    if (p) ASAN_UNPOISON_MEMORY_REGION(p, buf->cap); /* all the caller's now */
#endif
    if (!p) p = calloc(1, 1);
    mcp_buf_init(buf);
    return p;
}
