/* Link and network layer of the kernel-bypass dataplane (dataplane/net.h).
 *
 * Everything is read through bounds-checked helpers over the received buffer; nothing is
 * allocated after lr_dp_net_new(). The neighbour cache is an open-addressed table probed over a
 * small window (no tombstones: lookups scan the whole window), with the datagrams that wait for
 * an ARP reply in a preallocated pool of MTU-sized slots, a few per destination.
 *
 * References: RFC 826 (ARP, including its "merge" rule: an existing entry is updated from any ARP
 * packet, a new one is created only from packets for us), RFC 1122 3.2.1.3 (martian source
 * addresses), 3.2.2.6 (echo reply: same data, addresses swapped), RFC 791 (header checksum,
 * fragments), RFC 1071 (the Internet checksum), IEEE 802.1Q (the tag). */
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HDR 14
#define VLAN_HDR 4
#define ETH_MIN_FRAME 60 /* without the FCS: shorter frames are padded */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_IPV6 0x86dd
#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define IP_TTL_OUT 64

#define PROBE_WINDOW 8             /* slots probed per lookup */
#define ARP_QUEUE_PER_DEST 4       /* datagrams waiting per destination */
#define ARP_TRIES 3                /* requests before giving up */
#define ARP_RETRY_NS 1000000000ull /* between two requests */
#define NO_SLOT UINT16_MAX

enum nstate { N_FREE = 0, N_INCOMPLETE, N_VALID };

struct neigh {
    uint32_t ip;
    uint8_t mac[6];
    uint8_t state;           /* enum nstate */
    uint8_t tries;           /* requests sent (INCOMPLETE) */
    uint64_t confirmed_ns;   /* VALID: last learned */
    uint64_t next_try_ns;    /* INCOMPLETE: next request; VALID: no refresh before this */
    uint16_t q_head, q_tail; /* waiting datagrams (slot indexes, linked by slot.next) */
    uint16_t q_n;
};

struct slot {
    uint16_t next;
    uint16_t len;
    uint8_t *data; /* mtu bytes inside lr_dp_net.slot_mem */
};

struct lr_dp_net {
    struct lr_dp_net_cfg cfg;
    struct lr_dp_net_ops ops;
    uint32_t mask; /* subnet mask, host order */
    uint32_t n_neigh_mask;
    struct neigh *neigh;
    uint32_t n_incomplete; /* so that tick skips the table when nothing waits */
    struct slot *slots;
    uint8_t *slot_mem;
    uint16_t n_slots, free_slot;
    uint8_t *txbuf; /* one frame: link header + mtu, at least ETH_MIN_FRAME */
    size_t l2_len;  /* 14 or 18 */
    struct lr_dp_net_stats st;
};

/* ---- byte helpers ------------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* RFC 1071: the one's complement of the one's complement sum of 16-bit words. A buffer that
 * holds its own correct checksum sums to 0. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        sum += (uint32_t)p[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static bool mac_is_group(const uint8_t *m)
{
    return m[0] & 1; /* multicast and broadcast */
}

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- addresses ---------------------------------------------------------------------------- */

static bool on_subnet(const struct lr_dp_net *n, uint32_t a)
{
    return (a & n->mask) == (n->cfg.ip & n->mask);
}

static bool is_bcast(const struct lr_dp_net *n, uint32_t a)
{
    return a == 0xffffffffu ||
           (n->cfg.prefix < 31 && on_subnet(n, a) && (a | n->mask) == 0xffffffffu);
}

/* RFC 1122 3.2.1.3: a source that can never be a unicast host: 0/8, 127/8, class D and E. */
static bool martian_src(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 24) == 127 || a >= 0xe0000000u;
}

/* ---- output ------------------------------------------------------------------------------- */

/* Writes the Ethernet (+ 802.1Q) header into txbuf; returns its length. */
static size_t put_l2(struct lr_dp_net *n, const uint8_t dst[6], uint16_t ethertype)
{
    uint8_t *f = n->txbuf;
    memcpy(f, dst, 6);
    memcpy(f + 6, n->cfg.mac, 6);
    if (n->cfg.vlan) {
        wr16(f + 12, ETHERTYPE_VLAN);
        wr16(f + 14, n->cfg.vlan); /* PCP 0, DEI 0 */
        wr16(f + 16, ethertype);
        return ETH_HDR + VLAN_HDR;
    }
    wr16(f + 12, ethertype);
    return ETH_HDR;
}

/* Sends txbuf[0..len), padded to the Ethernet minimum. */
static void send_frame(struct lr_dp_net *n, size_t len)
{
    if (len < ETH_MIN_FRAME) {
        memset(n->txbuf + len, 0, ETH_MIN_FRAME - len);
        len = ETH_MIN_FRAME;
    }
    n->st.tx_frames++;
    n->st.tx_bytes += len;
    n->ops.tx(n->ops.ctx, n->txbuf, len);
}

static void send_arp(struct lr_dp_net *n, uint16_t op, const uint8_t dst_mac[6],
                     const uint8_t tha[6], uint32_t tpa)
{
    size_t o = put_l2(n, dst_mac, ETHERTYPE_ARP);
    uint8_t *a = n->txbuf + o;
    wr16(a, 1); /* Ethernet */
    wr16(a + 2, ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, n->cfg.mac, 6);
    wr32(a + 14, n->cfg.ip);
    memcpy(a + 18, tha, 6);
    wr32(a + 24, tpa);
    send_frame(n, o + ARP_LEN);
}

static void send_arp_request(struct lr_dp_net *n, uint32_t ip)
{
    static const uint8_t zero[6];
    n->st.arp_requests_out++;
    send_arp(n, ARP_REQUEST, bcast_mac, zero, ip);
}

static void send_ip(struct lr_dp_net *n, const uint8_t dst_mac[6], const uint8_t *ip, size_t len)
{
    size_t o = put_l2(n, dst_mac, ETHERTYPE_IPV4);
    memcpy(n->txbuf + o, ip, len);
    send_frame(n, o + len);
}

/* ---- the neighbour cache ------------------------------------------------------------------ */

static uint32_t nhash(uint32_t ip)
{
    return (ip * 0x9e3779b1u) >> 7; /* Fibonacci hashing; the low bits of IPs are the busy ones */
}

static struct neigh *neigh_find(struct lr_dp_net *n, uint32_t ip)
{
    uint32_t h = nhash(ip);
    for (uint32_t i = 0; i < PROBE_WINDOW && i <= n->n_neigh_mask; i++) {
        struct neigh *e = &n->neigh[(h + i) & n->n_neigh_mask];
        if (e->state != N_FREE && e->ip == ip)
            return e;
    }
    return NULL;
}

static void slot_put(struct lr_dp_net *n, uint16_t s)
{
    n->slots[s].next = n->free_slot;
    n->free_slot = s;
}

/* Drops the datagrams waiting on `e`, counting each in `*counter`. */
static void queue_drop(struct lr_dp_net *n, struct neigh *e, uint64_t *counter)
{
    while (e->q_head != NO_SLOT) {
        uint16_t s = e->q_head;
        e->q_head = n->slots[s].next;
        slot_put(n, s);
        (*counter)++;
    }
    e->q_tail = NO_SLOT;
    e->q_n = 0;
}

static void neigh_release(struct lr_dp_net *n, struct neigh *e, uint64_t *counter)
{
    if (e->state == N_INCOMPLETE) {
        queue_drop(n, e, counter);
        n->n_incomplete--;
    }
    e->state = N_FREE;
}

/* A slot for `ip`: a free one in its window, else the least recently confirmed valid one.
 * Entries still resolving are never evicted (NULL when the window holds only those). */
static struct neigh *neigh_alloc(struct lr_dp_net *n, uint32_t ip)
{
    uint32_t h = nhash(ip);
    struct neigh *victim = NULL;
    for (uint32_t i = 0; i < PROBE_WINDOW && i <= n->n_neigh_mask; i++) {
        struct neigh *e = &n->neigh[(h + i) & n->n_neigh_mask];
        if (e->state == N_FREE) {
            victim = e;
            break;
        }
        if (e->state == N_VALID && (!victim || e->confirmed_ns < victim->confirmed_ns))
            victim = e;
    }
    if (!victim)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->ip = ip;
    victim->q_head = victim->q_tail = NO_SLOT;
    return victim;
}

/* Sends what waited on `e`, now valid. */
static void queue_flush(struct lr_dp_net *n, struct neigh *e)
{
    while (e->q_head != NO_SLOT) {
        uint16_t s = e->q_head;
        e->q_head = n->slots[s].next;
        send_ip(n, e->mac, n->slots[s].data, n->slots[s].len);
        slot_put(n, s);
    }
    e->q_tail = NO_SLOT;
    e->q_n = 0;
}

/* `ip` is at `mac`. `create`: add it when absent (otherwise only an existing entry is updated,
 * RFC 826's merge). */
static void neigh_learn(struct lr_dp_net *n, uint32_t ip, const uint8_t mac[6], bool create,
                        uint64_t now_ns)
{
    if (ip == n->cfg.ip || !on_subnet(n, ip) || is_bcast(n, ip) || martian_src(ip) ||
        mac_is_group(mac))
        return;
    struct neigh *e = neigh_find(n, ip);
    if (!e) {
        if (!create || !(e = neigh_alloc(n, ip)))
            return;
    }
    memcpy(e->mac, mac, 6);
    e->confirmed_ns = now_ns;
    if (e->state == N_INCOMPLETE) {
        n->n_incomplete--;
        e->state = N_VALID;
        e->next_try_ns = 0;
        queue_flush(n, e);
    }
    e->state = N_VALID;
}

/* ---- input -------------------------------------------------------------------------------- */

static void arp_input(struct lr_dp_net *n, const uint8_t *a, size_t len, uint64_t now_ns)
{
    if (len < ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
        (rd16(a + 6) != ARP_REQUEST && rd16(a + 6) != ARP_REPLY)) {
        n->st.drop_bad_frame++;
        return;
    }
    uint16_t op = rd16(a + 6);
    const uint8_t *sha = a + 8;
    uint32_t spa = rd32(a + 14), tpa = rd32(a + 24);
    if (mac_is_group(sha) || spa == n->cfg.ip) {
        /* A host claiming our address, or nonsense: never learn or answer it. */
        n->st.drop_bad_frame++;
        return;
    }
    bool for_us = tpa == n->cfg.ip;
    /* spa 0 is an address probe (RFC 5227): answered, never learned (neigh_learn refuses it). */
    neigh_learn(n, spa, sha, for_us, now_ns);
    if (!for_us) {
        n->st.drop_not_ours++;
        return;
    }
    if (op == ARP_REQUEST) {
        n->st.arp_requests_in++;
        n->st.arp_replies_out++;
        send_arp(n, ARP_REPLY, sha, sha, spa);
    } else {
        n->st.arp_replies_in++;
    }
}

static void icmp_input(struct lr_dp_net *n, const uint8_t *eth_src, const uint8_t *ip, size_t ihl,
                       size_t tot)
{
    const uint8_t *icmp = ip + ihl;
    size_t ilen = tot - ihl;
    if (ilen < 8 || icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0) {
        n->st.drop_other_protocol++;
        return;
    }
    if (inet_csum(icmp, ilen) != 0) {
        n->st.drop_ip_checksum++;
        return;
    }
    if (tot > n->cfg.mtu) {
        n->st.drop_ip_header++;
        return;
    }
    /* RFC 1122 3.2.2.6: the same identifier, sequence and data back; IP options are not
     * reflected (a plain 20-byte header). The reply goes to the MAC it came from: no ARP, and
     * correct for pings from off the subnet too. */
    n->st.icmp_echo++;
    size_t o = put_l2(n, eth_src, ETHERTYPE_IPV4);
    uint8_t *r = n->txbuf + o;
    size_t rlen = 20 + ilen;
    r[0] = 0x45;
    r[1] = ip[1];
    wr16(r + 2, (uint16_t)rlen);
    memcpy(r + 4, ip + 4, 2); /* identification */
    wr16(r + 6, 0x4000);      /* DF */
    r[8] = IP_TTL_OUT;
    r[9] = IP_PROTO_ICMP;
    wr16(r + 10, 0);
    memcpy(r + 12, ip + 16, 4);
    memcpy(r + 16, ip + 12, 4);
    wr16(r + 10, inet_csum(r, 20));
    uint8_t *ri = r + 20;
    memcpy(ri, icmp, ilen);
    ri[0] = ICMP_ECHO_REPLY;
    wr16(ri + 2, 0);
    wr16(ri + 2, inet_csum(ri, ilen));
    send_frame(n, o + rlen);
}

static void ipv4_input(struct lr_dp_net *n, const uint8_t *eth_src, const uint8_t *ip, size_t len,
                       uint64_t now_ns)
{
    if (len < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5) {
        n->st.drop_ip_header++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = rd16(ip + 2);
    if (ihl > len || tot < ihl || tot > len) {
        n->st.drop_ip_header++;
        return;
    }
    if (inet_csum(ip, ihl) != 0) {
        n->st.drop_ip_checksum++;
        return;
    }
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    if (dst != n->cfg.ip) {
        n->st.drop_not_ours++;
        return;
    }
    if (martian_src(src) || is_bcast(n, src) || src == n->cfg.ip) {
        n->st.drop_ip_header++;
        return;
    }
    if (on_subnet(n, src)) {
        neigh_learn(n, src, eth_src, true, now_ns);
    } else if (n->cfg.gateway) {
        /* From off the subnet: eth_src is the router that forwarded it. With RSS, ARP replies
         * (not IP, so not hashed) reach one queue only, and this instance may never see the
         * gateway's; so a router that brings us traffic stands for the gateway until one does,
         * and keeps a learned gateway entry fresh while it is the same MAC. */
        struct neigh *g = neigh_find(n, n->cfg.gateway);
        if (!g || g->state != N_VALID)
            neigh_learn(n, n->cfg.gateway, eth_src, true, now_ns);
        else if (memcmp(g->mac, eth_src, 6) == 0)
            g->confirmed_ns = now_ns;
    }
    uint16_t frag = rd16(ip + 6);
    if (frag & 0x3fff) { /* MF or a fragment offset; DF is fine */
        n->st.drop_ip_fragment++;
        return;
    }
    /* tot < len: link padding (frames shorter than 60 bytes), stripped here. */
    switch (ip[9]) {
    case IP_PROTO_TCP:
        if (n->ops.ip_input)
            n->ops.ip_input(n->ops.ctx, ip, tot, now_ns);
        return;
    case IP_PROTO_ICMP:
        icmp_input(n, eth_src, ip, ihl, tot);
        return;
    default:
        n->st.drop_other_protocol++;
        return;
    }
}

void lr_dp_net_input(struct lr_dp_net *n, const uint8_t *frame, size_t len, uint64_t now_ns)
{
    n->st.rx_frames++;
    n->st.rx_bytes += len;
    if (len < ETH_HDR) {
        n->st.drop_bad_frame++;
        return;
    }
    const uint8_t *dst = frame, *src = frame + 6;
    bool to_us = memcmp(dst, n->cfg.mac, 6) == 0;
    bool bcast = memcmp(dst, bcast_mac, 6) == 0;
    uint16_t et = rd16(frame + 12);
    size_t o = ETH_HDR;
    if (et == ETHERTYPE_VLAN) {
        if (len < ETH_HDR + VLAN_HDR) {
            n->st.drop_bad_frame++;
            return;
        }
        /* VID 0 is a priority tag: the frame belongs to the untagged network. */
        if ((rd16(frame + 14) & 0x0fff) != n->cfg.vlan) {
            n->st.drop_vlan++;
            return;
        }
        et = rd16(frame + 16);
        o += VLAN_HDR;
    } else if (n->cfg.vlan) {
        n->st.drop_vlan++;
        return;
    }
    if (!to_us && !(bcast && et == ETHERTYPE_ARP)) {
        n->st.drop_not_ours++;
        return;
    }
    if (mac_is_group(src)) {
        n->st.drop_bad_frame++;
        return;
    }
    switch (et) {
    case ETHERTYPE_ARP:
        arp_input(n, frame + o, len - o, now_ns);
        return;
    case ETHERTYPE_IPV4:
        ipv4_input(n, src, frame + o, len - o, now_ns);
        return;
    case ETHERTYPE_IPV6:
        n->st.drop_ipv6++;
        return;
    default:
        n->st.drop_other_ethertype++;
        return;
    }
}

int lr_dp_net_ip_output(struct lr_dp_net *n, const uint8_t *ip_pkt, size_t len, uint64_t now_ns)
{
    if (len < 20)
        return -EINVAL;
    if (len > n->cfg.mtu)
        return -EMSGSIZE;
    uint32_t dst = rd32(ip_pkt + 16), hop;
    if (is_bcast(n, dst)) {
        send_ip(n, bcast_mac, ip_pkt, len);
        return 0;
    }
    if (on_subnet(n, dst))
        hop = dst;
    else if (n->cfg.gateway)
        hop = n->cfg.gateway;
    else {
        n->st.drop_no_route++;
        return -EHOSTUNREACH;
    }
    struct neigh *e = neigh_find(n, hop);
    if (e && e->state == N_VALID) {
        /* Stale: ask again, once a second, while still using what we have. */
        uint64_t ttl_ns = (uint64_t)n->cfg.neighbour_ttl_ms * 1000000u;
        if (ttl_ns && now_ns - e->confirmed_ns > ttl_ns && now_ns >= e->next_try_ns) {
            e->next_try_ns = now_ns + ARP_RETRY_NS;
            send_arp_request(n, hop);
        }
        send_ip(n, e->mac, ip_pkt, len);
        return 0;
    }
    if (!e) {
        if (!(e = neigh_alloc(n, hop))) {
            n->st.drop_arp_queue_full++;
            return -ENOBUFS;
        }
        e->state = N_INCOMPLETE;
        e->tries = 1;
        e->next_try_ns = now_ns + ARP_RETRY_NS;
        n->n_incomplete++;
        send_arp_request(n, hop);
    }
    if (e->q_n >= ARP_QUEUE_PER_DEST || n->free_slot == NO_SLOT) {
        n->st.drop_arp_queue_full++;
        return -ENOBUFS;
    }
    uint16_t s = n->free_slot;
    n->free_slot = n->slots[s].next;
    memcpy(n->slots[s].data, ip_pkt, len);
    n->slots[s].len = (uint16_t)len;
    n->slots[s].next = NO_SLOT;
    if (e->q_tail == NO_SLOT)
        e->q_head = s;
    else
        n->slots[e->q_tail].next = s;
    e->q_tail = s;
    e->q_n++;
    return -EAGAIN;
}

void lr_dp_net_tick(struct lr_dp_net *n, uint64_t now_ns)
{
    if (n->n_incomplete == 0)
        return;
    for (uint32_t i = 0; i <= n->n_neigh_mask; i++) {
        struct neigh *e = &n->neigh[i];
        if (e->state != N_INCOMPLETE || now_ns < e->next_try_ns)
            continue;
        if (e->tries >= ARP_TRIES) {
            neigh_release(n, e, &n->st.drop_arp_timeout);
            continue;
        }
        e->tries++;
        e->next_try_ns = now_ns + ARP_RETRY_NS;
        send_arp_request(n, e->ip);
    }
}

/* ---- life cycle --------------------------------------------------------------------------- */

struct lr_dp_net *lr_dp_net_new(const struct lr_dp_net_cfg *cfg, const struct lr_dp_net_ops *ops)
{
    if (!cfg || !ops || !ops->tx || cfg->ip == 0 || cfg->prefix > 32 || cfg->vlan > 4094 ||
        (cfg->mtu && (cfg->mtu < 576 || cfg->mtu > 9000)) || cfg->neighbours == 0 ||
        cfg->neighbours > (1u << 20) || mac_is_group(cfg->mac)) {
        errno = EINVAL;
        return NULL;
    }
    struct lr_dp_net *n = calloc(1, sizeof(*n));
    if (!n)
        goto fail;
    n->cfg = *cfg;
    n->ops = *ops;
    if (!n->cfg.mtu)
        n->cfg.mtu = 1500;
    n->mask = cfg->prefix ? ~0u << (32 - cfg->prefix) : 0;
    uint32_t size = 1;
    while (size < cfg->neighbours)
        size <<= 1;
    n->n_neigh_mask = size - 1;
    /* Enough slots for a few destinations resolving at once; the gateway is the usual one. */
    uint32_t n_slots = size * ARP_QUEUE_PER_DEST;
    n->n_slots = (uint16_t)(n_slots > 256 ? 256 : n_slots);
    n->l2_len = cfg->vlan ? ETH_HDR + VLAN_HDR : ETH_HDR;
    size_t txlen = n->l2_len + n->cfg.mtu;
    if (!(n->neigh = calloc(size, sizeof(*n->neigh))) ||
        !(n->slots = calloc(n->n_slots, sizeof(*n->slots))) ||
        !(n->slot_mem = malloc((size_t)n->n_slots * n->cfg.mtu)) ||
        !(n->txbuf = malloc(txlen < ETH_MIN_FRAME ? ETH_MIN_FRAME : txlen)))
        goto fail;
    n->free_slot = NO_SLOT;
    for (uint16_t s = n->n_slots; s-- > 0;) {
        n->slots[s].data = n->slot_mem + (size_t)s * n->cfg.mtu;
        slot_put(n, s);
    }
    return n;
fail:
    lr_dp_net_free(n);
    errno = ENOMEM;
    return NULL;
}

void lr_dp_net_free(struct lr_dp_net *n)
{
    if (!n)
        return;
    free(n->txbuf);
    free(n->slot_mem);
    free(n->slots);
    free(n->neigh);
    free(n);
}

const struct lr_dp_net_stats *lr_dp_net_stats(const struct lr_dp_net *n)
{
    return &n->st;
}
