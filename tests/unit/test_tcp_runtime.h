/*
 * test_tcp_runtime.h — for the pool and batcher tests: a real mcpd server
 * on the TCP runtime, in process on 127.0.0.1, with an echo_n tool that
 * answers "n=<n>" so each completion can be matched to its request. It can
 * be stopped and started again on the same port (a server restart under
 * load). Include after <cmocka.h>.
 */
#ifndef TEST_TCP_RUNTIME_H
#define TEST_TCP_RUNTIME_H

#include "mcp/mcp.h"
#include "net/net_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct server_fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
    char addr[32];   /* "127.0.0.1:<port>" */
} server_fixture;

static inline int tool_echo_n(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    return mcp_call_text(call, "n=%lld", (long long)mcp_json_int(mcp_json_get(args, "n"), -1));
}

/* Start on port (0: any free one). The first start makes the server: name,
 * echo_n and the count tools given. */
static inline void server_start_with(server_fixture *f, int port, const char *name, const mcp_tool *tools,
                                     size_t count)
{
    if (!f->server) {
        f->server = mcp_server_new(&(mcp_server_opts){.name = name, .version = "1.0"});
        assert_non_null(f->server);
        assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo_n", .fn = tool_echo_n}), 0);
        for (size_t i = 0; i < count; i++)
            assert_int_equal(mcp_server_add_tool(f->server, &tools[i]), 0);
    }
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.tcp = listen, .workers = 1}, NULL), 0);
    f->port = mcp_net_port(f->net);
    /* A pool may be dialing f->addr from its own thread (a restart on the
     * same port): the text is written only when it changes. */
    char addr[sizeof f->addr];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", f->port);
    if (strcmp(addr, f->addr) != 0)
        memcpy(f->addr, addr, sizeof addr);
}

static inline void server_stop(server_fixture *f)
{
    mcp_net_stop(f->net);
    mcp_net_wait(f->net);
    mcp_net_free(f->net);
    f->net = NULL;
}

static inline void server_free(server_fixture *f)
{
    if (f->net)
        server_stop(f);
    mcp_server_free(f->server);
}

#endif
