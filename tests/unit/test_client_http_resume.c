/*
 * test_client_http_resume.c — SSE resumption in the HTTP connector against
 * a scripted HTTP server on a loopback socket: the tools/call stream gives
 * an event id and a retry: delay, then the connection drops before the
 * response. The client must come back by GET with Last-Event-ID (and its
 * session) no sooner than the delay and take the response from there; a
 * stream without an event id cannot be resumed and a refused resumption
 * is reported, both as errors of that request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { RESUME_OK = 0, NO_EVENT_ID, RESUME_REFUSED };

typedef struct script {
    int lfd;
    int port;
    int mode;
    pthread_t thread;
    atomic_int stop; /* written by the test, read by the server thread */
    char tool_id[32];
    char last_event_id[64];
    char get_session[64];
    int gets;
    int deletes;
    uint64_t dropped_ns;
    uint64_t get_ns;
} script;

#define RETRY_MS 150

static void write_str(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* A header's value (case-insensitive name) into out; false when absent. */
static bool header(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, size, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

/* Read one request (head and Content-Length body) into buf. */
static bool read_request(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0 || len + 1 >= size)
            return false;
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char cl[32] = "0";
        header(buf, "Content-Length", cl, sizeof cl);
        if (len >= (size_t)(end + 4 - buf) + (size_t)atol(cl))
            return true;
    }
}

static void answer(script *s, int fd, char *req)
{
    char reply[1024];
    if (!strncmp(req, "DELETE ", 7)) {
        s->deletes++;
        write_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    if (!strncmp(req, "GET ", 4)) {
        s->gets++;
        s->get_ns = mcp_now_ns();
        header(req, "Last-Event-ID", s->last_event_id, sizeof s->last_event_id);
        header(req, "Mcp-Session-Id", s->get_session, sizeof s->get_session);
        if (s->mode == RESUME_REFUSED) {
            static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
                                       "\"message\":\"Last-Event-ID unknown\"}}";
            snprintf(reply, sizeof reply,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     sizeof body - 1, body);
            write_str(fd, reply);
            return;
        }
        snprintf(reply, sizeof reply,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                 "id: e2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":"
                 "[{\"type\":\"text\",\"text\":\"resumed\"}]}}\n\n",
                 s->tool_id);
        write_str(fd, reply);
        return;
    }
    char *body = strstr(req, "\r\n\r\n") + 4;
    char *id = strstr(body, "\"id\":");
    char idtext[32] = "null";
    if (id)
        snprintf(idtext, sizeof idtext, "%.*s", (int)strcspn(id + 5, ",}"), id + 5);
    if (strstr(body, "\"method\":\"initialize\"")) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"2025-11-25\","
                 "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"script\",\"version\":\"1\"}}}",
                 idtext);
        snprintf(reply, sizeof reply,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s-123\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(json), json);
        write_str(fd, reply);
        return;
    }
    if (!id || strstr(body, "\"method\":\"notifications/")) {
        write_str(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    /* tools/call: open the stream, then drop it before the response. */
    snprintf(s->tool_id, sizeof s->tool_id, "%s", idtext);
    write_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
    if (s->mode == NO_EVENT_ID)
        write_str(fd, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                      "\"params\":{\"level\":\"info\",\"data\":\"working\"}}\n\n");
    else
        write_str(fd, "id: e1\nretry: 150\ndata: \n\n");
    struct timespec nap = {0, 20 * 1000000};
    nanosleep(&nap, NULL);
    s->dropped_ns = mcp_now_ns();
}

static void *serve(void *arg)
{
    script *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char req[8192];
        if (read_request(fd, req, sizeof req))
            answer(s, fd, req);
        close(fd);
    }
    return NULL;
}

static void script_start(script *s, int mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void script_stop(script *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static mcp_client *connect_script(const script *s, mcp_client_transport **t)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", s->port);
    assert_int_equal(mcp_connect_http(url, NULL, t), 0);
    mcp_client *c = mcp_client_new(&(mcp_client_opts){.protocol_version = "2025-11-25", .transport = *t,
                                                      .timeout_ms = 5000});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    return c;
}

static void resumes_after_retry_delay(void **state)
{
    (void)state;
    script s;
    script_start(&s, RESUME_OK);
    mcp_client_transport *t;
    mcp_client *c = connect_script(&s, &t);
    mcp_client_result r;
    int status = mcp_client_call_sync(c, "tools/call", "{\"name\":\"work\",\"arguments\":{}}", NULL, &r);
    assert_int_equal(status, 0);
    assert_non_null(strstr(r.json, "resumed"));
    mcp_client_result_free(&r);
    assert_int_equal(s.gets, 1);
    assert_string_equal(s.last_event_id, "e1");
    assert_string_equal(s.get_session, "s-123");
    /* The server asked for RETRY_MS before reconnecting. */
    assert_true(s.get_ns - s.dropped_ns >= (uint64_t)(RETRY_MS - 10) * 1000000u);
    mcp_http_client_stats st;
    assert_int_equal(mcp_http_client_stats_get(t, &st), 0);
    assert_int_equal(st.resumptions, 1);
    assert_int_equal(st.sse_responses, 1);
    mcp_client_free(c);
    assert_int_equal(s.deletes, 1);
    script_stop(&s);
}

/* Against a script in mode, a call fails with an RPC error whose text holds
 * every one of needles (NULL-terminated) after want_gets GET requests. */
static void call_fails_with(int mode, const char *const *needles, int want_gets)
{
    script s;
    script_start(&s, mode);
    mcp_client_transport *t;
    mcp_client *c = connect_script(&s, &t);
    mcp_client_result r;
    int status = mcp_client_call_sync(c, "tools/call", "{\"name\":\"work\",\"arguments\":{}}", NULL, &r);
    assert_int_equal(status, MCP_CLIENT_RPC_ERROR);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(r.json, *n))
            fail_msg("'%s' not in %s", *n, r.json);
    mcp_client_result_free(&r);
    assert_int_equal(s.gets, want_gets);
    mcp_client_free(c);
    script_stop(&s);
}

static void stream_without_event_id_fails_the_request(void **state)
{
    (void)state;
    call_fails_with(NO_EVENT_ID, (const char *const[]){"ended before the response", "not resumable", NULL}, 0);
}

static void refused_resumption_is_reported(void **state)
{
    (void)state;
    call_fails_with(RESUME_REFUSED, (const char *const[]){"HTTP 400: Last-Event-ID unknown", NULL}, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resumes_after_retry_delay),
        cmocka_unit_test(stream_without_event_id_fails_the_request),
        cmocka_unit_test(refused_resumption_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
