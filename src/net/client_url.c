/*
 * client_url.c — targets of hand-written client requests (see
 * client_url.h).
 */
#include "net/client_url.h"

#include <stdio.h>
#include <string.h>

int mcp_client_url_parse(const char *url, const char *default_path, mcp_http_url *out)
{
    int rc = mcp_http_url_parse(url, out);
    if (rc != 0)
        return rc;
    if (default_path) {
        /* The parser turns no path into "/": tell it from a "/" written. */
        const char *authority = strstr(url, "://") + 3;
        if (!authority[strcspn(authority, "/?#")] &&
            snprintf(out->path, sizeof out->path, "%s", default_path) >= (int)sizeof out->path) {
            memset(out, 0, sizeof *out);
            return MCP_EINVAL;
        }
    }
    return 0;
}
