/*
 * A WebSocket connection, sans I/O: the opening handshake, then wslay's
 * framing around one mcp_session.
 *
 * wslay does no I/O of its own. Its recv callback reads from the bytes of
 * the current feed and says "would block" when they run out; its send
 * callback appends frames to our output buffer and never blocks, so the
 * output buffer is the only queue and the glue's back-pressure applies to
 * it. Replies the session produces while a read is being handled are
 * queued in wslay and framed together when the read is done, so one read
 * gives one write.
 *
 * wslay reassembles fragments (bounded by max_message_size: beyond it, it
 * answers 1009 and stops reading), answers pings, and runs the close
 * handshake. We add what MCP needs: text only (binary is 1003), one
 * JSON-RPC message per text message, and counting of every close we send
 * for a fault.
 */
#include "net/ws.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define MCP_WS_KEEP_BYTES (256 * 1024)

struct mcp_ws_conn {
    mcp_ws_server *ws;
    mcp_ws_conn_io io;
    mcp_net_counters *counters;
    mcp_net_counters own_counters; /* when the caller gives none */
    mcp_ws_handshake hs;
    wslay_event_context_ptr ctx;
    mcp_session *session;
    mcp_sink sink;
    mcp_buf out;
    mcp_str input;          /* what the recv callback may still take */
    uint16_t close_code;    /* of the close frame we sent, once sent */
    bool upgraded;
    bool refused;
    bool failed;            /* wslay or the session gave up: close without more */
    bool in_feed;
    bool detached;
};

/* ---- wslay callbacks ----------------------------------------------------------------- */
static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
    (void)flags;
    mcp_ws_conn *c = user;
    if (!c->input.len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->input.len ? len : c->input.len;
    memcpy(buf, c->input.ptr, n);
    c->input.ptr += n;
    c->input.len -= n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user) {
    (void)flags;
    mcp_ws_conn *c = user;
    if (mcp_buf_append(&c->out, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void close_with(mcp_ws_conn *c, uint16_t code, const char *reason) {
    if (!c->ctx || wslay_event_get_close_sent(c->ctx)) return;
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    /* After a fault nothing more of the peer's is read; a polite close
     * (drain) still waits for the peer's answering close frame. */
    if (code != WSLAY_CODE_GOING_AWAY && code != WSLAY_CODE_NORMAL_CLOSURE) wslay_event_shutdown_read(c->ctx);
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user) {
    (void)ctx;
    mcp_ws_conn *c = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        close_with(c, WSLAY_CODE_UNSUPPORTED_DATA, "MCP messages are text");
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME) return; /* control frames: wslay answers them */
    if (c->detached || wslay_event_get_close_sent(c->ctx)) return; /* after our close, data is dropped */
    mcp_net_count(&c->counters->messages_in, 1);
    static const mcp_transport_info info = {.transport = "tcp", .network_protocol = "websocket"};
    if (mcp_session_handle_from(c->session, (const char *)arg->msg, arg->msg_length, &info) < 0) {
        mcp_log(MCP_LOG_ERROR, "ws: session failed, closing the connection");
        close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR, "internal error");
    }
}

/* ---- Output -------------------------------------------------------------------------- */
/* Frame everything queued into out, and count the close we sent. */
static void frame_output(mcp_ws_conn *c) {
    if (!c->ctx || c->failed) return;
    if (wslay_event_send(c->ctx) < 0) c->failed = true;
    if (!c->close_code && wslay_event_get_close_sent(c->ctx)) {
        c->close_code = wslay_event_get_status_code_sent(c->ctx);
        if (c->close_code == WSLAY_CODE_MESSAGE_TOO_BIG) mcp_net_count(&c->counters->oversized, 1);
        else if (c->close_code != WSLAY_CODE_NORMAL_CLOSURE && c->close_code != WSLAY_CODE_GOING_AWAY &&
                 c->close_code != WSLAY_CODE_NO_STATUS_RCVD)
            mcp_net_count(&c->counters->ws_faults, 1);
    }
}

static int conn_emit(mcp_ws_conn *c, const char *message, size_t len) {
    if (c->detached || !c->ctx || c->failed) {
        mcp_net_count(&c->counters->output_dropped, 1);
        return MCP_ECLOSED;
    }
    struct wslay_event_msg msg = {.opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)message, .msg_length = len};
    int rc = wslay_event_queue_msg(c->ctx, &msg);
    if (rc == WSLAY_ERR_NOMEM) return MCP_ENOMEM;
    if (rc) {
        /* Our close is queued or sent: the peer will not read this. */
        mcp_net_count(&c->counters->output_dropped, 1);
        return MCP_ECLOSED;
    }
    if (!c->in_feed) {
        frame_output(c);
        if (c->io.flush) c->io.flush(c->io.user);
    }
    return MCP_OK;
}

/* The session's sink: on the owning loop the message joins the current
 * batch; from another thread it travels to the loop in a note. */
static int sink_write(void *user, const char *message, size_t len) {
    mcp_ws_conn *c = user;
    mcp_net_worker *worker = c->io.worker;
    if (!worker || mcp_net_worker_current() == worker) return conn_emit(c, message, len);
    mcp_net_note *note = malloc(sizeof *note + len + 1);
    if (!note) return MCP_ENOMEM;
    note->kind = (mcp_net_note_kind)MCP_WS_NOTE_OUTPUT;
    note->conn = NULL;
    note->worker = worker;
    note->session = NULL;
    note->target = c->io.user;
    memcpy(note->data, message, len);
    note->len = len;
    mcp_net_worker_post(worker, note);
    return MCP_OK;
}

void mcp_ws_conn_deliver(mcp_ws_conn *c, const char *message, size_t len) { conn_emit(c, message, len); }

/* ---- Lifecycle --------------------------------------------------------------------------- */
mcp_ws_conn *mcp_ws_conn_new(mcp_ws_server *ws, const mcp_ws_conn_io *io, mcp_net_counters *counters) {
    mcp_ws_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ws = ws;
    if (io) c->io = *io;
    c->counters = counters ? counters : &c->own_counters;
    mcp_buf_init(&c->out);
    mcp_ws_handshake_init(&c->hs);
    return c;
}

static int conn_upgrade(mcp_ws_conn *c) {
    static const struct wslay_event_callbacks CALLBACKS = {
        .recv_callback = on_recv,
        .send_callback = on_send,
        .on_msg_recv_callback = on_message,
    };
    if (wslay_event_context_server_init(&c->ctx, &CALLBACKS, c)) {
        c->ctx = NULL;
        return MCP_ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, c->ws->max_message_size);
    c->sink = (mcp_sink){.write = sink_write, .user = c};
    c->session = mcp_session_new(c->ws->server, &c->sink);
    if (!c->session) return MCP_ENOMEM;
    return MCP_OK;
}

void mcp_ws_conn_feed(mcp_ws_conn *c, const char *data, size_t len) {
    if (c->refused || c->failed || c->detached) return;
    mcp_str input = {data, len};
    c->in_feed = true;
    if (!c->upgraded) {
        int rc = mcp_ws_handshake_feed(&c->hs, c->ws, &input, &c->out);
        if (rc == MCP_WS_HS_REFUSED) {
            c->refused = true;
            mcp_net_count(&c->counters->ws_rejected, 1);
        } else if (rc == MCP_WS_HS_DONE) {
            mcp_ws_handshake_free(&c->hs);
            c->upgraded = true;
            mcp_net_count(&c->counters->ws_upgraded, 1);
            if (conn_upgrade(c)) {
                mcp_log(MCP_LOG_ERROR, "ws: no memory for a connection");
                c->failed = true;
            }
        }
    }
    if (c->upgraded && !c->failed && input.len && wslay_event_get_read_enabled(c->ctx)) {
        c->input = input;
        if (wslay_event_recv(c->ctx) < 0) {
            close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL);
        }
        c->input = (mcp_str){NULL, 0};
    }
    c->in_feed = false;
    frame_output(c);
}

mcp_buf *mcp_ws_conn_out(mcp_ws_conn *c) { return &c->out; }

void mcp_ws_conn_close(mcp_ws_conn *c, uint16_t code, const char *reason) {
    if (!c->upgraded) {
        c->refused = true; /* nothing to say on a connection that never upgraded */
        return;
    }
    close_with(c, code, reason);
    if (!c->in_feed) frame_output(c);
}

bool mcp_ws_conn_should_close(const mcp_ws_conn *c) {
    if (c->refused || c->failed) return true;
    if (!c->upgraded) return false;
    return !wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx);
}

bool mcp_ws_conn_upgraded(const mcp_ws_conn *c) { return c->upgraded; }

size_t mcp_ws_conn_pending(const mcp_ws_conn *c) {
    return c->session && !c->detached ? mcp_session_pending(c->session) : 0;
}

uint16_t mcp_ws_conn_close_code(const mcp_ws_conn *c) { return c->close_code; }

bool mcp_ws_conn_close_sent(const mcp_ws_conn *c) { return c->ctx && wslay_event_get_close_sent(c->ctx); }

mcp_session *mcp_ws_conn_detach(mcp_ws_conn *c) {
    c->detached = true;
    mcp_session *session = c->session;
    c->session = NULL;
    return session;
}

void mcp_ws_conn_free(mcp_ws_conn *c) {
    if (!c) return;
    if (c->ctx) wslay_event_context_free(c->ctx);
    if (!c->upgraded) mcp_ws_handshake_free(&c->hs);
    mcp_buf_free(&c->out);
    free(c);
}
