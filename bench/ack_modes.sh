#!/bin/bash
# Cost of durability: throughput of one worker core in each acknowledgement mode (memory, spool,
# kafka) on the same load, the acknowledgement latency (from the request's records written to
# the spool to its answer being released: the group-commit fdatasync in spool mode, Kafka's
# acknowledgement in kafka mode) and how many requests one fdatasync answered. References
# measured in the same run: memcpy, loopback TCP, and the raw fdatasync latency of the disk the
# spool is on. Appends a section to bench/RESULTS.md.
# Usage: bench/ack_modes.sh [REQUESTS] (default 50000 per row).
# linerate: one worker on cpu 0; h2load on cpu 1; the output thread, the spool's syncer and the
# embedded broker are not pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
make --no-print-directory build/linerate >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
trap 'kill -TERM $(cat $W/run/linerate.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
FIX=tests/fixtures/otlp-js-0.223
cp $FIX/traces.http-protobuf.body $W/b3
for i in $(seq 1 32); do cat $FIX/traces.http-protobuf.body; done >$W/b96
python3 -c "import sys,struct; d=open(sys.argv[1],'rb').read(); sys.stdout.buffer.write(b'\\0'+struct.pack('>I',len(d))+d)" $W/b96 >$W/g96
refs=$(build/bench/refs $W)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
fs50=$(echo "$refs" | awk '/fdatasync_us_p50/ { print $2 }')
fs99=$(echo "$refs" | awk '/fdatasync_us_p99/ { print $2 }')
fstype=$(df -T $W | awk 'NR == 2 { print $2 }')
GRPC=/opentelemetry.proto.collector.trace.v1.TraceService/Export

metrics() { curl -sf http://127.0.0.1:14133/metrics; }
# quantile Q MODE: upper bound (us) of the histogram bucket holding quantile Q.
quantile() {
    metrics | awk -v q=$1 -v m="mode=\"$2\"" '
        index($0, "linerate_ack_latency_seconds_bucket{" m) == 1 {
            split($0, a, "le=\""); split(a[2], b, "\""); le[n] = b[1]; c[n++] = $2 }
        END { if (n == 0 || c[n-1] == 0) { print "-"; exit }
              for (i = 0; i < n; i++) if (c[i] >= q * c[n-1]) {
                  if (le[i] == "+Inf") print "inf"; else printf "%.0f", le[i] * 1e6; exit } }'
}
fsyncs() { metrics | awk '/^linerate_spool_fsyncs_total/ { s += $2 } END { print s + 0 }'; }

for mode in memory spool kafka; do
    rm -rf $W/run
    build/linerate --cores 0 --run-dir $W/run --endpoint 127.0.0.1:14318 --admin 127.0.0.1:14133 \
        --grpc-endpoint 127.0.0.1:14317 --set service.status_interval_ms=0 \
        --set receivers.otlp.protocols.http.ack=$mode --set receivers.otlp.protocols.grpc.ack=$mode \
        >$W/out 2>&1 &
    sleep 2
    for load in h1-3 h1-96 grpc-96; do
        f0=$(fsyncs)
        case $load in
        h1-3) args=(-d $W/b3 --h1 -c 16 -H 'Content-Type: application/x-protobuf'
            http://127.0.0.1:14318/v1/traces) ;;
        h1-96) args=(-d $W/b96 --h1 -c 16 -H 'Content-Type: application/x-protobuf'
            http://127.0.0.1:14318/v1/traces) ;;
        grpc-96) args=(-d $W/g96 -c 4 -m 16 -H 'content-type: application/grpc' -H 'te: trailers'
            http://127.0.0.1:14317$GRPC) ;;
        esac
        out=$(taskset -c 1 h2load -n $N -t 1 "${args[@]}" 2>&1)
        rps=$(echo "$out" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
        ok=$(echo "$out" | sed -n 's/.*requests: [0-9]* total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded.*/\1/p')
        [ "$ok" = "$N" ] || echo "warning: $mode $load: only $ok of $N succeeded" >&2
        f1=$(fsyncs)
        per=$(awk -v n=$N -v f=$((f1 - f0)) 'BEGIN { if (f > 0) printf "%.1f", n / f; else print "-" }')
        echo "$mode $load: $rps req/s; requests per fdatasync $per" >&2
    done
    p50=$(quantile 0.5 $mode)
    p99=$(quantile 0.99 $mode)
    [ $mode = memory ] || echo "LAT $mode $p50 $p99" >&2
    kill -TERM $(cat $W/run/linerate.pid)
    wait || true
done 2>&1 | tee $W/log >&2 || true
{
    echo
    echo "## Acknowledgement modes, one worker core ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r); spool on $fstype."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s, raw fdatasync of a 16 KiB append p50 ${fs50} us, p99 ${fs99} us."
    echo
    echo '| ack mode | load | spans/req | req/s | spans/s | ratio to memory mode | requests per fdatasync |'
    echo '|---|---|---|---|---|---|---|'
    awk '/ req\/s; requests per fdatasync / {
            mode = $1; load = $2; sub(":", "", load); rps = $3; per = $NF
            spans = (load ~ /-96$/) ? 96 : 3
            if (mode == "memory") base[load] = rps
            printf "| %s | %s | %d | %.0f | %.0f | %.2f | %s |\n", mode, load, spans, rps, rps * spans, rps / base[load], per }' $W/log
    echo
    echo '| ack mode | answer released after (p50) | (p99) | p50 as a multiple of raw fdatasync p50 |'
    echo '|---|---|---|---|'
    awk -v f=$fs50 '/^LAT / { printf "| %s | <= %s us | <= %s us | %s |\n", $2, $3, $4, ($3 ~ /^[0-9]+$/) ? sprintf("%.1f", $3 / f) : "-" }' $W/log
    echo
    echo "Command: \`bench/ack_modes.sh $N\` ($N requests per row). Loads: h1 = \`h2load --h1 -c 16\` OTLP/HTTP protobuf, grpc = \`h2load -c 4 -m 16\`. Latencies are the upper bounds of power-of-two histogram buckets (linerate_ack_latency_seconds). Kafka: the embedded broker on the same machine."
} >>bench/RESULTS.md
tail -20 bench/RESULTS.md
