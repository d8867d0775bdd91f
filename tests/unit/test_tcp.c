/*
 * The TCP runtime against real sockets on 127.0.0.1: pipelining and batched
 * writes, split and oversized messages, limits (connections, idle time,
 * output queue), and graceful drain with an asynchronous call in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "test_slow_tool.h"
#include "test_echo_tool.h"

/* ---- A real server with a few tools ------------------------------------------------ */
/* A large reply, to fill output queues quickly. */
static int tool_blob(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    static char text[8192];
    memset(text, 'b', sizeof text);
    return mcp_call_text_n(call, text, sizeof text);
}

/* A small synchronous reply naming its request: "hello N". */
static int tool_hello(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return mcp_call_text(call, "hello %lld", (long long)mcp_json_int(mcp_json_get(args, "n"), -1));
}

static mcp_server *server_new(void) {
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "tcp-test", .version = "1.0"});
    assert_non_null(server);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "slow", .fn = tool_slow}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "blob", .fn = tool_blob}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "hello", .fn = tool_hello}), 0);
    return server;
}

typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
} fixture;

static void fixture_start(fixture *f, mcp_listen listen, unsigned stall_timeout_ms) {
    f->server = server_new();
    listen.tcp = "127.0.0.1:0";
    if (!listen.workers) listen.workers = 2;
    mcp_net_tuning tuning = {.stall_timeout_ms = stall_timeout_ms};
    assert_int_equal(mcp_net_start(&f->net, f->server, &listen, &tuning), 0);
    f->port = mcp_net_port(f->net);
    assert_true(f->port > 0);
}

static void fixture_stop(fixture *f) {
    mcp_net_stop(f->net);
    assert_int_equal(mcp_net_wait(f->net), 0);
    mcp_net_free(f->net);
    mcp_server_free(f->server);
}

static mcp_net_counters counters(const fixture *f) {
    mcp_net_counters c;
    mcp_net_counters_get(f->net, &c);
    return c;
}

/* ---- A blocking client ------------------------------------------------------------------- */
static uint64_t now_ms(void) { return mcp_now_ns() / 1000000u; }

static int client_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(fd, data, len, 0);
        if (n <= 0) fail_msg("send: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

static void send_cstr(int fd, const char *text) { send_all(fd, text, strlen(text)); }

/* Reads until `lines` newlines have arrived, EOF, or the deadline. Returns
 * the number of complete lines in *out; *eof tells whether the peer closed. */
static size_t read_lines(int fd, mcp_buf *out, size_t lines, unsigned timeout_ms, bool *eof, size_t *reads) {
    uint64_t deadline = now_ms() + timeout_ms;
    size_t seen = 0;
    for (size_t i = 0; i < out->len; i++) seen += out->data[i] == '\n';
    if (eof) *eof = false;
    while (seen < lines) {
        uint64_t now = now_ms();
        if (now >= deadline) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now)) <= 0) continue;
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            if (eof) *eof = true;
            break;
        }
        if (reads) (*reads)++;
        for (ssize_t i = 0; i < n; i++) seen += chunk[i] == '\n';
        assert_int_equal(mcp_buf_append(out, chunk, (size_t)n), 0);
    }
    return seen;
}

/* Waits for EOF (or a reset); true if it came before the deadline. */
static bool wait_closed(int fd, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now)) <= 0) continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return true;
    }
}

static const char *nth_line(const mcp_buf *buf, size_t index, size_t *len) {
    const char *p = buf->data;
    const char *end = buf->data + buf->len;
    for (size_t i = 0; i < index; i++) {
        p = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(p);
        p++;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert_non_null(nl);
    *len = (size_t)(nl - p);
    return p;
}

static void assert_ping_reply(const mcp_buf *buf, size_t index, long id) {
    size_t len;
    const char *line = nth_line(buf, index, &len);
    char want[64];
    snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{}}", id);
    if (len != strlen(want) || memcmp(line, want, len) != 0)
        fail_msg("reply %zu: got %.*s, want %s", index, (int)len, line, want);
}

static void wait_counter(const fixture *f, size_t offset, uint64_t want, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        mcp_net_counters c = counters(f);
        uint64_t value = *(const uint64_t *)((const char *)&c + offset);
        if (value >= want) return;
        if (now_ms() >= deadline) fail_msg("counter at offset %zu is %llu, want %llu", offset,
                                           (unsigned long long)value, (unsigned long long)want);
        usleep(2000);
    }
}
#define WAIT_COUNTER(f, field, want, ms) wait_counter((f), offsetof(mcp_net_counters, field), (want), (ms))

/* ---- Tests ------------------------------------------------------------------------------------- */
static void pipelined_burst_is_answered_in_order_and_in_batches(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){0}, 0);
    int fd = client_connect(f.port);

    /* A small burst fits one segment: one read, so one write. */
    mcp_buf req;
    mcp_buf_init(&req);
    for (int i = 1; i <= 50; i++) mcp_buf_appendf(&req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
    send_all(fd, req.data, req.len);
    mcp_buf got;
    mcp_buf_init(&got);
    size_t client_reads = 0;
    assert_int_equal(read_lines(fd, &got, 50, 5000, NULL, &client_reads), 50);
    for (int i = 0; i < 50; i++) assert_ping_reply(&got, (size_t)i, i + 1);
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.messages_in, 50);
    assert_int_equal(c.writes, c.reads); /* one write per read, not per message */
    printf("# 50 pipelined pings: server reads %llu, writes %llu; client reads %zu\n",
           (unsigned long long)c.reads, (unsigned long long)c.writes, client_reads);

    /* A big burst spans many reads; replies still come in order and never
     * take more writes than there were reads. */
    mcp_buf_reset(&req);
    mcp_buf_reset(&got);
    for (int i = 1; i <= 5000; i++) mcp_buf_appendf(&req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
    send_all(fd, req.data, req.len);
    assert_int_equal(read_lines(fd, &got, 5000, 10000, NULL, NULL), 5000);
    for (int i = 0; i < 5000; i++) assert_ping_reply(&got, (size_t)i, i + 1);
    c = counters(&f);
    assert_int_equal(c.messages_in, 5050);
    assert_true(c.writes <= c.reads);

    close(fd);
    mcp_buf_free(&req);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

/* Replies built in place in the connection's buffer (mcp_sink.lend) and
 * replies that cross over from another thread (an asynchronous tool) share
 * one output: every line is one whole reply, every request is answered
 * once, the synchronous ones in order, and no more writes than reads plus
 * the replies that came from elsewhere. */
static void lent_and_posted_replies_share_the_output(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.workers = 1}, 0);
    int fd = client_connect(f.port);
    enum { N = 300, ASYNC_EVERY = 25 };
    mcp_buf req;
    mcp_buf_init(&req);
    for (int i = 1; i <= N; i++) {
        if (i % ASYNC_EVERY == 0)
            mcp_buf_appendf(&req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                            "\"slow\",\"arguments\":{\"ms\":%d}," MODERN_META "}}\n", i, i % 3);
        else
            mcp_buf_appendf(&req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                            "\"hello\",\"arguments\":{\"n\":%d}," MODERN_META "}}\n", i, i);
    }
    send_all(fd, req.data, req.len);
    mcp_buf got;
    mcp_buf_init(&got);
    assert_int_equal(read_lines(fd, &got, N, 10000, NULL, NULL), N);
    bool seen[N + 1] = {false};
    int last_sync = 0;
    for (size_t k = 0; k < N; k++) {
        size_t len;
        const char *line = nth_line(&got, k, &len);
        mcp_arena arena;
        mcp_arena_init(&arena, 1024);
        mcp_json *doc = NULL;
        if (mcp_json_parse(&arena, line, len, NULL, &doc, NULL) != 0) fail_msg("reply %zu: %.*s", k, (int)len, line);
        int64_t id = mcp_json_int(mcp_json_get(doc, "id"), 0);
        assert_true(id >= 1 && id <= N);
        assert_false(seen[id]);
        seen[id] = true;
        const mcp_json *content = mcp_json_get(mcp_json_get(doc, "result"), "content");
        const char *text = mcp_json_str(mcp_json_get(mcp_json_first(content), "text"), "");
        char want[32];
        if (id % ASYNC_EVERY == 0) {
            snprintf(want, sizeof want, "slept %d ms", (int)(id % 3));
        } else {
            snprintf(want, sizeof want, "hello %d", (int)id);
            assert_true(id > last_sync);
            last_sync = (int)id;
        }
        assert_string_equal(text, want);
        mcp_arena_free(&arena);
    }
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.messages_in, N);
    assert_true(c.writes <= c.reads + N / ASYNC_EVERY);
    close(fd);
    mcp_buf_free(&req);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void messages_split_byte_by_byte_are_reassembled(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){0}, 0);
    int fd = client_connect(f.port);
    const char *text = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\r\n\n{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}\n";
    for (size_t i = 0; text[i]; i++) {
        send_all(fd, text + i, 1);
        if (i % 8 == 0) usleep(500); /* let some bytes arrive as reads of their own */
    }
    mcp_buf got;
    mcp_buf_init(&got);
    assert_int_equal(read_lines(fd, &got, 2, 5000, NULL, NULL), 2);
    assert_ping_reply(&got, 0, 7);
    assert_ping_reply(&got, 1, 8);
    assert_true(counters(&f).reads > 2);
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void oversized_message_gets_an_error_and_the_next_one_works(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.max_message_size = 256}, 0);
    int fd = client_connect(f.port);
    char big[4000];
    int n = snprintf(big, sizeof big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"");
    memset(big + n, 'x', sizeof big - (size_t)n);
    send_all(fd, big, sizeof big); /* the oversized line streams in two parts */
    usleep(20000);
    send_cstr(fd, "\"}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    mcp_buf got;
    mcp_buf_init(&got);
    assert_int_equal(read_lines(fd, &got, 2, 5000, NULL, NULL), 2);
    size_t len;
    const char *line = nth_line(&got, 0, &len);
    const char *want = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                       "\"message\":\"message exceeds the limit of 256 bytes\"}}";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    assert_ping_reply(&got, 1, 2);
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.oversized, 1);
    assert_int_equal(c.messages_in, 1);
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

/* Whether fd has reached EOF (or a reset), without waiting. */
static bool peer_closed_now(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return false;
    char chunk[4096];
    return recv(fd, chunk, sizeof chunk, MSG_DONTWAIT) <= 0;
}

static void idle_connection_is_closed_and_counted(void **state) {
    (void)state;
    fixture f;
    /* The busy client's gaps are a few ms; a timeout this long keeps it
     * open even when a loaded machine deschedules the test or the server
     * for a good part of a second. */
    enum { IDLE_MS = 1000 };
    fixture_start(&f, (mcp_listen){.idle_timeout_ms = IDLE_MS}, 0);
    int busy = client_connect(f.port);
    int idle = client_connect(f.port);
    uint64_t start = now_ms();
    /* The busy client keeps talking until the idle one is gone, and must
     * stay open all along. */
    mcp_buf got;
    mcp_buf_init(&got);
    size_t pings = 0;
    while (!peer_closed_now(idle)) {
        if (now_ms() - start > 20000) fail_msg("the idle connection was not closed");
        char req[80];
        snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"ping\"}\n", ++pings);
        send_cstr(busy, req);
        assert_int_equal(read_lines(busy, &got, pings, 10000, NULL, NULL), pings);
        usleep(20000);
    }
    uint64_t waited = now_ms() - start;
    /* The server's clock starts at its accept, within a tick of ours. */
    assert_true(waited >= IDLE_MS - 1);
    send_cstr(busy, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}\n");
    assert_int_equal(read_lines(busy, &got, pings + 1, 10000, NULL, NULL), pings + 1);
    assert_ping_reply(&got, pings, 0);
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.idle_closed, 1);
    close(idle);
    close(busy);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void connections_over_the_limit_are_refused_and_counted(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.max_connections = 2}, 0);
    int a = client_connect(f.port);
    int b = client_connect(f.port);
    mcp_buf got;
    mcp_buf_init(&got);
    send_cstr(a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    send_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    assert_int_equal(read_lines(a, &got, 1, 2000, NULL, NULL), 1);
    mcp_buf_reset(&got);
    assert_int_equal(read_lines(b, &got, 1, 2000, NULL, NULL), 1);

    int c3 = client_connect(f.port);
    mcp_buf_reset(&got);
    bool eof = false;
    read_lines(c3, &got, 2, 3000, &eof, NULL);
    assert_true(eof);
    assert_non_null(strstr(got.data ? got.data : "", "connection limit"));
    close(c3);
    assert_int_equal(counters(&f).refused, 1);

    /* A freed slot can be taken again. */
    close(a);
    WAIT_COUNTER(&f, closed, 1, 3000);
    int d = client_connect(f.port);
    send_cstr(d, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\n");
    mcp_buf_reset(&got);
    assert_int_equal(read_lines(d, &got, 1, 2000, NULL, NULL), 1);
    assert_ping_reply(&got, 0, 9);
    close(d);
    close(b);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

/* A client that sends many requests for large replies and reads none. The
 * socket is left non-blocking; a request cut short by a full send buffer is
 * remembered in *rest so that it can be finished while reading. */
typedef struct flood {
    char req[256];
    size_t len;
    size_t sent;    /* requests sent in full or in part */
    size_t partial; /* bytes of the last request already sent */
} flood;

/* Floods until the server has stopped reading fd (and fd's send buffer is
 * full): a condition, not a duration, as how much a fixed time sends
 * depends on how busy the machine is. */
static void flood_without_reading(const fixture *f, int fd, flood *fl) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fl->len = (size_t)snprintf(fl->req, sizeof fl->req,
                               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"blob\","
                               MODERN_META "}}\n");
    fl->sent = fl->partial = 0;
    uint64_t deadline = now_ms() + 20000;
    bool blocked = false;
    while (!blocked || counters(f).read_paused == 0) {
        if (now_ms() >= deadline) fail_msg("the server kept reading a client that reads nothing");
        ssize_t n = send(fd, fl->req + fl->partial, fl->len - fl->partial, 0);
        if (n > 0) {
            if (fl->partial == 0) fl->sent++;
            fl->partial += (size_t)n;
            if (fl->partial == fl->len) fl->partial = 0;
        } else {
            blocked = true;
            usleep(1000);
        }
    }
}

/* Reads `lines` replies while finishing the flood's last request. */
static size_t flood_collect(int fd, flood *fl, mcp_buf *out, size_t lines, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    size_t seen = 0;
    while (seen < lines && now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (fl->partial ? POLLOUT : 0)};
        if (poll(&p, 1, 100) <= 0) continue;
        if ((p.revents & POLLOUT) && fl->partial) {
            ssize_t n = send(fd, fl->req + fl->partial, fl->len - fl->partial, 0);
            if (n > 0) fl->partial = (fl->partial + (size_t)n) % fl->len;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[65536];
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN)) break;
            if (n < 0) continue;
            for (ssize_t i = 0; i < n; i++) seen += chunk[i] == '\n';
            assert_int_equal(mcp_buf_append(out, chunk, (size_t)n), 0);
        }
    }
    return seen;
}

static void output_queue_pauses_reading_and_others_are_served(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.max_output_queue = 32 * 1024}, 60000);
    int hog = client_connect(f.port);
    flood fl;
    flood_without_reading(&f, hog, &fl);
    assert_true(counters(&f).read_paused >= 1);

    /* The server is healthy: another client is served while the hog still
     * reads nothing, so its turn does not wait on the hog's replies. The
     * deadline is generous: how fast "at once" is depends on the load. */
    int other = client_connect(f.port);
    mcp_buf got;
    mcp_buf_init(&got);
    send_cstr(other, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"ping\"}\n");
    assert_int_equal(read_lines(other, &got, 1, 10000, NULL, NULL), 1);
    assert_ping_reply(&got, 0, 42);

    /* When the hog reads, every request it sent is answered, in full. */
    mcp_buf_reset(&got);
    assert_int_equal(flood_collect(hog, &fl, &got, fl.sent, 20000), fl.sent);
    assert_non_null(strstr(got.data, "bbbb"));
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.slow_evicted, 0);
    printf("# back-pressure: %zu requests sent while not reading; reading paused %llu times\n", fl.sent,
           (unsigned long long)c.read_paused);
    close(other);
    close(hog);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void reader_stalled_too_long_is_evicted(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.max_output_queue = 16 * 1024}, 200);
    int hog = client_connect(f.port);
    flood fl;
    flood_without_reading(&f, hog, &fl);
    WAIT_COUNTER(&f, slow_evicted, 1, 10000);
    assert_true(wait_closed(hog, 10000));
    close(hog);

    int other = client_connect(f.port);
    mcp_buf got;
    mcp_buf_init(&got);
    send_cstr(other, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}\n");
    assert_int_equal(read_lines(other, &got, 1, 2000, NULL, NULL), 1);
    assert_ping_reply(&got, 0, 5);
    close(other);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static const char *slow_call(int id, unsigned ms, char *buf, size_t size) {
    snprintf(buf, size,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
             "\"arguments\":{\"ms\":%u}," MODERN_META "}}\n",
             id, ms);
    return buf;
}

static void stop_drains_an_async_call_in_flight(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.drain_grace_ms = 5000}, 0);
    int fd = client_connect(f.port);
    char req[512];
    send_cstr(fd, slow_call(3, 300, req, sizeof req));
    send_cstr(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n");
    WAIT_COUNTER(&f, messages_in, 2, 2000);

    uint64_t start = now_ms();
    mcp_net_stop(f.net);
    mcp_buf got;
    mcp_buf_init(&got);
    bool eof = false;
    assert_int_equal(read_lines(fd, &got, 2, 5000, &eof, NULL), 2);
    assert_ping_reply(&got, 0, 4); /* the quick one first */
    size_t len;
    const char *line = nth_line(&got, 1, &len);
    assert_true(len > 0);
    assert_non_null(strstr(line, "\"id\":3"));
    assert_non_null(strstr(line, "slept 300 ms"));
    assert_true(wait_closed(fd, 5000)); /* then an orderly close */
    assert_int_equal(mcp_net_wait(f.net), 0);
    uint64_t took = now_ms() - start;
    assert_true(took < 5000);
    mcp_net_counters c = counters(&f);
    assert_int_equal(c.drain_forced, 0);
    assert_int_equal(c.output_dropped, 0);

    /* Stopped means no longer listening. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(probe, (struct sockaddr *)&addr, sizeof addr), 0);
    close(probe);
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void drain_grace_cuts_calls_that_run_too_long(void **state) {
    (void)state;
    fixture f;
    /* The call outlasts the grace by far more than a loaded machine delays
     * a timer, so that the cut always falls while it still runs. */
    enum { GRACE_MS = 100, CALL_MS = 2500 };
    fixture_start(&f, (mcp_listen){.drain_grace_ms = GRACE_MS}, 0);
    int fd = client_connect(f.port);
    char req[512];
    send_cstr(fd, slow_call(1, CALL_MS, req, sizeof req));
    WAIT_COUNTER(&f, messages_in, 1, 10000);
    uint64_t start = now_ms();
    mcp_net_stop(f.net);
    /* Closed without the reply: the call was cut, not waited for. */
    mcp_buf got;
    mcp_buf_init(&got);
    bool eof = false;
    assert_int_equal(read_lines(fd, &got, 1, 10000, &eof, NULL), 0);
    assert_true(eof);
    uint64_t cut = now_ms() - start;
    assert_true(cut >= GRACE_MS - 10 && cut < CALL_MS);
    assert_int_equal(mcp_net_wait(f.net), 0); /* returns once the call has finished */
    assert_int_equal(counters(&f).drain_forced, 1);
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void half_closed_client_still_gets_async_replies(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){0}, 0);
    int fd = client_connect(f.port);
    char req[512];
    send_cstr(fd, slow_call(11, 150, req, sizeof req));
    shutdown(fd, SHUT_WR);
    mcp_buf got;
    mcp_buf_init(&got);
    bool eof = false;
    assert_int_equal(read_lines(fd, &got, 1, 3000, &eof, NULL), 1);
    assert_non_null(strstr(got.data, "slept 150 ms"));
    assert_true(wait_closed(fd, 3000));
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void a_long_call_is_not_idleness(void **state) {
    (void)state;
    fixture f;
    fixture_start(&f, (mcp_listen){.idle_timeout_ms = 100}, 0);
    int fd = client_connect(f.port);
    char req[512];
    send_cstr(fd, slow_call(21, 400, req, sizeof req));
    mcp_buf got;
    mcp_buf_init(&got);
    assert_int_equal(read_lines(fd, &got, 1, 3000, NULL, NULL), 1);
    assert_non_null(strstr(got.data, "slept 400 ms"));
    assert_true(wait_closed(fd, 3000)); /* idle again after the reply */
    assert_int_equal(counters(&f).idle_closed, 1);
    close(fd);
    mcp_buf_free(&got);
    fixture_stop(&f);
}

static void bad_addresses_are_rejected(void **state) {
    (void)state;
    mcp_server *server = server_new();
    mcp_net *net = NULL;
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.tcp = "nonsense"}, NULL), MCP_EINVAL);
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.tcp = "127.0.0.1:99999"}, NULL), MCP_EINVAL);
    assert_int_equal(mcp_net_start(&net, server, &(mcp_listen){.tcp = "127.0.0.1:"}, NULL), MCP_EINVAL);
    assert_null(net);
    mcp_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipelined_burst_is_answered_in_order_and_in_batches),
        cmocka_unit_test(lent_and_posted_replies_share_the_output),
        cmocka_unit_test(messages_split_byte_by_byte_are_reassembled),
        cmocka_unit_test(oversized_message_gets_an_error_and_the_next_one_works),
        cmocka_unit_test(idle_connection_is_closed_and_counted),
        cmocka_unit_test(connections_over_the_limit_are_refused_and_counted),
        cmocka_unit_test(output_queue_pauses_reading_and_others_are_served),
        cmocka_unit_test(reader_stalled_too_long_is_evicted),
        cmocka_unit_test(stop_drains_an_async_call_in_flight),
        cmocka_unit_test(drain_grace_cuts_calls_that_run_too_long),
        cmocka_unit_test(half_closed_client_still_gets_async_replies),
        cmocka_unit_test(a_long_call_is_not_idleness),
        cmocka_unit_test(bad_addresses_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
