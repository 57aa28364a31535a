#!/bin/bash
# The cost of linerate's eBPF host probes (docs/host-metrics.md) during a loaded ingest run,
# appended to bench/RESULTS.md as one dated block:
#   * per probe program: events/s under the load, ns per event (the kernel's own run_time_ns /
#     run_cnt, kernel.bpf_stats_enabled through bpf_enable_stats, read from /metrics), and that
#     time as memcpy-equivalent bytes (ns x the memcpy bandwidth measured in the same run);
#   * their total CPU time as a share of the machine (all cpus) and of one cpu;
#   * the load's spans/s with the probes off and on (linerate on cpu 0, otlp-load on the others,
#     HTTP/1.1 protobuf, memory acks, embedded Kafka broker).
# The stats themselves cost two clock reads per program run, so the ns figures include them.
#
# Usage: bench/host_probes.sh [SECONDS]   (default 10 per run; root: the probes need CAP_BPF)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}
make --no-print-directory build/linerate build/bench/otlp-load >/dev/null
mkdir -p build/bench
cc -O2 -o build/bench/refs bench/refs.c -lpthread
W=$(mktemp -d /var/tmp/linerate-bench.XXXXXX)
LR=""
trap '[ -n "$LR" ] && kill -TERM $LR 2>/dev/null; sleep 0.3; rm -rf $W' EXIT
ncpu=$(nproc)
load_cpus=1-$((ncpu - 1))
[ "$ncpu" -gt 1 ] || load_cpus=0
refs=$(build/bench/refs)
memcpy=$(echo "$refs" | awk '/memcpy/ { print $2 }')

start() { # start true|false
    rm -rf $W/run
    build/linerate --cores 0 --run-dir $W/run --endpoint 127.0.0.1:14318 \
        --grpc-endpoint 127.0.0.1:14317 --admin 127.0.0.1:14133 \
        --set service.status_interval_ms=0 --set receivers.otlp.protocols.http.ack=memory \
        --set host_metrics.enabled=$1 --set host_metrics.interval_ms=1000 >$W/lr.out 2>&1 &
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
stats() { # per program: probe tracepoint run_time_ns runs
    curl -sf http://127.0.0.1:14133/metrics | awk '
        /^linerate_host_probe_run_time_ns_total/ { split($1, a, "\""); ns[a[2] " " a[4]] = $2 }
        /^linerate_host_probe_runs_total/ { split($1, a, "\""); n[a[2] " " a[4]] = $2 }
        END { for (k in ns) print k, ns[k], n[k] }' | sort
}
load() { # spans/s of one run
    taskset -c $load_cpus build/bench/otlp-load --target http://127.0.0.1:14318 --duration-s $D \
        --warmup-s 1 --quiet --connections 16 --threads 1 >$W/o.json 2>/dev/null || true
    sed -n 's/.*"items_per_s":\([0-9.]*\).*/\1/p' $W/o.json | head -1
}

# Off, on (probe stats measured here), off, on: on a shared machine the load next door moves
# spans/s by more than the probes do, so both pairs are reported.
start false
off1=$(load)
stop
start true
grep -q "on: tcp_retransmit tcp_state" $W/lr.out || { grep "host probe" $W/lr.out >&2; exit 1; }
stats >$W/s0
t0=$(date +%s%N)
on1=$(load)
t1=$(date +%s%N)
stats >$W/s1
stop
start false
off2=$(load)
stop
start true
on2=$(load)
stop

rows=$(join <(awk '{ print $1 "/" $2, $3, $4 }' $W/s0) <(awk '{ print $1 "/" $2, $3, $4 }' $W/s1) |
    awk -v secs=$(awk -v a=$t0 -v b=$t1 'BEGIN { print (b - a) / 1e9 }') -v m=$memcpy -v nc=$ncpu '
    { dn = $4 - $2; dc = $5 - $3; tot += dn
      split($1, pt, "/")
      printf "| %s | %s | %.0f | %s | %s | %.4f |\n", pt[1], pt[2], dc / secs,
          dc ? sprintf("%.0f", dn / dc) : "-", dc ? sprintf("%.0f", dn / dc * m) : "-",
          dn / secs / 1e9 * 100 }
    END { printf "TOTAL %.4f %.4f\n", tot / secs / 1e9 / nc * 100, tot / secs / 1e9 * 100 }')
total=$(echo "$rows" | awk '$1 == "TOTAL"')
rows=$(echo "$rows" | grep -v '^TOTAL')
kernel=$(uname -r)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
cc_v=$(cc --version | head -1)
{
    echo
    echo "## eBPF host probes: cost per event under load ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $ncpu cpus, $cpu, kernel $kernel, $cc_v (BPF: $(clang --version | head -1))."
    echo "Reference in the same run: memcpy $memcpy GB/s."
    echo "Load: otlp-load HTTP/1.1 protobuf, 16 connections, ${D} s, on cpus $load_cpus; linerate"
    echo "on cpu 0, memory acks, embedded Kafka broker, host_metrics.interval_ms 1000."
    echo
    echo "| probe | tracepoint | events/s | ns/event | memcpy-equivalent bytes/event | % of one cpu |"
    echo "|---|---|---|---|---|---|"
    echo "$rows"
    echo
    echo "All probes together: $(echo $total | awk '{ print $2 }') % of the machine's $ncpu cpus" \
        "($(echo $total | awk '{ print $3 }') % of one cpu)."
    echo "Spans/s, runs in this order: probes off $off1, on $on1, off $off2, on $on2 (on/off ratio"
    echo "of the means $(awk -v a=$on1 -v b=$on2 -v c=$off1 -v d=$off2 'BEGIN { printf "%.3f", (a + b) / (c + d) }'))."
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). On a machine shared with other"
    echo "work, spans/s of runs with the same settings spread by tens of percent: they are reported,"
    echo "not used as the probes' cost; the kernel's accounting of the probes' time above is."
    echo "ns/event is the kernel's run_time_ns / run_cnt with bpf_stats on, so it includes the two"
    echo "clock reads of the stats themselves. Command: \`bench/host_probes.sh $D\`."
} | tee -a bench/RESULTS.md
