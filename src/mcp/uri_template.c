/*
 * uri_template.c — matching URIs against RFC 6570 level 1 templates.
 *
 * Level 1 has only simple string expansion, {var}, whose expansion
 * percent-encodes every reserved character. So a variable matches a
 * non-empty run of characters that are not reserved ("/", "?", "#", and the
 * other gen- and sub-delims); a template "file:///{path}" matches
 * "file:///notes.txt" but not "file:///a/b". Matching backtracks over the
 * variable lengths; templates are short, so this is cheap.
 */
#include "internal.h"

#include <string.h>

static bool is_reserved(char c)
{
    return c != '\0' && strchr(":/?#[]@!$&'()*+,;=", c) != NULL;
}

static bool is_varchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '%';
}

int mcp_uri_template_check(const char *tmpl)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p == '}')
            return MCP_EINVAL;
        if (*p != '{')
            continue;
        const char *name = ++p;
        while (is_varchar(*p))
            p++;
        /* Operators (+ # . / ; ? &), lists and modifiers are levels 2-4. */
        if (p == name || *p != '}')
            return MCP_EINVAL;
    }
    return 0;
}

static bool match_at(const char *t, const char *u)
{
    while (*t && *t != '{') {
        if (*t != *u)
            return false;
        t++;
        u++;
    }
    if (*t == '\0')
        return *u == '\0';
    const char *rest = strchr(t, '}') + 1;
    /* The variable takes at least one character, none of them reserved. */
    for (const char *end = u; *end && !is_reserved(*end); end++)
        if (match_at(rest, end + 1))
            return true;
    return false;
}

bool mcp_uri_template_match(const char *tmpl, const char *uri)
{
    return match_at(tmpl, uri);
}
