/* Anomaly features and what crosses threads around the detector (gpu/features.c, gpu/batcher.c).
 *
 * A series is one (service.name, span name, span kind). Per window each worker accumulates, per
 * series, the span count, the error count and a log-bucket latency histogram in its own table
 * (no locks, no allocation per span), then hands the window over to the batcher as one owned
 * message on its single-producer/single-consumer ring. The batcher merges the workers' windows,
 * runs the detector and publishes the open series as an immutable snapshot that the workers read
 * without locks (the sampling boost) and the admin endpoint lists (GET /anomalies): see
 * linerate/anomaly_rt.h. No C11 atomics here, so the gtest tests include it. */
#ifndef LINERATE_FEATURES_H
#define LINERATE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the latency histogram -------------------------------------------------------------------
 *
 * Microseconds. Values 0..7 have a bucket each; above, every power of two is cut into 8 equal
 * sub-buckets (an HDR-style log-linear layout, so the bucket is found with one clz), up to 2^30 us
 * (about 18 minutes; longer spans count there). A quantile is placed inside its bucket by its
 * rank among the bucket's values (linear interpolation, as Prometheus' histogram_quantile): within
 * one bucket width of the exact value, 1/8 (12.5 %) of it at most, exact below 8 us (integer
 * microseconds). Merging is adding. */
#define LR_FEAT_HIST_SUB 8
#define LR_FEAT_HIST_MAX_US (1ull << 30)
#define LR_FEAT_HIST_BUCKETS (LR_FEAT_HIST_SUB + (30 - 3) * LR_FEAT_HIST_SUB)

struct lr_feat_hist {
    uint32_t b[LR_FEAT_HIST_BUCKETS];
};

/* The bucket of a duration in microseconds. */
static inline uint32_t lr_feat_hist_bucket(uint64_t us)
{
    if (us < LR_FEAT_HIST_SUB)
        return (uint32_t)us;
    if (us >= LR_FEAT_HIST_MAX_US)
        return LR_FEAT_HIST_BUCKETS - 1;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(us); /* 3..29 */
    uint32_t sub = (uint32_t)(us >> (e - 3)) & (LR_FEAT_HIST_SUB - 1);
    return LR_FEAT_HIST_SUB + (e - 3) * LR_FEAT_HIST_SUB + sub;
}

/* The value range [*lo, *hi) of bucket b, in microseconds. */
void lr_gpu_hist_range(uint32_t b, double *lo, double *hi);

/* The q-quantile (0 < q <= 1) of the n values in h, in milliseconds: the value of rank
 * ceil(q * n) (nearest rank), interpolated inside its bucket. NaN when n is 0. */
double lr_gpu_hist_quantile_ms(const struct lr_feat_hist *h, uint64_t n, double q);

/* ---- one worker's table for the current window ------------------------------------------------
 */

#define LR_FEAT_NAME_MAX 96 /* bytes of the service and span names kept (longer: cut) */

/* What names a series; `hash` covers the whole names (lr_gpu_feat_hash), so two names that share
 * their first LR_FEAT_NAME_MAX bytes are still two series. */
struct lr_feat_key {
    uint64_t hash;
    uint32_t kind;                      /* Span.SpanKind */
    uint32_t service_len, name_len;     /* the whole lengths */
    uint16_t service_kept, name_kept;   /* bytes kept (cut at a UTF-8 boundary) */
    uint8_t host;                       /* 1: a host-metric series (see below); workers: 0 */
    char service[LR_FEAT_NAME_MAX + 1]; /* NUL-terminated, cut */
    char name[LR_FEAT_NAME_MAX + 1];
};

struct lr_feat_entry {
    struct lr_feat_key key;
    uint32_t count;  /* spans */
    uint32_t errors; /* spans with status ERROR */
    struct lr_feat_hist lat;
};

/* An open-addressing table of at most max_series entries. One thread. */
struct lr_feat_table {
    uint32_t max_series;
    uint32_t n;      /* entries in use */
    uint32_t mask;   /* index slots - 1 (a power of two, at least 2 x max_series) */
    uint32_t *index; /* entry number + 1; 0: empty */
    struct lr_feat_entry *e;
    uint64_t overflow; /* spans not counted since the last take: their series did not fit */
};

/* The series hash: FNV-1a 64 over the service name, a 0xff separator (never in UTF-8), the span
 * name and the kind, then a final mix (the low bits index the tables). In two steps, so a worker
 * hashes a resource's service name once for all its spans. */
static inline uint64_t lr_feat_hash_begin(struct lr_slice service)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < service.len; i++)
        h = (h ^ service.p[i]) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull;
}

static inline uint64_t lr_feat_hash_end(uint64_t h, struct lr_slice name, uint32_t kind)
{
    for (size_t i = 0; i < name.len; i++)
        h = (h ^ name.p[i]) * 0x100000001b3ull;
    h = (h ^ (kind & 0xff)) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static inline uint64_t lr_gpu_feat_hash(struct lr_slice service, struct lr_slice name,
                                        uint32_t kind)
{
    return lr_feat_hash_end(lr_feat_hash_begin(service), name, kind);
}

/* Allocates the table (entries are touched only when used). Returns 0 or -ENOMEM. */
int lr_gpu_feat_table_init(struct lr_feat_table *t, uint32_t max_series);
void lr_gpu_feat_table_fini(struct lr_feat_table *t); /* accepts a zeroed table */

/* Counts one span of series `hash` (lr_gpu_feat_hash of the borrowed names and kind) lasting
 * dur_ns. Returns 0, or -ENOSPC when the series is new and the table is full (t->overflow was
 * incremented). */
int lr_gpu_feat_add(struct lr_feat_table *t, uint64_t hash, struct lr_slice service,
                    struct lr_slice name, uint32_t kind, uint64_t dur_ns, bool error);

/* Merges one entry into the table (the batcher merging workers' windows): counts and buckets add.
 * Returns 0, or -ENOSPC (t->overflow grows by the entry's count). */
int lr_gpu_feat_merge(struct lr_feat_table *t, const struct lr_feat_entry *src);

/* The entry of a series, or NULL. */
const struct lr_feat_entry *lr_gpu_feat_find(const struct lr_feat_table *t,
                                             const struct lr_feat_key *key);

/* Empties the table (cost: the entries in use). */
void lr_gpu_feat_table_clear(struct lr_feat_table *t);

/* ---- worker -> batcher ---------------------------------------------------------------------- */

/* One worker's share of one window: an owned message (one malloc) for the worker's ring. */
struct lr_feat_window {
    uint32_t worker;
    uint64_t window;   /* CLOCK_MONOTONIC ns / window length */
    uint64_t overflow; /* spans of series that did not fit the worker's table */
    uint32_t n;
    struct lr_feat_entry e[];
};

/* Returns an owned copy of the table's entries as the message for `window` (free with free()),
 * or NULL with errno set; the table is cleared either way (its overflow moves into the message). */
struct lr_feat_window *lr_gpu_feat_take(struct lr_feat_table *t, uint32_t worker, uint64_t window);

/* ---- host-metric series: control thread -> batcher ---------------------------------------------
 *
 * With host_metrics.enabled, each host-metric series (control/hostmetrics.c: a metric name and
 * its attributes, e.g. one CPU's run-queue latency, one device's written bytes) is a detector
 * series too. Its key: service "linerate" (the host metrics' resource service.name), name
 * "metric{attr=value,...}", kind LR_FEAT_KIND_HOST and `host` set. Workers never set `host`, so
 * no span series, whatever kind it carries on the wire, shares a host series' slot; and the
 * snapshot's hash index, which the sampling boost reads, holds span series only.
 *
 * Its row: feature slot 0 is the counter's rate per second (histograms: observations per second)
 * and slot 1, for histograms only, the mean observation (sum / count) over the sample's
 * interval; the other slots are NaN. A window without a sample is all NaN (state untouched). */
#define LR_FEAT_KIND_HOST 0xffffffffu /* no span kind: OTLP's are 0..5 */
#define LR_FEAT_HOST_SERVICE "linerate"

/* One series' change between two reads of the probes' maps. Merging two is adding. */
struct lr_feat_host_entry {
    struct lr_feat_key key;
    double delta;     /* the counter's increase (histograms: of the count) */
    double sum_delta; /* histograms: the increase of the sum; NaN for counters */
    double elapsed_s; /* time between the two reads */
};

/* One read of the maps: an owned message (one malloc) on the control thread's ring to the
 * batcher. Not counted as a worker: see gpu/batcher.c. */
struct lr_feat_host_window {
    uint64_t window; /* when the maps were read: CLOCK_MONOTONIC ns / anomaly.window_ms */
    uint32_t n;
    struct lr_feat_host_entry e[];
};

/* Sets k to the host series `name` (borrowed, "metric{attr=value,...}"; cut like span names). */
void lr_gpu_feat_host_key(struct lr_feat_key *k, const char *name);

/* ---- the open series, as published by the batcher ------------------------------------------- */

struct lr_anom_open {
    struct lr_feat_key key;
    uint8_t feature; /* enum lr_anom_feature */
    float score, value, expected_lo, expected_hi;
    uint64_t opened_unix_ns;
    uint64_t opened_window;
};

/* Immutable once published; one allocation. `index` is an open-addressing set of the open span
 * series' hashes (entry number + 1; 0 empty), mask + 1 slots; open host series are in `open` but
 * not in the index, so the sampling boost never matches one. */
struct lr_anom_snap {
    uint64_t generation;
    uint64_t window; /* the window it was scored for */
    uint32_t n;
    uint32_t mask;
    uint32_t *index;
    struct lr_anom_open *open;
};

/* Whether series `hash` is open in `s` (NULL: none is). Any thread holding s. */
static inline bool lr_anom_snap_has(const struct lr_anom_snap *s, uint64_t hash)
{
    if (!s || s->n == 0)
        return false;
    for (uint32_t h = (uint32_t)hash & s->mask;; h = (h + 1) & s->mask) {
        uint32_t i = s->index[h];
        if (i == 0)
            return false;
        if (s->open[i - 1].key.hash == hash)
            return true;
    }
}

#ifdef __cplusplus
}
#endif
#endif
