#!/bin/bash
# A full disk. The spool lives on a 3 MiB tmpfs and the broker is down, so the spool fills the
# disk (its own cap, 4 GiB by default, is far away): writes fail with ENOSPC and the receivers
# answer with retryable refusals (HTTP 503 + Retry-After, gRPC UNAVAILABLE), nothing crashes, and
# when the broker returns the spool drains, space comes back and requests are accepted again.
# Every acknowledged span is in Kafka.
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/tmpfs"
mount -t tmpfs -o size=3m tmpfs "$WORK/tmpfs" || fail "cannot mount a tmpfs (root needed)"
start_broker 16
start_linerate --cores 0 --brokers "$BROKER" --set spool.dir="$WORK/tmpfs/spool" \
    --set spool.segment_bytes=128KiB --set exporters.kafka.producer.reconnect.backoff.max.ms=200
broker down
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 2 --spans 50 --traces 5 --pause-ms 10 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
for i in $(seq 1 100); do
    e=$(metric 'linerate_worker_spool_errors_total{worker="0",cpu="0",numa_node="0"}')
    [ "${e:-0}" -gt 0 ] && break
    sleep 0.2
done
[ "${e:-0}" -gt 0 ] || fail "the disk never filled"
df -k "$WORK/tmpfs" | tail -1
grep -q "spool" "$WORK/linerate.out"

# The answers while the disk is full: OTLP/HTTP 503 + Retry-After, OTLP/gRPC UNAVAILABLE (14).
# (A small request may still fit in the last page of the segment: ask until the disk says no.)
for i in $(seq 1 50); do
    code=$(curl -s -D "$WORK/h" -o "$WORK/resp" -w '%{http_code}' -H 'Content-Type: application/x-protobuf' \
        --data-binary "@$FIX/traces.http-protobuf.body" "http://127.0.0.1:$HTTP_PORT/v1/traces")
    [ "$code" = 503 ] && break
    expect_eq "$code" 200 "HTTP status while the disk fills"
done
expect_eq "$code" 503 "HTTP status on a full disk"
grep -qi '^Retry-After: 1' "$WORK/h" || fail "503 without Retry-After"
grep -q "spool disk full" "$WORK/resp" || fail "the refusal does not say why: $(cat "$WORK/resp")"
node "$CLIENTS/send.js" --url "http://127.0.0.1:$GRPC_PORT" --protocol grpc --signal traces \
    --count 3 --traces 1 --timeout-ms 3000 --out "$WORK/grpc.json" >"$WORK/grpc.log" 2>&1 || true
grep -q '"ok": *false' "$WORK/grpc.json" || fail "the gRPC export succeeded on a full disk"
grep -qi "UNAVAILABLE\|code.*14\|spool disk full" "$WORK/grpc.json" "$WORK/grpc.log" ||
    fail "gRPC refusal is not UNAVAILABLE: $(head -c 600 "$WORK/grpc.json")"
kill -0 "$LR_PID" || fail "linerate died on a full disk"

broker up
echo "broker up: the spool drains and space returns"
ok=0
for i in $(seq 1 60); do
    sleep 0.5
    code=$(post /v1/traces application/x-protobuf "$FIX/traces.http-protobuf.body")
    if [ "$code" = 200 ]; then ok=1; break; fi
done
[ $ok = 1 ] || fail "requests still refused after the spool drained"
a1=$(wc -l <"$WORK/acked.txt")
sleep 1
a2=$(wc -l <"$WORK/acked.txt")
[ "$a2" -gt "$a1" ] || fail "the load is not acknowledged after recovery"
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load.json"
check_acked_in_kafka "$WORK/acked.txt" 60
stop_linerate
echo "ok"
