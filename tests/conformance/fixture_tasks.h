/*
 * The tools the conformance suite's tasks-extension scenarios
 * (io.modelcontextprotocol/tasks, tasks-*) name: greet, slow_compute,
 * failing_job, protocol_error_job, confirm_delete, multi_input and
 * test_tool_with_task. Register them with fixture_tasks_register; after
 * mcp_serve returns and before mcp_server_free, call fixture_tasks_drain,
 * which ends the slow_compute jobs still sleeping on threads of their own
 * and waits until each has completed its call.
 */
#ifndef MCPD_FIXTURE_TASKS_H
#define MCPD_FIXTURE_TASKS_H

#include "mcp.h"

int fixture_tasks_register(mcp_server *s);
void fixture_tasks_drain(void);

#endif
