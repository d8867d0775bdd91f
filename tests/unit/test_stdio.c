/* The stdio transport (src/net/stdio.c) against a real mcp_server over
 * pipes: input trickled byte by byte, pipelined requests, an oversized line,
 * blank lines and CRLF, end of input with asynchronous calls in flight,
 * concurrent completions, non-blocking descriptors with partial writes, and
 * a peer that closes our output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/net.h"

#define INIT_LINE                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"," \
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}}\n"                            \
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"

static const char *ECHO_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}";

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int tool_echo(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    const mcp_json *text = mcp_json_get(args, "text");
    return mcp_call_text_n(call, mcp_json_str(text, ""), mcp_json_str_len(text));
}

typedef struct later_job {
    mcp_call *call;
    long delay_ms;
} later_job;

/* How many "later" calls saw themselves cancelled when they completed. */
static atomic_int later_cancelled;

static void *later_thread(void *arg) {
    later_job job = *(later_job *)arg;
    free(arg);
    sleep_ms(job.delay_ms);
    if (mcp_call_is_cancelled(job.call)) atomic_fetch_add(&later_cancelled, 1);
    mcp_call_text(job.call, "done after %ld ms", job.delay_ms);
    mcp_call_finish(job.call);
    return NULL;
}

/* Completes on its own thread after "delay_ms". */
static int tool_later(mcp_call *call, const mcp_json *args, void *user) {
    (void)user;
    later_job *job = malloc(sizeof *job);
    if (!job) return MCP_ENOMEM;
    job->call = call;
    job->delay_ms = (long)mcp_json_int(mcp_json_get(args, "delay_ms"), 10);
    pthread_t t;
    if (pthread_create(&t, NULL, later_thread, job) != 0) {
        free(job);
        return MCP_ENOMEM;
    }
    pthread_detach(t);
    return MCP_PENDING;
}

/* ---- Harness: the server on a thread, a writer thread, the test reads. ------ */

typedef struct harness {
    mcp_server *server;
    mcp_listen listen;
    int in[2], out[2];
    pthread_t serve_thread, write_thread;
    int serve_rc;
    mcp_stdio_counters counters;
    const char *input;
    size_t input_len;
    size_t chunk;
    mcp_buf output;
    mcp_arena arena;
    /* When set, end of input waits until this many output lines arrived. */
    size_t close_after_lines;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t lines_seen;
} harness;

static void *serve_main(void *arg) {
    harness *h = arg;
    h->serve_rc = mcp_serve_stdio_counted(h->server, h->in[0], h->out[1], &h->listen, &h->counters);
    close(h->out[1]); /* the reader sees end of output once serving is over */
    return NULL;
}

static void *write_main(void *arg) {
    harness *h = arg;
    size_t off = 0;
    while (off < h->input_len) {
        size_t n = h->input_len - off < h->chunk ? h->input_len - off : h->chunk;
        ssize_t w = write(h->in[1], h->input + off, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            break; /* the server stopped reading; the test's assertions will say why */
        }
        off += (size_t)w;
    }
    pthread_mutex_lock(&h->lock);
    while (h->lines_seen < h->close_after_lines) pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
    close(h->in[1]);
    return NULL;
}

static harness *harness_new(void) {
    harness *h = calloc(1, sizeof *h);
    h->server = mcp_server_new(&(mcp_server_opts){.name = "stdio-test", .version = "1.0"});
    assert_non_null(h->server);
    assert_int_equal(mcp_server_add_tool(h->server, &(mcp_tool){.name = "echo", .input_schema = ECHO_SCHEMA,
                                                                 .fn = tool_echo}),
                     0);
    assert_int_equal(mcp_server_add_tool(h->server, &(mcp_tool){.name = "later", .fn = tool_later}), 0);
    h->listen = (mcp_listen){.stdio = true};
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    mcp_buf_init(&h->output);
    mcp_arena_init(&h->arena, 0);
    assert_int_equal(pipe(h->in), 0);
    assert_int_equal(pipe(h->out), 0);
    return h;
}

static void harness_free(harness *h) {
    mcp_server_free(h->server);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    mcp_buf_free(&h->output);
    mcp_arena_free(&h->arena);
    free(h);
}

/* Serve `input` (written `chunk` bytes per write, then end of input) and
 * collect all output until the server is done. */
static void harness_run(harness *h, const char *input, size_t len, size_t chunk) {
    h->input = input;
    h->input_len = len;
    h->chunk = chunk ? chunk : len ? len : 1;
    assert_int_equal(pthread_create(&h->serve_thread, NULL, serve_main, h), 0);
    assert_int_equal(pthread_create(&h->write_thread, NULL, write_main, h), 0);
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = h->out[0], .events = POLLIN};
        int n = poll(&p, 1, 20000);
        if (n == 0) fail_msg("no output for 20 s; output so far: %.*s", (int)h->output.len, h->output.data);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_msg("poll: %s", strerror(errno));
        }
        ssize_t r = read(h->out[0], buf, sizeof buf);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) break;
        mcp_buf_append(&h->output, buf, (size_t)r);
        pthread_mutex_lock(&h->lock);
        for (ssize_t i = 0; i < r; i++) h->lines_seen += buf[i] == '\n';
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
    }
    close(h->out[0]);
    pthread_join(h->write_thread, NULL);
    pthread_join(h->serve_thread, NULL);
    close(h->in[0]);
}

/* Output lines parsed as JSON; every line must be a complete JSON text. */
static size_t output_lines(harness *h, mcp_json **lines, size_t max) {
    size_t count = 0;
    const char *p = h->output.data ? h->output.data : "";
    const char *end = p + h->output.len;
    if (h->output.len) assert_true(end[-1] == '\n');
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        mcp_json *doc = NULL;
        mcp_json_error err;
        if (mcp_json_parse(&h->arena, p, (size_t)(nl - p), NULL, &doc, &err) != 0)
            fail_msg("output line %zu is not JSON (%s): %.*s", count, err.message, (int)(nl - p), p);
        if (count < max) lines[count] = doc;
        count++;
        p = nl + 1;
    }
    return count;
}

static void expect_lines(harness *h, mcp_json **lines, size_t max, size_t want) {
    size_t got = output_lines(h, lines, max);
    if (got != want) fail_msg("expected %zu output lines, got %zu:\n%.*s", want, got, (int)h->output.len, h->output.data);
}

static int64_t id_of(const mcp_json *msg) {
    return mcp_json_int(mcp_json_get(msg, "id"), -1);
}

static const char *first_text(const mcp_json *msg) {
    const mcp_json *content = mcp_json_get(mcp_json_get(msg, "result"), "content");
    return mcp_json_str(mcp_json_get(mcp_json_first(content), "text"), NULL);
}

static void assert_initialized(const mcp_json *msg) {
    assert_int_equal(id_of(msg), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_get(msg, "result"), "protocolVersion"), ""),
                        "2025-06-18");
}

/* ---- Tests ---------------------------------------------------------------------- */

static void test_byte_by_byte(void **state) {
    (void)state;
    harness *h = harness_new();
    const char *input = INIT_LINE
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
        "\"arguments\":{\"text\":\"h\\u00e9llo\"}}}\n";
    harness_run(h, input, strlen(input), 1);
    assert_int_equal(h->serve_rc, 0);
    mcp_json *lines[8];
    expect_lines(h, lines, 8, 3);
    assert_initialized(lines[0]);
    assert_int_equal(id_of(lines[1]), 1);
    assert_true(mcp_json_is_object(mcp_json_get(lines[1], "result")));
    assert_int_equal(id_of(lines[2]), 2);
    assert_string_equal(first_text(lines[2]), "h\xc3\xa9llo");
    assert_int_equal(h->counters.messages_in, 4);
    assert_int_equal(h->counters.messages_out, 3);
    assert_int_equal(h->counters.bytes_in, strlen(input));
    assert_int_equal(h->counters.bytes_out, h->output.len);
    harness_free(h);
}

static void test_pipelined_many(void **state) {
    (void)state;
    enum { N = 500 };
    harness *h = harness_new();
    mcp_buf in;
    mcp_buf_init(&in);
    mcp_buf_append_cstr(&in, INIT_LINE);
    for (int i = 1; i <= N; i++) {
        if (i % 2) mcp_buf_appendf(&in, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
        else
            mcp_buf_appendf(&in, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"echo\",\"arguments\":{\"text\":\"n%d\"}}}\n", i, i);
    }
    harness_run(h, in.data, in.len, 7000); /* chunks that cut lines anywhere */
    assert_int_equal(h->serve_rc, 0);
    static mcp_json *lines[N + 1];
    expect_lines(h, lines, N + 1, N + 1);
    assert_initialized(lines[0]);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(id_of(lines[i]), i); /* synchronous replies keep request order */
        if (i % 2 == 0) {
            char want[16];
            snprintf(want, sizeof want, "n%d", i);
            assert_string_equal(first_text(lines[i]), want);
        }
    }
    mcp_buf_free(&in);
    harness_free(h);
}

static void test_oversized_line(void **state) {
    (void)state;
    harness *h = harness_new();
    h->listen.max_message_size = 1024;
    mcp_buf in;
    mcp_buf_init(&in);
    mcp_buf_append_cstr(&in, INIT_LINE);
    mcp_buf_append_cstr(&in, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                             "\"arguments\":{\"text\":\"");
    for (int i = 0; i < 200000; i++) mcp_buf_append_char(&in, 'x');
    mcp_buf_append_cstr(&in, "\"}}}\n");
    mcp_buf_append_cstr(&in, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}\n");
    /* a line exactly at the limit is accepted: pad a ping up to 1024 bytes */
    mcp_buf line;
    mcp_buf_init(&line);
    mcp_buf_append_cstr(&line, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"_meta\":{\"pad\":\"");
    while (line.len < 1024 - 4) mcp_buf_append_char(&line, 'p');
    mcp_buf_append_cstr(&line, "\"}}}");
    assert_int_equal(line.len, 1024);
    mcp_buf_append(&in, line.data, line.len);
    mcp_buf_append_cstr(&in, "\r\n");
    harness_run(h, in.data, in.len, 4096);
    assert_int_equal(h->serve_rc, 0);
    mcp_json *lines[8];
    expect_lines(h, lines, 8, 4);
    assert_initialized(lines[0]);
    const mcp_json *err = mcp_json_get(lines[1], "error");
    assert_int_equal(mcp_json_int(mcp_json_get(err, "code"), 0), -32600);
    assert_true(mcp_json_is_null(mcp_json_get(lines[1], "id")));
    assert_non_null(strstr(mcp_json_str(mcp_json_get(err, "message"), ""), "1024"));
    assert_int_equal(id_of(lines[2]), 8);
    assert_int_equal(id_of(lines[3]), 9);
    assert_int_equal(h->counters.oversized, 1);
    assert_int_equal(h->counters.messages_in, 4);
    mcp_buf_free(&line);
    mcp_buf_free(&in);
    harness_free(h);
}

static void test_blank_lines_crlf_and_bad_json(void **state) {
    (void)state;
    harness *h = harness_new();
    const char *input =
        "\n\r\n   \n\t\r\n"
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
        "\"capabilities\":{},\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}}\r\n"
        "\n\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\r\n"
        "{not json}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"
        "\r\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"; /* no newline before end of input */
    harness_run(h, input, strlen(input), 3);
    assert_int_equal(h->serve_rc, 0);
    mcp_json *lines[8];
    expect_lines(h, lines, 8, 4);
    assert_initialized(lines[0]);
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(lines[1], "error"), "code"), 0), -32700);
    assert_int_equal(id_of(lines[2]), 1);
    assert_int_equal(id_of(lines[3]), 2);
    assert_int_equal(h->counters.messages_in, 5);
    assert_int_equal(h->counters.oversized, 0);
    harness_free(h);
}

/* End of input with a call in flight: serving lasts until the call has
 * completed, and its completion from another thread is safe. The session
 * decides whether a call still running at end of input is answered or
 * cancelled (mcp_session_free); either way nothing is lost silently. */
static void test_eof_waits_for_async_calls(void **state) {
    (void)state;
    harness *h = harness_new();
    const char *input = INIT_LINE
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
        "\"arguments\":{\"delay_ms\":300}}}\n";
    atomic_store(&later_cancelled, 0);
    uint64_t t0 = mcp_now_ns();
    harness_run(h, input, strlen(input), 0);
    uint64_t elapsed_ms = (mcp_now_ns() - t0) / 1000000;
    assert_int_equal(h->serve_rc, 0);
    assert_true(elapsed_ms >= 300); /* serving outlived end of input until the call finished */
    mcp_json *lines[4];
    assert_int_equal(output_lines(h, lines, 4), 2);
    assert_initialized(lines[0]);
    /* End of input drains, it does not cancel: the call still gets its answer. */
    assert_int_equal(atomic_load(&later_cancelled), 0);
    expect_lines(h, lines, 4, 2);
    assert_int_equal(id_of(lines[1]), 5);
    assert_string_equal(first_text(lines[1]), "done after 300 ms");
    harness_free(h);
}

static void test_concurrent_async_completions(void **state) {
    (void)state;
    enum { N = 64 };
    harness *h = harness_new();
    mcp_buf in;
    mcp_buf_init(&in);
    mcp_buf_append_cstr(&in, INIT_LINE);
    for (int i = 1; i <= N; i++)
        mcp_buf_appendf(&in, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                             "\"later\",\"arguments\":{\"delay_ms\":%d}}}\n", i, 20 + (i % 4));
    h->close_after_lines = N + 1; /* keep input open until every answer is in */
    harness_run(h, in.data, in.len, 0);
    assert_int_equal(h->serve_rc, 0);
    static mcp_json *lines[N + 1];
    expect_lines(h, lines, N + 1, N + 1); /* every line whole JSON */
    bool seen[N + 1] = {false};
    for (int i = 1; i <= N; i++) {
        int64_t id = id_of(lines[i]);
        assert_true(id >= 1 && id <= N);
        assert_false(seen[id]);
        seen[id] = true;
        assert_non_null(strstr(first_text(lines[i]), "done after"));
    }
    mcp_buf_free(&in);
    harness_free(h);
}

/* Non-blocking descriptors force the EAGAIN paths; a 1 MiB reply through a
 * 64 KiB pipe forces partial writes. */
static void test_nonblocking_partial_writes(void **state) {
    (void)state;
    harness *h = harness_new();
    assert_int_equal(fcntl(h->in[0], F_SETFL, fcntl(h->in[0], F_GETFL) | O_NONBLOCK), 0);
    assert_int_equal(fcntl(h->out[1], F_SETFL, fcntl(h->out[1], F_GETFL) | O_NONBLOCK), 0);
    enum { BIG = 1 << 20 };
    mcp_buf in;
    mcp_buf_init(&in);
    mcp_buf_append_cstr(&in, INIT_LINE);
    mcp_buf_append_cstr(&in, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                             "\"arguments\":{\"text\":\"");
    for (int i = 0; i < BIG; i++) mcp_buf_append_char(&in, (char)('a' + i % 26));
    mcp_buf_append_cstr(&in, "\"}}}\n{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n");
    harness_run(h, in.data, in.len, 65536);
    assert_int_equal(h->serve_rc, 0);
    mcp_json *lines[4];
    expect_lines(h, lines, 4, 3);
    assert_int_equal(id_of(lines[1]), 3);
    const char *text = first_text(lines[1]);
    assert_non_null(text);
    assert_int_equal(strlen(text), BIG);
    for (int i = 0; i < BIG; i++)
        if (text[i] != (char)('a' + i % 26)) fail_msg("byte %d of the echoed text differs", i);
    assert_int_equal(id_of(lines[2]), 4);
    mcp_buf_free(&in);
    harness_free(h);
}

/* The peer closes our output: no SIGPIPE death, serving ends with ECLOSED. */
static void test_output_closed_by_peer(void **state) {
    (void)state;
    harness *h = harness_new();
    close(h->out[0]);
    h->out[0] = -1;
    h->input = INIT_LINE "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    h->input_len = strlen(h->input);
    h->chunk = h->input_len;
    assert_int_equal(pthread_create(&h->serve_thread, NULL, serve_main, h), 0);
    assert_int_equal(pthread_create(&h->write_thread, NULL, write_main, h), 0);
    pthread_join(h->write_thread, NULL);
    pthread_join(h->serve_thread, NULL);
    close(h->in[0]);
    assert_int_equal(h->serve_rc, MCP_ECLOSED);
    assert_int_equal(h->counters.messages_out, 0);
    assert_true(h->counters.output_dropped >= 1);
    harness_free(h);
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_int_equal(mcp_serve_stdio_fds(NULL, 0, 1, NULL), MCP_EINVAL);
    mcp_server *s = mcp_server_new(&(mcp_server_opts){.name = "x", .version = "1"});
    assert_int_equal(mcp_serve_stdio_fds(s, -1, 1, NULL), MCP_EINVAL);
    /* A network address that cannot be bound fails at once instead of serving. */
    assert_true(mcp_serve(s, &(mcp_listen){.http = "no-port-here"}) < 0);
    assert_int_equal(mcp_serve(s, &(mcp_listen){.stdio = false}), MCP_EINVAL);
    mcp_server_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipelined_many),
        cmocka_unit_test(test_oversized_line),
        cmocka_unit_test(test_blank_lines_crlf_and_bad_json),
        cmocka_unit_test(test_eof_waits_for_async_calls),
        cmocka_unit_test(test_concurrent_async_completions),
        cmocka_unit_test(test_nonblocking_partial_writes),
        cmocka_unit_test(test_output_closed_by_peer),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
