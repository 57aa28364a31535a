/* The detector's arithmetic, one feature stream and one series at a time, shared by the CPU
 * reference (gpu/anom.c) and the CUDA kernel (gpu/anom_cuda.cu) so both run the identical
 * algorithm: the same statements in the same order. Compiled as C11 and as CUDA C++; both sides
 * turn off floating-point contraction (gcc -ffp-contract=off, nvcc -fmad=false) so that the only
 * differences left are the last-bit ones of expf/logf/erfcf/sqrtf between glibc and CUDA's libm.
 *
 * Per feature and timescale (fixed size, 56 bytes; no per-series allocation):
 *   1. Robust level and scale: an EWMA of the value and an EWMA of its absolute deviation from
 *      that level (1/n averaging until n reaches W_LONG ticks, then 1/W_LONG). Updates are
 *      clipped at CLIP deviations, so one outlier moves the level little while a lasting shift
 *      is followed within a few dozen ticks (the deviation grows geometrically under clipping).
 *   2. Raw surprise r in [0, 1): the largest of the point deviation |x - level| / scale, the
 *      step |x - previous x| / its typical size, the short-term level's deviation (level
 *      shifts; the short level learns values clipped at CLIP_S deviations, so a lone spike does
 *      not hold it up) and the short-term scale's ratio to the long-term one (variance
 *      changes), squashed by r = 1 - exp(-(z / Z_SCALE)^2).
 *   3. Anomaly likelihood (Numenta's step, Ahmad et al. 2017): a short EWMA of r (W_RSHORT)
 *      against the long-run mean and variance of that same average (W_RLONG); the Gaussian tail
 *      probability Q becomes the score -ln(Q + 1e-10) / ln(1e10), in [0, 1] (0.5: Q = 1e-5).
 *   4. Spatial check (after Numenta's NAB detector): a value beyond the whole range seen so far
 *      by more than max(SPATIAL of that range, min(SPATIAL_Z deviations, SPATIAL_ZD typical
 *      steps)) scores 1, once the feature has SPATIAL_WARMUP values. The floor and the warm-up
 *      keep records in stationary noise from being flagged (both floors are about 2.4 sigma on
 *      white noise); the step floor keeps the margin at the noise's size on series whose level
 *      moves between regimes (cycles, on/off loads), where the deviation is far larger.
 *   5. Flat check: once the feature has SPATIAL_WARMUP values, it scores 1 while the share of
 *      still steps (|step| within the scale floor) over the last W_FLAT ticks is above FLAT and
 *      its long-run share (W_LONG) is below FLAT_P: a series that nearly always moves has
 *      stopped. Sparse series (error counts, repeated values) are exempt by the second test.
 * Two timescales per feature (128 bytes in all): steps 1-5 on every value, and the same steps
 * on the mean of every BLOCK values (a second state, updated once per block); the feature's
 * score is the larger of the two, the block one held until the next block ends. Block means
 * have sqrt(BLOCK) times less noise while a lasting shift or a drift keeps its size, so changes
 * that the per-tick noise hides show at block resolution.
 * Per series: score = the largest feature score; the series opens when it reaches THRESHOLD and
 * closes REST ticks after the last tick at or above THRESHOLD.
 *
 * The parameters were chosen on NAB (bench/nab) under the constraint that stationary Gaussian
 * noise is never flagged (tests/unit/gpu/test_anom.cc); docs/anomaly.md has the numbers. The
 * #ifndef guards exist for experiments (bench/nab built with -D...); production uses these. */
#ifndef LR_GPU_ANOM_ALGO_H
#define LR_GPU_ANOM_ALGO_H

#include <stdint.h>

#include "linerate/anomaly.h"

#ifdef __CUDACC__
#define LR_ANOM_FN static __host__ __device__ inline
#else
#include <math.h>
#define LR_ANOM_FN static inline
#endif

/* The one parameter set, for every series. */
#ifndef LR_ANOM_W_LONG
#define LR_ANOM_W_LONG 512.0f /* ticks: long-term level, scale and step size */
#endif
#ifndef LR_ANOM_W_SHORT
#define LR_ANOM_W_SHORT 10.0f /* ticks: short-term level and scale */
#endif
#ifndef LR_ANOM_W_RLONG
#define LR_ANOM_W_RLONG 4096.0f /* ticks: long-run distribution of the averaged surprise */
#endif
#ifndef LR_ANOM_W_RSHORT
#define LR_ANOM_W_RSHORT 24.0f /* ticks: the likelihood's short average of the surprise */
#endif
#ifndef LR_ANOM_WARMUP
#define LR_ANOM_WARMUP 24.0f /* values before a feature can score above 0 */
#endif
#ifndef LR_ANOM_CLIP
#define LR_ANOM_CLIP 4.0f /* deviations: the largest step one value makes in the updates */
#endif
#ifndef LR_ANOM_Z_SCALE
#define LR_ANOM_Z_SCALE 8.0f /* deviations: squashes the raw surprise */
#endif
#ifndef LR_ANOM_K_LEVEL
#define LR_ANOM_K_LEVEL 4.0f /* weight of the short-term level's deviation */
#endif
#ifndef LR_ANOM_K_VAR
#define LR_ANOM_K_VAR 1.0f /* weight of the short-term scale's ratio */
#endif
#ifndef LR_ANOM_K_STEP
#define LR_ANOM_K_STEP 1.0f /* weight of the step since the previous value */
#endif
#ifndef LR_ANOM_R_SD_MIN
#define LR_ANOM_R_SD_MIN 0.04f /* floor of the averaged surprise's standard deviation */
#endif
#ifndef LR_ANOM_SPATIAL
#define LR_ANOM_SPATIAL 0.005f /* fraction of the range seen: margin of the spatial check */
#endif
#ifndef LR_ANOM_SPATIAL_Z
#define LR_ANOM_SPATIAL_Z 3.0f /* deviations: the spatial check's smallest margin */
#endif
#ifndef LR_ANOM_SPATIAL_ZD
#define LR_ANOM_SPATIAL_ZD 2.2f /* typical steps: the other smallest margin (the lesser counts) */
#endif
#ifndef LR_ANOM_SPATIAL_WARMUP
#define LR_ANOM_SPATIAL_WARMUP 300.0f /* values before the spatial and flat checks apply */
#endif
#ifndef LR_ANOM_CLIP_S
#define LR_ANOM_CLIP_S 6.0f /* deviations: the largest step one value makes in the short level */
#endif
#ifndef LR_ANOM_W_FLAT
#define LR_ANOM_W_FLAT 24.0f /* ticks: the short share of still steps (flat check) */
#endif
#ifndef LR_ANOM_FLAT
#define LR_ANOM_FLAT 0.9f /* short share of still steps above which a feature is flat */
#endif
#ifndef LR_ANOM_FLAT_P
#define LR_ANOM_FLAT_P 0.2f /* ... if its long-run share of still steps is below this */
#endif
#ifndef LR_ANOM_RANGE
#define LR_ANOM_RANGE 4.0f /* deviations either side of the level: the expected range */
#endif
#ifndef LR_ANOM_BLOCK
#define LR_ANOM_BLOCK 8.0f /* values per block of the block timescale */
#endif
#ifndef LR_ANOM_THRESHOLD
#define LR_ANOM_THRESHOLD 0.45f /* score at which a series opens */
#endif
#ifndef LR_ANOM_REST
#define LR_ANOM_REST 30 /* ticks a series stays open after its last tick >= THRESHOLD */
#endif

/* One timescale's state: the per-tick one, and the block one fed block means. */
struct lr_anom_tstate {
    float n;       /* values seen (saturates at W_RLONG) */
    float level;   /* long EWMA of the value */
    float scale;   /* long EWMA of |value - level| */
    float level_s; /* short EWMA of the value */
    float scale_s; /* short EWMA of |value - level| */
    float r_mean;  /* long-run mean of the averaged surprise */
    float r_var;   /* long-run variance of the averaged surprise */
    float r_s;     /* short average of the raw surprise */
    float lo;      /* smallest value seen */
    float hi;      /* largest value seen */
    float prev;    /* the previous value */
    float dscale;  /* long EWMA of |value - previous value| */
    float still_s; /* short EWMA of [step <= floor]: still steps */
    float still;   /* long EWMA of the same */
};

struct lr_anom_fstate {
    struct lr_anom_tstate tick;  /* fed every value */
    struct lr_anom_tstate block; /* fed the mean of every BLOCK values */
    float bsum;                  /* sum of the current block's values so far */
    float bn;                    /* values in the current block so far */
    float bscore;                /* the block timescale's score, held until the next block ends */
    float pad;
};

struct lr_anom_sstate {
    int32_t rest_left; /* > 0 while open */
    int32_t pad;
};

/* One timescale's step: updates *st with x (not NaN) and returns its score; *lo, *hi get the range
 * expected for x before this step. */
LR_ANOM_FN float lr_anom_tstep(struct lr_anom_tstate *st, float x, float *lo, float *hi)
{
    struct lr_anom_tstate s = *st;
    if (s.n < 1.0f) {
        s.n = 1.0f;
        s.level = x;
        s.scale = 0.0f;
        s.level_s = x;
        s.scale_s = 0.0f;
        s.r_mean = 0.0f;
        s.r_var = 0.0f;
        s.r_s = 0.0f;
        s.lo = x;
        s.hi = x;
        s.prev = x;
        s.dscale = 0.0f;
        s.still_s = 0.0f;
        s.still = 0.0f;
        *lo = x;
        *hi = x;
        *st = s;
        return 0.0f;
    }
    /* A scale floor relative to the level keeps flat series (constant values) from dividing by
     * zero while still calling their first change surprising. */
    float floor = 1e-3f * fabsf(s.level) + 1e-6f;
    float sc = s.scale + floor;
    *lo = s.level - LR_ANOM_RANGE * sc;
    *hi = s.level + LR_ANOM_RANGE * sc;

    float d = x - s.level;
    float ad = fabsf(d);
    float z_point = ad / sc;
    float a_s = 1.0f / LR_ANOM_W_SHORT;
    /* The short level and scale learn the value clipped at CLIP_S deviations: a lone spike
     * moves them by CLIP_S / W_SHORT deviations at most, not its full height (which held z_level
     * and z_var up for a dozen ticks after every spike), while a lasting shift or a wider spread
     * still moves them all the way. */
    float lim_s = LR_ANOM_CLIP_S * sc;
    float xs = d > lim_s ? s.level + lim_s : (d < -lim_s ? s.level - lim_s : x);
    float level_s = s.level_s + a_s * (xs - s.level_s);
    float scale_s = s.scale_s + a_s * ((ad > lim_s ? lim_s : ad) - s.scale_s);
    float z_level = fabsf(level_s - s.level) / sc;
    float z_var = scale_s / sc;
    float step = fabsf(x - s.prev);
    float z_step = step / (s.dscale + floor);
    float still = step <= floor ? 1.0f : 0.0f;
    float still_s = s.still_s + (1.0f / LR_ANOM_W_FLAT) * (still - s.still_s);
    float z = z_point;
    if (z_step * LR_ANOM_K_STEP > z)
        z = z_step * LR_ANOM_K_STEP;
    if (z_level * LR_ANOM_K_LEVEL > z)
        z = z_level * LR_ANOM_K_LEVEL;
    if (z_var * LR_ANOM_K_VAR > z)
        z = z_var * LR_ANOM_K_VAR;
    float zz = z / LR_ANOM_Z_SCALE;
    float r = 1.0f - expf(-zz * zz);

    /* Likelihood of the short average of r under its long-run distribution, before that
     * distribution learns this tick. */
    float a_rs = 1.0f / LR_ANOM_W_RSHORT;
    float r_s = s.r_s + a_rs * (r - s.r_s);
    float score = 0.0f;
    if (s.n >= LR_ANOM_WARMUP) {
        float sd = sqrtf(s.r_var);
        if (sd < LR_ANOM_R_SD_MIN)
            sd = LR_ANOM_R_SD_MIN;
        float zq = (r_s - s.r_mean) / sd;
        float q = 0.5f * erfcf(zq * 0.70710678f);
        score = -logf(q + 1e-10f) / 23.02585093f;
        if (score < 0.0f)
            score = 0.0f;
        if (score > 1.0f)
            score = 1.0f;
        float tol = (s.hi - s.lo) * LR_ANOM_SPATIAL;
        /* The floor in units of the typical step too: a series that moves between regimes
         * (daily cycles, on/off loads) has a level scale far above its noise, and a new record
         * of the regime's own noise is what the check is after. On white noise the step is
         * about 1.41 times the deviation, so both floors are about 2.4 sigma there. */
        float tz = LR_ANOM_SPATIAL_ZD * (s.dscale + floor);
        if (tz > LR_ANOM_SPATIAL_Z * sc)
            tz = LR_ANOM_SPATIAL_Z * sc;
        if (tol < tz)
            tol = tz;
        if (s.n >= LR_ANOM_SPATIAL_WARMUP && (x > s.hi + tol || x < s.lo - tol))
            score = 1.0f;
        /* Flat check: a feature that nearly always moves and has stopped (a stuck gauge, a
         * cycle that stalls). Sparse features (error counts, mostly equal values) have a high
         * long-run share of still steps and are exempt. */
        if (s.n >= LR_ANOM_SPATIAL_WARMUP && still_s > LR_ANOM_FLAT && s.still < LR_ANOM_FLAT_P)
            score = 1.0f;
    }
    if (x > s.hi)
        s.hi = x;
    if (x < s.lo)
        s.lo = x;

    /* Learn: 1/n averaging during warm-up, then fixed windows. Clipped level/scale updates. */
    float n = s.n + 1.0f;
    float a_l = 1.0f / (n < LR_ANOM_W_LONG ? n : LR_ANOM_W_LONG);
    float a_r = 1.0f / (n < LR_ANOM_W_RLONG ? n : LR_ANOM_W_RLONG);
    float lim = LR_ANOM_CLIP * sc;
    float dc = d > lim ? lim : (d < -lim ? -lim : d);
    s.level = s.level + a_l * dc;
    float adc = ad > lim ? lim : ad;
    s.scale = s.scale + a_l * (adc - s.scale);
    float lim_d = LR_ANOM_CLIP * (s.dscale + floor);
    s.dscale = s.dscale + a_l * ((step > lim_d ? lim_d : step) - s.dscale);
    s.prev = x;
    s.still_s = still_s;
    s.still = s.still + a_l * (still - s.still);
    s.level_s = level_s;
    s.scale_s = scale_s;
    float dr = r_s - s.r_mean;
    s.r_mean = s.r_mean + a_r * dr;
    s.r_var = (1.0f - a_r) * (s.r_var + a_r * dr * dr);
    s.r_s = r_s;
    s.n = n < LR_ANOM_W_RLONG ? n : LR_ANOM_W_RLONG;
    *st = s;
    return score;
}

/* One feature's step: the per-tick timescale on x, and every BLOCK values the same step on the
 * block's mean; the score is the larger of the tick score and the last block score. A slow drift
 * or a lasting small shift that the tick noise hides stands out among block means, whose noise is
 * sqrt(BLOCK) times smaller while the shift is not. *lo, *hi are the tick timescale's. */
LR_ANOM_FN float lr_anom_feature_step(struct lr_anom_fstate *st, float x, float *lo, float *hi)
{
    float score = lr_anom_tstep(&st->tick, x, lo, hi);
    st->bsum += x;
    st->bn += 1.0f;
    if (st->bn >= LR_ANOM_BLOCK) {
        float blo, bhi;
        st->bscore = lr_anom_tstep(&st->block, st->bsum * (1.0f / LR_ANOM_BLOCK), &blo, &bhi);
        st->bsum = 0.0f;
        st->bn = 0.0f;
    }
    return st->bscore > score ? st->bscore : score;
}

/* The open/rest state machine on a series' score: returns the new rest_left. Opens (rest_left
 * goes from 0 to > 0) when score >= threshold; closes REST ticks after the last such tick.
 * bench/nab replays it at other thresholds. */
LR_ANOM_FN int32_t lr_anom_open_step(int32_t rest_left, float score, float threshold)
{
    if (score >= threshold)
        return LR_ANOM_REST;
    return rest_left > 0 ? rest_left - 1 : 0;
}

/* One series' step: nf features from in (NaN = no value), writes *out. */
LR_ANOM_FN void lr_anom_series_step(struct lr_anom_sstate *ss, struct lr_anom_fstate *fs,
                                    uint32_t nf, const float *in, struct lr_anom_out *out)
{
    float best = -1.0f, bv = 0.0f, blo = 0.0f, bhi = 0.0f;
    uint32_t bf = 0;
    for (uint32_t f = 0; f < nf; f++) {
        float x = in[f];
        if (x != x)
            continue; /* NaN: this feature's state stays as it was */
        float lo, hi;
        float sc = lr_anom_feature_step(&fs[f], x, &lo, &hi);
        if (sc > best) {
            best = sc;
            bf = f;
            bv = x;
            blo = lo;
            bhi = hi;
        }
    }
    if (best < 0.0f) {
        /* No feature had a value: score 0, report feature 0 as NaN. */
        best = 0.0f;
        bv = in[0];
        blo = bv;
        bhi = bv;
    }
    int was_open = ss->rest_left > 0;
    int32_t rest = lr_anom_open_step(ss->rest_left, best, LR_ANOM_THRESHOLD);
    ss->rest_left = rest;
    out->score = best;
    out->open = rest > 0;
    out->opened = !was_open && rest > 0;
    out->closed = was_open && rest == 0;
    out->feature = (uint8_t)bf;
    out->value = bv;
    out->expected_lo = blo;
    out->expected_hi = bhi;
}

#endif
