// Tests for dataplane/tcp.c: a peer harness crafts IPv4+TCP segments (with correct or broken
// checksums), feeds them to the stack on a fake clock, and parses what the stack sends and what it
// tells the application.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/tcp.h"
}

namespace
{

constexpr uint64_t kMs = 1000000ull;
constexpr uint32_t kLocal = 0x0a000001; // 10.0.0.1
constexpr uint32_t kPeer = 0x0a000002;  // 10.0.0.2
constexpr uint16_t kPort = 4318;

enum : uint8_t { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };

void put16(std::vector<uint8_t> &v, size_t at, uint16_t x)
{
    v[at] = uint8_t(x >> 8);
    v[at + 1] = uint8_t(x);
}
void put32(std::vector<uint8_t> &v, size_t at, uint32_t x)
{
    put16(v, at, uint16_t(x >> 16));
    put16(v, at + 2, uint16_t(x));
}
uint16_t get16(const uint8_t *p)
{
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t *p)
{
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

struct Opts {
    int mss = -1, ws = -1;
    bool sack = false, ts = false;
    uint32_t tsval = 0, tsecr = 0;
};

// A segment the stack sent, parsed.
struct Out {
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0, win = 0, ip_flags = 0;
    uint8_t ttl = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    int mss = -1, ws = -1;
    bool sack_ok = false, ts = false;
    uint32_t tsval = 0, tsecr = 0;
    std::vector<std::pair<uint32_t, uint32_t>> sack;
    std::string data;
    bool csum_ok = false;
    // As a port with TX checksum offload finishes it: the IPv4 checksum field is 0 and the TCP
    // field holds the pseudo-header sum, so summing the segment as it is gives the checksum.
    bool offload_ok = false;
};

Out parse(const uint8_t *p, size_t n)
{
    Out o;
    size_t ihl = (p[0] & 15) * 4;
    o.ip_flags = get16(p + 6);
    o.ttl = p[8];
    o.src = get32(p + 12);
    o.dst = get32(p + 16);
    const uint8_t *t = p + ihl;
    size_t tl = n - ihl;
    uint8_t ph[12];
    memcpy(ph, p + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    ph[10] = uint8_t(tl >> 8);
    ph[11] = uint8_t(tl);
    o.csum_ok =
        lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, p, ihl)) == 0 &&
        lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), t, tl)) == 0 &&
        get16(p + 2) == n;
    {
        std::vector<uint8_t> seg(t, t + tl), zeroed = seg;
        zeroed[16] = zeroed[17] = 0;
        uint16_t want = lr_dp_tcp_csum_fold(
            lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), zeroed.data(), tl));
        uint16_t port = lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, seg.data(), tl));
        o.offload_ok = get16(p + 10) == 0 && port == want && get16(p + 2) == n;
    }
    o.sport = get16(t);
    o.dport = get16(t + 2);
    o.seq = get32(t + 4);
    o.ack = get32(t + 8);
    size_t thl = (t[12] >> 4) * 4;
    o.flags = t[13];
    o.win = get16(t + 14);
    for (size_t i = 20; i < thl;) {
        uint8_t k = t[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        uint8_t l = t[i + 1];
        if (k == 2)
            o.mss = get16(t + i + 2);
        if (k == 3)
            o.ws = t[i + 2];
        if (k == 4)
            o.sack_ok = true;
        if (k == 8) {
            o.ts = true;
            o.tsval = get32(t + i + 2);
            o.tsecr = get32(t + i + 6);
        }
        if (k == 5)
            for (size_t j = 2; j + 8 <= l; j += 8)
                o.sack.push_back({ get32(t + i + j), get32(t + i + j + 4) });
        i += l;
    }
    o.data.assign(reinterpret_cast<const char *>(t + thl), tl - thl);
    return o;
}

struct Harness;

struct App {
    Harness *h = nullptr;
    std::string got;
    int fins = 0, closes = 0;
};

struct Harness {
    lr_dp_tcp_cfg cfg{};
    lr_dp_tcp *s = nullptr;
    uint64_t now = 1000 * kMs;
    std::vector<Out> out;
    // application behaviour
    size_t take = SIZE_MAX; // bytes on_data takes per call
    bool refuse = false;
    int opens = 0, closes = 0, fins = 0;
    std::string got;
    lr_dp_tcp_conn *conn = nullptr;
    std::function<void(lr_dp_tcp_conn *)> on_data_hook;
    std::function<void(lr_dp_tcp_conn *)> on_fin_hook;
    std::vector<App> apps;

    // peer
    uint16_t pport = 40000;
    uint32_t pseq = 1000; // next sequence number the peer sends
    uint32_t pack = 0;    // what the peer acknowledges
    bool ts = false;
    uint32_t tsval = 500;
    uint16_t pwin = 65535;

    explicit Harness(uint32_t max_conns = 8, uint32_t syn_queue = 4, uint32_t rcv = 8192,
                     uint32_t snd = 65536)
    {
        cfg.local_ip = kLocal;
        cfg.port = kPort;
        cfg.max_conns = max_conns;
        cfg.syn_queue = syn_queue;
        cfg.rcv_buf_bytes = rcv;
        cfg.snd_buf_bytes = snd;
        cfg.mss = 1460;
        cfg.wscale = 7;
        cfg.idle_timeout_ms = 30000;
        cfg.secret[0] = 0x01234567;
        cfg.secret[1] = 0x89abcdef;
        cfg.secret[2] = 0xdeadbeef;
        cfg.secret[3] = 0x5eed5eed;
        apps.reserve(64);
    }
    ~Harness() { lr_dp_tcp_free(s); }
    void start()
    {
        static const lr_dp_tcp_ops ops = {
            [](void *ctx, const uint8_t *p, size_t n) {
                static_cast<Harness *>(ctx)->out.push_back(parse(p, n));
            },
            [](void *ctx, lr_dp_tcp_conn *c) -> void * {
                auto *h = static_cast<Harness *>(ctx);
                h->opens++;
                if (h->refuse)
                    return nullptr;
                h->conn = c;
                h->apps.push_back(App{});
                h->apps.back().h = h;
                return &h->apps.back();
            },
            [](void *app, lr_dp_tcp_conn *c, const uint8_t *p, size_t n) -> size_t {
                auto *a = static_cast<App *>(app);
                size_t k = n < a->h->take ? n : a->h->take;
                a->got.append(reinterpret_cast<const char *>(p), k);
                a->h->got.append(reinterpret_cast<const char *>(p), k);
                if (a->h->on_data_hook)
                    a->h->on_data_hook(c);
                return k;
            },
            [](void *app, lr_dp_tcp_conn *c) {
                auto *a = static_cast<App *>(app);
                a->fins++;
                a->h->fins++;
                if (a->h->on_fin_hook)
                    a->h->on_fin_hook(c);
            },
            [](void *app, lr_dp_tcp_conn *c) {
                auto *a = static_cast<App *>(app);
                a->closes++;
                a->h->closes++;
                if (a->h->conn == c)
                    a->h->conn = nullptr;
            },
            nullptr,
        };
        lr_dp_tcp_ops o = ops;
        o.ctx = this;
        s = lr_dp_tcp_new(&cfg, &o);
        ASSERT_NE(s, nullptr);
    }

    std::vector<uint8_t> build(uint8_t flags, uint32_t seq, uint32_t ack, const std::string &data,
                               const Opts &o, uint16_t win, uint16_t sport)
    {
        std::vector<uint8_t> opt;
        if (o.mss >= 0) {
            opt.insert(opt.end(), { 2, 4, uint8_t(o.mss >> 8), uint8_t(o.mss) });
        }
        if (o.sack)
            opt.insert(opt.end(), { 1, 1, 4, 2 });
        if (o.ts) {
            opt.insert(opt.end(), { 1, 1, 8, 10 });
            for (uint32_t v : { o.tsval, o.tsecr })
                opt.insert(opt.end(),
                           { uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v) });
        }
        if (o.ws >= 0)
            opt.insert(opt.end(), { 1, 3, 3, uint8_t(o.ws) });
        size_t thl = 20 + opt.size();
        size_t tot = 20 + thl + data.size();
        std::vector<uint8_t> p(tot, 0);
        p[0] = 0x45;
        put16(p, 2, uint16_t(tot));
        put16(p, 6, 0x4000);
        p[8] = 64;
        p[9] = 6;
        put32(p, 12, kPeer);
        put32(p, 16, kLocal);
        put16(p, 10, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, p.data(), 20)));
        put16(p, 20, sport);
        put16(p, 22, kPort);
        put32(p, 24, seq);
        put32(p, 28, ack);
        p[32] = uint8_t((thl / 4) << 4);
        p[33] = flags;
        put16(p, 34, win);
        if (!opt.empty())
            memcpy(p.data() + 40, opt.data(), opt.size());
        if (!data.empty())
            memcpy(p.data() + 20 + thl, data.data(), data.size());
        uint8_t ph[12];
        memcpy(ph, p.data() + 12, 8);
        ph[8] = 0;
        ph[9] = 6;
        ph[10] = uint8_t((thl + data.size()) >> 8);
        ph[11] = uint8_t(thl + data.size());
        put16(p, 36,
              lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), p.data() + 20,
                                                     thl + data.size())));
        return p;
    }
    void feed(const std::vector<uint8_t> &p) { lr_dp_tcp_input(s, p.data(), p.size(), now); }
    // The peer sends a segment at its current sequence number and ACK (advances pseq).
    void send(uint8_t flags, const std::string &data = "", uint16_t sport = 0)
    {
        Opts o;
        if (ts) {
            o.ts = true;
            o.tsval = tsval;
            o.tsecr = last_tsval;
        }
        feed(build(flags, pseq, pack, data, o, pwin, sport ? sport : pport));
        pseq += uint32_t(data.size()) + ((flags & (SYN | FIN)) ? 1 : 0);
    }
    // A segment at an explicit sequence number (does not move pseq).
    void send_at(uint8_t flags, uint32_t seq, const std::string &data = "", uint32_t tv = 0)
    {
        Opts o;
        if (ts) {
            o.ts = true;
            o.tsval = tv ? tv : tsval;
            o.tsecr = last_tsval;
        }
        feed(build(flags, seq, pack, data, o, pwin, pport));
    }
    uint32_t last_tsval = 0;
    Out synack;
    // Three-way handshake with the given SYN options; returns false when no SYN-ACK came.
    bool open(const Opts &o = Opts(), uint16_t sport = 0)
    {
        if (sport)
            pport = sport;
        ts = o.ts;
        tsval = o.tsval + 1;
        out.clear();
        pseq = 1000;
        feed(build(SYN, pseq, 0, "", o, 65535, pport));
        pseq++;
        if (out.size() != 1 || out[0].flags != (SYN | ACK))
            return false;
        synack = out[0];
        pack = synack.seq + 1;
        last_tsval = synack.tsval;
        out.clear();
        send(ACK);
        return true;
    }
    Out last() const { return out.empty() ? Out() : out.back(); }
    void tick(uint64_t ms)
    {
        now += ms * kMs;
        lr_dp_tcp_tick(s, now);
    }
    const struct lr_dp_tcp_stats &st() const { return *lr_dp_tcp_stats(s); }
};

std::string bytes(size_t n, char base = 'a')
{
    std::string r(n, 0);
    for (size_t i = 0; i < n; i++)
        r[i] = char(base + i % 26);
    return r;
}

TEST(TcpCsum, Rfc1071Example)
{
    const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    // The partial sum is any value congruent to 0x2ddf0 (the RFC's unfolded sum).
    EXPECT_EQ(lr_dp_tcp_csum_add(0, b, 8) % 0xffff, 0x2ddf0u % 0xffff);
    EXPECT_EQ(lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, b, 8)), uint16_t(~0xddf2));
    // odd length pads with zero
    const uint8_t c[] = { 0x12, 0x34, 0x56 };
    EXPECT_EQ(lr_dp_tcp_csum_add(0, c, 3) % 0xffff, (0x1234u + 0x5600u) % 0xffff);
    // Against the 16-bit big-endian definition, for every length and split of a buffer.
    uint8_t d[301];
    for (size_t i = 0; i < sizeof(d); i++)
        d[i] = uint8_t(i * 131 + 7);
    for (size_t n = 0; n <= sizeof(d); n++) {
        uint64_t ref = 0;
        for (size_t i = 0; i + 1 < n; i += 2)
            ref += uint32_t(d[i] << 8 | d[i + 1]);
        if (n & 1)
            ref += uint32_t(d[n - 1]) << 8;
        while (ref >> 16)
            ref = (ref & 0xffff) + (ref >> 16);
        size_t half = (n / 2) & ~size_t(1); // pieces before the last have even length
        uint32_t split = lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, d, half), d + half, n - half);
        EXPECT_EQ(lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, d, n)), uint16_t(~ref)) << n;
        EXPECT_EQ(lr_dp_tcp_csum_fold(split), uint16_t(~ref)) << n;
    }
}

TEST(TcpNew, RejectsBadConfig)
{
    Harness h;
    h.cfg.max_conns = 0;
    lr_dp_tcp_ops ops{};
    EXPECT_EQ(lr_dp_tcp_new(&h.cfg, &ops), nullptr);
    EXPECT_EQ(errno, EINVAL);
}

struct HsCase {
    const char *name;
    Opts syn;
    int want_ws; // -1: none
    bool want_sack, want_ts;
    size_t want_seg; // payload per segment we send
};

TEST(TcpHandshake, OptionNegotiation)
{
    Opts all;
    all.mss = 1460;
    all.ws = 7;
    all.sack = true;
    all.ts = true;
    all.tsval = 777;
    Opts none;
    Opts mss_only;
    mss_only.mss = 1000;
    Opts ts_only;
    ts_only.mss = 1460;
    ts_only.ts = true;
    ts_only.tsval = 5;
    Opts ws_sack;
    ws_sack.mss = 9000;
    ws_sack.ws = 14;
    ws_sack.sack = true;
    const HsCase cases[] = {
        { "all", all, 7, true, true, 1448 },          { "none", none, -1, false, false, 536 },
        { "mss", mss_only, -1, false, false, 1000 },  { "ts", ts_only, -1, false, true, 1448 },
        { "ws+sack", ws_sack, 7, true, false, 1460 },
    };
    for (const HsCase &tc : cases) {
        SCOPED_TRACE(tc.name);
        Harness h;
        h.start();
        ASSERT_TRUE(h.open(tc.syn));
        const Out &sa = h.synack;
        EXPECT_TRUE(sa.csum_ok);
        EXPECT_EQ(sa.ack, 1001u);
        EXPECT_EQ(sa.mss, 1460);
        EXPECT_EQ(sa.ws, tc.want_ws);
        EXPECT_EQ(sa.sack_ok, tc.want_sack);
        EXPECT_EQ(sa.ts, tc.want_ts);
        if (tc.want_ts) {
            EXPECT_EQ(sa.tsecr, tc.syn.tsval);
        }
        EXPECT_EQ(sa.ttl, 64);
        EXPECT_EQ(sa.ip_flags & 0x4000, 0x4000);
        EXPECT_EQ(sa.src, kLocal);
        EXPECT_EQ(sa.dst, kPeer);
        EXPECT_EQ(sa.sport, kPort);
        EXPECT_EQ(sa.win, 8192); // unscaled in the SYN-ACK
        EXPECT_EQ(h.opens, 1);
        EXPECT_EQ(lr_dp_tcp_conns(h.s), 1u);
        ASSERT_NE(h.conn, nullptr);
        uint32_t ip;
        uint16_t port;
        lr_dp_tcp_peer(h.conn, &ip, &port);
        EXPECT_EQ(ip, kPeer);
        EXPECT_EQ(port, h.pport);
        EXPECT_EQ(lr_dp_tcp_local_port(h.conn), kPort);
        // What we send is cut to the negotiated MSS (minus the timestamp option).
        h.out.clear();
        std::string d = bytes(3000);
        EXPECT_EQ(
            lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>(d.data()), d.size(), h.now),
            d.size());
        ASSERT_GE(h.out.size(), 2u);
        EXPECT_EQ(h.out[0].data.size(), tc.want_seg);
        EXPECT_EQ(h.out[0].seq, sa.seq + 1);
        EXPECT_EQ(h.out[0].ts, tc.want_ts);
        std::string all_data;
        for (auto &o : h.out)
            all_data += o.data;
        EXPECT_EQ(all_data, d);
    }
}

TEST(TcpHandshake, SynRetransmitAndSynAckTimeout)
{
    Harness h;
    h.start();
    Opts o;
    h.feed(h.build(SYN, 1000, 0, "", o, 65535, h.pport));
    h.feed(h.build(SYN, 1000, 0, "", o, 65535, h.pport)); // retransmitted SYN
    ASSERT_EQ(h.out.size(), 2u);
    EXPECT_EQ(h.out[1].seq, h.out[0].seq);
    h.out.clear();
    h.tick(1000);
    ASSERT_EQ(h.out.size(), 1u); // SYN-ACK retransmitted after 1 s
    EXPECT_EQ(h.out[0].flags, SYN | ACK);
    for (int i = 0; i < 10; i++)
        h.tick(60000);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
    EXPECT_EQ(h.opens, 0);
}

TEST(TcpData, InOrderAndDelayedAck)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    ASSERT_TRUE(h.open(o));
    // The first segments are acknowledged at once (quick ACK at start).
    for (int i = 0; i < 8; i++) {
        h.out.clear();
        h.send(ACK, "x");
        ASSERT_EQ(h.out.size(), 1u);
        EXPECT_EQ(h.out[0].ack, h.pseq);
    }
    EXPECT_EQ(h.got, std::string(8, 'x'));
    // Then a lone short segment waits for the 40 ms delayed ACK.
    h.out.clear();
    h.send(ACK, "y");
    EXPECT_TRUE(h.out.empty());
    h.tick(20);
    EXPECT_TRUE(h.out.empty());
    h.tick(25);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, h.pseq);
    // Two full segments: ACK at once.
    h.out.clear();
    h.send(ACK, bytes(1460));
    EXPECT_TRUE(h.out.empty());
    h.send(ACK, bytes(1460));
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, h.pseq);
    // PSH: acknowledged at the next tick.
    h.out.clear();
    h.send(ACK | PSH, "z");
    EXPECT_TRUE(h.out.empty());
    h.tick(10);
    ASSERT_EQ(h.out.size(), 1u);
    // A response sent from on_data carries the ACK.
    h.out.clear();
    h.on_data_hook = [&](lr_dp_tcp_conn *c) {
        lr_dp_tcp_send(c, reinterpret_cast<const uint8_t *>("ok"), 2, h.now);
    };
    h.send(ACK, "q");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].data, "ok");
    EXPECT_EQ(h.out[0].ack, h.pseq);
    h.tick(50);
    EXPECT_EQ(h.out.size(), 1u); // nothing more owed
}

TEST(TcpData, OverlapAndDuplicates)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    uint32_t b = h.pseq;
    h.send_at(ACK, b, "abcdef");
    h.send_at(ACK, b + 3, "defghi"); // overlaps
    EXPECT_EQ(h.got, "abcdefghi");
    h.out.clear();
    h.send_at(ACK, b, "abc"); // duplicate: ACKed, not delivered
    EXPECT_EQ(h.got, "abcdefghi");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, b + 9);
    h.send_at(ACK, b + 7, "hijk"); // partly new
    EXPECT_EQ(h.got, "abcdefghijk");
}

TEST(TcpData, OutOfOrderWithSack)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    o.sack = true;
    o.ts = true;
    o.tsval = 100;
    ASSERT_TRUE(h.open(o));
    uint32_t b = h.pseq;
    h.out.clear();
    h.send_at(ACK, b + 10, "BBBBBBBBBB");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, b);
    ASSERT_EQ(h.out[0].sack.size(), 1u);
    EXPECT_EQ(h.out[0].sack[0], std::make_pair(b + 10, b + 20));
    h.send_at(ACK, b + 30, "DDDDDDDDDD");
    ASSERT_EQ(h.out.size(), 2u);
    ASSERT_EQ(h.out[1].sack.size(), 2u);
    EXPECT_EQ(h.out[1].sack[0], std::make_pair(b + 30, b + 40)); // most recent first
    EXPECT_EQ(h.out[1].sack[1], std::make_pair(b + 10, b + 20));
    EXPECT_EQ(h.got, "");
    h.send_at(ACK, b, "AAAAAAAAAA"); // fills the first hole
    EXPECT_EQ(h.got, "AAAAAAAAAABBBBBBBBBB");
    ASSERT_EQ(h.out.size(), 3u);
    EXPECT_EQ(h.out[2].ack, b + 20);
    ASSERT_EQ(h.out[2].sack.size(), 1u);
    EXPECT_EQ(h.out[2].sack[0], std::make_pair(b + 30, b + 40));
    h.send_at(ACK, b + 20, "CCCCCCCCCC");
    EXPECT_EQ(h.got, "AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDD");
    ASSERT_EQ(h.out.size(), 4u);
    EXPECT_EQ(h.out[3].ack, b + 40);
    EXPECT_TRUE(h.out[3].sack.empty());
    EXPECT_EQ(h.st().ooo_segs, 2u);
}

TEST(TcpData, OutOfOrderBoundedRanges)
{
    Harness h(8, 4, 65536);
    h.start();
    Opts o;
    o.sack = true;
    ASSERT_TRUE(h.open(o));
    uint32_t b = h.pseq;
    for (int i = 0; i < 12; i++)
        h.send_at(ACK, b + 10 + 20 * i, "0123456789");
    EXPECT_GT(h.st().ooo_dropped_mem, 0u);
    EXPECT_LE(h.last().sack.size(), 4u); // without timestamps, up to 4 blocks
    EXPECT_EQ(h.last().sack.size(), 4u);
    // Filling every hole in order delivers what was kept.
    for (int i = 0; i < 12; i++)
        h.send_at(ACK, b + 20 * i, i < 8 ? "abcdefghij" : "abcdefghij0123456789");
    EXPECT_EQ(h.got.size(), 20u * 12);
}

TEST(TcpData, OutOfWindowDroppedAndAcked)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    uint32_t b = h.pseq;
    h.out.clear();
    h.send_at(ACK, b + 100000, "far");
    EXPECT_EQ(h.got, "");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, b);
    EXPECT_EQ(h.st().out_of_window, 1u);
    // Data straddling the right edge: the part inside is kept.
    h.out.clear();
    h.send_at(ACK, b + 8190, "WXYZ");
    h.send_at(ACK, b, bytes(8190));
    EXPECT_EQ(h.got.size(), 8192u);
    EXPECT_EQ(h.got.substr(8190), "WX");
}

struct RstCase {
    const char *name;
    int32_t off; // from rcv_nxt
    bool closes, challenge;
};

TEST(TcpRst, Rfc5961)
{
    const RstCase cases[] = {
        { "exact", 0, true, false },
        { "in window", 100, false, true },
        { "out of window", 100000, false, false },
        { "before", -10, false, false },
    };
    for (const RstCase &tc : cases) {
        SCOPED_TRACE(tc.name);
        Harness h;
        h.start();
        ASSERT_TRUE(h.open());
        h.out.clear();
        h.send_at(RST, h.pseq + uint32_t(tc.off));
        EXPECT_EQ(h.closes, tc.closes ? 1 : 0);
        EXPECT_EQ(lr_dp_tcp_conns(h.s), tc.closes ? 0u : 1u);
        EXPECT_EQ(h.st().challenge_acks, tc.challenge ? 1u : 0u);
        if (tc.challenge) {
            ASSERT_EQ(h.out.size(), 1u);
            EXPECT_EQ(h.out[0].flags, ACK);
            EXPECT_EQ(h.out[0].ack, h.pseq);
            // Rate limited: a second one right away gets nothing.
            h.send_at(RST, h.pseq + 200);
            EXPECT_EQ(h.out.size(), 1u);
        } else {
            EXPECT_TRUE(h.out.empty());
        }
    }
}

TEST(TcpRst, SynOnEstablishedGetsChallengeAck)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    Opts o;
    h.feed(h.build(SYN, 5555, 0, "", o, 65535, h.pport));
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, ACK);
    EXPECT_EQ(h.out[0].ack, h.pseq);
    EXPECT_EQ(h.st().challenge_acks, 1u);
    EXPECT_EQ(h.closes, 0);
}

TEST(TcpRst, BadAckChallenged)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    h.pack += 1000000; // acknowledges bytes never sent
    h.send(ACK, "data");
    EXPECT_EQ(h.got, "");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, ACK);
}

TEST(TcpInput, BadChecksumsAndHeaders)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    Opts o;
    auto p = h.build(ACK, h.pseq, h.pack, "hello", o, 65535, h.pport);
    auto bad_ip = p;
    bad_ip[10] ^= 0x55;
    auto bad_tcp = p;
    bad_tcp[20 + 16] ^= 0x55;
    auto bad_payload = p;
    bad_payload.back() ^= 1;
    h.out.clear();
    h.feed(bad_ip);
    h.feed(bad_tcp);
    h.feed(bad_payload);
    EXPECT_EQ(h.st().bad_checksum, 3u);
    EXPECT_TRUE(h.out.empty());
    EXPECT_EQ(h.got, "");
    // truncated and malformed
    for (size_t n = 0; n < p.size(); n++)
        lr_dp_tcp_input(h.s, p.data(), n, h.now);
    auto frag = p;
    frag[6] |= 0x20; // MF
    h.feed(frag);
    EXPECT_EQ(h.got, "");
    auto other = p;
    other[19] = 9; // another destination
    put16(other, 10, 0);
    put16(other, 10, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, other.data(), 20)));
    h.feed(other);
    EXPECT_GE(h.st().not_ours, 1u);
    h.feed(p);
    EXPECT_EQ(h.got, "hello");
}

TEST(TcpInput, ChecksumsThePortVerifiedAreNotSummedAgain)
{
    // With LR_DP_TCP_IN_CSUM_OK (RX checksum offload said GOOD) the stack trusts the port: the
    // same segment with a wrong TCP checksum field is taken; without the flag it is dropped.
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    Opts o;
    auto p = h.build(ACK, h.pseq, h.pack, "offloaded", o, 65535, h.pport);
    p[20 + 16] ^= 0x55;
    lr_dp_tcp_input_flags(h.s, p.data(), p.size(), h.now, 0);
    EXPECT_EQ(h.st().bad_checksum, 1u);
    EXPECT_EQ(h.got, "");
    lr_dp_tcp_input_flags(h.s, p.data(), p.size(), h.now, LR_DP_TCP_IN_CSUM_OK);
    EXPECT_EQ(h.st().bad_checksum, 1u);
    EXPECT_EQ(h.got, "offloaded");
}

TEST(TcpOutput, TxChecksumOffloadLeavesTheSumsToThePort)
{
    Harness h;
    h.cfg.tx_csum_offload = true;
    h.start();
    Opts o;
    h.pseq = 1000;
    h.feed(h.build(SYN, h.pseq, 0, "", o, 65535, h.pport));
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_FALSE(h.out[0].csum_ok);   // not summed by the stack...
    EXPECT_TRUE(h.out[0].offload_ok); // ...but ready for the port to finish
    h.pseq++;
    h.pack = h.out[0].seq + 1;
    h.send(ACK);
    h.out.clear();
    ASSERT_NE(h.conn, nullptr);
    std::string big(3000, 'r');
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>(big.data()), big.size(), h.now);
    ASSERT_GE(h.out.size(), 2u);
    for (const auto &seg : h.out)
        EXPECT_TRUE(seg.offload_ok) << "seq " << seg.seq;
}

TEST(TcpInput, ClosedPortAndStrayAckGetRst)
{
    Harness h;
    h.start();
    Opts o;
    auto p = h.build(ACK, 1, 12345, "", o, 100, 5000);
    h.feed(p);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, RST);
    EXPECT_EQ(h.out[0].seq, 12345u);
    auto q = h.build(SYN, 77, 0, "", o, 100, 5000);
    put16(q, 22, 9999); // closed port
    put16(q, 36, 0);
    uint8_t ph[12] = { 10, 0, 0, 2, 10, 0, 0, 1, 0, 6, 0, 20 };
    put16(
        q, 36,
        lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), q.data() + 20, 20)));
    h.feed(q);
    ASSERT_EQ(h.out.size(), 2u);
    EXPECT_EQ(h.out[1].flags, RST | ACK);
    EXPECT_EQ(h.out[1].ack, 78u);
}

TEST(TcpWindow, ZeroWindowProbeAndResume)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    o.ws = 7;
    ASSERT_TRUE(h.open(o));
    h.take = 0;
    uint32_t sent = 0;
    uint16_t last_win = 0xffff;
    while (sent < 8192) {
        size_t n = std::min<size_t>(1024, 8192 - sent);
        h.out.clear();
        h.send(ACK, bytes(n));
        sent += uint32_t(n);
        h.tick(50);
        ASSERT_FALSE(h.out.empty());
        EXPECT_LE(h.last().win, last_win);
        last_win = h.last().win;
    }
    EXPECT_EQ(h.last().win, 0);
    EXPECT_EQ(h.last().ack, h.pseq);
    EXPECT_EQ(h.st().zero_windows, 1u);
    // A zero-window probe (one byte at rcv_nxt) is answered with window 0, its byte dropped.
    h.out.clear();
    h.send_at(ACK, h.pseq, "P");
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].win, 0);
    EXPECT_EQ(h.out[0].ack, h.pseq);
    // Linux's probe (no data, seq rcv_nxt - 1) too.
    h.tick(600);
    h.out.clear();
    h.send_at(ACK, h.pseq - 1);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].win, 0);
    EXPECT_GE(h.st().window_probes, 2u);
    EXPECT_EQ(h.got, "");
    // Resume: everything buffered is offered, and a window update goes out.
    h.take = SIZE_MAX;
    h.out.clear();
    lr_dp_tcp_resume(h.conn, h.now);
    EXPECT_EQ(h.got.size(), 8192u);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].win, 8192 >> 7);
    EXPECT_EQ(h.out[0].ack, h.pseq);
}

TEST(TcpWindow, PartialTakeNeverShrinksRightEdge)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    ASSERT_TRUE(h.open(o));
    h.take = 100;
    uint32_t edge = h.synack.ack + h.synack.win;
    for (int i = 0; i < 12; i++) {
        h.out.clear();
        h.send(ACK, bytes(700));
        h.tick(50);
        for (auto &x : h.out) {
            uint32_t e = x.ack + x.win;
            EXPECT_GE(int32_t(e - edge), 0);
            edge = e;
        }
        lr_dp_tcp_resume(h.conn, h.now);
    }
}

TEST(TcpPaws, OldTimestampDropped)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    o.ts = true;
    o.tsval = 1000;
    ASSERT_TRUE(h.open(o));
    h.tsval = 2000;
    h.send(ACK, "new");
    EXPECT_EQ(h.got, "new");
    h.out.clear();
    h.send_at(ACK, h.pseq, "old", 1500);
    EXPECT_EQ(h.got, "new");
    EXPECT_EQ(h.st().paws_dropped, 1u);
    ASSERT_EQ(h.out.size(), 1u); // a data segment is answered
    EXPECT_EQ(h.out[0].ack, h.pseq);
    EXPECT_EQ(h.out[0].tsecr, 2000u);
    h.tsval = 2001;
    h.send(ACK, "ok");
    EXPECT_EQ(h.got, "newok");
}

TEST(TcpClose, PeerClosesFirst)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.send(ACK, "req");
    h.out.clear();
    h.send(ACK | FIN);
    EXPECT_EQ(h.fins, 1);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, h.pseq); // FIN acknowledged
    // Half close: we may still send.
    EXPECT_EQ(lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("resp"), 4, h.now), 4u);
    lr_dp_tcp_shutdown(h.conn, h.now);
    ASSERT_GE(h.out.size(), 2u);
    Out f = h.last();
    EXPECT_TRUE(f.flags & FIN);
    EXPECT_EQ(h.closes, 0);
    h.pack = f.seq + uint32_t(f.data.size()) + 1;
    h.send(ACK);
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpClose, FinWaitsForDataToBeTaken)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.take = 0;
    h.send(ACK, "abc");
    h.send(ACK | FIN);
    EXPECT_EQ(h.fins, 0);
    h.take = SIZE_MAX;
    lr_dp_tcp_resume(h.conn, h.now);
    EXPECT_EQ(h.got, "abc");
    EXPECT_EQ(h.fins, 1);
}

TEST(TcpClose, WeCloseFirstTimeWait)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    lr_dp_tcp_shutdown(h.conn, h.now);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, FIN | ACK);
    h.pack = h.out[0].seq + 1;
    h.send(ACK); // FIN_WAIT_2
    EXPECT_EQ(h.closes, 0);
    h.out.clear();
    h.send(ACK, "late data"); // still delivered
    EXPECT_EQ(h.got, "late data");
    // Our FIN was acknowledged: what answers the data is a plain ACK, never a second FIN
    // (one past the first, which the peer's closed socket would answer with RST).
    h.tick(300);
    for (const auto &o : h.out)
        EXPECT_EQ(o.flags & FIN, 0) << "seq " << o.seq;
    h.out.clear();
    h.send(ACK | FIN); // TIME_WAIT
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].ack, h.pseq);
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 1u);
    h.out.clear();
    h.send_at(ACK | FIN, h.pseq - 1); // retransmitted FIN: ACKed again
    EXPECT_EQ(h.out.size(), 1u);
    h.tick(2100);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpClose, DataThatAcksOurFinGetsNoSecondFin)
{
    // A gRPC client's last frames can acknowledge our FIN: the answer is a plain ACK.
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("bye"), 3, h.now);
    lr_dp_tcp_shutdown(h.conn, h.now);
    uint32_t fin_end = 0;
    for (const auto &o : h.out)
        if (o.flags & FIN)
            fin_end = o.seq + uint32_t(o.data.size()) + 1;
    ASSERT_NE(fin_end, 0u);
    h.out.clear();
    h.pack = fin_end;
    h.send(ACK | PSH, "frames after our FIN");
    h.tick(300);
    h.tick(600);
    for (const auto &o : h.out)
        EXPECT_EQ(o.flags & FIN, 0) << "seq " << o.seq;
}

TEST(TcpClose, ShutdownFromOnFin)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.on_fin_hook = [&](lr_dp_tcp_conn *c) {
        lr_dp_tcp_send(c, reinterpret_cast<const uint8_t *>("bye"), 3, h.now);
        lr_dp_tcp_shutdown(c, h.now);
    };
    h.out.clear();
    h.send(ACK | FIN, "last");
    EXPECT_EQ(h.got, "last");
    EXPECT_EQ(h.fins, 1);
    ASSERT_EQ(h.out.size(), 2u); // the data (ACKing the peer's FIN), then our FIN
    EXPECT_EQ(h.out[0].data, "bye");
    EXPECT_EQ(h.out[0].ack, h.pseq);
    EXPECT_EQ(h.out[1].flags, FIN | ACK);
    EXPECT_EQ(h.out[1].seq, h.out[0].seq + 3);
    h.pack = h.out[0].seq + 4;
    h.send(ACK);
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpClose, NewSynTakesOverTimeWait)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    lr_dp_tcp_shutdown(h.conn, h.now);
    h.pack = h.last().seq + 1;
    h.send(ACK | FIN);
    EXPECT_EQ(h.closes, 1);
    h.out.clear();
    Opts o;
    h.feed(h.build(SYN, h.pseq + 100000, 0, "", o, 65535, h.pport));
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, SYN | ACK);
    EXPECT_EQ(h.out[0].ack, h.pseq + 100001);
}

TEST(TcpClose, SimultaneousClose)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    lr_dp_tcp_shutdown(h.conn, h.now);
    uint32_t our_fin = h.out[0].seq;
    h.send(ACK | FIN); // does not ack our FIN: CLOSING
    EXPECT_EQ(h.closes, 0);
    h.pack = our_fin + 1;
    h.send(ACK);
    EXPECT_EQ(h.closes, 1); // TIME_WAIT
    h.tick(2100);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpClose, AbortInsideOnData)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.on_data_hook = [&](lr_dp_tcp_conn *c) {
        lr_dp_tcp_send(c, reinterpret_cast<const uint8_t *>("x"), 1, h.now);
        lr_dp_tcp_abort(c);
        lr_dp_tcp_abort(c); // twice is harmless inside the same call
    };
    h.out.clear();
    h.send(ACK | FIN, "boom");
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(h.fins, 0); // on_close is the last callback
    EXPECT_TRUE(h.last().flags & RST);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
    h.on_data_hook = nullptr;
    h.out.clear();
    h.send(ACK, "more"); // the connection is gone: RST
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, RST);
}

TEST(TcpClose, RefusedByApplication)
{
    Harness h;
    h.start();
    h.refuse = true;
    Opts o;
    h.feed(h.build(SYN, 1000, 0, "", o, 65535, h.pport));
    uint32_t isn = h.out[0].seq;
    h.out.clear();
    h.feed(h.build(ACK, 1001, isn + 1, "", o, 65535, h.pport));
    EXPECT_EQ(h.opens, 1);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_TRUE(h.out[0].flags & RST);
    EXPECT_EQ(h.closes, 0);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpRetransmit, RtoWithBackoff)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("hello"), 5, h.now);
    ASSERT_EQ(h.out.size(), 1u);
    uint32_t seq = h.out[0].seq;
    h.tick(990);
    EXPECT_EQ(h.out.size(), 1u);
    h.tick(20); // 1 s initial RTO
    ASSERT_EQ(h.out.size(), 2u);
    EXPECT_EQ(h.out[1].seq, seq);
    EXPECT_EQ(h.out[1].data, "hello");
    h.tick(1900);
    EXPECT_EQ(h.out.size(), 2u);
    h.tick(200); // backed off to 2 s
    ASSERT_EQ(h.out.size(), 3u);
    h.tick(3900);
    EXPECT_EQ(h.out.size(), 3u);
    h.tick(200); // 4 s
    ASSERT_EQ(h.out.size(), 4u);
    EXPECT_EQ(h.st().rto_fired, 3u);
    h.pack = seq + 5;
    h.send(ACK);
    h.tick(20000);
    EXPECT_EQ(h.out.size(), 4u);
}

TEST(TcpRetransmit, RttSetsRto)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    // A measured RTT of 10 ms gives the minimum RTO, 200 ms.
    for (int i = 0; i < 3; i++) {
        lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("ab"), 2, h.now);
        h.tick(10);
        h.pack = h.last().seq + 2;
        h.send(ACK);
    }
    h.out.clear();
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("cd"), 2, h.now);
    h.tick(190);
    EXPECT_EQ(h.out.size(), 1u);
    h.tick(20);
    EXPECT_EQ(h.out.size(), 2u);
}

TEST(TcpRetransmit, FastRetransmitOnThreeDupAcks)
{
    Harness h;
    h.start();
    Opts o;
    o.mss = 1460;
    ASSERT_TRUE(h.open(o));
    h.out.clear();
    std::string d = bytes(1460 * 10);
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>(d.data()), d.size(), h.now);
    ASSERT_EQ(h.out.size(), 10u); // IW10
    uint32_t s0 = h.out[0].seq;
    h.pack = s0 + 1460;
    h.send(ACK);
    size_t n = h.out.size();
    for (int i = 0; i < 2; i++)
        h.send(ACK);
    EXPECT_EQ(h.st().dup_acks, 2u);
    size_t before = h.out.size();
    h.send(ACK);
    ASSERT_GT(h.out.size(), before);
    EXPECT_EQ(h.out[before].seq, s0 + 1460);
    EXPECT_EQ(h.out[before].data.size(), 1460u);
    EXPECT_EQ(h.st().retransmits, 1u);
    (void)n;
    h.pack = s0 + 1460 * 10;
    h.send(ACK);
    EXPECT_EQ(h.st().rto_fired, 0u);
}

TEST(TcpCongestion, SlowStartGrowth)
{
    Harness h(8, 4, 8192, 1 << 20);
    h.start();
    Opts o;
    o.mss = 1000;
    ASSERT_TRUE(h.open(o));
    h.out.clear();
    std::string d = bytes(100000);
    EXPECT_EQ(lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>(d.data()), d.size(), h.now),
              d.size());
    // IW = min(10 MSS, max(2 MSS, 14600)) = 10 segments of 1000.
    ASSERT_EQ(h.out.size(), 10u);
    // Each ACK of a full segment in slow start grows cwnd by one MSS: two segments per ACK.
    uint32_t s0 = h.out[0].seq;
    for (int i = 1; i <= 10; i++) {
        size_t before = h.out.size();
        h.pack = s0 + 1000 * uint32_t(i);
        h.send(ACK);
        EXPECT_EQ(h.out.size() - before, 2u);
    }
    EXPECT_EQ(h.out.size(), 30u);
    // The peer's window caps what is in flight.
    h.pwin = 2000;
    h.pack = s0 + 30000;
    size_t before = h.out.size();
    h.send(ACK);
    EXPECT_EQ(h.out.size() - before, 2u);
}

TEST(TcpCongestion, PeerZeroWindowPersist)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open());
    h.pwin = 0;
    h.send(ACK);
    h.out.clear();
    lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>("wait"), 4, h.now);
    EXPECT_TRUE(h.out.empty());
    h.tick(1010);
    ASSERT_EQ(h.out.size(), 1u); // a probe: below snd_una, no data
    EXPECT_TRUE(h.out[0].data.empty());
    EXPECT_EQ(h.out[0].seq, h.pack - 1);
    EXPECT_EQ(h.st().persist_probes, 1u);
    h.tick(2010);
    EXPECT_EQ(h.out.size(), 2u); // backed off
    h.pwin = 1000;
    h.send(ACK);
    ASSERT_EQ(h.out.size(), 3u);
    EXPECT_EQ(h.out[2].data, "wait");
}

TEST(TcpSynCookies, QueueFullThenValidAndForgedAcks)
{
    for (bool ts : { false, true }) {
        SCOPED_TRACE(ts ? "timestamps" : "no timestamps");
        Harness h(16, 2);
        h.start();
        Opts o;
        o.mss = 1400;
        o.ws = 5;
        o.sack = true;
        o.ts = ts;
        o.tsval = 4242;
        h.feed(h.build(SYN, 1, 0, "", o, 65535, 1001));
        h.feed(h.build(SYN, 1, 0, "", o, 65535, 1002));
        EXPECT_EQ(h.st().syn_cookies_sent, 0u);
        h.out.clear();
        h.feed(h.build(SYN, 5000, 0, "", o, 65535, 1003));
        EXPECT_EQ(h.st().syn_cookies_sent, 1u);
        EXPECT_EQ(lr_dp_tcp_conns(h.s), 2u); // no state kept
        ASSERT_EQ(h.out.size(), 1u);
        Out sa = h.out[0];
        EXPECT_EQ(sa.flags, SYN | ACK);
        EXPECT_EQ(sa.ack, 5001u);
        EXPECT_EQ(sa.ts, ts);
        EXPECT_EQ(sa.ws, ts ? 7 : -1); // without timestamps the cookie cannot carry it
        EXPECT_EQ(sa.sack_ok, ts);
        // A forged ACK is refused with RST.
        Opts a;
        a.ts = ts;
        a.tsval = 4243;
        a.tsecr = sa.tsval;
        h.out.clear();
        h.feed(h.build(ACK, 5001, sa.seq + 2, "", a, 100, 1003));
        EXPECT_EQ(h.st().syn_cookies_bad, 1u);
        ASSERT_EQ(h.out.size(), 1u);
        EXPECT_EQ(h.out[0].flags, RST);
        EXPECT_EQ(h.opens, 0);
        // The right one opens the connection, with data in the same segment.
        h.out.clear();
        h.feed(h.build(ACK, 5001, sa.seq + 1, "GET", a, 3000, 1003));
        EXPECT_EQ(h.st().syn_cookies_ok, 1u);
        EXPECT_EQ(h.opens, 1);
        EXPECT_EQ(h.got, "GET");
        ASSERT_NE(h.conn, nullptr);
        // MSS from the cookie (1400, less the timestamp option); window scale 5 from TSecr.
        h.out.clear();
        std::string d = bytes(3000);
        lr_dp_tcp_send(h.conn, reinterpret_cast<const uint8_t *>(d.data()), d.size(), h.now);
        ASSERT_GE(h.out.size(), 1u);
        EXPECT_EQ(h.out[0].data.size(), ts ? 1388u : 1400u);
        EXPECT_EQ(h.out.size(), 3u);
    }
}

TEST(TcpTable, ExhaustionRefused)
{
    Harness h(4, 4);
    h.start();
    for (uint16_t p = 1; p <= 4; p++)
        ASSERT_TRUE(h.open(Opts(), p));
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 4u);
    h.out.clear();
    Opts o;
    h.feed(h.build(SYN, 1, 0, "", o, 65535, 99));
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, RST | ACK);
    EXPECT_EQ(h.st().conns_refused_full, 1u);
    // One closes: a slot is free again.
    h.send_at(RST, h.pseq);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 3u);
    ASSERT_TRUE(h.open(Opts(), 99));
    EXPECT_EQ(h.opens, 5);
}

TEST(TcpTimers, IdleTimeoutResets)
{
    Harness h;
    h.cfg.idle_timeout_ms = 5000;
    h.start();
    ASSERT_TRUE(h.open());
    h.out.clear();
    h.tick(4000);
    h.send(ACK, "keep");
    h.tick(4000);
    EXPECT_EQ(h.closes, 0);
    h.tick(1100);
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(h.st().idle_timeouts, 1u);
    EXPECT_EQ(h.last().flags, RST | ACK);
    EXPECT_EQ(lr_dp_tcp_conns(h.s), 0u);
}

TEST(TcpTimers, FreeCallsOnClose)
{
    Harness h;
    h.start();
    ASSERT_TRUE(h.open(Opts(), 1));
    ASSERT_TRUE(h.open(Opts(), 2));
    lr_dp_tcp_free(h.s);
    h.s = nullptr;
    EXPECT_EQ(h.closes, 2);
}

} // namespace
