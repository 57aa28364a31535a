/* The anomaly batcher (gpu/batcher.c): one thread that drains the workers' feature windows, merges
 * them per series, gives every series a detector slot, runs the detector once per window for all
 * of them (in launches of at most anomaly.batch_max_size series), writes each opening and closing
 * as an OTLP log record for the output thread, and publishes the open series
 * (linerate/anomaly_rt.h) for the workers' sampling boost and GET /anomalies. */
#ifndef LINERATE_BATCHER_H
#define LINERATE_BATCHER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "linerate/anomaly_rt.h"
#include "linerate/config.h"
#include "linerate/ring.h"
#include "linerate/stats.h"

#define LR_GPU_BATCH_BUCKETS 25 /* batch sizes: bucket b counts launches of < 2^b series */
#define LR_GPU_STEP_BUCKETS 28  /* step times: bucket b counts launches of < 2^b microseconds */

/* Counters written by the batcher thread only (lr_stat_add); gauges are stored. */
struct lr_gpu_batcher_stats {
    lr_counter ticks;           /* windows scored */
    lr_counter series;          /* gauge: series holding a detector slot */
    lr_counter open;            /* gauge: series open now */
    lr_counter opened, closed;  /* anomaly openings and closings */
    lr_counter overflow_series; /* series-windows not scored: every slot was taken */
    lr_counter evicted;         /* series forgotten after anomaly.idle_windows without spans */
    lr_counter late_windows;    /* worker windows that arrived after their window was scored */
    lr_counter worker_overflow; /* spans the workers could not count (their tables were full) */
    lr_counter launches;        /* detector steps */
    lr_counter rows;            /* series-checks done: rows in all launches */
    lr_counter step_errors;     /* steps that failed (the window's scores are lost) */
    lr_counter step_ns;         /* time in the detector, in all */
    lr_counter batch_size[LR_GPU_BATCH_BUCKETS];
    lr_counter step_us[LR_GPU_STEP_BUCKETS];
    lr_counter events_lost;  /* event records dropped: the output ring was full */
    lr_counter host_samples; /* host series-samples taken in (linerate/features.h) */
    lr_counter host_late;    /* host reads that came after their window was scored */
};

struct lr_gpu_batcher;

/* Opens the detector on anomaly.device (errstr says why when a GPU was asked for and none is
 * usable) and starts the thread. `in` (borrowed, n_workers rings) are the workers' feature rings,
 * and `host` (borrowed, NULL: none) the control thread's ring of host-metric samples (owned
 * struct lr_feat_host_window), of which the batcher becomes the only consumer; `rt` (borrowed) is
 * where it publishes, readers 0..n_workers (the workers, then the control thread). Everything
 * borrowed must outlive the handle. Returns an owned handle, or NULL with errstr set. */
struct lr_gpu_batcher *lr_gpu_batcher_start(const struct lr_config *cfg, struct lr_ring *const *in,
                                            uint32_t n_workers, struct lr_ring *host,
                                            struct lr_anom_rt *rt, char *errstr, size_t errlen);

/* The same without the thread, for tests: windows are scored by lr_gpu_batcher_poll, starting
 * with the one before `start_ns` (CLOCK_MONOTONIC ns, or any clock the rings' windows follow). */
struct lr_gpu_batcher *lr_gpu_batcher_new(const struct lr_config *cfg, struct lr_ring *const *in,
                                          uint32_t n_workers, struct lr_ring *host,
                                          struct lr_anom_rt *rt, uint64_t start_ns, char *errstr,
                                          size_t errlen);

/* One pass of the thread's loop at time `now_ns`: takes in every queued window, scores those
 * complete (every worker handed it over) or whose wait is over. Returns when the next window's
 * wait is over. Only on a handle from lr_gpu_batcher_new. */
uint64_t lr_gpu_batcher_poll(struct lr_gpu_batcher *b, uint64_t now_ns);

/* The ring of event records (owned lr_msg, signal logs) towards the output thread, which pops
 * it. Valid until lr_gpu_batcher_free. */
struct lr_ring *lr_gpu_batcher_out(struct lr_gpu_batcher *b);

/* "cpu" or "cuda <device name>": the detector's device. Borrowed. */
const char *lr_gpu_batcher_device(const struct lr_gpu_batcher *b);

const struct lr_gpu_batcher_stats *lr_gpu_batcher_stats(const struct lr_gpu_batcher *b);

/* The control thread (reader n_workers of rt): writes the open series as a JSON document to f. */
void lr_gpu_batcher_write_open(struct lr_gpu_batcher *b, FILE *f);

/* The control thread, between two uses: lets the batcher free the snapshots it read. */
void lr_gpu_batcher_quiesce(struct lr_gpu_batcher *b);

/* Stops the thread (after the workers stopped: their last windows are not scored). The event
 * ring stays valid for the output thread to drain. */
void lr_gpu_batcher_stop(struct lr_gpu_batcher *b);

/* Frees everything, the snapshots included (rt->cur is set to NULL); call after the workers and
 * the output thread are done with it. Accepts NULL. */
void lr_gpu_batcher_free(struct lr_gpu_batcher *b);

#endif
