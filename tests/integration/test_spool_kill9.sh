#!/bin/bash
# Nothing acknowledged is lost by kill -9 (ack mode `spool`, the default). A client records every
# span id linerate answered 200 for; linerate is killed with SIGKILL at five different moments
# and restarted on the same spool each time; at the end every acknowledged span id is in Kafka.
# Duplicates are allowed (at-least-once) and counted.
#   1. steady load
#   2. within 300 ms of a restart, while the previous run's spool is being replayed
#   3. with every broker down and a backlog in the spool
#   4. during a SIGTERM drain (Kafka answers after 500 ms, so the flush is still going on)
#   5. while group commits are slow (300 ms): answers held, records written but not fsynced
source "$(dirname "$0")/lib.sh"

start_broker 16
FLAGS=(--cores 0-1 --brokers "$BROKER" --set spool.segment_bytes=256KiB
    --set exporters.kafka.producer.reconnect.backoff.max.ms=200)
KEEP_PORTS=1
start_linerate "${FLAGS[@]}"
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 4 --spans 20 --traces 4 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!

acked() { wc -l <"$WORK/acked.txt" 2>/dev/null || echo 0; }
moment() {
    local n=$1 what=$2 before
    before=$(acked)
    kill9
    echo "kill -9 #$n ($what): $before spans acknowledged so far"
    [ "$before" -gt 0 ] || fail "no load before kill #$n"
}

sleep 2
moment 1 "steady load"

start_linerate "${FLAGS[@]}"
sleep 0.3
grep -q "replaying" "$WORK/linerate.out" || fail "no replay line at start"
moment 2 "right after a restart, replaying"

start_linerate "${FLAGS[@]}"
broker down
sleep 2
moment 3 "brokers down, backlog in the spool"
broker up

start_linerate "${FLAGS[@]}"
sleep 1
broker rtt 500
sleep 0.5
kill -TERM "$LR_PID"
sleep 0.2
moment 4 "during a SIGTERM drain"
broker rtt 0

start_linerate "${FLAGS[@]}" --set spool.commit_interval_us=300000
sleep 1.5
moment 5 "slow group commit, answers held"

# The last run: more load, then the client stops and the spool drains.
start_linerate "${FLAGS[@]}"
sleep 1
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load.json"
check_acked_in_kafka "$WORK/acked.txt" 60
echo "duplicates after five kills: $DUPLICATES"
stop_linerate
echo "ok"
