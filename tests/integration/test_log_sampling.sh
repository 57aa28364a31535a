#!/bin/bash
# Head sampling of logs and per-service overrides (processors.probabilistic_sampler, hash_seed
# mode, seed 42): traces at 30 %, logs at 25 %, the service `checkout` at 100 % and `batch` at
# 10 % for both signals. The official JS exporters send log records (every other one inside a
# span context, so with a trace id) and traces of three services over OTLP/HTTP protobuf and
# OTLP/gRPC; exactly the records and traces the Collector's algorithm keeps reach Kafka,
# unchanged (no attribute is added to a log record); records without a trace id are all kept;
# the sampler's counters add up. The expected sets are computed here, in Node, from the published
# algorithm (FNV-1a 32 over the seed's 4 bytes little-endian and the trace id; keep when the low
# 14 bits are below uint32(float32(pct) * float32(0x4000 / 100))).
source "$(dirname "$0")/lib.sh"

start_linerate --set processors.probabilistic_sampler.enabled=true \
    --set processors.probabilistic_sampler.sampling_percentage=30 \
    --set processors.probabilistic_sampler.hash_seed=42 \
    --set processors.probabilistic_sampler.logs.enabled=true \
    --set processors.probabilistic_sampler.logs.sampling_percentage=25 \
    --set processors.probabilistic_sampler.services=checkout=100,batch=10

# ---- logs: `app` at the logs percentage over HTTP, `checkout` (100 %) and `batch` (10 %) over
# gRPC. 20 records per export: every export holds records without a trace id, so each one
# leaves exactly one Kafka record.
send_logs() { # SERVICE PROTO SEED COUNT
    local url="http://127.0.0.1:$HTTP_PORT"
    [ "$2" = grpc ] && url="http://127.0.0.1:$GRPC_PORT"
    node "$CLIENTS/send.js" --url "$url" --protocol "$2" --signal logs --count "$4" --batch 20 \
        --service "$1" --seed "$3" --out "$WORK/logs-$1.json" >/dev/null || fail "send.js logs $1"
}
send_logs app http/protobuf 7 400
send_logs checkout grpc 8 100
send_logs batch grpc 9 200

cat >"$WORK/keep.js" <<'JS'
// keep(seed, pct, hexTraceId): the hash_seed decision, as the Collector makes it.
module.exports = function keep(seed, pct, hex) {
  let h = 0x811c9dc5;
  const bytes = [seed & 255, (seed >>> 8) & 255, (seed >>> 16) & 255, (seed >>> 24) & 255];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  const rate = Math.trunc(Math.fround(Math.fround(Number(pct)) * Math.fround(0x4000 / 100)));
  return (h & 0x3fff) < rate;
};
JS
# Filters each sent file down to what the sampler keeps; prints "KEPT of TOTAL".
node -e '
const fs = require("fs");
const keep = require(process.argv[1]);
const [seed, def, overrides, ...files] = process.argv.slice(2);
const pct = (svc) => (JSON.parse(overrides)[svc] ?? Number(def));
let total = 0, kept = 0, noId = 0;
for (const f of files) {
  const s = JSON.parse(fs.readFileSync(f));
  total += s.logs.length;
  noId += s.logs.filter((l) => l.trace_id === "").length;
  // Records without a trace id are kept (linerate; see docs/sampling.md).
  s.logs = s.logs.filter((l) => l.trace_id === "" || keep(seed, pct(s.service), l.trace_id));
  kept += s.logs.length;
  fs.writeFileSync(f.replace(/\.json$/, ".expected.json"), JSON.stringify(s));
}
if (noId * 2 !== total) throw new Error(`${noId} of ${total} records without a trace id, not half`);
console.log(`${kept} of ${total}`);
' "$WORK/keep.js" 42 25 '{"checkout":100,"batch":10}' \
    "$WORK/logs-app.json" "$WORK/logs-checkout.json" "$WORK/logs-batch.json" | tee "$WORK/logs-ref.txt"
read -r kept_logs _ total_logs <"$WORK/logs-ref.txt"
expect_eq "$total_logs" 700 "log records sent"
# app: 200 without a trace id + ~25 % of 200; checkout: all 100; batch: 100 + ~10 % of 100.
[ "$kept_logs" -gt 420 ] && [ "$kept_logs" -lt 500 ] || fail "the reference keeps $kept_logs of 700 log records"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_logs --signal logs --expect-records 35 \
    --timeout-ms 10000 --out "$WORK/got-logs.json" >/dev/null || fail "kafka_verify logs"
node "$CLIENTS/compare.js" --actual "$WORK/got-logs.json" "$WORK/logs-app.expected.json" \
    "$WORK/logs-checkout.expected.json" "$WORK/logs-batch.expected.json" ||
    fail "the log records in Kafka are not exactly the ones the Collector's algorithm keeps"
t=$(metric 'otelcol_processor_probabilistic_sampler_count_logs_sampled{policy="",sampled="true"}')
f=$(metric 'otelcol_processor_probabilistic_sampler_count_logs_sampled{policy="",sampled="false"}')
expect_eq "$t" "$kept_logs" "log records counted as sampled"
expect_eq "$((t + f))" 700 "log records counted in all"
echo "logs: kept $t of 700"

# ---- traces: `other` at 30 %, `checkout` at 100 %, `batch` at 10 %.
send_traces() { # SERVICE PROTO SEED
    local url="http://127.0.0.1:$HTTP_PORT"
    [ "$2" = grpc ] && url="http://127.0.0.1:$GRPC_PORT"
    node "$CLIENTS/send.js" --url "$url" --protocol "$2" --signal traces --count 300 \
        --traces 100 --batch 10 --service "$1" --seed "$3" --out "$WORK/traces-$1.json" \
        >/dev/null || fail "send.js traces $1"
}
send_traces other http/protobuf 11
send_traces checkout grpc 12
send_traces batch http/protobuf 13
node -e '
const fs = require("fs");
const keep = require(process.argv[1]);
const [seed, def, overrides, ...files] = process.argv.slice(2);
const pct = (svc) => (JSON.parse(overrides)[svc] ?? Number(def));
let total = 0, kept = 0, spans = 0;
for (const f of files) {
  const s = JSON.parse(fs.readFileSync(f));
  total += s.traces.length;
  s.traces = s.traces.filter((t) => keep(seed, pct(s.service), t.trace_id));
  kept += s.traces.length;
  for (const t of s.traces) spans += t.spans.length;
  fs.writeFileSync(f.replace(/\.json$/, ".expected.json"), JSON.stringify(s));
}
console.log(`${kept} ${spans} ${total}`);
' "$WORK/keep.js" 42 30 '{"checkout":100,"batch":10}' \
    "$WORK/traces-other.json" "$WORK/traces-checkout.json" "$WORK/traces-batch.json" | tee "$WORK/traces-ref.txt"
read -r kept_traces kept_spans total_traces <"$WORK/traces-ref.txt"
expect_eq "$total_traces" 300 "traces sent"
# other ~30 of 100, checkout 100, batch ~10 of 100.
[ "$kept_traces" -gt 120 ] && [ "$kept_traces" -lt 165 ] || fail "the reference keeps $kept_traces of 300 traces"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --expect-records "$kept_traces" \
    --timeout-ms 10000 --out "$WORK/got-traces.json" >/dev/null || fail "kafka_verify traces"
node "$CLIENTS/compare.js" --actual "$WORK/got-traces.json" "$WORK/traces-other.expected.json" \
    "$WORK/traces-checkout.expected.json" "$WORK/traces-batch.expected.json" ||
    fail "the traces in Kafka are not exactly the ones the per-service percentages keep"
t=$(metric 'otelcol_processor_probabilistic_sampler_count_traces_sampled{policy="",sampled="true"}')
f=$(metric 'otelcol_processor_probabilistic_sampler_count_traces_sampled{policy="",sampled="false"}')
expect_eq "$t" "$kept_spans" "spans counted as sampled"
expect_eq "$((t + f))" 900 "spans counted in all"
echo "traces: kept $kept_traces of 300 ($t spans)"
stop_linerate
echo "ok"
