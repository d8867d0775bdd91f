/*
 * http_head.c — fields of a raw HTTP/1.x response head (see http_head.h).
 * Heads come from servers we do not trust: everything is bounded by len,
 * nothing needs a NUL, and a head without its blank line ends at len.
 */
#include "net/http_head.h"

#include <string.h>
#include <strings.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool mcp_http_head_field(const char *head, size_t len, const char *name, size_t *at, mcp_str *value)
{
    size_t name_len = strlen(name);
    const char *p = head + *at, *end = head + len;
    if (*at == 0) {
        /* The status line is not a field. */
        const char *eol = memchr(head, '\n', len);
        if (!eol)
            return false;
        p = eol + 1;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *e = eol ? eol : end;
        if (e > p && e[-1] == '\r')
            e--;
        if (e == p)
            break; /* the blank line ends the head */
        if ((size_t)(e - p) > name_len && p[name_len] == ':' && !strncasecmp(p, name, name_len)) {
            const char *v = p + name_len + 1;
            while (v < e && is_blank(*v))
                v++;
            while (e > v && is_blank(e[-1]))
                e--;
            *value = (mcp_str){v, (size_t)(e - v)};
            *at = (size_t)(next - head);
            return true;
        }
        p = next;
    }
    *at = len;
    return false;
}
