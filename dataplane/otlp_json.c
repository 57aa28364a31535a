/* OTLP/JSON to protobuf transcoding, and the JSON answers (dataplane/otlp_json.h).
 *
 * Rules: the OTLP specification, "JSON Protobuf Encoding" (OTLP 1.4), on top of the proto3 JSON
 * mapping. Keys are the lowerCamelCase JSON names; the original snake_case proto names are
 * accepted too, as the mapping requires of parsers. traceId/spanId/parentSpanId (spans, links,
 * logs, exemplars) are hex, not base64, case-insensitive, "" = absent; other bytes
 * (AnyValue.bytesValue) are base64, standard or URL-safe, padding optional. Enums are integers or
 * their value names. 64-bit integers are numbers or strings; doubles are numbers or the strings
 * "NaN", "Infinity", "-Infinity" (or a numeric string). null means absent; unknown keys are
 * skipped whatever their value.
 *
 * json-c builds the tree (its tokener bounds the depth and validates UTF-8); the protobuf wire
 * format is written directly into one growable buffer, walking the tree against a table per
 * message type. An embedded message reserves one length byte and is moved up when its body turns
 * out to need a longer varint, so each byte moves at most once per enclosing level (about 6 for a
 * span), and no per-field allocation happens on our side. */
#include "otlp_json.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "linerate/error.h"

/* ---- message tables ------------------------------------------------------------------------- */

enum kind {
    K_STRING,    /* string */
    K_BYTES_B64, /* bytes, base64 */
    K_ID,        /* bytes, hex, exactly fdesc.size bytes; "" = absent */
    K_BOOL,
    K_UINT32,   /* varint */
    K_ENUM,     /* int32 varint; number or value name */
    K_SINT32,   /* zigzag varint */
    K_FIXED32,  /* uint32 range */
    K_FIXED64,  /* uint64 range */
    K_SFIXED64, /* int64 range */
    K_INT64,    /* varint, int64 range */
    K_DOUBLE,
    K_MSG,
    K_REP_MSG,
    K_REP_FIXED64, /* packed */
    K_REP_UINT64,  /* packed varint */
    K_REP_DOUBLE,  /* packed */
};

/* Emit even when the value is the default: oneof members and proto3 `optional` fields have
 * presence, so a zero there is information. */
#define F_PRESENCE 1u

struct enum_names {
    const char *const *names; /* indexed by value */
    int n;
};

struct mdesc;

struct fdesc {
    const char *name; /* lowerCamelCase JSON name; the snake_case form is derived */
    uint8_t num;      /* field number, < 32 in OTLP 1.4 (the seen-mask relies on it) */
    uint8_t kind;
    uint8_t flags;
    uint8_t oneof; /* 0, or a oneof id unique within the message (1..7) */
    uint8_t size;  /* K_ID: bytes */
    const struct mdesc *sub;
    const struct enum_names *en;
};

struct mdesc {
    const char *name;
    const struct fdesc *f;
    int n;
};

#define MD(var, nm, arr) static const struct mdesc var = { nm, arr, sizeof(arr) / sizeof(arr[0]) }

static const char *const span_kind_names[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};
static const char *const status_code_names[] = {
    "STATUS_CODE_UNSET",
    "STATUS_CODE_OK",
    "STATUS_CODE_ERROR",
};
static const char *const temporality_names[] = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
};
static const char *const severity_names[] = {
    "SEVERITY_NUMBER_UNSPECIFIED", "SEVERITY_NUMBER_TRACE",  "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",      "SEVERITY_NUMBER_TRACE4", "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",      "SEVERITY_NUMBER_DEBUG3", "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",        "SEVERITY_NUMBER_INFO2",  "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",       "SEVERITY_NUMBER_WARN",   "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",       "SEVERITY_NUMBER_WARN4",  "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",      "SEVERITY_NUMBER_ERROR3", "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",       "SEVERITY_NUMBER_FATAL2", "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
};
#define EN(arr)                                  \
    {                                            \
        arr, (int)(sizeof(arr) / sizeof(arr[0])) \
    }
static const struct enum_names en_span_kind = EN(span_kind_names);
static const struct enum_names en_status_code = EN(status_code_names);
static const struct enum_names en_temporality = EN(temporality_names);
static const struct enum_names en_severity = EN(severity_names);

/* Forward declarations for the recursive types. */
static const struct mdesc md_any_value, md_key_value;

/* opentelemetry/proto/common/v1/common.proto */
static const struct fdesc f_array_value[] = {
    { "values", 1, K_REP_MSG, 0, 0, 0, &md_any_value, NULL },
};
static const struct fdesc f_kvlist_value[] = {
    { "values", 1, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
};
MD(md_array_value, "ArrayValue", f_array_value);
MD(md_kvlist_value, "KeyValueList", f_kvlist_value);
static const struct fdesc f_any_value[] = {
    { "stringValue", 1, K_STRING, F_PRESENCE, 1, 0, NULL, NULL },
    { "boolValue", 2, K_BOOL, F_PRESENCE, 1, 0, NULL, NULL },
    { "intValue", 3, K_INT64, F_PRESENCE, 1, 0, NULL, NULL },
    { "doubleValue", 4, K_DOUBLE, F_PRESENCE, 1, 0, NULL, NULL },
    { "arrayValue", 5, K_MSG, F_PRESENCE, 1, 0, &md_array_value, NULL },
    { "kvlistValue", 6, K_MSG, F_PRESENCE, 1, 0, &md_kvlist_value, NULL },
    { "bytesValue", 7, K_BYTES_B64, F_PRESENCE, 1, 0, NULL, NULL },
};
static const struct mdesc md_any_value = { "AnyValue", f_any_value,
                                           sizeof(f_any_value) / sizeof(struct fdesc) };
static const struct fdesc f_key_value[] = {
    { "key", 1, K_STRING, 0, 0, 0, NULL, NULL },
    { "value", 2, K_MSG, 0, 0, 0, &md_any_value, NULL },
};
static const struct mdesc md_key_value = { "KeyValue", f_key_value,
                                           sizeof(f_key_value) / sizeof(struct fdesc) };
static const struct fdesc f_scope[] = {
    { "name", 1, K_STRING, 0, 0, 0, NULL, NULL },
    { "version", 2, K_STRING, 0, 0, 0, NULL, NULL },
    { "attributes", 3, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 4, K_UINT32, 0, 0, 0, NULL, NULL },
};
MD(md_scope, "InstrumentationScope", f_scope);

/* opentelemetry/proto/resource/v1/resource.proto (1.4 has no entity_refs: skipped as unknown) */
static const struct fdesc f_resource[] = {
    { "attributes", 1, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 2, K_UINT32, 0, 0, 0, NULL, NULL },
};
MD(md_resource, "Resource", f_resource);

/* opentelemetry/proto/trace/v1/trace.proto */
static const struct fdesc f_event[] = {
    { "timeUnixNano", 1, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "name", 2, K_STRING, 0, 0, 0, NULL, NULL },
    { "attributes", 3, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 4, K_UINT32, 0, 0, 0, NULL, NULL },
};
MD(md_event, "Span.Event", f_event);
static const struct fdesc f_link[] = {
    { "traceId", 1, K_ID, 0, 0, 16, NULL, NULL },
    { "spanId", 2, K_ID, 0, 0, 8, NULL, NULL },
    { "traceState", 3, K_STRING, 0, 0, 0, NULL, NULL },
    { "attributes", 4, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 5, K_UINT32, 0, 0, 0, NULL, NULL },
    { "flags", 6, K_FIXED32, 0, 0, 0, NULL, NULL },
};
MD(md_link, "Span.Link", f_link);
static const struct fdesc f_status[] = {
    { "message", 2, K_STRING, 0, 0, 0, NULL, NULL },
    { "code", 3, K_ENUM, 0, 0, 0, NULL, &en_status_code },
};
MD(md_status, "Status", f_status);
static const struct fdesc f_span[] = {
    { "traceId", 1, K_ID, 0, 0, 16, NULL, NULL },
    { "spanId", 2, K_ID, 0, 0, 8, NULL, NULL },
    { "traceState", 3, K_STRING, 0, 0, 0, NULL, NULL },
    { "parentSpanId", 4, K_ID, 0, 0, 8, NULL, NULL },
    { "flags", 16, K_FIXED32, 0, 0, 0, NULL, NULL },
    { "name", 5, K_STRING, 0, 0, 0, NULL, NULL },
    { "kind", 6, K_ENUM, 0, 0, 0, NULL, &en_span_kind },
    { "startTimeUnixNano", 7, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "endTimeUnixNano", 8, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "attributes", 9, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 10, K_UINT32, 0, 0, 0, NULL, NULL },
    { "events", 11, K_REP_MSG, 0, 0, 0, &md_event, NULL },
    { "droppedEventsCount", 12, K_UINT32, 0, 0, 0, NULL, NULL },
    { "links", 13, K_REP_MSG, 0, 0, 0, &md_link, NULL },
    { "droppedLinksCount", 14, K_UINT32, 0, 0, 0, NULL, NULL },
    { "status", 15, K_MSG, 0, 0, 0, &md_status, NULL },
};
MD(md_span, "Span", f_span);
static const struct fdesc f_scope_spans[] = {
    { "scope", 1, K_MSG, 0, 0, 0, &md_scope, NULL },
    { "spans", 2, K_REP_MSG, 0, 0, 0, &md_span, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_scope_spans, "ScopeSpans", f_scope_spans);
static const struct fdesc f_resource_spans[] = {
    { "resource", 1, K_MSG, 0, 0, 0, &md_resource, NULL },
    { "scopeSpans", 2, K_REP_MSG, 0, 0, 0, &md_scope_spans, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_resource_spans, "ResourceSpans", f_resource_spans);
static const struct fdesc f_trace_req[] = {
    { "resourceSpans", 1, K_REP_MSG, 0, 0, 0, &md_resource_spans, NULL },
};
MD(md_trace_req, "ExportTraceServiceRequest", f_trace_req);

/* opentelemetry/proto/metrics/v1/metrics.proto */
static const struct fdesc f_exemplar[] = {
    { "filteredAttributes", 7, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "timeUnixNano", 2, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "asDouble", 3, K_DOUBLE, F_PRESENCE, 1, 0, NULL, NULL },
    { "asInt", 6, K_SFIXED64, F_PRESENCE, 1, 0, NULL, NULL },
    { "spanId", 4, K_ID, 0, 0, 8, NULL, NULL },
    { "traceId", 5, K_ID, 0, 0, 16, NULL, NULL },
};
MD(md_exemplar, "Exemplar", f_exemplar);
static const struct fdesc f_number_dp[] = {
    { "attributes", 7, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "startTimeUnixNano", 2, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "timeUnixNano", 3, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "asDouble", 4, K_DOUBLE, F_PRESENCE, 1, 0, NULL, NULL },
    { "asInt", 6, K_SFIXED64, F_PRESENCE, 1, 0, NULL, NULL },
    { "exemplars", 5, K_REP_MSG, 0, 0, 0, &md_exemplar, NULL },
    { "flags", 8, K_UINT32, 0, 0, 0, NULL, NULL },
};
MD(md_number_dp, "NumberDataPoint", f_number_dp);
static const struct fdesc f_histogram_dp[] = {
    { "attributes", 9, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "startTimeUnixNano", 2, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "timeUnixNano", 3, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "count", 4, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "sum", 5, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
    { "bucketCounts", 6, K_REP_FIXED64, 0, 0, 0, NULL, NULL },
    { "explicitBounds", 7, K_REP_DOUBLE, 0, 0, 0, NULL, NULL },
    { "exemplars", 8, K_REP_MSG, 0, 0, 0, &md_exemplar, NULL },
    { "flags", 10, K_UINT32, 0, 0, 0, NULL, NULL },
    { "min", 11, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
    { "max", 12, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
};
MD(md_histogram_dp, "HistogramDataPoint", f_histogram_dp);
static const struct fdesc f_buckets[] = {
    { "offset", 1, K_SINT32, 0, 0, 0, NULL, NULL },
    { "bucketCounts", 2, K_REP_UINT64, 0, 0, 0, NULL, NULL },
};
MD(md_buckets, "ExponentialHistogramDataPoint.Buckets", f_buckets);
static const struct fdesc f_exp_histogram_dp[] = {
    { "attributes", 1, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "startTimeUnixNano", 2, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "timeUnixNano", 3, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "count", 4, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "sum", 5, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
    { "scale", 6, K_SINT32, 0, 0, 0, NULL, NULL },
    { "zeroCount", 7, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "positive", 8, K_MSG, 0, 0, 0, &md_buckets, NULL },
    { "negative", 9, K_MSG, 0, 0, 0, &md_buckets, NULL },
    { "flags", 10, K_UINT32, 0, 0, 0, NULL, NULL },
    { "exemplars", 11, K_REP_MSG, 0, 0, 0, &md_exemplar, NULL },
    { "min", 12, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
    { "max", 13, K_DOUBLE, F_PRESENCE, 0, 0, NULL, NULL },
    { "zeroThreshold", 14, K_DOUBLE, 0, 0, 0, NULL, NULL },
};
MD(md_exp_histogram_dp, "ExponentialHistogramDataPoint", f_exp_histogram_dp);
static const struct fdesc f_value_at_quantile[] = {
    { "quantile", 1, K_DOUBLE, 0, 0, 0, NULL, NULL },
    { "value", 2, K_DOUBLE, 0, 0, 0, NULL, NULL },
};
MD(md_value_at_quantile, "SummaryDataPoint.ValueAtQuantile", f_value_at_quantile);
static const struct fdesc f_summary_dp[] = {
    { "attributes", 7, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "startTimeUnixNano", 2, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "timeUnixNano", 3, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "count", 4, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "sum", 5, K_DOUBLE, 0, 0, 0, NULL, NULL },
    { "quantileValues", 6, K_REP_MSG, 0, 0, 0, &md_value_at_quantile, NULL },
    { "flags", 8, K_UINT32, 0, 0, 0, NULL, NULL },
};
MD(md_summary_dp, "SummaryDataPoint", f_summary_dp);
static const struct fdesc f_gauge[] = {
    { "dataPoints", 1, K_REP_MSG, 0, 0, 0, &md_number_dp, NULL },
};
MD(md_gauge, "Gauge", f_gauge);
static const struct fdesc f_sum[] = {
    { "dataPoints", 1, K_REP_MSG, 0, 0, 0, &md_number_dp, NULL },
    { "aggregationTemporality", 2, K_ENUM, 0, 0, 0, NULL, &en_temporality },
    { "isMonotonic", 3, K_BOOL, 0, 0, 0, NULL, NULL },
};
MD(md_sum, "Sum", f_sum);
static const struct fdesc f_histogram[] = {
    { "dataPoints", 1, K_REP_MSG, 0, 0, 0, &md_histogram_dp, NULL },
    { "aggregationTemporality", 2, K_ENUM, 0, 0, 0, NULL, &en_temporality },
};
MD(md_histogram, "Histogram", f_histogram);
static const struct fdesc f_exp_histogram[] = {
    { "dataPoints", 1, K_REP_MSG, 0, 0, 0, &md_exp_histogram_dp, NULL },
    { "aggregationTemporality", 2, K_ENUM, 0, 0, 0, NULL, &en_temporality },
};
MD(md_exp_histogram, "ExponentialHistogram", f_exp_histogram);
static const struct fdesc f_summary[] = {
    { "dataPoints", 1, K_REP_MSG, 0, 0, 0, &md_summary_dp, NULL },
};
MD(md_summary, "Summary", f_summary);
static const struct fdesc f_metric[] = {
    { "name", 1, K_STRING, 0, 0, 0, NULL, NULL },
    { "description", 2, K_STRING, 0, 0, 0, NULL, NULL },
    { "unit", 3, K_STRING, 0, 0, 0, NULL, NULL },
    { "gauge", 5, K_MSG, F_PRESENCE, 1, 0, &md_gauge, NULL },
    { "sum", 7, K_MSG, F_PRESENCE, 1, 0, &md_sum, NULL },
    { "histogram", 9, K_MSG, F_PRESENCE, 1, 0, &md_histogram, NULL },
    { "exponentialHistogram", 10, K_MSG, F_PRESENCE, 1, 0, &md_exp_histogram, NULL },
    { "summary", 11, K_MSG, F_PRESENCE, 1, 0, &md_summary, NULL },
    { "metadata", 12, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
};
MD(md_metric, "Metric", f_metric);
static const struct fdesc f_scope_metrics[] = {
    { "scope", 1, K_MSG, 0, 0, 0, &md_scope, NULL },
    { "metrics", 2, K_REP_MSG, 0, 0, 0, &md_metric, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_scope_metrics, "ScopeMetrics", f_scope_metrics);
static const struct fdesc f_resource_metrics[] = {
    { "resource", 1, K_MSG, 0, 0, 0, &md_resource, NULL },
    { "scopeMetrics", 2, K_REP_MSG, 0, 0, 0, &md_scope_metrics, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_resource_metrics, "ResourceMetrics", f_resource_metrics);
static const struct fdesc f_metrics_req[] = {
    { "resourceMetrics", 1, K_REP_MSG, 0, 0, 0, &md_resource_metrics, NULL },
};
MD(md_metrics_req, "ExportMetricsServiceRequest", f_metrics_req);

/* opentelemetry/proto/logs/v1/logs.proto. eventName (field 12) is newer than the 1.4 protos the
 * rest of linerate is generated from; it is written with its upstream number so that newer
 * consumers see it and older ones skip it as an unknown field. */
static const struct fdesc f_log_record[] = {
    { "timeUnixNano", 1, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "observedTimeUnixNano", 11, K_FIXED64, 0, 0, 0, NULL, NULL },
    { "severityNumber", 2, K_ENUM, 0, 0, 0, NULL, &en_severity },
    { "severityText", 3, K_STRING, 0, 0, 0, NULL, NULL },
    { "body", 5, K_MSG, 0, 0, 0, &md_any_value, NULL },
    { "attributes", 6, K_REP_MSG, 0, 0, 0, &md_key_value, NULL },
    { "droppedAttributesCount", 7, K_UINT32, 0, 0, 0, NULL, NULL },
    { "flags", 8, K_FIXED32, 0, 0, 0, NULL, NULL },
    { "traceId", 9, K_ID, 0, 0, 16, NULL, NULL },
    { "spanId", 10, K_ID, 0, 0, 8, NULL, NULL },
    { "eventName", 12, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_log_record, "LogRecord", f_log_record);
static const struct fdesc f_scope_logs[] = {
    { "scope", 1, K_MSG, 0, 0, 0, &md_scope, NULL },
    { "logRecords", 2, K_REP_MSG, 0, 0, 0, &md_log_record, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_scope_logs, "ScopeLogs", f_scope_logs);
static const struct fdesc f_resource_logs[] = {
    { "resource", 1, K_MSG, 0, 0, 0, &md_resource, NULL },
    { "scopeLogs", 2, K_REP_MSG, 0, 0, 0, &md_scope_logs, NULL },
    { "schemaUrl", 3, K_STRING, 0, 0, 0, NULL, NULL },
};
MD(md_resource_logs, "ResourceLogs", f_resource_logs);
static const struct fdesc f_logs_req[] = {
    { "resourceLogs", 1, K_REP_MSG, 0, 0, 0, &md_resource_logs, NULL },
};
MD(md_logs_req, "ExportLogsServiceRequest", f_logs_req);

static const struct mdesc *const request_desc[LR_SIG_COUNT] = {
    &md_trace_req,
    &md_metrics_req,
    &md_logs_req,
};

/* ---- context, errors ------------------------------------------------------------------------ */

struct seg {
    const char *key; /* NULL: an array index */
    size_t idx;
};

struct ctx {
    struct lr_dp_json_out *out;
    char *err;
    size_t errlen;
    /* Every level pushes at most one segment and the tokener bounds the levels. */
    struct seg path[LR_DP_JSON_MAX_DEPTH + 2];
    int depth;
    /* The body holds an integer literal beyond 64 bits. json-c clamps those silently to
     * INT64_MIN / UINT64_MAX, so a value equal to a clamp bound is then refused. */
    bool wide_int;
};

static size_t put_path(const struct ctx *c, char *b, size_t cap)
{
    size_t pos = 0;
    for (int i = 0; i < c->depth && pos < cap; i++) {
        int n;
        if (c->path[i].key)
            n = snprintf(b + pos, cap - pos, "%s%s", i ? "." : "", c->path[i].key);
        else
            n = snprintf(b + pos, cap - pos, "[%zu]", c->path[i].idx);
        if (n < 0)
            break;
        pos += (size_t)n;
    }
    return pos < cap ? pos : cap;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(struct ctx *c, const char *fmt, ...)
{
    if (c->errlen) {
        size_t pos = put_path(c, c->err, c->errlen);
        if (pos < c->errlen && c->depth > 0) {
            int n = snprintf(c->err + pos, c->errlen - pos, ": ");
            pos += n > 0 ? (size_t)n : 0;
        }
        if (pos < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + pos, c->errlen - pos, fmt, ap);
            va_end(ap);
        }
        c->err[c->errlen - 1] = '\0';
    }
    return LR_E_MALFORMED;
}

static int oom(struct ctx *c)
{
    if (c->errlen)
        snprintf(c->err, c->errlen, "out of memory");
    return -ENOMEM;
}

static void push_key(struct ctx *c, const char *key)
{
    c->path[c->depth].key = key;
    c->path[c->depth].idx = 0;
    c->depth++;
}

static void push_idx(struct ctx *c, size_t idx)
{
    c->path[c->depth].key = NULL;
    c->path[c->depth].idx = idx;
    c->depth++;
}

/* ---- wire writing --------------------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Makes room for n more bytes. */
static int reserve(struct ctx *c, size_t n)
{
    struct lr_dp_json_out *o = c->out;
    if (o->cap - o->len >= n)
        return 0;
    if (n > SIZE_MAX / 4 - o->len)
        return oom(c);
    size_t need = o->len + n;
    size_t cap = o->cap < 256 ? 256 : o->cap;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(o->p, cap);
    if (!p)
        return oom(c);
    o->p = p;
    o->cap = cap;
    return 0;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The w* writers need the room reserved beforehand. */
static void wvarint(struct lr_dp_json_out *o, uint64_t v)
{
    while (v >= 0x80) {
        o->p[o->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o->p[o->len++] = (uint8_t)v;
}

static void wtag(struct lr_dp_json_out *o, unsigned num, unsigned wt)
{
    wvarint(o, (uint64_t)num << 3 | wt);
}

static void wfixed64(struct lr_dp_json_out *o, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        o->p[o->len++] = (uint8_t)(v >> (8 * i));
}

static void wfixed32(struct lr_dp_json_out *o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o->p[o->len++] = (uint8_t)(v >> (8 * i));
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Opens a length-delimited field with a one-byte length placeholder; *mark remembers it. */
static int len_begin(struct ctx *c, unsigned num, size_t *mark)
{
    if (reserve(c, 6))
        return -ENOMEM;
    wtag(c->out, num, WT_LEN);
    *mark = c->out->len;
    c->out->p[c->out->len++] = 0;
    return 0;
}

/* Closes the field opened at mark: writes the minimal varint length, moving the body up when it
 * needs more than one byte. */
static int len_end(struct ctx *c, size_t mark)
{
    struct lr_dp_json_out *o = c->out;
    size_t body = o->len - mark - 1;
    size_t vl = varint_len(body);
    if (vl > 1) {
        if (reserve(c, vl - 1))
            return -ENOMEM;
        memmove(o->p + mark + vl, o->p + mark + 1, body);
    }
    size_t end = mark + vl + body;
    o->len = mark;
    wvarint(o, body);
    o->len = end;
    return 0;
}

/* ---- JSON scalars --------------------------------------------------------------------------- */

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "?";
}

/* JSON number grammar (RFC 8259 section 6) over s[0..n); *is_int: no fraction, no exponent. */
static bool number_syntax(const char *s, size_t n, bool *is_int)
{
    size_t i = 0;
    *is_int = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        *is_int = false;
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *is_int = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

#define TWO_POW_64 18446744073709551616.0

/* A double holding an integer value: sign and magnitude, when integral and below 2^64. */
static bool double_to_int(double d, bool *neg, uint64_t *mag)
{
    if (!(d > -TWO_POW_64 && d < TWO_POW_64)) /* also refuses NaN */
        return false;
    *neg = d < 0;
    double a = *neg ? -d : d;
    uint64_t m = (uint64_t)a;
    if ((double)m != a)
        return false;
    *mag = m;
    return true;
}

/* Reads an integer given as a JSON number or a string holding one (protobuf JSON: 64-bit
 * integers are strings; parsers accept both for every integer type). Exact: digits are
 * accumulated, never routed through a double unless written with a fraction or exponent. */
static int get_integer(struct ctx *c, json_object *v, bool *neg, uint64_t *mag)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i < 0) {
            if (c->wide_int && i == INT64_MIN)
                return fail(c, "integer out of range");
            *neg = true;
            *mag = (uint64_t)0 - (uint64_t)i;
        } else {
            uint64_t u = json_object_get_uint64(v);
            if (c->wide_int && u == UINT64_MAX)
                return fail(c, "integer out of range");
            *neg = false;
            *mag = u;
        }
        return 0;
    }
    case json_type_double:
        if (!double_to_int(json_object_get_double(v), neg, mag))
            return fail(c, "not an integer or out of range");
        return 0;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        bool is_int;
        if (!number_syntax(s, n, &is_int))
            return fail(c, "string is not a decimal integer");
        if (!is_int) {
            if (!double_to_int(strtod(s, NULL), neg, mag))
                return fail(c, "not an integer or out of range");
            return 0;
        }
        size_t i = 0;
        *neg = s[0] == '-';
        if (*neg)
            i++;
        uint64_t m = 0;
        for (; i < n; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (m > (UINT64_MAX - d) / 10)
                return fail(c, "integer out of range");
            m = m * 10 + d;
        }
        *mag = m;
        return 0;
    }
    default:
        return fail(c, "expected an integer, got %s", type_name(v));
    }
}

static int get_uint(struct ctx *c, json_object *v, uint64_t max, uint64_t *out)
{
    bool neg;
    uint64_t mag;
    int rc = get_integer(c, v, &neg, &mag);
    if (rc)
        return rc;
    if ((neg && mag != 0) || mag > max)
        return fail(c, "integer out of range");
    *out = mag;
    return 0;
}

static int get_sint(struct ctx *c, json_object *v, int64_t min, int64_t max, int64_t *out)
{
    bool neg;
    uint64_t mag;
    int rc = get_integer(c, v, &neg, &mag);
    if (rc)
        return rc;
    if (neg) {
        if (mag > (uint64_t)0 - (uint64_t)min)
            return fail(c, "integer out of range");
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)max)
            return fail(c, "integer out of range");
        *out = (int64_t)mag;
    }
    return 0;
}

static int get_double(struct ctx *c, json_object *v, double *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i < 0) {
            if (c->wide_int && i == INT64_MIN)
                return fail(c, "integer literal beyond 64 bits (write it with an exponent)");
            *out = (double)i;
        } else {
            uint64_t u = json_object_get_uint64(v);
            if (c->wide_int && u == UINT64_MAX)
                return fail(c, "integer literal beyond 64 bits (write it with an exponent)");
            *out = (double)u;
        }
        return 0;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        /* Non-finite here comes from an overflowing literal (1e999) or json-c's NaN/Infinity
         * extension; protobuf JSON spells those as strings. */
        if (!(d - d == 0))
            return fail(c, "number out of range (use \"NaN\", \"Infinity\", \"-Infinity\")");
        *out = d;
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        bool is_int;
        if (n == 3 && memcmp(s, "NaN", 3) == 0) {
            *out = __builtin_nan("");
            return 0;
        }
        if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
            *out = __builtin_inf();
            return 0;
        }
        if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
            *out = -__builtin_inf();
            return 0;
        }
        if (!number_syntax(s, n, &is_int))
            return fail(c, "string is not a number");
        double d = strtod(s, NULL);
        if (!(d - d == 0))
            return fail(c, "number out of range");
        *out = d;
        return 0;
    }
    default:
        return fail(c, "expected a number, got %s", type_name(v));
    }
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Validates base64 (RFC 4648 sections 4 and 5, padding optional); returns the decoded length or
 * -1. *data_len receives the length without padding. */
static long long b64_decoded_len(const char *s, size_t n, size_t *data_len)
{
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    size_t r = n - pad;
    if (r % 4 == 1 || (pad && (r + pad) % 4 != 0))
        return -1;
    for (size_t i = 0; i < r; i++)
        if (b64val((unsigned char)s[i]) < 0)
            return -1;
    *data_len = r;
    return (long long)(r / 4 * 3 + (r % 4 == 2 ? 1 : r % 4 == 3 ? 2 : 0));
}

static void b64_decode(const char *s, size_t r, uint8_t *dst)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < r; i++) {
        acc = acc << 6 | (uint32_t)b64val((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *dst++ = (uint8_t)(acc >> bits);
        }
    }
}

/* ---- messages ------------------------------------------------------------------------------- */

static int emit_fields(struct ctx *c, const struct mdesc *m, json_object *obj);

/* Matches a JSON key against a field: its lowerCamelCase name, or the snake_case proto name
 * derived from it (each capital becomes '_' + lowercase). */
static bool key_matches(const char *key, const char *camel)
{
    if (strcmp(key, camel) == 0)
        return true;
    for (;; camel++) {
        char ch = *camel;
        if (ch >= 'A' && ch <= 'Z') {
            if (*key++ != '_')
                return false;
            ch = (char)(ch - 'A' + 'a');
        }
        if (*key++ != ch)
            return false;
        if (ch == '\0')
            return true;
    }
}

static int emit_message(struct ctx *c, const struct fdesc *f, json_object *v)
{
    if (!json_object_is_type(v, json_type_object))
        return fail(c, "expected an object, got %s", type_name(v));
    size_t mark;
    int rc = len_begin(c, f->num, &mark);
    if (!rc)
        rc = emit_fields(c, f->sub, v);
    if (!rc)
        rc = len_end(c, mark);
    return rc;
}

static int emit_packed(struct ctx *c, const struct fdesc *f, json_object *arr)
{
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return 0;
    size_t mark;
    int rc = len_begin(c, f->num, &mark);
    for (size_t i = 0; i < n && !rc; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        push_idx(c, i);
        if (!e) {
            rc = fail(c, "null in an array");
        } else if (f->kind == K_REP_DOUBLE) {
            double d;
            rc = get_double(c, e, &d);
            if (!rc && !(rc = reserve(c, 8)))
                wfixed64(c->out, double_bits(d));
        } else {
            uint64_t u;
            rc = get_uint(c, e, UINT64_MAX, &u);
            if (!rc && !(rc = reserve(c, 10))) {
                if (f->kind == K_REP_FIXED64)
                    wfixed64(c->out, u);
                else
                    wvarint(c->out, u);
            }
        }
        c->depth--;
    }
    if (!rc)
        rc = len_end(c, mark);
    return rc;
}

static int emit_string(struct ctx *c, const struct fdesc *f, json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "expected a string, got %s", type_name(v));
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0 && !(f->flags & F_PRESENCE))
        return 0;
    if (reserve(c, 16 + n))
        return -ENOMEM;
    wtag(c->out, f->num, WT_LEN);
    wvarint(c->out, n);
    memcpy(c->out->p + c->out->len, json_object_get_string(v), n);
    c->out->len += n;
    return 0;
}

static int emit_id(struct ctx *c, const struct fdesc *f, json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "expected a hex string, got %s", type_name(v));
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0)
        return 0; /* OTLP: an empty id is an absent id */
    const char *s = json_object_get_string(v);
    if (n != 2u * f->size)
        return fail(c, "not %u hex characters", 2u * f->size);
    if (reserve(c, 2 + f->size))
        return -ENOMEM;
    struct lr_dp_json_out *o = c->out;
    wtag(o, f->num, WT_LEN);
    wvarint(o, f->size);
    for (size_t i = 0; i < f->size; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail(c, "not %u hex characters", 2u * f->size);
        o->p[o->len++] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int emit_b64(struct ctx *c, const struct fdesc *f, json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "expected a base64 string, got %s", type_name(v));
    const char *s = json_object_get_string(v);
    size_t r;
    long long n = b64_decoded_len(s, (size_t)json_object_get_string_len(v), &r);
    if (n < 0)
        return fail(c, "invalid base64");
    if (n == 0 && !(f->flags & F_PRESENCE))
        return 0;
    if (reserve(c, 16 + (size_t)n))
        return -ENOMEM;
    wtag(c->out, f->num, WT_LEN);
    wvarint(c->out, (uint64_t)n);
    b64_decode(s, r, c->out->p + c->out->len);
    c->out->len += (size_t)n;
    return 0;
}

static int emit_enum(struct ctx *c, const struct fdesc *f, json_object *v)
{
    int64_t val = -1;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        for (int i = 0; i < f->en->n; i++)
            if (strcmp(s, f->en->names[i]) == 0)
                val = i;
        if (val < 0) {
            /* protobuf JSON also accepts the number as a string */
            bool is_int;
            if (!number_syntax(s, (size_t)json_object_get_string_len(v), &is_int))
                return fail(c, "unknown enum value name");
        }
    }
    if (val < 0) {
        int rc = get_sint(c, v, INT32_MIN, INT32_MAX, &val);
        if (rc)
            return rc;
    }
    if (val == 0)
        return 0;
    if (reserve(c, 16))
        return -ENOMEM;
    wtag(c->out, f->num, WT_VARINT);
    wvarint(c->out, (uint64_t)val); /* int32: negative values sign-extend to 10 bytes */
    return 0;
}

static int emit_scalar(struct ctx *c, const struct fdesc *f, json_object *v)
{
    bool always = f->flags & F_PRESENCE;
    uint64_t u = 0;
    int64_t s = 0;
    double d = 0;
    int rc;
    switch (f->kind) {
    case K_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(c, "expected a boolean, got %s", type_name(v));
        u = json_object_get_boolean(v) ? 1 : 0;
        break;
    case K_UINT32:
    case K_FIXED32:
        rc = get_uint(c, v, UINT32_MAX, &u);
        if (rc)
            return rc;
        break;
    case K_FIXED64:
        rc = get_uint(c, v, UINT64_MAX, &u);
        if (rc)
            return rc;
        break;
    case K_SINT32:
        rc = get_sint(c, v, INT32_MIN, INT32_MAX, &s);
        if (rc)
            return rc;
        u = ((uint64_t)s << 1) ^ (uint64_t)(s >> 63); /* zigzag */
        break;
    case K_SFIXED64:
    case K_INT64:
        rc = get_sint(c, v, INT64_MIN, INT64_MAX, &s);
        if (rc)
            return rc;
        u = (uint64_t)s;
        break;
    case K_DOUBLE:
        rc = get_double(c, v, &d);
        if (rc)
            return rc;
        u = double_bits(d); /* -0.0 is not the default: written */
        break;
    default:
        return fail(c, "internal: bad field kind");
    }
    if (u == 0 && !always)
        return 0;
    if (reserve(c, 16))
        return -ENOMEM;
    struct lr_dp_json_out *o = c->out;
    switch (f->kind) {
    case K_FIXED32:
        wtag(o, f->num, WT_I32);
        wfixed32(o, (uint32_t)u);
        break;
    case K_FIXED64:
    case K_SFIXED64:
    case K_DOUBLE:
        wtag(o, f->num, WT_I64);
        wfixed64(o, u);
        break;
    default:
        wtag(o, f->num, WT_VARINT);
        wvarint(o, u);
        break;
    }
    return 0;
}

static int emit_field(struct ctx *c, const struct fdesc *f, json_object *v)
{
    switch (f->kind) {
    case K_STRING:
        return emit_string(c, f, v);
    case K_BYTES_B64:
        return emit_b64(c, f, v);
    case K_ID:
        return emit_id(c, f, v);
    case K_ENUM:
        return emit_enum(c, f, v);
    case K_MSG:
        return emit_message(c, f, v);
    case K_REP_MSG:
    case K_REP_FIXED64:
    case K_REP_UINT64:
    case K_REP_DOUBLE: {
        if (!json_object_is_type(v, json_type_array))
            return fail(c, "expected an array, got %s", type_name(v));
        if (f->kind != K_REP_MSG)
            return emit_packed(c, f, v);
        size_t n = json_object_array_length(v);
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            push_idx(c, i);
            rc = emit_message(c, f, json_object_array_get_idx(v, i));
            c->depth--;
        }
        return rc;
    }
    default:
        return emit_scalar(c, f, v);
    }
}

/* Writes the fields of `obj` (a JSON object) described by `m`, in the order the keys appear. */
static int emit_fields(struct ctx *c, const struct mdesc *m, json_object *obj)
{
    uint32_t seen = 0, oneofs = 0;
    json_object_object_foreach(obj, key, val)
    {
        const struct fdesc *f = NULL;
        for (int i = 0; i < m->n; i++) {
            if (key_matches(key, m->f[i].name)) {
                f = &m->f[i];
                break;
            }
        }
        if (!f)
            continue; /* unknown field: skipped, whatever its value */
        int rc = 0;
        push_key(c, key);
        if (seen & (1u << f->num)) {
            rc = fail(c, "field given twice");
        } else if (val != NULL) { /* null: the field is absent */
            seen |= 1u << f->num;
            if (f->oneof) {
                if (oneofs & (1u << f->oneof))
                    rc = fail(c, "a second member of a oneof");
                oneofs |= 1u << f->oneof;
            }
            if (!rc)
                rc = emit_field(c, f, val);
        } else {
            seen |= 1u << f->num;
        }
        c->depth--;
        if (rc)
            return rc;
    }
    return 0;
}

/* Sets c->wide_int when the body holds an integer literal beyond int64/uint64 (see struct ctx).
 * Strings are skipped; single-quoted ones (a json-c extension) only cause a harmless false
 * positive. */
static bool has_wide_int(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t ch = p[i];
        if (ch == '"') {
            for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (ch != '-' && !(ch >= '0' && ch <= '9')) {
            i++;
            continue;
        }
        bool neg = ch == '-';
        if (neg)
            i++;
        while (i < n && p[i] == '0')
            i++;
        size_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        size_t nd = i - d;
        if (i < n && (p[i] == '.' || p[i] == 'e' || p[i] == 'E'))
            continue; /* a double literal: json-c parses those with strtod */
        const char *lim = neg ? "9223372036854775808" : "18446744073709551615";
        size_t ll = strlen(lim);
        if (nd > ll || (nd == ll && memcmp(p + d, lim, ll) > 0))
            return true;
    }
    return false;
}

void lr_dp_json_out_free(struct lr_dp_json_out *out)
{
    if (!out)
        return;
    free(out->p);
    out->p = NULL;
    out->len = out->cap = 0;
}

int lr_dp_otlp_json_to_proto(enum lr_signal sig, const uint8_t *json, size_t len,
                             struct lr_dp_json_out *out, char *err, size_t errlen)
{
    struct ctx c = { .out = out, .err = err, .errlen = errlen };
    out->len = 0;
    if (errlen)
        err[0] = '\0';
    if ((unsigned)sig >= LR_SIG_COUNT) {
        if (errlen)
            snprintf(err, errlen, "unknown signal");
        return LR_E_MALFORMED;
    }
    if (len > INT_MAX) {
        if (errlen)
            snprintf(err, errlen, "JSON body above %d bytes", INT_MAX);
        return LR_E_TOO_LARGE;
    }
    /* out->p is never NULL after a success, even for an empty message: callers hand it on to
     * functions that do pointer arithmetic on it. */
    if (reserve(&c, 1))
        return -ENOMEM;
    struct json_tokener *tok = json_tokener_new_ex(LR_DP_JSON_MAX_DEPTH);
    if (!tok)
        return oom(&c);
    /* STRICT: no comments, trailing commas or garbage after the value; VALIDATE_UTF8: protobuf
     * strings must be UTF-8. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, (const char *)json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    int rc = 0;
    if (jerr == json_tokener_continue) {
        rc = fail(&c, "invalid JSON at byte %zu: unexpected end of data", len);
    } else if (jerr != json_tokener_success) {
        rc = fail(&c, "invalid JSON at byte %zu: %s", end, json_tokener_error_desc(jerr));
    } else {
        for (size_t i = end; i < len && !rc; i++)
            if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' && json[i] != '\n')
                rc = fail(&c, "invalid JSON at byte %zu: data after the value", i);
        if (!rc && !json_object_is_type(root, json_type_object))
            rc = fail(&c, "expected an object at the top level, got %s", type_name(root));
    }
    if (!rc) {
        c.wide_int = has_wide_int(json, len);
        rc = emit_fields(&c, request_desc[sig], root);
    }
    json_object_put(root);
    json_tokener_free(tok);
    if (rc)
        out->len = 0;
    return rc;
}

/* ---- answers -------------------------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t cap, len; /* len may exceed cap: the length the full text needs */
};

static void sb_putc(struct sbuf *b, char ch)
{
    if (b->len + 1 < b->cap)
        b->p[b->len] = ch;
    b->len++;
}

static void sb_puts(struct sbuf *b, const char *s)
{
    while (*s)
        sb_putc(b, *s++);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, max U+10FFFF),
 * or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c0 = s[0];
    if (c0 < 0x80)
        return 1;
    if (c0 >= 0xc2 && c0 <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c0 >= 0xe0 && c0 <= 0xef) {
        unsigned char lo = c0 == 0xe0 ? 0xa0 : 0x80, hi = c0 == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c0 >= 0xf0 && c0 <= 0xf4) {
        unsigned char lo = c0 == 0xf0 ? 0x90 : 0x80, hi = c0 == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* A JSON string literal (RFC 8259 section 7); invalid UTF-8 becomes U+FFFD. The NUL terminator
 * stops utf8_seq's look-ahead, since no continuation byte is 0. */
static void sb_json_str(struct sbuf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    sb_putc(b, '"');
    while (*s) {
        unsigned char ch = *s;
        if (ch == '"' || ch == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)ch);
            s++;
        } else if (ch == '\n') {
            sb_puts(b, "\\n");
            s++;
        } else if (ch == '\r') {
            sb_puts(b, "\\r");
            s++;
        } else if (ch == '\t') {
            sb_puts(b, "\\t");
            s++;
        } else if (ch < 0x20) {
            sb_puts(b, "\\u00");
            sb_putc(b, hex[ch >> 4]);
            sb_putc(b, hex[ch & 15]);
            s++;
        } else {
            size_t n = utf8_seq(s);
            if (n == 0) {
                sb_puts(b, "\\ufffd");
                s++;
            } else {
                for (size_t i = 0; i < n; i++)
                    sb_putc(b, (char)s[i]);
                s += n;
            }
        }
    }
    sb_putc(b, '"');
}

static size_t sb_finish(struct sbuf *b)
{
    if (b->cap)
        b->p[b->len < b->cap ? b->len : b->cap - 1] = '\0';
    return b->len;
}

size_t lr_dp_otlp_json_response(char *out, size_t cap, enum lr_signal sig, int64_t rejected,
                                const char *message)
{
    static const char *const field[LR_SIG_COUNT] = {
        "rejectedSpans",
        "rejectedDataPoints",
        "rejectedLogRecords",
    };
    struct sbuf b = { out, cap, 0 };
    if (rejected == 0 && message == NULL) {
        sb_puts(&b, "{}");
        return sb_finish(&b);
    }
    sb_puts(&b, "{\"partialSuccess\":{");
    if (rejected != 0) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)rejected);
        sb_putc(&b, '"');
        sb_puts(&b, field[(unsigned)sig < LR_SIG_COUNT ? sig : 0]);
        sb_puts(&b, "\":\"");
        sb_puts(&b, num);
        sb_putc(&b, '"');
        if (message)
            sb_putc(&b, ',');
    }
    if (message) {
        sb_puts(&b, "\"errorMessage\":");
        sb_json_str(&b, message);
    }
    sb_puts(&b, "}}");
    return sb_finish(&b);
}

size_t lr_dp_rpc_status_json(char *out, size_t cap, int code, const char *message)
{
    struct sbuf b = { out, cap, 0 };
    char num[16];
    snprintf(num, sizeof num, "%d", code);
    sb_puts(&b, "{\"code\":");
    sb_puts(&b, num);
    if (message) {
        sb_puts(&b, ",\"message\":");
        sb_json_str(&b, message);
    }
    sb_putc(&b, '}');
    return sb_finish(&b);
}
