/*
 * A real Prometheus scrapes our /metrics text: the test serves the
 * registry's rendering from a minimal loopback HTTP responder (until the
 * HTTP transport serves /metrics itself), starts /usr/bin/prometheus with a
 * generated configuration scraping it every second, and asks Prometheus's
 * HTTP API whether the target is up and whether our request counter and
 * latency histogram arrived with the values we recorded. Exits 77 (skip)
 * when Prometheus is not installed.
 */
#include "mcp/json.h"
#include "mcp/obs.h"
#include "obs/obs_internal.h"
#include "obs/otlp_receiver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define PROMETHEUS "/usr/bin/prometheus"

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
               "  - job_name: mcpd\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", target.port);
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
    bool up = false, counted = false, histogram = false;
    char v[64] = "";
    for (int i = 0; i < 60 && !(up && counted && histogram); i++) {
        usleep(500000);
        if (!up) up = query(web_port, "up{job=\"mcpd\"}", v, sizeof v) && strcmp(v, "1") == 0;
        if (up && !counted)
            counted = query(web_port, "mcp_server_requests_total{method=\"tools/call\",outcome=\"ok\"}", v, sizeof v) &&
                      strcmp(v, "42") == 0;
        if (up && !histogram)
            histogram = query(web_port, "mcp_server_request_duration_seconds_count{method=\"tools/call\"}", v, sizeof v) &&
                        strcmp(v, "42") == 0;
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    printf("target up: %s, request counter: %s, histogram count: %s (scrapes served: %zu)\n", up ? "yes" : "no",
           counted ? "42" : "missing", histogram ? "42" : "missing", receiver_requests(&target));
    if (!(up && counted && histogram)) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "tail -20 %s", logpath);
        if (system(cmd) != 0) printf("(no prometheus log)\n");
    }
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0) printf("could not remove %s\n", dir);
    receiver_stop(&target);
    mcp_obs_free(o);
    mcp_metrics_free(m);
    return up && counted && histogram ? 0 : 1;
}
