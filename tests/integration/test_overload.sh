#!/bin/bash
# Backpressure in memory ack mode: when Kafka cannot take records (here: no broker answers and librdkafka's queue
# holds one message), the worker's ring fills and linerate refuses with the retryable
# 503 + Retry-After instead of buffering without bound; every span is either accepted or refused,
# and the counters say which. SIGTERM still exits 0 after the flush timeout.
source "$(dirname "$0")/lib.sh"

dead=$(free_port)
start_linerate --cores 0 --brokers 127.0.0.1:$dead --set workers.queue_size=64 \
    --set receivers.otlp.protocols.http.ack=memory --set receivers.otlp.protocols.grpc.ack=memory \
    --set exporters.kafka.producer.queue.buffering.max.messages=1 \
    --set exporters.kafka.flush_timeout_ms=500
body="$FIX/traces.http-protobuf.body"
ok=0
busy=0
for i in $(seq 1 120); do
    code=$(curl -s -D "$WORK/h" -o "$WORK/resp" -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
        --data-binary "@$body" "http://127.0.0.1:$HTTP_PORT/v1/traces")
    case $code in
    200) ok=$((ok + 1)) ;;
    503)
        busy=$((busy + 1))
        grep -qi '^Retry-After: ' "$WORK/h" || fail "503 without Retry-After"
        ;;
    *) fail "unexpected status $code" ;;
    esac
done
echo "accepted $ok requests, refused $busy with 503"
[ $ok -ge 64 ] || fail "only $ok requests accepted before the queue filled"
[ $busy -gt 0 ] || fail "the full queue never refused a request"
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')" $((ok * 3)) \
    "accepted spans"
expect_eq "$(metric 'otelcol_receiver_refused_spans{receiver="otlp",transport="http"}')" $((busy * 3)) \
    "refused spans"
[ "$(metric 'otelcol_exporter_queue_size{exporter="kafka"}')" -ge 64 ] || fail "queue size gauge"
expect_eq "$(metric 'linerate_kafka_connected')" 0 "kafka connected gauge"

# OTLP/gRPC while full: UNAVAILABLE (retryable) with the reason; the official exporter retries
# until its timeout and reports it.
rc=0
node "$CLIENTS/send.js" --url "http://127.0.0.1:$GRPC_PORT" --protocol grpc --signal traces \
    --count 3 --timeout-ms 3000 --out "$WORK/grpc.json" >"$WORK/grpc.log" 2>&1 || rc=$?
grep -m1 "UNAVAILABLE" "$WORK/grpc.log" || fail "gRPC export while full: $(tail -3 "$WORK/grpc.log")"
[ $rc -ne 0 ] || fail "gRPC export succeeded while the queue was full"
grep -q "output queue full" "$WORK/grpc.log" || fail "UNAVAILABLE without the reason"
stop_linerate
grep "linerate: stopped" "$WORK/linerate.out"
echo "ok"
