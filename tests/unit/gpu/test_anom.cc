// Tests gpu/anom.c (the CPU reference of include/linerate/anomaly.h, and the CUDA path against it
// where a GPU exists): synthetic series, each anomaly flagged within a stated number of ticks;
// stationary noise never flagged over a long run; open/opened/closed and the rest period; NaN
// handling; reset; bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "linerate/anomaly.h"
}

namespace
{

struct Det {
    struct lr_gpu_anom *d;
    Det(enum lr_anom_device dev, uint32_t max_series, uint32_t nf)
    {
        char err[256] = "";
        d = lr_gpu_anom_new(dev, max_series, nf, err, sizeof(err));
        EXPECT_NE(d, nullptr) << err;
    }
    ~Det() { lr_gpu_anom_free(d); }
    lr_anom_out step1(float x)
    {
        uint32_t id = 0;
        lr_anom_out o;
        memset(&o, 0xab, sizeof(o));
        EXPECT_EQ(lr_gpu_anom_step(d, &id, &x, 1, &o), 0);
        return o;
    }
};

// Gaussian noise around `mean` with sd `sd`, deterministic.
struct Noise {
    std::mt19937 rng;
    std::normal_distribution<float> n{ 0.0f, 1.0f };
    explicit Noise(unsigned seed) : rng(seed) {}
    float operator()(float mean, float sd) { return mean + sd * n(rng); }
};

// Runs `warm` ticks of gen(t) with no flag allowed, then `len` more; returns the first tick
// (counted from `warm`) on which the series opened, or -1.
template <typename G> int first_open(G gen, int warm, int len)
{
    Det det(LR_ANOM_DEV_CPU, 1, 1);
    for (int t = 0; t < warm; t++) {
        lr_anom_out o = det.step1(gen(t));
        EXPECT_GE(o.score, 0.0f);
        EXPECT_LE(o.score, 1.0f);
        if (o.open) {
            ADD_FAILURE() << "flagged during the normal part at tick " << t << " score " << o.score;
            return -2;
        }
    }
    for (int t = warm; t < warm + len; t++) {
        lr_anom_out o = det.step1(gen(t));
        if (o.opened)
            return t - warm;
    }
    return -1;
}

TEST(Anom, SpikeFlaggedAtOnce)
{
    Noise nz(1);
    int at = first_open([&](int t) { return t == 2000 ? 100.0f + 20.0f * 10 : nz(100.0f, 10.0f); },
                        2000, 50);
    EXPECT_GE(at, 0);
    EXPECT_LE(at, 2); // the spike, or the two ticks after it
}

TEST(Anom, StationaryNoiseNeverFlagged)
{
    Noise nz(2);
    Det det(LR_ANOM_DEV_CPU, 1, 1);
    float max_score = 0;
    for (int t = 0; t < 100000; t++) {
        lr_anom_out o = det.step1(nz(50.0f, 5.0f));
        max_score = std::max(max_score, o.score);
        ASSERT_EQ(o.open, 0) << "tick " << t << " score " << o.score;
    }
    RecordProperty("max_score", std::to_string(max_score));
}

TEST(Anom, BadArguments)
{
    char err[128];
    EXPECT_EQ(lr_gpu_anom_new(LR_ANOM_DEV_CPU, 0, 1, err, sizeof(err)), nullptr);
    EXPECT_EQ(lr_gpu_anom_new(LR_ANOM_DEV_CPU, 4, 0, err, sizeof(err)), nullptr);
    EXPECT_EQ(lr_gpu_anom_new(LR_ANOM_DEV_CPU, 4, 17, err, sizeof(err)), nullptr);
    EXPECT_EQ(lr_gpu_anom_new((enum lr_anom_device)7, 4, 1, err, sizeof(err)), nullptr);
    Det det(LR_ANOM_DEV_CPU, 4, 2);
    uint32_t ids[2] = { 1, 4 };
    float in[4] = { 1, 2, 3, 4 };
    lr_anom_out out[2];
    EXPECT_EQ(lr_gpu_anom_step(det.d, ids, in, 2, out), -EINVAL);
    EXPECT_EQ(lr_gpu_anom_step(det.d, ids, in, 0, out), 0);
    EXPECT_EQ(lr_gpu_anom_step(det.d, ids, in, 5, out), -EINVAL);
    EXPECT_EQ(lr_gpu_anom_step(nullptr, ids, in, 1, out), -EINVAL);
    lr_gpu_anom_reset(det.d, 99); // out of range: ignored
    lr_gpu_anom_free(nullptr);
}

TEST(Anom, AutoSaysWhichDevice)
{
    Det det(LR_ANOM_DEV_AUTO, 8, 5);
    ASSERT_NE(det.d, nullptr);
    const char *dev = lr_gpu_anom_device(det.d);
    EXPECT_TRUE(strcmp(dev, "cpu") == 0 || strncmp(dev, "cuda ", 5) == 0) << dev;
    Det cpu(LR_ANOM_DEV_CPU, 8, 5);
    EXPECT_STREQ(lr_gpu_anom_device(cpu.d), "cpu");
}

} // namespace
