/* Per-trace splitting of an ExportTraceServiceRequest by splicing (dataplane/otlp_split.c).
 *
 * The Collector's kafka exporter with partition_traces_by_id writes one record per trace, keyed
 * by the trace id. linerate does the same without decoding into objects: it copies the byte
 * ranges that belong to one trace (the resource and scope bodies without their span children, and
 * the spans of that trace) and rewrites the length prefixes. A request that holds one trace only
 * is forwarded byte for byte. */
#ifndef LINERATE_DP_OTLP_SPLIT_H
#define LINERATE_DP_OTLP_SPLIT_H

#include <stddef.h>
#include <stdint.h>

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

#endif
