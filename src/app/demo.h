/*
 * The demo catalog that `mcpd serve` exposes: a small, fixed set of tools,
 * resources and prompts that exercises every part of the protocol an
 * interop or benchmark client needs.
 *
 *   tools      echo {text}         -> the text back
 *              add {a, b}          -> "a + b = sum" and structuredContent {"sum": ...}
 *                                     (declares an outputSchema)
 *              slow {steps 1..100, delay_ms 0..10000}
 *                                  -> runs on its own thread, one progress
 *                                     notification per step, stops when cancelled
 *              extra_0001 ...      -> optional filler tools, for pagination
 *   resource   mcpd://demo/readme  (text/markdown)
 *   template   mcpd://demo/greeting/{name}  (text/plain, "Hello, <name>!")
 *   prompt     review {code (required)}
 *   completion review's language and greeting's name, from fixed lists
 *
 * With app_demo_register_features (mcpd serve --all-features), also:
 *   tools      confirm {action}    -> asks the user (elicitation; a server
 *                                     request, or input_required in 2026-07-28)
 *              job {steps, delay_ms} -> slow that may run as a task
 *              log {text, level}   -> a notifications/message at that level
 */
#ifndef MCP_APP_DEMO_H
#define MCP_APP_DEMO_H

#include "mcp/mcp.h"

#define APP_DEMO_README_URI "mcpd://demo/readme"
#define APP_DEMO_GREETING_TEMPLATE "mcpd://demo/greeting/{name}"

/* Register the catalog, plus extra_tools filler tools named extra_0001,
 * extra_0002 ... Returns 0 or the first registration error. */
int app_demo_register(mcp_server *server, size_t extra_tools);
/* The feature tools listed above (confirm, job, log). */
int app_demo_register_features(mcp_server *server);

#endif
