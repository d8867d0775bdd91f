/*
 * mcp_serve: the one call an application makes to put a server on the
 * transports named in an mcp_listen. It checks the combination, then runs
 * each transport; it owns no protocol or framing logic of its own.
 *
 * Each network transport is its own runtime of worker loops (NDJSON on
 * listen->tcp, Streamable HTTP on listen->http, WebSocket on listen->ws),
 * with TLS on all of them when listen names a certificate and key. With
 * stdio, serving lasts as long as the parent's pipe: stdin's end drains the
 * network runtimes. Without stdio, one runtime runs in the foreground until
 * SIGTERM or SIGINT (mcp_net_run: http, else tcp), and the others are
 * drained right after it.
 *
 * The listeners of one run are recorded as a serving group so that
 * /metrics, which only the HTTP listener serves, can report every
 * listener's counters and knows which kind each is (mcp_serve_listeners). The foreground runtime
 * is made inside mcp_net_run, out of our reach; HTTP goes in the foreground
 * because the scrape hands us that very runtime, so the group never needs
 * its pointer.
 */
#include "net/net_internal.h"

#include <pthread.h>
#include <unistd.h>

static int serve_check(const mcp_listen *listen) {
    if (!listen->stdio && !listen->tcp && !listen->http && !listen->ws) {
        mcp_log(MCP_LOG_ERROR, "serve: no transport selected");
        return MCP_EINVAL;
    }
    if (!listen->tls_cert != !listen->tls_key) {
        mcp_log(MCP_LOG_ERROR, "serve: TLS needs both a certificate and a key file");
        return MCP_EINVAL;
    }
    return 0;
}

static void net_finish(mcp_net *net) {
    if (!net) return;
    mcp_net_stop(net);
    mcp_net_wait(net);
    mcp_net_free(net);
}

/* ---- Serving groups, for the scrape -------------------------------------------------
 * A process usually has one; tests may run several at once. The lock is held
 * while a scrape reads counters and while a group leaves, so no runtime is
 * freed under a reader. */
typedef struct serve_group {
    struct serve_group *next;
    const mcp_server *server;
    bool stdio, tcp, http, ws;           /* the listeners of this run */
    mcp_net *tcp_net, *http_net, *ws_net; /* NULL for the foreground runtime */
    const mcp_stdio_counters *stdio_counters;
} serve_group;

static pthread_mutex_t serve_groups_lock = PTHREAD_MUTEX_INITIALIZER;
static serve_group *serve_groups;

static void serve_group_join(serve_group *g) {
    pthread_mutex_lock(&serve_groups_lock);
    g->next = serve_groups;
    serve_groups = g;
    pthread_mutex_unlock(&serve_groups_lock);
}

static void serve_group_leave(serve_group *g) {
    pthread_mutex_lock(&serve_groups_lock);
    for (serve_group **p = &serve_groups; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    pthread_mutex_unlock(&serve_groups_lock);
}

/* The group net belongs to: by pointer, or the group of net's server whose
 * foreground runtime (not known by pointer) is of net's kind. */
static const serve_group *serve_group_find(const mcp_net *net) {
    for (const serve_group *g = serve_groups; g; g = g->next)
        if (g->tcp_net == net || g->http_net == net || g->ws_net == net) return g;
    const mcp_server *server = mcp_net_server(net);
    for (const serve_group *g = serve_groups; g; g = g->next)
        if (g->server == server && g->http && !g->http_net) return g;
    return NULL;
}

size_t mcp_serve_listeners(const mcp_net *net, mcp_serve_listener_fn fn, void *user) {
    if (!net || !fn) return 0;
    size_t n = 0;
    pthread_mutex_lock(&serve_groups_lock);
    const serve_group *g = serve_group_find(net);
    if (g) {
        /* The foreground runtime is the HTTP one, and only HTTP scrapes. */
        const mcp_net *http = g->http_net ? g->http_net : net;
        const struct {
            bool on;
            const char *name;
            const mcp_net *net;
        } all[] = {{g->stdio, "stdio", NULL}, {g->tcp, "tcp", g->tcp_net}, {g->http, "http", http},
                   {g->ws, "ws", g->ws_net}};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            if (!all[i].on) continue;
            fn(user, all[i].name, all[i].net, all[i].net ? NULL : g->stdio_counters);
            n++;
        }
    }
    pthread_mutex_unlock(&serve_groups_lock);
    return n;
}

int mcp_serve(mcp_server *server, const mcp_listen *listen) {
    if (!server || !listen) return MCP_EINVAL;
    int rc = serve_check(listen);
    if (rc) return rc;
    int network = !!listen->tcp + !!listen->http + !!listen->ws;
    if (listen->stdio && network == 0) return mcp_serve_stdio_fds(server, STDIN_FILENO, STDOUT_FILENO, listen);
    if (!listen->stdio && network == 1) {
        /* One network transport alone: the runtime handles signals and
         * drain. The group still tells the scrape which kind it is. */
        serve_group alone = {.server = server, .tcp = listen->tcp, .http = listen->http, .ws = listen->ws};
        serve_group_join(&alone);
        rc = mcp_net_run(server, listen);
        serve_group_leave(&alone);
        return rc;
    }

    /* The foreground: stdio, else http, else tcp. The rest run beside it. */
    const char *front = listen->stdio ? NULL : listen->http ? listen->http : listen->tcp;
    mcp_net *tcp = NULL, *http = NULL, *ws = NULL;
    if (listen->http && listen->http != front)
        rc = mcp_net_start(&http, server, listen, &(mcp_net_tuning){.http = true});
    if (!rc && listen->ws) rc = mcp_net_start(&ws, server, listen, &(mcp_net_tuning){.ws = true});
    if (!rc && listen->tcp && listen->tcp != front) rc = mcp_net_start(&tcp, server, listen, NULL);
    mcp_stdio_counters stdio_counters = {0};
    serve_group group = {.server = server,
                         .stdio = listen->stdio,
                         .tcp = listen->tcp,
                         .http = listen->http,
                         .ws = listen->ws,
                         .tcp_net = tcp,
                         .http_net = http,
                         .ws_net = ws,
                         .stdio_counters = &stdio_counters};
    if (!rc) {
        serve_group_join(&group);
        if (listen->stdio) {
            rc = mcp_serve_stdio_counted(server, STDIN_FILENO, STDOUT_FILENO, listen, &stdio_counters);
        } else {
            /* The foreground takes the signal; the others' in-flight
             * requests are drained right after. */
            mcp_listen only = *listen;
            only.tcp = listen->tcp == front ? front : NULL;
            only.http = listen->http == front ? front : NULL;
            only.ws = NULL;
            rc = mcp_net_run(server, &only);
        }
        serve_group_leave(&group);
    }
    net_finish(tcp);
    net_finish(http);
    net_finish(ws);
    return rc;
}
