/*
 * Deterministic mode: instead of timing, count the instructions a fixed
 * piece of work executes under valgrind's callgrind. The count does not move
 * with the load of a shared machine, so CI can hold it to a tight threshold
 * where a timed benchmark could only hold a loose one. (perf stat would be
 * faster but hardware counters are not available on every machine mcpd is
 * built on, including virtual ones; callgrind works everywhere valgrind
 * does.)
 *
 * Only the module's deterministic function is counted (--toggle-collect),
 * so process start-up, argument parsing and the dynamic loader are not.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The one function callgrind counts; kept out of line so that its name
 * survives optimisation. */
__attribute__((noinline)) int bench_deterministic_entry(const bench_module *m);
__attribute__((noinline)) int bench_deterministic_entry(const bench_module *m) {
    return m->deterministic();
}

int bench_cmd_deterministic_run(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: mcpd bench deterministic-run MODULE (used under callgrind)\n", stderr);
        return 2;
    }
    const bench_module *m = bench_module_find(argv[1]);
    if (!m || !m->deterministic) {
        fprintf(stderr, "mcpd bench: module '%s' has no deterministic workload\n", argv[1]);
        return 2;
    }
    int rc = bench_deterministic_entry(m);
    if (rc) fprintf(stderr, "mcpd bench: deterministic workload of %s failed: %s\n", m->name, mcp_strerror(rc));
    return rc ? 2 : 0;
}

static bool valgrind_present(void) {
    return system("valgrind --version >/dev/null 2>&1") == 0;
}

int bench_instructions_measure(const bench_module *m, uint64_t *count) {
    *count = 0;
    if (!m->deterministic) return MCP_EINVAL;
    if (!valgrind_present()) return MCP_EUNSUPPORTED;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return MCP_EIO;
    exe[n] = '\0';
    char out_file[] = "/tmp/mcpd-callgrind-XXXXXX";
    int fd = mkstemp(out_file);
    if (fd < 0) return MCP_EIO;
    close(fd);

    char out_opt[64];
    snprintf(out_opt, sizeof out_opt, "--callgrind-out-file=%s", out_file);
    pid_t pid = fork();
    if (pid < 0) {
        unlink(out_file);
        return MCP_EIO;
    }
    if (pid == 0) {
        /* valgrind's own chatter is not ours to print. */
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        execlp("valgrind", "valgrind", "--tool=callgrind", out_opt,
               "--toggle-collect=bench_deterministic_entry", exe, "bench", "deterministic-run", m->name,
               (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    int rc = MCP_OK;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = MCP_EIO;
    FILE *f = rc == 0 ? fopen(out_file, "r") : NULL;
    if (rc == 0 && !f) rc = MCP_EIO;
    if (f) {
        char line[512];
        uint64_t totals = 0;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "totals:", 7)) totals = strtoull(line + 7, NULL, 10);
            else if (!totals && !strncmp(line, "summary:", 8)) totals = strtoull(line + 8, NULL, 10);
        }
        fclose(f);
        if (totals == 0) rc = MCP_EPARSE;
        *count = totals;
    }
    unlink(out_file);
    return rc;
}

int bench_cmd_instructions(int argc, char **argv) {
    int failures = 0, measured = 0;
    for (size_t i = 0; i < bench_module_count(); i++) {
        const bench_module *m = bench_module_at(i);
        if (!m->deterministic) continue;
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            if (!strcmp(argv[a], m->name)) wanted = true;
        if (!wanted) continue;
        uint64_t count;
        uint64_t t0 = mcp_now_ns();
        int rc = bench_instructions_measure(m, &count);
        if (rc == MCP_EUNSUPPORTED) {
            fputs("mcpd bench instructions: valgrind is not installed (apt-get install valgrind)\n", stderr);
            return 2;
        }
        if (rc) {
            fprintf(stderr, "mcpd bench instructions: %s: %s\n", m->name, mcp_strerror(rc));
            failures++;
            continue;
        }
        measured++;
        printf("%-12s %14llu instructions  (%.1f s under callgrind)\n", m->name, (unsigned long long)count,
               (double)(mcp_now_ns() - t0) / 1e9);
    }
    if (!measured && !failures) {
        fputs("mcpd bench instructions: no such module with a deterministic workload\n", stderr);
        return 2;
    }
    return failures ? 2 : 0;
}
