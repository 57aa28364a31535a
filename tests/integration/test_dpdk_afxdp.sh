#!/bin/bash
# The kernel-bypass dataplane on DPDK's af_xdp PMD instead of af_packet: the same flow as
# test_dpdk.sh (curl, the JS SDK exporter over OTLP/HTTP and OTLP/gRPC, h2load; everything in
# Kafka), with --vdev=net_af_xdp0,iface=$VH. What that takes on a veth pair:
#  - copy mode only: veth has no AF_XDP zero-copy, so force_copy=1 says so (XDP_COPY) rather than
#    letting the bind fall back;
#  - one XDP program on $VH, the PMD's default (libxdp's xsk_def_prog, redirecting to the socket
#    in its xsks_map). libxdp's multi-program dispatcher cannot load here (it needs freplace
#    programs: "xdp_pass: BPF program load failed: Operation not permitted") and libxdp then falls
#    back to attaching the one program; LIBXDP_SKIP_DISPATCHER=1 goes there directly;
#  - nothing on the peer: frames from the namespace reach $VH's XDP program through veth_xmit
#    (attaching it enables $VH's NAPI), and AF_XDP transmits in copy mode through the stack's
#    xmit path, not ndo_xdp_xmit, so the peer needs neither an XDP program nor GRO.
# The PMD removes its program when the port closes: checked after the stop. It does not free
# libxdp's umem handle (xsk_umem__create, 80 bytes, allocated in rte_eth_rx_queue_setup): its
# xdp_umem_destroy in DPDK 22.11 has no xsk_umem__delete (later releases call it), so LeakSanitizer
# is told to ignore that one allocation, and only it, in the sanitizer builds.
source "$(dirname "$0")/lib.sh"

echo "leak:xsk_umem__create" >"$WORK/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$WORK/lsan.supp"
dp_net_setup
export LIBXDP_SKIP_DISPATCHER=1
DP_VDEV="net_af_xdp0,iface=$VH,force_copy=1" start_linerate_dpdk \
    --set receivers.otlp.protocols.http.ack=spool
ip link show "$VH" | grep -q " xdp" || fail "no XDP program on $VH: $(ip link show "$VH")"

dp_arp_check

dp_basic_run AF_XDP
stop_linerate
ip link show "$VH" | grep -q " xdp" && fail "the XDP program is still on $VH after the stop"
echo "ok"
