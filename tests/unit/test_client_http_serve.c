/*
 * test_client_http_serve.c — the HTTP connector against the mcpd binary
 * as a user runs it ($MCPD_BIN serve --http on a loopback port), in both
 * eras: tools/list, tools/call, resources/read, prompts/get, progress of
 * the demo's slow tool, and its cancellation stopping it early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_client_result.h"
#include "test_mcpd_server.h"

#include "mcp/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int start_server(void **state)
{
    (void)state;
    mcpd_server_start(&server, "--http");
    return 0;
}

static mcp_client *connect_era(const char *version)
{
    if (server.pid <= 0) {
        skip();
        return NULL;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", server.port);
    mcp_client_transport *t = NULL;
    int rc = MCP_EIO;
    for (int i = 0; i < 200 && rc != 0; i++) { /* the server may still be starting */
        rc = mcp_connect_http(url, NULL, &t);
        if (rc != 0)
            usleep(25 * 1000);
    }
    assert_int_equal(rc, 0);
    mcp_client *c = client_connected(t, version);
    return c;
}

static void run_era(const char *version, const char *want_version)
{
    mcp_client *c = connect_era(version);
    mcpd_expect_basics(c, want_version);
    client_expect(c, "resources/read", "{\"uri\":\"mcpd://demo/readme\"}", "mcpd demo server");
    client_expect(c, "prompts/get", "{\"name\":\"review\",\"arguments\":{\"code\":\"int x;\"}}", "int x;");
    client_expect(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"still here\"}}", "still here");
    mcp_client_free(c);
}

static void handshake_era(void **state)
{
    (void)state;
    run_era("2025-11-25", "2025-11-25");
}

static void modern_era_by_discovery(void **state)
{
    (void)state;
    run_era(NULL, "2026-07-28");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_era),
        cmocka_unit_test(modern_era_by_discovery),
    };
    if (!getenv("MCPD_BIN"))
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
