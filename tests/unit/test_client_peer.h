/*
 * test_client_peer.h — for the client state machine tests: a scripted
 * in-memory peer. The client writes into a capturing sink, the test reads
 * what it sent and feeds the server's side back by hand, and a done
 * callback keeps what the request ended with. Include after <cmocka.h>.
 */
#ifndef TEST_CLIENT_PEER_H
#define TEST_CLIENT_PEER_H

#include "mcp/client.h"
#include "mcp/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull
#define MAX_SENT 64

typedef struct peer {
    char *sent[MAX_SENT];
    size_t count;
    mcp_arena arena;
    int fail_writes;            /* nonzero: every write fails with MCP_EIO */
} peer;

static inline int peer_write(void *user, const char *message, size_t len)
{
    peer *p = user;
    if (p->fail_writes)
        return MCP_EIO;
    if (p->count < MAX_SENT)
        p->sent[p->count++] = strndup(message, len);
    return 0;
}

/* The i-th message the client sent, parsed. */
static inline const mcp_json *sent(peer *p, size_t i)
{
    assert_true(i < p->count);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&p->arena, p->sent[i], strlen(p->sent[i]), NULL, &doc, NULL), 0);
    return doc;
}

static inline const mcp_json *last_sent(peer *p)
{
    assert_true(p->count > 0);
    return sent(p, p->count - 1);
}

static inline void peer_free(peer *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->sent[i]);
    mcp_arena_free(&p->arena);
}

/* A client of opts whose messages go to p, its clock at 1 s. */
static inline mcp_client *peer_client_new(peer *p, mcp_client_opts opts)
{
    mcp_arena_init(&p->arena, 0);
    opts.sink = (mcp_sink){.write = peer_write, .user = p};
    mcp_client *c = mcp_client_new(&opts);
    assert_non_null(c);
    mcp_client_tick(c, 1000 * MS);
    return c;
}

/* What a request's done callback saw. */
typedef struct outcome {
    int calls;
    int status;
    int64_t id;
    char json[4096];
} outcome;

static inline void on_done(void *user, int status, const mcp_json *value, int64_t id)
{
    outcome *o = user;
    o->calls++;
    o->status = status;
    o->id = id;
    o->json[0] = '\0';
    if (value) {
        mcp_str raw = mcp_json_raw(value);
        snprintf(o->json, sizeof o->json, "%.*s", (int)raw.len, raw.ptr);
    }
}

/* The notifications the client passed on, the first 16 kept. */
typedef struct notes {
    int count;
    char methods[16][64];
    char params[16][512];     /* "" when there were none */
} notes;

/* An on_notification for a user that is (or starts with) a notes. */
static inline void on_note(void *user, const char *method, const mcp_json *params)
{
    notes *n = user;
    if (n->count < 16) {
        snprintf(n->methods[n->count], sizeof n->methods[0], "%s", method);
        mcp_str raw = mcp_json_raw(params);
        snprintf(n->params[n->count], sizeof n->params[0], "%.*s", (int)raw.len, raw.ptr ? raw.ptr : "");
    }
    n->count++;
}

static inline void feed(mcp_client *c, const char *text)
{
    assert_int_equal(mcp_client_handle(c, text, strlen(text)), 0);
}

#endif
