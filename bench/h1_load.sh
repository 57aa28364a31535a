#!/bin/bash
# OTLP/HTTP 1.1 and OTLP/gRPC throughput of one worker core, measured with h2load --h1 (nghttp2-client), with
# the physical references (memcpy, loopback TCP) measured in the same run. Appends a section to
# bench/RESULTS.md. Usage: bench/h1_load.sh [REQUESTS] (default 200000).
# linerate runs one worker on cpu 0 (--cores 0); h2load runs on cpu 1; the Kafka output thread
# and the embedded broker are not pinned, so on a 2-cpu machine they share both cpus.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
make --no-print-directory build/linerate >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d)
trap 'kill -TERM $(cat $W/run/linerate.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
FIX=tests/fixtures/otlp-js-0.223
cp $FIX/traces.http-protobuf.body $W/b3
# 32 copies of the request's ResourceSpans: a valid request with 96 spans of one trace.
for i in $(seq 1 32); do cat $FIX/traces.http-protobuf.body; done >$W/b96
# The same requests as gRPC messages: a 5-byte prefix (flag 0, big-endian length) + the message.
for b in b3 b96; do
    python3 -c "import sys,struct; d=open(sys.argv[1],'rb').read(); sys.stdout.buffer.write(b'\\0'+struct.pack('>I',len(d))+d)" $W/$b >$W/g${b#b}
done
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
build/linerate --cores 0 --run-dir $W/run --endpoint 127.0.0.1:14318 --admin 127.0.0.1:14133 \
    --grpc-endpoint 127.0.0.1:14317 --set service.status_interval_ms=0 >$W/out 2>&1 &
sleep 2
{
    echo
    echo "## OTLP/HTTP 1.1 and OTLP/gRPC, one worker core ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s."
    echo
    echo '| protocol, load | spans/req | bytes/req | req/s | spans/s | body MB/s | ratio to loopback TCP |'
    echo '|---|---|---|---|---|---|---|'
} >>bench/RESULTS.md
measure() { # LABEL SPANS BODYFILE h2load-args...
    local label=$1 spans=$2 body=$3
    shift 3
    local bytes out rps ok
    bytes=$(stat -c %s $body)
    out=$(taskset -c 1 h2load -n $N -t 1 -d $body "$@" 2>&1)
    echo "$out" | grep -E "finished in|status codes"
    rps=$(echo "$out" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
    ok=$(echo "$out" | sed -n 's/.*requests: [0-9]* total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded.*/\1/p')
    [ "$ok" = "$N" ] || echo "warning: only $ok of $N succeeded"
    awk -v l="$label" -v r=$rps -v s=$spans -v by=$bytes -v t=$tcp \
        'BEGIN { mbs = r * by / 1e6; printf "| %s | %d | %d | %.0f | %.0f | %.1f | %.4f |\n", l, s, by, r, r * s, mbs, mbs / 1000 / t }' \
        >>bench/RESULTS.md
}
GRPC=/opentelemetry.proto.collector.trace.v1.TraceService/Export
for s in 3 96; do
    measure "HTTP/1.1, \`h2load --h1 -c 16\`" $s $W/b$s --h1 -c 16 \
        -H 'Content-Type: application/x-protobuf' http://127.0.0.1:14318/v1/traces
    measure "gRPC, \`h2load -c 4 -m 16\`" $s $W/g$s -c 4 -m 16 -H 'content-type: application/grpc' \
        -H 'te: trailers' http://127.0.0.1:14317$GRPC
done
echo >>bench/RESULTS.md
echo "Command: \`bench/h1_load.sh $N\` ($N requests per row). Kafka: the embedded broker on the same machine." >>bench/RESULTS.md
tail -12 bench/RESULTS.md
