/*
 * A raw HTTP/1.1 client for the Streamable HTTP tests: real sockets on
 * 127.0.0.1, requests written byte by byte as the test spells them, and
 * responses read back whole (Content-Length or chunked) so that every byte
 * can be asserted. A server with a few tools comes with it.
 */
#ifndef TEST_HTTP_HARNESS_H
#define TEST_HTTP_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
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

#include "net/http.h"
#include "test_echo_tool.h"

#define INIT_BODY                                                                                  \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"     \
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"raw\",\"version\":\"1\"}}}"

/* ---- Tools ------------------------------------------------------------------------------ */
static int cancel_observed;  /* atomic: the cancellable tool saw mcp_call_is_cancelled */
static int cancel_started;   /* atomic */

/* Two progress notifications before the result (a token is needed). */
static inline int tool_progress(mcp_call *call, const mcp_json *args, void *user) {
    (void)args;
    (void)user;
    mcp_call_progress(call, 1, 2, "half");
    mcp_call_progress(call, 2, 2, "done");
    return mcp_call_text(call, "progressed");
}

typedef struct job {
    mcp_call *call;
    unsigned ms;
    bool watch_cancel;
} job;

static inline void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void *job_main(void *arg) {
    job *j = arg;
    if (j->watch_cancel) {
        __atomic_store_n(&cancel_started, 1, __ATOMIC_RELEASE);
        for (unsigned waited = 0; waited < j->ms; waited += 5) {
            if (mcp_call_is_cancelled(j->call)) {
                __atomic_store_n(&cancel_observed, 1, __ATOMIC_RELEASE);
                break;
            }
            sleep_ms(5);
        }
    } else {
        mcp_call_progress(j->call, 1, 2, "working");
        sleep_ms(j->ms);
    }
    mcp_call_text(j->call, "slept");
    mcp_call_finish(j->call);
    free(j);
    return NULL;
}

static inline int start_job(mcp_call *call, const mcp_json *args, bool watch) {
    job *j = malloc(sizeof *j);
    if (!j) return MCP_ENOMEM;
    j->call = call;
    j->ms = (unsigned)mcp_json_int(mcp_json_get(args, "ms"), 100);
    j->watch_cancel = watch;
    pthread_t thread;
    if (pthread_create(&thread, NULL, job_main, j)) {
        free(j);
        return MCP_ENOMEM;
    }
    pthread_detach(thread);
    return MCP_PENDING;
}

/* Finishes on another thread after ms, with a progress notification first. */
static inline int tool_slow(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return start_job(call, args, false);
}

/* Runs up to ms on another thread, watching for cancellation. */
static inline int tool_cancellable(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    return start_job(call, args, true);
}

static inline mcp_server *test_server_new(void) {
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "http-test", .version = "1.0"});
    assert_non_null(server);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "echo", .fn = tool_echo}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "progress", .fn = tool_progress}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "slow", .fn = tool_slow}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){.name = "cancellable", .fn = tool_cancellable}), 0);
    assert_int_equal(mcp_server_add_tool(server, &(mcp_tool){
                                                     .name = "regional",
                                                     .input_schema = "{\"type\":\"object\",\"properties\":{\"region\":"
                                                                     "{\"type\":\"string\",\"x-mcp-header\":\"Region\"}}}",
                                                     .fn = tool_echo,
                                                 }),
                     0);
    return server;
}

typedef struct fixture {
    mcp_server *server;
    mcp_net *net;
    int port;
} fixture;

static inline void fixture_start(fixture *f, const mcp_http_opts *opts, const mcp_listen *extra) {
    f->server = test_server_new();
    mcp_listen listen = extra ? *extra : (mcp_listen){0};
    listen.http = "127.0.0.1:0";
    if (!listen.workers) listen.workers = 2;
    listen.http_opts = opts;
    assert_int_equal(mcp_net_start(&f->net, f->server, &listen, &(mcp_net_tuning){.http = true}), 0);
    f->port = mcp_net_port(f->net);
    assert_true(f->port > 0);
}

static inline void fixture_stop(fixture *f) {
    mcp_net_free(f->net);
    mcp_server_free(f->server);
}

/* ---- Client ------------------------------------------------------------------------------ */
typedef struct client {
    int fd;
    char *buf;
    size_t len, cap;
} client;

static inline void client_open(client *c, int port) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    assert_non_null(c->buf);
}

static inline void client_close(client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static inline void client_send(client *c, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static inline void client_send_str(client *c, const char *s) { client_send(c, s, strlen(s)); }

/* Read more; false on timeout, EOF sets *eof. */
static inline bool client_fill(client *c, int timeout_ms, bool *eof) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    if (c->len + 4096 > c->cap) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n <= 0) {
        if (eof) *eof = true;
        return false;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

/* Length of the complete response at the start of buf, or 0. Chunked
 * bodies end at the zero chunk; until_bytes > 0 accepts a partial stream
 * as soon as that many bytes of it are in. */
static inline size_t response_length(const char *buf, size_t len) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - buf) + 4;
    const char *cl = memmem(buf, head, "Content-Length: ", 16);
    if (cl) {
        size_t body = (size_t)strtoul(cl + 16, NULL, 10);
        return len >= head + body ? head + body : 0;
    }
    if (!memmem(buf, head, "Transfer-Encoding: chunked", 26)) return head;
    size_t pos = head;
    for (;;) {
        const char *crlf = memmem(buf + pos, len - pos, "\r\n", 2);
        if (!crlf) return 0;
        size_t size = (size_t)strtoul(buf + pos, NULL, 16);
        size_t data = (size_t)(crlf - buf) + 2;
        if (len < data + size + 2) return 0;
        pos = data + size + 2;
        if (size == 0) return pos;
    }
}

/* The next whole response, NUL-terminated (caller frees); NULL on timeout. */
static inline char *client_response(client *c, int timeout_ms) {
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        size_t n = response_length(c->buf, c->len);
        if (n) {
            char *r = malloc(n + 1);
            memcpy(r, c->buf, n);
            r[n] = '\0';
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            c->buf[c->len] = '\0';
            return r;
        }
        uint64_t now = mcp_now_ns();
        if (now >= deadline) return NULL;
        bool eof = false;
        if (!client_fill(c, (int)((deadline - now) / 1000000u) + 1, &eof) && eof) return NULL;
    }
}

/* Wait until text shows up in what has been received (streams). */
static inline bool client_wait_for(client *c, const char *text, int timeout_ms) {
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!memmem(c->buf, c->len, text, strlen(text))) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline) return false;
        bool eof = false;
        if (!client_fill(c, (int)((deadline - now) / 1000000u) + 1, &eof) && eof) return false;
    }
    return true;
}

/* True once the server closed the connection (EOF) within timeout. */
static inline bool client_wait_eof(client *c, int timeout_ms) {
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = mcp_now_ns();
        if (now >= deadline) return false;
        bool eof = false;
        if (!client_fill(c, (int)((deadline - now) / 1000000u) + 1, &eof) && eof) return true;
    }
}

/* A POST to /mcp with our usual headers plus extra (each ending in \r\n). */
static inline void client_post(client *c, const char *extra, const char *body) {
    char head[2048];
    snprintf(head, sizeof head,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\n%sContent-Length: %zu\r\n\r\n",
             extra ? extra : "", strlen(body));
    client_send_str(c, head);
    client_send_str(c, body);
}

static inline char *client_exchange(client *c, const char *extra, const char *body) {
    client_post(c, extra, body);
    char *r = client_response(c, 5000);
    assert_non_null(r);
    return r;
}

/* "HTTP/1.1 <status> " of a response. */
static inline int response_status(const char *r) {
    assert_true(strncmp(r, "HTTP/1.1 ", 9) == 0);
    return atoi(r + 9);
}

static inline const char *response_body(const char *r) {
    const char *end = strstr(r, "\r\n\r\n");
    assert_non_null(end);
    return end + 4;
}

/* initialize, then notifications/initialized; writes the session header
 * line "Mcp-Session-Id: …\r\n" into header. */
static inline void client_initialize(client *c, char header[64]) {
    char *r = client_exchange(c, NULL, INIT_BODY);
    assert_int_equal(response_status(r), 200);
    const char *sid = strstr(r, "Mcp-Session-Id: ");
    assert_non_null(sid);
    snprintf(header, 64, "Mcp-Session-Id: %.32s\r\n", sid + 16);
    free(r);
    r = client_exchange(c, header, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_string_equal(r, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    free(r);
}

static inline mcp_http_counters http_counters(const fixture *f) {
    mcp_http_counters c;
    mcp_http_counters_get(mcp_net_http(f->net), &c);
    return c;
}

#endif
