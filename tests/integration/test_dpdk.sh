#!/bin/bash
# The kernel-bypass dataplane (dataplane.mode: dpdk) end to end. A veth pair: one end in a
# network namespace is the client host (10.77.0.2/24, offloads off so that the bypass path sees
# full checksums and MTU-sized frames), the other end is driven by DPDK's af_packet PMD
# (--no-huge --no-pci) and served by linerate's own ARP, IPv4 and TCP stack at 10.77.0.1. From
# the namespace: ping (ICMP echo), curl (OTLP/HTTP JSON and protobuf), the official JS SDK
# exporter over OTLP/HTTP protobuf and OTLP/gRPC, and h2load; everything must reach Kafka,
# compared item by item. (test_dpdk_loss.sh does the same through 5 % loss.)
source "$(dirname "$0")/lib.sh"

dp_net_setup
start_linerate_dpdk --set receivers.otlp.protocols.http.ack=spool
URL=http://10.77.0.1:$HTTP_PORT

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
        --traces 300 --batch 50 --seed $([ $proto = grpc ] && echo 5 || echo 4) \
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
echo "userspace TCP: $opened connections, $rx frames in"
dp_check_logs
stop_linerate
echo "ok"
