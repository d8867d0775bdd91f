/* `mcpd serve --config FILE`: the file's keys become the options the
 * command line would give, every bad key is refused by its path, relative
 * paths follow the file, and the command line overrides the file. The
 * parser is compiled into this test from its source (it belongs to the
 * mcpd program, not to libmcp); the last tests run the real binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_loopback.h"

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

#include "app/config.c"

static int parse(app_serve_config *cfg, const char *text) {
    return app_serve_config_parse(cfg, text, strlen(text), "/etc/mcpd", "test.json");
}

static void assert_entry(const app_serve_config *cfg, size_t i, const char *key, const char *option,
                         const char *value) {
    assert_true(i < cfg->count);
    assert_string_equal(cfg->entries[i].key, key);
    assert_string_equal(cfg->entries[i].option, option);
    if (value) assert_string_equal(cfg->entries[i].value, value);
    else assert_null(cfg->entries[i].value);
}

static void test_every_key_becomes_its_option(void **state) {
    (void)state;
    app_serve_config cfg;
    int rc = parse(&cfg,
                   "{\"stdio\":true,\"tcp\":\"127.0.0.1:7700\",\"http\":\"127.0.0.1:7800\",\"ws\":\"127.0.0.1:7900\","
                   "\"tls\":{\"cert\":\"certs/server.pem\",\"key\":\"/keys/server.key\"},"
                   "\"workers\":2,\"max_connections\":500,\"idle_timeout_ms\":1000,"
                   "\"http_options\":{\"path\":\"/rpc\",\"prefer_sse\":true,\"no_get\":false,"
                   "\"allow_hosts\":[\"a.example\",\"b.example\"],\"allow_origins\":[\"https://a.example\"]},"
                   "\"ws_options\":{\"path\":\"/ws\"},"
                   "\"cache\":{\"l1_entries\":100,\"dir\":\"cache\",\"redis\":\"127.0.0.1:6379\",\"ttl_ms\":5000,"
                   "\"node_id\":\"n1\"},"
                   "\"observability\":{\"otlp_endpoint\":\"http://127.0.0.1:4318\","
                   "\"otlp_headers\":{\"authorization\":\"Bearer x=y\"},\"trace_sample\":0.25,\"metrics\":true,"
                   "\"log_format\":\"json\"},"
                   "\"all_features\":true,\"extra_tools\":0,\"page_size\":10,\"max_message_size\":65536,"
                   "\"log_level\":\"debug\"}");
    assert_int_equal(rc, 0);
    size_t i = 0;
    assert_entry(&cfg, i++, "stdio", "--stdio", NULL);
    assert_entry(&cfg, i++, "tcp", "--tcp", "127.0.0.1:7700");
    assert_entry(&cfg, i++, "http", "--http", "127.0.0.1:7800");
    assert_entry(&cfg, i++, "ws", "--ws", "127.0.0.1:7900");
    assert_entry(&cfg, i++, "tls.cert", "--tls-cert", "/etc/mcpd/certs/server.pem");
    assert_entry(&cfg, i++, "tls.key", "--tls-key", "/keys/server.key");
    assert_entry(&cfg, i++, "workers", "--workers", "2");
    assert_entry(&cfg, i++, "max_connections", "--max-connections", "500");
    assert_entry(&cfg, i++, "idle_timeout_ms", "--idle-timeout-ms", "1000");
    assert_entry(&cfg, i++, "http_options.path", "--http-path", "/rpc");
    assert_entry(&cfg, i++, "http_options.prefer_sse", "--http-prefer-sse", NULL);
    /* no_get false adds nothing */
    assert_entry(&cfg, i++, "http_options.allow_hosts[0]", "--http-allow-host", "a.example");
    assert_entry(&cfg, i++, "http_options.allow_hosts[1]", "--http-allow-host", "b.example");
    assert_entry(&cfg, i++, "http_options.allow_origins[0]", "--http-allow-origin", "https://a.example");
    assert_entry(&cfg, i++, "ws_options.path", "--ws-path", "/ws");
    assert_entry(&cfg, i++, "cache.l1_entries", "--cache-l1-entries", "100");
    assert_entry(&cfg, i++, "cache.dir", "--cache-dir", "/etc/mcpd/cache");
    assert_entry(&cfg, i++, "cache.redis", "--cache-redis", "127.0.0.1:6379");
    assert_entry(&cfg, i++, "cache.ttl_ms", "--cache-ttl-ms", "5000");
    assert_entry(&cfg, i++, "cache.node_id", "--node-id", "n1");
    assert_entry(&cfg, i++, "observability.otlp_endpoint", "--otlp-endpoint", "http://127.0.0.1:4318");
    assert_entry(&cfg, i++, "observability.otlp_headers.authorization", "--otlp-header",
                 "authorization=Bearer x=y");
    assert_entry(&cfg, i++, "observability.trace_sample", "--trace-sample", "0.25");
    assert_entry(&cfg, i++, "observability.metrics", "--metrics", NULL);
    assert_entry(&cfg, i++, "observability.log_format", "--log-format", "json");
    assert_entry(&cfg, i++, "all_features", "--all-features", NULL);
    assert_entry(&cfg, i++, "extra_tools", "--extra-tools", "0");
    assert_entry(&cfg, i++, "page_size", "--page-size", "10");
    assert_entry(&cfg, i++, "max_message_size", "--max-message-size", "65536");
    assert_entry(&cfg, i++, "log_level", "--log-level", "debug");
    assert_int_equal(cfg.count, i);
    app_serve_config_free(&cfg);

    /* The empty object is a valid (if useless) file; the transport check is serve's. */
    assert_int_equal(parse(&cfg, " {} "), 0);
    assert_int_equal(cfg.count, 0);
    app_serve_config_free(&cfg);
}

static void test_bad_files_name_the_key(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        {"{\"tcpp\":\"127.0.0.1:1\"}", "key 'tcpp': unknown key"},
        {"{\"http_options\":{\"pathh\":\"/x\"}}", "key 'http_options.pathh': unknown key"},
        {"{\"cache\":{\"ttl\":5}}", "key 'cache.ttl': unknown key"},
        {"{\"config\":\"other.json\"}", "key 'config': unknown key"},
        {"{\"tcp\":7700}", "key 'tcp': expected a string"},
        {"{\"stdio\":\"yes\"}", "key 'stdio': expected true or false, got a string"},
        {"{\"workers\":\"2\"}", "key 'workers': expected a whole number from 0 up, got a string"},
        {"{\"workers\":-1}", "key 'workers': expected a whole number"},
        {"{\"workers\":1.5}", "key 'workers': expected a whole number"},
        {"{\"workers\":null}", "key 'workers': expected a whole number from 0 up, got null"},
        {"{\"tls\":\"cert.pem\"}", "key 'tls': expected an object, got a string"},
        {"{\"tls\":{\"cert\":\"\"}}", "key 'tls.cert': expected a file path"},
        {"{\"http_options\":{\"allow_hosts\":\"a\"}}", "key 'http_options.allow_hosts': expected an array"},
        {"{\"http_options\":{\"allow_hosts\":[\"a\",2]}}", "key 'http_options.allow_hosts[1]': expected a string"},
        {"{\"observability\":{\"otlp_headers\":[\"a=b\"]}}", "key 'observability.otlp_headers': expected an object"},
        {"{\"observability\":{\"otlp_headers\":{\"a\":1}}}", "key 'observability.otlp_headers.a': expected a string"},
        {"{\"observability\":{\"otlp_headers\":{\"a=b\":\"c\"}}}", "key 'observability.otlp_headers.a=b': a header"},
        {"{\"observability\":{\"trace_sample\":true}}", "key 'observability.trace_sample': expected a string"},
        {"{\"log_level\":\"de\\u0000bug\"}", "key 'log_level': the string contains a NUL"},
        {"{\"workers\":1,\"workers\":2}", "key 'workers': given twice"},
        {"{\"cache\":{\"dir\":\"a\",\"dir\":\"b\"}}", "key 'cache.dir': given twice"},
        {"[\"tcp\"]", "the file must hold a JSON object, it holds an array"},
        {"{\"tcp\":\"127.0.0.1:1\",}", "not valid JSON at byte"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        app_serve_config cfg;
        int rc = parse(&cfg, cases[i].text);
        if (rc != -1 || !strstr(cfg.error, cases[i].error) || !strstr(cfg.error, "test.json"))
            fail_msg("%s: got rc %d, error '%s', want '%s'", cases[i].text, rc, cfg.error, cases[i].error);
        app_serve_config_free(&cfg);
    }
}

/* A directory of its own for files the tests write. */
static void make_dir(char *dir, size_t size) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/mcpd-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_load_resolves_paths_against_the_file(void **state) {
    (void)state;
    char dir[256], path[320], want[320];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mcpd.json", dir);
    write_file(path, "{\"tls\":{\"cert\":\"server.pem\",\"key\":\"../keys/server.key\"}}");
    app_serve_config cfg;
    assert_int_equal(app_serve_config_load(&cfg, path), 0);
    assert_int_equal(cfg.count, 2);
    snprintf(want, sizeof want, "%s/server.pem", dir);
    assert_string_equal(cfg.entries[0].value, want);
    snprintf(want, sizeof want, "%s/../keys/server.key", dir);
    assert_string_equal(cfg.entries[1].value, want);
    app_serve_config_free(&cfg);
    unlink(path);

    /* A missing file is refused with its name and the reason. */
    assert_int_equal(app_serve_config_load(&cfg, path), -1);
    assert_non_null(strstr(cfg.error, path));
    assert_non_null(strstr(cfg.error, "No such file"));
    app_serve_config_free(&cfg);
    rmdir(dir);
}

/* The documented example must stay a file mcpd accepts. Found next to this
 * source: tests/unit/ -> docs/. */
static void test_documented_example_parses(void **state) {
    (void)state;
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    if (!slash || __FILE__[0] != '/') {
        fprintf(stderr, "skipped: this test was compiled without an absolute source path\n");
        skip();
    }
    snprintf(path, sizeof path, "%.*s/../../docs/mcpd.example.json", (int)(slash - __FILE__), __FILE__);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skipped: %s is absent\n", path);
        skip();
    }
    app_serve_config cfg;
    if (app_serve_config_load(&cfg, path)) fail_msg("%s", cfg.error);
    assert_true(cfg.count > 10);
    app_serve_config_free(&cfg);
}

/* ---- The real binary ---------------------------------------------------- */

#define MODERN_META                                                             \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","    \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"
#define ECHO_CALL(id, text)                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"," \
    "\"arguments\":{\"text\":\"" text "\"}," MODERN_META "}}"

/* Run mcpd with args (NULL-terminated, after "serve"); its stderr goes to
 * *err_fd when err_fd is given. */
static pid_t spawn(const char *bin, const char *const *args, int *err_fd) {
    int pipe_fds[2] = {-1, -1};
    if (err_fd) assert_int_equal(pipe(pipe_fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (err_fd) {
            dup2(pipe_fds[1], 2);
            close(pipe_fds[0]);
            close(pipe_fds[1]);
        }
        const char *argv[16] = {bin, "serve"};
        size_t n = 2;
        while (*args && n < 15) argv[n++] = *args++;
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (err_fd) {
        close(pipe_fds[1]);
        *err_fd = pipe_fds[0];
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(50 * 1000);
    if (!WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("mcpd serve did not exit within 10 s");
    }
    return WEXITSTATUS(status);
}

static void test_binary_serves_tcp_and_http_from_the_file(void **state) {
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin) {
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
        skip();
    }
    char dir[256], path[320], text[512];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mcpd.json", dir);
    int file_tcp_port = free_port(), tcp_port = free_port(), http_port = free_port();
    /* The file names one TCP port; the command line moves it to another. */
    snprintf(text, sizeof text,
             "{\"tcp\":\"127.0.0.1:%d\",\"http\":\"127.0.0.1:%d\",\"workers\":1,"
             "\"http_options\":{\"path\":\"/rpc\",\"allow_hosts\":[\"file.example\"]}}",
             file_tcp_port, http_port);
    write_file(path, text);
    char tcp_addr[32];
    snprintf(tcp_addr, sizeof tcp_addr, "127.0.0.1:%d", tcp_port);
    pid_t pid = spawn(bin,
                      (const char *const[]){"--config", path, "--tcp", tcp_addr, "--http-allow-host", "cli.example",
                                            NULL},
                      NULL);

    int tcp = connect_port(tcp_port);
    int http = connect_port(http_port);
    const char *body = ECHO_CALL(2, "over http");
    mcp_buf got;
    mcp_buf_init(&got);
    echo_over_tcp_and_http(tcp, http, http_port, "/rpc", ECHO_CALL(1, "over tcp") "\n", body, &got);
    char request[1024];

    /* The command line's list of hosts replaced the file's. */
    static const struct {
        const char *host;
        const char *status;
    } hosts[] = {{"cli.example", "HTTP/1.1 200"}, {"file.example", "HTTP/1.1 403"}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(request, sizeof request,
                 "POST /rpc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                 "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: %zu\r\n\r\n%s",
                 hosts[i].host, strlen(body), body);
        send_all(http, request);
        mcp_buf_reset(&got);
        read_until(http, &got, "\r\n\r\n");
        if (!strstr(got.data, hosts[i].status)) fail_msg("Host %s: got '%s'", hosts[i].host, got.data);
        if (i == 0) read_until(http, &got, "over http");
    }

    /* The file's own TCP port was overridden: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)file_tcp_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);

    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid), 0);
    close(tcp);
    close(http);
    mcp_buf_free(&got);
    unlink(path);
    rmdir(dir);
}

static void test_binary_refuses_a_bad_file_by_key(void **state) {
    (void)state;
    const char *bin = mcpd_bin();
    if (!bin) {
        fprintf(stderr, "skipped: MCPD_BIN is not set to an executable mcpd binary\n");
        skip();
    }
    char dir[256], path[320];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mcpd.json", dir);
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        /* checked by the file parser */
        {"{\"tcp\":\"127.0.0.1:1\",\"http_options\":{\"prefer\":true}}", "key 'http_options.prefer': unknown key"},
        /* checked by the same code as the command line, then named by key */
        {"{\"tcp\":\"127.0.0.1:1\",\"workers\":0}", "key 'workers' has a bad value"},
        {"{\"tcp\":\"127.0.0.1:1\",\"http_options\":{\"path\":\"rpc\"}}", "key 'http_options.path' has a bad value"},
        {"{\"tcp\":\"127.0.0.1:1\",\"observability\":{\"log_format\":\"xml\"}}",
         "key 'observability.log_format' has a bad value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(path, cases[i].text);
        int err_fd;
        pid_t pid = spawn(bin, (const char *const[]){"--config", path, NULL}, &err_fd);
        mcp_buf err;
        mcp_buf_init(&err);
        char buf[1024];
        ssize_t r;
        while ((r = read(err_fd, buf, sizeof buf)) > 0) mcp_buf_append(&err, buf, (size_t)r);
        close(err_fd);
        assert_int_equal(wait_exit(pid), 2);
        if (!err.data || !strstr(err.data, cases[i].error))
            fail_msg("%s: stderr '%s', want '%s'", cases[i].text, err.data ? err.data : "", cases[i].error);
        mcp_buf_free(&err);
    }
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_becomes_its_option),
        cmocka_unit_test(test_bad_files_name_the_key),
        cmocka_unit_test(test_load_resolves_paths_against_the_file),
        cmocka_unit_test(test_documented_example_parses),
        cmocka_unit_test(test_binary_serves_tcp_and_http_from_the_file),
        cmocka_unit_test(test_binary_refuses_a_bad_file_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
