// Tests control/adapt.c: the adaptive sampling controller's step function (table-driven: a
// sequence of ticks, each with what it sees and the rate it must produce), the scale published
// to the workers, and the glue (tick timing, publishing, a configured rate that changes).
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "../../../control/adapt.h"
}

namespace
{

struct Tick {
    uint64_t queue, spool, spool_max;
    double want; // the rate after this tick
};

struct Case {
    const char *name;
    uint64_t queue_threshold;
    uint32_t spool_pct;
    double floor_pct;
    double p;     // the configured percentage
    double start; // the rate before the first tick
    std::vector<Tick> ticks;
};

// Thresholds of the table unless a case says otherwise: queue 1000 records (half: 500), spool
// 50 % of 1000 bytes (500 bytes; half: 250).
const uint64_t M = 1000; // spool.max_bytes in the table

const Case cases[] = {
    { "queue above the threshold: x0.9 per tick",
      1000,
      50,
      1,
      100,
      100,
      { { 1001, 0, M, 90 }, { 5000, 0, M, 81 }, { 1001, 0, M, 72.9 } } },
    { "queue at the threshold exactly is not above it: hold",
      1000,
      50,
      1,
      100,
      80,
      { { 1000, 0, M, 80 } } },
    { "hysteresis: between half and the threshold the rate holds",
      1000,
      50,
      1,
      100,
      50,
      { { 500, 0, M, 50 }, { 700, 0, M, 50 }, { 999, 0, M, 50 }, { 1000, 0, M, 50 } } },
    { "recovery by x1.1 only below half the threshold",
      1000,
      50,
      1,
      100,
      50,
      { { 499, 0, M, 55 }, { 500, 0, M, 55 }, { 0, 0, M, 60.5 }, { 750, 0, M, 60.5 } } },
    { "never above the configured rate",
      1000,
      50,
      1,
      100,
      95,
      { { 0, 0, M, 100 }, { 0, 0, M, 100 }, { 0, 0, 0, 100 } } },
    { "at the configured rate under no pressure: stays",
      1000,
      50,
      1,
      30,
      30,
      { { 0, 0, M, 30 }, { 499, 249, M, 30 } } },
    { "floor: the rate never falls below floor_percentage",
      1000,
      50,
      50,
      100,
      100,
      { { 2000, 0, M, 90 },
        { 2000, 0, M, 81 },
        { 2000, 0, M, 72.9 },
        { 2000, 0, M, 65.61 },
        { 2000, 0, M, 59.049 },
        { 2000, 0, M, 53.1441 },
        { 2000, 0, M, 50 },
        { 2000, 600, M, 50 },
        { 0, 0, M, 55 } } },
    { "spool above its threshold: x0.8 per tick",
      1000,
      50,
      1,
      100,
      100,
      { { 0, 501, M, 80 }, { 0, 1000, M, 64 } } },
    { "spool at its threshold exactly: hold; queue and spool both above: x0.8 wins",
      1000,
      50,
      1,
      100,
      100,
      { { 0, 500, M, 100 }, { 5000, 501, M, 80 }, { 5000, 500, M, 72 } } },
    { "spool between half and its threshold holds even with an empty queue",
      1000,
      50,
      1,
      100,
      50,
      { { 0, 250, M, 50 }, { 0, 400, M, 50 }, { 0, 249, M, 55 } } },
    { "spool_threshold_pct applies to spool.max_bytes",
      1000,
      10,
      1,
      100,
      100,
      { { 0, 101, M, 80 }, { 0, 100, M, 80 }, { 0, 50, M, 80 }, { 0, 49, M, 88 } } },
    { "no spool (spool_max 0): the spool bytes are ignored",
      1000,
      50,
      1,
      100,
      50,
      { { 0, 1u << 30, 0, 55 }, { 2000, 1u << 30, 0, 49.5 } } },
    { "configured rate below the floor: the configured rate, always",
      1000,
      50,
      1,
      0.5,
      0.5,
      { { 5000, 900, M, 0.5 }, { 0, 0, M, 0.5 } } },
    { "configured rate 0: stays 0", 1000, 50, 1, 0, 0, { { 5000, 900, M, 0 }, { 0, 0, M, 0 } } },
    { "a rate above the configured one is brought down to it (P lowered at run time)",
      1000,
      50,
      1,
      40,
      55,
      { { 700, 0, M, 40 } } },
    { "large numbers: a 4 TiB spool at 50 % and a queue of 2^40",
      1ull << 40,
      50,
      1,
      100,
      100,
      { { 1ull << 40, 2ull << 40, 4ull << 40, 100 },
        { (1ull << 40) + 1, 2ull << 40, 4ull << 40, 90 },
        { 0, (2ull << 40) + 1, 4ull << 40, 72 } } },
};

class Step : public ::testing::TestWithParam<size_t>
{
};

TEST_P(Step, Sequence)
{
    const Case &c = cases[GetParam()];
    lr_config cfg = {};
    cfg.adaptive.enabled = true;
    cfg.adaptive.kafka_queue_threshold = c.queue_threshold;
    cfg.adaptive.spool_threshold_pct = c.spool_pct;
    cfg.adaptive.floor_percentage = c.floor_pct;
    double r = c.start;
    for (size_t i = 0; i < c.ticks.size(); i++) {
        const Tick &t = c.ticks[i];
        lr_cp_adapt_in in = { t.queue, t.spool, t.spool_max };
        r = lr_cp_adapt_step(r, c.p, &in, &cfg);
        EXPECT_NEAR(r, t.want, 1e-9) << c.name << ": tick " << i << " (queue " << t.queue
                                     << ", spool " << t.spool << "/" << t.spool_max << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Table, Step, ::testing::Range<size_t>(0, sizeof(cases) / sizeof(*cases)));

// Under steady pressure from 100 % the rate reaches the floor and stays; without pressure it
// climbs back to exactly the configured rate (not a hair above or below).
TEST(Adapt, FallsToTheFloorAndRecoversExactly)
{
    lr_config cfg = {};
    cfg.adaptive.kafka_queue_threshold = 10000;
    cfg.adaptive.spool_threshold_pct = 50;
    cfg.adaptive.floor_percentage = 1;
    lr_cp_adapt_in busy = { 20000, 0, 0 }, idle = { 0, 0, 0 };
    double r = 100;
    int n = 0;
    while (r > 1 && n < 1000) {
        r = lr_cp_adapt_step(r, 100, &busy, &cfg);
        n++;
    }
    EXPECT_EQ(r, 1.0);
    EXPECT_EQ(n, 44); // 0.9^44 * 100 < 1 <= 0.9^43 * 100
    n = 0;
    while (r < 100 && n < 1000) {
        r = lr_cp_adapt_step(r, 100, &idle, &cfg);
        n++;
    }
    EXPECT_EQ(r, 100.0);
    EXPECT_EQ(n, 49); // 1.1^48 < 100 <= 1.1^49
}

TEST(Adapt, Scale)
{
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(100, 100), 1.0);
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(50, 100), 0.5);
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(1, 25), 0.04);
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(0, 0), 1.0); // P 0: nothing to scale
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(5, 0), 1.0);
    EXPECT_DOUBLE_EQ(lr_cp_adapt_scale(60, 50), 1.0); // never above 1
}

// The glue: one update per tick_ms, the scale and lowered flag it publishes, the adjustment
// counters, and a configured rate that changes at run time (PUT /sampling).
TEST(Adapt, Update)
{
    lr_config cfg = {};
    cfg.adaptive.enabled = true;
    cfg.adaptive.tick_ms = 100;
    cfg.adaptive.kafka_queue_threshold = 1000;
    cfg.adaptive.spool_threshold_pct = 50;
    cfg.adaptive.floor_percentage = 1;
    cfg.sampler.percentage = 100;
    const uint64_t ms = 1000000;
    lr_cp_adapt_in busy = { 2000, 0, 0 }, idle = { 0, 0, 0 };

    lr_cp_adapt a;
    lr_cp_adapt_init(&a, &cfg, nullptr); // no workers: P from the configuration
    EXPECT_EQ(a.rate_pct, 100.0);
    EXPECT_EQ(a.scale, 1.0);
    EXPECT_FALSE(a.lowered);
    EXPECT_EQ(lr_cp_adapt_wait_ms(&a, 5 * ms), 0); // the first tick is due at once

    EXPECT_TRUE(lr_cp_adapt_update(&a, 100, &busy, 1000 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 90.0);
    EXPECT_DOUBLE_EQ(a.scale, 0.9);
    EXPECT_TRUE(a.lowered);
    EXPECT_EQ(a.adjustments_down, 1u);
    EXPECT_EQ(a.last.queue_records, 2000u);
    EXPECT_EQ(lr_cp_adapt_wait_ms(&a, 1000 * ms), 100);
    EXPECT_EQ(lr_cp_adapt_wait_ms(&a, 1060 * ms), 40);
    EXPECT_EQ(lr_cp_adapt_wait_ms(&a, 1099 * ms + 1), 1);

    // Before tick_ms has passed: nothing moves.
    EXPECT_FALSE(lr_cp_adapt_update(&a, 100, &busy, 1099 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 90.0);
    EXPECT_EQ(a.ticks, 1u);
    EXPECT_TRUE(lr_cp_adapt_update(&a, 100, &idle, 1100 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 99.0);
    EXPECT_EQ(a.adjustments_up, 1u);
    EXPECT_TRUE(lr_cp_adapt_update(&a, 100, &idle, 1200 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 100.0);
    EXPECT_DOUBLE_EQ(a.scale, 1.0);
    EXPECT_FALSE(a.lowered);
    EXPECT_EQ(a.adjustments_up, 2u);
    // At P with no pressure: not an adjustment.
    EXPECT_TRUE(lr_cp_adapt_update(&a, 100, &idle, 1300 * ms));
    EXPECT_EQ(a.adjustments_up, 2u);
    EXPECT_EQ(a.ticks, 4u);

    // P falls to 40 while the rate is not lowered: followed at once.
    EXPECT_TRUE(lr_cp_adapt_update(&a, 40, &idle, 1400 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 40.0);
    EXPECT_DOUBLE_EQ(a.scale, 1.0);
    // ... and rises to 80: followed at once too.
    EXPECT_TRUE(lr_cp_adapt_update(&a, 80, &idle, 1500 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 80.0);
    EXPECT_EQ(a.adjustments_up, 2u); // a new P is not the controller's adjustment

    // Lowered to 72; P rises to 100: the rate stays lowered and climbs from there.
    EXPECT_TRUE(lr_cp_adapt_update(&a, 80, &busy, 1600 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 72.0);
    EXPECT_DOUBLE_EQ(a.scale, 0.9);
    EXPECT_TRUE(lr_cp_adapt_update(&a, 100, &idle, 1700 * ms));
    EXPECT_NEAR(a.rate_pct, 79.2, 1e-9);
    EXPECT_NEAR(a.scale, 0.792, 1e-12);
    EXPECT_TRUE(a.lowered);
    // Lowered to 79.2; P falls to 50 while Kafka is behind: capped at 50, then x0.9.
    EXPECT_TRUE(lr_cp_adapt_update(&a, 50, &busy, 1800 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 45.0);
    EXPECT_TRUE(a.lowered);
    EXPECT_TRUE(lr_cp_adapt_update(&a, 30, &idle, 1900 * ms));
    EXPECT_DOUBLE_EQ(a.rate_pct, 30.0);
    EXPECT_DOUBLE_EQ(a.scale, 1.0);
    EXPECT_FALSE(a.lowered);
}

TEST(Adapt, Metrics)
{
    lr_config cfg = {};
    cfg.adaptive.tick_ms = 100;
    cfg.adaptive.kafka_queue_threshold = 1000;
    cfg.adaptive.floor_percentage = 1;
    cfg.sampler.percentage = 50;
    lr_cp_adapt a;
    lr_cp_adapt_init(&a, &cfg, nullptr);
    lr_cp_adapt_in busy = { 2000, 0, 0 };
    for (int i = 0; i < 3; i++)
        lr_cp_adapt_update(&a, 50, &busy, (uint64_t)(i + 1) * 1000000000u);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_NE(f, nullptr);
    lr_cp_adapt_metrics_write(&a, true, a.rate_pct, f);
    fclose(f);
    std::string s(buf, len);
    free(buf);
    EXPECT_NE(s.find("# TYPE linerate_sampling_rate_percent gauge\n"
                     "linerate_sampling_rate_percent 36.45\n"),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("\nlinerate_sampling_adaptive_lowered 1\n"), std::string::npos) << s;
    EXPECT_NE(s.find("# TYPE linerate_sampling_adaptive_adjustments_total counter\n"
                     "linerate_sampling_adaptive_adjustments_total{direction=\"down\"} 3\n"
                     "linerate_sampling_adaptive_adjustments_total{direction=\"up\"} 0\n"),
              std::string::npos)
        << s;

    // Head sampling off and no controller: nothing at all.
    buf = NULL;
    f = open_memstream(&buf, &len);
    ASSERT_NE(f, nullptr);
    lr_cp_adapt_metrics_write(NULL, false, 100, f);
    fclose(f);
    EXPECT_EQ(len, 0u);
    free(buf);
}

} // namespace
