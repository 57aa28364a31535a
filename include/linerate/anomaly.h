/* The C ABI of gpu/: the anomaly detector, one step per tick for every series at once.
 *
 * A series is one stream of feature vectors, for linerate (service.name, span name, span kind)
 * and, in bench/nab, one NAB data file. Each tick the caller hands the detector one row of
 * n_features floats per series that has data; the detector updates that series' state and
 * returns a score in [0, 1], whether the series is open (flagged, with a rest period), the
 * feature that drives the score and the range it expected for that feature.
 *
 * The CUDA implementation and the CPU reference run the identical algorithm with one fixed
 * parameter set for every series; the CPU reference is the fallback when no GPU is found.
 *
 * Thread: one lr_gpu_anom belongs to one thread (the anomaly batcher). */
#ifndef LINERATE_ANOMALY_H
#define LINERATE_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* linerate's features per (service, operation, kind) per window. */
enum lr_anom_feature {
    LR_ANOM_F_COUNT = 0, /* requests (spans) in the window */
    LR_ANOM_F_ERRORS,    /* spans with status ERROR in the window */
    LR_ANOM_F_P50_MS,    /* latency percentiles, milliseconds */
    LR_ANOM_F_P95_MS,
    LR_ANOM_F_P99_MS,
    LR_ANOM_N_FEATURES
};

/* A host-metric series' row (linerate/features.h) uses two of the slots; the rest are NaN. */
enum {
    LR_ANOM_F_HOST_RATE = 0, /* the counter's rate per second (histograms: observations) */
    LR_ANOM_F_HOST_MEAN = 1, /* histograms: the mean observation over the interval */
};

enum lr_anom_device {
    LR_ANOM_DEV_AUTO = 0, /* CUDA when the runtime finds a GPU, else the CPU reference */
    LR_ANOM_DEV_CPU,
    LR_ANOM_DEV_CUDA, /* fails to open without a GPU */
};

struct lr_anom_out {
    float score;       /* [0, 1] */
    uint8_t open;      /* 1 while the series is flagged (including its rest period) */
    uint8_t opened;    /* 1 on the tick the series became open */
    uint8_t closed;    /* 1 on the tick the series closed */
    uint8_t feature;   /* index of the feature behind the score */
    float value;       /* that feature's value this tick */
    float expected_lo; /* the range the detector expected for it */
    float expected_hi;
};

struct lr_gpu_anom; /* opaque */

/* Opens a detector for up to max_series series of n_features features each (1..16).
 * Returns owned (free with lr_gpu_anom_free), or NULL with errstr set. */
struct lr_gpu_anom *lr_gpu_anom_new(enum lr_anom_device dev, uint32_t max_series,
                                    uint32_t n_features, char *errstr, size_t errlen);

/* "cpu" or "cuda <device name>": what lr_gpu_anom_new chose. Borrowed. */
const char *lr_gpu_anom_device(const struct lr_gpu_anom *d);

/* One tick. Row i of `in` (n_features floats; NaN = no value this tick, that feature's state is
 * left as it was) belongs to series ids[i] (< max_series, each at most once per call). Writes
 * out[i] for every row. Series not in the call keep their state. Borrows every argument.
 * Returns 0, or -LR_E* / -errno (a CUDA error is reported, and the detector stays usable). */
int lr_gpu_anom_step(struct lr_gpu_anom *d, const uint32_t *ids, const float *in, size_t n,
                     struct lr_anom_out *out);

/* Forgets a series' state (its slot is given to a new series). */
void lr_gpu_anom_reset(struct lr_gpu_anom *d, uint32_t id);

void lr_gpu_anom_free(struct lr_gpu_anom *d); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
