#!/bin/bash
# The kernel-bypass path against the socket path on the same client and the same wire: a veth
# pair whose client end is in a network namespace (10.77.0.2), h2load there sending N OTLP/HTTP
# requests (the 96-span fixture body, 16 connections, keep-alive), linerate on one core with
# memory acks.
#   dpdk:   DPDK af_packet PMD on the host end, linerate's ARP/IPv4/TCP (dataplane.mode dpdk);
#           cycles counted inside the dataplane with the TSC around the loop passes that did
#           work (linerate_dp_busy_cycles_total), divided by frames (rx + tx) and by requests.
#   socket: the host end with 10.77.0.1 in the kernel, linerate's epoll workers; the worker
#           thread's CPU time (user + system, so the kernel's TCP is in it) times the TSC rate,
#           divided by the veth's frames and by requests.
# Plus instructions per full segment of the userspace path from callgrind (bench/tcp_segments.c,
# two runs, the difference); bench/dataplane_callgrind.sh gives both paths' instructions per
# segment on the same wire, the socket path's in user space only. References from the
# same run: memcpy and loopback TCP bandwidth (bench/refs.c).
# Needs root (namespaces). Appends a section to bench/RESULTS.md. Usage: bench/dataplane.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/veth.sh
N=${1:-20000}
make --no-print-directory build/linerate build/bench/tcp_segments >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
NS=lrb$$ VH=lrbh$$ VC=lrbc$$
cleanup() {
    kill -TERM $(cat $W/run/linerate.pid 2>/dev/null) 2>/dev/null || true
    sleep 0.5
    ip netns del $NS 2>/dev/null || true
    ip link del $VH 2>/dev/null || true
    rm -rf $W
}
trap cleanup EXIT
veth_pair $NS $VH $VC 10.77.0.2
for i in $(seq 1 32); do cat tests/fixtures/otlp-js-0.223/traces.http-protobuf.body; done >$W/b96
tsc_hz=$(awk -F: '/cpu MHz/ { printf "%.0f", $2 * 1e6; exit }' /proc/cpuinfo)
metric() { curl -sf http://127.0.0.1:14133/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
frames() { echo $(($(cat /sys/class/net/$VH/statistics/rx_packets) + $(cat /sys/class/net/$VH/statistics/tx_packets))); }
reqs() { metric 'linerate_worker_requests_total{worker="0",cpu="0",signal="traces"}'; }
worker_cpu_s() { # user + system seconds of the lr-worker-0 thread
    for t in /proc/$(cat $W/run/linerate.pid)/task/*; do
        if [ "$(cat $t/comm)" = lr-worker-0 ]; then
            awk -v hz=$(getconf CLK_TCK) '{ printf "%.3f", ($14 + $15) / hz }' $t/stat
        fi
    done
}
rows=""
for mode in socket dpdk; do
    rm -rf $W/run
    if [ $mode = dpdk ]; then
        ip addr flush dev $VH
        extra=(--set dataplane.mode=dpdk --set dataplane.ip=10.77.0.1/24
            --set "dataplane.dpdk.eal_args=--no-huge --no-pci -m 256 --no-shconf --vdev=net_af_packet0,iface=$VH")
    else
        ip addr add 10.77.0.1/24 dev $VH
        extra=()
    fi
    build/linerate --cores 0 --run-dir $W/run --endpoint 10.77.0.1:14318 --admin 127.0.0.1:14133 \
        --grpc-endpoint 10.77.0.1:14317 --set service.status_interval_ms=0 \
        --set receivers.otlp.protocols.http.ack=memory "${extra[@]}" >$W/out 2>&1 &
    for i in $(seq 1 100); do curl -sf http://127.0.0.1:14133/ready >/dev/null 2>&1 && break; sleep 0.1; done
    # warm up (ARP, connections), then measure
    ip netns exec $NS h2load -n 200 -t 1 -c 4 --h1 -d $W/b96 -H 'Content-Type: application/x-protobuf' \
        http://10.77.0.1:14318/v1/traces >/dev/null 2>&1
    f0=$(frames) r0=$(reqs) c0=$(worker_cpu_s)
    b0=$(metric 'linerate_dp_busy_cycles_total{worker="0",cpu="0",numa_node="0"}')
    out=$(ip netns exec $NS taskset -c 1 h2load -n $N -t 1 -c 16 --h1 -d $W/b96 \
        -H 'Content-Type: application/x-protobuf' http://10.77.0.1:14318/v1/traces 2>&1)
    sleep 0.1
    f1=$(frames) r1=$(reqs) c1=$(worker_cpu_s)
    b1=$(metric 'linerate_dp_busy_cycles_total{worker="0",cpu="0",numa_node="0"}')
    rps=$(echo "$out" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
    ok=$(echo "$out" | sed -n 's/.* \([0-9]*\) succeeded.*/\1/p')
    if [ $mode = dpdk ]; then
        cyc=$((b1 - b0))
        how="TSC around working loop passes"
    else
        cyc=$(awk -v a=$c0 -v b=$c1 -v h=$tsc_hz 'BEGIN { printf "%.0f", (b - a) * h }')
        how="worker thread CPU time x TSC rate (kernel TCP included)"
    fi
    mbs=$(awk -v r=$rps -v b=$(stat -c %s $W/b96) 'BEGIN { printf "%.1f", r * b / 1e6 }')
    rows+=$(awk -v m=$mode -v r=$rps -v ok=$ok -v c=$cyc -v f=$((f1 - f0)) -v q=$((r1 - r0)) -v mb=$mbs -v how="$how" \
        'BEGIN { printf "| %s | %.0f | %s | %.0f | %.0f | %.1f | %s |", m, r, ok, c / f, c / q, mb, how }')
    rows+=$'\n'
    kill -TERM $(cat $W/run/linerate.pid)
    wait || true
done
ir() { valgrind --tool=callgrind --toggle-collect=lr_dp_net_input --callgrind-out-file=$W/cg \
    build/bench/tcp_segments $1 >/dev/null 2>&1; awk '/^totals:/ { print $2 }' $W/cg; }
i1=$(ir 2000)
i2=$(ir 6000)
ips=$(((i2 - i1) / 4000))
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
{
    echo
    echo "## Kernel bypass against the socket path ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r), TSC $((tsc_hz / 1000000)) MHz."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s."
    echo
    echo '| path | req/s | requests ok | cycles per frame | cycles per request | body MB/s | how the cycles are counted |'
    echo '|---|---|---|---|---|---|---|'
    printf '%s' "$rows"
    echo
    echo "Userspace path, callgrind: ${ips} instructions per full 1448-byte segment through net.c and tcp.c (bench/tcp_segments.c, the difference of a 6000- and a 2000-segment run). Both paths from callgrind on the same wire, and the socket path's kernel time per segment: bench/dataplane_callgrind.sh."
    echo
    echo "Command: \`bench/dataplane.sh $N\`: a veth pair into a namespace, \`h2load -c 16 --h1\` there, 96-span requests, one worker on cpu 0, memory acks. On the DPDK path the frames are those the af_packet PMD moved; both paths cross the same veth, so the frame counts compare. The DPDK worker busy-polls: its CPU time is not a cost figure, the TSC count is."
} >>bench/RESULTS.md
tail -14 bench/RESULTS.md
