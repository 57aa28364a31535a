/* Zero-copy walker for OTLP Export{Trace,Metrics,Logs}ServiceRequest bodies
 * (include/linerate/otlp.h).
 *
 * One pass over the protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
 * driven by static per-message field tables built from the OTLP v1.4.0 .proto files. Nothing is
 * allocated; the only recursion is into sub-messages, whose depth is fixed by the schema except
 * for AnyValue arrays / kvlists, bounded by LR_OTLP_MAX_DEPTH.
 *
 * Acceptance follows protobuf-c 1.4.1's protobuf_c_message_unpack(), which is the decoder the
 * rest of linerate (and the differential fuzzer) compares against:
 *  - a tag is at most 5 bytes; a first tag byte with neither field bits nor a continuation bit
 *    (field number 0) is rejected; wire types 3, 4 (groups), 6 and 7 are rejected everywhere;
 *  - a varint is at most 10 bytes (bits beyond 64 are dropped, as protobuf-c does), a length
 *    prefix at most 5 bytes and never past the end of the enclosing message;
 *  - a known field must carry the wire type of its declared type, except `bool`, which
 *    protobuf-c accepts with any wire type (parse_required_member() has no check there);
 *  - packable repeated fields (bucket_counts, explicit_bounds) are accepted packed and unpacked;
 *    packed fixed64 payloads must be a multiple of 8, packed varints must all terminate;
 *  - unknown fields are skipped without looking inside.
 * Deliberately stricter than protobuf-c 1.4.1 (proto3 / upstream protobuf behaviour):
 *  - string fields must be valid UTF-8 (every occurrence, also one a later occurrence replaces);
 *  - AnyValue nesting deeper than LR_OTLP_MAX_DEPTH is rejected (protobuf-c has no limit);
 *  - field number 0 in a non-minimal encoding (0x80 0x00) and field numbers above 2^29-1 are
 *    rejected (protobuf-c reads them as unknown fields).
 * Repeated occurrences of a singular field resolve as protobuf-c resolves them: scalars and
 * strings take the last occurrence, a singular sub-message is merged (repeated fields
 * concatenated, a later empty oneof keeps the earlier one, proto3 scalars always from the
 * later one), and a oneof member replaces whatever the oneof held before. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "linerate/error.h"
#include "linerate/otlp.h"

const char *lr_signal_name(enum lr_signal sig)
{
    switch (sig) {
    case LR_SIG_TRACES:
        return "traces";
    case LR_SIG_METRICS:
        return "metrics";
    case LR_SIG_LOGS:
        return "logs";
    }
    return "unknown";
}

/* ---- schema tables ------------------------------------------------------------------------ */

enum kind {
    K_NONE = 0,  /* not a known field: skipped */
    K_VARINT,    /* int32, uint32, int64, uint64, sint32, enum: wire type 0 */
    K_BOOL,      /* bool: any wire type (protobuf-c does not check) */
    K_FIXED64,   /* fixed64, sfixed64, double: wire type 1 */
    K_FIXED32,   /* fixed32: wire type 5 */
    K_BYTES,     /* bytes: wire type 2 */
    K_STRING,    /* string: wire type 2, valid UTF-8 */
    K_MSG,       /* message: wire type 2, walked */
    K_PACKED64,  /* repeated fixed64 / double: wire type 1, or 2 with a multiple of 8 bytes */
    K_PACKEDVAR, /* repeated uint64: wire type 0, or 2 holding complete varints */
};

struct mdesc;

struct fdesc {
    uint8_t kind;
    const struct mdesc *sub; /* K_MSG */
    const char *r_wt;        /* wrong wire type */
    const char *r_len;       /* length prefix past the end */
    const char *r_trunc;     /* value (varint / fixed) past the end, or over-long varint */
    const char *r_utf8;      /* invalid UTF-8 */
    const char *r_packed;    /* malformed packed payload */
};

struct mdesc {
    const char *name;
    uint32_t max;          /* highest field number in f[] */
    const struct fdesc *f; /* indexed by field number */
    const char *r_tag;     /* truncated or over-long tag */
    const char *r_fnum;    /* field number 0 or above 2^29-1 */
    const char *r_wt;      /* wire type 3, 4, 6 or 7 */
    const char *r_len;     /* unknown field: length prefix past the end */
    const char *r_trunc;   /* unknown field: value past the end or over-long varint */
};

#define FD(msg, fld, k, sub)                                                   \
    {                                                                          \
        k, sub, msg "." fld ": wrong wire type for the field's declared type", \
            msg "." fld ": length runs past the end of the enclosing message", \
            msg "." fld ": value truncated or varint longer than 10 bytes",    \
            msg "." fld ": string is not valid UTF-8",                         \
            msg "." fld ": malformed packed repeated payload"                  \
    }

#define MD(msg, arr)                                                                   \
    {                                                                                  \
        msg, (uint32_t)(sizeof(arr) / sizeof(arr[0]) - 1), arr,                        \
            msg ": tag truncated or longer than 5 bytes",                              \
            msg ": invalid field number (0 or above 2^29-1)",                          \
            msg ": invalid wire type (groups and types 6/7 are not supported)",        \
            msg ": unknown field's length runs past the end of the enclosing message", \
            msg ": unknown field's value truncated or varint longer than 10 bytes"     \
    }

/* Tentative definitions: the tables refer to each other (AnyValue is recursive). */
static const struct mdesc m_any, m_array, m_kvlist, m_kv, m_scope, m_resource;
static const struct mdesc m_span, m_event, m_link, m_status;
static const struct mdesc m_metric, m_gauge, m_sum, m_hist, m_ehist, m_summary;
static const struct mdesc m_ndp, m_hdp, m_ehdp, m_buckets, m_sdp, m_vaq, m_exemplar;
static const struct mdesc m_log;
static const struct mdesc m_req[LR_SIG_COUNT], m_rentry[LR_SIG_COUNT], m_sentry[LR_SIG_COUNT];

static const struct fdesc f_any[] = {
    [1] = FD("any_value", "string_value", K_STRING, NULL),
    [2] = FD("any_value", "bool_value", K_BOOL, NULL),
    [3] = FD("any_value", "int_value", K_VARINT, NULL),
    [4] = FD("any_value", "double_value", K_FIXED64, NULL),
    [5] = FD("any_value", "array_value", K_MSG, &m_array),
    [6] = FD("any_value", "kvlist_value", K_MSG, &m_kvlist),
    [7] = FD("any_value", "bytes_value", K_BYTES, NULL),
};
static const struct fdesc f_array[] = { [1] = FD("array_value", "values", K_MSG, &m_any) };
static const struct fdesc f_kvlist[] = { [1] = FD("kvlist_value", "values", K_MSG, &m_kv) };
static const struct fdesc f_kv[] = {
    [1] = FD("key_value", "key", K_STRING, NULL),
    [2] = FD("key_value", "value", K_MSG, &m_any),
};
static const struct fdesc f_scope[] = {
    [1] = FD("scope", "name", K_STRING, NULL),
    [2] = FD("scope", "version", K_STRING, NULL),
    [3] = FD("scope", "attributes", K_MSG, &m_kv),
    [4] = FD("scope", "dropped_attributes_count", K_VARINT, NULL),
};
static const struct fdesc f_resource[] = {
    [1] = FD("resource", "attributes", K_MSG, &m_kv),
    [2] = FD("resource", "dropped_attributes_count", K_VARINT, NULL),
};

static const struct fdesc f_span[] = {
    [1] = FD("span", "trace_id", K_BYTES, NULL),
    [2] = FD("span", "span_id", K_BYTES, NULL),
    [3] = FD("span", "trace_state", K_STRING, NULL),
    [4] = FD("span", "parent_span_id", K_BYTES, NULL),
    [5] = FD("span", "name", K_STRING, NULL),
    [6] = FD("span", "kind", K_VARINT, NULL),
    [7] = FD("span", "start_time_unix_nano", K_FIXED64, NULL),
    [8] = FD("span", "end_time_unix_nano", K_FIXED64, NULL),
    [9] = FD("span", "attributes", K_MSG, &m_kv),
    [10] = FD("span", "dropped_attributes_count", K_VARINT, NULL),
    [11] = FD("span", "events", K_MSG, &m_event),
    [12] = FD("span", "dropped_events_count", K_VARINT, NULL),
    [13] = FD("span", "links", K_MSG, &m_link),
    [14] = FD("span", "dropped_links_count", K_VARINT, NULL),
    [15] = FD("span", "status", K_MSG, &m_status),
    [16] = FD("span", "flags", K_FIXED32, NULL),
};
static const struct fdesc f_event[] = {
    [1] = FD("span.event", "time_unix_nano", K_FIXED64, NULL),
    [2] = FD("span.event", "name", K_STRING, NULL),
    [3] = FD("span.event", "attributes", K_MSG, &m_kv),
    [4] = FD("span.event", "dropped_attributes_count", K_VARINT, NULL),
};
static const struct fdesc f_link[] = {
    [1] = FD("span.link", "trace_id", K_BYTES, NULL),
    [2] = FD("span.link", "span_id", K_BYTES, NULL),
    [3] = FD("span.link", "trace_state", K_STRING, NULL),
    [4] = FD("span.link", "attributes", K_MSG, &m_kv),
    [5] = FD("span.link", "dropped_attributes_count", K_VARINT, NULL),
    [6] = FD("span.link", "flags", K_FIXED32, NULL),
};
static const struct fdesc f_status[] = {
    [2] = FD("status", "message", K_STRING, NULL),
    [3] = FD("status", "code", K_VARINT, NULL),
};

static const struct fdesc f_metric[] = {
    [1] = FD("metric", "name", K_STRING, NULL),
    [2] = FD("metric", "description", K_STRING, NULL),
    [3] = FD("metric", "unit", K_STRING, NULL),
    [5] = FD("metric", "gauge", K_MSG, &m_gauge),
    [7] = FD("metric", "sum", K_MSG, &m_sum),
    [9] = FD("metric", "histogram", K_MSG, &m_hist),
    [10] = FD("metric", "exponential_histogram", K_MSG, &m_ehist),
    [11] = FD("metric", "summary", K_MSG, &m_summary),
    [12] = FD("metric", "metadata", K_MSG, &m_kv),
};
static const struct fdesc f_gauge[] = { [1] = FD("gauge", "data_points", K_MSG, &m_ndp) };
static const struct fdesc f_sum[] = {
    [1] = FD("sum", "data_points", K_MSG, &m_ndp),
    [2] = FD("sum", "aggregation_temporality", K_VARINT, NULL),
    [3] = FD("sum", "is_monotonic", K_BOOL, NULL),
};
static const struct fdesc f_hist[] = {
    [1] = FD("histogram", "data_points", K_MSG, &m_hdp),
    [2] = FD("histogram", "aggregation_temporality", K_VARINT, NULL),
};
static const struct fdesc f_ehist[] = {
    [1] = FD("exponential_histogram", "data_points", K_MSG, &m_ehdp),
    [2] = FD("exponential_histogram", "aggregation_temporality", K_VARINT, NULL),
};
static const struct fdesc f_summary[] = { [1] = FD("summary", "data_points", K_MSG, &m_sdp) };
static const struct fdesc f_ndp[] = {
    [2] = FD("number_data_point", "start_time_unix_nano", K_FIXED64, NULL),
    [3] = FD("number_data_point", "time_unix_nano", K_FIXED64, NULL),
    [4] = FD("number_data_point", "as_double", K_FIXED64, NULL),
    [5] = FD("number_data_point", "exemplars", K_MSG, &m_exemplar),
    [6] = FD("number_data_point", "as_int", K_FIXED64, NULL),
    [7] = FD("number_data_point", "attributes", K_MSG, &m_kv),
    [8] = FD("number_data_point", "flags", K_VARINT, NULL),
};
static const struct fdesc f_hdp[] = {
    [2] = FD("histogram_data_point", "start_time_unix_nano", K_FIXED64, NULL),
    [3] = FD("histogram_data_point", "time_unix_nano", K_FIXED64, NULL),
    [4] = FD("histogram_data_point", "count", K_FIXED64, NULL),
    [5] = FD("histogram_data_point", "sum", K_FIXED64, NULL),
    [6] = FD("histogram_data_point", "bucket_counts", K_PACKED64, NULL),
    [7] = FD("histogram_data_point", "explicit_bounds", K_PACKED64, NULL),
    [8] = FD("histogram_data_point", "exemplars", K_MSG, &m_exemplar),
    [9] = FD("histogram_data_point", "attributes", K_MSG, &m_kv),
    [10] = FD("histogram_data_point", "flags", K_VARINT, NULL),
    [11] = FD("histogram_data_point", "min", K_FIXED64, NULL),
    [12] = FD("histogram_data_point", "max", K_FIXED64, NULL),
};
static const struct fdesc f_ehdp[] = {
    [1] = FD("exponential_histogram_data_point", "attributes", K_MSG, &m_kv),
    [2] = FD("exponential_histogram_data_point", "start_time_unix_nano", K_FIXED64, NULL),
    [3] = FD("exponential_histogram_data_point", "time_unix_nano", K_FIXED64, NULL),
    [4] = FD("exponential_histogram_data_point", "count", K_FIXED64, NULL),
    [5] = FD("exponential_histogram_data_point", "sum", K_FIXED64, NULL),
    [6] = FD("exponential_histogram_data_point", "scale", K_VARINT, NULL),
    [7] = FD("exponential_histogram_data_point", "zero_count", K_FIXED64, NULL),
    [8] = FD("exponential_histogram_data_point", "positive", K_MSG, &m_buckets),
    [9] = FD("exponential_histogram_data_point", "negative", K_MSG, &m_buckets),
    [10] = FD("exponential_histogram_data_point", "flags", K_VARINT, NULL),
    [11] = FD("exponential_histogram_data_point", "exemplars", K_MSG, &m_exemplar),
    [12] = FD("exponential_histogram_data_point", "min", K_FIXED64, NULL),
    [13] = FD("exponential_histogram_data_point", "max", K_FIXED64, NULL),
    [14] = FD("exponential_histogram_data_point", "zero_threshold", K_FIXED64, NULL),
};
static const struct fdesc f_buckets[] = {
    [1] = FD("buckets", "offset", K_VARINT, NULL),
    [2] = FD("buckets", "bucket_counts", K_PACKEDVAR, NULL),
};
static const struct fdesc f_sdp[] = {
    [2] = FD("summary_data_point", "start_time_unix_nano", K_FIXED64, NULL),
    [3] = FD("summary_data_point", "time_unix_nano", K_FIXED64, NULL),
    [4] = FD("summary_data_point", "count", K_FIXED64, NULL),
    [5] = FD("summary_data_point", "sum", K_FIXED64, NULL),
    [6] = FD("summary_data_point", "quantile_values", K_MSG, &m_vaq),
    [7] = FD("summary_data_point", "attributes", K_MSG, &m_kv),
    [8] = FD("summary_data_point", "flags", K_VARINT, NULL),
};
static const struct fdesc f_vaq[] = {
    [1] = FD("value_at_quantile", "quantile", K_FIXED64, NULL),
    [2] = FD("value_at_quantile", "value", K_FIXED64, NULL),
};
static const struct fdesc f_exemplar[] = {
    [2] = FD("exemplar", "time_unix_nano", K_FIXED64, NULL),
    [3] = FD("exemplar", "as_double", K_FIXED64, NULL),
    [4] = FD("exemplar", "span_id", K_BYTES, NULL),
    [5] = FD("exemplar", "trace_id", K_BYTES, NULL),
    [6] = FD("exemplar", "as_int", K_FIXED64, NULL),
    [7] = FD("exemplar", "filtered_attributes", K_MSG, &m_kv),
};

static const struct fdesc f_log[] = {
    [1] = FD("log_record", "time_unix_nano", K_FIXED64, NULL),
    [2] = FD("log_record", "severity_number", K_VARINT, NULL),
    [3] = FD("log_record", "severity_text", K_STRING, NULL),
    [5] = FD("log_record", "body", K_MSG, &m_any),
    [6] = FD("log_record", "attributes", K_MSG, &m_kv),
    [7] = FD("log_record", "dropped_attributes_count", K_VARINT, NULL),
    [8] = FD("log_record", "flags", K_FIXED32, NULL),
    [9] = FD("log_record", "trace_id", K_BYTES, NULL),
    [10] = FD("log_record", "span_id", K_BYTES, NULL),
    [11] = FD("log_record", "observed_time_unix_nano", K_FIXED64, NULL),
};

static const struct fdesc f_req_t[] = {
    [1] = FD("export_trace_service_request", "resource_spans", K_MSG, &m_rentry[LR_SIG_TRACES]),
};
static const struct fdesc f_req_m[] = {
    [1] =
        FD("export_metrics_service_request", "resource_metrics", K_MSG, &m_rentry[LR_SIG_METRICS]),
};
static const struct fdesc f_req_l[] = {
    [1] = FD("export_logs_service_request", "resource_logs", K_MSG, &m_rentry[LR_SIG_LOGS]),
};
static const struct fdesc f_rentry_t[] = {
    [1] = FD("resource_spans", "resource", K_MSG, &m_resource),
    [2] = FD("resource_spans", "scope_spans", K_MSG, &m_sentry[LR_SIG_TRACES]),
    [3] = FD("resource_spans", "schema_url", K_STRING, NULL),
};
static const struct fdesc f_rentry_m[] = {
    [1] = FD("resource_metrics", "resource", K_MSG, &m_resource),
    [2] = FD("resource_metrics", "scope_metrics", K_MSG, &m_sentry[LR_SIG_METRICS]),
    [3] = FD("resource_metrics", "schema_url", K_STRING, NULL),
};
static const struct fdesc f_rentry_l[] = {
    [1] = FD("resource_logs", "resource", K_MSG, &m_resource),
    [2] = FD("resource_logs", "scope_logs", K_MSG, &m_sentry[LR_SIG_LOGS]),
    [3] = FD("resource_logs", "schema_url", K_STRING, NULL),
};
static const struct fdesc f_sentry_t[] = {
    [1] = FD("scope_spans", "scope", K_MSG, &m_scope),
    [2] = FD("scope_spans", "spans", K_MSG, &m_span),
    [3] = FD("scope_spans", "schema_url", K_STRING, NULL),
};
static const struct fdesc f_sentry_m[] = {
    [1] = FD("scope_metrics", "scope", K_MSG, &m_scope),
    [2] = FD("scope_metrics", "metrics", K_MSG, &m_metric),
    [3] = FD("scope_metrics", "schema_url", K_STRING, NULL),
};
static const struct fdesc f_sentry_l[] = {
    [1] = FD("scope_logs", "scope", K_MSG, &m_scope),
    [2] = FD("scope_logs", "log_records", K_MSG, &m_log),
    [3] = FD("scope_logs", "schema_url", K_STRING, NULL),
};

static const struct mdesc m_any = MD("any_value", f_any);
static const struct mdesc m_array = MD("array_value", f_array);
static const struct mdesc m_kvlist = MD("kvlist_value", f_kvlist);
static const struct mdesc m_kv = MD("key_value", f_kv);
static const struct mdesc m_scope = MD("scope", f_scope);
static const struct mdesc m_resource = MD("resource", f_resource);
static const struct mdesc m_span = MD("span", f_span);
static const struct mdesc m_event = MD("span.event", f_event);
static const struct mdesc m_link = MD("span.link", f_link);
static const struct mdesc m_status = MD("status", f_status);
static const struct mdesc m_metric = MD("metric", f_metric);
static const struct mdesc m_gauge = MD("gauge", f_gauge);
static const struct mdesc m_sum = MD("sum", f_sum);
static const struct mdesc m_hist = MD("histogram", f_hist);
static const struct mdesc m_ehist = MD("exponential_histogram", f_ehist);
static const struct mdesc m_summary = MD("summary", f_summary);
static const struct mdesc m_ndp = MD("number_data_point", f_ndp);
static const struct mdesc m_hdp = MD("histogram_data_point", f_hdp);
static const struct mdesc m_ehdp = MD("exponential_histogram_data_point", f_ehdp);
static const struct mdesc m_buckets = MD("buckets", f_buckets);
static const struct mdesc m_sdp = MD("summary_data_point", f_sdp);
static const struct mdesc m_vaq = MD("value_at_quantile", f_vaq);
static const struct mdesc m_exemplar = MD("exemplar", f_exemplar);
static const struct mdesc m_log = MD("log_record", f_log);
static const struct mdesc m_req[LR_SIG_COUNT] = {
    [LR_SIG_TRACES] = MD("export_trace_service_request", f_req_t),
    [LR_SIG_METRICS] = MD("export_metrics_service_request", f_req_m),
    [LR_SIG_LOGS] = MD("export_logs_service_request", f_req_l),
};
static const struct mdesc m_rentry[LR_SIG_COUNT] = {
    [LR_SIG_TRACES] = MD("resource_spans", f_rentry_t),
    [LR_SIG_METRICS] = MD("resource_metrics", f_rentry_m),
    [LR_SIG_LOGS] = MD("resource_logs", f_rentry_l),
};
static const struct mdesc m_sentry[LR_SIG_COUNT] = {
    [LR_SIG_TRACES] = MD("scope_spans", f_sentry_t),
    [LR_SIG_METRICS] = MD("scope_metrics", f_sentry_m),
    [LR_SIG_LOGS] = MD("scope_logs", f_sentry_l),
};

static const char r_depth[] = "any_value: nesting deeper than LR_OTLP_MAX_DEPTH (32) levels";
static const char r_huge[] = "request: body larger than 4 GiB";

/* ---- wire reader -------------------------------------------------------------------------- */

struct walk {
    const uint8_t *base;
    struct lr_otlp_view *v;
    bool rec; /* still recording into the caller's arrays */
};

/* One field as read by next_field(). */
struct fld {
    uint32_t num;
    uint32_t wt;
    const struct fdesc *d; /* NULL: unknown field */
    const uint8_t *tag;    /* first byte of the tag */
    const uint8_t *data;   /* payload: after the length prefix for wire type 2 */
    const uint8_t *end;    /* one past the field */
    uint64_t u;            /* varint value, or the fixed64 / fixed32 value */
};

static int fail(struct walk *w, const uint8_t *at, const char *reason)
{
    w->v->err_off = (uint32_t)(at - w->base);
    w->v->err_reason = reason;
    return -1;
}

/* RFC 3629: rejects overlong forms, surrogates and code points above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        /* ASCII fast path, 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (x & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
                return false;
            i += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (i + 2 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80)
                return false;
            if (c == 0xe0 && s[i + 1] < 0xa0)
                return false; /* overlong */
            if (c == 0xed && s[i + 1] > 0x9f)
                return false; /* surrogate */
            i += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (i + 3 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
                (s[i + 3] & 0xc0) != 0x80)
                return false;
            if (c == 0xf0 && s[i + 1] < 0x90)
                return false; /* overlong */
            if (c == 0xf4 && s[i + 1] > 0x8f)
                return false; /* above U+10FFFF */
            i += 4;
        } else {
            return false;
        }
    }
    return true;
}

/* Packed varints as protobuf-c's parse_packed_repeated_member() reads them: each one must end
 * within 10 bytes and inside the payload. */
static bool packed_varints_valid(const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        size_t rem = (size_t)(end - p), max = rem < 10 ? rem : 10, i;
        for (i = 0; i < max; i++)
            if (!(p[i] & 0x80))
                break;
        if (i == max)
            return false;
        p += i + 1;
    }
    return true;
}

/* Reads the next field of message `m` from [*pp, end) and checks it completely: tag, wire type,
 * bounds, the declared type of a known field, UTF-8 of strings, packed payloads. Sub-messages
 * are left to the caller. Returns 1 with *f filled and *pp advanced, 0 at the end, -1 on error. */
static int next_field(struct walk *w, const struct mdesc *m, const uint8_t **pp, const uint8_t *end,
                      struct fld *f)
{
    const uint8_t *p = *pp;
    size_t rem, max, i;
    uint64_t num;
    uint32_t b;

    if (p >= end)
        return 0;
    f->tag = p;
    b = *p++;
    /* protobuf-c's parse_tag_and_wiretype(): (data[0] & 0xf8) == 0 is "0 is not a valid tag". */
    if ((b & 0xf8) == 0)
        return fail(w, f->tag, m->r_fnum);
    f->wt = b & 7;
    num = (b & 0x7f) >> 3;
    if (b & 0x80) {
        unsigned shift = 4;
        for (i = 1;; i++) {
            if (i == 5 || p >= end)
                return fail(w, f->tag, m->r_tag);
            b = *p++;
            num |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
    }
    if (num == 0 || num > 0x1fffffff)
        return fail(w, f->tag, m->r_fnum);
    f->num = (uint32_t)num;
    f->d = (num <= m->max && m->f[num].kind != K_NONE) ? &m->f[num] : NULL;

    rem = (size_t)(end - p);
    switch (f->wt) {
    case 0:
        max = rem < 10 ? rem : 10;
        f->u = 0;
        for (i = 0; i < max; i++) {
            f->u |= (uint64_t)(p[i] & 0x7f) << (7 * i); /* i <= 9: bits past 64 drop */
            if (!(p[i] & 0x80))
                break;
        }
        if (i == max)
            return fail(w, p, f->d ? f->d->r_trunc : m->r_trunc);
        f->data = p;
        f->end = p + i + 1;
        break;
    case 1:
        if (rem < 8)
            return fail(w, p, f->d ? f->d->r_trunc : m->r_trunc);
        memcpy(&f->u, p, 8); /* little-endian hosts only, like the rest of the dataplane */
        f->data = p;
        f->end = p + 8;
        break;
    case 5: {
        uint32_t x;
        if (rem < 4)
            return fail(w, p, f->d ? f->d->r_trunc : m->r_trunc);
        memcpy(&x, p, 4);
        f->u = x;
        f->data = p;
        f->end = p + 4;
        break;
    }
    case 2: {
        uint64_t len = 0;
        /* protobuf-c's scan_length_prefixed_data(): at most 5 bytes of prefix. */
        max = rem < 5 ? rem : 5;
        for (i = 0; i < max; i++) {
            len |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (!(p[i] & 0x80))
                break;
        }
        if (i == max || len > rem - (i + 1))
            return fail(w, f->tag, f->d ? f->d->r_len : m->r_len);
        f->data = p + i + 1;
        f->end = f->data + len;
        f->u = len;
        break;
    }
    default:
        return fail(w, f->tag, m->r_wt);
    }

    if (f->d) {
        const struct fdesc *d = f->d;
        bool ok;
        switch (d->kind) {
        case K_VARINT:
            ok = f->wt == 0;
            break;
        case K_FIXED64:
            ok = f->wt == 1;
            break;
        case K_FIXED32:
            ok = f->wt == 5;
            break;
        case K_BYTES:
        case K_MSG:
            ok = f->wt == 2;
            break;
        case K_STRING:
            if (f->wt != 2)
                return fail(w, f->tag, d->r_wt);
            if (!utf8_valid(f->data, (size_t)(f->end - f->data)))
                return fail(w, f->tag, d->r_utf8);
            ok = true;
            break;
        case K_PACKED64:
            if (f->wt == 2 && ((size_t)(f->end - f->data) % 8) != 0)
                return fail(w, f->tag, d->r_packed);
            ok = f->wt == 1 || f->wt == 2;
            break;
        case K_PACKEDVAR:
            if (f->wt == 2 && !packed_varints_valid(f->data, f->end))
                return fail(w, f->tag, d->r_packed);
            ok = f->wt == 0 || f->wt == 2;
            break;
        default: /* K_BOOL: protobuf-c accepts any wire type */
            ok = true;
            break;
        }
        if (!ok)
            return fail(w, f->tag, d->r_wt);
    }
    *pp = f->end;
    return 1;
}

static inline struct lr_slice payload(const struct fld *f)
{
    return lr_slice_make(f->data, (size_t)(f->end - f->data));
}

/* ---- generic validation ------------------------------------------------------------------- */

/* What one AnyValue occurrence left set: the oneof member (0: none) and its payload. */
struct anyval {
    uint32_t which;
    bool bytes_nonempty;
    struct lr_slice str;
};

/* A singular AnyValue field (KeyValue.value, LogRecord.body) across its occurrences. */
struct anystate {
    bool seen;
    struct anyval v;
};

static const char r_any_kv[] = "key_value.value: given again while neither occurrence sets a value "
                               "(protobuf-c 1.4.1 cannot merge them and rejects the message)";
static const char r_any_log[] =
    "log_record.body: given again while neither occurrence sets a value "
    "(protobuf-c 1.4.1 cannot merge them and rejects the message)";

/* protobuf-c 1.4.1 merges a singular message given twice (merge_messages()). For AnyValue, whose
 * fields are all one oneof, that gives: a later occurrence with a member set wins; a later empty
 * one keeps the earlier member unless it is a string or empty bytes (those compare against the
 * field default and are dropped, leaving no member); and when both have no member the lookup
 * of oneof case 0 fails and the whole unpack fails. Returns -1 for that last case. */
static int any_merge(struct anystate *st, const struct anyval *nv)
{
    if (!st->seen || nv->which != 0) {
        st->seen = true;
        st->v = *nv;
        return 0;
    }
    if (st->v.which == 0)
        return -1;
    if (st->v.which == 1 || (st->v.which == 7 && !st->v.bytes_nonempty))
        st->v.which = 0;
    return 0;
}

static int walk_msg(struct walk *w, const struct mdesc *m, const struct fld *f, unsigned depth);

/* Validates every field of a message whose content the view does not need. `depth` counts the
 * AnyValue messages around this one. */
static int walk_generic(struct walk *w, const struct mdesc *m, const uint8_t *p, const uint8_t *end,
                        unsigned depth)
{
    struct fld f;
    int rc;

    while ((rc = next_field(w, m, &p, end, &f)) > 0) {
        if (f.d && f.d->kind == K_MSG && walk_msg(w, f.d->sub, &f, depth) < 0)
            return -1;
    }
    return rc;
}

/* An AnyValue in field `outer`, `depth` AnyValues deep around it; *out (may be NULL) tells
 * which member the occurrence set last. */
static int walk_any(struct walk *w, const struct fld *outer, unsigned depth, struct anyval *out)
{
    const uint8_t *p = outer->data;
    struct anyval a = { 0, false, { NULL, 0 } };
    struct fld f;
    int rc;

    if (depth >= LR_OTLP_MAX_DEPTH)
        return fail(w, outer->tag, r_depth);
    while ((rc = next_field(w, &m_any, &p, outer->end, &f)) > 0) {
        if (!f.d)
            continue;
        a.which = f.num;
        if (f.num == 1)
            a.str = lr_slice_make(f.data, (size_t)(f.end - f.data));
        else if (f.num == 7)
            a.bytes_nonempty = f.end != f.data;
        else if (f.d->kind == K_MSG && walk_generic(w, f.d->sub, f.data, f.end, depth + 1) < 0)
            return -1;
    }
    if (rc < 0)
        return rc;
    if (out)
        *out = a;
    return 0;
}

/* A KeyValue; when `service_name` is not NULL (resource attributes) it is set when the key is
 * service.name and the value ends up a string_value. */
static int walk_kv(struct walk *w, const struct fld *outer, unsigned depth,
                   struct lr_slice *service_name)
{
    const uint8_t *p = outer->data;
    struct lr_slice key = { NULL, 0 };
    struct anystate st = { false, { 0, false, { NULL, 0 } } };
    struct anyval a;
    struct fld f;
    int rc;

    while ((rc = next_field(w, &m_kv, &p, outer->end, &f)) > 0) {
        if (f.num == 1 && f.d) {
            key = lr_slice_make(f.data, (size_t)(f.end - f.data));
        } else if (f.num == 2 && f.d) {
            if (walk_any(w, &f, depth, &a) < 0)
                return -1;
            if (any_merge(&st, &a) < 0)
                return fail(w, f.tag, r_any_kv);
        }
    }
    if (rc < 0)
        return rc;
    if (service_name && st.v.which == 1 && lr_slice_eq(key, "service.name"))
        *service_name = st.v.str;
    return 0;
}

/* Walks the sub-message in field `f`. */
static int walk_msg(struct walk *w, const struct mdesc *m, const struct fld *f, unsigned depth)
{
    if (m == &m_any)
        return walk_any(w, f, depth, NULL);
    if (m == &m_kv)
        return walk_kv(w, f, depth, NULL);
    return walk_generic(w, m, f->data, f->end, depth);
}

/* Sub-message fields the caller does not handle itself. */
static inline int walk_other(struct walk *w, const struct fld *f, unsigned depth)
{
    if (f->d && f->d->kind == K_MSG)
        return walk_msg(w, f->d->sub, f, depth);
    return 0;
}

/* ---- messages the view records ------------------------------------------------------------ */

static int walk_resource(struct walk *w, const struct fld *outer, struct lr_slice *service_name)
{
    const uint8_t *p = outer->data;
    struct fld f;
    int rc;

    while ((rc = next_field(w, &m_resource, &p, outer->end, &f)) > 0) {
        if (f.num == 1 && f.d && walk_kv(w, &f, 0, service_name) < 0)
            return -1;
    }
    return rc;
}

static void set_field(struct lr_otlp_field *o, const struct walk *w, const struct fld *f)
{
    o->off = (uint32_t)(f->tag - w->base);
    o->len = (uint32_t)(f->end - f->tag);
    o->body_off = (uint32_t)(f->data - w->base);
    o->body_len = (uint32_t)(f->end - f->data);
}

static int walk_status(struct walk *w, const struct fld *outer, uint32_t *code)
{
    const uint8_t *p = outer->data;
    struct fld f;
    int rc;

    /* A second Status is merged into the first, but protobuf-c takes proto3 scalars from the
     * later message even when it lacks them (merge_messages() with quantifier_offset 0). */
    *code = 0;
    while ((rc = next_field(w, &m_status, &p, outer->end, &f)) > 0) {
        if (f.num == 3 && f.d)
            *code = (uint32_t)f.u;
    }
    return rc;
}

static void copy_id(uint8_t *dst, size_t n, const struct fld *f)
{
    if ((size_t)(f->end - f->data) == n)
        memcpy(dst, f->data, n);
    else
        memset(dst, 0, n);
}

static int walk_span(struct walk *w, const struct fld *outer, struct lr_otlp_item *it)
{
    const uint8_t *p = outer->data;
    struct fld f;
    int rc;

    while ((rc = next_field(w, &m_span, &p, outer->end, &f)) > 0) {
        if (!f.d)
            continue;
        switch (f.num) {
        case 1:
            copy_id(it->trace_id, 16, &f);
            it->has_trace_id = f.u == 16;
            break;
        case 2:
            copy_id(it->span_id, 8, &f);
            break;
        case 3:
            /* Last one wins (protobuf-c parse_required_member() frees the earlier string). */
            it->trace_state = payload(&f);
            it->trace_state_off = (uint32_t)(f.tag - w->base);
            it->trace_state_len = (uint32_t)(f.end - f.tag);
            it->n_trace_state++;
            break;
        case 4:
            copy_id(it->parent_span_id, 8, &f);
            it->has_parent = f.u != 0;
            break;
        case 5:
            it->name = payload(&f);
            break;
        case 6:
            it->kind = (uint32_t)f.u;
            break;
        case 7:
            it->start_ns = f.u;
            break;
        case 8:
            it->end_ns = f.u;
            break;
        case 15:
            if (walk_status(w, &f, &it->status_code) < 0)
                return -1;
            break;
        default:
            if (walk_other(w, &f, 0) < 0)
                return -1;
            break;
        }
    }
    return rc;
}

/* Gauge / Sum / Histogram / ExponentialHistogram / Summary: data_points is field 1 in all. */
static int walk_metric_data(struct walk *w, const struct fld *outer, uint32_t *n_points)
{
    const struct mdesc *m = outer->d->sub;
    const uint8_t *p = outer->data;
    struct fld f;
    int rc;

    *n_points = 0;
    while ((rc = next_field(w, m, &p, outer->end, &f)) > 0) {
        if (f.num == 1 && f.d)
            (*n_points)++;
        if (walk_other(w, &f, 0) < 0)
            return -1;
    }
    return rc;
}

static int walk_metric(struct walk *w, const struct fld *outer, struct lr_otlp_item *it)
{
    const uint8_t *p = outer->data;
    struct fld f;
    int rc;

    while ((rc = next_field(w, &m_metric, &p, outer->end, &f)) > 0) {
        if (!f.d)
            continue;
        switch (f.num) {
        case 1:
            it->name = payload(&f);
            break;
        case 5:
        case 7:
        case 9:
        case 10:
        case 11:
            /* A oneof member replaces the previous one (protobuf-c parse_oneof_member() frees
             * it, no merge), so the last data field alone counts. */
            if (walk_metric_data(w, &f, &it->n_points) < 0)
                return -1;
            break;
        default:
            if (walk_other(w, &f, 0) < 0)
                return -1;
            break;
        }
    }
    return rc;
}

static int walk_log(struct walk *w, const struct fld *outer, struct lr_otlp_item *it)
{
    const uint8_t *p = outer->data;
    struct anystate body = { false, { 0, false, { NULL, 0 } } };
    struct anyval a;
    struct fld f;
    int rc;

    while ((rc = next_field(w, &m_log, &p, outer->end, &f)) > 0) {
        if (!f.d)
            continue;
        switch (f.num) {
        case 1:
            it->start_ns = f.u;
            break;
        case 9:
            copy_id(it->trace_id, 16, &f);
            it->has_trace_id = f.u == 16;
            break;
        case 10:
            copy_id(it->span_id, 8, &f);
            break;
        case 5:
            if (walk_any(w, &f, 0, &a) < 0)
                return -1;
            if (any_merge(&body, &a) < 0)
                return fail(w, f.tag, r_any_log);
            break;
        default:
            if (walk_other(w, &f, 0) < 0)
                return -1;
            break;
        }
    }
    return rc;
}

static int walk_scope_entry(struct walk *w, enum lr_signal sig, const struct fld *outer,
                            uint32_t ridx)
{
    struct lr_otlp_view *v = w->v;
    struct lr_otlp_scope *sc = NULL;
    const uint8_t *p = outer->data;
    uint32_t sidx = v->n_scopes;
    struct fld f;
    int rc;

    if (w->rec && v->n_scopes < v->scopes_cap) {
        sc = &v->scopes[v->n_scopes++];
        set_field(&sc->f, w, outer);
        sc->resource = ridx;
        sc->first_item = v->n_items;
        sc->n_items = 0;
    } else if (w->rec) {
        w->rec = false;
        v->truncated = true;
    }

    while ((rc = next_field(w, &m_sentry[sig], &p, outer->end, &f)) > 0) {
        struct lr_otlp_item tmp, *it = &tmp;
        if (!(f.num == 2 && f.d)) {
            if (walk_other(w, &f, 0) < 0)
                return -1;
            continue;
        }
        if (w->rec && v->n_items < v->items_cap) {
            it = &v->items[v->n_items++];
        } else if (w->rec) {
            w->rec = false;
            v->truncated = true;
        }
        memset(it, 0, sizeof(*it));
        it->scope = sidx;
        it->n_points = 1;
        switch (sig) {
        case LR_SIG_TRACES:
            rc = walk_span(w, &f, it);
            v->n_spans++;
            break;
        case LR_SIG_METRICS:
            it->n_points = 0;
            rc = walk_metric(w, &f, it);
            v->n_points += it->n_points;
            break;
        default:
            rc = walk_log(w, &f, it);
            v->n_log_records++;
            break;
        }
        if (rc < 0)
            return -1;
        set_field(&it->f, w, &f);
        if (sc && it != &tmp)
            sc->n_items++;
    }
    return rc;
}

static int walk_resource_entry(struct walk *w, enum lr_signal sig, const struct fld *outer)
{
    struct lr_otlp_view *v = w->v;
    struct lr_otlp_resource *r = NULL;
    struct lr_slice svc = { NULL, 0 };
    const uint8_t *p = outer->data;
    uint32_t ridx = v->n_resources;
    struct fld f;
    int rc;

    if (w->rec && v->n_resources < v->resources_cap) {
        r = &v->resources[v->n_resources++];
        set_field(&r->f, w, outer);
        r->first_scope = v->n_scopes;
        r->n_scopes = 0;
    } else if (w->rec) {
        w->rec = false;
        v->truncated = true;
    }

    while ((rc = next_field(w, &m_rentry[sig], &p, outer->end, &f)) > 0) {
        if (!f.d)
            continue;
        if (f.num == 1) {
            /* Resource given twice is merged: attributes concatenate, the last service.name
             * in byte order wins. */
            rc = walk_resource(w, &f, &svc);
        } else if (f.num == 2) {
            rc = walk_scope_entry(w, sig, &f, ridx);
        }
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (r) {
        r->service_name = svc;
        r->n_scopes = v->n_scopes - r->first_scope;
    }
    return 0;
}

int lr_dp_otlp_walk(enum lr_signal sig, const uint8_t *body, size_t len, struct lr_otlp_view *v)
{
    struct walk w = { body, v, true };
    /* NULL + 0 is undefined in C: an empty body may come as NULL. */
    const uint8_t *p = body, *end = body ? body + len : body;
    struct fld f;
    int rc;

    v->signal = sig;
    v->n_resources = v->n_scopes = v->n_items = 0;
    v->truncated = false;
    v->n_spans = v->n_points = v->n_log_records = 0;
    v->err_off = 0;
    v->err_reason = NULL;

    if ((unsigned)sig >= LR_SIG_COUNT) {
        v->err_reason = "request: unknown signal";
        return LR_E_MALFORMED;
    }
    if (len > UINT32_MAX) {
        v->err_reason = r_huge;
        return LR_E_MALFORMED;
    }
    if (len == 0)
        return 0;

    while ((rc = next_field(&w, &m_req[sig], &p, end, &f)) > 0) {
        if (f.d && walk_resource_entry(&w, sig, &f) < 0)
            return LR_E_MALFORMED;
    }
    return rc < 0 ? LR_E_MALFORMED : 0;
}
