/*
 * The server's side of batching, over real TCP on 127.0.0.1: a JSON-RPC
 * batch array is served only on a session that negotiated 2025-03-26, and
 * its responses come back as one array on one line; any other version gets
 * -32600 with a null id and loses nothing else on the connection; pipelined
 * messages in one segment are answered in one write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/rpc.h"
#include "net/net_internal.h"

static int tool_echo_n(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "n=%lld", (long long)mcp_json_int(mcp_json_get(args, "n"), -1));
}

typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int fd;
    mcp_buf in;   /* bytes read, not yet returned as lines */
    mcp_arena arena;
} fixture;

static void start(fixture *f) {
    memset(f, 0, sizeof *f);
    f->server = mcp_server_new(&(mcp_server_opts){.name = "batch-server-test", .version = "1.0"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "echo_n", .fn = tool_echo_n}), 0);
    assert_int_equal(mcp_net_start(&f->net, f->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL), 0);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)mcp_net_port(f->net))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mcp_buf_init(&f->in);
    mcp_arena_init(&f->arena, 0);
}

static void stop(fixture *f) {
    close(f->fd);
    mcp_net_stop(f->net);
    mcp_net_wait(f->net);
    mcp_net_free(f->net);
    mcp_server_free(f->server);
    mcp_buf_free(&f->in);
    mcp_arena_free(&f->arena);
}

static void send_text(fixture *f, const char *text) {
    size_t len = strlen(text);
    assert_int_equal(send(f->fd, text, len, 0), (ssize_t)len);
}

/* The next line from the server (NUL-terminated, in the arena). */
static char *next_line(fixture *f) {
    for (;;) {
        char *nl = memchr(f->in.data ? f->in.data : "", '\n', f->in.len);
        if (nl) {
            char *line = mcp_arena_strndup(&f->arena, f->in.data, (size_t)(nl - f->in.data));
            mcp_buf_consume(&f->in, (size_t)(nl - f->in.data) + 1);
            return line;
        }
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) fail_msg("no reply within 5 s");
        char buf[65536];
        ssize_t n = recv(f->fd, buf, sizeof buf, 0);
        if (n <= 0) fail_msg("connection closed");
        mcp_buf_append(&f->in, buf, (size_t)n);
    }
}

static void handshake(fixture *f, const char *version) {
    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n",
             version);
    send_text(f, text);
    char *reply = next_line(f);
    char want[64];
    snprintf(want, sizeof want, "\"protocolVersion\":\"%s\"", version);
    assert_non_null(strstr(reply, want));
    send_text(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
}

static const char *BATCH =
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo_n\",\"arguments\":{\"n\":1}}},"
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":9,\"progress\":1}},"
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"},"
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no/such\"},"
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo_n\",\"arguments\":{\"n\":4}}}]\n";

static void batch_is_served_as_one_array_with_2025_03_26(void **state) {
    (void)state;
    fixture f;
    start(&f);
    handshake(&f, "2025-03-26");
    send_text(&f, BATCH);
    char *line = next_line(&f);
    mcp_rpc_batch b;
    assert_int_equal(mcp_rpc_parse(&f.arena, line, strlen(line), NULL, &b), 0);
    assert_int_equal(b.error_code, 0);
    assert_true(b.is_batch);
    assert_int_equal(b.count, 4); /* four requests, no reply to the notification */
    bool seen[5] = {false};
    for (size_t i = 0; i < b.count; i++) {
        assert_int_equal(b.items[i].id.type, MCP_RPC_ID_INT);
        int64_t id = b.items[i].id.num;
        assert_true(id >= 1 && id <= 4);
        seen[id] = true;
        assert_int_equal(b.items[i].kind, id == 3 ? MCP_RPC_ERROR_RESPONSE : MCP_RPC_RESPONSE);
    }
    assert_true(seen[1] && seen[2] && seen[3] && seen[4]);
    assert_non_null(strstr(line, "n=1"));
    assert_non_null(strstr(line, "n=4"));
    assert_non_null(strstr(line, "-32601"));
    /* An array of notifications only is answered with nothing at all: the
     * next line is the reply to the ping that follows. */
    send_text(&f, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}]\n"
                  "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\"}\n");
    assert_non_null(strstr(next_line(&f), "\"id\":77"));
    stop(&f);
}

static void batch_is_refused_by_other_versions(void **state) {
    (void)state;
    const char *versions[] = {"2025-06-18", "2025-11-25", "2024-11-05"};
    for (size_t v = 0; v < 3; v++) {
        fixture f;
        start(&f);
        handshake(&f, versions[v]);
        send_text(&f, BATCH);
        char *line = next_line(&f);
        mcp_rpc_batch b;
        assert_int_equal(mcp_rpc_parse(&f.arena, line, strlen(line), NULL, &b), 0);
        assert_false(b.is_batch);
        assert_int_equal(b.items[0].kind, MCP_RPC_ERROR_RESPONSE);
        assert_int_equal(b.items[0].id.type, MCP_RPC_ID_NONE);
        assert_non_null(strstr(line, "\"id\":null"));
        assert_non_null(strstr(line, "-32600"));
        /* Nothing of the batch ran, and the connection still serves. */
        send_text(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}\n");
        line = next_line(&f);
        assert_non_null(strstr(line, "\"id\":5"));
        assert_null(strstr(line, "n=1"));
        stop(&f);
    }
    /* Before initialize, even the version that has batches refuses them. */
    fixture f;
    start(&f);
    send_text(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n");
    assert_non_null(strstr(next_line(&f), "-32600"));
    stop(&f);
}

static void pipelined_messages_get_one_write_per_read(void **state) {
    (void)state;
    fixture f;
    start(&f);
    handshake(&f, "2025-06-18");
    mcp_net_counters before, after;
    /* A ping's reply proves the initialized notification was read before
     * the counters are taken: it would count as a read without a write. */
    send_text(&f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}\n");
    assert_non_null(strstr(next_line(&f), "\"id\":0"));
    mcp_buf req;
    mcp_buf_init(&req);
    for (int i = 1; i <= 40; i++)
        mcp_buf_appendf(&req,
                        "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"echo_n\","
                        "\"arguments\":{\"n\":%d}}}\n",
                        i, i);
    mcp_net_counters_get(f.net, &before);
    assert_int_equal(send(f.fd, req.data, req.len, 0), (ssize_t)req.len);
    for (int i = 1; i <= 40; i++) {
        char *line = next_line(&f);
        char want[32];
        snprintf(want, sizeof want, "\"id\":%d", i);
        assert_non_null(strstr(line, want)); /* in order */
    }
    mcp_net_counters_get(f.net, &after);
    assert_int_equal(after.messages_in - before.messages_in, 40);
    assert_int_equal(after.writes - before.writes, after.reads - before.reads);
    mcp_buf_free(&req);
    stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_is_served_as_one_array_with_2025_03_26),
        cmocka_unit_test(batch_is_refused_by_other_versions),
        cmocka_unit_test(pipelined_messages_get_one_write_per_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
