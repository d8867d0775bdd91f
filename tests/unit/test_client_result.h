/*
 * test_client_result.h — for the client tests: a client connected over
 * a transport, what a call gave back (the first text content of a tool
 * result, or the code of an error), the params of a large echo call, and
 * the threads of this process. Include after <cmocka.h>.
 */
#ifndef TEST_CLIENT_RESULT_H
#define TEST_CLIENT_RESULT_H

#include "mcp/client.h"
#include "mcp/json.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client of version on t (10 s calls, no cache), connected in 5 s. */
static inline mcp_client *client_connected(mcp_client_transport *t, const char *version)
{
    mcp_client *c = mcp_client_new(
        &(mcp_client_opts){.protocol_version = version, .transport = t, .timeout_ms = 10000, .no_cache = true});
    assert_non_null(c);
    assert_int_equal(mcp_client_connect(c, 5000, NULL), 0);
    return c;
}

/* An elicitation handler that accepts with the name "octocat" (what
 * tool_ask_name of test_task_tools.h asks for); user is an int counting
 * the questions. */
static inline void answer_with_name(void *user, const char *method, const mcp_json *params, mcp_client_answer *a)
{
    (void)method, (void)params;
    ++*(int *)user;
    mcp_buf_append_cstr(&a->result, "{\"action\":\"accept\",\"content\":{\"name\":\"octocat\"}}");
}

/* content[0].text of the result into buf ("" when there is none). */
static inline const char *text_of(const mcp_client_result *r, char *buf, size_t cap)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    buf[0] = '\0';
    if (r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0)
        snprintf(buf, cap, "%s", mcp_json_str(mcp_json_get(mcp_json_at(mcp_json_get(doc, "content"), 0), "text"), ""));
    mcp_arena_free(&arena);
    return buf;
}

/* The code of an error result, or 0. */
static inline int64_t error_code_of(const mcp_client_result *r)
{
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    int64_t code = 0;
    if (r->json && mcp_json_parse(&arena, r->json, r->len, NULL, &doc, NULL) == 0)
        code = mcp_json_int(mcp_json_get(doc, "code"), 0);
    mcp_arena_free(&arena);
    return code;
}

/* Params of tools/call "echo" whose text is len copies of fill (caller
 * frees), for messages bigger than one record, frame or read. */
static inline char *big_echo_params(size_t len, char fill)
{
    char *params = malloc(len + 64);
    assert_non_null(params);
    int n = snprintf(params, 64, "{\"name\":\"echo\",\"arguments\":{\"text\":\"");
    memset(params + n, fill, len);
    strcpy(params + n + len, "\"}}");
    return params;
}

/* Threads of this process, from /proc. */
static inline int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Fails unless method(params) on c succeeds with a result containing needle. */
static inline void client_expect(mcp_client *c, const char *method, const char *params, const char *needle)
{
    mcp_client_result r;
    int status = mcp_client_call_sync(c, method, params, NULL, &r);
    if (status != 0 || !r.json || !strstr(r.json, needle))
        fail_msg("%s: status %d, '%s' not in %s", method, status, needle, r.json ? r.json : "(none)");
    mcp_client_result_free(&r);
}

/* A progress handler counting the notifications into the int at user. */
static inline void progress_tally(void *user, double progress, double total, const char *message)
{
    (void)progress, (void)total, (void)message;
    ++*(int *)user;
}

/* On a server with the demo tool "slow": a 3-step call reports 3 progress
 * notifications, then a long one is cancelled after its first progress and
 * no longer pending. */
static inline void client_check_progress_and_cancel(mcp_client *c)
{
    int progress_count = 0;
    mcp_client_result r;
    assert_int_equal(
        mcp_client_call_sync(
            c, "tools/call", "{\"name\":\"slow\",\"arguments\":{\"steps\":3,\"delay_ms\":20}}",
            &(mcp_client_request_opts){.progress = true, .on_progress = progress_tally, .progress_user = &progress_count},
            &r),
        0);
    assert_non_null(strstr(r.json, "slow finished 3 steps"));
    mcp_client_result_free(&r);
    assert_int_equal(progress_count, 3);
    int64_t id;
    progress_count = 0;
    assert_int_equal(
        mcp_client_request(
            c, "tools/call", "{\"name\":\"slow\",\"arguments\":{\"steps\":100,\"delay_ms\":50}}",
            &(mcp_client_request_opts){.progress = true, .on_progress = progress_tally, .progress_user = &progress_count},
            NULL, NULL, &id),
        0);
    for (int i = 0; i < 200 && progress_count == 0; i++)
        mcp_client_pump(c, 10);
    assert_true(progress_count > 0);
    assert_int_equal(mcp_client_cancel(c, id, "enough"), 0);
    assert_false(mcp_client_is_pending(c, id));
}

#endif
