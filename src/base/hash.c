/*
 * 64-bit hash built on the 64x64->128 multiply-fold: one multiply mixes two
 * words thoroughly, so short keys (tool names, cache keys, session ids) cost
 * a handful of cycles. Not cryptographic; tables seed it per process.
 */
#include "mcp/base.h"

#include <string.h>

#define HASH_K0 0x9e3779b97f4a7c15ull
#define HASH_K1 0xc2b2ae3d27d4eb4full
#define HASH_K2 0x165667b19e3779f9ull

static inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t load_tail(const unsigned char *p, size_t n) {
    /* n in 1..7: read without touching bytes past the end. */
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

uint64_t mcp_hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed ^ fold_multiply(seed ^ HASH_K0, len ^ HASH_K1);
    size_t n = len;
    while (n >= 16) {
        h = fold_multiply(load64(p) ^ HASH_K1, load64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = load64(p);
        b = n > 8 ? load_tail(p + 8, n - 8) : 0;
    } else if (n) {
        a = load_tail(p, n);
    }
    h = fold_multiply(a ^ HASH_K2 ^ h, b ^ HASH_K0);
    return fold_multiply(h ^ HASH_K1, len ^ HASH_K2);
}
