#!/bin/bash
# exporters.null.enabled: records go through the whole pipeline, spool included (spool acks, the
# default), and are dropped at the exporter instead of produced. Every accepted item is counted
# as sent, the spool's delivered mark reaches its written mark, the start-up block says so, and
# nothing reaches the broker.
source "$(dirname "$0")/lib.sh"

LOAD="$ROOT/$LR_BUILD/bench/otlp-load"
start_linerate --set exporters.null.enabled=true
grep -q "NULL SINK" "$WORK/linerate.out" || fail "the start-up block does not name the null sink"
"$LOAD" --quiet --target "http://127.0.0.1:$HTTP_PORT" --mix traces=8,metrics=1,logs=1 \
    --requests 200 --connections 4 >"$WORK/load.json" 2>"$WORK/load.err" ||
    fail "otlp-load: $(cat "$WORK/load.err")"
spans=$(grep -o '"spans":[0-9]*' "$WORK/load.json" | head -1 | cut -d: -f2)
points=$(grep -o '"metric_points":[0-9]*' "$WORK/load.json" | head -1 | cut -d: -f2)
logs=$(grep -o '"log_records":[0-9]*' "$WORK/load.json" | head -1 | cut -d: -f2)
[ "$spans" -gt 0 ] && [ "$points" -gt 0 ] && [ "$logs" -gt 0 ] || fail "load: $(cat "$WORK/load.json")"
echo "sent: $spans spans, $points points, $logs log records"
for i in $(seq 1 50); do
    [ "$(metric 'otelcol_exporter_sent_log_records{exporter="kafka"}')" = "$logs" ] && break
    sleep 0.1
done
expect_eq "$(metric 'otelcol_exporter_sent_spans{exporter="kafka"}')" "$spans" "sent spans"
expect_eq "$(metric 'otelcol_exporter_sent_metric_points{exporter="kafka"}')" "$points" "sent points"
expect_eq "$(metric 'otelcol_exporter_sent_log_records{exporter="kafka"}')" "$logs" "sent logs"
written=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '$1 ~ /^linerate_spool_written_seq/ { s += $2 + 1 } END { print s + 0 }')
delivered=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '$1 ~ /^linerate_spool_delivered_seq/ { s += $2 } END { print s + 0 }')
echo "spool: written marks $written, delivered marks $delivered"
[ "$written" -gt 1 ] || fail "nothing went through the spool"
expect_eq "$delivered" "$written" "the spool's delivered marks"
# The broker holds nothing: a consumer reads 0 messages from each topic.
for t in otlp_spans otlp_metrics otlp_logs; do
    n=$(kcat -C -b "$KAFKA" -t $t -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
    expect_eq "$n" 0 "records in $t"
done
stop_linerate
echo "ok"
