/*
 * Cache keys of tool calls. The arguments are written in canonical JSON
 * (sorted keys, normalised numbers), so {"b":1,"a":2.0} and {"a":2,"b":1}
 * share an entry. The NUL byte between the tool name and the arguments
 * cannot occur in either (names are checked, JSON escapes control
 * characters), so no two calls share a key by concatenation.
 *
 * Keys must fit LMDB's key limit; arguments too long for that are replaced
 * by two 64-bit hashes of their canonical form under different seeds.
 * That hash is not cryptographic: a client that can choose arguments could
 * in principle search for a collision with another call's long arguments.
 */
#include "cache/cache_internal.h"

#include <string.h>

#define LONG_ARGS_SEED_A 0x243f6a8885a308d3ull
#define LONG_ARGS_SEED_B 0x13198a2e03707344ull

int mcp_cache_key_for_call(const char *tool_name, const mcp_json *args, mcp_buf *key) {
    if (!tool_name || !key) return MCP_EINVAL;
    size_t name_len = strlen(tool_name);
    /* Room for the separator and the hashed form of any arguments. */
    if (!name_len || name_len > MCP_CACHE_KEY_MAX - 40) return MCP_EINVAL;
    mcp_buf_reset(key);
    int rc = mcp_buf_append(key, tool_name, name_len);
    if (!rc) rc = mcp_buf_append_char(key, '\0');
    if (rc) return rc;
    if (!args) return mcp_buf_append_cstr(key, "null");
    size_t args_at = key->len;
    rc = mcp_json_canonical(args, key);
    if (rc) return rc;
    if (key->len <= MCP_CACHE_KEY_MAX) return MCP_OK;
    uint64_t a = mcp_hash64(key->data + args_at, key->len - args_at, LONG_ARGS_SEED_A);
    uint64_t b = mcp_hash64(key->data + args_at, key->len - args_at, LONG_ARGS_SEED_B);
    key->len = args_at;
    key->data[key->len] = '\0';
    /* '#' never starts JSON text, so a hashed key differs from every short one. */
    return mcp_buf_appendf(key, "#%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}
