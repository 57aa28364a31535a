#!/bin/bash
# Runtime control of sampling: GET/PUT /sampling on the admin endpoint, guarded by admin.token.
# Tail sampling starts keeping every trace; a PUT switches it to errors only, another turns head
# sampling on at 0 %. Each batch sent after a PUT is decided by the new settings, so Kafka holds
# exactly batch A, the traces of batch B that have an error span, and nothing of batch C.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/cfg.yaml" <<'EOF2'
admin:
  token: t0ps3cret
processors:
  tail_sampling:
    enabled: true
    decision_wait_ms: 300
    policies:
      - name: all
        type: always_sample
EOF2
start_broker 4
start_linerate --config "$WORK/cfg.yaml" --brokers "$BROKER"
api="http://127.0.0.1:$ADMIN_PORT/sampling"
put() { # put BODY [TOKEN]: prints the status, the answer in $WORK/put.json
    curl -s -o "$WORK/put.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${2:-t0ps3cret}" \
        -H 'Content-Type: application/json' --data-binary "$1" "$api"
}
curl -sf "$api" >"$WORK/get1.json" || fail "GET /sampling"
grep -q '"generation":1' "$WORK/get1.json" || fail "GET: $(cat "$WORK/get1.json")"
grep -q '"name":"all"' "$WORK/get1.json" || fail "GET shows no policy: $(cat "$WORK/get1.json")"
status=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary '{}' "$api")
expect_eq "$status" 401 "PUT without a token"
expect_eq "$(put '{"head":{"enabled":true}}' wrong)" 401 "PUT with a wrong token"
expect_eq "$(put '{"head":{"sampling_percentage":"lots"}}')" 400 "PUT with a bad body"
grep -q 'head.sampling_percentage' "$WORK/put.json" || fail "no reason given: $(cat "$WORK/put.json")"

send() { # send SEED COUNT TRACES OUT
    node "$CLIENTS/send.js" --url "http://127.0.0.1:$HTTP_PORT" --protocol http/protobuf \
        --signal traces --count "$2" --traces "$3" --batch 10 --seed "$1" --out "$4" >/dev/null ||
        fail "send.js seed $1"
}
send 1 120 40 "$WORK/a.json"  # 3 spans per trace
sleep 0.6
expect_eq "$(put '{"tail":{"policies":[{"name":"errors","type":"status_code","status_code":{"status_codes":["ERROR"]}}]}}')" \
    200 "PUT tail policies"
grep -q '"generation":2' "$WORK/put.json" || fail "PUT answer: $(cat "$WORK/put.json")"
send 2 180 40 "$WORK/b.json"  # 20 traces of 5 spans (the 5th has status ERROR), 20 of 4
sleep 0.6
expect_eq "$(put 'head: {enabled: true, sampling_percentage: 0}')" 200 "PUT head sampling (YAML)"
send 3 120 40 "$WORK/c.json"
sleep 0.6
curl -sf "$api" >"$WORK/get2.json"
grep -q '"generation":3' "$WORK/get2.json" || fail "GET after two PUTs: $(cat "$WORK/get2.json")"
grep -q '"name":"errors"' "$WORK/get2.json" || fail "GET shows the old policies"
stop_linerate

node -e '
const fs = require("fs");
const b = JSON.parse(fs.readFileSync(process.argv[1]));
b.traces = b.traces.filter((t) => t.spans.some((s) => s.status.code === "STATUS_CODE_ERROR"));
fs.writeFileSync(process.argv[2], JSON.stringify(b));
console.log(b.traces.length);
' "$WORK/b.json" "$WORK/b-errors.json" >"$WORK/nb"
expect_eq "$(cat "$WORK/nb")" 20 "traces of batch B with an error span"
"$TOOLS/kafka_verify" -b "$BROKER" -t otlp_spans --signal traces --expect-records 60 \
    --timeout-ms 10000 --out "$WORK/got.json" >/dev/null 2>"$WORK/kv.err" || { cat "$WORK/kv.err" >&2; fail "kafka_verify"; }
node "$CLIENTS/compare.js" --actual "$WORK/got.json" "$WORK/a.json" "$WORK/b-errors.json" ||
    fail "Kafka does not hold exactly what each batch's settings keep"
echo "ok"
