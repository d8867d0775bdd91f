/*
 * HTTP/1.1 request framing over llhttp.
 *
 * llhttp does the grammar (request line, header syntax, Content-Length and
 * chunked bodies, keep-alive rules); this file keeps what the transport
 * needs and enforces our limits. on_message_complete pauses the parser, so
 * a request is handed out between llhttp_execute calls, never from inside a
 * callback, and the next pipelined request waits in the input until the
 * caller asks for it.
 *
 * Copies: none in the common case. The request target, the values of the
 * few headers we read and the body are slices of the caller's input while
 * the request lies whole in one read, which is how keep-alive clients send
 * it. When a read ends inside a request, whatever was kept as a slice is
 * gathered into small per-connection buffers (head for the target and
 * header values, body for the body) before that input goes away; a piece
 * that arrives in several parts is gathered likewise. Both buffers are
 * reused from request to request.
 *
 * Header names are matched by length, then by their bytes folded to lower
 * case, against the handful we read; every other header costs only the
 * size limit's count.
 */
#include "net/http.h"

#include <llhttp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Buffers of a finished request up to this size are kept for the next. */
#define MCP_HTTP_KEEP_BYTES (64 * 1024)

static mcp_http_parser *parser_of(llhttp_t *p) { return p->data; }

static int fail(mcp_http_parser *parser, int status, const char *reason) {
    parser->failed = true;
    parser->error_status = status;
    parser->error_reason = reason;
    return HPE_USER;
}

static int count_header_bytes(mcp_http_parser *parser, size_t len) {
    parser->header_bytes += len;
    if (parser->header_bytes > parser->max_header)
        return fail(parser, 431, "request header fields too large");
    return 0;
}

/* ---- Spans: slices of the input, or copies in head ----------------------------------- */
/* Move a span into head, at its end (from a slice, or from elsewhere in head). */
static int span_to_head_end(mcp_http_parser *parser, mcp_http_span *sp) {
    if (!sp->ptr && sp->off + sp->len == parser->head.len) return 0;
    if (mcp_buf_reserve(&parser->head, sp->len)) return MCP_ENOMEM;
    const char *from = sp->ptr ? sp->ptr : parser->head.data + sp->off; /* after the reserve: head may move */
    size_t off = parser->head.len;
    memmove(parser->head.data + off, from, sp->len);
    parser->head.len += sp->len;
    sp->ptr = NULL;
    sp->off = off;
    return 0;
}

/* One more piece of a span: the first stays where it lies; a second one
 * means the span is gathered in head (llhttp hands a value over in pieces
 * only when a read boundary or a repeated header splits it). */
static int span_add(mcp_http_parser *parser, mcp_http_span *sp, const char *at, size_t len) {
    if (!sp->len && !sp->ptr) {
        sp->ptr = at;
        sp->len = len;
        return 0;
    }
    /* A span moved to head's end leaves its old copy behind, so lines of
     * two joined headers in turn (Accept, tracestate, Accept, ...) would
     * grow head with the square of their number while the bytes counted
     * against max_header stay small. What is live never exceeds that
     * limit; twice it leaves honest requests room for the dead copies. */
    if (parser->head.len + sp->len + len > 2 * parser->max_header)
        return fail(parser, 431, "request header fields too large");
    if (span_to_head_end(parser, sp) || mcp_buf_append(&parser->head, at, len))
        return fail(parser, 500, "out of memory");
    sp->len += len;
    return 0;
}

static void span_start(mcp_http_parser *parser, mcp_http_span *sp) {
    sp->ptr = NULL;
    sp->off = parser->head.len;
    sp->len = 0;
}

static mcp_str span_str(const mcp_http_parser *parser, const mcp_http_span *sp) {
    if (sp->ptr) return (mcp_str){sp->ptr, sp->len};
    return (mcp_str){parser->head.data ? parser->head.data + sp->off : "", sp->len};
}

/* The input is about to go away with a request unfinished: keep copies of
 * what was kept in place. */
/* The name read so far into field (as much as fits), off the input. */
static void field_to_buffer(mcp_http_parser *parser) {
    if (!parser->field_ptr) return;
    size_t take = parser->field_len < sizeof parser->field ? parser->field_len : sizeof parser->field;
    memcpy(parser->field, parser->field_ptr, take);
    parser->field_ptr = NULL;
}

static int keep_slices(mcp_http_parser *parser) {
    field_to_buffer(parser);
    int rc = parser->target.ptr ? span_to_head_end(parser, &parser->target) : 0;
    for (int h = 0; !rc && h < MCP_HTTP_H_COUNT; h++)
        if (parser->present[h] && parser->values[h].ptr) rc = span_to_head_end(parser, &parser->values[h]);
    for (size_t i = 0; !rc && i < parser->param_count; i++)
        if (parser->param_values[i].ptr) rc = span_to_head_end(parser, &parser->param_values[i]);
    if (!rc && parser->body_ptr) {
        rc = mcp_buf_append(&parser->body, parser->body_ptr, parser->body_len);
        parser->body_ptr = NULL;
    }
    return rc;
}

static int on_message_begin(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    /* One large request must not pin its memory for the connection's
     * life: what a usual request needs is kept, anything bigger freed. */
    if (parser->head.cap > MCP_HTTP_KEEP_BYTES) mcp_buf_free(&parser->head);
    else mcp_buf_reset(&parser->head);
    if (parser->body.cap > MCP_HTTP_KEEP_BYTES) mcp_buf_free(&parser->body);
    else mcp_buf_reset(&parser->body);
    parser->body_ptr = NULL;
    parser->body_len = 0;
    parser->header_bytes = 0;
    parser->field_len = 0;
    parser->field_ptr = NULL;
    parser->current = -1;
    span_start(parser, &parser->target);
    parser->duplicate = false;
    parser->current_param = -1;
    parser->param_count = 0;
    parser->too_many_params = false;
    parser->started = true;
    memset(parser->present, 0, sizeof parser->present);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
    mcp_http_parser *parser = parser_of(p);
    int rc = count_header_bytes(parser, len);
    if (rc) return rc;
    if (span_add(parser, &parser->target, at, len)) return HPE_USER;
    return 0;
}

static int on_method_or_version(llhttp_t *p, const char *at, size_t len) {
    (void)at;
    return count_header_bytes(parser_of(p), len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
    mcp_http_parser *parser = parser_of(p);
    int rc = count_header_bytes(parser, len);
    if (rc) return rc;
    if (!parser->field_len) {
        parser->field_ptr = at; /* most names arrive whole: read in place */
        parser->field_len = len;
        return 0;
    }
    field_to_buffer(parser);
    size_t room = parser->field_len < sizeof parser->field ? sizeof parser->field - parser->field_len : 0;
    size_t take = len < room ? len : room;
    /* Past the array the pointer itself would be out of bounds. */
    if (take) memcpy(parser->field + parser->field_len, at, take);
    parser->field_len += len; /* may pass the array: then the name is not one of ours */
    return 0;
}

/* Does the name (any case) equal lower, a lower-case literal of n >= 4
 * bytes? Compared a word at a time, each byte folded with 0x20. Folding is
 * exact here: our names hold only letters and '-', and the one other byte
 * that folds onto '-' (CR) never reaches a header name. */
static inline bool name_is(const char *name, const char *lower, size_t n) {
    if (n >= 8) {
        uint64_t a, b;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&a, name + i, 8);
            memcpy(&b, lower + i, 8);
            if ((a | 0x2020202020202020ull) != b) return false;
        }
        memcpy(&a, name + n - 8, 8);
        memcpy(&b, lower + n - 8, 8);
        return (a | 0x2020202020202020ull) == b;
    }
    uint32_t a, b, c, d;
    memcpy(&a, name, 4);
    memcpy(&b, lower, 4);
    memcpy(&c, name + n - 4, 4);
    memcpy(&d, lower + n - 4, 4);
    return (a | 0x20202020u) == b && (c | 0x20202020u) == d;
}

#define NAME_IS(lit) name_is(f, lit, sizeof(lit) - 1)

/* The header we read under this name, or -1. */
static int known_header(const char *f, size_t len) {
    switch (len) {
    case 4: return NAME_IS("host") ? MCP_HTTP_H_HOST : -1;
    case 6:
        if (NAME_IS("accept")) return MCP_HTTP_H_ACCEPT;
        return NAME_IS("origin") ? MCP_HTTP_H_ORIGIN : -1;
    case 8: return NAME_IS("mcp-name") ? MCP_HTTP_H_MCP_NAME : -1;
    case 10:
        if (NAME_IS("mcp-method")) return MCP_HTTP_H_MCP_METHOD;
        return NAME_IS("tracestate") ? MCP_HTTP_H_TRACESTATE : -1;
    case 11: return NAME_IS("traceparent") ? MCP_HTTP_H_TRACEPARENT : -1;
    case 12: return NAME_IS("content-type") ? MCP_HTTP_H_CONTENT_TYPE : -1;
    case 13: return NAME_IS("last-event-id") ? MCP_HTTP_H_LAST_EVENT_ID : -1;
    case 14: return NAME_IS("mcp-session-id") ? MCP_HTTP_H_SESSION_ID : -1;
    case 20: return NAME_IS("mcp-protocol-version") ? MCP_HTTP_H_PROTOCOL_VERSION : -1;
    default: return -1;
    }
}

#undef NAME_IS

static int on_header_field_complete(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    const char *name = parser->field_ptr ? parser->field_ptr : parser->field;
    bool kept = parser->field_len < sizeof parser->field; /* longer names are not ours, however they came */
    parser->current = kept ? known_header(name, parser->field_len) : -1;
    parser->current_param = -1;
    if (parser->current < 0 && kept && parser->field_len > 10 && name_is(name, "mcp-param-", 10)) {
        /* Tool parameters mirrored into headers (2026-07-28): kept by name
         * for the server's check against the body. */
        if (parser->param_count == MCP_HTTP_MAX_PARAM_HEADERS) {
            parser->too_many_params = true;
        } else {
            size_t i = parser->param_count++;
            parser->param_name_off[i] = parser->head.len;
            parser->param_name_len[i] = parser->field_len;
            if (mcp_buf_append(&parser->head, name, parser->field_len)) return fail(parser, 500, "out of memory");
            span_start(parser, &parser->param_values[i]);
            parser->current_param = (int)i;
        }
    }
    parser->field_len = 0;
    parser->field_ptr = NULL;
    if (parser->current < 0) return 0;
    int h = parser->current;
    if (parser->present[h]) {
        /* Accept may be split over several lines (RFC 9110 5.3); the others
         * name one thing each, and two differing copies are an attack on
         * whoever reads the other one. */
        /* W3C trace context: a repeated traceparent is not trusted (the
         * first is kept and the span may be orphaned, never the request
         * refused); tracestate may span lines like Accept. */
        if (h == MCP_HTTP_H_TRACEPARENT) {
            parser->current = -1;
            return 0;
        }
        if (h == MCP_HTTP_H_ACCEPT || h == MCP_HTTP_H_TRACESTATE) {
            /* The lines are joined with ",": the value is gathered in head. */
            if (span_add(parser, &parser->values[h], ",", 1)) return HPE_USER;
            return 0;
        }
        parser->duplicate = true;
        parser->current = -1;
        return 0;
    }
    parser->present[h] = true;
    span_start(parser, &parser->values[h]);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    mcp_http_parser *parser = parser_of(p);
    int rc = count_header_bytes(parser, len);
    if (rc) return rc;
    mcp_http_span *sp = parser->current_param >= 0 ? &parser->param_values[parser->current_param]
                        : parser->current >= 0     ? &parser->values[parser->current]
                                                   : NULL;
    if (sp && span_add(parser, sp, at, len)) return HPE_USER;
    return 0;
}

static int on_header_value_complete(llhttp_t *p) {
    parser_of(p)->current = -1;
    parser_of(p)->current_param = -1;
    return 0;
}

static int on_headers_complete(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    if (p->flags & F_CONTENT_LENGTH && p->content_length > parser->max_body)
        return fail(parser, 413, "request body too large");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    mcp_http_parser *parser = parser_of(p);
    if (parser->body_len + len > parser->max_body) return fail(parser, 413, "request body too large");
    if (!parser->body_ptr && parser->body.len == 0 && parser->body_len == 0) {
        parser->body_ptr = at; /* maybe the whole body: keep it in place */
        parser->body_len = len;
        return 0;
    }
    if (parser->body_ptr) {
        /* A second piece: from now on the body is gathered. */
        if (mcp_buf_append(&parser->body, parser->body_ptr, parser->body_len))
            return fail(parser, 500, "out of memory");
        parser->body_ptr = NULL;
    }
    if (mcp_buf_append(&parser->body, at, len)) return fail(parser, 500, "out of memory");
    parser->body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    parser->ready = true;
    parser->started = false;
    return HPE_PAUSED;
}

static const llhttp_settings_t SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_method = on_method_or_version,
    .on_version = on_method_or_version,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int mcp_http_parser_init(mcp_http_parser *parser, size_t max_header, size_t max_body) {
    memset(parser, 0, sizeof *parser);
    llhttp_t *p = malloc(sizeof *p);
    if (!p) return MCP_ENOMEM;
    llhttp_init(p, HTTP_REQUEST, &SETTINGS);
    p->data = parser;
    parser->llhttp = p;
    parser->max_header = max_header ? max_header : MCP_HTTP_DEFAULT_MAX_HEADER;
    parser->max_body = max_body ? max_body : MCP_NET_DEFAULT_MAX_MESSAGE;
    parser->current = -1;
    parser->current_param = -1;
    mcp_buf_init(&parser->head);
    mcp_buf_init(&parser->body);
    return MCP_OK;
}

void mcp_http_parser_free(mcp_http_parser *parser) {
    free(parser->llhttp);
    parser->llhttp = NULL;
    mcp_buf_free(&parser->head);
    mcp_buf_free(&parser->body);
}

bool mcp_http_parser_busy(const mcp_http_parser *parser) { return parser->started; }

static mcp_http_method method_of(uint8_t method) {
    switch (method) {
    case HTTP_GET: return MCP_HTTP_METHOD_GET;
    case HTTP_POST: return MCP_HTTP_METHOD_POST;
    case HTTP_DELETE: return MCP_HTTP_METHOD_DELETE;
    case HTTP_OPTIONS: return MCP_HTTP_METHOD_OPTIONS;
    default: return MCP_HTTP_METHOD_OTHER;
    }
}

/* Optional whitespace around a field value (RFC 9110 5.5). */
static mcp_str trim_ows(mcp_str v) {
    while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) v.ptr++, v.len--;
    while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t')) v.len--;
    return v;
}

/* Field by field rather than one memset: the request is ~800 bytes, most of
 * them parameter slots that only param_count of are read. */
static void fill_request(mcp_http_parser *parser, llhttp_t *p, mcp_http_request *req) {
    req->method = method_of(llhttp_get_method(p));
    req->target = span_str(parser, &parser->target);
    req->path = req->target;
    const char *query = memchr(req->target.ptr, '?', req->target.len);
    if (query) req->path.len = (size_t)(query - req->target.ptr);
    for (int h = 0; h < MCP_HTTP_H_COUNT; h++)
        req->headers[h] = parser->present[h] ? trim_ows(span_str(parser, &parser->values[h])) : (mcp_str){NULL, 0};
    req->body = parser->body_ptr ? (mcp_str){parser->body_ptr, parser->body_len}
                                 : (mcp_str){parser->body.data ? parser->body.data : "", parser->body.len};
    req->keep_alive = llhttp_should_keep_alive(p) != 0;
    req->duplicate_header = parser->duplicate;
    req->too_many_params = parser->too_many_params;
    req->param_count = parser->param_count;
    for (size_t i = 0; i < parser->param_count; i++) {
        mcp_str v = trim_ows(span_str(parser, &parser->param_values[i]));
        req->params[i] = (mcp_header_field){.name = parser->head.data + parser->param_name_off[i],
                                            .name_len = parser->param_name_len[i], .value = v.ptr,
                                            .value_len = v.len};
    }
}

int mcp_http_parser_next(mcp_http_parser *parser, mcp_str *input, mcp_http_request *req) {
    llhttp_t *p = parser->llhttp;
    if (parser->failed) return MCP_HTTP_BAD;
    if (parser->ready) {
        /* The request handed out last time is done with. */
        parser->ready = false;
        llhttp_resume(p);
    }
    if (input->len == 0) return MCP_HTTP_MORE;
    /* Slices into an earlier read would dangle: copies are kept instead. */
    if (parser->started && keep_slices(parser)) return MCP_ENOMEM;
    llhttp_errno_t err = llhttp_execute(p, input->ptr, input->len);
    if (err == HPE_OK) {
        input->ptr += input->len;
        input->len = 0;
        if (parser->started && keep_slices(parser)) return MCP_ENOMEM;
        return MCP_HTTP_MORE;
    }
    if (err == HPE_PAUSED && parser->ready) {
        const char *stop = llhttp_get_error_pos(p);
        size_t used = (size_t)(stop - input->ptr);
        input->ptr += used;
        input->len -= used;
        fill_request(parser, p, req);
        return MCP_HTTP_REQUEST;
    }
    if (!parser->failed) {
        parser->failed = true;
        if (err == HPE_INVALID_METHOD) {
            parser->error_status = 501;
            parser->error_reason = "method not implemented";
        } else if (err == HPE_USER && parser->error_status) {
            /* set by a callback */
        } else {
            parser->error_status = 400;
            parser->error_reason = llhttp_get_error_reason(p);
        }
    }
    if (parser->error_status == 500) return MCP_ENOMEM;
    return MCP_HTTP_BAD;
}

const char *mcp_http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}
