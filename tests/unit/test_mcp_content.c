/* Content and metadata: icons, _meta and annotations on definitions passed
 * through unchanged, typed content blocks (embedded resources, annotated
 * blocks), serverInfo icons and websiteUrl, and the modern cache hints per
 * server and per resource. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_mcp_util.h"

#define ICONS "[{\"src\":\"https://example.com/i.png\",\"mimeType\":\"image/png\",\"sizes\":[\"48x48\"]}]"

static int blocks(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    assert_int_equal(mcp_call_annotate(call, "{\"priority\":1}"), MCP_EINVAL); /* nothing to annotate yet */
    mcp_call_text(call, "hello");
    assert_int_equal(mcp_call_annotate(call, "{\"audience\":[\"user\"],\"priority\":0.5}"), 0);
    mcp_call_image(call, "aGk=", "image/png");
    mcp_call_audio(call, "aGk=", "audio/wav");
    mcp_call_resource_link(call, "file:///a.txt", "a", "text/plain");
    mcp_call_embedded_text(call, "file:///b.txt", "text/plain", "bee", 3);
    assert_int_equal(mcp_call_annotate(call, "{\"lastModified\":\"2025-01-01T00:00:00Z\"}"), 0);
    mcp_call_embedded_blob(call, "file:///c.bin", "application/octet-stream", "AAE=");
    assert_int_equal(mcp_call_annotate(call, "[1]"), MCP_EINVAL);
    assert_int_equal(mcp_call_annotate(call, "{bad"), MCP_EINVAL);
    return mcp_call_content_json(call, "{\"type\":\"text\",\"text\":\"raw\",\"_meta\":{\"x\":1}}");
}

/* Forwards its argument's text as the request wrote it. */
static int forward(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    assert_int_equal(mcp_call_text_value(call, mcp_json_get(args, "n")), MCP_EINVAL); /* not a string */
    assert_int_equal(mcp_call_text_value(call, NULL), MCP_EINVAL);
    return mcp_call_text_value(call, mcp_json_get(args, "text"));
}

/* A request's text kept by reference as the first block, then other blocks
 * after it: each must find the first block written out before them. */
static int text_then_more(mcp_call *call, const mcp_json *args, void *user)
{
    (void)user;
    const mcp_json *text = mcp_json_get(args, "text");
    const char *then = mcp_json_str(mcp_json_get(args, "then"), "");
    int rc = mcp_call_text_value(call, text);
    if (rc)
        return rc;
    if (!strcmp(then, "annotate"))
        return mcp_call_annotate(call, "{\"priority\":0.25}");
    if (!strcmp(then, "again"))
        return mcp_call_text_value(call, text);
    if (!strcmp(then, "json"))
        return mcp_call_content_json(call, "{\"type\":\"text\",\"text\":\"j\"}");
    if (!strcmp(then, "structured"))
        return mcp_call_structured(call, "{\"k\":1}");
    if (!strcmp(then, "error"))
        return mcp_call_tool_error(call, "%s", "failed");
    if (!strcmp(then, "image"))
        return mcp_call_image(call, "aGk=", "image/png");
    return 0;
}

/* Text from JSON the handler parsed itself and frees before it returns:
 * not the call's to keep, so it must be copied. */
static int text_of_own_json(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    static const char own[] = "{\"t\":\"mine, then gone\"}";
    char *text = malloc(sizeof own);
    if (!text)
        return MCP_ENOMEM;
    memcpy(text, own, sizeof own);
    mcp_arena mine;
    mcp_arena_init(&mine, 256);
    mcp_json *doc = NULL;
    int rc = mcp_json_parse(&mine, text, sizeof own - 1, NULL, &doc, NULL);
    if (!rc)
        rc = mcp_call_text_value(call, mcp_json_get(doc, "t"));
    mcp_arena_free(&mine);
    memset(text, 'x', sizeof own - 1); /* what a reference would read now */
    free(text);
    return rc;
}

/* Text parsed from scratch memory of the call's arena that the handler
 * reuses, then scribbles on, before it returns: the handler's to change,
 * so each block must be copied when it is added. */
static int text_of_scratch(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    char *scratch = mcp_arena_alloc(mcp_call_arena(call), 64);
    if (!scratch)
        return MCP_ENOMEM;
    static const char *const lines[] = {"{\"t\":\"first\"}", "{\"t\":\"other!\"}"};
    int rc = 0;
    for (size_t i = 0; i < 2 && !rc; i++) {
        mcp_arena tree;
        mcp_arena_init(&tree, 256);
        size_t n = strlen(lines[i]);
        memcpy(scratch, lines[i], n + 1);
        mcp_json *doc = NULL;
        rc = mcp_json_parse(&tree, scratch, n, NULL, &doc, NULL);
        if (!rc)
            rc = mcp_call_text_value(call, mcp_json_get(doc, "t"));
        mcp_arena_free(&tree);
    }
    memset(scratch, 'z', 63);
    return rc;
}

/* mcp_call_text's forms: a literal, "%s" of a string (which takes no
 * formatting, so a % in it stays), "%%" and a real format. */
static int formats(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    int rc = mcp_call_text(call, "plain \"quoted\"");
    if (!rc) rc = mcp_call_text(call, "%s", "as is: %d");
    if (!rc) rc = mcp_call_text(call, "100%%");
    if (!rc) rc = mcp_call_text(call, "%s=%d", "n", 7);
    return rc;
}

static int read_it(mcp_call *call, const char *uri, void *user)
{
    (void)user;
    return mcp_call_resource_text(call, uri, "text/plain", "x", 1);
}

static int prompt(mcp_call *call, const mcp_json *args, void *user)
{
    (void)args, (void)user;
    mcp_call_prompt_message(call, "user", "look");
    return mcp_call_annotate(call, "{\"priority\":0.9}");
}

static fixture *setup_server(void)
{
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1", .icons = ICONS,
                                                .website_url = "https://example.com", .ttl_ms = 5000,
                                                .cache_scope = "public"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "blocks", .fn = blocks, .icons = ICONS,
                                                                 .meta = "{\"vendor/x\":true}"}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){
        .uri = "x://cached", .name = "cached", .fn = read_it, .icons = ICONS, .size = 1,
        .annotations = "{\"audience\":[\"assistant\"]}", .meta = "{\"k\":\"v\"}", .ttl_ms = 60000,
        .cache_scope = "private"}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://default", .name = "d", .fn = read_it}), 0);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://never", .name = "n", .fn = read_it,
                                                                         .ttl_ms = -1}), 0);
    assert_int_equal(mcp_server_add_resource_template(f->server, &(mcp_resource_template){
        .uri_template = "x://t/{id}", .name = "t", .fn = read_it, .icons = ICONS, .annotations = "{\"priority\":1}"}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "forward", .fn = forward}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "more", .fn = text_then_more}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "own", .fn = text_of_own_json}), 0);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "scratch", .fn = text_of_scratch}), 0);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p", .fn = prompt, .icons = ICONS,
                                                                     .meta = "{\"m\":1}"}), 0);
    return f;
}

static void test_definitions_carry_icons_meta_annotations(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    const mcp_json *tool = mcp_json_at(mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}")), "tools"), 0);
    assert_string_equal(str_at(mcp_json_at(mcp_json_get(tool, "icons"), 0), "src"), "https://example.com/i.png");
    assert_true(mcp_json_bool(mcp_json_get(mcp_json_get(tool, "_meta"), "vendor/x"), false));
    const mcp_json *res = mcp_json_at(mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\"}")), "resources"), 0);
    assert_int_equal(mcp_json_int(mcp_json_get(res, "size"), -1), 1);
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(mcp_json_get(res, "annotations"), "audience"), 0), ""), "assistant");
    assert_string_equal(str_at(mcp_json_get(res, "_meta"), "k"), "v");
    assert_non_null(mcp_json_get(res, "icons"));
    const mcp_json *tmpl = mcp_json_at(mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/templates/list\"}")), "resourceTemplates"), 0);
    assert_non_null(mcp_json_get(tmpl, "icons"));
    assert_non_null(mcp_json_get(tmpl, "annotations"));
    const mcp_json *p = mcp_json_at(mcp_json_get(result_of(roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/list\"}")), "prompts"), 0);
    assert_non_null(mcp_json_get(p, "icons"));
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(p, "_meta"), "m"), 0), 1);
    fixture_free(f);
}

static void test_content_blocks(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    const mcp_json *content = mcp_json_get(result_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"blocks\"}}")), "content");
    assert_int_equal(mcp_json_len(content), 7);
    const mcp_json *text = mcp_json_at(content, 0);
    assert_string_equal(str_at(text, "text"), "hello");
    assert_true(mcp_json_num(mcp_json_get(mcp_json_get(text, "annotations"), "priority"), 0) == 0.5);
    assert_string_equal(str_at(mcp_json_at(content, 1), "type"), "image");
    assert_string_equal(str_at(mcp_json_at(content, 2), "type"), "audio");
    assert_string_equal(str_at(mcp_json_at(content, 3), "type"), "resource_link");
    const mcp_json *embedded = mcp_json_at(content, 4);
    assert_string_equal(str_at(embedded, "type"), "resource");
    assert_string_equal(str_at(mcp_json_get(embedded, "resource"), "text"), "bee");
    assert_string_equal(str_at(mcp_json_get(embedded, "annotations"), "lastModified"), "2025-01-01T00:00:00Z");
    assert_string_equal(str_at(mcp_json_get(mcp_json_at(content, 5), "resource"), "blob"), "AAE=");
    assert_null(mcp_json_get(mcp_json_at(content, 5), "annotations"));
    assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(mcp_json_at(content, 6), "_meta"), "x"), 0), 1);

    const mcp_json *msg = mcp_json_at(mcp_json_get(result_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\"}}")), "messages"), 0);
    assert_true(mcp_json_num(mcp_json_get(mcp_json_get(mcp_json_get(msg, "content"), "annotations"), "priority"), 0) == 0.9);
    assert_null(mcp_json_get(msg, "annotations"));
    fixture_free(f);
}

/* mcp_call_text_value keeps the escapes of the request's text: the same
 * string, neither decoded nor escaped again. */
static void test_text_forwarded_as_written(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"forward\",\"arguments\":{\"n\":1,\"text\":\"a\\\"b\\u00e9\\n\\/\"}}}");
    const mcp_json *content = mcp_json_get(result_of(doc), "content");
    assert_int_equal(mcp_json_len(content), 1);
    const mcp_json *text = mcp_json_get(mcp_json_at(content, 0), "text");
    mcp_str raw = mcp_json_raw(text);
    assert_int_equal(raw.len, strlen("\"a\\\"b\\u00e9\\n\\/\""));
    assert_memory_equal(raw.ptr, "\"a\\\"b\\u00e9\\n\\/\"", raw.len);
    assert_string_equal(mcp_json_str(text, ""), "a\"b\xc3\xa9\n/");
    fixture_free(f);
}

/* The request's text as the only block goes out by reference: the reply is
 * byte for byte what writing the block would give, in both eras. */
static void test_text_by_reference_exact_bytes(void **state)
{
    (void)state;
    fixture *f = setup_server();
    roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"more\","
                 "\"arguments\":{\"text\":\"a\\\"b\\u00e9\"}," MODERN_META "}}");
    assert_string_equal(f->cap.messages[0],
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":"
                        "\"text\",\"text\":\"a\\\"b\\u00e9\"}],\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":"
                        "\"t\",\"version\":\"1\",\"icons\":" ICONS ",\"websiteUrl\":\"https://example.com\"}}}}");
    handshake(f, "2025-11-25", "{}");
    roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"tools/call\",\"params\":{\"name\":\"more\","
                 "\"arguments\":{\"text\":\"x\"}}}");
    assert_string_equal(f->cap.messages[0],
                        "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}");
    fixture_free(f);
}

/* Whatever follows a block kept by reference finds it written first. */
static void test_text_by_reference_then_more(void **state)
{
    (void)state;
    fixture *f = setup_server();
    handshake(f, "2025-11-25", "{}");
    char req[256];
    static const char *const thens[] = {"annotate", "again", "json", "structured", "error", "image"};
    for (size_t i = 0; i < sizeof thens / sizeof thens[0]; i++) {
        snprintf(req, sizeof req,
                 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":{\"name\":\"more\","
                 "\"arguments\":{\"text\":\"first\",\"then\":\"%s\"}}}", i + 1, thens[i]);
        const mcp_json *result = result_of(roundtrip(f, req));
        const mcp_json *content = mcp_json_get(result, "content");
        assert_string_equal(str_at(mcp_json_at(content, 0), "type"), "text");
        assert_string_equal(str_at(mcp_json_at(content, 0), "text"), "first");
        const char *then = thens[i];
        if (!strcmp(then, "annotate")) {
            assert_int_equal(mcp_json_len(content), 1);
            assert_true(mcp_json_num(mcp_json_get(mcp_json_get(mcp_json_at(content, 0), "annotations"), "priority"), 0) == 0.25);
        } else if (!strcmp(then, "structured")) {
            assert_int_equal(mcp_json_len(content), 1);
            assert_int_equal(mcp_json_int(mcp_json_get(mcp_json_get(result, "structuredContent"), "k"), 0), 1);
        } else {
            assert_int_equal(mcp_json_len(content), 2);
            const mcp_json *second = mcp_json_at(content, 1);
            if (!strcmp(then, "again"))
                assert_string_equal(str_at(second, "text"), "first");
            else if (!strcmp(then, "json"))
                assert_string_equal(str_at(second, "text"), "j");
            else if (!strcmp(then, "image"))
                assert_string_equal(str_at(second, "type"), "image");
            else {
                assert_string_equal(str_at(second, "text"), "failed");
                assert_true(mcp_json_bool(mcp_json_get(result, "isError"), false));
            }
        }
    }
    /* Text the call does not own is copied: the handler's arena is gone
     * before the reply is written (the sanitizers watch that read). */
    const mcp_json *content = mcp_json_get(result_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"own\"}}")), "content");
    assert_int_equal(mcp_json_len(content), 1);
    assert_string_equal(str_at(mcp_json_at(content, 0), "text"), "mine, then gone");
    /* Nor text in the call's arena that the handler may rewrite. */
    content = mcp_json_get(result_of(roundtrip(f,
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"scratch\"}}")), "content");
    assert_int_equal(mcp_json_len(content), 2);
    assert_string_equal(str_at(mcp_json_at(content, 0), "text"), "first");
    assert_string_equal(str_at(mcp_json_at(content, 1), "text"), "other!");
    fixture_free(f);
}

static void test_text_formats(void **state)
{
    (void)state;
    fixture *f = setup_server();
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "formats", .fn = formats}), 0);
    handshake(f, "2025-11-25", "{}");
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                                 "\"formats\",\"arguments\":{}}}");
    const mcp_json *content = mcp_json_get(result_of(doc), "content");
    static const char *const want[] = {"plain \"quoted\"", "as is: %d", "100%", "n=7"};
    assert_int_equal(mcp_json_len(content), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(mcp_json_str(mcp_json_get(mcp_json_at(content, i), "text"), ""), want[i]);
    fixture_free(f);
}

static void test_server_info_and_cache_hints(void **state)
{
    (void)state;
    fixture *f = setup_server();
    mcp_json *doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"x://cached\"," MODERN_META "}}");
    assert_int_equal(mcp_json_int(mcp_json_get(result_of(doc), "ttlMs"), -1), 60000);
    assert_string_equal(str_at(result_of(doc), "cacheScope"), "private");
    const mcp_json *info = mcp_json_get(mcp_json_get(result_of(doc), "_meta"), "io.modelcontextprotocol/serverInfo");
    assert_string_equal(str_at(info, "websiteUrl"), "https://example.com");
    assert_non_null(mcp_json_get(info, "icons"));
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"x://default\"," MODERN_META "}}");
    assert_int_equal(mcp_json_int(mcp_json_get(result_of(doc), "ttlMs"), -1), 5000);
    assert_string_equal(str_at(result_of(doc), "cacheScope"), "public");
    /* Never cached by the server: clients are told not to keep it either. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":\"x://never\"," MODERN_META "}}");
    assert_int_equal(mcp_json_int(mcp_json_get(result_of(doc), "ttlMs"), -1), 0);
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}");
    assert_int_equal(mcp_json_int(mcp_json_get(result_of(doc), "ttlMs"), -1), 5000);
    assert_string_equal(str_at(result_of(doc), "cacheScope"), "public");

    /* Older revisions have neither icons nor websiteUrl in serverInfo. */
    doc = roundtrip(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    info = mcp_json_get(result_of(doc), "serverInfo");
    assert_null(mcp_json_get(info, "icons"));
    assert_null(mcp_json_get(info, "websiteUrl"));
    fixture_free(f);
}

static void test_bad_definitions_are_refused(void **state)
{
    (void)state;
    assert_null(mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .cache_scope = "shared"}));
    assert_null(mcp_server_new(&(mcp_server_opts){.name = "t", .version = "1", .icons = "{}"}));
    fixture *f = fixture_new(&(mcp_server_opts){.name = "t", .version = "1"});
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "a", .fn = blocks, .icons = "{\"src\":1}"}), MCP_EINVAL);
    assert_int_equal(mcp_server_add_tool(f->server, &(mcp_tool){.name = "a", .fn = blocks, .meta = "[]"}), MCP_EINVAL);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://a", .name = "a", .fn = read_it,
                                                                         .cache_scope = "everyone"}), MCP_EINVAL);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://a", .name = "a", .fn = read_it,
                                                                         .annotations = "[1"}), MCP_EINVAL);
    assert_int_equal(mcp_server_add_resource(f->server, &(mcp_resource){.uri = "x://a", .name = "a", .fn = read_it,
                                                                         .size = -1}), MCP_EINVAL);
    assert_int_equal(mcp_server_add_prompt(f->server, &(mcp_prompt){.name = "p", .icons = "null"}), MCP_EINVAL);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definitions_carry_icons_meta_annotations),
        cmocka_unit_test(test_content_blocks),
        cmocka_unit_test(test_text_forwarded_as_written),
        cmocka_unit_test(test_text_by_reference_exact_bytes),
        cmocka_unit_test(test_text_by_reference_then_more),
        cmocka_unit_test(test_text_formats),
        cmocka_unit_test(test_server_info_and_cache_hints),
        cmocka_unit_test(test_bad_definitions_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
