#!/bin/bash
# Graceful shutdown and deploy under load. SIGTERM while a client sends and Kafka is slow (the
# broker answers after 300 ms, then goes down): linerate stops accepting, answers what is in
# flight, fdatasyncs, gives Kafka its flush timeout and exits 0 within grace + flush; what Kafka
# did not take is replayed by the next start, and every acknowledged span is in Kafka after it.
source "$(dirname "$0")/lib.sh"

start_broker 16
KEEP_PORTS=1
FLAGS=(--cores 0-1 --brokers "$BROKER" --set service.shutdown_grace_ms=2000
    --set exporters.kafka.flush_timeout_ms=1000)
start_linerate "${FLAGS[@]}"
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 4 --spans 20 --traces 4 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
broker rtt 300
sleep 2
broker down
t0=$(date +%s%N)
kill -TERM "$LR_PID"
rc=0
wait "$LR_PID" || rc=$?
LR_PID=""
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "$rc" 0 "exit status after SIGTERM"
echo "exited ${ms} ms after SIGTERM (grace 2000 + flush 1000)"
[ $ms -lt 5000 ] || fail "took ${ms} ms to exit"
grep "linerate: stopped" "$WORK/linerate.out" | tail -1
left=$(grep "linerate: stopped" "$WORK/linerate.out" | tail -1 | sed -n 's/.*next start \([0-9]*\).*/\1/p')
[ "${left:-0}" -gt 0 ] || fail "expected records left in the spool (Kafka was down)"

# The deploy: the new process replays what Kafka did not take; the client carries on.
broker up
broker rtt 0
start_linerate "${FLAGS[@]}"
grep "replaying" "$WORK/linerate.out" | tail -1
sleep 1
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load.json"
check_acked_in_kafka "$WORK/acked.txt" 60
stop_linerate
grep "linerate: stopped" "$WORK/linerate.out" | tail -1 | grep -q "next start 0" ||
    fail "records left in the spool after a clean drain"
echo "ok"
