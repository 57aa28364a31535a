// Tests for dataplane/otlp_walk.c: lr_dp_otlp_walk() against protobuf-c 1.4.1's unpack.
//
// Every vector (built with protobuf-c, plus the opentelemetry-js 0.223 fixtures) must walk with
// the counts and fields protobuf-c decodes, and every truncated prefix must be accepted or
// rejected exactly as protobuf-c does. Hostile vectors pin the wire-format rules, including the
// places where the walker is deliberately stricter than protobuf-c (UTF-8, AnyValue depth,
// non-minimal field number 0).
#include <gtest/gtest.h>

#include "unit/fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
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
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link SpanLink;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary Summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets Buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile ValueAtQuantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;

const ProtobufCMessageDescriptor *const kReqDesc[LR_SIG_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

// ---- building messages with protobuf-c --------------------------------------------------------

// Owns everything a vector's protobuf-c objects point to.
struct Pool {
    std::vector<void *> ptrs;
    Pool() = default;
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    ~Pool()
    {
        for (void *p : ptrs)
            free(p);
    }
    template <class T> T *obj(void (*init)(T *))
    {
        T *t = static_cast<T *>(calloc(1, sizeof(T)));
        init(t);
        ptrs.push_back(t);
        return t;
    }
    template <class T> T **arr(std::vector<T *> v)
    {
        T **a = static_cast<T **>(calloc(v.size() + 1, sizeof(T *)));
        for (size_t i = 0; i < v.size(); i++)
            a[i] = v[i];
        ptrs.push_back(a);
        return a;
    }
    template <class T> T *vals(std::vector<T> v)
    {
        T *a = static_cast<T *>(calloc(v.size() + 1, sizeof(T)));
        for (size_t i = 0; i < v.size(); i++)
            a[i] = v[i];
        ptrs.push_back(a);
        return a;
    }
    char *str(const std::string &s)
    {
        char *p = static_cast<char *>(malloc(s.size() + 1));
        memcpy(p, s.c_str(), s.size() + 1);
        ptrs.push_back(p);
        return p;
    }
    ProtobufCBinaryData bin(const Bytes &b)
    {
        ProtobufCBinaryData d;
        d.len = b.size();
        d.data = static_cast<uint8_t *>(malloc(b.size() + 1));
        if (!b.empty())
            memcpy(d.data, b.data(), b.size());
        ptrs.push_back(d.data);
        return d;
    }

    AnyValue *any_str(const std::string &s)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = str(s);
        return a;
    }
    AnyValue *any_int(int64_t v)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        a->int_value = v;
        return a;
    }
    AnyValue *any_double(double v)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        a->double_value = v;
        return a;
    }
    AnyValue *any_bool(bool v)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        a->bool_value = v;
        return a;
    }
    AnyValue *any_bytes(const Bytes &b)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        a->bytes_value = bin(b);
        return a;
    }
    AnyValue *any_array(std::vector<AnyValue *> v)
    {
        ArrayValue *arv = obj(opentelemetry__proto__common__v1__array_value__init);
        arv->n_values = v.size();
        arv->values = arr(v);
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        a->array_value = arv;
        return a;
    }
    AnyValue *any_kvlist(std::vector<KeyValue *> v)
    {
        KeyValueList *l = obj(opentelemetry__proto__common__v1__key_value_list__init);
        l->n_values = v.size();
        l->values = arr(v);
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        a->kvlist_value = l;
        return a;
    }
    KeyValue *kv(const std::string &k, AnyValue *v)
    {
        KeyValue *e = obj(opentelemetry__proto__common__v1__key_value__init);
        e->key = str(k);
        e->value = v;
        return e;
    }
    Resource *resource(std::vector<KeyValue *> attrs)
    {
        Resource *r = obj(opentelemetry__proto__resource__v1__resource__init);
        r->n_attributes = attrs.size();
        r->attributes = arr(attrs);
        return r;
    }
    Scope *scope(const std::string &name, const std::string &version)
    {
        Scope *s = obj(opentelemetry__proto__common__v1__instrumentation_scope__init);
        s->name = str(name);
        s->version = str(version);
        return s;
    }
};

Bytes pack(const ProtobufCMessage *m)
{
    Bytes b(protobuf_c_message_get_packed_size(m));
    size_t n = protobuf_c_message_pack(m, b.data());
    EXPECT_EQ(n, b.size());
    return b;
}

Bytes id(uint8_t seed, size_t n)
{
    Bytes b(n);
    for (size_t i = 0; i < n; i++)
        b[i] = static_cast<uint8_t>(seed * 16 + i + 1);
    return b;
}

struct SpanSpec {
    Bytes trace_id, span_id, parent;
    std::string name;
    int kind;
    int status; // -1: no Status message
    bool rich;  // attributes, events, links
};

Span *make_span(Pool &p, const SpanSpec &s, uint64_t t)
{
    Span *sp = p.obj(opentelemetry__proto__trace__v1__span__init);
    sp->trace_id = p.bin(s.trace_id);
    sp->span_id = p.bin(s.span_id);
    sp->parent_span_id = p.bin(s.parent);
    sp->name = p.str(s.name);
    sp->kind = static_cast<Opentelemetry__Proto__Trace__V1__Span__SpanKind>(s.kind);
    sp->start_time_unix_nano = 1700000000000000000ull + t;
    sp->end_time_unix_nano = 1700000000000000000ull + t + 12345;
    sp->flags = 0x101;
    if (s.status >= 0) {
        Status *st = p.obj(opentelemetry__proto__trace__v1__status__init);
        st->code = static_cast<Opentelemetry__Proto__Trace__V1__Status__StatusCode>(s.status);
        st->message = p.str(s.status == 2 ? "boom \xe2\x9c\x97" : "");
        sp->status = st;
    }
    if (s.rich) {
        std::vector<KeyValue *> attrs = {
            p.kv("http.method", p.any_str("GET")),
            p.kv("http.status_code", p.any_int(200)),
            p.kv("ratio", p.any_double(0.25)),
            p.kv("ok", p.any_bool(true)),
            p.kv("blob", p.any_bytes({ 0, 1, 2, 0xff })),
            p.kv("list", p.any_array({ p.any_str("a"), p.any_int(-1),
                                       p.any_kvlist({ p.kv("in", p.any_str("ner")) }) })),
            p.kv("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", p.any_str("\xe6\x97\xa5\xe6\x9c\xac")),
        };
        sp->n_attributes = attrs.size();
        sp->attributes = p.arr(attrs);
        SpanEvent *ev = p.obj(opentelemetry__proto__trace__v1__span__event__init);
        ev->time_unix_nano = 42;
        ev->name = p.str("exception");
        std::vector<KeyValue *> eattrs = { p.kv("exception.type", p.any_str("E")) };
        ev->n_attributes = 1;
        ev->attributes = p.arr(eattrs);
        std::vector<SpanEvent *> evs = { ev, ev };
        sp->n_events = 2;
        sp->events = p.arr(evs);
        SpanLink *ln = p.obj(opentelemetry__proto__trace__v1__span__link__init);
        ln->trace_id = p.bin(id(9, 16));
        ln->span_id = p.bin(id(9, 8));
        ln->trace_state = p.str("k=v");
        ln->flags = 1;
        std::vector<SpanLink *> lns = { ln };
        sp->n_links = 1;
        sp->links = p.arr(lns);
        sp->trace_state = p.str("rojo=00f067aa0ba902b7");
        sp->dropped_attributes_count = 3;
    }
    return sp;
}

// resources -> scopes -> spans
typedef std::vector<std::vector<std::vector<SpanSpec>>> TraceShape;

Bytes make_traces(const TraceShape &shape)
{
    Pool p;
    std::vector<ResourceSpans *> rss;
    uint64_t t = 0;
    for (size_t r = 0; r < shape.size(); r++) {
        ResourceSpans *rs = p.obj(opentelemetry__proto__trace__v1__resource_spans__init);
        rs->resource = p.resource({
            p.kv("service.name", p.any_str("svc-" + std::to_string(r))),
            p.kv("host.name", p.any_str("host")),
            p.kv("process.pid", p.any_int(1234)),
        });
        rs->schema_url = p.str("https://opentelemetry.io/schemas/1.21.0");
        std::vector<ScopeSpans *> sss;
        for (size_t s = 0; s < shape[r].size(); s++) {
            ScopeSpans *ss = p.obj(opentelemetry__proto__trace__v1__scope_spans__init);
            ss->scope = p.scope("lib-" + std::to_string(r) + "." + std::to_string(s), "1.0.0");
            std::vector<Span *> spans;
            for (const SpanSpec &sp : shape[r][s])
                spans.push_back(make_span(p, sp, t++ * 1000));
            ss->n_spans = spans.size();
            ss->spans = p.arr(spans);
            sss.push_back(ss);
        }
        rs->n_scope_spans = sss.size();
        rs->scope_spans = p.arr(sss);
        rss.push_back(rs);
    }
    TraceReq *req =
        p.obj(opentelemetry__proto__collector__trace__v1__export_trace_service_request__init);
    req->n_resource_spans = rss.size();
    req->resource_spans = p.arr(rss);
    return pack(&req->base);
}

Bytes traces_rich()
{
    Bytes A = id(1, 16), B = id(2, 16), C = id(3, 16);
    return make_traces({
        {
            {
                { A, id(1, 8), {}, "GET /checkout", 2, 1, true },
                { A, id(2, 8), id(1, 8), "SELECT orders", 3, 0, false },
                { B, id(3, 8), {}, "background", 1, -1, false },
            },
            { { C, id(4, 8), {}, "publish", 4, 2, true } },
            {},
        },
        {
            {
                { B, id(5, 8), id(3, 8), "child of b", 5, 2, false },
                { A, id(6, 8), id(2, 8), "\xe6\x97\xa5\xe6\x9c\xac", 0, -1, true },
                { {}, id(7, 8), {}, "no trace id", 0, -1, false },
                { id(4, 5), id(8, 8), {}, "short trace id", 0, -1, false },
                { {}, {}, {}, "", 0, -1, false },
            },
        },
        {},
    });
}

NumberDataPoint *ndp(Pool &p, int i, bool as_int)
{
    NumberDataPoint *d = p.obj(opentelemetry__proto__metrics__v1__number_data_point__init);
    d->start_time_unix_nano = 1;
    d->time_unix_nano = 2 + i;
    if (as_int) {
        d->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        d->as_int = -i;
    } else {
        d->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        d->as_double = i * 1.5;
    }
    std::vector<KeyValue *> attrs = { p.kv("core", p.any_int(i)) };
    d->n_attributes = 1;
    d->attributes = p.arr(attrs);
    if (i == 1) {
        Exemplar *e = p.obj(opentelemetry__proto__metrics__v1__exemplar__init);
        e->time_unix_nano = 5;
        e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
        e->as_double = 3.0;
        e->trace_id = p.bin(id(1, 16));
        e->span_id = p.bin(id(1, 8));
        std::vector<KeyValue *> fa = { p.kv("user", p.any_str("u1")) };
        e->n_filtered_attributes = 1;
        e->filtered_attributes = p.arr(fa);
        std::vector<Exemplar *> ex = { e };
        d->n_exemplars = 1;
        d->exemplars = p.arr(ex);
    }
    return d;
}

Metric *metric(Pool &p, const std::string &name)
{
    Metric *m = p.obj(opentelemetry__proto__metrics__v1__metric__init);
    m->name = p.str(name);
    m->description = p.str("desc of " + name);
    m->unit = p.str("ms");
    return m;
}

Bytes metrics_rich()
{
    Pool p;
    std::vector<Metric *> ms;

    Metric *g = metric(p, "queue.depth");
    Gauge *gauge = p.obj(opentelemetry__proto__metrics__v1__gauge__init);
    std::vector<NumberDataPoint *> gp = { ndp(p, 0, false), ndp(p, 1, true) };
    gauge->n_data_points = gp.size();
    gauge->data_points = p.arr(gp);
    g->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    g->gauge = gauge;
    ms.push_back(g);

    Metric *s = metric(p, "requests");
    Sum *sum = p.obj(opentelemetry__proto__metrics__v1__sum__init);
    std::vector<NumberDataPoint *> sp = { ndp(p, 2, true), ndp(p, 3, true), ndp(p, 4, false) };
    sum->n_data_points = sp.size();
    sum->data_points = p.arr(sp);
    sum->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    sum->is_monotonic = 1;
    s->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    s->sum = sum;
    ms.push_back(s);

    Metric *h = metric(p, "latency");
    Histogram *hist = p.obj(opentelemetry__proto__metrics__v1__histogram__init);
    std::vector<HistogramDataPoint *> hp;
    for (int i = 0; i < 2; i++) {
        HistogramDataPoint *d =
            p.obj(opentelemetry__proto__metrics__v1__histogram_data_point__init);
        d->time_unix_nano = 10 + i;
        d->count = 6;
        d->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
        d->sum = 12.5;
        d->n_bucket_counts = 3;
        d->bucket_counts = p.vals<uint64_t>({ 1, 2, 3 });
        d->n_explicit_bounds = 2;
        d->explicit_bounds = p.vals<double>({ 1.0, 10.0 });
        d->_min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
        d->min = 0.5;
        d->_max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
        d->max = 20;
        hp.push_back(d);
    }
    hist->n_data_points = hp.size();
    hist->data_points = p.arr(hp);
    hist->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    h->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    h->histogram = hist;
    ms.push_back(h);

    Metric *e = metric(p, "latency.exp");
    ExpHistogram *eh = p.obj(opentelemetry__proto__metrics__v1__exponential_histogram__init);
    ExpHistogramDataPoint *ed =
        p.obj(opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init);
    ed->count = 7;
    ed->scale = -3;
    ed->zero_count = 1;
    ed->zero_threshold = 0.001;
    Buckets *pos =
        p.obj(opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init);
    pos->offset = -2;
    pos->n_bucket_counts = 3;
    pos->bucket_counts = p.vals<uint64_t>({ 1, 300, 1ull << 40 });
    Buckets *neg =
        p.obj(opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init);
    ed->positive = pos;
    ed->negative = neg;
    std::vector<ExpHistogramDataPoint *> ep = { ed };
    eh->n_data_points = 1;
    eh->data_points = p.arr(ep);
    e->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    e->exponential_histogram = eh;
    ms.push_back(e);

    Metric *su = metric(p, "rpc.summary");
    Summary *summ = p.obj(opentelemetry__proto__metrics__v1__summary__init);
    std::vector<SummaryDataPoint *> sdp;
    for (int i = 0; i < 2; i++) {
        SummaryDataPoint *d = p.obj(opentelemetry__proto__metrics__v1__summary_data_point__init);
        d->count = 3;
        d->sum = 9;
        ValueAtQuantile *q =
            p.obj(opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init);
        q->quantile = 0.99;
        q->value = 8;
        std::vector<ValueAtQuantile *> qs = { q, q };
        d->n_quantile_values = 2;
        d->quantile_values = p.arr(qs);
        sdp.push_back(d);
    }
    summ->n_data_points = sdp.size();
    summ->data_points = p.arr(sdp);
    su->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    su->summary = summ;
    ms.push_back(su);

    ms.push_back(metric(p, "no.data"));

    ScopeMetrics *sm = p.obj(opentelemetry__proto__metrics__v1__scope_metrics__init);
    sm->scope = p.scope("meter", "2");
    std::vector<Metric *> first(ms.begin(), ms.begin() + 4), second(ms.begin() + 4, ms.end());
    sm->n_metrics = first.size();
    sm->metrics = p.arr(first);
    ScopeMetrics *sm2 = p.obj(opentelemetry__proto__metrics__v1__scope_metrics__init);
    sm2->n_metrics = second.size();
    sm2->metrics = p.arr(second);
    sm2->schema_url = p.str("s");
    ResourceMetrics *rm = p.obj(opentelemetry__proto__metrics__v1__resource_metrics__init);
    rm->resource = p.resource({ p.kv("service.name", p.any_str("metrics-svc")) });
    std::vector<ScopeMetrics *> sms = { sm, sm2 };
    rm->n_scope_metrics = 2;
    rm->scope_metrics = p.arr(sms);
    ResourceMetrics *rm2 = p.obj(opentelemetry__proto__metrics__v1__resource_metrics__init);
    std::vector<ResourceMetrics *> rms = { rm, rm2 };
    MetricsReq *req =
        p.obj(opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init);
    req->n_resource_metrics = 2;
    req->resource_metrics = p.arr(rms);
    return pack(&req->base);
}

Bytes logs_rich()
{
    Pool p;
    std::vector<LogRecord *> lrs;
    for (int i = 0; i < 4; i++) {
        LogRecord *l = p.obj(opentelemetry__proto__logs__v1__log_record__init);
        l->time_unix_nano = 1000 + i;
        l->observed_time_unix_nano = 2000 + i;
        l->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
        l->severity_text = p.str("INFO");
        if (i == 0)
            l->body = p.any_str("hello \xe2\x82\xac");
        else if (i == 1)
            l->body = p.any_kvlist({ p.kv("k", p.any_array({ p.any_int(1), p.any_str("x") })) });
        if (i != 2) {
            l->trace_id = p.bin(id(static_cast<uint8_t>(i), 16));
            l->span_id = p.bin(id(static_cast<uint8_t>(i), 8));
        }
        if (i == 3)
            l->trace_id = p.bin(id(3, 15));
        std::vector<KeyValue *> attrs = { p.kv("log.file", p.any_str("a.log")) };
        l->n_attributes = 1;
        l->attributes = p.arr(attrs);
        l->flags = 1;
        lrs.push_back(l);
    }
    ScopeLogs *sl = p.obj(opentelemetry__proto__logs__v1__scope_logs__init);
    sl->scope = p.scope("logger", "");
    sl->n_log_records = lrs.size();
    sl->log_records = p.arr(lrs);
    ResourceLogs *rl = p.obj(opentelemetry__proto__logs__v1__resource_logs__init);
    rl->resource = p.resource(
        { p.kv("service.name", p.any_str("logs-svc")), p.kv("service.name", p.any_int(3)) });
    std::vector<ScopeLogs *> sls = { sl };
    rl->n_scope_logs = 1;
    rl->scope_logs = p.arr(sls);
    std::vector<ResourceLogs *> rls = { rl };
    LogsReq *req =
        p.obj(opentelemetry__proto__collector__logs__v1__export_logs_service_request__init);
    req->n_resource_logs = 1;
    req->resource_logs = p.arr(rls);
    return pack(&req->base);
}

// ---- walking and comparing ------------------------------------------------------------------

struct View {
    std::vector<lr_otlp_resource> r;
    std::vector<lr_otlp_scope> s;
    std::vector<lr_otlp_item> i;
    lr_otlp_view v;
    int rc;
    View(enum lr_signal sig, const Bytes &b, size_t cap = 0)
    {
        if (cap == 0)
            cap = b.size() / 2 + 1;
        r.resize(cap), s.resize(cap), i.resize(cap);
        memset(&v, 0, sizeof(v));
        v.resources = r.data(), v.scopes = s.data(), v.items = i.data();
        v.resources_cap = v.scopes_cap = v.items_cap = static_cast<uint32_t>(cap);
        // An exact-size heap copy, so AddressSanitizer sees any read past the end.
        uint8_t *copy = static_cast<uint8_t *>(malloc(b.size() + 1));
        if (!b.empty())
            memcpy(copy, b.data(), b.size());
        rc = lr_dp_otlp_walk(sig, b.empty() ? nullptr : copy, b.size(), &v);
        free(copy);
        // Slices point into `copy`: clear them so no test reads freed memory by accident.
    }
};

ProtobufCMessage *unpack(enum lr_signal sig, const Bytes &b)
{
    return protobuf_c_message_unpack(kReqDesc[sig], nullptr, b.size(), b.data());
}

// protobuf-c's strings end at an embedded NUL; the walker's slices do not.
bool same_str(const char *s, lr_slice sl)
{
    size_t n = s ? strlen(s) : 0;
    const void *nul = sl.len ? memchr(sl.p, 0, sl.len) : nullptr;
    size_t m = nul ? static_cast<size_t>(static_cast<const uint8_t *>(nul) - sl.p) : sl.len;
    return n == m && (n == 0 || memcmp(s, sl.p, n) == 0);
}

void expect_id(const ProtobufCBinaryData &b, const uint8_t *got, size_t n)
{
    Bytes want(n, 0);
    if (b.len == n)
        memcpy(want.data(), b.data, n);
    EXPECT_EQ(Bytes(got, got + n), want);
}

std::string service_of(const Resource *r)
{
    std::string s;
    for (size_t i = 0; r && i < r->n_attributes; i++) {
        const KeyValue *kv = r->attributes[i];
        if (strcmp(kv->key, "service.name") == 0 && kv->value &&
            kv->value->value_case ==
                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            s = kv->value->string_value;
    }
    return s;
}

uint32_t points_of(const Metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return static_cast<uint32_t>(m->gauge->n_data_points);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return static_cast<uint32_t>(m->sum->n_data_points);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return static_cast<uint32_t>(m->histogram->n_data_points);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return static_cast<uint32_t>(m->exponential_histogram->n_data_points);
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return static_cast<uint32_t>(m->summary->n_data_points);
    default:
        return 0;
    }
}

struct Counts {
    uint64_t resources = 0, scopes = 0, items = 0, units = 0;
};

Counts counts_of(enum lr_signal sig, const ProtobufCMessage *m)
{
    Counts c;
    if (sig == LR_SIG_TRACES) {
        const TraceReq *q = reinterpret_cast<const TraceReq *>(m);
        for (size_t a = 0; a < q->n_resource_spans; a++, c.resources++)
            for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++, c.scopes++)
                c.items += q->resource_spans[a]->scope_spans[b]->n_spans;
        c.units = c.items;
    } else if (sig == LR_SIG_METRICS) {
        const MetricsReq *q = reinterpret_cast<const MetricsReq *>(m);
        for (size_t a = 0; a < q->n_resource_metrics; a++, c.resources++)
            for (size_t b = 0; b < q->resource_metrics[a]->n_scope_metrics; b++, c.scopes++) {
                const ScopeMetrics *sm = q->resource_metrics[a]->scope_metrics[b];
                c.items += sm->n_metrics;
                for (size_t k = 0; k < sm->n_metrics; k++)
                    c.units += points_of(sm->metrics[k]);
            }
    } else {
        const LogsReq *q = reinterpret_cast<const LogsReq *>(m);
        for (size_t a = 0; a < q->n_resource_logs; a++, c.resources++)
            for (size_t b = 0; b < q->resource_logs[a]->n_scope_logs; b++, c.scopes++)
                c.items += q->resource_logs[a]->scope_logs[b]->n_log_records;
        c.units = c.items;
    }
    return c;
}

uint64_t units_of(const lr_otlp_view &v)
{
    return v.signal == LR_SIG_TRACES    ? v.n_spans
           : v.signal == LR_SIG_METRICS ? v.n_points
                                        : v.n_log_records;
}

// The walk of `b` must succeed and agree with protobuf-c on every count and recorded field.
// Slices are compared while the walked copy is alive, so this walks `b` in place.
void expect_same_as_protobuf_c(enum lr_signal sig, const Bytes &b)
{
    SCOPED_TRACE(std::string(lr_signal_name(sig)) + " body of " + std::to_string(b.size()) +
                 " bytes");
    size_t cap = b.size() / 2 + 1;
    std::vector<lr_otlp_resource> rr(cap);
    std::vector<lr_otlp_scope> ss(cap);
    std::vector<lr_otlp_item> ii(cap);
    lr_otlp_view v;
    memset(&v, 0, sizeof(v));
    v.resources = rr.data(), v.scopes = ss.data(), v.items = ii.data();
    v.resources_cap = v.scopes_cap = v.items_cap = static_cast<uint32_t>(cap);
    ASSERT_EQ(lr_dp_otlp_walk(sig, b.data(), b.size(), &v), 0)
        << (v.err_reason ? v.err_reason : "") << " at " << v.err_off;
    ProtobufCMessage *m = unpack(sig, b);
    ASSERT_NE(m, nullptr);
    EXPECT_FALSE(v.truncated);
    EXPECT_EQ(v.signal, sig);
    Counts c = counts_of(sig, m);
    EXPECT_EQ(v.n_resources, c.resources);
    EXPECT_EQ(v.n_scopes, c.scopes);
    EXPECT_EQ(v.n_items, c.items);
    EXPECT_EQ(units_of(v), c.units);

    uint32_t ri = 0, si = 0, it = 0;
    auto check_field = [&](const lr_otlp_field &f) {
        EXPECT_LE(static_cast<size_t>(f.off) + f.len, b.size());
        EXPECT_GE(f.body_off, f.off);
        EXPECT_EQ(f.body_off + f.body_len, f.off + f.len);
    };
    if (sig == LR_SIG_TRACES) {
        const TraceReq *q = reinterpret_cast<const TraceReq *>(m);
        for (size_t a = 0; a < q->n_resource_spans; a++, ri++) {
            const ResourceSpans *rs = q->resource_spans[a];
            check_field(v.resources[ri].f);
            EXPECT_TRUE(same_str(service_of(rs->resource).c_str(), v.resources[ri].service_name));
            EXPECT_EQ(v.resources[ri].first_scope, si);
            EXPECT_EQ(v.resources[ri].n_scopes, rs->n_scope_spans);
            for (size_t s = 0; s < rs->n_scope_spans; s++, si++) {
                const ScopeSpans *sc = rs->scope_spans[s];
                check_field(v.scopes[si].f);
                EXPECT_EQ(v.scopes[si].resource, ri);
                EXPECT_EQ(v.scopes[si].first_item, it);
                EXPECT_EQ(v.scopes[si].n_items, sc->n_spans);
                for (size_t k = 0; k < sc->n_spans; k++, it++) {
                    const Span *sp = sc->spans[k];
                    const lr_otlp_item &x = v.items[it];
                    check_field(x.f);
                    // The span's bytes re-decode to the same span.
                    Bytes one(b.begin() + x.f.body_off, b.begin() + x.f.body_off + x.f.body_len);
                    ProtobufCMessage *again = protobuf_c_message_unpack(
                        &opentelemetry__proto__trace__v1__span__descriptor, nullptr, one.size(),
                        one.data());
                    ASSERT_NE(again, nullptr);
                    EXPECT_EQ(pack(again), pack(&sp->base));
                    protobuf_c_message_free_unpacked(again, nullptr);
                    EXPECT_EQ(x.scope, si);
                    EXPECT_EQ(x.has_trace_id, sp->trace_id.len == 16);
                    expect_id(sp->trace_id, x.trace_id, 16);
                    expect_id(sp->span_id, x.span_id, 8);
                    EXPECT_EQ(x.has_parent, sp->parent_span_id.len != 0);
                    expect_id(sp->parent_span_id, x.parent_span_id, 8);
                    EXPECT_TRUE(same_str(sp->name, x.name)) << sp->name;
                    EXPECT_EQ(x.kind, static_cast<uint32_t>(sp->kind));
                    EXPECT_EQ(x.status_code,
                              sp->status ? static_cast<uint32_t>(sp->status->code) : 0u);
                    EXPECT_EQ(x.start_ns, sp->start_time_unix_nano);
                    EXPECT_EQ(x.end_ns, sp->end_time_unix_nano);
                    EXPECT_EQ(x.n_points, 1u);
                }
            }
        }
    } else if (sig == LR_SIG_METRICS) {
        const MetricsReq *q = reinterpret_cast<const MetricsReq *>(m);
        for (size_t a = 0; a < q->n_resource_metrics; a++, ri++) {
            const ResourceMetrics *rm = q->resource_metrics[a];
            EXPECT_TRUE(same_str(service_of(rm->resource).c_str(), v.resources[ri].service_name));
            EXPECT_EQ(v.resources[ri].n_scopes, rm->n_scope_metrics);
            for (size_t s = 0; s < rm->n_scope_metrics; s++, si++) {
                const ScopeMetrics *sm = rm->scope_metrics[s];
                EXPECT_EQ(v.scopes[si].n_items, sm->n_metrics);
                for (size_t k = 0; k < sm->n_metrics; k++, it++) {
                    const lr_otlp_item &x = v.items[it];
                    check_field(x.f);
                    EXPECT_TRUE(same_str(sm->metrics[k]->name, x.name));
                    EXPECT_EQ(x.n_points, points_of(sm->metrics[k]));
                    EXPECT_EQ(x.scope, si);
                }
            }
        }
    } else {
        const LogsReq *q = reinterpret_cast<const LogsReq *>(m);
        for (size_t a = 0; a < q->n_resource_logs; a++, ri++) {
            const ResourceLogs *rl = q->resource_logs[a];
            EXPECT_TRUE(same_str(service_of(rl->resource).c_str(), v.resources[ri].service_name));
            EXPECT_EQ(v.resources[ri].n_scopes, rl->n_scope_logs);
            for (size_t s = 0; s < rl->n_scope_logs; s++, si++) {
                const ScopeLogs *sl = rl->scope_logs[s];
                EXPECT_EQ(v.scopes[si].n_items, sl->n_log_records);
                for (size_t k = 0; k < sl->n_log_records; k++, it++) {
                    const LogRecord *l = sl->log_records[k];
                    const lr_otlp_item &x = v.items[it];
                    check_field(x.f);
                    EXPECT_EQ(x.has_trace_id, l->trace_id.len == 16);
                    expect_id(l->trace_id, x.trace_id, 16);
                    expect_id(l->span_id, x.span_id, 8);
                    EXPECT_EQ(x.start_ns, l->time_unix_nano);
                    EXPECT_EQ(x.end_ns, 0u);
                    EXPECT_EQ(x.name.len, 0u);
                    EXPECT_EQ(x.n_points, 1u);
                }
            }
        }
    }
    protobuf_c_message_free_unpacked(m, nullptr);

    // Counts only (no arrays) and capacity 1 (truncated) give the same exact counts.
    for (uint32_t cap2 : { 0u, 1u }) {
        lr_otlp_resource r1[1];
        lr_otlp_scope s1[1];
        lr_otlp_item i1[1];
        lr_otlp_view w;
        memset(&w, 0, sizeof(w));
        if (cap2) {
            w.resources = r1, w.scopes = s1, w.items = i1;
            w.resources_cap = w.scopes_cap = w.items_cap = cap2;
        }
        ASSERT_EQ(lr_dp_otlp_walk(sig, b.data(), b.size(), &w), 0);
        EXPECT_EQ(units_of(w), c.units);
        EXPECT_EQ(w.truncated, c.resources > cap2 || c.scopes > cap2 || c.items > cap2);
        EXPECT_LE(w.n_resources, cap2);
        EXPECT_LE(w.n_items, cap2);
    }
}

// Every prefix: accepted or rejected as protobuf-c does; when accepted, the same counts.
void expect_prefixes_match(enum lr_signal sig, const Bytes &b)
{
    for (size_t n = 0; n < b.size(); n++) {
        Bytes pre(b.begin(), b.begin() + n);
        View w(sig, pre);
        ProtobufCMessage *m = unpack(sig, pre);
        ASSERT_EQ(w.rc == 0, m != nullptr)
            << lr_signal_name(sig) << " prefix of " << n << "/" << b.size() << " bytes: walker "
            << (w.v.err_reason ? w.v.err_reason : "accepts");
        if (w.rc != 0) {
            EXPECT_EQ(w.rc, LR_E_MALFORMED);
            EXPECT_NE(w.v.err_reason, nullptr);
            EXPECT_LE(w.v.err_off, n);
        }
        if (m) {
            Counts c = counts_of(sig, m);
            EXPECT_EQ(w.v.n_resources, c.resources) << "prefix " << n;
            EXPECT_EQ(w.v.n_scopes, c.scopes) << "prefix " << n;
            EXPECT_EQ(w.v.n_items, c.items) << "prefix " << n;
            EXPECT_EQ(units_of(w.v), c.units) << "prefix " << n;
            protobuf_c_message_free_unpacked(m, nullptr);
        }
    }
}

std::string fixtures_dir()
{
    return lr_fixture_dir();
}

Bytes read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return Bytes();
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

struct Vector {
    std::string name;
    enum lr_signal sig;
    Bytes body;
};

std::vector<Vector> all_vectors()
{
    std::vector<Vector> v = {
        { "traces_rich", LR_SIG_TRACES, traces_rich() },
        { "metrics_rich", LR_SIG_METRICS, metrics_rich() },
        { "logs_rich", LR_SIG_LOGS, logs_rich() },
        { "traces_empty", LR_SIG_TRACES, Bytes() },
        { "metrics_empty", LR_SIG_METRICS, Bytes() },
        { "logs_empty", LR_SIG_LOGS, Bytes() },
        { "traces_one_span", LR_SIG_TRACES,
          make_traces({ { { { id(7, 16), id(7, 8), {}, "x", 1, 0, false } } } }) },
    };
    const char *names[] = { "traces", "metrics", "logs" };
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        std::string path = fixtures_dir() + "/" + names[s] + ".http-protobuf.body";
        Bytes b = read_file(path);
        EXPECT_FALSE(b.empty()) << "fixture missing: " << path
                                << " (set LR_FIXTURES to the otlp-js-0.223 fixture folder)";
        v.push_back({ std::string("fixture_") + names[s], static_cast<enum lr_signal>(s), b });
    }
    return v;
}

TEST(OtlpWalk, SignalNames)
{
    EXPECT_STREQ(lr_signal_name(LR_SIG_TRACES), "traces");
    EXPECT_STREQ(lr_signal_name(LR_SIG_METRICS), "metrics");
    EXPECT_STREQ(lr_signal_name(LR_SIG_LOGS), "logs");
}

TEST(OtlpWalk, VectorsMatchProtobufC)
{
    for (const Vector &v : all_vectors()) {
        SCOPED_TRACE(v.name);
        expect_same_as_protobuf_c(v.sig, v.body);
    }
}

TEST(OtlpWalk, EveryPrefixMatchesProtobufC)
{
    for (const Vector &v : all_vectors()) {
        SCOPED_TRACE(v.name);
        expect_prefixes_match(v.sig, v.body);
    }
}

TEST(OtlpWalk, FixtureCounts)
{
    // What opentelemetry-js 0.223 sent (checked against protobuf-c above); pinned so a broken
    // fixture does not pass silently.
    for (const Vector &v : all_vectors()) {
        if (v.name.rfind("fixture_", 0) != 0)
            continue;
        View w(v.sig, v.body);
        ASSERT_EQ(w.rc, 0) << v.name;
        EXPECT_GT(units_of(w.v), 0u) << v.name;
        EXPECT_GT(w.v.n_resources, 0u) << v.name;
    }
}

TEST(OtlpWalk, RichVectorDetails)
{
    Bytes b = traces_rich();
    std::vector<lr_otlp_resource> r(8);
    std::vector<lr_otlp_scope> s(8);
    std::vector<lr_otlp_item> it(16);
    lr_otlp_view v;
    memset(&v, 0, sizeof(v));
    v.resources = r.data(), v.scopes = s.data(), v.items = it.data();
    v.resources_cap = 8, v.scopes_cap = 8, v.items_cap = 16;
    ASSERT_EQ(lr_dp_otlp_walk(LR_SIG_TRACES, b.data(), b.size(), &v), 0);
    EXPECT_EQ(v.n_spans, 9u);
    EXPECT_EQ(v.n_resources, 3u);
    EXPECT_EQ(v.n_scopes, 4u);
    EXPECT_TRUE(lr_slice_eq(v.resources[0].service_name, "svc-0"));
    EXPECT_TRUE(lr_slice_eq(v.resources[1].service_name, "svc-1"));
    EXPECT_EQ(v.resources[2].n_scopes, 0u);
    EXPECT_TRUE(lr_slice_eq(v.items[0].name, "GET /checkout"));
    EXPECT_EQ(v.items[0].kind, 2u);
    EXPECT_EQ(v.items[0].status_code, 1u);
    EXPECT_FALSE(v.items[0].has_parent);
    EXPECT_TRUE(v.items[1].has_parent);
    EXPECT_EQ(v.items[3].status_code, 2u);
    EXPECT_FALSE(v.items[6].has_trace_id); // absent
    EXPECT_FALSE(v.items[7].has_trace_id); // 5 bytes: valid protobuf, not a trace id
    // Each item's range starts with the ScopeSpans.spans tag.
    EXPECT_EQ(b[v.items[0].f.off], 0x12);
}

// ---- hostile and edge vectors ------------------------------------------------------------------

// Wraps `inner` (Span bytes) as request{resource_spans{scope_spans{spans{inner}}}}.
Bytes wrap_len(uint8_t tag, const Bytes &inner)
{
    Bytes o{ tag };
    size_t n = inner.size();
    while (n >= 0x80) {
        o.push_back(static_cast<uint8_t>(n | 0x80));
        n >>= 7;
    }
    o.push_back(static_cast<uint8_t>(n));
    o.insert(o.end(), inner.begin(), inner.end());
    return o;
}
Bytes in_span(const Bytes &span)
{
    return wrap_len(0x0a, wrap_len(0x12, wrap_len(0x12, span)));
}
// request{resource_spans{resource{attributes{kv}}}}
Bytes in_resource_kv(const Bytes &kv)
{
    return wrap_len(0x0a, wrap_len(0x0a, wrap_len(0x0a, kv)));
}
// metrics request{resource_metrics{scope_metrics{metrics{m}}}}
Bytes in_metric(const Bytes &m)
{
    return wrap_len(0x0a, wrap_len(0x12, wrap_len(0x12, m)));
}
// logs request{resource_logs{scope_logs{log_records{l}}}}
Bytes in_log(const Bytes &l)
{
    return wrap_len(0x0a, wrap_len(0x12, wrap_len(0x12, l)));
}
Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes o;
    for (const Bytes &p : parts)
        o.insert(o.end(), p.begin(), p.end());
    return o;
}

// AnyValue nested `depth` levels: depth 1 is a plain int, each level wraps it in an array.
Bytes nested_any(int depth)
{
    Bytes a = { 0x18, 0x01 }; // int_value 1
    for (int i = 1; i < depth; i++)
        a = wrap_len(0x2a, wrap_len(0x0a, a)); // array_value { values { a } }
    return a;
}

// AnyValue nested through kvlists.
Bytes nested_kvlist(int depth)
{
    Bytes a = { 0x18, 0x01 };
    for (int i = 1; i < depth; i++)
        a = wrap_len(0x32, wrap_len(0x0a, cat({ { 0x0a, 0x01, 'k' }, wrap_len(0x12, a) })));
    return a;
}

struct Hostile {
    const char *name;
    enum lr_signal sig;
    Bytes body;
    bool walker_ok; // what the walker must say
    bool pc_ok;     // what protobuf-c 1.4.1 says (pinned: a library upgrade that changes it shows)
    const char *reason; // expected err_reason prefix, or nullptr
};

std::vector<Hostile> hostile_vectors()
{
    Bytes tid = id(1, 16);
    Bytes span_ok = cat({ wrap_len(0x0a, tid), wrap_len(0x2a, { 'o', 'k' }) });
    return {
        // Lengths and varints.
        { "length prefix 2^32",
          LR_SIG_TRACES,
          { 0x0a, 0x80, 0x80, 0x80, 0x80, 0x10 },
          false,
          false,
          "export_trace_service_request.resource_spans: length runs past" },
        { "length prefix 2^32 on unknown field",
          LR_SIG_TRACES,
          { 0x12, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0 },
          false,
          false,
          nullptr },
        { "length prefix 6 bytes",
          LR_SIG_TRACES,
          { 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 },
          false,
          false,
          nullptr },
        { "length prefix 5 bytes non-minimal",
          LR_SIG_TRACES,
          { 0x12, 0x80, 0x80, 0x80, 0x80, 0x00 },
          true,
          true,
          nullptr },
        { "span.trace_id runs past span", LR_SIG_TRACES, in_span({ 0x0a, 0x05, 1, 2, 3 }), false,
          false, "span.trace_id: length runs past the end of the enclosing message" },
        { "varint 10 bytes",
          LR_SIG_TRACES,
          { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
          true,
          true,
          nullptr },
        { "varint 11 bytes",
          LR_SIG_TRACES,
          { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },
          false,
          false,
          nullptr },
        { "span.kind varint 11 bytes", LR_SIG_TRACES,
          in_span({ 0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }),
          false, false, "span.kind: value truncated" },
        { "fixed64 truncated", LR_SIG_TRACES, in_span({ 0x39, 1, 2, 3 }), false, false, nullptr },
        { "tag 6 bytes",
          LR_SIG_TRACES,
          { 0xf8, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },
          false,
          false,
          nullptr },
        { "tag truncated", LR_SIG_TRACES, { 0x80 }, false, false, nullptr },
        // Field numbers.
        { "field number 0",
          LR_SIG_TRACES,
          { 0x00, 0x01 },
          false,
          false,
          "export_trace_service_request: invalid field number" },
        { "field number 0 length-delimited", LR_SIG_TRACES, { 0x02, 0x00 }, false, false, nullptr },
        // Divergence: protobuf-c reads a non-minimal 0 tag as an unknown field 0.
        { "field number 0 non-minimal",
          LR_SIG_TRACES,
          { 0x80, 0x00, 0x01 },
          false,
          true,
          "export_trace_service_request: invalid field number" },
        // Divergence: field numbers above 2^29-1 do not exist; protobuf-c skips them as unknown.
        { "field number 2^29",
          LR_SIG_TRACES,
          { 0x80, 0x80, 0x80, 0x80, 0x10, 0x00 },
          false,
          true,
          nullptr },
        { "field number 2^29-1",
          LR_SIG_TRACES,
          { 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00 },
          true,
          true,
          nullptr },
        // Wire types.
        { "group start",
          LR_SIG_TRACES,
          { 0x0b, 0x0c },
          false,
          false,
          "export_trace_service_request: invalid wire type" },
        { "group end", LR_SIG_TRACES, { 0x0c }, false, false, nullptr },
        { "unknown field as group", LR_SIG_TRACES, { 0x13, 0x14 }, false, false, nullptr },
        { "group inside span", LR_SIG_TRACES, in_span({ 0x9b, 0x01, 0x9c, 0x01 }), false, false,
          "span: invalid wire type" },
        { "wire type 6", LR_SIG_TRACES, { 0x0e }, false, false, nullptr },
        { "wire type 7", LR_SIG_TRACES, { 0x0f }, false, false, nullptr },
        { "resource_spans as varint",
          LR_SIG_TRACES,
          { 0x08, 0x01 },
          false,
          false,
          "export_trace_service_request.resource_spans: wrong wire type" },
        { "span.name as varint", LR_SIG_TRACES, in_span({ 0x28, 0x01 }), false, false,
          "span.name: wrong wire type" },
        { "span.kind as length", LR_SIG_TRACES, in_span({ 0x32, 0x00 }), false, false, nullptr },
        { "span.start as varint", LR_SIG_TRACES, in_span({ 0x38, 0x00 }), false, false, nullptr },
        { "span.start as fixed32", LR_SIG_TRACES, in_span({ 0x3d, 0, 0, 0, 0 }), false, false,
          nullptr },
        { "span.flags as fixed64", LR_SIG_TRACES, in_span({ 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 }),
          false, false, nullptr },
        { "span.trace_id as fixed32", LR_SIG_TRACES, in_span({ 0x0d, 0, 0, 0, 0 }), false, false,
          nullptr },
        { "status.code as fixed64", LR_SIG_TRACES,
          in_span(wrap_len(0x7a, { 0x19, 0, 0, 0, 0, 0, 0, 0, 0 })), false, false, nullptr },
        { "unknown field any wire type", LR_SIG_TRACES,
          in_span({ 0xa8, 0x01, 0x05, 0xb1, 0x01, 0, 0, 0,    0,    0,    0,   0,
                    0,    0xbd, 0x01, 0,    0,    0, 0, 0xc2, 0x01, 0x01, 0xff }),
          true, true, nullptr },
        // bool accepts any wire type in protobuf-c (no check in parse_required_member()).
        { "sum.is_monotonic as fixed32", LR_SIG_METRICS,
          in_metric(wrap_len(0x3a, { 0x1d, 1, 0, 0, 0 })), true, true, nullptr },
        { "any_value.bool_value as length", LR_SIG_TRACES,
          in_resource_kv(wrap_len(0x12, { 0x12, 0x01, 0x01 })), true, true, nullptr },
        { "sum.aggregation_temporality as length", LR_SIG_METRICS,
          in_metric(wrap_len(0x3a, { 0x12, 0x00 })), false, false, nullptr },
        // Packed and unpacked repeated scalars.
        { "bucket_counts unpacked", LR_SIG_METRICS,
          in_metric(wrap_len(
              0x4a, wrap_len(0x0a, { 0x31, 1, 0, 0, 0,    0, 0, 0, 0, 0x31, 2, 0,    0,   0,
                                     0,    0, 0, 0, 0x39, 0, 0, 0, 0, 0,    0, 0xf0, 0x3f }))),
          true, true, nullptr },
        { "bucket_counts packed, 7 bytes", LR_SIG_METRICS,
          in_metric(wrap_len(0x4a, wrap_len(0x0a, { 0x32, 0x07, 1, 0, 0, 0, 0, 0, 0 }))), false,
          false, "histogram_data_point.bucket_counts: malformed packed" },
        { "explicit_bounds as varint", LR_SIG_METRICS,
          in_metric(wrap_len(0x4a, wrap_len(0x0a, { 0x38, 0x01 }))), false, false, nullptr },
        { "buckets.bucket_counts unpacked", LR_SIG_METRICS,
          in_metric(
              wrap_len(0x52, wrap_len(0x0a, wrap_len(0x42, { 0x10, 0x05, 0x10, 0x80, 0x01 })))),
          true, true, nullptr },
        { "buckets.bucket_counts packed, last varint unterminated", LR_SIG_METRICS,
          in_metric(wrap_len(0x52, wrap_len(0x0a, wrap_len(0x42, { 0x12, 0x02, 0x05, 0x80 })))),
          false, false, nullptr },
        { "buckets.bucket_counts packed, 11-byte varint", LR_SIG_METRICS,
          in_metric(wrap_len(
              0x52, wrap_len(0x0a, wrap_len(0x42, { 0x12, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                    0xff, 0xff, 0xff, 0xff, 0x01 })))),
          false, false, nullptr },
        { "buckets.bucket_counts as fixed64", LR_SIG_METRICS,
          in_metric(
              wrap_len(0x52, wrap_len(0x0a, wrap_len(0x42, { 0x11, 0, 0, 0, 0, 0, 0, 0, 0 })))),
          false, false, nullptr },
        // UTF-8 (protobuf-c 1.4.1 does not check it; proto3 requires it).
        { "span.name invalid UTF-8", LR_SIG_TRACES, in_span({ 0x2a, 0x02, 'a', 0xff }), false, true,
          "span.name: string is not valid UTF-8" },
        { "span.name overlong NUL", LR_SIG_TRACES, in_span({ 0x2a, 0x02, 0xc0, 0x80 }), false, true,
          nullptr },
        { "span.name surrogate", LR_SIG_TRACES, in_span({ 0x2a, 0x03, 0xed, 0xa0, 0x80 }), false,
          true, nullptr },
        { "span.name above U+10FFFF", LR_SIG_TRACES,
          in_span({ 0x2a, 0x04, 0xf4, 0x90, 0x80, 0x80 }), false, true, nullptr },
        { "span.name truncated sequence", LR_SIG_TRACES, in_span({ 0x2a, 0x02, 0xe2, 0x82 }), false,
          true, nullptr },
        { "span.name valid 4-byte UTF-8 and NUL", LR_SIG_TRACES,
          in_span({ 0x2a, 0x06, 0xf0, 0x9f, 0x98, 0x80, 0x00, 'x' }), true, true, nullptr },
        // A replaced occurrence is still checked (as upstream protobuf does).
        { "span.name invalid then valid", LR_SIG_TRACES,
          in_span({ 0x2a, 0x01, 0xff, 0x2a, 0x01, 'a' }), false, true, nullptr },
        { "invalid UTF-8 after NUL in key", LR_SIG_TRACES,
          in_resource_kv({ 0x0a, 0x03, 'k', 0x00, 0xff }), false, true, nullptr },
        { "bytes field not checked for UTF-8", LR_SIG_TRACES, in_span({ 0x12, 0x02, 0xff, 0xfe }),
          true, true, nullptr },
        { "unknown field not checked for UTF-8", LR_SIG_TRACES, in_span({ 0xa2, 0x01, 0x01, 0xff }),
          true, true, nullptr },
        { "log severity_text invalid UTF-8", LR_SIG_LOGS, in_log({ 0x1a, 0x01, 0x80 }), false, true,
          nullptr },
        { "metric name invalid UTF-8", LR_SIG_METRICS, in_metric({ 0x0a, 0x01, 0xfe }), false, true,
          nullptr },
        // AnyValue depth: protobuf-c has no limit and accepts all of these.
        { "AnyValue depth 31", LR_SIG_TRACES, in_resource_kv(wrap_len(0x12, nested_any(31))), true,
          true, nullptr },
        { "AnyValue depth 32", LR_SIG_TRACES, in_resource_kv(wrap_len(0x12, nested_any(32))), true,
          true, nullptr },
        { "AnyValue depth 33", LR_SIG_TRACES, in_resource_kv(wrap_len(0x12, nested_any(33))), false,
          true, "any_value: nesting deeper" },
        { "AnyValue depth 200", LR_SIG_TRACES, in_resource_kv(wrap_len(0x12, nested_any(200))),
          false, true, nullptr },
        { "AnyValue kvlist depth 32", LR_SIG_LOGS, in_log(wrap_len(0x2a, nested_kvlist(32))), true,
          true, nullptr },
        { "AnyValue kvlist depth 33", LR_SIG_LOGS, in_log(wrap_len(0x2a, nested_kvlist(33))), false,
          true, nullptr },
        { "AnyValue depth 33 in span event", LR_SIG_TRACES,
          in_span(wrap_len(
              0x5a, wrap_len(0x1a, cat({ { 0x0a, 0x01, 'k' }, wrap_len(0x12, nested_any(33)) })))),
          false, true, nullptr },
        // protobuf-c 1.4.1 merge quirk, matched: KeyValue.value / LogRecord.body given twice with
        // no oneof member set in either cannot be merged (found by the fuzzer).
        { "kv value{} value{}", LR_SIG_TRACES, in_resource_kv({ 0x12, 0x00, 0x12, 0x00 }), false,
          false, "key_value.value: given again" },
        { "kv value{s} value{} value{}", LR_SIG_TRACES,
          in_resource_kv({ 0x12, 0x03, 0x0a, 0x01, 'a', 0x12, 0x00, 0x12, 0x00 }), false, false,
          nullptr },
        { "kv value{i} value{} value{}", LR_SIG_TRACES,
          in_resource_kv({ 0x12, 0x02, 0x18, 0x05, 0x12, 0x00, 0x12, 0x00 }), true, true, nullptr },
        { "kv value{} value{s}", LR_SIG_TRACES,
          in_resource_kv({ 0x12, 0x00, 0x12, 0x03, 0x0a, 0x01, 'a' }), true, true, nullptr },
        { "log body{} body{}", LR_SIG_LOGS, in_log({ 0x2a, 0x00, 0x2a, 0x00 }), false, false,
          "log_record.body: given again" },
        { "log body{bytes ''} body{} body{}", LR_SIG_LOGS,
          in_log({ 0x2a, 0x02, 0x3a, 0x00, 0x2a, 0x00, 0x2a, 0x00 }), false, false, nullptr },
        { "log body{bytes 'x'} body{} body{}", LR_SIG_LOGS,
          in_log({ 0x2a, 0x03, 0x3a, 0x01, 'x', 0x2a, 0x00, 0x2a, 0x00 }), true, true, nullptr },
        // Fuzzer regression (splitter check, fixed in the fuzz target): one trace whose body
        // keeps resources without spans is emitted as is.
        { "one trace, empty resources kept",
          LR_SIG_TRACES,
          { 0x0a, 0x00, 0x0a, 0x06, 0x12, 0x00, 0x12, 0x02, 0x12, 0x00, 0x0a, 0x00 },
          true,
          true,
          nullptr },
        // Repeated occurrences of singular fields.
        { "span twice-given fields", LR_SIG_TRACES,
          in_span(cat({ span_ok, { 0x2a, 0x01, 'b', 0x0a, 0x05, 1, 2, 3, 4, 5 } })), true, true,
          nullptr },
    };
}

TEST(OtlpWalk, HostileVectors)
{
    for (const Hostile &h : hostile_vectors()) {
        SCOPED_TRACE(h.name);
        View w(h.sig, h.body);
        ProtobufCMessage *m = unpack(h.sig, h.body);
        EXPECT_EQ(m != nullptr, h.pc_ok) << "protobuf-c's verdict changed";
        EXPECT_EQ(w.rc == 0, h.walker_ok) << (w.v.err_reason ? w.v.err_reason : "accepted");
        if (w.rc != 0) {
            EXPECT_EQ(w.rc, LR_E_MALFORMED);
            ASSERT_NE(w.v.err_reason, nullptr);
            EXPECT_LE(w.v.err_off, h.body.size());
            if (h.reason) {
                EXPECT_EQ(std::string(w.v.err_reason).rfind(h.reason, 0), 0u)
                    << "reason: " << w.v.err_reason;
            }
        }
        if (m && w.rc == 0)
            expect_same_as_protobuf_c(h.sig, h.body);
        if (m)
            protobuf_c_message_free_unpacked(m, nullptr);
        // Where both agree the input is valid, the prefixes must agree as well.
        if (h.walker_ok && h.pc_ok)
            expect_prefixes_match(h.sig, h.body);
    }
}

TEST(OtlpWalk, ErrorOffsetPointsAtTheField)
{
    Bytes b = in_span({ 0x0a, 0x05, 1, 2, 3 });
    View w(LR_SIG_TRACES, b);
    ASSERT_EQ(w.rc, LR_E_MALFORMED);
    EXPECT_EQ(w.v.err_off, b.size() - 5); // the trace_id tag
    EXPECT_STREQ(w.v.err_reason,
                 "span.trace_id: length runs past the end of the enclosing message");
}

// ---- last occurrence wins / merge semantics, as protobuf-c decodes them ----------------------

TEST(OtlpWalk, RepeatedSingularFieldsFollowProtobufC)
{
    Bytes t1 = id(1, 16), t2 = id(2, 16);
    std::vector<Bytes> spans = {
        // name twice, trace_id twice (the last has 5 bytes: no trace id)
        cat({ wrap_len(0x0a, t1), wrap_len(0x2a, { 'a' }), wrap_len(0x2a, { 'b' }),
              wrap_len(0x0a, { 1, 2, 3, 4, 5 }) }),
        // trace_id twice, last valid; kind twice; start twice
        cat({ wrap_len(0x0a, { 9 }),
              wrap_len(0x0a, t2),
              { 0x30, 0x02, 0x30, 0x03 },
              { 0x39, 1, 0, 0, 0, 0, 0, 0, 0, 0x39, 2, 0, 0, 0, 0, 0, 0, 0 } }),
        // status twice: the later Status without a code gives code 0 (protobuf-c merge)
        cat({ wrap_len(0x7a, { 0x18, 0x02 }), wrap_len(0x7a, { 0x12, 0x01, 'm' }) }),
        // status twice: later code wins
        cat({ wrap_len(0x7a, { 0x18, 0x02 }), wrap_len(0x7a, { 0x18, 0x01 }) }),
        // parent_span_id then empty parent_span_id
        cat({ wrap_len(0x22, id(3, 8)), wrap_len(0x22, {}) }),
        // kind as a 10-byte varint: the low 32 bits
        Bytes{ 0x30, 0x85, 0x80, 0x80, 0x80, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x01 },
    };
    for (const Bytes &s : spans) {
        SCOPED_TRACE(testing::PrintToString(s));
        expect_same_as_protobuf_c(LR_SIG_TRACES, in_span(s));
    }
    // Resource given twice: attributes concatenate; the last service.name wins.
    Bytes kv_a = wrap_len(
        0x0a, cat({ wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }),
                    wrap_len(0x12, wrap_len(0x0a, { 'a' })) }));
    Bytes kv_b = wrap_len(
        0x0a, cat({ wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }),
                    wrap_len(0x12, wrap_len(0x0a, { 'b' })) }));
    Bytes kv_int = wrap_len(
        0x0a, cat({ wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }),
                    wrap_len(0x12, { 0x18, 0x01 }) }));
    std::vector<Bytes> reqs = {
        wrap_len(0x0a, cat({ wrap_len(0x0a, kv_a), wrap_len(0x0a, kv_b) })),
        wrap_len(0x0a, cat({ wrap_len(0x0a, kv_b), wrap_len(0x0a, Bytes{}) })),
        wrap_len(0x0a, cat({ wrap_len(0x0a, kv_a), wrap_len(0x0a, kv_int) })),
        // value{string} then value{} leaves no value in protobuf-c 1.4.1
        in_resource_kv(
            cat({ wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }),
                  wrap_len(0x12, wrap_len(0x0a, { 'a' })), wrap_len(0x12, {}) })),
        // value{string} then value{int}
        in_resource_kv(
            cat({ wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }),
                  wrap_len(0x12, wrap_len(0x0a, { 'a' })), wrap_len(0x12, { 0x18, 1 }) })),
        // value{} then value{string}; key given twice
        in_resource_kv(cat(
            { wrap_len(0x0a, { 'x' }), wrap_len(0x12, {}), wrap_len(0x12, wrap_len(0x0a, { 'c' })),
              wrap_len(0x0a, { 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e' }) })),
    };
    for (const Bytes &r : reqs) {
        SCOPED_TRACE(testing::PrintToString(r));
        expect_same_as_protobuf_c(LR_SIG_TRACES, r);
    }
    // Metric: a later oneof member replaces the earlier one; the same member twice too.
    Bytes gauge2 = wrap_len(0x2a, cat({ wrap_len(0x0a, {}), wrap_len(0x0a, {}) }));
    Bytes sum3 =
        wrap_len(0x3a, cat({ wrap_len(0x0a, {}), wrap_len(0x0a, {}), wrap_len(0x0a, {}) }));
    Bytes gauge1 = wrap_len(0x2a, wrap_len(0x0a, {}));
    for (const Bytes &m : { cat({ gauge2, sum3 }), cat({ sum3, gauge2 }), cat({ gauge2, gauge1 }),
                            cat({ gauge2, sum3, gauge1 }),
                            cat({ wrap_len(0x0a, { 'n' }), gauge2, wrap_len(0x0a, { 'm' }) }) }) {
        SCOPED_TRACE(testing::PrintToString(m));
        expect_same_as_protobuf_c(LR_SIG_METRICS, in_metric(m));
    }
    // Logs: time and ids given twice.
    expect_same_as_protobuf_c(
        LR_SIG_LOGS, in_log(cat({ { 0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x09, 2, 0, 0, 0, 0, 0, 0, 0 },
                                  wrap_len(0x4a, id(5, 16)),
                                  wrap_len(0x4a, id(6, 16)),
                                  wrap_len(0x52, id(5, 8)),
                                  wrap_len(0x52, { 1 }) })));
}

TEST(OtlpWalk, CapacityAndCountsOnly)
{
    Bytes b = traces_rich();
    lr_otlp_view v;
    memset(&v, 0, sizeof(v));
    ASSERT_EQ(lr_dp_otlp_walk(LR_SIG_TRACES, b.data(), b.size(), &v), 0);
    EXPECT_EQ(v.n_spans, 9u);
    EXPECT_TRUE(v.truncated);
    EXPECT_EQ(v.n_resources, 0u);
    EXPECT_EQ(v.n_items, 0u);

    // Room for everything but the items: counts stay exact, recording stops.
    std::vector<lr_otlp_resource> r(8);
    std::vector<lr_otlp_scope> s(8);
    std::vector<lr_otlp_item> it(4);
    memset(&v, 0, sizeof(v));
    v.resources = r.data(), v.scopes = s.data(), v.items = it.data();
    v.resources_cap = 8, v.scopes_cap = 8, v.items_cap = 4;
    ASSERT_EQ(lr_dp_otlp_walk(LR_SIG_TRACES, b.data(), b.size(), &v), 0);
    EXPECT_TRUE(v.truncated);
    EXPECT_EQ(v.n_items, 4u);
    EXPECT_EQ(v.n_spans, 9u);
    uint32_t in_scopes = 0;
    for (uint32_t i = 0; i < v.n_scopes; i++)
        in_scopes += v.scopes[i].n_items;
    EXPECT_EQ(in_scopes, v.n_items);
}

TEST(OtlpWalk, WrongSignalIsMalformed)
{
    // A metrics body walked as logs: field 1 is ResourceLogs, whose field 2 is ScopeLogs, whose
    // field 2 is LogRecord: the metric's name (field 1, string) is LogRecord.time (fixed64).
    Bytes b = metrics_rich();
    View w(LR_SIG_LOGS, b);
    ProtobufCMessage *m = unpack(LR_SIG_LOGS, b);
    EXPECT_EQ(w.rc == 0, m != nullptr);
    if (m)
        protobuf_c_message_free_unpacked(m, nullptr);
    lr_otlp_view v;
    memset(&v, 0, sizeof(v));
    EXPECT_EQ(lr_dp_otlp_walk(static_cast<enum lr_signal>(7), b.data(), b.size(), &v),
              LR_E_MALFORMED);
}

} // namespace
