/* The open-series snapshot's publication (C11 atomics: C only; see linerate/features.h). */
#ifndef LINERATE_ANOMALY_RT_H
#define LINERATE_ANOMALY_RT_H

#include <stdatomic.h>
#include <stdint.h>

#include "linerate/features.h"

/* Readers: every worker, then the control thread (admin endpoint) at index n_workers. */
#define LR_ANOM_MAX_READERS 257

/* The batcher publishes `cur`; a reader loads it, uses it for one request at most, and stores the
 * generation it loaded in seen[reader] (at least once per 100 ms, also when idle). The batcher
 * frees a replaced snapshot once every reader's seen is past it. */
struct lr_anom_rt {
    _Atomic(struct lr_anom_snap *) cur;
    _Atomic uint64_t seen[LR_ANOM_MAX_READERS];
};

/* A reader between two uses: loads the current snapshot and records its generation. Returns it
 * (valid until this reader's next call). */
static inline const struct lr_anom_snap *lr_anom_rt_load(struct lr_anom_rt *rt, uint32_t reader)
{
    struct lr_anom_snap *s = atomic_load_explicit(&rt->cur, memory_order_acquire);
    if (s && reader < LR_ANOM_MAX_READERS)
        atomic_store_explicit(&rt->seen[reader], s->generation, memory_order_release);
    return s;
}

#endif
