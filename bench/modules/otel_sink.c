/* The otel module's loopback OTLP receiver (otel_sink.h says what it is
 * for and why it only counts). */
#include "otel_sink.h"

#include "mcp/base.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SPAN_MARKER "\"spanId\":\""
#define SPAN_MARKER_LEN (sizeof SPAN_MARKER - 1)

/* The markers in data[0, n). carry holds the last bytes of the previous
 * read of the body (fewer than a marker), so that a marker cut in two by
 * the reads is found in the joint; one wholly in data is found there. */
static uint64_t sink_count(char *carry, size_t *carry_len, const char *data, size_t n) {
    const size_t keep = SPAN_MARKER_LEN - 1;
    uint64_t found = 0;
    char joint[2 * SPAN_MARKER_LEN];
    size_t head = n < keep ? n : keep, jl = *carry_len + head;
    memcpy(joint, carry, *carry_len);
    memcpy(joint + *carry_len, data, head);
    if (*carry_len && memmem(joint, jl, SPAN_MARKER, SPAN_MARKER_LEN)) found++;
    /* Markers wholly in data, found by their 'I' (a handful per span, and
     * memchr runs a vector a step): a quarter of memmem's time. */
    const char *end = data + n;
    for (const char *p = data + 5; p < end && (p = memchr(p, 'I', (size_t)(end - p))) != NULL; p++)
        if (p + SPAN_MARKER_LEN - 5 <= end && !memcmp(p - 5, SPAN_MARKER, SPAN_MARKER_LEN)) found++;
    const char *tail = n >= keep ? data + n - keep : joint + (jl > keep ? jl - keep : 0);
    *carry_len = n >= keep ? keep : (jl > keep ? keep : jl);
    memmove(carry, tail, *carry_len);
    return found;
}

/* A protobuf body has no marker to look for: its spans are the field 2
 * entries of the ScopeSpans (field 2) of the ResourceSpans (field 1) of the
 * request. The walk reads the tags and lengths of those three levels,
 * across reads, and skips every span's bytes unread: a few bytes a span. */
typedef struct proto_walk {
    uint64_t pos, skip_to, end[3], varint;
    unsigned depth, shift, field;
    uint8_t phase; /* the varint being read: 0 a tag, 1 a length, 2 a value */
} proto_walk;

static uint64_t proto_count(proto_walk *w, const char *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data, *end = p + n;
    uint64_t found = 0;
    while (p < end) {
        if (w->pos < w->skip_to) {
            uint64_t k = w->skip_to - w->pos < (uint64_t)(end - p) ? w->skip_to - w->pos : (uint64_t)(end - p);
            p += k;
            w->pos += k;
            continue;
        }
        while (w->depth && w->phase == 0 && w->shift == 0 && w->pos >= w->end[w->depth]) w->depth--;
        unsigned char b = *p++;
        w->pos++;
        w->varint |= (uint64_t)(b & 0x7f) << (w->shift < 63 ? w->shift : 63);
        w->shift += 7;
        if (b & 0x80) continue;
        uint64_t v = w->varint;
        uint8_t phase = w->phase;
        w->varint = w->shift = w->phase = 0;
        if (phase == 1 && w->depth < 2 && w->field == (w->depth ? 2u : 1u)) {
            w->end[++w->depth] = w->pos + v; /* into a ResourceSpans or a ScopeSpans */
        } else if (phase == 1) {
            found += w->depth == 2 && w->field == 2;
            w->skip_to = w->pos + v;
        } else if (phase == 0) {
            w->field = (unsigned)(v >> 3);
            if ((v & 7) == 0 || (v & 7) == 2) w->phase = (v & 7) ? 1 : 2;
            else w->skip_to = w->pos + ((v & 7) == 1 ? 8 : 4);
        }
    }
    return found;
}

/* One connection: POST after POST (the exporter keeps its connection),
 * until the peer closes or says something that is not the next request. */
static void sink_serve(sink_server *s, int fd) {
    char buf[65536];
    size_t have = 0, need = 0;
    char head[4096];
    size_t head_len = 0;
    bool in_body = false;
    char carry[SPAN_MARKER_LEN];
    size_t carry_len = 0;
    uint64_t spans = 0;
    bool proto = false;
    proto_walk walk = {0};
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        const char *body = buf;
        size_t body_len = (size_t)n;
        if (!in_body) {
            size_t take = (size_t)n < sizeof head - 1 - head_len ? (size_t)n : sizeof head - 1 - head_len;
            memcpy(head + head_len, buf, take);
            head_len += take;
            head[head_len] = '\0';
            char *e = strstr(head, "\r\n\r\n");
            if (!e) {
                if (head_len == sizeof head - 1) break;
                continue;
            }
            char *cl = strcasestr(head, "content-length:");
            need = cl ? strtoul(cl + 15, NULL, 10) : 0;
            *e = '\0'; /* the headers only */
            proto = strcasestr(head, "application/x-protobuf") != NULL;
            *e = '\r';
            memset(&walk, 0, sizeof walk);
            size_t head_in_buf = (size_t)(e + 4 - head) - (head_len - take);
            body = buf + head_in_buf;
            body_len = (size_t)n - head_in_buf;
            in_body = true;
        }
        /* The client waits for each answer: bytes past this body are not
         * a request we can take. */
        if (have + body_len > need) break;
        have += body_len;
        spans += proto ? proto_count(&walk, body, body_len) : sink_count(carry, &carry_len, body, body_len);
        if (have == need) {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            /* Counted before the answer: once the exporter has its 200,
             * a flush that returns may read the count. */
            atomic_fetch_add(&s->spans, spans);
            atomic_fetch_add(&s->bytes, need);
            if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ok - 1)) break;
            have = need = head_len = carry_len = 0;
            spans = 0;
            in_body = false;
        }
    }
    close(fd);
}

static void *sink_main(void *arg) {
    sink_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0) sink_serve(s, c);
    }
    return NULL;
}

int bench_otel_sink_start(sink_server *s) {
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) || listen(s->fd, 64) ||
        getsockname(s->fd, (struct sockaddr *)&a, &len))
        return MCP_EIO;
    s->port = ntohs(a.sin_port);
    atomic_store(&s->stop, false);
    return pthread_create(&s->thread, NULL, sink_main, s) ? MCP_ENOMEM : MCP_OK;
}

void bench_otel_sink_stop(sink_server *s) {
    if (s->fd <= 0) return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    s->fd = 0;
}
