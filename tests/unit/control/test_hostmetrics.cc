// The map-to-OTLP conversion of the host probes (control/hostmetrics.c, lr_cp_host_encode):
// what the Kafka side receives, decoded with protobuf-c's generated code. No BPF here: the
// snapshots are what the maps would hold.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "../../../control/hostmetrics.h"
#include "linerate/features.h"
// The generated service structs have a member named `export`, a C++ keyword.
#define export export_
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#undef export
}

namespace
{

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest Req;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;

const uint64_t kStart = 1700000000000000000ull;

struct Decoded {
    Req *req = nullptr;
    size_t n_points = 0;
    ~Decoded()
    {
        if (req)
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
                req, nullptr);
    }
};

lr_cp_host_res res()
{
    lr_cp_host_res r;
    r.host_name = "node-7";
    r.host_id = "0123456789abcdef0123456789abcdef";
    r.service_name = "linerate";
    r.version = "9.9.9";
    return r;
}

void encode(const lr_cp_host_snap &s, uint64_t start, uint64_t now, Decoded *d)
{
    lr_cp_host_res r = res();
    size_t len = 0;
    uint8_t *buf = lr_cp_host_encode(&s, &r, start, now, &len, &d->n_points);
    ASSERT_NE(buf, nullptr);
    d->req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
        nullptr, len, buf);
    free(buf);
    ASSERT_NE(d->req, nullptr);
    ASSERT_EQ(d->req->n_resource_metrics, 1u);
    ASSERT_EQ(d->req->resource_metrics[0]->n_scope_metrics, 1u);
}

const Metric *find(const Decoded &d, const char *name)
{
    auto *sm = d.req->resource_metrics[0]->scope_metrics[0];
    for (size_t i = 0; i < sm->n_metrics; i++)
        if (strcmp(sm->metrics[i]->name, name) == 0)
            return sm->metrics[i];
    return nullptr;
}

std::string attr(Opentelemetry__Proto__Common__V1__KeyValue **a, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i]->key, key) != 0)
            continue;
        auto *v = a[i]->value;
        if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return v->string_value;
        if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
            return std::to_string(v->int_value);
    }
    return "<absent>";
}

// Every probe on, a little in each map.
struct Snap {
    lr_cp_host_snap s;
    lr_cp_host_retx retx[2];
    lr_bpf_hist runq[2];
    lr_cp_host_disk disk[1];
    const char *names[LR_BPF_DROP_REASONS] = {};
    Snap()
    {
        memset(&s, 0, sizeof(s));
        memset(retx, 0, sizeof(retx));
        memset(runq, 0, sizeof(runq));
        memset(disk, 0, sizeof(disk));
        s.has_retx = s.has_tcp_state = s.has_rst_sent = s.has_rst_recv = s.has_rtt = true;
        s.has_runq = s.has_disk = s.has_drops = s.has_softirq = s.has_exec = s.has_exit = true;
        s.has_oom = true;
        retx[0].lport = 4318;
        retx[0].family = 2;
        retx[0].prefix[0] = 10, retx[0].prefix[1] = 77, retx[0].prefix[2] = 1;
        retx[0].count = 5;
        retx[1].lport = 443;
        retx[1].family = 10;
        retx[1].prefix[0] = 0x20, retx[1].prefix[1] = 0x01, retx[1].prefix[2] = 0x0d;
        retx[1].prefix[3] = 0xb8, retx[1].prefix[5] = 0x01;
        retx[1].count = 2;
        s.retx = retx;
        s.n_retx = 2;
        s.tcp_states[1] = 12; // established
        s.tcp_states[7] = 11; // close
        s.counters[LR_BPF_C_RST_SENT] = 3;
        s.counters[LR_BPF_C_RST_RECV] = 4;
        s.counters[LR_BPF_C_EXEC] = 100;
        s.counters[LR_BPF_C_EXIT] = 90;
        s.counters[LR_BPF_C_OOM] = 1;
        s.rtt.slots[lr_bpf_hist_slot(300)] = 2; // two RTTs of 300 us
        s.rtt.count = 2;
        s.rtt.sum = 600;
        runq[0].slots[0] = 7, runq[0].count = 7, runq[0].sum = 3;
        runq[1].slots[LR_BPF_HIST_SLOTS - 1] = 1, runq[1].count = 1, runq[1].sum = 1ull << 40;
        s.runq = runq;
        s.n_cpus = 2;
        disk[0].major = 7, disk[0].minor = 3, disk[0].op = 1;
        strcpy(disk[0].name, "loop3");
        disk[0].lat.slots[lr_bpf_hist_slot(64)] = 8, disk[0].lat.count = 8;
        disk[0].lat.sum = 512;
        disk[0].bytes = 8 * 4096;
        s.disk = disk;
        s.n_disk = 1;
        names[2] = "NOT_SPECIFIED";
        s.drop_names = names;
        s.drops[2] = 9;
        s.drops[77] = 1;              // a reason without a name: its number
        s.softirq_ns[3] = 1500000000; // net_rx 1.5 s
    }
};

TEST(HostMetricsBounds, SlotsMatchTheOtlpBounds)
{
    // OTLP: bucket i counts values v with bounds[i-1] < v <= bounds[i]; the last one is
    // everything above the last bound. The kernel's slot for v must be that bucket.
    double b[LR_BPF_HIST_SLOTS - 1];
    lr_cp_host_hist_bounds(b);
    EXPECT_EQ(b[0], 1.0);
    EXPECT_EQ(b[1], 2.0);
    EXPECT_EQ(b[10], 1024.0);
    EXPECT_EQ(b[LR_BPF_HIST_SLOTS - 2], std::ldexp(1.0, LR_BPF_HIST_SLOTS - 2));
    std::vector<uint64_t> vs = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 1023, 1024, 1025, 65536, 65537 };
    for (int i = 0; i < 62; i++)
        vs.push_back(1ull << i), vs.push_back((1ull << i) + 1), vs.push_back((1ull << i) - 1);
    vs.push_back(UINT64_MAX);
    for (uint64_t v : vs) {
        uint32_t s = lr_bpf_hist_slot(v);
        ASSERT_LT(s, (uint32_t)LR_BPF_HIST_SLOTS) << v;
        if (s < LR_BPF_HIST_SLOTS - 1) {
            EXPECT_LE((double)v, b[s]) << v;
        }
        if (s > 0) {
            EXPECT_GT((double)v, b[s - 1]) << v;
        }
    }
}

TEST(HostMetricsEncode, NamesUnitsResourceAndCumulativeSemantics)
{
    Snap sn;
    Decoded d;
    encode(sn.s, kStart, kStart + 10000000000ull, &d);
    auto *rm = d.req->resource_metrics[0];
    ASSERT_NE(rm->resource, nullptr);
    auto *ra = rm->resource->attributes;
    size_t nra = rm->resource->n_attributes;
    EXPECT_EQ(attr(ra, nra, "service.name"), "linerate");
    EXPECT_EQ(attr(ra, nra, "host.name"), "node-7");
    EXPECT_EQ(attr(ra, nra, "host.id"), "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(attr(ra, nra, "os.type"), "linux");
    EXPECT_STREQ(rm->scope_metrics[0]->scope->name, "linerate/hostmetrics");
    EXPECT_STREQ(rm->scope_metrics[0]->scope->version, "9.9.9");

    struct Want {
        const char *name, *unit;
        bool hist;
        size_t points;
    } want[] = {
        { "linerate.host.tcp.retransmits", "{segment}", false, 2 },
        { "linerate.host.tcp.state_changes", "{transition}", false, 2 },
        { "linerate.host.tcp.resets", "{segment}", false, 2 },
        { "linerate.host.tcp.srtt", "us", true, 1 },
        { "linerate.host.sched.runqueue.latency", "us", true, 2 },
        { "linerate.host.disk.io.latency", "us", true, 1 },
        { "system.disk.io", "By", false, 1 },
        { "linerate.host.net.packet.drops", "{packet}", false, 2 },
        { "linerate.host.softirq.time", "s", false, 10 },
        { "linerate.host.process.execs", "{process}", false, 1 },
        { "linerate.host.process.exits", "{process}", false, 1 },
        { "linerate.host.memory.oom_kills", "{process}", false, 1 },
    };
    size_t total = 0;
    for (const Want &w : want) {
        const Metric *m = find(d, w.name);
        ASSERT_NE(m, nullptr) << w.name;
        EXPECT_STREQ(m->unit, w.unit) << w.name;
        EXPECT_STRNE(m->description, "") << w.name;
        if (w.hist) {
            ASSERT_EQ(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
            EXPECT_EQ(
                m->histogram->aggregation_temporality,
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
            ASSERT_EQ(m->histogram->n_data_points, w.points) << w.name;
            for (size_t i = 0; i < w.points; i++) {
                auto *p = m->histogram->data_points[i];
                EXPECT_EQ(p->start_time_unix_nano, kStart);
                EXPECT_EQ(p->time_unix_nano, kStart + 10000000000ull);
                ASSERT_EQ(p->n_bucket_counts, (size_t)LR_BPF_HIST_SLOTS);
                ASSERT_EQ(p->n_explicit_bounds, (size_t)LR_BPF_HIST_SLOTS - 1);
                uint64_t c = 0;
                for (size_t b = 0; b < p->n_bucket_counts; b++)
                    c += p->bucket_counts[b];
                EXPECT_EQ(p->count, c) << w.name;
            }
        } else {
            ASSERT_EQ(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
            EXPECT_EQ(
                m->sum->aggregation_temporality,
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
            EXPECT_TRUE(m->sum->is_monotonic) << w.name;
            ASSERT_EQ(m->sum->n_data_points, w.points) << w.name;
            for (size_t i = 0; i < w.points; i++) {
                EXPECT_EQ(m->sum->data_points[i]->start_time_unix_nano, kStart);
                EXPECT_EQ(m->sum->data_points[i]->time_unix_nano, kStart + 10000000000ull);
            }
        }
        total += w.points;
    }
    EXPECT_EQ(d.n_points, total);
    EXPECT_EQ(d.req->resource_metrics[0]->scope_metrics[0]->n_metrics,
              sizeof(want) / sizeof(want[0]));

    // Values and attributes.
    const Metric *m = find(d, "linerate.host.tcp.retransmits");
    auto *p = m->sum->data_points[0];
    EXPECT_EQ(p->as_int, 5);
    EXPECT_EQ(attr(p->attributes, p->n_attributes, "network.local.port"), "4318");
    EXPECT_EQ(attr(p->attributes, p->n_attributes, "linerate.host.tcp.remote_prefix"),
              "10.77.1.0/24");
    EXPECT_EQ(attr(p->attributes, p->n_attributes, "network.type"), "ipv4");
    p = m->sum->data_points[1];
    EXPECT_EQ(attr(p->attributes, p->n_attributes, "linerate.host.tcp.remote_prefix"),
              "2001:db8:1::/48");
    EXPECT_EQ(attr(p->attributes, p->n_attributes, "network.type"), "ipv6");
    m = find(d, "linerate.host.tcp.state_changes");
    EXPECT_EQ(attr(m->sum->data_points[0]->attributes, 1, "network.connection.state"),
              "established");
    EXPECT_EQ(m->sum->data_points[0]->as_int, 12);
    EXPECT_EQ(attr(m->sum->data_points[1]->attributes, 1, "network.connection.state"), "close");
    m = find(d, "linerate.host.tcp.resets");
    EXPECT_EQ(attr(m->sum->data_points[0]->attributes, 1, "network.io.direction"), "transmit");
    EXPECT_EQ(m->sum->data_points[0]->as_int, 3);
    EXPECT_EQ(m->sum->data_points[1]->as_int, 4);
    m = find(d, "linerate.host.tcp.srtt");
    EXPECT_EQ(m->histogram->data_points[0]->count, 2u);
    EXPECT_EQ(m->histogram->data_points[0]->sum, 600.0);
    EXPECT_EQ(m->histogram->data_points[0]->bucket_counts[9], 2u); // (256, 512]
    m = find(d, "linerate.host.sched.runqueue.latency");
    EXPECT_EQ(attr(m->histogram->data_points[1]->attributes, 1, "cpu.logical_number"), "1");
    EXPECT_EQ(m->histogram->data_points[0]->bucket_counts[0], 7u);
    EXPECT_EQ(m->histogram->data_points[1]->bucket_counts[LR_BPF_HIST_SLOTS - 1], 1u);
    m = find(d, "linerate.host.disk.io.latency");
    p = nullptr;
    auto *hp = m->histogram->data_points[0];
    EXPECT_EQ(attr(hp->attributes, hp->n_attributes, "system.device"), "loop3");
    EXPECT_EQ(attr(hp->attributes, hp->n_attributes, "linerate.host.disk.op"), "write");
    EXPECT_EQ(hp->bucket_counts[6], 8u); // (32, 64]
    m = find(d, "system.disk.io");
    EXPECT_EQ(m->sum->data_points[0]->as_int, 8 * 4096);
    EXPECT_EQ(attr(m->sum->data_points[0]->attributes, 2, "disk.io.direction"), "write");
    m = find(d, "linerate.host.net.packet.drops");
    EXPECT_EQ(attr(m->sum->data_points[0]->attributes, 1, "linerate.host.drop_reason"),
              "NOT_SPECIFIED");
    EXPECT_EQ(m->sum->data_points[0]->as_int, 9);
    EXPECT_EQ(attr(m->sum->data_points[1]->attributes, 1, "linerate.host.drop_reason"), "77");
    m = find(d, "linerate.host.softirq.time");
    EXPECT_EQ(attr(m->sum->data_points[3]->attributes, 1, "linerate.host.softirq.vector"),
              "net_rx");
    EXPECT_DOUBLE_EQ(m->sum->data_points[3]->as_double, 1.5);
    EXPECT_EQ(find(d, "linerate.host.process.execs")->sum->data_points[0]->as_int, 100);
    EXPECT_EQ(find(d, "linerate.host.process.exits")->sum->data_points[0]->as_int, 90);
    EXPECT_EQ(find(d, "linerate.host.memory.oom_kills")->sum->data_points[0]->as_int, 1);
}

TEST(HostMetricsEncode, ProbesOffAndEmptyMapsLeaveNoMetric)
{
    Snap sn;
    sn.s.has_runq = sn.s.has_oom = sn.s.has_rst_sent = false;
    sn.s.n_retx = 0;                           // nothing retransmitted yet
    memset(sn.s.drops, 0, sizeof(sn.s.drops)); // nothing dropped yet
    Decoded d;
    encode(sn.s, kStart, kStart + 1, &d);
    EXPECT_EQ(find(d, "linerate.host.sched.runqueue.latency"), nullptr);
    EXPECT_EQ(find(d, "linerate.host.memory.oom_kills"), nullptr);
    EXPECT_EQ(find(d, "linerate.host.tcp.retransmits"), nullptr); // OTLP wants >= 1 point
    EXPECT_EQ(find(d, "linerate.host.net.packet.drops"), nullptr);
    const Metric *m = find(d, "linerate.host.tcp.resets"); // only the received side is on
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->sum->n_data_points, 1u);
    EXPECT_EQ(attr(m->sum->data_points[0]->attributes, 1, "network.io.direction"), "receive");
    // Counters that are on are sent even at zero: a consumer sees the series start.
    sn.s.counters[LR_BPF_C_EXEC] = 0;
    Decoded d2;
    encode(sn.s, kStart, kStart + 1, &d2);
    EXPECT_EQ(find(d2, "linerate.host.process.execs")->sum->data_points[0]->as_int, 0);

    // Everything off: a request with an empty scope, still valid.
    lr_cp_host_snap none;
    memset(&none, 0, sizeof(none));
    Decoded d3;
    encode(none, kStart, kStart + 1, &d3);
    EXPECT_EQ(d3.n_points, 0u);
    EXPECT_EQ(d3.req->resource_metrics[0]->scope_metrics[0]->n_metrics, 0u);
}

// Two intervals of one run: same start time, values that only grow. Then a restart: the maps
// are new (counters back to zero) and the start time moves; that is how a consumer of
// cumulative points tells a reset from a decrease (the OTLP metrics data model: a new start time
// begins a new cumulative series).
TEST(HostMetricsEncode, CumulativeAcrossIntervalsAndResetAfterRestart)
{
    Snap a;
    Decoded d1, d2, d3;
    encode(a.s, kStart, kStart + 10000000000ull, &d1);
    a.s.counters[LR_BPF_C_EXEC] += 25;
    a.s.rtt.slots[0] += 1;
    a.s.rtt.count += 1;
    encode(a.s, kStart, kStart + 20000000000ull, &d2);
    auto execs = [](const Decoded &d) {
        return find(d, "linerate.host.process.execs")->sum->data_points[0];
    };
    EXPECT_EQ(execs(d1)->start_time_unix_nano, execs(d2)->start_time_unix_nano);
    EXPECT_LT(execs(d1)->time_unix_nano, execs(d2)->time_unix_nano);
    EXPECT_EQ(execs(d2)->as_int - execs(d1)->as_int, 25);
    auto *h1 = find(d1, "linerate.host.tcp.srtt")->histogram->data_points[0];
    auto *h2 = find(d2, "linerate.host.tcp.srtt")->histogram->data_points[0];
    EXPECT_EQ(h1->start_time_unix_nano, h2->start_time_unix_nano);
    EXPECT_EQ(h2->count, h1->count + 1);
    for (size_t b = 0; b < h1->n_bucket_counts; b++)
        EXPECT_GE(h2->bucket_counts[b], h1->bucket_counts[b]);

    Snap fresh; // after a restart
    fresh.s.counters[LR_BPF_C_EXEC] = 3;
    uint64_t restart = kStart + 30000000000ull;
    encode(fresh.s, restart, restart + 10000000000ull, &d3);
    EXPECT_EQ(execs(d3)->as_int, 3);
    EXPECT_LT(execs(d3)->as_int, execs(d2)->as_int);
    EXPECT_GT(execs(d3)->start_time_unix_nano, execs(d2)->time_unix_nano);
}

// The detector's host series are the request's data points, named "metric{attr=value,...}" with
// the point's attributes in order.
TEST(HostMetricsSeries, OneSeriesPerDataPoint)
{
    Snap a;
    Decoded d;
    encode(a.s, kStart, kStart + 1, &d);
    std::set<std::string> points;
    auto *sm = d.req->resource_metrics[0]->scope_metrics[0];
    for (size_t m = 0; m < sm->n_metrics; m++) {
        const Metric *mt = sm->metrics[m];
        bool hist = mt->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        size_t n = hist ? mt->histogram->n_data_points : mt->sum->n_data_points;
        for (size_t i = 0; i < n; i++) {
            Opentelemetry__Proto__Common__V1__KeyValue **kv =
                hist ? mt->histogram->data_points[i]->attributes
                     : mt->sum->data_points[i]->attributes;
            size_t nkv = hist ? mt->histogram->data_points[i]->n_attributes
                              : mt->sum->data_points[i]->n_attributes;
            std::string name = mt->name;
            for (size_t k = 0; k < nkv; k++)
                name += (k ? "," : "{") + std::string(kv[k]->key) + "=" + attr(kv, nkv, kv[k]->key);
            if (nkv)
                name += "}";
            points.insert(name);
        }
    }
    std::map<std::string, std::pair<double, double>> series;
    lr_cp_host_series_each(
        &a.s,
        [](void *arg, const char *name, double value, double sum, bool hist) {
            auto *m = static_cast<std::map<std::string, std::pair<double, double>> *>(arg);
            EXPECT_EQ(m->count(name), 0u) << name;
            EXPECT_EQ(hist, !std::isnan(sum)) << name;
            (*m)[name] = { value, sum };
        },
        &series);
    std::set<std::string> names;
    for (auto &kv : series)
        names.insert(kv.first);
    EXPECT_EQ(names, points);
    EXPECT_EQ(series["linerate.host.process.execs"].first, 100);
    EXPECT_EQ(series["system.disk.io{system.device=loop3,disk.io.direction=write}"].first,
              8 * 4096);
    auto rtt = series["linerate.host.tcp.srtt"];
    EXPECT_EQ(rtt.first, 2);
    EXPECT_EQ(rtt.second, 600);
    EXPECT_EQ(series["linerate.host.softirq.time{linerate.host.softirq.vector=net_rx}"].first, 1.5);
    EXPECT_TRUE(series.count("linerate.host.tcp.retransmits{network.local.port=443,"
                             "linerate.host.tcp.remote_prefix=2001:db8:1::/48,network.type=ipv6}"));
}

const lr_feat_host_entry *sample(const lr_feat_host_window *w, const char *name)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].key.name, name) == 0)
            return &w->e[i];
    return nullptr;
}

// Two reads become one sample per series: the increase and the time between the reads; a reset
// gives none; the sample's window is the read's.
TEST(HostMetricsSeries, ReadsBecomeDeltas)
{
    const uint64_t win = 250000000ull, t0 = 1000 * win + 7;
    lr_cp_host_prev *p = lr_cp_host_prev_new(64);
    ASSERT_NE(p, nullptr);
    Snap a;
    lr_feat_host_window *w = lr_cp_host_samples(p, &a.s, t0, win);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->n, 0u) << "a delta needs two reads";
    free(w);
    a.s.counters[LR_BPF_C_EXEC] += 25;
    a.s.rtt.slots[lr_bpf_hist_slot(100)] += 1;
    a.s.rtt.sum += 100;
    a.s.softirq_ns[3] += 500000000;
    w = lr_cp_host_samples(p, &a.s, t0 + 2000000000ull, win);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->window, (t0 + 2000000000ull) / win);
    const lr_feat_host_entry *e = sample(w, "linerate.host.process.execs");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->delta, 25);
    EXPECT_TRUE(std::isnan(e->sum_delta));
    EXPECT_DOUBLE_EQ(e->elapsed_s, 2.0);
    EXPECT_EQ(e->key.host, 1);
    EXPECT_EQ(e->key.kind, LR_FEAT_KIND_HOST);
    EXPECT_STREQ(e->key.service, "linerate");
    e = sample(w, "linerate.host.tcp.srtt");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->delta, 1);
    EXPECT_EQ(e->sum_delta, 100);
    e = sample(w, "linerate.host.softirq.time{linerate.host.softirq.vector=net_rx}");
    ASSERT_NE(e, nullptr);
    EXPECT_DOUBLE_EQ(e->delta, 0.5);
    e = sample(w, "linerate.host.process.exits");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->delta, 0);
    free(w);
    // The maps were reset (counters went down): no sample for those series this time.
    a.s.counters[LR_BPF_C_EXEC] = 3;
    w = lr_cp_host_samples(p, &a.s, t0 + 4000000000ull, win);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(sample(w, "linerate.host.process.execs"), nullptr);
    EXPECT_NE(sample(w, "linerate.host.process.exits"), nullptr);
    free(w);
    w = lr_cp_host_samples(p, &a.s, t0 + 6000000000ull, win);
    ASSERT_NE(w, nullptr);
    ASSERT_NE(sample(w, "linerate.host.process.execs"), nullptr);
    EXPECT_EQ(sample(w, "linerate.host.process.execs")->delta, 0);
    EXPECT_EQ(lr_cp_host_prev_overflow(p), 0u);
    free(w);
    lr_cp_host_prev_free(p);

    // A table too small: series left out, counted.
    p = lr_cp_host_prev_new(3);
    ASSERT_NE(p, nullptr);
    w = lr_cp_host_samples(p, &a.s, t0, win);
    free(w);
    EXPECT_GT(lr_cp_host_prev_overflow(p), 0u);
    lr_cp_host_prev_free(p);
}

} // namespace
