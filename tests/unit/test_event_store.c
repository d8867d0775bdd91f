/*
 * The bounded in-memory event store: ids name their stream, replay gives
 * exactly the events after an id and in order, bounds drop the oldest
 * events and the least recently used streams, and a replay that would have
 * a hole in it is refused. Also hammered from several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

typedef struct collected {
    char text[2048];
    size_t len;
    int stop_after;
    int count;
} collected;

static int collect(void *user, const char *id, const char *data, size_t len) {
    collected *c = user;
    if (c->len < sizeof c->text - 64) {
        int n = snprintf(c->text + c->len, sizeof c->text - c->len, "%s=%.*s;", id, (int)len, data);
        c->len += (size_t)n < sizeof c->text - c->len ? (size_t)n : 0;
    }
    c->count++;
    return c->stop_after && c->count >= c->stop_after;
}

static void append_and_replay(void **state) {
    (void)state;
    mcp_event_store *s = mcp_event_store_memory_new(8, 4);
    assert_non_null(s);
    char id[MCP_EVENT_ID_MAX], first[MCP_EVENT_ID_MAX];
    assert_int_equal(s->append(s, "sess/1", "a", 1, first), 0);
    assert_string_equal(first, "sess/1#1");
    assert_int_equal(s->append(s, "sess/2", "other", 5, id), 0);
    assert_int_equal(s->append(s, "sess/1", "b", 1, id), 0);
    assert_int_equal(s->append(s, "sess/1", "c", 1, id), 0);

    char stream[MCP_STREAM_NAME_MAX];
    collected c = {0};
    assert_int_equal(s->replay_after(s, first, stream, collect, &c), 0);
    assert_string_equal(stream, "sess/1");
    assert_string_equal(c.text, "sess/1#2=b;sess/1#3=c;");

    /* After the last event: nothing to replay, but the id is good. */
    collected none = {0};
    assert_int_equal(s->replay_after(s, "sess/1#3", stream, collect, &none), 0);
    assert_int_equal(none.count, 0);

    /* The callback can stop the replay. */
    collected one = {.stop_after = 1};
    assert_int_equal(s->replay_after(s, first, stream, collect, &one), 0);
    assert_string_equal(one.text, "sess/1#2=b;");

    /* Ids that were never issued. */
    collected bad = {0};
    assert_int_equal(s->replay_after(s, "sess/1#9", stream, collect, &bad), MCP_ENOTFOUND);
    assert_int_equal(s->replay_after(s, "nope#1", stream, collect, &bad), MCP_ENOTFOUND);
    assert_int_equal(s->replay_after(s, "sess/1#x", stream, collect, &bad), MCP_ENOTFOUND);
    assert_int_equal(s->replay_after(s, "#1", stream, collect, &bad), MCP_ENOTFOUND);
    assert_int_equal(s->replay_after(s, "plain", stream, collect, &bad), MCP_ENOTFOUND);
    assert_int_equal(bad.count, 0);
    assert_int_equal(s->append(s, "has#hash", "x", 1, id), MCP_EINVAL);

    s->forget(s, "sess/1");
    assert_int_equal(s->replay_after(s, first, stream, collect, &bad), MCP_ENOTFOUND);
    s->free(s);
}

static void bounds_drop_oldest(void **state) {
    (void)state;
    mcp_event_store *s = mcp_event_store_memory_new(3, 2);
    char id[MCP_EVENT_ID_MAX], stream[MCP_STREAM_NAME_MAX];
    char data[8];
    for (int i = 1; i <= 5; i++) {
        snprintf(data, sizeof data, "e%d", i);
        assert_int_equal(s->append(s, "a", data, strlen(data), id), 0);
    }
    /* Ring of 3 holds e3..e5: after #2 is complete, after #1 has a hole. */
    collected c = {0};
    assert_int_equal(s->replay_after(s, "a#2", stream, collect, &c), 0);
    assert_string_equal(c.text, "a#3=e3;a#4=e4;a#5=e5;");
    collected hole = {0};
    assert_int_equal(s->replay_after(s, "a#1", stream, collect, &hole), MCP_ENOTFOUND);
    assert_int_equal(hole.count, 0);

    /* Two streams at most: a third drops the least recently appended. */
    assert_int_equal(s->append(s, "b", "x", 1, id), 0);
    assert_int_equal(s->append(s, "a", "e6", 2, id), 0);
    assert_int_equal(s->append(s, "c", "y", 1, id), 0);
    collected gone = {0};
    assert_int_equal(s->replay_after(s, "b#0", stream, collect, &gone), MCP_ENOTFOUND);
    collected kept = {0};
    assert_int_equal(s->replay_after(s, "a#5", stream, collect, &kept), 0);
    assert_string_equal(kept.text, "a#6=e6;");
    s->free(s);
}

typedef struct writer_arg {
    mcp_event_store *store;
    int index;
} writer_arg;

static void *writer_main(void *p) {
    writer_arg *w = p;
    char name[16], id[MCP_EVENT_ID_MAX];
    snprintf(name, sizeof name, "w%d", w->index);
    for (int i = 0; i < 2000; i++) w->store->append(w->store, name, "payload", 7, id);
    return NULL;
}

static void concurrent_appends(void **state) {
    (void)state;
    mcp_event_store *s = mcp_event_store_memory_new(4096, 16);
    pthread_t t[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){s, i};
        pthread_create(&t[i], NULL, writer_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    char stream[MCP_STREAM_NAME_MAX];
    for (int i = 0; i < 4; i++) {
        char first[32];
        snprintf(first, sizeof first, "w%d#0", i);
        collected c = {0};
        /* #0 precedes the first event: a full replay of 2000 events. */
        assert_int_equal(s->replay_after(s, first, stream, collect, &c), 0);
        assert_int_equal(c.count, 2000);
    }
    s->free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_and_replay),
        cmocka_unit_test(bounds_drop_oldest),
        cmocka_unit_test(concurrent_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
