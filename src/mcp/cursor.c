/*
 * cursor.c — opaque pagination cursors.
 *
 * A cursor is 20 bytes, base64url without padding (27 characters): the
 * offset of the next page, the registry generation it was made from, and a
 * 32-bit tag that is a keyed hash of both, so that a cursor the server did
 * not make (or a corrupted one) is refused with -32602 rather than read as
 * some arbitrary offset. A cursor from an older generation is still
 * honoured by offset: the list may have shifted, which the protocol allows
 * (clients learn of changes through list_changed or by re-listing).
 */
#include "internal.h"

#include <string.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
#define CURSOR_BYTES 20

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t tag_of(const mcp_server *server, const unsigned char *bytes)
{
    return (uint32_t)mcp_hash64(bytes, 16, server->seed ^ 0x63757273u);
}

void mcp_cursor_encode(const mcp_server *server, uint64_t offset, uint64_t generation,
                       char out[MCP_CURSOR_LEN + 1])
{
    unsigned char b[CURSOR_BYTES + 1] = {0};
    put64(b, offset);
    put64(b + 8, generation);
    uint32_t tag = tag_of(server, b);
    for (int i = 0; i < 4; i++)
        b[16 + i] = (unsigned char)(tag >> (8 * i));
    /* 20 bytes = 160 bits -> 27 sextets (the last holds 4 bits). */
    size_t o = 0;
    for (size_t bit = 0; bit < CURSOR_BYTES * 8; bit += 6) {
        size_t byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)b[byte] | (unsigned)b[byte + 1] << 8;
        out[o++] = ALPHABET[(v >> shift) & 63];
    }
    out[o] = '\0';
}

int mcp_cursor_decode(const mcp_server *server, const char *text, size_t len, uint64_t *offset)
{
    if (len != MCP_CURSOR_LEN)
        return MCP_EINVAL;
    unsigned char b[CURSOR_BYTES + 2] = {0};
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(ALPHABET, text[i], 64);
        if (!p || text[i] == '\0')
            return MCP_EINVAL;
        unsigned v = (unsigned)(p - ALPHABET);
        size_t bit = i * 6, byte = bit / 8, shift = bit % 8;
        unsigned spread = v << shift;
        b[byte] |= (unsigned char)spread;
        b[byte + 1] |= (unsigned char)(spread >> 8);
    }
    if (b[CURSOR_BYTES] != 0) /* bits past the 160th must be zero */
        return MCP_EINVAL;
    uint32_t tag = 0;
    for (int i = 0; i < 4; i++)
        tag |= (uint32_t)b[16 + i] << (8 * i);
    if (tag != tag_of(server, b))
        return MCP_EINVAL;
    *offset = get64(b);
    return 0;
}
