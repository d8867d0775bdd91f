/*
 * registry.h — the server's registries as immutable, reference-counted
 * snapshots (internal to libmcp; the benchmark uses it directly).
 *
 * Every add or remove builds a new snapshot (copy on write: the entries are
 * shared and reference counted, only the pointer arrays and hash tables are
 * rebuilt) and swaps it in. Readers take a reference to the current
 * snapshot and then look things up with no lock at all; a session keeps its
 * reference across requests and re-acquires only when the server's
 * generation counter says the registry changed, so the request path costs
 * one relaxed atomic load.
 *
 *     mcp_registry_snapshot *snap = mcp_server_snapshot_acquire(server);
 *     const mcp_registry_entry *tool = mcp_registry_find_tool(snap, "greet", 5);
 *     ...
 *     mcp_registry_snapshot_release(snap);
 *
 * An entry stays valid as long as a snapshot that holds it is referenced.
 */
#ifndef MCP_REGISTRY_H
#define MCP_REGISTRY_H

#include "mcp/mcp.h"

#include <stdatomic.h>

typedef struct mcp_schema mcp_schema;
typedef struct mcp_param_header mcp_param_header; /* param_headers.c */
#define MCP_PARAM_HEADERS_MAX 32

typedef enum mcp_registry_kind {
    MCP_REGISTRY_TOOLS = 0,
    MCP_REGISTRY_RESOURCES,
    MCP_REGISTRY_TEMPLATES,
    MCP_REGISTRY_PROMPTS,
    MCP_REGISTRY_KINDS
} mcp_registry_kind;

/* One registered tool, resource, template or prompt. All strings are copies
 * in the entry's own arena. json is the entry as it appears in a list
 * result (Tool, Resource, ResourceTemplate or Prompt object), rendered once
 * at registration so that listing is a copy. */
typedef struct mcp_registry_entry {
    atomic_int refs;
    mcp_registry_kind kind;
    uint64_t hash;           /* of key, with the snapshot seed */
    const char *key;         /* tool/prompt name, resource URI, URI template */
    size_t key_len;
    const char *json;
    size_t json_len;
    void *user;
    union {
        mcp_tool_fn tool;
        mcp_resource_fn resource;
        mcp_prompt_fn prompt;
    } fn;
    const mcp_schema *input_schema;  /* tools: compiled; NULL accepts any object */
    const mcp_schema *output_schema; /* tools: compiled; NULL when none */
    bool has_output_schema;
    mcp_prompt_argument *arguments;  /* prompts */
    size_t argument_count;
    mcp_complete_fn complete;        /* prompts and templates: completion/complete */
    int task_support;                /* tools: 0 forbidden, 1 optional, 2 required */
    bool task_after_input;           /* tools: mcp_tool.task_after_input */
    mcp_param_header *param_headers; /* tools: x-mcp-header properties */
    size_t param_header_count;
    int64_t ttl_ms;                  /* resources: cache hints of reads; 0 the server's */
    const char *cache_scope;         /* resources: NULL the server's */
    mcp_arena arena;
} mcp_registry_entry;

typedef struct mcp_registry_list {
    mcp_registry_entry **items; /* registration order: the listing order */
    size_t count;
    uint32_t *slots;            /* open addressing: index + 1, 0 is empty */
    size_t mask;
} mcp_registry_list;

typedef struct mcp_registry_snapshot {
    atomic_int refs;
    uint64_t generation;
    uint64_t seed;
    mcp_registry_list lists[MCP_REGISTRY_KINDS];
    size_t param_header_tools;   /* tools with x-mcp-header params */
} mcp_registry_snapshot;

/* Take a reference to the server's current snapshot (a short mutex hold;
 * sessions do this only when the generation changed). */
mcp_registry_snapshot *mcp_server_snapshot_acquire(mcp_server *server);
/* Generation of the current snapshot: a relaxed load, for cache checks. */
uint64_t mcp_server_generation(const mcp_server *server);
void mcp_registry_snapshot_retain(mcp_registry_snapshot *snap);
void mcp_registry_snapshot_release(mcp_registry_snapshot *snap);

/* Lock-free lookups: hash, then linear probe. NULL when absent. */
const mcp_registry_entry *mcp_registry_find(const mcp_registry_snapshot *snap, mcp_registry_kind kind,
                                            const char *key, size_t len);
const mcp_registry_entry *mcp_registry_find_tool(const mcp_registry_snapshot *snap, const char *name,
                                                 size_t len);

/* Builders used by the server (internal). */
mcp_registry_snapshot *mcp_registry_snapshot_new(uint64_t seed, uint64_t generation);
/* A copy of from with entry added (replace false: MCP_EEXIST if the key is
 * taken) or with the entry of key removed (entry NULL). */
int mcp_registry_snapshot_derive(const mcp_registry_snapshot *from, mcp_registry_kind kind,
                                 mcp_registry_entry *add, const char *remove_key,
                                 uint64_t generation, mcp_registry_snapshot **out);
void mcp_registry_entry_release(mcp_registry_entry *entry);

#endif
