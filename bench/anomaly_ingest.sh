#!/bin/bash
# What anomaly scoring costs ingest (docs/anomaly.md, Features): the per-span cost of counting
# features next to the walker's own (bench/anomaly_features.c), then end to end: linerate with one
# worker on cpu 0 (embedded broker, memory acks), otlp-load's trace requests over HTTP/1.1 from
# cpu 1 (closed loop, 4 connections), anomaly.enabled false and true, alternated twice; spans/s
# and linerate's CPU time per span. Prints a block for bench/RESULTS.md on stdout.
# Usage: bench/anomaly_ingest.sh [SECONDS per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-5}
make --no-print-directory build/linerate build/bench/otlp-load build/bench/anomaly_features >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-anomaly-bench.XXXXXX)
LR=""
trap '[ -n "$LR" ] && kill -TERM $LR 2>/dev/null; sleep 0.3; rm -rf $W' EXIT
build/bench/otlp-load --target http://127.0.0.1:1 --dump-requests $W >/dev/null 2>&1
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
feat=$(taskset -c 0 build/bench/anomaly_features $W 1)

cpu_s() { awk -v hz=$(getconf CLK_TCK) '{ printf "%.3f", ($14 + $15) / hz }' /proc/$LR/stat; }
run() { # run true|false: sets RUN_SPS (spans/s) and RUN_CPU (linerate CPU us per span)
    rm -rf $W/run
    build/linerate --cores 0 --run-dir $W/run --endpoint 127.0.0.1:14418 \
        --grpc-endpoint 127.0.0.1:14417 --admin 127.0.0.1:14433 \
        --set service.status_interval_ms=0 --set receivers.otlp.protocols.http.ack=memory \
        --set anomaly.enabled=$1 >$W/lr.out 2>&1 &
    LR=$!
    for i in $(seq 1 100); do curl -sf http://127.0.0.1:14433/ready >/dev/null 2>&1 && break; sleep 0.1; done
    local c0 c1
    c0=$(cpu_s)
    taskset -c 1 build/bench/otlp-load --target http://127.0.0.1:14418 --connections 4 \
        --duration-s $D --warmup-s 1 --quiet >$W/load.json
    c1=$(cpu_s)
    kill -TERM $LR
    wait $LR || true
    LR=""
    local spans total
    spans=$(sed -n 's/.*"items_per_s":\([0-9.]*\).*/\1/p' $W/load.json | head -1)
    total=$(sed -n 's/.*"total":{[^}]*"spans":\([0-9]*\).*/\1/p' $W/load.json | head -1)
    RUN_SPS=$(awk -v s="$spans" 'BEGIN { printf "%.0f", s }')
    RUN_CPU=$(awk -v t="$total" -v a=$c0 -v b=$c1 'BEGIN { printf "%.3f", (t > 0 ? (b - a) * 1e6 / t : 0) }')
}
declare -A sps cpu
for round in 1 2; do
    for on in false true; do
        run $on
        sps[$on]="${sps[$on]:-} $RUN_SPS"
        cpu[$on]="${cpu[$on]:-} $RUN_CPU"
    done
done
mean() { # mean FORMAT VALUES...
    local f=$1
    shift
    echo "$@" | awk -v f="$f" '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf f, s / NF }'
}
bytes=$(stat -c %s $W/traces.pb)
echo "## anomaly features: ingest cost, $(date -u +%F)"
echo
echo "Machine: $(nproc) cpus, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(cc --version | head -1)."
echo "Reference in the same run: memcpy $memcpy GB/s."
echo
echo "Per span, one core (bench/anomaly_features.c, otlp-load's trace request, $(stat -c %s $W/traces.pb) bytes, 100 spans):"
echo
echo '```'
echo "$feat"
echo '```'
echo
echo "End to end (bench/anomaly_ingest.sh: 1 worker on cpu 0, otlp-load HTTP/1.1 on cpu 1, 4 connections, $D s per run, two runs each, alternated):"
echo
echo "| anomaly.enabled | spans/s (runs) | mean | request bytes/s as a ratio to memcpy | linerate CPU µs per span (runs) | mean |"
echo "|---|---|---|---|---|---|"
for on in false true; do
    m=$(mean %.0f ${sps[$on]})
    r=$(awk -v m=$m -v b=$bytes -v g=$memcpy 'BEGIN { printf "%.4f", m / 100 * b / (g * 1e9) }')
    echo "| $on |${sps[$on]} | $m | $r |${cpu[$on]} | $(mean %.3f ${cpu[$on]}) |"
done
