#!/bin/bash
# Acknowledgement modes and Kafka faults.
#  * memory and spool answer while the broker is down; kafka answers only once Kafka has the
#    records (curl gets nothing within 2 s while the broker is down, 200 after it returns).
#  * A fatal producer error (the broker answers Produce with OUT_OF_ORDER_SEQUENCE_NUMBER, which
#    the idempotent producer cannot recover from) replaces the producer and replays from the
#    spool: nothing acknowledged is lost, linerate_kafka_producer_restarts_total counts it.
#  * A record over exporters.kafka.max_message_bytes is split per resource; a resource larger
#    than the limit is refused with partial_success, never dropped silently.
source "$(dirname "$0")/lib.sh"

start_broker 16
body="$FIX/traces.http-protobuf.body"

for mode in memory spool kafka; do
    start_linerate --cores 0 --brokers "$BROKER" --set receivers.otlp.protocols.http.ack=$mode \
        --set exporters.kafka.producer.reconnect.backoff.max.ms=100
    broker down
    sleep 0.5
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
        --data-binary "@$body" "http://127.0.0.1:$HTTP_PORT/v1/traces" || true)
    if [ $mode = kafka ]; then
        expect_eq "$code" 000 "ack=kafka with the broker down: no answer yet"
        curl -s -m 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
            --data-binary "@$body" "http://127.0.0.1:$HTTP_PORT/v1/traces" >"$WORK/late" &
        CURL=$!
        sleep 1
        broker up
        wait $CURL || true
        expect_eq "$(cat "$WORK/late")" 200 "ack=kafka once the broker is back"
        n=$(metric 'linerate_ack_latency_seconds_count{mode="kafka"}')
        [ "${n:-0}" -ge 1 ] || fail "no kafka-mode acknowledgement latency recorded"
    else
        expect_eq "$code" 200 "ack=$mode with the broker down"
        broker up
    fi
    echo "ack=$mode: ok"
    stop_linerate
done

# A fatal producer error: replace the producer, replay from the spool.
rm -rf "$WORK/run/spool"
start_linerate --cores 0 --brokers "$BROKER" \
    --set exporters.kafka.producer.reconnect.backoff.max.ms=100
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 2 --spans 20 --traces 4 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
sleep 1
broker err 0 5 45
for i in $(seq 1 50); do
    r=$(metric linerate_kafka_producer_restarts_total)
    [ "${r:-0}" -ge 1 ] && break
    sleep 0.2
done
[ "${r:-0}" -ge 1 ] || {
    grep -i kafka "$WORK/linerate.out" | tail -5
    fail "no producer restart after OUT_OF_ORDER_SEQUENCE_NUMBER"
}
grep "fatal producer error" "$WORK/linerate.out" | head -1
sleep 1
kill -TERM $LOAD
wait $LOAD || true
check_acked_in_kafka "$WORK/acked.txt" 30
echo "fatal error: producer replaced $r time(s); duplicates: $DUPLICATES"
stop_linerate

# Oversized records: metrics requests are not split per trace, so 40 copies of the fixture
# (concatenated protobuf messages merge: 40 resources) make one record over 8 KiB, which is cut
# between resources. One resource over the limit is refused with partial_success.
rm -rf "$WORK/run/spool"
start_linerate --cores 0 --brokers "$BROKER" --set exporters.kafka.max_message_bytes=8KiB
mb="$FIX/metrics.http-protobuf.body"
for i in $(seq 1 40); do cat "$mb"; done >"$WORK/big.body"
echo "request: $(stat -c %s "$WORK/big.body") bytes, 40 resources of $(stat -c %s "$mb")"
expect_eq "$(post /v1/metrics application/x-protobuf "$WORK/big.body")" 200 "big metrics request"
[ ! -s "$WORK/resp" ] || fail "unexpected partial_success for a request that splits"
records=$(metric 'linerate_worker_requests_total{worker="0",cpu="0",signal="metrics"}')
"$TOOLS/kafka_verify" -b "$BROKER" -t otlp_metrics --signal metrics --allow-dup \
    --timeout-ms 5000 --out "$WORK/m.json" >/dev/null || fail "kafka_verify metrics"
n=$(metric 'linerate_kafka_records_sent_total')
[ "$n" -gt 1 ] || fail "the big request was not split ($n records)"
echo "one $(stat -c %s "$WORK/big.body")-byte request became $n records under 8 KiB"
# A single resource of 600 spans (about 30 KiB): rejected with partial_success.
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 1 --spans 600 --traces 1 --max-requests 1 \
    --duration-s 1 --acked "$WORK/acked-big.txt" >"$WORK/big.json" 2>&1 || true
cat "$WORK/big.json"
grep -q '"partial":[1-9]' "$WORK/big.json" || fail "an oversized resource was not refused with partial_success"
[ "$(metric 'otelcol_receiver_refused_spans{receiver="otlp",transport="http"}')" -ge 600 ] ||
    fail "the refused spans are not counted"
stop_linerate
echo "ok"
