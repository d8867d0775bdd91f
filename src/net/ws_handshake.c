/*
 * The WebSocket opening handshake (RFC 6455 section 4.2) and the server
 * options it checks.
 *
 * llhttp parses the request; we keep the target and the seven headers the
 * handshake needs and refuse with the status the RFC or the MCP transport
 * rules name, in this order: a request llhttp rejects (400), head too large
 * (431), method (405), path (404), Host and Origin (403, DNS rebinding),
 * not an upgrade to websocket (426 with Upgrade: websocket), version other
 * than 13 (426 with Sec-WebSocket-Version: 13), key missing or not 16
 * bytes of base64 (400). Every refusal closes the connection.
 *
 * on_message_complete pauses llhttp, so whatever follows the request in
 * the same read (a client may send its first frame at once) is left in the
 * input for the framing layer.
 */
#include "net/rebinding.h"
#include "net/ws.h"

#include <llhttp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { H_HOST, H_ORIGIN, H_UPGRADE, H_CONNECTION, H_KEY, H_VERSION, H_PROTOCOL, H_COUNT };
_Static_assert(H_COUNT == sizeof ((mcp_ws_handshake *)0)->present, "one slot per header");

static const char *const HEADER_NAMES[H_COUNT] = {
    "host", "origin", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
    "sec-websocket-protocol",
};

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- Server options --------------------------------------------------------------- */
int mcp_ws_server_new(mcp_ws_server **out, mcp_server *server, const mcp_listen *listen,
                      const mcp_net_limits *limits) {
    *out = NULL;
    const mcp_ws_opts *opts = listen ? listen->ws_opts : NULL;
    mcp_ws_opts none = {0};
    if (!opts) opts = &none;
    if (opts->path && opts->path[0] != '/') {
        mcp_log(MCP_LOG_ERROR, "ws: path \"%s\" must start with '/'", opts->path);
        return MCP_EINVAL;
    }
    mcp_ws_server *ws = calloc(1, sizeof *ws);
    if (!ws) return MCP_ENOMEM;
    ws->server = server;
    ws->path = strdup(opts->path ? opts->path : MCP_WS_DEFAULT_PATH);
    ws->allowed_hosts = mcp_net_strings_copy(opts->allowed_hosts);
    ws->allowed_origins = mcp_net_strings_copy(opts->allowed_origins);
    ws->disable_host_check = opts->disable_host_check;
    ws->max_message_size = opts->max_message_size ? opts->max_message_size
                           : limits                ? limits->max_message_size
                           : listen && listen->max_message_size ? listen->max_message_size
                                                                : MCP_NET_DEFAULT_MAX_MESSAGE;
    if (!ws->path || !ws->allowed_hosts || !ws->allowed_origins) {
        mcp_ws_server_free(ws);
        return MCP_ENOMEM;
    }
    *out = ws;
    return MCP_OK;
}

void mcp_ws_server_free(mcp_ws_server *ws) {
    if (!ws) return;
    free(ws->path);
    mcp_net_strings_free(ws->allowed_hosts);
    mcp_net_strings_free(ws->allowed_origins);
    free(ws);
}

/* ---- DNS-rebinding protection (net/rebinding.c, as for Streamable HTTP) ---------------- */
bool mcp_ws_host_allowed(const mcp_ws_server *ws, mcp_str host) {
    return ws->disable_host_check || mcp_net_host_allowed(ws->allowed_hosts, host);
}

bool mcp_ws_origin_allowed(const mcp_ws_server *ws, mcp_str origin) {
    return ws->disable_host_check || mcp_net_origin_allowed(ws->allowed_hosts, ws->allowed_origins, origin);
}

/* ---- Accept key ------------------------------------------------------------------------ */
int mcp_ws_accept_key(mcp_str key, char out[29]) {
    char joined[128];
    if (key.len + sizeof WS_GUID > sizeof joined) return MCP_EINVAL;
    memcpy(joined, key.ptr, key.len);
    memcpy(joined + key.len, WS_GUID, sizeof WS_GUID - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!EVP_Digest(joined, key.len + sizeof WS_GUID - 1, digest, &digest_len, EVP_sha1(), NULL) ||
        digest_len != 20)
        return MCP_EIO;
    EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 characters and a NUL */
    return MCP_OK;
}

/* A key is the base64 of 16 bytes: 22 characters and "==". */
static bool key_valid(mcp_str key) {
    if (key.len != 24 || key.ptr[22] != '=' || key.ptr[23] != '=') return false;
    for (size_t i = 0; i < 22; i++) {
        char c = key.ptr[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/';
        if (!ok) return false;
    }
    /* The last character carries 2 bits of data and 4 zero bits. */
    return strchr("AQgw", key.ptr[21]) != NULL;
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static bool has_token(mcp_str value, const char *token) {
    size_t want = strlen(token);
    const char *p = value.ptr, *end = value.ptr + value.len;
    while (p && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        while (p < item_end && (*p == ' ' || *p == '\t')) p++;
        const char *t = item_end;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == want && strncasecmp(p, token, want) == 0) return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* ---- llhttp callbacks --------------------------------------------------------------------- */
static mcp_ws_handshake *hs_of(llhttp_t *p) { return p->data; }

static int count_bytes(mcp_ws_handshake *hs, size_t len) {
    hs->bytes += len;
    if (hs->bytes > MCP_WS_MAX_HANDSHAKE) {
        hs->status = 431;
        return HPE_USER;
    }
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
    mcp_ws_handshake *hs = hs_of(p);
    if (count_bytes(hs, len)) return HPE_USER;
    return mcp_buf_append(&hs->target, at, len) ? HPE_USER : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
    mcp_ws_handshake *hs = hs_of(p);
    if (count_bytes(hs, len)) return HPE_USER;
    hs->current = -1;
    if (hs->field_len + len < sizeof hs->field) memcpy(hs->field + hs->field_len, at, len);
    hs->field_len += len;
    return 0;
}

static int on_header_field_complete(llhttp_t *p) {
    mcp_ws_handshake *hs = hs_of(p);
    if (hs->field_len < sizeof hs->field) {
        for (int i = 0; i < H_COUNT; i++) {
            if (strlen(HEADER_NAMES[i]) == hs->field_len &&
                strncasecmp(hs->field, HEADER_NAMES[i], hs->field_len) == 0) {
                /* Connection and the protocol list may come as several
                 * lines; the single-valued ones may not. */
                if (hs->present[i] && i != H_CONNECTION && i != H_PROTOCOL) hs->duplicate = true;
                if (hs->present[i] && mcp_buf_append(&hs->values[i], ",", 1)) return HPE_USER;
                hs->present[i] = true;
                hs->current = i;
                break;
            }
        }
    }
    hs->field_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    mcp_ws_handshake *hs = hs_of(p);
    if (count_bytes(hs, len)) return HPE_USER;
    if (hs->current < 0) return 0;
    return mcp_buf_append(&hs->values[hs->current], at, len) ? HPE_USER : 0;
}

static int on_header_value_complete(llhttp_t *p) {
    hs_of(p)->current = -1;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    (void)at;
    return count_bytes(hs_of(p), len) ? HPE_USER : 0;
}

static int on_message_complete(llhttp_t *p) {
    hs_of(p)->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t SETTINGS = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void mcp_ws_handshake_init(mcp_ws_handshake *hs) {
    memset(hs, 0, sizeof *hs);
    hs->current = -1;
    mcp_buf_init(&hs->target);
    for (int i = 0; i < H_COUNT; i++) mcp_buf_init(&hs->values[i]);
    llhttp_t *p = malloc(sizeof *p);
    if (p) {
        llhttp_init(p, HTTP_REQUEST, &SETTINGS);
        p->data = hs;
    }
    hs->llhttp = p;
}

void mcp_ws_handshake_free(mcp_ws_handshake *hs) {
    free(hs->llhttp);
    hs->llhttp = NULL;
    mcp_buf_free(&hs->target);
    for (int i = 0; i < H_COUNT; i++) mcp_buf_free(&hs->values[i]);
}

/* ---- Answers -------------------------------------------------------------------------------- */
static int refuse(mcp_ws_handshake *hs, mcp_buf *out, int status, const char *extra, const char *why) {
    static const struct {
        int status;
        const char *text;
    } REASONS[] = {{400, "Bad Request"},         {403, "Forbidden"},
                   {404, "Not Found"},           {405, "Method Not Allowed"},
                   {426, "Upgrade Required"},    {431, "Request Header Fields Too Large"},
                   {500, "Internal Server Error"}};
    const char *reason = "Error";
    for (size_t i = 0; i < sizeof REASONS / sizeof REASONS[0]; i++)
        if (REASONS[i].status == status) reason = REASONS[i].text;
    hs->status = status;
    size_t body_len = strlen(why) + 1;
    mcp_buf_appendf(out,
                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s\n",
                    status, reason, body_len, extra ? extra : "", why);
    return MCP_WS_HS_REFUSED;
}

static mcp_str header(const mcp_ws_handshake *hs, int which) {
    if (!hs->present[which]) return (mcp_str){NULL, 0};
    return (mcp_str){hs->values[which].data ? hs->values[which].data : "", hs->values[which].len};
}

static int answer(mcp_ws_handshake *hs, const mcp_ws_server *ws, mcp_buf *out) {
    llhttp_t *p = hs->llhttp;
    mcp_str target = {hs->target.data ? hs->target.data : "", hs->target.len};
    const char *query = memchr(target.ptr, '?', target.len);
    mcp_str path = {target.ptr, query ? (size_t)(query - target.ptr) : target.len};
    if (llhttp_get_method(p) != HTTP_GET)
        return refuse(hs, out, 405, "Allow: GET\r\n", "only GET can open a WebSocket");
    if (!mcp_str_eq_cstr(path, ws->path)) return refuse(hs, out, 404, NULL, "no WebSocket endpoint here");
    if (hs->duplicate) return refuse(hs, out, 400, NULL, "a handshake header came twice");
    if (!mcp_ws_host_allowed(ws, header(hs, H_HOST))) return refuse(hs, out, 403, NULL, "Host not allowed");
    if (!mcp_ws_origin_allowed(ws, header(hs, H_ORIGIN))) return refuse(hs, out, 403, NULL, "Origin not allowed");
    if (!has_token(header(hs, H_UPGRADE), "websocket") || !has_token(header(hs, H_CONNECTION), "upgrade"))
        return refuse(hs, out, 426, "Upgrade: websocket\r\n", "this endpoint speaks WebSocket only");
    mcp_str version = header(hs, H_VERSION);
    if (!mcp_str_eq_cstr(version, "13"))
        return refuse(hs, out, 426, "Sec-WebSocket-Version: 13\r\n", "WebSocket version 13 is required");
    mcp_str key = header(hs, H_KEY);
    char accept[29];
    if (!key_valid(key)) return refuse(hs, out, 400, NULL, "Sec-WebSocket-Key missing or not 16 bytes of base64");
    if (mcp_ws_accept_key(key, accept)) return refuse(hs, out, 500, NULL, "could not compute the accept key");
    bool mcp_protocol = has_token(header(hs, H_PROTOCOL), MCP_WS_SUBPROTOCOL);
    mcp_buf_appendf(out,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                    accept, mcp_protocol ? "Sec-WebSocket-Protocol: " MCP_WS_SUBPROTOCOL "\r\n" : "");
    hs->status = 101;
    return MCP_WS_HS_DONE;
}

int mcp_ws_handshake_feed(mcp_ws_handshake *hs, const mcp_ws_server *ws, mcp_str *input, mcp_buf *out) {
    llhttp_t *p = hs->llhttp;
    if (!p) return refuse(hs, out, 500, NULL, "out of memory");
    if (!input->len) return MCP_WS_HS_MORE;
    llhttp_errno_t err = llhttp_execute(p, input->ptr, input->len);
    if (err == HPE_OK) {
        input->ptr += input->len;
        input->len = 0;
        return MCP_WS_HS_MORE;
    }
    if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && hs->complete) {
        const char *stop = llhttp_get_error_pos(p);
        size_t used = stop && stop >= input->ptr && stop <= input->ptr + input->len
                          ? (size_t)(stop - input->ptr)
                          : input->len;
        input->ptr += used;
        input->len -= used;
        return answer(hs, ws, out);
    }
    if (err == HPE_USER && hs->status == 431) return refuse(hs, out, 431, NULL, "handshake too large");
    if (err == HPE_USER) return refuse(hs, out, 500, NULL, "out of memory");
    return refuse(hs, out, 400, NULL, "malformed HTTP request");
}
