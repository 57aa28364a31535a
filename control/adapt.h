/* The adaptive sampling controller ("backpressure controller", processors.adaptive_sampling,
 * control/adapt.c): every tick_ms the control thread looks at how far Kafka and the spool are
 * behind and moves the effective head-sampling rate of traces between floor_percentage and the
 * configured percentage; the workers read it as a factor on their percentages
 * (lr_sampling_rt.scale_bits) and, while it is below 1, always keep errors and slow spans
 * (lr_sampling_rt.lowered). docs/sampling.md, "Adaptive rate". */
#ifndef LINERATE_CP_ADAPT_H
#define LINERATE_CP_ADAPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "linerate/config.h"

/* Only pointers to these here: this header stays free of C11 atomics, so C++ tests include it. */
struct lr_cp_state;
struct lr_sampling_rt;

/* What one tick looks at. */
struct lr_cp_adapt_in {
    uint64_t queue_records;   /* records waiting for Kafka (lr_cp_kafka_queue_size) */
    uint64_t spool_bytes;     /* in the spools' segment files, all spools together */
    uint64_t spool_max_bytes; /* spool.max_bytes; 0 when no receiver uses the spool */
};

/* One tick of the controller, a pure function. `rate_pct` is the current effective rate,
 * `configured_pct` the configured traces percentage (P); returns the next rate:
 *   spool above spool_threshold_pct of spool_max_bytes        rate * 0.8
 *   else queue above kafka_queue_threshold                     rate * 0.9
 *   else both below half their thresholds                      rate * 1.1
 *   else (between half and the threshold: hysteresis)          rate
 * then clamped to [floor_percentage, P]; P itself when P is below the floor. Only
 * cfg->adaptive is read. */
double lr_cp_adapt_step(double rate_pct, double configured_pct, const struct lr_cp_adapt_in *in,
                        const struct lr_config *cfg);

/* The factor published to the workers for a rate: rate / P, 1.0 when P is 0. */
double lr_cp_adapt_scale(double rate_pct, double configured_pct);

/* The controller's state; one per process, control thread only. */
struct lr_cp_adapt {
    const struct lr_config *cfg; /* borrowed */
    struct lr_sampling_rt *rt;   /* borrowed (lr_dp_workers_sampling); NULL: publish nothing */
    double rate_pct;             /* effective traces rate now */
    double configured_pct;       /* P at the last tick */
    uint64_t next_tick_ns;       /* 0: tick at the first call */
    uint64_t ticks;
    uint64_t adjustments_down, adjustments_up; /* ticks that moved the rate */
    struct lr_cp_adapt_in last;                /* what the last tick saw */
    double scale;                              /* what was published last: rate / P ... */
    bool lowered;                              /* ... and rate < P */
};

/* Sets up the controller at the configured rate (scale 1.0, not lowered) and publishes that.
 * `rt` is borrowed and must outlive the controller; NULL publishes nothing (tests). */
void lr_cp_adapt_init(struct lr_cp_adapt *a, const struct lr_config *cfg,
                      struct lr_sampling_rt *rt);

/* Called from the control loop on every wake-up: once tick_ms has passed since the last tick,
 * reads the configured percentage from the published set, the Kafka queue and the spools from
 * `st`, then lr_cp_adapt_update and publishes the scale and the lowered flag to the workers.
 * Control thread only. */
void lr_cp_adapt_tick(struct lr_cp_adapt *a, const struct lr_cp_state *st, uint64_t now_ns);

/* The tick without its inputs' sources (tests): `configured_pct` is P now. When it changed, the
 * rate follows it unless the controller holds the rate below the old P (then it is capped at the
 * new P, and stepped from there).
 * Steps, counts the adjustment and sets a->scale and a->lowered (publishes nothing). Returns
 * false, changing nothing, before tick_ms has passed since the last tick. */
bool lr_cp_adapt_update(struct lr_cp_adapt *a, double configured_pct,
                        const struct lr_cp_adapt_in *in, uint64_t now_ns);

/* Milliseconds until the next tick is due (0: now), for the control loop's wait. */
int lr_cp_adapt_wait_ms(const struct lr_cp_adapt *a, uint64_t now_ns);

/* The effective head-sampling rate of traces, in percent, as the workers apply it now (the
 * published set's traces_percentage times the published scale), and whether head sampling is on
 * at all (false: the rate means nothing). Control thread only (it reads the published set). */
double lr_cp_sampling_rate_pct(struct lr_sampling_rt *rt, bool *head);

/* Writes linerate_sampling_rate_percent (`rate_pct`, lr_cp_sampling_rate_pct) when `head`
 * sampling is on and, with a controller, linerate_sampling_adaptive_* in the Prometheus text
 * format. `a` may be NULL. */
void lr_cp_adapt_metrics_write(const struct lr_cp_adapt *a, bool head, double rate_pct, FILE *f);

#endif
