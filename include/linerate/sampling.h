/* Sampling settings that change at run time: the adaptive controller's rate and the settings a
 * PUT /sampling publishes. The control thread writes, the workers read between two requests, so
 * a change applies atomically to whole requests. No locks: one atomic load per request.
 *
 * Ownership: the workers' handle owns the one lr_sampling_rt (lr_dp_workers_sampling()); the
 * control thread owns every lr_sampling_set it publishes and frees a replaced set only once every
 * worker has moved past its generation (lr_sampling_rt.seen[]). */
#ifndef LINERATE_SAMPLING_H
#define LINERATE_SAMPLING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "linerate/config.h"

#define LR_SAMPLING_MAX_WORKERS 256

/* One published set of settings; immutable once published. */
struct lr_sampling_set {
    uint64_t generation;      /* 1 for the configuration's, +1 per PUT */
    bool head;                /* head sampling of traces on */
    double traces_percentage; /* processors.probabilistic_sampler.sampling_percentage */
    bool logs;                /* head sampling of logs on */
    double logs_percentage;   /* ....logs.sampling_percentage */
    /* Tail policies; NULL: tail sampling off. Generation 1 borrows the configuration's; later
     * generations own theirs (freed with the set by the control thread). */
    struct lr_tail_policies *tail;
};

struct lr_sampling_rt {
    /* The adaptive controller's factor on the head-sampling percentages, as the bits of a double
     * in (0, 1]; 1.0 while the controller is off or at the configured rate. */
    _Atomic uint64_t scale_bits;
    /* Whether the controller has lowered the rate (the always-keep rule for errors and slow
     * spans applies only then). */
    _Atomic bool lowered;
    _Atomic(struct lr_sampling_set *) cur;
    /* The generation of the set each worker last loaded (0: none yet); the control thread frees
     * a retired set once every worker's is past it. */
    _Atomic uint64_t seen[LR_SAMPLING_MAX_WORKERS];
};

static inline double lr_sampling_scale(const struct lr_sampling_rt *rt)
{
    uint64_t b =
        atomic_load_explicit(&((struct lr_sampling_rt *)rt)->scale_bits, memory_order_relaxed);
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static inline void lr_sampling_scale_set(struct lr_sampling_rt *rt, double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    atomic_store_explicit(&rt->scale_bits, b, memory_order_relaxed);
}

#endif
