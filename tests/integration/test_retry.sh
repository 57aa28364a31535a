#!/bin/bash
# Retry semantics with the official JS exporter (memory ack mode, where the queue is a ring): while Kafka is down and linerate's queue is full
# the exporter is answered 429 + Retry-After (overload_status=429; retryable per OTLP/HTTP, as the
# default 503 is); it retries, and once the broker is back its data arrives in Kafka exactly once.
source "$(dirname "$0")/lib.sh"

mkfifo "$WORK/mb.in"
"$TOOLS/mock_broker" 4 <"$WORK/mb.in" >"$WORK/mb.out" 2>"$WORK/mb.err" &
MB_PID=$!
exec 5>"$WORK/mb.in"
trap 'exec 5>&-; kill $MB_PID 2>/dev/null || true; cleanup' EXIT
for i in $(seq 1 50); do [ -s "$WORK/mb.out" ] && break; sleep 0.1; done
BROKER=$(head -1 "$WORK/mb.out")
echo "mock broker at $BROKER"
echo down >&5

start_linerate --cores 0 --brokers "$BROKER" --set workers.queue_size=64 \
    --set receivers.otlp.protocols.http.ack=memory --set receivers.otlp.protocols.grpc.ack=memory \
    --set receivers.otlp.protocols.http.overload_status=429 \
    --set exporters.kafka.producer.queue.buffering.max.messages=1 \
    --set exporters.kafka.producer.reconnect.backoff.max.ms=500 \
    --set exporters.kafka.producer.message.timeout.ms=60000

# Fill the worker's queue with metrics requests until linerate refuses.
refused=0
for i in $(seq 1 100); do
    code=$(post /v1/metrics application/x-protobuf "$FIX/metrics.http-protobuf.body")
    if [ "$code" = 429 ]; then
        grep -qi '^Retry-After: 1' <(curl -s -D - -o /dev/null -H 'Content-Type: application/x-protobuf' \
            --data-binary "@$FIX/metrics.http-protobuf.body" "http://127.0.0.1:$HTTP_PORT/v1/metrics") ||
            fail "429 without Retry-After"
        refused=1
        break
    fi
    expect_eq "$code" 200 "filling the queue"
done
[ $refused = 1 ] || fail "the queue never filled"
before=$(metric 'linerate_worker_overloaded_total{worker="0",cpu="0",numa_node="0"}')

# The exporter sends while the queue is full; the broker comes back 2 s later.
node "$CLIENTS/send.js" --url "http://127.0.0.1:$HTTP_PORT" --protocol http/protobuf \
    --signal traces --count 12 --traces 3 --seed 77 --timeout-ms 30000 \
    --out "$WORK/sent.json" >"$WORK/send.log" 2>&1 &
SEND=$!
sleep 2
during=$(metric 'linerate_worker_overloaded_total{worker="0",cpu="0",numa_node="0"}')
echo up >&5
rc=0
wait $SEND || rc=$?
cat "$WORK/send.log"
expect_eq "$rc" 0 "the exporter's export after retries"
[ "$during" -gt "$before" ] || fail "the exporter was never refused (overloaded $before -> $during)"
echo "exporter refused $((during - before)) time(s) with 429 + Retry-After, then accepted"

"$TOOLS/kafka_verify" -b "$BROKER" -t otlp_spans --signal traces --expect-records 3 \
    --timeout-ms 10000 --out "$WORK/got.json" >/dev/null || fail "kafka_verify traces"
node "$CLIENTS/compare.js" --actual "$WORK/got.json" "$WORK/sent.json" ||
    fail "traces in Kafka differ from what the exporter sent (or arrived twice)"
stop_linerate
echo "ok"
