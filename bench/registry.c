/* The table of benchmark modules, built from bench/modules/modules.h. */
#include "harness.h"

#include <string.h>

#define BENCH_MODULE(name) extern const bench_module bench_module_##name;
#include "modules/modules.h"
#undef BENCH_MODULE

static const bench_module *const MODULES[] = {
#define BENCH_MODULE(name) &bench_module_##name,
#include "modules/modules.h"
#undef BENCH_MODULE
};

size_t bench_module_count(void) {
    return sizeof MODULES / sizeof MODULES[0];
}

const bench_module *bench_module_at(size_t i) {
    return i < bench_module_count() ? MODULES[i] : NULL;
}

const bench_module *bench_module_find(const char *name) {
    for (size_t i = 0; i < bench_module_count(); i++)
        if (!strcmp(MODULES[i]->name, name)) return MODULES[i];
    return NULL;
}

const bench_workload *bench_workload_find(const char *id, const bench_module **module_out) {
    for (size_t i = 0; i < bench_module_count(); i++) {
        const bench_module *m = MODULES[i];
        for (size_t j = 0; j < m->workload_count; j++) {
            if (!strcmp(m->workloads[j].id, id)) {
                if (module_out) *module_out = m;
                return &m->workloads[j];
            }
        }
    }
    return NULL;
}
