/*
 * request_state.c — the modern era's requestState, protected.
 *
 * The state a handler sets for its next round travels through the client,
 * which must echo it unchanged; a hostile client could edit it instead. So
 * what goes on the wire is
 *
 *     base64url(state) "." expiry (ms since the epoch, hex) "." base64url(tag)
 *
 * where tag is HMAC-SHA256 (first 16 bytes) under a per-server random key,
 * over the method, the target (params.name, or params.uri), the expiry and
 * the state. A retry whose state fails the check, expired, or was made for
 * another method or target is refused with -32602 before any handler runs,
 * so handlers only ever see state this server produced for this request.
 * Binding to the caller's identity is the transport's business (it knows
 * the principal); the state is not encrypted, so secrets do not belong in it.
 */
#include "internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TAG_BYTES 16

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(mcp_buf *out, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0) |
                     (i + 2 < len ? data[i + 2] : 0);
        char chunk[4] = {B64URL[v >> 18 & 63], B64URL[v >> 12 & 63], B64URL[v >> 6 & 63], B64URL[v & 63]};
        mcp_buf_append(out, chunk, i + 2 < len ? 4 : i + 1 < len ? 3 : 2);
    }
}

static int b64url_value(char c)
{
    const char *p = c ? strchr(B64URL, c) : NULL;
    return p ? (int)(p - B64URL) : -1;
}

/* Decode into out (at least len bytes); the length, or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1)
        return -1;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

int mcp_server_state_key_init(mcp_server *server, const unsigned char *key, size_t len)
{
    if (key) {
        /* Any length from 16 bytes on, reduced to the HMAC key size. */
        unsigned int n = 0;
        return EVP_Digest(key, len, server->state_key, &n, EVP_sha256(), NULL) == 1 ? 0 : MCP_EIO;
    }
    return getrandom(server->state_key, sizeof server->state_key, 0) == (ssize_t)sizeof server->state_key
               ? 0
               : MCP_EIO;
}

/* What the request is about: tools/call and prompts/get name a thing,
 * resources/read a URI. */
static const char *target_of(const mcp_call *call)
{
    const char *name = mcp_json_str(mcp_json_get(call->params, "name"), NULL);
    return name ? name : mcp_json_str(mcp_json_get(call->params, "uri"), "");
}

static void tag_of(const mcp_call *call, uint64_t expiry, const char *state, size_t len,
                   unsigned char tag[TAG_BYTES])
{
    mcp_buf msg;
    mcp_buf_init(&msg);
    const char *target = target_of(call);
    mcp_buf_append(&msg, call->method, strlen(call->method) + 1);
    mcp_buf_append(&msg, target, strlen(target) + 1);
    mcp_buf_appendf(&msg, "%llx", (unsigned long long)expiry);
    mcp_buf_append_char(&msg, '\0');
    mcp_buf_append(&msg, state, len);
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int full_len = 0;
    const mcp_server *server = call->session->server;
    HMAC(EVP_sha256(), server->state_key, (int)sizeof server->state_key, (const unsigned char *)msg.data, msg.len,
         full, &full_len);
    memcpy(tag, full, TAG_BYTES);
    mcp_buf_free(&msg);
}

const char *mcp_request_state_seal(mcp_call *call, const char *state)
{
    const mcp_server *server = call->session->server;
    uint64_t expiry = mcp_wall_ms() + (server->opts.request_state_ttl_ms ? server->opts.request_state_ttl_ms : 600000u);
    unsigned char tag[TAG_BYTES];
    size_t len = strlen(state);
    tag_of(call, expiry, state, len, tag);
    mcp_buf out;
    mcp_buf_init(&out);
    b64url_encode(&out, (const unsigned char *)state, len);
    mcp_buf_appendf(&out, ".%llx.", (unsigned long long)expiry);
    b64url_encode(&out, tag, TAG_BYTES);
    const char *sealed = out.data ? mcp_arena_strndup(&call->arena, out.data, out.len) : NULL;
    mcp_buf_free(&out);
    return sealed;
}

int mcp_request_state_open(mcp_call *call, const char *wire, size_t len, const char **state)
{
    *state = NULL;
    const char *dot1 = memchr(wire, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - wire)) : NULL;
    if (!dot2)
        return MCP_EINVAL;
    size_t state_len = (size_t)(dot1 - wire), tag_len = len - (size_t)(dot2 + 1 - wire);
    char hex[17];
    size_t hex_len = (size_t)(dot2 - dot1 - 1);
    if (hex_len == 0 || hex_len >= sizeof hex)
        return MCP_EINVAL;
    memcpy(hex, dot1 + 1, hex_len);
    hex[hex_len] = '\0';
    char *end;
    uint64_t expiry = strtoull(hex, &end, 16);
    if (*end)
        return MCP_EINVAL;
    unsigned char *decoded = mcp_arena_alloc(&call->arena, state_len + 1);
    unsigned char tag[TAG_BYTES + 3], want[TAG_BYTES];
    if (!decoded)
        return MCP_ENOMEM;
    long n = b64url_decode(wire, state_len, decoded);
    if (n < 0 || tag_len > 24 || b64url_decode(dot2 + 1, tag_len, tag) != TAG_BYTES)
        return MCP_EINVAL;
    decoded[n] = '\0';
    tag_of(call, expiry, (const char *)decoded, (size_t)n, want);
    if (CRYPTO_memcmp(tag, want, TAG_BYTES) != 0 || memchr(decoded, '\0', (size_t)n))
        return MCP_EINVAL;
    if (mcp_wall_ms() > expiry)
        return MCP_ETIMEDOUT;
    *state = (const char *)decoded;
    return 0;
}
