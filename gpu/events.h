/* Anomaly openings and closings as OTLP log records (gpu/events.c), for the logs topic. */
#ifndef LINERATE_GPU_EVENTS_H
#define LINERATE_GPU_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "linerate/features.h"
#include "linerate/msg.h"

struct lr_gpu_anom_event {
    const struct lr_feat_key *key; /* borrowed */
    uint8_t opened;                /* 1: opened, 0: closed */
    uint8_t feature;               /* enum lr_anom_feature */
    float score, value, expected_lo, expected_hi;
    uint64_t time_unix_ns;
    uint32_t window_ms;
    const char *host_name; /* borrowed: a host series' resource host.name; NULL for spans */
};

/* The feature's name for series `k` (borrowed): "count", "errors", "latency_p50_ms", ... for a
 * span series, "rate_per_s" and "mean" for a host series; "?" out of range. */
const char *lr_gpu_anom_feature_name(const struct lr_feat_key *k, unsigned feature);

/* "internal", "server", ...; "unspecified" for 0 and unknown values. */
const char *lr_gpu_span_kind_name(uint32_t kind);

/* The series' kind: its span kind's name, or "host" for a host series. */
const char *lr_gpu_series_kind_name(const struct lr_feat_key *k);

/* Encodes the n events (borrowed) as one ExportLogsServiceRequest: one ResourceLogs per event
 * whose resource carries the series' service.name (and a host series' host.name, as the host
 * metrics' resource does), scope `linerate.anomaly`, one LogRecord with
 * the attributes event.name = linerate.anomaly, service.name, operation, span.kind,
 * anomaly.state (opened | closed), anomaly.feature, anomaly.score, anomaly.value,
 * anomaly.expected_low, anomaly.expected_high, anomaly.window_ms, and a one-line body.
 * Returns an owned lr_msg (signal logs, no key, n_items = n, worker = `worker`), or NULL with
 * errno set. */
struct lr_msg *lr_gpu_anom_events_encode(const struct lr_gpu_anom_event *ev, size_t n,
                                         uint32_t worker);

#endif
