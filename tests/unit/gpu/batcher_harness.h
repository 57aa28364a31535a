/* gpu/batcher.c seen from C++ (its header holds C11 atomics): a batcher without its thread, the
 * workers' rings it drains, and what it publishes. */
#ifndef LINERATE_TEST_BATCHER_HARNESS_H
#define LINERATE_TEST_BATCHER_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/features.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bh_opts {
    uint32_t workers, max_series, window_ms, wait_ms, idle_windows, batch_max;
    uint32_t host_interval_ms; /* 0: no host ring; else host_metrics.interval_ms, and a ring */
};

struct bh;

/* The batcher starts with the window before the one holding `start_ns`. NULL on failure. */
struct bh *bh_new(const struct bh_opts *o, uint64_t start_ns);
void bh_free(struct bh *h);

/* Worker `w` hands over `window` with these entries (copied) and overflow. */
bool bh_push(struct bh *h, uint32_t w, uint64_t window, const struct lr_feat_entry *e, uint32_t n,
             uint64_t overflow);

/* The control thread hands over one read of the host maps for `window` (entries copied). */
bool bh_push_host(struct bh *h, uint64_t window, const struct lr_feat_host_entry *e, uint32_t n);

uint64_t bh_poll(struct bh *h, uint64_t now_ns);

/* A batcher counter by its struct lr_gpu_batcher_stats member name ("ticks", "launches", ...);
 * UINT64_MAX for an unknown name. */
uint64_t bh_stat(struct bh *h, const char *name);

/* The published snapshot, read as worker 0 would. */
const struct lr_anom_snap *bh_snap(struct bh *h);

/* Pops every event record and decodes it with protobuf-c (the logs service header cannot be
 * compiled as C++): one line per log record, tab-separated: the resource's service.name, the scope
 * name, resource.host.name=X when the resource has a host.name, then key=value per attribute
 * (doubles with %g). Records that are not logs, carry a key,
 * do not decode, have n_items other than their log record count, or have a log record without
 * a time or a body add a line "BAD". Returns an owned string (free with bh_bytes_free). */
char *bh_events(struct bh *h);
void bh_bytes_free(void *p);

/* GET /anomalies' body (owned, NUL-terminated; free with bh_bytes_free). */
char *bh_open_json(struct bh *h);

#ifdef __cplusplus
}
#endif
#endif
