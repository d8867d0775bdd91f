/* mcpd call's --oauth* options: every wrong use is refused before anything
 * is connected, with exit status 2 and a line that names the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mcpd;

/* Run mcpd call with args; its exit status, stderr in err. */
static int run(char *const args[], char *err, size_t size)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    char *argv[32] = {(char *)mcpd, "call"};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execv(mcpd, argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t got = read(pipefd[0], err + len, size - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    err[len] = '\0';
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void refused(const char *says, char *const args[])
{
    char err[4096];
    int rc = run(args, err, sizeof err);
    if (rc != 2 || !strstr(err, says))
        fail_msg("exit %d, stderr: %s (wanted exit 2 and '%s')", rc, err, says);
}

#define URL "http://127.0.0.1:1/mcp"
#define ARGS(...) ((char *const[]){__VA_ARGS__, NULL})

static void test_wrong_uses(void **state)
{
    (void)state;
    if (!mcpd)
        skip();
    refused("apply to http:// and https:// targets", ARGS("--oauth", "tcp://127.0.0.1:1", "tools/list"));
    refused("--oauth-client-credentials needs --oauth-client-id",
            ARGS("--oauth-client-credentials", URL, "tools/list"));
    refused("--oauth-client-credentials needs",
            ARGS("--oauth-client-credentials", "--oauth-client-id", "c", URL, "tools/list"));
    refused("--oauth-client-secret needs --oauth-client-id",
            ARGS("--oauth-client-secret", "s", URL, "tools/list"));
    refused("must be an https:// URL", ARGS("--oauth-client-metadata-url", "http://x/m.json", URL, "tools/list"));
    refused("must be an http:// or https:// URL", ARGS("--oauth-redirect-uri", "myapp:/cb", URL, "tools/list"));
    refused("ES256 or RS256", ARGS("--oauth-signing-alg", "HS256", URL, "tools/list"));
    refused("needs a value", ARGS(URL, "tools/list", "--oauth-scope"));
    refused("needs a value", ARGS("--oauth-scope", "", URL, "tools/list"));
    refused("unknown option '--oauth-frobnicate'", ARGS("--oauth-frobnicate", URL, "tools/list"));
    refused("the JWT bearer grant needs --oauth-client-id", ARGS("--oauth-jwt-bearer", "a.b.c", URL, "tools/list"));
    refused("need --oauth-idp-token-endpoint", ARGS("--oauth-idp-id-token", "t", URL, "tools/list"));
    refused("the JWT bearer grant needs",
            ARGS("--oauth-client-id", "c", "--oauth-idp-token-endpoint", "http://127.0.0.1:1/token", URL, "tools/list"));
    refused("loopback redirect URI must be http://127.0.0.1:PORT/PATH",
            ARGS("--oauth-browser", "--oauth-redirect-uri", "http://localhost:8/cb", URL, "tools/list"));
    refused("--oauth-browser is for the authorization code grant",
            ARGS("--oauth-browser", "--oauth-client-credentials", "--oauth-client-id", "c", "--oauth-client-secret",
                 "s", URL, "tools/list"));
    refused("No such file",
            ARGS("--oauth-client-credentials", "--oauth-client-id", "c", "--oauth-private-key", "/nonexistent/key.pem",
                 URL, "tools/list"));
    char junk[] = "/tmp/mcpd-oauth-cli-XXXXXX";
    int fd = mkstemp(junk);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a key\n", 10), 10);
    close(fd);
    refused("not a PEM private key",
            ARGS("--oauth-client-credentials", "--oauth-client-id", "c", "--oauth-private-key", junk, URL,
                 "tools/list"));
    refused("Is a directory",
            ARGS("--oauth-client-credentials", "--oauth-client-id", "c", "--oauth-private-key", "/tmp", URL,
                 "tools/list"));
    unlink(junk);
}

static void test_token_file_errors(void **state)
{
    (void)state;
    if (!mcpd)
        skip();
    /* A directory cannot be read as the token file. */
    refused("--oauth-token-file /tmp: Is a directory", ARGS("--oauth-token-file", "/tmp", URL, "tools/list"));
    /* A file that is not a JSON object is ignored with a warning; the call
     * then fails to reach the server (nothing listens on port 1): exit 2. */
    char path[] = "/tmp/mcpd-oauth-tokens-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "[1]", 3), 3);
    close(fd);
    char err[4096];
    assert_int_equal(run(ARGS("--oauth-token-file", path, URL, "tools/list"), err, sizeof err), 2);
    assert_non_null(strstr(err, "is not a JSON object; ignoring it"));
    assert_non_null(strstr(err, "cannot connect"));
    unlink(path);
}

int main(void)
{
    mcpd = getenv("MCPD_BIN");
    if (!mcpd || access(mcpd, X_OK) != 0) {
        printf("SKIPPED: MCPD_BIN is not set to the mcpd binary\n");
        mcpd = NULL;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_uses),
        cmocka_unit_test(test_token_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
