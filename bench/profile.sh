#!/bin/bash
# bench/profile.sh PID LOAD_CPUS WORKDIR SECONDS: where a running linerate spends its time at full
# HTTP/1.1 load. Samples the process with perf's cpu-clock software event (this machine kind has
# no hardware counters; the timer sees kernel and user code alike), drives it with otlp-load on
# LOAD_CPUS, and prints the top symbols as markdown rows "| share | dso | symbol |".
# Called by bench/run.sh full; expects linerate on 127.0.0.1:14318.
set -euo pipefail
cd "$(dirname "$0")/.."
pid=$1 load_cpus=$2 W=$3 D=$4
taskset -c "$load_cpus" build/bench/otlp-load --target http://127.0.0.1:14318 \
    --duration-s $((D + 2)) --connections 16 --threads 1 --quiet >/dev/null 2>&1 &
load=$!
sleep 1
perf record -q -e cpu-clock -F 2999 -p "$pid" -o "$W/perf.data" -- sleep "$D" >/dev/null 2>&1
wait $load || true
kernel=$(perf report -q -i "$W/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
    awk '$2 == "[kernel.kallsyms]" { print $1 }')
echo "| ${kernel:-?} | [kernel.kallsyms] | (all kernel code together) |"
perf report -q -i "$W/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
    awk 'NF >= 3 && $1 ~ /%$/ {
        share = $1; dso = $2; sym = "";
        for (i = 4; i <= NF; i++) sym = sym (i > 4 ? " " : "") $i;
        printf "| %s | %s | `%s` |\n", share, dso, sym;
        if (++n == 15) exit }'
