#!/bin/bash
# End to end with real peers: the official OpenTelemetry JS SDK http/protobuf exporters (with and
# without gzip) → linerate → embedded Kafka broker → a librdkafka consumer that decodes every
# record with protobuf-c. Asserts exact record and item counts, the trace-id keys, and that what
# Kafka holds is exactly what the SDK sent (ids, parents, names, kinds, attributes, bodies).
source "$(dirname "$0")/lib.sh"

start_linerate
URL=http://127.0.0.1:$HTTP_PORT
send() { node "$CLIENTS/send.js" --url "$URL" --protocol http/protobuf "$@"; }

# Traces: 2 runs x 30 traces (150 + 90 spans), 4 traces per export call with their spans shuffled
# together, so linerate must split requests per trace. Kafka must hold one record per trace.
send --signal traces --count 150 --traces 30 --batch 4 --seed 11 --out "$WORK/t1.json" >/dev/null ||
    fail "traces export (plain) failed"
send --signal traces --count 90 --traces 30 --batch 4 --seed 12 --gzip --concurrency 3 \
    --out "$WORK/t2.json" >/dev/null || fail "traces export (gzip) failed"
# One request of 3000 spans over 300 traces: more than the worker's initial view holds.
send --signal traces --count 3000 --traces 300 --batch 300 --seed 13 --out "$WORK/t3.json" \
    >/dev/null || fail "traces export (3000 spans in one request) failed"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --expect-records 360 \
    --timeout-ms 10000 --out "$WORK/t-got.json" >/dev/null || fail "kafka_verify traces"
node "$CLIENTS/compare.js" --actual "$WORK/t-got.json" "$WORK/t1.json" "$WORK/t2.json" "$WORK/t3.json" ||
    fail "traces in Kafka differ from what the SDK sent"

# Metrics: one record per export request, content equal to what was sent.
send --signal metrics --count 60 --seed 21 --out "$WORK/m1.json" >/dev/null || fail "metrics export"
send --signal metrics --count 40 --seed 22 --gzip --out "$WORK/m2.json" >/dev/null ||
    fail "metrics export (gzip)"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_metrics --signal metrics --expect-records 2 \
    --timeout-ms 10000 --out "$WORK/m-got.json" >/dev/null || fail "kafka_verify metrics"
node "$CLIENTS/compare.js" --actual "$WORK/m-got.json" "$WORK/m1.json" "$WORK/m2.json" ||
    fail "metrics in Kafka differ from what the SDK sent"

# Logs: 3 export calls (batch 50 of 120), gzip and plain.
send --signal logs --count 120 --batch 50 --seed 31 --out "$WORK/l1.json" >/dev/null ||
    fail "logs export"
send --signal logs --count 30 --seed 32 --gzip --out "$WORK/l2.json" >/dev/null ||
    fail "logs export (gzip)"
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_logs --signal logs --expect-records 4 \
    --timeout-ms 10000 --out "$WORK/l-got.json" >/dev/null || fail "kafka_verify logs"
node "$CLIENTS/compare.js" --actual "$WORK/l-got.json" "$WORK/l1.json" "$WORK/l2.json" ||
    fail "logs in Kafka differ from what the SDK sent"

# The Collector-named counters agree with what was sent.
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')" 3240 \
    "accepted spans"
expect_eq "$(metric 'otelcol_exporter_sent_spans{exporter="kafka"}')" 3240 "sent spans"
expect_eq "$(metric 'otelcol_receiver_accepted_metric_points{receiver="otlp",transport="http"}')" \
    100 "accepted metric points"
expect_eq "$(metric 'otelcol_exporter_sent_log_records{exporter="kafka"}')" 150 "sent log records"
expect_eq "$(metric 'otelcol_exporter_queue_size{exporter="kafka"}')" 0 "queue size"
stop_linerate
echo "ok"
