/* The OTLP view: what the zero-copy walker records about one Export*ServiceRequest body.
 *
 * The walker (dataplane/otlp_walk.c) validates the whole wire structure of a request (tags, wire
 * types, lengths, nesting depth, UTF-8 of string fields) without allocating, and records offsets
 * into the body plus the few fields the pipeline needs. All offsets are relative to the start of
 * the body passed to lr_dp_otlp_walk(); all slices borrow from that body. */
#ifndef LINERATE_OTLP_H
#define LINERATE_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/slice.h"

enum lr_signal {
    LR_SIG_TRACES = 0,
    LR_SIG_METRICS = 1,
    LR_SIG_LOGS = 2,
};
#define LR_SIG_COUNT 3

/* "traces", "metrics", "logs". */
const char *lr_signal_name(enum lr_signal sig);

/* A length-delimited field as it sits in the body: [off, off+len) covers tag, length prefix and
 * payload; [body_off, body_off+body_len) is the payload alone. */
struct lr_otlp_field {
    uint32_t off, len;
    uint32_t body_off, body_len;
};

/* One Resource{Spans,Metrics,Logs} entry (field 1 of the request). */
struct lr_otlp_resource {
    struct lr_otlp_field f;
    struct lr_slice
        service_name; /* resource attribute service.name (string value); len 0 if absent */
    uint32_t first_scope, n_scopes; /* index range into lr_otlp_view.scopes */
};

/* One Scope{Spans,Metrics,Logs} entry inside a resource. */
struct lr_otlp_scope {
    struct lr_otlp_field f;
    uint32_t resource;            /* index into lr_otlp_view.resources */
    uint32_t first_item, n_items; /* index range into lr_otlp_view.items */
};

/* One Span, Metric or LogRecord inside a scope. For traces every field is filled; for logs the
 * trace and span ids are filled when present (has_trace_id) and name/kind/status are zero; for
 * metrics only f, scope, name (the metric name) and n_points are filled. */
struct lr_otlp_item {
    struct lr_otlp_field f;
    uint32_t scope; /* index into lr_otlp_view.scopes */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8];
    bool has_trace_id;         /* a 16-byte trace_id was present */
    bool has_parent;           /* a non-empty parent_span_id was present */
    uint32_t kind;             /* Span.SpanKind */
    uint32_t status_code;      /* Status.StatusCode (0 unset, 1 ok, 2 error) */
    uint64_t start_ns, end_ns; /* span start/end; for logs: time_unix_nano, 0 */
    struct lr_slice name;      /* span name / metric name; empty for logs */
    uint32_t n_points;         /* metrics: data points in this metric; traces/logs: 1 */

    /* Traces only: Span.trace_state (field 3). `trace_state` is the value protobuf keeps (the
     * last occurrence; empty if absent) and [trace_state_off, +trace_state_len) the whole field
     * holding it (tag, length prefix, payload; 0/0 when absent). n_trace_state counts the
     * occurrences: when above 1, the earlier ones lie elsewhere in the span (a rewrite must drop
     * them too, see lr_dp_otlp_splice_spans()). */
    struct lr_slice trace_state;
    uint32_t trace_state_off, trace_state_len;
    uint32_t n_trace_state;
};

/* Caller-owned storage the walker fills. The walker never allocates: when a request holds more
 * entries than a capacity allows, it still validates and counts everything, sets `truncated`
 * and stops recording; the caller may grow the arrays and walk again. */
struct lr_otlp_view {
    enum lr_signal signal;
    struct lr_otlp_resource *resources;
    uint32_t resources_cap, n_resources;
    struct lr_otlp_scope *scopes;
    uint32_t scopes_cap, n_scopes;
    struct lr_otlp_item *items;
    uint32_t items_cap, n_items; /* spans / metrics / log records recorded (<= cap) */
    bool truncated;              /* some entry did not fit its capacity */

    /* Counts over the whole request, exact even when truncated. */
    uint64_t n_spans, n_points, n_log_records;

    /* On error: the byte offset where the walker stopped and a static reason string. */
    uint32_t err_off;
    const char *err_reason;
};

/* Walks `body` (borrows) as an Export{Trace,Metrics,Logs}ServiceRequest of signal `sig`.
 * Resets and fills `v` (its arrays and capacities must be set by the caller; NULL arrays with
 * capacity 0 give counts only).
 * Returns 0 when the body is valid, LR_E_MALFORMED with v->err_off/v->err_reason set when not.
 * Maximum nesting depth of AnyValue (arrays / kvlists) is LR_OTLP_MAX_DEPTH.
 * Thread-safe: no global state. */
#define LR_OTLP_MAX_DEPTH 32
int lr_dp_otlp_walk(enum lr_signal sig, const uint8_t *body, size_t len, struct lr_otlp_view *v);

#endif
