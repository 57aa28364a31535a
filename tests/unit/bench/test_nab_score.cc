// Tests bench/nab_score.c (NAB's scoring method) against a small case computed by hand.
//
// File A: 100 rows, so the probationary period is floor(0.15 * 100) = 15 rows. One window, rows
// [40, 49] (width 10). Detections at rows 10, 20, 42, 45, 58, 90:
//   row 10  in probation: ignored.
//   row 20  after probation, before any window: a false positive worth S = -1.
//   row 42  in the window: p = -(49 - 42 + 1) / 10 = -0.8, S(-0.8) = 2 / (1 + e^-4) - 1
//           = 0.964028; divided by S(-1) = 2 / (1 + e^-5) - 1 = 0.986614 gives 0.977107.
//   row 45  a second detection in the same window: ignored.
//   row 58  after the window: p = (58 - 49) / (10 - 1) = 1, S(1) = -0.986614.
//   row 90  p = 41 / 9 > 3: S = -1.
// File B: 200 rows, probation 30. Windows [10, 20] (wholly in probation: not scored) and
// [100, 119] (width 20, no detection inside: a false negative). Detection at 125: p = (125 - 119)
// / (20 - 1) = 6 / 19, S = 2 / (1 + e^(30/19)) - 1 = -0.658111.
// Corpus: tp = 0.977107 (one of two windows), fp = -1 - 0.986614 - 1 - 0.658111 = -3.644725.
//   standard (1, 0.11, 1):  raw = 0.977107 - 0.11 * 3.644725 - 1 = -0.423813
//   perfect: both windows detected at their first row, raw = 2; null: raw = -2
//   normalised = 100 * (-0.423813 + 2) / 4 = 39.4047
//   reward_low_FP_rate (fp 0.22): raw = -0.824733, normalised 100 * 1.175267 / 4 = 29.3817
//   reward_low_FN_rate (fn 2): raw = -1.423813, null -4, perfect 2: 100 * 2.576187 / 6 = 42.9365
#include <gtest/gtest.h>

#include <vector>

extern "C" {
#include "../../../bench/nab_score.h"
}

namespace
{

TEST(NabScore, Probation)
{
    EXPECT_EQ(lr_nab_probation(100), 15u);
    EXPECT_EQ(lr_nab_probation(4032), 604u);
    EXPECT_EQ(lr_nab_probation(22695), 750u); // capped at 0.15 * 5000
}

TEST(NabScore, ScaledSigmoid)
{
    EXPECT_NEAR(lr_nab_sigmoid(-1.0), 0.986614, 1e-6);
    EXPECT_NEAR(lr_nab_sigmoid(-0.5), 0.848284, 1e-6);
    EXPECT_NEAR(lr_nab_sigmoid(0.0), 0.0, 1e-12);
    EXPECT_NEAR(lr_nab_sigmoid(1.0), -0.986614, 1e-6);
    EXPECT_EQ(lr_nab_sigmoid(3.0), -1.0);
}

TEST(NabScore, HandComputedCorpus)
{
    std::vector<uint8_t> a(100, 0), b(200, 0);
    for (int i : { 10, 20, 42, 45, 58, 90 })
        a[i] = 1;
    b[125] = 1;
    size_t alo[] = { 40 }, ahi[] = { 49 };
    size_t blo[] = { 10, 100 }, bhi[] = { 20, 119 };
    lr_nab_file fa = { 100, 1, alo, ahi }, fb = { 200, 2, blo, bhi };

    lr_nab_parts parts = {};
    lr_nab_score_file(&fa, a.data(), &parts);
    EXPECT_NEAR(parts.tp, 0.977107, 1e-6);
    EXPECT_NEAR(parts.fp, -2.986614, 1e-6);
    EXPECT_EQ(parts.n_windows, 1u);
    EXPECT_EQ(parts.n_fp, 3u);
    lr_nab_score_file(&fb, b.data(), &parts);
    EXPECT_NEAR(parts.tp, 0.977107, 1e-6);
    EXPECT_NEAR(parts.fp, -3.644725, 1e-6);
    EXPECT_EQ(parts.n_windows, 2u);
    EXPECT_EQ(parts.n_tp, 1u);
    EXPECT_EQ(parts.n_fp, 4u);

    lr_nab_parts perfect = {};
    lr_nab_perfect_file(&fa, &perfect);
    lr_nab_perfect_file(&fb, &perfect);
    EXPECT_NEAR(perfect.tp, 2.0, 1e-12);
    EXPECT_EQ(perfect.n_windows, 2u);

    EXPECT_NEAR(lr_nab_raw(&parts, &lr_nab_profiles[0]), -0.423813, 1e-6);
    EXPECT_NEAR(lr_nab_normalised(&parts, &perfect, &lr_nab_profiles[0]), 39.4047, 1e-4);
    EXPECT_NEAR(lr_nab_raw(&parts, &lr_nab_profiles[1]), -0.824733, 1e-6);
    EXPECT_NEAR(lr_nab_normalised(&parts, &perfect, &lr_nab_profiles[1]), 29.3817, 1e-4);
    EXPECT_NEAR(lr_nab_raw(&parts, &lr_nab_profiles[2]), -1.423813, 1e-6);
    EXPECT_NEAR(lr_nab_normalised(&parts, &perfect, &lr_nab_profiles[2]), 42.9365, 1e-4);
}

TEST(NabScore, NullAndPerfectNormalise)
{
    size_t lo[] = { 40 }, hi[] = { 49 };
    lr_nab_file f = { 100, 1, lo, hi };
    std::vector<uint8_t> none(100, 0), first(100, 0), late(100, 0);
    first[40] = 1;
    late[49] = 1; // the window's last row: p = -1/10, S = 0.244919 / 0.986614 = 0.248242
    lr_nab_parts perfect = {}, p0 = {}, p1 = {}, p2 = {};
    lr_nab_perfect_file(&f, &perfect);
    lr_nab_score_file(&f, none.data(), &p0);
    lr_nab_score_file(&f, first.data(), &p1);
    lr_nab_score_file(&f, late.data(), &p2);
    for (const auto &c : lr_nab_profiles) {
        EXPECT_NEAR(lr_nab_normalised(&p0, &perfect, &c), 0.0, 1e-9) << c.name;
        EXPECT_NEAR(lr_nab_normalised(&p1, &perfect, &c), 100.0, 1e-9) << c.name;
    }
    EXPECT_NEAR(p2.tp, 0.248242, 1e-6);
}

} // namespace
