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
URL=http://10.77.0.1:$HTTP_PORT
ip link show "$VH" | grep -q " xdp" || fail "no XDP program on $VH: $(ip link show "$VH")"

# ARP answered by linerate itself (ICMP echo is covered by tests/unit/dataplane/test_net.cc:
# ping is not installed here).
nsx bash -c "exec 3<>/dev/tcp/10.77.0.1/$HTTP_PORT && echo connected" >/dev/null ||
    fail "no TCP connection to the userspace stack"
nsx ip neigh show 10.77.0.1 | grep -q lladdr || fail "no ARP answer"

dp_curl "$URL"

# The official JS exporters: many spans in big requests (several segments each), both transports.
for proto in http/protobuf grpc; do
    u=$URL
    [ $proto = grpc ] && u=http://10.77.0.1:$GRPC_PORT
    nsx node "$CLIENTS/send.js" --url "$u" --protocol $proto --signal traces --count 3000 \
        --traces 300 --batch 50 --seed "$([ $proto = grpc ] && echo 5 || echo 4)" \
        --out "$WORK/sent-${proto%%/*}.json" >/dev/null || fail "send.js $proto"
done
nsx node "$CLIENTS/send.js" --url "$URL" --protocol http/protobuf --signal logs --count 500 \
    --batch 100 --seed 6 --out "$WORK/sent-logs.json" >/dev/null || fail "send.js logs"

# h2load: HTTP/1.1 keep-alive, 4 connections.
nsx h2load -n 400 -c 4 --h1 -d "$FIX/traces.http-protobuf.body" \
    -H 'Content-Type: application/x-protobuf' "$URL/v1/traces" >"$WORK/h2load.out" 2>&1 ||
    fail "h2load: $(tail -5 "$WORK/h2load.out")"
dp_check_h2load 400

dp_check_traces 1203
opened=$(metric 'linerate_dp_tcp_connections_opened_total{worker="0",cpu="0",numa_node="0"}')
rx=$(metric 'linerate_dp_rx_packets_total{worker="0",cpu="0",numa_node="0"}')
[ "${opened:-0}" -ge 8 ] || fail "connections opened by the userspace stack: ${opened:-none}"
[ "${rx:-0}" -gt 100 ] || fail "frames received on the DPDK queue: ${rx:-none}"
echo "userspace TCP over AF_XDP: $opened connections, $rx frames in"
dp_check_logs
stop_linerate
ip link show "$VH" | grep -q " xdp" && fail "the XDP program is still on $VH after the stop"
echo "ok"
