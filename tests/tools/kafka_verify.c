/*
 * kafka_verify: reads a Kafka topic written by linerate from the beginning of every partition,
 * decodes each record value with protobuf-c as the signal's Export*ServiceRequest and prints a
 * JSON summary of what it decoded, in the shape tests/integration/clients/send.js writes, so that
 * tests/integration/clients/compare.js can check the two. The decoder is deliberately
 * independent of linerate's own wire walker: protobuf-c's generated code, not ours.
 *
 * Checks made here (each failure is reported on stderr and in "errors", exit status 1):
 *   - every record value decodes as the signal's request message;
 *   - traces: every record has a key of exactly 32 lowercase hex characters equal to the trace
 *     id of every span in the record (the Collector's kafka exporter with
 *     partition_traces_by_id), holds at least one span, and no trace id is the key of two
 *     records unless --allow-dup;
 *   - metrics and logs: records have no key;
 *   - --expect-records N: exactly N records (at least N with --allow-dup);
 *   - no record was deleted before it could be read: every partition's log starts at offset 0
 *     and its offsets have no gap. Deleted records are an error with --expect-records or
 *     --ids-out and a warning otherwise. Retention is what deletes them: librdkafka's mock
 *     cluster (linerate's embedded broker, tests/tools/mock_broker) keeps only the last 5 MiB or
 *     100000 produce batches of each partition, so a long load test on it loses its oldest
 *     records.
 *
 * Usage:
 *   kafka_verify -b BROKERS -t TOPIC --signal traces|metrics|logs [--expect-records N]
 *                [--timeout-ms MS] [--allow-dup] [--out FILE] [--ids-out FILE]
 *                [-X prop=value ...]
 *
 * --ids-out FILE (traces only) writes the span id of every span of every record to FILE, in
 * lowercase hex, one per line, in the order read, duplicates included: the set that
 * tests/tools/ack_load's --acked file must be a subset of (`comm -23` of the two sorted files).
 *
 * Stops when no message arrived for --timeout-ms (default 10000), or as soon as every partition
 * is at its end and, with --expect-records, at least N records were read. Without
 * --expect-records that is as soon as every partition reported EOF (enable.partition.eof), so
 * reading a finished topic takes no longer than reading it; --timeout-ms only bounds the wait
 * for a topic that is still being written or a broker that does not answer.
 *
 * Exit status: 0 all checks passed, 1 a check failed, 2 usage or Kafka setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define TRACE_ID_BYTES 16
#define MAX_REPORTED_ERRORS 100

enum signal {
    SIGNAL_TRACES,
    SIGNAL_METRICS,
    SIGNAL_LOGS,
};

struct options {
    const char *brokers;
    const char *topic;
    enum signal signal;
    long expect_records; /* -1: not given */
    int timeout_ms;
    bool allow_dup;
    const char *out_path;
    const char *ids_path; /* --ids-out, traces only */
};

struct verify_state {
    const struct options *opts;
    FILE *out;
    FILE *ids_out; /* NULL without --ids-out */
    uint64_t records;
    uint64_t items; /* spans, data points or log records */
    uint64_t errors;
    char **error_msgs; /* the first MAX_REPORTED_ERRORS, owned */
    size_t n_error_msgs;
    uint8_t (*trace_ids)[TRACE_ID_BYTES]; /* one per traces record, for the duplicate check */
    size_t n_trace_ids;
    size_t cap_trace_ids;
    bool first_entry;
};

static void fail(struct verify_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct verify_state *st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    st->errors++;
    if (st->errors <= MAX_REPORTED_ERRORS) {
        fprintf(stderr, "kafka_verify: %s\n", buf);
        char *copy = strdup(buf);
        if (copy != NULL) {
            st->error_msgs[st->n_error_msgs++] = copy;
        }
    } else if (st->errors == MAX_REPORTED_ERRORS + 1) {
        fprintf(stderr, "kafka_verify: more errors follow, not shown\n");
    }
}

/* Records were deleted (retention) before they could be read: an error when the caller counts
 * or lists records, a warning otherwise. */
static void lost(struct verify_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lost(struct verify_state *st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (st->opts->expect_records >= 0 || st->opts->ids_path != NULL) {
        fail(st, "%s", buf);
    } else {
        fprintf(stderr, "kafka_verify: warning: %s\n", buf);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON output ------------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_cstr(FILE *f, const char *s)
{
    json_str(f, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void hex_encode(char *dst, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 0xf];
    }
    dst[2 * len] = '\0';
}

/* One line of lowercase hex, for --ids-out. */
static void hex_line(FILE *f, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        putc_unlocked(digits[p[i] >> 4], f);
        putc_unlocked(digits[p[i] & 0xf], f);
    }
    putc_unlocked('\n', f);
}

static void json_hex(FILE *f, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        fputc(digits[p[i] >> 4], f);
        fputc(digits[p[i] & 0xf], f);
    }
    fputc('"', f);
}

/* %.17g round-trips every double; JSON has no NaN or infinities, so those become strings. */
static void json_double(FILE *f, double v)
{
    if (isfinite(v)) {
        fprintf(f, "%.17g", v);
    } else {
        fprintf(f, "\"%s\"", isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"));
    }
}

static void json_attributes(FILE *f, Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n);

/* AnyValue as a tagged object: {"string": s}, {"int": n}, ... ; {} when unset. */
static void json_any(FILE *f, const Opentelemetry__Proto__Common__V1__AnyValue *v)
{
    if (v == NULL) {
        fputs("{}", f);
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        fputs("{\"string\":", f);
        json_cstr(f, v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        fprintf(f, "{\"bool\":%s", v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        fprintf(f, "{\"int\":%" PRId64, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        fputs("{\"double\":", f);
        json_double(f, v->double_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        fputs("{\"bytes\":", f);
        json_hex(f, v->bytes_value.data, v->bytes_value.len);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        fputs("{\"array\":[", f);
        if (v->array_value != NULL) {
            for (size_t i = 0; i < v->array_value->n_values; i++) {
                if (i > 0) {
                    fputc(',', f);
                }
                json_any(f, v->array_value->values[i]);
            }
        }
        fputc(']', f);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        fputs("{\"kvlist\":", f);
        if (v->kvlist_value != NULL) {
            json_attributes(f, v->kvlist_value->values, v->kvlist_value->n_values);
        } else {
            fputs("{}", f);
        }
        break;
    default:
        fputs("{}", f);
        return;
    }
    fputc('}', f);
}

static void json_attributes(FILE *f, Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n)
{
    fputc('{', f);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', f);
        }
        json_cstr(f, kv[i]->key);
        fputc(':', f);
        json_any(f, kv[i]->value);
    }
    fputc('}', f);
}

/* The service.name resource attribute, "" when absent or not a string. */
static const char *service_name(const Opentelemetry__Proto__Resource__V1__Resource *res)
{
    if (res == NULL) {
        return "";
    }
    for (size_t i = 0; i < res->n_attributes; i++) {
        const Opentelemetry__Proto__Common__V1__KeyValue *kv = res->attributes[i];
        if (strcmp(kv->key, "service.name") == 0 && kv->value != NULL &&
            kv->value->value_case ==
                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
            return kv->value->string_value;
        }
    }
    return "";
}

static void entry_begin(struct verify_state *st)
{
    if (!st->first_entry) {
        fputc(',', st->out);
    }
    st->first_entry = false;
    fputc('\n', st->out);
}

static const char *enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, value);

    return ev != NULL ? ev->name : "UNKNOWN";
}

/* ---- traces ----------------------------------------------------------------------------- */

static bool key_is_trace_id_hex(const void *key, size_t key_len)
{
    const char *k = key;

    if (key == NULL || key_len != 2 * TRACE_ID_BYTES) {
        return false;
    }
    for (size_t i = 0; i < key_len; i++) {
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* Copies a key for an error message: non-printable bytes as '?', truncated with "...". */
static void printable_prefix(char *dst, size_t cap, const void *src, size_t len)
{
    const unsigned char *p = src;
    size_t n = len < cap - 1 ? len : cap - 4;

    for (size_t i = 0; i < n; i++) {
        dst[i] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"') ? (char)p[i] : '?';
    }
    if (n < len) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

static int remember_trace_id(struct verify_state *st, const uint8_t *id)
{
    if (st->n_trace_ids == st->cap_trace_ids) {
        size_t cap = st->cap_trace_ids ? 2 * st->cap_trace_ids : 1024;
        void *p = realloc(st->trace_ids, cap * TRACE_ID_BYTES);
        if (p == NULL) {
            return -ENOMEM;
        }
        st->trace_ids = p;
        st->cap_trace_ids = cap;
    }
    memcpy(st->trace_ids[st->n_trace_ids++], id, TRACE_ID_BYTES);
    return 0;
}

static void json_span(FILE *f, const Opentelemetry__Proto__Trace__V1__Span *s, const char *service)
{
    fputs("{\"span_id\":", f);
    json_hex(f, s->span_id.data, s->span_id.len);
    fputs(",\"parent_span_id\":", f);
    json_hex(f, s->parent_span_id.data, s->parent_span_id.len);
    fputs(",\"name\":", f);
    json_cstr(f, s->name);
    fputs(",\"kind\":", f);
    json_cstr(
        f, enum_name(&opentelemetry__proto__trace__v1__span__span_kind__descriptor, (int)s->kind));
    fputs(",\"status\":{\"code\":", f);
    json_cstr(f, enum_name(&opentelemetry__proto__trace__v1__status__status_code__descriptor,
                           s->status != NULL ? (int)s->status->code : 0));
    fputs(",\"message\":", f);
    json_cstr(f, s->status != NULL ? s->status->message : "");
    fputs("},\"service\":", f);
    json_cstr(f, service);
    fputs(",\"attributes\":", f);
    json_attributes(f, s->attributes, s->n_attributes);
    fputc('}', f);
}

/* One "traces" entry per record: {trace_id, key, partition, offset, spans: [...]}. */
static void verify_traces(struct verify_state *st, const rd_kafka_message_t *m)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
    char key[2 * TRACE_ID_BYTES + 1] = "";
    char id_hex[2 * TRACE_ID_BYTES + 1];
    char other_hex[2 * TRACE_ID_BYTES + 1];
    const uint8_t *first_id = NULL, *other_id = NULL;
    const char *off_key_name = NULL;
    size_t n_spans = 0, n_off_key = 0, n_bad_len = 0;
    FILE *f = st->out;

    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, m->len, m->payload);
    if (req == NULL) {
        fail(st,
             "partition %" PRId32 " offset %" PRId64
             ": value (%zu bytes) does not decode as ExportTraceServiceRequest",
             m->partition, m->offset, m->len);
        return;
    }
    if (m->key == NULL) {
        fail(st, "partition %" PRId32 " offset %" PRId64 ": traces record has no key", m->partition,
             m->offset);
    } else if (!key_is_trace_id_hex(m->key, m->key_len)) {
        char shown[2 * TRACE_ID_BYTES + 4];
        printable_prefix(shown, sizeof(shown), m->key, m->key_len);
        fail(st,
             "partition %" PRId32 " offset %" PRId64
             ": key \"%s\" (%zu bytes) is not 32 lowercase hex characters",
             m->partition, m->offset, shown, m->key_len);
    } else {
        memcpy(key, m->key, m->key_len);
    }

    entry_begin(st);
    fputs("{\"key\":", f);
    if (m->key != NULL) {
        json_str(f, m->key, m->key_len);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"spans\":[", m->partition,
            m->offset);
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[r];
        const char *service = service_name(rs->resource);
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++) {
                const Opentelemetry__Proto__Trace__V1__Span *span = ss->spans[i];
                if (span->trace_id.len != TRACE_ID_BYTES) {
                    n_bad_len++;
                } else {
                    hex_encode(id_hex, span->trace_id.data, TRACE_ID_BYTES);
                    if (key[0] != '\0' && strcmp(id_hex, key) != 0 && n_off_key++ == 0) {
                        off_key_name = span->name;
                    }
                    if (first_id == NULL) {
                        first_id = span->trace_id.data;
                    } else if (other_id == NULL &&
                               memcmp(first_id, span->trace_id.data, TRACE_ID_BYTES) != 0) {
                        other_id = span->trace_id.data;
                    }
                }
                fputs(n_spans > 0 ? ",\n" : "\n", f);
                json_span(f, span, service);
                if (st->ids_out != NULL) {
                    hex_line(st->ids_out, span->span_id.data, span->span_id.len);
                }
                n_spans++;
            }
        }
    }
    fputs("],\"trace_id\":", f);
    if (first_id != NULL) {
        json_hex(f, first_id, TRACE_ID_BYTES);
        if (remember_trace_id(st, first_id) != 0) {
            fail(st, "out of memory");
        }
    } else {
        fputs("\"\"", f);
    }
    fputc('}', f);

    if (n_spans == 0) {
        fail(st, "partition %" PRId32 " offset %" PRId64 ": record holds no span", m->partition,
             m->offset);
    }
    if (n_bad_len > 0) {
        fail(st, "partition %" PRId32 " offset %" PRId64 ": %zu spans have no 16-byte trace id",
             m->partition, m->offset, n_bad_len);
    }
    if (n_off_key > 0) {
        fail(st,
             "partition %" PRId32 " offset %" PRId64
             ": %zu of %zu spans have a trace id other than the key %s (first: span \"%s\")",
             m->partition, m->offset, n_off_key, n_spans, key, off_key_name);
    }
    if (other_id != NULL) {
        hex_encode(id_hex, first_id, TRACE_ID_BYTES);
        hex_encode(other_hex, other_id, TRACE_ID_BYTES);
        fail(st, "partition %" PRId32 " offset %" PRId64 ": record mixes trace ids %s and %s",
             m->partition, m->offset, id_hex, other_hex);
    }
    st->items += n_spans;
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static int cmp_trace_id(const void *a, const void *b)
{
    return memcmp(a, b, TRACE_ID_BYTES);
}

static void check_duplicate_trace_ids(struct verify_state *st)
{
    char hex[2 * TRACE_ID_BYTES + 1];

    if (st->n_trace_ids < 2) {
        return;
    }
    qsort(st->trace_ids, st->n_trace_ids, TRACE_ID_BYTES, cmp_trace_id);
    for (size_t i = 1; i < st->n_trace_ids; i++) {
        if (memcmp(st->trace_ids[i - 1], st->trace_ids[i], TRACE_ID_BYTES) == 0 &&
            (i < 2 || memcmp(st->trace_ids[i - 2], st->trace_ids[i], TRACE_ID_BYTES) != 0)) {
            hex_encode(hex, st->trace_ids[i], TRACE_ID_BYTES);
            fail(st, "trace id %s is in more than one record", hex);
        }
    }
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void json_number_point(FILE *f, const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p)
{
    fputs("{\"attributes\":", f);
    json_attributes(f, p->attributes, p->n_attributes);
    fputs(",\"value\":", f);
    switch (p->value_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT:
        fprintf(f, "%" PRId64, p->as_int);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE:
        json_double(f, p->as_double);
        break;
    default:
        fputs("null", f);
        break;
    }
    fputc('}', f);
}

static void json_count_sum_point(FILE *f, Opentelemetry__Proto__Common__V1__KeyValue **attrs,
                                 size_t n_attrs, uint64_t count, bool has_sum, double sum)
{
    fputs("{\"attributes\":", f);
    json_attributes(f, attrs, n_attrs);
    fprintf(f, ",\"value\":{\"count\":%" PRIu64, count);
    if (has_sum) {
        fputs(",\"sum\":", f);
        json_double(f, sum);
    }
    fputs("}}", f);
}

/* Writes the metric's points and returns how many there were. */
static size_t json_metric_points(FILE *f, const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    size_t n = 0;

    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        n = m->gauge->n_data_points;
        for (size_t i = 0; i < n; i++) {
            fputs(i > 0 ? "," : "", f);
            json_number_point(f, m->gauge->data_points[i]);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        n = m->sum->n_data_points;
        for (size_t i = 0; i < n; i++) {
            fputs(i > 0 ? "," : "", f);
            json_number_point(f, m->sum->data_points[i]);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        n = m->histogram->n_data_points;
        for (size_t i = 0; i < n; i++) {
            const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p =
                m->histogram->data_points[i];
            fputs(i > 0 ? "," : "", f);
            json_count_sum_point(
                f, p->attributes, p->n_attributes, p->count,
                p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM,
                p->sum);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        n = m->exponential_histogram->n_data_points;
        for (size_t i = 0; i < n; i++) {
            const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p =
                m->exponential_histogram->data_points[i];
            fputs(i > 0 ? "," : "", f);
            json_count_sum_point(
                f, p->attributes, p->n_attributes, p->count,
                p->_sum_case ==
                    OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM,
                p->sum);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        n = m->summary->n_data_points;
        for (size_t i = 0; i < n; i++) {
            const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *p =
                m->summary->data_points[i];
            fputs(i > 0 ? "," : "", f);
            json_count_sum_point(f, p->attributes, p->n_attributes, p->count, true, p->sum);
        }
        break;
    default:
        break;
    }
    return n;
}

static const char *metric_type(const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return "GAUGE";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return "SUM";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return "HISTOGRAM";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return "EXPONENTIAL_HISTOGRAM";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return "SUMMARY";
    default:
        return "NOT_SET";
    }
}

/* One "metrics" entry per metric in a record: {name, type, service, partition, offset, points}. */
static void verify_metrics(struct verify_state *st, const rd_kafka_message_t *m)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req;
    FILE *f = st->out;

    req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
        NULL, m->len, m->payload);
    if (req == NULL) {
        fail(st,
             "partition %" PRId32 " offset %" PRId64
             ": value (%zu bytes) does not decode as ExportMetricsServiceRequest",
             m->partition, m->offset, m->len);
        return;
    }
    if (m->key != NULL) {
        fail(st, "partition %" PRId32 " offset %" PRId64 ": metrics record has a key", m->partition,
             m->offset);
    }
    for (size_t r = 0; r < req->n_resource_metrics; r++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[r];
        const char *service = service_name(rm->resource);
        for (size_t s = 0; s < rm->n_scope_metrics; s++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[s];
            for (size_t i = 0; i < sm->n_metrics; i++) {
                entry_begin(st);
                fputs("{\"name\":", f);
                json_cstr(f, sm->metrics[i]->name);
                fputs(",\"type\":", f);
                json_cstr(f, metric_type(sm->metrics[i]));
                fputs(",\"service\":", f);
                json_cstr(f, service);
                fprintf(f, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"points\":[",
                        m->partition, m->offset);
                st->items += json_metric_points(f, sm->metrics[i]);
                fputs("]}", f);
            }
        }
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- logs ------------------------------------------------------------------------------- */

/* One "logs" entry per log record: {body, severity_number, attributes, trace_id, span_id, ...}. */
static void verify_logs(struct verify_state *st, const rd_kafka_message_t *m)
{
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
    FILE *f = st->out;

    req = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
        NULL, m->len, m->payload);
    if (req == NULL) {
        fail(st,
             "partition %" PRId32 " offset %" PRId64
             ": value (%zu bytes) does not decode as ExportLogsServiceRequest",
             m->partition, m->offset, m->len);
        return;
    }
    if (m->key != NULL) {
        fail(st, "partition %" PRId32 " offset %" PRId64 ": logs record has a key", m->partition,
             m->offset);
    }
    for (size_t r = 0; r < req->n_resource_logs; r++) {
        const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = req->resource_logs[r];
        const char *service = service_name(rl->resource);
        for (size_t s = 0; s < rl->n_scope_logs; s++) {
            const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[s];
            for (size_t i = 0; i < sl->n_log_records; i++) {
                const Opentelemetry__Proto__Logs__V1__LogRecord *lr = sl->log_records[i];
                entry_begin(st);
                fputs("{\"body\":", f);
                json_any(f, lr->body);
                fprintf(f, ",\"severity_number\":%d,\"severity_text\":", (int)lr->severity_number);
                json_cstr(f, lr->severity_text);
                fputs(",\"attributes\":", f);
                json_attributes(f, lr->attributes, lr->n_attributes);
                fputs(",\"trace_id\":", f);
                json_hex(f, lr->trace_id.data, lr->trace_id.len);
                fputs(",\"span_id\":", f);
                json_hex(f, lr->span_id.data, lr->span_id.len);
                fputs(",\"service\":", f);
                json_cstr(f, service);
                fprintf(f, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}", m->partition,
                        m->offset);
                st->items++;
            }
        }
    }
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- Kafka ------------------------------------------------------------------------------ */

static void set_conf(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_verify: %s=%s: %s\n", name, value, errstr);
        exit(2);
    }
}

/*
 * Assigns every partition of the topic at its beginning. The topic may not exist yet when the
 * verifier starts early, so metadata is retried until the deadline.
 * Returns the partition count, or -1 (message on stderr).
 */
static int assign_all_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_resp_err_t err;
    int64_t deadline = now_ms() + timeout_ms;
    int n = -1;

    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL) {
        fprintf(stderr, "kafka_verify: topic %s: %s\n", topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    for (;;) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
            md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
            break;
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
            err = md->topics[0].err;
        }
        if (md != NULL) {
            rd_kafka_metadata_destroy(md);
            md = NULL;
        }
        if (now_ms() >= deadline) {
            fprintf(stderr, "kafka_verify: no metadata for topic %s: %s\n", topic,
                    rd_kafka_err2str(err));
            goto out;
        }
        usleep(200 * 1000);
    }

    n = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    err = rd_kafka_assign(rk, parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka_verify: assign: %s\n", rd_kafka_err2str(err));
        n = -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_metadata_destroy(md);
out:
    rd_kafka_topic_destroy(rkt);
    return n;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: kafka_verify -b BROKERS -t TOPIC --signal traces|metrics|logs\n"
            "                    [--expect-records N] [--timeout-ms MS] [--allow-dup]\n"
            "                    [--out FILE] [--ids-out FILE] [-X prop=value ...]\n"
            "  --expect-records N  exactly N records (at least N with --allow-dup)\n"
            "  --timeout-ms MS     give up after MS without a new message (default 10000)\n"
            "  --allow-dup         a trace id may key several records (retries, at-least-once)\n"
            "  --out FILE          write the JSON summary to FILE instead of stdout\n"
            "  --ids-out FILE      traces: write every span id read to FILE, hex, one per line\n"
            "  -X prop=value       librdkafka consumer property\n");
    exit(2);
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "kafka_verify: bad %s: %s\n", what, s);
        usage();
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "brokers", required_argument, NULL, 'b' },
        { "topic", required_argument, NULL, 't' },
        { "signal", required_argument, NULL, 's' },
        { "expect-records", required_argument, NULL, 'n' },
        { "timeout-ms", required_argument, NULL, 'T' },
        { "allow-dup", no_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "ids-out", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const entry_names[] = { "traces", "metrics", "logs" };
    static const char *const item_names[] = { "spans", "points", "log_records" };
    struct options opts = { .expect_records = -1, .timeout_ms = 10000 };
    struct verify_state st = { .opts = &opts, .first_entry = true };
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    char errstr[512];
    char group[64];
    bool *at_eof = NULL;
    int64_t *next_offset = NULL; /* per partition, -1: unknown */
    int n_parts, n_eof = 0, c, rc = 2;
    bool have_signal = false;
    int64_t last_progress_ms;

    conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "linerate-kafka-verify-%ld", (long)getpid());
    set_conf(conf, "group.id", group);
    set_conf(conf, "enable.auto.commit", "false");
    set_conf(conf, "enable.partition.eof", "true");
    set_conf(conf, "auto.offset.reset", "earliest");

    while ((c = getopt_long(argc, argv, "b:t:X:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            opts.brokers = optarg;
            break;
        case 't':
            opts.topic = optarg;
            break;
        case 's':
            if (strcmp(optarg, "traces") == 0) {
                opts.signal = SIGNAL_TRACES;
            } else if (strcmp(optarg, "metrics") == 0) {
                opts.signal = SIGNAL_METRICS;
            } else if (strcmp(optarg, "logs") == 0) {
                opts.signal = SIGNAL_LOGS;
            } else {
                usage();
            }
            have_signal = true;
            break;
        case 'n':
            opts.expect_records = parse_long(optarg, "--expect-records");
            break;
        case 'T':
            opts.timeout_ms = (int)parse_long(optarg, "--timeout-ms");
            break;
        case 'd':
            opts.allow_dup = true;
            break;
        case 'o':
            opts.out_path = optarg;
            break;
        case 'i':
            opts.ids_path = optarg;
            break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (eq == NULL) {
                usage();
            }
            *eq = '\0';
            set_conf(conf, optarg, eq + 1);
            break;
        }
        default:
            usage();
        }
    }
    if (opts.brokers == NULL || opts.topic == NULL || !have_signal || optind != argc) {
        usage();
    }
    if (opts.ids_path != NULL && opts.signal != SIGNAL_TRACES) {
        fprintf(stderr, "kafka_verify: --ids-out is for --signal traces\n");
        usage();
    }
    set_conf(conf, "bootstrap.servers", opts.brokers);

    st.error_msgs = calloc(MAX_REPORTED_ERRORS, sizeof(*st.error_msgs));
    if (st.error_msgs == NULL) {
        perror("kafka_verify: calloc");
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    st.out = stdout;
    if (opts.out_path != NULL) {
        st.out = fopen(opts.out_path, "w");
        if (st.out == NULL) {
            fprintf(stderr, "kafka_verify: %s: %s\n", opts.out_path, strerror(errno));
            rd_kafka_conf_destroy(conf);
            goto cleanup;
        }
    }
    if (opts.ids_path != NULL) {
        st.ids_out = fopen(opts.ids_path, "w");
        if (st.ids_out == NULL) {
            fprintf(stderr, "kafka_verify: %s: %s\n", opts.ids_path, strerror(errno));
            rd_kafka_conf_destroy(conf);
            goto cleanup;
        }
    }

    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka_verify: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto cleanup;
    }
    n_parts = assign_all_partitions(rk, opts.topic, opts.timeout_ms);
    if (n_parts < 0) {
        goto cleanup;
    }
    /* Kafka numbers a topic's partitions 0..n-1, so the id indexes at_eof. */
    at_eof = calloc((size_t)n_parts, sizeof(*at_eof));
    next_offset = calloc((size_t)n_parts, sizeof(*next_offset));
    if (at_eof == NULL || next_offset == NULL) {
        perror("kafka_verify: calloc");
        goto cleanup;
    }
    for (int p = 0; p < n_parts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, opts.topic, p, &lo, &hi, opts.timeout_ms);
        next_offset[p] = -1;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka_verify: partition %d: watermarks: %s\n", p,
                    rd_kafka_err2str(err));
            continue;
        }
        next_offset[p] = lo;
        if (lo > 0) {
            lost(&st,
                 "partition %d starts at offset %" PRId64 ": its first %" PRId64
                 " records were deleted (retention) before they could be read",
                 p, lo, lo);
        }
    }

    fprintf(st.out, "{\"signal\":\"%s\",\"topic\":", entry_names[opts.signal]);
    json_cstr(st.out, opts.topic);
    fprintf(st.out, ",\"%s\":[", entry_names[opts.signal]);

    last_progress_ms = now_ms();
    for (;;) {
        bool enough = opts.expect_records < 0 || (long)st.records >= opts.expect_records;
        if (n_eof == n_parts && enough) {
            break;
        }
        if (now_ms() - last_progress_ms > opts.timeout_ms) {
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < n_parts && !at_eof[m->partition]) {
                at_eof[m->partition] = true;
                n_eof++;
            }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka_verify: consumer: %s\n", rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                fail(&st, "consumer error: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                break;
            }
        } else {
            if (m->partition >= 0 && m->partition < n_parts) {
                if (at_eof[m->partition]) {
                    at_eof[m->partition] = false;
                    n_eof--;
                }
                if (next_offset[m->partition] >= 0 && m->offset > next_offset[m->partition]) {
                    lost(&st,
                         "partition %" PRId32 ": offsets %" PRId64 "..%" PRId64
                         " were deleted (retention) while reading",
                         m->partition, next_offset[m->partition], m->offset - 1);
                }
                next_offset[m->partition] = m->offset + 1;
            }
            st.records++;
            last_progress_ms = now_ms();
            switch (opts.signal) {
            case SIGNAL_TRACES:
                verify_traces(&st, m);
                break;
            case SIGNAL_METRICS:
                verify_metrics(&st, m);
                break;
            case SIGNAL_LOGS:
                verify_logs(&st, m);
                break;
            }
        }
        rd_kafka_message_destroy(m);
    }

    if (opts.signal == SIGNAL_TRACES && !opts.allow_dup) {
        check_duplicate_trace_ids(&st);
    }
    if (opts.expect_records >= 0) {
        if ((long)st.records < opts.expect_records) {
            fail(&st, "expected %ld records, got %" PRIu64 " (no new message for %d ms)",
                 opts.expect_records, st.records, opts.timeout_ms);
        } else if ((long)st.records > opts.expect_records && !opts.allow_dup) {
            fail(&st, "expected %ld records, got %" PRIu64, opts.expect_records, st.records);
        }
    }

    fprintf(st.out, "\n],\"records\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"errors\":[", st.records,
            item_names[opts.signal], st.items);
    for (size_t i = 0; i < st.n_error_msgs; i++) {
        fputs(i > 0 ? "," : "", st.out);
        json_cstr(st.out, st.error_msgs[i]);
    }
    fprintf(st.out, "],\"error_count\":%" PRIu64 ",\"ok\":%s}\n", st.errors,
            st.errors == 0 ? "true" : "false");
    fprintf(stderr, "kafka_verify: %s: %" PRIu64 " records, %" PRIu64 " %s, %" PRIu64 " errors\n",
            opts.topic, st.records, st.items, item_names[opts.signal], st.errors);
    rc = st.errors == 0 ? 0 : 1;

cleanup:
    free(at_eof);
    free(next_offset);
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (st.out != NULL && st.out != stdout && fclose(st.out) != 0) {
        fprintf(stderr, "kafka_verify: %s: %s\n", opts.out_path, strerror(errno));
        rc = 2;
    }
    if (st.ids_out != NULL && fclose(st.ids_out) != 0) {
        fprintf(stderr, "kafka_verify: %s: %s\n", opts.ids_path, strerror(errno));
        rc = 2;
    }
    for (size_t i = 0; i < st.n_error_msgs; i++) {
        free(st.error_msgs[i]);
    }
    free(st.error_msgs);
    free(st.trace_ids);
    return rc;
}
