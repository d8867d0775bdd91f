/* The one-pass request reader (src/rpc/envelope_scan.c) against the general
 * path: mcp_rpc_parse_built tries the reader first, mcp_rpc_parse never
 * does, so on every text both must give the same message — kind, error,
 * id, method, and params with the same content. The texts are hand-made
 * cases, every prefix and many one-byte changes of typical requests, and
 * the JSONTestSuite files as params. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/rpc.h"
#include "rpc/envelope_built.h"
#include "rpc/envelope_scan.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool str_same(mcp_str a, mcp_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void canonical_of(mcp_arena *arena, mcp_json *v, mcp_buf *out)
{
    mcp_buf_reset(out);
    if (!v)
        return;
    v = mcp_json_expand(arena, v);
    assert_non_null(v);
    assert_int_equal(mcp_json_canonical(v, out), 0);
}

/* Both paths on text (with opts); fails the test on any difference. */
static void agree_with(const char *text, size_t len, const mcp_json_opts *opts)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_rpc_batch fast, general;
    assert_int_equal(mcp_rpc_parse_built(&arena, text, len, opts, &fast), 0);
    assert_int_equal(mcp_rpc_parse(&arena, text, len, opts, &general), 0);
    if (fast.error_code != general.error_code || fast.count != general.count || fast.is_batch != general.is_batch)
        fail_msg("paths differ on the whole text: %.*s", (int)len, text);
    if (fast.error_code)
        assert_string_equal(fast.error_message, general.error_message);
    mcp_buf a, b;
    mcp_buf_init(&a);
    mcp_buf_init(&b);
    for (size_t i = 0; i < fast.count; i++) {
        const mcp_rpc_message *f = &fast.items[i], *g = &general.items[i];
        if (f->kind != g->kind || f->error_code != g->error_code || f->id.type != g->id.type ||
            f->id.num != g->id.num || !str_same(f->id.text, g->id.text) || f->method_len != g->method_len ||
            (f->method == NULL) != (g->method == NULL) || (f->params == NULL) != (g->params == NULL) ||
            (f->result == NULL) != (g->result == NULL) || (f->error == NULL) != (g->error == NULL))
            fail_msg("paths differ on: %.*s", (int)len, text);
        if (f->method)
            assert_memory_equal(f->method, g->method, f->method_len + 1);
        if (f->error_message)
            assert_string_equal(f->error_message, g->error_message);
        if (f->params) {
            /* Built by one, RAW in the other: the same text and value. */
            assert_int_not_equal(mcp_json_type_of(f->params), MCP_JSON_RAW);
            assert_true(str_same(mcp_json_raw(f->params), mcp_json_raw(g->params)));
            canonical_of(&arena, f->params, &a);
            canonical_of(&arena, g->params, &b);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
        }
    }
    mcp_buf_free(&a);
    mcp_buf_free(&b);
    mcp_arena_free(&arena);
}

static void agree(const char *text)
{
    agree_with(text, strlen(text), NULL);
}

/* Whether the reader itself takes text (and not the general path). */
static bool reader_takes(const char *text)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_rpc_message m;
    int rc = mcp_rpc_scan_request(&arena, text, strlen(text), NULL, &m);
    mcp_arena_free(&arena);
    assert_true(rc >= 0);
    return rc == 1;
}

static const char *const CASES[] = {
    /* taken by the reader */
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}",
    "{\"method\":\"ping\",\"id\":\"abc\",\"jsonrpc\":\"2.0\"}",
    " \r\n\t{ \"jsonrpc\" : \"2.0\" , \"id\" : -0 , \"method\" : \"ping\" , \"params\" : [ 1 , 2 ] } \n",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":-123456789012345678,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"\",\"params\":{}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"a method name longer than sixteen bytes\",\"params\":[]}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"\\u00e9\\ud83d\\ude00 caf\xc3\xa9\"}}",
    /* left to the general path */
    "{\"jsonrpc\":\"2.0\",\"id\":1234567890123456789,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1e2,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":-,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"caf\xc3\xa9\",\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"bad\xc3\",\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"tab\there\",\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"t\\u006fols/call\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\\u0000y\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":5}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"s\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":null}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":}}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{}}x",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"} {}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"method\":\"y\"}",
    "{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{},\"params\":[]}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"extra\":true}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"idx\":1}",
    "{\"jsonrpc\":\"2.0\",\"i\\u0064\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\\u0000\",\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2\\u002e0\",\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"x\"}",
    "{\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,\"message\":\"m\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"result\":1}",
    "{}",
    "{",
    "",
    "   ",
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]",
    "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"\x0c}",
};

static void test_cases_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        agree(CASES[i]);
    /* The reader is really the one answering the usual forms. */
    assert_true(reader_takes(CASES[0]));
    assert_true(reader_takes(CASES[2]));
    assert_true(reader_takes(CASES[3]));
    assert_true(reader_takes(CASES[8]));
    assert_false(reader_takes(CASES[9]));
    assert_false(reader_takes("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}"));
}

static const char *const BASES[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":"
    "{\"text\":\"hello\"},\"_meta\":{\"progressToken\":\"p1\"}}}",
    "{\"method\":\"ping\",\"params\":[true,null,-1.5e3],\"jsonrpc\":\"2.0\",\"id\":\"r-1\"}",
};

/* Every prefix of each base, and each byte of it replaced by characters
 * that matter to the grammar. Each prefix sits in a heap block of exactly
 * its length, so that under AddressSanitizer a read past the end of the
 * text (as one past a key's opening quote at the very end was) fails. */
static void test_prefixes_and_changes_agree(void **state)
{
    (void)state;
    static const char subst[] = "\"\\{}[]:,0-9 .eax\x01\x80";
    for (size_t b = 0; b < sizeof BASES / sizeof BASES[0]; b++) {
        const char *base = BASES[b];
        size_t len = strlen(base);
        char *copy = malloc(len + 1);
        assert_non_null(copy);
        for (size_t n = 0; n <= len; n++) {
            char *prefix = malloc(n ? n : 1);
            assert_non_null(prefix);
            memcpy(prefix, base, n);
            agree_with(prefix, n, NULL);
            free(prefix);
        }
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k < sizeof subst - 1; k++) {
                memcpy(copy, base, len + 1);
                copy[i] = subst[k];
                agree_with(copy, len, NULL);
            }
        }
        free(copy);
    }
}

/* Random edits (replace, insert, delete, repeat a stretch), a few at a
 * time, of the bases: a fixed seed, so a failure is found again. */
static void test_random_edits_agree(void **state)
{
    (void)state;
    static const char alphabet[] = "\"\\{}[]:, \t\n0123456789-+.eEtrufalsn\x01\x7f\x80\xc3\xa9idmethodparamsjsonrpc2.0";
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char text[512];
    for (unsigned round = 0; round < 20000; round++) {
        const char *base = BASES[round % (sizeof BASES / sizeof BASES[0])];
        size_t len = strlen(base);
        memcpy(text, base, len);
        unsigned edits = 1 + round % 3;
        for (unsigned e = 0; e < edits; e++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            size_t at = (size_t)(seed % (len + 1));
            char c = alphabet[(seed >> 32) % (sizeof alphabet - 1)];
            switch ((seed >> 40) % 4) {
            case 0:
                if (at < len)
                    text[at] = c;
                break;
            case 1:
                if (len + 1 < sizeof text) {
                    memmove(text + at + 1, text + at, len - at);
                    text[at] = c;
                    len++;
                }
                break;
            case 2:
                if (at < len) {
                    memmove(text + at, text + at + 1, len - at - 1);
                    len--;
                }
                break;
            default: {
                size_t n = (size_t)((seed >> 48) % 12);
                if (at + n <= len && len + n < sizeof text) {
                    memmove(text + at + n, text + at, len - at);
                    len += n;
                }
                break;
            }
            }
        }
        agree_with(text, len, NULL);
    }
}

/* Limits are the whole message's, whichever path reads it. */
static void test_limits_agree(void **state)
{
    (void)state;
    const char *deep = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":{\"b\":[1]}}}";
    for (unsigned depth = 1; depth <= 5; depth++)
        agree_with(deep, strlen(deep), &(mcp_json_opts){.max_depth = depth});
    for (size_t size = strlen(deep) - 2; size <= strlen(deep) + 1; size++)
        agree_with(deep, strlen(deep), &(mcp_json_opts){.max_size = size});
    /* Depth 3 rejected, 4 accepted: the params object is at depth 2. */
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_rpc_batch out;
    assert_int_equal(mcp_rpc_parse_built(&arena, deep, strlen(deep), &(mcp_json_opts){.max_depth = 3}, &out), 0);
    assert_int_equal(out.error_code, MCP_RPC_INVALID_REQUEST);
    assert_int_equal(mcp_rpc_parse_built(&arena, deep, strlen(deep), &(mcp_json_opts){.max_depth = 4}, &out), 0);
    assert_int_equal(out.error_code, 0);
    assert_int_equal(out.items[0].kind, MCP_RPC_REQUEST);
    mcp_arena_free(&arena);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data)
        *len = (size_t)n;
    return data;
}

/* Each JSONTestSuite file as the params of a request: the reader's params
 * parse accepts and refuses exactly what the general parser does. */
static void test_suite_as_params_agrees(void **state)
{
    (void)state;
    const char *shared = getenv("MCP_SHARED_DATA");
    char dir_path[1024];
    snprintf(dir_path, sizeof dir_path, "%s/JSONTestSuite/test_parsing", shared ? shared : "../shared/data");
    DIR *dir = opendir(dir_path);
    if (!dir) {
        printf("SKIPPED: JSONTestSuite not found at %s (set MCP_SHARED_DATA)\n", dir_path);
        skip();
    }
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":";
    mcp_buf text;
    mcp_buf_init(&text);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        size_t len = 0;
        char *data = read_file(path, &len);
        if (!data)
            continue;
        mcp_buf_reset(&text);
        assert_int_equal(mcp_buf_append(&text, head, sizeof head - 1), 0);
        assert_int_equal(mcp_buf_append(&text, data, len), 0);
        assert_int_equal(mcp_buf_append_char(&text, '}'), 0);
        agree_with(text.data, text.len, NULL);
        free(data);
        files++;
    }
    closedir(dir);
    mcp_buf_free(&text);
    assert_true(files > 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_agree),
        cmocka_unit_test(test_prefixes_and_changes_agree),
        cmocka_unit_test(test_random_edits_agree),
        cmocka_unit_test(test_limits_agree),
        cmocka_unit_test(test_suite_as_params_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
