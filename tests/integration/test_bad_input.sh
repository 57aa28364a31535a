#!/bin/bash
# Bad input over real sockets: garbage and truncated protobuf → 400 with a google.rpc.Status that
# names the byte, and the next client is served; routing errors 404/405/415; oversized → 413;
# a gzip bomb → 413 with bounded memory; a client that sends headers forever → 408 and closed.
source "$(dirname "$0")/lib.sh"

start_linerate --set receivers.otlp.protocols.http.header_timeout_ms=1000

# Garbage: field 1 with wire type 7 (invalid).
printf '\x0f\x01\x02\x03' >"$WORK/garbage"
code=$(post /v1/traces application/x-protobuf "$WORK/garbage")
expect_eq "$code" 400 "garbage protobuf"
grep -aq "malformed at byte" "$WORK/resp" || fail "400 body does not say where: $(cat "$WORK/resp")"
# The answer is a google.rpc.Status: field 1 (code) = 3 INVALID_ARGUMENT, field 2 the message.
[ "$(head -c 2 "$WORK/resp" | od -An -tx1 | tr -d ' ')" = "0803" ] ||
    fail "400 body is not google.rpc.Status{code: 3}"

# Truncated real request: every prefix that cuts a length-delimited field is malformed.
sz=$(stat -c %s "$FIX/traces.http-protobuf.body")
head -c $((sz - 7)) "$FIX/traces.http-protobuf.body" >"$WORK/trunc"
code=$(post /v1/traces application/x-protobuf "$WORK/trunc")
expect_eq "$code" 400 "truncated protobuf"

# The server keeps serving: the whole request is accepted right after.
code=$(post /v1/traces application/x-protobuf "$FIX/traces.http-protobuf.body")
expect_eq "$code" 200 "valid request after bad ones"
[ ! -s "$WORK/resp" ] || fail "200 body is not an empty ExportTraceServiceResponse"

# Routing.
code=$(post /v1/nope application/x-protobuf "$FIX/traces.http-protobuf.body")
expect_eq "$code" 404 "unknown path"
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/v1/traces")
expect_eq "$code" 405 "GET /v1/traces"
code=$(post /v1/logs text/plain "$FIX/logs.http-protobuf.body")
expect_eq "$code" 415 "text/plain"
grep -q "application/x-protobuf" "$WORK/resp" || fail "415 does not name the accepted type"

# Oversized: a body over max_request_body_size (here the default 20 MiB + 1 byte).
head -c $((20 * 1024 * 1024 + 1)) /dev/zero >"$WORK/big"
code=$(post /v1/metrics application/x-protobuf "$WORK/big")
expect_eq "$code" 413 "oversized body"

# Gzip bomb: 1 GiB of zeros in about 1 MiB; stopped at the 20 MiB limit without allocating past it.
head -c $((1024 * 1024 * 1024)) /dev/zero | gzip -1 >"$WORK/bomb.gz"
hwm_before=$(awk '/VmHWM/ { print $2 }' /proc/$LR_PID/status)
code=$(post /v1/traces application/x-protobuf "$WORK/bomb.gz" -H "Content-Encoding: gzip")
expect_eq "$code" 413 "gzip bomb"
hwm_after=$(awk '/VmHWM/ { print $2 }' /proc/$LR_PID/status)
grew=$(((hwm_after - hwm_before) / 1024))
echo "gzip bomb: peak RSS grew by $grew MiB"
[ $grew -lt 100 ] || fail "gzip bomb grew peak RSS by $grew MiB"

# Headers forever: one header line every 200 ms; the 1 s header timeout must answer 408 and close.
start=$(date +%s%N)
exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT
printf 'POST /v1/traces HTTP/1.1\r\nHost: x\r\n' >&3
(for i in $(seq 1 50); do printf 'X-Slow-%d: y\r\n' $i >&3 2>/dev/null || exit 0; sleep 0.2; done) &
writer=$!
resp=$(timeout 8 cat <&3 || true)
exec 3<&-
kill $writer 2>/dev/null || true
elapsed=$((($(date +%s%N) - start) / 1000000))
echo "slow headers: answered after $elapsed ms: $(echo "$resp" | head -1)"
echo "$resp" | head -1 | grep -q "^HTTP/1.1 408" || fail "slow headers not answered 408: $resp"
[ $elapsed -lt 5000 ] || fail "slow headers took $elapsed ms to be cut"

# Still serving, and the counters saw exactly one accepted request's spans.
code=$(post /v1/logs application/x-protobuf "$FIX/logs.http-protobuf.body")
expect_eq "$code" 200 "logs after all the bad input"
spans=$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')
expect_eq "$spans" 3 "accepted spans"
stop_linerate
echo "ok"
