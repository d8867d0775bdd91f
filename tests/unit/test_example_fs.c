/* The file-system example server (examples/fs_server.c): its core through
 * a session (resources per file, the template, subscriptions, updated and
 * list_changed as files change, both eras), then the real binary over
 * stdio, which must notice a change by itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define EXAMPLE_NO_MAIN
#include "../../examples/fs_server.c"

#include "test_mcp_util.h"
#include "test_spawn.h"

#include <ftw.h>

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mcpd-fs-example-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    write_file("a.txt", "alpha");
    write_file("notes.md", "# notes");
    write_file(".hidden", "secret");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_core(void **state)
{
    (void)state;
    fixture *f = fixture_new(&(mcp_server_opts){.name = "fs", .version = "1"});
    fs_server *fs = fs_server_new(f->server, tmpdir);
    assert_non_null(fs);
    assert_null(fs_server_new(f->server, "/nonexistent/dir"));
    handshake(f, "2025-11-25", "{}");

    const mcp_json *list = mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}")), "resources");
    assert_int_equal(mcp_json_len(list), 2); /* not the hidden file */
    const mcp_json *read = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///a.txt\"}}"));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(read, "contents"), 0), "text"), "alpha");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///.hidden\"}}");
    assert_int_equal(error_code(doc), MCP_RPC_INVALID_PARAMS);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///..%2F..%2Fetc%2Fpasswd\"}}");
    assert_non_null(mcp_json_get(doc, "error"));

    result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///a.txt\"}}"));
    capture_clear(&f->cap);
    assert_int_equal(fs_server_scan(fs), 0);
    assert_int_equal(capture_count(&f->cap), 0);
    write_file("a.txt", "alpha, changed");
    assert_int_equal(fs_server_scan(fs), 1);
    assert_int_equal(capture_count(&f->cap), 1);
    assert_string_equal(method_of(capture_json(&f->cap, 0)), "notifications/resources/updated");
    assert_string_equal(str_at(mcp_json_get(capture_json(&f->cap, 0), "params"), "uri"), "file:///a.txt");
    /* A change to a file nobody subscribed to: nothing. */
    capture_clear(&f->cap);
    write_file("notes.md", "# notes, longer");
    assert_int_equal(fs_server_scan(fs), 1);
    assert_int_equal(capture_count(&f->cap), 0);

    /* A new file: list_changed, and readable through the template too. */
    write_file("b.json", "{\"b\":1}");
    assert_int_equal(fs_server_scan(fs), 1);
    assert_true(find_message(f, "notifications/resources/list_changed", 0) >= 0);
    read = result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///b.json\"}}"));
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(read, "contents"), 0), "mimeType"), "application/json");

    /* A removed file: list_changed, and its subscribers hear of it. */
    char path[512];
    snprintf(path, sizeof path, "%s/a.txt", tmpdir);
    unlink(path);
    capture_clear(&f->cap);
    assert_int_equal(fs_server_scan(fs), 1);
    assert_true(find_message(f, "notifications/resources/list_changed", 0) >= 0);
    assert_true(find_message(f, "notifications/resources/updated", 0) >= 0);
    list = mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/list\"}")), "resources");
    assert_int_equal(mcp_json_len(list), 2);

    /* Modern era: a listen stream carries the same news. */
    capture clean;
    capture_init(&clean);
    mcp_sink sink = capture_sink(&clean);
    mcp_session *modern = mcp_session_new(f->server, &sink);
    const char *listen = "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                         "{\"resourceSubscriptions\":[\"file:///b.json\"]}," MODERN_META "}}";
    assert_int_equal(mcp_session_handle(modern, listen, strlen(listen)), 0);
    write_file("b.json", "{\"b\":2, \"c\":3}");
    assert_int_equal(fs_server_scan(fs), 1);
    assert_int_equal(capture_count(&clean), 2);
    mcp_json *n = capture_json(&clean, 1);
    assert_string_equal(method_of(n), "notifications/resources/updated");
    assert_string_equal(str_at(mcp_json_get(mcp_json_get(n, "params"), "_meta"), "io.modelcontextprotocol/subscriptionId"), "L");
    mcp_session_free(modern);
    capture_free(&clean);

    fixture_free(f);
    fs_server_free(fs);
}

static void test_binary_notices_changes(void **state)
{
    (void)state;
    char bin[1024];
    if (!example_path("fs_server", bin, sizeof bin))
        skip();
    child c;
    char *argv[] = {bin, tmpdir, "--interval-ms", "20", NULL};
    assert_int_equal(child_start(&c, argv), 0);
    assert_int_equal(child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                                    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"), 0);
    char *line = child_wait_for(&c, "\"id\":1", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "\"subscribe\":true"));
    free(line);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"file:///notes.md\"}}");
    line = child_wait_for(&c, "\"id\":2", 5000);
    assert_non_null(line);
    free(line);
    write_file("notes.md", "# notes, rewritten by the test");
    line = child_wait_for(&c, "notifications/resources/updated", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "file:///notes.md"));
    free(line);
    write_file("new.txt", "fresh");
    line = child_wait_for(&c, "notifications/resources/list_changed", 5000);
    assert_non_null(line);
    free(line);
    child_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///new.txt\"}}");
    line = child_wait_for(&c, "\"id\":3", 5000);
    assert_non_null(line);
    assert_non_null(strstr(line, "fresh"));
    free(line);
    assert_int_equal(child_finish(&c, 5000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core),
        cmocka_unit_test(test_binary_notices_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
