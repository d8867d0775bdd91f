/*
 * test_protocol_call.c — `mcpd call` (the binary) against libmcp's own
 * server on a loopback TCP port, in both eras: a tool that asks the client
 * for elicitation, sampling and roots at once is answered from the command
 * line (server-to-client requests in the handshake era, an input_required
 * round in 2026-07-28); every content type, with annotations, icons and
 * _meta, is printed as the server wrote it; --log-level filters log
 * messages (logging/setLevel, or _meta logLevel in 2026-07-28); --task
 * and completion/complete work in both eras, ping in the handshake era;
 * and a client without the capabilities is refused by the server (exit 1).
 * Skips, saying so, when $MCPD_BIN names no binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_call_tools.h"

#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/net.h"

#include "test_loopback.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>

/* ---- The server ------------------------------------------------------------- */

static int tool_brew(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    usleep(20 * 1000);
    return mcp_call_text(call, "brewed %s", mcp_json_str(mcp_json_get(args, "what"), "?"));
}

static int prompt_fn(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    return mcp_call_prompt_message(call, "user", "translate");
}

static int prompt_complete(mcp_call *call, const char *argument, const char *value, const mcp_json *context,
                           void *user)
{
    (void)context, (void)user;
    static const char *const languages[] = {"english", "esperanto", "estonian", "french", NULL};
    if (strcmp(argument, "language") != 0)
        return 0;
    for (size_t i = 0; languages[i]; i++)
        if (!strncmp(languages[i], value, strlen(value)))
            mcp_call_completion(call, languages[i]);
    return 0;
}

/* What the server was asked: tasks/get and tasks/result prove that --task
 * really ran the tool as a task. */
static atomic_int tasks_get_seen, tasks_result_seen;

static void *observe_start(void *user, const mcp_request_info *info)
{
    (void)user;
    if (mcp_str_eq_cstr(info->method, "tasks/get"))
        atomic_fetch_add(&tasks_get_seen, 1);
    else if (mcp_str_eq_cstr(info->method, "tasks/result"))
        atomic_fetch_add(&tasks_result_seen, 1);
    return NULL;
}

static const mcp_observer OBSERVER = {.on_request_start = observe_start};

typedef struct served {
    mcp_server *server;
    int listen_fd;
    int port;
    pthread_t thread;
} served;

/* One connection after the other (each mcpd call makes one), until the
 * listening socket is shut down. */
static void *serve_loop(void *arg)
{
    served *s = arg;
    for (;;) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        mcp_serve_stdio_fds(s->server, fd, fd, &(mcp_listen){0});
        close(fd);
    }
}

static served *start(void)
{
    served *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->server = mcp_server_new(&(mcp_server_opts){.name = "call-e2e", .version = "1", .observer = &OBSERVER});
    assert_non_null(s->server);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "book", .fn = tool_book}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "content",
                                                                .fn = tool_content,
                                                                .user = "{\"lastModified\":\"2025-01-01T00:00:00Z\"}"}),
                     0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "chatter", .fn = tool_chatter}), 0);
    assert_int_equal(mcp_server_add_tool(s->server, &(mcp_tool){.name = "brew", .fn = tool_brew,
                                                                 .task_support = "optional"}), 0);
    static const mcp_prompt_argument args[] = {{.name = "language", .required = true}};
    assert_int_equal(mcp_server_add_prompt(s->server, &(mcp_prompt){.name = "translate", .arguments = args,
                                                                    .argument_count = 1, .fn = prompt_fn,
                                                                    .complete = prompt_complete}), 0);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_loop, s), 0);
    return s;
}

static void stop(served *s)
{
    shutdown(s->listen_fd, SHUT_RDWR);
    close(s->listen_fd);
    pthread_join(s->thread, NULL);
    mcp_server_free(s->server);
    free(s);
}

/* ---- Running mcpd call ----------------------------------------------------------- */

typedef struct run_result {
    int status;   /* exit status, or -1 */
    mcp_buf out;
    mcp_buf err;
} run_result;

static void run_free(run_result *r)
{
    mcp_buf_free(&r->out);
    mcp_buf_free(&r->err);
}

/* mcpd call with the given options, TARGET, METHOD and PARAMS; stdout and
 * stderr collected; bounded by 20 s. */
static run_result run_call(const served *s, const char *const *opts, const char *method, const char *params)
{
    run_result r = {.status = -1};
    mcp_buf_init(&r.out);
    mcp_buf_init(&r.err);
    char target[64];
    snprintf(target, sizeof target, "tcp://127.0.0.1:%d", s->port);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = mcpd_bin();
    argv[n++] = "call";
    argv[n++] = "--compact";
    argv[n++] = "--timeout";
    argv[n++] = "10000";
    for (size_t i = 0; opts && opts[i]; i++)
        argv[n++] = opts[i];
    argv[n++] = target;
    argv[n++] = method;
    if (params)
        argv[n++] = params;
    argv[n] = NULL;

    int out[2], err[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    uint64_t until = mcp_now_ns() + 20000000000ull;
    int open_fds = 2;
    while (open_fds > 0 && mcp_now_ns() < until) {
        if (poll(p, 2, 500) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = read(p[i].fd, buf, sizeof buf);
            if (got > 0) {
                mcp_buf_append(i == 0 ? &r.out : &r.err, buf, (size_t)got);
            } else {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    if (open_fds > 0) {
        kill(pid, SIGKILL);
        for (int i = 0; i < 2; i++)
            if (p[i].fd >= 0)
                close(p[i].fd);
    }
    int wstatus = 0;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    if (WIFEXITED(wstatus))
        r.status = WEXITSTATUS(wstatus);
    mcp_buf_append_char(&r.out, '\0');
    mcp_buf_append_char(&r.err, '\0');
    return r;
}

#define SKIP_WITHOUT_MCPD()                                                      \
    do {                                                                         \
        if (!mcpd_bin()) {                                                       \
            printf("SKIPPED: $MCPD_BIN names no mcpd binary to run\n");         \
            skip();                                                              \
        }                                                                        \
    } while (0)

static const char *const VERSIONS[] = {"2026-07-28", "2025-11-25", "2025-06-18"};

/* ---- Tests -------------------------------------------------------------------- */

static void test_input_answered_from_the_command_line(void **state)
{
    (void)state;
    SKIP_WITHOUT_MCPD();
    served *s = start();
    for (size_t i = 0; i < sizeof VERSIONS / sizeof VERSIONS[0]; i++) {
        const char *opts[] = {"--protocol", VERSIONS[i],
                              "--elicit-response", "{\"action\":\"accept\",\"content\":{\"name\":\"octocat\"}}",
                              "--sampling-response",
                              "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"Paris\"},\"model\":\"m\"}",
                              "--roots", "file:///trips,file:///home", NULL};
        run_result r = run_call(s, opts, "tools/call", "{\"name\":\"book\",\"arguments\":{}}");
        if (r.status != 0 || !strstr(r.out.data, "booked for octocat in Paris under file:///trips"))
            fail_msg("%s: exit %d\nstdout: %s\nstderr: %s", VERSIONS[i], r.status, r.out.data, r.err.data);
        run_free(&r);
    }
    /* Without the answers the client declares none of the capabilities:
     * the server refuses with -32021, a JSON-RPC error (exit 1). */
    const char *modern[] = {"--protocol", "2026-07-28", NULL};
    run_result r = run_call(s, modern, "tools/call", "{\"name\":\"book\",\"arguments\":{}}");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err.data, "-32021"));
    run_free(&r);
    /* Only some of the answers: the server still asks for the others it
     * could not get, so the call is refused rather than half answered. */
    const char *partial[] = {"--protocol", "2026-07-28", "--roots", "file:///trips", NULL};
    r = run_call(s, partial, "tools/call", "{\"name\":\"book\",\"arguments\":{}}");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err.data, "-32021"));
    run_free(&r);
    stop(s);
}

static void test_content_printed_as_written(void **state)
{
    (void)state;
    SKIP_WITHOUT_MCPD();
    served *s = start();
    for (size_t i = 0; i < 2; i++) {
        const char *opts[] = {"--protocol", VERSIONS[i], NULL};
        run_result r = run_call(s, opts, "tools/call", "{\"name\":\"content\",\"arguments\":{}}");
        if (r.status != 0)
            fail_msg("%s: exit %d\nstderr: %s", VERSIONS[i], r.status, r.err.data);
        /* The link block with its icons and _meta, byte for byte. */
        assert_non_null(strstr(r.out.data, LINK_BLOCK));
        mcp_arena arena;
        mcp_arena_init(&arena, 0);
        mcp_json *doc = NULL;
        assert_int_equal(mcp_json_parse(&arena, r.out.data, strlen(r.out.data), NULL, &doc, NULL), 0);
        const mcp_json *content = mcp_json_get(doc, "content");
        static const char *const types[] = {"text", "image", "audio", "resource_link", "resource", "resource"};
        size_t n = 0;
        for (const mcp_json *b = mcp_json_first(content); b; b = mcp_json_next(b), n++) {
            assert_true(n < 6);
            assert_string_equal(mcp_json_str(mcp_json_get(b, "type"), ""), types[n]);
        }
        assert_int_equal(n, 6);
        const mcp_json *text = mcp_json_at(content, 0);
        assert_string_equal(mcp_json_str(mcp_json_get(text, "text"), ""), "h\xc3\xa9llo");
        assert_true(mcp_json_num(mcp_json_get(mcp_json_get(text, "annotations"), "priority"), 0) == 0.25);
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(content, 1), "data"), ""), "iVBORw0KGgo=");
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(content, 2), "mimeType"), ""), "audio/wav");
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(mcp_json_at(content, 4), "resource"), "blob"), ""),
                            "AAEC");
        const mcp_json *embedded = mcp_json_at(content, 5);
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(embedded, "resource"), "text"), ""), "inner");
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(embedded, "annotations"), "lastModified"), ""),
                            "2025-01-01T00:00:00Z");
        mcp_arena_free(&arena);
        run_free(&r);
    }
    stop(s);
}

/* How many lines of text start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        if (!strncmp(line, prefix, strlen(prefix)))
            n++;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return n;
}

static void test_log_level_in_both_eras(void **state)
{
    (void)state;
    SKIP_WITHOUT_MCPD();
    served *s = start();
    for (size_t i = 0; i < 2; i++) {
        const char *opts[] = {"--protocol", VERSIONS[i], "--log-level", "info", NULL};
        run_result r = run_call(s, opts, "tools/call", "{\"name\":\"chatter\",\"arguments\":{}}");
        if (r.status != 0)
            fail_msg("%s: exit %d\nstderr: %s", VERSIONS[i], r.status, r.err.data);
        assert_non_null(strstr(r.out.data, "logged"));
        assert_int_equal(count_lines(r.err.data, "log "), 2);
        assert_non_null(strstr(r.err.data, "log warning chatter: a warning message"));
        assert_null(strstr(r.err.data, "debug"));
        run_free(&r);
    }
    /* 2026-07-28 without --log-level: no level in _meta, so no messages. */
    const char *opts[] = {"--protocol", "2026-07-28", NULL};
    run_result r = run_call(s, opts, "tools/call", "{\"name\":\"chatter\",\"arguments\":{}}");
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.err.data, "log "), 0);
    run_free(&r);
    stop(s);
}

static void test_task_and_completion_in_both_eras(void **state)
{
    (void)state;
    SKIP_WITHOUT_MCPD();
    served *s = start();
    for (size_t i = 0; i < 2; i++) {
        /* --task: 2025-11-25 tasks, or the 2026-07-28 tasks extension;
         * either way the task's final result is printed. */
        const char *opts[] = {"--protocol", VERSIONS[i], "--task", NULL};
        atomic_store(&tasks_get_seen, 0);
        atomic_store(&tasks_result_seen, 0);
        run_result r = run_call(s, opts, "tools/call", "{\"name\":\"brew\",\"arguments\":{\"what\":\"tea\"}}");
        if (r.status != 0 || !strstr(r.out.data, "brewed tea"))
            fail_msg("%s --task: exit %d\nstdout: %s\nstderr: %s", VERSIONS[i], r.status, r.out.data, r.err.data);
        assert_true(atomic_load(&tasks_get_seen) + atomic_load(&tasks_result_seen) >= 1);
        if (i == 1)
            assert_int_equal(atomic_load(&tasks_result_seen), 1); /* 2025-11-25 fetches the result */
        run_free(&r);
        const char *plain[] = {"--protocol", VERSIONS[i], NULL};
        r = run_call(s, plain, "completion/complete",
                     "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"translate\"},"
                     "\"argument\":{\"name\":\"language\",\"value\":\"es\"}}");
        if (r.status != 0 || !strstr(r.out.data, "\"values\":[\"esperanto\",\"estonian\"]"))
            fail_msg("%s completion: exit %d\nstdout: %s\nstderr: %s", VERSIONS[i], r.status, r.out.data, r.err.data);
        run_free(&r);
    }
    /* ping exists in the handshake era only. */
    const char *old[] = {"--protocol", "2025-11-25", NULL};
    run_result r = run_call(s, old, "ping", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out.data, "{}\n");
    run_free(&r);
    stop(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_answered_from_the_command_line),
        cmocka_unit_test(test_content_printed_as_written),
        cmocka_unit_test(test_log_level_in_both_eras),
        cmocka_unit_test(test_task_and_completion_in_both_eras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
