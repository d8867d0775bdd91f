/*
 * test_client_pending.c — the client with many requests in flight (as the
 * batcher keeps them): replies in any order find their request through the
 * id index, cancels, timeouts and duplicate replies keep it consistent, and
 * handshake-era requests are written straight into the buffer byte for byte.
 * The peer is scripted in memory, with a clock the test controls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/client.h"
#include "mcp/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull
#define MANY 3000

typedef struct peer {
    char last[512];
    size_t count;
} peer;

static int peer_write(void *user, const char *message, size_t len)
{
    peer *p = user;
    snprintf(p->last, sizeof p->last, "%.*s", (int)len, message);
    p->count++;
    return 0;
}

typedef struct outcome {
    int calls;
    int status;
    int64_t id;
    int64_t echoed;  /* result.n, -1 when none */
} outcome;

static void on_done(void *user, int status, const mcp_json *value, int64_t id)
{
    outcome *o = user;
    o->calls++;
    o->status = status;
    o->id = id;
    o->echoed = mcp_json_int(mcp_json_get(value, "n"), -1);
}

static void feed(mcp_client *c, const char *text)
{
    assert_int_equal(mcp_client_handle(c, text, strlen(text)), 0);
}

/* A client made ready in the 2025-03-26 handshake era, caching nothing, as
 * the batcher configures its clients. */
static mcp_client *handshake_ready(peer *p, bool no_cache)
{
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .protocol_version = "2025-03-26",
        .timeout_ms = 1000,
        .no_cache = no_cache,
        .sink = {peer_write, p},
    });
    assert_non_null(c);
    mcp_client_tick(c, 1000 * MS);
    assert_int_equal(mcp_client_start(c, NULL, NULL), 0);
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-03-26\","
            "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}");
    assert_true(mcp_client_is_ready(c));
    return c;
}

static void reply(mcp_client *c, int64_t id, int64_t n)
{
    char text[128];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"n\":%lld}}", (long long)id,
             (long long)n);
    feed(c, text);
}

/* Thousands in flight, answered in a scrambled order (some inside one batch
 * array), some cancelled first, some answered twice, some ids never sent:
 * every request completes once, with its own result. */
static void test_many_in_flight_any_order(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, true);
    outcome *o = calloc(MANY, sizeof *o);
    int64_t *ids = calloc(MANY, sizeof *ids);
    assert_non_null(o);
    assert_non_null(ids);
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"small\",\"arguments\":{\"x\":1}}", NULL,
                                            on_done, &o[i], &ids[i]),
                         0);
    assert_int_equal(mcp_client_pending_count(c), MANY);
    for (size_t i = 0; i < MANY; i++)
        assert_true(mcp_client_is_pending(c, ids[i]));
    assert_false(mcp_client_is_pending(c, ids[MANY - 1] + 1));

    /* Every seventh is cancelled before its reply. */
    size_t cancelled = 0;
    for (size_t i = 0; i < MANY; i += 7, cancelled++)
        assert_int_equal(mcp_client_cancel(c, ids[i], "not needed"), 0);
    assert_int_equal(mcp_client_cancel(c, ids[0], "again"), MCP_ENOTFOUND);
    assert_int_equal(mcp_client_pending_count(c), MANY - cancelled);

    /* Replies in the order 1009 * k mod MANY (1009 is prime to 3000), the
     * first 64 of them as one batch array. */
    char *array = malloc(64 * 64 + 2);
    assert_non_null(array);
    size_t at = 0;
    array[at++] = '[';
    for (size_t k = 0; k < MANY; k++) {
        size_t i = (k * 1009) % MANY;
        if (k < 64) {
            at += (size_t)snprintf(array + at, 64, "%s{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"n\":%zu}}",
                                   k ? "," : "", (long long)ids[i], i);
            continue;
        }
        if (k == 64) {
            array[at++] = ']';
            array[at] = '\0';
            feed(c, array);
        }
        reply(c, ids[i], (int64_t)i);
    }
    free(array);
    assert_int_equal(mcp_client_pending_count(c), 0);
    for (size_t i = 0; i < MANY; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].id, ids[i]);
        if (i % 7 == 0) {
            assert_int_equal(o[i].status, MCP_ECANCELED);
        } else {
            assert_int_equal(o[i].status, 0);
            assert_int_equal(o[i].echoed, (int64_t)i);
        }
    }
    /* Late and unknown replies are counted and change nothing. */
    reply(c, ids[5], 5);
    reply(c, ids[MANY - 1] + 100, 0);
    mcp_client_counters k;
    mcp_client_get_counters(c, &k);
    assert_int_equal(k.unmatched, cancelled + 2);
    assert_int_equal(o[5].calls, 1);
    free(o);
    free(ids);
    mcp_client_free(c);
}

/* The index survives growth with requests in flight, and removals from the
 * middle of a probe run: requests answered alternately from both ends. */
static void test_index_growth_and_removal(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, true);
    outcome o[200] = {{0}};
    int64_t ids[200];
    for (size_t round = 0; round < 3; round++) {
        memset(o, 0, sizeof o);
        for (size_t i = 0; i < 200; i++)
            assert_int_equal(mcp_client_request(c, "tools/list", NULL, NULL, on_done, &o[i], &ids[i]), 0);
        for (size_t i = 0; i < 100; i++) {
            reply(c, ids[i], (int64_t)i);
            reply(c, ids[199 - i], (int64_t)(199 - i));
            assert_int_equal(mcp_client_pending_count(c), 198 - 2 * i);
        }
        for (size_t i = 0; i < 200; i++) {
            assert_int_equal(o[i].calls, 1);
            assert_int_equal(o[i].echoed, (int64_t)i);
        }
    }
    mcp_client_free(c);
}

/* Survivors spread over a wide range of ids (every 37th of 20,000 left
 * waiting while the others are answered at once) share index slots and
 * probe runs; answered in a scrambled order, each still finds its request. */
static void test_sparse_survivors(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, true);
    enum { TOTAL = 20000, STRIDE = 37, KEPT = (TOTAL + STRIDE - 1) / STRIDE };
    static outcome kept[KEPT];
    int64_t kept_ids[KEPT];
    outcome quick = {0};
    for (size_t i = 0; i < TOTAL; i++) {
        int64_t id;
        bool keep = i % STRIDE == 0;
        assert_int_equal(mcp_client_request(c, "tools/list", NULL, NULL, on_done,
                                            keep ? &kept[i / STRIDE] : &quick, &id),
                         0);
        if (keep)
            kept_ids[i / STRIDE] = id;
        else
            reply(c, id, -2);
    }
    assert_int_equal(quick.calls, TOTAL - KEPT);
    assert_int_equal(mcp_client_pending_count(c), KEPT);
    for (size_t k = 0; k < KEPT; k++) {
        size_t i = (k * 331) % KEPT; /* 331 is prime to KEPT (541) */
        assert_true(mcp_client_is_pending(c, kept_ids[i]));
        reply(c, kept_ids[i], (int64_t)i);
        assert_false(mcp_client_is_pending(c, kept_ids[i]));
    }
    for (size_t i = 0; i < KEPT; i++) {
        assert_int_equal(kept[i].calls, 1);
        assert_int_equal(kept[i].echoed, (int64_t)i);
    }
    assert_int_equal(mcp_client_pending_count(c), 0);
    mcp_client_free(c);
}

/* A tick that found nothing due must not hide a shorter deadline added
 * after it; and with many waiting, exactly the expired ones time out. */
static void test_timeouts_among_many(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, true);
    outcome slow = {0}, quick = {0};
    int64_t slow_id, quick_id;
    assert_int_equal(mcp_client_request(c, "tools/list", NULL, &(mcp_client_request_opts){.timeout_ms = 1000},
                                        on_done, &slow, &slow_id),
                     0);
    mcp_client_tick(c, 1500 * MS);
    assert_int_equal(slow.calls, 0);
    assert_int_equal(mcp_client_request(c, "tools/list", NULL, &(mcp_client_request_opts){.timeout_ms = 100},
                                        on_done, &quick, &quick_id),
                     0);
    mcp_client_tick(c, 1601 * MS);
    assert_int_equal(quick.calls, 1);
    assert_int_equal(quick.status, MCP_ETIMEDOUT);
    assert_int_equal(slow.calls, 0);
    /* Telling the server we gave up. */
    assert_non_null(strstr(p.last, "notifications/cancelled"));
    mcp_client_tick(c, 2001 * MS);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, MCP_ETIMEDOUT);

    /* 500 waiting with timeouts of 100..599 ms from 3000 ms: at 3350 ms the
     * first 250 have expired, the rest are still pending and answerable. */
    mcp_client_tick(c, 3000 * MS);
    static outcome many[500];
    int64_t ids[500];
    for (size_t i = 0; i < 500; i++)
        assert_int_equal(mcp_client_request(c, "tools/list", NULL,
                                            &(mcp_client_request_opts){.timeout_ms = (unsigned)(100 + i)},
                                            on_done, &many[i], &ids[i]),
                         0);
    mcp_client_tick(c, 3349 * MS + MS / 2);
    assert_int_equal(mcp_client_pending_count(c), 250);
    for (size_t i = 0; i < 500; i++) {
        assert_int_equal(many[i].calls, i < 250 ? 1 : 0);
        if (i < 250)
            assert_int_equal(many[i].status, MCP_ETIMEDOUT);
        else
            assert_true(mcp_client_is_pending(c, ids[i]));
    }
    for (size_t i = 250; i < 500; i++)
        reply(c, ids[i], (int64_t)i);
    for (size_t i = 250; i < 500; i++) {
        assert_int_equal(many[i].status, 0);
        assert_int_equal(many[i].echoed, (int64_t)i);
    }
    mcp_client_counters k;
    mcp_client_get_counters(c, &k);
    assert_int_equal(k.timeouts, 252);
    mcp_client_free(c);
}

/* Handshake-era requests: the envelope is written directly, params byte for
 * byte; bad params are refused before anything is sent or kept. */
static void test_handshake_request_text(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, false);
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(c, "tools/call", " {\"name\": \"a\\u00e9\", \"arguments\":{}}\n", NULL,
                                        on_done, &o, &id),
                     0);
    char want[256];
    snprintf(want, sizeof want,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/call\",\"params\": {\"name\": \"a\\u00e9\", "
             "\"arguments\":{}}\n}",
             (long long)id);
    assert_string_equal(p.last, want);
    assert_int_equal(mcp_client_request(c, "tools/list", NULL, NULL, on_done, &o, &id), 0);
    snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/list\"}", (long long)id);
    assert_string_equal(p.last, want);

    /* A method that needs escaping still goes out as valid JSON. */
    assert_int_equal(mcp_client_request(c, "x/\"q\"\\\xc3\xa9\n", "{}", NULL, on_done, &o, &id), 0);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, p.last, strlen(p.last), NULL, &doc, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "method"), ""), "x/\"q\"\\\xc3\xa9\n");
    assert_true(mcp_json_is_object(mcp_json_get(doc, "params")));
    mcp_arena_free(&arena);

    size_t sent = p.count, pending = mcp_client_pending_count(c);
    static const char *bad[] = {"[1]", "\"text\"", "{\"a\":}", "{\"a\":1} x", "", "  ", "{\"a\":1,}", "{\"a\":\"\x01\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_client_request(c, "tools/call", bad[i], NULL, on_done, &o, NULL), MCP_EINVAL);
    assert_int_equal(mcp_client_request(c, NULL, "{}", NULL, on_done, &o, NULL), MCP_EINVAL);
    assert_int_equal(p.count, sent);
    assert_int_equal(mcp_client_pending_count(c), pending);
    mcp_client_free(c);
}

/* A client made ready in the modern era by a discover round trip. */
static mcp_client *modern_ready(peer *p)
{
    mcp_client *c = mcp_client_new(&(mcp_client_opts){
        .name = "tester",
        .version = "9.9",
        .log_level = "info",
        .no_cache = true,
        .sink = {peer_write, p},
    });
    assert_non_null(c);
    mcp_client_tick(c, 1000 * MS);
    assert_int_equal(mcp_client_start(c, NULL, NULL), 0);
    feed(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\","
            "\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{}}}}");
    assert_true(mcp_client_is_ready(c));
    return c;
}

/* The params of the last request sent, parsed into arena. */
static const mcp_json *last_params(peer *p, mcp_arena *arena)
{
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(arena, p->last, strlen(p->last), NULL, &doc, NULL), 0);
    return mcp_json_get(doc, "params");
}

static void assert_modern_meta(const mcp_json *meta)
{
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "io.modelcontextprotocol/protocolVersion"), ""),
                        "2026-07-28");
    const mcp_json *info = mcp_json_get(meta, "io.modelcontextprotocol/clientInfo");
    assert_string_equal(mcp_json_str(mcp_json_get(info, "name"), ""), "tester");
    assert_string_equal(mcp_json_str(mcp_json_get(info, "version"), ""), "9.9");
    assert_true(mcp_json_is_object(mcp_json_get(meta, "io.modelcontextprotocol/clientCapabilities")));
    assert_string_equal(mcp_json_str(mcp_json_get(meta, "io.modelcontextprotocol/logLevel"), ""), "info");
}

/* Modern-era requests: our _meta leads, the caller's members follow as
 * given; a caller's own _meta is merged (ours win); progress adds the
 * token; bad params are refused, nothing sent. Every request, not only the
 * first, carries the same _meta. */
static void test_modern_request_text(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = modern_ready(&p);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    int64_t id;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"x\", \"arguments\":{\"a\":[1,\"\\u00e9\"]}}",
                                            NULL, NULL, NULL, &id),
                         0);
        const char *tail = strstr(p.last, "},\"name\":\"x\", \"arguments\":{\"a\":[1,\"\\u00e9\"]}}}");
        assert_non_null(tail); /* the caller's members byte for byte, last */
        assert_int_equal(strlen(tail), strlen("},\"name\":\"x\", \"arguments\":{\"a\":[1,\"\\u00e9\"]}}}"));
        const mcp_json *params = last_params(&p, &arena);
        assert_modern_meta(mcp_json_get(params, "_meta"));
        assert_true(mcp_str_eq_cstr(mcp_json_key(mcp_json_first(params)), "_meta"));
    }

    assert_int_equal(mcp_client_request(c, "tools/list", " { } ", NULL, NULL, NULL, &id), 0);
    const mcp_json *params = last_params(&p, &arena);
    assert_modern_meta(mcp_json_get(params, "_meta"));
    assert_int_equal(mcp_json_len(params), 1);
    assert_int_equal(mcp_client_request(c, "tools/list", NULL, NULL, NULL, NULL, &id), 0);
    params = last_params(&p, &arena);
    assert_modern_meta(mcp_json_get(params, "_meta"));
    assert_int_equal(mcp_json_len(params), 1);

    /* The caller's own _meta: merged, ours win, theirs kept. */
    assert_int_equal(mcp_client_request(c, "tools/call",
                                        "{\"_meta\":{\"mine\":1,\"io.modelcontextprotocol/logLevel\":\"debug\"},"
                                        "\"name\":\"y\"}",
                                        &(mcp_client_request_opts){.progress = true}, NULL, NULL, &id),
                     0);
    params = last_params(&p, &arena);
    const mcp_json *meta = mcp_json_get(params, "_meta");
    assert_modern_meta(meta);
    assert_int_equal(mcp_json_int(mcp_json_get(meta, "mine"), 0), 1);
    assert_int_equal(mcp_json_int(mcp_json_get(meta, "progressToken"), 0), id);
    assert_string_equal(mcp_json_str(mcp_json_get(params, "name"), ""), "y");

    /* Progress without a _meta of the caller's. */
    assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"z\"}",
                                        &(mcp_client_request_opts){.progress = true}, NULL, NULL, &id),
                     0);
    params = last_params(&p, &arena);
    meta = mcp_json_get(params, "_meta");
    assert_modern_meta(meta);
    assert_int_equal(mcp_json_int(mcp_json_get(meta, "progressToken"), 0), id);
    assert_string_equal(mcp_json_str(mcp_json_get(params, "name"), ""), "z");
    assert_int_equal(mcp_json_len(params), 2);

    size_t sent = p.count, pending = mcp_client_pending_count(c);
    static const char *bad[] = {"[1]", "\"text\"", "{\"a\":}", "{\"a\":{\"b\":[1,]}}", "", "{\"a\":1} x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_client_request(c, "tools/call", bad[i], NULL, NULL, NULL, NULL), MCP_EINVAL);
    assert_int_equal(p.count, sent);
    assert_int_equal(mcp_client_pending_count(c), pending);
    mcp_arena_free(&arena);
    mcp_client_free(c);
}

/* Handshake-era progress: the token is the only _meta, members follow. */
static void test_handshake_progress_text(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, true);
    int64_t id;
    assert_int_equal(mcp_client_request(c, "tools/call", "{\"name\":\"x\"}",
                                        &(mcp_client_request_opts){.progress = true}, NULL, NULL, &id),
                     0);
    char want[160];
    snprintf(want, sizeof want,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/call\",\"params\":{\"_meta\":{"
             "\"progressToken\":%lld},\"name\":\"x\"}}",
             (long long)id, (long long)id);
    assert_string_equal(p.last, want);
    assert_int_equal(mcp_client_request(c, "tools/list", NULL, &(mcp_client_request_opts){.progress = true}, NULL,
                                        NULL, &id),
                     0);
    snprintf(want, sizeof want,
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
             "\"progressToken\":%lld}}}",
             (long long)id, (long long)id);
    assert_string_equal(p.last, want);
    mcp_client_free(c);
}

/* The cache still works in the handshake era (it needs the request kept):
 * a result with ttlMs answers the same request again without sending. */
static void test_handshake_cache_keeps_request(void **state)
{
    (void)state;
    peer p = {0};
    mcp_client *c = handshake_ready(&p, false);
    outcome o = {0};
    int64_t id;
    assert_int_equal(mcp_client_request(c, "tools/list", "{}", NULL, on_done, &o, &id), 0);
    char text[160];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"n\":7,\"tools\":[],\"ttlMs\":60000,\"cacheScope\":\"public\"}}",
             (long long)id);
    feed(c, text);
    assert_int_equal(o.echoed, 7);
    size_t sent = p.count;
    outcome again = {0};
    assert_int_equal(mcp_client_request(c, "tools/list", "{}", NULL, on_done, &again, NULL), 0);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.echoed, 7);
    assert_int_equal(p.count, sent);
    mcp_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_in_flight_any_order),
        cmocka_unit_test(test_index_growth_and_removal),
        cmocka_unit_test(test_sparse_survivors),
        cmocka_unit_test(test_timeouts_among_many),
        cmocka_unit_test(test_handshake_request_text),
        cmocka_unit_test(test_handshake_cache_keeps_request),
        cmocka_unit_test(test_modern_request_text),
        cmocka_unit_test(test_handshake_progress_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
