#!/bin/bash
# Load with h2load (nghttp2-client): 16-way multiplexed gRPC on the gRPC port and on the OTLP/HTTP
# port (HTTP/2 preface detection), and HTTP/1.1 on the OTLP/HTTP port. Zero errors, and what
# Kafka holds equals requests × spans.
source "$(dirname "$0")/lib.sh"

start_linerate
N=${H2LOAD_REQUESTS:-3000}
GRPC_PATH=/opentelemetry.proto.collector.trace.v1.TraceService/Export
run() {
    local what=$1
    shift
    h2load "$@" >"$WORK/h2load.out" 2>&1 || true
    grep -E "finished in|requests:|status codes" "$WORK/h2load.out" | sed "s|^|$what: |"
    grep -q "requests: $N total, $N started, $N done, $N succeeded, 0 failed, 0 errored, 0 timeout" \
        "$WORK/h2load.out" || fail "$what: h2load saw errors"
}
run "grpc :$GRPC_PORT" -n $N -c 4 -m 16 -t 1 -d "$FIX/traces.grpc.grpcframes" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$GRPC_PORT$GRPC_PATH"
run "grpc :$HTTP_PORT" -n $N -c 4 -m 16 -t 1 -d "$FIX/traces.grpc.grpcframes" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$HTTP_PORT$GRPC_PATH"
run "http/1.1 :$HTTP_PORT" --h1 -n $N -c 4 -t 1 -d "$FIX/traces.http-protobuf.body" \
    -H 'Content-Type: application/x-protobuf' "http://127.0.0.1:$HTTP_PORT/v1/traces"

spans=$((3 * N * 3))
# The gRPC runs (either port) count under transport="grpc", HTTP/1.1 under "http".
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}')" \
    $((2 * N * 3)) "accepted spans over gRPC"
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')" \
    $((N * 3)) "accepted spans over HTTP/1.1"
for i in $(seq 1 100); do
    [ "$(metric 'otelcol_exporter_sent_spans{exporter="kafka"}')" = $spans ] && break
    sleep 0.1
done
expect_eq "$(metric 'otelcol_exporter_sent_spans{exporter="kafka"}')" $spans "spans in Kafka"
# Every request is one trace: the same trace id each time, so one record per request.
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --allow-dup \
    --expect-records $((3 * N)) --timeout-ms 10000 >"$WORK/verify.json" 2>"$WORK/verify.err" ||
    fail "kafka_verify: $(tail -3 "$WORK/verify.err")"
grep -q "$((3 * N)) records, $spans spans, 0 errors" "$WORK/verify.err" ||
    fail "Kafka holds other than $((3 * N)) records / $spans spans: $(tail -1 "$WORK/verify.err")"
stop_linerate
echo "ok"
