// Tests for dataplane/otlp_split.c: lr_dp_otlp_split_traces().
//
// Every record must decode with protobuf-c and hold exactly one trace's spans, byte for byte,
// under copies of their original resource and scope; a request with one trace passes through
// untouched; the work stays linear for requests with many traces.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/otlp_split.h"
#include "linerate/error.h"
#include "linerate/otlp.h"
}

// The generated service structs have a member named `export`, a C++ keyword.
#define export export_
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#undef export

namespace
{

using Bytes = std::vector<uint8_t>;

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

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
    template <class T> T **arr(const std::vector<T *> &v)
    {
        T **a = static_cast<T **>(calloc(v.size() + 1, sizeof(T *)));
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
    KeyValue *kv_str(const std::string &k, const std::string &v)
    {
        AnyValue *a = obj(opentelemetry__proto__common__v1__any_value__init);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = str(v);
        KeyValue *e = obj(opentelemetry__proto__common__v1__key_value__init);
        e->key = str(k);
        e->value = a;
        return e;
    }
};

Bytes pack(const ProtobufCMessage *m)
{
    Bytes b(protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack(m, b.data());
    return b;
}

// `base` is the first member of every generated message: a NULL message packs to a marker.
template <class T> Bytes packed_or_empty(const T *m)
{
    return m ? pack(reinterpret_cast<const ProtobufCMessage *>(m)) : Bytes{ 0xff };
}

Bytes tid(uint32_t n)
{
    Bytes b(16, 0);
    for (int i = 0; i < 4; i++)
        b[12 + i] = static_cast<uint8_t>(n >> (8 * (3 - i)));
    b[0] = 0xab;
    return b;
}

// resources -> scopes -> trace numbers of their spans (0: no trace id, -1: 5-byte trace id)
typedef std::vector<std::vector<std::vector<int>>> Shape;

Bytes make_request(const Shape &shape, bool rich = true)
{
    Pool p;
    std::vector<ResourceSpans *> rss;
    uint32_t k = 0;
    for (size_t r = 0; r < shape.size(); r++) {
        ResourceSpans *rs = p.obj(opentelemetry__proto__trace__v1__resource_spans__init);
        auto *res = p.obj(opentelemetry__proto__resource__v1__resource__init);
        std::vector<KeyValue *> attrs = { p.kv_str("service.name", "svc-" + std::to_string(r)) };
        if (rich)
            attrs.push_back(p.kv_str("host.name", "host-" + std::to_string(r)));
        res->n_attributes = attrs.size();
        res->attributes = p.arr(attrs);
        res->dropped_attributes_count = static_cast<uint32_t>(r);
        rs->resource = res;
        if (rich)
            rs->schema_url = p.str("https://opentelemetry.io/schemas/1.21.0");
        std::vector<ScopeSpans *> sss;
        for (size_t s = 0; s < shape[r].size(); s++) {
            ScopeSpans *ss = p.obj(opentelemetry__proto__trace__v1__scope_spans__init);
            auto *sc = p.obj(opentelemetry__proto__common__v1__instrumentation_scope__init);
            sc->name = p.str("lib-" + std::to_string(r) + "." + std::to_string(s));
            sc->version = p.str("1.2.3");
            ss->scope = sc;
            if (rich && s % 2)
                ss->schema_url = p.str("scope-schema");
            std::vector<Span *> spans;
            for (int t : shape[r][s]) {
                Span *sp = p.obj(opentelemetry__proto__trace__v1__span__init);
                if (t > 0)
                    sp->trace_id = p.bin(tid(static_cast<uint32_t>(t)));
                else if (t < 0)
                    sp->trace_id = p.bin({ 1, 2, 3, 4, 5 });
                Bytes sid(8, 0);
                memcpy(sid.data(), &k, sizeof(k));
                sid[7] = 0x5a;
                sp->span_id = p.bin(sid);
                sp->name = p.str(rich ? "span-" + std::to_string(k) : "s");
                sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
                sp->start_time_unix_nano = 1000 + k;
                sp->end_time_unix_nano = 2000 + k;
                if (rich) {
                    std::vector<KeyValue *> sa = { p.kv_str("k", std::string(k % 7, 'x')) };
                    sp->n_attributes = 1;
                    sp->attributes = p.arr(sa);
                }
                k++;
                spans.push_back(sp);
            }
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

struct Walked {
    std::vector<lr_otlp_resource> r;
    std::vector<lr_otlp_scope> s;
    std::vector<lr_otlp_item> i;
    lr_otlp_view v;
    int rc;
    explicit Walked(const Bytes &b)
    {
        size_t cap = b.size() / 2 + 1;
        r.resize(cap), s.resize(cap), i.resize(cap);
        memset(&v, 0, sizeof(v));
        v.resources = r.data(), v.scopes = s.data(), v.items = i.data();
        v.resources_cap = v.scopes_cap = v.items_cap = static_cast<uint32_t>(cap);
        rc = lr_dp_otlp_walk(LR_SIG_TRACES, b.data(), b.size(), &v);
    }
};

struct Record {
    Bytes trace_id;
    uint64_t n_spans;
    Bytes value;
    const uint8_t *ptr;
};

struct Collector {
    std::vector<Record> recs;
    int stop_after = -1;
    int ret = -7;
};

int collect(void *ctx, const uint8_t trace_id[16], uint64_t n_spans, const uint8_t *value,
            size_t len)
{
    Collector *c = static_cast<Collector *>(ctx);
    c->recs.push_back(
        { Bytes(trace_id, trace_id + 16), n_spans, Bytes(value, value + len), value });
    if (c->stop_after >= 0 && static_cast<int>(c->recs.size()) > c->stop_after)
        return c->ret;
    return 0;
}

Bytes key_of(const Span *s)
{
    return s->trace_id.len == 16 ? Bytes(s->trace_id.data, s->trace_id.data + 16) : Bytes(16, 0);
}

// Splits `b` and checks every record against protobuf-c's decoding of `b`. Returns the records.
std::vector<Record> split_and_check(const Bytes &b)
{
    Walked w(b);
    EXPECT_EQ(w.rc, 0) << (w.v.err_reason ? w.v.err_reason : "");
    Collector c;
    EXPECT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &w.v, collect, &c), 0);

    TraceReq *orig =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            nullptr, b.size(), b.data());
    EXPECT_NE(orig, nullptr);
    if (!orig)
        return c.recs;

    // Expected per trace, in order of first appearance: (resource, scope, packed span) triples,
    // and the raw span bytes from the walk.
    struct Want {
        std::vector<size_t> r, s;
        std::vector<Bytes> spans, raw;
    };
    std::vector<Bytes> order;
    std::map<Bytes, Want> want;
    size_t item = 0;
    for (size_t r = 0; r < orig->n_resource_spans; r++)
        for (size_t s = 0; s < orig->resource_spans[r]->n_scope_spans; s++) {
            const ScopeSpans *ss = orig->resource_spans[r]->scope_spans[s];
            for (size_t k = 0; k < ss->n_spans; k++, item++) {
                Bytes key = key_of(ss->spans[k]);
                if (!want.count(key))
                    order.push_back(key);
                Want &x = want[key];
                x.r.push_back(r);
                x.s.push_back(s);
                x.spans.push_back(pack(&ss->spans[k]->base));
                const lr_otlp_field &f = w.v.items[item].f;
                x.raw.push_back(Bytes(b.begin() + f.off, b.begin() + f.off + f.len));
            }
        }

    EXPECT_EQ(c.recs.size(), order.size());
    uint64_t total = 0;
    for (size_t g = 0; g < c.recs.size() && g < order.size(); g++) {
        const Record &rec = c.recs[g];
        const Want &x = want[order[g]];
        SCOPED_TRACE("record " + std::to_string(g));
        EXPECT_EQ(rec.trace_id, order[g]);
        EXPECT_EQ(rec.n_spans, x.spans.size());
        total += rec.n_spans;
        if (order.size() == 1) {
            EXPECT_EQ(rec.ptr, b.data()) << "one trace: the body itself";
            continue;
        }
        TraceReq *q =
            opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
                nullptr, rec.value.size(), rec.value.data());
        EXPECT_NE(q, nullptr);
        if (!q)
            continue;
        size_t n = 0;
        for (size_t r = 0; r < q->n_resource_spans; r++) {
            const ResourceSpans *rs = q->resource_spans[r];
            EXPECT_GT(rs->n_scope_spans, 0u);
            for (size_t s = 0; s < rs->n_scope_spans; s++) {
                const ScopeSpans *ss = rs->scope_spans[s];
                EXPECT_GT(ss->n_spans, 0u);
                for (size_t k = 0; k < ss->n_spans; k++, n++) {
                    if (n >= x.spans.size())
                        break;
                    EXPECT_EQ(pack(&ss->spans[k]->base), x.spans[n]);
                    // Same resource, scope and schema URLs as in the request.
                    const ResourceSpans *ors = orig->resource_spans[x.r[n]];
                    const ScopeSpans *oss = ors->scope_spans[x.s[n]];
                    EXPECT_EQ(packed_or_empty(rs->resource), packed_or_empty(ors->resource));
                    EXPECT_STREQ(rs->schema_url, ors->schema_url);
                    EXPECT_EQ(packed_or_empty(ss->scope), packed_or_empty(oss->scope));
                    EXPECT_STREQ(ss->schema_url, oss->schema_url);
                }
            }
        }
        EXPECT_EQ(n, x.spans.size());
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
            q, nullptr);

        // Byte for byte: the record's spans are the request's span fields.
        Walked rw(rec.value);
        EXPECT_EQ(rw.rc, 0);
        EXPECT_EQ(rw.v.n_spans, x.raw.size());
        for (uint32_t i = 0; i < rw.v.n_items && i < x.raw.size(); i++) {
            const lr_otlp_field &f = rw.v.items[i].f;
            EXPECT_EQ(Bytes(rec.value.begin() + f.off, rec.value.begin() + f.off + f.len),
                      x.raw[i]);
        }
        EXPECT_LE(rec.value.size(), b.size());
    }
    EXPECT_EQ(total, w.v.n_spans);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
        orig, nullptr);
    return c.recs;
}

TEST(OtlpSplit, SingleTracePassesBodyThrough)
{
    Bytes b = make_request({ { { 3, 3 }, {} }, { { 3 } }, {} });
    std::vector<Record> recs = split_and_check(b);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].ptr, b.data());
    EXPECT_EQ(recs[0].value, b);
    EXPECT_EQ(recs[0].n_spans, 3u);
    EXPECT_EQ(recs[0].trace_id, tid(3));
}

TEST(OtlpSplit, SpansWithoutTraceIdShareTheZeroId)
{
    Bytes b = make_request({ { { 0, -1, 0 } } });
    std::vector<Record> recs = split_and_check(b);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].ptr, b.data());
    EXPECT_EQ(recs[0].trace_id, Bytes(16, 0));

    recs = split_and_check(make_request({ { { 0, 5, -1 }, { 5, 0 } } }));
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].trace_id, Bytes(16, 0));
    EXPECT_EQ(recs[0].n_spans, 3u);
    EXPECT_EQ(recs[1].trace_id, tid(5));
}

TEST(OtlpSplit, NoSpansNoRecords)
{
    for (const Bytes &b : { Bytes(), make_request({ { {}, {} }, {} }) }) {
        Walked w(b);
        ASSERT_EQ(w.rc, 0);
        Collector c;
        EXPECT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &w.v, collect, &c), 0);
        EXPECT_TRUE(c.recs.empty());
    }
}

TEST(OtlpSplit, MultiTraceAcrossResourcesAndScopes)
{
    const Shape shapes[] = {
        { { { 1, 2 } } },
        { { { 1, 2, 1, 3 }, { 2 }, {} }, { { 3, 3 }, { 1 } }, {}, { { 4 } } },
        { { { 1 } }, { { 2 } }, { { 1 } }, { { 2 } } },
        { { { 5, 0, -1, 6 }, { 6, 5 } } },
        { { {}, { 7, 8 }, {} }, { {}, {} }, { { 8, 7, 7 } } },
    };
    for (const Shape &s : shapes) {
        Bytes b = make_request(s);
        SCOPED_TRACE(testing::PrintToString(b.size()));
        split_and_check(b);
    }
}

// Hand-made: unknown fields at every level and between children keep their place.
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
Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes o;
    for (const Bytes &p : parts)
        o.insert(o.end(), p.begin(), p.end());
    return o;
}

TEST(OtlpSplit, UnknownFieldsAndOrderPreserved)
{
    Bytes t1 = tid(1), t2 = tid(2);
    Bytes span1 = wrap_len(0x12, cat({ wrap_len(0x0a, t1), wrap_len(0x2a, { 'a' }) }));
    Bytes span2 = wrap_len(0x12, cat({ wrap_len(0x0a, t2), wrap_len(0x2a, { 'b' }) }));
    // Non-minimal length prefix on a span: copied as is.
    Bytes span2b = cat({ { 0x12, 0x96, 0x00 }, wrap_len(0x0a, t2), wrap_len(0x2a, { 'c', 'd' }) });
    Bytes scope = wrap_len(0x0a, wrap_len(0x0a, { 'l', 'i', 'b' }));
    Bytes unk_s = { 0x30, 0x09 };
    Bytes unk_r = { 0x20, 0x07 };
    Bytes schema = wrap_len(0x1a, { 's' });
    Bytes resource = wrap_len(
        0x0a, wrap_len(0x0a, cat({ wrap_len(0x0a, { 'k' }), wrap_len(0x12, { 0x18, 0x01 }) })));
    Bytes ssA = wrap_len(0x12, cat({ scope, span1, unk_s, span2 }));
    Bytes ssB = wrap_len(0x12, cat({ span2b }));
    Bytes req = cat({ { 0x28, 0x01 },
                      wrap_len(0x0a, cat({ schema, ssA, unk_r, resource, ssB })),
                      { 0x28, 0x02 } });

    std::vector<Record> recs = split_and_check(req);
    ASSERT_EQ(recs.size(), 2u);
    Bytes want1 = cat({ { 0x28, 0x01 },
                        wrap_len(0x0a, cat({ schema, wrap_len(0x12, cat({ scope, span1, unk_s })),
                                             unk_r, resource })),
                        { 0x28, 0x02 } });
    Bytes want2 = cat({ { 0x28, 0x01 },
                        wrap_len(0x0a, cat({ schema, wrap_len(0x12, cat({ scope, unk_s, span2 })),
                                             unk_r, resource, wrap_len(0x12, span2b) })),
                        { 0x28, 0x02 } });
    EXPECT_EQ(recs[0].value, want1);
    EXPECT_EQ(recs[1].value, want2);
    EXPECT_EQ(recs[0].trace_id, t1);
    EXPECT_EQ(recs[1].n_spans, 2u);
}

TEST(OtlpSplit, EmitErrorStops)
{
    Bytes b = make_request({ { { 1, 2, 3 } } });
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    Collector c;
    c.stop_after = 1;
    c.ret = -42;
    EXPECT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &w.v, collect, &c), -42);
    EXPECT_EQ(c.recs.size(), 2u);

    Bytes one = make_request({ { { 1 } } });
    Walked w1(one);
    Collector c1;
    c1.stop_after = 0;
    c1.ret = -5;
    EXPECT_EQ(lr_dp_otlp_split_traces(one.data(), one.size(), &w1.v, collect, &c1), -5);
}

TEST(OtlpSplit, RejectsUnusableViews)
{
    Bytes b = make_request({ { { 1, 2 } } });
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    Collector c;
    lr_otlp_view v = w.v;
    v.truncated = true;
    EXPECT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &v, collect, &c), -EINVAL);
    v = w.v;
    v.signal = LR_SIG_LOGS;
    EXPECT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &v, collect, &c), -EINVAL);
    EXPECT_TRUE(c.recs.empty());
}

struct Tally {
    uint64_t records = 0, spans = 0, bytes = 0;
};

int tally(void *ctx, const uint8_t *, uint64_t n_spans, const uint8_t *, size_t len)
{
    Tally *t = static_cast<Tally *>(ctx);
    t->records++;
    t->spans += n_spans;
    t->bytes += len;
    return 0;
}

// 10k distinct traces: the split must stay linear (a quadratic one copies or scans ~10^8).
TEST(OtlpSplit, TenThousandTraces)
{
    const int n = 10000;
    std::vector<Shape> shapes(3);
    // One resource, one scope, one span per trace.
    shapes[0] = { { std::vector<int>() } };
    for (int i = 0; i < n; i++)
        shapes[0][0][0].push_back(i + 1);
    // 100 resources x 100 scopes.
    shapes[1].assign(100, std::vector<std::vector<int>>(100));
    for (int i = 0; i < n; i++)
        shapes[1][i / 100][i % 100].push_back(i + 1);
    // Two spans per trace, the second half mirrored, all in one scope.
    shapes[2] = { { std::vector<int>() } };
    for (int i = 0; i < n; i++)
        shapes[2][0][0].push_back(i < n / 2 ? i + 1 : n - i);
    const uint64_t traces[] = { 10000, 10000, 5000 };
    for (size_t k = 0; k < 3; k++) {
        Bytes b = make_request(shapes[k], false);
        Walked w(b);
        ASSERT_EQ(w.rc, 0);
        ASSERT_FALSE(w.v.truncated);
        Tally t;
        auto t0 = std::chrono::steady_clock::now();
        ASSERT_EQ(lr_dp_otlp_split_traces(b.data(), b.size(), &w.v, tally, &t), 0);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        EXPECT_EQ(t.records, traces[k]);
        EXPECT_EQ(t.spans, static_cast<uint64_t>(n));
        // Each record carries its spans plus one resource and scope header: linear in the input.
        EXPECT_LT(t.bytes, 4 * b.size() + 200u * t.records);
        // Generous (sanitizer builds, loaded CI): a quadratic split takes far longer.
        EXPECT_LT(ms, 3000.0) << "shape " << k;
        RecordProperty("split_ms_shape_" + std::to_string(k), std::to_string(ms));
    }
}

} // namespace
