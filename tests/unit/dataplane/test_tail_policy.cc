// Tests for dataplane/tail_policy.c: the Collector's tail-sampling policies over raw OTLP bytes.
//
// Traces are built with protobuf-c (ExportTraceServiceRequest packed by the generated code) and
// decided with lr_dp_tail_decide. Tables cover every policy type (matching, not matching,
// inverted), the final-decision precedence of makeDecision, concatenated request bodies, the
// limiting policies with synthetic clocks (and from several threads), probabilistic decisions
// against an independent implementation of the Collector's hash and threshold, parser errors,
// the JSON round trip, and every truncated prefix of a trace body.
#include <gtest/gtest.h>

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "../../../dataplane/tail_policy.h"
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
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

constexpr uint64_t MS = 1000000, SEC = 1000000000, BASE = 1700000000 * SEC;

// ---- building requests with protobuf-c -------------------------------------------------------

struct A { // one attribute
    enum Kind { STR, INT, DBL, BOOL } kind;
    std::string key, s;
    int64_t i;
    double d;
    bool b;
};
A S(const std::string &k, const std::string &v)
{
    return A{ A::STR, k, v, 0, 0, false };
}
A I(const std::string &k, int64_t v)
{
    return A{ A::INT, k, "", v, 0, false };
}
A D(const std::string &k, double v)
{
    return A{ A::DBL, k, "", 0, v, false };
}
A B(const std::string &k, bool v)
{
    return A{ A::BOOL, k, "", 0, 0, v };
}

Bytes tid_of(uint8_t last)
{
    Bytes t(16, 0);
    t[0] = 0xab;
    t[15] = last;
    return t;
}

struct Sp { // one span
    uint64_t start = 1000 * MS, end = 1001 * MS;
    int status = -1; // -1: no Status message
    std::string ts;
    std::vector<A> attrs;
    Bytes tid = tid_of(1);

    // Milliseconds after a base instant (a start of 0 means "not set yet" to the latency policy).
    Sp ms(uint64_t s, uint64_t e) const
    {
        Sp c = *this;
        c.start = BASE + s * MS, c.end = BASE + e * MS;
        return c;
    }
    Sp ns(uint64_t s, uint64_t e) const
    {
        Sp c = *this;
        c.start = s, c.end = e;
        return c;
    }
    Sp code(int st) const
    {
        Sp c = *this;
        c.status = st;
        return c;
    }
    Sp state(const std::string &t) const
    {
        Sp c = *this;
        c.ts = t;
        return c;
    }
    Sp with(std::vector<A> a) const
    {
        Sp c = *this;
        c.attrs = std::move(a);
        return c;
    }
    Sp id(const Bytes &t) const
    {
        Sp c = *this;
        c.tid = t;
        return c;
    }
};

struct RS { // one ResourceSpans with one ScopeSpans
    std::vector<A> res;
    std::vector<Sp> spans;
};

Bytes request(const std::vector<RS> &rss)
{
    std::deque<AnyValue> av;
    std::deque<KeyValue> kv;
    std::deque<std::vector<KeyValue *>> kvp;
    std::deque<Resource> res;
    std::deque<Status> st;
    std::deque<Span> sp;
    std::deque<std::vector<Span *>> spp;
    std::deque<ScopeSpans> ss;
    std::deque<std::vector<ScopeSpans *>> ssp;
    std::deque<ResourceSpans> rsd;
    std::vector<ResourceSpans *> rsp;
    std::deque<std::string> str;
    static const uint8_t sid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

    auto attrs = [&](const std::vector<A> &as) -> std::vector<KeyValue *> & {
        kvp.emplace_back();
        for (const A &a : as) {
            av.emplace_back();
            AnyValue *v = &av.back();
            opentelemetry__proto__common__v1__any_value__init(v);
            switch (a.kind) {
            case A::STR:
                str.push_back(a.s);
                v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
                v->string_value = const_cast<char *>(str.back().c_str());
                break;
            case A::INT:
                v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
                v->int_value = a.i;
                break;
            case A::DBL:
                v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
                v->double_value = a.d;
                break;
            case A::BOOL:
                v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
                v->bool_value = a.b;
                break;
            }
            kv.emplace_back();
            KeyValue *k = &kv.back();
            opentelemetry__proto__common__v1__key_value__init(k);
            str.push_back(a.key);
            k->key = const_cast<char *>(str.back().c_str());
            k->value = v;
            kvp.back().push_back(k);
        }
        return kvp.back();
    };

    for (const RS &r : rss) {
        rsd.emplace_back();
        ResourceSpans *rs = &rsd.back();
        opentelemetry__proto__trace__v1__resource_spans__init(rs);
        if (!r.res.empty()) {
            res.emplace_back();
            Resource *re = &res.back();
            opentelemetry__proto__resource__v1__resource__init(re);
            std::vector<KeyValue *> &a = attrs(r.res);
            re->n_attributes = a.size();
            re->attributes = a.data();
            rs->resource = re;
        }
        spp.emplace_back();
        for (const Sp &s : r.spans) {
            sp.emplace_back();
            Span *x = &sp.back();
            opentelemetry__proto__trace__v1__span__init(x);
            x->trace_id.len = s.tid.size();
            x->trace_id.data = const_cast<uint8_t *>(s.tid.data());
            x->span_id.len = 8;
            x->span_id.data = const_cast<uint8_t *>(sid);
            str.push_back("op");
            x->name = const_cast<char *>(str.back().c_str());
            x->start_time_unix_nano = s.start;
            x->end_time_unix_nano = s.end;
            if (!s.ts.empty()) {
                str.push_back(s.ts);
                x->trace_state = const_cast<char *>(str.back().c_str());
            }
            std::vector<KeyValue *> &a = attrs(s.attrs);
            x->n_attributes = a.size();
            x->attributes = a.data();
            if (s.status >= 0) {
                st.emplace_back();
                opentelemetry__proto__trace__v1__status__init(&st.back());
                st.back().code =
                    static_cast<Opentelemetry__Proto__Trace__V1__Status__StatusCode>(s.status);
                x->status = &st.back();
            }
            spp.back().push_back(x);
        }
        ss.emplace_back();
        opentelemetry__proto__trace__v1__scope_spans__init(&ss.back());
        ss.back().n_spans = spp.back().size();
        ss.back().spans = spp.back().data();
        ssp.emplace_back(1, &ss.back());
        rs->n_scope_spans = 1;
        rs->scope_spans = ssp.back().data();
        rsp.push_back(rs);
    }
    TraceReq q;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&q);
    q.n_resource_spans = rsp.size();
    q.resource_spans = rsp.data();
    Bytes out(
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            &q));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&q, out.data());
    return out;
}

Bytes one(const Sp &s, std::vector<A> res = {})
{
    return request({ RS{ std::move(res), { s } } });
}

Bytes cat(const Bytes &a, const Bytes &b)
{
    Bytes o = a;
    o.insert(o.end(), b.begin(), b.end());
    return o;
}

uint32_t count_spans(const std::vector<RS> &rss)
{
    uint32_t n = 0;
    for (const RS &r : rss)
        n += static_cast<uint32_t>(r.spans.size());
    return n;
}

// ---- policy sets ------------------------------------------------------------------------------

struct Pol {
    lr_tail_policies *p = nullptr;
    std::string err;
    explicit Pol(const std::string &yaml)
    {
        char e[512] = "";
        p = lr_dp_tail_policies_parse_text(yaml.data(), yaml.size(), e, sizeof(e));
        if (!p)
            err = e;
    }
    ~Pol() { lr_dp_tail_policies_free(p); }
    Pol(const Pol &) = delete;
    Pol &operator=(const Pol &) = delete;
    bool decide(const Bytes &b, uint32_t n_spans = 1, uint64_t now = 0)
    {
        lr_tail_trace t = { b.data(), b.size(), n_spans };
        return lr_dp_tail_decide(p, &t, now);
    }
    uint64_t sampled(size_t i) const
    {
        uint64_t y, n;
        lr_dp_tail_policy_counts(p, i, &y, &n);
        return y;
    }
    uint64_t not_sampled(size_t i) const
    {
        uint64_t y, n;
        lr_dp_tail_policy_counts(p, i, &y, &n);
        return n;
    }
    std::string json() const
    {
        size_t n = lr_dp_tail_policies_json(p, nullptr, 0);
        std::string s(n + 1, '\0');
        EXPECT_EQ(lr_dp_tail_policies_json(p, &s[0], s.size()), n);
        s.resize(n);
        return s;
    }
};

// ---- every policy type ------------------------------------------------------------------------

struct TypeCase {
    const char *what;
    const char *policy; // one policy, YAML flow mapping without the name
    Bytes body;
    uint32_t n_spans;
    bool keep;
};

std::vector<TypeCase> type_cases()
{
    const Sp s;
    const char *lat = "{type: latency, latency: {threshold_ms: 100}}";
    const char *lat_up = "{type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}";
    const char *err = "{type: status_code, status_code: {status_codes: [ERROR]}}";
    const char *unset = "{type: status_code, status_code: {status_codes: [UNSET]}}";
    const char *okerr = "{type: status_code, status_code: {status_codes: [OK, ERROR]}}";
    const char *route = "{type: string_attribute, string_attribute: {key: http.route, "
                        "values: [/a, /b]}}";
    const char *route_empty = "{type: string_attribute, string_attribute: {key: http.route, "
                              "values: ['', /x]}}";
    const char *rx = "{type: string_attribute, string_attribute: {key: http.route, values: "
                     "['^/api/v[0-9]+/', '^/(live|ready)$'], enabled_regex_matching: true}}";
    const char *rx_empty = "{type: string_attribute, string_attribute: {key: k, values: ['^$'], "
                           "enabled_regex_matching: true}}";
    const char *team_inv = "{type: string_attribute, string_attribute: {key: team, values: "
                           "[team_a], invert_match: true}}";
    const char *code5xx = "{type: numeric_attribute, numeric_attribute: {key: code, min_value: "
                          "500, max_value: 599}}";
    const char *max10 = "{type: numeric_attribute, numeric_attribute: {key: code, max_value: 10}}";
    const char *code5xx_inv = "{type: numeric_attribute, numeric_attribute: {key: code, "
                              "min_value: 500, max_value: 599, invert_match: true}}";
    const char *dbg = "{type: boolean_attribute, boolean_attribute: {key: debug, value: true}}";
    const char *dbg_false = "{type: boolean_attribute, boolean_attribute: {key: debug, value: "
                            "false}}";
    const char *dbg_inv = "{type: boolean_attribute, boolean_attribute: {key: debug, value: true, "
                          "invert_match: true}}";
    const char *min2 = "{type: span_count, span_count: {min_spans: 2}}";
    const char *min2max3 = "{type: span_count, span_count: {min_spans: 2, max_spans: 3}}";
    const char *max3 = "{type: span_count, span_count: {max_spans: 3}}";
    const char *ts = "{type: trace_state, trace_state: {key: vendor, values: [x, y]}}";
    const char *p100 = "{type: probabilistic, probabilistic: {sampling_percentage: 100}}";
    const char *p0 = "{type: probabilistic, probabilistic: {sampling_percentage: 0}}";
    const char *andp = "{type: and, and: {and_sub_policy: [{name: r, type: string_attribute, "
                       "string_attribute: {key: http.route, values: [/a]}}, {name: e, type: "
                       "status_code, status_code: {status_codes: [ERROR]}}]}}";
    const char *and_inv = "{type: and, and: {and_sub_policy: [" // an inverted sub-policy
                          "{name: t, type: string_attribute, string_attribute: {key: team, "
                          "values: [team_a], invert_match: true}}, {name: all, type: "
                          "always_sample}]}}";
    std::string big_ts;
    for (int i = 0; i < 32; i++)
        big_ts += "k" + std::to_string(i) + "=v,";
    big_ts += "vendor=x";

    return {
        { "always_sample", "{type: always_sample}", one(s), 1, true },
        { "latency above", lat, one(s.ms(0, 150)), 1, true },
        { "latency below", lat, one(s.ms(0, 50)), 1, false },
        { "latency equal is enough", lat, one(s.ms(10, 110)), 1, true },
        { "latency over two spans", lat, request({ RS{ {}, { s.ms(0, 50), s.ms(40, 120) } } }), 2,
          true },
        { "latency in band", lat_up, one(s.ms(0, 150)), 1, true },
        { "latency above band", lat_up, one(s.ms(0, 250)), 1, false },
        { "latency band excludes lower", lat_up, one(s.ms(0, 100)), 1, false },
        // The Collector decides at the first span whose running duration qualifies.
        { "latency band decided early", lat_up,
          request({ RS{ {}, { s.ms(0, 150), s.ms(0, 300) } } }), 2, true },
        { "latency band later span too long", lat_up,
          request({ RS{ {}, { s.ms(0, 300), s.ms(0, 150) } } }), 2, false },
        // Timestamps of 0 are "not set yet" for the running min/max (latency.go).
        { "latency zero start is replaced", lat,
          request({ RS{ {}, { s.ns(0, 50 * MS), s.ns(40 * MS, 120 * MS) } } }), 2, false },
        // time.Time.Sub saturates; int64(ts) of a huge timestamp is negative.
        { "latency negative end", lat, one(s.ns(1, UINT64_MAX)), 1, false },
        { "latency saturates", lat, one(s.ns(1ull << 63, SEC)), 1, true },
        { "latency huge end", lat, one(s.ns(1, INT64_MAX)), 1, true },
        { "status error", err, one(s.code(2)), 1, true },
        { "status ok only", err, one(s.code(1)), 1, false },
        { "status unset when absent", unset, one(s), 1, true },
        { "status unset explicit", unset, one(s.code(0)), 1, true },
        { "status one of several spans", okerr, request({ RS{ {}, { s, s.code(1) } } }), 2, true },
        { "string span attr", route, one(s.with({ S("http.route", "/a") })), 1, true },
        { "string other value", route, one(s.with({ S("http.route", "/c") })), 1, false },
        { "string resource attr", route, one(s, { S("http.route", "/b") }), 1, true },
        { "string non-string attr", route, one(s.with({ I("http.route", 7) })), 1, false },
        { "string other key", route, one(s.with({ S("route", "/a") })), 1, false },
        { "string empty value ignored", route_empty,
          one(s.with({ S("http.route", "") }), { S("http.route", "") }), 1, false },
        { "string first key wins", route,
          one(s.with({ S("http.route", "/c"), S("http.route", "/a") })), 1, false },
        { "regex match", rx, one(s.with({ S("http.route", "/api/v2/users") })), 1, true },
        { "regex alternation", rx, one(s.with({ S("http.route", "/ready") })), 1, true },
        { "regex long value", rx,
          one(s.with({ S("http.route", "/api/v1/" + std::string(3000, 'x')) })), 1, true },
        { "regex no match", rx, one(s.with({ S("http.route", "/apix/v2/") })), 1, false },
        { "regex unanchored search", rx, one(s.with({ S("http.route", "x/api/v9/y") })), 1, false },
        // Str() of a non-string resource value is "", which '^$' matches (as in the Collector);
        // span attributes are only looked at when Str() is not empty.
        { "regex empty resource value", rx_empty, one(s, { I("k", 1) }), 1, true },
        { "regex empty span value", rx_empty, one(s.with({ I("k", 1) })), 1, false },
        { "invert absent", team_inv, one(s), 1, true },
        { "invert present", team_inv, one(s.with({ S("team", "team_a") })), 1, false },
        { "invert resource", team_inv, one(s, { S("team", "team_a") }), 1, false },
        { "invert other value", team_inv, one(s.with({ S("team", "team_b") })), 1, true },
        { "numeric in range", code5xx, one(s.with({ I("code", 503) })), 1, true },
        { "numeric bounds inclusive", code5xx, one(s.with({ I("code", 599) })), 1, true },
        { "numeric out of range", code5xx, one(s.with({ I("code", 404) })), 1, false },
        { "numeric resource", code5xx, one(s, { I("code", 500) }), 1, true },
        // Value.Int() is 0 for a double or a string: the Collector does not convert.
        { "numeric double reads 0", code5xx, one(s.with({ D("code", 503.0) })), 1, false },
        { "numeric string reads 0", code5xx, one(s.with({ S("code", "503") })), 1, false },
        { "numeric double 0 in open range", max10, one(s.with({ D("code", 503.0) })), 1, true },
        { "numeric negative in open range", max10, one(s.with({ I("code", -5) })), 1, true },
        { "numeric invert match", code5xx_inv, one(s.with({ I("code", 503) })), 1, false },
        { "numeric invert other", code5xx_inv, one(s.with({ I("code", 200) })), 1, true },
        { "bool true", dbg, one(s.with({ B("debug", true) })), 1, true },
        { "bool false", dbg, one(s.with({ B("debug", false) })), 1, false },
        { "bool string", dbg, one(s.with({ S("debug", "true") })), 1, false },
        { "bool resource", dbg, one(s, { B("debug", true) }), 1, true },
        { "bool false matches non-bool", dbg_false, one(s.with({ S("debug", "x") })), 1, true },
        { "bool false absent", dbg_false, one(s), 1, false },
        { "bool invert present", dbg_inv, one(s.with({ B("debug", true) })), 1, false },
        { "bool invert absent", dbg_inv, one(s), 1, true },
        { "span_count below", min2, one(s), 1, false },
        { "span_count at min", min2, one(s), 2, true },
        { "span_count above max", min2max3, one(s), 4, false },
        { "span_count in range", min2max3, one(s), 3, true },
        { "span_count max only", max3, one(s), 0, true },
        { "trace_state match", ts, one(s.state("vendor=x")), 1, true },
        { "trace_state second member", ts, one(s.state("a=1,vendor=y")), 1, true },
        { "trace_state other value", ts, one(s.state("vendor=z")), 1, false },
        { "trace_state blanks trimmed", ts, one(s.state(" vendor=x\t")), 1, true },
        { "trace_state empty members", ts, one(s.state(",,vendor=x,,")), 1, true },
        { "trace_state multi-tenant key", ts, one(s.state("t@sys=1,vendor=x")), 1, true },
        { "trace_state duplicate key", ts, one(s.state("vendor=x,vendor=y")), 1, false },
        { "trace_state bad key elsewhere", ts, one(s.state("Bad=1,vendor=x")), 1, false },
        { "trace_state bad value", ts, one(s.state("vendor=x=y")), 1, false },
        { "trace_state 33 members", ts, one(s.state(big_ts)), 1, false },
        { "trace_state none", ts, one(s), 1, false },
        { "probabilistic 100", p100, one(s), 1, true },
        { "probabilistic 0", p0, one(s), 1, false },
        { "and all", andp, one(s.code(2).with({ S("http.route", "/a") })), 1, true },
        { "and one", andp, one(s.code(1).with({ S("http.route", "/a") })), 1, false },
        { "and inverted sub sampled", and_inv, one(s), 1, true },
        { "and inverted sub not sampled", and_inv, one(s.with({ S("team", "team_a") })), 1, false },
    };
}

TEST(TailPolicy, EveryType)
{
    for (const TypeCase &c : type_cases()) {
        SCOPED_TRACE(c.what);
        std::string yaml = std::string("[{name: p, ") + (c.policy + 1) + "]";
        Pol p(yaml);
        ASSERT_NE(p.p, nullptr) << p.err << "\n" << yaml;
        EXPECT_EQ(p.decide(c.body, c.n_spans), c.keep);
        // Decisions of non-limiting policies do not depend on history.
        EXPECT_EQ(p.decide(c.body, c.n_spans), c.keep);
        EXPECT_EQ(p.sampled(0) + p.not_sampled(0), 2u);
    }
}

// ---- concatenated bodies, resources without spans, malformed bodies ---------------------------

TEST(TailPolicy, ConcatenatedRequests)
{
    const Sp s;
    Bytes r1 = request({ RS{ {}, { s.ms(0, 50) } } });
    Bytes r2 = request({ RS{ { S("service.name", "checkout") }, { s.ms(40, 130).code(2) } } });
    Bytes both = cat(r1, r2);
    struct {
        const char *policy;
        bool first, second, both;
    } cases[] = {
        { "{name: p, type: latency, latency: {threshold_ms: 100}}", false, false, true },
        { "{name: p, type: status_code, status_code: {status_codes: [ERROR]}}", false, true, true },
        { "{name: p, type: string_attribute, string_attribute: {key: service.name, values: "
          "[checkout]}}",
          false, true, true },
        { "{name: p, type: string_attribute, string_attribute: {key: service.name, values: "
          "[checkout], invert_match: true}}",
          true, false, false },
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.policy);
        Pol p(std::string("[") + c.policy + "]");
        ASSERT_NE(p.p, nullptr) << p.err;
        EXPECT_EQ(p.decide(r1, 1), c.first);
        EXPECT_EQ(p.decide(r2, 1), c.second);
        EXPECT_EQ(p.decide(both, 2), c.both);
    }
}

TEST(TailPolicy, ResourceWithoutSpansIsNotPartOfTheTrace)
{
    // The Collector only keeps resources that carry the trace's spans.
    Bytes b = request({ RS{ { S("team", "team_a") }, {} }, RS{ {}, { Sp() } } });
    Pol inv("[{name: p, type: string_attribute, string_attribute: {key: team, values: [team_a], "
            "invert_match: true}}]");
    Pol pos("[{name: p, type: string_attribute, string_attribute: {key: team, values: [team_a]}}]");
    EXPECT_TRUE(inv.decide(b));
    EXPECT_FALSE(pos.decide(b));
}

TEST(TailPolicy, MalformedBodyIsNoMatch)
{
    Bytes bad = { 0x0a, 0x05, 0x12, 0x03, 0x12, 0x7f, 0x00 }; // length runs past the end
    Pol all("[{name: a, type: always_sample}]");
    Pol err("[{name: p, type: status_code, status_code: {status_codes: [UNSET]}}]");
    Pol inv("[{name: p, type: string_attribute, string_attribute: {key: team, values: [team_a], "
            "invert_match: true}}]");
    Pol prob("[{name: p, type: probabilistic, probabilistic: {sampling_percentage: 100}}]");
    EXPECT_TRUE(all.decide(bad));
    EXPECT_FALSE(err.decide(bad));
    EXPECT_FALSE(inv.decide(bad)); // not an inverted "sampled"
    EXPECT_FALSE(prob.decide(bad));
    // A wrong wire type on a field the policies read is malformed too.
    Bytes wt = { 0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x38, 0x01 }; // start_time as varint
    EXPECT_FALSE(err.decide(wt));
    // An empty body is a trace without spans.
    EXPECT_FALSE(err.decide(Bytes()));
    EXPECT_TRUE(inv.decide(Bytes()));
    // A trace id that is neither empty nor 16 bytes: probabilistic cannot hash it.
    EXPECT_FALSE(prob.decide(one(Sp().id(Bytes(8, 1)))));
    EXPECT_TRUE(prob.decide(one(Sp().id(Bytes()))));
}

// ---- makeDecision precedence ------------------------------------------------------------------

TEST(TailPolicy, Precedence)
{
    const char *all = "{name: all, type: always_sample}";
    const char *drop_hit = "{name: d, type: drop, drop: {drop_sub_policy: [{name: x, type: "
                           "string_attribute, string_attribute: {key: k, values: [v]}}]}}";
    const char *drop_miss = "{name: d, type: drop, drop: {drop_sub_policy: [{name: x, type: "
                            "string_attribute, string_attribute: {key: k, values: [nope]}}]}}";
    const char *inv_not = "{name: i, type: string_attribute, string_attribute: {key: k, values: "
                          "[v], invert_match: true}}";
    const char *inv_yes = "{name: i, type: string_attribute, string_attribute: {key: k, values: "
                          "[other], invert_match: true}}";
    const char *miss = "{name: e, type: status_code, status_code: {status_codes: [ERROR]}}";
    struct {
        std::vector<const char *> set;
        bool keep;
    } cases[] = {
        { { all, drop_hit }, false },      // Dropped beats everything
        { { drop_hit, all }, false },      //
        { { all, drop_miss }, true },      // a drop that does not match says NotSampled
        { { all, inv_not }, false },       // InvertNotSampled beats Sampled
        { { inv_not, all }, false },       //
        { { inv_yes }, true },             // InvertSampled alone samples
        { { inv_yes, all }, true },        //
        { { inv_yes, miss }, false },      // ... but not next to a NotSampled
        { { drop_miss, inv_yes }, false }, // and a drop's NotSampled counts
        { { miss }, false },               // nothing sampled
        { { miss, all }, true },           // any Sampled
    };
    Bytes b = one(Sp().with({ S("k", "v") }));
    for (const auto &c : cases) {
        std::string yaml = "[";
        for (size_t i = 0; i < c.set.size(); i++)
            yaml += std::string(i ? "," : "") + c.set[i];
        yaml += "]";
        SCOPED_TRACE(yaml);
        Pol p(yaml);
        ASSERT_NE(p.p, nullptr) << p.err;
        EXPECT_EQ(p.decide(b), c.keep);
    }
}

TEST(TailPolicy, DropPoliciesRunFirstAndStopEvaluation)
{
    // A matching drop stops evaluation, so the rate limiter listed before it spends nothing.
    Pol p("[{name: rate, type: rate_limiting, rate_limiting: {spans_per_second: 3}},"
          " {name: d, type: drop, drop: {drop_sub_policy: [{type: string_attribute,"
          " string_attribute: {key: k, values: [v]}}]}}]");
    ASSERT_NE(p.p, nullptr) << p.err;
    Bytes hit = one(Sp().with({ S("k", "v") })), miss = one(Sp());
    for (int i = 0; i < 5; i++)
        EXPECT_FALSE(p.decide(hit, 1, 0));
    EXPECT_EQ(p.sampled(0) + p.not_sampled(0), 0u);
    EXPECT_EQ(p.not_sampled(1), 5u);
    EXPECT_TRUE(p.decide(miss, 1, 0)); // 1 < 3
    EXPECT_TRUE(p.decide(miss, 1, 0)); // 2 < 3
    EXPECT_FALSE(p.decide(miss, 1, 0));
    EXPECT_EQ(p.sampled(0), 2u);
    EXPECT_EQ(p.not_sampled(0), 1u);
    EXPECT_EQ(p.not_sampled(1), 8u);
    ASSERT_EQ(lr_dp_tail_policies_count(p.p), 2u);
    EXPECT_STREQ(lr_dp_tail_policy_name(p.p, 0), "rate");
    EXPECT_STREQ(lr_dp_tail_policy_name(p.p, 1), "d");
    EXPECT_EQ(lr_dp_tail_policy_name(p.p, 2), nullptr);
    EXPECT_EQ(lr_dp_tail_policies_count(nullptr), 0u);
}

// ---- limiting policies ------------------------------------------------------------------------

TEST(TailPolicy, RateLimitingPerSecond)
{
    Pol p("[{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 10}}]");
    ASSERT_NE(p.p, nullptr) << p.err;
    Bytes b = one(Sp());
    uint64_t t0 = 5 * SEC;
    struct {
        uint64_t at;
        uint32_t spans;
        bool keep;
    } steps[] = {
        { t0 + 100 * MS, 4, true },  // 4
        { t0 + 200 * MS, 4, true },  // 8
        { t0 + 300 * MS, 4, false }, // 12 is over
        { t0 + 400 * MS, 1, true },  // 9
        { t0 + 999 * MS, 1, false }, // 10 is not below 10
        { t0 + 1 * SEC, 9, true },   // a new second
        { t0 + 1 * SEC, 1, false },  //
        { t0 + 3 * SEC, 10, false }, // a trace of 10 spans never fits
        { t0 + 3 * SEC, 9, true },
    };
    for (const auto &s : steps) {
        SCOPED_TRACE(s.at);
        EXPECT_EQ(p.decide(b, s.spans, s.at), s.keep);
    }
}

TEST(TailPolicy, BytesLimitingTokenBucket)
{
    Bytes b = one(Sp());
    const uint64_t n = b.size();
    std::string yaml =
        "[{name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: " + std::to_string(n) +
        ", burst_capacity: " + std::to_string(2 * n) + "}}]";
    Pol p(yaml);
    ASSERT_NE(p.p, nullptr) << p.err;
    uint64_t t = 7 * SEC;
    EXPECT_TRUE(p.decide(b, 1, t)); // the bucket starts full: 2n
    EXPECT_TRUE(p.decide(b, 1, t));
    EXPECT_FALSE(p.decide(b, 1, t));
    EXPECT_FALSE(p.decide(b, 1, t + SEC / 2)); // n/2 refilled
    EXPECT_TRUE(p.decide(b, 1, t + SEC));      // n
    EXPECT_FALSE(p.decide(b, 1, t + SEC));
    EXPECT_TRUE(p.decide(b, 1, t + 10 * SEC)); // refill stops at the burst: 2n
    EXPECT_TRUE(p.decide(b, 1, t + 10 * SEC));
    EXPECT_FALSE(p.decide(b, 1, t + 10 * SEC));

    // A trace larger than the burst never passes; the default burst is 2 x bytes_per_second.
    Bytes big = cat(b, cat(b, b));
    EXPECT_FALSE(p.decide(big, 3, t + 100 * SEC));
    Pol d("[{name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: " +
          std::to_string(n) + "}}]");
    ASSERT_NE(d.p, nullptr) << d.err;
    EXPECT_NE(d.json().find("\"burst_capacity\":" + std::to_string(2 * n)), std::string::npos);
    EXPECT_TRUE(d.decide(cat(b, b), 2, 0)); // works from now_ns 0 as well
    EXPECT_FALSE(d.decide(b, 1, 0));
}

TEST(TailPolicy, LimitersAreSharedAcrossThreads)
{
    Pol r("[{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 1000}}]");
    Bytes b = one(Sp());
    std::string yaml = "[{name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: " +
                       std::to_string(b.size()) +
                       ", burst_capacity: " + std::to_string(b.size() * 50) + "}}]";
    Pol by(yaml);
    ASSERT_NE(r.p, nullptr) << r.err;
    ASSERT_NE(by.p, nullptr) << by.err;
    Pol rx("[{name: x, type: string_attribute, string_attribute: {key: k, values: ['^v+$'], "
           "enabled_regex_matching: true}}]");
    ASSERT_NE(rx.p, nullptr) << rx.err;
    Bytes kb = one(Sp().with({ S("k", "vvv") }));
    std::atomic<int> kept_r{ 0 }, kept_b{ 0 }, kept_x{ 0 };
    std::vector<std::thread> th;
    for (int i = 0; i < 8; i++)
        th.emplace_back([&] {
            for (int k = 0; k < 500; k++) {
                kept_r += r.decide(b, 1, 42 * SEC);
                kept_b += by.decide(b, 1, 42 * SEC);
                kept_x += rx.decide(kb, 1, 0);
            }
        });
    for (std::thread &t : th)
        t.join();
    EXPECT_EQ(kept_r.load(), 999);  // strictly below 1000 spans in that second
    EXPECT_EQ(kept_b.load(), 50);   // exactly one full bucket
    EXPECT_EQ(kept_x.load(), 4000); // regexec on one compiled expression from every thread
    EXPECT_EQ(r.sampled(0) + r.not_sampled(0), 4000u);
    EXPECT_EQ(r.sampled(0), 999u);
}

TEST(TailPolicy, CompositeAllocation)
{
    Pol p(R"(
- name: comp
  type: composite
  composite:
    max_total_spans_per_second: 10
    policy_order: [errors, rest]
    composite_sub_policy:
      - name: errors
        type: status_code
        status_code: {status_codes: [ERROR]}
      - name: rest
        type: always_sample
    rate_allocation:
      - {policy: errors, percent: 50}
      - {policy: rest, percent: 30}
)");
    ASSERT_NE(p.p, nullptr) << p.err;
    Bytes e = one(Sp().code(2)), ok = one(Sp());
    uint64_t t = 3 * SEC;
    EXPECT_TRUE(p.decide(e, 2, t));  // errors: 2 of 5
    EXPECT_TRUE(p.decide(e, 2, t));  // 4 of 5
    EXPECT_FALSE(p.decide(e, 2, t)); // 6 > 5, and "rest" is not tried
    EXPECT_TRUE(p.decide(e, 1, t));  // 5 of 5
    EXPECT_TRUE(p.decide(ok, 2, t)); // rest: 2 of 3
    EXPECT_FALSE(p.decide(ok, 2, t));
    EXPECT_TRUE(p.decide(ok, 1, t));      // 3 of 3
    EXPECT_TRUE(p.decide(e, 5, t + SEC)); // counters restart each second
    EXPECT_TRUE(p.decide(ok, 3, t + SEC));

    // percent 0 splits evenly; a sub-policy without an allocation never samples.
    Pol q(R"([{name: c, type: composite, composite: {max_total_spans_per_second: 10,
      composite_sub_policy: [{name: a, type: status_code, status_code: {status_codes: [ERROR]}},
                             {name: b, type: always_sample}],
      rate_allocation: [{policy: a, percent: 0}]}}])");
    ASSERT_NE(q.p, nullptr) << q.err;
    EXPECT_TRUE(q.decide(e, 5, t));
    EXPECT_FALSE(q.decide(e, 1, t));
    EXPECT_FALSE(q.decide(ok, 1, t));

    // An `and` inside a composite.
    Pol a(R"([{name: c, type: composite, composite: {max_total_spans_per_second: 4,
      composite_sub_policy: [{name: x, type: and, and: {and_sub_policy: [
          {name: e, type: status_code, status_code: {status_codes: [ERROR]}},
          {name: n, type: span_count, span_count: {min_spans: 2}}]}}],
      rate_allocation: [{policy: x, percent: 100}]}}])");
    ASSERT_NE(a.p, nullptr) << a.err;
    EXPECT_FALSE(a.decide(e, 1, t)); // the and says no
    EXPECT_TRUE(a.decide(e, 2, t));
    EXPECT_TRUE(a.decide(e, 2, t));
    EXPECT_FALSE(a.decide(e, 2, t));
}

// ---- probabilistic: an independent implementation of the Collector's hash and threshold ------

// hash/fnv New64a.
uint64_t fnv1a64(const std::string &salt, const Bytes &id)
{
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : salt)
        h = (h ^ c) * 1099511628211ull;
    for (uint8_t c : id)
        h = (h ^ c) * 1099511628211ull;
    return h;
}

// calculateThreshold: big.Float with 64 bits of mantissa, nearest even, truncated to uint64. The
// x87 extended format has exactly that mantissa, so one long double multiply rounds the same way.
uint64_t go_threshold(double pct)
{
    double ratio = pct / 100;
    if (ratio <= 0)
        return 0;
    long double v = static_cast<long double>(UINT64_MAX) * static_cast<long double>(ratio);
    return static_cast<uint64_t>(v);
}

TEST(TailPolicy, ProbabilisticHashReference)
{
    // The reference FNV-1a 64 vectors (http://www.isthe.com/chongo/tech/comp/fnv/).
    EXPECT_EQ(fnv1a64("", {}), 0xcbf29ce484222325ull);
    EXPECT_EQ(fnv1a64("a", {}), 0xaf63dc4c8601ec8cull);
    EXPECT_EQ(fnv1a64("foobar", {}), 0x85944171f73967e8ull);
#if LDBL_MANT_DIG != 64
    GTEST_SKIP() << "needs the x87 extended long double for the threshold reference";
#endif
    EXPECT_EQ(go_threshold(100), UINT64_MAX);
    EXPECT_EQ(go_threshold(50), 0x7fffffffffffffffull); // (2^64-1)/2 rounded, then truncated

    std::mt19937_64 rng(7);
    const double pcts[] = { 0, 0.001, 1, 10, 25, 33.3, 50, 99.99, 100 };
    const char *salts[] = { "", "test-salt" };
    for (double pct : pcts)
        for (const char *salt : salts) {
            std::string yaml =
                "[{name: p, type: probabilistic, probabilistic: {sampling_percentage: " +
                std::to_string(pct) + ", hash_salt: '" + salt + "'}}]";
            Pol p(yaml);
            ASSERT_NE(p.p, nullptr) << p.err;
            // std::to_string rounds to 6 decimals; read the value back as the parser did.
            double parsed = std::strtod(std::to_string(pct).c_str(), nullptr);
            uint64_t th = go_threshold(parsed);
            for (int i = 0; i < 400; i++) {
                Bytes id(16);
                for (uint8_t &c : id)
                    c = static_cast<uint8_t>(rng());
                bool want = fnv1a64(*salt ? salt : "default-hash-seed", id) <= th;
                ASSERT_EQ(p.decide(one(Sp().id(id))), want)
                    << "pct " << pct << " salt '" << salt << "' id #" << i;
            }
        }
}

TEST(TailPolicy, ProbabilisticRate)
{
    std::mt19937_64 rng(11);
    for (double pct : { 25.0, 33.0, 90.0 }) {
        Pol p("[{name: p, type: probabilistic, probabilistic: {sampling_percentage: " +
              std::to_string(pct) + "}}]");
        ASSERT_NE(p.p, nullptr) << p.err;
        int kept = 0;
        const int n = 10000;
        for (int i = 0; i < n; i++) {
            Bytes id(16);
            for (uint8_t &c : id)
                c = static_cast<uint8_t>(rng());
            kept += p.decide(one(Sp().id(id)));
        }
        double sd = std::sqrt(n * pct / 100 * (1 - pct / 100));
        EXPECT_NEAR(kept, n * pct / 100, 5 * sd) << pct;
    }
}

// ---- parser errors ----------------------------------------------------------------------------

TEST(TailPolicy, ParserErrors)
{
    struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        { "", "empty document" },
        { "[]", "policies: must not be empty" },
        { "{policies: []}", "must not be empty" },
        { "{policies: [{name: a, type: always_sample}], x: 1}", "unknown key 'x'" },
        { "{pols: []}", "unknown key 'pols'" },
        { "- {name: a", "YAML:" },
        { "--- [{name: a, type: always_sample}]\n--- []\n", "more than one YAML document" },
        { "- 3", "expected a policy mapping" },
        { "- {name: a}", "type: required" },
        { "- {type: always_sample}", "name: required" },
        { "- {name: '', type: always_sample}", "name: must not be empty" },
        { "- {name: \"a\\0b\", type: always_sample}", "NUL" },
        { "- {name: a, type: nope}", "unknown policy type 'nope'" },
        { "- {name: a, type: ottl_condition}", "unknown policy type 'ottl_condition'" },
        { "- {name: a, type: always_sample, name: b}", "duplicate key 'name'" },
        { "- {name: a, type: always_sample}\n- {name: a, type: always_sample}",
          "duplicate policy name 'a'" },
        { "- {name: a, type: always_sample, foo: 1}", "unknown key 'foo'" },
        { "- {name: a, type: always_sample, always_sample: {}}", "unknown key 'always_sample'" },
        { "- {name: a, type: status_code, latency: {threshold_ms: 1}}",
          "'latency' does not belong to a policy of type 'status_code'" },
        { "- {name: a, type: latency}", "policies[0](a).latency.threshold_ms: required" },
        { "- {name: a, type: latency, latency: 5}", "expected a mapping" },
        { "- {name: a, type: latency, latency: {threshold_ms: -1}}", "out of range" },
        { "- {name: a, type: latency, latency: {threshold_ms: abc}}", "expected an integer" },
        { "- {name: a, type: latency, latency: {threshold_ms: 1.5}}", "expected an integer" },
        { "- {name: a, type: latency, latency: {threshold_ms: 99999999999999999999}}",
          "out of range" },
        { "- {name: a, type: latency, latency: {threshold_ms: \"10\"}}", "quoted string" },
        { "- {name: a, type: latency, latency: {threshold_ms: 10, thresold: 3}}",
          "unknown key 'thresold' (latency takes threshold_ms, upper_threshold_ms)" },
        { "- {name: a, type: latency, latency: {threshold_ms: 10, upper_threshold_ms: 5}}",
          "must be greater than threshold_ms" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k}}", "values: required" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k, values: []}}",
          "values: must not be empty" },
        { "- {name: a, type: string_attribute, string_attribute: {key: '', values: [x]}}",
          "key: must not be empty" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k, values: [x, [y]]}}",
          "values[1]: expected a string" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k, values: ['('], "
          "enabled_regex_matching: true}}",
          "values[0]: bad regular expression '('" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k, values: "
          "['(a{1000}){1000}'], enabled_regex_matching: true}}",
          "too large" },
        { "- {name: a, type: string_attribute, string_attribute: {key: k, values: [x], "
          "enabled_regex_matching: maybe}}",
          "expected true or false" },
        { "- {name: a, type: status_code, status_code: {status_codes: [ERROR, FOO]}}",
          "status_codes[1]: unknown status code 'FOO'" },
        { "- {name: a, type: status_code, status_code: {status_codes: ERROR}}",
          "expected a sequence" },
        { "- {name: a, type: probabilistic, probabilistic: {sampling_percentage: 101}}",
          "out of range" },
        { "- {name: a, type: probabilistic, probabilistic: {sampling_percentage: .nan}}",
          "expected a number" },
        { "- {name: a, type: probabilistic, probabilistic: {sampling_percentage: nan}}",
          "expected a number" },
        { "- {name: a, type: probabilistic, probabilistic: {sampling_percentage: 0x10}}",
          "expected a number" },
        { "- {name: a, type: probabilistic, probabilistic: {sampling_percentage: 1e999}}",
          "expected a number" },
        { "- {name: a, type: probabilistic, probabilistic: {hash_salt: x}}",
          "sampling_percentage: required" },
        { "- {name: a, type: numeric_attribute, numeric_attribute: {key: k}}",
          "min_value or max_value" },
        { "- {name: a, type: numeric_attribute, numeric_attribute: {key: k, min_value: 10, "
          "max_value: 5}}",
          "greater than max_value" },
        { "- {name: a, type: rate_limiting, rate_limiting: {spans_per_second: 0}}",
          "out of range" },
        { "- {name: a, type: bytes_limiting, bytes_limiting: {bytes_per_second: 10, "
          "burst_capacity: 99999999999999999}}",
          "out of range" },
        { "- {name: a, type: span_count, span_count: {}}", "min_spans or max_spans: required" },
        { "- {name: a, type: span_count, span_count: {min_spans: 5, max_spans: 2}}",
          "less than min_spans" },
        { "- {name: a, type: trace_state, trace_state: {values: [x]}}", "key: required" },
        { "- {name: a, type: boolean_attribute, boolean_attribute: {key: k}}", "value: required" },
        { "- {name: a, type: and, and: {and_sub_policy: []}}",
          "and_sub_policy: must not be empty" },
        { "- {name: a, type: and}", "and.and_sub_policy: required" },
        { "- {name: a, type: and, and: {and_sub_policy: [{name: b, type: and, and: "
          "{and_sub_policy: [{name: c, type: always_sample}]}}]}}",
          "a 'and' policy is not allowed here" },
        { "- {name: a, type: drop, drop: {drop_sub_policy: [{name: b, type: drop}]}}",
          "not allowed here" },
        { "- {name: a, type: composite, composite: {max_total_spans_per_second: 1, "
          "composite_sub_policy: [{name: b, type: composite}]}}",
          "not allowed here" },
        { "- {name: a, type: and, and: {and_sub_policy: [{name: b, type: always_sample}, {name: "
          "b, type: always_sample}]}}",
          "duplicate policy name 'b'" },
        { "- {name: a, type: and, and: {and_sub_policy: [{name: b, type: latency}]}}",
          "policies[0](a).and.and_sub_policy[0](b).latency.threshold_ms: required" },
        { "- {name: a, type: composite, composite: {max_total_spans_per_second: 1, "
          "composite_sub_policy: [{name: b, type: always_sample}], rate_allocation: [{policy: "
          "c, percent: 5}]}}",
          "rate_allocation[0].policy: 'c' names no composite_sub_policy" },
        { "- {name: a, type: composite, composite: {max_total_spans_per_second: 1, "
          "composite_sub_policy: [{name: b, type: always_sample}], policy_order: [b, z]}}",
          "policy_order[1]: 'z' names no composite_sub_policy" },
        { "- {name: a, type: composite, composite: {max_total_spans_per_second: 1, "
          "composite_sub_policy: [{name: b, type: always_sample}], rate_allocation: [{policy: "
          "b, percent: 150}]}}",
          "out of range" },
        { "- {name: a, type: composite, composite: {max_total_spans_per_second: 1, "
          "composite_sub_policy: [{name: b, type: always_sample}], rate_allocation: [{percent: "
          "5}]}}",
          "policy: required" },
        { "- {name: a, type: composite, composite: {composite_sub_policy: [{name: b, type: "
          "always_sample}]}}",
          "max_total_spans_per_second: required" },
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.yaml);
        Pol p(c.yaml);
        EXPECT_EQ(p.p, nullptr);
        EXPECT_NE(p.err.find(c.want), std::string::npos) << "error: " << p.err;
        EXPECT_EQ(errno, EINVAL);
    }
}

TEST(TailPolicy, ParserErrorLineNumbers)
{
    Pol p("# policies\n"
          "- name: ok\n"
          "  type: always_sample\n"
          "- name: slow\n"
          "  type: latency\n"
          "  latency:\n"
          "    threshold_ms: soon\n");
    ASSERT_EQ(p.p, nullptr);
    EXPECT_EQ(p.err, "7: policies[1](slow).latency.threshold_ms: expected an integer, got 'soon'");
}

TEST(TailPolicy, ParseFromADocumentNode)
{
    const char *text = "tail:\n  policies:\n    - {name: a, type: always_sample}\n";
    yaml_parser_t yp;
    yaml_document_t doc;
    ASSERT_TRUE(yaml_parser_initialize(&yp));
    yaml_parser_set_input_string(&yp, reinterpret_cast<const unsigned char *>(text), strlen(text));
    ASSERT_TRUE(yaml_parser_load(&yp, &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *tail = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
    yaml_node_t *seq = yaml_document_get_node(&doc, tail->data.mapping.pairs.start->value);
    char err[256];
    lr_tail_policies *p = lr_dp_tail_policies_parse(&doc, seq, err, sizeof(err));
    ASSERT_NE(p, nullptr) << err;
    EXPECT_EQ(lr_dp_tail_policies_count(p), 1u);
    lr_dp_tail_policies_free(p);
    EXPECT_EQ(lr_dp_tail_policies_parse(&doc, tail, err, sizeof(err)), nullptr);
    EXPECT_STREQ(err, "2: policies: expected a sequence of policies, got a mapping");
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    lr_dp_tail_policies_free(nullptr);
}

// ---- JSON round trip --------------------------------------------------------------------------

const char *every_policy = R"yaml(
- name: always
  type: always_sample
- name: slow
  type: latency
  latency: {threshold_ms: 1_000, upper_threshold_ms: 60000}
- name: "we\"ird \\ name \u0001 é \u0080 ✓ \N\L\P"
  type: numeric_attribute
  numeric_attribute: {key: http.status_code, min_value: -9223372036854775808, max_value: 599,
                      invert_match: true}
- name: prob
  type: probabilistic
  probabilistic: {hash_salt: "salt", sampling_percentage: 0.000_1}
- name: prob2
  type: probabilistic
  probabilistic: {sampling_percentage: 33.333333333333336}
- name: errors
  type: status_code
  status_code: {status_codes: [ERROR, UNSET]}
- name: routes
  type: string_attribute
  string_attribute: {key: http.route, values: ["^/v1/name/.+", "/(live|ready)"],
                     enabled_regex_matching: true, cache_max_size: 10, invert_match: false}
- name: rate
  type: rate_limiting
  rate_limiting: {spans_per_second: 35}
- name: bytes
  type: bytes_limiting
  bytes_limiting: {bytes_per_second: 1024000}
- name: spans
  type: span_count
  span_count: {min_spans: 2, max_spans: 20}
- name: ts
  type: trace_state
  trace_state: {key: key3, values: [value1, value2]}
- name: debug
  type: boolean_attribute
  boolean_attribute: {key: app.force_sample, value: Yes}
- name: both
  type: and
  and:
    and_sub_policy:
      - {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [a]}}
      - {type: probabilistic, probabilistic: {sampling_percentage: 1}}
- name: health
  type: drop
  drop:
    drop_sub_policy:
      - {name: h, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}
- name: comp
  type: composite
  composite:
    max_total_spans_per_second: 1000
    policy_order: [c1, c2, c3]
    composite_sub_policy:
      - {name: c1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}}
      - name: c2
        type: and
        and: {and_sub_policy: [{name: x, type: always_sample}]}
      - {name: c3, type: always_sample}
    rate_allocation:
      - {policy: c1, percent: 50}
      - {policy: c2, percent: 12.5}
)yaml";

TEST(TailPolicy, JsonRoundTrip)
{
    Pol p(every_policy);
    ASSERT_NE(p.p, nullptr) << p.err;
    std::string j = p.json();
    Pol q(j);
    ASSERT_NE(q.p, nullptr) << q.err << "\n" << j;
    EXPECT_EQ(q.json(), j);
    Pol wrapped("{\"policies\": " + j + "}");
    ASSERT_NE(wrapped.p, nullptr) << wrapped.err;
    EXPECT_EQ(wrapped.json(), j);
    EXPECT_EQ(lr_dp_tail_policies_count(q.p), 15u);
    // YAML's \N, \L and \P (NEL, U+2028, U+2029) must come back as themselves: raw, they
    // are line breaks that a quoted scalar folds into a space (found by fuzz_tail_policy).
    EXPECT_STREQ(lr_dp_tail_policy_name(q.p, 2),
                 "we\"ird \\ name \x01 é \xc2\x80 ✓ \xc2\x85\xe2\x80\xa8\xe2\x80\xa9");
    EXPECT_NE(j.find("\\u0085\\u2028\\u2029"), std::string::npos) << j;
    // Shape of one entry, as GET /sampling shows it.
    EXPECT_NE(j.find("{\"name\":\"slow\",\"type\":\"latency\",\"latency\":{\"threshold_ms\":1000,"
                     "\"upper_threshold_ms\":60000}}"),
              std::string::npos)
        << j;
    EXPECT_NE(j.find("\"sampling_percentage\":33.333333333333336"), std::string::npos) << j;
    EXPECT_NE(j.find("\"sampling_percentage\":0.0001"), std::string::npos) << j;
    EXPECT_NE(j.find("\"value\":true"), std::string::npos) << j;

    // Decisions agree between the original and the round-tripped set.
    Bytes b = request({ RS{ { S("service.name", "a") },
                            { Sp().ms(0, 2000).code(2).with(
                                { I("http.status_code", 503), S("http.route", "/live") }) } } });
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(p.decide(b, 1, i * SEC), q.decide(b, 1, i * SEC));

    // snprintf-like truncation.
    size_t n = lr_dp_tail_policies_json(p.p, nullptr, 0);
    EXPECT_EQ(n, j.size());
    for (size_t cap : { size_t(1), size_t(2), size_t(17), n, n + 1 }) {
        std::vector<char> buf(cap, 'x');
        EXPECT_EQ(lr_dp_tail_policies_json(p.p, buf.data(), cap), n);
        size_t got = strlen(buf.data());
        EXPECT_EQ(got, std::min(cap - 1, n));
        EXPECT_EQ(std::string(buf.data(), got), j.substr(0, got));
    }
}

// ---- every truncated prefix of a body ---------------------------------------------------------

TEST(TailPolicy, TruncatedPrefixes)
{
    const Sp s;
    std::vector<RS> r1 = { RS{
        { S("service.name", "a"), I("n", 3) },
        { s.ms(0, 50)
              .state("vendor=x,o=1")
              .with({ S("http.route", "/a"), D("d", 1.5), B("debug", true) }),
          s.ms(10, 20).code(2) } } };
    std::vector<RS> r2 = { RS{ {}, { s.ms(40, 300).code(1).with({ I("code", 503) }) } },
                           RS{ { S("team", "team_a") }, { s } } };
    Bytes body = cat(request(r1), request(r2));
    uint32_t n_spans = count_spans(r1) + count_spans(r2);
    const char *sets[] = {
        R"([{name: l, type: latency, latency: {threshold_ms: 100}}])",
        R"([{name: e, type: status_code, status_code: {status_codes: [ERROR]}}])",
        R"([{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/a]}}])",
        R"([{name: r, type: string_attribute, string_attribute: {key: team, values: [team_a],
            invert_match: true}}])",
        R"([{name: x, type: string_attribute, string_attribute: {key: http.route, values: ['^/'],
            enabled_regex_matching: true}}])",
        R"([{name: n, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500}}])",
        R"([{name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}])",
        R"([{name: t, type: trace_state, trace_state: {key: vendor, values: [x]}}])",
        R"([{name: p, type: probabilistic, probabilistic: {sampling_percentage: 100}}])",
    };
    for (const char *set : sets) {
        SCOPED_TRACE(set);
        Pol p(set);
        ASSERT_NE(p.p, nullptr) << p.err;
        bool whole = p.decide(body, n_spans);
        size_t kept = 0;
        for (size_t k = 0; k <= body.size(); k++) {
            // An exact-size copy: ASan reports any read past the prefix.
            std::vector<uint8_t> prefix(body.begin(), body.begin() + static_cast<long>(k));
            lr_tail_trace t = { k ? prefix.data() : nullptr, k, n_spans };
            bool a = lr_dp_tail_decide(p.p, &t, 0);
            EXPECT_EQ(lr_dp_tail_decide(p.p, &t, 0), a) << k;
            kept += a;
        }
        EXPECT_EQ(p.decide(body, n_spans), whole);
        EXPECT_GE(kept, whole ? 1u : 0u);
    }
    // Nested and limiting policies over every prefix, with the clock moving.
    Pol p(R"([{name: l, type: latency, latency: {threshold_ms: 100}},
              {name: e, type: status_code, status_code: {status_codes: [ERROR]}},
              {name: t, type: trace_state, trace_state: {key: vendor, values: [x]}},
              {name: d, type: drop, drop: {drop_sub_policy: [{type: boolean_attribute,
                 boolean_attribute: {key: debug, value: false}}]}},
              {name: c, type: composite, composite: {max_total_spans_per_second: 100,
                 composite_sub_policy: [{name: a, type: and, and: {and_sub_policy: [
                   {type: numeric_attribute, numeric_attribute: {key: n, max_value: 5}},
                   {type: string_attribute, string_attribute: {key: team, values: [x],
                    invert_match: true}}]}}]}}])");
    ASSERT_NE(p.p, nullptr) << p.err;
    for (size_t k = 0; k <= body.size(); k++) {
        std::vector<uint8_t> prefix(body.begin(), body.begin() + static_cast<long>(k));
        lr_tail_trace t = { k ? prefix.data() : nullptr, k, n_spans };
        lr_dp_tail_decide(p.p, &t, k * SEC);
    }
}

} // namespace
