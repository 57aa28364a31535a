/* The open-series snapshot's publication (C11 atomics: C only; see linerate/features.h). */
#ifndef LINERATE_ANOMALY_RT_H
#define LINERATE_ANOMALY_RT_H

#include <stdatomic.h>
#include <stdbool.h>
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
    /* Boosted traces, shared by every worker (NULL: none); see lr_anom_boost_put. */
    _Atomic uint64_t *boost;
    _Atomic uint64_t boost_until_s; /* no lookups needed after this second */
};

/* The traces an open anomaly kept, remembered so that their spans arriving later, in other
 * requests and on other workers (a caller's span usually ends, and is exported, after its
 * callee's), are kept too. A direct-mapped table of LR_ANOM_BOOST_SLOTS words: a trace id's hash
 * with its low 16 bits replaced by the CLOCK_MONOTONIC second it was last seen boosted. A trace
 * is remembered for LR_ANOM_BOOST_HOLD_S seconds after its last boosted span, or until another
 * trace takes its slot (262 144 slots: about 4 000 boosted traces a second over the hold). Words
 * are read and written with relaxed atomics; a 48-bit hash match is taken as the same trace (a
 * false match keeps one more trace). */
#define LR_ANOM_BOOST_SLOTS (1u << 18)
#define LR_ANOM_BOOST_HOLD_S 60u

static inline void lr_anom_boost_put(struct lr_anom_rt *rt, uint64_t h, uint64_t now_s)
{
    _Atomic uint64_t *w = &rt->boost[h & (LR_ANOM_BOOST_SLOTS - 1)];
    uint64_t v = (h & ~0xffffull) | (now_s & 0xffff);
    /* Rewritten only when it changes: spans of one trace do not bounce the line between cores. */
    if (atomic_load_explicit(w, memory_order_relaxed) != v)
        atomic_store_explicit(w, v, memory_order_relaxed);
    if (atomic_load_explicit(&rt->boost_until_s, memory_order_relaxed) <
        now_s + LR_ANOM_BOOST_HOLD_S)
        atomic_store_explicit(&rt->boost_until_s, now_s + LR_ANOM_BOOST_HOLD_S,
                              memory_order_relaxed);
}

/* Whether lookups can find anything at now_s. */
static inline bool lr_anom_boost_active(struct lr_anom_rt *rt, uint64_t now_s)
{
    return rt && rt->boost &&
           atomic_load_explicit(&rt->boost_until_s, memory_order_relaxed) >= now_s;
}

static inline bool lr_anom_boost_has(struct lr_anom_rt *rt, uint64_t h, uint64_t now_s)
{
    uint64_t v =
        atomic_load_explicit(&rt->boost[h & (LR_ANOM_BOOST_SLOTS - 1)], memory_order_relaxed);
    /* Another worker's clock may have passed the second boundary first: one second ahead is
     * age 0. */
    return v != 0 && (v & ~0xffffull) == (h & ~0xffffull) &&
           (uint16_t)(now_s + 1 - v) <= LR_ANOM_BOOST_HOLD_S + 1;
}

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
