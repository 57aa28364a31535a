#!/bin/bash
# Tail sampling keeps its memory bounded: one million distinct trace ids (10000 requests of 100
# single-span traces over 4 connections) go through a tail sampler that holds at most
# num_traces = 50000 traces (the default). Traces are decided after 1 s, or early when the table is
# full; the probabilistic policy keeps about 1 %. The held count never passes num_traces, every
# trace id is counted once, and the peak RSS stays under the bound docs/sampling.md gives for the
# defaults (256 MiB; tripled under AddressSanitizer, whose shadow memory and quarantine cost that).
source "$(dirname "$0")/lib.sh"

cat >"$WORK/tail.yaml" <<'EOF2'
processors:
  tail_sampling:
    enabled: true
    decision_wait_ms: 1000
    policies:
      - name: one-percent
        type: probabilistic
        probabilistic: { sampling_percentage: 1 }
EOF2
start_linerate --config "$WORK/tail.yaml"
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 4 --spans 100 --traces 100 --max-requests 10000 \
    --acked /dev/null >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
max_held=0
while kill -0 $LOAD 2>/dev/null; do
    held=$(metric otelcol_processor_tail_sampling_sampling_traces_on_memory)
    [ "${held:-0}" -gt "$max_held" ] && max_held=$held
    sleep 0.2
done
wait $LOAD || fail "ack_load: $(cat "$WORK/load.err")"
cat "$WORK/load.json"
for i in $(seq 1 50); do
    [ "$(metric otelcol_processor_tail_sampling_sampling_traces_on_memory)" = 0 ] && break
    sleep 0.1
done
new=$(metric otelcol_processor_tail_sampling_new_trace_id_received)
early=$(metric otelcol_processor_tail_sampling_sampling_trace_dropped_too_early)
yes=$(metric 'otelcol_processor_tail_sampling_global_count_traces_sampled{sampled="true"}')
no=$(metric 'otelcol_processor_tail_sampling_global_count_traces_sampled{sampled="false"}')
hwm_kib=$(awk '/^VmHWM/ { print $2 }' /proc/$LR_PID/status)
echo "traces: $new new, $early decided early, $yes kept, $no dropped; at most $max_held held; peak RSS $((hwm_kib / 1024)) MiB"
expect_eq "$new" 1000000 "distinct trace ids counted"
expect_eq "$((yes + no))" 1000000 "traces decided"
[ "$max_held" -le 50000 ] || fail "$max_held traces held, more than num_traces"
[ "$yes" -gt 8000 ] && [ "$yes" -lt 12000 ] || fail "the 1 % policy kept $yes of 1000000"
bound=$((256 * 1024))
case "$LR_BUILD" in *asan*) bound=$((bound * 3)) ;; esac
[ "$hwm_kib" -lt "$bound" ] || fail "peak RSS $hwm_kib KiB over the bound $bound KiB"
stop_linerate
echo "ok"
