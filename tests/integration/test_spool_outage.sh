#!/bin/bash
# Broker outage under load. The mock cluster's fault API takes the broker down while a client
# keeps sending, until the circuit has been open for 5 s: linerate keeps acknowledging into the
# spool (no refusal while the spool is below its high watermark), /metrics shows the circuit open,
# and when the broker returns the backlog drains and every acknowledged span id is in Kafka. Then,
# with a spool capped at 4 MiB, the same outage makes the receivers refuse with retryable 503s once
# the spool reaches its high watermark, and accept again once it drained below the low one.
source "$(dirname "$0")/lib.sh"

start_broker 16
start_linerate --cores 0-1 --brokers "$BROKER" --set spool.segment_bytes=1MiB \
    --set exporters.kafka.producer.reconnect.backoff.max.ms=500
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 4 --spans 20 --traces 4 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
sleep 1
broker down
echo "broker down"
# Down until the circuit has been open for 5 s (at most 20 s in all).
state=""
open_for=0
for i in $(seq 1 20); do
    sleep 1
    if [ "$(metric 'linerate_kafka_state{state="open"}')" = 1 ]; then state=open; fi
    [ "$state" = open ] && open_for=$((open_for + 1))
    [ $open_for -ge 5 ] && break
done
during=$(wc -l <"$WORK/acked.txt")
spool_bytes=$(($(metric 'linerate_spool_bytes{worker="0"}') + $(metric 'linerate_spool_bytes{worker="1"}')))
broker up
echo "broker up after $i s; spans acknowledged: $during; spool: $spool_bytes bytes"
[ "$state" = open ] || fail "linerate_kafka_state never showed the circuit open"
[ "$spool_bytes" -gt 0 ] || fail "the spool held nothing during the outage"
sleep 2
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load.json"
refused=$(sed -n 's/.*"refused":\([0-9]*\).*/\1/p' "$WORK/load.json")
errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$WORK/load.json")
expect_eq "$refused" 0 "refusals while the spool was below its high watermark"
expect_eq "$errors" 0 "errors"
check_acked_in_kafka "$WORK/acked.txt" 90
[ "$(metric 'linerate_kafka_state{state="connected"}')" = 1 ] || fail "not connected after the outage"
stop_linerate

# A small spool: refusals start at the high watermark, and stop once it drained.
rm -rf "$WORK/run/spool" "$WORK/acked.txt"
start_linerate --cores 0 --brokers "$BROKER" --set spool.max_bytes=4MiB \
    --set spool.segment_bytes=256KiB --set exporters.kafka.producer.reconnect.backoff.max.ms=200
broker down
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 2 --spans 50 --traces 5 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load2.json" 2>"$WORK/load2.err" &
LOAD=$!
for i in $(seq 1 100); do
    full=$(metric 'linerate_worker_spool_full_total{worker="0",cpu="0",numa_node="0"}')
    [ "${full:-0}" -gt 0 ] && break
    sleep 0.2
done
[ "${full:-0}" -gt 0 ] || fail "the spool never reached its high watermark"
bytes=$(metric 'linerate_spool_bytes{worker="0"}')
echo "refusing at the high watermark: spool $bytes bytes (cap 4 MiB, high 90%)"
[ "$bytes" -le $((4 * 1048576)) ] || fail "the spool grew past its cap"
broker up
for i in $(seq 1 60); do
    sleep 0.5
    now=$(metric 'linerate_worker_spool_full_total{worker="0",cpu="0",numa_node="0"}')
    [ "$now" = "$full" ] && [ "$(metric 'linerate_spool_bytes{worker="0"}')" -lt $((3 * 1048576)) ] && break
    full=$now
done
a1=$(wc -l <"$WORK/acked.txt")
sleep 1
a2=$(wc -l <"$WORK/acked.txt")
[ "$a2" -gt "$a1" ] || fail "no longer accepting after the spool drained"
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load2.json"
check_acked_in_kafka "$WORK/acked.txt" 60
stop_linerate
echo "ok"
