/* String slices: comparisons without copying or NUL terminators. */
#include "mcp/base.h"

#include <string.h>

mcp_str mcp_str_from(const char *cstr) {
    return (mcp_str){cstr, cstr ? strlen(cstr) : 0};
}

bool mcp_str_eq(mcp_str a, mcp_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool mcp_str_eq_cstr(mcp_str a, const char *cstr) {
    size_t n = strlen(cstr);
    return a.len == n && (n == 0 || memcmp(a.ptr, cstr, n) == 0);
}

static unsigned char ascii_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool mcp_str_case_eq_cstr(mcp_str a, const char *cstr) {
    size_t n = strlen(cstr);
    if (a.len != n) return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a.ptr[i]) != ascii_lower((unsigned char)cstr[i])) return false;
    return true;
}

size_t mcp_format_uint(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

bool mcp_str_is_http_token(mcp_str s) {
    if (!s.ptr || !s.len) return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (!c || !strchr("!#$%&'*+-.^_`|~", c))) return false;
    }
    return true;
}
