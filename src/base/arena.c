/*
 * Bump arena. Blocks are chained newest first. A reset leaves one block: the
 * only one when everything fitted, or else one new block sized to what the
 * last round used (plus a quarter for slack). Keeping merely the largest
 * block would make a request that needs 9 KiB with 8 KiB blocks allocate and
 * free a second block on every round; sized to the high-water mark, the
 * steady state calls malloc never, and a chain never outlives its round.
 * A round that used more than ARENA_KEEP_MAX gives everything back.
 */
#include "mcp/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mcp_arena_block {
    mcp_arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_BLOCK 8192
/* Above this, a reset gives the memory back instead of keeping it. */
#define ARENA_KEEP_MAX ((size_t)1 << 20)

void mcp_arena_init(mcp_arena *arena, size_t block_size) {
    arena->head = NULL;
    arena->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    arena->allocated = 0;
}

static mcp_arena_block *arena_block_new(size_t size) {
    mcp_arena_block *b = malloc(sizeof(*b) + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void *mcp_arena_alloc(mcp_arena *arena, size_t size) {
    size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size) return NULL; /* overflow */
    mcp_arena_block *b = arena->head;
    if (MCP_UNLIKELY(!b || b->size - b->used < need)) {
        size_t block = arena->block_size;
        if (need > block) block = need;
        mcp_arena_block *nb = arena_block_new(block);
        if (!nb) return NULL;
        nb->next = b;
        arena->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    arena->allocated += need;
    return p;
}

void *mcp_arena_calloc(mcp_arena *arena, size_t size) {
    void *p = mcp_arena_alloc(arena, size);
    if (p) memset(p, 0, size);
    return p;
}

char *mcp_arena_strndup(mcp_arena *arena, const char *s, size_t len) {
    char *p = mcp_arena_alloc(arena, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *mcp_arena_strdup(mcp_arena *arena, const char *s) {
    return mcp_arena_strndup(arena, s, strlen(s));
}

char *mcp_arena_sprintf(mcp_arena *arena, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return NULL;
    }
    char *p = mcp_arena_alloc(arena, (size_t)n + 1);
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void mcp_arena_reset(mcp_arena *arena) {
    mcp_arena_block *keep = arena->head;
    if (keep && arena->allocated > ARENA_KEEP_MAX && keep->size > arena->block_size) {
        /* One huge round (a message of megabytes) must not pin its memory
         * for the arena's whole life: start small again. */
        mcp_arena_free(arena);
        return;
    }
    if (keep && keep->next) {
        size_t largest = 0;
        for (mcp_arena_block *b = keep; b; b = b->next)
            if (b->size > largest) largest = b->size;
        size_t want = arena->allocated + arena->allocated / 4;
        if (want < arena->allocated) want = arena->allocated; /* overflowed */
        if (want < largest) want = largest;
        want = (want + 1023) & ~(size_t)1023;
        mcp_arena_free(arena);
        /* Out of memory here is not an error: the next alloc retries. */
        keep = arena_block_new(want);
    }
    if (keep) keep->used = 0;
    arena->head = keep;
    arena->allocated = 0;
}

void mcp_arena_free(mcp_arena *arena) {
    for (mcp_arena_block *b = arena->head; b;) {
        mcp_arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
    arena->allocated = 0;
}
