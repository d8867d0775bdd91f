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
 * Copies: the request target and the values of the few headers we read go
 * into a small per-connection buffer (a header may be split across reads).
 * The body is a slice of the caller's input when it arrives in one piece,
 * which is the common case; only a body split by a read boundary or by
 * chunked encoding is gathered into the per-connection body buffer. Both
 * buffers are reused from request to request.
 */
#include "net/http.h"

#include <llhttp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    size_t len;
    mcp_http_header index;
} KNOWN_HEADERS[] = {
    {"host", 4, MCP_HTTP_H_HOST},
    {"origin", 6, MCP_HTTP_H_ORIGIN},
    {"accept", 6, MCP_HTTP_H_ACCEPT},
    {"content-type", 12, MCP_HTTP_H_CONTENT_TYPE},
    {"mcp-session-id", 14, MCP_HTTP_H_SESSION_ID},
    {"mcp-protocol-version", 20, MCP_HTTP_H_PROTOCOL_VERSION},
    {"mcp-method", 10, MCP_HTTP_H_MCP_METHOD},
    {"mcp-name", 8, MCP_HTTP_H_MCP_NAME},
    {"last-event-id", 13, MCP_HTTP_H_LAST_EVENT_ID},
    {"traceparent", 11, MCP_HTTP_H_TRACEPARENT},
    {"tracestate", 10, MCP_HTTP_H_TRACESTATE},
};

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

static int on_message_begin(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    mcp_buf_reset(&parser->head);
    mcp_buf_reset(&parser->body);
    parser->body_ptr = NULL;
    parser->body_len = 0;
    parser->header_bytes = 0;
    parser->field_len = 0;
    parser->current = -1;
    parser->target_len = 0;
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
    /* The target is always first in head. */
    if (mcp_buf_append(&parser->head, at, len)) return fail(parser, 500, "out of memory");
    parser->target_len += len;
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
    size_t room = parser->field_len < sizeof parser->field ? sizeof parser->field - parser->field_len : 0;
    size_t take = len < room ? len : room;
    memcpy(parser->field + parser->field_len, at, take);
    parser->field_len += len; /* may pass the array: then the name is not one of ours */
    return 0;
}

static int on_header_field_complete(llhttp_t *p) {
    mcp_http_parser *parser = parser_of(p);
    parser->current = -1;
    if (parser->field_len < sizeof parser->field) {
        /* Lengths first: most headers are ruled out without a compare. */
        for (size_t i = 0; i < sizeof KNOWN_HEADERS / sizeof KNOWN_HEADERS[0]; i++) {
            if (KNOWN_HEADERS[i].len != parser->field_len) continue;
            if ((parser->field[0] | 0x20) == KNOWN_HEADERS[i].name[0] &&
                strncasecmp(KNOWN_HEADERS[i].name, parser->field, parser->field_len) == 0) {
                parser->current = (int)KNOWN_HEADERS[i].index;
                break;
            }
        }
    }
    parser->current_param = -1;
    if (parser->current < 0 && parser->field_len < sizeof parser->field && parser->field_len > 10 &&
        strncasecmp(parser->field, "mcp-param-", 10) == 0) {
        /* Tool parameters mirrored into headers (2026-07-28): kept by name
         * for the server's check against the body. */
        if (parser->param_count == MCP_HTTP_MAX_PARAM_HEADERS) {
            parser->too_many_params = true;
        } else {
            size_t i = parser->param_count++;
            parser->param_name_off[i] = parser->head.len;
            parser->param_name_len[i] = parser->field_len;
            if (mcp_buf_append(&parser->head, parser->field, parser->field_len)) return fail(parser, 500, "out of memory");
            parser->param_value_off[i] = parser->head.len;
            parser->param_value_len[i] = 0;
            parser->current_param = (int)i;
        }
    }
    parser->field_len = 0;
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
            /* Joined in place when nothing was stored after the first;
             * otherwise the later line is not read (a client splitting
             * Accept around other MCP headers is not one we have met). */
            if (parser->offsets[h] + parser->lengths[h] != parser->head.len) {
                parser->current = -1;
                return 0;
            }
            if (mcp_buf_append_char(&parser->head, ',')) return fail(parser, 500, "out of memory");
            parser->lengths[h]++;
            return 0;
        }
        parser->duplicate = true;
        parser->current = -1;
        return 0;
    }
    parser->present[h] = true;
    parser->offsets[h] = parser->head.len;
    parser->lengths[h] = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    mcp_http_parser *parser = parser_of(p);
    int rc = count_header_bytes(parser, len);
    if (rc) return rc;
    if (parser->current_param >= 0) {
        if (mcp_buf_append(&parser->head, at, len)) return fail(parser, 500, "out of memory");
        parser->param_value_len[parser->current_param] += len;
        return 0;
    }
    if (parser->current < 0) return 0;
    int h = parser->current;
    /* Values of a repeated Accept are appended after the first; every
     * other known header sits at the end of head while it is read. */
    if (mcp_buf_append(&parser->head, at, len)) return fail(parser, 500, "out of memory");
    parser->lengths[h] += len;
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

static void fill_request(mcp_http_parser *parser, llhttp_t *p, mcp_http_request *req) {
    memset(req, 0, sizeof *req);
    req->method = method_of(llhttp_get_method(p));
    req->target = (mcp_str){parser->head.data, parser->target_len};
    req->path = req->target;
    const char *query = memchr(req->target.ptr, '?', req->target.len);
    if (query) req->path.len = (size_t)(query - req->target.ptr);
    for (int h = 0; h < MCP_HTTP_H_COUNT; h++) {
        if (!parser->present[h]) continue;
        mcp_str v = {parser->head.data + parser->offsets[h], parser->lengths[h]};
        while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) v.ptr++, v.len--;
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t')) v.len--;
        req->headers[h] = v;
    }
    req->body = parser->body_ptr ? (mcp_str){parser->body_ptr, parser->body_len}
                                 : (mcp_str){parser->body.data ? parser->body.data : "", parser->body.len};
    req->keep_alive = llhttp_should_keep_alive(p) != 0;
    req->duplicate_header = parser->duplicate;
    req->too_many_params = parser->too_many_params;
    req->param_count = parser->param_count;
    for (size_t i = 0; i < parser->param_count; i++) {
        mcp_str v = {parser->head.data + parser->param_value_off[i], parser->param_value_len[i]};
        while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) v.ptr++, v.len--;
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t')) v.len--;
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
    /* A piece of a header that was kept as a slice would dangle after this
     * read; the body is the only thing kept in place, so gather it now. */
    if (parser->body_ptr && parser->started) {
        if (mcp_buf_append(&parser->body, parser->body_ptr, parser->body_len)) return MCP_ENOMEM;
        parser->body_ptr = NULL;
    }
    llhttp_errno_t err = llhttp_execute(p, input->ptr, input->len);
    if (err == HPE_OK) {
        input->ptr += input->len;
        input->len = 0;
        if (parser->body_ptr && parser->started) {
            if (mcp_buf_append(&parser->body, parser->body_ptr, parser->body_len)) return MCP_ENOMEM;
            parser->body_ptr = NULL;
        }
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
