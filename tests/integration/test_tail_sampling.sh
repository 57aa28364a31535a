#!/bin/bash
# Tail sampling end to end (processors.tail_sampling). The official JS exporters send traces
# whose four spans each go over a different connection (two OTLP/HTTP, two OTLP/gRPC), half of
# them later, so a trace's spans reach different workers, which route them to the worker owning
# the trace id. Policies keep errors, slow roots and attribute matches (exact, regex, numeric,
# boolean), rate-limit "bulk" traces and drop synthetic ones even when they fail. Exactly the
# expected traces reach Kafka, complete; late spans follow the decision already taken.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/tail.yaml" <<'EOF'
processors:
  tail_sampling:
    enabled: true
    decision_wait_ms: 1500
    policies:
      - name: errors
        type: status_code
        status_code: { status_codes: [ERROR] }
      - name: slow
        type: latency
        latency: { threshold_ms: 1000 }
      - name: gold
        type: string_attribute
        string_attribute: { key: tenant, values: [gold] }
      - name: pay-routes
        type: string_attribute
        string_attribute:
          key: http.route
          values: ["^/api/v[0-9]+/pay$"]
          enabled_regex_matching: true
      - name: retries
        type: numeric_attribute
        numeric_attribute: { key: retries, min_value: 3, max_value: 10 }
      - name: debug
        type: boolean_attribute
        boolean_attribute: { key: debug, value: true }
      - name: bulk
        type: and
        and:
          and_sub_policy:
            - name: is-bulk
              type: boolean_attribute
              boolean_attribute: { key: bulk, value: true }
            - name: budget
              type: rate_limiting
              rate_limiting: { spans_per_second: 12 }
      - name: no-synthetic
        type: drop
        drop:
          drop_sub_policy:
            - name: synthetic
              type: boolean_attribute
              boolean_attribute: { key: synthetic, value: true }
EOF

start_broker 8
start_linerate --config "$WORK/tail.yaml" --brokers "$BROKER"
workers=$(grep -c ^processor /proc/cpuinfo)
node "$CLIENTS/tail.js" --http "http://127.0.0.1:$HTTP_PORT" --grpc "http://127.0.0.1:$GRPC_PORT" \
    --per-kind 6 --bulk 12 --gap-ms 300 --late-ms 2500 --expected "$WORK/expected.json" \
    --bulk-ids "$WORK/bulk.txt" >"$WORK/tail.out" || fail "tail.js"
read -r kept_traces kept_spans <"$WORK/tail.out"
echo "expected: $kept_traces traces ($kept_spans spans) besides the rate-limited ones"
# Every trace is decided decision_wait after its first span: wait until none is held.
for i in $(seq 1 50); do
    [ "$(metric otelcol_processor_tail_sampling_sampling_traces_on_memory)" = 0 ] && break
    sleep 0.1
done
expect_eq "$(metric otelcol_processor_tail_sampling_sampling_traces_on_memory)" 0 "traces held"
new=$(metric otelcol_processor_tail_sampling_new_trace_id_received)
expect_eq "$new" 60 "new traces (48 of 8 kinds + 12 bulk)"
if [ "$workers" -gt 1 ]; then
    routed=$(metric linerate_tail_sampling_routed_total)
    [ "$routed" -gt 0 ] || fail "no span crossed workers ($workers workers)"
    echo "trace pieces routed between workers: $routed"
fi
# Per-policy counters, as the Collector's: drop policies are evaluated first and end the
# evaluation, so the errors policy saw the 6 error traces and not the 6 synthetic ones.
expect_eq "$(metric 'otelcol_processor_tail_sampling_count_traces_sampled{policy="errors",sampled="true"}')" 6 \
    "traces the errors policy sampled"
expect_eq "$(metric 'otelcol_processor_tail_sampling_count_traces_sampled{policy="errors",sampled="false"}')" 48 \
    "traces the errors policy did not sample"
yes=$(metric 'otelcol_processor_tail_sampling_global_count_traces_sampled{sampled="true"}')
no=$(metric 'otelcol_processor_tail_sampling_global_count_traces_sampled{sampled="false"}')
expect_eq "$((yes + no))" 60 "traces decided"
expect_eq "$(metric 'linerate_tail_sampling_late_spans_total{sampled="true"}')" 2 "late spans kept"
expect_eq "$(metric 'linerate_tail_sampling_late_spans_total{sampled="false"}')" 2 "late spans dropped"
stop_linerate

"$TOOLS/kafka_verify" -b "$BROKER" -t otlp_spans --signal traces --allow-dup --timeout-ms 10000 \
    --out "$WORK/got.json" >/dev/null 2>"$WORK/kv.err" || { cat "$WORK/kv.err" >&2; fail "kafka_verify"; }
# Set the rate-limited traces apart: each must be complete, and their number within budget
# (12 spans per second, and as in the Collector a trace is kept while the second's count stays
# below the budget: 2 traces of 4 spans, twice that if the decisions straddle a second).
node -e '
const fs = require("fs");
const [got, bulkFile, rest] = process.argv.slice(1);
const bulk = new Set(fs.readFileSync(bulkFile, "utf8").split("\n").filter(Boolean));
const g = JSON.parse(fs.readFileSync(got));
const spans = new Map();
const others = [];
for (const rec of g.traces) {
  if (!bulk.has(rec.trace_id)) { others.push(rec); continue; }
  spans.set(rec.trace_id, (spans.get(rec.trace_id) || 0) + rec.spans.length);
}
for (const [id, n] of spans) if (n !== 4) { console.error(`bulk trace ${id}: ${n} spans`); process.exit(1); }
g.traces = others;
fs.writeFileSync(rest, JSON.stringify(g));
console.log(spans.size);
' "$WORK/got.json" "$WORK/bulk.txt" "$WORK/got-rest.json" >"$WORK/bulk.n" || fail "a rate-limited trace is incomplete"
nbulk=$(cat "$WORK/bulk.n")
echo "rate-limited traces kept: $nbulk of 12"
[ "$nbulk" -ge 2 ] && [ "$nbulk" -le 4 ] || fail "rate limiting kept $nbulk bulk traces, expected 2..4"
node "$CLIENTS/compare.js" --actual "$WORK/got-rest.json" "$WORK/expected.json" ||
    fail "the traces in Kafka are not exactly the ones the policies keep"
echo "ok"
