#!/bin/bash
# Items that fail validation while the rest are fine: a span whose trace id is not 16 bytes is
# rejected with partial_success (rejected count + message) in the request's encoding, and the
# valid span still reaches Kafka.
source "$(dirname "$0")/lib.sh"

start_linerate
tid='\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x01'
sid='\x01\x02\x03\x04\x05\x06\x07\x08'
# ExportTraceServiceRequest{resource_spans{scope_spans{spans: [ok (16-byte id), bad (5-byte id)]}}}
good="\x0a\x10$tid\x12\x08$sid\x2a\x02ok"
bad="\x0a\x05\x01\x02\x03\x04\x05\x12\x08$sid\x2a\x03bad"
printf "\x0a\x3c\x12\x3a\x12\x20$good\x12\x16$bad" >"$WORK/mixed.pb"
code=$(post /v1/traces application/x-protobuf "$WORK/mixed.pb")
expect_eq "$code" 200 "mixed valid and invalid spans (protobuf)"
# ExportTraceServiceResponse{partial_success{rejected_spans: 1, error_message: ...}}
hex=$(od -An -tx1 "$WORK/resp" | tr -d ' \n')
case $hex in 0a??0801*) ;; *) fail "no partial_success{rejected_spans: 1} in the answer: $hex" ;; esac
grep -aq "trace_id" "$WORK/resp" || fail "partial_success has no error message"

# The same in OTLP/JSON: the answer is JSON.
cat >"$WORK/mixed.json" <<'JSON'
{"resourceSpans":[{"scopeSpans":[{"spans":[
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"ok"},
 {"traceId":"","spanId":"eee19b7ec3c1b175","name":"no-trace-id"}]}]}]}
JSON
code=$(post /v1/traces application/json "$WORK/mixed.json")
expect_eq "$code" 200 "mixed valid and invalid spans (JSON)"
echo "JSON answer: $(cat "$WORK/resp")"
grep -q '"partialSuccess"' "$WORK/resp" && grep -q '"rejectedSpans":"1"' "$WORK/resp" ||
    fail "JSON answer lacks partialSuccess.rejectedSpans: $(cat "$WORK/resp")"

# Exactly the two valid spans reached Kafka, one record per trace.
"$TOOLS/kafka_verify" -b "$KAFKA" -t otlp_spans --signal traces --expect-records 2 \
    --timeout-ms 5000 >"$WORK/got.json" 2>"$WORK/verify.err" || fail "kafka_verify"
grep -q "2 records, 2 spans, 0 errors" "$WORK/verify.err" || fail "$(cat "$WORK/verify.err")"
expect_eq "$(metric 'otelcol_receiver_refused_spans{receiver="otlp",transport="http"}')" 2 \
    "refused spans"
expect_eq "$(metric 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}')" 2 \
    "accepted spans"
stop_linerate
echo "ok"
