// gpu/features.c: the latency histogram against a sorted reference, the per-window series table
// (bound, overflow, clearing), merging the workers' windows, names cut at UTF-8 boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "linerate/features.h"
}

namespace
{

lr_slice S(const std::string &s)
{
    return lr_slice_make(s.data(), s.size());
}

uint64_t H(const std::string &svc, const std::string &name, uint32_t kind)
{
    return lr_gpu_feat_hash(S(svc), S(name), kind);
}

int add(lr_feat_table *t, const std::string &svc, const std::string &name, uint32_t kind,
        uint64_t dur_ns, bool err = false)
{
    return lr_gpu_feat_add(t, H(svc, name, kind), S(svc), S(name), kind, dur_ns, err);
}

const lr_feat_entry *find(const lr_feat_table *t, const std::string &svc, const std::string &name,
                          uint32_t kind)
{
    lr_feat_table tmp;
    lr_gpu_feat_table_init(&tmp, 1);
    add(&tmp, svc, name, kind, 0);
    lr_feat_key k = tmp.e[0].key;
    lr_gpu_feat_table_fini(&tmp);
    return lr_gpu_feat_find(t, &k);
}

// Every value lands in a bucket whose range holds it; ranges tile the line without gaps.
TEST(FeatHist, BucketsHoldTheirValues)
{
    const uint64_t vals[] = {
        0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 1000, 1023, 1024, 1025, 65535, 1000000, (1u << 30) - 1
    };
    for (uint64_t v : vals) {
        uint32_t b = lr_feat_hist_bucket(v);
        ASSERT_LT(b, (uint32_t)LR_FEAT_HIST_BUCKETS) << v;
        double lo, hi;
        lr_gpu_hist_range(b, &lo, &hi);
        EXPECT_LE(lo, (double)v) << v;
        EXPECT_LT((double)v, hi) << v;
        // At most 1/8 of its lower bound wide (one integer below 8 us).
        if (v >= 8) {
            EXPECT_LE(hi - lo, lo / 8 + 1e-9) << v;
        }
    }
    for (uint32_t b = 0; b + 1 < LR_FEAT_HIST_BUCKETS; b++) {
        double lo, hi, lo2, hi2;
        lr_gpu_hist_range(b, &lo, &hi);
        lr_gpu_hist_range(b + 1, &lo2, &hi2);
        EXPECT_EQ(hi, lo2) << b;
    }
    // Beyond the top: the last bucket.
    EXPECT_EQ(lr_feat_hist_bucket(1ull << 40), (uint32_t)LR_FEAT_HIST_BUCKETS - 1);
    EXPECT_EQ(lr_feat_hist_bucket(1ull << 30), (uint32_t)LR_FEAT_HIST_BUCKETS - 1);
}

// Percentiles against the nearest-rank value of the sorted samples: within one bucket width
// (12.5 %), exact below 8 us.
TEST(FeatHist, QuantilesMatchSortedReference)
{
    std::mt19937_64 rng(7);
    struct dist {
        const char *name;
        std::function<double()> draw; // microseconds
    };
    std::lognormal_distribution<double> logn(std::log(20000.0), 0.6);
    std::uniform_real_distribution<double> uni(16000, 24000);
    std::uniform_int_distribution<int> tiny(0, 7);
    std::bernoulli_distribution coin(0.9);
    std::vector<dist> dists = {
        { "lognormal", [&] { return logn(rng); } },
        { "uniform", [&] { return uni(rng); } },
        { "bimodal", [&] { return coin(rng) ? 5000.0 + uni(rng) / 100 : 900000.0; } },
        { "tiny", [&] { return (double)tiny(rng); } },
    };
    for (const auto &d : dists)
        for (size_t n : { 1, 2, 5, 25, 100, 1000, 20000 }) {
            lr_feat_hist h = {};
            std::vector<uint64_t> v;
            for (size_t i = 0; i < n; i++) {
                uint64_t us = (uint64_t)d.draw();
                v.push_back(us);
                h.b[lr_feat_hist_bucket(us)]++;
            }
            std::sort(v.begin(), v.end());
            for (double q : { 0.5, 0.95, 0.99, 1.0 }) {
                size_t rank = (size_t)std::ceil(q * (double)n);
                rank = std::max<size_t>(1, std::min(rank, n));
                double exact_ms = (double)v[rank - 1] / 1000.0;
                double got = lr_gpu_hist_quantile_ms(&h, n, q);
                if (v[rank - 1] < 8) {
                    EXPECT_DOUBLE_EQ(got, exact_ms) << d.name << " n=" << n << " q=" << q;
                } else {
                    EXPECT_LE(std::fabs(got - exact_ms), exact_ms * 0.125 + 1e-9)
                        << d.name << " n=" << n << " q=" << q << " exact " << exact_ms;
                }
            }
        }
    lr_feat_hist empty = {};
    EXPECT_TRUE(std::isnan(lr_gpu_hist_quantile_ms(&empty, 0, 0.5)));
}

TEST(FeatTable, CountsPerSeries)
{
    lr_feat_table t;
    ASSERT_EQ(lr_gpu_feat_table_init(&t, 16), 0);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(add(&t, "checkout", "POST /pay", 2, 20000000, i % 5 == 0), 0);
    ASSERT_EQ(add(&t, "checkout", "POST /pay", 3, 1000000), 0); // another kind: another series
    ASSERT_EQ(add(&t, "cart", "POST /pay", 2, 1000000), 0);
    EXPECT_EQ(t.n, 3u);
    const lr_feat_entry *e = find(&t, "checkout", "POST /pay", 2);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->count, 10u);
    EXPECT_EQ(e->errors, 2u);
    EXPECT_STREQ(e->key.service, "checkout");
    EXPECT_STREQ(e->key.name, "POST /pay");
    EXPECT_EQ(e->key.kind, 2u);
    EXPECT_NEAR(lr_gpu_hist_quantile_ms(&e->lat, e->count, 0.5), 20.0, 20.0 * 0.125);
    EXPECT_EQ(find(&t, "checkout", "POST /pay", 3)->count, 1u);
    EXPECT_EQ(find(&t, "nope", "POST /pay", 2), nullptr);
    lr_gpu_feat_table_fini(&t);
}

// The bound: new series beyond max_series are not counted, their spans are; known series still
// count.
TEST(FeatTable, BoundAndOverflow)
{
    lr_feat_table t;
    ASSERT_EQ(lr_gpu_feat_table_init(&t, 4), 0);
    for (int s = 0; s < 6; s++)
        for (int i = 0; i < 3; i++) {
            int rc = add(&t, "svc" + std::to_string(s), "op", 2, 1000);
            EXPECT_EQ(rc, s < 4 ? 0 : -ENOSPC) << s;
        }
    EXPECT_EQ(t.n, 4u);
    EXPECT_EQ(t.overflow, 6u);
    EXPECT_EQ(add(&t, "svc0", "op", 2, 1000), 0);
    EXPECT_EQ(find(&t, "svc0", "op", 2)->count, 4u);
    lr_feat_window *w = lr_gpu_feat_take(&t, 3, 77);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->worker, 3u);
    EXPECT_EQ(w->window, 77u);
    EXPECT_EQ(w->n, 4u);
    EXPECT_EQ(w->overflow, 6u);
    free(w);
    // Taken: empty, overflow reset, room again.
    EXPECT_EQ(t.n, 0u);
    EXPECT_EQ(t.overflow, 0u);
    EXPECT_EQ(find(&t, "svc0", "op", 2), nullptr);
    EXPECT_EQ(add(&t, "svc5", "op", 2, 1000), 0);
    lr_gpu_feat_table_fini(&t);
}

// Clearing a crowded table (collision chains; either clearing path) leaves no stale slot.
TEST(FeatTable, ClearThenReuse)
{
    for (uint32_t cap : { 64u, 4096u }) {
        lr_feat_table t;
        ASSERT_EQ(lr_gpu_feat_table_init(&t, cap), 0);
        for (int round = 0; round < 5; round++) {
            int n = round % 2 ? 60 : 7;
            for (int s = 0; s < n; s++)
                ASSERT_EQ(add(&t, "svc", "op" + std::to_string(s * 7 + round), 1, 1000), 0);
            EXPECT_EQ(t.n, (uint32_t)n);
            for (int s = 0; s < n; s++)
                ASSERT_NE(find(&t, "svc", "op" + std::to_string(s * 7 + round), 1), nullptr);
            lr_gpu_feat_table_clear(&t);
            EXPECT_EQ(t.n, 0u);
            for (uint32_t i = 0; i <= t.mask; i++)
                ASSERT_EQ(t.index[i], 0u) << "cap " << cap << " round " << round;
        }
        lr_gpu_feat_table_fini(&t);
    }
}

// The batcher merges the workers' windows: the same as one table fed with every span.
TEST(FeatTable, MergeAcrossWorkers)
{
    const int W = 3;
    lr_feat_table w[W], all, merged;
    for (int i = 0; i < W; i++)
        ASSERT_EQ(lr_gpu_feat_table_init(&w[i], 64), 0);
    ASSERT_EQ(lr_gpu_feat_table_init(&all, 64), 0);
    ASSERT_EQ(lr_gpu_feat_table_init(&merged, 64), 0);
    std::mt19937 rng(3);
    for (int i = 0; i < 3000; i++) {
        std::string svc = "svc" + std::to_string(rng() % 5);
        std::string op = "op" + std::to_string(rng() % 4);
        uint32_t kind = 1 + rng() % 2;
        uint64_t dur = 1000 + rng() % 50000000;
        bool err = rng() % 10 == 0;
        ASSERT_EQ(add(&w[rng() % W], svc, op, kind, dur, err), 0);
        ASSERT_EQ(add(&all, svc, op, kind, dur, err), 0);
    }
    for (int i = 0; i < W; i++) {
        lr_feat_window *m = lr_gpu_feat_take(&w[i], (uint32_t)i, 5);
        ASSERT_NE(m, nullptr);
        for (uint32_t k = 0; k < m->n; k++)
            ASSERT_EQ(lr_gpu_feat_merge(&merged, &m->e[k]), 0);
        free(m);
    }
    ASSERT_EQ(merged.n, all.n);
    for (uint32_t k = 0; k < all.n; k++) {
        const lr_feat_entry *a = &all.e[k];
        const lr_feat_entry *m = lr_gpu_feat_find(&merged, &a->key);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(m->count, a->count);
        EXPECT_EQ(m->errors, a->errors);
        EXPECT_EQ(memcmp(&m->lat, &a->lat, sizeof(a->lat)), 0);
        for (double q : { 0.5, 0.95, 0.99 })
            EXPECT_EQ(lr_gpu_hist_quantile_ms(&m->lat, m->count, q),
                      lr_gpu_hist_quantile_ms(&a->lat, a->count, q));
    }
    // A merge into a full table counts the entry's spans as overflow.
    lr_feat_table one;
    ASSERT_EQ(lr_gpu_feat_table_init(&one, 1), 0);
    ASSERT_EQ(lr_gpu_feat_merge(&one, &all.e[0]), 0);
    EXPECT_EQ(lr_gpu_feat_merge(&one, &all.e[1]), -ENOSPC);
    EXPECT_EQ(one.overflow, all.e[1].count);
    lr_gpu_feat_table_fini(&one);
    for (int i = 0; i < W; i++)
        lr_gpu_feat_table_fini(&w[i]);
    lr_gpu_feat_table_fini(&all);
    lr_gpu_feat_table_fini(&merged);
}

// Long names are cut to LR_FEAT_NAME_MAX bytes at a UTF-8 boundary; two names sharing the kept
// prefix are still two series (the hash covers the whole name).
TEST(FeatTable, LongNamesCutAtUtf8Boundary)
{
    std::string base(95, 'a');
    std::string n1 = base + "\xc3\xa9" + "tail-one"; // 'é' straddles byte 96
    std::string n2 = base + "\xc3\xa9" + "tail-two";
    lr_feat_table t;
    ASSERT_EQ(lr_gpu_feat_table_init(&t, 8), 0);
    ASSERT_EQ(add(&t, "svc", n1, 2, 1000), 0);
    ASSERT_EQ(add(&t, "svc", n2, 2, 1000), 0);
    ASSERT_EQ(add(&t, "svc", n1, 2, 1000), 0);
    EXPECT_EQ(t.n, 2u);
    EXPECT_EQ(find(&t, "svc", n1, 2)->count, 2u);
    EXPECT_EQ(find(&t, "svc", n2, 2)->count, 1u);
    const lr_feat_key &k = find(&t, "svc", n1, 2)->key;
    EXPECT_EQ(k.name_len, n1.size());
    EXPECT_EQ(k.name_kept, 95u); // the two-byte character did not fit: cut before it
    EXPECT_EQ(std::string(k.name), base);
    lr_gpu_feat_table_fini(&t);
}

TEST(FeatHash, TwoStepsAndFields)
{
    std::string svc = "checkout", op = "GET /x";
    EXPECT_EQ(lr_feat_hash_end(lr_feat_hash_begin(S(svc)), S(op), 2), H(svc, op, 2));
    EXPECT_NE(H(svc, op, 2), H(svc, op, 3));
    EXPECT_NE(H("ab", "c", 2), H("a", "bc", 2)); // the separator
    EXPECT_NE(H(svc, op, 2), H(op, svc, 2));
}

} // namespace
