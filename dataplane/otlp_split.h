/* Per-trace splitting of an ExportTraceServiceRequest by splicing (dataplane/otlp_split.c).
 *
 * The Collector's kafka exporter with partition_traces_by_id writes one record per trace, keyed
 * by the trace id. linerate does the same without decoding into objects: it copies the byte
 * ranges that belong to one trace (the resource and scope bodies without their span children, and
 * the spans of that trace) and rewrites the length prefixes. A request that holds one trace only
 * is forwarded byte for byte.
 *
 * The same splicing keeps an arbitrary subset of spans (sampling), optionally rewriting each kept
 * span's trace_state, or of log records: an ExportLogsServiceRequest has the same shape
 * (resource_logs = 1; ResourceLogs: resource = 1, scope_logs = 2; ScopeLogs: scope = 1,
 * log_records = 2). */
#ifndef LINERATE_DP_OTLP_SPLIT_H
#define LINERATE_DP_OTLP_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "linerate/otlp.h"

/* Called once per distinct trace id, in order of first appearance in the request. `value` is a
 * complete ExportTraceServiceRequest holding exactly the spans of that trace (borrowed: valid only
 * during the call; it is `body` itself when the request holds one trace). Spans without a 16-byte
 * trace id are grouped under the all-zero id. Return 0 to go on, negative to stop (returned by
 * lr_dp_otlp_split_traces). */
typedef int (*lr_dp_split_emit_fn)(void *ctx, const uint8_t trace_id[16], uint64_t n_spans,
                                   const uint8_t *value, size_t len);

/* Splits `body` (borrows), already walked into `v` with LR_SIG_TRACES and not truncated.
 * Returns 0, the first negative value `emit` returned, -EINVAL when `v` is truncated or not a
 * traces view, or -ENOMEM. Allocates one scratch buffer per call at most (freed before return). */
int lr_dp_otlp_split_traces(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                            lr_dp_split_emit_fn emit, void *ctx);

/* Splices `body` (borrows), already walked into `v` with LR_SIG_TRACES and not truncated, into
 * `out` (borrows, `cap` bytes): an ExportTraceServiceRequest holding exactly the spans i with
 * keep[i] != 0, in body order (the building block of head/tail sampling).
 *
 * keep: v->n_items entries, or NULL to keep every span.
 * trace_state: NULL, or v->n_items slices. For a kept span i with trace_state[i].p != NULL the
 *   span's trace_state (Span field 3) becomes that string (valid UTF-8, not checked; at most
 *   UINT32_MAX bytes): written where the span's last trace_state field was, or appended after its
 *   last field when it had none; every other occurrence of field 3 is dropped. An empty string
 *   (len 0, p != NULL) removes the field. p == NULL leaves the span's bytes as they are.
 *
 * Kept spans are copied byte for byte apart from the trace_state field (and, when that changes,
 * the span's own length prefix); resources and scopes left without a kept span are dropped; the
 * rest of every resource and scope (resource, scope, schema_url, unknown fields) and the
 * request's own fields other than resource_spans are copied in their original order. Rewritten
 * length prefixes are minimal varints. When every span is kept and no trace_state is replaced,
 * the output is `body` itself, byte for byte (empty resources and scopes included).
 *
 * Returns the output length (when no span is kept: the request's fields other than
 * resource_spans, usually none, so 0: a valid empty request), -ENOSPC when `cap` is too small
 * (nothing written; lr_dp_otlp_splice_bound() always suffices), or
 * -EINVAL when `v` is truncated or not a traces view or a replacement is longer than UINT32_MAX.
 * O(len + replacement bytes); allocates nothing; thread-safe. */
ssize_t lr_dp_otlp_splice_spans(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                                const uint8_t *keep, const struct lr_slice *trace_state,
                                uint8_t *out, size_t cap);

/* A capacity for lr_dp_otlp_splice_spans() that suffices for any keep mask with these
 * replacements (`trace_state` as there): `len` itself when trace_state is NULL or replaces
 * nothing, since the output is then a sub-selection of the body with minimal headers. */
/* lr_dp_otlp_splice_spans() for a traces or a logs view: `v` walked with LR_SIG_TRACES or
 * LR_SIG_LOGS, `keep` over its spans or log records. trace_state is for traces only: with a logs
 * view it must be NULL (LogRecord field 3 is severity_text), else -EINVAL. Kept log records are
 * copied byte for byte. Otherwise as lr_dp_otlp_splice_spans(), including the return values. */
ssize_t lr_dp_otlp_splice_items(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                                const uint8_t *keep, const struct lr_slice *trace_state,
                                uint8_t *out, size_t cap);

size_t lr_dp_otlp_splice_bound(size_t len, const struct lr_otlp_view *v,
                               const struct lr_slice *trace_state);

#endif
