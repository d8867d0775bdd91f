/*
 * net/http_head.h — reading the fields of a raw HTTP/1.x response head,
 * for the clients that speak HTTP by hand rather than through the HTTP
 * client (the WebSocket upgrade, the OAuth requests): the status line,
 * then "Name: value" lines, each ending CRLF or a bare LF (RFC 9112 2.2
 * lets a recipient accept either), up to the blank line.
 */
#ifndef MCP_NET_HTTP_HEAD_H
#define MCP_NET_HTTP_HEAD_H

#include "mcp/base.h"

#include <stdbool.h>
#include <stddef.h>

/* The next field called name (in any case) of head, from *at on (0: the
 * start of the head); its value without surrounding spaces and tabs, in
 * place. *at moves past it, so calling again finds a repeat. False when
 * there is none (more). */
bool mcp_http_head_field(const char *head, size_t len, const char *name, size_t *at, mcp_str *value);

#endif
