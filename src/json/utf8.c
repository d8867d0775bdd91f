/*
 * UTF-8 validation shared by the parser (strings must be valid UTF-8) and the
 * writer (invalid bytes are replaced so output is always valid JSON). Callers
 * handle ASCII runs themselves, eight bytes at a time; this only sees a
 * sequence whose lead byte is >= 0x80.
 */
#include "json/json_internal.h"

size_t mcp_json_utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    /* Ranges from the Unicode standard's table of well-formed sequences:
     * the second byte's range is what excludes overlongs (E0, F0),
     * surrogates (ED) and values past U+10FFFF (F4). */
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}
