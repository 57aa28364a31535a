/* The admin endpoint (control/admin.c): /health, /ready and /metrics (Prometheus text) on the
 * HTTP/1.1 engine, served by the control thread from its epoll loop. */
#ifndef LINERATE_CP_ADMIN_H
#define LINERATE_CP_ADMIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafka.h"
#include "linerate/config.h"
#include "linerate/workers.h"

struct lr_cp_adapt;
struct lr_cp_sampling;
struct lr_cp_host;
struct lr_gpu_batcher;

/* What the admin endpoint reports on (borrowed, owned by main). */
struct lr_cp_state {
    const struct lr_config *cfg;
    struct lr_dp_workers *workers;
    struct lr_cp_kafka *kafka;
    struct lr_cp_spool **spools; /* NULL when every receiver acknowledges from memory */
    uint32_t n_spools;           /* one per worker, then any left by an earlier run */
    _Atomic bool ready;          /* accepting OTLP traffic (false while draining) */
    uint64_t start_ns;
    struct lr_cp_adapt *adapt;       /* the adaptive sampling controller; NULL while it is off */
    struct lr_cp_sampling *sampling; /* GET/PUT /sampling (control/sampling_api.h) */
    struct lr_cp_host *host;         /* the eBPF host probes; NULL while host_metrics is off */
    struct lr_gpu_batcher *batcher;  /* the anomaly batcher; NULL while anomaly.enabled is off */
};

/* Something in the control thread's epoll set: data.ptr points at one of these. */
struct lr_cp_ev {
    void (*on_event)(struct lr_cp_ev *self, uint32_t events);
};

struct lr_cp_admin;

/* Binds the admin endpoint and adds it to `epfd`. Returns an owned handle or NULL with errstr. */
struct lr_cp_admin *lr_cp_admin_start(struct lr_cp_state *st, int epfd, char *errstr,
                                      size_t errlen);

/* Timeouts of admin connections. */
void lr_cp_admin_tick(struct lr_cp_admin *a, uint64_t now_ns);

/* Closes the listener and every connection. Accepts NULL. */
void lr_cp_admin_free(struct lr_cp_admin *a);

/* Writes the Prometheus text exposition of every counter to `f`. */
void lr_cp_metrics_write(const struct lr_cp_state *st, FILE *f);

#endif
