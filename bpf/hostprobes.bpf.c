// SPDX-License-Identifier: GPL-2.0
/* linerate's host probes: tp_btf programs (BTF-typed tracepoints; no kprobes, and fentry does not
 * load on the test kernels) that aggregate in the kernel into per-CPU maps. The control thread
 * (control/hostmetrics.c) reads the maps every interval and ships them as OTLP metrics; nothing
 * here sends an event to user space. Every program is attached on its own, so a tracepoint that
 * is missing turns off that probe alone.
 *
 * Argument layouts are the kernel's `btf_trace_<tracepoint>` typedefs (6.18); where they changed
 * over time only trailing arguments were added, and we read only the leading ones. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hostprobes.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define REQ_OP_MASK 0xffu

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LR_BPF_C_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, LR_BPF_RETX_KEYS);
    __type(key, struct lr_bpf_retx_key);
    __type(value, __u64);
} retx SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LR_BPF_TCP_STATES);
    __type(key, __u32);
    __type(value, __u64);
} tcp_states SEC(".maps");

/* One histogram per CPU: a per-CPU array of one entry is exactly that. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct lr_bpf_hist);
} srtt_hist SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct lr_bpf_hist);
} runq SEC(".maps");

/* pid -> when it became runnable (ns). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u64);
} runq_start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, LR_BPF_DISK_KEYS);
    __type(key, struct lr_bpf_disk_key);
    __type(value, struct lr_bpf_disk_val);
} disk SEC(".maps");

/* struct request * -> when it was issued (ns). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u64);
} disk_start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LR_BPF_DROP_REASONS);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LR_BPF_SOFTIRQS);
    __type(key, __u32);
    __type(value, __u64);
} softirq_ns SEC(".maps");

/* When the softirq running on this CPU entered (ns); softirqs do not nest on one CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} softirq_start SEC(".maps");

static __always_inline void count(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&counters, &idx);
    if (v)
        *v += 1;
}

static __always_inline void hist_add(struct lr_bpf_hist *h, __u64 us)
{
    __u32 s = lr_bpf_hist_slot(us);
    if (s < LR_BPF_HIST_SLOTS) /* for the verifier */
        h->slots[s] += 1;
    h->count += 1;
    h->sum += us;
}

/* ---- TCP ---------------------------------------------------------------------------------- */

/* Counted in segments, like the kernel's RetransSegs: TCP hands the device GSO skbs (software
 * GSO when the device has none), so one retransmitted skb can carry several segments; their count
 * is tcp_skb_pcount(), tcp_gso_segs in the skb's control block (0 or 1: one). */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
    const struct tcp_skb_cb *cb = (const struct tcp_skb_cb *)skb->cb;
    __u64 segs = BPF_CORE_READ(cb, tcp_gso_segs);
    if (segs == 0)
        segs = 1;
    struct lr_bpf_retx_key k = {};
    k.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    k.family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (k.family == AF_INET) {
        __u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(k.prefix, &d, 3); /* network order: the /24 */
    } else if (k.family == AF_INET6) {
        bpf_core_read(k.prefix, 6, &sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8); /* the /48 */
    }
    __u64 *v = bpf_map_lookup_elem(&retx, &k);
    if (!v) {
        if (bpf_map_update_elem(&retx, &k, &segs, BPF_NOEXIST) == 0)
            return 0;
        v = bpf_map_lookup_elem(&retx, &k); /* another CPU inserted the key first */
    }
    if (v)
        *v += segs;
    return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state, const struct sock *sk, int oldstate, int newstate)
{
    if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
        return 0;
    __u32 s = (__u32)newstate;
    __u64 *v = bpf_map_lookup_elem(&tcp_states, &s);
    if (v)
        *v += 1;
    return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_reset_sent)
{
    count(LR_BPF_C_RST_SENT);
    return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_reset_received)
{
    count(LR_BPF_C_RST_RECV);
    return 0;
}

/* tcp_probe fires for each segment taken by tcp_rcv_established; srtt_us holds 8 x the smoothed
 * RTT (RFC 6298 arithmetic in tcp_rtt_estimator). */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_rtt, struct sock *sk)
{
    struct tcp_sock *tp = (struct tcp_sock *)sk;
    __u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
    __u32 zero = 0;
    struct lr_bpf_hist *h = bpf_map_lookup_elem(&srtt_hist, &zero);
    if (h && srtt)
        hist_add(h, srtt);
    return 0;
}

/* ---- scheduler: run-queue latency (wakeup or preemption to running) -------------------------- */

static __always_inline void runq_mark(__u32 pid)
{
    if (!pid)
        return;
    __u64 t = bpf_ktime_get_ns();
    bpf_map_update_elem(&runq_start, &pid, &t, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runq_wakeup, struct task_struct *p)
{
    runq_mark(BPF_CORE_READ(p, pid));
    return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runq_wakeup_new, struct task_struct *p)
{
    runq_mark(BPF_CORE_READ(p, pid));
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runq_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    /* A task switched out while still runnable (preempted) waits in the run queue from now. */
    if (BPF_CORE_READ(prev, __state) == 0)
        runq_mark(BPF_CORE_READ(prev, pid));
    __u32 pid = BPF_CORE_READ(next, pid);
    __u64 *t0 = bpf_map_lookup_elem(&runq_start, &pid);
    if (!t0)
        return 0;
    __u64 d = bpf_ktime_get_ns() - *t0;
    bpf_map_delete_elem(&runq_start, &pid);
    __u32 zero = 0;
    struct lr_bpf_hist *h = bpf_map_lookup_elem(&runq, &zero);
    if (h)
        hist_add(h, d / 1000);
    return 0;
}

/* ---- block I/O ---------------------------------------------------------------------------- */

SEC("tp_btf/block_rq_issue")
int BPF_PROG(disk_issue, struct request *rq)
{
    __u64 k = (__u64)rq, t = bpf_ktime_get_ns();
    bpf_map_update_elem(&disk_start, &k, &t, BPF_ANY);
    return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(disk_complete, struct request *rq, int error, unsigned int nr_bytes)
{
    __u64 k = (__u64)rq;
    __u64 *t0 = bpf_map_lookup_elem(&disk_start, &k);
    if (!t0)
        return 0;
    __u64 d = bpf_ktime_get_ns() - *t0;
    bpf_map_delete_elem(&disk_start, &k);
    struct lr_bpf_disk_key dk = {};
    dk.major = BPF_CORE_READ(rq, q, disk, major);
    dk.minor = BPF_CORE_READ(rq, q, disk, first_minor);
    dk.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
    struct lr_bpf_disk_val *v = bpf_map_lookup_elem(&disk, &dk);
    if (!v) {
        struct lr_bpf_disk_val z = {};
        bpf_map_update_elem(&disk, &dk, &z, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&disk, &dk);
        if (!v)
            return 0;
    }
    hist_add(&v->lat, d / 1000);
    v->bytes += nr_bytes;
    return 0;
}

/* ---- packet drops by reason ------------------------------------------------------------------ */

SEC("tp_btf/kfree_skb")
int BPF_PROG(skb_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
    __u32 r = (__u32)reason;
    if (r >= LR_BPF_DROP_REASONS)
        r = 0;
    __u64 *v = bpf_map_lookup_elem(&drops, &r);
    if (v)
        *v += 1;
    return 0;
}

/* ---- softirq time by vector ----------------------------------------------------------------- */

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_enter, unsigned int vec)
{
    __u32 zero = 0;
    __u64 *t = bpf_map_lookup_elem(&softirq_start, &zero);
    if (t)
        *t = bpf_ktime_get_ns();
    return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_leave, unsigned int vec)
{
    __u32 zero = 0;
    __u64 *t = bpf_map_lookup_elem(&softirq_start, &zero);
    if (!t || !*t)
        return 0;
    __u64 d = bpf_ktime_get_ns() - *t;
    *t = 0;
    __u32 k = vec;
    __u64 *v = bpf_map_lookup_elem(&softirq_ns, &k);
    if (v)
        *v += d;
    return 0;
}

/* ---- processes ------------------------------------------------------------------------------ */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec)
{
    count(LR_BPF_C_EXEC);
    return 0;
}

/* The tracepoint fires once per thread; a process exits when its thread-group leader does. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
    if (BPF_CORE_READ(p, pid) == BPF_CORE_READ(p, tgid))
        count(LR_BPF_C_EXIT);
    return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(oom_kill)
{
    count(LR_BPF_C_OOM);
    return 0;
}
