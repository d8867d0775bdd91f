/*
 * session_table.h — the server's table of live sessions (legacy handshake
 * era: the Mcp-Session-Id of Streamable HTTP), shared by all worker threads.
 *
 * A session id is 128 random bits from the kernel's CSPRNG written as 32
 * lowercase hex digits, so ids are unguessable and never need escaping in a
 * header. The table maps an id to one caller-owned pointer. It is split into
 * shards, each a small open-addressing hash table behind its own
 * reader-writer lock: lookups (the hot path, one per request) from different
 * workers only share a lock when they hit the same shard, and even then run
 * in parallel.
 *
 *     mcp_session_table *t; mcp_session_table_new(NULL, &t);
 *     char id[MCP_SESSION_ID_LEN + 1];
 *     mcp_session_table_create(t, session, id);     // send id to the client
 *     void *s; if (mcp_session_table_lookup(t, hdr, hdr_len, &s) == 0) use(s);
 *     mcp_session_table_remove(t, id, MCP_SESSION_ID_LEN, &s); free_session(s);
 *     mcp_session_table_free(t);
 *
 * Lifetime: the table stores the pointer and nothing else. If one thread may
 * remove a session while another still uses the pointer it looked up, the
 * caller must keep the session alive itself (a reference count in the
 * session is the usual answer).
 */
#ifndef MCP_SESSION_TABLE_H
#define MCP_SESSION_TABLE_H

#include "mcp/base.h"

#define MCP_SESSION_ID_LEN 32 /* hex digits; 128 bits */

typedef struct mcp_session_table mcp_session_table;

typedef struct mcp_session_table_opts {
    unsigned shards;        /* power of two; 0 means the default, 64 */
    /* Non-zero: ids come from a fixed pseudo-random sequence instead of the
     * kernel, so a benchmark can repeat the same run instruction for
     * instruction. Never set this in a server: such ids are guessable. */
    uint64_t predictable_ids_seed;
} mcp_session_table_opts;

int mcp_session_table_new(const mcp_session_table_opts *opts, mcp_session_table **out);
void mcp_session_table_free(mcp_session_table *t); /* the stored pointers are not freed */

/* Make a new session holding data; writes its id, NUL-terminated, to id. */
int mcp_session_table_create(mcp_session_table *t, void *data, char id[MCP_SESSION_ID_LEN + 1]);

/* Find the session with this id (len bytes, not NUL-terminated necessarily).
 * MCP_EINVAL when the text cannot be an id, MCP_ENOTFOUND when no session
 * has it. data may be NULL to test for presence only. */
int mcp_session_table_lookup(mcp_session_table *t, const char *id, size_t len, void **data);

/* Remove the session and give back its pointer (data may be NULL). */
int mcp_session_table_remove(mcp_session_table *t, const char *id, size_t len, void **data);

size_t mcp_session_table_count(mcp_session_table *t);

#endif
