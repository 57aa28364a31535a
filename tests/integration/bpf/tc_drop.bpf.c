/* A tc-bpf packet dropper for the loss tests (the kernel here has no netem): drops each IPv4 TCP
 * packet with probability DROP_PER_MILLE / 1000, using the kernel's per-CPU PRNG. Attached at a
 * veth's clsact egress and ingress, it loses segments both ways; the receiver then sees later
 * segments before the retransmission of a lost one, i.e. reordering as well. Everything else
 * (ARP) passes. Built by the test that uses it: clang -O2 -target bpf -c. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef DROP_PER_MILLE
#define DROP_PER_MILLE 50
#endif

/* Packets dropped and seen, for the test to report. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

SEC("tc")
int drop(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
        return TC_ACT_OK;
    __u32 k = 1;
    __u64 *seen = bpf_map_lookup_elem(&counts, &k);
    if (seen)
        __sync_fetch_and_add(seen, 1);
    if (bpf_get_prandom_u32() % 1000 >= DROP_PER_MILLE)
        return TC_ACT_OK;
    k = 0;
    __u64 *dropped = bpf_map_lookup_elem(&counts, &k);
    if (dropped)
        __sync_fetch_and_add(dropped, 1);
    return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
