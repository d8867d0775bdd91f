/*
 * base/cpu.h — what the CPU running us can do, for the few loops that have
 * a wider variant (the JSON string scan, WebSocket unmasking). Asked once,
 * then a relaxed load; private to libmcp.
 */
#ifndef MCP_BASE_CPU_H
#define MCP_BASE_CPU_H

#include <stdbool.h>

/* AVX2 usable: the CPU has it and the OS saves its registers. False on
 * builds for other architectures. */
bool mcp_cpu_has_avx2(void);

#endif
