/* One worker's share of tail sampling (dataplane/tail.c): the traces whose id this worker owns,
 * held until `decision_wait` after their first span and then decided over the whole trace by the
 * policies (dataplane/tail_policy.h), plus a decision cache so that spans arriving after the
 * decision follow it.
 *
 * Spans of one trace reach different workers (different connections); each worker sends every
 * trace piece to the owner of its trace id (lr_dp_tail_owner) over a single-producer,
 * single-consumer ring, so one thread sees a whole trace and decides it without locks.
 *
 * Memory is bounded: at most `capacity` traces are held (the oldest is decided early when a new
 * one arrives at a full table), and the decision caches are fixed arrays. Single-threaded: every
 * call for one lr_dp_tail comes from its worker. */
#ifndef LINERATE_DP_TAIL_H
#define LINERATE_DP_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tail_policy.h"

struct lr_dp_tail; /* opaque */

struct lr_dp_tail_cfg {
    uint32_t capacity;          /* traces held at most (>= 1) */
    uint64_t wait_ns;           /* decision_wait */
    uint32_t sampled_cache;     /* trace ids remembered after a keep (0: none) */
    uint32_t non_sampled_cache; /* ... after a drop (0: none) */
};

/* Counters (read by the worker's stats; monotonic). */
struct lr_dp_tail_counts {
    uint64_t new_traces;   /* otelcol_processor_tail_sampling_new_trace_id_received */
    uint64_t sampled;      /* traces decided keep */
    uint64_t not_sampled;  /* traces decided drop */
    uint64_t early;        /* decided before decision_wait because the table was full */
    uint64_t late_kept;    /* spans that arrived after a keep decision and were kept */
    uint64_t late_dropped; /* spans that arrived after a drop decision */
    uint64_t spans_kept, spans_dropped;
};

/* The worker (0..n_workers-1) that owns `trace_id`. The same on every thread. */
uint32_t lr_dp_tail_owner(const uint8_t trace_id[16], uint32_t n_workers);

/* Returns owned (lr_dp_tail_free), or NULL with errno ENOMEM/EINVAL. Allocates the table and
 * the caches up front. */
struct lr_dp_tail *lr_dp_tail_new(const struct lr_dp_tail_cfg *cfg);
void lr_dp_tail_free(struct lr_dp_tail *t);

/* Called with each trace decided (kept only): `body` (borrowed, valid during the call) is the
 * concatenation of the trace's pieces, each a complete ExportTraceServiceRequest. Must not fail
 * (the caller queues it); returns nothing. */
typedef void (*lr_dp_tail_emit_fn)(void *ctx, const uint8_t trace_id[16], const uint8_t *body,
                                   size_t len, uint32_t n_spans);

enum lr_dp_tail_fate {
    LR_DP_TAIL_HELD = 0, /* copied into the table; decided later */
    LR_DP_TAIL_KEEP = 1, /* the trace was already decided keep: forward the piece now */
    LR_DP_TAIL_DROP = 2, /* the trace was already decided drop: discard the piece */
};

/* Takes in one piece (borrows `p`: copied) of `n_spans` spans of one trace, arrived at `now_ns`.
 * When a new trace finds the table full, the oldest trace is decided at once by `pol` (emitted
 * through `emit` when kept). Returns an lr_dp_tail_fate, or -ENOMEM (nothing changed). */
int lr_dp_tail_add(struct lr_dp_tail *t, const uint8_t trace_id[16], const uint8_t *p, size_t len,
                   uint32_t n_spans, uint64_t now_ns, struct lr_tail_policies *pol,
                   lr_dp_tail_emit_fn emit, void *ctx);

/* Decides every trace whose first span arrived at least wait_ns before `now_ns` (every trace
 * when `all`), oldest first, emitting the kept ones. Returns how many were decided. */
size_t lr_dp_tail_expire(struct lr_dp_tail *t, uint64_t now_ns, bool all,
                         struct lr_tail_policies *pol, lr_dp_tail_emit_fn emit, void *ctx);

/* Traces held now, and the bytes their spans take. */
uint32_t lr_dp_tail_held(const struct lr_dp_tail *t);
uint64_t lr_dp_tail_held_bytes(const struct lr_dp_tail *t);
const struct lr_dp_tail_counts *lr_dp_tail_counts(const struct lr_dp_tail *t);

#endif
