#!/bin/bash
# Instructions per received segment and per request on both io paths, from callgrind, over the
# same wire: a veth pair whose client end is in a network namespace, h2load there sending N
# OTLP/HTTP requests (the 96-span fixture body, 16 connections), linerate on one core under
# callgrind with memory acks and the null sink. Counters are zeroed after a warm-up and dumped
# after the measured requests (callgrind_control), then read as inclusive costs:
#   dpdk:   dpdk_frame (net.c, tcp.c and the protocol engine for each received frame) plus
#           flush_all (responses through tcp.c into the TX queue): all of linerate's own work
#           per frame. The PMD's burst functions are left out on both sides of the copy.
#   socket: c_feed (the protocol engine on what recv() returned) plus conn_flush (responses, up
#           to the send() call). The kernel's TCP/IP work is out of callgrind's sight, and this
#           VM has no hardware counters (perf stat: <not supported>), so for the socket path
#           the same figure is user space only; its kernel share is given as system CPU time
#           per segment from a run without valgrind.
# Plus the whole process (all threads) per request in the same window.
# Needs root. Appends a section to bench/RESULTS.md. Usage: bench/dataplane_callgrind.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/veth.sh
N=${1:-400}
make --no-print-directory build/linerate >/dev/null
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
NS=lrc$$ VH=lrch$$ VC=lrcc$$
VG="" LRP=""
cleanup() {
    [ -n "$VG" ] && kill -TERM $VG 2>/dev/null || true
    [ -n "$LRP" ] && kill -TERM $LRP 2>/dev/null || true
    sleep 0.5
    ip netns del $NS 2>/dev/null || true
    ip link del $VH 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf $W
}
trap cleanup EXIT
veth_pair $NS $VH $VC 10.79.0.2
for i in $(seq 1 32); do cat tests/fixtures/otlp-js-0.223/traces.http-protobuf.body; done >$W/b96
rx() { cat /sys/class/net/$VH/statistics/rx_packets; }
load() { # load N CONNS
    ip netns exec $NS h2load -n $1 -t 1 -c $2 --h1 -d $W/b96 -H 'Content-Type: application/x-protobuf' \
        http://10.79.0.1:14318/v1/traces 2>&1 | sed -n 's/.* \([0-9]*\) succeeded.*/\1/p'
}
incl() { # incl FILE FUNCTION...: sum of the functions' inclusive Ir
    local f=$1 s=0 v fn
    shift
    for fn in "$@"; do
        v=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
            awk -v fn="$fn" '{ for (i = 2; i <= NF; i++) if ($i ~ ":" fn " " || $i ~ ":" fn "$") { gsub(",", "", $1); print $1; exit } }')
        s=$((s + ${v:-0}))
    done
    echo $s
}
rows=""
for mode in socket dpdk; do
    rm -rf $W/run
    if [ $mode = dpdk ]; then
        ip addr flush dev $VH
        extra=(--set dataplane.mode=dpdk --set dataplane.ip=10.79.0.1/24
            --set "dataplane.dpdk.eal_args=--no-huge --no-pci -m 256 --no-shconf --vdev=net_af_packet0,iface=$VH")
        fns=(dpdk_frame flush_all)
    else
        ip addr add 10.79.0.1/24 dev $VH
        extra=()
        fns=(c_feed conn_flush)
    fi
    valgrind --tool=callgrind --callgrind-out-file=$W/cg.$mode build/linerate --cores 0 \
        --run-dir $W/run --endpoint 10.79.0.1:14318 --admin 127.0.0.1:14133 \
        --grpc-endpoint 10.79.0.1:14317 --set service.status_interval_ms=0 \
        --set receivers.otlp.protocols.http.ack=memory --set exporters.null.enabled=true \
        "${extra[@]}" >$W/out.$mode 2>&1 &
    VG=$!
    for i in $(seq 1 600); do curl -sf http://127.0.0.1:14133/ready >/dev/null 2>&1 && break; sleep 0.1; done
    load 50 4 >/dev/null # ARP, connections, first allocations
    callgrind_control -z $VG >/dev/null 2>&1
    r0=$(rx)
    ok=$(load $N 16)
    r1=$(rx)
    callgrind_control -d $VG >/dev/null 2>&1
    sleep 1
    dump=$(ls $W/cg.$mode.* 2>/dev/null | head -1)
    [ -n "$dump" ] || dump=$(ls -t $W/cg.$mode* | head -1)
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    work=$(incl "$dump" "${fns[@]}")
    segs=$((r1 - r0))
    rows+=$(awk -v m=$mode -v fn="${fns[*]}" -v w=$work -v t=$total -v s=$segs -v q=${ok:-0} \
        'BEGIN { printf "| %s | %s | %d | %d | %.0f | %.0f | %.0f |", m, fn, q, s, w / s, w / q, t / q }')
    rows+=$'\n'
    eval "spr_$mode=$(awk -v s=$segs -v q=${ok:-1} 'BEGIN { printf "%.3f", s / q }')"
    eval "ipr_$mode=$(awk -v w=$work -v q=${ok:-1} 'BEGIN { printf "%.0f", w / q }')"
    kill -TERM $VG
    wait $VG 2>/dev/null || true
    VG=""
done
# The socket path's kernel share, without valgrind: system CPU seconds of the worker thread per
# received segment, times the TSC rate.
ip addr flush dev $VH
ip addr add 10.79.0.1/24 dev $VH
rm -rf $W/run
build/linerate --cores 0 --run-dir $W/run --endpoint 10.79.0.1:14318 --admin 127.0.0.1:14133 \
    --grpc-endpoint 10.79.0.1:14317 --set service.status_interval_ms=0 \
    --set receivers.otlp.protocols.http.ack=memory --set exporters.null.enabled=true >$W/out.k 2>&1 &
LRP=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:14133/ready >/dev/null 2>&1 && break; sleep 0.1; done
load 200 4 >/dev/null
sys_s() {
    for t in /proc/$LRP/task/*; do
        [ "$(cat $t/comm)" = lr-worker-0 ] && awk -v hz=$(getconf CLK_TCK) '{ printf "%.3f %.3f\n", $14 / hz, $15 / hz }' $t/stat
    done
}
read u0 s0 < <(sys_s)
r0=$(rx)
okk=$(load 20000 16)
r1=$(rx)
read u1 s1 < <(sys_s)
kill -TERM $LRP
wait $LRP 2>/dev/null || true
LRP=""
tsc_hz=$(awk -F: '/cpu MHz/ { printf "%.0f", $2 * 1e6; exit }' /proc/cpuinfo)
kline=$(awk -v u=$((0)) -v a=$s0 -v b=$s1 -v ua=$u0 -v ub=$u1 -v s=$((r1 - r0)) -v q=${okk:-0} -v h=$tsc_hz \
    'BEGIN { printf "%d requests, %d segments: kernel (system) time %.0f ns = %.0f cycles per segment, user time %.0f ns per segment", q, s, (b - a) * 1e9 / s, (b - a) * h / s, (ub - ua) * 1e9 / s }')
{
    echo
    echo "## Instructions per segment on both io paths, callgrind ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r), $(valgrind --version)."
    echo
    echo '| path | inclusive cost of | requests | segments received | instructions per segment | per request | whole process (all threads) per request |'
    echo '|---|---|---|---|---|---|---|'
    printf '%s' "$rows"
    echo
    echo "Both rows run the same protocol engine on the same bytes (c_feed is within dpdk_frame on the DPDK path), so the difference is what linerate's own ARP/IPv4/TCP adds: $((ipr_dpdk - ipr_socket)) instructions per request, $(awk -v d=$((ipr_dpdk - ipr_socket)) -v s=$spr_dpdk 'BEGIN { printf "%.0f", d / s }') per received segment ($spr_dpdk segments per request)."
    echo
    echo "The socket row is user space only: the kernel's TCP/IP work is invisible to callgrind and this VM exposes no hardware counters. Its kernel share, measured without valgrind in the same run (worker thread, /proc stat): $kline."
    echo
    echo "Command: \`bench/dataplane_callgrind.sh $N\`: a veth pair into a namespace, \`h2load -c 16 --h1\` there, 96-span requests, one worker, memory acks, the null sink."
} >>bench/RESULTS.md
tail -12 bench/RESULTS.md
