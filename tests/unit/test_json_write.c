/*
 * The json writer (escaping, separators, misuse, doubles), DOM
 * serialisation and the canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/json.h"

static mcp_arena arena;
static mcp_buf out;

static int setup(void **state) {
    (void)state;
    mcp_arena_init(&arena, 0);
    mcp_buf_init(&out);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mcp_arena_free(&arena);
    mcp_buf_free(&out);
    return 0;
}

static mcp_json *parse(const char *text) {
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), NULL, &doc, NULL), 0);
    return doc;
}

static void test_writer_structure(void **state) {
    (void)state;
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "a");
    mcp_json_write_int(&w, -12);
    mcp_json_write_key(&w, "b");
    mcp_json_begin_array(&w);
    mcp_json_write_uint(&w, UINT64_MAX);
    mcp_json_write_int(&w, INT64_MIN);
    mcp_json_write_bool(&w, true);
    mcp_json_write_bool(&w, false);
    mcp_json_write_null(&w);
    mcp_json_write_cstr(&w, NULL);
    mcp_json_begin_object(&w);
    mcp_json_end_object(&w);
    mcp_json_begin_array(&w);
    mcp_json_end_array(&w);
    mcp_json_write_raw(&w, "{\"r\":1}", 7);
    mcp_json_end_array(&w);
    mcp_json_write_key_n(&w, "c\"d", 3);
    mcp_json_write_string(&w, "x", 1);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"a\":-12,\"b\":[18446744073709551615,-9223372036854775808,true,false,null,"
                                  "null,{},[],{\"r\":1}],\"c\\\"d\":\"x\"}");
}

static void test_writer_misuse_is_sticky(void **state) {
    (void)state;
    mcp_json_writer w;
    /* A value in an object without a key. */
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_int(&w, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    size_t len = out.len;
    mcp_json_end_object(&w); /* no-op after the error */
    assert_int_equal(out.len, len);

    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    mcp_json_end_object(&w); /* wrong closer */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    mcp_json_writer_init(&w, &out);
    mcp_json_write_key(&w, "k"); /* key outside an object */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    mcp_json_writer_init(&w, &out);
    mcp_json_write_int(&w, 1);
    mcp_json_write_int(&w, 2); /* second top-level value */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "k");
    mcp_json_end_object(&w); /* key without value */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    mcp_json_writer_init(&w, &out);
    for (int i = 0; i < MCP_JSON_WRITER_MAX_DEPTH; i++) mcp_json_begin_array(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    mcp_json_begin_array(&w);
    assert_int_equal(mcp_json_writer_status(&w), MCP_ELIMIT);
}

static void test_escaping(void **state) {
    (void)state;
    const char in[] = "q\" b\\ s/ \b\f\n\r\t \x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 end";
    assert_int_equal(mcp_json_escape(&out, in, sizeof in - 1), 0);
    assert_string_equal(out.data, "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f \xc3\xa9 \xe2\x82\xac "
                                  "\xf0\x9f\x98\x80 end\"");

    /* NUL inside the length is escaped, not a terminator. */
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_escape(&out, "a\0b", 3), 0);
    assert_string_equal(out.data, "\"a\\u0000b\"");

    /* Invalid UTF-8 becomes U+FFFD so the output stays valid JSON. */
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_escape(&out, "a\xff" "b\xc0\xaf" "c\xe2\x82", 8), 0);
    assert_string_equal(out.data, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\"");

    /* Long clean runs (the eight-byte path) with escapes at every offset. */
    for (size_t at = 0; at < 40; at++) {
        char text[41];
        memset(text, 'x', 40);
        text[40] = '\0';
        text[at] = '\n';
        mcp_buf_reset(&out);
        assert_int_equal(mcp_json_escape(&out, text, 40), 0);
        assert_int_equal(out.len, 43);
        assert_memory_equal(out.data + 1 + at, "\\n", 2);
        mcp_json *back = parse(out.data);
        assert_string_equal(mcp_json_str(back, NULL), text);
    }
}

static void check_double(double d) {
    mcp_buf_reset(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_write_double(&w, d);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    mcp_json *back = parse(out.data);
    if (mcp_json_num(back, NAN) != d) fail_msg("%.17g wrote %s", d, out.data);
}

static void test_doubles(void **state) {
    (void)state;
    struct {
        double d;
        const char *text;
    } cases[] = {
        {0.1, "0.1"}, {1.5, "1.5"}, {-2.0, "-2"}, {1e21, "1e+21"}, {1.5e-7, "1.5e-7"},
        {0.30000000000000004, "0.30000000000000004"}, {123456.789, "123456.789"}, {-0.0, "0"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {1e100, "1e+100"},
        {9007199254740993.0, "9007199254740992"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcp_buf_reset(&out);
        mcp_json_writer w;
        mcp_json_writer_init(&w, &out);
        mcp_json_write_double(&w, cases[i].d);
        assert_string_equal(out.data, cases[i].text);
    }
    mcp_buf_reset(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    mcp_json_write_double(&w, NAN);
    mcp_json_write_double(&w, INFINITY);
    mcp_json_write_double(&w, -INFINITY);
    mcp_json_end_array(&w);
    assert_string_equal(out.data, "[null,null,null]");

    /* Round trip over a spread of values, each bit pattern exact. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d)) continue;
        check_double(d);
        check_double((double)(int64_t)(x >> 11) / 1000.0);
    }
}

static void test_write_value(void **state) {
    (void)state;
    const char *text = " { \"a\" : [ 1 , 2.50 , -0 , 1e400 , \"s\\u00e9\\n\" ] , \"b\" : { } , \"c\":[ true,false,null ] } ";
    mcp_json *doc = parse(text);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, doc);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    /* Compact; numbers and strings keep their source text, escapes included. */
    assert_string_equal(out.data, "{\"a\":[1,2.50,-0,1e400,\"s\\u00e9\\n\"],\"b\":{},\"c\":[true,false,null]}");
    /* Reading the string first changes nothing in what is written. */
    assert_string_equal(mcp_json_str(mcp_json_at(mcp_json_get(doc, "a"), 4), NULL), "s\xc3\xa9\n");
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, doc);
    assert_string_equal(out.data, "{\"a\":[1,2.50,-0,1e400,\"s\\u00e9\\n\"],\"b\":{},\"c\":[true,false,null]}");

    /* RAW nodes are copied as their source text, and mixing with the writer works. */
    mcp_json *lazy = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), &(mcp_json_opts){.lazy_depth = 1}, &lazy, NULL), 0);
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    mcp_json_write_value(&w, mcp_json_get(lazy, "b"));
    mcp_json_write_value(&w, NULL);
    mcp_json_write_value(&w, mcp_json_get(lazy, "c"));
    mcp_json_end_array(&w);
    assert_string_equal(out.data, "[{ },null,[ true,false,null ]]");

    /* Expanded RAW nodes keep their key: write the lazy object after expanding. */
    const char *msg = "{\"k\\u0041\":{\"x\":\"a\\tb\",\"y\":\"plain\"},\"z\":[1]}";
    assert_int_equal(mcp_json_parse(&arena, msg, strlen(msg), &(mcp_json_opts){.lazy_depth = 1}, &lazy, NULL), 0);
    for (mcp_json *m = mcp_json_first(lazy); m; m = mcp_json_next(m)) assert_non_null(mcp_json_expand(&arena, m));
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_write_value(&w, lazy);
    assert_string_equal(out.data, "{\"kA\":{\"x\":\"a\\tb\",\"y\":\"plain\"},\"z\":[1]}");
}

static void canonical_is(const char *text, const char *want) {
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_canonical(parse(text), &out), 0);
    if (strcmp(out.data, want) != 0) fail_msg("canonical of %s is %s, want %s", text, out.data, want);
}

static void test_canonical(void **state) {
    (void)state;
    canonical_is(" { \"b\" : 1 , \"a\" : [ 1.0 , 1e0, 100E-2, -0, 0.5, 1e21, \"x\" ] } ",
                 "{\"a\":[1,1,1,0,0.5,1e+21,\"x\"],\"b\":1}");
    canonical_is("{\"a\":1,\"a\":2,\"b\":{\"z\":null,\"y\":true}}", "{\"a\":2,\"b\":{\"y\":true,\"z\":null}}");
    canonical_is("{\"\":1,\"aa\":2,\"a\":3}", "{\"\":1,\"a\":3,\"aa\":2}");
    /* UTF-16 order: U+1F600 (surrogates D83D DE00) sorts before U+FB01 although
     * its code point is larger; U+00E9 before both. */
    canonical_is("{\"\xef\xac\x81\":1,\"\xf0\x9f\x98\x80\":2,\"\xc3\xa9\":3}",
                 "{\"\xc3\xa9\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\x81\":1}");
    canonical_is("\"\\u002f\\/\\u0007\"", "\"//\\u0007\"");
    canonical_is("123456789012345678901234567890", "1.2345678901234568e+29");
    canonical_is("-9223372036854775808", "-9223372036854775808");

    /* A lazily parsed document gives the same canonical form as an eager one. */
    const char *text = "{\"p\":{\"z\":[1,{\"y\":2,\"x\":3}],\"a\":\"b\"},\"id\":1}";
    mcp_json *lazy = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, strlen(text), &(mcp_json_opts){.lazy_depth = 1}, &lazy, NULL), 0);
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_canonical(lazy, &out), 0);
    assert_string_equal(out.data, "{\"id\":1,\"p\":{\"a\":\"b\",\"z\":[1,{\"x\":3,\"y\":2}]}}");
    mcp_buf_reset(&out);
    assert_int_equal(mcp_json_canonical(NULL, &out), 0);
    assert_string_equal(out.data, "null");
}

/* Constant keys skip the escaper; the output is the same as through it,
 * and the writer's rules (commas, a key only in an object) still hold. */
/* Objects begun with members given as text, and members whose value comes
 * in pieces: the same output as the same thing written step by step, and
 * the writer's rules still hold around them. */
static void test_heads_and_pieces(void **state) {
    (void)state;
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    const mcp_str head[2] = {{"\"jsonrpc\":\"2.0\",\"id\":", 21}, {"\"r-7\"", 5}};
    mcp_json_begin_object_with(&w, head, 2);
    MCP_JSON_KEY(&w, "result");
    mcp_json_begin_object_with(&w, NULL, 0); /* empty head: a plain '{' */
    const mcp_str items[3] = {{"[", 1}, {"{\"a\":1},2", 9}, {"]", 1}};
    mcp_json_write_member_pieces(&w, "content", 7, items, 3);
    const mcp_str none[2] = {{"[", 1}, {"]", 1}};
    mcp_json_write_member_pieces(&w, "empty", 5, none, 2);
    mcp_json_begin_array(&w);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL); /* an array where a key is due */
    mcp_json_writer_init(&w, &out);
    mcp_buf_reset(&out);
    mcp_json_begin_object_with(&w, head, 2);
    MCP_JSON_KEY(&w, "result");
    mcp_json_begin_object_with(&w, NULL, 0);
    mcp_json_write_member_pieces(&w, "content", 7, items, 3);
    mcp_json_write_member_pieces(&w, "empty", 5, none, 2);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data,
                        "{\"jsonrpc\":\"2.0\",\"id\":\"r-7\",\"result\":{\"content\":[{\"a\":1},2],\"empty\":[]}}");

    /* A head followed by ordinary members gets its comma; inside an array
     * the object is an element like any other. */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    mcp_json_write_int(&w, 1);
    const mcp_str type[1] = {{"\"type\":\"text\"", 13}};
    mcp_json_begin_object_with(&w, type, 1);
    MCP_JSON_KEY(&w, "text");
    mcp_json_write_cstr(&w, "hi");
    mcp_json_end_object(&w);
    mcp_json_end_array(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "[1,{\"type\":\"text\",\"text\":\"hi\"}]");

    /* Misuse: a piece that is NULL with a length, a head where a key is
     * due, pieces outside an object, a second top-level value. */
    const mcp_str broken[1] = {{NULL, 3}};
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object_with(&w, broken, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_member_pieces(&w, "k", 1, broken, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_begin_object_with(&w, type, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_write_member_pieces(&w, "k", 1, none, 2);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object_with(&w, type, 1);
    mcp_json_end_object(&w);
    mcp_json_begin_object_with(&w, type, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    /* Several objects opened by one text: members go into the innermost,
     * each is ended on its own. */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    const mcp_str open2[3] = {{"{\"jsonrpc\":\"2.0\",\"id\":", 22}, {"7", 1}, {",\"result\":{", 11}};
    mcp_json_open_objects(&w, open2, 3, 2);
    MCP_JSON_KEY(&w, "a");
    mcp_json_write_int(&w, 1);
    mcp_json_end_object(&w);
    MCP_JSON_KEY(&w, "b");
    mcp_json_write_bool(&w, false);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"a\":1},\"b\":false}");
    /* an empty last piece: whether a comma is due comes from the text
     * before it */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    const mcp_str open_empty[3] = {{"{\"r\":{", 6}, {"", 0}, {NULL, 0}};
    mcp_json_open_objects(&w, open_empty, 3, 2);
    MCP_JSON_KEY(&w, "y");
    mcp_json_write_int(&w, 2);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"r\":{\"y\":2}}");
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    const mcp_str member_empty[2] = {{"\"x\":0", 5}, {"", 0}};
    mcp_json_begin_object_with(&w, member_empty, 2);
    MCP_JSON_KEY(&w, "y");
    mcp_json_write_int(&w, 2);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"x\":0,\"y\":2}");
    /* ending with a member of the innermost: the next member gets a comma */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    const mcp_str open_member[1] = {{"{\"r\":{\"x\":0", 11}};
    mcp_json_open_objects(&w, open_member, 1, 2);
    MCP_JSON_KEY(&w, "y");
    mcp_json_write_int(&w, 2);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w); /* one too many */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    assert_string_equal(out.data, "{\"r\":{\"x\":0,\"y\":2}}");
    /* no text, or no object, is misuse */
    mcp_json_writer_init(&w, &out);
    mcp_json_open_objects(&w, NULL, 0, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_open_objects(&w, open2, 3, 0);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    /* Nesting is limited as for mcp_json_begin_object. */
    mcp_json_writer_init(&w, &out);
    for (unsigned i = 0; i < MCP_JSON_WRITER_MAX_DEPTH; i++) {
        mcp_json_begin_array(&w);
    }
    mcp_json_begin_object_with(&w, type, 1);
    assert_int_equal(mcp_json_writer_status(&w), MCP_ELIMIT);
    mcp_json_writer_init(&w, &out);
    for (unsigned i = 0; i + 1 < MCP_JSON_WRITER_MAX_DEPTH; i++) {
        mcp_json_begin_array(&w);
    }
    mcp_json_open_objects(&w, open2, 3, 2); /* room for one more level, not two */
    assert_int_equal(mcp_json_writer_status(&w), MCP_ELIMIT);
}

static void test_clean_keys(void **state) {
    (void)state;
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "jsonrpc");
    mcp_json_write_cstr(&w, "2.0");
    mcp_json_write_key_clean(&w, "id", 2);
    mcp_json_write_int(&w, 7);
    MCP_JSON_KEY(&w, "");
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "io.modelcontextprotocol/serverInfo");
    mcp_json_write_null(&w);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data,
                        "{\"jsonrpc\":\"2.0\",\"id\":7,\"\":{\"io.modelcontextprotocol/serverInfo\":null}}");

    /* Whole members: a constant key with a value that is JSON text, among
     * ordinary keys and values, commas where they belong. */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    MCP_JSON_MEMBER(&w, "jsonrpc", "\"2.0\"", 5);
    MCP_JSON_MEMBER(&w, "id", "17", 2);
    MCP_JSON_KEY(&w, "result");
    mcp_json_begin_object(&w);
    MCP_JSON_MEMBER(&w, "list", "[1,2]", 5);
    mcp_json_end_object(&w);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"jsonrpc\":\"2.0\",\"id\":17,\"result\":{\"list\":[1,2]}}");
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    MCP_JSON_MEMBER(&w, "k", "1", 1); /* a member in an array */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "a");
    MCP_JSON_MEMBER(&w, "b", "1", 1); /* a member where a value is due */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);

    /* Plain keys given to mcp_json_write_key take the same short cut; keys
     * that need escapes still get them. */
    mcp_buf_reset(&out);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "plain key");
    mcp_json_write_int(&w, 1);
    mcp_json_write_key_n(&w, "tab\there\x01", 9);
    mcp_json_write_int(&w, 2);
    mcp_json_write_key(&w, "caf\xC3\xA9");
    mcp_json_write_int(&w, 3);
    mcp_json_end_object(&w);
    assert_int_equal(mcp_json_writer_status(&w), 0);
    assert_string_equal(out.data, "{\"plain key\":1,\"tab\\there\\u0001\":2,\"caf\xC3\xA9\":3}");

    /* Misuse is refused as with any key. */
    mcp_json_writer_init(&w, &out);
    MCP_JSON_KEY(&w, "k"); /* outside an object */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    MCP_JSON_KEY(&w, "k"); /* in an array */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    MCP_JSON_KEY(&w, "a");
    MCP_JSON_KEY(&w, "b"); /* two keys in a row */
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
#ifndef NDEBUG
    /* A debug build holds the caller to the promise. */
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_object(&w);
    mcp_json_write_key_clean(&w, "a\"b", 3);
    assert_int_equal(mcp_json_writer_status(&w), MCP_EINVAL);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_misuse_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heads_and_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonical, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
