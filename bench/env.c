/*
 * What a result was measured on: CPU, cores, kernel, compiler and flags of
 * this build, the git commit of the working tree, and the process's memory
 * as the kernel reports it. Results from different environments are not
 * comparable, so every record carries this.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef MCP_BUILD_TYPE
#define MCP_BUILD_TYPE "unknown"
#endif
#ifndef MCP_BUILD_FLAGS
#define MCP_BUILD_FLAGS "unknown"
#endif
#ifndef MCP_COMPILER
#define MCP_COMPILER "unknown"
#endif

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    size_t lead = strspn(s, " \t");
    if (lead) memmove(s, s + lead, strlen(s + lead) + 1);
}

static void cpu_model(char *out, size_t cap) {
    bench_copy_str(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) {
                bench_copy_str(out, cap, colon + 1);
                trim(out);
            }
            break;
        }
    }
    fclose(f);
}

/* The commit is asked of git at run time: the binary may be older or newer
 * than the tree it runs in, and the tree is what a result describes. */
static void git_commit(char *out, size_t cap) {
    bench_copy_str(out, cap, "unknown");
    FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
    if (!p) return;
    char line[128];
    if (fgets(line, sizeof line, p)) {
        trim(line);
        if (strlen(line) == 40 && strspn(line, "0123456789abcdef") == 40) bench_copy_str(out, cap, line);
    }
    pclose(p);
}

void bench_env_capture(bench_env *env) {
    memset(env, 0, sizeof *env);
    cpu_model(env->cpu_model, sizeof env->cpu_model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    env->cores = cores > 0 ? (int)cores : 1;
    struct utsname u;
    char kernel[3 * sizeof u.release + 3] = "unknown";
    if (uname(&u) == 0) snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    bench_copy_str(env->kernel, sizeof env->kernel, kernel);
    bench_copy_str(env->compiler, sizeof env->compiler, MCP_COMPILER);
    bench_copy_str(env->build_type, sizeof env->build_type, MCP_BUILD_TYPE);
    bench_copy_str(env->build_flags, sizeof env->build_flags, MCP_BUILD_FLAGS);
    trim(env->build_flags);
    if (!env->build_flags[0]) bench_copy_str(env->build_flags, sizeof env->build_flags, "(none)");
    git_commit(env->git_commit, sizeof env->git_commit);
    bench_copy_str(env->mcpd_version, sizeof env->mcpd_version, MCP_VERSION_STRING);
}

static double status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0.0;
    char line[256];
    size_t flen = strlen(field);
    double kib = 0.0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, field, flen) && line[flen] == ':') {
            kib = strtod(line + flen + 1, NULL);
            break;
        }
    }
    fclose(f);
    return kib;
}

double bench_rss_mib(void) {
    return status_kib("VmRSS") / 1024.0;
}

double bench_rss_peak_mib(void) {
    return status_kib("VmHWM") / 1024.0;
}

/* Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+), so
 * the peak is per task rather than for the whole process. */
void bench_rss_peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

/* Cost of the two clock reads that bracket every timed operation: part of
 * every latency sample, reported so that readers can judge tiny latencies. */
double bench_timer_overhead_ns(void) {
    enum { N = 20000 };
    uint64_t best = UINT64_MAX;
    for (int round = 0; round < 5; round++) {
        uint64_t t0 = mcp_now_ns();
        uint64_t sink = 0;
        for (int i = 0; i < N; i++) {
            uint64_t a = mcp_now_ns();
            uint64_t b = mcp_now_ns();
            sink += b - a;
        }
        uint64_t t = mcp_now_ns() - t0;
        (void)sink;
        if (t < best) best = t;
    }
    return (double)best / N;
}
