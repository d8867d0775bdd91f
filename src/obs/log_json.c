/*
 * Structured log records: one JSON object per line on stderr, carrying the
 * trace and span ids of the span the thread works under, so that logs and
 * traces join up. MCP logging notifications send the same object as their
 * data, so a client sees what the operator sees.
 */
#include "obs_internal.h"

#include "mcp/json.h"

#include <stdio.h>
#include <time.h>

int mcp_obs_log_record(mcp_buf *out, mcp_log_level level, const char *logger, const char *msg,
                       const mcp_span *span) {
    if (!out || !msg) return MCP_EINVAL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    mcp_json_writer w;
    mcp_json_writer_init(&w, out);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "ts");
    mcp_json_write_cstr(&w, when);
    mcp_json_write_key(&w, "level");
    mcp_json_write_cstr(&w, mcp_log_level_name(level));
    if (logger) {
        mcp_json_write_key(&w, "logger");
        mcp_json_write_cstr(&w, logger);
    }
    mcp_json_write_key(&w, "msg");
    mcp_json_write_cstr(&w, msg);
    if (span) {
        char hex[33];
        mcp_hex_encode(span->ctx.trace_id, 16, hex);
        mcp_json_write_key(&w, "trace_id");
        mcp_json_write_string(&w, hex, 32);
        mcp_hex_encode(span->ctx.span_id, 8, hex);
        mcp_json_write_key(&w, "span_id");
        mcp_json_write_string(&w, hex, 16);
    }
    mcp_json_end_object(&w);
    return mcp_json_writer_status(&w);
}

void mcp_obs_log_sink(void *user, mcp_log_level level, const char *msg) {
    mcp_buf line;
    mcp_buf_init(&line);
    if (mcp_obs_log_record(&line, level, user, msg, mcp_span_current()) == 0 && mcp_buf_append_char(&line, '\n') == 0)
        fwrite(line.data, 1, line.len, stderr); /* one write keeps lines of threads whole */
    mcp_buf_free(&line);
}

void mcp_obs_log(mcp_log_level level, const char *logger, const char *fmt, ...) {
    if (level < mcp_log_get_level()) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mcp_buf line;
    mcp_buf_init(&line);
    if (mcp_obs_log_record(&line, level, logger, msg, mcp_span_current()) == 0 && mcp_buf_append_char(&line, '\n') == 0)
        fwrite(line.data, 1, line.len, stderr); /* one write keeps lines of threads whole */
    mcp_buf_free(&line);
}
