/*
 * test_mcpd_server.h — for the connector tests against the mcpd binary:
 * one `mcpd serve` on a free loopback port for a whole test group, started
 * by the group set-up and stopped by its tear-down. Without MCPD_BIN
 * nothing starts (pid stays 0) and the tests that need it skip. And what
 * every connector must carry against it. Include after <cmocka.h>.
 */
#ifndef TEST_MCPD_SERVER_H
#define TEST_MCPD_SERVER_H

#include "test_client_result.h"
#include "test_loopback.h"
#include "test_mcpd.h"

#include <stdio.h>

typedef struct mcpd_server {
    pid_t pid;
    int port;
} mcpd_server;

/* listen_flag names the listener: "--http", "--ws" ... */
static inline void mcpd_server_start(mcpd_server *s, const char *listen_flag)
{
    const char *bin = mcpd_bin();
    if (!bin)
        return;
    s->port = free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    s->pid = mcpd_serve_spawn(bin,
                              (const char *const[]){listen_flag, addr, "--workers", "1", "--log-level", "warning", NULL});
}

static inline void mcpd_server_stop(mcpd_server *s)
{
    mcpd_serve_stop(s->pid);
    s->pid = 0;
}

/* The test program's server: its group set-up starts it with the listener
 * it tests, and this tear-down stops it. */
static mcpd_server server;

static inline int stop_server(void **state)
{
    (void)state;
    mcpd_server_stop(&server);
    return 0;
}

/* What any connector must carry to and from mcpd's demo tools: the
 * version negotiated, a list, a call, and progress then a cancel that the
 * client gets through. */
static inline void mcpd_expect_basics(mcp_client *c, const char *want_version)
{
    assert_string_equal(mcp_client_protocol_version(c), want_version);
    client_expect(c, "tools/list", NULL, "\"slow\"");
    client_expect(c, "tools/call", "{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":40}}", "\"sum\":42");
    client_check_progress_and_cancel(c);
}

#endif
