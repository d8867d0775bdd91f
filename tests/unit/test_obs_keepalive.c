/*
 * The exporter keeps its connection to the collector between posts: one
 * connection for many batches when the collector allows it; a new one per
 * batch when the collector answers Connection: close; and when the
 * collector closes a kept connection without saying so, the next batch
 * still arrives (on a new connection) with no failure and no retry counted.
 */
#include "mcp/obs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

typedef enum close_mode {
    KEEP_OPEN = 0,     /* HTTP/1.1 keep-alive */
    SAY_CLOSE,         /* Connection: close, then close */
    CLOSE_SILENTLY,    /* keep-alive answer, then close anyway (an idle timeout) */
    DROP_SECOND,       /* answer a connection's first request; read its second and close unanswered */
    INTERIM_FIRST,     /* a 100 Continue before each keep-alive answer */
} close_mode;

typedef struct collector {
    int fd, port;
    close_mode mode;
    pthread_t thread;
    atomic_bool stop;
    atomic_int connections, requests;
} collector;

/* Read one request (head, then Content-Length bytes of body); false at
 * the end of the stream. */
static bool read_request(int fd) {
    char buf[65536];
    size_t have = 0;
    long body = -1;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1) return false;
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) return false;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        if (body < 0) {
            char *cl = strcasestr(buf, "content-length:");
            body = cl ? strtol(cl + 15, NULL, 10) : 0;
        }
        size_t head = (size_t)(end + 4 - buf);
        if (have - head >= (size_t)body) return true;
        body -= (long)(have - head); /* what is still to come */
        while (body > 0) {
            if (poll(&p, 1, 2000) != 1) return false;
            n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            body -= n;
        }
        return true;
    }
}

static void *collector_main(void *arg) {
    collector *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        int fd = accept(c->fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&c->connections, 1);
        for (int on_conn = 0; !atomic_load(&c->stop) && read_request(fd); on_conn++) {
            atomic_fetch_add(&c->requests, 1);
            if (c->mode == DROP_SECOND && on_conn == 1) break;
            const char *answer = c->mode == SAY_CLOSE
                                     ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                                     : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
            if (c->mode == INTERIM_FIRST) {
                static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
                send(fd, interim, sizeof interim - 1, MSG_NOSIGNAL);
            }
            send(fd, answer, strlen(answer), MSG_NOSIGNAL);
            if (c->mode == SAY_CLOSE || c->mode == CLOSE_SILENTLY) break;
        }
        close(fd);
    }
    return NULL;
}

static void collector_start(collector *c, close_mode mode) {
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c->fd, 16), 0);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&a, &len), 0);
    c->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&c->thread, NULL, collector_main, c), 0);
}

static void collector_stop(collector *c) {
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    close(c->fd);
}

/* Three batches of spans, each flushed; returns the tracer's stats. */
static void export_three_batches(collector *c, mcp_tracer_stats *st) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", c->port);
    mcp_tracer *t;
    /* No timed exports: one post per flush, whatever the machine's load. */
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = url, .flush_interval_ms = 600000,
                                                                    .timeout_ms = 2000, .initial_backoff_ms = 10}},
                                    &t),
                     0);
    /* The exporter's first pass, with nothing to send, is over when this
     * returns: it cannot split the first batch by collecting half of it. */
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    for (int batch = 0; batch < 3; batch++) {
        for (int i = 0; i < 50; i++) {
            mcp_span *s = mcp_span_start(t, "work", MCP_SPAN_INTERNAL, NULL);
            mcp_span_set_int(s, "i", i);
            mcp_span_end(s);
        }
        assert_int_equal(mcp_tracer_flush(t, 5000), 0);
        /* Give a silent close time to land before the next post. */
        usleep(20000);
    }
    mcp_tracer_stats_get(t, st);
    mcp_tracer_free(t);
}

/* Three batches against a collector in mode: every span arrives and no
 * export fails, whatever the mode; what else happened is returned. */
static void export_to(close_mode mode, mcp_tracer_stats *st, int *requests, int *connections) {
    collector c;
    collector_start(&c, mode);
    export_three_batches(&c, st);
    collector_stop(&c);
    assert_int_equal(st->spans_exported, 150);
    assert_int_equal(st->export_failures, 0);
    *requests = atomic_load(&c.requests);
    *connections = atomic_load(&c.connections);
}

static void test_one_connection_for_many_posts(void **state) {
    (void)state;
    mcp_tracer_stats st;
    int requests, connections;
    export_to(KEEP_OPEN, &st, &requests, &connections);
    assert_int_equal(requests, 3);
    assert_int_equal(connections, 1);
}

/* An interim 1xx answer is not the post's outcome: the final one after it
 * is, and the connection stays usable. */
static void test_interim_answers_are_skipped(void **state) {
    (void)state;
    mcp_tracer_stats st;
    int requests, connections;
    export_to(INTERIM_FIRST, &st, &requests, &connections);
    assert_int_equal(requests, 3);
    assert_int_equal(connections, 1);
}

static void test_connection_close_is_honoured(void **state) {
    (void)state;
    mcp_tracer_stats st;
    int requests, connections;
    export_to(SAY_CLOSE, &st, &requests, &connections);
    assert_int_equal(st.export_retries, 0);
    assert_int_equal(requests, 3);
    assert_int_equal(connections, 3);
}

static void test_silent_close_is_survived(void **state) {
    (void)state;
    mcp_tracer_stats st;
    int requests, connections;
    export_to(CLOSE_SILENTLY, &st, &requests, &connections);
    assert_int_equal(st.export_retries, 0);
    assert_int_equal(st.dropped_export_failed, 0);
    assert_int_equal(requests, 3);
    assert_int_equal(connections, 3);
}

/* The collector closes a kept connection right as a post arrives on it,
 * unanswered: the exporter sends that post again on a new connection
 * itself (the collector may see it twice, as with any retry), and counts
 * no failure and no retry. */
static void test_unanswered_post_on_kept_connection_goes_again(void **state) {
    (void)state;
    mcp_tracer_stats st;
    int requests, connections;
    export_to(DROP_SECOND, &st, &requests, &connections);
    assert_int_equal(st.export_retries, 0);
    /* 1 on the first connection, 2 twice, 3 twice. */
    assert_int_equal(requests, 5);
    assert_int_equal(connections, 3);
}

/* Posts on a kept connection do not wait on the collector's delayed ACK
 * (40 ms on Linux) as a head and a body written apart would behind Nagle:
 * 20 flushes of one span take far less than 20 of those waits. */
static void test_kept_posts_do_not_wait_for_delayed_acks(void **state) {
    (void)state;
    collector c;
    collector_start(&c, KEEP_OPEN);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", c.port);
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.exporter = {.endpoint = url, .flush_interval_ms = 600000}}, &t),
                     0);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    uint64_t t0 = mcp_now_ns();
    for (int i = 0; i < 20; i++) {
        mcp_span_end(mcp_span_start(t, "one", MCP_SPAN_INTERNAL, NULL));
        assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    }
    uint64_t ms = (mcp_now_ns() - t0) / 1000000;
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    mcp_tracer_free(t);
    collector_stop(&c);
    assert_int_equal(st.spans_exported, 20);
    assert_int_equal(atomic_load(&c.connections), 1);
    assert_true(ms < 400);
}

/* Spans that trickle in while a post is on its way wait for a full
 * batch instead of going out in a small post of their own: 1000 spans
 * ended a few at a time, batches of 100, are 10 posts. */
static void test_posts_are_full_batches(void **state) {
    (void)state;
    collector c;
    collector_start(&c, KEEP_OPEN);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", c.port);
    mcp_tracer *t;
    assert_int_equal(mcp_tracer_new(&(mcp_tracer_opts){.buffer_spans = 1024,
                                                       .exporter = {.endpoint = url, .flush_interval_ms = 600000,
                                                                    .max_batch = 100}},
                                    &t),
                     0);
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    for (int i = 0; i < 1000; i++) {
        mcp_span_end(mcp_span_start(t, "trickle", MCP_SPAN_INTERNAL, NULL));
        if (i % 10 == 9) usleep(200);
    }
    assert_int_equal(mcp_tracer_flush(t, 5000), 0);
    mcp_tracer_stats st;
    mcp_tracer_stats_get(t, &st);
    mcp_tracer_free(t);
    collector_stop(&c);
    assert_int_equal(st.spans_exported, 1000);
    assert_int_equal(st.export_requests, 10);
    assert_int_equal(atomic_load(&c.requests), 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_connection_for_many_posts),
        cmocka_unit_test(test_interim_answers_are_skipped),
        cmocka_unit_test(test_connection_close_is_honoured),
        cmocka_unit_test(test_silent_close_is_survived),
        cmocka_unit_test(test_unanswered_post_on_kept_connection_goes_again),
        cmocka_unit_test(test_kept_posts_do_not_wait_for_delayed_acks),
        cmocka_unit_test(test_posts_are_full_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
