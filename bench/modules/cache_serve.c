/*
 * cache_serve: resources/read over TCP answered from the result cache,
 * side by side with the same server without it.
 *
 *   cache_serve_read_64kib    a resource whose handler renders 64 KiB of
 *                             text (1,024 formatted lines of a running
 *                             checksum): the work a template or a report
 *                             does on every read
 *   cache_serve_read_backend  a resource whose handler waits 1 ms before
 *                             answering 1 KiB, standing for a backend call
 *
 * Two servers run in this process, each mcp_net with one worker on
 * 127.0.0.1, with the same resource: one given a result cache (mcpd's
 * store over an L1-only tiered cache, TTL one hour, so every timed read
 * after the first is a hit), one without. One load generator drives both
 * with modern-era (stateless) resources/read, closed loop, and the harness
 * interleaves their repetitions so both see the same machine load. finish
 * reports the speedup (cached throughput over uncached) and how many times
 * each handler ran per read.
 */
#include "mcp/cache.h"
#include "harness.h"
#include "net/net_internal.h"
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RENDER_BYTES (64 * 1024)
#define RENDER_LINE 64
#define BACKEND_BYTES 1024
#define BACKEND_WAIT_NS 1000000L
#define CONNECTIONS 4
#define WINDOW 4

enum kind { K_RENDER = 1, K_BACKEND };

typedef struct serve_side {
    mcp_server *server;
    mcp_net *net;
    bench_net_load *load;
    atomic_uint_fast64_t handler_runs;
    uint64_t ops_run;
    size_t response_bytes;
} serve_side;

typedef struct serve_state {
    enum kind kind;
    mcp_cache *cache;
    mcp_cache_result_store store;
    mcp_result_cache *results;
    serve_side cached, uncached;
    mcp_buf prefix, suffix;
    bench_net_request request;
} serve_state;

/* 1,024 lines of 64 bytes, each carrying a checksum of the lines before:
 * formatting work that cannot be skipped or hoisted. */
static int render_64kib(mcp_call *call, const char *uri, void *user) {
    serve_side *side = user;
    atomic_fetch_add_explicit(&side->handler_runs, 1, memory_order_relaxed);
    char *text = mcp_arena_alloc(mcp_call_arena(call), RENDER_BYTES + 1);
    if (!text) return MCP_ENOMEM;
    uint64_t sum = 0x9e3779b97f4a7c15ull;
    for (size_t line = 0; line < RENDER_BYTES / RENDER_LINE; line++) {
        sum = (sum ^ line) * 0x100000001b3ull;
        snprintf(text + line * RENDER_LINE, RENDER_LINE + 1, "line %06zu checksum %016llx value %12.4f ...\n", line,
                 (unsigned long long)sum, (double)(sum % 1000000) / 7.0);
        text[(line + 1) * RENDER_LINE - 1] = '\n';
    }
    return mcp_call_resource_text(call, uri, "text/plain", text, RENDER_BYTES);
}

static int backend_1ms(mcp_call *call, const char *uri, void *user) {
    serve_side *side = user;
    atomic_fetch_add_explicit(&side->handler_runs, 1, memory_order_relaxed);
    struct timespec wait = {0, BACKEND_WAIT_NS};
    while (nanosleep(&wait, &wait) != 0) {
    }
    char text[BACKEND_BYTES];
    memset(text, 'b', sizeof text);
    return mcp_call_resource_text(call, uri, "text/plain", text, sizeof text);
}

/* One blocking round trip before timing: the answer must be the whole
 * resource (a result with its contents at full size), so that the timed
 * path is the one named. */
static int probe(serve_state *s, serve_side *side) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return MCP_EIO;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)mcp_net_port(side->net))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    mcp_buf req, line;
    mcp_buf_init(&req);
    mcp_buf_init(&line);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr) ? MCP_EIO : MCP_OK;
    if (!rc) rc = mcp_buf_append(&req, s->request.prefix, s->request.prefix_len);
    if (!rc) rc = mcp_buf_append_cstr(&req, "999999999");
    if (!rc) rc = mcp_buf_append(&req, s->request.suffix, s->request.suffix_len);
    if (!rc) rc = mcp_buf_append_char(&req, '\n');
    if (!rc && send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) rc = MCP_EIO;
    while (!rc && !(line.len && line.data[line.len - 1] == '\n')) {
        char chunk[16384];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        rc = n <= 0 ? MCP_ECLOSED : mcp_buf_append(&line, chunk, (size_t)n);
    }
    size_t want = s->kind == K_RENDER ? RENDER_BYTES : BACKEND_BYTES;
    if (!rc && (line.len < want || !memmem(line.data, line.len, "\"result\":{", 10) ||
                !memmem(line.data, line.len, "\"contents\":[", 12))) {
        fprintf(stderr, "bench cache_serve: the probe's answer is not the whole resource: %.*s\n",
                (int)(line.len < 200 ? line.len : 200), line.data ? line.data : "");
        rc = MCP_EPROTO;
    }
    side->response_bytes = line.len;
    mcp_buf_free(&req);
    mcp_buf_free(&line);
    close(fd);
    return rc;
}

static int side_start(serve_state *s, serve_side *side, mcp_result_cache *results) {
    side->server = mcp_server_new(&(mcp_server_opts){.name = "mcpd", .version = MCP_VERSION_STRING,
                                                     .result_cache = results});
    if (!side->server) return MCP_ENOMEM;
    int rc = mcp_server_add_resource(side->server, &(mcp_resource){
                                                       .uri = "bench://report",
                                                       .name = "report",
                                                       .mime_type = "text/plain",
                                                       .fn = s->kind == K_RENDER ? render_64kib : backend_1ms,
                                                       .user = side,
                                                   });
    if (!rc) rc = mcp_net_start(&side->net, side->server, &(mcp_listen){.tcp = "127.0.0.1:0", .workers = 1}, NULL);
    if (!rc) rc = probe(s, side);
    if (!rc)
        rc = bench_net_load_new(mcp_net_port(side->net), CONNECTIONS, WINDOW, BENCH_NET_CLOSED_LOOP, &s->request,
                                &side->load);
    return rc;
}

static void side_stop(serve_side *side) {
    bench_net_load_free(side->load);
    if (side->net) mcp_net_free(side->net);
    mcp_server_free(side->server);
}

static void serve_teardown(void *p) {
    serve_state *s = p;
    if (!s) return;
    side_stop(&s->cached);
    side_stop(&s->uncached);
    mcp_result_cache_free(s->results);
    mcp_cache_free(s->cache);
    mcp_buf_free(&s->prefix);
    mcp_buf_free(&s->suffix);
    free(s);
}

static int run_side(void *ctx, uint64_t ops, mcp_histogram *lat, uint64_t *elapsed_ns) {
    serve_side *side = ctx;
    int rc = bench_net_load_run(side->load, ops, lat, elapsed_ns);
    if (!rc) side->ops_run += ops;
    return rc;
}

static int serve_setup(const bench_workload *w, void **state, bench_task *tasks, size_t *count) {
    serve_state *s = calloc(1, sizeof *s);
    if (!s) return MCP_ENOMEM;
    *state = s;
    s->kind = (enum kind)w->size;
    mcp_buf_init(&s->prefix);
    mcp_buf_init(&s->suffix);
    int rc = mcp_buf_append_cstr(&s->prefix, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (!rc)
        rc = mcp_buf_append_cstr(&s->suffix, ",\"method\":\"resources/read\",\"params\":{\"uri\":\"bench://report\","
                                             "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" MCP_PROTOCOL_MODERN
                                             "\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    s->request = (bench_net_request){.prefix = s->prefix.data, .prefix_len = s->prefix.len,
                                     .suffix = s->suffix.data, .suffix_len = s->suffix.len};
    if (!rc) rc = mcp_cache_new(&(mcp_cache_opts){.l1 = {.max_entries = 1000}}, &s->cache);
    s->store = (mcp_cache_result_store){.cache = s->cache};
    if (!rc)
        rc = mcp_result_cache_new(&(mcp_result_cache_opts){.store = mcp_cache_result_store_ops(&s->store),
                                                           .default_ttl_ms = 3600000},
                                  &s->results);
    if (!rc) rc = side_start(s, &s->cached, s->results);
    if (!rc) rc = side_start(s, &s->uncached, NULL);
    if (rc) {
        fprintf(stderr, "bench cache_serve: %s: setup failed: %s\n", w->id, mcp_strerror(rc));
        serve_teardown(s);
        *state = NULL;
        return rc;
    }
    const char *what = s->kind == K_RENDER ? "handler renders 64 KiB of text per read"
                                           : "handler waits 1 ms (a backend call), answers 1 KiB";
    snprintf(tasks[0].name, sizeof tasks[0].name, "read_cached");
    snprintf(tasks[1].name, sizeof tasks[1].name, "read_uncached");
    snprintf(tasks[0].scope, sizeof tasks[0].scope,
             "modern resources/read over TCP (mcp_net, 1 worker), %d conn x %d in flight, 127.0.0.1; %s; "
             "answered from the result cache (L1, TTL 1 h: hits after the first read)", CONNECTIONS, WINDOW, what);
    snprintf(tasks[1].scope, sizeof tasks[1].scope,
             "modern resources/read over TCP (mcp_net, 1 worker), %d conn x %d in flight, 127.0.0.1; %s; "
             "no result cache: the handler runs on every read", CONNECTIONS, WINDOW, what);
    tasks[0].single_pass = tasks[1].single_pass = true;
    tasks[0].run = tasks[1].run = run_side;
    tasks[0].ctx = &s->cached;
    tasks[1].ctx = &s->uncached;
    *count = 2;
    return MCP_OK;
}

static void serve_finish(void *p, bench_record *records, size_t count) {
    serve_state *s = p;
    bench_record *cached = NULL, *uncached = NULL;
    for (size_t i = 0; i < count; i++) {
        if (!strcmp(records[i].benchmark, "read_cached")) cached = &records[i];
        if (!strcmp(records[i].benchmark, "read_uncached")) uncached = &records[i];
    }
    const serve_side *sides[2] = {&s->cached, &s->uncached};
    bench_record *recs[2] = {cached, uncached};
    for (int i = 0; i < 2; i++) {
        if (!recs[i] || !sides[i]->ops_run) continue;
        uint64_t runs = atomic_load(&((serve_side *)sides[i])->handler_runs);
        bench_record_add_metric(recs[i], "handler_runs_per_read", (double)runs / (double)sides[i]->ops_run);
        bench_record_add_metric(recs[i], "response_bytes", (double)sides[i]->response_bytes);
    }
    if (cached && uncached && uncached->throughput > 0) {
        bench_record_add_metric(cached, "speedup_vs_uncached", cached->throughput / uncached->throughput);
        if (cached->p50_us > 0) bench_record_add_metric(cached, "p50_ratio_uncached", uncached->p50_us / cached->p50_us);
    }
    mcp_cache_stats st;
    mcp_cache_l1_stats(mcp_cache_get_l1(s->cache), &st);
    if (cached && st.hits + st.misses)
        bench_record_add_metric(cached, "l1_hit_ratio", (double)st.hits / (double)(st.hits + st.misses));
}

static const bench_workload SERVE_WORKLOADS[] = {
    {"cache_serve_read_64kib", "resources/read over TCP of a resource rendered at 64 KiB, with and without the "
     "result cache", K_RENDER, {5000, 50000}, {5, 9}},
    {"cache_serve_read_backend", "resources/read over TCP of a resource whose handler waits 1 ms, with and without "
     "the result cache", K_BACKEND, {1000, 5000}, {5, 9}},
};

const bench_module bench_module_cache_serve = {
    .name = "cache_serve",
    .description = "resources/read over TCP answered from the result cache, side by side with no cache",
    .notes = "in-process server and load generator share the machine; the cached side's first read of each "
             "repetition is a hit too (warm-up fills the entry); L2 and L3 are not in the path (see cache)",
    .workloads = SERVE_WORKLOADS,
    .workload_count = sizeof SERVE_WORKLOADS / sizeof SERVE_WORKLOADS[0],
    .setup = serve_setup,
    .finish = serve_finish,
    .teardown = serve_teardown,
    .interleave = true, /* the speedup needs both under the same load */
};
