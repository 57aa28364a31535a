#!/bin/bash
# Cost of head sampling (processors.probabilistic_sampler): one worker core, OTLP/HTTP 1.1 with
# 96-span requests (one trace), memory ack mode so that the disk is out of the picture; sampling
# off, at 100 % (every span kept but its tracestate rewritten: every request spliced and walked
# again, the worst case) and at 10 %. References (memcpy, loopback TCP) from the same run.
# Appends a section to bench/RESULTS.md. Usage: bench/head_sampling.sh [REQUESTS] (default 40000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40000}
make --no-print-directory build/linerate >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
trap 'kill -TERM $(cat $W/run/linerate.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
for i in $(seq 1 32); do cat tests/fixtures/otlp-js-0.223/traces.http-protobuf.body; done >$W/b96
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
rows=""
base=""
for pct in off 100 10; do
    rm -rf $W/run
    extra=()
    [ $pct = off ] || extra=(--set processors.probabilistic_sampler.enabled=true
        --set processors.probabilistic_sampler.sampling_percentage=$pct)
    build/linerate --cores 0 --run-dir $W/run --endpoint 127.0.0.1:14318 --admin 127.0.0.1:14133 \
        --grpc-endpoint 127.0.0.1:14317 --set service.status_interval_ms=0 \
        --set receivers.otlp.protocols.http.ack=memory "${extra[@]}" >$W/out 2>&1 &
    sleep 1.5
    out=$(taskset -c 1 h2load -n $N -t 1 -d $W/b96 --h1 -c 16 \
        -H 'Content-Type: application/x-protobuf' http://127.0.0.1:14318/v1/traces 2>&1)
    rps=$(echo "$out" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
    base=${base:-$rps}
    mbs=$(awk -v r=$rps -v b=$(stat -c %s $W/b96) 'BEGIN { printf "%.1f", r * b / 1e6 }')
    rows+=$(awk -v p=$pct -v r=$rps -v b=$base -v m=$mbs -v t=$tcp \
        'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.4f |", p, r, r * 96, r / b, m / 1000 / t }')
    rows+=$'\n'
    kill -TERM $(cat $W/run/linerate.pid)
    wait || true
done
{
    echo
    echo "## Head sampling, one worker core ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s."
    echo
    echo '| sampling_percentage | req/s | spans/s | ratio to sampling off | body MB/s as a ratio to loopback TCP |'
    echo '|---|---|---|---|---|'
    printf '%s' "$rows"
    echo
    echo "Command: \`bench/head_sampling.sh $N\`: \`h2load --h1 -c 16\`, 96-span requests of one trace, memory ack mode, hash_seed mode. At 100 % every span is kept and gets \`ot=rv:..;th:..\`, so every request is spliced and walked again (the worst case); at 10 % most requests are dropped whole."
} >>bench/RESULTS.md
tail -12 bench/RESULTS.md
