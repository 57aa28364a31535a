#!/bin/bash
# Cost of tail sampling (processors.tail_sampling) against no sampling on the same load:
# OTLP/HTTP 1.1 with 96-span requests (one trace each), memory ack mode so that the disk is out
# of the picture. Sampling off; tail sampling keeping every trace (always_sample: every span is
# held, decided and written, the worst case); and keeping ~10 % (probabilistic). One worker core
# (h2load on the other), then two workers sharing both cores with h2load, where every request
# whose trace the other worker owns crosses a ring. References (memcpy, loopback TCP) from the
# same run. Appends a section to bench/RESULTS.md. Usage: bench/tail_sampling.sh [REQUESTS]
# (default 40000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40000}
make --no-print-directory build/linerate >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
trap 'kill -TERM $(cat $W/run/linerate.pid 2>/dev/null) 2>/dev/null || true; rm -rf $W' EXIT
for i in $(seq 1 32); do cat tests/fixtures/otlp-js-0.223/traces.http-protobuf.body; done >$W/b96
policy() { # policy TYPE [BLOCK]: a configuration with one tail policy
    printf 'processors:\n  tail_sampling:\n    enabled: true\n    decision_wait_ms: 1000\n'
    printf '    policies:\n      - name: p\n        type: %s\n' "$1"
    [ -z "${2:-}" ] || printf '        %s\n' "$2"
}
policy always_sample >$W/all.yaml
policy probabilistic 'probabilistic: { sampling_percentage: 10 }' >$W/ten.yaml
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')
tcp=$(echo "$refs" | awk '/loopback/ { print $2 }')
rows=""
for cores in 0 0-1; do
    base=""
    for mode in off all ten; do
        rm -rf $W/run
        extra=()
        [ $mode = off ] || extra=(--config $W/$mode.yaml)
        build/linerate "${extra[@]}" --cores $cores --run-dir $W/run --endpoint 127.0.0.1:14318 \
            --admin 127.0.0.1:14133 --grpc-endpoint 127.0.0.1:14317 \
            --set service.status_interval_ms=0 --set receivers.otlp.protocols.http.ack=memory \
            >$W/out 2>&1 &
        sleep 1.5
        pin=1
        [ $cores = 0 ] || pin=0-1
        out=$(taskset -c $pin h2load -n $N -t 1 -d $W/b96 --h1 -c 16 \
            -H 'Content-Type: application/x-protobuf' http://127.0.0.1:14318/v1/traces 2>&1)
        rps=$(echo "$out" | sed -n 's/.*finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p')
        base=${base:-$rps}
        mbs=$(awk -v r=$rps -v b=$(stat -c %s $W/b96) 'BEGIN { printf "%.1f", r * b / 1e6 }')
        label=$([ $cores = 0 ] && echo "1 worker" || echo "2 workers")
        rows+=$(awk -v c="$label" -v p=$mode -v r=$rps -v b=$base -v m=$mbs -v t=$tcp \
            'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2f | %.4f |", c, p, r, r * 96, r / b, m / 1000 / t }')
        rows+=$'\n'
        kill -TERM $(cat $W/run/linerate.pid)
        wait || true
    done
done
{
    echo
    echo "## Tail sampling ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cpus, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)."
    echo "References in the same run: memcpy ${memcpy} GB/s, loopback TCP ${tcp} GB/s."
    echo
    echo '| workers | tail sampling | req/s | spans/s | ratio to sampling off | body MB/s as a ratio to loopback TCP |'
    echo '|---|---|---|---|---|---|'
    printf '%s' "$rows"
    echo
    echo "Command: \`bench/tail_sampling.sh $N\`: \`h2load --h1 -c 16\`, 96-span requests of one trace, memory ack mode, decision_wait 1 s (about 10000 traces held at a time, below num_traces 50000: every trace waits its full second). \`all\`: always_sample, every span held, decided and written; \`ten\`: probabilistic 10 %. With 2 workers h2load shares the two cores with linerate."
} >>bench/RESULTS.md
tail -14 bench/RESULTS.md
