#!/bin/bash
# The kernel-bypass dataplane (dataplane.mode: dpdk) end to end. A veth pair: one end in a
# network namespace is the client host (10.77.0.2/24, offloads off so that the bypass path sees
# full checksums and MTU-sized frames), the other end is driven by DPDK's af_packet PMD
# (--no-huge --no-pci) and served by linerate's own ARP, IPv4 and TCP stack at 10.77.0.1. From
# the namespace: ping (ICMP echo), curl (OTLP/HTTP JSON and protobuf), the official JS SDK
# exporter over OTLP/HTTP protobuf and OTLP/gRPC, and h2load; everything must reach Kafka,
# compared item by item. (test_dpdk_loss.sh does the same through loss.)
source "$(dirname "$0")/lib.sh"

dp_net_setup
start_linerate_dpdk --set receivers.otlp.protocols.http.ack=spool

dp_arp_check

dp_basic_run af_packet
stop_linerate
echo "ok"
