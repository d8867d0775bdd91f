/*
 * The metrics registry and its hot path.
 *
 * Counters and histogram buckets live in per-thread shards: an update is a
 * relaxed load and store into the calling thread's own slot, with no lock
 * and no shared cache line, and reading sums the shards. A thread's shard is
 * found through a one-entry thread-local cache; the first update from a
 * thread allocates its shard (64 KiB) under the registry lock. Gauges are
 * one shared atomic value each, since "set" cannot be sharded.
 */
#include "metrics_internal.h"
#include "obs_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t next_registry_id = 1;
static _Thread_local char tls_token;
static _Thread_local struct {
    uint64_t id;
    metric_shard *shard;
} tls_shard;

static const double LATENCY_BOUNDS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

int mcp_metrics_new(mcp_metrics **out) {
    if (!out) return MCP_EINVAL;
    mcp_metrics *m = calloc(1, sizeof *m);
    if (!m) return MCP_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    m->id = atomic_fetch_add(&next_registry_id, 1);
    *out = m;
    return MCP_OK;
}

void mcp_metrics_free(mcp_metrics *m) {
    if (!m) return;
    for (uint32_t i = 0; i < m->family_count; i++) {
        free(m->families[i].name);
        free(m->families[i].help);
    }
    uint32_t n = atomic_load(&m->series_count);
    for (uint32_t i = 0; i < n; i++) free(m->series[i].labels);
    metric_shard *s = atomic_load(&m->shards);
    while (s) {
        metric_shard *next = s->next;
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

bool obs_metric_name_valid(const char *name) {
    if (!name || !*name) return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (p != name && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

static bool label_name_valid(const char *name) {
    if (!obs_metric_name_valid(name) || strchr(name, ':') || strncmp(name, "__", 2) == 0) return false;
    return strcmp(name, "le") != 0 && strcmp(name, "quantile") != 0; /* reserved by histograms and summaries */
}

/* name="value",... with the value escaped as the text format requires. */
static int render_labels(const mcp_label *labels, size_t n, char **out) {
    mcp_buf b;
    mcp_buf_init(&b);
    int rc = mcp_buf_reserve(&b, 1);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!label_name_valid(labels[i].name) || !labels[i].value) {
            rc = MCP_EINVAL;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j].name, labels[i].name) == 0) rc = MCP_EINVAL;
        if (!rc) rc = mcp_buf_appendf(&b, "%s%s=\"", i ? "," : "", labels[i].name);
        for (const char *p = labels[i].value; !rc && *p; p++) {
            if (*p == '\\') rc = mcp_buf_append(&b, "\\\\", 2);
            else if (*p == '"') rc = mcp_buf_append(&b, "\\\"", 2);
            else if (*p == '\n') rc = mcp_buf_append(&b, "\\n", 2);
            else rc = mcp_buf_append_char(&b, *p);
        }
        if (!rc) rc = mcp_buf_append_char(&b, '"');
    }
    if (rc) {
        mcp_buf_free(&b);
        return rc;
    }
    b.data[b.len] = '\0'; /* reserve alone leaves the text unterminated */
    *out = mcp_buf_detach(&b);
    return *out ? MCP_OK : MCP_ENOMEM;
}

static int family_for(mcp_metrics *m, const char *name, const char *help, mcp_metric_type type,
                      const double *bounds, size_t nb, uint32_t *out) {
    for (uint32_t i = 0; i < m->family_count; i++) {
        metric_family *f = &m->families[i];
        if (strcmp(f->name, name) != 0) continue;
        if (f->type != type) return MCP_EINVAL;
        if (type == MCP_METRIC_HISTOGRAM &&
            (f->bound_count != nb || memcmp(f->bounds, bounds, nb * sizeof *bounds) != 0))
            return MCP_EINVAL;
        *out = i;
        return MCP_OK;
    }
    if (m->family_count == METRICS_MAX_FAMILIES) return MCP_ELIMIT;
    metric_family *f = &m->families[m->family_count];
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        return MCP_ENOMEM;
    }
    f->type = type;
    f->first = f->last = -1;
    f->bound_count = (uint32_t)nb;
    if (nb) memcpy(f->bounds, bounds, nb * sizeof *bounds);
    /* Each bound in whole ns, such that ns <= bound_ns exactly when
     * ns / 1e9 <= b in doubles: the product's rounding can put the
     * truncated value one off at the edge, so it is nudged until both
     * tests agree there. */
    for (size_t i = 0; i < nb; i++) {
        double b = bounds[i];
        uint64_t x = b <= 0 ? 0 : b >= 1.8e10 ? UINT64_MAX : (uint64_t)(b * 1e9);
        if (x != 0 && x != UINT64_MAX) {
            while (x > 0 && (double)x / 1e9 > b) x--;
            while ((double)(x + 1) / 1e9 <= b) x++;
        }
        f->bounds_ns[i] = x;
    }
    f->negative_bound = nb && bounds[0] < 0;
    *out = m->family_count++;
    return MCP_OK;
}

static int series_add(mcp_metrics *m, const char *name, const char *help, mcp_metric_type type,
                      const mcp_label *labels, size_t label_count, const double *bounds, size_t nb,
                      mcp_metric_id *out) {
    if (!m || !out || !obs_metric_name_valid(name) || (label_count && !labels)) return MCP_EINVAL;
    if (type == MCP_METRIC_HISTOGRAM) {
        if (!bounds) {
            bounds = LATENCY_BOUNDS;
            nb = sizeof LATENCY_BOUNDS / sizeof LATENCY_BOUNDS[0];
        }
        if (!nb || nb > MCP_METRICS_MAX_BOUNDS) return MCP_EINVAL;
        for (size_t i = 0; i < nb; i++)
            if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1]))) return MCP_EINVAL;
    }
    char *rendered;
    int rc = render_labels(labels, label_count, &rendered);
    if (rc) return rc;
    uint32_t slots = type == MCP_METRIC_COUNTER ? 1 : type == MCP_METRIC_HISTOGRAM ? (uint32_t)nb + 2 : 0;
    pthread_mutex_lock(&m->lock);
    uint32_t fam = 0;
    uint32_t n = atomic_load_explicit(&m->series_count, memory_order_relaxed);
    if (n == METRICS_MAX_SERIES || m->slots_used + slots > MCP_METRICS_MAX_SLOTS) rc = MCP_ELIMIT;
    if (!rc) rc = family_for(m, name, help, type, bounds, nb, &fam);
    for (int i = rc ? -1 : m->families[fam].first; i >= 0; i = m->series[i].next)
        if (strcmp(m->series[i].labels, rendered) == 0) rc = MCP_EEXIST;
    if (!rc) {
        metric_series *s = &m->series[n];
        s->family = fam;
        s->slot = m->slots_used;
        s->next = -1;
        s->labels = rendered;
        atomic_store(&s->gauge_bits, 0);
        m->slots_used += slots;
        metric_family *f = &m->families[fam];
        if (f->last >= 0) m->series[f->last].next = (int)n;
        else f->first = (int)n;
        f->last = (int)n;
        atomic_store_explicit(&m->series_count, n + 1, memory_order_release);
        *out = n;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc) free(rendered);
    return rc;
}

int mcp_metrics_counter(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                        size_t label_count, mcp_metric_id *out) {
    return series_add(m, name, help, MCP_METRIC_COUNTER, labels, label_count, NULL, 0, out);
}

int mcp_metrics_gauge(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                      size_t label_count, mcp_metric_id *out) {
    return series_add(m, name, help, MCP_METRIC_GAUGE, labels, label_count, NULL, 0, out);
}

int mcp_metrics_histogram(mcp_metrics *m, const char *name, const char *help, const mcp_label *labels,
                          size_t label_count, const double *bounds, size_t bound_count, mcp_metric_id *out) {
    return series_add(m, name, help, MCP_METRIC_HISTOGRAM, labels, label_count, bounds, bound_count, out);
}

static metric_shard *shard_register(mcp_metrics *m) {
    pthread_mutex_lock(&m->lock);
    metric_shard *s = atomic_load(&m->shards);
    while (s && s->token != &tls_token) s = s->next;
    if (!s && (s = calloc(1, sizeof *s)) != NULL) {
        s->token = &tls_token;
        s->next = atomic_load(&m->shards);
        atomic_store_explicit(&m->shards, s, memory_order_release);
    }
    pthread_mutex_unlock(&m->lock);
    if (s) {
        tls_shard.id = m->id;
        tls_shard.shard = s;
    }
    return s;
}

static inline metric_shard *shard_of(mcp_metrics *m) {
    if (MCP_LIKELY(tls_shard.id == m->id)) return tls_shard.shard;
    return shard_register(m);
}

static inline bool is_type(mcp_metrics *m, mcp_metric_id id, mcp_metric_type type) {
    return id < atomic_load_explicit(&m->series_count, memory_order_acquire) &&
           m->families[m->series[id].family].type == type;
}

static inline void slot_add(_Atomic uint64_t *slot, uint64_t n) {
    atomic_store_explicit(slot, atomic_load_explicit(slot, memory_order_relaxed) + n, memory_order_relaxed);
}

void mcp_metrics_add(mcp_metrics *m, mcp_metric_id id, uint64_t n) {
    if (!m || !is_type(m, id, MCP_METRIC_COUNTER)) return;
    metric_shard *s = shard_of(m);
    if (s) slot_add(&s->slots[m->series[id].slot], n);
}

/* A histogram's sum is a double kept in its slot's bits; one writer per
 * shard, so a plain load and store. */
static inline void sum_add(_Atomic uint64_t *sum, double value) {
    double d;
    uint64_t bits = atomic_load_explicit(sum, memory_order_relaxed);
    memcpy(&d, &bits, sizeof d);
    d += value;
    memcpy(&bits, &d, sizeof d);
    atomic_store_explicit(sum, bits, memory_order_relaxed);
}

void mcp_metrics_observe(mcp_metrics *m, mcp_metric_id id, double value) {
    if (!m || !is_type(m, id, MCP_METRIC_HISTOGRAM) || isnan(value)) return;
    metric_shard *s = shard_of(m);
    if (!s) return;
    const metric_series *se = &m->series[id];
    const metric_family *f = &m->families[se->family];
    uint32_t b = 0;
    while (b < f->bound_count && value > f->bounds[b]) b++;
    slot_add(&s->slots[se->slot + b], 1);
    sum_add(&s->slots[se->slot + f->bound_count + 1], value);
}

int obs_metrics_timer_resolve(mcp_metrics *m, mcp_metric_id counter, mcp_metric_id histogram, obs_metrics_timer *out) {
    if (!m || !is_type(m, counter, MCP_METRIC_COUNTER) || !is_type(m, histogram, MCP_METRIC_HISTOGRAM))
        return MCP_EINVAL;
    const metric_series *se = &m->series[histogram];
    const metric_family *f = &m->families[se->family];
    /* Whole ns against a negative bound would not sort as seconds do. */
    if (f->negative_bound) return MCP_EINVAL;
    *out = (obs_metrics_timer){.counter_slot = m->series[counter].slot,
                               .histogram_slot = se->slot,
                               .bound_count = f->bound_count,
                               .bounds_ns = f->bounds_ns};
    return MCP_OK;
}

void obs_metrics_timer_record(mcp_metrics *m, const obs_metrics_timer *tm, uint64_t ns) {
    metric_shard *s = shard_of(m);
    if (!s) return;
    slot_add(&s->slots[tm->counter_slot], 1);
    uint32_t b = 0;
    while (b < tm->bound_count && ns > tm->bounds_ns[b]) b++;
    slot_add(&s->slots[tm->histogram_slot + b], 1);
    sum_add(&s->slots[tm->histogram_slot + tm->bound_count + 1], (double)ns * 1e-9);
}

void mcp_metrics_gauge_set(mcp_metrics *m, mcp_metric_id id, double value) {
    if (!m || !is_type(m, id, MCP_METRIC_GAUGE)) return;
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    atomic_store(&m->series[id].gauge_bits, bits);
}

void mcp_metrics_gauge_add(mcp_metrics *m, mcp_metric_id id, double delta) {
    if (!m || !is_type(m, id, MCP_METRIC_GAUGE)) return;
    _Atomic uint64_t *g = &m->series[id].gauge_bits;
    uint64_t old = atomic_load(g), next;
    do {
        double d;
        memcpy(&d, &old, sizeof d);
        d += delta;
        memcpy(&next, &d, sizeof d);
    } while (!atomic_compare_exchange_weak(g, &old, next));
}

uint64_t obs_metrics_slot_sum(mcp_metrics *m, uint32_t slot) {
    uint64_t sum = 0;
    for (metric_shard *s = atomic_load_explicit(&m->shards, memory_order_acquire); s; s = s->next)
        sum += atomic_load_explicit(&s->slots[slot], memory_order_relaxed);
    return sum;
}

double obs_metrics_slot_sum_double(mcp_metrics *m, uint32_t slot) {
    double sum = 0;
    for (metric_shard *s = atomic_load_explicit(&m->shards, memory_order_acquire); s; s = s->next) {
        uint64_t bits = atomic_load_explicit(&s->slots[slot], memory_order_relaxed);
        double d;
        memcpy(&d, &bits, sizeof d);
        sum += d;
    }
    return sum;
}

double mcp_metrics_value(mcp_metrics *m, mcp_metric_id id) {
    if (!m || id >= atomic_load_explicit(&m->series_count, memory_order_acquire)) return 0;
    const metric_series *se = &m->series[id];
    const metric_family *f = &m->families[se->family];
    if (f->type == MCP_METRIC_GAUGE) {
        uint64_t bits = atomic_load(&m->series[id].gauge_bits);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    if (f->type == MCP_METRIC_COUNTER) return (double)obs_metrics_slot_sum(m, se->slot);
    uint64_t count = 0;
    for (uint32_t b = 0; b <= f->bound_count; b++) count += obs_metrics_slot_sum(m, se->slot + b);
    return (double)count;
}

int mcp_metrics_add_collector(mcp_metrics *m, mcp_metrics_collect_fn fn, void *user) {
    if (!m || !fn) return MCP_EINVAL;
    int rc = MCP_OK;
    pthread_mutex_lock(&m->lock);
    if (m->collector_count == METRICS_MAX_COLLECTORS) rc = MCP_ELIMIT;
    else m->collectors[m->collector_count++] = (metric_collector){fn, user};
    pthread_mutex_unlock(&m->lock);
    return rc;
}
