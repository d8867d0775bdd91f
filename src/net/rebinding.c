/* Host and Origin checks against DNS rebinding; see rebinding.h. */
#include "net/rebinding.h"
#include "net/net_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The host part of "name", "name:port", "[v6]" or "[v6]:port". */
static mcp_str host_name(mcp_str host) {
    if (host.len && host.ptr[0] == '[') {
        const char *close = memchr(host.ptr, ']', host.len);
        if (!close) return (mcp_str){NULL, 0};
        return (mcp_str){host.ptr, (size_t)(close - host.ptr) + 1};
    }
    const char *colon = memchr(host.ptr, ':', host.len);
    if (colon) host.len = (size_t)(colon - host.ptr);
    return host;
}

static bool is_loopback_name(mcp_str name) {
    return mcp_str_case_eq_cstr(name, "localhost") || mcp_str_eq_cstr(name, "127.0.0.1") ||
           mcp_str_eq_cstr(name, "[::1]");
}

static bool host_listed(char *const *list, mcp_str host, mcp_str name) {
    for (size_t i = 0; list && list[i]; i++)
        if (mcp_str_case_eq_cstr(host, list[i]) || mcp_str_case_eq_cstr(name, list[i])) return true;
    return false;
}

bool mcp_net_host_allowed(char *const *allowed_hosts, mcp_str host) {
    if (!host.ptr || !host.len) return false;
    mcp_str name = host_name(host);
    if (!name.ptr || !name.len) return false;
    return is_loopback_name(name) || host_listed(allowed_hosts, host, name);
}

bool mcp_net_origin_allowed(char *const *allowed_hosts, char *const *allowed_origins, mcp_str origin) {
    if (!origin.ptr) return true;
    for (size_t i = 0; allowed_origins && allowed_origins[i]; i++)
        if (mcp_str_case_eq_cstr(origin, allowed_origins[i])) return true;
    mcp_str rest;
    if (origin.len > 7 && strncasecmp(origin.ptr, "http://", 7) == 0)
        rest = (mcp_str){origin.ptr + 7, origin.len - 7};
    else if (origin.len > 8 && strncasecmp(origin.ptr, "https://", 8) == 0)
        rest = (mcp_str){origin.ptr + 8, origin.len - 8};
    else
        return false; /* "null", other schemes */
    /* A path or credentials have no place in an Origin. */
    if (memchr(rest.ptr, '/', rest.len) || memchr(rest.ptr, '@', rest.len)) return false;
    mcp_str name = host_name(rest);
    if (!name.ptr || !name.len) return false;
    return is_loopback_name(name) || host_listed(allowed_hosts, rest, name);
}

/* ---- The allow lists' copies ----------------------------------------------------- */
char **mcp_net_strings_copy(const char *const *list) {
    size_t n = 0;
    while (list && list[n]) n++;
    char **copy = calloc(n + 1, sizeof *copy);
    if (!copy) return NULL;
    for (size_t i = 0; i < n; i++) {
        copy[i] = strdup(list[i]);
        if (!copy[i]) {
            for (size_t k = 0; k < i; k++) free(copy[k]);
            free(copy);
            return NULL;
        }
    }
    return copy;
}

void mcp_net_strings_free(char **list) {
    for (size_t i = 0; list && list[i]; i++) free(list[i]);
    free(list);
}
