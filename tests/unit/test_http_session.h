/*
 * test_http_session.h — for the Streamable HTTP tests that talk to one
 * server through one raw client: the server (test_http_harness.h), the
 * client connected to it and, once initialized, its session header line.
 */
#ifndef TEST_HTTP_SESSION_H
#define TEST_HTTP_SESSION_H

#include "test_http_harness.h"

typedef struct http_session {
    fixture f;
    client c;
    char sid[64];    /* "Mcp-Session-Id: …\r\n" after http_session_start, else "" */
} http_session;

/* A server (opts and extra as fixture_start takes them) and a client
 * connected to it, without a session. */
static inline void http_connect(http_session *s, const mcp_http_opts *opts, const mcp_listen *extra) {
    s->sid[0] = '\0';
    fixture_start(&s->f, opts, extra);
    client_open(&s->c, s->f.port);
}

/* The same, the client initialized: a handshake-era session. */
static inline void http_session_start(http_session *s, const mcp_http_opts *opts, const mcp_listen *extra) {
    http_connect(s, opts, extra);
    client_initialize(&s->c, s->sid);
}

static inline void http_session_stop(http_session *s) {
    client_close(&s->c);
    fixture_stop(&s->f);
}

#endif
