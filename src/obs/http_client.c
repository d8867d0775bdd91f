/*
 * A small blocking HTTP/1.1 client for the exporter thread: a deadline
 * over the whole exchange (connect, send, receive) enforced with poll, and
 * the response parsed by llhttp. Only http:// URLs: the collector is
 * expected on loopback or behind a local agent. This sits behind
 * obs_http_request / obs_http_exchange so that a shared client of the net
 * layer can replace it without touching the exporter.
 *
 * The exporter keeps its connection between posts (obs_http_conn): a new
 * TCP connection per batch cost a handshake, a teardown and a cold
 * receive window on both ends for every few hundred spans. A kept
 * connection the collector has since closed is noticed before sending (it
 * reads as ready) or by a failure before any answer byte, and the post
 * goes once more on a new connection; a connection is kept only when the
 * answer allows it and was read to its exact end.
 */
#include "obs_internal.h"

#include <llhttp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RESPONSE_BODY (1u << 20)

int obs_url_parse(const char *url, obs_url *out) {
    memset(out, 0, sizeof *out);
    if (!url || strncmp(url, "http://", 7) != 0) return MCP_EINVAL;
    const char *p = url + 7, *host_end, *port = NULL;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end) return MCP_EINVAL;
        p++;
        if (host_end[1] == ':') port = host_end + 2;
        else if (host_end[1] != '/' && host_end[1] != '\0') return MCP_EINVAL;
    } else {
        host_end = p + strcspn(p, ":/");
        if (*host_end == ':') port = host_end + 1;
    }
    size_t hl = (size_t)(host_end - p);
    if (!hl || hl >= sizeof out->host) return MCP_EINVAL;
    memcpy(out->host, p, hl);
    const char *path = strchr(port ? port : host_end, '/');
    if (port) {
        size_t pl = path ? (size_t)(path - port) : strlen(port);
        if (!pl || pl >= sizeof out->port || strspn(port, "0123456789") != pl) return MCP_EINVAL;
        memcpy(out->port, port, pl);
    } else {
        strcpy(out->port, "80");
    }
    if (!path) path = "/";
    if (strlen(path) >= sizeof out->path || strpbrk(path, " \r\n")) return MCP_EINVAL;
    strcpy(out->path, path);
    return MCP_OK;
}

static int remaining_ms(uint64_t deadline) {
    uint64_t now = mcp_now_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

static int connect_deadline(const obs_url *url, uint64_t deadline, int *fd_out) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(url->host, url->port, &hints, &res) != 0 || !res) return MCP_EIO;
    int rc = MCP_EIO;
    for (struct addrinfo *ai = res; ai && rc != 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            rc = MCP_OK;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int ms = remaining_ms(deadline);
            int err = 0;
            socklen_t len = sizeof err;
            if (ms > 0 && poll(&p, 1, ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
                rc = MCP_OK;
            else if (remaining_ms(deadline) == 0)
                rc = MCP_ETIMEDOUT;
        }
        if (rc == MCP_OK) {
            /* A post is one write and waits for its answer: nothing to
             * gain from Nagle, and a delayed ACK to lose on a kept
             * connection when a write is split. */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd_out = fd;
        } else {
            close(fd);
        }
        if (rc == MCP_ETIMEDOUT) break;
    }
    freeaddrinfo(res);
    return rc;
}

/* Head and body in one sendmsg where the socket takes them: as two sends
 * on a kept connection, the body would wait behind Nagle for the
 * collector's delayed ACK of the head (tens of ms per post). */
static int send_all(int fd, const char *head, size_t head_len, const char *body, size_t body_len, uint64_t deadline) {
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body_len ? 2 : 1};
    while (msg.msg_iovlen) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            size_t sent = (size_t)n;
            while (msg.msg_iovlen && sent >= msg.msg_iov->iov_len) {
                sent -= msg.msg_iov->iov_len;
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
            if (msg.msg_iovlen) {
                msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + sent;
                msg.msg_iov->iov_len -= sent;
            }
            if (n > 0) continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return MCP_EIO;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        int ms = remaining_ms(deadline);
        if (ms == 0 || poll(&p, 1, ms) == 0) return MCP_ETIMEDOUT;
    }
    return MCP_OK;
}

typedef struct parse_state {
    obs_http_response *resp;
    char field[32];
    size_t field_len;
    bool field_overflow;
    bool in_retry_after;
    char value[32];
    size_t value_len;
    bool done;
    bool too_big;
} parse_state;

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
    parse_state *s = p->data;
    if (s->in_retry_after) s->in_retry_after = false;
    if (s->field_len + len >= sizeof s->field) s->field_overflow = true;
    else {
        memcpy(s->field + s->field_len, at, len);
        s->field_len += len;
    }
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    parse_state *s = p->data;
    if (s->field_len) {
        s->field[s->field_len] = '\0';
        s->in_retry_after = !s->field_overflow && strcasecmp(s->field, "retry-after") == 0;
        s->field_len = 0;
        s->field_overflow = false;
        s->value_len = 0;
    }
    if (s->in_retry_after && s->value_len + len < sizeof s->value) {
        memcpy(s->value + s->value_len, at, len);
        s->value_len += len;
        s->value[s->value_len] = '\0';
        /* delta-seconds only; an HTTP date falls back to our own backoff */
        char *end;
        long secs = strtol(s->value, &end, 10);
        if (end != s->value && *end == '\0' && secs >= 0 && secs < 86400)
            s->resp->retry_after_ms = secs * 1000;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    parse_state *s = p->data;
    if (s->resp->body.len + len > MAX_RESPONSE_BODY) {
        s->too_big = true;
        return 0;
    }
    return mcp_buf_append(&s->resp->body, at, len) == 0 ? 0 : -1;
}

static int on_message_complete(llhttp_t *p) {
    parse_state *s = p->data;
    int status = llhttp_get_status_code(p);
    /* An interim answer (100 Continue, 103 Early Hints) is not the post's
     * outcome: the final one follows on the same stream. 101 would switch
     * protocols, which we never ask for: it ends the exchange as it is. */
    if (status >= 100 && status < 200 && status != 101) {
        s->resp->retry_after_ms = -1;
        return 0;
    }
    s->done = true;
    return HPE_PAUSED;
}

/* Read one response. *answered: some of it arrived; *reusable: it was
 * complete, allowed keep-alive and nothing followed it. */
static int read_response(int fd, uint64_t deadline, obs_http_response *out, bool *answered, bool *reusable) {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parse_state st = {.resp = out};
    parser.data = &st;
    char buf[4096];
    *answered = *reusable = false;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int ms = remaining_ms(deadline);
        if (ms == 0 || poll(&p, 1, ms) == 0) return MCP_ETIMEDOUT;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            return MCP_EIO;
        }
        if (n > 0) *answered = true;
        llhttp_errno_t e = n == 0 ? llhttp_finish(&parser) : llhttp_execute(&parser, buf, (size_t)n);
        if (st.done) {
            *reusable = n > 0 && e == HPE_PAUSED && llhttp_get_error_pos(&parser) == buf + n && !st.too_big &&
                        llhttp_should_keep_alive(&parser);
            break;
        }
        if (e != HPE_OK) return MCP_EPROTO;
        if (n == 0) return MCP_EPROTO;
    }
    out->status = llhttp_get_status_code(&parser);
    return MCP_OK;
}

void obs_http_conn_close(obs_http_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* A kept connection is usable when nothing is waiting on it: a collector
 * that closed it makes it readable (end of stream). */
static bool conn_idle(int fd) {
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    return poll(&p, 1, 0) == 0;
}

int obs_http_exchange(obs_http_conn *c, const obs_url *url, const char *method, const mcp_header *headers,
                      size_t header_count, const char *content_type, const char *body, size_t body_len,
                      unsigned timeout_ms, obs_http_response *out) {
    out->status = 0;
    out->retry_after_ms = -1;
    uint64_t deadline = mcp_now_ns() + (uint64_t)(timeout_ms ? timeout_ms : 10000) * 1000000ull;
    mcp_buf req;
    mcp_buf_init(&req);
    bool v6 = strchr(url->host, ':') != NULL;
    int rc = mcp_buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: mcpd/" MCP_VERSION_STRING "\r\n%s",
                             method, url->path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port,
                             c->keep ? "" : "Connection: close\r\n");
    if (!rc && body) rc = mcp_buf_appendf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, body_len);
    for (size_t i = 0; !rc && i < header_count; i++)
        rc = mcp_buf_appendf(&req, "%s: %s\r\n", headers[i].name, headers[i].value);
    if (!rc) rc = mcp_buf_append(&req, "\r\n", 2);
    for (int attempt = 0; !rc; attempt++) {
        bool reused = c->fd >= 0;
        if (reused && !conn_idle(c->fd)) {
            obs_http_conn_close(c);
            reused = false;
        }
        if (c->fd < 0) rc = connect_deadline(url, deadline, &c->fd);
        if (!rc) rc = send_all(c->fd, req.data, req.len, body, body_len, deadline);
        bool answered = false, reusable = false;
        if (!rc) rc = read_response(c->fd, deadline, out, &answered, &reusable);
        if (!rc) {
            if (!c->keep || !reusable) obs_http_conn_close(c);
            break;
        }
        obs_http_conn_close(c);
        /* Closed under us while kept: the collector never saw this post
         * (no answer began), so it goes once more on a new connection. */
        if (!reused || answered || rc == MCP_ETIMEDOUT || attempt) break;
        rc = MCP_OK;
        out->retry_after_ms = -1;
        mcp_buf_reset(&out->body);
    }
    mcp_buf_free(&req);
    return rc;
}

int obs_http_request(const obs_url *url, const char *method, const mcp_header *headers, size_t header_count,
                     const char *content_type, const char *body, size_t body_len, unsigned timeout_ms,
                     obs_http_response *out) {
    obs_http_conn c = {.fd = -1, .keep = false};
    int rc = obs_http_exchange(&c, url, method, headers, header_count, content_type, body, body_len, timeout_ms, out);
    obs_http_conn_close(&c);
    return rc;
}
