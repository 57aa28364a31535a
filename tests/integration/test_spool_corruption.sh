#!/bin/bash
# A damaged spool. With the broker down, linerate acknowledges a few hundred requests into small
# segments and stops. Then one byte is flipped in the middle of an older segment and the newest
# segment is truncated in the middle of a record (a torn tail). On restart linerate cuts each
# segment at its damage, says so (log line and the start-up block), and delivers every record
# before the damage: the span ids that the spool's own scanner finds valid are all in Kafka.
source "$(dirname "$0")/lib.sh"

start_broker 16
broker down
start_linerate --cores 0 --brokers "$BROKER" --set spool.segment_bytes=64KiB \
    --set exporters.kafka.flush_timeout_ms=200
"$TOOLS/ack_load" --port "$HTTP_PORT" --conns 2 --spans 20 --traces 4 --max-requests 300 \
    --acked "$WORK/acked.txt" >"$WORK/load.json" 2>"$WORK/load.err"
cat "$WORK/load.json"
stop_linerate
grep -q "left in the spool for the next start [1-9]" "$WORK/linerate.out" ||
    fail "nothing was left in the spool"

segs=($(ls "$WORK/run/spool/w0"/*.seg | sort))
echo "${#segs[@]} segments"
[ ${#segs[@]} -ge 4 ] || fail "expected several segments"
# Flip one byte in the middle of the second segment's payload area...
mid=${segs[1]}
size=$(stat -c %s "$mid")
off=$((size / 2))
orig=$(dd if="$mid" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(((orig + 1) % 256)))" | dd of="$mid" bs=1 seek=$off conv=notrunc 2>/dev/null
# ... and tear the tail of the newest segment that has records.
last=""
for s in "${segs[@]}"; do
    [ "$(stat -c %s "$s")" -gt 100 ] && last=$s
done
[ -n "$last" ] && [ "$last" != "$mid" ] || fail "no segment to tear"
lsize=$(stat -c %s "$last")
truncate -s $((lsize - 37)) "$last"
echo "flipped byte $off of $(basename "$mid"), cut 37 bytes off $(basename "$last")"

# What must survive: every span in a record before the damage.
"$TOOLS/spool_dump" "$mid" "$last" | grep -E '^(valid|damage)'
"$TOOLS/spool_dump" --spans "$WORK/run/spool/w0"/*.seg | sed 's/^span //' | sort -u >"$WORK/survive.txt"
total=$(sort -u "$WORK/acked.txt" | wc -l)
keep=$(wc -l <"$WORK/survive.txt")
echo "acknowledged $total spans; $keep in records before the damage"
[ "$keep" -gt 0 ] && [ "$keep" -lt "$total" ] || fail "the damage should cost some records, not all"

broker up
start_linerate --cores 0 --brokers "$BROKER"
grep -q "damaged" "$WORK/linerate.out" || fail "the damage was not reported"
grep -E "spool.*(cut|damaged)" "$WORK/linerate.out" | head -5
grep -q "2 damaged segments" "$WORK/linerate.out" || fail "start-up block does not count 2 damaged segments"
check_acked_in_kafka "$WORK/survive.txt" 30
stop_linerate
echo "ok"
