// Tests for dataplane/net.c: ARP (answers, learning, resolution with a queue, retries and the
// timeout), ICMP echo (exact reply bytes, from an independently computed vector), IPv4
// validation (a table of bad datagrams and the counter each must move), VLAN tagging in and out,
// and every truncated prefix of every valid frame.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/net.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kSec = 1000000000ull;

const Bytes kOurMac = { 2, 0, 0, 0, 0, 1 };
const Bytes kPeerMac = { 2, 0, 0, 0, 0, 2 };
const Bytes kGwMac = { 2, 0, 0, 0, 0, 0xfe };
const Bytes kBcast = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const Bytes kZeroMac = { 0, 0, 0, 0, 0, 0 };
constexpr uint32_t kOurIp = 0x0a000001;  // 10.0.0.1/24
constexpr uint32_t kPeerIp = 0x0a000002; // 10.0.0.2
constexpr uint32_t kGwIp = 0x0a0000fe;   // 10.0.0.254

Bytes hex(const std::string &h)
{
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back((uint8_t)std::stoi(h.substr(i, 2), nullptr, 16));
    return b;
}

void put16(Bytes &b, uint16_t v)
{
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}

void put32(Bytes &b, uint32_t v)
{
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}

void append(Bytes &b, const Bytes &x)
{
    b.insert(b.end(), x.begin(), x.end());
}

uint16_t csum(const Bytes &b, size_t off, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2)
        s += uint32_t(b[off + i] << 8 | (i + 1 < len ? b[off + i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

Bytes eth(const Bytes &dst, const Bytes &src, uint16_t type, const Bytes &payload, int vlan = -1)
{
    Bytes f = dst;
    append(f, src);
    if (vlan >= 0) {
        put16(f, 0x8100);
        put16(f, uint16_t(vlan));
    }
    put16(f, type);
    append(f, payload);
    return f;
}

Bytes pad60(Bytes f)
{
    if (f.size() < 60)
        f.resize(60, 0);
    return f;
}

Bytes arp(uint16_t op, const Bytes &sha, uint32_t spa, const Bytes &tha, uint32_t tpa)
{
    Bytes a;
    put16(a, 1);
    put16(a, 0x0800);
    a.push_back(6);
    a.push_back(4);
    put16(a, op);
    append(a, sha);
    put32(a, spa);
    append(a, tha);
    put32(a, tpa);
    return a;
}

struct Ip {
    uint32_t src = kPeerIp, dst = kOurIp;
    uint8_t proto = 6, ttl = 64;
    uint16_t frag = 0x4000, id = 1;
    int version = 4, ihl = 5;
    int total_delta = 0; // added to the true total length
    bool bad_csum = false;
};

Bytes ipv4(const Ip &h, const Bytes &payload)
{
    Bytes b;
    b.push_back(uint8_t(h.version << 4 | h.ihl));
    b.push_back(0);
    size_t hl = size_t(h.ihl < 5 ? 5 : h.ihl) * 4;
    put16(b, uint16_t(hl + payload.size() + h.total_delta));
    put16(b, h.id);
    put16(b, h.frag);
    b.push_back(h.ttl);
    b.push_back(h.proto);
    put16(b, 0);
    put32(b, h.src);
    put32(b, h.dst);
    while (b.size() < hl)
        b.push_back(1); // NOP options
    uint16_t c = csum(b, 0, b.size());
    if (h.bad_csum)
        c ^= 0x0101;
    b[10] = uint8_t(c >> 8);
    b[11] = uint8_t(c);
    append(b, payload);
    return b;
}

Bytes tcp_syn()
{
    Bytes t = {
        0x30, 0x39, 0x10, 0xe1, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0
    };
    return t;
}

struct Net {
    lr_dp_net *n = nullptr;
    std::vector<Bytes> tx, ip_in;

    static void on_tx(void *ctx, const uint8_t *f, size_t len)
    {
        static_cast<Net *>(ctx)->tx.emplace_back(f, f + len);
    }
    static void on_ip(void *ctx, const uint8_t *p, size_t len, uint64_t)
    {
        static_cast<Net *>(ctx)->ip_in.emplace_back(p, p + len);
    }

    explicit Net(uint16_t vlan = 0, uint32_t gateway = kGwIp, uint32_t neighbours = 64,
                 uint32_t ttl_ms = 60000)
    {
        lr_dp_net_cfg cfg{};
        memcpy(cfg.mac, kOurMac.data(), 6);
        cfg.ip = kOurIp;
        cfg.prefix = 24;
        cfg.gateway = gateway;
        cfg.vlan = vlan;
        cfg.mtu = 1500;
        cfg.neighbours = neighbours;
        cfg.neighbour_ttl_ms = ttl_ms;
        lr_dp_net_ops ops{};
        ops.tx = on_tx;
        ops.ip_input = on_ip;
        ops.ctx = this;
        n = lr_dp_net_new(&cfg, &ops);
    }
    ~Net() { lr_dp_net_free(n); }
    void in(const Bytes &f, uint64_t now = 0) { lr_dp_net_input(n, f.data(), f.size(), now); }
    int out(const Bytes &ip, uint64_t now = 0)
    {
        return lr_dp_net_ip_output(n, ip.data(), ip.size(), now);
    }
    const struct lr_dp_net_stats &st() const { return *lr_dp_net_stats(n); }
};

// ---- ARP ---------------------------------------------------------------------------------------

TEST(NetArp, RequestForUsGetsExactReplyAndTeachesTheSender)
{
    Net t;
    ASSERT_NE(t.n, nullptr);
    t.in(eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp)));
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0],
              pad60(eth(kPeerMac, kOurMac, 0x0806, arp(2, kOurMac, kOurIp, kPeerMac, kPeerIp))));
    EXPECT_EQ(t.st().arp_requests_in, 1u);
    EXPECT_EQ(t.st().arp_replies_out, 1u);
    // The requester was learned: a datagram to it leaves at once, no ARP request.
    t.tx.clear();
    Bytes d = ipv4({ .src = kOurIp, .dst = kPeerIp }, tcp_syn());
    EXPECT_EQ(t.out(d), 0);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kPeerMac, kOurMac, 0x0800, d)));
    EXPECT_EQ(t.st().arp_requests_out, 0u);
}

TEST(NetArp, RequestForAnotherAddressIsIgnoredAndNotLearned)
{
    Net t;
    t.in(eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, kPeerIp, kZeroMac, 0x0a000009)));
    EXPECT_TRUE(t.tx.empty());
    EXPECT_EQ(t.st().drop_not_ours, 1u);
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = kPeerIp }, tcp_syn())), -EAGAIN);
    EXPECT_EQ(t.st().arp_requests_out, 1u);
}

TEST(NetArp, ReplyIsLearned)
{
    Net t;
    Bytes mac = { 2, 0, 0, 0, 0, 3 };
    t.in(eth(kOurMac, mac, 0x0806, arp(2, mac, 0x0a000003, kOurMac, kOurIp)));
    EXPECT_EQ(t.st().arp_replies_in, 1u);
    EXPECT_TRUE(t.tx.empty());
    Bytes d = ipv4({ .src = kOurIp, .dst = 0x0a000003 }, tcp_syn());
    EXPECT_EQ(t.out(d), 0);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(mac, kOurMac, 0x0800, d)));
}

TEST(NetArp, NoLearningFromNonsense)
{
    Net t;
    // Off-subnet sender, group MAC, our own address claimed, address probe (spa 0).
    t.in(eth(kOurMac, kPeerMac, 0x0806, arp(2, kPeerMac, 0x08080808, kOurMac, kOurIp)));
    t.in(eth(kOurMac, kPeerMac, 0x0806, arp(2, kBcast, kPeerIp, kOurMac, kOurIp)));
    t.in(eth(kOurMac, kPeerMac, 0x0806, arp(2, kPeerMac, kOurIp, kOurMac, kOurIp)));
    t.in(eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, 0, kZeroMac, kOurIp)));
    // The probe is answered (RFC 5227), the rest is not.
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kPeerMac, kOurMac, 0x0806, arp(2, kOurMac, kOurIp, kPeerMac, 0))));
    t.tx.clear();
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = kPeerIp }, tcp_syn())), -EAGAIN);
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = 0x08080808 }, tcp_syn())), -EAGAIN); // gateway
    EXPECT_EQ(t.st().arp_requests_out, 2u);
}

TEST(NetArp, ResolutionQueuesThenFlushesInOrder)
{
    Net t;
    const uint32_t dst = 0x0a000005;
    std::vector<Bytes> sent;
    for (uint16_t i = 0; i < 4; i++) {
        sent.push_back(ipv4({ .src = kOurIp, .dst = dst, .id = uint16_t(100 + i) }, tcp_syn()));
        EXPECT_EQ(t.out(sent.back(), 10), -EAGAIN) << i;
    }
    // One request, broadcast, asking for dst.
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kBcast, kOurMac, 0x0806, arp(1, kOurMac, kOurIp, kZeroMac, dst))));
    // The fifth does not fit: dropped, counted.
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = dst }, tcp_syn()), 11), -ENOBUFS);
    EXPECT_EQ(t.st().drop_arp_queue_full, 1u);
    // The reply flushes the four in order.
    Bytes mac = { 2, 0, 0, 0, 0, 5 };
    t.tx.clear();
    t.in(eth(kOurMac, mac, 0x0806, arp(2, mac, dst, kOurMac, kOurIp)), 20);
    ASSERT_EQ(t.tx.size(), 4u);
    for (size_t i = 0; i < 4; i++)
        EXPECT_EQ(t.tx[i], pad60(eth(mac, kOurMac, 0x0800, sent[i]))) << i;
    // Resolved: no more retries, later datagrams go at once.
    t.tx.clear();
    lr_dp_net_tick(t.n, 5 * kSec);
    EXPECT_TRUE(t.tx.empty());
    EXPECT_EQ(t.out(sent[0], 30), 0);
    EXPECT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.st().drop_arp_timeout, 0u);
}

TEST(NetArp, OffSubnetGoesThroughTheGateway)
{
    Net t;
    Bytes d = ipv4({ .src = kOurIp, .dst = 0x08080808 }, tcp_syn());
    EXPECT_EQ(t.out(d), -EAGAIN);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0],
              pad60(eth(kBcast, kOurMac, 0x0806, arp(1, kOurMac, kOurIp, kZeroMac, kGwIp))));
    t.tx.clear();
    t.in(eth(kOurMac, kGwMac, 0x0806, arp(2, kGwMac, kGwIp, kOurMac, kOurIp)));
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kGwMac, kOurMac, 0x0800, d)));
}

TEST(NetArp, NoGatewayNoRoute)
{
    Net t(0, 0);
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = 0x08080808 }, tcp_syn())), -EHOSTUNREACH);
    EXPECT_EQ(t.st().drop_no_route, 1u);
    EXPECT_TRUE(t.tx.empty());
}

TEST(NetArp, RetriesThenTimesOutAndDrops)
{
    Net t;
    Bytes d = ipv4({ .src = kOurIp, .dst = 0x0a000007 }, tcp_syn());
    EXPECT_EQ(t.out(d, 0), -EAGAIN);
    EXPECT_EQ(t.out(d, 1), -EAGAIN);
    EXPECT_EQ(t.st().arp_requests_out, 1u);
    lr_dp_net_tick(t.n, kSec / 2);
    EXPECT_EQ(t.st().arp_requests_out, 1u);
    lr_dp_net_tick(t.n, kSec);
    EXPECT_EQ(t.st().arp_requests_out, 2u);
    lr_dp_net_tick(t.n, 2 * kSec);
    EXPECT_EQ(t.st().arp_requests_out, 3u);
    EXPECT_EQ(t.st().drop_arp_timeout, 0u);
    lr_dp_net_tick(t.n, 3 * kSec);
    EXPECT_EQ(t.st().arp_requests_out, 3u);
    EXPECT_EQ(t.st().drop_arp_timeout, 2u);
    EXPECT_EQ(t.tx.size(), 3u); // the three requests, never the datagrams
    // A late reply sends nothing (the queue is gone), a new datagram starts over.
    Bytes mac = { 2, 0, 0, 0, 0, 7 };
    t.in(eth(kOurMac, mac, 0x0806, arp(2, mac, 0x0a000007, kOurMac, kOurIp)), 4 * kSec);
    EXPECT_EQ(t.tx.size(), 3u);
    EXPECT_EQ(t.out(d, 4 * kSec), 0);
    EXPECT_EQ(t.tx.size(), 4u);
}

TEST(NetArp, StaleEntryIsRefreshedWhileStillUsed)
{
    Net t(0, kGwIp, 64, 1000);
    t.in(eth(kOurMac, kPeerMac, 0x0806, arp(2, kPeerMac, kPeerIp, kOurMac, kOurIp)), 0);
    Bytes d = ipv4({ .src = kOurIp, .dst = kPeerIp }, tcp_syn());
    EXPECT_EQ(t.out(d, kSec / 2), 0);
    EXPECT_EQ(t.st().arp_requests_out, 0u);
    EXPECT_EQ(t.out(d, 2 * kSec), 0);
    EXPECT_EQ(t.out(d, 2 * kSec + 1), 0); // at most one request a second
    EXPECT_EQ(t.st().arp_requests_out, 1u);
    EXPECT_EQ(t.tx.size(), 4u);
}

TEST(NetArp, TinyTableEvictsValidNeverResolving)
{
    Net t(0, kGwIp, 1);
    ASSERT_NE(t.n, nullptr);
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = 0x0a000003 }, tcp_syn())), -EAGAIN);
    // The only entry is resolving: another destination cannot take it.
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = 0x0a000004 }, tcp_syn())), -ENOBUFS);
    Bytes mac = { 2, 0, 0, 0, 0, 3 };
    t.in(eth(kOurMac, mac, 0x0806, arp(2, mac, 0x0a000003, kOurMac, kOurIp)));
    // Valid entries are evicted.
    EXPECT_EQ(t.out(ipv4({ .src = kOurIp, .dst = 0x0a000004 }, tcp_syn())), -EAGAIN);
}

TEST(NetArp, LearnsFromIpv4AddressedToUs)
{
    Net t;
    Bytes mac = { 2, 0, 0, 0, 0, 9 };
    t.in(eth(kOurMac, mac, 0x0800, ipv4({ .src = 0x0a000009 }, tcp_syn())));
    ASSERT_EQ(t.ip_in.size(), 1u);
    Bytes d = ipv4({ .src = kOurIp, .dst = 0x0a000009 }, tcp_syn());
    EXPECT_EQ(t.out(d), 0);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(mac, kOurMac, 0x0800, d)));
    // An off-subnet source is not learned under its own address: its frame came from a router,
    // which stands for the gateway while the gateway is unresolved...
    t.tx.clear();
    t.in(eth(kOurMac, kGwMac, 0x0800, ipv4({ .src = 0x01020304 }, tcp_syn())));
    Bytes o = ipv4({ .src = kOurIp, .dst = 0x01020304 }, tcp_syn());
    EXPECT_EQ(t.out(o), 0);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kGwMac, kOurMac, 0x0800, o)));
    // ... but never replaces a resolved one.
    t.in(eth(kOurMac, mac, 0x0800, ipv4({ .src = 0x01020305 }, tcp_syn())));
    EXPECT_EQ(t.out(o), 0);
    EXPECT_EQ(t.tx.back(), pad60(eth(kGwMac, kOurMac, 0x0800, o)));
    EXPECT_EQ(t.st().arp_requests_out, 0u);
    // Without a gateway nothing is learned from off-subnet sources.
    Net u(0, 0);
    u.in(eth(kOurMac, kGwMac, 0x0800, ipv4({ .src = 0x01020304 }, tcp_syn())));
    EXPECT_EQ(u.out(o), -EHOSTUNREACH);
}

TEST(NetArp, PendingGatewayIsResolvedByForwardedTraffic)
{
    Net t;
    Bytes o = ipv4({ .src = kOurIp, .dst = 0x08080808 }, tcp_syn());
    EXPECT_EQ(t.out(o), -EAGAIN);
    t.tx.clear();
    t.in(eth(kOurMac, kGwMac, 0x0800, ipv4({ .src = 0x08080808 }, tcp_syn())));
    ASSERT_EQ(t.tx.size(), 1u); // the queued datagram
    EXPECT_EQ(t.tx[0], pad60(eth(kGwMac, kOurMac, 0x0800, o)));
    EXPECT_EQ(t.ip_in.size(), 1u);
}

TEST(NetArp, OutputArgumentChecks)
{
    Net t;
    Bytes small(19, 0x45);
    EXPECT_EQ(t.out(small), -EINVAL);
    Bytes big = ipv4({ .src = kOurIp, .dst = kPeerIp }, Bytes(1481, 0));
    EXPECT_EQ(t.out(big), -EMSGSIZE);
    Bytes bc = ipv4({ .src = kOurIp, .dst = 0x0a0000ff }, tcp_syn());
    EXPECT_EQ(t.out(bc), 0);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kBcast, kOurMac, 0x0800, bc)));
}

// ---- ICMP ---------------------------------------------------------------------------------------

// Computed with an independent implementation (Python struct); the request has TTL 128, no DF.
const char kEchoRequest[] =
    "02000000000102000000000208004500003cbeef0000800167cf0a0000020a00000108003b21123400076162636465"
    "666768696a6b6c6d6e6f7071727374757677616263646566676869";
const char kEchoReply[] =
    "02000000000202000000000108004500003cbeef4000400167cf0a0000010a00000200004321123400076162636465"
    "666768696a6b6c6d6e6f7071727374757677616263646566676869";

TEST(NetIcmp, EchoReplyBytesExact)
{
    Net t;
    t.in(hex(kEchoRequest));
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], hex(kEchoReply));
    EXPECT_EQ(t.st().icmp_echo, 1u);
    EXPECT_TRUE(t.ip_in.empty());
}

TEST(NetIcmp, BadChecksumAndOtherTypesAreDropped)
{
    Net t;
    Bytes f = hex(kEchoRequest);
    f[14 + 20 + 8] ^= 1; // data
    t.in(f);
    EXPECT_EQ(t.st().drop_ip_checksum, 1u);
    Bytes icmp = { 13, 0, 0, 0, 0, 0, 0, 0 }; // timestamp request
    uint16_t c = csum(icmp, 0, icmp.size());
    icmp[2] = uint8_t(c >> 8);
    icmp[3] = uint8_t(c);
    t.in(eth(kOurMac, kPeerMac, 0x0800, ipv4({ .proto = 1 }, icmp)));
    EXPECT_EQ(t.st().drop_other_protocol, 1u);
    EXPECT_TRUE(t.tx.empty());
}

// ---- IPv4 validation ---------------------------------------------------------------------------

using Stats = struct lr_dp_net_stats;
using Counter = uint64_t Stats::*;

struct DropCase {
    const char *name;
    Bytes frame;
    Counter counter;
};

std::vector<DropCase> drop_cases()
{
    Bytes syn = tcp_syn();
    Bytes ok_ip = ipv4({}, syn);
    Bytes short_frame = eth(kOurMac, kPeerMac, 0x0800, ipv4({ .total_delta = 1 }, syn));
    Bytes ip6 = { 0x60, 0, 0, 0, 0, 20, 6, 64 };
    ip6.resize(60, 0);
    return {
        { "bad checksum", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .bad_csum = true }, syn)),
          &Stats::drop_ip_checksum },
        { "total length past the frame", short_frame, &Stats::drop_ip_header },
        { "total length below the header",
          eth(kOurMac, kPeerMac, 0x0800, ipv4({ .total_delta = -21 }, syn)),
          &Stats::drop_ip_header },
        { "IHL 4", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .ihl = 4 }, syn)),
          &Stats::drop_ip_header },
        { "cut after the header",
          eth(kOurMac, kPeerMac, 0x0800, Bytes(ok_ip.begin(), ok_ip.begin() + 20)),
          &Stats::drop_ip_header },
        { "version 6 in an IPv4 frame", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .version = 6 }, syn)),
          &Stats::drop_ip_header },
        { "fragment MF", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .frag = 0x2000 }, syn)),
          &Stats::drop_ip_fragment },
        { "fragment offset", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .frag = 0x0010 }, syn)),
          &Stats::drop_ip_fragment },
        { "UDP", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .proto = 17 }, syn)),
          &Stats::drop_other_protocol },
        { "IPv6", eth(kOurMac, kPeerMac, 0x86dd, ip6), &Stats::drop_ipv6 },
        { "other ethertype", eth(kOurMac, kPeerMac, 0x88cc, Bytes(46, 0)),
          &Stats::drop_other_ethertype },
        { "wrong destination MAC", eth(kGwMac, kPeerMac, 0x0800, ok_ip), &Stats::drop_not_ours },
        { "IPv4 to broadcast MAC", eth(kBcast, kPeerMac, 0x0800, ok_ip), &Stats::drop_not_ours },
        { "wrong destination IP", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .dst = 0x0a000063 }, syn)),
          &Stats::drop_not_ours },
        { "martian source", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .src = 0x7f000001 }, syn)),
          &Stats::drop_ip_header },
        { "broadcast source", eth(kOurMac, kPeerMac, 0x0800, ipv4({ .src = 0x0a0000ff }, syn)),
          &Stats::drop_ip_header },
        { "group source MAC", eth(kOurMac, kBcast, 0x0800, ok_ip), &Stats::drop_bad_frame },
        { "tagged on an untagged network", eth(kOurMac, kPeerMac, 0x0800, ok_ip, 7),
          &Stats::drop_vlan },
        { "ARP with wrong hardware length",
          [] {
              Bytes a = arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp);
              a[4] = 8;
              return eth(kBcast, kPeerMac, 0x0806, a);
          }(),
          &Stats::drop_bad_frame },
        { "ARP unknown op",
          [] {
              Bytes a = arp(3, kPeerMac, kPeerIp, kZeroMac, kOurIp);
              return eth(kBcast, kPeerMac, 0x0806, a);
          }(),
          &Stats::drop_bad_frame },
        { "runt", Bytes(13, 0), &Stats::drop_bad_frame },
    };
}

TEST(NetIpv4, DropsAreCounted)
{
    for (const DropCase &c : drop_cases()) {
        Net t;
        t.in(c.frame);
        EXPECT_EQ(t.st().*c.counter, 1u) << c.name;
        EXPECT_TRUE(t.ip_in.empty()) << c.name;
        EXPECT_TRUE(t.tx.empty()) << c.name;
        EXPECT_EQ(t.st().rx_frames, 1u) << c.name;
        // Exactly one drop counter moved.
        const struct lr_dp_net_stats &s = t.st();
        uint64_t drops = s.drop_not_ours + s.drop_bad_frame + s.drop_ipv6 + s.drop_other_ethertype +
                         s.drop_vlan + s.drop_ip_header + s.drop_ip_checksum + s.drop_ip_fragment +
                         s.drop_other_protocol;
        EXPECT_EQ(drops, 1u) << c.name;
    }
}

TEST(NetIpv4, TcpIsDeliveredWithPaddingStripped)
{
    Net t;
    Bytes d = ipv4({}, tcp_syn()); // 40 bytes: the frame is padded to 60
    t.in(pad60(eth(kOurMac, kPeerMac, 0x0800, d)));
    ASSERT_EQ(t.ip_in.size(), 1u);
    EXPECT_EQ(t.ip_in[0], d);
    // Options are fine, DF is fine, and no DF is fine.
    t.in(eth(kOurMac, kPeerMac, 0x0800, ipv4({ .frag = 0, .ihl = 6 }, tcp_syn())));
    EXPECT_EQ(t.ip_in.size(), 2u);
    EXPECT_EQ(t.ip_in[1].size(), 44u);
}

// ---- VLAN --------------------------------------------------------------------------------------

TEST(NetVlan, TaggedInTaggedOut)
{
    Net t(100);
    t.in(eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp), 100));
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], pad60(eth(kPeerMac, kOurMac, 0x0806,
                                 arp(2, kOurMac, kOurIp, kPeerMac, kPeerIp), 100)));
    Bytes d = ipv4({}, tcp_syn());
    t.in(eth(kOurMac, kPeerMac, 0x0800, d, 100));
    ASSERT_EQ(t.ip_in.size(), 1u);
    EXPECT_EQ(t.ip_in[0], d);
    // PCP bits do not matter.
    t.in(eth(kOurMac, kPeerMac, 0x0800, d, 0xa000 | 100));
    EXPECT_EQ(t.ip_in.size(), 2u);
    Bytes o = ipv4({ .src = kOurIp, .dst = kPeerIp }, tcp_syn());
    EXPECT_EQ(t.out(o), 0);
    ASSERT_EQ(t.tx.size(), 2u);
    EXPECT_EQ(t.tx[1], pad60(eth(kPeerMac, kOurMac, 0x0800, o, 100)));
    // Untagged or another VLAN: dropped.
    t.in(eth(kOurMac, kPeerMac, 0x0800, d));
    t.in(eth(kOurMac, kPeerMac, 0x0800, d, 200));
    EXPECT_EQ(t.st().drop_vlan, 2u);
    EXPECT_EQ(t.ip_in.size(), 2u);
}

TEST(NetVlan, PriorityTagOnUntaggedNetwork)
{
    Net t;
    t.in(eth(kOurMac, kPeerMac, 0x0800, ipv4({}, tcp_syn()), 0x6000));
    EXPECT_EQ(t.ip_in.size(), 1u);
}

TEST(NetVlan, EchoReplyIsTagged)
{
    Net t(5);
    Bytes req = hex(kEchoRequest), rep = hex(kEchoReply);
    Bytes treq(req.begin(), req.begin() + 12), trep(rep.begin(), rep.begin() + 12);
    for (uint8_t b : { 0x81, 0x00, 0x00, 0x05 }) {
        treq.push_back(b);
        trep.push_back(b);
    }
    treq.insert(treq.end(), req.begin() + 12, req.end());
    trep.insert(trep.end(), rep.begin() + 12, rep.end());
    t.in(treq);
    ASSERT_EQ(t.tx.size(), 1u);
    EXPECT_EQ(t.tx[0], trep);
}

// ---- truncation --------------------------------------------------------------------------------

TEST(NetTruncation, EveryPrefixOfEveryValidFrameIsDroppedQuietly)
{
    struct V {
        const char *name;
        uint16_t vlan;
        Bytes frame;
    };
    std::vector<V> vs = {
        { "arp request", 0,
          eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp)) },
        { "arp reply", 0,
          eth(kOurMac, kPeerMac, 0x0806, arp(2, kPeerMac, kPeerIp, kOurMac, kOurIp)) },
        { "echo", 0, hex(kEchoRequest) },
        { "tcp", 0, eth(kOurMac, kPeerMac, 0x0800, ipv4({}, tcp_syn())) },
        { "tcp+options", 0, eth(kOurMac, kPeerMac, 0x0800, ipv4({ .ihl = 15 }, tcp_syn())) },
        { "tagged arp", 9,
          eth(kBcast, kPeerMac, 0x0806, arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp), 9) },
        { "tagged tcp", 9, eth(kOurMac, kPeerMac, 0x0800, ipv4({}, tcp_syn()), 9) },
    };
    for (const V &v : vs) {
        Net t(v.vlan);
        for (size_t len = 0; len < v.frame.size(); len++) {
            // A copy of exactly `len` bytes, so that ASan sees any read past it.
            Bytes p(v.frame.begin(), v.frame.begin() + len);
            lr_dp_net_input(t.n, len ? p.data() : nullptr, len, 0);
        }
        EXPECT_TRUE(t.tx.empty()) << v.name;
        EXPECT_TRUE(t.ip_in.empty()) << v.name;
        EXPECT_EQ(t.st().rx_frames, v.frame.size()) << v.name;
        // Whole, it does something.
        t.in(v.frame);
        EXPECT_EQ(t.tx.size() + t.ip_in.size() + t.st().arp_replies_in, 1u) << v.name;
    }
}

// ---- configuration -----------------------------------------------------------------------------

TEST(NetNew, RejectsBadConfigurations)
{
    lr_dp_net_ops ops{};
    ops.tx = Net::on_tx;
    lr_dp_net_cfg good{};
    memcpy(good.mac, kOurMac.data(), 6);
    good.ip = kOurIp;
    good.prefix = 24;
    good.neighbours = 16;
    lr_dp_net *n = lr_dp_net_new(&good, &ops);
    ASSERT_NE(n, nullptr);
    lr_dp_net_free(n);
    lr_dp_net_free(nullptr);
    auto bad = [&](void (*mut)(lr_dp_net_cfg &)) {
        lr_dp_net_cfg c = good;
        mut(c);
        errno = 0;
        EXPECT_EQ(lr_dp_net_new(&c, &ops), nullptr);
        EXPECT_EQ(errno, EINVAL);
    };
    bad([](lr_dp_net_cfg &c) { c.ip = 0; });
    bad([](lr_dp_net_cfg &c) { c.prefix = 33; });
    bad([](lr_dp_net_cfg &c) { c.vlan = 4095; });
    bad([](lr_dp_net_cfg &c) { c.mtu = 100; });
    bad([](lr_dp_net_cfg &c) { c.mtu = 9001; });
    bad([](lr_dp_net_cfg &c) { c.neighbours = 0; });
    bad([](lr_dp_net_cfg &c) { c.mac[0] = 1; });
    lr_dp_net_ops no_tx{};
    errno = 0;
    EXPECT_EQ(lr_dp_net_new(&good, &no_tx), nullptr);
    EXPECT_EQ(errno, EINVAL);
}

} // namespace
