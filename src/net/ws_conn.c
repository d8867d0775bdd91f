/*
 * A WebSocket connection, sans I/O: the opening handshake, then framing
 * around one mcp_session.
 *
 * The common case is ours: whole, final, masked text frames of valid UTF-8
 * within the size limit, read and answered without wslay. Per 1 KiB
 * message wslay costs about 30,000 instructions (a byte-at-a-time unmask
 * and UTF-8 check, a malloc and copy per message each way), three times
 * the MCP work behind it; here the payload is unmasked 64 bytes a step
 * (AVX2; 16 without) into one reused buffer, checked for UTF-8 only when
 * a byte above 0x7f turned up while unmasking, and a reply is built by
 * the session straight into the output behind room for its frame header
 * (mcp_sink.lend), so it is written once.
 *
 * Everything else goes to wslay, and once it does, the connection stays
 * with wslay: the first frame that is not plain text (ping, pong, close,
 * a fragment, binary, a bad frame, invalid UTF-8, a message over the limit)
 * and all input after it are wslay's to read, so its state machine starts
 * at a frame boundary and sees every byte from there on. Replies go out
 * without wslay only while it has nothing queued (before our close).
 *
 * wslay does no I/O of its own. Its recv callback reads from the bytes of
 * the current feed and says "would block" when they run out; its send
 * callback appends frames to our output buffer and never blocks, so the
 * output buffer is the only queue and the glue's back-pressure applies to
 * it. Replies the session produces while a read is being handled are
 * framed together when the read is done, so one read gives one write.
 *
 * wslay reassembles fragments (bounded by max_message_size: beyond it, it
 * answers 1009 and stops reading), answers pings, and runs the close
 * handshake. We add what MCP needs: text only (binary is 1003), one
 * JSON-RPC message per text message, and counting of every close we send
 * for a fault.
 */
#include "base/cpu.h"
#include "net/ws.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define MCP_WS_KEEP_BYTES (256 * 1024)

struct mcp_ws_conn {
    mcp_ws_server *ws;
    mcp_ws_conn_io io;
    mcp_net_counters *counters;
    mcp_net_counters own_counters; /* when the caller gives none */
    /* Replies posted from other threads and not yet delivered on the loop:
     * pending for the idle sweep, as the call that sent one stops being
     * pending before its reply arrives (see mcp_ws_conn_pending). */
    atomic_uint replies_posted;
    mcp_ws_handshake hs;
    wslay_event_context_ptr ctx;
    mcp_session *session;
    mcp_sink sink;
    mcp_buf out;
    mcp_str input;          /* what the recv callback may still take */
    mcp_buf carry;          /* ours: the start of a frame split across reads */
    mcp_buf text;           /* ours: the unmasked payload being handled */
    uint16_t close_code;    /* of the close frame we sent, once sent */
    bool upgraded;
    bool refused;
    bool failed;            /* wslay or the session gave up: close without more */
    bool in_feed;
    bool detached;
    bool slow;              /* wslay reads everything from here on */
    bool close_queued;      /* we asked wslay to close: replies go through it */
    bool lend_open;         /* out is lent to the session (see sink_lend) */
    size_t lend_start;      /* where the lent reply begins in out */
};

/* Room kept for the frame header in front of a lent reply: the header of
 * a 126..65535-byte payload, which a 1 KiB tool result is. */
#define MCP_WS_LEND_HEAD 4

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
    c->close_queued = true;
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    /* After a fault nothing more of the peer's is read; a polite close
     * (drain) still waits for the peer's answering close frame. */
    if (code != WSLAY_CODE_GOING_AWAY && code != WSLAY_CODE_NORMAL_CLOSURE) wslay_event_shutdown_read(c->ctx);
}

/* One whole text message, by either reader. */
static void handle_text(mcp_ws_conn *c, const char *msg, size_t len) {
    if (c->detached || wslay_event_get_close_sent(c->ctx)) return; /* after our close, data is dropped */
    mcp_net_count(&c->counters->messages_in, 1);
    static const mcp_transport_info info = {.transport = "tcp", .network_protocol = "websocket"};
    if (mcp_session_handle_from(c->session, msg, len, &info) < 0) {
        mcp_log(MCP_LOG_ERROR, "ws: session failed, closing the connection");
        close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR, "internal error");
    }
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user) {
    (void)ctx;
    mcp_ws_conn *c = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        close_with(c, WSLAY_CODE_UNSUPPORTED_DATA, "MCP messages are text");
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME) return; /* control frames: wslay answers them */
    handle_text(c, (const char *)arg->msg, arg->msg_length);
}

/* ---- Our reader: plain text frames ----------------------------------------------------- */
/* Bytes of the frame at p so far: its whole length once the header is in
 * (0 until then, with *header_len the bytes the header needs), or
 * SIZE_MAX for a payload over limit. */
static size_t frame_length(const unsigned char *p, size_t len, size_t limit, size_t *header_len) {
    size_t head = 2;
    if (len >= 2) {
        unsigned n7 = p[1] & 0x7fu;
        head += (n7 == 126 ? 2 : n7 == 127 ? 8 : 0) + ((p[1] & 0x80u) ? 4 : 0);
    }
    *header_len = head;
    if (len < head) return 0;
    uint64_t n = p[1] & 0x7fu;
    if (n == 126) n = ((uint64_t)p[2] << 8) | p[3];
    else if (n == 127)
        for (int i = 0; i < 8; i++) n = i ? (n << 8) | p[2 + i] : p[2];
    if (n > limit) return SIZE_MAX;
    return head + (size_t)n;
}

/* UTF-8 as RFC 3629 has it (no overlongs, no surrogates, nothing past
 * U+10FFFF); ASCII runs are checked eight bytes at a time. */
static bool utf8_valid(const unsigned char *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char b = p[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) n = 1;
        else if (b >= 0xe0 && b <= 0xef) {
            n = 2;
            if (b == 0xe0) lo = 0xa0;
            else if (b == 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 3;
            if (b == 0xf0) lo = 0x90;
            else if (b == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (len - i <= n) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80) return false;
        i += n + 1;
    }
    return true;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 64 bytes a step with AVX2 when the CPU has it (asked once): a 1 KiB
 * message unmasks in ~200 instructions instead of ~800 sixteen bytes a
 * step. Returns how many bytes it did (a multiple of 64); the OR of the
 * unmasked bytes' high bits goes to *high. */
__attribute__((target("avx2"))) static size_t unmask_wide(unsigned char *out, const unsigned char *payload, size_t len,
                                                         uint64_t k, uint64_t *high) {
    __m256i key = _mm256_set1_epi64x((long long)k), acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        __m256i a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(payload + i)), key);
        __m256i b = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(payload + i + 32)), key);
        acc = _mm256_or_si256(acc, _mm256_or_si256(a, b));
        _mm256_storeu_si256((__m256i *)(void *)(out + i), a);
        _mm256_storeu_si256((__m256i *)(void *)(out + i + 32), b);
    }
    *high = _mm256_movemask_epi8(acc) ? 0x80 : 0;
    return i;
}

#endif

/* 64 or 16 bytes a step. The key repeats every four bytes, so any step
 * that is a multiple of four uses it unshifted. */
bool mcp_ws_unmask(unsigned char *out, const unsigned char *payload, size_t len, const unsigned char key[4]) {
    unsigned char key8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    uint64_t k, high = 0;
    memcpy(&k, key8, 8);
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (len >= 64 && mcp_cpu_has_avx2()) i = unmask_wide(out, payload, len, k, &high);
#endif
    for (; i + 16 <= len; i += 16) {
        uint64_t a, b;
        memcpy(&a, payload + i, 8);
        memcpy(&b, payload + i + 8, 8);
        a ^= k;
        b ^= k;
        high |= a | b;
        memcpy(out + i, &a, 8);
        memcpy(out + i + 8, &b, 8);
    }
    for (; i < len; i++) {
        out[i] = payload[i] ^ key[i & 3];
        high |= out[i];
    }
    return !(high & 0x8080808080808080ull);
}

/* The payload of a masked frame into c->text; *ascii says whether every
 * byte was below 0x80 (then it is valid UTF-8 as is). */
static int unmask(mcp_ws_conn *c, const unsigned char *payload, size_t len, const unsigned char key[4], bool *ascii) {
    mcp_buf_reset(&c->text);
    if (mcp_buf_reserve(&c->text, len + 1)) return MCP_ENOMEM;
    *ascii = mcp_ws_unmask((unsigned char *)c->text.data, payload, len, key);
    c->text.data[len] = '\0';
    c->text.len = len;
    return MCP_OK;
}

/* A whole frame: handled here (true) when it is a final masked text frame
 * of valid UTF-8; anything else is wslay's (false). */
static bool frame_take(mcp_ws_conn *c, const unsigned char *p, size_t frame_len, size_t head) {
    if (p[0] != 0x81 || !(p[1] & 0x80u)) return false; /* FIN + text, no reserved bits; masked */
    size_t len = frame_len - head;
    bool ascii;
    if (unmask(c, p + head, len, p + head - 4, &ascii)) return false; /* wslay will say it in its own way */
    if (!ascii && !utf8_valid((const unsigned char *)c->text.data, len)) return false; /* wslay closes with 1007 */
    handle_text(c, c->text.data, len);
    return true;
}

static void wslay_read(mcp_ws_conn *c, mcp_str input) {
    if (!input.len || !wslay_event_get_read_enabled(c->ctx)) return;
    c->input = input;
    if (wslay_event_recv(c->ctx) < 0) close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL);
    c->input = (mcp_str){NULL, 0};
}

/* From here on wslay reads: what is carried, then the rest of input. */
static void go_slow(mcp_ws_conn *c, mcp_str rest) {
    c->slow = true;
    if (c->carry.len) wslay_read(c, (mcp_str){c->carry.data, c->carry.len});
    mcp_buf_free(&c->carry);
    wslay_read(c, rest);
}

static void read_frames(mcp_ws_conn *c, mcp_str input) {
    size_t limit = c->ws->max_message_size;
    size_t head;
    /* First finish a frame that began in an earlier read. */
    while (c->carry.len && input.len && wslay_event_get_read_enabled(c->ctx)) {
        const unsigned char *p = (const unsigned char *)c->carry.data;
        size_t total = frame_length(p, c->carry.len, limit, &head);
        if (total == SIZE_MAX) {
            go_slow(c, input);
            return;
        }
        size_t want = (total ? total : head) - c->carry.len;
        size_t take = want < input.len ? want : input.len;
        if (mcp_buf_append(&c->carry, input.ptr, take)) {
            go_slow(c, input);
            return;
        }
        input.ptr += take;
        input.len -= take;
        p = (const unsigned char *)c->carry.data;
        total = frame_length(p, c->carry.len, limit, &head);
        if (!total || total > c->carry.len) continue;
        if (!frame_take(c, p, total, head)) {
            go_slow(c, input);
            return;
        }
        mcp_buf_reset(&c->carry);
        if (c->carry.cap > MCP_WS_KEEP_BYTES) mcp_buf_free(&c->carry);
    }
    /* Then whole frames where they lie, and the start of the next one. */
    while (input.len && !c->slow && wslay_event_get_read_enabled(c->ctx)) {
        const unsigned char *p = (const unsigned char *)input.ptr;
        size_t total = frame_length(p, input.len, limit, &head);
        if (total == SIZE_MAX) {
            go_slow(c, input);
            return;
        }
        if (!total || total > input.len) {
            if (mcp_buf_append(&c->carry, input.ptr, input.len)) go_slow(c, input);
            return;
        }
        if (!frame_take(c, p, total, head)) {
            go_slow(c, input);
            return;
        }
        input.ptr += total;
        input.len -= total;
    }
}

/* ---- Output -------------------------------------------------------------------------- */
/* The header of an unmasked final text frame of len bytes; its length. */
static size_t frame_head(unsigned char head[10], size_t len) {
    head[0] = 0x81;
    if (len < 126) {
        head[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        head[1] = 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
        return 4;
    }
    head[1] = 127;
    for (int i = 0; i < 8; i++) head[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* A lent reply that the session took back (it could not finish it) leaves
 * the room for its header behind: drop it before out is used again. */
static void lend_settle(mcp_ws_conn *c) {
    if (!c->lend_open) return;
    c->lend_open = false;
    c->out.len = c->lend_start - MCP_WS_LEND_HEAD;
    c->out.data[c->out.len] = '\0';
}

/* Frame everything queued into out, and count the close we sent. */
static void frame_output(mcp_ws_conn *c) {
    lend_settle(c);
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
    lend_settle(c);
    if (c->detached || !c->ctx || c->failed) {
        mcp_net_count(&c->counters->output_dropped, 1);
        return MCP_ECLOSED;
    }
    if (!c->slow && !c->close_queued) {
        /* Nothing of wslay's is waiting: the frame goes straight out. */
        unsigned char head[10];
        size_t n = frame_head(head, len);
        if (mcp_buf_reserve(&c->out, n + len)) return MCP_ENOMEM;
        memcpy(c->out.data + c->out.len, head, n);
        memcpy(c->out.data + c->out.len + n, message, len);
        c->out.len += n + len;
        if (!c->in_feed && c->io.flush) c->io.flush(c->io.user);
        return MCP_OK;
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

/* The session's lending sink (mcp_sink.lend): a reply is built straight
 * into out, after room for its frame header, instead of built in the
 * call's buffer and copied (ws_1k under callgrind: ~140 instructions less
 * per 1 KiB echo, of ~5,100, and the call's own 2 KB output buffer is not
 * touched). Only inside a read on the owning loop,
 * while replies go out without wslay: then whatever the session does with
 * the loan, the end of the read settles it before out is written. */
static mcp_buf *sink_lend(void *user) {
    mcp_ws_conn *c = user;
    mcp_net_worker *worker = c->io.worker;
    if (worker && mcp_net_worker_current() != worker) return NULL;
    lend_settle(c);
    if (!c->in_feed || c->detached || !c->ctx || c->failed || c->slow || c->close_queued) return NULL;
    if (mcp_buf_reserve(&c->out, MCP_WS_LEND_HEAD)) return NULL;
    c->out.len += MCP_WS_LEND_HEAD;
    c->lend_start = c->out.len;
    c->lend_open = true;
    return &c->out;
}

/* The reply is in out from start: its header goes in front. Most replies
 * fit the four bytes kept for it; a short one's payload moves up by two,
 * one over 64 KiB moves down by six. */
static int sink_lent(void *user, size_t start) {
    mcp_ws_conn *c = user;
    mcp_buf *out = &c->out;
    c->lend_open = false;
    size_t len = out->len - start;
    unsigned char head[10];
    size_t n = frame_head(head, len);
    size_t at = start - MCP_WS_LEND_HEAD;
    if (n == 2) {
        memmove(out->data + at + 2, out->data + start, len);
        out->len -= 2;
    } else if (n == 10) {
        if (mcp_buf_reserve(out, 10 - MCP_WS_LEND_HEAD)) {
            out->len = at;
            out->data[at] = '\0';
            mcp_net_count(&c->counters->output_dropped, 1);
            return MCP_ENOMEM;
        }
        memmove(out->data + at + 10, out->data + start, len);
        out->len += 10 - MCP_WS_LEND_HEAD;
    }
    memcpy(out->data + at, head, n);
    out->data[out->len] = '\0'; /* as every mcp_buf, after the move too */
    if (!c->in_feed && c->io.flush) c->io.flush(c->io.user);
    return MCP_OK;
}

/* The session's sink: on the owning loop the message joins the current
 * batch; from another thread it travels to the loop in a note. */
static int sink_write(void *user, const char *message, size_t len) {
    mcp_ws_conn *c = user;
    mcp_net_worker *worker = c->io.worker;
    if (!worker || mcp_net_worker_current() == worker) return conn_emit(c, message, len);
    atomic_fetch_add_explicit(&c->replies_posted, 1, memory_order_relaxed);
    int rc = mcp_net_worker_post_message(worker, MCP_WS_NOTE_OUTPUT, NULL, c->io.user, message, len);
    if (rc) atomic_fetch_sub_explicit(&c->replies_posted, 1, memory_order_relaxed);
    return rc;
}

void mcp_ws_conn_deliver(mcp_ws_conn *c, const char *message, size_t len) {
    atomic_fetch_sub_explicit(&c->replies_posted, 1, memory_order_relaxed);
    conn_emit(c, message, len);
}

/* ---- Lifecycle --------------------------------------------------------------------------- */
mcp_ws_conn *mcp_ws_conn_new(mcp_ws_server *ws, const mcp_ws_conn_io *io, mcp_net_counters *counters) {
    mcp_ws_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ws = ws;
    if (io) c->io = *io;
    c->counters = counters ? counters : &c->own_counters;
    mcp_buf_init(&c->out);
    mcp_buf_init(&c->carry);
    mcp_buf_init(&c->text);
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
    c->sink = (mcp_sink){.write = sink_write, .user = c, .lend = sink_lend, .lent = sink_lent};
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
        if (c->slow) wslay_read(c, input);
        else read_frames(c, input);
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
    /* The session first: a call posts its reply before it stops being
     * pending, under the session lock, so one seen finished has its reply
     * counted in replies_posted until the loop delivers it. */
    size_t n = c->session && !c->detached ? mcp_session_pending(c->session) : 0;
    return n + atomic_load_explicit(&((mcp_ws_conn *)c)->replies_posted, memory_order_relaxed);
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
    mcp_buf_free(&c->carry);
    mcp_buf_free(&c->text);
    free(c);
}
