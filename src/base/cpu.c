/*
 * cpu.c — the CPU feature question of base/cpu.h, answered once.
 */
#include "base/cpu.h"

bool mcp_cpu_has_avx2(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static int have = -1; /* not asked yet */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h == 1;
#else
    return false;
#endif
}
