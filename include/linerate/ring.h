/* Single-producer/single-consumer ring of owned pointers: the only way data crosses threads.
 * Exactly one thread may push and exactly one (other) thread may pop. Lock-free (C11 atomics). */
#ifndef LINERATE_RING_H
#define LINERATE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

struct lr_ring {
    _Alignas(64) _Atomic size_t head; /* next slot the producer writes */
    _Alignas(64) _Atomic size_t tail; /* next slot the consumer reads */
    _Alignas(64) size_t mask;
    void *slots[];
};

/* Returns an owned ring with room for `cap` entries (rounded up to a power of two, at least 2),
 * or NULL with errno set. Free with lr_ring_free (the entries still queued are not freed). */
static inline struct lr_ring *lr_ring_new(size_t cap)
{
    size_t n = 2;
    while (n < cap)
        n <<= 1;
    struct lr_ring *r = aligned_alloc(64, (sizeof(*r) + n * sizeof(void *) + 63) & ~(size_t)63);
    if (!r)
        return NULL;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = n - 1;
    return r;
}

static inline void lr_ring_free(struct lr_ring *r)
{
    free(r);
}

/* Producer: queues `p` (ownership passes to the consumer). Returns false when full. */
static inline bool lr_ring_push(struct lr_ring *r, void *p)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - t > r->mask)
        return false;
    r->slots[h & r->mask] = p;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}

/* Consumer: returns the oldest entry (owned by the caller now), or NULL when empty. */
static inline void *lr_ring_pop(struct lr_ring *r)
{
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t == h)
        return NULL;
    void *p = r->slots[t & r->mask];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return p;
}

/* Either side: entries queued right now (a snapshot). */
static inline size_t lr_ring_count(struct lr_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire) -
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
