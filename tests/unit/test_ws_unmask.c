/*
 * mcp_ws_unmask, the WebSocket server's unmasking (64 bytes a step with
 * AVX2, 16 without, then bytes): for every length up to a few steps and
 * every alignment of the payload, the result is RFC 6455's byte-by-byte
 * XOR with the key, in place or not, and the "all ASCII" answer is false
 * exactly when one byte, wherever it lies (wide steps, narrow steps or the
 * tail), has its high bit set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

#define MAX_LEN 300

static void reference(unsigned char *out, const unsigned char *in, size_t len, const unsigned char key[4]) {
    for (size_t i = 0; i < len; i++) out[i] = in[i] ^ key[i % 4];
}

/* Masked bytes whose unmasked value is ASCII, except at position high
 * (SIZE_MAX: none). */
static void fill(unsigned char *masked, size_t len, const unsigned char key[4], size_t high, unsigned seed) {
    for (size_t i = 0; i < len; i++) {
        unsigned char plain = (unsigned char)(' ' + (seed + i * 7) % 90);
        if (i == high) plain = 0xc3;
        masked[i] = plain ^ key[i % 4];
    }
}

static void matches_the_byte_loop_at_every_length(void **state) {
    (void)state;
    static const unsigned char key[4] = {0x9a, 0x01, 0xfe, 0x37};
    unsigned char buf[MAX_LEN + 8], out[MAX_LEN + 8], want[MAX_LEN + 8];
    for (size_t offset = 0; offset < 8; offset++) {
        for (size_t len = 0; len <= MAX_LEN; len++) {
            unsigned char *in = buf + offset;
            fill(in, len, key, SIZE_MAX, (unsigned)len);
            reference(want, in, len, key);
            memset(out, 0xee, sizeof out);
            assert_true(mcp_ws_unmask(out, in, len, key));
            assert_memory_equal(out, want, len);
            assert_int_equal(out[len], 0xee); /* nothing written past the payload */
            /* In place, as a caller may do with its read buffer. */
            assert_true(mcp_ws_unmask(in, in, len, key));
            assert_memory_equal(in, want, len);
        }
    }
}

static void one_high_byte_anywhere_is_seen(void **state) {
    (void)state;
    static const unsigned char key[4] = {0x00, 0x80, 0x7f, 0xff};
    unsigned char in[MAX_LEN], out[MAX_LEN];
    for (size_t len = 1; len <= MAX_LEN; len += 37) {
        for (size_t at = 0; at < len; at++) {
            fill(in, len, key, at, 3);
            assert_false(mcp_ws_unmask(out, in, len, key));
            assert_int_equal(out[at], 0xc3);
        }
    }
    /* Masked bytes with high bits that unmask to ASCII are ASCII. */
    fill(in, 200, key, SIZE_MAX, 5);
    assert_true(mcp_ws_unmask(out, in, 200, key));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_byte_loop_at_every_length),
        cmocka_unit_test(one_high_byte_anywhere_is_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
