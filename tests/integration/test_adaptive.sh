#!/bin/bash
# The adaptive sampling controller (processors.adaptive_sampling) under a slow Kafka. The mock
# broker answers every request 1 s late while a client sends spans, one per trace, 10 % of them
# with status ERROR and 10 % lasting 2 s: the records waiting for Kafka pass the threshold, and
# linerate_sampling_rate_percent falls below the configured 100 % but never below the floor.
# Once the load stops and the broker is fast again, the rate climbs back to exactly 100 %. In
# Kafka: every acknowledged error span and slow span (kept always while the rate is lowered),
# and only a smaller share of the plain ones.
source "$(dirname "$0")/lib.sh"

FLOOR=5
ERR_PCT=10
SLOW_PCT=10

# rate_ge A B: A >= B, as decimals.
rate_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

start_broker 8
start_linerate --cores 0 --brokers "$BROKER" \
    --set processors.adaptive_sampling.enabled=true \
    --set processors.adaptive_sampling.tick_ms=100 \
    --set processors.adaptive_sampling.kafka_queue_threshold=200 \
    --set processors.adaptive_sampling.floor_percentage=$FLOOR \
    --set processors.adaptive_sampling.latency_threshold_ms=1000 \
    --set processors.probabilistic_sampler.sampling_percentage=100 \
    --set processors.probabilistic_sampler.hash_seed=7

expect_eq "$(metric linerate_sampling_rate_percent)" 100 "the rate at start"
expect_eq "$(metric linerate_sampling_adaptive_lowered)" 0 "lowered at start"

# Kafka falls behind: every answer 1 s late, while the client keeps sending.
broker rtt 1000
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 2 --spans 20 --traces 20 --pause-ms 10 \
    --error-pct $ERR_PCT --slow-pct $SLOW_PCT --slow-ms 2000 --acked "$WORK/acked.txt" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD=$!
min=100
lowered=0
for i in $(seq 1 40); do # 8 s
    sleep 0.2
    r=$(metric linerate_sampling_rate_percent)
    [ -n "$r" ] || fail "no linerate_sampling_rate_percent"
    rate_ge "$r" "$min" || min=$r
    [ "$(metric linerate_sampling_adaptive_lowered)" = 1 ] && lowered=1
done
queue=$(metric 'otelcol_exporter_queue_size{exporter="kafka"}')
down=$(metric 'linerate_sampling_adaptive_adjustments_total{direction="down"}')
echo "under a slow broker: lowest rate $min %, queue now $queue records, $down ticks down"
kill -TERM $LOAD
wait $LOAD || true
cat "$WORK/load.json"
broker rtt 0
rate_ge "$min" 100 && fail "the rate never fell below 100 % (queue $queue records)"
rate_ge "$min" $FLOOR || fail "the rate fell to $min %, below the floor of $FLOOR %"
[ $lowered = 1 ] || fail "linerate_sampling_adaptive_lowered never showed 1"
[ "${down:-0}" -gt 0 ] || fail "no adjustment down counted"
grep -qE '\| rate [0-9.]+%' "$WORK/linerate.out" || fail "no rate in the status line"

# Kafka catches up: the rate climbs back (x1.1 per tick) to exactly the configured rate.
back=""
for i in $(seq 1 100); do # 20 s
    sleep 0.2
    if [ "$(metric linerate_sampling_rate_percent)" = 100 ]; then
        back=$i
        break
    fi
done
[ -n "$back" ] || fail "the rate did not recover: $(metric linerate_sampling_rate_percent) %, queue $(metric 'otelcol_exporter_queue_size{exporter="kafka"}') records"
expect_eq "$(metric linerate_sampling_adaptive_lowered)" 0 "lowered after the recovery"
up=$(metric 'linerate_sampling_adaptive_adjustments_total{direction="up"}')
[ "${up:-0}" -gt 0 ] || fail "no adjustment up counted"
echo "rate back at 100 % after $((back * 200)) ms ($up ticks up)"

# What reached Kafka, by kind: ack_load's span id says which (counter % 100: below ERR_PCT an
# error span, below ERR_PCT + SLOW_PCT a slow one, else a plain 1 ms span).
awk -v e=$ERR_PCT -v l=$SLOW_PCT -v w="$WORK" '
function hex(s,    i, v) {
    v = 0
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v
}
{ k = hex(substr($1, 9, 8)) % 100; f = (k < e) ? "error" : ((k < e + l) ? "slow" : "plain")
  print $1 > (w "/acked." f) }' "$WORK/acked.txt"
for k in error slow plain; do
    [ -s "$WORK/acked.$k" ] || fail "no $k span was acknowledged"
    sort -u -o "$WORK/acked.$k" "$WORK/acked.$k"
done
for i in $(seq 1 30); do
    span_ids_in_kafka "$WORK/kids.txt"
    sort -u "$WORK/kids.txt" >"$WORK/kids.sorted"
    miss_e=$(comm -23 "$WORK/acked.error" "$WORK/kids.sorted" | wc -l)
    miss_s=$(comm -23 "$WORK/acked.slow" "$WORK/kids.sorted" | wc -l)
    [ "$miss_e" -eq 0 ] && [ "$miss_s" -eq 0 ] && break
    sleep 1
done
n_e=$(wc -l <"$WORK/acked.error")
n_s=$(wc -l <"$WORK/acked.slow")
n_p=$(wc -l <"$WORK/acked.plain")
in_p=$(comm -12 "$WORK/acked.plain" "$WORK/kids.sorted" | wc -l)
echo "in kafka: error spans $((n_e - miss_e))/$n_e, slow spans $((n_s - miss_s))/$n_s, plain spans $in_p/$n_p"
[ "$miss_e" -eq 0 ] || fail "$miss_e of $n_e acknowledged error spans are not in Kafka"
[ "$miss_s" -eq 0 ] || fail "$miss_s of $n_s acknowledged slow spans are not in Kafka"
[ "$in_p" -gt 0 ] || fail "no plain span reached Kafka"
[ $((in_p * 100)) -lt $((n_p * 80)) ] ||
    fail "$in_p of $n_p plain spans reached Kafka: not fewer while the rate was lowered"
stop_linerate
echo "ok"
