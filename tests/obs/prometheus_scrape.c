/*
 * A real Prometheus scrapes our /metrics text from two targets: a
 * registry rendered by a minimal loopback responder (job "lib"), and a real
 * `mcpd serve --http --metrics` ($MCPD_BIN, job "mcpd") that answered 42
 * tools/call POSTs. The test starts /usr/bin/prometheus with a generated
 * configuration scraping both every second, and asks Prometheus's HTTP API
 * whether both are up and whether the request counters and latency
 * histograms arrived with the values we caused. Exits 77 (skip) when
 * Prometheus is not installed or MCPD_BIN is not set.
 */
#include "mcp/json.h"
#include "mcp/obs.h"
#include "obs/obs_internal.h"
#include "obs/otlp_receiver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define PROMETHEUS "/usr/bin/prometheus"
#define CALLS 42

/* Start mcpd serve on a port of its choosing; its stderr goes to err_path. */
static pid_t mcpd_start(const char *bin, const char *err_path, int *port) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        execl(bin, bin, "serve", "--http", "127.0.0.1:0", "--workers", "1", "--metrics", "--log-level", "info",
              (char *)NULL);
        _exit(127);
    }
    *port = 0;
    for (int i = 0; i < 100 && pid > 0 && !*port; i++) {
        usleep(50000);
        mcp_buf log;
        mcp_buf_init(&log);
        FILE *f = fopen(err_path, "r");
        char chunk[1024];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) mcp_buf_append(&log, chunk, n);
        if (f) fclose(f);
        mcp_buf_append_char(&log, '\0');
        const char *p = strstr(log.data, "(port ");
        if (p) *port = atoi(p + 6);
        mcp_buf_free(&log);
    }
    return pid;
}

/* One modern-era tools/call POST; true on a 200 carrying the echo. */
static bool post_call(int port) {
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                               "\"arguments\":{\"text\":\"scraped\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
                               "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
    obs_url u;
    if (obs_url_parse(url, &u) != 0) return false;
    const mcp_header headers[] = {{"Accept", "application/json, text/event-stream"},
                                  {"MCP-Protocol-Version", "2026-07-28"},
                                  {"Mcp-Method", "tools/call"},
                                  {"Mcp-Name", "echo"}};
    obs_http_response r;
    mcp_buf_init(&r.body);
    bool ok = obs_http_request(&u, "POST", headers, 4, "application/json", body, sizeof body - 1, 2000, &r) == 0 &&
              r.status == 200 && r.body.data && strstr(r.body.data, "scraped");
    mcp_buf_free(&r.body);
    return ok;
}

static void render(mcp_buf *out, void *user) {
    mcp_metrics_render(user, out);
}

/* GET a Prometheus API query; returns the first result's value as text. */
static bool query(int port, const char *promql, char *value, size_t cap) {
    char url[512];
    mcp_buf enc;
    mcp_buf_init(&enc);
    for (const char *p = promql; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
            mcp_buf_append_char(&enc, *p);
        else
            mcp_buf_appendf(&enc, "%%%02X", (unsigned char)*p);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query?query=%s", port, enc.data);
    mcp_buf_free(&enc);
    obs_url u;
    if (obs_url_parse(url, &u) != 0) return false;
    obs_http_response r;
    mcp_buf_init(&r.body);
    bool ok = false;
    if (obs_http_request(&u, "GET", NULL, 0, NULL, NULL, 0, 2000, &r) == 0 && r.status == 200) {
        mcp_arena a;
        mcp_arena_init(&a, 0);
        mcp_json *doc;
        if (mcp_json_parse(&a, r.body.data, r.body.len, NULL, &doc, NULL) == 0) {
            const mcp_json *res = mcp_json_at(mcp_json_get(mcp_json_get(doc, "data"), "result"), 0);
            const char *v = mcp_json_str(mcp_json_at(mcp_json_get(res, "value"), 1), NULL);
            if (v) {
                snprintf(value, cap, "%s", v);
                ok = true;
            }
        }
        mcp_arena_free(&a);
    }
    mcp_buf_free(&r.body);
    return ok;
}

int main(void) {
    if (access(PROMETHEUS, X_OK) != 0) {
        printf("SKIP: %s is not installed\n", PROMETHEUS);
        return 77;
    }
    const char *bin = getenv("MCPD_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("SKIP: MCPD_BIN is not set to an executable mcpd\n");
        return 77;
    }
    char err_path[64];
    snprintf(err_path, sizeof err_path, "/tmp/mcp_prom_mcpd_%d.err", (int)getpid());
    int mcpd_port;
    pid_t mcpd = mcpd_start(bin, err_path, &mcpd_port);
    if (mcpd <= 0 || !mcpd_port) {
        printf("mcpd serve did not start\n");
        if (mcpd > 0) kill(mcpd, SIGTERM);
        return 1;
    }
    int posted = 0;
    for (int i = 0; i < CALLS; i++) posted += post_call(mcpd_port);
    if (posted != CALLS) {
        printf("only %d of %d tools/call POSTs answered\n", posted, CALLS);
        kill(mcpd, SIGTERM);
        return 1;
    }
    mcp_metrics *m;
    mcp_obs *o;
    if (mcp_metrics_new(&m) || mcp_obs_new(NULL, m, &o)) return 1;
    for (int i = 0; i < 42; i++) {
        void *h = mcp_obs_request_start(o, &(mcp_obs_request){.method = "tools/call", .target = "t"});
        mcp_obs_request_end(o, h, &(mcp_obs_outcome){0});
    }
    receiver target;
    if (receiver_start(&target) != 0) return 1;
    target.get_body = render;
    target.get_user = m;
    target.get_content_type = MCP_METRICS_CONTENT_TYPE;

    char dir[] = "/tmp/mcp_prom_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256], data[256], logpath[256], listen_addr[64];
    snprintf(path, sizeof path, "%s/prometheus.yml", dir);
    snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", dir);
    snprintf(logpath, sizeof logpath, "%s/prometheus.log", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
               "  - job_name: lib\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
               "  - job_name: mcpd\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
            target.port, mcpd_port);
    fclose(f);
    int web_port = receiver_dead_port();
    snprintf(listen_addr, sizeof listen_addr, "--web.listen-address=127.0.0.1:%d", web_port);
    char config[300];
    snprintf(config, sizeof config, "--config.file=%s", path);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(PROMETHEUS, PROMETHEUS, config, data, listen_addr, "--storage.tsdb.retention.time=1h",
              (char *)NULL);
        _exit(127);
    }
    /* Per job: up, request counter, histogram count. */
    const char *jobs[2] = {"lib", "mcpd"};
    bool seen[2][3] = {{false}};
    char v[64] = "", q[256];
    bool all = false;
    for (int i = 0; i < 60 && !all; i++) {
        usleep(500000);
        all = true;
        for (int j = 0; j < 2; j++) {
            if (!seen[j][0]) {
                snprintf(q, sizeof q, "up{job=\"%s\"}", jobs[j]);
                seen[j][0] = query(web_port, q, v, sizeof v) && strcmp(v, "1") == 0;
            }
            if (seen[j][0] && !seen[j][1]) {
                snprintf(q, sizeof q, "mcp_server_requests_total{job=\"%s\",method=\"tools/call\",outcome=\"ok\"}", jobs[j]);
                seen[j][1] = query(web_port, q, v, sizeof v) && strcmp(v, "42") == 0;
            }
            if (seen[j][0] && !seen[j][2]) {
                snprintf(q, sizeof q, "mcp_server_request_duration_seconds_count{job=\"%s\",method=\"tools/call\"}",
                         jobs[j]);
                seen[j][2] = query(web_port, q, v, sizeof v) && strcmp(v, "42") == 0;
            }
            all = all && seen[j][0] && seen[j][1] && seen[j][2];
        }
    }
    /* mcpd's own runtime counters arrived too. */
    bool net = query(web_port, "mcp_net_connections_accepted_total{job=\"mcpd\"}", v, sizeof v) && atoi(v) >= CALLS;
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    kill(mcpd, SIGTERM);
    waitpid(mcpd, &status, 0);
    for (int j = 0; j < 2; j++)
        printf("job %s: up %s, request counter %s, histogram count %s\n", jobs[j], seen[j][0] ? "yes" : "no",
               seen[j][1] ? "42" : "missing", seen[j][2] ? "42" : "missing");
    printf("mcpd connections accepted counted: %s (scrapes of the lib target: %zu)\n", net ? "yes" : "no",
           receiver_requests(&target));
    bool up = all && net;
    if (!up) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "tail -20 %s", logpath);
        if (system(cmd) != 0) printf("(no prometheus log)\n");
    }
    unlink(err_path);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0) printf("could not remove %s\n", dir);
    receiver_stop(&target);
    mcp_obs_free(o);
    mcp_metrics_free(m);
    return up ? 0 : 1;
}
