/* The detector's arithmetic, one feature stream and one series at a time, shared by the CPU
 * reference (gpu/anom.c) and the CUDA kernel (gpu/anom_cuda.cu) so both run the identical
 * algorithm: the same statements in the same order. Compiled as C11 and as CUDA C++; both sides
 * turn off floating-point contraction (gcc -ffp-contract=off, nvcc -fmad=false) so that the only
 * differences left are the last-bit ones of expf/logf/erfcf/sqrtf between glibc and CUDA's libm.
 *
 * Per feature, two timescales: steps 1 to 5 below run on every value (the tick timescale) and,
 * with a state of their own, on the mean of every COARSE values (the coarse timescale); the
 * feature's score is the larger of the two (step 6). Fixed size, 1 032 bytes per feature (per
 * timescale 124 bytes of scalars, 32 block means, 32 autocorrelations and a 32-bin profile); no
 * per-series allocation. Per timescale:
 *   1. Robust level and scale: an EWMA of the value and an EWMA of its absolute deviation from
 *      that level (1/n averaging until n reaches W_LONG ticks, then 1/W_LONG). Updates are
 *      clipped at CLIP deviations, so one outlier moves the level little while a lasting shift
 *      is followed within a few dozen ticks (the deviation grows geometrically under clipping).
 *   2. Raw surprise r in [0, 1): the largest of the point deviation |x - level| / scale, the
 *      step |x - previous x| / its typical size, the short-term level's deviation (level
 *      shifts; the short level learns values clipped at CLIP_S deviations, so a lone spike does
 *      not hold it up) and the short-term scale's ratio to the long-term one (variance
 *      changes), squashed by r = 1 - exp(-(z / Z_SCALE)^2).
 *   2b. Seasonal profile on a period found online: means of BLK values go into a ring of NLAG;
 *      each block updates the autocorrelations of their deviations at lags 0..NLAG-1 blocks, and
 *      the first lag that is a clear peak (above ACF_BAR, ACF_DIP above a shorter lag) found
 *      PER_STABLE blocks in a row is adopted as the period (BLK * LAG_MIN to about
 *      BLK * (NLAG - 2) values: 32 to about 490, whatever a tick is). An NBIN-bin phase profile
 * over that period starts from the ring and learns each period's values; a phase-locked loop on the
 * period's fundamental keeps phase and period in step with the series. Once the profile has learnt
 *      SEAS_MIN periods and its residual scale is below SEAS_GAIN of the level's deviation, its
 *      residual replaces the level in the point and level-shift terms: a cycle whose peak is
 *      missing or lower is surprising inside the range the cycle covers. Noise finds no period;
 *      a period that the profile does not explain is never used.
 *   3. Anomaly likelihood (Numenta's step, Ahmad et al. 2017): a short EWMA of r (W_RSHORT)
 *      against the long-run mean and variance of that same average (W_RLONG); the Gaussian tail
 *      probability Q becomes the score -ln(Q + 1e-10) / ln(1e10), in [0, 1] (0.5: Q = 1e-5).
 *   4. Spatial check (after Numenta's NAB detector): a value beyond the whole range seen so far
 *      by more than max(SPATIAL of that range, min(SPATIAL_Z deviations, SPATIAL_ZD typical
 *      steps)) scores 1, once the feature has SPATIAL_WARMUP values. The floor and the warm-up
 *      keep records in stationary noise from being flagged (both floors are about 2.4 sigma on
 *      white noise); the step floor keeps the margin at the noise's size on series whose level
 *      moves between regimes (cycles, on/off loads), where the deviation is far larger.
 *      Before SPATIAL_WARMUP values (from WARMUP on) the margin is at least GROSS times the
 *      range seen and GROSS_REL times the level: only a gross record counts while records of
 *      noise are common.
 *   5. Flat check: once the feature has SPATIAL_WARMUP values, it scores 1 while the share of
 *      still steps (|step| within the scale floor) over the last W_FLAT ticks is above FLAT and
 *      its long-run share (W_LONG) is below FLAT_P: a series that nearly always moves has
 *      stopped. Sparse series (error counts, repeated values) are exempt by the second test.
 *   6. Two timescales: the coarse timescale's score (steps 1 to 5 on the means of COARSE
 *      values) holds until its next value, and the feature scores the larger of it and the tick
 *      score. Means have sqrt(COARSE) times less noise while a lasting shift or a drift keeps its
 *      size, so a change that the per-tick noise hides shows there; its period search reaches
 *      COARSE times longer periods (up to 3 840 values).
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
#ifndef LR_ANOM_GROSS
#define LR_ANOM_GROSS 2.0f /* widths of the range seen: the spatial check's margin in warm-up */
#endif
#ifndef LR_ANOM_GROSS_REL
#define LR_ANOM_GROSS_REL 1.0f /* ... and times the level */
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
#ifndef LR_ANOM_BLK
#define LR_ANOM_BLK 16 /* ticks per block mean (period search) */
#endif
#ifndef LR_ANOM_NLAG
#define LR_ANOM_NLAG 32 /* block means kept: lags up to NLAG - 2 blocks are searched */
#endif
#ifndef LR_ANOM_NBIN
#define LR_ANOM_NBIN 32 /* bins of the phase profile over one period */
#endif
#ifndef LR_ANOM_LAG_MIN
#define LR_ANOM_LAG_MIN 2 /* blocks: the shortest period searched */
#endif
#ifndef LR_ANOM_W_ACF
#define LR_ANOM_W_ACF 64.0f /* blocks: the autocorrelation's averaging window */
#endif
#ifndef LR_ANOM_ACF_MIN
#define LR_ANOM_ACF_MIN 32.0f /* blocks averaged before a period is searched */
#endif
#ifndef LR_ANOM_SEAS_MIN
#define LR_ANOM_SEAS_MIN 2.0f /* periods a profile learns before it is used */
#endif
#ifndef LR_ANOM_ACF_BAR
#define LR_ANOM_ACF_BAR 0.6f /* normalised autocorrelation a period must reach */
#endif
#ifndef LR_ANOM_ACF_DIP
#define LR_ANOM_ACF_DIP 0.4f /* ... above the lowest one at a shorter lag */
#endif
#ifndef LR_ANOM_PER_STABLE
#define LR_ANOM_PER_STABLE 16.0f /* blocks the same period must be found before it is adopted */
#endif
#ifndef LR_ANOM_PLL_P
#define LR_ANOM_PLL_P 0.5f /* share of the phase error corrected per period */
#endif
#ifndef LR_ANOM_PLL_F
#define LR_ANOM_PLL_F 0.5f /* share of the last period's phase drift corrected in the period */
#endif
#ifndef LR_ANOM_PLL_I
#define LR_ANOM_PLL_I 0.1f /* share of the phase error corrected in the period */
#endif
#ifndef LR_ANOM_PER_STEP
#define LR_ANOM_PER_STEP 0.02f /* largest relative period correction per period */
#endif
#ifndef LR_ANOM_SEAS_GAIN
#define LR_ANOM_SEAS_GAIN 0.3f /* residual scale / level deviation below which a profile counts */
#endif
#ifndef LR_ANOM_W_SRES
#define LR_ANOM_W_SRES 2048.0f /* ticks: the profile's residual scale */
#endif
#ifndef LR_ANOM_SEAS_ALPHA
#define LR_ANOM_SEAS_ALPHA 0.25f /* weight of a new cycle in the profile */
#endif
#ifndef LR_ANOM_COARSE
#define LR_ANOM_COARSE 8.0f /* values averaged into one value of the coarse timescale */
#endif
#ifndef LR_ANOM_THRESHOLD
#define LR_ANOM_THRESHOLD 0.45f /* score at which a series opens */
#endif
#ifndef LR_ANOM_REST
#define LR_ANOM_REST 30 /* ticks a series stays open after its last tick >= THRESHOLD */
#endif

struct lr_anom_fscal {
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
    float bsum;    /* sum of this block's values so far */
    int32_t bn;    /* values in this block so far */
    int32_t head;  /* ring slot of the next block mean */
    float nb;      /* block means seen (saturates at NLAG + W_ACF) */
    float per;     /* adopted period in ticks (0: none) */
    float ph;      /* phase of the next value in the period, [0, 1) */
    float cand;    /* period found by the last block (0: none) */
    float cand_n;  /* blocks in a row that found about the same period */
    float pn;      /* values since the period was adopted (saturates at W_RLONG) */
    float sres;    /* EWMA of |value - profile| since then */
    float eres_s;  /* short EWMA of value - profile (clipped) */
    float zr, zi;  /* complex amplitude of the period's fundamental, this period so far */
    float psi;     /* its angle over the last period, in periods */
    float psi_ref; /* ... over the first whole period */
    float pcyc;    /* periods begun since the period was adopted (saturates at 2) */
    float slew;    /* phase correction spread over this period */
};

/* The scalars are copied into registers each step; the arrays are read and written in place. */
struct lr_anom_tstate {
    struct lr_anom_fscal k;
    float ring[LR_ANOM_NLAG]; /* the last NLAG block means less the level then, oldest first out */
    float acf[LR_ANOM_NLAG];  /* EWMA of (mean - level)(mean k blocks before - level), k = 0.. */
    float prof[LR_ANOM_NBIN]; /* the profile over the adopted period */
};

/* One feature: the two timescales. */
struct lr_anom_fstate {
    struct lr_anom_tstate tick;   /* fed every value */
    struct lr_anom_tstate coarse; /* fed the mean of every COARSE values */
    float csum;                   /* sum of the values of the coarse value being made */
    float cn;                     /* ... and their number */
    float cscore;                 /* the coarse timescale's last score, held until its next */
    float pad;
};

struct lr_anom_sstate {
    int32_t rest_left; /* > 0 while open */
    int32_t pad;
};

/* cos and sin of 2 pi p, p in [0, 1), and the angle of (x, y) in turns, in (-0.5, 0.5]: with
 * polynomials (errors below 4e-6 and 1e-6 turns) made of + and * only, so that the CPU and the GPU
 * (no FMA contraction on either) compute the same bits, unlike cosf/sinf/atan2f. */
LR_ANOM_FN void lr_anom_cossin_turn(float p, float *c, float *s)
{
    float q4 = p * 4.0f;
    int q = (int)q4;
    float a = (q4 - (float)q) * 1.57079633f; /* [0, pi/2) */
    float a2 = a * a;
    float sa =
        a * (1.0f + a2 * (-1.0f / 6.0f +
                          a2 * (1.0f / 120.0f + a2 * (-1.0f / 5040.0f + a2 * (1.0f / 362880.0f)))));
    float ca =
        1.0f + a2 * (-0.5f + a2 * (1.0f / 24.0f +
                                   a2 * (-1.0f / 720.0f +
                                         a2 * (1.0f / 40320.0f + a2 * (-1.0f / 3628800.0f)))));
    q = q & 3;
    *c = q == 0 ? ca : (q == 1 ? -sa : (q == 2 ? -ca : sa));
    *s = q == 0 ? sa : (q == 1 ? ca : (q == 2 ? -sa : -ca));
}

LR_ANOM_FN float lr_anom_angle_turn(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y);
    float mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    if (mx == 0.0f)
        return 0.0f;
    float t = mn / mx;
    float t2 = t * t;
    /* atan on [0, 1], in turns (Hastings' polynomial, error about 1e-5 rad) */
    float r = t *
              (0.99997726f +
               t2 * (-0.33262347f +
                     t2 * (0.19354346f +
                           t2 * (-0.11643287f + t2 * (0.05265332f + t2 * (-0.01172120f)))))) *
              0.159154943f;
    if (ay > ax)
        r = 0.25f - r;
    if (x < 0.0f)
        r = 0.5f - r;
    return y < 0.0f ? -r : r;
}

/* v clipped to [-lim, lim] (lim >= 0). */
LR_ANOM_FN float lr_anom_clip(float v, float lim)
{
    return v > lim ? lim : (v < -lim ? -lim : v);
}

/* A new period's start: the profile's short error and the phase-locked loop's state. */
LR_ANOM_FN void lr_anom_loop_reset(struct lr_anom_fscal *s)
{
    s->eres_s = 0.0f;
    s->zr = 0.0f;
    s->zi = 0.0f;
    s->psi = 0.0f;
    s->psi_ref = 0.0f;
    s->pcyc = 0.0f;
    s->slew = 0.0f;
}

/* One timescale's step: updates *st with x (not NaN) and returns its score; *lo, *hi get the
 * range expected for x before this step. */
LR_ANOM_FN float lr_anom_tstep(struct lr_anom_tstate *st, float x, float *lo, float *hi)
{
    struct lr_anom_fscal s = st->k;
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
        s.bsum = x;
        s.bn = 1;
        s.head = 0;
        s.nb = 0.0f;
        s.per = 0.0f;
        s.ph = 0.0f;
        s.cand = 0.0f;
        s.cand_n = 0.0f;
        s.pn = 0.0f;
        s.sres = 0.0f;
        lr_anom_loop_reset(&s);
        *lo = x;
        *hi = x;
        st->k = s;
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
    /* Seasonal profile, once a period has been adopted (below): the value expected at this
     * phase, interpolated between the two nearest bins. Once the profile has learnt SEAS_MIN
     * periods and its residual scale is below SEAS_GAIN of the level's deviation (the cycle
     * explains most of the spread), the residual replaces the level in the point and level-shift
     * terms: a cycle whose peak is missing or lower is surprising inside the range it covers. */
    int b0 = 0, b1 = 0;
    float fb = 0.0f, e = 0.0f, et = 0.0f, sr = 0.0f;
    if (s.per > 0.0f) {
        float u = s.ph * (float)LR_ANOM_NBIN;
        b0 = (int)u;
        if (b0 >= LR_ANOM_NBIN)
            b0 = LR_ANOM_NBIN - 1;
        fb = u - (float)b0;
        b1 = b0 + 1 == LR_ANOM_NBIN ? 0 : b0 + 1;
        float p0 = st->prof[b0], p1 = st->prof[b1];
        e = x - (p0 + fb * (p1 - p0));
        /* Scored: the distance to the range of the two bins and one more either side (the
         * profile's own resolution), so that a sharp edge or a one-value spike narrower than a
         * bin is not an error; the profile learns the interpolated error e. */
        float plo = p0 < p1 ? p0 : p1, phi = p0 < p1 ? p1 : p0;
        float pa = st->prof[b0 == 0 ? LR_ANOM_NBIN - 1 : b0 - 1];
        float pb = st->prof[b1 + 1 == LR_ANOM_NBIN ? 0 : b1 + 1];
        plo = pa < plo ? pa : plo;
        phi = pa > phi ? pa : phi;
        plo = pb < plo ? pb : plo;
        phi = pb > phi ? pb : phi;
        et = x > phi ? x - phi : (x < plo ? x - plo : 0.0f);
        sr = s.sres + floor;
        if (s.pn >= LR_ANOM_SEAS_MIN * s.per && s.sres < LR_ANOM_SEAS_GAIN * sc) {
            float lim_e = LR_ANOM_CLIP_S * sr;
            float es = s.eres_s + a_s * (lr_anom_clip(et, lim_e) - s.eres_s);
            z_point = fabsf(et) / sr;
            z_level = fabsf(es) / sr;
        }
    }
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
        /* Before SPATIAL_WARMUP values, records of noise are common, so only a gross one
         * counts: beyond the range seen by GROSS times its width and by GROSS_REL times the
         * level (a value that more than doubles; a young series' drop is left to the
         * likelihood). A young series' step (a new service whose latency jumps tenfold in its
         * first minutes) is otherwise left to the likelihood, whose baseline the series' own
         * start-up has widened. */
        if (s.n < LR_ANOM_SPATIAL_WARMUP) {
            float g = (s.hi - s.lo) * LR_ANOM_GROSS;
            float gl = LR_ANOM_GROSS_REL * fabsf(s.level);
            g = gl > g ? gl : g;
            tol = g > tol ? g : tol;
        }
        if (x > s.hi + tol || x < s.lo - tol)
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

    /* The profile learns each period's value (a SEAS_ALPHA step per period, spread over the
     * ticks that fall in a bin), clipped at CLIP_S residual deviations. */
    if (s.per > 0.0f) {
        float pn = s.pn + 1.0f;
        float a_e = 1.0f / (pn + 1.0f < LR_ANOM_W_SRES ? pn + 1.0f : LR_ANOM_W_SRES);
        float ae = fabsf(e);
        float lim_e = LR_ANOM_CLIP * sc; /* the level's clip: regular misfits count */
        s.sres = s.sres + a_e * ((ae > lim_e ? lim_e : ae) - s.sres);
        float lim_es = LR_ANOM_CLIP_S * sr;
        s.eres_s = s.eres_s + a_s * (lr_anom_clip(et, lim_es) - s.eres_s);
        float ee = lr_anom_clip(e, lim_es);
        float a_p = LR_ANOM_SEAS_ALPHA * (float)LR_ANOM_NBIN / s.per;
        if (a_p > LR_ANOM_SEAS_ALPHA)
            a_p = LR_ANOM_SEAS_ALPHA;
        st->prof[b0] = st->prof[b0] + a_p * (1.0f - fb) * ee;
        st->prof[b1] = st->prof[b1] + a_p * fb * ee;
        /* Phase and period tracking (a phase-locked loop on the period's fundamental): the
         * complex amplitude of the clipped value's deviation times e^(-2 pi i phase), summed
         * over each period, has an angle that stays put while the phase follows the series. At
         * the end of each period, its angle against the first period's (ep) and against the last
         * one's (dp), in periods, move the phase by PLL_P ep and the period by a factor
         * 1 - PLL_F dp - PLL_I ep (at most PER_STEP): the period found from block means is off
         * by a tick or so, and a drifting phase would smear the profile. */
        float cth, sth;
        lr_anom_cossin_turn(s.ph, &cth, &sth);
        float dv = xs - s.level;
        s.zr = s.zr + dv * cth;
        s.zi = s.zi - dv * sth;
        s.pn = pn < LR_ANOM_W_RLONG ? pn : LR_ANOM_W_RLONG;
        s.ph = s.ph + (1.0f + s.slew) / s.per;
        if (s.ph >= 1.0f) {
            s.ph = s.ph - 1.0f;
            float psi = lr_anom_angle_turn(s.zi, s.zr);
            if (s.pcyc >= 2.0f) {
                float ep = psi - s.psi_ref;
                ep = ep > 0.5f ? ep - 1.0f : (ep < -0.5f ? ep + 1.0f : ep);
                float dp = psi - s.psi;
                dp = dp > 0.5f ? dp - 1.0f : (dp < -0.5f ? dp + 1.0f : dp);
                float dd = lr_anom_clip(LR_ANOM_PLL_F * dp + LR_ANOM_PLL_I * ep, LR_ANOM_PER_STEP);
                s.per = s.per * (1.0f - dd);
                if (s.per < (float)(LR_ANOM_LAG_MIN * LR_ANOM_BLK))
                    s.per = (float)(LR_ANOM_LAG_MIN * LR_ANOM_BLK);
                if (s.per > (float)(LR_ANOM_NLAG * LR_ANOM_BLK))
                    s.per = (float)(LR_ANOM_NLAG * LR_ANOM_BLK);
                if (!(s.per >= 1.0f))
                    s.per = 0.0f; /* not a number: no period */
                /* The phase correction is spread over the next period (it runs PLL_P ep faster). */
                s.slew = LR_ANOM_PLL_P * ep;
                psi = psi - LR_ANOM_PLL_P * ep; /* the angle the next period has if in step */
            } else if (s.pcyc >= 1.0f) {
                s.psi_ref = psi;
            }
            s.psi = psi;
            s.pcyc = s.pcyc + (s.pcyc < 2.0f ? 1.0f : 0.0f);
            s.zr = 0.0f;
            s.zi = 0.0f;
        }
    }

    /* Period search on block means of BLK values: every block, the autocorrelation of the block
     * means' deviations from the long level at lags 0..NLAG-1 blocks (EWMA over W_ACF blocks);
     * the period is the first lag whose normalised autocorrelation is a local peak above
     * ACF_BAR, ACF_DIP above the lowest one at a shorter lag (a cycle, not a slow drift), refined
     * between blocks by a parabola. Found alike STABLE blocks in a row, it is adopted and its
     * profile starts from the block means of the last period. Bounded loops over fixed arrays,
     * once per BLK values. */
    s.bsum = s.bsum + x;
    s.bn = s.bn + 1;
    if (s.bn >= LR_ANOM_BLK) {
        float m = s.bsum * (1.0f / (float)LR_ANOM_BLK);
        s.bsum = 0.0f;
        s.bn = 0;
        int h = s.head;
        st->ring[h] = m - s.level;
        s.head = h + 1 == LR_ANOM_NLAG ? 0 : h + 1;
        float nb = s.nb + 1.0f;
        s.nb = nb < (float)LR_ANOM_NLAG + LR_ANOM_W_ACF ? nb : (float)LR_ANOM_NLAG + LR_ANOM_W_ACF;
        if (nb >= (float)LR_ANOM_NLAG) {
            float na = nb - (float)LR_ANOM_NLAG + 1.0f;
            float a_c = 1.0f / (na < LR_ANOM_W_ACF ? na : LR_ANOM_W_ACF);
            float d0 = st->ring[h];
            int j = h;
            for (int k = 0; k < LR_ANOM_NLAG; k++) {
                st->acf[k] = st->acf[k] + a_c * (d0 * st->ring[j] - st->acf[k]);
                j = j == 0 ? LR_ANOM_NLAG - 1 : j - 1;
            }
            float est = 0.0f;
            float c0 = st->acf[0];
            if (c0 > 0.0f && na >= LR_ANOM_ACF_MIN) {
                float inv = 1.0f / c0;
                float rmin = 1.0f;
                float rp = st->acf[LR_ANOM_LAG_MIN - 1] * inv;
                for (int k = LR_ANOM_LAG_MIN; k < LR_ANOM_NLAG - 1; k++) {
                    float r = st->acf[k] * inv;
                    float rn = st->acf[k + 1] * inv;
                    if (rp < rmin)
                        rmin = rp;
                    if (est == 0.0f && r > LR_ANOM_ACF_BAR && r >= rp && r > rn &&
                        r - rmin > LR_ANOM_ACF_DIP) {
                        float den = rp - 2.0f * r + rn;
                        float dl = lr_anom_clip(den < 0.0f ? 0.5f * (rp - rn) / den : 0.0f, 0.5f);
                        est = ((float)k + dl) * (float)LR_ANOM_BLK;
                    }
                    rp = r;
                }
            }
            if (est > 0.0f && s.cand > 0.0f && fabsf(est - s.cand) <= 0.1f * s.cand)
                s.cand_n = s.cand_n + 1.0f;
            else
                s.cand_n = est > 0.0f ? 1.0f : 0.0f;
            s.cand = est;
            if (est > 0.0f && s.cand_n >= LR_ANOM_PER_STABLE &&
                (s.per == 0.0f || fabsf(est - s.per) > 0.1f * s.per) &&
                !(s.per > 0.0f && s.pn >= LR_ANOM_SEAS_MIN * s.per &&
                  s.sres < LR_ANOM_SEAS_GAIN * sc)) {
                /* Adopt, within the bounds the phase-locked loop keeps (the parabola can put the
                 * estimate below the shortest lag): this value is phase 0; bin i's last
                 * occurrence was per (1 - i/NBIN) values ago, read from the block means (block c
                 * ago is centred (BLK-1)/2 + c BLK values ago). */
                if (est < (float)(LR_ANOM_LAG_MIN * LR_ANOM_BLK))
                    est = (float)(LR_ANOM_LAG_MIN * LR_ANOM_BLK);
                s.per = est;
                s.ph = 1.0f / est;
                s.pn = 0.0f;
                s.sres = s.scale;
                lr_anom_loop_reset(&s);
                for (int i = 0; i < LR_ANOM_NBIN; i++) {
                    float age = est * (1.0f - (float)i / (float)LR_ANOM_NBIN);
                    float u = (age - 0.5f * (float)(LR_ANOM_BLK - 1)) / (float)LR_ANOM_BLK;
                    if (u < 0.0f)
                        u = 0.0f;
                    int c = (int)u;
                    if (c > LR_ANOM_NLAG - 2)
                        c = LR_ANOM_NLAG - 2;
                    float fr = u - (float)c;
                    if (fr > 1.0f)
                        fr = 1.0f;
                    int i0 = h - c < 0 ? h - c + LR_ANOM_NLAG : h - c;
                    int i1 = i0 == 0 ? LR_ANOM_NLAG - 1 : i0 - 1;
                    st->prof[i] = s.level + st->ring[i0] + fr * (st->ring[i1] - st->ring[i0]);
                }
            }
        }
    }
    float dr = r_s - s.r_mean;
    s.r_mean = s.r_mean + a_r * dr;
    s.r_var = (1.0f - a_r) * (s.r_var + a_r * dr * dr);
    s.r_s = r_s;
    s.n = n < LR_ANOM_W_RLONG ? n : LR_ANOM_W_RLONG;
    st->k = s;
    return score;
}

/* One feature's step: the tick timescale on x, and every COARSE values the same step on their
 * mean (the coarse timescale); the score is the larger of the tick score and the coarse one, which
 * holds until the next coarse value. A slow drift or a lasting small shift that the per-tick noise
 * hides stands out among the means, whose noise is sqrt(COARSE) times smaller while the shift is
 * not; the coarse timescale's period search also reaches COARSE times longer periods. *lo, *hi are
 * the tick timescale's. */
LR_ANOM_FN float lr_anom_feature_step(struct lr_anom_fstate *st, float x, float *lo, float *hi)
{
    float score = lr_anom_tstep(&st->tick, x, lo, hi);
    st->csum += x;
    st->cn += 1.0f;
    if (st->cn >= LR_ANOM_COARSE) {
        float clo, chi;
        st->cscore = lr_anom_tstep(&st->coarse, st->csum * (1.0f / LR_ANOM_COARSE), &clo, &chi);
        st->csum = 0.0f;
        st->cn = 0.0f;
    }
    return st->cscore > score ? st->cscore : score;
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
        /* Beyond +-1e18 (and +-Inf) a value is clamped: the products and sums of the period
         * search and the coarse means then stay finite, so no state turns Inf or NaN for good. */
        x = x > 1e18f ? 1e18f : (x < -1e18f ? -1e18f : x);
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
