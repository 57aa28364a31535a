#!/bin/bash
# RX checksum offload on the DPDK path: the tap PMD (net_tap) offers IPv4 and TCP checksum
# verification, so linerate turns it on and the TCP stack skips summing what the port verified.
# This host's kernel is the client over the tap device the PMD creates (10.77.0.2); the basic
# client run (curl, the JS exporters over OTLP/HTTP and gRPC, h2load; everything compared in
# Kafka) must pass, with the port's verdict used for the frames it verified.
source "$(dirname "$0")/lib.sh"

TAP=lrtap$$
# The client is this host's own kernel over the tap device (moving a tap that the PMD holds into
# another namespace upset the process's other sockets here): 10.77.0.2 on the tap, routes to
# 10.77.0.0/24 through it.
nsx() { "$@"; }
DP_VDEV="net_tap0,iface=$TAP" start_linerate_dpdk --set receivers.otlp.protocols.http.ack=spool
ip addr add 10.77.0.2/24 dev $TAP
ip link set $TAP up
ethtool -K $TAP tx off tso off gso off >/dev/null 2>&1 || true
dp_arp_check
dp_basic_run net_tap
ok=$(metric 'linerate_dp_rx_checksum_offloaded_total{worker="0",cpu="0",numa_node="0"}')
rx=$(metric 'linerate_dp_rx_packets_total{worker="0",cpu="0",numa_node="0"}')
echo "frames with checksums verified by the port: $ok of $rx"
[ "${ok:-0}" -gt 100 ] || fail "the port verified no checksum (rx offload not used): ${ok:-none} of $rx"
stop_linerate
echo "ok"
