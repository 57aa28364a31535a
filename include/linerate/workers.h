/* The dataplane's per-core workers, as the control thread sees them (dataplane/sock.c).
 *
 * One worker thread per selected CPU, pinned with hwloc, its memory from the CPU's NUMA node
 * (libnuma). Each worker owns an epoll set, its own SO_REUSEPORT listener on the OTLP/HTTP
 * endpoint, its connections and one SPSC ring of owned lr_msg records towards the output thread.
 * Nothing on the request path takes a lock. */
#ifndef LINERATE_WORKERS_H
#define LINERATE_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/config.h"
#include "linerate/ring.h"
#include "linerate/sampling.h"
#include "linerate/stats.h"

struct lr_dp_workers;
struct lr_cp_spool;
struct lr_anom_rt;

struct lr_dp_worker_info {
    int cpu;              /* the logical CPU it is pinned to */
    int numa_node;        /* that CPU's NUMA node (0 without NUMA) */
    struct lr_ring *ring; /* worker → output thread (the output thread pops) */
    const struct lr_worker_stats *stats;
    int notify_fd; /* eventfd: write 8 bytes (1) when the spool's durable or delivered watermark
                      advanced, so the worker releases the answers it holds */
    /* worker → anomaly batcher: owned struct lr_feat_window messages (free()); NULL while
     * anomaly.enabled is off. The batcher pops. */
    struct lr_ring *feat_ring;
};

/* Binds the listeners and prepares the workers described by `cfg` (borrowed; must outlive the
 * workers), without starting them. Returns an owned handle, or NULL with `errstr` set (bad cpu
 * list, bind failure...). */
struct lr_dp_workers *lr_dp_workers_new(const struct lr_config *cfg, char *errstr, size_t errlen);

/* Starts the worker threads. `spools` (borrowed; NULL when every receiver acknowledges from
 * memory) has one spool per worker, which that worker appends to and whose watermarks release
 * the answers of connections in `spool` and `kafka` ack modes. Returns 0 or -1 with errstr. */
int lr_dp_workers_run(struct lr_dp_workers *w, struct lr_cp_spool *const *spools, char *errstr,
                      size_t errlen);

uint32_t lr_dp_workers_count(const struct lr_dp_workers *w);
const struct lr_dp_worker_info *lr_dp_workers_info(const struct lr_dp_workers *w, uint32_t i);

/* The run-time sampling settings the workers read between requests (owned by the handle; valid
 * until lr_dp_workers_free). The control thread publishes into it (linerate/sampling.h). */
struct lr_sampling_rt *lr_dp_workers_sampling(struct lr_dp_workers *w);

/* The open anomaly series the batcher publishes and the workers read (owned by the handle;
 * valid until lr_dp_workers_free; NULL while anomaly.enabled is off). Readers 0..n-1 are the
 * workers; reader n is the control thread (linerate/anomaly_rt.h). */
struct lr_anom_rt *lr_dp_workers_anomaly(struct lr_dp_workers *w);

/* Graceful stop: every worker closes its listener, answers the requests in flight (held answers
 * once the spool or Kafka has their records), closes idle connections, and exits once it has no
 * request in progress or `grace_ms` passed, after a last fdatasync of its spool. Blocks until
 * all workers have exited. The rings stay valid (the output thread drains them afterwards). */
void lr_dp_workers_stop(struct lr_dp_workers *w, uint32_t grace_ms);

/* Frees the handle and the rings (any message still queued is freed). Accepts NULL. */
void lr_dp_workers_free(struct lr_dp_workers *w);

#endif
