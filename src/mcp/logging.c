/*
 * logging.c — log messages to the client (notifications/message) and the
 * level that filters them: logging/setLevel per session in the handshake
 * era, _meta "io.modelcontextprotocol/logLevel" per request in the modern
 * era (where a request without it gets no log messages at all).
 *
 * A handshake-era session that never set a level receives every message:
 * the specification names no default, and this is what the reference SDKs
 * do, so a client that wants less says so with logging/setLevel.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>

int mcp_log_level_of(const mcp_json *name)
{
    mcp_log_level level;
    if (!mcp_json_is_string(name) || strlen(mcp_json_str(name, "")) != mcp_json_str_len(name) ||
        mcp_log_level_parse(mcp_json_str(name, ""), &level) != 0)
        return -1;
    return (int)level;
}

int mcp_method_set_level(mcp_call *call)
{
    int level = mcp_log_level_of(mcp_json_get(call->params, "level"));
    if (level < 0)
        return mcp_call_set_error(call, MCP_RPC_INVALID_PARAMS,
                                  "Invalid params: level must be one of debug, info, notice, warning, "
                                  "error, critical, alert, emergency");
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    s->log_level = level;
    pthread_mutex_unlock(&s->lock);
    mcp_json_writer w;
    mcp_call_result_begin(call, &w);
    mcp_call_result_end(call, &w);
    return mcp_json_writer_status(&w);
}

/* data_json is a JSON value text, or NULL with text (a string) instead. */
static int write_message(mcp_buf *buf, mcp_log_level level, const char *logger, const char *data_json,
                         const char *text, size_t text_len)
{
    mcp_json_writer w;
    mcp_json_writer_init(&w, buf);
    mcp_rpc_begin_notification(&w, "notifications/message");
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "level");
    mcp_json_write_cstr(&w, mcp_log_level_name(level));
    if (logger) {
        mcp_json_write_key(&w, "logger");
        mcp_json_write_cstr(&w, logger);
    }
    mcp_json_write_key(&w, "data");
    if (data_json)
        mcp_json_write_raw(&w, data_json, strlen(data_json));
    else
        mcp_json_write_string(&w, text, text_len);
    mcp_json_end_object(&w);
    mcp_rpc_end_notification(&w);
    return mcp_json_writer_status(&w);
}

/* The observer's structured record for a text message, NUL-terminated in
 * out; false when there is no observer to make one (data stays text). */
static bool structured(const mcp_server *server, void *handle, mcp_log_level level, const char *logger,
                       const char *text, mcp_buf *out)
{
    const mcp_observer *o = server->opts.observer;
    return o && o->log_record && o->log_record(o->user, handle, level, logger, text, out) == 0 &&
           mcp_buf_append_char(out, '\0') == 0;
}

static bool call_admits(mcp_call *call, mcp_log_level level)
{
    if (call->modern)
        return call->log_level >= 0 && (int)level >= call->log_level;
    mcp_session *s = call->session;
    pthread_mutex_lock(&s->lock);
    int min = s->log_level;
    pthread_mutex_unlock(&s->lock);
    return min < 0 || (int)level >= min;
}

static int call_log(mcp_call *call, mcp_log_level level, const char *logger, const char *data_json,
                    const char *text, size_t len)
{
    if ((unsigned)level > MCP_LOG_EMERGENCY)
        return MCP_EINVAL;
    if (!call_admits(call, level))
        return 0;
    mcp_buf buf, record;
    mcp_buf_init(&buf);
    mcp_buf_init(&record);
    if (!data_json && structured(call->session->server, call->obs_handle, level, logger, text, &record))
        data_json = record.data;
    int rc = write_message(&buf, level, logger, data_json, text, len);
    mcp_buf_free(&record);
    if (rc == 0)
        mcp_session_emit_for(call->session, &call->id, NULL, buf.data, buf.len);
    mcp_buf_free(&buf);
    return rc;
}

int mcp_call_log(mcp_call *call, mcp_log_level level, const char *logger, const char *fmt, ...)
{
    if (!call || !fmt)
        return MCP_EINVAL;
    mcp_buf text;
    mcp_buf_init(&text);
    va_list ap;
    va_start(ap, fmt);
    int rc = mcp_buf_vappendf(&text, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = call_log(call, level, logger, NULL, text.data ? text.data : "", text.len);
    mcp_buf_free(&text);
    return rc;
}

int mcp_call_log_json(mcp_call *call, mcp_log_level level, const char *logger, const char *data_json)
{
    if (!call || !data_json || mcp_json_validate(data_json, strlen(data_json), NULL, NULL) != 0)
        return MCP_EINVAL;
    return call_log(call, level, logger, data_json, NULL, 0);
}

int mcp_server_log(mcp_server *server, mcp_log_level level, const char *logger, const char *fmt, ...)
{
    if (!server || !fmt || (unsigned)level > MCP_LOG_EMERGENCY)
        return MCP_EINVAL;
    mcp_buf text, buf;
    mcp_buf_init(&text);
    mcp_buf_init(&buf);
    va_list ap;
    va_start(ap, fmt);
    int rc = mcp_buf_vappendf(&text, fmt, ap);
    va_end(ap);
    mcp_buf record;
    mcp_buf_init(&record);
    if (rc == 0) {
        const char *data = structured(server, NULL, level, logger, text.data ? text.data : "", &record) ? record.data
                                                                                                       : NULL;
        rc = write_message(&buf, level, logger, data, text.data ? text.data : "", text.len);
    }
    mcp_buf_free(&record);
    int sent = 0;
    if (rc == 0) {
        pthread_mutex_lock(&server->sessions_lock);
        for (mcp_session *s = server->sessions; s; s = s->srv_next) {
            pthread_mutex_lock(&s->lock);
            /* Modern sessions have no session-wide level: nothing is sent. */
            if (s->state == MCP_SESSION_READY && (s->log_level < 0 || (int)level >= s->log_level)) {
                s->sink.write(s->sink.user, buf.data, buf.len);
                sent++;
            }
            pthread_mutex_unlock(&s->lock);
        }
        pthread_mutex_unlock(&server->sessions_lock);
    }
    mcp_buf_free(&text);
    mcp_buf_free(&buf);
    return rc ? rc : sent;
}
