// Tests for dataplane/otlp_json.c: OTLP/JSON -> protobuf transcoding and the JSON answers.
//
// Every accepted vector is checked by unpacking the output with protobuf-c 1.4.1 and comparing
// fields, and by lr_dp_otlp_walk() (dataplane/otlp_walk.c), which the pipeline runs on it. The
// opentelemetry-js 0.223 JSON fixtures must decode to the same content as the protobuf fixtures
// from the same sender script (ids and times differ between runs and are compared only for shape).
// Errors are table-driven with an expected message substring, and every truncated prefix of every
// valid vector must be refused (never crash).
#include <gtest/gtest.h>

#include "unit/fixtures.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/otlp_json.h"
#include "linerate/error.h"
#include "linerate/otlp.h"
}

// The generated service structs have a member named `export`, a C++ keyword.
#define export export_
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#undef export

namespace
{

using Bytes = std::vector<uint8_t>;

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

const ProtobufCMessageDescriptor *const req_desc[LR_SIG_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

// Owns one transcoding result and its protobuf-c decoding.
struct Result {
    int rc = 0;
    std::string err;
    Bytes proto;
    ProtobufCMessage *msg = nullptr;

    Result() = default;
    Result(const Result &) = delete;
    Result &operator=(const Result &) = delete;
    ~Result()
    {
        if (msg)
            protobuf_c_message_free_unpacked(msg, nullptr);
    }
    const TraceReq *traces() const { return reinterpret_cast<const TraceReq *>(msg); }
    const MetricsReq *metrics() const { return reinterpret_cast<const MetricsReq *>(msg); }
    const LogsReq *logs() const { return reinterpret_cast<const LogsReq *>(msg); }
};

// Transcodes `json`; on success unpacks the output (a failure to unpack is a test failure).
void transcode(enum lr_signal sig, const std::string &json, Result &r)
{
    struct lr_dp_json_out out = {};
    char err[256];
    memset(err, 'x', sizeof err);
    r.rc = lr_dp_otlp_json_to_proto(sig, reinterpret_cast<const uint8_t *>(json.data()),
                                    json.size(), &out, err, sizeof err);
    ASSERT_NE(memchr(err, 0, sizeof err), nullptr);
    r.err = err;
    if (r.rc == 0) {
        r.proto.assign(out.p, out.p + out.len);
        r.msg = protobuf_c_message_unpack(req_desc[sig], nullptr, r.proto.size(), r.proto.data());
        EXPECT_NE(r.msg, nullptr) << "protobuf-c cannot unpack the output";
        // The pipeline walks what we produce: linerate's own walker must accept it too.
        struct lr_otlp_view v = {};
        EXPECT_NE(out.p, nullptr); // promised even for an empty message
        EXPECT_EQ(lr_dp_otlp_walk(sig, out.p, out.len, &v), 0)
            << (v.err_reason ? v.err_reason : "") << " at " << v.err_off;
    } else {
        EXPECT_EQ(out.len, 0u);
        EXPECT_FALSE(r.err.empty());
    }
    lr_dp_json_out_free(&out);
}

std::string bin(const ProtobufCBinaryData &b)
{
    return std::string(reinterpret_cast<const char *>(b.data), b.len);
}

std::string hex(const ProtobufCBinaryData &b)
{
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < b.len; i++) {
        s += d[b.data[i] >> 4];
        s += d[b.data[i] & 15];
    }
    return s;
}

uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

// ---- fixtures ---------------------------------------------------------------------------------

std::string fixtures_dir()
{
    return lr_fixture_dir();
}

std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return std::string();
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool ignored_field(const char *name)
{
    // Different runs of the sender: ids, timestamps differ.
    static const char *const names[] = {
        "trace_id",
        "span_id",
        "parent_span_id",
        "start_time_unix_nano",
        "time_unix_nano",
        "end_time_unix_nano",
        "observed_time_unix_nano",
    };
    for (const char *n : names)
        if (strcmp(n, name) == 0)
            return true;
    return false;
}

size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

void compare_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const std::string &path);

void compare_value(const ProtobufCFieldDescriptor *fd, const void *va, const void *vb,
                   const std::string &path)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        std::string sa = *static_cast<char *const *>(va), sb = *static_cast<char *const *>(vb);
        // The sender tags each run with its protocol.
        if ((sa == "http/json" || sa == "http/protobuf") &&
            (sb == "http/json" || sb == "http/protobuf"))
            return;
        EXPECT_EQ(sa, sb) << path;
        return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const auto *ba = static_cast<const ProtobufCBinaryData *>(va);
        const auto *bb = static_cast<const ProtobufCBinaryData *>(vb);
        if (ignored_field(fd->name))
            EXPECT_EQ(ba->len, bb->len) << path; // ids: shape only
        else
            EXPECT_EQ(bin(*ba), bin(*bb)) << path;
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        auto *ma = *static_cast<ProtobufCMessage *const *>(va);
        auto *mb = *static_cast<ProtobufCMessage *const *>(vb);
        EXPECT_EQ(ma == nullptr, mb == nullptr) << path;
        if (ma && mb)
            compare_msg(ma, mb, path);
        return;
    }
    default: {
        if (ignored_field(fd->name))
            return;
        size_t n = elem_size(fd->type);
        uint64_t ua = 0, ub = 0;
        memcpy(&ua, va, n);
        memcpy(&ub, vb, n);
        EXPECT_EQ(ua, ub) << path;
    }
    }
}

void compare_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const std::string &path)
{
    ASSERT_EQ(a->descriptor, b->descriptor) << path;
    const char *pa = reinterpret_cast<const char *>(a), *pb = reinterpret_cast<const char *>(b);
    for (unsigned i = 0; i < a->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &a->descriptor->fields[i];
        std::string p = path + "." + fd->name;
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca, cb;
            memcpy(&ca, pa + fd->quantifier_offset, 4);
            memcpy(&cb, pb + fd->quantifier_offset, 4);
            EXPECT_EQ(ca, cb) << p << " (oneof case)";
            if (ca == cb && ca == fd->id)
                compare_value(fd, pa + fd->offset, pb + fd->offset, p);
        } else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na, nb;
            memcpy(&na, pa + fd->quantifier_offset, sizeof na);
            memcpy(&nb, pb + fd->quantifier_offset, sizeof nb);
            EXPECT_EQ(na, nb) << p << " (count)";
            const char *arr_a, *arr_b;
            memcpy(&arr_a, pa + fd->offset, sizeof arr_a);
            memcpy(&arr_b, pb + fd->offset, sizeof arr_b);
            size_t es = elem_size(fd->type);
            for (size_t j = 0; j < na && j < nb; j++)
                compare_value(fd, arr_a + j * es, arr_b + j * es,
                              p + "[" + std::to_string(j) + "]");
        } else {
            compare_value(fd, pa + fd->offset, pb + fd->offset, p);
        }
    }
}

TEST(OtlpJson, FixturesMatchProtobufFixtures)
{
    const char *names[] = { "traces", "metrics", "logs" };
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        SCOPED_TRACE(names[s]);
        std::string dir = fixtures_dir();
        std::string json = read_file(dir + "/" + names[s] + ".http-json.body");
        std::string pb = read_file(dir + "/" + names[s] + ".http-protobuf.body");
        ASSERT_FALSE(json.empty()) << "fixture missing in " << dir << " (set LR_FIXTURES)";
        ASSERT_FALSE(pb.empty());
        Result r;
        transcode(static_cast<enum lr_signal>(s), json, r);
        ASSERT_EQ(r.rc, 0) << r.err;
        ASSERT_NE(r.msg, nullptr);
        ProtobufCMessage *want = protobuf_c_message_unpack(
            req_desc[s], nullptr, pb.size(), reinterpret_cast<const uint8_t *>(pb.data()));
        ASSERT_NE(want, nullptr);
        compare_msg(r.msg, want, names[s]);
        protobuf_c_message_free_unpacked(want, nullptr);
    }
}

TEST(OtlpJson, FixtureTracesExactValues)
{
    Result r;
    transcode(LR_SIG_TRACES, read_file(fixtures_dir() + "/traces.http-json.body"), r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const TraceReq *t = r.traces();
    ASSERT_EQ(t->n_resource_spans, 1u);
    ASSERT_EQ(t->resource_spans[0]->n_scope_spans, 1u);
    const auto *ss = t->resource_spans[0]->scope_spans[0];
    ASSERT_EQ(ss->n_spans, 3u);
    const Span *sp = ss->spans[0];
    EXPECT_EQ(hex(sp->trace_id), "3d345241e3e3f5c90ea357a0c369365c");
    EXPECT_EQ(hex(sp->span_id), "e620d65721a4fe09");
    EXPECT_EQ(hex(sp->parent_span_id), "27b0afa63a3801a5");
    EXPECT_EQ(sp->start_time_unix_nano, 1795338681123000000ull);
    EXPECT_EQ(sp->end_time_unix_nano, 1795338681123301912ull);
    EXPECT_EQ(sp->flags, 257u);
    EXPECT_EQ(sp->kind, 1);
    EXPECT_EQ(ss->spans[2]->parent_span_id.len, 0u); // root: no parentSpanId key
    EXPECT_EQ(ss->spans[2]->kind, 2);
    ASSERT_EQ(ss->spans[2]->n_attributes, 2u);
    EXPECT_EQ(ss->spans[2]->attributes[1]->value->int_value, -1);
    ASSERT_EQ(sp->n_events, 1u);
    EXPECT_EQ(sp->events[0]->time_unix_nano, 1795338681123200349ull);
    ASSERT_NE(sp->status, nullptr);
    EXPECT_EQ(sp->status->code, 0);
}

TEST(OtlpJson, FixtureMetricsAndLogsExactValues)
{
    Result m;
    transcode(LR_SIG_METRICS, read_file(fixtures_dir() + "/metrics.http-json.body"), m);
    ASSERT_EQ(m.rc, 0) << m.err;
    const auto *sm = m.metrics()->resource_metrics[0]->scope_metrics[0];
    ASSERT_EQ(sm->n_metrics, 3u);
    const Metric *h = sm->metrics[2];
    ASSERT_EQ(h->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    const HistogramDataPoint *dp = h->histogram->data_points[0];
    EXPECT_EQ(dp->count, 1u);
    EXPECT_EQ(dp->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    EXPECT_EQ(dp->sum, 12.5);
    EXPECT_EQ(dp->_min_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);
    EXPECT_EQ(dp->min, 12.5);
    EXPECT_EQ(dp->max, 12.5);
    ASSERT_EQ(dp->n_bucket_counts, 16u);
    EXPECT_EQ(dp->bucket_counts[3], 1u);
    ASSERT_EQ(dp->n_explicit_bounds, 15u);
    EXPECT_EQ(dp->explicit_bounds[14], 10000.0);
    EXPECT_EQ(sm->metrics[1]->sum->data_points[0]->as_double, -1.0);
    EXPECT_TRUE(sm->metrics[0]->sum->is_monotonic);
    EXPECT_EQ(sm->metrics[0]->sum->aggregation_temporality, 2);

    Result l;
    transcode(LR_SIG_LOGS, read_file(fixtures_dir() + "/logs.http-json.body"), l);
    ASSERT_EQ(l.rc, 0) << l.err;
    const auto *sl = l.logs()->resource_logs[0]->scope_logs[0];
    ASSERT_EQ(sl->n_log_records, 3u);
    EXPECT_EQ(sl->log_records[0]->severity_number, 17);
    EXPECT_STREQ(sl->log_records[0]->severity_text, "ERROR");
    EXPECT_STREQ(sl->log_records[1]->body->string_value, "log line 1");
    EXPECT_EQ(sl->log_records[2]->observed_time_unix_nano, 1795338681264000000ull);
}

// ---- hand-written vectors ---------------------------------------------------------------------

const char *const kTracesFull = R"({
 "resourceSpans": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}],
               "droppedAttributesCount": 3},
  "schema_url": "https://r",
  "scopeSpans": [{
   "scope": {"name": "lib", "version": "1.2", "attributes": [{"key": "s", "value": {"boolValue": true}}],
             "dropped_attributes_count": "4"},
   "schemaUrl": "https://s",
   "spans": [{
    "traceId": "0102030405060708090A0B0C0D0E0F10",
    "span_id": "a1a2a3a4a5a6a7a8",
    "parentSpanId": "B1B2b3b4B5B6B7B8",
    "traceState": "k=v",
    "flags": 769,
    "name": "op",
    "kind": "SPAN_KIND_CLIENT",
    "startTimeUnixNano": "1700000000000000001",
    "end_time_unix_nano": 1700000000000000002,
    "attributes": [{"key": "a", "value": {"intValue": "-42"}}],
    "droppedAttributesCount": 5,
    "events": [{"timeUnixNano": "7", "name": "ev", "attributes": [], "droppedAttributesCount": 6}],
    "droppedEventsCount": 7,
    "links": [{"traceId": "ffffffffffffffffffffffffffffffff", "spanId": "0000000000000001",
               "traceState": "x=y", "attributes": [{"key": "l", "value": {"doubleValue": 2.5}}],
               "droppedAttributesCount": 8, "flags": "256"}],
    "dropped_links_count": 9,
    "status": {"message": "boom", "code": "STATUS_CODE_ERROR"}
   }, {
    "traceId": "", "spanId": null, "name": "empty-ids", "kind": 5, "status": {"code": 1}
   }]
  }]
 }]
})";

TEST(OtlpJson, TracesEveryField)
{
    Result r;
    transcode(LR_SIG_TRACES, kTracesFull, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const TraceReq *t = r.traces();
    ASSERT_EQ(t->n_resource_spans, 1u);
    const auto *rs = t->resource_spans[0];
    ASSERT_NE(rs->resource, nullptr);
    EXPECT_EQ(rs->resource->dropped_attributes_count, 3u);
    ASSERT_EQ(rs->resource->n_attributes, 1u);
    EXPECT_STREQ(rs->resource->attributes[0]->key, "service.name");
    EXPECT_STREQ(rs->resource->attributes[0]->value->string_value, "svc");
    EXPECT_STREQ(rs->schema_url, "https://r");
    ASSERT_EQ(rs->n_scope_spans, 1u);
    const auto *ss = rs->scope_spans[0];
    EXPECT_STREQ(ss->schema_url, "https://s");
    EXPECT_STREQ(ss->scope->name, "lib");
    EXPECT_STREQ(ss->scope->version, "1.2");
    EXPECT_EQ(ss->scope->dropped_attributes_count, 4u);
    ASSERT_EQ(ss->scope->n_attributes, 1u);
    EXPECT_EQ(ss->scope->attributes[0]->value->value_case,
              OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    EXPECT_TRUE(ss->scope->attributes[0]->value->bool_value);
    ASSERT_EQ(ss->n_spans, 2u);
    const Span *s = ss->spans[0];
    EXPECT_EQ(hex(s->trace_id), "0102030405060708090a0b0c0d0e0f10");
    EXPECT_EQ(hex(s->span_id), "a1a2a3a4a5a6a7a8");
    EXPECT_EQ(hex(s->parent_span_id), "b1b2b3b4b5b6b7b8");
    EXPECT_STREQ(s->trace_state, "k=v");
    EXPECT_EQ(s->flags, 769u);
    EXPECT_STREQ(s->name, "op");
    EXPECT_EQ(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    EXPECT_EQ(s->start_time_unix_nano, 1700000000000000001ull);
    EXPECT_EQ(s->end_time_unix_nano, 1700000000000000002ull);
    ASSERT_EQ(s->n_attributes, 1u);
    EXPECT_EQ(s->attributes[0]->value->int_value, -42);
    EXPECT_EQ(s->dropped_attributes_count, 5u);
    ASSERT_EQ(s->n_events, 1u);
    EXPECT_EQ(s->events[0]->time_unix_nano, 7u);
    EXPECT_STREQ(s->events[0]->name, "ev");
    EXPECT_EQ(s->events[0]->dropped_attributes_count, 6u);
    EXPECT_EQ(s->dropped_events_count, 7u);
    ASSERT_EQ(s->n_links, 1u);
    EXPECT_EQ(hex(s->links[0]->trace_id), "ffffffffffffffffffffffffffffffff");
    EXPECT_EQ(hex(s->links[0]->span_id), "0000000000000001");
    EXPECT_STREQ(s->links[0]->trace_state, "x=y");
    EXPECT_EQ(s->links[0]->attributes[0]->value->double_value, 2.5);
    EXPECT_EQ(s->links[0]->dropped_attributes_count, 8u);
    EXPECT_EQ(s->links[0]->flags, 256u);
    EXPECT_EQ(s->dropped_links_count, 9u);
    ASSERT_NE(s->status, nullptr);
    EXPECT_STREQ(s->status->message, "boom");
    EXPECT_EQ(s->status->code, 2);
    const Span *e = ss->spans[1];
    EXPECT_EQ(e->trace_id.len, 0u);
    EXPECT_EQ(e->span_id.len, 0u);
    EXPECT_EQ(e->kind, 5);
    EXPECT_EQ(e->status->code, 1);
}

const char *const kAnyValues = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[
 {"key":"s","value":{"stringValue":"h\u00e9\u20ac\ud83d\ude00"}},
 {"key":"s0","value":{"stringValue":""}},
 {"key":"b","value":{"boolValue":false}},
 {"key":"i0","value":{"intValue":0}},
 {"key":"imax","value":{"intValue":"9223372036854775807"}},
 {"key":"imin","value":{"int_value":-9223372036854775808}},
 {"key":"iexp","value":{"intValue":1e3}},
 {"key":"d","value":{"doubleValue":-0.0}},
 {"key":"dnan","value":{"doubleValue":"NaN"}},
 {"key":"dinf","value":{"double_value":"Infinity"}},
 {"key":"dninf","value":{"doubleValue":"-Infinity"}},
 {"key":"dstr","value":{"doubleValue":"1.5e2"}},
 {"key":"dint","value":{"doubleValue":18446744073709551615}},
 {"key":"arr","value":{"arrayValue":{"values":[{"intValue":1},{"arrayValue":{}},{}]}}},
 {"key":"kv","value":{"kvlistValue":{"values":[{"key":"in","value":{"kvlist_value":{"values":[{"key":"x"}]}}}]}}},
 {"key":"b64","value":{"bytesValue":"+/+/AA=="}},
 {"key":"b64url","value":{"bytes_value":"-_-_AA"}},
 {"key":"b64e","value":{"bytesValue":""}},
 {"key":"none","value":{}},
 {"key":"nul","value":null},
 {"key":"onenull","value":{"stringValue":null,"intValue":5}}
]}]}]}]})";

TEST(OtlpJson, AnyValueEveryType)
{
    Result r;
    transcode(LR_SIG_LOGS, kAnyValues, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const LogRecord *lr = r.logs()->resource_logs[0]->scope_logs[0]->log_records[0];
    ASSERT_EQ(lr->n_attributes, 21u);
    auto v = [&](size_t i) { return lr->attributes[i]->value; };
    EXPECT_STREQ(v(0)->string_value, "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    EXPECT_EQ(v(1)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    EXPECT_STREQ(v(1)->string_value, "");
    EXPECT_EQ(v(2)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    EXPECT_FALSE(v(2)->bool_value);
    EXPECT_EQ(v(3)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    EXPECT_EQ(v(3)->int_value, 0);
    EXPECT_EQ(v(4)->int_value, INT64_MAX);
    EXPECT_EQ(v(5)->int_value, INT64_MIN);
    EXPECT_EQ(v(6)->int_value, 1000);
    EXPECT_EQ(v(7)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
    EXPECT_EQ(dbits(v(7)->double_value), dbits(-0.0));
    EXPECT_TRUE(std::isnan(v(8)->double_value));
    EXPECT_EQ(v(9)->double_value, HUGE_VAL);
    EXPECT_EQ(v(10)->double_value, -HUGE_VAL);
    EXPECT_EQ(v(11)->double_value, 150.0);
    EXPECT_EQ(v(12)->double_value, 18446744073709551615.0);
    ASSERT_EQ(v(13)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    ASSERT_EQ(v(13)->array_value->n_values, 3u);
    EXPECT_EQ(v(13)->array_value->values[0]->int_value, 1);
    EXPECT_EQ(v(13)->array_value->values[1]->value_case,
              OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    EXPECT_EQ(v(13)->array_value->values[1]->array_value->n_values, 0u);
    EXPECT_EQ(v(13)->array_value->values[2]->value_case,
              OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    ASSERT_EQ(v(14)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
    const auto *in = v(14)->kvlist_value->values[0];
    EXPECT_STREQ(in->key, "in");
    ASSERT_EQ(in->value->kvlist_value->n_values, 1u);
    EXPECT_STREQ(in->value->kvlist_value->values[0]->key, "x");
    EXPECT_EQ(in->value->kvlist_value->values[0]->value, nullptr);
    EXPECT_EQ(bin(v(15)->bytes_value), std::string("\xfb\xff\xbf\x00", 4));
    EXPECT_EQ(bin(v(16)->bytes_value), std::string("\xfb\xff\xbf\x00", 4));
    EXPECT_EQ(v(17)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    EXPECT_EQ(v(17)->bytes_value.len, 0u);
    ASSERT_NE(v(18), nullptr);
    EXPECT_EQ(v(18)->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    EXPECT_EQ(v(19), nullptr);
    EXPECT_EQ(v(20)->int_value, 5);
}

const char *const kMetricsFull = R"({"resource_metrics":[{"scopeMetrics":[{"metrics":[
 {"name":"g","description":"d","unit":"u","metadata":[{"key":"m","value":{"stringValue":"v"}}],
  "gauge":{"dataPoints":[
   {"attributes":[{"key":"a","value":{"intValue":1}}],"startTimeUnixNano":1,"timeUnixNano":"2",
    "asInt":"-9223372036854775808","flags":1,
    "exemplars":[{"filteredAttributes":[{"key":"f","value":{"stringValue":"x"}}],"timeUnixNano":"3",
                  "asDouble":0,"spanId":"0102030405060708","traceId":"000102030405060708090a0b0c0d0e0f"},
                 {"as_int":7}]},
   {"asDouble":0},
   {"as_double":"-Infinity"}]}},
 {"name":"s","sum":{"dataPoints":[{"asInt":3}],"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA",
  "isMonotonic":true}},
 {"name":"h","histogram":{"aggregation_temporality":2,"dataPoints":[
   {"count":"3","sum":0,"min":0,"max":-1.5,"bucketCounts":["1",2,"18446744073709551615"],
    "explicitBounds":[0.5,"1",1e300],"flags":"1","exemplars":[{"asInt":1}]},
   {"count":0}]}},
 {"name":"e","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
   {"count":10,"sum":4.5,"scale":-3,"zeroCount":"2","zeroThreshold":1e-9,
    "positive":{"offset":-5,"bucketCounts":[1,"300"]},"negative":{"bucket_counts":[]},
    "min":-1,"max":2,"flags":0,"exemplars":[]}]}},
 {"name":"q","summary":{"dataPoints":[{"count":4,"sum":10.5,"flags":1,
   "quantileValues":[{"quantile":0.5,"value":2},{"quantile":1,"value":"NaN"}]}]}},
 {"name":"nodata"}
]}]}]})";

TEST(OtlpJson, MetricsEveryType)
{
    Result r;
    transcode(LR_SIG_METRICS, kMetricsFull, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto *sm = r.metrics()->resource_metrics[0]->scope_metrics[0];
    ASSERT_EQ(sm->n_metrics, 6u);

    const Metric *g = sm->metrics[0];
    EXPECT_STREQ(g->name, "g");
    EXPECT_STREQ(g->description, "d");
    EXPECT_STREQ(g->unit, "u");
    ASSERT_EQ(g->n_metadata, 1u);
    EXPECT_STREQ(g->metadata[0]->key, "m");
    ASSERT_EQ(g->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    ASSERT_EQ(g->gauge->n_data_points, 3u);
    const NumberDataPoint *p = g->gauge->data_points[0];
    EXPECT_EQ(p->n_attributes, 1u);
    EXPECT_EQ(p->start_time_unix_nano, 1u);
    EXPECT_EQ(p->time_unix_nano, 2u);
    EXPECT_EQ(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    EXPECT_EQ(p->as_int, INT64_MIN);
    EXPECT_EQ(p->flags, 1u);
    ASSERT_EQ(p->n_exemplars, 2u);
    const Exemplar *ex = p->exemplars[0];
    EXPECT_EQ(ex->n_filtered_attributes, 1u);
    EXPECT_EQ(ex->time_unix_nano, 3u);
    EXPECT_EQ(ex->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE);
    EXPECT_EQ(ex->as_double, 0.0);
    EXPECT_EQ(hex(ex->span_id), "0102030405060708");
    EXPECT_EQ(hex(ex->trace_id), "000102030405060708090a0b0c0d0e0f");
    EXPECT_EQ(p->exemplars[1]->value_case,
              OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT);
    EXPECT_EQ(p->exemplars[1]->as_int, 7);
    // asDouble 0 is a set oneof member, not an absent value.
    EXPECT_EQ(g->gauge->data_points[1]->value_case,
              OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    EXPECT_EQ(g->gauge->data_points[2]->as_double, -HUGE_VAL);

    const Metric *s = sm->metrics[1];
    ASSERT_EQ(s->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    EXPECT_EQ(s->sum->aggregation_temporality, 1);
    EXPECT_TRUE(s->sum->is_monotonic);
    EXPECT_EQ(s->sum->data_points[0]->as_int, 3);

    const Metric *h = sm->metrics[2];
    ASSERT_EQ(h->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    EXPECT_EQ(h->histogram->aggregation_temporality, 2);
    ASSERT_EQ(h->histogram->n_data_points, 2u);
    const HistogramDataPoint *hp = h->histogram->data_points[0];
    EXPECT_EQ(hp->count, 3u);
    // proto3 optional: present although zero.
    EXPECT_EQ(hp->_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    EXPECT_EQ(hp->sum, 0.0);
    EXPECT_EQ(hp->_min_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);
    EXPECT_EQ(hp->_max_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX);
    EXPECT_EQ(hp->max, -1.5);
    ASSERT_EQ(hp->n_bucket_counts, 3u);
    EXPECT_EQ(hp->bucket_counts[0], 1u);
    EXPECT_EQ(hp->bucket_counts[1], 2u);
    EXPECT_EQ(hp->bucket_counts[2], UINT64_MAX);
    ASSERT_EQ(hp->n_explicit_bounds, 3u);
    EXPECT_EQ(hp->explicit_bounds[0], 0.5);
    EXPECT_EQ(hp->explicit_bounds[1], 1.0);
    EXPECT_EQ(hp->explicit_bounds[2], 1e300);
    EXPECT_EQ(hp->flags, 1u);
    EXPECT_EQ(hp->n_exemplars, 1u);
    const HistogramDataPoint *hp2 = h->histogram->data_points[1];
    EXPECT_EQ(hp2->_sum_case,
              OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    EXPECT_EQ(hp2->_min_case,
              OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN__NOT_SET);

    const Metric *e = sm->metrics[3];
    ASSERT_EQ(e->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
    EXPECT_EQ(e->exponential_histogram->aggregation_temporality, 1);
    const ExpHistogramDataPoint *ep = e->exponential_histogram->data_points[0];
    EXPECT_EQ(ep->count, 10u);
    EXPECT_EQ(ep->sum, 4.5);
    EXPECT_EQ(ep->scale, -3);
    EXPECT_EQ(ep->zero_count, 2u);
    EXPECT_EQ(ep->zero_threshold, 1e-9);
    ASSERT_NE(ep->positive, nullptr);
    EXPECT_EQ(ep->positive->offset, -5);
    ASSERT_EQ(ep->positive->n_bucket_counts, 2u);
    EXPECT_EQ(ep->positive->bucket_counts[1], 300u);
    ASSERT_NE(ep->negative, nullptr); // present, empty
    EXPECT_EQ(ep->negative->n_bucket_counts, 0u);
    EXPECT_EQ(ep->min, -1.0);
    EXPECT_EQ(ep->max, 2.0);

    const Metric *q = sm->metrics[4];
    ASSERT_EQ(q->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    const SummaryDataPoint *qp = q->summary->data_points[0];
    EXPECT_EQ(qp->count, 4u);
    EXPECT_EQ(qp->sum, 10.5);
    EXPECT_EQ(qp->flags, 1u);
    ASSERT_EQ(qp->n_quantile_values, 2u);
    EXPECT_EQ(qp->quantile_values[0]->quantile, 0.5);
    EXPECT_EQ(qp->quantile_values[0]->value, 2.0);
    EXPECT_TRUE(std::isnan(qp->quantile_values[1]->value));

    EXPECT_EQ(sm->metrics[5]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA__NOT_SET);
}

const char *const kLogsFull =
    R"({"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[
 {"timeUnixNano":"18446744073709551615","observedTimeUnixNano":5,"severityNumber":"SEVERITY_NUMBER_WARN3",
  "severityText":"W","body":{"kvlistValue":{"values":[]}},"attributes":[],"droppedAttributesCount":2,
  "flags":1,"traceId":"AbCdEf0123456789abcdef0123456789","span_id":"0011223344556677","eventName":"ev.x"},
 {"severity_number":24,"body":{"stringValue":"b"},"trace_id":"","observed_time_unix_nano":"0"}
]}]}]})";

TEST(OtlpJson, LogsEveryField)
{
    Result r;
    transcode(LR_SIG_LOGS, kLogsFull, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto *rl = r.logs()->resource_logs[0];
    EXPECT_NE(rl->resource, nullptr); // {} is a present, empty message
    EXPECT_NE(rl->scope_logs[0]->scope, nullptr);
    const LogRecord *l = rl->scope_logs[0]->log_records[0];
    EXPECT_EQ(l->time_unix_nano, UINT64_MAX);
    EXPECT_EQ(l->observed_time_unix_nano, 5u);
    EXPECT_EQ(l->severity_number, 15);
    EXPECT_STREQ(l->severity_text, "W");
    EXPECT_EQ(l->body->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
    EXPECT_EQ(l->dropped_attributes_count, 2u);
    EXPECT_EQ(l->flags, 1u);
    EXPECT_EQ(hex(l->trace_id), "abcdef0123456789abcdef0123456789");
    EXPECT_EQ(hex(l->span_id), "0011223344556677");
    // eventName (field 12) is newer than these protos: protobuf-c keeps it as an unknown field.
    ASSERT_EQ(l->base.n_unknown_fields, 1u);
    EXPECT_EQ(l->base.unknown_fields[0].tag, 12u);
    EXPECT_EQ(l->base.unknown_fields[0].wire_type, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(l->base.unknown_fields[0].data),
                          l->base.unknown_fields[0].len),
              std::string("\x04"
                          "ev.x")); // protobuf-c keeps the length prefix of an unknown field
    const LogRecord *l2 = rl->scope_logs[0]->log_records[1];
    EXPECT_EQ(l2->severity_number, 24);
    EXPECT_STREQ(l2->body->string_value, "b");
    EXPECT_EQ(l2->trace_id.len, 0u);
}

const char *const kUnknownAndNulls = R"({"extra":{"a":[1,{"b":null}],"c":"d"},"resourceSpans":[
 {"unknownArr":[[[]],{},"x",1.5,true,null],"resource":null,"scopeSpans":[
  {"scope":null,"spans":[{"name":"n","futureField":{"resourceSpans":[{"bad":1}]},"attributes":null,
   "events":null,"status":null,"kind":null,"traceId":null,"startTimeUnixNano":null,
   "links":[{"x":{"y":{"z":[]}},"traceId":"0102030405060708090a0b0c0d0e0f10"}]}],"schemaUrl":null}],
  "resourceLogs":[{"x":1}]}],"resourceLogs":"ignored for traces"})";

TEST(OtlpJson, UnknownFieldsAndNullsSkipped)
{
    Result r;
    transcode(LR_SIG_TRACES, kUnknownAndNulls, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto *rs = r.traces()->resource_spans[0];
    EXPECT_EQ(rs->resource, nullptr);
    EXPECT_EQ(rs->scope_spans[0]->scope, nullptr);
    const Span *s = rs->scope_spans[0]->spans[0];
    EXPECT_STREQ(s->name, "n");
    EXPECT_EQ(s->n_attributes, 0u);
    EXPECT_EQ(s->status, nullptr);
    EXPECT_EQ(s->trace_id.len, 0u);
    ASSERT_EQ(s->n_links, 1u);
    EXPECT_EQ(s->links[0]->trace_id.len, 16u);
    EXPECT_EQ(s->base.n_unknown_fields, 0u);
}

TEST(OtlpJson, NumberForms)
{
    // uint32 from a double-typed integral literal, an exponent string, enum as a numeric string,
    // an out-of-names enum value, a negative enum (int32, sign-extended on the wire).
    Result r;
    transcode(LR_SIG_TRACES,
              R"({"resourceSpans":[{"scopeSpans":[{"spans":[
                 {"droppedAttributesCount":3.0,"droppedEventsCount":"2e1","kind":"3"},
                 {"kind":7,"status":{"code":-1}},
                 {"startTimeUnixNano":18446744073709551615,"endTimeUnixNano":"0"}]}]}]})",
              r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto *ss = r.traces()->resource_spans[0]->scope_spans[0];
    EXPECT_EQ(ss->spans[0]->dropped_attributes_count, 3u);
    EXPECT_EQ(ss->spans[0]->dropped_events_count, 20u);
    EXPECT_EQ(ss->spans[0]->kind, 3);
    EXPECT_EQ(ss->spans[1]->kind, 7);
    int32_t code; // an out-of-range enum value: read it as the int it is on the wire
    memcpy(&code, &ss->spans[1]->status->code, sizeof code);
    EXPECT_EQ(code, -1);
    EXPECT_EQ(ss->spans[2]->start_time_unix_nano, UINT64_MAX);
}

TEST(OtlpJson, EmptyAndWhitespace)
{
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        Result r;
        transcode(static_cast<enum lr_signal>(s), " \r\n\t{ }\n ", r);
        EXPECT_EQ(r.rc, 0) << r.err;
        EXPECT_TRUE(r.proto.empty());
    }
}

TEST(OtlpJson, OutputBufferIsReused)
{
    struct lr_dp_json_out out = {};
    char err[128];
    std::string big = kMetricsFull, small = R"({"resourceMetrics":[{}]})";
    ASSERT_EQ(lr_dp_otlp_json_to_proto(LR_SIG_METRICS,
                                       reinterpret_cast<const uint8_t *>(big.data()), big.size(),
                                       &out, err, sizeof err),
              0)
        << err;
    size_t cap = out.cap;
    uint8_t *p = out.p;
    ASSERT_EQ(lr_dp_otlp_json_to_proto(LR_SIG_METRICS,
                                       reinterpret_cast<const uint8_t *>(small.data()),
                                       small.size(), &out, err, sizeof err),
              0)
        << err;
    EXPECT_EQ(out.p, p);
    EXPECT_EQ(out.cap, cap);
    ASSERT_EQ(out.len, 2u);
    EXPECT_EQ(out.p[0], 0x0a); // field 1, length-delimited
    EXPECT_EQ(out.p[1], 0x00); // empty ResourceMetrics
    // An error leaves len 0; a NULL/0 err buffer is fine.
    EXPECT_EQ(lr_dp_otlp_json_to_proto(LR_SIG_METRICS, reinterpret_cast<const uint8_t *>("{"), 1,
                                       &out, nullptr, 0),
              LR_E_MALFORMED);
    EXPECT_EQ(out.len, 0u);
    lr_dp_json_out_free(&out);
    EXPECT_EQ(out.p, nullptr);
    lr_dp_json_out_free(nullptr);
}

TEST(OtlpJson, LongBodiesGetMultiByteLengths)
{
    // A string of 300 bytes inside 5 nested messages: every length prefix needs 2 bytes.
    std::string name(300, 'n');
    std::string json = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":")" + name +
                       R"("},{"name":"b"}]}]}]})";
    Result r;
    transcode(LR_SIG_TRACES, json, r);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto *ss = r.traces()->resource_spans[0]->scope_spans[0];
    ASSERT_EQ(ss->n_spans, 2u);
    EXPECT_EQ(std::string(ss->spans[0]->name), name);
    EXPECT_STREQ(ss->spans[1]->name, "b");
}

TEST(OtlpJson, DeepAnyValueNesting)
{
    // Each AnyValue array level costs 3 JSON levels; whatever the tokener's depth limit lets
    // through must also pass the walker's AnyValue depth limit (checked in transcode()).
    int deepest = -1;
    for (int n = 0; n < 30; n++) {
        std::string x = R"({"stringValue":"leaf"})";
        for (int i = 0; i < n; i++)
            x = R"({"arrayValue":{"values":[)" + x + "]}}";
        Result r;
        transcode(LR_SIG_LOGS,
                  R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)" + x + "}]}]}]}", r);
        if (r.rc == 0) {
            deepest = n;
        } else {
            EXPECT_EQ(r.rc, LR_E_MALFORMED);
            EXPECT_NE(r.err.find("nesting too deep"), std::string::npos) << r.err;
        }
    }
    EXPECT_GE(deepest, 15);
    EXPECT_LT(deepest, LR_OTLP_MAX_DEPTH);
}

// ---- errors -----------------------------------------------------------------------------------

struct ErrCase {
    enum lr_signal sig;
    std::string json;
    std::string want; // substring of the message
};

std::string span_with(const std::string &fields)
{
    return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"ok"},{)" + fields + "}]}]}]}";
}

std::string attr_with(const std::string &value)
{
    return R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":)" +
           value + "}]}]}]}]}";
}

std::string point_with(const std::string &fields)
{
    return R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{)" +
           fields + "}]}}]}]}]}";
}

std::string hist_with(const std::string &fields)
{
    return R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{)" +
           fields + "}]}}]}]}]}";
}

std::vector<ErrCase> error_cases()
{
    const std::string SP = "resourceSpans[0].scopeSpans[0].spans[1].";
    const std::string AT = "resourceLogs[0].scopeLogs[0].logRecords[0].attributes[0].value";
    const std::string DP = "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].";
    std::string deep;
    for (int i = 0; i < 70; i++)
        deep += "[";
    return {
        { LR_SIG_TRACES, "", "invalid JSON at byte 0" },
        { LR_SIG_TRACES, "   ", "invalid JSON" },
        { LR_SIG_TRACES, "[]", "expected an object at the top level, got an array" },
        { LR_SIG_TRACES, "null ", "expected an object at the top level, got null" },
        { LR_SIG_TRACES, "\"x\"", "top level" },
        { LR_SIG_TRACES, "{} x", "invalid JSON at byte 3" },
        { LR_SIG_TRACES, "{}{}", "invalid JSON" },
        { LR_SIG_TRACES, R"({"a":1,})", "invalid JSON" },
        { LR_SIG_TRACES, R"({/*c*/})", "invalid JSON" },
        { LR_SIG_TRACES, "{\"a\":\"\xff\"}", "invalid JSON" },
        { LR_SIG_TRACES, std::string("{\"a\":\"\0\"}", 9), "invalid JSON" },
        { LR_SIG_TRACES, R"({"a":01})", "invalid JSON" },
        { LR_SIG_TRACES, R"({"a":)" + deep, "invalid JSON" },
        { LR_SIG_TRACES, R"({"resourceSpans":{}})",
          "resourceSpans: expected an array, got an object" },
        { LR_SIG_TRACES, R"({"resourceSpans":[1]})",
          "resourceSpans[0]: expected an object, got a number" },
        { LR_SIG_TRACES, R"({"resourceSpans":[null]})",
          "resourceSpans[0]: expected an object, got null" },
        { LR_SIG_TRACES, R"({"resourceSpans":[{"resource":[]}]})",
          "resourceSpans[0].resource: expected an object" },
        { LR_SIG_TRACES, span_with(R"("traceId":"0102030405060708090a0b0c0d0e0f1")"),
          (SP + "traceId: not 32 hex characters") },
        { LR_SIG_TRACES, span_with(R"("traceId":"0102030405060708090a0b0c0d0e0f1g")"),
          "traceId: not 32 hex characters" },
        { LR_SIG_TRACES, span_with(R"("traceId":"0102030405060708090a0b0c0d0e0f1000")"),
          "not 32 hex characters" },
        { LR_SIG_TRACES, span_with(R"("traceId":"AQIDBAUGBwgJCgsMDQ4PEA==")"),
          "not 32 hex characters" },
        { LR_SIG_TRACES, span_with(R"("traceId":12)"),
          "traceId: expected a hex string, got a number" },
        { LR_SIG_TRACES, span_with(R"("spanId":"010203040506070")"),
          (SP + "spanId: not 16 hex characters") },
        { LR_SIG_TRACES, span_with(R"("parent_span_id":"01020304050607 8")"),
          "parent_span_id: not 16 hex characters" },
        { LR_SIG_TRACES, span_with(R"("links":[{"spanId":"zz"}])"), "links[0].spanId: not 16 hex" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":"-1")"),
          "startTimeUnixNano: integer out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":-1)"), "integer out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":"18446744073709551616")"),
          "integer out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":18446744073709551616)"),
          "integer out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":99999999999999999999999)"),
          "integer out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":1e20)"),
          "not an integer or out of range" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":"1.5")"), "not an integer" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":"abc")"), "not a decimal integer" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":" 1")"), "not a decimal integer" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":"")"), "not a decimal integer" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":true)"),
          "expected an integer, got a boolean" },
        { LR_SIG_TRACES, span_with(R"("startTimeUnixNano":{})"),
          "expected an integer, got an object" },
        { LR_SIG_TRACES, span_with(R"("kind":2147483648)"), "kind: integer out of range" },
        { LR_SIG_TRACES, span_with(R"("kind":-2147483649)"), "kind: integer out of range" },
        { LR_SIG_TRACES, span_with(R"("kind":"SPAN_KIND_BOGUS")"),
          "kind: unknown enum value name" },
        { LR_SIG_TRACES, span_with(R"("kind":"span_kind_server")"), "unknown enum value name" },
        { LR_SIG_TRACES, span_with(R"("status":{"code":"STATUS_CODE_MAYBE"})"),
          "status.code: unknown enum" },
        { LR_SIG_TRACES, span_with(R"("droppedAttributesCount":4294967296)"),
          "droppedAttributesCount: integer out of range" },
        { LR_SIG_TRACES, span_with(R"("droppedAttributesCount":-1)"), "integer out of range" },
        { LR_SIG_TRACES, span_with(R"("flags":4294967296)"), "flags: integer out of range" },
        { LR_SIG_TRACES, span_with(R"("name":5)"), "name: expected a string, got a number" },
        { LR_SIG_TRACES, span_with(R"("traceId":"","trace_id":"")"), "field given twice" },
        { LR_SIG_TRACES, span_with(R"("attributes":{})"), "attributes: expected an array" },
        { LR_SIG_TRACES, span_with(R"("attributes":[{"key":1}])"),
          "attributes[0].key: expected a string" },
        { LR_SIG_TRACES, span_with(R"("attributes":[{"key":"k","value":"v"}])"),
          "attributes[0].value: expected an object, got a string" },
        { LR_SIG_LOGS, attr_with(R"({"stringValue":"a","intValue":1})"),
          (AT + ".intValue: a second member of a oneof") },
        { LR_SIG_LOGS, attr_with(R"({"intValue":"12345678901234567890"})"),
          "intValue: integer out of range" },
        { LR_SIG_LOGS, attr_with(R"({"intValue":9223372036854775808})"), "integer out of range" },
        { LR_SIG_LOGS, attr_with(R"({"intValue":"-9223372036854775809"})"),
          "integer out of range" },
        { LR_SIG_LOGS, attr_with(R"({"intValue":1.5})"), "not an integer" },
        { LR_SIG_LOGS, attr_with(R"({"boolValue":"true"})"),
          "boolValue: expected a boolean, got a string" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":"nan"})"),
          "doubleValue: string is not a number" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":"1e999"})"), "number out of range" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":1e999})"), "number out of range" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":NaN})"), "number out of range" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":true})"), "expected a number, got a boolean" },
        { LR_SIG_LOGS, attr_with(R"({"doubleValue":123456789012345678901234})"), "beyond 64 bits" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":"ab*c"})"), "bytesValue: invalid base64" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":"A"})"), "invalid base64" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":"QQ="})"), "invalid base64" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":"Q==="})"), "invalid base64" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":"QQ==QQ=="})"), "invalid base64" },
        { LR_SIG_LOGS, attr_with(R"({"bytesValue":3})"), "expected a base64 string" },
        { LR_SIG_LOGS,
          attr_with(R"({"arrayValue":{"values":[{"kvlistValue":{"values":[{"value":[]}]}}]}})"),
          "arrayValue.values[0].kvlistValue.values[0].value: expected an object" },
        { LR_SIG_LOGS, attr_with(R"({"arrayValue":[]})"),
          "arrayValue: expected an object, got an array" },
        { LR_SIG_LOGS,
          R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":1.5}]}]}]})",
          "severityNumber: not an integer" },
        { LR_SIG_LOGS, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"text"}]}]}]})",
          "logRecords[0].body: expected an object" },
        { LR_SIG_LOGS, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"0011"}]}]}]})",
          "spanId: not 16 hex characters" },
        { LR_SIG_LOGS, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":[]}]}]}]})",
          "eventName: expected a string" },
        { LR_SIG_METRICS, point_with(R"("asDouble":1,"asInt":1)"),
          (DP + "asInt: a second member of a oneof") },
        { LR_SIG_METRICS, point_with(R"("asInt":"1","as_double":1)"),
          "as_double: a second member" },
        { LR_SIG_METRICS, point_with(R"("asInt":"x")"), "asInt: string is not a decimal integer" },
        { LR_SIG_METRICS, point_with(R"("exemplars":[{"traceId":"00"}])"),
          "exemplars[0].traceId: not 32 hex" },
        { LR_SIG_METRICS, point_with(R"("exemplars":[{"asInt":1,"asDouble":2}])"),
          "exemplars[0].asDouble: a second member" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{},"sum":{}}]}]}]})",
          "metrics[0].sum: a second member of a oneof" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"DELTA"}}]}]}]})",
          "aggregationTemporality: unknown enum value name" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"isMonotonic":1}}]}]}]})",
          "isMonotonic: expected a boolean" },
        { LR_SIG_METRICS, hist_with(R"("bucketCounts":[1,null])"),
          "bucketCounts[1]: null in an array" },
        { LR_SIG_METRICS, hist_with(R"("bucketCounts":[1,-1])"),
          "bucketCounts[1]: integer out of range" },
        { LR_SIG_METRICS, hist_with(R"("bucketCounts":"1")"), "bucketCounts: expected an array" },
        { LR_SIG_METRICS, hist_with(R"("explicitBounds":[1,"x"])"),
          "explicitBounds[1]: string is not a number" },
        { LR_SIG_METRICS, hist_with(R"("sum":"x")"), "sum: string is not a number" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":2147483648}]}}]}]}]})",
          "scale: integer out of range" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"positive":{"offset":-2147483649}}]}}]}]}]})",
          "positive.offset: integer out of range" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":"q"}]}]}}]}]}]})",
          "quantileValues[0].quantile: string is not a number" },
        { LR_SIG_METRICS,
          R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":{}}]}}]}]}]})",
          "quantileValues: expected an array" },
        { LR_SIG_METRICS, R"({"resourceMetrics":[{"resource":{"droppedAttributesCount":"-0x1"}}]})",
          "resource.droppedAttributesCount: string is not a decimal integer" },
        { LR_SIG_METRICS, R"({"resourceMetrics":[{"schemaUrl":{}}]})",
          "resourceMetrics[0].schemaUrl: expected a string" },
        { LR_SIG_TRACES,
          R"({"resourceSpans":[{"scopeSpans":[{"scope":{"name":"s","version":1}}]}]})",
          "scope.version: expected a string" },
    };
}

TEST(OtlpJson, ErrorTable)
{
    for (const ErrCase &c : error_cases()) {
        SCOPED_TRACE(c.json);
        Result r;
        transcode(c.sig, c.json, r);
        EXPECT_EQ(r.rc, LR_E_MALFORMED);
        EXPECT_NE(r.err.find(c.want), std::string::npos)
            << "message: " << r.err << "\nwanted: " << c.want;
    }
}

TEST(OtlpJson, ErrorMessageTruncatesSafely)
{
    std::string json = span_with(R"("traceId":"00")");
    struct lr_dp_json_out out = {};
    for (size_t n = 1; n < 80; n++) {
        std::vector<char> err(n + 1, 'x');
        EXPECT_EQ(lr_dp_otlp_json_to_proto(LR_SIG_TRACES,
                                           reinterpret_cast<const uint8_t *>(json.data()),
                                           json.size(), &out, err.data(), n),
                  LR_E_MALFORMED);
        EXPECT_LT(strlen(err.data()), n);
        EXPECT_EQ(err[n], 'x'); // nothing written past errlen
    }
    lr_dp_json_out_free(&out);
}

TEST(OtlpJson, BadSignalAndTooLarge)
{
    struct lr_dp_json_out out = {};
    char err[64];
    EXPECT_EQ(lr_dp_otlp_json_to_proto(static_cast<enum lr_signal>(3),
                                       reinterpret_cast<const uint8_t *>("{}"), 2, &out, err,
                                       sizeof err),
              LR_E_MALFORMED);
    // The length is checked before the bytes are read.
    EXPECT_EQ(lr_dp_otlp_json_to_proto(LR_SIG_TRACES, reinterpret_cast<const uint8_t *>("{}"),
                                       (size_t)INT_MAX + 1, &out, err, sizeof err),
              LR_E_TOO_LARGE);
    lr_dp_json_out_free(&out);
}

// ---- every truncated prefix -------------------------------------------------------------------

TEST(OtlpJson, EveryTruncatedPrefixIsMalformed)
{
    struct V {
        enum lr_signal sig;
        std::string json;
    };
    std::vector<V> vs = {
        { LR_SIG_TRACES, kTracesFull },      { LR_SIG_LOGS, kAnyValues },
        { LR_SIG_METRICS, kMetricsFull },    { LR_SIG_LOGS, kLogsFull },
        { LR_SIG_TRACES, kUnknownAndNulls },
    };
    const char *names[] = { "traces", "metrics", "logs" };
    for (int s = 0; s < LR_SIG_COUNT; s++)
        vs.push_back({ static_cast<enum lr_signal>(s),
                       read_file(fixtures_dir() + "/" + names[s] + ".http-json.body") });
    struct lr_dp_json_out out = {};
    char err[256];
    for (const V &v : vs) {
        ASSERT_FALSE(v.json.empty());
        ASSERT_EQ(lr_dp_otlp_json_to_proto(v.sig, reinterpret_cast<const uint8_t *>(v.json.data()),
                                           v.json.size(), &out, err, sizeof err),
                  0)
            << err;
        for (size_t n = 0; n < v.json.size(); n++) {
            int rc = lr_dp_otlp_json_to_proto(
                v.sig, reinterpret_cast<const uint8_t *>(v.json.data()), n, &out, err, sizeof err);
            ASSERT_EQ(rc, LR_E_MALFORMED) << "prefix " << n << " of " << v.json.substr(0, 40);
            ASSERT_EQ(out.len, 0u);
            ASSERT_NE(strstr(err, "invalid JSON at byte"), nullptr) << err;
        }
    }
    lr_dp_json_out_free(&out);
}

// ---- answers ----------------------------------------------------------------------------------

TEST(OtlpJson, ResponseJson)
{
    char b[256];
    EXPECT_EQ(lr_dp_otlp_json_response(b, sizeof b, LR_SIG_TRACES, 0, nullptr), 2u);
    EXPECT_STREQ(b, "{}");
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_TRACES, 3, "bad span");
    EXPECT_STREQ(b, R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad span"}})");
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_METRICS, 5, nullptr);
    EXPECT_STREQ(b, R"({"partialSuccess":{"rejectedDataPoints":"5"}})");
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_LOGS, 9223372036854775807LL, "x");
    EXPECT_STREQ(
        b, R"({"partialSuccess":{"rejectedLogRecords":"9223372036854775807","errorMessage":"x"}})");
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_LOGS, 0, "warn only");
    EXPECT_STREQ(b, R"({"partialSuccess":{"errorMessage":"warn only"}})");
    // Escaping: quote, backslash, control characters, invalid UTF-8 -> U+FFFD, valid UTF-8 kept.
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_TRACES, 1, "a\"b\\c\nd\te\x01\xff\xc3\xa9");
    EXPECT_STREQ(b, "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":"
                    "\"a\\\"b\\\\c\\nd\\te\\u0001\\ufffd\xc3\xa9\"}}");
    // Truncated UTF-8 at the end of the message.
    lr_dp_otlp_json_response(b, sizeof b, LR_SIG_TRACES, 0, "x\xe2\x82");
    EXPECT_STREQ(b, "{\"partialSuccess\":{\"errorMessage\":\"x\\ufffd\\ufffd\"}}");
    // snprintf semantics: returns the full length, truncates and terminates.
    size_t full = lr_dp_otlp_json_response(b, sizeof b, LR_SIG_TRACES, 3, "bad span");
    char small[10];
    memset(small, 'z', sizeof small);
    EXPECT_EQ(lr_dp_otlp_json_response(small, sizeof small, LR_SIG_TRACES, 3, "bad span"), full);
    EXPECT_EQ(strlen(small), sizeof small - 1);
    EXPECT_EQ(lr_dp_otlp_json_response(nullptr, 0, LR_SIG_TRACES, 3, "bad span"), full);
}

TEST(OtlpJson, RpcStatusJson)
{
    char b[128];
    EXPECT_EQ(lr_dp_rpc_status_json(b, sizeof b, 3, "bad \"json\""),
              strlen(R"({"code":3,"message":"bad \"json\""})"));
    EXPECT_STREQ(b, R"({"code":3,"message":"bad \"json\""})");
    lr_dp_rpc_status_json(b, sizeof b, 14, nullptr);
    EXPECT_STREQ(b, R"({"code":14})");
    lr_dp_rpc_status_json(b, sizeof b, 8, "");
    EXPECT_STREQ(b, R"({"code":8,"message":""})");
    EXPECT_EQ(lr_dp_rpc_status_json(nullptr, 0, 3, "x"), strlen(R"({"code":3,"message":"x"})"));
}

TEST(OtlpJson, MalformedMessageFitsAnswer)
{
    // The transcoder's reason string round-trips through the answer as valid JSON.
    Result r;
    transcode(LR_SIG_TRACES, span_with(R"("traceId":"xyz")"), r);
    ASSERT_EQ(r.rc, LR_E_MALFORMED);
    char b[512];
    lr_dp_rpc_status_json(b, sizeof b, 3, r.err.c_str());
    EXPECT_EQ(std::string(b), R"({"code":3,"message":")" + r.err + "\"}");
}

} // namespace
