/* Owned messages that travel between threads over lr_ring (ring.h). */
#ifndef LINERATE_MSG_H
#define LINERATE_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "linerate/otlp.h"

/* One Kafka record to produce: a serialized Export*ServiceRequest and its key.
 * Made by a worker, taken by the output thread, which hands `value` to librdkafka. */
struct lr_msg {
    enum lr_signal signal;
    uint32_t worker;  /* the worker that made it (for per-worker accounting) */
    uint32_t key_len; /* 0: no key; traces: 32 (lowercase hex trace id) */
    char key[32];
    uint64_t n_items; /* spans / data points / log records inside `value` */
    size_t len;
    uint8_t *value; /* owned, malloc'd; freed by whoever frees the message */
};

/* Returns an owned message with a `len`-byte value buffer (uninitialised), or NULL. */
static inline struct lr_msg *lr_msg_new(size_t len)
{
    struct lr_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->value = malloc(len ? len : 1);
    if (!m->value) {
        free(m);
        return NULL;
    }
    m->len = len;
    return m;
}

/* Frees `m` and its value. Accepts NULL. */
static inline void lr_msg_free(struct lr_msg *m)
{
    if (!m)
        return;
    free(m->value);
    free(m);
}

#endif
