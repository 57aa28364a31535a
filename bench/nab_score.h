/* The Numenta Anomaly Benchmark's scoring, written from NAB's published description (Lavin and
 * Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark",
 * 2015, and NAB's README/wiki), for bench/nab and tests/unit/bench/test_nab_score.cc.
 *
 * Per data file of n rows:
 *   - the probationary period is the first min(floor(0.15 n), 0.15 * 5000) rows: detections
 *     there are ignored, and a window with no row after it is not scored;
 *   - inside an anomaly window [lo, hi] (row indices, inclusive, width w = hi - lo + 1), a
 *     detection at row i has relative position p = -(hi - i + 1) / w and is worth
 *     tp_weight * S(p) / S(-1), where S(p) = 2 / (1 + e^(5p)) - 1 (the scaled sigmoid, -1 for
 *     p >= 3); only the best (earliest) detection of a window counts;
 *   - a window without a detection costs fn_weight;
 *   - a detection outside every window is worth fp_weight * S(p) with p = (i - prev_hi) /
 *     (prev_w - 1) after a window (so false positives just after a window cost little), and
 *     fp_weight * -1 before the first window.
 * The corpus score is the sum over files; it is normalised as 100 (raw - null) / (perfect - null),
 * the null detector never detecting and the perfect one detecting every window's first scorable
 * row. Since the raw score is linear in the three weights, one pass yields the parts that every
 * profile combines. */
#ifndef LR_BENCH_NAB_SCORE_H
#define LR_BENCH_NAB_SCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lr_nab_file {
    size_t n_rows;
    size_t n_windows;
    const size_t *win_lo; /* [n_windows], sorted, disjoint, inclusive row indices */
    const size_t *win_hi;
};

/* A profile's cost matrix (NAB's config/profiles.json; tn_weight plays no part). */
struct lr_nab_cost {
    const char *name;
    double tp_weight, fp_weight, fn_weight;
};

/* The weight-free parts of a raw score. */
struct lr_nab_parts {
    double tp;        /* sum over detected windows of S(p) / S(-1) */
    double fp;        /* sum over false positives of S(p) (each in [-1, 0]) */
    size_t n_windows; /* scored windows */
    size_t n_tp;      /* scored windows with a detection */
    size_t n_fp;      /* detections outside every window, after probation */
};

/* NAB's three profiles: standard, reward_low_FP_rate, reward_low_FN_rate. */
extern const struct lr_nab_cost lr_nab_profiles[3];

size_t lr_nab_probation(size_t n_rows);
double lr_nab_sigmoid(double p);

/* Adds one file's parts to *acc. det[i] != 0: a detection at row i. Borrows everything. */
void lr_nab_score_file(const struct lr_nab_file *f, const uint8_t *det, struct lr_nab_parts *acc);

/* The raw score of parts under a cost matrix. */
double lr_nab_raw(const struct lr_nab_parts *p, const struct lr_nab_cost *c);

/* Parts of the perfect detector (a detection at every window's first row after probation). */
void lr_nab_perfect_file(const struct lr_nab_file *f, struct lr_nab_parts *acc);

/* 100 (raw - null) / (perfect - null) for the corpus behind null_parts (any detections' parts
 * only matter through n_windows: null detects nothing) and perfect. */
double lr_nab_normalised(const struct lr_nab_parts *p, const struct lr_nab_parts *perfect,
                         const struct lr_nab_cost *c);

#ifdef __cplusplus
}
#endif
#endif
