/*
 * otlp_receiver.h — a tiny HTTP server on 127.0.0.1 for the obs tests: it
 * takes POSTs (an OTLP collector stand-in) or GETs (a /metrics scrape
 * target), answers each request with the next scripted status (then 200),
 * and keeps the bodies it received (with their lengths and Content-Type:
 * a protobuf body has NUL bytes inside) and the last request's headers. One connection at a time, which is
 * all an exporter or a scraper opens.
 */
#ifndef TEST_OTLP_RECEIVER_H
#define TEST_OTLP_RECEIVER_H

#include "mcp/base.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECEIVER_MAX_BODIES 256

typedef struct receiver {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    int script[16];             /* statuses to answer first; then 200 */
    size_t script_len, script_pos;
    const char *retry_after;    /* header value sent with non-200 answers, or NULL */
    char *bodies[RECEIVER_MAX_BODIES]; /* each NUL-terminated after its length */
    size_t body_lens[RECEIVER_MAX_BODIES];
    char content_types[RECEIVER_MAX_BODIES][64];
    size_t body_count;
    size_t requests;
    char last_path[256];
    char last_headers[2048];    /* the header lines of the last request, as sent */
    /* GET responder: a function producing the body (for /metrics) */
    void (*get_body)(mcp_buf *out, void *user);
    void *get_user;
    const char *get_content_type;
} receiver;

static inline void receiver_serve_one(receiver *r, int fd) {
    mcp_buf in;
    mcp_buf_init(&in);
    char buf[8192];
    size_t header_end = 0, content_length = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) goto done;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) goto done;
        mcp_buf_append(&in, buf, (size_t)n);
        if (!header_end) {
            char *e = strstr(in.data, "\r\n\r\n");
            if (!e) continue;
            header_end = (size_t)(e - in.data) + 4;
            char *cl = strcasestr(in.data, "content-length:");
            if (cl && cl < e) content_length = strtoul(cl + 15, NULL, 10);
        }
        if (in.len >= header_end + content_length) break;
    }
    pthread_mutex_lock(&r->lock);
    r->requests++;
    sscanf(in.data, "%*s %255s", r->last_path);
    size_t head = header_end < sizeof r->last_headers ? header_end : sizeof r->last_headers - 1;
    memcpy(r->last_headers, in.data, head);
    r->last_headers[head] = '\0';
    bool is_get = strncmp(in.data, "GET ", 4) == 0;
    int status = r->script_pos < r->script_len ? r->script[r->script_pos++] : 200;
    if (status == 200 && !is_get && r->body_count < RECEIVER_MAX_BODIES) {
        char *body = malloc(content_length + 1);
        memcpy(body, in.data + header_end, content_length);
        body[content_length] = '\0';
        char *type = r->content_types[r->body_count];
        type[0] = '\0';
        char *ct = strcasestr(in.data, "\r\ncontent-type:");
        if (ct && ct < in.data + header_end) sscanf(ct + 15, " %63[^\r\n]", type);
        r->body_lens[r->body_count] = content_length;
        r->bodies[r->body_count++] = body;
    }
    pthread_mutex_unlock(&r->lock);
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_buf body;
    mcp_buf_init(&body);
    if (is_get && r->get_body) r->get_body(&body, r->get_user);
    else if (!is_get) mcp_buf_append_cstr(&body, status == 200 ? "{}" : "{\"code\":14}");
    mcp_buf_appendf(&out, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n", status,
                    is_get && r->get_content_type ? r->get_content_type : "application/json", body.len);
    if (status != 200 && r->retry_after) mcp_buf_appendf(&out, "Retry-After: %s\r\n", r->retry_after);
    mcp_buf_append(&out, "\r\n", 2);
    mcp_buf_append(&out, body.data ? body.data : "", body.len);
    send(fd, out.data, out.len, MSG_NOSIGNAL);
    mcp_buf_free(&out);
    mcp_buf_free(&body);
done:
    mcp_buf_free(&in);
    close(fd);
}

static void *receiver_main(void *arg) {
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {r->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd >= 0) receiver_serve_one(r, fd);
    }
    return NULL;
}

/* 0 on success; port 0 picks a free one. */
static inline int receiver_start(receiver *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(r->listen_fd, 64) != 0 || getsockname(r->listen_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->thread, NULL, receiver_main, r) == 0 ? 0 : -1;
}

static inline void receiver_stop(receiver *r) {
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    for (size_t i = 0; i < r->body_count; i++) free(r->bodies[i]);
    pthread_mutex_destroy(&r->lock);
}

static inline size_t receiver_requests(receiver *r) {
    pthread_mutex_lock(&r->lock);
    size_t n = r->requests;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* A port with nothing listening: bind, read the port, close. */
static inline int receiver_dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

#endif
