#!/bin/bash
# `make bench` (full) and `make bench-quick` (under 2 minutes): linerate's figures on this
# machine, each next to a physical reference measured in the same run, appended to
# bench/RESULTS.md as one dated block.
#
#   * the walker alone per signal (bench/walk.c): GB/s, items/s, ratio to memcpy;
#   * end to end, linerate on cpu 0, the load on the other cpus: otlp-load over HTTP/1.1
#     protobuf and OTLP/gRPC at full load (spans/s, CPU time of the linerate process per span,
#     p50/p99), then at 50 % and 90 % of that rate (p50/p99 without coordinated omission); the
#     output goes to the embedded Kafka broker, memory acks; the ratio of request bytes/s to
#     loopback TCP bandwidth;
#   * each with the output to the null sink (exporters.null.enabled) and to the embedded broker;
#     quick runs the null sink at full load only;
#   * the same full-load HTTP/1.1 figure with h2load as the load generator (cross-check);
#   * full only: 2 workers (scaling; on a 2-cpu machine they share cpu 1 with the load);
#   * full only: a perf profile (cpu-clock sampling, kernel included) of linerate at full
#     HTTP/1.1 load into the broker, top symbols (bench/profile.sh);
#   * Kafka produce on its own into the embedded broker (bench/kafka_produce.c).
#
# Usage: bench/run.sh quick|full
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-quick}
D=5
[ "$MODE" = full ] && D=15
D=${BENCH_SECONDS:-$D}
make --no-print-directory build/linerate build/bench/otlp-load build/bench/walk \
    build/bench/kafka_produce >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
LR=""
trap '[ -n "$LR" ] && kill -TERM $LR 2>/dev/null; sleep 0.3; rm -rf $W' EXIT
ncpu=$(nproc)
load_cpus=1-$((ncpu - 1))
[ "$ncpu" -gt 1 ] || load_cpus=0
build/bench/otlp-load --target http://127.0.0.1:1 --dump-requests $W
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
walk=$(taskset -c 0 build/bench/walk $W $([ "$MODE" = full ] && echo 2 || echo 0.5))
kafka=$(build/bench/kafka_produce $(stat -c %s $W/traces.pb) $D 4)

j() { # j FILE KEY: a number from otlp-load's JSON line
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | head -1
}
lat() { # lat FILE pNN
    sed -n "s/.*\"latency_us\":{[^}]*\"$2\":\([0-9.]*\).*/\1/p" "$1" | head -1
}
cpu_s() { # user+system seconds of the linerate process
    awk -v hz=$(getconf CLK_TCK) '{ printf "%.3f", ($14 + $15) / hz }' /proc/$LR/stat
}
start() { # start CORES [SINK]: SINK null drops at the exporter, kafka (default) produces
    rm -rf $W/run
    local sink=false
    [ "${2:-kafka}" = null ] && sink=true
    build/linerate --cores "$1" --run-dir $W/run --endpoint 127.0.0.1:14318 \
        --set exporters.null.enabled=$sink \
        --grpc-endpoint 127.0.0.1:14317 --admin 127.0.0.1:14133 \
        --set service.status_interval_ms=0 --set receivers.otlp.protocols.http.ack=memory \
        --set receivers.otlp.protocols.grpc.ack=memory >$W/lr.out 2>&1 &
    LR=$!
    for i in $(seq 1 100); do curl -sf http://127.0.0.1:14133/ready >/dev/null 2>&1 && return; sleep 0.1; done
    echo "linerate did not start: $(tail -5 $W/lr.out)" >&2
    exit 1
}
stop() {
    kill -TERM $LR
    wait $LR || true
    LR=""
}
rows=""
# run NAME TARGET [otlp-load args...]: one measured otlp-load run; appends a table row
run() {
    local name=$1 target=$2
    shift 2
    local c0 c1
    c0=$(cpu_s)
    taskset -c $load_cpus build/bench/otlp-load --target "$target" --duration-s $D --warmup-s 1 \
        --quiet "$@" >$W/o.json 2>/dev/null || true
    c1=$(cpu_s)
    local items rps
    items=$(j $W/o.json items)
    rps=$(j $W/o.json requests_per_s)
    local cpu_us=$(awk -v a=$c0 -v b=$c1 -v n=${items:-0} 'BEGIN { printf "%.2f", n ? (b - a) * 1e6 / n : 0 }')
    local mbs=$(j $W/o.json bytes_per_s)
    rows+=$(awk -v n="$name" -v i="$(j $W/o.json items_per_s)" -v r="$rps" -v c="$cpu_us" \
        -v p50="$(lat $W/o.json p50)" -v p99="$(lat $W/o.json p99)" -v b="$mbs" -v t="$tcp" \
        -v e="$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' $W/o.json)" \
        'BEGIN { printf "| %s | %.0f | %.0f | %s | %.0f | %.0f | %.4f | %s |", n, i, r, c, p50, p99, b / 1e9 / t, e }')
    rows+=$'\n'
    LAST_RPS=$rps
}
cores_list="0"
[ "$MODE" = full ] && cores_list="0 0-1"
for cores in $cores_list; do
    w=$([ $cores = 0 ] && echo 1 || echo 2)
    for sink in null kafka; do
        start $cores $sink
        lbl="$w worker$([ $w = 2 ] && echo s), $([ $sink = null ] && echo "null sink" || echo broker)"
        pcts="50 90"
        [ "$MODE" = quick ] && [ $sink = null ] && pcts=""
        run "HTTP/1.1 protobuf, $lbl, full load" http://127.0.0.1:14318 --connections 16 --threads 1
        max=$LAST_RPS
        for pct in $pcts; do
            run "HTTP/1.1 protobuf, $lbl, ${pct} % of full" http://127.0.0.1:14318 --connections 16 \
                --threads 1 --rate $(awk -v m=$max -v p=$pct 'BEGIN { printf "%.0f", m * p / 100 }')
        done
        run "OTLP/gRPC, $lbl, full load (4 conns x 8 streams)" grpc://127.0.0.1:14317 \
            --connections 4 --inflight 8 --threads 1
        max=$LAST_RPS
        for pct in $pcts; do
            run "OTLP/gRPC, $lbl, ${pct} % of full" grpc://127.0.0.1:14317 --connections 4 \
                --inflight 8 --threads 1 --rate $(awk -v m=$max -v p=$pct 'BEGIN { printf "%.0f", m * p / 100 }')
        done
        stop
    done
done
# Cross-check with h2load on the same body (one request shape: the otlp-load trace request).
start 0
h2=$(taskset -c $load_cpus h2load -D $D -t 1 -c 16 --h1 -d $W/traces.pb \
    -H 'Content-Type: application/x-protobuf' http://127.0.0.1:14318/v1/traces 2>&1 || true)
stop
profile=""
if [ "$MODE" = full ] && command -v perf >/dev/null; then
    start 0 kafka
    profile=$(bench/profile.sh $LR "$load_cpus" $W $D || true)
    stop
fi
h2rps=$(echo "$h2" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
{
    echo
    echo "## make bench ($MODE), $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $ncpu cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r), $(cc --version | head -1)."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s."
    echo
    echo "Walker alone, one core (otlp-load's request bodies, ~29 KB, 100 items):"
    echo
    echo '| signal | walk | GB/s | items/s | ratio to memcpy of the same bytes |'
    echo '|---|---|---|---|---|'
    echo "$walk" | awk '{ split($5, g, "="); split($6, i, "="); split($7, r, "=");
        printf "| %s | %s | %s | %.0f | %s |\n", $1, $2, g[2], i[2], r[2] }'
    echo
    echo "End to end: linerate on cpu 0 (on cpus 0-1 for 2 workers), memory acks, the output to the null sink (exporters.null.enabled: dropped at the exporter) or to the embedded Kafka broker; otlp-load on cpus $load_cpus, ${D} s per row after 1 s of warm-up; CPU time is the whole linerate process's (workers, output thread, broker) per item."
    echo
    echo '| load | items/s | req/s | linerate CPU µs per item | p50 µs | p99 µs | request bytes/s as a ratio to loopback TCP | errors |'
    echo '|---|---|---|---|---|---|---|---|'
    printf '%s' "$rows"
    echo
    echo "Cross-check: h2load, HTTP/1.1, 16 connections, the same trace request: ${h2rps:-?} req/s ($(awk -v r=${h2rps:-0} 'BEGIN { printf "%.0f", r * 100 }') spans/s)."
    echo
    echo "Kafka produce on its own (bench/kafka_produce.c: linerate's producer settings, records of the trace request's size, into the embedded broker in-process): $(echo "$kafka" | sed 's/ failed=0//')."
    echo
    if [ -n "$profile" ]; then
        echo
        echo "Profile (bench/profile.sh: perf record -e cpu-clock, kernel included, linerate alone on cpu 0 at full HTTP/1.1 load into the broker), the top symbols by share of linerate's samples:"
        echo
        echo '| share | where | symbol |'
        echo '|---|---|---|'
        echo "$profile"
        echo
        echo "On this paravirtualised kernel, time with interrupts disabled is charged to \`pvm_irq_enable\`, where they are enabled again; \`perf report -G\` puts most of it under the loopback TCP send path, whose softirq delivers to the load generator's socket on linerate's cpu."
    fi
    echo
    echo "Command: \`make bench$([ "$MODE" = quick ] && echo -quick)\` (bench/run.sh $MODE)."
} >>bench/RESULTS.md
tail -30 bench/RESULTS.md
