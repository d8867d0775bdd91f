/*
 * Logging to stderr. stdout is reserved for protocol messages (stdio
 * transport), so nothing here ever writes there. One fprintf per line keeps
 * lines from different threads whole.
 */
#include "mcp/base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"debug", "info", "notice", "warning",
                                          "error", "critical", "alert", "emergency"};

static atomic_int log_threshold = -1; /* -1: not yet read from the environment */

const char *mcp_log_level_name(mcp_log_level level) {
    if ((unsigned)level > MCP_LOG_EMERGENCY) return "unknown";
    return level_names[level];
}

int mcp_log_level_parse(const char *name, mcp_log_level *out) {
    for (int i = 0; i <= MCP_LOG_EMERGENCY; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (mcp_log_level)i;
            return MCP_OK;
        }
    }
    return MCP_EINVAL;
}

void mcp_log_set_level(mcp_log_level level) {
    atomic_store(&log_threshold, (int)level);
}

mcp_log_level mcp_log_get_level(void) {
    int t = atomic_load(&log_threshold);
    if (t < 0) {
        mcp_log_level parsed = MCP_LOG_WARNING;
        const char *env = getenv("MCPD_LOG");
        if (env) mcp_log_level_parse(env, &parsed);
        t = (int)parsed;
        atomic_store(&log_threshold, t);
    }
    return (mcp_log_level)t;
}

static mcp_log_sink_fn log_sink;
static void *log_sink_user;

void mcp_log_set_sink(mcp_log_sink_fn fn, void *user) {
    log_sink_user = user;
    log_sink = fn;
}

void mcp_log(mcp_log_level level, const char *fmt, ...) {
    if (level < mcp_log_get_level()) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_sink) {
        log_sink(log_sink_user, level, msg);
        return;
    }
    char ts[32];
    mcp_time_iso8601(ts);
    fprintf(stderr, "%s mcpd %s: %s\n", ts, mcp_log_level_name(level), msg);
}
