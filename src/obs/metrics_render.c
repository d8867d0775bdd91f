/*
 * Prometheus text exposition (format 0.0.4) of a registry and its
 * collectors. Every family gets one # HELP and one # TYPE line and all of
 * its samples together, which is what the format (and promtool) require;
 * histogram buckets are cumulative and end with le="+Inf", then _sum and
 * _count.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mcp_metrics_writer {
    mcp_metrics *m;
    mcp_buf *out;
    int rc;
    char **names;                /* families written so far */
    size_t name_count, name_cap;
    const char *open_family;     /* family the last sample of this collector belonged to */
};

static int append_escaped_help(mcp_buf *out, const char *s) {
    int rc = 0;
    for (; !rc && *s; s++) {
        if (*s == '\\') rc = mcp_buf_append(out, "\\\\", 2);
        else if (*s == '\n') rc = mcp_buf_append(out, "\\n", 2);
        else rc = mcp_buf_append_char(out, *s);
    }
    return rc;
}

static int append_number(mcp_buf *out, double v) {
    if (isnan(v)) return mcp_buf_append_cstr(out, "NaN");
    if (isinf(v)) return mcp_buf_append_cstr(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0) return mcp_buf_appendf(out, "%.0f", v);
    return mcp_buf_appendf(out, "%.17g", v);
}

static const char *type_name(mcp_metric_type t) {
    return t == MCP_METRIC_COUNTER ? "counter" : t == MCP_METRIC_GAUGE ? "gauge" : "histogram";
}

static int family_header(mcp_buf *out, const char *name, const char *help, mcp_metric_type type) {
    int rc = mcp_buf_appendf(out, "# HELP %s ", name);
    if (!rc) rc = append_escaped_help(out, help ? help : "");
    if (!rc) rc = mcp_buf_appendf(out, "\n# TYPE %s %s\n", name, type_name(type));
    return rc;
}

static int sample_line(mcp_buf *out, const char *name, const char *suffix, const char *labels, const char *extra,
                       double v) {
    bool any = (labels && *labels) || extra;
    int rc = mcp_buf_appendf(out, "%s%s%s%s%s%s%s ", name, suffix, any ? "{" : "", labels ? labels : "",
                             labels && *labels && extra ? "," : "", extra ? extra : "", any ? "}" : "");
    if (!rc) rc = append_number(out, v);
    if (!rc) rc = mcp_buf_append_char(out, '\n');
    return rc;
}

static int render_family(mcp_metrics *m, const metric_family *f, mcp_buf *out) {
    int rc = family_header(out, f->name, f->help, f->type);
    for (int i = f->first; !rc && i >= 0; i = m->series[i].next) {
        metric_series *s = &m->series[i];
        if (f->type == MCP_METRIC_COUNTER) {
            rc = sample_line(out, f->name, "", s->labels, NULL, (double)obs_metrics_slot_sum(m, s->slot));
        } else if (f->type == MCP_METRIC_GAUGE) {
            rc = sample_line(out, f->name, "", s->labels, NULL, mcp_metrics_value(m, (mcp_metric_id)i));
        } else {
            uint64_t cumulative = 0;
            char le[48];
            for (uint32_t b = 0; !rc && b <= f->bound_count; b++) {
                cumulative += obs_metrics_slot_sum(m, s->slot + b);
                if (b < f->bound_count) snprintf(le, sizeof le, "le=\"%.17g\"", f->bounds[b]);
                else snprintf(le, sizeof le, "le=\"+Inf\"");
                rc = sample_line(out, f->name, "_bucket", s->labels, le, (double)cumulative);
            }
            if (!rc)
                rc = sample_line(out, f->name, "_sum", s->labels, NULL,
                                 obs_metrics_slot_sum_double(m, s->slot + f->bound_count + 1));
            if (!rc) rc = sample_line(out, f->name, "_count", s->labels, NULL, (double)cumulative);
        }
    }
    return rc;
}

static bool name_seen(const mcp_metrics_writer *w, const char *name) {
    for (size_t i = 0; i < w->name_count; i++)
        if (strcmp(w->names[i], name) == 0) return true;
    return false;
}

static int name_add(mcp_metrics_writer *w, const char *name) {
    if (w->name_count == w->name_cap) {
        size_t cap = w->name_cap ? w->name_cap * 2 : 64;
        char **n = realloc(w->names, cap * sizeof *n);
        if (!n) return MCP_ENOMEM;
        w->names = n;
        w->name_cap = cap;
    }
    w->names[w->name_count] = strdup(name);
    if (!w->names[w->name_count]) return MCP_ENOMEM;
    w->name_count++;
    return MCP_OK;
}

void mcp_metrics_write(mcp_metrics_writer *w, const char *name, const char *help, mcp_metric_type type,
                       const mcp_label *labels, size_t label_count, double value) {
    if (!w || w->rc) return;
    bool same = w->open_family && name && strcmp(w->open_family, name) == 0;
    /* Histograms need buckets: collectors report counters and gauges. */
    if (!same && (!obs_metric_name_valid(name) || type == MCP_METRIC_HISTOGRAM || name_seen(w, name))) {
        atomic_fetch_add(&w->m->render_errors, 1);
        return;
    }
    mcp_buf lb;
    mcp_buf_init(&lb);
    int rc = mcp_buf_reserve(&lb, 1);
    for (size_t i = 0; !rc && i < label_count; i++) {
        if (!obs_metric_name_valid(labels[i].name) || strchr(labels[i].name, ':') || !labels[i].value) {
            rc = MCP_EINVAL;
            break;
        }
        rc = mcp_buf_appendf(&lb, "%s%s=\"", i ? "," : "", labels[i].name);
        for (const char *p = labels[i].value; !rc && *p; p++) {
            if (*p == '\\') rc = mcp_buf_append(&lb, "\\\\", 2);
            else if (*p == '"') rc = mcp_buf_append(&lb, "\\\"", 2);
            else if (*p == '\n') rc = mcp_buf_append(&lb, "\\n", 2);
            else rc = mcp_buf_append_char(&lb, *p);
        }
        if (!rc) rc = mcp_buf_append_char(&lb, '"');
    }
    if (rc == MCP_EINVAL) {
        atomic_fetch_add(&w->m->render_errors, 1);
        mcp_buf_free(&lb);
        return;
    }
    if (!rc && !same) {
        rc = name_add(w, name);
        if (!rc) rc = family_header(w->out, name, help, type);
        if (!rc) w->open_family = w->names[w->name_count - 1];
    }
    if (!rc) rc = sample_line(w->out, name, "", lb.len ? lb.data : "", NULL, value);
    mcp_buf_free(&lb);
    w->rc = rc;
}

int mcp_metrics_render(mcp_metrics *m, mcp_buf *out) {
    if (!m || !out) return MCP_EINVAL;
    mcp_metrics_writer w = {.m = m, .out = out};
    pthread_mutex_lock(&m->lock);
    for (uint32_t i = 0; !w.rc && i < m->family_count; i++) {
        w.rc = render_family(m, &m->families[i], out);
        if (!w.rc) w.rc = name_add(&w, m->families[i].name);
    }
    metric_collector collectors[METRICS_MAX_COLLECTORS];
    uint32_t nc = m->collector_count;
    memcpy(collectors, m->collectors, nc * sizeof *collectors);
    pthread_mutex_unlock(&m->lock);
    for (uint32_t i = 0; !w.rc && i < nc; i++) {
        w.open_family = NULL;
        collectors[i].fn(&w, collectors[i].user);
    }
    if (!w.rc) {
        w.open_family = NULL;
        mcp_metrics_write(&w, "mcp_metrics_render_errors_total",
                          "Samples refused while rendering (bad or duplicate names from collectors).",
                          MCP_METRIC_COUNTER, NULL, 0, (double)atomic_load(&m->render_errors));
    }
    for (size_t i = 0; i < w.name_count; i++) free(w.names[i]);
    free(w.names);
    return w.rc;
}
