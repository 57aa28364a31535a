#!/bin/bash
# Anomaly scoring end to end (anomaly.*, docs/anomaly.md). linerate head-samples traces at 10 %
# and scores every (service, span name, kind) series in 500 ms windows. Three services send
# steady traffic (tests/tools/span_gen: 20 requests/s each on average, Poisson arrivals, 5
# one-span traces per request, latency 20/30/15 ms +-20 %, no errors) for 20 s, enough windows to
# learn a baseline; then svc-a's latency rises tenfold (200 ms) and 30 % of its spans fail.
# Checked:
#   - a linerate.anomaly log record (state opened) for svc-a reaches the otlp_logs topic within
#     10 s of the change; none ever names svc-b or svc-c;
#   - GET /anomalies lists svc-a (and only it) while it is open;
#   - while svc-a is open (the traces sent after the test saw it open, phase 2 of span_gen, and
#     before it closed), every one of its traces is in otlp_spans: kept at 100 %
#     (anomaly.keep_percent default), against ~10 % before the change; svc-b's traces stay at
#     ~10 % throughout;
#   - each request is followed by one from a caller service, frontend, on another connection,
#     with one span in each of its traces: the caller's spans of svc-a's traces are kept while
#     svc-a is open too (the boosted traces are remembered across requests and workers), those
#     of svc-b's traces exactly when svc-b's own are (the sampler decides on the trace id), and
#     frontend, whose own traffic does not change, is never reported.
# span_gen puts the service and the phase into each trace id, and linerate keys trace records by
# trace id: the records in Kafka are counted by key (service and phase) and the service.name in
# the record (the callee's or frontend).
source "$(dirname "$0")/lib.sh"

TAG=a11ce000
# Memory acks: a spool fsync stalling on a busy disk holds every service's requests back at once,
# which the count feature rightly sees as an anomaly of every series (windows follow arrival).
start_linerate --set anomaly.enabled=true --set anomaly.window_ms=500 \
    --set receivers.otlp.protocols.http.ack=memory --set receivers.otlp.protocols.grpc.ack=memory \
    --set processors.probabilistic_sampler.enabled=true \
    --set processors.probabilistic_sampler.sampling_percentage=10
grep -q "^  anomaly     [a-z].* (anomaly.device auto), window 500 ms" "$WORK/linerate.out" ||
    fail "the start-up block does not say which device anomaly.device auto chose"

"$TOOLS/span_gen" --target 127.0.0.1:$HTTP_PORT --tag $TAG --rate 20 --spans 5 \
    --service svc-a:20:0 --service svc-b:30:0 --service svc-c:15:0 \
    --caller frontend --duration-s 45 --change-after-s 20 --change svc-a:200:30 \
    --change-file "$WORK/changed" --mark-file "$WORK/mark" --stop-file "$WORK/stop" \
    --out "$WORK/sent.txt" 2>"$WORK/gen.err" &
GEN=$!

# The otlp_logs records, one a line, bytes that are not printable (newlines included) as blanks.
logs() {
    kcat -C -b "$KAFKA" -t otlp_logs -e -q -f '@@REC@@%s' 2>/dev/null | tr -c '[:print:]' ' ' |
        sed 's/@@REC@@/\n/g'
}

# The steady baseline raises nothing (looked at just before the change).
sleep 18.5
[ ! -f "$WORK/changed" ] || fail "span_gen changed too early for the baseline check"
expect_eq "$(metric linerate_anomaly_opened_total)" 0 "anomalies opened during the baseline"
[ -z "$(logs | grep linerate.anomaly)" ] || {
    logs | head -3 >&2
    fail "an anomaly was reported during the steady baseline"
}
for i in $(seq 1 300); do [ -f "$WORK/changed" ] && break; sleep 0.05; done
[ -f "$WORK/changed" ] || fail "span_gen did not reach the change"

# The opening record for svc-a, within 10 s (20 windows; 2 to 5 s measured).
opened_a() { logs | grep 'linerate.anomaly' | grep 'svc-a' | grep -q 'opened'; }
within_ms 10000 opened_a ||
    fail "no linerate.anomaly record for svc-a in otlp_logs within 10 s of the change"
echo "anomaly record for svc-a in Kafka $WAITED_MS ms after the change"
logs | grep 'linerate.anomaly' | head -1 | grep -q 'GET /api' || fail "the record lacks the operation"

curl -sf "http://127.0.0.1:$ADMIN_PORT/anomalies" >"$WORK/open.json" || fail "GET /anomalies"
grep -q '"service":"svc-a","operation":"GET /api","span_kind":"server"' "$WORK/open.json" ||
    fail "GET /anomalies does not list svc-a: $(cat "$WORK/open.json")"
closed0=$(metric linerate_anomaly_closed_total)

# Phase 2: traces sent while svc-a is known to be open.
touch "$WORK/mark"
sleep 2.5
touch "$WORK/stop"
wait $GEN || fail "span_gen: $(cat "$WORK/gen.err")"
curl -sf "http://127.0.0.1:$ADMIN_PORT/anomalies" >"$WORK/open2.json" || fail "GET /anomalies"
grep -q '"service":"svc-a"' "$WORK/open2.json" ||
    fail "svc-a closed during phase 2 (the check needs it open throughout): $(cat "$WORK/open2.json")"
expect_eq "$(metric linerate_anomaly_closed_total)" "$closed0" "closings during phase 2"
if grep -q 'svc-[bc]\|frontend' "$WORK/open.json" "$WORK/open2.json"; then
    fail "GET /anomalies lists an unaffected service: $(cat "$WORK/open2.json")"
fi

sent() { awk -v s="$1" -v p="$2" '$1 == s && $2 == p { print $3 }' "$WORK/sent.txt"; }
caller_sent() { awk -v s="$1" -v p="$2" '$1 == s && $2 == p { print $4 }' "$WORK/sent.txt"; }
a2=$(sent svc-a 2)
ca2=$(caller_sent svc-a 2)
[ "$a2" -ge 100 ] || fail "span_gen sent only $a2 svc-a spans in phase 2"
expect_eq "$ca2" "$a2" "frontend spans in svc-a's phase 2 traces"
# Every record is one trace id (one span each): "KEY SERVICE" lines, counted per service and
# phase (in the key) and the record's service.name.
keys() {
    kcat -C -b "$KAFKA" -t otlp_spans -e -q -f '@@REC@@%k %s' 2>/dev/null |
        tr -c '[:print:]' ' ' | sed 's/@@REC@@/\n/g' |
        sed -n 's/^\([0-9a-f]*\) .*\(frontend\|svc-[abc]\).*/\1 \2/p'
}
count() { grep -c "^${TAG}$1$2.* svc-" "$WORK/keys.txt" || true; }
count_caller() { grep -c "^${TAG}$1$2.* frontend\$" "$WORK/keys.txt" || true; }
for i in $(seq 1 100); do
    keys >"$WORK/keys.txt" || true
    [ "$(count 00 02)" -ge "$a2" ] && [ "$(count_caller 00 02)" -ge "$ca2" ] && break
    sleep 0.2
done
ka2=$(count 00 02)
kca2=$(count_caller 00 02)
echo "svc-a while open: $ka2 of $a2 spans in Kafka; frontend's in those traces: $kca2 of $ca2"
expect_eq "$ka2" "$a2" "svc-a spans in Kafka while open (100 %)"
expect_eq "$kca2" "$ca2" "frontend spans of svc-a's traces in Kafka while open (100 %)"
for p in 00 01 02; do
    expect_eq "$(count_caller 01 $p)" "$(count 01 $p)" \
        "frontend spans of svc-b's phase $p traces kept (the same traces as svc-b's)"
done

# ~10 % elsewhere: a binomial count with p = 0.1, accepted within 4.5 standard deviations.
within_10pct() {
    local got=$1 n=$2 what=$3
    awk -v k="$got" -v n="$n" 'BEGIN { m = n * 0.1; sd = sqrt(n * 0.09); exit !(k >= m - 4.5 * sd && k <= m + 4.5 * sd) }' ||
        fail "$what: $got of $n spans in Kafka, not ~10 %"
    echo "$what: $got of $n spans in Kafka"
}
within_10pct "$(count 00 00)" "$(sent svc-a 0)" "svc-a before the change"
within_10pct "$(count 01 00)" "$(sent svc-b 0)" "svc-b before the change"
within_10pct "$(($(count 01 01) + $(count 01 02)))" "$(($(sent svc-b 1) + $(sent svc-b 2)))" \
    "svc-b after the change"
within_10pct "$(($(count 02 01) + $(count 02 02)))" "$(($(sent svc-c 1) + $(sent svc-c 2)))" \
    "svc-c after the change"

logs >"$WORK/logs.txt"
if grep "linerate.anomaly" "$WORK/logs.txt" | grep -q "svc-[bc]\|frontend"; then
    grep -ao "anomaly [a-z]*: [^(]*([a-z]*): [^)]*)" "$WORK/logs.txt" >&2
    fail "an anomaly record names an unaffected service"
fi
kept=$(metric linerate_anomaly_kept_spans_total)
[ "$kept" -gt 0 ] || fail "linerate_anomaly_kept_spans_total is $kept"
expect_eq "$(metric linerate_anomaly_series)" 4 "series tracked"
# Late windows are not asserted: a worker held up past batch_max_wait_ms on a busy machine is
# counted there, not an error.
echo "boosted spans: $kept; windows scored: $(metric linerate_anomaly_ticks_total);" \
    "late windows: $(metric linerate_anomaly_late_windows_total)"
stop_linerate
echo "ok"
