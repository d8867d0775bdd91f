/*
 * test_pipe_server.h — an mcp_server served over a pair of pipes by
 * mcp_serve_stdio_fds on a thread, and a client transport on the other
 * ends, for the client tests that meet mcpd's own server core without a
 * network. Freeing the client closes its ends, which ends the thread;
 * then pipe_server_join. Include after <cmocka.h>.
 */
#ifndef TEST_PIPE_SERVER_H
#define TEST_PIPE_SERVER_H

#include "mcp/client.h"
#include "mcp/mcp.h"
#include "mcp/net.h"

#include <pthread.h>
#include <unistd.h>

typedef struct pipe_server {
    mcp_server *server;
    int to_server[2];
    int from_server[2];
    pthread_t thread;
} pipe_server;

static inline void *pipe_server_thread(void *arg)
{
    pipe_server *p = arg;
    mcp_serve_stdio_fds(p->server, p->to_server[0], p->from_server[1], &(mcp_listen){.stdio = true});
    close(p->to_server[0]);
    close(p->from_server[1]);
    return NULL;
}

/* Serve server on a thread; the client transport of the other ends. */
static inline mcp_client_transport *pipe_server_start(pipe_server *p, mcp_server *server)
{
    p->server = server;
    assert_int_equal(pipe(p->to_server), 0);
    assert_int_equal(pipe(p->from_server), 0);
    assert_int_equal(pthread_create(&p->thread, NULL, pipe_server_thread, p), 0);
    mcp_client_transport *t = NULL;
    assert_int_equal(mcp_connect_fds(p->from_server[0], p->to_server[1], NULL, &t), 0);
    return t;
}

static inline void pipe_server_join(pipe_server *p)
{
    pthread_join(p->thread, NULL);
}

#endif
