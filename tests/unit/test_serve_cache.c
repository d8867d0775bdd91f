/* `mcpd serve --tcp ... --cache-l1-entries N` as a user runs it (the binary
 * named by $MCPD_BIN): repeated resources/read and tools/call are answered
 * from the result cache, which the modern era's ttlMs shows from outside
 * (a fresh result carries the whole TTL, a stored one the time it has
 * left, and after expiry the whole TTL again); two servers sharing a real
 * redis-server (--cache-redis) answer each other's results; bad cache
 * options exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcp/json.h"
#include "unit/redis_fixture.h"

#define MODERN_META                                                          \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"
#define READ_README                                                                            \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"mcpd://demo/" \
    "readme\"," MODERN_META "}}\n"
#define ECHO_CALL                                                                                 \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","   \
    "\"arguments\":{\"text\":\"cached?\"}," MODERN_META "}}\n"

typedef struct server {
    pid_t pid;
    int port;
    int fd;
    mcp_arena arena;
} server;

/* mcpd serve --tcp on a free port with extra arguments (NULL-terminated). */
static void server_start(server *s, const char *const *extra) {
    const char *bin = mcpd_bin();
    memset(s, 0, sizeof *s);
    s->port = free_port();
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    const char *argv[24] = {bin, "serve", "--tcp", addr, "--workers", "1"};
    size_t n = 6;
    for (size_t i = 0; extra[i] && n < 23; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->fd = connect_port(s->port);
    mcp_arena_init(&s->arena, 0);
}

static void server_stop(server *s) {
    close(s->fd);
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200 && waitpid(s->pid, &status, WNOHANG) == 0; i++) usleep(50 * 1000);
    if (!WIFEXITED(status)) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        fail_msg("mcpd serve did not exit within 10 s of SIGTERM");
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    mcp_arena_free(&s->arena);
}

/* One request, one response line; returns its result object. */
static const mcp_json *ask(server *s, const char *line) {
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t w = send(s->fd, line + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
    mcp_buf got;
    mcp_buf_init(&got);
    while (!got.data || !memchr(got.data, '\n', got.len)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        char buf[4096];
        ssize_t r = recv(s->fd, buf, sizeof buf, 0);
        assert_true(r > 0);
        mcp_buf_append(&got, buf, (size_t)r);
    }
    mcp_json *doc = NULL;
    size_t line_len = (size_t)((char *)memchr(got.data, '\n', got.len) - got.data);
    /* The DOM points into its text, so the text must outlive it: keep the
     * line in the arena, not in the buffer freed below. */
    char *text = mcp_arena_strndup(&s->arena, got.data, line_len);
    mcp_buf_free(&got);
    assert_non_null(text);
    assert_int_equal(mcp_json_parse(&s->arena, text, line_len, NULL, &doc, NULL), 0);
    const mcp_json *result = mcp_json_get(doc, "result");
    if (!result) fail_msg("expected a result");
    return result;
}

static int64_t ttl_of(const mcp_json *result) {
    return mcp_json_int(mcp_json_get(result, "ttlMs"), -1);
}

static void skip_without_binary(void) {
    if (!mcpd_bin()) {
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
        skip();
    }
}

static void repeated_reads_come_from_the_cache(void **state) {
    (void)state;
    skip_without_binary();
    server s;
    server_start(&s, (const char *const[]){"--cache-l1-entries", "1000", "--cache-ttl-ms", "2000", NULL});

    const mcp_json *r = ask(&s, READ_README);
    assert_int_equal(ttl_of(r), 2000); /* computed now: the whole TTL */
    assert_string_equal(mcp_json_str(mcp_json_get(r, "cacheScope"), ""), "private");
    const char *text = mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "contents"), 0), "text"), "");
    assert_non_null(strstr(text, "mcpd demo server"));
    usleep(30 * 1000);
    int64_t last = 2000;
    for (int i = 0; i < 20; i++) {
        r = ask(&s, READ_README);
        int64_t ttl = ttl_of(r);
        /* A stored result: its time left, never more than before. */
        assert_true(ttl > 0 && ttl < 2000 && ttl <= last);
        last = ttl;
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "contents"), 0), "text"), ""), text);
    }
    r = ask(&s, ECHO_CALL);
    assert_int_equal(ttl_of(r), 2000);
    usleep(30 * 1000);
    r = ask(&s, ECHO_CALL);
    assert_true(ttl_of(r) > 0 && ttl_of(r) < 2000);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(r, "content"), 0), "text"), ""), "cached?");

    /* Expired: computed again, the whole TTL again. */
    usleep(2100 * 1000);
    assert_int_equal(ttl_of(ask(&s, READ_README)), 2000);
    server_stop(&s);

    /* Without the cache the server promises nothing (its default ttlMs, 0). */
    server_start(&s, (const char *const[]){NULL});
    assert_int_equal(ttl_of(ask(&s, READ_README)), 0);
    assert_int_equal(ttl_of(ask(&s, READ_README)), 0);
    server_stop(&s);
}

static void servers_share_results_through_redis(void **state) {
    (void)state;
    skip_without_binary();
    redis_fixture redis = {0};
    if (redis_fixture_start(&redis, 0) != 0) fail_msg("%s", redis.error);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", redis.port);
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mcp-serve-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));

    server a, b;
    server_start(&a, (const char *const[]){"--cache-redis", addr, "--node-id", "a", "--cache-dir", dir, NULL});
    server_start(&b, (const char *const[]){"--cache-redis", addr, "--node-id", "b", NULL});
    assert_int_equal(ttl_of(ask(&a, READ_README)), 60000);
    usleep(30 * 1000);
    /* b never computed it: it found a's result in Redis. */
    int64_t ttl = ttl_of(ask(&b, READ_README));
    assert_true(ttl > 0 && ttl < 60000);
    server_stop(&a);
    server_stop(&b);
    redis_fixture_kill(&redis);
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static int exit_code_of(const char *const *args) {
    const char *bin = mcpd_bin();
    const char *argv[16] = {bin, "serve", "--tcp", "127.0.0.1:1"};
    size_t n = 4;
    for (size_t i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void bad_cache_options_exit_2(void **state) {
    (void)state;
    skip_without_binary();
    assert_int_equal(exit_code_of((const char *const[]){"--cache-l1-entries", "0", NULL}), 2);
    assert_int_equal(exit_code_of((const char *const[]){"--cache-l1-entries", "many", NULL}), 2);
    assert_int_equal(exit_code_of((const char *const[]){"--cache-redis", "localhost", NULL}), 2);
    assert_int_equal(exit_code_of((const char *const[]){"--cache-dir", NULL}), 2);
    assert_int_equal(exit_code_of((const char *const[]){"--node-id", "n1", NULL}), 2);
    assert_int_equal(exit_code_of((const char *const[]){"--cache-redis", "127.0.0.1:6379", "--node-id", "a b", NULL}),
                     2);
    assert_int_equal(exit_code_of((const char *const[]){"--cache-ttl-ms", "-5", NULL}), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repeated_reads_come_from_the_cache),
        cmocka_unit_test(servers_share_results_through_redis),
        cmocka_unit_test(bad_cache_options_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
