/* mcpd call: the MCP client command. The client and network transports
 * arrive with the network runtime; until then the command says so. */
#include "app/app.h"

#include <stdio.h>

int app_call(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("mcpd call: the MCP client is not built yet (network runtime pending)\n", stderr);
    return 2;
}
