/*
 * test_mcp_sink.h — a capturing sink for the server-core tests: records
 * every message a session emits and parses it back for assertions.
 * Everything is static inline: a test that uses only part of it must still
 * build with -Werror (no unused-function warnings).
 */
#ifndef TEST_MCP_SINK_H
#define TEST_MCP_SINK_H

#include "mcp/json.h"
#include "mcp/mcp.h"
#include "mcp/rpc.h"

#include <stdlib.h>

#include <pthread.h>
#include <string.h>

#define CAPTURE_MAX 64

typedef struct capture {
    pthread_mutex_t lock;
    char *messages[CAPTURE_MAX];
    size_t count;
    mcp_arena arena; /* parsed views */
} capture;

static inline int capture_write(void *user, const char *message, size_t len)
{
    capture *c = user;
    pthread_mutex_lock(&c->lock);
    if (c->count < CAPTURE_MAX)
        c->messages[c->count++] = strndup(message, len);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static inline void capture_init(capture *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    mcp_arena_init(&c->arena, 0);
}

static inline void capture_clear(capture *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        free(c->messages[i]);
    c->count = 0;
    pthread_mutex_unlock(&c->lock);
}

static inline void capture_free(capture *c)
{
    capture_clear(c);
    mcp_arena_free(&c->arena);
    pthread_mutex_destroy(&c->lock);
}

static inline size_t capture_count(capture *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Message i, parsed (NULL when it is not valid JSON, which fails the test). */
static inline mcp_json *capture_json(capture *c, size_t i)
{
    if (i >= capture_count(c))
        return NULL;
    mcp_json *doc = NULL;
    if (mcp_json_parse(&c->arena, c->messages[i], strlen(c->messages[i]), NULL, &doc, NULL) != 0)
        return NULL;
    return doc;
}

static inline mcp_sink capture_sink(capture *c)
{
    return (mcp_sink){.write = capture_write, .user = c};
}

static inline int session_send(mcp_session *s, const char *text)
{
    return mcp_session_handle(s, text, strlen(text));
}

#endif
