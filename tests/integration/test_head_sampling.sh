#!/bin/bash
# Head sampling in the export path (processors.probabilistic_sampler, hash_seed mode, 30 %, seed
# 42): the official JS exporters send 200 traces over OTLP/HTTP protobuf and OTLP/gRPC; exactly
# the traces the Collector's algorithm keeps reach Kafka, complete and unchanged apart from the
# tracestate; the sampler's counters add up. The expected set is computed here, in Node, from the
# published algorithm (FNV-1a 32 over the seed's 4 bytes little-endian and the trace id; keep when
# the low 14 bits are below uint32(float32(pct) * float32(0x4000 / 100))).
source "$(dirname "$0")/lib.sh"

start_linerate --set processors.probabilistic_sampler.enabled=true \
    --set processors.probabilistic_sampler.sampling_percentage=30 \
    --set processors.probabilistic_sampler.hash_seed=42
for proto in http/protobuf grpc; do
    url="http://127.0.0.1:$HTTP_PORT"
    [ $proto = grpc ] && url="http://127.0.0.1:$GRPC_PORT"
    node "$CLIENTS/send.js" --url "$url" --protocol $proto --signal traces --count 400 \
        --traces 100 --batch 10 --seed "$([ $proto = grpc ] && echo 8 || echo 7)" \
        --out "$WORK/sent-${proto%%/*}.json" >/dev/null || fail "send.js $proto"
done
node -e '
const fs = require("fs");
const [seed, pct, out, ...files] = process.argv.slice(1);
function keep(hex) {
  let h = 0x811c9dc5;
  const bytes = [seed & 255, (seed >>> 8) & 255, (seed >>> 16) & 255, (seed >>> 24) & 255];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  const rate = Math.trunc(Math.fround(Math.fround(Number(pct)) * Math.fround(0x4000 / 100)));
  return (h & 0x3fff) < rate;
}
let total = 0, kept = 0, keptSpans = 0;
const merged = [];
for (const f of files) {
  const s = JSON.parse(fs.readFileSync(f));
  total += s.traces.length;
  s.traces = s.traces.filter((t) => keep(t.trace_id));
  kept += s.traces.length;
  for (const t of s.traces) keptSpans += t.spans.length;
  merged.push(s);
}
merged.forEach((s, i) => fs.writeFileSync(out + i + ".json", JSON.stringify(s)));
console.log(`${kept} of ${total} traces (${keptSpans} spans) kept by the reference`);
' 42 30 "$WORK/expected-" "$WORK/sent-http.json" "$WORK/sent-grpc.json" | tee "$WORK/ref.txt"
kept=$(awk '{ print $1 }' "$WORK/ref.txt")
spans=$(sed -n 's/.*(\([0-9]*\) spans).*/\1/p' "$WORK/ref.txt")
[ "$kept" -gt 20 ] && [ "$kept" -lt 120 ] || fail "the reference keeps $kept of 200: not ~30 %"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --expect-records "$kept" \
    --timeout-ms 10000 --out "$WORK/got.json" >/dev/null || fail "kafka_verify"
node "$CLIENTS/compare.js" --actual "$WORK/got.json" "$WORK/expected-0.json" "$WORK/expected-1.json" ||
    fail "the traces in Kafka are not exactly the ones the Collector's algorithm keeps"
# hash_seed mode writes its randomness and threshold into every kept span's tracestate, as the
# Collector does (ot=rv:<14 hex>;th:<threshold>).
n_ts=$(kcat -C -b "$KAFKA" -t otlp_spans -e -q -f '%s\n' 2>/dev/null | grep -ao 'ot=rv:[0-9a-f]\{14\};th:[0-9a-f]*' | wc -l)
expect_eq "$n_ts" "$spans" "kept spans with ot=rv:..;th:.. in their tracestate"
t=$(metric 'otelcol_processor_probabilistic_sampler_count_traces_sampled{policy="",sampled="true"}')
f=$(metric 'otelcol_processor_probabilistic_sampler_count_traces_sampled{policy="",sampled="false"}')
expect_eq "$t" "$spans" "spans counted as sampled"
expect_eq "$((t + f))" 800 "spans counted in all"
echo "kept $kept traces ($t spans), dropped $f spans"
stop_linerate
echo "ok"
