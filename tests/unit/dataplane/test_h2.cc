// Tests for dataplane/h2.c: real unary gRPC calls from an nghttp2 client session wired to the
// engine in memory (every grpc-encoding, multiplexing, every early error), the gRPC wire helpers
// (grpc_frame.h: framing, grpc-timeout, percent-encoding, base64), each defence with hand-built
// frames (rapid reset, CONTINUATION flood, HPACK bomb, SETTINGS/PING/empty DATA floods, header,
// idle and send timeouts), and the captured calls of the OpenTelemetry JS gRPC exporters.
#include <gtest/gtest.h>

#include "unit/fixtures.h"
#include <nghttp2/nghttp2.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN_STATS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN_STATS 1
#endif
#endif
#ifdef HAVE_ASAN_STATS
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#endif

extern "C" {
#include "../../../dataplane/codec.h"
#include "../../../dataplane/grpc_frame.h"
#include "linerate/error.h"
#include "linerate/h2.h"
}

namespace
{

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kMs = 1000000ull;
const char *kPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

lr_h2_limits test_limits()
{
    lr_h2_limits l;
    lr_h2_limits_default(&l);
    l.max_message_bytes = 64 << 10;
    l.max_resets_per_s = 50;
    l.max_control_frames_per_s = 100;
    l.header_timeout_ns = 2 * kSec;
    l.idle_timeout_ns = 10 * kSec;
    l.send_timeout_ns = 3 * kSec;
    return l;
}

std::string S(lr_slice s)
{
    return s.len ? std::string(reinterpret_cast<const char *>(s.p), s.len) : std::string();
}

size_t allocated_bytes()
{
#ifdef HAVE_ASAN_STATS
    return __sanitizer_get_current_allocated_bytes();
#else
    return 0;
#endif
}

std::string grpc_frame(const std::string &msg, bool compressed = false)
{
    std::string f(5, '\0');
    f[0] = compressed ? 1 : 0;
    uint32_t n = static_cast<uint32_t>(msg.size());
    f[1] = static_cast<char>(n >> 24);
    f[2] = static_cast<char>(n >> 16);
    f[3] = static_cast<char>(n >> 8);
    f[4] = static_cast<char>(n);
    return f + msg;
}

std::string encode(lr_dp_codec c, const std::string &in)
{
    lr_dp_buf b{};
    EXPECT_EQ(0,
              lr_dp_codec_encode(c, reinterpret_cast<const uint8_t *>(in.data()), in.size(), &b));
    std::string out(reinterpret_cast<char *>(b.p), b.len);
    free(b.p);
    return out;
}

// ---- the server side handler --------------------------------------------------------------

struct Seen {
    int32_t stream_id;
    std::string path, ctype, encoding, message;
    uint64_t timeout_ns;
};

struct Handler {
    std::vector<Seen> headers, requests;
    int refuse = 0; // on_headers answer
    int status = 0;
    std::string grpc_message, details, reply = "reply";
};

int on_headers_cb(void *ctx, const lr_grpc_req *q, const char **reason)
{
    auto *h = static_cast<Handler *>(ctx);
    EXPECT_EQ(0u, q->message.len);
    h->headers.push_back(
        { q->stream_id, S(q->path), S(q->content_type), S(q->encoding), "", q->timeout_ns });
    if (h->refuse) {
        *reason = "refused by test";
        return h->refuse;
    }
    return 0;
}

void on_request_cb(void *ctx, const lr_grpc_req *q, lr_grpc_resp *r)
{
    auto *h = static_cast<Handler *>(ctx);
    h->requests.push_back({ q->stream_id, S(q->path), S(q->content_type), S(q->encoding),
                            S(q->message), q->timeout_ns });
    r->grpc_status = h->status;
    r->grpc_message = h->grpc_message.empty() ? nullptr : h->grpc_message.c_str();
    r->message = lr_slice_make(h->reply.data(), h->reply.size());
    r->status_details = lr_slice_make(h->details.data(), h->details.size());
}

// ---- the client side: nghttp2 in memory ---------------------------------------------------

struct Resp {
    std::map<std::string, std::string> headers, trailers;
    int header_blocks = 0;
    std::string data;
    bool closed = false;
    uint32_t close_code = 0;
};

struct Body {
    std::string bytes;
    size_t off = 0;
    bool hold = false; // keep the stream open: DATA deferred forever
};

struct Pair {
    Handler h;
    lr_h2_limits lim;
    lr_h2_conn *srv = nullptr;
    nghttp2_session *cli = nullptr;
    uint64_t now = 1 * kSec;
    std::map<int32_t, Resp> resp;
    std::map<int32_t, Body> bodies;
    bool goaway = false;
    uint32_t goaway_code = 0;
    bool read_output = true;
    ssize_t last_feed = 0;
    std::string sent; // everything the client sent (for the fuzz seed corpus)

    explicit Pair(lr_h2_limits l = test_limits(), bool with_on_headers = true,
                  uint32_t client_window = 65535)
        : lim(l)
    {
        lr_h2_handler hd{};
        hd.on_headers = with_on_headers ? on_headers_cb : nullptr;
        hd.on_request = on_request_cb;
        hd.ctx = &h;
        srv = lr_h2_conn_new(&lim, &hd, now);
        EXPECT_NE(nullptr, srv);
        nghttp2_session_callbacks *cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
        nghttp2_session_client_new(&cli, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, client_window } };
        nghttp2_submit_settings(cli, NGHTTP2_FLAG_NONE, iv, 1);
    }
    ~Pair()
    {
        nghttp2_session_del(cli);
        lr_h2_conn_free(srv);
    }

    static int on_header(nghttp2_session *, const nghttp2_frame *f, const uint8_t *n, size_t nl,
                         const uint8_t *v, size_t vl, uint8_t, void *u)
    {
        auto *p = static_cast<Pair *>(u);
        Resp &r = p->resp[f->hd.stream_id];
        std::string name(reinterpret_cast<const char *>(n), nl);
        std::string val(reinterpret_cast<const char *>(v), vl);
        if (r.header_blocks == 0)
            r.headers[name] = val;
        else
            r.trailers[name] = val;
        return 0;
    }
    static int on_data(nghttp2_session *, uint8_t, int32_t id, const uint8_t *d, size_t n, void *u)
    {
        static_cast<Pair *>(u)->resp[id].data.append(reinterpret_cast<const char *>(d), n);
        return 0;
    }
    static int on_frame(nghttp2_session *, const nghttp2_frame *f, void *u)
    {
        auto *p = static_cast<Pair *>(u);
        if (f->hd.type == NGHTTP2_HEADERS)
            p->resp[f->hd.stream_id].header_blocks++;
        if (f->hd.type == NGHTTP2_GOAWAY) {
            p->goaway = true;
            p->goaway_code = f->goaway.error_code;
        }
        return 0;
    }
    static int on_close(nghttp2_session *, int32_t id, uint32_t code, void *u)
    {
        auto *p = static_cast<Pair *>(u);
        p->resp[id].closed = true;
        p->resp[id].close_code = code;
        return 0;
    }
    static ssize_t read_body(nghttp2_session *, int32_t, uint8_t *buf, size_t len, uint32_t *fl,
                             nghttp2_data_source *src, void *)
    {
        auto *b = static_cast<Body *>(src->ptr);
        if (b->hold)
            return NGHTTP2_ERR_DEFERRED;
        size_t n = std::min(len, b->bytes.size() - b->off);
        memcpy(buf, b->bytes.data() + b->off, n);
        b->off += n;
        if (b->off == b->bytes.size())
            *fl |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    // Feeds everything the client has to the server and back until nothing moves.
    void pump(int rounds = 1000)
    {
        for (int i = 0; i < rounds; i++) {
            bool moved = false;
            const uint8_t *d;
            ssize_t n;
            while ((n = nghttp2_session_mem_send(cli, &d)) > 0) {
                sent.append(reinterpret_cast<const char *>(d), static_cast<size_t>(n));
                last_feed = lr_h2_conn_feed(srv, d, static_cast<size_t>(n), now);
                moved = true;
                if (last_feed < 0)
                    break;
            }
            if (read_output) {
                lr_slice o = lr_h2_conn_output(srv);
                if (o.len) {
                    ssize_t r = nghttp2_session_mem_recv(cli, o.p, o.len);
                    EXPECT_GE(r, 0);
                    lr_h2_conn_output_consumed(srv, o.len, now);
                    moved = true;
                }
            }
            if (!moved)
                return;
        }
    }
};

// Bodies must not move once submitted: calls go through this wrapper, which keeps every body in
// a stable heap slot for the life of the Pair.
struct Client : Pair {
    std::vector<std::unique_ptr<Body>> keep;
    using Pair::Pair;
    int32_t send(const std::string &body,
                 std::vector<std::pair<std::string, std::string>> extra = {},
                 const char *method = "POST", const char *ctype = "application/grpc",
                 bool end_stream = true)
    {
        std::vector<std::pair<std::string, std::string>> hs = {
            { ":method", method },    { ":scheme", "http" },     { ":path", kPath },
            { ":authority", "test" }, { "content-type", ctype }, { "te", "trailers" },
        };
        for (auto &e : extra)
            hs.push_back(e);
        std::vector<nghttp2_nv> nv;
        for (auto &e : hs)
            nv.push_back({ (uint8_t *)e.first.data(), (uint8_t *)e.second.data(), e.first.size(),
                           e.second.size(), NGHTTP2_NV_FLAG_NONE });
        keep.push_back(std::make_unique<Body>());
        keep.back()->bytes = body;
        keep.back()->hold = !end_stream;
        nghttp2_data_provider prd{};
        prd.source.ptr = keep.back().get();
        prd.read_callback = read_body;
        int32_t id = nghttp2_submit_request(cli, nullptr, nv.data(), nv.size(), &prd, nullptr);
        EXPECT_GT(id, 0);
        return id;
    }
};

// ---- raw frames ---------------------------------------------------------------------------

std::string frame(uint8_t type, uint8_t flags, uint32_t sid, const std::string &payload)
{
    std::string f;
    uint32_t n = static_cast<uint32_t>(payload.size());
    f += static_cast<char>(n >> 16);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n);
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    f += static_cast<char>((sid >> 24) & 0x7f);
    f += static_cast<char>(sid >> 16);
    f += static_cast<char>(sid >> 8);
    f += static_cast<char>(sid);
    return f + payload;
}

std::string hpack(nghttp2_hd_deflater *d, std::vector<std::pair<std::string, std::string>> hs)
{
    std::vector<nghttp2_nv> nv;
    for (auto &e : hs)
        nv.push_back({ (uint8_t *)e.first.data(), (uint8_t *)e.second.data(), e.first.size(),
                       e.second.size(), NGHTTP2_NV_FLAG_NONE });
    std::string out(nghttp2_hd_deflate_bound(d, nv.data(), nv.size()), '\0');
    ssize_t n = nghttp2_hd_deflate_hd(d, (uint8_t *)out.data(), out.size(), nv.data(), nv.size());
    EXPECT_GT(n, 0);
    out.resize(static_cast<size_t>(n));
    return out;
}

std::vector<std::pair<std::string, std::string>> req_headers()
{
    return { { ":method", "POST" },
             { ":scheme", "http" },
             { ":path", kPath },
             { ":authority", "test" },
             { "content-type", "application/grpc" },
             { "te", "trailers" } };
}

std::string preface_and_settings()
{
    return std::string(LR_H2_PREFACE, LR_H2_PREFACE_LEN) + frame(NGHTTP2_SETTINGS, 0, 0, "");
}

// Finds a GOAWAY frame in server output; returns its error code or -1.
long goaway_code(const std::string &out)
{
    size_t i = 0;
    long code = -1;
    while (i + 9 <= out.size()) {
        const uint8_t *h = reinterpret_cast<const uint8_t *>(out.data()) + i;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (i + 9 + len > out.size())
            break;
        if (h[3] == NGHTTP2_GOAWAY && len >= 8)
            code = (long)((uint32_t)h[13] << 24 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 8 |
                          h[16]);
        i += 9 + len;
    }
    return code;
}

struct Raw {
    Handler h;
    lr_h2_limits lim;
    lr_h2_conn *srv;
    uint64_t now = kSec;
    std::string out;
    ssize_t last = 0;
    explicit Raw(lr_h2_limits l = test_limits()) : lim(l)
    {
        lr_h2_handler hd{};
        hd.on_request = on_request_cb;
        hd.ctx = &h;
        srv = lr_h2_conn_new(&lim, &hd, now);
    }
    ~Raw() { lr_h2_conn_free(srv); }
    ssize_t feed(const std::string &b)
    {
        last = lr_h2_conn_feed(srv, reinterpret_cast<const uint8_t *>(b.data()), b.size(), now);
        drain();
        return last;
    }
    void drain()
    {
        lr_slice o = lr_h2_conn_output(srv);
        while (o.len) {
            out.append(reinterpret_cast<const char *>(o.p), o.len);
            lr_h2_conn_output_consumed(srv, o.len, now);
            o = lr_h2_conn_output(srv);
        }
    }
};

// ---- unary calls --------------------------------------------------------------------------

TEST(H2, UnaryEveryEncoding)
{
    std::string msg;
    for (int i = 0; i < 3000; i++)
        msg += static_cast<char>("otlp-payload"[i % 12]);
    struct {
        lr_dp_codec c;
        const char *name;
    } encs[] = { { LR_CODEC_IDENTITY, nullptr },  { LR_CODEC_GZIP, "gzip" },
                 { LR_CODEC_DEFLATE, "deflate" }, { LR_CODEC_ZSTD, "zstd" },
                 { LR_CODEC_SNAPPY, "snappy" },   { LR_CODEC_SNAPPY_FRAMED, "snappy" } };
    for (auto &e : encs) {
        SCOPED_TRACE(e.name ? e.name : "identity");
        Client p;
        std::vector<std::pair<std::string, std::string>> extra = { { "grpc-timeout", "5S" } };
        std::string body;
        if (e.name) {
            extra.push_back({ "grpc-encoding", e.name });
            body = grpc_frame(encode(e.c, msg), true);
        } else {
            body = grpc_frame(msg);
        }
        int32_t id = p.send(body, extra);
        p.pump();
        ASSERT_EQ(1u, p.h.requests.size());
        EXPECT_EQ(msg, p.h.requests[0].message);
        EXPECT_EQ(kPath, p.h.requests[0].path);
        EXPECT_EQ(e.name ? e.name : "", p.h.requests[0].encoding);
        EXPECT_EQ(5 * kSec, p.h.requests[0].timeout_ns);
        Resp &r = p.resp[id];
        EXPECT_EQ("200", r.headers[":status"]);
        EXPECT_EQ("application/grpc", r.headers["content-type"]);
        EXPECT_EQ(grpc_frame("reply"), r.data);
        EXPECT_EQ("0", r.trailers["grpc-status"]);
        EXPECT_EQ(2, r.header_blocks);
        EXPECT_TRUE(r.closed);
        EXPECT_EQ(0u, r.close_code);
        EXPECT_EQ(1u, lr_h2_conn_requests(p.srv));
        EXPECT_TRUE(lr_h2_conn_idle(p.srv));
        EXPECT_FALSE(lr_h2_conn_closing(p.srv));
    }
}

TEST(H2, OkAlwaysCarriesAMessageEvenEmpty)
{
    Client p;
    p.h.reply = "";
    int32_t id = p.send(grpc_frame(""));
    p.pump();
    ASSERT_EQ(1u, p.h.requests.size());
    EXPECT_EQ("", p.h.requests[0].message);
    EXPECT_EQ(std::string(5, '\0'), p.resp[id].data);
    EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
}

TEST(H2, LargeMessageAcrossWindowsAndFrames)
{
    lr_h2_limits l = test_limits();
    l.max_message_bytes = 1 << 20;
    l.stream_window_bytes = 65535;
    l.connection_window_bytes = 65535;
    Client p(l);
    std::string msg(1 << 20, 'x');
    for (size_t i = 0; i < msg.size(); i += 7)
        msg[i] = static_cast<char>(i);
    int32_t id = p.send(grpc_frame(msg));
    p.pump(100000);
    ASSERT_EQ(1u, p.h.requests.size());
    EXPECT_EQ(msg, p.h.requests[0].message);
    EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
}

TEST(H2, SixteenConcurrentStreams)
{
    Client p;
    std::vector<int32_t> ids;
    for (int i = 0; i < 16; i++)
        ids.push_back(p.send(grpc_frame("m" + std::to_string(i))));
    p.pump();
    ASSERT_EQ(16u, p.h.requests.size());
    for (int i = 0; i < 16; i++) {
        Resp &r = p.resp[ids[static_cast<size_t>(i)]];
        EXPECT_EQ(grpc_frame("reply"), r.data);
        EXPECT_EQ("0", r.trailers["grpc-status"]);
    }
    std::map<int32_t, std::string> got;
    for (auto &s : p.h.requests)
        got[s.stream_id] = s.message;
    for (int i = 0; i < 16; i++)
        EXPECT_EQ("m" + std::to_string(i), got[ids[static_cast<size_t>(i)]]);
    EXPECT_EQ(16u, lr_h2_conn_requests(p.srv));
}

// Trailers-Only: one HEADERS with END_STREAM carrying :status 200 and grpc-status.
void expect_trailers_only(Resp &r, int grpc_status, const char *http = "200")
{
    EXPECT_EQ(1, r.header_blocks);
    EXPECT_EQ(http, r.headers[":status"]);
    EXPECT_EQ(std::to_string(grpc_status), r.headers["grpc-status"]);
    EXPECT_EQ("", r.data);
    EXPECT_TRUE(r.closed);
}

TEST(H2, OnHeadersRefusalIsTrailersOnly)
{
    Client p;
    p.h.refuse = LR_E_OVERLOADED;
    int32_t id = p.send(grpc_frame("abc"));
    p.pump();
    EXPECT_EQ(0u, p.h.requests.size());
    ASSERT_EQ(1u, p.h.headers.size());
    expect_trailers_only(p.resp[id], lr_err_lookup(LR_E_OVERLOADED)->grpc_status);
    EXPECT_EQ("refused by test", p.resp[id].headers["grpc-message"]);
    // The connection goes on.
    p.h.refuse = 0;
    int32_t id2 = p.send(grpc_frame("ok"));
    p.pump();
    EXPECT_EQ("0", p.resp[id2].trailers["grpc-status"]);
}

TEST(H2, RefusedBeforeTheBodyArrives)
{
    // A refusal while the client is still sending: Trailers-Only, then RST_STREAM(NO_ERROR).
    Client p;
    p.h.refuse = LR_E_NOT_FOUND;
    int32_t id = p.send("", {}, "POST", "application/grpc", false);
    p.pump();
    expect_trailers_only(p.resp[id], lr_err_lookup(LR_E_NOT_FOUND)->grpc_status);
    EXPECT_EQ(static_cast<uint32_t>(NGHTTP2_NO_ERROR), p.resp[id].close_code);
    EXPECT_TRUE(lr_h2_conn_idle(p.srv));
}

TEST(H2, MessageTooLarge)
{
    Client p;
    std::string msg(p.lim.max_message_bytes + 1, 'a');
    int32_t id = p.send(grpc_frame(msg));
    p.pump();
    EXPECT_EQ(0u, p.h.requests.size());
    expect_trailers_only(p.resp[id], 8 /* RESOURCE_EXHAUSTED */);
    EXPECT_NE(std::string::npos,
              p.resp[id].headers["grpc-message"].find("larger than max (65537 vs. 65536)"));
    // Exactly the limit is fine.
    int32_t id2 = p.send(grpc_frame(std::string(p.lim.max_message_bytes, 'b')));
    p.pump();
    EXPECT_EQ("0", p.resp[id2].trailers["grpc-status"]);
}

TEST(H2, DecompressedTooLarge)
{
    Client p;
    std::string bomb(p.lim.max_message_bytes * 4, '\0');
    int32_t id =
        p.send(grpc_frame(encode(LR_CODEC_GZIP, bomb), true), { { "grpc-encoding", "gzip" } });
    p.pump();
    EXPECT_EQ(0u, p.h.requests.size());
    expect_trailers_only(p.resp[id], 8);
}

TEST(H2, UnknownEncodingIsUnimplemented)
{
    Client p;
    int32_t id = p.send(grpc_frame("x", true), { { "grpc-encoding", "brotli" } });
    p.pump();
    expect_trailers_only(p.resp[id], 12);
    EXPECT_EQ("identity,gzip,deflate,zstd,snappy", p.resp[id].headers["grpc-accept-encoding"]);
}

TEST(H2, CompressedFlagWithoutEncodingIsInternal)
{
    for (const char *enc : { "", "identity" }) {
        Client p;
        std::vector<std::pair<std::string, std::string>> extra;
        if (*enc)
            extra.push_back({ "grpc-encoding", enc });
        int32_t id = p.send(grpc_frame("x", true), extra);
        p.pump();
        EXPECT_EQ(0u, p.h.requests.size());
        expect_trailers_only(p.resp[id], 13);
    }
}

TEST(H2, MalformedFraming)
{
    struct {
        std::string body;
        int status;
    } cases[] = {
        { grpc_frame("hello").substr(0, 7), 13 },  // length prefix longer than the data
        { std::string("\0\0\0", 3), 13 },          // partial prefix
        { "", 12 },                                // no message: cardinality
        { grpc_frame("a") + grpc_frame("b"), 12 }, // two messages: cardinality
        { std::string("\x02\0\0\0\0", 5), 13 },    // bad compressed flag
        { grpc_frame("x", false) + "junk", 12 },   // trailing bytes
        { grpc_frame("not-gzip", true), 13 },      // gzip that is not gzip (below)
    };
    for (auto &cs : cases) {
        Client p;
        std::vector<std::pair<std::string, std::string>> extra;
        if (&cs == &cases[6])
            extra.push_back({ "grpc-encoding", "gzip" });
        int32_t id = p.send(cs.body, extra);
        p.pump();
        EXPECT_EQ(0u, p.h.requests.size());
        expect_trailers_only(p.resp[id], cs.status);
    }
}

TEST(H2, MethodAndContentType)
{
    {
        Client p;
        int32_t id = p.send(grpc_frame("x"), {}, "PUT");
        p.pump();
        expect_trailers_only(p.resp[id], lr_err_lookup(LR_E_METHOD)->grpc_status, "405");
    }
    for (const char *ct : { "application/json", "application/grpcx", "text/plain" }) {
        Client p;
        int32_t id = p.send(grpc_frame("x"), {}, "POST", ct);
        p.pump();
        expect_trailers_only(p.resp[id], lr_err_lookup(LR_E_MEDIA_TYPE)->grpc_status, "415");
    }
    for (const char *ct : { "application/grpc+proto", "application/grpc;charset=utf-8" }) {
        Client p;
        int32_t id = p.send(grpc_frame("x"), {}, "POST", ct);
        p.pump();
        EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
        EXPECT_EQ(ct, p.resp[id].headers["content-type"]);
        EXPECT_EQ(ct, p.h.requests.at(0).ctype);
    }
}

TEST(H2, MalformedTimeoutIsInternal)
{
    Client p;
    int32_t id = p.send(grpc_frame("x"), { { "grpc-timeout", "123456789S" } });
    p.pump();
    expect_trailers_only(p.resp[id], 13);
}

TEST(H2, GrpcTimeoutHonoured)
{
    Client p;
    p.pump();
    // A stream whose body has not arrived when its 100 ms grpc-timeout passes is answered
    // DEADLINE_EXCEEDED (4) on the next tick, long before the header timeout.
    int32_t id = p.send("", { { "grpc-timeout", "100m" } }, "POST", "application/grpc", false);
    p.pump();
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now + 101 * kMs));
    p.pump();
    expect_trailers_only(p.resp[id], 4);
    // Within its deadline a call is served normally.
    int32_t ok = p.send(grpc_frame("a"), { { "grpc-timeout", "5S" } });
    p.pump();
    EXPECT_EQ("0", p.resp[ok].trailers["grpc-status"]);
}

TEST(H2, StatusMessageAndDetailsInTrailers)
{
    Client p;
    p.h.grpc_message = "50% done\n\xe2\x9c\x93";
    p.h.details = std::string("\x08\x03\x12\x01x", 5);
    int32_t id = p.send(grpc_frame("x"));
    p.pump();
    Resp &r = p.resp[id];
    EXPECT_EQ("0", r.trailers["grpc-status"]);
    EXPECT_EQ("50%25 done%0A%E2%9C%93", r.trailers["grpc-message"]);
    EXPECT_EQ("CAMSAXg", r.trailers["grpc-status-details-bin"]);
    // An error with details: Trailers-Only carries them.
    p.h.status = 3;
    int32_t id2 = p.send(grpc_frame("x"));
    p.pump();
    expect_trailers_only(p.resp[id2], 3);
    EXPECT_EQ("CAMSAXg", p.resp[id2].headers["grpc-status-details-bin"]);
}

// ---- gRPC wire helpers --------------------------------------------------------------------

TEST(GrpcFrame, TimeoutTable)
{
    struct {
        const char *v;
        int rc;
        uint64_t ns;
    } t[] = {
        { "1H", 0, 3600 * kSec },
        { "2M", 0, 120 * kSec },
        { "10S", 0, 10 * kSec },
        { "9969m", 0, 9969 * kMs },
        { "7u", 0, 7000 },
        { "99999999n", 0, 99999999 },
        { "0S", 0, 0 },
        { "00000001m", 0, kMs },
        { "99999999H", 0, UINT64_MAX },
        { "", LR_E_MALFORMED, 0 },
        { "S", LR_E_MALFORMED, 0 },
        { "5", LR_E_MALFORMED, 0 },
        { "123456789S", LR_E_MALFORMED, 0 },
        { "5s", LR_E_MALFORMED, 0 },
        { "-5S", LR_E_MALFORMED, 0 },
        { " 5S", LR_E_MALFORMED, 0 },
        { "5 S", LR_E_MALFORMED, 0 },
        { "5SS", LR_E_MALFORMED, 0 },
        { "1x", LR_E_MALFORMED, 0 },
    };
    for (auto &e : t) {
        SCOPED_TRACE(e.v);
        uint64_t ns = 42;
        EXPECT_EQ(e.rc, lr_dp_grpc_timeout_parse(lr_slice_make(e.v, strlen(e.v)), &ns));
        if (e.rc == 0) {
            EXPECT_EQ(e.ns, ns);
        }
    }
}

TEST(GrpcFrame, PercentEncoding)
{
    struct {
        std::string in, out;
    } t[] = {
        { "", "" },
        { "plain ASCII text ~!", "plain ASCII text ~!" },
        { "100%", "100%25" },
        { "a\tb\r\nc", "a%09b%0D%0Ac" },
        { "\x7f\x80\xff", "%7F%80%FF" },
        { "caf\xc3\xa9", "caf%C3%A9" },
    };
    for (auto &e : t) {
        char buf[64];
        size_t n = lr_dp_grpc_percent_encode(reinterpret_cast<const uint8_t *>(e.in.data()),
                                             e.in.size(), buf, sizeof buf);
        EXPECT_EQ(e.out, std::string(buf, n));
    }
    // Truncation never splits an escape.
    char small[5];
    size_t full = lr_dp_grpc_percent_encode(reinterpret_cast<const uint8_t *>("ab%%"), 4, small, 5);
    EXPECT_EQ(8u, full);
    EXPECT_EQ("ab%25", std::string(small, 5));
    size_t f2 = lr_dp_grpc_percent_encode(reinterpret_cast<const uint8_t *>("abc%"), 4, small, 5);
    EXPECT_EQ(6u, f2);
}

TEST(GrpcFrame, Base64NoPadding)
{
    struct {
        std::string in, out;
    } t[] = { { "", "" },
              { "f", "Zg" },
              { "fo", "Zm8" },
              { "foo", "Zm9v" },
              { "foob", "Zm9vYg" },
              { "fooba", "Zm9vYmE" },
              { "foobar", "Zm9vYmFy" },
              { "\xfb\xff", "+/8" } };
    for (auto &e : t) {
        std::string out(lr_dp_grpc_base64_len(e.in.size()), '?');
        size_t n = lr_dp_grpc_base64_encode(reinterpret_cast<const uint8_t *>(e.in.data()),
                                            e.in.size(), out.data());
        EXPECT_EQ(e.out.size(), n);
        EXPECT_EQ(e.out, out.substr(0, n));
    }
}

TEST(GrpcFrame, MessageParseEveryPrefix)
{
    std::string f = grpc_frame("hello world");
    for (size_t i = 0; i <= f.size(); i++) {
        lr_dp_grpc_msg m;
        int rc =
            lr_dp_grpc_msg_parse(reinterpret_cast<const uint8_t *>(f.data()), i, 100, &m, nullptr);
        EXPECT_EQ(i == f.size() ? 0 : LR_E_INCOMPLETE, rc) << i;
        if (rc == 0) {
            EXPECT_EQ("hello world", S(m.payload));
        }
    }
    lr_dp_grpc_msg m;
    EXPECT_EQ(LR_E_TOO_LARGE, lr_dp_grpc_msg_parse(reinterpret_cast<const uint8_t *>(f.data()), 5,
                                                   10, &m, nullptr));
    std::string two = f + f;
    EXPECT_EQ(LR_E_NOT_IMPLEMENTED,
              lr_dp_grpc_msg_parse(reinterpret_cast<const uint8_t *>(two.data()), two.size(), 100,
                                   &m, nullptr));
}

// ---- defences -----------------------------------------------------------------------------

TEST(H2Defence, RapidReset)
{
    Raw r;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    std::string in = preface_and_settings();
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t sid = 1 + 2 * i;
        in += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, sid, hpack(d, req_headers()));
        in += frame(NGHTTP2_RST_STREAM, 0, sid, std::string("\0\0\0\x08", 4));
    }
    nghttp2_hd_deflate_del(d);
    EXPECT_EQ(LR_E_OVERLOADED, r.feed(in));
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    EXPECT_EQ(NGHTTP2_ENHANCE_YOUR_CALM, goaway_code(r.out));
    EXPECT_TRUE(lr_h2_conn_output(r.srv).len == 0);
    // Further feeds are refused.
    EXPECT_EQ(LR_E_OVERLOADED, r.feed("x"));
}

TEST(H2Defence, ResetsUnderTheRateAreFine)
{
    Raw r;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    EXPECT_GT(r.feed(preface_and_settings()), 0);
    for (uint32_t i = 0; i < 200; i++) {
        uint32_t sid = 1 + 2 * i;
        std::string in =
            frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, sid, hpack(d, req_headers())) +
            frame(NGHTTP2_RST_STREAM, 0, sid, std::string("\0\0\0\x08", 4));
        r.now += 100 * kMs; // 10 per second
        EXPECT_GT(r.feed(in), 0);
    }
    nghttp2_hd_deflate_del(d);
    EXPECT_FALSE(lr_h2_conn_closing(r.srv));
}

TEST(H2Defence, ContinuationFlood)
{
    // HEADERS without END_HEADERS, then CONTINUATION frames of junk literal headers without end.
    // Bound stated: the connection dies once the block's wire bytes pass max_header_list_bytes +
    // 1 KiB (17 KiB by default), and the engine's memory grows by less than 256 KiB meanwhile.
    Raw r;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    size_t before = allocated_bytes();
    std::string in = preface_and_settings() + frame(NGHTTP2_HEADERS, 0, 1, hpack(d, req_headers()));
    ssize_t rc = r.feed(in);
    EXPECT_GT(rc, 0);
    int frames = 0;
    for (; frames < 100000 && rc > 0; frames++) {
        // Literal without indexing, new name: 0x00, len, name, len, value.
        std::string junk = std::string("\x00\x08", 2) + "x-junk-" + std::to_string(frames % 10) +
                           std::string("\x7f\x00", 2) + std::string(127, 'v');
        rc = r.feed(frame(NGHTTP2_CONTINUATION, 0, 1, junk));
        size_t now = allocated_bytes();
        if (now > before) {
            EXPECT_LT(now - before, 256u << 10);
        }
    }
    nghttp2_hd_deflate_del(d);
    EXPECT_LT(rc, 0);
    EXPECT_LT(frames, 200); // 17 KiB / 139 bytes per frame, or nghttp2's own CONTINUATION cap
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    EXPECT_NE(-1, goaway_code(r.out));
}

TEST(H2Defence, ContinuationFloodEmptyFrames)
{
    Raw r;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    std::string in = preface_and_settings() + frame(NGHTTP2_HEADERS, 0, 1, hpack(d, req_headers()));
    nghttp2_hd_deflate_del(d);
    for (int i = 0; i < 1000; i++)
        in += frame(NGHTTP2_CONTINUATION, 0, 1, "");
    EXPECT_LT(r.feed(in), 0);
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
}

TEST(H2Defence, HpackBomb)
{
    // One 4000-byte header enters the dynamic table, then is referenced by a 1-byte index many
    // times: the decoded list passes max_header_list_bytes: the stream is refused, memory stays
    // bounded (no copy per reference).
    Raw r;
    std::string big(4000, 'b');
    std::string block;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    block = hpack(d, req_headers());
    nghttp2_hd_deflate_del(d);
    // Literal with incremental indexing, new name (0x40): "x-bomb" = big. Then index 62 repeated.
    std::string lit = std::string("\x40\x06", 2) + "x-bomb";
    lit += '\x7f';
    size_t v = big.size() - 127;
    while (v >= 128) {
        lit += static_cast<char>((v & 127) | 128);
        v >>= 7;
    }
    lit += static_cast<char>(v);
    lit += big;
    block += lit;
    block += std::string(16384, '\xbe'); // indexed field 62 = x-bomb
    size_t before = allocated_bytes();
    // One frame of at most 16 KiB (SETTINGS_MAX_FRAME_SIZE): ~12000 references, 48 MB decoded.
    std::string in = preface_and_settings() +
                     frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                           block.substr(0, 16384));
    r.feed(in);
    size_t after = allocated_bytes();
    if (after > before) {
        EXPECT_LT(after - before, 1u << 20);
    }
    EXPECT_EQ(0u, r.h.requests.size());
    // Decoding to thousands of times its wire size is a bomb: GOAWAY(ENHANCE_YOUR_CALM) and the
    // connection closes.
    EXPECT_EQ(LR_E_HEADERS, r.last);
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    EXPECT_EQ(NGHTTP2_ENHANCE_YOUR_CALM, goaway_code(r.out));
}

TEST(H2Defence, HpackBombThroughClient)
{
    // The same with a real client: a header list just over the limit is refused with the table's
    // status for LR_E_HEADERS, and the connection goes on.
    Client p;
    int32_t id =
        p.send(grpc_frame("x"), { { "x-big", std::string(p.lim.max_header_list_bytes, 'v') } });
    p.pump();
    EXPECT_EQ(0u, p.h.requests.size());
    Resp &r = p.resp[id];
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(std::to_string(lr_err_lookup(LR_E_HEADERS)->grpc_status), r.headers["grpc-status"]);
    int32_t id2 = p.send(grpc_frame("x"));
    p.pump();
    EXPECT_EQ("0", p.resp[id2].trailers["grpc-status"]);
}

void flood(const std::string &one, int n, bool expect_calm = true)
{
    Raw r;
    std::string in = preface_and_settings();
    for (int i = 0; i < n; i++)
        in += one;
    ssize_t rc = r.feed(in);
    EXPECT_LT(rc, 0);
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    if (expect_calm) {
        EXPECT_EQ(NGHTTP2_ENHANCE_YOUR_CALM, goaway_code(r.out));
    }
}

TEST(H2Defence, SettingsFlood)
{
    flood(frame(NGHTTP2_SETTINGS, 0, 0, ""), 1000);
}

TEST(H2Defence, PingFloodWithoutReadingAcks)
{
    Raw r;
    std::string in = preface_and_settings();
    ssize_t rc = r.feed(in);
    EXPECT_GT(rc, 0);
    std::string ping = frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
    for (int i = 0; i < 10000 && rc > 0; i++)
        rc = lr_h2_conn_feed(r.srv, reinterpret_cast<const uint8_t *>(ping.data()), ping.size(),
                             r.now); // output never read
    EXPECT_LT(rc, 0);
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    EXPECT_LT(lr_h2_conn_output(r.srv).len, 256u << 10);
}

TEST(H2Defence, WindowUpdateAndPriorityFloods)
{
    flood(frame(NGHTTP2_WINDOW_UPDATE, 0, 0, std::string("\0\0\0\x01", 4)), 1000);
    flood(frame(NGHTTP2_PRIORITY, 0, 3, std::string("\0\0\0\0\x10", 5)), 1000);
    flood(frame(0x42 /* unknown extension */, 0, 0, "zz"), 1000);
}

TEST(H2Defence, EmptyDataFlood)
{
    Raw r;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    std::string in = preface_and_settings() +
                     frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, hpack(d, req_headers()));
    nghttp2_hd_deflate_del(d);
    for (int i = 0; i < 1000; i++)
        in += frame(NGHTTP2_DATA, 0, 1, "");
    EXPECT_EQ(LR_E_OVERLOADED, r.feed(in));
    EXPECT_EQ(NGHTTP2_ENHANCE_YOUR_CALM, goaway_code(r.out));
    // Padding-only DATA counts as empty too.
    Raw r2;
    nghttp2_hd_deflate_new(&d, 4096);
    in = preface_and_settings() +
         frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, hpack(d, req_headers()));
    nghttp2_hd_deflate_del(d);
    for (int i = 0; i < 1000; i++)
        in += frame(NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1, std::string("\x03\0\0\0", 4));
    EXPECT_EQ(LR_E_OVERLOADED, r2.feed(in));
}

TEST(H2Defence, HeaderTimeout)
{
    Raw r;
    EXPECT_GT(r.feed(LR_H2_PREFACE), 0);
    EXPECT_EQ(0, lr_h2_conn_tick(r.srv, r.now + r.lim.header_timeout_ns - 1));
    EXPECT_EQ(LR_E_TIMEOUT, lr_h2_conn_tick(r.srv, r.now + r.lim.header_timeout_ns));
    r.drain();
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
    EXPECT_EQ(NGHTTP2_NO_ERROR, goaway_code(r.out));
}

TEST(H2Defence, SlowStreamIsReset)
{
    Client p;
    p.pump();
    // One call completes, so the connection-level timer is over; then a stream that never ends.
    int32_t a = p.send(grpc_frame("a"));
    p.pump();
    EXPECT_EQ("0", p.resp[a].trailers["grpc-status"]);
    int32_t id = p.send("", {}, "POST", "application/grpc", false);
    p.pump();
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now + p.lim.header_timeout_ns));
    p.pump();
    EXPECT_TRUE(p.resp[id].closed);
    EXPECT_EQ(static_cast<uint32_t>(NGHTTP2_CANCEL), p.resp[id].close_code);
    EXPECT_TRUE(lr_h2_conn_idle(p.srv));
}

TEST(H2Defence, IdleTimeout)
{
    Client p;
    int32_t id = p.send(grpc_frame("a"));
    p.pump();
    EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now + p.lim.idle_timeout_ns - 1));
    EXPECT_EQ(LR_E_TIMEOUT, lr_h2_conn_tick(p.srv, p.now + p.lim.idle_timeout_ns));
    p.pump();
    EXPECT_TRUE(p.goaway);
    EXPECT_EQ(static_cast<uint32_t>(NGHTTP2_NO_ERROR), p.goaway_code);
    EXPECT_TRUE(lr_h2_conn_closing(p.srv));
}

TEST(H2Defence, ZeroWindowStall)
{
    Client p(test_limits(), true, 0 /* client stream window */);
    int32_t id = p.send(grpc_frame("a"));
    p.pump();
    ASSERT_EQ(1u, p.h.requests.size());
    EXPECT_EQ("200", p.resp[id].headers[":status"]);
    EXPECT_EQ("", p.resp[id].data); // stuck behind the zero window
    uint64_t t = p.now;
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, t + 1));
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, t + p.lim.send_timeout_ns - 1));
    EXPECT_EQ(LR_E_TIMEOUT, lr_h2_conn_tick(p.srv, t + p.lim.send_timeout_ns + 1));
    EXPECT_TRUE(lr_h2_conn_closing(p.srv));
    EXPECT_EQ(0u, lr_h2_conn_output(p.srv).len);
}

TEST(H2Defence, UnreadOutputStall)
{
    Client p;
    p.read_output = false;
    for (int i = 0; i < 5; i++)
        p.send(grpc_frame("a"));
    p.pump();
    EXPECT_GT(lr_h2_conn_output(p.srv).len, 0u);
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now));
    EXPECT_EQ(LR_E_TIMEOUT, lr_h2_conn_tick(p.srv, p.now + p.lim.send_timeout_ns));
    EXPECT_TRUE(lr_h2_conn_closing(p.srv));
}

TEST(H2, PrefaceByteAtATime)
{
    Client p;
    int32_t id = p.send(grpc_frame("one byte at a time"));
    const uint8_t *d;
    ssize_t n;
    std::string all;
    while ((n = nghttp2_session_mem_send(p.cli, &d)) > 0)
        all.append(reinterpret_cast<const char *>(d), static_cast<size_t>(n));
    for (char ch : all)
        ASSERT_EQ(1, lr_h2_conn_feed(p.srv, reinterpret_cast<const uint8_t *>(&ch), 1, p.now));
    p.pump();
    ASSERT_EQ(1u, p.h.requests.size());
    EXPECT_EQ("one byte at a time", p.h.requests[0].message);
    EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
}

TEST(H2, GarbagePreface)
{
    Raw r;
    EXPECT_LT(r.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    EXPECT_TRUE(lr_h2_conn_closing(r.srv));
}

TEST(H2, GracefulShutdown)
{
    Client p;
    int32_t open = p.send("", {}, "POST", "application/grpc", false);
    p.pump();
    lr_h2_conn_shutdown(p.srv);
    p.pump();
    EXPECT_TRUE(p.goaway);
    EXPECT_FALSE(lr_h2_conn_closing(p.srv));
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now));
    EXPECT_EQ(0, lr_h2_conn_tick(p.srv, p.now + kSec));
    p.pump();
    EXPECT_FALSE(lr_h2_conn_idle(p.srv));
    nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, open, NGHTTP2_CANCEL);
    p.pump();
    EXPECT_TRUE(lr_h2_conn_idle(p.srv));
    EXPECT_TRUE(lr_h2_conn_closing(p.srv));
}

TEST(H2, EofClosesWhenIdle)
{
    Client p;
    int32_t id = p.send(grpc_frame("a"));
    p.pump();
    EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
    lr_h2_conn_eof(p.srv);
    EXPECT_TRUE(lr_h2_conn_closing(p.srv));
}

TEST(H2, NewRejectsBadLimits)
{
    lr_h2_limits l = test_limits();
    l.max_message_bytes = 0;
    lr_h2_handler hd{};
    hd.on_request = on_request_cb;
    EXPECT_EQ(nullptr, lr_h2_conn_new(&l, &hd, 0));
    EXPECT_EQ(EINVAL, errno);
    lr_h2_conn_free(nullptr);
}

// ---- captured calls of the OpenTelemetry JS exporters -------------------------------------

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string fixture_dir()
{
    return lr_fixture_dir() + "/";
}

TEST(H2, OtlpJsFixtures)
{
    std::string dir = fixture_dir();
    for (const char *sig : { "traces", "metrics", "logs" }) {
        for (const char *kind : { "grpc", "grpc-gzip" }) {
            SCOPED_TRACE(std::string(sig) + "." + kind);
            std::string frames = slurp(dir + sig + "." + kind + ".grpcframes");
            std::string json = slurp(dir + sig + "." + kind + ".headers.json");
            ASSERT_GT(frames.size(), 5u);
            ASSERT_FALSE(json.empty());
            std::vector<std::pair<std::string, std::string>> hs;
            // "name": "value" pairs (the fixtures hold no escapes).
            for (size_t i = 0; (i = json.find('"', i)) != std::string::npos;) {
                size_t e = json.find('"', i + 1);
                size_t colon = json.find_first_not_of(" \t", e + 1);
                if (e == std::string::npos || colon == std::string::npos || json[colon] != ':') {
                    i = e == std::string::npos ? e : e + 1;
                    continue;
                }
                size_t v = json.find_first_not_of(" \t", colon + 1);
                if (json[v] != '"') {
                    i = v;
                    continue;
                }
                size_t ve = json.find('"', v + 1);
                hs.push_back({ json.substr(i + 1, e - i - 1), json.substr(v + 1, ve - v - 1) });
                i = ve + 1;
            }
            std::vector<nghttp2_nv> nv;
            for (auto &e : hs)
                nv.push_back({ (uint8_t *)e.first.data(), (uint8_t *)e.second.data(),
                               e.first.size(), e.second.size(), NGHTTP2_NV_FLAG_NONE });
            Client p;
            p.keep.push_back(std::make_unique<Body>());
            p.keep.back()->bytes = frames;
            nghttp2_data_provider prd{};
            prd.source.ptr = p.keep.back().get();
            prd.read_callback = Pair::read_body;
            int32_t id =
                nghttp2_submit_request(p.cli, nullptr, nv.data(), nv.size(), &prd, nullptr);
            p.pump();
            ASSERT_EQ(1u, p.h.requests.size());
            std::string payload = frames.substr(5);
            std::string want = payload;
            if (frames[0] == 1) {
                lr_dp_buf b{};
                ASSERT_EQ(0, lr_dp_codec_decode(LR_CODEC_GZIP,
                                                reinterpret_cast<const uint8_t *>(payload.data()),
                                                payload.size(), 1 << 20, &b));
                want.assign(reinterpret_cast<char *>(b.p), b.len);
                free(b.p);
                EXPECT_EQ("gzip", p.h.requests[0].encoding);
            }
            EXPECT_EQ(want, p.h.requests[0].message);
            EXPECT_GT(p.h.requests[0].timeout_ns, 9 * kSec);
            // The HTTP/protobuf capture of the same signal comes from another run: same shape.
            std::string pb = slurp(dir + sig + ".http-protobuf.body");
            EXPECT_NEAR(static_cast<double>(pb.size()), static_cast<double>(want.size()), 16.0);
            EXPECT_EQ(pb[0], want[0]); // field 1 (resource_*), length-delimited
            EXPECT_EQ("0", p.resp[id].trailers["grpc-status"]);
            EXPECT_EQ(grpc_frame("reply"), p.resp[id].data);
        }
    }
}

} // namespace
