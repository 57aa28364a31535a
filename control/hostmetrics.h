/* Host telemetry from eBPF (control/hostmetrics.c): the probes in bpf/hostprobes.bpf.c, loaded and
 * read by the control thread, shipped as OTLP metrics through the Kafka output like received
 * metrics. Two halves:
 *
 *  - the conversion (lr_cp_host_encode): a snapshot of the maps, summed over CPUs, into a
 *    serialized ExportMetricsServiceRequest. Pure, no BPF: the unit tests drive it directly.
 *  - the probes (lr_cp_host_start .. _free): open, load and attach each program on its own, say
 *    which are off and why, read the maps every interval and push the request to a ring that the
 *    Kafka output thread drains.
 *
 * Every function is for the control thread only. */
#ifndef LINERATE_CP_HOSTMETRICS_H
#define LINERATE_CP_HOSTMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../bpf/hostprobes.h"
#include "linerate/config.h"

struct lr_ring;

/* ---- the conversion ------------------------------------------------------------------------- */

struct lr_cp_host_retx {
    uint16_t lport;
    uint16_t family; /* 2 AF_INET, 10 AF_INET6 */
    uint8_t prefix[16];
    uint64_t count;
};

struct lr_cp_host_disk {
    uint32_t major, minor, op;
    char name[32]; /* the kernel's device name ("vda"), "" when unknown: MAJOR:MINOR is used */
    struct lr_bpf_hist lat;
    uint64_t bytes;
};

/* What the maps held at one instant, CPUs summed (runq: one histogram per CPU). The `has_*`
 * flags say which probes are on: a probe that is off contributes no metric at all (not zeros). */
struct lr_cp_host_snap {
    bool has_retx, has_tcp_state, has_rst_sent, has_rst_recv, has_rtt, has_runq, has_disk,
        has_drops, has_softirq, has_exec, has_exit, has_oom;
    uint64_t counters[LR_BPF_C_COUNT];
    uint64_t tcp_states[LR_BPF_TCP_STATES];
    struct lr_cp_host_retx *retx; /* borrowed */
    size_t n_retx;
    struct lr_bpf_hist rtt;
    struct lr_bpf_hist *runq; /* borrowed, one per CPU */
    uint32_t n_cpus;
    struct lr_cp_host_disk *disk; /* borrowed */
    size_t n_disk;
    uint64_t drops[LR_BPF_DROP_REASONS];
    const char *const *drop_names; /* borrowed, LR_BPF_DROP_REASONS entries, NULL: numbers */
    uint64_t softirq_ns[LR_BPF_SOFTIRQS];
};

/* The resource every request carries. Borrowed strings. */
struct lr_cp_host_res {
    const char *host_name;
    const char *host_id;      /* /etc/machine-id; "" leaves host.id out */
    const char *service_name; /* "linerate" */
    const char *version;
};

/* Serializes `s` as one ExportMetricsServiceRequest: cumulative monotonic sums for counters and
 * cumulative histograms (explicit bounds 1, 2, 4, ... from the log2 slots), every point with
 * start_time_unix_nano = `start_unix_ns` (when the probes were loaded: a restart resets the maps,
 * and the new start time is how a consumer tells) and time_unix_nano = `now_unix_ns`. Returns
 * an owned buffer (free()) with *len and *n_points (data points in it), or NULL with errno set
 * (ENOMEM). */
uint8_t *lr_cp_host_encode(const struct lr_cp_host_snap *s, const struct lr_cp_host_res *r,
                           uint64_t start_unix_ns, uint64_t now_unix_ns, size_t *len,
                           size_t *n_points);

/* The OTLP explicit bounds of the log2 slots: bounds[i] = 2^i, LR_BPF_HIST_SLOTS - 1 of them. */
void lr_cp_host_hist_bounds(double *bounds);

/* ---- host series for the anomaly detector ---------------------------------------------------- */

#define LR_CP_HOST_SERIES_NAME_MAX 192 /* "metric{attr=value,...}", NUL included */

/* Calls fn once per series of `s`, named "metric{attr=value,...}" (the request's metric names and
 * data point attributes, in the same order; no braces without attributes): `value` is the
 * cumulative counter (histograms: the count, the sum of the buckets), `sum` the histogram's sum
 * (NaN for counters), `hist` whether it is a histogram. Series the request leaves out (keyed
 * metrics with nothing counted) are left out here too. */
void lr_cp_host_series_each(const struct lr_cp_host_snap *s,
                            void (*fn)(void *arg, const char *name, double value, double sum,
                                       bool hist),
                            void *arg);

/* The previous read's cumulative values, per series, to turn the next read into deltas. */
struct lr_cp_host_prev;

/* Room for `cap` series per read (more are not sampled, and counted). Returns owned (free with
 * lr_cp_host_prev_free), or NULL. */
struct lr_cp_host_prev *lr_cp_host_prev_new(size_t cap);
void lr_cp_host_prev_free(struct lr_cp_host_prev *p); /* accepts NULL */

/* The read `s`, made at `read_ns` (CLOCK_MONOTONIC), as detector samples: for every series also
 * in the previous read, its increase and the time between the reads (a series whose counter went
 * down, a reset, gives no sample this time). window_ns is anomaly.window_ms in ns. Remembers `s`
 * for the next call. Returns an owned struct lr_feat_host_window (free()) for the batcher, n = 0
 * on the first call, or NULL when out of memory. */
struct lr_feat_host_window *lr_cp_host_samples(struct lr_cp_host_prev *p,
                                               const struct lr_cp_host_snap *s, uint64_t read_ns,
                                               uint64_t window_ns);

/* Series left out of reads so far: more than the `cap` of lr_cp_host_prev_new. */
uint64_t lr_cp_host_prev_overflow(const struct lr_cp_host_prev *p);

/* ---- the probes ------------------------------------------------------------------------------ */

struct lr_cp_host;

/* Loads and attaches the probes that cfg->host_metrics.probes selects, each on its own; what
 * cannot be loaded stays off with its reason (no BTF, no permission, tracepoint missing, built
 * without probes). Never fails for a probe; returns NULL only when out of memory. `ring`
 * (borrowed, this thread its only producer) takes the requests; `anom` (borrowed, NULL when
 * anomaly scoring is off; this thread its only producer) takes each read's detector samples
 * (struct lr_feat_host_window) for the anomaly batcher. */
struct lr_cp_host *lr_cp_host_start(const struct lr_config *cfg, struct lr_ring *ring,
                                    struct lr_ring *anom);

/* Every cfg->host_metrics.interval_ms: reads the maps, encodes, pushes one request (a full ring
 * drops it and counts). `now_ns` is CLOCK_MONOTONIC. */
void lr_cp_host_tick(struct lr_cp_host *h, uint64_t now_ns);

/* Milliseconds until the next tick is due (for the control loop's wait), at most `cap`. */
int lr_cp_host_wait_ms(const struct lr_cp_host *h, uint64_t now_ns, int cap);

/* The start-up block's lines: each probe on or off with the reason. */
void lr_cp_host_banner(const struct lr_cp_host *h, FILE *f);

/* Prometheus text: linerate_host_probe_up{probe,tracepoint,reason}, per-program run time and
 * run count (kernel.bpf_stats_enabled), requests built and dropped. */
void lr_cp_host_metrics_write(const struct lr_cp_host *h, FILE *f);

/* Detaches and unloads. Accepts NULL. */
void lr_cp_host_free(struct lr_cp_host *h);

#endif
