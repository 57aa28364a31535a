// dataplane/otlp_http.c: google.rpc.Status encoding (the body of OTLP/HTTP protobuf errors and the
// grpc-status-details-bin of gRPC errors, with and without google.rpc.RetryInfo), and head
// sampling in the export path, driven through a C harness (otlp_http_harness.h): per-service
// overrides, logs sampled by trace id, run-time sets switched between requests, the adaptive
// scale factor and the always-keep rule. Every expected decision is computed here from
// lr_dp_sample_hash_seed() (or the threshold functions) on the trace ids, independently of the
// export path, and the records that reach the ring are decoded with protobuf-c.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <cstddef>
#include <cstdint>

extern "C" {
#include "../../../dataplane/sample.h"
}

#include "unit/dataplane/otlp_http_harness.h"

// The generated service structs have a member named `export`, a C++ keyword.
#define export export_
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#undef export

// dataplane/otlp_http.h pulls in C11 atomics (the rings), which C++ cannot include: the one
// function under test is declared here, as it is there.
extern "C" size_t lr_dp_rpc_status_encode(uint8_t *out, size_t cap, int code, const char *message,
                                          uint32_t retry_delay_s);

static std::string enc(int code, const char *msg, uint32_t delay, size_t cap = 1024)
{
    uint8_t out[1024];
    size_t n = lr_dp_rpc_status_encode(out, cap, code, msg, delay);
    return std::string(reinterpret_cast<char *>(out), n);
}

TEST(RpcStatus, CodeAndMessage)
{
    EXPECT_EQ(enc(3, "bad", 0), std::string("\x08\x03\x12\x03"
                                            "bad",
                                            7));
    // Code 0 is the default: not written.
    EXPECT_EQ(enc(0, "", 0), std::string("\x12\x00", 2));
}

TEST(RpcStatus, RetryInfoDetail)
{
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    // Any{1: type_url, 2: RetryInfo{1: Duration{1: seconds = 1}}}
    std::string any = std::string("\x0a") + static_cast<char>(sizeof(url) - 1) + url +
                      std::string("\x12\x04\x0a\x02\x08\x01", 6);
    std::string want =
        std::string("\x08\x0e\x12\x04", 4) + "full" + "\x1a" + static_cast<char>(any.size()) + any;
    EXPECT_EQ(enc(14, "full", 1), want);
}

TEST(RpcStatus, MessageIsCutAtAUtf8Boundary)
{
    std::string m(200, 'a');
    m += "\xe2\x9c\x93"; // U+2713, 3 bytes
    for (size_t cap = 32; cap < 260; cap++) {
        std::string s = enc(3, m.c_str(), 0, cap);
        ASSERT_LE(s.size(), cap);
        ASSERT_GE(s.size(), 4u);
        size_t len = static_cast<uint8_t>(s[3]);
        if (len & 0x80)
            len = (len & 0x7f) | (static_cast<size_t>(static_cast<uint8_t>(s[4])) << 7);
        std::string body = s.substr(s.size() - len);
        // Never a partial UTF-8 sequence at the end.
        if (!body.empty() && (static_cast<uint8_t>(body.back()) & 0x80)) {
            EXPECT_EQ(body.substr(body.size() - 3), "\xe2\x9c\x93") << cap;
        }
    }
}

// ---- head sampling in the export path ----------------------------------------------------------

namespace
{

using Bytes = std::vector<uint8_t>;

Bytes varint(uint64_t n)
{
    Bytes o;
    while (n >= 0x80) {
        o.push_back(static_cast<uint8_t>(n | 0x80));
        n >>= 7;
    }
    o.push_back(static_cast<uint8_t>(n));
    return o;
}

void append(Bytes &o, const Bytes &b)
{
    o.insert(o.end(), b.begin(), b.end());
}

Bytes wrap_len(uint8_t tag, const Bytes &inner)
{
    Bytes o = { tag };
    append(o, varint(inner.size()));
    append(o, inner);
    return o;
}

Bytes str(const std::string &s)
{
    return Bytes(s.begin(), s.end());
}

Bytes fixed64(uint8_t tag, uint64_t v)
{
    Bytes o = { tag };
    for (int i = 0; i < 8; i++)
        o.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return o;
}

// Trace id number k: 16 well-mixed bytes (splitmix64), so hash decisions vary.
Bytes tid(uint32_t k)
{
    Bytes t;
    uint64_t z = 0x9e3779b97f4a7c15ull * (k + 1);
    for (int h = 0; h < 2; h++) {
        z += 0x9e3779b97f4a7c15ull;
        uint64_t x = z;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        x ^= x >> 31;
        for (int i = 0; i < 8; i++)
            t.push_back(static_cast<uint8_t>(x >> (8 * i)));
    }
    return t;
}

Bytes sid(uint32_t k)
{
    Bytes s(8, 0x5a);
    for (int i = 0; i < 4; i++)
        s[4 + i] = static_cast<uint8_t>(k >> (8 * i));
    return s;
}

// Span: trace_id 1, span_id 2, name 5, start 7 and end 8 (fixed64), status 15 {code 3}.
Bytes span(uint32_t trace, uint32_t span_k, uint32_t status = 0, uint64_t dur_ms = 1)
{
    Bytes f = wrap_len(0x0a, tid(trace));
    append(f, wrap_len(0x12, sid(span_k)));
    append(f, wrap_len(0x2a, str("op-" + std::to_string(span_k))));
    uint64_t start = 1700000000000000000ull + span_k;
    append(f, fixed64(0x39, start));
    append(f, fixed64(0x41, start + dur_ms * 1000000ull));
    if (status)
        append(f, wrap_len(0x7a, { 0x18, static_cast<uint8_t>(status) }));
    return wrap_len(0x12, f);
}

enum class Tid { none, zero, real };

// LogRecord: time 1 (fixed64), body 5 (AnyValue string "log-k"), trace_id 9, span_id 10.
Bytes log_record(uint32_t k, Tid t)
{
    Bytes f = fixed64(0x09, 1700000000000000000ull + k);
    append(f, wrap_len(0x2a, wrap_len(0x0a, str("log-" + std::to_string(k)))));
    if (t == Tid::zero)
        append(f, wrap_len(0x4a, Bytes(16, 0)));
    if (t == Tid::real) {
        append(f, wrap_len(0x4a, tid(k)));
        append(f, wrap_len(0x52, sid(k)));
    }
    return wrap_len(0x12, f);
}

// Resource{Spans,Logs}: resource 1 (service.name when not empty), scope_{spans,logs} 2
// {scope 1, items 2}: the same tags for both signals.
Bytes resource_entry(const std::string &service, const Bytes &items)
{
    Bytes res;
    if (!service.empty()) {
        Bytes kv = wrap_len(0x0a, str("service.name"));
        append(kv, wrap_len(0x12, wrap_len(0x0a, str(service))));
        res = wrap_len(0x0a, wrap_len(0x0a, kv));
    }
    Bytes scope = wrap_len(0x0a, wrap_len(0x0a, str("lib")));
    append(scope, items);
    append(res, wrap_len(0x12, scope));
    return wrap_len(0x0a, res);
}

// A configuration as lr_cp_config_defaults leaves the fields the export path reads.
struct Cfg {
    lr_config c;
    std::vector<std::string> names;
    std::vector<double> pcts;
    std::vector<lr_cfg_svc_pct> svcs;
    Cfg()
    {
        memset(&c, 0, sizeof(c));
        c.http.overload_status = 503;
        c.kafka.max_message_bytes = 1000000;
        c.sampler.percentage = 100;
        c.sampler.precision = 4;
        c.sampler.fail_closed = true;
        c.sampler.logs_percentage = 100;
        c.adaptive.latency_threshold_ms = 1000;
        c.adaptive.floor_percentage = 1;
    }
    Cfg(const Cfg &) = delete;
    void service(const std::string &name, double pct)
    {
        names.push_back(name);
        pcts.push_back(pct);
        svcs.clear();
        for (size_t i = 0; i < names.size(); i++)
            svcs.push_back({ const_cast<char *>(names[i].c_str()), pcts[i] });
        c.sampler.services = svcs.data();
        c.sampler.n_services = svcs.size();
    }
};

struct Harness {
    lr_t_otlp *h;
    Harness(const lr_config *c, bool rt, uint32_t worker = 3) : h(lr_t_otlp_new(c, worker, rt)) {}
    ~Harness() { lr_t_otlp_free(h); }
    std::vector<Bytes> post(lr_signal sig, const Bytes &body)
    {
        EXPECT_EQ(lr_t_otlp_post(h, sig, body.data(), body.size()), 200);
        std::vector<Bytes> recs;
        lr_t_otlp_drain(
            h,
            [](void *ctx, const uint8_t *v, size_t len, uint64_t, const char *, size_t) {
                static_cast<std::vector<Bytes> *>(ctx)->emplace_back(v, v + len);
            },
            &recs);
        return recs;
    }
    lr_t_otlp_stats stats()
    {
        lr_t_otlp_stats s;
        lr_t_otlp_get_stats(h, &s);
        return s;
    }
};

std::string hex(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

std::string service_of(const Opentelemetry__Proto__Resource__V1__Resource *r)
{
    for (size_t i = 0; r && i < r->n_attributes; i++)
        if (strcmp(r->attributes[i]->key, "service.name") == 0 && r->attributes[i]->value &&
            r->attributes[i]->value->value_case ==
                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return r->attributes[i]->value->string_value;
    return "";
}

// The spans in the records, as "service/span-id-hex" (duplicates would fail the set size check).
std::multiset<std::string> spans_in(const std::vector<Bytes> &recs)
{
    std::multiset<std::string> out;
    for (const Bytes &b : recs) {
        auto *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            nullptr, b.size(), b.data());
        EXPECT_NE(q, nullptr);
        if (!q)
            continue;
        for (size_t r = 0; r < q->n_resource_spans; r++) {
            std::string svc = service_of(q->resource_spans[r]->resource);
            for (size_t s = 0; s < q->resource_spans[r]->n_scope_spans; s++) {
                auto *ss = q->resource_spans[r]->scope_spans[s];
                for (size_t k = 0; k < ss->n_spans; k++)
                    out.insert(svc + "/" +
                               hex(ss->spans[k]->span_id.data, ss->spans[k]->span_id.len));
            }
        }
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
            q, nullptr);
    }
    return out;
}

// The log records in the records, as "service/body" -> the record re-packed.
std::multimap<std::string, Bytes> logs_in(const std::vector<Bytes> &recs)
{
    std::multimap<std::string, Bytes> out;
    for (const Bytes &b : recs) {
        auto *q = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
            nullptr, b.size(), b.data());
        EXPECT_NE(q, nullptr);
        if (!q)
            continue;
        for (size_t r = 0; r < q->n_resource_logs; r++) {
            std::string svc = service_of(q->resource_logs[r]->resource);
            for (size_t s = 0; s < q->resource_logs[r]->n_scope_logs; s++) {
                auto *sl = q->resource_logs[r]->scope_logs[s];
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    const auto *l = sl->log_records[k];
                    Bytes packed(protobuf_c_message_get_packed_size(&l->base));
                    protobuf_c_message_pack(&l->base, packed.data());
                    out.emplace(svc + "/" + (l->body ? l->body->string_value : ""), packed);
                }
            }
        }
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
            q, nullptr);
    }
    return out;
}

std::string span_key(const std::string &svc, uint32_t span_k)
{
    Bytes s = sid(span_k);
    return svc + "/" + hex(s.data(), s.size());
}

bool hash_keep(uint32_t trace, uint32_t seed, double pct)
{
    Bytes t = tid(trace);
    return lr_dp_sample_hash_seed(t.data(), seed, lr_dp_sample_hash_seed_rate(pct));
}

// `n` spans of `n` traces (span k of trace k) from `first`, under `svc`.
Bytes spans_of(uint32_t first, uint32_t n)
{
    Bytes o;
    for (uint32_t k = first; k < first + n; k++)
        append(o, span(k, k));
    return o;
}

// What a hash_seed sampler at `pct` keeps of spans_of(first, n) under `svc`.
std::multiset<std::string> expect_spans(const std::string &svc, uint32_t first, uint32_t n,
                                        uint32_t seed, double pct)
{
    std::multiset<std::string> o;
    for (uint32_t k = first; k < first + n; k++)
        if (hash_keep(k, seed, pct))
            o.insert(span_key(svc, k));
    return o;
}

void merge(std::multiset<std::string> &a, const std::multiset<std::string> &b)
{
    a.insert(b.begin(), b.end());
}

TEST(OtlpHeadSampling, PerServiceOverrideTraces)
{
    Cfg cfg;
    cfg.c.sampler.enabled = true;
    cfg.c.sampler.percentage = 30;
    cfg.c.sampler.hash_seed = 7;
    cfg.service("checkout", 100);
    cfg.service("noisy", 0);
    cfg.service("half", 50);
    Harness h(&cfg.c, false);
    ASSERT_NE(h.h, nullptr);
    Bytes body = resource_entry("checkout", spans_of(0, 40));
    append(body, resource_entry("noisy", spans_of(100, 40)));
    append(body, resource_entry("other", spans_of(200, 200)));
    append(body, resource_entry("", spans_of(500, 100))); // no service.name: the default
    append(body, resource_entry("half", spans_of(700, 200)));
    std::multiset<std::string> want = expect_spans("checkout", 0, 40, 7, 100);
    merge(want, expect_spans("other", 200, 200, 7, 30));
    merge(want, expect_spans("", 500, 100, 7, 30));
    merge(want, expect_spans("half", 700, 200, 7, 50));
    EXPECT_EQ(want.size() - 40, expect_spans("other", 200, 200, 7, 30).size() +
                                    expect_spans("", 500, 100, 7, 30).size() +
                                    expect_spans("half", 700, 200, 7, 50).size());
    std::vector<Bytes> recs = h.post(LR_SIG_TRACES, body);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(spans_in(recs), want);
    lr_t_otlp_stats st = h.stats();
    EXPECT_EQ(st.spans_sampled[1], want.size());
    EXPECT_EQ(st.spans_sampled[0], 580 - want.size());
    EXPECT_EQ(st.accepted_spans, 580u);
    // The rates are what they say, roughly (the exact sets are checked above).
    size_t other = expect_spans("other", 200, 200, 7, 30).size();
    EXPECT_GT(other, 30u);
    EXPECT_LT(other, 90u);
}

// Logs: decided by trace id alone, with the logs percentage or the service's override; records
// without a trace id (absent or all zero) are kept; kept records are unchanged, byte for byte.
TEST(OtlpHeadSampling, LogsByTraceId)
{
    Cfg cfg;
    cfg.c.sampler.logs = true;
    cfg.c.sampler.logs_percentage = 25;
    cfg.c.sampler.hash_seed = 42;
    cfg.service("audit", 100);
    Harness h(&cfg.c, false);
    ASSERT_NE(h.h, nullptr);
    Bytes app, audit;
    std::map<std::string, Bytes> sent; // "service/log-k" -> the record as sent (re-packed below)
    std::set<std::string> want;
    for (uint32_t k = 0; k < 600; k++) {
        Tid t = k % 3 == 0 ? Tid::none : (k % 50 == 1 ? Tid::zero : Tid::real);
        append(app, log_record(k, t));
        if (t != Tid::real || hash_keep(k, 42, 25))
            want.insert("app/log-" + std::to_string(k));
    }
    for (uint32_t k = 1000; k < 1060; k++) {
        append(audit, log_record(k, Tid::real));
        want.insert("audit/log-" + std::to_string(k));
    }
    Bytes body = resource_entry("app", app);
    append(body, resource_entry("audit", audit));
    std::multimap<std::string, Bytes> in = logs_in({ body });
    ASSERT_EQ(in.size(), 660u);

    std::vector<Bytes> recs = h.post(LR_SIG_LOGS, body);
    ASSERT_EQ(recs.size(), 1u);
    std::multimap<std::string, Bytes> got = logs_in(recs);
    std::set<std::string> got_keys;
    for (const auto &kv : got) {
        EXPECT_TRUE(got_keys.insert(kv.first).second) << kv.first << " twice";
        auto it = in.find(kv.first);
        ASSERT_NE(it, in.end());
        EXPECT_EQ(kv.second, it->second) << kv.first << " changed";
    }
    EXPECT_EQ(got_keys, want);
    size_t with_id = 0, kept_with_id = 0;
    for (uint32_t k = 0; k < 600; k++)
        if (k % 3 != 0 && k % 50 != 1) {
            with_id++;
            kept_with_id += hash_keep(k, 42, 25);
        }
    EXPECT_GT(kept_with_id, with_id / 8);
    EXPECT_LT(kept_with_id, with_id / 2);
    lr_t_otlp_stats st = h.stats();
    EXPECT_EQ(st.logs_sampled[1], want.size());
    EXPECT_EQ(st.logs_sampled[0], 660 - want.size());
    EXPECT_EQ(st.accepted_logs, 660u);

    // Traces are not sampled (processors.probabilistic_sampler.enabled is off): as sent.
    Bytes traces = resource_entry("app", spans_of(0, 50));
    std::vector<Bytes> t = h.post(LR_SIG_TRACES, traces);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0], traces);
    EXPECT_EQ(h.stats().spans_sampled[0] + h.stats().spans_sampled[1], 0u);

    // Every record kept: the request goes on unchanged.
    Bytes all_kept = resource_entry("audit", audit);
    append(all_kept, resource_entry("app", log_record(3, Tid::none)));
    std::vector<Bytes> a = h.post(LR_SIG_LOGS, all_kept);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0], all_kept);
    // Nothing kept: no record, still a success.
    Bytes none;
    for (uint32_t k = 0; k < 600 && none.size() < 2000; k++)
        if (!hash_keep(k, 42, 25))
            append(none, log_record(k, Tid::real));
    EXPECT_EQ(h.post(LR_SIG_LOGS, resource_entry("app", none)).size(), 0u);
}

// Proportional mode: a record is kept when the randomness of its trace id (its low 56 bits)
// reaches the threshold of the percentage.
TEST(OtlpHeadSampling, LogsProportional)
{
    Cfg cfg;
    cfg.c.sampler.logs = true;
    cfg.c.sampler.logs_percentage = 25;
    cfg.c.sampler.mode = LR_DP_SAMPLE_PROPORTIONAL;
    Harness h(&cfg.c, false);
    ASSERT_NE(h.h, nullptr);
    Bytes recs;
    std::set<std::string> want;
    uint64_t th = lr_dp_sample_threshold(0.25, 4);
    for (uint32_t k = 0; k < 400; k++) {
        append(recs, log_record(k, Tid::real));
        Bytes t = tid(k);
        if (lr_dp_sample_trace_randomness(t.data()) >= th)
            want.insert("svc/log-" + std::to_string(k));
    }
    std::multimap<std::string, Bytes> got =
        logs_in(h.post(LR_SIG_LOGS, resource_entry("svc", recs)));
    std::set<std::string> keys;
    for (const auto &kv : got)
        keys.insert(kv.first);
    EXPECT_EQ(keys, want);
    EXPECT_GT(want.size(), 50u);
    EXPECT_LT(want.size(), 150u);
}

// The run-time set is read between requests: a new generation applies from the next request on
// and is acknowledged in seen[worker]; without a published set the configuration applies.
TEST(OtlpHeadSampling, SetSwitchBetweenRequests)
{
    Cfg cfg;
    cfg.c.sampler.hash_seed = 9;
    Harness h(&cfg.c, true, 5);
    ASSERT_NE(h.h, nullptr);
    Bytes traces = resource_entry("svc", spans_of(0, 300));
    Bytes logs;
    for (uint32_t k = 0; k < 300; k++)
        append(logs, log_record(k, Tid::real));
    logs = resource_entry("svc", logs);

    // Nothing published: the configuration (head sampling off).
    std::vector<Bytes> r = h.post(LR_SIG_TRACES, traces);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0], traces);
    EXPECT_EQ(lr_t_otlp_seen(h.h), 0u);

    lr_t_otlp_publish(h.h, 1, true, 100, false, 100);
    r = h.post(LR_SIG_TRACES, traces);
    EXPECT_EQ(lr_t_otlp_seen(h.h), 1u);
    EXPECT_EQ(spans_in(r), expect_spans("svc", 0, 300, 9, 100));
    EXPECT_EQ(spans_in(r).size(), 300u);
    r = h.post(LR_SIG_LOGS, logs);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0], logs); // logs sampling off in this set

    lr_t_otlp_publish(h.h, 2, true, 10, true, 50);
    r = h.post(LR_SIG_TRACES, traces);
    EXPECT_EQ(lr_t_otlp_seen(h.h), 2u);
    EXPECT_EQ(spans_in(r), expect_spans("svc", 0, 300, 9, 10));
    std::set<std::string> want_logs;
    for (uint32_t k = 0; k < 300; k++)
        if (hash_keep(k, 9, 50))
            want_logs.insert("svc/log-" + std::to_string(k));
    std::set<std::string> got_logs;
    for (const auto &kv : logs_in(h.post(LR_SIG_LOGS, logs)))
        got_logs.insert(kv.first);
    EXPECT_EQ(got_logs, want_logs);

    lr_t_otlp_publish(h.h, 3, false, 100, false, 100);
    r = h.post(LR_SIG_TRACES, traces);
    EXPECT_EQ(lr_t_otlp_seen(h.h), 3u);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0], traces);
    r = h.post(LR_SIG_LOGS, logs);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0], logs);
    lr_t_otlp_stats st = h.stats();
    EXPECT_EQ(st.spans_sampled[0] + st.spans_sampled[1], 600u); // generations 1 and 2
    EXPECT_EQ(st.logs_sampled[0] + st.logs_sampled[1], 300u);   // generation 2
}

// The adaptive factor multiplies every head-sampling percentage, overrides included, and is
// read per request.
TEST(OtlpHeadSampling, ScaleFactor)
{
    Cfg cfg;
    cfg.c.sampler.hash_seed = 3;
    cfg.service("checkout", 100);
    Harness h(&cfg.c, true);
    ASSERT_NE(h.h, nullptr);
    lr_t_otlp_publish(h.h, 1, true, 80, true, 60);
    Bytes traces = resource_entry("svc", spans_of(0, 400));
    append(traces, resource_entry("checkout", spans_of(1000, 200)));
    Bytes logs;
    for (uint32_t k = 0; k < 400; k++)
        append(logs, log_record(k, Tid::real));
    logs = resource_entry("svc", logs);
    auto want_logs = [](double pct) {
        std::set<std::string> w;
        for (uint32_t k = 0; k < 400; k++)
            if (hash_keep(k, 3, pct))
                w.insert("svc/log-" + std::to_string(k));
        return w;
    };
    auto got_logs = [&]() {
        std::set<std::string> g;
        for (const auto &kv : logs_in(h.post(LR_SIG_LOGS, logs)))
            g.insert(kv.first);
        return g;
    };

    for (double scale : { 0.5, 1.0, 0.125, 0.5 }) {
        SCOPED_TRACE(scale);
        lr_t_otlp_set_scale(h.h, scale);
        std::multiset<std::string> want = expect_spans("svc", 0, 400, 3, 80 * scale);
        merge(want, expect_spans("checkout", 1000, 200, 3, 100 * scale));
        EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, traces)), want);
        EXPECT_EQ(got_logs(), want_logs(60 * scale));
    }
    // Out of (0, 1] (not set yet, NaN): unscaled.
    lr_t_otlp_set_scale(h.h, 0);
    std::multiset<std::string> want = expect_spans("svc", 0, 400, 3, 80);
    merge(want, expect_spans("checkout", 1000, 200, 3, 100));
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, traces)), want);
}

// While the rate is lowered, errors and slow spans, with every span of their trace in the same
// request, are kept whatever the sampler says; their bytes (tracestate included) are unchanged.
TEST(OtlpHeadSampling, AlwaysKeepWhileLowered)
{
    Cfg cfg;
    cfg.c.sampler.hash_seed = 5;
    cfg.c.kafka.partition_traces_by_id = true;
    Harness h(&cfg.c, true);
    ASSERT_NE(h.h, nullptr);
    lr_t_otlp_publish(h.h, 1, true, 0, false, 100); // the sampler keeps nothing
    lr_t_otlp_set_lowered(h.h, true);
    // Trace 1: an error among three spans; 2: one span of 2 s; 3: short, fine; 4: 999 ms;
    // 5: exactly 1000 ms. Spans of a trace are interleaved with the others'.
    Bytes items;
    append(items, span(1, 10));
    append(items, span(2, 20));
    append(items, span(3, 30));
    append(items, span(1, 11, 2));
    append(items, span(4, 40, 0, 999));
    append(items, span(2, 21, 0, 2000));
    append(items, span(5, 50));
    append(items, span(3, 31, 1)); // status OK: not an error
    append(items, span(1, 12));
    append(items, span(5, 51, 0, 1000));
    append(items, span(3, 32));
    Bytes body = resource_entry("svc", items);
    std::vector<Bytes> recs = h.post(LR_SIG_TRACES, body);
    EXPECT_EQ(recs.size(), 3u); // traces 1, 2 and 5, one record each
    std::multiset<std::string> want;
    for (uint32_t k : { 10, 11, 12, 20, 21, 50, 51 })
        want.insert(span_key("svc", k));
    EXPECT_EQ(spans_in(recs), want);
    // Unchanged bytes: each kept span's field is in a record as it was sent.
    for (uint32_t k : { 10u, 11u, 21u, 51u }) {
        Bytes sp = k == 11   ? span(1, 11, 2)
                   : k == 21 ? span(2, 21, 0, 2000)
                   : k == 51 ? span(5, 51, 0, 1000)
                             : span(1, 10);
        bool found = false;
        for (const Bytes &r : recs)
            found = found || std::search(r.begin(), r.end(), sp.begin(), sp.end()) != r.end();
        EXPECT_TRUE(found) << k;
    }
    lr_t_otlp_stats st = h.stats();
    EXPECT_EQ(st.force_kept, 7u);
    EXPECT_EQ(st.spans_sampled[0], 11u); // the sampler's own decisions
    EXPECT_EQ(st.spans_sampled[1], 0u);

    // Not lowered: the rule is off.
    lr_t_otlp_set_lowered(h.h, false);
    EXPECT_EQ(h.post(LR_SIG_TRACES, body).size(), 0u);
    EXPECT_EQ(h.stats().force_kept, 7u);

    // With a sampler that keeps some: the rule adds the others' traces, and counts only the
    // spans the sampler dropped.
    lr_t_otlp_publish(h.h, 2, true, 40, false, 100);
    lr_t_otlp_set_lowered(h.h, true);
    Bytes many;
    std::set<uint32_t> forced_traces;
    for (uint32_t t = 100; t < 400; t++)
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t status = (t % 7 == 0 && k == 1) ? 2 : 0;
            uint64_t dur = (t % 11 == 0 && k == 2) ? 5000 : 3;
            if (status || dur >= 1000)
                forced_traces.insert(t);
            append(many, span(t, t * 4 + k, status, dur));
        }
    want.clear();
    uint64_t forced = 0;
    for (uint32_t t = 100; t < 400; t++) {
        bool sampled = hash_keep(t, 5, 40), f = forced_traces.count(t) != 0;
        for (uint32_t k = 0; k < 3; k++)
            if (sampled || f)
                want.insert(span_key("svc", t * 4 + k));
        forced += (!sampled && f) ? 3 : 0;
    }
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, resource_entry("svc", many))), want);
    EXPECT_EQ(h.stats().force_kept, 7 + forced);
    EXPECT_GT(forced, 0u);
}

// latency_threshold_ms 0: errors only.
TEST(OtlpHeadSampling, AlwaysKeepErrorsOnlyWithZeroLatency)
{
    Cfg cfg;
    cfg.c.adaptive.latency_threshold_ms = 0;
    Harness h(&cfg.c, true);
    ASSERT_NE(h.h, nullptr);
    lr_t_otlp_publish(h.h, 1, true, 0, false, 100);
    lr_t_otlp_set_lowered(h.h, true);
    Bytes items = span(1, 10, 2);
    append(items, span(2, 20, 0, 3600000));
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, resource_entry("svc", items))),
              std::multiset<std::string>{ span_key("svc", 10) });
}

// Anomaly scoring on (one window a minute, so none ends during a test), trace records keyed by
// trace id, open series' traces kept at keep_percent.
Cfg &anomaly_cfg(Cfg &cfg, double keep_percent)
{
    cfg.c.sampler.hash_seed = 5;
    cfg.c.kafka.partition_traces_by_id = true;
    cfg.c.anomaly.enabled = true;
    cfg.c.anomaly.window_ms = 60000;
    cfg.c.anomaly.max_series = 64;
    cfg.c.anomaly.keep_percent = keep_percent;
    return cfg;
}

// A context whose head sampler keeps nothing, with the series ("svc", op, kind 0) open.
struct OpenSeries {
    Cfg cfg;
    Harness h;
    int rc = -1;
    OpenSeries(double keep_percent, const char *op) : h(&anomaly_cfg(cfg, keep_percent).c, true)
    {
        if (!h.h)
            return;
        lr_t_otlp_publish(h.h, 1, true, 0, false, 100);
        const char *svc[] = { "svc" }, *name[] = { op };
        uint32_t kind[] = { 0 };
        rc = lr_t_otlp_anomaly(h.h, svc, name, kind, 1);
    }
};

// The anomaly boost: while a series is open, head sampling keeps its traces at
// anomaly.keep_percent (decided on the trace id's randomness), with every span of the trace in
// the same request; features count every span that arrived, kept or not.
TEST(OtlpAnomalyBoost, OpenSeriesTracesKept)
{
    OpenSeries o(100, "op-11");
    ASSERT_EQ(o.rc, 0);
    Harness &h = o.h;
    // Trace 1 holds the open series' span (11); traces 2 and 3 do not; "op-11" under another
    // service is another series.
    Bytes items;
    append(items, span(1, 10));
    append(items, span(2, 20));
    append(items, span(1, 11, 2));
    append(items, span(3, 30));
    append(items, span(1, 12));
    append(items, span(2, 21));
    Bytes body = resource_entry("svc", items);
    append(body, resource_entry("other", span(4, 11)));
    std::multiset<std::string> want = { span_key("svc", 10), span_key("svc", 11),
                                        span_key("svc", 12) };
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, body)), want);
    lr_t_otlp_stats st = h.stats();
    EXPECT_EQ(st.anom_kept, 3u);
    EXPECT_EQ(st.force_kept, 0u);
    EXPECT_EQ(st.spans_sampled[0], 7u);
    EXPECT_EQ(st.anom_spans, 7u); // every span, the dropped ones too
    uint32_t count = 0, errors = 0;
    ASSERT_EQ(lr_t_otlp_feat(h.h, "svc", "op-11", 0, &count, &errors), 0);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(errors, 1u);
    ASSERT_EQ(lr_t_otlp_feat(h.h, "other", "op-11", 0, &count, &errors), 0);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(errors, 0u);
    EXPECT_EQ(lr_t_otlp_feat(h.h, "svc", "op-11", 2, &count, &errors), -1);
}

// A boosted trace is remembered: its spans in later requests, under any service and series, are
// kept too (a caller's span usually arrives after its callee's), and other traces are not.
TEST(OtlpAnomalyBoost, TraceRecalledInLaterRequests)
{
    OpenSeries o(100, "op-11");
    ASSERT_EQ(o.rc, 0);
    Harness &h = o.h;
    // Before any boost, the caller's spans of trace 1 are the sampler's (dropped).
    EXPECT_TRUE(spans_in(h.post(LR_SIG_TRACES, resource_entry("front", span(1, 50)))).empty());
    Bytes items;
    append(items, span(1, 11));
    append(items, span(2, 20));
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, resource_entry("svc", items))),
              std::multiset<std::string>{ span_key("svc", 11) });
    Bytes later;
    append(later, span(2, 61));
    append(later, span(1, 51));
    append(later, span(3, 70));
    EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, resource_entry("front", later))),
              std::multiset<std::string>{ span_key("front", 51) });
    EXPECT_EQ(h.stats().anom_kept, 2u);
}

// The table itself: a trace is held LR_ANOM_BOOST_HOLD_S seconds after its last boosted span
// (a second of clock skew between workers tolerated), and a trace taking its slot replaces it.
TEST(OtlpAnomalyBoost, TableHoldAndReplace)
{
    OpenSeries o(100, "op");
    ASSERT_EQ(o.rc, 0);
    Harness &h = o.h;
    const uint64_t hold = lr_t_otlp_boost_hold_s();
    const uint64_t a = 0x1234567890ab0007ull, b = 0x7777777777770007ull; // same slot
    EXPECT_FALSE(lr_t_otlp_boost_has(h.h, a, 1000));
    lr_t_otlp_boost_put(h.h, a, 1000);
    EXPECT_TRUE(lr_t_otlp_boost_has(h.h, a, 999));
    EXPECT_TRUE(lr_t_otlp_boost_has(h.h, a, 1000));
    EXPECT_TRUE(lr_t_otlp_boost_has(h.h, a, 1000 + hold));
    EXPECT_FALSE(lr_t_otlp_boost_has(h.h, a, 1001 + hold));
    EXPECT_FALSE(lr_t_otlp_boost_has(h.h, a + 0x10000, 1000)); // another trace, same slot
    lr_t_otlp_boost_put(h.h, a, 1030);                         // seen again: held from then on
    EXPECT_TRUE(lr_t_otlp_boost_has(h.h, a, 1030 + hold));
    lr_t_otlp_boost_put(h.h, b, 1031);
    EXPECT_FALSE(lr_t_otlp_boost_has(h.h, a, 1031));
    EXPECT_TRUE(lr_t_otlp_boost_has(h.h, b, 1031));
}

// keep_percent below 100: exactly the traces whose randomness (trace id bytes 9-15) is below that
// share of 2^56; 0 keeps none.
TEST(OtlpAnomalyBoost, KeepPercent)
{
    for (double pct : { 0.0, 30.0 }) {
        OpenSeries o(pct, "op-7");
        ASSERT_EQ(o.rc, 0);
        Harness &h = o.h;
        Bytes items;
        size_t want = 0;
        for (uint32_t t = 100; t < 400; t++) {
            append(items, span(t, 7));
            Bytes id = tid(t);
            want += (double)lr_dp_sample_trace_randomness(id.data()) < pct / 100.0 * 0x1p56;
        }
        EXPECT_EQ(spans_in(h.post(LR_SIG_TRACES, resource_entry("svc", items))).size(), want)
            << pct;
        EXPECT_EQ(h.stats().anom_kept, want);
        if (pct > 0) {
            EXPECT_GT(want, 60u);
            EXPECT_LT(want, 120u);
        }
    }
}

} // namespace
