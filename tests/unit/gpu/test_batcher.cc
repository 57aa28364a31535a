// gpu/batcher.c with the real detector (CPU reference), driven without its thread through
// tests/unit/gpu/batcher_harness.c: when a window is scored (every worker in, or the wait over),
// late and early windows, the series bound, launches of at most batch_max_size, idle series, and
// an anomaly's life: opened within a few windows, published for the workers, listed as JSON,
// written as a linerate.anomaly log record, closed again.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "unit/gpu/batcher_harness.h"

namespace
{

const uint64_t WIN = 100000000ull; // 100 ms windows
const uint64_t W0 = 1000;          // the batcher starts scoring at W0 - 1

// One series' window: `count` spans lasting about lat_ms (+-10 %), `errors` of them failed.
lr_feat_entry entry(const std::string &svc, const std::string &op, uint32_t count, uint32_t errors,
                    double lat_ms, std::mt19937_64 &rng)
{
    lr_feat_table t;
    lr_gpu_feat_table_init(&t, 1);
    std::uniform_real_distribution<double> jit(0.9, 1.1);
    lr_slice s = lr_slice_make(svc.data(), svc.size()), o = lr_slice_make(op.data(), op.size());
    for (uint32_t i = 0; i < count; i++)
        lr_gpu_feat_add(&t, lr_gpu_feat_hash(s, o, 2), s, o, 2, (uint64_t)(lat_ms * jit(rng) * 1e6),
                        i < errors);
    lr_feat_entry e = t.e[0];
    lr_gpu_feat_table_fini(&t);
    return e;
}

struct harness {
    bh *h;
    explicit harness(bh_opts o) : h(bh_new(&o, W0 * WIN + 1)) {}
    ~harness() { bh_free(h); }
    uint64_t stat(const char *n) { return bh_stat(h, n); }
};

bh_opts opts(uint32_t workers = 1)
{
    return bh_opts{ workers, 64, 100, 50, 300, 65536, 0 };
}

// One host series' sample: `rate` per second over `elapsed_s`, and for a histogram the mean.
lr_feat_host_entry host_entry(const std::string &name, double rate, double elapsed_s,
                              double mean = NAN)
{
    lr_feat_host_entry e;
    memset(&e, 0, sizeof(e));
    lr_gpu_feat_host_key(&e.key, name.c_str());
    e.delta = rate * elapsed_s;
    e.sum_delta = std::isnan(mean) ? NAN : mean * e.delta;
    e.elapsed_s = elapsed_s;
    return e;
}

TEST(Batcher, ScoresOnceEveryWorkerHandedTheWindowOver)
{
    harness b(opts(2));
    ASSERT_NE(b.h, nullptr);
    EXPECT_EQ(bh_poll(b.h, W0 * WIN + 2), W0 * WIN + 50000000ull); // window W0-1 due then
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 3);
    EXPECT_EQ(b.stat("ticks"), 0u);
    ASSERT_TRUE(bh_push(b.h, 1, W0 - 1, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 4);
    EXPECT_EQ(b.stat("ticks"), 1u);
}

TEST(Batcher, ScoresWhenTheWaitIsOver)
{
    harness b(opts(2));
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, nullptr, 0, 0));
    uint64_t due = W0 * WIN + 50000000ull;
    bh_poll(b.h, due - 1);
    EXPECT_EQ(b.stat("ticks"), 0u);
    EXPECT_EQ(bh_poll(b.h, due), due + WIN); // scored; the next one is due a window later
    EXPECT_EQ(b.stat("ticks"), 1u);
    // Worker 1's share comes late: counted when it holds something, then dropped.
    std::mt19937_64 rng(1);
    lr_feat_entry e = entry("svc", "op", 10, 0, 5, rng);
    ASSERT_TRUE(bh_push(b.h, 1, W0 - 1, nullptr, 0, 0));
    ASSERT_TRUE(bh_push(b.h, 1, W0 - 1, &e, 1, 0));
    bh_poll(b.h, due + 1);
    EXPECT_EQ(b.stat("late_windows"), 1u);
    EXPECT_EQ(b.stat("series"), 0u);
}

// A window two ahead of the one being filled: the batcher fell behind and scores what it has.
TEST(Batcher, CatchesUpWhenBehind)
{
    harness b(opts(1));
    std::mt19937_64 rng(1);
    lr_feat_entry e = entry("svc", "op", 10, 0, 5, rng);
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 2, &e, 1, 7));
    bh_poll(b.h, W0 * WIN + 5);
    // W0 - 1 and W0 scored to make room; the only worker is past W0 + 1 (it hands windows over
    // in order), so W0 + 1 and W0 + 2 are complete too.
    EXPECT_EQ(b.stat("ticks"), 4u);
    EXPECT_EQ(b.stat("worker_overflow"), 7u);
    EXPECT_EQ(b.stat("series"), 1u);
    EXPECT_EQ(b.stat("rows"), 1u);
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 3, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 6);
    EXPECT_EQ(b.stat("ticks"), 5u);
    EXPECT_EQ(b.stat("rows"), 2u);
}

TEST(Batcher, SeriesBoundAndLaunchSize)
{
    bh_opts o = opts(1);
    o.max_series = 5;
    o.batch_max = 2;
    harness b(o);
    std::mt19937_64 rng(1);
    std::vector<lr_feat_entry> es;
    for (int i = 0; i < 7; i++)
        es.push_back(entry("svc" + std::to_string(i), "op", 10, 0, 5, rng));
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, es.data(), (uint32_t)es.size(), 0));
    bh_poll(b.h, W0 * WIN + 5);
    EXPECT_EQ(b.stat("ticks"), 1u);
    EXPECT_EQ(b.stat("series"), 5u);
    EXPECT_EQ(b.stat("overflow_series"), 2u);
    EXPECT_EQ(b.stat("launches"), 3u); // 2 + 2 + 1
    EXPECT_EQ(b.stat("rows"), 5u);
    // The next window without spans: every series with a slot still gets a row (count 0).
    ASSERT_TRUE(bh_push(b.h, 0, W0, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 6);
    EXPECT_EQ(b.stat("rows"), 10u);
}

TEST(Batcher, IdleSeriesAreForgotten)
{
    bh_opts o = opts(1);
    o.idle_windows = 5;
    harness b(o);
    std::mt19937_64 rng(1);
    lr_feat_entry e = entry("svc", "op", 10, 0, 5, rng);
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, &e, 1, 0));
    for (uint64_t w = W0; w < W0 + 5; w++)
        ASSERT_TRUE(bh_push(b.h, 0, w, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 5);
    EXPECT_EQ(b.stat("ticks"), 6u);
    EXPECT_EQ(b.stat("evicted"), 1u);
    EXPECT_EQ(b.stat("series"), 0u);
    // Scored in W0 - 1 and in the 5 windows without spans (count 0), then forgotten.
    EXPECT_EQ(b.stat("rows"), 6u);
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 5, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 6);
    EXPECT_EQ(b.stat("rows"), 6u);
}

struct record {
    std::string resource_service, scope;
    std::map<std::string, std::string> attrs;
};

// The event records the batcher wrote since the last call (decoded by the harness).
std::vector<record> events(bh *h)
{
    std::vector<record> out;
    char *text = bh_events(h);
    EXPECT_NE(text, nullptr);
    if (!text)
        return out;
    std::string all(text);
    bh_bytes_free(text);
    size_t pos = 0;
    while (pos < all.size()) {
        size_t nl = all.find('\n', pos);
        std::string line = all.substr(pos, nl - pos);
        pos = nl + 1;
        EXPECT_NE(line, "BAD");
        record r;
        size_t f = 0, i = 0;
        while (f <= line.size()) {
            size_t t = line.find('\t', f);
            if (t == std::string::npos)
                t = line.size();
            std::string field = line.substr(f, t - f);
            if (i == 0)
                r.resource_service = field;
            else if (i == 1)
                r.scope = field;
            else
                r.attrs[field.substr(0, field.find('='))] = field.substr(field.find('=') + 1);
            i++;
            f = t + 1;
        }
        EXPECT_EQ(r.scope, "linerate.anomaly");
        out.push_back(r);
    }
    return out;
}

// Two series, one window each 100 ms; after a steady stretch (400 windows: past the detector's
// 300-value warm-up of its range check) svc-a's latency rises
// tenfold and 30 % of its spans fail. It opens within 3 windows (svc-b never does), is published
// and listed, and closes once it is back to normal.
TEST(Batcher, AnomalyOpensIsPublishedAndCloses)
{
    harness b(opts(1));
    std::mt19937_64 rng(11);
    std::normal_distribution<double> jitter(0, 3);
    uint64_t w = W0 - 1, t = W0 * WIN + 1;
    auto window = [&](double a_lat, uint32_t a_err) {
        lr_feat_entry e[2] = {
            entry("svc-a", "GET /api", (uint32_t)(100 + jitter(rng)), a_err, a_lat, rng),
            entry("svc-b", "GET /api", (uint32_t)(100 + jitter(rng)), 0, 30, rng),
        };
        EXPECT_TRUE(bh_push(b.h, 0, w, e, 2, 0));
        bh_poll(b.h, t);
        w++;
        t += WIN;
    };
    lr_feat_entry a = entry("svc-a", "GET /api", 1, 0, 20, rng);
    lr_feat_entry bb = entry("svc-b", "GET /api", 1, 0, 30, rng);
    for (int i = 0; i < 400; i++)
        window(20, 0);
    EXPECT_EQ(b.stat("ticks"), 400u);
    EXPECT_EQ(b.stat("opened"), 0u) << "steady traffic opened an anomaly";
    EXPECT_TRUE(events(b.h).empty());
    EXPECT_FALSE(lr_anom_snap_has(bh_snap(b.h), a.key.hash));

    int opened_after = -1;
    for (int i = 0; i < 3 && opened_after < 0; i++) {
        window(200, 30);
        if (b.stat("opened") > 0)
            opened_after = i + 1;
    }
    ASSERT_GT(opened_after, 0) << "not opened within 3 windows";
    EXPECT_EQ(b.stat("open"), 1u);
    const lr_anom_snap *s = bh_snap(b.h);
    EXPECT_TRUE(lr_anom_snap_has(s, a.key.hash));
    EXPECT_FALSE(lr_anom_snap_has(s, bb.key.hash));
    ASSERT_EQ(s->n, 1u);
    EXPECT_STREQ(s->open[0].key.service, "svc-a");
    char *json = bh_open_json(b.h);
    ASSERT_NE(json, nullptr);
    EXPECT_NE(strstr(json, "\"service\":\"svc-a\",\"operation\":\"GET /api\",\"span_kind\":"
                           "\"server\""),
              nullptr)
        << json;
    EXPECT_EQ(strstr(json, "svc-b"), nullptr) << json;
    bh_bytes_free(json);
    auto ev = events(b.h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].resource_service, "svc-a");
    EXPECT_EQ(ev[0].attrs.count("resource.host.name"), 0u) << "a span series' resource has a host";
    EXPECT_EQ(ev[0].attrs["event.name"], "linerate.anomaly");
    EXPECT_EQ(ev[0].attrs["service.name"], "svc-a");
    EXPECT_EQ(ev[0].attrs["operation"], "GET /api");
    EXPECT_EQ(ev[0].attrs["span.kind"], "server");
    EXPECT_EQ(ev[0].attrs["anomaly.state"], "opened");
    EXPECT_EQ(ev[0].attrs["anomaly.window_ms"], "100");
    for (const char *k : { "anomaly.feature", "anomaly.score", "anomaly.value",
                           "anomaly.expected_low", "anomaly.expected_high" })
        EXPECT_TRUE(ev[0].attrs.count(k)) << k;
    double score = std::stod(ev[0].attrs["anomaly.score"]);
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);

    // Back to normal: it closes (rest period included) within 200 windows.
    int closed_after = -1;
    for (int i = 0; i < 200 && closed_after < 0; i++) {
        window(20, 0);
        if (b.stat("closed") > 0)
            closed_after = i + 1;
    }
    ASSERT_GT(closed_after, 0) << "still open 200 windows after recovery";
    ev = events(b.h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].attrs["anomaly.state"], "closed");
    EXPECT_EQ(ev[0].attrs["service.name"], "svc-a");
    EXPECT_EQ(b.stat("open"), 0u);
    EXPECT_FALSE(lr_anom_snap_has(bh_snap(b.h), a.key.hash));
    EXPECT_EQ(b.stat("events_lost"), 0u);
    EXPECT_EQ(b.stat("step_errors"), 0u);
}

// The control thread is not a worker: a window is scored once the workers handed it over, with
// or without a host sample; a host read lands in its own window while that is being filled, and
// one that comes after its window was scored goes into the next (counted).
TEST(BatcherHost, HostReadsDoNotHoldWindowsBack)
{
    bh_opts o = opts(1);
    o.host_interval_ms = 1000;
    harness b(o);
    ASSERT_NE(b.h, nullptr);
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, nullptr, 0, 0));
    bh_poll(b.h, W0 * WIN + 2);
    EXPECT_EQ(b.stat("ticks"), 1u) << "waited for the host producer";
    lr_feat_host_entry e = host_entry("linerate.host.process.execs", 10, 1);
    ASSERT_TRUE(bh_push_host(b.h, W0, &e, 1));
    bh_poll(b.h, W0 * WIN + 3);
    EXPECT_EQ(b.stat("host_samples"), 1u);
    EXPECT_EQ(b.stat("ticks"), 1u);
    ASSERT_TRUE(bh_push(b.h, 0, W0, nullptr, 0, 0));
    bh_poll(b.h, (W0 + 1) * WIN + 2);
    EXPECT_EQ(b.stat("ticks"), 2u);
    EXPECT_EQ(b.stat("series"), 1u);
    EXPECT_EQ(b.stat("rows"), 1u);
    // A read for W0, scored already: into W0 + 1, counted.
    ASSERT_TRUE(bh_push_host(b.h, W0, &e, 1));
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 1, nullptr, 0, 0));
    bh_poll(b.h, (W0 + 2) * WIN + 2);
    EXPECT_EQ(b.stat("host_late"), 1u);
    EXPECT_EQ(b.stat("ticks"), 3u);
    EXPECT_EQ(b.stat("rows"), 2u);
    // A read two windows ahead waits on its ring; it never makes the batcher score early.
    ASSERT_TRUE(bh_push_host(b.h, W0 + 4, &e, 1));
    bh_poll(b.h, (W0 + 2) * WIN + 3);
    EXPECT_EQ(b.stat("ticks"), 3u);
    EXPECT_EQ(b.stat("host_samples"), 2u);
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 2, nullptr, 0, 0));
    ASSERT_TRUE(bh_push(b.h, 0, W0 + 3, nullptr, 0, 0));
    bh_poll(b.h, (W0 + 4) * WIN + 2);
    EXPECT_EQ(b.stat("ticks"), 5u);
    EXPECT_EQ(b.stat("host_samples"), 3u);
    EXPECT_EQ(b.stat("late_windows"), 0u);
}

// Host series take detector slots like span series: the bound counts them.
TEST(BatcherHost, HostSeriesCountAgainstTheSlots)
{
    bh_opts o = opts(1);
    o.max_series = 3;
    o.host_interval_ms = 100;
    harness b(o);
    std::mt19937_64 rng(1);
    lr_feat_entry sp[2] = { entry("svc-a", "op", 10, 0, 5, rng),
                            entry("svc-b", "op", 10, 0, 5, rng) };
    lr_feat_host_entry h[2] = { host_entry("linerate.host.process.execs", 10, 0.1),
                                host_entry("linerate.host.process.exits", 10, 0.1) };
    ASSERT_TRUE(bh_push(b.h, 0, W0 - 1, sp, 2, 0));
    ASSERT_TRUE(bh_push_host(b.h, W0 - 1, h, 2));
    bh_poll(b.h, W0 * WIN + 2);
    EXPECT_EQ(b.stat("series"), 3u);
    EXPECT_EQ(b.stat("overflow_series"), 1u);
}

// Host series steady, then one steps: its anomaly opens and is named as a host series with its
// host feature (rate_per_s or mean), in the event record and GET /anomalies; the snapshot lists
// it but its hash is not in the boost's index. Host reads every other window (host interval
// 200 ms, windows 100 ms): the windows between give all-NaN rows.
void host_step(bool mean_step)
{
    bh_opts o = opts(1);
    o.host_interval_ms = 200;
    harness b(o);
    ASSERT_NE(b.h, nullptr);
    std::mt19937_64 rng(5);
    std::normal_distribution<double> n01(0, 1);
    const std::string execs = "linerate.host.process.execs";
    const std::string runq = "linerate.host.sched.runqueue.latency{cpu.logical_number=0}";
    uint64_t w = W0 - 1, t = W0 * WIN + 1;
    auto window = [&](double execs_rate, double runq_mean) {
        lr_feat_entry e = entry("svc-a", "GET /api", (uint32_t)(100 + 3 * n01(rng)), 0, 20, rng);
        EXPECT_TRUE(bh_push(b.h, 0, w, &e, 1, 0));
        if (w % 2 == 0) {
            lr_feat_host_entry h[2] = {
                host_entry(execs, execs_rate * (1 + 0.05 * n01(rng)), 0.2),
                host_entry(runq, 2000 * (1 + 0.05 * n01(rng)), 0.2,
                           runq_mean * (1 + 0.05 * n01(rng))),
            };
            EXPECT_TRUE(bh_push_host(b.h, w, h, 2));
        }
        bh_poll(b.h, t);
        w++;
        t += WIN;
    };
    for (int i = 0; i < 800; i++)
        window(50, 40);
    EXPECT_EQ(b.stat("ticks"), 800u);
    EXPECT_EQ(b.stat("series"), 3u);
    EXPECT_EQ(b.stat("host_samples"), 800u);
    EXPECT_EQ(b.stat("opened"), 0u) << "steady host series opened an anomaly";
    EXPECT_TRUE(events(b.h).empty());

    int opened_after = -1;
    for (int i = 0; i < 8 && opened_after < 0; i++) {
        if (mean_step)
            window(50, 400);
        else
            window(500, 40);
        if (b.stat("opened") > 0)
            opened_after = i + 1;
    }
    ASSERT_GT(opened_after, 0) << "not opened within 4 host reads";
    const std::string &name = mean_step ? runq : execs;
    const char *feature = mean_step ? "mean" : "rate_per_s";
    auto ev = events(b.h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].resource_service, "linerate");
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    EXPECT_EQ(ev[0].attrs["resource.host.name"], host);
    EXPECT_EQ(ev[0].attrs["service.name"], "linerate");
    EXPECT_EQ(ev[0].attrs["operation"], name);
    EXPECT_EQ(ev[0].attrs["span.kind"], "host");
    EXPECT_EQ(ev[0].attrs["anomaly.state"], "opened");
    EXPECT_EQ(ev[0].attrs["anomaly.feature"], feature);
    double v = std::stod(ev[0].attrs["anomaly.value"]);
    if (mean_step)
        EXPECT_GT(v, 200);
    else
        EXPECT_GT(v, 250);
    const lr_anom_snap *s = bh_snap(b.h);
    ASSERT_EQ(s->n, 1u);
    EXPECT_STREQ(s->open[0].key.name, name.c_str());
    EXPECT_FALSE(lr_anom_snap_has(s, s->open[0].key.hash)) << "a host series in the boost's index";
    char *json = bh_open_json(b.h);
    ASSERT_NE(json, nullptr);
    std::string want = "\"service\":\"linerate\",\"operation\":\"" + name +
                       "\",\"span_kind\":\"host\",\"feature\":\"" + feature + "\"";
    EXPECT_NE(strstr(json, want.c_str()), nullptr) << json;
    EXPECT_EQ(strstr(json, "svc-a"), nullptr) << json;
    bh_bytes_free(json);
}

TEST(BatcherHost, CounterRateStepOpensAnAnomaly)
{
    host_step(false);
}

TEST(BatcherHost, HistogramMeanStepOpensAnAnomaly)
{
    host_step(true);
}

} // namespace
