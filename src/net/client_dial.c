/*
 * client_dial.c — the stream a dialling connector starts from (see
 * client_dial.h).
 */
#include "net/client_dial.h"

#include <errno.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000u

unsigned mcp_client_connect_timeout(const mcp_connect_opts *opts)
{
    return opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
}

int mcp_client_dial(const char *host, const char *port, bool tls, const mcp_connect_opts *opts,
                    mcp_client_tls **tls_out, mcp_client_stream **out, char *why, size_t why_size)
{
    *tls_out = NULL;
    *out = NULL;
    int rc = tls ? mcp_client_tls_new(tls_out, opts, why, why_size) : 0;
    if (rc == 0)
        rc = mcp_client_stream_dial(out, host, port, *tls_out, mcp_client_connect_timeout(opts), why, why_size);
    if (rc != 0) {
        int saved = errno; /* a failed connect's reason, for the caller */
        mcp_client_tls_free(*tls_out);
        *tls_out = NULL;
        errno = saved;
    }
    return rc;
}
