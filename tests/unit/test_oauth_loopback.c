/* The loopback redirect receiver: its URI, the browser coming back (after
 * a stray request for another path and a POST), the bounded wait, and
 * redirect URIs it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/client.h"

static char answers[3][128];

/* One request to the loopback; the status line of its answer is kept. */
static void request(const char *uri, const char *line, char *status_out)
{
    unsigned port = (unsigned)strtoul(uri + strlen("http://127.0.0.1:"), NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_true(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
    char buf[512] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(status_out, 128, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    close(fd);
}

typedef struct browser {
    const char *uri;
    char shown[256];
    pthread_t thread;
} browser;

static void *browse(void *arg)
{
    browser *b = arg;
    request(b->uri, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n", answers[0]);
    request(b->uri, "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", answers[1]);
    request(b->uri, "GET /callback?code=c1&state=s%2B1 HTTP/1.1\r\nHost: x\r\n\r\n", answers[2]);
    return NULL;
}

/* The person is told the URL; here that starts the "browser". */
static void show(void *user, const char *url)
{
    browser *b = user;
    snprintf(b->shown, sizeof b->shown, "%s", url);
    pthread_create(&b->thread, NULL, browse, b);
}

static void test_browser_comes_back(void **state)
{
    (void)state;
    browser b = {0};
    mcp_oauth_loopback *lb = NULL;
    char why[256];
    assert_int_equal(mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.show = show, .user = &b, .timeout_ms = 5000},
                                             &lb, why, sizeof why), 0);
    b.uri = mcp_oauth_loopback_uri(lb);
    assert_int_equal(strncmp(b.uri, "http://127.0.0.1:", 17), 0);
    assert_non_null(strstr(b.uri, "/callback"));
    mcp_buf back;
    mcp_buf_init(&back);
    assert_int_equal(mcp_oauth_loopback_authorize(lb, "https://as.example/authorize?x=1", b.uri, &back), 0);
    pthread_join(b.thread, NULL);
    assert_string_equal(b.shown, "https://as.example/authorize?x=1");
    assert_non_null(strstr(answers[0], " 404 "));
    assert_non_null(strstr(answers[1], " 405 "));
    assert_non_null(strstr(answers[2], " 200 "));
    char want[128];
    snprintf(want, sizeof want, "%s?code=c1&state=s%%2B1", b.uri);
    assert_string_equal(back.data, want);
    mcp_buf_free(&back);
    mcp_oauth_loopback_close(lb);
}

static void test_bounded_wait_and_given_uri(void **state)
{
    (void)state;
    mcp_oauth_loopback *lb = NULL;
    char why[256];
    assert_int_equal(mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.timeout_ms = 100}, &lb, why, sizeof why), 0);
    mcp_buf back;
    mcp_buf_init(&back);
    uint64_t t0 = mcp_now_ns();
    assert_int_equal(mcp_oauth_loopback_authorize(lb, "http://as/authorize", NULL, &back), MCP_ETIMEDOUT);
    assert_true((mcp_now_ns() - t0) / 1000000u < 2000);
    assert_int_equal(back.len, 0);
    /* Its port, taken again with a path of our choosing, is refused while in use. */
    char uri[96];
    snprintf(uri, sizeof uri, "%.*s/cb", (int)(strlen(mcp_oauth_loopback_uri(lb)) - 9), mcp_oauth_loopback_uri(lb));
    mcp_oauth_loopback *second = NULL;
    assert_int_equal(mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.redirect_uri = uri}, &second, why,
                                             sizeof why), MCP_EIO);
    assert_null(second);
    mcp_oauth_loopback_close(lb);
    assert_int_equal(mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.redirect_uri = uri}, &second, why,
                                             sizeof why), 0);
    assert_string_equal(mcp_oauth_loopback_uri(second), uri);
    mcp_oauth_loopback_close(second);
    mcp_buf_free(&back);
    assert_int_equal(mcp_oauth_loopback_authorize(NULL, "u", NULL, &back), MCP_EINVAL);
}

static void test_refused_uris(void **state)
{
    (void)state;
    static const char *const bad[] = {"https://127.0.0.1:8080/cb", "http://localhost:8080/cb", "http://10.0.0.1:80/cb",
                                      "http://127.0.0.1:0/cb",     "http://127.0.0.1:99999/cb", "http://127.0.0.1:80x/cb",
                                      "http://127.0.0.1:80/cb?x=1", "http://127.0.0.1:80/c b",  "http://127.0.0.1/cb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcp_oauth_loopback *lb = (mcp_oauth_loopback *)1;
        char why[256] = "";
        assert_int_equal(mcp_oauth_loopback_open(&(mcp_oauth_loopback_opts){.redirect_uri = bad[i]}, &lb, why,
                                                 sizeof why), MCP_EINVAL);
        assert_null(lb);
        assert_non_null(strstr(why, bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_comes_back),
        cmocka_unit_test(test_bounded_wait_and_given_uri),
        cmocka_unit_test(test_refused_uris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
