/* Records shared by bpf/hostprobes.bpf.c (the kernel side) and control/hostmetrics.c (the reader).
 * Fixed-width fields only: both compilers must lay them out the same way. */
#ifndef LINERATE_BPF_HOSTPROBES_H
#define LINERATE_BPF_HOSTPROBES_H

#ifdef __BPF__
/* vmlinux.h defines the kernel's fixed-width types */
#else
#include <linux/types.h>
#endif
#ifdef __cplusplus
#define LR_BPF_ASSERT static_assert
#else
#define LR_BPF_ASSERT _Static_assert
#endif

/* Log2 histograms: slot 0 counts values <= 1, slot i (1 <= i < LR_BPF_HIST_SLOTS - 1) values in
 * (2^(i-1), 2^i], the last slot everything above 2^(LR_BPF_HIST_SLOTS - 2). So slot i's upper
 * bound is 2^i and the OTLP explicit bounds are 1, 2, 4, ... 2^(LR_BPF_HIST_SLOTS - 2). Values are
 * microseconds. */
#define LR_BPF_HIST_SLOTS 28

struct lr_bpf_hist {
    __u64 slots[LR_BPF_HIST_SLOTS];
    __u64 count;
    __u64 sum; /* of the values, microseconds */
};
LR_BPF_ASSERT(sizeof(struct lr_bpf_hist) == (LR_BPF_HIST_SLOTS + 2) * 8, "lr_bpf_hist layout");

/* The slot of value `v`: ceil(log2(v)) for v >= 2, 0 for v <= 1, capped at the last slot. Shared
 * by the probes and the unit tests of the OTLP bounds (tests/unit/control/test_hostmetrics.cc). */
static inline __attribute__((always_inline)) __u32 lr_bpf_hist_slot(__u64 v)
{
    if (v <= 1)
        return 0;
    v -= 1;
    __u32 r = 0, s;
    s = (__u32)(v > 0xffffffffull) << 5;
    v >>= s;
    r |= s;
    s = (__u32)(v > 0xffff) << 4;
    v >>= s;
    r |= s;
    s = (__u32)(v > 0xff) << 3;
    v >>= s;
    r |= s;
    s = (__u32)(v > 0xf) << 2;
    v >>= s;
    r |= s;
    s = (__u32)(v > 0x3) << 1;
    v >>= s;
    r |= s;
    r |= (__u32)(v >> 1);
    r += 1;
    return r < LR_BPF_HIST_SLOTS ? r : LR_BPF_HIST_SLOTS - 1;
}

/* Plain counters (one per-CPU array, these indexes). */
enum lr_bpf_counter {
    LR_BPF_C_RST_SENT = 0,
    LR_BPF_C_RST_RECV = 1,
    LR_BPF_C_EXEC = 2,
    LR_BPF_C_EXIT = 3,
    LR_BPF_C_OOM = 4,
    LR_BPF_C_COUNT = 5,
};

/* Retransmits are counted per local port and remote address prefix (/24 for IPv4, /48 for IPv6:
 * one key per peer network, not per peer, so the map stays small under a scan). */
struct lr_bpf_retx_key {
    __u16 lport;  /* host byte order */
    __u16 family; /* AF_INET (2) or AF_INET6 (10) */
    __u8 prefix[16];
};
LR_BPF_ASSERT(sizeof(struct lr_bpf_retx_key) == 20, "lr_bpf_retx_key layout");

/* Block I/O per device and operation. */
struct lr_bpf_disk_key {
    __u32 major;
    __u32 minor;
    __u32 op; /* REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard, others as is */
};
LR_BPF_ASSERT(sizeof(struct lr_bpf_disk_key) == 12, "lr_bpf_disk_key layout");

struct lr_bpf_disk_val {
    struct lr_bpf_hist lat; /* issue to completion, microseconds */
    __u64 bytes;
};
LR_BPF_ASSERT(sizeof(struct lr_bpf_disk_val) == sizeof(struct lr_bpf_hist) + 8,
              "lr_bpf_disk_val layout");

#define LR_BPF_TCP_STATES 16    /* TCP_ESTABLISHED (1) .. TCP_NEW_SYN_RECV (12), room to spare */
#define LR_BPF_DROP_REASONS 256 /* enum skb_drop_reason: SKB_DROP_REASON_MAX is 130 in 6.18 */
#define LR_BPF_SOFTIRQS 16      /* NR_SOFTIRQS is 10 */
#define LR_BPF_RETX_KEYS 4096
#define LR_BPF_DISK_KEYS 1024

#endif
