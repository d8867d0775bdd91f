/* Subcommands of the mcpd program. Each takes argv starting at its own name
 * and returns the process exit code. */
#ifndef MCP_APP_H
#define MCP_APP_H

#include "mcp.h"

int app_serve(int argc, char **argv);
int app_call(int argc, char **argv);
int app_bench(int argc, char **argv); /* bench/ */

#endif
