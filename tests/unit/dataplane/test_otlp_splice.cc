// Tests for dataplane/otlp_split.c: lr_dp_otlp_splice_spans(), lr_dp_otlp_splice_items() and
// lr_dp_otlp_splice_bound(), and the trace_state range the walker (dataplane/otlp_walk.c) records
// for them.
//
// Table-driven over the JS exporter fixtures and hand-built requests (several resources and
// scopes, unknown fields at every level, spans with no, one or repeated trace_state fields,
// non-minimal encodings). For every mask and replacement set the output must
//  - decode with protobuf-c to the input's decoding with the dropped spans, scopes and resources
//    taken out and the trace_state values replaced (compared as protobuf-c re-packs them);
//  - re-walk, and hold the kept spans byte for byte: the whole field when unchanged, otherwise the
//    span's fields in their order with every trace_state occurrence gone and the new one in the
//    place of the last (or at the end);
//  - keep every other byte of every kept resource and scope and of the request in order;
//  - be the body itself when everything is kept and nothing replaced;
// and every capacity below the output length must give -ENOSPC without writing past it.
//
// Logs (lr_dp_otlp_splice_items() with a logs view) get the same checks without replacements,
// over the JS fixtures and hand-built requests, and over every truncated prefix of each that
// still walks (a prefix cut at a field boundary is a valid request).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

extern "C" {
#include "../../../dataplane/otlp_split.h"
#include "linerate/error.h"
#include "linerate/otlp.h"
}

#include "unit/fixtures.h"

// The generated service structs have a member named `export`, a C++ keyword.
#define export export_
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#undef export

namespace
{

using Bytes = std::vector<uint8_t>;

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

TraceReq *unpack(const Bytes &b)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        nullptr, b.size(), b.data());
}

void free_req(TraceReq *q)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
        q, nullptr);
}

Bytes pack(const ProtobufCMessage *m)
{
    Bytes b(protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack(m, b.data());
    return b;
}

// ---- wire building ---------------------------------------------------------------------------

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

Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes o;
    for (const Bytes &p : parts)
        o.insert(o.end(), p.begin(), p.end());
    return o;
}

Bytes wrap_len(uint8_t tag, const Bytes &inner)
{
    return cat({ { tag }, varint(inner.size()), inner });
}

Bytes str(const std::string &s)
{
    return Bytes(s.begin(), s.end());
}

// Span fields.
Bytes f_tid(uint8_t n)
{
    Bytes t(16, 0);
    t[0] = 0xab;
    t[15] = n;
    return wrap_len(0x0a, t);
}
Bytes f_sid(uint8_t n)
{
    Bytes s(8, 0x11);
    s[7] = n;
    return wrap_len(0x12, s);
}
Bytes f_ts(const std::string &s)
{
    return wrap_len(0x1a, str(s));
}
Bytes f_name(const std::string &s)
{
    return wrap_len(0x2a, str(s));
}
Bytes f_kind(uint8_t k)
{
    return { 0x30, k };
}
Bytes span(const Bytes &fields)
{
    return wrap_len(0x12, fields);
}
Bytes scope_spans(const Bytes &fields)
{
    return wrap_len(0x12, fields);
}
Bytes resource_spans(const Bytes &fields)
{
    return wrap_len(0x0a, fields);
}
Bytes scope(const std::string &name)
{
    return wrap_len(0x0a, wrap_len(0x0a, str(name)));
}
Bytes resource(const std::string &svc)
{
    Bytes kv =
        cat({ wrap_len(0x0a, str("service.name")), wrap_len(0x12, wrap_len(0x0a, str(svc))) });
    return wrap_len(0x0a, wrap_len(0x0a, kv));
}

// ---- walking --------------------------------------------------------------------------------

struct Walked {
    std::vector<lr_otlp_resource> r;
    std::vector<lr_otlp_scope> s;
    std::vector<lr_otlp_item> i;
    lr_otlp_view v;
    int rc;
    explicit Walked(const Bytes &b, lr_signal sig = LR_SIG_TRACES)
    {
        size_t cap = b.size() / 2 + 1;
        r.resize(cap), s.resize(cap), i.resize(cap);
        memset(&v, 0, sizeof(v));
        v.resources = r.data(), v.scopes = s.data(), v.items = i.data();
        v.resources_cap = v.scopes_cap = v.items_cap = static_cast<uint32_t>(cap);
        rc = lr_dp_otlp_walk(sig, b.data(), b.size(), &v);
    }
};

Bytes range(const Bytes &b, uint32_t off, uint32_t len)
{
    return Bytes(b.begin() + off, b.begin() + off + len);
}

// The payload of a parent without its children: the bytes the splice keeps in place.
Bytes gaps(const Bytes &b, const lr_otlp_field &parent, const std::vector<lr_otlp_field> &children)
{
    Bytes o;
    uint32_t at = parent.body_off;
    for (const lr_otlp_field &c : children) {
        o.insert(o.end(), b.begin() + at, b.begin() + c.off);
        at = c.off + c.len;
    }
    o.insert(o.end(), b.begin() + at, b.begin() + parent.body_off + parent.body_len);
    return o;
}

std::vector<lr_otlp_field> scope_children(const lr_otlp_view &v, uint32_t s)
{
    std::vector<lr_otlp_field> c;
    for (uint32_t i = 0; i < v.scopes[s].n_items; i++)
        c.push_back(v.items[v.scopes[s].first_item + i].f);
    return c;
}

std::vector<lr_otlp_field> resource_children(const lr_otlp_view &v, uint32_t r)
{
    std::vector<lr_otlp_field> c;
    for (uint32_t s = 0; s < v.resources[r].n_scopes; s++)
        c.push_back(v.scopes[v.resources[r].first_scope + s].f);
    return c;
}

Bytes top_gaps(const Bytes &b, const lr_otlp_view &v)
{
    lr_otlp_field whole = { 0, static_cast<uint32_t>(b.size()), 0,
                            static_cast<uint32_t>(b.size()) };
    std::vector<lr_otlp_field> c;
    for (uint32_t r = 0; r < v.n_resources; r++)
        c.push_back(v.resources[r].f);
    return gaps(b, whole, c);
}

// Reads one field of a well-formed message at b[*at] (independent of the splicer's reader).
uint64_t rd_varint(const Bytes &b, size_t *at)
{
    uint64_t x = 0;
    for (int sh = 0;; sh += 7) {
        uint8_t c = b.at((*at)++);
        x |= static_cast<uint64_t>(c & 0x7f) << sh;
        if (!(c & 0x80))
            return x;
    }
}

struct Field {
    uint64_t tag;
    Bytes raw;
};

std::vector<Field> fields_of(const Bytes &payload)
{
    std::vector<Field> out;
    size_t at = 0;
    while (at < payload.size()) {
        size_t start = at;
        uint64_t tag = rd_varint(payload, &at);
        switch (tag & 7) {
        case 0:
            rd_varint(payload, &at);
            break;
        case 1:
            at += 8;
            break;
        case 5:
            at += 4;
            break;
        case 2:
            at += rd_varint(payload, &at);
            break;
        default:
            ADD_FAILURE() << "wire type " << (tag & 7);
            return out;
        }
        out.push_back({ tag, Bytes(payload.begin() + start, payload.begin() + at) });
    }
    return out;
}

// What a kept span's payload must be: its fields in order, trace_state occurrences dropped, the
// replacement (if not empty) where the last one was, or appended.
Bytes expected_span_payload(const Bytes &payload, const std::string &ts)
{
    std::vector<Field> fs = fields_of(payload);
    size_t last = fs.size();
    for (size_t k = 0; k < fs.size(); k++)
        if (fs[k].tag == 0x1a)
            last = k;
    Bytes nf = ts.empty() ? Bytes() : f_ts(ts), o;
    for (size_t k = 0; k < fs.size(); k++) {
        if (k == last)
            o.insert(o.end(), nf.begin(), nf.end());
        if (fs[k].tag != 0x1a)
            o.insert(o.end(), fs[k].raw.begin(), fs[k].raw.end());
    }
    if (last == fs.size())
        o.insert(o.end(), nf.begin(), nf.end());
    return o;
}

// ---- the oracle -----------------------------------------------------------------------------

// Replacements for one call: `has` false is a NULL array; otherwise per span: set (p != NULL) and
// the string.
struct Repl {
    bool has = false;
    std::vector<bool> set;
    std::vector<std::string> val;
};

// protobuf-c's view of the expected output: shallow copies of the decoded input's messages with
// the dropped children left out and trace_state replaced.
Bytes expected_packed(const TraceReq *in, const std::vector<uint8_t> &keep, const Repl &rp)
{
    std::vector<ResourceSpans> rs;
    std::vector<ScopeSpans> ss;
    std::vector<Span> sp;
    std::vector<std::vector<ResourceSpans *>> rarr(1);
    std::vector<std::vector<ScopeSpans *>> sarr;
    std::vector<std::vector<Span *>> parr;
    // Reserve so that the pointers into the vectors stay put.
    size_t nr = in->n_resource_spans, ns = 0, ni = 0;
    for (size_t r = 0; r < nr; r++) {
        ns += in->resource_spans[r]->n_scope_spans;
        for (size_t s = 0; s < in->resource_spans[r]->n_scope_spans; s++)
            ni += in->resource_spans[r]->scope_spans[s]->n_spans;
    }
    rs.reserve(nr), ss.reserve(ns), sp.reserve(ni), sarr.reserve(nr), parr.reserve(ns);
    std::vector<std::string> strs(rp.val);

    size_t item = 0;
    for (size_t r = 0; r < nr; r++) {
        const ResourceSpans *ir = in->resource_spans[r];
        sarr.emplace_back();
        for (size_t s = 0; s < ir->n_scope_spans; s++) {
            const ScopeSpans *is = ir->scope_spans[s];
            parr.emplace_back();
            for (size_t k = 0; k < is->n_spans; k++, item++) {
                if (!keep[item])
                    continue;
                sp.push_back(*is->spans[k]);
                if (rp.has && rp.set[item])
                    sp.back().trace_state = const_cast<char *>(strs[item].c_str());
                parr.back().push_back(&sp.back());
            }
            if (parr.back().empty())
                continue;
            ss.push_back(*is);
            ss.back().n_spans = parr.back().size();
            ss.back().spans = parr.back().data();
            sarr.back().push_back(&ss.back());
        }
        if (sarr.back().empty())
            continue;
        rs.push_back(*ir);
        rs.back().n_scope_spans = sarr.back().size();
        rs.back().scope_spans = sarr.back().data();
        rarr[0].push_back(&rs.back());
    }
    TraceReq q = *in;
    q.n_resource_spans = rarr[0].size();
    q.resource_spans = rarr[0].data();
    return pack(&q.base);
}

std::vector<lr_slice> slices_of(const Repl &rp)
{
    std::vector<lr_slice> ts(rp.set.size());
    for (size_t i = 0; i < ts.size(); i++) {
        ts[i].p = rp.set[i] ? reinterpret_cast<const uint8_t *>(rp.val[i].data()) : nullptr;
        ts[i].len = rp.set[i] ? rp.val[i].size() : 0;
    }
    return ts;
}

// Splices `b` and checks the output against every property above. Returns the output.
Bytes splice_and_check(const Bytes &b, const std::vector<uint8_t> &keep, const Repl &rp,
                       bool every_cap = false)
{
    Walked w(b);
    EXPECT_EQ(w.rc, 0) << (w.v.err_reason ? w.v.err_reason : "");
    EXPECT_FALSE(w.v.truncated);
    const lr_otlp_view &v = w.v;
    EXPECT_EQ(keep.size(), v.n_items);
    std::vector<lr_slice> ts = slices_of(rp);
    const lr_slice *tsp = rp.has ? ts.data() : nullptr;

    size_t bound = lr_dp_otlp_splice_bound(b.size(), &v, tsp);
    Bytes out(bound + 16, 0xee);
    ssize_t n =
        lr_dp_otlp_splice_spans(b.data(), b.size(), &v, keep.data(), tsp, out.data(), bound);
    EXPECT_GE(n, 0);
    if (n < 0)
        return Bytes();
    EXPECT_LE(static_cast<size_t>(n), bound);
    for (size_t k = bound; k < out.size(); k++)
        EXPECT_EQ(out[k], 0xee) << "wrote past cap at " << k;
    out.resize(static_cast<size_t>(n));

    bool any_repl = false, all_kept = true;
    uint64_t n_kept = 0;
    for (uint32_t i = 0; i < v.n_items; i++) {
        all_kept = all_kept && keep[i];
        n_kept += keep[i] != 0;
        any_repl = any_repl || (keep[i] && rp.has && rp.set[i]);
    }
    if (!any_repl) {
        EXPECT_LE(out.size(), b.size()) << "no replacement: a sub-selection of the body";
    }
    if (all_kept && !any_repl) {
        EXPECT_EQ(out, b) << "keep-all identity";
        return out;
    }

    // Exactly `cap` bytes and no more; every smaller capacity is refused.
    if (every_cap) {
        for (size_t cap = 0; cap <= out.size(); cap++) {
            Bytes small(cap);
            ssize_t m = lr_dp_otlp_splice_spans(b.data(), b.size(), &v, keep.data(), tsp,
                                                small.data(), cap);
            if (cap < out.size()) {
                EXPECT_EQ(m, -ENOSPC) << "cap " << cap;
            } else {
                EXPECT_EQ(m, n);
                EXPECT_EQ(small, out);
            }
        }
    }

    // protobuf-c: the kept spans with their replacements, nothing else changed.
    TraceReq *in = unpack(b), *got = unpack(out);
    EXPECT_NE(in, nullptr);
    EXPECT_NE(got, nullptr);
    if (in && got) {
        EXPECT_EQ(pack(&got->base), expected_packed(in, keep, rp));
        for (size_t r = 0; r < got->n_resource_spans; r++) {
            EXPECT_GT(got->resource_spans[r]->n_scope_spans, 0u);
            for (size_t s = 0; s < got->resource_spans[r]->n_scope_spans; s++)
                EXPECT_GT(got->resource_spans[r]->scope_spans[s]->n_spans, 0u);
        }
    }
    if (in)
        free_req(in);
    if (got)
        free_req(got);

    // Raw bytes, from a re-walk of the output.
    Walked o(out);
    EXPECT_EQ(o.rc, 0) << (o.v.err_reason ? o.v.err_reason : "");
    if (o.rc != 0)
        return out;
    EXPECT_EQ(o.v.n_spans, n_kept);
    EXPECT_EQ(top_gaps(out, o.v), top_gaps(b, v));
    uint32_t ko = 0, so = 0, ro = 0;
    for (uint32_t r = 0; r < v.n_resources; r++) {
        bool r_any = false;
        for (uint32_t s = v.resources[r].first_scope;
             s < v.resources[r].first_scope + v.resources[r].n_scopes; s++) {
            bool s_any = false;
            for (uint32_t i = v.scopes[s].first_item;
                 i < v.scopes[s].first_item + v.scopes[s].n_items; i++) {
                if (!keep[i])
                    continue;
                s_any = true;
                if (ko >= o.v.n_items) {
                    ADD_FAILURE() << "too few spans in the output";
                    return out;
                }
                const lr_otlp_item &a = v.items[i], &z = o.v.items[ko++];
                EXPECT_EQ(z.scope, so);
                if (rp.has && rp.set[i]) {
                    EXPECT_EQ(
                        range(out, z.f.body_off, z.f.body_len),
                        expected_span_payload(range(b, a.f.body_off, a.f.body_len), rp.val[i]))
                        << "span " << i;
                    EXPECT_EQ(z.trace_state.len, rp.val[i].size());
                    EXPECT_EQ(z.n_trace_state, rp.val[i].empty() ? 0u : 1u);
                    // Minimal header.
                    EXPECT_EQ(z.f.body_off - z.f.off, 1 + varint(z.f.body_len).size());
                } else {
                    EXPECT_EQ(range(out, z.f.off, z.f.len), range(b, a.f.off, a.f.len))
                        << "span " << i;
                    EXPECT_EQ(z.n_trace_state, a.n_trace_state);
                }
            }
            if (!s_any)
                continue;
            r_any = true;
            if (so >= o.v.n_scopes) {
                ADD_FAILURE() << "too few scopes in the output";
                return out;
            }
            EXPECT_EQ(o.v.scopes[so].resource, ro);
            EXPECT_EQ(gaps(out, o.v.scopes[so].f, scope_children(o.v, so)),
                      gaps(b, v.scopes[s].f, scope_children(v, s)))
                << "scope " << s;
            so++;
        }
        if (!r_any)
            continue;
        if (ro >= o.v.n_resources) {
            ADD_FAILURE() << "too few resources in the output";
            return out;
        }
        EXPECT_EQ(gaps(out, o.v.resources[ro].f, resource_children(o.v, ro)),
                  gaps(b, v.resources[r].f, resource_children(v, r)))
            << "resource " << r;
        ro++;
    }
    EXPECT_EQ(ko, o.v.n_items);
    EXPECT_EQ(so, o.v.n_scopes);
    EXPECT_EQ(ro, o.v.n_resources);
    return out;
}

// ---- vectors --------------------------------------------------------------------------------

Bytes read_fixture(const std::string &name)
{
    std::string s = lr_fixture(name);
    EXPECT_FALSE(s.empty()) << name << " not found in " << lr_fixture_dir()
                            << " (set LR_FIXTURES to the otlp-js-0.223 fixture folder)";
    return Bytes(s.begin(), s.end());
}

Bytes gunzip(const Bytes &gz)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    Bytes out(1 << 16);
    EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = const_cast<uint8_t *>(gz.data());
    z.avail_in = static_cast<uInt>(gz.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

// The message of the first gRPC frame (flag 0, 4-byte big-endian length).
Bytes grpc_message(const Bytes &frames)
{
    if (frames.size() < 5)
        return Bytes();
    EXPECT_EQ(frames[0], 0);
    size_t n = (size_t(frames[1]) << 24) | (size_t(frames[2]) << 16) | (size_t(frames[3]) << 8) |
               frames[4];
    EXPECT_LE(5 + n, frames.size());
    return Bytes(frames.begin() + 5, frames.begin() + 5 + std::min(n, frames.size() - 5));
}

// Hand-built: three resources (one without spans), scopes with and without spans, unknown fields
// at every level and between children, spans with no, one, two and three trace_state fields
// (interleaved with others), a non-minimal span length prefix and a non-minimal trace_state tag.
Bytes hand_rich()
{
    Bytes unk_top1 = { 0x28, 0x01 }, unk_top2 = wrap_len(0x7a, str("top"));
    Bytes unk_r = { 0x20, 0x07 }, unk_s = { 0x30, 0x09 }, unk_sp = { 0xa8, 0x01, 0x05 };
    Bytes schema = wrap_len(0x1a, str("https://opentelemetry.io/schemas/1.21.0"));

    Bytes s0 = span(cat({ f_tid(1), f_sid(0), f_ts("a=1"), f_name("s0"), f_kind(2) }));
    Bytes s1 = span(cat({ f_tid(1), f_sid(1), f_name("s1") })); // no trace_state
    Bytes s2 = span(cat({ f_tid(2), f_ts("old=1"), f_sid(2), f_ts("mid=2"), f_name("s2"), unk_sp,
                          f_ts("last=3"), f_kind(1) })); // three, last wins
    Bytes s3 = span(cat({ f_ts("x"), f_tid(3), f_sid(3), f_ts("y") }));
    // Non-minimal length prefix on the span (copied as is when untouched).
    Bytes s4_fields = cat({ f_tid(4), f_sid(4), f_name("s4") });
    Bytes s4 = cat({ { 0x12, static_cast<uint8_t>(0x80 | s4_fields.size()), 0x00 }, s4_fields });
    // Non-minimal tag for trace_state (field 3 in two bytes) and an empty trace_state.
    Bytes s5 = span(cat({ f_tid(5), { 0x9a, 0x00, 0x02, 'p', 'q' }, f_sid(5) }));
    Bytes s6 = span(cat({ f_tid(6), f_sid(6), wrap_len(0x1a, {}) }));
    Bytes s7 = span(cat({ f_tid(7), f_sid(7), f_ts(std::string(130, 'z')), f_name("big") }));

    Bytes ssA = scope_spans(cat({ scope("lib-a"), s0, unk_s, s1, s2 }));
    Bytes ssB = scope_spans(cat({ scope("lib-b"), wrap_len(0x1a, str("scope-schema")) }));
    Bytes ssC = scope_spans(cat({ s3, unk_s, scope("lib-c"), s4 }));
    Bytes ssD = scope_spans(cat({ scope("lib-d"), s5, s6, s7, unk_s }));
    Bytes rs0 = resource_spans(cat({ schema, ssA, unk_r, resource("svc-0"), ssB, ssC }));
    Bytes rs1 = resource_spans(cat({ resource("svc-empty"), ssB }));
    Bytes rs2 = resource_spans(cat({ resource("svc-2"), ssD, unk_r }));
    return cat({ unk_top1, rs0, rs1, unk_top2, rs2, unk_top1 });
}

// Plain: one resource, one scope, spans without trace_state.
Bytes hand_plain(int n)
{
    Bytes spans;
    for (int k = 0; k < n; k++) {
        Bytes s = span(cat({ f_tid(static_cast<uint8_t>(k)), f_sid(static_cast<uint8_t>(k)),
                             f_name("p" + std::to_string(k)) }));
        spans.insert(spans.end(), s.begin(), s.end());
    }
    return resource_spans(cat({ resource("svc"), scope_spans(cat({ scope("lib"), spans })) }));
}

// Many spans in many scopes: headers of more than one byte at every level.
Bytes hand_wide()
{
    Bytes rss;
    for (int r = 0; r < 3; r++) {
        Bytes sss;
        for (int s = 0; s < 4; s++) {
            Bytes spans;
            for (int k = 0; k < 6; k++) {
                uint8_t id = static_cast<uint8_t>(r * 24 + s * 6 + k);
                Bytes f = cat({ f_tid(id), f_sid(id), f_name(std::string(20 + k, 'n')) });
                if (k % 3 == 0)
                    f = cat({ f, f_ts("v=" + std::to_string(id)) });
                Bytes sp = span(f);
                spans.insert(spans.end(), sp.begin(), sp.end());
            }
            Bytes ss = scope_spans(cat({ scope("lib-" + std::to_string(s)), spans }));
            sss.insert(sss.end(), ss.begin(), ss.end());
        }
        Bytes rs = resource_spans(cat({ resource("svc-" + std::to_string(r)), sss }));
        rss.insert(rss.end(), rs.begin(), rs.end());
    }
    return rss;
}

struct Vector {
    std::string name;
    Bytes body;
};

std::vector<Vector> all_vectors()
{
    return {
        { "fixture_http_protobuf", read_fixture("traces.http-protobuf.body") },
        { "fixture_http_protobuf_gzip", gunzip(read_fixture("traces.http-protobuf-gzip.body")) },
        { "fixture_grpc", grpc_message(read_fixture("traces.grpc.grpcframes")) },
        { "hand_rich", hand_rich() },
        { "hand_plain_1", hand_plain(1) },
        { "hand_plain_5", hand_plain(5) },
        { "hand_wide", hand_wide() },
        { "empty", Bytes() },
        { "resource_without_spans", resource_spans(resource("svc")) },
    };
}

uint32_t n_items_of(const Bytes &b)
{
    Walked w(b);
    EXPECT_EQ(w.rc, 0);
    return w.v.n_items;
}

Repl no_repl()
{
    return Repl();
}

// Replacements drawn at random: leave / remove / short / long (header growth).
Repl random_repl(uint32_t n, std::mt19937 &rng)
{
    Repl rp;
    rp.has = true;
    rp.set.resize(n);
    rp.val.resize(n);
    for (uint32_t i = 0; i < n; i++) {
        switch (rng() % 5) {
        case 0:
            break;
        case 1:
            rp.set[i] = true; // remove
            break;
        case 2:
            rp.set[i] = true;
            rp.val[i] = "ot=th:" + std::to_string(rng() % 100000);
            break;
        case 3:
            rp.set[i] = true;
            rp.val[i] = std::string(100 + rng() % 300, 'r');
            break;
        default:
            rp.set[i] = true;
            rp.val[i] = "x";
            break;
        }
    }
    return rp;
}

// ---- tests ----------------------------------------------------------------------------------

TEST(OtlpSplice, VectorsWalkAndDecode)
{
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        Walked w(vec.body);
        ASSERT_EQ(w.rc, 0) << (w.v.err_reason ? w.v.err_reason : "");
        TraceReq *q = unpack(vec.body);
        ASSERT_NE(q, nullptr);
        free_req(q);
    }
}

TEST(OtlpSplice, WalkerRecordsTraceState)
{
    Bytes b = hand_rich();
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    ASSERT_EQ(w.v.n_items, 8u);
    const char *want[] = { "a=1", "", "last=3", "y", "", "pq", "", nullptr };
    const uint32_t count[] = { 1, 0, 3, 2, 0, 1, 1, 1 };
    for (uint32_t i = 0; i < 8; i++) {
        SCOPED_TRACE(i);
        const lr_otlp_item &it = w.v.items[i];
        std::string got(reinterpret_cast<const char *>(it.trace_state.p), it.trace_state.len);
        EXPECT_EQ(got, want[i] ? want[i] : std::string(130, 'z'));
        EXPECT_EQ(it.n_trace_state, count[i]);
        if (count[i] == 0) {
            EXPECT_EQ(it.trace_state_off, 0u);
            EXPECT_EQ(it.trace_state_len, 0u);
            continue;
        }
        // The range is the whole (last) field and ends with its payload.
        ASSERT_LE(it.trace_state_off + it.trace_state_len, it.f.body_off + it.f.body_len);
        EXPECT_GE(it.trace_state_off, it.f.body_off);
        EXPECT_EQ(it.trace_state.p + it.trace_state.len,
                  b.data() + it.trace_state_off + it.trace_state_len);
        uint8_t tag0 = b[it.trace_state_off];
        EXPECT_EQ(tag0 & 0x7f, 0x1a);
    }
    // Against protobuf-c's decoding of the fixture.
    Bytes fx = read_fixture("traces.http-protobuf.body");
    Walked wf(fx);
    ASSERT_EQ(wf.rc, 0);
    TraceReq *q = unpack(fx);
    ASSERT_NE(q, nullptr);
    uint32_t i = 0;
    for (size_t r = 0; r < q->n_resource_spans; r++)
        for (size_t s = 0; s < q->resource_spans[r]->n_scope_spans; s++)
            for (size_t k = 0; k < q->resource_spans[r]->scope_spans[s]->n_spans; k++, i++) {
                const char *t = q->resource_spans[r]->scope_spans[s]->spans[k]->trace_state;
                const lr_otlp_item &it = wf.v.items[i];
                EXPECT_EQ(std::string(reinterpret_cast<const char *>(it.trace_state.p),
                                      it.trace_state.len),
                          std::string(t ? t : ""));
            }
    free_req(q);
}

TEST(OtlpSplice, KeepAllIsIdentity)
{
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_items_of(vec.body);
        std::vector<uint8_t> keep(n, 1);
        EXPECT_EQ(splice_and_check(vec.body, keep, no_repl()), vec.body);
        // A replacement array that leaves every span alone, and keep == NULL.
        Repl rp;
        rp.has = true;
        rp.set.assign(n, false);
        rp.val.assign(n, "");
        EXPECT_EQ(splice_and_check(vec.body, keep, rp), vec.body);
        Walked w(vec.body);
        Bytes out(vec.body.size());
        EXPECT_EQ(lr_dp_otlp_splice_spans(vec.body.data(), vec.body.size(), &w.v, nullptr, nullptr,
                                          out.data(), out.size()),
                  static_cast<ssize_t>(vec.body.size()));
        EXPECT_EQ(out, vec.body);
        if (!vec.body.empty()) {
            EXPECT_EQ(lr_dp_otlp_splice_spans(vec.body.data(), vec.body.size(), &w.v, nullptr,
                                              nullptr, out.data(), out.size() - 1),
                      -ENOSPC);
        }
    }
}

TEST(OtlpSplice, KeepNone)
{
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_items_of(vec.body);
        if (n == 0)
            continue;
        Bytes out = splice_and_check(vec.body, std::vector<uint8_t>(n, 0), no_repl(), true);
        // Only the request's own fields outside resource_spans remain.
        Walked w(vec.body);
        EXPECT_EQ(out, top_gaps(vec.body, w.v));
    }
    Bytes plain = hand_plain(3);
    Walked w(plain);
    std::vector<uint8_t> none(3, 0);
    EXPECT_EQ(
        lr_dp_otlp_splice_spans(plain.data(), plain.size(), &w.v, none.data(), nullptr, nullptr, 0),
        0);
}

TEST(OtlpSplice, EverySingleSpanKeptAndDropped)
{
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_items_of(vec.body);
        for (uint32_t i = 0; i < n; i++) {
            SCOPED_TRACE(i);
            std::vector<uint8_t> one(n, 0), all_but(n, 1);
            one[i] = 1;
            all_but[i] = 0;
            splice_and_check(vec.body, one, no_repl(), true);
            splice_and_check(vec.body, all_but, no_repl(), true);
        }
    }
}

TEST(OtlpSplice, EveryMaskOfSmallRequests)
{
    for (const Vector &vec : all_vectors()) {
        uint32_t n = n_items_of(vec.body);
        if (n > 10)
            continue;
        SCOPED_TRACE(vec.name);
        for (uint32_t m = 0; m < (1u << n); m++) {
            std::vector<uint8_t> keep(n);
            for (uint32_t i = 0; i < n; i++)
                keep[i] = (m >> i) & 1;
            splice_and_check(vec.body, keep, no_repl());
        }
    }
}

TEST(OtlpSplice, RandomMasksAndReplacements)
{
    std::mt19937 rng(12345);
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_items_of(vec.body);
        for (int round = 0; round < 60; round++) {
            SCOPED_TRACE(round);
            std::vector<uint8_t> keep(n);
            for (uint32_t i = 0; i < n; i++)
                keep[i] = (rng() % 3) != 0 ? 1 : 0;
            if (round % 10 == 0)
                keep.assign(n, 1);
            splice_and_check(vec.body, keep, round % 2 ? random_repl(n, rng) : no_repl(),
                             round % 7 == 0);
        }
    }
}

TEST(OtlpSplice, TraceStateReplaceRemoveAdd)
{
    Bytes b = hand_rich();
    uint32_t n = n_items_of(b);
    std::vector<uint8_t> keep(n, 1);
    const std::string vals[] = { "",
                                 "a",
                                 "ot=th:8;rv:ab",
                                 std::string(127, 'q'),
                                 std::string(300, 'w'),
                                 std::string(20000, 'e') };
    for (const std::string &val : vals) {
        SCOPED_TRACE(val.size());
        for (uint32_t i = 0; i < n; i++) {
            Repl rp;
            rp.has = true;
            rp.set.assign(n, false);
            rp.val.assign(n, "");
            rp.set[i] = true;
            rp.val[i] = val;
            splice_and_check(b, keep, rp, val.size() < 400);
            // And every span at once, with half of them dropped.
            rp.set.assign(n, true);
            rp.val.assign(n, val);
            std::vector<uint8_t> half(n);
            for (uint32_t k = 0; k < n; k++)
                half[k] = (k + i) % 2;
            splice_and_check(b, half, rp);
        }
    }
}

// Exact bytes for the cases the header promises.
TEST(OtlpSplice, ExactBytes)
{
    Bytes a = f_tid(1), s = f_sid(1), nm = f_name("n");
    Bytes sp_none = span(cat({ a, s, nm }));
    Bytes sp_one = span(cat({ a, f_ts("k=v"), s, nm }));
    Bytes sp_two = span(cat({ f_ts("first"), a, s, f_ts("second"), nm }));
    Bytes sc = scope("lib"), rs = resource("svc");
    auto req = [&](std::initializer_list<Bytes> spans) {
        return resource_spans(cat({ rs, scope_spans(cat({ sc, cat(spans) })) }));
    };
    struct Case {
        Bytes span;
        std::string val;
        Bytes want;
    } cases[] = {
        { sp_none, "t=1", span(cat({ a, s, nm, f_ts("t=1") })) }, // appended
        { sp_none, "", sp_none },                                 // nothing to remove
        { sp_one, "t=1", span(cat({ a, f_ts("t=1"), s, nm })) },  // in place
        { sp_one, "", span(cat({ a, s, nm })) },                  // removed
        { sp_two, "t=1", span(cat({ a, s, f_ts("t=1"), nm })) },  // where the last was
        { sp_two, "", span(cat({ a, s, nm })) },                  // all removed
    };
    for (const Case &c : cases) {
        Bytes b = req({ c.span, sp_none });
        Walked w(b);
        ASSERT_EQ(w.rc, 0);
        std::vector<uint8_t> keep = { 1, 0 };
        lr_slice ts[2] = { { reinterpret_cast<const uint8_t *>(c.val.data()), c.val.size() },
                           { nullptr, 0 } };
        Bytes out(lr_dp_otlp_splice_bound(b.size(), &w.v, ts));
        ssize_t n = lr_dp_otlp_splice_spans(b.data(), b.size(), &w.v, keep.data(), ts, out.data(),
                                            out.size());
        ASSERT_GE(n, 0);
        out.resize(static_cast<size_t>(n));
        EXPECT_EQ(out, req({ c.want }));
    }
}

TEST(OtlpSplice, ScopesAndResourcesWithoutKeptSpansGo)
{
    Bytes sp0 = span(cat({ f_tid(1), f_sid(0) })), sp1 = span(cat({ f_tid(1), f_sid(1) }));
    Bytes unk = { 0x20, 0x01 };
    Bytes rA = resource_spans(cat({ resource("a"), scope_spans(cat({ scope("x"), sp0 })),
                                    scope_spans(scope("empty")), unk }));
    Bytes rB = resource_spans(cat({ resource("b"), scope_spans(cat({ scope("y"), sp1 })) }));
    Bytes b = cat({ rA, rB });
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    std::vector<uint8_t> keep = { 1, 0 };
    Bytes out(b.size());
    ssize_t n = lr_dp_otlp_splice_spans(b.data(), b.size(), &w.v, keep.data(), nullptr, out.data(),
                                        out.size());
    ASSERT_GE(n, 0);
    out.resize(static_cast<size_t>(n));
    EXPECT_EQ(out,
              resource_spans(cat({ resource("a"), scope_spans(cat({ scope("x"), sp0 })), unk })));
}

TEST(OtlpSplice, RejectsUnusableInput)
{
    Bytes b = hand_plain(2);
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    std::vector<uint8_t> keep = { 1, 0 };
    Bytes out(b.size() * 2);
    lr_otlp_view v = w.v;
    v.truncated = true;
    EXPECT_EQ(lr_dp_otlp_splice_spans(b.data(), b.size(), &v, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
    v = w.v;
    v.signal = LR_SIG_LOGS;
    EXPECT_EQ(lr_dp_otlp_splice_spans(b.data(), b.size(), &v, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
    // A replacement over 4 GiB is refused before anything reads it.
    static const uint8_t dummy = 'x';
    lr_slice ts[2] = { { &dummy, size_t(UINT32_MAX) + 1 }, { nullptr, 0 } };
    EXPECT_EQ(
        lr_dp_otlp_splice_spans(b.data(), b.size(), &w.v, keep.data(), ts, out.data(), out.size()),
        -EINVAL);
    // Truncated walk (capacity 1) is reported by the walker, refused here.
    lr_otlp_resource r1[1];
    lr_otlp_scope s1[1];
    lr_otlp_item i1[1];
    lr_otlp_view small;
    memset(&small, 0, sizeof(small));
    small.resources = r1, small.scopes = s1, small.items = i1;
    small.resources_cap = small.scopes_cap = small.items_cap = 1;
    ASSERT_EQ(lr_dp_otlp_walk(LR_SIG_TRACES, b.data(), b.size(), &small), 0);
    ASSERT_TRUE(small.truncated);
    EXPECT_EQ(lr_dp_otlp_splice_spans(b.data(), b.size(), &small, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
}

TEST(OtlpSplice, BoundWithoutReplacementsIsTheBodyLength)
{
    for (const Vector &vec : all_vectors()) {
        Walked w(vec.body);
        EXPECT_EQ(lr_dp_otlp_splice_bound(vec.body.size(), &w.v, nullptr), vec.body.size());
    }
}

// Linear: 20k spans, every other kept, each with a replaced trace_state and a duplicate.
TEST(OtlpSplice, ManySpansLinear)
{
    const int n = 20000;
    Bytes spans;
    for (int k = 0; k < n; k++) {
        Bytes sp = span(cat({ f_ts("dup"), f_tid(static_cast<uint8_t>(k)),
                              f_sid(static_cast<uint8_t>(k)), f_ts("v") }));
        spans.insert(spans.end(), sp.begin(), sp.end());
    }
    Bytes b = resource_spans(cat({ resource("svc"), scope_spans(cat({ scope("lib"), spans })) }));
    Walked w(b);
    ASSERT_EQ(w.rc, 0);
    ASSERT_FALSE(w.v.truncated);
    std::vector<uint8_t> keep(n);
    std::vector<lr_slice> ts(n);
    static const char val[] = "ot=th:0";
    for (int k = 0; k < n; k++) {
        keep[k] = k % 2;
        ts[k] = { reinterpret_cast<const uint8_t *>(val), sizeof(val) - 1 };
    }
    Bytes out(lr_dp_otlp_splice_bound(b.size(), &w.v, ts.data()));
    ssize_t len = lr_dp_otlp_splice_spans(b.data(), b.size(), &w.v, keep.data(), ts.data(),
                                          out.data(), out.size());
    ASSERT_GT(len, 0);
    out.resize(static_cast<size_t>(len));
    Walked o(out);
    ASSERT_EQ(o.rc, 0);
    EXPECT_EQ(o.v.n_spans, static_cast<uint64_t>(n / 2));
    for (uint32_t i = 0; i < o.v.n_items; i++) {
        ASSERT_EQ(o.v.items[i].n_trace_state, 1u);
        ASSERT_EQ(std::string(reinterpret_cast<const char *>(o.v.items[i].trace_state.p),
                              o.v.items[i].trace_state.len),
                  val);
    }
}

// ---- logs -----------------------------------------------------------------------------------

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

LogsReq *unpack_logs(const Bytes &b)
{
    return opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
        nullptr, b.size(), b.data());
}

void free_logs(LogsReq *q)
{
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(q,
                                                                                          nullptr);
}

// LogRecord fields: time_unix_nano (fixed64, 1), severity_text (3: the number trace_state has in
// a span), body (5), trace_id (9).
Bytes f_log_time(uint8_t n)
{
    return { 0x09, n, 0, 0, 0, 0, 0, 0, 0x17 };
}
Bytes f_log_sev(const std::string &s)
{
    return wrap_len(0x1a, str(s));
}
Bytes f_log_body(const std::string &s)
{
    return wrap_len(0x2a, wrap_len(0x0a, str(s)));
}
Bytes f_log_tid(uint8_t n)
{
    Bytes t(16, 0);
    t[0] = 0xcd;
    t[15] = n;
    return wrap_len(0x4a, t);
}
// ExportLogsServiceRequest.resource_logs = 1, ResourceLogs.scope_logs = 2,
// ScopeLogs.log_records = 2: the same tags as for traces.
Bytes log_record(const Bytes &fields)
{
    return wrap_len(0x12, fields);
}
Bytes scope_logs(const Bytes &fields)
{
    return wrap_len(0x12, fields);
}
Bytes resource_logs(const Bytes &fields)
{
    return wrap_len(0x0a, fields);
}

// Shallow copies of the decoded input with the dropped records, scopes and resources left out.
Bytes expected_logs_packed(const LogsReq *in, const std::vector<uint8_t> &keep)
{
    std::vector<ResourceLogs> rs;
    std::vector<ScopeLogs> ss;
    std::vector<ResourceLogs *> rarr;
    std::vector<std::vector<ScopeLogs *>> sarr;
    std::vector<std::vector<LogRecord *>> larr;
    size_t nr = in->n_resource_logs, ns = 0;
    for (size_t r = 0; r < nr; r++)
        ns += in->resource_logs[r]->n_scope_logs;
    rs.reserve(nr), ss.reserve(ns), sarr.reserve(nr), larr.reserve(ns);
    size_t item = 0;
    for (size_t r = 0; r < nr; r++) {
        const ResourceLogs *ir = in->resource_logs[r];
        sarr.emplace_back();
        for (size_t s = 0; s < ir->n_scope_logs; s++) {
            const ScopeLogs *is = ir->scope_logs[s];
            larr.emplace_back();
            for (size_t k = 0; k < is->n_log_records; k++, item++)
                if (keep[item])
                    larr.back().push_back(is->log_records[k]);
            if (larr.back().empty())
                continue;
            ss.push_back(*is);
            ss.back().n_log_records = larr.back().size();
            ss.back().log_records = larr.back().data();
            sarr.back().push_back(&ss.back());
        }
        if (sarr.back().empty())
            continue;
        rs.push_back(*ir);
        rs.back().n_scope_logs = sarr.back().size();
        rs.back().scope_logs = sarr.back().data();
        rarr.push_back(&rs.back());
    }
    LogsReq q = *in;
    q.n_resource_logs = rarr.size();
    q.resource_logs = rarr.data();
    return pack(&q.base);
}

// lr_dp_otlp_splice_items() over a logs request, checked like splice_and_check().
Bytes splice_logs_and_check(const Bytes &b, const std::vector<uint8_t> &keep,
                            bool every_cap = false)
{
    Walked w(b, LR_SIG_LOGS);
    EXPECT_EQ(w.rc, 0) << (w.v.err_reason ? w.v.err_reason : "");
    EXPECT_FALSE(w.v.truncated);
    const lr_otlp_view &v = w.v;
    EXPECT_EQ(keep.size(), v.n_items);
    EXPECT_EQ(lr_dp_otlp_splice_bound(b.size(), &v, nullptr), b.size());
    Bytes out(b.size() + 16, 0xee);
    ssize_t n =
        lr_dp_otlp_splice_items(b.data(), b.size(), &v, keep.data(), nullptr, out.data(), b.size());
    EXPECT_GE(n, 0);
    if (n < 0)
        return Bytes();
    EXPECT_LE(static_cast<size_t>(n), b.size());
    for (size_t k = b.size(); k < out.size(); k++)
        EXPECT_EQ(out[k], 0xee) << "wrote past cap at " << k;
    out.resize(static_cast<size_t>(n));
    uint64_t n_kept = 0;
    for (uint32_t i = 0; i < v.n_items; i++)
        n_kept += keep[i] != 0;
    if (n_kept == v.n_items) {
        EXPECT_EQ(out, b) << "keep-all identity";
        return out;
    }
    if (every_cap) {
        for (size_t cap = 0; cap <= out.size(); cap++) {
            Bytes small(cap);
            ssize_t m = lr_dp_otlp_splice_items(b.data(), b.size(), &v, keep.data(), nullptr,
                                                small.data(), cap);
            if (cap < out.size()) {
                EXPECT_EQ(m, -ENOSPC) << "cap " << cap;
            } else {
                EXPECT_EQ(m, n);
                EXPECT_EQ(small, out);
            }
        }
    }
    LogsReq *in = unpack_logs(b), *got = unpack_logs(out);
    EXPECT_NE(in, nullptr);
    EXPECT_NE(got, nullptr);
    if (in && got) {
        EXPECT_EQ(pack(&got->base), expected_logs_packed(in, keep));
        for (size_t r = 0; r < got->n_resource_logs; r++) {
            EXPECT_GT(got->resource_logs[r]->n_scope_logs, 0u);
            for (size_t s = 0; s < got->resource_logs[r]->n_scope_logs; s++)
                EXPECT_GT(got->resource_logs[r]->scope_logs[s]->n_log_records, 0u);
        }
    }
    if (in)
        free_logs(in);
    if (got)
        free_logs(got);

    // Raw bytes: every kept record as it was, every other byte of kept parents in order.
    Walked o(out, LR_SIG_LOGS);
    EXPECT_EQ(o.rc, 0) << (o.v.err_reason ? o.v.err_reason : "");
    if (o.rc != 0)
        return out;
    EXPECT_EQ(o.v.n_log_records, n_kept);
    EXPECT_EQ(top_gaps(out, o.v), top_gaps(b, v));
    uint32_t ko = 0, so = 0, ro = 0;
    for (uint32_t r = 0; r < v.n_resources; r++) {
        bool r_any = false;
        for (uint32_t s = v.resources[r].first_scope;
             s < v.resources[r].first_scope + v.resources[r].n_scopes; s++) {
            bool s_any = false;
            for (uint32_t i = v.scopes[s].first_item;
                 i < v.scopes[s].first_item + v.scopes[s].n_items; i++) {
                if (!keep[i])
                    continue;
                s_any = true;
                if (ko >= o.v.n_items) {
                    ADD_FAILURE() << "too few records in the output";
                    return out;
                }
                const lr_otlp_item &a = v.items[i], &z = o.v.items[ko++];
                EXPECT_EQ(z.scope, so);
                EXPECT_EQ(range(out, z.f.off, z.f.len), range(b, a.f.off, a.f.len))
                    << "record " << i;
            }
            if (!s_any)
                continue;
            r_any = true;
            if (so >= o.v.n_scopes) {
                ADD_FAILURE() << "too few scopes in the output";
                return out;
            }
            EXPECT_EQ(o.v.scopes[so].resource, ro);
            EXPECT_EQ(gaps(out, o.v.scopes[so].f, scope_children(o.v, so)),
                      gaps(b, v.scopes[s].f, scope_children(v, s)))
                << "scope " << s;
            so++;
        }
        if (!r_any)
            continue;
        if (ro >= o.v.n_resources) {
            ADD_FAILURE() << "too few resources in the output";
            return out;
        }
        EXPECT_EQ(gaps(out, o.v.resources[ro].f, resource_children(o.v, ro)),
                  gaps(b, v.resources[r].f, resource_children(v, r)))
            << "resource " << r;
        ro++;
    }
    EXPECT_EQ(ko, o.v.n_items);
    EXPECT_EQ(so, o.v.n_scopes);
    EXPECT_EQ(ro, o.v.n_resources);
    return out;
}

// Three resources (one without records), scopes with and without records, unknown fields at
// every level, records with and without a trace id, a severity_text (field 3) and a non-minimal
// record length prefix.
Bytes hand_logs_rich()
{
    Bytes unk_top = { 0x28, 0x01 }, unk_r = { 0x20, 0x07 }, unk_s = { 0x30, 0x09 };
    Bytes unk_l = { 0xa8, 0x01, 0x05 };
    Bytes schema = wrap_len(0x1a, str("https://opentelemetry.io/schemas/1.21.0"));
    Bytes l0 =
        log_record(cat({ f_log_time(0), f_log_sev("INFO"), f_log_body("l0"), f_log_tid(0) }));
    Bytes l1 = log_record(cat({ f_log_time(1), f_log_body("l1 without a trace id"), unk_l }));
    Bytes l2 = log_record(cat({ f_log_tid(2), f_log_body(std::string(140, 'b')) }));
    Bytes l3_fields = cat({ f_log_time(3), f_log_tid(3) });
    Bytes l3 = cat({ { 0x12, static_cast<uint8_t>(0x80 | l3_fields.size()), 0x00 }, l3_fields });
    Bytes l4 = log_record(cat({ f_log_sev("ERROR"), f_log_tid(4) }));
    Bytes slA = scope_logs(cat({ scope("lib-a"), l0, unk_s, l1 }));
    Bytes slB = scope_logs(cat({ scope("lib-b"), wrap_len(0x1a, str("scope-schema")) }));
    Bytes slC = scope_logs(cat({ l2, unk_s, scope("lib-c"), l3 }));
    Bytes slD = scope_logs(cat({ scope("lib-d"), l4, unk_s }));
    Bytes r0 = resource_logs(cat({ schema, slA, unk_r, resource("svc-0"), slB, slC }));
    Bytes r1 = resource_logs(cat({ resource("svc-empty"), slB }));
    Bytes r2 = resource_logs(cat({ resource("svc-2"), slD, unk_r }));
    return cat({ unk_top, r0, r1, unk_top, r2 });
}

Bytes hand_logs_plain(int n)
{
    Bytes recs;
    for (int k = 0; k < n; k++) {
        Bytes l = log_record(
            cat({ f_log_time(static_cast<uint8_t>(k)), f_log_body("p" + std::to_string(k)),
                  f_log_tid(static_cast<uint8_t>(k)) }));
        recs.insert(recs.end(), l.begin(), l.end());
    }
    return resource_logs(cat({ resource("svc"), scope_logs(cat({ scope("lib"), recs })) }));
}

std::vector<Vector> logs_vectors()
{
    return {
        { "fixture_logs_http_protobuf", read_fixture("logs.http-protobuf.body") },
        { "fixture_logs_http_protobuf_gzip", gunzip(read_fixture("logs.http-protobuf-gzip.body")) },
        { "fixture_logs_grpc", grpc_message(read_fixture("logs.grpc.grpcframes")) },
        { "hand_logs_rich", hand_logs_rich() },
        { "hand_logs_plain_1", hand_logs_plain(1) },
        { "hand_logs_plain_6", hand_logs_plain(6) },
        { "empty", Bytes() },
        { "resource_without_records", resource_logs(resource("svc")) },
    };
}

uint32_t n_log_items_of(const Bytes &b)
{
    Walked w(b, LR_SIG_LOGS);
    EXPECT_EQ(w.rc, 0);
    return w.v.n_items;
}

TEST(OtlpSpliceLogs, VectorsWalkAndDecode)
{
    for (const Vector &vec : logs_vectors()) {
        SCOPED_TRACE(vec.name);
        Walked w(vec.body, LR_SIG_LOGS);
        ASSERT_EQ(w.rc, 0) << (w.v.err_reason ? w.v.err_reason : "");
        LogsReq *q = unpack_logs(vec.body);
        ASSERT_NE(q, nullptr);
        free_logs(q);
    }
    EXPECT_EQ(n_log_items_of(hand_logs_rich()), 5u);
}

TEST(OtlpSpliceLogs, KeepAllIsIdentity)
{
    for (const Vector &vec : logs_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_log_items_of(vec.body);
        EXPECT_EQ(splice_logs_and_check(vec.body, std::vector<uint8_t>(n, 1)), vec.body);
        Walked w(vec.body, LR_SIG_LOGS);
        Bytes out(vec.body.size());
        EXPECT_EQ(lr_dp_otlp_splice_items(vec.body.data(), vec.body.size(), &w.v, nullptr, nullptr,
                                          out.data(), out.size()),
                  static_cast<ssize_t>(vec.body.size()));
        EXPECT_EQ(out, vec.body);
    }
}

TEST(OtlpSpliceLogs, KeepNoneAndEverySingleRecord)
{
    for (const Vector &vec : logs_vectors()) {
        SCOPED_TRACE(vec.name);
        uint32_t n = n_log_items_of(vec.body);
        if (n == 0)
            continue;
        Bytes out = splice_logs_and_check(vec.body, std::vector<uint8_t>(n, 0), true);
        Walked w(vec.body, LR_SIG_LOGS);
        EXPECT_EQ(out, top_gaps(vec.body, w.v));
        for (uint32_t i = 0; i < n; i++) {
            SCOPED_TRACE(i);
            std::vector<uint8_t> one(n, 0), all_but(n, 1);
            one[i] = 1;
            all_but[i] = 0;
            splice_logs_and_check(vec.body, one, true);
            splice_logs_and_check(vec.body, all_but, true);
        }
    }
}

TEST(OtlpSpliceLogs, EveryMaskOfSmallRequests)
{
    for (const Vector &vec : logs_vectors()) {
        uint32_t n = n_log_items_of(vec.body);
        if (n > 10)
            continue;
        SCOPED_TRACE(vec.name);
        for (uint32_t m = 0; m < (1u << n); m++) {
            std::vector<uint8_t> keep(n);
            for (uint32_t i = 0; i < n; i++)
                keep[i] = (m >> i) & 1;
            splice_logs_and_check(vec.body, keep);
        }
    }
}

// Every prefix of every vector (and the vector itself): the walker refuses most; those it accepts
// (cut between fields) splice like any request, with alternating masks.
TEST(OtlpSpliceLogs, EveryTruncatedPrefix)
{
    for (const Vector &vec : logs_vectors()) {
        SCOPED_TRACE(vec.name);
        size_t accepted = 0;
        for (size_t cut = 0; cut <= vec.body.size(); cut++) {
            Bytes b(vec.body.begin(), vec.body.begin() + cut);
            Walked w(b, LR_SIG_LOGS);
            if (w.rc != 0) {
                EXPECT_EQ(w.rc, LR_E_MALFORMED) << cut;
                continue;
            }
            SCOPED_TRACE(cut);
            accepted++;
            uint32_t n = w.v.n_items;
            std::vector<uint8_t> odd(n), even(n);
            for (uint32_t i = 0; i < n; i++)
                odd[i] = i % 2, even[i] = !(i % 2);
            splice_logs_and_check(b, odd);
            splice_logs_and_check(b, even);
        }
        EXPECT_GE(accepted, 1u); // the empty prefix at least
    }
}

// Same for the traces vectors (no replacements: the trace_state cases are covered above).
TEST(OtlpSplice, EveryTruncatedPrefix)
{
    for (const Vector &vec : all_vectors()) {
        SCOPED_TRACE(vec.name);
        for (size_t cut = 0; cut <= vec.body.size(); cut++) {
            Bytes b(vec.body.begin(), vec.body.begin() + cut);
            Walked w(b);
            if (w.rc != 0) {
                EXPECT_EQ(w.rc, LR_E_MALFORMED) << cut;
                continue;
            }
            SCOPED_TRACE(cut);
            std::vector<uint8_t> odd(w.v.n_items);
            for (uint32_t i = 0; i < w.v.n_items; i++)
                odd[i] = i % 2;
            splice_and_check(b, odd, no_repl());
        }
    }
}

TEST(OtlpSpliceLogs, ExactBytes)
{
    Bytes la = log_record(cat({ f_log_time(1), f_log_sev("WARN"), f_log_tid(1) }));
    Bytes lb = log_record(cat({ f_log_time(2), f_log_body("b") }));
    Bytes lc = log_record(cat({ f_log_tid(3) }));
    Bytes unk = { 0x20, 0x01 };
    Bytes b = cat({ resource_logs(cat({ resource("a"), scope_logs(cat({ scope("x"), la, lb })),
                                        scope_logs(cat({ scope("y"), lc })), unk })),
                    resource_logs(cat({ resource("b"), scope_logs(cat({ scope("z"), lc })) })) });
    Walked w(b, LR_SIG_LOGS);
    ASSERT_EQ(w.rc, 0);
    ASSERT_EQ(w.v.n_items, 4u);
    std::vector<uint8_t> keep = { 0, 1, 0, 0 };
    Bytes out(b.size());
    ssize_t n = lr_dp_otlp_splice_items(b.data(), b.size(), &w.v, keep.data(), nullptr, out.data(),
                                        out.size());
    ASSERT_GE(n, 0);
    out.resize(static_cast<size_t>(n));
    EXPECT_EQ(out, resource_logs(cat({ resource("a"), scope_logs(cat({ scope("x"), lb })), unk })));
}

TEST(OtlpSpliceLogs, RejectsUnusableInput)
{
    Bytes b = hand_logs_plain(2);
    Walked w(b, LR_SIG_LOGS);
    ASSERT_EQ(w.rc, 0);
    std::vector<uint8_t> keep = { 1, 0 };
    Bytes out(b.size() * 2);
    // Not a traces view: splice_spans refuses it; trace_state means nothing for log records.
    EXPECT_EQ(lr_dp_otlp_splice_spans(b.data(), b.size(), &w.v, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
    static const uint8_t v[] = "ot=th:8";
    lr_slice ts[2] = { { v, 7 }, { nullptr, 0 } };
    EXPECT_EQ(
        lr_dp_otlp_splice_items(b.data(), b.size(), &w.v, keep.data(), ts, out.data(), out.size()),
        -EINVAL);
    lr_otlp_view m = w.v;
    m.signal = LR_SIG_METRICS;
    EXPECT_EQ(lr_dp_otlp_splice_items(b.data(), b.size(), &m, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
    m = w.v;
    m.truncated = true;
    EXPECT_EQ(lr_dp_otlp_splice_items(b.data(), b.size(), &m, keep.data(), nullptr, out.data(),
                                      out.size()),
              -EINVAL);
    // And a traces view goes through splice_items as through splice_spans.
    Bytes t = hand_plain(2);
    Walked wt(t);
    ASSERT_EQ(wt.rc, 0);
    Bytes o1(t.size()), o2(t.size());
    ssize_t n1 = lr_dp_otlp_splice_items(t.data(), t.size(), &wt.v, keep.data(), nullptr, o1.data(),
                                         o1.size());
    ssize_t n2 = lr_dp_otlp_splice_spans(t.data(), t.size(), &wt.v, keep.data(), nullptr, o2.data(),
                                         o2.size());
    EXPECT_GT(n1, 0);
    EXPECT_EQ(n1, n2);
    EXPECT_EQ(o1, o2);
}

} // namespace
