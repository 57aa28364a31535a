#!/bin/bash
# SIGTERM: stop accepting, finish the request in flight, close idle connections at once, flush
# Kafka, exit 0.
source "$(dirname "$0")/lib.sh"

start_linerate --set service.shutdown_grace_ms=10000
body="$FIX/traces.http-protobuf.body"
sz=$(stat -c %s "$body")
half=$((sz / 2))

# An idle keep-alive connection (must not hold the shutdown up) ...
exec 4<>/dev/tcp/127.0.0.1/$HTTP_PORT
# ... and a request in flight: headers and half the body sent before SIGTERM.
exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT
printf 'POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n' \
    "$sz" >&3
head -c $half "$body" >&3
sleep 0.3
kill -TERM "$LR_PID"
sleep 0.7
kill -0 "$LR_PID" 2>/dev/null || fail "linerate exited with a request in flight"
# No longer accepting.
if curl -s -m 2 -o /dev/null "http://127.0.0.1:$HTTP_PORT/v1/traces" 2>/dev/null; then
    fail "a new connection was accepted while draining"
fi
# The idle connection was closed by the server.
timeout 3 cat <&4 >/dev/null || fail "idle connection not closed while draining"
tail -c +$((half + 1)) "$body" >&3
resp=$(timeout 5 cat <&3 || true)
echo "in-flight request answered: $(echo "$resp" | head -1)"
echo "$resp" | head -1 | grep -q "^HTTP/1.1 200" || fail "request in flight not answered 200: $resp"
for i in $(seq 1 100); do
    kill -0 "$LR_PID" 2>/dev/null || break
    sleep 0.1
done
rc=0
wait "$LR_PID" || rc=$?
LR_PID=""
expect_eq "$rc" 0 "exit status after SIGTERM"
grep "linerate: stopped" "$WORK/linerate.out"
grep -q "sent spans 3 points 0 logs 0; failed 0; unflushed records 0" "$WORK/linerate.out" ||
    fail "the in-flight request's spans were not flushed to Kafka"
echo "ok"
