#!/bin/bash
# Checksum offload on the DPDK path: the tap PMD (net_tap) offers IPv4 and TCP checksum
# verification and insertion, so linerate turns both on: the TCP stack skips summing what the
# port verified and leaves the checksums of what it sends to the port.
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
l='worker="0",cpu="0",numa_node="0"'
ok=$(metric "linerate_dp_rx_checksum_offloaded_total{$l}")
rx=$(metric "linerate_dp_rx_packets_total{$l}")
txo=$(metric "linerate_dp_tx_checksum_offloaded_total{$l}")
tx=$(metric "linerate_dp_tx_packets_total{$l}")
echo "checksums verified by the port: $ok of $rx frames in; computed by the port: $txo of $tx out"
[ "${ok:-0}" -gt 100 ] || fail "the port verified no checksum (rx offload not used): ${ok:-none} of $rx"
# Every TCP frame went out with its checksums left to the port: had it not computed them, the
# client's kernel would have dropped them and the run above could not have passed.
[ "${txo:-0}" -gt 100 ] || fail "no frame left its checksums to the port (tx offload not used)"
stop_linerate
echo "ok"
