/*
 * HTTP/1.1 on the wire for the network module: the load generator's reader
 * of responses, and the captured response that the null HTTP server replays.
 *
 * The reader is a small state machine rather than libmcp's client-side
 * parsers because it runs on the load generator's thread, whose every cycle
 * is charged to the round trips it measures: it takes a head, a body and a
 * chunk where they lie in the read buffer whenever one arrived whole, and
 * copies only what a read boundary split. It understands what a Streamable
 * HTTP server sends a POST: 200 with application/json and Content-Length,
 * or 200 with text/event-stream, chunked, whose events are separated by a
 * blank line ("\n\n", as libmcp writes them). Anything else is an error of
 * the run, never a number.
 */
#include "network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_BODY_MAX (16 * 1024 * 1024)

enum { R_HEAD, R_BODY, R_CHUNK_SIZE, R_CHUNK_DATA, R_CHUNK_END, R_TRAILER };

void bench_http_reader_init(bench_http_reader *r, int (*on_message)(void *, const char *, size_t),
                            int (*on_end)(void *), void *user) {
    memset(r, 0, sizeof *r);
    mcp_buf_init(&r->head);
    mcp_buf_init(&r->body);
    r->on_message = on_message;
    r->on_end = on_end;
    r->user = user;
}

void bench_http_reader_reset(bench_http_reader *r) {
    r->state = R_HEAD;
    r->chunked = r->sse = false;
    r->remaining = r->line_len = 0;
    mcp_buf_reset(&r->head);
    mcp_buf_reset(&r->body);
}

void bench_http_reader_free(bench_http_reader *r) {
    mcp_buf_free(&r->head);
    mcp_buf_free(&r->body);
}

static int reader_fail(const char *why, const char *text, size_t len) {
    fprintf(stderr, "bench network: HTTP response %s: %.*s\n", why, (int)(len < 300 ? len : 300), text);
    return MCP_EPROTO;
}

/* The value of header `name` in head, or NULL (len set). */
static const char *head_value(const char *head, size_t len, const char *name, size_t *value_len) {
    size_t n = strlen(name);
    const char *end = head + len;
    const char *line = memchr(head, '\n', len); /* skip the status line */
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > n && line[n] == ':' && !strncasecmp(line, name, n)) {
            const char *v = line + n + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            *value_len = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

static int parse_head(bench_http_reader *r, const char *head, size_t len) {
    if (len < 12 || memcmp(head, "HTTP/1.1 200", 12)) return reader_fail("is not 200 OK", head, len);
    size_t vl;
    const char *ct = head_value(head, len, "Content-Type", &vl);
    r->sse = ct && vl >= 17 && !strncasecmp(ct, "text/event-stream", 17);
    const char *te = head_value(head, len, "Transfer-Encoding", &vl);
    r->chunked = te && vl == 7 && !strncasecmp(te, "chunked", 7);
    if (r->chunked) {
        r->state = R_CHUNK_SIZE;
        r->line_len = 0;
        return MCP_OK;
    }
    const char *cl = head_value(head, len, "Content-Length", &vl);
    if (!cl || !vl) return reader_fail("has neither Content-Length nor chunked encoding", head, len);
    size_t n = 0;
    for (size_t i = 0; i < vl; i++) {
        if (cl[i] < '0' || cl[i] > '9' || n > HTTP_BODY_MAX) return reader_fail("has a bad Content-Length", head, len);
        n = n * 10 + (size_t)(cl[i] - '0');
    }
    r->remaining = n;
    r->state = R_BODY;
    return MCP_OK;
}

static int end_response(bench_http_reader *r) {
    r->state = R_HEAD;
    mcp_buf_reset(&r->body);
    return r->on_end(r->user);
}

/* One SSE event (without its blank line): its data lines, joined. Events
 * without data (comments, keep-alives) carry no message. */
static int sse_event(bench_http_reader *r, const char *ev, size_t len, mcp_buf *scratch) {
    const char *p = ev, *end = ev + len, *data = NULL;
    size_t data_len = 0;
    unsigned lines = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if (le > p && le[-1] == '\r') le--;
        if (le - p >= 5 && !memcmp(p, "data:", 5)) {
            const char *v = p + 5 + (le - p > 5 && p[5] == ' ');
            if (lines++ == 0) {
                data = v;
                data_len = (size_t)(le - v);
            } else {
                /* A message split over data lines: join them with "\n". */
                if (lines == 2 && (mcp_buf_reset(scratch), mcp_buf_append(scratch, data, data_len)))
                    return MCP_ENOMEM;
                if (mcp_buf_append_char(scratch, '\n') || mcp_buf_append(scratch, v, (size_t)(le - v)))
                    return MCP_ENOMEM;
                data = scratch->data;
                data_len = scratch->len;
            }
        }
        p = eol ? eol + 1 : end;
    }
    return lines ? r->on_message(r->user, data, data_len) : MCP_OK;
}

/* Decoded body bytes of an SSE stream: whole events are taken in place, a
 * partial one waits in r->body. */
static int sse_take(bench_http_reader *r, const char *p, size_t len) {
    mcp_buf scratch;
    mcp_buf_init(&scratch);
    const char *end = p + len;
    int rc = MCP_OK;
    if (r->body.len) {
        /* The blank line may straddle the boundary: look from the old tail. */
        size_t old = r->body.len;
        if (mcp_buf_append(&r->body, p, len)) return MCP_ENOMEM;
        const char *b = r->body.data, *be = b + r->body.len, *from = b + (old > 0 ? old - 1 : 0);
        const char *sep = memmem(from, (size_t)(be - from), "\n\n", 2);
        if (!sep) return r->body.len > HTTP_BODY_MAX ? reader_fail("event too long", b, 300) : MCP_OK;
        rc = sse_event(r, b, (size_t)(sep - b), &scratch);
        p = end - (size_t)(be - (sep + 2)); /* continue in place after the event */
        mcp_buf_reset(&r->body);
    }
    while (rc == 0 && p < end) {
        const char *sep = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (!sep) {
            rc = mcp_buf_append(&r->body, p, (size_t)(end - p));
            break;
        }
        rc = sse_event(r, p, (size_t)(sep - p), &scratch);
        p = sep + 2;
    }
    mcp_buf_free(&scratch);
    return rc;
}

/* Bytes of a Content-Length body; the body is whole when remaining hits 0. */
static int body_take(bench_http_reader *r, const char **pp, const char *end) {
    const char *p = *pp;
    size_t n = (size_t)(end - p) < r->remaining ? (size_t)(end - p) : r->remaining;
    *pp = p + n;
    r->remaining -= n;
    int rc = MCP_OK;
    if (r->sse) {
        rc = sse_take(r, p, n);
    } else if (!r->body.len && !r->remaining) {
        rc = r->on_message(r->user, p, n); /* the whole body lies in this read */
    } else {
        if (mcp_buf_append(&r->body, p, n)) return MCP_ENOMEM;
        if (!r->remaining) rc = r->on_message(r->user, r->body.data, r->body.len);
    }
    return rc || r->remaining ? rc : end_response(r);
}

/* A CRLF-terminated line (chunk size, chunk end, trailer) that may be split
 * across reads: true once r->line holds it whole. */
static bool line_take(bench_http_reader *r, const char **pp, const char *end, int *rc) {
    const char *p = *pp;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl + 1 : end) - p);
    *pp = p + n;
    if (r->line_len + n > sizeof r->line) {
        *rc = reader_fail("has a chunk line too long", p, n);
        return false;
    }
    memcpy(r->line + r->line_len, p, n);
    r->line_len += n;
    return nl != NULL;
}

static int chunk_size(bench_http_reader *r) {
    size_t n = 0, digits = 0;
    for (size_t i = 0; i < r->line_len; i++) {
        char ch = r->line[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (v < 0) break;
        n = n * 16 + (size_t)v;
        if (++digits > 8) return reader_fail("has a chunk too large", r->line, r->line_len);
    }
    if (!digits) return reader_fail("has a bad chunk size", r->line, r->line_len);
    r->line_len = 0;
    r->remaining = n;
    r->state = n ? R_CHUNK_DATA : R_TRAILER;
    return MCP_OK;
}

int bench_http_reader_feed(bench_http_reader *r, const char *data, size_t len) {
    const char *p = data, *end = data + len;
    int rc = MCP_OK;
    while (rc == 0 && p < end) {
        switch (r->state) {
        case R_HEAD: {
            if (!r->head.len) {
                const char *t = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
                if (t) {
                    rc = parse_head(r, p, (size_t)(t + 4 - p));
                    p = t + 4;
                    break;
                }
            }
            size_t old = r->head.len;
            if (mcp_buf_append(&r->head, p, (size_t)(end - p))) return MCP_ENOMEM;
            const char *h = r->head.data, *from = h + (old > 3 ? old - 3 : 0);
            const char *t = memmem(from, r->head.len - (size_t)(from - h), "\r\n\r\n", 4);
            if (!t) {
                if (r->head.len > HTTP_HEAD_MAX) return reader_fail("head too long", h, r->head.len);
                p = end;
                break;
            }
            size_t head_len = (size_t)(t + 4 - h);
            rc = parse_head(r, h, head_len);
            p = end - (r->head.len - head_len);
            mcp_buf_reset(&r->head);
            break;
        }
        case R_BODY:
            rc = body_take(r, &p, end);
            break;
        case R_CHUNK_SIZE:
            if (line_take(r, &p, end, &rc)) rc = chunk_size(r);
            break;
        case R_CHUNK_DATA: {
            size_t n = (size_t)(end - p) < r->remaining ? (size_t)(end - p) : r->remaining;
            if (r->sse) rc = sse_take(r, p, n);
            else if (mcp_buf_append(&r->body, p, n)) rc = MCP_ENOMEM;
            p += n;
            r->remaining -= n;
            if (!r->remaining) r->state = R_CHUNK_END;
            break;
        }
        case R_CHUNK_END:
            if (line_take(r, &p, end, &rc)) {
                if (r->line_len != 2 || r->line[0] != '\r') rc = reader_fail("chunk lacks its CRLF", r->line, r->line_len);
                r->line_len = 0;
                r->state = R_CHUNK_SIZE;
            }
            break;
        case R_TRAILER:
            if (line_take(r, &p, end, &rc)) {
                bool blank = r->line_len == 2 && r->line[0] == '\r';
                r->line_len = 0;
                if (blank && !r->sse) {
                    /* A chunked JSON body: one message. */
                    rc = r->on_message(r->user, r->body.data, r->body.len);
                    if (!rc) rc = end_response(r);
                } else if (blank) {
                    if (r->body.len) rc = reader_fail("ends inside an SSE event", r->body.data, r->body.len);
                    else rc = end_response(r);
                }
            }
            break;
        default:
            return MCP_EPROTO;
        }
    }
    return rc;
}

/* ---- The captured response ---------------------------------------------------------- */

void bench_http_reply_free(bench_http_reply *reply) {
    mcp_buf_free(&reply->before_length);
    mcp_buf_free(&reply->before_id);
    mcp_buf_free(&reply->after_id);
}

int bench_http_reply_from(const char *raw, size_t len, uint64_t id, bench_http_reply *out) {
    memset(out, 0, sizeof *out);
    mcp_buf_init(&out->before_length);
    mcp_buf_init(&out->before_id);
    mcp_buf_init(&out->after_id);
    char key[32];
    int kl = snprintf(key, sizeof key, "\"id\":%llu", (unsigned long long)id);
    const char *at = memmem(raw, len, key, (size_t)kl), *end = raw + len;
    const char *head_end = memmem(raw, len, "\r\n\r\n", 4);
    if (!at || !head_end || at < head_end) return MCP_EPROTO;
    const char *body = head_end + 4, *id_start = at + 5, *id_end = at + kl;
    /* The length field that covers the id, and the region it measures. */
    const char *field = NULL, *field_end = NULL, *region = NULL, *region_end = NULL;
    size_t vl;
    const char *cl = head_value(raw, (size_t)(body - raw), "Content-Length", &vl);
    if (cl) {
        field = cl;
        field_end = cl + vl;
        region = body;
        region_end = end;
        out->hex = false;
    } else {
        const char *c = body;
        while (c < end) { /* walk the chunks to the one holding the id */
            const char *crlf = memmem(c, (size_t)(end - c), "\r\n", 2);
            if (!crlf) return MCP_EPROTO;
            size_t n = strtoul(c, NULL, 16);
            if (!n) return MCP_EPROTO;
            if (at >= crlf + 2 && id_end <= crlf + 2 + n) {
                field = c;
                field_end = crlf;
                region = crlf + 2;
                region_end = region + n;
                break;
            }
            c = crlf + 2 + n + 2;
        }
        if (!field) return MCP_EPROTO;
        out->hex = true;
    }
    out->covered = (size_t)(region_end - region) - (size_t)(id_end - id_start);
    int rc = mcp_buf_append(&out->before_length, raw, (size_t)(field - raw));
    if (!rc) rc = mcp_buf_append(&out->before_id, field_end, (size_t)(id_start - field_end));
    if (!rc) rc = mcp_buf_append(&out->after_id, id_end, (size_t)(end - id_end));
    if (rc) bench_http_reply_free(out);
    return rc;
}

int bench_http_reply_append(const bench_http_reply *reply, const char *body, size_t len, mcp_buf *out) {
    mcp_str id = bench_net_request_id(body, len);
    char digits[24];
    int dl = snprintf(digits, sizeof digits, reply->hex ? "%zx" : "%zu", reply->covered + id.len);
    size_t need = reply->before_length.len + (size_t)dl + reply->before_id.len + id.len + reply->after_id.len;
    if (mcp_buf_reserve(out, need)) return MCP_ENOMEM;
    char *w = out->data + out->len;
    memcpy(w, reply->before_length.data, reply->before_length.len);
    w += reply->before_length.len;
    memcpy(w, digits, (size_t)dl);
    w += dl;
    memcpy(w, reply->before_id.data, reply->before_id.len);
    w += reply->before_id.len;
    memcpy(w, id.ptr, id.len);
    w += id.len;
    memcpy(w, reply->after_id.data, reply->after_id.len);
    w += reply->after_id.len;
    out->len = (size_t)(w - out->data);
    return MCP_OK;
}
