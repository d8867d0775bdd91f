/* `mcpd serve` as a process: the binary named by $MCPD_BIN is spawned with
 * pipes, spoken to over stdio, and its exit codes, stdout and stderr are
 * checked. Covers the help and version commands, refused transports and
 * options, a handshake-era session over the demo catalog, pagination with
 * --extra-tools, progress and cancellation of the asynchronous `slow` tool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_mcpd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcp/json.h"

#define TIMEOUT_MS 20000

#define REQUIRE_MCPD()                                                                       \
    do {                                                                                     \
        if (!mcpd_bin()) {                                                                   \
            fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n"); \
            skip();                                                                          \
        }                                                                                    \
    } while (0)

typedef struct child {
    pid_t pid;
    int in_fd;      /* its stdin */
    int out_fd;     /* its stdout */
    FILE *err;      /* its stderr, a temporary file read at the end */
    mcp_buf out;    /* stdout bytes read but not yet returned as lines */
    mcp_buf stderr_text;
    int status;
    mcp_arena arena;
} child;

static void child_start(child *c, const char *const *args, bool debug_log) {
    memset(c, 0, sizeof *c);
    mcp_buf_init(&c->out);
    mcp_buf_init(&c->stderr_text);
    mcp_arena_init(&c->arena, 0);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    c->err = tmpfile();
    assert_non_null(c->err);
    const char *argv[16] = {mcpd_bin()};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(fileno(c->err), 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (debug_log) setenv("MCPD_LOG", "debug", 1);
        else unsetenv("MCPD_LOG");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->in_fd = in[1];
    c->out_fd = out[0];
}

static void child_send(child *c, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(c->in_fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
}

/* Read more of stdout; false at end of output. Fails the test after
 * TIMEOUT_MS without data. */
static bool child_fill(child *c) {
    struct pollfd p = {.fd = c->out_fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, TIMEOUT_MS)) < 0 && errno == EINTR) {
    }
    if (n == 0) {
        kill(c->pid, SIGKILL);
        fail_msg("mcpd wrote nothing for %d ms; stdout so far: %.*s", TIMEOUT_MS, (int)c->out.len, c->out.data);
    }
    char buf[8192];
    ssize_t r;
    while ((r = read(c->out_fd, buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    if (r <= 0) return false;
    mcp_buf_append(&c->out, buf, (size_t)r);
    return true;
}

/* The next stdout line, parsed; it must be a JSON text. NULL at end of output. */
static mcp_json *child_read(child *c) {
    for (;;) {
        char *nl = c->out.len ? memchr(c->out.data, '\n', c->out.len) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - c->out.data);
            char *text = mcp_arena_strndup(&c->arena, c->out.data, len);
            mcp_buf_consume(&c->out, len + 1);
            mcp_json *doc = NULL;
            mcp_json_error err;
            if (mcp_json_parse(&c->arena, text, len, NULL, &doc, &err) != 0)
                fail_msg("stdout line is not a JSON message (%s): %s", err.message, text);
            return doc;
        }
        if (!child_fill(c)) {
            if (c->out.len) fail_msg("stdout ended inside a line: %.*s", (int)c->out.len, c->out.data);
            return NULL;
        }
    }
}

/* Close its stdin, collect every remaining stdout line (count returned) and
 * the exit status. */
static size_t child_finish(child *c, mcp_json **rest, size_t max) {
    if (c->in_fd >= 0) close(c->in_fd);
    c->in_fd = -1;
    size_t n = 0;
    mcp_json *msg;
    while ((msg = child_read(c)) != NULL) {
        if (n < max) rest[n] = msg;
        n++;
    }
    close(c->out_fd);
    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR) {
    }
    rewind(c->err);
    char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, c->err)) > 0) mcp_buf_append(&c->stderr_text, buf, r);
    fclose(c->err);
    return n;
}

static void child_free(child *c) {
    mcp_buf_free(&c->out);
    mcp_buf_free(&c->stderr_text);
    mcp_arena_free(&c->arena);
}

static int exit_code(const child *c) {
    return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
}

/* Run mcpd with args and no input; returns the exit code, stdout in *out. */
static int run_plain(const char *const *args, mcp_buf *out, mcp_buf *err) {
    child c;
    child_start(&c, args, false);
    close(c.in_fd);
    c.in_fd = -1;
    while (child_fill(&c)) {
    }
    close(c.out_fd);
    while (waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR) {
    }
    rewind(c.err);
    char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, c.err)) > 0) mcp_buf_append(err, buf, r);
    fclose(c.err);
    mcp_buf_append(out, c.out.data ? c.out.data : "", c.out.len);
    int code = exit_code(&c);
    child_free(&c);
    return code;
}

static int64_t id_of(const mcp_json *msg) {
    return mcp_json_int(mcp_json_get(msg, "id"), -1);
}

static const char *text_of(const mcp_json *msg) {
    const mcp_json *content = mcp_json_get(mcp_json_get(msg, "result"), "content");
    return mcp_json_str(mcp_json_get(mcp_json_first(content), "text"), NULL);
}

static const char INIT[] =
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"test_serve_cli\",\"version\":\"1\"}}}\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

/* ---- Tests --------------------------------------------------------------------------- */

static void test_help_and_version(void **state) {
    (void)state;
    REQUIRE_MCPD();
    static const struct {
        const char *args[3];
        const char *want;
    } cases[] = {
        {{"--help", NULL}, "usage: mcpd"},
        {{"--version", NULL}, "mcpd " MCP_VERSION_STRING},
        {{"serve", "--help", NULL}, "--extra-tools"},
        {{"serve", "-h", NULL}, "--stdio"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_buf out, err;
        mcp_buf_init(&out);
        mcp_buf_init(&err);
        int code = run_plain(cases[i].args, &out, &err);
        if (code != 0) fail_msg("mcpd %s %s exited %d: %s", cases[i].args[0], cases[i].args[1] ? cases[i].args[1] : "",
                                code, err.data ? err.data : "");
        assert_non_null(out.data);
        if (!strstr(out.data, cases[i].want)) fail_msg("stdout lacks \"%s\": %s", cases[i].want, out.data);
        mcp_buf_free(&out);
        mcp_buf_free(&err);
    }
}

static void test_serve_refuses_bad_invocations(void **state) {
    (void)state;
    REQUIRE_MCPD();
    static const struct {
        const char *args[7];
        const char *want; /* on stderr */
    } cases[] = {
        {{"serve", "--tcp", "7700", NULL}, "--tcp needs HOST:PORT"},
        {{"serve", "--http", NULL}, "--http needs HOST:PORT"},
        {{"serve", "--http", "127.0.0.1:0", "--http-path", "mcp", NULL}, "--http-path needs a path"},
        {{"serve", "--tcp", "127.0.0.1:0", "--workers", "0", NULL}, "--workers must be a whole number"},
        {{"serve", "--ws", "7900", NULL}, "--ws needs HOST:PORT"},
        {{"serve", "--ws", "127.0.0.1:0", "--ws-path", "mcp", NULL}, "--ws-path needs a path"},
        {{"serve", "--ws", "127.0.0.1:0", "--tls-cert", "c.pem", NULL}, "--tls-cert and --tls-key go together"},
        {{"serve", "--stdio", "--tls-cert", "c.pem", "--tls-key", "k.pem", NULL}, "--tls-cert applies to"},
        {{"serve", NULL}, "choose a transport"},
        {{"serve", "--stdio", "--extra-tools", "many", NULL}, "--extra-tools must be a whole number"},
        {{"serve", "--stdio", "--extra-tools", NULL}, "--extra-tools needs a number"},
        {{"serve", "--stdio", "--page-size", "0", NULL}, "--page-size must be a whole number"},
        {{"serve", "--stdio", "--log-level", "loud", NULL}, "--log-level needs one of"},
        {{"serve", "--stdio", "--bogus", NULL}, "unknown option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_buf out, err;
        mcp_buf_init(&out);
        mcp_buf_init(&err);
        int code = run_plain(cases[i].args, &out, &err);
        assert_int_equal(code, 2);
        assert_int_equal(out.len, 0); /* nothing but protocol on stdout, and there was none */
        if (!err.data || !strstr(err.data, cases[i].want))
            fail_msg("case %zu: stderr lacks \"%s\": %s", i, cases[i].want, err.data ? err.data : "");
        mcp_buf_free(&out);
        mcp_buf_free(&err);
    }
}

static void test_serve_stdio_session(void **state) {
    (void)state;
    REQUIRE_MCPD();
    child c;
    child_start(&c, (const char *const[]){"serve", "--stdio", NULL}, true);
    child_send(&c, INIT);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                   "\"arguments\":{\"text\":\"hello \\\"mcpd\\\" \\u2713\"}}}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
                   "\"arguments\":{\"a\":2,\"b\":3.5}}}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                   "\"arguments\":{\"text\":42}}}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":"
                   "\"mcpd://demo/greeting/Ada\"}}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"prompts/get\",\"params\":{\"name\":\"review\","
                   "\"arguments\":{\"code\":\"int main(void);\"}}}\n");
    mcp_json *m[8];
    size_t n = child_finish(&c, m, 8);
    assert_int_equal(exit_code(&c), 0);
    assert_int_equal(n, 7);

    assert_int_equal(id_of(m[0]), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_get(m[0], "result"), "serverInfo"), "name"), ""),
                        "mcpd");

    assert_int_equal(id_of(m[1]), 1);
    const mcp_json *tools = mcp_json_get(mcp_json_get(m[1], "result"), "tools");
    assert_int_equal(mcp_json_len(tools), 3);
    bool seen_echo = false, seen_add_schema = false;
    for (const mcp_json *t = mcp_json_first(tools); t; t = mcp_json_next(t)) {
        const char *name = mcp_json_str(mcp_json_get(t, "name"), "");
        if (!strcmp(name, "echo")) {
            const mcp_json *required = mcp_json_get(mcp_json_get(t, "inputSchema"), "required");
            seen_echo = mcp_json_len(required) == 1 && !strcmp(mcp_json_str(mcp_json_first(required), ""), "text");
        }
        if (!strcmp(name, "add")) seen_add_schema = mcp_json_is_object(mcp_json_get(t, "outputSchema"));
    }
    assert_true(seen_echo);
    assert_true(seen_add_schema);

    assert_int_equal(id_of(m[2]), 2);
    assert_string_equal(text_of(m[2]), "hello \"mcpd\" \xe2\x9c\x93");

    assert_int_equal(id_of(m[3]), 3);
    const mcp_json *structured = mcp_json_get(mcp_json_get(m[3], "result"), "structuredContent");
    assert_true(mcp_json_num(mcp_json_get(structured, "sum"), 0) == 5.5);
    assert_non_null(strstr(text_of(m[3]), "5.5"));

    /* Arguments that break the input schema never reach the tool. */
    assert_int_equal(id_of(m[4]), 4);
    const mcp_json *result = mcp_json_get(m[4], "result");
    if (result) {
        assert_true(mcp_json_bool(mcp_json_get(result, "isError"), false));
        assert_non_null(strstr(text_of(m[4]), "/text"));
    } else {
        assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(m[4], "error"), "code"), 0), -32602);
    }

    assert_int_equal(id_of(m[5]), 5);
    const mcp_json *contents = mcp_json_get(mcp_json_get(m[5], "result"), "contents");
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_first(contents), "text"), ""), "Hello, Ada!");

    assert_int_equal(id_of(m[6]), 6);
    const mcp_json *messages = mcp_json_get(mcp_json_get(m[6], "result"), "messages");
    const char *prompt = mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_first(messages), "content"), "text"), "");
    assert_non_null(strstr(prompt, "int main(void);"));

    /* Logs went to stderr (debug level was asked for), not into stdout. */
    assert_true(c.stderr_text.len > 0);
    assert_non_null(strstr(c.stderr_text.data, "mcpd"));
    child_free(&c);
}

static void test_serve_pagination_with_extra_tools(void **state) {
    (void)state;
    REQUIRE_MCPD();
    child c;
    child_start(&c, (const char *const[]){"serve", "--stdio", "--extra-tools", "120", NULL}, false);
    child_send(&c, INIT);
    mcp_json *init = child_read(&c);
    assert_int_equal(id_of(init), 0);

    size_t total = 0, pages = 0;
    char seen_names[123][16];
    const char *cursor = NULL;
    do {
        char request[512];
        if (cursor)
            snprintf(request, sizeof request,
                     "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}\n",
                     pages + 1, cursor);
        else
            snprintf(request, sizeof request, "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/list\"}\n", pages + 1);
        child_send(&c, request);
        mcp_json *page = child_read(&c);
        assert_non_null(page);
        assert_int_equal(id_of(page), (int64_t)(pages + 1));
        const mcp_json *result = mcp_json_get(page, "result");
        const mcp_json *tools = mcp_json_get(result, "tools");
        assert_true(mcp_json_is_array(tools));
        for (const mcp_json *t = mcp_json_first(tools); t; t = mcp_json_next(t)) {
            const char *name = mcp_json_str(mcp_json_get(t, "name"), "");
            assert_true(total < 123);
            for (size_t k = 0; k < total; k++)
                if (!strcmp(seen_names[k], name)) fail_msg("tool %s listed twice", name);
            snprintf(seen_names[total++], sizeof seen_names[0], "%s", name);
        }
        cursor = mcp_json_str(mcp_json_get(result, "nextCursor"), NULL);
        if (cursor) assert_int_equal(mcp_json_len(tools), 50);
        pages++;
        assert_true(pages <= 10);
    } while (cursor);
    assert_int_equal(total, 123);
    assert_int_equal(pages, 3);

    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"tools/call\",\"params\":{\"name\":\"extra_0120\"}}\n");
    mcp_json *m[2];
    assert_int_equal(child_finish(&c, m, 2), 1);
    assert_string_equal(text_of(m[0]), "extra tool 120");
    assert_int_equal(exit_code(&c), 0);
    child_free(&c);
}

static void test_serve_slow_progress_and_cancel(void **state) {
    (void)state;
    REQUIRE_MCPD();
    child c;
    child_start(&c, (const char *const[]){"serve", "--stdio", NULL}, false);
    child_send(&c, INIT);
    assert_int_equal(id_of(child_read(&c)), 0);

    /* Progress: one notification per step, increasing, then the result. */
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                   "\"arguments\":{\"steps\":4,\"delay_ms\":5},\"_meta\":{\"progressToken\":\"tok\"}}}\n");
    for (int step = 1; step <= 4; step++) {
        mcp_json *p = child_read(&c);
        assert_string_equal(mcp_json_str(mcp_json_get(p, "method"), ""), "notifications/progress");
        const mcp_json *params = mcp_json_get(p, "params");
        assert_string_equal(mcp_json_str(mcp_json_get(params, "progressToken"), ""), "tok");
        assert_int_equal(mcp_json_int(mcp_json_get(params, "progress"), 0), step);
        assert_int_equal(mcp_json_int(mcp_json_get(params, "total"), 0), 4);
    }
    mcp_json *done = child_read(&c);
    assert_int_equal(id_of(done), 1);
    assert_string_equal(text_of(done), "slow finished 4 steps");

    /* Out of range steps are refused by the input schema. */
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                   "\"arguments\":{\"steps\":101}}}\n");
    mcp_json *refused = child_read(&c);
    assert_int_equal(id_of(refused), 2);
    assert_true(mcp_json_get(refused, "error") ||
                mcp_json_bool(mcp_json_get(mcp_json_get(refused, "result"), "isError"), false));

    /* Cancellation: 100 steps of 50 ms would take 5 s; cancel after the
     * first progress and the work stops with no response for it. */
    uint64_t t0 = mcp_now_ns();
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
                   "\"arguments\":{\"steps\":100,\"delay_ms\":50},\"_meta\":{\"progressToken\":7}}}\n");
    mcp_json *first = child_read(&c);
    assert_string_equal(mcp_json_str(mcp_json_get(first, "method"), ""), "notifications/progress");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":3,"
                   "\"reason\":\"test\"}}\n");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n");
    mcp_json *m[8];
    size_t n = child_finish(&c, m, 8);
    uint64_t elapsed_ms = (mcp_now_ns() - t0) / 1000000;
    assert_int_equal(exit_code(&c), 0);
    bool ping_answered = false;
    size_t late_progress = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        assert_true(id_of(m[i]) != 3); /* a cancelled request is not answered */
        if (id_of(m[i]) == 4) ping_answered = true;
        if (mcp_json_get(m[i], "method")) late_progress++;
    }
    assert_true(ping_answered);
    assert_true(late_progress <= 1); /* at most one step was already under way */
    assert_true(elapsed_ms < 2500);
    child_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_serve_refuses_bad_invocations),
        cmocka_unit_test(test_serve_stdio_session),
        cmocka_unit_test(test_serve_pagination_with_extra_tools),
        cmocka_unit_test(test_serve_slow_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
