/* Link and network layer of the kernel-bypass dataplane (dataplane/net.c): Ethernet (optional
 * 802.1Q VLAN), ARP, ICMP echo and IPv4, over plain byte buffers, so that it runs the same on a
 * DPDK queue, an AF_XDP socket or a unit test. One instance per lcore (queue), shared-nothing.
 *
 * In: Ethernet frames (lr_dp_net_input). ARP requests for our address are answered; ARP replies
 * and the source of every IPv4 packet addressed to us fill the neighbour cache; ICMP echo
 * requests are answered; IPv4 datagrams are validated (version, header length, checksum, total
 * length) and fragments refused (counted); TCP datagrams for our address go to `ip_input`.
 * Out: lr_dp_net_ip_output() adds the Ethernet header for an IPv4 datagram, resolving the next
 * hop (the destination on our subnet, else the gateway) from the cache, or by ARP (the datagram
 * waits, a few per destination, until the reply or a timeout). IPv6 is not handled (dropped,
 * counted). Single-threaded. */
#ifndef LINERATE_DP_NET_H
#define LINERATE_DP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lr_dp_net; /* opaque */

struct lr_dp_net_ops {
    /* A complete Ethernet frame to transmit (borrowed for the call). */
    void (*tx)(void *ctx, const uint8_t *frame, size_t len);
    /* A valid, unfragmented IPv4 datagram with protocol TCP addressed to us (header first,
     * borrowed for the call; `len` is the IP total length, link padding removed). */
    void (*ip_input)(void *ctx, const uint8_t *ip_pkt, size_t len, uint64_t now_ns);
    void *ctx;
};

struct lr_dp_net_cfg {
    uint8_t mac[6];      /* our MAC address */
    uint32_t ip;         /* our IPv4 address, host byte order */
    uint8_t prefix;      /* subnet prefix length (0..32) */
    uint32_t gateway;    /* next hop off the subnet, host byte order; 0: none (off-subnet drops) */
    uint16_t vlan;       /* 802.1Q VLAN id to tag with and accept; 0: untagged */
    uint32_t mtu;        /* largest IPv4 datagram sent or answered (576..9000; 0: 1500) */
    uint32_t neighbours; /* neighbour cache entries (1..1048576; rounded up to a power of 2) */
    uint32_t neighbour_ttl_ms; /* a learned entry in use is refreshed by ARP after this long
                                  (0: never); it stays usable meanwhile */
};

struct lr_dp_net_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t arp_requests_in, arp_replies_out, arp_requests_out, arp_replies_in;
    uint64_t icmp_echo;
    uint64_t drop_not_ours, drop_bad_frame, drop_ipv6, drop_other_ethertype, drop_vlan;
    uint64_t drop_ip_header, drop_ip_checksum, drop_ip_fragment, drop_other_protocol;
    uint64_t drop_no_route, drop_arp_timeout, drop_arp_queue_full;
};

/* Returns owned (lr_dp_net_free), or NULL (errno EINVAL: ip 0, prefix > 32, vlan > 4094, mtu or
 * neighbours out of range, no tx; ENOMEM). Allocates every table up front. */
struct lr_dp_net *lr_dp_net_new(const struct lr_dp_net_cfg *cfg, const struct lr_dp_net_ops *ops);
void lr_dp_net_free(struct lr_dp_net *n);

/* One received Ethernet frame (borrowed). */
void lr_dp_net_input(struct lr_dp_net *n, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Sends an IPv4 datagram (borrowed; copied when it must wait for ARP). Returns 0, or -EHOSTUNREACH
 * (no route: off-subnet without a gateway; counted), -EAGAIN (queued for ARP resolution: sent when
 * the reply comes, dropped and counted after the retries), -ENOBUFS (ARP queue full: dropped,
 * counted), -EMSGSIZE (longer than the MTU), -EINVAL (shorter than an IPv4 header). */
int lr_dp_net_ip_output(struct lr_dp_net *n, const uint8_t *ip_pkt, size_t len, uint64_t now_ns);

/* ARP retries (every second, 3 requests) and timeouts. Call at least every 100 ms. */
void lr_dp_net_tick(struct lr_dp_net *n, uint64_t now_ns);

const struct lr_dp_net_stats *lr_dp_net_stats(const struct lr_dp_net *n);

#endif
