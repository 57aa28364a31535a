/* Host telemetry from eBPF: see control/hostmetrics.h and docs/host-metrics.md.
 *
 * The probes (bpf/hostprobes.bpf.c) come in through a libbpf skeleton generated at build time.
 * A build without bpftool or without the build machine's BTF defines no LR_HAVE_HOSTPROBES: the
 * conversion is still here, and every probe reports "off: built without eBPF probes". */
#include "hostmetrics.h"
#include "hostprobes_names.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linerate/features.h"
#include "linerate/msg.h"
#include "linerate/ring.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

#ifdef LR_HAVE_HOSTPROBES
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "hostprobes.skel.h"
#endif

#ifndef LR_VERSION
#define LR_VERSION "0.1.0"
#endif

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;

/* ---- the conversion ------------------------------------------------------------------------- */

/* Every allocation of one encode, freed together after packing. */
struct pool {
    void **p;
    size_t n, cap;
    bool oom;
};

static void *palloc(struct pool *pl, size_t sz)
{
    if (pl->oom)
        return NULL;
    if (pl->n == pl->cap) {
        size_t c = pl->cap ? pl->cap * 2 : 256;
        void **np = realloc(pl->p, c * sizeof(*np));
        if (!np) {
            pl->oom = true;
            return NULL;
        }
        pl->p = np;
        pl->cap = c;
    }
    void *q = calloc(1, sz ? sz : 1);
    if (!q) {
        pl->oom = true;
        return NULL;
    }
    pl->p[pl->n++] = q;
    return q;
}

static char *pstr(struct pool *pl, const char *s)
{
    size_t n = strlen(s) + 1;
    char *q = palloc(pl, n);
    if (q)
        memcpy(q, s, n);
    return q;
}

static void pool_free(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->p[i]);
    free(pl->p);
}

static KeyValue *kv_str(struct pool *pl, const char *k, const char *v)
{
    KeyValue *kv = palloc(pl, sizeof(*kv));
    AnyValue *av = palloc(pl, sizeof(*av));
    char *ks = pstr(pl, k), *vs = pstr(pl, v);
    if (!kv || !av || !ks || !vs)
        return NULL;
    *kv = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *av = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = vs;
    kv->key = ks;
    kv->value = av;
    return kv;
}

static KeyValue *kv_int(struct pool *pl, const char *k, int64_t v)
{
    KeyValue *kv = palloc(pl, sizeof(*kv));
    AnyValue *av = palloc(pl, sizeof(*av));
    char *ks = pstr(pl, k);
    if (!kv || !av || !ks)
        return NULL;
    *kv = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *av = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    av->int_value = v;
    kv->key = ks;
    kv->value = av;
    return kv;
}

/* The request under construction: one resource, one scope, its metrics. */
struct enc {
    struct pool pl;
    Metric **metrics;
    size_t n_metrics, cap_metrics;
    uint64_t start, now;
    size_t n_points;
};

#define MAX_ATTRS 3

/* A metric with room for `cap` points; NULL when out of memory. */
static Metric *metric_new(struct enc *e, const char *name, const char *desc, const char *unit,
                          bool hist, size_t cap)
{
    if (e->n_metrics == e->cap_metrics)
        return NULL; /* sized by the caller; cannot happen */
    Metric *m = palloc(&e->pl, sizeof(*m));
    if (!m)
        return NULL;
    *m = (Metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m->name = pstr(&e->pl, name);
    m->description = pstr(&e->pl, desc);
    m->unit = pstr(&e->pl, unit);
    if (hist) {
        Histogram *h = palloc(&e->pl, sizeof(*h));
        void *pts = palloc(&e->pl, cap * sizeof(HistogramDataPoint *));
        if (!h || !pts)
            return NULL;
        *h = (Histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
        h->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        h->data_points = pts;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = h;
    } else {
        Sum *s = palloc(&e->pl, sizeof(*s));
        void *pts = palloc(&e->pl, cap * sizeof(NumberDataPoint *));
        if (!s || !pts)
            return NULL;
        *s = (Sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
        s->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        s->is_monotonic = 1;
        s->data_points = pts;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m->sum = s;
    }
    if (!m->name || !m->description || !m->unit)
        return NULL;
    e->metrics[e->n_metrics++] = m;
    return m;
}

/* A metric that got no point is taken back out (OTLP wants at least one). */
static void metric_drop_if_empty(struct enc *e, Metric *m)
{
    size_t n = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
                   ? m->sum->n_data_points
                   : m->histogram->n_data_points;
    if (n == 0 && e->n_metrics && e->metrics[e->n_metrics - 1] == m)
        e->n_metrics--;
}

static KeyValue **attrs_new(struct enc *e, KeyValue *const *a, size_t n)
{
    if (!n)
        return NULL;
    KeyValue **v = palloc(&e->pl, n * sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!a[i])
            return NULL;
        v[i] = a[i];
    }
    return v;
}

static void sum_point(struct enc *e, Metric *m, bool dbl, int64_t iv, double dv, KeyValue *const *a,
                      size_t na)
{
    if (!m)
        return;
    NumberDataPoint *p = palloc(&e->pl, sizeof(*p));
    if (!p)
        return;
    *p = (NumberDataPoint)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    p->attributes = attrs_new(e, a, na);
    p->n_attributes = p->attributes ? na : 0;
    p->start_time_unix_nano = e->start;
    p->time_unix_nano = e->now;
    if (dbl) {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        p->as_double = dv;
    } else {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        p->as_int = iv;
    }
    m->sum->data_points[m->sum->n_data_points++] = p;
    e->n_points++;
}

void lr_cp_host_hist_bounds(double *bounds)
{
    for (int i = 0; i < LR_BPF_HIST_SLOTS - 1; i++)
        bounds[i] = (double)(1ull << i);
}

static void hist_point(struct enc *e, Metric *m, const struct lr_bpf_hist *h, KeyValue *const *a,
                       size_t na)
{
    if (!m)
        return;
    HistogramDataPoint *p = palloc(&e->pl, sizeof(*p));
    uint64_t *b = palloc(&e->pl, LR_BPF_HIST_SLOTS * sizeof(uint64_t));
    double *bo = palloc(&e->pl, (LR_BPF_HIST_SLOTS - 1) * sizeof(double));
    if (!p || !b || !bo)
        return;
    *p = (HistogramDataPoint)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    p->attributes = attrs_new(e, a, na);
    p->n_attributes = p->attributes ? na : 0;
    p->start_time_unix_nano = e->start;
    p->time_unix_nano = e->now;
    /* count is the sum of the buckets, not h->count: the kernel updates the three without a lock
     * (per CPU, but a read races the CPU's next update), and a consumer checks that they agree. */
    uint64_t c = 0;
    for (int i = 0; i < LR_BPF_HIST_SLOTS; i++)
        c += b[i] = h->slots[i];
    p->count = c;
    p->bucket_counts = b;
    p->n_bucket_counts = LR_BPF_HIST_SLOTS;
    lr_cp_host_hist_bounds(bo);
    p->explicit_bounds = bo;
    p->n_explicit_bounds = LR_BPF_HIST_SLOTS - 1;
    p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    p->sum = (double)h->sum;
    m->histogram->data_points[m->histogram->n_data_points++] = p;
    e->n_points++;
}

static const char *const tcp_state_names[LR_BPF_TCP_STATES] = {
    /* include/net/tcp_states.h; the values of network.connection.state where it has them */
    [1] = "established",     [2] = "syn_sent",  [3] = "syn_recv", [4] = "fin_wait_1",
    [5] = "fin_wait_2",      [6] = "time_wait", [7] = "close",    [8] = "close_wait",
    [9] = "last_ack",        [10] = "listen",   [11] = "closing", [12] = "new_syn_recv",
    [13] = "bound_inactive",
};

static const char *const softirq_names[LR_BPF_SOFTIRQS] = {
    /* include/linux/interrupt.h, enum { HI_SOFTIRQ = 0, ... } */
    "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu",
};

static const char *disk_op_name(uint32_t op, char *buf, size_t n)
{
    static const char *const ops[] = { "read", "write", "flush", "discard" };
    if (op < 4)
        return ops[op];
    snprintf(buf, n, "op%u", op);
    return buf;
}

static void disk_name(const struct lr_cp_host_disk *d, char *buf, size_t n)
{
    if (d->name[0])
        snprintf(buf, n, "%s", d->name);
    else
        snprintf(buf, n, "%u:%u", d->major, d->minor);
}

static void prefix_text(const struct lr_cp_host_retx *r, char *buf, size_t n)
{
    if (r->family == 2) {
        snprintf(buf, n, "%u.%u.%u.0/24", r->prefix[0], r->prefix[1], r->prefix[2]);
    } else if (r->family == 10) {
        snprintf(buf, n, "%x:%x:%x::/48", (unsigned)(r->prefix[0] << 8 | r->prefix[1]),
                 (unsigned)(r->prefix[2] << 8 | r->prefix[3]),
                 (unsigned)(r->prefix[4] << 8 | r->prefix[5]));
    } else {
        snprintf(buf, n, "family%u", r->family);
    }
}

uint8_t *lr_cp_host_encode(const struct lr_cp_host_snap *s, const struct lr_cp_host_res *r,
                           uint64_t start_unix_ns, uint64_t now_unix_ns, size_t *len,
                           size_t *n_points)
{
    struct enc e = { .start = start_unix_ns, .now = now_unix_ns, .cap_metrics = 16 };
    uint8_t *out = NULL;
    char buf[64], buf2[32];
    e.metrics = palloc(&e.pl, e.cap_metrics * sizeof(Metric *));
    if (!e.metrics)
        goto done;
    Metric *m;

    if (s->has_retx) {
        m = metric_new(&e, "linerate.host.tcp.retransmits",
                       "TCP segments retransmitted, by local port and remote network (/24, /48).",
                       "{segment}", false, s->n_retx);
        for (size_t i = 0; m && i < s->n_retx; i++) {
            prefix_text(&s->retx[i], buf, sizeof(buf));
            KeyValue *a[3] = { kv_int(&e.pl, "network.local.port", s->retx[i].lport),
                               kv_str(&e.pl, "linerate.host.tcp.remote_prefix", buf),
                               kv_str(&e.pl, "network.type",
                                      s->retx[i].family == 10 ? "ipv6" : "ipv4") };
            sum_point(&e, m, false, (int64_t)s->retx[i].count, 0, a, 3);
        }
        if (m)
            metric_drop_if_empty(&e, m);
    }
    if (s->has_tcp_state) {
        m = metric_new(&e, "linerate.host.tcp.state_changes",
                       "TCP sockets entering a state, by the state entered.", "{transition}", false,
                       LR_BPF_TCP_STATES);
        for (uint32_t i = 0; m && i < LR_BPF_TCP_STATES; i++) {
            if (!s->tcp_states[i])
                continue;
            const char *n = tcp_state_names[i];
            if (!n)
                snprintf(buf, sizeof(buf), "state%u", i), n = buf;
            KeyValue *a[1] = { kv_str(&e.pl, "network.connection.state", n) };
            sum_point(&e, m, false, (int64_t)s->tcp_states[i], 0, a, 1);
        }
        if (m)
            metric_drop_if_empty(&e, m);
    }
    if (s->has_rst_sent || s->has_rst_recv) {
        m = metric_new(&e, "linerate.host.tcp.resets", "TCP resets sent and received.", "{segment}",
                       false, 2);
        if (s->has_rst_sent) {
            KeyValue *a[1] = { kv_str(&e.pl, "network.io.direction", "transmit") };
            sum_point(&e, m, false, (int64_t)s->counters[LR_BPF_C_RST_SENT], 0, a, 1);
        }
        if (s->has_rst_recv) {
            KeyValue *a[1] = { kv_str(&e.pl, "network.io.direction", "receive") };
            sum_point(&e, m, false, (int64_t)s->counters[LR_BPF_C_RST_RECV], 0, a, 1);
        }
    }
    if (s->has_rtt) {
        m = metric_new(&e, "linerate.host.tcp.srtt",
                       "Smoothed round-trip time of established TCP connections, sampled at each "
                       "segment received.",
                       "us", true, 1);
        hist_point(&e, m, &s->rtt, NULL, 0);
    }
    if (s->has_runq) {
        m = metric_new(&e, "linerate.host.sched.runqueue.latency",
                       "Time tasks waited in a run queue (runnable, not running), per CPU.", "us",
                       true, s->n_cpus);
        for (uint32_t c = 0; m && c < s->n_cpus; c++) {
            KeyValue *a[1] = { kv_int(&e.pl, "cpu.logical_number", c) };
            hist_point(&e, m, &s->runq[c], a, 1);
        }
    }
    if (s->has_disk) {
        m = metric_new(&e, "linerate.host.disk.io.latency",
                       "Block I/O request latency (issue to completion), by device and operation.",
                       "us", true, s->n_disk);
        for (size_t i = 0; m && i < s->n_disk; i++) {
            disk_name(&s->disk[i], buf, sizeof(buf));
            KeyValue *a[2] = {
                kv_str(&e.pl, "system.device", buf),
                kv_str(&e.pl, "linerate.host.disk.op",
                       disk_op_name(s->disk[i].op, buf2, sizeof(buf2))),
            };
            hist_point(&e, m, &s->disk[i].lat, a, 2);
        }
        if (m)
            metric_drop_if_empty(&e, m);
        m = metric_new(&e, "system.disk.io", "Disk bytes transferred.", "By", false, s->n_disk);
        for (size_t i = 0; m && i < s->n_disk; i++) {
            if (s->disk[i].op > 1)
                continue;
            disk_name(&s->disk[i], buf, sizeof(buf));
            KeyValue *a[2] = { kv_str(&e.pl, "system.device", buf),
                               kv_str(&e.pl, "disk.io.direction",
                                      s->disk[i].op ? "write" : "read") };
            sum_point(&e, m, false, (int64_t)s->disk[i].bytes, 0, a, 2);
        }
        if (m)
            metric_drop_if_empty(&e, m);
    }
    if (s->has_drops) {
        m = metric_new(&e, "linerate.host.net.packet.drops",
                       "Packets the kernel dropped (skb:kfree_skb), by drop reason.", "{packet}",
                       false, LR_BPF_DROP_REASONS);
        for (uint32_t i = 0; m && i < LR_BPF_DROP_REASONS; i++) {
            if (!s->drops[i])
                continue;
            const char *n = s->drop_names ? s->drop_names[i] : NULL;
            if (!n)
                snprintf(buf, sizeof(buf), "%u", i), n = buf;
            KeyValue *a[1] = { kv_str(&e.pl, "linerate.host.drop_reason", n) };
            sum_point(&e, m, false, (int64_t)s->drops[i], 0, a, 1);
        }
        if (m)
            metric_drop_if_empty(&e, m);
    }
    if (s->has_softirq) {
        m = metric_new(&e, "linerate.host.softirq.time", "Time spent in softirqs, by vector.", "s",
                       false, LR_BPF_SOFTIRQS);
        for (uint32_t i = 0; m && i < LR_BPF_SOFTIRQS; i++) {
            if (!s->softirq_ns[i] && !softirq_names[i])
                continue;
            const char *n = softirq_names[i];
            if (!n)
                snprintf(buf, sizeof(buf), "vec%u", i), n = buf;
            KeyValue *a[1] = { kv_str(&e.pl, "linerate.host.softirq.vector", n) };
            sum_point(&e, m, true, 0, (double)s->softirq_ns[i] / 1e9, a, 1);
        }
    }
    if (s->has_exec) {
        m = metric_new(&e, "linerate.host.process.execs", "Programs executed (execve).",
                       "{process}", false, 1);
        sum_point(&e, m, false, (int64_t)s->counters[LR_BPF_C_EXEC], 0, NULL, 0);
    }
    if (s->has_exit) {
        m = metric_new(&e, "linerate.host.process.exits", "Processes that exited.", "{process}",
                       false, 1);
        sum_point(&e, m, false, (int64_t)s->counters[LR_BPF_C_EXIT], 0, NULL, 0);
    }
    if (s->has_oom) {
        m = metric_new(&e, "linerate.host.memory.oom_kills",
                       "Processes the OOM killer chose as victims.", "{process}", false, 1);
        sum_point(&e, m, false, (int64_t)s->counters[LR_BPF_C_OOM], 0, NULL, 0);
    }
    if (e.pl.oom)
        goto done;

    /* resource, scope, request */
    KeyValue *ra[4];
    size_t nra = 0;
    ra[nra++] = kv_str(&e.pl, "service.name", r->service_name);
    ra[nra++] = kv_str(&e.pl, "host.name", r->host_name);
    if (r->host_id && r->host_id[0])
        ra[nra++] = kv_str(&e.pl, "host.id", r->host_id);
    ra[nra++] = kv_str(&e.pl, "os.type", "linux");
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.attributes = attrs_new(&e, ra, nra);
    res.n_attributes = nra;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = pstr(&e.pl, "linerate/hostmetrics");
    scope.version = pstr(&e.pl, r->version ? r->version : LR_VERSION);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.scope = &scope;
    sm.metrics = e.metrics;
    sm.n_metrics = e.n_metrics;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp = &sm;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &res;
    rm.scope_metrics = &smp;
    rm.n_scope_metrics = 1;
    rm.schema_url = pstr(&e.pl, "https://opentelemetry.io/schemas/1.26.0");
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp = &rm;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.resource_metrics = &rmp;
    req.n_resource_metrics = 1;
    if (e.pl.oom || !res.attributes || !scope.name || !scope.version || !rm.schema_url)
        goto done;
    size_t n =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(
            &req);
    out = malloc(n ? n : 1);
    if (!out)
        goto done;
    *len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req,
                                                                                              out);
    *n_points = e.n_points;
done:
    pool_free(&e.pl);
    if (!out)
        errno = ENOMEM;
    return out;
}

/* ---- host series for the anomaly detector ---------------------------------------------------- */

typedef void (*series_fn)(void *arg, const char *name, double value, double sum, bool hist);

/* "metric{k=v,...}" from a printf format of the attributes (empty: no braces). */
static void series_name(char *out, const char *metric, const char *fmt, ...)
{
    char attrs[LR_CP_HOST_SERIES_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(attrs, sizeof(attrs), fmt, ap);
    va_end(ap);
    /* The longest (a retransmit key with an IPv6 prefix) is about 120 bytes: no cut. */
    size_t m = strlen(metric), a = strlen(attrs), n = 0;
    const size_t max = LR_CP_HOST_SERIES_NAME_MAX - 1;
    memcpy(out, metric, m < max ? m : max);
    n = m < max ? m : max;
    if (a && n + a + 2 <= max) {
        out[n++] = '{';
        memcpy(out + n, attrs, a);
        n += a;
        out[n++] = '}';
    }
    out[n] = '\0';
}

static void hist_emit(series_fn fn, void *arg, const char *name, const struct lr_bpf_hist *h)
{
    uint64_t c = 0; /* the buckets' sum, as the request's count (see hist_point) */
    for (int i = 0; i < LR_BPF_HIST_SLOTS; i++)
        c += h->slots[i];
    fn(arg, name, (double)c, (double)h->sum, true);
}

void lr_cp_host_series_each(const struct lr_cp_host_snap *s, series_fn fn, void *arg)
{
    char n[LR_CP_HOST_SERIES_NAME_MAX], buf[64], buf2[32];
    for (size_t i = 0; s->has_retx && i < s->n_retx; i++) {
        prefix_text(&s->retx[i], buf, sizeof(buf));
        series_name(n, "linerate.host.tcp.retransmits",
                    "network.local.port=%u,linerate.host.tcp.remote_prefix=%s,network.type=%s",
                    s->retx[i].lport, buf, s->retx[i].family == 10 ? "ipv6" : "ipv4");
        fn(arg, n, (double)s->retx[i].count, NAN, false);
    }
    for (uint32_t i = 0; s->has_tcp_state && i < LR_BPF_TCP_STATES; i++) {
        if (!s->tcp_states[i])
            continue;
        if (tcp_state_names[i])
            snprintf(buf, sizeof(buf), "%s", tcp_state_names[i]);
        else
            snprintf(buf, sizeof(buf), "state%u", i);
        series_name(n, "linerate.host.tcp.state_changes", "network.connection.state=%s", buf);
        fn(arg, n, (double)s->tcp_states[i], NAN, false);
    }
    if (s->has_rst_sent) {
        series_name(n, "linerate.host.tcp.resets", "network.io.direction=transmit");
        fn(arg, n, (double)s->counters[LR_BPF_C_RST_SENT], NAN, false);
    }
    if (s->has_rst_recv) {
        series_name(n, "linerate.host.tcp.resets", "network.io.direction=receive");
        fn(arg, n, (double)s->counters[LR_BPF_C_RST_RECV], NAN, false);
    }
    if (s->has_rtt)
        hist_emit(fn, arg, "linerate.host.tcp.srtt", &s->rtt);
    for (uint32_t c = 0; s->has_runq && c < s->n_cpus; c++) {
        series_name(n, "linerate.host.sched.runqueue.latency", "cpu.logical_number=%u", c);
        hist_emit(fn, arg, n, &s->runq[c]);
    }
    for (size_t i = 0; s->has_disk && i < s->n_disk; i++) {
        disk_name(&s->disk[i], buf, sizeof(buf));
        series_name(n, "linerate.host.disk.io.latency", "system.device=%s,linerate.host.disk.op=%s",
                    buf, disk_op_name(s->disk[i].op, buf2, sizeof(buf2)));
        hist_emit(fn, arg, n, &s->disk[i].lat);
    }
    for (size_t i = 0; s->has_disk && i < s->n_disk; i++) {
        if (s->disk[i].op > 1)
            continue;
        disk_name(&s->disk[i], buf, sizeof(buf));
        series_name(n, "system.disk.io", "system.device=%s,disk.io.direction=%s", buf,
                    s->disk[i].op ? "write" : "read");
        fn(arg, n, (double)s->disk[i].bytes, NAN, false);
    }
    for (uint32_t i = 0; s->has_drops && i < LR_BPF_DROP_REASONS; i++) {
        if (!s->drops[i])
            continue;
        const char *r = s->drop_names ? s->drop_names[i] : NULL;
        if (r)
            snprintf(buf, sizeof(buf), "%s", r);
        else
            snprintf(buf, sizeof(buf), "%u", i);
        series_name(n, "linerate.host.net.packet.drops", "linerate.host.drop_reason=%s", buf);
        fn(arg, n, (double)s->drops[i], NAN, false);
    }
    for (uint32_t i = 0; s->has_softirq && i < LR_BPF_SOFTIRQS; i++) {
        if (!s->softirq_ns[i] && !softirq_names[i])
            continue;
        if (softirq_names[i])
            snprintf(buf, sizeof(buf), "%s", softirq_names[i]);
        else
            snprintf(buf, sizeof(buf), "vec%u", i);
        series_name(n, "linerate.host.softirq.time", "linerate.host.softirq.vector=%s", buf);
        fn(arg, n, (double)s->softirq_ns[i] / 1e9, NAN, false);
    }
    if (s->has_exec)
        fn(arg, "linerate.host.process.execs", (double)s->counters[LR_BPF_C_EXEC], NAN, false);
    if (s->has_exit)
        fn(arg, "linerate.host.process.exits", (double)s->counters[LR_BPF_C_EXIT], NAN, false);
    if (s->has_oom)
        fn(arg, "linerate.host.memory.oom_kills", (double)s->counters[LR_BPF_C_OOM], NAN, false);
}

/* One series' cumulative values at a read. */
struct prev_ent {
    uint64_t hash; /* the detector key's hash */
    double value, sum;
    char name[LR_CP_HOST_SERIES_NAME_MAX];
};

/* Two tables, the previous read's and the one being made, swapped after each read: a series
 * that is gone from the maps is gone from the table one read later. */
struct prev_tab {
    uint32_t n, mask;
    uint32_t *index; /* entry + 1; 0 empty */
    struct prev_ent *e;
};

struct lr_cp_host_prev {
    size_t cap;
    struct prev_tab t[2]; /* [0] the previous read, [1] this one */
    bool have_prev;
    uint64_t prev_ns, overflow;
    struct lr_feat_host_window *out;
};

static uint32_t *prev_slot(struct prev_tab *t, uint64_t hash, const char *name)
{
    for (uint32_t h = (uint32_t)hash & t->mask;; h = (h + 1) & t->mask) {
        uint32_t i = t->index[h];
        if (i == 0 || (t->e[i - 1].hash == hash && strcmp(t->e[i - 1].name, name) == 0))
            return &t->index[h];
    }
}

static int prev_tab_init(struct prev_tab *t, size_t cap)
{
    uint32_t slots = 4;
    while (slots < 2 * cap)
        slots <<= 1;
    t->mask = slots - 1;
    t->index = calloc(slots, sizeof(*t->index));
    t->e = calloc(cap, sizeof(*t->e));
    return t->index && t->e ? 0 : -ENOMEM;
}

static void prev_tab_clear(struct prev_tab *t)
{
    for (uint32_t i = t->n; i-- > 0;) /* newest first: see lr_gpu_feat_table_clear */
        *prev_slot(t, t->e[i].hash, t->e[i].name) = 0;
    t->n = 0;
}

struct lr_cp_host_prev *lr_cp_host_prev_new(size_t cap)
{
    struct lr_cp_host_prev *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cap = cap ? cap : 1;
    p->out = malloc(sizeof(*p->out) + p->cap * sizeof(p->out->e[0]));
    if (!p->out || prev_tab_init(&p->t[0], p->cap) < 0 || prev_tab_init(&p->t[1], p->cap) < 0) {
        lr_cp_host_prev_free(p);
        return NULL;
    }
    return p;
}

void lr_cp_host_prev_free(struct lr_cp_host_prev *p)
{
    if (!p)
        return;
    for (int i = 0; i < 2; i++) {
        free(p->t[i].index);
        free(p->t[i].e);
    }
    free(p->out);
    free(p);
}

uint64_t lr_cp_host_prev_overflow(const struct lr_cp_host_prev *p)
{
    return p->overflow;
}

static void sample_one(void *arg, const char *name, double value, double sum, bool hist)
{
    struct lr_cp_host_prev *p = arg;
    struct prev_tab *cur = &p->t[1];
    struct lr_feat_key key;
    lr_gpu_feat_host_key(&key, name);
    uint32_t *ix = prev_slot(cur, key.hash, name);
    if (*ix)
        return; /* named twice: cannot happen, the attributes tell the points apart */
    if (cur->n == p->cap) {
        p->overflow++;
        return;
    }
    struct prev_ent *e = &cur->e[cur->n++];
    *ix = cur->n;
    e->hash = key.hash;
    e->value = value;
    e->sum = sum;
    snprintf(e->name, sizeof(e->name), "%s", name);
    if (!p->have_prev)
        return;
    uint32_t *pix = prev_slot(&p->t[0], key.hash, name);
    if (!*pix)
        return; /* new series: a delta needs two reads */
    const struct prev_ent *was = &p->t[0].e[*pix - 1];
    if (value < was->value || (hist && sum < was->sum))
        return; /* reset (the maps were cleared): no delta this time */
    struct lr_feat_host_entry *o = &p->out->e[p->out->n++];
    o->key = key;
    o->delta = value - was->value;
    o->sum_delta = hist ? sum - was->sum : NAN;
    o->elapsed_s = 0; /* the same for every series of a read: set by lr_cp_host_samples */
}

struct lr_feat_host_window *lr_cp_host_samples(struct lr_cp_host_prev *p,
                                               const struct lr_cp_host_snap *s, uint64_t read_ns,
                                               uint64_t window_ns)
{
    p->out->n = 0;
    lr_cp_host_series_each(s, sample_one, p);
    double elapsed =
        p->have_prev && read_ns > p->prev_ns ? (double)(read_ns - p->prev_ns) / 1e9 : 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->out->n; i++) {
        if (elapsed <= 0)
            break; /* the clock did not move: nothing to divide by */
        p->out->e[i].elapsed_s = elapsed;
        n++;
    }
    struct lr_feat_host_window *m = malloc(sizeof(*m) + (size_t)n * sizeof(m->e[0]));
    if (m) {
        m->window = window_ns ? read_ns / window_ns : 0;
        m->n = n;
        memcpy(m->e, p->out->e, (size_t)n * sizeof(m->e[0]));
    }
    /* This read becomes the previous one. */
    prev_tab_clear(&p->t[0]);
    struct prev_tab t = p->t[0];
    p->t[0] = p->t[1];
    p->t[1] = t;
    p->have_prev = true;
    p->prev_ns = read_ns;
    if (!m)
        errno = ENOMEM;
    return m;
}

/* ---- the probes ------------------------------------------------------------------------------ */

#define MAX_PROGS 3

/* The probes' programs, in the order of lr_cp_host_probe_names (control/hostprobes_names.c: the
 * names host_metrics.probes and /metrics use); each probe is one or more programs of
 * bpf/hostprobes.bpf.c, each program on one tracepoint. */
static const struct probe_def {
    const char *progs[MAX_PROGS];
    const char *tps[MAX_PROGS];
} probe_defs[] = {
    { { "tcp_retransmit" }, { "tcp_retransmit_skb" } },
    { { "tcp_state" }, { "inet_sock_set_state" } },
    { { "tcp_reset_sent" }, { "tcp_send_reset" } },
    { { "tcp_reset_received" }, { "tcp_receive_reset" } },
    { { "tcp_rtt" }, { "tcp_probe" } },
    { { "runq_wakeup", "runq_wakeup_new", "runq_switch" },
      { "sched_wakeup", "sched_wakeup_new", "sched_switch" } },
    { { "disk_issue", "disk_complete" }, { "block_rq_issue", "block_rq_complete" } },
    { { "skb_drop" }, { "kfree_skb" } },
    { { "softirq_enter", "softirq_leave" }, { "softirq_entry", "softirq_exit" } },
    { { "proc_exec" }, { "sched_process_exec" } },
    { { "proc_exit" }, { "sched_process_exit" } },
    { { "oom_kill" }, { "mark_victim" } },
};
#define N_PROBES (sizeof(probe_defs) / sizeof(probe_defs[0]))
_Static_assert(N_PROBES == LR_CP_HOST_N_PROBES, "one name per probe");

enum {
    P_RETX,
    P_STATE,
    P_RST_SENT,
    P_RST_RECV,
    P_RTT,
    P_RUNQ,
    P_DISK,
    P_DROP,
    P_SOFTIRQ,
    P_EXEC,
    P_EXIT,
    P_OOM
};

struct probe {
    bool on;
    char why[160]; /* why it is off ("" while on) */
#ifdef LR_HAVE_HOSTPROBES
    struct bpf_program *prog[MAX_PROGS];
    struct bpf_link *link[MAX_PROGS];
#endif
};

struct lr_cp_host {
    const struct lr_config *cfg;
    struct lr_ring *ring;
    struct lr_ring *anom;         /* detector samples to the anomaly batcher; NULL: off */
    struct lr_cp_host_prev *prev; /* the previous read, for the samples' deltas */
    uint64_t anom_sent, anom_dropped;
    struct probe probes[N_PROBES];
    uint64_t next_ns, start_unix_ns;
    uint64_t requests, dropped, failed;
    char host_name[256], host_id[64];
    bool stats_on;
    char stats_why[128];
    int stats_fd;
#ifdef LR_HAVE_HOSTPROBES
    struct lr_hostprobes *skel;
    char *drop_names[LR_BPF_DROP_REASONS];
    int n_cpus;
    void *buf; /* per-CPU values of one key */
    struct lr_cp_host_retx *retx;
    struct lr_cp_host_disk *disk;
    struct lr_bpf_hist *runq;
#endif
};

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_off(struct lr_cp_host *h, size_t i, const char *why)
{
    h->probes[i].on = false;
    snprintf(h->probes[i].why, sizeof(h->probes[i].why), "%s", why);
}

#ifdef LR_HAVE_HOSTPROBES

static int quiet_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
    (void)lvl;
    (void)fmt;
    (void)ap;
    return 0;
}

/* The names of enum skb_drop_reason from the running kernel's BTF, without their common prefix. */
static void load_drop_names(struct lr_cp_host *h, struct btf *btf)
{
    int id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
    if (id < 0)
        return;
    const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
    const struct btf_enum *e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); i++) {
        const char *n = btf__name_by_offset(btf, e[i].name_off);
        if (!n || e[i].val < 0 || e[i].val >= LR_BPF_DROP_REASONS)
            continue;
        if (strncmp(n, "SKB_DROP_REASON_", 16) == 0)
            n += 16;
        else if (strncmp(n, "SKB_", 4) == 0)
            n += 4;
        free(h->drop_names[e[i].val]);
        h->drop_names[e[i].val] = strdup(n);
    }
}

static void probes_load(struct lr_cp_host *h)
{
    char why[160];
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        snprintf(why, sizeof(why), "no kernel BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
        for (size_t i = 0; i < N_PROBES; i++)
            if (!h->probes[i].why[0])
                set_off(h, i, why);
        return;
    }
    libbpf_set_print(quiet_print);
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf) {
        snprintf(why, sizeof(why), "cannot read kernel BTF: %s", strerror(errno));
        for (size_t i = 0; i < N_PROBES; i++)
            if (!h->probes[i].why[0])
                set_off(h, i, why);
        return;
    }
    load_drop_names(h, btf);
    h->skel = lr_hostprobes__open();
    if (!h->skel) {
        snprintf(why, sizeof(why), "cannot open the BPF object: %s", strerror(errno));
        btf__free(btf);
        for (size_t i = 0; i < N_PROBES; i++)
            if (!h->probes[i].why[0])
                set_off(h, i, why);
        return;
    }
    /* Programs of probes not selected, or whose tracepoint this kernel lacks, are not loaded:
     * one missing tracepoint must not fail the whole object. */
    for (size_t i = 0; i < N_PROBES; i++) {
        const struct probe_def *d = &probe_defs[i];
        for (int j = 0; j < MAX_PROGS && d->progs[j]; j++) {
            struct bpf_program *p = bpf_object__find_program_by_name(h->skel->obj, d->progs[j]);
            h->probes[i].prog[j] = p;
            char tn[96];
            snprintf(tn, sizeof(tn), "btf_trace_%s", d->tps[j]);
            if (!h->probes[i].why[0] &&
                (!p || btf__find_by_name_kind(btf, tn, BTF_KIND_TYPEDEF) < 0)) {
                snprintf(why, sizeof(why), "tracepoint %s missing in this kernel", d->tps[j]);
                set_off(h, i, why);
            }
        }
        for (int j = 0; j < MAX_PROGS && d->progs[j]; j++)
            if (h->probes[i].why[0] && h->probes[i].prog[j])
                bpf_program__set_autoload(h->probes[i].prog[j], false);
    }
    btf__free(btf);
    int err = lr_hostprobes__load(h->skel);
    if (err) {
        int e = err < 0 ? -err : errno;
        snprintf(why, sizeof(why), "cannot load the BPF programs: %s%s", strerror(e),
                 e == EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
        for (size_t i = 0; i < N_PROBES; i++)
            if (!h->probes[i].why[0])
                set_off(h, i, why);
        lr_hostprobes__destroy(h->skel);
        h->skel = NULL;
        return;
    }
    for (size_t i = 0; i < N_PROBES; i++) {
        struct probe *p = &h->probes[i];
        if (p->why[0])
            continue;
        p->on = true;
        for (int j = 0; j < MAX_PROGS && probe_defs[i].progs[j]; j++) {
            p->link[j] = bpf_program__attach(p->prog[j]);
            if (!p->link[j]) {
                snprintf(why, sizeof(why), "cannot attach to %s: %s", probe_defs[i].tps[j],
                         strerror(errno));
                set_off(h, i, why);
                break;
            }
        }
        if (!p->on)
            for (int j = 0; j < MAX_PROGS; j++) {
                bpf_link__destroy(p->link[j]);
                p->link[j] = NULL;
            }
    }
}

/* DEVNAME from /sys/dev/block/MAJ:MIN/uevent ("vda", "loop3"); left empty when unknown. */
static void dev_name(struct lr_cp_host_disk *d)
{
    char path[96], line[128];
    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", d->major, d->minor);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "DEVNAME=", 8) == 0) {
            line[strcspn(line, "\n")] = '\0';
            size_t n = strlen(line + 8);
            if (n < sizeof(d->name))
                memcpy(d->name, line + 8, n + 1);
            break;
        }
    fclose(f);
}

/* Sums the per-CPU u64 values of `key` in `fd`; 0 when absent. */
static uint64_t read_u64(struct lr_cp_host *h, int fd, uint32_t key)
{
    uint64_t *v = h->buf, s = 0;
    if (bpf_map_lookup_elem(fd, &key, v) != 0)
        return 0;
    for (int c = 0; c < h->n_cpus; c++)
        s += v[c];
    return s;
}

static void hist_acc(struct lr_bpf_hist *to, const struct lr_bpf_hist *from)
{
    for (int i = 0; i < LR_BPF_HIST_SLOTS; i++)
        to->slots[i] += from->slots[i];
    to->count += from->count;
    to->sum += from->sum;
}

/* Reads every map of the probes that are on into `s`. */
static void snap_read(struct lr_cp_host *h, struct lr_cp_host_snap *s)
{
    struct lr_hostprobes *k = h->skel;
    memset(s, 0, sizeof(*s));
    const struct probe *p = h->probes;
    s->has_retx = p[P_RETX].on;
    s->has_tcp_state = p[P_STATE].on;
    s->has_rst_sent = p[P_RST_SENT].on;
    s->has_rst_recv = p[P_RST_RECV].on;
    s->has_rtt = p[P_RTT].on;
    s->has_runq = p[P_RUNQ].on;
    s->has_disk = p[P_DISK].on;
    s->has_drops = p[P_DROP].on;
    s->has_softirq = p[P_SOFTIRQ].on;
    s->has_exec = p[P_EXEC].on;
    s->has_exit = p[P_EXIT].on;
    s->has_oom = p[P_OOM].on;
    s->drop_names = (const char *const *)h->drop_names;
    if (!k)
        return;
    int fd = bpf_map__fd(k->maps.counters);
    for (uint32_t i = 0; i < LR_BPF_C_COUNT; i++)
        s->counters[i] = read_u64(h, fd, i);
    fd = bpf_map__fd(k->maps.tcp_states);
    for (uint32_t i = 0; s->has_tcp_state && i < LR_BPF_TCP_STATES; i++)
        s->tcp_states[i] = read_u64(h, fd, i);
    fd = bpf_map__fd(k->maps.drops);
    for (uint32_t i = 0; s->has_drops && i < LR_BPF_DROP_REASONS; i++)
        s->drops[i] = read_u64(h, fd, i);
    fd = bpf_map__fd(k->maps.softirq_ns);
    for (uint32_t i = 0; s->has_softirq && i < LR_BPF_SOFTIRQS; i++)
        s->softirq_ns[i] = read_u64(h, fd, i);
    uint32_t zero = 0;
    struct lr_bpf_hist *hv = h->buf;
    if (s->has_rtt && bpf_map_lookup_elem(bpf_map__fd(k->maps.srtt_hist), &zero, hv) == 0)
        for (int c = 0; c < h->n_cpus; c++)
            hist_acc(&s->rtt, &hv[c]);
    if (s->has_runq && bpf_map_lookup_elem(bpf_map__fd(k->maps.runq), &zero, hv) == 0) {
        memcpy(h->runq, hv, (size_t)h->n_cpus * sizeof(*hv));
        s->runq = h->runq;
        s->n_cpus = (uint32_t)h->n_cpus;
    }
    if (s->has_retx) {
        struct lr_bpf_retx_key key, next, *cur = NULL;
        fd = bpf_map__fd(k->maps.retx);
        while (s->n_retx < LR_BPF_RETX_KEYS && bpf_map_get_next_key(fd, cur, &next) == 0) {
            key = next;
            cur = &key;
            uint64_t *v = h->buf, sum = 0;
            if (bpf_map_lookup_elem(fd, &key, v) != 0)
                continue;
            for (int c = 0; c < h->n_cpus; c++)
                sum += v[c];
            struct lr_cp_host_retx *r = &h->retx[s->n_retx++];
            r->lport = key.lport;
            r->family = key.family;
            memcpy(r->prefix, key.prefix, sizeof(r->prefix));
            r->count = sum;
        }
        s->retx = h->retx;
    }
    if (s->has_disk) {
        struct lr_bpf_disk_key key, next, *cur = NULL;
        fd = bpf_map__fd(k->maps.disk);
        while (s->n_disk < LR_BPF_DISK_KEYS && bpf_map_get_next_key(fd, cur, &next) == 0) {
            key = next;
            cur = &key;
            struct lr_bpf_disk_val *v = h->buf;
            if (bpf_map_lookup_elem(fd, &key, v) != 0)
                continue;
            struct lr_cp_host_disk *d = &h->disk[s->n_disk++];
            memset(d, 0, sizeof(*d));
            d->major = key.major;
            d->minor = key.minor;
            d->op = key.op;
            dev_name(d);
            for (int c = 0; c < h->n_cpus; c++) {
                hist_acc(&d->lat, &v[c].lat);
                d->bytes += v[c].bytes;
            }
        }
        s->disk = h->disk;
    }
}

static void prog_stats(const struct lr_cp_host *h, size_t i, int j, uint64_t *run_ns, uint64_t *cnt)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info);
    memset(&info, 0, sizeof(info));
    *run_ns = *cnt = 0;
    const struct bpf_program *p = h->probes[i].prog[j];
    if (!p || bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) != 0)
        return;
    *run_ns = info.run_time_ns;
    *cnt = info.run_cnt;
}

#endif /* LR_HAVE_HOSTPROBES */

struct lr_cp_host *lr_cp_host_start(const struct lr_config *cfg, struct lr_ring *ring,
                                    struct lr_ring *anom)
{
    struct lr_cp_host *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->cfg = cfg;
    h->ring = ring;
    h->anom = anom;
    h->stats_fd = -1;
    h->start_unix_ns = unix_ns();
    if (gethostname(h->host_name, sizeof(h->host_name) - 1) != 0)
        snprintf(h->host_name, sizeof(h->host_name), "localhost");
    FILE *f = fopen("/etc/machine-id", "r");
    if (f) {
        if (fgets(h->host_id, sizeof(h->host_id), f))
            h->host_id[strcspn(h->host_id, "\r\n")] = '\0';
        fclose(f);
    }
    for (size_t i = 0; i < N_PROBES; i++)
        if (!lr_cp_host_probe_selected(cfg->host_metrics.probes, lr_cp_host_probe_names[i]))
            set_off(h, i, "not selected (host_metrics.probes)");
#ifdef LR_HAVE_HOSTPROBES
    h->n_cpus = libbpf_num_possible_cpus();
    if (h->n_cpus < 1)
        h->n_cpus = 1;
    size_t per = sizeof(struct lr_bpf_disk_val); /* the largest value of any map */
    h->buf = calloc((size_t)h->n_cpus, per);
    h->retx = calloc(LR_BPF_RETX_KEYS, sizeof(*h->retx));
    h->disk = calloc(LR_BPF_DISK_KEYS, sizeof(*h->disk));
    h->runq = calloc((size_t)h->n_cpus, sizeof(*h->runq));
    if (!h->buf || !h->retx || !h->disk || !h->runq) {
        lr_cp_host_free(h);
        return NULL;
    }
    if (anom) {
        /* Every series a read can hold (lr_cp_host_series_each): retransmit keys, TCP states, two
         * reset directions, the RTT, one run queue per CPU, per disk key a latency and a bytes
         * series, drop reasons, softirq vectors, exec, exit, OOM. */
        size_t cap = LR_BPF_RETX_KEYS + LR_BPF_TCP_STATES + 2 + 1 + (size_t)h->n_cpus +
                     2 * (size_t)LR_BPF_DISK_KEYS + LR_BPF_DROP_REASONS + LR_BPF_SOFTIRQS + 3;
        h->prev = lr_cp_host_prev_new(cap);
        if (!h->prev) {
            lr_cp_host_free(h);
            return NULL;
        }
    }
    probes_load(h);
    if (cfg->host_metrics.probe_stats && h->skel) {
        /* Run time and count per program for /metrics; the kernel counts while any such fd is
         * open (it costs two clock reads per program run, on every BPF program of the host). */
        h->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (h->stats_fd >= 0)
            h->stats_on = true;
        else
            snprintf(h->stats_why, sizeof(h->stats_why), "bpf_enable_stats: %s", strerror(errno));
    } else {
        snprintf(h->stats_why, sizeof(h->stats_why), "%s",
                 h->skel ? "host_metrics.probe_stats is false" : "no probe loaded");
    }
#else
    for (size_t i = 0; i < N_PROBES; i++)
        if (!h->probes[i].why[0])
            set_off(h, i, "built without eBPF probes (no bpftool or no BTF on the build machine)");
    snprintf(h->stats_why, sizeof(h->stats_why), "built without eBPF probes");
#endif
    return h;
}

int lr_cp_host_wait_ms(const struct lr_cp_host *h, uint64_t now_ns, int cap)
{
    if (!h->next_ns || now_ns >= h->next_ns)
        return 0;
    uint64_t ms = (h->next_ns - now_ns + 999999) / 1000000;
    return ms < (uint64_t)cap ? (int)ms : cap;
}

void lr_cp_host_tick(struct lr_cp_host *h, uint64_t now_ns)
{
    uint64_t iv = (uint64_t)h->cfg->host_metrics.interval_ms * 1000000ull;
    if (!h->next_ns) {
        h->next_ns = now_ns + iv; /* the first request after one interval */
        return;
    }
    if (now_ns < h->next_ns)
        return;
    h->next_ns += iv;
    if (h->next_ns <= now_ns) /* fell behind: no burst of catch-up requests */
        h->next_ns = now_ns + iv;
    bool any = false;
    for (size_t i = 0; i < N_PROBES; i++)
        any |= h->probes[i].on;
    if (!any)
        return;
    struct lr_cp_host_snap s;
#ifdef LR_HAVE_HOSTPROBES
    snap_read(h, &s);
#else
    memset(&s, 0, sizeof(s));
#endif
    if (h->prev) {
        /* The detector's samples land in the anomaly window of the read. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t read_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        struct lr_feat_host_window *w = lr_cp_host_samples(
            h->prev, &s, read_ns, (uint64_t)h->cfg->anomaly.window_ms * 1000000ull);
        if (!w) {
            h->anom_dropped++;
        } else if (w->n == 0) {
            free(w);
        } else if (!lr_ring_push(h->anom, w)) {
            free(w); /* the batcher is behind by 64 reads */
            h->anom_dropped++;
        } else {
            h->anom_sent++;
        }
    }
    struct lr_cp_host_res r = { .host_name = h->host_name,
                                .host_id = h->host_id,
                                .service_name = "linerate",
                                .version = LR_VERSION };
    size_t len = 0, n_points = 0;
    uint8_t *buf = lr_cp_host_encode(&s, &r, h->start_unix_ns, unix_ns(), &len, &n_points);
    if (!buf) {
        h->failed++;
        return;
    }
    struct lr_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        free(buf);
        h->failed++;
        return;
    }
    m->signal = LR_SIG_METRICS;
    m->worker = UINT32_MAX; /* the control thread */
    m->n_items = n_points;
    m->len = len;
    m->value = buf;
    if (!lr_ring_push(h->ring, m)) {
        lr_msg_free(m);
        h->dropped++;
        return;
    }
    h->requests++;
}

void lr_cp_host_banner(const struct lr_cp_host *h, FILE *f)
{
    char on[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < N_PROBES; i++)
        if (h->probes[i].on && n < sizeof(on) - 32)
            n += (size_t)snprintf(on + n, sizeof(on) - n, "%s%s", n ? " " : "",
                                  lr_cp_host_probe_names[i]);
    fprintf(f, "  host probes every %u ms to %s; on: %s\n", h->cfg->host_metrics.interval_ms,
            "the metrics topic", n ? on : "none");
    for (size_t i = 0; i < N_PROBES; i++)
        if (!h->probes[i].on)
            fprintf(f, "  host probe  %s off: %s\n", lr_cp_host_probe_names[i], h->probes[i].why);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

void lr_cp_host_metrics_write(const struct lr_cp_host *h, FILE *f)
{
    fprintf(f, "# HELP linerate_host_probe_up Whether a host probe is loaded and attached (1), or "
               "off (0, with the reason).\n# TYPE linerate_host_probe_up gauge\n");
    for (size_t i = 0; i < N_PROBES; i++) {
        fprintf(f, "linerate_host_probe_up{probe=\"%s\",reason=\"", lr_cp_host_probe_names[i]);
        label(f, h->probes[i].on ? "" : h->probes[i].why);
        fprintf(f, "\"} %d\n", h->probes[i].on ? 1 : 0);
    }
    fprintf(f,
            "# HELP linerate_host_requests_total Host-metric requests handed to the Kafka "
            "output.\n# TYPE linerate_host_requests_total counter\n"
            "linerate_host_requests_total %llu\n",
            (unsigned long long)h->requests);
    fprintf(f,
            "# HELP linerate_host_requests_dropped_total Host-metric requests dropped: the "
            "output ring was full, or out of memory.\n"
            "# TYPE linerate_host_requests_dropped_total counter\n"
            "linerate_host_requests_dropped_total %llu\n",
            (unsigned long long)(h->dropped + h->failed));
    if (h->prev)
        fprintf(f,
                "# HELP linerate_host_anomaly_reads_total Reads of the probes' maps handed to "
                "the anomaly detector.\n# TYPE linerate_host_anomaly_reads_total counter\n"
                "linerate_host_anomaly_reads_total %llu\n"
                "# HELP linerate_host_anomaly_reads_dropped_total Reads not handed to the anomaly "
                "detector: its ring was full, or out of memory.\n"
                "# TYPE linerate_host_anomaly_reads_dropped_total counter\n"
                "linerate_host_anomaly_reads_dropped_total %llu\n"
                "# HELP linerate_host_anomaly_series_overflow_total Host series left out of reads "
                "for the detector (more than a read can hold).\n"
                "# TYPE linerate_host_anomaly_series_overflow_total counter\n"
                "linerate_host_anomaly_series_overflow_total %llu\n",
                (unsigned long long)h->anom_sent, (unsigned long long)h->anom_dropped,
                (unsigned long long)lr_cp_host_prev_overflow(h->prev));
    fprintf(f, "# HELP linerate_host_probe_stats_enabled Whether the kernel counts the probes' "
               "run time (kernel.bpf_stats_enabled through bpf_enable_stats).\n"
               "# TYPE linerate_host_probe_stats_enabled gauge\n"
               "linerate_host_probe_stats_enabled{reason=\"");
    label(f, h->stats_on ? "" : h->stats_why);
    fprintf(f, "\"} %d\n", h->stats_on ? 1 : 0);
#ifdef LR_HAVE_HOSTPROBES
    static const char *const fam[2][2] = {
        { "linerate_host_probe_run_time_ns_total",
          "Time the kernel spent in a probe program (while run-time stats are on)." },
        { "linerate_host_probe_runs_total",
          "Times a probe program ran (while run-time stats are on)." },
    };
    for (int k = 0; k < 2; k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", fam[k][0], fam[k][1], fam[k][0]);
        for (size_t i = 0; i < N_PROBES; i++) {
            if (!h->probes[i].on)
                continue;
            for (int j = 0; j < MAX_PROGS && probe_defs[i].progs[j]; j++) {
                uint64_t ns, cnt;
                prog_stats(h, i, j, &ns, &cnt);
                fprintf(f, "%s{probe=\"%s\",tracepoint=\"%s\"} %llu\n", fam[k][0],
                        lr_cp_host_probe_names[i], probe_defs[i].tps[j],
                        (unsigned long long)(k ? cnt : ns));
            }
        }
    }
#endif
}

void lr_cp_host_free(struct lr_cp_host *h)
{
    if (!h)
        return;
#ifdef LR_HAVE_HOSTPROBES
    for (size_t i = 0; i < N_PROBES; i++)
        for (int j = 0; j < MAX_PROGS; j++)
            bpf_link__destroy(h->probes[i].link[j]);
    lr_hostprobes__destroy(h->skel);
    for (int i = 0; i < LR_BPF_DROP_REASONS; i++)
        free(h->drop_names[i]);
    free(h->buf);
    free(h->retx);
    free(h->disk);
    free(h->runq);
#endif
    if (h->stats_fd >= 0)
        close(h->stats_fd);
    lr_cp_host_prev_free(h->prev);
    free(h);
}
