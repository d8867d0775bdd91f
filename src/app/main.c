/*
 * mcpd — serve, call and benchmark MCP. This file only routes the first
 * argument to a subcommand; each subcommand lives in its own file.
 */
#include "app/app.h"

#include <stdio.h>
#include <string.h>

static void print_usage(FILE *out) {
    fputs("usage: mcpd <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve    serve MCP (demo catalog) over stdio and network transports\n"
          "  call     call a method on an MCP server and print the result\n"
          "  bench    run, compare and report benchmarks\n"
          "\n"
          "options:\n"
          "  -h, --help     show this help (also: mcpd <command> --help)\n"
          "  -V, --version  show the version\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("mcpd %s\n", MCP_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "serve")) return app_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "call")) return app_call(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return app_bench(argc - 1, argv + 1);
    fprintf(stderr, "mcpd: unknown command '%s'\n\n", cmd);
    print_usage(stderr);
    return 2;
}
