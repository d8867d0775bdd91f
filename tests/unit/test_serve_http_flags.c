/*
 * `mcpd serve` HTTP liveness and SSE options, from the command line and
 * from --config, seen on the wire: --sse-retry-ms changes the retry: field
 * of a GET stream's priming event, --ping-interval sends a ping request
 * down a session's GET stream, and --ping-timeout drops a session that
 * leaves it unanswered (its stream ends, its id then gets 404) while a
 * session that answers lives on. Bad values exit 2 with the option named.
 */
#include "mcp/base.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_mcpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct server {
    pid_t pid;
    char err_path[64];
    int port;
} server;

/* `mcpd serve ARGS...` (NULL-terminated) with stderr to a file. */
static pid_t spawn(server *s, const char *const *args) {
    static int serial;
    snprintf(s->err_path, sizeof s->err_path, "/tmp/mcpd-httpflags-%d-%d.err", (int)getpid(), serial++);
    const char *argv[32] = {need_mcpd(), "serve"};
    size_t n = 2;
    while (*args && n < 31) argv[n++] = *args++;
    argv[n] = NULL;
    return mcpd_spawn((char *const *)argv, -1, -1, NULL, s->err_path);
}

/* Start a server that must come up; its HTTP port from the log (5 s). */
static void server_start(server *s, const char *const *args) {
    s->pid = spawn(s, args);
    assert_true(s->pid > 0);
    s->port = mcpd_logged_port(s->err_path, "http");
    if (!s->port) {
        char *text = mcpd_read_text(s->err_path);
        fprintf(stderr, "mcpd did not log its HTTP port:\n%s", text ? text : "");
        free(text);
        fail();
    }
}

static void server_stop(server *s) {
    mcpd_stop(s->pid, s->err_path);
}

/* Run `mcpd serve ARGS...` that must refuse to start: exit 2, and stderr
 * holds why. */
static void assert_refused(const char *const *args, const char *why) {
    server s;
    pid_t pid = spawn(&s, args);
    assert_true(pid > 0);
    int code = mcpd_wait_exit(pid);
    char *text = mcpd_read_text(s.err_path);
    unlink(s.err_path);
    bool ok = code == 2 && text && strstr(text, why);
    if (!ok)
        fprintf(stderr, "%s %s: want exit 2 with '%s', got %d and:\n%s", args[0], args[1] ? args[1] : "", why, code,
                text ? text : "");
    free(text);
    assert_true(ok);
}

static uint64_t now_ms(void) { return mcp_now_ns() / 1000000; }

typedef enum wait_result { WAIT_FOUND, WAIT_TIMEOUT, WAIT_ENDED } wait_result;

/* Read the stream into b (kept NUL-terminated) until it holds needle, the
 * peer closes, or limit_ms pass. */
static wait_result stream_wait(int fd, mcp_buf *b, const char *needle, unsigned limit_ms) {
    uint64_t until = now_ms() + limit_ms;
    for (;;) {
        mcp_buf_append_char(b, '\0');
        b->len--;
        if (strstr(b->data, needle)) return WAIT_FOUND;
        uint64_t now = now_ms();
        if (now >= until) return WAIT_TIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)(until - now));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return WAIT_TIMEOUT;
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return WAIT_ENDED;
        mcp_buf_append(b, chunk, (size_t)got);
    }
}

/* ---- Refusals ---------------------------------------------------------------------- */

/* Write json to a config file named for this process and what: its path. */
static void config_write(char path[64], const char *what, const char *json) {
    snprintf(path, 64, "/tmp/mcpd-httpflags-%s-%d.json", what, (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static void test_bad_values_exit_2(void **state) {
    (void)state;
    if (!need_mcpd()) skip();
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--sse-retry-ms", "0", NULL},
                   "--sse-retry-ms must be a whole number from 1 to 3600000, got '0'");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--sse-retry-ms", "1s", NULL},
                   "--sse-retry-ms must be a whole number");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--sse-retry-ms", NULL}, "--sse-retry-ms needs a number");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--ping-interval", "-5", NULL},
                   "--ping-interval needs a number");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--ping-interval", "86400001", NULL},
                   "--ping-interval must be a whole number from 0 to 86400000");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--ping-timeout", "0", NULL},
                   "--ping-timeout must be a whole number from 1");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--ping-timeout", "500", NULL},
                   "--ping-timeout needs --ping-interval above 0");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--ping-interval", "0", "--ping-timeout", "500", NULL},
                   "--ping-timeout needs --ping-interval above 0");
    assert_refused((const char *[]){"--http", "127.0.0.1:0", "--http-no-get", "--ping-interval", "1000", NULL},
                   "which --http-no-get refuses");
    assert_refused((const char *[]){"--tcp", "127.0.0.1:0", "--ping-interval", "1000", NULL},
                   "apply to --http; give --http");

    /* The same checks for the file's keys, which name the key. */
    char path[64];
    static const struct {
        const char *json, *why;
    } files[] = {
        {"{\"http\":\"127.0.0.1:0\",\"http_options\":{\"sse_retry_ms\":0}}", "key 'http_options.sse_retry_ms' has a bad value"},
        {"{\"http\":\"127.0.0.1:0\",\"http_options\":{\"ping_interval_ms\":\"fast\"}}", "ping_interval_ms"},
        {"{\"http\":\"127.0.0.1:0\",\"http_options\":{\"ping_timeout_ms\":500}}", "--ping-timeout needs --ping-interval"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        config_write(path, "bad", files[i].json);
        assert_refused((const char *[]){"--config", path, NULL}, files[i].why);
    }
    unlink(path);
}

static void test_help_names_the_options(void **state) {
    (void)state;
    if (!need_mcpd()) skip();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' serve --help", need_mcpd());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    mcp_buf b;
    mcp_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) mcp_buf_append(&b, chunk, n);
    assert_int_equal(pclose(p), 0);
    mcp_buf_append_char(&b, '\0');
    assert_non_null(strstr(b.data, "--sse-retry-ms MS"));
    assert_non_null(strstr(b.data, "--ping-interval MS"));
    assert_non_null(strstr(b.data, "--ping-timeout MS"));
    assert_non_null(strstr(b.data, "sse_retry_ms, ping_interval_ms"));
    mcp_buf_free(&b);
}

/* ---- On the wire ------------------------------------------------------------------------ */

/* A GET stream of a fresh session opens with the priming event carrying
 * retry: want. */
static void assert_get_retry(int port, const char *want) {
    char sid[33];
    mcpd_open_session(port, sid);
    int fd = mcpd_open_get(port, sid);
    mcp_buf b;
    mcp_buf_init(&b);
    wait_result found = stream_wait(fd, &b, want, 5000);
    if (found != WAIT_FOUND) fprintf(stderr, "no '%s' on the GET stream:\n%s", want, b.data ? b.data : "");
    assert_int_equal(found, WAIT_FOUND);
    assert_non_null(strstr(b.data, "HTTP/1.1 200"));
    mcp_buf_free(&b);
    close(fd);
}

static void test_sse_retry_on_the_wire(void **state) {
    (void)state;
    if (!need_mcpd()) skip();
    server s;
    server_start(&s, (const char *[]){"--http", "127.0.0.1:0", "--workers", "1", "--log-level", "info",
                                      "--sse-retry-ms", "2345", NULL});
    assert_get_retry(s.port, "\nretry: 2345\n");
    server_stop(&s);

    /* Without the option, the library's default. */
    server_start(&s, (const char *[]){"--http", "127.0.0.1:0", "--workers", "1", "--log-level", "info", NULL});
    assert_get_retry(s.port, "\nretry: 1000\n");
    server_stop(&s);

    /* From the file, and the command line over the file. */
    char path[64];
    config_write(path, "retry",
                 "{\"http\":\"127.0.0.1:0\",\"workers\":1,\"log_level\":\"info\",\"http_options\":{\"sse_retry_ms\":4321}}");
    server_start(&s, (const char *[]){"--config", path, NULL});
    assert_get_retry(s.port, "\nretry: 4321\n");
    server_stop(&s);
    server_start(&s, (const char *[]){"--config", path, "--sse-retry-ms", "777", NULL});
    assert_get_retry(s.port, "\nretry: 777\n");
    server_stop(&s);
    unlink(path);
}

static size_t count_of(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* The JSON-RPC id of the ping request in text (a number or a string, as
 * written), into id. */
static void ping_id(const char *text, char id[64]) {
    const char *p = strstr(text, "\"method\":\"ping\"");
    assert_non_null(p);
    /* The id may come before or after the method within the same event. */
    const char *event = p;
    while (event > text && strncmp(event, "data: ", 6) != 0) event--;
    const char *q = strstr(event, "\"id\":");
    assert_non_null(q);
    q += 5;
    size_t n = strcspn(q, ",}");
    assert_true(n > 0 && n < 64);
    snprintf(id, 64, "%.*s", (int)n, q);
}

static void test_ping_and_timeout_on_the_wire(void **state) {
    (void)state;
    if (!need_mcpd()) skip();
    char path[64];
    /* Pings from the file; the timeout from the command line. */
    config_write(path, "ping",
                 "{\"http\":\"127.0.0.1:0\",\"workers\":1,\"log_level\":\"info\",\"http_options\":{\"ping_interval_ms\":300}}");
    server s;
    server_start(&s, (const char *[]){"--config", path, "--ping-timeout", "1500", NULL});

    char quiet[33], answering[33];
    mcpd_open_session(s.port, quiet);
    mcpd_open_session(s.port, answering);
    int quiet_fd = mcpd_open_get(s.port, quiet);
    int answering_fd = mcpd_open_get(s.port, answering);
    mcp_buf qb, ab;
    mcp_buf_init(&qb);
    mcp_buf_init(&ab);

    /* Both streams get a ping request. */
    assert_int_equal(stream_wait(quiet_fd, &qb, "\"method\":\"ping\"", 5000), WAIT_FOUND);
    assert_int_equal(stream_wait(answering_fd, &ab, "\"method\":\"ping\"", 5000), WAIT_FOUND);

    /* One session answers every ping it gets for 4 s, the other none. */
    size_t answered = 0, seen_at = 0;
    uint64_t until = now_ms() + 4000;
    while (now_ms() < until) {
        const char *next = strstr(ab.data + seen_at, "\"method\":\"ping\"");
        if (next) {
            char id[64], reply[128];
            ping_id(ab.data + seen_at, id);
            seen_at = (size_t)(next - ab.data) + 1;
            snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}", id);
            char *r = mcpd_post(s.port, answering, reply);
            assert_int_equal(mcpd_status_of(r), 202);
            free(r);
            answered++;
            continue;
        }
        /* Wait for the next ping; the stream must stay open meanwhile. */
        size_t len = ab.len;
        assert_int_not_equal(stream_wait(answering_fd, &ab, "\"method\":\"never\"", 200), WAIT_ENDED);
        if (ab.len == len) usleep(20000);
    }
    assert_true(answered >= 2);

    /* The quiet session was dropped: its stream ended, its id is gone. */
    assert_int_not_equal(stream_wait(quiet_fd, &qb, "\r\n0\r\n\r\n", 2000), WAIT_TIMEOUT);
    assert_int_equal(count_of(qb.data, "\"method\":\"ping\""), 1);
    char *r = mcpd_post(s.port, quiet, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
    assert_int_equal(mcpd_status_of(r), 404);
    free(r);
    /* The answering one lives on. */
    r = mcpd_post(s.port, answering, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}");
    assert_int_equal(mcpd_status_of(r), 200);
    assert_non_null(strstr(r, "\"id\":6,\"result\":{}"));
    free(r);

    mcp_buf_free(&qb);
    mcp_buf_free(&ab);
    close(quiet_fd);
    close(answering_fd);
    server_stop(&s);
    unlink(path);
}

/* --ping-interval 0 on the command line turns off the file's pings. */
static void test_ping_interval_zero_overrides_the_file(void **state) {
    (void)state;
    if (!need_mcpd()) skip();
    char path[64];
    config_write(path, "off",
                 "{\"http\":\"127.0.0.1:0\",\"workers\":1,\"log_level\":\"info\",\"http_options\":{\"ping_interval_ms\":200}}");
    server s;
    server_start(&s, (const char *[]){"--config", path, "--ping-interval", "0", NULL});
    char sid[33];
    mcpd_open_session(s.port, sid);
    int fd = mcpd_open_get(s.port, sid);
    mcp_buf b;
    mcp_buf_init(&b);
    assert_int_equal(stream_wait(fd, &b, "retry: ", 5000), WAIT_FOUND);
    /* Several intervals (and sweeps) pass without a ping. */
    assert_int_equal(stream_wait(fd, &b, "\"method\":\"ping\"", 2500), WAIT_TIMEOUT);
    mcp_buf_free(&b);
    close(fd);
    server_stop(&s);
    unlink(path);
}

int main(void) {
    /* A hang fails the run instead of waiting for the harness's timeout. */
    alarm(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values_exit_2),
        cmocka_unit_test(test_help_names_the_options),
        cmocka_unit_test(test_sse_retry_on_the_wire),
        cmocka_unit_test(test_ping_and_timeout_on_the_wire),
        cmocka_unit_test(test_ping_interval_zero_overrides_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
